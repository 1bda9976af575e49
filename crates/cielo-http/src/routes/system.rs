//! Health, metrics, the OpenAPI document and files. (The pages people see
//! are the `cielo-web` crate's, mounted in front of this router.)

use super::ok;
use crate::extract::Query;
use crate::problem::{ApiError, Problem};
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http::{header, StatusCode};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

/// Liveness.
#[derive(Serialize, ToSchema)]
pub(crate) struct Health {
    /// `ok`.
    status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "system", responses((status = 200, body = Health)))]
pub(crate) async fn healthz() -> Response {
    ok(&Health { status: "ok" })
}

/// Readiness.
#[derive(Serialize, ToSchema)]
pub(crate) struct Readiness {
    /// `ready` or `not_ready`.
    status: &'static str,
    /// Whether the database answered.
    database: bool,
    /// Migrations not yet applied, as `domain/version`.
    pending_migrations: Vec<String>,
    /// Settings that work but should not face the public (the built-in test
    /// payment provider behind a public URL); absent when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

/// The database answers and every migration is applied.
#[utoipa::path(get, path = "/readyz", tag = "system", responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub(crate) async fn readyz(State(s): State<AppState>) -> Response {
    let database = s.db.ping().await;
    let pending = if database {
        match s.db.migration_status(&s.migrations).await {
            Ok(st) => st
                .pending
                .into_iter()
                .map(|(d, v)| format!("{d}/{v}"))
                .collect(),
            Err(_) => vec!["unknown".to_string()],
        }
    } else {
        Vec::new()
    };
    let ready = database && pending.is_empty();
    let body = Readiness {
        status: if ready { "ready" } else { "not_ready" },
        database,
        pending_migrations: pending,
        warnings: crate::deployment_warnings(&s),
    };
    super::json(
        if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        &body,
    )
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "system", responses((status = 200, content_type = "text/plain; version=0.0.4", body = String)))]
pub(crate) async fn metrics(State(s): State<AppState>) -> Response {
    // The queues' gauges are the database's view at the time of the scrape.
    match cielo_jobs::queue_stats(&s.db).await {
        Ok(stats) => s.job_metrics.record_queue_stats(&stats),
        Err(e) => tracing::warn!(error = %e, "job queue metrics unavailable"),
    }
    match s.orders.status_counts().await {
        Ok(counts) => s.metrics.record_order_counts(&counts),
        Err(e) => tracing::warn!(error = %e, "order metrics unavailable"),
    }
    let text = s.metrics.render();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// This document (OpenAPI 3.1, generated from the code).
#[utoipa::path(get, path = "/openapi.json", tag = "system", responses((status = 200, content_type = "application/json", body = Object)))]
#[allow(dead_code)]
pub(crate) async fn openapi_doc() {}

pub(crate) async fn openapi_json(doc: Arc<Vec<u8>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        Bytes::from(doc.as_ref().clone()),
    )
        .into_response()
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found("route-not-found", "no such route; see /openapi.json")
}

pub(crate) fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Documentation of the file routes, which are registered directly because
/// their keys span several path segments.
#[derive(OpenApi)]
#[openapi(paths(upload_object, download_object, media, openapi_doc))]
pub(crate) struct FilesDoc;

pub(crate) fn file_routes() -> Router<AppState> {
    Router::new()
        .route("/storage/{*key}", get(download_object).put(upload_object))
        .route("/media/{*key}", get(media))
}

/// A signature on a local storage URL.
#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct Signature {
    /// Unix time the URL expires.
    expires: i64,
    /// Hex HMAC from the signed URL.
    signature: String,
}

fn content_type(key: &str) -> &'static str {
    match key.rsplit('.').next().unwrap_or("") {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}

fn storage_error(e: cielo_storage::Error) -> ApiError {
    match e {
        cielo_storage::Error::NotFound | cielo_storage::Error::InvalidKey(_) => {
            ApiError::not_found("object-not-found", "no such object")
        }
        other => ApiError::internal(other),
    }
}

fn file_response(key: &str, bytes: Bytes, cache: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type(key)),
            (header::CACHE_CONTROL, cache),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            // Uploaded SVGs must never run script in the shop's origin.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
            ),
        ],
        bytes,
    )
        .into_response()
}

/// Upload through a signed URL (local storage).
#[utoipa::path(put, path = "/storage/{key}", tag = "system", params(("key" = String, Path), Signature),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn upload_object(
    State(s): State<AppState>,
    Path(key): Path<String>,
    Query(sig): Query<Signature>,
    body: Bytes,
) -> Result<Response, ApiError> {
    if !s
        .storage
        .verify_local("PUT", &key, sig.expires, &sig.signature)
    {
        return Err(ApiError::forbidden(
            "the upload URL is invalid or has expired",
        ));
    }
    if body.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "empty-upload",
            "the upload is empty",
        ));
    }
    // Each signed URL takes one PUT: the key is fresh per URL, so an object
    // already there means the URL was used.
    match s.storage.put_new(&key, body).await {
        Ok(()) => Ok(StatusCode::CREATED.into_response()),
        Err(cielo_storage::Error::AlreadyExists) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "upload-url-used",
            "this upload URL has been used; ask for a new one",
        )),
        Err(e) => Err(storage_error(e)),
    }
}

/// Download through a signed URL (local storage). The file comes as an
/// attachment named after the key's last segment. A link past its expiry
/// answers 410 (whatever its signature: it grants nothing either way; ask
/// the page that made it for a new one); a link whose signature does not
/// match answers 403.
#[utoipa::path(get, path = "/storage/{key}", tag = "system", params(("key" = String, Path), Signature),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 410, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn download_object(
    State(s): State<AppState>,
    Path(key): Path<String>,
    Query(sig): Query<Signature>,
) -> Result<Response, ApiError> {
    if sig.expires < cielo_core::Timestamp::now().as_unix_seconds() {
        return Err(ApiError::new(
            StatusCode::GONE,
            "download-link-expired",
            "this download link has expired; open the order page again for a fresh one",
        ));
    }
    if !s
        .storage
        .verify_local("GET", &key, sig.expires, &sig.signature)
    {
        return Err(ApiError::forbidden(
            "the download URL is invalid or has expired",
        ));
    }
    let bytes = s.storage.get(&key).await.map_err(storage_error)?;
    let mut res = file_response(&key, bytes, "private, max-age=60");
    if let Ok(v) = header::HeaderValue::from_str(&attachment(&key)) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

/// `attachment; filename="<last segment of key>"`, the name reduced to
/// characters safe in a quoted header value.
fn attachment(key: &str) -> String {
    let name: String = key
        .rsplit('/')
        .next()
        .unwrap_or(key)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("attachment; filename=\"{name}\"")
}

/// Public product images (only keys under `images/`).
#[utoipa::path(get, path = "/media/{key}", tag = "system", params(("key" = String, Path)),
    responses((status = 200, content_type = "image/*", body = Vec<u8>), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn media(
    State(s): State<AppState>,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    if !key.starts_with("images/") {
        return Err(ApiError::not_found("object-not-found", "no such object"));
    }
    let bytes = s.storage.get(&key).await.map_err(storage_error)?;
    Ok(file_response(&key, bytes, "public, max-age=86400"))
}
