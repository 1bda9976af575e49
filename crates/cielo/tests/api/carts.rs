//! Carts and checkout: server-side prices, bad input, isolation, idempotency.

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

async fn shop() -> (TestApp, String, String) {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let p = app
        .create_product(&admin, "Poster", &[("POSTER-A3", 3900)])
        .await;
    let variant = p["variants"][0]["id"].as_str().unwrap().to_string();
    (app, admin, variant)
}

#[tokio::test]
async fn prices_come_from_the_catalog_not_the_client() {
    let (app, admin, variant) = shop().await;
    let cart = app.new_cart(None).await;
    let r = app
        .post(&format!("/api/store/carts/{cart}/lines"), &json!({"variant_id": variant, "quantity": 2, "unit_price": {"amount": 1, "currency": "USD"}}))
        .await;
    r.assert_problem(422, "validation-failed");
    assert_eq!(r.pointers(), vec!["#/unit_price"]);

    let c = app.add_line(&cart, None, &variant, 2).await;
    assert_eq!(c.status, 200, "{}", c.body);
    assert_eq!(c.body["lines"][0]["unit_price"]["amount"], 3900);
    assert_eq!(c.body["totals"]["subtotal"]["amount"], 7800);

    // A price change in the catalog shows in the cart at once.
    app.request(
        Method::PATCH,
        &format!("/api/admin/variants/{variant}"),
        Some(&admin),
        Some(&json!({"price": {"amount": 4200, "currency": "USD"}})),
    )
    .await;
    let c = app.get(&format!("/api/store/carts/{cart}")).await;
    assert_eq!(c.body["totals"]["subtotal"]["amount"], 8400);
}

#[tokio::test]
async fn lines_are_added_merged_updated_and_removed() {
    let (app, _admin, variant) = shop().await;
    let cart = app.new_cart(None).await;
    app.add_line(&cart, None, &variant, 1).await;
    let c = app.add_line(&cart, None, &variant, 2).await.body;
    assert_eq!(
        c["lines"].as_array().unwrap().len(),
        1,
        "same variant, same options: one line"
    );
    assert_eq!(c["lines"][0]["quantity"], 3);
    // A product that takes no personalisation refuses options (they would
    // reach the storefront and the lab unchecked), whatever their shape.
    for options in [
        json!({"title": "Our night", "lat": 40.4}),
        json!({"lat": "str"}),
        json!(["x"]),
    ] {
        let r = app
            .post(
                &format!("/api/store/carts/{cart}/lines"),
                &json!({"variant_id": variant, "quantity": 1, "options": options}),
            )
            .await;
        r.assert_problem(422, "validation-failed");
        assert_eq!(r.pointers(), vec!["#/options"], "{options}");
    }
    let empty = app
        .post(
            &format!("/api/store/carts/{cart}/lines"),
            &json!({"variant_id": variant, "quantity": 1, "options": {}}),
        )
        .await
        .body;
    assert_eq!(
        empty["lines"].as_array().unwrap().len(),
        1,
        "empty options are no options: the same line"
    );
    assert_eq!(empty["lines"][0]["quantity"], 4);
    let line = c["lines"][0]["id"].as_str().unwrap();
    let upd = app
        .request(
            Method::PATCH,
            &format!("/api/store/carts/{cart}/lines/{line}"),
            None,
            Some(&json!({"quantity": 5})),
        )
        .await;
    assert_eq!(upd.body["lines"][0]["quantity"], 5);
    let del = app
        .request(
            Method::DELETE,
            &format!("/api/store/carts/{cart}/lines/{line}"),
            None,
            None,
        )
        .await;
    assert_eq!(del.body["lines"].as_array().unwrap().len(), 0);
    let gone = app
        .request(
            Method::DELETE,
            &format!("/api/store/carts/{cart}/lines/{line}"),
            None,
            None,
        )
        .await;
    gone.assert_problem(404, "cart-line-not-found");
}

#[tokio::test]
async fn bad_lines_are_refused_naming_the_field_and_change_nothing() {
    let (app, admin, variant) = shop().await;
    let eur = app
        .post_as("/api/admin/products", &admin, &json!({"title": "Euro Print", "status": "published", "variants": [{"sku": "EUR-1", "price": {"amount": 1000, "currency": "EUR"}}]}))
        .await
        .body;
    let eur_variant = eur["variants"][0]["id"].as_str().unwrap();
    let draft = app.post_as("/api/admin/products", &admin, &json!({"title": "Draft", "variants": [{"sku": "DRAFT-1", "price": {"amount": 1000, "currency": "USD"}}]})).await.body;
    let draft_variant = draft["variants"][0]["id"].as_str().unwrap();
    let cart = app.new_cart(None).await;
    let cases = [
        (json!({"variant_id": variant, "quantity": 0}), "#/quantity"),
        (json!({"variant_id": variant, "quantity": -3}), "#/quantity"),
        (
            json!({"variant_id": variant, "quantity": 1000000}),
            "#/quantity",
        ),
        (
            json!({"variant_id": variant, "quantity": "two"}),
            "#/quantity",
        ),
        (json!({"variant_id": variant}), "#/quantity"),
        (json!({"quantity": 1}), "#/variant_id"),
        (
            json!({"variant_id": "var_0193a0b2c3d47e8f9a0b1c2d3e4f5a6b", "quantity": 1}),
            "#/variant_id",
        ),
        (
            json!({"variant_id": "prod_0193a0b2c3d47e8f9a0b1c2d3e4f5a6b", "quantity": 1}),
            "#/variant_id",
        ),
        (
            json!({"variant_id": draft_variant, "quantity": 1}),
            "#/variant_id",
        ),
        (
            json!({"variant_id": eur_variant, "quantity": 1}),
            "#/variant_id",
        ),
        (
            json!({"variant_id": variant, "quantity": 1, "options": "not an object"}),
            "#/options",
        ),
        (
            json!({"variant_id": variant, "quantity": 1, "options": {"message": "x".repeat(5000)}}),
            "#/options",
        ),
    ];
    for (body, pointer) in cases {
        let r = app
            .post(&format!("/api/store/carts/{cart}/lines"), &body)
            .await;
        r.assert_problem(422, "validation-failed");
        assert_eq!(r.pointers(), vec![pointer.to_string()], "case {body}");
    }
    let c = app.get(&format!("/api/store/carts/{cart}")).await.body;
    assert_eq!(c["lines"], json!([]), "nothing was written");
    app.post(
        &format!("/api/store/carts/{cart}/lines"),
        &json!({"variant_id": variant, "quantity": 1}),
    )
    .await;
    let bad_mix = app
        .post_raw(
            &format!("/api/store/carts/{cart}/lines"),
            "application/json",
            "{\"variant_id\": ",
        )
        .await;
    bad_mix.assert_problem(400, "malformed-json");
    let eur_cart = app
        .post("/api/store/carts", &json!({"currency": "EUR"}))
        .await;
    assert_eq!(eur_cart.body["currency"], "EUR");
    let mismatch = app
        .add_line(eur_cart.body["id"].as_str().unwrap(), None, &variant, 1)
        .await;
    mismatch.assert_problem(422, "validation-failed");
    assert!(mismatch.body["errors"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("USD"));
    app.post("/api/store/carts", &json!({"currency": "ZZZ"}))
        .await
        .assert_problem(422, "validation-failed");
}

#[tokio::test]
async fn stock_is_checked_when_adding_and_taken_at_checkout() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let p = app
        .post_as("/api/admin/products", &admin, &json!({"title": "Limited", "status": "published", "variants": [{"sku": "LTD-1", "price": {"amount": 1000, "currency": "USD"}, "stock": 2}]}))
        .await
        .body;
    let v = p["variants"][0]["id"].as_str().unwrap();
    let cart = app.new_cart(None).await;
    app.add_line(&cart, None, v, 3)
        .await
        .assert_problem(409, "out-of-stock");
    assert_eq!(app.add_line(&cart, None, v, 2).await.status, 200);
    let other = app.new_cart(None).await;
    assert_eq!(app.add_line(&other, None, v, 2).await.status, 200);
    assert_eq!(
        app.checkout(&cart, None, None, &checkout_body("a@example.com"))
            .await
            .status,
        201
    );
    let late = app
        .checkout(&other, None, None, &checkout_body("b@example.com"))
        .await;
    late.assert_problem(409, "out-of-stock");
    let stock = app
        .get_as(
            &format!("/api/admin/products/{}", p["id"].as_str().unwrap()),
            &admin,
        )
        .await
        .body["variants"][0]["stock"]
        .clone();
    assert_eq!(stock, 0);
}

#[tokio::test]
async fn a_customer_never_reaches_another_customers_cart() {
    let (app, _admin, variant) = shop().await;
    let ada = app.register("ada@example.com").await;
    let bob = app.register("bob@example.com").await;
    let cart = app.new_cart(Some(&ada)).await;
    assert_eq!(
        app.add_line(&cart, Some(&ada), &variant, 1).await.status,
        200
    );
    app.get_as(&format!("/api/store/carts/{cart}"), &bob)
        .await
        .assert_problem(404, "cart-not-found");
    app.get(&format!("/api/store/carts/{cart}"))
        .await
        .assert_problem(404, "cart-not-found");
    app.add_line(&cart, Some(&bob), &variant, 1)
        .await
        .assert_problem(404, "cart-not-found");
    app.checkout(&cart, Some(&bob), None, &checkout_body("bob@example.com"))
        .await
        .assert_problem(404, "cart-not-found");
    let c = app
        .get_as(&format!("/api/store/carts/{cart}"), &ada)
        .await
        .body;
    assert_eq!(c["lines"][0]["quantity"], 1, "untouched");
}

#[tokio::test]
async fn checkout_creates_a_pending_order_with_a_snapshot_and_a_payment_url() {
    let (app, admin, variant) = shop().await;
    let cart = app.new_cart(None).await;
    app.add_line(&cart, None, &variant, 2).await;
    let r = app
        .checkout(
            &cart,
            None,
            Some("key-1"),
            &checkout_body("Ada@Example.com"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["status"], "pending_payment");
    // 2 × 39.00 + 15.00 shipping to GB (the default rate).
    assert_eq!(r.body["total"], json!({"amount": 9300, "currency": "USD"}));
    let order_id = r.body["order_id"].as_str().unwrap();
    let token = r.body["access_token"].as_str().unwrap();
    assert!(r.body["payment_url"]
        .as_str()
        .unwrap()
        .starts_with(&app.address));
    assert_eq!(
        app.client
            .get(r.body["payment_url"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // A later catalog price change does not touch the order.
    app.request(
        Method::PATCH,
        &format!("/api/admin/variants/{variant}"),
        Some(&admin),
        Some(&json!({"price": {"amount": 9900, "currency": "USD"}})),
    )
    .await;
    let order = app
        .client
        .get(format!("{}/api/store/orders/{order_id}", app.address))
        .header("x-order-token", token)
        .send()
        .await
        .unwrap();
    let order: serde_json::Value = order.json().await.unwrap();
    assert_eq!(order["email"], "ada@example.com");
    assert_eq!(order["lines"][0]["unit_price"]["amount"], 3900);
    assert_eq!(order["lines"][0]["sku"], "POSTER-A3");
    assert_eq!(order["shipping_address"]["city"], "London");
    assert_eq!(order["history"][0]["to"], "pending_payment");
    assert_eq!(order["history"][0]["cause"], "checkout");

    // The cart is done.
    app.add_line(&cart, None, &variant, 1)
        .await
        .assert_problem(409, "cart-completed");
    app.checkout(
        &cart,
        None,
        Some("key-2"),
        &checkout_body("ada@example.com"),
    )
    .await
    .assert_problem(409, "cart-completed");
}

#[tokio::test]
async fn the_same_idempotency_key_gives_the_same_result_and_a_different_body_is_refused() {
    let (app, _admin, variant) = shop().await;
    let cart = app.new_cart(None).await;
    app.add_line(&cart, None, &variant, 1).await;
    let first = app
        .checkout(
            &cart,
            None,
            Some("retry-me"),
            &checkout_body("ada@example.com"),
        )
        .await;
    let again = app
        .checkout(
            &cart,
            None,
            Some("retry-me"),
            &checkout_body("ada@example.com"),
        )
        .await;
    assert_eq!(first.status, 201);
    assert_eq!(again.status, 201);
    assert_eq!(
        first.body, again.body,
        "a retry answers exactly as the first"
    );
    let other = app
        .checkout(
            &cart,
            None,
            Some("retry-me"),
            &checkout_body("someone-else@example.com"),
        )
        .await;
    other.assert_problem(409, "idempotency-key-reused");

    let admin = app.admin_token().await;
    let orders = app.get_as("/api/admin/orders", &admin).await.body;
    assert_eq!(
        orders["orders"].as_array().unwrap().len(),
        1,
        "one order only"
    );
}

#[tokio::test]
async fn concurrent_checkouts_with_one_key_create_one_order() {
    let (app, _admin, variant) = shop().await;
    let cart = app.new_cart(None).await;
    app.add_line(&cart, None, &variant, 1).await;
    let body = checkout_body("ada@example.com");
    let attempts = (0..5).map(|_| app.checkout(&cart, None, Some("same"), &body));
    let results = futures::future::join_all(attempts).await;
    let ids: std::collections::HashSet<_> = results
        .iter()
        .filter(|r| r.status == 201)
        .map(|r| r.body["order_id"].to_string())
        .collect();
    assert_eq!(
        ids.len(),
        1,
        "{:?}",
        results
            .iter()
            .map(|r| r.body.to_string())
            .collect::<Vec<_>>()
    );
    for r in &results {
        assert!(r.status == 201 || r.status == 409, "{}", r.body);
    }
}

#[tokio::test]
async fn bad_checkouts_name_the_field_and_create_no_order() {
    let (app, admin, variant) = shop().await;
    let cart = app.new_cart(None).await;
    app.checkout(&cart, None, None, &checkout_body("ada@example.com"))
        .await
        .assert_problem(409, "cart-empty");
    app.add_line(&cart, None, &variant, 1).await;
    let cases = [
        (json!({"shipping_address": address()}), vec!["#/email"]),
        (
            json!({"email": "nope", "shipping_address": address()}),
            vec!["#/email"],
        ),
        (
            json!({"email": "a@example.com"}),
            vec!["#/shipping_address"],
        ),
        (
            json!({"email": "a@example.com", "shipping_address": {"name": "A", "line1": "", "city": "C", "postal_code": "1", "country": "Germany"}}),
            vec!["#/shipping_address/line1", "#/shipping_address/country"],
        ),
        // The carrier's phone must be a number it can dial, with its
        // country code; never stored as typed junk.
        (
            json!({"email": "a@example.com", "shipping_address": {"name": "A", "line1": "L", "city": "C", "postal_code": "1", "country": "DE", "phone": "12ab"}}),
            vec!["#/shipping_address/phone"],
        ),
    ];
    for (body, pointers) in cases {
        let r = app.checkout(&cart, None, None, &body).await;
        r.assert_problem(422, "validation-failed");
        assert_eq!(r.pointers(), pointers, "case {body}");
    }
    let r = app
        .checkout(
            &cart,
            None,
            Some(&"k".repeat(300)),
            &checkout_body("a@example.com"),
        )
        .await;
    r.assert_problem(422, "validation-failed");
    assert_eq!(
        app.get_as("/api/admin/orders", &admin).await.body["orders"],
        json!([])
    );
    assert_eq!(
        app.get(&format!("/api/store/carts/{cart}")).await.body["status"],
        "open"
    );
}

#[tokio::test]
async fn a_signed_in_checkout_uses_the_account_email_and_shipping_by_country() {
    let app = spawn_app_with(false, |s| {
        s.shipping.rates.insert("ES".into(), 700);
        s.tax.rates.insert("ES".into(), 2100);
    })
    .await;
    let admin = app.admin_token().await;
    let p = app.create_product(&admin, "Poster", &[("P-1", 1000)]).await;
    let ada = app.register("ada@example.com").await;
    let cart = app.new_cart(Some(&ada)).await;
    app.add_line(
        &cart,
        Some(&ada),
        p["variants"][0]["id"].as_str().unwrap(),
        1,
    )
    .await;
    let mut addr = address();
    addr["country"] = json!("es");
    let r = app
        .checkout(&cart, Some(&ada), None, &json!({"shipping_address": addr}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // 10.00 + 7.00 shipping to Spain + 21 % tax on goods (2.10).
    assert_eq!(r.body["total"]["amount"], 1910);
    let order = app
        .get_as(
            &format!("/api/store/orders/{}", r.body["order_id"].as_str().unwrap()),
            &ada,
        )
        .await
        .body;
    assert_eq!(order["email"], "ada@example.com");
    assert_eq!(order["totals"]["tax"]["amount"], 210);
}
