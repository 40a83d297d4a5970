//! [`Options`]: how discovery may look things up — offline or not, the
//! deadline, the resolver and trust store, the ISPDB, and the network
//! policy. Every command that discovers (lookup, check, profile, scan,
//! serve) fills one in; `lookup` re-exports it for its callers.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The default ISPDB: Thunderbird's public one.
pub const DEFAULT_ISPDB_URL: &str = "https://autoconfig.thunderbird.net/v1.1/";

/// How to look things up. Shared by every command that discovers.
#[derive(Debug, Clone)]
pub struct Options {
    /// Built-in data only: nothing touches the network.
    pub offline: bool,
    /// One overall deadline for all network work.
    pub timeout: Duration,
    /// A DNS server to use instead of the system's.
    pub dns: Option<SocketAddr>,
    /// Extra trusted root certificates (PEM).
    pub ca_file: Option<PathBuf>,
    /// Extra DNSSEC trust anchors (`--trust-anchor`), besides the root's.
    pub trust_anchor: Option<crate::net::dns::TrustAnchor>,
    /// Base URL of a Thunderbird-style ISPDB.
    pub ispdb_url: String,
    /// Probe what was found (TLS handshake and capabilities only).
    pub verify: bool,
    /// Where discovery may connect, and how much it may spend
    /// ([`crate::net::policy`]): the command line's by default; the
    /// service's for `serve`.
    pub policy: crate::net::policy::Policy,
    /// Stop before network discovery of a domain that looks like a typo of a
    /// well-known provider's ([`crate::typo`]). Off only when the user
    /// confirmed the domain.
    pub typo_check: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            offline: false,
            timeout: Duration::from_secs(15),
            dns: None,
            ca_file: None,
            trust_anchor: None,
            ispdb_url: DEFAULT_ISPDB_URL.to_string(),
            verify: false,
            policy: crate::net::policy::Policy::CLI,
            typo_check: true,
        }
    }
}
