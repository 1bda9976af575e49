//! A worker's metrics through the `metrics` facade (see
//! [`cielo_core::telemetry`]): attempts by queue and outcome, dead letters
//! and attempt durations, recorded by the process that ran them; and, when
//! `/metrics` is scraped, the database's view of every queue as gauges.
//!
//! Series (the binary's Prometheus exporter renders them):
//! - `cielo_jobs_attempts_total{queue, outcome="succeeded"|"failed"}` counter;
//! - `cielo_jobs_dead_letters_total{queue}` counter;
//! - `cielo_jobs_duration_seconds{queue}` histogram (buckets
//!   [`DURATION_BUCKETS_SECONDS`]);
//! - `cielo_jobs_runnable`, `cielo_jobs_scheduled`, `cielo_jobs_running`,
//!   `cielo_jobs_dead`, `cielo_jobs_oldest_runnable_age_seconds` gauges
//!   `{queue}`, from [`JobMetrics::record_queue_stats`].

use crate::QueueStats;
use cielo_core::telemetry::MetricsSink;
use metrics::{Counter, Gauge, Histogram, Label};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Upper bounds (seconds) of the job-duration histogram buckets.
pub const DURATION_BUCKETS_SECONDS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0,
];

/// Name of the attempt-duration histogram (for the exporter's buckets).
pub const DURATION_METRIC: &str = "cielo_jobs_duration_seconds";

/// Registers the help text of every job series with the global recorder.
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "cielo_jobs_attempts_total",
        "Job attempts finished by this process, by queue and outcome."
    );
    describe_counter!(
        "cielo_jobs_dead_letters_total",
        "Jobs this process moved to the dead letters."
    );
    describe_histogram!(DURATION_METRIC, Unit::Seconds, "Duration of job attempts.");
    describe_gauge!("cielo_jobs_runnable", "Jobs runnable now (queue depth).");
    describe_gauge!("cielo_jobs_scheduled", "Jobs waiting for a later run time.");
    describe_gauge!("cielo_jobs_running", "Jobs claimed by a worker.");
    describe_gauge!("cielo_jobs_dead", "Dead letters waiting for a person.");
    describe_gauge!(
        "cielo_jobs_oldest_runnable_age_seconds",
        Unit::Seconds,
        "How long the oldest runnable job has waited."
    );
}

/// How an attempt ended, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AttemptOutcome {
    Succeeded,
    Retried,
    Dead,
}

struct QueueHandles {
    succeeded: Counter,
    failed: Counter,
    dead: Counter,
    duration: Histogram,
}

struct QueueGauges {
    runnable: Gauge,
    scheduled: Gauge,
    running: Gauge,
    dead: Gauge,
    oldest_age: Gauge,
}

/// The job metrics of a process: share one between its workers. Handles are
/// registered once per queue, so recording an attempt is a few atomic adds.
#[derive(Default)]
pub struct JobMetrics {
    sink: MetricsSink,
    queues: RwLock<HashMap<String, Arc<QueueHandles>>>,
    gauges: Mutex<HashMap<String, QueueGauges>>,
}

impl std::fmt::Debug for JobMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobMetrics")
            .field("sink", &self.sink)
            .finish()
    }
}

fn queue_label(queue: &str) -> Vec<Label> {
    vec![Label::new("queue", queue.to_string())]
}

impl JobMetrics {
    /// Metrics recorded into `sink` instead of the global recorder.
    pub fn with_sink(sink: MetricsSink) -> Self {
        Self {
            sink,
            ..Default::default()
        }
    }

    fn handles(&self, queue: &str) -> Arc<QueueHandles> {
        if let Some(h) = self
            .queues
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(queue)
        {
            return h.clone();
        }
        let outcome = |o: &'static str| {
            let mut labels = queue_label(queue);
            labels.push(Label::new("outcome", o));
            self.sink.counter("cielo_jobs_attempts_total", labels)
        };
        let h = Arc::new(QueueHandles {
            succeeded: outcome("succeeded"),
            failed: outcome("failed"),
            dead: self
                .sink
                .counter("cielo_jobs_dead_letters_total", queue_label(queue)),
            duration: self.sink.histogram(DURATION_METRIC, queue_label(queue)),
        });
        self.queues
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(queue.to_string())
            .or_insert(h)
            .clone()
    }

    pub(crate) fn record(&self, queue: &str, elapsed: Duration, outcome: AttemptOutcome) {
        let h = self.handles(queue);
        h.duration.record(elapsed.as_secs_f64());
        match outcome {
            AttemptOutcome::Succeeded => h.succeeded.increment(1),
            AttemptOutcome::Retried => h.failed.increment(1),
            AttemptOutcome::Dead => {
                h.failed.increment(1);
                h.dead.increment(1);
            }
        }
    }

    /// Sets the per-queue gauges from the database's view
    /// ([`crate::queue_stats`]); a queue seen before and absent now reads 0.
    pub fn record_queue_stats(&self, stats: &[QueueStats]) {
        let mut gauges = self.gauges.lock().unwrap_or_else(|p| p.into_inner());
        for g in gauges.values() {
            for gauge in [
                &g.runnable,
                &g.scheduled,
                &g.running,
                &g.dead,
                &g.oldest_age,
            ] {
                gauge.set(0.0);
            }
        }
        for s in stats {
            let g = gauges.entry(s.queue.clone()).or_insert_with(|| {
                let gauge = |name| self.sink.gauge(name, queue_label(&s.queue));
                QueueGauges {
                    runnable: gauge("cielo_jobs_runnable"),
                    scheduled: gauge("cielo_jobs_scheduled"),
                    running: gauge("cielo_jobs_running"),
                    dead: gauge("cielo_jobs_dead"),
                    oldest_age: gauge("cielo_jobs_oldest_runnable_age_seconds"),
                }
            });
            g.runnable.set(s.runnable as f64);
            g.scheduled.set(s.scheduled as f64);
            g.running.set(s.running as f64);
            g.dead.set(s.dead as f64);
            g.oldest_age.set(s.oldest_runnable_age_seconds);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

    fn recorder() -> (JobMetrics, PrometheusHandle) {
        let r = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(DURATION_METRIC.into()),
                &DURATION_BUCKETS_SECONDS,
            )
            .unwrap()
            .build_recorder();
        let handle = r.handle();
        (
            JobMetrics::with_sink(MetricsSink::Recorder(Arc::new(r))),
            handle,
        )
    }

    #[test]
    fn attempts_fall_into_cumulative_buckets_per_queue() {
        let (m, prom) = recorder();
        m.record(
            "default",
            Duration::from_millis(3),
            AttemptOutcome::Succeeded,
        );
        m.record("default", Duration::from_millis(700), AttemptOutcome::Dead);
        let text = prom.render();
        for line in [
            "cielo_jobs_attempts_total{queue=\"default\",outcome=\"succeeded\"} 1\n",
            "cielo_jobs_attempts_total{queue=\"default\",outcome=\"failed\"} 1\n",
            "cielo_jobs_dead_letters_total{queue=\"default\"} 1\n",
            // 3 ms is above 1 ms, below 5 ms; both are below 1 s.
            "cielo_jobs_duration_seconds_bucket{queue=\"default\",le=\"0.001\"} 0\n",
            "cielo_jobs_duration_seconds_bucket{queue=\"default\",le=\"0.005\"} 1\n",
            "cielo_jobs_duration_seconds_bucket{queue=\"default\",le=\"1\"} 2\n",
            "cielo_jobs_duration_seconds_count{queue=\"default\"} 2\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }

    #[test]
    fn queue_stats_become_gauges_and_a_drained_queue_reads_zero() {
        let (m, prom) = recorder();
        let stats = |runnable| crate::QueueStats {
            queue: "render".into(),
            runnable,
            scheduled: 1,
            running: 2,
            dead: 1,
            oldest_runnable_age_seconds: 4.5,
        };
        m.record_queue_stats(&[stats(3)]);
        let text = prom.render();
        assert!(
            text.contains("cielo_jobs_runnable{queue=\"render\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("cielo_jobs_oldest_runnable_age_seconds{queue=\"render\"} 4.5\n"),
            "{text}"
        );
        m.record_queue_stats(&[]);
        let text = prom.render();
        assert!(
            text.contains("cielo_jobs_runnable{queue=\"render\"} 0\n"),
            "{text}"
        );
    }
}
