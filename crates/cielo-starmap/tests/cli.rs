//! The `cielo starmap` command line as the binary mounts it.

use cielo_starmap::cli::StarmapCommand;
use clap::Parser;

#[derive(Parser)]
struct Cielo {
    #[command(subcommand)]
    cmd: StarmapCommand,
}

#[test]
fn positions_accepts_negative_coordinates_as_separate_arguments() {
    let cli = Cielo::try_parse_from([
        "cielo",
        "positions",
        "--lat",
        "-33.9",
        "--lon",
        "-70.65",
        "--at",
        "2024-08-12T22:30:00Z",
        "--json",
    ])
    .unwrap();
    match cli.cmd {
        StarmapCommand::Positions { lat, lon, json, .. } => {
            assert_eq!((lat, lon, json), (-33.9, -70.65, true));
        }
        _ => panic!("parsed as positions"),
    }
}

#[test]
fn render_parses_every_option() {
    let cli = Cielo::try_parse_from([
        "cielo",
        "render",
        "--lat",
        "-33.9",
        "--lon",
        "151.2",
        "--at",
        "2024-12-24T23:00",
        "--tz",
        "Australia/Sydney",
        "--place",
        "Sídney",
        "--size",
        "18x24in",
        "--dpi",
        "150",
        "--theme",
        "colour",
        "--title",
        "-Nuestra noche-",
        "--message",
        "Te quiero",
        "--bleed-mm",
        "3",
        "--out",
        "poster.pdf",
    ])
    .unwrap();
    match cli.cmd {
        StarmapCommand::Render {
            lat,
            size,
            dpi,
            title,
            bleed_mm,
            out,
            ..
        } => {
            assert_eq!(lat, -33.9);
            assert_eq!(size, "18x24in");
            assert_eq!(dpi, 150);
            assert_eq!(title.as_deref(), Some("-Nuestra noche-"));
            assert_eq!(bleed_mm, 3.0);
            assert_eq!(out.to_str(), Some("poster.pdf"));
        }
        _ => panic!("parsed as render"),
    }
}

#[test]
fn positions_json_has_the_documented_shape() {
    let p =
        cielo_starmap::positions(-33.9, -70.65, "2024-08-12T22:30:00Z".parse().unwrap()).unwrap();
    let v = serde_json::to_value(&p).unwrap();
    let stars = v["stars"].as_array().unwrap();
    assert!(stars.len() >= 9_000);
    let keys: Vec<&String> = stars[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["alt_deg", "az_deg", "hip", "mag"]);
    assert!(
        stars.iter().any(|s| s["alt_deg"].as_f64().unwrap() < 0.0),
        "stars below the horizon are listed"
    );
    let names: Vec<&str> = v["bodies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["sun", "moon", "mercury", "venus", "mars", "jupiter", "saturn"]
    );
}
