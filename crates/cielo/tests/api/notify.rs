//! Notifications: one message per (order, kind), delivered through each
//! provider (the outbox, fake Resend / SendGrid / Twilio servers, a real SMTP
//! server when one runs, SES through the AWS emulator when one runs), with
//! retries, unknown outcomes and interruptions.

use crate::fake_mail;
use crate::helpers::*;
use cielo::settings::Secrets;
use cielo_db::sqlx::{self, Row};
use cielo_notify::{MessageId, MessageStatus, NotifySecrets};
use serde_json::{json, Value};
use std::time::Duration;

/// A checked-out order of one 10.00 poster: (order id, payment session).
async fn pending_order(app: &TestApp, admin: &str, body: &Value) -> (String, String) {
    let order_id = app.checkout_new_product(admin, body).await;
    let order = app
        .get_as(&format!("/api/admin/orders/{order_id}"), admin)
        .await
        .body;
    (
        order_id,
        order["payment"]["session_id"].as_str().unwrap().to_string(),
    )
}

/// Presses "Pay" on the test provider's page and runs jobs until the order is
/// paid and its messages are made (and, where they can be, sent).
async fn pay(app: &TestApp, order: &str, session: &str) {
    app.press_pay(session).await;
    for _ in 0..100 {
        app.run_pending_jobs().await;
        if status_of(app, order).await == "paid" && count_messages(app, order).await > 0 {
            app.run_pending_jobs().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("order {order} was never paid with its messages made");
}

async fn status_of(app: &TestApp, order: &str) -> String {
    app.state
        .orders
        .get_order(order.parse().unwrap(), &cielo_orders::OrderAccess::Admin)
        .await
        .unwrap()
        .status
        .to_string()
}

async fn count_messages(app: &TestApp, order: &str) -> i64 {
    sqlx::query("select count(*) from notify_message where order_id = $1")
        .bind(order)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap()
}

/// The order's messages, newest first.
async fn messages(app: &TestApp, admin: &str, order: &str) -> Vec<Value> {
    let r = app
        .get_as(
            &format!("/api/admin/notifications/messages?order_id={order}"),
            admin,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["messages"].as_array().unwrap().clone()
}

fn of_kind<'a>(ms: &'a [Value], kind: &str) -> Vec<&'a Value> {
    ms.iter().filter(|m| m["kind"] == kind).collect()
}

async fn detail(app: &TestApp, admin: &str, id: &str) -> Value {
    let r = app
        .get_as(&format!("/api/admin/notifications/messages/{id}"), admin)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

/// Publishes the order's `order.<status>` event again, as a duplicated
/// delivery of the outbox would.
async fn republish(app: &TestApp, order: &str, status: &str) {
    let mut tx = app.state.db.begin_write().await.unwrap();
    cielo_jobs::publish(
        &mut tx,
        &format!("order.{status}"),
        json!({"order_id": order, "to": status, "cause": "replayed"}),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

fn notify(app: &TestApp) -> &cielo_notify::Notify {
    app.state.notify.as_ref().unwrap()
}

async fn message_status(app: &TestApp, id: &str) -> MessageStatus {
    notify(app)
        .message(id.parse().unwrap())
        .await
        .unwrap()
        .message
        .status
}

fn secrets(n: NotifySecrets) -> Secrets {
    Secrets {
        notify: n,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_paid_order_gets_one_confirmation_in_the_outbox_however_often_its_events_arrive() {
    // Arrange: the test provider delivers every webhook twice.
    let app = spawn_app_with(false, |s| {
        s.payments.test_delivery = "twice".into();
        s.notify.owner_email = Some("owner@shop.test".into());
    })
    .await;
    let admin = app.admin_token().await;
    let (order, session) = pending_order(&app, &admin, &checkout_body("buyer@example.com")).await;

    // Act: pay, then replay the paid event twice more.
    pay(&app, &order, &session).await;
    republish(&app, &order, "paid").await;
    republish(&app, &order, "paid").await;
    app.run_pending_jobs().await;

    // Assert: one confirmation to the buyer, one new-order note to the owner.
    let ms = messages(&app, &admin, &order).await;
    assert_eq!(ms.len(), 2, "{ms:#?}");
    let conf = of_kind(&ms, "order_confirmation");
    assert_eq!(conf.len(), 1);
    assert_eq!(conf[0]["recipient"], "buyer@example.com");
    assert_eq!(conf[0]["status"], "sent");
    assert_eq!(conf[0]["language"], "en");
    let owner = of_kind(&ms, "owner_new_order");
    assert_eq!(owner.len(), 1);
    assert_eq!(owner[0]["recipient"], "owner@shop.test");
    let d = detail(&app, &admin, conf[0]["id"].as_str().unwrap()).await;
    assert_eq!(d["deliveries"].as_array().unwrap().len(), 1);
    assert_eq!(d["deliveries"][0]["status"], "sent");
    assert_eq!(d["deliveries"][0]["provider"], "outbox");

    // The outbox holds exactly these files, readable through the admin API.
    let files = app
        .get_as("/api/admin/notifications/outbox", &admin)
        .await
        .body;
    assert_eq!(files.as_array().unwrap().len(), 2, "{files}");
    let name = format!("{}.eml", conf[0]["id"].as_str().unwrap());
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
    assert!(eml.contains("Subject: Order confirmed: #"), "{eml}");
    assert!(eml.contains("multipart/alternative"), "{eml}");
    assert!(eml.contains("text/plain") && eml.contains("text/html"));
    assert!(
        eml.contains(&format!(
            "Message-ID: <{}@localhost>",
            conf[0]["id"].as_str().unwrap()
        )),
        "{eml}"
    );
    assert!(eml.contains("\r\nDate: "));
    assert!(
        !eml.contains("List-Unsubscribe"),
        "order mail is transactional"
    );
    // The data it was rendered from is kept with it: the order page's link.
    assert!(conf[0]["data"]["order"]["link"]
        .as_str()
        .unwrap()
        .contains(&format!("/?order={order}")));
}

#[tokio::test]
async fn the_admin_outbox_page_names_each_message_by_its_order_number() {
    let app = spawn_app_with(false, |_| {}).await;
    let admin = app.admin_token().await;
    let (order, session) = pending_order(&app, &admin, &checkout_body("buyer@example.com")).await;
    pay(&app, &order, &session).await;
    let number = app
        .get_as(&format!("/api/admin/orders/{order}"), &admin)
        .await
        .body["number"]
        .as_str()
        .unwrap()
        .to_string();

    let page = reqwest::Client::new()
        .get(format!("{}/admin/notifications", app.address))
        .header("cookie", format!("cielo_session={admin}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let body = page.text().await.unwrap();
    // The link goes to the order by its id and reads as the number people
    // quote from their email.
    assert!(
        body.contains(&format!("<a href=\"/admin/orders/{order}\">{number}</a>")),
        "{body}"
    );
    assert!(!body.contains(&format!(">{order}</a>")), "{body}");
}

#[tokio::test]
async fn each_step_of_an_order_sends_once_and_an_admin_resend_is_a_new_delivery() {
    let app = spawn_app_with(false, |_| {}).await;
    let admin = app.admin_token().await;
    let (order, session) = pending_order(&app, &admin, &checkout_body("buyer@example.com")).await;
    pay(&app, &order, &session).await;

    // The shop ships it itself, with tracking, then marks it delivered.
    let r = app
        .post_as(
            &format!("/api/admin/orders/{order}/shipments"),
            &admin,
            &json!({"carrier": "Correos", "tracking_number": "PK123456789ES",
                    "tracking_url": "https://track.example/PK123456789ES"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    app.run_pending_jobs().await;
    republish(&app, &order, "shipped").await;
    app.run_pending_jobs().await;
    let r = app
        .post_as(
            &format!("/api/admin/orders/{order}/delivered"),
            &admin,
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    app.run_pending_jobs().await;

    let ms = messages(&app, &admin, &order).await;
    let kinds: Vec<&str> = ms.iter().map(|m| m["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["delivered", "shipped", "order_confirmation"],
        "{ms:#?}"
    );
    assert!(ms.iter().all(|m| m["status"] == "sent"));
    let shipped = of_kind(&ms, "shipped")[0];
    assert_eq!(shipped["data"]["shipment"]["carrier"], "Correos");
    assert_eq!(
        shipped["data"]["shipment"]["tracking_url"],
        "https://track.example/PK123456789ES"
    );
    assert_eq!(
        shipped["dedupe_key"],
        format!("{order}/shipped/email/tracking:PK123456789ES")
    );

    // Resend the confirmation: a second delivery, its cause recorded.
    let conf = of_kind(&ms, "order_confirmation")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .post_as(
            &format!("/api/admin/notifications/messages/{conf}/resend"),
            &admin,
            &json!({"reason": "buyer lost it"}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    app.run_pending_jobs().await;
    let d = detail(&app, &admin, &conf).await;
    let ds = d["deliveries"].as_array().unwrap();
    assert_eq!(ds.len(), 2, "{d:#}");
    assert!(ds[1]["cause"]
        .as_str()
        .unwrap()
        .starts_with("resend by admin:cus_"));
    assert!(ds[1]["cause"].as_str().unwrap().ends_with("buyer lost it"));
    assert_eq!(ds[1]["status"], "sent");
    assert_eq!(d["message"]["resends"], 1);
    assert_eq!(d["message"]["send_key"], format!("{conf}.r1"));
    assert_eq!(
        count_messages(&app, &order).await,
        3,
        "a resend is not a new message"
    );
    let files = app
        .get_as("/api/admin/notifications/outbox", &admin)
        .await
        .body;
    assert!(files
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["name"] == format!("{conf}.r1.eml")));

    // Preview any kind in any language, sending nothing.
    let p = app
        .get_as(
            &format!("/api/admin/orders/{order}/notifications/order_confirmation/preview?lang=es"),
            &admin,
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body["subject"]
        .as_str()
        .unwrap()
        .starts_with("Pedido confirmado"));
    assert!(p.body["html"]
        .as_str()
        .unwrap()
        .contains("Gracias por tu pedido"));
    assert!(
        p.body["text"].as_str().unwrap().contains("10,00"),
        "{}",
        p.body["text"]
    );
    let sms = app
        .get_as(
            &format!("/api/admin/orders/{order}/notifications/shipped/preview?channel=sms"),
            &admin,
        )
        .await;
    assert_eq!(sms.status, 200, "{}", sms.body);
    assert!(sms.body["text"].as_str().unwrap().contains("has shipped"));
    app.get_as(
        &format!("/api/admin/orders/{order}/notifications/refund_issued/preview?channel=sms"),
        &admin,
    )
    .await
    .assert_problem(422, "invalid-input");
    app.get_as(
        &format!("/api/admin/orders/{order}/notifications/nonsense/preview"),
        &admin,
    )
    .await
    .assert_problem(404, "kind-not-found");
    assert_eq!(
        count_messages(&app, &order).await,
        3,
        "previews store nothing"
    );

    // Pages of messages.
    let page = app
        .get_as("/api/admin/notifications/messages?limit=2", &admin)
        .await
        .body;
    assert_eq!(page["messages"].as_array().unwrap().len(), 2);
    let next = page["next_cursor"].as_str().unwrap();
    let rest = app
        .get_as(
            &format!("/api/admin/notifications/messages?limit=2&cursor={next}"),
            &admin,
        )
        .await
        .body;
    assert_eq!(rest["messages"].as_array().unwrap().len(), 1);
    assert!(rest["next_cursor"].is_null());
    app.get("/api/admin/notifications/messages")
        .await
        .assert_problem(401, "unauthenticated");
}

/// The first queued-and-failed message of an order (its job now waits for
/// its backoff, so the test drives the next attempts itself).
async fn first_message(app: &TestApp, order: &str) -> MessageId {
    let id: String = sqlx::query(
        "select id from notify_message where order_id = $1 and kind = 'order_confirmation'",
    )
    .bind(order)
    .fetch_one(app.state.db.pool())
    .await
    .unwrap()
    .get(0);
    id.parse().unwrap()
}

/// Starts an attempt, waits until the provider has the message, and stops
/// the attempt there: a process killed between the provider's answer and
/// recording it.
async fn interrupted_send(app: &TestApp, fake: &fake_mail::FakeProvider, id: MessageId) {
    let arrived = fake.arrived.notified();
    let n = notify(app).clone();
    let attempt = tokio::spawn(async move { n.send(id, "test attempt", false).await });
    tokio::time::timeout(Duration::from_secs(10), arrived)
        .await
        .expect("the provider got the message");
    attempt.abort();
    let _ = attempt.await;
}

#[tokio::test]
async fn resend_retries_failures_and_interruptions_with_one_idempotency_key_and_sends_once() {
    let fake = fake_mail::resend().await;
    let base = fake.base.clone();
    let app = spawn_with_secrets(
        false,
        cielo::app::Role::Api,
        move |s| {
            s.notify.email = "resend".into();
            s.notify.resend_api_base = base;
        },
        secrets(NotifySecrets {
            resend_api_key: Some("re_test_key".into()),
            ..Default::default()
        }),
    )
    .await;
    let admin = app.admin_token().await;
    fake.fail_next(1, 503);
    let (order, session) = pending_order(&app, &admin, &checkout_body("buyer@example.com")).await;
    pay(&app, &order, &session).await;
    let id = first_message(&app, &order).await;
    assert_eq!(
        message_status(&app, &id.to_string()).await,
        MessageStatus::Queued
    );

    // The provider takes the next request and the process dies before the answer.
    fake.stall_next(1);
    interrupted_send(&app, &fake, id).await;
    assert_eq!(
        message_status(&app, &id.to_string()).await,
        MessageStatus::Sending
    );
    // The next attempt asks again with the same key: Resend answers as before.
    notify(&app).send(id, "after restart", false).await.unwrap();

    let d = notify(&app).message(id).await.unwrap();
    assert_eq!(d.message.status, MessageStatus::Sent);
    assert_eq!(fake.accepted(), 1, "one email really sent");
    let reqs = fake.received();
    assert_eq!(reqs.len(), 3);
    let keys: Vec<_> = reqs.iter().map(|r| r.header("idempotency-key")).collect();
    assert!(
        keys.iter()
            .all(|k| k.as_deref() == Some(&id.to_string()[..])),
        "{keys:?}"
    );
    let body = reqs[0].json();
    assert_eq!(body["to"], json!(["buyer@example.com"]));
    assert!(body["subject"]
        .as_str()
        .unwrap()
        .starts_with("Order confirmed"));
    assert!(body["html"].as_str().unwrap().contains("<html"));
    let statuses: Vec<_> = d.deliveries.iter().map(|x| x.status.as_str()).collect();
    assert_eq!(statuses, ["failed", "failed", "sent"]);
    assert!(d.deliveries[0].error.as_deref().unwrap().contains("503"));
    assert!(d.deliveries[1]
        .error
        .as_deref()
        .unwrap()
        .contains("interrupted"));
    assert_eq!(d.message.provider_message_id.as_deref(), Some("fake-1"));
    // The job's own retry later finds the message sent and does nothing.
    notify(&app).send(id, "late retry", false).await.unwrap();
    assert_eq!(fake.received().len(), 3);
}

#[tokio::test]
async fn sendgrid_without_an_idempotency_key_marks_an_unknown_outcome_and_never_retries_it() {
    let fake = fake_mail::sendgrid().await;
    let base = fake.base.clone();
    let app = spawn_with_secrets(
        false,
        cielo::app::Role::Api,
        move |s| {
            s.notify.email = "sendgrid".into();
            s.notify.sendgrid_api_base = base;
            s.notify.http_timeout_secs = 1;
        },
        secrets(NotifySecrets {
            sendgrid_api_key: Some("SG.test_key".into()),
            ..Default::default()
        }),
    )
    .await;
    let admin = app.admin_token().await;

    // A timeout after the provider took the message: unknown, not retried.
    fake.stall_next(1);
    let (order, session) = pending_order(&app, &admin, &checkout_body("buyer@example.com")).await;
    pay(&app, &order, &session).await;
    let id = first_message(&app, &order).await;
    assert_eq!(
        message_status(&app, &id.to_string()).await,
        MessageStatus::Unknown
    );
    notify(&app).send(id, "a retry", false).await.unwrap();
    assert_eq!(fake.received().len(), 1);
    let unknown = app
        .get_as("/api/admin/notifications/messages?status=unknown", &admin)
        .await
        .body;
    assert_eq!(unknown["messages"][0]["id"], id.to_string());
    let body = fake.received()[0].json();
    assert_eq!(
        body["personalizations"][0]["to"][0]["email"],
        "buyer@example.com"
    );
    assert_eq!(body["from"]["email"], "shop@localhost");
    assert_eq!(body["from"]["name"], "Cielo");
    assert_eq!(body["content"][0]["type"], "text/plain");
    assert_eq!(body["content"][1]["type"], "text/html");

    // A person decides: the resend is a new delivery and it goes out.
    let r = app
        .post_as(
            &format!("/api/admin/notifications/messages/{id}/resend"),
            &admin,
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    app.run_pending_jobs().await;
    let d = notify(&app).message(id).await.unwrap();
    assert_eq!(d.message.status, MessageStatus::Sent);
    assert_eq!(d.message.provider_message_id.as_deref(), Some("fake-2"));
    assert_eq!(
        d.deliveries
            .iter()
            .map(|x| x.status.as_str())
            .collect::<Vec<_>>(),
        ["unknown", "sent"]
    );

    // An interrupted attempt: the next one marks it unknown without asking again.
    fake.fail_next(1, 500);
    let (order2, session2) =
        pending_order(&app, &admin, &checkout_body("second@example.com")).await;
    pay(&app, &order2, &session2).await;
    let id2 = first_message(&app, &order2).await;
    assert_eq!(
        message_status(&app, &id2.to_string()).await,
        MessageStatus::Queued
    );
    fake.stall_next(1);
    let before = fake.received().len();
    interrupted_send(&app, &fake, id2).await;
    notify(&app)
        .send(id2, "after restart", false)
        .await
        .unwrap();
    assert_eq!(
        message_status(&app, &id2.to_string()).await,
        MessageStatus::Unknown
    );
    assert_eq!(fake.received().len(), before + 1, "not asked again");
    let d2 = notify(&app).message(id2).await.unwrap();
    assert!(d2.deliveries[1]
        .error
        .as_deref()
        .unwrap()
        .contains("not sent again without a person"));
}

#[tokio::test]
async fn twilio_texts_the_owner_form_encoded_with_basic_auth() {
    let fake = fake_mail::twilio().await;
    let base = fake.base.clone();
    let app = spawn_with_secrets(
        false,
        cielo::app::Role::Api,
        move |s| {
            s.notify.sms = "twilio".into();
            s.notify.twilio_api_base = base;
            s.notify.sms_from = Some("+15005550006".into());
            s.notify.owner_phone = Some("+34600111222".into());
        },
        secrets(NotifySecrets {
            twilio_account_sid: Some("AC_test".into()),
            twilio_auth_token: Some("token_test".into()),
            ..Default::default()
        }),
    )
    .await;
    let admin = app.admin_token().await;
    let (order, session) = pending_order(&app, &admin, &checkout_body("buyer@example.com")).await;
    pay(&app, &order, &session).await;
    republish(&app, &order, "paid").await;
    app.run_pending_jobs().await;

    let ms = messages(&app, &admin, &order).await;
    let sms: Vec<_> = ms.iter().filter(|m| m["channel"] == "sms").collect();
    assert_eq!(sms.len(), 1, "{ms:#?}");
    assert_eq!(sms[0]["kind"], "owner_new_order");
    assert_eq!(sms[0]["recipient"], "+34600111222");
    assert_eq!(sms[0]["status"], "sent");
    assert!(sms[0]["provider_message_id"]
        .as_str()
        .unwrap()
        .starts_with("SM"));
    let reqs = fake.received();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].path, "AC_test");
    assert_eq!(
        reqs[0].header("content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    let form: std::collections::HashMap<String, String> =
        serde_urlencoded::from_bytes(&reqs[0].body).unwrap();
    assert_eq!(form["To"], "+34600111222");
    assert_eq!(form["From"], "+15005550006");
    assert!(form["Body"].starts_with("New order #"), "{}", form["Body"]);
}

#[tokio::test]
async fn smtp_silence_after_the_message_data_is_unknown_and_never_sent_twice() {
    let (port, got) = fake_mail::silent_after_data_smtp().await;
    let app = spawn_app_with(false, move |s| {
        s.notify.email = "smtp".into();
        s.notify.smtp_url = format!("smtp://127.0.0.1:{port}");
        s.notify.smtp_timeout_secs = 1;
    })
    .await;
    let admin = app.admin_token().await;
    let (order, session) = pending_order(&app, &admin, &checkout_body("buyer@example.com")).await;
    pay(&app, &order, &session).await;
    let id = first_message(&app, &order).await;
    let d = notify(&app).message(id).await.unwrap();
    assert_eq!(d.message.status, MessageStatus::Unknown, "{d:#?}");
    assert!(d.deliveries[0]
        .error
        .as_deref()
        .unwrap()
        .contains("after the message data was sent"));
    notify(&app).send(id, "a retry", false).await.unwrap();
    assert_eq!(*got.lock().unwrap(), 1);
}

#[tokio::test]
async fn smtp_refused_before_data_is_a_definite_failure_queued_for_a_retry() {
    // Nothing listens on this port yet: connection refused, a definite failure.
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let app = spawn_app_with(false, move |s| {
        s.notify.email = "smtp".into();
        s.notify.smtp_url = format!("smtp://127.0.0.1:{port}");
        s.notify.smtp_timeout_secs = 2;
    })
    .await;
    let admin = app.admin_token().await;
    let (order, session) = pending_order(&app, &admin, &checkout_body("buyer@example.com")).await;
    pay(&app, &order, &session).await;
    let id = first_message(&app, &order).await;
    let d = notify(&app).message(id).await.unwrap();
    assert_eq!(d.message.status, MessageStatus::Queued, "{d:#?}");
    assert_eq!(d.deliveries[0].status.as_str(), "failed");
}

/// A real SMTP server (STARTTLS + AUTH), when the test environment runs one:
/// `CIELO_TEST_SMTP_PORT` (on 127.0.0.1) and `CIELO_TEST_SMTP_DIR` (its mail
/// directory, with `messages.jsonl`, and `ca.pem`, the authority that signed
/// its certificate: `tools/smtp-test-cert.sh` makes both before it starts).
#[tokio::test]
async fn a_real_smtp_server_gets_one_confirmation_over_starttls_with_auth() {
    let (Ok(port), Ok(dir)) = (
        std::env::var("CIELO_TEST_SMTP_PORT"),
        std::env::var("CIELO_TEST_SMTP_DIR"),
    ) else {
        eprintln!("note: CIELO_TEST_SMTP_PORT/CIELO_TEST_SMTP_DIR are unset; the real SMTP test did not run");
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let buyer = format!("buyer-{}@example.com", uuid::Uuid::new_v4().simple());
    let ca = dir.join("ca.pem");
    let app = spawn_with_secrets(
        false,
        cielo::app::Role::Api,
        move |s| {
            s.notify.email = "smtp".into();
            s.notify.smtp_url = format!("smtp://test@127.0.0.1:{port}?tls=required");
            s.notify.smtp_ca_file = Some(ca);
            s.notify.owner_email = Some("owner@shop.test".into());
        },
        secrets(NotifySecrets {
            smtp_password: Some("test".into()),
            ..Default::default()
        }),
    )
    .await;
    let admin = app.admin_token().await;
    let (order, session) = pending_order(&app, &admin, &checkout_body(&buyer)).await;
    pay(&app, &order, &session).await;
    republish(&app, &order, "paid").await;
    app.run_pending_jobs().await;

    let ms = messages(&app, &admin, &order).await;
    assert_eq!(ms.len(), 2, "{ms:#?}");
    assert!(ms.iter().all(|m| m["status"] == "sent"), "{ms:#?}");
    let log = std::fs::read_to_string(dir.join("messages.jsonl")).unwrap();
    let mine: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["rcpt_tos"] == json!([buyer]))
        .collect();
    assert_eq!(mine.len(), 1, "one message for the buyer: {mine:?}");
    assert_eq!(mine[0]["tls"], true);
    assert_eq!(mine[0]["auth_login"], "test");
    assert_eq!(mine[0]["mail_from"], "shop@localhost");
    let eml = std::fs::read_to_string(dir.join(mine[0]["file"].as_str().unwrap()))
        .or_else(|_| std::fs::read_to_string(mine[0]["file"].as_str().unwrap()))
        .unwrap();
    assert!(eml.contains("Subject: Order confirmed"), "{eml}");
    assert!(eml.contains("multipart/alternative"));
}

/// SES v2 `SendEmail` through the AWS emulator, when the test environment
/// runs one (`CIELO_TEST_AWS_ENDPOINT`, else `CIELO_TEST_S3_ENDPOINT`).
#[tokio::test]
async fn ses_v2_send_email_is_signed_and_accepted_by_the_aws_emulator() {
    let endpoint = match std::env::var("CIELO_TEST_AWS_ENDPOINT")
        .or_else(|_| std::env::var("CIELO_TEST_S3_ENDPOINT"))
    {
        Ok(e) if !e.is_empty() => e,
        _ => {
            eprintln!("note: no AWS emulator (CIELO_TEST_AWS_ENDPOINT); the SES test did not run");
            return;
        }
    };
    let from = format!("shop-{}@example.com", uuid::Uuid::new_v4().simple());
    // The emulator wants the sender verified first; it routes by the
    // credential scope and does not check the signature.
    let client = reqwest::Client::new();
    let date = "20261129";
    let r = client
        .post(format!("{endpoint}/v2/email/identities"))
        .header(
            "authorization",
            format!("AWS4-HMAC-SHA256 Credential=test/{date}/us-east-1/ses/aws4_request, SignedHeaders=host, Signature=00"),
        )
        .json(&json!({"EmailIdentity": from}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let (base, sender) = (endpoint.clone(), format!("Shop <{from}>"));
    let app = spawn_with_secrets(
        false,
        cielo::app::Role::Api,
        move |s| {
            s.notify.email = "ses".into();
            s.notify.ses_api_base = Some(base);
            s.notify.from = sender;
        },
        secrets(NotifySecrets {
            aws: Some(cielo_notify::email::AwsCredentials {
                access_key_id: "test".into(),
                secret_access_key: "test".into(),
                session_token: None,
            }),
            ..Default::default()
        }),
    )
    .await;
    let admin = app.admin_token().await;
    let (order, session) = pending_order(&app, &admin, &checkout_body("buyer@example.com")).await;
    pay(&app, &order, &session).await;
    let id = first_message(&app, &order).await;
    let d = notify(&app).message(id).await.unwrap();
    assert_eq!(d.message.status, MessageStatus::Sent, "{d:#?}");
    let ses_id = d.message.provider_message_id.clone().unwrap();
    let dump = client
        .get(format!("{endpoint}/moto-api/data.json"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(dump.contains(&ses_id), "the emulator recorded the message");
}

#[tokio::test]
async fn a_buyer_who_reads_spanish_and_opted_in_to_sms_gets_the_confirmation_in_spanish_both_ways()
{
    let app = spawn_app_with(false, |_| {}).await;
    let admin = app.admin_token().await;
    let sku = format!("P-{}", uuid::Uuid::new_v4().simple());
    let v = app
        .create_product(&admin, &format!("Poster {sku}"), &[(&sku, 1000)])
        .await["variants"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let checkout = |cart: String, body: Value| {
        let app = &app;
        async move {
            let res = app
                .client
                .post(format!("{}/api/store/carts/{cart}/checkout", app.address))
                .header("accept-language", "fr-FR, es-ES;q=0.9, en;q=0.5")
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap())
        }
    };
    let mut body = checkout_body("comprador@example.com");

    // Numbers and choices are checked where they enter.
    let cart = app.new_cart(None).await;
    app.add_line(&cart, None, &v, 1).await;
    body["phone"] = json!("600 123 456");
    let (status, problem) = checkout(cart.clone(), body.clone()).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "#/phone", "{problem}");
    body["phone"] = Value::Null;
    body["sms_opt_in"] = json!(true);
    let (status, problem) = checkout(cart.clone(), body.clone()).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "#/sms_opt_in", "{problem}");

    body["phone"] = json!("+34 600 123 456");
    let (status, done) = checkout(cart, body).await;
    assert_eq!(status, 201, "{done}");
    let order = done["order_id"].as_str().unwrap().to_string();
    let o = app
        .get_as(&format!("/api/admin/orders/{order}"), &admin)
        .await
        .body;
    assert_eq!(o["language"], "es");
    assert_eq!(o["phone"], "+34600123456");
    assert_eq!(o["sms_opt_in"], true);
    pay(&app, &order, o["payment"]["session_id"].as_str().unwrap()).await;

    let ms = messages(&app, &admin, &order).await;
    let conf = of_kind(&ms, "order_confirmation");
    assert_eq!(conf.len(), 2, "{ms:#?}");
    assert!(conf
        .iter()
        .all(|m| m["language"] == "es" && m["status"] == "sent"));
    let email = conf.iter().find(|m| m["channel"] == "email").unwrap();
    let sms = conf.iter().find(|m| m["channel"] == "sms").unwrap();
    assert_eq!(sms["recipient"], "+34600123456");
    let eml = notify(&app)
        .outbox_file(&format!("{}.eml", email["id"].as_str().unwrap()))
        .await
        .unwrap();
    let eml = String::from_utf8(eml).unwrap();
    assert!(eml.contains("Subject: Pedido confirmado: #"), "{eml}");
    let text = notify(&app)
        .outbox_file(&format!("{}.sms.txt", sms["id"].as_str().unwrap()))
        .await
        .unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("To: +34600123456"), "{text}");
    assert!(text.contains("confirmado, 25,00"), "{text}");

    // The link in the message opens the order page for a guest.
    let link = email["data"]["order"]["link"].as_str().unwrap();
    let token = link.split("token=").nth(1).unwrap();
    assert!(token.starts_with("oat_"));
    let r = app
        .client
        .get(format!("{}/api/store/orders/{order}", app.address))
        .header("x-order-token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .client
        .get(format!("{}/api/store/orders/{order}", app.address))
        .header("x-order-token", "oat_not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}
