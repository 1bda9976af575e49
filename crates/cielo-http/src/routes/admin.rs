//! The admin API: catalog writes, uploads, orders. Every handler takes
//! [`AdminAuth`], so the role is checked before anything else runs.

use super::{json, ok};
use crate::extract::{path_id, AdminAuth, Json, Query};
use crate::problem::{ApiError, Problem};
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use cielo_catalog::{
    Category, CategoryPatch, Image, NewCategory, NewImage, NewProduct, NewVariant, Product,
    ProductPage, ProductPatch, ProductQuery, ProductSort, Variant, VariantPatch,
};
use cielo_core::{FieldError, Timestamp};
use cielo_orders::{Order, OrderAccess, OrderFilter, OrderPage, OrderStatus};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_products, create_product))
        .routes(routes!(get_product, update_product, delete_product))
        .routes(routes!(add_variant))
        .routes(routes!(update_variant, delete_variant))
        .routes(routes!(list_categories, create_category))
        .routes(routes!(update_category, delete_category))
        .routes(routes!(create_upload))
        .routes(routes!(add_image))
        .routes(routes!(delete_image))
        .routes(routes!(list_orders))
        .routes(routes!(get_order))
        .routes(routes!(artwork_link))
        .routes(routes!(list_jobs))
        .routes(routes!(dead_jobs))
        .routes(routes!(job_stats))
        .routes(routes!(show_job))
        .routes(routes!(retry_job))
}

/// Admin product listing parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct AdminProductParams {
    /// Page size, 1–100.
    limit: Option<i64>,
    /// Cursor from the previous page.
    cursor: Option<String>,
    /// Category id or handle.
    category: Option<String>,
    /// Title search.
    q: Option<String>,
    /// Order.
    sort: Option<ProductSort>,
}

/// List products, drafts included.
#[utoipa::path(get, path = "/api/admin/products", tag = "admin", params(AdminProductParams),
    responses((status = 200, body = ProductPage), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn list_products(
    State(s): State<AppState>,
    _a: AdminAuth,
    Query(p): Query<AdminProductParams>,
) -> Result<Response, ApiError> {
    let q = ProductQuery {
        limit: p.limit,
        cursor: p.cursor,
        category: p.category,
        q: p.q,
        sort: p.sort.unwrap_or_default(),
        include_drafts: true,
    };
    Ok(ok(&s.catalog.list_products(&q).await?))
}

/// Create a product, optionally with variants.
#[utoipa::path(post, path = "/api/admin/products", tag = "admin", request_body = NewProduct,
    responses((status = 201, body = Product), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn create_product(
    State(s): State<AppState>,
    _a: AdminAuth,
    Json(p): Json<NewProduct>,
) -> Result<Response, ApiError> {
    Ok(json(
        StatusCode::CREATED,
        &s.catalog.create_product(p).await?,
    ))
}

/// Get any product by id or handle.
#[utoipa::path(get, path = "/api/admin/products/{id}", tag = "admin", params(("id" = String, Path, description = "Id or handle")),
    responses((status = 200, body = Product), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn get_product(
    State(s): State<AppState>,
    _a: AdminAuth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(ok(&s.catalog.get_product(&id, true).await?))
}

/// Update a product.
#[utoipa::path(patch, path = "/api/admin/products/{id}", tag = "admin", params(("id" = String, Path)), request_body = ProductPatch,
    responses((status = 200, body = Product), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn update_product(
    State(s): State<AppState>,
    _a: AdminAuth,
    Path(id): Path<String>,
    Json(p): Json<ProductPatch>,
) -> Result<Response, ApiError> {
    Ok(ok(&s
        .catalog
        .update_product(path_id(&id, "product-not-found")?, p)
        .await?))
}

/// Delete a product (orders keep their snapshots).
#[utoipa::path(delete, path = "/api/admin/products/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn delete_product(
    State(s): State<AppState>,
    _a: AdminAuth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    s.catalog
        .delete_product(path_id(&id, "product-not-found")?)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Add a variant to a product.
#[utoipa::path(post, path = "/api/admin/products/{id}/variants", tag = "admin", params(("id" = String, Path)), request_body = NewVariant,
    responses((status = 201, body = Variant), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn add_variant(
    State(s): State<AppState>,
    _a: AdminAuth,
    Path(id): Path<String>,
    Json(v): Json<NewVariant>,
) -> Result<Response, ApiError> {
    Ok(json(
        StatusCode::CREATED,
        &s.catalog
            .add_variant(path_id(&id, "product-not-found")?, v)
            .await?,
    ))
}

/// Update a variant.
#[utoipa::path(patch, path = "/api/admin/variants/{id}", tag = "admin", params(("id" = String, Path)), request_body = VariantPatch,
    responses((status = 200, body = Variant), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn update_variant(
    State(s): State<AppState>,
    _a: AdminAuth,
    Path(id): Path<String>,
    Json(v): Json<VariantPatch>,
) -> Result<Response, ApiError> {
    Ok(ok(&s
        .catalog
        .update_variant(path_id(&id, "variant-not-found")?, v)
        .await?))
}

/// Delete a variant.
#[utoipa::path(delete, path = "/api/admin/variants/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn delete_variant(
    State(s): State<AppState>,
    _a: AdminAuth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    s.catalog
        .delete_variant(path_id(&id, "variant-not-found")?)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Categories.
#[derive(Serialize, ToSchema)]
pub(crate) struct CategoryList {
    /// All categories.
    categories: Vec<Category>,
}

/// List categories.
#[utoipa::path(get, path = "/api/admin/categories", tag = "admin", responses((status = 200, body = CategoryList)), security(("bearer" = [])))]
pub(crate) async fn list_categories(
    State(s): State<AppState>,
    _a: AdminAuth,
) -> Result<Response, ApiError> {
    Ok(ok(&CategoryList {
        categories: s.catalog.list_categories().await?,
    }))
}

/// Create a category.
#[utoipa::path(post, path = "/api/admin/categories", tag = "admin", request_body = NewCategory,
    responses((status = 201, body = Category), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn create_category(
    State(s): State<AppState>,
    _a: AdminAuth,
    Json(c): Json<NewCategory>,
) -> Result<Response, ApiError> {
    Ok(json(
        StatusCode::CREATED,
        &s.catalog.create_category(c).await?,
    ))
}

/// Update a category.
#[utoipa::path(patch, path = "/api/admin/categories/{id}", tag = "admin", params(("id" = String, Path)), request_body = CategoryPatch,
    responses((status = 200, body = Category), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn update_category(
    State(s): State<AppState>,
    _a: AdminAuth,
    Path(id): Path<String>,
    Json(c): Json<CategoryPatch>,
) -> Result<Response, ApiError> {
    Ok(ok(&s
        .catalog
        .update_category(path_id(&id, "category-not-found")?, c)
        .await?))
}

/// Delete a category and its subcategories.
#[utoipa::path(delete, path = "/api/admin/categories/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn delete_category(
    State(s): State<AppState>,
    _a: AdminAuth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    s.catalog
        .delete_category(path_id(&id, "category-not-found")?)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A request to upload an image.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UploadRequest {
    /// Original file name (used for a readable key).
    filename: String,
    /// `image/png`, `image/jpeg`, `image/webp`, `image/gif` or `image/svg+xml`.
    content_type: String,
}

/// Where to PUT the bytes.
#[derive(Serialize, ToSchema)]
pub(crate) struct UploadTicket {
    /// Object key; pass it to `POST /api/admin/products/{id}/images` after uploading.
    object_key: String,
    /// Signed URL accepting one PUT of the file, sent with `headers`: a
    /// second PUT is refused (409 from the local storage route, 412 from S3,
    /// where the signature covers `If-None-Match: *`). The bytes must be the
    /// image type of the key's extension: attaching checks their header.
    upload_url: String,
    /// Always `PUT`.
    method: String,
    /// Headers the PUT must carry exactly as given (`{"If-None-Match": "*"}`);
    /// on S3 they are part of the signature.
    #[schema(value_type = Object)]
    headers: std::collections::BTreeMap<String, String>,
    /// When the URL stops working.
    expires_at: Timestamp,
}

fn extension_for(content_type: &str) -> Option<&'static str> {
    Some(match content_type {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "image/svg+xml" => "svg",
        _ => return None,
    })
}

/// Get a signed URL to upload an image to object storage.
#[utoipa::path(post, path = "/api/admin/uploads", tag = "admin", request_body = UploadRequest,
    responses((status = 201, body = UploadTicket), (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn create_upload(
    State(s): State<AppState>,
    _a: AdminAuth,
    Json(r): Json<UploadRequest>,
) -> Result<Response, ApiError> {
    let mut v = cielo_core::Validation::new();
    let ext = extension_for(&r.content_type);
    if ext.is_none() {
        v.add(
            "content_type",
            "must be image/png, image/jpeg, image/webp, image/gif or image/svg+xml",
        );
    }
    let stem = cielo_catalog::slugify(
        r.filename
            .rsplit_once('.')
            .map(|(s, _)| s)
            .unwrap_or(&r.filename),
    );
    if r.filename.trim().is_empty() || r.filename.len() > 255 {
        v.add("filename", "must be 1–255 characters");
    }
    v.finish().map_err(ApiError::validation)?;
    let stem = if stem.is_empty() {
        "image".to_string()
    } else {
        stem.chars().take(60).collect()
    };
    let key = format!(
        "images/{}-{stem}.{}",
        uuid::Uuid::now_v7().simple(),
        ext.expect("validated")
    );
    let url = s
        .storage
        .upload_url(&key, std::time::Duration::from_secs(900))
        .await
        .map_err(ApiError::internal)?;
    Ok(json(
        StatusCode::CREATED,
        &UploadTicket {
            object_key: key,
            headers: url
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            upload_url: url.url,
            method: url.method.into(),
            expires_at: Timestamp::from_micros(url.expires_at * 1_000_000),
        },
    ))
}

/// How much of an upload is read to check it is an image: enough for every
/// raster header (JPEG's size marker can follow large metadata) and the
/// opening of an SVG.
const IMAGE_HEADER_BYTES: u64 = 256 * 1024;

/// Checks that `head` (the start of the object at `key`) is an image of the
/// type its extension names, with a width and height.
fn check_image(key: &str, head: &[u8]) -> Result<(), String> {
    use imagesize::ImageType as T;
    let ext = key.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    let expected = match ext.as_str() {
        "png" => T::Png,
        "jpg" | "jpeg" => T::Jpeg,
        "webp" => T::Webp,
        "gif" => T::Gif,
        "svg" => {
            let text = String::from_utf8_lossy(head);
            let text = text.trim_start_matches('\u{feff}').trim_start();
            let opens = text.starts_with("<svg") || text.starts_with("<?xml");
            return if opens && text.contains("<svg") {
                Ok(())
            } else {
                Err("the upload is not an SVG image".into())
            };
        }
        _ => return Err("not an image key".into()),
    };
    let found = imagesize::image_type(head).ok();
    if found != Some(expected) {
        return Err(format!(
            "the upload is not a {} image (its content does not decode as one)",
            ext.to_ascii_uppercase()
        ));
    }
    match imagesize::blob_size(head) {
        Ok(size) if size.width > 0 && size.height > 0 => Ok(()),
        _ => Err(format!(
            "the upload is not a readable {} image (no width and height in its header)",
            ext.to_ascii_uppercase()
        )),
    }
}

/// Attach an uploaded image to a product.
#[utoipa::path(post, path = "/api/admin/products/{id}/images", tag = "admin", params(("id" = String, Path)), request_body = NewImage,
    responses((status = 201, body = Image), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn add_image(
    State(s): State<AppState>,
    _a: AdminAuth,
    Path(id): Path<String>,
    Json(mut img): Json<NewImage>,
) -> Result<Response, ApiError> {
    let product = path_id(&id, "product-not-found")?;
    let not_uploaded = || {
        ApiError::validation(vec![FieldError::new(
            "object_key",
            "nothing has been uploaded under this key",
        )])
    };
    if !img.object_key.starts_with("images/") || cielo_storage::check_key(&img.object_key).is_err()
    {
        return Err(not_uploaded());
    }
    match s
        .storage
        .size(&img.object_key)
        .await
        .map_err(ApiError::internal)?
    {
        Some(n) if n > 0 => {}
        _ => return Err(not_uploaded()),
    }
    // What was uploaded must be the image its name says, before the shop
    // serves it as one: decode the header (and size) of the actual bytes.
    let head = s
        .storage
        .head_bytes(&img.object_key, IMAGE_HEADER_BYTES)
        .await
        .map_err(ApiError::internal)?;
    if let Err(why) = check_image(&img.object_key, &head) {
        return Err(ApiError::validation(vec![FieldError::new(
            "object_key",
            why,
        )]));
    }
    img.url = s
        .storage
        .public_url(&img.object_key)
        .await
        .map_err(ApiError::internal)?;
    Ok(json(
        StatusCode::CREATED,
        &s.catalog.add_image(product, img).await?,
    ))
}

/// Remove an image from a product.
#[utoipa::path(delete, path = "/api/admin/products/{id}/images/{image_id}", tag = "admin", params(("id" = String, Path), ("image_id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn delete_image(
    State(s): State<AppState>,
    _a: AdminAuth,
    Path((id, image)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    s.catalog
        .delete_image(
            path_id(&id, "product-not-found")?,
            path_id(&image, "image-not-found")?,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Admin order filters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct OrderParams {
    /// Only this status.
    status: Option<OrderStatus>,
    /// Created at or after: a date (`2026-11-21`, from the start of that UTC
    /// day) or an RFC 3339 time.
    from: Option<String>,
    /// Created before: a date (`2026-11-21`, before that UTC day starts) or
    /// an RFC 3339 time. Must be after `from`.
    to: Option<String>,
    /// Buyer's email (exact, case-insensitive).
    email: Option<String>,
    /// The order number people quote (`#3F3CBECF`, `3f3cbecf`: with or
    /// without `#`, any case), or a whole order id.
    number: Option<String>,
    /// Only orders with a line made by this print lab (`local`, `printful`,
    /// `prodigi`), `none`: with a physical line the shop ships itself, or
    /// `digital`: with a digital download.
    lab: Option<String>,
    /// Page size, 1–100.
    limit: Option<i64>,
    /// Cursor from the previous page.
    cursor: Option<String>,
}

/// Values of the `lab` filter besides the labs themselves.
const LAB_FILTERS_BESIDES_LABS: [&str; 2] = ["none", "digital"];

/// A `from`/`to` bound: a plain date is the start of that UTC day.
fn parse_time(field: &str, v: Option<String>) -> Result<Option<Timestamp>, ApiError> {
    let Some(s) = v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let parsed = if s.len() == 10 {
        Timestamp::parse_rfc3339(&format!("{s}T00:00:00Z"))
    } else {
        Timestamp::parse_rfc3339(&s)
    };
    parsed.map(Some).map_err(|_| {
        ApiError::invalid_query(vec![FieldError::new(
            field,
            format!(
                "“{s}” is not a date: give one such as 2026-11-21, or an RFC 3339 time such as 2026-11-21T00:00:00Z"
            ),
        )])
    })
}

/// List orders with filters, newest first.
#[utoipa::path(get, path = "/api/admin/orders", tag = "admin", params(OrderParams),
    responses((status = 200, body = OrderPage), (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn list_orders(
    State(s): State<AppState>,
    _a: AdminAuth,
    Query(p): Query<OrderParams>,
) -> Result<Response, ApiError> {
    let from = parse_time("from", p.from)?;
    let to = parse_time("to", p.to)?;
    if let (Some(f), Some(t)) = (from, to) {
        if f >= t {
            return Err(ApiError::invalid_query(vec![FieldError::new(
                "to",
                "must be after `from`",
            )]));
        }
    }
    let number = match p.number.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(n) => Some(cielo_orders::parse_order_number(n).ok_or_else(|| {
            ApiError::invalid_query(vec![FieldError::new(
                "number",
                "must be an order number such as #3F3CBECF (8 letters and digits, 0–9 and A–F)",
            )])
        })?),
    };
    let lab = match p.lab.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(l) if LAB_FILTERS_BESIDES_LABS.contains(&l) || cielo_catalog::LABS.contains(&l) => {
            Some(l.to_string())
        }
        Some(_) => {
            return Err(ApiError::invalid_query(vec![FieldError::new(
                "lab",
                format!(
                    "must be one of: {}, {}",
                    cielo_catalog::LABS.join(", "),
                    LAB_FILTERS_BESIDES_LABS.join(", ")
                ),
            )]))
        }
    };
    let filter = OrderFilter {
        status: p.status,
        from,
        to,
        email: p.email,
        number,
        customer_id: None,
        lab,
        limit: p.limit,
        cursor: p.cursor,
    };
    Ok(ok(&s.orders.list_orders(filter).await?))
}

/// Read any order, with its history.
#[utoipa::path(get, path = "/api/admin/orders/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = Order), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn get_order(
    State(s): State<AppState>,
    _a: AdminAuth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(ok(&s
        .orders
        .get_order(path_id(&id, "order-not-found")?, &OrderAccess::Admin)
        .await?))
}

/// List waiting, running and dead jobs, newest first.
#[utoipa::path(get, path = "/api/admin/jobs", tag = "admin", params(cielo_jobs::JobFilter),
    responses((status = 200, body = cielo_jobs::JobPage), (status = 400, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn list_jobs(
    State(s): State<AppState>,
    _a: AdminAuth,
    Query(f): Query<cielo_jobs::JobFilter>,
) -> Result<Response, ApiError> {
    Ok(ok(&cielo_jobs::list_jobs(&s.db, &f).await?))
}

/// Dead-letter filters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeadParams {
    /// Only this queue.
    queue: Option<String>,
    /// Cursor from the previous page.
    cursor: Option<String>,
    /// Page size (default 50, at most 500).
    limit: Option<u32>,
}

/// Dead letters: jobs that failed their last attempt and wait for a person.
#[utoipa::path(get, path = "/api/admin/jobs/dead", tag = "admin", params(DeadParams),
    responses((status = 200, body = cielo_jobs::JobPage)), security(("bearer" = [])))]
pub(crate) async fn dead_jobs(
    State(s): State<AppState>,
    _a: AdminAuth,
    Query(p): Query<DeadParams>,
) -> Result<Response, ApiError> {
    Ok(ok(&cielo_jobs::dead_letters(
        &s.db,
        p.queue.as_deref(),
        p.cursor.as_deref(),
        p.limit,
    )
    .await?))
}

/// Per-queue statistics.
#[derive(Serialize, ToSchema)]
pub(crate) struct QueueStatsList {
    /// One entry per queue.
    queues: Vec<cielo_jobs::QueueStats>,
}

/// Per-queue depth, age of the oldest runnable job, and dead letters.
#[utoipa::path(get, path = "/api/admin/jobs/stats", tag = "admin", responses((status = 200, body = QueueStatsList)), security(("bearer" = [])))]
pub(crate) async fn job_stats(
    State(s): State<AppState>,
    _a: AdminAuth,
) -> Result<Response, ApiError> {
    Ok(ok(&QueueStatsList {
        queues: cielo_jobs::queue_stats(&s.db).await?,
    }))
}

/// One job, with its payload and last error.
#[utoipa::path(get, path = "/api/admin/jobs/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = cielo_jobs::JobView), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn show_job(
    State(s): State<AppState>,
    _a: AdminAuth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(ok(&cielo_jobs::show_job(
        &s.db,
        &path_id(&id, "job-not-found")?,
    )
    .await?))
}

/// Put a dead job back in its queue with a fresh set of attempts.
#[utoipa::path(post, path = "/api/admin/jobs/{id}/retry", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = cielo_jobs::JobView), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn retry_job(
    State(s): State<AppState>,
    _a: AdminAuth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(ok(&cielo_jobs::retry_job(
        &s.db,
        &path_id(&id, "job-not-found")?,
    )
    .await?))
}

/// A time-limited download link to the print file of any order line.
#[utoipa::path(get, path = "/api/admin/orders/{id}/lines/{line_id}/artwork", tag = "admin", params(("id" = String, Path), ("line_id" = String, Path)),
    responses((status = 200, body = super::store::ArtworkLink), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn artwork_link(
    State(s): State<AppState>,
    _a: AdminAuth,
    Path((id, line)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    super::store::artwork_response(
        &s,
        path_id(&id, "order-not-found")?,
        &line,
        &OrderAccess::Admin,
    )
    .await
}

#[cfg(test)]
mod image_tests {
    use super::check_image;

    /// A 1×1 PNG.
    const PNG: &[u8] = &[
        0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0,
        0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89,
    ];
    /// A 1×1 GIF header.
    const GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00";

    #[test]
    fn images_pass_when_their_bytes_are_what_their_name_says() {
        assert_eq!(check_image("images/a.png", PNG), Ok(()));
        assert_eq!(check_image("images/a.gif", GIF), Ok(()));
        assert_eq!(
            check_image(
                "images/a.svg",
                b"<?xml version='1.0'?><svg xmlns='http://www.w3.org/2000/svg'/>"
            ),
            Ok(())
        );
    }

    #[test]
    fn other_bytes_are_refused() {
        for (key, bytes) in [
            ("images/a.png", &b"not an image at all"[..]),
            ("images/a.png", GIF),
            ("images/a.jpg", PNG),
            ("images/a.png", &PNG[..12]),
            ("images/a.svg", &b"<html><script>alert(1)</script>"[..]),
            ("images/a.webp", &b"RIFF\0\0\0\0WAVE"[..]),
        ] {
            assert!(check_image(key, bytes).is_err(), "{key} {bytes:?}");
        }
    }
}
