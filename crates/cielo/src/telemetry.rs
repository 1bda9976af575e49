//! Logging (JSON lines in production, readable text on a terminal) and the
//! process's metrics recorder (Prometheus, rendered by `/metrics`).

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::io::IsTerminal;
use std::sync::OnceLock;
use std::time::Duration;
use tracing_subscriber::{fmt, prelude::*, EnvFilter};

/// Installs the global subscriber, without traces. `RUST_LOG` overrides the
/// configured level.
pub fn init(format: &str, level: &str) {
    init_with_traces(format, level, "off");
}

/// Installs the global subscriber. `RUST_LOG` overrides the configured
/// level. `traces` is the `log.traces` setting: with the `otel` feature,
/// spans are also exported as OpenTelemetry traces when it is `on`, or
/// `auto` with an OTLP endpoint in the environment (call [`shutdown`] before
/// the process exits); without the feature it is ignored.
pub fn init_with_traces(format: &str, level: &str, traces: &str) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info")));
    let json = match format {
        "json" => true,
        "pretty" => false,
        _ => !std::io::stderr().is_terminal(),
    };
    let registry = tracing_subscriber::registry().with(filter);
    #[cfg(feature = "otel")]
    let registry = registry.with(crate::otel::layer(traces));
    #[cfg(not(feature = "otel"))]
    if traces == "on" {
        eprintln!("warning: log.traces = \"on\", but this build has no `otel` feature: no traces are exported");
    }
    if json {
        let _ = registry
            .with(
                fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(std::io::stderr),
            )
            .try_init();
    } else {
        let _ = registry
            .with(fmt::layer().compact().with_writer(std::io::stderr))
            .try_init();
    }
}

/// Exports the traces still buffered (with the `otel` feature; otherwise
/// nothing). Call at the end of `main`, outside the async runtime.
pub fn shutdown() {
    #[cfg(feature = "otel")]
    crate::otel::shutdown();
}

/// Buckets (seconds) of every other latency histogram: the order's steps
/// (payment to paid, paid to lab, …) take from milliseconds to hours.
pub const STEP_BUCKETS_SECONDS: [f64; 14] = [
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0,
];

fn builder() -> PrometheusBuilder {
    PrometheusBuilder::new()
        .set_buckets(&STEP_BUCKETS_SECONDS)
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full(cielo_http::metrics::DURATION_METRIC.into()),
                &cielo_http::metrics::BUCKETS,
            )
        })
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full(cielo_jobs::DURATION_METRIC.into()),
                &cielo_jobs::DURATION_BUCKETS_SECONDS,
            )
        })
        .expect("the bucket lists are not empty")
}

/// The process's Prometheus recorder, installed as the `metrics` facade's
/// global recorder on first use (later calls return the same handle). The
/// domains record through the facade's macros into it. A thread drains
/// histogram samples into their buckets every 5 seconds, so memory stays
/// flat between scrapes.
pub fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = builder().build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("another metrics recorder is installed: /metrics shows less");
            }
            cielo_payments::describe_metrics();
            cielo_fulfillment::describe_metrics();
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || loop {
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                })
                .expect("a thread starts");
            handle
        })
        .clone()
}

/// The recorder of one application's HTTP and job metrics (the hot paths
/// that keep their handles), apart from the global one: several applications
/// in one process (tests) then count only their own requests. `/metrics`
/// renders both; the application runs this one's upkeep.
pub fn app_metrics() -> (cielo_core::telemetry::MetricsSink, PrometheusHandle) {
    let recorder = builder().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        cielo_http::metrics::describe();
        cielo_jobs::describe_metrics();
    });
    (
        cielo_core::telemetry::MetricsSink::Recorder(std::sync::Arc::new(recorder)),
        handle,
    )
}
