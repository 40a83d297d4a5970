//! Client connections: accepting them, capping them, timing them out.
//!
//! A service on a public address must not let idle or slow clients use up
//! its file descriptors. This module owns the accept loop and each
//! connection's life:
//!
//! - **Caps.** At most [`ConnectionLimits::max`] connections at once, and
//!   at most [`ConnectionLimits::per_client`] from one client (an IPv4
//!   address or an IPv6 /64, see [`ClientKey`]). A connection beyond a cap
//!   is closed as soon as it is accepted, before any byte is read, and
//!   counted in `/metrics`. The overall cap is lowered at start to what the
//!   file descriptor limit leaves room for ([`raise_fd_limit`] first raises
//!   the soft limit to the hard one).
//! - **Timeouts.** A client has [`ConnectionLimits::header_timeout`] to send
//!   a request's headers (hyper's header read timeout, which also runs
//!   while a kept-alive connection waits for its next request), and a
//!   connection with no request in flight is closed after
//!   [`ConnectionLimits::keep_alive`]. TLS handshakes have their own
//!   deadline ([`super::tls::HANDSHAKE_DEADLINE`]).
//! - **Accept errors.** Out of file descriptors (EMFILE, ENFILE) or memory,
//!   the loop waits before trying again, doubling the wait up to a second,
//!   instead of spinning on an error that will not go away by itself.
//!
//! The router sees each request with the peer's address as
//! `ConnectInfo<Peer>`, as `axum::serve` would give it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::config::ConnectionLimits;
use super::metrics::Metrics;
use super::origin::Peer;
use super::ratelimit::ClientKey;

/// File descriptors kept free for everything but client connections:
/// the listeners, DNS and discovery's outbound connections, log files.
pub const RESERVED_FDS: u64 = 128;

/// Raises the soft limit on open files to the hard limit and returns the
/// soft limit in effect, logging both. `None` where the limit cannot be
/// read (then nothing is changed).
pub fn raise_fd_limit() -> Option<u64> {
    let (soft, hard) = match rlimit::getrlimit(rlimit::Resource::NOFILE) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the open files limit");
            return None;
        }
    };
    if soft >= hard {
        tracing::info!(limit = soft, "open files limit");
        return Some(soft);
    }
    match rlimit::increase_nofile_limit(hard) {
        Ok(now) => {
            tracing::info!(from = soft, to = now, "raised the open files limit");
            Some(now)
        }
        Err(e) => {
            tracing::warn!(limit = soft, error = %e, "cannot raise the open files limit");
            Some(soft)
        }
    }
}

/// The overall connection cap for `configured` under a file descriptor
/// limit of `fd_limit`: every connection takes one descriptor, and
/// [`RESERVED_FDS`] stay free for the rest.
pub fn effective_max(configured: usize, fd_limit: Option<u64>) -> usize {
    match fd_limit {
        Some(l) => {
            let room = l.saturating_sub(RESERVED_FDS).max(16);
            configured.min(usize::try_from(room).unwrap_or(usize::MAX))
        }
        None => configured,
    }
}

/// Why a connection was closed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The overall cap was reached.
    Total,
    /// The client's own cap was reached.
    PerClient,
}

impl Refusal {
    /// The metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Total => "total",
            Refusal::PerClient => "per-client",
        }
    }
}

/// Counts open connections, overall and per client.
pub struct Tracker {
    max: usize,
    per_client: usize,
    total: AtomicUsize,
    clients: Mutex<HashMap<ClientKey, usize>>,
}

impl Tracker {
    /// A tracker that admits `max` connections, `per_client` from one
    /// client (0: no per-client cap).
    pub fn new(max: usize, per_client: usize) -> Tracker {
        Tracker {
            max,
            per_client,
            total: AtomicUsize::new(0),
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a new connection from `client`, or says why it must be
    /// closed. The count drops when the returned guard does.
    pub fn admit(self: &Arc<Self>, client: ClientKey) -> Result<Slot, Refusal> {
        if self.total.fetch_add(1, Ordering::AcqRel) >= self.max {
            self.total.fetch_sub(1, Ordering::AcqRel);
            return Err(Refusal::Total);
        }
        if self.per_client > 0 {
            let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
            let n = clients.entry(client).or_insert(0);
            if *n >= self.per_client {
                drop(clients);
                self.total.fetch_sub(1, Ordering::AcqRel);
                return Err(Refusal::PerClient);
            }
            *n += 1;
        }
        Ok(Slot {
            tracker: self.clone(),
            client,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.total.load(Ordering::Acquire)
    }

    /// Clients with a connection open now.
    pub fn clients(&self) -> usize {
        self.clients.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// One admitted connection; dropping it frees its place.
pub struct Slot {
    tracker: Arc<Tracker>,
    client: ClientKey,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.tracker.per_client > 0 {
            let mut clients = self
                .tracker
                .clients
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if let Some(n) = clients.get_mut(&self.client) {
                *n -= 1;
                if *n == 0 {
                    clients.remove(&self.client);
                }
            }
        }
        self.tracker.total.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What every connection of a listener shares.
#[derive(Clone)]
pub struct Shared {
    /// The service: the current configuration's router.
    pub router: super::reload::Current,
    /// Timeouts and caps.
    pub limits: ConnectionLimits,
    /// The open connections.
    pub tracker: Arc<Tracker>,
    /// Where refusals are counted.
    pub metrics: Arc<Metrics>,
    /// TLS, when the service speaks it itself.
    pub tls: Option<TlsAcceptor>,
}

/// Whether an accept error comes from running out of a resource, which
/// only time (connections closing) can fix.
fn is_resource_exhaustion(e: &std::io::Error) -> bool {
    // EMFILE, ENFILE, ENOBUFS, ENOMEM (Linux numbers).
    matches!(e.raw_os_error(), Some(24 | 23 | 105 | 12))
        || e.kind() == std::io::ErrorKind::OutOfMemory
}

/// Accepts connections on `listener` until `stop` turns true, then waits
/// for the connections to finish (each is asked to close once its request
/// in flight is answered).
pub async fn accept_loop(listener: TcpListener, shared: Shared, mut stop: watch::Receiver<bool>) {
    let mut connections = tokio::task::JoinSet::new();
    let mut backoff = Duration::ZERO;
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => break,
            // Reap finished connection tasks first, so that a steady stream
            // of new connections cannot keep finished ones in memory.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(c) => {
                backoff = Duration::ZERO;
                c
            }
            Err(e) if is_resource_exhaustion(&e) => {
                backoff = (backoff * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
                shared.metrics.accept_error();
                tracing::warn!(error = %e, wait = ?backoff, "accept failed: out of resources; waiting");
                tokio::select! {
                    _ = stop.wait_for(|s| *s) => break,
                    _ = tokio::time::sleep(backoff) => continue,
                }
            }
            Err(e) => {
                // A connection reset before it was accepted, and the like.
                tracing::debug!(error = %e, "accept failed");
                continue;
            }
        };
        let slot = match shared.tracker.admit(ClientKey::of(peer.ip())) {
            Ok(s) => s,
            Err(why) => {
                shared.metrics.connection_refused(why);
                tracing::debug!(reason = why.as_str(), "connection over the cap closed");
                drop(stream);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let stop = stop.clone();
        connections.spawn(async move {
            let _slot = slot;
            match &shared.tls {
                None => serve_connection(stream, peer, &shared, stop).await,
                Some(acceptor) => {
                    let handshake = tokio::time::timeout(
                        super::tls::HANDSHAKE_DEADLINE,
                        acceptor.accept(stream),
                    );
                    match handshake.await {
                        Ok(Ok(tls)) => serve_connection(tls, peer, &shared, stop).await,
                        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                }
            }
        });
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// When a connection last finished a request, and how many are in flight.
struct Activity {
    start: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds after `start`.
    last: AtomicU64,
}

impl Activity {
    fn touch(&self) {
        // At least 1: 0 means "no request answered yet", and a first answer
        // can come within the first millisecond.
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(ms.max(1), Ordering::Release);
    }

    fn idle_for(&self) -> Option<Duration> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let last = Duration::from_millis(self.last.load(Ordering::Acquire));
        Some(self.start.elapsed().saturating_sub(last))
    }
}

/// Serves HTTP/1.1 on one connection until the client or a timeout ends it.
async fn serve_connection<I>(
    io: I,
    peer: SocketAddr,
    shared: &Shared,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity {
        start: Instant::now(),
        in_flight: AtomicUsize::new(0),
        last: AtomicU64::new(0),
    });
    let router = shared.router.clone();
    let seen = activity.clone();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(Peer(peer)));
        let router = router.clone();
        let seen = seen.clone();
        seen.in_flight.fetch_add(1, Ordering::AcqRel);
        async move {
            let response = router.oneshot(req.map(axum::body::Body::new)).await;
            seen.touch();
            seen.in_flight.fetch_sub(1, Ordering::AcqRel);
            Ok::<_, Infallible>(response.unwrap_or_else(|never| match never {}))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(shared.limits.header_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let keep_alive = shared.limits.keep_alive;
    let mut closing = false;
    let mut next_check = tokio::time::Instant::now() + keep_alive;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended");
                }
                return;
            }
            _ = stop.wait_for(|s| *s), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = tokio::time::sleep_until(next_check), if !closing => {
                // Before the first request, the header timeout applies.
                let served = activity.last.load(Ordering::Acquire) > 0;
                match activity.idle_for() {
                    Some(idle) if served && idle >= keep_alive => {
                        closing = true;
                        conn.as_mut().graceful_shutdown();
                    }
                    Some(idle) if served => next_check += keep_alive - idle,
                    _ => next_check += keep_alive,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ip: &str) -> ClientKey {
        ClientKey::of(ip.parse().unwrap())
    }

    #[test]
    fn caps_overall_and_per_client_and_frees_on_drop() {
        let t = Arc::new(Tracker::new(5, 2));
        let a1 = t.admit(key("192.0.2.1")).unwrap();
        let _a2 = t.admit(key("192.0.2.1")).unwrap();
        assert_eq!(t.admit(key("192.0.2.1")).err(), Some(Refusal::PerClient));
        // The same /64 is the same client.
        let _b1 = t.admit(key("2001:db8::1")).unwrap();
        let _b2 = t.admit(key("2001:db8::2")).unwrap();
        assert_eq!(t.admit(key("2001:db8::3")).err(), Some(Refusal::PerClient));
        let _c = t.admit(key("192.0.2.3")).unwrap();
        assert_eq!(t.admit(key("192.0.2.4")).err(), Some(Refusal::Total));
        assert_eq!(t.open(), 5);
        drop(a1);
        assert_eq!(t.open(), 4);
        let _a3 = t.admit(key("192.0.2.1")).unwrap();
        assert_eq!(t.clients(), 3);
    }

    #[test]
    fn per_client_zero_is_no_per_client_cap() {
        let t = Arc::new(Tracker::new(3, 0));
        let held: Vec<_> = (0..3).map(|_| t.admit(key("192.0.2.1")).unwrap()).collect();
        assert_eq!(t.admit(key("192.0.2.1")).err(), Some(Refusal::Total));
        drop(held);
        assert_eq!((t.open(), t.clients()), (0, 0));
    }

    #[test]
    fn the_overall_cap_leaves_room_for_other_descriptors() {
        assert_eq!(
            effective_max(10_000, Some(1024)),
            1024 - RESERVED_FDS as usize
        );
        assert_eq!(effective_max(100, Some(1024)), 100);
        assert_eq!(effective_max(10_000, None), 10_000);
        assert_eq!(effective_max(10_000, Some(10)), 16);
    }

    #[test]
    fn out_of_descriptors_is_told_from_other_accept_errors() {
        for code in [24, 23] {
            assert!(is_resource_exhaustion(&std::io::Error::from_raw_os_error(
                code
            )));
        }
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionAborted);
        assert!(!is_resource_exhaustion(&reset));
    }
}
