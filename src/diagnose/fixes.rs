//! The fixes: what a good admin would tell the user, for each finding.
//!
//! Provider knowledge comes from the provider table, never from names
//! written here: whether a provider needs OAuth (its `oauth-required`
//! note, or no server accepting a password), where its app passwords are
//! made (`app_password_url`), whether IMAP or POP must be switched on first
//! (`enable-imap` / `enable-pop` notes), and which account type the iPhone
//! has for it (`ios`).

use super::Context;
use crate::probe::ProbeError;
use crate::provider::Provider;
use crate::settings::{Note, Protocol, Security, ServerUrl};

/// The iPhone's path to a built-in account type.
const ADD_ACCOUNT: &str = "Settings › Apps › Mail › Mail Accounts › Add Account";

/// The provider's note saying passwords no longer work, if it needs OAuth.
pub fn oauth_required(p: &Provider) -> Option<Note> {
    if let Some(n) = p.notes.iter().find(|n| n.code == "oauth-required") {
        return Some(n.clone());
    }
    p.oauth_only().then(|| {
        Note::new(
            "oauth-required",
            format!(
                "{} accepts no passwords from mail apps: only sign-in with {} (OAuth2) works.",
                p.name, p.name
            ),
        )
    })
}

/// How to set the account up with OAuth on an iPhone.
pub fn oauth_path(p: &Provider) -> String {
    match p.ios {
        Some(ios) => format!(
            "passwords no longer work: add the account as {} on the iPhone ({ADD_ACCOUNT} › {}), which signs in with {} (OAuth), or use {}'s own app",
            ios.label(),
            ios.label(),
            p.name,
            p.name
        ),
        None => format!(
            "passwords no longer work: use a mail app that can sign in with {} (OAuth2), such as the provider's own app",
            p.name
        ),
    }
}

/// The note that switches `protocol` on in the web settings, if any.
fn enable_note(p: &Provider, protocol: Protocol) -> Option<&Note> {
    let code = match protocol {
        Protocol::Pop3 => "enable-pop",
        _ => "enable-imap",
    };
    p.notes
        .iter()
        .find(|n| n.code == code)
        .or_else(|| p.notes.iter().find(|n| n.code == "enable-imap"))
}

/// The fix for a rejected login, with a help link.
pub fn auth_failed(ctx: &Context, protocol: Protocol, username: &str) -> (String, Option<String>) {
    let check = format!(
        "Check the username ({username}; most providers want the whole address) and the password."
    );
    let Some(p) = ctx.provider else {
        return (
            format!(
                "{check} If the account has two-step verification, create an app password in the provider's security settings and use it instead."
            ),
            None,
        );
    };
    if let Some(note) = oauth_required(p) {
        return (format!("{}.", capitalise(&oauth_path(p))), note.url);
    }
    if let Some(url) = &p.app_password_url {
        return (
            format!(
                "{check} With two-step verification on, {}'s normal password does not work in mail apps: create an app password at {url} and type it instead of your password.",
                p.name
            ),
            Some(url.clone()),
        );
    }
    if let Some(note) = enable_note(p, protocol) {
        return (
            format!(
                "{check} Then turn on {} in {}'s web settings: {}",
                protocol.label(),
                p.name,
                note.text
            ),
            note.url.clone(),
        );
    }
    (check, p.help.clone())
}

/// The fix for a probe that stopped with `e` at `url`.
pub fn for_error(e: &ProbeError, url: &ServerUrl, ctx: &Context) -> String {
    let tls_url = tls_alternative(url);
    let recommended = recommended_host(ctx, url);
    match e {
        ProbeError::DnsNotFound { .. } if builtin_host(ctx, url) => {
            let p = provider_name(ctx);
            let help = ctx
                .provider
                .and_then(|p| p.help.as_deref())
                .map(|h| format!(" ({h})"))
                .unwrap_or_default();
            format!(
                "{} is the server name {p} itself publishes for mail apps. The DNS server in use says it does not exist, which usually means that DNS server filters or mis-answers: try another network, or another DNS server (--dns). If it still does not resolve, {p} may have renamed it: its help pages{help} list the current one.",
                url.host
            )
        }
        ProbeError::DnsNotFound { .. } => match recommended {
            Some(h) => format!(
                "Check the spelling of the server name. It may be outdated: {} uses {h}.",
                provider_name(ctx)
            ),
            None => "Check the spelling of the server name; it may be a typo or an outdated name. Your provider's help pages list the current one.".into(),
        },
        ProbeError::DnsFailed { .. } => "DNS itself did not answer: check the network connection (or the --dns server) and try again.".into(),
        ProbeError::Refused { .. } => format!(
            "Check the port: {} uses {} (SSL/TLS) or {} (STARTTLS). If the port is right, the service is down: try again later.",
            url.protocol.label(),
            url.protocol.default_port(Security::Tls),
            url.protocol.default_port(Security::Starttls)
        ),
        ProbeError::ConnectTimedOut { .. } | ProbeError::Unreachable { .. } => {
            let mut s = format!(
                "A firewall between you and the server drops port {}. Try another network (for example mobile data instead of Wi-Fi): if it works there, the network you are on blocks it — ask its administrator.",
                url.port
            );
            if url.port == 25 {
                s.push_str(" Most internet providers block port 25 for their customers: use port 587 (STARTTLS) or 465 (SSL/TLS) for sending.");
            }
            s
        }
        ProbeError::PlaintextPort { .. } => format!(
            "Port {} starts in plain text and upgrades with STARTTLS: choose STARTTLS for this port ({}), or SSL/TLS on port {} ({}).",
            url.port,
            with_security(url, Security::Starttls, url.port),
            url.protocol.default_port(Security::Tls),
            tls_url
        ),
        ProbeError::TlsPort => format!(
            "Port {} expects SSL/TLS from the first byte: turn SSL/TLS on for this port ({}).",
            url.port,
            with_security(url, Security::Tls, url.port)
        ),
        ProbeError::StarttlsNotOffered { .. }
        | ProbeError::StarttlsRefused { .. }
        | ProbeError::StarttlsNoTls { .. } => format!(
            "Never turn encryption off. Use SSL/TLS on port {} ({}) if the provider offers it; otherwise ask the provider to turn STARTTLS on. If it works from other networks, something on this network strips STARTTLS.",
            url.protocol.default_port(Security::Tls),
            tls_url
        ),
        ProbeError::StarttlsInjection { .. } => format!(
            "Do not use this network for mail until this is explained; tell the provider. SSL/TLS from the first byte on port {} ({}) is not open to this attack (RFC 8314).",
            url.protocol.default_port(Security::Tls),
            tls_url
        ),
        ProbeError::CertUntrusted { .. } => "Do not accept this certificate on your phone unless your provider confirms it. A company firewall that inspects TLS causes this too. Server operators: install a certificate from a public authority (such as Let's Encrypt) with its intermediate certificates.".into(),
        ProbeError::CertExpired { .. } => "The provider must renew its certificate; do not accept the expired one on your phone. Also check that this device's date and time are right.".into(),
        ProbeError::CertNameMismatch { names, .. } => match recommended.or_else(|| names.iter().find(|n| !n.starts_with('*')).cloned()) {
            Some(h) => format!(
                "Use the server name the certificate is for, such as {h} (if it belongs to your provider). Mail apps check that the name you typed is in the certificate (RFC 7817); a name you chose yourself (like mail.yourdomain) only works if the certificate lists it."
            ),
            None => "Ask the provider for the server name its certificate is for.".into(),
        },
        ProbeError::TlsOutdated { .. } => "The server must be upgraded to TLS 1.2 or newer: current iPhones and mail apps refuse TLS 1.0 and 1.1. Until then, no safe connection to it is possible.".into(),
        ProbeError::Preauth => format!(
            "Use SSL/TLS from the first byte on port {} ({}). Server operators: do not greet with PREAUTH on a STARTTLS port.",
            url.protocol.default_port(Security::Tls),
            tls_url
        ),
        ProbeError::Rejected { .. } => "The server refused this connection, perhaps because of where it comes from (a blocked IP address or network). Try another network, or ask the provider.".into(),
        _ => "Try again in a few minutes; if it keeps failing, send the provider this report (run with -v for the full dialogue; no password is shown).".into(),
    }
}

/// `s` with its first letter in upper case.
pub fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn provider_name(ctx: &Context) -> String {
    ctx.provider
        .map(|p| p.name.clone())
        .unwrap_or_else(|| "your provider".into())
}

/// Whether `url`'s host is one of the provider's own server names from the
/// built-in table (then a name that does not resolve is no typo).
fn builtin_host(ctx: &Context, url: &ServerUrl) -> bool {
    ctx.provider.is_some_and(|p| {
        p.incoming
            .iter()
            .chain(&p.outgoing)
            .any(|s| s.url.host.eq_ignore_ascii_case(&url.host))
    })
}

/// The discovered host for the same protocol, when it differs from `url`'s.
fn recommended_host(ctx: &Context, url: &ServerUrl) -> Option<String> {
    let d = ctx.discovered?;
    d.incoming
        .iter()
        .chain(&d.outgoing)
        .find(|s| s.protocol == url.protocol)
        .map(|s| s.host.clone())
        .filter(|h| *h != url.host)
}

fn with_security(url: &ServerUrl, security: Security, port: u16) -> ServerUrl {
    ServerUrl {
        security,
        port,
        ..url.clone()
    }
}

/// `url` with implicit TLS on its protocol's standard port.
pub fn tls_alternative(url: &ServerUrl) -> ServerUrl {
    with_security(url, Security::Tls, url.protocol.default_port(Security::Tls))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::EmailAddress;
    use crate::provider::ProviderTable;

    /// A table of made-up providers shaped like the ones the fixes serve:
    /// an app-password provider (as Yahoo, AOL, iCloud), an OAuth-only one
    /// (as Outlook.com), one that needs IMAP switched on (as GMX, web.de).
    const TABLE: &str = r#"
[[provider]]
id = "apppw.test"
name = "AppPw Mail"
ios = "yahoo"
app_password_url = "https://login.apppw.test/account/security/app-passwords"
domains = ["apppw.test"]
incoming = [{ url = "imaps://imap.apppw.test", auth = ["password"] }]
outgoing = [{ url = "smtps://smtp.apppw.test", auth = ["password"] }]

[[provider]]
id = "oauth.test"
name = "OAuth Mail"
ios = "outlook"
domains = ["oauth.test"]
incoming = [{ url = "imaps://imap.oauth.test", auth = ["oauth2"] }]
outgoing = [{ url = "smtp://smtp.oauth.test", auth = ["oauth2"] }]

[[provider]]
id = "switch.test"
name = "Switch Mail"
domains = ["switch.test"]
incoming = [{ url = "imaps://imap.switch.test", auth = ["password"] }]
outgoing = [{ url = "smtps://smtp.switch.test", auth = ["password"] }]
notes = [{ code = "enable-imap", text = "Turn on IMAP under Settings › POP3/IMAP.", url = "https://help.switch.test/imap" }]
"#;

    fn fix_for(domain: &str, table: &ProviderTable) -> (String, Option<String>) {
        let email: EmailAddress = format!("u@{domain}").parse().unwrap();
        let ctx = Context {
            email: &email,
            provider: table.by_domain(domain),
            discovered: None,
            secret: None,
            offline: false,
        };
        auth_failed(&ctx, Protocol::Imap, "u@x.test")
    }

    #[test]
    fn auth_failed_fixes_follow_the_table() {
        let table = ProviderTable::parse(TABLE).unwrap();
        let (fix, url) = fix_for("apppw.test", &table);
        let link = "https://login.apppw.test/account/security/app-passwords";
        assert!(
            fix.contains(&format!("create an app password at {link}")),
            "{fix}"
        );
        assert_eq!(url.as_deref(), Some(link));

        let (fix, _) = fix_for("oauth.test", &table);
        assert!(
            fix.starts_with(
                "Passwords no longer work: add the account as Outlook.com on the iPhone"
            ),
            "{fix}"
        );

        let (fix, url) = fix_for("switch.test", &table);
        assert!(
            fix.contains("Turn on IMAP under Settings › POP3/IMAP."),
            "{fix}"
        );
        assert_eq!(url.as_deref(), Some("https://help.switch.test/imap"));

        let (fix, url) = fix_for("unknown.test", &table);
        assert!(fix.starts_with("Check the username (u@x.test"), "{fix}");
        assert!(url.is_none());
    }

    #[test]
    fn oauth_need_comes_from_the_note_or_the_servers() {
        let table = ProviderTable::parse(TABLE).unwrap();
        assert!(oauth_required(table.by_domain("oauth.test").unwrap()).is_some());
        assert!(oauth_required(table.by_domain("apppw.test").unwrap()).is_none());
        let real = ProviderTable::builtin().by_domain("msn.com").unwrap();
        assert_eq!(oauth_required(real).unwrap().code, "oauth-required");
    }

    #[test]
    fn the_tls_alternative_uses_the_standard_port() {
        let u: ServerUrl = "imap://h.test:143".parse().unwrap();
        assert_eq!(tls_alternative(&u).to_string(), "imaps://h.test:993");
        let u: ServerUrl = "smtp://h.test:25".parse().unwrap();
        assert_eq!(tls_alternative(&u).to_string(), "smtps://h.test:465");
    }
}
