//! The pages' security and behaviour over HTTP, as a browser sees them:
//! cookies, CSRF, the Content-Security-Policy, and the API's authorisation
//! rules on pages (a customer never sees another's order; admin pages need
//! the admin role).

use crate::helpers::*;
use reqwest::redirect::Policy;
use serde_json::Value;

/// A browser-like client that does not follow redirects, so tests see them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

struct Page {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Page {
    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    }
    fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }
    fn location(&self) -> String {
        self.headers
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }
}

async fn get(app: &TestApp, path: &str, cookie: &str) -> Page {
    let mut rb = browser().get(format!("{}{}", app.address, path));
    if !cookie.is_empty() {
        rb = rb.header("cookie", cookie);
    }
    let res = rb.send().await.unwrap();
    Page {
        status: res.status().as_u16(),
        headers: res.headers().clone(),
        body: res.text().await.unwrap(),
    }
}

async fn post_form(app: &TestApp, path: &str, cookie: &str, form: &impl serde::Serialize) -> Page {
    let body = serde_urlencoded::to_string(form).unwrap();
    let res = browser()
        .post(format!("{}{}", app.address, path))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    Page {
        status: res.status().as_u16(),
        headers: res.headers().clone(),
        body: res.text().await.unwrap(),
    }
}

/// The CSRF token a fresh visit gets (cookie value = form value).
async fn csrf(app: &TestApp) -> String {
    let home = get(app, "/shop", "").await;
    let c = home
        .cookie("cielo_csrf")
        .expect("a CSRF cookie on the first visit");
    c.split(';').next().unwrap()["cielo_csrf=".len()..].to_string()
}

fn value_of(c: &str) -> &str {
    c.split(';').next().unwrap().split_once('=').unwrap().1
}

#[tokio::test]
async fn pages_are_html_with_a_strict_csp_no_inline_script_and_a_favicon() {
    let app = spawn_app_with_demo().await;
    for path in ["/", "/shop", "/shop?q=zzzz", "/cart", "/account/signin"] {
        let p = get(&app, path, "").await;
        assert_eq!(p.status, 200, "{path}: {}", p.body);
        let csp = p.headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("style-src 'self'"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(p.headers["x-frame-options"], "DENY");
        for (i, _) in p.body.match_indices("<script") {
            assert!(
                p.body[i..].starts_with("<script src="),
                "{path}: inline script at {i}"
            );
        }
        assert!(
            !p.body.contains(" style="),
            "{path}: an inline style attribute"
        );
        assert!(p.body.contains(r#"rel="icon""#), "{path}: no favicon link");
    }
    let icon = get(&app, "/favicon.ico", "").await;
    assert_eq!(icon.status, 200);
    assert_eq!(icon.headers["content-type"], "image/svg+xml");
    // The API still answers behind the pages.
    assert_eq!(app.get("/api/store/categories").await.status, 200);
}

#[tokio::test]
async fn catalog_page_searches_without_accents_and_says_when_nothing_matches() {
    let app = spawn_app_with_demo().await;
    let none = get(&app, "/shop?q=zzzzqq", "").await;
    assert!(
        none.body.contains("No products match your search."),
        "{}",
        none.body
    );
    let found = get(&app, "/shop?q=MUG", "").await;
    assert!(found.body.contains("Star Chart Mug"));
    assert!(!found.body.contains("No products match"));
    let es = get(&app, "/shop?q=zzzzqq", "cielo_lang=es").await;
    assert!(
        es.body.contains("Ningún producto coincide"),
        "Spanish when chosen"
    );
    assert!(es.body.contains(r#"<html lang="es">"#));
}

#[tokio::test]
async fn a_form_post_needs_the_csrf_token_of_its_cookie() {
    let app = spawn_app_with_demo().await;
    let product: Value = app.get("/api/store/products/star-chart-mug").await.body;
    let variant = product["variants"][0]["id"].as_str().unwrap().to_string();
    let token = csrf(&app).await;
    let form = [
        ("handle", "star-chart-mug"),
        ("variant_id", variant.as_str()),
        ("quantity", "2"),
        ("_csrf", token.as_str()),
    ];
    // No cookie (another site's form): refused.
    let p = post_form(&app, "/cart/add", "", &form).await;
    assert_eq!(p.status, 403);
    // A cookie but another token: refused.
    let p = post_form(&app, "/cart/add", "cielo_csrf=someothertoken", &form).await;
    assert_eq!(p.status, 403);
    // The matching pair: the line is added and the cart cookie is set.
    let cookie = format!("cielo_csrf={token}");
    let p = post_form(&app, "/cart/add", &cookie, &form).await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(p.location(), "/cart");
    let cart = p.cookie("cielo_cart").expect("a cart cookie");
    assert!(
        cart.contains("HttpOnly") && cart.contains("SameSite=Lax"),
        "{cart}"
    );
    let page = get(
        &app,
        "/cart",
        &format!("{cookie}; cielo_cart={}", value_of(&cart)),
    )
    .await;
    assert!(page.body.contains("Star Chart Mug"), "{}", page.body);
    assert!(
        page.body.contains(r#"value="2""#),
        "the quantity control shows 2"
    );
}

#[tokio::test]
async fn checkout_shows_field_errors_inline_and_hands_over_to_payment() {
    let app = spawn_app_with_demo().await;
    let product: Value = app.get("/api/store/products/star-chart-mug").await.body;
    let variant = product["variants"][0]["id"].as_str().unwrap().to_string();
    let cart = app.new_cart(None).await;
    assert!(app
        .add_line(&cart, None, &variant, 1)
        .await
        .status
        .is_success());
    let token = csrf(&app).await;
    let cookie = format!("cielo_csrf={token}; cielo_cart={cart}");
    let form = |city: &'static str, key: &'static str| {
        vec![
            ("_csrf", token.clone()),
            ("idempotency_key", key.to_string()),
            ("email", "buyer@example.com".to_string()),
            ("name", "Ana Buyer".to_string()),
            ("line1", "1 Main St".to_string()),
            ("line2", "Apt 2".to_string()),
            ("city", city.to_string()),
            ("region", "AK".to_string()),
            ("postal_code", "99501".to_string()),
            ("country", "US".to_string()),
        ]
    };
    let bad = form("", "7d1c7b52-0000-4000-8000-000000000001");
    let p = post_form(&app, "/checkout", &cookie, &bad).await;
    assert_eq!(p.status, 422, "{}", p.body);
    assert!(
        p.body.contains(r#"id="e-city""#),
        "the error sits by the city field"
    );
    assert!(
        p.body
            .contains(r#"<p class="error" id="e-city">Fill in “City”.</p>"#),
        "said as a sentence, naming the field by its label: {}",
        p.body
    );
    assert!(!p.body.contains("must not be empty"));
    assert!(p.body.contains(r#"aria-invalid="true""#));
    assert!(
        p.body.contains(r#"value="Apt 2""#),
        "what was typed is kept"
    );
    assert!(
        !p.body.contains("7d1c7b52-0000-4000-8000-000000000001"),
        "a new attempt gets a new idempotency key"
    );
    // Text updates need a phone: said beside the box, which stays ticked.
    let mut sms = form("Anchorage", "7d1c7b52-0000-4000-8000-000000000003");
    sms.push(("sms_opt_in", "0".into()));
    sms.push(("sms_opt_in", "1".into()));
    let p = post_form(&app, "/checkout", &cookie, &sms).await;
    assert_eq!(p.status, 422, "{}", p.body);
    assert!(p.body.contains(r#"id="e-sms_opt_in""#), "{}", p.body);
    assert!(p
        .body
        .contains("Give a mobile number above to get text messages"));
    assert!(p.body.contains(r#"value="1" checked"#));
    let mut good = form("Anchorage", "7d1c7b52-0000-4000-8000-000000000002");
    good.push(("phone", "+1 907 555 0100".into()));
    good.push(("sms_opt_in", "0".into()));
    good.push(("sms_opt_in", "1".into()));
    let p = post_form(&app, "/checkout", &cookie, &good).await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert!(p.location().contains("/checkout/test/"), "{}", p.location());
    let order_cookie = p
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("cielo_o_ord_"))
        .expect("the guest's order token is kept");
    assert!(order_cookie.contains("HttpOnly"));
    assert!(
        p.cookie("cielo_cart").unwrap().contains("Max-Age=0"),
        "the cart is done"
    );
    // The Alaska rate applies, with the region from the form.
    let order_id = order_cookie["cielo_o_".len()..]
        .split('=')
        .next()
        .unwrap()
        .to_string();
    let page = get(
        &app,
        &format!("/orders/{order_id}"),
        order_cookie.split(';').next().unwrap(),
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Apt 2") && page.body.contains("AK"));
    let admin = app.admin_token().await;
    let o = app
        .get_as(&format!("/api/admin/orders/{order_id}"), &admin)
        .await;
    assert_eq!(o.body["sms_opt_in"], true, "{}", o.body);
    assert_eq!(o.body["phone"], "+19075550100");
    assert!(
        page.body.contains(r#"data-live="1""#),
        "a waiting order is followed live"
    );
}

#[tokio::test]
async fn a_customer_never_sees_another_customers_order_and_admin_pages_need_the_role() {
    let app = spawn_app_with_demo().await;
    let product: Value = app.get("/api/store/products/star-chart-mug").await.body;
    let variant = product["variants"][0]["id"].as_str().unwrap().to_string();
    let alice = app.register("alice@example.com").await;
    app.register("bob@example.com").await;
    let cart = app.new_cart(Some(&alice)).await;
    app.add_line(&cart, Some(&alice), &variant, 1).await;
    let order = app
        .checkout(
            &cart,
            Some(&alice),
            Some("k-1"),
            &checkout_body("alice@example.com"),
        )
        .await;
    assert_eq!(order.status, 201, "{}", order.body);
    let id = order.body["order_id"].as_str().unwrap().to_string();

    // Bob signs in through the page: an HttpOnly, SameSite=Lax session cookie.
    let token = csrf(&app).await;
    let p = post_form(
        &app,
        "/account/signin",
        &format!("cielo_csrf={token}"),
        &[
            ("_csrf", token.as_str()),
            ("email", "bob@example.com"),
            ("password", "correct horse battery"),
            ("next", "/account"),
        ],
    )
    .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let session = p.cookie("cielo_session").expect("a session cookie");
    assert!(
        session.contains("HttpOnly")
            && session.contains("SameSite=Lax")
            && !session.contains("Secure"),
        "{session}"
    );
    let bob = format!("cielo_csrf={token}; cielo_session={}", value_of(&session));

    let seen = get(&app, &format!("/orders/{id}"), &bob).await;
    assert_eq!(seen.status, 404, "Bob must not see Alice's order");
    assert!(!seen.body.contains("alice@example.com"));
    let alice_page = get(
        &app,
        &format!("/orders/{id}"),
        &format!("cielo_session={alice}"),
    )
    .await;
    assert_eq!(alice_page.status, 200);
    let number = order.body["number"].as_str().unwrap();
    assert!(alice_page
        .body
        .contains(&format!("<h1>Order {number}</h1>")));
    let account = get(&app, "/account", &bob).await;
    assert_eq!(account.status, 200);
    assert!(
        !account.body.contains(&id) && !account.body.contains(number),
        "Bob's orders do not list Alice's"
    );

    // Admin pages: Bob is refused; nobody signed in is sent to sign in.
    assert_eq!(get(&app, "/admin", &bob).await.status, 403);
    assert_eq!(
        get(&app, &format!("/admin/orders/{id}"), &bob).await.status,
        403
    );
    let anon = get(&app, "/admin/orders", "").await;
    assert_eq!(anon.status, 303);
    assert!(anon.location().starts_with("/account/signin?next="));
    // The admin sees the order and its timeline.
    let admin = app.admin_token().await;
    let page = get(
        &app,
        &format!("/admin/orders/{id}"),
        &format!("cielo_session={admin}"),
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("alice@example.com") && page.body.contains("pending_payment"));

    // Signing out ends the session on the server too.
    let p = post_form(&app, "/account/signout", &bob, &[("_csrf", token.as_str())]).await;
    assert_eq!(p.status, 303);
    assert!(p.cookie("cielo_session").unwrap().contains("Max-Age=0"));
    assert_eq!(
        get(&app, "/account", &bob).await.status,
        303,
        "the old token no longer works"
    );
}

#[tokio::test]
async fn the_test_payment_page_writes_money_like_the_shop_and_shows_a_decline() {
    let app = spawn_app_with_demo().await;
    let product: Value = app.get("/api/store/products/star-chart-mug").await.body;
    let variant = product["variants"][0]["id"].as_str().unwrap().to_string();
    let cart = app.new_cart(None).await;
    app.add_line(&cart, None, &variant, 1).await;
    let order = app
        .checkout(&cart, None, Some("k-2"), &checkout_body("x@example.com"))
        .await;
    let url = order.body["payment_url"].as_str().unwrap().to_string();
    let path = &url[url.find("/checkout/test/").unwrap()..];
    let total = &order.body["total"];
    let shown = format!(
        "${}.{:02}",
        total["amount"].as_i64().unwrap() / 100,
        total["amount"].as_i64().unwrap() % 100
    );
    let page = get(&app, path, "").await;
    assert!(page.body.contains(&shown), "{shown} in {}", page.body);
    assert!(!page.body.contains("declined"));
    assert!(
        page.body.contains(r#"href='/static/app.css'"#) && !page.body.contains(" style="),
        "the shop's look, from its stylesheet: {}",
        page.body
    );
    let declined = get(&app, &format!("{path}?declined=1"), "").await;
    assert!(
        declined.body.contains("Your card was declined."),
        "{}",
        declined.body
    );
}

#[tokio::test]
async fn a_link_from_an_email_opens_the_order_page_with_its_token() {
    // Arrange: an order placed through the API (no page cookie at all).
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let sku = format!("P-{}", uuid::Uuid::new_v4().simple());
    let v = app
        .create_product(&admin, &format!("Print {sku}"), &[(&sku, 1000)])
        .await["variants"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let cart = app.new_cart(None).await;
    app.add_line(&cart, None, &v, 1).await;
    let r = app
        .checkout(&cart, None, None, &checkout_body("reader@example.com"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let order = r.body["order_id"].as_str().unwrap().to_string();
    let token = r.body["access_token"].as_str().unwrap().to_string();

    // Act: the link in the emails, `/?order=…&token=…`.
    let hop = get(&app, &format!("/?order={order}&token={token}"), "").await;

    // Assert: the redirect keeps the token, and the page it leads to shows the order.
    assert_eq!(hop.status, 303, "{}", hop.body);
    let to = hop.location();
    assert_eq!(to, format!("/orders/{order}?token={token}"));
    let page = get(&app, &to, "").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(&order), "the order page names the order");

    // Without the token the page does not show the order.
    let bare = get(&app, &format!("/orders/{order}"), "").await;
    assert!(!bare.body.contains("reader@example.com"));
}

/// A `multipart/form-data` body with text fields and one file.
fn multipart(fields: &[(&str, &str)], file: (&str, &str, &str, &[u8])) -> (String, Vec<u8>) {
    let boundary = "cielo-test-boundary-7d1f";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\ncontent-disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    let (name, filename, ct, bytes) = file;
    body.extend_from_slice(
        format!(
            "--{boundary}\r\ncontent-disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\ncontent-type: {ct}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn post_multipart(app: &TestApp, path: &str, cookie: &str, ct: &str, body: Vec<u8>) -> Page {
    let res = browser()
        .post(format!("{}{}", app.address, path))
        .header("cookie", cookie)
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap();
    Page {
        status: res.status().as_u16(),
        headers: res.headers().clone(),
        body: res.text().await.unwrap(),
    }
}

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0, 0,
    1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89, 0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xae,
    0x42, 0x60, 0x82,
];

#[tokio::test]
async fn the_admin_creates_and_edits_a_product_with_inline_errors_and_no_partial_write() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let cat = app
        .post_as(
            "/api/admin/categories",
            &admin,
            &serde_json::json!({"name": "Prints"}),
        )
        .await;
    assert_eq!(cat.status, 201, "{}", cat.body);
    let cat_id = cat.body["id"].as_str().unwrap().to_string();
    let token = csrf(&app).await;
    let cookie = format!("cielo_csrf={token}; cielo_session={admin}");
    let count = |app: &TestApp| {
        let admin = admin.clone();
        let app_addr = app.address.clone();
        async move {
            let r: Value = reqwest::Client::new()
                .get(format!("{app_addr}/api/admin/products?limit=100"))
                .bearer_auth(&admin)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            r["products"].as_array().unwrap().len()
        }
    };

    // Nobody but an admin gets the form.
    assert_eq!(get(&app, "/admin/products/new", "").await.status, 303);
    let form = get(&app, "/admin/products/new", &cookie).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("Prints") && form.body.contains("printful"));

    let base = [
        ("_csrf", token.as_str()),
        ("title", "Night Sky Print"),
        ("status", "published"),
        ("product_type", "print"),
        ("category", cat_id.as_str()),
        ("sku", "NSP-A3"),
        ("lab", "printful"),
        ("lab_product_id", "71"),
    ];
    // A price that is not money: said beside the field, nothing written.
    let mut bad = base.to_vec();
    bad.push(("price", "twenty"));
    let p = post_form(&app, "/admin/products/new", &cookie, &bad).await;
    assert_eq!(p.status, 422, "{}", p.body);
    assert!(p.body.contains(r#"id="v-price-e""#), "{}", p.body);
    assert!(p.body.contains("aria-invalid"));
    assert!(
        p.body.contains(r#"value="Night Sky Print""#),
        "typed values stay"
    );
    assert_eq!(count(&app).await, 0);
    // A mistake only the API sees (the variant's SKU): the product is not
    // created without its variant either.
    let mut bad = base.to_vec();
    bad.retain(|(k, _)| *k != "sku");
    bad.push(("sku", "has spaces!"));
    bad.push(("price", "24.50"));
    let p = post_form(&app, "/admin/products/new", &cookie, &bad).await;
    assert_eq!(p.status, 422, "{}", p.body);
    assert!(p.body.contains(r#"id="v-sku-e""#), "{}", p.body);
    assert_eq!(count(&app).await, 0, "no partial write");

    let mut good = base.to_vec();
    good.push(("price", "24.50"));
    good.push(("variant_title", "A3 poster"));
    let p = post_form(&app, "/admin/products/new", &cookie, &good).await;
    assert_eq!(p.status, 303, "{}", p.body);
    let page_path = p.location().split('?').next().unwrap().to_string();
    let id = page_path.rsplit('/').next().unwrap().to_string();
    let prod = app
        .get_as(&format!("/api/admin/products/{id}"), &admin)
        .await;
    assert_eq!(prod.body["status"], "published");
    assert_eq!(prod.body["title"], "Night Sky Print");
    assert_eq!(prod.body["variants"][0]["title"], "A3 poster");
    assert_eq!(prod.body["category_ids"][0], cat_id.as_str());
    let v = &prod.body["variants"][0];
    assert_eq!(v["price"]["amount"], 2450);
    assert_eq!(v["lab"], "printful");
    assert_eq!(v["lab_product_id"], "71");
    let vid = v["id"].as_str().unwrap().to_string();
    let edit = get(&app, &page_path, &cookie).await;
    assert_eq!(edit.status, 200);
    assert!(
        edit.body.contains(r#"value="24.50""#),
        "the price shows as money"
    );

    // Edit the variant: a bad price changes nothing; a good one saves.
    let vpath = format!("/admin/products/{id}/variants/{vid}");
    let p = post_form(
        &app,
        &vpath,
        &cookie,
        &[
            ("_csrf", token.as_str()),
            ("sku", "NSP-A3"),
            ("price", "-3"),
            ("lab", "none"),
        ],
    )
    .await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains(r#"id="v1-price-e""#), "{}", p.body);
    let prod = app
        .get_as(&format!("/api/admin/products/{id}"), &admin)
        .await;
    assert_eq!(prod.body["variants"][0]["lab"], "printful");
    let p = post_form(
        &app,
        &vpath,
        &cookie,
        &[
            ("_csrf", token.as_str()),
            ("sku", "NSP-A3"),
            ("price", "30"),
            ("lab", "local"),
            ("lab_product_id", "poster-a3"),
        ],
    )
    .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let prod = app
        .get_as(&format!("/api/admin/products/{id}"), &admin)
        .await;
    let v = &prod.body["variants"][0];
    assert_eq!(v["price"]["amount"], 3000);
    assert_eq!(
        (v["lab"].as_str(), v["lab_product_id"].as_str()),
        (Some("local"), Some("poster-a3"))
    );

    // A second variant, and the product back to draft.
    let p = post_form(
        &app,
        &format!("/admin/products/{id}/variants"),
        &cookie,
        &[
            ("_csrf", token.as_str()),
            ("sku", "NSP-A2"),
            ("price", "39.00"),
            ("lab", "none"),
        ],
    )
    .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let p = post_form(
        &app,
        &page_path,
        &cookie,
        &[
            ("_csrf", token.as_str()),
            ("title", "Night Sky Print"),
            ("status", "draft"),
            ("description", "A print of the stars."),
        ],
    )
    .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let prod = app
        .get_as(&format!("/api/admin/products/{id}"), &admin)
        .await;
    assert_eq!(prod.body["status"], "draft");
    assert_eq!(prod.body["variants"].as_array().unwrap().len(), 2);
    assert_eq!(prod.body["variants"][1]["lab"], Value::Null);

    // Images: a file that is not the image it claims is refused beside the
    // field; a PNG goes through the signed upload URL and is served.
    let (ct, body) = multipart(
        &[("_csrf", &token), ("alt", "fake")],
        ("image", "x.png", "image/png", b"not an image"),
    );
    let p = post_multipart(
        &app,
        &format!("/admin/products/{id}/images"),
        &cookie,
        &ct,
        body,
    )
    .await;
    assert_eq!(p.status, 422, "{}", p.body);
    assert!(p.body.contains(r#"id="i-file-e""#), "{}", p.body);
    let (ct, body) = multipart(
        &[("_csrf", "wrong")],
        ("image", "sky.png", "image/png", PNG),
    );
    let p = post_multipart(
        &app,
        &format!("/admin/products/{id}/images"),
        &cookie,
        &ct,
        body,
    )
    .await;
    assert_eq!(p.status, 403, "a file form needs the CSRF token too");
    let (ct, body) = multipart(
        &[("_csrf", &token), ("alt", "The print on a wall")],
        ("image", "sky.png", "image/png", PNG),
    );
    let p = post_multipart(
        &app,
        &format!("/admin/products/{id}/images"),
        &cookie,
        &ct,
        body,
    )
    .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let prod = app
        .get_as(&format!("/api/admin/products/{id}"), &admin)
        .await;
    let images = prod.body["images"].as_array().unwrap();
    assert_eq!(images.len(), 1);
    assert_eq!(images[0]["alt"], "The print on a wall");
    let url = images[0]["url"].as_str().unwrap();
    let served = reqwest::get(url).await.unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.bytes().await.unwrap().as_ref(), PNG);
}

#[tokio::test]
async fn without_javascript_the_place_can_be_typed_as_the_suggestions_label_it() {
    let app = spawn_app_with_demo().await;
    let poster: Value = app
        .get("/api/store/products/personalised-star-map-poster")
        .await
        .body;
    let variant = poster["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["delivery"] == "physical")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let token = csrf(&app).await;
    let cookie = format!("cielo_csrf={token}");
    let add = |place: &'static str| {
        let (app, variant, token, cookie) = (&app, variant.clone(), token.clone(), cookie.clone());
        async move {
            let form = [
                ("handle", "personalised-star-map-poster"),
                ("variant_id", variant.as_str()),
                ("quantity", "1"),
                ("opt_place_query", place),
                ("opt_date", "2024-08-13"),
                ("opt_time", "22:00"),
                ("_csrf", token.as_str()),
            ];
            post_form(app, "/cart/add", &cookie, &form).await
        }
    };
    // The city alone, and the label the suggestions show, both find Madrid.
    for typed in ["Madrid", "Madrid, Spain"] {
        let p = add(typed).await;
        assert_eq!(p.status, 303, "{typed}: {}", p.body);
        assert_eq!(p.location(), "/cart");
    }
    // A place that does not exist is said so beside the field.
    let p = add("Qwxzvillezzz, Nowhere").await;
    assert_eq!(p.status, 422);
    assert!(
        p.body.contains("No city found with that name"),
        "{}",
        p.body
    );
}

/// A GET as a browser sends it (`Accept: text/html`), with cookies and a
/// preferred language.
async fn get_html(app: &TestApp, path: &str, cookie: &str, lang: &str) -> Page {
    let mut rb = browser()
        .get(format!("{}{}", app.address, path))
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .header("accept-language", lang);
    if !cookie.is_empty() {
        rb = rb.header("cookie", cookie);
    }
    let res = rb.send().await.unwrap();
    Page {
        status: res.status().as_u16(),
        headers: res.headers().clone(),
        body: res.text().await.unwrap(),
    }
}

/// The physical variant of the demo's star-map poster.
async fn poster_variant(app: &TestApp) -> String {
    let poster: Value = app
        .get("/api/store/products/personalised-star-map-poster")
        .await
        .body;
    poster["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["delivery"] == "physical")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The `<input …>` (or `<select …>`, `<textarea …>`) tag with `id`.
fn tag_with_id<'a>(body: &'a str, id: &str) -> &'a str {
    let at = body
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no element {id}"));
    let start = body[..at].rfind('<').unwrap();
    let end = at + body[at..].find('>').unwrap();
    &body[start..=end]
}

#[tokio::test]
async fn a_refused_poster_keeps_every_choice_and_says_in_words_which_field_to_fix() {
    let app = spawn_app_with_demo().await;
    let variant = poster_variant(&app).await;
    let token = csrf(&app).await;
    let madrid: Value = app
        .get("/api/store/starmap/places?q=Madrid&limit=1")
        .await
        .body;
    let madrid_id = madrid["places"][0]["id"].as_u64().unwrap().to_string();
    let title_long = "T".repeat(400);
    let post = |lang: &'static str,
                place_id: &'static str,
                date: &'static str,
                time: &'static str,
                title: String| {
        let (app, variant, token) = (&app, variant.clone(), token.clone());
        let place_id = if place_id == "madrid" {
            madrid_id.clone()
        } else {
            String::new()
        };
        async move {
            let form = vec![
                ("_csrf", token.clone()),
                ("handle", "personalised-star-map-poster".into()),
                ("variant_id", variant),
                ("quantity", "1".into()),
                ("opt_place_query", "Madrid, Spain".into()),
                ("optn_place_id", place_id),
                ("opt_date", date.into()),
                ("opt_time", time.into()),
                ("opt_theme", "midnight-blue".into()),
                ("opt_language", "es".into()),
                ("opt_title", title),
                ("opt_message", "Nuestra noche".into()),
                ("opt_shape", "square".into()),
                ("optb_constellation_names", "false".into()),
                ("optb_constellation_names", "true".into()),
                ("optb_grid", "false".into()),
            ];
            post_form(
                app,
                "/cart/add",
                &format!("cielo_csrf={token}; cielo_lang={lang}"),
                &form,
            )
            .await
        }
    };
    // A time that is no time (typed without the browser's picker), with the
    // place chosen from the suggestions, and again with the place only typed.
    for place in ["madrid", ""] {
        let p = post("en", place, "2024-08-13", "25:99", "Our night".into()).await;
        assert_eq!(p.status, 422, "{}", p.body);
        let b = &p.body;
        assert!(
            tag_with_id(b, "sm-place-id").contains(&format!(r#"value="{madrid_id}""#)),
            "the place stays chosen: {}",
            tag_with_id(b, "sm-place-id")
        );
        assert!(
            b.contains("Time zone: Europe&#x2f;Madrid"),
            "its zone is shown again"
        );
        assert!(
            b.contains("40.4") && b.contains("-3.7"),
            "and its coordinates"
        );
        let time = tag_with_id(b, "sm-time");
        assert!(
            time.contains(r#"aria-invalid="true""#) && time.contains("autofocus"),
            "{time}"
        );
        assert!(
            time.contains(r#"value="25:99""#),
            "what was typed stays: {time}"
        );
        assert!(b.contains(r#"id="e-time""#) && b.contains("Enter a time like 21:30."));
        assert!(
            !b.contains("time:") && !b.contains("options/"),
            "no field paths"
        );
        assert!(!b.contains("must be"), "the API's wording is not shown");
        assert!(!tag_with_id(b, "sm-date").contains("aria-invalid"));
        // Every other choice is kept.
        assert!(tag_with_id(b, "sm-title").contains(r#"value="Our night""#));
        assert!(b.contains("Nuestra noche</textarea>"));
        assert!(
            b.contains(r#"<option value="es" selected>"#),
            "poster language"
        );
        assert!(b.contains(r#"value="2024-08-13""#));
        assert!(
            b.contains(r#"name="optb_grid" value="true">"#),
            "grid stays off"
        );
        assert!(b.contains(r#"name="optb_constellation_names" value="true" checked>"#));
        assert!(b.contains(&format!(r#"<option value="{variant}" data-size"#)));
    }
    // A date outside the range, in Spanish: a sentence, on the date field.
    let p = post("es", "madrid", "1700-01-01", "22:00", "Our night".into()).await;
    assert_eq!(p.status, 422, "{}", p.body);
    assert!(tag_with_id(&p.body, "sm-date").contains(r#"aria-invalid="true""#));
    assert!(
        p.body.contains("Escribe una fecha como 2024-08-13"),
        "{}",
        p.body
    );
    assert!(!tag_with_id(&p.body, "sm-time").contains("aria-invalid"));
    // A time the clocks skipped: the one meant is named.
    let p = post("en", "madrid", "2024-03-31", "02:30", "Our night".into()).await;
    assert_eq!(p.status, 422, "{}", p.body);
    assert!(p.body.contains("Choose 03:30 instead."), "{}", p.body);
    // A title too long (typed past the box's limit): the sky is drawn again
    // with everything chosen, and the title is the field at fault.
    let p = post("en", "madrid", "2024-08-13", "22:00", title_long).await;
    assert_eq!(p.status, 422, "{}", p.body);
    let img = tag_with_id(&p.body, "sm-preview")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&");
    assert!(
        img.contains("/api/store/starmap/preview?")
            && img.contains(&format!("place_id={madrid_id}")),
        "{img}"
    );
    assert!(
        img.contains("time=22%3A00") && img.contains("theme=midnight-blue"),
        "{img}"
    );
    assert!(
        img.contains("shape=square"),
        "every choice, the shape too: {img}"
    );
    let title = tag_with_id(&p.body, "sm-title");
    assert!(title.contains(r#"aria-invalid="true""#) && title.contains("autofocus"));
    assert!(p.body.contains("Keep the title to"), "{}", p.body);
    let src = img
        .split(r#"src=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert_eq!(app.get(src).await.status, 200, "the preview draws");
}

#[tokio::test]
async fn cart_quantities_out_of_range_are_said_not_silently_changed() {
    let app = spawn_app_with_demo().await;
    let product: Value = app.get("/api/store/products/star-chart-mug").await.body;
    let variant = product["variants"][0]["id"].as_str().unwrap().to_string();
    let cart = app.new_cart(None).await;
    assert!(app
        .add_line(&cart, None, &variant, 2)
        .await
        .status
        .is_success());
    let line = app.get(&format!("/api/store/carts/{cart}")).await.body["lines"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let token = csrf(&app).await;
    let cookie = format!("cielo_csrf={token}; cielo_cart={cart}");
    let change = |q: &'static str| {
        let (app, cookie, token, line) = (&app, cookie.clone(), token.clone(), line.clone());
        async move {
            let form = [
                ("_csrf", token.as_str()),
                ("back", "/cart?country=ES"),
                ("quantity", q),
                ("action", "update"),
            ];
            post_form(app, &format!("/cart/lines/{line}"), &cookie, &form).await
        }
    };
    let quantity = || async {
        app.get(&format!("/api/store/carts/{cart}")).await.body["lines"][0]["quantity"].as_i64()
    };
    // More than the most: set to the most, and said.
    for q in ["10000", "100"] {
        let p = change(q).await;
        assert_eq!(p.status, 303, "{}", p.body);
        assert_eq!(p.location(), "/cart?country=ES&notice=capped");
        assert_eq!(quantity().await, Some(99));
    }
    let page = get(&app, "/cart?country=ES&notice=capped", &cookie).await;
    assert!(
        page.body
            .contains("You can order at most 99 of one item; we set it to 99."),
        "{}",
        page.body
    );
    // Counts and money with the language's grouping (99 mugs pass 1,000).
    assert!(page.body.contains("$1,"), "{}", page.body);
    // A negative number or no number (nor "1e3", not read as 1000): refused
    // beside the box, nothing changed; back on the cart's own address.
    for q in ["-3", "abc", "2.5", "", "1e3", "12.0"] {
        let p = change(q).await;
        assert_eq!(p.status, 303, "{q}: {}", p.body);
        assert!(
            p.location()
                .starts_with("/cart?country=ES&notice=refused&line="),
            "{}",
            p.location()
        );
        let p = get(&app, &p.location(), &cookie).await;
        assert_eq!(p.status, 200, "{q}: {}", p.body);
        let input = tag_with_id(&p.body, &format!("q-{line}"));
        assert!(input.contains(r#"aria-invalid="true""#), "{input}");
        assert!(p.body.contains(&format!(r#"id="qe-{line}""#)));
        assert!(p.body.contains("Nothing was changed."));
        assert_eq!(quantity().await, Some(99), "{q}");
    }
    // In range: changed, no notice.
    let p = change("3").await;
    assert_eq!(p.location(), "/cart?country=ES");
    assert_eq!(quantity().await, Some(3));
    // 0 removes the line, and says so.
    let p = change("0").await;
    assert_eq!(p.location(), "/cart?country=ES&notice=removed");
    assert_eq!(quantity().await, None);
    let page = get(&app, "/cart?notice=removed", &cookie).await;
    assert!(page.body.contains("The item was removed from your cart."));
    // The API refuses out-of-range quantities itself (no silent change there).
    assert!(app
        .add_line(&cart, None, &variant, 1)
        .await
        .status
        .is_success());
    let line = app.get(&format!("/api/store/carts/{cart}")).await.body["lines"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for q in [0, -1, 100, 10000] {
        let r = app
            .request(
                reqwest::Method::PATCH,
                &format!("/api/store/carts/{cart}/lines/{line}"),
                None,
                Some(&serde_json::json!({"quantity": q})),
            )
            .await;
        assert_eq!(r.status, 422, "{q}: {}", r.body);
    }
}

#[tokio::test]
async fn unknown_pages_answer_an_html_page_in_the_shops_language_and_api_paths_keep_problems() {
    let app = spawn_app_with_demo().await;
    for path in [
        "/foo",
        "/products/nope",
        "/orders/xyz",
        "/shop/x/y",
        "/static/nope.css",
    ] {
        for (lang, words) in [
            ("en", "Page not found"),
            ("es-ES,es;q=0.9", "Página no encontrada"),
        ] {
            let p = get_html(&app, path, "", lang).await;
            assert_eq!(p.status, 404, "{path}");
            assert!(
                p.headers["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/html"),
                "{path}: {:?}",
                p.headers["content-type"]
            );
            assert!(
                p.body.contains(words) || p.body.contains("order"),
                "{path} {lang}: {}",
                p.body
            );
            assert!(
                p.body.contains(r#"<a class="brand" href="/">"#),
                "in the shop's layout"
            );
            assert!(p.headers.contains_key("content-security-policy"));
        }
    }
    let p = get_html(&app, "/foo", "cielo_lang=es", "en").await;
    assert!(
        p.body.contains("Página no encontrada"),
        "the chosen language wins"
    );
    for path in ["/api/nope", "/api/store/products/nope"] {
        let p = get_html(&app, path, "", "en").await;
        assert_eq!(p.status, 404);
        assert_eq!(
            p.headers["content-type"], "application/problem+json",
            "{path}"
        );
    }
    // Without Accept: text/html (an API client), the problem document stays.
    let p = get(&app, "/foo", "").await;
    assert_eq!(p.status, 404);
    assert_ne!(p.headers["content-type"], "text/html; charset=utf-8");
}

#[tokio::test]
async fn titles_are_clipped_countries_named_in_the_pages_language_and_shipping_countries_shown() {
    let app = spawn_app_with_demo().await;
    let long = "x".repeat(5000);
    let p = get(&app, &format!("/shop?q={long}"), "").await;
    let title = p
        .body
        .split("<title>")
        .nth(1)
        .unwrap()
        .split("</title>")
        .next()
        .unwrap();
    assert!(title.chars().count() < 100, "{title}");
    assert!(title.contains('…'));
    // The cart and checkout name the countries shipped to, in the page's language.
    let product: Value = app.get("/api/store/products/star-chart-mug").await.body;
    let variant = product["variants"][0]["id"].as_str().unwrap().to_string();
    let cart = app.new_cart(None).await;
    assert!(app
        .add_line(&cart, None, &variant, 1)
        .await
        .status
        .is_success());
    let token = csrf(&app).await;
    for (lang, yes, no) in [("en", "Spain", "España"), ("es", "España", "Spain")] {
        let cookie = format!("cielo_csrf={token}; cielo_cart={cart}; cielo_lang={lang}");
        for path in ["/cart", "/checkout"] {
            let p = get(&app, path, &cookie).await;
            assert_eq!(p.status, 200, "{path}");
            assert!(
                p.body
                    .contains(&format!(r#"<option value="ES">{yes}</option>"#)),
                "{path} {lang}"
            );
            assert!(!p.body.contains(no), "{path} {lang}");
            assert!(
                p.body.contains(r#"id="ships-to""#),
                "{path}: the countries shipped to"
            );
            let ships = p
                .body
                .split(r#"id="ships-to">"#)
                .nth(1)
                .unwrap()
                .split("</p>")
                .next()
                .unwrap();
            assert_eq!(ships.matches(", ").count(), 18, "19 countries: {ships}");
        }
    }
    // A country the shop does not ship to is said beside the field.
    let cookie = format!("cielo_csrf={token}; cielo_cart={cart}");
    let form = [
        ("_csrf", token.as_str()),
        ("idempotency_key", "5d1c7b52-0000-4000-8000-000000000001"),
        ("email", "buyer@example.com"),
        ("name", "Ana Buyer"),
        ("line1", "1 MG Road"),
        ("city", "Bengaluru"),
        ("postal_code", "560001"),
        ("country", "IN"),
    ];
    let p = post_form(&app, "/checkout", &cookie, &form).await;
    assert_eq!(p.status, 422, "{}", p.body);
    assert!(
        p.body.contains(r#"id="e-country""#) && p.body.contains("We do not ship to that country")
    );
    // The designer's fold picker is hidden until a repeated time is chosen.
    let p = get(&app, "/products/personalised-star-map-poster", "").await;
    let at = p.body.find("fold-field").expect("a fold field");
    let div = &p.body[at..at + p.body[at..].find('>').unwrap()];
    assert!(div.contains(" hidden"), "{div}");
    assert!(!p.body.contains(">Fold<"));
}

#[tokio::test]
async fn signed_in_checkout_starts_with_the_accounts_name_email_and_default_address() {
    let app = spawn_app_with_demo().await;
    let buyer = app.register("ada@example.com").await;
    let product: Value = app.get("/api/store/products/star-chart-mug").await.body;
    let variant = product["variants"][0]["id"].as_str().unwrap().to_string();
    let cart = app.new_cart(Some(&buyer)).await;
    assert!(app
        .add_line(&cart, Some(&buyer), &variant, 1)
        .await
        .status
        .is_success());
    let cookie = format!("cielo_session={buyer}; cielo_cart={cart}");
    // No saved address: the account's name and email.
    let p = get(&app, "/checkout", &cookie).await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(
        tag_with_id(&p.body, "f-name").contains(r#"value="Test""#),
        "{}",
        tag_with_id(&p.body, "f-name")
    );
    assert!(tag_with_id(&p.body, "f-email").contains(r#"value="ada@example.com""#));
    // With addresses: the default one, whichever was saved first.
    for (line1, default) in [("1 First St", false), ("2 Default Ave", true)] {
        let r = app
            .post_as(
                "/api/store/me/addresses",
                &buyer,
                &serde_json::json!({"name": "Ada Lovelace", "line1": line1, "city": "Madrid",
                    "postal_code": "28001", "country": "ES", "phone": "+34600123456", "is_default": default}),
            )
            .await;
        assert!(r.status.is_success(), "{}", r.body);
    }
    let p = get(&app, "/checkout?country=ES", &cookie).await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(
        tag_with_id(&p.body, "f-line1").contains(r#"value="2 Default Ave""#),
        "{}",
        tag_with_id(&p.body, "f-line1")
    );
    assert!(tag_with_id(&p.body, "f-name").contains(r#"value="Ada Lovelace""#));
    assert!(tag_with_id(&p.body, "f-city").contains(r#"value="Madrid""#));
    assert!(tag_with_id(&p.body, "f-phone").contains(r#"value="+34600123456""#));
    assert!(p.body.contains(r#"<option value="ES" selected>"#));
}

#[tokio::test]
async fn account_forms_say_their_errors_as_sentences_in_the_pages_language() {
    let app = spawn_app_with_demo().await;
    let token = csrf(&app).await;
    for (lang, email_words) in [
        ("en", "Enter an email address like"),
        ("es", "Escribe un correo como"),
    ] {
        let form = [
            ("_csrf", token.as_str()),
            ("email", "not an email"),
            ("password", "short"),
            ("name", "Ana"),
        ];
        let p = post_form(
            &app,
            "/account/signup",
            &format!("cielo_csrf={token}; cielo_lang={lang}"),
            &form,
        )
        .await;
        assert_eq!(p.status, 422, "{}", p.body);
        assert!(p.body.contains(email_words), "{lang}: {}", p.body);
        assert!(
            !p.body.contains("must "),
            "{lang}: the API's wording: {}",
            p.body
        );
    }
}

#[tokio::test]
async fn a_product_quantity_out_of_range_or_not_a_number_is_said_beside_the_box() {
    let app = spawn_app_with_demo().await;
    let product: Value = app.get("/api/store/products/star-chart-mug").await.body;
    let variant = product["variants"][0]["id"].as_str().unwrap().to_string();
    let token = csrf(&app).await;
    for q in ["0", "-2", "100", "10000", "abc", "1.5"] {
        let form = [
            ("_csrf", token.as_str()),
            ("handle", "star-chart-mug"),
            ("variant_id", variant.as_str()),
            ("quantity", q),
        ];
        let p = post_form(&app, "/cart/add", &format!("cielo_csrf={token}"), &form).await;
        assert_eq!(p.status, 422, "{q}: {}", p.body);
        let input = tag_with_id(&p.body, "qty");
        assert!(
            input.contains(r#"aria-invalid="true""#) && input.contains("autofocus"),
            "{q}: {input}"
        );
        assert!(p.body.contains("Enter a quantity from 1 to 99."), "{q}");
        assert!(!p.body.contains("quantity:"), "{q}");
    }
}

#[tokio::test]
async fn the_designer_says_which_characters_a_poster_cannot_print_and_offers_no_pair_it_cannot_fill(
) {
    let app = spawn_app_with_demo().await;
    let variant = poster_variant(&app).await;
    let token = csrf(&app).await;
    let madrid: Value = app
        .get("/api/store/starmap/places?q=Madrid&limit=1")
        .await
        .body;
    let madrid_id = madrid["places"][0]["id"].as_u64().unwrap().to_string();
    let post =
        |lang: &'static str, title: &'static str, message: &'static str, layout: &'static str| {
            let (app, variant, token, madrid_id) =
                (&app, variant.clone(), token.clone(), madrid_id.clone());
            async move {
                let form = vec![
                    ("_csrf", token.clone()),
                    ("handle", "personalised-star-map-poster".into()),
                    ("variant_id", variant),
                    ("quantity", "1".into()),
                    ("optn_place_id", madrid_id),
                    ("opt_date", "2024-08-13".into()),
                    ("opt_time", "22:00".into()),
                    ("opt_title", title.into()),
                    ("opt_message", message.into()),
                    ("opt_layout", layout.into()),
                ];
                post_form(
                    app,
                    "/cart/add",
                    &format!("cielo_csrf={token}; cielo_lang={lang}"),
                    &form,
                )
                .await
            }
        };
    // An emoji in the title (18 characters, far under the limit): the reason,
    // beside the title, naming the character; not a length.
    let p = post("en", "Nuestra noche ñ 🌙", "", "classic").await;
    assert_eq!(p.status, 422, "{}", p.body);
    assert!(tag_with_id(&p.body, "sm-title").contains(r#"aria-invalid="true""#));
    let said = p.body.split(r#"id="e-title">"#).nth(1).unwrap_or("");
    assert!(
        said.starts_with("The title has characters the poster cannot print: 🌙."),
        "{}",
        p.body
    );
    assert!(!p.body.contains("Keep the title to"), "not a length");
    assert!(
        !p.body.contains("U+1F319"),
        "the API's wording is not shown"
    );
    // In Spanish, on the message.
    let p = post("es", "Nuestra noche", "Te quiero ♥ 🌙", "classic").await;
    assert_eq!(p.status, 422, "{}", p.body);
    let said = p.body.split(r#"id="e-message">"#).nth(1).unwrap_or("");
    assert!(
        said.starts_with("El mensaje tiene caracteres que el póster no puede imprimir:")
            && said.split("</p>").next().unwrap().contains('🌙'),
        "{}",
        p.body
    );
    // The live preview (drawn by the script) has the same sentence to say.
    assert!(p
        .body
        .contains("data-err-title-glyph=\"El título tiene caracteres"));
    // The pair layout needs a second sky the page cannot ask for: not offered.
    let page = get(&app, "/products/personalised-star-map-poster", "").await;
    assert!(
        page.body.contains(r#"<option value="classic""#),
        "layouts are offered"
    );
    assert!(
        !page.body.contains(r#"<option value="pair""#),
        "{}",
        page.body
    );
    // Sent anyway: said in words at the top, not "the highlighted fields".
    let p = post("en", "Our night", "", "pair").await;
    assert_eq!(p.status, 422, "{}", p.body);
    assert!(
        p.body.contains("This layout needs a second place or date"),
        "{}",
        p.body
    );
    assert!(
        !p.body.contains("Please correct the highlighted fields"),
        "{}",
        p.body
    );
}

/// A paid order of one product the shop ships itself (no lab).
async fn paid_shop_order(app: &TestApp, admin: &str) -> String {
    let sku = format!("P-{}", uuid::Uuid::new_v4().simple());
    let v = app
        .create_product(admin, &format!("Poster {sku}"), &[(&sku, 1000)])
        .await["variants"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let cart = app.new_cart(None).await;
    app.add_line(&cart, None, &v, 1).await;
    let r = app
        .checkout(&cart, None, None, &checkout_body("shop@example.com"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let order = r.body["order_id"].as_str().unwrap().to_string();
    app.pay_on_test_page(admin, &order).await;
    for _ in 0..100 {
        app.run_pending_jobs().await;
        if app
            .get_as(&format!("/api/admin/orders/{order}"), admin)
            .await
            .body["status"]
            == "paid"
        {
            return order;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("order {order} never became paid");
}

#[tokio::test]
async fn the_admin_order_page_offers_only_actions_that_apply_and_says_refunds_in_money() {
    let app = spawn_app_with_demo().await;
    let admin = app.admin_token().await;
    let order = paid_shop_order(&app, &admin).await;
    let token = csrf(&app).await;
    let cookie = format!("cielo_csrf={token}; cielo_session={admin}");
    let act = |action: &'static str, fields: Vec<(&'static str, &'static str)>| {
        let (app, cookie, token, order) = (&app, cookie.clone(), token.clone(), order.clone());
        async move {
            let mut form = vec![("_csrf", token.as_str().to_string())];
            form.extend(fields.into_iter().map(|(k, v)| (k, v.to_string())));
            let p = post_form(
                app,
                &format!("/admin/orders/{order}/{action}"),
                &cookie,
                &form,
            )
            .await;
            assert_eq!(p.status, 303, "{}", p.body);
            get(app, &p.location(), &cookie).await.body
        }
    };
    let page = get(&app, &format!("/admin/orders/{order}"), &cookie)
        .await
        .body;
    assert!(page.contains(">Refund</button>") && page.contains(">Mark shipped</button>"));
    for absent in [
        ">Mark delivered</button>",
        ">Resolve</button>",
        ">Cancel order</button>",
    ] {
        assert!(!page.contains(absent), "{absent} on a paid order");
    }
    // A comma decimal, as Spanish writes it: 10.50 refunded.
    let after = act(
        "refund",
        vec![("currency", "USD"), ("amount", "10,50"), ("reason", "late")],
    )
    .await;
    assert!(after.contains("The refund was made."), "{after}");
    assert!(!after.contains(": done"), "{after}");
    let o = app
        .get_as(&format!("/api/admin/orders/{order}"), &admin)
        .await
        .body;
    assert_eq!(o["status"], "partially_refunded", "{o}");
    // More than is left: said in dollars, as the field takes them.
    let after = act(
        "refund",
        vec![("currency", "USD"), ("amount", "99999"), ("reason", "x")],
    )
    .await;
    assert!(
        after.contains("The amount must be between $0.01 and $"),
        "{after}"
    );
    assert!(!after.contains("between 1 and"), "no minor units: {after}");
    // Shipped, then delivered: neither is offered again, nor Cancel.
    let after = act(
        "shipped",
        vec![("carrier", "Correos"), ("tracking_number", "PK123")],
    )
    .await;
    assert!(
        after.contains("The parcel was recorded as shipped."),
        "{after}"
    );
    assert!(after.contains(">Mark delivered</button>"), "{after}");
    assert!(
        !after.contains(">Mark shipped</button>"),
        "every line has shipped"
    );
    let after = act("delivered", vec![]).await;
    assert!(after.contains("The order was marked delivered."), "{after}");
    for absent in [
        ">Mark shipped</button>",
        ">Mark delivered</button>",
        ">Resolve</button>",
        ">Cancel order</button>",
    ] {
        assert!(!after.contains(absent), "{absent} on a delivered order");
    }
    assert!(
        after.contains(">Refund</button>"),
        "what is left can be refunded"
    );
    // Sent anyway (an old tab): refused in words, not the API's names.
    let after = act("cancel", vec![("note", "x")]).await;
    assert!(
        after.contains("only an order that needs attention can be cancelled here"),
        "{after}"
    );
    assert!(!after.contains("not needs_attention"), "{after}");
}

#[tokio::test]
async fn the_admin_orders_list_says_every_wrong_filter_beside_its_field() {
    let app = spawn_app_with_demo().await;
    let admin = app.admin_token().await;
    let cookie = format!("cielo_session={admin}");
    // A day that is no day: said beside "From".
    let p = get(&app, "/admin/orders?from=2026-13-45", &cookie).await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(
        tag_with_id(&p.body, "fr").contains(r#"aria-invalid="true""#),
        "{}",
        p.body
    );
    assert!(
        p.body
            .contains(r#"id="e-from">Enter the “From” day as a real date"#),
        "{}",
        p.body
    );
    // Several wrong at once: every one, each beside its field, in words.
    let p = get(
        &app,
        "/admin/orders?status=lost&from=2026-13-45&to=nope&number=zz&lab=moon",
        &cookie,
    )
    .await;
    for (id, field) in [
        ("st", "status"),
        ("fr", "from"),
        ("to", "to"),
        ("no", "number"),
        ("lab", "lab"),
    ] {
        assert!(
            tag_with_id(&p.body, id).contains(r#"aria-invalid="true""#),
            "{field}"
        );
        assert!(
            p.body.contains(&format!(r#"id="e-{field}""#)),
            "{field}: {}",
            p.body
        );
    }
    assert!(p.body.contains("Choose a status from the list."));
    assert!(!p.body.contains("must be one of"), "not the API's wording");
    // Dates the wrong way round: said on "Before".
    let p = get(&app, "/admin/orders?from=2026-05-02&to=2026-05-01", &cookie).await;
    assert!(
        p.body.contains("“Before” must be a later day than “From”."),
        "{}",
        p.body
    );
}

#[tokio::test]
async fn sign_in_mistakes_and_an_empty_jobs_page_are_said_in_sentences() {
    let app = spawn_app_with_demo().await;
    app.register("carol@example.com").await;
    let token = csrf(&app).await;
    for (lang, said) in [
        ("en", "The email or password is not right."),
        ("es", "El correo o la contraseña no son correctos."),
    ] {
        let p = post_form(
            &app,
            "/account/signin",
            &format!("cielo_csrf={token}; cielo_lang={lang}"),
            &[
                ("_csrf", token.as_str()),
                ("email", "carol@example.com"),
                ("password", "not her password at all"),
                ("next", "/account"),
            ],
        )
        .await;
        assert_eq!(p.status, 401, "{}", p.body);
        assert!(p.body.contains(said), "{lang}: {}", p.body);
        assert!(!p.body.contains("wrong email or password"));
    }
    // Jobs ran and were removed: the page says what it shows, not that
    // nothing ever ran.
    let admin = app.admin_token().await;
    while app.run_pending_jobs().await > 0 {}
    let stats = app.get_as("/api/admin/jobs/stats", &admin).await.body;
    assert_eq!(stats["queues"], serde_json::json!([]), "{stats}");
    let p = get(&app, "/admin/jobs", &format!("cielo_session={admin}")).await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(
        p.body
            .contains("No jobs waiting, running or dead right now."),
        "{}",
        p.body
    );
    assert!(!p.body.contains("No queues have run yet"));
}

#[tokio::test]
async fn the_designer_speaks_spanish_in_every_picker() {
    let app = spawn_app_with_demo().await;
    let path = "/products/personalised-star-map-poster";
    let es = get_html(&app, path, "cielo_lang=es", "es").await;
    assert_eq!(es.status, 200);
    for words in [
        "Tipo de letra",
        ">Diseño<",
        ">Forma<",
        "Azul medianoche",
        "Clásico: el cielo arriba",
        "Corazón (dentro del horizonte)",
        ">Opciones<",
    ] {
        assert!(
            es.body.contains(words),
            "{words} missing from the Spanish designer"
        );
    }
    for english in [
        ">Font<",
        ">Layout<",
        ">Shape<",
        "Midnight blue",
        ">Options<",
    ] {
        assert!(!es.body.contains(english), "{english} left in English");
    }
    let en = get_html(&app, path, "", "en").await;
    for words in [">Font<", ">Layout<", ">Shape<", "Midnight blue"] {
        assert!(
            en.body.contains(words),
            "{words} missing from the English designer"
        );
    }
}
