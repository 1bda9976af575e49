//! The `cielo starmap` subcommands, mounted by the `cielo` binary.

use std::io::Write;
use std::process::ExitCode;

use clap::Subcommand;

/// `cielo starmap ...`
#[derive(Debug, Clone, Subcommand)]
pub enum StarmapCommand {
    /// Print apparent topocentric positions of every catalogue star and the bodies.
    Positions {
        /// Geodetic latitude in degrees, north positive (WGS84).
        #[arg(long, allow_negative_numbers = true)]
        lat: f64,
        /// Longitude in degrees, east positive.
        #[arg(long, allow_negative_numbers = true)]
        lon: f64,
        /// The instant, RFC 3339 (e.g. 2024-08-12T22:30:00Z).
        #[arg(long)]
        at: jiff::Timestamp,
        /// Print JSON (the only format).
        #[arg(long)]
        json: bool,
    },
}

/// Run a `cielo starmap` subcommand.
pub fn run(cmd: StarmapCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        StarmapCommand::Positions { lat, lon, at, json: _ } => {
            let p = crate::positions(lat, lon, at)?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            serde_json::to_writer(&mut out, &p)?;
            writeln!(out)?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
