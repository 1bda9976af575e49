//! A small in-memory cache of serialised store responses.
//!
//! Store listings are read far more than written. Entries are keyed by the
//! request and stamped with the catalog's generation, so a write through this
//! process invalidates them at once; the TTL bounds how stale a write made by
//! another process can look.

use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const MAX_ENTRIES: usize = 2048;

struct Entry {
    generation: u64,
    at: Instant,
    body: Bytes,
}

pub(crate) struct ResponseCache {
    ttl: Duration,
    map: Mutex<HashMap<String, Entry>>,
}

impl ResponseCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            map: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn get(&self, key: &str, generation: u64) -> Option<Bytes> {
        if self.ttl.is_zero() {
            return None;
        }
        let map = self.map.lock().expect("cache lock");
        let e = map.get(key)?;
        (e.generation == generation && e.at.elapsed() < self.ttl).then(|| e.body.clone())
    }

    pub(crate) fn put(&self, key: String, generation: u64, body: Bytes) {
        if self.ttl.is_zero() {
            return;
        }
        let mut map = self.map.lock().expect("cache lock");
        if map.len() >= MAX_ENTRIES {
            // Cheap and bounded: drop everything stale, or everything.
            let ttl = self.ttl;
            map.retain(|_, e| e.generation == generation && e.at.elapsed() < ttl);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        map.insert(
            key,
            Entry {
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
    fn a_new_generation_or_an_old_entry_misses() {
        let c = ResponseCache::new(Duration::from_millis(50));
        c.put("k".into(), 1, Bytes::from_static(b"x"));
        assert_eq!(c.get("k", 1).as_deref(), Some(&b"x"[..]));
        assert!(c.get("k", 2).is_none());
        std::thread::sleep(Duration::from_millis(60));
        assert!(c.get("k", 1).is_none());
    }
}
