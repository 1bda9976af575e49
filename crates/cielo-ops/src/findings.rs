//! Stored findings: one row per (kind, subject).

use crate::{FindingId, Ops};
use cielo_core::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;

/// What differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// Paid at the provider, no paid order here.
    PaidWithoutOrder,
    /// A paid order here, no payment at the provider.
    PaidWithoutPayment,
    /// A lab order we never placed (someone else has the lab key).
    UnknownLabOrder,
    /// The lab's status differs from ours.
    LabStatusDiffers,
    /// The provider's amount or currency differs from the order's.
    AmountMismatch,
}

impl FindingKind {
    /// The stored form.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::PaidWithoutOrder => "paid_without_order",
            Self::PaidWithoutPayment => "paid_without_payment",
            Self::UnknownLabOrder => "unknown_lab_order",
            Self::LabStatusDiffers => "lab_status_differs",
            Self::AmountMismatch => "amount_mismatch",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "paid_without_order" => Self::PaidWithoutOrder,
            "paid_without_payment" => Self::PaidWithoutPayment,
            "unknown_lab_order" => Self::UnknownLabOrder,
            "lab_status_differs" => Self::LabStatusDiffers,
            "amount_mismatch" => Self::AmountMismatch,
            _ => return None,
        })
    }
}

/// Where a finding stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FindingState {
    /// A person must look.
    Open,
    /// Fixed automatically by the pass (what was done is in `detail`).
    Fixed,
    /// Resolved by a person (see `note`).
    Resolved,
}

impl FindingState {
    /// The stored form.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Fixed => "fixed",
            Self::Resolved => "resolved",
        }
    }
    /// Parses `open`, `fixed`, `resolved`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "open" => Self::Open,
            "fixed" => Self::Fixed,
            "resolved" => Self::Resolved,
            _ => return None,
        })
    }
}

/// A difference between a provider and our records.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Finding {
    /// Id (`fnd_…`).
    #[schema(value_type = String)]
    pub id: FindingId,
    /// What differs.
    pub kind: FindingKind,
    /// What it is about (payment session, order id, `<lab>:<lab order id>`).
    pub subject: String,
    /// Where it stands.
    pub state: FindingState,
    /// Our side's facts.
    pub ours: Value,
    /// The provider's side's facts.
    pub theirs: Value,
    /// What was done, or what a person must do.
    pub detail: String,
    /// The person's note when resolved.
    pub note: Option<String>,
    /// Who resolved it.
    pub resolved_by: Option<String>,
    /// First seen.
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    /// Last seen or changed.
    #[schema(value_type = String)]
    pub updated_at: Timestamp,
}

/// A finding as a pass reports it.
pub(crate) struct NewFinding {
    pub kind: FindingKind,
    pub subject: String,
    pub state: FindingState,
    pub ours: Value,
    pub theirs: Value,
    pub detail: String,
}

fn from_row(r: &sqlx::any::AnyRow) -> anyhow::Result<Finding> {
    let id: String = r.try_get("id")?;
    let kind: String = r.try_get("kind")?;
    let state: String = r.try_get("state")?;
    let ours: String = r.try_get("ours")?;
    let theirs: String = r.try_get("theirs")?;
    Ok(Finding {
        id: FindingId::parse(&id).map_err(|_| anyhow::anyhow!("malformed finding id {id}"))?,
        kind: FindingKind::parse(&kind).ok_or_else(|| anyhow::anyhow!("unknown kind {kind}"))?,
        subject: r.try_get("subject")?,
        state: FindingState::parse(&state)
            .ok_or_else(|| anyhow::anyhow!("unknown state {state}"))?,
        ours: serde_json::from_str(&ours).unwrap_or(Value::Null),
        theirs: serde_json::from_str(&theirs).unwrap_or(Value::Null),
        detail: r.try_get("detail")?,
        note: r.try_get("note")?,
        resolved_by: r.try_get("resolved_by")?,
        created_at: Timestamp::from_micros(r.try_get("created_at")?),
        updated_at: Timestamp::from_micros(r.try_get("updated_at")?),
    })
}

const COLUMNS: &str =
    "id, kind, subject, state, ours, theirs, detail, note, resolved_by, created_at, updated_at";

/// Why a finding could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// No such finding.
    #[error("no finding {0}")]
    NotFound(String),
    /// Unexpected failure.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Ops {
    /// Stores a finding, or updates the row of the same (kind, subject): a
    /// difference a person resolved stays resolved (they said it is fine,
    /// e.g. a lab order they placed by hand); an open one may become fixed.
    /// Returns the stored finding.
    pub(crate) async fn record(&self, f: NewFinding) -> anyhow::Result<Finding> {
        let now = Timestamp::now().as_micros();
        let mut tx = self.db.begin_write().await?;
        let existing =
            sqlx::query("select id, state from ops_finding where kind = $1 and subject = $2")
                .bind(f.kind.as_str())
                .bind(&f.subject)
                .fetch_optional(&mut **tx)
                .await?;
        let id = match existing {
            None => {
                metrics::counter!("cielo_reconcile_findings_total", "kind" => f.kind.as_str())
                    .increment(1);
                let id = FindingId::new().to_string();
                sqlx::query("insert into ops_finding (id, kind, subject, state, ours, theirs, detail, created_at, updated_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $8)")
                    .bind(&id)
                    .bind(f.kind.as_str())
                    .bind(&f.subject)
                    .bind(f.state.as_str())
                    .bind(f.ours.to_string())
                    .bind(f.theirs.to_string())
                    .bind(&f.detail)
                    .bind(now)
                    .execute(&mut **tx)
                    .await?;
                id
            }
            Some(row) => {
                let id: String = row.try_get("id")?;
                let state: String = row.try_get("state")?;
                let keep = if state == "resolved" {
                    "resolved"
                } else {
                    f.state.as_str()
                };
                sqlx::query("update ops_finding set state = $1, ours = $2, theirs = $3, detail = $4, updated_at = $5 where id = $6")
                    .bind(keep)
                    .bind(f.ours.to_string())
                    .bind(f.theirs.to_string())
                    .bind(&f.detail)
                    .bind(now)
                    .bind(&id)
                    .execute(&mut **tx)
                    .await?;
                id
            }
        };
        let row = sqlx::query(&format!("select {COLUMNS} from ops_finding where id = $1"))
            .bind(&id)
            .fetch_one(&mut **tx)
            .await?;
        tx.commit().await?;
        from_row(&row)
    }

    /// Findings, newest first (at most `limit`, 1–500), optionally in one state.
    pub async fn findings(
        &self,
        state: Option<FindingState>,
        limit: i64,
    ) -> anyhow::Result<Vec<Finding>> {
        let limit = limit.clamp(1, 500);
        let rows = match state {
            Some(s) => {
                sqlx::query(&format!("select {COLUMNS} from ops_finding where state = $1 order by created_at desc, id desc limit $2"))
                    .bind(s.as_str())
                    .bind(limit)
                    .fetch_all(self.db.pool())
                    .await?
            }
            None => {
                sqlx::query(&format!("select {COLUMNS} from ops_finding order by created_at desc, id desc limit $1"))
                    .bind(limit)
                    .fetch_all(self.db.pool())
                    .await?
            }
        };
        rows.iter().map(from_row).collect()
    }

    /// Marks the open finding of (kind, subject), if any, `fixed`: a later
    /// pass saw both sides agree. `detail` says so.
    pub(crate) async fn settle(
        &self,
        kind: FindingKind,
        subject: &str,
        detail: &str,
    ) -> anyhow::Result<()> {
        let open = sqlx::query(
            "select 1 from ops_finding where kind = $1 and subject = $2 and state = 'open'",
        )
        .bind(kind.as_str())
        .bind(subject)
        .fetch_optional(self.db.pool())
        .await?;
        if open.is_none() {
            return Ok(());
        }
        let mut tx = self.db.begin_write().await?;
        sqlx::query("update ops_finding set state = 'fixed', detail = $1, updated_at = $2 where kind = $3 and subject = $4 and state = 'open'")
            .bind(detail)
            .bind(Timestamp::now().as_micros())
            .bind(kind.as_str())
            .bind(subject)
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets the `cielo_findings_open{kind}` gauge from the stored findings.
    pub(crate) async fn publish_open_findings(&self) -> anyhow::Result<()> {
        let rows = sqlx::query(
            "select kind, count(*) as n from ops_finding where state = 'open' group by kind",
        )
        .fetch_all(self.db.pool())
        .await?;
        for kind in [
            FindingKind::PaidWithoutOrder,
            FindingKind::PaidWithoutPayment,
            FindingKind::UnknownLabOrder,
            FindingKind::LabStatusDiffers,
            FindingKind::AmountMismatch,
        ] {
            let mut n = 0i64;
            for r in &rows {
                if r.try_get::<String, _>("kind")? == kind.as_str() {
                    n = r.try_get("n")?;
                }
            }
            metrics::gauge!("cielo_findings_open", "kind" => kind.as_str()).set(n as f64);
        }
        Ok(())
    }

    /// Open findings of these kinds (all when empty).
    pub(crate) async fn open_findings_of(&self, kinds: &[String]) -> anyhow::Result<Vec<Finding>> {
        Ok(self
            .findings(Some(FindingState::Open), 500)
            .await?
            .into_iter()
            .filter(|f| kinds.is_empty() || kinds.iter().any(|k| k == f.kind.as_str()))
            .collect())
    }

    /// Marks a finding resolved by a person, with their note. Resolving a
    /// resolved finding replaces the note.
    pub async fn resolve_finding(
        &self,
        id: &str,
        note: &str,
        by: &str,
    ) -> Result<Finding, ResolveError> {
        let now = Timestamp::now().as_micros();
        let done = sqlx::query("update ops_finding set state = 'resolved', note = $1, resolved_by = $2, updated_at = $3 where id = $4")
            .bind(note)
            .bind(by)
            .bind(now)
            .bind(id)
            .execute(self.db.pool())
            .await
            .map_err(anyhow::Error::from)?;
        if done.rows_affected() == 0 {
            return Err(ResolveError::NotFound(id.to_string()));
        }
        let row = sqlx::query(&format!("select {COLUMNS} from ops_finding where id = $1"))
            .bind(id)
            .fetch_one(self.db.pool())
            .await
            .map_err(anyhow::Error::from)?;
        Ok(from_row(&row)?)
    }
}
