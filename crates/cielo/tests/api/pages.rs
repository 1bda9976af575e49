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
