//! Operations in the admin API: reconciliation findings (list, resolve, run
//! a pass now) and alerts.

use super::ok;
use crate::extract::{parse_json, AdminAuth, Query};
use crate::problem::{ApiError, Problem};
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::Response;
use bytes::Bytes;
use cielo_ops::{AlertView, Finding, FindingState, Ops};
use http::StatusCode;
use serde::Deserialize;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_findings))
        .routes(routes!(resolve_finding))
        .routes(routes!(run_reconcile))
        .routes(routes!(list_alerts))
}

fn ops(s: &AppState) -> Result<&Arc<Ops>, ApiError> {
    s.ops.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ops-unavailable",
            "operations are not set up in this process",
        )
    })
}

/// Filters of the findings list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct FindingParams {
    /// `open`, `fixed` or `resolved`; all when absent.
    state: Option<String>,
    /// At most this many, newest first (default 100, at most 500).
    limit: Option<i64>,
}

/// Reconciliation findings, newest first.
#[utoipa::path(get, path = "/api/admin/ops/findings", tag = "admin", params(FindingParams),
    responses((status = 200, body = Vec<Finding>), (status = 400, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn list_findings(
    State(s): State<AppState>,
    _a: AdminAuth,
    Query(p): Query<FindingParams>,
) -> Result<Response, ApiError> {
    let state = match p.state.as_deref() {
        None => None,
        Some(raw) => Some(FindingState::parse(raw).ok_or_else(|| {
            ApiError::invalid_query(vec![cielo_core::FieldError::new(
                "state",
                "must be one of: open, fixed, resolved",
            )])
        })?),
    };
    let list = ops(&s)?
        .findings(state, p.limit.unwrap_or(100))
        .await
        .map_err(ApiError::internal)?;
    Ok(ok(&list))
}

/// A person's resolution.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Resolution {
    /// What was done (required: the next person reads it).
    note: String,
}

/// Mark a finding resolved, with a note.
#[utoipa::path(post, path = "/api/admin/ops/findings/{id}/resolve", tag = "admin",
    params(("id" = String, Path)), request_body = Resolution,
    responses((status = 200, body = Finding), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn resolve_finding(
    State(s): State<AppState>,
    a: AdminAuth,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let r: Resolution = parse_json(&body)?;
    if r.note.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "note-required",
            "say what was done in `note`",
        ));
    }
    let by = format!("admin:{}", a.0.customer_id);
    match ops(&s)?.resolve_finding(&id, r.note.trim(), &by).await {
        Ok(f) => Ok(ok(&f)),
        Err(cielo_ops::findings::ResolveError::NotFound(id)) => Err(ApiError::not_found(
            "finding-not-found",
            format!("no finding {id}"),
        )),
        Err(e) => Err(ApiError::internal(anyhow::Error::from(e))),
    }
}

/// How far back a pass looks.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReconcileParams {
    /// Seconds (default `ops.reconcile.window_secs`).
    since_secs: Option<u64>,
}

/// Run a reconciliation pass now and return its report.
#[utoipa::path(post, path = "/api/admin/ops/reconcile", tag = "admin", params(ReconcileParams),
    responses((status = 200, description = "the pass's report: counts, findings, errors")),
    security(("bearer" = [])))]
pub(crate) async fn run_reconcile(
    State(s): State<AppState>,
    _a: AdminAuth,
    Query(p): Query<ReconcileParams>,
) -> Result<Response, ApiError> {
    let ops = ops(&s)?;
    let since = p.since_secs.unwrap_or(ops.settings().reconcile.window_secs);
    let report = ops.reconcile(since).await.map_err(ApiError::internal)?;
    Ok(ok(&report))
}

/// Filters of the alerts list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertParams {
    /// `firing` or `resolved`; all when absent.
    state: Option<String>,
    /// At most this many, newest first (default 100, at most 500).
    limit: Option<i64>,
}

/// Alerts (each firing of a rule), newest first.
#[utoipa::path(get, path = "/api/admin/ops/alerts", tag = "admin", params(AlertParams),
    responses((status = 200, body = Vec<AlertView>), (status = 400, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn list_alerts(
    State(s): State<AppState>,
    _a: AdminAuth,
    Query(p): Query<AlertParams>,
) -> Result<Response, ApiError> {
    if let Some(st) = p.state.as_deref() {
        if st != "firing" && st != "resolved" {
            return Err(ApiError::invalid_query(vec![cielo_core::FieldError::new(
                "state",
                "must be one of: firing, resolved",
            )]));
        }
    }
    let list = ops(&s)?
        .alerts_in(p.state.as_deref(), p.limit.unwrap_or(100))
        .await
        .map_err(ApiError::internal)?;
    Ok(ok(&list))
}
