//! `mailsetup serve`: the HTTP service for mail operators and help desks.
//!
//! It answers Thunderbird's autoconfig, Outlook's Autodiscover (POX and
//! the v2 JSON pointer), iPhone profiles, the `lookup --json` document and
//! a settings page, from the operator's configured domains or, in
//! help-desk mode, from built-in data and network discovery. The modules:
//!
//! - [`config`]: the operator's TOML file and its checks;
//! - [`resolve`]: where answers come from, with the discovery cache;
//! - [`mod@app`]: the router and its layers; [`state`]: what the handlers
//!   share; [`handlers`]: the endpoints;
//! - [`render`]: the bridge to each format's writer; [`answers`]: rendered
//!   answers that cannot change, kept; [`settings_page`]: the settings page
//!   (HTML, QR code), whose endpoints are in [`handlers`];
//! - [`origin`]: client address and host name; [`ratelimit`], [`metrics`],
//!   [`error`];
//! - [`conn`]: accepting connections, their caps and timeouts;
//! - [`tls`]: HTTPS; [`reload`]: the whole configuration swapped in on
//!   SIGHUP, and certificate expiry; [`accesslog`]: one line per request.
//!
//! [`Server`] binds the sockets (so a bad address fails before anything
//! is served) and then serves until a shutdown signal, letting requests in
//! flight finish within the request deadline.
//!
//! The server keeps no state between requests except caches, so more load
//! means more instances behind any load balancer.

pub mod accesslog;
pub mod answers;
pub mod app;
pub mod config;
pub mod conn;
pub mod error;
pub mod handlers;
pub mod metrics;
pub mod origin;
pub mod ratelimit;
pub mod reload;
pub mod render;
pub mod resolve;
pub mod settings_page;
pub mod state;
pub mod tls;

/// The Autodiscover request reader, at the path the fuzz target knows it
/// by; it lives in [`crate::autodiscover::request`].
pub use crate::autodiscover::request as pox;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

pub use app::app;
pub use config::Config;
use reload::Live;
pub use reload::ReloadError;
use resolve::DiscoverFn;
pub use state::{AppState, StartError};

/// Where the server listens without `--listen` or `listen` in the file.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// A server whose sockets are bound, ready to serve.
pub struct Server {
    listeners: Vec<TcpListener>,
    metrics_listener: Option<TcpListener>,
    live: Arc<Live>,
}

impl Server {
    /// Checks certificates, builds the state and binds every address of
    /// `listen` (or the configuration's, or [`DEFAULT_LISTEN`]).
    pub async fn bind(
        config: &Config,
        listen: &[SocketAddr],
        discover: DiscoverFn,
    ) -> Result<Server, StartError> {
        let mut prepared = reload::prepare(
            config.clone(),
            discover.clone(),
            Arc::new(metrics::Metrics::new()),
        )
        .map_err(StartError::Config)?;
        // Every connection takes a file descriptor: have as many as allowed.
        let fd_limit = conn::raise_fd_limit();
        let default: SocketAddr = DEFAULT_LISTEN.parse().expect("a valid constant");
        let addrs: Vec<SocketAddr> = if !listen.is_empty() {
            listen.to_vec()
        } else if !config.listen.is_empty() {
            config.listen.clone()
        } else {
            vec![default]
        };
        let mut listeners = Vec::new();
        for addr in addrs {
            let l = TcpListener::bind(addr)
                .await
                .map_err(|e| StartError::Listen(addr, e))?;
            listeners.push(l);
        }
        let metrics_listener = match config.metrics_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|e| StartError::Listen(addr, e))?,
            ),
            None => None,
        };
        // Links may be made from the addresses actually listened on too.
        let bound: Vec<SocketAddr> = listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect();
        reload::bind_facts(&mut prepared.state, &bound, fd_limit);
        if prepared.state.origin.public_url.is_none() {
            tracing::warn!(
                "no public_url in the configuration: links and QR codes follow the request's Host header, and are made only when it names one of the configured domains (or its autoconfig./autodiscover. name) or a listen address; set public_url to the address clients reach this service at"
            );
        }
        Ok(Server {
            listeners,
            metrics_listener,
            live: Arc::new(Live::new(prepared, bound, fd_limit, discover)),
        })
    }

    /// The addresses actually bound (port 0 resolved).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// The address of the `/metrics` listener, when there is one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// The current shared state (for tests that look at the metrics).
    pub fn state(&self) -> AppState {
        self.live.state()
    }

    /// The serving configuration, for reloading it (SIGHUP does).
    pub fn live(&self) -> Arc<Live> {
        self.live.clone()
    }

    /// Serves until `shutdown` completes, then lets requests in flight
    /// finish (each is bounded by the request deadline) and returns.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        let state = self.live.state();
        let grace = state.request_timeout + Duration::from_secs(1);
        state.limiter.spawn_cleaner(Duration::from_secs(60));
        let limits = state.connections;
        let max = conn::effective_max(limits.max, state.fd_limit);
        if max < limits.max {
            tracing::info!(
                configured = limits.max,
                max,
                "connections capped below connections.max by the open files limit"
            );
        }
        let tracker = Arc::new(conn::Tracker::new(max, limits.per_client));
        let metrics = state.metrics.clone();
        #[cfg(unix)]
        self.live.reload_on_sighup().map_err(StartError::Signals)?;
        self.live.spawn_expiry_checks();
        let router = self.live.service();
        let tls = self
            .live
            .tls()
            .map(|cert| tokio_rustls::TlsAcceptor::from(cert.server_config()));
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut tasks = tokio::task::JoinSet::new();
        if let Some(listener) = self.metrics_listener {
            if let Ok(addr) = listener.local_addr() {
                tracing::info!("metrics on http://{addr}/metrics");
            }
            let only_metrics = axum::Router::new()
                .route("/metrics", axum::routing::get(metrics::serve))
                .with_state(metrics.clone());
            let mut stop = stop_rx.clone();
            tasks.spawn(async move {
                let served = axum::serve(listener, only_metrics)
                    .with_graceful_shutdown(async move {
                        let _ = stop.wait_for(|s| *s).await;
                    })
                    .await;
                if let Err(e) = served {
                    tracing::error!(error = %e, "the metrics listener stopped");
                }
            });
        }
        for listener in self.listeners {
            let addr = listener
                .local_addr()
                .map_err(|e| StartError::Listen(SocketAddr::from(([0, 0, 0, 0], 0)), e))?;
            let scheme = if tls.is_some() { "https" } else { "http" };
            tracing::info!("listening on {scheme}://{addr}");
            let shared = conn::Shared {
                router: router.clone(),
                limits,
                tracker: tracker.clone(),
                metrics: metrics.clone(),
                tls: tls.clone(),
            };
            tasks.spawn(conn::accept_loop(listener, shared, stop_rx.clone()));
        }
        shutdown.await;
        tracing::info!("shutting down: finishing requests in flight");
        let _ = stop_tx.send(true);
        let drained =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!("requests still running after {grace:?}; stopping anyway");
        }
        Ok(())
    }
}

/// A future that completes on SIGTERM or Ctrl-C (SIGINT). The handlers
/// are installed when this is called, not when the future is first polled,
/// so a signal that arrives while the server starts is not lost (and does
/// not kill the process the default way). Call it inside the runtime.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
