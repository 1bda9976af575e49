//! The worker runtime: handlers registered by kind, a [`Worker`] that claims
//! and runs jobs until shut down, and [`run_pending`] for tests.

use crate::metrics::{AttemptOutcome, JobMetrics};
use crate::store::{self, Claimed, Failure, QueueFilter};
use crate::{Error, EventId, JobId, JobsSettings};
use cielo_core::Timestamp;
use cielo_db::{Backend, Db};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Wakes the workers of this process when a job or event is written here.
/// On PostgreSQL other processes hear of it through NOTIFY; on SQLite, whose
/// queue lives in one process, this is the only wake-up besides polling.
pub(crate) static LOCAL_JOB_WAKE: LazyLock<Notify> = LazyLock::new(Notify::new);
pub(crate) static LOCAL_EVENT_WAKE: LazyLock<Notify> = LazyLock::new(Notify::new);

/// Jobs and events written in this process so far (committed or not).
static LOCAL_WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many times this process has enqueued a job or published an event
/// (in transactions that committed or not). A relay that has seen no change
/// since its last round has nothing new of this process's to send.
pub fn local_write_count() -> u64 {
    LOCAL_WRITES.load(std::sync::atomic::Ordering::Acquire)
}

/// A job was written in this process.
pub(crate) fn wake_local_workers() {
    LOCAL_WRITES.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    LOCAL_JOB_WAKE.notify_one();
}

/// An outbox event was written in this process.
pub(crate) fn wake_local_dispatchers() {
    LOCAL_WRITES.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    LOCAL_EVENT_WAKE.notify_one();
}

/// Why an attempt failed.
#[derive(Debug)]
pub enum JobError {
    /// Try again later: after `after`, or after the backoff when `None`.
    Retry {
        /// What went wrong (kept as the job's last error).
        message: String,
        /// An explicit delay (e.g. a provider's `Retry-After`).
        after: Option<Duration>,
    },
    /// Retrying cannot help: the job goes to the dead letters now.
    Permanent(String),
}

impl JobError {
    /// A retryable failure.
    pub fn retry(message: impl std::fmt::Display) -> Self {
        JobError::Retry {
            message: message.to_string(),
            after: None,
        }
    }
    /// A retryable failure with an explicit delay.
    pub fn retry_after(message: impl std::fmt::Display, after: Duration) -> Self {
        JobError::Retry {
            message: message.to_string(),
            after: Some(after),
        }
    }
    /// A failure that retrying cannot fix.
    pub fn permanent(message: impl std::fmt::Display) -> Self {
        JobError::Permanent(message.to_string())
    }
    pub(crate) fn message(&self) -> &str {
        match self {
            JobError::Retry { message, .. } | JobError::Permanent(message) => message,
        }
    }
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobError::Retry { message, .. } => write!(f, "retryable: {message}"),
            JobError::Permanent(message) => write!(f, "permanent: {message}"),
        }
    }
}

/// Any error becomes a retryable failure, so handlers can use `?`.
impl<E: Into<anyhow::Error>> From<E> for JobError {
    fn from(e: E) -> Self {
        JobError::retry(format!("{:#}", e.into()))
    }
}

/// The lease was lost: another worker may run the job now. Stop soon.
#[derive(Debug, thiserror::Error)]
#[error("the job's lease was lost (it expired and the job was given to another worker)")]
pub struct LeaseLost;

/// Extends a running job's lease; long jobs call [`Heartbeat::beat`] more
/// often than the lease lasts.
#[derive(Clone)]
pub struct Heartbeat {
    target: HeartbeatTarget,
    lease: Duration,
}

/// What a heartbeat extends: the job row's lease (database transport) or the
/// SQS message's visibility timeout (SQS transport).
#[derive(Clone)]
pub(crate) enum HeartbeatTarget {
    Row {
        db: Db,
        id: String,
        token: String,
    },
    Message {
        client: crate::sqs::SqsClient,
        queue_url: String,
        receipt: String,
    },
}

impl Heartbeat {
    pub(crate) fn new(target: HeartbeatTarget, lease: Duration) -> Self {
        Self { target, lease }
    }

    /// Extends the lease by the configured lease time from now.
    pub async fn beat(&self) -> Result<(), JobError> {
        match &self.target {
            HeartbeatTarget::Row { db, id, token } => {
                let now = Timestamp::now().as_micros();
                let until = now + self.lease.as_micros() as i64;
                let mut tx = db.begin_write().await.map_err(JobError::from)?;
                let n = store::extend_lease(&mut tx, id, token, until, now).await?;
                tx.commit().await.map_err(JobError::from)?;
                if n == 0 {
                    return Err(LeaseLost.into());
                }
                Ok(())
            }
            // SQS refuses the change once the receipt is stale (the message
            // became visible and another consumer received it).
            HeartbeatTarget::Message {
                client,
                queue_url,
                receipt,
            } => client
                .change_visibility(queue_url, receipt, self.lease)
                .await
                .map_err(|e| JobError::retry(format!("{LeaseLost}: {e}"))),
        }
    }
    /// The lease time.
    pub fn lease(&self) -> Duration {
        self.lease
    }
}

/// What a handler knows about the job it runs.
#[derive(Clone)]
pub struct JobContext {
    /// The job.
    pub id: JobId,
    /// Its kind.
    pub kind: String,
    /// Its queue.
    pub queue: String,
    /// This attempt, from 1.
    pub attempt: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// For a subscriber's job: the event. Key idempotent effects by
    /// `(event_id, kind)`.
    pub event_id: Option<EventId>,
    /// The request that caused the job, if any.
    pub request_id: Option<String>,
    /// The trace the job continues (a W3C `traceparent` value), when it was
    /// enqueued inside a traced span.
    pub trace_context: Option<String>,
    pub(crate) db: Db,
    pub(crate) heartbeat: Heartbeat,
}

impl JobContext {
    /// The database, for the handler's own writes.
    pub fn db(&self) -> &Db {
        &self.db
    }
    /// The lease extender.
    pub fn heartbeat(&self) -> &Heartbeat {
        &self.heartbeat
    }
    /// True on the last allowed attempt (e.g. to escalate instead of failing).
    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }
}

type HandlerFuture = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send>>;
type Handler = Arc<dyn Fn(JobContext, serde_json::Value) -> HandlerFuture + Send + Sync>;

/// A subscriber of an outbox topic: each event becomes one job of `kind`.
#[derive(Debug, Clone)]
pub(crate) struct Subscription {
    pub kind: String,
    pub queue: String,
    pub max_attempts: u32,
}

/// Handlers by job kind, and subscriptions of kinds to outbox topics.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<String, Handler>,
    subscriptions: HashMap<String, Vec<Subscription>>,
    priorities: HashMap<String, i32>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut kinds: Vec<_> = self.handlers.keys().collect();
        kinds.sort();
        f.debug_struct("Registry")
            .field("kinds", &kinds)
            .field("subscriptions", &self.subscriptions)
            .finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the handler of jobs of `kind`.
    pub fn handle<F, Fut>(&mut self, kind: &str, handler: F) -> &mut Self
    where
        F: Fn(JobContext, serde_json::Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |ctx, payload| Box::pin(handler(ctx, payload)));
        self.handlers.insert(kind.to_string(), handler);
        self
    }

    /// Registers the handler of jobs of `kind` whose payload deserialises to
    /// `T`; a payload that does not is a permanent failure (retrying cannot
    /// fix it).
    pub fn handle_json<T, F, Fut>(&mut self, kind: &str, handler: F) -> &mut Self
    where
        T: serde::de::DeserializeOwned + Send + 'static,
        F: Fn(JobContext, T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        self.handle(kind, move |ctx, payload| {
            let handler = handler.clone();
            async move {
                let args: T = serde_json::from_value(payload)
                    .map_err(|e| JobError::permanent(format!("malformed payload: {e}")))?;
                handler(ctx, args).await
            }
        })
    }

    /// Subscribes job kind `kind` (on the `default` queue, 10 attempts) to
    /// events of `topic`.
    pub fn subscribe(&mut self, topic: &str, kind: &str) -> &mut Self {
        self.subscribe_with(topic, kind, "default", 10)
    }

    /// Subscribes job kind `kind` to `topic`, with its queue and attempts.
    pub fn subscribe_with(
        &mut self,
        topic: &str,
        kind: &str,
        queue: &str,
        max_attempts: u32,
    ) -> &mut Self {
        let subs = self.subscriptions.entry(topic.to_string()).or_default();
        subs.retain(|s| s.kind != kind);
        subs.push(Subscription {
            kind: kind.to_string(),
            queue: queue.to_string(),
            max_attempts: max_attempts.max(1),
        });
        self
    }

    /// Jobs of `kind` that events create run with this priority (higher
    /// first among runnable jobs of their queue; default 0): for subscribers
    /// on the path a customer waits on, ahead of bookkeeping that can wait.
    /// Applies to every subscription of `kind` made before or after.
    pub fn prioritise(&mut self, kind: &str, priority: i32) -> &mut Self {
        self.priorities.insert(kind.to_string(), priority);
        self
    }

    pub(crate) fn priority_of(&self, kind: &str) -> i32 {
        self.priorities.get(kind).copied().unwrap_or(0)
    }

    pub(crate) fn subscribers(&self, topic: &str) -> &[Subscription] {
        self.subscriptions
            .get(topic)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// True when `kind` has a handler.
    pub fn handles(&self, kind: &str) -> bool {
        self.handlers.contains_key(kind)
    }
}

/// Aborts the handler's task when the attempt is dropped (shutdown timeout).
struct AbortOnDrop(tokio::task::AbortHandle);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs one attempt of a claimed job: the handler in its own task (a panic
/// becomes a retryable failure), inside a span naming the job.
async fn run_attempt(
    db: &Db,
    registry: &Registry,
    job: &Claimed,
    lease: Duration,
) -> Result<(), JobError> {
    let payload: serde_json::Value = serde_json::from_str(&job.payload)
        .map_err(|e| JobError::permanent(format!("malformed payload: {e}")))?;
    let id =
        JobId::parse(&job.id).map_err(|e| JobError::permanent(format!("malformed job id: {e}")))?;
    let ctx = JobContext {
        id,
        kind: job.kind.clone(),
        queue: job.queue.clone(),
        attempt: job.attempts as u32,
        max_attempts: job.max_attempts as u32,
        event_id: job.event_id.as_deref().and_then(|e| EventId::parse(e).ok()),
        request_id: job.request_id.clone(),
        trace_context: job.trace_context.clone(),
        db: db.clone(),
        heartbeat: Heartbeat::new(
            HeartbeatTarget::Row {
                db: db.clone(),
                id: job.id.clone(),
                token: job.token.clone(),
            },
            lease,
        ),
    };
    run_handler(registry, ctx, payload).await
}

/// Runs the handler of `ctx.kind` on `payload` in its own task (a panic
/// becomes a retryable failure), inside a `job.run` span naming the job. Both
/// transports run jobs through here.
pub(crate) async fn run_handler(
    registry: &Registry,
    ctx: JobContext,
    payload: serde_json::Value,
) -> Result<(), JobError> {
    let Some(handler) = registry.handlers.get(&ctx.kind).cloned() else {
        return Err(JobError::retry(format!(
            "no handler is registered for job kind {}",
            ctx.kind
        )));
    };
    let span = tracing::info_span!("job.run", job_id = %ctx.id, kind = %ctx.kind, queue = %ctx.queue, attempt = ctx.attempt, request_id = ctx.request_id.as_deref().unwrap_or(""));
    // A job enqueued inside a traced span continues its trace (a no-op
    // unless the binary exports traces).
    if let Some(parent) = &ctx.trace_context {
        cielo_core::telemetry::set_trace_parent(&span, parent);
    }
    let task = tokio::spawn(handler(ctx, payload).instrument(span));
    let _abort = AbortOnDrop(task.abort_handle());
    match task.await {
        Ok(result) => result,
        Err(e) if e.is_panic() => Err(JobError::retry(format!(
            "handler panicked: {}",
            panic_message(e.into_panic())
        ))),
        Err(_) => Err(JobError::retry("handler was cancelled")),
    }
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// What to write after an attempt.
#[derive(Debug)]
enum Done {
    Succeeded {
        id: String,
        token: String,
    },
    Failed {
        id: String,
        token: String,
        state: &'static str,
        run_at: i64,
        error: String,
    },
    /// Claimed but never started: back to the queue, attempt not counted.
    Unstarted {
        id: String,
        token: String,
    },
}

fn outcome_of(
    job: &Claimed,
    result: Result<(), JobError>,
    settings: &JobsSettings,
) -> (Done, AttemptOutcome) {
    let (id, token) = (job.id.clone(), job.token.clone());
    match result {
        Ok(()) => (Done::Succeeded { id, token }, AttemptOutcome::Succeeded),
        Err(err) => {
            let now = Timestamp::now().as_micros();
            let last = job.attempts >= job.max_attempts;
            let error = err.message().chars().take(4000).collect::<String>();
            match err {
                JobError::Retry { after, .. } if !last => {
                    let delay = after.unwrap_or_else(|| settings.backoff(job.attempts as u32));
                    tracing::warn!(job_id = %job.id, kind = %job.kind, attempt = job.attempts, error = %error, retry_in_ms = delay.as_millis() as u64, "job failed, will retry");
                    let run_at = now + delay.as_micros() as i64;
                    (
                        Done::Failed {
                            id,
                            token,
                            state: "pending",
                            run_at,
                            error,
                        },
                        AttemptOutcome::Retried,
                    )
                }
                _ => {
                    tracing::error!(job_id = %job.id, kind = %job.kind, attempt = job.attempts, error = %error, "job is dead");
                    (
                        Done::Failed {
                            id,
                            token,
                            state: "dead",
                            run_at: now,
                            error,
                        },
                        AttemptOutcome::Dead,
                    )
                }
            }
        }
    }
}

/// Writes a batch of outcomes in one transaction (one commit for many jobs).
async fn write_outcomes(db: &Db, batch: &[Done]) -> Result<(), Error> {
    let now = Timestamp::now().as_micros();
    let mut succeeded: Vec<(String, String)> = Vec::new();
    let mut unstarted: HashMap<&str, Vec<String>> = HashMap::new();
    let mut tx = db.begin_write().await?;
    for d in batch {
        match d {
            Done::Succeeded { id, token } => succeeded.push((id.clone(), token.clone())),
            Done::Unstarted { id, token } => unstarted.entry(token).or_default().push(id.clone()),
            Done::Failed {
                id,
                token,
                state,
                run_at,
                error,
            } => {
                store::fail(
                    &mut tx,
                    &Failure {
                        id,
                        token,
                        state,
                        run_at: *run_at,
                        error,
                    },
                    now,
                )
                .await?;
            }
        }
    }
    if !succeeded.is_empty() {
        let n = store::complete(&mut tx, db.backend(), &succeeded).await?;
        if n < succeeded.len() as u64 {
            tracing::warn!(
                lost = succeeded.len() as u64 - n,
                "finished jobs had lost their lease; another worker may run them again"
            );
        }
    }
    for (token, ids) in &unstarted {
        store::release_unstarted(&mut tx, db.backend(), token, ids, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn claim_batch(
    db: &Db,
    filter: &QueueFilter,
    limit: usize,
    lease: Duration,
) -> Result<Vec<Claimed>, Error> {
    let now = Timestamp::now().as_micros();
    let until = now + lease.as_micros() as i64;
    let token = uuid::Uuid::new_v4().simple().to_string();
    match db.backend() {
        // One statement in its own implicit transaction; no writer lock to take.
        Backend::Postgres => {
            let mut conn = db.pool().acquire().await?;
            Ok(store::claim(
                &mut conn,
                Backend::Postgres,
                filter,
                limit as i64,
                now,
                until,
                &token,
            )
            .await?)
        }
        Backend::Sqlite => {
            let mut tx = db.begin_write().await?;
            let jobs = store::claim(
                &mut tx,
                Backend::Sqlite,
                filter,
                limit as i64,
                now,
                until,
                &token,
            )
            .await?;
            tx.commit().await?;
            Ok(jobs)
        }
    }
}

/// Returns expired leases to the queue (or the dead letters) and drops old
/// dispatched events.
async fn maintain(db: &Db, settings: &JobsSettings) -> Result<(), Error> {
    let now = Timestamp::now();
    let mut tx = db.begin_write().await?;
    let reaped = store::reap_expired_leases(&mut tx, now.as_micros()).await?;
    let old = now
        .plus_seconds(-(settings.event_retention_hours as i64) * 3600)
        .as_micros();
    store::delete_old_events(&mut tx, old).await?;
    tx.commit().await?;
    if reaped > 0 {
        tracing::warn!(
            jobs = reaped,
            "returned jobs with expired leases to the queue"
        );
        wake_local_workers();
    }
    Ok(())
}

/// Runs every runnable job now, one at a time, in priority order, in this
/// task; dispatches outbox events first and again after each job. Jobs that
/// fail are rescheduled with backoff or go dead; a job this call already
/// attempted is never run again by it (the call stops there and hands it back). Returns the number of attempts run. For tests and tools: the
/// app's `run_pending_jobs()`.
pub async fn run_pending(db: &Db, registry: &Registry) -> Result<usize, Error> {
    run_pending_with(db, registry, &JobsSettings::default()).await
}

/// [`run_pending`] with explicit settings (backoff, lease).
pub async fn run_pending_with(
    db: &Db,
    registry: &Registry,
    settings: &JobsSettings,
) -> Result<usize, Error> {
    let mut ran = 0;
    // A failed job's backoff can expire before this loop comes round again
    // (short test backoffs on a busy machine): it is handed back, not run twice.
    let mut attempted = std::collections::HashSet::new();
    loop {
        crate::dispatch_events(db, registry).await?;
        let mut jobs = claim_batch(db, &QueueFilter::Except(vec![]), 1, settings.lease()).await?;
        let Some(job) = jobs.pop() else {
            return Ok(ran);
        };
        if !attempted.insert(job.id.clone()) {
            let mut tx = db.begin_write().await?;
            store::release_unstarted(
                &mut tx,
                db.backend(),
                &job.token,
                std::slice::from_ref(&job.id),
                Timestamp::now().as_micros(),
            )
            .await?;
            tx.commit().await?;
            return Ok(ran);
        }
        let result = run_attempt(db, registry, &job, settings.lease()).await;
        let (done, _) = outcome_of(&job, result, settings);
        write_outcomes(db, &[done]).await?;
        ran += 1;
    }
}

/// Jobs claimed by this worker and not finished yet: for the shared slots
/// (`total`), and for each queue that has a lane of its own.
#[derive(Default)]
struct Held {
    total: usize,
    by_queue: HashMap<String, usize>,
    /// Moving average of recent attempt durations, in microseconds.
    avg_job_micros: Option<f64>,
}

impl Held {
    /// Slots plus the jobs worth claiming ahead: as many as the worker
    /// expects to start within the prefetch horizon, at most `prefetch`.
    fn capacity(&self, settings: &JobsSettings) -> usize {
        let slots = settings.concurrency.max(1);
        let ahead = match self.avg_job_micros {
            // No estimate yet: one batch's worth, at most.
            None => slots,
            Some(avg) => {
                (slots as f64 * settings.prefetch_horizon_ms as f64 * 1000.0 / avg.max(1.0))
                    as usize
            }
        };
        slots + ahead.min(settings.prefetch)
    }
}

/// State shared by the worker's tasks.
struct Shared {
    db: Db,
    registry: Arc<Registry>,
    settings: JobsSettings,
    metrics: Arc<JobMetrics>,
    held: Mutex<Held>,
    /// Signalled when a held job finishes, so the fetch loop can claim again.
    freed: Notify,
    /// Execution slots (`concurrency`) of the queues without a lane of
    /// their own; held jobs beyond it wait here.
    slots: Arc<Semaphore>,
    /// The queues with their own `[jobs.queues.<name>]` limit: each runs in
    /// a lane of that many slots, next to the shared ones, so that slow
    /// waits on the network (a print lab, an SMTP server) or a CPU-heavy
    /// render neither take the shared slots nor wait behind them.
    lanes: HashMap<String, Arc<Semaphore>>,
    done: mpsc::UnboundedSender<Done>,
}

impl Shared {
    fn release_hold(&self, queue: &str, ran_for: Option<Duration>) {
        {
            let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
            if self.lanes.contains_key(queue) {
                if let Some(n) = held.by_queue.get_mut(queue) {
                    *n -= 1;
                }
            } else {
                // The estimate sizes the shared slots' claims ahead: lanes
                // claim no further than their slots, and their jobs' pace
                // (a lab's 50 ms) says nothing about the shared queues'.
                if let Some(d) = ran_for {
                    let us = d.as_micros() as f64;
                    held.avg_job_micros =
                        Some(held.avg_job_micros.map_or(us, |avg| avg * 0.9 + us * 0.1));
                }
                held.total -= 1;
            }
        }
        self.freed.notify_one();
    }

    /// The slots a job of `queue` runs in: its lane's, else the shared ones.
    fn slots_of(&self, queue: &str) -> Arc<Semaphore> {
        self.lanes
            .get(queue)
            .cloned()
            .unwrap_or_else(|| self.slots.clone())
    }

    /// Whether any lane or the shared slots could take one more job.
    fn has_room(&self, capacity: usize) -> bool {
        let held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.total < capacity
            || self
                .settings
                .queues
                .iter()
                .any(|(q, s)| s.concurrency > held.by_queue.get(q).copied().unwrap_or(0))
    }
}

/// A worker: claims jobs and runs their handlers until shut down.
pub struct Worker {
    db: Db,
    registry: Arc<Registry>,
    settings: JobsSettings,
    metrics: Arc<JobMetrics>,
}

impl Worker {
    /// A worker over `db` with these handlers and settings.
    pub fn new(db: Db, registry: Arc<Registry>, settings: JobsSettings) -> Self {
        Self {
            db,
            registry,
            settings,
            metrics: Arc::new(JobMetrics::default()),
        }
    }

    /// Shares a process-wide set of counters instead of this worker's own.
    pub fn with_metrics(mut self, metrics: Arc<JobMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// The worker's counters (durations, failures, dead letters by queue).
    pub fn metrics(&self) -> Arc<JobMetrics> {
        self.metrics.clone()
    }

    /// Runs until `shutdown` is cancelled. Then it claims nothing more, gives
    /// claimed-but-unstarted jobs back, lets running jobs finish for up to
    /// `shutdown_timeout_seconds`, releases those still running, and writes
    /// every outcome before returning.
    ///
    /// With `transport = "sqs"` the worker relays committed jobs to SQS and
    /// consumes them from there instead (see [`crate::sqs`]).
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), Error> {
        if self.settings.transport == crate::Transport::Sqs {
            return crate::sqs::run_worker(
                self.db,
                self.registry,
                self.settings,
                self.metrics,
                shutdown,
            )
            .await;
        }
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            db: self.db.clone(),
            registry: self.registry.clone(),
            slots: Arc::new(Semaphore::new(self.settings.concurrency.max(1))),
            lanes: self
                .settings
                .queues
                .iter()
                .map(|(q, s)| (q.clone(), Arc::new(Semaphore::new(s.concurrency))))
                .collect(),
            settings: self.settings,
            metrics: self.metrics,
            held: Mutex::new(Held::default()),
            freed: Notify::new(),
            done: done_tx,
        });
        let background = shutdown.child_token();
        let job_wake = Arc::new(Notify::new());
        let event_wake = Arc::new(Notify::new());
        let mut helpers = JoinSet::new();
        if shared.db.backend() == Backend::Postgres {
            helpers.spawn(listen(
                shared.db.url().expose().to_string(),
                job_wake.clone(),
                event_wake.clone(),
                background.clone(),
            ));
        }
        helpers.spawn(dispatch_loop(
            shared.clone(),
            event_wake,
            background.clone(),
        ));
        helpers.spawn(maintain_loop(shared.clone(), background.clone()));
        let completer = tokio::spawn(complete_loop(
            shared.db.clone(),
            done_rx,
            shared.settings.outcome_interval(),
        ));

        let mut running = JoinSet::new();
        let result = fetch_loop(&shared, &job_wake, &shutdown, &mut running).await;

        // Shutdown: unstarted jobs see the token and give themselves back;
        // running ones get the grace period.
        let deadline = tokio::time::sleep(shared.settings.shutdown_timeout());
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                next = running.join_next() => if next.is_none() { break },
                _ = &mut deadline => {
                    tracing::warn!(jobs = running.len(), "shutdown timeout: releasing jobs still running");
                    running.shutdown().await;
                    break;
                }
            }
        }
        background.cancel();
        while helpers.join_next().await.is_some() {}
        drop(shared);
        if let Err(e) = completer.await {
            tracing::error!(error = %e, "the completion writer failed");
        }
        result
    }
}

/// Claims jobs while there is room, hands each to its own task.
async fn fetch_loop(
    shared: &Arc<Shared>,
    job_wake: &Notify,
    shutdown: &CancellationToken,
    running: &mut JoinSet<()>,
) -> Result<(), Error> {
    let limited: Vec<(String, usize)> = shared
        .settings
        .queues
        .iter()
        .map(|(q, s)| (q.clone(), s.concurrency))
        .collect();
    let others = QueueFilter::Except(limited.iter().map(|(q, _)| q.clone()).collect());
    let mut failures = 0u32;
    while !shutdown.is_cancelled() {
        while running.try_join_next().is_some() {}
        let capacity = shared
            .held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .capacity(&shared.settings);
        let mut claimed = 0;
        let mut full = true;
        let round: Result<(), Error> = async {
            for (queue, limit) in &limited {
                let free = {
                    let held = shared.held.lock().unwrap_or_else(|p| p.into_inner());
                    limit.saturating_sub(held.by_queue.get(queue).copied().unwrap_or(0))
                };
                if free > 0 {
                    let jobs = claim_batch(
                        &shared.db,
                        &QueueFilter::Only(queue.clone()),
                        free,
                        shared.settings.lease(),
                    )
                    .await?;
                    full &= jobs.len() == free;
                    claimed += jobs.len();
                    start_jobs(shared, shutdown, running, jobs);
                }
            }
            let free = capacity
                .saturating_sub(shared.held.lock().unwrap_or_else(|p| p.into_inner()).total);
            if free > 0 {
                let jobs = claim_batch(&shared.db, &others, free, shared.settings.lease()).await?;
                full &= jobs.len() == free;
                claimed += jobs.len();
                start_jobs(shared, shutdown, running, jobs);
            }
            Ok(())
        }
        .await;
        if let Err(e) = round {
            failures += 1;
            tracing::error!(error = %e, "claiming jobs failed");
            let pause = Duration::from_millis(100u64 << failures.min(6));
            tokio::select! { _ = tokio::time::sleep(pause) => {}, _ = shutdown.cancelled() => {} }
            continue;
        }
        failures = 0;
        if claimed > 0 && full {
            // Every claim was filled: there may be more; wait only for room.
            if !shared.has_room(capacity) {
                tokio::select! { _ = shared.freed.notified() => {}, _ = shutdown.cancelled() => {} }
                settle().await;
            }
            continue;
        }
        tokio::select! {
            _ = job_wake.notified() => {}
            _ = LOCAL_JOB_WAKE.notified() => {}
            _ = shared.freed.notified() => settle().await,
            _ = tokio::time::sleep(shared.settings.poll_interval()) => {}
            _ = shutdown.cancelled() => {}
        }
    }
    Ok(())
}

/// Lets the other jobs that are finishing at this instant do so before the
/// next claim, so one claim fills several slots instead of one (a claim costs
/// a commit, whatever its size).
async fn settle() {
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
}

fn start_jobs(
    shared: &Arc<Shared>,
    shutdown: &CancellationToken,
    running: &mut JoinSet<()>,
    jobs: Vec<Claimed>,
) {
    if jobs.is_empty() {
        return;
    }
    {
        let mut held = shared.held.lock().unwrap_or_else(|p| p.into_inner());
        for job in &jobs {
            if shared.lanes.contains_key(&job.queue) {
                *held.by_queue.entry(job.queue.clone()).or_default() += 1;
            } else {
                held.total += 1;
            }
        }
    }
    for job in jobs {
        running.spawn(execute(shared.clone(), shutdown.clone(), job));
    }
}

/// Waits for a slot, runs the attempt, reports the outcome.
async fn execute(shared: Arc<Shared>, shutdown: CancellationToken, job: Claimed) {
    let permit = tokio::select! {
        biased;
        _ = shutdown.cancelled() => None,
        p = shared.slots_of(&job.queue).acquire_owned() => p.ok(),
    };
    let Some(_permit) = permit else {
        let _ = shared.done.send(Done::Unstarted {
            id: job.id.clone(),
            token: job.token.clone(),
        });
        shared.release_hold(&job.queue, None);
        return;
    };
    // A job that waited in the prefetch buffer for a while gets its lease
    // renewed before it starts, so a long wait cannot hand it to another worker.
    let lease = shared.settings.lease();
    if Timestamp::now().as_micros() - job.claimed_at > lease.as_micros() as i64 / 2 {
        let hb = Heartbeat::new(
            HeartbeatTarget::Row {
                db: shared.db.clone(),
                id: job.id.clone(),
                token: job.token.clone(),
            },
            lease,
        );
        if hb.beat().await.is_err() {
            tracing::warn!(job_id = %job.id, "lease lost before the job started; skipping it");
            shared.release_hold(&job.queue, None);
            return;
        }
    }
    let guard = ReleaseOnDrop {
        shared: shared.clone(),
        job: Some(job.clone()),
    };
    let started = Instant::now();
    let started_at = Timestamp::now().as_micros();
    let result = run_attempt(&shared.db, &shared.registry, &job, lease).await;
    let elapsed = started.elapsed();
    // Where a job's time goes, for profiling a pipeline of jobs: waiting to
    // be claimed, waiting in the worker for a slot, running.
    tracing::debug!(
        target: "cielo_jobs::timing",
        kind = %job.kind,
        queue = %job.queue,
        claim_wait_ms = (job.claimed_at - job.run_at).max(0) as f64 / 1000.0,
        slot_wait_ms = (started_at - job.claimed_at).max(0) as f64 / 1000.0,
        ran_ms = elapsed.as_secs_f64() * 1000.0,
        "job attempt timed"
    );
    let (done, outcome) = outcome_of(&job, result, &shared.settings);
    shared.metrics.record(&job.queue, elapsed, outcome);
    let _ = shared.done.send(done);
    guard.disarm();
    shared.release_hold(&job.queue, Some(elapsed));
}

/// When an attempt is aborted at the shutdown timeout, its job goes back to
/// the queue now instead of waiting for its lease to expire.
struct ReleaseOnDrop {
    shared: Arc<Shared>,
    job: Option<Claimed>,
}
impl ReleaseOnDrop {
    fn disarm(mut self) {
        self.job = None;
    }
}
impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        if let Some(job) = self.job.take() {
            let _ = self.shared.done.send(Done::Failed {
                id: job.id.clone(),
                token: job.token.clone(),
                state: "pending",
                run_at: Timestamp::now().as_micros(),
                error: "interrupted by worker shutdown".into(),
            });
            self.shared.release_hold(&job.queue, None);
        }
    }
}

/// Writes outcomes in batches: everything that arrives within
/// `outcome_interval_ms` of the first waiting one shares one transaction.
async fn complete_loop(db: Db, mut rx: mpsc::UnboundedReceiver<Done>, gather: Duration) {
    let mut batch = Vec::new();
    while let Some(first) = rx.recv().await {
        batch.push(first);
        // Fewer, larger commits: each flush of the disk that outcomes do not
        // take is one that enqueues and claims do not wait behind.
        if !gather.is_zero() {
            tokio::time::sleep(gather).await;
        }
        while batch.len() < 5000 {
            match rx.try_recv() {
                Ok(d) => batch.push(d),
                Err(_) => break,
            }
        }
        let mut tries = 0;
        loop {
            match write_outcomes(&db, &batch).await {
                Ok(()) => break,
                Err(e) if tries < 5 => {
                    tries += 1;
                    tracing::error!(error = %e, jobs = batch.len(), "writing job outcomes failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * tries)).await;
                }
                Err(e) => {
                    // The jobs stay `running` until their leases expire, then run again.
                    tracing::error!(error = %e, jobs = batch.len(), "giving up writing job outcomes");
                    break;
                }
            }
        }
        batch.clear();
    }
}

async fn dispatch_loop(shared: Arc<Shared>, event_wake: Arc<Notify>, stop: CancellationToken) {
    while !stop.is_cancelled() {
        if let Err(e) = crate::dispatch_events(&shared.db, &shared.registry).await {
            tracing::error!(error = %e, "dispatching outbox events failed");
        }
        tokio::select! {
            _ = event_wake.notified() => {}
            _ = LOCAL_EVENT_WAKE.notified() => {}
            _ = tokio::time::sleep(shared.settings.poll_interval()) => {}
            _ = stop.cancelled() => {}
        }
    }
}

async fn maintain_loop(shared: Arc<Shared>, stop: CancellationToken) {
    maintain_loop_on(shared.db.clone(), shared.settings.clone(), stop).await
}

/// Reaps expired leases and drops old events every `reap_interval_ms`.
pub(crate) async fn maintain_loop_on(db: Db, settings: JobsSettings, stop: CancellationToken) {
    while !stop.is_cancelled() {
        if let Err(e) = maintain(&db, &settings).await {
            tracing::error!(error = %e, "job maintenance failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(settings.reap_interval()) => {}
            _ = stop.cancelled() => {}
        }
    }
}

/// PostgreSQL: LISTEN for enqueues and events from any process; reconnects
/// after errors (polling covers the gap).
pub(crate) async fn listen(
    url: String,
    job_wake: Arc<Notify>,
    event_wake: Arc<Notify>,
    stop: CancellationToken,
) {
    while !stop.is_cancelled() {
        let mut listener = match sqlx::postgres::PgListener::connect(&url).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot LISTEN for jobs; polling until it works");
                tokio::select! { _ = tokio::time::sleep(Duration::from_secs(1)) => continue, _ = stop.cancelled() => return }
            }
        };
        if let Err(e) = listener.listen(store::CHANNEL).await {
            tracing::warn!(error = %e, "LISTEN failed");
            tokio::select! { _ = tokio::time::sleep(Duration::from_secs(1)) => continue, _ = stop.cancelled() => return }
        }
        // Anything written while we were not listening is found by this wake-up.
        job_wake.notify_one();
        event_wake.notify_one();
        loop {
            tokio::select! {
                n = listener.recv() => match n {
                    Ok(n) if n.payload() == "event" => event_wake.notify_one(),
                    Ok(_) => job_wake.notify_one(),
                    Err(e) => {
                        tracing::warn!(error = %e, "LISTEN connection lost; reconnecting");
                        break;
                    }
                },
                _ = stop.cancelled() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_claims_ahead_only_the_work_it_can_start_soon() {
        let settings = JobsSettings {
            concurrency: 10,
            prefetch: 200,
            prefetch_horizon_ms: 50,
            ..Default::default()
        };
        let mut held = Held::default();
        assert_eq!(
            held.capacity(&settings),
            20,
            "no estimate yet: one batch ahead"
        );
        held.avg_job_micros = Some(100.0);
        assert_eq!(
            held.capacity(&settings),
            210,
            "fast jobs: up to the prefetch cap"
        );
        held.avg_job_micros = Some(20_000.0);
        assert_eq!(
            held.capacity(&settings),
            35,
            "20 ms jobs: 50 ms of work for 10 slots"
        );
        held.avg_job_micros = Some(5_000_000.0);
        assert_eq!(held.capacity(&settings), 10, "slow jobs: nothing ahead");
        let off = JobsSettings {
            prefetch: 0,
            ..settings
        };
        assert_eq!(Held::default().capacity(&off), 10);
    }
}
