//! The payments service: processes stored events, runs the catch-up and
//! refunds. Orders are reached through [`OrderBook`], which the application
//! implements over the orders domain (this crate sits below it).

use crate::cards::SavedCards;
use crate::event::{decide, Action, EventKind, OrderFacts, OrderState, PaymentEvent};
use crate::inbox::{self, PaymentRecord, Webhooks};
use crate::test_provider::TestProvider;
use crate::{PaymentError, RefundRequest, SharedProvider};
use cielo_core::{Currency, Money, Timestamp};
use cielo_db::sqlx::AnyConnection;
use cielo_db::Db;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The orders, as payments needs them.
#[async_trait::async_trait]
pub trait OrderBook: Send + Sync {
    /// An order's facts read through `conn` (the caller's connection or
    /// transaction: no second connection is taken), or `None` when there is
    /// no such order.
    async fn facts(
        &self,
        conn: &mut AnyConnection,
        order_id: &str,
    ) -> anyhow::Result<Option<OrderFacts>>;
    /// Applies `action` to the order inside the caller's transaction.
    /// Returns whether the status changed. An error means "try again".
    async fn apply(
        &self,
        conn: &mut AnyConnection,
        order_id: &str,
        action: &Action,
        cause: &str,
    ) -> anyhow::Result<bool>;
    /// Orders still waiting for payment created before `before` (oldest first, a bounded batch).
    async fn awaiting_payment(&self, before: Timestamp) -> anyhow::Result<Vec<String>>;
}

/// Catch-up settings.
#[derive(Debug, Clone)]
pub struct CatchUpSettings {
    /// Listing restarts this far before the cursor (seconds), to cover late writes.
    pub overlap_secs: i64,
    /// The first listing looks back this far (seconds).
    pub initial_secs: i64,
    /// Orders waiting this long (seconds) are asked about directly.
    pub recover_after_secs: i64,
}

/// What one catch-up pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatchUpReport {
    /// Events listed by the provider.
    pub listed: usize,
    /// Of those, new to the inbox.
    pub stored: usize,
    /// Orders asked about directly.
    pub polled: usize,
    /// Of those, with news stored to the inbox.
    pub recovered: usize,
}

/// Why processing must be tried again, or can never work.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// Temporary; retry.
    #[error("{0:#}")]
    Retry(anyhow::Error),
    /// Retrying cannot help.
    #[error("{0}")]
    Permanent(String),
}

/// Why a refund was refused.
#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    /// No such order.
    #[error("order not found")]
    OrderNotFound,
    /// The order has no captured payment to refund.
    #[error("{0}")]
    NotRefundable(String),
    /// The amount asked for cannot be refunded (not positive, or not an
    /// amount the provider takes); for the `amount` field.
    #[error("{0}")]
    InvalidAmount(String),
    /// The provider said no, or is unavailable.
    #[error(transparent)]
    Provider(#[from] PaymentError),
    /// Unexpected failure.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// A refund as the admin API reports it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RefundOutcome {
    /// The provider's refund id.
    pub refund_id: String,
    /// Refunded by this refund, minor units.
    pub amount: i64,
    /// Refunded in total so far.
    pub total_refunded: i64,
    /// The provider's status.
    pub status: String,
}

/// The payments service.
#[derive(Clone)]
pub struct Payments {
    db: Db,
    provider: SharedProvider,
    test: Option<Arc<TestProvider>>,
    webhooks: Webhooks,
    book: Arc<dyn OrderBook>,
    catch_up: CatchUpSettings,
    cards: Option<SavedCards>,
}

impl Payments {
    /// The service over `provider`; `test` is the built-in provider when it
    /// is the one in use (its payment page needs it).
    pub fn new(
        db: Db,
        provider: SharedProvider,
        test: Option<Arc<TestProvider>>,
        webhooks: Webhooks,
        book: Arc<dyn OrderBook>,
        catch_up: CatchUpSettings,
    ) -> Self {
        Self {
            db,
            provider,
            test,
            webhooks,
            book,
            catch_up,
            cards: None,
        }
    }

    /// With the accounts' saved cards (the account pages list and remove them).
    pub fn with_saved_cards(mut self, cards: SavedCards) -> Self {
        self.cards = Some(cards);
        self
    }

    /// The accounts' saved cards, when set up.
    pub fn saved_cards(&self) -> Option<&SavedCards> {
        self.cards.as_ref()
    }

    /// The webhook endpoints.
    pub fn webhooks(&self) -> &Webhooks {
        &self.webhooks
    }

    /// The built-in test provider, when it is in use.
    pub fn test_provider(&self) -> Option<&Arc<TestProvider>> {
        self.test.as_ref()
    }

    /// The provider in use.
    pub fn provider(&self) -> &SharedProvider {
        &self.provider
    }

    /// Webhooks refused for their signature in the last `minutes` minutes
    /// (every provider): someone probing the endpoint, or a signing secret
    /// rotated at the provider and not here.
    pub async fn webhook_signature_failures(&self, minutes: i64) -> anyhow::Result<i64> {
        crate::inbox::signature_failures(&self.db, minutes).await
    }

    /// Processes one stored event, once: what it does to its order, the
    /// payment facts it carries, and an alert when something does not add up.
    /// Running it again for a processed event changes nothing.
    pub async fn process_event(
        &self,
        provider: &str,
        event_id: &str,
    ) -> Result<String, ProcessError> {
        let retry = |e: anyhow::Error| ProcessError::Retry(e);
        // Read and decide before taking the write transaction; the
        // transaction re-checks, and the order's status changes by compare-and-set.
        let mut conn = self
            .db
            .pool()
            .acquire()
            .await
            .map_err(|e| retry(e.into()))?;
        let stored = inbox::load_event(&mut conn, provider, event_id)
            .await
            .map_err(retry)?
            .ok_or_else(|| {
                ProcessError::Permanent(format!("no stored event {provider}/{event_id}"))
            })?;
        if stored.processed_at.is_some() {
            return Ok(format!(
                "already processed: {}",
                stored.outcome.unwrap_or_default()
            ));
        }
        let plan = self
            .plan_stored(&mut conn, provider, &stored.payload, &mut HashMap::new())
            .await
            .map_err(retry)?;
        drop(conn);

        let mut tx = self.db.begin_write().await.map_err(|e| retry(e.into()))?;
        match inbox::load_event(&mut tx, provider, event_id)
            .await
            .map_err(retry)?
        {
            Some(e) if e.processed_at.is_none() => {}
            _ => return Ok("already processed".into()),
        }
        let (outcome, paid_after) = self.act(&mut tx, provider, plan).await.map_err(retry)?;
        inbox::mark_processed(&mut tx, provider, event_id, &outcome)
            .await
            .map_err(retry)?;
        tx.commit().await.map_err(|e| retry(e.into()))?;
        record_paid_after(paid_after);
        tracing::info!(provider, event_id, outcome = %outcome, "payment event processed");
        Ok(outcome)
    }

    /// Processes several stored events of one provider, in the order given,
    /// each once, with the same effects as [`Self::process_event`] one by one
    /// — but in one read and one transaction, which is what lets processing
    /// keep up with a burst of webhooks. Returns how many were processed now.
    ///
    /// Events are planned from the order as it was before the batch, so only
    /// the first event of each order is handled in the batch; a later event of
    /// the same order is processed on its own afterwards, deciding on what the
    /// first one did. If the batch's transaction fails, every event is
    /// processed on its own, so one bad event does not hold back the others.
    pub async fn process_events(
        &self,
        provider: &str,
        event_ids: &[String],
    ) -> Result<usize, ProcessError> {
        if let [one] = event_ids {
            return self.process_event(provider, one).await.map(|_| 1);
        }
        let retry = |e: anyhow::Error| ProcessError::Retry(e);
        let mut conn = self
            .db
            .pool()
            .acquire()
            .await
            .map_err(|e| retry(e.into()))?;
        let mut stored: HashMap<String, inbox::InboxEvent> =
            inbox::load_events(&mut conn, provider, event_ids)
                .await
                .map_err(retry)?
                .into_iter()
                .map(|e| (e.event_id.clone(), e))
                .collect();
        let mut batch: Vec<(String, Plan)> = Vec::new();
        let mut later: Vec<String> = Vec::new();
        let mut orders_in_batch = HashSet::new();
        let mut facts = HashMap::new();
        for id in event_ids {
            let Some(event) = stored.remove(id) else {
                // Listed twice in the job, or never stored: nothing to do.
                tracing::warn!(provider, event_id = %id, "no stored event to process");
                continue;
            };
            if event.processed_at.is_some() {
                continue;
            }
            let plan = match PaymentEvent::from_json(&event.payload) {
                Err(e) => Plan::Skip(e.to_string()),
                // Its order is found through a payment that an earlier event
                // of this batch may be the one to record.
                Ok(e)
                    if e.order_id.is_none()
                        && e.payment_intent.is_some()
                        && !matches!(e.kind, EventKind::Other(_)) =>
                {
                    later.push(event.event_id);
                    continue;
                }
                Ok(e) => self
                    .plan(&mut conn, provider, e, &mut facts)
                    .await
                    .map_err(retry)?,
            };
            if let Plan::Act { order_id, .. } = &plan {
                if !orders_in_batch.insert(order_id.clone()) {
                    later.push(event.event_id);
                    continue;
                }
            }
            batch.push((event.event_id, plan));
        }
        drop(conn);

        let ids: Vec<String> = batch.iter().map(|(id, _)| id.clone()).collect();
        let mut processed = 0;
        match self.act_in_one_transaction(provider, batch).await {
            Ok(n) => processed += n,
            Err(e) => {
                tracing::warn!(provider, events = ids.len(), error = %format!("{e:#}"), "processing a batch of payment events failed; processing them one by one");
                later.splice(0..0, ids);
            }
        }
        let mut first_error = None;
        for id in &later {
            match self.process_event(provider, id).await {
                Ok(_) => processed += 1,
                Err(e) => {
                    tracing::warn!(provider, event_id = %id, error = %e, "processing a payment event failed");
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            None => Ok(processed),
            Some(e) => Err(e),
        }
    }

    async fn act_in_one_transaction(
        &self,
        provider: &str,
        batch: Vec<(String, Plan)>,
    ) -> anyhow::Result<usize> {
        if batch.is_empty() {
            return Ok(0);
        }
        let ids: Vec<String> = batch.iter().map(|(id, _)| id.clone()).collect();
        let mut tx = self.db.begin_write().await?;
        let waiting: HashSet<String> = inbox::load_events(&mut tx, provider, &ids)
            .await?
            .into_iter()
            .filter(|e| e.processed_at.is_none())
            .map(|e| e.event_id)
            .collect();
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut paid_after = Vec::new();
        for (id, plan) in batch {
            if waiting.contains(&id) {
                let (outcome, paid) = self.act(&mut tx, provider, plan).await?;
                outcomes.push((id, outcome));
                paid_after.push(paid);
            }
        }
        inbox::mark_processed_many(&mut tx, provider, &outcomes).await?;
        tx.commit().await?;
        paid_after.into_iter().for_each(record_paid_after);
        for (event_id, outcome) in &outcomes {
            tracing::info!(provider, event_id = %event_id, outcome = %outcome, "payment event processed");
        }
        Ok(outcomes.len())
    }

    /// Does what `plan` says, in `tx`; returns the outcome to record and,
    /// when this marked the order paid, the seconds since the provider's
    /// event (for `cielo_order_payment_to_paid_seconds`, once committed).
    async fn act(
        &self,
        tx: &mut AnyConnection,
        provider: &str,
        plan: Plan,
    ) -> anyhow::Result<(String, Option<f64>)> {
        Ok(match plan {
            Plan::Skip(why) => (format!("ignored: {why}"), None),
            Plan::Act {
                event,
                order_id,
                action,
            } => {
                let cause = format!("{provider} event {} ({})", event.id, event_type(&event));
                let changed = self.book.apply(tx, &order_id, &action, &cause).await?;
                if let Action::Attention(reason) = &action {
                    let alert = serde_json::json!({
                        "order_id": order_id, "provider": provider, "event_id": event.id,
                        "event_type": event_type(&event), "reason": reason,
                    });
                    cielo_jobs::publish(tx, inbox::TOPIC_ALERT, alert).await?;
                    tracing::warn!(order_id = %order_id, event_id = %event.id, reason = %reason, "payment needs attention");
                }
                record_payment(tx, provider, &order_id, &event).await?;
                let paid_after = (changed && matches!(action, Action::MarkPaid)).then(|| {
                    let now_us = Timestamp::now().as_micros();
                    (now_us - event.created * 1_000_000).max(0) as f64 / 1e6
                });
                let outcome = match (&action, changed) {
                    (Action::Nothing(why), _) => format!("no change: {why}"),
                    (a, true) => format!("{}: {order_id}", action_name(a)),
                    (a, false) => format!("{} (already so): {order_id}", action_name(a)),
                };
                (outcome, paid_after)
            }
        })
    }

    /// Decides what a stored payload asks for. `facts` caches the orders
    /// looked up, by id, for the events of one batch.
    async fn plan_stored(
        &self,
        conn: &mut AnyConnection,
        provider: &str,
        payload: &str,
        facts: &mut HashMap<String, Option<OrderFacts>>,
    ) -> anyhow::Result<Plan> {
        match PaymentEvent::from_json(payload) {
            Err(e) => Ok(Plan::Skip(e.to_string())),
            Ok(event) => self.plan(conn, provider, event, facts).await,
        }
    }

    async fn plan(
        &self,
        conn: &mut AnyConnection,
        provider: &str,
        event: PaymentEvent,
        cache: &mut HashMap<String, Option<OrderFacts>>,
    ) -> anyhow::Result<Plan> {
        if let EventKind::Other(t) = &event.kind {
            return Ok(Plan::Skip(format!("{t} is not acted on")));
        }
        let mut order_id = event.order_id.clone();
        if order_id.is_none() {
            if let Some(pi) = &event.payment_intent {
                order_id = inbox::payment_by_intent(conn, provider, pi)
                    .await?
                    .map(|p| p.order_id);
            }
        }
        let Some(order_id) = order_id else {
            return Ok(Plan::Skip("the event names no order of this shop".into()));
        };
        let known = match cache.get(&order_id) {
            Some(known) => known.clone(),
            None => {
                let f = self.book.facts(conn, &order_id).await?;
                cache.insert(order_id.clone(), f.clone());
                f
            }
        };
        let Some(facts) = known else {
            return Ok(Plan::Skip(format!("no order {order_id}")));
        };
        // The event speaks the provider's units: compare the order's total in
        // them too, so an amount read at another scale never looks like a match.
        let mut action = match self.provider_total(&facts) {
            Ok(total) => decide(&event, &OrderFacts { total, ..facts }),
            Err(why) => match decide(&event, &facts) {
                Action::MarkPaid => Action::Attention(why),
                other => other,
            },
        };
        if matches!(action, Action::Refunded | Action::PartiallyRefunded) {
            // A refund made through the admin API is recorded when it is made;
            // its event then brings nothing new.
            let known = inbox::payment_of_order(conn, &order_id)
                .await?
                .map(|p| p.amount_refunded)
                .unwrap_or(0);
            if event.amount_refunded.is_some_and(|r| r <= known) {
                action = Action::Nothing("refund already recorded".into());
            }
        }
        Ok(Plan::Act {
            event: Box::new(event),
            order_id,
            action,
        })
    }

    /// One catch-up pass: lists the provider's events since the stored cursor
    /// (minus an overlap) into the inbox, then asks the provider about orders
    /// that have waited for payment too long. Everything found goes through
    /// the inbox and its jobs, like a webhook.
    pub async fn catch_up(&self) -> anyhow::Result<CatchUpReport> {
        let name = self.provider.name();
        let now = Timestamp::now().as_unix_seconds();
        let mut report = CatchUpReport::default();
        let since = {
            let mut conn = self.db.pool().acquire().await?;
            match inbox::cursor(&mut conn, name).await? {
                Some(c) => c - self.catch_up.overlap_secs,
                None => now - self.catch_up.initial_secs,
            }
        };
        let events = self.provider.list_events(since.max(0)).await?;
        report.listed = events.len();
        let mut newest = since.max(0);
        for chunk in events.chunks(100) {
            let mut tx = self.db.begin_write().await?;
            for e in chunk {
                if let Some(stored) = store_listed(&mut tx, name, e, "catch_up").await? {
                    report.stored += usize::from(stored);
                }
                newest = newest.max(e["created"].as_i64().unwrap_or(0));
            }
            inbox::advance_cursor(&mut tx, name, newest).await?;
            tx.commit().await?;
        }
        // Everything created before this pass started has been listed; the
        // overlap covers events the provider makes visible late.
        {
            let mut conn = self.db.pool().acquire().await?;
            inbox::advance_cursor(&mut conn, name, newest.max(now)).await?;
        }

        let cutoff = Timestamp::now().plus_seconds(-self.catch_up.recover_after_secs);
        for order_id in self.book.awaiting_payment(cutoff).await? {
            let facts = {
                let mut conn = self.db.pool().acquire().await?;
                self.book.facts(&mut conn, &order_id).await?
            };
            let Some(facts) = facts else {
                continue;
            };
            let Some(session) = facts.session_id.clone() else {
                continue;
            };
            report.polled += 1;
            match self.provider.poll_session(&session).await {
                Ok(Some(event)) => {
                    let mut tx = self.db.begin_write().await?;
                    if store_listed(&mut tx, name, &event, "catch_up").await? == Some(true) {
                        report.recovered += 1;
                    }
                    tx.commit().await?;
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(order_id = %order_id, error = %e, "could not ask the provider about a waiting order")
                }
            }
        }
        if report.stored > 0 || report.recovered > 0 {
            tracing::info!(?report, "payments catch-up found events");
        }
        Ok(report)
    }

    /// The order's total in the provider's units.
    fn provider_total(&self, facts: &OrderFacts) -> Result<i64, String> {
        let currency = Currency::parse(&facts.currency).map_err(|e| e.to_string())?;
        self.provider
            .provider_amount(Money::new(facts.total, currency))
            .map_err(|e| format!("the order's total cannot be paid through this provider: {e}"))
    }

    /// Refunds all (`amount` None) or part of an order's payment, and records
    /// it on the order at once (the provider's event later changes nothing).
    /// `by` names who asked (`admin:<customer id>`) and `reason` says why;
    /// both go into the order's history.
    pub async fn refund(
        &self,
        order_id: &str,
        amount: Option<i64>,
        by: &str,
        reason: Option<&str>,
    ) -> Result<RefundOutcome, RefundError> {
        let facts = {
            let mut conn = self
                .db
                .pool()
                .acquire()
                .await
                .map_err(anyhow::Error::from)?;
            self.book.facts(&mut conn, order_id).await?
        }
        .ok_or(RefundError::OrderNotFound)?;
        if !matches!(
            facts.state,
            OrderState::Paid | OrderState::PartiallyRefunded | OrderState::NeedsAttention
        ) {
            return Err(RefundError::NotRefundable(format!(
                "the order is not paid ({:?})",
                facts.state
            )));
        }
        let record = {
            let mut conn = self
                .db
                .pool()
                .acquire()
                .await
                .map_err(anyhow::Error::from)?;
            inbox::payment_of_order(&mut conn, order_id).await?
        };
        let Some(record) = record else {
            return Err(RefundError::NotRefundable(
                "no payment is recorded for this order".into(),
            ));
        };
        let (Some(intent), Some(paid)) = (record.payment_intent.clone(), record.amount) else {
            return Err(RefundError::NotRefundable(
                "the payment has no payment intent to refund".into(),
            ));
        };
        // The payment record speaks the provider's units; the admin speaks
        // the order's minor units. Convert once, at this boundary.
        let currency = Currency::parse(&facts.currency).map_err(anyhow::Error::from)?;
        let to_minor = |a: i64| self.provider.amount_from_provider(a, currency).unwrap_or(a);
        let left = paid - record.amount_refunded;
        let amount = match amount {
            None => None,
            Some(a) if a <= 0 => {
                return Err(RefundError::InvalidAmount("must be at least 1".into()))
            }
            Some(a) => {
                let p = self
                    .provider
                    .provider_amount(Money::new(a, currency))
                    .map_err(|e| RefundError::InvalidAmount(e.to_string()))?;
                if p > left {
                    // Depends on the refunds made so far: a conflict with the
                    // order's state, not a malformed request.
                    return Err(RefundError::NotRefundable(format!(
                        "the amount must be between 1 and {}, what is left of the payment",
                        to_minor(left)
                    )));
                }
                Some(p)
            }
        };
        if left <= 0 {
            return Err(RefundError::NotRefundable(
                "the payment is refunded in full already".into(),
            ));
        }
        let this = amount.unwrap_or(left);
        let request = RefundRequest {
            order_id: order_id.to_string(),
            payment_intent: intent,
            amount,
            already_refunded: record.amount_refunded,
            paid,
            currency: record
                .currency
                .clone()
                .unwrap_or_else(|| facts.currency.to_ascii_lowercase()),
            // Same order, same refunded-so-far, same amount: the same refund.
            idempotency_key: format!("refund:{order_id}:{}:{this}", record.amount_refunded),
        };
        let refund = self.provider.refund(&request).await?;
        let total = record.amount_refunded + refund.amount;
        let mut tx = self.db.begin_write().await.map_err(anyhow::Error::from)?;
        let action = if total >= paid {
            Action::Refunded
        } else {
            Action::PartiallyRefunded
        };
        self.book
            .apply(
                &mut tx,
                order_id,
                &action,
                &match reason.map(str::trim).filter(|r| !r.is_empty()) {
                    Some(r) => format!("refund {} by {by}: {r}", refund.id),
                    None => format!("refund {} by {by}", refund.id),
                },
            )
            .await?;
        inbox::upsert_payment(
            &mut tx,
            &PaymentRecord {
                order_id: order_id.into(),
                provider: self.provider.name().into(),
                amount_refunded: total,
                ..Default::default()
            },
        )
        .await?;
        tx.commit().await.map_err(anyhow::Error::from)?;
        Ok(RefundOutcome {
            refund_id: refund.id,
            amount: to_minor(refund.amount),
            total_refunded: to_minor(total),
            status: refund.status,
        })
    }
}

enum Plan {
    Skip(String),
    Act {
        event: Box<PaymentEvent>,
        order_id: String,
        action: Action,
    },
}

fn event_type(e: &PaymentEvent) -> String {
    match &e.kind {
        EventKind::SessionCompleted => "checkout.session.completed".into(),
        EventKind::AsyncPaymentSucceeded => "checkout.session.async_payment_succeeded".into(),
        EventKind::AsyncPaymentFailed => "checkout.session.async_payment_failed".into(),
        EventKind::SessionExpired => "checkout.session.expired".into(),
        EventKind::PaymentFailed => "payment_intent.payment_failed".into(),
        EventKind::ChargeRefunded => "charge.refunded".into(),
        EventKind::DisputeCreated => "charge.dispute.created".into(),
        EventKind::Other(t) => t.clone(),
    }
}

fn action_name(a: &Action) -> &'static str {
    match a {
        Action::MarkPaid => "paid",
        Action::Cancel => "cancelled",
        Action::Refunded => "refunded",
        Action::PartiallyRefunded => "partially refunded",
        Action::Attention(_) => "needs attention",
        Action::Nothing(_) => "no change",
    }
}

async fn record_payment(
    conn: &mut AnyConnection,
    provider: &str,
    order_id: &str,
    e: &PaymentEvent,
) -> anyhow::Result<()> {
    let mut p = PaymentRecord {
        order_id: order_id.into(),
        provider: provider.into(),
        ..Default::default()
    };
    p.session_id = e.session_id.clone();
    p.payment_intent = e.payment_intent.clone();
    match e.kind {
        EventKind::SessionCompleted | EventKind::AsyncPaymentSucceeded if e.paid => {
            p.amount = e.amount;
            p.currency = e.currency.clone();
        }
        EventKind::ChargeRefunded => p.amount_refunded = e.amount_refunded.unwrap_or(0),
        _ => {}
    }
    inbox::upsert_payment(conn, &p).await
}

/// Stores one listed event in the inbox. `None` when it is not an event.
async fn store_listed(
    conn: &mut AnyConnection,
    provider: &str,
    e: &serde_json::Value,
    source: &str,
) -> anyhow::Result<Option<bool>> {
    let (Some(id), Some(kind)) = (e["id"].as_str(), e["type"].as_str()) else {
        return Ok(None);
    };
    let created = e["created"].as_i64().unwrap_or(0);
    Ok(Some(
        inbox::store_event(conn, provider, id, kind, created, &e.to_string(), source).await?,
    ))
}

/// Observes `cielo_order_payment_to_paid_seconds`: from the provider's event
/// (its `created`, whole seconds) to the order marked paid here.
fn record_paid_after(seconds: Option<f64>) {
    if let Some(s) = seconds {
        metrics::histogram!("cielo_order_payment_to_paid_seconds").record(s);
    }
}
