//! Reconciliation and alerts: the shop compares the payment provider and the
//! print labs with its own records and tells a person what differs.

use crate::helpers::*;
use cielo::app::Role;
use cielo::settings::Secrets;
use cielo::Settings;
use cielo_fulfillment::testing::FakePrintful;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PF_TOKEN: &str = "pf-ops-token";

/// A receiver for the alert webhook: every JSON body posted to it.
async fn alert_sink() -> (String, Arc<Mutex<Vec<Value>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let store = got.clone();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
            let store = store.clone();
            async move {
                store.lock().unwrap().push(v);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (url, got)
}

/// An API-only app whose products go to a fake Printful, alerts to `hook`.
async fn shop(printful: &FakePrintful, hook: Option<String>, tweak: fn(&mut Settings)) -> TestApp {
    shop_with(printful, hook, tweak, Default::default()).await
}

/// [`shop`] with the notifications domain's secrets (a fake Twilio's).
async fn shop_with(
    printful: &FakePrintful,
    hook: Option<String>,
    tweak: impl FnOnce(&mut Settings) + Send + 'static,
    notify: cielo_notify::NotifySecrets,
) -> TestApp {
    let secrets = Secrets {
        notify,
        labs: cielo_fulfillment::LabSecrets {
            printful_api_token: Some(PF_TOKEN.into()),
            ..Default::default()
        },
        ops_alert_webhook_url: hook,
        ..Default::default()
    };
    let base = printful.url.clone();
    spawn_with_secrets(
        false,
        Role::Api,
        move |s| {
            s.payments.catch_up_on_start = false;
            s.ops.reconcile.on_start = false;
            s.fulfillment.hold_minutes = 0;
            s.fulfillment.printful_api_base = base;
            tweak(s);
        },
        secrets,
    )
    .await
}

/// A published Printful tee; returns its variant id.
async fn tee(app: &TestApp, admin: &str) -> String {
    let r = app
        .post_as(
            "/api/admin/products",
            admin,
            &json!({"title": "Tee", "status": "published", "variants": [
                {"sku": "TEE-1", "price": {"amount": 2000, "currency": "USD"}, "lab": "printful", "lab_product_id": "4012"}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["variants"][0]["id"].as_str().unwrap().to_string()
}

async fn buy(app: &TestApp, variant: &str) -> String {
    let cart = app.new_cart(None).await;
    let r = app.add_line(&cart, None, variant, 1).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .checkout(&cart, None, None, &checkout_body("ana@example.com"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["order_id"].as_str().unwrap().to_string()
}

async fn pay(app: &TestApp, admin: &str, order: &str) {
    app.pay_on_test_page(admin, order).await;
}

async fn status_of(app: &TestApp, admin: &str, order: &str) -> String {
    app.get_as(&format!("/api/admin/orders/{order}"), admin)
        .await
        .body["status"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn drain_until(app: &TestApp, admin: &str, order: &str, status: &str) {
    for _ in 0..100 {
        app.run_pending_jobs().await;
        if status_of(app, admin, order).await == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("order {order} never became {status}");
}

/// `cielo reconcile --since 1h [extra]` on the app's database: (exit code,
/// stdout and stderr). Off the test's runtime thread: the fake lab answers
/// the command from it.
async fn reconcile_cli(app: &TestApp, printful: &FakePrintful, extra: &[&str]) -> (i32, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cielo"));
    cmd.args([
        "--data-dir",
        app.data_dir().to_str().unwrap(),
        "reconcile",
        "--since",
        "1h",
    ])
    .args(extra)
    .env("CIELO_DATABASE_URL", app.database_url())
    .env("CIELO_FULFILLMENT_PRINTFUL_API_BASE", &printful.url)
    .env("CIELO_PRINTFUL_API_TOKEN", PF_TOKEN)
    .env("CIELO_LOG", "error");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

async fn reconcile(app: &TestApp, admin: &str) -> Value {
    let r = app
        .post_as(
            "/api/admin/ops/reconcile?since_secs=3600",
            admin,
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

#[tokio::test]
async fn a_healthy_shop_reconciles_clean() {
    let printful = FakePrintful::start(PF_TOKEN).await;
    let (hook, got) = alert_sink().await;
    let app = shop(&printful, Some(hook), |_| {}).await;
    let admin = app.admin_token().await;
    let variant = tee(&app, &admin).await;
    let order = buy(&app, &variant).await;
    pay(&app, &admin, &order).await;
    drain_until(&app, &admin, &order, "in_production").await;
    app.run_pending_jobs().await;
    assert_eq!(printful.orders_for(&order), 1);

    let report = reconcile(&app, &admin).await;
    assert_eq!(report["findings"], json!([]), "{report}");
    assert_eq!(report["errors"], json!([]), "{report}");
    assert_eq!(report["provider_payments"], 1, "{report}");
    assert_eq!(report["paid_orders"], 1, "{report}");
    assert_eq!(report["lab_orders"], json!([["printful", 1]]), "{report}");
    let findings = app.get_as("/api/admin/ops/findings", &admin).await;
    assert_eq!(findings.body, json!([]));
    let alerts = app.get_as("/api/admin/ops/alerts", &admin).await;
    assert_eq!(alerts.body, json!([]));
    assert!(got.lock().unwrap().is_empty());
    assert_eq!(status_of(&app, &admin, &order).await, "in_production");

    // The owner's terminal says the same.
    let (code, text) = reconcile_cli(&app, &printful, &[]).await;
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("Clean: no differences."), "{text}");
    assert!(text.contains("printful orders: 1"), "{text}");
}

#[tokio::test]
async fn a_lab_order_placed_behind_the_shops_back_produces_a_finding_and_an_alert_within_one_pass()
{
    let printful = FakePrintful::start(PF_TOKEN).await;
    let (hook, got) = alert_sink().await;
    let app = shop(&printful, Some(hook), |_| {}).await;
    let admin = app.admin_token().await;
    let variant = tee(&app, &admin).await;
    let order = buy(&app, &variant).await;
    pay(&app, &admin, &order).await;
    drain_until(&app, &admin, &order, "in_production").await;
    app.run_pending_jobs().await;

    // Someone with the shop's Printful key orders for themselves.
    let stolen_id = steal(&printful).await;

    let report = reconcile(&app, &admin).await;
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{report}");
    let f = &findings[0];
    assert_eq!(f["kind"], "unknown_lab_order");
    assert_eq!(f["state"], "open");
    assert_eq!(f["subject"], format!("printful:{stolen_id}"));
    assert_eq!(f["theirs"]["recipient"]["name"], "Mallory Thief");
    assert_eq!(f["theirs"]["items"][0]["quantity"], 20);

    // The alert went out in the same pass, with who gets the parcel.
    let sent = got.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["alert"]["rule"], "lab-order-we-never-placed");
    assert_eq!(sent[0]["alert"]["status"], "firing");
    assert!(sent[0]["text"].as_str().unwrap().contains("Mallory Thief"));
    assert_eq!(
        sent[0]["alert"]["details"][0]["theirs"]["recipient"]["name"],
        "Mallory Thief"
    );
    let alerts = app.get_as("/api/admin/ops/alerts", &admin).await.body;
    assert_eq!(alerts.as_array().unwrap().len(), 1, "{alerts}");
    assert_eq!(alerts[0]["state"], "firing");

    // On a terminal: the finding, and a failing exit code; JSON too.
    let (code, text) = reconcile_cli(&app, &printful, &[]).await;
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("[open] unknown_lab_order"), "{text}");
    assert!(text.contains("Mallory Thief"), "{text}");
    let (code, text) = reconcile_cli(&app, &printful, &["--json"]).await;
    assert_eq!(code, 1, "{text}");
    let json_report: Value = serde_json::from_str(&text).expect("JSON report");
    assert_eq!(json_report["findings"][0]["kind"], "unknown_lab_order");

    // Seen again: the same finding, no second message.
    let again = reconcile(&app, &admin).await;
    assert_eq!(again["findings"][0]["id"], f["id"]);
    assert_eq!(got.lock().unwrap().len(), 1);

    // A person resolves it: the alert clears with a "resolved" message.
    let id = f["id"].as_str().unwrap();
    let r = app
        .post_as(
            &format!("/api/admin/ops/findings/{id}/resolve"),
            &admin,
            &json!({"note": "cancelled at Printful, key rotated"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["state"], "resolved");
    assert_eq!(r.body["note"], "cancelled at Printful, key rotated");
    reconcile(&app, &admin).await;
    let sent = got.lock().unwrap().clone();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[1]["alert"]["status"], "resolved");
    let alerts = app.get_as("/api/admin/ops/alerts", &admin).await.body;
    assert_eq!(alerts[0]["state"], "resolved");
    let open = app
        .get_as("/api/admin/ops/findings?state=open", &admin)
        .await;
    assert_eq!(open.body, json!([]));
}

#[tokio::test]
async fn a_paid_order_without_a_payment_needs_attention_and_alerts() {
    let printful = FakePrintful::start(PF_TOKEN).await;
    let (hook, got) = alert_sink().await;
    let app = shop(&printful, Some(hook), |_| {}).await;
    let admin = app.admin_token().await;
    let variant = tee(&app, &admin).await;
    let order = buy(&app, &variant).await;
    // Marked paid without the provider ever taking the money.
    let id: cielo_orders::OrderId = order.parse().unwrap();
    app.state
        .orders
        .transition_now(id, cielo_orders::OrderStatus::Paid, "test: paid by hand")
        .await
        .unwrap();

    let report = reconcile(&app, &admin).await;
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{report}");
    assert_eq!(findings[0]["kind"], "paid_without_payment");
    assert_eq!(findings[0]["subject"], order.as_str());
    assert_eq!(status_of(&app, &admin, &order).await, "needs_attention");
    let sent = got.lock().unwrap().clone();
    assert!(
        sent.iter()
            .any(|m| m["alert"]["rule"] == "paid-without-payment"
                && m["alert"]["status"] == "firing"),
        "{sent:?}"
    );
}

#[tokio::test]
async fn a_payment_whose_webhook_never_came_is_fed_through_the_inbox() {
    let printful = FakePrintful::start(PF_TOKEN).await;
    let app = shop(&printful, None, |s| {
        s.payments.test_delivery = "never".into();
        s.ops.reconcile.grace_secs = 0;
    })
    .await;
    let admin = app.admin_token().await;
    let variant = tee(&app, &admin).await;
    let order = buy(&app, &variant).await;
    pay(&app, &admin, &order).await;
    app.run_pending_jobs().await;
    assert_eq!(status_of(&app, &admin, &order).await, "pending_payment");

    let report = reconcile(&app, &admin).await;
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{report}");
    assert_eq!(findings[0]["kind"], "paid_without_order");
    assert_eq!(findings[0]["state"], "fixed");
    drain_until(&app, &admin, &order, "in_production").await;
    // Fed once: the next pass finds the order paid and nothing to do.
    let again = reconcile(&app, &admin).await;
    assert_eq!(again["findings"], json!([]), "{again}");
}

/// Someone with the shop's Printful key orders for themselves: the lab's id.
async fn steal(printful: &FakePrintful) -> u64 {
    let r = reqwest::Client::new()
        .post(format!("{}/orders?confirm=true", printful.url))
        .bearer_auth(PF_TOKEN)
        .json(&json!({
            "recipient": {"name": "Mallory Thief", "address1": "1 Dark Lane", "city": "Reno",
                          "country_code": "US", "state_code": "NV", "zip": "89501"},
            "items": [{"variant_id": 4012, "quantity": 20}]
        }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let stolen: Value = r.json().await.unwrap();
    stolen["result"]["id"].as_u64().unwrap()
}

/// The owner's alert messages (email and SMS), oldest first.
async fn owner_alerts(app: &TestApp, admin: &str) -> Vec<Value> {
    let r = app
        .get_as(
            "/api/admin/notifications/messages?kind=owner_alert&limit=100",
            admin,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut ms = r.body["messages"].as_array().cloned().unwrap_or_default();
    ms.sort_by_key(|m| m["created_at"].as_str().unwrap_or_default().to_string());
    ms
}

/// Twilio's texts whose body mentions `needle`.
fn texts_with(fake: &crate::fake_mail::FakeProvider, needle: &str) -> Vec<String> {
    fake.received()
        .iter()
        .filter_map(|r| {
            let form: std::collections::HashMap<String, String> =
                serde_urlencoded::from_bytes(&r.body).ok()?;
            Some(form.get("Body")?.clone())
        })
        .filter(|b| b.contains(needle))
        .collect()
}

#[tokio::test]
async fn the_default_rules_text_and_email_the_owner_once_about_a_stolen_lab_key_and_once_when_resolved(
) {
    let printful = FakePrintful::start(PF_TOKEN).await;
    let twilio = crate::fake_mail::twilio().await;
    let base = twilio.base.clone();
    let app = shop_with(
        &printful,
        None,
        move |s| {
            // The default alert rules; only where the owner is reached.
            s.notify.owner_email = Some("owner@shop.test".into());
            s.notify.owner_phone = Some("+34600111222".into());
            s.notify.sms = "twilio".into();
            s.notify.twilio_api_base = base;
            s.notify.sms_from = Some("+15005550006".into());
        },
        cielo_notify::NotifySecrets {
            twilio_account_sid: Some("AC_test".into()),
            twilio_auth_token: Some("token_test".into()),
            ..Default::default()
        },
    )
    .await;
    let admin = app.admin_token().await;
    let variant = tee(&app, &admin).await;
    let order = buy(&app, &variant).await;
    pay(&app, &admin, &order).await;
    drain_until(&app, &admin, &order, "in_production").await;
    app.run_pending_jobs().await;
    assert!(owner_alerts(&app, &admin).await.is_empty());

    let stolen_id = steal(&printful).await;

    // One reconciliation pass: one email and one SMS to the owner.
    reconcile(&app, &admin).await;
    app.run_pending_jobs().await;
    let ms = owner_alerts(&app, &admin).await;
    assert_eq!(ms.len(), 2, "{ms:#?}");
    let email: Vec<_> = ms.iter().filter(|m| m["channel"] == "email").collect();
    let sms: Vec<_> = ms.iter().filter(|m| m["channel"] == "sms").collect();
    assert_eq!(email.len(), 1, "{ms:#?}");
    assert_eq!(sms.len(), 1, "{ms:#?}");
    assert_eq!(email[0]["recipient"], "owner@shop.test");
    assert_eq!(sms[0]["recipient"], "+34600111222");
    assert_eq!(email[0]["status"], "sent");
    assert_eq!(sms[0]["status"], "sent");
    let texts = texts_with(&twilio, "lab-order-we-never-placed");
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].contains("[FIRING]"), "{texts:?}");
    // The email says who gets the parcel and which lab order it is.
    let name = format!("{}.eml", email[0]["id"].as_str().unwrap());
    let eml = app
        .client
        .get(format!(
            "{}/api/admin/notifications/outbox/{name}",
            app.address
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(eml.contains("To: owner@shop.test"), "{eml}");
    assert!(eml.contains("Mallory Thief"), "{eml}");
    assert!(eml.contains(&format!("printful:{stolen_id}")), "{eml}");

    // Seen again by the next pass and the minute's evaluation: nothing new.
    reconcile(&app, &admin).await;
    app.state
        .ops
        .as_ref()
        .unwrap()
        .evaluate_alerts()
        .await
        .unwrap();
    app.run_pending_jobs().await;
    assert_eq!(owner_alerts(&app, &admin).await.len(), 2);
    assert_eq!(texts_with(&twilio, "lab-order-we-never-placed").len(), 1);

    // Resolved by a person: one "resolved" email and SMS, once.
    let findings = app
        .get_as("/api/admin/ops/findings?state=open", &admin)
        .await
        .body;
    let id = findings[0]["id"].as_str().unwrap().to_string();
    let r = app
        .post_as(
            &format!("/api/admin/ops/findings/{id}/resolve"),
            &admin,
            &json!({"note": "cancelled at Printful, key rotated"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    reconcile(&app, &admin).await;
    reconcile(&app, &admin).await;
    app.run_pending_jobs().await;
    let ms = owner_alerts(&app, &admin).await;
    assert_eq!(ms.len(), 4, "{ms:#?}");
    let texts = texts_with(&twilio, "lab-order-we-never-placed");
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[1].contains("[RESOLVED]"), "{texts:?}");
    assert!(ms[2..].iter().all(|m| m["status"] == "sent"), "{ms:#?}");
    let alerts = app.get_as("/api/admin/ops/alerts", &admin).await.body;
    assert_eq!(alerts.as_array().unwrap().len(), 1, "{alerts}");
    assert_eq!(alerts[0]["state"], "resolved");
    assert_eq!(alerts[0]["sends"], 2);
    let firing = app
        .get_as("/api/admin/ops/alerts?state=firing", &admin)
        .await;
    assert_eq!(firing.body, json!([]));
    let resolved = app
        .get_as("/api/admin/ops/alerts?state=resolved&limit=5", &admin)
        .await;
    assert_eq!(resolved.body.as_array().unwrap().len(), 1);
    let bad = app
        .get_as("/api/admin/ops/alerts?state=maybe", &admin)
        .await;
    bad.assert_problem(422, "invalid-query");
    assert_eq!(bad.pointers(), ["#/state"]);
}

/// One rule to the webhook only.
fn rule(name: &str, condition: cielo_ops::Condition, threshold: i64) -> cielo_ops::AlertRule {
    cielo_ops::AlertRule {
        name: name.into(),
        condition,
        threshold,
        channels: vec!["webhook".into()],
        repeat_minutes: 60,
    }
}

fn sent_for(got: &Arc<Mutex<Vec<Value>>>, rule: &str) -> Vec<Value> {
    got.lock()
        .unwrap()
        .iter()
        .filter(|m| m["alert"]["rule"] == rule)
        .cloned()
        .collect()
}

#[tokio::test]
async fn signature_failures_and_lab_refusals_are_conditions_configured_as_data() {
    let printful = FakePrintful::start(PF_TOKEN).await;
    let (hook, got) = alert_sink().await;
    let app = shop(&printful, Some(hook), |s| {
        s.ops.alerts = vec![
            rule(
                "probing",
                cielo_ops::Condition::WebhookSignatureFailures { minutes: 5 },
                3,
            ),
            rule(
                "refused",
                cielo_ops::Condition::LabRefusals { hours: 24 },
                1,
            ),
        ];
    })
    .await;
    let admin = app.admin_token().await;
    let ops = app.state.ops.clone().unwrap();

    // Two forged webhooks: under the threshold.
    let forge = || async {
        let r = app
            .client
            .post(format!("{}/webhooks/test", app.address))
            .header("content-type", "application/json")
            .header("stripe-signature", "t=1,v1=deadbeef")
            .body(r#"{"id":"evt_forged","type":"checkout.session.completed"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
    };
    forge().await;
    forge().await;
    ops.evaluate_alerts().await.unwrap();
    assert!(sent_for(&got, "probing").is_empty());
    // The third fires it, once.
    forge().await;
    ops.evaluate_alerts().await.unwrap();
    ops.evaluate_alerts().await.unwrap();
    let probing = sent_for(&got, "probing");
    assert_eq!(probing.len(), 1, "{probing:?}");
    assert_eq!(probing[0]["alert"]["status"], "firing");
    assert_eq!(probing[0]["alert"]["value"], 3);

    // A lab refuses an order's address: the refusal alert fires.
    assert!(sent_for(&got, "refused").is_empty());
    let variant = tee(&app, &admin).await;
    let cart = app.new_cart(None).await;
    app.add_line(&cart, None, &variant, 1).await;
    let mut body = checkout_body("ana@example.com");
    body["shipping_address"]["line1"] = json!("1 INVALID Road");
    let r = app.checkout(&cart, None, None, &body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let order = r.body["order_id"].as_str().unwrap().to_string();
    pay(&app, &admin, &order).await;
    drain_until(&app, &admin, &order, "needs_attention").await;
    ops.evaluate_alerts().await.unwrap();
    let refused = sent_for(&got, "refused");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["alert"]["value"], 1);
    let alerts = app.get_as("/api/admin/ops/alerts", &admin).await.body;
    let rules: Vec<&str> = alerts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["rule"].as_str().unwrap())
        .collect();
    assert!(
        rules.contains(&"probing") && rules.contains(&"refused"),
        "{alerts}"
    );
}

/// `cielo canary --base-url URL`: (exit code, output). Off the test's
/// runtime thread: the app answers the walk from it.
async fn canary_cli(base: &str) -> (i32, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cielo"));
    cmd.args(["canary", "--base-url", base])
        .env("CIELO_LOG", "error");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[tokio::test]
async fn the_canary_walks_the_store_path_without_buying_and_alerts_when_it_fails() {
    let printful = FakePrintful::start(PF_TOKEN).await;
    let (hook, got) = alert_sink().await;
    let app = shop(&printful, Some(hook), |_| {}).await;
    let admin = app.admin_token().await;
    tee(&app, &admin).await;
    let ops = app.state.ops.clone().unwrap();

    // A working shop: every step passes, the order it made is cancelled.
    let report = ops.canary(&app.address).await.unwrap();
    assert!(report.ok, "{report:?}");
    let steps: Vec<&str> = report.steps.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(
        steps,
        ["list", "cart", "checkout", "payment_page", "cancel"],
        "{report:?}"
    );
    let order = report.order_id.clone().unwrap();
    drain_until(&app, &admin, &order, "cancelled").await;
    assert!(sent_for(&got, "canary").is_empty());

    // The shop cannot be reached: the canary alert fires, once.
    let down = "http://127.0.0.1:9";
    let report = ops.canary(down).await.unwrap();
    assert!(!report.ok);
    assert_eq!(report.steps[0].step, "list");
    ops.canary(down).await.unwrap();
    let sent = sent_for(&got, "canary");
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["alert"]["status"], "firing");
    assert!(
        sent[0]["text"]
            .as_str()
            .unwrap()
            .contains("fails at `list`"),
        "{sent:?}"
    );
    // The minute's evaluation leaves the canary's alert alone.
    ops.evaluate_alerts().await.unwrap();
    assert_eq!(sent_for(&got, "canary").len(), 1);
    // Back up: resolved.
    assert!(ops.canary(&app.address).await.unwrap().ok);
    let sent = sent_for(&got, "canary");
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[1]["alert"]["status"], "resolved");

    // From a terminal.
    let (code, text) = canary_cli(&app.address).await;
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("payment_page") && text.contains("works"),
        "{text}"
    );
    let (code, text) = canary_cli(down).await;
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("FAILED"), "{text}");
}

#[tokio::test]
async fn a_message_of_unknown_outcome_raises_the_notification_failures_alert_until_resent() {
    let printful = FakePrintful::start(PF_TOKEN).await;
    let (hook, got) = alert_sink().await;
    let sendgrid = crate::fake_mail::sendgrid().await;
    let base = sendgrid.base.clone();
    let app = shop_with(
        &printful,
        Some(hook),
        move |s| {
            s.notify.email = "sendgrid".into();
            s.notify.sendgrid_api_base = base;
            s.notify.http_timeout_secs = 1;
            s.ops.alerts = vec![rule(
                "mail",
                cielo_ops::Condition::NotificationFailures { hours: 24 },
                1,
            )];
        },
        cielo_notify::NotifySecrets {
            sendgrid_api_key: Some("SG.test_key".into()),
            ..Default::default()
        },
    )
    .await;
    let admin = app.admin_token().await;
    let ops = app.state.ops.clone().unwrap();
    let variant = tee(&app, &admin).await;

    // SendGrid takes the confirmation and never answers: outcome unknown.
    sendgrid.stall_next(1);
    let order = buy(&app, &variant).await;
    pay(&app, &admin, &order).await;
    drain_until(&app, &admin, &order, "in_production").await;
    let unknown = app
        .get_as("/api/admin/notifications/messages?status=unknown", &admin)
        .await
        .body;
    let id = unknown["messages"][0]["id"].as_str().unwrap().to_string();
    ops.evaluate_alerts().await.unwrap();
    let sent = sent_for(&got, "mail");
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["alert"]["status"], "firing");
    assert!(sent[0]["text"].as_str().unwrap().contains(&id), "{sent:?}");

    // A person checked SendGrid's log and resent it: the alert clears.
    let r = app
        .post_as(
            &format!("/api/admin/notifications/messages/{id}/resend"),
            &admin,
            &json!({}),
        )
        .await;
    assert!(r.status.is_success(), "{} {}", r.status, r.body);
    app.run_pending_jobs().await;
    ops.evaluate_alerts().await.unwrap();
    let sent = sent_for(&got, "mail");
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[1]["alert"]["status"], "resolved");
}

#[tokio::test]
async fn a_lab_status_difference_the_pass_could_not_fix_is_settled_when_both_sides_agree_again() {
    let printful = FakePrintful::start(PF_TOKEN).await;
    let app = shop(&printful, None, |_| {}).await;
    let admin = app.admin_token().await;
    let variant = tee(&app, &admin).await;
    let order = buy(&app, &variant).await;
    pay(&app, &admin, &order).await;
    drain_until(&app, &admin, &order, "in_production").await;
    app.run_pending_jobs().await;

    // The lab moves on; its answer to the pass's re-read fails.
    printful.set_status(
        &cielo_fulfillment::printful_external_id(&order, 0),
        "inprocess",
    );
    printful.push_get_fault(cielo_fulfillment::testing::Fault::Unavailable);
    let report = reconcile(&app, &admin).await;
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{report}");
    assert_eq!(findings[0]["kind"], "lab_status_differs");
    assert_eq!(findings[0]["state"], "open");

    // Our side catches up by another path (the fulfillment catch-up).
    app.enqueue(cielo_jobs::NewJob::new("fulfillment.catch_up", json!({})))
        .await;
    app.run_pending_jobs().await;

    // The next pass sees both sides agree: the finding is fixed, not left open.
    let again = reconcile(&app, &admin).await;
    assert_eq!(again["findings"], json!([]), "{again}");
    let open = app
        .get_as("/api/admin/ops/findings?state=open", &admin)
        .await;
    assert_eq!(open.body, json!([]));
    let all = app.get_as("/api/admin/ops/findings", &admin).await.body;
    assert_eq!(all[0]["state"], "fixed", "{all}");
    assert!(
        all[0]["detail"].as_str().unwrap().contains("agree now"),
        "{all}"
    );
}

#[tokio::test]
async fn server_errors_of_every_api_answer_are_a_condition() {
    let printful = FakePrintful::start(PF_TOKEN).await;
    let (hook, got) = alert_sink().await;
    let app = shop(&printful, Some(hook), |s| {
        s.ops.alerts = vec![rule(
            "failing",
            cielo_ops::Condition::ServerErrors { minutes: 5 },
            2,
        )];
    })
    .await;
    let ops = app.state.ops.clone().unwrap();
    // The categories' table is gone: listing them is a server error.
    cielo_db::sqlx::query("alter table catalog_category rename to catalog_category_gone")
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let fail = || async {
        let r = app.get("/api/store/categories").await;
        assert_eq!(r.status, 500, "{}", r.body);
    };
    fail().await;
    ops.evaluate_alerts().await.unwrap();
    // One is under the threshold (counted off the answer's path: give it time).
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    ops.evaluate_alerts().await.unwrap();
    assert!(sent_for(&got, "failing").is_empty());
    fail().await;
    let mut fired = Vec::new();
    for _ in 0..50 {
        ops.evaluate_alerts().await.unwrap();
        fired = sent_for(&got, "failing");
        if !fired.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0]["alert"]["status"], "firing");
    assert_eq!(fired[0]["alert"]["value"], 2);
}

#[tokio::test]
async fn counts_that_differ_are_explained_and_a_paid_order_in_needs_attention_is_not_clean() {
    let printful = FakePrintful::start(PF_TOKEN).await;
    let app = shop(&printful, None, |_| {}).await;
    let admin = app.admin_token().await;
    let variant = tee(&app, &admin).await;
    let fine = buy(&app, &variant).await;
    let stuck = buy(&app, &variant).await;
    for o in [&fine, &stuck] {
        pay(&app, &admin, o).await;
        drain_until(&app, &admin, o, "in_production").await;
    }
    app.run_pending_jobs().await;
    // The second is stuck: paid at the provider, needs a person here.
    app.state
        .orders
        .transition_now(
            stuck.parse().unwrap(),
            cielo_orders::OrderStatus::NeedsAttention,
            "test: a step failed",
        )
        .await
        .unwrap();

    let report = reconcile(&app, &admin).await;
    assert_eq!(report["provider_payments"], 2, "{report}");
    assert_eq!(report["paid_orders"], 1, "{report}");
    assert_eq!(
        report["differences"],
        json!([{"order_id": stuck, "status": "needs_attention", "why": "is in needs_attention", "needs_a_look": true}]),
        "{report}"
    );

    // The terminal explains the counts, does not say "Clean" and fails.
    let (code, text) = reconcile_cli(&app, &printful, &[]).await;
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(&format!("! 1 paid order is in needs_attention: {stuck}")),
        "{text}"
    );
    assert!(!text.contains("Clean"), "{text}");
    assert!(
        text.contains("Needs a look: 1 paid order to look at."),
        "{text}"
    );

    // Refunded since: explained, nothing to look at, exit 0, still no "Clean".
    app.state
        .orders
        .transition_now(
            stuck.parse().unwrap(),
            cielo_orders::OrderStatus::Refunded,
            "test: refunded",
        )
        .await
        .unwrap();
    let (code, text) = reconcile_cli(&app, &printful, &[]).await;
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(&format!("· 1 paid order was refunded since: {stuck}")),
        "{text}"
    );
    assert!(!text.contains("Clean"), "{text}");
    assert!(text.contains("Nothing to look at"), "{text}");
}
