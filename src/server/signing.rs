//! Signing Apple profiles with the operator's certificate, so that iOS
//! shows them as "Verified". The certificate and key are loaded once at
//! start, so a bad file stops the server before it serves anything; the
//! CMS encoding itself belongs to the profile signer in the library.

use super::config::CertKey;
use super::error::AppError;

/// The operator's signing certificate and key.
pub struct Signer {
    _key: rustls::sign::CertifiedKey,
}

impl Signer {
    /// Loads and checks the certificate and key.
    pub fn load(paths: &CertKey) -> Result<Signer, super::tls::CertError> {
        Ok(Signer {
            _key: super::tls::load_certified_key(paths)?,
        })
    }

    /// `profile` signed.
    pub fn sign(&self, _profile: &[u8]) -> Result<Vec<u8>, AppError> {
        Err(AppError::Internal(
            "the profile signer is not part of this build yet".into(),
        ))
    }
}
