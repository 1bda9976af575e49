use crate::helpers::*;
use cielo_fulfillment::testing::Fault;
use cielo_fulfillment::{printful_external_id, Error, Lab, LabStage, WebhookError};
use std::time::{Duration, Instant};

const VARIANT: &str = "4011";

async fn submitted(env: &Env, id: cielo_fulfillment::LabOrderId) {
    env.run_until(Duration::from_secs(20), "accepted by Printful", || async {
        env.fulfillment.lab_order(id).await.unwrap().submit_state == "accepted"
    })
    .await;
}

struct Accepted {
    env: Env,
    printful: cielo_fulfillment::testing::FakePrintful,
    order: String,
    id: cielo_fulfillment::LabOrderId,
    ext: String,
}

/// An order Printful has accepted.
async fn accepted(s: cielo_fulfillment::FulfillmentSettings) -> Accepted {
    let (env, printful, _) = env_with_fakes(s).await;
    let order = order_id();
    let id = env.plan(request(Lab::Printful, &order, VARIANT)).await;
    submitted(&env, id).await;
    let ext = printful_external_id(&order, 0);
    Accepted {
        env,
        printful,
        order,
        id,
        ext,
    }
}

/// A webhook as Printful sends it, then the jobs it causes.
async fn hint(env: &Env, body: &[u8]) {
    env.fulfillment
        .accept_webhook(Lab::Printful, PRINTFUL_WEBHOOK_TOKEN, body)
        .await
        .unwrap();
    env.run_jobs().await;
}

#[tokio::test]
async fn an_order_goes_to_printful_once_and_follows_its_webhooks_to_shipped() {
    let Accepted {
        env,
        printful,
        order,
        id,
        ext,
        ..
    } = accepted(settings()).await;
    assert_eq!(ext.len(), 32);
    let at_lab = printful.order(&ext).expect("Printful has the order");
    assert_eq!(at_lab["status"], "pending", "created with confirm=true");
    assert_eq!(at_lab["recipient"]["country_code"], "GB");
    assert_eq!(at_lab["items"][0]["variant_id"], 4011);
    assert_eq!(
        at_lab["items"][0]["files"][0]["url"],
        "https://files.shop.test/print/poster.png?sig=abc"
    );
    assert_eq!(env.stage(id).await, LabStage::Submitted);

    // In production, then shipped: each webhook is a hint, the order is re-read.
    printful.set_status(&ext, "inprocess");
    let updated = printful.webhook("order_updated", &ext, None);
    hint(&env, &updated).await;
    assert_eq!(env.stage(id).await, LabStage::InProduction);

    printful.ship(&ext, 77, "9400100000000000000001", false);
    let shipped = printful.webhook("package_shipped", &ext, None);
    hint(&env, &shipped).await;
    let view = env.fulfillment.lab_order(id).await.unwrap();
    assert_eq!(view.stage, LabStage::Shipped);
    assert_eq!(view.raw_status.as_deref(), Some("fulfilled"));
    assert_eq!(view.shipments.len(), 1);
    assert_eq!(view.shipments[0].carrier, "USPS");
    assert_eq!(view.shipments[0].tracking_number, "9400100000000000000001");
    assert_eq!(view.shipments[0].lab_shipment_id, "77");
    assert_eq!(view.shipments[0].line_ids, vec!["line_1".to_string()]);

    // Duplicated and late webhooks: the same shipped body again, then the old
    // "order_updated" from production. Nothing moves back, no new event.
    let events_before = env.events_for(id).len();
    for body in [&shipped, &shipped, &updated] {
        env.fulfillment
            .accept_webhook(Lab::Printful, PRINTFUL_WEBHOOK_TOKEN, body)
            .await
            .unwrap();
    }
    env.run_jobs().await;
    assert_eq!(env.stage(id).await, LabStage::Shipped);
    assert_eq!(env.events_for(id).len(), events_before);
    assert_eq!(
        env.count("select count(*) from fulfillment_webhook").await,
        2,
        "a duplicated body is stored once"
    );

    // A reshipment adds a second parcel; the first keeps its tracking.
    printful.ship(&ext, 78, "9400100000000000000002", false);
    hint(&env, &printful.webhook("package_shipped", &ext, None)).await;
    let view = env.fulfillment.lab_order(id).await.unwrap();
    assert_eq!(view.shipments.len(), 2);
    assert_eq!(view.shipments[0].tracking_number, "9400100000000000000001");
    let last = env.events_for(id).last().cloned().unwrap();
    assert_eq!(last.stage, LabStage::Shipped);
    assert_eq!(last.shipments.len(), 2);

    assert_eq!(printful.orders_for(&order), 1);
    assert_eq!(printful.calls().unauthorized, 0);
}

#[tokio::test]
async fn a_lost_answer_is_followed_by_a_question_not_a_second_order() {
    let (env, printful, _) = env_with_fakes(settings()).await;
    let order = order_id();
    printful.push_create_fault(Fault::LoseAnswer);
    let id = env.plan(request(Lab::Printful, &order, VARIANT)).await;
    submitted(&env, id).await;
    assert_eq!(printful.orders_for(&order), 1);
    assert_eq!(
        printful.calls().create,
        1,
        "the retry asked first and found it"
    );
    assert!(printful.calls().get >= 1);
    let view = env.fulfillment.lab_order(id).await.unwrap();
    assert!(view.lab_ref.is_some());
    assert_eq!(view.stage, LabStage::Submitted);
}

#[tokio::test]
async fn a_timed_out_create_is_not_repeated() {
    let (env, printful, _) = env_with_fakes(settings()).await;
    let order = order_id();
    // Created at once, answered after the client (1 s timeout) gave up.
    printful.push_create_fault(Fault::SlowAnswer(Duration::from_secs(3)));
    let id = env.plan(request(Lab::Printful, &order, VARIANT)).await;
    submitted(&env, id).await;
    assert_eq!(printful.orders_for(&order), 1);
    assert_eq!(printful.calls().create, 1);
}

#[tokio::test]
async fn a_rate_limit_is_waited_out_as_the_lab_asks() {
    let (env, printful, _) = env_with_fakes(settings()).await;
    let order = order_id();
    printful.push_create_fault(Fault::RateLimit(2));
    let id = env.plan(request(Lab::Printful, &order, VARIANT)).await;
    let started = Instant::now();
    env.run_jobs().await;
    assert_eq!(printful.calls().create, 1);
    assert_eq!(printful.orders_for(&order), 0);
    // The retry waits for Retry-After (2 s), not the 20 ms test backoff.
    submitted(&env, id).await;
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(printful.orders_for(&order), 1);
}

#[tokio::test]
async fn a_killed_worker_between_the_call_and_the_record_leaves_one_order() {
    let mut s = settings();
    s.request_timeout_secs = 30;
    let (env, printful, _) = env_with_fakes(s).await;
    let order = order_id();
    // The lab creates the order at once and answers after 3 s; the worker is
    // killed after 1 s, with the lab's answer never recorded.
    printful.push_create_fault(Fault::SlowAnswer(Duration::from_secs(3)));
    let id = env.plan(request(Lab::Printful, &order, VARIANT)).await;
    let worker = spawn_worker(&env, 2);
    let deadline = Instant::now() + Duration::from_secs(10);
    while printful.orders_for(&order) == 0 {
        assert!(Instant::now() < deadline, "the lab never got the order");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    worker.abort();
    let _ = worker.await;
    let view = env.fulfillment.lab_order(id).await.unwrap();
    assert_eq!(view.submit_state, "sending", "the outcome is unknown here");
    // A new process: its worker reaps the dead lease and runs the job again.
    let worker = spawn_worker(&env, 2);
    let deadline = Instant::now() + Duration::from_secs(20);
    while env.fulfillment.lab_order(id).await.unwrap().submit_state != "accepted" {
        assert!(Instant::now() < deadline, "never recorded as accepted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker.abort();
    assert_eq!(printful.orders_for(&order), 1);
    assert_eq!(printful.calls().create, 1);
}

#[tokio::test]
async fn a_refused_order_needs_a_person_and_resubmits_under_a_new_external_id() {
    let (env, printful, _) = env_with_fakes(settings()).await;
    let order = order_id();
    let mut req = request(Lab::Printful, &order, VARIANT);
    req.recipient.line1 = "INVALID street".into();
    let id = env.plan(req).await;
    env.run_until(Duration::from_secs(10), "refused", || async {
        env.stage(id).await == LabStage::Refused
    })
    .await;
    let view = env.fulfillment.lab_order(id).await.unwrap();
    assert_eq!(view.reason.as_deref(), Some("Recipient address is invalid"));
    let refused = env.events_for(id).last().cloned().unwrap();
    assert_eq!(refused.stage, LabStage::Refused);
    assert_eq!(
        refused.reason.as_deref(),
        Some("Recipient address is invalid")
    );
    assert_eq!(printful.orders_for(&order), 0);
    // The catch-up leaves a refused order alone.
    let report = env.fulfillment.catch_up().await.unwrap();
    assert_eq!(report.resubmitted + report.polled, 0);

    // Fixed address, resubmitted.
    env.fulfillment
        .resubmit(id, Some(recipient()), "admin:usr_1 fixed the address")
        .await
        .unwrap();
    submitted(&env, id).await;
    let view = env.fulfillment.lab_order(id).await.unwrap();
    assert_eq!(view.generation, 1);
    assert_eq!(view.external_ref, printful_external_id(&order, 1));
    assert!(printful.order(&printful_external_id(&order, 1)).is_some());
    assert_eq!(printful.orders_for(&order), 1);
    assert_eq!(view.stage, LabStage::Submitted);
}

#[tokio::test]
async fn an_order_failed_at_printful_is_refused_with_the_webhooks_reason() {
    let Accepted {
        env,
        printful,
        order,
        id,
        ext,
        ..
    } = accepted(settings()).await;
    printful.set_status(&ext, "failed");
    hint(
        &env,
        &printful.webhook(
            "order_failed",
            &ext,
            Some("Print file could not be downloaded"),
        ),
    )
    .await;
    let view = env.fulfillment.lab_order(id).await.unwrap();
    assert_eq!(view.stage, LabStage::Refused);
    assert_eq!(
        view.reason.as_deref(),
        Some("Print file could not be downloaded")
    );
    // The buyer fixes the address (kept for the resubmission, no lab call),
    // and the admin resubmits: Printful keeps the failed order, the new one
    // has a new external id and the new address.
    let mut fixed = recipient();
    fixed.line1 = "99 New Street".into();
    env.fulfillment.amend(&order, fixed).await.unwrap();
    env.fulfillment.resubmit(id, None, "admin").await.unwrap();
    submitted(&env, id).await;
    assert_eq!(
        printful.order(&printful_external_id(&order, 1)).unwrap()["recipient"]["address1"],
        "99 New Street"
    );
    assert_eq!(printful.orders_for(&order), 2);
    assert_eq!(
        printful.order(&printful_external_id(&order, 1)).unwrap()["status"],
        "pending"
    );
}

#[tokio::test]
async fn webhooks_need_the_token_and_unknown_orders_change_nothing() {
    let Accepted {
        env,
        printful,
        id,
        ext,
        ..
    } = accepted(settings()).await;
    printful.set_status(&ext, "inprocess");
    let body = printful.webhook("order_updated", &ext, None);
    let err = env
        .fulfillment
        .accept_webhook(Lab::Printful, "pf-whk-wrong", &body)
        .await
        .unwrap_err();
    assert!(matches!(err, WebhookError::BadToken), "{err:?}");
    let err = env
        .fulfillment
        .accept_webhook(Lab::Printful, PRINTFUL_WEBHOOK_TOKEN, b"not json")
        .await
        .unwrap_err();
    assert!(matches!(err, WebhookError::Malformed(_)), "{err:?}");
    assert_eq!(
        env.count("select count(*) from fulfillment_webhook").await,
        0
    );
    env.run_jobs().await;
    assert_eq!(env.stage(id).await, LabStage::Submitted);
    // A forged body claiming "fulfilled" for our order: re-reading the lab shows in production.
    let forged = serde_json::to_vec(&serde_json::json!({
        "type": "package_shipped", "store": printful.store_id(),
        "data": {"order": {"external_id": ext, "status": "fulfilled"},
                 "shipment": {"tracking_number": "FORGED"}}
    }))
    .unwrap();
    hint(&env, &forged).await;
    let view = env.fulfillment.lab_order(id).await.unwrap();
    assert_eq!(view.stage, LabStage::InProduction);
    assert!(view.shipments.is_empty());
}

#[tokio::test]
async fn the_catch_up_finds_what_every_lost_webhook_would_have_said() {
    let Accepted {
        env,
        printful,
        id,
        ext,
        ..
    } = accepted(settings()).await;
    printful.ship(&ext, 91, "1Z999", false);
    // No webhook at all.
    let report = env.fulfillment.catch_up().await.unwrap();
    assert_eq!(report.polled, 1);
    env.run_jobs().await;
    let view = env.fulfillment.lab_order(id).await.unwrap();
    assert_eq!(view.stage, LabStage::Shipped);
    assert_eq!(view.shipments[0].tracking_number, "1Z999");
}

#[tokio::test]
async fn the_catch_up_re_sends_a_submission_whose_job_was_lost() {
    let (env, printful, _) = env_with_fakes(settings()).await;
    let order = order_id();
    let id = env.plan(request(Lab::Printful, &order, VARIANT)).await;
    // The job vanished (dead-lettered and purged, say).
    sqlx::query("delete from jobs_job")
        .execute(env.db.pool())
        .await
        .unwrap();
    env.run_jobs().await;
    assert_eq!(printful.orders_for(&order), 0);
    let report = env.fulfillment.catch_up().await.unwrap();
    assert_eq!(report.resubmitted, 1);
    submitted(&env, id).await;
    // And again: nothing more to send.
    let report = env.fulfillment.catch_up().await.unwrap();
    assert_eq!(report.resubmitted, 0);
    env.run_jobs().await;
    assert_eq!(printful.orders_for(&order), 1);
}

#[tokio::test]
async fn a_draft_put_back_by_printful_is_confirmed_again() {
    let Accepted {
        env,
        printful,
        id,
        ext,
        ..
    } = accepted(settings()).await;
    printful.set_status(&ext, "draft");
    hint(
        &env,
        &printful.webhook("order_remove_hold", &ext, Some("costs calculated")),
    )
    .await;
    assert_eq!(printful.order(&ext).unwrap()["status"], "pending");
    assert_eq!(env.stage(id).await, LabStage::Submitted);
}

#[tokio::test]
async fn cancel_works_until_production_and_amend_is_refused_after_submission() {
    let Accepted {
        env,
        printful,
        order,
        id,
        ext,
        ..
    } = accepted(settings()).await;
    // Printful changes only drafts: a confirmed order cannot be amended.
    let mut moved = recipient();
    moved.line1 = "1 Other Street".into();
    let err = env.fulfillment.amend(&order, moved).await.unwrap_err();
    assert!(matches!(err, Error::TooLate { .. }), "{err:?}");
    // The same recipient again is no change: nothing to refuse, nothing sent.
    env.fulfillment.amend(&order, recipient()).await.unwrap();
    env.fulfillment.cancel(id, "admin:usr_1").await.unwrap();
    assert_eq!(printful.order(&ext).unwrap()["status"], "canceled");
    assert_eq!(env.stage(id).await, LabStage::Cancelled);

    let order2 = order_id();
    let id2 = env.plan(request(Lab::Printful, &order2, VARIANT)).await;
    submitted(&env, id2).await;
    printful.set_status(&printful_external_id(&order2, 0), "inprocess");
    let err = env.fulfillment.cancel(id2, "admin").await.unwrap_err();
    assert!(matches!(err, Error::TooLate { .. }), "{err:?}");
}

#[tokio::test]
async fn shipping_rates_are_cached_and_a_slow_lab_means_the_flat_rate() {
    let (env, printful, _) = env_with_fakes(settings()).await;
    let usd = cielo_core::Currency::parse("USD").unwrap();
    let items = [cielo_fulfillment::QuoteItem {
        lab_product_id: VARIANT.into(),
        quantity: 2,
    }];
    let q = env
        .fulfillment
        .quote(Lab::Printful, &items, "US", usd)
        .await;
    assert_eq!(q, Some(cielo_core::Money::new(499, usd)));
    let again = env
        .fulfillment
        .quote(Lab::Printful, &items, "us", usd)
        .await;
    assert_eq!(again, q);
    assert_eq!(
        printful.calls().quote,
        1,
        "the second quote came from the cache"
    );
    // A zero rate is no answer: the flat rate applies, never free by accident.
    printful.set_rate("0.00", None);
    assert_eq!(
        env.fulfillment
            .quote(Lab::Printful, &items, "FR", usd)
            .await,
        None
    );
    // Another country, slow lab: None within the 2 s budget.
    printful.set_rate("6.00", Some(Duration::from_secs(5)));
    let started = Instant::now();
    assert_eq!(
        env.fulfillment
            .quote(Lab::Printful, &items, "DE", usd)
            .await,
        None
    );
    assert!(
        started.elapsed() < Duration::from_millis(3500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_webhook_url_is_registered_at_start_up_when_asked() {
    let mut s = settings();
    s.register_printful_webhooks = true;
    let (env, printful, _) = env_with_fakes(s).await;
    assert!(env.fulfillment.register_webhooks().await.unwrap());
    let config = printful.webhook_config().unwrap();
    assert_eq!(
        config["url"],
        format!("http://shop.test/webhooks/printful?token={PRINTFUL_WEBHOOK_TOKEN}")
    );
    let types: Vec<&str> = config["types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for t in [
        "package_shipped",
        "order_failed",
        "order_canceled",
        "order_put_hold",
        "order_remove_hold",
        "order_updated",
    ] {
        assert!(types.contains(&t), "{t} missing from {types:?}");
    }
}

#[tokio::test]
async fn many_orders_with_faults_make_exactly_one_printful_order_each() {
    let (env, printful, _) = env_with_fakes(settings()).await;
    let mut orders = Vec::new();
    for n in 0..12 {
        match n % 4 {
            0 => printful.push_create_fault(Fault::LoseAnswer),
            1 => printful.push_create_fault(Fault::Unavailable),
            2 => printful.push_create_fault(Fault::SlowAnswer(Duration::from_millis(1500))),
            _ => {}
        }
        let order = order_id();
        let id = env.plan(request(Lab::Printful, &order, VARIANT)).await;
        orders.push((order, id));
    }
    env.run_until(Duration::from_secs(60), "all accepted", || async {
        for (_, id) in &orders {
            if env.fulfillment.lab_order(*id).await.unwrap().submit_state != "accepted" {
                return false;
            }
        }
        true
    })
    .await;
    // The catch-up running on top changes nothing.
    env.fulfillment.catch_up().await.unwrap();
    env.run_jobs().await;
    for (order, _) in &orders {
        assert_eq!(printful.orders_for(order), 1, "{order}");
    }
    assert_eq!(printful.orders().len(), orders.len());
}

#[tokio::test]
async fn a_stale_read_that_lands_after_a_fresher_one_moves_nothing_back() {
    let mut s = settings();
    s.request_timeout_secs = 10;
    let (env, printful, _) = env_with_fakes(s).await;
    let order = order_id();
    let id = env.plan(request(Lab::Printful, &order, VARIANT)).await;
    submitted(&env, id).await;
    let ext = printful_external_id(&order, 0);
    printful.set_status(&ext, "inprocess");
    // The next read sees "inprocess" now but answers 1.5 s later.
    printful.push_get_fault(Fault::SlowAnswer(Duration::from_millis(1500)));
    let gets = printful.calls().get;
    let worker = spawn_worker(&env, 30);
    env.fulfillment
        .accept_webhook(
            Lab::Printful,
            PRINTFUL_WEBHOOK_TOKEN,
            &printful.webhook("order_updated", &ext, None),
        )
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while printful.calls().get == gets {
        assert!(Instant::now() < deadline, "the slow read never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Meanwhile it ships, and the fresh read lands first.
    printful.ship(&ext, 5, "TRACK-5", false);
    env.fulfillment
        .accept_webhook(
            Lab::Printful,
            PRINTFUL_WEBHOOK_TOKEN,
            &printful.webhook("package_shipped", &ext, None),
        )
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while env.stage(id).await != LabStage::Shipped {
        assert!(Instant::now() < deadline, "never shipped");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The stale read lands (in production, no shipments) and changes nothing.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    worker.abort();
    let view = env.fulfillment.lab_order(id).await.unwrap();
    assert_eq!(view.stage, LabStage::Shipped);
    assert_eq!(view.shipments.len(), 1);
    let stages: Vec<LabStage> = env
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.lab_order_id == id.to_string())
        .map(|e| e.stage)
        .collect();
    assert_eq!(stages.last(), Some(&LabStage::Shipped), "{stages:?}");
    assert!(!stages.contains(&LabStage::InProduction), "{stages:?}");
}

#[tokio::test]
async fn an_account_token_names_the_store() {
    let printful = cielo_fulfillment::testing::FakePrintful::start(PRINTFUL_TOKEN).await;
    let mut s = settings();
    s.printful_api_base = printful.url.clone();
    let mut sec = secrets();
    sec.printful_store_id = Some("4242".into());
    let env = env(s, sec).await;
    let order = order_id();
    let id = env.plan(request(Lab::Printful, &order, VARIANT)).await;
    submitted(&env, id).await;
    assert_eq!(printful.store_headers(), vec![Some("4242".to_string())]);
    // Its webhooks for another store are not ours.
    let ext = printful_external_id(&order, 0);
    printful.set_status(&ext, "inprocess");
    let mut other: serde_json::Value =
        serde_json::from_slice(&printful.webhook("order_updated", &ext, None)).unwrap();
    other["store"] = serde_json::json!(999);
    hint(&env, &serde_json::to_vec(&other).unwrap()).await;
    assert_eq!(env.stage(id).await, LabStage::Submitted);
    hint(&env, &printful.webhook("order_updated", &ext, None)).await;
    assert_eq!(env.stage(id).await, LabStage::InProduction);
}
