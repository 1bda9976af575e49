//! `cielo webhooks verify`: checks a webhook signature the way the server
//! does, for people debugging their webhook setup. Needs no database.

use crate::signature::{self, DEFAULT_TOLERANCE_SECS};
use clap::Subcommand;
use std::io::Read;
use std::process::ExitCode;

/// `cielo webhooks …`
#[derive(Debug, Clone, Subcommand)]
pub enum WebhooksCommand {
    /// Verify a webhook signature. Reads the raw payload on stdin; prints
    /// `valid` and exits 0, or prints `invalid: <reason>` and exits 1.
    Verify {
        /// The provider whose scheme to use (`stripe`; `test` uses the same scheme).
        #[arg(long, default_value = "stripe")]
        provider: String,
        /// A signing secret (`whsec_…`). Repeat for several (during rotation).
        #[arg(long, required = true)]
        secret: Vec<String>,
        /// The signature header's value (`t=…,v1=…`).
        #[arg(long)]
        header: String,
        /// The current time, unix seconds (default: the clock).
        #[arg(long, allow_negative_numbers = true)]
        now: Option<i64>,
        /// Oldest accepted signature age, seconds (0 turns the check off).
        #[arg(long, default_value_t = DEFAULT_TOLERANCE_SECS)]
        tolerance: i64,
    },
}

/// Runs a `cielo webhooks` command.
pub fn run(command: WebhooksCommand) -> ExitCode {
    match command {
        WebhooksCommand::Verify {
            provider,
            secret,
            header,
            now,
            tolerance,
        } => {
            if provider != "stripe" && provider != "test" {
                println!("invalid: unknown provider `{provider}` (stripe, test)");
                return ExitCode::FAILURE;
            }
            let mut payload = Vec::new();
            if let Err(e) = std::io::stdin().read_to_end(&mut payload) {
                println!("invalid: cannot read the payload from stdin: {e}");
                return ExitCode::FAILURE;
            }
            let now = now.unwrap_or_else(|| cielo_core::Timestamp::now().as_unix_seconds());
            match signature::verify(&header, &payload, &secret, now, tolerance) {
                Ok(_) => {
                    println!("valid");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    println!("invalid: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
