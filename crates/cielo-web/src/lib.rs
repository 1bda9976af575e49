//! The pages people use: the storefront, the poster designer, cart, checkout,
//! order and account pages, and the shop owner's admin.
//!
//! Pages are rendered on the server from minijinja templates embedded in the
//! binary, with a little dependency-free JavaScript and CSS on top; every page
//! works without JavaScript wherever a form can do the job.
//!
//! Pages read and write through the shop's own HTTP API, called in-process
//! ([`api::Api`]): a page can never show or do more than the API allows the
//! visitor, so a customer never sees another's order, and an admin page needs
//! the admin role exactly as `/api/admin/...` does.
//!
//! Security: the session token lives in an `HttpOnly`, `SameSite=Lax` cookie
//! (`Secure` when the shop's public URL is HTTPS); every form post carries a
//! CSRF token checked against its cookie ([`session`]); every page is sent with
//! a Content-Security-Policy that allows no inline script or style.
#![warn(missing_docs)]

mod account;
mod admin;
pub mod api;
mod i18n;
mod ops;
mod products;
mod sentences;
pub mod session;
mod store;
mod views;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

/// Settings of the pages.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The shop's name, shown in every page's header.
    pub shop_name: String,
    /// The shop's public base URL; `https://…` turns on `Secure` cookies.
    pub public_url: String,
    /// Shipping and tax rates, to show a cart's shipping for a chosen country
    /// before checkout (the same rates checkout charges).
    pub pricing: cielo_orders::Pricing,
}

/// What every page handler may use.
#[derive(Clone)]
pub(crate) struct Web {
    pub api: api::Api,
    pub config: Arc<WebConfig>,
    pub secure_cookies: bool,
}

/// The pages in front of `api` (the shop's API router): page routes answer
/// first; everything else (`/api/...`, `/webhooks/...`, files, the test
/// payment page) goes on to `api` unchanged.
pub fn router(api: Router, config: WebConfig) -> Router {
    let secure_cookies = config.public_url.starts_with("https://");
    let web = Web {
        api: api::Api::new(api.clone()),
        config: Arc::new(config),
        secure_cookies,
    };
    let pages = Router::new()
        .route("/", get(store::home))
        .route("/shop", get(store::catalog))
        .route("/products/{handle}", get(store::product))
        .route("/cart", get(store::cart))
        .route("/cart/add", post(store::cart_add))
        .route("/cart/lines/{line}", post(store::cart_update))
        .route(
            "/checkout",
            get(store::checkout_page).post(store::checkout_submit),
        )
        .route("/orders/{id}", get(store::order_page))
        .route("/orders/{id}/amend", post(store::amend_order))
        .route("/orders/{id}/lines/{line}/print", get(store::print_file))
        .route("/lang/{lang}", get(store::set_language))
        .route("/account", get(account::overview))
        .route(
            "/account/signin",
            get(account::signin_page).post(account::signin),
        )
        .route(
            "/account/signup",
            get(account::signup_page).post(account::signup),
        )
        .route("/account/signout", post(account::signout))
        .route("/account/addresses", post(account::add_address))
        .route(
            "/account/addresses/{id}/delete",
            post(account::delete_address),
        )
        .route(
            "/account/payment-methods/{id}/delete",
            post(account::delete_payment_method),
        )
        .route("/admin", get(admin::dashboard))
        .route("/admin/orders", get(admin::orders))
        .route("/admin/orders/{id}", get(admin::order))
        .route("/admin/orders/{id}/{action}", post(admin::order_action))
        .route("/admin/products", get(admin::products))
        .route(
            "/admin/products/new",
            get(products::new_page).post(products::create),
        )
        .route(
            "/admin/products/{id}",
            get(products::edit_page).post(products::update),
        )
        .route("/admin/products/{id}/variants", post(products::add_variant))
        .route(
            "/admin/products/{id}/variants/{variant}",
            post(products::update_variant),
        )
        .route(
            "/admin/products/{id}/variants/{variant}/delete",
            post(products::delete_variant),
        )
        .route("/admin/products/{id}/images", post(products::upload_image))
        .route(
            "/admin/products/{id}/images/{image}/delete",
            post(products::delete_image),
        )
        .route("/admin/jobs", get(admin::jobs))
        .route("/admin/findings", get(ops::findings))
        .route("/admin/findings/reconcile", post(ops::reconcile))
        .route("/admin/findings/{id}/resolve", post(ops::resolve))
        .route("/admin/alerts", get(ops::alerts))
        .route("/admin/notifications", get(admin::outbox))
        .route(
            "/admin/notifications/outbox/{name}",
            get(admin::outbox_file),
        )
        .route(
            "/admin/orders/{id}/lines/{line}/artwork",
            get(admin::artwork),
        )
        .route("/admin/jobs/{id}/retry", post(admin::retry_job))
        .route("/static/{file}", get(views::asset))
        .route("/favicon.ico", get(views::favicon))
        .layer(axum::middleware::from_fn_with_state(
            web.clone(),
            session::guard,
        ))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(web.clone());
    pages
        .fallback_service(api)
        .layer(axum::middleware::from_fn_with_state(web, html_not_found))
}

/// A browser asking for a page that does not exist gets the shop's own
/// "not found" page (in its language), not the API's problem document;
/// `/api/...` and `/webhooks/...` keep answering problem+json.
async fn html_not_found(
    axum::extract::State(web): axum::extract::State<Web>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    let wants_html = matches!(*req.method(), http::Method::GET | http::Method::HEAD)
        && !path.starts_with("/api/")
        && !path.starts_with("/webhooks/")
        && req
            .headers()
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"));
    if !wants_html {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let res = next.run(Request::from_parts(parts.clone(), body)).await;
    let is_html = res
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("text/html"));
    if res.status() != http::StatusCode::NOT_FOUND || is_html {
        return res;
    }
    let (ctx, new_csrf) = session::visitor_of(&parts);
    let t = ctx.lang;
    let mut page = views::message(
        &web,
        &ctx,
        http::StatusCode::NOT_FOUND,
        t.t("not_found"),
        t.t("not_found_hint"),
    )
    .await;
    if let Some(c) = new_csrf.and_then(|c| {
        session::cookie(session::CSRF, &c, None, web.secure_cookies)
            .parse()
            .ok()
    }) {
        page.headers_mut().append(http::header::SET_COOKIE, c);
    }
    page_headers(page.headers_mut());
    page
}

/// Headers on every page: a Content-Security-Policy with no inline script or
/// style (images may be `blob:` for the designer's preview), no framing, no
/// sniffing, no referrer to other sites.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    page_headers(res.headers_mut());
    res
}

/// The headers of [`security_headers`], on any page.
fn page_headers(h: &mut http::HeaderMap) {
    let set = |h: &mut http::HeaderMap, k: &'static str, v: &'static str| {
        h.entry(k).or_insert(http::HeaderValue::from_static(v));
    };
    set(
        h,
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    );
    set(h, "x-content-type-options", "nosniff");
    set(h, "referrer-policy", "same-origin");
    set(h, "x-frame-options", "DENY");
}
