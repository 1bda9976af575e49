//! One reconciliation pass: the providers' records against ours.

use crate::findings::{Finding, FindingKind, FindingState, NewFinding};
use crate::Ops;
use cielo_core::Timestamp;
use cielo_orders::{OrderFilter, OrderStatus};
use cielo_payments::event::{EventKind, OrderState, PaymentEvent};
use serde::Serialize;
use serde_json::json;
use std::collections::HashSet;

/// What one pass looked at and found.
#[derive(Debug, Clone, Serialize)]
pub struct ReconcileReport {
    /// Start of the window.
    pub since: Timestamp,
    /// Paid sessions the payment provider listed.
    pub provider_payments: usize,
    /// Our paid orders checked.
    pub paid_orders: usize,
    /// Lab orders listed, per lab (`printful`, `prodigi`).
    pub lab_orders: Vec<(String, usize)>,
    /// Findings recorded or seen again by this pass.
    pub findings: Vec<Finding>,
    /// What could not be checked (a provider down): the pass is incomplete.
    pub errors: Vec<String>,
    /// Why the two payment counts differ, order by order (a paid order in
    /// `needs_attention`, one refunded since, one paid before the window…).
    pub differences: Vec<CountDifference>,
}

/// One order that one side counts and the other does not.
#[derive(Debug, Clone, Serialize)]
pub struct CountDifference {
    /// Our order id.
    pub order_id: String,
    /// Its status here.
    pub status: String,
    /// Why, in words (`"is in needs_attention"`); the same words group
    /// orders in the report.
    pub why: String,
    /// True when a person must look (the pass is then not clean).
    pub needs_a_look: bool,
}

impl ReconcileReport {
    /// True when nothing is left for a person: every provider could be
    /// checked, no finding is open, and every difference between the counts
    /// is explained by something that needs no one (a refund since, a
    /// payment on its way).
    pub fn is_clean(&self) -> bool {
        self.errors.is_empty()
            && self.findings.iter().all(|f| f.state != FindingState::Open)
            && self.differences.iter().all(|d| !d.needs_a_look)
    }

    /// The report for a person on a terminal. "Clean" only when there is
    /// nothing to look at: counts that differ are explained order by order.
    pub fn to_text(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ = writeln!(s, "Reconciliation since {}", self.since);
        let _ = writeln!(
            s,
            "  payments at the provider: {}   paid orders here: {}",
            self.provider_payments, self.paid_orders
        );
        // Grouped by reason, in the order first seen.
        let mut groups: Vec<(&str, bool, Vec<&str>)> = Vec::new();
        for d in &self.differences {
            match groups.iter_mut().find(|g| g.0 == d.why) {
                Some(g) => g.2.push(&d.order_id),
                None => groups.push((&d.why, d.needs_a_look, vec![&d.order_id])),
            }
        }
        for (why, look, ids) in &groups {
            let n = ids.len();
            let _ = writeln!(
                s,
                "  {} {n} paid order{} {}: {}",
                if *look { "!" } else { "·" },
                if n == 1 { "" } else { "s" },
                if n == 1 { why.to_string() } else { plural(why) },
                ids.join(", ")
            );
        }
        for (lab, n) in &self.lab_orders {
            let _ = writeln!(s, "  {lab} orders: {n}");
        }
        for f in &self.findings {
            let _ = writeln!(
                s,
                "- [{}] {} {} ({}): {}",
                f.state.as_str(),
                f.kind.as_str(),
                f.subject,
                f.id,
                f.detail
            );
        }
        for e in &self.errors {
            let _ = writeln!(s, "! not checked: {e}");
        }
        let looks = self.differences.iter().filter(|d| d.needs_a_look).count();
        let open = self
            .findings
            .iter()
            .filter(|f| f.state == FindingState::Open)
            .count();
        if self.is_clean() {
            if self.findings.is_empty() && self.differences.is_empty() {
                let _ = writeln!(s, "Clean: no differences.");
            } else {
                let _ = writeln!(
                    s,
                    "Nothing to look at: every difference is explained above{}.",
                    if self.findings.is_empty() {
                        ""
                    } else {
                        " or was fixed by this pass"
                    }
                );
            }
        } else {
            let mut parts = Vec::new();
            if open > 0 {
                parts.push(format!(
                    "{open} open finding{}",
                    if open == 1 { "" } else { "s" }
                ));
            }
            if looks > 0 {
                parts.push(format!(
                    "{looks} paid order{} to look at",
                    if looks == 1 { "" } else { "s" }
                ));
            }
            if !self.errors.is_empty() {
                parts.push("a provider not checked".to_string());
            }
            let _ = writeln!(s, "Needs a look: {}.", parts.join(", "));
        }
        s
    }
}

/// A reason of [`why_not_counted`] said of several orders: its leading verb
/// in the plural ("was refunded" → "were refunded").
fn plural(why: &str) -> String {
    for (one, many) in [
        ("is ", "are "),
        ("was ", "were "),
        ("still waits ", "still wait "),
    ] {
        if let Some(rest) = why.strip_prefix(one) {
            return format!("{many}{rest}");
        }
    }
    why.to_string()
}

/// Why a paid order at the provider is not counted here, from its status,
/// and whether a person must look.
fn why_not_counted(status: OrderStatus) -> (&'static str, bool) {
    match status {
        OrderStatus::NeedsAttention => ("is in needs_attention", true),
        OrderStatus::Cancelled => ("is cancelled though the provider took its payment", true),
        OrderStatus::Refunded => ("was refunded since", false),
        // Past the grace period a finding says so; within it the webhook is
        // on its way.
        OrderStatus::PendingPayment => ("still waits for its payment here", false),
        // A status counted here: the order was made before the window and
        // paid within it.
        _ => ("was created before the window", false),
    }
}

const PAID_HERE: [OrderStatus; 5] = [
    OrderStatus::Paid,
    OrderStatus::InProduction,
    OrderStatus::Shipped,
    OrderStatus::Delivered,
    OrderStatus::PartiallyRefunded,
];

impl Ops {
    /// One pass over the last `since_secs` seconds; findings are stored and
    /// the alert rules evaluated at the end (a stolen lab key alerts within
    /// this pass).
    pub async fn reconcile(&self, since_secs: u64) -> anyhow::Result<ReconcileReport> {
        let since = Timestamp::now().plus_seconds(-(since_secs as i64));
        let mut report = ReconcileReport {
            since,
            provider_payments: 0,
            paid_orders: 0,
            lab_orders: Vec::new(),
            findings: Vec::new(),
            errors: Vec::new(),
            differences: Vec::new(),
        };
        if let Err(e) = self.reconcile_payments(since, &mut report).await {
            report.errors.push(format!("payments: {e:#}"));
        }
        for lab in self.fulfillment.listable_labs() {
            if let Err(e) = self.reconcile_lab(lab, since, &mut report).await {
                report.errors.push(format!("{lab}: {e:#}"));
            }
        }
        if let Err(e) = self.publish_open_findings().await {
            tracing::warn!(error = %format!("{e:#}"), "could not count the open findings");
        }
        if let Err(e) = self.evaluate_alerts().await {
            tracing::warn!(error = %format!("{e:#}"), "could not evaluate alerts after reconciliation");
        }
        Ok(report)
    }

    async fn reconcile_payments(
        &self,
        since: Timestamp,
        report: &mut ReconcileReport,
    ) -> anyhow::Result<()> {
        let provider = self.payments.provider().clone();
        let grace_cutoff =
            Timestamp::now().as_unix_seconds() - self.settings.reconcile.grace_secs as i64;
        let events = provider.list_events(since.as_unix_seconds()).await?;
        let book = self.orders.payment_book();
        let mut paid_sessions: HashSet<String> = HashSet::new();
        // Our orders the provider's paid sessions name, each once per session.
        let mut paid_there: Vec<String> = Vec::new();
        for raw in &events {
            let Ok(e) = PaymentEvent::from_value(raw) else {
                continue;
            };
            if !matches!(
                e.kind,
                EventKind::SessionCompleted | EventKind::AsyncPaymentSucceeded
            ) || !e.paid
            {
                continue;
            }
            // One payment per session, however often the listing has it.
            if let Some(s) = &e.session_id {
                if !paid_sessions.insert(s.clone()) {
                    continue;
                }
            }
            report.provider_payments += 1;
            let theirs = json!({"event_id": e.id, "session_id": e.session_id, "order_id": e.order_id,
                                "amount": e.amount, "currency": e.currency, "created": e.created});
            let subject = e.session_id.clone().unwrap_or_else(|| e.id.clone());
            let facts = match &e.order_id {
                Some(id) => {
                    let mut conn = self.db.pool().acquire().await?;
                    book.facts(&mut conn, id).await?
                }
                None => None,
            };
            let Some(facts) = facts else {
                let f = self
                    .record(NewFinding {
                        kind: FindingKind::PaidWithoutOrder,
                        subject,
                        state: FindingState::Open,
                        ours: json!(null),
                        theirs,
                        detail: "paid at the provider for an order this shop does not have: refund it at the provider or find the order".into(),
                    })
                    .await?;
                report.findings.push(f);
                continue;
            };
            if let Some(id) = &e.order_id {
                paid_there.push(id.clone());
            }
            let ours = json!({"order_id": e.order_id, "state": format!("{:?}", facts.state),
                              "total": facts.total, "currency": facts.currency});
            if let (Some(amount), Some(currency)) = (e.amount, &e.currency) {
                if amount != facts.total || !currency.eq_ignore_ascii_case(&facts.currency) {
                    let f = self
                        .record(NewFinding {
                            kind: FindingKind::AmountMismatch,
                            subject: subject.clone(),
                            state: FindingState::Open,
                            ours: ours.clone(),
                            theirs: theirs.clone(),
                            detail: format!(
                                "the provider took {amount} {currency}, the order is {} {}",
                                facts.total, facts.currency
                            ),
                        })
                        .await?;
                    report.findings.push(f);
                }
            }
            if facts.state != OrderState::PendingPayment || e.created > grace_cutoff {
                continue;
            }
            // Paid there, waiting here: feed the event through the inbox,
            // exactly as a late webhook would be.
            let stored = {
                let mut tx = self.db.begin_write().await?;
                let stored = cielo_payments::inbox::store_event(
                    &mut tx,
                    provider.name(),
                    &e.id,
                    raw["type"].as_str().unwrap_or("checkout.session.completed"),
                    e.created,
                    &raw.to_string(),
                    "reconcile",
                )
                .await?;
                tx.commit().await?;
                stored
            };
            let (state, detail) = if stored {
                (FindingState::Fixed, "the payment event was missing from the inbox: fed through it (the order becomes paid by the inbox's job)".to_string())
            } else {
                (FindingState::Open, "the payment event is in the inbox but the order is still unpaid: look at the payments jobs and dead letters".to_string())
            };
            let f = self
                .record(NewFinding {
                    kind: FindingKind::PaidWithoutOrder,
                    subject,
                    state,
                    ours,
                    theirs,
                    detail,
                })
                .await?;
            report.findings.push(f);
        }

        // Our paid orders in the window, each with a payment at the provider.
        let mut counted_here: HashSet<String> = HashSet::new();
        let mut cursor = None;
        loop {
            let page = self
                .orders
                .list_orders(OrderFilter {
                    from: Some(since),
                    limit: Some(100),
                    cursor: cursor.clone(),
                    ..Default::default()
                })
                .await?;
            for o in &page.orders {
                if !PAID_HERE.contains(&o.status) {
                    continue;
                }
                report.paid_orders += 1;
                let id = o.id.to_string();
                counted_here.insert(id.clone());
                let facts = {
                    let mut conn = self.db.pool().acquire().await?;
                    book.facts(&mut conn, &id).await?
                };
                let session = facts.as_ref().and_then(|f| f.session_id.clone());
                if session.as_ref().is_some_and(|s| paid_sessions.contains(s)) {
                    continue;
                }
                // Not in the listing (older than the window, or listed
                // late): ask about the session directly before calling it a
                // difference.
                let confirmed = match &session {
                    Some(s) => match provider.poll_session(s).await? {
                        Some(ev) => PaymentEvent::from_value(&ev)
                            .map(|e| e.paid)
                            .unwrap_or(false),
                        None => false,
                    },
                    None => false,
                };
                if confirmed {
                    report.differences.push(CountDifference {
                        order_id: id.clone(),
                        status: o.status.as_str().into(),
                        why: "was paid before the window".into(),
                        needs_a_look: false,
                    });
                    continue;
                }
                self.orders
                    .transition_now(
                        o.id,
                        OrderStatus::NeedsAttention,
                        "reconcile: paid here, no payment at the provider",
                    )
                    .await?;
                let f = self
                    .record(NewFinding {
                        kind: FindingKind::PaidWithoutPayment,
                        subject: id.clone(),
                        state: FindingState::Open,
                        ours: json!({"order_id": id, "status": o.status, "total": o.total, "session_id": session}),
                        theirs: json!({"provider": provider.name(), "payment": null}),
                        detail: "the order is paid here but the provider has no payment for it: the order is now needs_attention; do not ship it until the payment is found".into(),
                    })
                    .await?;
                report.findings.push(f);
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }

        // Paid there, not counted here: say why, order by order, so the two
        // counts add up for the person reading them.
        let mut seen: HashSet<&str> = HashSet::new();
        for id in &paid_there {
            let times = paid_there.iter().filter(|o| *o == id).count();
            if !seen.insert(id) {
                continue;
            }
            if times > 1 {
                report.differences.push(CountDifference {
                    order_id: id.clone(),
                    status: String::new(),
                    why: format!("was paid {times} times at the provider"),
                    needs_a_look: true,
                });
            }
            if counted_here.contains(id) {
                continue;
            }
            let Ok(order_id) = id.parse() else { continue };
            let status = match self
                .orders
                .get_order(order_id, &cielo_orders::OrderAccess::Admin)
                .await
            {
                Ok(o) => o.status,
                Err(e) => {
                    tracing::warn!(order = %id, error = %e, "order unreadable while explaining the counts");
                    continue;
                }
            };
            let (why, needs_a_look) = why_not_counted(status);
            report.differences.push(CountDifference {
                order_id: id.clone(),
                status: status.as_str().into(),
                why: why.into(),
                needs_a_look,
            });
        }
        Ok(())
    }

    async fn reconcile_lab(
        &self,
        lab: cielo_fulfillment::Lab,
        since: Timestamp,
        report: &mut ReconcileReport,
    ) -> anyhow::Result<()> {
        let listed = self.fulfillment.list_lab_orders(lab, since).await?;
        report.lab_orders.push((lab.to_string(), listed.len()));
        for l in listed {
            let subject = format!("{lab}:{}", l.lab_ref);
            let theirs = serde_json::to_value(&l)?;
            let Some(ours) = self.fulfillment.match_listing(&l).await? else {
                let items = l.items.as_array().map(|a| a.len()).unwrap_or(0);
                let name = l.recipient["name"].as_str().unwrap_or("?");
                let f = self
                    .record(NewFinding {
                        kind: FindingKind::UnknownLabOrder,
                        subject,
                        state: FindingState::Open,
                        ours: json!(null),
                        theirs,
                        detail: format!(
                            "{lab} holds order {} that this shop never placed (to {name}, {items} item(s)): someone has the lab API key. Cancel it at the lab and rotate the key",
                            l.lab_ref
                        ),
                    })
                    .await?;
                report.findings.push(f);
                continue;
            };
            let Some(theirs_stage) = l.stage else {
                continue;
            };
            // Our submission is in flight (sent, its answer not recorded
            // yet, or lost after the lab took it): the lab may hold the
            // order already. Not a difference: the submission's retry asks
            // the lab and records it (a submission that never settles
            // ends as a dead job, which alerts).
            if ours.submit_state == "planned" || ours.submit_state == "sending" {
                continue;
            }
            // Neither lab reports delivery: our `delivered` past their
            // `shipped` is not a difference.
            let same = theirs_stage == ours.stage
                || (ours.stage == cielo_fulfillment::LabStage::Delivered
                    && theirs_stage == cielo_fulfillment::LabStage::Shipped);
            if same {
                // A difference an earlier pass could not fix has gone.
                self.settle(
                    FindingKind::LabStatusDiffers,
                    &subject,
                    &format!("ours and the lab's agree now ({theirs_stage})"),
                )
                .await?;
                continue;
            }
            // The forward-only path: re-read from the lab and apply.
            let after = match self.fulfillment.refresh(ours.id).await {
                Ok(()) => self.fulfillment.lab_order(ours.id).await?.stage,
                Err(e) => {
                    tracing::warn!(error = %e, lab_order = %ours.id, "refresh during reconciliation failed");
                    ours.stage
                }
            };
            let fixed = after == theirs_stage;
            let f = self
                .record(NewFinding {
                    kind: FindingKind::LabStatusDiffers,
                    subject,
                    state: if fixed { FindingState::Fixed } else { FindingState::Open },
                    ours: json!({"lab_order_id": ours.id, "order_id": ours.order_id, "stage": ours.stage, "stage_after": after}),
                    theirs,
                    detail: if fixed {
                        format!("ours was {}, the lab's {}: re-read from the lab and applied", ours.stage, theirs_stage)
                    } else {
                        format!("ours is {}, the lab's {}: the forward-only path did not apply it (a step back, or the lab failed); look at the lab order", after, theirs_stage)
                    },
                })
                .await?;
            report.findings.push(f);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_said_of_several_orders_take_the_plural_verb() {
        for status in [
            OrderStatus::NeedsAttention,
            OrderStatus::Cancelled,
            OrderStatus::Refunded,
            OrderStatus::PendingPayment,
            OrderStatus::Shipped,
        ] {
            let (why, _) = why_not_counted(status);
            let many = plural(why);
            assert_ne!(many, why, "{why}");
            assert!(
                !many.starts_with("is ") && !many.starts_with("was ") && !many.contains("waits"),
                "{many}"
            );
        }
        assert_eq!(plural("was refunded since"), "were refunded since");
    }
}
