//! The HTTP edge: health, readiness, metrics, OpenAPI, errors, request ids.

use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn health_and_readiness_report_ok_on_a_migrated_database() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.body, json!({"status": "ok"}));
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.body["database"], true);
    assert_eq!(ready.body["pending_migrations"], json!([]));
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_given_one_is_echoed() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(format!("{}/healthz", app.address))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "abc-123");
    let res = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert!(!res.headers()["x-request-id"].is_empty());
    // A store listing answered from the response cache (the second one) too,
    // each with its own id.
    let mut ids = Vec::new();
    for _ in 0..2 {
        let res = app
            .client
            .get(format!("{}/api/store/products?limit=2", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "application/json");
        ids.push(res.headers()["x-request-id"].to_str().unwrap().to_string());
    }
    assert_ne!(ids[0], ids[1]);
    let res = app
        .client
        .get(format!("{}/api/store/products?limit=2", app.address))
        .header("x-request-id", "cached-1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "cached-1");
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = spawn_app().await;
    app.get("/api/store/nothing-here")
        .await
        .assert_problem(404, "route-not-found");
    let r = app
        .request(reqwest::Method::DELETE, "/api/store/products", None, None)
        .await;
    r.assert_problem(405, "method-not-allowed");
}

#[tokio::test]
async fn the_openapi_document_is_3_1_and_every_documented_operation_is_routed() {
    let app = spawn_app().await;
    let doc = app.get("/openapi.json").await.body;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 30, "only {} paths documented", paths.len());
    for must in [
        "/api/store/products",
        "/api/store/carts/{id}/checkout",
        "/api/admin/orders",
        "/api/store/starmap/preview",
        "/api/store/starmap/places",
        "/api/store/starmap/options",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
    ] {
        assert!(paths.contains_key(must), "{must} is not documented");
    }
    // Each documented operation reaches a handler (not the router's fallback).
    for (path, ops) in paths {
        for method in ops
            .as_object()
            .unwrap()
            .keys()
            .filter(|m| ["get", "post", "put", "patch", "delete"].contains(&m.as_str()))
        {
            let concrete = path.replace("{id_or_handle}", "x").replace(['{', '}'], "");
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = app.request(m, &concrete, None, None).await;
            assert_ne!(
                r.body["type"], "urn:cielo:problem:route-not-found",
                "{method} {path} is documented but not routed"
            );
            assert_ne!(
                r.status, 405,
                "{method} {path} is documented but the method is not routed"
            );
        }
    }
    // Request and response schemas are present.
    let checkout = &paths["/api/store/carts/{id}/checkout"]["post"];
    assert!(checkout["requestBody"]["content"]["application/json"]["schema"].is_object());
    assert!(checkout["responses"]["201"]["content"]["application/json"]["schema"].is_object());
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = spawn_app().await;
    // The second listing is answered from the response cache: counted alike.
    app.get("/api/store/products").await;
    app.get("/api/store/products").await;
    app.get("/api/store/products/missing-product").await;
    let text = app.get("/metrics").await.body;
    let text = text.as_str().unwrap();
    assert!(
        text.contains(
            r#"cielo_http_requests_total{route="/api/store/products",method="GET",status="200"} 2"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"cielo_http_requests_total{route="/api/store/products/{id_or_handle}",method="GET",status="404"} 1"#), "{text}");
    assert!(text.contains(
        "cielo_http_request_duration_seconds_bucket{route=\"/api/store/products\",le=\"+Inf\"} 2"
    ), "{text}");
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_a_problem() {
    let app = spawn_app_with(false, |s| s.http.body_limit_bytes = 1024).await;
    let big = format!(
        "{{\"email\": \"{}\", \"password\": \"x\"}}",
        "a".repeat(4096)
    );
    let r = app
        .post_raw("/api/store/auth/register", "application/json", &big)
        .await;
    r.assert_problem(413, "body-too-large");
}

#[tokio::test]
async fn malformed_json_and_wrong_content_types_are_told_apart() {
    let app = spawn_app().await;
    app.post_raw(
        "/api/store/auth/register",
        "application/json",
        "{\"email\": ",
    )
    .await
    .assert_problem(400, "malformed-json");
    app.post_raw("/api/store/auth/register", "text/plain", "hello")
        .await
        .assert_problem(415, "unsupported-media-type");
}

#[tokio::test]
async fn cors_allows_configured_origins_only() {
    let app = spawn_app_with(false, |s| {
        s.http.cors_origins = vec!["https://shop.example".into()]
    })
    .await;
    let ok = app
        .client
        .get(format!("{}/healthz", app.address))
        .header("origin", "https://shop.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    let other = app
        .client
        .get(format!("{}/healthz", app.address))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn the_storefront_page_is_served() {
    let app = spawn_app_with_demo().await;
    let res = app
        .client
        .get(format!("{}/", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    // Rendered on the server: the products are in the HTML, no script needed.
    let html = res.text().await.unwrap();
    assert!(
        html.contains(r#"href="/products/star-chart-mug""#),
        "{html}"
    );
}

/// Every error the server produces is problem+json, the framework's own
/// rejections included: each documented operation is called with malformed
/// input of every kind (broken JSON, a body over the limit, a bad query, bad
/// path segments, a wrong content type), signed in as an admin and not.
#[tokio::test]
async fn every_route_answers_malformed_input_with_a_problem() {
    let app = spawn_app_with(false, |s| s.http.body_limit_bytes = 64 * 1024).await;
    let admin = app.admin_token().await;
    let doc = app.get("/openapi.json").await.body;
    let paths = doc["paths"].as_object().unwrap();
    let big = format!("{{\"x\": \"{}\"}}", "a".repeat(3 * 1024 * 1024));
    let mut errors = 0;
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            let Ok(m) = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()) else {
                continue;
            };
            let concrete = path
                .split('/')
                .map(|seg| {
                    if seg.starts_with('{') {
                        "%00bad%20id"
                    } else {
                        seg
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            let query = "?limit=abc&cursor=%ff&expires=not-a-number&signature=&q=%00&lat=x";
            let cases: [(&str, &str, String); 4] = [
                ("", "application/json", "{\"broken\": ".into()),
                (query, "application/json", "[]".into()),
                ("", "text/plain", "hello".into()),
                ("", "application/json", big.clone()),
            ];
            for (q, content_type, body) in cases {
                for token in [None, Some(admin.as_str())] {
                    let mut rb = app
                        .client
                        .request(m.clone(), format!("{}{concrete}{q}", app.address))
                        .header("content-type", content_type)
                        .body(body.clone());
                    if let Some(t) = token {
                        rb = rb.bearer_auth(t);
                    }
                    let res = rb.send().await.unwrap();
                    let status = res.status();
                    let ct = res
                        .headers()
                        .get("content-type")
                        .map(|v| v.to_str().unwrap().to_string());
                    if status.is_client_error() || status.is_server_error() {
                        errors += 1;
                        assert_eq!(
                            ct.as_deref(),
                            Some("application/problem+json"),
                            "{method} {concrete}{q} ({content_type}, {} bytes) answered {status}",
                            body.len()
                        );
                        let problem: serde_json::Value = res.json().await.unwrap();
                        assert_eq!(problem["status"], status.as_u16(), "{problem}");
                        assert!(problem["type"]
                            .as_str()
                            .unwrap()
                            .starts_with("urn:cielo:problem:"));
                    }
                }
            }
        }
    }
    assert!(
        errors > 100,
        "only {errors} error answers: the walk did not reach the routes"
    );

    // The framework's own rejections named in the report.
    let r = app
        .post_raw("/api/store/carts", "application/json", &big)
        .await;
    r.assert_problem(413, "body-too-large");
    let r = app
        .get("/storage/images/x.png?expires=soon&signature=00")
        .await;
    r.assert_problem(422, "invalid-query");
    assert_eq!(r.pointers(), vec!["#/expires"]);
    app.request(reqwest::Method::PATCH, "/healthz", None, None)
        .await
        .assert_problem(405, "method-not-allowed");
    app.get("/no/such/route")
        .await
        .assert_problem(404, "route-not-found");
}
