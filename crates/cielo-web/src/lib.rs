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
pub mod session;
mod store;
mod views;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
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
        .with_state(web);
    pages.fallback_service(api)
}

/// Headers on every page: a Content-Security-Policy with no inline script or
/// style (images may be `blob:` for the designer's preview), no framing, no
/// sniffing, no referrer to other sites.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
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
    res.into_response()
}
