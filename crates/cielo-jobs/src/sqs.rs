//! Amazon SQS as the job transport (`jobs.transport = "sqs"`).
//!
//! Enqueueing does not change: [`crate::enqueue`] and [`crate::publish`]
//! write in the caller's transaction, so a job exists only if that
//! transaction commits (the outbox). A **relay** ([`SqsTransport::relay`])
//! then claims committed, due jobs, sends them to SQS and deletes their rows;
//! workers (a `cielo serve --role worker` process, or the worker Lambda
//! function) receive them from SQS and run the same handlers.
//!
//! How the queue's guarantees map onto SQS:
//!
//! | database transport | SQS transport |
//! | --- | --- |
//! | lease (`lease_seconds`) | the message's visibility timeout (set to `lease_seconds` on receive; [`crate::Heartbeat::beat`] extends it) |
//! | attempt number | `ApproximateReceiveCount` |
//! | retry after backoff | `ChangeMessageVisibility` to the backoff, message left on the queue |
//! | dead after `max_attempts`, or a permanent error | the job is written to `jobs_job` as `dead` (listed and retried as usual) and the message deleted |
//! | a job no code can handle (unreadable message, a worker that crashes on it) | the queue's redrive policy moves it to the dead-letter queue after `maxReceiveCount` receives |
//! | unique job id | FIFO queues: `MessageDeduplicationId` from the job id; `MessageGroupId` from `jobs.sqs.group_field` |
//!
//! Delivery stays at least once: a relay that dies between sending and
//! deleting sends the job again after its lease, and SQS itself may deliver
//! a message twice on standard queues. Handlers are idempotent as always.

mod client;

pub use client::{BatchEntry, BatchResult, ReceivedMessage, SqsClient, SqsConfig, SqsError};

use crate::metrics::{AttemptOutcome, JobMetrics};
use crate::store::{self, QueueFilter};
use crate::worker::{claim_batch, run_handler, HeartbeatTarget, LOCAL_EVENT_WAKE, LOCAL_JOB_WAKE};
use crate::{Error, EventId, Heartbeat, JobContext, JobError, JobId, JobsSettings, Registry};
use cielo_core::Timestamp;
use cielo_db::{Backend, Db};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The message body: a job as the relay sends it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobMessage {
    /// The job id (its idempotency key).
    pub id: String,
    /// Handler kind.
    pub kind: String,
    /// Job queue name.
    pub queue: String,
    /// Arguments.
    pub payload: serde_json::Value,
    /// Attempts before the job is dead.
    pub max_attempts: u32,
    /// For a subscriber's job: the outbox event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The request that caused the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The trace the job continues (a W3C `traceparent` value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_context: Option<String>,
}

/// What became of one received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The handler succeeded: delete the message.
    Done,
    /// The attempt failed and will be retried: the message stays on the
    /// queue and becomes visible again after the backoff.
    Retry(String),
    /// The job is dead (permanent error or last attempt); it is recorded in
    /// the dead letters, so the message is deleted.
    Dead(String),
    /// The body is not a job: left on the queue, so that the redrive policy
    /// moves it to the dead-letter queue.
    Malformed(String),
}

impl Delivery {
    /// True when the message must stay on the queue (a failed item of a
    /// Lambda batch response).
    pub fn keeps_message(&self) -> bool {
        matches!(self, Delivery::Retry(_) | Delivery::Malformed(_))
    }
}

/// Jobs claimed per relay round: one `SendMessageBatch` (SQS takes ten at
/// most), so that a claim is held only for the time of one call.
const RELAY_BATCH: usize = 10;

/// The shortest lease of a relay's claim. A claim outlives its send call by
/// far; if the relay dies in between, the jobs are sent again after this.
const RELAY_MIN_LEASE: Duration = Duration::from_secs(10);

/// The SQS side of the job queue: a relay that sends committed jobs, and the
/// consumer logic that runs a received message. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SqsTransport {
    client: SqsClient,
    default_url: String,
    queue_urls: std::collections::BTreeMap<String, String>,
    group_field: Option<String>,
    wait: Duration,
    settings: JobsSettings,
}

impl SqsTransport {
    /// From the `[jobs]` settings, with credentials and region from the
    /// environment (see [`SqsConfig::from_env`]).
    pub fn from_settings(settings: &JobsSettings) -> Result<Self, Error> {
        let config = SqsConfig::from_env(
            settings.sqs.region.as_deref(),
            settings.sqs.endpoint.as_deref(),
        )
        .map_err(|e| Error::Transport(e.to_string()))?;
        Self::with_client(SqsClient::new(config), settings)
    }

    /// With an explicit client.
    pub fn with_client(client: SqsClient, settings: &JobsSettings) -> Result<Self, Error> {
        let default_url = settings.sqs.queue_url.clone().ok_or_else(|| {
            Error::Transport("jobs.transport = \"sqs\" needs jobs.sqs.queue_url".into())
        })?;
        Ok(Self {
            client,
            default_url,
            queue_urls: settings.sqs.queues.clone(),
            group_field: settings.sqs.group_field.clone(),
            wait: Duration::from_secs(settings.sqs.wait_seconds.min(20)),
            settings: settings.clone(),
        })
    }

    /// The client.
    pub fn client(&self) -> &SqsClient {
        &self.client
    }

    /// The SQS queue that carries jobs of job queue `queue`.
    pub fn queue_url(&self, queue: &str) -> &str {
        self.queue_urls.get(queue).unwrap_or(&self.default_url)
    }

    /// Every SQS queue this transport sends to (each consumed by workers).
    pub fn queue_urls(&self) -> Vec<String> {
        let mut urls: Vec<String> = std::iter::once(self.default_url.clone())
            .chain(self.queue_urls.values().cloned())
            .collect();
        urls.sort();
        urls.dedup();
        urls
    }

    /// Moves committed work to SQS: dispatches outbox events into jobs, then
    /// claims every due job, sends it and deletes its row. A job SQS did not
    /// take goes back to waiting (its attempt not counted) for the next
    /// round. Returns the number of jobs sent.
    pub async fn relay(&self, db: &Db, registry: &Registry) -> Result<usize, Error> {
        crate::dispatch_events(db, registry).await?;
        let mut total = 0;
        loop {
            let jobs = claim_batch(
                db,
                &QueueFilter::Except(vec![]),
                RELAY_BATCH,
                self.settings.lease().max(RELAY_MIN_LEASE),
            )
            .await?;
            let claimed = jobs.len();
            if claimed == 0 {
                return Ok(total);
            }
            let mut by_url: std::collections::BTreeMap<&str, Vec<&store::Claimed>> =
                std::collections::BTreeMap::new();
            for job in &jobs {
                by_url
                    .entry(self.queue_url(&job.queue))
                    .or_default()
                    .push(job);
            }
            let mut sent: Vec<(String, String)> = Vec::new();
            let mut unsent: Vec<&store::Claimed> = Vec::new();
            let mut failure = None;
            for (url, group) in by_url {
                let fifo = url.ends_with(".fifo");
                for chunk in group.chunks(10) {
                    let entries: Vec<BatchEntry> = chunk
                        .iter()
                        .enumerate()
                        .map(|(i, job)| self.entry(i, job, fifo))
                        .collect();
                    match self.client.send_message_batch(url, &entries).await {
                        Ok(result) => {
                            for (i, job) in chunk.iter().enumerate() {
                                if result.sent.iter().any(|id| *id == format!("m{i}")) {
                                    sent.push((job.id.clone(), job.token.clone()));
                                } else {
                                    unsent.push(job);
                                }
                            }
                            if let Some((_, why)) = result.failed.first() {
                                failure = Some(format!("SQS refused a job: {why}"));
                            }
                        }
                        Err(e) => {
                            unsent.extend(chunk.iter().copied());
                            failure = Some(e.to_string());
                        }
                    }
                }
            }
            let now = Timestamp::now().as_micros();
            let mut tx = db.begin_write().await?;
            if !sent.is_empty() {
                let n = store::complete(&mut tx, db.backend(), &sent).await?;
                if n < sent.len() as u64 {
                    tracing::warn!(
                        lost = sent.len() as u64 - n,
                        "relayed jobs had lost their claim; they may be sent twice"
                    );
                }
            }
            let mut by_token: std::collections::HashMap<&str, Vec<String>> =
                std::collections::HashMap::new();
            for job in &unsent {
                by_token.entry(&job.token).or_default().push(job.id.clone());
            }
            for (token, ids) in by_token {
                store::release_unstarted(&mut tx, db.backend(), token, &ids, now).await?;
            }
            tx.commit().await?;
            total += sent.len();
            if let Some(why) = failure {
                return Err(Error::Transport(why));
            }
            if claimed < RELAY_BATCH {
                return Ok(total);
            }
        }
    }

    fn entry(&self, i: usize, job: &store::Claimed, fifo: bool) -> BatchEntry {
        let payload: serde_json::Value =
            serde_json::from_str(&job.payload).unwrap_or(serde_json::Value::Null);
        let group = fifo.then(|| {
            self.group_field
                .as_deref()
                .and_then(|f| payload.get(f))
                .map(|v| match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .unwrap_or_else(|| job.id.clone())
        });
        let body = JobMessage {
            id: job.id.clone(),
            kind: job.kind.clone(),
            queue: job.queue.clone(),
            payload,
            max_attempts: job.max_attempts.max(1) as u32,
            event_id: job.event_id.clone(),
            request_id: job.request_id.clone(),
            trace_context: job.trace_context.clone(),
        };
        BatchEntry {
            id: format!("m{i}"),
            message_body: serde_json::to_string(&body).expect("JSON values serialise"),
            message_group_id: group,
            // The job id, plus its run time so that a dead job retried by a
            // person within SQS's five-minute window is not taken for a duplicate.
            message_deduplication_id: fifo.then(|| format!("{}-{}", job.id, job.run_at)),
        }
    }

    /// Runs the job a received message carries and says what to do with the
    /// message. Does not delete it: a worker process deletes a message that
    /// does not [`Delivery::keeps_message`]; Lambda does so itself for the
    /// items a batch response does not list as failed.
    ///
    /// A failed attempt sets the message's visibility to the retry delay; a
    /// dead job is written to the dead letters (`jobs_job`, state `dead`).
    pub async fn handle_message(
        &self,
        db: &Db,
        registry: &Registry,
        queue_url: &str,
        message: &ReceivedMessage,
    ) -> Delivery {
        let job: JobMessage = match serde_json::from_str(&message.body) {
            Ok(j) => j,
            Err(e) => {
                tracing::error!(message_id = %message.message_id, error = %e, "an SQS message is not a job; leaving it for the dead-letter queue");
                return Delivery::Malformed(format!("not a job message: {e}"));
            }
        };
        let Ok(id) = JobId::parse(&job.id) else {
            return Delivery::Malformed(format!("not a job id: {}", job.id));
        };
        let attempt = message.receive_count.max(1);
        let max_attempts = job.max_attempts.max(1);
        let ctx = JobContext {
            id,
            kind: job.kind.clone(),
            queue: job.queue.clone(),
            attempt,
            max_attempts,
            event_id: job.event_id.as_deref().and_then(|e| EventId::parse(e).ok()),
            request_id: job.request_id.clone(),
            trace_context: job.trace_context.clone(),
            db: db.clone(),
            heartbeat: Heartbeat::new(
                HeartbeatTarget::Message {
                    client: self.client.clone(),
                    queue_url: queue_url.to_string(),
                    receipt: message.receipt_handle.clone(),
                },
                self.settings.lease(),
            ),
        };
        let result = run_handler(registry, ctx, job.payload.clone()).await;
        let err = match result {
            Ok(()) => return Delivery::Done,
            Err(e) => e,
        };
        let error: String = err.message().chars().take(4000).collect();
        match err {
            JobError::Retry { after, .. } if attempt < max_attempts => {
                let delay = after.unwrap_or_else(|| self.settings.backoff(attempt));
                tracing::warn!(job_id = %job.id, kind = %job.kind, attempt, error = %error, retry_in_ms = delay.as_millis() as u64, "job failed, will retry");
                // Whole seconds, rounded up: SQS counts visibility in seconds.
                let secs = Duration::from_secs(delay.as_millis().div_ceil(1000) as u64);
                if let Err(e) = self
                    .client
                    .change_visibility(queue_url, &message.receipt_handle, secs)
                    .await
                {
                    tracing::warn!(job_id = %job.id, error = %e, "could not set the retry delay; the job returns after its visibility timeout");
                }
                Delivery::Retry(error)
            }
            _ => {
                tracing::error!(job_id = %job.id, kind = %job.kind, attempt, error = %error, "job is dead");
                let payload = job.payload.to_string();
                let dead = store::DeadJob {
                    id: &job.id,
                    queue: &job.queue,
                    kind: &job.kind,
                    payload: &payload,
                    attempts: i64::from(attempt),
                    max_attempts: i64::from(max_attempts),
                    error: &error,
                    event_id: job.event_id.as_deref(),
                    request_id: job.request_id.as_deref(),
                };
                let written: Result<(), Error> = async {
                    let mut tx = db.begin_write().await?;
                    store::insert_dead(&mut tx, &dead, Timestamp::now().as_micros()).await?;
                    tx.commit().await?;
                    Ok(())
                }
                .await;
                match written {
                    Ok(()) => Delivery::Dead(error),
                    // Not recorded: keep the message; it comes back and dies again.
                    Err(e) => {
                        Delivery::Retry(format!("{error} (and recording it dead failed: {e})"))
                    }
                }
            }
        }
    }

    /// Receives one batch from `queue_url` (long polling), runs each message
    /// and deletes those that are done. For tests and tools; a worker process
    /// uses [`crate::Worker::run`]. Returns the deliveries.
    pub async fn consume_once(
        &self,
        db: &Db,
        registry: &Registry,
        queue_url: &str,
        max: u32,
    ) -> Result<Vec<Delivery>, Error> {
        let messages = self
            .client
            .receive_messages(queue_url, max, self.wait, self.settings.lease())
            .await
            .map_err(|e| Error::Transport(e.to_string()))?;
        let mut out = Vec::with_capacity(messages.len());
        for m in &messages {
            let d = self.handle_message(db, registry, queue_url, m).await;
            if !d.keeps_message() {
                self.client
                    .delete_message(queue_url, &m.receipt_handle)
                    .await
                    .map_err(|e| Error::Transport(e.to_string()))?;
            }
            out.push(d);
        }
        Ok(out)
    }
}

/// A worker process on the SQS transport: relays committed jobs, consumes
/// every configured SQS queue with up to `concurrency` jobs at once, and
/// returns expired relay leases; until `shutdown`.
pub(crate) async fn run_worker(
    db: Db,
    registry: Arc<Registry>,
    settings: JobsSettings,
    metrics: Arc<JobMetrics>,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let transport = SqsTransport::from_settings(&settings)?;
    let background = shutdown.child_token();
    let wake = Arc::new(Notify::new());
    let mut helpers = JoinSet::new();
    if db.backend() == Backend::Postgres {
        helpers.spawn(crate::worker::listen(
            db.url().expose().to_string(),
            wake.clone(),
            wake.clone(),
            background.clone(),
        ));
    }
    helpers.spawn(crate::worker::maintain_loop_on(
        db.clone(),
        settings.clone(),
        background.clone(),
    ));
    {
        let (t, db, registry, stop, wake) = (
            transport.clone(),
            db.clone(),
            registry.clone(),
            background.clone(),
            wake.clone(),
        );
        let poll = Duration::from_millis(settings.poll_interval_ms.max(1));
        helpers.spawn(async move {
            while !stop.is_cancelled() {
                if let Err(e) = t.relay(&db, &registry).await {
                    tracing::error!(error = %e, "relaying jobs to SQS failed");
                }
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = LOCAL_JOB_WAKE.notified() => {}
                    _ = LOCAL_EVENT_WAKE.notified() => {}
                    _ = tokio::time::sleep(poll) => {}
                    _ = stop.cancelled() => {}
                }
            }
        });
    }
    let slots = Arc::new(Semaphore::new(settings.concurrency.max(1)));
    let mut consumers = JoinSet::new();
    for url in transport.queue_urls() {
        consumers.spawn(consume_loop(
            transport.clone(),
            db.clone(),
            registry.clone(),
            metrics.clone(),
            slots.clone(),
            url,
            shutdown.clone(),
        ));
    }
    while consumers.join_next().await.is_some() {}
    background.cancel();
    while helpers.join_next().await.is_some() {}
    Ok(())
}

async fn consume_loop(
    t: SqsTransport,
    db: Db,
    registry: Arc<Registry>,
    metrics: Arc<JobMetrics>,
    slots: Arc<Semaphore>,
    url: String,
    shutdown: CancellationToken,
) {
    let mut running = JoinSet::new();
    let mut failures = 0u32;
    // Finished messages are deleted ten per call (one request instead of ten).
    let (done, receipts) = tokio::sync::mpsc::unbounded_channel::<String>();
    let deleter = tokio::spawn(delete_loop(t.client.clone(), url.clone(), receipts));
    while !shutdown.is_cancelled() {
        while running.try_join_next().is_some() {}
        // Receive only as many messages as there are free slots: a received
        // message is invisible to other workers until it is done.
        let first = tokio::select! {
            p = slots.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = shutdown.cancelled() => break,
        };
        let extra = slots.available_permits().min(9);
        let mut permits = vec![first];
        for _ in 0..extra {
            match slots.clone().try_acquire_owned() {
                Ok(p) => permits.push(p),
                Err(_) => break,
            }
        }
        let received = tokio::select! {
            r = t.client.receive_messages(&url, permits.len() as u32, t.wait, t.settings.lease()) => r,
            _ = shutdown.cancelled() => break,
        };
        let messages = match received {
            Ok(m) => {
                failures = 0;
                m
            }
            Err(e) => {
                failures += 1;
                tracing::error!(queue_url = %url, error = %e, "receiving jobs from SQS failed");
                let pause = Duration::from_millis(100u64 << failures.min(6));
                tokio::select! { _ = tokio::time::sleep(pause) => {}, _ = shutdown.cancelled() => {} }
                continue;
            }
        };
        for (m, permit) in messages.into_iter().zip(permits) {
            let (t, db, registry, metrics, url, done) = (
                t.clone(),
                db.clone(),
                registry.clone(),
                metrics.clone(),
                url.clone(),
                done.clone(),
            );
            running.spawn(async move {
                let _permit = permit;
                let started = Instant::now();
                let d = t.handle_message(&db, &registry, &url, &m).await;
                let outcome = match &d {
                    Delivery::Done => AttemptOutcome::Succeeded,
                    Delivery::Dead(_) => AttemptOutcome::Dead,
                    Delivery::Retry(_) | Delivery::Malformed(_) => AttemptOutcome::Retried,
                };
                let queue = serde_json::from_str::<JobMessage>(&m.body)
                    .map(|j| j.queue)
                    .unwrap_or_else(|_| "unknown".into());
                metrics.record(&queue, started.elapsed(), outcome);
                if !d.keeps_message() {
                    let _ = done.send(m.receipt_handle);
                }
            });
        }
    }
    // Running jobs finish (or their messages come back after the visibility timeout).
    let deadline = tokio::time::sleep(t.settings.shutdown_timeout());
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            next = running.join_next() => if next.is_none() { break },
            _ = &mut deadline => { running.shutdown().await; break; }
        }
    }
    drop(done);
    let _ = deleter.await;
}

/// Deletes finished messages in batches of up to ten: whatever arrived
/// while the previous call was under way goes in the next one.
async fn delete_loop(
    client: SqsClient,
    url: String,
    mut receipts: tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    let mut batch = Vec::with_capacity(10);
    while let Some(first) = receipts.recv().await {
        batch.push(first);
        while batch.len() < 10 {
            match receipts.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        match client.delete_message_batch(&url, &batch).await {
            Ok(failed) => {
                for (_, why) in failed {
                    tracing::warn!(reason = %why, "SQS did not delete a finished message; it may run again");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, messages = batch.len(), "deleting finished SQS messages failed; they may run again")
            }
        }
        batch.clear();
    }
}
