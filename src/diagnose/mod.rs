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
pub mod missing;
pub mod rules;
pub mod verdict;

use std::sync::Arc;

use futures::future::join_all;
use serde::Serialize;

use crate::address::EmailAddress;
pub use crate::finding::FindingCode;
use crate::lookup::{self, LookupError, Options};
use crate::probe::{self, Credentials, ProbeOptions, ServerReport};
use crate::provider::{Provider, ProviderTable};
use crate::settings::{AuthMethod, Protocol, ProviderRef, Security, Server, ServerUrl, Settings};

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
    /// Set on a server mailsetup tried on its own because this one could
    /// not be reached: the other submission port (465 for 587, 587 for
    /// 465) on the same host. It says which server it stands in for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instead_of: Option<String>,
    /// What the probe found.
    #[serde(flatten)]
    pub report: ServerReport,
}

impl ServerCheck {
    /// Whether this is a stand-in mailsetup tried itself, not one of the
    /// settings.
    pub fn is_alternative(&self) -> bool {
        self.instead_of.is_some()
    }
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
    /// Discovery could not be set up (a bad `--ca-file`, no DNS
    /// configuration): a usage or internal error, not a finding.
    #[error("{0}")]
    Setup(LookupError),
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

/// Told what a running check is doing, one short line at a time (for a
/// spinner on a terminal).
pub type Progress = Arc<dyn Fn(&str) + Send + Sync>;

/// Runs a check: discovery, probes (unless `lookup_opts.offline`),
/// diagnosis.
pub async fn check(
    req: &CheckRequest,
    lookup_opts: &Options,
    probe_opts: &ProbeOptions,
) -> Result<CheckReport, CheckError> {
    check_with_progress(req, lookup_opts, probe_opts, None).await
}

/// [`check`], telling `progress` each step as it starts.
///
/// With only an address (no `--incoming`, no `--outgoing`), a side for
/// which discovery found nothing usable is an error finding of its own
/// (`no-incoming`, `no-outgoing`), preceded by why each candidate that
/// discovery probed was rejected; a discovery that found nothing at all
/// is such a report too, not an error.
pub async fn check_with_progress(
    req: &CheckRequest,
    lookup_opts: &Options,
    probe_opts: &ProbeOptions,
    progress: Option<Progress>,
) -> Result<CheckReport, CheckError> {
    let say = |line: String| {
        if let Some(p) = &progress {
            p(&line);
        }
    };
    say(format!(
        "Looking up the settings of {}",
        req.email.domain_unicode()
    ));
    let observer = progress.clone().map(|p| {
        Arc::new(move |t: &lookup::Tried| {
            p(&format!(
                "Looking up settings… {} {}: {}",
                t.source,
                t.url,
                crate::discover::trail::result_word(t.result)
            ))
        }) as crate::discover::Observer
    });
    let discovered = lookup::lookup_observed(&req.email, lookup_opts, observer).await;
    let (settings, tried, lookup_error) = match discovered {
        Ok(l) => (Some(l.settings), l.tried, None),
        Err(e @ LookupError::Setup(_)) => return Err(CheckError::Setup(e)),
        Err(e) => (None, e.tried().to_vec(), Some(e)),
    };
    let plan = plan(req, settings.as_ref());
    let table = ProviderTable::builtin();
    let provider = settings
        .as_ref()
        .and_then(|s| s.provider.as_ref())
        .and_then(|p| table.by_id(&p.id))
        .or_else(|| table.by_domain(req.email.domain()));
    let offline = lookup_opts.offline;
    if !offline && !plan.is_empty() {
        let urls: Vec<String> = plan.iter().map(|p| p.url.to_string()).collect();
        say(format!("Checking {}", urls.join(" and ")));
    }
    let probe_one = |url: ServerUrl, username: String| async move {
        match &req.credentials {
            Some(c) => probe::probe_login(&url, probe_opts, &c.with_username(&username)).await,
            None => probe::probe(&url, probe_opts).await,
        }
    };
    let probes = plan.iter().map(|p| async {
        if offline {
            return ServerReport::new(p.url.clone());
        }
        probe_one(p.url.clone(), p.username.clone()).await
    });
    let reports = join_all(probes).await;
    let mut servers: Vec<ServerCheck> = plan
        .iter()
        .zip(reports)
        .map(|(p, report)| ServerCheck {
            role: p.role,
            probed: !offline,
            username: p.username.clone(),
            instead_of: None,
            report,
        })
        .collect();
    // A blocked submission port: try the other one on the same host.
    let alternatives: Vec<(usize, ServerUrl)> = servers
        .iter()
        .enumerate()
        .filter_map(|(i, s)| Some((i, other_submission_port(&s.report)?)))
        .collect();
    if !offline && !alternatives.is_empty() {
        let urls: Vec<String> = alternatives.iter().map(|(_, u)| u.to_string()).collect();
        say(format!("Blocked: trying {} instead", urls.join(" and ")));
        let reports = join_all(alternatives.iter().map(|(i, url)| {
            let username = servers[*i].username.clone();
            probe_one(url.clone(), username)
        }))
        .await;
        for ((i, _), report) in alternatives.iter().zip(reports) {
            let original = &servers[*i];
            servers.push(ServerCheck {
                role: original.role,
                probed: true,
                username: original.username.clone(),
                instead_of: Some(original.report.url.to_string()),
                report,
            });
        }
    }
    let ctx = Context {
        email: &req.email,
        provider,
        discovered: settings.as_ref(),
        secret: req.credentials.as_ref().map(Credentials::kind),
        offline,
    };
    let mut findings = rules::diagnose(&ctx, &plan, &servers[..plan.len()]);
    missing::alternatives(&servers, &mut findings);
    if req.incoming.is_none() && req.outgoing.is_none() {
        findings.extend(missing::missing_sides(
            &ctx,
            &plan,
            &tried,
            lookup_error.as_ref(),
        ));
        findings.sort_by_key(|f| f.severity);
    }
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

/// The other submission port on the same host, when `r` is a submission
/// server (587 with STARTTLS, 465 with TLS) that could not be reached.
fn other_submission_port(r: &ServerReport) -> Option<ServerUrl> {
    let url = &r.url;
    if url.protocol != Protocol::Smtp
        || r.error.as_ref().map(|e| e.code()) != Some(FindingCode::TcpUnreachable)
    {
        return None;
    }
    let (security, port) = match (url.security, url.port) {
        (Security::Starttls, 587) => (Security::Tls, 465),
        (Security::Tls, 465) => (Security::Starttls, 587),
        _ => return None,
    };
    Some(ServerUrl {
        security,
        port,
        ..url.clone()
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
