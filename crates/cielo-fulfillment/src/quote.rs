//! Shipping quotes from the labs, cached per (lab, products, country,
//! currency) so a cart page does not call a lab on every view.

use crate::Lab;
use cielo_core::Money;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One cart line for a quote.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QuoteItem {
    /// Printful's catalog variant id or Prodigi's SKU.
    pub lab_product_id: String,
    /// Copies.
    pub quantity: u32,
}

type Key = (Lab, Vec<QuoteItem>, String, String);

/// Successful answers only: a failure is asked again next time.
#[derive(Default)]
pub(crate) struct QuoteCache {
    entries: Mutex<HashMap<Key, (Instant, Money)>>,
}

impl QuoteCache {
    pub(crate) fn key(lab: Lab, items: &[QuoteItem], country: &str, currency: &str) -> Key {
        let mut items = items.to_vec();
        items.sort_by(|a, b| a.lab_product_id.cmp(&b.lab_product_id));
        (
            lab,
            items,
            country.to_ascii_uppercase(),
            currency.to_string(),
        )
    }

    pub(crate) fn get(&self, key: &Key, ttl: Duration) -> Option<Money> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < ttl)
            .map(|(_, m)| *m)
    }

    pub(crate) fn put(&self, key: Key, money: Money) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Keep the map from growing without bound on a busy shop.
        if entries.len() > 10_000 {
            entries.clear();
        }
        entries.insert(key, (Instant::now(), money));
    }
}
