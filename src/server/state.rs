//! [`AppState`]: what every handler shares (resolver, kept answers, origin
//! policy, metrics, rate limiter, signer, page settings), and
//! [`StartError`], why it cannot be built.
//!
//! It lives apart from the router ([`mod@super::app`]) so that handlers, the
//! access log and the origin policy read it without importing the router
//! that imports them.

use std::sync::Arc;
use std::time::Duration;

use super::answers::Answers;
use super::config::{Config, ConnectionLimits, PageConfig};
use super::metrics::Metrics;
use super::origin::OriginPolicy;
use super::ratelimit::Limiter;
use super::resolve::{DiscoverFn, Resolver};
use crate::apple::sign::Signer;

/// Everything the handlers share; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Where answers come from.
    pub resolver: Arc<Resolver>,
    /// Rendered answers that cannot change, kept.
    pub answers: Arc<Answers>,
    /// How to read who is asking and by which name.
    pub origin: Arc<OriginPolicy>,
    /// The metrics.
    pub metrics: Arc<Metrics>,
    /// The per-client limit on network discovery (the resolver's).
    pub limiter: Arc<Limiter>,
    /// Signs Apple profiles, when a certificate is configured.
    pub signer: Option<Arc<Signer>>,
    /// Whether addresses may be logged at info level.
    pub log_addresses: bool,
    /// The deadline of one request.
    pub request_timeout: Duration,
    /// Timeouts and caps of client connections.
    pub connections: ConnectionLimits,
    /// The soft open files limit in effect, when known.
    pub fd_limit: Option<u64>,
    /// Whether `/metrics` is served by this router (no `metrics_listen`).
    pub serve_metrics: bool,
    /// The page's operator name, logo and help link.
    pub page: Arc<PageConfig>,
}

/// Why the service cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The signing certificate or key is unusable.
    #[error("the profile-signing certificate: {0}")]
    Signing(String),
    /// The TLS certificate or key is unusable.
    #[error("the TLS certificate: {0}")]
    Tls(#[from] super::tls::CertError),
    /// A listening socket could not be opened.
    #[error("cannot listen on {0}: {1}")]
    Listen(std::net::SocketAddr, std::io::Error),
    /// Signal handlers could not be installed.
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
    /// The configuration, or a file it names, is unusable.
    #[error("{0}")]
    Config(super::config::ConfigError),
}

impl AppState {
    /// The state for `config`, discovering with `discover`.
    pub fn new(config: &Config, discover: DiscoverFn) -> Result<AppState, StartError> {
        AppState::with_metrics(config, discover, Arc::new(Metrics::new()))
    }

    /// The state for `config`, counting into `metrics` (which outlive a
    /// configuration reload).
    pub fn with_metrics(
        config: &Config,
        discover: DiscoverFn,
        metrics: Arc<Metrics>,
    ) -> Result<AppState, StartError> {
        let signer = match &config.signing {
            Some(paths) => Some(Arc::new(
                Signer::load(&paths.cert, &paths.key)
                    .map_err(|e| StartError::Signing(e.to_string()))?,
            )),
            None => None,
        };
        let resolver = Arc::new(Resolver::new(config, discover, metrics.clone()));
        Ok(AppState {
            answers: Arc::new(Answers::new()),
            limiter: resolver.limiter().clone(),
            resolver,
            origin: Arc::new(OriginPolicy {
                trust_forwarded: config.trust_forwarded,
                tls: config.tls.is_some(),
                public_url: config.public_url.clone(),
                link_hosts: OriginPolicy::link_hosts(
                    config.domains.keys().map(String::as_str),
                    &config.listen,
                ),
            }),
            metrics,
            signer,
            log_addresses: config.log_addresses,
            request_timeout: config.request_timeout,
            connections: config.connections,
            fd_limit: None,
            serve_metrics: config.metrics_listen.is_none(),
            page: Arc::new(config.page.clone()),
        })
    }

    /// Logs that `email` was asked about: with the address at info level
    /// when the operator allows addresses in logs (`log_addresses`),
    /// otherwise only at debug level.
    pub fn log_lookup(&self, endpoint: &str, email: &crate::address::EmailAddress) {
        if self.log_addresses {
            tracing::info!(endpoint, email = %email, "lookup");
        } else {
            tracing::debug!(endpoint, email = %email, "lookup");
        }
    }
}
