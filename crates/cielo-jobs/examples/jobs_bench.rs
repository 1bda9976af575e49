//! Benchmark of the job queue (bench/jobs.sh runs it in release mode).
//!
//! Modes, each printing one JSON line:
//! - `reset`: drop and create the PostgreSQL database named in the URL.
//! - `enqueue-bulk`: `--jobs` jobs in batches of `--batch`, one transaction each.
//! - `enqueue-single`: `--jobs` jobs, one transaction each, from `--callers` tasks.
//! - `drain`: inserts `--jobs` no-op jobs (untimed), then times one worker
//!   (`--concurrency`, `--prefetch`) from start until every outcome is written.
//!   With `--sqs-endpoint` (an SQS emulator) the jobs travel through a fresh
//!   SQS queue (`transport = "sqs"`): the worker relays and consumes them.
//! - `latency`: a worker runs in a child process; this process enqueues one job
//!   per transaction at `--rate` jobs/s; each job reports start minus enqueue time.

use cielo_db::{Backend, DatabaseUrl, Db, PoolOptions};
use cielo_jobs::{enqueue, enqueue_many, JobsSettings, NewJob, Registry, Worker};
use clap::Parser;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
struct Args {
    mode: String,
    #[arg(long)]
    database_url: String,
    #[arg(long, default_value_t = 20_000)]
    jobs: usize,
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    #[arg(long, default_value_t = 10)]
    callers: usize,
    #[arg(long, default_value_t = 10)]
    concurrency: usize,
    /// Default: the crate's default.
    #[arg(long)]
    prefetch: Option<usize>,
    #[arg(long, default_value_t = 200)]
    rate: u64,
    #[arg(long, default_value_t = 200)]
    warmup: usize,
    /// Latency: run the worker in this process (the supported set-up on
    /// SQLite, whose wake-ups are in-process) instead of a child process.
    #[arg(long)]
    in_process: bool,
    /// Default: the crate's default.
    #[arg(long)]
    outcome_interval_ms: Option<u64>,
    /// `drain` through SQS at this endpoint (an emulator; credentials from
    /// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, `test` when unset).
    #[arg(long)]
    sqs_endpoint: Option<String>,
}

fn payload(i: usize) -> serde_json::Value {
    json!({"i": i, "kind": "render", "order": "ord_123"})
}

async fn connect(url: &str) -> anyhow::Result<Db> {
    let db = Db::connect(
        &DatabaseUrl::new(url),
        &PoolOptions {
            max_connections: 16,
            ..Default::default()
        },
    )
    .await?;
    db.migrate(&[cielo_jobs::MIGRATIONS]).await?;
    Ok(db)
}

async fn clear(db: &Db) -> anyhow::Result<()> {
    sqlx::query("delete from jobs_job")
        .execute(db.pool())
        .await?;
    if db.backend() == Backend::Postgres {
        sqlx::query("vacuum analyze jobs_job")
            .execute(db.pool())
            .await?;
    }
    Ok(())
}

fn micros() -> i64 {
    cielo_core::Timestamp::now().as_micros()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    match a.mode.as_str() {
        "reset" => reset(&a.database_url).await,
        "enqueue-bulk" => enqueue_bulk(&a).await,
        "enqueue-single" => enqueue_single(&a).await,
        "drain" => drain(&a).await,
        "latency" => latency(&a).await,
        "latency-worker" => latency_worker(&a).await,
        other => anyhow::bail!("unknown mode {other}"),
    }
}

async fn reset(url: &str) -> anyhow::Result<()> {
    use sqlx::Connection;
    let (base, name) = url
        .rsplit_once('/')
        .ok_or_else(|| anyhow::anyhow!("no database name"))?;
    let mut conn = sqlx::PgConnection::connect(&format!("{base}/postgres")).await?;
    sqlx::Executor::execute(
        &mut conn,
        format!("drop database if exists {name} with (force)").as_str(),
    )
    .await?;
    sqlx::Executor::execute(&mut conn, format!("create database {name}").as_str()).await?;
    Ok(())
}

async fn enqueue_bulk(a: &Args) -> anyhow::Result<()> {
    let db = connect(&a.database_url).await?;
    clear(&db).await?;
    let started = Instant::now();
    for chunk in (0..a.jobs).collect::<Vec<_>>().chunks(a.batch) {
        let jobs: Vec<NewJob> = chunk
            .iter()
            .map(|i| NewJob::new("noop", payload(*i)))
            .collect();
        let mut tx = db.begin_write().await?;
        enqueue_many(&mut tx, &jobs).await?;
        tx.commit().await?;
    }
    let s = started.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({"figure": "enqueue_bulk_jobs_s", "value": (a.jobs as f64 / s).round(), "jobs": a.jobs, "batch": a.batch})
    );
    Ok(())
}

async fn enqueue_single(a: &Args) -> anyhow::Result<()> {
    let db = connect(&a.database_url).await?;
    clear(&db).await?;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.callers {
        let (db, next, total) = (db.clone(), next.clone(), a.jobs);
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return Ok::<(), anyhow::Error>(());
                }
                let mut tx = db.begin_write().await?;
                enqueue(&mut tx, NewJob::new("noop", payload(i))).await?;
                tx.commit().await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let s = started.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({"figure": "enqueue_single_jobs_s", "value": (a.jobs as f64 / s).round(), "jobs": a.jobs, "callers": a.callers})
    );
    Ok(())
}

async fn drain(a: &Args) -> anyhow::Result<()> {
    let db = connect(&a.database_url).await?;
    clear(&db).await?;
    for chunk in (0..a.jobs).collect::<Vec<_>>().chunks(1000) {
        let jobs: Vec<NewJob> = chunk
            .iter()
            .map(|i| NewJob::new("noop", payload(*i)))
            .collect();
        let mut tx = db.begin_write().await?;
        enqueue_many(&mut tx, &jobs).await?;
        tx.commit().await?;
    }
    if db.backend() == Backend::Postgres {
        sqlx::query("vacuum analyze jobs_job")
            .execute(db.pool())
            .await?;
    }
    let done = Arc::new(AtomicUsize::new(0));
    let all_ran = Arc::new(tokio::sync::Notify::new());
    let mut registry = Registry::new();
    let (d, n, total) = (done.clone(), all_ran.clone(), a.jobs);
    registry.handle("noop", move |_, _| {
        let (d, n) = (d.clone(), n.clone());
        async move {
            if d.fetch_add(1, Ordering::Relaxed) + 1 == total {
                n.notify_one();
            }
            Ok(())
        }
    });
    let mut settings = JobsSettings {
        concurrency: a.concurrency,
        ..Default::default()
    };
    settings.prefetch = a.prefetch.unwrap_or(settings.prefetch);
    let settings_prefetch = settings.prefetch;
    if let Some(endpoint) = &a.sqs_endpoint {
        for (k, v) in [
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
        ] {
            if std::env::var(k).is_err() {
                std::env::set_var(k, v);
            }
        }
        settings.transport = cielo_jobs::Transport::Sqs;
        settings.sqs.endpoint = Some(endpoint.clone());
        settings.sqs.region = Some("us-east-1".into());
        settings.sqs.wait_seconds = 1;
        let client = cielo_jobs::sqs::SqsClient::new(cielo_jobs::sqs::SqsConfig::from_env(
            Some("us-east-1"),
            Some(endpoint),
        )?);
        let name = format!("jobs-bench-{}", uuid::Uuid::new_v4().simple());
        settings.sqs.queue_url = Some(client.create_queue(&name, &[]).await?);
    }
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let worker =
        tokio::spawn(Worker::new(db.clone(), Arc::new(registry), settings).run(shutdown.clone()));
    all_ran.notified().await;
    // Stopping writes the outcomes still buffered: the queue is empty afterwards.
    shutdown.cancel();
    worker.await??;
    let s = started.elapsed().as_secs_f64();
    let left: i64 = sqlx::Row::try_get(
        &sqlx::query("select count(*) from jobs_job")
            .fetch_one(db.pool())
            .await?,
        0,
    )?;
    anyhow::ensure!(left == 0, "{left} jobs left after the drain");
    println!(
        "{}",
        json!({"figure": if a.sqs_endpoint.is_some() { "drain_sqs_jobs_s" } else { "drain_jobs_s" }, "value": (a.jobs as f64 / s).round(), "jobs": a.jobs, "concurrency": a.concurrency, "prefetch": settings_prefetch})
    );
    Ok(())
}

async fn latency(a: &Args) -> anyhow::Result<()> {
    use std::io::BufRead;
    let db = connect(&a.database_url).await?;
    clear(&db).await?;
    if a.in_process {
        return latency_in_process(a, db).await;
    }
    let exe = std::env::current_exe()?;
    let mut child = std::process::Command::new(exe)
        .args([
            "latency-worker",
            "--database-url",
            &a.database_url,
            "--concurrency",
            &a.concurrency.to_string(),
        ])
        .args(
            a.outcome_interval_ms
                .map(|ms| vec!["--outcome-interval-ms".to_string(), ms.to_string()])
                .unwrap_or_default(),
        )
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = tokio::task::block_in_place(|| lines.next()).transpose()?;
    anyhow::ensure!(first.as_deref() == Some("ready"), "worker did not start");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let achieved = enqueue_at_rate(a, &db).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left: i64 = sqlx::Row::try_get(
            &sqlx::query("select count(*) from jobs_job")
                .fetch_one(db.pool())
                .await?,
            0,
        )?;
        if left == 0 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(child.stdin.take());
    let stats = tokio::task::block_in_place(|| lines.next())
        .transpose()?
        .unwrap_or_default();
    tokio::task::block_in_place(|| child.wait())?;
    let mut v: serde_json::Value = serde_json::from_str(&stats)?;
    v["rate_jobs_s"] = json!(a.rate);
    v["achieved_rate_jobs_s"] = json!(achieved);
    v["worker"] = json!("separate process");
    println!("{v}");
    Ok(())
}

/// Enqueues `warmup + jobs` jobs, one per transaction, at a steady rate.
async fn enqueue_at_rate(a: &Args, db: &Db) -> anyhow::Result<f64> {
    let total = a.warmup + a.jobs;
    let period = Duration::from_micros(1_000_000 / a.rate.max(1));
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    for i in 0..total {
        ticker.tick().await;
        let mut tx = db.begin_write().await?;
        enqueue(
            &mut tx,
            NewJob::new(
                "lat",
                json!({"i": i, "t": micros(), "warmup": i < a.warmup}),
            ),
        )
        .await?;
        tx.commit().await?;
    }
    Ok((total as f64 / started.elapsed().as_secs_f64()).round())
}

async fn latency_in_process(a: &Args, db: Db) -> anyhow::Result<()> {
    let samples = Arc::new(Mutex::new(Vec::<i64>::new()));
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(
        latency_worker_task(
            db.clone(),
            samples.clone(),
            a.concurrency,
            a.outcome_interval_ms,
        )
        .run(shutdown.clone()),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let achieved = enqueue_at_rate(a, &db).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while samples.lock().unwrap().len() < a.jobs && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.cancel();
    worker.await??;
    let mut v = percentiles(&samples.lock().unwrap());
    v["rate_jobs_s"] = json!(a.rate);
    v["achieved_rate_jobs_s"] = json!(achieved);
    v["worker"] = json!("in-process");
    println!("{v}");
    Ok(())
}

fn latency_worker_task(
    db: Db,
    samples: Arc<Mutex<Vec<i64>>>,
    concurrency: usize,
    outcome_interval_ms: Option<u64>,
) -> Worker {
    let mut registry = Registry::new();
    registry.handle("lat", move |_, p| {
        let s = samples.clone();
        async move {
            let started = micros();
            if p["warmup"].as_bool() != Some(true) {
                s.lock()
                    .unwrap()
                    .push(started - p["t"].as_i64().unwrap_or(started));
            }
            Ok(())
        }
    });
    let mut settings = JobsSettings {
        concurrency,
        ..Default::default()
    };
    if let Some(ms) = outcome_interval_ms {
        settings.outcome_interval_ms = ms;
    }
    Worker::new(db, Arc::new(registry), settings)
}

fn percentiles(samples: &[i64]) -> serde_json::Value {
    let mut v = samples.to_vec();
    v.sort_unstable();
    let pct = |p: f64| -> f64 {
        if v.is_empty() {
            return f64::NAN;
        }
        let idx = ((p / 100.0) * (v.len() as f64 - 1.0)).round() as usize;
        (v[idx] as f64 / 1000.0 * 100.0).round() / 100.0
    };
    json!({"figure": "latency_ms", "samples": v.len(), "p50": pct(50.0), "p95": pct(95.0), "p99": pct(99.0), "max": pct(100.0)})
}

async fn latency_worker(a: &Args) -> anyhow::Result<()> {
    let db = connect(&a.database_url).await?;
    let samples = Arc::new(Mutex::new(Vec::<i64>::new()));
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(
        latency_worker_task(db, samples.clone(), a.concurrency, a.outcome_interval_ms)
            .run(shutdown.clone()),
    );
    println!("ready");
    // The parent closes our stdin when it has seen every job finish.
    tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
    })
    .await?;
    shutdown.cancel();
    worker.await??;
    println!("{}", percentiles(&samples.lock().unwrap()));
    Ok(())
}
