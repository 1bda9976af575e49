//! The SQS transport against an SQS emulator (moto): the endpoint comes from
//! `CIELO_TEST_SQS_ENDPOINT`, else `CIELO_TEST_S3_ENDPOINT` (one moto server
//! emulates both). Without either, each test prints why it did not run.
//! Every test uses queues of its own (no emulator reset: other tests may
//! share the server).

use crate::helpers::{count, fast_settings, fresh, wait_until};
use cielo_jobs::sqs::{Delivery, SqsClient, SqsConfig, SqsTransport};
use cielo_jobs::{enqueue, publish, JobError, JobsSettings, NewJob, Registry, Transport, Worker};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub fn endpoint(test: &str) -> Option<String> {
    let e = std::env::var("CIELO_TEST_SQS_ENDPOINT")
        .or_else(|_| std::env::var("CIELO_TEST_S3_ENDPOINT"))
        .ok()
        .filter(|e| !e.is_empty());
    if e.is_none() {
        eprintln!("skipped: `{test}` needs an SQS emulator; set CIELO_TEST_SQS_ENDPOINT (or CIELO_TEST_S3_ENDPOINT) to a moto server");
    }
    e
}

pub fn client(endpoint: &str) -> SqsClient {
    SqsClient::new(SqsConfig {
        endpoint: endpoint.trim_end_matches('/').to_string(),
        region: "us-east-1".into(),
        access_key_id: "test".into(),
        secret_access_key: "test".into(),
        session_token: None,
    })
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

fn settings(queue_url: &str) -> JobsSettings {
    let mut s = fast_settings();
    s.transport = Transport::Sqs;
    s.sqs.queue_url = Some(queue_url.to_string());
    s.sqs.wait_seconds = 1;
    s
}

/// A queue whose messages move to a fresh dead-letter queue after
/// `max_receives` receives; returns (queue URL, DLQ URL).
async fn queue_with_dlq(c: &SqsClient, max_receives: u32) -> (String, String) {
    let dlq = c.create_queue(&unique("dlq"), &[]).await.unwrap();
    let dlq_arn = c.queue_attribute(&dlq, "QueueArn").await.unwrap().unwrap();
    let redrive =
        json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives.to_string()});
    let q = c
        .create_queue(
            &unique("jobs"),
            &[
                ("VisibilityTimeout", "1".into()),
                ("RedrivePolicy", redrive.to_string()),
            ],
        )
        .await
        .unwrap();
    (q, dlq)
}

#[tokio::test]
async fn a_job_enqueued_in_a_rolled_back_transaction_is_never_sent() {
    let Some(ep) = endpoint("a_job_enqueued_in_a_rolled_back_transaction_is_never_sent") else {
        return;
    };
    // Arrange
    let t = fresh().await;
    let c = client(&ep);
    let q = c.create_queue(&unique("jobs"), &[]).await.unwrap();
    let transport = SqsTransport::with_client(c.clone(), &settings(&q)).unwrap();
    let registry = Registry::new();

    // Act
    let mut tx = t.db.begin_write().await.unwrap();
    enqueue(
        &mut tx,
        NewJob::new("mail.send", json!({"n": "rolled back"})),
    )
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    let mut tx = t.db.begin_write().await.unwrap();
    enqueue(&mut tx, NewJob::new("mail.send", json!({"n": "committed"})))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let sent = transport.relay(&t.db, &registry).await.unwrap();

    // Assert: only the committed job left, and its row is gone.
    assert_eq!(sent, 1);
    assert_eq!(count(&t.db, "select count(*) from jobs_job").await, 0);
    let got = c
        .receive_messages(&q, 10, Duration::from_secs(1), Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].body.contains("committed"), "{}", got[0].body);
    assert_eq!(transport.relay(&t.db, &registry).await.unwrap(), 0);
}

#[tokio::test]
async fn an_event_subscriber_runs_its_handler_once_through_sqs() {
    let Some(ep) = endpoint("an_event_subscriber_runs_its_handler_once_through_sqs") else {
        return;
    };
    // Arrange
    let t = fresh().await;
    let c = client(&ep);
    let q = c.create_queue(&unique("jobs"), &[]).await.unwrap();
    let transport = SqsTransport::with_client(c.clone(), &settings(&q)).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut registry = Registry::new();
    let s = seen.clone();
    registry
        .subscribe("order.paid", "notify.confirmation")
        .handle("notify.confirmation", move |ctx, payload| {
            let s = s.clone();
            async move {
                s.lock().unwrap().push((
                    ctx.event_id.map(|e| e.to_string()),
                    ctx.attempt,
                    payload["order"].clone(),
                ));
                Ok::<(), JobError>(())
            }
        });
    let mut tx = t.db.begin_write().await.unwrap();
    let event = publish(&mut tx, "order.paid", json!({"order": "ord_1"}))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Act
    assert_eq!(transport.relay(&t.db, &registry).await.unwrap(), 1);
    let deliveries = transport
        .consume_once(&t.db, &registry, &q, 10)
        .await
        .unwrap();

    // Assert
    assert_eq!(deliveries, vec![Delivery::Done]);
    assert_eq!(
        *seen.lock().unwrap(),
        vec![(Some(event.to_string()), 1, json!("ord_1"))]
    );
    assert_eq!(
        c.queue_attribute(&q, "ApproximateNumberOfMessages")
            .await
            .unwrap()
            .as_deref(),
        Some("0")
    );
    assert_eq!(
        c.queue_attribute(&q, "ApproximateNumberOfMessagesNotVisible")
            .await
            .unwrap()
            .as_deref(),
        Some("0"),
        "the done message was deleted"
    );
}

#[tokio::test]
async fn a_failing_job_returns_to_the_queue_and_runs_again() {
    let Some(ep) = endpoint("a_failing_job_returns_to_the_queue_and_runs_again") else {
        return;
    };
    // Arrange: the first attempt fails.
    let t = fresh().await;
    let c = client(&ep);
    let (q, _dlq) = queue_with_dlq(&c, 5).await;
    let transport = SqsTransport::with_client(c.clone(), &settings(&q)).unwrap();
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let mut registry = Registry::new();
    let a = attempts.clone();
    registry.handle("flaky", move |ctx, _| {
        let a = a.clone();
        async move {
            a.lock().unwrap().push(ctx.attempt);
            if ctx.attempt == 1 {
                return Err(JobError::retry("the lab is down"));
            }
            Ok(())
        }
    });
    let mut tx = t.db.begin_write().await.unwrap();
    enqueue(&mut tx, NewJob::new("flaky", json!({})))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    transport.relay(&t.db, &registry).await.unwrap();

    // Act
    let first = transport
        .consume_once(&t.db, &registry, &q, 10)
        .await
        .unwrap();
    let mut second = Vec::new();
    for _ in 0..20 {
        second = transport
            .consume_once(&t.db, &registry, &q, 10)
            .await
            .unwrap();
        if !second.is_empty() {
            break;
        }
    }

    // Assert
    assert_eq!(first, vec![Delivery::Retry("the lab is down".into())]);
    assert_eq!(second, vec![Delivery::Done]);
    assert_eq!(
        *attempts.lock().unwrap(),
        vec![1, 2],
        "attempt = receive count"
    );
    assert_eq!(count(&t.db, "select count(*) from jobs_job").await, 0);
}

#[tokio::test]
async fn a_poison_job_and_an_unreadable_message_reach_the_dead_letter_queue() {
    let Some(ep) = endpoint("a_poison_job_and_an_unreadable_message_reach_the_dead_letter_queue")
    else {
        return;
    };
    // Arrange: a handler that always fails, more attempts allowed than the
    // queue's redrive policy, and a message that is not a job at all.
    let t = fresh().await;
    let c = client(&ep);
    let (q, dlq) = queue_with_dlq(&c, 2).await;
    let transport = SqsTransport::with_client(c.clone(), &settings(&q)).unwrap();
    let mut registry = Registry::new();
    registry.handle("poison", |_, _| async {
        Err(JobError::retry("always fails"))
    });
    let mut tx = t.db.begin_write().await.unwrap();
    let job = enqueue(&mut tx, NewJob::new("poison", json!({})).max_attempts(10))
        .await
        .unwrap()
        .id();
    tx.commit().await.unwrap();
    transport.relay(&t.db, &registry).await.unwrap();
    c.send_message(
        &q,
        &cielo_jobs::sqs::BatchEntry {
            id: "x".into(),
            message_body: "not json".into(),
            message_group_id: None,
            message_deduplication_id: None,
        },
    )
    .await
    .unwrap();

    // Act: receive until the source queue is drained by the redrive policy.
    let mut failures = Vec::new();
    for _ in 0..30 {
        let got = transport
            .consume_once(&t.db, &registry, &q, 10)
            .await
            .unwrap();
        failures.extend(got.into_iter().filter(Delivery::keeps_message));
        let visible = c
            .queue_attribute(&q, "ApproximateNumberOfMessages")
            .await
            .unwrap();
        let hidden = c
            .queue_attribute(&q, "ApproximateNumberOfMessagesNotVisible")
            .await
            .unwrap();
        if failures.len() >= 4 && visible.as_deref() == Some("0") && hidden.as_deref() == Some("0")
        {
            break;
        }
    }

    // Assert: each was received twice, then moved; both are in the DLQ.
    assert_eq!(failures.len(), 4, "{failures:?}");
    let dead = c
        .receive_messages(&dlq, 10, Duration::from_secs(1), Duration::from_secs(30))
        .await
        .unwrap();
    let mut bodies: Vec<&str> = dead.iter().map(|m| m.body.as_str()).collect();
    bodies.sort();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    assert!(
        bodies.iter().any(|b| b.contains(&job.to_string())),
        "{bodies:?}"
    );
    assert!(bodies.contains(&"not json"), "{bodies:?}");
}

#[tokio::test]
async fn a_job_that_dies_is_recorded_in_the_dead_letters_and_leaves_the_queue() {
    let Some(ep) = endpoint("a_job_that_dies_is_recorded_in_the_dead_letters_and_leaves_the_queue")
    else {
        return;
    };
    // Arrange
    let t = fresh().await;
    let c = client(&ep);
    let (q, dlq) = queue_with_dlq(&c, 5).await;
    let transport = SqsTransport::with_client(c.clone(), &settings(&q)).unwrap();
    let mut registry = Registry::new();
    registry.handle("refund", |_, _| async {
        Err(JobError::permanent("card expired"))
    });
    let mut tx = t.db.begin_write().await.unwrap();
    let job = enqueue(&mut tx, NewJob::new("refund", json!({"order": "ord_9"})))
        .await
        .unwrap()
        .id();
    tx.commit().await.unwrap();
    transport.relay(&t.db, &registry).await.unwrap();

    // Act
    let got = transport
        .consume_once(&t.db, &registry, &q, 10)
        .await
        .unwrap();

    // Assert: in Cielo's dead letters (retryable by a person), gone from SQS.
    assert_eq!(got, vec![Delivery::Dead("card expired".into())]);
    let dead = cielo_jobs::dead_letters(&t.db, None, None, Some(10))
        .await
        .unwrap()
        .jobs;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, job);
    assert_eq!(dead[0].last_error.as_deref(), Some("card expired"));
    assert_eq!(dead[0].payload, json!({"order": "ord_9"}));
    for url in [&q, &dlq] {
        for attr in [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
        ] {
            assert_eq!(
                c.queue_attribute(url, attr).await.unwrap().as_deref(),
                Some("0"),
                "{url} {attr}"
            );
        }
    }

    // A person retries it: it travels through SQS again.
    cielo_jobs::retry_job(&t.db, &job).await.unwrap();
    assert_eq!(transport.relay(&t.db, &registry).await.unwrap(), 1);
}

#[tokio::test]
async fn a_fifo_queue_keeps_the_order_of_jobs_of_one_group() {
    let Some(ep) = endpoint("a_fifo_queue_keeps_the_order_of_jobs_of_one_group") else {
        return;
    };
    // Arrange
    let t = fresh().await;
    let c = client(&ep);
    let q = c
        .create_queue(
            &format!("{}.fifo", unique("jobs")),
            &[("FifoQueue", "true".into())],
        )
        .await
        .unwrap();
    let mut s = settings(&q);
    s.sqs.group_field = Some("order_id".into());
    let transport = SqsTransport::with_client(c.clone(), &s).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut registry = Registry::new();
    let sn = seen.clone();
    registry.handle("step", move |_, p| {
        let sn = sn.clone();
        async move {
            sn.lock().unwrap().push(p["step"].as_i64().unwrap());
            Ok::<(), JobError>(())
        }
    });
    let mut tx = t.db.begin_write().await.unwrap();
    for step in 0..5 {
        // Priorities make the relay send them in this order.
        enqueue(
            &mut tx,
            NewJob::new("step", json!({"order_id": "ord_1", "step": step})).priority(10 - step),
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();

    // Act
    assert_eq!(transport.relay(&t.db, &registry).await.unwrap(), 5);
    for _ in 0..10 {
        if seen.lock().unwrap().len() == 5 {
            break;
        }
        transport
            .consume_once(&t.db, &registry, &q, 10)
            .await
            .unwrap();
    }

    // Assert
    assert_eq!(*seen.lock().unwrap(), vec![0, 1, 2, 3, 4]);
}

#[tokio::test]
async fn a_worker_on_the_sqs_transport_runs_every_job_with_the_same_handlers() {
    let Some(ep) = endpoint("a_worker_on_the_sqs_transport_runs_every_job_with_the_same_handlers")
    else {
        return;
    };
    // Arrange: the worker reads credentials like in production, from the environment.
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ] {
        if std::env::var(k).is_err() {
            std::env::set_var(k, v);
        }
    }
    let t = fresh().await;
    let c = client(&ep);
    let q = c.create_queue(&unique("jobs"), &[]).await.unwrap();
    let render = c.create_queue(&unique("render"), &[]).await.unwrap();
    let mut s = settings(&q);
    s.sqs.endpoint = Some(ep.clone());
    s.sqs.region = Some("us-east-1".into());
    s.sqs.queues.insert("render".into(), render.clone());
    let mut registry = Registry::new();
    registry.handle("effect", |ctx, p| async move {
        sqlx::query("insert into jobs_test_effect (key, job_id) values ($1, $2)")
            .bind(p["key"].as_str().unwrap().to_string())
            .bind(ctx.id.to_string())
            .execute(ctx.db().pool())
            .await?;
        Ok(())
    });
    let registry = Arc::new(registry);
    let stop = tokio_util::sync::CancellationToken::new();
    let worker = Worker::new(t.db.clone(), registry.clone(), s);
    let handle = tokio::spawn(worker.run(stop.clone()));

    // Act: jobs on two job queues, each carried by its own SQS queue.
    let mut tx = t.db.begin_write().await.unwrap();
    for i in 0..20 {
        let queue = if i % 2 == 0 { "default" } else { "render" };
        enqueue(
            &mut tx,
            NewJob::new("effect", json!({"key": format!("k{i}")})).queue(queue),
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    wait_until(
        Duration::from_secs(30),
        "all 20 effects happened",
        || async { count(&t.db, "select count(*) from jobs_test_effect").await == 20 },
    )
    .await;
    stop.cancel();
    handle.await.unwrap().unwrap();

    // Assert
    assert_eq!(count(&t.db, "select count(*) from jobs_job").await, 0);
    for url in [&q, &render] {
        assert_eq!(
            c.queue_attribute(url, "ApproximateNumberOfMessages")
                .await
                .unwrap()
                .as_deref(),
            Some("0")
        );
    }
}
