//! The configuration while serving: loading it whole, swapping it in on
//! SIGHUP, and watching its certificates' expiry.
//!
//! [`prepare`] turns a checked [`Config`] into everything a request needs
//! (the [`AppState`]: domains, resolver, signer, limits, page) and loads
//! the TLS certificate, so every mistake — in the file or in a certificate
//! or key it names — is found before anything is replaced, and reported as
//! `FILE:LINE: what to change`. [`Live`] holds the router built from the
//! current state behind an [`ArcSwap`]: each request runs on the router it
//! found when it arrived, and [`Live::reload`] swaps in a new one in a
//! single store, so no request ever sees half of two configurations. A
//! reload that fails leaves the old configuration serving.
//!
//! What a reload cannot change without new sockets — the listen addresses,
//! `metrics_listen`, and whether the listeners speak TLS — keeps its
//! start-up value, with a warning that says to restart.
//!
//! Certificates (TLS and profile signing) that have expired or expire
//! within [`EXPIRY_WARNING_DAYS`] days are logged at start, on reload and
//! daily, and their remaining seconds are the
//! `mailsetup_certificate_expiry_seconds` gauge.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::extract::Request;
use axum::response::Response;
use rustls::sign::CertifiedKey;
use tower::ServiceExt;
use tower::util::Oneshot;

use super::app::{App, app};
use super::config::{self, Config, ConfigError};
use super::metrics::Metrics;
use super::resolve::DiscoverFn;
use super::state::{AppState, StartError};
use super::tls::{self, ReloadingCert};

/// Certificates closer than this to their end are warned about.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// How often certificate expiry is checked while serving.
pub const EXPIRY_CHECK_EVERY: Duration = Duration::from_secs(24 * 60 * 60);

/// When one of the configuration's certificates ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertExpiry {
    /// `tls` or `signing`.
    pub certificate: &'static str,
    /// The certificate file.
    pub file: PathBuf,
    /// Its end of validity, in seconds since the Unix epoch.
    pub not_after: i64,
}

impl CertExpiry {
    /// A warning when the certificate has expired or ends within
    /// [`EXPIRY_WARNING_DAYS`] days of `now`; `(expired, text)`.
    pub fn warning(&self, now: i64) -> Option<(bool, String)> {
        let left = self.not_after - now;
        let what = match self.certificate {
            "tls" => "the TLS certificate",
            _ => "the profile-signing certificate",
        };
        let date = crate::probe::rfc3339(self.not_after);
        if left <= 0 {
            Some((
                true,
                format!(
                    "{what} {} expired on {date}: install a renewed certificate and send SIGHUP",
                    self.file.display()
                ),
            ))
        } else if left < EXPIRY_WARNING_DAYS * 86_400 {
            Some((
                false,
                format!(
                    "{what} {} expires on {date}, in {} days: renew it and send SIGHUP",
                    self.file.display(),
                    left / 86_400
                ),
            ))
        } else {
            None
        }
    }
}

/// A configuration ready to serve: its state and certificates loaded.
pub struct Prepared {
    /// The configuration.
    pub config: Config,
    /// What the handlers share.
    pub state: AppState,
    /// The TLS certificate and key, when `[tls]` is set.
    pub tls_key: Option<Arc<CertifiedKey>>,
    /// When its certificates end.
    pub expiry: Vec<CertExpiry>,
}

/// Loads what `config` names (TLS certificate and key, signing
/// certificate and key, logo) and builds the handlers' state, counting
/// into `metrics`. Errors name the configuration's file and line.
pub fn prepare(
    config: Config,
    discover: DiscoverFn,
    metrics: Arc<Metrics>,
) -> Result<Prepared, ConfigError> {
    let mut expiry = Vec::new();
    let tls_key = match &config.tls {
        Some(paths) => {
            let key = tls::load_certified_key(paths).map_err(|e| {
                config.error_at(paths.line, format!("[tls] {e}: fix the file or the path"))
            })?;
            if let Some(not_after) = key.cert.first().and_then(|c| not_after_der(c)) {
                expiry.push(CertExpiry {
                    certificate: "tls",
                    file: paths.cert.clone(),
                    not_after,
                });
            }
            Some(Arc::new(key))
        }
        None => None,
    };
    let state = AppState::with_metrics(&config, discover, metrics).map_err(|e| {
        let line = config.signing.as_ref().map_or(0, |s| s.line);
        match e {
            StartError::Signing(m) => config.error_at(
                line,
                format!("[signing] {m}: fix the file or the path, or leave [signing] out"),
            ),
            other => config.error_at(0, other.to_string()),
        }
    })?;
    if let (Some(signer), Some(paths)) = (&state.signer, &config.signing) {
        let not_after = signer
            .certificate()
            .tbs_certificate
            .validity
            .not_after
            .to_unix_duration()
            .as_secs() as i64;
        expiry.push(CertExpiry {
            certificate: "signing",
            file: paths.cert.clone(),
            not_after,
        });
    }
    Ok(Prepared {
        config,
        state,
        tls_key,
        expiry,
    })
}

/// The end of validity of a DER certificate, in Unix seconds.
fn not_after_der(der: &[u8]) -> Option<i64> {
    use der::Decode;
    let cert = x509_cert::Certificate::from_der(der).ok()?;
    Some(
        cert.tbs_certificate
            .validity
            .not_after
            .to_unix_duration()
            .as_secs() as i64,
    )
}

/// Seconds since the Unix epoch, now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Adds what is known only once the sockets are bound to `state`: the
/// listen addresses links may name, and the open files limit.
pub fn bind_facts(state: &mut AppState, bound: &[SocketAddr], fd_limit: Option<u64>) {
    let mut origin = (*state.origin).clone();
    origin
        .link_hosts
        .extend(super::origin::OriginPolicy::link_hosts([], bound));
    state.origin = Arc::new(origin);
    state.fd_limit = fd_limit;
}

/// Why a reload did not happen; the old configuration keeps serving.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReloadError {
    /// The server was started without `--config`.
    #[error("the server was started without --config: there is no file to read again")]
    NoFile,
    /// The file, or a file it names, has a mistake.
    #[error("{0}")]
    Config(#[from] ConfigError),
}

/// What stays as it was at start-up, whatever a reload says.
struct Fixed {
    listen: Vec<SocketAddr>,
    fd_limit: Option<u64>,
    metrics_listen: Option<SocketAddr>,
}

/// The serving configuration and the router built from it.
pub struct Live {
    discover: DiscoverFn,
    metrics: Arc<Metrics>,
    current: ArcSwap<Prepared>,
    router: ArcSwap<App>,
    tls: Option<Arc<ReloadingCert>>,
    fixed: Fixed,
    /// Serialises reloads (two SIGHUPs in a row).
    reloading: std::sync::Mutex<()>,
}

impl Live {
    /// Starts serving `prepared`; `listen` is where the listeners are.
    pub fn new(
        prepared: Prepared,
        listen: Vec<SocketAddr>,
        fd_limit: Option<u64>,
        discover: DiscoverFn,
    ) -> Live {
        let tls = match (&prepared.config.tls, &prepared.tls_key) {
            (Some(paths), Some(key)) => Some(Arc::new(ReloadingCert::with_key(
                paths.clone(),
                key.clone(),
            ))),
            _ => None,
        };
        let fixed = Fixed {
            listen,
            fd_limit,
            metrics_listen: prepared.config.metrics_listen,
        };
        let metrics = prepared.state.metrics.clone();
        let router = app(prepared.state.clone());
        let live = Live {
            discover,
            metrics,
            current: ArcSwap::from_pointee(prepared),
            router: ArcSwap::from_pointee(router),
            tls,
            fixed,
            reloading: std::sync::Mutex::new(()),
        };
        live.check_expiry(now());
        live
    }

    /// The handlers' current state.
    pub fn state(&self) -> AppState {
        self.current.load().state.clone()
    }

    /// The current configuration.
    pub fn config(&self) -> Config {
        self.current.load().config.clone()
    }

    /// The TLS certificate resolver, when the listeners speak TLS.
    pub fn tls(&self) -> Option<&Arc<ReloadingCert>> {
        self.tls.as_ref()
    }

    /// Where `/metrics` has a listener of its own.
    pub fn metrics_listen(&self) -> Option<SocketAddr> {
        self.fixed.metrics_listen
    }

    /// The metrics, which live as long as the server.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The service that hands each request to the current configuration's
    /// router.
    pub fn service(self: &Arc<Self>) -> Current {
        Current(self.clone())
    }

    /// Reads the configuration file again and, when it and everything it
    /// names is usable, serves it from the next request on. Returns the
    /// warnings about what needs a restart to change.
    pub fn reload(&self) -> Result<Vec<String>, ReloadError> {
        let _one = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
        let old = self.current.load_full();
        let path = old.config.path.clone().ok_or(ReloadError::NoFile)?;
        let config = config::load(&path)?;
        let mut restart = Vec::new();
        let mut prepared = prepare(config, self.discover.clone(), self.metrics.clone())?;
        bind_facts(&mut prepared.state, &self.fixed.listen, self.fixed.fd_limit);
        if prepared.config.connections != old.config.connections {
            restart.push(
                "[connections] changed: the connection caps and timeouts stay as they were until restarted"
                    .into(),
            );
            prepared.state.connections = old.state.connections;
        }
        prepared
            .state
            .limiter
            .spawn_cleaner(Duration::from_secs(60));
        let listen = &prepared.config.listen;
        if !listen.is_empty() && *listen != self.fixed.listen {
            restart.push(format!(
                "listen changed to {listen:?}: still listening on {:?} until restarted",
                self.fixed.listen
            ));
        }
        if prepared.config.metrics_listen != self.fixed.metrics_listen {
            restart.push(format!(
                "metrics_listen changed: /metrics stays {} until restarted",
                match self.fixed.metrics_listen {
                    Some(a) => format!("on {a}"),
                    None => "on the main listeners".into(),
                }
            ));
            // Keep /metrics where its listener is.
            prepared.state.serve_metrics = self.fixed.metrics_listen.is_none();
        }
        match (&self.tls, &prepared.config.tls, &prepared.tls_key) {
            (Some(cert), Some(paths), Some(key)) => cert.replace(paths.clone(), key.clone()),
            (Some(_), None, _) => restart.push(
                "[tls] was removed: still serving HTTPS with the previous certificate until restarted"
                    .into(),
            ),
            (None, Some(_), _) => restart.push(
                "[tls] was added: still serving plain HTTP until restarted".into(),
            ),
            _ => {}
        }
        let router = app(prepared.state.clone());
        self.current.store(Arc::new(prepared));
        self.router.store(Arc::new(router));
        self.check_expiry(now());
        Ok(restart)
    }

    /// Logs certificates that have expired or expire soon, as of `now`,
    /// and sets the expiry gauge. Returns the warnings.
    pub fn check_expiry(&self, now: i64) -> Vec<String> {
        let current = self.current.load();
        let mut warnings = Vec::new();
        for which in ["tls", "signing"] {
            let e = current.expiry.iter().find(|e| e.certificate == which);
            self.metrics
                .certificate_expiry(which, e.map(|e| e.not_after - now));
            if let Some((expired, text)) = e.and_then(|e| e.warning(now)) {
                if expired {
                    tracing::error!("{text}");
                } else {
                    tracing::warn!("{text}");
                }
                warnings.push(text);
            }
        }
        warnings
    }

    /// Reloads on every SIGHUP, logging the outcome. A server without
    /// `--config` or without `[tls]` lives on: SIGHUP never kills it.
    #[cfg(unix)]
    pub fn reload_on_sighup(self: &Arc<Self>) -> std::io::Result<()> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hup = signal(SignalKind::hangup())?;
        let live = self.clone();
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                let l = live.clone();
                let outcome = tokio::task::spawn_blocking(move || l.reload()).await;
                match outcome {
                    Ok(Ok(restart)) => {
                        let c = live.current.load();
                        let file = c
                            .config
                            .path
                            .as_ref()
                            .map(|p| p.display().to_string())
                            .unwrap_or_default();
                        let names: std::collections::BTreeSet<&str> =
                            c.config.domains.values().map(|d| d.name.as_str()).collect();
                        tracing::info!(
                            "SIGHUP: configuration reloaded from {file} ({} domains{}{})",
                            names.len(),
                            if c.config.tls.is_some() { ", TLS" } else { "" },
                            if c.config.signing.is_some() {
                                ", signing"
                            } else {
                                ""
                            },
                        );
                        for r in restart {
                            tracing::warn!("SIGHUP: {r}");
                        }
                    }
                    Ok(Err(ReloadError::NoFile)) => tracing::warn!(
                        "SIGHUP: started without --config, so there is nothing to reload; still serving"
                    ),
                    Ok(Err(e)) => {
                        tracing::error!("SIGHUP: {e}; still serving the previous configuration")
                    }
                    Err(e) => tracing::error!(
                        "SIGHUP: the reload failed ({e}); still serving the previous configuration"
                    ),
                }
            }
        });
        Ok(())
    }

    /// Checks certificate expiry every [`EXPIRY_CHECK_EVERY`] while the
    /// server runs.
    pub fn spawn_expiry_checks(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(EXPIRY_CHECK_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                match weak.upgrade() {
                    Some(live) => {
                        live.check_expiry(now());
                    }
                    None => return,
                }
            }
        });
    }
}

/// Each request goes to the router that is current when it arrives.
#[derive(Clone)]
pub struct Current(Arc<Live>);

impl tower::Service<Request> for Current {
    type Response = Response;
    type Error = Infallible;
    type Future = Oneshot<App, Request>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        App::clone(&self.0.router.load()).oneshot(req)
    }
}

/// Checks a configuration file the way `serve` would load it, without
/// listening: the file, its certificates and keys, and the logo. Returns
/// the configuration and warnings (certificates about to expire).
pub fn check_file(path: &std::path::Path) -> Result<(Config, Vec<String>), ConfigError> {
    let config = config::load(path)?;
    let discover: DiscoverFn = Arc::new(|_| {
        Box::pin(async { Err(crate::lookup::LookupError::Setup("not serving".into())) })
    });
    let prepared = prepare(config, discover, Arc::new(Metrics::new()))?;
    let now = now();
    let warnings = prepared
        .expiry
        .iter()
        .filter_map(|e| e.warning(now).map(|(_, t)| t))
        .collect();
    Ok((prepared.config, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_warnings_start_thirty_days_ahead() {
        let e = CertExpiry {
            certificate: "tls",
            file: "/etc/mailsetup/fullchain.pem".into(),
            not_after: 1_000_000_000,
        };
        assert_eq!(e.warning(1_000_000_000 - 31 * 86_400), None);
        let (expired, text) = e.warning(1_000_000_000 - 10 * 86_400).unwrap();
        assert!(!expired);
        assert!(text.contains("in 10 days"), "{text}");
        assert!(text.contains("2001-09-09"), "{text}");
        let (expired, text) = e.warning(1_000_000_001).unwrap();
        assert!(expired, "{text}");
        assert!(text.contains("expired on 2001-09-09"), "{text}");
    }
}
