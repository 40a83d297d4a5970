//! The built-in provider table.
//!
//! This module owns the project's own data file, `data/providers.toml`,
//! compiled into the binary: for each provider its domains, the MX host
//! patterns that recognise a custom domain hosted there, its servers best
//! first, the username form, the authentication methods and the notes a user
//! needs before logging in. The file is written and maintained by this
//! project; tests compare it with Thunderbird's ISPDB and chatmail's
//! provider-db and fail where they disagree without a recorded reason
//! (`why_differs`).
//!
//! ```
//! use mailsetup::provider::ProviderTable;
//! let table = ProviderTable::builtin();
//! let p = table.by_domain("MSN.com").unwrap();
//! assert_eq!(p.id, "outlook.com");
//! assert!(table.by_mx_host("example-com.mail.protection.outlook.com").is_some());
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use serde::{Deserialize, Deserializer};

use crate::address::EmailAddress;
use crate::settings::{AuthMethod, Note, ProviderRef, Server, ServerUrl, Settings, Source, Trust};

/// The table's source text, compiled in.
pub const PROVIDERS_TOML: &str = include_str!("../data/providers.toml");

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
    /// Does not work with password-based mail apps at all.
    Broken,
}

/// One server as written in the table.
#[derive(Debug, Clone, Deserialize)]
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
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    /// A stable id (usually the main domain).
    pub id: String,
    /// The name people know.
    pub name: String,
    /// The email domains it hosts.
    pub domains: Vec<String>,
    /// MX host patterns: `host` exactly or `*.suffix` for any host below it.
    #[serde(default)]
    pub mx: Vec<String>,
    /// The iPhone's built-in account type for it, if any.
    #[serde(default)]
    pub ios: Option<IosAccount>,
    /// Whether ordinary mail apps work.
    #[serde(default)]
    pub status: Status,
    /// The username template (`%EMAILADDRESS%`, `%EMAILLOCALPART%`).
    #[serde(default = "default_username")]
    pub username: String,
    /// The provider's own page with these settings.
    #[serde(default)]
    pub help: Option<String>,
    /// Where to create an app password, when one is needed.
    #[serde(default)]
    pub app_password_url: Option<String>,
    /// Incoming servers, best first.
    pub incoming: Vec<ServerSpec>,
    /// Outgoing servers, best first.
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
        Settings {
            provider: Some(self.reference()),
            incoming: self.incoming.iter().map(server).collect(),
            outgoing: self.outgoing.iter().map(server).collect(),
            source,
            trust: Trust::Verified,
            notes: self.notes.clone(),
        }
    }

    /// Whether `mx_host` (normalised) matches one of the MX patterns.
    pub fn matches_mx(&self, mx_host: &str) -> bool {
        self.mx.iter().any(|p| mx_pattern_matches(p, mx_host))
    }

    /// Whether no server accepts a password.
    pub fn oauth_only(&self) -> bool {
        self.incoming
            .iter()
            .chain(&self.outgoing)
            .all(|s| s.auth.iter().all(|a| *a == AuthMethod::Oauth2))
    }
}

/// Matches `host` against `pattern`: exact, or `*.suffix` for hosts strictly
/// below `suffix`.
pub fn mx_pattern_matches(pattern: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.');
    match pattern.strip_prefix("*.") {
        Some(suffix) => {
            host.len() > suffix.len() + 1 && host.ends_with(suffix) && {
                let cut = host.len() - suffix.len();
                host.as_bytes()[cut - 1] == b'.'
            }
        }
        None => host.eq_ignore_ascii_case(pattern),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableFile {
    provider: Vec<Provider>,
}

/// Why the table's text could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// Not valid TOML for the schema.
    #[error("provider table: {0}")]
    Toml(#[from] toml::de::Error),
    /// A domain listed twice.
    #[error("provider table: domain {0} is listed by both {1} and {2}")]
    DuplicateDomain(String, String, String),
    /// A domain that is not lower-case ASCII.
    #[error("provider table: domain '{0}' of {1} is not a normalised domain name")]
    BadDomain(String, String),
}

/// The provider table, indexed by domain.
#[derive(Debug)]
pub struct ProviderTable {
    providers: Vec<Provider>,
    by_domain: HashMap<String, usize>,
}

static BUILTIN: LazyLock<ProviderTable> = LazyLock::new(|| {
    ProviderTable::parse(PROVIDERS_TOML).expect("the built-in provider table is checked by tests")
});

impl ProviderTable {
    /// The table compiled into the program.
    pub fn builtin() -> &'static ProviderTable {
        &BUILTIN
    }

    /// Parses and indexes a table.
    pub fn parse(text: &str) -> Result<ProviderTable, TableError> {
        let file: TableFile = toml::from_str(text)?;
        let mut by_domain = HashMap::new();
        for (i, p) in file.providers_iter() {
            for d in &p.domains {
                match crate::address::normalize_host(d) {
                    Ok(n) if &n == d => {}
                    _ => return Err(TableError::BadDomain(d.clone(), p.id.clone())),
                }
                if let Some(&j) = by_domain.get(d) {
                    let other: &Provider = &file.provider[j];
                    return Err(TableError::DuplicateDomain(
                        d.clone(),
                        other.id.clone(),
                        p.id.clone(),
                    ));
                }
                by_domain.insert(d.clone(), i);
            }
        }
        Ok(ProviderTable {
            providers: file.provider,
            by_domain,
        })
    }

    /// All providers.
    pub fn providers(&self) -> &[Provider] {
        &self.providers
    }

    /// The provider of an email domain (any case, trailing dot allowed).
    pub fn by_domain(&self, domain: &str) -> Option<&Provider> {
        let d = domain.trim_end_matches('.').to_ascii_lowercase();
        self.by_domain.get(&d).map(|&i| &self.providers[i])
    }

    /// The provider whose MX patterns match `mx_host`.
    pub fn by_mx_host(&self, mx_host: &str) -> Option<&Provider> {
        let h = mx_host.trim_end_matches('.').to_ascii_lowercase();
        self.providers.iter().find(|p| p.matches_mx(&h))
    }

    /// The provider with this id.
    pub fn by_id(&self, id: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.id == id)
    }
}

impl TableFile {
    fn providers_iter(&self) -> impl Iterator<Item = (usize, &Provider)> {
        self.provider.iter().enumerate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Protocol, Security};

    #[test]
    fn builtin_table_parses() {
        let t = ProviderTable::parse(PROVIDERS_TOML).unwrap();
        assert!(t.providers().len() > 3);
    }

    #[test]
    fn every_provider_has_incoming_and_outgoing_and_encrypts() {
        for p in ProviderTable::builtin().providers() {
            assert!(!p.incoming.is_empty(), "{} has no incoming server", p.id);
            assert!(!p.outgoing.is_empty(), "{} has no outgoing server", p.id);
            assert!(
                !p.domains.is_empty() || !p.mx.is_empty(),
                "{} has no domain or MX",
                p.id
            );
            for s in &p.incoming {
                assert!(
                    s.url.protocol.is_incoming(),
                    "{}: {} is not incoming",
                    p.id,
                    s.url
                );
            }
            for s in &p.outgoing {
                assert_eq!(
                    s.url.protocol,
                    Protocol::Smtp,
                    "{}: {} is not SMTP",
                    p.id,
                    s.url
                );
                assert_ne!(
                    s.url.port, 25,
                    "{}: port 25 is for servers, not clients",
                    p.id
                );
            }
            let first = &p.incoming[0];
            assert_ne!(
                first.url.security,
                Security::None,
                "{}: best server unencrypted",
                p.id
            );
            for s in p.incoming.iter().chain(&p.outgoing) {
                assert!(
                    !s.auth.is_empty(),
                    "{}: {} lists no auth method",
                    p.id,
                    s.url
                );
            }
        }
    }

    #[test]
    fn servers_are_listed_implicit_tls_first() {
        for p in ProviderTable::builtin().providers() {
            for list in [&p.incoming, &p.outgoing] {
                for proto in [Protocol::Imap, Protocol::Pop3, Protocol::Smtp] {
                    let secs: Vec<_> = list
                        .iter()
                        .filter(|s| s.url.protocol == proto)
                        .map(|s| s.url.security)
                        .collect();
                    let mut sorted = secs.clone();
                    sorted.sort();
                    assert_eq!(
                        secs, sorted,
                        "{}: {proto} servers not best first (RFC 8314)",
                        p.id
                    );
                }
            }
        }
    }

    #[test]
    fn notes_that_need_a_link_have_one() {
        for p in ProviderTable::builtin().providers() {
            for n in &p.notes {
                if [
                    "app-password",
                    "enable-imap",
                    "enable-pop",
                    "oauth-required",
                ]
                .contains(&n.code.as_str())
                {
                    let url = n
                        .url
                        .as_deref()
                        .unwrap_or_else(|| panic!("{}: note {} has no link", p.id, n.code));
                    assert!(url.starts_with("https://"), "{}: {url} is not https", p.id);
                }
            }
        }
    }

    #[test]
    fn mx_patterns() {
        assert!(mx_pattern_matches(
            "*.mail.protection.outlook.com",
            "contoso-com.mail.protection.outlook.com"
        ));
        assert!(!mx_pattern_matches(
            "*.mail.protection.outlook.com",
            "mail.protection.outlook.com"
        ));
        assert!(!mx_pattern_matches(
            "*.mail.protection.outlook.com",
            "evilmail.protection.outlook.com"
        ));
        assert!(mx_pattern_matches(
            "aspmx.l.google.com",
            "aspmx.l.google.com."
        ));
        assert!(!mx_pattern_matches(
            "aspmx.l.google.com",
            "xaspmx.l.google.com"
        ));
    }

    #[test]
    fn lookups_ignore_case_and_trailing_dot() {
        let t = ProviderTable::builtin();
        assert_eq!(t.by_domain("HOTMAIL.COM.").unwrap().id, "outlook.com");
        assert!(t.by_domain("no-such-domain.test").is_none());
    }

    #[test]
    fn broken_tables_are_rejected() {
        let dup = r#"
[[provider]]
id = "a"
name = "A"
domains = ["a.example"]
incoming = [{ url = "imaps://imap.a.example", auth = ["password"] }]
outgoing = [{ url = "smtps://smtp.a.example", auth = ["password"] }]
[[provider]]
id = "b"
name = "B"
domains = ["a.example"]
incoming = [{ url = "imaps://imap.a.example", auth = ["password"] }]
outgoing = [{ url = "smtps://smtp.a.example", auth = ["password"] }]
"#;
        assert!(matches!(
            ProviderTable::parse(dup),
            Err(TableError::DuplicateDomain(..))
        ));
        let upper = dup.replacen("a.example\"]", "A.example\"]", 1);
        assert!(matches!(
            ProviderTable::parse(&upper),
            Err(TableError::BadDomain(..))
        ));
        let bad_url = dup.replace("imaps://imap.a.example", "http://x");
        assert!(matches!(
            ProviderTable::parse(&bad_url),
            Err(TableError::Toml(_))
        ));
        let unknown = dup.replace("name = \"A\"", "name = \"A\"\ncolour = 1");
        assert!(matches!(
            ProviderTable::parse(&unknown),
            Err(TableError::Toml(_))
        ));
    }
}
