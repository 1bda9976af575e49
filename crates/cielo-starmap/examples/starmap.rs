//! A stand-in for `cielo starmap ...` so the crate can be run and benchmarked alone:
//! `cargo run --release -p cielo-starmap --example starmap -- render --lat 40.4 ...`
//! and `... --example starmap -- preview-bench` for the in-process preview timing.

use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(name = "starmap")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once
enum Cmd {
    #[command(flatten)]
    Starmap(cielo_starmap::cli::StarmapCommand),
    /// Time the 1200x1800 in-process preview (median of N after a warm-up).
    PreviewBench {
        #[arg(long, default_value_t = 21)]
        runs: usize,
    },
}

fn main() -> anyhow::Result<ExitCode> {
    match Cli::parse().cmd {
        Cmd::Starmap(cmd) => cielo_starmap::cli::run(cmd),
        Cmd::PreviewBench { runs } => {
            let mut opts = cielo_starmap::StarmapOptions::new(
                40.4168,
                -3.7038,
                "2024-08-12T22:30:00Z".parse()?,
            );
            opts.place = Some("Madrid, España".into());
            opts.tz = Some("Europe/Madrid".into());
            // The benchmark case: Milky Way (default), the Moon-phase panel and a
            // custom font.
            opts.layout = "moon-panel".into();
            opts.font = "script".into();
            opts.title = Some("Nuestra noche".into());
            let _ = cielo_starmap::render_png_preview(&opts, 1800)?;
            let mut times = Vec::new();
            let mut bytes = 0;
            for _ in 0..runs {
                let t = std::time::Instant::now();
                let png = cielo_starmap::render_png_preview(&opts, 1800)?;
                times.push(t.elapsed().as_secs_f64() * 1000.0);
                bytes = png.len();
            }
            times.sort_by(f64::total_cmp);
            println!(
                "{{\"preview_px\":\"1200x1800\",\"runs\":{runs},\"median_ms\":{:.2},\"min_ms\":{:.2},\"max_ms\":{:.2},\"png_bytes\":{bytes}}}",
                times[runs / 2],
                times[0],
                times[runs - 1]
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
