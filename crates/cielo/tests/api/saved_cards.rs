//! Saved cards with the built-in test provider: a signed-in buyer ticks
//! "save this card" on the test payment page, finds the card in the API and
//! on the account page, pays with it next time and removes it; nobody else
//! sees or removes it; a guest is never offered saving.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};

/// A client that does not follow redirects.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn product(app: &TestApp) -> String {
    let admin = app.admin_token().await;
    app.create_product(&admin, "Night Sky Poster", &[("NSP-1", 2500)])
        .await["variants"][0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Checks out one poster (signed in with `token`, or as a guest) and returns
/// the payment page's path.
async fn checkout(app: &TestApp, variant: &str, token: Option<&str>, email: &str) -> String {
    let cart = app.new_cart(token).await;
    app.add_line(&cart, token, variant, 1).await;
    let r = app
        .checkout(&cart, token, None, &checkout_body(email))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let url = r.body["payment_url"].as_str().unwrap();
    url[url.find("/checkout/test/").unwrap()..].to_string()
}

async fn post_form(
    app: &TestApp,
    path: &str,
    cookie: &str,
    form: &[(&str, &str)],
) -> (u16, String) {
    let res = browser()
        .post(format!("{}{path}", app.address))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(form).unwrap())
        .send()
        .await
        .unwrap();
    let location = res
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (res.status().as_u16(), location)
}

async fn cards(app: &TestApp, token: &str) -> Vec<Value> {
    let r = app.get_as("/api/store/me/payment-methods", token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["payment_methods"].as_array().unwrap().clone()
}

async fn csrf(app: &TestApp) -> String {
    let res = browser()
        .get(format!("{}/account/signin", app.address))
        .send()
        .await
        .unwrap();
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("cielo_csrf="))
        .expect("a CSRF cookie");
    cookie.split(';').next().unwrap()["cielo_csrf=".len()..].to_string()
}

async fn saved_rows(app: &TestApp) -> i64 {
    use cielo_db::sqlx::Row;
    cielo_db::sqlx::query("select count(*) from payments_test_card")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap()
}

#[tokio::test]
async fn a_signed_in_buyer_saves_a_card_sees_it_pays_with_it_and_removes_it() {
    let app = spawn_app().await;
    let variant = product(&app).await;
    let alice = app.register("alice@example.com").await;
    let bob = app.register("bob@example.com").await;
    assert!(cards(&app, &alice).await.is_empty());

    // First checkout: the page offers saving, and has no saved card yet.
    let pay = checkout(&app, &variant, Some(&alice), "alice@example.com").await;
    let (status, html) = app.page(&pay, "").await;
    assert_eq!(status, 200);
    assert!(html.contains("Save this card for next time"), "{html}");
    assert!(!html.contains("Pay with"), "{html}");
    // A typing mistake brings the page back saying what to fix (never a
    // problem document in the browser), and takes no payment.
    for (number, expiry, which, says) in [
        ("1234", "08/31", "number", "Check the card number."),
        // As Stripe's test mode: a number failing the Luhn check, and a
        // card that has expired.
        (
            "4242 4242 4242 4241",
            "08/31",
            "number",
            "Check the card number.",
        ),
        (
            "5555 5555 5555 4444",
            "01/20",
            "expiry",
            "Check the expiry date.",
        ),
        (
            "5555 5555 5555 4444",
            "13/99",
            "expiry",
            "Check the expiry date.",
        ),
    ] {
        let (status, to) = post_form(
            &app,
            &pay,
            "",
            &[
                ("action", "pay"),
                ("card_number", number),
                ("card_expiry", expiry),
            ],
        )
        .await;
        assert_eq!(status, 303, "{to}");
        assert!(to.ends_with(&format!("?invalid={which}")), "{to}");
        let again = &to[to.find("/checkout/test/").unwrap()..];
        let (status, html) = app.page(again, "").await;
        assert_eq!(status, 200);
        assert!(html.contains(says), "{html}");
        assert!(html.contains("Save this card for next time"), "{html}");
    }
    let (status, to) = post_form(
        &app,
        &pay,
        "",
        &[
            ("action", "pay"),
            ("card_number", "5555 5555 5555 4444"),
            ("card_expiry", "08/31"),
            ("save_card", "1"),
        ],
    )
    .await;
    assert_eq!(status, 303, "{to}");
    assert!(to.contains("paid=1"), "{to}");

    // The API lists it: brand, last four and expiry, never the number.
    let r = app.get_as("/api/store/me/payment-methods", &alice).await;
    assert!(!r.body.to_string().contains("5555555555554444"));
    let listed = r.body["payment_methods"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 1, "{}", r.body);
    let card = &listed[0];
    let id = card["id"].as_str().unwrap().to_string();
    assert_eq!(
        card,
        &json!({"id": id, "brand": "mastercard", "last4": "4444", "exp_month": 8, "exp_year": 2031})
    );

    // Bob sees none of it and cannot remove it; nor can anyone signed out.
    assert!(cards(&app, &bob).await.is_empty());
    app.request(
        Method::DELETE,
        &format!("/api/store/me/payment-methods/{id}"),
        Some(&bob),
        None,
    )
    .await
    .assert_problem(404, "payment-method-not-found");
    app.request(
        Method::DELETE,
        &format!("/api/store/me/payment-methods/{id}"),
        None,
        None,
    )
    .await
    .assert_problem(401, "unauthenticated");
    app.get("/api/store/me/payment-methods")
        .await
        .assert_problem(401, "unauthenticated");
    assert_eq!(cards(&app, &alice).await.len(), 1);

    // Next checkout: the saved card is offered, and paying with it works.
    let pay2 = checkout(&app, &variant, Some(&alice), "alice@example.com").await;
    let (_, html) = app.page(&pay2, "").await;
    assert!(html.contains("Pay with"), "{html}");
    assert!(html.contains("Mastercard •••• 4444"), "{html}");
    assert!(html.contains(&format!("value='{id}'")), "{html}");
    // The number and expiry belong to "a new card": inside that choice, named
    // for it, and not chosen while a saved card is (the stylesheet hides them).
    let new_card = &html[html.find("id=new-card>").expect("a new-card group")..];
    assert!(new_card.contains("id=card_number") && new_card.contains("id=card_expiry"));
    assert!(html.find("id=card-new").unwrap() < html.find("id=card_number").unwrap());
    assert!(html.contains("New card number"), "{html}");
    assert!(
        html.contains("the fields are used only for a new card"),
        "{html}"
    );
    assert!(
        !html.contains("value=new checked"),
        "a saved card is chosen first"
    );
    // Back from a mistyped new card, "a new card" is the one chosen.
    let (_, to) = post_form(
        &app,
        &pay2,
        "",
        &[("action", "pay"), ("card", "new"), ("card_number", "12")],
    )
    .await;
    let (_, again) = app
        .page(&to[to.find("/checkout/test/").unwrap()..], "")
        .await;
    assert!(again.contains("value=new checked"), "{again}");
    let (status, to) = post_form(&app, &pay2, "", &[("action", "pay"), ("card", &id)]).await;
    assert_eq!(status, 303, "{to}");
    assert_eq!(
        cards(&app, &alice).await.len(),
        1,
        "paying with it saves no copy"
    );

    // A third order, paid with a new Visa saved too: two cards now.
    let pay3 = checkout(&app, &variant, Some(&alice), "alice@example.com").await;
    let (status, _) = post_form(
        &app,
        &pay3,
        "",
        &[
            ("action", "pay"),
            ("card", "new"),
            ("card_number", ""),
            ("save_card", "1"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let both = cards(&app, &alice).await;
    assert_eq!(both.len(), 2, "{both:?}");
    let visa = both.iter().find(|c| c["brand"] == "visa").unwrap();
    assert_eq!(
        (visa["last4"].as_str(), visa["exp_month"].as_i64()),
        (Some("4242"), Some(12))
    );
    let visa_id = visa["id"].as_str().unwrap().to_string();

    // The account page lists both with a Remove form; Bob's page says none.
    let token = csrf(&app).await;
    let alice_cookie = format!("cielo_csrf={token}; cielo_session={alice}");
    let (status, html) = app.page("/account", &alice_cookie).await;
    assert_eq!(status, 200);
    assert!(html.contains("Saved cards"), "{html}");
    assert!(
        html.contains("Mastercard •••• 4444") && html.contains("08/31"),
        "{html}"
    );
    assert!(
        html.contains("Visa •••• 4242") && html.contains("12/34"),
        "{html}"
    );
    assert!(html.contains(&format!("action=\"/account/payment-methods/{id}/delete\"")));
    let (_, bob_html) = app.page("/account", &format!("cielo_session={bob}")).await;
    assert!(
        !bob_html.contains("4444") && bob_html.contains("No saved cards."),
        "{bob_html}"
    );

    // Removed through the API (204), then through the page's form.
    let r = app
        .request(
            Method::DELETE,
            &format!("/api/store/me/payment-methods/{visa_id}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let (status, to) = post_form(
        &app,
        &format!("/account/payment-methods/{id}/delete"),
        &alice_cookie,
        &[("_csrf", token.as_str())],
    )
    .await;
    assert_eq!((status, to.as_str()), (303, "/account#cards"));
    assert!(cards(&app, &alice).await.is_empty());
    app.request(
        Method::DELETE,
        &format!("/api/store/me/payment-methods/{id}"),
        Some(&alice),
        None,
    )
    .await
    .assert_problem(404, "payment-method-not-found");
    let (_, html) = app.page("/account", &alice_cookie).await;
    assert!(html.contains("No saved cards."), "{html}");
}

#[tokio::test]
async fn a_guest_is_never_offered_saving_and_cannot_pay_with_someone_elses_card() {
    let app = spawn_app().await;
    let variant = product(&app).await;
    let pay = checkout(&app, &variant, None, "guest@example.com").await;
    let (status, html) = app.page(&pay, "").await;
    assert_eq!(status, 200);
    assert!(!html.contains("Save this card"), "{html}");
    assert!(!html.contains("save_card"), "{html}");

    // Alice saves a card; a guest's page can neither save one nor use hers.
    let alice = app.register("alice@example.com").await;
    let mine = checkout(&app, &variant, Some(&alice), "alice@example.com").await;
    post_form(&app, &mine, "", &[("action", "pay"), ("save_card", "1")]).await;
    let id = cards(&app, &alice).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = post_form(&app, &pay, "", &[("action", "pay"), ("card", &id)]).await;
    assert_eq!(status, 400, "a guest cannot pay with a saved card");
    let (status, _) = post_form(&app, &pay, "", &[("action", "pay"), ("save_card", "1")]).await;
    assert_eq!(status, 303);
    assert_eq!(saved_rows(&app).await, 1, "the guest's card was not saved");
}

#[tokio::test]
async fn stripes_declining_test_cards_are_declined_like_the_decline_button() {
    let app = spawn_app().await;
    let variant = product(&app).await;
    let alice = app.register("alice@example.com").await;
    for number in ["4000 0000 0000 0002", "4000000000009995"] {
        let pay = checkout(&app, &variant, Some(&alice), "alice@example.com").await;
        let (status, html) = app.page(&pay, "").await;
        assert_eq!(status, 200);
        // The order as people read it, not its id.
        let mine = app.get_as("/api/store/orders?limit=1", &alice).await;
        let order = mine.body["orders"][0]["id"].as_str().unwrap().to_string();
        let number_shown = cielo_orders::OrderId::parse(&order).unwrap().number();
        assert!(html.contains(&number_shown), "{html}");
        assert!(!html.contains(&order), "{html}");
        let (status, to) = post_form(
            &app,
            &pay,
            "",
            &[
                ("action", "pay"),
                ("card_number", number),
                ("card_expiry", "08/31"),
                ("save_card", "1"),
            ],
        )
        .await;
        assert_eq!(status, 303, "{to}");
        assert!(to.ends_with("?declined=1"), "{number}: {to}");
        let (_, again) = app
            .page(&to[to.find("/checkout/test/").unwrap()..], "")
            .await;
        assert!(again.contains("Your card was declined."), "{again}");
        let o = app
            .get_as(&format!("/api/store/orders/{order}"), &alice)
            .await;
        assert_eq!(o.body["status"], "pending_payment", "{number}: {}", o.body);
    }
    assert!(
        cards(&app, &alice).await.is_empty(),
        "a declined card is not saved"
    );
}
