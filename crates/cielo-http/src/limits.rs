//! Per-client-IP rate limits on the routes that cost the most or invite
//! abuse: cart creation, checkout, place search, the star-map preview (it
//! renders), registration, and provider webhooks (checked before any
//! signature work). Built on `governor` (GCRA: a burst, then a steady rate);
//! a refused request gets a 429 problem with `Retry-After`.
//!
//! Counters live in this process's memory, like the sign-in limits: several
//! API processes each allow the budget. Stale keys are dropped as the table
//! grows, so a flood of addresses cannot grow it without bound.

use crate::problem::ApiError;
use crate::AppState;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use http::{Method, StatusCode};
use std::net::IpAddr;
use std::num::NonZeroU32;

/// Budgets per client IP; `0` turns a limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// `POST /api/store/carts`, per minute (also the burst).
    pub cart_creations_per_minute: u32,
    /// `POST /api/store/carts/{id}/checkout`, per minute.
    pub checkouts_per_minute: u32,
    /// `GET /api/store/starmap/places`, per minute.
    pub place_searches_per_minute: u32,
    /// `GET /api/store/starmap/preview`, per minute.
    pub previews_per_minute: u32,
    /// `POST /webhooks/...`, per minute.
    pub webhooks_per_minute: u32,
    /// `POST /api/store/auth/register`, per hour.
    pub registrations_per_hour: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            cart_creations_per_minute: 60,
            checkouts_per_minute: 30,
            place_searches_per_minute: 120,
            previews_per_minute: 30,
            webhooks_per_minute: 600,
            registrations_per_hour: 10,
        }
    }
}

impl RateLimitConfig {
    /// Every limit off (for benchmarks that drive one route hard from one address).
    pub fn off() -> Self {
        Self {
            cart_creations_per_minute: 0,
            checkouts_per_minute: 0,
            place_searches_per_minute: 0,
            previews_per_minute: 0,
            webhooks_per_minute: 0,
            registrations_per_hour: 0,
        }
    }
}

/// Which limited route a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bucket {
    Carts,
    Checkout,
    Places,
    Preview,
    Webhooks,
    Register,
}

fn bucket(method: &Method, route: &str) -> Option<Bucket> {
    match (method, route) {
        (&Method::POST, "/api/store/carts") => Some(Bucket::Carts),
        (&Method::POST, "/api/store/carts/{id}/checkout") => Some(Bucket::Checkout),
        (&Method::GET, "/api/store/starmap/places") => Some(Bucket::Places),
        (_, "/api/store/starmap/preview") => Some(Bucket::Preview),
        (&Method::POST, "/api/store/auth/register") => Some(Bucket::Register),
        (&Method::POST, r) if r.starts_with("/webhooks/") => Some(Bucket::Webhooks),
        _ => None,
    }
}

type Limiter = DefaultKeyedRateLimiter<IpAddr>;

/// Keys kept per limiter before stale ones are dropped.
const PRUNE_ABOVE: usize = 10_000;

/// The limiters of one process.
pub struct RateLimits {
    carts: Option<Limiter>,
    checkout: Option<Limiter>,
    places: Option<Limiter>,
    preview: Option<Limiter>,
    webhooks: Option<Limiter>,
    register: Option<Limiter>,
    clock: DefaultClock,
}

impl RateLimits {
    /// Limiters for these budgets.
    pub fn new(c: RateLimitConfig) -> Self {
        let per_minute = |n: u32| NonZeroU32::new(n).map(|n| Limiter::keyed(Quota::per_minute(n)));
        Self {
            carts: per_minute(c.cart_creations_per_minute),
            checkout: per_minute(c.checkouts_per_minute),
            places: per_minute(c.place_searches_per_minute),
            preview: per_minute(c.previews_per_minute),
            webhooks: per_minute(c.webhooks_per_minute),
            register: NonZeroU32::new(c.registrations_per_hour)
                .map(|n| Limiter::keyed(Quota::per_hour(n))),
            clock: DefaultClock::default(),
        }
    }

    fn limiter(&self, b: Bucket) -> Option<&Limiter> {
        match b {
            Bucket::Carts => self.carts.as_ref(),
            Bucket::Checkout => self.checkout.as_ref(),
            Bucket::Places => self.places.as_ref(),
            Bucket::Preview => self.preview.as_ref(),
            Bucket::Webhooks => self.webhooks.as_ref(),
            Bucket::Register => self.register.as_ref(),
        }
    }

    /// `Err(seconds to wait)` when `ip` has spent its budget for `b`.
    fn check(&self, b: Bucket, ip: IpAddr) -> Result<(), u64> {
        let Some(l) = self.limiter(b) else {
            return Ok(());
        };
        if l.len() > PRUNE_ABOVE {
            l.retain_recent();
            l.shrink_to_fit();
        }
        l.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}

/// The 429 answer when the request's client IP has spent its budget for
/// `route`, before any handler runs (and so before a webhook's signature is
/// checked); `None` to go on. Called by the per-route middleware
/// ([`crate::metrics::track`]).
pub(crate) fn refuse(s: &AppState, req: &Request, route: &str) -> Option<Response> {
    let b = bucket(req.method(), route)?;
    let ip = crate::client_ip(&s.config, req.headers(), req.extensions())?;
    let wait = s.rate_limits.check(b, ip).err()?;
    tracing::warn!(%ip, route = ?b, "rate limit reached");
    let mut e = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        "too many requests from this address; wait and try again",
    );
    e.retry_after = Some(wait.max(1));
    Some(e.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_map_to_their_buckets() {
        assert_eq!(
            bucket(&Method::POST, "/api/store/carts"),
            Some(Bucket::Carts)
        );
        assert_eq!(bucket(&Method::GET, "/api/store/carts/{id}"), None);
        assert_eq!(
            bucket(&Method::POST, "/webhooks/{provider}"),
            Some(Bucket::Webhooks)
        );
        assert_eq!(
            bucket(&Method::GET, "/api/store/starmap/preview"),
            Some(Bucket::Preview)
        );
        assert_eq!(bucket(&Method::GET, "/api/store/products"), None);
    }

    #[test]
    fn a_burst_passes_then_the_address_waits_and_others_do_not() {
        let l = RateLimits::new(RateLimitConfig {
            checkouts_per_minute: 3,
            ..RateLimitConfig::off()
        });
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(l.check(Bucket::Checkout, a), Ok(()));
        }
        let wait = l.check(Bucket::Checkout, a).unwrap_err();
        assert!((1..=20).contains(&wait), "{wait}");
        assert_eq!(l.check(Bucket::Checkout, b), Ok(()));
        // Limits set to 0 are off.
        for _ in 0..100 {
            assert_eq!(l.check(Bucket::Carts, a), Ok(()));
        }
    }
}
