//! Shipping quoted by someone else than the flat rates (the print labs, when
//! `shipping.source = "lab"`): asked at checkout, before the order's
//! transaction, so a slow answer never holds a database write.

use cielo_core::{Currency, Money};

/// One cart line as a shipping quote needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteLine {
    /// The variant's print lab (`local`, `printful`, `prodigi`); `None`: the shop ships it.
    pub lab: Option<String>,
    /// The lab's product id.
    pub lab_product_id: Option<String>,
    /// The variant's SKU.
    pub sku: String,
    /// Copies.
    pub quantity: i64,
}

/// Quotes the shipping of a cart to a country.
#[async_trait::async_trait]
pub trait ShippingQuoter: Send + Sync {
    /// The shipping of `lines` to `country` (ISO alpha-2) in `currency`, or
    /// `None` to charge the flat rate (no quote, a slow or failed one).
    async fn quote(&self, lines: &[QuoteLine], country: &str, currency: Currency) -> Option<Money>;
}
