//! `check`: from an address (and perhaps given servers) to findings with
//! fixes.
//!
//! The flow is one way: the [`CheckRequest`] names the address; the
//! servers are the given ones or those [`crate::lookup`] discovers; each is
//! probed ([`crate::probe`]) concurrently; the [`rules`] turn the probes'
//! facts and the provider table's knowledge into [`Finding`]s, each with a
//! message and a provider-aware fix ([`fixes`]); [`verdict`] sums it up in
//! one sentence a non-expert understands. The result is the `check --json`
//! document of the interface.

pub mod fixes;
pub mod rules;
pub mod verdict;

use futures::future::join_all;
use serde::Serialize;

use crate::address::EmailAddress;
pub use crate::finding::FindingCode;
use crate::lookup::{self, LookupError, Options};
use crate::probe::{self, Credentials, ProbeOptions, ServerReport};
use crate::provider::{Provider, ProviderTable};
use crate::settings::{AuthMethod, ProviderRef, Server, ServerUrl, Settings};

/// What to check.
#[derive(Debug)]
pub struct CheckRequest {
    /// The address.
    pub email: EmailAddress,
    /// The incoming server to check instead of the discovered one.
    pub incoming: Option<ServerUrl>,
    /// The outgoing server to check instead of the discovered one.
    pub outgoing: Option<ServerUrl>,
    /// The username instead of the discovered one.
    pub username: Option<String>,
    /// The secret to log in with (its username is replaced per server).
    pub credentials: Option<Credentials>,
}

/// Which side of the account a server is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Receiving (IMAP or POP3).
    Incoming,
    /// Sending (SMTP submission).
    Outgoing,
}

/// A server chosen for checking, and why.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Incoming or outgoing.
    pub role: Role,
    /// The server.
    pub url: ServerUrl,
    /// The username a client would use.
    pub username: String,
    /// The authentication methods the settings expect.
    pub auth: Vec<AuthMethod>,
    /// Given on the command line (rather than discovered).
    pub given: bool,
}

/// One server in the `check` document: its role and the probe's facts.
#[derive(Debug, Clone, Serialize)]
pub struct ServerCheck {
    /// Incoming or outgoing.
    pub role: Role,
    /// Whether it was probed (not with `--offline`).
    pub probed: bool,
    /// The username used.
    pub username: String,
    /// What the probe found.
    #[serde(flatten)]
    pub report: ServerReport,
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Mail will not work (or is not safe) this way.
    Error,
    /// Works, but something should change.
    Warning,
    /// Worth knowing.
    Info,
}

/// A finding: what is wrong, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// How bad.
    pub severity: Severity,
    /// A stable code (interface.md).
    pub code: FindingCode,
    /// The server concerned (`null` for the account as a whole).
    pub server: Option<String>,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub fix: String,
    /// A help page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// The `check --json` document.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The address (Unicode domain).
    pub email: String,
    /// The provider, when known.
    pub provider: Option<ProviderRef>,
    /// One sentence for people.
    pub verdict: String,
    /// The servers checked.
    pub servers: Vec<ServerCheck>,
    /// What is wrong, most severe first.
    pub findings: Vec<Finding>,
    /// The sources discovery consulted (as in `lookup --json`).
    pub tried: Vec<lookup::Tried>,
}

impl CheckReport {
    /// Whether any finding is an error (exit status 1).
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// Why a check could not even start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// No server given, and none discovered.
    #[error(
        "{0}; give the servers with --incoming and --outgoing (e.g. --incoming imaps://imap.example.com:993 --outgoing smtp://smtp.example.com:587)"
    )]
    NoServers(LookupError),
}

/// Everything the rules need besides the probes.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The address.
    pub email: &'a EmailAddress,
    /// The provider, from the table.
    pub provider: Option<&'a Provider>,
    /// The discovered (recommended) settings.
    pub discovered: Option<&'a Settings>,
    /// The kind of secret given, if any.
    pub secret: Option<probe::wire::sasl::SecretKind>,
    /// The servers were not probed (`--offline`).
    pub offline: bool,
}

/// Runs a check: discovery, probes (unless `lookup_opts.offline`),
/// diagnosis.
pub async fn check(
    req: &CheckRequest,
    lookup_opts: &Options,
    probe_opts: &ProbeOptions,
) -> Result<CheckReport, CheckError> {
    let discovered = lookup::lookup(&req.email, lookup_opts).await;
    let (settings, tried, lookup_error) = match discovered {
        Ok(l) => (Some(l.settings), l.tried, None),
        Err(e) => (None, e.tried().to_vec(), Some(e)),
    };
    let plan = plan(req, settings.as_ref());
    if plan.is_empty() {
        // Nothing given and nothing discovered: `plan` is empty only when
        // the lookup failed.
        if let Some(e) = lookup_error {
            return Err(CheckError::NoServers(e));
        }
    }
    let table = ProviderTable::builtin();
    let provider = settings
        .as_ref()
        .and_then(|s| s.provider.as_ref())
        .and_then(|p| table.by_id(&p.id))
        .or_else(|| table.by_domain(req.email.domain()));
    let offline = lookup_opts.offline;
    let probes = plan.iter().map(|p| async move {
        if offline {
            return ServerReport::new(p.url.clone());
        }
        match &req.credentials {
            Some(c) => probe::probe_login(&p.url, probe_opts, &c.with_username(&p.username)).await,
            None => probe::probe(&p.url, probe_opts).await,
        }
    });
    let reports = join_all(probes).await;
    let ctx = Context {
        email: &req.email,
        provider,
        discovered: settings.as_ref(),
        secret: req.credentials.as_ref().map(Credentials::kind),
        offline,
    };
    let servers: Vec<ServerCheck> = plan
        .iter()
        .zip(reports)
        .map(|(p, report)| ServerCheck {
            role: p.role,
            probed: !offline,
            username: p.username.clone(),
            report,
        })
        .collect();
    let findings = rules::diagnose(&ctx, &plan, &servers);
    let verdict = verdict::verdict(&ctx, &servers, &findings);
    Ok(CheckReport {
        email: req.email.to_string(),
        provider: provider.map(Provider::reference),
        verdict,
        servers,
        findings,
        tried,
    })
}

/// The servers to check: for each role the given one, else the
/// discovered best one.
pub fn plan(req: &CheckRequest, discovered: Option<&Settings>) -> Vec<Planned> {
    let pick = |role: Role, given: Option<&ServerUrl>, found: Option<&Server>| {
        let username = |s: Option<&Server>| {
            req.username
                .clone()
                .or_else(|| s.map(|s| s.username.clone()))
                .unwrap_or_else(|| req.email.login_address())
        };
        match (given, found) {
            (Some(url), _) => {
                // The discovered entry for the same server, if any, tells
                // its username and methods.
                let same = discovered.and_then(|d| {
                    d.incoming
                        .iter()
                        .chain(&d.outgoing)
                        .find(|s| s.url() == *url)
                });
                Some(Planned {
                    role,
                    url: url.clone(),
                    username: username(same.or(found)),
                    auth: same
                        .map(|s| s.auth.clone())
                        .unwrap_or_else(|| vec![AuthMethod::Password]),
                    given: true,
                })
            }
            (None, Some(s)) => Some(Planned {
                role,
                url: s.url(),
                username: username(Some(s)),
                auth: s.auth.clone(),
                given: false,
            }),
            (None, None) => None,
        }
    };
    let d_in = discovered.and_then(|d| d.incoming.first());
    let d_out = discovered.and_then(|d| d.outgoing.first());
    [
        pick(Role::Incoming, req.incoming.as_ref(), d_in),
        pick(Role::Outgoing, req.outgoing.as_ref(), d_out),
    ]
    .into_iter()
    .flatten()
    .collect()
}
