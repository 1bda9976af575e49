//! After payment: every paid order moves on without anyone touching it —
//! through the built-in local lab to `delivered`, through a (fake) Printful,
//! or, for goods the shop ships itself, to `shipped` when the shop says so.

use crate::helpers::*;
use cielo::app::Role;
use cielo::settings::Secrets;
use cielo::Settings;
use cielo_fulfillment::testing::FakePrintful;
use serde_json::{json, Value};
use std::time::Duration;

/// Hold nothing back and let the local lab walk an order through in seconds.
fn quick_labs(s: &mut Settings) {
    s.payments.catch_up_on_start = false;
    s.fulfillment.hold_minutes = 0;
    s.fulfillment.local.in_production_after_secs = 0;
    s.fulfillment.local.shipped_after_secs = 1;
    s.fulfillment.local.delivered_after_secs = 1;
}

/// Pays `order` on the test provider's checkout page, as a buyer would.
async fn pay(app: &TestApp, admin: &str, order: &str) {
    app.pay_on_test_page(admin, order).await;
}

async fn order_of(app: &TestApp, admin: &str, order: &str) -> Value {
    app.get_as(&format!("/api/admin/orders/{order}"), admin)
        .await
        .body
}

/// Polls (a worker runs in the app) until the order has `status`.
async fn wait_for(app: &TestApp, admin: &str, order: &str, status: &str) -> Value {
    for _ in 0..300 {
        let o = order_of(app, admin, order).await;
        if o["status"] == status {
            return o;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "order {order} never became {status}: {}",
        order_of(app, admin, order).await
    );
}

/// Runs the queue (API-only app) until the order has `status`.
async fn drain_until(app: &TestApp, admin: &str, order: &str, status: &str) -> Value {
    for _ in 0..100 {
        app.run_pending_jobs().await;
        let o = order_of(app, admin, order).await;
        if o["status"] == status {
            return o;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "order {order} never became {status}: {}",
        order_of(app, admin, order).await
    );
}

fn statuses(order: &Value) -> Vec<String> {
    order["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["to"].as_str().unwrap().to_string())
        .collect()
}

async fn demo_variant(app: &TestApp, handle: &str) -> String {
    app.get(&format!("/api/store/products/{handle}")).await.body["variants"][0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The demo star-map poster's cheapest printed variant (not the digital download).
async fn smallest_printed_poster(app: &TestApp) -> String {
    let poster = app
        .get("/api/store/products/personalised-star-map-poster")
        .await
        .body;
    poster["variants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["delivery"] == "physical")
        .min_by_key(|v| v["price"]["amount"].as_i64().unwrap())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Checks out one of each variant; returns (order id, access token).
async fn buy(app: &TestApp, variants: &[&str]) -> (String, String) {
    let cart = app.new_cart(None).await;
    for v in variants {
        let r = app.add_line(&cart, None, v, 1).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = app
        .checkout(&cart, None, None, &checkout_body("ana@example.com"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    (
        r.body["order_id"].as_str().unwrap().to_string(),
        r.body["access_token"].as_str().unwrap().to_string(),
    )
}

async fn lab_orders(app: &TestApp, admin: &str, order: &str) -> Vec<Value> {
    let r = app
        .get_as(&format!("/api/admin/orders/{order}/lab-orders"), admin)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body.as_array().unwrap().clone()
}

async fn assert_delivered_by_the_local_lab(app: &TestApp, admin: &str, order: &str, token: &str) {
    let done = wait_for(app, admin, order, "delivered").await;
    assert_eq!(
        statuses(&done),
        [
            "pending_payment",
            "paid",
            "in_production",
            "shipped",
            "delivered"
        ],
        "{done}"
    );
    let shipments = done["shipments"].as_array().unwrap();
    assert_eq!(shipments.len(), 1, "{done}");
    assert_eq!(shipments[0]["shipped_by"], "local");
    assert!(
        !shipments[0]["tracking_number"].as_str().unwrap().is_empty(),
        "{done}"
    );
    let lines: Vec<&Value> = done["lines"].as_array().unwrap().iter().collect();
    assert_eq!(
        shipments[0]["line_ids"].as_array().unwrap().len(),
        lines.len(),
        "every line is in the parcel"
    );
    // Exactly one lab order, and the buyer sees the same tracking.
    let labs = lab_orders(app, admin, order).await;
    assert_eq!(labs.len(), 1, "{labs:?}");
    assert_eq!(labs[0]["lab"], "local");
    assert_eq!(labs[0]["stage"], "delivered");
    let mine = app
        .get(&format!("/api/store/orders/{order}?token={token}"))
        .await
        .body;
    assert_eq!(mine["status"], "delivered");
    assert_eq!(
        mine["shipments"][0]["tracking_number"],
        shipments[0]["tracking_number"]
    );
}

#[tokio::test]
async fn a_demo_order_paid_on_the_test_page_reaches_delivered_through_the_local_lab_untouched() {
    let app = spawn_with_secrets(true, Role::All, quick_labs, Secrets::default()).await;
    let admin = app.admin_token().await;
    let mug = demo_variant(&app, "star-chart-mug").await;
    let (order, token) = buy(&app, &[&mug]).await;

    pay(&app, &admin, &order).await;

    assert_delivered_by_the_local_lab(&app, &admin, &order, &token).await;

    // The shop owner reads its life on a terminal.
    let done = order_of(&app, &admin, &order).await;
    let tracking = done["shipments"][0]["tracking_number"].as_str().unwrap();
    let lab_order = lab_orders(&app, &admin, &order).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cielo"))
        .args([
            "--data-dir",
            app.data_dir().to_str().unwrap(),
            "orders",
            "show",
            &order,
        ])
        .env("CIELO_DATABASE_URL", app.database_url())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A command that only reads prints its output, no server logs.
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "stderr");
    for needle in [
        order.as_str(),
        "paid → in_production",
        "shipped → delivered",
        lab_order.as_str(),
        tracking,
        "Lab orders",
        "Shipments",
    ] {
        assert!(text.contains(needle), "`{needle}` missing from:\n{text}");
    }
}

/// The count of `cielo_order_paid_to_lab_seconds{lab="local"}` in `/metrics`
/// (0 before the first observation). The recorder is the process's: other
/// tests running at the same time may add to it, never take away.
async fn paid_to_lab_count(app: &TestApp) -> u64 {
    let text = app.get("/metrics").await.body;
    let text = text.as_str().unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(r#"cielo_order_paid_to_lab_seconds_count{lab="local"} "#))
        .map(|n| n.trim().parse().unwrap())
        .unwrap_or(0)
}

#[tokio::test]
async fn the_time_from_paid_to_the_lab_is_observed_when_the_lab_accepts_the_order() {
    let app = spawn_with_secrets(true, Role::All, quick_labs, Secrets::default()).await;
    let admin = app.admin_token().await;
    let mug = demo_variant(&app, "star-chart-mug").await;
    let (order, _) = buy(&app, &[&mug]).await;
    let before = paid_to_lab_count(&app).await;

    pay(&app, &admin, &order).await;
    wait_for(&app, &admin, &order, "in_production").await;
    let mut after = before;
    for _ in 0..300 {
        after = paid_to_lab_count(&app).await;
        if after > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(after > before, "observed {before}, then still {after}");
    let labs = lab_orders(&app, &admin, &order).await;
    assert_ne!(labs[0]["stage"], "planned", "{labs:?}");
    let text = app.get("/metrics").await.body;
    let text = text.as_str().unwrap();
    assert!(
        text.contains(r#"cielo_order_paid_to_lab_seconds_bucket{lab="local",le="+Inf"}"#),
        "a Prometheus histogram: {text}"
    );
}

#[tokio::test]
async fn the_whole_paid_order_path_runs_on_a_pool_of_one_connection() {
    // A read through the pool while a write transaction holds the only
    // connection would wait out the acquire timeout and fail.
    let app = spawn_with_secrets(
        true,
        Role::All,
        |s| {
            quick_labs(s);
            s.database.max_connections = 1;
        },
        Secrets::default(),
    )
    .await;
    let admin = app.admin_token().await;
    let small = smallest_printed_poster(&app).await;
    let mug = demo_variant(&app, "star-chart-mug").await;
    let cart = app.new_cart(None).await;
    let r = app
        .post(
            &format!("/api/store/carts/{cart}/lines"),
            &json!({"variant_id": small, "quantity": 1, "options": {"lat": 40.4168, "lon": -3.7038, "date": "2024-08-13", "time": "00:30", "tz": "Europe/Madrid", "title": "Una noche"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    app.add_line(&cart, None, &mug, 1).await;
    let r = app
        .checkout(&cart, None, None, &checkout_body("ana@example.com"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let order = r.body["order_id"].as_str().unwrap().to_string();
    let token = r.body["access_token"].as_str().unwrap().to_string();

    pay(&app, &admin, &order).await;

    assert_delivered_by_the_local_lab(&app, &admin, &order, &token).await;
    let done = order_of(&app, &admin, &order).await;
    let star = done["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["product_type"] == "starmap_poster")
        .unwrap()
        .clone();
    assert!(star["artwork"]["sha256"].is_string(), "{star}");
    // The lab was given the print file.
    let labs = lab_orders(&app, &admin, &order).await;
    let item = labs[0]["request"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["line_id"] == star["id"])
        .unwrap()
        .clone();
    assert!(
        item["print_file_url"]
            .as_str()
            .unwrap()
            .contains("signature="),
        "{item}"
    );

    // Unpaid orders expire through the same single connection.
    let (unpaid, _) = buy(&app, &[&mug]).await;
    let cancelled = app
        .state
        .orders
        .expire_unpaid(cielo_core::Timestamp::now().plus_seconds(60))
        .await
        .expect("expiry runs on one connection");
    assert_eq!(cancelled, 1);
    assert_eq!(order_of(&app, &admin, &unpaid).await["status"], "cancelled");
}

#[tokio::test]
async fn a_line_without_a_lab_waits_for_the_shop_to_mark_it_shipped() {
    let app = spawn_app_with(false, |s| s.payments.catch_up_on_start = false).await;
    let admin = app.admin_token().await;
    let product = app
        .create_product(&admin, "Hand-made frame", &[("FRAME-1", 2500)])
        .await;
    assert!(product["variants"][0]["lab"].is_null(), "{product}");
    let variant = product["variants"][0]["id"].as_str().unwrap().to_string();
    let (order, token) = buy(&app, &[&variant]).await;

    pay(&app, &admin, &order).await;
    let paid = drain_until(&app, &admin, &order, "paid").await;
    for _ in 0..3 {
        app.run_pending_jobs().await;
    }

    // Nothing for a lab: no lab order, and it waits.
    assert_eq!(order_of(&app, &admin, &order).await["status"], "paid");
    assert!(lab_orders(&app, &admin, &order).await.is_empty());
    let line = paid["lines"][0]["id"].as_str().unwrap().to_string();

    // Refused: a line that is not this order's.
    let path = format!("/api/admin/orders/{order}/shipments");
    app.post_as(
        &path,
        &admin,
        &json!({"carrier": "Correos", "tracking_number": "PK123", "line_ids": ["oli_00000000000000000000000000000000"]}),
    )
    .await
    .assert_problem(422, "validation-failed");
    // Customers cannot.
    let someone = app.register("someone@example.com").await;
    assert_eq!(
        app.post_as(
            &path,
            &someone,
            &json!({"carrier": "Correos", "tracking_number": "PK123"})
        )
        .await
        .status,
        403
    );

    let shipped = app
        .post_as(
            &path,
            &admin,
            &json!({"carrier": "Correos", "service": "Paq Premium", "tracking_number": "PK123ES", "tracking_url": "https://www.correos.es/track?n=PK123ES"}),
        )
        .await;
    assert_eq!(shipped.status, 200, "{}", shipped.body);
    assert_eq!(shipped.body["status"], "shipped");
    let s = &shipped.body["shipments"][0];
    assert_eq!(s["carrier"], "Correos");
    assert_eq!(s["tracking_number"], "PK123ES");
    assert_eq!(s["shipped_by"], "shop");
    assert_eq!(s["line_ids"], json!([line]));
    let mine = app
        .get(&format!("/api/store/orders/{order}?token={token}"))
        .await
        .body;
    assert_eq!(mine["shipments"][0]["tracking_number"], "PK123ES");

    // Nothing left to ship.
    app.post_as(
        &path,
        &admin,
        &json!({"carrier": "Correos", "tracking_number": "PK999"}),
    )
    .await
    .assert_problem(422, "validation-failed");

    let delivered = app
        .post_as(
            &format!("/api/admin/orders/{order}/delivered"),
            &admin,
            &json!({}),
        )
        .await;
    assert_eq!(delivered.status, 200, "{}", delivered.body);
    assert_eq!(
        statuses(&delivered.body),
        ["pending_payment", "paid", "shipped", "delivered"]
    );
    assert_eq!(delivered.body["shipments"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_variant_names_its_lab_on_create_and_patch() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let r = app
        .post_as(
            "/api/admin/products",
            &admin,
            &json!({"title": "Tee", "status": "published", "variants": [
                {"sku": "TEE-1", "price": {"amount": 2000, "currency": "USD"}, "lab": "printful", "lab_product_id": "4012"}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let v = r.body["variants"][0].clone();
    assert_eq!(v["lab"], "printful");
    let id = v["id"].as_str().unwrap();
    let path = format!("/api/admin/variants/{id}");
    let r = app
        .request(
            reqwest::Method::PATCH,
            &path,
            Some(&admin),
            Some(&json!({"lab": "prodigi", "lab_product_id": "GLOBAL-FAP-16X24"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["lab"], "prodigi");
    let r = app
        .request(
            reqwest::Method::PATCH,
            &path,
            Some(&admin),
            Some(&json!({"lab": "gelato"})),
        )
        .await;
    r.assert_problem(422, "validation-failed");
    assert_eq!(r.pointers(), ["#/lab"]);
    let r = app
        .request(
            reqwest::Method::PATCH,
            &path,
            Some(&admin),
            Some(&json!({"lab": null})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["lab"].is_null());
}

#[tokio::test]
async fn the_buyer_fixes_the_address_during_the_edit_window_and_not_after() {
    // The default edit window: 30 minutes.
    let app = spawn_with_secrets(
        true,
        Role::Api,
        |s| s.payments.catch_up_on_start = false,
        Secrets::default(),
    )
    .await;
    let admin = app.admin_token().await;
    let mug = demo_variant(&app, "star-chart-mug").await;
    let (order, token) = buy(&app, &[&mug]).await;
    pay(&app, &admin, &order).await;
    drain_until(&app, &admin, &order, "in_production").await;
    let labs = lab_orders(&app, &admin, &order).await;
    assert_eq!(labs.len(), 1);
    assert_eq!(labs[0]["stage"], "planned", "held for the edit window");

    let mut fixed = address();
    fixed["line1"] = json!("13 St James's Square");
    let path = format!("/api/store/orders/{order}?token={token}");
    let r = app
        .request(
            reqwest::Method::PATCH,
            &path,
            None,
            Some(&json!({"shipping_address": fixed})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["shipping_address"]["line1"], "13 St James's Square");
    let labs = lab_orders(&app, &admin, &order).await;
    assert_eq!(
        labs[0]["request"]["recipient"]["line1"], "13 St James's Square",
        "the lab gets the corrected address"
    );
    // Without the token: not found.
    app.request(
        reqwest::Method::PATCH,
        &format!("/api/store/orders/{order}?token=oat_wrong"),
        None,
        Some(&json!({"shipping_address": address()})),
    )
    .await
    .assert_problem(404, "order-not-found");
    // A bad address changes nothing.
    let mut bad = address();
    bad["city"] = json!("");
    app.request(
        reqwest::Method::PATCH,
        &path,
        None,
        Some(&json!({"shipping_address": bad})),
    )
    .await
    .assert_problem(422, "validation-failed");
    // So does a country the shop does not ship to.
    let mut abroad = address();
    abroad["country"] = json!("RU");
    let r = app
        .request(
            reqwest::Method::PATCH,
            &path,
            None,
            Some(&json!({"shipping_address": abroad})),
        )
        .await;
    r.assert_problem(422, "validation-failed");
    assert_eq!(r.pointers(), vec!["#/shipping_address/country"]);
    let o = app.get(&path).await;
    assert_eq!(o.body["shipping_address"]["country"], "GB");

    // Once it has shipped: too late, with a clear problem.
    app.state
        .orders
        .transition_now(
            order.parse().unwrap(),
            cielo_orders::OrderStatus::Shipped,
            "test: shipped",
        )
        .await
        .unwrap();
    app.request(
        reqwest::Method::PATCH,
        &path,
        None,
        Some(&json!({"shipping_address": address()})),
    )
    .await
    .assert_problem(409, "order-too-late-to-change");
}

#[tokio::test]
async fn an_order_goes_to_a_fake_printful_once_and_ships_on_its_webhook() {
    let printful = FakePrintful::start("pf-secret-token").await;
    let secrets = Secrets {
        labs: cielo_fulfillment::LabSecrets {
            printful_api_token: Some("pf-secret-token".into()),
            printful_webhook_token: Some("whk-printful-0123456789".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let base = printful.url.clone();
    let app = spawn_with_secrets(
        false,
        Role::Api,
        move |s| {
            s.payments.catch_up_on_start = false;
            s.fulfillment.hold_minutes = 0;
            s.fulfillment.printful_api_base = base;
        },
        secrets,
    )
    .await;
    let admin = app.admin_token().await;
    let r = app
        .post_as(
            "/api/admin/products",
            &admin,
            &json!({"title": "Tee", "status": "published", "variants": [
                {"sku": "TEE-1", "price": {"amount": 2000, "currency": "USD"}, "lab": "printful", "lab_product_id": "4012"}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let variant = r.body["variants"][0]["id"].as_str().unwrap().to_string();
    let (order, token) = buy(&app, &[&variant]).await;
    pay(&app, &admin, &order).await;
    drain_until(&app, &admin, &order, "in_production").await;
    for _ in 0..5 {
        app.run_pending_jobs().await;
    }
    assert_eq!(printful.orders_for(&order), 1, "exactly one Printful order");
    let external = cielo_fulfillment::printful_external_id(&order, 0);
    let labs = lab_orders(&app, &admin, &order).await;
    assert_eq!(labs.len(), 1);
    assert_eq!(labs[0]["lab"], "printful");
    assert_eq!(labs[0]["external_ref"], external.as_str());

    // Printful ships and says so (twice: webhooks are hints, duplicates change nothing).
    printful.ship(&external, 77, "9400111899223197428490", false);
    let body = printful.webhook("package_shipped", &external, None);
    for _ in 0..2 {
        let r = app
            .client
            .post(format!(
                "{}/webhooks/printful?token=whk-printful-0123456789",
                app.address
            ))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let shipped = drain_until(&app, &admin, &order, "shipped").await;
    let shipments = shipped["shipments"].as_array().unwrap();
    assert_eq!(shipments.len(), 1, "{shipped}");
    assert_eq!(shipments[0]["tracking_number"], "9400111899223197428490");
    assert_eq!(shipments[0]["carrier"], "USPS");
    assert_eq!(shipments[0]["shipped_by"], "printful");
    let mine = app
        .get(&format!("/api/store/orders/{order}?token={token}"))
        .await
        .body;
    assert_eq!(
        mine["shipments"][0]["tracking_number"],
        "9400111899223197428490"
    );
    assert_eq!(printful.orders_for(&order), 1);

    // A wrong token is no route at all.
    let r = app
        .client
        .post(format!("{}/webhooks/printful?token=whk-wrong", app.address))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn with_lab_shipping_the_checkout_charges_the_labs_quote_and_the_flat_rate_when_it_is_slow() {
    let printful = FakePrintful::start("pf-secret-token").await;
    printful.set_rate("7.25", None);
    let secrets = Secrets {
        labs: cielo_fulfillment::LabSecrets {
            printful_api_token: Some("pf-secret-token".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let base = printful.url.clone();
    let app = spawn_with_secrets(
        false,
        Role::Api,
        move |s| {
            s.payments.catch_up_on_start = false;
            s.shipping.source = "lab".into();
            s.fulfillment.printful_api_base = base;
            s.fulfillment.quote_timeout_ms = 300;
            s.fulfillment.quote_cache_secs = 0;
        },
        secrets,
    )
    .await;
    let admin = app.admin_token().await;
    let r = app
        .post_as(
            "/api/admin/products",
            &admin,
            &json!({"title": "Tee", "status": "published", "variants": [
                {"sku": "TEE-1", "price": {"amount": 2000, "currency": "USD"}, "lab": "printful", "lab_product_id": "4012"},
                {"sku": "TEE-2", "price": {"amount": 2000, "currency": "USD"}}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let tee = r.body["variants"][0]["id"].as_str().unwrap().to_string();
    let own = r.body["variants"][1]["id"].as_str().unwrap().to_string();
    let shipping_of = |order: Value| order["totals"]["shipping"]["amount"].as_i64().unwrap();

    // Printful's STANDARD rate for the cart, to GB.
    let (order, _) = buy(&app, &[&tee]).await;
    let o = order_of(&app, &admin, &order).await;
    assert_eq!(shipping_of(o.clone()), 725, "{o}");
    assert_eq!(o["totals"]["total"]["amount"], 2000 + 725);
    assert!(printful.calls().quote >= 1);

    // A line the shop ships itself: no lab quote covers it, the flat rate.
    let (order, _) = buy(&app, &[&tee, &own]).await;
    assert_eq!(shipping_of(order_of(&app, &admin, &order).await), 1500);

    // Printful slower than the quote timeout: the flat rate (default for GB).
    printful.set_rate("7.25", Some(Duration::from_secs(2)));
    let (order, _) = buy(&app, &[&tee]).await;
    assert_eq!(shipping_of(order_of(&app, &admin, &order).await), 1500);
}

#[tokio::test]
async fn a_lab_refusal_needs_attention_and_the_shop_resubmits_to_a_corrected_address() {
    let printful = FakePrintful::start("pf-secret-token").await;
    let secrets = Secrets {
        labs: cielo_fulfillment::LabSecrets {
            printful_api_token: Some("pf-secret-token".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let base = printful.url.clone();
    let app = spawn_with_secrets(
        false,
        Role::Api,
        move |s| {
            s.payments.catch_up_on_start = false;
            s.fulfillment.hold_minutes = 0;
            s.fulfillment.printful_api_base = base;
        },
        secrets,
    )
    .await;
    let admin = app.admin_token().await;
    let r = app
        .post_as(
            "/api/admin/products",
            &admin,
            &json!({"title": "Tee", "status": "published", "variants": [
                {"sku": "TEE-1", "price": {"amount": 2000, "currency": "USD"}, "lab": "printful", "lab_product_id": "4012"}]}),
        )
        .await;
    let variant = r.body["variants"][0]["id"].as_str().unwrap().to_string();
    let cart = app.new_cart(None).await;
    app.add_line(&cart, None, &variant, 1).await;
    let mut bad = address();
    bad["line1"] = json!("1 INVALID Street");
    let r = app
        .checkout(
            &cart,
            None,
            None,
            &json!({"email": "ana@example.com", "shipping_address": bad}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let order = r.body["order_id"].as_str().unwrap().to_string();
    pay(&app, &admin, &order).await;

    // Printful refuses the address: a person must look, and sees why.
    let o = drain_until(&app, &admin, &order, "needs_attention").await;
    let why = o["history"].as_array().unwrap().last().unwrap()["cause"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(why.contains("Recipient address is invalid"), "{why}");
    let labs = lab_orders(&app, &admin, &order).await;
    assert_eq!(labs[0]["stage"], "refused");
    let lab_order = labs[0]["id"].as_str().unwrap().to_string();
    // The shop fixes the address and sends it again.
    let resubmit = format!("/api/admin/orders/{order}/lab-orders/{lab_order}/resubmit");
    let r = app
        .post_as(
            &resubmit,
            &admin,
            &json!({"shipping_address": address(), "note": "typo in the street"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["order"]["status"], "in_production");
    assert_eq!(
        r.body["order"]["shipping_address"]["line1"],
        "12 St James's Square"
    );
    for _ in 0..5 {
        app.run_pending_jobs().await;
    }
    let labs = lab_orders(&app, &admin, &order).await;
    assert_eq!(labs.len(), 1, "the same lab order, sent again");
    assert_eq!(labs[0]["generation"], 1);
    assert_eq!(labs[0]["stage"], "submitted", "{}", labs[0]);
    assert_eq!(printful.orders_for(&order), 1, "one order at Printful");
    let external = cielo_fulfillment::printful_external_id(&order, 1);
    assert!(
        printful.order(&external).is_some(),
        "sent under a new external id"
    );
    app.post_as(
        &format!("/api/admin/orders/{order}/resolve"),
        &admin,
        &json!({"status": "in_production"}),
    )
    .await
    .assert_problem(409, "order-wrong-state");

    // Cancelled at the lab by the shop.
    let r = app
        .post_as(
            &format!("/api/admin/orders/{order}/lab-orders/{lab_order}/cancel"),
            &admin,
            &json!({"note": "customer changed their mind"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["lab_orders"][0]["stage"], "cancelled");
    // A lab order of another order is not found here.
    app.post_as(
        &format!(
            "/api/admin/orders/ord_{}/lab-orders/{lab_order}/cancel",
            "0".repeat(32)
        ),
        &admin,
        &json!({}),
    )
    .await
    .assert_problem(404, "lab-order-not-found");
}

#[tokio::test]
async fn the_buyer_fixes_a_posters_title_during_the_edit_window_and_it_is_rendered_again() {
    let app = spawn_with_secrets(
        true,
        Role::Api,
        |s| s.payments.catch_up_on_start = false,
        Secrets::default(),
    )
    .await;
    let admin = app.admin_token().await;
    let small = smallest_printed_poster(&app).await;
    let options = json!({"lat": 40.4168, "lon": -3.7038, "date": "2024-08-13", "time": "00:30", "tz": "Europe/Madrid", "title": "Nuestra nohce"});
    let cart = app.new_cart(None).await;
    let r = app
        .post(
            &format!("/api/store/carts/{cart}/lines"),
            &json!({"variant_id": small, "quantity": 1, "options": options}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .checkout(&cart, None, None, &checkout_body("ana@example.com"))
        .await;
    let order = r.body["order_id"].as_str().unwrap().to_string();
    let token = r.body["access_token"].as_str().unwrap().to_string();
    pay(&app, &admin, &order).await;
    let o = drain_until(&app, &admin, &order, "in_production").await;
    let line = o["lines"][0]["id"].as_str().unwrap().to_string();
    let first = o["lines"][0]["artwork"]["sha256"]
        .as_str()
        .unwrap()
        .to_string();

    let mut fixed = options.clone();
    fixed["title"] = json!("Nuestra noche");
    let path = format!("/api/store/orders/{order}?token={token}");
    let r = app
        .request(
            reqwest::Method::PATCH,
            &path,
            None,
            Some(&json!({"lines": [{"line_id": line, "options": fixed}]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["lines"][0]["options"]["title"], "Nuestra noche");
    // Options are validated as at checkout.
    let mut wrong = options.clone();
    wrong["lat"] = json!(123.0);
    app.request(
        reqwest::Method::PATCH,
        &path,
        None,
        Some(&json!({"lines": [{"line_id": line, "options": wrong}]})),
    )
    .await
    .assert_problem(422, "validation-failed");
    // A new address sent with a refused title is refused with it, and
    // written nowhere: not on the order, not on the lab's copy.
    let before = lab_orders(&app, &admin, &order).await[0]["request"]["recipient"].clone();
    let mut address = o["shipping_address"].clone();
    address["city"] = json!("Sevilla");
    let mut too_long = options.clone();
    too_long["title"] = json!("x".repeat(300));
    app.request(
        reqwest::Method::PATCH,
        &path,
        None,
        Some(&json!({"shipping_address": address, "lines": [{"line_id": line, "options": too_long}]})),
    )
    .await
    .assert_problem(422, "validation-failed");
    let o = order_of(&app, &admin, &order).await;
    assert_ne!(o["shipping_address"]["city"], "Sevilla");
    assert_eq!(
        lab_orders(&app, &admin, &order).await[0]["request"]["recipient"],
        before
    );

    for _ in 0..3 {
        app.run_pending_jobs().await;
    }
    let o = order_of(&app, &admin, &order).await;
    let again = o["lines"][0]["artwork"]["sha256"].as_str().unwrap();
    assert_ne!(again, first, "the poster is rendered with the new title");
    assert_eq!(o["status"], "in_production");
    let labs = lab_orders(&app, &admin, &order).await;
    assert_eq!(labs.len(), 1);
    assert_eq!(labs[0]["stage"], "planned");
}

#[tokio::test]
async fn a_paid_order_whose_next_step_was_lost_is_moved_on_by_the_catch_up() {
    let app = spawn_with_secrets(
        true,
        Role::Api,
        |s| s.payments.catch_up_on_start = false,
        Secrets::default(),
    )
    .await;
    let admin = app.admin_token().await;
    let mug = demo_variant(&app, "star-chart-mug").await;
    let (order, _) = buy(&app, &[&mug]).await;
    // Paid, but its `order.paid` event is lost before anyone heard of it
    // (as if the process died between the commit and the dispatch).
    app.state
        .orders
        .transition_now(
            order.parse().unwrap(),
            cielo_orders::OrderStatus::Paid,
            "test payment",
        )
        .await
        .unwrap();
    cielo_db::sqlx::query("delete from jobs_event")
        .execute(app.state.db.pool())
        .await
        .unwrap();
    app.run_pending_jobs().await;
    assert_eq!(order_of(&app, &admin, &order).await["status"], "paid");
    assert!(lab_orders(&app, &admin, &order).await.is_empty());

    let flows = app.state.flows.as_ref().unwrap();
    let looked_at = flows
        .catch_up_before(cielo_core::Timestamp::now().plus_seconds(1))
        .await
        .unwrap();
    assert_eq!(looked_at, 1);
    let o = order_of(&app, &admin, &order).await;
    assert_eq!(o["status"], "in_production", "{o}");
    assert_eq!(lab_orders(&app, &admin, &order).await.len(), 1);
    // Again: nothing more happens.
    flows
        .catch_up_before(cielo_core::Timestamp::now().plus_seconds(1))
        .await
        .unwrap();
    assert_eq!(lab_orders(&app, &admin, &order).await.len(), 1);
    assert_eq!(
        order_of(&app, &admin, &order).await["history"]
            .as_array()
            .unwrap()
            .len(),
        o["history"].as_array().unwrap().len()
    );
}

/// The order page as a browser sees it (no redirects followed).
async fn page(app: &TestApp, path: &str, cookie: &str) -> (u16, String, String) {
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}{path}", app.address))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let csrf = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("cielo_csrf="))
        .map(|c| c.split(';').next().unwrap().to_string())
        .unwrap_or_default();
    (status, csrf, r.text().await.unwrap())
}

#[tokio::test]
async fn the_order_page_says_an_order_waits_in_its_edit_window_and_the_buyer_fixes_it_there() {
    let app = spawn_with_secrets(
        true,
        Role::Api,
        |s| s.payments.catch_up_on_start = false,
        Secrets::default(),
    )
    .await;
    let admin = app.admin_token().await;
    let mug = demo_variant(&app, "star-chart-mug").await;
    let (order, token) = buy(&app, &[&mug]).await;
    pay(&app, &admin, &order).await;
    drain_until(&app, &admin, &order, "in_production").await;

    // The API tells the buyer until when the order can change.
    let o = app
        .get(&format!("/api/store/orders/{order}?token={token}"))
        .await;
    let until = o.body["edit_until"].as_str().expect("an edit window");
    let labs = lab_orders(&app, &admin, &order).await;
    assert_eq!(
        cielo_core::Timestamp::parse_rfc3339(until).unwrap(),
        cielo_core::Timestamp::parse_rfc3339(labs[0]["hold_until"].as_str().unwrap()).unwrap()
    );
    // The page names the status as every list does ("In production"), says
    // under it that the order waits for the lab, and offers the fix.
    let (status, csrf, body) = page(&app, &format!("/orders/{order}?token={token}"), "").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("<span class=\"status s-in_production\">In production</span></p>\n<p class=\"muted status-note\">Waiting to go to the print lab.</p>"),
        "{body}"
    );
    // It says until when, in words a buyer reads as a deadline.
    assert!(
        body.contains(&format!(
            "correct the shipping address until <time datetime=\"{until}\">"
        )),
        "{body}"
    );
    assert!(body.contains("Then your order goes to the print lab."));
    assert!(body.contains(&format!("action=\"/orders/{order}/amend\"")));

    // A mistake is shown beside its field and changes nothing.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let post = |form: Vec<(&'static str, String)>| {
        let client = client.clone();
        let url = format!("{}/orders/{order}/amend", app.address);
        let cookie = format!("cielo_csrf={csrf}");
        async move {
            let r = client
                .post(url)
                .header("cookie", cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(serde_urlencoded::to_string(&form).unwrap())
                .send()
                .await
                .unwrap();
            let location = r
                .headers()
                .get("location")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            (r.status().as_u16(), location, r.text().await.unwrap())
        }
    };
    let mut form = vec![
        ("_csrf", csrf.clone()),
        ("token", token.clone()),
        ("name", "Ana Buyer".to_string()),
        ("line1", "13 St James's Square".to_string()),
        ("city", String::new()),
        ("postal_code", "SW1Y 4JH".to_string()),
        ("country", "GB".to_string()),
    ];
    let (status, _, body) = post(form.clone()).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains(r#"id="e-city""#), "{body}");
    let before = order_of(&app, &admin, &order).await;
    assert_ne!(before["shipping_address"]["line1"], "13 St James's Square");
    form[4].1 = "London".into();
    let (status, location, body) = post(form).await;
    assert_eq!(status, 303, "{body}");
    assert!(location.contains("saved=1"), "{location}");
    let after = order_of(&app, &admin, &order).await;
    assert_eq!(after["shipping_address"]["line1"], "13 St James's Square");
    let labs = lab_orders(&app, &admin, &order).await;
    assert_eq!(
        labs[0]["request"]["recipient"]["line1"],
        "13 St James's Square"
    );

    // The admin's order list filters by lab; a refund keeps its reason.
    let local = app.get_as("/api/admin/orders?lab=local", &admin).await;
    assert_eq!(local.status, 200, "{}", local.body);
    assert!(local.body["orders"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["id"] == order.as_str()));
    let printful = app.get_as("/api/admin/orders?lab=printful", &admin).await;
    assert_eq!(printful.body["orders"].as_array().unwrap().len(), 0);
    app.get_as("/api/admin/orders?lab=elsewhere", &admin)
        .await
        .assert_problem(422, "invalid-query");
    // Once shipped: no window, no form.
    app.state
        .orders
        .transition_now(
            order.parse().unwrap(),
            cielo_orders::OrderStatus::Shipped,
            "test: shipped",
        )
        .await
        .unwrap();
    let o = app
        .get(&format!("/api/store/orders/{order}?token={token}"))
        .await;
    assert!(o.body["edit_until"].is_null(), "{}", o.body);
    let (_, _, body) = page(&app, &format!("/orders/{order}?token={token}"), "").await;
    assert!(!body.contains("/amend\""));
    let r = app
        .post_as(
            &format!("/api/admin/orders/{order}/refunds"),
            &admin,
            &json!({"amount": 100, "reason": "handle chipped in transit"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let o = order_of(&app, &admin, &order).await;
    let causes: Vec<&str> = o["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["cause"].as_str())
        .collect();
    assert!(
        causes
            .iter()
            .any(|c| c.contains("handle chipped in transit") && c.contains("admin:")),
        "{causes:?}"
    );
}

#[tokio::test]
async fn the_buyer_fixes_a_posters_title_on_the_order_page() {
    let app = spawn_with_secrets(
        true,
        Role::Api,
        |s| s.payments.catch_up_on_start = false,
        Secrets::default(),
    )
    .await;
    let admin = app.admin_token().await;
    let poster = app
        .get("/api/store/products/personalised-star-map-poster")
        .await
        .body;
    let variant = poster["variants"][0]["id"].as_str().unwrap().to_string();
    let options = json!({"lat": 40.4168, "lon": -3.7038, "date": "2024-08-13", "time": "00:30", "tz": "Europe/Madrid", "title": "Nuestra nohce"});
    let cart = app.new_cart(None).await;
    let r = app
        .post(
            &format!("/api/store/carts/{cart}/lines"),
            &json!({"variant_id": variant, "quantity": 1, "options": options}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .checkout(&cart, None, None, &checkout_body("ana@example.com"))
        .await;
    let order = r.body["order_id"].as_str().unwrap().to_string();
    let token = r.body["access_token"].as_str().unwrap().to_string();
    pay(&app, &admin, &order).await;
    let o = drain_until(&app, &admin, &order, "in_production").await;
    let line = o["lines"][0]["id"].as_str().unwrap().to_string();
    let (status, csrf, body) = page(&app, &format!("/orders/{order}?token={token}"), "").await;
    assert_eq!(status, 200);
    assert!(body.contains(&format!("name=\"title:{line}\"")), "{body}");
    assert!(body.contains("value=\"Nuestra nohce\""));

    let a = &o["shipping_address"];
    let form = |title: &str| {
        let mut f = vec![
            ("_csrf".to_string(), csrf.clone()),
            ("token".to_string(), token.clone()),
            (format!("title:{line}"), title.to_string()),
        ];
        for k in [
            "name",
            "line1",
            "line2",
            "city",
            "region",
            "postal_code",
            "country",
        ] {
            f.push((k.to_string(), a[k].as_str().unwrap_or("").to_string()));
        }
        serde_urlencoded::to_string(&f).unwrap()
    };
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let send = |body: String| {
        client
            .post(format!("{}/orders/{order}/amend", app.address))
            .header("cookie", format!("cielo_csrf={csrf}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    // Too long a title: refused beside it, nothing changes.
    let r = send(form(&"x".repeat(300))).await.unwrap();
    assert_eq!(r.status(), 422);
    let text = r.text().await.unwrap();
    assert!(text.contains("a-title-1-e"), "{text}");
    // A character the poster cannot print: named beside the title, in words.
    let r = send(form("Nuestra noche 🌙")).await.unwrap();
    assert_eq!(r.status(), 422);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("The poster title has characters the poster cannot print: 🌙."),
        "{text}"
    );
    assert!(!text.contains("U+1F319"), "{text}");
    let r = send(form("Nuestra noche")).await.unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let o = order_of(&app, &admin, &order).await;
    assert_eq!(o["lines"][0]["options"]["title"], "Nuestra noche");
    assert_eq!(
        o["shipping_address"], *a,
        "an unchanged address is not sent again"
    );
}

#[tokio::test]
async fn orders_show_outside_a_shop_folder_says_there_is_no_database_and_creates_nothing() {
    let dir = std::env::temp_dir().join(format!("cielo-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cielo"))
        .args(["orders", "show", "ord_0123456789abcdef0123456789abcdef"])
        .current_dir(&dir)
        .env_remove("CIELO_DATABASE_URL")
        .env_remove("CIELO_DATA_DIR")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("no database at"), "{stderr}");
    let left = std::fs::read_dir(&dir).unwrap().count();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(left, 0, "a read-only command created files");
}

/// The order's notification messages of `kind` (admin API).
async fn messages_of_kind(app: &TestApp, admin: &str, order: &str, kind: &str) -> Vec<Value> {
    let r = app
        .get_as(
            &format!("/api/admin/notifications/messages?order_id={order}"),
            admin,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == kind)
        .cloned()
        .collect()
}

#[tokio::test]
async fn the_buyer_hears_an_order_needs_a_change_only_when_a_lab_refused_it() {
    let printful = FakePrintful::start("pf-secret-token").await;
    let secrets = Secrets {
        labs: cielo_fulfillment::LabSecrets {
            printful_api_token: Some("pf-secret-token".into()),
            printful_webhook_token: Some("whk-printful-0123456789".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let base = printful.url.clone();
    let app = spawn_with_secrets(
        false,
        Role::Api,
        move |s| {
            s.payments.catch_up_on_start = false;
            s.fulfillment.hold_minutes = 0;
            s.fulfillment.printful_api_base = base;
            s.notify.owner_email = Some("owner@example.com".into());
        },
        secrets,
    )
    .await;
    let admin = app.admin_token().await;
    let r = app
        .post_as(
            "/api/admin/products",
            &admin,
            &json!({"title": "Tee", "status": "published", "variants": [
                {"sku": "TEE-1", "price": {"amount": 2000, "currency": "USD"}, "lab": "printful", "lab_product_id": "4012"},
                {"sku": "TEE-2", "price": {"amount": 2000, "currency": "USD"}, "lab": "printful"}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let mapped = r.body["variants"][0]["id"].as_str().unwrap().to_string();
    let unmapped = r.body["variants"][1]["id"].as_str().unwrap().to_string();

    // The lab refuses the order: the buyer is asked for a change, once.
    let (order, _) = buy(&app, &[&mapped]).await;
    pay(&app, &admin, &order).await;
    drain_until(&app, &admin, &order, "in_production").await;
    for _ in 0..5 {
        app.run_pending_jobs().await;
    }
    let external = cielo_fulfillment::printful_external_id(&order, 0);
    printful.set_status(&external, "failed");
    let body = printful.webhook("order_failed", &external, Some("Address not deliverable"));
    for _ in 0..2 {
        let r = app
            .client
            .post(format!(
                "{}/webhooks/printful?token=whk-printful-0123456789",
                app.address
            ))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    drain_until(&app, &admin, &order, "needs_attention").await;
    for _ in 0..3 {
        app.run_pending_jobs().await;
    }
    let asked = messages_of_kind(&app, &admin, &order, "needs_change").await;
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0]["recipient"], "ana@example.com");

    // An order stuck for a reason of the shop's own (no lab product to send):
    // the owner is told, the buyer is not asked for anything.
    let (stuck, _) = buy(&app, &[&unmapped]).await;
    pay(&app, &admin, &stuck).await;
    drain_until(&app, &admin, &stuck, "needs_attention").await;
    for _ in 0..3 {
        app.run_pending_jobs().await;
    }
    assert!(messages_of_kind(&app, &admin, &stuck, "needs_change")
        .await
        .is_empty());
    assert_eq!(
        messages_of_kind(&app, &admin, &stuck, "owner_needs_attention")
            .await
            .len(),
        1
    );
}

/// Replaces the stored shipping address's phone, as an order placed before
/// phones were checked would have it.
async fn store_phone(app: &TestApp, order: &str, phone: &str) {
    let row: (String,) =
        cielo_db::sqlx::query_as("select shipping_address from orders_order where id = $1")
            .bind(order)
            .fetch_one(app.state.db.pool())
            .await
            .unwrap();
    let mut a: Value = serde_json::from_str(&row.0).unwrap();
    a["phone"] = serde_json::json!(phone);
    cielo_db::sqlx::query("update orders_order set shipping_address = $1 where id = $2")
        .bind(a.to_string())
        .bind(order)
        .execute(app.state.db.pool())
        .await
        .unwrap();
}

#[tokio::test]
async fn an_order_whose_phone_was_stored_as_typed_can_still_be_corrected_on_its_page() {
    let app = spawn_with_secrets(
        true,
        Role::Api,
        |s| s.payments.catch_up_on_start = false,
        Secrets::default(),
    )
    .await;
    let admin = app.admin_token().await;
    let mug = demo_variant(&app, "star-chart-mug").await;
    let (order, token) = buy(&app, &[&mug]).await;
    pay(&app, &admin, &order).await;
    drain_until(&app, &admin, &order, "in_production").await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let post = |form: Vec<(&'static str, String)>, csrf: String| {
        let client = client.clone();
        let url = format!("{}/orders/{order}/amend", app.address);
        async move {
            let r = client
                .post(url)
                .header("cookie", format!("cielo_csrf={csrf}"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(serde_urlencoded::to_string(&form).unwrap())
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let address = |csrf: &str, line1: &str| {
        vec![
            ("_csrf", csrf.to_string()),
            ("token", token.clone()),
            ("name", "Ana Buyer".to_string()),
            ("line1", line1.to_string()),
            ("city", "London".to_string()),
            ("postal_code", "SW1Y 4JH".to_string()),
            ("country", "GB".to_string()),
        ]
    };
    // A valid stored phone: no field for it, and it is kept by a correction.
    store_phone(&app, &order, "+34600123456").await;
    let (status, csrf, body) = page(&app, &format!("/orders/{order}?token={token}"), "").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        !body.contains(r#"name="phone""#),
        "no phone field when it is fine"
    );
    assert!(
        body.contains("SW1Y 4JH, United Kingdom</p>"),
        "the country by its name"
    );
    let (status, body) = post(address(&csrf, "1 First St"), csrf.clone()).await;
    assert_eq!(status, 303, "{body}");
    let o = order_of(&app, &admin, &order).await;
    assert_eq!(o["shipping_address"]["line1"], "1 First St");
    assert_eq!(o["shipping_address"]["phone"], "+34600123456");

    // A phone stored as typed (not a dialable international number): the
    // page shows the field with what to fix, beside it.
    store_phone(&app, &order, "600 12 34 56").await;
    let (status, csrf, body) = page(&app, &format!("/orders/{order}?token={token}"), "").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(r#"id="f-phone""#) && body.contains(r#"value="600 12 34 56""#),
        "{body}"
    );
    assert!(body.contains(r#"id="e-phone""#) && body.contains("with its country code"));
    // Sent back unchanged, the phone is what is refused, beside its field.
    let mut form = address(&csrf, "2 Second St");
    form.push(("phone", "600 12 34 56".into()));
    let (status, body) = post(form, csrf.clone()).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains(r#"id="e-phone""#), "{body}");
    assert!(!body.contains("shipping_address"), "no field paths");
    // Corrected, the whole correction is saved.
    let mut form = address(&csrf, "2 Second St");
    form.push(("phone", "+34 600 12 34 56".into()));
    let (status, body) = post(form, csrf.clone()).await;
    assert_eq!(status, 303, "{body}");
    let o = order_of(&app, &admin, &order).await;
    assert_eq!(o["shipping_address"]["line1"], "2 Second St");
    assert_eq!(o["shipping_address"]["phone"], "+34600123456");
    // A form without the phone field (it was not shown) never sends the old
    // unusable phone, so it cannot block a correction.
    store_phone(&app, &order, "600 12 34 56").await;
    let (status, body) = post(address(&csrf, "3 Third St"), csrf.clone()).await;
    assert_eq!(status, 303, "{body}");
    let o = order_of(&app, &admin, &order).await;
    assert_eq!(o["shipping_address"]["line1"], "3 Third St");
    // An order to a country the form does not list keeps it chosen (the
    // form never swaps it for the first country of the list).
    let row: (String,) =
        cielo_db::sqlx::query_as("select shipping_address from orders_order where id = $1")
            .bind(&order)
            .fetch_one(app.state.db.pool())
            .await
            .unwrap();
    let mut a: Value = serde_json::from_str(&row.0).unwrap();
    a["country"] = json!("IN");
    cielo_db::sqlx::query("update orders_order set shipping_address = $1 where id = $2")
        .bind(a.to_string())
        .bind(&order)
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let (_, _, body) = page(&app, &format!("/orders/{order}?token={token}"), "").await;
    assert!(body.contains(r#"<option value="IN" selected>"#), "{body}");
    assert!(!body.contains(r#"<option value="AR" selected>"#));
}
