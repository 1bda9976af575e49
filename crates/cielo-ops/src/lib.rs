//! Operations: the shop watching itself.
//!
//! * **Reconciliation** ([`Ops::reconcile`]): over a window, the payment
//!   provider's paid sessions are compared with our paid orders, and each
//!   print lab's orders with our lab submissions. Every difference is a
//!   stored [`Finding`] (kind, both sides' facts, state). What can be fixed
//!   safely is fixed through the normal paths (the payments inbox, the
//!   lab's forward-only refresh); the rest waits for a person.
//! * **Alerts** ([`alerts`]): rules as data over the shop's own state (open
//!   findings, dead letters, queue age, orders needing attention), sent to
//!   channels (the log, a JSON webhook, and whatever the binary adds), fired
//!   once, repeated at most every interval, resolved when the condition clears.
//!
//! It reads other domains only through their public APIs.

pub mod alerts;
pub mod canary;
pub mod findings;
pub mod reconcile;
pub mod settings;

pub use alerts::{AlertChannel, AlertMessage, AlertView, LogChannel, WebhookChannel};
pub use canary::{CanaryReport, CanaryStep};
pub use findings::{Finding, FindingKind, FindingState};
pub use reconcile::ReconcileReport;
pub use settings::{AlertRule, CanarySettings, Condition, OpsSettings};

use cielo_core::Timestamp;
use cielo_db::sqlx;
use cielo_db::Db;
use std::sync::Arc;

/// Job kind: one reconciliation pass (payload `{"since_secs": N}` optional).
pub const KIND_RECONCILE: &str = "ops.reconcile";
/// Job kind: evaluate the alert rules once.
pub const KIND_ALERTS: &str = "ops.alerts";
/// Job kind: walk the store path once (the canary) and move its alerts.
pub const KIND_CANARY: &str = "ops.canary";

cielo_core::typed_id!(FindingId, "fnd", "A reconciliation finding.");
cielo_core::typed_id!(AlertId, "alr", "One firing of an alert rule.");

/// The operations domain's migrations.
pub const MIGRATIONS: cielo_db::MigrationSet = cielo_db::MigrationSet {
    domain: "ops",
    migrations: &[
        cielo_db::migration!(20261129110000, "ops"),
        cielo_db::migration!(20261129130000, "one_firing_alert_per_rule"),
        cielo_db::migration!(20261129140000, "server_errors"),
    ],
};

/// The operations service; cheap to clone.
#[derive(Clone)]
pub struct Ops {
    pub(crate) db: Db,
    pub(crate) settings: Arc<OpsSettings>,
    pub(crate) orders: cielo_orders::Orders,
    pub(crate) payments: Arc<cielo_payments::Payments>,
    pub(crate) fulfillment: cielo_fulfillment::Fulfillment,
    pub(crate) channels: Arc<Vec<Arc<dyn AlertChannel>>>,
    /// Email and SMS to the owner: queued in the same transaction as the
    /// alert's state.
    pub(crate) notify: Option<cielo_notify::Notify>,
    /// The shop's public URL: where the canary walks unless told otherwise.
    pub(crate) public_url: String,
}

impl std::fmt::Debug for Ops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ops")
            .field(
                "channels",
                &self.channels.iter().map(|c| c.name()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Ops {
    /// The service. Channels: `log` always; `webhook` when
    /// `alert_webhook_url` is given (a secret: from the environment).
    pub fn new(
        db: Db,
        settings: OpsSettings,
        orders: cielo_orders::Orders,
        payments: Arc<cielo_payments::Payments>,
        fulfillment: cielo_fulfillment::Fulfillment,
        alert_webhook_url: Option<String>,
    ) -> Self {
        let mut channels: Vec<Arc<dyn AlertChannel>> = vec![Arc::new(LogChannel)];
        if let Some(url) = alert_webhook_url.filter(|u| !u.is_empty()) {
            channels.push(Arc::new(WebhookChannel::new(url)));
        }
        Self {
            db,
            settings: Arc::new(settings),
            orders,
            payments,
            fulfillment,
            channels: Arc::new(channels),
            notify: None,
            public_url: String::new(),
        }
    }

    /// The shop's public URL (`http.public_url`), walked by the canary job
    /// unless `ops.canary.base_url` is set.
    pub fn with_public_url(mut self, url: &str) -> Self {
        self.public_url = url.to_string();
        self
    }

    /// Sends the rules' `email` and `sms` channels to the shop owner
    /// (`notify.owner_email`, `notify.owner_phone`) through the
    /// notifications domain, exactly once per alert message.
    pub fn with_notify(mut self, notify: cielo_notify::Notify) -> Self {
        self.notify = Some(notify);
        self
    }

    /// Adds a channel (e.g. email or SMS to the owner through the
    /// notifications domain); a channel of the same name is replaced.
    pub fn with_channel(mut self, channel: Arc<dyn AlertChannel>) -> Self {
        let mut list: Vec<_> = self
            .channels
            .iter()
            .filter(|c| c.name() != channel.name())
            .cloned()
            .collect();
        list.push(channel);
        self.channels = Arc::new(list);
        self
    }

    /// The settings in force.
    pub fn settings(&self) -> &OpsSettings {
        &self.settings
    }

    /// Registers `ops.reconcile`, `ops.alerts` and `ops.canary`.
    pub fn register(&self, registry: &mut cielo_jobs::Registry) {
        let me = self.clone();
        registry.handle(KIND_RECONCILE, move |_ctx, payload| {
            let me = me.clone();
            async move {
                let since = payload["since_secs"]
                    .as_u64()
                    .unwrap_or(me.settings.reconcile.window_secs);
                let report = me.reconcile(since).await?;
                tracing::info!(
                    findings = report.findings.len(),
                    errors = report.errors.len(),
                    "reconciliation pass"
                );
                Ok(())
            }
        });
        let me = self.clone();
        registry.handle(KIND_CANARY, move |_ctx, _payload| {
            let me = me.clone();
            async move {
                let report = me.canary(&me.public_url).await?;
                tracing::info!(
                    ok = report.ok,
                    slow = report.slow,
                    ms = report.total_ms,
                    "canary walk"
                );
                Ok(())
            }
        });
        let me = self.clone();
        registry.handle(KIND_ALERTS, move |_ctx, _payload| {
            let me = me.clone();
            async move {
                me.evaluate_alerts().await?;
                Ok(())
            }
        });
    }
}

impl Ops {
    /// Counts one 5xx answer of the API (per minute, shared by every api
    /// process), for the `server_errors` alert condition.
    pub async fn count_server_error(&self) -> anyhow::Result<()> {
        let minute = Timestamp::now().as_unix_seconds().div_euclid(60);
        sqlx::query(
            "insert into ops_server_error (minute, count) values ($1, 1) \
             on conflict (minute) do update set count = ops_server_error.count + 1",
        )
        .bind(minute)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// 5xx answers counted in the last `minutes` minutes, this one included.
    pub(crate) async fn server_errors(&self, minutes: i64) -> anyhow::Result<i64> {
        let minute = Timestamp::now().as_unix_seconds().div_euclid(60);
        let n: Option<i64> = sqlx::query_scalar(
            "select cast(coalesce(sum(count), 0) as bigint) from ops_server_error where minute > $1",
        )
        .bind(minute - minutes.max(1))
        .fetch_one(self.db.pool())
        .await?;
        Ok(n.unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_engines_list_the_same_migrations() {
        cielo_db::check_set(&super::MIGRATIONS).unwrap();
    }
}
