//! From what the sources published and what the probes saw to findings,
//! each with a fix addressed to the domain's operator. Pure functions: no
//! I/O, testable with hand-made [`Published`] and [`AuditServer`] values.

use std::collections::{BTreeMap, BTreeSet};

use super::codes::*;
use super::{AuditServer, Published, on_domain};
use crate::diagnose::{Finding, Severity};
use crate::lookup::TryResult;
use crate::settings::{Security, Source};

/// Certificates ending within this many days get `cert-expiring`.
pub const EXPIRING_DAYS: i64 = 30;

fn finding(
    severity: Severity,
    code: FindingCode,
    server: Option<String>,
    message: String,
    fix: String,
) -> Finding {
    Finding {
        severity,
        code,
        server,
        message,
        fix,
        url: None,
    }
}

/// Every finding, most severe first.
pub fn findings(domain: &str, sources: &[Published], servers: &[AuditServer]) -> Vec<Finding> {
    findings_at(domain, sources, servers, now())
}

/// [`findings`] as of `now` (Unix seconds).
pub fn findings_at(
    domain: &str,
    sources: &[Published],
    servers: &[AuditServer],
    now: i64,
) -> Vec<Finding> {
    let mut out = Vec::new();
    // Sources with something wrong, so that the rest get an info finding.
    let mut troubled: BTreeSet<Source> = BTreeSet::new();

    // config-invalid: a file that is there but cannot be read.
    for p in sources.iter().filter(|p| p.result == TryResult::Invalid) {
        troubled.insert(p.source);
        out.push(finding(
            Severity::Error,
            CONFIG_INVALID,
            Some(url_of(p)),
            format!(
                "The {} file at {} cannot be read: {}.",
                p.source,
                url_of(p),
                p.detail.as_deref().unwrap_or("invalid")
            ),
            format!(
                "Correct the file at the line given (check it with an XML validator, e.g. xmllint); mail clients ignore a {} file they cannot read.",
                p.source
            ),
        ));
    }

    // config-http-only.
    let ac_https = sources
        .iter()
        .any(|p| p.source == Source::Autoconfig && p.transport == "https" && p.found());
    if !ac_https {
        if let Some(p) = sources
            .iter()
            .find(|p| p.source == Source::Autoconfig && p.transport == "http" && p.found())
        {
            troubled.insert(Source::Autoconfig);
            out.push(finding(
                Severity::Error,
                CONFIG_HTTP_ONLY,
                Some(url_of(p)),
                format!(
                    "The autoconfig file is published only over plain HTTP ({}): anyone on the path can replace the servers it names, and clients that accept it send passwords to them.",
                    url_of(p)
                ),
                format!(
                    "Serve the same file over HTTPS at https://autoconfig.{domain}/mail/config-v1.1.xml with a valid certificate for autoconfig.{domain}, and redirect HTTP to it."
                ),
            ));
        }
    }

    // config-plaintext-server: once per server, naming every source.
    let mut plaintext: BTreeMap<String, BTreeSet<Source>> = BTreeMap::new();
    for p in sources
        .iter()
        .filter(|p| p.found() && p.source != Source::Mx)
    {
        for s in p.servers.iter().filter(|s| s.security == Security::None) {
            plaintext
                .entry(s.url().to_string())
                .or_default()
                .insert(p.source);
        }
    }
    for (url, by) in &plaintext {
        troubled.extend(by.iter().copied());
        out.push(finding(
            Severity::Error,
            CONFIG_PLAINTEXT_SERVER,
            Some(url.clone()),
            format!(
                "{} lists {url}, a server without any encryption: passwords and mail would cross the network readable by anyone on the path.",
                names(by)
            ),
            "Publish the server with TLS instead (imaps:// on 993, smtps:// on 465, or STARTTLS on 143/587) and remove the unencrypted entry.".into(),
        ));
    }

    // srv-off-domain.
    for p in sources
        .iter()
        .filter(|p| p.transport == "dns" && p.dnssec == Some(false))
        .filter(|p| p.source == Source::Srv || p.source == Source::Autodiscover)
        .filter(|p| p.result == TryResult::Found)
    {
        for target in &p.names {
            let host = target.rsplit_once(':').map_or(target.as_str(), |(h, _)| h);
            if on_domain(host, domain) {
                continue;
            }
            troubled.insert(p.source);
            out.push(finding(
                Severity::Warning,
                SRV_OFF_DOMAIN,
                Some(p.asked.trim_start_matches("SRV ").to_string()),
                format!(
                    "{} points outside {domain}, at {host}, and the answer is not DNSSEC-signed: anyone who can forge DNS answers can send clients elsewhere.",
                    p.asked
                ),
                format!(
                    "Sign {domain} with DNSSEC (and publish the DS record at the parent), or point the record at a name under {domain} (e.g. a CNAME to {host})."
                ),
            ));
        }
    }

    // autodiscover-http-auth.
    for p in sources
        .iter()
        .filter(|p| p.source == Source::Autodiscover && matches!(p.status, Some(401 | 407)))
    {
        let basic = p
            .www_authenticate
            .as_deref()
            .is_some_and(|h| h.to_ascii_lowercase().contains("basic"));
        let (severity, message) = if p.transport == "http" {
            (
                Severity::Error,
                format!(
                    "Autodiscover at {} asks for credentials over plain HTTP{}: clients that answer send the password readable on the network.",
                    url_of(p),
                    if basic { " with Basic auth" } else { "" }
                ),
            )
        } else if basic {
            (
                Severity::Warning,
                format!(
                    "Autodiscover at {} asks for a password with HTTP Basic auth: a client that follows a forged DNS answer or redirect hands the password over in clear text inside TLS to whoever answers.",
                    url_of(p)
                ),
            )
        } else {
            continue;
        };
        troubled.insert(Source::Autodiscover);
        out.push(finding(
            severity,
            AUTODISCOVER_HTTP_AUTH,
            Some(url_of(p)),
            message,
            "Answer Autodiscover only over HTTPS; on plain HTTP send nothing but a redirect to HTTPS. Prefer modern authentication (OAuth2) or NTLM/Negotiate to Basic, or publish the settings without asking for credentials.".into(),
        ));
    }

    // sources-disagree: per role, two sources with no host in common.
    for incoming in [true, false] {
        let mut by_source: BTreeMap<Source, BTreeSet<String>> = BTreeMap::new();
        for p in sources.iter().filter(|p| p.found()) {
            for s in p
                .servers
                .iter()
                .filter(|s| s.protocol.is_incoming() == incoming)
            {
                by_source
                    .entry(p.source)
                    .or_default()
                    .insert(s.host.clone());
            }
        }
        let list: Vec<_> = by_source.iter().collect();
        let mut clash = None;
        'outer: for (i, (a, ha)) in list.iter().enumerate() {
            for (b, hb) in &list[i + 1..] {
                if ha.is_disjoint(hb) {
                    clash = Some((**a, *ha, **b, *hb));
                    break 'outer;
                }
            }
        }
        if let Some((a, ha, b, hb)) = clash {
            out.push(finding(
                Severity::Warning,
                SOURCES_DISAGREE,
                None,
                format!(
                    "For {} mail, {a} names {} but {b} names {}: clients reading different sources end up on different servers.",
                    if incoming { "incoming" } else { "outgoing" },
                    join(ha),
                    join(hb)
                ),
                "Publish the same servers in every source (autoconfig, Autodiscover, SRV), and remove the records of servers no longer in use.".into(),
            ));
        }
    }

    // Probes.
    for s in servers {
        let url = s.report.url.to_string();
        let host = &s.report.url.host;
        let by = names(&s.published_by.iter().copied().collect());
        if let Some(e) = &s.report.error {
            let code = e.code();
            let (severity, fix) = match code {
                FindingCode::CertUntrusted => (Severity::Error, format!("Install a certificate for {host} issued by a public CA (e.g. Let's Encrypt), with the whole chain.")),
                FindingCode::CertExpired => (Severity::Error, format!("Renew the certificate of {host} and automate renewal.")),
                FindingCode::CertNameMismatch => (Severity::Error, format!("Install a certificate whose names include {host}, or publish the host name the certificate is for.")),
                FindingCode::StarttlsMissing => (Severity::Error, "Enable STARTTLS on this port (and require it before login), or publish the implicit-TLS port instead (993, 995, 465).".into()),
                FindingCode::TlsMismatch => (Severity::Error, "Publish the security this port really speaks: implicit TLS on 993/995/465, STARTTLS on 143/110/587.".into()),
                FindingCode::DnsNotFound => (Severity::Error, format!("Create the DNS record for {host}, or stop publishing it.")),
                FindingCode::TcpUnreachable => (Severity::Error, "Open the port in the firewall and make sure the service listens, or stop publishing it.".into()),
                _ => (Severity::Warning, "Check the server's configuration and logs.".into()),
            };
            for src in &s.published_by {
                troubled.insert(*src);
            }
            out.push(finding(
                severity,
                code,
                Some(url.clone()),
                format!("{url} (published by {by}): {e}."),
                fix,
            ));
            continue;
        }
        let ends = s
            .report
            .tls
            .as_ref()
            .and_then(|t| t.not_after.as_deref())
            .and_then(parse_rfc3339);
        if let Some(ends) = ends {
            let days = (ends - now).div_euclid(86_400);
            if (0..EXPIRING_DAYS).contains(&days) {
                out.push(finding(
                    Severity::Warning,
                    CERT_EXPIRING,
                    Some(url.clone()),
                    format!(
                        "The certificate of {host} ends on {} ({days} days from now).",
                        crate::probe::rfc3339(ends)
                    ),
                    format!("Renew the certificate of {host} now, and automate renewal."),
                ));
            }
        }
    }

    // Nothing at all.
    let published = |incoming: bool| {
        sources.iter().any(|p| {
            p.found()
                && p.servers
                    .iter()
                    .any(|s| s.protocol.is_incoming() == incoming)
        })
    };
    if !published(true) {
        out.push(finding(
            Severity::Warning,
            NO_INCOMING,
            None,
            format!("{domain} publishes no incoming mail server for clients (no autoconfig, Autodiscover or SRV record, no known provider's MX)."),
            format!("Publish an autoconfig file at https://autoconfig.{domain}/mail/config-v1.1.xml and the SRV records _imaps._tcp.{domain} and _submissions._tcp.{domain} (RFC 6186, RFC 8314)."),
        ));
    } else if !published(false) {
        out.push(finding(
            Severity::Warning,
            NO_OUTGOING,
            None,
            format!("{domain} publishes incoming servers but no outgoing (SMTP submission) server."),
            format!("Add the submission server to every source, e.g. the SRV record _submissions._tcp.{domain}."),
        ));
    }

    // Sources in good order.
    let mut good: BTreeSet<Source> = sources
        .iter()
        .filter(|p| p.found() && p.source != Source::Mx)
        .map(|p| p.source)
        .collect();
    good.retain(|s| !troubled.contains(s));
    for src in good {
        let asked: Vec<&str> = sources
            .iter()
            .filter(|p| p.source == src && p.found())
            .map(|p| p.asked.as_str())
            .collect();
        out.push(finding(
            Severity::Info,
            SOURCE_OK,
            None,
            format!("{src} is in good order ({}).", asked.join(", ")),
            "Nothing to do.".into(),
        ));
    }
    out.sort_by_key(|f| f.severity);
    out
}

/// One sentence for the operator.
pub fn verdict(domain: &str, sources: &[Published], findings: &[Finding]) -> String {
    let found: BTreeSet<String> = sources
        .iter()
        .filter(|p| p.found())
        .map(|p| p.source.to_string())
        .collect();
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .count();
    if found.is_empty() {
        return format!("{domain} publishes no settings for mail clients.");
    }
    let list = found.into_iter().collect::<Vec<_>>().join(", ");
    match (errors, warnings) {
        (0, 0) => format!("{domain} publishes its mail settings safely ({list})."),
        (0, w) => {
            format!("{domain} publishes its mail settings ({list}) with {w} warning(s) to look at.")
        }
        (e, w) => format!(
            "{domain} publishes mail settings ({list}) that can expose its users: {e} error(s), {w} warning(s)."
        ),
    }
}

fn url_of(p: &Published) -> String {
    p.asked.trim_start_matches("POST ").to_string()
}

fn names(by: &BTreeSet<Source>) -> String {
    by.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" and ")
}

fn join(hosts: &BTreeSet<String>) -> String {
    hosts.iter().cloned().collect::<Vec<_>>().join(", ")
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `YYYY-MM-DDTHH:MM:SSZ` as Unix seconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (hh, mm, ss) = (n(11..13)?, n(14..16)?, n(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{AuthMethod, Protocol, Server};

    fn server(host: &str, protocol: Protocol, port: u16, security: Security) -> Server {
        Server {
            protocol,
            host: host.into(),
            port,
            security,
            auth: vec![AuthMethod::Password],
            username: "postmaster@a.test".into(),
        }
    }

    fn found(source: Source, transport: &'static str, servers: Vec<Server>) -> Published {
        let mut p = Published::new(source, format!("{transport}://x.a.test/"), transport);
        p.result = TryResult::Found;
        p.servers = servers;
        p
    }

    #[test]
    fn dates_round_trip() {
        for t in [0i64, 951_782_400, 1_798_761_600, 4_102_444_799] {
            assert_eq!(parse_rfc3339(&crate::probe::rfc3339(t)), Some(t));
        }
        assert_eq!(parse_rfc3339("garbage"), None);
    }

    #[test]
    fn http_only_plaintext_and_disagreeing_sources_are_found() {
        let ac = found(
            Source::Autoconfig,
            "http",
            vec![
                server("imap.a.test", Protocol::Imap, 143, Security::None),
                server("smtp.a.test", Protocol::Smtp, 465, Security::Tls),
            ],
        );
        let srv = found(
            Source::Srv,
            "dns",
            vec![server(
                "mail.other.test",
                Protocol::Imap,
                993,
                Security::Tls,
            )],
        );
        let f = findings_at("a.test", &[ac, srv], &[], 0);
        let codes: Vec<FindingCode> = f.iter().map(|f| f.code).collect();
        assert!(codes.contains(&CONFIG_HTTP_ONLY), "{codes:?}");
        assert!(codes.contains(&CONFIG_PLAINTEXT_SERVER), "{codes:?}");
        assert!(codes.contains(&SOURCES_DISAGREE), "{codes:?}");
        // Autoconfig is troubled; SRV is fine.
        let ok: Vec<&Finding> = f.iter().filter(|f| f.code == SOURCE_OK).collect();
        assert_eq!(ok.len(), 1);
        assert!(ok[0].message.starts_with("srv"));
        assert_eq!(f[0].severity, Severity::Error);
    }

    #[test]
    fn nothing_published_is_said() {
        let f = findings_at("a.test", &[], &[], 0);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, NO_INCOMING);
        assert!(verdict("a.test", &[], &f).contains("no settings"));
    }
}
