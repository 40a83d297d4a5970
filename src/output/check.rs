//! The human-readable `check` answer: the verdict first, in words a
//! non-expert understands; then each server's details (connection, TLS,
//! certificate, login); then the findings, each with its fix. And the
//! `-v` transcript of every dialogue, secrets already replaced.

use std::fmt::Write;

use crate::diagnose::{CheckReport, Finding, Role, ServerCheck, Severity};
use crate::probe::{LoginStatus, Speaker};
use crate::text::wrap;

const WIDTH: usize = 78;

/// Renders a check report.
pub fn check(r: &CheckReport) -> String {
    let mut out = String::new();
    match &r.provider {
        Some(p) => writeln!(out, "{} — {}", r.email, p.name),
        None => writeln!(out, "{}", r.email),
    }
    .ok();
    out.push('\n');
    out.push_str(&wrap(&r.verdict, WIDTH, 0));
    for s in &r.servers {
        out.push('\n');
        server(&mut out, s);
    }
    if !r.findings.is_empty() {
        out.push_str("\nFindings\n");
        for f in &r.findings {
            finding(&mut out, f);
        }
    }
    out
}

fn server(out: &mut String, s: &ServerCheck) {
    let r = &s.report;
    let role = match s.role {
        Role::Incoming => "Incoming",
        Role::Outgoing => "Outgoing",
    };
    let _ = write!(out, "{role} ({}) {}", r.url.protocol.label(), r.url);
    match &s.instead_of {
        Some(blocked) => {
            let _ = writeln!(out, " (tried instead of {blocked})");
        }
        None => out.push('\n'),
    }
    let row = |out: &mut String, k: &str, v: &str| {
        let body = wrap(v, WIDTH, 15);
        let _ = write!(out, "  {k:<13}{}", body.trim_start());
    };
    if !s.probed {
        row(out, "Checked", "no (--offline)");
        return;
    }
    let conn = if r.reachable {
        format!("reached {}; checked in {} ms", r.addresses.join(", "), r.ms)
    } else if r.addresses.is_empty() {
        "not reached: the name did not resolve".to_string()
    } else {
        format!("not reached ({})", r.addresses.join(", "))
    };
    row(out, "Connection", &conn);
    if let Some(t) = &r.tls {
        if let (Some(v), Some(c)) = (&t.version, &t.cipher) {
            row(out, "Encryption", &format!("{v}, {c}"));
        }
        if !t.names.is_empty() || t.issuer.is_some() {
            let validity = if t.cert_valid { "valid" } else { "NOT valid" };
            let names = if t.names.is_empty() {
                "no names".to_string()
            } else {
                t.names.join(", ")
            };
            row(
                out,
                "Certificate",
                &format!(
                    "{validity}: for {names}; issued by {}; expires {}",
                    t.issuer.as_deref().unwrap_or("?"),
                    t.not_after.as_deref().unwrap_or("?")
                ),
            );
        }
    }
    if !r.auth_mechanisms.is_empty() || r.password_login_offered {
        let mut offers = r.auth_mechanisms.join(", ");
        if offers.is_empty() {
            offers = "the protocol's own password command".into();
        }
        if !r.capabilities_protected {
            // Anyone on the path could have written a plain-text list.
            offers.push_str(" (said in plain text: unverified)");
        }
        row(out, "Login offers", &offers);
    }
    let login = match r.login {
        LoginStatus::Ok => format!(
            "accepted as {}{}",
            s.username,
            r.login_mechanism
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        ),
        LoginStatus::Failed => format!("REJECTED for {}", s.username),
        LoginStatus::RefusedInsecure => {
            "not tried: the connection was not safely encrypted, so the password was not sent"
                .into()
        }
        LoginStatus::Skipped if r.preauth => "not needed (the server pre-authenticated)".into(),
        LoginStatus::Skipped if r.no_usable_mechanism => {
            "not tried: no mechanism fits the secret given".into()
        }
        LoginStatus::Skipped if r.error.is_some() => "not tried (the check stopped earlier)".into(),
        LoginStatus::Skipped => format!("not tried (no password given); username {}", s.username),
    };
    row(out, "Login", &login);
}

fn finding(out: &mut String, f: &Finding) {
    let mark = match f.severity {
        Severity::Error => "x error",
        Severity::Warning => "! warning",
        Severity::Info => "- info",
    };
    let _ = write!(out, "  {mark}: {}", f.code);
    if let Some(s) = &f.server {
        let _ = write!(out, " ({s})");
    }
    out.push('\n');
    out.push_str(&wrap(&f.message, WIDTH, 4));
    out.push_str(&wrap(&format!("Fix: {}", f.fix), WIDTH, 4));
    if let Some(u) = &f.url {
        let _ = writeln!(out, "    {u}");
    }
}

/// The dialogue with every server, for `-v`. Lines that travelled in
/// plain text are marked: their content is not the server's word.
pub fn transcript(r: &CheckReport) -> String {
    let mut out = String::new();
    for s in &r.servers {
        let role = match s.role {
            Role::Incoming => "incoming",
            Role::Outgoing => "outgoing",
        };
        let _ = writeln!(out, "-- {} ({role})", s.report.url);
        for l in &s.report.transcript {
            let channel = if l.tls { "tls  " } else { "plain" };
            match l.speaker {
                Speaker::Note => {
                    let _ = writeln!(out, "   .. {}", l.text);
                }
                Speaker::Client => {
                    let _ = writeln!(out, "   {channel} C: {}", l.text);
                }
                Speaker::Server => {
                    let _ = writeln!(out, "   {channel} S: {}", l.text);
                }
            }
        }
    }
    out
}
