//! RFC 9457 problem details: every error leaves Cielo as
//! `application/problem+json` with a stable `type` per error kind.
//!
//! Handlers return [`ApiError`]; its response carries the problem in an
//! extension and the [`render`] middleware writes the body, because only the
//! middleware knows the request id and path, and logs internal errors once,
//! inside the request's span.

use axum::response::{IntoResponse, Response};
use cielo_core::{ErrorKind, FieldError, HasErrorKind};
use http::{header, HeaderValue, StatusCode};
use serde::Serialize;
use std::sync::Arc;

/// Base of every problem `type`: `urn:cielo:problem:<code>`.
pub const PROBLEM_TYPE_PREFIX: &str = "urn:cielo:problem:";

/// An error on its way to the client.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable kebab-case code; the problem `type` is derived from it.
    pub code: &'static str,
    /// Human-readable explanation of this occurrence.
    pub detail: String,
    /// Field errors for validation failures.
    pub errors: Vec<FieldError>,
    /// Seconds to wait, for 429 and 503.
    pub retry_after: Option<u64>,
    /// Full cause chain of an internal error, for the log only.
    pub internal: Option<Arc<String>>,
}

/// The JSON body of a problem response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Stable URI naming the kind of problem (`urn:cielo:problem:<code>`).
    #[serde(rename = "type")]
    pub type_: String,
    /// Short summary of the kind of problem.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// Explanation of this occurrence.
    pub detail: String,
    /// The request path.
    pub instance: String,
    /// Request id (also in the `x-request-id` header and the logs).
    pub request_id: String,
    /// Which fields were wrong, as JSON pointers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl ApiError {
    /// A problem with a status, code and detail.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
            internal: None,
        }
    }
    /// 422 with field errors.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => match one.pointer.trim_start_matches('#').trim_start_matches('/') {
                "" => one.detail.clone(),
                field => format!("{field}: {}", one.detail),
            },
            _ => format!("{} fields are invalid", errors.len()),
        };
        Self {
            errors,
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation-failed",
                detail,
            )
        }
    }
    /// 422 for query parameters that cannot be read or do not fit
    /// together, naming each (`#/from`).
    pub fn invalid_query(errors: Vec<FieldError>) -> Self {
        Self {
            code: "invalid-query",
            ..Self::validation(errors)
        }
    }
    /// 413, worded the same whether the body layer or an extractor stopped
    /// the body.
    pub fn body_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            "the request body is larger than this server accepts",
        )
    }
    /// 404.
    pub fn not_found(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, detail)
    }
    /// 500; the error chain goes to the log, never to the client.
    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        let err: anyhow::Error = err.into();
        Self {
            internal: Some(Arc::new(format!("{err:#}"))),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "An unexpected error occurred. It has been logged with this request's id.",
            )
        }
    }
    /// 401 (missing or bad credentials).
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", detail)
    }
    /// 403.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }
}

/// Problem codes for rejections that no handler wrote.
fn framework_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad-request",
        404 => "route-not-found",
        405 => "method-not-allowed",
        408 => "timeout",
        411 => "length-required",
        413 => "body-too-large",
        415 => "unsupported-media-type",
        422 => "unprocessable-body",
        429 => "too-many-requests",
        _ => "http-error",
    }
}

fn title(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "Bad request",
        401 => "Not signed in",
        403 => "Forbidden",
        404 => "Not found",
        405 => "Method not allowed",
        408 => "Request timeout",
        409 => "Conflict",
        411 => "Length required",
        413 => "Request too large",
        415 => "Unsupported media type",
        422 => "Validation failed",
        429 => "Too many requests",
        503 => "Service unavailable",
        _ => "Internal error",
    }
}

impl<E: HasErrorKind> From<E> for ApiError {
    fn from(e: E) -> Self {
        let status = match e.kind() {
            ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => {
                return ApiError::internal(anyhow::anyhow!("{}", error_chain(&e)))
            }
        };
        let errors = e.field_errors();
        if status == StatusCode::UNPROCESSABLE_ENTITY && e.code() == "validation-failed" {
            return ApiError::validation(errors);
        }
        Self {
            errors,
            internal: e.log_detail().map(Arc::new),
            ..ApiError::new(status, e.code(), e.to_string())
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = self.status.into_response();
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res.extensions_mut().insert(self);
        res
    }
}

/// Writes the problem body of an error answer (4xx/5xx): for [`ApiError`]s,
/// and for any other that left without a body (unknown route, wrong method,
/// body too large). `path` becomes the problem's `instance`. Any other answer
/// comes back untouched. Called by the edge ([`crate::edge`]) on every answer.
pub(crate) async fn finish(mut res: Response, path: &str, request_id: &HeaderValue) -> Response {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let instance = path.to_string();
    let request_id = request_id.to_str().unwrap_or("").to_string();
    let err = match res.extensions_mut().remove::<ApiError>() {
        Some(e) => e,
        None => {
            // The framework's own rejections (a body over the limit, a path
            // or query it could not parse, an unknown route or method) come
            // as text/plain or without a body: they become problems too. A
            // handler's deliberate page (HTML, an existing problem) stays.
            let plain = res
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_none_or(|ct| ct.starts_with("text/plain"));
            if !plain {
                return res;
            }
            let (parts, body) = res.into_parts();
            let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
            res = Response::from_parts(parts, axum::body::Body::empty());
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                // The body layer's own words differ from the extractor's:
                // one wording whichever stopped the body.
                ApiError::body_too_large()
            } else {
                let detail = match std::str::from_utf8(&text).map(str::trim) {
                    Ok(t) if !t.is_empty() => t.to_string(),
                    _ => title(status).to_string(),
                };
                ApiError::new(status, framework_code(status), detail)
            }
        }
    };
    if let Some(chain) = &err.internal {
        if status.is_server_error() && err.code == "internal" {
            tracing::error!(error = %chain, request_id, path = %instance, "request failed");
        } else {
            tracing::warn!(error = %chain, request_id, path = %instance, code = err.code, "request refused; detail for the log only");
        }
    }
    let body = Problem {
        type_: format!("{PROBLEM_TYPE_PREFIX}{}", err.code),
        title: title(status).to_string(),
        status: status.as_u16(),
        detail: err.detail,
        instance,
        request_id,
        errors: err.errors,
    };
    let (mut parts, _) = res.into_parts();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(
        parts,
        axum::body::Body::from(serde_json::to_vec(&body).expect("problems serialise")),
    )
}
