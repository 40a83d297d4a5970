//! The audit's finding codes (interface.md, "Domain audit codes"), named
//! once for the audit's rules and tests.

pub use crate::finding::FindingCode;

/// Autoconfig only over plain HTTP.
pub const CONFIG_HTTP_ONLY: FindingCode = FindingCode::ConfigHttpOnly;
/// A published server without encryption.
pub const CONFIG_PLAINTEXT_SERVER: FindingCode = FindingCode::ConfigPlaintextServer;
/// An SRV target outside the domain, not DNSSEC-validated.
pub const SRV_OFF_DOMAIN: FindingCode = FindingCode::SrvOffDomain;
/// The sources name different servers.
pub const SOURCES_DISAGREE: FindingCode = FindingCode::SourcesDisagree;
/// Autodiscover asks for credentials over plain HTTP or with Basic auth.
pub const AUTODISCOVER_HTTP_AUTH: FindingCode = FindingCode::AutodiscoverHttpAuth;
/// A published config is malformed or schema-invalid.
pub const CONFIG_INVALID: FindingCode = FindingCode::ConfigInvalid;
/// The certificate ends within 30 days.
pub const CERT_EXPIRING: FindingCode = FindingCode::CertExpiring;
/// A source found in good order (info).
pub const SOURCE_OK: FindingCode = FindingCode::SourceOk;
/// The domain publishes no incoming server anywhere.
pub const NO_INCOMING: FindingCode = FindingCode::NoIncoming;
/// The domain publishes no outgoing server anywhere.
pub const NO_OUTGOING: FindingCode = FindingCode::NoOutgoing;
