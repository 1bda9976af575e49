//! Enqueueing jobs inside the caller's transaction.

use crate::store::{self, InsertJob};
use crate::{Error, JobId};
use cielo_core::Timestamp;
use cielo_db::Backend;
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Named queue (`default` unless said otherwise).
    pub queue: String,
    /// The handler that runs it (see [`crate::Registry::handle`]).
    pub kind: String,
    /// Arguments for the handler.
    pub payload: serde_json::Value,
    /// Earliest start (now when `None`).
    pub run_at: Option<Timestamp>,
    /// Higher runs first among runnable jobs.
    pub priority: i32,
    /// Attempts before the job goes to the dead letters.
    pub max_attempts: u32,
    /// While a job with this key is waiting or running, enqueueing another
    /// with the same key does nothing.
    pub unique_key: Option<String>,
    /// The request that caused the job, for tracing.
    pub request_id: Option<String>,
    /// The trace the job continues (a W3C `traceparent` value). When `None`
    /// at enqueue time, the current span's context is taken, if traces are
    /// exported (see [`cielo_core::telemetry::TracePropagation`]).
    pub trace_context: Option<String>,
}

impl NewJob {
    /// A job of `kind` on the `default` queue, runnable now, 10 attempts.
    pub fn new(kind: impl Into<String>, payload: serde_json::Value) -> Self {
        Self {
            queue: crate::settings::default_queue(),
            kind: kind.into(),
            payload,
            run_at: None,
            priority: 0,
            max_attempts: 10,
            unique_key: None,
            request_id: None,
            trace_context: None,
        }
    }
    /// On another queue.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = queue.into();
        self
    }
    /// Not before `at`.
    pub fn run_at(mut self, at: Timestamp) -> Self {
        self.run_at = Some(at);
        self
    }
    /// With a priority (higher first).
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }
    /// With a number of attempts (at least 1).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }
    /// With a unique key.
    pub fn unique_key(mut self, key: impl Into<String>) -> Self {
        self.unique_key = Some(key.into());
        self
    }
    /// With the originating request id.
    pub fn request_id(mut self, id: impl Into<String>) -> Self {
        self.request_id = Some(id.into());
        self
    }

    /// `current`: the enqueuing span's trace context, used when the job
    /// names none.
    pub(crate) fn to_insert<'a>(
        &'a self,
        id: JobId,
        now: i64,
        event_id: Option<String>,
        current: Option<&'a str>,
    ) -> InsertJob<'a> {
        InsertJob {
            id: id.to_string(),
            queue: &self.queue,
            kind: &self.kind,
            payload: self.payload.to_string(),
            priority: i64::from(self.priority),
            run_at: self.run_at.map(|t| t.as_micros()).unwrap_or(now),
            max_attempts: i64::from(self.max_attempts.max(1)),
            unique_key: self.unique_key.as_deref(),
            event_id,
            request_id: self.request_id.as_deref(),
            trace_context: self.trace_context.as_deref().or(current),
        }
    }
}

/// What [`enqueue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnqueueOutcome {
    /// A new job was written.
    Enqueued(JobId),
    /// A waiting or running job already holds the unique key; nothing was written.
    Duplicate(JobId),
}

impl EnqueueOutcome {
    /// The new or the existing job.
    pub fn id(&self) -> JobId {
        match self {
            EnqueueOutcome::Enqueued(id) | EnqueueOutcome::Duplicate(id) => *id,
        }
    }
}

/// The state of a job.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for its run time or a free worker.
    Pending,
    /// Claimed by a worker, under a lease.
    Running,
    /// Failed its last attempt; waits for a person (`retry`).
    Dead,
}

impl JobState {
    /// The database form.
    pub fn as_str(&self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Running => "running",
            JobState::Dead => "dead",
        }
    }
    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "running" => JobState::Running,
            "dead" => JobState::Dead,
            _ => JobState::Pending,
        }
    }
}

pub(crate) fn backend_of(conn: &AnyConnection) -> Backend {
    if conn.backend_name() == "PostgreSQL" {
        Backend::Postgres
    } else {
        Backend::Sqlite
    }
}

/// Enqueues a job in the caller's transaction: it exists, and workers see
/// it, only if that transaction commits.
pub async fn enqueue(conn: &mut AnyConnection, job: NewJob) -> Result<EnqueueOutcome, Error> {
    let now = Timestamp::now().as_micros();
    let id = JobId::new();
    let current = cielo_core::telemetry::current_trace_context();
    let inserted = store::insert_jobs(
        conn,
        &[job.to_insert(id, now, None, current.as_deref())],
        now,
    )
    .await?;
    if inserted.is_empty() {
        let key = job.unique_key.as_deref().unwrap_or_default();
        let existing = store::job_id_by_unique_key(conn, key)
            .await?
            .ok_or_else(|| Error::DuplicateUniqueKey(key.to_string()))?;
        let existing =
            JobId::parse(&existing).map_err(|_| Error::MalformedPayload(existing.clone()))?;
        return Ok(EnqueueOutcome::Duplicate(existing));
    }
    store::notify(conn, backend_of(conn), "job").await?;
    crate::worker::wake_local_workers();
    Ok(EnqueueOutcome::Enqueued(id))
}

/// Enqueues many jobs in the caller's transaction, in few statements. Jobs
/// whose unique key is taken are skipped. Returns the number written.
pub async fn enqueue_many(conn: &mut AnyConnection, jobs: &[NewJob]) -> Result<u64, Error> {
    let now = Timestamp::now().as_micros();
    let current = cielo_core::telemetry::current_trace_context();
    let rows: Vec<InsertJob<'_>> = jobs
        .iter()
        .map(|j| j.to_insert(JobId::new(), now, None, current.as_deref()))
        .collect();
    let inserted = store::insert_jobs(conn, &rows, now).await?;
    if !inserted.is_empty() {
        store::notify(conn, backend_of(conn), "job").await?;
        crate::worker::wake_local_workers();
    }
    Ok(inserted.len() as u64)
}
