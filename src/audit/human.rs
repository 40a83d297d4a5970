//! The audit for people: the verdict, then each source with what it
//! published and the findings about it, then the servers and the findings
//! that concern the domain as a whole.

use std::fmt::Write;

use super::{AuditReport, Published};
use crate::diagnose::{Finding, Severity};
use crate::lookup::TryResult;
use crate::settings::Source;
use crate::text::wrap;

const WIDTH: usize = 78;

/// Renders an audit report.
pub fn report(r: &AuditReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", r.domain);
    out.push_str(&wrap(&r.verdict, WIDTH, 0));
    let mut shown = vec![false; r.findings.len()];
    for (source, title) in [
        (Source::Autoconfig, "Autoconfig"),
        (Source::Autodiscover, "Autodiscover"),
        (Source::Srv, "SRV records"),
        (Source::Mx, "MX"),
    ] {
        let _ = writeln!(out, "\n{title}");
        for p in r.sources.iter().filter(|p| p.source == source) {
            line(&mut out, p);
        }
        for (i, f) in r.findings.iter().enumerate() {
            if shown[i] || !concerns(f, source, r) {
                continue;
            }
            shown[i] = true;
            finding(&mut out, f);
        }
    }
    if !r.servers.is_empty() {
        out.push_str("\nServers published\n");
        for s in &r.servers {
            let state = match &s.report.error {
                None => "works".to_string(),
                Some(e) => e.code().to_string(),
            };
            let by: Vec<String> = s.published_by.iter().map(ToString::to_string).collect();
            let _ = writeln!(
                out,
                "  {:<40} {state} (from {})",
                s.report.url.to_string(),
                by.join(", ")
            );
        }
    }
    let rest: Vec<&Finding> = r
        .findings
        .iter()
        .enumerate()
        .filter(|(i, _)| !shown[*i])
        .map(|(_, f)| f)
        .collect();
    if !rest.is_empty() {
        out.push_str("\nFindings\n");
        for f in rest {
            finding(&mut out, f);
        }
    }
    out
}

fn line(out: &mut String, p: &Published) {
    let what = match p.result {
        TryResult::Found if p.servers.is_empty() => "answered".to_string(),
        TryResult::Found => p
            .servers
            .iter()
            .map(|s| s.url().to_string())
            .collect::<Vec<_>>()
            .join(" "),
        TryResult::NotFound => "nothing".into(),
        other => serde_json::to_value(other)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
    };
    let mut extra = Vec::new();
    if let Some(s) = p.status {
        extra.push(format!("HTTP {s}"));
    }
    match p.dnssec {
        Some(true) => extra.push("DNSSEC".into()),
        Some(false) if p.result == TryResult::Found => extra.push("no DNSSEC".into()),
        _ => {}
    }
    if let Some(d) = &p.detail {
        extra.push(d.clone());
    }
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(" ({})", extra.join("; "))
    };
    out.push_str(&wrap(&format!("{}: {what}{extra}", p.asked), WIDTH, 4).replacen("    ", "  ", 1));
}

/// Whether a finding belongs under a source's heading.
fn concerns(f: &Finding, source: Source, r: &AuditReport) -> bool {
    let Some(server) = &f.server else {
        return f.message.starts_with(&source.to_string());
    };
    if r.sources
        .iter()
        .any(|p| p.source == source && p.asked.ends_with(server.as_str()))
    {
        return true;
    }
    r.servers
        .iter()
        .any(|s| s.report.url.to_string() == *server && s.published_by.first() == Some(&source))
        || r.sources
            .iter()
            .any(|p| p.source == source && p.servers.iter().any(|s| s.url().to_string() == *server))
            && f.code == super::codes::CONFIG_PLAINTEXT_SERVER
}

fn finding(out: &mut String, f: &Finding) {
    let mark = match f.severity {
        Severity::Error => "x error",
        Severity::Warning => "! warning",
        Severity::Info => "- info",
    };
    let _ = writeln!(out, "  {mark}: {}", f.code);
    out.push_str(&wrap(&f.message, WIDTH, 4));
    if f.severity != Severity::Info {
        out.push_str(&wrap(&format!("Fix: {}", f.fix), WIDTH, 4));
    }
}
