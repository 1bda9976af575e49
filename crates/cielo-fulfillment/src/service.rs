//! [`Fulfillment`]: planning, submitting, refreshing, cancelling and
//! amending lab orders, and the jobs that do it.

use crate::lab::{CancelOutcome, CreateOutcome, LabApi, LabError, LabSnapshot};
use crate::local::Local;
use crate::printful::Printful;
use crate::prodigi::Prodigi;
use crate::quote::{QuoteCache, QuoteItem};
use crate::stage::{merge_shipments, next_stage};
use crate::store::{self, StoredLabOrder, SubmitState};
use crate::{
    jobs, Error, FulfillmentSettings, Lab, LabOrderId, LabOrderUpdated, LabOrderView, LabSecrets,
    LabStage, Recipient, Result, SubmissionRequest, TOPIC_LAB_ORDER_UPDATED,
};
use cielo_core::{Currency, Money, Timestamp};
use cielo_db::Db;
use cielo_jobs::{JobError, NewJob};
use serde::Deserialize;
use sqlx::AnyConnection;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// The fulfillment domain's handle; cheap to clone.
#[derive(Clone)]
pub struct Fulfillment {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    settings: FulfillmentSettings,
    secrets: LabSecrets,
    public_url: String,
    printful: Option<Printful>,
    prodigi: Option<Prodigi>,
    local: Local,
    quotes: QuoteCache,
    quote_http: reqwest::Client,
}

/// Histogram (seconds, label `lab`): from the order paid to its lab order
/// accepted by the lab, observed once per lab order.
pub const PAID_TO_LAB_METRIC: &str = "cielo_order_paid_to_lab_seconds";

/// Webhook hints are kept this long (seconds) for dedupe and reasons.
const HINT_RETENTION_SECS: i64 = 30 * 24 * 3600;

/// What one catch-up pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatchUpReport {
    /// Submissions not recorded as accepted, sent again (same key).
    pub resubmitted: usize,
    /// Open lab orders whose re-read was queued.
    pub polled: usize,
    /// Local lab orders whose next step was queued again.
    pub local_steps: usize,
}

#[derive(Deserialize)]
struct LabOrderArgs {
    lab_order_id: LabOrderId,
    #[serde(default)]
    cause: Option<String>,
}

#[derive(Deserialize)]
struct LocalStepArgs {
    lab_order_id: LabOrderId,
    stage: LabStage,
}

impl std::fmt::Debug for Fulfillment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fulfillment")
            .field("printful", &self.inner.printful.is_some())
            .field("prodigi", &self.inner.prodigi.is_some())
            .field("secrets", &self.inner.secrets)
            .finish()
    }
}

fn job_error(e: LabError) -> JobError {
    match e {
        LabError::Retry {
            message,
            after: Some(after),
        } => JobError::retry_after(message, after),
        LabError::Retry { message, .. } => JobError::retry(message),
        LabError::NotFound => JobError::retry("the lab does not know this order (yet)"),
        // A fix to the configuration needs a restart; meanwhile try rarely.
        LabError::Misconfigured(m) => JobError::retry_after(m, Duration::from_secs(600)),
    }
}

impl Fulfillment {
    /// Builds the domain. `public_url` is where the labs reach our webhooks
    /// (`<public_url>/webhooks/{printful,prodigi}?token=<token>`: a query
    /// token, because request logs record the path but never the query). A lab without
    /// its API secret is not configured: its submissions wait (and are
    /// retried) until it is.
    pub fn new(
        db: Db,
        settings: FulfillmentSettings,
        secrets: LabSecrets,
        public_url: &str,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(settings.request_timeout())
            .connect_timeout(settings.request_timeout().min(Duration::from_secs(10)))
            .user_agent(concat!("cielo/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let quote_http = reqwest::Client::builder()
            .timeout(settings.quote_timeout())
            .user_agent(concat!("cielo/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let public_url = public_url.trim_end_matches('/').to_string();
        let printful = secrets.printful_api_token.clone().map(|token| Printful {
            http: http.clone(),
            base: settings.printful_api_base.clone(),
            token,
            store_id: secrets.printful_store_id.clone(),
            shipping: settings.printful_shipping.clone(),
        });
        let prodigi = secrets.prodigi_api_key.clone().map(|api_key| Prodigi {
            http: http.clone(),
            base: settings.prodigi_api_base.clone(),
            api_key,
            shipping_method: settings.prodigi_shipping_method.clone(),
            callback_url: secrets
                .prodigi_webhook_token
                .as_ref()
                .map(|t| format!("{public_url}/webhooks/prodigi?token={t}")),
        });
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                settings,
                secrets,
                public_url,
                printful,
                prodigi,
                local: Local,
                quotes: QuoteCache::default(),
                quote_http,
            }),
        })
    }

    pub(crate) fn inner_printful(&self) -> Option<&Printful> {
        self.inner.printful.as_ref()
    }

    pub(crate) fn inner_prodigi(&self) -> Option<&Prodigi> {
        self.inner.prodigi.as_ref()
    }

    /// The settings in force.
    pub fn settings(&self) -> &FulfillmentSettings {
        &self.inner.settings
    }

    pub(crate) fn db(&self) -> &Db {
        &self.inner.db
    }

    pub(crate) fn secrets(&self) -> &LabSecrets {
        &self.inner.secrets
    }

    /// True when `lab` can be used (the local lab always; the others with
    /// their API secret).
    pub fn is_configured(&self, lab: Lab) -> bool {
        match lab {
            Lab::Local => true,
            Lab::Printful => self.inner.printful.is_some(),
            Lab::Prodigi => self.inner.prodigi.is_some(),
        }
    }

    /// The webhook URL to give `lab` (it contains the secret token: never
    /// log it), or `None` without a token.
    pub fn webhook_url(&self, lab: Lab) -> Option<String> {
        let token = match lab {
            Lab::Printful => self.inner.secrets.printful_webhook_token.as_ref()?,
            Lab::Prodigi => self.inner.secrets.prodigi_webhook_token.as_ref()?,
            Lab::Local => return None,
        };
        Some(format!(
            "{}/webhooks/{}?token={token}",
            self.inner.public_url, lab
        ))
    }

    fn api(&self, lab: Lab) -> Result<&dyn LabApi> {
        match lab {
            Lab::Local => Ok(&self.inner.local),
            Lab::Printful => self
                .inner
                .printful
                .as_ref()
                .map(|p| p as &dyn LabApi)
                .ok_or(Error::NotConfigured(lab)),
            Lab::Prodigi => self
                .inner
                .prodigi
                .as_ref()
                .map(|p| p as &dyn LabApi)
                .ok_or(Error::NotConfigured(lab)),
        }
    }

    /// Registers this domain's job kinds: `fulfillment.submit`,
    /// `fulfillment.refresh`, `fulfillment.local_step` and
    /// `fulfillment.catch_up`. (Schedule the catch-up in the jobs settings.)
    pub fn register(&self, registry: &mut cielo_jobs::Registry) {
        let me = self.clone();
        registry.handle_json(jobs::SUBMIT, move |_ctx, args: LabOrderArgs| {
            let me = me.clone();
            async move { me.submit_job(args.lab_order_id).await }
        });
        let me = self.clone();
        registry.handle_json(jobs::REFRESH, move |_ctx, args: LabOrderArgs| {
            let me = me.clone();
            async move {
                let cause = args.cause.unwrap_or_else(|| "refresh".into());
                me.refresh_job(args.lab_order_id, &cause).await
            }
        });
        let me = self.clone();
        registry.handle_json(jobs::LOCAL_STEP, move |_ctx, args: LocalStepArgs| {
            let me = me.clone();
            async move { me.local_step(args.lab_order_id, args.stage).await }
        });
        let me = self.clone();
        registry.handle(jobs::CATCH_UP, move |_ctx, _payload| {
            let me = me.clone();
            async move {
                let report = me.catch_up().await?;
                tracing::info!(
                    resubmitted = report.resubmitted,
                    polled = report.polled,
                    local_steps = report.local_steps,
                    "fulfillment catch-up"
                );
                Ok(())
            }
        });
    }

    fn submit_job_for(&self, id: LabOrderId, run_at: Option<Timestamp>) -> NewJob {
        let mut job = NewJob::new(jobs::SUBMIT, serde_json::json!({ "lab_order_id": id }))
            .queue(jobs::LAB_QUEUE)
            .unique_key(format!("{}:{id}", jobs::SUBMIT))
            .max_attempts(self.inner.settings.submit_max_attempts);
        if let Some(at) = run_at {
            job = job.run_at(at);
        }
        job
    }

    /// In the caller's transaction: records the submission of `req` (one per
    /// `(order_id, lab)`: a second call writes nothing and returns the
    /// existing lab order) and enqueues its submit job for `hold_until` (the
    /// end of the edit window; now or earlier submits at once).
    pub async fn plan_submission(
        &self,
        conn: &mut AnyConnection,
        req: SubmissionRequest,
        hold_until: Timestamp,
    ) -> Result<LabOrderId> {
        let (id, new) = store::insert_planned(conn, &req, hold_until).await?;
        if new {
            cielo_jobs::enqueue(conn, self.submit_job_for(id, Some(hold_until))).await?;
        }
        Ok(id)
    }

    /// Every lab order of an order, with its raw status and history.
    pub async fn lab_orders_for(&self, order_id: &str) -> Result<Vec<LabOrderView>> {
        let mut conn = self.db().pool().acquire().await?;
        let orders = store::for_order(&mut conn, order_id).await?;
        let mut out = Vec::with_capacity(orders.len());
        for o in orders {
            out.push(store::view(&mut conn, o).await?);
        }
        Ok(out)
    }

    /// One lab order.
    pub async fn lab_order(&self, id: LabOrderId) -> Result<LabOrderView> {
        let mut conn = self.db().pool().acquire().await?;
        let o = store::load(&mut conn, self.db().backend(), id, false).await?;
        store::view(&mut conn, o).await
    }

    async fn load(&self, id: LabOrderId) -> Result<StoredLabOrder> {
        let mut conn = self.db().pool().acquire().await?;
        store::load(&mut conn, self.db().backend(), id, false).await
    }

    // ----- submission ---------------------------------------------------

    /// The submit job: sends a planned submission exactly once.
    async fn submit_job(&self, id: LabOrderId) -> Result<(), JobError> {
        let o = match self.load(id).await {
            Ok(o) => o,
            Err(Error::NotFound(_)) => return Err(JobError::permanent("no such lab order")),
            Err(e) => return Err(e.into()),
        };
        match o.submit_state {
            SubmitState::Accepted | SubmitState::Refused | SubmitState::Cancelled => return Ok(()),
            SubmitState::Planned | SubmitState::Sending => {}
        }
        let now = Timestamp::now();
        if o.hold_until > now {
            let wait = (o.hold_until.as_micros() - now.as_micros()).max(0) as u64;
            return Err(JobError::retry_after(
                "edit window still open",
                Duration::from_micros(wait),
            ));
        }
        let api = match self.api(o.lab) {
            Ok(api) => api,
            Err(e) => return Err(JobError::retry_after(e, Duration::from_secs(600))),
        };
        // A previous attempt may have reached the lab without its answer
        // being recorded (timeout, 5xx, crash): ask before creating again.
        if o.submit_state == SubmitState::Sending {
            if let Some(found) = api.find(&o).await.map_err(job_error)? {
                self.record_accepted(id, found, "submit: found at the lab")
                    .await?;
                return Ok(());
            }
        }
        // Stored before the call: from here on the outcome may be unknown.
        let o = {
            let mut tx = self.db().begin_write().await?;
            let mut o = store::load(&mut tx, self.db().backend(), id, true).await?;
            if !matches!(o.submit_state, SubmitState::Planned | SubmitState::Sending) {
                return Ok(());
            }
            o.submit_state = SubmitState::Sending;
            o.submit_attempts += 1;
            store::save(&mut tx, &o).await?;
            tx.commit().await?;
            o
        };
        let span = tracing::info_span!(
            "lab.submit",
            lab = %o.lab,
            order_id = %o.request.order_id,
            lab_order_id = %id,
            submission = o.submit_attempts,
            outcome = tracing::field::Empty,
        );
        let created = api.create(&o).instrument(span.clone()).await;
        let counted = match &created {
            Ok(CreateOutcome::Accepted(_)) => "created",
            Ok(CreateOutcome::Refused(_)) => "refused",
            Err(_) => "failed",
        };
        span.record("outcome", counted);
        metrics::counter!("cielo_lab_submissions_total", "lab" => o.lab.to_string(), "outcome" => counted)
            .increment(1);
        match created {
            Ok(CreateOutcome::Accepted(snapshot)) => {
                self.record_accepted(id, snapshot, "submit").await?;
                Ok(())
            }
            Ok(CreateOutcome::Refused(reason)) => {
                self.record_refused(id, &reason).await?;
                Ok(())
            }
            Err(e) => {
                tracing::warn!(lab_order = %id, lab = %o.lab, error = %e, "lab submission failed; will ask the lab and retry");
                Err(job_error(e))
            }
        }
    }

    /// Records that the lab has the order, and applies what it said.
    async fn record_accepted(
        &self,
        id: LabOrderId,
        snapshot: LabSnapshot,
        cause: &str,
    ) -> Result<()> {
        let mut tx = self.db().begin_write().await?;
        let mut o = store::load(&mut tx, self.db().backend(), id, true).await?;
        if o.submit_state == SubmitState::Cancelled {
            // Cancelled while the call was in flight: the lab has it anyway;
            // keep the record honest, the admin cancels it at the lab.
            tracing::warn!(lab_order = %id, "lab accepted an order cancelled meanwhile");
        }
        let first = o.submit_state != SubmitState::Accepted;
        o.submit_state = SubmitState::Accepted;
        if o.submitted_at.is_none() {
            o.submitted_at = Some(Timestamp::now());
        }
        if !snapshot.lab_ref.is_empty() {
            o.lab_ref = Some(snapshot.lab_ref.clone());
        }
        let mut snapshot = snapshot;
        if snapshot.stage.is_none() && o.stage == LabStage::Planned {
            snapshot.stage = Some(LabStage::Submitted);
        }
        self.apply(&mut tx, &mut o, snapshot, cause).await?;
        if first && o.lab == Lab::Local {
            self.enqueue_local_next(&mut tx, &o).await?;
        }
        tx.commit().await?;
        if let (true, Some(paid_at)) = (first, o.request.paid_at) {
            let secs = (Timestamp::now().as_micros() - paid_at.as_micros()).max(0) as f64 / 1e6;
            metrics::histogram!(PAID_TO_LAB_METRIC, "lab" => o.lab.to_string()).record(secs);
        }
        Ok(())
    }

    async fn record_refused(&self, id: LabOrderId, reason: &str) -> Result<()> {
        let mut tx = self.db().begin_write().await?;
        let mut o = store::load(&mut tx, self.db().backend(), id, true).await?;
        if o.submit_state == SubmitState::Accepted {
            return Ok(());
        }
        o.submit_state = SubmitState::Refused;
        let snapshot = LabSnapshot {
            lab_ref: String::new(),
            raw_status: "refused".into(),
            stage: Some(LabStage::Refused),
            reason: Some(reason.to_string()),
            shipments: Vec::new(),
        };
        self.apply(&mut tx, &mut o, snapshot, "submit: refused by the lab")
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Applies what the lab says to `o` in the caller's transaction: stage
    /// forward only, shipments merged, history, and one event when the stage
    /// or the shipments changed. Returns whether an event was published.
    async fn apply(
        &self,
        conn: &mut AnyConnection,
        o: &mut StoredLabOrder,
        snapshot: LabSnapshot,
        cause: &str,
    ) -> Result<bool> {
        let raw_changed = !snapshot.raw_status.is_empty()
            && o.raw_status.as_deref() != Some(&snapshot.raw_status);
        if !snapshot.raw_status.is_empty() {
            o.raw_status = Some(snapshot.raw_status.clone());
        }
        if o.lab_ref.is_none() && !snapshot.lab_ref.is_empty() {
            o.lab_ref = Some(snapshot.lab_ref.clone());
        }
        let (merged, shipments_changed) = merge_shipments(&o.shipments, &snapshot.shipments);
        o.shipments = merged;
        let mut stage_changed = false;
        if let Some(proposed) = snapshot.stage {
            if let Some(next) = next_stage(o.stage, proposed) {
                o.stage = next;
                stage_changed = true;
                o.reason = match next {
                    LabStage::Refused | LabStage::OnHold => snapshot.reason.clone(),
                    _ => None,
                };
            }
        }
        store::save(conn, o).await?;
        if stage_changed || raw_changed {
            store::append_history(conn, o.id, o.stage, o.raw_status.as_deref(), cause).await?;
        }
        if stage_changed || shipments_changed {
            self.publish(conn, o, cause).await?;
            return Ok(true);
        }
        Ok(false)
    }

    async fn publish(
        &self,
        conn: &mut AnyConnection,
        o: &StoredLabOrder,
        cause: &str,
    ) -> Result<()> {
        let event = LabOrderUpdated {
            order_id: o.order_id.clone(),
            lab_order_id: o.id.to_string(),
            lab: o.lab,
            stage: o.stage,
            reason: o.reason.clone(),
            shipments: o.shipments.clone(),
            cause: cause.to_string(),
        };
        let payload = serde_json::to_value(&event).map_err(|e| Error::Malformed(e.to_string()))?;
        cielo_jobs::publish(conn, TOPIC_LAB_ORDER_UPDATED, payload).await?;
        Ok(())
    }

    // ----- status in ----------------------------------------------------

    /// The refresh job: re-reads the order from its lab and applies it.
    async fn refresh_job(&self, id: LabOrderId, cause: &str) -> Result<(), JobError> {
        let o = match self.load(id).await {
            Ok(o) => o,
            Err(Error::NotFound(_)) => return Err(JobError::permanent("no such lab order")),
            Err(e) => return Err(e.into()),
        };
        match o.submit_state {
            // Not at the lab: nothing to read.
            SubmitState::Planned | SubmitState::Cancelled => return Ok(()),
            // The lab may have answered a create whose answer is not
            // recorded yet (a callback can beat it): look again once the
            // submit job has recorded it, or asked the lab.
            SubmitState::Sending => {
                return Err(JobError::retry_after(
                    "the submission's outcome is not recorded yet",
                    Duration::from_secs(5),
                ))
            }
            SubmitState::Accepted | SubmitState::Refused => {}
        }
        if o.lab == Lab::Local || o.lab_ref.is_none() && o.lab == Lab::Prodigi {
            return Ok(());
        }
        let api = match self.api(o.lab) {
            Ok(api) => api,
            Err(e) => return Err(JobError::retry_after(e, Duration::from_secs(600))),
        };
        let mut snapshot = match api.fetch(&o).await {
            Ok(s) => s,
            Err(LabError::NotFound) => {
                tracing::warn!(lab_order = %id, lab = %o.lab, "the lab does not know an accepted order");
                return Ok(());
            }
            Err(e) => return Err(job_error(e)),
        };
        if o.submit_state == SubmitState::Accepted {
            if let Some(after) = api.nudge(&o, &snapshot).await.map_err(job_error)? {
                snapshot = after;
            }
        }
        // Printful's order object carries no reason; its failure and hold
        // webhooks do (a hint, but only used as words for a person).
        if matches!(snapshot.stage, Some(LabStage::Refused | LabStage::OnHold))
            && snapshot.reason.is_none()
        {
            let mut conn = self.db().pool().acquire().await?;
            snapshot.reason = store::last_hint_reason(&mut conn, id).await?;
            if snapshot.stage == Some(LabStage::Refused) && snapshot.reason.is_none() {
                snapshot.reason = Some(format!(
                    "the lab reports the order as {}",
                    snapshot.raw_status
                ));
            }
        }
        let mut tx = self.db().begin_write().await?;
        let mut o = store::load(&mut tx, self.db().backend(), id, true).await?;
        self.apply(&mut tx, &mut o, snapshot, cause).await?;
        tx.commit().await?;
        Ok(())
    }

    fn local_step_job(&self, id: LabOrderId, stage: LabStage, after_secs: u64) -> NewJob {
        NewJob::new(
            jobs::LOCAL_STEP,
            serde_json::json!({ "lab_order_id": id, "stage": stage }),
        )
        .unique_key(format!("{}:{id}:{}", jobs::LOCAL_STEP, stage.as_str()))
        .run_at(Timestamp::now().plus_seconds(after_secs as i64))
    }

    async fn enqueue_local_next(
        &self,
        conn: &mut AnyConnection,
        o: &StoredLabOrder,
    ) -> Result<bool> {
        match crate::local::next_step(o.stage, &self.inner.settings.local) {
            Some((stage, after)) => {
                let outcome =
                    cielo_jobs::enqueue(conn, self.local_step_job(o.id, stage, after)).await?;
                Ok(matches!(outcome, cielo_jobs::EnqueueOutcome::Enqueued(_)))
            }
            None => Ok(false),
        }
    }

    /// The local lab reaches `stage`, then schedules its next step.
    async fn local_step(&self, id: LabOrderId, stage: LabStage) -> Result<(), JobError> {
        let mut tx = self.db().begin_write().await?;
        let mut o = match store::load(&mut tx, self.db().backend(), id, true).await {
            Ok(o) => o,
            Err(Error::NotFound(_)) => return Err(JobError::permanent("no such lab order")),
            Err(e) => return Err(e.into()),
        };
        if o.lab != Lab::Local {
            return Err(JobError::permanent("not a local lab order"));
        }
        if o.submit_state != SubmitState::Accepted || o.stage.is_final() {
            return Ok(());
        }
        let snapshot = crate::local::snapshot(&o, stage);
        self.apply(&mut tx, &mut o, snapshot, "local_lab").await?;
        self.enqueue_local_next(&mut tx, &o).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Catch-up: re-sends every submission not recorded as accepted (same
    /// key, asking the lab first), queues a re-read of every open lab order,
    /// and re-queues a local lab order's next step if its job was lost. Run
    /// by the `fulfillment.catch_up` job (and at start-up); safe to run at
    /// any time and any number of times.
    pub async fn catch_up(&self) -> Result<CatchUpReport> {
        let mut report = CatchUpReport::default();
        let open = {
            let mut conn = self.db().pool().acquire().await?;
            store::open_ids(&mut conn, Timestamp::now()).await?
        };
        {
            let mut tx = self.db().begin_write().await?;
            store::purge_hints(&mut tx, Timestamp::now().plus_seconds(-HINT_RETENTION_SECS))
                .await?;
            tx.commit().await?;
        }
        for chunk in open.chunks(100) {
            let mut tx = self.db().begin_write().await?;
            for (id, lab, state) in chunk {
                if state == "planned" || state == "sending" {
                    cielo_jobs::enqueue(&mut tx, self.submit_job_for(*id, None)).await?;
                    report.resubmitted += 1;
                } else if *lab == Lab::Local {
                    let o = store::load(&mut tx, self.db().backend(), *id, false).await?;
                    if self.enqueue_local_next(&mut tx, &o).await? {
                        report.local_steps += 1;
                    }
                } else {
                    let job = NewJob::new(
                        jobs::REFRESH,
                        serde_json::json!({ "lab_order_id": id, "cause": "catch_up" }),
                    )
                    .queue(jobs::LAB_QUEUE)
                    .unique_key(format!("{}:{id}:catch_up", jobs::REFRESH));
                    cielo_jobs::enqueue(&mut tx, job).await?;
                    report.polled += 1;
                }
            }
            tx.commit().await?;
        }
        Ok(report)
    }

    /// Queues a re-read of a lab order (a webhook hint, or an admin's
    /// "refresh"); `key` makes distinct hints distinct jobs.
    pub(crate) async fn enqueue_refresh(
        &self,
        conn: &mut AnyConnection,
        id: LabOrderId,
        cause: &str,
        key: &str,
    ) -> Result<()> {
        let job = NewJob::new(
            jobs::REFRESH,
            serde_json::json!({ "lab_order_id": id, "cause": cause }),
        )
        .queue(jobs::LAB_QUEUE)
        .unique_key(format!("{}:{id}:{key}", jobs::REFRESH));
        cielo_jobs::enqueue(conn, job).await?;
        Ok(())
    }

    /// Re-reads a lab order from its lab now and applies it (admin
    /// "refresh"; the same path as a webhook's job).
    pub async fn refresh(&self, id: LabOrderId) -> Result<()> {
        self.refresh_job(id, "admin: refresh")
            .await
            .map_err(|e| Error::LabUnavailable(e.to_string()))
    }

    // ----- admin actions --------------------------------------------------

    /// Sends a refused (or cancelled) lab order again as a new submission:
    /// a new generation and a new external key (Printful keeps the failed
    /// order under the old id; Prodigi never forgets a key), optionally to a
    /// corrected recipient, at once. `cause` goes into the history.
    pub async fn resubmit(
        &self,
        lab_order: LabOrderId,
        new_recipient: Option<Recipient>,
        cause: &str,
    ) -> Result<()> {
        let mut tx = self.db().begin_write().await?;
        let mut o = store::load(&mut tx, self.db().backend(), lab_order, true).await?;
        if !matches!(o.stage, LabStage::Refused | LabStage::Cancelled) {
            return Err(Error::WrongState {
                lab_order_id: lab_order.to_string(),
                stage: o.stage,
                detail: "only a refused or cancelled lab order can be resubmitted".into(),
            });
        }
        o.generation += 1;
        o.external_ref = crate::ids::external_ref(o.lab, &o.order_id, o.generation);
        o.lab_ref = None;
        o.submit_state = SubmitState::Planned;
        o.stage = LabStage::Planned;
        o.raw_status = None;
        o.reason = None;
        o.hold_until = Timestamp::now();
        o.submitted_at = None;
        if let Some(r) = new_recipient {
            o.request.recipient = r;
        }
        store::save(&mut tx, &o).await?;
        store::append_history(&mut tx, o.id, o.stage, None, &format!("resubmit: {cause}")).await?;
        self.publish(&mut tx, &o, &format!("resubmit: {cause}"))
            .await?;
        cielo_jobs::enqueue(&mut tx, self.submit_job_for(o.id, None)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Cancels a lab order: locally when it was not sent yet, else at the
    /// lab. `Err(TooLate)` once it has shipped or the lab will not cancel it.
    pub async fn cancel(&self, lab_order: LabOrderId, cause: &str) -> Result<()> {
        let cause = format!("cancel: {cause}");
        let o = self.load(lab_order).await?;
        match o.submit_state {
            SubmitState::Cancelled => return Ok(()),
            SubmitState::Planned => {
                let mut tx = self.db().begin_write().await?;
                let mut o = store::load(&mut tx, self.db().backend(), lab_order, true).await?;
                if o.submit_state == SubmitState::Planned {
                    o.submit_state = SubmitState::Cancelled;
                    self.apply(&mut tx, &mut o, cancelled_snapshot(), &cause)
                        .await?;
                    tx.commit().await?;
                    return Ok(());
                }
                // It started to be sent meanwhile: go the lab's way.
            }
            SubmitState::Sending => {
                return Err(Error::LabUnavailable(
                    "the submission is being sent; try again in a minute".into(),
                ))
            }
            SubmitState::Refused | SubmitState::Accepted => {}
        }
        let o = self.load(lab_order).await?;
        if o.stage == LabStage::Cancelled {
            return Ok(());
        }
        if matches!(o.stage, LabStage::Shipped | LabStage::Delivered) {
            return Err(Error::TooLate {
                lab_order_id: lab_order.to_string(),
                detail: "it has shipped".into(),
            });
        }
        if o.submit_state == SubmitState::Accepted || o.lab_ref.is_some() {
            let api = self.api(o.lab)?;
            match api.cancel(&o).await {
                Ok(CancelOutcome::Cancelled) => {}
                Ok(CancelOutcome::NotPossible(reason)) if o.stage != LabStage::Refused => {
                    return Err(Error::TooLate {
                        lab_order_id: lab_order.to_string(),
                        detail: format!("the lab will not cancel it: {reason}"),
                    })
                }
                // A refused order the lab will not cancel is dead there anyway.
                Ok(CancelOutcome::NotPossible(_)) | Err(LabError::NotFound) => {}
                Err(e) => return Err(Error::LabUnavailable(e.to_string())),
            }
        }
        let mut tx = self.db().begin_write().await?;
        let mut o = store::load(&mut tx, self.db().backend(), lab_order, true).await?;
        if o.stage == LabStage::Refused {
            // Refused is final for the stage machine; a cancel closes it.
            o.stage = LabStage::Cancelled;
            o.submit_state = SubmitState::Cancelled;
            store::save(&mut tx, &o).await?;
            store::append_history(&mut tx, o.id, o.stage, o.raw_status.as_deref(), &cause).await?;
            self.publish(&mut tx, &o, &cause).await?;
        } else {
            self.apply(&mut tx, &mut o, cancelled_snapshot(), &cause)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Changes the recipient of every lab order of `order_id` whose
    /// recipient it changes (see [`recipient_changes`]): directly while
    /// a submission is not sent (edit window), else through the lab's own
    /// action where it offers one. `Err(TooLate)` when a lab order has
    /// shipped, is being sent, or its lab allows no change.
    pub async fn amend(&self, order_id: &str, recipient: Recipient) -> Result<()> {
        let orders = {
            let mut conn = self.db().pool().acquire().await?;
            store::for_order(&mut conn, order_id).await?
        };
        let too_late = |o: &StoredLabOrder, detail: &str| Error::TooLate {
            lab_order_id: o.id.to_string(),
            detail: detail.to_string(),
        };
        // Refuse before changing anything when one lab order is past changing.
        for o in &orders {
            if matches!(o.stage, LabStage::Shipped | LabStage::Delivered) {
                return Err(too_late(o, "it has shipped"));
            }
            if o.submit_state == SubmitState::Sending {
                return Err(too_late(o, "it is being sent to the lab"));
            }
        }
        for o in orders {
            // Only what a carrier would read differently is a change: an
            // unchanged recipient is neither sent to the lab nor recorded.
            let changed = recipient_changes(&o.request.recipient, &recipient);
            if changed.is_empty() {
                continue;
            }
            match (o.submit_state, o.stage) {
                (SubmitState::Cancelled, _) => continue,
                // Not at the lab, or dead there: the next (re)submission sends it.
                (SubmitState::Planned | SubmitState::Refused, _)
                | (_, LabStage::Refused | LabStage::Cancelled) => {}
                _ => {
                    let api = self.api(o.lab)?;
                    match api.update_recipient(&o, &recipient).await {
                        Ok(true) => {}
                        Ok(false) => return Err(too_late(&o, "the lab allows no change any more")),
                        Err(e) => return Err(Error::LabUnavailable(e.to_string())),
                    }
                }
            }
            let mut tx = self.db().begin_write().await?;
            let mut fresh = store::load(&mut tx, self.db().backend(), o.id, true).await?;
            if fresh.submit_state == SubmitState::Sending {
                return Err(too_late(&fresh, "it is being sent to the lab"));
            }
            fresh.request.recipient = recipient.clone();
            store::save(&mut tx, &fresh).await?;
            store::append_history(
                &mut tx,
                fresh.id,
                fresh.stage,
                fresh.raw_status.as_deref(),
                &format!("amend: recipient changed ({})", changed.join(", ")),
            )
            .await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// Registers our Printful webhook URL with Printful (`POST /webhooks`)
    /// when `register_printful_webhooks` is on and the API token and webhook
    /// token are set. Returns whether it registered.
    pub async fn register_webhooks(&self) -> Result<bool> {
        if !self.inner.settings.register_printful_webhooks {
            return Ok(false);
        }
        let (Some(printful), Some(url)) = (&self.inner.printful, self.webhook_url(Lab::Printful))
        else {
            tracing::warn!("fulfillment.register_printful_webhooks is on but CIELO_PRINTFUL_API_TOKEN or CIELO_PRINTFUL_WEBHOOK_TOKEN is not set");
            return Ok(false);
        };
        printful
            .register_webhooks(&url)
            .await
            .map_err(|e| Error::LabUnavailable(e.to_string()))?;
        tracing::info!("registered the Printful webhook URL");
        Ok(true)
    }

    // ----- quotes -------------------------------------------------------

    /// The lab's shipping cost for these items to `country` (ISO alpha-2),
    /// cached per (lab, products, country, currency) for
    /// `quote_cache_secs`. `None` (use the flat rate) when the lab is not
    /// configured, fails, answers zero, or takes longer than `quote_timeout_ms`.
    pub async fn quote(
        &self,
        lab: Lab,
        items: &[QuoteItem],
        country: &str,
        currency: Currency,
    ) -> Option<Money> {
        if items.is_empty() {
            return None;
        }
        let key = QuoteCache::key(lab, items, country, currency.code());
        let ttl = Duration::from_secs(self.inner.settings.quote_cache_secs);
        if let Some(hit) = self.inner.quotes.get(&key, ttl) {
            return Some(hit);
        }
        let answer = match lab {
            Lab::Local => return None,
            Lab::Printful => {
                let p = self.inner.printful.as_ref()?;
                let quick = Printful {
                    http: self.inner.quote_http.clone(),
                    base: p.base.clone(),
                    token: p.token.clone(),
                    store_id: p.store_id.clone(),
                    shipping: p.shipping.clone(),
                };
                tokio::time::timeout(
                    self.inner.settings.quote_timeout(),
                    quick.quote(items, country, currency),
                )
                .await
            }
            Lab::Prodigi => {
                let p = self.inner.prodigi.as_ref()?;
                let quick = Prodigi {
                    http: self.inner.quote_http.clone(),
                    base: p.base.clone(),
                    api_key: p.api_key.clone(),
                    shipping_method: p.shipping_method.clone(),
                    callback_url: None,
                };
                tokio::time::timeout(
                    self.inner.settings.quote_timeout(),
                    quick.quote(items, country, currency),
                )
                .await
            }
        };
        match answer {
            // A lab answering zero has no price for it: never charge nothing
            // by accident.
            Ok(Ok(Some(money))) if money.amount <= 0 => None,
            Ok(Ok(Some(money))) => {
                self.inner.quotes.put(key, money);
                Some(money)
            }
            Ok(Ok(None)) => None,
            Ok(Err(e)) => {
                tracing::warn!(lab = %lab, error = %e, "shipping quote failed; flat rate applies");
                None
            }
            Err(_) => {
                tracing::warn!(lab = %lab, "shipping quote timed out; flat rate applies");
                None
            }
        }
    }
}

fn cancelled_snapshot() -> LabSnapshot {
    LabSnapshot {
        lab_ref: String::new(),
        raw_status: "cancelled".into(),
        stage: Some(LabStage::Cancelled),
        reason: None,
        shipments: Vec::new(),
    }
}

/// The fields of a recipient (`name`, `line1`, …) that `new` changes from
/// `old`, compared as the address book compares them
/// ([`cielo_core::address::same_field`]): spacing alone, or the case of a
/// postal or country code, changes nothing.
pub fn recipient_changes(old: &Recipient, new: &Recipient) -> Vec<&'static str> {
    use cielo_core::address::same_field;
    let fields: [(&str, Option<&str>, Option<&str>, bool); 9] = [
        ("name", Some(&new.name), Some(&old.name), false),
        ("email", Some(&new.email), Some(&old.email), true),
        ("phone", new.phone.as_deref(), old.phone.as_deref(), true),
        ("line1", Some(&new.line1), Some(&old.line1), false),
        ("line2", new.line2.as_deref(), old.line2.as_deref(), false),
        ("city", Some(&new.city), Some(&old.city), false),
        (
            "region",
            new.region.as_deref(),
            old.region.as_deref(),
            false,
        ),
        (
            "postal_code",
            Some(&new.postal_code),
            Some(&old.postal_code),
            true,
        ),
        ("country", Some(&new.country), Some(&old.country), true),
    ];
    fields
        .into_iter()
        .filter(|(_, n, o, fold)| !same_field(*n, *o, *fold))
        .map(|(name, ..)| name)
        .collect()
}
