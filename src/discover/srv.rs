//! Source 5: SRV records for mail clients (RFC 6186, with RFC 8314's
//! implicit-TLS services).
//!
//! Six names are asked at once: `_imaps._tcp`, `_imap._tcp`, `_pop3s._tcp`,
//! `_pop3._tcp`, `_submissions._tcp` and `_submission._tcp` under the
//! domain. Records are taken by priority, then weight; a target of `.`
//! means the service is deliberately not offered.
//!
//! Trust (security rule 5): targets inside the address's domain are taken
//! as the domain's word. A target outside it is `verified` only when every
//! record used was DNSSEC-validated; otherwise the answer is `unverified`
//! until a probe's certificate confirms the host. DNSSEC-validated answers
//! rank above Autodiscover, others below the MX match (see the ranking in
//! [`super`]).

use std::sync::Arc;

use super::domain::within;
use super::trail::TryResult;
use super::{Ctx, Found, Rank, dns_result};
use crate::net::dns::SrvAnswer;
use crate::settings::{AuthMethod, Protocol, Security, Server, ServerUrl, Settings, Source, Trust};

/// The services asked, with what each means.
pub const SERVICES: [(&str, Protocol, Security); 6] = [
    ("_imaps._tcp", Protocol::Imap, Security::Tls),
    ("_imap._tcp", Protocol::Imap, Security::Starttls),
    ("_pop3s._tcp", Protocol::Pop3, Security::Tls),
    ("_pop3._tcp", Protocol::Pop3, Security::Starttls),
    ("_submissions._tcp", Protocol::Smtp, Security::Tls),
    ("_submission._tcp", Protocol::Smtp, Security::Starttls),
];

/// At most this many targets are kept per service.
const MAX_PER_SERVICE: usize = 3;

/// Runs the source.
pub async fn run(ctx: Arc<Ctx>) -> Option<Found> {
    let asks = SERVICES.map(|(svc, p, s)| {
        let ctx = ctx.clone();
        async move { (p, s, ask(&ctx, svc).await) }
    });
    let answers = futures::future::join_all(asks).await;
    let mut servers = Vec::new();
    let mut validated = true;
    let mut off_domain = false;
    for (protocol, security, answer) in answers {
        let Some(answer) = answer else { continue };
        let before = servers.len();
        for r in answer
            .records
            .iter()
            .filter(|r| !r.target.is_empty() && r.port != 0)
        {
            let Ok(url) = ServerUrl::new(protocol, &r.target, r.port, security) else {
                continue;
            };
            off_domain |= !within(&url.host, &ctx.domain);
            servers.push(Server {
                protocol,
                host: url.host,
                port: r.port,
                security,
                auth: vec![AuthMethod::Password],
                username: ctx.email.login_address(),
            });
            if servers.len() - before == MAX_PER_SERVICE {
                break;
            }
        }
        if servers.len() > before {
            validated &= answer.validated;
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
        source: Source::Srv,
        trust: if validated || !off_domain {
            Trust::Verified
        } else {
            Trust::Unverified
        },
        notes: Vec::new(),
    };
    settings.sort_servers();
    Some(Found {
        rank: if validated {
            Rank::SrvDnssec
        } else {
            Rank::Srv
        },
        settings,
    })
}

/// Asks one SRV name, recording the attempt. `None` when nothing usable.
async fn ask(ctx: &Ctx, service: &str) -> Option<SrvAnswer> {
    let name = format!("{service}.{}", ctx.domain);
    let attempt = ctx.trail.start(Source::Srv, format!("SRV {name}"));
    match ctx.dns.srv(&name).await {
        Ok(a) if a.records.iter().all(|r| r.target.is_empty()) => {
            attempt.finish(
                TryResult::NotFound,
                Some("not offered (target \".\")".into()),
            );
            None
        }
        Ok(a) => {
            let targets: Vec<String> = a
                .records
                .iter()
                .filter(|r| !r.target.is_empty())
                .map(|r| format!("{}:{}", r.target, r.port))
                .collect();
            let mut detail = targets.join(", ");
            detail.push_str(if a.validated {
                " (DNSSEC-validated)"
            } else {
                " (not DNSSEC-validated)"
            });
            attempt.finish(TryResult::Found, Some(detail));
            Some(a)
        }
        Err(e) => {
            attempt.finish(dns_result(&e), Some(e.to_string()));
            None
        }
    }
}
