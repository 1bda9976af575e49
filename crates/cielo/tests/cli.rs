//! The `cielo` command line, run as a user would run it.

use std::io::Write;
use std::process::{Command, Stdio};

fn cielo() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cielo"));
    c.env_remove("CIELO_DATABASE_URL").env("CIELO_LOG", "warn");
    c
}

fn temp_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("cielo-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// On PostgreSQL runs, the CLI tests use a fresh database too.
async fn database() -> (cielo_db::testing::TestDatabase, String) {
    let db = cielo_db::testing::TestDatabase::create().await;
    let url = db.url.expose().to_string();
    (db, url)
}

#[test]
fn help_names_every_command() {
    let out = cielo().arg("--help").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for cmd in ["serve", "migrate", "admin", "starmap"] {
        assert!(text.contains(cmd), "--help does not mention {cmd}:\n{text}");
    }
}

#[tokio::test]
async fn admin_create_reads_the_password_from_stdin_and_refuses_weak_ones() {
    let dir = temp_dir();
    let (_db, url) = database().await;
    let run = |password: &str| {
        let mut child = cielo()
            .args([
                "--data-dir",
                dir.to_str().unwrap(),
                "admin",
                "create",
                "--email",
                "owner@shop.example",
                "--password-stdin",
            ])
            .env("CIELO_DATABASE_URL", &url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(password.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let weak = run("short\n");
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("password"));
    let ok = run("a long admin passphrase\n");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("owner@shop.example"));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn migrate_brings_an_empty_database_up_to_date() {
    let dir = temp_dir();
    let (_db, url) = database().await;
    let out = cielo()
        .args(["--data-dir", dir.to_str().unwrap(), "migrate"])
        .env("CIELO_DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("(0 pending)"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_bad_configuration_value_is_reported_with_the_key() {
    let out = cielo()
        .arg("migrate")
        .env("CIELO_SHOP_CURRENCY", "DOUBLOON")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("shop.currency"));
}

#[test]
fn starmap_positions_prints_every_star_and_the_seven_bodies_with_negative_coordinates() {
    let out = cielo()
        .args([
            "starmap",
            "positions",
            "--lat",
            "-33.9",
            "--lon",
            "-70.6",
            "--at",
            "2024-08-13T00:30:00Z",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["stars"].as_array().unwrap().len() > 9000);
    let names: Vec<_> = v["bodies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        ["sun", "moon", "mercury", "venus", "mars", "jupiter", "saturn"]
    );
    let star = &v["stars"][0];
    assert!(
        star["hip"].is_u64()
            && star["alt_deg"].is_f64()
            && star["az_deg"].is_f64()
            && star["mag"].is_f64()
    );
}

#[test]
fn global_options_have_their_own_heading_after_each_command_s_own() {
    let out = cielo().args(["serve", "--help"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let own = text.find("--bind").expect("serve's own option");
    let role = text.find("--role").expect("serve's own option");
    let heading = text
        .find("Global options:")
        .unwrap_or_else(|| panic!("{text}"));
    let config = text.find("--config").unwrap();
    let data_dir = text.find("--data-dir").unwrap();
    assert!(own < heading && role < heading, "{text}");
    assert!(heading < config && heading < data_dir, "{text}");
}

#[test]
fn an_error_is_printed_once() {
    let dir = temp_dir();
    let out = cielo()
        .arg("migrate")
        .env("CIELO_DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .env("CIELO_LOG_FORMAT", "json")
        .env("CIELO_DATA_DIR", &dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let all = format!("{stdout}{err}");
    assert_eq!(err.matches("error: ").count(), 1, "{all}");
    assert!(
        !all.contains("\"level\":\"ERROR\""),
        "logged as well: {all}"
    );
}

#[test]
fn a_reconcile_window_that_is_no_duration_is_said_with_an_example() {
    let dir = temp_dir();
    let out = cielo()
        .args(["reconcile", "--since", "banana"])
        .env("CIELO_DATA_DIR", &dir)
        .output()
        .unwrap();
    // A usage error, said before the database is looked for.
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"banana\" is not a duration") && err.contains("24h"),
        "{err}"
    );
    assert!(!err.contains("no database"), "{err}");
    // Not the parser's grammar words.
    assert!(!err.contains("friendly"), "{err}");
}
