//! Bounce and complaint webhooks: Resend's (signed by Svix) and SendGrid's
//! (ECDSA), signed here from the providers' documented algorithms, mark the
//! delivery we recorded when the message was sent, and put the address on
//! the suppression list.

use crate::fake_mail;
use crate::helpers::*;
use base64::Engine;
use cielo::settings::Secrets;
use cielo_db::sqlx::{self, Row};
use cielo_notify::NotifySecrets;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use std::time::Duration;

const B64: base64::engine::general_purpose::GeneralPurpose =
    base64::engine::general_purpose::STANDARD;

/// The Svix signing key of the test endpoint (any bytes; Resend shows it as
/// `whsec_<base64>`).
const KEY: &[u8] = b"a svix signing key for the tests";

fn secret() -> String {
    format!("whsec_{}", B64.encode(KEY))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Svix's signature: base64(HMAC-SHA256(key, id + "." + timestamp + "." + body)).
fn svix_signature(key: &[u8], id: &str, ts: i64, body: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(format!("{id}.{ts}.{body}").as_bytes());
    format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
}

async fn post_svix(app: &TestApp, id: &str, ts: i64, signature: &str, body: &str) -> Reply {
    let res = app
        .client
        .post(format!("{}/webhooks/resend", app.address))
        .header("content-type", "application/json")
        .header("svix-id", id)
        .header("svix-timestamp", ts.to_string())
        .header("svix-signature", signature)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    Reply::from_response(res).await
}

/// Posts a Resend event about `email_id`, signed now.
async fn resend_event(app: &TestApp, event_id: &str, kind: &str, email_id: &str) -> Reply {
    let body = json!({
        "type": kind,
        "created_at": "2026-11-29T15:00:00.000Z",
        "data": {"email_id": email_id, "from": "Cielo <shop@localhost>",
                 "to": ["buyer@example.com"], "subject": "Order confirmed"}
    })
    .to_string();
    let ts = now();
    post_svix(
        app,
        event_id,
        ts,
        &svix_signature(KEY, event_id, ts, &body),
        &body,
    )
    .await
}

/// Checks out one 10.00 poster for `email`, pays it and runs the jobs until
/// its confirmation went to the provider; returns the order id.
async fn paid_order(app: &TestApp, admin: &str, email: &str) -> String {
    let order = app.checkout_new_product(admin, &checkout_body(email)).await;
    app.pay_on_test_page(admin, &order).await;
    for _ in 0..100 {
        app.run_pending_jobs().await;
        if confirmation(app, admin, &order)
            .await
            .is_some_and(|m| m["status"] == "sent")
        {
            return order;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("order {order} never got its confirmation sent");
}

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

async fn confirmation(app: &TestApp, admin: &str, order: &str) -> Option<Value> {
    messages(app, admin, order)
        .await
        .into_iter()
        .find(|m| m["kind"] == "order_confirmation")
}

async fn detail(app: &TestApp, admin: &str, id: &str) -> Value {
    let r = app
        .get_as(&format!("/api/admin/notifications/messages/{id}"), admin)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

async fn webhook_rows(app: &TestApp, provider: &str) -> Vec<(String, Option<String>)> {
    sqlx::query(
        "select event_id, outcome from notify_webhook_event where provider = $1 order by event_id",
    )
    .bind(provider)
    .fetch_all(app.state.db.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

async fn suppressed(app: &TestApp, admin: &str) -> Vec<Value> {
    let r = app
        .get_as("/api/admin/notifications/suppressions", admin)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body.as_array().unwrap().clone()
}

async fn resend_app(fake: &fake_mail::FakeProvider) -> TestApp {
    let base = fake.base.clone();
    spawn_with_secrets(
        false,
        cielo::app::Role::Api,
        move |s| {
            s.notify.email = "resend".into();
            s.notify.resend_api_base = base;
        },
        Secrets {
            notify: NotifySecrets {
                resend_api_key: Some("re_test_key".into()),
                resend_webhook_secret: Some(secret()),
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .await
}

#[tokio::test]
async fn a_resend_bounce_marks_the_delivery_once_and_suppresses_only_later_non_essential_mail() {
    let fake = fake_mail::resend().await;
    let app = resend_app(&fake).await;
    let admin = app.admin_token().await;
    let order = paid_order(&app, &admin, "Buyer@Example.com").await;
    let conf = confirmation(&app, &admin, &order).await.unwrap();
    let conf_id = conf["id"].as_str().unwrap().to_string();
    let email_id = conf["provider_message_id"].as_str().unwrap().to_string();
    assert_eq!(fake.accepted(), 1);

    // The bounce is stored before the answer, and applied by a job.
    let r = resend_event(&app, "msg_bounce_1", "email.bounced", &email_id).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"events": 1, "duplicates": 0}));
    assert_eq!(
        webhook_rows(&app, "resend").await,
        [("msg_bounce_1".into(), None)]
    );
    app.run_pending_jobs().await;
    let d = detail(&app, &admin, &conf_id).await;
    assert_eq!(d["message"]["status"], "bounced");
    assert_eq!(d["deliveries"][0]["status"], "bounced");
    assert_eq!(d["deliveries"][0]["provider_message_id"], email_id.as_str());
    let list = suppressed(&app, &admin).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["address"], "buyer@example.com");
    assert_eq!(list[0]["reason"], "bounced");
    assert_eq!(list[0]["provider"], "resend");
    assert_eq!(list[0]["message_id"], conf_id.as_str());
    let bounced = app
        .get_as("/api/admin/notifications/messages?status=bounced", &admin)
        .await;
    assert_eq!(bounced.body["messages"][0]["id"], conf_id.as_str());

    // Svix delivers again: the same event id stores nothing and changes nothing.
    let r = resend_event(&app, "msg_bounce_1", "email.bounced", &email_id).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"events": 1, "duplicates": 1}));
    assert_eq!(app.run_pending_jobs().await, 0, "a replay enqueues nothing");
    assert_eq!(
        webhook_rows(&app, "resend").await,
        [("msg_bounce_1".into(), Some("applied".into()))]
    );
    // A late "delivered" never undoes the bounce (it is recorded, not applied).
    let r = resend_event(&app, "msg_delivered_1", "email.delivered", &email_id).await;
    assert_eq!(r.status, 200, "{}", r.body);
    app.run_pending_jobs().await;
    assert_eq!(
        detail(&app, &admin, &conf_id).await["message"]["status"],
        "bounced"
    );
    assert!(webhook_rows(&app, "resend")
        .await
        .contains(&("msg_delivered_1".into(), Some("recorded".into()))));

    // Later mail to the address: the progress updates are not sent, the
    // next order's confirmation is (it is essential).
    let mut tx = app.state.db.begin_write().await.unwrap();
    cielo_jobs::publish(
        &mut tx,
        "order.delivered",
        json!({"order_id": order, "to": "delivered", "cause": "test"}),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    app.run_pending_jobs().await;
    app.run_pending_jobs().await;
    let delivered: Vec<Value> = messages(&app, &admin, &order)
        .await
        .into_iter()
        .filter(|m| m["kind"] == "delivered")
        .collect();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0]["status"], "suppressed", "{}", delivered[0]);
    assert!(delivered[0]["last_error"]
        .as_str()
        .unwrap()
        .contains("suppression list"));
    assert_eq!(fake.accepted(), 1, "nothing more reached the provider");
    let second = paid_order(&app, &admin, "buyer@example.com").await;
    assert_eq!(
        fake.accepted(),
        2,
        "the confirmation of a new order is sent"
    );

    // The owner takes the address off the list: the next update goes out.
    let r = app
        .request(
            reqwest::Method::DELETE,
            "/api/admin/notifications/suppressions/buyer@example.com",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(suppressed(&app, &admin).await.is_empty());
    app.request(
        reqwest::Method::DELETE,
        "/api/admin/notifications/suppressions/buyer@example.com",
        Some(&admin),
        None,
    )
    .await
    .assert_problem(404, "suppression-not-found");

    // Delivered, then a complaint, on the second order's confirmation.
    let c2 = confirmation(&app, &admin, &second).await.unwrap();
    let c2_id = c2["id"].as_str().unwrap().to_string();
    let email2 = c2["provider_message_id"].as_str().unwrap().to_string();
    resend_event(&app, "msg_delivered_2", "email.delivered", &email2).await;
    app.run_pending_jobs().await;
    assert_eq!(
        detail(&app, &admin, &c2_id).await["message"]["status"],
        "delivered"
    );
    resend_event(&app, "msg_complained_2", "email.complained", &email2).await;
    app.run_pending_jobs().await;
    let d = detail(&app, &admin, &c2_id).await;
    assert_eq!(d["message"]["status"], "complained");
    assert_eq!(d["deliveries"][0]["status"], "complained");
    let list = suppressed(&app, &admin).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["reason"], "complained");

    // A message id Cielo never sent: accepted and recorded, nothing marked.
    let r = resend_event(&app, "msg_other", "email.bounced", "not-ours").await;
    assert_eq!(r.status, 200, "{}", r.body);
    app.run_pending_jobs().await;
    let rows = webhook_rows(&app, "resend").await;
    assert!(
        rows.contains(&("msg_other".into(), Some("unmatched".into()))),
        "{rows:?}"
    );
    assert_eq!(suppressed(&app, &admin).await.len(), 1);
}

#[tokio::test]
async fn a_resend_webhook_with_a_bad_signature_or_an_old_timestamp_is_refused_and_counted() {
    let fake = fake_mail::resend().await;
    let app = resend_app(&fake).await;
    let body = json!({"type": "email.bounced", "data": {"email_id": "x"}}).to_string();
    let ts = now();
    let good = svix_signature(KEY, "msg_1", ts, &body);

    // The body changed after signing.
    let tampered = body.replace("\"x\"", "\"y\"");
    post_svix(&app, "msg_1", ts, &good, &tampered)
        .await
        .assert_problem(400, "invalid-signature");
    // Signed with another key.
    let other = svix_signature(b"another key", "msg_1", ts, &body);
    post_svix(&app, "msg_1", ts, &other, &body)
        .await
        .assert_problem(400, "invalid-signature");
    // Correctly signed, but older (or newer) than five minutes.
    for t in [ts - 600, ts + 600] {
        let sig = svix_signature(KEY, "msg_1", t, &body);
        let r = post_svix(&app, "msg_1", t, &sig, &body).await;
        r.assert_problem(400, "invalid-signature");
        assert!(
            r.body["detail"].as_str().unwrap().contains("tolerance"),
            "{}",
            r.body
        );
    }
    // No signature at all.
    post_svix(&app, "msg_1", ts, "", &body)
        .await
        .assert_problem(400, "invalid-signature");
    assert!(
        webhook_rows(&app, "resend").await.is_empty(),
        "nothing stored"
    );
    let n = app
        .state
        .notify
        .as_ref()
        .unwrap()
        .webhook_signature_failures(5)
        .await
        .unwrap();
    assert_eq!(n, 5);
    // The good one passes.
    let r = post_svix(&app, "msg_1", ts, &good, &body).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // A provider without a secret accepts no webhooks.
    let plain = spawn_app().await;
    let r = post_svix(&plain, "msg_1", ts, &good, &body).await;
    r.assert_problem(404, "webhook-provider-not-found");
}

/// DER SubjectPublicKeyInfo of a P-256 key, base64 (as SendGrid shows it).
fn spki_b64(key: &p256::ecdsa::VerifyingKey) -> String {
    let mut der = vec![
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ];
    der.extend_from_slice(key.to_encoded_point(false).as_bytes());
    B64.encode(der)
}

/// Posts SendGrid events signed as its Signed Event Webhook signs them:
/// ECDSA P-256/SHA-256 over timestamp + body, base64 DER.
async fn sendgrid_events(
    app: &TestApp,
    signer: &p256::ecdsa::SigningKey,
    ts: i64,
    body: &str,
) -> Reply {
    use p256::ecdsa::signature::Signer;
    let sig: p256::ecdsa::Signature = signer.sign(format!("{ts}{body}").as_bytes());
    let res = app
        .client
        .post(format!("{}/webhooks/sendgrid", app.address))
        .header("content-type", "application/json")
        .header(
            "x-twilio-email-event-webhook-signature",
            B64.encode(sig.to_der().as_bytes()),
        )
        .header("x-twilio-email-event-webhook-timestamp", ts.to_string())
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    Reply::from_response(res).await
}

#[tokio::test]
async fn sendgrid_signed_events_mark_the_delivery_by_its_x_message_id_once() {
    let fake = fake_mail::sendgrid().await;
    let base = fake.base.clone();
    let signer = p256::ecdsa::SigningKey::from_slice(&[42u8; 32]).unwrap();
    let public = spki_b64(signer.verifying_key());
    let app = spawn_with_secrets(
        false,
        cielo::app::Role::Api,
        move |s| {
            s.notify.email = "sendgrid".into();
            s.notify.sendgrid_api_base = base;
            s.notify.sendgrid_webhook_public_key = Some(public);
        },
        Secrets {
            notify: NotifySecrets {
                sendgrid_api_key: Some("SG.test_key".into()),
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .await;
    let admin = app.admin_token().await;
    let order = paid_order(&app, &admin, "buyer@example.com").await;
    let conf = confirmation(&app, &admin, &order).await.unwrap();
    let conf_id = conf["id"].as_str().unwrap().to_string();
    let x_message_id = conf["provider_message_id"].as_str().unwrap().to_string();

    // One batch: delivered, then a spam report, and an event about mail
    // Cielo did not send.
    let body = json!([
        {"email": "buyer@example.com", "timestamp": 1764428400, "event": "delivered",
         "sg_event_id": "ev-1", "sg_message_id": format!("{x_message_id}.filterdrecv-1.0")},
        {"email": "buyer@example.com", "timestamp": 1764428460, "event": "spamreport",
         "sg_event_id": "ev-2", "sg_message_id": format!("{x_message_id}.filterdrecv-1.0")},
        {"email": "other@example.com", "timestamp": 1764428460, "event": "bounce",
         "sg_event_id": "ev-3", "sg_message_id": "someone-else.filterdrecv-2.0"}
    ])
    .to_string();
    let ts = now();
    let r = sendgrid_events(&app, &signer, ts, &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"events": 3, "duplicates": 0}));
    app.run_pending_jobs().await;
    let d = detail(&app, &admin, &conf_id).await;
    assert_eq!(d["message"]["status"], "complained");
    assert_eq!(d["deliveries"][0]["status"], "complained");
    assert_eq!(
        webhook_rows(&app, "sendgrid").await,
        [
            ("ev-1".into(), Some("applied".into())),
            ("ev-2".into(), Some("applied".into())),
            ("ev-3".into(), Some("unmatched".into()))
        ]
    );
    let list = suppressed(&app, &admin).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["address"], "buyer@example.com");
    assert_eq!(list[0]["reason"], "complained");
    assert_eq!(list[0]["provider"], "sendgrid");

    // SendGrid retries the batch: nothing new.
    let r = sendgrid_events(&app, &signer, ts, &body).await;
    assert_eq!(r.body, json!({"events": 3, "duplicates": 3}));
    assert_eq!(app.run_pending_jobs().await, 0);

    // Signed by another key, or with the body changed: refused, nothing stored.
    let other = p256::ecdsa::SigningKey::from_slice(&[43u8; 32]).unwrap();
    let forged = body.replace("ev-1", "ev-9");
    sendgrid_events(&app, &other, ts, &forged)
        .await
        .assert_problem(400, "invalid-signature");
    use p256::ecdsa::signature::Signer;
    let sig: p256::ecdsa::Signature = signer.sign(format!("{ts}{body}").as_bytes());
    let res = app
        .client
        .post(format!("{}/webhooks/sendgrid", app.address))
        .header(
            "x-twilio-email-event-webhook-signature",
            B64.encode(sig.to_der().as_bytes()),
        )
        .header("x-twilio-email-event-webhook-timestamp", ts.to_string())
        .body(forged)
        .send()
        .await
        .unwrap();
    Reply::from_response(res)
        .await
        .assert_problem(400, "invalid-signature");
    sendgrid_events(&app, &signer, ts - 3600, &body)
        .await
        .assert_problem(400, "invalid-signature");
    assert_eq!(webhook_rows(&app, "sendgrid").await.len(), 3);
}
