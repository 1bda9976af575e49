//! Lab webhooks, taken as hints.
//!
//! Neither Printful v1 webhooks nor Prodigi callbacks are signed
//! (PROVIDERS.md §2.2, §3.4). Ours are only accepted at a URL carrying an
//! unguessable token (compared in constant time), and nothing in the body is
//! trusted: the hint is stored (deduplicated) and a job re-reads the order
//! from the lab with our API key before anything changes.

use crate::{store, Error, Fulfillment, Lab};
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Why a webhook was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The URL token is wrong (answer 404 so the URL stays unguessable).
    #[error("unknown webhook URL")]
    BadToken,
    /// No token is configured for this lab: its webhooks are refused.
    #[error("webhooks of {0} are not configured")]
    NotConfigured(Lab),
    /// The body is not the lab's JSON.
    #[error("malformed webhook body: {0}")]
    Malformed(String),
    /// Storing the hint failed; the lab should retry (answer 5xx).
    #[error(transparent)]
    Store(#[from] Error),
}

impl cielo_core::HasErrorKind for WebhookError {
    fn kind(&self) -> cielo_core::ErrorKind {
        use cielo_core::ErrorKind;
        match self {
            WebhookError::BadToken | WebhookError::NotConfigured(_) => ErrorKind::NotFound,
            WebhookError::Malformed(_) => ErrorKind::Invalid,
            WebhookError::Store(_) => ErrorKind::Unavailable,
        }
    }
    fn code(&self) -> &'static str {
        match self {
            WebhookError::BadToken | WebhookError::NotConfigured(_) => "not-found",
            WebhookError::Malformed(_) => "malformed-webhook",
            WebhookError::Store(_) => "webhook-store-failed",
        }
    }
}

/// What a hint names.
struct Hint {
    kind: String,
    event_key: String,
    /// What the lab knows the order by, best first.
    references: Vec<String>,
}

fn digest(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

fn printful_hint(v: &Value, body: &[u8]) -> Hint {
    let order = v.pointer("/data/order");
    let references = ["external_id", "id"]
        .iter()
        .filter_map(|k| order.and_then(|o| crate::client::str_field(o, k)))
        .collect();
    Hint {
        kind: v
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_string(),
        // Printful v1 events carry no id: the same body is the same event.
        event_key: digest(body),
        references,
    }
}

fn prodigi_hint(v: &Value, body: &[u8]) -> Hint {
    // `subject` is Prodigi's order id; a callback can arrive before our
    // create call's answer (with that id) is recorded, so the order's
    // idempotency key (ours) is a reference too.
    let order = v.pointer("/data/order");
    let mut references: Vec<String> = v
        .get("subject")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .into_iter()
        .collect();
    references.extend(
        ["id", "idempotencyKey"]
            .iter()
            .filter_map(|k| order.and_then(|o| crate::client::str_field(o, k))),
    );
    Hint {
        kind: v
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_string(),
        event_key: v
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| digest(body)),
        references,
    }
}

impl Fulfillment {
    /// A webhook from `lab` at the URL with `token`, raw body `body`:
    /// verifies the token (constant time), stores the hint (a duplicate is
    /// stored once) and queues a re-read of the order from the lab. Returns
    /// quickly; answer 2xx on `Ok`. A hint about an order we do not know is
    /// stored and otherwise ignored.
    pub async fn accept_webhook(
        &self,
        lab: Lab,
        token: &str,
        body: &[u8],
    ) -> Result<(), WebhookError> {
        let expected = match lab {
            Lab::Printful => self.secrets().printful_webhook_token.as_deref(),
            Lab::Prodigi => self.secrets().prodigi_webhook_token.as_deref(),
            Lab::Local => None,
        }
        .ok_or(WebhookError::NotConfigured(lab))?;
        if !bool::from(expected.as_bytes().ct_eq(token.as_bytes())) {
            return Err(WebhookError::BadToken);
        }
        let v: Value =
            serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(e.to_string()))?;
        if !v.is_object() {
            return Err(WebhookError::Malformed("not a JSON object".into()));
        }
        let hint = match lab {
            Lab::Printful => {
                // Another store's event (one webhook URL per store): not ours.
                if let (Some(store), Some(ours)) = (
                    crate::client::str_field(&v, "store"),
                    self.secrets().printful_store_id.as_deref(),
                ) {
                    if store != ours {
                        tracing::warn!("Printful webhook for another store ignored");
                        return Ok(());
                    }
                }
                printful_hint(&v, body)
            }
            Lab::Prodigi => prodigi_hint(&v, body),
            Lab::Local => return Err(WebhookError::NotConfigured(lab)),
        };
        let mut tx = self.db().begin_write().await.map_err(Error::from)?;
        let mut lab_order = None;
        for r in &hint.references {
            lab_order = store::find_by_ref(&mut tx, lab, r).await?;
            if lab_order.is_some() {
                break;
            }
        }
        let payload = String::from_utf8_lossy(body);
        let new = store::insert_hint(
            &mut tx,
            lab,
            &hint.event_key,
            lab_order,
            &hint.kind,
            &payload,
        )
        .await?;
        match (new, lab_order) {
            (true, Some(id)) => {
                self.enqueue_refresh(
                    &mut tx,
                    id,
                    &format!("webhook:{}", hint.kind),
                    &hint.event_key,
                )
                .await?;
            }
            (true, None) => {
                tracing::info!(lab = %lab, kind = %hint.kind, "webhook about an order we do not know; stored, not acted on");
            }
            (false, _) => {
                tracing::debug!(lab = %lab, kind = %hint.kind, "duplicate webhook ignored");
            }
        }
        tx.commit().await.map_err(Error::from)?;
        Ok(())
    }
}
