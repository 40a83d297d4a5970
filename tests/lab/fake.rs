//! Small scripted mail servers that misbehave on purpose, for the lab.
//!
//! Each [`Fake`] listens on one address, runs in its own thread (so tests
//! can drive the real binary with a blocking `Command`), speaks a line
//! protocol through a per-connection [`Respond`] closure, and records every
//! byte it receives, split into what arrived in clear and what arrived
//! inside TLS — so a test can prove a password never crossed in clear.
//!
//! Ready-made scripts: [`Imap`], [`Pop3`] and [`Smtp`] (configurable
//! capabilities, STARTTLS answer, accepted secret, failure text), plus
//! [`Fake::raw`] for byte-level servers (an outdated TLS stack) and
//! [`Blackhole`] for a port whose connection attempts time out.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

/// What a fake does after a line from the client.
pub enum Action {
    /// Send this (CRLFs included) and go on.
    Reply(String),
    /// Send this, then start TLS on the same connection (what follows the
    /// STARTTLS answer in the same write is the injection case).
    StartTls(String),
    /// Send this and close.
    Close(String),
    /// Say nothing.
    Nothing,
}

/// A per-connection script: `(line, inside_tls) -> Action`.
pub type Respond = Box<dyn FnMut(&str, bool) -> Action + Send>;

/// How a fake behaves.
pub struct Script {
    /// Sent on connect (after the handshake on an implicit-TLS port).
    pub greeting: String,
    /// TLS from the first byte with this configuration.
    pub implicit_tls: Option<Arc<rustls::ServerConfig>>,
    /// The configuration for STARTTLS.
    pub starttls_tls: Option<Arc<rustls::ServerConfig>>,
    /// Makes the script of each new connection.
    pub respond: Arc<dyn Fn() -> Respond + Send + Sync>,
}

/// A line-by-line dialogue without state of its own between lines.
trait Dialogue: Clone + Send + Sync + 'static {
    /// Sent on connect.
    fn greeting(&self) -> String;
    /// The answer to one line (`tls`: inside TLS).
    fn answer(&self, line: &str, tls: bool) -> Action;
}

impl Script {
    /// A script speaking `dialogue` on every connection.
    fn dialogue(
        dialogue: impl Dialogue,
        implicit_tls: Option<Arc<rustls::ServerConfig>>,
        starttls_tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Script {
        Script {
            greeting: dialogue.greeting(),
            implicit_tls,
            starttls_tls,
            respond: Arc::new(move || {
                let d = dialogue.clone();
                Box::new(move |line: &str, tls: bool| d.answer(line, tls))
            }),
        }
    }
}

#[derive(Default)]
struct Log {
    clear: Mutex<Vec<u8>>,
    tls: Mutex<Vec<u8>>,
    connections: AtomicUsize,
}

/// A running fake server.
pub struct Fake {
    /// Where it listens.
    pub addr: SocketAddr,
    log: Arc<Log>,
}

impl Fake {
    /// Starts `script` on `addr` ("127.0.2.20:143").
    pub fn start(addr: &str, script: Script) -> Fake {
        let script = Arc::new(script);
        Self::spawn(addr, move |stream, log| {
            let script = script.clone();
            async move { serve(stream, &script, &log).await }
        })
    }

    /// A byte-level server: after the first bytes from the client, it sends
    /// `answer` and closes.
    pub fn raw(addr: &str, answer: &'static [u8]) -> Fake {
        Self::spawn(addr, move |mut stream, log| async move {
            let mut buf = [0u8; 4096];
            if let Ok(n) = stream.read(&mut buf).await {
                log.clear.lock().unwrap().extend_from_slice(&buf[..n]);
            }
            let _ = stream.write_all(answer).await;
        })
    }

    fn spawn<F, Fut>(addr: &str, handler: F) -> Fake
    where
        F: Fn(tokio::net::TcpStream, Arc<Log>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        super::require();
        let listener = std::net::TcpListener::bind(addr).expect("bind the fake's address");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Log::default());
        let task_log = log.clone();
        super::spawn_runtime(move || async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                task_log.connections.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(handler(stream, task_log.clone()));
            }
        });
        Fake { addr, log }
    }

    /// Everything received in clear, as text.
    pub fn received_in_clear(&self) -> String {
        String::from_utf8_lossy(&self.log.clear.lock().unwrap()).into_owned()
    }

    /// Everything received inside TLS, as text.
    pub fn received_in_tls(&self) -> String {
        String::from_utf8_lossy(&self.log.tls.lock().unwrap()).into_owned()
    }

    /// How many connections were accepted.
    pub fn connections(&self) -> usize {
        self.log.connections.load(Ordering::SeqCst)
    }
}

async fn serve(stream: tokio::net::TcpStream, script: &Script, log: &Log) {
    if let Some(tls) = &script.implicit_tls {
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.clone());
        let Ok(tls_stream) = acceptor.accept(stream).await else {
            return;
        };
        let mut respond = (script.respond)();
        let _ = dialogue(tls_stream, true, &script.greeting, &mut respond, log).await;
        return;
    }
    let mut respond = (script.respond)();
    let Some(plain) = dialogue(stream, false, &script.greeting, &mut respond, log).await else {
        return;
    };
    let Some(tls) = &script.starttls_tls else {
        return;
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.clone());
    let Ok(tls_stream) = acceptor.accept(plain).await else {
        return;
    };
    let _ = dialogue(tls_stream, true, "", &mut respond, log).await;
}

/// Runs the line dialogue; returns the stream when the script asks for
/// STARTTLS.
async fn dialogue<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    tls: bool,
    greeting: &str,
    respond: &mut Respond,
    log: &Log,
) -> Option<S> {
    let mut reader = BufReader::new(stream);
    if !greeting.is_empty() {
        reader.get_mut().write_all(greeting.as_bytes()).await.ok()?;
    }
    loop {
        let mut line = Vec::new();
        let n = reader.read_until(b'\n', &mut line).await.ok()?;
        if n == 0 {
            return None;
        }
        let sink = if tls { &log.tls } else { &log.clear };
        sink.lock().unwrap().extend_from_slice(&line);
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        match respond(text, tls) {
            Action::Reply(r) => reader.get_mut().write_all(r.as_bytes()).await.ok()?,
            Action::Nothing => {}
            Action::Close(r) => {
                let _ = reader.get_mut().write_all(r.as_bytes()).await;
                return None;
            }
            Action::StartTls(r) => {
                reader.get_mut().write_all(r.as_bytes()).await.ok()?;
                return Some(reader.into_inner());
            }
        }
    }
}

/// Decodes a SASL PLAIN response into (user, password).
pub fn decode_plain(b64: &str) -> Option<(String, String)> {
    let raw = STANDARD.decode(b64.trim()).ok()?;
    let mut parts = raw.split(|&b| b == 0).skip(1);
    let user = String::from_utf8(parts.next()?.to_vec()).ok()?;
    let pass = String::from_utf8(parts.next()?.to_vec()).ok()?;
    Some((user, pass))
}

/// Decodes an XOAUTH2 response into its token.
pub fn decode_xoauth2(b64: &str) -> Option<String> {
    let raw = String::from_utf8(STANDARD.decode(b64.trim()).ok()?).ok()?;
    let auth = raw
        .split('\x01')
        .find_map(|p| p.strip_prefix("auth=Bearer "))?;
    Some(auth.to_string())
}

/// An IMAP server script.
#[derive(Clone)]
pub struct Imap {
    /// The greeting line.
    pub greeting: String,
    /// Capabilities before TLS.
    pub plain_caps: String,
    /// Capabilities inside TLS.
    pub tls_caps: String,
    /// The answer to STARTTLS (`{tag}` replaced); more lines after it are
    /// an injection.
    pub starttls_reply: String,
    /// The password (or token) it accepts.
    pub secret: String,
    /// The text of a failed login (`{tag}` and `{sent}` replaced: `{sent}`
    /// is what the client sent, to play a server that echoes it).
    pub fail: String,
}

impl Default for Imap {
    fn default() -> Self {
        Imap {
            greeting: "* OK fake IMAP ready\r\n".into(),
            plain_caps: "IMAP4rev1 STARTTLS LOGINDISABLED".into(),
            tls_caps: "IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=LOGIN".into(),
            starttls_reply: "{tag} OK Begin TLS negotiation now\r\n".into(),
            secret: "right-secret".into(),
            fail: "{tag} NO [AUTHENTICATIONFAILED] Authentication failed.\r\n".into(),
        }
    }
}

impl Imap {
    /// A script on a STARTTLS port (143) with `tls` for the upgrade.
    pub fn starttls(self, tls: Arc<rustls::ServerConfig>) -> Script {
        self.script(None, Some(tls))
    }

    /// A script on an implicit-TLS port (993).
    pub fn implicit(self, tls: Arc<rustls::ServerConfig>) -> Script {
        self.script(Some(tls), None)
    }

    /// A script with no TLS at all.
    pub fn plain(self) -> Script {
        self.script(None, None)
    }

    fn script(
        self,
        implicit_tls: Option<Arc<rustls::ServerConfig>>,
        starttls_tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Script {
        Script {
            greeting: self.greeting.clone(),
            implicit_tls,
            starttls_tls,
            respond: self.responder(),
        }
    }

    fn responder(self) -> Arc<dyn Fn() -> Respond + Send + Sync> {
        Arc::new(move || {
            let s = self.clone();
            let mut pending: Option<(String, String)> = None;
            Box::new(move |line: &str, tls: bool| {
                if let Some((tag, mech)) = pending.take() {
                    // The client's answer to our continuation.
                    return s.check(&tag, &mech, line);
                }
                let mut words = line.splitn(3, ' ');
                let tag = words.next().unwrap_or("*").to_string();
                let cmd = words.next().unwrap_or("").to_ascii_uppercase();
                let rest = words.next().unwrap_or("");
                let caps = if tls { &s.tls_caps } else { &s.plain_caps };
                match cmd.as_str() {
                    "CAPABILITY" => {
                        Action::Reply(format!("* CAPABILITY {caps}\r\n{tag} OK done\r\n"))
                    }
                    "STARTTLS" if !tls && caps.contains("STARTTLS") => {
                        Action::StartTls(s.starttls_reply.replace("{tag}", &tag))
                    }
                    "AUTHENTICATE" => {
                        let mut a = rest.splitn(2, ' ');
                        let mech = a.next().unwrap_or("").to_ascii_uppercase();
                        match a.next() {
                            Some(ir) => s.check(&tag, &mech, ir),
                            None => {
                                pending = Some((tag, mech));
                                Action::Reply("+ \r\n".into())
                            }
                        }
                    }
                    "LOGIN" => {
                        let pass = rest.rsplit(' ').next().unwrap_or("").trim_matches('"');
                        s.verdict(&tag, pass == s.secret, rest)
                    }
                    "LOGOUT" => Action::Close(format!("* BYE bye\r\n{tag} OK bye\r\n")),
                    _ => Action::Reply(format!("{tag} BAD unknown command\r\n")),
                }
            })
        })
    }

    fn check(&self, tag: &str, mech: &str, data: &str) -> Action {
        let ok = match mech {
            "PLAIN" => decode_plain(data).is_some_and(|(_, p)| p == self.secret),
            "XOAUTH2" => decode_xoauth2(data).is_some_and(|t| t == self.secret),
            _ => false,
        };
        self.verdict(tag, ok, data)
    }

    fn verdict(&self, tag: &str, ok: bool, sent: &str) -> Action {
        if ok {
            Action::Reply(format!("{tag} OK Logged in\r\n"))
        } else {
            Action::Reply(self.fail.replace("{tag}", tag).replace("{sent}", sent))
        }
    }
}

/// A POP3 server script.
#[derive(Clone)]
pub struct Pop3 {
    /// The greeting line.
    pub greeting: String,
    /// CAPA lines before TLS.
    pub plain_capa: Vec<String>,
    /// CAPA lines inside TLS.
    pub tls_capa: Vec<String>,
    /// The password it accepts.
    pub secret: String,
}

impl Default for Pop3 {
    fn default() -> Self {
        Pop3 {
            greeting: "+OK fake POP3 ready\r\n".into(),
            plain_capa: vec!["TOP".into(), "STLS".into()],
            tls_capa: vec!["USER".into(), "SASL PLAIN".into()],
            secret: "right-secret".into(),
        }
    }
}

impl Pop3 {
    /// A script with no TLS at all (a secret typed here arrives in clear).
    pub fn plain(self) -> Script {
        Script::dialogue(self, None, None)
    }

    /// A script with STLS.
    pub fn starttls(self, tls: Arc<rustls::ServerConfig>) -> Script {
        Script::dialogue(self, None, Some(tls))
    }
}

impl Dialogue for Pop3 {
    fn greeting(&self) -> String {
        self.greeting.clone()
    }

    fn answer(&self, line: &str, tls: bool) -> Action {
        let upper = line.to_ascii_uppercase();
        let capa = if tls {
            &self.tls_capa
        } else {
            &self.plain_capa
        };
        if upper == "CAPA" {
            Action::Reply(format!("+OK\r\n{}\r\n.\r\n", capa.join("\r\n")))
        } else if upper == "STLS" && capa.iter().any(|c| c == "STLS") {
            Action::StartTls("+OK Begin TLS\r\n".into())
        } else if upper.starts_with("USER ") {
            Action::Reply("+OK\r\n".into())
        } else if let Some(p) = line.strip_prefix("PASS ") {
            reply_if(p == self.secret, "+OK in\r\n", "-ERR [AUTH] no\r\n")
        } else if let Some(ir) = upper.strip_prefix("AUTH PLAIN ").map(|_| &line[11..]) {
            let ok = decode_plain(ir).is_some_and(|(_, p)| p == self.secret);
            reply_if(ok, "+OK in\r\n", "-ERR [AUTH] no\r\n")
        } else if upper == "QUIT" {
            Action::Close("+OK bye\r\n".into())
        } else {
            Action::Reply("-ERR unknown\r\n".into())
        }
    }
}

/// `yes` when `ok`, else `no`.
fn reply_if(ok: bool, yes: &str, no: &str) -> Action {
    Action::Reply(if ok { yes } else { no }.into())
}

/// An SMTP submission server script.
#[derive(Clone)]
pub struct Smtp {
    /// The greeting.
    pub greeting: String,
    /// EHLO keywords before TLS.
    pub plain_ehlo: Vec<String>,
    /// EHLO keywords inside TLS.
    pub tls_ehlo: Vec<String>,
    /// The answer to STARTTLS.
    pub starttls_reply: String,
    /// The password it accepts.
    pub secret: String,
}

impl Default for Smtp {
    fn default() -> Self {
        Smtp {
            greeting: "220 fake.lab.test ESMTP\r\n".into(),
            plain_ehlo: vec!["PIPELINING".into(), "STARTTLS".into()],
            tls_ehlo: vec!["PIPELINING".into(), "AUTH PLAIN LOGIN".into()],
            starttls_reply: "220 Go ahead\r\n".into(),
            secret: "right-secret".into(),
        }
    }
}

impl Smtp {
    /// A script with STARTTLS.
    pub fn starttls(self, tls: Arc<rustls::ServerConfig>) -> Script {
        Script::dialogue(self, None, Some(tls))
    }

    /// A script on an implicit-TLS port (465).
    pub fn implicit(self, tls: Arc<rustls::ServerConfig>) -> Script {
        Script::dialogue(self, Some(tls), None)
    }
}

impl Dialogue for Smtp {
    fn greeting(&self) -> String {
        self.greeting.clone()
    }

    fn answer(&self, line: &str, tls: bool) -> Action {
        let upper = line.to_ascii_uppercase();
        let ehlo = if tls {
            &self.tls_ehlo
        } else {
            &self.plain_ehlo
        };
        if upper.starts_with("EHLO ") {
            let mut r = String::from("250-fake.lab.test\r\n");
            for (i, k) in ehlo.iter().enumerate() {
                let sep = if i + 1 == ehlo.len() { ' ' } else { '-' };
                r.push_str(&format!("250{sep}{k}\r\n"));
            }
            if ehlo.is_empty() {
                r = "250 fake.lab.test\r\n".into();
            }
            Action::Reply(r)
        } else if upper == "STARTTLS" && ehlo.iter().any(|k| k == "STARTTLS") {
            Action::StartTls(self.starttls_reply.clone())
        } else if let Some(ir) = upper.strip_prefix("AUTH PLAIN ").map(|_| &line[11..]) {
            let ok = decode_plain(ir).is_some_and(|(_, p)| p == self.secret);
            reply_if(
                ok,
                "235 2.7.0 Authenticated\r\n",
                "535 5.7.8 Authentication failed\r\n",
            )
        } else if upper == "QUIT" {
            Action::Close("221 bye\r\n".into())
        } else {
            Action::Reply("502 unknown\r\n".into())
        }
    }
}

/// A port whose connection attempts time out: a listener with a backlog
/// of zero whose one queue slot is taken and never accepted, so the kernel
/// drops every further SYN (as a firewall that drops packets would).
pub struct Blackhole {
    /// The address.
    pub addr: SocketAddr,
    _keep: std::sync::mpsc::Sender<()>,
}

impl Blackhole {
    /// Starts one on `addr`.
    pub fn start(addr: &str) -> Blackhole {
        super::require();
        let addr: SocketAddr = addr.parse().unwrap();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (keep_tx, keep_rx) = std::sync::mpsc::channel::<()>();
        super::spawn_runtime(move || async move {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind(addr).unwrap();
            let _listener = socket.listen(0).unwrap();
            // Take the one slot of the queue.
            let _filler = std::net::TcpStream::connect(addr).unwrap();
            ready_tx.send(()).unwrap();
            // Live until the handle drops.
            let _ = tokio::task::spawn_blocking(move || keep_rx.recv()).await;
        });
        ready_rx.recv().unwrap();
        Blackhole {
            addr,
            _keep: keep_tx,
        }
    }
}
