//! The `fulfillment` settings section and the labs' secrets.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The `[fulfillment]` settings section. Every key has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FulfillmentSettings {
    /// Printful's API base URL (no trailing slash needed).
    pub printful_api_base: String,
    /// Prodigi's API base URL, with the version (`…/v4.0`); the sandbox is
    /// `https://api.sandbox.prodigi.com/v4.0`.
    pub prodigi_api_base: String,
    /// Prodigi `shippingMethod`: `Budget`, `Standard`, `Express` or `Overnight`.
    pub prodigi_shipping_method: String,
    /// Printful `shipping` rate id (`STANDARD`, …).
    pub printful_shipping: String,
    /// Minutes a paid order waits before it goes to a lab (the edit window);
    /// 0 submits at once.
    pub hold_minutes: u32,
    /// Register the Printful webhook URL with `POST /webhooks` at start-up
    /// (needs the API token and `CIELO_PRINTFUL_WEBHOOK_TOKEN`).
    pub register_printful_webhooks: bool,
    /// Timeout of one call to a lab (seconds). A timed-out submission is
    /// retried with the same key after asking the lab first.
    pub request_timeout_secs: u64,
    /// Timeout of a shipping quote (milliseconds); past it the flat rate applies.
    pub quote_timeout_ms: u64,
    /// How long a lab's shipping quote is reused (seconds).
    pub quote_cache_secs: u64,
    /// Attempts of a submission job before it goes to the dead letters (the
    /// catch-up re-sends it later anyway).
    pub submit_max_attempts: u32,
    /// The built-in lab's pace.
    pub local: LocalLabSettings,
}

impl Default for FulfillmentSettings {
    fn default() -> Self {
        Self {
            printful_api_base: "https://api.printful.com".into(),
            prodigi_api_base: "https://api.prodigi.com/v4.0".into(),
            prodigi_shipping_method: "Standard".into(),
            printful_shipping: "STANDARD".into(),
            hold_minutes: 30,
            register_printful_webhooks: false,
            request_timeout_secs: 30,
            quote_timeout_ms: 2000,
            quote_cache_secs: 3600,
            submit_max_attempts: 20,
            local: LocalLabSettings::default(),
        }
    }
}

impl FulfillmentSettings {
    pub(crate) fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs.max(1))
    }
    pub(crate) fn quote_timeout(&self) -> Duration {
        Duration::from_millis(self.quote_timeout_ms.max(1))
    }
    /// The end of the edit window for an order paid at `paid_at`.
    pub fn hold_until(&self, paid_at: cielo_core::Timestamp) -> cielo_core::Timestamp {
        paid_at.plus_seconds(i64::from(self.hold_minutes) * 60)
    }
}

/// `[fulfillment.local]`: how long the built-in lab takes for each step,
/// counted from the previous one (seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalLabSettings {
    /// From accepted to `in_production`.
    pub in_production_after_secs: u64,
    /// From `in_production` to `shipped`.
    pub shipped_after_secs: u64,
    /// From `shipped` to `delivered`.
    pub delivered_after_secs: u64,
}

impl Default for LocalLabSettings {
    fn default() -> Self {
        Self {
            in_production_after_secs: 60,
            shipped_after_secs: 300,
            delivered_after_secs: 600,
        }
    }
}

/// The labs' secrets, from the environment only; `Debug` hides them.
#[derive(Clone, Default)]
pub struct LabSecrets {
    /// Printful private token (`CIELO_PRINTFUL_API_TOKEN`).
    pub printful_api_token: Option<String>,
    /// Printful store id, for account-level tokens (`CIELO_PRINTFUL_STORE_ID`).
    pub printful_store_id: Option<String>,
    /// Prodigi API key (`CIELO_PRODIGI_API_KEY`).
    pub prodigi_api_key: Option<String>,
    /// The unguessable token in Printful's webhook URL (`CIELO_PRINTFUL_WEBHOOK_TOKEN`;
    /// URL-safe characters, e.g. 64 hex digits).
    pub printful_webhook_token: Option<String>,
    /// The unguessable token in Prodigi's callback URL (`CIELO_PRODIGI_WEBHOOK_TOKEN`;
    /// URL-safe characters, e.g. 64 hex digits).
    pub prodigi_webhook_token: Option<String>,
}

impl std::fmt::Debug for LabSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |v: &Option<String>| v.as_ref().map(|_| "***");
        f.debug_struct("LabSecrets")
            .field("printful_api_token", &set(&self.printful_api_token))
            .field("printful_store_id", &self.printful_store_id)
            .field("prodigi_api_key", &set(&self.prodigi_api_key))
            .field("printful_webhook_token", &set(&self.printful_webhook_token))
            .field("prodigi_webhook_token", &set(&self.prodigi_webhook_token))
            .finish()
    }
}

impl LabSecrets {
    /// The environment variables read by [`LabSecrets::from_env`].
    pub const ENV_VARS: [&'static str; 5] = [
        "CIELO_PRINTFUL_API_TOKEN",
        "CIELO_PRINTFUL_STORE_ID",
        "CIELO_PRODIGI_API_KEY",
        "CIELO_PRINTFUL_WEBHOOK_TOKEN",
        "CIELO_PRODIGI_WEBHOOK_TOKEN",
    ];

    /// Reads the secrets from the environment (empty counts as unset).
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|s| !s.trim().is_empty());
        Self {
            printful_api_token: var("CIELO_PRINTFUL_API_TOKEN"),
            printful_store_id: var("CIELO_PRINTFUL_STORE_ID"),
            prodigi_api_key: var("CIELO_PRODIGI_API_KEY"),
            printful_webhook_token: var("CIELO_PRINTFUL_WEBHOOK_TOKEN"),
            prodigi_webhook_token: var("CIELO_PRODIGI_WEBHOOK_TOKEN"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_secret() {
        let s = LabSecrets {
            printful_api_token: Some("pf-token-123".into()),
            printful_store_id: Some("42".into()),
            prodigi_api_key: Some("prodigi-key-456".into()),
            printful_webhook_token: Some("whk-789".into()),
            prodigi_webhook_token: Some("whk-abc".into()),
        };
        let shown = format!("{s:?}");
        for secret in ["pf-token-123", "prodigi-key-456", "whk-789", "whk-abc"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    #[test]
    fn an_empty_section_takes_the_documented_defaults() {
        let s: FulfillmentSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(s.printful_api_base, "https://api.printful.com");
        assert_eq!(s.prodigi_api_base, "https://api.prodigi.com/v4.0");
        assert_eq!(s.prodigi_shipping_method, "Standard");
        assert_eq!(s.hold_minutes, 30);
        assert_eq!(s.quote_timeout_ms, 2000);
        assert_eq!(s.quote_cache_secs, 3600);
    }
}
