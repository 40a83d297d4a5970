//! HTTPS for the service itself: the certificate, its reload, and a
//! listener that completes TLS handshakes before axum sees a connection.
//!
//! The rustls [`ServerConfig`] never changes; its certificate comes from a
//! [`ReloadingCert`] resolver whose certificate and key are replaced when
//! the configuration is reloaded (on SIGHUP, see [`super::reload`]), so a
//! renewed certificate is served to new connections without a restart. A
//! reload that fails (a half-written file, a key that does not match) is
//! logged and the previous certificate stays in use.
//!
//! [`TlsListener`] accepts TCP connections in a task of its own and runs
//! each handshake in its own task with a deadline, so a client that stalls
//! mid-handshake holds up nobody else.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::config::CertKey;
use super::origin::Peer;

/// How long a client may take to complete the TLS handshake.
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);

/// Why a certificate could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// A file could not be read.
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, std::io::Error),
    /// No certificate in the certificate file.
    #[error("{0} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)")]
    NoCert(PathBuf),
    /// No private key in the key file.
    #[error("{0} holds no PEM private key (expected -----BEGIN PRIVATE KEY----- or similar)")]
    NoKey(PathBuf),
    /// rustls refused the pair (unsupported key, key not matching).
    #[error("the key {key} does not fit the certificate {cert}: {error}")]
    Rejected {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        error: rustls::Error,
    },
}

/// Reads a certificate chain and its key from PEM files.
pub fn load_certified_key(paths: &CertKey) -> Result<CertifiedKey, CertError> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| CertError::Read(p.to_path_buf(), e));
    let cert_pem = read(&paths.cert)?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(CertError::NoCert(paths.cert.clone()));
    }
    let key_pem = read(&paths.key)?;
    let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .ok()
        .flatten()
        .ok_or_else(|| CertError::NoKey(paths.key.clone()))?;
    CertifiedKey::from_der(certs, key, &crate::net::tls::provider()).map_err(|error| {
        CertError::Rejected {
            cert: paths.cert.clone(),
            key: paths.key.clone(),
            error,
        }
    })
}

/// A certificate resolver whose certificate can be replaced while serving.
#[derive(Debug)]
pub struct ReloadingCert {
    paths: RwLock<CertKey>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl ReloadingCert {
    /// Loads the certificate and key named in `paths`.
    pub fn load(paths: CertKey) -> Result<ReloadingCert, CertError> {
        let key = load_certified_key(&paths)?;
        Ok(ReloadingCert::with_key(paths, Arc::new(key)))
    }

    /// A resolver presenting `key`, loaded from `paths`.
    pub fn with_key(paths: CertKey, key: Arc<CertifiedKey>) -> ReloadingCert {
        ReloadingCert {
            paths: RwLock::new(paths),
            current: RwLock::new(key),
        }
    }

    /// Reads the files again; on failure the old certificate stays.
    pub fn reload(&self) -> Result<(), CertError> {
        let paths = self.paths.read().unwrap_or_else(|p| p.into_inner()).clone();
        let key = Arc::new(load_certified_key(&paths)?);
        self.replace(paths, key);
        Ok(())
    }

    /// Presents `key` (read from `paths`) to new connections from now on.
    pub fn replace(&self, paths: CertKey, key: Arc<CertifiedKey>) {
        // A poisoned lock only means a panic elsewhere while swapping an Arc;
        // the value is still whole.
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = key;
        *self.paths.write().unwrap_or_else(|p| p.into_inner()) = paths;
    }

    /// A rustls server configuration that presents this certificate.
    pub fn server_config(self: &Arc<Self>) -> Arc<ServerConfig> {
        let mut config = ServerConfig::builder_with_provider(crate::net::tls::provider())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    }
}

/// A listener that yields connections whose TLS handshake is complete.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Serves TLS with `config` on `tcp`.
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(256);
        let acceptor = TlsAcceptor::from(config);
        tokio::spawn(async move {
            loop {
                let (stream, peer) = match tcp.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: wait, retry.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let acceptor = acceptor.clone();
                let ready = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_DEADLINE, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = ready.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
                if tx.is_closed() {
                    return;
                }
            }
        });
        Ok(TlsListener { ready, local })
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The accept task only ends when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for Peer {
    fn connect_info(s: IncomingStream<'_, TlsListener>) -> Self {
        Peer(*s.remote_addr())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_and_empty_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = CertKey {
            cert: dir.path().join("none.pem"),
            key: dir.path().join("none.key"),
            line: 0,
        };
        let e = ReloadingCert::load(missing).unwrap_err();
        assert!(matches!(e, CertError::Read(..)));
        assert!(e.to_string().contains("none.pem"), "{e}");

        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not pem").unwrap();
        let e = load_certified_key(&CertKey {
            cert: junk.clone(),
            key: junk,
            line: 0,
        })
        .unwrap_err();
        assert!(matches!(e, CertError::NoCert(_)), "{e}");
    }
}
