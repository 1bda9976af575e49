//! Operations for people: list and inspect jobs, retry dead letters, and the
//! numbers behind `/metrics`. Plain service functions; the HTTP and CLI
//! adapters live elsewhere (see [`crate::cli`]).

use crate::queue::JobState;
use crate::store::{self, JobRow};
use crate::{Error, JobId};
use cielo_core::Timestamp;
use cielo_db::Db;
use serde::{Deserialize, Serialize};

/// A job as operators see it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct JobView {
    /// Id.
    pub id: JobId,
    /// Queue.
    pub queue: String,
    /// Kind (the handler).
    pub kind: String,
    /// State.
    pub state: JobState,
    /// Arguments.
    pub payload: serde_json::Value,
    /// Higher runs first.
    pub priority: i64,
    /// Earliest (next) start.
    pub run_at: Timestamp,
    /// Attempts made so far.
    pub attempts: i64,
    /// Attempts allowed.
    pub max_attempts: i64,
    /// The error of the last failed attempt.
    pub last_error: Option<String>,
    /// Unique key, if any.
    pub unique_key: Option<String>,
    /// The outbox event it was dispatched from, if any.
    pub event_id: Option<String>,
    /// The request that caused it, if any.
    pub request_id: Option<String>,
    /// While running: the lease's end.
    pub leased_until: Option<Timestamp>,
    /// When it was enqueued.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// When it went dead.
    pub finished_at: Option<Timestamp>,
}

impl JobView {
    fn from_row(r: JobRow) -> Result<Self, Error> {
        let id = JobId::parse(&r.id).map_err(|_| Error::MalformedPayload(r.id.clone()))?;
        let payload = serde_json::from_str(&r.payload)
            .unwrap_or(serde_json::Value::String(r.payload.clone()));
        Ok(Self {
            id,
            queue: r.queue,
            kind: r.kind,
            state: JobState::parse(&r.state),
            payload,
            priority: r.priority,
            run_at: Timestamp::from_micros(r.run_at),
            attempts: r.attempts,
            max_attempts: r.max_attempts,
            last_error: r.last_error,
            unique_key: r.unique_key,
            event_id: r.event_id,
            request_id: r.request_id,
            leased_until: r.leased_until.map(Timestamp::from_micros),
            created_at: Timestamp::from_micros(r.created_at),
            updated_at: Timestamp::from_micros(r.updated_at),
            finished_at: r.finished_at.map(Timestamp::from_micros),
        })
    }
}

/// Filters and cursor of [`list_jobs`].
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
pub struct JobFilter {
    /// Only this queue.
    pub queue: Option<String>,
    /// Only this state.
    pub state: Option<JobState>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size (default 50, at most 500).
    pub limit: Option<u32>,
}

/// One page of jobs, newest first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobPage {
    /// The jobs.
    pub jobs: Vec<JobView>,
    /// Pass as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Lists waiting, running and dead jobs (succeeded jobs are deleted), newest
/// first, a page at a time.
pub async fn list_jobs(db: &Db, filter: &JobFilter) -> Result<JobPage, Error> {
    let limit = filter.limit.unwrap_or(50).clamp(1, 500) as i64;
    let mut conn = db.pool().acquire().await?;
    let rows = store::list_jobs(
        &mut conn,
        filter.queue.as_deref(),
        filter.state.map(|s| s.as_str()),
        filter.cursor.as_deref(),
        limit + 1,
    )
    .await?;
    let more = rows.len() as i64 > limit;
    let jobs = rows
        .into_iter()
        .take(limit as usize)
        .map(JobView::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let next_cursor = if more {
        jobs.last().map(|j| j.id.to_string())
    } else {
        None
    };
    Ok(JobPage { jobs, next_cursor })
}

/// The dead letters, optionally of one queue.
pub async fn dead_letters(
    db: &Db,
    queue: Option<&str>,
    cursor: Option<&str>,
    limit: Option<u32>,
) -> Result<JobPage, Error> {
    list_jobs(
        db,
        &JobFilter {
            queue: queue.map(str::to_string),
            state: Some(JobState::Dead),
            cursor: cursor.map(str::to_string),
            limit,
        },
    )
    .await
}

/// One job.
pub async fn show_job(db: &Db, id: &JobId) -> Result<JobView, Error> {
    let mut conn = db.pool().acquire().await?;
    let row = store::job_by_id(&mut conn, &id.to_string())
        .await?
        .ok_or_else(|| Error::JobNotFound(id.to_string()))?;
    JobView::from_row(row)
}

/// Puts a dead job back in its queue, runnable now, with a fresh set of
/// attempts (its last error is kept until it runs).
pub async fn retry_job(db: &Db, id: &JobId) -> Result<JobView, Error> {
    let now = Timestamp::now().as_micros();
    let mut tx = db.begin_write().await?;
    let Some(row) = store::job_by_id(&mut tx, &id.to_string()).await? else {
        return Err(Error::JobNotFound(id.to_string()));
    };
    if row.state != "dead" {
        return Err(Error::NotDead {
            id: id.to_string(),
            state: row.state,
        });
    }
    match store::revive_dead(&mut tx, &row.id, now).await {
        Ok(_) => {}
        Err(e) if cielo_db::is_unique_violation(&e) => {
            return Err(Error::DuplicateUniqueKey(
                row.unique_key.unwrap_or_default(),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    store::notify(&mut tx, db.backend(), "job").await?;
    let row = store::job_by_id(&mut tx, &row.id)
        .await?
        .ok_or_else(|| Error::JobNotFound(id.to_string()))?;
    tx.commit().await?;
    crate::worker::wake_local_workers();
    JobView::from_row(row)
}

/// The state of one queue, from the database.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct QueueStats {
    /// The queue.
    pub queue: String,
    /// Jobs runnable now (the queue depth).
    pub runnable: i64,
    /// Jobs waiting for a later run time (scheduled or backing off).
    pub scheduled: i64,
    /// Jobs being run.
    pub running: i64,
    /// Dead letters.
    pub dead: i64,
    /// How long the oldest runnable job has been runnable, in seconds.
    pub oldest_runnable_age_seconds: f64,
}

/// Depth, age of the oldest runnable job and dead letters, per queue.
pub async fn queue_stats(db: &Db) -> Result<Vec<QueueStats>, Error> {
    let now = Timestamp::now().as_micros();
    let mut conn = db.pool().acquire().await?;
    let rows = store::queue_rows(&mut conn, now).await?;
    Ok(rows
        .into_iter()
        .map(|r| QueueStats {
            queue: r.queue,
            runnable: r.runnable,
            scheduled: r.scheduled,
            running: r.running,
            dead: r.dead,
            oldest_runnable_age_seconds: r
                .oldest_runnable_run_at
                .map(|t| (now - t).max(0) as f64 / 1e6)
                .unwrap_or(0.0),
        })
        .collect())
}
