use crate::helpers::*;
use cielo_fulfillment::testing::Fault;
use cielo_fulfillment::{prodigi_idempotency_key, Error, Lab, LabOrderId, LabStage, WebhookError};
use std::time::Duration;

const SKU: &str = "GLOBAL-FAP-16x24";

async fn submitted(env: &Env, id: LabOrderId) -> String {
    env.run_until(Duration::from_secs(20), "accepted by Prodigi", || async {
        env.fulfillment.lab_order(id).await.unwrap().submit_state == "accepted"
    })
    .await;
    env.fulfillment
        .lab_order(id)
        .await
        .unwrap()
        .lab_ref
        .unwrap()
}

async fn callback(env: &Env, body: &[u8]) {
    env.fulfillment
        .accept_webhook(Lab::Prodigi, PRODIGI_WEBHOOK_TOKEN, body)
        .await
        .unwrap();
    env.run_jobs().await;
}

#[tokio::test]
async fn an_order_goes_to_prodigi_once_and_follows_its_callbacks_to_shipped() {
    let mut s = settings();
    s.prodigi_shipping_method = "Express".into();
    let (env, _, prodigi) = env_with_fakes(s).await;
    let order = order_id();
    let id = env.plan(request(Lab::Prodigi, &order, SKU)).await;
    let lab_id = submitted(&env, id).await;
    let at_lab = prodigi.order_by_key(&order).expect("keyed by our order id");
    assert_eq!(at_lab["merchantReference"], order.as_str());
    assert_eq!(at_lab["shippingMethod"], "Express");
    assert_eq!(
        at_lab["callbackUrl"],
        format!("http://shop.test/webhooks/prodigi?token={PRODIGI_WEBHOOK_TOKEN}")
    );
    assert_eq!(at_lab["recipient"]["address"]["townOrCity"], "London");
    assert_eq!(at_lab["items"][0]["sku"], SKU);
    assert_eq!(env.stage(id).await, LabStage::Submitted);

    prodigi.set_stage(&lab_id, "InProgress", "InProgress");
    let producing = prodigi.callback(&lab_id, None);
    callback(&env, &producing).await;
    assert_eq!(env.stage(id).await, LabStage::InProduction);

    prodigi.ship(&lab_id, "shp_1", "RM123456789GB");
    prodigi.set_stage(&lab_id, "Complete", "Complete");
    let shipped = prodigi.callback(&lab_id, None);
    callback(&env, &shipped).await;
    let view = env.fulfillment.lab_order(id).await.unwrap();
    assert_eq!(view.stage, LabStage::Shipped);
    assert_eq!(view.raw_status.as_deref(), Some("Complete"));
    assert_eq!(view.shipments.len(), 1);
    let s = &view.shipments[0];
    assert_eq!(
        (
            s.carrier.as_str(),
            s.service.as_deref(),
            s.tracking_number.as_str()
        ),
        ("Royal Mail", Some("Tracked 48"), "RM123456789GB")
    );
    assert_eq!(s.line_ids, vec!["line_1".to_string()]);

    // The same callback twice (same evt id), and the production one late.
    let events = env.events_for(id).len();
    callback(&env, &shipped).await;
    callback(&env, &producing).await;
    assert_eq!(env.stage(id).await, LabStage::Shipped);
    assert_eq!(env.events_for(id).len(), events);
    assert_eq!(
        env.count("select count(*) from fulfillment_webhook").await,
        2
    );
    assert_eq!(prodigi.orders_for(&order), 1);
}

#[tokio::test]
async fn a_lost_answer_is_retried_with_the_same_key_and_answers_already_exists() {
    let (env, _, prodigi) = env_with_fakes(settings()).await;
    let order = order_id();
    prodigi.push_create_fault(Fault::LoseAnswer);
    let id = env.plan(request(Lab::Prodigi, &order, SKU)).await;
    submitted(&env, id).await;
    assert_eq!(prodigi.calls().create, 2);
    assert_eq!(prodigi.orders_for(&order), 1);
}

#[tokio::test]
async fn a_timeout_and_camel_case_outcomes_still_make_one_order() {
    let (env, _, prodigi) = env_with_fakes(settings()).await;
    prodigi.camel_case_outcomes(true);
    let order = order_id();
    prodigi.push_create_fault(Fault::SlowAnswer(Duration::from_secs(3)));
    let id = env.plan(request(Lab::Prodigi, &order, SKU)).await;
    submitted(&env, id).await;
    assert_eq!(prodigi.orders_for(&order), 1);
    assert_eq!(env.stage(id).await, LabStage::Submitted);
}

#[tokio::test]
async fn a_killed_worker_between_the_call_and_the_record_leaves_one_order() {
    let mut s = settings();
    s.request_timeout_secs = 30;
    let (env, _, prodigi) = env_with_fakes(s).await;
    let order = order_id();
    prodigi.push_create_fault(Fault::SlowAnswer(Duration::from_secs(3)));
    let id = env.plan(request(Lab::Prodigi, &order, SKU)).await;
    kill_between_answer_and_record(&env, id, || prodigi.orders_for(&order)).await;
    assert_eq!(prodigi.orders_for(&order), 1);
}

#[tokio::test]
async fn a_rate_limited_create_is_retried_once_the_lab_allows() {
    let (env, _, prodigi) = env_with_fakes(settings()).await;
    let order = order_id();
    prodigi.push_create_fault(Fault::RateLimit(1));
    prodigi.push_create_fault(Fault::Unavailable);
    let id = env.plan(request(Lab::Prodigi, &order, SKU)).await;
    submitted(&env, id).await;
    assert_eq!(prodigi.calls().create, 3);
    assert_eq!(prodigi.orders_for(&order), 1);
}

#[tokio::test]
async fn an_unavailable_item_is_a_refusal_with_the_labs_reason() {
    let (env, _, prodigi) = env_with_fakes(settings()).await;
    let order = order_id();
    let id = env
        .plan(request(Lab::Prodigi, &order, "GLOBAL-UNAVAILABLE-1"))
        .await;
    env.run_until(Duration::from_secs(10), "refused", || async {
        env.stage(id).await == LabStage::Refused
    })
    .await;
    let view = env.fulfillment.lab_order(id).await.unwrap();
    assert_eq!(
        view.reason.as_deref(),
        Some("GLOBAL-UNAVAILABLE-1 is not available")
    );
    assert_eq!(prodigi.orders_for(&order), 1);
    // Cancelled by the admin: Prodigi cancels it (not in production).
    env.fulfillment.cancel(id, "admin").await.unwrap();
    assert_eq!(env.stage(id).await, LabStage::Cancelled);
    assert_eq!(prodigi.calls().cancel, 1);
}

#[tokio::test]
async fn a_bad_address_is_refused_and_resubmitted_with_a_new_key() {
    let (env, _, prodigi) = env_with_fakes(settings()).await;
    let order = order_id();
    let mut req = request(Lab::Prodigi, &order, SKU);
    req.recipient.line1 = "INVALID".into();
    let id = env.plan(req).await;
    env.run_until(Duration::from_secs(10), "refused", || async {
        env.stage(id).await == LabStage::Refused
    })
    .await;
    let reason = env.fulfillment.lab_order(id).await.unwrap().reason.unwrap();
    assert!(reason.contains("ValidationFailed"), "{reason}");
    assert!(reason.contains("not deliverable"), "{reason}");
    assert_eq!(prodigi.orders_for(&order), 0);
    // Resubmitting a lab order that is not refused is a conflict.
    let other = env.plan(request(Lab::Prodigi, &order_id(), SKU)).await;
    submitted(&env, other).await;
    let err = env
        .fulfillment
        .resubmit(other, None, "admin")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::WrongState { .. }), "{err:?}");

    env.fulfillment
        .resubmit(id, Some(recipient()), "admin fixed the address")
        .await
        .unwrap();
    submitted(&env, id).await;
    assert!(prodigi
        .order_by_key(&prodigi_idempotency_key(&order, 1))
        .is_some());
    assert_eq!(prodigi.orders_for(&order), 1);
}

#[tokio::test]
async fn the_recipient_changes_through_prodigis_action_until_production() {
    let (env, _, prodigi) = env_with_fakes(settings()).await;
    let order = order_id();
    let id = env.plan(request(Lab::Prodigi, &order, SKU)).await;
    let lab_id = submitted(&env, id).await;
    let mut fixed = recipient();
    fixed.line1 = "13 St James's Square".into();
    env.fulfillment.amend(&order, fixed.clone()).await.unwrap();
    let at_lab = prodigi.order_by_key(&order).unwrap();
    assert_eq!(
        at_lab["recipient"]["address"]["line1"],
        "13 St James's Square"
    );
    assert_eq!(
        env.fulfillment
            .lab_order(id)
            .await
            .unwrap()
            .request
            .recipient,
        fixed
    );
    prodigi.set_stage(&lab_id, "InProgress", "InProgress");
    let err = env
        .fulfillment
        .amend(&order, recipient())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TooLate { .. }), "{err:?}");
}

#[tokio::test]
async fn callbacks_need_the_token_and_the_catch_up_covers_lost_ones() {
    let (env, _, prodigi) = env_with_fakes(settings()).await;
    let order = order_id();
    let id = env.plan(request(Lab::Prodigi, &order, SKU)).await;
    let lab_id = submitted(&env, id).await;
    prodigi.ship(&lab_id, "shp_9", "RM9");
    prodigi.set_stage(&lab_id, "Complete", "Complete");
    let err = env
        .fulfillment
        .accept_webhook(Lab::Prodigi, "nope", &prodigi.callback(&lab_id, None))
        .await
        .unwrap_err();
    assert!(matches!(err, WebhookError::BadToken));
    env.run_jobs().await;
    assert_eq!(env.stage(id).await, LabStage::Submitted);
    let report = env.fulfillment.catch_up().await.unwrap();
    assert_eq!(report.polled, 1);
    env.run_jobs().await;
    let view = env.fulfillment.lab_order(id).await.unwrap();
    assert_eq!(view.stage, LabStage::Shipped);
    assert_eq!(view.shipments[0].tracking_number, "RM9");
}

#[tokio::test]
async fn quotes_come_from_prodigi_and_fall_back_when_it_is_slow() {
    let (env, _, prodigi) = env_with_fakes(settings()).await;
    let gbp = cielo_core::Currency::parse("GBP").unwrap();
    let items = [cielo_fulfillment::QuoteItem {
        lab_product_id: SKU.into(),
        quantity: 1,
    }];
    assert_eq!(
        env.fulfillment.quote(Lab::Prodigi, &items, "GB", gbp).await,
        Some(cielo_core::Money::new(550, gbp))
    );
    prodigi.set_shipping("7.00", Some(Duration::from_secs(5)));
    assert_eq!(
        env.fulfillment.quote(Lab::Prodigi, &items, "FR", gbp).await,
        None
    );
    // The local lab has no prices.
    assert_eq!(
        env.fulfillment.quote(Lab::Local, &items, "GB", gbp).await,
        None
    );
}

#[tokio::test]
async fn an_order_for_two_labs_makes_one_order_at_each() {
    let (env, printful, prodigi) = env_with_fakes(settings()).await;
    let order = order_id();
    let a = env.plan(request(Lab::Prodigi, &order, SKU)).await;
    let b = env.plan(request(Lab::Printful, &order, "4011")).await;
    assert_ne!(a, b);
    submitted(&env, a).await;
    env.run_until(Duration::from_secs(10), "printful accepted", || async {
        env.fulfillment.lab_order(b).await.unwrap().submit_state == "accepted"
    })
    .await;
    assert_eq!(
        env.fulfillment.lab_orders_for(&order).await.unwrap().len(),
        2
    );
    assert_eq!(prodigi.orders_for(&order), 1);
    assert_eq!(printful.orders_for(&order), 1);
}

#[tokio::test]
async fn a_callback_that_beats_the_create_answer_is_not_lost() {
    let mut s = settings();
    s.request_timeout_secs = 30;
    let (env, _, prodigi) = env_with_fakes(s).await;
    let order = order_id();
    // Prodigi creates the order and calls back before its answer arrives.
    prodigi.push_create_fault(Fault::SlowAnswer(Duration::from_millis(1500)));
    let id = env.plan(request(Lab::Prodigi, &order, SKU)).await;
    let worker = spawn_worker(&env, 30);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while prodigi.orders_for(&order) == 0 {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let lab_id = prodigi.order_by_key(&order).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    prodigi.set_stage(&lab_id, "InProgress", "InProgress");
    env.fulfillment
        .accept_webhook(
            Lab::Prodigi,
            PRODIGI_WEBHOOK_TOKEN,
            &prodigi.callback(&lab_id, None),
        )
        .await
        .unwrap();
    assert_eq!(
        env.fulfillment.lab_order(id).await.unwrap().submit_state,
        "sending",
        "the callback came first"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while env.stage(id).await != LabStage::InProduction {
        assert!(
            std::time::Instant::now() < deadline,
            "the callback was lost"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker.abort();
    assert_eq!(prodigi.orders_for(&order), 1);
}
