//! Login rate limits, per client IP and per account, kept in memory.
//!
//! Each key gets a fixed budget of attempts per window. Several API processes
//! each keep their own counters, so the effective budget is per process; that
//! still stops online guessing, which is what it is for.

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

    /// Records an attempt; `Err(retry_after)` when either budget is spent.
    pub fn attempt(&self, ip: IpAddr, account: &str, now: Instant) -> Result<(), Duration> {
        let mut state = self.state.lock().expect("limiter lock is never poisoned");
        let window = self.limits.window;
        // Keep memory bounded under a flood of distinct keys.
        if state.by_ip.len() > 100_000 || state.by_account.len() > 100_000 {
            state
                .by_ip
                .retain(|_, w| now.duration_since(w.start) < window);
            state
                .by_account
                .retain(|_, w| now.duration_since(w.start) < window);
        }
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
                .entry(account.to_lowercase())
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

    /// Forgets an account's failures after a successful login.
    pub fn succeeded(&self, account: &str) {
        self.state
            .lock()
            .expect("limiter lock is never poisoned")
            .by_account
            .remove(&account.to_lowercase());
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
}
