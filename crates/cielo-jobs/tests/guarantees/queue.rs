use crate::helpers::{count, fast_settings, fresh};
use cielo_core::Timestamp;
use cielo_jobs::{
    enqueue, enqueue_many, run_pending, run_pending_with, EnqueueOutcome, JobError, NewJob,
    Registry,
};
use serde_json::json;
use std::sync::{Arc, Mutex};

fn recorder() -> (Registry, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut registry = Registry::new();
    let s = seen.clone();
    registry.handle("note", move |_ctx, payload| {
        let s = s.clone();
        async move {
            s.lock()
                .unwrap()
                .push(payload["n"].as_str().unwrap_or_default().to_string());
            Ok::<(), JobError>(())
        }
    });
    (registry, seen)
}

#[tokio::test]
async fn an_enqueued_job_runs_once_and_is_then_removed() {
    // Arrange
    let t = fresh().await;
    let (registry, seen) = recorder();
    let mut tx = t.db.begin_write().await.unwrap();
    let outcome = enqueue(&mut tx, NewJob::new("note", json!({"n": "a"})))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(matches!(outcome, EnqueueOutcome::Enqueued(_)));

    // Act
    let ran = run_pending(&t.db, &registry).await.unwrap();

    // Assert
    assert_eq!(ran, 1);
    assert_eq!(*seen.lock().unwrap(), vec!["a"]);
    assert_eq!(count(&t.db, "select count(*) from jobs_job").await, 0);
    assert_eq!(
        run_pending(&t.db, &registry).await.unwrap(),
        0,
        "nothing left to run"
    );
}

#[tokio::test]
async fn a_job_enqueued_in_a_rolled_back_transaction_never_exists() {
    let t = fresh().await;
    let mut tx = t.db.begin_write().await.unwrap();
    enqueue(&mut tx, NewJob::new("note", json!({})))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(count(&t.db, "select count(*) from jobs_job").await, 0);
}

#[tokio::test]
async fn a_second_job_with_the_unique_key_of_a_pending_one_is_not_enqueued() {
    // Arrange
    let t = fresh().await;
    let (registry, seen) = recorder();
    let job = || NewJob::new("note", json!({"n": "x"})).unique_key("order-1:render");

    // Act
    let mut tx = t.db.begin_write().await.unwrap();
    let first = enqueue(&mut tx, job()).await.unwrap();
    let second = enqueue(&mut tx, job()).await.unwrap();
    tx.commit().await.unwrap();

    // Assert
    assert!(matches!(first, EnqueueOutcome::Enqueued(_)));
    assert_eq!(second, EnqueueOutcome::Duplicate(first.id()));
    assert_eq!(run_pending(&t.db, &registry).await.unwrap(), 1);
    assert_eq!(seen.lock().unwrap().len(), 1);
    // Once the job is done, the key is free again.
    let mut tx = t.db.begin_write().await.unwrap();
    assert!(matches!(
        enqueue(&mut tx, job()).await.unwrap(),
        EnqueueOutcome::Enqueued(_)
    ));
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn jobs_run_by_priority_then_by_run_time_and_not_before_it() {
    // Arrange
    let t = fresh().await;
    let (registry, seen) = recorder();
    let now = Timestamp::now();
    let mut tx = t.db.begin_write().await.unwrap();
    enqueue(
        &mut tx,
        NewJob::new("note", json!({"n": "low-old"})).run_at(now.plus_seconds(-20)),
    )
    .await
    .unwrap();
    enqueue(
        &mut tx,
        NewJob::new("note", json!({"n": "high"})).priority(5),
    )
    .await
    .unwrap();
    enqueue(
        &mut tx,
        NewJob::new("note", json!({"n": "low-older"})).run_at(now.plus_seconds(-30)),
    )
    .await
    .unwrap();
    enqueue(
        &mut tx,
        NewJob::new("note", json!({"n": "later"}))
            .priority(9)
            .run_at(now.plus_seconds(3600)),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    // Act
    let ran = run_pending(&t.db, &registry).await.unwrap();

    // Assert
    assert_eq!(ran, 3);
    assert_eq!(*seen.lock().unwrap(), vec!["high", "low-older", "low-old"]);
    assert_eq!(
        count(
            &t.db,
            "select count(*) from jobs_job where state = 'pending'"
        )
        .await,
        1,
        "the later job waits"
    );
}

#[tokio::test]
async fn bulk_enqueue_writes_every_job_and_skips_taken_unique_keys() {
    let t = fresh().await;
    let (registry, seen) = recorder();
    let mut jobs: Vec<NewJob> = (0..300)
        .map(|i| NewJob::new("note", json!({"n": i.to_string()})))
        .collect();
    jobs.push(NewJob::new("note", json!({"n": "k1"})).unique_key("k"));
    jobs.push(NewJob::new("note", json!({"n": "k2"})).unique_key("k"));

    let mut tx = t.db.begin_write().await.unwrap();
    let written = enqueue_many(&mut tx, &jobs).await.unwrap();
    tx.commit().await.unwrap();

    assert_eq!(written, 301);
    assert_eq!(count(&t.db, "select count(*) from jobs_job").await, 301);
    assert_eq!(run_pending(&t.db, &registry).await.unwrap(), 301);
    assert_eq!(seen.lock().unwrap().len(), 301);
}

#[tokio::test]
async fn a_failing_job_backs_off_keeps_its_error_and_lands_in_dead_letters() {
    // Arrange
    let t = fresh().await;
    let mut registry = Registry::new();
    registry.handle("flaky", |ctx, _| async move {
        Err::<(), _>(JobError::retry(format!(
            "lab unreachable (attempt {})",
            ctx.attempt
        )))
    });
    let settings = fast_settings();
    let mut tx = t.db.begin_write().await.unwrap();
    let id = enqueue(&mut tx, NewJob::new("flaky", json!({})).max_attempts(3))
        .await
        .unwrap()
        .id();
    tx.commit().await.unwrap();

    // Act: the first attempt fails and is rescheduled later, not run again at once.
    let before = Timestamp::now();
    assert_eq!(
        run_pending_with(&t.db, &registry, &settings).await.unwrap(),
        1
    );
    let job = cielo_jobs::show_job(&t.db, &id).await.unwrap();

    // Assert
    assert_eq!(job.state, cielo_jobs::JobState::Pending);
    assert_eq!(job.attempts, 1);
    assert!(job.run_at > before, "retry is delayed by the backoff");
    assert_eq!(
        job.last_error.as_deref(),
        Some("lab unreachable (attempt 1)")
    );

    // Act: keep draining until the attempts are used up.
    crate::helpers::wait_until(
        std::time::Duration::from_secs(10),
        "the job is dead",
        || async {
            run_pending_with(&t.db, &registry, &settings).await.unwrap();
            cielo_jobs::show_job(&t.db, &id).await.unwrap().state == cielo_jobs::JobState::Dead
        },
    )
    .await;

    // Assert
    let dead = cielo_jobs::dead_letters(&t.db, None, None, None)
        .await
        .unwrap();
    assert_eq!(dead.jobs.len(), 1);
    assert_eq!(dead.jobs[0].id, id);
    assert_eq!(dead.jobs[0].attempts, 3);
    assert_eq!(
        dead.jobs[0].last_error.as_deref(),
        Some("lab unreachable (attempt 3)")
    );
}

#[tokio::test]
async fn a_permanent_error_or_a_panic_is_handled_without_losing_the_job() {
    let t = fresh().await;
    let mut registry = Registry::new();
    registry.handle("bad-input", |_, _| async {
        Err::<(), _>(JobError::permanent("no such variant"))
    });
    registry.handle("panics", |_, _| async { panic!("bug in handler") });
    let mut tx = t.db.begin_write().await.unwrap();
    let bad = enqueue(&mut tx, NewJob::new("bad-input", json!({})))
        .await
        .unwrap()
        .id();
    let panics = enqueue(&mut tx, NewJob::new("panics", json!({})))
        .await
        .unwrap()
        .id();
    tx.commit().await.unwrap();

    assert_eq!(run_pending(&t.db, &registry).await.unwrap(), 2);

    let bad = cielo_jobs::show_job(&t.db, &bad).await.unwrap();
    assert_eq!(
        (bad.state, bad.attempts),
        (cielo_jobs::JobState::Dead, 1),
        "a permanent error skips the retries"
    );
    let panics = cielo_jobs::show_job(&t.db, &panics).await.unwrap();
    assert_eq!(
        panics.state,
        cielo_jobs::JobState::Pending,
        "a panic is a failed attempt, retried later"
    );
    assert!(panics.last_error.unwrap().contains("bug in handler"));
}

#[tokio::test]
async fn a_job_without_a_handler_is_retried_not_lost_and_a_handler_can_ask_for_a_delay() {
    let t = fresh().await;
    let mut registry = Registry::new();
    registry.handle("rate-limited", |_, _| async {
        Err::<(), _>(JobError::retry_after(
            "429 from the lab",
            std::time::Duration::from_secs(120),
        ))
    });
    let mut tx = t.db.begin_write().await.unwrap();
    let orphan = enqueue(&mut tx, NewJob::new("nobody-handles-this", json!({})))
        .await
        .unwrap()
        .id();
    let limited = enqueue(&mut tx, NewJob::new("rate-limited", json!({})))
        .await
        .unwrap()
        .id();
    tx.commit().await.unwrap();

    let before = Timestamp::now();
    assert_eq!(run_pending(&t.db, &registry).await.unwrap(), 2);

    let orphan = cielo_jobs::show_job(&t.db, &orphan).await.unwrap();
    assert_eq!(orphan.state, cielo_jobs::JobState::Pending);
    assert!(orphan.last_error.unwrap().contains("no handler"));
    let limited = cielo_jobs::show_job(&t.db, &limited).await.unwrap();
    assert!(
        limited.run_at >= before.plus_seconds(119),
        "the handler's delay wins over the backoff"
    );
}

#[tokio::test]
async fn a_typed_handler_gets_its_arguments_and_a_malformed_payload_is_dead_at_once() {
    #[derive(serde::Deserialize)]
    struct Submit {
        order: String,
    }
    let t = fresh().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut registry = Registry::new();
    let s = seen.clone();
    registry.handle_json("submit", move |_ctx, args: Submit| {
        let s = s.clone();
        async move {
            s.lock().unwrap().push(args.order);
            Ok(())
        }
    });
    let mut tx = t.db.begin_write().await.unwrap();
    enqueue(&mut tx, NewJob::new("submit", json!({"order": "ord_7"})))
        .await
        .unwrap();
    let bad = enqueue(&mut tx, NewJob::new("submit", json!({"orden": 7})))
        .await
        .unwrap()
        .id();
    tx.commit().await.unwrap();

    assert_eq!(run_pending(&t.db, &registry).await.unwrap(), 2);

    assert_eq!(*seen.lock().unwrap(), vec!["ord_7"]);
    let bad = cielo_jobs::show_job(&t.db, &bad).await.unwrap();
    assert_eq!(bad.state, cielo_jobs::JobState::Dead);
    assert!(bad.last_error.unwrap().contains("malformed payload"));
}
