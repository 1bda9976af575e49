//! Payment providers behind one trait.
//!
//! Checkout asks the configured provider for a hosted payment page for an
//! order; the buyer pays there and the provider tells us (webhook or polling).
//! Vendor types never cross the trait.
#![warn(missing_docs)]

use cielo_core::{Money, Timestamp};
use std::sync::Arc;

/// One line as the payment page shows it.
#[derive(Debug, Clone)]
pub struct PaymentLine {
    /// What it is.
    pub name: String,
    /// Unit price.
    pub unit_price: Money,
    /// Quantity.
    pub quantity: i64,
}

/// What a provider needs to open a payment for an order.
#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    /// Our order id (`ord_…`): the provider's reference and idempotency key.
    pub order_id: String,
    /// Buyer's email.
    pub email: String,
    /// Lines, for the payment page.
    pub lines: Vec<PaymentLine>,
    /// Shipping charged.
    pub shipping: Money,
    /// Tax charged.
    pub tax: Money,
    /// Amount to collect: must equal the order's total.
    pub total: Money,
    /// Where the buyer returns after paying.
    pub success_url: String,
    /// Where the buyer returns after giving up.
    pub cancel_url: String,
}

/// An opened payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentSession {
    /// Provider name (`test`, `stripe`).
    pub provider: String,
    /// The provider's id for this payment.
    pub session_id: String,
    /// Where to send the buyer.
    pub redirect_url: String,
    /// When the payment page stops accepting payment.
    pub expires_at: Timestamp,
}

/// Provider failures, in our words.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// The provider refused the request as it stands.
    #[error("payment provider refused: {0}")]
    Declined(String),
    /// A temporary failure; retrying may work.
    #[error("payment provider unavailable: {0}")]
    Retryable(String),
    /// Keys or settings are wrong.
    #[error("payment provider misconfigured: {0}")]
    Misconfigured(String),
}

/// A payment provider.
#[async_trait::async_trait]
pub trait PaymentProvider: Send + Sync {
    /// Short name stored on orders.
    fn name(&self) -> &'static str;
    /// Opens a hosted payment for an order. Calling it twice for the same
    /// order must not open a second payment.
    async fn create_checkout(&self, request: &CheckoutRequest) -> Result<PaymentSession, PaymentError>;
}

/// The built-in provider: a payment page served by Cielo itself, so the whole
/// path runs on a laptop with no account anywhere.
pub struct TestProvider {
    public_url: String,
    session_ttl_secs: i64,
}

impl TestProvider {
    /// A test provider whose pages live under `public_url` (the shop's base URL).
    pub fn new(public_url: &str, session_ttl_secs: i64) -> Self {
        Self { public_url: public_url.trim_end_matches('/').to_string(), session_ttl_secs }
    }
}

#[async_trait::async_trait]
impl PaymentProvider for TestProvider {
    fn name(&self) -> &'static str {
        "test"
    }

    async fn create_checkout(&self, request: &CheckoutRequest) -> Result<PaymentSession, PaymentError> {
        // Derived from the order id, so a retried checkout gets the same session.
        let session_id = format!("tcs_{}", request.order_id.trim_start_matches("ord_"));
        Ok(PaymentSession {
            provider: self.name().to_string(),
            redirect_url: format!("{}/checkout/test/{}", self.public_url, session_id),
            session_id,
            expires_at: Timestamp::now().plus_seconds(self.session_ttl_secs),
        })
    }
}

/// A shared provider handle.
pub type SharedProvider = Arc<dyn PaymentProvider>;

#[cfg(test)]
mod tests {
    use super::*;
    use cielo_core::Currency;

    fn request() -> CheckoutRequest {
        let usd = Currency::parse("USD").unwrap();
        CheckoutRequest {
            order_id: "ord_0193a0b2c3d47e8f9a0b1c2d3e4f5a6b".into(),
            email: "a@example.com".into(),
            lines: vec![],
            shipping: Money::zero(usd),
            tax: Money::zero(usd),
            total: Money::new(100, usd),
            success_url: String::new(),
            cancel_url: String::new(),
        }
    }

    #[tokio::test]
    async fn the_test_provider_gives_one_session_per_order() {
        let p = TestProvider::new("http://127.0.0.1:8080/", 3600);
        let a = p.create_checkout(&request()).await.unwrap();
        let b = p.create_checkout(&request()).await.unwrap();
        assert_eq!(a.session_id, b.session_id);
        assert_eq!(a.redirect_url, "http://127.0.0.1:8080/checkout/test/tcs_0193a0b2c3d47e8f9a0b1c2d3e4f5a6b");
    }
}
