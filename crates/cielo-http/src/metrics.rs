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

/// Latency histogram of one route. Each observation increments one bucket
/// (the first whose bound it fits); the cumulative counts Prometheus wants
/// are summed when rendering, so recording stays one atomic add.
#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    /// Sum in microseconds, kept integral so it can be atomic.
    sum_us: AtomicU64,
}

impl Histogram {
    fn observe(&self, secs: f64) {
        if let Some(i) = BUCKETS.iter().position(|le| secs <= *le) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us
            .fetch_add((secs * 1e6) as u64, Ordering::Relaxed);
    }
}

/// What one route recorded.
#[derive(Default)]
struct RouteMetrics {
    latency: Histogram,
    /// (method, status) → requests; a handful per route, scanned linearly.
    counts: Mutex<Vec<(&'static str, u16, u64)>>,
}

impl RouteMetrics {
    fn record(&self, method: &'static str, status: u16, secs: f64) {
        self.latency.observe(secs);
        let mut counts = self.counts.lock().expect("metrics lock");
        match counts
            .iter_mut()
            .find(|(m, s, _)| *m == method && *s == status)
        {
            Some(row) => row.2 += 1,
            None => counts.push((method, status, 1)),
        }
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
    /// By matched route. Read-locked on every request (routes are few and
    /// known after the first requests), write-locked only for a new route.
    routes: RwLock<HashMap<Box<str>, RouteMetrics>>,
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
        if let Some(r) = self.routes.read().expect("metrics lock").get(route) {
            r.record(method, status, secs);
            return;
        }
        self.routes
            .write()
            .expect("metrics lock")
            .entry(route.into())
            .or_default()
            .record(method, status, secs);
    }

    /// Everything, in Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP cielo_http_requests_total HTTP requests by route, method and status.\n",
        );
        out.push_str("# TYPE cielo_http_requests_total counter\n");
        let routes = self.routes.read().expect("metrics lock");
        let mut names: Vec<&str> = routes.keys().map(|k| &**k).collect();
        names.sort_unstable();
        let mut rows: Vec<(&str, &'static str, u16, u64)> = Vec::new();
        for route in &names {
            for (method, status, n) in routes[*route].counts.lock().expect("metrics lock").iter() {
                rows.push((route, method, *status, *n));
            }
        }
        rows.sort_unstable();
        for (route, method, status, n) in rows {
            let _ = writeln!(out, "cielo_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}", escape(route));
        }
        out.push_str("# HELP cielo_http_request_duration_seconds HTTP request latency by route.\n");
        out.push_str("# TYPE cielo_http_request_duration_seconds histogram\n");
        for route in &names {
            let h = &routes[*route].latency;
            let r = escape(route);
            let mut cumulative = 0;
            for (i, le) in BUCKETS.iter().enumerate() {
                cumulative += h.buckets[i].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "cielo_http_request_duration_seconds_bucket{{route=\"{r}\",le=\"{le}\"}} {cumulative}"
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
        drop(routes);
        for s in self.sources.read().expect("metrics lock").iter() {
            s.render(&mut out);
        }
        out
    }
}

/// The per-route middleware: applies the per-IP rate limits of the route
/// (see [`crate::limits`]), then records the request under its matched route
/// (never the raw path, which would make a series per product id). One layer
/// for both keeps the per-request work to one boxed future.
pub async fn track(State(s): State<crate::AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = method_name(req.method());
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("unmatched", |p| p.as_str());
    let res = match crate::limits::refuse(&s, &req, route) {
        Some(refused) => refused,
        None => next.run(req).await,
    };
    s.metrics.record(
        route,
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
