//! The countries the shop ships to (`shipping.countries`): one list, enforced
//! by the API at checkout, on an order's address correction and on saved
//! addresses, and offered by the pages.

use crate::helpers::*;
use serde_json::json;

async fn cart_with_a_line(app: &TestApp) -> String {
    let admin = app.admin_token().await;
    let p = app
        .create_product(&admin, "Poster", &[("POSTER-A3", 3900)])
        .await;
    let cart = app.new_cart(None).await;
    app.add_line(&cart, None, p["variants"][0]["id"].as_str().unwrap(), 1)
        .await;
    cart
}

#[tokio::test]
async fn the_api_refuses_a_checkout_to_a_country_the_shop_does_not_ship_to() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let cart = cart_with_a_line(&app).await;
    for country in ["RU", "ru", " Ru ", "SE"] {
        let mut body = checkout_body("buyer@example.com");
        body["shipping_address"]["country"] = json!(country);
        let r = app.checkout(&cart, None, None, &body).await;
        r.assert_problem(422, "validation-failed");
        assert_eq!(
            r.pointers(),
            vec!["#/shipping_address/country"],
            "{country}"
        );
        let detail = r.body["errors"][0]["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("do not ship to"), "{detail}");
    }
    let orders = app.get_as("/api/admin/orders", &admin).await;
    assert_eq!(orders.body["orders"], json!([]), "no order is written");
    // A country of the list goes through.
    let r = app
        .checkout(&cart, None, None, &checkout_body("buyer@example.com"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[tokio::test]
async fn the_shop_setting_decides_for_the_api_and_the_pages_alike() {
    let app = spawn_app_with(false, |s| {
        s.shipping.countries = vec!["IS".into(), "ru".into()];
    })
    .await;
    let cart = cart_with_a_line(&app).await;
    // GB is in the default list, not in this shop's.
    let r = app
        .checkout(&cart, None, None, &checkout_body("buyer@example.com"))
        .await;
    r.assert_problem(422, "validation-failed");
    assert_eq!(r.pointers(), vec!["#/shipping_address/country"]);
    // The cart page offers exactly the shop's countries.
    let page = reqwest::Client::new()
        .get(format!("{}/cart", app.address))
        .header("cookie", format!("cielo_cart={cart}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"<option value="IS""#), "{page}");
    assert!(page.contains(r#"<option value="RU""#), "{page}");
    assert!(page.contains("Iceland"), "named by its ISO name: {page}");
    assert!(!page.contains(r#"<option value="GB""#), "{page}");
    assert!(!page.contains(r#"<option value="US""#), "{page}");
    let mut body = checkout_body("buyer@example.com");
    body["shipping_address"]["country"] = json!("RU");
    let r = app.checkout(&cart, None, None, &body).await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[tokio::test]
async fn a_saved_address_must_be_in_a_country_the_shop_ships_to() {
    let app = spawn_app().await;
    let token = app.register("ada@example.com").await;
    let mut a = address();
    a["country"] = json!("RU");
    let r = app.post_as("/api/store/me/addresses", &token, &a).await;
    r.assert_problem(422, "validation-failed");
    assert_eq!(r.pointers(), vec!["#/country"]);
    let r = app
        .post_as("/api/store/me/addresses", &token, &address())
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let r = app
        .request(
            reqwest::Method::PUT,
            &format!("/api/store/me/addresses/{id}"),
            Some(&token),
            Some(&a),
        )
        .await;
    r.assert_problem(422, "validation-failed");
    assert_eq!(r.pointers(), vec!["#/country"]);
    let list = app.get_as("/api/store/me/addresses", &token).await;
    assert_eq!(list.body["addresses"][0]["country"], "GB");
}
