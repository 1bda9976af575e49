//! Notifications in the admin API: the message log with each delivery, a
//! resend, a preview of any kind for an order, and the outbox's files.

use super::ok;
use crate::extract::{path_id, AdminAuth, Query};
use crate::problem::{ApiError, Problem};
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use cielo_notify::webhooks::{WebhookAck, WebhookError};
use cielo_notify::{
    Channel, Kind, MessageDetail, MessageFilter, MessagePage, Rendered, Suppression,
};
use http::{header, StatusCode};
use serde::Deserialize;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_messages))
        .routes(routes!(get_message))
        .routes(routes!(resend_message))
        .routes(routes!(preview))
        .routes(routes!(list_outbox))
        .routes(routes!(outbox_file))
        .routes(routes!(list_suppressions))
        .routes(routes!(remove_suppression))
        .routes(routes!(resend_webhook))
        .routes(routes!(sendgrid_webhook))
}

fn service(s: &AppState) -> Result<&Arc<cielo_notify::Notify>, ApiError> {
    s.notify.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "notify-unavailable",
            "notifications are not set up in this process",
        )
    })
}

/// Messages, newest first, with filters.
#[utoipa::path(get, path = "/api/admin/notifications/messages", tag = "admin", params(MessageFilter),
    responses((status = 200, body = MessagePage), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn list_messages(
    State(s): State<AppState>,
    _a: AdminAuth,
    Query(f): Query<MessageFilter>,
) -> Result<Response, ApiError> {
    Ok(ok(&service(&s)?.list(&f).await?))
}

/// A message with every delivery attempt (status, provider id, error, cause).
#[utoipa::path(get, path = "/api/admin/notifications/messages/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = MessageDetail), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn get_message(
    State(s): State<AppState>,
    _a: AdminAuth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "message-not-found")?;
    Ok(ok(&service(&s)?.message(id).await?))
}

/// Why a message is sent again.
#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResendInput {
    /// A note for the log (e.g. "buyer lost the email").
    #[serde(default)]
    reason: Option<String>,
}

/// Sends a message again, as a new delivery with a new idempotency key; the
/// admin and the reason are recorded as its cause. 409 while an attempt runs.
#[utoipa::path(post, path = "/api/admin/notifications/messages/{id}/resend", tag = "admin", params(("id" = String, Path)),
    request_body = ResendInput,
    responses((status = 202, body = MessageDetail), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn resend_message(
    State(s): State<AppState>,
    AdminAuth(admin): AdminAuth,
    Path(id): Path<String>,
    body: bytes::Bytes,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "message-not-found")?;
    // The body is optional: an empty POST resends without a note.
    let input: ResendInput = if body.iter().all(u8::is_ascii_whitespace) {
        ResendInput::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::from(cielo_notify::Error::Invalid {
                field: "reason",
                detail: format!("the body must be {{\"reason\": \"…\"}}: {e}"),
            })
        })?
    };
    let reason = input
        .reason
        .map(|r| r.chars().take(500).collect::<String>());
    let cause = match reason {
        Some(r) if !r.trim().is_empty() => {
            format!("resend by admin:{}: {}", admin.customer_id, r.trim())
        }
        _ => format!("resend by admin:{}", admin.customer_id),
    };
    let detail = service(&s)?.resend(id, &cause).await?;
    Ok(super::json(StatusCode::ACCEPTED, &detail))
}

/// Preview parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct PreviewParams {
    /// `email` (default) or `sms`.
    channel: Option<String>,
    /// `en` or `es`; default the order's language (the shop's for owner kinds).
    lang: Option<String>,
}

/// Renders a kind for an order as it would be sent, without sending or storing anything.
#[utoipa::path(get, path = "/api/admin/orders/{id}/notifications/{kind}/preview", tag = "admin",
    params(("id" = String, Path), ("kind" = String, Path, description = "order_confirmation, print_file_ready, download_ready, shipped, delivered, refund_issued, needs_change, owner_new_order, owner_needs_attention"), PreviewParams),
    responses((status = 200, body = Rendered), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn preview(
    State(s): State<AppState>,
    _a: AdminAuth,
    Path((id, kind)): Path<(String, String)>,
    Query(p): Query<PreviewParams>,
) -> Result<Response, ApiError> {
    let order_id = path_id(&id, "order-not-found")?;
    let kind = Kind::parse(&kind).ok_or_else(|| {
        ApiError::not_found("kind-not-found", format!("no message kind `{kind}`"))
    })?;
    let channel = match p.channel.as_deref() {
        None | Some("email") => Channel::Email,
        Some("sms") => Channel::Sms,
        Some(_) => {
            return Err(cielo_notify::Error::Invalid {
                field: "channel",
                detail: "must be email or sms".into(),
            }
            .into())
        }
    };
    let rendered = service(&s)?
        .preview(order_id, kind, channel, p.lang.as_deref())
        .await?;
    Ok(ok(&rendered))
}

/// The files the `outbox` providers wrote (every email and SMS the shop would
/// have sent), newest first.
#[utoipa::path(get, path = "/api/admin/notifications/outbox", tag = "admin",
    responses((status = 200, body = Vec<cielo_notify::OutboxFile>)), security(("bearer" = [])))]
pub(crate) async fn list_outbox(
    State(s): State<AppState>,
    _a: AdminAuth,
) -> Result<Response, ApiError> {
    Ok(ok(&service(&s)?.outbox().await?))
}

/// One outbox file, raw (`message/rfc822` for `.eml`, text for SMS).
#[utoipa::path(get, path = "/api/admin/notifications/outbox/{name}", tag = "admin", params(("name" = String, Path)),
    responses((status = 200, content_type = "message/rfc822", body = String), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn outbox_file(
    State(s): State<AppState>,
    _a: AdminAuth,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let bytes = service(&s)?.outbox_file(&name).await?;
    let ct = if name.ends_with(".eml") {
        "message/rfc822"
    } else {
        "text/plain; charset=utf-8"
    };
    Ok(([(header::CONTENT_TYPE, ct)], bytes).into_response())
}

/// Suppression list parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct SuppressionParams {
    /// How many, 1–500 (default 100).
    limit: Option<i64>,
}

/// Addresses the shop's non-essential mail is not sent to (they hard-bounced
/// or complained, as a provider's webhook reported), newest first.
#[utoipa::path(get, path = "/api/admin/notifications/suppressions", tag = "admin", params(SuppressionParams),
    responses((status = 200, body = Vec<Suppression>), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn list_suppressions(
    State(s): State<AppState>,
    _a: AdminAuth,
    Query(p): Query<SuppressionParams>,
) -> Result<Response, ApiError> {
    Ok(ok(&service(&s)?
        .suppressions(p.limit.unwrap_or(100))
        .await?))
}

/// Takes an address off the suppression list: its mail is sent again.
#[utoipa::path(delete, path = "/api/admin/notifications/suppressions/{address}", tag = "admin", params(("address" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn remove_suppression(
    State(s): State<AppState>,
    _a: AdminAuth,
    Path(address): Path<String>,
) -> Result<Response, ApiError> {
    service(&s)?.remove_suppression(&address).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn email_webhook(
    s: &AppState,
    provider: &str,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    match service(s)?.receive_webhook(provider, headers, body).await {
        Ok(ack) => Ok(ok(&ack)),
        Err(WebhookError::NotConfigured(p)) => Err(ApiError::not_found(
            "webhook-provider-not-found",
            format!("no webhooks are accepted for `{p}`"),
        )),
        Err(WebhookError::Signature(e)) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-signature",
            e.to_string(),
        )),
        Err(WebhookError::Malformed(m)) => {
            Err(ApiError::new(StatusCode::BAD_REQUEST, "malformed-event", m))
        }
        Err(WebhookError::Internal(e)) => Err(ApiError::internal(e)),
    }
}

/// Resend's delivery events through Svix (`email.delivered`,
/// `email.bounced`, `email.complained`, …). The `svix-signature` is verified
/// on the raw body with `CIELO_RESEND_WEBHOOK_SECRET`; the event is stored
/// under its `svix-id` before the answer and applied by a job. A replay
/// answers 200 and changes nothing; an event about a message Cielo did not
/// send is recorded and answered 200 too.
#[utoipa::path(post, path = "/webhooks/resend", tag = "webhooks",
    request_body(content = Object, content_type = "application/json"),
    responses((status = 200, body = WebhookAck), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn resend_webhook(
    State(s): State<AppState>,
    headers: http::HeaderMap,
    body: bytes::Bytes,
) -> Result<Response, ApiError> {
    email_webhook(&s, "resend", &headers, &body).await
}

/// SendGrid's Signed Event Webhook (a JSON array of events: `delivered`,
/// `bounce`, `dropped`, `spamreport`, …), verified with the ECDSA key of
/// `notify.sendgrid_webhook_public_key`; each event is stored under its
/// `sg_event_id` before the answer and applied by a job.
#[utoipa::path(post, path = "/webhooks/sendgrid", tag = "webhooks",
    request_body(content = Object, content_type = "application/json"),
    responses((status = 200, body = WebhookAck), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn sendgrid_webhook(
    State(s): State<AppState>,
    headers: http::HeaderMap,
    body: bytes::Bytes,
) -> Result<Response, ApiError> {
    email_webhook(&s, "sendgrid", &headers, &body).await
}
