use crate::helpers::{count, fresh};
use cielo_jobs::{dispatch_events, publish, run_pending, JobError, Registry};
use serde_json::json;
use std::sync::{Arc, Mutex};

#[tokio::test]
async fn an_event_written_in_a_rolled_back_transaction_produces_no_job() {
    // Arrange
    let t = fresh().await;
    let mut registry = Registry::new();
    registry
        .subscribe("order.paid", "notify.confirmation")
        .handle("notify.confirmation", |_, _| async { Ok(()) });

    // Act
    let mut tx = t.db.begin_write().await.unwrap();
    publish(&mut tx, "order.paid", json!({"order": "ord_1"}))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let dispatched = dispatch_events(&t.db, &registry).await.unwrap();

    // Assert
    assert_eq!(dispatched, 0);
    assert_eq!(count(&t.db, "select count(*) from jobs_event").await, 0);
    assert_eq!(count(&t.db, "select count(*) from jobs_job").await, 0);
    assert_eq!(run_pending(&t.db, &registry).await.unwrap(), 0);
}

#[tokio::test]
async fn each_subscriber_gets_exactly_one_job_per_event_carrying_the_event_id() {
    // Arrange
    let t = fresh().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut registry = Registry::new();
    for kind in ["render.artwork", "notify.confirmation"] {
        let s = seen.clone();
        registry
            .subscribe("order.paid", kind)
            .handle(kind, move |ctx, payload| {
                let s = s.clone();
                async move {
                    s.lock().unwrap().push((
                        ctx.kind.clone(),
                        ctx.event_id.map(|e| e.to_string()),
                        payload["order"].clone(),
                    ));
                    Ok::<(), JobError>(())
                }
            });
    }
    let mut tx = t.db.begin_write().await.unwrap();
    let event = publish(&mut tx, "order.paid", json!({"order": "ord_1"}))
        .await
        .unwrap();
    publish(&mut tx, "cart.expired", json!({})).await.unwrap();
    tx.commit().await.unwrap();

    // Act: dispatching twice must not duplicate anything.
    assert_eq!(dispatch_events(&t.db, &registry).await.unwrap(), 2);
    assert_eq!(dispatch_events(&t.db, &registry).await.unwrap(), 0);
    let ran = run_pending(&t.db, &registry).await.unwrap();

    // Assert
    assert_eq!(ran, 2);
    let mut seen = seen.lock().unwrap().clone();
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    let ev = Some(event.to_string());
    assert_eq!(
        seen,
        vec![
            (
                "notify.confirmation".to_string(),
                ev.clone(),
                json!("ord_1")
            ),
            ("render.artwork".to_string(), ev, json!("ord_1")),
        ]
    );
    assert_eq!(
        count(
            &t.db,
            "select count(*) from jobs_event where dispatched_at is null"
        )
        .await,
        0,
        "an event without subscribers is dispatched too"
    );
}
