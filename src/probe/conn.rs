//! The connection layer under every dialogue: line-by-line reading with a
//! size limit and a deadline on every read and write, a transcript for
//! `-v` that never holds a secret, and the checks at the STARTTLS switch.
//!
//! The read buffer is owned here and nowhere else, which is what makes the
//! STARTTLS injection check possible: when a dialogue hands the plain
//! stream over to TLS, [`LineConn::into_plain_checked`] fails if a single
//! byte is left unread.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use zeroize::Zeroizing;

use super::error::ProbeError;
use super::secret::Redactor;
use super::wire::{MAX_LINE, WireError, clean};

/// A stream the dialogues can run on: plain TCP or TLS.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Who said a line of the transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Speaker {
    /// The probe.
    Client,
    /// The server.
    Server,
    /// A step of the probe (connect, TLS handshake).
    Note,
}

/// One line of a transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TranscriptLine {
    /// Who.
    pub speaker: Speaker,
    /// Whether the line travelled inside TLS.
    pub tls: bool,
    /// The text, cleaned; secrets replaced.
    pub text: String,
}

/// The transcript of one probe, shared by the states of its connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct Transcript(Arc<Mutex<Vec<TranscriptLine>>>);

/// The most lines a transcript keeps.
const MAX_TRANSCRIPT: usize = 200;

impl Transcript {
    pub(crate) fn push(&self, speaker: Speaker, tls: bool, text: String) {
        // A poisoned lock only means another thread panicked mid-push; the
        // lines are still fine to read.
        let mut lines = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if lines.len() < MAX_TRANSCRIPT {
            lines.push(TranscriptLine { speaker, tls, text });
        }
    }

    pub(crate) fn note(&self, text: impl Into<String>) {
        self.push(Speaker::Note, false, text.into());
    }

    pub(crate) fn take(&self) -> Vec<TranscriptLine> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// What a connection carries from one state to the next.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub(crate) protocol: &'static str,
    pub(crate) read_timeout: Duration,
    pub(crate) transcript: Transcript,
    pub(crate) redactor: Arc<Redactor>,
    /// The local address of the connection (for SMTP's EHLO).
    pub(crate) local: Option<std::net::IpAddr>,
}

impl Ctx {
    /// Server text made fit for a report: no secret, no control character,
    /// not too long.
    pub(crate) fn scrub(&self, text: &str) -> String {
        clean(&self.redactor.scrub(text), 300)
    }

    /// A protocol error for a reply that did not parse.
    pub(crate) fn wire(&self, e: WireError) -> ProbeError {
        ProbeError::Protocol {
            protocol: self.protocol,
            detail: self.scrub(&e.to_string()),
        }
    }
}

/// A line-oriented connection.
pub(crate) struct LineConn<S> {
    io: S,
    buf: Vec<u8>,
    tls: bool,
    tag: u32,
    pub(crate) ctx: Ctx,
}

impl<S: Io> LineConn<S> {
    pub(crate) fn new(io: S, tls: bool, ctx: Ctx) -> Self {
        LineConn {
            io,
            buf: Vec::new(),
            tls,
            tag: 0,
            ctx,
        }
    }

    /// Reads one line, without its CRLF. Fails on a line longer than
    /// [`MAX_LINE`], on a closed connection and at the read deadline.
    pub(crate) async fn read_line(&mut self, step: &'static str) -> Result<String, ProbeError> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                if i + 1 > MAX_LINE {
                    return Err(self.too_long());
                }
                let mut line: Vec<u8> = self.buf.drain(..=i).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                let line = String::from_utf8_lossy(&line).into_owned();
                self.ctx.transcript.push(
                    Speaker::Server,
                    self.tls,
                    clean(&self.ctx.redactor.scrub(&line), 500),
                );
                return Ok(line);
            }
            if self.buf.len() >= MAX_LINE {
                return Err(self.too_long());
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(self.ctx.read_timeout, self.io.read(&mut chunk))
                .await
                .map_err(|_| ProbeError::Timeout { step })?
                .map_err(|e| io_error(step, e))?;
            if n == 0 {
                return Err(ProbeError::Closed { step });
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn too_long(&self) -> ProbeError {
        ProbeError::Protocol {
            protocol: self.ctx.protocol,
            detail: format!("a line longer than {MAX_LINE} bytes"),
        }
    }

    /// Sends one command line (CRLF added) and records it.
    pub(crate) async fn send(&mut self, line: &str, step: &'static str) -> Result<(), ProbeError> {
        self.ctx
            .transcript
            .push(Speaker::Client, self.tls, clean(line, 500));
        self.write(format!("{line}\r\n").as_bytes(), step).await
    }

    /// Sends a line that carries a secret; the transcript gets `shown`
    /// instead. The bytes written are wiped afterwards.
    pub(crate) async fn send_secret(
        &mut self,
        line: &str,
        shown: &str,
        step: &'static str,
    ) -> Result<(), ProbeError> {
        debug_assert!(self.tls, "secrets are only sent inside TLS");
        self.ctx
            .transcript
            .push(Speaker::Client, self.tls, shown.to_string());
        let mut bytes = Zeroizing::new(Vec::with_capacity(line.len() + 2));
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        self.write(&bytes, step).await
    }

    /// Sends `prefix` followed by a SASL message, hiding it in the
    /// transcript when it carries the secret.
    pub(crate) async fn send_sasl(
        &mut self,
        prefix: &str,
        m: &super::wire::sasl::Message,
        step: &'static str,
    ) -> Result<(), ProbeError> {
        let line = secret_line(&[prefix, &m.data]);
        if m.secret {
            self.send_secret(&line, &format!("{prefix}[secret hidden]"), step)
                .await
        } else {
            self.send(&line, step).await
        }
    }

    /// Starts a SASL exchange with `AUTH <mechanism>`, the way POP3 (RFC 5034
    /// §4) and SMTP (RFC 4954 §4) both write it: the first message goes on
    /// the same line as an initial response, except for LOGIN, whose first
    /// message answers the server's prompt. Returns the messages still to
    /// send, in order.
    pub(crate) async fn start_auth<'m>(
        &mut self,
        mechanism: super::wire::sasl::Mechanism,
        messages: &'m [super::wire::sasl::Message],
    ) -> Result<std::slice::Iter<'m, super::wire::sasl::Message>, ProbeError> {
        let name = mechanism.name();
        match messages.split_first() {
            Some((first, rest)) if mechanism != super::wire::sasl::Mechanism::Login => {
                self.send_sasl(&format!("AUTH {name} "), first, "AUTH")
                    .await?;
                Ok(rest.iter())
            }
            _ => {
                self.send(&format!("AUTH {name}"), "AUTH").await?;
                Ok(messages.iter())
            }
        }
    }

    async fn write(&mut self, bytes: &[u8], step: &'static str) -> Result<(), ProbeError> {
        let io = &mut self.io;
        tokio::time::timeout(self.ctx.read_timeout, async move {
            io.write_all(bytes).await?;
            io.flush().await
        })
        .await
        .map_err(|_| ProbeError::Timeout { step })?
        .map_err(|e| io_error(step, e))
    }

    /// A fresh IMAP tag: `a1`, `a2`, …
    pub(crate) fn next_tag(&mut self) -> String {
        self.tag += 1;
        format!("a{}", self.tag)
    }

    /// The stream for a TLS handshake after STARTTLS: fails with
    /// [`ProbeError::StarttlsInjection`] if any byte is left in the read
    /// buffer, so nothing the server (or someone in between) sent in plain
    /// text can ever be taken for part of the encrypted session.
    pub(crate) fn into_plain_checked(self) -> Result<(S, Ctx), ProbeError> {
        if !self.buf.is_empty() {
            self.ctx.transcript.note(format!(
                "{} byte(s) after the STARTTLS answer: dropping the connection",
                self.buf.len()
            ));
            return Err(ProbeError::StarttlsInjection {
                bytes: self.buf.len(),
            });
        }
        Ok((self.io, self.ctx))
    }
}

/// Joins parts of a line that carries a secret into a string sized up
/// front (so no reallocation leaves a copy behind) and wiped when dropped.
pub(crate) fn secret_line(parts: &[&str]) -> Zeroizing<String> {
    let mut line = Zeroizing::new(String::with_capacity(parts.iter().map(|p| p.len()).sum()));
    parts.iter().for_each(|p| line.push_str(p));
    line
}

pub(crate) fn io_error(step: &'static str, e: std::io::Error) -> ProbeError {
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof
        | std::io::ErrorKind::ConnectionReset
        | std::io::ErrorKind::BrokenPipe => ProbeError::Closed { step },
        _ => ProbeError::Io {
            step,
            detail: e.to_string(),
        },
    }
}

/// How many of the first bytes a [`Tee`] keeps.
pub(crate) const TEE_BYTES: usize = 64;

/// A stream that remembers the first bytes read through it, so a failed
/// TLS handshake can tell "the server answered in plain text" from other
/// failures.
pub(crate) struct Tee<S> {
    inner: S,
    seen: Vec<u8>,
}

impl<S> Tee<S> {
    pub(crate) fn new(inner: S) -> Self {
        Tee {
            inner,
            seen: Vec::new(),
        }
    }

    /// The first bytes read.
    pub(crate) fn seen(&self) -> &[u8] {
        &self.seen
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tee<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            let room = TEE_BYTES.saturating_sub(this.seen.len());
            let new = &buf.filled()[before..];
            this.seen.extend_from_slice(&new[..new.len().min(room)]);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tee<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    fn ctx() -> Ctx {
        Ctx {
            protocol: "IMAP",
            read_timeout: Duration::from_millis(200),
            transcript: Transcript::default(),
            redactor: Arc::new(Redactor::none()),
            local: None,
        }
    }

    async fn conn_with(server_sends: &[u8]) -> LineConn<tokio::io::DuplexStream> {
        let (a, mut b) = tokio::io::duplex(64 * 1024);
        b.write_all(server_sends).await.unwrap();
        // Keep the server end open so reads wait instead of seeing EOF.
        std::mem::forget(b);
        LineConn::new(a, false, ctx())
    }

    #[tokio::test]
    async fn lines_split_on_crlf_and_lf() {
        let mut c = conn_with(b"* OK hi\r\nsecond\nthird").await;
        assert_eq!(c.read_line("t").await.unwrap(), "* OK hi");
        assert_eq!(c.read_line("t").await.unwrap(), "second");
        assert_eq!(
            c.read_line("t").await.unwrap_err(),
            ProbeError::Timeout { step: "t" }
        );
    }

    #[tokio::test]
    async fn overlong_lines_are_refused() {
        let mut long = vec![b'x'; MAX_LINE + 10];
        long.extend_from_slice(b"\r\n");
        let mut c = conn_with(&long).await;
        assert!(matches!(
            c.read_line("t").await,
            Err(ProbeError::Protocol { .. })
        ));
        // Also when no line break ever comes.
        let mut c = conn_with(&vec![b'y'; MAX_LINE * 2]).await;
        assert!(matches!(
            c.read_line("t").await,
            Err(ProbeError::Protocol { .. })
        ));
    }

    #[tokio::test]
    async fn eof_is_closed() {
        let (a, b) = tokio::io::duplex(1024);
        drop(b);
        let mut c = LineConn::new(a, false, ctx());
        assert_eq!(
            c.read_line("greeting").await.unwrap_err(),
            ProbeError::Closed { step: "greeting" }
        );
    }

    #[tokio::test]
    async fn leftover_bytes_at_the_switch_are_injection() {
        let mut c = conn_with(b"a1 OK Begin TLS\r\n* CAPABILITY injected\r\n").await;
        c.read_line("starttls").await.unwrap();
        assert_eq!(
            c.into_plain_checked().err(),
            Some(ProbeError::StarttlsInjection { bytes: 23 })
        );
        let mut c = conn_with(b"a1 OK Begin TLS\r\n").await;
        c.read_line("starttls").await.unwrap();
        assert!(c.into_plain_checked().is_ok());
    }

    #[tokio::test]
    async fn transcript_is_cleaned_and_secret_lines_hidden() {
        let (a, mut b) = tokio::io::duplex(1024);
        b.write_all(b"* OK \x1b[2Jhi\r\n").await.unwrap();
        let mut c = LineConn::new(a, true, ctx());
        c.read_line("t").await.unwrap();
        c.send_secret("AUTH PLAIN c2VjcmV0", "AUTH PLAIN [hidden]", "t")
            .await
            .unwrap();
        let lines = c.ctx.transcript.take();
        assert_eq!(lines[0].text, "* OK ?[2Jhi");
        assert_eq!(lines[1].text, "AUTH PLAIN [hidden]");
        let mut sent = vec![0u8; 64];
        let n = b.read(&mut sent).await.unwrap();
        assert_eq!(&sent[..n], b"AUTH PLAIN c2VjcmV0\r\n");
    }

    #[tokio::test]
    async fn tee_keeps_only_the_first_bytes() {
        let (a, mut b) = tokio::io::duplex(1024);
        b.write_all(&[b'z'; 100]).await.unwrap();
        let mut t = Tee::new(a);
        let mut got = vec![0u8; 100];
        t.read_exact(&mut got).await.unwrap();
        assert_eq!(t.seen(), &[b'z'; TEE_BYTES][..]);
    }
}
