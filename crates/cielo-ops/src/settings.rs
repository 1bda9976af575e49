//! `[ops]` settings: reconciliation and alert rules (rules are data).

use serde::{Deserialize, Serialize};

/// `[ops]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpsSettings {
    /// `[ops.reconcile]`
    pub reconcile: ReconcileSettings,
    /// `[[ops.alerts]]`: the alert rules; setting any replaces the defaults.
    pub alerts: Vec<AlertRule>,
    /// `[ops.canary]`
    pub canary: CanarySettings,
}

/// `[ops.canary]`: the synthetic buyer (off by default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CanarySettings {
    /// Run the `ops.canary` job on the schedule below.
    pub enabled: bool,
    /// The shop to walk; default `http.public_url`.
    pub base_url: Option<String>,
    /// A walk slower than this (milliseconds, every step together) alerts.
    pub slow_ms: u64,
    /// Each request's limit, seconds.
    pub timeout_secs: u64,
    /// When it runs (cron, five fields or six with seconds first).
    pub cron: String,
}

impl Default for CanarySettings {
    fn default() -> Self {
        Self {
            enabled: false,
            base_url: None,
            slow_ms: 5000,
            timeout_secs: 30,
            cron: "*/5 * * * *".into(),
        }
    }
}

impl Default for OpsSettings {
    fn default() -> Self {
        Self {
            reconcile: ReconcileSettings::default(),
            alerts: default_rules(),
            canary: CanarySettings::default(),
        }
    }
}

/// `[ops.reconcile]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReconcileSettings {
    /// How far back a pass looks (seconds; default one day and a bit, so an
    /// hourly pass overlaps generously).
    pub window_secs: u64,
    /// Run a pass when a worker or scheduler starts.
    pub on_start: bool,
    /// Payments younger than this (seconds) are still on their way through
    /// the webhook and inbox: not a difference yet.
    pub grace_secs: u64,
}

impl Default for ReconcileSettings {
    fn default() -> Self {
        Self {
            window_secs: 26 * 3600,
            on_start: true,
            grace_secs: 300,
        }
    }
}

/// One alert rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    /// Stable name (alerts are stored under it).
    pub name: String,
    /// What is measured.
    pub condition: Condition,
    /// Fires when the measured value is at least this (default 1).
    #[serde(default = "one")]
    pub threshold: i64,
    /// Channel names: `log`, `webhook`, and those the build adds (`email`, `sms`).
    #[serde(default = "log_only")]
    pub channels: Vec<String>,
    /// While firing, sent again at most this often (minutes; default 60);
    /// a rise in the value is sent at once.
    #[serde(default = "sixty")]
    pub repeat_minutes: u64,
}

fn one() -> i64 {
    1
}
fn sixty() -> u64 {
    60
}
fn log_only() -> Vec<String> {
    vec!["log".into()]
}

/// What a rule measures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// Open reconciliation findings of these kinds (all kinds when empty).
    OpenFindings {
        /// Finding kinds (`unknown_lab_order`, `paid_without_payment`, …).
        #[serde(default)]
        kinds: Vec<String>,
    },
    /// Jobs that exhausted their attempts.
    DeadLetters,
    /// Age of the oldest runnable job, minutes.
    OldestQueuedMinutes,
    /// Orders in `needs_attention`.
    OrdersNeedingAttention,
    /// Payment webhooks refused for their signature in the last `minutes`
    /// (default 5): someone probing, or a secret rotated at the provider only.
    WebhookSignatureFailures {
        /// The window, minutes.
        #[serde(default = "five")]
        minutes: i64,
    },
    /// 5xx answers of the API in the last `minutes` (default 5), counted by
    /// every api process: a failing database, a provider down, a bug.
    ServerErrors {
        /// The window, minutes.
        #[serde(default = "five")]
        minutes: i64,
    },
    /// Lab orders the labs refused in the last `hours` (default 24).
    LabRefusals {
        /// The window, hours.
        #[serde(default = "twenty_four")]
        hours: i64,
    },
    /// The canary's last walk failed or was slow (1) or worked (0):
    /// measured by the `ops.canary` job, not by the minute's evaluation.
    Canary,
    /// Messages (email, SMS) that failed for good or whose outcome is
    /// unknown, changed in the last `hours` (default 24).
    NotificationFailures {
        /// The window, hours.
        #[serde(default = "twenty_four")]
        hours: i64,
    },
}

fn five() -> i64 {
    5
}
fn twenty_four() -> i64 {
    24
}

/// The rules a shop gets without configuring any: the stolen lab key and a
/// paid order without a payment reach the owner at once (email and SMS when
/// the build has those channels, the webhook when configured, the log
/// always); the rest goes to the log and the webhook.
pub fn default_rules() -> Vec<AlertRule> {
    let owner = || {
        vec![
            "log".to_string(),
            "webhook".to_string(),
            "email".to_string(),
            "sms".to_string(),
        ]
    };
    let ops = || vec!["log".to_string(), "webhook".to_string()];
    vec![
        AlertRule {
            name: "lab-order-we-never-placed".into(),
            condition: Condition::OpenFindings {
                kinds: vec!["unknown_lab_order".into()],
            },
            threshold: 1,
            channels: owner(),
            repeat_minutes: 60,
        },
        AlertRule {
            name: "paid-without-payment".into(),
            condition: Condition::OpenFindings {
                kinds: vec!["paid_without_payment".into()],
            },
            threshold: 1,
            channels: owner(),
            repeat_minutes: 60,
        },
        AlertRule {
            name: "open-findings".into(),
            condition: Condition::OpenFindings {
                kinds: vec![
                    "paid_without_order".into(),
                    "lab_status_differs".into(),
                    "amount_mismatch".into(),
                ],
            },
            threshold: 1,
            channels: ops(),
            repeat_minutes: 240,
        },
        AlertRule {
            name: "dead-letters".into(),
            condition: Condition::DeadLetters,
            threshold: 1,
            channels: ops(),
            repeat_minutes: 240,
        },
        AlertRule {
            name: "queue-stalled".into(),
            condition: Condition::OldestQueuedMinutes,
            threshold: 15,
            channels: ops(),
            repeat_minutes: 60,
        },
        AlertRule {
            name: "webhook-signature-failures".into(),
            condition: Condition::WebhookSignatureFailures { minutes: 5 },
            threshold: 10,
            channels: ops(),
            repeat_minutes: 60,
        },
        AlertRule {
            name: "server-errors".into(),
            condition: Condition::ServerErrors { minutes: 5 },
            threshold: 10,
            channels: ops(),
            repeat_minutes: 60,
        },
        AlertRule {
            name: "lab-refusals".into(),
            condition: Condition::LabRefusals { hours: 24 },
            threshold: 1,
            channels: ops(),
            repeat_minutes: 240,
        },
        AlertRule {
            name: "notification-failures".into(),
            condition: Condition::NotificationFailures { hours: 24 },
            threshold: 1,
            channels: ops(),
            repeat_minutes: 240,
        },
        AlertRule {
            name: "canary".into(),
            condition: Condition::Canary,
            threshold: 1,
            channels: vec!["log".into(), "webhook".into(), "email".into()],
            repeat_minutes: 60,
        },
        AlertRule {
            name: "orders-need-attention".into(),
            condition: Condition::OrdersNeedingAttention,
            threshold: 1,
            channels: ops(),
            repeat_minutes: 240,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_read_from_toml_shaped_data() {
        let s: OpsSettings = serde_json::from_value(serde_json::json!({
            "alerts": [{"name": "x", "condition": {"kind": "open_findings", "kinds": ["unknown_lab_order"]}, "channels": ["webhook"]},
                       {"name": "y", "condition": {"kind": "dead_letters"}, "threshold": 3}]
        }))
        .unwrap();
        assert_eq!(s.alerts.len(), 2);
        assert_eq!(s.alerts[1].threshold, 3);
        assert_eq!(s.alerts[1].channels, vec!["log"]);
        assert_eq!(s.reconcile, ReconcileSettings::default());
    }
}
