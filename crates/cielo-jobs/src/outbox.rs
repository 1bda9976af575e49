//! The transactional outbox: events written with the state change they
//! announce, dispatched as one job per subscriber.

use crate::queue::{backend_of, NewJob};
use crate::store;
use crate::{Error, EventId, JobId, Registry};
use cielo_core::Timestamp;
use cielo_db::Db;
use sqlx::AnyConnection;

/// Writes an event in the caller's transaction. If that transaction rolls
/// back, the event never existed and no subscriber hears of it.
pub async fn publish(
    conn: &mut AnyConnection,
    topic: &str,
    payload: serde_json::Value,
) -> Result<EventId, Error> {
    publish_with_request_id(conn, topic, payload, None).await
}

/// [`publish`], remembering the request that caused the event; the
/// subscribers' jobs carry it.
pub async fn publish_with_request_id(
    conn: &mut AnyConnection,
    topic: &str,
    payload: serde_json::Value,
    request_id: Option<&str>,
) -> Result<EventId, Error> {
    let id = EventId::new();
    let now = Timestamp::now().as_micros();
    let trace_context = cielo_core::telemetry::current_trace_context();
    store::insert_event(
        conn,
        &store::InsertEvent {
            id: &id.to_string(),
            topic,
            payload: &payload.to_string(),
            request_id,
            trace_context: trace_context.as_deref(),
        },
        now,
    )
    .await?;
    store::notify(conn, backend_of(conn), "event").await?;
    crate::worker::wake_local_dispatchers();
    Ok(id)
}

/// Events dispatched per transaction.
const DISPATCH_BATCH: i64 = 200;

/// Turns every undispatched event into one job per subscriber of its topic,
/// and marks it dispatched in the same transaction, so each (event,
/// subscriber) gets exactly one job. The job's unique key is
/// `<event id>:<subscriber kind>`. Returns how many events were dispatched.
pub async fn dispatch_events(db: &Db, registry: &Registry) -> Result<usize, Error> {
    let mut total = 0;
    loop {
        let n = dispatch_batch(db, registry).await?;
        total += n;
        if n < DISPATCH_BATCH as usize {
            return Ok(total);
        }
    }
}

async fn dispatch_batch(db: &Db, registry: &Registry) -> Result<usize, Error> {
    let mut tx = db.begin_write().await?;
    let events = store::lock_undispatched_events(&mut tx, db.backend(), DISPATCH_BATCH).await?;
    if events.is_empty() {
        return Ok(0);
    }
    let now = Timestamp::now().as_micros();
    let mut jobs = Vec::new();
    for event in &events {
        let payload: serde_json::Value = serde_json::from_str(&event.payload)
            .map_err(|_| Error::MalformedPayload(event.id.clone()))?;
        for sub in registry.subscribers(&event.topic) {
            let mut job = NewJob::new(sub.kind.clone(), payload.clone())
                .queue(sub.queue.clone())
                .max_attempts(sub.max_attempts)
                .priority(registry.priority_of(&sub.kind))
                .unique_key(format!("{}:{}", event.id, sub.kind));
            job.request_id = event.request_id.clone();
            job.trace_context = event.trace_context.clone();
            jobs.push((job, event.id.clone()));
        }
    }
    let rows: Vec<_> = jobs
        .iter()
        .map(|(j, event_id)| j.to_insert(JobId::new(), now, Some(event_id.clone()), None))
        .collect();
    let inserted = store::insert_jobs(&mut tx, &rows, now).await?;
    let ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
    store::mark_dispatched(&mut tx, db.backend(), &ids, now).await?;
    if !inserted.is_empty() {
        store::notify(&mut tx, db.backend(), "job").await?;
    }
    tx.commit().await?;
    if !inserted.is_empty() {
        crate::worker::wake_local_workers();
    }
    tracing::debug!(
        events = events.len(),
        jobs = inserted.len(),
        "dispatched outbox events"
    );
    Ok(events.len())
}
