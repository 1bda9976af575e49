//! The built-in `test` provider: a payment page served by Cielo itself, so
//! the whole path runs on a laptop with no account anywhere.
//!
//! It behaves like Stripe where it matters: the page's buttons create
//! Stripe-shaped events, kept in the provider's own event log (which the
//! catch-up lists), and delivers them to `/webhooks/test` signed with
//! Stripe's scheme, through the same inbox and jobs. Delivery can be made
//! late, doubled or dropped, to show that no order is lost either way.

use crate::{
    CheckoutRequest, PaymentError, PaymentProvider, PaymentSession, Refund, RefundRequest,
};
use cielo_core::Timestamp;
use cielo_db::sqlx::{self, Row};
use cielo_db::Db;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::Duration;
use subtle::ConstantTimeEq;

/// How the test provider delivers its webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivery {
    /// At once.
    #[default]
    Immediate,
    /// After this many seconds.
    Late(u64),
    /// Twice (a duplicate, as real providers do).
    Twice,
    /// Never: only the catch-up finds the event.
    Never,
}

impl Delivery {
    /// Parses `immediate`, `late:SECONDS`, `twice` or `never`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "immediate" => Some(Self::Immediate),
            "twice" => Some(Self::Twice),
            "never" => Some(Self::Never),
            _ => s
                .strip_prefix("late:")
                .and_then(|n| n.parse().ok())
                .map(Self::Late),
        }
    }
}

/// What the buyer did on the test payment page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageAction {
    /// Paid.
    Pay,
    /// The card was declined (the order keeps waiting; the buyer may retry).
    Decline,
    /// Gave up: the session expires.
    Cancel,
}

impl PageAction {
    /// Parses `pay`, `decline` or `cancel`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pay" => Some(Self::Pay),
            "decline" => Some(Self::Decline),
            "cancel" => Some(Self::Cancel),
            _ => None,
        }
    }
}

/// The order as the test payment page shows it.
#[derive(Debug, Clone)]
pub struct PageOrder {
    /// Our order id.
    pub order_id: String,
    /// The session id (`tcs_…`).
    pub session_id: String,
    /// Amount to pay, minor units.
    pub amount: i64,
    /// ISO currency (any case).
    pub currency: String,
    /// Buyer's email.
    pub email: String,
}

/// The built-in provider.
#[derive(Clone)]
pub struct TestProvider {
    public_url: String,
    session_ttl_secs: i64,
    db: Option<Db>,
    secret: String,
    /// Keys the session ids: derived from the webhook secret (shared by every
    /// process of the shop), random when there is none.
    session_key: [u8; 32],
    delivery: Delivery,
    client: reqwest::Client,
}

impl TestProvider {
    /// A test provider whose pages live under `public_url` (the shop's base
    /// URL). Without [`TestProvider::with_events`] it only opens sessions.
    pub fn new(public_url: &str, session_ttl_secs: i64) -> Self {
        Self {
            public_url: public_url.trim_end_matches('/').to_string(),
            session_ttl_secs,
            db: None,
            secret: String::new(),
            session_key: rand::random(),
            delivery: Delivery::Immediate,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("HTTP client"),
        }
    }

    /// Keeps its events in `db` and signs webhooks with `secret`.
    pub fn with_events(mut self, db: Db, secret: &str, delivery: Delivery) -> Self {
        self.db = Some(db);
        self.secret = secret.to_string();
        self.session_key = Sha256::new()
            .chain_update(b"cielo test payment session ids\0")
            .chain_update(secret.as_bytes())
            .finalize()
            .into();
        self.delivery = delivery;
        self
    }

    /// The webhook signing secret.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The session id of an order: `tcs_<order>_<tag>`, where the tag is a
    /// 128-bit MAC of the order id under a key of this shop. The same order
    /// always gets the same session (a retried checkout opens one payment),
    /// but knowing an order id (it is in `/?order=` links) is not enough to
    /// reach its payment page.
    pub fn session_for(&self, order_id: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.session_key)
            .expect("HMAC takes any key length");
        mac.update(order_id.as_bytes());
        let tag = mac.finalize().into_bytes();
        format!(
            "tcs_{}_{}",
            order_id.trim_start_matches("ord_"),
            hex::encode(&tag[..16])
        )
    }

    /// The order id of a session this provider issued; `None` for any other
    /// string (a guessed or altered id).
    pub fn order_for(&self, session_id: &str) -> Option<String> {
        let rest = session_id.strip_prefix("tcs_")?;
        let (order, _) = rest.rsplit_once('_')?;
        let order_id = format!("ord_{order}");
        let expected = self.session_for(&order_id);
        bool::from(expected.as_bytes().ct_eq(session_id.as_bytes())).then_some(order_id)
    }

    fn db(&self) -> Result<&Db, PaymentError> {
        self.db.as_ref().ok_or_else(|| {
            PaymentError::Misconfigured("the test provider has no event store".into())
        })
    }

    fn session_object(order: &PageOrder, status: &str, payment_status: &str) -> Value {
        json!({
            "id": order.session_id,
            "object": "checkout.session",
            "amount_total": order.amount,
            "currency": order.currency.to_ascii_lowercase(),
            "client_reference_id": order.order_id,
            "metadata": {"order_id": order.order_id},
            "customer_details": {"email": order.email},
            "mode": "payment",
            "payment_intent": format!("pi_{}", order.session_id.trim_start_matches("tcs_")),
            "payment_status": payment_status,
            "status": status,
        })
    }

    /// What the buyer did on the page: creates the provider's event (one per
    /// session and outcome, however often the button is pressed) and delivers it.
    pub async fn act(&self, order: &PageOrder, action: PageAction) -> Result<Value, PaymentError> {
        let (kind, object) = match action {
            PageAction::Pay => (
                "checkout.session.completed",
                Self::session_object(order, "complete", "paid"),
            ),
            PageAction::Cancel => (
                "checkout.session.expired",
                Self::session_object(order, "expired", "unpaid"),
            ),
            PageAction::Decline => (
                "payment_intent.payment_failed",
                json!({
                    "id": format!("pi_{}", order.session_id.trim_start_matches("tcs_")),
                    "object": "payment_intent",
                    "amount": order.amount,
                    "currency": order.currency.to_ascii_lowercase(),
                    "metadata": {"order_id": order.order_id},
                    "status": "requires_payment_method",
                    "last_payment_error": {"code": "card_declined", "message": "Your card was declined."},
                }),
            ),
        };
        let suffix = match action {
            PageAction::Pay => "paid",
            PageAction::Cancel => "expired",
            PageAction::Decline => "declined",
        };
        let id = format!("evt_{}_{suffix}", order.session_id);
        self.emit(&id, kind, object).await
    }

    /// Records an event in the provider's log (once per id) and delivers it.
    async fn emit(&self, id: &str, kind: &str, object: Value) -> Result<Value, PaymentError> {
        let db = self.db()?;
        let created = Timestamp::now().as_unix_seconds();
        let event = json!({
            "id": id, "object": "event", "api_version": "2024-06-20", "created": created, "type": kind,
            "livemode": false, "pending_webhooks": 1, "data": {"object": object},
            "request": {"id": null, "idempotency_key": null},
        });
        let text = event.to_string();
        let mut conn = db
            .pool()
            .acquire()
            .await
            .map_err(|e| PaymentError::Retryable(e.to_string()))?;
        sqlx::query("insert into payments_test_event (id, created, payload) values ($1, $2, $3) on conflict (id) do nothing")
            .bind(id)
            .bind(created)
            .bind(&text)
            .execute(&mut *conn)
            .await
            .map_err(|e| PaymentError::Retryable(e.to_string()))?;
        // The stored event wins when the button was pressed before.
        let stored: String = sqlx::query("select payload from payments_test_event where id = $1")
            .bind(id)
            .fetch_one(&mut *conn)
            .await
            .and_then(|r| r.try_get("payload"))
            .map_err(|e| PaymentError::Retryable(e.to_string()))?;
        drop(conn);
        self.deliver(stored.clone());
        serde_json::from_str(&stored).map_err(|e| PaymentError::Retryable(e.to_string()))
    }

    /// Sends an event to `/webhooks/test` in the background, as configured.
    fn deliver(&self, payload: String) {
        let (times, delay) = match self.delivery {
            Delivery::Never => return,
            Delivery::Immediate => (1, 0),
            Delivery::Twice => (2, 0),
            Delivery::Late(s) => (1, s),
        };
        let url = format!("{}/webhooks/test", self.public_url);
        let (client, secret) = (self.client.clone(), self.secret.clone());
        // The buyer's click and the webhook it causes make one trace (when
        // traces are exported): the webhook carries the click's context.
        let traceparent = cielo_core::telemetry::current_trace_context();
        tokio::spawn(async move {
            if delay > 0 {
                tokio::time::sleep(Duration::from_secs(delay)).await;
            }
            for _ in 0..times {
                // Like Stripe, each attempt is signed afresh.
                let header = crate::signature::sign(
                    &[&secret],
                    Timestamp::now().as_unix_seconds(),
                    payload.as_bytes(),
                );
                let mut request = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("stripe-signature", header);
                if let Some(parent) = &traceparent {
                    request = request.header("traceparent", parent);
                }
                let sent = request.body(payload.clone()).send().await;
                match sent {
                    Ok(r) if r.status().is_success() => {}
                    Ok(r) => {
                        tracing::warn!(status = %r.status(), "test provider: webhook refused; the catch-up will find the event")
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "test provider: webhook not delivered; the catch-up will find the event")
                    }
                }
            }
        });
    }
}

#[async_trait::async_trait]
impl PaymentProvider for TestProvider {
    fn name(&self) -> &'static str {
        "test"
    }

    async fn create_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<PaymentSession, PaymentError> {
        // Derived from the order id, so a retried checkout gets the same session.
        let session_id = self.session_for(&request.order_id);
        Ok(PaymentSession {
            provider: self.name().to_string(),
            redirect_url: format!("{}/checkout/test/{}", self.public_url, session_id),
            session_id,
            expires_at: Timestamp::now().plus_seconds(self.session_ttl_secs),
        })
    }

    async fn list_events(&self, since: i64) -> Result<Vec<Value>, PaymentError> {
        let rows = sqlx::query(
            "select payload from payments_test_event where created >= $1 order by created, id",
        )
        .bind(since)
        .fetch_all(self.db()?.pool())
        .await
        .map_err(|e| PaymentError::Retryable(e.to_string()))?;
        rows.iter()
            .map(|r| {
                let text: String = r
                    .try_get("payload")
                    .map_err(|e| PaymentError::Retryable(e.to_string()))?;
                serde_json::from_str(&text).map_err(|e| PaymentError::Retryable(e.to_string()))
            })
            .collect()
    }

    async fn poll_session(&self, session_id: &str) -> Result<Option<Value>, PaymentError> {
        let row = sqlx::query("select payload from payments_test_event where id = $1")
            .bind(format!("evt_{session_id}_paid"))
            .fetch_optional(self.db()?.pool())
            .await
            .map_err(|e| PaymentError::Retryable(e.to_string()))?;
        match row {
            None => Ok(None),
            Some(r) => {
                let text: String = r
                    .try_get("payload")
                    .map_err(|e| PaymentError::Retryable(e.to_string()))?;
                serde_json::from_str(&text)
                    .map(Some)
                    .map_err(|e| PaymentError::Retryable(e.to_string()))
            }
        }
    }

    async fn refund(&self, request: &RefundRequest) -> Result<Refund, PaymentError> {
        let left = request.paid - request.already_refunded;
        let amount = request.amount.unwrap_or(left);
        if amount <= 0 || amount > left {
            return Err(PaymentError::Declined(format!(
                "can refund between 1 and {left}"
            )));
        }
        let refund_id = format!(
            "re_{}",
            request
                .idempotency_key
                .replace(|c: char| !c.is_ascii_alphanumeric(), "")
        );
        let charge = json!({
            "id": format!("ch_{}", request.payment_intent.trim_start_matches("pi_")),
            "object": "charge",
            "amount": request.paid,
            "amount_refunded": request.already_refunded + amount,
            "currency": request.currency,
            "metadata": {"order_id": request.order_id},
            "payment_intent": request.payment_intent,
            "refunded": request.already_refunded + amount >= request.paid,
        });
        self.emit(&format!("evt_{refund_id}"), "charge.refunded", charge)
            .await?;
        Ok(Refund {
            id: refund_id,
            amount,
            status: "succeeded".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cielo_core::{Currency, Money};

    #[tokio::test]
    async fn the_test_provider_gives_one_session_per_order() {
        let usd = Currency::parse("USD").unwrap();
        let request = CheckoutRequest {
            order_id: "ord_0193a0b2c3d47e8f9a0b1c2d3e4f5a6b".into(),
            email: "a@example.com".into(),
            lines: vec![],
            shipping: Money::zero(usd),
            tax: Money::zero(usd),
            total: Money::new(100, usd),
            success_url: String::new(),
            cancel_url: String::new(),
        };
        let p = TestProvider::new("http://127.0.0.1:8080/", 3600);
        let a = p.create_checkout(&request).await.unwrap();
        let b = p.create_checkout(&request).await.unwrap();
        assert_eq!(a.session_id, b.session_id);
        assert_eq!(
            a.redirect_url,
            format!("http://127.0.0.1:8080/checkout/test/{}", a.session_id)
        );
        assert_eq!(
            p.order_for(&a.session_id).as_deref(),
            Some(request.order_id.as_str())
        );
    }

    #[test]
    fn session_ids_cannot_be_derived_from_the_order_id() {
        let order = "ord_0193a0b2c3d47e8f9a0b1c2d3e4f5a6b";
        let p = TestProvider::new("http://127.0.0.1:8080/", 3600);
        let session = p.session_for(order);
        assert!(session.starts_with("tcs_0193a0b2c3d47e8f9a0b1c2d3e4f5a6b_"));
        assert_eq!(session.len(), "tcs_".len() + 32 + 1 + 32, "{session}");
        // The old, guessable form and altered tags are refused.
        assert_eq!(p.order_for("tcs_0193a0b2c3d47e8f9a0b1c2d3e4f5a6b"), None);
        let mut altered = session.clone();
        altered.pop();
        altered.push(if session.ends_with('0') { '1' } else { '0' });
        assert_eq!(p.order_for(&altered), None);
        // Another shop (another secret) issues other ids.
        let db_less = |secret: &str| {
            let mut t = TestProvider::new("http://127.0.0.1:8080/", 3600);
            t.session_key = Sha256::new()
                .chain_update(b"cielo test payment session ids\0")
                .chain_update(secret.as_bytes())
                .finalize()
                .into();
            t
        };
        assert_eq!(
            db_less("a").session_for(order),
            db_less("a").session_for(order)
        );
        assert_ne!(
            db_less("a").session_for(order),
            db_less("b").session_for(order)
        );
    }

    #[test]
    fn delivery_modes_parse() {
        assert_eq!(Delivery::parse("late:5"), Some(Delivery::Late(5)));
        assert_eq!(Delivery::parse("twice"), Some(Delivery::Twice));
        assert_eq!(Delivery::parse("sometimes"), None);
    }
}
