//! The built-in `test` provider: a payment page served by Cielo itself, so
//! the whole path runs on a laptop with no account anywhere.
//!
//! It behaves like Stripe where it matters: the page's buttons create
//! Stripe-shaped events, kept in the provider's own event log (which the
//! catch-up lists), and delivers them to `/webhooks/test` signed with
//! Stripe's scheme, through the same inbox and jobs. Delivery can be made
//! late, doubled or dropped, to show that no order is lost either way.
//!
//! It keeps customers and saved cards as Stripe does: a session opened for a
//! customer (a signed-in buyer) lets the page save the card entered, and
//! shows the cards saved before as a choice.

use crate::{
    CheckoutRequest, NewCustomer, PaymentError, PaymentProvider, PaymentSession, Refund,
    RefundRequest, SavedCard,
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

/// A card typed on the test payment page: only what a provider keeps of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCard {
    /// `visa`, `mastercard`, `amex`, `discover` or `unknown`, from the number.
    pub brand: String,
    /// The number's last four digits.
    pub last4: String,
    /// Expiry month, 1–12.
    pub exp_month: u32,
    /// Expiry year, four digits.
    pub exp_year: u32,
}

/// Whether `digits` (ASCII digits only) pass the Luhn check.
fn luhn_valid(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let d2 = d * 2;
                if d2 > 9 {
                    d2 - 9
                } else {
                    d2
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Stripe's documented test cards that are declined, by number (digits
/// only), with their `decline_code`.
const DECLINE_CARDS: &[(&str, &str)] = &[
    ("4000000000000002", "generic_decline"),
    ("4000000000009995", "insufficient_funds"),
    ("4000000000009987", "lost_card"),
    ("4000000000009979", "stolen_card"),
    ("4000000000000069", "expired_card"),
];

/// The `decline_code` when `number` (spaces and dashes allowed) is one of
/// Stripe's test cards that are declined, as the page's Decline button.
pub fn decline_code(number: &str) -> Option<&'static str> {
    let digits: String = number.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    DECLINE_CARDS
        .iter()
        .find(|(n, _)| *n == digits)
        .map(|(_, code)| *code)
}

impl TestCard {
    /// The test card the page suggests.
    pub const DEFAULT_NUMBER: &'static str = "4242 4242 4242 4242";
    /// The expiry the page suggests.
    pub const DEFAULT_EXPIRY: &'static str = "12/34";

    /// Reads a number (spaces and dashes allowed, 12–19 digits passing the
    /// Luhn check, as Stripe's test mode wants) and an expiry `MM/YY` or
    /// `MM/YYYY` not before this month (UTC); blank fields take the
    /// suggested values. `Err` says what is wrong, for the buyer (a message
    /// about the expiry names it).
    pub fn parse(number: &str, expiry: &str) -> Result<Self, String> {
        Self::parse_at(number, expiry, Timestamp::now().utc_year_month())
    }

    /// [`TestCard::parse`] on the month `today` (year, month 1–12).
    pub fn parse_at(number: &str, expiry: &str, today: (i32, u32)) -> Result<Self, String> {
        let number = Some(number.trim())
            .filter(|n| !n.is_empty())
            .unwrap_or(Self::DEFAULT_NUMBER);
        let digits: String = number.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if !(12..=19).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err("the card number must have 12 to 19 digits".into());
        }
        if !luhn_valid(&digits) {
            return Err("the card number is not valid (its check digit is wrong)".into());
        }
        let expiry = Some(expiry.trim())
            .filter(|e| !e.is_empty())
            .unwrap_or(Self::DEFAULT_EXPIRY);
        let bad_expiry = || "the expiry must read MM/YY".to_string();
        let (m, y) = expiry.split_once('/').ok_or_else(bad_expiry)?;
        let exp_month: u32 = m.trim().parse().map_err(|_| bad_expiry())?;
        let year: u32 = y.trim().parse().map_err(|_| bad_expiry())?;
        let exp_year = match y.trim().len() {
            2 => 2000 + year,
            4 => year,
            _ => return Err(bad_expiry()),
        };
        if !(1..=12).contains(&exp_month) {
            return Err(bad_expiry());
        }
        if (exp_year as i32, exp_month) < today {
            return Err("the card has expired: the expiry is in the past".into());
        }
        let brand = match digits.as_bytes() {
            [b'4', ..] => "visa",
            [b'3', b'4' | b'7', ..] => "amex",
            [b'5', b'1'..=b'5', ..] | [b'2', b'2'..=b'7', ..] => "mastercard",
            [b'6', b'0', b'1', b'1', ..] | [b'6', b'5', ..] => "discover",
            _ => "unknown",
        };
        Ok(Self {
            brand: brand.into(),
            last4: digits[digits.len() - 4..].to_string(),
            exp_month,
            exp_year,
        })
    }
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

    /// The customer a session was opened for; `None` for a guest's session.
    pub async fn session_customer(&self, session_id: &str) -> Result<Option<String>, PaymentError> {
        let row = sqlx::query("select customer_id from payments_test_session where id = $1")
            .bind(session_id)
            .fetch_optional(self.db()?.pool())
            .await
            .map_err(|e| PaymentError::Retryable(e.to_string()))?;
        row.map(|r| r.try_get::<String, _>("customer_id"))
            .transpose()
            .map_err(|e| PaymentError::Retryable(e.to_string()))
    }

    /// Saves the card paid with on a session for its customer, as Checkout
    /// does when the buyer ticks "save": once per session, however often the
    /// button is pressed. The id is derived from the session.
    pub async fn save_card(
        &self,
        session_id: &str,
        customer: &str,
        card: &TestCard,
    ) -> Result<SavedCard, PaymentError> {
        let digest = Sha256::new()
            .chain_update(b"cielo test card\0")
            .chain_update(session_id.as_bytes())
            .finalize();
        let id = format!("pm_test_{}", hex::encode(&digest[..12]));
        let created = Timestamp::now().as_unix_seconds();
        let mut tx = self
            .db()?
            .begin_write()
            .await
            .map_err(|e| PaymentError::Retryable(e.to_string()))?;
        sqlx::query(
            "insert into payments_test_card (id, customer_id, brand, last4, exp_month, exp_year, created) \
             values ($1, $2, $3, $4, $5, $6, $7) on conflict (id) do nothing",
        )
        .bind(&id)
        .bind(customer)
        .bind(&card.brand)
        .bind(&card.last4)
        .bind(i64::from(card.exp_month))
        .bind(i64::from(card.exp_year))
        .bind(created)
        .execute(&mut **tx)
        .await
        .map_err(|e| PaymentError::Retryable(e.to_string()))?;
        tx.commit()
            .await
            .map_err(|e| PaymentError::Retryable(e.to_string()))?;
        Ok(SavedCard {
            id,
            brand: card.brand.clone(),
            last4: card.last4.clone(),
            exp_month: card.exp_month,
            exp_year: card.exp_year,
            created,
        })
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
        if let Some(customer) = &request.customer {
            sqlx::query(
                "insert into payments_test_session (id, customer_id, created) values ($1, $2, $3) \
                 on conflict (id) do nothing",
            )
            .bind(&session_id)
            .bind(customer)
            .bind(Timestamp::now().as_unix_seconds())
            .execute(self.db()?.pool())
            .await
            .map_err(|e| PaymentError::Retryable(e.to_string()))?;
        }
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

    async fn create_customer(&self, customer: &NewCustomer) -> Result<String, PaymentError> {
        let db = self.db()?;
        let retry = |e: sqlx::Error| PaymentError::Retryable(e.to_string());
        let id = format!("tcus_{}", hex::encode(rand::random::<[u8; 12]>()));
        // Like Stripe's idempotency key: the same key, the same customer.
        sqlx::query(
            "insert into payments_test_customer (id, idempotency_key, account_id, email, created) \
             values ($1, $2, $3, $4, $5) on conflict (idempotency_key) do nothing",
        )
        .bind(&id)
        .bind(&customer.idempotency_key)
        .bind(&customer.account_id)
        .bind(&customer.email)
        .bind(Timestamp::now().as_unix_seconds())
        .execute(db.pool())
        .await
        .map_err(retry)?;
        sqlx::query("select id from payments_test_customer where idempotency_key = $1")
            .bind(&customer.idempotency_key)
            .fetch_one(db.pool())
            .await
            .and_then(|r| r.try_get("id"))
            .map_err(retry)
    }

    async fn list_cards(&self, customer: &str) -> Result<Vec<SavedCard>, PaymentError> {
        let retry = |e: sqlx::Error| PaymentError::Retryable(e.to_string());
        let rows = sqlx::query(
            "select id, brand, last4, exp_month, exp_year, created from payments_test_card \
             where customer_id = $1 order by created, id",
        )
        .bind(customer)
        .fetch_all(self.db()?.pool())
        .await
        .map_err(retry)?;
        rows.iter()
            .map(|r| {
                let month: i64 = r.try_get("exp_month")?;
                let year: i64 = r.try_get("exp_year")?;
                Ok(SavedCard {
                    id: r.try_get("id")?,
                    brand: r.try_get("brand")?,
                    last4: r.try_get("last4")?,
                    exp_month: u32::try_from(month).unwrap_or_default(),
                    exp_year: u32::try_from(year).unwrap_or_default(),
                    created: r.try_get("created")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(retry)
    }

    async fn detach_card(&self, customer: &str, card_id: &str) -> Result<bool, PaymentError> {
        let retry = |e: sqlx::Error| PaymentError::Retryable(e.to_string());
        let mut tx = self
            .db()?
            .begin_write()
            .await
            .map_err(|e| PaymentError::Retryable(e.to_string()))?;
        let gone = sqlx::query("delete from payments_test_card where id = $1 and customer_id = $2")
            .bind(card_id)
            .bind(customer)
            .execute(&mut **tx)
            .await
            .map_err(retry)?
            .rows_affected();
        tx.commit()
            .await
            .map_err(|e| PaymentError::Retryable(e.to_string()))?;
        Ok(gone > 0)
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
            account_id: None,
            customer: None,
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
    fn a_typed_card_keeps_its_brand_last_four_and_expiry_only() {
        let visa = TestCard::parse("", "").unwrap();
        assert_eq!(
            (
                visa.brand.as_str(),
                visa.last4.as_str(),
                visa.exp_month,
                visa.exp_year
            ),
            ("visa", "4242", 12, 2034)
        );
        let mc = TestCard::parse("5555-5555-5555-4444", "03/2031").unwrap();
        assert_eq!(
            (mc.brand.as_str(), mc.last4.as_str()),
            ("mastercard", "4444")
        );
        assert_eq!((mc.exp_month, mc.exp_year), (3, 2031));
        assert_eq!(
            TestCard::parse("3782 822463 10005", "1/29").unwrap().brand,
            "amex"
        );
        assert!(TestCard::parse("4242", "12/34").is_err());
        assert!(TestCard::parse("4242 4242 4242 424x", "12/34").is_err());
        assert!(TestCard::parse("", "13/30").is_err());
        assert!(TestCard::parse("", "1230").is_err());
    }

    #[test]
    fn a_card_must_pass_luhn_and_not_be_expired_as_in_stripes_test_mode() {
        let today = (2026, 11);
        let err = TestCard::parse_at("4242 4242 4242 4241", "12/34", today).unwrap_err();
        assert!(!err.contains("expiry"), "{err}");
        assert!(TestCard::parse_at("4000 0000 0000 0002", "12/34", today).is_ok());
        let err = TestCard::parse_at("", "01/20", today).unwrap_err();
        assert!(err.contains("expiry"), "{err}");
        assert!(TestCard::parse_at("", "10/26", today).is_err());
        assert!(
            TestCard::parse_at("", "11/26", today).is_ok(),
            "valid through its month"
        );
        assert!(TestCard::parse_at("", "01/2027", today).is_ok());
    }

    #[test]
    fn stripes_decline_test_numbers_are_known() {
        assert_eq!(decline_code("4000 0000 0000 0002"), Some("generic_decline"));
        assert_eq!(
            decline_code("4000-0000-0000-9995"),
            Some("insufficient_funds")
        );
        assert_eq!(decline_code("4242 4242 4242 4242"), None);
        for (n, _) in DECLINE_CARDS {
            assert!(luhn_valid(n), "{n}");
        }
    }

    #[test]
    fn delivery_modes_parse() {
        assert_eq!(Delivery::parse("late:5"), Some(Delivery::Late(5)));
        assert_eq!(Delivery::parse("twice"), Some(Delivery::Twice));
        assert_eq!(Delivery::parse("sometimes"), None);
    }
}
