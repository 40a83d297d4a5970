//! The rules every provider entry must follow, and [`validate`], which
//! holds an entry to them.
//!
//! The table is data people edit by hand; these checks keep it honest. They
//! run when a table is parsed (so a test over the built-in table fails on any
//! broken entry, and a bad built-in entry can never be served silently) and
//! encode the project's policy for server lists: best first by RFC 8314,
//! unencrypted servers only where nothing better exists and never first,
//! port 25 only when nothing else is offered, and a link to the provider's
//! own help page on every note that asks the user to do something.

use std::collections::HashSet;

use super::schema::{Provider, ServerSpec, Status};
use crate::settings::{Protocol, Security};

/// Note codes that ask the user to act. Every note needs a link to the
/// page its fact came from; these ones most of all.
pub const ACTION_NOTES: &[&str] = &[
    "app-password",
    "enable-imap",
    "enable-pop",
    "oauth-required",
];

/// The corpora an entry may record a deliberate difference from.
pub const CORPORA: &[&str] = &["ispdb", "provider-db"];

/// What is wrong with one entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// A domain that is not lower-case ASCII (punycode) without a trailing dot.
    #[error("domain '{0}' is not a normalised domain name (lower case, punycode, no trailing dot)")]
    BadDomain(String),
    /// An MX pattern that is neither a host name nor `*.suffix`.
    #[error("MX pattern '{0}' is not a normalised host name or *.suffix")]
    BadMxPattern(String),
    /// Nothing to recognise the provider by.
    #[error("it lists neither a domain nor an MX pattern")]
    NoDomainOrMx,
    /// An SMTP server among the incoming ones, or the reverse.
    #[error("{0} is in the wrong list: incoming servers are IMAP or POP3, outgoing ones SMTP")]
    WrongDirection(String),
    /// A server without an authentication method.
    #[error("{0} names no authentication method")]
    NoAuth(String),
    /// Servers of one protocol not ordered TLS, STARTTLS, none.
    #[error(
        "its {0} servers are not best first: implicit TLS, then STARTTLS, then none (RFC 8314)"
    )]
    NotBestFirst(Protocol),
    /// An unencrypted server first, or beside an encrypted one of its protocol.
    #[error(
        "{0} has no encryption: that is allowed only when its protocol offers nothing better, and never first"
    )]
    Plaintext(String),
    /// Port 25 where a submission port exists, or without a `port-25` note.
    #[error("{0} uses port 25: allowed only as the sole outgoing server, with a port-25 note")]
    Port25(String),
    /// No incoming or no outgoing server on a provider that is not broken.
    #[error(
        "it lists no incoming or no outgoing server: only a broken provider with a provider-status or oauth-required note may"
    )]
    NoServers,
    /// A username template with an unknown placeholder.
    #[error("username template '{0}' has an unknown placeholder")]
    BadUsername(String),
    /// A note without a link to the page its fact came from.
    #[error(
        "note {0} needs a link to the https:// page its fact comes from (the provider's own help page wherever there is one)"
    )]
    NoteLink(String),
    /// A link that is not https.
    #[error("'{0}' is not an https:// link")]
    NotHttps(String),
    /// A `why_differs` key that names no corpus.
    #[error("why_differs key '{0}' is not ispdb or provider-db")]
    WhyDiffersKey(String),
}

/// Validates one entry against every rule.
pub fn validate(p: &Provider) -> Result<(), Problem> {
    for d in &p.domains {
        if !is_normalised_host(d) {
            return Err(Problem::BadDomain(d.to_string()));
        }
    }
    for m in &p.mx {
        if !is_normalised_host(m.strip_prefix("*.").unwrap_or(m)) {
            return Err(Problem::BadMxPattern(m.to_string()));
        }
    }
    if p.domains.is_empty() && p.mx.is_empty() {
        return Err(Problem::NoDomainOrMx);
    }
    check_servers(p)?;
    check_username(&p.username)?;
    for s in p.incoming.iter().chain(&p.outgoing) {
        if let Some(u) = &s.username {
            check_username(u)?;
        }
    }
    for n in &p.notes {
        match &n.url {
            Some(url) => https(url)?,
            None => return Err(Problem::NoteLink(n.code.clone())),
        }
    }
    for url in p.help.iter().chain(&p.app_password_url) {
        https(url)?;
    }
    if let Some(key) = p
        .why_differs
        .keys()
        .find(|k| !CORPORA.contains(&k.as_str()))
    {
        return Err(Problem::WhyDiffersKey(key.clone()));
    }
    Ok(())
}

fn check_servers(p: &Provider) -> Result<(), Problem> {
    if p.incoming.is_empty() || p.outgoing.is_empty() {
        let explained = p
            .notes
            .iter()
            .any(|n| n.code == "provider-status" || n.code == "oauth-required");
        if p.status != Status::Broken || !explained {
            return Err(Problem::NoServers);
        }
    }
    for (list, incoming) in [(&p.incoming, true), (&p.outgoing, false)] {
        for s in list.iter() {
            if s.url.protocol.is_incoming() != incoming {
                return Err(Problem::WrongDirection(s.url.to_string()));
            }
            if s.auth.is_empty() {
                return Err(Problem::NoAuth(s.url.to_string()));
            }
        }
        check_order(list)?;
    }
    let port25 = |s: &&ServerSpec| s.url.port == 25;
    if let Some(s) = p.outgoing.iter().find(port25) {
        let noted = p.notes.iter().any(|n| n.code == "port-25");
        if p.outgoing.len() > 1 || !noted {
            return Err(Problem::Port25(s.url.to_string()));
        }
    }
    Ok(())
}

/// Best first per protocol, and the plaintext rule.
fn check_order(list: &[ServerSpec]) -> Result<(), Problem> {
    if let Some(first) = list.first() {
        if first.url.security == Security::None {
            return Err(Problem::Plaintext(first.url.to_string()));
        }
    }
    let protocols: HashSet<Protocol> = list.iter().map(|s| s.url.protocol).collect();
    for proto in protocols {
        let secs: Vec<Security> = list
            .iter()
            .filter(|s| s.url.protocol == proto)
            .map(|s| s.url.security)
            .collect();
        if secs.windows(2).any(|w| w[0] > w[1]) {
            return Err(Problem::NotBestFirst(proto));
        }
        let encrypted = secs.iter().any(|s| s.is_encrypted());
        if encrypted && secs.contains(&Security::None) {
            let plain = list
                .iter()
                .find(|s| s.url.protocol == proto && s.url.security == Security::None);
            let url = plain.map(|s| s.url.to_string()).unwrap_or_default();
            return Err(Problem::Plaintext(url));
        }
    }
    Ok(())
}

fn check_username(template: &str) -> Result<(), Problem> {
    let rest = template
        .replace("%EMAILADDRESS%", "")
        .replace("%EMAILLOCALPART%", "")
        .replace("%EMAILDOMAIN%", "");
    if rest.contains('%') || template.trim().is_empty() {
        return Err(Problem::BadUsername(template.to_string()));
    }
    Ok(())
}

fn https(url: &str) -> Result<(), Problem> {
    match url.strip_prefix("https://") {
        Some(rest) if !rest.is_empty() && !rest.contains(char::is_whitespace) => Ok(()),
        _ => Err(Problem::NotHttps(url.to_string())),
    }
}

/// Whether `host` is already what [`crate::address::normalize_host`] makes
/// of it. Plain lower-case letter-digit-hyphen names (nearly all of the
/// table) are recognised directly, because full IDNA processing of an
/// entry's hundred domains would cost more than the rest of a lookup;
/// anything else (punycode labels, double hyphens, other characters) takes
/// the full path.
fn is_normalised_host(host: &str) -> bool {
    let plain_label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && !l.contains("--")
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    let plain = host.len() <= 253 && host.split('.').all(plain_label);
    plain || matches!(crate::address::normalize_host(host), Ok(n) if n == host)
}

#[cfg(test)]
mod tests {
    use super::is_normalised_host;

    #[test]
    fn the_fast_host_check_agrees_with_full_normalisation() {
        let hosts = [
            "gmail.com",
            "a.b-c.example",
            "xn--bcher-kva.example",
            "Gmail.com",
            "gmail.com.",
            "ab--cd.example",
            "-a.example",
            "a-.example",
            "a..example",
            "",
            "bücher.example",
            "a_b.example",
            "1.2.3.4",
        ];
        let long_label = format!("{}.example", "a".repeat(64));
        let long_name = vec!["a"; 130].join(".");
        for h in hosts
            .iter()
            .copied()
            .chain([long_label.as_str(), long_name.as_str()])
        {
            let full = matches!(crate::address::normalize_host(h), Ok(n) if n == h);
            assert_eq!(is_normalised_host(h), full, "{h:?}");
        }
    }
}
