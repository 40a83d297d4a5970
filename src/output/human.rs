//! The human-readable `lookup` answer: what a person types into an iPhone.
//!
//! The first incoming and first outgoing server are shown field by field,
//! with the labels of the iPhone's manual setup screens (Host Name, User
//! Name, Use SSL, Authentication, Server Port); other servers follow as
//! alternatives; then the notes a user must read before logging in, the
//! important ones first.

use std::fmt::Write;

use crate::lookup::{Lookup, Tried};
use crate::settings::{AuthMethod, Security, Server, Source, Trust};
use crate::text::wrap;

const WIDTH: usize = 78;

/// Note codes shown first, as warnings.
const IMPORTANT: &[&str] = &[
    "oauth-required",
    "app-password",
    "enable-imap",
    "enable-pop",
    "provider-status",
    "paid-only",
    "credentials",
    "port-25",
];

/// Renders a lookup answer.
pub fn lookup(l: &Lookup) -> String {
    let mut out = String::new();
    let s = &l.settings;
    match &s.provider {
        Some(p) => {
            let _ = writeln!(out, "{} — {}", l.email, p.name);
        }
        None => {
            let _ = writeln!(out, "{}", l.email);
        }
    }
    let _ = writeln!(
        out,
        "Settings from {} ({})",
        source_words(s.source),
        trust_words(s.trust)
    );

    let important: Vec<_> = s
        .notes
        .iter()
        .filter(|n| IMPORTANT.contains(&n.code.as_str()))
        .collect();
    if s.oauth_only() {
        out.push('\n');
        out.push_str(
            "! Passwords do not work for this account: sign in with the provider (OAuth2).\n",
        );
    }

    if let Some(first) = s.incoming.first() {
        out.push('\n');
        let _ = writeln!(out, "Incoming mail server ({})", first.protocol.label());
        server_block(&mut out, first);
    }
    if let Some(first) = s.outgoing.first() {
        out.push('\n');
        let _ = writeln!(out, "Outgoing mail server ({})", first.protocol.label());
        server_block(&mut out, first);
    }

    let alternatives: Vec<&Server> = s
        .incoming
        .iter()
        .skip(1)
        .chain(s.outgoing.iter().skip(1))
        .collect();
    if !alternatives.is_empty() {
        out.push_str("\nAlternatives\n");
        for a in alternatives {
            let _ = writeln!(
                out,
                "  {:<5} {}  ({})",
                a.protocol.label(),
                a.url(),
                auth_words(&a.auth)
            );
        }
    }

    let other: Vec<_> = s
        .notes
        .iter()
        .filter(|n| !IMPORTANT.contains(&n.code.as_str()))
        .collect();
    if !important.is_empty() || !other.is_empty() {
        out.push_str("\nBefore you log in\n");
        for n in important
            .iter()
            .map(|n| ("!", n))
            .chain(other.iter().map(|n| ("-", n)))
        {
            let body = wrap(&n.1.text, WIDTH, 4);
            let _ = write!(out, "  {} {}", n.0, body.trim_start());
            if let Some(url) = &n.1.url {
                let _ = writeln!(out, "    {url}");
            }
        }
    }
    if let Some(checks) = &l.verify {
        out.push_str("\nProbed (TLS and capabilities, no login)\n");
        for v in checks {
            let verdict = match (v.reachable, v.cert_valid) {
                (_, true) => format!(
                    "ok, certificate valid{}",
                    v.tls_version
                        .as_deref()
                        .map(|t| format!(", {t}"))
                        .unwrap_or_default()
                ),
                (true, false) => {
                    "reachable, but its certificate could not be confirmed".to_string()
                }
                (false, _) => "not reachable".to_string(),
            };
            let _ = writeln!(out, "  {}  {verdict}", v.url);
            if let Some(p) = &v.problem {
                out.push_str(&wrap(p, WIDTH, 4));
            }
        }
    }
    out.push_str("\nHost names are not case-sensitive; type them in any case.\n");
    out
}

fn server_block(out: &mut String, s: &Server) {
    let row = |out: &mut String, k: &str, v: &str| {
        let _ = writeln!(out, "  {k:<15}{v}");
    };
    row(out, "Host Name", &s.host);
    row(out, "Server Port", &s.port.to_string());
    row(
        out,
        "Use SSL",
        match s.security {
            Security::Tls => "on (SSL/TLS from the start)",
            Security::Starttls => "on (STARTTLS)",
            Security::None => "off — no encryption, not recommended",
        },
    );
    row(out, "User Name", &s.username);
    row(out, "Authentication", &auth_words(&s.auth));
}

fn auth_words(auth: &[AuthMethod]) -> String {
    if auth.is_empty() {
        return "password".to_string();
    }
    auth.iter()
        .map(|a| a.label())
        .collect::<Vec<_>>()
        .join(" or ")
}

fn source_words(s: Source) -> &'static str {
    match s {
        Source::ProviderDb => "the built-in provider table",
        Source::Autoconfig => "the domain's own autoconfig file",
        Source::Ispdb => "the Thunderbird ISPDB",
        Source::Autodiscover => "the domain's Autodiscover service",
        Source::Srv => "DNS SRV records (RFC 6186)",
        Source::Mx => "the domain's MX records (a known provider)",
        Source::Guess => "probing likely server names",
        Source::User => "the command line",
    }
}

fn trust_words(t: Trust) -> &'static str {
    match t {
        Trust::Verified => "verified",
        Trust::Unverified => {
            "unverified: confirm these servers with your provider before typing your password"
        }
    }
}

/// Renders what was consulted, for `-v` and for failures.
pub fn tried(tried: &[Tried]) -> String {
    let mut out = String::new();
    for t in tried {
        let result = serde_json::to_value(t.result).ok();
        let result = result.as_ref().and_then(|v| v.as_str()).unwrap_or("?");
        let _ = write!(
            out,
            "  {:<13} {:<15} {:>6} ms  {}",
            t.source.to_string(),
            result,
            t.ms,
            t.url
        );
        if let Some(d) = &t.detail {
            let _ = write!(out, " — {d}");
        }
        out.push('\n');
    }
    out
}
