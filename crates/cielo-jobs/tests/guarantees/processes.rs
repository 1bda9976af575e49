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
