//! Payments at the edge: provider webhooks, the built-in test provider's
//! payment page, and refunds.

use super::{json, ok};
use crate::extract::{path_id, AdminAuth, Json};
use crate::problem::{ApiError, Problem};
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use bytes::Bytes;
use cielo_orders::{OrderAccess, OrderId};
use cielo_payments::inbox::{Received, WebhookError};
use cielo_payments::test_provider::{PageAction, PageOrder};
use cielo_payments::{RefundError, RefundOutcome, TestProvider};
use http::{header, HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(receive_webhook))
        .routes(routes!(test_checkout_page, test_checkout_action))
        .routes(routes!(create_refund))
}

fn service(s: &AppState) -> Result<&Arc<cielo_payments::Payments>, ApiError> {
    s.payments.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "payments-unavailable",
            "payments are not set up in this process",
        )
    })
}

/// A stored webhook.
#[derive(Serialize, ToSchema)]
pub(crate) struct WebhookAck {
    /// Always true: the event is stored (now or before).
    received: bool,
    /// True when the event had been received before (nothing was stored).
    duplicate: bool,
}

/// Receive a provider's webhook (`stripe`, `test`). The `Stripe-Signature`
/// header is verified on the raw body; a verified event is stored durably
/// before the answer, and processed by a job. A duplicate answers 200 too.
#[utoipa::path(post, path = "/webhooks/{provider}", tag = "webhooks", params(("provider" = String, Path, description = "`stripe` or `test`")),
    request_body(content = Object, content_type = "application/json"),
    responses((status = 200, body = WebhookAck), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn receive_webhook(
    State(s): State<AppState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let header = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    match service(&s)?
        .webhooks()
        .receive(&provider, header, &body)
        .await
    {
        Ok(r) => Ok(ok(&WebhookAck {
            received: true,
            duplicate: r == Received::Duplicate,
        })),
        Err(WebhookError::UnknownProvider(p)) => Err(ApiError::not_found(
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

async fn page_order(
    s: &AppState,
    session: &str,
) -> Result<(Arc<TestProvider>, cielo_orders::Order), ApiError> {
    let gone = || ApiError::not_found("payment-session-not-found", "no such payment session");
    let test = service(s)?.test_provider().cloned().ok_or_else(gone)?;
    let order_id: OrderId = test
        .order_for(session)
        .as_deref()
        .and_then(|o| o.parse().ok())
        .ok_or_else(gone)?;
    let order = s
        .orders
        .get_order(order_id, &OrderAccess::Admin)
        .await
        .map_err(|_| gone())?;
    if order.payment.session_id.as_deref() != Some(session) {
        return Err(gone());
    }
    Ok((test, order))
}

/// The built-in test provider's payment page: Pay, Decline, Cancel.
#[utoipa::path(get, path = "/checkout/test/{session_id}", tag = "system", params(("session_id" = String, Path)),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn test_checkout_page(
    State(s): State<AppState>,
    Path(session): Path<String>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Result<Response, ApiError> {
    let (_, order) = page_order(&s, &session).await?;
    let waiting = order.status == cielo_orders::OrderStatus::PendingPayment;
    // Back from a decline: say so, and let the buyer try again.
    let declined = waiting
        && form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .any(|(k, v)| k == "declined" && v == "1");
    let notice = if declined {
        "<div class=alert role=alert><strong>Your card was declined.</strong> \
         No money was taken; try again or press Cancel.</div>"
    } else {
        ""
    };
    let buttons = if waiting {
        "<form method=post class=pay-actions>\
         <button name=action value=pay class=primary>Pay</button>\
         <button name=action value=decline>Decline</button>\
         <button name=action value=cancel class=link>Cancel</button></form>"
    } else {
        "<p class=notice>This payment is closed.</p>"
    };
    // The shop's own look: its stylesheet and header (served by the pages
    // when they are mounted), no inline style or script.
    let page = format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <meta name=viewport content='width=device-width,initial-scale=1'>\
         <title>Test payment · {shop}</title>\
         <link rel=icon href='/static/favicon.svg' type='image/svg+xml'>\
         <link rel=stylesheet href='/static/app.css'></head><body>\
         <header class=top><div class='wrap bar'><a class=brand href='/'>\
         <svg aria-hidden=true width=22 height=22 viewBox='0 0 24 24'><path fill=currentColor \
         d='M12 2l2.6 6.9 7.4.3-5.8 4.6 2 7.2L12 16.9 5.8 21l2-7.2L2 9.2l7.4-.3z'/></svg>{shop}</a></div></header>\
         <main id=main class='wrap pay-page'><div class='card stack'>\
         <h1>Test payment</h1>\
         <p class=pay-total><span class=muted>Total to pay</span> <strong>{total}</strong></p>\
         <p>Order <code class=break>{id}</code> · {email}</p>\
         {notice}{buttons}\
         <p class='muted small'>The built-in <em>test</em> payment provider: no money moves. Its events reach \
         the shop as signed webhooks, like Stripe's.</p></div>\
         <p><a href='/'>Back to the shop</a></p></main></body></html>",
        shop = super::system::html_escape(&s.config.shop_name),
        id = order.id,
        email = super::system::html_escape(&order.email),
        total = crate::format::money_text(order.totals.total),
    );
    Ok(Html(page).into_response())
}

/// What the buyer pressed.
#[derive(Deserialize, ToSchema)]
pub(crate) struct PageForm {
    /// `pay`, `decline` or `cancel`.
    action: String,
}

/// A button on the test payment page: creates the provider's event, delivers
/// it as a signed webhook, and sends the buyer back to the shop.
#[utoipa::path(post, path = "/checkout/test/{session_id}", tag = "system", params(("session_id" = String, Path)),
    request_body(content = PageForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn test_checkout_action(
    State(s): State<AppState>,
    Path(session): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let form: PageForm = serde_urlencoded::from_bytes(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-form",
            format!("expected action=pay|decline|cancel: {e}"),
        )
    })?;
    let action = PageAction::parse(&form.action).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-form",
            "action must be pay, decline or cancel",
        )
    })?;
    let (test, order) = page_order(&s, &session).await?;
    let page = PageOrder {
        order_id: order.id.to_string(),
        session_id: session.clone(),
        amount: order.totals.total.amount,
        currency: order.totals.total.currency.code().to_string(),
        email: order.email.clone(),
    };
    test.act(&page, action).await.map_err(ApiError::internal)?;
    let base = &s.config.public_url;
    let to = match action {
        PageAction::Pay => format!("{base}/?order={}&paid=1", order.id),
        PageAction::Cancel => format!("{base}/?order={}&cancelled=1", order.id),
        PageAction::Decline => format!("{base}/checkout/test/{session}?declined=1"),
    };
    Ok((StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response())
}

/// A refund to make.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewRefund {
    /// Amount in minor units; omitted, everything not yet refunded.
    amount: Option<i64>,
    /// Why (at most 500 characters): kept in the order's history with who
    /// refunded.
    reason: Option<String>,
}

/// The refund made.
#[derive(Serialize, ToSchema)]
pub(crate) struct RefundView {
    /// The provider's refund id.
    refund_id: String,
    /// Refunded now, minor units.
    amount: i64,
    /// Refunded in total.
    total_refunded: i64,
    /// The provider's status.
    status: String,
}

impl From<RefundOutcome> for RefundView {
    fn from(r: RefundOutcome) -> Self {
        Self {
            refund_id: r.refund_id,
            amount: r.amount,
            total_refunded: r.total_refunded,
            status: r.status,
        }
    }
}

/// Refund all or part of an order's payment at the provider.
#[utoipa::path(post, path = "/api/admin/orders/{id}/refunds", tag = "admin", params(("id" = String, Path)), request_body = NewRefund,
    responses((status = 201, body = RefundView), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 502, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn create_refund(
    State(s): State<AppState>,
    a: AdminAuth,
    Path(id): Path<String>,
    Json(r): Json<NewRefund>,
) -> Result<Response, ApiError> {
    let order_id: OrderId = path_id(&id, "order-not-found")?;
    if r.reason.as_ref().is_some_and(|x| x.chars().count() > 500) {
        return Err(ApiError::validation(vec![cielo_core::FieldError::new(
            "reason",
            "must be at most 500 characters",
        )]));
    }
    // A bad amount is the request's fault whatever state the order is in.
    if r.amount.is_some_and(|a| a <= 0) {
        return Err(ApiError::validation(vec![cielo_core::FieldError::new(
            "amount",
            "must be at least 1 (minor units); omit it to refund what is left",
        )]));
    }
    let by = format!("admin:{}", a.0.customer_id);
    match service(&s)?
        .refund(&order_id.to_string(), r.amount, &by, r.reason.as_deref())
        .await
    {
        Ok(outcome) => Ok(json(StatusCode::CREATED, &RefundView::from(outcome))),
        Err(RefundError::OrderNotFound) => {
            Err(ApiError::not_found("order-not-found", "order not found"))
        }
        Err(RefundError::NotRefundable(m)) => {
            Err(ApiError::new(StatusCode::CONFLICT, "not-refundable", m))
        }
        Err(RefundError::InvalidAmount(m)) => {
            Err(ApiError::validation(vec![cielo_core::FieldError::new(
                "amount", m,
            )]))
        }
        Err(RefundError::Provider(cielo_payments::PaymentError::Declined(m))) => {
            Err(ApiError::new(StatusCode::CONFLICT, "refund-declined", m))
        }
        Err(RefundError::Provider(e)) => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "payment-provider-error",
            e.to_string(),
        )),
        Err(RefundError::Internal(e)) => Err(ApiError::internal(e)),
    }
}
