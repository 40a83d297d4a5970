//! The IMAP side of a probe: CAPABILITY, STARTTLS, and a login with
//! AUTHENTICATE (PLAIN, LOGIN, XOAUTH2, OAUTHBEARER) or the LOGIN command.
//! Parsing is in [`super::wire::imap`].

use super::conn::{Io, LineConn, secret_line};
use super::error::ProbeError;
use super::flow::{Dialect, LoginReply};
use super::secret::Credentials;
use super::tls::TlsIo;
use super::wire::imap::{self, Response, Status};
use super::wire::sasl::{self, Mechanism};
use super::wire::{Capabilities, Greeting, MAX_REPLY_LINES, WireError};

/// IMAP4rev1 / IMAP4rev2.
pub(crate) struct Imap;

/// Reads until the tagged completion of `tag`, collecting capability data
/// on the way. A continuation request is returned as such.
enum Completion {
    Tagged(Status, String),
    Continue(String),
}

async fn read_until_tagged<S: Io>(
    c: &mut LineConn<S>,
    tag: &str,
    step: &'static str,
    caps: &mut Option<Vec<String>>,
) -> Result<Completion, ProbeError> {
    for _ in 0..MAX_REPLY_LINES {
        let line = c.read_line(step).await?;
        match imap::parse_response(&line).map_err(|e| c.ctx.wire(e))? {
            Response::Untagged(rest) => {
                if let Some(t) = imap::capability_tokens(rest) {
                    *caps = Some(t.into_iter().map(str::to_string).collect());
                }
            }
            Response::Continuation(text) => return Ok(Completion::Continue(text.to_string())),
            Response::Tagged {
                tag: t,
                status,
                text,
            } if t == tag => {
                if let Some(t) = imap::capability_tokens(&format!("OK {text}")) {
                    *caps = Some(t.into_iter().map(str::to_string).collect());
                }
                return Ok(Completion::Tagged(status, text.to_string()));
            }
            Response::Tagged { .. } => {
                return Err(c.ctx.wire(WireError::unexpected(&line)));
            }
        }
    }
    Err(c.ctx.wire(WireError::TooLong))
}

impl Dialect for Imap {
    const NAME: &'static str = "IMAP";
    const STARTTLS: &'static str = "STARTTLS";

    async fn greeting<S: Io>(c: &mut LineConn<S>) -> Result<Greeting, ProbeError> {
        let line = c.read_line("greeting").await?;
        imap::parse_greeting(&line).map_err(|e| c.ctx.wire(e))
    }

    async fn capabilities<S: Io>(c: &mut LineConn<S>) -> Result<Capabilities, ProbeError> {
        let tag = c.next_tag();
        c.send(&format!("{tag} CAPABILITY"), "CAPABILITY").await?;
        let mut tokens = None;
        match read_until_tagged(c, &tag, "CAPABILITY", &mut tokens).await? {
            Completion::Tagged(Status::Ok, _) => {}
            Completion::Tagged(_, text) | Completion::Continue(text) => {
                return Err(ProbeError::Protocol {
                    protocol: "IMAP",
                    detail: format!("CAPABILITY was refused: {}", c.ctx.scrub(&text)),
                });
            }
        }
        Ok(imap::capabilities(
            tokens.iter().flatten().map(String::as_str),
        ))
    }

    async fn starttls<S: Io>(c: &mut LineConn<S>) -> Result<(), ProbeError> {
        let tag = c.next_tag();
        c.send(&format!("{tag} STARTTLS"), "STARTTLS").await?;
        // Capability data here would come before TLS: collected, thrown away.
        let mut ignored = None;
        match read_until_tagged(c, &tag, "STARTTLS", &mut ignored).await? {
            Completion::Tagged(Status::Ok, _) => Ok(()),
            Completion::Tagged(_, text) | Completion::Continue(text) => {
                Err(ProbeError::StarttlsRefused {
                    command: "STARTTLS",
                    reply: c.ctx.scrub(&text),
                })
            }
        }
    }

    fn command_login(caps: &Capabilities) -> bool {
        !caps.login_disabled
    }

    async fn login(
        c: &mut LineConn<TlsIo>,
        caps: &Capabilities,
        mechanism: Mechanism,
        creds: &Credentials,
        host: &str,
        port: u16,
    ) -> Result<LoginReply, ProbeError> {
        let tag = c.next_tag();
        let user = creds.username();
        if mechanism == Mechanism::Command {
            let qp = imap::quoted(creds.expose()).map(zeroize::Zeroizing::new);
            let (Some(qu), Some(qp)) = (imap::quoted(user), qp) else {
                return Ok(LoginReply {
                    ok: false,
                    text:
                        "the username or password contains a line break, which LOGIN cannot carry"
                            .into(),
                    referral: None,
                });
            };
            let line = secret_line(&[&tag, " LOGIN ", &qu, " ", &qp]);
            c.send_secret(
                &line,
                &format!("{tag} LOGIN {qu} [password hidden]"),
                "LOGIN",
            )
            .await?;
        } else {
            let messages = sasl::messages(mechanism, user, creds.expose(), host, port);
            let mut pending = messages.iter();
            let name = mechanism.name();
            // SASL-IR (RFC 4959): the first message may go with the command.
            let command = format!("{tag} AUTHENTICATE {name}");
            match pending.next() {
                Some(first) if caps.sasl_ir => {
                    c.send_sasl(&format!("{command} "), first, "AUTHENTICATE")
                        .await?
                }
                _ => {
                    pending = messages.iter();
                    c.send(&command, "AUTHENTICATE").await?
                }
            }
            // A few rounds at most: no mechanism here needs more, and a
            // server that keeps asking is stopped.
            for _ in 0..8 {
                let mut ignored = None;
                match read_until_tagged(c, &tag, "AUTHENTICATE", &mut ignored).await? {
                    Completion::Continue(challenge) => match pending.next() {
                        Some(m) => c.send_sasl("", m, "AUTHENTICATE").await?,
                        // XOAUTH2 sends its error as a challenge and waits
                        // for an empty answer before the tagged NO.
                        None => {
                            if let Some(detail) = sasl::decode_challenge(&challenge) {
                                c.ctx
                                    .transcript
                                    .note(format!("server's error: {}", c.ctx.scrub(&detail)));
                            }
                            c.send("", "AUTHENTICATE").await?
                        }
                    },
                    Completion::Tagged(status, text) => return Ok(reply(c, status, &text)),
                }
            }
            return Err(c.ctx.wire(WireError::TooLong));
        }
        let mut ignored = None;
        match read_until_tagged(c, &tag, "LOGIN", &mut ignored).await? {
            Completion::Tagged(status, text) => Ok(reply(c, status, &text)),
            Completion::Continue(text) => Err(ProbeError::Protocol {
                protocol: "IMAP",
                detail: format!(
                    "unexpected continuation after LOGIN: {}",
                    c.ctx.scrub(&text)
                ),
            }),
        }
    }

    async fn quit<S: Io>(c: &mut LineConn<S>) {
        let tag = c.next_tag();
        if c.send(&format!("{tag} LOGOUT"), "LOGOUT").await.is_ok() {
            let mut ignored = None;
            let _ = read_until_tagged(c, &tag, "LOGOUT", &mut ignored).await;
        }
    }
}

fn reply<S: Io>(c: &LineConn<S>, status: Status, text: &str) -> LoginReply {
    LoginReply {
        ok: status == Status::Ok,
        text: c.ctx.scrub(text),
        referral: imap::referral(text).map(|r| c.ctx.scrub(r)),
    }
}
