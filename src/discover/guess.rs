//! Source 6: guessing host names, checked by connecting.
//!
//! Candidates are `imap.`, `mail.` (IMAP), `pop3.`, `pop.`, `mail.` (POP3)
//! and `smtp.`, `mail.` (submission) under the address's domain, then under
//! the registrable domain of its MX host — never any other host (security
//! rule 6). Implicit TLS is tried before STARTTLS on the standard ports
//! (rule 7). All candidates are probed at once; for each protocol the first
//! candidate in that order that answers wins, and probing stops as soon as
//! every protocol has its winner.
//!
//! A probe connects, does the TLS handshake (implicit TLS) and reads the
//! greeting — never a login, never a command. An implicit-TLS server whose
//! certificate is valid for the name is `verified`; a STARTTLS server, whose
//! certificate this minimal check does not see, leaves the answer
//! `unverified`. A certificate that fails validation disqualifies the
//! candidate.
//!
//! The probe is hand-written because it reads one greeting line: an IMAP,
//! POP3 or SMTP client crate would add a dependency for three string
//! prefixes. The full protocol probes (`check`) can replace it.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use rustls::pki_types::ServerName;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use super::domain::registrable;
use super::{Ctx, Found, Rank};
use crate::lookup::TryResult;
use crate::net::dns::{Dns, DnsError};
use crate::settings::{AuthMethod, Protocol, Security, Server, ServerUrl, Settings, Source, Trust};

/// No single probe takes longer than this, whatever the overall deadline.
const PROBE_LIMIT: Duration = Duration::from_secs(8);
/// The longest greeting read.
const MAX_GREETING: usize = 1024;

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

/// What a probe saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probed {
    /// The certificate was validated for the host name.
    pub verified: bool,
    /// The greeting line.
    pub greeting: String,
}

/// Runs the source.
pub async fn run(ctx: Arc<Ctx>) -> Option<Found> {
    let mut cands: Vec<ServerUrl> = candidates(&ctx.domain);
    let mut results: Vec<Option<Option<Probed>>> = vec![None; cands.len()];
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
fn settled(cands: &[ServerUrl], results: &[Option<Option<Probed>>], mx_pending: bool) -> bool {
    [Protocol::Imap, Protocol::Pop3, Protocol::Smtp]
        .iter()
        .all(|&p| {
            for (c, r) in cands.iter().zip(results).filter(|(c, _)| c.protocol == p) {
                match r {
                    None => return false,
                    Some(Some(_)) => return true,
                    Some(None) => {}
                }
                let _ = c;
            }
            !mx_pending
        })
}

fn assemble(ctx: &Ctx, cands: &[ServerUrl], results: &[Option<Option<Probed>>]) -> Option<Found> {
    let mut servers = Vec::new();
    let mut verified = true;
    for p in [Protocol::Imap, Protocol::Pop3, Protocol::Smtp] {
        let best = cands
            .iter()
            .zip(results)
            .filter(|(c, _)| c.protocol == p)
            .find_map(|(c, r)| r.clone().flatten().map(|probed| (c, probed)));
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
    let attempt = ctx.log.start(Source::Guess, url.to_string());
    let deadline = ctx.deadline.min(Instant::now() + PROBE_LIMIT);
    match probe(&ctx.dns, &ctx.tls, &url, deadline).await {
        Ok(p) => {
            let how = if p.verified {
                "certificate valid"
            } else {
                "greeting only, certificate not checked"
            };
            attempt.finish(TryResult::Found, Some(format!("{how}: {:.80}", p.greeting)));
            (i, Some(p))
        }
        Err((result, why)) => {
            attempt.finish(result, Some(why));
            (i, None)
        }
    }
}

/// Connects to `url`, does the TLS handshake for implicit TLS, and reads the
/// greeting. Never sends anything but the TLS handshake.
pub async fn probe(
    dns: &Dns,
    tls: &Arc<rustls::ClientConfig>,
    url: &ServerUrl,
    deadline: Instant,
) -> Result<Probed, (TryResult, String)> {
    let timeout = || (TryResult::Timeout, "no answer in time".to_string());
    let ips = match timeout_at(deadline, dns.ips(&url.host)).await {
        Err(_) => return Err(timeout()),
        Ok(Err(DnsError::NotFound)) => return Err((TryResult::NotFound, "no such host".into())),
        Ok(Err(e)) => return Err((TryResult::Error, e.to_string())),
        Ok(Ok(ips)) => ips,
    };
    let addr = std::net::SocketAddr::new(ips[0], url.port);
    let tcp = match timeout_at(deadline, TcpStream::connect(addr)).await {
        Err(_) => return Err(timeout()),
        Ok(Err(e)) => return Err((TryResult::NotFound, format!("{addr}: {e}"))),
        Ok(Ok(s)) => s,
    };
    if url.security != Security::Tls {
        let greeting = read_greeting(tcp, deadline).await?;
        return check_greeting(url.protocol, greeting, false);
    }
    let name = ServerName::try_from(url.host.clone()).map_err(|_| {
        (
            TryResult::Invalid,
            "not a valid TLS server name".to_string(),
        )
    })?;
    let connector = tokio_rustls::TlsConnector::from(tls.clone());
    let stream = match timeout_at(deadline, connector.connect(name, tcp)).await {
        Err(_) => return Err(timeout()),
        Ok(Err(e)) => return Err((TryResult::Error, format!("TLS handshake failed: {e}"))),
        Ok(Ok(s)) => s,
    };
    let greeting = read_greeting(stream, deadline).await?;
    check_greeting(url.protocol, greeting, true)
}

/// Reads one line (at most [`MAX_GREETING`] bytes).
async fn read_greeting<S: tokio::io::AsyncRead + Unpin>(
    mut s: S,
    deadline: Instant,
) -> Result<String, (TryResult, String)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 256];
    while !buf.contains(&b'\n') && buf.len() < MAX_GREETING {
        let n = match timeout_at(deadline, s.read(&mut chunk)).await {
            Err(_) => return Err((TryResult::Timeout, "no greeting in time".into())),
            Ok(Err(e)) => return Err((TryResult::Error, format!("reading the greeting: {e}"))),
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = buf.split(|&b| b == b'\n').next().unwrap_or_default();
    Ok(String::from_utf8_lossy(line).trim().to_string())
}

fn check_greeting(
    protocol: Protocol,
    greeting: String,
    verified: bool,
) -> Result<Probed, (TryResult, String)> {
    let ok = match protocol {
        Protocol::Imap => greeting.starts_with("* OK") || greeting.starts_with("* PREAUTH"),
        Protocol::Pop3 => greeting.starts_with("+OK"),
        Protocol::Smtp => greeting.starts_with("220"),
    };
    if ok {
        Ok(Probed { verified, greeting })
    } else {
        Err((
            TryResult::Invalid,
            format!("not a {} greeting: {greeting:.80}", protocol.label()),
        ))
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

    #[test]
    fn greetings_must_match_the_protocol() {
        assert!(check_greeting(Protocol::Imap, "* OK ready".into(), true).is_ok());
        assert!(check_greeting(Protocol::Pop3, "+OK POP3".into(), false).is_ok());
        assert!(check_greeting(Protocol::Smtp, "220 mx ESMTP".into(), false).is_ok());
        for (p, g) in [
            (Protocol::Imap, "+OK"),
            (Protocol::Pop3, "* OK"),
            (Protocol::Smtp, "HTTP/1.1 400 Bad Request"),
            (Protocol::Imap, ""),
        ] {
            let e = check_greeting(p, g.into(), false).unwrap_err();
            assert_eq!(e.0, TryResult::Invalid, "{g}");
        }
    }

    #[tokio::test]
    async fn greeting_reads_stop_at_the_size_limit() {
        let (mut a, b) = tokio::io::duplex(64 * 1024);
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let _ = a.write_all(&vec![b'x'; 50_000]).await;
        });
        let line = read_greeting(b, Instant::now() + Duration::from_secs(5))
            .await
            .unwrap();
        assert!(line.len() < MAX_GREETING + 256, "{}", line.len());
    }
}
