//! Why a probe stopped: one error type whose variants say who is at fault
//! and map one-to-one onto the finding codes of the interface, as rustls's
//! `Error` maps onto TLS alerts.

use std::net::SocketAddr;

use crate::finding::FindingCode;

/// Why a probe stopped before it could finish.
///
/// Every message says what happened in words a user can act on; the fix
/// itself is chosen by the diagnosis, which knows the provider.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// The host name does not exist in DNS.
    #[error("the host name {host} does not exist (DNS has no address for it)")]
    DnsNotFound {
        /// The name asked for.
        host: String,
    },
    /// DNS could not answer at all.
    #[error("the DNS lookup of {host} failed: {detail}")]
    DnsFailed {
        /// The name asked for.
        host: String,
        /// The resolver's reason.
        detail: String,
    },
    /// Something answered "nothing listens here".
    #[error("the connection to {addr} was refused: nothing accepts connections on that port")]
    Refused {
        /// The address tried.
        addr: SocketAddr,
    },
    /// No answer at all to the connection attempt.
    #[error("the connection to {addr} timed out: no answer at all (a firewall dropping it?)")]
    ConnectTimedOut {
        /// The address tried.
        addr: SocketAddr,
    },
    /// The network has no route there.
    #[error("{addr} cannot be reached: {detail}")]
    Unreachable {
        /// The address tried.
        addr: SocketAddr,
        /// The operating system's reason.
        detail: String,
    },
    /// TLS was spoken (implicit TLS) to a port that answers in plain text.
    #[error("this port speaks plain text, not TLS: it greeted with \"{greeting}\"")]
    PlaintextPort {
        /// The start of what the server sent (cleaned).
        greeting: String,
    },
    /// Plain text was spoken to a port that expects TLS from the first byte.
    #[error(
        "this port expects TLS from the first byte (implicit TLS): it sent no greeting and answered a TLS handshake"
    )]
    TlsPort,
    /// The server does not offer STARTTLS / STLS.
    #[error("the server does not offer {command}")]
    StarttlsNotOffered {
        /// STARTTLS or STLS.
        command: &'static str,
    },
    /// The server refused STARTTLS.
    #[error("the server refused {command}: \"{reply}\"")]
    StarttlsRefused {
        /// STARTTLS or STLS.
        command: &'static str,
        /// Its answer (cleaned).
        reply: String,
    },
    /// The server accepted STARTTLS but did not start TLS.
    #[error("the server accepted {command} but then did not start TLS: {detail}")]
    StarttlsNoTls {
        /// STARTTLS or STLS.
        command: &'static str,
        /// What happened instead.
        detail: String,
    },
    /// Bytes arrived after the STARTTLS reply, before the handshake.
    #[error(
        "{bytes} byte(s) arrived after the server's STARTTLS answer and before TLS started: someone may be injecting commands (a STARTTLS injection attack, or a broken server); the connection was dropped"
    )]
    StarttlsInjection {
        /// How many bytes were waiting.
        bytes: usize,
    },
    /// The certificate's issuer is not trusted.
    #[error("the certificate is not trusted: {detail}")]
    CertUntrusted {
        /// Why.
        detail: String,
    },
    /// The certificate is expired (or not valid yet).
    #[error("the certificate {detail}")]
    CertExpired {
        /// "expired on …" or "is valid only from …".
        detail: String,
    },
    /// The certificate does not name the host.
    #[error("the certificate is not valid for {host}: it names {}", names_words(.names))]
    CertNameMismatch {
        /// The host the settings name.
        host: String,
        /// The names the certificate holds.
        names: Vec<String>,
    },
    /// Only old TLS versions or weak ciphers.
    #[error("the server offers only outdated TLS: {detail}")]
    TlsOutdated {
        /// What it offered.
        detail: String,
    },
    /// Another TLS failure.
    #[error("the TLS handshake failed: {detail}")]
    Tls {
        /// Why.
        detail: String,
    },
    /// IMAP PREAUTH where TLS was still to come.
    #[error(
        "the server greeted with PREAUTH (already logged in) before TLS: STARTTLS is impossible, so nothing was sent"
    )]
    Preauth,
    /// The server refused the connection in its greeting.
    #[error("the server refused the connection: \"{reply}\"")]
    Rejected {
        /// Its greeting (cleaned).
        reply: String,
    },
    /// The server broke the protocol.
    #[error("the server did not follow the {protocol} protocol: {detail}")]
    Protocol {
        /// IMAP, POP3 or SMTP.
        protocol: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// A read or write did not finish in time.
    #[error("the server did not answer in time ({step})")]
    Timeout {
        /// What we were waiting for.
        step: &'static str,
    },
    /// The server closed the connection.
    #[error("the server closed the connection ({step})")]
    Closed {
        /// What we were waiting for.
        step: &'static str,
    },
    /// A network error after connecting.
    #[error("network error ({step}): {detail}")]
    Io {
        /// What we were doing.
        step: &'static str,
        /// The operating system's reason.
        detail: String,
    },
    /// Not dialled: the discovery's network policy refused the address or
    /// port, or its budget is spent (only discovery run by the service
    /// sets such a policy).
    #[error("{0}")]
    NotDialled(crate::net::policy::Refusal),
}

fn names_words(names: &[String]) -> String {
    if names.is_empty() {
        "no host name at all".to_string()
    } else {
        names.join(", ")
    }
}

impl ProbeError {
    /// The finding code of interface.md this failure is reported as.
    pub fn code(&self) -> FindingCode {
        match self {
            ProbeError::DnsNotFound { .. } => FindingCode::DnsNotFound,
            ProbeError::DnsFailed { .. } => FindingCode::DnsFailure,
            ProbeError::Refused { .. }
            | ProbeError::ConnectTimedOut { .. }
            | ProbeError::Unreachable { .. }
            | ProbeError::NotDialled(_) => FindingCode::TcpUnreachable,
            ProbeError::PlaintextPort { .. } | ProbeError::TlsPort => FindingCode::TlsMismatch,
            ProbeError::StarttlsNotOffered { .. }
            | ProbeError::StarttlsRefused { .. }
            | ProbeError::StarttlsNoTls { .. } => FindingCode::StarttlsMissing,
            ProbeError::StarttlsInjection { .. } => FindingCode::StarttlsInjection,
            ProbeError::CertUntrusted { .. } => FindingCode::CertUntrusted,
            ProbeError::CertExpired { .. } => FindingCode::CertExpired,
            ProbeError::CertNameMismatch { .. } => FindingCode::CertNameMismatch,
            ProbeError::TlsOutdated { .. } => FindingCode::TlsOutdated,
            ProbeError::Preauth => FindingCode::Preauth,
            ProbeError::Tls { .. }
            | ProbeError::Rejected { .. }
            | ProbeError::Protocol { .. }
            | ProbeError::Timeout { .. }
            | ProbeError::Closed { .. }
            | ProbeError::Io { .. } => FindingCode::ServerError,
        }
    }

    /// Whether the server could be reached over TCP before this happened.
    pub fn reached(&self) -> bool {
        !matches!(
            self.code(),
            FindingCode::DnsNotFound | FindingCode::DnsFailure | FindingCode::TcpUnreachable
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_maps_to_a_code() {
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let cases = [
            (
                ProbeError::DnsNotFound { host: "h".into() },
                "dns-not-found",
            ),
            (ProbeError::Refused { addr }, "tcp-unreachable"),
            (ProbeError::ConnectTimedOut { addr }, "tcp-unreachable"),
            (ProbeError::TlsPort, "tls-mismatch"),
            (
                ProbeError::StarttlsNotOffered { command: "STLS" },
                "starttls-missing",
            ),
            (
                ProbeError::StarttlsInjection { bytes: 3 },
                "starttls-injection",
            ),
            (
                ProbeError::CertNameMismatch {
                    host: "h".into(),
                    names: vec![],
                },
                "cert-name-mismatch",
            ),
            (ProbeError::Preauth, "preauth"),
            (ProbeError::Timeout { step: "greeting" }, "server-error"),
            (
                ProbeError::DnsFailed {
                    host: "h".into(),
                    detail: "REFUSED".into(),
                },
                "dns-failure",
            ),
        ];
        for (e, code) in cases {
            assert_eq!(e.code(), code, "{e}");
        }
        assert!(!ProbeError::Refused { addr }.reached());
        let not_dialled = ProbeError::NotDialled(crate::net::policy::Refusal::NotPublic(addr.ip()));
        assert!(!not_dialled.reached());
        assert_eq!(not_dialled.to_string(), "not a public address");
        assert!(ProbeError::Preauth.reached());
        assert!(
            !ProbeError::DnsFailed {
                host: "h".into(),
                detail: "SERVFAIL".into()
            }
            .reached()
        );
    }

    #[test]
    fn name_mismatch_lists_the_names_seen() {
        let e = ProbeError::CertNameMismatch {
            host: "imap.example.test".into(),
            names: vec!["other.test".into(), "*.other.test".into()],
        };
        assert_eq!(
            e.to_string(),
            "the certificate is not valid for imap.example.test: it names other.test, *.other.test"
        );
    }
}
