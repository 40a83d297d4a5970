//! The audit's finding codes (interface.md, "Domain audit codes"), in one
//! place.

/// Autoconfig only over plain HTTP.
pub const CONFIG_HTTP_ONLY: &str = "config-http-only";
/// A published server without encryption.
pub const CONFIG_PLAINTEXT_SERVER: &str = "config-plaintext-server";
/// An SRV target outside the domain, not DNSSEC-validated.
pub const SRV_OFF_DOMAIN: &str = "srv-off-domain";
/// The sources name different servers.
pub const SOURCES_DISAGREE: &str = "sources-disagree";
/// Autodiscover asks for credentials over plain HTTP or with Basic auth.
pub const AUTODISCOVER_HTTP_AUTH: &str = "autodiscover-http-auth";
/// A published config is malformed or schema-invalid.
pub const CONFIG_INVALID: &str = "config-invalid";
/// The certificate ends within 30 days.
pub const CERT_EXPIRING: &str = "cert-expiring";
/// A source found in good order (info).
pub const SOURCE_OK: &str = "source-ok";
/// The domain publishes no incoming server anywhere.
pub const NO_INCOMING: &str = "no-incoming";
/// The domain publishes no outgoing server anywhere.
pub const NO_OUTGOING: &str = "no-outgoing";
