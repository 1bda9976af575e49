//! The HTTP edge of Cielo: one axum router over the domain services.
//!
//! Handlers parse input into domain types, call one service, and map the
//! result; every error leaves as problem+json ([`problem`]). The OpenAPI
//! document is generated from the handlers' annotations, so it covers every
//! route by construction.
#![warn(missing_docs)]

mod cache;
mod edge;

pub use edge::Front;
pub mod extract;
pub mod format;
pub mod limits;
pub mod metrics;
pub mod problem;
mod routes;
pub mod serve;

pub use problem::ApiError;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use cielo_accounts::limiter::LoginLimiter;
use cielo_accounts::Accounts;
use cielo_catalog::Catalog;
use cielo_db::{Db, MigrationSet};
use cielo_orders::Orders;
use cielo_storage::Storage;
use std::sync::Arc;
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

/// Settings of the HTTP edge.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The shop's public base URL (for links in responses).
    pub public_url: String,
    /// Largest JSON body accepted.
    pub body_limit_bytes: usize,
    /// Largest upload through a local signed URL.
    pub upload_limit_bytes: usize,
    /// Origins allowed by CORS; empty = same-origin only; `*` = any.
    pub cors_origins: Vec<String>,
    /// Trust `X-Forwarded-For` for the client IP (behind a proxy you run).
    pub trust_forwarded_for: bool,
    /// How long store listings may be served from memory. Writes through this
    /// process invalidate at once; other processes' writes show within this.
    pub catalog_cache_ttl: Duration,
    /// The shop's name, for pages.
    pub shop_name: String,
    /// Longest a request may take, body and handler together (a body that
    /// never finishes ends here with a 408 problem); zero turns it off.
    pub request_timeout: Duration,
}

/// Everything a handler may use. Cloning it (axum does, for every request
/// and every middleware with state) copies one pointer; reads go through
/// `Deref`, and setting a field before the state is shared (`state.payments =
/// …`) writes in place through `DerefMut`.
#[derive(Clone)]
pub struct AppState(Arc<AppStateInner>);

impl std::ops::Deref for AppState {
    type Target = AppStateInner;
    fn deref(&self) -> &AppStateInner {
        &self.0
    }
}

impl std::ops::DerefMut for AppState {
    /// In place while this is the only handle (at assembly); a copy of the
    /// fields otherwise, as cloning the fields one by one did before.
    fn deref_mut(&mut self) -> &mut AppStateInner {
        Arc::make_mut(&mut self.0)
    }
}

/// The fields of [`AppState`].
#[derive(Clone)]
pub struct AppStateInner {
    /// Database.
    pub db: Db,
    /// Catalog service.
    pub catalog: Catalog,
    /// Accounts service.
    pub accounts: Accounts,
    /// Carts, checkout, orders.
    pub orders: Orders,
    /// Object storage.
    pub storage: Storage,
    /// Metrics registry.
    pub metrics: Arc<metrics::Metrics>,
    /// Login rate limits.
    pub login_limiter: Arc<LoginLimiter>,
    /// Edge settings.
    pub config: Arc<HttpConfig>,
    /// Every domain's migrations, for `/readyz`.
    pub migrations: Arc<Vec<MigrationSet>>,
    /// This process's job counters, for `/metrics`.
    pub job_metrics: Arc<cielo_jobs::JobMetrics>,
    /// Payments: webhooks, the test payment page, refunds.
    pub payments: Option<Arc<cielo_payments::Payments>>,
    /// The order lifecycle after payment: labs, shipments, the edit window.
    pub flows: Option<Arc<cielo_flows::Flows>>,
    /// Reconciliation findings and alerts.
    pub ops: Option<Arc<cielo_ops::Ops>>,
    /// Notifications: the admin's message log, resends, previews, the outbox.
    pub notify: Option<Arc<cielo_notify::Notify>>,
    /// Per-IP limits on costly routes (defaults until the binary sets its own).
    pub rate_limits: Arc<limits::RateLimits>,
    pub(crate) cache: Arc<cache::ResponseCache>,
}

impl AppState {
    /// Assembles the state.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        db: Db,
        catalog: Catalog,
        accounts: Accounts,
        orders: Orders,
        storage: Storage,
        login_limiter: LoginLimiter,
        config: HttpConfig,
        migrations: Vec<MigrationSet>,
    ) -> Self {
        let ttl = config.catalog_cache_ttl;
        Self(Arc::new(AppStateInner {
            db,
            catalog,
            accounts,
            orders,
            storage,
            metrics: Arc::new(metrics::Metrics::default()),
            login_limiter: Arc::new(login_limiter),
            config: Arc::new(config),
            migrations: Arc::new(migrations),
            job_metrics: Arc::new(cielo_jobs::JobMetrics::default()),
            payments: None,
            flows: None,
            ops: None,
            notify: None,
            rate_limits: Arc::new(limits::RateLimits::new(Default::default())),
            cache: Arc::new(cache::ResponseCache::new(ttl)),
        }))
    }
}

/// The client's IP: the peer address, or the first `X-Forwarded-For` entry
/// when the shop runs behind its own proxy (`trust_forwarded_for`). `None`
/// when neither is known (no connection info, as under a serverless adapter
/// without the header).
pub(crate) fn client_ip(
    config: &HttpConfig,
    headers: &http::HeaderMap,
    extensions: &http::Extensions,
) -> Option<std::net::IpAddr> {
    if config.trust_forwarded_for {
        if let Some(ip) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse().ok())
        {
            return Some(ip);
        }
    }
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Warnings about a deployment that runs but should not face the public:
/// today, the built-in test payment provider (anyone can "pay" on its page)
/// behind a public URL that is not a loopback address. Logged at start-up and
/// listed by `/readyz`.
pub fn deployment_warnings(state: &AppState) -> Vec<String> {
    let test_active = state
        .payments
        .as_ref()
        .is_some_and(|p| p.test_provider().is_some());
    if test_active && !is_loopback_url(&state.config.public_url) {
        vec![format!(
            "the built-in test payment provider is active while the shop's public URL is {}: \
             anyone who reaches its payment page can mark an order paid without paying. \
             Use payments.provider = \"stripe\" for a shop that faces the public.",
            state.config.public_url
        )]
    } else {
        Vec::new()
    }
}

/// True when `url`'s host is `localhost` or a loopback address.
fn is_loopback_url(url: &str) -> bool {
    let Ok(uri) = url.parse::<http::Uri>() else {
        return false;
    };
    let Some(host) = uri.host() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Cielo", description = "A made-to-order commerce engine: catalog, accounts, carts, checkout and orders."),
    modifiers(&SecurityAddon),
    tags(
        (name = "store", description = "Public catalog, carts and checkout"),
        (name = "account", description = "Customer sign-up, sign-in, profile and addresses"),
        (name = "admin", description = "Shop administration (admin role)"),
        (name = "system", description = "Health, metrics and files"),
        (name = "webhooks", description = "Provider callbacks, verified on the raw body"),
    )
)]
struct ApiDoc;

struct SecurityAddon;

impl utoipa::Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A session token from /api/store/auth/login"))
                    .build(),
            ),
        );
    }
}

/// The router and its OpenAPI document.
pub fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let (api, mut openapi) = OpenApiRouter::<AppState>::with_openapi(ApiDoc::openapi())
        .merge(routes::store::router())
        .merge(routes::starmap::router())
        .merge(routes::account::router())
        .merge(routes::admin::router())
        .merge(routes::system::router())
        .merge(routes::payments::router())
        .merge(routes::lifecycle::router())
        .merge(routes::ops::router())
        .merge(routes::notify::router())
        .split_for_parts();
    openapi.merge(routes::system::FilesDoc::openapi());
    let openapi_json =
        Arc::new(serde_json::to_vec(&openapi).expect("the OpenAPI document serialises"));

    let files =
        routes::system::file_routes().layer(DefaultBodyLimit::max(state.config.upload_limit_bytes));
    let app = api
        .merge(files)
        .route(
            "/openapi.json",
            axum::routing::get(move || routes::system::openapi_json(openapi_json.clone())),
        )
        .fallback(routes::system::not_found)
        .layer(DefaultBodyLimit::max(state.config.body_limit_bytes))
        .layer(edge::RouteLayer {
            state: state.clone(),
        })
        .with_state(state.clone());
    let mut app = edge::wrap(app, state.clone());
    if let Some(cors) = cors(&state.config.cors_origins) {
        app = app.layer(cors);
    }
    (app, openapi)
}

fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| o.parse().ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([
                http::Method::GET,
                http::Method::POST,
                http::Method::PUT,
                http::Method::PATCH,
                http::Method::DELETE,
            ])
            .allow_headers([
                http::header::AUTHORIZATION,
                http::header::CONTENT_TYPE,
                http::HeaderName::from_static("idempotency-key"),
                http::HeaderName::from_static("x-order-token"),
            ])
            .expose_headers([http::HeaderName::from_static("x-request-id")])
            .max_age(Duration::from_secs(3600)),
    )
}

#[cfg(test)]
mod tests {
    use super::is_loopback_url;

    #[test]
    fn loopback_urls_are_told_from_public_ones() {
        for url in [
            "http://127.0.0.1:8080",
            "http://localhost:3000/",
            "http://[::1]:8080",
            "http://127.8.9.1",
            "http://shop.localhost",
        ] {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in [
            "https://shop.example.com",
            "http://192.168.1.10:8080",
            "http://0.0.0.0:8080",
            "http://localhost.example.com",
            "not a url",
        ] {
            assert!(!is_loopback_url(url), "{url}");
        }
    }
}
