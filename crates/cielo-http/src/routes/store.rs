//! The public store: catalog reads, carts, checkout, and a buyer's orders.

use super::{json, ok};
use crate::extract::{path_id, CustomerAuth, Json, MaybeCustomer, Query};
use crate::problem::{ApiError, Problem};
use crate::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use bytes::Bytes;
use cielo_catalog::{Category, Product, ProductPage, ProductQuery, ProductSort};
use cielo_orders::{
    Buyer, Cart, CheckoutInput, CheckoutResult, LinePatch, NewCart, NewLine, Order, OrderAccess,
    OrderPage,
};
use http::{HeaderMap, StatusCode, Uri};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_products))
        .routes(routes!(get_product))
        .routes(routes!(list_categories))
        .routes(routes!(create_cart))
        .routes(routes!(get_cart))
        .routes(routes!(add_line))
        .routes(routes!(update_line, remove_line))
        .routes(routes!(checkout))
        .routes(routes!(my_orders))
        .routes(routes!(get_order))
        .routes(routes!(artwork_link))
}

/// Product listing parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProductParams {
    /// Page size, 1–100 (default 20).
    limit: Option<i64>,
    /// Cursor from the previous page's `next_cursor`.
    cursor: Option<String>,
    /// Category id or handle (subcategories included).
    category: Option<String>,
    /// Text to find in product titles.
    q: Option<String>,
    /// `newest` (default), `price_asc` or `price_desc`.
    sort: Option<ProductSort>,
}

/// List published products.
#[utoipa::path(get, path = "/api/store/products", tag = "store", params(ProductParams),
    responses((status = 200, body = ProductPage), (status = 400, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn list_products(
    State(s): State<AppState>,
    uri: Uri,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    // A hit was answered at the edge; this is a miss (or the cache is off).
    let generation = s.catalog.generation();
    let p: ProductParams = crate::extract::parse_query(raw.as_deref().unwrap_or_default())?;
    let page = s
        .catalog
        .list_products(&ProductQuery {
            limit: p.limit,
            cursor: p.cursor,
            category: p.category,
            q: p.q,
            sort: p.sort.unwrap_or_default(),
            include_drafts: false,
        })
        .await?;
    let body = Bytes::from(serde_json::to_vec(&page).map_err(ApiError::internal)?);
    // Only answers to valid queries are cached: a hit needs no parsing.
    let metrics = s.metrics.answer("/api/store/products", "GET", 200);
    s.cache.put(&uri, metrics, generation, body.clone());
    Ok(cached_json(body))
}

fn cached_json(body: Bytes) -> Response {
    crate::cache::json_answer(body)
}

/// Get a published product by id (`prod_…`) or handle.
#[utoipa::path(get, path = "/api/store/products/{id_or_handle}", tag = "store",
    params(("id_or_handle" = String, Path, description = "Product id or handle")),
    responses((status = 200, body = Product), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn get_product(
    State(s): State<AppState>,
    uri: Uri,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let generation = s.catalog.generation();
    let product = s.catalog.get_product(&id, false).await?;
    let body = Bytes::from(serde_json::to_vec(&product).map_err(ApiError::internal)?);
    let metrics = s
        .metrics
        .answer("/api/store/products/{id_or_handle}", "GET", 200);
    s.cache.put(&uri, metrics, generation, body.clone());
    Ok(cached_json(body))
}

/// Categories as returned by the store.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct CategoryList {
    /// Every category; nest them by `parent_id`.
    categories: Vec<Category>,
}

/// List categories.
#[utoipa::path(get, path = "/api/store/categories", tag = "store", responses((status = 200, body = CategoryList)))]
pub(crate) async fn list_categories(State(s): State<AppState>) -> Result<Response, ApiError> {
    Ok(ok(&CategoryList {
        categories: s.catalog.list_categories().await?,
    }))
}

fn read_json_or_default<T: serde::de::DeserializeOwned + Default>(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<T, ApiError> {
    if body.is_empty() {
        return Ok(T::default());
    }
    let is_json = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "send the body as application/json",
        ));
    }
    crate::extract::parse_json(body)
}

/// Open a cart (owned by the caller when signed in). The body is optional.
#[utoipa::path(post, path = "/api/store/carts", tag = "store", request_body(content = NewCart, description = "Optional"),
    responses((status = 201, body = Cart), (status = 422, body = Problem, content_type = "application/problem+json")),
    security((), ("bearer" = [])))]
pub(crate) async fn create_cart(
    State(s): State<AppState>,
    MaybeCustomer(who): MaybeCustomer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let input: NewCart = read_json_or_default(&headers, &body)?;
    let cart = s
        .orders
        .create_cart(who.map(|p| p.customer_id), input)
        .await?;
    Ok(json(StatusCode::CREATED, &cart))
}

/// Get a cart, priced now.
#[utoipa::path(get, path = "/api/store/carts/{id}", tag = "store", params(("id" = String, Path)),
    responses((status = 200, body = Cart), (status = 404, body = Problem, content_type = "application/problem+json")),
    security((), ("bearer" = [])))]
pub(crate) async fn get_cart(
    State(s): State<AppState>,
    MaybeCustomer(who): MaybeCustomer,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "cart-not-found")?;
    Ok(ok(&s
        .orders
        .get_cart(id, who.map(|p| p.customer_id))
        .await?))
}

/// Add a line (variant, quantity, optional personalisation).
#[utoipa::path(post, path = "/api/store/carts/{id}/lines", tag = "store", params(("id" = String, Path)), request_body = NewLine,
    responses((status = 200, body = Cart), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security((), ("bearer" = [])))]
pub(crate) async fn add_line(
    State(s): State<AppState>,
    MaybeCustomer(who): MaybeCustomer,
    Path(id): Path<String>,
    Json(line): Json<NewLine>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "cart-not-found")?;
    Ok(ok(&s
        .orders
        .add_line(id, who.map(|p| p.customer_id), line)
        .await?))
}

/// Change a line's quantity.
#[utoipa::path(patch, path = "/api/store/carts/{id}/lines/{line_id}", tag = "store", params(("id" = String, Path), ("line_id" = String, Path)),
    request_body = LinePatch,
    responses((status = 200, body = Cart), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security((), ("bearer" = [])))]
pub(crate) async fn update_line(
    State(s): State<AppState>,
    MaybeCustomer(who): MaybeCustomer,
    Path((id, line)): Path<(String, String)>,
    Json(patch): Json<LinePatch>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "cart-not-found")?;
    let line = path_id(&line, "cart-line-not-found")?;
    Ok(ok(&s
        .orders
        .update_line(id, line, who.map(|p| p.customer_id), patch)
        .await?))
}

/// Remove a line.
#[utoipa::path(delete, path = "/api/store/carts/{id}/lines/{line_id}", tag = "store", params(("id" = String, Path), ("line_id" = String, Path)),
    responses((status = 200, body = Cart), (status = 404, body = Problem, content_type = "application/problem+json")),
    security((), ("bearer" = [])))]
pub(crate) async fn remove_line(
    State(s): State<AppState>,
    MaybeCustomer(who): MaybeCustomer,
    Path((id, line)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "cart-not-found")?;
    let line = path_id(&line, "cart-line-not-found")?;
    Ok(ok(&s
        .orders
        .remove_line(id, line, who.map(|p| p.customer_id))
        .await?))
}

/// Check out: creates the order (`pending_payment`) and returns where to pay.
/// Send an `Idempotency-Key` header: a retry with the same key and body gets
/// the same answer; the same key with a different body is refused.
#[utoipa::path(post, path = "/api/store/carts/{id}/checkout", tag = "store",
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    request_body = CheckoutInput,
    responses((status = 201, body = CheckoutResult), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security((), ("bearer" = [])))]
pub(crate) async fn checkout(
    State(s): State<AppState>,
    MaybeCustomer(who): MaybeCustomer,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(mut input): Json<CheckoutInput>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "cart-not-found")?;
    // The order's language: the storefront's when it says, else the best of
    // the browser's that the shop's messages speak.
    if input.language.is_none() {
        input.language = headers
            .get(http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(cielo_notify::format::from_accept_language)
            .map(str::to_string);
    }
    let key = match headers.get("idempotency-key") {
        Some(v) => Some(
            v.to_str()
                .map_err(|_| {
                    ApiError::validation(vec![cielo_core::FieldError::new(
                        "Idempotency-Key",
                        "must be visible ASCII",
                    )])
                })?
                .to_string(),
        ),
        None => None,
    };
    let account_email = match &who {
        Some(p) => Some(s.accounts.me(p).await?.email),
        None => None,
    };
    let buyer = Buyer {
        customer_id: who.map(|p| p.customer_id),
        account_email,
    };
    let result = s.orders.checkout(id, buyer, key, input).await?;
    Ok(json(StatusCode::CREATED, &result))
}

/// Paging parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageParams {
    /// Page size, 1–100 (default 20).
    limit: Option<i64>,
    /// Cursor from the previous page.
    cursor: Option<String>,
}

/// The signed-in customer's orders, newest first.
#[utoipa::path(get, path = "/api/store/orders", tag = "store", params(PageParams),
    responses((status = 200, body = OrderPage), (status = 401, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn my_orders(
    State(s): State<AppState>,
    CustomerAuth(p): CustomerAuth,
    Query(q): Query<PageParams>,
) -> Result<Response, ApiError> {
    Ok(ok(&s
        .orders
        .customer_orders(p.customer_id, q.limit, q.cursor)
        .await?))
}

/// Order access for guests.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenParams {
    /// The access token from checkout (or send `X-Order-Token`).
    token: Option<String>,
}

/// Read an order: its owner (signed in) or anyone holding its access token.
#[utoipa::path(get, path = "/api/store/orders/{id}", tag = "store", params(("id" = String, Path), TokenParams,
        ("X-Order-Token" = Option<String>, Header, description = "The order's access token")),
    responses((status = 200, body = BuyerOrder), (status = 404, body = Problem, content_type = "application/problem+json")),
    security((), ("bearer" = [])))]
pub(crate) async fn get_order(
    State(s): State<AppState>,
    MaybeCustomer(who): MaybeCustomer,
    Path(id): Path<String>,
    Query(q): Query<TokenParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "order-not-found")?;
    let token = headers
        .get("x-order-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or(q.token);
    let access = order_access(&s, id, who, token).await?;
    let order = s.orders.get_order(id, &access).await?;
    let edit_until = edit_until(&s, &order).await;
    let downloads = match &s.flows {
        Some(f) => f.downloads(&order).await?,
        None => None,
    };
    Ok(ok(&BuyerOrder {
        order,
        edit_until,
        downloads,
    }))
}

/// An order as its buyer reads it.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct BuyerOrder {
    /// The order.
    #[serde(flatten)]
    order: Order,
    /// While the order waits for the end of its edit window before going to
    /// its lab (`fulfillment.hold_minutes`), when that window ends: until
    /// then the buyer can fix the shipping address or a line's
    /// personalisation with `PATCH /api/store/orders/{id}`. `null` when the
    /// order is not (or no longer) waiting.
    edit_until: Option<cielo_core::Timestamp>,
    /// For an order with digital-download lines: where the downloads stand
    /// (`preparing`, `available`, `expired`, `unavailable`) and, while the
    /// download period lasts (`downloads.period_secs` from when the files
    /// were ready), a fresh signed link to each line's PNG and PDF (each
    /// living `downloads.link_secs` at most: read the order again for new
    /// ones). `null` for an order without digital lines.
    downloads: Option<cielo_flows::Downloads>,
}

/// The end of the edit window: every lab order of the order still planned
/// (none sent), the earliest of their hold times, if still ahead.
async fn edit_until(s: &AppState, order: &Order) -> Option<cielo_core::Timestamp> {
    if order.status != cielo_orders::OrderStatus::InProduction {
        return None;
    }
    let flows = s.flows.as_ref()?;
    let labs = flows
        .fulfillment()
        .lab_orders_for(&order.id.to_string())
        .await
        .ok()?;
    if labs.is_empty() || labs.iter().any(|l| l.submit_state != "planned") {
        return None;
    }
    let until = labs.iter().map(|l| l.hold_until).min()?;
    (until > cielo_core::Timestamp::now()).then_some(until)
}

/// The owner may read an order signed in; anyone may with its token.
pub(crate) async fn order_access(
    s: &AppState,
    id: cielo_orders::OrderId,
    who: Option<cielo_accounts::Principal>,
    token: Option<String>,
) -> Result<OrderAccess, ApiError> {
    if let Some(p) = who {
        if s.orders
            .get_order(id, &OrderAccess::Customer(p.customer_id))
            .await
            .is_ok()
        {
            return Ok(OrderAccess::Customer(p.customer_id));
        }
    }
    match token {
        Some(t) => Ok(OrderAccess::Token(t)),
        None => Err(ApiError::not_found("order-not-found", "order not found")),
    }
}

/// A time-limited link to a print file.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct ArtworkLink {
    /// Signed URL serving the file until `expires_at`.
    url: String,
    /// When the link stops working.
    expires_at: cielo_core::Timestamp,
    /// The file.
    #[serde(flatten)]
    artwork: cielo_orders::Artwork,
}

/// How long artwork download links live.
const ARTWORK_LINK_SECONDS: u64 = 15 * 60;

/// A signed link to a print file of one order line (`artwork_key` stays private).
pub(crate) async fn artwork_response(
    s: &AppState,
    id: cielo_orders::OrderId,
    line: &str,
    access: &OrderAccess,
) -> Result<Response, ApiError> {
    let line = path_id(line, "artwork-not-found")?;
    let (artwork, key) = s.orders.artwork(id, line, access).await?;
    let link = s
        .storage
        .download_url(&key, std::time::Duration::from_secs(ARTWORK_LINK_SECONDS))
        .await
        .map_err(ApiError::internal)?;
    Ok(ok(&ArtworkLink {
        url: link.url,
        expires_at: cielo_core::Timestamp::from_micros(link.expires_at * 1_000_000),
        artwork,
    }))
}

/// A time-limited download link to the print file of an order line, for the
/// order's owner or anyone holding its access token, while the order is not
/// cancelled or fully refunded.
#[utoipa::path(get, path = "/api/store/orders/{id}/lines/{line_id}/artwork", tag = "store",
    params(("id" = String, Path), ("line_id" = String, Path), TokenParams, ("X-Order-Token" = Option<String>, Header, description = "The order's access token")),
    responses((status = 200, body = ArtworkLink), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`artwork-unavailable`: the order is cancelled or fully refunded", body = Problem, content_type = "application/problem+json")),
    security((), ("bearer" = [])))]
pub(crate) async fn artwork_link(
    State(s): State<AppState>,
    MaybeCustomer(who): MaybeCustomer,
    Path((id, line)): Path<(String, String)>,
    Query(q): Query<TokenParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "order-not-found")?;
    let token = headers
        .get("x-order-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or(q.token);
    let access = order_access(&s, id, who, token).await?;
    artwork_response(&s, id, &line, &access).await
}
