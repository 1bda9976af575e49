//! Stripe, over its HTTP API (form-encoded requests, JSON answers), with no SDK.
//!
//! Checkout Sessions carry our order id as `client_reference_id` and in the
//! metadata of the session and of its PaymentIntent (refund and dispute
//! events only name the PaymentIntent). Every POST sends an
//! `Idempotency-Key` derived from the order, so a retried checkout or refund
//! does the thing once.

use crate::{
    CheckoutRequest, PaymentError, PaymentProvider, PaymentSession, Refund, RefundRequest,
};
use cielo_core::Timestamp;
use serde_json::{json, Value};
use std::time::Duration;

/// The API version Cielo speaks.
pub const API_VERSION: &str = "2024-06-20";

/// Stripe settings.
#[derive(Clone)]
pub struct StripeConfig {
    /// API base, `https://api.stripe.com` (a fake server's in tests).
    pub api_base: String,
    /// Secret key (`sk_…`).
    pub secret_key: String,
    /// How long a Checkout Session stays open (clamped to Stripe's 30 min – 24 h).
    pub session_ttl_secs: i64,
    /// Events per page when listing (1–100).
    pub page_size: u32,
}

impl std::fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeConfig")
            .field("api_base", &self.api_base)
            .field("secret_key", &"***")
            .finish()
    }
}

/// The Stripe provider.
#[derive(Clone, Debug)]
pub struct StripeProvider {
    config: StripeConfig,
    client: reqwest::Client,
}

/// The form of a Checkout Session for an order (exposed for tests).
pub fn checkout_form(request: &CheckoutRequest, expires_at: i64) -> Vec<(String, String)> {
    let currency = request.total.currency.code().to_ascii_lowercase();
    let mut form: Vec<(String, String)> = vec![
        ("mode".into(), "payment".into()),
        ("currency".into(), currency.clone()),
        ("customer_email".into(), request.email.clone()),
        ("client_reference_id".into(), request.order_id.clone()),
        ("metadata[order_id]".into(), request.order_id.clone()),
        (
            "payment_intent_data[metadata][order_id]".into(),
            request.order_id.clone(),
        ),
        ("success_url".into(), request.success_url.clone()),
        ("cancel_url".into(), request.cancel_url.clone()),
        ("expires_at".into(), expires_at.to_string()),
    ];
    let mut lines: Vec<(String, i64, i64)> = request
        .lines
        .iter()
        .map(|l| (l.name.clone(), l.unit_price.amount, l.quantity))
        .collect();
    // Shipping and tax as lines of their own, so the session's total is the order's total.
    if request.shipping.amount > 0 {
        lines.push(("Shipping".into(), request.shipping.amount, 1));
    }
    if request.tax.amount > 0 {
        lines.push(("Tax".into(), request.tax.amount, 1));
    }
    for (i, (name, unit, quantity)) in lines.into_iter().enumerate() {
        form.push((
            format!("line_items[{i}][price_data][currency]"),
            currency.clone(),
        ));
        form.push((
            format!("line_items[{i}][price_data][unit_amount]"),
            unit.to_string(),
        ));
        form.push((
            format!("line_items[{i}][price_data][product_data][name]"),
            name,
        ));
        form.push((format!("line_items[{i}][quantity]"), quantity.to_string()));
    }
    form
}

impl StripeProvider {
    /// A provider with these settings.
    pub fn new(config: StripeConfig) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("HTTP client");
        Self { config, client }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.config.api_base.trim_end_matches('/'), path)
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> Result<Value, PaymentError> {
        let res = rb
            .bearer_auth(&self.config.secret_key)
            .header("Stripe-Version", API_VERSION)
            .send()
            .await
            .map_err(|e| PaymentError::Retryable(format!("stripe: {e}")))?;
        let status = res.status();
        let text = res
            .text()
            .await
            .map_err(|e| PaymentError::Retryable(format!("stripe: {e}")))?;
        if status.is_success() {
            return serde_json::from_str(&text)
                .map_err(|e| PaymentError::Retryable(format!("stripe answered non-JSON: {e}")));
        }
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
            .unwrap_or_else(|| text.chars().take(200).collect());
        Err(match status.as_u16() {
            401 | 403 => PaymentError::Misconfigured(format!("stripe {status}: {message}")),
            409 | 429 | 500..=599 => PaymentError::Retryable(format!("stripe {status}: {message}")),
            _ => PaymentError::Declined(format!("stripe {status}: {message}")),
        })
    }

    async fn post(
        &self,
        path: &str,
        form: &[(String, String)],
        idempotency_key: &str,
    ) -> Result<Value, PaymentError> {
        let body = serde_urlencoded::to_string(form)
            .map_err(|e| PaymentError::Misconfigured(e.to_string()))?;
        let rb = self
            .client
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("Idempotency-Key", idempotency_key)
            .body(body);
        self.send(rb).await
    }

    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, PaymentError> {
        self.send(self.client.get(self.url(path)).query(query))
            .await
    }
}

#[async_trait::async_trait]
impl PaymentProvider for StripeProvider {
    fn name(&self) -> &'static str {
        "stripe"
    }

    async fn create_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<PaymentSession, PaymentError> {
        let ttl = self.config.session_ttl_secs.clamp(31 * 60, 24 * 3600);
        let expires_at = Timestamp::now().as_unix_seconds() + ttl;
        let form = checkout_form(request, expires_at);
        let session = self
            .post(
                "/v1/checkout/sessions",
                &form,
                &format!("checkout:{}", request.order_id),
            )
            .await?;
        let id = session["id"]
            .as_str()
            .ok_or_else(|| PaymentError::Retryable("stripe: session without id".into()))?;
        let url = session["url"]
            .as_str()
            .ok_or_else(|| PaymentError::Retryable("stripe: session without url".into()))?;
        let expires = session["expires_at"].as_i64().unwrap_or(expires_at);
        Ok(PaymentSession {
            provider: "stripe".into(),
            session_id: id.to_string(),
            redirect_url: url.to_string(),
            expires_at: Timestamp::from_micros(expires * 1_000_000),
        })
    }

    async fn list_events(&self, since: i64) -> Result<Vec<Value>, PaymentError> {
        let mut events: Vec<Value> = Vec::new();
        let mut starting_after: Option<String> = None;
        // Stripe pages newest first; some fakes oldest first. Follow `has_more`
        // either way, and sort at the end.
        for _ in 0..100 {
            let mut q = vec![
                ("created[gte]", since.to_string()),
                ("limit", self.config.page_size.clamp(1, 100).to_string()),
            ];
            if let Some(s) = &starting_after {
                q.push(("starting_after", s.clone()));
            }
            let page = self.get("/v1/events", &q).await?;
            let data = page["data"].as_array().cloned().unwrap_or_default();
            let last = data
                .last()
                .and_then(|e| e["id"].as_str())
                .map(str::to_string);
            let seen_before = last
                .as_ref()
                .is_some_and(|l| events.iter().any(|e| e["id"].as_str() == Some(l)));
            events.extend(data);
            if !page["has_more"].as_bool().unwrap_or(false) || last.is_none() || seen_before {
                break;
            }
            starting_after = last;
        }
        events.sort_by(|a, b| {
            (a["created"].as_i64(), a["id"].as_str())
                .cmp(&(b["created"].as_i64(), b["id"].as_str()))
        });
        events.dedup_by(|a, b| a["id"] == b["id"]);
        Ok(events)
    }

    async fn poll_session(&self, session_id: &str) -> Result<Option<Value>, PaymentError> {
        let session = self
            .get(&format!("/v1/checkout/sessions/{session_id}"), &[])
            .await?;
        let (kind, suffix) = match (
            session["status"].as_str(),
            session["payment_status"].as_str(),
        ) {
            (Some("complete"), Some("paid")) => ("checkout.session.completed", "completed"),
            (Some("expired"), _) => ("checkout.session.expired", "expired"),
            _ => return Ok(None),
        };
        Ok(Some(json!({
            "id": format!("evt_poll_{session_id}_{suffix}"),
            "object": "event",
            "type": kind,
            "created": Timestamp::now().as_unix_seconds(),
            "data": {"object": session},
        })))
    }

    async fn refund(&self, request: &RefundRequest) -> Result<Refund, PaymentError> {
        let mut form = vec![
            ("payment_intent".to_string(), request.payment_intent.clone()),
            ("metadata[order_id]".to_string(), request.order_id.clone()),
        ];
        // Always explicit: "the rest" is computed here, not left to the server.
        let amount = request
            .amount
            .unwrap_or(request.paid - request.already_refunded);
        form.push(("amount".into(), amount.to_string()));
        let r = self
            .post("/v1/refunds", &form, &request.idempotency_key)
            .await?;
        Ok(Refund {
            id: r["id"].as_str().unwrap_or_default().to_string(),
            amount: r["amount"].as_i64().unwrap_or(amount),
            status: r["status"].as_str().unwrap_or("pending").to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PaymentLine;
    use cielo_core::{Currency, Money};

    #[test]
    fn the_session_form_carries_the_order_and_adds_up_to_its_total() {
        let eur = Currency::parse("EUR").unwrap();
        let request = CheckoutRequest {
            order_id: "ord_1".into(),
            email: "a@example.com".into(),
            lines: vec![PaymentLine {
                name: "Poster".into(),
                unit_price: Money::new(1000, eur),
                quantity: 2,
            }],
            shipping: Money::new(500, eur),
            tax: Money::new(99, eur),
            total: Money::new(2599, eur),
            success_url: "https://shop/ok".into(),
            cancel_url: "https://shop/no".into(),
        };
        let form = checkout_form(&request, 1_800_000_000);
        let get = |k: &str| {
            form.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("client_reference_id"), Some("ord_1"));
        assert_eq!(get("metadata[order_id]"), Some("ord_1"));
        assert_eq!(
            get("payment_intent_data[metadata][order_id]"),
            Some("ord_1")
        );
        assert_eq!(get("line_items[0][price_data][currency]"), Some("eur"));
        assert_eq!(
            get("line_items[2][price_data][product_data][name]"),
            Some("Tax")
        );
        let mut total = 0;
        for i in 0..3 {
            let unit: i64 = get(&format!("line_items[{i}][price_data][unit_amount]"))
                .unwrap()
                .parse()
                .unwrap();
            let q: i64 = get(&format!("line_items[{i}][quantity]"))
                .unwrap()
                .parse()
                .unwrap();
            total += unit * q;
        }
        assert_eq!(total, 2599);
    }
}
