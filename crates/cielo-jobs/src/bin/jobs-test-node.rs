//! A worker or scheduler process for the guarantee tests (tests/guarantees):
//! they start it, SIGKILL it, and count what its handlers wrote.
//!
//! Handlers (tables `jobs_test_*` are created here, for tests only):
//! - `effect {key, hang_on_first_attempt}`: records the run, then, unless it
//!   hangs (first attempt, to be killed), writes the effect idempotently.
//! - `record {sleep_ms}`: records each run with start and end times.
//! - `tick`: records the schedule tick it was enqueued for (as the run's node).
//!
//! Roles: `worker`, `scheduler`, and `api`, which stands for API processes
//! under load: it commits `--jobs` `effect` jobs in transactions of
//! `--batch`, each also writing the jobs' keys to `jobs_test_enqueued`, and
//! rolls every fifth transaction back. `--sqs-queue-url` (with
//! `--sqs-endpoint` and the `AWS_*` credentials) puts the worker on the SQS
//! transport.

use cielo_db::{Backend, DatabaseUrl, Db, PoolOptions};
use cielo_jobs::{JobContext, JobError, JobsSettings, Registry, ScheduleEntry, Scheduler, Worker};
use clap::Parser;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
struct Args {
    #[arg(long)]
    database_url: String,
    /// `worker` or `scheduler`.
    #[arg(long)]
    role: String,
    #[arg(long, default_value_t = 2)]
    lease_seconds: u64,
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    #[arg(long, default_value = "node")]
    name: String,
    #[arg(long, default_value_t = 100)]
    poll_interval_ms: u64,
    /// `api`: jobs to commit.
    #[arg(long, default_value_t = 500)]
    jobs: usize,
    /// `api`: jobs per transaction.
    #[arg(long, default_value_t = 10)]
    batch: usize,
    /// Jobs travel through this SQS queue (`transport = "sqs"`).
    #[arg(long)]
    sqs_queue_url: Option<String>,
    /// The SQS endpoint (an emulator).
    #[arg(long)]
    sqs_endpoint: Option<String>,
}

fn micros() -> i64 {
    cielo_core::Timestamp::now().as_micros()
}

async fn effect(ctx: JobContext, payload: serde_json::Value) -> Result<(), JobError> {
    let key = payload["key"].as_str().unwrap_or_default().to_string();
    let db = ctx.db();
    sqlx::query("insert into jobs_test_run (job_id, attempt, node, started_at, finished_at) values ($1, $2, $3, $4, $4)")
        .bind(ctx.id.to_string())
        .bind(i64::from(ctx.attempt))
        .bind(std::env::var("JOBS_TEST_NODE").unwrap_or_default())
        .bind(micros())
        .execute(db.pool())
        .await?;
    if payload["hang_on_first_attempt"].as_bool() == Some(true) && ctx.attempt == 1 {
        // Stands for a long job in progress when the process is killed.
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "insert into jobs_test_effect (key, job_id) values ($1, $2) on conflict (key) do nothing",
    )
    .bind(key)
    .bind(ctx.id.to_string())
    .execute(&mut **tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn record(ctx: JobContext, payload: serde_json::Value) -> Result<(), JobError> {
    let started = micros();
    tokio::time::sleep(Duration::from_millis(
        payload["sleep_ms"].as_u64().unwrap_or(0),
    ))
    .await;
    sqlx::query("insert into jobs_test_run (job_id, attempt, node, started_at, finished_at) values ($1, $2, $3, $4, $5)")
        .bind(ctx.id.to_string())
        .bind(i64::from(ctx.attempt))
        .bind(std::env::var("JOBS_TEST_NODE").unwrap_or_default())
        .bind(started)
        .bind(micros())
        .execute(ctx.db().pool())
        .await?;
    Ok(())
}

async fn tick(ctx: JobContext, payload: serde_json::Value) -> Result<(), JobError> {
    let now = micros();
    sqlx::query("insert into jobs_test_run (job_id, attempt, node, started_at, finished_at) values ($1, $2, $3, $4, $4)")
        .bind(ctx.id.to_string())
        .bind(i64::from(ctx.attempt))
        .bind(format!("tick:{}", payload["tick"].as_str().unwrap_or_default()))
        .bind(now)
        .execute(ctx.db().pool())
        .await?;
    Ok(())
}

/// Commits `jobs` jobs (and their keys) in transactions of `batch`; every
/// fifth transaction is rolled back and must leave no trace.
async fn load(db: &Db, name: &str, jobs: usize, batch: usize) -> anyhow::Result<()> {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let (mut committed, mut seq, mut round) = (0, 0, 0u64);
    while committed < jobs {
        round += 1;
        let mut tx = db.begin_write().await?;
        let mut n = 0;
        while n < batch && committed + n < jobs {
            seq += 1;
            let key = format!("{name}-{run}-{seq}");
            sqlx::query("insert into jobs_test_enqueued (key) values ($1)")
                .bind(&key)
                .execute(&mut **tx)
                .await?;
            cielo_jobs::enqueue(
                &mut tx,
                cielo_jobs::NewJob::new("effect", serde_json::json!({"key": key})),
            )
            .await?;
            n += 1;
        }
        if round % 5 == 0 {
            tx.rollback().await?;
        } else {
            tx.commit().await?;
            committed += n;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    std::env::set_var("JOBS_TEST_NODE", &args.name);
    let db = Db::connect(
        &DatabaseUrl::new(args.database_url),
        &PoolOptions::default(),
    )
    .await?;
    db.migrate(&[cielo_jobs::MIGRATIONS]).await?;
    let mut settings = JobsSettings {
        concurrency: args.concurrency,
        lease_seconds: args.lease_seconds,
        poll_interval_ms: args.poll_interval_ms,
        reap_interval_ms: 200,
        shutdown_timeout_seconds: 5,
        backoff_base_ms: 50,
        scheduler_interval_ms: 100,
        ..Default::default()
    };
    if let Some(url) = &args.sqs_queue_url {
        settings.transport = cielo_jobs::Transport::Sqs;
        settings.sqs.queue_url = Some(url.clone());
        settings.sqs.endpoint = args.sqs_endpoint.clone();
        settings.sqs.wait_seconds = 1;
    }
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop.cancel();
    });
    #[cfg(unix)]
    {
        let stop = shutdown.clone();
        tokio::spawn(async move {
            if let Ok(mut term) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            {
                term.recv().await;
                stop.cancel();
            }
        });
    }
    println!(
        "ready {}",
        if db.backend() == Backend::Postgres {
            "postgres"
        } else {
            "sqlite"
        }
    );
    match args.role.as_str() {
        "worker" => {
            let mut registry = Registry::new();
            registry
                .handle("effect", effect)
                .handle("record", record)
                .handle("tick", tick);
            Worker::new(db, Arc::new(registry), settings)
                .run(shutdown)
                .await?;
        }
        "scheduler" => {
            let every_second = ScheduleEntry {
                name: "every-second".into(),
                cron: "* * * * * *".into(),
                kind: "tick".into(),
                queue: "ticks".into(),
                payload: serde_json::json!({}),
                // A tick whose worker is killed runs again (scale-out test).
                max_attempts: 3,
                timezone: None,
            };
            Scheduler::new(db, &[every_second], &settings)?
                .run(shutdown)
                .await?;
        }
        "api" => load(&db, &args.name, args.jobs, args.batch).await?,
        other => anyhow::bail!("unknown role {other}"),
    }
    Ok(())
}
