//! The order state machine: every allowed transition, in one table.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Created at checkout; waiting for the payment provider.
    PendingPayment,
    /// The provider confirmed the payment.
    Paid,
    /// Artwork rendered and/or submitted to the print lab.
    InProduction,
    /// Handed to the carrier.
    Shipped,
    /// Arrived.
    Delivered,
    /// Never paid, expired, or cancelled before production.
    Cancelled,
    /// Fully refunded.
    Refunded,
    /// Partly refunded.
    PartiallyRefunded,
    /// A step failed past its retries, or something did not add up: a person must look.
    NeedsAttention,
}

use OrderStatus::*;

/// Every status, in lifecycle order.
pub const ALL_STATUSES: [OrderStatus; 9] = [
    PendingPayment,
    Paid,
    InProduction,
    Shipped,
    Delivered,
    Cancelled,
    Refunded,
    PartiallyRefunded,
    NeedsAttention,
];

/// The allowed transitions `(from, to)`. Anything not listed is refused.
///
/// Notes on the less obvious rows:
/// - `paid -> shipped`: an order of goods the shop ships itself (no print
///   lab, nothing to render) goes out when the shop marks it shipped.
/// - `in_production -> delivered`: an order of digital downloads only is
///   delivered when its files are ready (nothing is shipped). The lifecycle
///   takes parcels through `shipped`.
/// - `cancelled -> needs_attention`: a payment that arrives for an order we had
///   already expired must never be dropped; a person decides (ship or refund).
/// - `needs_attention -> …`: the person who looked resolves it to where the
///   order should be.
/// - refunds can follow payment at any later stage; a partial refund can be
///   followed by more partial refunds or a full one, and production goes on.
pub const TRANSITIONS: &[(OrderStatus, OrderStatus)] = &[
    (PendingPayment, Paid),
    (PendingPayment, Cancelled),
    (PendingPayment, NeedsAttention),
    (Paid, InProduction),
    (Paid, Shipped),
    (Paid, Refunded),
    (Paid, PartiallyRefunded),
    (Paid, NeedsAttention),
    (InProduction, Shipped),
    (InProduction, Delivered),
    (InProduction, Refunded),
    (InProduction, PartiallyRefunded),
    (InProduction, NeedsAttention),
    (Shipped, Delivered),
    (Shipped, Refunded),
    (Shipped, PartiallyRefunded),
    (Shipped, NeedsAttention),
    (Delivered, Refunded),
    (Delivered, PartiallyRefunded),
    (Delivered, NeedsAttention),
    (PartiallyRefunded, PartiallyRefunded),
    (PartiallyRefunded, Refunded),
    (PartiallyRefunded, InProduction),
    (PartiallyRefunded, Shipped),
    (PartiallyRefunded, Delivered),
    (PartiallyRefunded, NeedsAttention),
    (Cancelled, NeedsAttention),
    (NeedsAttention, Paid),
    (NeedsAttention, InProduction),
    (NeedsAttention, Shipped),
    (NeedsAttention, Delivered),
    (NeedsAttention, Cancelled),
    (NeedsAttention, Refunded),
    (NeedsAttention, PartiallyRefunded),
];

impl OrderStatus {
    /// The database and wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            PendingPayment => "pending_payment",
            Paid => "paid",
            InProduction => "in_production",
            Shipped => "shipped",
            Delivered => "delivered",
            Cancelled => "cancelled",
            Refunded => "refunded",
            PartiallyRefunded => "partially_refunded",
            NeedsAttention => "needs_attention",
        }
    }

    /// What a person reads for this status in `lang` (`en`, `es`; any other
    /// reads English). The one wording of a status: every page, list and
    /// email takes it from here, so an order is called the same everywhere.
    pub fn label(&self, lang: &str) -> &'static str {
        let (en, es) = match self {
            PendingPayment => ("Waiting for payment", "Esperando el pago"),
            Paid => ("Paid", "Pagado"),
            InProduction => ("In production", "En producción"),
            Shipped => ("Shipped", "Enviado"),
            Delivered => ("Delivered", "Entregado"),
            Cancelled => ("Cancelled", "Cancelado"),
            Refunded => ("Refunded", "Reembolsado"),
            PartiallyRefunded => ("Partly refunded", "Reembolsado en parte"),
            NeedsAttention => ("Being looked at", "En revisión"),
        };
        if lang == "es" {
            es
        } else {
            en
        }
    }

    /// Parses the database and wire name.
    pub fn parse(s: &str) -> Option<Self> {
        ALL_STATUSES.iter().copied().find(|st| st.as_str() == s)
    }

    /// True when the table allows going from `self` to `to`.
    pub fn can_become(&self, to: OrderStatus) -> bool {
        TRANSITIONS.contains(&(*self, to))
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_a_label_in_each_language() {
        for s in ALL_STATUSES {
            for lang in ["en", "es"] {
                assert!(!s.label(lang).is_empty(), "{s} in {lang}");
            }
        }
        assert_eq!(InProduction.label("es"), "En producción");
        assert_eq!(InProduction.label("de"), "In production");
    }

    #[test]
    fn the_happy_path_is_allowed() {
        let path = [PendingPayment, Paid, InProduction, Shipped, Delivered];
        for w in path.windows(2) {
            assert!(w[0].can_become(w[1]), "{} -> {}", w[0], w[1]);
        }
    }

    #[test]
    fn nothing_goes_back_to_pending_payment_and_a_paid_order_is_never_simply_cancelled() {
        for s in ALL_STATUSES {
            assert!(!s.can_become(PendingPayment), "{s} -> pending_payment");
        }
        assert!(!Paid.can_become(Cancelled));
        assert!(!Delivered.can_become(Shipped));
        assert!(!Refunded.can_become(Paid));
    }

    #[test]
    fn every_status_round_trips_its_name() {
        for s in ALL_STATUSES {
            assert_eq!(OrderStatus::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::json!(s.as_str())
            );
        }
        assert_eq!(OrderStatus::parse("shipped-ish"), None);
    }

    #[test]
    fn every_status_but_the_terminal_refunded_has_a_way_forward() {
        for s in ALL_STATUSES {
            let out = TRANSITIONS.iter().filter(|(f, _)| *f == s).count();
            if s == Refunded {
                assert_eq!(out, 0);
            } else {
                assert!(out > 0, "{s} is a dead end");
            }
        }
    }
}
