//! Payments: webhooks through the inbox, the test provider's page, the
//! catch-up, refunds, and the guarantees when things go wrong.

use crate::helpers::*;
use cielo_db::sqlx::{self, Row};
use cielo_payments::signature::sign;
use serde_json::{json, Value};

/// An order waiting for payment: (order id, session id, total, currency).
async fn pending_order(app: &TestApp) -> (String, String, i64, String) {
    let admin = app.admin_token().await;
    let sku = format!("P-{}", uuid::Uuid::new_v4().simple());
    let v = app
        .create_product(&admin, &format!("Poster {sku}"), &[(&sku, 1000)])
        .await["variants"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let cart = app.new_cart(None).await;
    app.add_line(&cart, None, &v, 1).await;
    let r = app
        .checkout(&cart, None, None, &checkout_body("buyer@example.com"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let order_id = r.body["order_id"].as_str().unwrap().to_string();
    let order = app
        .get_as(&format!("/api/admin/orders/{order_id}"), &admin)
        .await
        .body;
    (
        order_id,
        order["payment"]["session_id"].as_str().unwrap().to_string(),
        order["totals"]["total"]["amount"].as_i64().unwrap(),
        order["totals"]["total"]["currency"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

fn session_event(
    id: &str,
    kind: &str,
    order: &str,
    session: &str,
    amount: i64,
    currency: &str,
    paid: bool,
) -> String {
    json!({
        "id": id, "object": "event", "api_version": "2024-06-20", "created": cielo_core::Timestamp::now().as_unix_seconds(), "type": kind,
        "data": {"object": {
            "id": session, "object": "checkout.session", "amount_total": amount, "currency": currency.to_lowercase(),
            "client_reference_id": order, "metadata": {"order_id": order}, "payment_intent": format!("pi_{id}"),
            "payment_status": if paid { "paid" } else { "unpaid" }, "status": if paid { "complete" } else { "expired" },
        }},
        "livemode": false, "pending_webhooks": 1, "request": {"id": null, "idempotency_key": null},
    })
    .to_string()
}

fn test_secret(app: &TestApp) -> String {
    app.state
        .payments
        .as_ref()
        .unwrap()
        .test_provider()
        .unwrap()
        .secret()
        .to_string()
}

async fn post_webhook(app: &TestApp, provider: &str, header: Option<&str>, body: &str) -> Reply {
    let mut rb = app
        .client
        .post(format!("{}/webhooks/{provider}", app.address))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(h) = header {
        rb = rb.header("stripe-signature", h);
    }
    let res = rb.send().await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    Reply {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

async fn deliver(app: &TestApp, body: &str) -> Reply {
    let header = sign(
        &[&test_secret(app)],
        cielo_core::Timestamp::now().as_unix_seconds(),
        body.as_bytes(),
    );
    post_webhook(app, "test", Some(&header), body).await
}

async fn status_of(app: &TestApp, order: &str) -> String {
    let id: cielo_orders::OrderId = order.parse().unwrap();
    app.state
        .orders
        .get_order(id, &cielo_orders::OrderAccess::Admin)
        .await
        .unwrap()
        .status
        .to_string()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query(sql)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap()
}

async fn history_to(app: &TestApp, order: &str, status: &str) -> usize {
    let id: cielo_orders::OrderId = order.parse().unwrap();
    let o = app
        .state
        .orders
        .get_order(id, &cielo_orders::OrderAccess::Admin)
        .await
        .unwrap();
    o.history.iter().filter(|h| h.to.as_str() == status).count()
}

#[tokio::test]
async fn a_signed_webhook_is_stored_once_and_pays_the_order_once() {
    // Arrange
    let app = spawn_app().await;
    let (order, session, total, currency) = pending_order(&app).await;
    let body = session_event(
        "evt_paid_1",
        "checkout.session.completed",
        &order,
        &session,
        total,
        &currency,
        true,
    );

    // Act
    let first = deliver(&app, &body).await;
    let again = deliver(&app, &body).await;

    // Assert
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body, json!({"received": true, "duplicate": false}));
    assert_eq!(again.status, 200);
    assert_eq!(again.body["duplicate"], true);
    assert_eq!(count(&app, "select count(*) from payments_inbox").await, 1);
    assert_eq!(
        status_of(&app, &order).await,
        "pending_payment",
        "processing is a job, not the request"
    );
    app.run_pending_jobs().await;
    assert_eq!(status_of(&app, &order).await, "paid");
    assert_eq!(history_to(&app, &order, "paid").await, 1);
    assert_eq!(
        count(
            &app,
            "select count(*) from payments_inbox where processed_at is null"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn a_bad_or_stale_signature_gets_a_400_and_stores_nothing() {
    let app = spawn_app().await;
    let (order, session, total, currency) = pending_order(&app).await;
    let body = session_event(
        "evt_bad",
        "checkout.session.completed",
        &order,
        &session,
        total,
        &currency,
        true,
    );
    let now = cielo_core::Timestamp::now().as_unix_seconds();
    let secret = test_secret(&app);
    let cases = [
        (
            "wrong secret",
            Some(sign(&["whsec_not_it"], now, body.as_bytes())),
        ),
        ("stale", Some(sign(&[&secret], now - 301, body.as_bytes()))),
        (
            "tampered",
            Some(sign(&[&secret], now, body.replace("1", "2").as_bytes())),
        ),
        ("garbage", Some("nonsense".to_string())),
        ("missing", None),
    ];
    for (what, header) in cases {
        let r = post_webhook(&app, "test", header.as_deref(), &body).await;
        assert_eq!(r.status, 400, "{what}: {}", r.body);
        r.assert_problem(400, "invalid-signature");
    }
    post_webhook(&app, "nowhere", Some("t=1,v1=00"), &body)
        .await
        .assert_problem(404, "webhook-provider-not-found");
    assert_eq!(count(&app, "select count(*) from payments_inbox").await, 0);
    assert_eq!(app.run_pending_jobs().await, 0, "nothing was enqueued");
    assert_eq!(status_of(&app, &order).await, "pending_payment");
}

#[tokio::test]
async fn a_late_expiry_never_unpays_and_a_payment_after_expiry_needs_a_person() {
    let app = spawn_app().await;
    // Paid, then the session's expiry arrives late.
    let (a, session_a, total, currency) = pending_order(&app).await;
    deliver(
        &app,
        &session_event(
            "evt_a_paid",
            "checkout.session.completed",
            &a,
            &session_a,
            total,
            &currency,
            true,
        ),
    )
    .await;
    deliver(
        &app,
        &session_event(
            "evt_a_exp",
            "checkout.session.expired",
            &a,
            &session_a,
            total,
            &currency,
            false,
        ),
    )
    .await;
    app.run_pending_jobs().await;
    assert_eq!(status_of(&app, &a).await, "paid");

    // Reordered: the expiry is processed first, then the payment shows up.
    let (b, session_b, total, currency) = pending_order(&app).await;
    deliver(
        &app,
        &session_event(
            "evt_b_exp",
            "checkout.session.expired",
            &b,
            &session_b,
            total,
            &currency,
            false,
        ),
    )
    .await;
    app.run_pending_jobs().await;
    assert_eq!(status_of(&app, &b).await, "cancelled");
    deliver(
        &app,
        &session_event(
            "evt_b_paid",
            "checkout.session.completed",
            &b,
            &session_b,
            total,
            &currency,
            true,
        ),
    )
    .await;
    app.run_pending_jobs().await;
    assert_eq!(
        status_of(&app, &b).await,
        "needs_attention",
        "a payment is never dropped"
    );
    assert_eq!(
        count(
            &app,
            "select count(*) from jobs_event where topic = 'payments.alert'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn an_amount_or_currency_mismatch_puts_the_order_in_needs_attention_with_an_alert() {
    let app = spawn_app().await;
    let (a, session_a, total, currency) = pending_order(&app).await;
    deliver(
        &app,
        &session_event(
            "evt_short",
            "checkout.session.completed",
            &a,
            &session_a,
            total - 1,
            &currency,
            true,
        ),
    )
    .await;
    let (b, session_b, total, _) = pending_order(&app).await;
    deliver(
        &app,
        &session_event(
            "evt_other_cur",
            "checkout.session.completed",
            &b,
            &session_b,
            total,
            "JPY",
            true,
        ),
    )
    .await;
    let (c, session_c, total, currency) = pending_order(&app).await;
    deliver(
        &app,
        &session_event(
            "evt_unpaid",
            "checkout.session.completed",
            &c,
            &session_c,
            total,
            &currency,
            false,
        ),
    )
    .await;
    app.run_pending_jobs().await;
    assert_eq!(status_of(&app, &a).await, "needs_attention");
    assert_eq!(status_of(&app, &b).await, "needs_attention");
    assert_eq!(
        status_of(&app, &c).await,
        "pending_payment",
        "an unpaid session waits for the async result"
    );
    let alerts = sqlx::query(
        "select payload from jobs_event where topic = 'payments.alert' order by created_at",
    )
    .fetch_all(app.state.db.pool())
    .await
    .unwrap();
    assert_eq!(alerts.len(), 2);
    let first: Value =
        serde_json::from_str(&alerts[0].try_get::<String, _>("payload").unwrap()).unwrap();
    assert_eq!(first["order_id"], a.as_str());
    assert_eq!(first["event_id"], "evt_short");
}

#[tokio::test]
async fn an_event_stored_by_a_process_that_died_is_processed_once_by_the_next() {
    // Arrange: a process stores the event and dies before any worker runs it.
    let app = spawn_app().await;
    let (order, session, total, currency) = pending_order(&app).await;
    let r = deliver(
        &app,
        &session_event(
            "evt_crash",
            "checkout.session.completed",
            &order,
            &session,
            total,
            &currency,
            true,
        ),
    )
    .await;
    assert_eq!(r.status, 200);

    // Act: a new process on the same database.
    let app = app.restart().await;
    let ran = app.run_pending_jobs().await;

    // Assert
    assert!(ran >= 1);
    assert_eq!(status_of(&app, &order).await, "paid");
    app.run_pending_jobs().await;
    assert_eq!(history_to(&app, &order, "paid").await, 1);
    assert_eq!(
        count(
            &app,
            "select count(*) from payments_inbox where processed_at is not null"
        )
        .await,
        1
    );
}

async fn press(app: &TestApp, session: &str, action: &str) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    client
        .post(format!("{}/checkout/test/{session}", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("action={action}"))
        .send()
        .await
        .unwrap()
}

async fn wait_for_status(app: &TestApp, order: &str, want: &str) {
    for _ in 0..100 {
        if status_of(app, order).await == want {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!(
        "order {order} never became {want}; it is {}",
        status_of(app, order).await
    );
}

#[tokio::test]
async fn a_buyer_pays_on_the_test_checkout_page_and_the_order_becomes_paid() {
    let app = spawn_full_app_with(|s| s.payments.catch_up_on_start = false).await;
    let (order, session, _, _) = pending_order(&app).await;

    let page = app
        .client
        .get(format!("{}/checkout/test/{session}", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for button in ["value=pay", "value=decline", "value=cancel"] {
        assert!(page.contains(button), "{button} missing from the page");
    }
    let declined = press(&app, &session, "decline").await;
    assert_eq!(declined.status(), 303);
    let paid = press(&app, &session, "pay").await;
    assert_eq!(paid.status(), 303);
    assert!(paid.headers()["location"]
        .to_str()
        .unwrap()
        .contains("paid=1"));

    wait_for_status(&app, &order, "paid").await;
    assert_eq!(history_to(&app, &order, "paid").await, 1);
    app.get(&format!("/checkout/test/tcs_{}", "0".repeat(32)))
        .await
        .assert_problem(404, "payment-session-not-found");
}

#[tokio::test]
async fn paying_or_giving_up_in_another_browser_lands_on_a_readable_order_page() {
    let app = spawn_full_app_with(|s| s.payments.catch_up_on_start = false).await;
    for action in ["pay", "cancel"] {
        // Checked out elsewhere (no order cookie in this browser).
        let (order, session, _, _) = pending_order(&app).await;
        let back = press(&app, &session, action).await;
        assert_eq!(back.status(), 303);
        let to = back.headers()["location"].to_str().unwrap().to_string();
        assert!(to.contains("token=oat_"), "{to}");
        let fresh = reqwest::Client::new();
        let page = fresh.get(&to).send().await.unwrap();
        assert_eq!(page.status(), 200, "{action}: {to}");
        assert!(page.url().path().ends_with(&order), "{}", page.url());
        let body = page.text().await.unwrap();
        assert!(
            !body.contains("We could not find that order"),
            "{action}: {body}"
        );
        let number = cielo_orders::OrderId::parse(&order).unwrap().number();
        assert!(body.contains(&number), "{action}: {body}");
    }
}

#[tokio::test]
async fn knowing_an_order_id_is_not_enough_to_reach_its_payment_page() {
    let app = spawn_app().await;
    let (order, session, _, _) = pending_order(&app).await;
    let bare = order.trim_start_matches("ord_");
    assert!(session.len() > "tcs_".len() + bare.len() + 16, "{session}");
    // The id derived from the order (the old scheme) and near misses of the real one.
    let mut altered = session.clone();
    altered.pop();
    altered.push(if session.ends_with('a') { 'b' } else { 'a' });
    for guess in [
        format!("tcs_{bare}"),
        format!("tcs_{bare}_{}", "0".repeat(32)),
        altered,
    ] {
        app.get(&format!("/checkout/test/{guess}"))
            .await
            .assert_problem(404, "payment-session-not-found");
        let pressed = press(&app, &guess, "pay").await;
        assert_eq!(pressed.status(), 404, "{guess}");
    }
    assert_eq!(status_of(&app, &order).await, "pending_payment");
    assert_eq!(
        app.get(&format!("/checkout/test/{session}")).await.status,
        200
    );
}

#[tokio::test]
async fn the_test_provider_behind_a_public_url_is_flagged_by_readyz() {
    let local = spawn_app().await;
    let r = local.get("/readyz").await;
    assert_eq!(r.status, 200);
    assert!(r.body.get("warnings").is_none(), "{}", r.body);

    let public = spawn_app_with(false, |s| {
        s.http.public_url = Some("https://shop.example.com".into())
    })
    .await;
    let r = public.get("/readyz").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let warnings = r.body["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1);
    let w = warnings[0].as_str().unwrap();
    assert!(
        w.contains("test payment provider") && w.contains("https://shop.example.com"),
        "{w}"
    );
}

#[tokio::test]
async fn twice_delivered_test_webhooks_pay_once() {
    let app = spawn_app_with(false, |s| s.payments.test_delivery = "twice".into()).await;
    let (order, session, _, _) = pending_order(&app).await;
    assert_eq!(press(&app, &session, "pay").await.status(), 303);
    for _ in 0..100 {
        if count(&app, "select count(*) from payments_inbox").await == 1
            && app.run_pending_jobs().await == 0
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status_of(&app, &order).await, "paid");
    assert_eq!(count(&app, "select count(*) from payments_inbox").await, 1);
    assert_eq!(history_to(&app, &order, "paid").await, 1);
}

#[tokio::test]
async fn a_webhook_that_never_arrives_is_found_by_the_catch_up() {
    // Arrange: the provider takes the payment but its webhook is lost.
    let app = spawn_app_with(false, |s| s.payments.test_delivery = "never".into()).await;
    let (order, session, _, _) = pending_order(&app).await;
    assert_eq!(press(&app, &session, "pay").await.status(), 303);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    app.run_pending_jobs().await;
    assert_eq!(status_of(&app, &order).await, "pending_payment");
    assert_eq!(count(&app, "select count(*) from payments_inbox").await, 0);

    // Act: the scheduled catch-up runs.
    app.enqueue(cielo_jobs::NewJob::new(
        cielo::payments::KIND_CATCH_UP,
        json!({}),
    ))
    .await;
    app.run_pending_jobs().await;

    // Assert
    assert_eq!(status_of(&app, &order).await, "paid");
    assert_eq!(
        count(
            &app,
            "select count(*) from payments_inbox where source = 'catch_up'"
        )
        .await,
        1
    );
    // A second pass (with its overlap) finds the same event and changes nothing.
    let report = app
        .state
        .payments
        .as_ref()
        .unwrap()
        .catch_up()
        .await
        .unwrap();
    assert_eq!((report.listed, report.stored), (1, 0));
}

#[tokio::test]
async fn orders_waiting_too_long_are_asked_about_directly() {
    // The listing looks nowhere (its window starts in the future), so only
    // asking about the waiting order can find the payment.
    let app = spawn_app_with(false, |s| {
        s.payments.test_delivery = "never".into();
        s.payments.catch_up_initial_secs = -3600;
        s.payments.recover_after_minutes = 0;
    })
    .await;
    let (order, session, _, _) = pending_order(&app).await;
    press(&app, &session, "pay").await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let report = app
        .state
        .payments
        .as_ref()
        .unwrap()
        .catch_up()
        .await
        .unwrap();
    assert_eq!(
        (report.listed, report.polled, report.recovered),
        (0, 1, 1),
        "{report:?}"
    );
    app.run_pending_jobs().await;
    assert_eq!(status_of(&app, &order).await, "paid");
}

#[tokio::test]
async fn admins_refund_part_then_the_rest_and_late_refund_events_change_nothing() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (order, session, total, currency) = pending_order(&app).await;
    deliver(
        &app,
        &session_event(
            "evt_pay",
            "checkout.session.completed",
            &order,
            &session,
            total,
            &currency,
            true,
        ),
    )
    .await;
    app.run_pending_jobs().await;
    assert_eq!(status_of(&app, &order).await, "paid");

    let part = app
        .post_as(
            &format!("/api/admin/orders/{order}/refunds"),
            &admin,
            &json!({"amount": 100}),
        )
        .await;
    assert_eq!(part.status, 201, "{}", part.body);
    assert_eq!(part.body["total_refunded"], 100);
    assert_eq!(status_of(&app, &order).await, "partially_refunded");
    app.post_as(
        &format!("/api/admin/orders/{order}/refunds"),
        &admin,
        &json!({"amount": total}),
    )
    .await
    .assert_problem(409, "not-refundable");
    let rest = app
        .post_as(
            &format!("/api/admin/orders/{order}/refunds"),
            &admin,
            &json!({}),
        )
        .await;
    assert_eq!(rest.status, 201, "{}", rest.body);
    assert_eq!(rest.body["amount"], total - 100);
    assert_eq!(status_of(&app, &order).await, "refunded");
    app.post_as(
        &format!("/api/admin/orders/{order}/refunds"),
        &admin,
        &json!({}),
    )
    .await
    .assert_problem(409, "not-refundable");

    // The provider's charge.refunded events arrive afterwards, in any order.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    app.run_pending_jobs().await;
    assert_eq!(status_of(&app, &order).await, "refunded");
    assert_eq!(history_to(&app, &order, "refunded").await, 1);
    app.post_as(
        &format!(
            "/api/admin/orders/{}/refunds",
            "ord_0193a0b2c3d47e8f9a0b1c2d3e4f5a6b"
        ),
        &admin,
        &json!({}),
    )
    .await
    .assert_problem(404, "order-not-found");
}

#[tokio::test]
async fn a_dispute_puts_a_paid_order_in_needs_attention() {
    let app = spawn_app().await;
    let (order, session, total, currency) = pending_order(&app).await;
    deliver(
        &app,
        &session_event(
            "evt_pay",
            "checkout.session.completed",
            &order,
            &session,
            total,
            &currency,
            true,
        ),
    )
    .await;
    app.run_pending_jobs().await;
    // A dispute names only the PaymentIntent.
    let dispute = json!({"id": "evt_dispute", "object": "event", "type": "charge.dispute.created", "created": 1,
        "data": {"object": {"id": "dp_1", "object": "dispute", "amount": total, "currency": currency.to_lowercase(),
            "charge": "ch_1", "payment_intent": "pi_evt_pay", "reason": "fraudulent", "status": "needs_response"}}})
    .to_string();
    assert_eq!(deliver(&app, &dispute).await.status, 200);
    app.run_pending_jobs().await;
    assert_eq!(status_of(&app, &order).await, "needs_attention");
    assert_eq!(
        count(
            &app,
            "select count(*) from jobs_event where topic = 'payments.alert'"
        )
        .await,
        1
    );
}

/// The events stored by `deliver`, processed by one job that carries them all
/// (as the webhook writer enqueues for events stored together), instead of
/// the one job per event that sequential deliveries made.
async fn process_in_one_job(app: &TestApp, ids: &[&str]) {
    sqlx::query("delete from jobs_job where kind = 'payments.process_event'")
        .execute(app.state.db.pool())
        .await
        .unwrap();
    app.enqueue(
        cielo_jobs::NewJob::new(
            cielo_payments::inbox::KIND_PROCESS_EVENT,
            json!({"provider": "test", "event_ids": ids}),
        )
        .queue("payments"),
    )
    .await;
    app.run_pending_jobs().await;
    assert_eq!(
        count(
            app,
            "select count(*) from jobs_job where kind = 'payments.process_event'"
        )
        .await,
        0,
        "the job finished"
    );
}

#[tokio::test]
async fn events_processed_together_have_the_effects_of_processing_them_one_by_one() {
    // Arrange: in arrival order, events of several orders, two of them about
    // the same order, a dispute that finds its order only through the payment
    // an earlier event of the batch records, and one naming no order of ours.
    let app = spawn_app().await;
    let (a, sa, ta, ca) = pending_order(&app).await;
    let (b, sb, tb, cb) = pending_order(&app).await;
    let (c, sc, tc, cc) = pending_order(&app).await;
    let (d, sd, td, cd) = pending_order(&app).await;
    let dispute = json!({"id": "evt_c_dispute", "object": "event", "type": "charge.dispute.created", "created": 1,
        "data": {"object": {"id": "dp_1", "object": "dispute", "amount": tc, "currency": cc.to_lowercase(),
            "charge": "ch_1", "payment_intent": "pi_evt_c_paid", "reason": "fraudulent", "status": "needs_response"}}})
    .to_string();
    let events = [
        (
            "evt_a_paid",
            session_event(
                "evt_a_paid",
                "checkout.session.completed",
                &a,
                &sa,
                ta,
                &ca,
                true,
            ),
        ),
        (
            "evt_b_exp",
            session_event(
                "evt_b_exp",
                "checkout.session.expired",
                &b,
                &sb,
                tb,
                &cb,
                false,
            ),
        ),
        (
            "evt_a_exp",
            session_event(
                "evt_a_exp",
                "checkout.session.expired",
                &a,
                &sa,
                ta,
                &ca,
                false,
            ),
        ),
        (
            "evt_c_paid",
            session_event(
                "evt_c_paid",
                "checkout.session.completed",
                &c,
                &sc,
                tc,
                &cc,
                true,
            ),
        ),
        (
            "evt_b_paid",
            session_event(
                "evt_b_paid",
                "checkout.session.completed",
                &b,
                &sb,
                tb,
                &cb,
                true,
            ),
        ),
        ("evt_c_dispute", dispute),
        (
            "evt_d_short",
            session_event(
                "evt_d_short",
                "checkout.session.completed",
                &d,
                &sd,
                td - 1,
                &cd,
                true,
            ),
        ),
        (
            "evt_stranger",
            session_event(
                "evt_stranger",
                "checkout.session.completed",
                "ord_0193a0b2c3d47e8f9a0b1c2d3e4f5a6b",
                "cs_x",
                1,
                "USD",
                true,
            ),
        ),
    ];
    for (_, body) in &events {
        assert_eq!(deliver(&app, body).await.status, 200);
    }
    let ids: Vec<&str> = events.iter().map(|(id, _)| *id).collect();

    // Act
    process_in_one_job(&app, &ids).await;

    // Assert
    assert_eq!(
        status_of(&app, &a).await,
        "paid",
        "the late expiry does not unpay"
    );
    assert_eq!(history_to(&app, &a, "paid").await, 1);
    assert_eq!(
        status_of(&app, &b).await,
        "needs_attention",
        "expired first, then a payment: a person looks"
    );
    assert_eq!(
        status_of(&app, &c).await,
        "needs_attention",
        "the dispute found its order through the payment"
    );
    assert_eq!(
        status_of(&app, &d).await,
        "needs_attention",
        "amount mismatch"
    );
    assert_eq!(
        count(
            &app,
            "select count(*) from payments_inbox where processed_at is null"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &app,
            "select count(*) from jobs_event where topic = 'payments.alert'"
        )
        .await,
        3
    );
    let outcome = |id: &'static str| {
        let db = app.state.db.clone();
        async move {
            sqlx::query("select outcome from payments_inbox where event_id = $1")
                .bind(id)
                .fetch_one(db.pool())
                .await
                .unwrap()
                .try_get::<String, _>("outcome")
                .unwrap()
        }
    };
    assert_eq!(outcome("evt_a_paid").await, format!("paid: {a}"));
    assert!(
        outcome("evt_stranger")
            .await
            .starts_with("ignored: no order"),
        "{}",
        outcome("evt_stranger").await
    );

    // Processing them again changes nothing.
    process_in_one_job(&app, &ids).await;
    assert_eq!(history_to(&app, &a, "paid").await, 1);
    assert_eq!(
        count(
            &app,
            "select count(*) from jobs_event where topic = 'payments.alert'"
        )
        .await,
        3
    );
}

#[tokio::test]
async fn webhooks_arriving_together_are_each_processed_once() {
    // Arrange: many orders paid at the same instant, each webhook twice.
    let app = spawn_app().await;
    let mut orders = Vec::new();
    for _ in 0..12 {
        orders.push(pending_order(&app).await);
    }
    let bodies: Vec<String> = orders
        .iter()
        .enumerate()
        .map(|(i, (o, s, t, c))| {
            session_event(
                &format!("evt_burst_{i}"),
                "checkout.session.completed",
                o,
                s,
                *t,
                c,
                true,
            )
        })
        .collect();

    // Act: all posted concurrently, then the queue drained.
    let replies =
        futures::future::join_all(bodies.iter().chain(bodies.iter()).map(|b| deliver(&app, b)))
            .await;
    app.run_pending_jobs().await;

    // Assert
    assert!(replies.iter().all(|r| r.status == 200));
    assert_eq!(
        replies
            .iter()
            .filter(|r| r.body["duplicate"] == false)
            .count(),
        12,
        "each event stored once"
    );
    assert_eq!(
        count(
            &app,
            "select count(*) from jobs_job where kind = 'payments.process_event'"
        )
        .await,
        0,
        "every processing job finished"
    );
    for (o, ..) in &orders {
        assert_eq!(status_of(&app, o).await, "paid");
        assert_eq!(history_to(&app, o, "paid").await, 1);
    }
    assert_eq!(
        count(
            &app,
            "select count(*) from payments_inbox where processed_at is null"
        )
        .await,
        0
    );
}
