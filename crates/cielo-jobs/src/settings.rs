//! Configuration: the `[jobs]` section and `[[schedule]]` entries of the app's TOML.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// The `[jobs]` section. Every key has a default, so an empty section works.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsSettings {
    /// Jobs one worker process runs at the same time, of the queues without
    /// a lane of their own in `queues`.
    pub concurrency: usize,
    /// Most jobs a worker claims ahead of its free slots, so that claims come
    /// in batches (one commit for many jobs) and a slot that frees up finds
    /// its next job already claimed. The worker claims ahead only as much work
    /// as it expects to start within `prefetch_horizon_ms` (from the recent
    /// average job duration), so slow jobs are not hoarded while another
    /// worker is idle. 0 turns claiming ahead off.
    pub prefetch: usize,
    /// See `prefetch`.
    pub prefetch_horizon_ms: u64,
    /// How long a claimed job is reserved for its worker before another may
    /// take it (the visibility timeout). Long jobs extend it with a heartbeat.
    pub lease_seconds: u64,
    /// The longest a worker waits before looking for jobs again when nothing
    /// woke it (wake-ups come from LISTEN/NOTIFY or in-process enqueues).
    pub poll_interval_ms: u64,
    /// Outcomes (success, failure) that arrive within this time share one
    /// commit. A finished job's row stays `running` that much longer; if the
    /// process dies in between, the job runs again (at least once).
    pub outcome_interval_ms: u64,
    /// How often a worker returns jobs with expired leases to the queue.
    pub reap_interval_ms: u64,
    /// How long shutdown waits for running jobs before releasing them.
    pub shutdown_timeout_seconds: u64,
    /// First retry delay; it doubles per attempt, with jitter.
    pub backoff_base_ms: u64,
    /// Cap on the retry delay.
    pub backoff_max_ms: u64,
    /// How long dispatched outbox events are kept (for inspection).
    pub event_retention_hours: u64,
    /// How often the scheduler checks its cron entries.
    pub scheduler_interval_ms: u64,
    /// Queues with a lane of their own, e.g. `[jobs.queues.render]
    /// concurrency = 2`: a worker runs up to that many jobs of the queue at
    /// once, next to (not out of) the `concurrency` shared by the others.
    /// For work that waits on the network (calls to a print lab) or takes
    /// the CPU for long (renders), so it neither takes the shared slots nor
    /// waits behind them.
    pub queues: BTreeMap<String, QueueSettings>,
    /// How jobs travel from the enqueuing transaction to the worker that runs
    /// them: `database` (the `jobs_job` table, claimed by workers) or `sqs`
    /// (committed jobs are relayed to Amazon SQS and consumed from there).
    pub transport: Transport,
    /// The `[jobs.sqs]` section, used when `transport = "sqs"`.
    pub sqs: SqsSettings,
}

/// How jobs reach workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Workers claim jobs from the database table (the default).
    #[default]
    Database,
    /// Jobs are enqueued in the database (the outbox) and a relay moves each
    /// committed, due job to Amazon SQS; workers (or a Lambda function)
    /// consume the SQS queue.
    Sqs,
}

/// The `[jobs.sqs]` section.
///
/// ```toml
/// [jobs]
/// transport = "sqs"
/// [jobs.sqs]
/// queue_url = "https://sqs.eu-west-1.amazonaws.com/123456789012/cielo-jobs"
/// [jobs.sqs.queues]
/// render = "https://sqs.eu-west-1.amazonaws.com/123456789012/cielo-render.fifo"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SqsSettings {
    /// The SQS queue that carries jobs of every job queue not listed in
    /// `queues`. Required with `transport = "sqs"`.
    pub queue_url: Option<String>,
    /// Job queue name → SQS queue URL, for job queues that get their own SQS
    /// queue (e.g. slow renders apart from quick notifications).
    pub queues: BTreeMap<String, String>,
    /// Signing region; default `AWS_REGION`.
    pub region: Option<String>,
    /// Service endpoint; default `AWS_ENDPOINT_URL_SQS`, `AWS_ENDPOINT_URL`,
    /// else `https://sqs.<region>.amazonaws.com`.
    pub endpoint: Option<String>,
    /// Long-poll wait of a worker process's receive, in seconds (0–20).
    pub wait_seconds: u64,
    /// FIFO queues (URL ending in `.fifo`): the payload field whose value is
    /// the message group, so that jobs about the same thing (e.g. the same
    /// `order_id`) run in order while others run in parallel. Jobs without
    /// the field form a group of one.
    pub group_field: Option<String>,
}

impl Default for SqsSettings {
    fn default() -> Self {
        Self {
            queue_url: None,
            queues: BTreeMap::new(),
            region: None,
            endpoint: None,
            wait_seconds: 20,
            group_field: None,
        }
    }
}

/// Settings of one named queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSettings {
    /// Most jobs of this queue one worker process runs (or holds) at once.
    pub concurrency: usize,
}

impl Default for JobsSettings {
    fn default() -> Self {
        Self {
            concurrency: 10,
            prefetch: 1000,
            prefetch_horizon_ms: 50,
            lease_seconds: 60,
            poll_interval_ms: 1000,
            outcome_interval_ms: 20,
            reap_interval_ms: 5000,
            shutdown_timeout_seconds: 30,
            backoff_base_ms: 1000,
            backoff_max_ms: 3_600_000,
            event_retention_hours: 168,
            scheduler_interval_ms: 1000,
            queues: BTreeMap::new(),
            transport: Transport::Database,
            sqs: SqsSettings::default(),
        }
    }
}

impl JobsSettings {
    /// The lease time (and an SQS message's visibility timeout).
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_seconds.max(1))
    }
    pub(crate) fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms.max(1))
    }
    pub(crate) fn outcome_interval(&self) -> Duration {
        Duration::from_millis(self.outcome_interval_ms)
    }
    pub(crate) fn reap_interval(&self) -> Duration {
        Duration::from_millis(self.reap_interval_ms.max(10))
    }
    pub(crate) fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_seconds)
    }
    /// The delay before retry number `attempt` (1-based: the attempt that just
    /// failed): `base * 2^(attempt-1)`, capped, then "equal jitter" (half fixed,
    /// half random) so that jobs failing together do not retry together.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(40);
        let full = self
            .backoff_base_ms
            .saturating_mul(1u64 << exp)
            .min(self.backoff_max_ms);
        let half = full / 2;
        let jitter = if half > 0 {
            rand::Rng::gen_range(&mut rand::thread_rng(), 0..=half)
        } else {
            0
        };
        Duration::from_millis(full - half + jitter)
    }
}

/// One periodic job: a `[[schedule]]` entry of the app's TOML.
///
/// ```toml
/// [[schedule]]
/// name = "payment-catch-up"
/// cron = "*/5 * * * *"        # five fields, or six with seconds first
/// kind = "payments.catch_up"  # the job kind enqueued at each tick
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleEntry {
    /// Stable name; the scheduler's state is keyed by it.
    pub name: String,
    /// Cron expression (5 fields, or 6 with seconds first).
    pub cron: String,
    /// Job kind to enqueue at each tick.
    pub kind: String,
    /// Queue of the job.
    #[serde(default = "default_queue")]
    pub queue: String,
    /// Payload of the job; the tick time is added as `"tick"`.
    #[serde(default = "empty_object")]
    pub payload: serde_json::Value,
    /// Attempts before the job is dead.
    #[serde(default = "default_schedule_attempts")]
    pub max_attempts: u32,
    /// IANA time zone the expression is read in (default UTC).
    #[serde(default)]
    pub timezone: Option<String>,
}

pub(crate) fn default_queue() -> String {
    "default".to_string()
}
fn empty_object() -> serde_json::Value {
    serde_json::json!({})
}
fn default_schedule_attempts() -> u32 {
    3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let s = JobsSettings {
            backoff_base_ms: 1000,
            backoff_max_ms: 10_000,
            ..Default::default()
        };
        for _ in 0..50 {
            let d1 = s.backoff(1).as_millis();
            assert!((500..=1000).contains(&d1), "first retry {d1}");
            let d3 = s.backoff(3).as_millis();
            assert!((2000..=4000).contains(&d3), "third retry {d3}");
            let d20 = s.backoff(20).as_millis();
            assert!((5000..=10_000).contains(&d20), "capped {d20}");
        }
    }

    #[test]
    fn an_empty_section_takes_the_defaults() {
        let s: JobsSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(s, JobsSettings::default());
        let e: ScheduleEntry =
            serde_json::from_str(r#"{"name":"n","cron":"* * * * *","kind":"k"}"#).unwrap();
        assert_eq!(e.queue, "default");
        assert_eq!(e.max_attempts, 3);
    }
}
