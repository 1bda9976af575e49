//! In-process counters of a worker, rendered by the integrator (Prometheus
//! text): job durations as a histogram, failures and dead letters by queue.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the job-duration histogram buckets.
pub const DURATION_BUCKETS_SECONDS: [f64; 12] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0];

/// A cumulative histogram (Prometheus style): `buckets[i]` counts durations
/// up to `DURATION_BUCKETS_SECONDS[i]`; `count` includes the `+Inf` bucket.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DurationHistogram {
    /// Cumulative counts, one per bound of [`DURATION_BUCKETS_SECONDS`].
    pub buckets: Vec<u64>,
    /// Number of observations.
    pub count: u64,
    /// Sum of the observations, in seconds.
    pub sum_seconds: f64,
}

impl DurationHistogram {
    fn observe(&mut self, d: Duration) {
        if self.buckets.is_empty() {
            self.buckets = vec![0; DURATION_BUCKETS_SECONDS.len()];
        }
        let s = d.as_secs_f64();
        for (i, bound) in DURATION_BUCKETS_SECONDS.iter().enumerate() {
            if s <= *bound {
                self.buckets[i] += 1;
            }
        }
        self.count += 1;
        self.sum_seconds += s;
    }
}

/// Counters of one queue since the process started.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct QueueCounters {
    /// The queue.
    pub queue: String,
    /// Attempts that succeeded.
    pub succeeded: u64,
    /// Attempts that failed (retried or dead).
    pub failed: u64,
    /// Jobs that went to the dead letters.
    pub dead: u64,
    /// Durations of all attempts.
    pub duration: DurationHistogram,
}

/// How an attempt ended, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AttemptOutcome {
    Succeeded,
    Retried,
    Dead,
}

/// The in-process counters; share one between the workers of a process.
#[derive(Debug, Default)]
pub struct JobMetrics {
    queues: Mutex<BTreeMap<String, QueueCounters>>,
}

impl JobMetrics {
    pub(crate) fn record(&self, queue: &str, elapsed: Duration, outcome: AttemptOutcome) {
        let mut queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
        let c = queues.entry(queue.to_string()).or_insert_with(|| QueueCounters { queue: queue.to_string(), ..Default::default() });
        c.duration.observe(elapsed);
        match outcome {
            AttemptOutcome::Succeeded => c.succeeded += 1,
            AttemptOutcome::Retried => c.failed += 1,
            AttemptOutcome::Dead => {
                c.failed += 1;
                c.dead += 1;
            }
        }
    }

    /// The counters of every queue seen so far.
    pub fn snapshot(&self) -> Vec<QueueCounters> {
        self.queues.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect()
    }
}

/// Everything `/metrics` shows about jobs: the database's view (depth, age,
/// dead letters per queue) and this process's counters.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MetricsSnapshot {
    /// Per-queue state from the database.
    pub queues: Vec<crate::QueueStats>,
    /// Per-queue counters of this process.
    pub counters: Vec<QueueCounters>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_fall_into_cumulative_buckets_per_queue() {
        let m = JobMetrics::default();
        m.record("default", Duration::from_millis(3), AttemptOutcome::Succeeded);
        m.record("default", Duration::from_millis(700), AttemptOutcome::Dead);
        let s = m.snapshot();
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].succeeded, s[0].failed, s[0].dead), (1, 1, 1));
        assert_eq!(s[0].duration.buckets[0], 0, "3 ms is above 1 ms");
        assert_eq!(s[0].duration.buckets[1], 1, "3 ms is below 5 ms");
        assert_eq!(s[0].duration.buckets[8], 2, "both are below 1 s");
        assert_eq!(s[0].duration.count, 2);
    }
}
