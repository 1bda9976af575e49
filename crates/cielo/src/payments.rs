//! Payments wired to orders: the provider chosen by configuration, and the
//! payments service over the orders domain's order book.

use crate::settings::{Secrets, Settings};
use cielo_db::Db;
use cielo_orders::Orders;
use cielo_payments::inbox::Webhooks;
use cielo_payments::stripe::{StripeConfig, StripeProvider};
use cielo_payments::{
    CatchUpSettings, Delivery, Payments, SavedCards, SharedProvider, TestProvider,
};
use std::sync::Arc;

/// Job kind of the payments catch-up (registered by the payments domain).
pub use cielo_payments::KIND_CATCH_UP;

/// The test provider's webhook secret: `CIELO_TEST_WEBHOOK_SECRET`, or one
/// generated once and kept in the data directory.
fn test_secret(settings: &Settings, secrets: &Secrets) -> anyhow::Result<String> {
    if let Some(s) = &secrets.test_webhook_secret {
        return Ok(s.clone());
    }
    let path = settings.data_dir.join("test-webhook-secret");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        if existing.trim().starts_with("whsec_") {
            return Ok(existing.trim().to_string());
        }
    }
    let secret = format!("whsec_{}", hex::encode(rand::random::<[u8; 24]>()));
    std::fs::write(&path, &secret)?;
    Ok(secret)
}

/// The configured provider (wrapped in the saved cards, so checkout gives a
/// signed-in buyer the account's customer) and the webhooks it sends.
pub fn build(
    db: &Db,
    settings: &Settings,
    secrets: &Secrets,
    public_url: &str,
) -> anyhow::Result<(Arc<SavedCards>, Option<Arc<TestProvider>>, Webhooks)> {
    let p = &settings.payments;
    let ttl = p.session_ttl_minutes * 60;
    let test_secret = test_secret(settings, secrets)?;
    let delivery = Delivery::parse(&p.test_delivery).unwrap_or_default();
    let test = Arc::new(TestProvider::new(public_url, ttl).with_events(
        db.clone(),
        &test_secret,
        delivery,
    ));
    let mut webhooks = Webhooks::new(db.clone(), p.webhook_tolerance_secs);
    if !secrets.stripe_webhook_secrets.is_empty() {
        webhooks = webhooks.accept("stripe", secrets.stripe_webhook_secrets.clone());
    }
    match p.provider.as_str() {
        "stripe" => {
            let key = secrets
                .stripe_secret_key
                .clone()
                .ok_or_else(|| anyhow::anyhow!("payments.provider = \"stripe\" needs CIELO_STRIPE_SECRET_KEY (sk_test_… or sk_live_…)"))?;
            if secrets.stripe_webhook_secrets.is_empty() {
                tracing::warn!("CIELO_STRIPE_WEBHOOK_SECRETS is not set: /webhooks/stripe refuses everything; only the catch-up sees payments");
            }
            let provider = StripeProvider::new(StripeConfig {
                api_base: p.stripe_api_base.clone(),
                secret_key: key,
                session_ttl_secs: ttl,
                page_size: 100,
            });
            Ok((with_cards(db, Arc::new(provider)), None, webhooks))
        }
        _ => {
            webhooks = webhooks.accept("test", vec![test_secret]);
            Ok((with_cards(db, test.clone()), Some(test), webhooks))
        }
    }
}

fn with_cards(db: &Db, provider: SharedProvider) -> Arc<SavedCards> {
    Arc::new(SavedCards::new(db.clone(), provider))
}

/// The payments service over the orders domain.
pub fn service(
    db: &Db,
    settings: &Settings,
    orders: &Orders,
    provider: Arc<SavedCards>,
    test: Option<Arc<TestProvider>>,
    webhooks: Webhooks,
) -> Payments {
    let p = &settings.payments;
    let book = orders.payment_book();
    let catch_up = CatchUpSettings {
        overlap_secs: p.catch_up_overlap_secs,
        initial_secs: p.catch_up_initial_secs,
        recover_after_secs: p.recover_after_minutes * 60,
    };
    let cards = SavedCards::clone(&provider);
    Payments::new(db.clone(), provider, test, webhooks, book, catch_up).with_saved_cards(cards)
}
