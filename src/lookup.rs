//! `lookup`: from an address to account settings.
//!
//! This is the library's front door for discovery, called by the CLI and by
//! the HTTP server alike. The flow is one way: the address is parsed by the
//! caller, the built-in table is asked first, and only when it has no answer
//! (and `offline` is off) do the network sources run (see [`crate::discover`]).
//! The answer records every source consulted in [`Tried`] entries.

use serde::Serialize;

use crate::address::EmailAddress;
use crate::probe::ProbeError;
use crate::provider::ProviderTable;
use crate::settings::{Note, Settings, Source, Trust};

pub use crate::discover::trail::{Tried, TryResult};
pub use crate::discover::{DEFAULT_ISPDB_URL, Options};

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

impl Lookup {
    /// Builds the answer for `email` from `settings` and what was `tried`:
    /// orders the servers (encrypted before unencrypted) and adds the notes
    /// every answer needs (`no-encryption`, `unverified`, `subaddress`: each
    /// where the human output warns). Building again from its own settings
    /// adds nothing twice.
    pub fn build(email: &EmailAddress, mut settings: Settings, tried: Vec<Tried>) -> Lookup {
        settings.encrypted_first();
        let has = |settings: &Settings, code: &str| settings.notes.iter().any(|n| n.code == code);
        let plain: Vec<String> = settings
            .incoming
            .iter()
            .chain(&settings.outgoing)
            .filter(|s| !s.security.is_encrypted())
            .map(|s| s.url().to_string())
            .collect();
        if !plain.is_empty() && !has(&settings, "no-encryption") {
            settings.notes.push(Note::new(
                "no-encryption",
                format!(
                    "{} {} no encryption: your password and mail would cross the network readable to anyone on the way. Use {} only if your provider offers nothing else, and ask it for encrypted settings.",
                    plain.join(", "),
                    if plain.len() == 1 { "has" } else { "have" },
                    if plain.len() == 1 { "it" } else { "them" },
                ),
            ));
        }
        if settings.trust == Trust::Unverified && !has(&settings, "unverified") {
            let text = if settings.source == Source::ProviderDb {
                "No settings with encryption are known for this provider: see its notes for what works instead, and ask the provider before you type your password anywhere."
            } else {
                "These settings come from a source that could not be authenticated (plain HTTP, or DNS pointing outside the domain without DNSSEC): confirm the server names with your provider before you type your password."
            };
            settings.notes.push(Note::new("unverified", text));
        }
        if let Some(tag) = email.tag()
            && !has(&settings, "subaddress")
        {
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
    /// Every source was asked; none had settings. When DNS itself did not
    /// answer ([`dns_unanswered`]), the advice is the network, not the
    /// spelling.
    #[error("no settings found for {domain}: {}", not_found_advice(tried))]
    NotFound {
        /// The domain.
        domain: String,
        /// What was consulted.
        tried: Vec<Tried>,
        /// How many outbound connections that took.
        connections: u32,
    },
    /// The domain is not built in and looks like a typo of a well-known
    /// provider's: nothing was asked of the network.
    #[error(
        "did you mean {suggestion}? {domain} is not in the built-in provider table and is one or two letters away from {suggestion}; settings found for it could belong to anyone. Check the address; if {domain} is right, confirm it (lookup --no-typo-check)"
    )]
    DidYouMean {
        /// The domain as given.
        domain: String,
        /// The well-known domain it is close to.
        suggestion: String,
        /// What was consulted.
        tried: Vec<Tried>,
    },
    /// Discovery could not start (a bad `--ca-file`, no DNS configuration).
    #[error("{0}")]
    Setup(String),
}

/// Whether DNS itself failed for every name discovery asked about (no
/// network, a name server that refuses or fails), rather than the names not
/// existing: every probed candidate stopped at a DNS failure.
pub fn dns_unanswered(tried: &[Tried]) -> bool {
    let mut stopped = tried.iter().filter_map(|t| t.problem.as_ref()).peekable();
    stopped.peek().is_some() && stopped.all(|p| matches!(p, ProbeError::DnsFailed { .. }))
}

fn not_found_advice(tried: &[Tried]) -> &'static str {
    if dns_unanswered(tried) {
        "DNS did not answer (see 'tried'), so no source could be asked; check the network connection (or give a name server with --dns IP) and try again"
    } else {
        "no source answered (see 'tried'); check the spelling of the domain, or ask the mail provider for its IMAP and SMTP server names"
    }
}

impl LookupError {
    /// The sources consulted.
    pub fn tried(&self) -> &[Tried] {
        match self {
            LookupError::NotBuiltIn { tried, .. }
            | LookupError::NotFound { tried, .. }
            | LookupError::DidYouMean { tried, .. } => tried,
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

    /// Notes for the JSON answer (`did-you-mean` names the provider).
    pub fn notes(&self) -> Vec<Note> {
        match self {
            LookupError::DidYouMean {
                domain, suggestion, ..
            } => vec![crate::typo::note(domain, suggestion)],
            _ => Vec::new(),
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
        problem: None,
    }];
    Some(Lookup::build(email, settings, tried))
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
    let found = match lookup_local(email, opts)? {
        Some(found) => found,
        None => discover_settings(email, opts, observer).await?,
    };
    finish(found, opts).await
}

/// The network half of [`lookup_observed`], for a caller that has asked
/// [`lookup_local`] already and got `Ok(None)`: the table and the typo
/// check are not asked a second time.
pub async fn lookup_network(
    email: &EmailAddress,
    opts: &Options,
    observer: Option<crate::discover::Observer>,
) -> Result<Lookup, LookupError> {
    let found = discover_settings(email, opts, observer).await?;
    finish(found, opts).await
}

/// The last step of every lookup: `--verify`'s probe, when asked.
async fn finish(found: Lookup, opts: &Options) -> Result<Lookup, LookupError> {
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

/// What a lookup answers before it would touch the network: the built-in
/// entry, "did you mean …?" for a likely typo, or (with `opts.offline`)
/// "not built in". `Ok(None)` when only the network can answer.
///
/// [`lookup`] starts with exactly this step; a caller that answers most
/// lookups from the table (the command line) calls it first, and so starts
/// no async runtime, resolver or TLS configuration for them, then
/// [`lookup_network`] when it answers `Ok(None)`. `--verify`
/// still needs the network after a built-in answer: this does not probe.
pub fn lookup_local(email: &EmailAddress, opts: &Options) -> Result<Option<Lookup>, LookupError> {
    if let Some(found) = lookup_builtin(email) {
        return Ok(Some(found));
    }
    let tried = not_built_in(email);
    if opts.typo_check {
        if let Some(suggestion) = crate::typo::suggest(email.domain()) {
            return Err(LookupError::DidYouMean {
                domain: email.domain_unicode().to_string(),
                suggestion: suggestion.to_string(),
                tried,
            });
        }
    }
    if opts.offline {
        return Err(LookupError::NotBuiltIn {
            domain: email.domain_unicode().to_string(),
            tried,
        });
    }
    Ok(None)
}

/// The `tried` entry of a domain the built-in table does not know (every
/// lookup that goes on to the network starts with it: here and in `scan`).
pub fn not_built_in(email: &EmailAddress) -> Vec<Tried> {
    vec![Tried {
        source: Source::ProviderDb,
        url: format!("builtin:{}", email.domain()),
        result: TryResult::NotFound,
        ms: 0,
        detail: None,
        problem: None,
    }]
}

/// The network sources, for an address [`lookup_local`] could not answer.
async fn discover_settings(
    email: &EmailAddress,
    opts: &Options,
    observer: Option<crate::discover::Observer>,
) -> Result<Lookup, LookupError> {
    let mut tried = not_built_in(email);
    let found = crate::discover::discover(email, opts, observer)
        .await
        .map_err(|e| LookupError::Setup(e.to_string()))?;
    tried.extend(found.tried);
    match found.found {
        Some(f) => {
            let mut l = Lookup::build(email, f.settings, tried);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::settings::{AuthMethod, Protocol, Security};

    fn guess(problem: ProbeError) -> Tried {
        Tried {
            source: Source::Guess,
            url: "imaps://imap.example.org:993".into(),
            result: TryResult::Error,
            ms: 0,
            detail: Some(problem.to_string()),
            problem: Some(problem),
        }
    }

    #[test]
    fn a_dns_outage_is_told_apart_from_names_that_do_not_exist() {
        let failed = || {
            guess(ProbeError::DnsFailed {
                host: "imap.example.org".into(),
                detail: "REFUSED".into(),
            })
        };
        let missing = || {
            guess(ProbeError::DnsNotFound {
                host: "mail.example.org".into(),
            })
        };
        let not_found = |tried: Vec<Tried>| {
            LookupError::NotFound {
                domain: "example.org".into(),
                tried,
                connections: 0,
            }
            .to_string()
        };
        assert!(dns_unanswered(&[failed(), failed()]));
        let m = not_found(vec![failed(), failed()]);
        assert!(
            m.contains("DNS did not answer") && m.contains("network"),
            "{m}"
        );
        assert!(!m.contains("spelling"), "{m}");
        // One name that DNS says does not exist: DNS works.
        assert!(!dns_unanswered(&[failed(), missing()]));
        assert!(not_found(vec![failed(), missing()]).contains("spelling"));
        // Nothing probed at all: nothing says DNS is down.
        assert!(!dns_unanswered(&not_built_in(
            &EmailAddress::parse("a@example.org").unwrap()
        )));
        assert!(not_found(Vec::new()).contains("spelling"));
    }

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

    fn server(url: &str) -> crate::settings::Server {
        let u: crate::settings::ServerUrl = url.parse().unwrap();
        crate::settings::Server {
            protocol: u.protocol,
            host: u.host,
            port: u.port,
            security: u.security,
            auth: vec![AuthMethod::Password],
            username: "a@plain.example".into(),
        }
    }

    #[test]
    fn plaintext_servers_rank_last_and_are_noted_once() {
        let email: EmailAddress = "a@plain.example".parse().unwrap();
        let settings = Settings {
            provider: None,
            incoming: vec![
                server("imap://mail.plain.example:143?security=none"),
                server("imaps://mail.plain.example:993"),
                server("pop3://mail.plain.example:110?security=none"),
            ],
            outgoing: vec![server("smtp://mail.plain.example:25?security=none")],
            source: Source::Ispdb,
            trust: Trust::Unverified,
            notes: vec![],
        };
        let l = Lookup::build(&email, settings, vec![]);
        let urls: Vec<String> = l
            .settings
            .incoming
            .iter()
            .map(|s| s.url().to_string())
            .collect();
        assert_eq!(
            urls,
            [
                "imaps://mail.plain.example:993",
                "imap://mail.plain.example:143?security=none",
                "pop3://mail.plain.example:110?security=none",
            ]
        );
        let codes: Vec<&str> = l.settings.notes.iter().map(|n| n.code.as_str()).collect();
        assert_eq!(codes, ["no-encryption", "unverified"]);
        let plain = &l.settings.notes[0].text;
        for url in [
            "imap://mail.plain.example:143?security=none",
            "pop3://mail.plain.example:110?security=none",
            "smtp://mail.plain.example:25?security=none",
        ] {
            assert!(plain.contains(url), "{plain}");
        }
        assert!(!plain.contains("imaps://"), "{plain}");
        // The server builds a cached answer again for each address.
        let again = Lookup::build(&email, l.settings.clone(), vec![]);
        assert_eq!(again.settings.notes, l.settings.notes);
        let v = serde_json::to_value(&again).unwrap();
        assert_eq!(v["notes"][0]["code"], "no-encryption");
        assert_eq!(v["notes"][1]["code"], "unverified");
    }

    #[test]
    fn encrypted_verified_answers_get_no_warning_notes() {
        let email: EmailAddress = "someone@gmail.com".parse().unwrap();
        let l = lookup_builtin(&email).unwrap();
        assert!(
            l.settings
                .notes
                .iter()
                .all(|n| n.code != "no-encryption" && n.code != "unverified")
        );
        assert_eq!(l.settings.trust, Trust::Verified);
    }

    #[test]
    fn a_builtin_entry_without_secure_servers_is_unverified_and_says_so() {
        let email: EmailAddress = "someone@proton.me".parse().unwrap();
        let l = lookup_builtin(&email).unwrap();
        assert!(!l.settings.has_secure_servers());
        assert_eq!(l.settings.trust, Trust::Unverified);
        let codes: Vec<&str> = l.settings.notes.iter().map(|n| n.code.as_str()).collect();
        assert!(codes.contains(&"provider-status"), "{codes:?}");
        assert!(codes.contains(&"unverified"), "{codes:?}");
    }

    #[test]
    fn a_typo_of_a_well_known_domain_stops_before_any_network_source() {
        let email: EmailAddress = "jane@gmial.com".parse().unwrap();
        // Not offline: were the typo not caught, this would go to the network.
        let opts = Options {
            timeout: Duration::from_millis(1),
            ..Options::default()
        };
        let err = rt().block_on(lookup(&email, &opts)).unwrap_err();
        let LookupError::DidYouMean { suggestion, .. } = &err else {
            panic!("expected did-you-mean, got {err:?}");
        };
        assert_eq!(suggestion, "gmail.com");
        assert!(
            err.to_string().starts_with("did you mean gmail.com?"),
            "{err}"
        );
        assert_eq!(err.tried().len(), 1, "only the built-in table was asked");
        assert_eq!(err.tried()[0].source, Source::ProviderDb);
        let notes = err.notes();
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].code, "did-you-mean");
        assert!(notes[0].text.contains("gmail.com"));

        // Confirmed by the user: discovery goes ahead (offline here).
        let confirmed = Options {
            offline: true,
            typo_check: false,
            ..Options::default()
        };
        let err = rt().block_on(lookup(&email, &confirmed)).unwrap_err();
        assert!(matches!(err, LookupError::NotBuiltIn { .. }), "{err:?}");
        assert!(err.notes().is_empty());
    }
}
