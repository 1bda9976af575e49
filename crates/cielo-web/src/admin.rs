//! The shop owner's admin: dashboard, orders, an order's actions, products,
//! jobs and dead letters. Every page needs the admin role: the admin API
//! refuses anyone else, and the page then asks to sign in.

use crate::account::signin_first;
use crate::session::Ctx;
use crate::store::{enc, query_string};
use crate::views::{message, redirect, render};
use crate::Web;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Non-admins see a sign-in link (not signed in) or a refusal.
pub(crate) async fn refuse(web: &Web, ctx: &Ctx, status: StatusCode) -> Response {
    if status == StatusCode::UNAUTHORIZED || ctx.caller.token.is_none() {
        return signin_first(ctx);
    }
    message(
        web,
        ctx,
        StatusCode::FORBIDDEN,
        "Admin",
        "This page is for the shop's admins.",
    )
    .await
}

/// Days of the chart.
const CHART_DAYS: i64 = 30;

/// Today's orders and revenue, a 30-day chart, orders needing attention,
/// dead jobs.
pub(crate) async fn dashboard(State(web): State<Web>, Extension(ctx): Extension<Ctx>) -> Response {
    let now = cielo_core::Timestamp::now();
    let now_s = now.to_string();
    let today = now_s.get(..10).unwrap_or("").to_string();
    let since_us = now.as_micros() - (CHART_DAYS - 1) * 86_400_000_000;
    let since = cielo_core::Timestamp::from_micros(since_us - since_us.rem_euclid(86_400_000_000));
    // Orders of the last 30 days, page by page (a busy shop would want a
    // summary endpoint; this reads at most 2,000 orders).
    let mut orders: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..20 {
        let qs = query_string(&[
            ("limit", Some("100")),
            ("from", Some(&since.to_string())),
            ("cursor", cursor.as_deref()),
        ]);
        let page = web
            .api
            .get(&ctx.caller, &format!("/api/admin/orders?{qs}"))
            .await;
        if !page.ok() {
            return refuse(&web, &ctx, page.status).await;
        }
        orders.extend(page.body["orders"].as_array().cloned().unwrap_or_default());
        cursor = page.body["next_cursor"].as_str().map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    let counted =
        |o: &&Value| !matches!(o["status"].as_str(), Some("pending_payment" | "cancelled"));
    let mut days: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for d in 0..CHART_DAYS {
        let t =
            cielo_core::Timestamp::from_micros(since.as_micros() + d * 86_400_000_000).to_string();
        days.insert(t[..10].to_string(), (0, 0));
    }
    let mut currency = None;
    for o in orders.iter().filter(counted) {
        let day = o["created_at"]
            .as_str()
            .and_then(|s| s.get(..10))
            .unwrap_or("");
        if let Some(e) = days.get_mut(day) {
            e.0 += 1;
            e.1 += o["total"]["amount"].as_i64().unwrap_or(0);
        }
        currency = currency.or_else(|| o["total"]["currency"].as_str().map(str::to_string));
    }
    let currency = currency.unwrap_or_else(|| "USD".into());
    let (today_orders, today_revenue) = days.get(&today).copied().unwrap_or((0, 0));
    let max_rev = days.values().map(|d| d.1).max().unwrap_or(0).max(1);
    let max_n = days.values().map(|d| d.0).max().unwrap_or(0).max(1);
    let bars: Vec<Value> = days
        .iter()
        .enumerate()
        .map(|(i, (day, (n, rev)))| {
            let h = (*rev as f64 / max_rev as f64 * 120.0).round() as i64;
            let y_n = 130 - (*n as f64 / max_n as f64 * 120.0).round() as i64;
            json!({"x": i * 20 + 4, "h": h, "y": 130 - h, "ny": y_n, "day": day, "n": n,
                   "revenue": {"amount": rev, "currency": currency}})
        })
        .collect();
    let attention = web
        .api
        .get(
            &ctx.caller,
            "/api/admin/orders?status=needs_attention&limit=20",
        )
        .await;
    let dead = web
        .api
        .get(&ctx.caller, "/api/admin/jobs/dead?limit=20")
        .await;
    // Operations (empty when this process runs no reconciliation).
    let findings = web
        .api
        .get(&ctx.caller, "/api/admin/ops/findings?state=open&limit=10")
        .await;
    let alerts = web.api.get(&ctx.caller, "/api/admin/ops/alerts").await;
    let alert_list = match &alerts.body {
        Value::Array(a) => a.clone(),
        v => v
            .get("alerts")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    };
    let firing: Vec<Value> = alert_list
        .into_iter()
        .filter(|a| a["state"] == "firing")
        .take(10)
        .collect();
    render(
        &web,
        &ctx,
        "admin_dashboard.html",
        json!({
            "section": "dashboard",
            "today_orders": today_orders,
            "today_revenue": {"amount": today_revenue, "currency": currency},
            "month_orders": days.values().map(|d| d.0).sum::<i64>(),
            "month_revenue": {"amount": days.values().map(|d| d.1).sum::<i64>(), "currency": currency},
            "bars": bars,
            "attention": attention.body["orders"].clone(),
            "dead": dead.body["jobs"].clone(),
            "findings": if findings.ok() { findings.body.clone() } else { json!([]) },
            "firing": firing,
        }),
    )
    .await
}

/// Order list filters.
#[derive(Debug, Deserialize, Default)]
pub(crate) struct OrderFilters {
    status: Option<String>,
    from: Option<String>,
    to: Option<String>,
    email: Option<String>,
    number: Option<String>,
    lab: Option<String>,
    cursor: Option<String>,
}

pub(crate) async fn orders(
    State(web): State<Web>,
    Extension(ctx): Extension<Ctx>,
    Query(f): Query<OrderFilters>,
) -> Response {
    // Dates go to the API as typed: it reads a date input's `YYYY-MM-DD`
    // and refuses anything else naming the field, and the page shows why.
    let from = f.from.as_deref().map(str::trim).filter(|d| !d.is_empty());
    let to = f.to.as_deref().map(str::trim).filter(|d| !d.is_empty());
    let qs = query_string(&[
        ("limit", Some("25")),
        ("status", f.status.as_deref()),
        ("from", from),
        ("to", to),
        (
            "email",
            f.email.as_deref().map(str::trim).filter(|e| !e.is_empty()),
        ),
        (
            "number",
            f.number.as_deref().map(str::trim).filter(|n| !n.is_empty()),
        ),
        ("lab", f.lab.as_deref().filter(|l| !l.is_empty())),
        ("cursor", f.cursor.as_deref()),
    ]);
    let page = web
        .api
        .get(&ctx.caller, &format!("/api/admin/orders?{qs}"))
        .await;
    if page.status == StatusCode::UNAUTHORIZED || page.status == StatusCode::FORBIDDEN {
        return refuse(&web, &ctx, page.status).await;
    }
    // The API stops at the first wrong filter: each filter is asked about on
    // its own (and the two dates together) so that every mistake is said
    // beside its field at once, by the API's own rules.
    let mut filter_errors = Map::new();
    if page.status == StatusCode::UNPROCESSABLE_ENTITY {
        let alone: Vec<String> = [
            ("status", f.status.as_deref()),
            ("from", from),
            ("to", to),
            ("email", f.email.as_deref().map(str::trim)),
            ("number", f.number.as_deref().map(str::trim)),
            ("lab", f.lab.as_deref()),
            ("cursor", f.cursor.as_deref()),
        ]
        .iter()
        .filter(|(_, v)| v.is_some_and(|v| !v.is_empty()))
        .map(|(k, v)| query_string(&[("limit", Some("1")), (k, *v)]))
        .chain(
            (from.is_some() && to.is_some())
                .then(|| query_string(&[("limit", Some("1")), ("from", from), ("to", to)])),
        )
        .collect();
        for q in alone {
            let r = web
                .api
                .get(&ctx.caller, &format!("/api/admin/orders?{q}"))
                .await;
            for (k, v) in r.field_errors() {
                let text = filter_sentence(&k, v.as_str().unwrap_or(""));
                filter_errors.entry(k).or_insert(json!(text));
            }
        }
        for (k, v) in page.field_errors() {
            let text = filter_sentence(&k, v.as_str().unwrap_or(""));
            filter_errors.entry(k).or_insert(json!(text));
        }
    }
    let next = page.body["next_cursor"].as_str().map(|c| {
        format!(
            "/admin/orders?{}",
            query_string(&[
                ("status", f.status.as_deref()),
                ("from", f.from.as_deref()),
                ("to", f.to.as_deref()),
                ("email", f.email.as_deref()),
                ("number", f.number.as_deref()),
                ("lab", f.lab.as_deref()),
                ("cursor", Some(c)),
            ])
        )
    });
    render(
        &web,
        &ctx,
        "admin_orders.html",
        json!({
            "section": "orders",
            "orders": page.body["orders"].clone(),
            "error": (!page.ok()).then(|| if filter_errors.is_empty() {
                page.detail()
            } else {
                "Some filters are not right; see beside each field.".to_string()
            }),
            "errors": filter_errors,
            "f": {"status": f.status, "from": f.from, "to": f.to, "email": f.email, "number": f.number, "lab": f.lab},
            "labs": [["local", "Local lab"], ["printful", "Printful"], ["prodigi", "Prodigi"],
                     ["none", "No lab: parcels the shop ships"], ["digital", "No lab: digital downloads"]],
            "next": next,
            "statuses": ["pending_payment", "paid", "in_production", "shipped", "delivered",
                         "cancelled", "refunded", "partially_refunded", "needs_attention"],
        }),
    )
    .await
}

/// An order-list filter the API refused, as a sentence for the filter's
/// field (`from`: the date is no day) — never the API's wording.
fn filter_sentence(field: &str, detail: &str) -> String {
    match field {
        "status" => "Choose a status from the list.".into(),
        "from" => "Enter the “From” day as a real date, like 2026-11-21.".into(),
        "to" if detail.contains("after") => "“Before” must be a later day than “From”.".into(),
        "to" => "Enter the “Before” day as a real date, like 2026-11-21.".into(),
        "number" => {
            "Enter an order number like #3F3CBECF (8 letters and digits, 0–9 and A–F).".into()
        }
        "email" => "Enter an email address like name@example.com.".into(),
        "lab" => "Choose a lab from the list.".into(),
        "cursor" => "This page link is out of date: filter again.".into(),
        _ => "One of the filters is not right: filter again.".into(),
    }
}

pub(crate) async fn order(
    State(web): State<Web>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let o = web
        .api
        .get(&ctx.caller, &format!("/api/admin/orders/{}", enc(&id)))
        .await;
    if o.status == StatusCode::UNAUTHORIZED || o.status == StatusCode::FORBIDDEN {
        return refuse(&web, &ctx, o.status).await;
    }
    if !o.ok() {
        return message(&web, &ctx, StatusCode::NOT_FOUND, "Order", &o.detail()).await;
    }
    let labs = web
        .api
        .get(
            &ctx.caller,
            &format!("/api/admin/orders/{}/lab-orders", enc(&id)),
        )
        .await;
    let messages = web
        .api
        .get(
            &ctx.caller,
            &format!(
                "/api/admin/notifications/messages?limit=50&order_id={}",
                enc(&id)
            ),
        )
        .await;
    render(
        &web,
        &ctx,
        "admin_order.html",
        json!({
            "section": "orders",
            "actions": order_actions(&o.body),
            "order": o.body,
            "lab_orders": if labs.ok() { labs.body } else { json!([]) },
            "messages": messages.body.get("messages").cloned().unwrap_or(json!([])),
            "notice": q.get("notice"),
            "error": q.get("error"),
        }),
    )
    .await
}

/// Amount typed as `12.50` (or `12,50`, as Spanish writes it; `$12.50`)
/// in the order's currency → minor units; none unless above zero.
fn minor_units(text: &str, exponent: u32) -> Option<i64> {
    crate::products::parse_money(text, exponent).filter(|v| *v > 0)
}

/// The statuses from which each action of the order page is accepted, as
/// the orders domain decides (`cielo_flows`: `mark_shipped`,
/// `mark_delivered`, `resolve`; the transition table for refunds): the
/// page shows an action only where it can apply.
fn order_actions(order: &Value) -> Value {
    let status = order["status"].as_str().unwrap_or("");
    let refundable = matches!(
        status,
        "paid"
            | "in_production"
            | "shipped"
            | "delivered"
            | "partially_refunded"
            | "needs_attention"
    );
    let shipped_lines: Vec<&Value> = order["shipments"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["line_ids"].as_array().into_iter().flatten())
        .collect();
    // Lines the shop sends itself (no lab, not a download) not shipped yet.
    let to_ship = order["lines"].as_array().into_iter().flatten().any(|l| {
        l["lab"].is_null() && l["delivery"] != "digital" && !shipped_lines.contains(&&l["id"])
    });
    let can_ship = to_ship
        && matches!(
            status,
            "paid" | "in_production" | "shipped" | "partially_refunded" | "needs_attention"
        );
    let has_shipment = order["shipments"].as_array().is_some_and(|a| !a.is_empty());
    let can_deliver = has_shipment
        && matches!(
            status,
            "in_production" | "shipped" | "partially_refunded" | "needs_attention"
        );
    let attention = status == "needs_attention";
    json!({
        "refund": refundable,
        "ship": can_ship,
        "deliver": can_deliver,
        "resolve": attention,
        "cancel": attention,
        "any": refundable || can_ship || can_deliver || attention,
    })
}

/// What the order page says once an action is done.
fn done_sentence(action: &str, order: &Value, lang: crate::i18n::Lang) -> String {
    let now = lang.t(&format!(
        "status_{}",
        order["status"].as_str().unwrap_or("")
    ));
    let now = if now.is_empty() {
        String::new()
    } else {
        format!(" It is now “{now}”.")
    };
    match action {
        "refund" => format!("The refund was made.{now}"),
        "resend" => "The message was sent again.".into(),
        "shipped" => format!("The parcel was recorded as shipped.{now}"),
        "delivered" => format!("The order was marked delivered.{now}"),
        "resolve" => format!("The order was moved.{now}"),
        "cancel" => "The order was cancelled.".into(),
        "resubmit" => "The lab order was sent to the lab again.".into(),
        "cancel-lab" => "The lab order was cancelled.".into(),
        _ => "Done.".into(),
    }
}

/// An action the API refused, in words for the shop's staff: the order's
/// status by its label, amounts in the order's currency as the refund
/// field takes them, never the API's status names or minor units.
fn refusal_sentence(
    action: &str,
    r: &crate::api::Answer,
    order: &Value,
    lang: crate::i18n::Lang,
) -> String {
    let detail = r.detail();
    let status = order["status"].as_str().unwrap_or("");
    let label = lang.t(&format!("status_{status}"));
    let label = if label.is_empty() { status } else { label };
    let currency = order["totals"]["total"]["currency"]
        .as_str()
        .and_then(|c| cielo_core::Currency::parse(c).ok());
    let money = |minor: i64| match currency {
        Some(c) => cielo_notify::format::money(cielo_core::Money::new(minor, c), lang.code()),
        None => minor.to_string(),
    };
    match action {
        "refund" => {
            if let Some((_, rest)) = detail.split_once("between 1 and ") {
                let most: String = rest.chars().take_while(char::is_ascii_digit).collect();
                if let Ok(most) = most.parse::<i64>() {
                    return format!(
                        "The amount must be between {} and {}, what is left of the payment. Nothing was refunded.",
                        money(1),
                        money(most)
                    );
                }
            }
            if detail.contains("refunded in full") {
                return "The payment is refunded in full already.".into();
            }
            format!("The refund was not made: {}", detail.trim_end_matches('.')) + "."
        }
        "resolve" | "cancel" if r.status == StatusCode::CONFLICT => format!(
            "This order is “{label}”: only an order that needs attention can be {} here.",
            if action == "cancel" {
                "cancelled"
            } else {
                "moved"
            }
        ),
        "shipped" if r.status == StatusCode::CONFLICT => {
            format!("This order is “{label}”: only a paid order can be marked shipped.")
        }
        "shipped" if r.field_errors().contains_key("line_ids") => {
            "Every line the shop sends itself has shipped already (a lab ships the others).".into()
        }
        "shipped" => {
            let missing: Vec<String> = r
                .field_errors()
                .keys()
                .map(|k| k.replace('_', " "))
                .collect();
            format!("Fill in the {} of the parcel.", missing.join(" and "))
        }
        "delivered" if detail.contains("no shipment") => {
            "This order has no shipment yet: mark it shipped first.".into()
        }
        "delivered" => format!("This order is “{label}”: it cannot be marked delivered."),
        _ => format!("This was not done: {}", detail.trim_end_matches('.')) + ".",
    }
}

/// The order page's forms: `refund`, `resolve`, `shipped`, `delivered`,
/// `cancel`, `resubmit`, `cancel-lab`, `resend` (a notification).
pub(crate) async fn order_action(
    State(web): State<Web>,
    Extension(ctx): Extension<Ctx>,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    let base = format!("/api/admin/orders/{}", enc(&id));
    let note = ctx.text("note");
    let (path, body) = match action.as_str() {
        "refund" => {
            let exponent = ctx
                .text("currency")
                .and_then(|c| cielo_core::Currency::parse(&c).ok())
                .map_or(2, |c| c.exponent());
            let reason = ctx.text("reason");
            match ctx.text("amount") {
                None => (format!("{base}/refunds"), json!({"reason": reason})),
                Some(a) => match minor_units(&a, exponent) {
                    Some(v) => (
                        format!("{base}/refunds"),
                        json!({"amount": v, "reason": reason}),
                    ),
                    None => {
                        return redirect(
                            &format!(
                                "/admin/orders/{}?error={}",
                                enc(&id),
                                enc("Enter the amount to refund like 12.50 (or 12,50), above zero, or leave it empty to refund what is left.")
                            ),
                            &[],
                        )
                    }
                },
            }
        }
        "resolve" => (
            format!("{base}/resolve"),
            json!({"status": ctx.text("status").unwrap_or_default(), "note": note}),
        ),
        "cancel" => (
            format!("{base}/resolve"),
            json!({"status": "cancelled", "note": note.or(Some("cancelled by the shop".into()))}),
        ),
        "shipped" => {
            let mut b = json!({
                "carrier": ctx.text("carrier").unwrap_or_default(),
                "tracking_number": ctx.text("tracking_number").unwrap_or_default(),
            });
            if let Some(u) = ctx.text("tracking_url") {
                b["tracking_url"] = json!(u);
            }
            (format!("{base}/shipments"), b)
        }
        "delivered" => (format!("{base}/delivered"), json!({"note": note})),
        "resend" => {
            let message = ctx.text("message_id").unwrap_or_default();
            (
                format!("/api/admin/notifications/messages/{}/resend", enc(&message)),
                json!({"reason": note}),
            )
        }
        "resubmit" | "cancel-lab" => {
            let lab = ctx.text("lab_order_id").unwrap_or_default();
            let verb = if action == "resubmit" {
                "resubmit"
            } else {
                "cancel"
            };
            (
                format!("{base}/lab-orders/{}/{verb}", enc(&lab)),
                json!({"note": note}),
            )
        }
        _ => return redirect(&format!("/admin/orders/{}", enc(&id)), &[]),
    };
    let r = web
        .api
        .call(&ctx.caller, Method::POST, &path, Some(&body), &[])
        .await;
    if r.status == StatusCode::UNAUTHORIZED || r.status == StatusCode::FORBIDDEN {
        return refuse(&web, &ctx, r.status).await;
    }
    // The order as it is now, to say what happened in its words.
    let order = web.api.get(&ctx.caller, &base).await.body;
    let outcome = if r.ok() {
        format!("notice={}", enc(&done_sentence(&action, &order, ctx.lang)))
    } else {
        format!(
            "error={}",
            enc(&refusal_sentence(&action, &r, &order, ctx.lang))
        )
    };
    redirect(&format!("/admin/orders/{}?{outcome}", enc(&id)), &[])
}

pub(crate) async fn products(State(web): State<Web>, Extension(ctx): Extension<Ctx>) -> Response {
    let p = web
        .api
        .get(&ctx.caller, "/api/admin/products?limit=100")
        .await;
    if !p.ok() {
        return refuse(&web, &ctx, p.status).await;
    }
    render(
        &web,
        &ctx,
        "admin_products.html",
        json!({"section": "products", "products": p.body["products"].clone()}),
    )
    .await
}

pub(crate) async fn jobs(
    State(web): State<Web>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let dead = web
        .api
        .get(&ctx.caller, "/api/admin/jobs/dead?limit=100")
        .await;
    if !dead.ok() {
        return refuse(&web, &ctx, dead.status).await;
    }
    let stats = web.api.get(&ctx.caller, "/api/admin/jobs/stats").await;
    render(
        &web,
        &ctx,
        "admin_jobs.html",
        json!({
            "section": "jobs",
            "dead": dead.body["jobs"].clone(),
            "stats": stats.body,
            "notice": q.get("notice"),
            "error": q.get("error"),
        }),
    )
    .await
}

/// The email and SMS outbox (demo mode: what the shop would have sent).
pub(crate) async fn outbox(State(web): State<Web>, Extension(ctx): Extension<Ctx>) -> Response {
    let files = web
        .api
        .get(&ctx.caller, "/api/admin/notifications/outbox")
        .await;
    if files.status == StatusCode::UNAUTHORIZED || files.status == StatusCode::FORBIDDEN {
        return refuse(&web, &ctx, files.status).await;
    }
    let messages = web
        .api
        .get(&ctx.caller, "/api/admin/notifications/messages?limit=50")
        .await;
    let suppressed = web
        .api
        .get(
            &ctx.caller,
            "/api/admin/notifications/suppressions?limit=100",
        )
        .await;
    render(
        &web,
        &ctx,
        "admin_outbox.html",
        json!({
            "section": "notifications",
            "error": (!files.ok()).then(|| files.detail()),
            "files": if files.ok() { files.body } else { json!([]) },
            "messages": messages.body.get("messages").cloned().unwrap_or(json!([])),
            "suppressed": if suppressed.ok() { suppressed.body } else { json!([]) },
        }),
    )
    .await
}

/// One outbox file, as text (the browser shows an `.eml` as its source).
pub(crate) async fn outbox_file(
    State(web): State<Web>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> Response {
    let (status, _, bytes) = web
        .api
        .get_raw(
            &ctx.caller,
            &format!("/api/admin/notifications/outbox/{}", enc(&name)),
        )
        .await;
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return refuse(&web, &ctx, status).await;
    }
    if !status.is_success() {
        return message(&web, &ctx, StatusCode::NOT_FOUND, "Outbox", "No such file.").await;
    }
    (
        [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        bytes,
    )
        .into_response()
}

/// A line's artwork: a fresh signed link, followed.
pub(crate) async fn artwork(
    State(web): State<Web>,
    Extension(ctx): Extension<Ctx>,
    Path((id, line)): Path<(String, String)>,
) -> Response {
    let a = web
        .api
        .get(
            &ctx.caller,
            &format!(
                "/api/admin/orders/{}/lines/{}/artwork",
                enc(&id),
                enc(&line)
            ),
        )
        .await;
    if a.status == StatusCode::UNAUTHORIZED || a.status == StatusCode::FORBIDDEN {
        return refuse(&web, &ctx, a.status).await;
    }
    match a.body.get("url").and_then(Value::as_str) {
        Some(url) if a.ok() => redirect(url, &[]),
        _ => message(&web, &ctx, StatusCode::NOT_FOUND, "Artwork", &a.detail()).await,
    }
}

pub(crate) async fn retry_job(
    State(web): State<Web>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Response {
    let r = web
        .api
        .call(
            &ctx.caller,
            Method::POST,
            &format!("/api/admin/jobs/{}/retry", enc(&id)),
            None,
            &[],
        )
        .await;
    if r.status == StatusCode::UNAUTHORIZED || r.status == StatusCode::FORBIDDEN {
        return refuse(&web, &ctx, r.status).await;
    }
    let outcome = if r.ok() {
        format!("notice={}", enc(&format!("Job {id} is queued again.")))
    } else {
        format!("error={}", enc(&r.detail()))
    };
    redirect(&format!("/admin/jobs?{outcome}"), &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_amounts_become_minor_units() {
        assert_eq!(minor_units("12.5", 2), Some(1250));
        assert_eq!(minor_units("12", 2), Some(1200));
        assert_eq!(minor_units(".99", 2), Some(99));
        assert_eq!(minor_units("1200", 0), Some(1200));
        assert_eq!(minor_units("1.234", 2), None);
        assert_eq!(minor_units("0", 2), None);
        assert_eq!(minor_units("abc", 2), None);
        assert_eq!(minor_units("-3", 2), None);
        assert_eq!(minor_units("10,50", 2), Some(1050), "a comma decimal");
        assert_eq!(minor_units("$10.50", 2), Some(1050));
    }
}
