//! Accounts: registration, sign-in, sessions, profile, addresses, isolation.

use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn a_customer_registers_signs_in_and_out() {
    let app = spawn_app().await;
    let token = app.register("ada@example.com").await;
    let me = app.get_as("/api/store/me", &token).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["email"], "ada@example.com");
    assert_eq!(me.body["role"], "customer");
    assert!(me.body.get("password_hash").is_none());

    let login = app
        .post(
            "/api/store/auth/login",
            &json!({"email": "ADA@example.com", "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(login.status, 200);
    let second = login.body["token"].as_str().unwrap().to_string();

    let out = app
        .request(
            reqwest::Method::POST,
            "/api/store/auth/logout",
            Some(&second),
            None,
        )
        .await;
    assert_eq!(out.status, 204);
    app.get_as("/api/store/me", &second)
        .await
        .assert_problem(401, "unauthenticated");
    assert_eq!(
        app.get_as("/api/store/me", &token).await.status,
        200,
        "other sessions live on"
    );
}

#[tokio::test]
async fn wrong_passwords_and_unknown_emails_get_the_same_answer() {
    let app = spawn_app().await;
    app.register("ada@example.com").await;
    let a = app
        .post(
            "/api/store/auth/login",
            &json!({"email": "ada@example.com", "password": "wrong password 1"}),
        )
        .await;
    let b = app
        .post(
            "/api/store/auth/login",
            &json!({"email": "nobody@example.com", "password": "wrong password 1"}),
        )
        .await;
    a.assert_problem(401, "bad-credentials");
    b.assert_problem(401, "bad-credentials");
    assert_eq!(a.body["detail"], b.body["detail"]);
}

#[tokio::test]
async fn a_password_change_ends_every_other_session() {
    let app = spawn_app().await;
    let first = app.register("ada@example.com").await;
    let second = app
        .post(
            "/api/store/auth/login",
            &json!({"email": "ada@example.com", "password": "correct horse battery"}),
        )
        .await
        .body["token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app.post_as("/api/store/me/password", &first, &json!({"current_password": "correct horse battery", "new_password": "an even better phrase"})).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        app.get_as("/api/store/me", &first).await.status,
        200,
        "the session that changed it stays"
    );
    app.get_as("/api/store/me", &second)
        .await
        .assert_problem(401, "unauthenticated");
    let old = app
        .post(
            "/api/store/auth/login",
            &json!({"email": "ada@example.com", "password": "correct horse battery"}),
        )
        .await;
    old.assert_problem(401, "bad-credentials");
}

#[tokio::test]
async fn bad_registrations_name_the_field_and_write_nothing() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"email": "not-an-email", "password": "correct horse battery"}),
            "#/email",
        ),
        (
            json!({"email": "ada@example.com", "password": "short"}),
            "#/password",
        ),
        (
            json!({"email": "ada@example.com", "password": "password12345"}),
            "#/password",
        ),
        (json!({"password": "correct horse battery"}), "#/email"),
        (
            json!({"email": 42, "password": "correct horse battery"}),
            "#/email",
        ),
        (
            json!({"email": "ada@example.com", "password": "correct horse battery", "admin": true}),
            "#/admin",
        ),
    ];
    for (body, pointer) in cases {
        let r = app.post("/api/store/auth/register", &body).await;
        r.assert_problem(422, "validation-failed");
        assert_eq!(r.pointers(), vec![pointer.to_string()], "case {body}");
    }
    // Nothing was written: the email is still free.
    app.register("ada@example.com").await;
}

#[tokio::test]
async fn a_duplicate_registration_is_a_conflict_whatever_the_case() {
    let app = spawn_app().await;
    app.register("ada@example.com").await;
    let r = app
        .post(
            "/api/store/auth/register",
            &json!({"email": "Ada@Example.com", "password": "correct horse battery"}),
        )
        .await;
    r.assert_problem(409, "email-taken");
    assert_eq!(r.pointers(), vec!["#/email"]);
}

#[tokio::test]
async fn sign_in_is_rate_limited_per_account_and_per_ip() {
    let app = spawn_app_with(false, |s| {
        s.accounts.login_attempts_per_account = 3;
        s.accounts.login_attempts_per_ip = 6;
    })
    .await;
    app.register("ada@example.com").await;
    for _ in 0..3 {
        let r = app
            .post(
                "/api/store/auth/login",
                &json!({"email": "ada@example.com", "password": "wrong password 1"}),
            )
            .await;
        assert_eq!(r.status, 401);
    }
    let limited = app
        .post(
            "/api/store/auth/login",
            &json!({"email": "ada@example.com", "password": "correct horse battery"}),
        )
        .await;
    limited.assert_problem(429, "too-many-login-attempts");
    assert!(limited.headers.get("retry-after").is_some());
    // Other accounts from the same IP until the IP budget is spent.
    for i in 0..2 {
        let r = app
            .post(
                "/api/store/auth/login",
                &json!({"email": format!("x{i}@example.com"), "password": "wrong password 1"}),
            )
            .await;
        assert_eq!(r.status, 401);
    }
    app.post(
        "/api/store/auth/login",
        &json!({"email": "y@example.com", "password": "wrong password 1"}),
    )
    .await
    .assert_problem(429, "too-many-login-attempts");
}

#[tokio::test]
async fn addresses_are_kept_per_customer_and_invisible_to_others() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let bob = app.register("bob@example.com").await;
    let created = app.post_as("/api/store/me/addresses", &ada, &json!({"name": "Ada", "line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "us", "is_default": true})).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["country"], "US");
    let id = created.body["id"].as_str().unwrap();

    let list = app.get_as("/api/store/me/addresses", &ada).await;
    assert_eq!(list.body["addresses"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.get_as("/api/store/me/addresses", &bob).await.body["addresses"],
        json!([])
    );

    app.get_as(&format!("/api/store/me/addresses/{id}"), &bob)
        .await
        .assert_problem(404, "address-not-found");
    let put = app
        .request(reqwest::Method::PUT, &format!("/api/store/me/addresses/{id}"), Some(&bob), Some(&json!({"name": "Bob", "line1": "x", "city": "y", "postal_code": "1", "country": "US"})))
        .await;
    put.assert_problem(404, "address-not-found");
    let del = app
        .request(
            reqwest::Method::DELETE,
            &format!("/api/store/me/addresses/{id}"),
            Some(&bob),
            None,
        )
        .await;
    del.assert_problem(404, "address-not-found");
    assert_eq!(
        app.get_as(&format!("/api/store/me/addresses/{id}"), &ada)
            .await
            .body["name"],
        "Ada",
        "untouched"
    );

    let bad = app
        .post_as(
            "/api/store/me/addresses",
            &ada,
            &json!({"name": "", "line1": "x", "city": "y", "postal_code": "1", "country": "USA"}),
        )
        .await;
    bad.assert_problem(422, "validation-failed");
    assert_eq!(bad.pointers(), vec!["#/name", "#/country"]);

    let updated = app
        .request(reqwest::Method::PUT, &format!("/api/store/me/addresses/{id}"), Some(&ada), Some(&json!({"name": "Ada L.", "line1": "2 Main St", "city": "Springfield", "postal_code": "12345", "country": "US"})))
        .await;
    assert_eq!(updated.body["line1"], "2 Main St");
    assert_eq!(
        app.request(
            reqwest::Method::DELETE,
            &format!("/api/store/me/addresses/{id}"),
            Some(&ada),
            None
        )
        .await
        .status,
        204
    );
}

#[tokio::test]
async fn the_profile_can_be_renamed() {
    let app = spawn_app().await;
    let t = app.register("ada@example.com").await;
    let r = app
        .request(
            reqwest::Method::PATCH,
            "/api/store/me",
            Some(&t),
            Some(&json!({"name": "Ada Lovelace"})),
        )
        .await;
    assert_eq!(r.body["name"], "Ada Lovelace");
}

#[tokio::test]
async fn admin_routes_need_an_admin() {
    let app = spawn_app().await;
    app.get("/api/admin/orders")
        .await
        .assert_problem(401, "unauthenticated");
    let customer = app.register("ada@example.com").await;
    app.get_as("/api/admin/orders", &customer)
        .await
        .assert_problem(403, "forbidden");
    app.post_as(
        "/api/admin/products",
        &customer,
        &json!({"title": "Sneaky"}),
    )
    .await
    .assert_problem(403, "forbidden");
    let admin = app.admin_token().await;
    assert_eq!(app.get_as("/api/admin/orders", &admin).await.status, 200);
}

#[tokio::test]
async fn a_garbage_token_is_refused_rather_than_treated_as_a_guest() {
    let app = spawn_app().await;
    app.get_as("/api/store/me", "cst_nonsense")
        .await
        .assert_problem(401, "unauthenticated");
    let r = app
        .request(
            reqwest::Method::POST,
            "/api/store/carts",
            Some("cst_nonsense"),
            None,
        )
        .await;
    r.assert_problem(401, "unauthenticated");
}

#[tokio::test]
async fn a_customer_keeps_a_phone_on_the_profile_checked_like_checkout() {
    let app = spawn_app().await;
    let token = app.register("ada@example.com").await;
    let patch = |body: serde_json::Value| {
        let (app, token) = (&app, token.clone());
        async move {
            app.request(
                reqwest::Method::PATCH,
                "/api/store/me",
                Some(&token),
                Some(&body),
            )
            .await
        }
    };

    let name_before = app.get_as("/api/store/me", &token).await.body["name"].clone();

    // Typed as people type it, stored in E.164.
    let set = patch(json!({"phone": "+34 600 12 34 56"})).await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(set.body["phone"], "+34600123456");
    assert_eq!(
        app.get_as("/api/store/me", &token).await.body["phone"],
        "+34600123456"
    );

    // Not a number in international form: 422 naming the field, nothing written.
    for bad in ["600123456", "+0034600", "call me"] {
        let r = patch(json!({"phone": bad, "name": "Ada Renamed"})).await;
        r.assert_problem(422, "validation-failed");
        assert_eq!(r.pointers(), vec!["#/phone".to_string()], "{bad}");
    }
    let me = app.get_as("/api/store/me", &token).await;
    assert_eq!(me.body["phone"], "+34600123456");
    assert_eq!(
        me.body["name"], name_before,
        "a refused patch writes nothing"
    );

    // Leaving it out keeps it; null removes it.
    let named = patch(json!({"name": "Ada Renamed"})).await;
    assert_eq!(named.body["name"], "Ada Renamed");
    assert_eq!(named.body["phone"], "+34600123456");
    let cleared = patch(json!({"phone": null})).await;
    assert_eq!(cleared.status, 200);
    assert!(cleared.body["phone"].is_null(), "{}", cleared.body);
}
