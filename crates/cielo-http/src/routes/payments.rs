//! Payments at the edge: provider webhooks, the built-in test provider's
//! payment page, refunds, and the signed-in customer's saved cards.

use super::{json, ok};
use crate::extract::{path_id, AdminAuth, CustomerAuth, Json};
use crate::problem::{ApiError, Problem};
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use bytes::Bytes;
use cielo_orders::{OrderAccess, OrderId};
use cielo_payments::inbox::{Received, WebhookError};
use cielo_payments::test_provider::{PageAction, PageOrder, TestCard};
use cielo_payments::{
    PaymentError, PaymentProvider, RefundError, RefundOutcome, SavedCard, TestProvider,
};
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
        .routes(routes!(list_payment_methods))
        .routes(routes!(delete_payment_method))
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
    let (test, order) = page_order(&s, &session).await?;
    let waiting = order.status == cielo_orders::OrderStatus::PendingPayment;
    // Back from a decline: say so, and let the buyer try again.
    let declined = waiting
        && form_urlencoded::parse(query.as_deref().unwrap_or_default().as_bytes())
            .any(|(k, v)| k == "declined" && v == "1");
    // Back from a typing mistake in the card: say what to fix.
    let invalid = if waiting {
        form_urlencoded::parse(query.as_deref().unwrap_or_default().as_bytes())
            .find(|(k, _)| k == "invalid")
            .map(|(_, v)| v.into_owned())
    } else {
        None
    };
    let notice = if declined {
        "<div class=alert role=alert><strong>Your card was declined.</strong> \
         No money was taken; try again or press Cancel.</div>"
    } else {
        match invalid.as_deref() {
            Some("expiry") => {
                "<div class=alert role=alert><strong>Check the expiry date.</strong> \
                 It reads MM/YY, for example 12/34, and must not be in the past. \
                 No money was taken.</div>"
            }
            Some(_) => {
                "<div class=alert role=alert><strong>Check the card number.</strong> \
                 It has 12 to 19 digits and a valid check digit, for example \
                 4242 4242 4242 4242. No money was taken.</div>"
            }
            None => "",
        }
    };
    let form = if waiting {
        // A signed-in buyer's session has a customer: offer to save the card,
        // and the cards saved before as a choice (as Stripe Checkout does).
        let customer = test
            .session_customer(&session)
            .await
            .map_err(ApiError::internal)?;
        let saved = match &customer {
            Some(c) => test.list_cards(c).await.map_err(ApiError::internal)?,
            None => Vec::new(),
        };
        // With saved cards, the number and expiry belong to the "a new card"
        // choice: inside it, named for it, and hidden by the stylesheet while
        // a saved card is chosen (`:has`, no script needed).
        let new_card = format!(
            "<div class=row><div class=field><label for=card_number>{card_label}</label>\
             <input id=card_number name=card_number inputmode=numeric autocomplete=cc-number value='{number}'></div>\
             <div class=field><label for=card_expiry>Expiry (MM/YY)</label>\
             <input id=card_expiry name=card_expiry autocomplete=cc-exp value='{expiry}'></div></div>{save}",
            card_label = if saved.is_empty() { "Card number" } else { "New card number" },
            number = TestCard::DEFAULT_NUMBER,
            expiry = TestCard::DEFAULT_EXPIRY,
            save = if customer.is_some() {
                "<div class='field check'><input id=save_card name=save_card type=checkbox value=1> \
                 <label for=save_card>Save this card for next time</label></div>"
            } else {
                ""
            },
        );
        format!(
            "<form method=post class=stack>{choice}\
             <div class=pay-actions><button name=action value=pay class=primary>Pay</button>\
             <button name=action value=decline>Decline</button>\
             <button name=action value=cancel class=link>Cancel</button></div></form>",
            choice = saved_card_choice(&saved, &new_card, invalid.is_some()),
        )
    } else {
        "<p class=notice>This payment is closed.</p>".to_string()
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
         <p>Order <strong>{number}</strong> · {email}</p>\
         {notice}{form}\
         <p class='muted small'>The built-in <em>test</em> payment provider: no money moves. Its events reach \
         the shop as signed webhooks, like Stripe's.</p></div>\
         <p><a href='/'>Back to the shop</a></p></main></body></html>",
        shop = super::system::html_escape(&s.config.shop_name),
        number = order.id.number(),
        email = super::system::html_escape(&order.email),
        total = crate::format::money_text(order.totals.total),
    );
    Ok(Html(page).into_response())
}

/// The saved cards as radio buttons (the first chosen, or "a new card" when
/// the new card's number was mistyped), and "a new card" holding `new_card`
/// (its number and expiry fields); only `new_card` when there are none.
fn saved_card_choice(saved: &[SavedCard], new_card: &str, new_chosen: bool) -> String {
    if saved.is_empty() {
        return new_card.to_string();
    }
    let cards: String = saved
        .iter()
        .enumerate()
        .map(|(i, c)| {
            format!(
                "<div class='field check'><input id=card-{i} type=radio name=card value='{id}'{checked}> \
                 <label for=card-{i}>{brand} •••• {last4} <span class=muted>{month:02}/{year:02}</span></label></div>",
                id = super::system::html_escape(&c.id),
                checked = if i == 0 && !new_chosen { " checked" } else { "" },
                brand = super::system::html_escape(&cielo_payments::card_brand_name(&c.brand)),
                last4 = super::system::html_escape(&c.last4),
                month = c.exp_month,
                year = c.exp_year % 100,
            )
        })
        .collect();
    format!(
        "<fieldset class=pay-with><legend>Pay with</legend>{cards}\
         <div class='field check'><input id=card-new type=radio name=card value=new{new_checked} aria-controls=new-card> \
         <label for=card-new>A new card <span class=muted>(enter it below; the fields are used only for a new card)</span></label></div>\
         <div class=new-card id=new-card>{new_card}</div></fieldset>",
        new_checked = if new_chosen { " checked" } else { "" },
    )
}

/// What the buyer pressed, and with which card.
#[derive(Deserialize, ToSchema)]
pub(crate) struct PageForm {
    /// `pay`, `decline` or `cancel`.
    action: String,
    /// A saved card's id, or `new` (the default) for the number typed.
    card: Option<String>,
    /// A test card number (spaces allowed); blank: 4242 4242 4242 4242.
    card_number: Option<String>,
    /// `MM/YY`; blank: 12/34.
    card_expiry: Option<String>,
    /// `1` to save the new card for the session's customer (signed-in
    /// buyers only; ignored otherwise).
    save_card: Option<String>,
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
    let invalid = |m: String| ApiError::new(StatusCode::BAD_REQUEST, "invalid-form", m);
    // The card: one of the customer's saved cards, or the one typed in.
    let customer = test
        .session_customer(&session)
        .await
        .map_err(ApiError::internal)?;
    let mut to_save = None;
    let mut action = action;
    if action == PageAction::Pay {
        match form.card.as_deref().filter(|c| *c != "new") {
            Some(card) => {
                let theirs = match &customer {
                    Some(c) => test.list_cards(c).await.map_err(ApiError::internal)?,
                    None => Vec::new(),
                };
                if !theirs.iter().any(|c| c.id == card) {
                    return Err(invalid("no such saved card for this payment".into()));
                }
            }
            None => {
                let typed = match TestCard::parse(
                    form.card_number.as_deref().unwrap_or_default(),
                    form.card_expiry.as_deref().unwrap_or_default(),
                ) {
                    Ok(card) => card,
                    // A typing mistake: the page again, saying what to fix
                    // (a browser would show a problem document as raw JSON).
                    Err(m) => {
                        let which = if m.contains("expiry") {
                            "expiry"
                        } else {
                            "number"
                        };
                        let to = format!(
                            "{}/checkout/test/{session}?invalid={which}",
                            s.config.public_url
                        );
                        return Ok(
                            (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
                        );
                    }
                };
                // Stripe's test cards that are declined (4000 0000 0000 0002
                // and kin): as the Decline button, nothing paid or saved.
                if let Some(code) = cielo_payments::test_provider::decline_code(
                    form.card_number.as_deref().unwrap_or_default(),
                ) {
                    tracing::info!(decline_code = code, "test card declined");
                    action = PageAction::Decline;
                } else if form.save_card.as_deref() == Some("1") {
                    // A guest's session has no customer: nothing to save to.
                    to_save = customer.clone().map(|c| (c, typed));
                }
            }
        }
    }
    let page = PageOrder {
        order_id: order.id.to_string(),
        session_id: session.clone(),
        amount: order.totals.total.amount,
        currency: order.totals.total.currency.code().to_string(),
        email: order.email.clone(),
    };
    test.act(&page, action).await.map_err(ApiError::internal)?;
    // Saved once the payment went through, as Checkout saves it.
    if let Some((customer, card)) = to_save {
        test.save_card(&session, &customer, &card)
            .await
            .map_err(ApiError::internal)?;
    }
    // Back to the order with its access link, as Checkout's success and
    // cancel URLs: the buyer may pay in another browser than the one that
    // checked out.
    let to = match action {
        PageAction::Pay => s.orders.return_urls(order.id).await?.success,
        PageAction::Cancel => s.orders.return_urls(order.id).await?.cancel,
        PageAction::Decline => {
            format!("{}/checkout/test/{session}?declined=1", s.config.public_url)
        }
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

/// A saved card, as the account shows it: never the number.
#[derive(Serialize, ToSchema)]
pub(crate) struct PaymentMethodView {
    /// The provider's id (`pm_…`): what `DELETE` takes.
    id: String,
    /// `visa`, `mastercard`, `amex`, … (the provider's brand names).
    brand: String,
    /// The last four digits.
    last4: String,
    /// Expiry month, 1–12.
    exp_month: u32,
    /// Expiry year, four digits.
    exp_year: u32,
}

/// The signed-in customer's saved cards.
#[derive(Serialize, ToSchema)]
pub(crate) struct PaymentMethodList {
    /// Oldest first.
    payment_methods: Vec<PaymentMethodView>,
}

fn saved_cards(s: &AppState) -> Result<&cielo_payments::SavedCards, ApiError> {
    service(s)?.saved_cards().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "payments-unavailable",
            "saved cards are not set up in this process",
        )
    })
}

fn provider_error(e: PaymentError) -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "payment-provider-error",
        e.to_string(),
    )
}

/// The cards the signed-in customer saved at checkout (ticking "save this
/// card" on the payment page), oldest first: brand, last four digits and
/// expiry. Empty before the account's first checkout.
#[utoipa::path(get, path = "/api/store/me/payment-methods", tag = "account",
    responses((status = 200, body = PaymentMethodList), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 502, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn list_payment_methods(
    State(s): State<AppState>,
    CustomerAuth(p): CustomerAuth,
) -> Result<Response, ApiError> {
    let cards = saved_cards(&s)?
        .list(&p.customer_id.to_string())
        .await
        .map_err(provider_error)?;
    Ok(ok(&PaymentMethodList {
        payment_methods: cards
            .into_iter()
            .map(|c| PaymentMethodView {
                id: c.id,
                brand: c.brand,
                last4: c.last4,
                exp_month: c.exp_month,
                exp_year: c.exp_year,
            })
            .collect(),
    }))
}

/// Remove a saved card (detached from the customer at the provider). 404 for
/// an unknown id or another customer's card, which stays as it is.
#[utoipa::path(delete, path = "/api/store/me/payment-methods/{id}", tag = "account", params(("id" = String, Path, description = "The card's id (`pm_…`)")),
    responses((status = 204), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 502, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn delete_payment_method(
    State(s): State<AppState>,
    CustomerAuth(p): CustomerAuth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let removed = saved_cards(&s)?
        .remove(&p.customer_id.to_string(), &id)
        .await
        .map_err(provider_error)?;
    if removed {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found(
            "payment-method-not-found",
            "no such saved card",
        ))
    }
}
