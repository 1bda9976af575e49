//! In-process counters of a worker, rendered by the integrator (Prometheus
//! text): job durations as a histogram, failures and dead letters by queue.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the job-duration histogram buckets.
pub const DURATION_BUCKETS_SECONDS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0,
];

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
        let c = queues
            .entry(queue.to_string())
            .or_insert_with(|| QueueCounters {
                queue: queue.to_string(),
                ..Default::default()
            });
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
        self.queues
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
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

impl MetricsSnapshot {
    /// The snapshot in the Prometheus text exposition format (version 0.0.4),
    /// for the app's `/metrics`.
    pub fn prometheus_text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let gauge = |out: &mut String,
                     name: &str,
                     help: &str,
                     values: &mut dyn Iterator<Item = (&str, f64)>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for (queue, v) in values {
                let _ = writeln!(out, "{name}{{queue=\"{}\"}} {v}", escape(queue));
            }
        };
        let q = &self.queues;
        gauge(
            &mut out,
            "cielo_jobs_runnable",
            "Jobs runnable now (queue depth).",
            &mut q.iter().map(|s| (s.queue.as_str(), s.runnable as f64)),
        );
        gauge(
            &mut out,
            "cielo_jobs_scheduled",
            "Jobs waiting for a later run time.",
            &mut q.iter().map(|s| (s.queue.as_str(), s.scheduled as f64)),
        );
        gauge(
            &mut out,
            "cielo_jobs_running",
            "Jobs claimed by a worker.",
            &mut q.iter().map(|s| (s.queue.as_str(), s.running as f64)),
        );
        gauge(
            &mut out,
            "cielo_jobs_dead",
            "Dead letters waiting for a person.",
            &mut q.iter().map(|s| (s.queue.as_str(), s.dead as f64)),
        );
        gauge(
            &mut out,
            "cielo_jobs_oldest_runnable_age_seconds",
            "How long the oldest runnable job has waited.",
            &mut q
                .iter()
                .map(|s| (s.queue.as_str(), s.oldest_runnable_age_seconds)),
        );
        let c = &self.counters;
        let _ = writeln!(
            out,
            "# HELP cielo_jobs_attempts_total Attempts finished by this process, by outcome.\n# TYPE cielo_jobs_attempts_total counter"
        );
        for s in c {
            let queue = escape(&s.queue);
            let _ = writeln!(
                out,
                "cielo_jobs_attempts_total{{queue=\"{queue}\",outcome=\"succeeded\"}} {}",
                s.succeeded
            );
            let _ = writeln!(
                out,
                "cielo_jobs_attempts_total{{queue=\"{queue}\",outcome=\"failed\"}} {}",
                s.failed
            );
        }
        let _ = writeln!(out, "# HELP cielo_jobs_dead_letters_total Jobs this process moved to the dead letters.\n# TYPE cielo_jobs_dead_letters_total counter");
        for s in c {
            let _ = writeln!(
                out,
                "cielo_jobs_dead_letters_total{{queue=\"{}\"}} {}",
                escape(&s.queue),
                s.dead
            );
        }
        let _ = writeln!(out, "# HELP cielo_jobs_duration_seconds Duration of job attempts.\n# TYPE cielo_jobs_duration_seconds histogram");
        for s in c {
            let queue = escape(&s.queue);
            for (bound, n) in DURATION_BUCKETS_SECONDS.iter().zip(&s.duration.buckets) {
                let _ = writeln!(
                    out,
                    "cielo_jobs_duration_seconds_bucket{{queue=\"{queue}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "cielo_jobs_duration_seconds_bucket{{queue=\"{queue}\",le=\"+Inf\"}} {}",
                s.duration.count
            );
            let _ = writeln!(
                out,
                "cielo_jobs_duration_seconds_sum{{queue=\"{queue}\"}} {}",
                s.duration.sum_seconds
            );
            let _ = writeln!(
                out,
                "cielo_jobs_duration_seconds_count{{queue=\"{queue}\"}} {}",
                s.duration.count
            );
        }
        out
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_fall_into_cumulative_buckets_per_queue() {
        let m = JobMetrics::default();
        m.record(
            "default",
            Duration::from_millis(3),
            AttemptOutcome::Succeeded,
        );
        m.record("default", Duration::from_millis(700), AttemptOutcome::Dead);
        let s = m.snapshot();
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].succeeded, s[0].failed, s[0].dead), (1, 1, 1));
        assert_eq!(s[0].duration.buckets[0], 0, "3 ms is above 1 ms");
        assert_eq!(s[0].duration.buckets[1], 1, "3 ms is below 5 ms");
        assert_eq!(s[0].duration.buckets[8], 2, "both are below 1 s");
        assert_eq!(s[0].duration.count, 2);
    }

    #[test]
    fn a_snapshot_renders_as_prometheus_text() {
        let m = JobMetrics::default();
        m.record(
            "render",
            Duration::from_millis(30),
            AttemptOutcome::Succeeded,
        );
        let snap = MetricsSnapshot {
            queues: vec![crate::QueueStats {
                queue: "render".into(),
                runnable: 3,
                scheduled: 1,
                running: 2,
                dead: 1,
                oldest_runnable_age_seconds: 4.5,
            }],
            counters: m.snapshot(),
        };
        let text = snap.prometheus_text();
        assert!(
            text.contains("cielo_jobs_runnable{queue=\"render\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("cielo_jobs_oldest_runnable_age_seconds{queue=\"render\"} 4.5\n"),
            "{text}"
        );
        assert!(
            text.contains("cielo_jobs_duration_seconds_bucket{queue=\"render\",le=\"0.05\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("cielo_jobs_duration_seconds_bucket{queue=\"render\",le=\"0.025\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("cielo_jobs_attempts_total{queue=\"render\",outcome=\"succeeded\"} 1\n"),
            "{text}"
        );
    }
}
