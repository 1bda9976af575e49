//! `cielo webhooks verify` against the recorded Stripe signature vectors.

use std::io::Write;
use std::process::{Command, Stdio};

fn verify(secrets: &str, args: &[&str], payload: &str) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cielo"))
        .args(["webhooks", "verify"])
        .args(args)
        .env_remove("CIELO_STRIPE_WEBHOOK_SECRETS")
        .env("CIELO_DEBUG_WEBHOOK_SECRETS", secrets)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("cielo runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(payload.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

#[test]
fn the_verify_command_agrees_with_every_recorded_vector() {
    let file: serde_json::Value = serde_json::from_str(include_str!(
        "../../cielo-payments/tests/fixtures/stripe-signature-samples.json"
    ))
    .unwrap();
    for v in file["vectors"].as_array().unwrap() {
        let (now, tolerance) = (v["now"].to_string(), v["tolerance_s"].to_string());
        let (code, out) = verify(
            v["secret"].as_str().unwrap(),
            &[
                "--provider",
                "stripe",
                "--secret-env",
                "CIELO_DEBUG_WEBHOOK_SECRETS",
                "--header",
                v["header"].as_str().unwrap(),
                "--now",
                &now,
                "--tolerance",
                &tolerance,
            ],
            v["payload"].as_str().unwrap(),
        );
        if v["valid"].as_bool().unwrap() {
            assert_eq!((code, out.as_str()), (0, "valid"), "{}", v["name"]);
        } else {
            assert_eq!(code, 1, "{}: {out}", v["name"]);
            assert!(out.starts_with("invalid: "), "{}: {out}", v["name"]);
        }
    }
}

#[test]
fn a_stale_signature_names_the_reason() {
    let (code, out) = verify(
        "whsec_x",
        &[
            "--secret-env",
            "CIELO_DEBUG_WEBHOOK_SECRETS",
            "--header",
            "t=100,v1=ab",
            "--now",
            "1000",
        ],
        "{}",
    );
    assert_eq!(code, 1);
    assert_eq!(out, "invalid: no signature matches the payload");
}

#[test]
fn the_secret_comes_from_the_environment_never_the_command_line() {
    // `--secret` no longer exists: clap refuses it (exit 2) before any work.
    let out = Command::new(env!("CARGO_BIN_EXE_cielo"))
        .args([
            "webhooks",
            "verify",
            "--secret",
            "whsec_x",
            "--header",
            "t=1,v1=00",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // The server's own variable is read by default, comma-separated.
    let file: serde_json::Value = serde_json::from_str(include_str!(
        "../../cielo-payments/tests/fixtures/stripe-signature-samples.json"
    ))
    .unwrap();
    let v = file["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["valid"].as_bool().unwrap())
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cielo"))
        .args([
            "webhooks",
            "verify",
            "--header",
            v["header"].as_str().unwrap(),
        ])
        .args([
            "--now",
            &v["now"].to_string(),
            "--tolerance",
            &v["tolerance_s"].to_string(),
        ])
        .env(
            "CIELO_STRIPE_WEBHOOK_SECRETS",
            format!("whsec_old,{}", v["secret"].as_str().unwrap()),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(v["payload"].as_str().unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "valid");
    // No secret at all: a clear error, once, on stderr.
    let out = Command::new(env!("CARGO_BIN_EXE_cielo"))
        .args(["webhooks", "verify", "--header", "t=1,v1=00"])
        .env_remove("CIELO_STRIPE_WEBHOOK_SECRETS")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("error:").count(), 1, "{err}");
    assert!(err.contains("CIELO_STRIPE_WEBHOOK_SECRETS"), "{err}");
}
