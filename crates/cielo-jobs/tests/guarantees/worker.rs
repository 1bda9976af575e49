use crate::helpers::{count, fast_settings, fresh, wait_until};
use cielo_jobs::{
    enqueue, enqueue_many, JobError, JobsSettings, NewJob, QueueSettings, Registry, Worker,
};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

fn start(
    db: &cielo_db::Db,
    registry: Registry,
    settings: JobsSettings,
) -> (
    CancellationToken,
    tokio::task::JoinHandle<Result<(), cielo_jobs::Error>>,
) {
    let shutdown = CancellationToken::new();
    let worker = Worker::new(db.clone(), Arc::new(registry), settings);
    let handle = tokio::spawn(worker.run(shutdown.clone()));
    (shutdown, handle)
}

#[tokio::test]
async fn a_running_worker_picks_up_a_new_job_without_waiting_for_its_poll_interval() {
    // Arrange: a poll interval far longer than the deadline below, so only
    // the wake-up (NOTIFY on PostgreSQL, in-process on SQLite) can explain a pick-up.
    let t = fresh().await;
    let ran = Arc::new(AtomicUsize::new(0));
    let mut registry = Registry::new();
    let r = ran.clone();
    registry.handle("ping", move |_, _| {
        let r = r.clone();
        async move {
            r.fetch_add(1, Ordering::SeqCst);
            Ok::<(), JobError>(())
        }
    });
    let (shutdown, handle) = start(
        &t.db,
        registry,
        JobsSettings {
            poll_interval_ms: 60_000,
            ..fast_settings()
        },
    );
    tokio::time::sleep(Duration::from_millis(300)).await; // let it settle into waiting

    // Act
    let mut tx = t.db.begin_write().await.unwrap();
    enqueue(&mut tx, NewJob::new("ping", json!({})))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Assert
    wait_until(Duration::from_secs(5), "the job ran", || async {
        ran.load(Ordering::SeqCst) == 1
    })
    .await;
    shutdown.cancel();
    handle.await.unwrap().unwrap();
    assert_eq!(count(&t.db, "select count(*) from jobs_job").await, 0);
}

#[tokio::test]
async fn a_running_worker_dispatches_a_published_event_and_runs_its_subscriber_promptly() {
    // Arrange: as above, only a wake-up can explain a pick-up within the deadline.
    let t = fresh().await;
    let ran = Arc::new(AtomicUsize::new(0));
    let mut registry = Registry::new();
    let r = ran.clone();
    registry
        .subscribe("order.paid", "notify.confirmation")
        .handle("notify.confirmation", move |ctx, _| {
            let r = r.clone();
            async move {
                assert!(ctx.event_id.is_some());
                r.fetch_add(1, Ordering::SeqCst);
                Ok::<(), JobError>(())
            }
        });
    let (shutdown, handle) = start(
        &t.db,
        registry,
        JobsSettings {
            poll_interval_ms: 60_000,
            ..fast_settings()
        },
    );
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Act
    let mut tx = t.db.begin_write().await.unwrap();
    cielo_jobs::publish(&mut tx, "order.paid", json!({"order": "ord_1"}))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Assert
    wait_until(Duration::from_secs(5), "the subscriber ran", || async {
        ran.load(Ordering::SeqCst) == 1
    })
    .await;
    shutdown.cancel();
    handle.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_queue_never_runs_more_jobs_at_once_than_its_limit() {
    // Arrange
    let t = fresh().await;
    let active = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let mut registry = Registry::new();
    let (a, p, d) = (active.clone(), peak.clone(), done.clone());
    registry.handle("render", move |_, _| {
        let (a, p, d) = (a.clone(), p.clone(), d.clone());
        async move {
            let now = a.fetch_add(1, Ordering::SeqCst) + 1;
            p.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(60)).await;
            a.fetch_sub(1, Ordering::SeqCst);
            d.fetch_add(1, Ordering::SeqCst);
            Ok::<(), JobError>(())
        }
    });
    let mut settings = JobsSettings {
        concurrency: 10,
        prefetch: 10,
        ..fast_settings()
    };
    settings
        .queues
        .insert("render".into(), QueueSettings { concurrency: 2 });
    let jobs: Vec<NewJob> = (0..8)
        .map(|_| NewJob::new("render", json!({})).queue("render"))
        .collect();
    let mut tx = t.db.begin_write().await.unwrap();
    enqueue_many(&mut tx, &jobs).await.unwrap();
    tx.commit().await.unwrap();

    // Act
    let (shutdown, handle) = start(&t.db, registry, settings);
    wait_until(Duration::from_secs(10), "all jobs ran", || async {
        done.load(Ordering::SeqCst) == 8
    })
    .await;
    shutdown.cancel();
    handle.await.unwrap().unwrap();

    // Assert
    assert_eq!(peak.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_queue_with_a_lane_runs_while_every_shared_slot_is_busy_and_priority_goes_first() {
    // Arrange: one shared slot taken by a long job, a `labs` lane of 3, and
    // an event subscriber with a priority.
    let t = fresh().await;
    let release = Arc::new(tokio::sync::Notify::new());
    let hogging = Arc::new(AtomicUsize::new(0));
    let lane_done = Arc::new(AtomicUsize::new(0));
    let order = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut registry = Registry::new();
    let (r, h) = (release.clone(), hogging.clone());
    registry.handle("hog", move |_, _| {
        let (r, h) = (r.clone(), h.clone());
        async move {
            h.fetch_add(1, Ordering::SeqCst);
            r.notified().await;
            Ok::<(), JobError>(())
        }
    });
    let d = lane_done.clone();
    registry.handle("call", move |_, _| {
        let d = d.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            d.fetch_add(1, Ordering::SeqCst);
            Ok::<(), JobError>(())
        }
    });
    for kind in ["plain", "urgent"] {
        let o = order.clone();
        registry.handle(kind, move |_, _| {
            let o = o.clone();
            async move {
                o.lock().unwrap().push(kind.to_string());
                Ok::<(), JobError>(())
            }
        });
    }
    registry
        .subscribe("thing.happened", "plain")
        .subscribe("thing.happened", "urgent")
        .prioritise("urgent", 10);
    let mut settings = JobsSettings {
        concurrency: 1,
        prefetch: 0,
        ..fast_settings()
    };
    settings
        .queues
        .insert("labs".into(), QueueSettings { concurrency: 3 });
    let mut tx = t.db.begin_write().await.unwrap();
    enqueue(&mut tx, NewJob::new("hog", json!({})))
        .await
        .unwrap();
    let calls: Vec<NewJob> = (0..6)
        .map(|_| NewJob::new("call", json!({})).queue("labs"))
        .collect();
    enqueue_many(&mut tx, &calls).await.unwrap();
    tx.commit().await.unwrap();

    // Act
    let (shutdown, handle) = start(&t.db, registry, settings);
    wait_until(
        Duration::from_secs(10),
        "the hog holds the slot",
        || async { hogging.load(Ordering::SeqCst) == 1 },
    )
    .await;
    let mut tx = t.db.begin_write().await.unwrap();
    cielo_jobs::publish(&mut tx, "thing.happened", json!({}))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Assert: the lane's jobs all ran while the shared slot was held.
    wait_until(Duration::from_secs(10), "the lane's jobs ran", || async {
        lane_done.load(Ordering::SeqCst) == 6
    })
    .await;
    assert!(order.lock().unwrap().is_empty(), "the shared slot is held");
    release.notify_one();
    wait_until(Duration::from_secs(10), "the subscribers ran", || async {
        order.lock().unwrap().len() == 2
    })
    .await;
    assert_eq!(*order.lock().unwrap(), ["urgent", "plain"]);
    shutdown.cancel();
    handle.await.unwrap().unwrap();
}

#[tokio::test]
async fn shutdown_lets_the_running_job_finish_and_gives_unstarted_ones_back() {
    // Arrange: one slot and a prefetch buffer, so three jobs are claimed but only one runs.
    let t = fresh().await;
    let started = Arc::new(AtomicUsize::new(0));
    let mut registry = Registry::new();
    let s = started.clone();
    registry.handle("slow", move |_, _| {
        let s = s.clone();
        async move {
            s.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(400)).await;
            Ok::<(), JobError>(())
        }
    });
    let jobs: Vec<NewJob> = (0..3).map(|_| NewJob::new("slow", json!({}))).collect();
    let mut tx = t.db.begin_write().await.unwrap();
    enqueue_many(&mut tx, &jobs).await.unwrap();
    tx.commit().await.unwrap();
    let (shutdown, handle) = start(
        &t.db,
        registry,
        JobsSettings {
            concurrency: 1,
            prefetch: 5,
            ..fast_settings()
        },
    );
    wait_until(Duration::from_secs(5), "the first job started", || async {
        started.load(Ordering::SeqCst) == 1
    })
    .await;

    // Act
    shutdown.cancel();
    handle.await.unwrap().unwrap();

    // Assert
    assert_eq!(started.load(Ordering::SeqCst), 1);
    assert_eq!(
        count(&t.db, "select count(*) from jobs_job").await,
        2,
        "the running job finished and was removed"
    );
    assert_eq!(count(&t.db, "select count(*) from jobs_job where state = 'pending' and attempts = 0 and lease_token is null").await, 2);
}

#[tokio::test]
async fn a_heartbeat_keeps_a_long_job_from_being_handed_to_another_worker() {
    // Arrange: a 2 s lease, a 3.6 s job that beats every 300 ms, and two workers.
    let t = fresh().await;
    let runs = Arc::new(AtomicUsize::new(0));
    let make_registry = || {
        let mut registry = Registry::new();
        let r = runs.clone();
        registry.handle("long", move |ctx, _| {
            let r = r.clone();
            async move {
                r.fetch_add(1, Ordering::SeqCst);
                for _ in 0..12 {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    ctx.heartbeat().beat().await?;
                }
                Ok::<(), JobError>(())
            }
        });
        registry
    };
    let settings = JobsSettings {
        lease_seconds: 2,
        ..fast_settings()
    };
    let (stop_a, a) = start(&t.db, make_registry(), settings.clone());
    let (stop_b, b) = start(&t.db, make_registry(), settings);
    let mut tx = t.db.begin_write().await.unwrap();
    enqueue(&mut tx, NewJob::new("long", json!({})))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Act
    wait_until(Duration::from_secs(10), "the job finished", || async {
        count(&t.db, "select count(*) from jobs_job").await == 0
    })
    .await;
    stop_a.cancel();
    stop_b.cancel();
    a.await.unwrap().unwrap();
    b.await.unwrap().unwrap();

    // Assert
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn metrics_show_depth_age_and_dead_letters_per_queue() {
    // Arrange
    let t = fresh().await;
    let mut registry = Registry::new();
    registry.handle("fails", |_, _| async {
        Err::<(), _>(JobError::permanent("nope"))
    });
    let mut tx = t.db.begin_write().await.unwrap();
    let old = cielo_core::Timestamp::now().plus_seconds(-90);
    enqueue(
        &mut tx,
        NewJob::new("waits", json!({})).queue("mail").run_at(old),
    )
    .await
    .unwrap();
    enqueue(
        &mut tx,
        NewJob::new("fails", json!({}))
            .queue("render")
            .priority(100),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let (shutdown, handle) = start(
        &t.db,
        registry,
        JobsSettings {
            queues: [("mail".to_string(), QueueSettings { concurrency: 0 })].into(),
            ..fast_settings()
        },
    );
    wait_until(
        Duration::from_secs(5),
        "the failing job is dead",
        || async { count(&t.db, "select count(*) from jobs_job where state = 'dead'").await == 1 },
    )
    .await;
    shutdown.cancel();
    handle.await.unwrap().unwrap();

    // Act
    let queues = cielo_jobs::queue_stats(&t.db).await.unwrap();

    // Assert
    let mail = queues.iter().find(|q| q.queue == "mail").unwrap();
    assert_eq!(mail.runnable, 1);
    assert!(
        mail.oldest_runnable_age_seconds >= 90.0,
        "{}",
        mail.oldest_runnable_age_seconds
    );
    let render = queues.iter().find(|q| q.queue == "render").unwrap();
    assert_eq!((render.runnable, render.dead), (0, 1));
}

#[tokio::test]
async fn worker_counters_record_durations_failures_and_dead_letters() {
    let t = fresh().await;
    let mut registry = Registry::new();
    registry.handle("ok", |_, _| async { Ok(()) });
    registry.handle("fails", |_, _| async {
        Err::<(), _>(JobError::permanent("nope"))
    });
    let mut tx = t.db.begin_write().await.unwrap();
    enqueue(&mut tx, NewJob::new("ok", json!({})))
        .await
        .unwrap();
    enqueue(&mut tx, NewJob::new("fails", json!({})))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let shutdown = CancellationToken::new();
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let prometheus = recorder.handle();
    let worker = Worker::new(t.db.clone(), Arc::new(registry), fast_settings()).with_metrics(
        Arc::new(cielo_jobs::JobMetrics::with_sink(
            cielo_core::telemetry::MetricsSink::Recorder(Arc::new(recorder)),
        )),
    );
    let handle = tokio::spawn(worker.run(shutdown.clone()));
    let attempts = "cielo_jobs_duration_seconds_count{queue=\"default\"} 2\n";
    wait_until(Duration::from_secs(5), "both jobs ran", || async {
        prometheus.render().contains(attempts)
    })
    .await;
    shutdown.cancel();
    handle.await.unwrap().unwrap();
    let text = prometheus.render();
    for line in [
        "cielo_jobs_attempts_total{queue=\"default\",outcome=\"succeeded\"} 1\n",
        "cielo_jobs_attempts_total{queue=\"default\",outcome=\"failed\"} 1\n",
        "cielo_jobs_dead_letters_total{queue=\"default\"} 1\n",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
}
