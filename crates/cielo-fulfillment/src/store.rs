//! The `fulfillment_*` tables.

use crate::{
    Error, Lab, LabHistoryEntry, LabOrderId, LabOrderView, LabStage, Result, Shipment,
    SubmissionRequest,
};
use cielo_core::Timestamp;
use cielo_db::Backend;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// Where the submission itself stands (the stage says where the order is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SubmitState {
    /// Recorded, never sent.
    Planned,
    /// A call was (or is being) made; its outcome is not recorded yet, so
    /// the next attempt asks the lab first.
    Sending,
    /// The lab has it.
    Accepted,
    /// The lab refused it.
    Refused,
    /// Cancelled (at the lab, or before it was sent).
    Cancelled,
}

impl SubmitState {
    pub fn as_str(&self) -> &'static str {
        match self {
            SubmitState::Planned => "planned",
            SubmitState::Sending => "sending",
            SubmitState::Accepted => "accepted",
            SubmitState::Refused => "refused",
            SubmitState::Cancelled => "cancelled",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "planned" => SubmitState::Planned,
            "sending" => SubmitState::Sending,
            "accepted" => SubmitState::Accepted,
            "refused" => SubmitState::Refused,
            "cancelled" => SubmitState::Cancelled,
            _ => return None,
        })
    }
}

/// A row of `fulfillment_lab_order`.
#[derive(Debug, Clone)]
pub(crate) struct StoredLabOrder {
    pub id: LabOrderId,
    pub order_id: String,
    pub lab: Lab,
    pub generation: i64,
    pub external_ref: String,
    pub lab_ref: Option<String>,
    pub submit_state: SubmitState,
    pub stage: LabStage,
    pub raw_status: Option<String>,
    pub reason: Option<String>,
    pub request: SubmissionRequest,
    pub shipments: Vec<Shipment>,
    pub hold_until: Timestamp,
    pub submit_attempts: i64,
    pub submitted_at: Option<Timestamp>,
}

const COLUMNS: &str = "id, order_id, lab, generation, external_ref, lab_ref, submit_state, stage, raw_status, reason, request, shipments, hold_until, submit_attempts, submitted_at";

fn malformed(what: &str, id: &str) -> Error {
    Error::Malformed(format!("lab order {id}: {what}"))
}

fn from_row(r: &AnyRow) -> Result<StoredLabOrder> {
    let id: String = r.try_get("id")?;
    let lab: String = r.try_get("lab")?;
    let submit_state: String = r.try_get("submit_state")?;
    let stage: String = r.try_get("stage")?;
    let request: String = r.try_get("request")?;
    let shipments: String = r.try_get("shipments")?;
    Ok(StoredLabOrder {
        id: LabOrderId::parse(&id).map_err(|_| malformed("id", &id))?,
        order_id: r.try_get("order_id")?,
        lab: Lab::parse(&lab).ok_or_else(|| malformed("lab", &id))?,
        generation: r.try_get("generation")?,
        external_ref: r.try_get("external_ref")?,
        lab_ref: r.try_get("lab_ref")?,
        submit_state: SubmitState::parse(&submit_state)
            .ok_or_else(|| malformed("submit_state", &id))?,
        stage: LabStage::parse(&stage).ok_or_else(|| malformed("stage", &id))?,
        raw_status: r.try_get("raw_status")?,
        reason: r.try_get("reason")?,
        request: serde_json::from_str(&request).map_err(|_| malformed("request", &id))?,
        shipments: serde_json::from_str(&shipments).map_err(|_| malformed("shipments", &id))?,
        hold_until: Timestamp::from_micros(r.try_get("hold_until")?),
        submit_attempts: r.try_get("submit_attempts")?,
        submitted_at: r
            .try_get::<Option<i64>, _>("submitted_at")?
            .map(Timestamp::from_micros),
    })
}

/// Records a planned submission; when `(order_id, lab)` already has one,
/// writes nothing and returns the existing id. `Ok((id, true))` when new.
pub(crate) async fn insert_planned(
    conn: &mut AnyConnection,
    request: &SubmissionRequest,
    hold_until: Timestamp,
) -> Result<(LabOrderId, bool)> {
    let id = LabOrderId::new();
    let now = Timestamp::now().as_micros();
    let external_ref = crate::ids::external_ref(request.lab, &request.order_id, 0);
    let request_json =
        serde_json::to_string(request).map_err(|e| Error::Malformed(e.to_string()))?;
    let inserted = sqlx::query(
        "insert into fulfillment_lab_order (id, order_id, lab, generation, external_ref, submit_state, stage, request, shipments, hold_until, submit_attempts, created_at, updated_at)
         values ($1, $2, $3, 0, $4, 'planned', 'planned', $5, '[]', $6, 0, $7, $7)
         on conflict (order_id, lab) do nothing",
    )
    .bind(id.to_string())
    .bind(&request.order_id)
    .bind(request.lab.as_str())
    .bind(&external_ref)
    .bind(&request_json)
    .bind(hold_until.as_micros())
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 1 {
        append_history(conn, id, LabStage::Planned, None, "planned").await?;
        return Ok((id, true));
    }
    let existing: String =
        sqlx::query("select id from fulfillment_lab_order where order_id = $1 and lab = $2")
            .bind(&request.order_id)
            .bind(request.lab.as_str())
            .fetch_one(&mut *conn)
            .await?
            .try_get("id")?;
    let existing = LabOrderId::parse(&existing).map_err(|_| malformed("id", &existing))?;
    Ok((existing, false))
}

/// Reads one lab order; on PostgreSQL, inside a transaction, locks its row
/// until the transaction ends (`lock = true`), so concurrent jobs about the
/// same lab order apply their changes one after the other.
pub(crate) async fn load(
    conn: &mut AnyConnection,
    backend: Backend,
    id: LabOrderId,
    lock: bool,
) -> Result<StoredLabOrder> {
    let suffix = if lock && backend == Backend::Postgres {
        " for update"
    } else {
        ""
    };
    let sql = format!("select {COLUMNS} from fulfillment_lab_order where id = $1{suffix}");
    let row = sqlx::query(&sql)
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| Error::NotFound(id.to_string()))?;
    from_row(&row)
}

/// Every lab order of an order, oldest first.
pub(crate) async fn for_order(
    conn: &mut AnyConnection,
    order_id: &str,
) -> Result<Vec<StoredLabOrder>> {
    let sql = format!(
        "select {COLUMNS} from fulfillment_lab_order where order_id = $1 order by created_at, id"
    );
    let rows = sqlx::query(&sql)
        .bind(order_id)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// The lab order the lab knows by `reference` (our external key, or its own id).
pub(crate) async fn find_by_ref(
    conn: &mut AnyConnection,
    lab: Lab,
    reference: &str,
) -> Result<Option<LabOrderId>> {
    let row = sqlx::query(
        "select id from fulfillment_lab_order where lab = $1 and (external_ref = $2 or lab_ref = $2) order by generation desc limit 1",
    )
    .bind(lab.as_str())
    .bind(reference)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        None => Ok(None),
        Some(r) => {
            let id: String = r.try_get("id")?;
            Ok(Some(
                LabOrderId::parse(&id).map_err(|_| malformed("id", &id))?,
            ))
        }
    }
}

/// How long after submission a shipped lab order is still polled (a late
/// reshipment); neither lab reports delivery, so shipped is where they stop.
const SHIPPED_POLL_SECS: i64 = 30 * 24 * 3600;

/// Lab orders the catch-up looks at: submissions not recorded as accepted
/// yet (due now), and accepted ones not final (shipped ones for 30 days).
pub(crate) async fn open_ids(
    conn: &mut AnyConnection,
    now: Timestamp,
) -> Result<Vec<(LabOrderId, Lab, String)>> {
    let rows = sqlx::query(
        "select id, lab, submit_state from fulfillment_lab_order
         where (submit_state in ('planned', 'sending') and hold_until <= $1)
            or (submit_state = 'accepted' and stage not in ('delivered', 'refused', 'cancelled')
                and not (stage = 'shipped' and lab <> 'local' and submitted_at < $2))
         order by created_at",
    )
    .bind(now.as_micros())
    .bind(now.plus_seconds(-SHIPPED_POLL_SECS).as_micros())
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let id: String = r.try_get("id")?;
        let lab: String = r.try_get("lab")?;
        out.push((
            LabOrderId::parse(&id).map_err(|_| malformed("id", &id))?,
            Lab::parse(&lab).ok_or_else(|| malformed("lab", &id))?,
            r.try_get("submit_state")?,
        ));
    }
    Ok(out)
}

/// Writes back every mutable field of `o`.
pub(crate) async fn save(conn: &mut AnyConnection, o: &StoredLabOrder) -> Result<()> {
    let request = serde_json::to_string(&o.request).map_err(|e| Error::Malformed(e.to_string()))?;
    let shipments =
        serde_json::to_string(&o.shipments).map_err(|e| Error::Malformed(e.to_string()))?;
    sqlx::query(
        "update fulfillment_lab_order set generation = $2, external_ref = $3, lab_ref = $4, submit_state = $5, stage = $6,
            raw_status = $7, reason = $8, request = $9, shipments = $10, hold_until = $11, submit_attempts = $12,
            submitted_at = $13, updated_at = $14
         where id = $1",
    )
    .bind(o.id.to_string())
    .bind(o.generation)
    .bind(&o.external_ref)
    .bind(o.lab_ref.as_deref())
    .bind(o.submit_state.as_str())
    .bind(o.stage.as_str())
    .bind(o.raw_status.as_deref())
    .bind(o.reason.as_deref())
    .bind(request)
    .bind(shipments)
    .bind(o.hold_until.as_micros())
    .bind(o.submit_attempts)
    .bind(o.submitted_at.map(|t| t.as_micros()))
    .bind(Timestamp::now().as_micros())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Appends a history entry.
pub(crate) async fn append_history(
    conn: &mut AnyConnection,
    id: LabOrderId,
    stage: LabStage,
    raw_status: Option<&str>,
    cause: &str,
) -> Result<()> {
    sqlx::query(
        "insert into fulfillment_history (lab_order_id, seq, at, stage, raw_status, cause)
         select $1, coalesce(max(seq), 0) + 1, $2, $3, $4, $5 from fulfillment_history where lab_order_id = $1",
    )
    .bind(id.to_string())
    .bind(Timestamp::now().as_micros())
    .bind(stage.as_str())
    .bind(raw_status)
    .bind(cause)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A lab order's history, oldest first.
pub(crate) async fn history(
    conn: &mut AnyConnection,
    id: LabOrderId,
) -> Result<Vec<LabHistoryEntry>> {
    let rows = sqlx::query(
        "select at, stage, raw_status, cause from fulfillment_history where lab_order_id = $1 order by seq",
    )
    .bind(id.to_string())
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let stage: String = r.try_get("stage")?;
        out.push(LabHistoryEntry {
            at: Timestamp::from_micros(r.try_get("at")?),
            stage: LabStage::parse(&stage)
                .ok_or_else(|| malformed("history stage", &id.to_string()))?,
            raw_status: r.try_get("raw_status")?,
            cause: r.try_get("cause")?,
        });
    }
    Ok(out)
}

/// The admin view of a stored lab order.
pub(crate) async fn view(conn: &mut AnyConnection, o: StoredLabOrder) -> Result<LabOrderView> {
    let history = history(conn, o.id).await?;
    Ok(LabOrderView {
        id: o.id,
        order_id: o.order_id,
        lab: o.lab,
        stage: o.stage,
        raw_status: o.raw_status,
        reason: o.reason,
        submit_state: o.submit_state.as_str().to_string(),
        external_ref: o.external_ref,
        lab_ref: o.lab_ref,
        generation: o.generation,
        hold_until: o.hold_until,
        submitted_at: o.submitted_at,
        shipments: o.shipments,
        request: o.request,
        history,
    })
}

/// Stores a webhook hint unless one with the same key is stored already.
/// Returns true when it is new.
pub(crate) async fn insert_hint(
    conn: &mut AnyConnection,
    lab: Lab,
    event_key: &str,
    lab_order_id: Option<LabOrderId>,
    kind: &str,
    payload: &str,
) -> Result<bool> {
    let n = sqlx::query(
        "insert into fulfillment_webhook (lab, event_key, lab_order_id, kind, payload, received_at)
         values ($1, $2, $3, $4, $5, $6) on conflict (lab, event_key) do nothing",
    )
    .bind(lab.as_str())
    .bind(event_key)
    .bind(lab_order_id.map(|i| i.to_string()))
    .bind(kind)
    .bind(payload)
    .bind(Timestamp::now().as_micros())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// The last hint's kind and reason for a lab order (Printful's order object
/// has no failure reason; its `order_failed` webhook does).
pub(crate) async fn last_hint_reason(
    conn: &mut AnyConnection,
    id: LabOrderId,
) -> Result<Option<String>> {
    let row = sqlx::query(
        "select payload from fulfillment_webhook where lab_order_id = $1 order by received_at desc limit 5",
    )
    .bind(id.to_string())
    .fetch_all(&mut *conn)
    .await?;
    for r in row {
        let payload: String = r.try_get("payload")?;
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&payload) {
            if let Some(reason) = v
                .pointer("/data/reason")
                .and_then(|r| r.as_str())
                .filter(|r| !r.is_empty())
            {
                return Ok(Some(reason.to_string()));
            }
        }
    }
    Ok(None)
}

/// Forgets webhook hints received before `before`.
pub(crate) async fn purge_hints(conn: &mut AnyConnection, before: Timestamp) -> Result<u64> {
    Ok(
        sqlx::query("delete from fulfillment_webhook where received_at < $1")
            .bind(before.as_micros())
            .execute(&mut *conn)
            .await?
            .rows_affected(),
    )
}
