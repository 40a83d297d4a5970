//! The shape of one provider entry in `data/providers.toml`.
//!
//! These are the types the table's TOML is read into, with serde, and the
//! small amount of behaviour that belongs to one entry: the settings it
//! gives an address, and whether an MX host names it. The rules an entry
//! must follow are checked whenever an entry is read (see
//! [`super::Problem`]); finding entries is [`super::ProviderTable`]'s job.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use super::names::Names;
use crate::address::EmailAddress;
use crate::settings::{AuthMethod, Note, ProviderRef, Server, ServerUrl, Settings, Source, Trust};

/// A built-in account type on the iPhone (Settings › Mail › Accounts › Add
/// Account), used instead of manual IMAP settings where it exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IosAccount {
    /// "iCloud".
    Icloud,
    /// "Microsoft Exchange".
    Exchange,
    /// "Google".
    Google,
    /// "Yahoo!".
    Yahoo,
    /// "Aol.".
    Aol,
    /// "Outlook.com".
    Outlook,
}

impl IosAccount {
    /// The label on the iPhone's Add Account screen.
    pub fn label(self) -> &'static str {
        match self {
            IosAccount::Icloud => "iCloud",
            IosAccount::Exchange => "Microsoft Exchange",
            IosAccount::Google => "Google",
            IosAccount::Yahoo => "Yahoo!",
            IosAccount::Aol => "Aol.",
            IosAccount::Outlook => "Outlook.com",
        }
    }
}

/// Whether the provider works with ordinary mail apps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Works with the settings given.
    #[default]
    Ok,
    /// Works after a step in the provider's web settings (enable IMAP, app
    /// password).
    Preparation,
    /// Mail apps cannot use it as published: passwords are refused, there is
    /// no IMAP at all, or only unencrypted servers are known. A
    /// `provider-status` or `oauth-required` note says what works instead.
    Broken,
}

/// One server as written in the table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSpec {
    /// The server's URL.
    #[serde(deserialize_with = "de_url")]
    pub url: ServerUrl,
    /// Authentication methods, best first.
    pub auth: Vec<AuthMethod>,
    /// A username template overriding the provider's.
    #[serde(default)]
    pub username: Option<String>,
}

fn de_url<'de, D: Deserializer<'de>>(d: D) -> Result<ServerUrl, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

/// One provider.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    /// A stable id (usually the main domain).
    pub id: String,
    /// The name people know.
    pub name: String,
    /// The email domains it hosts.
    #[serde(default)]
    pub domains: Names,
    /// MX host patterns: `host` exactly or `*.suffix` for any host below it.
    #[serde(default)]
    pub mx: Names,
    /// The iPhone's built-in account type for it, if any.
    #[serde(default)]
    pub ios: Option<IosAccount>,
    /// Whether ordinary mail apps work.
    #[serde(default)]
    pub status: Status,
    /// The username template (`%EMAILADDRESS%`, `%EMAILLOCALPART%`,
    /// `%EMAILDOMAIN%`).
    #[serde(default = "default_username")]
    pub username: String,
    /// The provider's own page with these settings.
    #[serde(default)]
    pub help: Option<String>,
    /// Where to create an app password, when one is needed.
    #[serde(default)]
    pub app_password_url: Option<String>,
    /// Incoming servers, best first. Empty only for a broken provider.
    pub incoming: Vec<ServerSpec>,
    /// Outgoing servers, best first. Empty only for a broken provider.
    pub outgoing: Vec<ServerSpec>,
    /// Notes a user needs before logging in.
    #[serde(default)]
    pub notes: Vec<Note>,
    /// Why this entry deliberately differs from a corpus (`ispdb`,
    /// `provider-db`), with the source followed instead.
    #[serde(default)]
    pub why_differs: BTreeMap<String, String>,
}

fn default_username() -> String {
    "%EMAILADDRESS%".to_string()
}

impl Provider {
    /// A reference for output.
    pub fn reference(&self) -> ProviderRef {
        ProviderRef {
            id: self.id.clone(),
            name: self.name.clone(),
        }
    }

    /// The settings this provider gives `email`, from `source` (built-in
    /// data, or an MX match for a custom domain).
    pub fn settings_for(&self, email: &EmailAddress, source: Source) -> Settings {
        let server = |spec: &ServerSpec| Server {
            protocol: spec.url.protocol,
            host: spec.url.host.clone(),
            port: spec.url.port,
            security: spec.url.security,
            auth: spec.auth.clone(),
            username: email.expand(spec.username.as_deref().unwrap_or(&self.username)),
        };
        let mut settings = Settings {
            provider: Some(self.reference()),
            incoming: self.incoming.iter().map(server).collect(),
            outgoing: self.outgoing.iter().map(server).collect(),
            source,
            trust: Trust::Verified,
            notes: self.notes.clone(),
        };
        // An entry that knows no secure way in is not a verified answer:
        // its notes say why and what works instead.
        if !settings.has_secure_servers() {
            settings.trust = Trust::Unverified;
        }
        settings
    }

    /// Whether `mx_host` (normalised) matches one of the MX patterns.
    pub fn matches_mx(&self, mx_host: &str) -> bool {
        self.mx.iter().any(|p| mx_pattern_matches(p, mx_host))
    }

    /// Whether the provider has servers and none of them accepts a
    /// password (a provider without servers is not "OAuth only": it has no
    /// mail-app access at all).
    pub fn oauth_only(&self) -> bool {
        let mut servers = self.incoming.iter().chain(&self.outgoing).peekable();
        servers.peek().is_some() && servers.all(|s| s.auth.iter().all(|a| *a == AuthMethod::Oauth2))
    }
}

/// Matches `host` against `pattern`: exact, or `*.suffix` for hosts strictly
/// below `suffix`. Both sides ignore ASCII case and a trailing dot.
pub fn mx_pattern_matches(pattern: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.');
    match pattern.strip_prefix("*.") {
        Some(suffix) => {
            host.len() > suffix.len() + 1 && {
                let cut = host.len() - suffix.len();
                host.as_bytes()[cut - 1] == b'.'
                    && host
                        .get(cut..)
                        .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
            }
        }
        None => host.eq_ignore_ascii_case(pattern),
    }
}
