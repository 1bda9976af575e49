//! The SMTP provider against real SMTP servers, when the test environment
//! runs them (`.ci/run` does): implicit TLS (`smtps://`) on
//! `CIELO_TEST_SMTPS_PORT` with its mail in `CIELO_TEST_SMTPS_DIR`
//! (`tools/smtps-test-server.py`), and STARTTLS on `CIELO_TEST_SMTP_PORT`
//! with `CIELO_TEST_SMTP_DIR` (the test peers' SMTP server). Both directories
//! hold `ca.pem`, the authority that signed the server's certificate, and
//! `messages.jsonl`, one line per accepted message.

use cielo_notify::email::{EmailProvider, OutgoingEmail, SmtpConfig, SmtpEmail};
use serde_json::Value;

fn email(to: &str, n: usize) -> OutgoingEmail {
    OutgoingEmail {
        from: "Shop <orders@example.com>".into(),
        reply_to: None,
        to: to.into(),
        subject: format!("Test {n}"),
        text: "Hello.\n.\nA line with a single dot above.".into(),
        html: "<p>Hello.</p>".into(),
        idempotency_key: format!("smtp-test-{}", uuid::Uuid::new_v4().simple()),
        list_unsubscribe: None,
    }
}

/// Sends three messages to a fresh address through `url`, two sessions at
/// most, and returns the server's log lines for that address.
async fn send_three(url: &str, dir: &std::path::Path) -> Vec<Value> {
    let mut config = SmtpConfig::parse(url).unwrap();
    config.password = Some("test".into());
    config.ca_pem = Some(std::fs::read(dir.join("ca.pem")).unwrap());
    config.max_sessions = 2;
    let smtp = SmtpEmail::new(config);
    let to = format!("buyer-{}@example.com", uuid::Uuid::new_v4().simple());
    for n in 0..3 {
        let accepted = smtp.send(&email(&to, n)).await.expect("accepted");
        assert!(!accepted.provider_message_id.is_empty());
    }
    std::fs::read_to_string(dir.join("messages.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["rcpt_tos"] == serde_json::json!([to]))
        .collect()
}

fn server(port: &str, dir: &str) -> Option<(String, std::path::PathBuf)> {
    match (std::env::var(port), std::env::var(dir)) {
        (Ok(p), Ok(d)) => Some((p, d.into())),
        _ => {
            eprintln!("note: {port}/{dir} are unset; this real SMTP test did not run");
            None
        }
    }
}

#[tokio::test]
async fn implicit_tls_sessions_deliver_each_message_once_with_auth() {
    let Some((port, dir)) = server("CIELO_TEST_SMTPS_PORT", "CIELO_TEST_SMTPS_DIR") else {
        return;
    };
    let got = send_three(&format!("smtps://test@localhost:{port}"), &dir).await;
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(
        got.iter()
            .all(|m| m["tls"] == true && m["auth_login"] == "test"),
        "{got:?}"
    );
    // The body's lone dot line arrived intact (dot-stuffed on the wire).
    let file = dir.join(got[0]["file"].as_str().unwrap());
    let text = std::fs::read_to_string(file).unwrap();
    assert!(
        text.contains("\r\n.\r\nA line with a single dot above."),
        "{text}"
    );
}

#[tokio::test]
async fn starttls_sessions_deliver_each_message_once_with_auth() {
    let Some((port, dir)) = server("CIELO_TEST_SMTP_PORT", "CIELO_TEST_SMTP_DIR") else {
        return;
    };
    let got = send_three(&format!("smtp://test@localhost:{port}?tls=required"), &dir).await;
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(
        got.iter()
            .all(|m| m["tls"] == true && m["auth_login"] == "test"),
        "{got:?}"
    );
}

#[tokio::test]
async fn a_refused_connection_is_a_definite_failure_to_retry() {
    // A port nothing listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = SmtpConfig::parse(&format!("smtps://test@127.0.0.1:{port}")).unwrap();
    config.password = Some("test".into());
    let err = SmtpEmail::new(config)
        .send(&email("buyer@example.com", 0))
        .await
        .unwrap_err();
    match err {
        cielo_notify::providers::SendError::Definite {
            retryable, reason, ..
        } => {
            assert!(retryable, "{reason}");
            assert!(reason.contains("cannot connect"), "{reason}");
        }
        other => panic!("expected a definite failure, got {other:?}"),
    }
}
