//! Guarantees across real processes: SIGKILL, several workers, several schedulers.

use crate::helpers::{count, fresh, postgres_only, wait_until, Node};
use cielo_jobs::{enqueue, enqueue_many, NewJob};
use serde_json::json;
use sqlx::Row;
use std::time::Duration;

#[tokio::test]
async fn a_worker_killed_mid_job_leaves_it_to_another_after_the_lease_and_the_effect_happens_once()
{
    // Arrange: a job that hangs on its first attempt, in a worker with a 2 s lease.
    let t = fresh().await;
    let mut tx = t.db.begin_write().await.unwrap();
    enqueue(
        &mut tx,
        NewJob::new(
            "effect",
            json!({"key": "order-1:submitted", "hang_on_first_attempt": true}),
        ),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mut first = Node::start(&t, "worker", "first", 2);
    wait_until(
        Duration::from_secs(20),
        "the first worker started the job",
        || async { count(&t.db, "select count(*) from jobs_test_run").await == 1 },
    )
    .await;

    // Act: SIGKILL in the middle of the job, then a second worker.
    first.kill();
    assert_eq!(
        count(
            &t.db,
            "select count(*) from jobs_job where state = 'running'"
        )
        .await,
        1,
        "the dead worker still holds the lease"
    );
    let _second = Node::start(&t, "worker", "second", 2);
    wait_until(Duration::from_secs(30), "the job completed", || async {
        count(&t.db, "select count(*) from jobs_job").await == 0
    })
    .await;

    // Assert
    let runs = sqlx::query("select attempt, node from jobs_test_run order by attempt")
        .fetch_all(t.db.pool())
        .await
        .unwrap();
    let runs: Vec<(i64, String)> = runs
        .iter()
        .map(|r| (r.get("attempt"), r.get("node")))
        .collect();
    assert_eq!(
        runs,
        vec![(1, "first".to_string()), (2, "second".to_string())]
    );
    assert_eq!(
        count(&t.db, "select count(*) from jobs_test_effect").await,
        1,
        "the effect happened exactly once"
    );
}

#[tokio::test]
async fn a_job_whose_worker_died_on_its_last_attempt_lands_in_dead_letters() {
    // Arrange
    let t = fresh().await;
    let mut tx = t.db.begin_write().await.unwrap();
    let id = enqueue(
        &mut tx,
        NewJob::new("effect", json!({"key": "k", "hang_on_first_attempt": true})).max_attempts(1),
    )
    .await
    .unwrap()
    .id();
    tx.commit().await.unwrap();
    let mut first = Node::start(&t, "worker", "first", 2);
    wait_until(Duration::from_secs(20), "the job started", || async {
        count(&t.db, "select count(*) from jobs_test_run").await == 1
    })
    .await;

    // Act
    first.kill();
    let _second = Node::start(&t, "worker", "second", 2);
    wait_until(Duration::from_secs(30), "the job is dead", || async {
        count(&t.db, "select count(*) from jobs_job where state = 'dead'").await == 1
    })
    .await;

    // Assert
    let job = cielo_jobs::show_job(&t.db, &id).await.unwrap();
    assert!(job.last_error.unwrap().contains("lease expired"));
    assert_eq!(
        count(&t.db, "select count(*) from jobs_test_run").await,
        1,
        "not run again after its last attempt"
    );
    assert_eq!(
        count(&t.db, "select count(*) from jobs_test_effect").await,
        0
    );
}

#[tokio::test]
async fn a_worker_process_is_woken_by_a_commit_in_another_process() {
    if !postgres_only("a_worker_process_is_woken_by_a_commit_in_another_process") {
        return;
    }
    // Arrange: a worker that polls only once a minute; its first job proves it is up.
    let t = fresh().await;
    let _worker = Node::start_with(&t, "worker", "w", 30, &["--poll-interval-ms", "60000"]);
    let enqueue_one = || async {
        let mut tx = t.db.begin_write().await.unwrap();
        enqueue(&mut tx, NewJob::new("record", json!({})))
            .await
            .unwrap();
        tx.commit().await.unwrap();
    };
    enqueue_one().await;
    wait_until(
        Duration::from_secs(20),
        "the worker finished its first job",
        || async {
            count(&t.db, "select count(*) from jobs_test_run").await == 1
                && count(&t.db, "select count(*) from jobs_job").await == 0
        },
    )
    .await;

    // Act
    enqueue_one().await;

    // Assert: far sooner than the next poll, so NOTIFY woke it.
    wait_until(
        Duration::from_secs(5),
        "the worker ran the second job",
        || async { count(&t.db, "select count(*) from jobs_test_run").await == 2 },
    )
    .await;
}

#[tokio::test]
async fn two_worker_processes_never_run_the_same_job_at_the_same_time() {
    if !postgres_only("two_worker_processes_never_run_the_same_job_at_the_same_time") {
        return;
    }
    // Arrange
    let t = fresh().await;
    let jobs: Vec<NewJob> = (0..400)
        .map(|i| NewJob::new("record", json!({"sleep_ms": i % 3})))
        .collect();
    let mut tx = t.db.begin_write().await.unwrap();
    enqueue_many(&mut tx, &jobs).await.unwrap();
    tx.commit().await.unwrap();

    // Act
    let mut a = Node::start(&t, "worker", "a", 30);
    let mut b = Node::start(&t, "worker", "b", 30);
    wait_until(Duration::from_secs(60), "every job ran", || async {
        count(&t.db, "select count(*) from jobs_job").await == 0
    })
    .await;
    a.stop();
    b.stop();

    // Assert
    assert_eq!(
        count(&t.db, "select count(*) from jobs_test_run").await,
        400
    );
    assert_eq!(
        count(&t.db, "select count(distinct job_id) from jobs_test_run").await,
        400,
        "no job ran twice"
    );
    let nodes = count(&t.db, "select count(distinct node) from jobs_test_run").await;
    eprintln!("jobs were shared by {nodes} worker process(es)");
}

#[tokio::test]
async fn three_scheduler_processes_enqueue_each_tick_once() {
    if !postgres_only("three_scheduler_processes_enqueue_each_tick_once") {
        return;
    }
    // Arrange + Act: three processes, one schedule firing every second.
    let t = fresh().await;
    let mut nodes: Vec<Node> = ["s1", "s2", "s3"]
        .iter()
        .map(|n| Node::start(&t, "scheduler", n, 2))
        .collect();
    wait_until(
        Duration::from_secs(30),
        "five ticks were enqueued",
        || async { count(&t.db, "select count(*) from jobs_job where kind = 'tick'").await >= 5 },
    )
    .await;
    // The leader leaves; another takes over without repeating or skipping a tick.
    nodes[0].stop();
    nodes[1].stop();
    let before = count(&t.db, "select count(*) from jobs_job where kind = 'tick'").await;
    wait_until(
        Duration::from_secs(30),
        "three more ticks were enqueued",
        || async {
            count(&t.db, "select count(*) from jobs_job where kind = 'tick'").await >= before + 3
        },
    )
    .await;
    nodes[2].stop();

    // Assert
    let rows = sqlx::query("select payload from jobs_job where kind = 'tick'")
        .fetch_all(t.db.pool())
        .await
        .unwrap();
    let mut ticks: Vec<i64> = rows
        .iter()
        .map(|r| {
            let p: serde_json::Value =
                serde_json::from_str(&r.get::<String, _>("payload")).unwrap();
            cielo_core::Timestamp::parse_rfc3339(p["tick"].as_str().unwrap())
                .unwrap()
                .as_unix_seconds()
        })
        .collect();
    ticks.sort();
    let n = ticks.len();
    ticks.dedup();
    assert_eq!(ticks.len(), n, "a tick was enqueued twice: {ticks:?}");
    // A clean hand-over of the lease neither repeats nor skips a tick.
    assert!(
        ticks.windows(2).all(|w| w[1] - w[0] == 1),
        "ticks are not consecutive seconds: {ticks:?}"
    );
}

#[tokio::test]
async fn a_scheduler_killed_while_leading_is_replaced_without_repeating_a_tick() {
    if !postgres_only("a_scheduler_killed_while_leading_is_replaced_without_repeating_a_tick") {
        return;
    }
    // Arrange: the first process is alone, so it leads.
    let t = fresh().await;
    let ticks = || count(&t.db, "select count(*) from jobs_job where kind = 'tick'");
    let mut first = Node::start(&t, "scheduler", "first", 2);
    wait_until(
        Duration::from_secs(30),
        "two ticks were enqueued",
        || async { ticks().await >= 2 },
    )
    .await;
    let mut second = Node::start(&t, "scheduler", "second", 2);

    // Act: SIGKILL the leader; its lease must expire before the other takes over.
    first.kill();
    let before = ticks().await;
    wait_until(
        Duration::from_secs(30),
        "the second process enqueued two ticks",
        || async { ticks().await >= before + 2 },
    )
    .await;
    second.stop();

    // Assert
    let rows = sqlx::query("select payload from jobs_job where kind = 'tick'")
        .fetch_all(t.db.pool())
        .await
        .unwrap();
    let mut seen: Vec<String> = rows
        .iter()
        .map(|r| {
            serde_json::from_str::<serde_json::Value>(&r.get::<String, _>("payload")).unwrap()
                ["tick"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let n = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), n, "a tick was enqueued twice: {seen:?}");
}

/// Scale-out under load, on one PostgreSQL database: two "API" processes
/// commit jobs in transactions (every fifth rolled back), three workers run
/// them, two schedulers tick every second. Along the way a worker, an API
/// process and a scheduler are SIGKILLed and restarted. Then: every committed
/// job's effect happened once, no rolled-back job ran, nothing is dead or
/// left, and every tick was enqueued once and ran.
async fn scale_out(t: &crate::helpers::TestDb, jobs_per_api: usize, extra: &[&str]) {
    let per_api = jobs_per_api.to_string();
    let jobs = ["--jobs", per_api.as_str(), "--batch", "10"];
    let api_args: Vec<&str> = jobs.iter().chain(extra).copied().collect();
    let mut a1 = Node::start_with(t, "api", "a1", 2, &api_args);
    let mut a2 = Node::start_with(t, "api", "a2", 2, &api_args);
    let mut workers: Vec<Node> = ["w1", "w2", "w3"]
        .iter()
        .map(|n| Node::start_with(t, "worker", n, 2, extra))
        .collect();
    let mut s1 = Node::start(t, "scheduler", "s1", 2);
    let mut s2 = Node::start(t, "scheduler", "s2", 2);
    let effects = || count(&t.db, "select count(*) from jobs_test_effect");
    let ticks_run = || {
        count(
            &t.db,
            "select count(distinct node) from jobs_test_run where node like 'tick:%'",
        )
    };

    // Kill a worker and an API process under load; restart both (the new API
    // process commits as many jobs again).
    wait_until(
        Duration::from_secs(60),
        "a sixth of the jobs ran",
        || async { effects().await >= jobs_per_api as i64 / 6 },
    )
    .await;
    workers[0].kill();
    a1.kill();
    workers[0] = Node::start_with(t, "worker", "w1-restarted", 2, extra);
    let mut a1 = Node::start_with(t, "api", "a1-restarted", 2, &api_args);
    // Kill a scheduler (the leader or not) and restart it.
    wait_until(Duration::from_secs(60), "three ticks ran", || async {
        ticks_run().await >= 3
    })
    .await;
    s1.kill();
    let mut s1 = Node::start(t, "scheduler", "s1-restarted", 2);

    // Let the load finish and the queue drain.
    for api in [&mut a1, &mut a2] {
        let status = api.child.wait().unwrap();
        assert!(status.success(), "an API process failed: {status}");
    }
    let before = ticks_run().await;
    wait_until(Duration::from_secs(30), "three more ticks ran", || async {
        ticks_run().await >= before + 3
    })
    .await;
    s1.stop();
    s2.stop();
    wait_until(Duration::from_secs(90), "every job ran", || async {
        count(&t.db, "select count(*) from jobs_job").await == 0
            && count(&t.db, "select count(*) from jobs_test_enqueued").await == effects().await
    })
    .await;
    for w in &mut workers {
        w.stop();
    }

    // Assert: committed jobs and effects are the same set, each once.
    let committed = count(&t.db, "select count(*) from jobs_test_enqueued").await;
    assert!(
        committed >= 2 * jobs_per_api as i64,
        "{committed} jobs committed"
    );
    assert_eq!(
        count(&t.db, "select count(*) from jobs_test_enqueued e left join jobs_test_effect f on f.key = e.key where f.key is null").await,
        0,
        "a committed job never ran"
    );
    assert_eq!(
        count(&t.db, "select count(*) from jobs_test_effect f left join jobs_test_enqueued e on e.key = f.key where e.key is null").await,
        0,
        "a rolled-back job ran"
    );
    assert_eq!(
        count(&t.db, "select count(*) from jobs_job where state = 'dead'").await,
        0
    );
    // Each tick was enqueued once (one job per tick) and ran.
    assert_eq!(
        count(&t.db, "select count(*) from (select node from jobs_test_run where node like 'tick:%' group by node having count(distinct job_id) > 1) twice").await,
        0,
        "a tick was enqueued twice"
    );
    let runs = count(
        &t.db,
        "select count(*) from jobs_test_run where node not like 'tick:%'",
    )
    .await;
    eprintln!(
        "{committed} jobs committed and run once each ({} extra runs after the SIGKILL, at least once); {} ticks",
        runs - committed,
        ticks_run().await
    );
}

#[tokio::test]
async fn two_api_three_worker_and_two_scheduler_processes_survive_kills_with_every_job_and_tick_once(
) {
    if !postgres_only("two_api_three_worker_and_two_scheduler_processes_survive_kills_with_every_job_and_tick_once") {
        return;
    }
    let t = fresh().await;
    scale_out(&t, 300, &[]).await;
}

#[tokio::test]
async fn the_same_scale_out_on_the_sqs_transport_keeps_every_guarantee() {
    if !postgres_only("the_same_scale_out_on_the_sqs_transport_keeps_every_guarantee") {
        return;
    }
    let Some(endpoint) =
        crate::sqs::endpoint("the_same_scale_out_on_the_sqs_transport_keeps_every_guarantee")
    else {
        return;
    };
    // The worker processes read credentials from the environment, as in production.
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
    ] {
        if std::env::var(k).is_err() {
            std::env::set_var(k, v);
        }
    }
    let t = fresh().await;
    let queue = crate::sqs::client(&endpoint)
        .create_queue(&crate::sqs::unique("scale-out"), &[])
        .await
        .unwrap();
    // Fewer jobs than on the database: the emulator answers in milliseconds
    // per call where the database batches thousands.
    scale_out(
        &t,
        100,
        &["--sqs-queue-url", &queue, "--sqs-endpoint", &endpoint],
    )
    .await;
}
