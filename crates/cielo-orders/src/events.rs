//! The orders domain's outbox events, typed: producers and consumers share
//! these structs instead of building and parsing JSON by hand.
//!
//! Every status change publishes [`OrderStatusChanged`] on the topic of the
//! status entered (`order.paid`, `order.shipped`, …; see [`status_topic`]),
//! in the transaction that made the change. Every shipment newly recorded on
//! an order (from a lab, or marked by hand) publishes [`ShipmentRecorded`] on
//! [`TOPIC_SHIPMENT_RECORDED`]; a duplicate of a known shipment publishes
//! nothing.
//!
//! Delivery is at least once: a subscriber keys its effect by the event id
//! (`JobContext::event_id`) or makes it idempotent.

use crate::model::{OrderId, Shipment};
use crate::status::OrderStatus;
use serde::{Deserialize, Serialize};

/// Topic of [`ShipmentRecorded`].
pub const TOPIC_SHIPMENT_RECORDED: &str = "order.shipment_recorded";

/// Outbox topic of an order entering `status`: `order.paid`, `order.shipped`…
pub fn status_topic(status: OrderStatus) -> String {
    format!("order.{}", status.as_str())
}

/// A print lab refused an order: carried by the `needs_attention`
/// transition it caused, so subscribers (the buyer's "your order needs a
/// change" email) know it from the event's data, not from its cause text.
///
/// Wire shape: `{"lab": "printful", "lab_order_id": "lbo_…", "reason": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabRefusal {
    /// The lab (`printful`, `prodigi`, `local`).
    pub lab: String,
    /// Our lab order the lab refused.
    pub lab_order_id: String,
    /// The lab's own reason (an address it cannot deliver to, a bad file…).
    pub reason: String,
}

/// An order moved from one status to another (or was created, `from = null`).
///
/// Wire shape: `{"order_id": "ord_…", "from": "paid" | null, "to": "in_production", "cause": "…"}`,
/// plus `"refusal": {…}` ([`LabRefusal`]) when a lab's refusal put the
/// order in `needs_attention`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderStatusChanged {
    /// The order.
    pub order_id: OrderId,
    /// Its status before; `None` when the order was just created.
    pub from: Option<OrderStatus>,
    /// Its status now.
    pub to: OrderStatus,
    /// Why: `checkout`, a provider event id, a job id, `admin:<id>`…
    pub cause: String,
    /// On `needs_attention`: the lab refusal that caused it, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<LabRefusal>,
}

impl OrderStatusChanged {
    /// The topic this event is published on: [`status_topic`] of `to`.
    pub fn topic(&self) -> String {
        status_topic(self.to)
    }
}

/// A shipment was added to an order (a lab's package, or one marked shipped
/// by hand). Several may come per order (split parcels, reshipments).
///
/// Wire shape: `{"order_id": "ord_…", "shipment": {Shipment}, "cause": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentRecorded {
    /// The order.
    pub order_id: OrderId,
    /// The shipment as recorded.
    pub shipment: Shipment,
    /// Why: a lab event, `admin:<id>`…
    pub cause: String,
}

impl ShipmentRecorded {
    /// [`TOPIC_SHIPMENT_RECORDED`].
    pub fn topic(&self) -> &'static str {
        TOPIC_SHIPMENT_RECORDED
    }
}

/// Writes `event` in the caller's transaction.
pub(crate) async fn publish<T: Serialize>(
    conn: &mut cielo_db::sqlx::AnyConnection,
    topic: &str,
    event: &T,
) -> crate::Result<()> {
    let payload = serde_json::to_value(event).map_err(anyhow::Error::from)?;
    cielo_jobs::publish(conn, topic, payload)
        .await
        .map_err(|e| {
            crate::Error::Internal(anyhow::Error::new(e).context("publishing an order event"))
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_changes_keep_their_wire_shape() {
        let id = OrderId::new();
        let e = OrderStatusChanged {
            order_id: id,
            from: Some(OrderStatus::Paid),
            to: OrderStatus::Shipped,
            cause: "lab".into(),
            refusal: None,
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"order_id": id.to_string(), "from": "paid", "to": "shipped", "cause": "lab"})
        );
        assert_eq!(e.topic(), "order.shipped");
        let back: OrderStatusChanged = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
    }
}
