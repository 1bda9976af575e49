//! The `cielo starmap` subcommands, mounted by the `cielo` binary:
//!
//! ```ignore
//! #[derive(clap::Subcommand)]
//! enum Command {
//!     /// Star maps: positions and posters.
//!     Starmap {
//!         #[command(subcommand)]
//!         cmd: cielo_starmap::cli::StarmapCommand,
//!     },
//! }
//! // ... Command::Starmap { cmd } => cielo_starmap::cli::run(cmd),
//! ```

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use crate::{render_print_with_progress, OutputFormat, StarmapOptions};

/// `cielo starmap ...`
#[derive(Debug, Clone, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process; boxing would only obscure the fields
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
    /// Render a star-map poster to PNG, PDF or SVG (chosen by the file extension).
    Render {
        /// Geodetic latitude in degrees, north positive (WGS84).
        #[arg(long, allow_negative_numbers = true)]
        lat: f64,
        /// Longitude in degrees, east positive.
        #[arg(long, allow_negative_numbers = true)]
        lon: f64,
        /// The instant, RFC 3339; with --tz also a local time such as 2024-08-13T00:30.
        #[arg(long)]
        at: String,
        /// IANA time zone for the printed local date and time (e.g. Europe/Madrid).
        #[arg(long)]
        tz: Option<String>,
        /// Place name printed on the poster.
        #[arg(long)]
        place: Option<String>,
        /// Poster size: a4, a3, a2, 8x10in, 12x16in, 18x24in, 24x36in.
        #[arg(long, default_value = "24x36in")]
        size: String,
        /// Raster resolution in dots per inch.
        #[arg(long, default_value_t = 300)]
        dpi: u32,
        /// Theme: classic-dark, midnight-blue, minimal-light, colour.
        #[arg(long, default_value = "classic-dark")]
        theme: String,
        /// Title (default "THE NIGHT SKY").
        #[arg(long, allow_hyphen_values = true)]
        title: Option<String>,
        /// Personal message under the title.
        #[arg(long, allow_hyphen_values = true)]
        message: Option<String>,
        /// Language of the poster's fixed words: en, es.
        #[arg(long, default_value = "en")]
        lang: String,
        /// Bleed on each side, millimetres.
        #[arg(long, default_value_t = 0.0)]
        bleed_mm: f64,
        /// Leave out the constellation names.
        #[arg(long)]
        no_names: bool,
        /// Leave out the altitude/azimuth grid.
        #[arg(long)]
        no_grid: bool,
        /// Leave out the Milky Way.
        #[arg(long)]
        no_milky_way: bool,
        /// In a local time repeated when the clocks go back: earlier or later.
        #[arg(long, default_value = "earlier")]
        fold: String,
        /// Font of the title and message: classic, display, rounded, script.
        #[arg(long, default_value = "classic")]
        font: String,
        /// Layout: classic, full-bleed, pair, moon-panel.
        #[arg(long, default_value = "classic")]
        layout: String,
        /// Shape of the sky: circle, square, heart.
        #[arg(long, default_value = "circle")]
        shape: String,
        /// Custom colours within the theme, e.g. background=#0b1d3a,stars=#ffffff,lines=#88aacc,text=#f5e6c8.
        #[arg(long)]
        colors: Option<String>,
        /// Second sky of the pair layout: latitude.
        #[arg(long, allow_negative_numbers = true)]
        second_lat: Option<f64>,
        /// Second sky: longitude.
        #[arg(long, allow_negative_numbers = true)]
        second_lon: Option<f64>,
        /// Second sky: instant (RFC 3339, or local with --second-tz).
        #[arg(long)]
        second_at: Option<String>,
        /// Second sky: IANA time zone.
        #[arg(long)]
        second_tz: Option<String>,
        /// Second sky: place name.
        #[arg(long)]
        second_place: Option<String>,
        /// Output file: .png, .pdf or .svg.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Run a `cielo starmap` subcommand.
pub fn run(cmd: StarmapCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        StarmapCommand::Positions {
            lat,
            lon,
            at,
            json: _,
        } => {
            let p = crate::positions(lat, lon, at)?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let written = serde_json::to_writer(&mut out, &p)
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(out))
                .and_then(|()| out.flush());
            match written {
                // `... | head` closing the pipe early is not a failure of ours.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
                other => other
                    .map(|()| ExitCode::SUCCESS)
                    .context("writing the positions"),
            }
        }
        StarmapCommand::Render {
            lat,
            lon,
            at,
            tz,
            place,
            size,
            dpi,
            theme,
            title,
            message,
            lang,
            bleed_mm,
            no_names,
            no_grid,
            no_milky_way,
            fold,
            font,
            layout,
            shape,
            colors,
            second_lat,
            second_lon,
            second_at,
            second_tz,
            second_place,
            out,
        } => {
            let fold = crate::Fold::parse(&fold)
                .with_context(|| format!("--fold {fold:?}: earlier or later"))?;
            let instant = parse_instant(&at, tz.as_deref(), fold)?;
            let mut opts = StarmapOptions::new(lat, lon, instant);
            opts.tz = tz;
            opts.place = place;
            opts.size = size;
            opts.dpi = dpi;
            opts.theme = theme;
            opts.title = title;
            opts.message = message;
            opts.bleed_mm = bleed_mm;
            opts.language = lang;
            opts.constellation_names = !no_names;
            opts.grid = !no_grid;
            opts.milky_way = !no_milky_way;
            opts.font = font;
            opts.layout = layout;
            opts.shape = shape;
            if let Some(c) = colors {
                for pair in c.split(',') {
                    let (k, v) = pair
                        .split_once('=')
                        .with_context(|| format!("--colors {pair:?}: name=#rrggbb"))?;
                    let v = Some(v.trim().to_string());
                    match k.trim() {
                        "background" => opts.colors.background = v,
                        "stars" => opts.colors.stars = v,
                        "lines" => opts.colors.lines = v,
                        "text" => opts.colors.text = v,
                        other => anyhow::bail!(
                            "--colors: unknown colour {other:?} (background, stars, lines, text)"
                        ),
                    }
                }
            }
            if let (Some(lat), Some(lon), Some(at2)) = (second_lat, second_lon, second_at) {
                opts.second = Some(crate::SecondSky {
                    lat,
                    lon,
                    at: parse_instant(&at2, second_tz.as_deref(), fold)?,
                    tz: second_tz,
                    place: second_place,
                });
            }
            if let Err(errors) = opts.validate() {
                for e in &errors {
                    let flag = if e.field == "language" {
                        "lang".to_owned()
                    } else {
                        e.field.replace('_', "-")
                    };
                    eprintln!("error: --{flag}: {}", e.message);
                }
                return Ok(ExitCode::from(2));
            }
            let format = OutputFormat::from_path(&out).with_context(|| {
                format!(
                    "--out {}: the extension must be .png, .pdf or .svg",
                    out.display()
                )
            })?;
            let file = std::fs::File::create(&out)
                .with_context(|| format!("creating {}", out.display()))?;
            let writer = std::io::BufWriter::with_capacity(1 << 20, file);
            let (w, h) = opts.print_pixels();
            let show = std::io::stderr().is_terminal() && u64::from(w) * u64::from(h) > 4_000_000;
            let bar = |done: usize, total: usize| progress_bar(done, total);
            let info = render_print_with_progress(
                &opts,
                format,
                writer,
                if show { Some(&bar) } else { None },
            )?;
            if show {
                eprintln!();
            }
            let unit = if format == OutputFormat::Png {
                "px"
            } else {
                "pt"
            };
            eprintln!(
                "wrote {} ({}x{} {unit})",
                out.display(),
                info.width,
                info.height
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// An RFC 3339 instant, or a local date and time in `tz`.
fn parse_instant(at: &str, tz: Option<&str>, fold: crate::Fold) -> anyhow::Result<jiff::Timestamp> {
    if let Ok(ts) = at.parse::<jiff::Timestamp>() {
        return Ok(ts);
    }
    let tz = tz.with_context(|| {
        format!("--at {at:?}: not an RFC 3339 instant (add --tz for a local time)")
    })?;
    let dt: jiff::civil::DateTime = at
        .parse()
        .with_context(|| format!("--at {at:?}: not a local date and time"))?;
    Ok(crate::instant_from_local_fold(dt, tz, fold)?)
}

fn progress_bar(done: usize, total: usize) {
    let width = 30;
    let filled = done * width / total.max(1);
    let mut err = std::io::stderr().lock();
    let _ = write!(
        err,
        "\rrendering [{}{}] {:>3}%",
        "#".repeat(filled),
        "-".repeat(width - filled),
        done * 100 / total.max(1)
    );
    let _ = err.flush();
}
