//! The framed mockup of a poster for product and order pages: the poster's own
//! drawing (`cielo_starmap::render_mockup_png`, the same code path as the preview
//! and the print) in a frame on a wall, kept in a small in-process cache so a page
//! that shows it again does not draw it again.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::StarmapLine;

/// Mockups kept in memory (a 1200 px mockup is about 0.5 MB).
pub const MOCKUP_CACHE_ENTRIES: usize = 64;

type Key = [u8; 32];

struct Cache {
    images: HashMap<Key, Arc<Vec<u8>>>,
    /// Oldest first.
    order: VecDeque<Key>,
}

fn cache() -> &'static Mutex<Cache> {
    static C: std::sync::OnceLock<Mutex<Cache>> = std::sync::OnceLock::new();
    C.get_or_init(|| {
        Mutex::new(Cache {
            images: HashMap::new(),
            order: VecDeque::new(),
        })
    })
}

/// The key of a mockup: the resolved options and the size (the same options
/// always draw the same picture).
pub fn mockup_key(line: &StarmapLine, px: u32) -> String {
    hex::encode(key(line, px))
}

fn key(line: &StarmapLine, px: u32) -> Key {
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(line).expect("options serialise"));
    h.update(px.to_le_bytes());
    h.finalize().into()
}

/// A `px`×`px` PNG of the poster framed on a wall; from the cache when it was
/// drawn before. CPU-bound on a miss (tens of milliseconds): call it from
/// `spawn_blocking`.
pub fn mockup_png(line: &StarmapLine, px: u32) -> Result<Arc<Vec<u8>>, cielo_starmap::Error> {
    let k = key(line, px);
    if let Some(png) = cache().lock().expect("cache lock").images.get(&k) {
        return Ok(Arc::clone(png));
    }
    let png = Arc::new(cielo_starmap::render_mockup_png(&line.print_options(), px)?);
    let mut c = cache().lock().expect("cache lock");
    if c.images.insert(k, Arc::clone(&png)).is_none() {
        c.order.push_back(k);
    }
    while c.order.len() > MOCKUP_CACHE_ENTRIES {
        if let Some(old) = c.order.pop_front() {
            c.images.remove(&old);
        }
    }
    Ok(png)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mockup_is_drawn_once_and_then_served_from_the_cache() {
        let madrid = crate::places::search("madrid", 1)[0].id;
        let line = crate::resolve(
            Some(&serde_json::json!({"place_id": madrid, "date": "2024-08-13", "time": "00:30", "theme": "minimal-light"})),
            None,
        )
        .unwrap();
        let a = mockup_png(&line, 300).unwrap();
        assert!(a.starts_with(b"\x89PNG"));
        let b = mockup_png(&line, 300).unwrap();
        assert!(Arc::ptr_eq(&a, &b), "the second one comes from the cache");
        let c = mockup_png(&line, 200).unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
        assert_ne!(mockup_key(&line, 300), mockup_key(&line, 200));
    }
}
