//! `lookup`: from an address to account settings.
//!
//! This is the library's front door for discovery, called by the CLI and by
//! the HTTP server alike. The flow is one way: the address is parsed by the
//! caller, the built-in table is asked first, and only when it has no answer
//! (and `offline` is off) do the network sources run (see [`crate::discover`]).
//! The answer records every source consulted in [`Tried`] entries.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::address::EmailAddress;
use crate::provider::ProviderTable;
use crate::settings::{Note, Settings, Source};

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
    /// Base URL of a Thunderbird-style ISPDB.
    pub ispdb_url: String,
    /// Probe what was found (TLS handshake and capabilities only).
    pub verify: bool,
    /// Where discovery may connect, and how much it may spend
    /// ([`crate::net::policy`]): the command line's by default; the
    /// service's for `serve`.
    pub policy: crate::net::policy::Policy,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            offline: false,
            timeout: Duration::from_secs(15),
            dns: None,
            ca_file: None,
            ispdb_url: DEFAULT_ISPDB_URL.to_string(),
            verify: false,
            policy: crate::net::policy::Policy::CLI,
        }
    }
}

/// The outcome of asking one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum TryResult {
    /// It answered with usable settings.
    Found,
    /// It has nothing for this domain.
    NotFound,
    /// It answered with something unusable (malformed, oversized, garbage).
    Invalid,
    /// It would have needed an insecure step (HTTPS→HTTP redirect, …).
    RefusedInsecure,
    /// It did not answer before the deadline.
    Timeout,
    /// Network or protocol failure.
    Error,
    /// Not asked, because a better source had already answered.
    Cancelled,
    /// Not asked (e.g. `--offline`).
    Skipped,
}

/// One source consulted during a lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tried {
    /// The kind of source.
    pub source: Source,
    /// What was asked: a URL, a DNS record, a host and port.
    pub url: String,
    /// What came of it.
    pub result: TryResult,
    /// How long it took, in milliseconds.
    pub ms: u64,
    /// A short explanation for failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The answer to a lookup: the `lookup --json` document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lookup {
    /// The address, for display (Unicode domain).
    pub email: String,
    /// The settings found.
    #[serde(flatten)]
    pub settings: Settings,
    /// Every source consulted.
    pub tried: Vec<Tried>,
    /// With `--verify`: what probing each server found (TLS handshake and
    /// capabilities only, never a login).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<Vec<Verification>>,
    /// How many outbound connections network discovery opened for this
    /// answer (not part of the document; a rate limit counts them).
    #[serde(skip)]
    pub connections: u32,
}

/// The outcome of probing one server for `--verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// The server.
    pub url: String,
    /// Whether a connection was made.
    pub reachable: bool,
    /// Whether its certificate is valid for its host name.
    pub cert_valid: bool,
    /// The TLS version spoken.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_version: Option<String>,
    /// Why the probe stopped, if it did (finding code and message).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// How long it took, in milliseconds.
    pub ms: u64,
}

impl From<&crate::probe::ServerReport> for Verification {
    fn from(r: &crate::probe::ServerReport) -> Self {
        let tls = r.tls.as_ref();
        Verification {
            url: r.url.to_string(),
            reachable: r.reachable,
            cert_valid: r.cert_valid(),
            tls_version: tls.and_then(|t| t.version.clone()),
            problem: r
                .error
                .as_ref()
                .map(|e| format!("{}: {e}", e.code()))
                .or_else(|| tls.and_then(|t| t.problem.clone())),
            ms: r.ms,
        }
    }
}

/// Why a lookup found nothing.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// Offline, and the domain is not in the built-in table.
    #[error(
        "{domain} is not in the built-in provider table; without --offline mailsetup would ask the domain's autoconfig, the ISPDB, Autodiscover, DNS (MX, SRV) and probe likely server names"
    )]
    NotBuiltIn {
        /// The domain.
        domain: String,
        /// What was consulted.
        tried: Vec<Tried>,
    },
    /// Every source was asked; none had settings.
    #[error(
        "no settings found for {domain}: no source answered (see 'tried'); check the spelling of the domain, or ask the mail provider for its IMAP and SMTP server names"
    )]
    NotFound {
        /// The domain.
        domain: String,
        /// What was consulted.
        tried: Vec<Tried>,
        /// How many outbound connections that took.
        connections: u32,
    },
    /// Discovery could not start (a bad `--ca-file`, no DNS configuration).
    #[error("{0}")]
    Setup(String),
}

impl LookupError {
    /// The sources consulted.
    pub fn tried(&self) -> &[Tried] {
        match self {
            LookupError::NotBuiltIn { tried, .. } | LookupError::NotFound { tried, .. } => tried,
            LookupError::Setup(_) => &[],
        }
    }

    /// How many outbound connections the lookup opened.
    pub fn connections(&self) -> u32 {
        match self {
            LookupError::NotFound { connections, .. } => *connections,
            _ => 0,
        }
    }
}

/// Looks up the settings of `email` from the built-in table only.
pub fn lookup_builtin(email: &EmailAddress) -> Option<Lookup> {
    let provider = ProviderTable::builtin().by_domain(email.domain())?;
    let settings = provider.settings_for(email, Source::ProviderDb);
    let tried = vec![Tried {
        source: Source::ProviderDb,
        url: format!("builtin:{}", email.domain()),
        result: TryResult::Found,
        ms: 0,
        detail: None,
    }];
    Some(finish(email, settings, tried))
}

/// Looks up the settings of `email`: the built-in table, then (unless
/// `opts.offline`) the network sources.
pub async fn lookup(email: &EmailAddress, opts: &Options) -> Result<Lookup, LookupError> {
    lookup_observed(email, opts, None).await
}

/// [`lookup`], calling `observer` with each source's outcome as it comes in
/// (for a progress display).
pub async fn lookup_observed(
    email: &EmailAddress,
    opts: &Options,
    observer: Option<crate::discover::Observer>,
) -> Result<Lookup, LookupError> {
    let found = discover_settings(email, opts, observer).await?;
    if opts.verify && !opts.offline {
        return verify(found, opts).await;
    }
    Ok(found)
}

/// Probes the servers of `found` (capabilities only, never a login) and
/// upgrades its trust when every certificate matches its host.
async fn verify(mut found: Lookup, opts: &Options) -> Result<Lookup, LookupError> {
    let probe_opts =
        crate::probe::ProbeOptions::new(opts.timeout, opts.dns, opts.ca_file.as_deref())
            .map_err(|e| LookupError::Setup(e.to_string()))?;
    let reports = crate::probe::verify_settings(&mut found.settings, &probe_opts).await;
    found.verify = Some(reports.iter().map(Verification::from).collect());
    Ok(found)
}

async fn discover_settings(
    email: &EmailAddress,
    opts: &Options,
    observer: Option<crate::discover::Observer>,
) -> Result<Lookup, LookupError> {
    if let Some(found) = lookup_builtin(email) {
        return Ok(found);
    }
    let mut tried = vec![Tried {
        source: Source::ProviderDb,
        url: format!("builtin:{}", email.domain()),
        result: TryResult::NotFound,
        ms: 0,
        detail: None,
    }];
    if opts.offline {
        return Err(LookupError::NotBuiltIn {
            domain: email.domain_unicode().to_string(),
            tried,
        });
    }
    let found = crate::discover::discover(email, opts, observer)
        .await
        .map_err(|e| LookupError::Setup(e.to_string()))?;
    tried.extend(found.tried);
    match found.found {
        Some(f) => {
            let mut l = finish(email, f.settings, tried);
            l.connections = found.connections;
            Ok(l)
        }
        None => Err(LookupError::NotFound {
            domain: email.domain_unicode().to_string(),
            tried,
            connections: found.connections,
        }),
    }
}

/// Adds the notes every answer needs and builds the document.
pub fn finish(email: &EmailAddress, mut settings: Settings, tried: Vec<Tried>) -> Lookup {
    if let Some(tag) = email.tag() {
        settings.notes.push(Note::new(
            "subaddress",
            format!(
                "The +{tag} part of your address is only for receiving: log in as {}.",
                email.login_address()
            ),
        ));
    }
    Lookup {
        email: email.to_string(),
        settings,
        tried,
        verify: None,
        connections: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{AuthMethod, Protocol, Security, Trust};

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn msn_is_outlook_com_with_oauth() {
        let email: EmailAddress = "someone@MSN.com".parse().unwrap();
        let l = lookup_builtin(&email).unwrap();
        assert_eq!(l.settings.provider.as_ref().unwrap().id, "outlook.com");
        let imap = &l.settings.incoming[0];
        assert_eq!(
            (imap.protocol, imap.host.as_str(), imap.port, imap.security),
            (Protocol::Imap, "outlook.office365.com", 993, Security::Tls)
        );
        assert_eq!(imap.username, "someone@msn.com");
        assert_eq!(imap.auth, [AuthMethod::Oauth2]);
        let smtp = &l.settings.outgoing[0];
        assert_eq!(smtp.url().to_string(), "smtp://smtp-mail.outlook.com:587");
        let pop = &l.settings.incoming[1];
        assert_eq!(pop.url().to_string(), "pop3s://outlook.office365.com:995");
        assert_eq!(l.settings.trust, Trust::Verified);
        assert_eq!(l.settings.source, Source::ProviderDb);
        assert!(
            l.settings
                .notes
                .iter()
                .any(|n| n.code == "oauth-required" && n.text.contains("16 September 2024"))
        );
        assert!(
            l.settings
                .notes
                .iter()
                .any(|n| n.code == "enable-pop" && n.text.contains("Forwarding and IMAP"))
        );
    }

    #[test]
    fn offline_unknown_domain_says_what_network_would_do() {
        let email: EmailAddress = "a@unknown-domain.test".parse().unwrap();
        let opts = Options {
            offline: true,
            ..Options::default()
        };
        let err = rt().block_on(lookup(&email, &opts)).unwrap_err();
        assert!(matches!(err, LookupError::NotBuiltIn { .. }));
        assert!(err.to_string().contains("without --offline"));
        assert_eq!(err.tried()[0].result, TryResult::NotFound);
    }

    #[test]
    fn tagged_addresses_get_a_subaddress_note_and_untagged_login() {
        let email: EmailAddress = "jane+shop@gmail.com".parse().unwrap();
        let l = lookup_builtin(&email).unwrap();
        assert_eq!(l.settings.incoming[0].username, "jane@gmail.com");
        assert!(l.settings.notes.iter().any(|n| n.code == "subaddress"));
        assert_eq!(l.email, "jane+shop@gmail.com");
    }

    #[test]
    fn json_has_the_interface_shape() {
        let email: EmailAddress = "someone@msn.com".parse().unwrap();
        let v = serde_json::to_value(lookup_builtin(&email).unwrap()).unwrap();
        for key in [
            "email", "provider", "incoming", "outgoing", "source", "trust", "notes", "tried",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert_eq!(v["provider"]["id"], "outlook.com");
        assert_eq!(v["incoming"][0]["url"], "imaps://outlook.office365.com:993");
        assert_eq!(v["outgoing"][0]["security"], "starttls");
        assert_eq!(v["tried"][0]["source"], "provider-db");
        assert_eq!(v["tried"][0]["result"], "found");
    }
}
