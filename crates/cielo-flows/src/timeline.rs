//! An order's life as text for a person on a terminal (`cielo orders show`).

use crate::Timeline;
use std::fmt::Write as _;

/// A payment as the timeline shows it (from the payments domain).
#[derive(Debug, Clone, Default)]
pub struct PaymentLine {
    /// Provider name.
    pub provider: String,
    /// Amount taken, formatted with its currency.
    pub amount: Option<String>,
    /// Refunded so far, formatted.
    pub refunded: Option<String>,
    /// The provider's payment reference.
    pub reference: Option<String>,
}

impl Timeline {
    /// The timeline as plain text: the order, its status history, payment,
    /// lab orders (with their raw status and history) and shipments, each
    /// section oldest first.
    pub fn to_text(&self, payment: Option<&PaymentLine>) -> String {
        let o = &self.order;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Order {}  {}  {}  {}",
            o.number, o.id, o.status, o.totals.total
        );
        let _ = writeln!(out, "  buyer    {}", o.email);
        match &o.shipping_address {
            Some(a) => {
                let _ = writeln!(
                    out,
                    "  ship to  {}, {}{}, {} {}, {}",
                    a.name,
                    a.line1,
                    a.line2
                        .as_deref()
                        .map(|l| format!(", {l}"))
                        .unwrap_or_default(),
                    a.postal_code,
                    a.city,
                    a.country
                );
            }
            None => {
                let _ = writeln!(out, "  ship to  (none: digital downloads only)");
            }
        }
        let _ = writeln!(out, "\nLines");
        for l in &o.lines {
            let _ = writeln!(
                out,
                "  {}  {} × {} — {}  lab: {}{}",
                l.id,
                l.quantity,
                l.product_title,
                l.variant_title,
                match (&l.lab, l.delivery.is_digital()) {
                    (_, true) => "none (digital download)",
                    (Some(lab), false) => lab.as_str(),
                    (None, false) => "shop ships it",
                },
                if l.artwork.is_some() {
                    "  (print file ready)"
                } else {
                    ""
                }
            );
        }
        let _ = writeln!(out, "\nHistory");
        for h in &o.history {
            let from = h.from.map(|f| f.to_string()).unwrap_or_else(|| "—".into());
            let _ = writeln!(out, "  {}  {from} → {}  ({})", h.at, h.to, h.cause);
        }
        let _ = writeln!(out, "\nPayment");
        match payment {
            Some(p) => {
                let _ = writeln!(
                    out,
                    "  {}  paid {}  refunded {}  ref {}",
                    p.provider,
                    p.amount.as_deref().unwrap_or("—"),
                    p.refunded.as_deref().unwrap_or("0"),
                    p.reference.as_deref().unwrap_or("—")
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "  none recorded (provider {}, session {})",
                    o.payment.provider.as_deref().unwrap_or("—"),
                    o.payment.session_id.as_deref().unwrap_or("—")
                );
            }
        }
        let _ = writeln!(out, "\nLab orders");
        if self.lab_orders.is_empty() {
            let _ = writeln!(out, "  none");
        }
        for lo in &self.lab_orders {
            let _ = writeln!(
                out,
                "  {}  {}  {}  (lab status {}, sent as {}, held until {}){}",
                lo.id,
                lo.lab,
                lo.stage,
                lo.raw_status.as_deref().unwrap_or("—"),
                lo.external_ref,
                lo.hold_until,
                lo.reason
                    .as_deref()
                    .map(|r| format!("  reason: {r}"))
                    .unwrap_or_default()
            );
            for h in &lo.history {
                let _ = writeln!(
                    out,
                    "    {}  {}  {}  ({})",
                    h.at,
                    h.stage,
                    h.raw_status.as_deref().unwrap_or(""),
                    h.cause
                );
            }
        }
        let _ = writeln!(out, "\nShipments");
        if o.shipments.is_empty() {
            let _ = writeln!(out, "  none");
        }
        for s in &o.shipments {
            let _ = writeln!(
                out,
                "  {}  {} {}  {}{}  by {}  lines {}",
                s.shipped_at,
                s.carrier,
                s.service.as_deref().unwrap_or(""),
                s.tracking_number,
                s.tracking_url
                    .as_deref()
                    .map(|u| format!("  {u}"))
                    .unwrap_or_default(),
                s.shipped_by,
                s.line_ids
                    .iter()
                    .map(|l| l.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        out
    }
}
