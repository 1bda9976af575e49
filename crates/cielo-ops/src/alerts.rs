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
        })
    }

    async fn send(&self, rule: &AlertRule, message: &AlertMessage) {
        for name in &rule.channels {
            match self.channels.iter().find(|c| c.name() == name) {
                Some(c) => {
                    if let Err(e) = c.send(message).await {
                        tracing::warn!(channel = %name, rule = %rule.name, error = %format!("{e:#}"), "could not send an alert");
                    }
                }
                None => {
                    tracing::debug!(channel = %name, rule = %rule.name, "alert channel not configured in this build");
                }
            }
        }
    }

    /// Evaluates every rule once: fires, repeats or resolves. Returns the
    /// messages sent.
    pub async fn evaluate_alerts(&self) -> anyhow::Result<Vec<AlertMessage>> {
        let mut sent = Vec::new();
        let now = Timestamp::now();
        for rule in &self.settings.alerts {
            let (value, text, details) = match self.measure(rule).await {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(rule = %rule.name, error = %format!("{e:#}"), "could not measure an alert condition");
                    continue;
                }
            };
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
                    sqlx::query("update ops_alert set value = $1 where id = $2")
                        .bind(value)
                        .bind(&a.id)
                        .execute(self.db.pool())
                        .await?;
                    continue;
                }
                (Some(_), false) => "resolved",
                (None, false) => continue,
            };
            let text = match status {
                "resolved" => format!("[RESOLVED] {}", rule.name),
                "repeat" => format!("[STILL FIRING] {}: {text}", rule.name),
                _ => format!("[FIRING] {}: {text}", rule.name),
            };
            let message = AlertMessage {
                rule: rule.name.clone(),
                status: status.into(),
                value,
                text: text.clone(),
                details,
            };
            match (status, firing) {
                ("firing", _) => {
                    sqlx::query("insert into ops_alert (id, rule, state, message, value, sends, fired_at, last_sent_at) values ($1, $2, 'firing', $3, $4, 1, $5, $5)")
                        .bind(AlertId::new().to_string())
                        .bind(&rule.name)
                        .bind(&text)
                        .bind(value)
                        .bind(now.as_micros())
                        .execute(self.db.pool())
                        .await?;
                }
                ("repeat", Some(a)) => {
                    sqlx::query("update ops_alert set message = $1, value = $2, sends = sends + 1, last_sent_at = $3 where id = $4")
                        .bind(&text)
                        .bind(value)
                        .bind(now.as_micros())
                        .bind(&a.id)
                        .execute(self.db.pool())
                        .await?;
                }
                (_, Some(a)) => {
                    sqlx::query("update ops_alert set state = 'resolved', message = $1, value = $2, sends = sends + 1, last_sent_at = $3, resolved_at = $3 where id = $4")
                        .bind(&text)
                        .bind(value)
                        .bind(now.as_micros())
                        .bind(&a.id)
                        .execute(self.db.pool())
                        .await?;
                }
                _ => continue,
            }
            self.send(rule, &message).await;
            sent.push(message);
        }
        Ok(sent)
    }

    /// Alerts, newest first (at most `limit`, 1–500).
    pub async fn alerts(&self, limit: i64) -> anyhow::Result<Vec<AlertView>> {
        let rows = sqlx::query(&format!(
            "select {COLUMNS} from ops_alert order by fired_at desc, id desc limit $1"
        ))
        .bind(limit.clamp(1, 500))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(view).collect()
    }
}
