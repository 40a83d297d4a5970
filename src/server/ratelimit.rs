//! Per-client limits on what this service makes other servers do.
//!
//! A help-desk page on the internet must not become an open scanner that
//! makes this server connect to other people's servers on anyone's
//! behalf. What costs something is network discovery, and what it costs is
//! the outbound connections it makes; answers from the operator's
//! configured domains, the built-in providers and the discovery cache cost
//! nothing and are never limited (an office behind one NAT address asking
//! for its own domain all Monday morning is the normal case).
//!
//! So the limit is on outbound connections, kept per client in a token
//! bucket: `burst` connections at once, refilled at `per_minute`. A client
//! may start a discovery while its bucket holds anything; when the
//! discovery ends its connections are taken out, which may leave the bucket
//! in debt, and the client waits until it has paid that back (429 with
//! `Retry-After`). Clients whose discoveries are coalesced with another's
//! (same domain, same moment) are admitted and pay nothing: the one who
//! started it pays.
//!
//! A client is an IPv4 address or an IPv6 /64 ([`ClientKey`]): one IPv6
//! host holds a whole /64 and could otherwise take a fresh bucket per
//! address.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::config::RateLimit;

/// Who a limit applies to: an IPv4 address, or an IPv6 /64 (IPv4-mapped
/// IPv6 addresses count as their IPv4 address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientKey {
    /// One IPv4 address.
    V4(Ipv4Addr),
    /// The first 64 bits of an IPv6 address.
    V6Net(u64),
}

impl ClientKey {
    /// The key of `ip`.
    pub fn of(ip: IpAddr) -> ClientKey {
        match ip {
            IpAddr::V4(v4) => ClientKey::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey::V4(v4),
                None => ClientKey::V6Net((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

/// What one discovery costs until its real connection count is known: the
/// most connections a discovery started by the service may make.
pub const FIXED_DISCOVERY_COST: u32 = crate::net::policy::MAX_CONNECTIONS;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Connections the client may still make; negative is a debt.
    tokens: f64,
    at: Instant,
}

/// The limiter shared by every request that may start a discovery.
pub struct Limiter {
    /// Refill per second; `None` turns the limit off.
    rate: Option<f64>,
    burst: f64,
    buckets: Mutex<HashMap<ClientKey, Bucket>>,
}

impl Limiter {
    /// A limiter for `limit`; `per_minute = 0` lets everything through.
    pub fn new(limit: RateLimit) -> Limiter {
        Limiter {
            rate: (limit.per_minute > 0).then(|| f64::from(limit.per_minute) / 60.0),
            burst: f64::from(limit.burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Runs `f` on `client`'s bucket, refilled up to now.
    fn with_bucket<T>(
        &self,
        client: ClientKey,
        now: Instant,
        f: impl FnOnce(&mut Bucket) -> T,
    ) -> T {
        let rate = self.rate.unwrap_or(0.0);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let b = buckets.entry(client).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(self.burst);
        b.at = now;
        f(b)
    }

    /// `Ok` when `client` may start a discovery now; otherwise the seconds
    /// to wait (at least 1).
    pub fn admit(&self, client: ClientKey) -> Result<(), u64> {
        self.admit_at(client, Instant::now())
    }

    fn admit_at(&self, client: ClientKey, now: Instant) -> Result<(), u64> {
        let Some(rate) = self.rate else {
            return Ok(());
        };
        self.with_bucket(client, now, |b| {
            if b.tokens > 0.0 {
                Ok(())
            } else {
                // Until the bucket holds something again; whole seconds,
                // rounded up, as Retry-After counts them.
                let secs = ((1.0 - b.tokens) / rate).ceil();
                Err((secs as u64).max(1))
            }
        })
    }

    /// Takes the `connections` a discovery made out of `client`'s bucket.
    pub fn charge(&self, client: ClientKey, connections: u32) {
        self.charge_at(client, connections, Instant::now());
    }

    fn charge_at(&self, client: ClientKey, connections: u32, now: Instant) {
        if self.rate.is_none() {
            return;
        }
        // The debt is bounded, so one discovery never locks a client out
        // for longer than an empty bucket takes to fill once.
        let floor = -self.burst;
        self.with_bucket(client, now, |b| {
            b.tokens = (b.tokens - f64::from(connections)).max(floor);
        });
    }

    /// Forgets clients whose buckets are full again.
    pub fn forget_idle(&self) {
        let Some(rate) = self.rate else {
            return;
        };
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        buckets.retain(|_, b| {
            let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
            b.tokens + elapsed * rate < self.burst
        });
        buckets.shrink_to_fit();
    }

    /// How many clients are being tracked.
    pub fn tracked(&self) -> usize {
        self.buckets.lock().unwrap_or_else(|p| p.into_inner()).len()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ip: &str) -> ClientKey {
        ClientKey::of(ip.parse().unwrap())
    }

    fn limiter(per_minute: u32, burst: u32) -> Limiter {
        Limiter::new(RateLimit { per_minute, burst })
    }

    #[test]
    fn connections_are_counted_not_requests() {
        let l = limiter(60, 30);
        let a = key("192.0.2.1");
        let t0 = Instant::now();
        // Admission alone costs nothing: many cheap admissions pass.
        for _ in 0..100 {
            assert!(l.admit_at(a, t0).is_ok());
        }
        // A discovery that made 24 connections leaves 6; the next one
        // (24 more) puts the client 18 in debt.
        l.charge_at(a, 24, t0);
        assert!(l.admit_at(a, t0).is_ok());
        l.charge_at(a, 24, t0);
        let wait = l.admit_at(a, t0).unwrap_err();
        // 19 connections at 1 per second.
        assert_eq!(wait, 19);
        // Another client has its own bucket.
        assert!(l.admit_at(key("192.0.2.2"), t0).is_ok());
        // Paid back after the wait.
        assert!(l.admit_at(a, t0 + Duration::from_secs(wait)).is_ok());
    }

    #[test]
    fn a_debt_is_bounded_by_one_bucket() {
        let l = limiter(60, 10);
        let a = key("192.0.2.1");
        let t0 = Instant::now();
        l.charge_at(a, 1000, t0);
        assert_eq!(l.admit_at(a, t0).unwrap_err(), 11);
    }

    #[test]
    fn an_ipv6_64_is_one_client_and_mapped_ipv4_is_ipv4() {
        let l = limiter(60, 10);
        let t0 = Instant::now();
        l.charge_at(key("2001:db8:1:2::1"), 20, t0);
        assert!(l.admit_at(key("2001:db8:1:2:ffff::9"), t0).is_err());
        assert!(l.admit_at(key("2001:db8:1:3::1"), t0).is_ok());
        assert_eq!(key("::ffff:192.0.2.7"), key("192.0.2.7"));
        assert_ne!(key("2001:db8::1"), key("2001:db9::1"));
    }

    #[test]
    fn zero_turns_the_limit_off() {
        let l = limiter(0, 0);
        let a = key("192.0.2.1");
        for _ in 0..1000 {
            l.charge(a, 24);
            assert!(l.admit(a).is_ok());
        }
        assert_eq!(l.tracked(), 0);
    }

    #[test]
    fn full_buckets_are_forgotten() {
        let l = limiter(60, 10);
        l.charge(key("192.0.2.1"), 5);
        assert!(l.admit(key("192.0.2.2")).is_ok());
        assert_eq!(l.tracked(), 2);
        l.forget_idle();
        assert_eq!(l.tracked(), 1, "only the client in debt is kept");
    }
}
