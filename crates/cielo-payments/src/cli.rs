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
    ///
    /// The signing secrets come from the environment, never the command line
    /// (where other users and shell history would see them): the variable the
    /// server reads (`CIELO_STRIPE_WEBHOOK_SECRETS`, comma-separated, or
    /// `CIELO_TEST_WEBHOOK_SECRET` for `--provider test`), or the one named by
    /// `--secret-env`.
    Verify {
        /// The provider whose scheme to use (`stripe`; `test` uses the same scheme).
        #[arg(long, default_value = "stripe")]
        provider: String,
        /// The environment variable holding the signing secrets (`whsec_…`,
        /// comma-separated during a rotation) instead of the provider's usual one.
        #[arg(long, value_name = "VAR")]
        secret_env: Option<String>,
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
            secret_env,
            header,
            now,
            tolerance,
        } => {
            let usual = match provider.as_str() {
                "stripe" => "CIELO_STRIPE_WEBHOOK_SECRETS",
                "test" => "CIELO_TEST_WEBHOOK_SECRET",
                _ => {
                    println!("invalid: unknown provider `{provider}` (stripe, test)");
                    return ExitCode::FAILURE;
                }
            };
            let var = secret_env.as_deref().unwrap_or(usual);
            let secret = secrets_from(std::env::var(var).ok().as_deref());
            if secret.is_empty() {
                eprintln!("error: no signing secret: set {var} (comma-separated for several)");
                return ExitCode::from(2);
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

/// The secrets in a variable's value: comma-separated, blanks dropped.
fn secrets_from(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_are_comma_separated_and_blanks_ignored() {
        assert_eq!(
            super::secrets_from(Some(" whsec_a, ,whsec_b ")),
            ["whsec_a", "whsec_b"]
        );
        assert!(super::secrets_from(None).is_empty());
    }
}
