//! The HTTP edge of Cielo: one axum router over the domain services.
//!
//! Handlers parse input into domain types, call one service, and map the
//! result; every error leaves as problem+json ([`problem`]). The OpenAPI
//! document is generated from the handlers' annotations, so it covers every
//! route by construction.
#![warn(missing_docs)]

mod cache;
pub mod extract;
pub mod metrics;
pub mod problem;
mod routes;

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
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
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
}

/// Everything a handler may use. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
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
    /// Notifications: the admin's message log, resends, previews, the outbox.
    pub notify: Option<Arc<cielo_notify::Notify>>,
    cache: Arc<cache::ResponseCache>,
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
        Self {
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
            notify: None,
            cache: Arc::new(cache::ResponseCache::new(ttl)),
        }
    }
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
        .merge(routes::notify::router())
        .split_for_parts();
    openapi.merge(routes::system::FilesDoc::openapi());
    let openapi_json =
        Arc::new(serde_json::to_vec(&openapi).expect("the OpenAPI document serialises"));

    let files =
        routes::system::file_routes().layer(DefaultBodyLimit::max(state.config.upload_limit_bytes));
    let mut app = api
        .merge(files)
        .route(
            "/openapi.json",
            axum::routing::get(move || routes::system::openapi_json(openapi_json.clone())),
        )
        .fallback(routes::system::not_found)
        .layer(DefaultBodyLimit::max(state.config.body_limit_bytes))
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::track,
        ))
        .with_state(state.clone());

    if let Some(cors) = cors(&state.config.cors_origins) {
        app = app.layer(cors);
    }
    let app = app
        .layer(axum::middleware::from_fn(problem::render))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &http::Request<_>| {
                let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid));
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
