//! `shipping.source = "lab"`: the cart's shipping as the print labs quote it.

use cielo_core::{Currency, Money};
use cielo_fulfillment::{Fulfillment, Lab, QuoteItem};
use cielo_orders::{QuoteLine, ShippingQuoter};
use std::collections::BTreeMap;

/// Asks each lab of the cart for its shipping (cielo-fulfillment caches a
/// quote per lab, products and country for `fulfillment.quote_cache_secs`,
/// and gives up after `fulfillment.quote_timeout_ms`) and charges the sum.
/// Any line without a quote — one the shop ships itself, the local lab, a lab
/// that is slow, fails or is not configured — means the flat rate for the
/// whole cart, so shipping is never silently zero.
#[derive(Clone)]
pub struct LabShipping {
    fulfillment: Fulfillment,
}

impl LabShipping {
    /// Quotes through `fulfillment`.
    pub fn new(fulfillment: Fulfillment) -> Self {
        Self { fulfillment }
    }
}

#[async_trait::async_trait]
impl ShippingQuoter for LabShipping {
    async fn quote(&self, lines: &[QuoteLine], country: &str, currency: Currency) -> Option<Money> {
        let mut groups: BTreeMap<Lab, Vec<QuoteItem>> = BTreeMap::new();
        for l in lines {
            let lab = Lab::parse(l.lab.as_deref()?)?;
            groups.entry(lab).or_default().push(QuoteItem {
                lab_product_id: l.lab_product_id.clone().unwrap_or_else(|| l.sku.clone()),
                quantity: u32::try_from(l.quantity).ok()?,
            });
        }
        let mut total = Money::zero(currency);
        for (lab, items) in groups {
            let quote = self
                .fulfillment
                .quote(lab, &items, country, currency)
                .await?;
            total = total.checked_add(quote).ok()?;
        }
        (total.amount > 0).then_some(total)
    }
}
