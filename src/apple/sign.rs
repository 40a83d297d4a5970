//! Signing configuration profiles: CMS SignedData (RFC 5652), the format
//! iOS shows as "Verified" when the signer's certificate chains to a root
//! it trusts.
//!
//! The profile is embedded (not detached) as `id-data` content, digested
//! with SHA-256, and signed over the signed attributes (content type and
//! message digest) with ECDSA P-256 or RSA PKCS #1 v1.5. The certificate
//! file's whole chain goes into the SignedData so the device can build the
//! path to its root. No signing time is added: the same profile and key
//! give the same bytes (ECDSA per RFC 6979 and PKCS #1 v1.5 are
//! deterministic), and iOS checks the certificate's validity when
//! installing, not a time the signer claims.
//!
//! The CMS structure and certificates are RustCrypto (`cms`, `x509-cert`);
//! ECDSA P-256 signatures come from `p256` (deterministic, RFC 6979) and RSA
//! signatures from `ring`, the library rustls already brings for TLS, whose
//! RSA private-key operations are constant-time and blinded. There is no
//! `rsa` crate (RUSTSEC-2023-0071, the "Marvin" timing attack). `ring` signs
//! with RSA keys of 2048 to 4096 bits. Keys are PEM: PKCS #8
//! (`PRIVATE KEY`), SEC1 (`EC PRIVATE KEY`) or PKCS #1 (`RSA PRIVATE KEY`).

use std::io::Read;
use std::path::Path;

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Decode, Encode, Tag};
use p256::pkcs8::DecodePrivateKey;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use spki::{AlgorithmIdentifierOwned, DecodePublicKey};
use x509_cert::Certificate;
use x509_cert::attr::{Attribute, AttributeValue};
use zeroize::Zeroizing;

/// The largest certificate or key file read (a chain is a few KiB).
pub const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// The shortest RSA key accepted (NIST SP 800-131A).
pub const MIN_RSA_BITS: usize = 2048;

/// The longest RSA key accepted (the most `ring` signs with).
pub const MAX_RSA_BITS: usize = 4096;

/// Why a profile could not be signed. Each message names the file and what
/// to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// A file could not be read.
    #[error("cannot read {file}: {why}")]
    Read {
        /// The file.
        file: String,
        /// The operating system's reason.
        why: String,
    },
    /// A file is larger than [`MAX_PEM_BYTES`].
    #[error("{file} is larger than 1 MiB: it is not a PEM certificate or key")]
    TooLarge {
        /// The file.
        file: String,
    },
    /// Not PEM, or a PEM block is damaged.
    #[error("{file} is not readable PEM ({why}): expected -----BEGIN … ----- blocks")]
    Pem {
        /// The file.
        file: String,
        /// The parser's reason.
        why: String,
    },
    /// No certificate in the certificate file.
    #[error(
        "{file} holds no certificate: expected the signing certificate as -----BEGIN CERTIFICATE-----, followed by its chain"
    )]
    NoCertificate {
        /// The file.
        file: String,
    },
    /// A certificate that is not valid DER X.509.
    #[error("certificate {index} in {file} is damaged: {why}")]
    BadCertificate {
        /// The file.
        file: String,
        /// 1 for the first certificate.
        index: usize,
        /// The parser's reason.
        why: String,
    },
    /// No private key in the key file.
    #[error(
        "{file} holds no private key: expected -----BEGIN PRIVATE KEY-----, -----BEGIN EC PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----"
    )]
    NoKey {
        /// The file.
        file: String,
    },
    /// A password-protected key.
    #[error(
        "the private key in {file} is encrypted: write an unencrypted copy with `openssl pkey -in {file} -out signing-key.pem` and use that"
    )]
    EncryptedKey {
        /// The file.
        file: String,
    },
    /// A key that does not decode.
    #[error("the private key in {file} is damaged: {why}")]
    BadKey {
        /// The file.
        file: String,
        /// The parser's reason.
        why: String,
    },
    /// A key of a kind we do not sign with.
    #[error("the private key in {file} is {what}: mailsetup signs with ECDSA P-256 or RSA keys")]
    UnsupportedKey {
        /// The file.
        file: String,
        /// What it is.
        what: String,
    },
    /// The key is not the certificate's.
    #[error(
        "the private key in {key} does not belong to the first certificate in {cert}: put the signing certificate first and give its own key"
    )]
    KeyMismatch {
        /// The certificate file.
        cert: String,
        /// The key file.
        key: String,
    },
    /// The CMS encoder failed.
    #[error("could not build the signature: {0}")]
    Cms(String),
}

enum Key {
    P256(p256::ecdsa::SigningKey),
    Rsa(Box<ring::rsa::KeyPair>),
}

/// A signing certificate with its chain and private key, ready to sign.
pub struct Signer {
    key: Key,
    chain: Vec<Certificate>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key itself is never shown.
        f.debug_struct("Signer")
            .field(
                "subject",
                &self.chain[0].tbs_certificate.subject.to_string(),
            )
            .field("chain", &self.chain.len())
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Reads the certificate (chain) and key files.
    pub fn load(cert_file: &Path, key_file: &Path) -> Result<Signer, SignError> {
        let cert = read(cert_file)?;
        let key = read(key_file)?;
        Signer::from_pem(
            &cert,
            &cert_file.display().to_string(),
            &key,
            &key_file.display().to_string(),
        )
    }

    /// A signer from PEM text; `cert_name` and `key_name` name the sources
    /// in error messages.
    pub fn from_pem(
        cert_pem: &[u8],
        cert_name: &str,
        key_pem: &[u8],
        key_name: &str,
    ) -> Result<Signer, SignError> {
        let chain = certificates(cert_pem, cert_name)?;
        let key = private_key(key_pem, key_name)?;
        let spki = chain[0]
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| bad_cert(cert_name, 1, e))?;
        let matches = match &key {
            Key::P256(k) => p256::PublicKey::from_public_key_der(&spki)
                .is_ok_and(|p| p == p256::PublicKey::from(k.verifying_key())),
            Key::Rsa(k) => {
                let info = &chain[0].tbs_certificate.subject_public_key_info;
                info.algorithm.oid == oid::RSA
                    && info.subject_public_key.as_bytes() == Some(k.public().as_ref())
            }
        };
        if !matches {
            return Err(SignError::KeyMismatch {
                cert: cert_name.to_string(),
                key: key_name.to_string(),
            });
        }
        Ok(Signer { key, chain })
    }

    /// The signing certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.chain[0]
    }

    /// `content` wrapped in a DER CMS SignedData (content attached).
    pub fn sign(&self, content: &[u8]) -> Result<Vec<u8>, SignError> {
        use sha2::Digest;
        let cms = |e: &dyn std::fmt::Display| SignError::Cms(e.to_string());
        let econtent = EncapsulatedContentInfo {
            econtent_type: const_oid::db::rfc5911::ID_DATA,
            econtent: Some(Any::new(Tag::OctetString, content).map_err(|e| cms(&e))?),
        };
        let signer_cert = &self.chain[0].tbs_certificate;
        let sid = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: signer_cert.issuer.clone(),
            serial_number: signer_cert.serial_number.clone(),
        });
        let digest_alg = AlgorithmIdentifierOwned {
            oid: const_oid::db::rfc5912::ID_SHA_256,
            parameters: None,
        };
        // RFC 5652 §5.4: the signature covers the DER SET OF the signed
        // attributes, which must hold the content type and the digest of
        // the content octets.
        let mut signed_attrs = SetOfVec::new();
        signed_attrs
            .insert(attribute(
                const_oid::db::rfc5911::ID_CONTENT_TYPE,
                Tag::ObjectIdentifier,
                econtent.econtent_type.as_bytes(),
            )?)
            .map_err(|e| cms(&e))?;
        signed_attrs
            .insert(attribute(
                const_oid::db::rfc5911::ID_MESSAGE_DIGEST,
                Tag::OctetString,
                &sha2::Sha256::digest(content),
            )?)
            .map_err(|e| cms(&e))?;
        let to_sign = signed_attrs.to_der().map_err(|e| cms(&e))?;
        let (signature_algorithm, signature) = match &self.key {
            Key::P256(k) => {
                use p256::ecdsa::signature::Signer as _;
                let sig: p256::ecdsa::DerSignature = k.sign(&to_sign);
                let alg = AlgorithmIdentifierOwned {
                    oid: const_oid::db::rfc5912::ECDSA_WITH_SHA_256,
                    parameters: None,
                };
                (alg, sig.as_bytes().to_vec())
            }
            Key::Rsa(k) => {
                let rng = ring::rand::SystemRandom::new();
                let mut sig = vec![0; k.public().modulus_len()];
                k.sign(&ring::signature::RSA_PKCS1_SHA256, &rng, &to_sign, &mut sig)
                    .map_err(|_| SignError::Cms("the RSA signature failed".to_string()))?;
                let alg = AlgorithmIdentifierOwned {
                    oid: const_oid::db::rfc5912::SHA_256_WITH_RSA_ENCRYPTION,
                    parameters: Some(Any::null()),
                };
                (alg, sig)
            }
        };
        let signer_info = SignerInfo {
            version: CmsVersion::V1,
            sid,
            digest_alg: digest_alg.clone(),
            signed_attrs: Some(signed_attrs),
            signature_algorithm,
            signature: OctetString::new(signature).map_err(|e| cms(&e))?,
            unsigned_attrs: None,
        };
        let mut certificates = SetOfVec::new();
        for c in &self.chain {
            certificates
                .insert(CertificateChoices::Certificate(c.clone()))
                .map_err(|e| cms(&e))?;
        }
        let mut digest_algorithms = SetOfVec::new();
        digest_algorithms.insert(digest_alg).map_err(|e| cms(&e))?;
        let mut signer_infos = SetOfVec::new();
        signer_infos.insert(signer_info).map_err(|e| cms(&e))?;
        let signed_data = SignedData {
            // RFC 5652 §5.1: version 1 for id-data content, X.509
            // certificates only and issuer-and-serial signer identifiers.
            version: CmsVersion::V1,
            digest_algorithms,
            encap_content_info: econtent,
            certificates: Some(CertificateSet(certificates)),
            crls: None,
            signer_infos: SignerInfos(signer_infos),
        };
        ContentInfo {
            content_type: const_oid::db::rfc5911::ID_SIGNED_DATA,
            content: Any::encode_from(&signed_data).map_err(|e| cms(&e))?,
        }
        .to_der()
        .map_err(|e| cms(&e))
    }
}

/// A signed attribute with one value.
fn attribute(
    oid: const_oid::ObjectIdentifier,
    tag: Tag,
    value: &[u8],
) -> Result<Attribute, SignError> {
    let cms = |e: der::Error| SignError::Cms(e.to_string());
    let mut values = SetOfVec::new();
    values
        .insert(AttributeValue::new(tag, value).map_err(cms)?)
        .map_err(cms)?;
    Ok(Attribute { oid, values })
}

fn read(path: &Path) -> Result<Zeroizing<Vec<u8>>, SignError> {
    let file = path.display().to_string();
    let err = |e: std::io::Error| SignError::Read {
        file: file.clone(),
        why: e.to_string(),
    };
    let mut buf = Zeroizing::new(Vec::new());
    std::fs::File::open(path)
        .map_err(err)?
        .take(MAX_PEM_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(err)?;
    if buf.len() as u64 > MAX_PEM_BYTES {
        return Err(SignError::TooLarge { file });
    }
    Ok(buf)
}

fn bad_cert(file: &str, index: usize, why: impl std::fmt::Display) -> SignError {
    SignError::BadCertificate {
        file: file.to_string(),
        index,
        why: why.to_string(),
    }
}

fn pem_error(file: &str, e: impl std::fmt::Display) -> SignError {
    SignError::Pem {
        file: file.to_string(),
        why: e.to_string(),
    }
}

fn certificates(pem: &[u8], file: &str) -> Result<Vec<Certificate>, SignError> {
    let mut chain = Vec::new();
    for (i, der) in CertificateDer::pem_slice_iter(pem).enumerate() {
        let der = der.map_err(|e| pem_error(file, e))?;
        chain.push(Certificate::from_der(&der).map_err(|e| bad_cert(file, i + 1, e))?);
    }
    if chain.is_empty() {
        return Err(SignError::NoCertificate {
            file: file.to_string(),
        });
    }
    Ok(chain)
}

/// OIDs of key algorithms and curves, for telling keys apart.
mod oid {
    pub use const_oid::db::rfc5912::{
        ID_EC_PUBLIC_KEY as EC, RSA_ENCRYPTION as RSA, SECP_256_R_1 as P256, SECP_384_R_1 as P384,
        SECP_521_R_1 as P521,
    };
    pub use const_oid::db::rfc8410::{ID_ED_448 as ED448, ID_ED_25519 as ED25519};
}

fn private_key(pem: &[u8], file: &str) -> Result<Key, SignError> {
    let f = || file.to_string();
    let damaged = |e: &dyn std::fmt::Display| SignError::BadKey {
        file: f(),
        why: e.to_string(),
    };
    let key = match PrivateKeyDer::from_pem_slice(pem) {
        Ok(k) => k,
        Err(rustls::pki_types::pem::Error::NoItemsFound) => {
            let text = String::from_utf8_lossy(pem);
            return Err(
                if text.contains("ENCRYPTED PRIVATE KEY") || text.contains("Proc-Type: 4,ENCRYPTED")
                {
                    SignError::EncryptedKey { file: f() }
                } else {
                    SignError::NoKey { file: f() }
                },
            );
        }
        Err(e) => return Err(pem_error(file, e)),
    };
    match key {
        PrivateKeyDer::Pkcs8(der) => {
            let info = p256::pkcs8::PrivateKeyInfo::try_from(der.secret_pkcs8_der())
                .map_err(|e| damaged(&e))?;
            let alg = info.algorithm;
            if alg.oid == oid::RSA {
                rsa_key(
                    info.private_key,
                    ring::rsa::KeyPair::from_pkcs8(der.secret_pkcs8_der()),
                    file,
                )
            } else if alg.oid == oid::EC {
                let curve = alg.parameters_oid().ok();
                if curve != Some(oid::P256) {
                    return Err(SignError::UnsupportedKey {
                        file: f(),
                        what: format!("an ECDSA key on {}", curve_name(curve)),
                    });
                }
                p256::SecretKey::from_pkcs8_der(der.secret_pkcs8_der())
                    .map(|k| Key::P256(k.into()))
                    .map_err(|e| damaged(&e))
            } else {
                Err(SignError::UnsupportedKey {
                    file: f(),
                    what: match alg.oid {
                        oid::ED25519 => "an Ed25519 key".to_string(),
                        oid::ED448 => "an Ed448 key".to_string(),
                        other => format!("a key of algorithm {other}"),
                    },
                })
            }
        }
        PrivateKeyDer::Sec1(der) => {
            let ec =
                sec1::EcPrivateKey::try_from(der.secret_sec1_der()).map_err(|e| damaged(&e))?;
            let curve = ec.parameters.and_then(|p| p.named_curve());
            if curve.is_some() && curve != Some(oid::P256) {
                return Err(SignError::UnsupportedKey {
                    file: f(),
                    what: format!("an ECDSA key on {}", curve_name(curve)),
                });
            }
            p256::SecretKey::from_sec1_der(der.secret_sec1_der())
                .map(|k| Key::P256(k.into()))
                .map_err(|e| damaged(&e))
        }
        PrivateKeyDer::Pkcs1(der) => rsa_key(
            der.secret_pkcs1_der(),
            ring::rsa::KeyPair::from_der(der.secret_pkcs1_der()),
            file,
        ),
        _ => Err(SignError::NoKey { file: f() }),
    }
}

/// Checks an RSA key's length (read from its PKCS #1 `RSAPrivateKey`)
/// before taking `ring`'s verdict on it, so that a short or long key is
/// named as such rather than as damaged.
fn rsa_key(
    pkcs1: &[u8],
    parsed: Result<ring::rsa::KeyPair, ring::error::KeyRejected>,
    file: &str,
) -> Result<Key, SignError> {
    let unsupported = |what: String| SignError::UnsupportedKey {
        file: file.to_string(),
        what,
    };
    match rsa_modulus_bits(pkcs1) {
        Some(bits) if bits < MIN_RSA_BITS => {
            return Err(unsupported(format!(
                "an RSA key of {bits} bits, too short to be safe (at least {MIN_RSA_BITS})"
            )));
        }
        Some(bits) if bits > MAX_RSA_BITS => {
            return Err(unsupported(format!(
                "an RSA key of {bits} bits, longer than the {MAX_RSA_BITS} bits it can sign with"
            )));
        }
        _ => {}
    }
    parsed
        .map(|k| Key::Rsa(Box::new(k)))
        .map_err(|e| SignError::BadKey {
            file: file.to_string(),
            why: e.to_string(),
        })
}

/// The length in bits of the modulus of a PKCS #1 `RSAPrivateKey`
/// (`SEQUENCE { version, modulus, … }`); `None` when it does not decode.
fn rsa_modulus_bits(pkcs1: &[u8]) -> Option<usize> {
    use der::Reader;
    let mut r = der::SliceReader::new(pkcs1).ok()?;
    let header = der::Header::decode(&mut r).ok()?;
    header.tag.assert_eq(Tag::Sequence).ok()?;
    let _version: der::asn1::UintRef<'_> = r.decode().ok()?;
    let modulus: der::asn1::UintRef<'_> = r.decode().ok()?;
    let bytes = modulus.as_bytes();
    let first = *bytes.first()?;
    Some(bytes.len() * 8 - first.leading_zeros() as usize)
}

fn curve_name(curve: Option<const_oid::ObjectIdentifier>) -> String {
    match curve {
        Some(oid::P384) => "P-384".to_string(),
        Some(oid::P521) => "P-521".to_string(),
        Some(other) => format!("curve {other}"),
        None => "an unnamed curve".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_garbage_inputs_name_the_file() {
        let e = Signer::from_pem(b"", "cert.pem", b"", "key.pem").unwrap_err();
        assert!(matches!(e, SignError::NoCertificate { .. }));
        assert!(e.to_string().contains("cert.pem"), "{e}");
        let e = certificates(
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "c.pem",
        )
        .unwrap_err();
        assert!(
            matches!(e, SignError::BadCertificate { index: 1, .. }),
            "{e}"
        );
        let e = certificates(b"-----BEGIN CERTIFICATE-----\n!!!!\n", "c.pem").unwrap_err();
        assert!(matches!(e, SignError::Pem { .. }), "{e}");
        assert!(matches!(
            private_key(b"hello", "k.pem"),
            Err(SignError::NoKey { .. })
        ));
        let enc =
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let e = private_key(enc, "k.pem").err().unwrap();
        assert!(matches!(e, SignError::EncryptedKey { .. }));
        assert!(e.to_string().contains("openssl pkey -in k.pem"), "{e}");
        let junk = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(matches!(
            private_key(junk, "k.pem"),
            Err(SignError::BadKey { .. })
        ));
    }

    #[test]
    fn oversized_files_are_not_read_whole() {
        let dir = std::env::temp_dir().join(format!("mailsetup-sign-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let big = dir.join("big.pem");
        std::fs::write(&big, vec![b'A'; MAX_PEM_BYTES as usize + 10]).unwrap();
        let e = read(&big).unwrap_err();
        assert!(matches!(e, SignError::TooLarge { .. }));
        let e = read(&dir.join("missing.pem")).unwrap_err();
        assert!(e.to_string().contains("missing.pem"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
