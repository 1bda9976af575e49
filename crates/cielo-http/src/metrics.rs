//! Prometheus metrics: requests by route and status, latency histograms by
//! route, plus whatever other parts of Cielo register as sources.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    /// Sum in microseconds, kept integral so it can be atomic.
    sum_us: AtomicU64,
}

impl Histogram {
    fn observe(&self, secs: f64) {
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us
            .fetch_add((secs * 1e6) as u64, Ordering::Relaxed);
    }
}

/// Something that appends its own metrics (already in Prometheus text form).
pub trait MetricsSource: Send + Sync {
    /// Appends metrics to `out`.
    fn render(&self, out: &mut String);
}

/// The registry.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<HashMap<(String, &'static str, u16), Arc<AtomicU64>>>,
    latency: Mutex<HashMap<String, Arc<Histogram>>>,
    sources: RwLock<Vec<Arc<dyn MetricsSource>>>,
}

fn method_name(m: &http::Method) -> &'static str {
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

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

impl Metrics {
    /// Registers another source of metrics.
    pub fn add_source(&self, source: Arc<dyn MetricsSource>) {
        self.sources.write().expect("metrics lock").push(source);
    }

    fn record(&self, route: &str, method: &'static str, status: u16, secs: f64) {
        let counter = {
            let mut map = self.requests.lock().expect("metrics lock");
            match map.get(&(route.to_string(), method, status)) {
                Some(c) => c.clone(),
                None => map
                    .entry((route.to_string(), method, status))
                    .or_default()
                    .clone(),
            }
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let hist = {
            let mut map = self.latency.lock().expect("metrics lock");
            match map.get(route) {
                Some(h) => h.clone(),
                None => map.entry(route.to_string()).or_default().clone(),
            }
        };
        hist.observe(secs);
    }

    /// Everything, in Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP cielo_http_requests_total HTTP requests by route, method and status.\n",
        );
        out.push_str("# TYPE cielo_http_requests_total counter\n");
        let mut rows: Vec<_> = self
            .requests
            .lock()
            .expect("metrics lock")
            .iter()
            .map(|(k, v)| (k.clone(), v.load(Ordering::Relaxed)))
            .collect();
        rows.sort();
        for ((route, method, status), n) in rows {
            let _ = writeln!(out, "cielo_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}", escape(&route));
        }
        out.push_str("# HELP cielo_http_request_duration_seconds HTTP request latency by route.\n");
        out.push_str("# TYPE cielo_http_request_duration_seconds histogram\n");
        let mut hists: Vec<_> = self
            .latency
            .lock()
            .expect("metrics lock")
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        hists.sort_by(|a, b| a.0.cmp(&b.0));
        for (route, h) in hists {
            let r = escape(&route);
            for (i, le) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "cielo_http_request_duration_seconds_bucket{{route=\"{r}\",le=\"{le}\"}} {}",
                    h.buckets[i].load(Ordering::Relaxed)
                );
            }
            let count = h.count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "cielo_http_request_duration_seconds_bucket{{route=\"{r}\",le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "cielo_http_request_duration_seconds_sum{{route=\"{r}\"}} {}",
                h.sum_us.load(Ordering::Relaxed) as f64 / 1e6
            );
            let _ = writeln!(
                out,
                "cielo_http_request_duration_seconds_count{{route=\"{r}\"}} {count}"
            );
        }
        for s in self.sources.read().expect("metrics lock").iter() {
            s.render(&mut out);
        }
        out
    }
}

/// Records each request under its matched route (never the raw path, which
/// would make a series per product id).
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = method_name(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let res = next.run(req).await;
    metrics.record(
        &route,
        method,
        res.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_and_timed_by_route() {
        let m = Metrics::default();
        m.record("/api/store/products", "GET", 200, 0.003);
        m.record("/api/store/products", "GET", 200, 0.2);
        m.record("/api/store/products", "GET", 404, 0.001);
        let text = m.render();
        assert!(text.contains("cielo_http_requests_total{route=\"/api/store/products\",method=\"GET\",status=\"200\"} 2"));
        assert!(text.contains("cielo_http_request_duration_seconds_bucket{route=\"/api/store/products\",le=\"0.005\"} 2"));
        assert!(text.contains(
            "cielo_http_request_duration_seconds_count{route=\"/api/store/products\"} 3"
        ));
    }
}
