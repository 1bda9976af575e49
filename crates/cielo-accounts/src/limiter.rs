//! Login rate limits, per client IP and per account, kept in memory.
//!
//! Each key gets a fixed budget of attempts per window. Several API processes
//! each keep their own counters, so the effective budget is per process; that
//! still stops online guessing, which is what it is for.
//!
//! The account key is the identity sign-in itself uses: the email as
//! [`crate::parse_email`] normalises it (trimmed, lower case), so `"a@x.test "`
//! and `"A@x.test"` share one budget. Whatever is not an email shares a single
//! key: an invalid address can never sign in, and a 1 MiB "email" is never
//! stored. Each table holds at most [`MAX_KEYS`] keys.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Budgets for [`LoginLimiter`].
#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    /// Attempts allowed per IP per window.
    pub per_ip: u32,
    /// Attempts allowed per account (email) per window.
    pub per_account: u32,
    /// The window.
    pub window: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            per_ip: 20,
            per_account: 5,
            window: Duration::from_secs(300),
        }
    }
}

/// Most keys kept per table (IPs, accounts): about 50 000 × (key ≤ 254 bytes
/// + a counter) bounds the limiter to a few tens of MiB under any flood.
pub const MAX_KEYS: usize = 50_000;

/// The account key of what a client sent as its email.
fn account_key(raw: &str) -> String {
    crate::parse_email(raw).unwrap_or_else(|_| "\0not-an-email".to_string())
}

/// Keeps `map` under [`MAX_KEYS`]: drops finished windows, then, if a flood
/// of live keys remains, the oldest half of them.
fn make_room<K: std::hash::Hash + Eq>(
    map: &mut HashMap<K, Window>,
    now: Instant,
    window: Duration,
) {
    if map.len() < MAX_KEYS {
        return;
    }
    map.retain(|_, w| now.duration_since(w.start) < window);
    if map.len() >= MAX_KEYS {
        let mut starts: Vec<Instant> = map.values().map(|w| w.start).collect();
        let (_, median, _) = starts.select_nth_unstable(map.len() / 2);
        let median = *median;
        map.retain(|_, w| w.start > median);
    }
}

/// Counts login attempts.
pub struct LoginLimiter {
    limits: LoginLimits,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    by_ip: HashMap<IpAddr, Window>,
    by_account: HashMap<String, Window>,
}

struct Window {
    start: Instant,
    count: u32,
}

impl LoginLimiter {
    /// A limiter with these budgets.
    pub fn new(limits: LoginLimits) -> Self {
        Self {
            limits,
            state: Mutex::new(State::default()),
        }
    }

    /// Records an attempt by `ip` at `account` (the email as sent; it is
    /// normalised here); `Err(retry_after)` when either budget is spent.
    pub fn attempt(&self, ip: IpAddr, account: &str, now: Instant) -> Result<(), Duration> {
        let mut state = self.state.lock().expect("limiter lock is never poisoned");
        let window = self.limits.window;
        // Keep memory bounded under a flood of distinct keys.
        make_room(&mut state.by_ip, now, window);
        make_room(&mut state.by_account, now, window);
        let ip_wait = bump(
            state.by_ip.entry(ip).or_insert(Window {
                start: now,
                count: 0,
            }),
            now,
            window,
            self.limits.per_ip,
        );
        let acct_wait = bump(
            state
                .by_account
                .entry(account_key(account))
                .or_insert(Window {
                    start: now,
                    count: 0,
                }),
            now,
            window,
            self.limits.per_account,
        );
        match (ip_wait, acct_wait) {
            (None, None) => Ok(()),
            (a, b) => Err(a.unwrap_or_default().max(b.unwrap_or_default())),
        }
    }

    /// Forgets an account's failures after a successful login (`account` as
    /// sent; normalised like [`LoginLimiter::attempt`]).
    pub fn succeeded(&self, account: &str) {
        self.state
            .lock()
            .expect("limiter lock is never poisoned")
            .by_account
            .remove(&account_key(account));
    }
}

fn bump(w: &mut Window, now: Instant, window: Duration, budget: u32) -> Option<Duration> {
    if now.duration_since(w.start) >= window {
        w.start = now;
        w.count = 0;
    }
    w.count += 1;
    (w.count > budget).then(|| {
        window
            .saturating_sub(now.duration_since(w.start))
            .max(Duration::from_secs(1))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_limited_across_ips_and_an_ip_across_accounts() {
        let l = LoginLimiter::new(LoginLimits {
            per_ip: 3,
            per_account: 2,
            window: Duration::from_secs(60),
        });
        let t = Instant::now();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(l.attempt(a, "x@e.com", t).is_ok());
        assert!(l.attempt(b, "X@e.com", t).is_ok());
        assert!(
            l.attempt(b, "x@e.com", t).is_err(),
            "third try on one account"
        );
        assert!(l.attempt(a, "y@e.com", t).is_ok(), "second try from IP a");
        assert!(l.attempt(a, "z@e.com", t).is_ok(), "third try from IP a");
        assert!(
            l.attempt(a, "w@e.com", t).is_err(),
            "fourth try from one IP"
        );
        assert!(
            l.attempt(a, "w@e.com", t + Duration::from_secs(61)).is_ok(),
            "window passed"
        );
    }

    #[test]
    fn the_account_key_is_the_identity_sign_in_uses() {
        let l = LoginLimiter::new(LoginLimits {
            per_ip: 1000,
            per_account: 2,
            window: Duration::from_secs(60),
        });
        let t = Instant::now();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(l.attempt(a, "vic3@x.test", t).is_ok());
        assert!(l.attempt(a, " VIC3@x.test", t).is_ok());
        assert!(l.attempt(a, "vic3@x.test \t", t).is_err(), "same account");
    }

    #[test]
    fn huge_keys_are_never_stored_and_the_tables_stay_bounded() {
        let l = LoginLimiter::new(LoginLimits {
            per_ip: u32::MAX,
            per_account: u32::MAX,
            window: Duration::from_secs(3600),
        });
        let t = Instant::now();
        let big = "a".repeat(900 * 1024);
        for i in 0..100 {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(i));
            let _ = l.attempt(ip, &format!("{i}{big}@example.com"), t);
        }
        for i in 0..(MAX_KEYS as u32 + 10_000) {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(i));
            let _ = l.attempt(ip, &format!("u{i}@example.com"), t);
        }
        let state = l.state.lock().unwrap();
        assert!(state.by_ip.len() <= MAX_KEYS, "{}", state.by_ip.len());
        assert!(
            state.by_account.len() <= MAX_KEYS,
            "{}",
            state.by_account.len()
        );
        assert!(state.by_account.keys().all(|k| k.len() <= 254));
    }
}
