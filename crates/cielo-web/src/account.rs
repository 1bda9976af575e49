//! Sign up, sign in, sign out; the customer's orders, addresses and saved
//! cards.

use crate::session::{cookie, Ctx, SESSION};
use crate::store::{enc, local_path};
use crate::views::{redirect, render, render_status};
use crate::Web;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Extension;
use http::{Method, StatusCode};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

const SESSION_AGE: i64 = 30 * 86400;

pub(crate) async fn signin_page(
    State(web): State<Web>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let next = local_path(q.get("next").map(String::as_str));
    render(
        &web,
        &ctx,
        "signin.html",
        json!({"next": next, "errors": {}, "values": {}}),
    )
    .await
}

pub(crate) async fn signup_page(
    State(web): State<Web>,
    Extension(ctx): Extension<Ctx>,
) -> Response {
    render(
        &web,
        &ctx,
        "signup.html",
        json!({"errors": {}, "values": {}}),
    )
    .await
}

fn session_cookie(web: &Web, token: &str) -> String {
    cookie(SESSION, token, Some(SESSION_AGE), web.secure_cookies)
}

pub(crate) async fn signin(State(web): State<Web>, Extension(ctx): Extension<Ctx>) -> Response {
    let next = local_path(ctx.field("next"));
    let body = json!({
        "email": ctx.text("email").unwrap_or_default(),
        "password": ctx.field("password").unwrap_or_default(),
    });
    let r = web
        .api
        .call(
            &ctx.caller,
            Method::POST,
            "/api/store/auth/login",
            Some(&body),
            &[],
        )
        .await;
    if let (true, Some(token)) = (r.ok(), r.body["token"].as_str()) {
        let admin = r.body["customer"]["role"] == "admin";
        let to = if next == "/" && admin {
            "/admin".to_string()
        } else {
            next
        };
        return redirect(&to, &[session_cookie(&web, token)]);
    }
    // Said in the page's language: a wrong email or password (the API never
    // says which), each field's mistake, or what else went wrong.
    let mut errors = sentences(&ctx, r.field_errors());
    if r.status == StatusCode::UNAUTHORIZED {
        errors.insert("form".into(), json!(ctx.lang.t("err_signin")));
    } else if errors.is_empty() {
        errors.insert("form".into(), json!(r.detail()));
    }
    render_status(
        &web,
        &ctx,
        r.status,
        "signin.html",
        json!({"next": next, "errors": errors, "values": {"email": body["email"]}}),
    )
    .await
}

pub(crate) async fn signup(State(web): State<Web>, Extension(ctx): Extension<Ctx>) -> Response {
    let body = json!({
        "email": ctx.text("email").unwrap_or_default(),
        "password": ctx.field("password").unwrap_or_default(),
        "name": ctx.text("name").unwrap_or_default(),
    });
    let r = web
        .api
        .call(
            &ctx.caller,
            Method::POST,
            "/api/store/auth/register",
            Some(&body),
            &[],
        )
        .await;
    if let (true, Some(token)) = (r.ok(), r.body["token"].as_str()) {
        return redirect("/account", &[session_cookie(&web, token)]);
    }
    let mut errors = sentences(&ctx, r.field_errors());
    if errors.is_empty() {
        errors.insert("form".into(), json!(r.detail()));
    }
    render_status(
        &web,
        &ctx,
        StatusCode::UNPROCESSABLE_ENTITY,
        "signup.html",
        json!({"errors": errors, "values": {"email": body["email"], "name": body["name"]}}),
    )
    .await
}

pub(crate) async fn signout(State(web): State<Web>, Extension(ctx): Extension<Ctx>) -> Response {
    if ctx.caller.token.is_some() {
        web.api
            .call(
                &ctx.caller,
                Method::POST,
                "/api/store/auth/logout",
                None,
                &[],
            )
            .await;
    }
    redirect("/", &[cookie(SESSION, "", Some(0), web.secure_cookies)])
}

/// Signed-in pages send visitors to sign in first.
pub(crate) fn signin_first(ctx: &Ctx) -> Response {
    redirect(&format!("/account/signin?next={}", enc(&ctx.here)), &[])
}

pub(crate) async fn overview(State(web): State<Web>, Extension(ctx): Extension<Ctx>) -> Response {
    account_view(&web, &ctx, Map::new(), Map::new(), StatusCode::OK).await
}

async fn account_view(
    web: &Web,
    ctx: &Ctx,
    errors: Map<String, Value>,
    values: Map<String, Value>,
    status: StatusCode,
) -> Response {
    if ctx.caller.token.is_none() {
        return signin_first(ctx);
    }
    let me = web.api.get(&ctx.caller, "/api/store/me").await;
    if !me.ok() {
        return signin_first(ctx);
    }
    let orders = web.api.get(&ctx.caller, "/api/store/orders?limit=50").await;
    let addresses = web.api.get(&ctx.caller, "/api/store/me/addresses").await;
    let cards = web
        .api
        .get(&ctx.caller, "/api/store/me/payment-methods")
        .await;
    render_status(
        web,
        ctx,
        status,
        "account.html",
        json!({
            "me": me.body,
            "orders": orders.body.get("orders").cloned().unwrap_or(json!([])),
            "addresses": addresses.body.get("addresses").cloned().unwrap_or(json!([])),
            "countries": crate::store::shipping_countries(web, ctx.lang),
            "cards": card_views(&cards.body),
            // The provider could not be asked: say so rather than "none saved".
            "cards_unavailable": !cards.ok(),
            "errors": errors,
            "values": values,
        }),
    )
    .await
}

pub(crate) async fn add_address(
    State(web): State<Web>,
    Extension(ctx): Extension<Ctx>,
) -> Response {
    let mut body = json!({
        "name": ctx.text("name").unwrap_or_default(),
        "line1": ctx.text("line1").unwrap_or_default(),
        "city": ctx.text("city").unwrap_or_default(),
        "postal_code": ctx.text("postal_code").unwrap_or_default(),
        "country": ctx.text("country").unwrap_or_default(),
    });
    for k in ["line2", "region", "phone"] {
        if let Some(v) = ctx.text(k) {
            body[k] = json!(v);
        }
    }
    let r = web
        .api
        .call(
            &ctx.caller,
            Method::POST,
            "/api/store/me/addresses",
            Some(&body),
            &[],
        )
        .await;
    if r.ok() {
        return redirect("/account#addresses", &[]);
    }
    if r.status == StatusCode::UNAUTHORIZED {
        return signin_first(&ctx);
    }
    let mut errors = sentences(&ctx, r.field_errors());
    if errors.is_empty() {
        errors.insert("form".into(), json!(r.detail()));
    }
    let values = body.as_object().cloned().unwrap_or_default();
    account_view(&web, &ctx, errors, values, StatusCode::UNPROCESSABLE_ENTITY).await
}

pub(crate) async fn delete_address(
    State(web): State<Web>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Response {
    web.api
        .call(
            &ctx.caller,
            Method::DELETE,
            &format!("/api/store/me/addresses/{}", enc(&id)),
            None,
            &[],
        )
        .await;
    redirect("/account#addresses", &[])
}

/// Saved cards as the page shows them: the brand as people write it and the
/// expiry as `MM/YY`.
fn card_views(body: &Value) -> Vec<Value> {
    let cards = body["payment_methods"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    cards
        .iter()
        .map(|c| {
            let brand = cielo_payments::card_brand_name(c["brand"].as_str().unwrap_or_default());
            json!({
                "id": c["id"],
                "brand": brand,
                "last4": c["last4"],
                "exp_mm": format!("{:02}", c["exp_month"].as_u64().unwrap_or_default()),
                "exp_yy": format!("{:02}", c["exp_year"].as_u64().unwrap_or_default() % 100),
            })
        })
        .collect()
}

pub(crate) async fn delete_payment_method(
    State(web): State<Web>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Response {
    let r = web
        .api
        .call(
            &ctx.caller,
            Method::DELETE,
            &format!("/api/store/me/payment-methods/{}", enc(&id)),
            None,
            &[],
        )
        .await;
    if r.status == StatusCode::UNAUTHORIZED {
        return signin_first(&ctx);
    }
    redirect("/account#cards", &[])
}

/// The API's field errors as sentences in the page's language.
fn sentences(
    ctx: &Ctx,
    raw: serde_json::Map<String, serde_json::Value>,
) -> serde_json::Map<String, serde_json::Value> {
    raw.into_iter()
        .map(|(k, v)| {
            let text =
                crate::sentences::field_sentence(ctx.lang, &k, v.as_str().unwrap_or_default());
            (k, json!(text))
        })
        .collect()
}
