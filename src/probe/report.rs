//! What a probe learnt about one server: the facts, no judgement. The
//! diagnosis ([`crate::diagnose`]) turns these into findings.

use serde::{Serialize, Serializer};

use super::conn::TranscriptLine;
use super::error::ProbeError;
use super::tls::TlsReport;
use crate::settings::ServerUrl;

/// The outcome of the login step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoginStatus {
    /// The server accepted the credentials.
    Ok,
    /// The server rejected them.
    Failed,
    /// No login was tried (no secret given, no usable mechanism, or the
    /// probe stopped earlier).
    Skipped,
    /// A secret was given but the connection was not protected by a
    /// trusted TLS session, so it was not sent.
    RefusedInsecure,
}

/// The report of one probed server.
#[derive(Debug, Clone, Serialize)]
pub struct ServerReport {
    /// The server.
    #[serde(serialize_with = "as_string")]
    pub url: ServerUrl,
    /// The addresses its name resolved to.
    pub addresses: Vec<String>,
    /// Whether a TCP connection was made.
    pub reachable: bool,
    /// The TLS picture, when a handshake was tried.
    pub tls: Option<TlsReport>,
    /// The greeting, when it came inside TLS (text sent before TLS is
    /// never reported as the server's word: anyone on the path could have
    /// written it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub greeting: Option<String>,
    /// The capabilities, as the server listed them: asked again inside TLS
    /// after STARTTLS; those learnt before are discarded.
    pub capabilities: Vec<String>,
    /// Whether [`ServerReport::capabilities`] came over a protected
    /// connection.
    pub capabilities_protected: bool,
    /// Whether STARTTLS/STLS was offered on the plain connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starttls_offered: Option<bool>,
    /// SASL mechanisms offered (upper case).
    pub auth_mechanisms: Vec<String>,
    /// Whether the server offers a way to log in with a password
    /// (PLAIN, LOGIN, or the protocol's own command).
    pub password_login_offered: bool,
    /// Whether the server offers OAuth2 (XOAUTH2 or OAUTHBEARER).
    pub oauth_offered: bool,
    /// The login step.
    pub login: LoginStatus,
    /// The mechanism used to log in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_mechanism: Option<String>,
    /// The server's answer to the login (cleaned, secrets removed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_reply: Option<String>,
    /// A secret was given but the server offers no mechanism for it.
    pub no_usable_mechanism: bool,
    /// The IMAP server greeted with PREAUTH.
    pub preauth: bool,
    /// A referral the server gave (never followed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referral: Option<String>,
    /// Why the probe stopped early.
    #[serde(serialize_with = "error_json")]
    pub error: Option<ProbeError>,
    /// How long the probe took, in milliseconds.
    pub ms: u64,
    /// What was said, for `-v` (secrets replaced).
    #[serde(skip)]
    pub transcript: Vec<TranscriptLine>,
}

impl ServerReport {
    /// An empty report for `url`, before anything happened.
    pub fn new(url: ServerUrl) -> ServerReport {
        ServerReport {
            url,
            addresses: Vec::new(),
            reachable: false,
            tls: None,
            greeting: None,
            capabilities: Vec::new(),
            capabilities_protected: false,
            starttls_offered: None,
            auth_mechanisms: Vec::new(),
            password_login_offered: false,
            oauth_offered: false,
            login: LoginStatus::Skipped,
            login_mechanism: None,
            login_reply: None,
            no_usable_mechanism: false,
            preauth: false,
            referral: None,
            error: None,
            ms: 0,
            transcript: Vec::new(),
        }
    }

    /// Whether the certificate was checked and found valid.
    pub fn cert_valid(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.cert_valid)
    }

    /// Whether the probe went through without an error.
    pub fn works(&self) -> bool {
        self.error.is_none()
    }
}

fn as_string<S: Serializer>(u: &ServerUrl, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(u)
}

fn error_json<S: Serializer>(e: &Option<ProbeError>, s: S) -> Result<S::Ok, S::Error> {
    match e {
        None => s.serialize_none(),
        Some(e) => serde_json::json!({"code": e.code(), "message": e.to_string()}).serialize(s),
    }
}
