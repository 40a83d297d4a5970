//! The findings of a check that had only an address: a side (incoming or
//! outgoing) for which no usable server was found, and why each candidate
//! discovery probed for it was turned down; and the other submission port
//! tried when the planned one was blocked.
//!
//! Discovery's guessing probes likely host names and records, for each one
//! it rejects, the probe failure behind it ([`crate::lookup::Tried`]'s
//! `problem`). A help desk given only "bob@expired.example" needs exactly
//! those: "mail.expired.example:993 — the certificate expired" is the
//! answer, not "no settings found". Host names that do not exist are left
//! out (guessing asks for many that never existed); every other rejection
//! becomes a finding with the same fix `check` gives for a server it was
//! told to check.

use super::rules::error_finding;
use super::{Context, Finding, FindingCode, Planned, Role, ServerCheck, Severity};
use crate::lookup::{LookupError, Tried};
use crate::probe::ProbeError;
use crate::settings::{Protocol, ServerUrl, Source};

/// The findings for each side that `plan` has no server for.
pub fn missing_sides(
    ctx: &Context,
    plan: &[Planned],
    tried: &[Tried],
    lookup_error: Option<&LookupError>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut dns_failure_told = false;
    for role in [Role::Incoming, Role::Outgoing] {
        if plan.iter().any(|p| p.role == role) {
            continue;
        }
        let rejected: Vec<(ServerUrl, &ProbeError)> = tried
            .iter()
            .filter(|t| t.source == Source::Guess)
            .filter_map(|t| Some((t.url.parse::<ServerUrl>().ok()?, t.problem.as_ref()?)))
            .filter(|(u, _)| role_of(u.protocol) == role)
            .collect();
        // A refused or silent port is news only when no candidate of this
        // side got further: beside a certificate that expired on 993,
        // "nothing listens on 143" is noise.
        let got_further = rejected.iter().any(|(_, e)| e.reached());
        let mut seen = Seen::default();
        for (url, e) in &rejected {
            match e.code() {
                FindingCode::DnsNotFound => continue,
                FindingCode::TcpUnreachable if got_further => continue,
                FindingCode::DnsFailure => {
                    seen.dns_failed = true;
                    // One is enough: every name fails the same way.
                    if dns_failure_told {
                        continue;
                    }
                    dns_failure_told = true;
                }
                FindingCode::TcpUnreachable => add(&mut seen.blocked, &url.host),
                _ => add(&mut seen.answered, &url.host),
            }
            out.push(error_finding(ctx, url, e));
        }
        out.push(side_finding(ctx, role, &seen, lookup_error));
    }
    out
}

/// What the rejected candidates of one side show.
#[derive(Default)]
struct Seen {
    /// Hosts that answered, but not safely.
    answered: Vec<String>,
    /// Hosts whose ports were refused or silent.
    blocked: Vec<String>,
    /// The resolver failed.
    dns_failed: bool,
}

fn add(list: &mut Vec<String>, host: &str) {
    if !list.iter().any(|h| h == host) {
        list.push(host.to_string());
    }
}

fn role_of(p: Protocol) -> Role {
    if p.is_incoming() {
        Role::Incoming
    } else {
        Role::Outgoing
    }
}

/// The `no-incoming` / `no-outgoing` finding itself.
fn side_finding(
    ctx: &Context,
    role: Role,
    seen: &Seen,
    lookup_error: Option<&LookupError>,
) -> Finding {
    let (code, what, protocols, flag, example) = match role {
        Role::Incoming => (
            FindingCode::NoIncoming,
            "incoming",
            "IMAP or POP3",
            "--incoming",
            "imaps://imap.example.com:993",
        ),
        Role::Outgoing => (
            FindingCode::NoOutgoing,
            "outgoing",
            "SMTP",
            "--outgoing",
            "smtp://smtp.example.com:587",
        ),
    };
    let domain = ctx.email.domain_unicode();
    let (message, fix, url) = if let Some(p) = ctx.provider {
        // A built-in entry without a usable server: its own note says why.
        let note = p
            .notes
            .iter()
            .find(|n| n.code == "provider-status")
            .or_else(|| p.notes.first());
        let why = note.map(|n| format!(" {}", n.text)).unwrap_or_else(|| {
            " Its mail is not reachable from mail apps in a way mailsetup can recommend.".into()
        });
        (
            format!(
                "mailsetup knows no {what} mail server for {} that can be used safely.{why}",
                p.name
            ),
            format!(
                "Ask {} for its {protocols} server settings with SSL/TLS, then check them with {flag} (for example {flag} {example}).",
                p.name
            ),
            note.and_then(|n| n.url.clone()).or_else(|| p.help.clone()),
        )
    } else if let Some(LookupError::NotBuiltIn { .. }) = lookup_error {
        (
            format!(
                "No {what} mail server is known for {domain}: it is not in the built-in provider table, and --offline forbids asking the network."
            ),
            format!(
                "Run the check without --offline, or give the server with {flag} (for example {flag} {example})."
            ),
            None,
        )
    } else if !seen.answered.is_empty() {
        let hosts = seen.answered.join(", ");
        (
            format!(
                "No {what} mail server ({protocols}) for {domain} could be used: {hosts} answered, but not safely (see the findings for each)."
            ),
            format!(
                "Fix the problems listed for {hosts}, or ask the provider for its {protocols} server name and check it with {flag}."
            ),
            None,
        )
    } else if !seen.blocked.is_empty() {
        let hosts = seen.blocked.join(", ");
        (
            format!(
                "No {what} mail server ({protocols}) for {domain} could be reached: {hosts} exists, but none of its mail ports answered (see the findings for each)."
            ),
            "A firewall on this network may block mail ports: try another network (for example mobile data instead of Wi-Fi). If it fails there too, ask the provider for its server names and ports.".to_string(),
            None,
        )
    } else if seen.dns_failed {
        (
            format!(
                "No {what} mail server for {domain} could be looked for: DNS did not answer."
            ),
            "Check the network connection (or the --dns server) and run the check again; nothing is known yet about the domain's servers.".into(),
            None,
        )
    } else {
        (
            format!(
                "No {what} mail server ({protocols}) was found for {domain}: no configuration was published for it and none of the usual server names answered."
            ),
            format!(
                "Check the spelling of the domain {domain}; if it is right, ask the provider for its {protocols} server name and check it with {flag} (for example {flag} {example})."
            ),
            None,
        )
    };
    Finding {
        severity: Severity::Error,
        code,
        server: None,
        message,
        fix,
        url,
    }
}

/// Amends the `tcp-unreachable` finding of each server whose other
/// submission port was tried: the fix names that port and says whether
/// it works.
pub fn alternatives(servers: &[ServerCheck], findings: &mut [Finding]) {
    for alt in servers.iter().filter(|s| s.is_alternative()) {
        let Some(blocked) = alt.instead_of.as_deref() else {
            continue;
        };
        let Some(f) = findings.iter_mut().find(|f| {
            f.code == FindingCode::TcpUnreachable && f.server.as_deref() == Some(blocked)
        }) else {
            continue;
        };
        let url = &alt.report.url;
        let how = match url.port {
            465 => "SSL/TLS",
            _ => "STARTTLS",
        };
        f.fix = match &alt.report.error {
            None => format!(
                "Port {} of the same server works from here: set the outgoing server to {url} (port {}, {how}). {}",
                url.port, url.port, f.fix
            ),
            Some(e) => format!(
                "{} Port {} ({url}) was tried as well and does not work either: {e}.",
                f.fix, url.port
            ),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::EmailAddress;
    use crate::lookup::TryResult;
    use crate::provider::ProviderTable;

    fn tried(url: &str, problem: ProbeError) -> Tried {
        Tried {
            source: Source::Guess,
            url: url.into(),
            result: TryResult::Invalid,
            ms: 1,
            detail: Some(problem.to_string()),
            problem: Some(problem),
        }
    }

    fn ctx<'a>(email: &'a EmailAddress, table: Option<&'a ProviderTable>) -> Context<'a> {
        Context {
            email,
            provider: table.and_then(|t| t.by_domain(email.domain())),
            discovered: None,
            secret: None,
            offline: false,
        }
    }

    #[test]
    fn rejected_candidates_become_findings_and_missing_names_do_not() {
        let email: EmailAddress = "bob@expired.test".parse().unwrap();
        let addr = "127.0.0.1:465".parse().unwrap();
        let t = [
            tried(
                "imaps://imap.expired.test:993",
                ProbeError::DnsNotFound {
                    host: "imap.expired.test".into(),
                },
            ),
            tried(
                "imaps://mail.expired.test:993",
                ProbeError::CertExpired {
                    detail: "expired on 2021-01-01".into(),
                },
            ),
            tried(
                "smtps://mail.expired.test:465",
                ProbeError::Refused { addr },
            ),
        ];
        let f = missing_sides(&ctx(&email, None), &[], &t, None);
        let codes: Vec<&str> = f.iter().map(|f| f.code.as_str()).collect();
        assert_eq!(
            codes,
            [
                "cert-expired",
                "no-incoming",
                "tcp-unreachable",
                "no-outgoing"
            ]
        );
        assert!(f.iter().all(|f| f.severity == Severity::Error));
        assert_eq!(
            f[0].server.as_deref(),
            Some("imaps://mail.expired.test:993")
        );
        assert!(f[0].fix.contains("renew"), "{}", f[0].fix);
        assert!(
            f[1].message.contains("mail.expired.test"),
            "{}",
            f[1].message
        );
        assert!(!f[1].fix.contains("spelling"), "{}", f[1].fix);
    }

    #[test]
    fn a_planned_side_is_not_missing_and_nothing_found_suggests_the_spelling() {
        let email: EmailAddress = "bob@nothing.test".parse().unwrap();
        let t = [tried(
            "imaps://imap.nothing.test:993",
            ProbeError::DnsNotFound {
                host: "imap.nothing.test".into(),
            },
        )];
        let f = missing_sides(&ctx(&email, None), &[], &t, None);
        assert_eq!(f.len(), 2);
        assert!(f[0].fix.contains("spelling of the domain nothing.test"));
        let incoming = Planned {
            role: Role::Incoming,
            url: "imaps://imap.nothing.test".parse().unwrap(),
            username: "bob".into(),
            auth: vec![],
            given: false,
        };
        let f = missing_sides(&ctx(&email, None), &[incoming], &t, None);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, FindingCode::NoOutgoing);
    }

    #[test]
    fn a_resolver_failure_is_told_once_and_never_blamed_on_the_name() {
        let email: EmailAddress = "bob@dnsdown.test".parse().unwrap();
        let fail = |h: &str| ProbeError::DnsFailed {
            host: h.into(),
            detail: "REFUSED".into(),
        };
        let t = [
            tried("imaps://imap.dnsdown.test:993", fail("imap.dnsdown.test")),
            tried("imaps://mail.dnsdown.test:993", fail("mail.dnsdown.test")),
            tried("smtps://smtp.dnsdown.test:465", fail("smtp.dnsdown.test")),
        ];
        let f = missing_sides(&ctx(&email, None), &[], &t, None);
        let codes: Vec<&str> = f.iter().map(|f| f.code.as_str()).collect();
        assert_eq!(codes, ["dns-failure", "no-incoming", "no-outgoing"]);
        for x in &f {
            assert!(!x.fix.contains("spelling"), "{}", x.fix);
            assert!(!x.fix.contains("typo"), "{}", x.fix);
        }
    }

    #[test]
    fn a_builtin_entry_without_servers_gives_its_own_reason() {
        let table = ProviderTable::parse(
            r#"
[[provider]]
id = "plain.test"
name = "Plain Mail"
status = "broken"
domains = ["plain.test"]
incoming = []
outgoing = []
notes = [{ code = "provider-status", text = "The only settings known use no encryption." }]
"#,
        )
        .unwrap();
        let email: EmailAddress = "bob@plain.test".parse().unwrap();
        let f = missing_sides(&ctx(&email, Some(&table)), &[], &[], None);
        assert_eq!(f.len(), 2);
        assert!(f[0].message.contains("Plain Mail"), "{}", f[0].message);
        assert!(
            f[0].message
                .contains("The only settings known use no encryption."),
            "{}",
            f[0].message
        );
        assert!(!f[0].fix.contains("spelling"));
    }
}
