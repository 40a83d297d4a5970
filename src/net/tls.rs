//! TLS client configuration: which roots are trusted.
//!
//! Every TLS connection the program makes — HTTPS for autoconfig and
//! Autodiscover, IMAP/POP3/SMTP probes — uses a [`rustls::ClientConfig`]
//! built here, so there is one answer to "whom do we trust": the built-in
//! Mozilla roots (webpki-roots), the system's roots, and the roots of
//! `--ca-file`. Certificates are always validated; there is no switch to turn
//! that off.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;

/// Why the trust store could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsSetupError {
    /// The CA file could not be read.
    #[error("cannot read the CA file {0}: {1}")]
    Read(PathBuf, std::io::Error),
    /// The CA file holds no usable certificate.
    #[error("the CA file {0} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)")]
    Empty(PathBuf),
    /// A certificate in the CA file was rejected.
    #[error("the CA file {0} holds a certificate that cannot be used as a root: {1}")]
    BadCert(PathBuf, rustls::Error),
}

/// The crypto provider every config uses (ring: pure, no C build step beyond
/// ring's own).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The roots to trust: built-in, system, and `ca_file`.
///
/// The built-in and system roots are read and parsed once per process
/// (discovery, its probes and `--verify` each build a configuration); each
/// call gets its own copy, so `ca_file` roots never leak into another call.
pub fn root_store(ca_file: Option<&Path>) -> Result<RootCertStore, TlsSetupError> {
    let mut roots = base_roots().clone();
    if let Some(path) = ca_file {
        for cert in read_pem_certs(path)? {
            roots
                .add(cert)
                .map_err(|e| TlsSetupError::BadCert(path.to_path_buf(), e))?;
        }
    }
    Ok(roots)
}

/// The built-in and system roots, loaded on first use.
fn base_roots() -> &'static RootCertStore {
    static BASE: OnceLock<RootCertStore> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        // The system's roots are a bonus: a machine without any still works
        // with the built-in ones, so failures here are ignored.
        let native = rustls_native_certs::load_native_certs();
        for cert in native.certs {
            let _ = roots.add(cert);
        }
        roots
    })
}

/// Reads every certificate of a PEM file.
pub fn read_pem_certs(
    path: &Path,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, TlsSetupError> {
    let data = std::fs::read(path).map_err(|e| TlsSetupError::Read(path.to_path_buf(), e))?;
    let certs: Vec<_> = rustls::pki_types::CertificateDer::pem_slice_iter(&data)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(TlsSetupError::Empty(path.to_path_buf()));
    }
    Ok(certs)
}

/// A client configuration that validates certificates against
/// [`root_store`], TLS 1.2 and 1.3.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, TlsSetupError> {
    let roots = root_store(ca_file)?;
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_roots_are_present() {
        let roots = root_store(None).unwrap();
        assert!(roots.len() > 100);
    }

    #[test]
    fn ca_file_roots_are_added_per_call_and_never_cached() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "root cache test CA");
        let ca = params.self_signed(&key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ca.pem");
        std::fs::write(&file, ca.pem()).unwrap();

        let base = root_store(None).unwrap().len();
        let with_ca = root_store(Some(&file)).unwrap();
        assert_eq!(with_ca.len(), base + 1);
        // The subject (DER) holds the common name as plain bytes.
        let ours = |s: &RootCertStore| {
            s.roots.iter().any(|r| {
                r.subject
                    .as_ref()
                    .windows(18)
                    .any(|w| w == b"root cache test CA")
            })
        };
        assert!(ours(&with_ca));
        // The next configuration without the file does not trust it.
        let again = root_store(None).unwrap();
        assert_eq!(again.len(), base);
        assert!(!ours(&again));
    }

    #[test]
    fn bad_ca_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        assert!(matches!(
            client_config(Some(&missing)),
            Err(TlsSetupError::Read(..))
        ));
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate").unwrap();
        assert!(matches!(
            client_config(Some(&empty)),
            Err(TlsSetupError::Empty(..))
        ));
    }
}
