//! The POP3 side of a probe: CAPA, STLS, and a login with AUTH (RFC 5034:
//! PLAIN, LOGIN, XOAUTH2, OAUTHBEARER) or USER/PASS. Parsing is in
//! [`super::wire::pop3`].

use super::conn::{Io, LineConn, secret_line};
use super::error::ProbeError;
use super::flow::{Dialect, LoginReply};
use super::secret::Credentials;
use super::tls::TlsIo;
use super::wire::pop3::{self, ListLine, Reply};
use super::wire::sasl::{self, Mechanism};
use super::wire::{Capabilities, Greeting, MAX_REPLY_LINES, WireError};

/// POP3.
pub(crate) struct Pop3;

async fn status<S: Io>(
    c: &mut LineConn<S>,
    step: &'static str,
) -> Result<(bool, String), ProbeError> {
    let line = c.read_line(step).await?;
    match pop3::parse_reply(&line).map_err(|e| c.ctx.wire(e))? {
        Reply::Ok(t) => Ok((true, t.to_string())),
        Reply::Err(t) => Ok((false, t.to_string())),
        Reply::Continuation(_) => Err(c.ctx.wire(WireError::unexpected(&line))),
    }
}

impl Dialect for Pop3 {
    const NAME: &'static str = "POP3";
    const STARTTLS: &'static str = "STLS";

    async fn greeting<S: Io>(c: &mut LineConn<S>) -> Result<Greeting, ProbeError> {
        let line = c.read_line("greeting").await?;
        pop3::parse_greeting(&line).map_err(|e| c.ctx.wire(e))
    }

    async fn capabilities<S: Io>(c: &mut LineConn<S>) -> Result<Capabilities, ProbeError> {
        c.send("CAPA", "CAPA").await?;
        let (ok, _) = status(c, "CAPA").await?;
        if !ok {
            // A server without CAPA (RFC 1939 only) still has USER/PASS.
            return Ok(Capabilities {
                user_pass: true,
                ..Capabilities::default()
            });
        }
        let mut lines = Vec::new();
        for _ in 0..MAX_REPLY_LINES {
            let line = c.read_line("CAPA").await?;
            match pop3::parse_list_line(&line) {
                ListLine::End => return Ok(pop3::capabilities(lines.iter().map(String::as_str))),
                ListLine::Item(item) => lines.push(item.to_string()),
            }
        }
        Err(c.ctx.wire(WireError::TooLong))
    }

    async fn starttls<S: Io>(c: &mut LineConn<S>) -> Result<(), ProbeError> {
        c.send("STLS", "STLS").await?;
        match status(c, "STLS").await? {
            (true, _) => Ok(()),
            (false, text) => Err(ProbeError::StarttlsRefused {
                command: "STLS",
                reply: c.ctx.scrub(&text),
            }),
        }
    }

    fn command_login(caps: &Capabilities) -> bool {
        caps.user_pass
    }

    async fn login(
        c: &mut LineConn<TlsIo>,
        _caps: &Capabilities,
        mechanism: Mechanism,
        creds: &Credentials,
        host: &str,
        port: u16,
    ) -> Result<LoginReply, ProbeError> {
        let user = creds.username();
        if mechanism == Mechanism::Command {
            if user.contains(['\r', '\n']) || creds.expose().contains(['\r', '\n']) {
                return Ok(LoginReply {
                    ok: false,
                    text: "the username or password contains a line break, which USER/PASS cannot carry".into(),
                    referral: None,
                });
            }
            c.send(&format!("USER {user}"), "USER").await?;
            let (ok, text) = status(c, "USER").await?;
            if !ok {
                return Ok(reply(c, false, &text));
            }
            let line = secret_line(&["PASS ", creds.expose()]);
            c.send_secret(&line, "PASS [password hidden]", "PASS")
                .await?;
            let (ok, text) = status(c, "PASS").await?;
            return Ok(reply(c, ok, &text));
        }
        let messages = sasl::messages(mechanism, user, creds.expose(), host, port);
        let mut pending = c.start_auth(mechanism, &messages).await?;
        for _ in 0..8 {
            let line = c.read_line("AUTH").await?;
            match pop3::parse_reply(&line).map_err(|e| c.ctx.wire(e))? {
                Reply::Ok(t) => return Ok(reply(c, true, t)),
                Reply::Err(t) => return Ok(reply(c, false, t)),
                Reply::Continuation(challenge) => match pending.next() {
                    Some(m) => c.send_sasl("", m, "AUTH").await?,
                    None => {
                        if let Some(detail) = sasl::decode_challenge(challenge) {
                            c.ctx
                                .transcript
                                .note(format!("server's error: {}", c.ctx.scrub(&detail)));
                        }
                        c.send("", "AUTH").await?
                    }
                },
            }
        }
        Err(c.ctx.wire(WireError::TooLong))
    }

    async fn quit<S: Io>(c: &mut LineConn<S>) {
        if c.send("QUIT", "QUIT").await.is_ok() {
            let _ = c.read_line("QUIT").await;
        }
    }
}

fn reply<S: Io>(c: &LineConn<S>, ok: bool, text: &str) -> LoginReply {
    LoginReply {
        ok,
        text: c.ctx.scrub(text),
        referral: None,
    }
}
