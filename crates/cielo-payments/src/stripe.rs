//! Stripe, over its HTTP API (form-encoded requests, JSON answers), with no SDK.
//!
//! Checkout Sessions carry our order id as `client_reference_id` and in the
//! metadata of the session and of its PaymentIntent (refund and dispute
//! events only name the PaymentIntent). Every POST sends an
//! `Idempotency-Key` derived from the order, so a retried checkout or refund
//! does the thing once.
//!
//! Saved cards: a signed-in buyer's session names the account's Customer
//! (`customer=cus_…` instead of `customer_email`) and enables
//! `saved_payment_method_options[payment_method_save]`, so Checkout shows a
//! "save for later" checkbox and offers the cards saved before. The account
//! page lists a Customer's card PaymentMethods and detaches them.

use crate::{
    CheckoutRequest, NewCustomer, PaymentError, PaymentProvider, PaymentSession, Refund,
    RefundRequest, SavedCard,
};
use cielo_core::{Currency, Money, Timestamp};
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

/// Currencies Stripe counts in whole units, as ISO 4217 does (Stripe's
/// "zero-decimal currencies", less UGX which is a special case below) — and
/// MGA, which ISO 4217 gives two decimals but Stripe none.
const STRIPE_ZERO_DECIMAL: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "VND", "VUV", "XAF",
    "XOF", "XPF",
];
/// Stripe's special cases: zero-decimal in ISO 4217, but Stripe's API still
/// reads their amounts as two-decimal values whose decimals are always 00
/// (5 ISK is sent as 500). Sending the ISO amount would charge 1/100. Being
/// neither zero- nor three-decimal for Stripe, they take the default (two).
#[cfg(test)]
const STRIPE_TWO_DECIMAL_WHOLE_UNITS: &[&str] = &["ISK", "UGX"];
/// Stripe's three-decimal currencies: amounts in thousandths whose last digit
/// must be 0 (5.124 KWD cannot be charged; 5.120 can).
const STRIPE_THREE_DECIMAL: &[&str] = &["BHD", "JOD", "KWD", "OMR", "TND"];

/// The number of decimals Stripe's API reads in an amount of `currency`
/// (two unless listed otherwise: HUF and TWD are charged with two decimals;
/// their whole-unit rule applies to payouts only).
fn stripe_decimals(currency: Currency) -> u32 {
    let code = currency.code();
    if STRIPE_ZERO_DECIMAL.contains(&code) {
        0
    } else if STRIPE_THREE_DECIMAL.contains(&code) {
        3
    } else {
        2
    }
}

/// The one conversion of an amount into what Stripe's API expects for its
/// currency: ISO 4217 minor units (as [`Money`] keeps them) scaled to Stripe's
/// decimals. `Err` when Stripe cannot take the amount as it stands: fractions
/// of a unit Stripe charges whole (0.50 MGA, any fraction of ISK or UGX cannot
/// occur as ISO has none), a three-decimal amount not ending in 0, or an
/// amount too large.
pub fn stripe_amount(money: Money) -> Result<i64, PaymentError> {
    let iso = money.currency.exponent();
    let stripe = stripe_decimals(money.currency);
    let refused = |why: String| {
        PaymentError::AmountNotAccepted(format!(
            "the payment provider cannot charge {money}: {why}"
        ))
    };
    let amount = if stripe >= iso {
        money
            .amount
            .checked_mul(10i64.pow(stripe - iso))
            .ok_or_else(|| refused("it is too large".into()))?
    } else {
        let step = 10i64.pow(iso - stripe);
        if money.amount % step != 0 {
            return Err(refused(format!(
                "{} is charged in units of {}",
                money.currency,
                Money::new(step, money.currency)
            )));
        }
        money.amount / step
    };
    if STRIPE_THREE_DECIMAL.contains(&money.currency.code()) && amount % 10 != 0 {
        return Err(refused(format!(
            "{} amounts must be whole hundredths (the last of three decimals 0)",
            money.currency
        )));
    }
    Ok(amount)
}

/// The inverse of [`stripe_amount`]: an amount Stripe reports (a session's
/// `amount_total`, a refund) in ISO 4217 minor units; `None` when it is not a
/// whole number of them.
pub fn amount_from_stripe(amount: i64, currency: Currency) -> Option<i64> {
    let iso = currency.exponent();
    let stripe = stripe_decimals(currency);
    if stripe >= iso {
        let step = 10i64.pow(stripe - iso);
        (amount % step == 0).then_some(amount / step)
    } else {
        amount.checked_mul(10i64.pow(iso - stripe))
    }
}

/// The form of a Checkout Session for an order (exposed for tests). Every
/// amount goes through [`stripe_amount`]; one Stripe cannot take refuses the
/// whole form.
pub fn checkout_form(
    request: &CheckoutRequest,
    expires_at: i64,
) -> Result<Vec<(String, String)>, PaymentError> {
    let currency = request.total.currency.code().to_ascii_lowercase();
    let mut form: Vec<(String, String)> = vec![
        ("mode".into(), "payment".into()),
        ("currency".into(), currency.clone()),
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
    match &request.customer {
        // A signed-in buyer: Checkout offers to save the card to the
        // Customer, and shows the cards saved before.
        Some(customer) => {
            form.push(("customer".into(), customer.clone()));
            form.push((
                "saved_payment_method_options[payment_method_save]".into(),
                "enabled".into(),
            ));
        }
        None => form.push(("customer_email".into(), request.email.clone())),
    }
    let mut lines: Vec<(String, i64, i64)> = request
        .lines
        .iter()
        .map(|l| Ok((l.name.clone(), stripe_amount(l.unit_price)?, l.quantity)))
        .collect::<Result<_, PaymentError>>()?;
    // Shipping and tax as lines of their own, so the session's total is the order's total.
    if request.shipping.amount > 0 {
        lines.push(("Shipping".into(), stripe_amount(request.shipping)?, 1));
    }
    if request.tax.amount > 0 {
        lines.push(("Tax".into(), stripe_amount(request.tax)?, 1));
    }
    stripe_amount(request.total)?;
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
    Ok(form)
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
        self.send_optional(rb, false)
            .await
            .map(|v| v.unwrap_or(Value::Null))
    }

    /// Sends; with `missing_is_none`, a 404 answers `Ok(None)` (an object
    /// that does not exist) instead of an error.
    async fn send_optional(
        &self,
        rb: reqwest::RequestBuilder,
        missing_is_none: bool,
    ) -> Result<Option<Value>, PaymentError> {
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
                .map(Some)
                .map_err(|e| PaymentError::Retryable(format!("stripe answered non-JSON: {e}")));
        }
        if missing_is_none && status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
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

/// A card PaymentMethod as the shop shows it; `None` for other types or a
/// shape without the card's details.
pub fn saved_card(pm: &Value) -> Option<SavedCard> {
    let card = &pm["card"];
    let number = |v: &Value| v.as_u64().and_then(|n| u32::try_from(n).ok());
    Some(SavedCard {
        id: pm["id"].as_str()?.to_string(),
        brand: card["brand"].as_str().unwrap_or("unknown").to_string(),
        last4: card["last4"].as_str()?.to_string(),
        exp_month: number(&card["exp_month"])?,
        exp_year: number(&card["exp_year"])?,
        created: pm["created"].as_i64().unwrap_or_default(),
    })
    .filter(|_| pm["type"].as_str().unwrap_or("card") == "card")
}

/// The Customer a PaymentMethod is attached to: an id, or an expanded object.
fn attached_customer(pm: &Value) -> Option<&str> {
    pm["customer"]
        .as_str()
        .or_else(|| pm["customer"]["id"].as_str())
}

#[async_trait::async_trait]
impl PaymentProvider for StripeProvider {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn provider_amount(&self, money: Money) -> Result<i64, PaymentError> {
        stripe_amount(money)
    }

    fn amount_from_provider(&self, amount: i64, currency: Currency) -> Option<i64> {
        amount_from_stripe(amount, currency)
    }

    async fn create_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<PaymentSession, PaymentError> {
        let ttl = self.config.session_ttl_secs.clamp(31 * 60, 24 * 3600);
        let expires_at = Timestamp::now().as_unix_seconds() + ttl;
        let form = checkout_form(request, expires_at)?;
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

    async fn create_customer(&self, customer: &NewCustomer) -> Result<String, PaymentError> {
        let form = [
            ("email".to_string(), customer.email.clone()),
            (
                "metadata[account_id]".to_string(),
                customer.account_id.clone(),
            ),
        ];
        let created = self
            .post("/v1/customers", &form, &customer.idempotency_key)
            .await?;
        created["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| PaymentError::Retryable("stripe: customer without id".into()))
    }

    async fn list_cards(&self, customer: &str) -> Result<Vec<SavedCard>, PaymentError> {
        let mut cards = Vec::new();
        let mut starting_after: Option<String> = None;
        for _ in 0..100 {
            let mut q = vec![
                ("customer", customer.to_string()),
                ("type", "card".to_string()),
                ("limit", "100".to_string()),
            ];
            if let Some(s) = &starting_after {
                q.push(("starting_after", s.clone()));
            }
            let page = self.get("/v1/payment_methods", &q).await?;
            let data = page["data"].as_array().cloned().unwrap_or_default();
            let last = data
                .last()
                .and_then(|pm| pm["id"].as_str())
                .map(str::to_string);
            let new: Vec<SavedCard> = data
                .iter()
                .filter(|pm| attached_customer(pm) == Some(customer))
                .filter_map(saved_card)
                .filter(|c| !cards.iter().any(|k: &SavedCard| k.id == c.id))
                .collect();
            // A page of nothing new (a fake restarting its list) ends it too.
            let done = new.is_empty();
            cards.extend(new);
            if !page["has_more"].as_bool().unwrap_or(false) || last.is_none() || done {
                break;
            }
            starting_after = last;
        }
        cards.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        Ok(cards)
    }

    async fn detach_card(&self, customer: &str, card_id: &str) -> Result<bool, PaymentError> {
        // Only this customer's card: a PaymentMethod id from another account
        // (or none at all) is not found, and nothing is sent.
        let pm = self
            .send_optional(
                self.client
                    .get(self.url(&format!("/v1/payment_methods/{card_id}"))),
                true,
            )
            .await?;
        match pm {
            Some(pm) if attached_customer(&pm) == Some(customer) => {}
            _ => return Ok(false),
        }
        self.post(
            &format!("/v1/payment_methods/{card_id}/detach"),
            &[],
            &format!("detach-{card_id}"),
        )
        .await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PaymentLine;

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
            account_id: None,
            customer: None,
        };
        let form = checkout_form(&request, 1_800_000_000).unwrap();
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
        // A guest: the email prefills Checkout; nothing can be saved.
        assert_eq!(get("customer_email"), Some("a@example.com"));
        assert_eq!(get("customer"), None);
        assert_eq!(
            get("saved_payment_method_options[payment_method_save]"),
            None
        );
    }

    #[test]
    fn a_signed_in_buyers_session_names_the_customer_and_offers_to_save_the_card() {
        let eur = Currency::parse("EUR").unwrap();
        let request = CheckoutRequest {
            order_id: "ord_2".into(),
            email: "a@example.com".into(),
            lines: vec![PaymentLine {
                name: "Poster".into(),
                unit_price: Money::new(1000, eur),
                quantity: 1,
            }],
            shipping: Money::zero(eur),
            tax: Money::zero(eur),
            total: Money::new(1000, eur),
            success_url: "https://shop/ok".into(),
            cancel_url: "https://shop/no".into(),
            account_id: Some("acct_1".into()),
            customer: Some("cus_Q1w2e3".into()),
        };
        let form = checkout_form(&request, 1_800_000_000).unwrap();
        let all = |k: &str| -> Vec<&str> {
            form.iter()
                .filter(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        assert_eq!(all("customer"), ["cus_Q1w2e3"]);
        assert_eq!(
            all("saved_payment_method_options[payment_method_save]"),
            ["enabled"]
        );
        // Stripe refuses `customer` and `customer_email` together.
        assert!(all("customer_email").is_empty());
        assert_eq!(all("client_reference_id"), ["ord_2"]);
    }

    #[test]
    fn card_payment_methods_read_as_saved_cards() {
        let pm = json!({"id": "pm_1", "object": "payment_method", "type": "card", "created": 1_700_000_000,
            "customer": "cus_1", "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034,
            "fingerprint": "x"}});
        assert_eq!(
            saved_card(&pm),
            Some(SavedCard {
                id: "pm_1".into(),
                brand: "visa".into(),
                last4: "4242".into(),
                exp_month: 12,
                exp_year: 2034,
                created: 1_700_000_000
            })
        );
        assert_eq!(attached_customer(&pm), Some("cus_1"));
        let expanded = json!({"customer": {"id": "cus_2", "object": "customer"}});
        assert_eq!(attached_customer(&expanded), Some("cus_2"));
        assert_eq!(
            saved_card(&json!({"id": "pm_2", "type": "sepa_debit"})),
            None
        );
    }

    fn m(amount: i64, code: &str) -> Money {
        Money::new(amount, Currency::parse(code).unwrap())
    }

    #[test]
    fn two_decimal_currencies_are_sent_as_they_are() {
        for code in ["USD", "EUR", "GBP", "HUF", "TWD", "NGN"] {
            assert_eq!(stripe_amount(m(1999, code)).unwrap(), 1999, "{code}");
            assert_eq!(
                amount_from_stripe(1999, Currency::parse(code).unwrap()),
                Some(1999)
            );
        }
    }

    #[test]
    fn zero_decimal_currencies_are_sent_in_whole_units() {
        for code in ["JPY", "KRW", "CLP", "VND", "XOF", "BIF"] {
            assert_eq!(stripe_amount(m(500, code)).unwrap(), 500, "{code}");
        }
    }

    #[test]
    fn isk_and_ugx_are_sent_as_two_decimal_amounts_ending_in_00() {
        for code in STRIPE_TWO_DECIMAL_WHOLE_UNITS {
            assert_eq!(Currency::parse(code).unwrap().exponent(), 0, "{code}");
            assert_eq!(stripe_amount(m(7, code)).unwrap(), 700, "{code}");
        }
        // 50,000 UGX: Stripe reads 50000 as 500.00 UGX.
        assert_eq!(stripe_amount(m(50_000, "UGX")).unwrap(), 5_000_000);
        assert_eq!(stripe_amount(m(5, "ISK")).unwrap(), 500);
        let ugx = Currency::parse("UGX").unwrap();
        assert_eq!(amount_from_stripe(5_000_000, ugx), Some(50_000));
        assert_eq!(
            amount_from_stripe(50_000, ugx),
            Some(500),
            "an undercharge stays an undercharge"
        );
        assert_eq!(amount_from_stripe(5_000_001, ugx), None);
    }

    #[test]
    fn three_decimal_currencies_must_end_in_zero() {
        assert_eq!(stripe_amount(m(5120, "KWD")).unwrap(), 5120);
        for code in ["BHD", "JOD", "KWD", "OMR", "TND"] {
            let err = stripe_amount(m(5124, code)).unwrap_err();
            assert!(matches!(err, PaymentError::AmountNotAccepted(_)), "{code}");
            assert!(err.to_string().contains("5.124"), "{err}");
        }
    }

    #[test]
    fn mga_is_charged_in_whole_ariary() {
        // ISO 4217 gives MGA two decimals; Stripe takes none.
        assert_eq!(stripe_amount(m(150_000, "MGA")).unwrap(), 1_500);
        assert!(matches!(
            stripe_amount(m(150_050, "MGA")),
            Err(PaymentError::AmountNotAccepted(_))
        ));
        assert_eq!(
            amount_from_stripe(1_500, Currency::parse("MGA").unwrap()),
            Some(150_000)
        );
    }

    #[test]
    fn too_large_amounts_are_refused_not_wrapped() {
        assert!(matches!(
            stripe_amount(m(i64::MAX / 10, "UGX")),
            Err(PaymentError::AmountNotAccepted(_))
        ));
    }

    #[test]
    fn a_ugx_session_form_carries_stripe_units_and_a_bad_kwd_line_refuses_the_form() {
        let ugx = Currency::parse("UGX").unwrap();
        let mut request = CheckoutRequest {
            order_id: "ord_1".into(),
            email: "a@example.com".into(),
            lines: vec![PaymentLine {
                name: "Poster".into(),
                unit_price: Money::new(50_000, ugx),
                quantity: 1,
            }],
            shipping: Money::zero(ugx),
            tax: Money::zero(ugx),
            total: Money::new(50_000, ugx),
            success_url: "https://shop/ok".into(),
            cancel_url: "https://shop/no".into(),
            account_id: None,
            customer: None,
        };
        let form = checkout_form(&request, 1_800_000_000).unwrap();
        assert!(form.contains(&(
            "line_items[0][price_data][unit_amount]".to_string(),
            "5000000".to_string()
        )));
        let kwd = Currency::parse("KWD").unwrap();
        request.lines[0].unit_price = Money::new(5124, kwd);
        request.shipping = Money::zero(kwd);
        request.tax = Money::zero(kwd);
        request.total = Money::new(5124, kwd);
        assert!(matches!(
            checkout_form(&request, 1_800_000_000),
            Err(PaymentError::AmountNotAccepted(_))
        ));
    }
}
