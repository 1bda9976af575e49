//! Catalog: store reads, admin writes, validation, images.

use crate::helpers::*;
use serde_json::{json, Value};

fn titles(page: &Value) -> Vec<String> {
    page["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_demo_catalog_has_a_star_map_poster_in_three_sizes_a_download_and_more_with_images() {
    let app = spawn_app_with_demo().await;
    let page = app.get("/api/store/products?limit=100").await.body;
    let products = page["products"].as_array().unwrap();
    assert!(products.len() >= 5);
    let poster = app
        .get("/api/store/products/personalised-star-map-poster")
        .await
        .body;
    assert_eq!(poster["product_type"], "starmap_poster");
    // Three printed sizes, and the A3 as a digital download (cheaper, no lab).
    let variants = poster["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 4);
    let printed: Vec<&Value> = variants
        .iter()
        .filter(|v| v["delivery"] == "physical")
        .collect();
    assert_eq!(printed.len(), 3);
    let digital = variants
        .iter()
        .find(|v| v["delivery"] == "digital")
        .unwrap();
    assert!(digital["lab"].is_null());
    assert_eq!(digital["option_values"]["size"], "A3");
    let a3 = printed
        .iter()
        .find(|v| v["option_values"]["size"] == "A3")
        .unwrap();
    assert!(digital["price"]["amount"].as_i64() < a3["price"]["amount"].as_i64());
    for p in products {
        assert!(
            !p["images"].as_array().unwrap().is_empty(),
            "{} has no image",
            p["title"]
        );
        assert!(!p["variants"].as_array().unwrap().is_empty());
    }
    // Images are really served.
    let url = poster["images"][0]["url"].as_str().unwrap();
    let res = app.client.get(url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/svg+xml");
    let cats = app.get("/api/store/categories").await.body;
    assert!(cats["categories"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["handle"] == "star-maps" && !c["parent_id"].is_null()));
}

#[tokio::test]
async fn listings_page_with_cursors_without_gaps_or_repeats() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for i in 0..7 {
        app.create_product(
            &admin,
            &format!("Poster {i}"),
            &[(&format!("SKU-{i}"), 1000 + i * 100)],
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/store/products?limit=3&cursor={c}"),
            None => "/api/store/products?limit=3".into(),
        };
        let page = app.get(&path).await.body;
        seen.extend(titles(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        (0..7)
            .rev()
            .map(|i| format!("Poster {i}"))
            .collect::<Vec<_>>(),
        "newest first, each once"
    );

    let asc = titles(
        &app.get("/api/store/products?sort=price_asc&limit=2")
            .await
            .body,
    );
    assert_eq!(asc, vec!["Poster 0", "Poster 1"]);
    let desc = app
        .get("/api/store/products?sort=price_desc&limit=2")
        .await
        .body;
    assert_eq!(titles(&desc), vec!["Poster 6", "Poster 5"]);
    let next = app
        .get(&format!(
            "/api/store/products?sort=price_desc&limit=2&cursor={}",
            desc["next_cursor"].as_str().unwrap()
        ))
        .await
        .body;
    assert_eq!(titles(&next), vec!["Poster 4", "Poster 3"]);
}

#[tokio::test]
async fn listing_parameters_are_validated() {
    let app = spawn_app().await;
    let r = app.get("/api/store/products?limit=101").await;
    r.assert_problem(422, "validation-failed");
    assert_eq!(r.pointers(), vec!["#/limit"]);
    app.get("/api/store/products?limit=abc")
        .await
        .assert_problem(422, "invalid-query");
    app.get("/api/store/products?sort=cheapest")
        .await
        .assert_problem(422, "invalid-query");
    app.get("/api/store/products?cursor=garbage")
        .await
        .assert_problem(422, "validation-failed");
    app.get("/api/store/products?category=nope")
        .await
        .assert_problem(422, "validation-failed");
}

#[tokio::test]
async fn search_and_category_filters_find_the_right_products() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let posters = app
        .post_as("/api/admin/categories", &admin, &json!({"name": "Posters"}))
        .await
        .body;
    let maps = app
        .post_as(
            "/api/admin/categories",
            &admin,
            &json!({"name": "Star maps", "parent_id": posters["id"]}),
        )
        .await
        .body;
    let map = app
        .create_product(&admin, "Año Nuevo Star Map", &[("MAP-1", 3900)])
        .await;
    app.create_product(&admin, "Moon Mug", &[("MUG-1", 1500)])
        .await;
    let patched = app
        .request(
            reqwest::Method::PATCH,
            &format!("/api/admin/products/{}", map["id"].as_str().unwrap()),
            Some(&admin),
            Some(&json!({"category_ids": [maps["id"]]})),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);

    assert_eq!(
        titles(&app.get("/api/store/products?q=star%20MAP").await.body),
        vec!["Año Nuevo Star Map"]
    );
    assert_eq!(
        titles(&app.get("/api/store/products?q=a%C3%B1o").await.body),
        vec!["Año Nuevo Star Map"],
        "accented search"
    );
    app.create_product(&admin, "Café de Noche Print", &[("CAFE-1", 2500)])
        .await;
    app.create_product(&admin, "Noche Estrellada Póster", &[("NOCHE-1", 2900)])
        .await;
    assert_eq!(
        titles(&app.get("/api/store/products?q=cafe").await.body),
        vec!["Café de Noche Print"],
        "accents are folded: `cafe` finds Café"
    );
    assert_eq!(
        titles(&app.get("/api/store/products?q=POSTER").await.body),
        vec!["Noche Estrellada Póster"],
        "case and accents are folded together"
    );
    assert_eq!(
        titles(&app.get("/api/store/products?q=CAF%C3%89").await.body),
        vec!["Café de Noche Print"],
        "an accented upper-case query finds the title"
    );
    assert_eq!(
        titles(&app.get("/api/store/products?q=100%25").await.body),
        Vec::<String>::new(),
        "LIKE wildcards are literal"
    );
    assert_eq!(
        titles(&app.get("/api/store/products?category=posters").await.body),
        vec!["Año Nuevo Star Map"],
        "subcategories count"
    );
    assert_eq!(
        titles(
            &app.get(&format!(
                "/api/store/products?category={}",
                maps["id"].as_str().unwrap()
            ))
            .await
            .body
        ),
        vec!["Año Nuevo Star Map"]
    );
}

#[tokio::test]
async fn drafts_are_hidden_from_the_store_but_not_from_admins() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let draft = app
        .post_as(
            "/api/admin/products",
            &admin,
            &json!({"title": "Secret Poster"}),
        )
        .await
        .body;
    assert_eq!(draft["status"], "draft");
    assert_eq!(draft["handle"], "secret-poster");
    app.get("/api/store/products/secret-poster")
        .await
        .assert_problem(404, "product-not-found");
    assert_eq!(
        titles(&app.get("/api/store/products").await.body),
        Vec::<String>::new()
    );
    assert_eq!(
        app.get_as("/api/admin/products/secret-poster", &admin)
            .await
            .status,
        200
    );
    assert_eq!(
        titles(&app.get_as("/api/admin/products", &admin).await.body),
        vec!["Secret Poster"]
    );
}

#[tokio::test]
async fn admins_create_update_and_delete_products_and_variants() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let p = app
        .post_as(
            "/api/admin/products",
            &admin,
            &json!({"title": "Tee", "status": "published", "option_names": ["size"],
                    "variants": [{"sku": "TEE-S", "option_values": {"size": "S"}, "price": {"amount": 2500, "currency": "USD"}, "stock": 3, "lab_product_id": "pf-71"}]}),
        )
        .await;
    assert_eq!(p.status, 201, "{}", p.body);
    let id = p.body["id"].as_str().unwrap();
    assert_eq!(p.body["variants"][0]["title"], "S");
    assert_eq!(p.body["variants"][0]["lab_product_id"], "pf-71");
    assert_eq!(
        p.body["price_from"],
        json!({"amount": 2500, "currency": "USD"})
    );

    let v = app.post_as(&format!("/api/admin/products/{id}/variants"), &admin, &json!({"sku": "TEE-M", "option_values": {"size": "M"}, "price": {"amount": 2300, "currency": "USD"}})).await;
    assert_eq!(v.status, 201, "{}", v.body);
    let vid = v.body["id"].as_str().unwrap();
    let store = app.get(&format!("/api/store/products/{id}")).await.body;
    assert_eq!(store["price_from"]["amount"], 2300);

    let upd = app
        .request(
            reqwest::Method::PATCH,
            &format!("/api/admin/variants/{vid}"),
            Some(&admin),
            Some(&json!({"price": {"amount": 2700, "currency": "USD"}, "stock": null})),
        )
        .await;
    assert_eq!(upd.body["price"]["amount"], 2700);
    assert_eq!(upd.body["stock"], Value::Null);
    assert_eq!(
        app.get(&format!("/api/store/products/{id}")).await.body["price_from"]["amount"],
        2500,
        "a write shows at once"
    );

    assert_eq!(
        app.request(
            reqwest::Method::DELETE,
            &format!("/api/admin/variants/{vid}"),
            Some(&admin),
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(
        app.request(
            reqwest::Method::DELETE,
            &format!("/api/admin/products/{id}"),
            Some(&admin),
            None
        )
        .await
        .status,
        204
    );
    app.get(&format!("/api/store/products/{id}"))
        .await
        .assert_problem(404, "product-not-found");
}

#[tokio::test]
async fn bad_catalog_writes_name_the_field_and_write_nothing() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.create_product(&admin, "Existing", &[("DUP-1", 100)])
        .await;
    let cases = [
        (json!({"title": ""}), vec!["#/title"]),
        (
            json!({"title": "X", "handle": "Not A Handle"}),
            vec!["#/handle"],
        ),
        (
            json!({"title": "X", "variants": [{"sku": "A B", "price": {"amount": 1, "currency": "USD"}}]}),
            vec!["#/variants/0/sku"],
        ),
        (
            json!({"title": "X", "variants": [{"sku": "NEG", "price": {"amount": -5, "currency": "USD"}}]}),
            vec!["#/variants/0/price/amount"],
        ),
        (
            json!({"title": "X", "variants": [{"sku": "CUR", "price": {"amount": 5, "currency": "XYZ"}}]}),
            vec!["#/variants/0/price/currency"],
        ),
        (
            json!({"title": "X", "option_names": ["size"], "variants": [{"sku": "OPT", "option_values": {"colour": "red"}, "price": {"amount": 5, "currency": "USD"}}]}),
            vec!["#/variants/0/option_values/colour"],
        ),
        (
            json!({"title": "X", "status": "archived"}),
            vec!["#/status"],
        ),
        (
            json!({"title": "X", "category_ids": ["cat_0193a0b2c3d47e8f9a0b1c2d3e4f5a6b"]}),
            vec!["#/category_ids/0"],
        ),
    ];
    for (body, pointers) in cases {
        let r = app.post_as("/api/admin/products", &admin, &body).await;
        r.assert_problem(422, "validation-failed");
        assert_eq!(r.pointers(), pointers, "case {body}");
    }
    // A duplicate SKU in a second product rolls the whole product back.
    let dup = app.post_as("/api/admin/products", &admin, &json!({"title": "Twin", "variants": [{"sku": "NEW-1", "price": {"amount": 1, "currency": "USD"}}, {"sku": "DUP-1", "price": {"amount": 1, "currency": "USD"}}]})).await;
    dup.assert_problem(409, "duplicate-sku");
    let dup = app
        .post_as("/api/admin/products", &admin, &json!({"title": "Existing"}))
        .await;
    dup.assert_problem(409, "duplicate-handle");
    let all = app
        .get_as("/api/admin/products?limit=100", &admin)
        .await
        .body;
    assert_eq!(
        titles(&all),
        vec!["Existing"],
        "nothing partial was written"
    );
}

#[tokio::test]
async fn categories_nest_and_cannot_contain_themselves() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let a = app
        .post_as("/api/admin/categories", &admin, &json!({"name": "A"}))
        .await
        .body;
    let b = app
        .post_as(
            "/api/admin/categories",
            &admin,
            &json!({"name": "B", "parent_id": a["id"]}),
        )
        .await
        .body;
    let loop_ = app
        .request(
            reqwest::Method::PATCH,
            &format!("/api/admin/categories/{}", a["id"].as_str().unwrap()),
            Some(&admin),
            Some(&json!({"parent_id": b["id"]})),
        )
        .await;
    loop_.assert_problem(422, "validation-failed");
    assert_eq!(
        app.request(
            reqwest::Method::DELETE,
            &format!("/api/admin/categories/{}", a["id"].as_str().unwrap()),
            Some(&admin),
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(
        app.get("/api/store/categories").await.body["categories"],
        json!([]),
        "subcategories go too"
    );
}

#[tokio::test]
async fn an_admin_uploads_an_image_through_a_signed_url_and_attaches_it() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let product = app
        .create_product(&admin, "Framed Print", &[("FP-1", 4000)])
        .await;
    let id = product["id"].as_str().unwrap();

    let ticket = app
        .post_as(
            "/api/admin/uploads",
            &admin,
            &json!({"filename": "Framed Print.png", "content_type": "image/png"}),
        )
        .await;
    assert_eq!(ticket.status, 201, "{}", ticket.body);
    let key = ticket.body["object_key"].as_str().unwrap();
    let url = ticket.body["upload_url"].as_str().unwrap();
    // The ticket names the condition that makes the URL single-use on S3
    // too, where it is part of the signature.
    assert_eq!(ticket.body["headers"], json!({"If-None-Match": "*"}));

    // Attaching before uploading is refused.
    let early = app
        .post_as(
            &format!("/api/admin/products/{id}/images"),
            &admin,
            &json!({"object_key": key}),
        )
        .await;
    early.assert_problem(422, "validation-failed");

    // A tampered signature is refused; the real one works.
    let bad = app
        .client
        .put(url.replace("signature=", "signature=00"))
        .body(vec![1u8, 2, 3])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 403);
    // A 1×1 PNG header.
    let png: &[u8] = &[
        0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0,
        0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89,
    ];
    let put = app.client.put(url).body(png.to_vec()).send().await.unwrap();
    assert_eq!(put.status(), 201);
    // The URL takes one PUT: a second one (to replace the image) is refused.
    let again = app
        .client
        .put(url)
        .body(b"GIF89a".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    assert_eq!(again.headers()["content-type"], "application/problem+json");

    let img = app
        .post_as(
            &format!("/api/admin/products/{id}/images"),
            &admin,
            &json!({"object_key": key, "alt": "A framed print"}),
        )
        .await;
    assert_eq!(img.status, 201, "{}", img.body);
    let served = app
        .client
        .get(img.body["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.bytes().await.unwrap().as_ref(), png);

    let wrong = app
        .post_as(
            "/api/admin/uploads",
            &admin,
            &json!({"filename": "x.exe", "content_type": "application/x-msdownload"}),
        )
        .await;
    wrong.assert_problem(422, "validation-failed");
    assert_eq!(wrong.pointers(), vec!["#/content_type"]);
}

#[tokio::test]
async fn bytes_that_are_not_the_image_their_name_says_never_become_a_product_image() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let product = app.create_product(&admin, "Print", &[("PR-1", 4000)]).await;
    let id = product["id"].as_str().unwrap();
    let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00".to_vec();
    for (filename, content_type, bytes) in [
        (
            "a.png",
            "image/png",
            b"\x89PNG\r\n\x1a\n fake png bytes".to_vec(),
        ),
        (
            "b.png",
            "image/png",
            b"<html><script>alert(1)</script></html>".to_vec(),
        ),
        ("c.jpg", "image/jpeg", gif.clone()),
        (
            "d.svg",
            "image/svg+xml",
            b"<html><body>not svg</body></html>".to_vec(),
        ),
    ] {
        let ticket = app
            .post_as(
                "/api/admin/uploads",
                &admin,
                &json!({"filename": filename, "content_type": content_type}),
            )
            .await;
        let key = ticket.body["object_key"].as_str().unwrap();
        let url = ticket.body["upload_url"].as_str().unwrap();
        let put = app.client.put(url).body(bytes).send().await.unwrap();
        assert_eq!(put.status(), 201);
        let r = app
            .post_as(
                &format!("/api/admin/products/{id}/images"),
                &admin,
                &json!({"object_key": key}),
            )
            .await;
        r.assert_problem(422, "validation-failed");
        assert_eq!(r.pointers(), vec!["#/object_key"], "{filename}");
    }
    let ticket = app
        .post_as(
            "/api/admin/uploads",
            &admin,
            &json!({"filename": "ok.gif", "content_type": "image/gif"}),
        )
        .await;
    let key = ticket.body["object_key"].as_str().unwrap();
    let put = app
        .client
        .put(ticket.body["upload_url"].as_str().unwrap())
        .body(gif)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    let r = app
        .post_as(
            &format!("/api/admin/products/{id}/images"),
            &admin,
            &json!({"object_key": key}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let p = app
        .get_as(&format!("/api/admin/products/{id}"), &admin)
        .await;
    assert_eq!(
        p.body["images"].as_array().map(Vec::len),
        Some(1),
        "{}",
        p.body
    );
}
