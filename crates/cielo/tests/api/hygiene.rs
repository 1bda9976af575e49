//! Text that people type: control characters, line breaks and bidirectional
//! overrides are refused with a 422 naming the field, wherever text enters;
//! country codes are real; personalisation only where a product takes it;
//! refund amounts are positive.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};

/// One of each kind of hidden character.
const HIDDEN: [&str; 7] = ["\0", "\n", "\r\n", "\t", "\u{202E}", "\u{2066}", "\u{7f}"];

#[tokio::test]
async fn names_and_profile_fields_refuse_hidden_characters() {
    let app = spawn_app().await;
    for (i, c) in HIDDEN.iter().enumerate() {
        let r = app
            .post(
                "/api/store/auth/register",
                &json!({"email": format!("h{i}@example.com"), "password": "correct horse battery", "name": format!("Ada{c}Lovelace")}),
            )
            .await;
        r.assert_problem(422, "validation-failed");
        assert_eq!(r.pointers(), vec!["#/name"], "{c:?}");
    }
    let token = app.register("ada@example.com").await;
    for c in HIDDEN {
        let r = app
            .request(
                Method::PATCH,
                "/api/store/me",
                Some(&token),
                Some(&json!({"name": format!("Ada{c}")})),
            )
            .await;
        r.assert_problem(422, "validation-failed");
        assert_eq!(r.pointers(), vec!["#/name"], "{c:?}");
    }
    assert_eq!(
        app.get_as("/api/store/me", &token).await.body["name"],
        "Test"
    );
}

#[tokio::test]
async fn address_lines_refuse_hidden_characters_and_countries_must_exist() {
    let app = spawn_app().await;
    let token = app.register("ada@example.com").await;
    for field in ["name", "line1", "line2", "city", "region", "postal_code"] {
        for c in HIDDEN {
            let mut a = address();
            a[field] = json!(format!("A{c}B"));
            let r = app.post_as("/api/store/me/addresses", &token, &a).await;
            r.assert_problem(422, "validation-failed");
            assert_eq!(r.pointers(), vec![format!("#/{field}")], "{field} {c:?}");
        }
    }
    for country in ["ZZ", "XX", "AA", "QQ", "UK"] {
        let mut a = address();
        a["country"] = json!(country);
        let r = app.post_as("/api/store/me/addresses", &token, &a).await;
        r.assert_problem(422, "validation-failed");
        assert_eq!(r.pointers(), vec!["#/country"], "{country}");
    }
    let mut a = address();
    a["country"] = json!("es");
    let r = app.post_as("/api/store/me/addresses", &token, &a).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["country"], "ES");
    let list = app.get_as("/api/store/me/addresses", &token).await;
    assert_eq!(list.body["addresses"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_shipping_name_with_a_nul_is_refused_and_no_order_is_stored() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let p = app.create_product(&admin, "Mug", &[("MUG-1", 1200)]).await;
    let cart = app.new_cart(None).await;
    app.add_line(&cart, None, p["variants"][0]["id"].as_str().unwrap(), 1)
        .await;
    for (field, value) in [
        ("name", "Ada\0Lovelace"),
        ("line1", "1 Main St\r\nX: y"),
        ("city", "London\u{202E}"),
        ("country", "ZZ"),
    ] {
        let mut body = checkout_body("buyer@example.com");
        body["shipping_address"][field] = json!(value);
        let r = app.checkout(&cart, None, None, &body).await;
        r.assert_problem(422, "validation-failed");
        assert_eq!(
            r.pointers(),
            vec![format!("#/shipping_address/{field}")],
            "{field}"
        );
    }
    let orders = app.get_as("/api/admin/orders", &admin).await;
    assert_eq!(orders.body["orders"], json!([]));
}

#[tokio::test]
async fn star_map_titles_and_messages_refuse_every_hidden_character_alike() {
    let app = spawn_app_with_demo().await;
    let product = app
        .get("/api/store/products/personalised-star-map-poster")
        .await
        .body;
    let variant = product["variants"][0]["id"].as_str().unwrap().to_string();
    let cart = app.new_cart(None).await;
    let base = json!({"lat": 40.4168, "lon": -3.7038, "tz": "Europe/Madrid", "date": "2024-08-13", "time": "00:30"});
    for field in ["title", "message"] {
        // A trailing line break too: refused, not trimmed away.
        for value in HIDDEN
            .iter()
            .map(|c| format!("Our{c}night"))
            .chain(["Our night\n".to_string()])
        {
            let mut options = base.clone();
            options[field] = Value::String(value.clone());
            let r = app
                .post(
                    &format!("/api/store/carts/{cart}/lines"),
                    &json!({"variant_id": variant, "quantity": 1, "options": options}),
                )
                .await;
            r.assert_problem(422, "validation-failed");
            assert_eq!(
                r.pointers(),
                vec![format!("#/options/{field}")],
                "{field} {value:?}: {}",
                r.body
            );
        }
    }
    let cart_now = app.get(&format!("/api/store/carts/{cart}")).await;
    assert_eq!(cart_now.body["lines"], json!([]));
}

#[tokio::test]
async fn a_product_without_personalisation_refuses_options() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let p = app.create_product(&admin, "Mug", &[("MUG-1", 1200)]).await;
    let variant = p["variants"][0]["id"].as_str().unwrap();
    let cart = app.new_cart(None).await;
    let r = app
        .post(
            &format!("/api/store/carts/{cart}/lines"),
            &json!({"variant_id": variant, "quantity": 1, "options": {"lat": "str"}}),
        )
        .await;
    r.assert_problem(422, "validation-failed");
    assert_eq!(r.pointers(), vec!["#/options"]);
    assert_eq!(
        app.get(&format!("/api/store/carts/{cart}")).await.body["lines"],
        json!([])
    );
}

#[tokio::test]
async fn a_refund_of_zero_or_less_is_a_validation_error_on_the_amount() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let p = app.create_product(&admin, "Mug", &[("MUG-1", 1200)]).await;
    let cart = app.new_cart(None).await;
    app.add_line(&cart, None, p["variants"][0]["id"].as_str().unwrap(), 1)
        .await;
    let order = app
        .checkout(&cart, None, None, &checkout_body("buyer@example.com"))
        .await
        .body["order_id"]
        .as_str()
        .unwrap()
        .to_string();
    for amount in [0, -1, i64::MIN] {
        let r = app
            .post_as(
                &format!("/api/admin/orders/{order}/refunds"),
                &admin,
                &json!({ "amount": amount }),
            )
            .await;
        r.assert_problem(422, "validation-failed");
        assert_eq!(r.pointers(), vec!["#/amount"], "{amount}");
    }
}
