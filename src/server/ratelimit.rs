//! Per-client rate limiting of the discovery endpoints.
//!
//! A help-desk page on the internet must not become an open scanner that
//! makes this server ask other people's domains on anyone's behalf. Each
//! client IP address gets a token bucket (the `governor` crate's GCRA):
//! `burst` requests at once, then `per_minute`. Over the limit, the answer
//! is 429 with `Retry-After`. Idle buckets are dropped periodically so the
//! table stays small.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::config::RateLimit;
use super::error::{ApiError, AppError};
use super::origin::OriginPolicy;

/// The limiter shared by all discovery routes.
pub struct Limiter {
    inner: Option<DefaultKeyedRateLimiter<IpAddr>>,
    clock: DefaultClock,
}

impl Limiter {
    /// A limiter for `limit`; `per_minute = 0` lets everything through.
    pub fn new(limit: RateLimit) -> Limiter {
        let inner = NonZeroU32::new(limit.per_minute).map(|rate| {
            let burst = NonZeroU32::new(limit.burst).unwrap_or(NonZeroU32::MIN);
            RateLimiter::keyed(Quota::per_minute(rate).allow_burst(burst))
        });
        Limiter {
            inner,
            clock: DefaultClock::default(),
        }
    }

    /// `Ok` when `ip` may make another request now; otherwise the seconds
    /// to wait (at least 1).
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        let Some(inner) = &self.inner else {
            return Ok(());
        };
        inner.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            // Rounded up: Retry-After counts whole seconds.
            (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
        })
    }

    /// Forgets clients whose buckets are full again.
    pub fn forget_idle(&self) {
        if let Some(inner) = &self.inner {
            inner.retain_recent();
            inner.shrink_to_fit();
        }
    }

    /// How many clients are being tracked.
    pub fn tracked(&self) -> usize {
        self.inner.as_ref().map_or(0, |i| i.len())
    }

    /// Drops idle clients every `every` for as long as the limiter lives.
    pub fn spawn_cleaner(self: &Arc<Self>, every: Duration) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                match weak.upgrade() {
                    Some(l) => l.forget_idle(),
                    None => return,
                }
            }
        });
    }
}

/// What the middleware needs.
#[derive(Clone)]
pub struct LimitState {
    /// The limiter.
    pub limiter: Arc<Limiter>,
    /// How to find the client's address.
    pub origin: Arc<OriginPolicy>,
}

/// Middleware: 429 with `Retry-After` for clients over their limit.
pub async fn limit(State(s): State<LimitState>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let ip = s.origin.client_ip(&parts);
    if let Err(secs) = s.limiter.check(ip) {
        tracing::debug!(%ip, "rate limited");
        let e = AppError::RateLimited(secs);
        return if parts.uri.path().starts_with("/api/") {
            ApiError(e).into_response()
        } else {
            e.into_response()
        };
    }
    next.run(Request::from_parts(parts, body)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refusal_with_a_wait() {
        let l = Limiter::new(RateLimit {
            per_minute: 6,
            burst: 3,
        });
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            assert!(l.check(a).is_ok());
        }
        let wait = l.check(a).unwrap_err();
        assert!((1..=10).contains(&wait), "{wait}");
        assert!(l.check(b).is_ok(), "another client has its own bucket");
        assert_eq!(l.tracked(), 2);
    }

    #[test]
    fn zero_turns_the_limit_off() {
        let l = Limiter::new(RateLimit {
            per_minute: 0,
            burst: 0,
        });
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..1000 {
            assert!(l.check(a).is_ok());
        }
        assert_eq!(l.tracked(), 0);
    }
}
