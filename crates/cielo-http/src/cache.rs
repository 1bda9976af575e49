//! A small in-memory cache of serialised store answers.
//!
//! Store listings are read far more than written. Entries are keyed by the
//! request's path and query exactly as sent, hold the route they answer (for
//! the metrics) and are stamped with the catalog's generation, so a write
//! through this process invalidates them at once; the TTL bounds how stale a
//! write made by another process can look. Only answers that depend on
//! nothing but the path and query (the public catalog) go in, and the edge
//! ([`crate::edge`]) answers a hit before routing.

use crate::metrics::AnswerMetrics;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

const MAX_ENTRIES: usize = 2048;

struct Entry {
    metrics: Arc<AnswerMetrics>,
    generation: u64,
    at: Instant,
    body: Bytes,
}

pub(crate) struct ResponseCache {
    ttl: Duration,
    map: RwLock<HashMap<String, Entry>>,
}

/// A JSON answer with this body.
pub(crate) fn json_answer(body: Bytes) -> Response {
    ([(http::header::CONTENT_TYPE, "application/json")], body).into_response()
}

impl ResponseCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            map: RwLock::new(HashMap::new()),
        }
    }

    /// The cached answer to `uri`, if it is fresh, with the metrics it
    /// records into.
    pub(crate) fn answer(
        &self,
        uri: &http::Uri,
        generation: u64,
    ) -> Option<(Arc<AnswerMetrics>, Response)> {
        if self.ttl.is_zero() {
            return None;
        }
        let key = uri.path_and_query()?.as_str();
        let map = self.map.read().expect("cache lock");
        let e = map.get(key)?;
        (e.generation == generation && e.at.elapsed() < self.ttl)
            .then(|| (e.metrics.clone(), json_answer(e.body.clone())))
    }

    /// Keeps `body` as the (200) answer to `uri` for this generation; a hit
    /// records into `metrics`.
    pub(crate) fn put(
        &self,
        uri: &http::Uri,
        metrics: Arc<AnswerMetrics>,
        generation: u64,
        body: Bytes,
    ) {
        if self.ttl.is_zero() {
            return;
        }
        let Some(key) = uri.path_and_query() else {
            return;
        };
        let mut map = self.map.write().expect("cache lock");
        if map.len() >= MAX_ENTRIES {
            // Cheap and bounded: drop everything stale, or everything.
            let ttl = self.ttl;
            map.retain(|_, e| e.generation == generation && e.at.elapsed() < ttl);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        map.insert(
            key.as_str().to_string(),
            Entry {
                metrics,
                generation,
                at: Instant::now(),
                body,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_generation_another_query_or_an_old_entry_misses() {
        let c = ResponseCache::new(Duration::from_millis(50));
        let uri: http::Uri = "/api/store/products?limit=2".parse().unwrap();
        let m = crate::metrics::Metrics::default().answer("/api/store/products", "GET", 200);
        c.put(&uri, m, 1, Bytes::from_static(b"x"));
        let (_, res) = c.answer(&uri, 1).expect("a hit");
        assert_eq!(res.status(), 200);
        assert!(c.answer(&uri, 2).is_none());
        assert!(c
            .answer(&"/api/store/products?limit=3".parse().unwrap(), 1)
            .is_none());
        std::thread::sleep(Duration::from_millis(60));
        assert!(c.answer(&uri, 1).is_none());
    }
}
