use crate::helpers::*;
use cielo_fulfillment::testing::{FakePrintful, FakeProdigi, Fault};
use cielo_fulfillment::{Lab, LabSecrets};
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn no_secret_reaches_the_logs_even_when_everything_fails() {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // Labs that refuse our credentials, and answer 5xx.
    let printful = FakePrintful::start("the-token-printful-expects").await;
    let prodigi = FakeProdigi::start("the-key-prodigi-expects").await;
    prodigi.push_create_fault(Fault::LoseAnswer);
    let mut s = settings();
    s.printful_api_base = printful.url.clone();
    s.prodigi_api_base = prodigi.url.clone();
    s.register_printful_webhooks = true;
    let secrets = LabSecrets {
        printful_api_token: Some("SECRET-printful-api-token".into()),
        printful_store_id: None,
        prodigi_api_key: Some("the-key-prodigi-expects".into()),
        printful_webhook_token: Some("SECRET-printful-webhook-token".into()),
        prodigi_webhook_token: Some("SECRET-prodigi-webhook-token".into()),
    };
    let env = env(s, secrets.clone()).await;
    assert!(env.fulfillment.register_webhooks().await.is_err());
    env.plan(request(Lab::Printful, &order_id(), "4011")).await;
    env.plan(request(Lab::Prodigi, &order_id(), "GLOBAL-FAP-16x24"))
        .await;
    env.run_jobs().await;
    let _ = env
        .fulfillment
        .accept_webhook(Lab::Printful, "SECRET-guess", b"{}")
        .await;
    tracing::debug!(?secrets, fulfillment = ?env.fulfillment, "state at the end");

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("lab submission failed"),
        "the failures were logged: {text}"
    );
    assert!(text.contains("LabSecrets"), "{text}");
    for secret in [
        "SECRET-printful-api-token",
        "the-key-prodigi-expects",
        "SECRET-printful-webhook-token",
        "SECRET-prodigi-webhook-token",
        "SECRET-guess",
    ] {
        assert!(!text.contains(secret), "{secret} in the logs:\n{text}");
    }
    assert!(printful.calls().unauthorized >= 1);
}
