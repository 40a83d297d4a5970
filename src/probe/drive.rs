//! One probe from start to end: resolve, connect, walk the states of
//! [`super::flow`] for the URL's security, and write what was learnt into a
//! [`ServerReport`]. The protocol comes in as a [`Dialect`].

use std::sync::Arc;

use tokio::net::TcpStream;

use super::conn::{Ctx, Io, Transcript};
use super::error::ProbeError;
use super::flow::{self, Capable, Connected, Dialect, Greeted};
use super::report::{LoginStatus, ServerReport};
use super::secret::{Credentials, Redactor};
use super::tls::{self, Mode, TlsIo};
use super::wire::sasl::{self, SecretKind};
use super::wire::{Capabilities, GreetingKind};
use super::{ProbeOptions, dial};
use crate::finding::FindingCode;
use crate::settings::{Security, ServerUrl};

/// Probes `url` with dialect `D`, filling `report`; the error is why it
/// stopped early.
pub(crate) async fn drive<D: Dialect>(
    url: &ServerUrl,
    opts: &ProbeOptions,
    creds: Option<&Credentials>,
    report: &mut ServerReport,
    transcript: &Transcript,
) -> Result<(), ProbeError> {
    let redactor = creds
        .map(Credentials::redactor)
        .unwrap_or_else(Redactor::none);
    let mut ctx = Ctx {
        protocol: D::NAME,
        read_timeout: opts.read_timeout,
        transcript: transcript.clone(),
        redactor: Arc::new(redactor),
        local: None,
    };
    // The resolver's own retries can take far longer than a step may: a
    // DNS server that never answers is the resolver's failure, found out
    // within the step deadline.
    let addrs = tokio::time::timeout(opts.read_timeout, dial::resolve(&url.host, opts.resolver()))
        .await
        .map_err(|_| ProbeError::DnsFailed {
            host: url.host.clone(),
            detail: format!(
                "the DNS server did not answer within {:.1} s",
                opts.read_timeout.as_secs_f64()
            ),
        })??;
    report.addresses = addrs.iter().map(|a| a.to_string()).collect();
    ctx.transcript
        .note(format!("connecting to {} port {}", url.host, url.port));
    // The slot at the host is kept until the probe ends.
    let (tcp, _slot) = dial::connect(
        &addrs,
        url.port,
        opts.read_timeout,
        &opts.guard,
        &opts.limits,
    )
    .await?;
    report.reachable = true;
    ctx.local = tcp.local_addr().ok().map(|a| a.ip());
    if let Ok(peer) = tcp.peer_addr() {
        ctx.transcript.note(format!("connected to {peer}"));
    }
    match url.security {
        Security::Tls => {
            let (secured, tls) = flow::implicit::<D>(tcp, ctx, &url.host, &opts.tls).await;
            report.tls = Some(tls);
            let greeted = secured?.greet().await?;
            report.greeting = Some(greeted.ctx().scrub(&greeted.greeting.text));
            match greeted.greeting.kind {
                GreetingKind::Refused => return Err(refused(&greeted)),
                // Already authenticated, inside TLS: nothing to log in to.
                GreetingKind::Preauth => report.preauth = true,
                GreetingKind::Ready => {}
            }
            let capable = greeted.capabilities().await?;
            finish(capable, url, creds, report).await
        }
        Security::Starttls => {
            let greeted = greet_plain::<D>(tcp, ctx, url, opts).await?;
            let capable = greeted.capabilities().await?;
            report.starttls_offered = Some(capable.caps.starttls);
            let accepted = capable.starttls().await?;
            let (secured, tls) = accepted.handshake(&url.host, &opts.tls).await;
            report.tls = Some(tls);
            // Everything learnt before TLS is gone: ask again.
            let capable = secured?.capabilities().await?;
            finish(capable, url, creds, report).await
        }
        Security::None => {
            let greeted = greet_plain::<D>(tcp, ctx, url, opts).await?;
            let capable = greeted.capabilities().await?;
            report.starttls_offered = Some(capable.caps.starttls);
            record_caps::<D>(&capable.caps, report, false);
            if creds.is_some() {
                report.login = LoginStatus::RefusedInsecure;
                capable.conn_note(
                    "a secret was given, but this connection is not encrypted: not sent",
                );
            }
            capable.quit().await;
            Ok(())
        }
    }
}

/// Reads the greeting of a plain connection. A port that stays silent may
/// be an implicit-TLS port spoken to in plain text: a second connection
/// tries a TLS handshake to tell.
async fn greet_plain<D: Dialect>(
    tcp: TcpStream,
    ctx: Ctx,
    url: &ServerUrl,
    opts: &ProbeOptions,
) -> Result<Greeted<D, TcpStream>, ProbeError> {
    let greeted = match Connected::<D>::new(tcp, ctx.clone()).greet().await {
        Err(ProbeError::Timeout { step }) => {
            return Err(sniff_tls(url, opts, &ctx)
                .await
                .unwrap_or(ProbeError::Timeout { step }));
        }
        other => other?,
    };
    match greeted.greeting.kind {
        GreetingKind::Ready => Ok(greeted),
        // PREAUTH before TLS: the session is already "logged in", so the
        // server cannot accept STARTTLS any more (RFC 9051 §6.2.1). Stop
        // without sending a byte.
        GreetingKind::Preauth => Err(ProbeError::Preauth),
        GreetingKind::Refused => Err(refused(&greeted)),
    }
}

fn refused<D, S: Io>(g: &Greeted<D, S>) -> ProbeError
where
    D: Dialect,
{
    ProbeError::Rejected {
        reply: g.ctx().scrub(&g.greeting.text),
    }
}

/// `Some(TlsPort)` when the port answers a TLS handshake.
async fn sniff_tls(url: &ServerUrl, opts: &ProbeOptions, ctx: &Ctx) -> Option<ProbeError> {
    ctx.transcript
        .note("no greeting: trying whether this port expects TLS");
    let addrs = dial::resolve(&url.host, opts.resolver()).await.ok()?;
    // The probe's own slot at the host covers this second look (waiting
    // for another slot while holding one could wait for itself).
    let unlimited = crate::net::limit::HostLimits::unlimited();
    let (tcp, _) = dial::connect(&addrs, url.port, opts.read_timeout, &opts.guard, &unlimited)
        .await
        .ok()?;
    let (r, _) = tls::handshake(tcp, &url.host, &opts.tls, ctx, Mode::Implicit).await;
    match r {
        Ok(_) => Some(ProbeError::TlsPort),
        Err(e) if e.code().is_cert_failure() || e.code() == FindingCode::TlsOutdated => {
            Some(ProbeError::TlsPort)
        }
        Err(ProbeError::Tls { .. }) => Some(ProbeError::TlsPort),
        Err(_) => None,
    }
}

fn record_caps<D: Dialect>(caps: &Capabilities, report: &mut ServerReport, protected: bool) {
    report.capabilities = caps.list.clone();
    report.capabilities_protected = protected;
    report.auth_mechanisms = caps.mechanisms.clone();
    report.password_login_offered =
        sasl::choose(caps, SecretKind::Password, D::command_login(caps)).is_some();
    report.oauth_offered = sasl::choose(caps, SecretKind::OauthToken, false).is_some();
}

/// Inside TLS: record the capabilities, log in when a secret was given,
/// say goodbye.
async fn finish<D: Dialect>(
    mut capable: Capable<D, TlsIo>,
    url: &ServerUrl,
    creds: Option<&Credentials>,
    report: &mut ServerReport,
) -> Result<(), ProbeError> {
    record_caps::<D>(&capable.caps, report, true);
    if let (Some(creds), false) = (creds, report.preauth) {
        let command = D::command_login(&capable.caps);
        match sasl::choose(&capable.caps, creds.kind(), command) {
            None => report.no_usable_mechanism = true,
            Some(m) => {
                report.login_mechanism = Some(m.name().to_string());
                let reply = capable.login(m, creds, &url.host, url.port).await?;
                report.login = if reply.ok {
                    LoginStatus::Ok
                } else {
                    LoginStatus::Failed
                };
                report.login_reply = Some(reply.text).filter(|t| !t.is_empty());
                report.referral = reply.referral;
            }
        }
    }
    capable.quit().await;
    Ok(())
}

impl<D: Dialect, S: Io> Capable<D, S> {
    fn conn_note(&self, text: &str) {
        self.ctx().transcript.note(text);
    }
}
