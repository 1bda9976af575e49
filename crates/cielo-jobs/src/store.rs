//! Every SQL statement of the jobs domain. Portable SQL where the engines
//! agree; small named functions per dialect where they do not (row locking,
//! notifications, JSON lists).

use cielo_db::{col, Backend};
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

/// The channel workers LISTEN on (PostgreSQL).
pub(crate) const CHANNEL: &str = "cielo_jobs";

/// A full row of `jobs_job`.
#[derive(Debug, Clone)]
pub(crate) struct JobRow {
    pub id: String,
    pub queue: String,
    pub kind: String,
    pub payload: String,
    pub state: String,
    pub priority: i64,
    pub run_at: i64,
    pub attempts: i64,
    pub max_attempts: i64,
    pub last_error: Option<String>,
    pub unique_key: Option<String>,
    pub event_id: Option<String>,
    pub request_id: Option<String>,
    pub leased_until: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
}

const JOB_COLUMNS: &str =
    "id, queue, kind, payload, state, priority, run_at, attempts, max_attempts, last_error, \
     unique_key, event_id, request_id, leased_until, created_at, updated_at, finished_at";

impl JobRow {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: col(r, "id")?,
            queue: col(r, "queue")?,
            kind: col(r, "kind")?,
            payload: col(r, "payload")?,
            state: col(r, "state")?,
            priority: col(r, "priority")?,
            run_at: col(r, "run_at")?,
            attempts: col(r, "attempts")?,
            max_attempts: col(r, "max_attempts")?,
            last_error: col(r, "last_error")?,
            unique_key: col(r, "unique_key")?,
            event_id: col(r, "event_id")?,
            request_id: col(r, "request_id")?,
            leased_until: col(r, "leased_until")?,
            created_at: col(r, "created_at")?,
            updated_at: col(r, "updated_at")?,
            finished_at: col(r, "finished_at")?,
        })
    }
}

/// A job as the insert statement needs it.
pub(crate) struct InsertJob<'a> {
    pub id: String,
    pub queue: &'a str,
    pub kind: &'a str,
    pub payload: String,
    pub priority: i64,
    pub run_at: i64,
    pub max_attempts: i64,
    pub unique_key: Option<&'a str>,
    pub event_id: Option<String>,
    pub request_id: Option<&'a str>,
    pub trace_context: Option<&'a str>,
}

const INSERT_COLUMNS: &str =
    "insert into jobs_job (id, queue, kind, payload, state, priority, run_at, attempts, \
     max_attempts, unique_key, event_id, request_id, created_at, updated_at) values ";
/// With the trace context: only when a job of the statement has one, so that
/// the untraced path writes exactly what it wrote before traces existed.
const INSERT_COLUMNS_TRACED: &str =
    "insert into jobs_job (id, queue, kind, payload, state, priority, run_at, attempts, \
     max_attempts, unique_key, event_id, request_id, created_at, updated_at, trace_context) values ";

/// Inserts jobs; a job whose unique key is taken by a waiting or running job
/// is skipped. Returns the ids actually inserted.
pub(crate) async fn insert_jobs(
    conn: &mut AnyConnection,
    jobs: &[InsertJob<'_>],
    now: i64,
) -> Result<Vec<String>, sqlx::Error> {
    let mut inserted = Vec::with_capacity(jobs.len());
    // At most eleven parameters per row keeps one statement far below both
    // engines' limits.
    for chunk in jobs.chunks(500) {
        let traced = chunk.iter().any(|j| j.trace_context.is_some());
        let per_row = if traced { 11 } else { 10 };
        let mut sql = String::with_capacity(INSERT_COLUMNS_TRACED.len() + chunk.len() * 64);
        sql.push_str(if traced {
            INSERT_COLUMNS_TRACED
        } else {
            INSERT_COLUMNS
        });
        for i in 0..chunk.len() {
            // $1 is `now`; each row then has its own parameters.
            let b = 1 + i * per_row;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${},${},${},${},'pending',${},${},0,${},${},${},${},$1,$1",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8,
                b + 9,
                b + 10
            ));
            if traced {
                sql.push_str(&format!(",${})", b + 11));
            } else {
                sql.push(')');
            }
        }
        sql.push_str(" on conflict do nothing returning id");
        let mut q = sqlx::query(&sql).bind(now);
        for j in chunk {
            q = q
                .bind(j.id.clone())
                .bind(j.queue.to_string())
                .bind(j.kind.to_string())
                .bind(j.payload.clone())
                .bind(j.priority)
                .bind(j.run_at)
                .bind(j.max_attempts)
                .bind(j.unique_key.map(str::to_string))
                .bind(j.event_id.clone())
                .bind(j.request_id.map(str::to_string));
            if traced {
                q = q.bind(j.trace_context.map(str::to_string));
            }
        }
        for r in q.fetch_all(&mut *conn).await? {
            inserted.push(col::<String>(&r, "id")?);
        }
    }
    Ok(inserted)
}

/// The id of the waiting or running job that holds `key`.
pub(crate) async fn job_id_by_unique_key(
    conn: &mut AnyConnection,
    key: &str,
) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query(
        "select id from jobs_job where unique_key = $1 and state in ('pending', 'running')",
    )
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| col(&r, "id")).transpose()
}

/// Wakes listening workers once the caller's transaction commits (PostgreSQL
/// delivers NOTIFY at commit and drops it on rollback).
pub(crate) async fn notify(
    conn: &mut AnyConnection,
    backend: Backend,
    what: &str,
) -> Result<(), sqlx::Error> {
    if backend == Backend::Postgres {
        sqlx::query("select pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(what)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Which queues a claim may take jobs from.
#[derive(Debug, Clone)]
pub(crate) enum QueueFilter {
    /// This queue only.
    Only(String),
    /// Any queue but these (the ones with their own limits).
    Except(Vec<String>),
}

/// A claimed job.
#[derive(Debug, Clone)]
pub(crate) struct Claimed {
    pub id: String,
    pub queue: String,
    pub kind: String,
    pub payload: String,
    pub priority: i64,
    pub run_at: i64,
    pub attempts: i64,
    pub max_attempts: i64,
    pub event_id: Option<String>,
    pub request_id: Option<String>,
    pub trace_context: Option<String>,
    pub token: String,
    pub claimed_at: i64,
}

/// Claims up to `limit` runnable jobs in one statement, best first: sets them
/// running, counts the attempt and gives them a lease under `token`.
pub(crate) async fn claim(
    conn: &mut AnyConnection,
    backend: Backend,
    filter: &QueueFilter,
    limit: i64,
    now: i64,
    leased_until: i64,
    token: &str,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let (queue_sql, queue_binds) = match filter {
        QueueFilter::Only(q) => (" and queue = $5".to_string(), vec![q.clone()]),
        QueueFilter::Except(qs) if qs.is_empty() => (String::new(), vec![]),
        QueueFilter::Except(qs) => (
            format!(
                " and queue not in ({})",
                cielo_db::placeholders(5, qs.len())
            ),
            qs.clone(),
        ),
    };
    // The trace context is read back only when traces are exported.
    let traced = cielo_core::telemetry::traces_exported();
    let sql = match backend {
        Backend::Postgres => claim_sql_postgres(&queue_sql, traced),
        Backend::Sqlite => claim_sql_sqlite(&queue_sql, traced),
    };
    // A claim for one queue is planned afresh each time (an unnamed statement,
    // not a cached one): PostgreSQL's cached generic plan, made while the
    // table was empty, can walk the index of all pending jobs filtering for
    // this queue instead of the per-queue index; an empty render queue then
    // cost milliseconds per claim under a backlog of payment jobs.
    let one_queue = matches!(filter, QueueFilter::Only(_));
    let mut q = sqlx::query(&sql)
        .persistent(!one_queue)
        .bind(limit)
        .bind(now)
        .bind(leased_until)
        .bind(token);
    for b in queue_binds {
        q = q.bind(b);
    }
    let rows = q.fetch_all(&mut *conn).await?;
    let mut jobs = rows
        .iter()
        .map(|r| {
            Ok(Claimed {
                id: col(r, "id")?,
                queue: col(r, "queue")?,
                kind: col(r, "kind")?,
                payload: col(r, "payload")?,
                priority: col(r, "priority")?,
                run_at: col(r, "run_at")?,
                attempts: col(r, "attempts")?,
                max_attempts: col(r, "max_attempts")?,
                event_id: col(r, "event_id")?,
                request_id: col(r, "request_id")?,
                trace_context: if traced {
                    col(r, "trace_context")?
                } else {
                    None
                },
                token: token.to_string(),
                claimed_at: now,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    // RETURNING gives no order; run the best first.
    jobs.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then(a.run_at.cmp(&b.run_at))
            .then(a.id.cmp(&b.id))
    });
    Ok(jobs)
}

const CLAIM_RETURNING: &str =
    "id, queue, kind, payload, priority, run_at, attempts, max_attempts, event_id, request_id";

/// PostgreSQL: rows another worker is claiming are skipped, not waited for,
/// so many workers share a queue without blocking each other.
fn claim_sql_postgres(queue_sql: &str, traced: bool) -> String {
    let trace = if traced { ", j.trace_context" } else { "" };
    format!(
        "with next as (
            select id from jobs_job
            where state = 'pending' and run_at <= $2{queue_sql}
            order by priority desc, run_at, id
            limit $1
            for update skip locked
        )
        update jobs_job j set state = 'running', attempts = j.attempts + 1, lease_token = $4, leased_until = $3, updated_at = $2
        from next where j.id = next.id
        returning j.id, j.queue, j.kind, j.payload, j.priority, j.run_at, j.attempts, j.max_attempts, j.event_id, j.request_id{trace}"
    )
}

/// SQLite: one writer at a time, so the sub-select cannot race another claim.
fn claim_sql_sqlite(queue_sql: &str, traced: bool) -> String {
    let trace = if traced { ", trace_context" } else { "" };
    format!(
        "update jobs_job set state = 'running', attempts = attempts + 1, lease_token = $4, leased_until = $3, updated_at = $2
        where id in (
            select id from jobs_job
            where state = 'pending' and run_at <= $2{queue_sql}
            order by priority desc, run_at, id
            limit $1
        )
        returning {CLAIM_RETURNING}{trace}"
    )
}

/// A JSON array of strings as a one-column row set, for `in (…)` lists that
/// keep one statement text whatever their length.
fn json_list_sql(backend: Backend, param: &str) -> String {
    match backend {
        Backend::Postgres => format!("select json_array_elements_text(cast({param} as json))"),
        Backend::Sqlite => format!("select value from json_each({param})"),
    }
}

/// Deletes finished jobs, each only if its claim (`token`) still holds it.
/// Returns how many.
pub(crate) async fn complete(
    conn: &mut AnyConnection,
    backend: Backend,
    finished: &[(String, String)],
) -> Result<u64, sqlx::Error> {
    match backend {
        // One statement whatever the number of jobs and claims.
        Backend::Postgres => {
            let list = serde_json::to_string(finished).unwrap_or_else(|_| "[]".into());
            let sql = "delete from jobs_job j
                 using (select f->>0 as id, f->>1 as token from json_array_elements(cast($1 as json)) f) done
                 where j.id = done.id and j.lease_token = done.token and j.state = 'running'";
            Ok(sqlx::query(sql)
                .bind(list)
                .execute(&mut *conn)
                .await?
                .rows_affected())
        }
        // One statement per claim (a handful per batch): SQLite has no cheap
        // join against a JSON list of pairs, and a correlated lookup per row
        // would be quadratic in the batch size.
        Backend::Sqlite => {
            let mut by_token: std::collections::HashMap<&str, Vec<&str>> =
                std::collections::HashMap::new();
            for (id, token) in finished {
                by_token
                    .entry(token.as_str())
                    .or_default()
                    .push(id.as_str());
            }
            let mut n = 0;
            for (token, ids) in by_token {
                let list = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into());
                n += sqlx::query(
                    "delete from jobs_job where state = 'running' and lease_token = $1 and id in (select value from json_each($2))",
                )
                .bind(token)
                .bind(list)
                .execute(&mut *conn)
                .await?
                .rows_affected();
            }
            Ok(n)
        }
    }
}

/// What becomes of a job that did not succeed.
pub(crate) struct Failure<'a> {
    pub id: &'a str,
    pub token: &'a str,
    /// `pending` (retry at `run_at`) or `dead`.
    pub state: &'static str,
    pub run_at: i64,
    pub error: &'a str,
}

/// Records a failed attempt, if `token` still holds the job.
pub(crate) async fn fail(
    conn: &mut AnyConnection,
    f: &Failure<'_>,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let finished = (f.state == "dead").then_some(now);
    Ok(sqlx::query(
        "update jobs_job set state = $3, run_at = $4, last_error = $5, lease_token = null, leased_until = null,
            updated_at = $6, finished_at = $7
         where id = $1 and lease_token = $2 and state = 'running'",
    )
    .bind(f.id)
    .bind(f.token)
    .bind(f.state)
    .bind(f.run_at)
    .bind(f.error)
    .bind(now)
    .bind(finished)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// Gives jobs back to the queue without counting the attempt (claimed but
/// never started, e.g. at shutdown).
pub(crate) async fn release_unstarted(
    conn: &mut AnyConnection,
    backend: Backend,
    token: &str,
    ids: &[String],
    now: i64,
) -> Result<u64, sqlx::Error> {
    let sql = format!(
        "update jobs_job set state = 'pending', attempts = attempts - 1, lease_token = null, leased_until = null, updated_at = $3
         where state = 'running' and lease_token = $1 and id in ({})",
        json_list_sql(backend, "$2")
    );
    let list = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
    Ok(sqlx::query(&sql)
        .bind(token)
        .bind(list)
        .bind(now)
        .execute(&mut *conn)
        .await?
        .rows_affected())
}

/// Extends a running job's lease. Zero rows: the lease was lost.
pub(crate) async fn extend_lease(
    conn: &mut AnyConnection,
    id: &str,
    token: &str,
    leased_until: i64,
    now: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("update jobs_job set leased_until = $3, updated_at = $4 where id = $1 and lease_token = $2 and state = 'running'")
        .bind(id)
        .bind(token)
        .bind(leased_until)
        .bind(now)
        .execute(&mut *conn)
        .await?
        .rows_affected())
}

/// Returns jobs whose lease ran out (their worker died or hung) to the queue,
/// or to the dead letters when that was their last attempt.
pub(crate) async fn reap_expired_leases(
    conn: &mut AnyConnection,
    now: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "update jobs_job set
            state = case when attempts >= max_attempts then 'dead' else 'pending' end,
            finished_at = case when attempts >= max_attempts then $1 else null end,
            last_error = 'lease expired: the worker stopped or lost the job during attempt ' || cast(attempts as text),
            run_at = $1, lease_token = null, leased_until = null, updated_at = $1
         where state = 'running' and leased_until < $1",
    )
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// One job by id.
pub(crate) async fn job_by_id(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<JobRow>, sqlx::Error> {
    let row = sqlx::query(&format!("select {JOB_COLUMNS} from jobs_job where id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(JobRow::from_row).transpose()
}

/// Jobs matching the filters, newest first, after the cursor (an id).
pub(crate) async fn list_jobs(
    conn: &mut AnyConnection,
    queue: Option<&str>,
    state: Option<&str>,
    before_id: Option<&str>,
    limit: i64,
) -> Result<Vec<JobRow>, sqlx::Error> {
    // Ids are time-ordered (UUID v7), so the id is both the order and the cursor.
    let sql = format!(
        "select {JOB_COLUMNS} from jobs_job
         where ($1 is null or queue = $1) and ($2 is null or state = $2) and ($3 is null or id < $3)
         order by id desc limit $4"
    );
    let rows = sqlx::query(&sql)
        .bind(queue.map(str::to_string))
        .bind(state.map(str::to_string))
        .bind(before_id.map(str::to_string))
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(JobRow::from_row).collect()
}

/// Puts a dead job back in the queue with a fresh set of attempts.
pub(crate) async fn revive_dead(
    conn: &mut AnyConnection,
    id: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "update jobs_job set state = 'pending', attempts = 0, run_at = $2, finished_at = null, updated_at = $2
         where id = $1 and state = 'dead'",
    )
    .bind(id)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// Per-queue counts for the metrics.
pub(crate) struct QueueRow {
    pub queue: String,
    pub runnable: i64,
    pub scheduled: i64,
    pub running: i64,
    pub dead: i64,
    pub oldest_runnable_run_at: Option<i64>,
}

pub(crate) async fn queue_rows(
    conn: &mut AnyConnection,
    now: i64,
) -> Result<Vec<QueueRow>, sqlx::Error> {
    let rows = sqlx::query(
        "select queue,
            cast(sum(case when state = 'pending' and run_at <= $1 then 1 else 0 end) as bigint) as runnable,
            cast(sum(case when state = 'pending' and run_at > $1 then 1 else 0 end) as bigint) as scheduled,
            cast(sum(case when state = 'running' then 1 else 0 end) as bigint) as running,
            cast(sum(case when state = 'dead' then 1 else 0 end) as bigint) as dead,
            min(case when state = 'pending' and run_at <= $1 then run_at end) as oldest
         from jobs_job group by queue order by queue",
    )
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(QueueRow {
                queue: col(r, "queue")?,
                runnable: col(r, "runnable")?,
                scheduled: col(r, "scheduled")?,
                running: col(r, "running")?,
                dead: col(r, "dead")?,
                oldest_runnable_run_at: col(r, "oldest")?,
            })
        })
        .collect()
}

// ---- outbox ----

/// An event as the insert statement needs it.
pub(crate) struct InsertEvent<'a> {
    pub id: &'a str,
    pub topic: &'a str,
    pub payload: &'a str,
    pub request_id: Option<&'a str>,
    pub trace_context: Option<&'a str>,
}

pub(crate) async fn insert_event(
    conn: &mut AnyConnection,
    e: &InsertEvent<'_>,
    now: i64,
) -> Result<(), sqlx::Error> {
    // The untraced path writes what it wrote before traces existed.
    let q = match e.trace_context {
        None => sqlx::query("insert into jobs_event (id, topic, payload, request_id, created_at, updated_at) values ($1, $2, $3, $4, $5, $5)"),
        Some(_) => sqlx::query("insert into jobs_event (id, topic, payload, request_id, created_at, updated_at, trace_context) values ($1, $2, $3, $4, $5, $5, $6)"),
    };
    let mut q = q
        .bind(e.id)
        .bind(e.topic)
        .bind(e.payload)
        .bind(e.request_id.map(str::to_string))
        .bind(now);
    if let Some(t) = e.trace_context {
        q = q.bind(t.to_string());
    }
    q.execute(&mut *conn).await?;
    Ok(())
}

/// An event waiting for dispatch.
pub(crate) struct EventRow {
    pub id: String,
    pub topic: String,
    pub payload: String,
    pub request_id: Option<String>,
    pub trace_context: Option<String>,
}

/// Locks up to `limit` undispatched events, oldest first.
pub(crate) async fn lock_undispatched_events(
    conn: &mut AnyConnection,
    backend: Backend,
    limit: i64,
) -> Result<Vec<EventRow>, sqlx::Error> {
    let lock = match backend {
        // Two dispatchers split the backlog instead of queueing on each other.
        Backend::Postgres => " for update skip locked",
        Backend::Sqlite => "",
    };
    let traced = cielo_core::telemetry::traces_exported();
    let trace = if traced { ", trace_context" } else { "" };
    let sql =
        format!("select id, topic, payload, request_id{trace} from jobs_event where dispatched_at is null order by created_at, id limit $1{lock}");
    let rows = sqlx::query(&sql).bind(limit).fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| {
            Ok(EventRow {
                id: col(r, "id")?,
                topic: col(r, "topic")?,
                payload: col(r, "payload")?,
                request_id: col(r, "request_id")?,
                trace_context: if traced {
                    col(r, "trace_context")?
                } else {
                    None
                },
            })
        })
        .collect()
}

pub(crate) async fn mark_dispatched(
    conn: &mut AnyConnection,
    backend: Backend,
    ids: &[String],
    now: i64,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "update jobs_event set dispatched_at = $1, updated_at = $1 where id in ({})",
        json_list_sql(backend, "$2")
    );
    let list = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
    sqlx::query(&sql)
        .bind(now)
        .bind(list)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(crate) async fn delete_old_events(
    conn: &mut AnyConnection,
    before: i64,
) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query(
            "delete from jobs_event where dispatched_at is not null and dispatched_at < $1",
        )
        .bind(before)
        .execute(&mut *conn)
        .await?
        .rows_affected(),
    )
}

// ---- scheduler ----

/// Creates the schedule's row if missing, starting from `initial_tick` (so a
/// new entry waits for its next tick instead of firing at once).
pub(crate) async fn ensure_schedule(
    conn: &mut AnyConnection,
    name: &str,
    cron: &str,
    initial_tick: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into jobs_schedule (name, cron, last_tick, created_at, updated_at) values ($1, $2, $3, $4, $4)
         on conflict (name) do update set cron = excluded.cron, updated_at = excluded.updated_at
         where jobs_schedule.cron <> excluded.cron",
    )
    .bind(name)
    .bind(cron)
    .bind(initial_tick)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn schedule_last_tick(
    conn: &mut AnyConnection,
    name: &str,
) -> Result<Option<i64>, sqlx::Error> {
    let row = sqlx::query("select last_tick from jobs_schedule where name = $1")
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| col(&r, "last_tick")).transpose()
}

/// Compare-and-set of a schedule's last tick: only one process moves it
/// forward to `tick`, and only that one enqueues the tick's job.
pub(crate) async fn advance_schedule(
    conn: &mut AnyConnection,
    name: &str,
    tick: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query("update jobs_schedule set last_tick = $2, updated_at = $3 where name = $1 and last_tick < $2")
        .bind(name)
        .bind(tick)
        .bind(now)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(n == 1)
}

/// Takes or renews the named lease for `holder` unless someone else holds an
/// unexpired one. True when `holder` holds it now.
pub(crate) async fn try_lease(
    conn: &mut AnyConnection,
    name: &str,
    holder: &str,
    expires_at: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "insert into jobs_lease (name, holder, expires_at, created_at, updated_at) values ($1, $2, $3, $4, $4)
         on conflict (name) do update set holder = excluded.holder, expires_at = excluded.expires_at, updated_at = excluded.updated_at
         where jobs_lease.holder = excluded.holder or jobs_lease.expires_at < $4",
    )
    .bind(name)
    .bind(holder)
    .bind(expires_at)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub(crate) async fn drop_lease(
    conn: &mut AnyConnection,
    name: &str,
    holder: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("delete from jobs_lease where name = $1 and holder = $2")
        .bind(name)
        .bind(holder)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

// ---- SQS transport ----

/// A job that died on the SQS transport, written back as a `dead` row so
/// that dead letters are listed, shown and retried the same way whichever
/// transport ran the job.
pub(crate) struct DeadJob<'a> {
    pub id: &'a str,
    pub queue: &'a str,
    pub kind: &'a str,
    pub payload: &'a str,
    pub attempts: i64,
    pub max_attempts: i64,
    pub error: &'a str,
    pub event_id: Option<&'a str>,
    pub request_id: Option<&'a str>,
}

/// Writes a dead job; a second delivery of the same dead job writes nothing.
pub(crate) async fn insert_dead(
    conn: &mut AnyConnection,
    job: &DeadJob<'_>,
    now: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "insert into jobs_job (id, queue, kind, payload, state, priority, run_at, attempts, max_attempts,
            last_error, event_id, request_id, created_at, updated_at, finished_at)
         values ($1, $2, $3, $4, 'dead', 0, $5, $6, $7, $8, $9, $10, $5, $5, $5)
         on conflict do nothing",
    )
    .bind(job.id)
    .bind(job.queue)
    .bind(job.kind)
    .bind(job.payload)
    .bind(now)
    .bind(job.attempts)
    .bind(job.max_attempts)
    .bind(job.error)
    .bind(job.event_id.map(str::to_string))
    .bind(job.request_id.map(str::to_string))
    .execute(&mut *conn)
    .await?
    .rows_affected())
}
