//! Alerts: rules (data, from the settings) evaluated over the shop's own
//! state, sent to channels. An alert fires once when its condition starts,
//! is sent again at most every `repeat_minutes` while it holds (at once
//! when its value rises), and sends "resolved" when it clears. Each firing
//! is a stored row.

use crate::settings::{AlertRule, Condition};
use crate::{AlertId, Ops};
use cielo_core::Timestamp;
use serde::Serialize;
use sqlx::Row;
use std::time::Duration;

/// What a channel is given.
#[derive(Debug, Clone, Serialize)]
pub struct AlertMessage {
    /// The rule.
    pub rule: String,
    /// `firing`, `repeat` or `resolved`.
    pub status: String,
    /// The measured value.
    pub value: i64,
    /// One line for a person (also Slack's `text`).
    pub text: String,
    /// The details (e.g. the findings, with a stolen lab order's recipient and items).
    pub details: serde_json::Value,
}

/// Where alerts go.
#[async_trait::async_trait]
pub trait AlertChannel: Send + Sync {
    /// The name rules refer to (`log`, `webhook`, `email`, `sms`).
    fn name(&self) -> &str;
    /// Sends one message. An error is logged; the next evaluation does not resend.
    async fn send(&self, message: &AlertMessage) -> anyhow::Result<()>;
}

/// The process log (`error` while firing, `info` when resolved).
pub struct LogChannel;

#[async_trait::async_trait]
impl AlertChannel for LogChannel {
    fn name(&self) -> &str {
        "log"
    }
    async fn send(&self, m: &AlertMessage) -> anyhow::Result<()> {
        if m.status == "resolved" {
            tracing::info!(rule = %m.rule, value = m.value, "ALERT RESOLVED: {}", m.text);
        } else {
            tracing::error!(rule = %m.rule, value = m.value, status = %m.status, details = %m.details, "ALERT: {}", m.text);
        }
        Ok(())
    }
}

/// A generic JSON webhook, Slack-compatible: `{"text": …, "alert": {…}}`
/// (Slack shows `text` and ignores the rest).
pub struct WebhookChannel {
    url: String,
    client: reqwest::Client,
}

impl WebhookChannel {
    /// Posts to `url` (a secret: it grants posting to the channel).
    pub fn new(url: String) -> Self {
        Self {
            url,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("HTTP client"),
        }
    }
}

#[async_trait::async_trait]
impl AlertChannel for WebhookChannel {
    fn name(&self) -> &str {
        "webhook"
    }
    async fn send(&self, m: &AlertMessage) -> anyhow::Result<()> {
        let body = serde_json::json!({ "text": m.text, "alert": m });
        let r = self.client.post(&self.url).json(&body).send().await?;
        if !r.status().is_success() {
            anyhow::bail!("alert webhook answered HTTP {}", r.status());
        }
        Ok(())
    }
}

/// An alert as the admin API lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AlertView {
    /// Id (`alr_…`).
    pub id: String,
    /// The rule.
    pub rule: String,
    /// `firing` or `resolved`.
    pub state: String,
    /// The last message.
    pub message: String,
    /// The last measured value.
    pub value: i64,
    /// Messages sent for this firing.
    pub sends: i64,
    /// When it started.
    #[schema(value_type = String)]
    pub fired_at: Timestamp,
    /// Last sent.
    #[schema(value_type = String)]
    pub last_sent_at: Timestamp,
    /// When it cleared.
    #[schema(value_type = Option<String>)]
    pub resolved_at: Option<Timestamp>,
}

fn view(r: &sqlx::any::AnyRow) -> anyhow::Result<AlertView> {
    Ok(AlertView {
        id: r.try_get("id")?,
        rule: r.try_get("rule")?,
        state: r.try_get("state")?,
        message: r.try_get("message")?,
        value: r.try_get("value")?,
        sends: r.try_get("sends")?,
        fired_at: Timestamp::from_micros(r.try_get("fired_at")?),
        last_sent_at: Timestamp::from_micros(r.try_get("last_sent_at")?),
        resolved_at: r
            .try_get::<Option<i64>, _>("resolved_at")?
            .map(Timestamp::from_micros),
    })
}

const COLUMNS: &str = "id, rule, state, message, value, sends, fired_at, last_sent_at, resolved_at";

impl Ops {
    /// The measured value of a rule's condition, a line for a person and details.
    async fn measure(&self, rule: &AlertRule) -> anyhow::Result<(i64, String, serde_json::Value)> {
        Ok(match &rule.condition {
            Condition::OpenFindings { kinds } => {
                let open = self.open_findings_of(kinds).await?;
                let lines: Vec<String> = open
                    .iter()
                    .take(5)
                    .map(|f| format!("{} {}: {}", f.kind.as_str(), f.subject, f.detail))
                    .collect();
                let details = serde_json::json!(open
                    .iter()
                    .map(|f| serde_json::json!({"id": f.id, "kind": f.kind, "subject": f.subject, "detail": f.detail, "theirs": f.theirs, "ours": f.ours}))
                    .collect::<Vec<_>>());
                (
                    open.len() as i64,
                    format!("{} open finding(s). {}", open.len(), lines.join(" | ")),
                    details,
                )
            }
            Condition::DeadLetters => {
                let stats = cielo_jobs::queue_stats(&self.db).await?;
                let dead: i64 = stats.iter().map(|q| q.dead).sum();
                (
                    dead,
                    format!("{dead} dead job(s): see `cielo jobs dead`"),
                    serde_json::json!(stats
                        .iter()
                        .map(|q| (q.queue.clone(), q.dead))
                        .collect::<Vec<_>>()),
                )
            }
            Condition::OldestQueuedMinutes => {
                let stats = cielo_jobs::queue_stats(&self.db).await?;
                let oldest = stats
                    .iter()
                    .map(|q| q.oldest_runnable_age_seconds)
                    .fold(0.0, f64::max);
                let minutes = (oldest / 60.0).floor() as i64;
                (minutes, format!("the oldest runnable job has waited {minutes} min: are the workers running?"), serde_json::json!({"oldest_seconds": oldest}))
            }
            Condition::OrdersNeedingAttention => {
                let page = self
                    .orders
                    .list_orders(cielo_orders::OrderFilter {
                        status: Some(cielo_orders::OrderStatus::NeedsAttention),
                        limit: Some(100),
                        ..Default::default()
                    })
                    .await?;
                let ids: Vec<String> = page.orders.iter().map(|o| o.id.to_string()).collect();
                (
                    ids.len() as i64,
                    format!(
                        "{} order(s) in needs_attention: {}",
                        ids.len(),
                        ids.join(", ")
                    ),
                    serde_json::json!(ids),
                )
            }
            Condition::Canary => anyhow::bail!("the canary job measures this rule"),
            Condition::WebhookSignatureFailures { minutes } => {
                let mut n = self.payments.webhook_signature_failures(*minutes).await?;
                // The email providers' bounce webhooks count too (the
                // notifications domain keeps its own count).
                if let Some(notify) = &self.notify {
                    n += notify.webhook_signature_failures(*minutes).await?;
                }
                (
                    n,
                    format!("{n} webhook(s) (payments, email events) refused for their signature in {minutes} min: someone probing, or the signing secret rotated at the provider and not here"),
                    serde_json::json!({"minutes": minutes}),
                )
            }
            Condition::ServerErrors { minutes } => {
                let n = self.server_errors(*minutes).await?;
                (
                    n,
                    format!("{n} API answer(s) failed with a server error (5xx) in {minutes} min: see the api processes' logs (level error) and /readyz"),
                    serde_json::json!({"minutes": minutes}),
                )
            }
            Condition::LabRefusals { hours } => {
                let since =
                    Timestamp::from_micros(Timestamp::now().as_micros() - hours * 3_600_000_000);
                let n = self.fulfillment.refusals_since(since).await?;
                (
                    n,
                    format!("{n} lab order(s) refused by the lab in {hours} h: change and resubmit them (admin, order page)"),
                    serde_json::json!({"hours": hours}),
                )
            }
            Condition::NotificationFailures { hours } => {
                let failed = self.failed_messages(*hours).await?;
                let ids: Vec<String> = failed.iter().map(|(id, _)| id.clone()).collect();
                (
                    ids.len() as i64,
                    format!(
                        "{} message(s) failed or of unknown outcome in {hours} h: {}",
                        ids.len(),
                        failed
                            .iter()
                            .take(5)
                            .map(|(id, why)| format!("{id} ({why})"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    serde_json::json!(ids),
                )
            }
        })
    }

    /// Messages failed or of unknown outcome changed in the last `hours`:
    /// (id, last error). At most 100 of each status.
    async fn failed_messages(&self, hours: i64) -> anyhow::Result<Vec<(String, String)>> {
        let Some(notify) = &self.notify else {
            return Ok(Vec::new());
        };
        let since = Timestamp::now().as_micros() - hours * 3_600_000_000;
        let mut out = Vec::new();
        for status in ["failed", "unknown"] {
            let page = notify
                .list(&cielo_notify::MessageFilter {
                    status: Some(status.into()),
                    limit: Some(100),
                    ..Default::default()
                })
                .await?;
            out.extend(
                page.messages
                    .into_iter()
                    .filter(|m| m.updated_at.as_micros() >= since)
                    .map(|m| {
                        (
                            m.id.to_string(),
                            m.last_error.unwrap_or_else(|| status.to_string()),
                        )
                    }),
            );
        }
        Ok(out)
    }

    /// Sends to the rule's channels that live outside the database (the log,
    /// the webhook): after the alert's state is committed. Email and SMS are
    /// not here: they are queued in the notifications domain in the same
    /// transaction as the state (see [`Ops::evaluate_alerts`]).
    pub(crate) async fn send_outside(&self, rule: &AlertRule, message: &AlertMessage) {
        for name in &rule.channels {
            if self.notify.is_some() && (name == "email" || name == "sms") {
                continue;
            }
            match self.channels.iter().find(|c| c.name() == name) {
                Some(c) => {
                    let outcome = match c.send(message).await {
                        Ok(()) => "sent",
                        Err(e) => {
                            tracing::warn!(channel = %name, rule = %rule.name, error = %format!("{e:#}"), "could not send an alert");
                            "failed"
                        }
                    };
                    metrics::counter!("cielo_alert_notifications_total",
                        "rule" => rule.name.clone(), "channel" => name.clone(), "outcome" => outcome)
                    .increment(1);
                }
                None => {
                    tracing::debug!(channel = %name, rule = %rule.name, "alert channel not configured in this build");
                }
            }
        }
    }

    /// The rule's email and SMS channels, as the notifications domain names them.
    fn owner_channels(rule: &AlertRule) -> Vec<cielo_notify::Channel> {
        let mut out = Vec::new();
        if rule.channels.iter().any(|c| c == "email") {
            out.push(cielo_notify::Channel::Email);
        }
        if rule.channels.iter().any(|c| c == "sms") {
            out.push(cielo_notify::Channel::Sms);
        }
        out
    }

    /// Evaluates every rule once: fires, repeats or resolves. Returns the
    /// messages sent.
    ///
    /// Exactly once per message: the alert's new state and its email/SMS
    /// (queued in the notifications domain under the key
    /// `ops/<alert id>/<send number>`, unique per message of a firing) commit
    /// together, and the state change is a compare-and-set, so two
    /// evaluators running at once (two schedulers, a pass and the minute
    /// job) send each message once. The log and the webhook are sent after
    /// the commit (at most once).
    pub async fn evaluate_alerts(&self) -> anyhow::Result<Vec<AlertMessage>> {
        let mut sent = Vec::new();
        for rule in &self.settings.alerts {
            if matches!(rule.condition, Condition::Canary) {
                continue;
            }
            let (value, text, details) = match self.measure(rule).await {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(rule = %rule.name, error = %format!("{e:#}"), "could not measure an alert condition");
                    continue;
                }
            };
            metrics::gauge!("cielo_alerts_firing", "rule" => rule.name.clone())
                .set(if value >= rule.threshold { 1.0 } else { 0.0 });
            match self.apply(rule, value, text, details).await {
                Ok(Some(message)) => {
                    self.send_outside(rule, &message).await;
                    sent.push(message);
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(rule = %rule.name, error = %format!("{e:#}"), "could not record an alert");
                }
            }
        }
        Ok(sent)
    }

    /// Moves one rule's alert to its next state given the measured value,
    /// queueing its email/SMS in the same transaction. `None`: nothing to
    /// send (unchanged, or another evaluator got there first).
    pub(crate) async fn apply(
        &self,
        rule: &AlertRule,
        value: i64,
        text: String,
        details: serde_json::Value,
    ) -> anyhow::Result<Option<AlertMessage>> {
        let now = Timestamp::now();
        let firing = sqlx::query(&format!(
            "select {COLUMNS} from ops_alert where rule = $1 and state = 'firing' order by fired_at desc limit 1"
        ))
        .bind(&rule.name)
        .fetch_optional(self.db.pool())
        .await?
        .map(|r| view(&r))
        .transpose()?;
        let holds = value >= rule.threshold;
        let status = match (&firing, holds) {
            (None, true) => "firing",
            (Some(a), true)
                if value > a.value
                    || now.as_micros() - a.last_sent_at.as_micros()
                        >= rule.repeat_minutes as i64 * 60_000_000 =>
            {
                "repeat"
            }
            (Some(a), true) => {
                if value != a.value {
                    sqlx::query("update ops_alert set value = $1 where id = $2")
                        .bind(value)
                        .bind(&a.id)
                        .execute(self.db.pool())
                        .await?;
                }
                return Ok(None);
            }
            (Some(_), false) => "resolved",
            (None, false) => return Ok(None),
        };
        let text = match status {
            "resolved" => format!("[RESOLVED] {}", rule.name),
            "repeat" => format!("[STILL FIRING] {}: {text}", rule.name),
            _ => format!("[FIRING] {}: {text}", rule.name),
        };
        let mut tx = self.db.begin_write().await?;
        let (id, number) = match &firing {
            None => {
                let id = AlertId::new().to_string();
                // The partial unique index on firing rows stops a second
                // evaluator inserting the same firing: its insert fails
                // and it sends nothing.
                let r = sqlx::query("insert into ops_alert (id, rule, state, message, value, sends, fired_at, last_sent_at) values ($1, $2, 'firing', $3, $4, 1, $5, $5)")
                    .bind(&id)
                    .bind(&rule.name)
                    .bind(&text)
                    .bind(value)
                    .bind(now.as_micros())
                    .execute(&mut **tx)
                    .await;
                if let Err(e) = r {
                    tracing::debug!(rule = %rule.name, error = %e, "alert fired by another evaluator");
                    return Ok(None);
                }
                (id, 1)
            }
            Some(a) => {
                let new_state = if status == "resolved" {
                    "resolved"
                } else {
                    "firing"
                };
                let resolved_at = (status == "resolved").then_some(now.as_micros());
                let r = sqlx::query("update ops_alert set state = $1, message = $2, value = $3, sends = sends + 1, last_sent_at = $4, resolved_at = $5 where id = $6 and sends = $7 and state = 'firing'")
                    .bind(new_state)
                    .bind(&text)
                    .bind(value)
                    .bind(now.as_micros())
                    .bind(resolved_at)
                    .bind(&a.id)
                    .bind(a.sends)
                    .execute(&mut **tx)
                    .await?;
                if r.rows_affected() != 1 {
                    return Ok(None);
                }
                (a.id.clone(), a.sends + 1)
            }
        };
        if let Some(notify) = &self.notify {
            let channels = Self::owner_channels(rule);
            if !channels.is_empty() {
                let detail = if status == "resolved" {
                    format!(
                        "The condition of {} has cleared (value now {value}).",
                        rule.name
                    )
                } else {
                    format!(
                        "{text}\n\nDetails:\n{}",
                        serde_json::to_string_pretty(&details).unwrap_or_default()
                    )
                };
                notify
                    .raise_alert_on(
                        &mut tx,
                        &format!("ops/{id}/{number}"),
                        &text,
                        &detail,
                        &channels,
                    )
                    .await?;
                // Queued with the state: the notifications domain counts
                // their delivery (`cielo_notifications_total`).
                for c in &channels {
                    metrics::counter!("cielo_alert_notifications_total",
                        "rule" => rule.name.clone(), "channel" => c.as_str(), "outcome" => "queued")
                    .increment(1);
                }
            }
        }
        tx.commit().await?;
        Ok(Some(AlertMessage {
            rule: rule.name.clone(),
            status: status.into(),
            value,
            text,
            details,
        }))
    }

    /// Alerts, newest first (at most `limit`, 1–500).
    pub async fn alerts(&self, limit: i64) -> anyhow::Result<Vec<AlertView>> {
        self.alerts_in(None, limit).await
    }

    /// Alerts in `state` (`firing` or `resolved`; all when `None`), newest
    /// first, at most `limit` (1–500).
    pub async fn alerts_in(
        &self,
        state: Option<&str>,
        limit: i64,
    ) -> anyhow::Result<Vec<AlertView>> {
        let rows = sqlx::query(&format!(
            "select {COLUMNS} from ops_alert where ($1 is null or state = $1) order by fired_at desc, id desc limit $2"
        ))
        .bind(state)
        .bind(limit.clamp(1, 500))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(view).collect()
    }
}
