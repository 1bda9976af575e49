//! The Stripe provider against a recorded Stripe: the fake Stripe server we
//! can install has no Checkout Sessions, so a small server here answers with
//! Stripe's recorded session payloads and records what Cielo sent.

use crate::helpers::*;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use cielo::app::Role;
use cielo::settings::Secrets;
use cielo_payments::signature::sign;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Recorded {
    creates: Vec<(String, Vec<(String, String)>)>,
    paid: bool,
    /// When set, session creation answers 400 with this Stripe error message.
    refuse_with: Option<String>,
    /// Customers created: (idempotency key, form).
    customers: Vec<(String, Vec<(String, String)>)>,
    /// Card PaymentMethods detached.
    detached: Vec<String>,
    /// When set, listing PaymentMethods answers 500.
    cards_down: bool,
}

type Shared = Arc<Mutex<Recorded>>;

fn session(form: &[(String, String)], paid: bool) -> Value {
    let get = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut total = 0;
    for i in 0.. {
        let Some(unit) = form
            .iter()
            .find(|(k, _)| *k == format!("line_items[{i}][price_data][unit_amount]"))
        else {
            break;
        };
        let q = form
            .iter()
            .find(|(k, _)| *k == format!("line_items[{i}][quantity]"))
            .unwrap();
        total += unit.1.parse::<i64>().unwrap() * q.1.parse::<i64>().unwrap();
    }
    // Shape recorded from Stripe's API (2024-06-20), ids replaced.
    json!({
        "id": "cs_test_a1recorded", "object": "checkout.session", "amount_subtotal": total, "amount_total": total,
        "client_reference_id": get("client_reference_id"), "currency": get("currency"), "customer_email": get("customer_email"),
        "expires_at": get("expires_at").parse::<i64>().unwrap(), "livemode": false,
        "metadata": {"order_id": get("metadata[order_id]")}, "mode": "payment",
        "payment_intent": if paid { json!("pi_3recorded") } else { json!(null) },
        "payment_status": if paid { "paid" } else { "unpaid" }, "status": if paid { "complete" } else { "open" },
        "success_url": get("success_url"), "cancel_url": get("cancel_url"),
        "url": if paid { json!(null) } else { json!("https://checkout.stripe.com/c/pay/cs_test_a1recorded") },
    })
}

async fn fake_stripe(recorded: Shared) -> String {
    async fn create(
        State(r): State<Shared>,
        headers: HeaderMap,
        body: String,
    ) -> axum::response::Response {
        assert_eq!(headers["authorization"], "Bearer sk_test_recorded");
        let form: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap();
        let key = headers["idempotency-key"].to_str().unwrap().to_string();
        if let Some(message) = r.lock().unwrap().refuse_with.clone() {
            return (
                axum::http::StatusCode::BAD_REQUEST,
                axum::Json(json!({"error": {"type": "invalid_request_error", "code": "parameter_invalid", "message": message, "param": "line_items[0][price_data][unit_amount]"}})),
            )
                .into_response();
        }
        let answer = session(&form, false);
        r.lock().unwrap().creates.push((key, form));
        axum::Json(answer).into_response()
    }
    async fn retrieve(
        State(r): State<Shared>,
        Path(_id): Path<String>,
    ) -> axum::response::Response {
        let r = r.lock().unwrap();
        let form = r.creates.last().unwrap().1.clone();
        axum::Json(session(&form, r.paid)).into_response()
    }
    async fn events() -> axum::response::Response {
        axum::Json(json!({"object": "list", "url": "/v1/events", "has_more": false, "data": []}))
            .into_response()
    }
    async fn create_customer(
        State(r): State<Shared>,
        headers: HeaderMap,
        body: String,
    ) -> axum::response::Response {
        let form: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap();
        let key = headers["idempotency-key"].to_str().unwrap().to_string();
        r.lock().unwrap().customers.push((key, form));
        axum::Json(json!({"id": "cus_recorded", "object": "customer"})).into_response()
    }
    // Shapes recorded from Stripe's API (2024-06-20): a card saved by
    // Checkout to cus_recorded, and one of another customer's.
    fn payment_method(id: &str, customer: &str) -> Value {
        json!({"id": id, "object": "payment_method", "type": "card", "created": 1_732_000_000,
            "customer": customer, "allow_redisplay": "always", "livemode": false,
            "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034,
                "country": "US", "funding": "credit", "fingerprint": "Xt5EWLLDS7FJjR1c"}})
    }
    async fn list_cards(
        State(r): State<Shared>,
        axum::extract::Query(q): axum::extract::Query<Vec<(String, String)>>,
    ) -> axum::response::Response {
        assert!(q.contains(&("type".into(), "card".into())), "{q:?}");
        if r.lock().unwrap().cards_down {
            return (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(json!({"error": {"type": "api_error", "message": "Something went wrong on Stripe's end."}})),
            )
                .into_response();
        }
        let mine = q.contains(&("customer".into(), "cus_recorded".into()));
        let detached = r.lock().unwrap().detached.clone();
        let data: Vec<Value> = ["pm_saved_1"]
            .iter()
            .filter(|id| mine && !detached.iter().any(|d| d == *id))
            .map(|id| payment_method(id, "cus_recorded"))
            .collect();
        axum::Json(json!({"object": "list", "url": "/v1/payment_methods", "has_more": false, "data": data}))
            .into_response()
    }
    async fn retrieve_card(Path(id): Path<String>) -> axum::response::Response {
        match id.as_str() {
            "pm_saved_1" => axum::Json(payment_method(&id, "cus_recorded")).into_response(),
            "pm_other_1" => axum::Json(payment_method(&id, "cus_someone_else")).into_response(),
            _ => (
                axum::http::StatusCode::NOT_FOUND,
                axum::Json(
                    json!({"error": {"type": "invalid_request_error", "code": "resource_missing",
                    "message": format!("No such PaymentMethod: '{id}'")}}),
                ),
            )
                .into_response(),
        }
    }
    async fn detach(State(r): State<Shared>, Path(id): Path<String>) -> axum::response::Response {
        r.lock().unwrap().detached.push(id.clone());
        axum::Json(payment_method(&id, "")).into_response()
    }
    let app = axum::Router::new()
        .route("/v1/customers", post(create_customer))
        .route("/v1/payment_methods", get(list_cards))
        .route("/v1/payment_methods/{id}", get(retrieve_card))
        .route("/v1/payment_methods/{id}/detach", post(detach))
        .route("/v1/checkout/sessions", post(create))
        .route("/v1/checkout/sessions/{id}", get(retrieve))
        .route("/v1/events", get(events))
        .with_state(recorded);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

async fn stripe_app(base: &str) -> TestApp {
    stripe_shop(base, "USD").await
}

async fn stripe_shop(base: &str, currency: &str) -> TestApp {
    let base = base.to_string();
    let currency = currency.to_string();
    let secrets = Secrets {
        stripe_secret_key: Some("sk_test_recorded".into()),
        stripe_webhook_secrets: vec!["whsec_old".into(), "whsec_recorded".into()],
        ..Default::default()
    };
    spawn_with_secrets(
        false,
        Role::Api,
        move |s| {
            s.payments.provider = "stripe".into();
            s.payments.stripe_api_base = base;
            s.payments.recover_after_minutes = 0;
            s.shop.currency = currency;
            s.shipping.default_rate = 0;
            s.shipping.rates.clear();
            s.tax.default_rate_bp = 0;
            s.tax.rates.clear();
        },
        secrets,
    )
    .await
}

async fn checkout(app: &TestApp, key: &str) -> Reply {
    let admin = app.admin_token().await;
    let v = app.create_product(&admin, "Poster", &[("P-1", 1000)]).await["variants"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let cart = app.new_cart(None).await;
    app.add_line(&cart, None, &v, 2).await;
    let body = checkout_body("buyer@example.com");
    let first = app.checkout(&cart, None, Some(key), &body).await;
    let retried = app.checkout(&cart, None, Some(key), &body).await;
    assert_eq!(
        first.body, retried.body,
        "a retried checkout answers the same"
    );
    first
}

#[tokio::test]
async fn checkout_opens_one_stripe_session_carrying_the_order_and_its_total() {
    let recorded = Shared::default();
    let app = stripe_app(&fake_stripe(recorded.clone()).await).await;
    let r = checkout(&app, "key-1").await;
    assert_eq!(r.status, 201, "{}", r.body);
    let order = r.body["order_id"].as_str().unwrap().to_string();
    assert_eq!(
        r.body["payment_url"],
        "https://checkout.stripe.com/c/pay/cs_test_a1recorded"
    );

    let creates = recorded.lock().unwrap().creates.clone();
    assert_eq!(
        creates.len(),
        1,
        "the idempotent retry did not call Stripe again"
    );
    let (key, form) = &creates[0];
    assert_eq!(key, &format!("checkout:{order}"));
    let get = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("mode"), Some("payment"));
    assert_eq!(get("client_reference_id"), Some(order.as_str()));
    assert_eq!(get("metadata[order_id]"), Some(order.as_str()));
    assert_eq!(get("customer_email"), Some("buyer@example.com"));
    assert_eq!(get("line_items[0][quantity]"), Some("2"));
    // Back from Checkout to the order in any browser: the return URLs carry
    // an access token that reads the order.
    for (param, outcome) in [("success_url", "paid=1"), ("cancel_url", "cancelled=1")] {
        let url = get(param).unwrap();
        let prefix = format!("/?order={order}&token=oat_");
        assert!(url.contains(&prefix) && url.ends_with(outcome), "{url}");
        let token = url
            .split("token=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap();
        let o = app
            .get(&format!("/api/store/orders/{order}?token={token}"))
            .await;
        assert_eq!(o.status, 200, "{param}: {}", o.body);
    }
    let total = r.body["total"]["amount"].as_i64().unwrap();
    assert_eq!(session(form, false)["amount_total"], total);
    let detail = app
        .state
        .orders
        .get_order(order.parse().unwrap(), &cielo_orders::OrderAccess::Admin)
        .await
        .unwrap();
    assert_eq!(
        detail.payment.session_id.as_deref(),
        Some("cs_test_a1recorded")
    );
    assert_eq!(detail.payment.provider.as_deref(), Some("stripe"));
}

async fn delete_card(app: &TestApp, token: &str, id: &str) -> Reply {
    app.request(
        reqwest::Method::DELETE,
        &format!("/api/store/me/payment-methods/{id}"),
        Some(token),
        None,
    )
    .await
}

#[tokio::test]
async fn a_signed_in_buyers_checkout_names_one_stripe_customer_and_offers_saving_the_card() {
    let recorded = Shared::default();
    let app = stripe_app(&fake_stripe(recorded.clone()).await).await;
    let admin = app.admin_token().await;
    let v = app.create_product(&admin, "Poster", &[("P-1", 1000)]).await["variants"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let alice = app.register("alice@example.com").await;
    let me = app.get_as("/api/store/me", &alice).await.body;
    let account = me["id"].as_str().unwrap().to_string();
    for _ in 0..2 {
        let cart = app.new_cart(Some(&alice)).await;
        app.add_line(&cart, Some(&alice), &v, 1).await;
        let r = app
            .checkout(
                &cart,
                Some(&alice),
                None,
                &checkout_body("alice@example.com"),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let guest_cart = app.new_cart(None).await;
    app.add_line(&guest_cart, None, &v, 1).await;
    let r = app
        .checkout(&guest_cart, None, None, &checkout_body("guest@example.com"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);

    {
        let rec = recorded.lock().unwrap();
        // One customer for the account, however many checkouts.
        assert_eq!(rec.customers.len(), 1, "{:?}", rec.customers);
        let (key, form) = &rec.customers[0];
        assert_eq!(key, &format!("cielo-customer-{account}"));
        assert!(form.contains(&("email".into(), "alice@example.com".into())));
        assert!(form.contains(&("metadata[account_id]".into(), account.clone())));
        let sessions: Vec<&Vec<(String, String)>> = rec.creates.iter().map(|(_, f)| f).collect();
        assert_eq!(sessions.len(), 3);
        for signed_in in &sessions[..2] {
            assert!(signed_in.contains(&("customer".into(), "cus_recorded".into())));
            assert!(signed_in.contains(&(
                "saved_payment_method_options[payment_method_save]".into(),
                "enabled".into()
            )));
            assert!(!signed_in.iter().any(|(k, _)| k == "customer_email"));
        }
        let guest = sessions[2];
        assert!(guest.contains(&("customer_email".into(), "guest@example.com".into())));
        assert!(!guest
            .iter()
            .any(|(k, _)| k == "customer" || k.starts_with("saved_payment")));
    }

    // The card Checkout saved is listed; another customer's is not removable.
    let r = app.get_as("/api/store/me/payment-methods", &alice).await;
    assert_eq!(
        r.body,
        json!({"payment_methods": [{"id": "pm_saved_1", "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034}]})
    );
    delete_card(&app, &alice, "pm_other_1")
        .await
        .assert_problem(404, "payment-method-not-found");
    delete_card(&app, &alice, "pm_missing")
        .await
        .assert_problem(404, "payment-method-not-found");
    assert!(recorded.lock().unwrap().detached.is_empty());
    assert_eq!(delete_card(&app, &alice, "pm_saved_1").await.status, 204);
    assert_eq!(
        recorded.lock().unwrap().detached,
        vec!["pm_saved_1".to_string()]
    );
    let r = app.get_as("/api/store/me/payment-methods", &alice).await;
    assert_eq!(r.body, json!({"payment_methods": []}));
    // An account that never checked out has no cards (Stripe is not asked).
    let bob = app.register("bob@example.com").await;
    let r = app.get_as("/api/store/me/payment-methods", &bob).await;
    assert_eq!(r.body, json!({"payment_methods": []}));

    // Stripe failing: a 502 problem, and the account page says so rather
    // than "no saved cards".
    recorded.lock().unwrap().cards_down = true;
    app.get_as("/api/store/me/payment-methods", &alice)
        .await
        .assert_problem(502, "payment-provider-error");
    let page = app
        .client
        .get(format!("{}/account", app.address))
        .header("cookie", format!("cielo_session={alice}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Your saved cards cannot be shown right now.")
            && !page.contains("No saved cards."),
        "{page}"
    );
}

#[tokio::test]
async fn a_stripe_webhook_signed_with_either_rotated_secret_pays_the_order() {
    let recorded = Shared::default();
    let app = stripe_app(&fake_stripe(recorded.clone()).await).await;
    let r = checkout(&app, "key-2").await;
    let order = r.body["order_id"].as_str().unwrap().to_string();
    let form = recorded.lock().unwrap().creates[0].1.clone();
    let event = json!({"id": "evt_1recorded", "object": "event", "api_version": "2024-06-20", "created": cielo_core::Timestamp::now().as_unix_seconds(),
        "type": "checkout.session.completed", "data": {"object": session(&form, true)}, "livemode": false, "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null}})
    .to_string();
    let header = sign(
        &["whsec_recorded"],
        cielo_core::Timestamp::now().as_unix_seconds(),
        event.as_bytes(),
    );
    let res = app
        .client
        .post(format!("{}/webhooks/stripe", app.address))
        .header("stripe-signature", header)
        .body(event.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // The test provider's endpoint does not take Stripe's events.
    let res = app
        .client
        .post(format!("{}/webhooks/test", app.address))
        .header("stripe-signature", "t=1,v1=00")
        .body(event)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    app.run_pending_jobs().await;
    let detail = app
        .state
        .orders
        .get_order(order.parse().unwrap(), &cielo_orders::OrderAccess::Admin)
        .await
        .unwrap();
    assert_eq!(detail.status.as_str(), "paid");
}

#[tokio::test]
async fn the_recovery_pass_asks_stripe_about_a_waiting_order_and_finds_it_paid() {
    let recorded = Shared::default();
    let app = stripe_app(&fake_stripe(recorded.clone()).await).await;
    let r = checkout(&app, "key-3").await;
    let order = r.body["order_id"].as_str().unwrap().to_string();
    recorded.lock().unwrap().paid = true;
    let report = app
        .state
        .payments
        .as_ref()
        .unwrap()
        .catch_up()
        .await
        .unwrap();
    assert_eq!((report.polled, report.recovered), (1, 1));
    app.run_pending_jobs().await;
    let detail = app
        .state
        .orders
        .get_order(order.parse().unwrap(), &cielo_orders::OrderAccess::Admin)
        .await
        .unwrap();
    assert_eq!(detail.status.as_str(), "paid");
    // Asking again stores nothing new.
    assert_eq!(
        app.state
            .payments
            .as_ref()
            .unwrap()
            .catch_up()
            .await
            .unwrap()
            .recovered,
        0
    );
}

/// A cart with one line of a product priced `amount` minor units of `currency`.
async fn cart_priced(app: &TestApp, amount: i64, currency: &str) -> String {
    let admin = app.admin_token().await;
    let n = uuid::Uuid::new_v4().simple().to_string();
    let p = app
        .post_as("/api/admin/products", &admin, &json!({"title": format!("Print {n}"), "status": "published",
            "variants": [{"sku": format!("PRINT-{n}"), "price": {"amount": amount, "currency": currency}}]}))
        .await;
    assert_eq!(p.status, 201, "{}", p.body);
    let cart = app.new_cart(None).await;
    let line = app
        .add_line(
            &cart,
            None,
            p.body["variants"][0]["id"].as_str().unwrap(),
            1,
        )
        .await;
    assert_eq!(line.status, 200, "{}", line.body);
    cart
}

async fn deliver_paid(app: &TestApp, form: &[(String, String)], amount_total: i64, id: &str) {
    let mut object = session(form, true);
    object["amount_total"] = json!(amount_total);
    let event = json!({"id": id, "object": "event", "api_version": "2024-06-20", "created": cielo_core::Timestamp::now().as_unix_seconds(),
        "type": "checkout.session.completed", "data": {"object": object}, "livemode": false, "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null}})
    .to_string();
    let header = sign(
        &["whsec_recorded"],
        cielo_core::Timestamp::now().as_unix_seconds(),
        event.as_bytes(),
    );
    let res = app
        .client
        .post(format!("{}/webhooks/stripe", app.address))
        .header("stripe-signature", header)
        .body(event)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.run_pending_jobs().await;
}

async fn status(app: &TestApp, order: &str) -> String {
    app.state
        .orders
        .get_order(order.parse().unwrap(), &cielo_orders::OrderAccess::Admin)
        .await
        .unwrap()
        .status
        .as_str()
        .to_string()
}

#[tokio::test]
async fn a_ugx_price_reaches_stripe_as_its_two_decimal_amount_and_an_undercharge_never_pays() {
    let recorded = Shared::default();
    let app = stripe_shop(&fake_stripe(recorded.clone()).await, "UGX").await;
    let cart = cart_priced(&app, 50_000, "UGX").await;
    let r = app
        .checkout(&cart, None, None, &checkout_body("buyer@example.com"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.body["total"],
        json!({"amount": 50_000, "currency": "UGX"})
    );
    let order = r.body["order_id"].as_str().unwrap().to_string();
    let form = recorded.lock().unwrap().creates[0].1.clone();
    let get = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("currency").as_deref(), Some("ugx"));
    assert_eq!(
        get("line_items[0][price_data][unit_amount]").as_deref(),
        Some("5000000"),
        "Stripe reads UGX amounts as two-decimal: 50,000 UGX is 5000000"
    );

    // A session paid for 50000 in Stripe's units is 500 UGX: not a match.
    deliver_paid(&app, &form, 50_000, "evt_ugx_under").await;
    assert_eq!(status(&app, &order).await, "needs_attention");

    // The full amount, in Stripe's units, pays a second order.
    let cart = cart_priced(&app, 50_000, "UGX").await;
    let r = app
        .checkout(&cart, None, None, &checkout_body("buyer@example.com"))
        .await;
    let order = r.body["order_id"].as_str().unwrap().to_string();
    let form = recorded.lock().unwrap().creates[1].1.clone();
    deliver_paid(&app, &form, 5_000_000, "evt_ugx_full").await;
    assert_eq!(status(&app, &order).await, "paid");
}

#[tokio::test]
async fn an_amount_stripe_cannot_take_is_refused_at_checkout_and_nothing_is_sent() {
    let recorded = Shared::default();
    let app = stripe_shop(&fake_stripe(recorded.clone()).await, "KWD").await;
    // 5.124 KWD: Stripe takes three-decimal amounts only when the last digit is 0.
    let cart = cart_priced(&app, 5_124, "KWD").await;
    let r = app
        .checkout(&cart, None, None, &checkout_body("buyer@example.com"))
        .await;
    r.assert_problem(422, "amount-not-payable");
    assert!(
        r.body["detail"].as_str().unwrap().contains("5.124 KWD"),
        "{}",
        r.body
    );
    assert!(recorded.lock().unwrap().creates.is_empty());
    let orders = app
        .get_as("/api/admin/orders", &app.admin_token().await)
        .await;
    assert_eq!(
        orders.body["orders"].as_array().map(Vec::len),
        Some(0),
        "{}",
        orders.body
    );
    // 5.120 KWD is fine.
    let cart = cart_priced(&app, 5_120, "KWD").await;
    let r = app
        .checkout(&cart, None, None, &checkout_body("buyer@example.com"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[tokio::test]
async fn a_shop_can_start_in_any_iso_currency() {
    let recorded = Shared::default();
    let app = stripe_shop(&fake_stripe(recorded.clone()).await, "NGN").await;
    let cart = cart_priced(&app, 150_000, "NGN").await;
    let r = app
        .checkout(&cart, None, None, &checkout_body("buyer@example.com"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let form = recorded.lock().unwrap().creates[0].1.clone();
    assert!(form.contains(&(
        "line_items[0][price_data][unit_amount]".to_string(),
        "150000".to_string()
    )));
}

#[tokio::test]
async fn the_providers_own_words_stay_in_the_log() {
    let recorded = Shared::default();
    recorded.lock().unwrap().refuse_with =
        Some("Invalid API Key provided: sk_test_****cord (acct_1SECRETACCOUNT)".into());
    let app = stripe_app(&fake_stripe(recorded.clone()).await).await;
    let cart = cart_priced(&app, 1_000, "USD").await;
    let r = app
        .checkout(&cart, None, None, &checkout_body("buyer@example.com"))
        .await;
    assert!(r.status.is_client_error() || r.status.is_server_error());
    assert_eq!(
        r.headers["content-type"], "application/problem+json",
        "{}",
        r.body
    );
    assert_eq!(r.body["type"], "urn:cielo:problem:payment-provider-error");
    let text = r.body.to_string();
    for secret in [
        "Invalid API Key",
        "acct_1SECRETACCOUNT",
        "stripe",
        "parameter",
    ] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    assert_eq!(
        r.body["detail"],
        "the payment could not be started; please try again in a few minutes or contact the shop"
    );
}
