//! Durable background work on the database: a transactional outbox, a job
//! queue with retries, leases and dead letters, the worker runtime that runs
//! handlers, and a cron scheduler whose ticks run once across any number of
//! processes.
//!
//! Everything lives in the application's own database (tables `jobs_*`), so an
//! event or a job is written in the same transaction as the state change that
//! causes it: [`publish`] and [`enqueue`] take the caller's connection.
//!
//! Delivery is at least once. A handler must be idempotent: key its effect by
//! the job id, or for event subscribers by `(event id, subscriber kind)`
//! ([`JobContext::event_id`]).
//!
//! On PostgreSQL any number of worker and scheduler processes share the tables
//! (`FOR UPDATE SKIP LOCKED` claims, `LISTEN/NOTIFY` wake-ups). On SQLite the
//! queue is correct within one process (SQLite allows one writer, and wake-ups
//! are in-process).
#![warn(missing_docs)]

pub mod cli;
mod metrics;
mod ops;
mod outbox;
mod queue;
mod scheduler;
mod settings;
pub mod sqs;
mod store;
mod worker;

pub use metrics::{
    describe as describe_metrics, JobMetrics, DURATION_BUCKETS_SECONDS, DURATION_METRIC,
};
pub use ops::{
    dead_letters, list_jobs, queue_stats, retry_job, show_job, JobFilter, JobPage, JobView,
    QueueStats,
};
pub use outbox::{dispatch_events, publish, publish_with_request_id};
pub use queue::{enqueue, enqueue_many, EnqueueOutcome, JobState, NewJob};
pub use scheduler::Scheduler;
pub use settings::{JobsSettings, QueueSettings, ScheduleEntry, SqsSettings, Transport};
pub use worker::{
    local_write_count, run_pending, run_pending_with, Heartbeat, JobContext, JobError, LeaseLost,
    Registry, Worker,
};

cielo_core::typed_id!(JobId, "job", "A job in the queue.");
cielo_core::typed_id!(EventId, "evt", "An event in the outbox.");

/// The jobs domain's migrations; pass it to `Db::migrate` with the others.
pub const MIGRATIONS: cielo_db::MigrationSet = cielo_db::MigrationSet {
    domain: "jobs",
    migrations: &[
        cielo_db::migration!(20261121100000, "jobs"),
        cielo_db::migration!(20261129150000, "trace_context"),
    ],
};

/// Errors of the jobs domain.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No job has this id.
    #[error("no job {0}")]
    JobNotFound(String),
    /// Only a dead job can be retried.
    #[error("job {id} is {state}, only a dead job can be retried")]
    NotDead {
        /// The job.
        id: String,
        /// Its current state.
        state: String,
    },
    /// Another job with the same unique key is already waiting or running.
    #[error("another job with unique key {0} is already waiting or running")]
    DuplicateUniqueKey(String),
    /// A schedule entry is malformed.
    #[error("schedule {name}: {detail}")]
    InvalidSchedule {
        /// The entry's name.
        name: String,
        /// What is wrong.
        detail: String,
    },
    /// A job's payload is not valid JSON (a row written by hand).
    #[error("job {0} has a malformed payload")]
    MalformedPayload(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] cielo_db::Error),
    /// The job transport (SQS) failed or is misconfigured.
    #[error("job transport: {0}")]
    Transport(String),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Db(cielo_db::Error::Sqlx(e))
    }
}

impl cielo_core::HasErrorKind for Error {
    fn kind(&self) -> cielo_core::ErrorKind {
        use cielo_core::ErrorKind;
        match self {
            Error::JobNotFound(_) => ErrorKind::NotFound,
            Error::NotDead { .. } | Error::DuplicateUniqueKey(_) => ErrorKind::Conflict,
            Error::InvalidSchedule { .. } => ErrorKind::Invalid,
            Error::MalformedPayload(_) | Error::Db(_) | Error::Transport(_) => ErrorKind::Internal,
        }
    }
    fn code(&self) -> &'static str {
        match self {
            Error::JobNotFound(_) => "job-not-found",
            Error::NotDead { .. } => "job-not-dead",
            Error::DuplicateUniqueKey(_) => "job-duplicate-unique-key",
            Error::InvalidSchedule { .. } => "invalid-schedule",
            Error::MalformedPayload(_) => "job-malformed-payload",
            Error::Db(_) => "database-error",
            Error::Transport(_) => "job-transport-error",
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_migration_set_is_well_formed() {
        cielo_db::check_set(&super::MIGRATIONS).unwrap();
    }
}
