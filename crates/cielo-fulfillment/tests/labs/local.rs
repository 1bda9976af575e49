use crate::helpers::*;
use cielo_fulfillment::{Lab, LabSecrets, LabStage};
use std::time::Duration;

#[tokio::test]
async fn the_local_lab_walks_an_order_to_delivered_with_a_tracking_number() {
    let env = env(settings(), LabSecrets::default()).await;
    let order = order_id();
    let id = env.plan(request(Lab::Local, &order, "poster-50x70")).await;
    env.run_until(Duration::from_secs(20), "delivered", || async {
        env.stage(id).await == LabStage::Delivered
    })
    .await;
    let view = env.fulfillment.lab_order(id).await.unwrap();
    assert_eq!(view.shipments.len(), 1);
    let s = &view.shipments[0];
    assert!(s.tracking_number.starts_with("CL"), "{s:?}");
    assert!(s
        .tracking_url
        .as_deref()
        .unwrap()
        .contains(&s.tracking_number));
    assert_eq!(s.line_ids, vec!["line_1".to_string()]);
    let stages: Vec<LabStage> = view.history.iter().map(|h| h.stage).collect();
    assert_eq!(
        stages,
        vec![
            LabStage::Planned,
            LabStage::Submitted,
            LabStage::InProduction,
            LabStage::Shipped,
            LabStage::Delivered
        ]
    );
    // One event per stage change, in order, each naming the order.
    let events: Vec<LabStage> = env.events_for(id).iter().map(|e| e.stage).collect();
    assert_eq!(
        events,
        vec![
            LabStage::Submitted,
            LabStage::InProduction,
            LabStage::Shipped,
            LabStage::Delivered
        ]
    );
    assert!(env.events_for(id).iter().all(|e| e.order_id == order));
}

#[tokio::test]
async fn planning_twice_makes_one_lab_order() {
    let env = env(settings(), LabSecrets::default()).await;
    let order = order_id();
    let a = env.plan(request(Lab::Local, &order, "mug")).await;
    let b = env.plan(request(Lab::Local, &order, "mug")).await;
    assert_eq!(a, b);
    assert_eq!(
        env.fulfillment.lab_orders_for(&order).await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn the_local_lab_waits_out_its_delays_and_the_edit_window() {
    let mut s = settings();
    s.local.in_production_after_secs = 3600;
    let env = env(s, LabSecrets::default()).await;
    let order = order_id();
    // An edit window that has not ended: nothing is sent.
    let mut tx = env.db.begin_write().await.unwrap();
    let later = cielo_core::Timestamp::now().plus_seconds(3600);
    let held = env
        .fulfillment
        .plan_submission(&mut tx, request(Lab::Local, &order, "mug"), later)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let other = env.plan(request(Lab::Local, &order_id(), "mug")).await;
    env.run_jobs().await;
    assert_eq!(env.stage(held).await, LabStage::Planned);
    // Accepted at once, but production only after its delay.
    assert_eq!(env.stage(other).await, LabStage::Submitted);
    // The catch-up finds nothing to re-queue: the step is already waiting.
    let report = env.fulfillment.catch_up().await.unwrap();
    assert_eq!(report.resubmitted, 0);
    assert_eq!(report.local_steps, 0);
}

#[tokio::test]
async fn the_address_can_change_in_the_edit_window_and_not_after_shipping() {
    let mut s = settings();
    s.local.shipped_after_secs = 3600;
    s.local.delivered_after_secs = 3600;
    let env = env(s, LabSecrets::default()).await;
    let order = order_id();
    let mut tx = env.db.begin_write().await.unwrap();
    let later = cielo_core::Timestamp::now().plus_seconds(3600);
    let id = env
        .fulfillment
        .plan_submission(&mut tx, request(Lab::Local, &order, "mug"), later)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut fixed = recipient();
    fixed.postal_code = "SW1Y 4LG".into();
    env.fulfillment.amend(&order, fixed.clone()).await.unwrap();
    let view = env.fulfillment.lab_order(id).await.unwrap();
    assert_eq!(view.request.recipient, fixed);
    assert_eq!(view.stage, LabStage::Planned);
    // Cancelled in the window: nothing is ever sent.
    env.fulfillment.cancel(id, "buyer").await.unwrap();
    assert_eq!(env.stage(id).await, LabStage::Cancelled);

    let order2 = order_id();
    let id2 = env.plan(request(Lab::Local, &order2, "mug")).await;
    env.run_until(Duration::from_secs(10), "in production", || async {
        env.stage(id2).await == LabStage::InProduction
    })
    .await;
    env.fulfillment.amend(&order2, fixed.clone()).await.unwrap();
    // Production is done: the parcel leaves now.
    sqlx::query("update jobs_job set run_at = 0 where kind = 'fulfillment.local_step'")
        .execute(env.db.pool())
        .await
        .unwrap();
    env.run_until(Duration::from_secs(10), "shipped", || async {
        env.stage(id2).await == LabStage::Shipped
    })
    .await;
    let err = env
        .fulfillment
        .amend(&order2, recipient())
        .await
        .unwrap_err();
    assert!(
        matches!(err, cielo_fulfillment::Error::TooLate { .. }),
        "{err:?}"
    );
    let err = env.fulfillment.cancel(id2, "admin").await.unwrap_err();
    assert!(
        matches!(err, cielo_fulfillment::Error::TooLate { .. }),
        "{err:?}"
    );
}
