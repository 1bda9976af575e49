//! Payment providers behind one trait.
//!
//! Checkout asks the configured provider for a hosted payment page for an
//! order; the buyer pays there and the provider tells us (webhook or polling).
//! Vendor types never cross the trait.
#![warn(missing_docs)]

pub mod cards;
pub mod cli;
pub mod event;
pub mod inbox;
mod jobs;
pub mod service;
pub mod signature;
pub mod stripe;
pub mod test_provider;

pub use cards::SavedCards;
pub use jobs::KIND_CATCH_UP;
pub use service::{
    CatchUpReport, CatchUpSettings, OrderBook, Payments, ProcessError, RefundError, RefundOutcome,
};
pub use test_provider::{Delivery, TestProvider};

/// The payments migrations.
pub const MIGRATIONS: cielo_db::MigrationSet = cielo_db::MigrationSet {
    domain: "payments",
    migrations: &[
        cielo_db::migration!(20261121000500, "payments"),
        cielo_db::migration!(20261129130000, "webhook_rejections"),
        cielo_db::migration!(20261129160000, "saved_cards"),
    ],
};

use cielo_core::{Currency, Money, Timestamp};
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
    /// The shop account checking out (its id, as the accounts domain gives
    /// it); `None` for a guest. Only signed-in buyers can save a card.
    pub account_id: Option<String>,
    /// The provider's customer for that account (`cus_…` at Stripe), filled
    /// in by [`SavedCards`] before the request reaches the provider: the
    /// payment page then offers to save the card for next time and shows the
    /// cards saved before. `None` for a guest (nothing can be saved).
    pub customer: Option<String>,
}

/// A card brand as people write it, from the provider's name for it
/// (`visa` → `Visa`, `amex` → `American Express`; `Card` when unknown).
pub fn card_brand_name(brand: &str) -> String {
    match brand {
        "amex" => "American Express".into(),
        "mastercard" => "Mastercard".into(),
        "diners" => "Diners Club".into(),
        "jcb" => "JCB".into(),
        "unionpay" => "UnionPay".into(),
        "cartes_bancaires" => "Cartes Bancaires".into(),
        "" | "unknown" => "Card".into(),
        other => {
            let mut c = other.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        }
    }
}

/// What a provider needs to create a customer for a shop account.
#[derive(Debug, Clone)]
pub struct NewCustomer {
    /// The shop account's id (kept in the customer's metadata).
    pub account_id: String,
    /// The buyer's email.
    pub email: String,
    /// Sent as the idempotency key: concurrent first checkouts of one account
    /// create one customer at the provider.
    pub idempotency_key: String,
}

/// A card a buyer saved with the provider, as the shop shows it: brand, last
/// four digits and expiry, never the number.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SavedCard {
    /// The provider's payment method id (`pm_…`).
    pub id: String,
    /// `visa`, `mastercard`, `amex`, `discover`, … (Stripe's brand names).
    pub brand: String,
    /// The last four digits.
    pub last4: String,
    /// Expiry month, 1–12.
    pub exp_month: u32,
    /// Expiry year, four digits.
    pub exp_year: u32,
    /// When it was saved (unix seconds).
    pub created: i64,
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
    /// The provider cannot take this amount in this currency (a fraction it
    /// does not charge, a digit it does not accept); nothing was sent.
    #[error("{0}")]
    AmountNotAccepted(String),
}

/// A refund the provider accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    /// The provider's refund id.
    pub id: String,
    /// Amount refunded by this refund, minor units.
    pub amount: i64,
    /// The provider's status (`succeeded`, `pending`, …).
    pub status: String,
}

/// What a refund is for.
#[derive(Debug, Clone)]
pub struct RefundRequest {
    /// Our order id.
    pub order_id: String,
    /// The payment's PaymentIntent.
    pub payment_intent: String,
    /// Amount to refund (minor units); `None` refunds what is left.
    pub amount: Option<i64>,
    /// Refunded before this one, minor units.
    pub already_refunded: i64,
    /// The amount originally paid.
    pub paid: i64,
    /// Currency (lowercase ISO).
    pub currency: String,
    /// Sent as the idempotency key, so a retried request refunds once.
    pub idempotency_key: String,
}

/// A payment provider.
#[async_trait::async_trait]
pub trait PaymentProvider: Send + Sync {
    /// Short name stored on orders.
    fn name(&self) -> &'static str;
    /// The one conversion of an amount into the provider's units (what its
    /// API and its events speak); `AmountNotAccepted` when the provider cannot
    /// take it. Providers that count ISO 4217 minor units keep the default.
    fn provider_amount(&self, money: Money) -> Result<i64, PaymentError> {
        Ok(money.amount)
    }
    /// An amount in the provider's units back in ISO 4217 minor units of
    /// `currency`; `None` when it is not a whole number of them.
    fn amount_from_provider(&self, amount: i64, currency: Currency) -> Option<i64> {
        let _ = currency;
        Some(amount)
    }
    /// Opens a hosted payment for an order. Calling it twice for the same
    /// order must not open a second payment.
    async fn create_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<PaymentSession, PaymentError>;
    /// Events created at or after `since` (unix seconds), oldest first,
    /// following pagination, as raw event JSON. For the catch-up.
    async fn list_events(&self, since: i64) -> Result<Vec<serde_json::Value>, PaymentError>;
    /// Asks about one payment session directly: an event-shaped
    /// `checkout.session.completed` (with a stable id derived from the
    /// session) when it is complete, so it can go through the inbox; `None`
    /// while it is still open.
    async fn poll_session(
        &self,
        session_id: &str,
    ) -> Result<Option<serde_json::Value>, PaymentError>;
    /// Refunds all or part of a payment.
    async fn refund(&self, request: &RefundRequest) -> Result<Refund, PaymentError>;
    /// Creates the provider's customer for a shop account (returns its id,
    /// `cus_…`). Sending the same idempotency key again returns the same
    /// customer. [`SavedCards`] calls it once per account, lazily.
    async fn create_customer(&self, customer: &NewCustomer) -> Result<String, PaymentError>;
    /// The cards saved for a customer, oldest first.
    async fn list_cards(&self, customer: &str) -> Result<Vec<SavedCard>, PaymentError>;
    /// Removes a saved card from a customer: `Ok(false)`, and nothing
    /// changes, when there is no such card or it belongs to another customer.
    async fn detach_card(&self, customer: &str, card_id: &str) -> Result<bool, PaymentError>;
}

/// A shared provider handle.
pub type SharedProvider = Arc<dyn PaymentProvider>;

/// Registers the help text of the payments series with the global recorder:
/// `cielo_order_payment_to_paid_seconds` (histogram, from the provider's
/// payment event to the order marked paid here).
pub fn describe_metrics() {
    metrics::describe_histogram!(
        "cielo_order_payment_to_paid_seconds",
        metrics::Unit::Seconds,
        "From the payment provider's event to the order marked paid."
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_engines_list_the_same_migrations() {
        cielo_db::check_set(&super::MIGRATIONS).unwrap();
    }
}
