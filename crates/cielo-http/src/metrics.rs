//! HTTP metrics through the `metrics` facade (see [`cielo_core::telemetry`]),
//! and the `/metrics` text of the process's Prometheus exporter.
//!
//! Series:
//! - `cielo_http_requests_total{route, method, status}` counter;
//! - `cielo_http_request_duration_seconds{route}` histogram (buckets
//!   [`BUCKETS`]);
//! - `cielo_orders{status}` gauge: orders in each status, read from the
//!   orders domain when `/metrics` is scraped.
//!
//! `route` is the matched route's template (`/api/store/products/{id_or_handle}`),
//! never the raw path, which would make a series per product id; requests
//! that matched no API route count as `other`.

use cielo_core::telemetry::MetricsSink;
use metrics::{Counter, Histogram, Label};
use metrics_exporter_prometheus::PrometheusHandle;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Upper bounds of the request-latency buckets, in seconds.
pub const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Name of the request-latency histogram (for the exporter's buckets).
pub const DURATION_METRIC: &str = "cielo_http_request_duration_seconds";

/// Registers the help text of the HTTP series with the global recorder.
pub fn describe() {
    metrics::describe_counter!(
        "cielo_http_requests_total",
        "HTTP requests by route, method and status."
    );
    metrics::describe_histogram!(
        DURATION_METRIC,
        metrics::Unit::Seconds,
        "HTTP request latency by route, from the request head to the answer's head."
    );
    metrics::describe_gauge!("cielo_orders", "Orders in each status.");
}

/// The handles one kind of answer records into: its route's latency
/// histogram and its (route, method, status) counter. Kept by the response
/// cache with a cached answer, so a hit records without any lookup.
pub(crate) struct AnswerMetrics {
    latency: Histogram,
    count: Counter,
}

impl AnswerMetrics {
    /// Counts one answer that took `secs`.
    pub(crate) fn record(&self, secs: f64) {
        self.latency.record(secs);
        self.count.increment(1);
    }
}

/// The handles of one route. A route sees a handful of (method, status)
/// pairs: a short list, read-locked on every request, write-locked only for
/// a pair not seen before.
struct RouteMetrics {
    route: Box<str>,
    latency: Histogram,
    answers: RwLock<Vec<(&'static str, u16, Arc<AnswerMetrics>)>>,
}

/// The HTTP metrics of a process, and the exporter `/metrics` renders.
#[derive(Default)]
pub struct Metrics {
    sink: MetricsSink,
    exporters: Vec<PrometheusHandle>,
    routes: RwLock<HashMap<Box<str>, Arc<RouteMetrics>>>,
    order_gauges: std::sync::Mutex<HashMap<String, metrics::Gauge>>,
}

pub(crate) fn method_name(m: &http::Method) -> &'static str {
    match *m {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::PATCH => "PATCH",
        http::Method::DELETE => "DELETE",
        http::Method::HEAD => "HEAD",
        http::Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

impl Metrics {
    /// Metrics registered in `sink`; `/metrics` renders `exporters` one
    /// after the other (each holds other series).
    pub fn new(sink: MetricsSink, exporters: Vec<PrometheusHandle>) -> Self {
        Self {
            sink,
            exporters,
            routes: RwLock::default(),
            order_gauges: Default::default(),
        }
    }

    /// Sets `cielo_orders{status}` from `(status, count)` pairs; a status
    /// seen before and absent now reads 0.
    pub fn record_order_counts(&self, counts: &[(String, i64)]) {
        let mut gauges = self.order_gauges.lock().expect("metrics lock");
        for g in gauges.values() {
            g.set(0.0);
        }
        for (status, n) in counts {
            gauges
                .entry(status.clone())
                .or_insert_with(|| {
                    self.sink
                        .gauge("cielo_orders", vec![Label::new("status", status.clone())])
                })
                .set(*n as f64);
        }
    }

    fn route(&self, route: &str) -> Arc<RouteMetrics> {
        if let Some(r) = self.routes.read().expect("metrics lock").get(route) {
            return r.clone();
        }
        let r = Arc::new(RouteMetrics {
            route: route.into(),
            latency: self.sink.histogram(
                DURATION_METRIC,
                vec![Label::new("route", route.to_string())],
            ),
            answers: RwLock::default(),
        });
        self.routes
            .write()
            .expect("metrics lock")
            .entry(route.into())
            .or_insert(r)
            .clone()
    }

    /// The handles of `route`'s answers with this method and status.
    pub(crate) fn answer(
        &self,
        route: &str,
        method: &'static str,
        status: u16,
    ) -> Arc<AnswerMetrics> {
        let r = self.route(route);
        if let Some((_, _, a)) = r
            .answers
            .read()
            .expect("metrics lock")
            .iter()
            .find(|(m, s, _)| *m == method && *s == status)
        {
            return a.clone();
        }
        let mut answers = r.answers.write().expect("metrics lock");
        if let Some((_, _, a)) = answers
            .iter()
            .find(|(m, s, _)| *m == method && *s == status)
        {
            return a.clone();
        }
        let a = Arc::new(AnswerMetrics {
            latency: r.latency.clone(),
            count: self.sink.counter(
                "cielo_http_requests_total",
                vec![
                    Label::new("route", r.route.to_string()),
                    Label::new("method", method),
                    Label::new("status", status.to_string()),
                ],
            ),
        });
        answers.push((method, status, a.clone()));
        a
    }

    /// Counts one answer of `route` and observes its latency.
    pub(crate) fn record(&self, route: &str, method: &'static str, status: u16, secs: f64) {
        self.answer(route, method, status).record(secs);
    }

    /// Everything the exporters hold, in the Prometheus text exposition
    /// format; empty without one.
    pub fn render(&self) -> String {
        self.exporters.iter().map(|h| h.render()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

    #[test]
    fn requests_are_counted_and_timed_by_route() {
        let r = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(DURATION_METRIC.into()), &BUCKETS)
            .unwrap()
            .build_recorder();
        let handle = r.handle();
        let m = Metrics::new(MetricsSink::Recorder(Arc::new(r)), vec![handle]);
        m.record("/api/store/products", "GET", 200, 0.003);
        m.record("/api/store/products", "GET", 200, 0.2);
        m.record("/api/store/products", "GET", 404, 0.001);
        let text = m.render();
        for line in [
            "cielo_http_requests_total{route=\"/api/store/products\",method=\"GET\",status=\"200\"} 2\n",
            "cielo_http_requests_total{route=\"/api/store/products\",method=\"GET\",status=\"404\"} 1\n",
            "cielo_http_request_duration_seconds_bucket{route=\"/api/store/products\",le=\"0.005\"} 2\n",
            "cielo_http_request_duration_seconds_count{route=\"/api/store/products\"} 3\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }
}
