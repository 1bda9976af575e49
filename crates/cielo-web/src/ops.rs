//! The admin's operations panels: reconciliation findings (list, only the
//! open ones, resolve with a note, run a pass now) and alerts.

use crate::admin::refuse;
use crate::session::Ctx;
use crate::store::{enc, query_string};
use crate::views::{redirect, render};
use crate::Web;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Extension;
use http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

/// The findings list's filter.
#[derive(Debug, Deserialize, Default)]
pub(crate) struct FindingFilter {
    /// `open` (the default), `fixed`, `resolved` or `all`.
    state: Option<String>,
    notice: Option<String>,
    error: Option<String>,
}

/// `GET /admin/findings`.
pub(crate) async fn findings(
    State(web): State<Web>,
    Extension(ctx): Extension<Ctx>,
    Query(f): Query<FindingFilter>,
) -> Response {
    let state = f.state.clone().unwrap_or_else(|| "open".into());
    let api_state = (state != "all").then_some(state.as_str());
    let qs = query_string(&[("state", api_state), ("limit", Some("200"))]);
    let list = web
        .api
        .get(&ctx.caller, &format!("/api/admin/ops/findings?{qs}"))
        .await;
    if list.status == StatusCode::UNAUTHORIZED || list.status == StatusCode::FORBIDDEN {
        return refuse(&web, &ctx, list.status).await;
    }
    // Both sides' facts, as indented JSON to read.
    let mut items = if list.ok() {
        list.body.as_array().cloned().unwrap_or_default()
    } else {
        Vec::new()
    };
    for f in &mut items {
        for side in ["ours", "theirs"] {
            let text = serde_json::to_string_pretty(&f[side]).unwrap_or_default();
            f[format!("{side}_text")] = json!(text);
        }
    }
    render(
        &web,
        &ctx,
        "admin_findings.html",
        json!({
            "section": "findings",
            "findings": items,
            "state": state,
            "states": ["open", "fixed", "resolved", "all"],
            "notice": f.notice,
            "error": f.error.or_else(|| (!list.ok()).then(|| list.detail())),
        }),
    )
    .await
}

fn back(state: Option<String>, outcome: (&str, &str)) -> String {
    format!(
        "/admin/findings?{}",
        query_string(&[("state", state.as_deref()), (outcome.0, Some(outcome.1))])
    )
}

/// `POST /admin/findings/{id}/resolve`: a note is required (the API says
/// so when it is empty).
pub(crate) async fn resolve(
    State(web): State<Web>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Response {
    let note = ctx.field("note").unwrap_or("").to_string();
    let r = web
        .api
        .call(
            &ctx.caller,
            Method::POST,
            &format!("/api/admin/ops/findings/{}/resolve", enc(&id)),
            Some(&json!({ "note": note })),
            &[],
        )
        .await;
    if r.status == StatusCode::UNAUTHORIZED || r.status == StatusCode::FORBIDDEN {
        return refuse(&web, &ctx, r.status).await;
    }
    let state = ctx.text("state");
    if r.ok() {
        redirect(&back(state, ("notice", &format!("{id} resolved"))), &[])
    } else {
        redirect(
            &back(state, ("error", &format!("{id}: {}", r.detail()))),
            &[],
        )
    }
}

/// `POST /admin/findings/reconcile`: a reconciliation pass now.
pub(crate) async fn reconcile(State(web): State<Web>, Extension(ctx): Extension<Ctx>) -> Response {
    let r = web
        .api
        .call(
            &ctx.caller,
            Method::POST,
            "/api/admin/ops/reconcile",
            None,
            &[],
        )
        .await;
    if r.status == StatusCode::UNAUTHORIZED || r.status == StatusCode::FORBIDDEN {
        return refuse(&web, &ctx, r.status).await;
    }
    if r.ok() {
        redirect(&back(None, ("notice", "reconciliation pass done")), &[])
    } else {
        redirect(&back(None, ("error", &r.detail())), &[])
    }
}

/// `GET /admin/alerts`: every firing of an alert rule, newest first.
pub(crate) async fn alerts(State(web): State<Web>, Extension(ctx): Extension<Ctx>) -> Response {
    let list = web.api.get(&ctx.caller, "/api/admin/ops/alerts").await;
    if list.status == StatusCode::UNAUTHORIZED || list.status == StatusCode::FORBIDDEN {
        return refuse(&web, &ctx, list.status).await;
    }
    // The list is an array, or an object holding one (`{"alerts": [...]}`).
    let items = match &list.body {
        Value::Array(_) => list.body.clone(),
        v => v.get("alerts").cloned().unwrap_or(json!([])),
    };
    render(
        &web,
        &ctx,
        "admin_alerts.html",
        json!({
            "section": "alerts",
            "alerts": items,
            "error": (!list.ok()).then(|| list.detail()),
        }),
    )
    .await
}
