//! Probes: connect to a mail server and find out what it really does.
//!
//! [`probe`] examines one server without logging in: DNS, TCP, TLS (the
//! version, cipher and certificate), STARTTLS, capabilities and
//! authentication mechanisms. [`probe_login`] also logs in with a password
//! or OAuth2 token. Both return a [`ServerReport`] of facts; deciding what
//! is wrong is [`crate::diagnose`]'s job. [`verify_settings`] uses the
//! capabilities-only probe to confirm discovered settings (`lookup
//! --verify`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use mailsetup::probe::{self, ProbeOptions};
//! let opts = ProbeOptions::new(std::time::Duration::from_secs(10), None, None)?;
//! let report = probe::probe(&"imaps://imap.example.com".parse()?, &opts).await;
//! println!("{:?} {:?}", report.tls, report.auth_mechanisms);
//! # Ok(()) }
//! ```
//!
//! # Why the dialogues are written by hand
//!
//! IMAP, POP3 and SMTP clients exist as crates (async-imap, lettre), but
//! they throw away or reuse their read buffer when they switch to TLS after
//! STARTTLS, so they cannot notice bytes injected between the STARTTLS
//! answer and the handshake — the attack class of "Why TLS is better
//! without STARTTLS" (USENIX Security 2021) — and they stop at the first
//! error where a probe must say exactly which step failed. The dialogues a
//! probe needs are small (greeting, capabilities, STARTTLS, one login), so
//! they are written here: [`wire`] parses every reply without I/O, the
//! connection layer bounds every line and puts a deadline on every read,
//! and [`flow`] models STARTTLS as states that consume themselves. TLS
//! itself is tokio-rustls; DNS is hickory-resolver.
//!
//! # Security rules kept here
//!
//! - A secret is sent only inside TLS whose certificate webpki accepted;
//!   otherwise `login` is `refused-insecure` and nothing is sent.
//! - A certificate failure stops the probe and is reported.
//! - After STARTTLS every byte already read must have been consumed, and
//!   the capabilities are asked again; a refused STARTTLS is never followed
//!   by anything in plain text.
//! - An IMAP PREAUTH greeting before TLS stops the probe at once.
//! - Server text is cleaned of control characters and of every form of the
//!   secret before it is stored; text from before TLS is never reported as
//!   the server's greeting.
//! - Referrals (IMAP `[REFERRAL]`) are reported, never followed.

mod cert;
mod conn;
mod dial;
mod drive;
mod error;
mod flow;
mod imap;
mod pop3;
mod report;
mod secret;
mod smtp;
mod tls;
mod verify;
pub mod wire;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use cert::rfc3339;
pub use conn::{Speaker, TranscriptLine};
pub use error::ProbeError;
pub use report::{LoginStatus, ServerReport};
pub use secret::{
    Credentials, MAX_SECRET_BYTES, Redactor, SecretError, read_secret, secret_from_line,
};
pub use tls::TlsReport;
pub use verify::verify_settings;

use crate::net::dns::Dns;
use crate::net::limit::HostLimits;
use crate::net::policy::Guard;
use crate::net::tls::TlsSetupError;
use crate::settings::{Protocol, ServerUrl};

/// How probes run: deadlines, DNS, trusted roots. Build once, share among
/// concurrent probes.
#[derive(Clone)]
pub struct ProbeOptions {
    /// The deadline of one whole probe.
    pub timeout: Duration,
    /// The deadline of each step: DNS query, connect, each read and write,
    /// the TLS handshake.
    pub read_timeout: Duration,
    tls: tls::TlsSetup,
    dns: Arc<Result<Dns, String>>,
    guard: Guard,
    limits: HostLimits,
}

impl std::fmt::Debug for ProbeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeOptions")
            .field("timeout", &self.timeout)
            .field("read_timeout", &self.read_timeout)
            .field("dns", &self.dns.as_ref().as_ref().map(|_| "resolver"))
            .finish_non_exhaustive()
    }
}

impl ProbeOptions {
    /// Options with an overall `timeout` per probe, DNS from `dns` (or the
    /// system's) and the roots of `ca_file` trusted besides the built-in
    /// and system ones. Must be called inside a tokio runtime (the
    /// resolver's requirement). A resolver that cannot be set up is
    /// reported by each probe of a host name, so IP addresses still work.
    pub fn new(
        timeout: Duration,
        dns: Option<SocketAddr>,
        ca_file: Option<&Path>,
    ) -> Result<ProbeOptions, TlsSetupError> {
        let resolver = Dns::new(dns).map_err(|e| e.to_string());
        Self::build(timeout, resolver, ca_file)
    }

    /// Options sharing an existing resolver (discovery's).
    pub fn with_dns(
        timeout: Duration,
        dns: Dns,
        ca_file: Option<&Path>,
    ) -> Result<ProbeOptions, TlsSetupError> {
        Self::build(timeout, Ok(dns), ca_file)
    }

    fn build(
        timeout: Duration,
        dns: Result<Dns, String>,
        ca_file: Option<&Path>,
    ) -> Result<ProbeOptions, TlsSetupError> {
        // One step may take a third of the whole, so that a silent port
        // still leaves time to find out why; never more than 10 seconds.
        let read_timeout = (timeout / 3).clamp(Duration::from_millis(100), Duration::from_secs(10));
        Ok(ProbeOptions {
            timeout,
            read_timeout,
            tls: tls::TlsSetup::new(ca_file)?,
            dns: Arc::new(dns),
            guard: Guard::default(),
            limits: HostLimits::unlimited(),
        })
    }

    /// The same options, dialling only where `guard` allows and spending
    /// its DNS budget (discovery; see [`crate::net::policy`]). Without, any
    /// address and port may be dialled.
    pub fn guarded(mut self, guard: Guard) -> ProbeOptions {
        if let Ok(dns) = self.dns.as_ref() {
            self.dns = Arc::new(Ok(dns.guarded(guard.clone())));
        }
        self.guard = guard;
        self
    }

    /// The same options, at most `limits` connections at a time per host
    /// (a scan's probes, all together).
    pub fn limited(mut self, limits: HostLimits) -> ProbeOptions {
        self.limits = limits;
        self
    }

    fn resolver(&self) -> Result<&Dns, &str> {
        self.dns.as_ref().as_ref().map_err(String::as_str)
    }
}

/// Examines `url` without logging in: capabilities, TLS, certificate.
pub async fn probe(url: &ServerUrl, opts: &ProbeOptions) -> ServerReport {
    run(url, opts, None).await
}

/// Examines `url` and logs in with `creds` (only inside trusted TLS).
pub async fn probe_login(
    url: &ServerUrl,
    opts: &ProbeOptions,
    creds: &Credentials,
) -> ServerReport {
    run(url, opts, Some(creds)).await
}

async fn run(url: &ServerUrl, opts: &ProbeOptions, creds: Option<&Credentials>) -> ServerReport {
    let started = Instant::now();
    let mut report = ServerReport::new(url.clone());
    let transcript = conn::Transcript::default();
    let work = async {
        match url.protocol {
            Protocol::Imap => {
                drive::drive::<imap::Imap>(url, opts, creds, &mut report, &transcript).await
            }
            Protocol::Pop3 => {
                drive::drive::<pop3::Pop3>(url, opts, creds, &mut report, &transcript).await
            }
            Protocol::Smtp => {
                drive::drive::<smtp::Smtp>(url, opts, creds, &mut report, &transcript).await
            }
        }
    };
    let result = match tokio::time::timeout(opts.timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(ProbeError::Timeout {
            step: "the whole probe",
        }),
    };
    if let Err(e) = result {
        transcript.note(format!("stopped: {e}"));
        // A secret was given but never sent because no trusted TLS session
        // came about.
        let tls_failed = e.code().is_tls_failure();
        if creds.is_some() && report.login == LoginStatus::Skipped && tls_failed {
            report.login = LoginStatus::RefusedInsecure;
        }
        report.error = Some(e);
    }
    report.ms = started.elapsed().as_millis() as u64;
    report.transcript = transcript.take();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    #[tokio::test]
    async fn probe_futures_are_send_for_servers() {
        let opts = ProbeOptions::new(Duration::from_secs(1), None, None).unwrap();
        let url: ServerUrl = "imaps://127.0.0.1:1".parse().unwrap();
        assert_send(&probe(&url, &opts));
    }

    #[tokio::test]
    async fn step_deadline_is_a_third_of_the_whole_within_bounds() {
        let o = ProbeOptions::new(Duration::from_secs(3), None, None).unwrap();
        assert_eq!(o.read_timeout, Duration::from_secs(1));
        let o = ProbeOptions::new(Duration::from_secs(600), None, None).unwrap();
        assert_eq!(o.read_timeout, Duration::from_secs(10));
        let o = ProbeOptions::new(Duration::from_millis(30), None, None).unwrap();
        assert_eq!(o.read_timeout, Duration::from_millis(100));
    }
}
