//! The order's life after payment at the edge: lab orders and shipments in
//! the admin API, the buyer's edit window, and the print labs' webhooks.

use super::ok;
use crate::extract::{parse_json, path_id, AdminAuth, Json, MaybeCustomer, Query};
use crate::problem::{ApiError, Problem};
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::Response;
use bytes::Bytes;
use cielo_flows::{Flows, ManualShipment, OrderAmendment, Timeline};
use cielo_fulfillment::{Lab, LabOrderId, LabOrderView, WebhookError};
use cielo_orders::{Order, OrderId, OrderStatus};
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(lab_orders))
        .routes(routes!(resubmit_lab_order))
        .routes(routes!(cancel_lab_order))
        .routes(routes!(mark_shipped))
        .routes(routes!(mark_delivered))
        .routes(routes!(resolve))
        .routes(routes!(amend_order))
        .routes(routes!(printful_webhook))
        .routes(routes!(prodigi_webhook))
}

fn flows(s: &AppState) -> Result<&Arc<Flows>, ApiError> {
    s.flows.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "fulfillment-unavailable",
            "fulfillment is not set up in this process",
        )
    })
}

fn order_id(raw: &str) -> Result<OrderId, ApiError> {
    path_id(raw, "order-not-found")
}

fn lab_order_id(raw: &str) -> Result<LabOrderId, ApiError> {
    path_id(raw, "lab-order-not-found")
}

/// An optional JSON body: empty is the default.
fn optional_body<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        parse_json(body)
    }
}

fn admin_cause(a: &AdminAuth, note: Option<&str>) -> String {
    match note.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => format!("admin:{}: {n}", a.0.customer_id),
        None => format!("admin:{}", a.0.customer_id),
    }
}

/// An order's lab orders and the order itself.
#[utoipa::path(get, path = "/api/admin/orders/{id}/lab-orders", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = Vec<LabOrderView>), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn lab_orders(
    State(s): State<AppState>,
    _a: AdminAuth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let t = flows(&s)?.timeline(order_id(&id)?).await?;
    Ok(ok(&t.lab_orders))
}

/// Resubmitting a refused (or cancelled) lab order.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Resubmit {
    /// A corrected address; it becomes the order's too.
    #[serde(default)]
    shipping_address: Option<cielo_core::PostalAddress>,
    /// Why (kept in the history).
    #[serde(default)]
    note: Option<String>,
}

/// Send a refused or cancelled lab order again (a fresh lab reference where
/// the lab needs one), optionally to a corrected address. An order in
/// `needs_attention` goes back to `in_production`.
#[utoipa::path(post, path = "/api/admin/orders/{id}/lab-orders/{lab_order_id}/resubmit", tag = "admin",
    params(("id" = String, Path), ("lab_order_id" = String, Path)), request_body = Resubmit,
    responses((status = 200, body = Timeline), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn resubmit_lab_order(
    State(s): State<AppState>,
    a: AdminAuth,
    Path((id, lab_order)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: Resubmit = optional_body(&body)?;
    let cause = admin_cause(&a, body.note.as_deref());
    let t = flows(&s)?
        .resubmit(
            order_id(&id)?,
            lab_order_id(&lab_order)?,
            body.shipping_address,
            &cause,
        )
        .await?;
    Ok(ok(&t))
}

/// A note for an admin action.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Note {
    /// Why (kept in the history).
    #[serde(default)]
    note: Option<String>,
}

/// Cancel a lab order at its lab (refused once it has shipped, or when the
/// lab no longer allows it).
#[utoipa::path(post, path = "/api/admin/orders/{id}/lab-orders/{lab_order_id}/cancel", tag = "admin",
    params(("id" = String, Path), ("lab_order_id" = String, Path)), request_body = Note,
    responses((status = 200, body = Timeline), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn cancel_lab_order(
    State(s): State<AppState>,
    a: AdminAuth,
    Path((id, lab_order)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: Note = optional_body(&body)?;
    let cause = admin_cause(&a, body.note.as_deref());
    let t = flows(&s)?
        .cancel_lab_order(order_id(&id)?, lab_order_id(&lab_order)?, &cause)
        .await?;
    Ok(ok(&t))
}

/// Record a parcel the shop sent itself (lines whose variant has no lab),
/// with its tracking. The order becomes `shipped` once every part has shipped.
#[utoipa::path(post, path = "/api/admin/orders/{id}/shipments", tag = "admin", params(("id" = String, Path)),
    request_body = ManualShipment,
    responses((status = 200, body = Order), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn mark_shipped(
    State(s): State<AppState>,
    a: AdminAuth,
    Path(id): Path<String>,
    Json(body): Json<ManualShipment>,
) -> Result<Response, ApiError> {
    let cause = admin_cause(&a, Some("marked shipped"));
    let order = flows(&s)?
        .mark_shipped(order_id(&id)?, body, &cause)
        .await?;
    Ok(ok(&order))
}

/// Mark a shipped order delivered (parcels the shop sent itself; the labs
/// report their own).
#[utoipa::path(post, path = "/api/admin/orders/{id}/delivered", tag = "admin", params(("id" = String, Path)),
    request_body = Note,
    responses((status = 200, body = Order), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn mark_delivered(
    State(s): State<AppState>,
    a: AdminAuth,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: Note = optional_body(&body)?;
    let cause = admin_cause(&a, body.note.as_deref().or(Some("marked delivered")));
    let order = flows(&s)?.mark_delivered(order_id(&id)?, &cause).await?;
    Ok(ok(&order))
}

/// How a person resolves an order in `needs_attention`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Resolve {
    /// Where the order should be now (`paid`, `in_production`, `shipped`,
    /// `delivered`, `cancelled`, `refunded`…; the transition table decides).
    status: OrderStatus,
    /// Why (kept in the history).
    #[serde(default)]
    note: Option<String>,
}

/// Resolve an order in `needs_attention`.
#[utoipa::path(post, path = "/api/admin/orders/{id}/resolve", tag = "admin", params(("id" = String, Path)),
    request_body = Resolve,
    responses((status = 200, body = Order), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn resolve(
    State(s): State<AppState>,
    a: AdminAuth,
    Path(id): Path<String>,
    Json(body): Json<Resolve>,
) -> Result<Response, ApiError> {
    let cause = admin_cause(&a, body.note.as_deref().or(Some("resolved")));
    let order = flows(&s)?
        .resolve(order_id(&id)?, body.status, &cause)
        .await?;
    Ok(ok(&order))
}

/// Order access for guests.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenParams {
    /// The access token from checkout (or send `X-Order-Token`).
    token: Option<String>,
}

/// Correct the shipping address or a line's personalisation (a poster's
/// title) during the edit window (`fulfillment.hold_minutes` after payment),
/// as the order's owner or with its access token. Refused (409
/// `order-too-late-to-change`) once the lab has the order and offers no way
/// to change it, or once it has shipped.
#[utoipa::path(patch, path = "/api/store/orders/{id}", tag = "store", params(("id" = String, Path), TokenParams,
        ("X-Order-Token" = Option<String>, Header, description = "The order's access token")),
    request_body = OrderAmendment,
    responses((status = 200, body = Order), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security((), ("bearer" = [])))]
pub(crate) async fn amend_order(
    State(s): State<AppState>,
    MaybeCustomer(who): MaybeCustomer,
    Path(id): Path<String>,
    Query(q): Query<TokenParams>,
    headers: HeaderMap,
    Json(body): Json<OrderAmendment>,
) -> Result<Response, ApiError> {
    let id = order_id(&id)?;
    let token = headers
        .get("x-order-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or(q.token);
    let access = super::store::order_access(&s, id, who, token).await?;
    let order = flows(&s)?.amend(id, &access, body).await?;
    Ok(ok(&order))
}

/// A lab webhook, accepted.
#[derive(Serialize, ToSchema)]
pub(crate) struct LabWebhookAck {
    /// Always true: the hint is stored and a re-read of the order is queued.
    received: bool,
}

async fn lab_webhook(
    s: &AppState,
    lab: Lab,
    token: &str,
    body: &[u8],
) -> Result<Response, ApiError> {
    match flows(s)?
        .fulfillment()
        .accept_webhook(lab, token, body)
        .await
    {
        Ok(()) => Ok(ok(&LabWebhookAck { received: true })),
        // A wrong or unset token looks like no route at all: the URL stays unguessable.
        Err(WebhookError::BadToken) | Err(WebhookError::NotConfigured(_)) => {
            Err(ApiError::not_found("not-found", "no such resource"))
        }
        Err(WebhookError::Malformed(m)) => {
            Err(ApiError::new(StatusCode::BAD_REQUEST, "malformed-event", m))
        }
        Err(e) => Err(ApiError::internal(anyhow::anyhow!("{e}"))),
    }
}

/// The secret token of a lab's webhook URL. It travels in the query, not the
/// path: request logs carry the path.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct WebhookToken {
    /// The token configured for the lab (`CIELO_PRINTFUL_WEBHOOK_TOKEN`, `CIELO_PRODIGI_WEBHOOK_TOKEN`).
    #[serde(default)]
    token: String,
}

/// Printful's webhooks (`package_shipped`, `order_failed`, …), at a URL with a
/// secret token. Treated as a hint: the order is re-read from Printful before
/// anything changes.
#[utoipa::path(post, path = "/webhooks/printful", tag = "webhooks", params(WebhookToken),
    request_body(content = Object, content_type = "application/json"),
    responses((status = 200, body = LabWebhookAck), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn printful_webhook(
    State(s): State<AppState>,
    Query(q): Query<WebhookToken>,
    body: Bytes,
) -> Result<Response, ApiError> {
    lab_webhook(&s, Lab::Printful, &q.token, &body).await
}

/// Prodigi's callbacks (CloudEvents), at a URL with a secret token. Treated
/// as a hint: the order is fetched from Prodigi before anything changes.
#[utoipa::path(post, path = "/webhooks/prodigi", tag = "webhooks", params(WebhookToken),
    request_body(content = Object, content_type = "application/json"),
    responses((status = 200, body = LabWebhookAck), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn prodigi_webhook(
    State(s): State<AppState>,
    Query(q): Query<WebhookToken>,
    body: Bytes,
) -> Result<Response, ApiError> {
    lab_webhook(&s, Lab::Prodigi, &q.token, &body).await
}
