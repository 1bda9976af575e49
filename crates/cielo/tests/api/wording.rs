//! What a person reads: one order number on emails, pages and the admin
//! search; one label per status; confirmations that say what happens next
//! and greet the buyer by name; errors in words, never the parser's.

use crate::helpers::*;
use cielo::Settings;
use serde_json::{json, Value};
use std::time::Duration;

fn quick(s: &mut Settings) {
    s.payments.catch_up_on_start = false;
    s.fulfillment.hold_minutes = 0;
}

fn poster_options() -> Value {
    json!({"lat": 40.4168, "lon": -3.7038, "date": "2024-08-13", "time": "00:30", "tz": "Europe/Madrid", "title": "Nuestra noche"})
}

/// The demo poster's digital variant.
async fn digital_poster(app: &TestApp) -> String {
    let poster = app
        .get("/api/store/products/personalised-star-map-poster")
        .await
        .body;
    poster["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["delivery"] == "digital")
        .expect("the demo poster has a digital variant")["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn mug(app: &TestApp) -> String {
    app.get("/api/store/products/star-chart-mug").await.body["variants"][0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A paid order of `lines` (`(variant, options)`), bought with `body` (and
/// `token` when signed in): its id.
async fn paid_order(
    app: &TestApp,
    admin: &str,
    token: Option<&str>,
    lines: &[(&str, Option<Value>)],
    body: &Value,
) -> String {
    let cart = app.new_cart(token).await;
    for (variant, options) in lines {
        let mut line = json!({"variant_id": variant, "quantity": 1});
        if let Some(o) = options {
            line["options"] = o.clone();
        }
        let r = app
            .request(
                reqwest::Method::POST,
                &format!("/api/store/carts/{cart}/lines"),
                token,
                Some(&line),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = app.checkout(&cart, token, None, body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let order = r.body["order_id"].as_str().unwrap().to_string();
    app.pay_on_test_page(admin, &order).await;
    order
}

/// The order's message of `kind` (email), once it exists, rendered as sent.
async fn email_of(app: &TestApp, admin: &str, order: &str, kind: &str) -> (Value, String) {
    for _ in 0..200 {
        app.run_pending_jobs().await;
        let ms = app
            .get_as(
                &format!("/api/admin/notifications/messages?order_id={order}"),
                admin,
            )
            .await
            .body;
        let found = ms["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["kind"] == kind && m["channel"] == "email")
            .cloned();
        if let Some(m) = found {
            let notify = app.state.notify.as_ref().unwrap();
            let detail = notify
                .message(m["id"].as_str().unwrap().parse().unwrap())
                .await
                .unwrap();
            let r = notify.render_message(&detail.message).unwrap();
            let text = format!(
                "Subject: {}\n\n{}\n\n{}",
                r.subject,
                r.text,
                r.html.unwrap_or_default()
            );
            return (detail.message.data.clone(), text);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {kind} email for {order}");
}

fn ids(page: &Value) -> Vec<String> {
    page["orders"]
        .as_array()
        .unwrap_or_else(|| panic!("{page}"))
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_number_in_the_email_is_the_one_on_the_pages_and_the_admin_search_finds_it() {
    let app = spawn_app_with(true, quick).await;
    let admin = app.admin_token().await;
    let mug = mug(&app).await;
    let buyer = app.register("ana@example.com").await;
    let order = paid_order(
        &app,
        &admin,
        Some(&buyer),
        &[(&mug, None)],
        &checkout_body("ana@example.com"),
    )
    .await;
    let other = paid_order(
        &app,
        &admin,
        None,
        &[(&mug, None)],
        &checkout_body("b@example.com"),
    )
    .await;

    // The email's number…
    let (data, email) = email_of(&app, &admin, &order, "order_confirmation").await;
    let number = data["order"]["number"].as_str().unwrap().to_string();
    let tail = &order[order.len() - 8..];
    assert_eq!(number, format!("#{}", tail.to_ascii_uppercase()));
    assert!(email.contains(&number), "{email}");
    // …is the API's `number`, for the buyer and the admin, in lists too.
    let o = app
        .get_as(&format!("/api/store/orders/{order}"), &buyer)
        .await;
    assert_eq!(o.body["number"], number.as_str(), "{}", o.body);
    assert_eq!(o.body["id"], order.as_str(), "the id stays as it is");
    let mine = app.get_as("/api/store/orders", &buyer).await.body;
    assert_eq!(mine["orders"][0]["number"], number.as_str(), "{mine}");
    let all = app.get_as("/api/admin/orders", &admin).await.body;
    assert!(all["orders"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["number"] == number.as_str()));

    // The admin finds it by that number however a person types it.
    for typed in [
        number.clone(),
        number.to_lowercase(),
        tail.to_string(),
        tail.to_ascii_uppercase(),
        format!(" {number} "),
        order.clone(),
    ] {
        let q = serde_urlencoded::to_string([("number", &typed)]).unwrap();
        let r = app.get_as(&format!("/api/admin/orders?{q}"), &admin).await;
        assert_eq!(r.status, 200, "{typed}: {}", r.body);
        assert_eq!(ids(&r.body), vec![order.clone()], "{typed:?}");
    }
    for bad in ["#3F3C", "ord_123", "#ZZZZZZZZ"] {
        let q = serde_urlencoded::to_string([("number", bad)]).unwrap();
        let r = app.get_as(&format!("/api/admin/orders?{q}"), &admin).await;
        r.assert_problem(422, "invalid-query");
        assert_eq!(r.pointers(), ["#/number"], "{bad}");
    }

    // The pages show the same number: order page, account list, admin list
    // (searched by it) and admin order page.
    let session = format!("cielo_session={buyer}");
    let (status, body) = app.page(&format!("/orders/{order}"), &session).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&format!("<h1>Order {number}</h1>")), "{body}");
    let (_, body) = app.page("/account", &session).await;
    assert!(body.contains(&format!(">{number}</a>")), "{body}");
    let admin_session = format!("cielo_session={admin}");
    let (status, body) = app
        .page(
            &format!("/admin/orders?number={}", tail.to_ascii_lowercase()),
            &admin_session,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&format!(">{number}</a>")), "{body}");
    assert!(!body.contains(&other), "only the order searched for");
    let (_, body) = app
        .page(&format!("/admin/orders/{order}"), &admin_session)
        .await;
    assert!(body.contains(&format!("<h1>Order {number}")), "{body}");

    // On a terminal, the owner finds it by the number too.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cielo"))
        .args([
            "--data-dir",
            app.data_dir().to_str().unwrap(),
            "orders",
            "show",
            &number.to_lowercase(),
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
    assert!(
        text.starts_with(&format!("Order {number}  {order}  ")),
        "{text}"
    );
}

#[tokio::test]
async fn a_status_reads_the_same_on_the_order_page_and_in_every_list() {
    let app = spawn_app_with(true, |s| {
        s.payments.catch_up_on_start = false;
        // The order waits in its edit window before the lab.
        s.fulfillment.hold_minutes = 60;
    })
    .await;
    let admin = app.admin_token().await;
    let mug = mug(&app).await;
    let buyer = app.register("eva@example.com").await;
    let order = paid_order(
        &app,
        &admin,
        Some(&buyer),
        &[(&mug, None)],
        &checkout_body("eva@example.com"),
    )
    .await;
    for _ in 0..200 {
        app.run_pending_jobs().await;
        let o = app
            .get_as(&format!("/api/store/orders/{order}"), &buyer)
            .await
            .body;
        if o["status"] == "in_production" && !o["edit_until"].is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let label = "<span class=\"status s-in_production\">In production</span>";
    let session = format!("cielo_session={buyer}");
    let (_, order_page) = app.page(&format!("/orders/{order}"), &session).await;
    assert!(order_page.contains(label), "{order_page}");
    // The page's more precise sentence is a description under that label.
    assert!(order_page.contains("Waiting to go to the print lab."));
    assert!(!order_page.contains("s-waiting"), "no second label");
    let (_, account) = app.page("/account", &session).await;
    assert!(account.contains(label), "{account}");
    let (_, admin_list) = app
        .page("/admin/orders", &format!("cielo_session={admin}"))
        .await;
    assert!(admin_list.contains(label), "{admin_list}");
    // In Spanish, the same one label.
    let (_, es) = app
        .page(
            &format!("/orders/{order}"),
            &format!("{session}; cielo_lang=es"),
        )
        .await;
    let (_, es_list) = app
        .page("/account", &format!("{session}; cielo_lang=es"))
        .await;
    let es_label = "<span class=\"status s-in_production\">En producción</span>";
    assert!(es.contains(es_label) && es_list.contains(es_label), "{es}");
}

#[tokio::test]
async fn a_digital_order_is_confirmed_as_a_download_and_greets_the_buyer_by_name_or_neutrally() {
    let app = spawn_app_with(true, quick).await;
    let admin = app.admin_token().await;
    let poster = digital_poster(&app).await;
    let mug = mug(&app).await;

    // A guest's download, no address: a neutral greeting, never the email's
    // local part; the files are to download, linked to the order page.
    let order = paid_order(
        &app,
        &admin,
        None,
        &[(&poster, Some(poster_options()))],
        &json!({"email": "john.doe82@example.com"}),
    )
    .await;
    let (data, email) = email_of(&app, &admin, &order, "order_confirmation").await;
    assert!(!email.contains("john.doe82"), "{email}");
    assert!(email.contains("Hello,\n"), "{email}");
    assert!(email.contains("<p>Hello, we have your payment"), "{email}");
    assert!(
        email.contains("ready to download on your order page"),
        "{email}"
    );
    let link = data["order"]["link"].as_str().unwrap();
    assert!(link.contains(&format!("order={order}&token=")), "{link}");
    assert!(email.contains(link), "links to the order page");
    for physical in [
        "Ship to",
        "Shipping",
        "making it now",
        "print lab",
        "shipped",
    ] {
        assert!(!email.contains(physical), "{physical:?} in {email}");
    }

    // In Spanish, the same.
    let order = paid_order(
        &app,
        &admin,
        None,
        &[(&poster, Some(poster_options()))],
        &json!({"email": "maria.g@example.com", "language": "es"}),
    )
    .await;
    let (_, email) = email_of(&app, &admin, &order, "order_confirmation").await;
    assert!(!email.contains("maria.g"), "{email}");
    assert!(email.contains("Hola:\n"), "{email}");
    assert!(
        email.contains("listos para descargar en la página de tu pedido"),
        "{email}"
    );
    assert!(
        !email.contains("Envío") && !email.contains("Enviar a"),
        "{email}"
    );

    // A signed-in buyer without an address is greeted by the account's name.
    let r = app
        .post(
            "/api/store/auth/register",
            &json!({"email": "jd@example.com", "password": "correct horse battery", "name": "Jane Doe"}),
        )
        .await;
    let jane = r.body["token"].as_str().unwrap().to_string();
    let order = paid_order(
        &app,
        &admin,
        Some(&jane),
        &[(&poster, Some(poster_options()))],
        &json!({}),
    )
    .await;
    let (_, email) = email_of(&app, &admin, &order, "order_confirmation").await;
    assert!(email.contains("Hello Jane Doe,"), "{email}");

    // A mixed order: the parcel and the downloads, and the address's name.
    let order = paid_order(
        &app,
        &admin,
        None,
        &[(&poster, Some(poster_options())), (&mug, None)],
        &checkout_body("mixed@example.com"),
    )
    .await;
    let (_, email) = email_of(&app, &admin, &order, "order_confirmation").await;
    assert!(email.contains("Hello Ada Lovelace,"), "{email}");
    assert!(email.contains("items to ship"), "{email}");
    assert!(email.contains("ready to download"), "{email}");
    assert!(email.contains("Ship to"), "{email}");
}

#[tokio::test]
async fn wrong_values_are_refused_in_words_naming_the_field_never_in_the_parsers() {
    let app = spawn_app_with(true, quick).await;
    let admin = app.admin_token().await;
    let mug = mug(&app).await;
    let cart = app.new_cart(None).await;
    let leaks = [
        "invalid type",
        "invalid value",
        "unknown variant",
        "expected",
        "struct ",
        "sequence",
        "floating point",
        "i64",
        "`",
        " at line ",
    ];
    let check = |r: &Reply, status: u16, pointer: &str, detail: &str| {
        assert_eq!(r.status, status, "{}", r.body);
        let problem_detail = r.body["detail"].as_str().unwrap();
        for leak in leaks {
            assert!(!problem_detail.contains(leak), "{leak:?} in {}", r.body);
        }
        assert_eq!(r.pointers(), [pointer], "{}", r.body);
        assert_eq!(r.body["errors"][0]["detail"], detail, "{}", r.body);
    };
    let lines = format!("/api/store/carts/{cart}/lines");
    for (body, pointer, detail) in [
        (
            json!({"variant_id": mug, "quantity": 1e20}),
            "#/quantity",
            "is too large",
        ),
        (
            json!({"variant_id": mug, "quantity": 2.5}),
            "#/quantity",
            "must be a whole number",
        ),
        (
            json!({"variant_id": mug, "quantity": "2"}),
            "#/quantity",
            "must be a whole number",
        ),
        (
            json!({"variant_id": 7, "quantity": 1}),
            "#/variant_id",
            "must be text (a JSON string)",
        ),
        (
            json!({"variant_id": "nope", "quantity": 1}),
            "#/variant_id",
            "must be an id such as var_ followed by 32 hex digits",
        ),
        (json!([]), "#", "the body must be a JSON object"),
        (
            json!([{"variant_id": mug}]),
            "#",
            "the body must be a JSON object",
        ),
    ] {
        let r = app.post(&lines, &body).await;
        check(&r, 422, pointer, detail);
    }
    let r = app
        .post_raw(&lines, "application/json", "{\"quantity\": 1e400}")
        .await;
    check(&r, 422, "#/quantity", "is too large");
    let r = app
        .post_raw(&lines, "application/json", "{\"quantity\": ")
        .await;
    r.assert_problem(400, "malformed-json");
    assert!(
        !r.body["detail"].as_str().unwrap().contains("EOF"),
        "{}",
        r.body
    );

    // A refund amount, an admin body.
    let order = paid_order(
        &app,
        &admin,
        None,
        &[(&mug, None)],
        &checkout_body("r@example.com"),
    )
    .await;
    let r = app
        .post_as(
            &format!("/api/admin/orders/{order}/refunds"),
            &admin,
            &json!({"amount": 1e20, "reason": "x"}),
        )
        .await;
    check(&r, 422, "#/amount", "is too large");

    // Query parameters: the same words, a 422 naming the parameter.
    for (q, pointer, detail) in [
        (
            "status=lost",
            "#/status",
            "must be one of: pending_payment, paid, in_production, shipped, delivered, cancelled, refunded, partially_refunded, needs_attention",
        ),
        ("limit=lots", "#/limit", "must be a whole number"),
        ("limit=100000000000000000000", "#/limit", "is too large"),
        ("colour=red", "#/colour", "is not a parameter of this request"),
    ] {
        let r = app.get_as(&format!("/api/admin/orders?{q}"), &admin).await;
        check(&r, 422, pointer, detail);
        assert_eq!(r.body["type"], "urn:cielo:problem:invalid-query");
    }
    let r = app.get("/api/store/products?limit=x").await;
    check(&r, 422, "#/limit", "must be a whole number");
}

#[tokio::test]
async fn a_body_too_large_reads_the_same_whichever_layer_stops_it() {
    let app = spawn_app_with(true, |s| s.http.body_limit_bytes = 1024).await;
    let big = format!("{{\"email\": \"{}\"}}", "a".repeat(4096));
    // Through the JSON extractor, and through the body layer of a route
    // that reads no JSON.
    let by_extractor = app
        .post_raw("/api/store/auth/register", "application/json", &big)
        .await;
    let by_layer = app
        .post_raw("/api/store/carts", "application/json", &big)
        .await;
    for r in [&by_extractor, &by_layer] {
        r.assert_problem(413, "body-too-large");
    }
    for key in ["type", "title", "detail"] {
        assert_eq!(by_extractor.body[key], by_layer.body[key], "{key}");
    }
    assert_eq!(
        by_layer.body["detail"],
        "the request body is larger than this server accepts"
    );
}

#[tokio::test]
async fn order_list_dates_are_checked_and_downloads_are_not_shipped_by_the_shop() {
    let app = spawn_app_with(true, quick).await;
    let admin = app.admin_token().await;
    let poster = digital_poster(&app).await;
    let download = paid_order(
        &app,
        &admin,
        None,
        &[(&poster, Some(poster_options()))],
        &json!({"email": "d@example.com"}),
    )
    .await;

    for (q, pointer) in [
        ("from=yesterday", "#/from"),
        ("to=2026-13-45", "#/to"),
        ("from=2026-11-21T25:00:00Z", "#/from"),
        ("from=2026-11-22&to=2026-11-21", "#/to"),
        ("from=2026-11-21&to=2026-11-21", "#/to"),
    ] {
        let r = app.get_as(&format!("/api/admin/orders?{q}"), &admin).await;
        r.assert_problem(422, "invalid-query");
        assert_eq!(r.pointers(), [pointer], "{q}: {}", r.body);
    }
    // A date input's plain date is the start of that UTC day.
    let today = &cielo_core::Timestamp::now().to_string()[..10];
    let r = app
        .get_as(&format!("/api/admin/orders?from={today}"), &admin)
        .await;
    assert_eq!(ids(&r.body), vec![download.clone()], "{}", r.body);
    let r = app
        .get_as(&format!("/api/admin/orders?to={today}"), &admin)
        .await;
    assert_eq!(ids(&r.body), Vec::<String>::new(), "{}", r.body);

    // The admin page says what is wrong instead of listing everything.
    let session = format!("cielo_session={admin}");
    let (status, body) = app.page("/admin/orders?from=yesterday", &session).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("role=\"alert\""), "{body}");
    assert!(
        body.contains("id=\"e-from\">Enter the “From” day as a real date"),
        "said beside the field, in words: {body}"
    );
    assert!(!body.contains("from: "), "not the API's wording: {body}");
    assert!(!body.contains(&download), "{body}");
    let (_, body) = app
        .page("/admin/orders?from=2026-11-22&to=2026-11-21", &session)
        .await;
    assert!(
        body.contains("“Before” must be a later day than “From”."),
        "{body}"
    );

    // A download is no parcel the shop ships; it has its own filter.
    let none = app.get_as("/api/admin/orders?lab=none", &admin).await.body;
    assert!(!ids(&none).contains(&download), "{none}");
    let digital = app
        .get_as("/api/admin/orders?lab=digital", &admin)
        .await
        .body;
    assert_eq!(ids(&digital), vec![download.clone()]);
    let (_, body) = app.page("/admin/orders", &session).await;
    assert!(
        body.contains("<option value=\"digital\">No lab: digital downloads</option>"),
        "{body}"
    );
}

/// The order's lab orders, as the admin sees them.
async fn lab_orders(app: &TestApp, admin: &str, order: &str) -> Vec<Value> {
    app.get_as(&format!("/api/admin/orders/{order}/lab-orders"), admin)
        .await
        .body
        .as_array()
        .unwrap()
        .clone()
}

fn amend_causes(labs: &[Value]) -> Vec<String> {
    labs.iter()
        .flat_map(|lo| lo["history"].as_array().unwrap().clone())
        .filter_map(|h| h["cause"].as_str().map(str::to_string))
        .filter(|c| c.starts_with("amend"))
        .collect()
}

#[tokio::test]
async fn a_correction_records_only_what_changed_and_nothing_when_nothing_did() {
    let app = spawn_app_with(true, |s| {
        s.payments.catch_up_on_start = false;
        s.fulfillment.hold_minutes = 60;
    })
    .await;
    let admin = app.admin_token().await;
    let poster = app
        .get("/api/store/products/personalised-star-map-poster")
        .await
        .body["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["delivery"] == "physical")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let cart = app.new_cart(None).await;
    let r = app
        .post(
            &format!("/api/store/carts/{cart}/lines"),
            &json!({"variant_id": poster, "quantity": 1, "options": poster_options()}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .checkout(&cart, None, None, &checkout_body("c@example.com"))
        .await;
    let order = r.body["order_id"].as_str().unwrap().to_string();
    let token = r.body["access_token"].as_str().unwrap().to_string();
    app.pay_on_test_page(&admin, &order).await;
    let mut o = Value::Null;
    for _ in 0..200 {
        app.run_pending_jobs().await;
        o = app
            .get_as(&format!("/api/admin/orders/{order}"), &admin)
            .await
            .body;
        if o["status"] == "in_production" && !lab_orders(&app, &admin, &order).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(o["status"], "in_production", "{o}");
    let line = o["lines"][0]["id"].as_str().unwrap().to_string();
    let before = lab_orders(&app, &admin, &order).await;
    let recipient = before[0]["request"]["recipient"].clone();
    let patch = |body: Value| {
        let app = &app;
        let path = format!("/api/store/orders/{order}?token={token}");
        async move {
            app.request(reqwest::Method::PATCH, &path, None, Some(&body))
                .await
        }
    };

    // Only the title changes; the address comes back as typed again, with
    // other spacing and a lower-case country: the lab hears nothing.
    let mut same = address();
    same["name"] = json!("  Ada   Lovelace ");
    same["country"] = json!("gb");
    same["postal_code"] = json!("sw1y 4jh");
    let mut options = poster_options();
    options["title"] = json!("Nuestra noche, otra vez");
    let r =
        patch(json!({"shipping_address": same, "lines": [{"line_id": line, "options": options}]}))
            .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["lines"][0]["options"]["title"],
        "Nuestra noche, otra vez"
    );
    assert_eq!(
        r.body["shipping_address"], o["shipping_address"],
        "address as it was"
    );
    let labs = lab_orders(&app, &admin, &order).await;
    assert_eq!(amend_causes(&labs), Vec::<String>::new(), "{labs:?}");
    assert_eq!(labs[0]["request"]["recipient"], recipient);

    // The name changes: that, and only that, is recorded.
    let mut renamed = address();
    renamed["name"] = json!("Ada King");
    let r = patch(json!({"shipping_address": renamed})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let labs = lab_orders(&app, &admin, &order).await;
    assert_eq!(amend_causes(&labs), ["amend: recipient changed (name)"]);
    assert_eq!(labs[0]["request"]["recipient"]["name"], "Ada King");

    // The same again: no entry, no change of the order at all.
    let now = app
        .get_as(&format!("/api/admin/orders/{order}"), &admin)
        .await
        .body;
    let r = patch(
        json!({"shipping_address": renamed, "lines": [{"line_id": line, "options": options}]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let labs = lab_orders(&app, &admin, &order).await;
    assert_eq!(amend_causes(&labs).len(), 1, "{labs:?}");
    let after = app
        .get_as(&format!("/api/admin/orders/{order}"), &admin)
        .await
        .body;
    assert_eq!(after["updated_at"], now["updated_at"]);
    assert_eq!(after["history"], now["history"]);
}

#[tokio::test]
async fn a_poster_confirmation_names_its_theme_as_the_designer_does() {
    let app = spawn_app_with(true, quick).await;
    let admin = app.admin_token().await;
    let poster = digital_poster(&app).await;
    let mut options = poster_options();
    options["theme"] = json!("midnight-blue");
    let order = paid_order(
        &app,
        &admin,
        None,
        &[(&poster, Some(options))],
        &json!({"email": "stars@example.com"}),
    )
    .await;
    let (_, email) = email_of(&app, &admin, &order, "order_confirmation").await;
    assert!(email.contains("Theme: Midnight blue"), "{email}");
    // The id only in the preview's address, never as the words shown.
    assert!(!email.contains("Theme: midnight-blue"), "{email}");
}
