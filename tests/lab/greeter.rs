//! The lab's minimal mail servers for guessing: each accepts connections on
//! one address and port, optionally does TLS with a lab certificate (from
//! the first byte, or after STARTTLS), greets, and answers the few commands
//! a capabilities-only probe sends — IMAP `CAPABILITY`, POP3 `CAPA`, SMTP
//! `EHLO`, `STARTTLS`/`STLS`, `LOGOUT`/`QUIT`. Every other command gets an
//! error. Every byte a client sends is recorded (decrypted inside TLS), so a
//! test can prove that guessing never logs in.
//!
//! The protocol is told by the greeting: `* …` is IMAP, `+OK…` POP3, `220…`
//! SMTP; any other greeting gets no answers at all. Real servers (dovecot)
//! are for the probe tests; guessing only needs the capability dialogue.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use super::{Leaf, TestCa};

/// The longest command line a greeter keeps waiting for.
const MAX_LINE: usize = 64 * 1024;

/// A running greeter.
pub struct Greeter {
    /// Where it listens.
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<u8>>>,
    connections: Arc<Mutex<usize>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// When TLS starts.
#[derive(Clone)]
enum Tls {
    /// Never.
    None,
    /// From the first byte.
    Implicit(TlsAcceptor),
    /// After STARTTLS (STLS), which is offered in the plain capabilities.
    Starttls(TlsAcceptor),
}

/// The protocol, told by the greeting.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Imap,
    Pop3,
    Smtp,
    /// Unknown: greet, record, never answer.
    Mute,
}

impl Dialect {
    fn of(greeting: &str) -> Dialect {
        if greeting.starts_with("* ") {
            Dialect::Imap
        } else if greeting.starts_with("+OK") {
            Dialect::Pop3
        } else if greeting.starts_with("220") {
            Dialect::Smtp
        } else {
            Dialect::Mute
        }
    }
}

impl TestCa {
    /// A greeter on `ip:port`, over TLS from the first byte with a
    /// certificate of this CA for `names`, greeting with `greeting` after
    /// `delay` (see [`Greeter::start`]).
    pub fn greeter(
        &self,
        ip: &str,
        port: u16,
        names: &[&str],
        greeting: &str,
        delay: Duration,
    ) -> Greeter {
        Greeter::start(ip, port, Some(&self.issue(names)), greeting, delay)
    }
}

impl Greeter {
    /// Greets with `greeting` on `ip:port`, over TLS from the first byte
    /// with `leaf` when given, after `delay` (before the handshake, like a
    /// slow network).
    pub fn start(
        ip: &str,
        port: u16,
        leaf: Option<&Leaf>,
        greeting: &str,
        delay: Duration,
    ) -> Greeter {
        let tls = match leaf {
            Some(l) => Tls::Implicit(TlsAcceptor::from(l.server_config())),
            None => Tls::None,
        };
        Self::spawn(ip, port, tls, greeting, delay)
    }

    /// Greets in plain text with `greeting` on `ip:port`, offers STARTTLS
    /// (STLS) and does TLS with `leaf` when asked, after `delay`.
    pub fn start_starttls(
        ip: &str,
        port: u16,
        leaf: &Leaf,
        greeting: &str,
        delay: Duration,
    ) -> Greeter {
        let tls = Tls::Starttls(TlsAcceptor::from(leaf.server_config()));
        Self::spawn(ip, port, tls, greeting, delay)
    }

    fn spawn(ip: &str, port: u16, tls: Tls, greeting: &str, delay: Duration) -> Greeter {
        super::require();
        let addr: SocketAddr = format!("{ip}:{port}").parse().expect("an IP address");
        let greeting = greeting.to_string();
        let received = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(Mutex::new(0));
        let (rx, conns) = (received.clone(), connections.clone());
        let (stop_tx, thread) =
            super::spawn_listener(addr, "the greeter", move |listener| async move {
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        continue;
                    };
                    *conns.lock().unwrap() += 1;
                    let (tls, greeting, rx) = (tls.clone(), greeting.clone(), rx.clone());
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        serve(tcp, tls, &greeting, &rx).await;
                    });
                }
            });
        Greeter {
            addr,
            received,
            connections,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// Every byte clients sent (TLS decrypted).
    pub fn received(&self) -> Vec<u8> {
        self.received.lock().unwrap().clone()
    }

    /// What clients sent, as text.
    pub fn received_text(&self) -> String {
        String::from_utf8_lossy(&self.received()).into_owned()
    }

    /// How many connections were accepted.
    pub fn connections(&self) -> usize {
        *self.connections.lock().unwrap()
    }

    /// Panics if a client sent anything that starts a login (IMAP `LOGIN`
    /// or `AUTHENTICATE`, SMTP or POP3 `AUTH`, POP3 `USER`/`PASS`/`APOP`),
    /// or if it never asked for the capabilities (so that "no login" is not
    /// trivially true of a client that sent nothing).
    pub fn assert_asked_capabilities_but_never_logged_in(&self) {
        let sent = self.received_text().to_ascii_uppercase();
        for word in ["LOGIN", "AUTHENTICATE", "AUTH ", "USER ", "PASS ", "APOP "] {
            assert!(
                !sent.contains(word),
                "{}: a client sent {word:?}: {sent:?}",
                self.addr
            );
        }
        assert!(
            ["CAPABILITY", "CAPA", "EHLO"]
                .iter()
                .any(|c| sent.contains(c)),
            "{}: no client asked for the capabilities: {sent:?}",
            self.addr
        );
    }
}

async fn serve(tcp: TcpStream, tls: Tls, greeting: &str, rx: &Mutex<Vec<u8>>) {
    let dialect = Dialect::of(greeting);
    match tls {
        Tls::None => {
            talk(tcp, dialect, Some(greeting), false, rx).await;
        }
        Tls::Implicit(acceptor) => {
            if let Ok(s) = acceptor.accept(tcp).await {
                talk(s, dialect, Some(greeting), false, rx).await;
            }
        }
        Tls::Starttls(acceptor) => {
            if let Some(tcp) = talk(tcp, dialect, Some(greeting), true, rx).await {
                if let Ok(s) = acceptor.accept(tcp).await {
                    talk(s, dialect, None, false, rx).await;
                }
            }
        }
    }
}

/// What to do after answering a line.
enum Next {
    Go,
    StartTls,
    Close,
}

/// Greets (when `greeting` is given) and answers commands until the client
/// leaves. Returns the stream when the client asked for STARTTLS and it was
/// accepted (only when `offer_starttls`).
async fn talk<S>(
    mut s: S,
    dialect: Dialect,
    greeting: Option<&str>,
    offer_starttls: bool,
    rx: &Mutex<Vec<u8>>,
) -> Option<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if let Some(g) = greeting {
        send(&mut s, &format!("{g}\r\n")).await?;
    }
    let mut pending = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = match tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => n,
            _ => return None,
        };
        rx.lock().unwrap().extend_from_slice(&buf[..n]);
        if dialect == Dialect::Mute {
            continue;
        }
        pending.extend_from_slice(&buf[..n]);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line).trim_end().to_string();
            let (reply, next) = answer(dialect, &line, offer_starttls);
            send(&mut s, &reply).await?;
            match next {
                Next::Go => {}
                Next::Close => return None,
                // Anything the client sent after STARTTLS is dropped with
                // the plain connection (it was recorded above).
                Next::StartTls => return Some(s),
            }
        }
        if pending.len() > MAX_LINE {
            return None;
        }
    }
}

async fn send<S: AsyncWrite + Unpin>(s: &mut S, text: &str) -> Option<()> {
    s.write_all(text.as_bytes()).await.ok()?;
    s.flush().await.ok()
}

/// The answer to one command line.
fn answer(dialect: Dialect, line: &str, offer_starttls: bool) -> (String, Next) {
    let mut words = line.split_whitespace();
    match dialect {
        Dialect::Imap => {
            let tag = words.next().unwrap_or("*");
            let command = words.next().unwrap_or_default().to_ascii_uppercase();
            match command.as_str() {
                "CAPABILITY" => {
                    let starttls = if offer_starttls { " STARTTLS" } else { "" };
                    (
                        format!(
                            "* CAPABILITY IMAP4rev1{starttls} AUTH=PLAIN\r\n{tag} OK CAPABILITY completed\r\n"
                        ),
                        Next::Go,
                    )
                }
                "STARTTLS" if offer_starttls => {
                    (format!("{tag} OK Begin TLS now\r\n"), Next::StartTls)
                }
                "LOGOUT" => (
                    format!("* BYE logging out\r\n{tag} OK LOGOUT completed\r\n"),
                    Next::Close,
                ),
                "NOOP" => (format!("{tag} OK NOOP completed\r\n"), Next::Go),
                _ => (format!("{tag} BAD not here\r\n"), Next::Go),
            }
        }
        Dialect::Pop3 => match words
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase()
            .as_str()
        {
            "CAPA" => {
                let stls = if offer_starttls { "STLS\r\n" } else { "" };
                (
                    format!("+OK capabilities\r\nUSER\r\nSASL PLAIN\r\n{stls}.\r\n"),
                    Next::Go,
                )
            }
            "STLS" if offer_starttls => ("+OK begin TLS\r\n".into(), Next::StartTls),
            "QUIT" => ("+OK bye\r\n".into(), Next::Close),
            _ => ("-ERR not here\r\n".into(), Next::Go),
        },
        Dialect::Smtp => match words
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase()
            .as_str()
        {
            "EHLO" => {
                let starttls = if offer_starttls {
                    "250-STARTTLS\r\n"
                } else {
                    ""
                };
                (
                    format!("250-greeter.lab.test\r\n{starttls}250 AUTH PLAIN LOGIN\r\n"),
                    Next::Go,
                )
            }
            "STARTTLS" if offer_starttls => ("220 2.0.0 go ahead\r\n".into(), Next::StartTls),
            "QUIT" => ("221 2.0.0 bye\r\n".into(), Next::Close),
            "NOOP" | "RSET" => ("250 2.0.0 ok\r\n".into(), Next::Go),
            _ => ("502 5.5.2 not here\r\n".into(), Next::Go),
        },
        Dialect::Mute => (String::new(), Next::Go),
    }
}

impl Drop for Greeter {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
