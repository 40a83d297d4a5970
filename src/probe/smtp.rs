//! The SMTP submission side of a probe: EHLO, STARTTLS, and a login with
//! AUTH (RFC 4954: PLAIN, LOGIN, XOAUTH2, OAUTHBEARER). No mail is ever
//! sent. Parsing is in [`super::wire::smtp`].

use super::conn::{Io, LineConn};
use super::error::ProbeError;
use super::flow::{Dialect, LoginReply};
use super::secret::Credentials;
use super::tls::TlsIo;
use super::wire::sasl::{self, Mechanism};
use super::wire::smtp::{self, Reply, ReplyBuilder};
use super::wire::{Capabilities, Greeting, GreetingKind, MAX_REPLY_LINES, WireError};

/// SMTP submission (RFC 6409).
pub(crate) struct Smtp;

async fn read_reply<S: Io>(c: &mut LineConn<S>, step: &'static str) -> Result<Reply, ProbeError> {
    let mut b = ReplyBuilder::default();
    for _ in 0..=MAX_REPLY_LINES {
        let line = c.read_line(step).await?;
        if let Some(r) = b.push(&line).map_err(|e| c.ctx.wire(e))? {
            return Ok(r);
        }
    }
    Err(c.ctx.wire(WireError::TooLong))
}

/// The client's name for EHLO: its own address as a literal (RFC 5321
/// §4.1.3), which is true and reveals nothing the server does not see.
fn ehlo_name<S: Io>(c: &LineConn<S>) -> String {
    match c.ctx.local {
        Some(std::net::IpAddr::V4(ip)) => format!("[{ip}]"),
        Some(std::net::IpAddr::V6(ip)) => format!("[IPv6:{ip}]"),
        None => "[127.0.0.1]".to_string(),
    }
}

impl Dialect for Smtp {
    const NAME: &'static str = "SMTP";
    const STARTTLS: &'static str = "STARTTLS";

    async fn greeting<S: Io>(c: &mut LineConn<S>) -> Result<Greeting, ProbeError> {
        let r = read_reply(c, "greeting").await?;
        let kind = match r.code {
            220 => GreetingKind::Ready,
            // 554 (RFC 5321 §3.1) and 421: no service for this client.
            421 | 554 => GreetingKind::Refused,
            _ => {
                return Err(c
                    .ctx
                    .wire(WireError::unexpected(&format!("{} {}", r.code, r.text()))));
            }
        };
        Ok(Greeting {
            kind,
            text: r.text(),
        })
    }

    async fn capabilities<S: Io>(c: &mut LineConn<S>) -> Result<Capabilities, ProbeError> {
        c.send(&format!("EHLO {}", ehlo_name(c)), "EHLO").await?;
        let r = read_reply(c, "EHLO").await?;
        if !r.is_positive() {
            return Err(ProbeError::Protocol {
                protocol: "SMTP",
                detail: format!("EHLO was refused: {} {}", r.code, c.ctx.scrub(&r.text())),
            });
        }
        Ok(smtp::capabilities(&r))
    }

    async fn starttls<S: Io>(c: &mut LineConn<S>) -> Result<(), ProbeError> {
        c.send("STARTTLS", "STARTTLS").await?;
        let r = read_reply(c, "STARTTLS").await?;
        if r.code == 220 {
            Ok(())
        } else {
            Err(ProbeError::StarttlsRefused {
                command: "STARTTLS",
                reply: c.ctx.scrub(&format!("{} {}", r.code, r.text())),
            })
        }
    }

    fn command_login(_caps: &Capabilities) -> bool {
        false
    }

    async fn login(
        c: &mut LineConn<TlsIo>,
        _caps: &Capabilities,
        mechanism: Mechanism,
        creds: &Credentials,
        host: &str,
        port: u16,
    ) -> Result<LoginReply, ProbeError> {
        let messages = sasl::messages(mechanism, creds.username(), creds.expose(), host, port);
        let mut pending = c.start_auth(mechanism, &messages).await?;
        for _ in 0..8 {
            let r = read_reply(c, "AUTH").await?;
            if r.code == 334 {
                match pending.next() {
                    Some(m) => c.send_sasl("", m, "AUTH").await?,
                    None => {
                        if let Some(detail) = sasl::decode_challenge(&r.text()) {
                            c.ctx
                                .transcript
                                .note(format!("server's error: {}", c.ctx.scrub(&detail)));
                        }
                        c.send("", "AUTH").await?
                    }
                }
                continue;
            }
            return Ok(LoginReply {
                ok: r.code == 235,
                text: c.ctx.scrub(&format!("{} {}", r.code, r.text())),
                referral: None,
            });
        }
        Err(c.ctx.wire(WireError::TooLong))
    }

    async fn quit<S: Io>(c: &mut LineConn<S>) {
        if c.send("QUIT", "QUIT").await.is_ok() {
            let _ = read_reply(c, "QUIT").await;
        }
    }
}
