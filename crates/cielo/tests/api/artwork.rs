//! Print files: a paid star-map order gets its artwork without anyone
//! touching it, and buyers and admins download it through signed links.

use crate::helpers::*;
use cielo_orders::{OrderId, OrderStatus};
use serde_json::{json, Value};

fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    (
        u32::from_be_bytes(bytes[16..20].try_into().unwrap()),
        u32::from_be_bytes(bytes[20..24].try_into().unwrap()),
    )
}

#[tokio::test]
async fn a_paid_star_map_order_gets_its_print_file_and_moves_into_production() {
    // Arrange: a guest buys an A3 star map and a mug.
    let app = spawn_app_with_demo().await;
    let admin = app.admin_token().await;
    let poster = app
        .get("/api/store/products/personalised-star-map-poster")
        .await
        .body;
    let a3 = poster["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["option_values"]["size"] == "A3")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mug = app.get("/api/store/products/star-chart-mug").await.body["variants"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let cart = app.new_cart(None).await;
    let options = json!({"lat": 40.4168, "lon": -3.7038, "date": "2024-08-13", "time": "00:30", "tz": "Europe/Madrid", "title": "Nuestra noche"});
    let r = app
        .post(
            &format!("/api/store/carts/{cart}/lines"),
            &json!({"variant_id": a3, "quantity": 1, "options": options}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    app.add_line(&cart, None, &mug, 1).await;
    let checkout = app
        .checkout(&cart, None, None, &checkout_body("ana@example.com"))
        .await
        .body;
    let order_id = checkout["order_id"].as_str().unwrap().to_string();
    let token = checkout["access_token"].as_str().unwrap().to_string();
    let order: Value = app
        .get(&format!("/api/store/orders/{order_id}?token={token}"))
        .await
        .body;
    let line = order["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["product_type"] == "starmap_poster")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let link_path = format!("/api/store/orders/{order_id}/lines/{line}/artwork?token={token}");
    app.get(&link_path)
        .await
        .assert_problem(404, "artwork-not-found");

    // Act: the payment is confirmed (an `order.paid` event), and the queue runs.
    app.state
        .orders
        .transition_now(
            OrderId::parse(&order_id).unwrap(),
            OrderStatus::Paid,
            "test payment",
        )
        .await
        .unwrap();
    app.run_pending_jobs().await;

    // Assert: the file exists, is recorded, and the order moved on.
    let order: Value = app
        .get_as(&format!("/api/admin/orders/{order_id}"), &admin)
        .await
        .body;
    assert_eq!(order["status"], "in_production", "{order}");
    let last = order["history"].as_array().unwrap().last().unwrap().clone();
    assert!(
        last["cause"]
            .as_str()
            .unwrap()
            .starts_with("artwork ready (job job_"),
        "{last}"
    );
    let star_line = order["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == line.as_str())
        .unwrap()
        .clone();
    let artwork = &star_line["artwork"];
    // The print file is the lab's product: A3 trim (3508 x 4961 px at 300 DPI)
    // plus the lab's bleed on every side.
    let lab = star_line["lab"].as_str().expect("the poster goes to a lab");
    let spec = cielo_starmap_product::print_spec(lab, "a3").expect("the lab sells A3");
    assert!(spec.bleed_mm > 0.0, "{spec:?}");
    let px = |mm: f64| ((mm + 2.0 * spec.bleed_mm) / 25.4 * 300.0).round() as i64;
    let expected = (px(297.0), px(420.0));
    assert!(expected.0 > 3508 && expected.1 > 4961, "{expected:?}");
    assert_eq!(
        (
            artwork["width_px"].as_i64().unwrap(),
            artwork["height_px"].as_i64().unwrap()
        ),
        expected,
        "A3 at 300 DPI with the {lab} lab's bleed: {artwork}"
    );
    let mug_line = order["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["product_type"] != "starmap_poster")
        .unwrap();
    assert!(mug_line["artwork"].is_null());

    let link = app.get(&link_path).await;
    assert_eq!(link.status, 200, "{}", link.body);
    let url = link.body["url"].as_str().unwrap();
    assert!(url.contains("signature="), "a signed, expiring link: {url}");
    let bytes = app
        .client
        .get(url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(png_size(&bytes), (expected.0 as u32, expected.1 as u32));
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&bytes))
    };
    assert_eq!(link.body["sha256"], digest.as_str());

    // Only the buyer (by token) and admins get links.
    app.get(&format!(
        "/api/store/orders/{order_id}/lines/{line}/artwork?token=oat_wrong"
    ))
    .await
    .assert_problem(404, "order-not-found");
    app.get(&format!(
        "/api/store/orders/{order_id}/lines/{line}/artwork"
    ))
    .await
    .assert_problem(404, "order-not-found");
    let stranger = app.register("someone@example.com").await;
    app.get_as(
        &format!("/api/store/orders/{order_id}/lines/{line}/artwork"),
        &stranger,
    )
    .await
    .assert_problem(404, "order-not-found");
    assert_eq!(
        app.get_as(
            &format!("/api/admin/orders/{order_id}/lines/{line}/artwork"),
            &admin
        )
        .await
        .status,
        200
    );
    // A tampered link serves nothing.
    assert_eq!(
        app.client
            .get(url.replace("signature=", "signature=0"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );

    // A duplicated job changes nothing.
    app.enqueue(cielo_jobs::NewJob::new(
        cielo::app::KIND_RENDER_ARTWORK,
        json!({"order_id": order_id}),
    ))
    .await;
    app.run_pending_jobs().await;
    let again: Value = app
        .get_as(&format!("/api/admin/orders/{order_id}"), &admin)
        .await
        .body;
    let again_line = again["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == line.as_str())
        .unwrap()
        .clone();
    assert_eq!(again_line["artwork"]["created_at"], artwork["created_at"]);
    assert_eq!(
        again["history"].as_array().unwrap().len(),
        order["history"].as_array().unwrap().len()
    );
    // Fully refunded: the buyer's print file goes, as a digital order's
    // downloads do (by token, on the order page); the shop keeps it.
    let page_path = format!("/orders/{order_id}?token={token}");
    let page = app
        .client
        .get(format!("{}{page_path}", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("/orders/{order_id}/lines/{line}/print")),
        "{page}"
    );
    app.state
        .orders
        .transition_now(
            OrderId::parse(&order_id).unwrap(),
            OrderStatus::Refunded,
            "test refund",
        )
        .await
        .unwrap();
    let r = app.get(&link_path).await;
    r.assert_problem(409, "artwork-unavailable");
    assert!(
        r.body["detail"].as_str().unwrap().contains("paid order"),
        "{}",
        r.body
    );
    let print = app
        .client
        .get(format!(
            "{}/orders/{order_id}/lines/{line}/print?token={token}",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_ne!(print.status().as_u16(), 200);
    let page = app
        .client
        .get(format!("{}{page_path}", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains(&format!("/orders/{order_id}/lines/{line}/print")),
        "{page}"
    );
    assert_eq!(
        app.get_as(
            &format!("/api/admin/orders/{order_id}/lines/{line}/artwork"),
            &admin
        )
        .await
        .status,
        200,
        "the shop still gets it"
    );
}
