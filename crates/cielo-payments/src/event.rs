//! Provider events in our words, and what each one does to an order.
//!
//! Events arrive duplicated and out of order, so [`decide`] looks only at the
//! event and the order's current state, and never moves an order backwards: a
//! late `expired` after a payment does nothing, a partial refund after a full
//! one does nothing.

use serde_json::Value;

/// The event types Cielo acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// `checkout.session.completed`: the buyer finished; paid or not yet.
    SessionCompleted,
    /// `checkout.session.async_payment_succeeded`.
    AsyncPaymentSucceeded,
    /// `checkout.session.async_payment_failed`.
    AsyncPaymentFailed,
    /// `checkout.session.expired`.
    SessionExpired,
    /// `payment_intent.payment_failed`: an attempt failed; the buyer may retry.
    PaymentFailed,
    /// `charge.refunded`: fully or partly refunded.
    ChargeRefunded,
    /// `charge.dispute.created`: a chargeback.
    DisputeCreated,
    /// Anything else: stored, not acted on.
    Other(String),
}

impl EventKind {
    /// From the provider's event type.
    pub fn parse(t: &str) -> Self {
        match t {
            "checkout.session.completed" => Self::SessionCompleted,
            "checkout.session.async_payment_succeeded" => Self::AsyncPaymentSucceeded,
            "checkout.session.async_payment_failed" => Self::AsyncPaymentFailed,
            "checkout.session.expired" => Self::SessionExpired,
            "payment_intent.payment_failed" => Self::PaymentFailed,
            "charge.refunded" => Self::ChargeRefunded,
            "charge.dispute.created" => Self::DisputeCreated,
            other => Self::Other(other.to_string()),
        }
    }
}

/// A provider event (Stripe's shape; the test provider speaks it too).
#[derive(Debug, Clone)]
pub struct PaymentEvent {
    /// The provider's event id (`evt_…`).
    pub id: String,
    /// What happened.
    pub kind: EventKind,
    /// When, unix seconds.
    pub created: i64,
    /// Our order id, from `client_reference_id` or `metadata.order_id`.
    pub order_id: Option<String>,
    /// Checkout Session id.
    pub session_id: Option<String>,
    /// PaymentIntent id.
    pub payment_intent: Option<String>,
    /// Amount in minor units (`amount_total` of a session, `amount` of a charge or dispute).
    pub amount: Option<i64>,
    /// Lowercase ISO currency.
    pub currency: Option<String>,
    /// The session says the money is there (`payment_status == "paid"`).
    pub paid: bool,
    /// `amount_refunded` of a charge.
    pub amount_refunded: Option<i64>,
}

fn id_or_object(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("id").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

/// Why an event could not be read.
#[derive(Debug, thiserror::Error)]
#[error("malformed event: {0}")]
pub struct MalformedEvent(pub String);

impl PaymentEvent {
    /// Reads an event from its JSON.
    pub fn from_json(raw: &str) -> Result<Self, MalformedEvent> {
        let v: Value = serde_json::from_str(raw).map_err(|e| MalformedEvent(e.to_string()))?;
        Self::from_value(&v)
    }

    /// Reads an event from parsed JSON.
    pub fn from_value(v: &Value) -> Result<Self, MalformedEvent> {
        let id = v["id"]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| MalformedEvent("no id".into()))?;
        let kind = EventKind::parse(
            v["type"]
                .as_str()
                .ok_or_else(|| MalformedEvent("no type".into()))?,
        );
        let o = &v["data"]["object"];
        let object_type = o["object"].as_str().unwrap_or("");
        let metadata_order = o["metadata"]["order_id"].as_str().map(str::to_string);
        let order_id = o["client_reference_id"]
            .as_str()
            .map(str::to_string)
            .or(metadata_order);
        let (session_id, payment_intent) = match object_type {
            "checkout.session" => (
                o["id"].as_str().map(str::to_string),
                id_or_object(&o["payment_intent"]),
            ),
            "payment_intent" => (None, o["id"].as_str().map(str::to_string)),
            _ => (None, id_or_object(&o["payment_intent"])),
        };
        let amount = match object_type {
            "checkout.session" => o["amount_total"].as_i64(),
            _ => o["amount"].as_i64(),
        };
        Ok(Self {
            id: id.to_string(),
            kind,
            created: v["created"].as_i64().unwrap_or(0),
            order_id,
            session_id,
            payment_intent,
            amount,
            currency: o["currency"].as_str().map(str::to_ascii_lowercase),
            paid: o["payment_status"].as_str() == Some("paid"),
            amount_refunded: o["amount_refunded"].as_i64(),
        })
    }
}

/// Where an order stands, as far as payments care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderState {
    /// Waiting for payment.
    PendingPayment,
    /// Paid, and possibly in production, shipped or delivered.
    Paid,
    /// Partly refunded.
    PartiallyRefunded,
    /// Fully refunded.
    Refunded,
    /// Cancelled before payment.
    Cancelled,
    /// A person must look.
    NeedsAttention,
}

/// The order facts a decision needs.
#[derive(Debug, Clone)]
pub struct OrderFacts {
    /// Where it stands.
    pub state: OrderState,
    /// Its total, minor units.
    pub total: i64,
    /// Its currency (any case).
    pub currency: String,
    /// The provider's session for it, if one was opened.
    pub session_id: Option<String>,
}

/// What to do to the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Mark it paid.
    MarkPaid,
    /// Cancel it (never paid).
    Cancel,
    /// Fully refunded.
    Refunded,
    /// Partly refunded.
    PartiallyRefunded,
    /// Something does not add up: `needs_attention` and an alert.
    Attention(String),
    /// Nothing to change, and why.
    Nothing(String),
}

/// What `event` does to an order in `order`'s state.
pub fn decide(event: &PaymentEvent, order: &OrderFacts) -> Action {
    use OrderState as S;
    let nothing = |why: &str| Action::Nothing(why.to_string());
    match &event.kind {
        EventKind::SessionCompleted | EventKind::AsyncPaymentSucceeded => {
            if !event.paid {
                return if event.kind == EventKind::SessionCompleted {
                    nothing("session completed, payment not yet received (delayed method)")
                } else {
                    Action::Attention(
                        "async payment reported as succeeded but the session is not paid".into(),
                    )
                };
            }
            let amount_ok = event.amount == Some(order.total);
            let currency_ok = event
                .currency
                .as_deref()
                .is_some_and(|c| c.eq_ignore_ascii_case(&order.currency));
            match order.state {
                S::PendingPayment | S::Cancelled if !(amount_ok && currency_ok) => {
                    Action::Attention(format!(
                        "paid {} {} but the order is {} {}",
                        event
                            .amount
                            .map(|a| a.to_string())
                            .unwrap_or_else(|| "?".into()),
                        event.currency.as_deref().unwrap_or("?"),
                        order.total,
                        order.currency.to_ascii_lowercase()
                    ))
                }
                S::PendingPayment => Action::MarkPaid,
                S::Cancelled => {
                    Action::Attention("payment received for an order already cancelled".into())
                }
                _ => nothing("already paid"),
            }
        }
        EventKind::AsyncPaymentFailed | EventKind::SessionExpired => match order.state {
            S::PendingPayment => Action::Cancel,
            _ => nothing("not waiting for payment; a late failure or expiry never un-pays"),
        },
        EventKind::PaymentFailed => nothing("a payment attempt failed; the buyer may try again"),
        EventKind::ChargeRefunded => {
            let full = match (event.amount_refunded, event.amount) {
                (Some(r), Some(a)) => r >= a,
                _ => true,
            };
            match (order.state, full) {
                (S::Paid | S::PartiallyRefunded | S::NeedsAttention, true) => Action::Refunded,
                (S::Paid | S::PartiallyRefunded | S::NeedsAttention, false) => {
                    Action::PartiallyRefunded
                }
                (S::Refunded, _) => nothing("already refunded"),
                _ => Action::Attention("a refund for an order that was never paid".into()),
            }
        }
        EventKind::DisputeCreated => Action::Attention(format!(
            "the buyer disputed the payment ({} {})",
            event
                .amount
                .map(|a| a.to_string())
                .unwrap_or_else(|| "?".into()),
            event.currency.as_deref().unwrap_or("?")
        )),
        EventKind::Other(t) => nothing(&format!("{t} is not acted on")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(kind: &str, amount: i64, currency: &str, paid: bool) -> PaymentEvent {
        let raw = serde_json::json!({
            "id": "evt_1", "type": kind, "created": 1,
            "data": {"object": {"object": "checkout.session", "id": "cs_1", "amount_total": amount, "currency": currency,
                "client_reference_id": "ord_1", "payment_intent": "pi_1", "payment_status": if paid { "paid" } else { "unpaid" }}}
        });
        PaymentEvent::from_value(&raw).unwrap()
    }

    fn order(state: OrderState) -> OrderFacts {
        OrderFacts {
            state,
            total: 1599,
            currency: "EUR".into(),
            session_id: None,
        }
    }

    #[test]
    fn a_paid_session_for_the_right_amount_pays_a_waiting_order_once() {
        let e = session("checkout.session.completed", 1599, "eur", true);
        assert_eq!(e.order_id.as_deref(), Some("ord_1"));
        assert_eq!(e.payment_intent.as_deref(), Some("pi_1"));
        assert_eq!(
            decide(&e, &order(OrderState::PendingPayment)),
            Action::MarkPaid
        );
        assert!(matches!(
            decide(&e, &order(OrderState::Paid)),
            Action::Nothing(_)
        ));
    }

    #[test]
    fn the_wrong_amount_or_currency_or_an_unpaid_session_never_pays() {
        for e in [
            session("checkout.session.completed", 1598, "eur", true),
            session("checkout.session.completed", 1599, "usd", true),
        ] {
            assert!(
                matches!(
                    decide(&e, &order(OrderState::PendingPayment)),
                    Action::Attention(_)
                ),
                "{e:?}"
            );
        }
        assert!(matches!(
            decide(
                &session("checkout.session.completed", 1599, "eur", false),
                &order(OrderState::PendingPayment)
            ),
            Action::Nothing(_)
        ));
        assert_eq!(
            decide(
                &session(
                    "checkout.session.async_payment_succeeded",
                    1599,
                    "eur",
                    true
                ),
                &order(OrderState::PendingPayment)
            ),
            Action::MarkPaid
        );
    }

    #[test]
    fn a_late_expiry_never_unpays() {
        let e = session("checkout.session.expired", 1599, "eur", false);
        assert_eq!(
            decide(&e, &order(OrderState::PendingPayment)),
            Action::Cancel
        );
        for s in [
            OrderState::Paid,
            OrderState::Refunded,
            OrderState::Cancelled,
            OrderState::NeedsAttention,
        ] {
            assert!(matches!(decide(&e, &order(s)), Action::Nothing(_)), "{s:?}");
        }
    }

    #[test]
    fn payment_after_cancellation_needs_a_person() {
        let e = session("checkout.session.completed", 1599, "eur", true);
        assert!(matches!(
            decide(&e, &order(OrderState::Cancelled)),
            Action::Attention(_)
        ));
    }

    #[test]
    fn refunds_are_full_or_partial_and_never_go_back() {
        let charge = |refunded: i64| {
            PaymentEvent::from_value(&serde_json::json!({"id": "evt_r", "type": "charge.refunded", "created": 2,
                "data": {"object": {"object": "charge", "id": "ch_1", "amount": 1599, "amount_refunded": refunded, "currency": "eur", "payment_intent": "pi_1"}}}))
            .unwrap()
        };
        assert_eq!(
            decide(&charge(500), &order(OrderState::Paid)),
            Action::PartiallyRefunded
        );
        assert_eq!(
            decide(&charge(1599), &order(OrderState::PartiallyRefunded)),
            Action::Refunded
        );
        assert!(matches!(
            decide(&charge(500), &order(OrderState::Refunded)),
            Action::Nothing(_)
        ));
        assert_eq!(charge(500).payment_intent.as_deref(), Some("pi_1"));
    }
}
