//! Digital downloads: a star-map variant with no lab whose buyer downloads
//! the print files (PNG and PDF) through signed links, on the order page and
//! the order API, for the configured period.

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

/// The demo poster's digital variant and its physical A3 sibling.
async fn poster_variants(app: &TestApp) -> (Value, Value) {
    let poster = app
        .get("/api/store/products/personalised-star-map-poster")
        .await
        .body;
    let variants = poster["variants"].as_array().unwrap();
    let digital = variants
        .iter()
        .find(|v| v["delivery"] == "digital")
        .expect("the demo poster has a digital variant")
        .clone();
    let a3 = variants
        .iter()
        .find(|v| v["delivery"] == "physical" && v["option_values"]["size"] == "A3")
        .unwrap()
        .clone();
    (digital, a3)
}

async fn add_poster(app: &TestApp, cart: &str, variant: &str) {
    let r = app
        .post(
            &format!("/api/store/carts/{cart}/lines"),
            &json!({"variant_id": variant, "quantity": 1, "options": poster_options()}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// Runs the job queue until the order has `status`.
async fn run_until(app: &TestApp, admin: &str, order: &str, status: &str) -> Value {
    for _ in 0..300 {
        app.run_pending_jobs().await;
        let o = app
            .get_as(&format!("/api/admin/orders/{order}"), admin)
            .await
            .body;
        if o["status"] == status {
            app.run_pending_jobs().await;
            return o;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("order {order} never became {status}");
}

/// The order's notification messages.
async fn messages(app: &TestApp, admin: &str, order: &str) -> Vec<Value> {
    app.get_as(
        &format!("/api/admin/notifications/messages?order_id={order}"),
        admin,
    )
    .await
    .body["messages"]
        .as_array()
        .unwrap()
        .clone()
}

fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    (
        u32::from_be_bytes(bytes[16..20].try_into().unwrap()),
        u32::from_be_bytes(bytes[20..24].try_into().unwrap()),
    )
}

/// The order page's HTML, with the escapes of `/` and `&` undone.
async fn order_page(app: &TestApp, order: &str, token: &str) -> String {
    let res = fetch(
        app,
        &format!("{}/orders/{order}?token={token}", app.address),
    )
    .await;
    assert_eq!(res.status(), 200);
    res.text()
        .await
        .unwrap()
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

async fn fetch(app: &TestApp, url: &str) -> reqwest::Response {
    app.client.get(url).send().await.unwrap()
}

/// `url` with its `name` query parameter replaced by `value`.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut u = reqwest::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name {
                value.to_string()
            } else {
                v.into()
            };
            (k.into(), v)
        })
        .collect();
    u.query_pairs_mut().clear().extend_pairs(pairs);
    u.to_string()
}

#[tokio::test]
async fn a_digital_star_map_is_paid_rendered_delivered_and_downloaded_without_a_lab() {
    // Arrange: a guest buys the poster's digital A3, with no address.
    let app = spawn_app_with(true, quick).await;
    let admin = app.admin_token().await;
    let (digital, a3) = poster_variants(&app).await;
    assert!(digital["lab"].is_null(), "{digital}");
    assert!(
        digital["price"]["amount"].as_i64() < a3["price"]["amount"].as_i64(),
        "the download costs less than the print"
    );
    let cart = app.new_cart(None).await;
    add_poster(&app, &cart, digital["id"].as_str().unwrap()).await;
    let c = app.get(&format!("/api/store/carts/{cart}")).await.body;
    assert_eq!(c["lines"][0]["delivery"], "digital");
    assert_eq!(c["totals"]["shipping"]["amount"], 0, "{c}");
    let r = app
        .checkout(&cart, None, None, &json!({"email": "ana@example.com"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let order = r.body["order_id"].as_str().unwrap().to_string();
    let token = r.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        r.body["total"], digital["price"],
        "no shipping on a download"
    );
    let api = format!("/api/store/orders/{order}?token={token}");
    let before = app.get(&api).await.body;
    assert!(before["shipping_address"].is_null(), "{before}");
    assert_eq!(before["downloads"]["state"], "unavailable", "{before}");
    assert_eq!(before["downloads"]["files"], json!([]));

    // Act: pay on the test provider's page; the jobs run.
    app.pay_on_test_page(&admin, &order).await;
    let done = run_until(&app, &admin, &order, "delivered").await;

    // Assert: rendered, through production to delivered, never at a lab.
    let path: Vec<&str> = done["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["to"].as_str().unwrap())
        .collect();
    assert_eq!(
        path,
        ["pending_payment", "paid", "in_production", "delivered"],
        "{done}"
    );
    let labs = app
        .get_as(&format!("/api/admin/orders/{order}/lab-orders"), &admin)
        .await;
    assert_eq!(labs.status, 200, "{}", labs.body);
    assert_eq!(labs.body, json!([]), "no lab order for a download");
    assert!(done["shipments"].as_array().unwrap().is_empty());

    // The API lists a fresh, short-lived PNG and PDF link.
    let o = app.get(&api).await.body;
    let d = &o["downloads"];
    assert_eq!(d["state"], "available", "{o}");
    let files = d["files"].as_array().unwrap();
    assert_eq!(files.len(), 2, "{d}");
    let line = o["lines"][0]["id"].as_str().unwrap();
    let file = |f: &str| files.iter().find(|x| x["format"] == f).unwrap().clone();
    let (png, pdf) = (file("png"), file("pdf"));
    for f in [&png, &pdf] {
        assert_eq!(f["line_id"], line);
        assert!(f["url"].as_str().unwrap().contains("signature="), "{f}");
        let expires: cielo_core::Timestamp =
            serde_json::from_value(f["expires_at"].clone()).unwrap();
        let left = expires.as_unix_seconds() - cielo_core::Timestamp::now().as_unix_seconds();
        assert!((800..=900).contains(&left), "a 15-minute link: {left} s");
    }
    let number = order[order.len() - 8..].to_uppercase();
    assert_eq!(png["filename"], format!("star-map-{number}-1.png"));
    assert_eq!(pdf["filename"], format!("star-map-{number}-1.pdf"));
    let ready: cielo_core::Timestamp = serde_json::from_value(d["ready_at"].clone()).unwrap();
    let until: cielo_core::Timestamp =
        serde_json::from_value(d["available_until"].clone()).unwrap();
    assert_eq!(
        until.as_unix_seconds() - ready.as_unix_seconds(),
        30 * 24 * 3600,
        "the default period is 30 days from when the files were ready"
    );

    // The links give a real A3 PNG at 300 DPI (no lab: the plain trim
    // size) and a real PDF, as attachments named after the order.
    let res = fetch(&app, png["url"].as_str().unwrap()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert_eq!(
        res.headers()["content-disposition"],
        format!("attachment; filename=\"star-map-{number}-1.png\"").as_str()
    );
    assert_eq!(png_size(&res.bytes().await.unwrap()), (3508, 4961));
    let res = fetch(&app, pdf["url"].as_str().unwrap()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert!(res.bytes().await.unwrap().starts_with(b"%PDF-"));

    // A tampered signature is refused; a link past its time is gone.
    let url = png["url"].as_str().unwrap();
    let sig = reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "signature")
        .unwrap()
        .1
        .to_string();
    let flipped = format!(
        "{}{}",
        &sig[..sig.len() - 1],
        if sig.ends_with('0') { '1' } else { '0' }
    );
    let r = Reply::from_response(fetch(&app, &with_param(url, "signature", &flipped)).await).await;
    r.assert_problem(403, "forbidden");
    let old = (cielo_core::Timestamp::now().as_unix_seconds() - 60).to_string();
    let r = Reply::from_response(fetch(&app, &with_param(url, "expires", &old)).await).await;
    r.assert_problem(410, "download-link-expired");

    // Each view makes new links.
    let again = app.get(&api).await.body;
    assert_eq!(again["downloads"]["files"].as_array().unwrap().len(), 2);

    // The order page shows both links.
    let page = order_page(&app, &order, &token).await;
    assert!(
        page.contains("Download PNG") && page.contains("Download PDF"),
        "{page}"
    );
    assert!(page.contains(&format!("star-map-{number}-1.png")));
    assert!(page.contains(&format!("star-map-{number}-1.pdf")));
    let current = app.get(&api).await.body;
    for f in current["downloads"]["files"].as_array().unwrap() {
        let url = f["url"].as_str().unwrap();
        assert!(url.contains("/storage/artwork/"), "{url}");
        let path = &url[url.find("/storage/").unwrap()..url.find('?').unwrap()];
        assert!(page.contains(path), "{path} not on the page");
    }
    assert!(page.contains("Digital downloads only: nothing to ship."));

    // Exactly one "download ready" email, linking to the order page with its
    // token; no "delivered" email for a download.
    let ms = messages(&app, &admin, &order).await;
    let kinds: Vec<&str> = ms.iter().map(|m| m["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "download_ready").count(),
        1,
        "{kinds:?}"
    );
    assert!(!kinds.contains(&"delivered"), "{kinds:?}");
    assert!(!kinds.contains(&"print_file_ready"), "{kinds:?}");
    let m = ms.iter().find(|m| m["kind"] == "download_ready").unwrap();
    assert_eq!(m["recipient"], "ana@example.com");
    assert_eq!(m["status"], "sent", "{m}");
    let detail = app
        .get_as(
            &format!(
                "/api/admin/notifications/messages/{}",
                m["id"].as_str().unwrap()
            ),
            &admin,
        )
        .await
        .body;
    let link = detail["message"]["data"]["order"]["link"]
        .as_str()
        .unwrap_or_else(|| panic!("{detail}"));
    assert!(
        link.contains(&format!("order={order}&token=")),
        "the email links to the order page with a token: {link}"
    );
    let eml = String::from_utf8(
        app.state
            .notify
            .as_ref()
            .unwrap()
            .outbox_file(&format!("{}.eml", m["id"].as_str().unwrap()))
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(eml.contains("Subject: Your download is ready: #"), "{eml}");
    assert!(
        !eml.contains("/storage/"),
        "no short-lived file link in an email"
    );

    // The event again (a duplicated delivery) sends nothing new.
    let mut tx = app.state.db.begin_write().await.unwrap();
    cielo_jobs::publish(
        &mut tx,
        "order.in_production",
        json!({"order_id": order, "to": "in_production", "cause": "replayed"}),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    app.run_pending_jobs().await;
    let n = messages(&app, &admin, &order)
        .await
        .iter()
        .filter(|m| m["kind"] == "download_ready")
        .count();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn after_the_download_period_the_links_are_gone_and_the_page_says_so() {
    // Arrange: a shop whose downloads last one second.
    let app = spawn_app_with(true, |s| {
        quick(s);
        s.downloads.period_secs = 1;
    })
    .await;
    let admin = app.admin_token().await;
    let (digital, _) = poster_variants(&app).await;
    let cart = app.new_cart(None).await;
    add_poster(&app, &cart, digital["id"].as_str().unwrap()).await;
    let r = app
        .checkout(&cart, None, None, &json!({"email": "ben@example.com"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let order = r.body["order_id"].as_str().unwrap().to_string();
    let token = r.body["access_token"].as_str().unwrap().to_string();
    app.pay_on_test_page(&admin, &order).await;
    run_until(&app, &admin, &order, "delivered").await;

    // Act: the period passes.
    tokio::time::sleep(Duration::from_millis(2100)).await;

    // Assert: the API says expired and gives no link; so does the page.
    let o = app
        .get(&format!("/api/store/orders/{order}?token={token}"))
        .await
        .body;
    assert_eq!(o["downloads"]["state"], "expired", "{o}");
    assert_eq!(o["downloads"]["files"], json!([]));
    let page = order_page(&app, &order, &token).await;
    assert!(page.contains("the downloads have expired"), "{page}");
    assert!(!page.contains("/storage/"), "{page}");
    assert!(!page.contains("Download PNG"), "{page}");
}

#[tokio::test]
async fn a_mixed_cart_needs_an_address_and_ships_only_its_physical_lines() {
    let app = spawn_app_with(true, quick).await;
    let admin = app.admin_token().await;
    let (digital, _) = poster_variants(&app).await;
    let mug = app.get("/api/store/products/star-chart-mug").await.body["variants"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // A download alone ships nothing; with a mug, shipping is charged.
    let cart = app.new_cart(None).await;
    add_poster(&app, &cart, digital["id"].as_str().unwrap()).await;
    app.add_line(&cart, None, &mug, 1).await;
    let c = app.get(&format!("/api/store/carts/{cart}")).await.body;
    assert!(
        c["totals"]["shipping"]["amount"].as_i64().unwrap() > 0,
        "{c}"
    );

    // No address: refused, naming the field, and nothing is written.
    let r = app
        .checkout(&cart, None, None, &json!({"email": "cy@example.com"}))
        .await;
    r.assert_problem(422, "validation-failed");
    assert_eq!(r.pointers(), ["#/shipping_address"], "{}", r.body);
    assert_eq!(
        app.get(&format!("/api/store/carts/{cart}")).await.body["status"],
        "open"
    );

    // With one: the order, shipping on the mug.
    let r = app
        .checkout(&cart, None, None, &checkout_body("cy@example.com"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let order = r.body["order_id"].as_str().unwrap().to_string();
    let token = r.body["access_token"].as_str().unwrap().to_string();
    app.pay_on_test_page(&admin, &order).await;
    let o = run_until(&app, &admin, &order, "in_production").await;
    assert!(o["totals"]["shipping"]["amount"].as_i64().unwrap() > 0);

    // The lab gets the mug only; the download is ready now, and the order
    // waits for its parcel.
    let mug_line = o["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["delivery"] == "physical")
        .unwrap()["id"]
        .clone();
    let labs = app
        .get_as(&format!("/api/admin/orders/{order}/lab-orders"), &admin)
        .await
        .body;
    let labs = labs.as_array().unwrap();
    assert_eq!(labs.len(), 1, "{labs:?}");
    let items = labs[0]["request"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["line_id"], mug_line);
    let b = app
        .get(&format!("/api/store/orders/{order}?token={token}"))
        .await
        .body;
    assert_eq!(b["status"], "in_production", "{b}");
    assert_eq!(b["downloads"]["state"], "available", "{b}");
    assert_eq!(b["downloads"]["files"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_digital_variant_has_no_lab() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let r = app
        .post_as(
            "/api/admin/products",
            &admin,
            &json!({"title": "Sky file", "product_type": "starmap_poster", "option_names": ["size"],
                "variants": [{"sku": "SKY-DL", "price": {"amount": 900, "currency": "USD"},
                    "option_values": {"size": "A3"}, "delivery": "digital", "lab": "local"}]}),
        )
        .await;
    r.assert_problem(422, "validation-failed");
    assert_eq!(r.pointers(), ["#/variants/0/lab"], "{}", r.body);

    // Only a product whose print files Cielo makes can be downloaded: a mug
    // sold as a download would leave its buyer with nothing, so neither a
    // new product, nor a new variant, nor a change of delivery is accepted.
    let r = app
        .post_as(
            "/api/admin/products",
            &admin,
            &json!({"title": "Mug file", "product_type": "mug", "option_names": ["size"],
                "variants": [{"sku": "MUG-DL", "price": {"amount": 900, "currency": "USD"},
                    "option_values": {"size": "11oz"}, "delivery": "digital"}]}),
        )
        .await;
    r.assert_problem(422, "validation-failed");
    assert_eq!(r.pointers(), ["#/variants/0/delivery"], "{}", r.body);
    let r = app
        .post_as(
            "/api/admin/products",
            &admin,
            &json!({"title": "Mug", "product_type": "mug", "option_names": ["size"],
                "variants": [{"sku": "MUG-1", "price": {"amount": 900, "currency": "USD"},
                    "option_values": {"size": "11oz"}}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let mug = r.body["id"].as_str().unwrap().to_string();
    let mug_variant = r.body["variants"][0]["id"].as_str().unwrap().to_string();
    let r = app
        .post_as(
            &format!("/api/admin/products/{mug}/variants"),
            &admin,
            &json!({"sku": "MUG-DL", "price": {"amount": 900, "currency": "USD"},
                "option_values": {"size": "15oz"}, "delivery": "digital"}),
        )
        .await;
    r.assert_problem(422, "validation-failed");
    assert_eq!(r.pointers(), ["#/delivery"], "{}", r.body);
    let r = app
        .request(
            reqwest::Method::PATCH,
            &format!("/api/admin/variants/{mug_variant}"),
            Some(&admin),
            Some(&json!({"delivery": "digital"})),
        )
        .await;
    r.assert_problem(422, "validation-failed");
    assert_eq!(r.pointers(), ["#/delivery"], "{}", r.body);

    let r = app
        .post_as(
            "/api/admin/products",
            &admin,
            &json!({"title": "Sky file", "product_type": "starmap_poster", "option_names": ["size"],
                "variants": [{"sku": "SKY-DL", "price": {"amount": 900, "currency": "USD"},
                    "option_values": {"size": "A3"}, "delivery": "digital"}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let v = &r.body["variants"][0];
    assert_eq!(v["delivery"], "digital");
    let id = v["id"].as_str().unwrap();
    let r = app
        .request(
            reqwest::Method::PATCH,
            &format!("/api/admin/variants/{id}"),
            Some(&admin),
            Some(&json!({"lab": "printful"})),
        )
        .await;
    r.assert_problem(422, "validation-failed");
    assert_eq!(r.pointers(), ["#/lab"], "{}", r.body);
    let r = app
        .request(
            reqwest::Method::PATCH,
            &format!("/api/admin/variants/{id}"),
            Some(&admin),
            Some(&json!({"delivery": "physical", "lab": "local"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["delivery"], "physical");
    assert_eq!(app.get("/api/store/products?limit=100").await.status, 200);
}
