//! Abuse limits: sign-in and password guesses on one normalised identity,
//! per-IP rate limits on costly routes (429 problem with Retry-After), and
//! clients that send slowly or not at all.

use crate::helpers::*;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn the_sign_in_limit_keys_on_the_email_as_sign_in_reads_it() {
    let app = spawn_app().await;
    app.register("vic3@x.test").await;
    for _ in 0..5 {
        let r = app
            .post(
                "/api/store/auth/login",
                &json!({"email": "vic3@x.test", "password": "wrong password!"}),
            )
            .await;
        r.assert_problem(401, "bad-credentials");
    }
    for spelling in ["vic3@x.test ", " VIC3@x.test", "Vic3@X.Test\t"] {
        let r = app
            .post(
                "/api/store/auth/login",
                &json!({"email": spelling, "password": "correct horse battery"}),
            )
            .await;
        r.assert_problem(429, "too-many-login-attempts");
        assert!(r.headers.contains_key("retry-after"), "{spelling:?}");
    }
}

#[tokio::test]
async fn a_stolen_session_cannot_guess_the_current_password_without_limit() {
    let app = spawn_app().await;
    let token = app.register("ada@example.com").await;
    let mut statuses = Vec::new();
    for i in 0..8 {
        let r = app
            .post_as(
                "/api/store/me/password",
                &token,
                &json!({"current_password": format!("guess number {i}"), "new_password": "a brand new passphrase"}),
            )
            .await;
        statuses.push(r.status.as_u16());
        if r.status == 429 {
            r.assert_problem(429, "too-many-login-attempts");
            assert!(r.headers.contains_key("retry-after"));
        }
    }
    assert_eq!(statuses[..5], [422; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    // The budget is the account's: sign-in is refused too, right password or not.
    app.post(
        "/api/store/auth/login",
        &json!({"email": "ada@example.com", "password": "correct horse battery"}),
    )
    .await
    .assert_problem(429, "too-many-login-attempts");
}

#[tokio::test]
async fn registration_is_limited_per_address() {
    let app = spawn_app_with(false, |s| s.limits.registrations_per_hour = 3).await;
    for i in 0..3 {
        app.register(&format!("r{i}@example.com")).await;
    }
    let r = app
        .post(
            "/api/store/auth/register",
            &json!({"email": "r9@example.com", "password": "correct horse battery", "name": "R"}),
        )
        .await;
    r.assert_problem(429, "rate-limited");
    let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=1200).contains(&wait), "{wait}");
}

#[tokio::test]
async fn costly_routes_are_limited_per_address_with_retry_after() {
    let app = spawn_app_with(true, |s| {
        s.limits.cart_creations_per_minute = 3;
        s.limits.checkouts_per_minute = 2;
        s.limits.place_searches_per_minute = 2;
        s.limits.previews_per_minute = 1;
        s.limits.webhooks_per_minute = 2;
    })
    .await;
    // Each route: its budget passes (whatever the answer), then 429.
    let cart = app.new_cart(None).await;
    let cases: Vec<(reqwest::Method, String, usize)> = vec![
        (reqwest::Method::POST, "/api/store/carts".into(), 2),
        (reqwest::Method::POST, format!("/api/store/carts/{cart}/checkout"), 2),
        (reqwest::Method::GET, "/api/store/starmap/places?q=madrid".into(), 2),
        (reqwest::Method::GET, "/api/store/starmap/preview?lat=40.4&lon=-3.7&date=2024-08-13&time=00:30&tz=Europe/Madrid".into(), 1),
        (reqwest::Method::POST, "/webhooks/test".into(), 2),
    ];
    for (method, path, budget) in cases {
        for _ in 0..budget {
            let r = app
                .request(method.clone(), &path, None, Some(&json!({})))
                .await;
            assert_ne!(r.status, 429, "{method} {path} limited too early");
        }
        let r = app
            .request(method.clone(), &path, None, Some(&json!({})))
            .await;
        r.assert_problem(429, "rate-limited");
        let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&wait), "{path}: {wait}");
    }
    // Routes without a limit are not affected.
    for _ in 0..20 {
        assert_eq!(app.get("/api/store/products").await.status, 200);
    }
}

async fn connect(app: &TestApp) -> tokio::net::TcpStream {
    tokio::net::TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Reads until the server closes the connection (or `limit` passes); returns
/// what was read and how long it took.
async fn read_until_closed(
    stream: &mut tokio::net::TcpStream,
    limit: Duration,
) -> (String, Duration) {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(limit.saturating_sub(start.elapsed()), stream.read(&mut buf))
            .await
        {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "still open after {limit:?}; read {:?}",
                String::from_utf8_lossy(&got)
            ),
        }
    }
    (String::from_utf8_lossy(&got).into_owned(), start.elapsed())
}

#[tokio::test]
async fn slow_headers_idle_keep_alives_and_unfinished_bodies_are_cut_off() {
    let app = spawn_app_with(false, |s| {
        s.http.header_read_timeout_secs = 1;
        s.http.request_timeout_secs = 2;
    })
    .await;

    // Headers sent a byte at a time, never finished: closed after about 1 s.
    let mut slow = connect(&app).await;
    let writer = async {
        for b in b"GET /healthz HTTP/1.1\r\nHost: shop\r\nX-Slow: "
            .iter()
            .cycle()
        {
            if slow.write_all(&[*b]).await.is_err() {
                break;
            }
            // A byte every 100 ms; stop when the server has closed.
            match tokio::time::timeout(Duration::from_millis(100), slow.peek(&mut [0u8; 1])).await {
                Err(_) => continue,
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(_)) => panic!("the server answered an unfinished request head"),
            }
        }
    };
    let started = Instant::now();
    let _ = tokio::time::timeout(Duration::from_secs(10), writer).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "slow headers kept the connection {:?}",
        started.elapsed()
    );

    // A kept-alive connection that sends nothing more is closed.
    let mut idle = connect(&app).await;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: shop\r\n\r\n")
        .await
        .unwrap();
    let (answer, took) = read_until_closed(&mut idle, Duration::from_secs(6)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        took < Duration::from_secs(4),
        "idle keep-alive held {took:?}"
    );

    // A body that never finishes: a 408 problem, then the connection closes.
    let mut body = connect(&app).await;
    body.write_all(b"POST /api/store/auth/login HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"email\":").await.unwrap();
    let (answer, took) = read_until_closed(&mut body, Duration::from_secs(8)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{answer}"
    );
    assert!(took < Duration::from_secs(6), "{took:?}");

    // Ordinary requests still work.
    assert_eq!(app.get("/healthz").await.status, 200);
}
