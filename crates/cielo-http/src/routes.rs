//! Route handlers, one module per audience.

pub(crate) mod account;
pub(crate) mod admin;
pub(crate) mod lifecycle;
pub(crate) mod notify;
pub(crate) mod payments;
pub(crate) mod starmap;
pub(crate) mod store;
pub(crate) mod system;

use axum::response::{IntoResponse, Response};
use bytes::Bytes;

/// A JSON response with an explicit status.
pub(crate) fn json<T: serde::Serialize>(status: http::StatusCode, body: &T) -> Response {
    (
        status,
        [(http::header::CONTENT_TYPE, "application/json")],
        Bytes::from(serde_json::to_vec(body).expect("responses serialise")),
    )
        .into_response()
}

/// 200 with a JSON body.
pub(crate) fn ok<T: serde::Serialize>(body: &T) -> Response {
    json(http::StatusCode::OK, body)
}
