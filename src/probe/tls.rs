//! The TLS handshake of a probe (tokio-rustls), and what it reveals: the
//! version, the cipher, the certificate, and — when it fails — which of
//! the interface's findings the failure is.
//!
//! Certificates are validated by webpki against the one trust store of
//! [`crate::net::tls`] (built-in, system and `--ca-file` roots), including
//! the RFC 6125/7817 name rules: the name checked is the host from the
//! settings, a wildcard matches one left-most label only, and the subject's
//! common name is not consulted. A [`Recording`] verifier sits in front of
//! webpki only to keep a copy of the certificate presented, so a rejected
//! certificate can be described (its names, issuer and dates); its verdict
//! is always webpki's.

use std::sync::{Arc, Mutex};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{AlertDescription, CertificateError, DigitallySignedStruct, PeerIncompatible};
use serde::Serialize;
use tokio::net::TcpStream;

use super::cert;
use super::conn::{Ctx, Tee};
use super::error::ProbeError;
use crate::net::tls::TlsSetupError;

/// A TLS connection of a probe.
pub(crate) type TlsIo = tokio_rustls::client::TlsStream<Tee<TcpStream>>;

/// The TLS picture of one server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TlsReport {
    /// `TLSv1.3` or `TLSv1.2`, once a handshake completed.
    pub version: Option<String>,
    /// The cipher suite, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher: Option<String>,
    /// Whether the certificate is valid for the host (chain, dates, name).
    pub cert_valid: bool,
    /// The names the certificate is valid for.
    pub names: Vec<String>,
    /// The certificate's subject.
    pub subject: Option<String>,
    /// Who issued it.
    pub issuer: Option<String>,
    /// Valid from (RFC 3339).
    pub not_before: Option<String>,
    /// Valid until (RFC 3339).
    pub not_after: Option<String>,
    /// Valid until, in seconds since 1970 (for judging how soon).
    #[serde(skip)]
    pub not_after_unix: Option<i64>,
    /// How many certificates the server sent.
    pub chain_length: usize,
    /// Why the certificate was rejected, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The trust configuration of every probe handshake, built once.
#[derive(Debug, Clone)]
pub(crate) struct TlsSetup {
    webpki: Arc<WebPkiServerVerifier>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl TlsSetup {
    pub(crate) fn new(ca_file: Option<&std::path::Path>) -> Result<TlsSetup, TlsSetupError> {
        let roots = crate::net::tls::root_store(ca_file)?;
        let provider = crate::net::tls::provider();
        // The store always holds the built-in roots, and building fails only
        // on an empty store.
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .expect("the root store holds the built-in roots");
        Ok(TlsSetup { webpki, provider })
    }
}

/// What the server presented, and webpki's verdict.
#[derive(Debug, Default)]
struct Seen {
    chain: Vec<CertificateDer<'static>>,
    error: Option<rustls::Error>,
}

/// webpki's verifier, plus a copy of what it was shown.
#[derive(Debug)]
struct Recording {
    webpki: Arc<WebPkiServerVerifier>,
    seen: Mutex<Seen>,
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict =
            self.webpki
                .verify_server_cert(end_entity, intermediates, server_name, ocsp, now);
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.clone().into_owned())
            .collect();
        seen.error = verdict.as_ref().err().cloned();
        verdict
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// Where a handshake happens: on an implicit-TLS port, or after STARTTLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Implicit,
    Starttls(&'static str),
}

/// Runs a TLS handshake for `host` over `tcp`. On failure the report holds
/// whatever was learnt (the certificate, if one came).
pub(crate) async fn handshake(
    tcp: TcpStream,
    host: &str,
    setup: &TlsSetup,
    ctx: &Ctx,
    mode: Mode,
) -> (Result<TlsIo, ProbeError>, TlsReport) {
    let recording = Arc::new(Recording {
        webpki: setup.webpki.clone(),
        seen: Mutex::new(Seen::default()),
    });
    // "dangerous" only by rustls's naming: every decision is webpki's (see
    // `Recording`), which only keeps a copy of what it was shown.
    let config = rustls::ClientConfig::builder_with_provider(setup.provider.clone())
        .with_safe_default_protocol_versions()
        .map(|b| {
            b.dangerous()
                .with_custom_certificate_verifier(recording.clone())
                .with_no_client_auth()
        });
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            return (
                Err(ProbeError::Tls {
                    detail: e.to_string(),
                }),
                TlsReport::default(),
            );
        }
    };
    let name = match ServerName::try_from(host.to_string()) {
        Ok(n) => n,
        Err(_) => {
            let detail = format!("{host} cannot be used as a TLS server name");
            return (Err(ProbeError::Tls { detail }), TlsReport::default());
        }
    };
    ctx.transcript.note(format!("TLS handshake with {host}"));
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let attempt = tokio::time::timeout(
        ctx.read_timeout,
        connector.connect(name, Tee::new(tcp)).into_fallible(),
    )
    .await;
    let seen = std::mem::take(&mut *recording.seen.lock().unwrap_or_else(|e| e.into_inner()));
    let mut report = report_from(&seen);
    match attempt {
        Err(_) => (
            Err(ProbeError::Timeout {
                step: "TLS handshake",
            }),
            report,
        ),
        Ok(Ok(stream)) => {
            let (_, conn) = stream.get_ref();
            report.version = conn.protocol_version().map(version_name);
            report.cipher = conn
                .negotiated_cipher_suite()
                .map(|s| format!("{:?}", s.suite()));
            report.cert_valid = true;
            ctx.transcript.note(format!(
                "TLS up: {} {}",
                report.version.as_deref().unwrap_or("?"),
                report.cipher.as_deref().unwrap_or("?")
            ));
            (Ok(stream), report)
        }
        Ok(Err((e, tee))) => {
            let err = classify(&e, seen.error.as_ref(), host, &report, tee.seen(), mode);
            ctx.transcript.note(format!("TLS failed: {err}"));
            (Err(err), report)
        }
    }
}

fn version_name(v: rustls::ProtocolVersion) -> String {
    match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_string(),
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_string(),
        other => format!("{other:?}"),
    }
}

fn report_from(seen: &Seen) -> TlsReport {
    let mut r = TlsReport {
        chain_length: seen.chain.len(),
        problem: seen.error.as_ref().map(|e| e.to_string()),
        ..TlsReport::default()
    };
    if let Some(info) = seen.chain.first().and_then(|c| cert::describe(c)) {
        r.names = info.names;
        r.subject = Some(info.subject);
        r.issuer = Some(info.issuer);
        r.not_before = Some(cert::rfc3339(info.not_before));
        r.not_after = Some(cert::rfc3339(info.not_after));
        r.not_after_unix = Some(info.not_after);
    }
    r
}

/// Turns a failed handshake into the finding it is.
fn classify(
    e: &std::io::Error,
    cert_error: Option<&rustls::Error>,
    host: &str,
    report: &TlsReport,
    first_bytes: &[u8],
    mode: Mode,
) -> ProbeError {
    if let Some(ce) = cert_error {
        return classify_cert(ce, host, report);
    }
    if let Some(text) = plaintext(first_bytes) {
        return match mode {
            Mode::Implicit => ProbeError::PlaintextPort { greeting: text },
            Mode::Starttls(command) => ProbeError::StarttlsNoTls {
                command,
                detail: format!("it answered the TLS handshake in plain text: \"{text}\""),
            },
        };
    }
    let rustls_error = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    match rustls_error {
        Some(rustls::Error::PeerIncompatible(PeerIncompatible::ServerDoesNotSupportTls12Or13)) => {
            ProbeError::TlsOutdated {
                detail: "it answered with TLS 1.1 or older; TLS 1.2 is the minimum (RFC 8996)"
                    .into(),
            }
        }
        Some(rustls::Error::AlertReceived(
            a @ (AlertDescription::ProtocolVersion
            | AlertDescription::HandshakeFailure
            | AlertDescription::InsufficientSecurity),
        )) => ProbeError::TlsOutdated {
            detail: format!(
                "it refused TLS 1.2 and 1.3 with strong ciphers (alert: {a:?}): it likely supports only TLS 1.0/1.1 or weak ciphers"
            ),
        },
        Some(other) => ProbeError::Tls {
            detail: other.to_string(),
        },
        None if first_bytes.is_empty() => match mode {
            Mode::Implicit => ProbeError::Tls {
                detail: "the server closed the connection without answering the TLS handshake"
                    .into(),
            },
            Mode::Starttls(command) => ProbeError::StarttlsNoTls {
                command,
                detail: "it closed the connection instead".into(),
            },
        },
        None => ProbeError::Tls {
            detail: e.to_string(),
        },
    }
}

fn classify_cert(e: &rustls::Error, host: &str, report: &TlsReport) -> ProbeError {
    let dates = || {
        format!(
            "(valid from {} to {})",
            report.not_before.as_deref().unwrap_or("?"),
            report.not_after.as_deref().unwrap_or("?")
        )
    };
    let rustls::Error::InvalidCertificate(ce) = e else {
        return ProbeError::CertUntrusted {
            detail: e.to_string(),
        };
    };
    match ce {
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            ProbeError::CertExpired {
                detail: format!(
                    "expired on {} {}",
                    report.not_after.as_deref().unwrap_or("?"),
                    dates()
                ),
            }
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            ProbeError::CertExpired {
                detail: format!(
                    "is not valid until {} {}: check the server's (or this computer's) clock",
                    report.not_before.as_deref().unwrap_or("?"),
                    dates()
                ),
            }
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            ProbeError::CertNameMismatch {
                host: host.to_string(),
                names: report.names.clone(),
            }
        }
        CertificateError::UnknownIssuer => ProbeError::CertUntrusted {
            detail: format!(
                "it was issued by \"{}\", which is not a trusted certificate authority{}",
                report.issuer.as_deref().unwrap_or("?"),
                if report.issuer == report.subject && report.issuer.is_some() {
                    " (the certificate is self-signed)"
                } else {
                    ""
                }
            ),
        },
        other => ProbeError::CertUntrusted {
            detail: format!("{other:?}"),
        },
    }
}

/// The first bytes as text, when they are plain text rather than a TLS
/// record (whose first byte is a content type, 0x14–0x17).
fn plaintext(first: &[u8]) -> Option<String> {
    let b = *first.first()?;
    if (0x14..=0x17).contains(&b) {
        return None;
    }
    let text = String::from_utf8_lossy(first);
    Some(super::wire::clean(text.lines().next().unwrap_or(""), 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io_err(e: rustls::Error) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e)
    }

    #[test]
    fn plain_text_is_told_from_tls_records() {
        assert_eq!(
            plaintext(b"* OK IMAP ready\r\n").unwrap(),
            "* OK IMAP ready"
        );
        assert_eq!(plaintext(b"220 smtp\r\n").unwrap(), "220 smtp");
        assert!(plaintext(&[0x16, 0x03, 0x03]).is_none());
        assert!(plaintext(&[0x15, 0x03, 0x01, 0, 2, 2, 70]).is_none());
        assert!(plaintext(b"").is_none());
    }

    #[test]
    fn handshake_failures_map_to_findings() {
        let r = TlsReport {
            names: vec!["other.test".into()],
            not_after: Some("2020-01-01T00:00:00Z".into()),
            ..TlsReport::default()
        };
        let e = io_err(rustls::Error::General("x".into()));
        let cert = |ce| rustls::Error::InvalidCertificate(ce);
        let host = "imap.example.test";
        let c = |ce| classify(&e, Some(&cert(ce)), host, &r, b"", Mode::Implicit).code();
        assert_eq!(c(CertificateError::Expired), "cert-expired");
        assert_eq!(c(CertificateError::NotValidYet), "cert-expired");
        assert_eq!(c(CertificateError::NotValidForName), "cert-name-mismatch");
        assert_eq!(c(CertificateError::UnknownIssuer), "cert-untrusted");
        assert_eq!(c(CertificateError::BadSignature), "cert-untrusted");

        let old = io_err(rustls::Error::PeerIncompatible(
            PeerIncompatible::ServerDoesNotSupportTls12Or13,
        ));
        assert_eq!(
            classify(&old, None, host, &r, &[0x16], Mode::Implicit).code(),
            "tls-outdated"
        );
        let alert = io_err(rustls::Error::AlertReceived(
            AlertDescription::ProtocolVersion,
        ));
        assert_eq!(
            classify(&alert, None, host, &r, &[0x15], Mode::Implicit).code(),
            "tls-outdated"
        );
        let corrupt = io_err(rustls::Error::General("corrupt".into()));
        assert_eq!(
            classify(&corrupt, None, host, &r, b"* OK hi", Mode::Implicit).code(),
            "tls-mismatch"
        );
        assert_eq!(
            classify(
                &corrupt,
                None,
                host,
                &r,
                b"* BAD what",
                Mode::Starttls("STARTTLS")
            )
            .code(),
            "starttls-missing"
        );
        let eof = std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
        assert_eq!(
            classify(&eof, None, host, &r, b"", Mode::Starttls("STLS")).code(),
            "starttls-missing"
        );
    }

    #[test]
    fn name_mismatch_names_what_was_seen() {
        let r = TlsReport {
            names: vec!["other.test".into()],
            ..TlsReport::default()
        };
        let e = classify_cert(
            &rustls::Error::InvalidCertificate(CertificateError::NotValidForName),
            "imap.example.test",
            &r,
        );
        assert!(e.to_string().contains("other.test"), "{e}");
        assert!(e.to_string().contains("imap.example.test"), "{e}");
    }
}
