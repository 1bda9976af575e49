//! The webhook inbox: verify, store, enqueue — in that order, and nothing else
//! on the request path.
//!
//! A verified event is written to `payments_inbox` keyed by the provider's
//! event id, and the job that processes it is enqueued in the same
//! transaction; the 2xx goes out once that commits. A duplicate finds the row
//! already there, stores nothing and enqueues nothing. The catch-up feeds the
//! events it lists through the same [`store_event`].

use crate::signature::{self, SignatureError};
use cielo_core::Timestamp;
use cielo_db::sqlx::{self, AnyConnection, Row};
use cielo_db::Db;
use std::collections::HashMap;

/// Job kind that processes stored events: `{"provider", "event_id"}` for
/// one, `{"provider", "event_ids": [...]}` for several stored together.
pub const KIND_PROCESS_EVENT: &str = "payments.process_event";
/// Outbox topic of payment alerts (amount mismatch, dispute, payment after cancellation).
pub const TOPIC_ALERT: &str = "payments.alert";

/// Why a webhook was refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// No webhook endpoint for this provider.
    #[error("no webhooks are accepted for provider `{0}`")]
    UnknownProvider(String),
    /// The signature did not verify.
    #[error("invalid signature: {0}")]
    Signature(#[from] SignatureError),
    /// Verified, but not an event we can read.
    #[error("{0}")]
    Malformed(String),
    /// Storing failed; the provider should retry.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// What happened to a webhook that verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// New: stored, and its processing enqueued.
    Stored,
    /// Seen before: nothing stored.
    Duplicate,
}

/// The webhook endpoints: which providers accept webhooks, with which secrets.
///
/// Verified events are written by a writer task that commits the webhooks
/// arriving meanwhile in one transaction (group commit); a request is
/// answered only after the transaction holding its event has committed.
#[derive(Clone, Default)]
pub struct Webhooks {
    db: Option<Db>,
    secrets: HashMap<String, Vec<String>>,
    tolerance_secs: i64,
    writer: Option<tokio::sync::mpsc::Sender<Pending>>,
}

/// Most events one transaction stores.
const MAX_BATCH: usize = 512;
/// Rows per insert statement (7 values each, far below both engines' limits).
const INSERT_CHUNK: usize = 128;

/// Inserts the events that are not stored yet; returns the (provider, event id)
/// pairs that were new.
async fn insert_events(
    conn: &mut AnyConnection,
    batch: &[Pending],
) -> anyhow::Result<Vec<(String, String)>> {
    let now = Timestamp::now().as_micros();
    let rows: Vec<String> = (0..batch.len())
        .map(|i| {
            let b = i * 6;
            format!(
                "(${}, ${}, ${}, ${}, ${}, 'webhook', ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6
            )
        })
        .collect();
    let sql = format!(
        "insert into payments_inbox (provider, event_id, event_type, created, payload, source, received_at) values {}
         on conflict (provider, event_id) do nothing returning provider, event_id",
        rows.join(", ")
    );
    let mut q = sqlx::query(&sql);
    for p in batch {
        q = q
            .bind(&p.provider)
            .bind(&p.event_id)
            .bind(&p.event_type)
            .bind(p.created)
            .bind(&p.payload)
            .bind(now);
    }
    let mut new = Vec::new();
    for r in q.fetch_all(&mut *conn).await? {
        new.push((
            r.try_get::<String, _>("provider")?,
            r.try_get::<String, _>("event_id")?,
        ));
    }
    Ok(new)
}

struct Pending {
    provider: String,
    event_id: String,
    event_type: String,
    created: i64,
    payload: String,
    /// The webhook request's trace (when traces are exported): the event's
    /// processing continues it.
    trace_context: Option<String>,
    reply: tokio::sync::oneshot::Sender<Result<bool, String>>,
}

async fn write_batch(db: &Db, batch: &[Pending]) -> anyhow::Result<Vec<bool>> {
    let mut tx = db.begin_write().await?;
    let mut stored = Vec::with_capacity(batch.len());
    let mut jobs = Vec::new();
    // One multi-row statement per chunk instead of one round trip per event:
    // on PostgreSQL the round trips, not the commit, made the batch slow.
    let mut fresh = std::collections::HashSet::new();
    for chunk in batch.chunks(INSERT_CHUNK) {
        fresh.extend(insert_events(&mut tx, chunk).await?);
    }
    // The new events, by provider in arrival order; one processing job per
    // few dozen of them, so that processing keeps pace with a burst (one
    // read and one commit for many events, see `Payments::process_events`).
    let mut new_ids: Vec<(&str, Vec<String>)> = Vec::new();
    for p in batch {
        // `remove`: a duplicate inside the same batch counts as new only once.
        let new = fresh.remove(&(p.provider.clone(), p.event_id.clone()));
        if new {
            match new_ids
                .iter_mut()
                .find(|(provider, _)| *provider == p.provider)
            {
                Some((_, ids)) => ids.push(p.event_id.clone()),
                None => new_ids.push((&p.provider, vec![p.event_id.clone()])),
            }
        }
        stored.push(new);
    }
    // A job of several events continues the trace of the first.
    let traces: HashMap<&str, &str> = batch
        .iter()
        .filter_map(|p| Some((p.event_id.as_str(), p.trace_context.as_deref()?)))
        .collect();
    for (provider, ids) in &new_ids {
        jobs.extend(ids.chunks(EVENTS_PER_JOB).map(|chunk| {
            let mut job = process_events_job(provider, chunk);
            job.trace_context = traces.get(chunk[0].as_str()).map(|t| t.to_string());
            job
        }));
    }
    if !jobs.is_empty() {
        cielo_jobs::enqueue_many(&mut tx, &jobs).await?;
    }
    tx.commit().await?;
    Ok(stored)
}

async fn writer(db: Db, mut rx: tokio::sync::mpsc::Receiver<Pending>) {
    loop {
        let mut batch = Vec::new();
        match rx.recv().await {
            Some(first) => batch.push(first),
            None => return,
        }
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        match write_batch(&db, &batch).await {
            Ok(stored) => {
                for (p, s) in batch.into_iter().zip(stored) {
                    let _ = p.reply.send(Ok(s));
                }
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), events = batch.len(), "storing webhooks failed; the provider will retry");
                for p in batch {
                    let _ = p.reply.send(Err(format!("{e:#}")));
                }
            }
        }
    }
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks")
            .field("providers", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[derive(serde::Deserialize)]
struct Head {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    created: i64,
}

impl Webhooks {
    /// Endpoints storing into `db`, accepting signatures up to `tolerance_secs` old.
    /// Must be called inside a tokio runtime: it starts the writer tasks.
    pub fn new(db: Db, tolerance_secs: i64) -> Self {
        let (tx, rx) = tokio::sync::mpsc::channel(8 * MAX_BATCH);
        // One writer: while it commits a batch the next one gathers, so the
        // batch grows with the rate. On PostgreSQL, several writers made
        // smaller batches that queue on the same commit anyway (a NOTIFY
        // serialises commits): at 3,000 webhooks/s with the worker in the
        // same process, p99 was 7.5 ms with one writer, 8–12 with two and
        // 14 with four (bench/webhooks.sh); SQLite has one writer regardless.
        tokio::spawn(writer(db.clone(), rx));
        Self {
            db: Some(db),
            secrets: HashMap::new(),
            tolerance_secs,
            writer: Some(tx),
        }
    }

    /// Accepts webhooks for `provider` signed with any of `secrets`.
    pub fn accept(mut self, provider: &str, secrets: Vec<String>) -> Self {
        self.secrets.insert(
            provider.to_string(),
            secrets.into_iter().filter(|s| !s.is_empty()).collect(),
        );
        self
    }

    /// Verifies a webhook on its raw bytes and stores it. Nothing is stored
    /// unless the signature verifies.
    pub async fn receive(
        &self,
        provider: &str,
        header: Option<&str>,
        body: &[u8],
    ) -> Result<Received, WebhookError> {
        let (Some(db), Some(secrets)) = (&self.db, self.secrets.get(provider)) else {
            return Err(WebhookError::UnknownProvider(provider.to_string()));
        };
        let now = Timestamp::now().as_unix_seconds();
        if let Err(e) = signature::verify(
            header.unwrap_or(""),
            body,
            secrets,
            now,
            self.tolerance_secs,
        ) {
            if let Err(count_error) = count_rejection(db, provider, now).await {
                tracing::warn!(error = %format!("{count_error:#}"), "could not count a refused webhook");
            }
            return Err(e.into());
        }
        let text = std::str::from_utf8(body)
            .map_err(|_| WebhookError::Malformed("the body is not UTF-8".into()))?;
        let head: Head = serde_json::from_str(text)
            .map_err(|e| WebhookError::Malformed(format!("not an event: {e}")))?;
        if head.id.is_empty() {
            return Err(WebhookError::Malformed("the event has no id".into()));
        }
        let stored = match &self.writer {
            Some(writer) => {
                let (reply, answer) = tokio::sync::oneshot::channel();
                let pending = Pending {
                    provider: provider.to_string(),
                    event_id: head.id,
                    event_type: head.kind,
                    created: head.created,
                    payload: text.to_string(),
                    trace_context: cielo_core::telemetry::current_trace_context(),
                    reply,
                };
                writer
                    .send(pending)
                    .await
                    .map_err(|_| anyhow::anyhow!("the webhook writer has stopped"))?;
                answer
                    .await
                    .map_err(|_| anyhow::anyhow!("the webhook writer has stopped"))?
                    .map_err(|e| anyhow::anyhow!(e))?
            }
            None => {
                let mut tx = db.begin_write().await.map_err(anyhow::Error::from)?;
                let stored = store_event(
                    &mut tx,
                    provider,
                    &head.id,
                    &head.kind,
                    head.created,
                    text,
                    "webhook",
                )
                .await?;
                tx.commit().await.map_err(anyhow::Error::from)?;
                stored
            }
        };
        Ok(if stored {
            Received::Stored
        } else {
            Received::Duplicate
        })
    }
}

/// Counts one webhook refused for its signature (per provider and minute).
async fn count_rejection(db: &Db, provider: &str, now_secs: i64) -> anyhow::Result<()> {
    sqlx::query(
        "insert into payment_webhook_rejection (provider, minute, count) values ($1, $2, 1) \
         on conflict (provider, minute) do update set count = payment_webhook_rejection.count + 1",
    )
    .bind(provider)
    .bind(now_secs.div_euclid(60))
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Webhooks refused for their signature (every provider) in the last
/// `minutes` minutes, the current minute included.
pub async fn signature_failures(db: &Db, minutes: i64) -> anyhow::Result<i64> {
    let now = Timestamp::now().as_unix_seconds().div_euclid(60);
    let n: Option<i64> = sqlx::query_scalar(
        "select cast(coalesce(sum(count), 0) as bigint) from payment_webhook_rejection where minute > $1",
    )
    .bind(now - minutes.max(1))
    .fetch_one(db.pool())
    .await?;
    Ok(n.unwrap_or(0))
}

/// Stores an event in the inbox and enqueues its processing, in the caller's
/// transaction. Returns false (and does nothing) when it is there already.
pub async fn store_event(
    conn: &mut AnyConnection,
    provider: &str,
    event_id: &str,
    event_type: &str,
    created: i64,
    payload: &str,
    source: &str,
) -> anyhow::Result<bool> {
    let inserted = insert_event(
        conn, provider, event_id, event_type, created, payload, source,
    )
    .await?;
    if inserted {
        cielo_jobs::enqueue(conn, process_job(provider, event_id)).await?;
    }
    Ok(inserted)
}

/// Most events one processing job carries.
const EVENTS_PER_JOB: usize = 50;

/// The job processing `event_ids` (stored together), in that order.
fn process_events_job(provider: &str, event_ids: &[String]) -> cielo_jobs::NewJob {
    match event_ids {
        [one] => process_job(provider, one),
        _ => cielo_jobs::NewJob::new(
            KIND_PROCESS_EVENT,
            serde_json::json!({"provider": provider, "event_ids": event_ids}),
        )
        .queue("payments")
        .max_attempts(20),
    }
}

fn process_job(provider: &str, event_id: &str) -> cielo_jobs::NewJob {
    cielo_jobs::NewJob::new(
        KIND_PROCESS_EVENT,
        serde_json::json!({"provider": provider, "event_id": event_id}),
    )
    .queue("payments")
    .max_attempts(20)
}

async fn insert_event(
    conn: &mut AnyConnection,
    provider: &str,
    event_id: &str,
    event_type: &str,
    created: i64,
    payload: &str,
    source: &str,
) -> anyhow::Result<bool> {
    let inserted = sqlx::query(
        "insert into payments_inbox (provider, event_id, event_type, created, payload, source, received_at)
         values ($1, $2, $3, $4, $5, $6, $7) on conflict (provider, event_id) do nothing",
    )
    .bind(provider)
    .bind(event_id)
    .bind(event_type)
    .bind(created)
    .bind(payload)
    .bind(source)
    .bind(Timestamp::now().as_micros())
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    Ok(inserted)
}

/// One stored event.
#[derive(Debug, Clone)]
pub struct InboxEvent {
    /// Provider name.
    pub provider: String,
    /// The provider's event id.
    pub event_id: String,
    /// The raw JSON as received.
    pub payload: String,
    /// When processing finished, if it did.
    pub processed_at: Option<Timestamp>,
    /// What processing did.
    pub outcome: Option<String>,
}

/// An event from a row with provider, event_id, payload, processed_at, outcome.
fn event_from_row(r: &cielo_db::sqlx::any::AnyRow) -> anyhow::Result<InboxEvent> {
    Ok(InboxEvent {
        provider: r.try_get("provider")?,
        event_id: r.try_get("event_id")?,
        payload: r.try_get("payload")?,
        processed_at: r
            .try_get::<Option<i64>, _>("processed_at")?
            .map(Timestamp::from_micros),
        outcome: r.try_get("outcome")?,
    })
}

/// Reads a stored event.
pub async fn load_event(
    conn: &mut AnyConnection,
    provider: &str,
    event_id: &str,
) -> anyhow::Result<Option<InboxEvent>> {
    let row = sqlx::query("select provider, event_id, payload, processed_at, outcome from payments_inbox where provider = $1 and event_id = $2")
        .bind(provider)
        .bind(event_id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(match row {
        None => None,
        Some(r) => Some(event_from_row(&r)?),
    })
}

/// Reads stored events of one provider (those of `event_ids` that exist, in no particular order).
pub async fn load_events(
    conn: &mut AnyConnection,
    provider: &str,
    event_ids: &[String],
) -> anyhow::Result<Vec<InboxEvent>> {
    let mut events = Vec::with_capacity(event_ids.len());
    for chunk in event_ids.chunks(IN_LIST_CHUNK) {
        let sql = format!(
            "select provider, event_id, payload, processed_at, outcome from payments_inbox where provider = $1 and event_id in ({})",
            cielo_db::placeholders(2, chunk.len())
        );
        let mut q = sqlx::query(&sql).bind(provider);
        for id in chunk {
            q = q.bind(id);
        }
        for r in q.fetch_all(&mut *conn).await? {
            events.push(event_from_row(&r)?);
        }
    }
    Ok(events)
}

/// Ids per `in (…)` list: one statement text per length, so a bounded number of them.
const IN_LIST_CHUNK: usize = 100;

/// Marks several events processed, each with what it did, in few statements.
pub async fn mark_processed_many(
    conn: &mut AnyConnection,
    provider: &str,
    outcomes: &[(String, String)],
) -> anyhow::Result<()> {
    let now = Timestamp::now().as_micros();
    for chunk in outcomes.chunks(IN_LIST_CHUNK) {
        // outcome = case event_id when $3 then $4 when $5 then $6 … end
        let cases: Vec<String> = (0..chunk.len())
            .map(|i| format!("when ${} then ${}", 3 + 2 * i, 4 + 2 * i))
            .collect();
        let ids: Vec<String> = (0..chunk.len())
            .map(|i| format!("${}", 3 + 2 * i))
            .collect();
        let sql = format!(
            "update payments_inbox set processed_at = $2, outcome = case event_id {} end where provider = $1 and event_id in ({})",
            cases.join(" "),
            ids.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(provider).bind(now);
        for (id, outcome) in chunk {
            q = q.bind(id).bind(outcome);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Marks an event processed, with what it did.
pub async fn mark_processed(
    conn: &mut AnyConnection,
    provider: &str,
    event_id: &str,
    outcome: &str,
) -> anyhow::Result<()> {
    sqlx::query("update payments_inbox set processed_at = $3, outcome = $4 where provider = $1 and event_id = $2")
        .bind(provider)
        .bind(event_id)
        .bind(Timestamp::now().as_micros())
        .bind(outcome)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Counts stored events (all, unprocessed), for tests and tools.
pub async fn count_events(db: &Db) -> anyhow::Result<(i64, i64)> {
    let r = sqlx::query("select count(*) as n, coalesce(sum(case when processed_at is null then 1 else 0 end), 0) as pending from payments_inbox")
        .fetch_one(db.pool())
        .await?;
    Ok((r.try_get("n")?, r.try_get("pending")?))
}

/// What we know of an order's payment.
#[derive(Debug, Clone, Default)]
pub struct PaymentRecord {
    /// Our order id.
    pub order_id: String,
    /// Provider name.
    pub provider: String,
    /// Checkout Session id.
    pub session_id: Option<String>,
    /// PaymentIntent id.
    pub payment_intent: Option<String>,
    /// Amount taken.
    pub amount: Option<i64>,
    /// Currency.
    pub currency: Option<String>,
    /// Refunded so far.
    pub amount_refunded: i64,
}

/// Records (or updates) what we know of an order's payment; known values are kept.
pub async fn upsert_payment(conn: &mut AnyConnection, p: &PaymentRecord) -> anyhow::Result<()> {
    sqlx::query(
        "insert into payments_payment (order_id, provider, session_id, payment_intent, amount, currency, amount_refunded, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         on conflict (order_id) do update set
            session_id = coalesce(excluded.session_id, payments_payment.session_id),
            payment_intent = coalesce(excluded.payment_intent, payments_payment.payment_intent),
            amount = coalesce(excluded.amount, payments_payment.amount),
            currency = coalesce(excluded.currency, payments_payment.currency),
            amount_refunded = case when excluded.amount_refunded > payments_payment.amount_refunded
                                   then excluded.amount_refunded else payments_payment.amount_refunded end,
            updated_at = excluded.updated_at",
    )
    .bind(&p.order_id)
    .bind(&p.provider)
    .bind(&p.session_id)
    .bind(&p.payment_intent)
    .bind(p.amount)
    .bind(&p.currency)
    .bind(p.amount_refunded)
    .bind(Timestamp::now().as_micros())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn payment_from_row(r: &cielo_db::sqlx::any::AnyRow) -> anyhow::Result<PaymentRecord> {
    Ok(PaymentRecord {
        order_id: r.try_get("order_id")?,
        provider: r.try_get("provider")?,
        session_id: r.try_get("session_id")?,
        payment_intent: r.try_get("payment_intent")?,
        amount: r.try_get("amount")?,
        currency: r.try_get("currency")?,
        amount_refunded: r.try_get("amount_refunded")?,
    })
}

/// The payment of an order.
pub async fn payment_of_order(
    conn: &mut AnyConnection,
    order_id: &str,
) -> anyhow::Result<Option<PaymentRecord>> {
    let r = sqlx::query("select * from payments_payment where order_id = $1")
        .bind(order_id)
        .fetch_optional(&mut *conn)
        .await?;
    r.as_ref().map(payment_from_row).transpose()
}

/// The payment with this PaymentIntent (refund and dispute events point at it).
pub async fn payment_by_intent(
    conn: &mut AnyConnection,
    provider: &str,
    intent: &str,
) -> anyhow::Result<Option<PaymentRecord>> {
    let r =
        sqlx::query("select * from payments_payment where provider = $1 and payment_intent = $2")
            .bind(provider)
            .bind(intent)
            .fetch_optional(&mut *conn)
            .await?;
    r.as_ref().map(payment_from_row).transpose()
}

/// The catch-up cursor of a provider (unix seconds), if any.
pub async fn cursor(conn: &mut AnyConnection, provider: &str) -> anyhow::Result<Option<i64>> {
    let r = sqlx::query("select created from payments_cursor where provider = $1")
        .bind(provider)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(r.map(|r| r.try_get("created")).transpose()?)
}

/// Moves a provider's catch-up cursor forward (never back).
pub async fn advance_cursor(
    conn: &mut AnyConnection,
    provider: &str,
    created: i64,
) -> anyhow::Result<()> {
    sqlx::query(
        "insert into payments_cursor (provider, created, updated_at) values ($1, $2, $3)
         on conflict (provider) do update set created = case when excluded.created > payments_cursor.created
             then excluded.created else payments_cursor.created end, updated_at = excluded.updated_at",
    )
    .bind(provider)
    .bind(created)
    .bind(Timestamp::now().as_micros())
    .execute(&mut *conn)
    .await?;
    Ok(())
}
