//! Source 6: guessing host names, checked by probing them.
//!
//! Candidates are `imap.`, `mail.` (IMAP), `pop3.`, `pop.`, `mail.` (POP3)
//! and `smtp.`, `mail.` (submission) under the address's domain, then under
//! the registrable domain of its MX host — never any other host (security
//! rule 6). Implicit TLS is tried before STARTTLS on the standard ports
//! (rule 7). All candidates are probed at once; for each protocol the first
//! candidate in that order that answers wins, and probing stops as soon as
//! every protocol has its winner.
//!
//! Each candidate is examined by [`crate::probe::probe`], the probe `check`
//! uses: connect, TLS (the handshake on an implicit-TLS port, STARTTLS on
//! the others), the greeting and the capabilities — never a login. A
//! candidate answers when the probe went through; the answer is `verified`
//! when every chosen server's certificate is valid for its name, STARTTLS
//! servers included. A candidate whose TLS fails (a certificate that does
//! not validate, no STARTTLS, PREAUTH before TLS, bytes injected after
//! STARTTLS, TLS spoken to a plain port) is recorded `invalid` and never
//! recommended.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use tokio::time::timeout_at;

use super::domain::registrable;
use super::trail::TryResult;
use super::{Ctx, Found, Rank};
use crate::finding::FindingCode;
use crate::probe::{ProbeError, ServerReport, probe};
use crate::settings::{AuthMethod, Protocol, Security, Server, ServerUrl, Settings, Source, Trust};

/// No single probe takes longer than this, whatever the overall deadline.
pub const PROBE_LIMIT: Duration = Duration::from_secs(8);

/// The protocols a guess looks for.
const PROTOCOLS: [Protocol; 3] = [Protocol::Imap, Protocol::Pop3, Protocol::Smtp];

/// The longest detail recorded for one candidate.
const MAX_DETAIL: usize = 240;

/// The candidates under `domain`, best first within each protocol.
pub fn candidates(domain: &str) -> Vec<ServerUrl> {
    let plan: [(Protocol, Security, &[&str]); 6] = [
        (Protocol::Imap, Security::Tls, &["imap", "mail"]),
        (Protocol::Imap, Security::Starttls, &["imap", "mail"]),
        (Protocol::Pop3, Security::Tls, &["pop3", "pop", "mail"]),
        (Protocol::Pop3, Security::Starttls, &["pop3", "pop", "mail"]),
        (Protocol::Smtp, Security::Tls, &["smtp", "mail"]),
        (Protocol::Smtp, Security::Starttls, &["smtp", "mail"]),
    ];
    let mut out = Vec::new();
    for (protocol, security, hosts) in plan {
        for h in hosts {
            let port = protocol.default_port(security);
            if let Ok(u) = ServerUrl::new(protocol, &format!("{h}.{domain}"), port, security) {
                out.push(u);
            }
        }
    }
    out
}

/// What the probe of an answering candidate saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probed {
    /// The certificate was validated for the host name.
    pub verified: bool,
}

/// A candidate's state: `None` while its probe runs, then `Some(None)` when
/// it did not answer usably, `Some(Some(_))` when it did.
type Outcome = Option<Option<Probed>>;

/// Runs the source.
pub async fn run(ctx: Arc<Ctx>) -> Option<Found> {
    let mut cands: Vec<ServerUrl> = candidates(&ctx.domain);
    let mut results: Vec<Outcome> = vec![None; cands.len()];
    let mut probes: FuturesUnordered<BoxFuture<'_, (usize, Option<Probed>)>> =
        FuturesUnordered::new();
    for (i, c) in cands.iter().enumerate() {
        probes.push(Box::pin(logged_probe(&ctx, i, c.clone())));
    }
    let mut mx_pending = true;
    let mut mx_domain = Box::pin(mx_domain(&ctx));
    while !settled(&cands, &results, mx_pending) {
        tokio::select! {
            d = &mut mx_domain, if mx_pending => {
                mx_pending = false;
                if let Some(d) = d {
                    for c in candidates(&d) {
                        let i = cands.len();
                        cands.push(c.clone());
                        results.push(None);
                        probes.push(Box::pin(logged_probe(&ctx, i, c)));
                    }
                }
            }
            Some((i, r)) = probes.next() => results[i] = Some(r),
            else => break,
        }
    }
    drop(probes);
    assemble(&ctx, &cands, &results)
}

/// The registrable domain of the best MX host, if it is another domain.
async fn mx_domain(ctx: &Ctx) -> Option<String> {
    let mx = ctx.mx().await.as_ref().ok()?;
    let host = mx.iter().find(|m| !m.host.is_empty())?;
    registrable(&host.host).filter(|d| *d != ctx.domain)
}

/// Every protocol has its best answer: a found candidate with every better
/// one finished, or all finished (and no MX candidates still to come).
fn settled(cands: &[ServerUrl], results: &[Outcome], mx_pending: bool) -> bool {
    PROTOCOLS.iter().all(|&p| {
        for (_, r) in cands.iter().zip(results).filter(|(c, _)| c.protocol == p) {
            match r {
                None => return false,
                Some(Some(_)) => return true,
                Some(None) => {}
            }
        }
        !mx_pending
    })
}

fn assemble(ctx: &Ctx, cands: &[ServerUrl], results: &[Outcome]) -> Option<Found> {
    let mut servers = Vec::new();
    let mut verified = true;
    for p in PROTOCOLS {
        let best = cands
            .iter()
            .zip(results)
            .filter(|(c, _)| c.protocol == p)
            .find_map(|(c, r)| r.flatten().map(|probed| (c, probed)));
        if let Some((c, probed)) = best {
            verified &= probed.verified;
            servers.push(Server {
                protocol: c.protocol,
                host: c.host.clone(),
                port: c.port,
                security: c.security,
                auth: vec![AuthMethod::Password],
                username: ctx.email.login_address(),
            });
        }
    }
    if servers.is_empty() {
        return None;
    }
    let (incoming, outgoing) = servers.into_iter().partition(|s| s.protocol.is_incoming());
    let mut settings = Settings {
        provider: None,
        incoming,
        outgoing,
        source: Source::Guess,
        trust: if verified {
            Trust::Verified
        } else {
            Trust::Unverified
        },
        notes: Vec::new(),
    };
    settings.sort_servers();
    Some(Found {
        rank: Rank::Guess,
        settings,
    })
}

async fn logged_probe(ctx: &Ctx, i: usize, url: ServerUrl) -> (usize, Option<Probed>) {
    let attempt = ctx.trail.start(Source::Guess, url.to_string());
    let (result, detail, probed, problem) =
        match timeout_at(ctx.deadline, probe(&url, &ctx.probe)).await {
            Ok(report) => {
                let (result, detail, probed) = judge(&report);
                (result, detail, probed, report.error)
            }
            Err(_) => (
                TryResult::Timeout,
                "no answer before the overall deadline".to_string(),
                None,
                Some(ProbeError::Timeout {
                    step: "the overall deadline",
                }),
            ),
        };
    attempt.finish_probe(result, Some(detail), problem);
    (i, probed)
}

/// How a probe's report counts for guessing: the `tried` result, a short
/// reason, and what was seen when the candidate answered.
pub fn judge(report: &ServerReport) -> (TryResult, String, Option<Probed>) {
    let Some(e) = &report.error else {
        let verified = report.cert_valid();
        let how = match (report.url.security, verified) {
            (Security::Starttls, true) => "STARTTLS, certificate valid",
            (_, true) => "TLS, certificate valid",
            (_, false) => "answered, certificate not checked",
        };
        let caps = report.capabilities.join(" ");
        let detail = format!("{how}; capabilities: {caps}");
        return (TryResult::Found, short(detail), Some(Probed { verified }));
    };
    (result_of(e), short(e.to_string()), None)
}

/// The `tried` result of a probe that stopped early.
fn result_of(e: &ProbeError) -> TryResult {
    match e {
        ProbeError::NotDialled(r) if r.is_budget() => TryResult::Cancelled,
        ProbeError::NotDialled(_) => TryResult::RefusedInsecure,
        ProbeError::Timeout { .. } | ProbeError::ConnectTimedOut { .. } => TryResult::Timeout,
        _ => match e.code() {
            // A resolver that failed (not "no such name") says nothing
            // about the host.
            FindingCode::DnsFailure => TryResult::Error,
            FindingCode::DnsNotFound | FindingCode::TcpUnreachable => TryResult::NotFound,
            // The server answered but its TLS cannot be trusted: disqualified.
            FindingCode::TlsMismatch
            | FindingCode::TlsOutdated
            | FindingCode::StarttlsMissing
            | FindingCode::StarttlsInjection
            | FindingCode::Preauth
            | FindingCode::CertUntrusted
            | FindingCode::CertExpired
            | FindingCode::CertNameMismatch => TryResult::Invalid,
            FindingCode::ServerError
            | FindingCode::CertExpiring
            | FindingCode::PlaintextAuth
            | FindingCode::AuthFailed
            | FindingCode::AuthUnsupported
            | FindingCode::Port25Submission
            | FindingCode::SettingsDiffer
            | FindingCode::OauthRequired
            | FindingCode::NoIncoming
            | FindingCode::NoOutgoing
            | FindingCode::ConfigHttpOnly
            | FindingCode::ConfigPlaintextServer
            | FindingCode::SrvOffDomain
            | FindingCode::SourcesDisagree
            | FindingCode::AutodiscoverHttpAuth
            | FindingCode::ConfigInvalid
            | FindingCode::SourceOk => TryResult::Error,
        },
    }
}

/// `text` cut to [`MAX_DETAIL`] characters.
fn short(text: String) -> String {
    match text.char_indices().nth(MAX_DETAIL) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_stay_under_the_domain_and_put_tls_first() {
        let c = candidates("example.test");
        assert!(c.iter().all(|u| u.host.ends_with(".example.test")));
        let imap: Vec<String> = c
            .iter()
            .filter(|u| u.protocol == Protocol::Imap)
            .map(|u| u.to_string())
            .collect();
        assert_eq!(
            imap,
            [
                "imaps://imap.example.test:993",
                "imaps://mail.example.test:993",
                "imap://imap.example.test:143",
                "imap://mail.example.test:143"
            ]
        );
        assert_eq!(c.len(), 14);
    }

    fn report(url: &str, error: Option<ProbeError>, cert_valid: Option<bool>) -> ServerReport {
        let mut r = ServerReport::new(url.parse().unwrap());
        r.tls = cert_valid.map(|v| crate::probe::TlsReport {
            cert_valid: v,
            ..Default::default()
        });
        r.capabilities = vec!["IMAP4rev1".into(), "AUTH=PLAIN".into()];
        r.error = error;
        r
    }

    #[test]
    fn a_clean_probe_is_found_and_verified_only_with_a_valid_certificate() {
        let (res, detail, p) = judge(&report("imap://imap.x.test:143", None, Some(true)));
        assert_eq!(res, TryResult::Found);
        assert_eq!(p, Some(Probed { verified: true }));
        assert!(
            detail.starts_with("STARTTLS, certificate valid"),
            "{detail}"
        );
        assert!(detail.contains("AUTH=PLAIN"), "{detail}");
        let (res, _, p) = judge(&report("imaps://imap.x.test:993", None, None));
        assert_eq!(res, TryResult::Found);
        assert_eq!(p, Some(Probed { verified: false }));
    }

    #[test]
    fn failed_tls_disqualifies_and_every_failure_has_its_result() {
        let addr: std::net::SocketAddr = "127.0.0.1:993".parse().unwrap();
        let cases = [
            (
                ProbeError::DnsNotFound { host: "h".into() },
                TryResult::NotFound,
            ),
            (
                ProbeError::DnsFailed {
                    host: "h".into(),
                    detail: "SERVFAIL".into(),
                },
                TryResult::Error,
            ),
            (ProbeError::Refused { addr }, TryResult::NotFound),
            (
                ProbeError::Unreachable {
                    addr,
                    detail: "no route".into(),
                },
                TryResult::NotFound,
            ),
            (ProbeError::ConnectTimedOut { addr }, TryResult::Timeout),
            (ProbeError::Timeout { step: "greeting" }, TryResult::Timeout),
            (
                ProbeError::CertUntrusted {
                    detail: "unknown issuer".into(),
                },
                TryResult::Invalid,
            ),
            (
                ProbeError::CertExpired {
                    detail: "expired".into(),
                },
                TryResult::Invalid,
            ),
            (
                ProbeError::CertNameMismatch {
                    host: "imap.x.test".into(),
                    names: vec!["evil.test".into()],
                },
                TryResult::Invalid,
            ),
            (ProbeError::TlsPort, TryResult::Invalid),
            (
                ProbeError::StarttlsNotOffered {
                    command: "STARTTLS",
                },
                TryResult::Invalid,
            ),
            (
                ProbeError::StarttlsInjection { bytes: 5 },
                TryResult::Invalid,
            ),
            (ProbeError::Preauth, TryResult::Invalid),
            (
                ProbeError::TlsOutdated {
                    detail: "TLS 1.0".into(),
                },
                TryResult::Invalid,
            ),
            (
                ProbeError::Protocol {
                    protocol: "IMAP",
                    detail: "garbage".into(),
                },
                TryResult::Error,
            ),
            (ProbeError::Closed { step: "greeting" }, TryResult::Error),
            (
                ProbeError::NotDialled(crate::net::policy::Refusal::NotPublic(addr.ip())),
                TryResult::RefusedInsecure,
            ),
            (
                ProbeError::NotDialled(crate::net::policy::Refusal::Port(22)),
                TryResult::RefusedInsecure,
            ),
            (
                ProbeError::NotDialled(crate::net::policy::Refusal::Connections),
                TryResult::Cancelled,
            ),
        ];
        for (e, want) in cases {
            let message = e.to_string();
            // Even a certificate the probe saw as valid does not save a
            // candidate whose probe failed.
            let (res, detail, p) = judge(&report("imap://imap.x.test:143", Some(e), Some(true)));
            assert_eq!(res, want, "{message}");
            assert_eq!(p, None, "{message}");
            assert!(
                message.starts_with(detail.trim_end_matches('…')),
                "{detail}"
            );
        }
    }

    #[test]
    fn details_are_cut_short() {
        let e = ProbeError::CertNameMismatch {
            host: "imap.x.test".into(),
            names: (0..100).map(|i| format!("name{i}.évil.test")).collect(),
        };
        let (_, detail, _) = judge(&report("imaps://imap.x.test:993", Some(e), Some(false)));
        assert_eq!(detail.chars().count(), MAX_DETAIL + 1);
        assert!(detail.ends_with('…'));
    }

    #[test]
    fn a_protocol_is_settled_by_its_first_answer_in_candidate_order() {
        let cands = candidates("x.test");
        let found = Some(Some(Probed { verified: true }));
        let failed = Some(None);
        let idx = |u: &str| cands.iter().position(|c| c.to_string() == u).unwrap();
        let all = |o: Outcome| vec![o; cands.len()];

        // Everything finished without an answer: settled once MX is known.
        assert!(!settled(&cands, &all(failed), true));
        assert!(settled(&cands, &all(failed), false));
        // Nothing finished yet.
        assert!(!settled(&cands, &all(None), false));

        // The best IMAP candidate answered: IMAP waits for nothing else, but
        // POP3 and SMTP still run.
        let mut r = all(None);
        r[idx("imaps://imap.x.test:993")] = found;
        assert!(!settled(&cands, &r, true));
        for (i, c) in cands.iter().enumerate() {
            if c.protocol != Protocol::Imap {
                r[i] = failed;
            }
        }
        // POP3 and SMTP failed here, but the MX host's domain may still
        // answer them.
        assert!(!settled(&cands, &r, true));
        assert!(settled(&cands, &r, false));
        // Answers for every protocol need no MX.
        let mut r = all(None);
        for u in [
            "imaps://imap.x.test:993",
            "pop3s://pop3.x.test:995",
            "smtps://smtp.x.test:465",
        ] {
            r[idx(u)] = found;
        }
        assert!(settled(&cands, &r, true));

        // A later candidate answered while a better one still runs: wait.
        let mut r = all(failed);
        r[idx("imaps://imap.x.test:993")] = None;
        r[idx("imap://imap.x.test:143")] = found;
        assert!(!settled(&cands, &r, false));
        r[idx("imaps://imap.x.test:993")] = failed;
        assert!(settled(&cands, &r, false));
    }
}
