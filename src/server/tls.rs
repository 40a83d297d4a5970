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
//! Each connection's handshake runs in that connection's own task with a
//! deadline ([`HANDSHAKE_DEADLINE`], see [`super::conn`]), so a client that
//! stalls mid-handshake holds up nobody else.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::config::CertKey;

/// How long a client may take to complete the TLS handshake.
pub const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);

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
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&cert_pem)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(CertError::NoCert(paths.cert.clone()));
    }
    let key_pem = read(&paths.key)?;
    let key =
        PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| CertError::NoKey(paths.key.clone()))?;
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
