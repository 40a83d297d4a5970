//! The shape every probe follows, for all three protocols: the STARTTLS
//! sequence as states that consume themselves, as rustls's handshake
//! states do.
//!
//! ```text
//! Connected ─greet→ Greeted ─capabilities→ Capable<plain> ─starttls→ StarttlsAccepted
//!     StarttlsAccepted ─handshake→ Secured ─capabilities→ Capable<TLS> ─login→ …
//! implicit TLS:  handshake → Secured ─greet→ Greeted<TLS> ─capabilities→ Capable<TLS>
//! ```
//!
//! Each step takes `self` and returns the next state, so what a state knew
//! cannot leak past a step that invalidates it: the capabilities learnt in
//! plain text are dropped by `starttls`, the plain read buffer must be
//! empty to become [`StarttlsAccepted`], and `login` exists only on a
//! `Capable` over TLS — sending a secret over plain text does not compile.
//! Refused or failed STARTTLS is an error, never a fallback.

use std::marker::PhantomData;

use tokio::net::TcpStream;

use super::conn::{Ctx, Io, LineConn};
use super::error::ProbeError;
use super::secret::Credentials;
use super::tls::{self, Mode, TlsIo, TlsReport, TlsSetup};
use super::wire::sasl::Mechanism;
use super::wire::{Capabilities, Greeting};

/// A server's answer to a login.
#[derive(Debug, Clone, Default)]
pub(crate) struct LoginReply {
    pub ok: bool,
    /// The server's text (cleaned, secrets removed).
    pub text: String,
    /// An IMAP `[REFERRAL]` it gave; reported, never followed.
    pub referral: Option<String>,
}

/// One protocol's side of the dialogue.
pub(crate) trait Dialect {
    /// `IMAP`, `POP3`, `SMTP`.
    const NAME: &'static str;
    /// The command that starts TLS.
    const STARTTLS: &'static str;

    /// Reads the greeting.
    async fn greeting<S: Io>(c: &mut LineConn<S>) -> Result<Greeting, ProbeError>;
    /// Asks what the server offers.
    async fn capabilities<S: Io>(c: &mut LineConn<S>) -> Result<Capabilities, ProbeError>;
    /// Sends STARTTLS and reads the answer: `Ok` when TLS may begin.
    async fn starttls<S: Io>(c: &mut LineConn<S>) -> Result<(), ProbeError>;
    /// Whether the protocol's own password command (IMAP LOGIN, POP3
    /// USER/PASS) may be used.
    fn command_login(caps: &Capabilities) -> bool;
    /// Logs in; only ever called inside TLS.
    async fn login(
        c: &mut LineConn<TlsIo>,
        caps: &Capabilities,
        mechanism: Mechanism,
        creds: &Credentials,
        host: &str,
        port: u16,
    ) -> Result<LoginReply, ProbeError>;
    /// Says goodbye (errors ignored: the probe is over).
    async fn quit<S: Io>(c: &mut LineConn<S>);
}

/// A fresh plain connection; nothing read yet.
pub(crate) struct Connected<D> {
    conn: LineConn<TcpStream>,
    _d: PhantomData<D>,
}

/// The server has greeted.
pub(crate) struct Greeted<D, S> {
    conn: LineConn<S>,
    pub(crate) greeting: Greeting,
    _d: PhantomData<D>,
}

/// The server has said what it offers, on this connection.
pub(crate) struct Capable<D, S> {
    conn: LineConn<S>,
    pub(crate) caps: Capabilities,
    _d: PhantomData<D>,
}

/// STARTTLS was accepted and nothing else is pending: TLS may begin.
pub(crate) struct StarttlsAccepted<D> {
    tcp: TcpStream,
    ctx: Ctx,
    _d: PhantomData<D>,
}

/// TLS is up; nothing is known of the server yet.
pub(crate) struct Secured<D> {
    conn: LineConn<TlsIo>,
    _d: PhantomData<D>,
}

impl<D: Dialect> Connected<D> {
    pub(crate) fn new(tcp: TcpStream, ctx: Ctx) -> Self {
        Connected {
            conn: LineConn::new(tcp, false, ctx),
            _d: PhantomData,
        }
    }

    pub(crate) async fn greet(mut self) -> Result<Greeted<D, TcpStream>, ProbeError> {
        let greeting = D::greeting(&mut self.conn).await?;
        Ok(Greeted {
            conn: self.conn,
            greeting,
            _d: PhantomData,
        })
    }
}

impl<D: Dialect, S: Io> Greeted<D, S> {
    pub(crate) async fn capabilities(mut self) -> Result<Capable<D, S>, ProbeError> {
        let caps = D::capabilities(&mut self.conn).await?;
        Ok(Capable {
            conn: self.conn,
            caps,
            _d: PhantomData,
        })
    }

    pub(crate) fn ctx(&self) -> &Ctx {
        &self.conn.ctx
    }
}

impl<D: Dialect, S: Io> Capable<D, S> {
    pub(crate) fn ctx(&self) -> &Ctx {
        &self.conn.ctx
    }

    pub(crate) async fn quit(mut self) {
        D::quit(&mut self.conn).await;
    }
}

impl<D: Dialect> Capable<D, TcpStream> {
    /// Upgrades with STARTTLS. The plain capabilities are dropped here.
    pub(crate) async fn starttls(self) -> Result<StarttlsAccepted<D>, ProbeError> {
        let Capable { mut conn, caps, .. } = self;
        if !caps.starttls {
            return Err(ProbeError::StarttlsNotOffered {
                command: D::STARTTLS,
            });
        }
        drop(caps);
        D::starttls(&mut conn).await?;
        let (tcp, ctx) = conn.into_plain_checked()?;
        // Bytes may also wait in the kernel, not yet read: a non-blocking
        // read tells.
        let mut probe = [0u8; 1];
        match tcp.try_read(&mut probe) {
            Ok(0) => {
                return Err(ProbeError::StarttlsNoTls {
                    command: D::STARTTLS,
                    detail: "it closed the connection".into(),
                });
            }
            Ok(n) => return Err(ProbeError::StarttlsInjection { bytes: n }),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(super::conn::io_error("STARTTLS", e)),
        }
        Ok(StarttlsAccepted {
            tcp,
            ctx,
            _d: PhantomData,
        })
    }
}

impl<D: Dialect> StarttlsAccepted<D> {
    pub(crate) async fn handshake(
        self,
        host: &str,
        setup: &TlsSetup,
    ) -> (Result<Secured<D>, ProbeError>, TlsReport) {
        let (r, report) = tls::handshake(
            self.tcp,
            host,
            setup,
            &self.ctx,
            Mode::Starttls(D::STARTTLS),
        )
        .await;
        let r = r.map(|io| Secured {
            conn: LineConn::new(io, true, self.ctx),
            _d: PhantomData,
        });
        (r, report)
    }
}

/// TLS from the first byte (993, 995, 465).
pub(crate) async fn implicit<D: Dialect>(
    tcp: TcpStream,
    ctx: Ctx,
    host: &str,
    setup: &TlsSetup,
) -> (Result<Secured<D>, ProbeError>, TlsReport) {
    let (r, report) = tls::handshake(tcp, host, setup, &ctx, Mode::Implicit).await;
    let r = r.map(|io| Secured {
        conn: LineConn::new(io, true, ctx),
        _d: PhantomData,
    });
    (r, report)
}

impl<D: Dialect> Secured<D> {
    /// The greeting, on an implicit-TLS port.
    pub(crate) async fn greet(mut self) -> Result<Greeted<D, TlsIo>, ProbeError> {
        let greeting = D::greeting(&mut self.conn).await?;
        Ok(Greeted {
            conn: self.conn,
            greeting,
            _d: PhantomData,
        })
    }

    /// The capabilities, asked again after STARTTLS.
    pub(crate) async fn capabilities(mut self) -> Result<Capable<D, TlsIo>, ProbeError> {
        let caps = D::capabilities(&mut self.conn).await?;
        Ok(Capable {
            conn: self.conn,
            caps,
            _d: PhantomData,
        })
    }
}

impl<D: Dialect> Capable<D, TlsIo> {
    /// Logs in. Exists only over TLS.
    pub(crate) async fn login(
        &mut self,
        mechanism: Mechanism,
        creds: &Credentials,
        host: &str,
        port: u16,
    ) -> Result<LoginReply, ProbeError> {
        D::login(&mut self.conn, &self.caps, mechanism, creds, host, port).await
    }
}
