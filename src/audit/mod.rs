//! The domain audit (`check DOMAIN`): what a domain publishes for mail
//! clients, checked the way "Automatic Insecurity" (NDSS 2025) measured it.
//!
//! Every source discovery knows is asked, all at once and to the end (no
//! source stops another):
//!
//! - **autoconfig** — `https://autoconfig.<domain>/mail/config-v1.1.xml`,
//!   `https://<domain>/.well-known/autoconfig/mail/config-v1.1.xml` and the
//!   same two over plain HTTP;
//! - **Autodiscover** — the POX request POSTed to `https://<domain>/…`,
//!   `https://autodiscover.<domain>/…`, the `_autodiscover._tcp` SRV target
//!   and `http://autodiscover.<domain>/…`; never with credentials, noting
//!   a 401 and its `WWW-Authenticate`;
//! - **SRV** (RFC 6186/8314) — with the DNSSEC validation state;
//! - **MX** — the mail exchangers, and the provider they reveal.
//!
//! What each published is kept ([`Published`]: URL or name asked, HTTP or
//! HTTPS, status, DNSSEC, servers). Then every server published by the
//! domain's own sources is probed ([`crate::probe::probe`]: TLS,
//! certificate, STARTTLS, capabilities; never a login). [`rules`] turns it
//! all into findings addressed to the domain's operator.
//!
//! The HTTP requests go through the audit's own client ([`fetch`]), which
//! reports statuses and headers discovery's client hides; the rules are the
//! same (no credentials, HTTPS-only redirects, size limits, deadlines).

pub mod codes;
pub mod fetch;
pub mod human;
pub mod rules;
pub mod xml;

use std::collections::BTreeSet;
use std::time::Instant as StdInstant;

use futures::future::join_all;
use reqwest::Url;
use serde::{Serialize, Serializer};
use tokio::time::Instant;

use crate::address::EmailAddress;
use crate::autodiscover::request::request as pox_request;
use crate::autodiscover::response::{self as pox, PoxResponse};
use crate::diagnose::{Finding, Role, Severity};
use crate::discover::domain::{autodiscover_forbidden, within};
use crate::discover::srv::SERVICES;
use crate::discover::{SetupError, Shared};
use crate::lookup::{Options, TryResult};
use crate::net::dns::DnsError;
use crate::net::limit::HostLimits;
use crate::net::policy::Guard;
use crate::probe::ServerReport;
use crate::provider::ProviderTable;
use crate::settings::{Security, Server, ServerUrl, Source};
use fetch::{Answer, Failure};

/// At most this many published servers are probed.
pub const MAX_PROBES: usize = 12;

/// What one source published (one question asked).
#[derive(Debug, Clone, Serialize)]
pub struct Published {
    /// The kind of source.
    pub source: Source,
    /// What was asked: a URL, or a DNS name.
    pub asked: String,
    /// What came of it.
    pub result: TryResult,
    /// `https`, `http` or `dns`.
    pub transport: &'static str,
    /// The HTTP status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// For DNS answers: whether DNSSEC validated them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dnssec: Option<bool>,
    /// The `WWW-Authenticate` header of a 401.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub www_authenticate: Option<String>,
    /// The servers it names.
    #[serde(serialize_with = "urls")]
    pub servers: Vec<Server>,
    /// Other things it named (MX hosts, SRV targets, a redirect).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// What went wrong, or a note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// How long it took, in milliseconds.
    pub ms: u64,
}

impl Published {
    fn new(source: Source, asked: impl Into<String>, transport: &'static str) -> Published {
        Published {
            source,
            asked: asked.into(),
            result: TryResult::NotFound,
            transport,
            status: None,
            dnssec: None,
            www_authenticate: None,
            servers: Vec::new(),
            names: Vec::new(),
            detail: None,
            ms: 0,
        }
    }

    /// Whether it named servers.
    pub fn found(&self) -> bool {
        self.result == TryResult::Found && !self.servers.is_empty()
    }
}

fn urls<S: Serializer>(servers: &[Server], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(servers.iter().map(|x| x.url().to_string()))
}

/// One probed server.
#[derive(Debug, Clone, Serialize)]
pub struct AuditServer {
    /// Incoming or outgoing.
    pub role: Role,
    /// The sources that publish it.
    pub published_by: Vec<Source>,
    /// What the probe found.
    #[serde(flatten)]
    pub report: ServerReport,
}

/// The `check DOMAIN --json` document.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    /// The domain (Unicode).
    pub domain: String,
    /// One sentence.
    pub verdict: String,
    /// What each source published.
    pub sources: Vec<Published>,
    /// The published servers, probed.
    pub servers: Vec<AuditServer>,
    /// What is wrong (and right), most severe first.
    pub findings: Vec<Finding>,
}

impl AuditReport {
    /// Whether any finding is an error (exit status 1).
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// Audits domains: the resolver, clients and limits, built once.
#[derive(Clone)]
pub struct Auditor {
    shared: Shared,
    http: fetch::Client,
}

impl Auditor {
    /// Built from the lookup options, sharing `shared`'s resolver; at most
    /// `limits` connections per host.
    pub fn new(opts: &Options, shared: Shared, limits: HostLimits) -> Result<Auditor, SetupError> {
        let tls = crate::net::tls::client_config(opts.ca_file.as_deref())?;
        let shared = shared.limited(limits.clone());
        let http =
            fetch::Client::new(&tls, shared.dns.clone(), limits).map_err(SetupError::Http)?;
        Ok(Auditor { shared, http })
    }

    /// Audits `domain` (ASCII) within `opts.timeout`. Each audit has a
    /// [`Guard`] of its own (`opts.policy`): nothing one domain's answers
    /// did decides where the next domain's audit may connect.
    pub async fn audit(&self, domain: &str, opts: &Options) -> AuditReport {
        let deadline = Instant::now() + opts.timeout;
        let guard = Guard::new(opts.policy);
        let guard = &guard;
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        // Placeholders in configs are filled in for a made-up mailbox.
        let email: Option<EmailAddress> = format!("postmaster@{domain}").parse().ok();
        let mut sources = Vec::new();
        if let Some(email) = &email {
            let (a, b, c, d) = tokio::join!(
                self.autoconfig(&domain, email, deadline, guard),
                self.autodiscover(&domain, email, deadline, guard),
                self.srv(&domain, email),
                self.mx(&domain, email),
            );
            sources.extend(a);
            sources.extend(b);
            sources.extend(c);
            sources.extend(d);
        }
        let servers = self.probe_all(&sources, deadline, guard).await;
        let findings = rules::findings(&domain, &sources, &servers);
        let verdict = rules::verdict(&domain, &sources, &findings);
        let unicode = email
            .as_ref()
            .map_or(domain.clone(), |e| e.domain_unicode().to_string());
        AuditReport {
            domain: unicode,
            verdict,
            sources,
            servers,
            findings,
        }
    }

    async fn autoconfig(
        &self,
        d: &str,
        email: &EmailAddress,
        deadline: Instant,
        guard: &Guard,
    ) -> Vec<Published> {
        let urls = [
            format!(
                "https://autoconfig.{d}/mail/config-v1.1.xml?emailaddress={}",
                email.ascii()
            ),
            format!("https://{d}/.well-known/autoconfig/mail/config-v1.1.xml"),
            format!("http://autoconfig.{d}/mail/config-v1.1.xml"),
            format!("http://{d}/.well-known/autoconfig/mail/config-v1.1.xml"),
        ];
        let asks = urls
            .iter()
            .filter_map(|u| Url::parse(u).ok())
            .map(|url| async move {
                let label = url.to_string();
                let (mut p, answer) = self
                    .ask(Source::Autoconfig, label, url, None, deadline, guard)
                    .await;
                if let Some(a) = answer {
                    read_config(&mut p, &a.body, email);
                }
                p
            });
        join_all(asks).await
    }

    /// Fetches `url` (POSTing `body` when given) as one published source
    /// labelled `asked`: its transport, time and failure go into the entry;
    /// the answer comes back when there is one to read.
    async fn ask(
        &self,
        source: Source,
        asked: String,
        url: Url,
        body: Option<&[u8]>,
        deadline: Instant,
        guard: &Guard,
    ) -> (Published, Option<Answer>) {
        let transport = if url.scheme() == "https" {
            "https"
        } else {
            "http"
        };
        let mut p = Published::new(source, asked, transport);
        let started = StdInstant::now();
        let answer = self.http.fetch(url, body, deadline, guard).await;
        p.ms = started.elapsed().as_millis() as u64;
        let answer = answered(&mut p, answer);
        (p, answer)
    }

    async fn autodiscover(
        &self,
        d: &str,
        email: &EmailAddress,
        deadline: Instant,
        guard: &Guard,
    ) -> Vec<Published> {
        let mut urls = vec![
            format!("https://{d}/autodiscover/autodiscover.xml"),
            format!("https://autodiscover.{d}/autodiscover/autodiscover.xml"),
            format!("http://autodiscover.{d}/autodiscover/autodiscover.xml"),
        ];
        // The SRV record, and the host it names.
        let name = format!("_autodiscover._tcp.{d}");
        let mut srv = Published::new(Source::Autodiscover, format!("SRV {name}"), "dns");
        let started = StdInstant::now();
        match self.shared.dns.srv(&name).await {
            Ok(a) => {
                srv.dnssec = Some(a.validated);
                match a.records.iter().find(|r| !r.target.is_empty()) {
                    None => srv.detail = Some("not offered (target \".\")".into()),
                    Some(t) => {
                        srv.names.push(format!("{}:{}", t.target, t.port));
                        if let Some(why) = autodiscover_forbidden(&t.target, d) {
                            srv.result = TryResult::RefusedInsecure;
                            srv.detail = Some(why);
                        } else {
                            srv.result = TryResult::Found;
                            let port = if t.port == 0 { 443 } else { t.port };
                            urls.push(format!(
                                "https://{}:{port}/autodiscover/autodiscover.xml",
                                t.target
                            ));
                        }
                    }
                }
            }
            Err(e) => dns_failed(&mut srv, &e),
        }
        srv.ms = started.elapsed().as_millis() as u64;
        let body = pox_request(&email.login_address()).into_bytes();
        let body = &body;
        let asks = urls
            .iter()
            .filter_map(|u| Url::parse(u).ok())
            .map(|url| async move {
                let label = format!("POST {url}");
                let (mut p, answer) = self
                    .ask(
                        Source::Autodiscover,
                        label,
                        url,
                        Some(body),
                        deadline,
                        guard,
                    )
                    .await;
                let Some(a) = answer else {
                    return p;
                };
                match pox::parse(&a.body) {
                    Err(e) => invalid(&mut p, &a.body, e.to_string(), "<Autodiscover"),
                    Ok(PoxResponse::Error(msg)) => {
                        p.detail = Some(format!("the server says: {msg:.200}"));
                    }
                    Ok(PoxResponse::RedirectAddr(x)) | Ok(PoxResponse::RedirectUrl(x)) => {
                        p.names.push(x.chars().take(200).collect());
                        p.detail = Some("a redirect (not followed by the audit)".into());
                    }
                    Ok(PoxResponse::Settings(protocols)) => {
                        p.servers = protocols
                            .iter()
                            .filter_map(|x| x.to_server(email))
                            .collect();
                        p.result = TryResult::Found;
                        if p.servers.is_empty() {
                            p.result = TryResult::NotFound;
                            p.detail = Some("no IMAP, POP3 or SMTP server in the answer".into());
                        }
                    }
                }
                p
            });
        let mut out = join_all(asks).await;
        out.push(srv);
        out
    }

    async fn srv(&self, d: &str, email: &EmailAddress) -> Vec<Published> {
        let asks = SERVICES.map(|(svc, protocol, security)| async move {
            let name = format!("{svc}.{d}");
            let mut p = Published::new(Source::Srv, format!("SRV {name}"), "dns");
            let started = StdInstant::now();
            match self.shared.dns.srv(&name).await {
                Ok(a) => {
                    p.dnssec = Some(a.validated);
                    for r in a
                        .records
                        .iter()
                        .filter(|r| !r.target.is_empty() && r.port != 0)
                    {
                        p.names.push(format!("{}:{}", r.target, r.port));
                        if let Ok(url) = ServerUrl::new(protocol, &r.target, r.port, security) {
                            p.servers.push(Server {
                                protocol,
                                host: url.host,
                                port: r.port,
                                security,
                                auth: vec![crate::settings::AuthMethod::Password],
                                username: email.login_address(),
                            });
                        }
                    }
                    if p.servers.is_empty() {
                        p.detail = Some("not offered (target \".\")".into());
                    } else {
                        p.result = TryResult::Found;
                    }
                }
                Err(e) => dns_failed(&mut p, &e),
            }
            p.ms = started.elapsed().as_millis() as u64;
            p
        });
        join_all(asks).await
    }

    async fn mx(&self, d: &str, email: &EmailAddress) -> Vec<Published> {
        let mut p = Published::new(Source::Mx, format!("MX {d}"), "dns");
        let started = StdInstant::now();
        match self.shared.dns.mx(d).await {
            Ok(mx) => {
                p.names = mx
                    .iter()
                    .map(|m| format!("{} {}", m.preference, m.host))
                    .collect();
                let table = ProviderTable::builtin();
                match mx.iter().find_map(|m| table.by_mx_host(&m.host)) {
                    Some(provider) => {
                        let s = provider.settings_for(email, Source::Mx);
                        p.servers = s.incoming.into_iter().chain(s.outgoing).collect();
                        p.result = TryResult::Found;
                        p.detail = Some(format!("mail is received by {}", provider.name));
                    }
                    None => {
                        p.result = TryResult::Found;
                        p.detail = Some("no known provider's MX hosts".into());
                    }
                }
            }
            Err(e) => dns_failed(&mut p, &e),
        }
        p.ms = started.elapsed().as_millis() as u64;
        vec![p]
    }

    /// Probes every server the domain's own sources publish (MX's provider
    /// is not the domain's word), each once.
    /// Each probe holds its own slot at the host (`--per-host`).
    async fn probe_all(
        &self,
        sources: &[Published],
        deadline: Instant,
        guard: &Guard,
    ) -> Vec<AuditServer> {
        let probe = self.shared.probe.clone().guarded(guard.clone());
        let probe = &probe;
        let mut seen: Vec<(ServerUrl, BTreeSet<Source>)> = Vec::new();
        for p in sources
            .iter()
            .filter(|p| p.found() && p.source != Source::Mx)
        {
            for s in &p.servers {
                let url = s.url();
                if let Some((_, by)) = seen.iter_mut().find(|(u, _)| *u == url) {
                    by.insert(p.source);
                } else if seen.len() < MAX_PROBES {
                    seen.push((url, BTreeSet::from([p.source])));
                }
            }
        }
        let probes = seen.into_iter().map(|(url, by)| async move {
            let report =
                match tokio::time::timeout_at(deadline, crate::probe::probe(&url, probe)).await {
                    Ok(r) => r,
                    Err(_) => {
                        let mut r = ServerReport::new(url.clone());
                        r.error = Some(crate::probe::ProbeError::Timeout {
                            step: "the audit's deadline",
                        });
                        r
                    }
                };
            AuditServer {
                role: if url.protocol.is_incoming() {
                    Role::Incoming
                } else {
                    Role::Outgoing
                },
                published_by: by.into_iter().collect(),
                report,
            }
        });
        join_all(probes).await
    }
}

/// Audits `domain` with a resolver and clients of its own.
pub async fn audit(domain: &str, opts: &Options) -> Result<AuditReport, SetupError> {
    let shared = Shared::new(opts)?;
    let auditor = Auditor::new(opts, shared, HostLimits::unlimited())?;
    Ok(auditor.audit(domain, opts).await)
}

/// Records an HTTP outcome; the answer when it is a 2xx with a body.
fn answered(p: &mut Published, answer: Result<Answer, Failure>) -> Option<Answer> {
    match answer {
        Err(Failure::NoSuchHost(h)) => {
            p.detail = Some(format!("no such host: {h}"));
            None
        }
        Err(Failure::Timeout) => {
            p.result = TryResult::Timeout;
            p.detail = Some("no answer before the deadline".into());
            None
        }
        Err(e) => {
            p.result = if matches!(e, Failure::TooLarge) {
                TryResult::Invalid
            } else {
                TryResult::Error
            };
            p.detail = Some(e.to_string());
            None
        }
        Ok(a) => {
            p.status = Some(a.status);
            p.www_authenticate = a.www_authenticate.clone();
            if !a.secure {
                p.transport = "http";
            }
            if let Some(loc) = &a.location {
                p.names.push(loc.clone());
                p.detail = Some(format!(
                    "redirects to {loc} (not followed: only HTTPS to HTTPS is)"
                ));
                if p.transport == "https" {
                    p.result = TryResult::RefusedInsecure;
                }
                return None;
            }
            match a.status {
                200..=299 => Some(a),
                401 | 407 => {
                    p.result = TryResult::Error;
                    p.detail = Some(format!(
                        "HTTP {}: asks for credentials (none were sent)",
                        a.status
                    ));
                    None
                }
                404 | 410 => None,
                s => {
                    p.result = TryResult::Error;
                    p.detail = Some(format!("HTTP {s}"));
                    None
                }
            }
        }
    }
}

/// Reads an autoconfig file into `p`.
fn read_config(p: &mut Published, body: &[u8], email: &EmailAddress) {
    match crate::autoconfig::parse(body) {
        Err(e) => invalid(p, body, e.to_string(), "<clientConfig"),
        Ok(cfg) => {
            let provider = cfg
                .providers
                .iter()
                .find(|x| {
                    x.domains
                        .iter()
                        .any(|d| d.eq_ignore_ascii_case(email.domain()))
                })
                .unwrap_or(&cfg.providers[0]);
            match provider.to_settings(
                email,
                &cfg,
                Source::Autoconfig,
                crate::settings::Trust::Verified,
            ) {
                Ok(s) => {
                    p.servers = s.incoming.into_iter().chain(s.outgoing).collect();
                    p.result = TryResult::Found;
                }
                Err(e) => invalid(p, body, e.to_string(), "<emailProvider"),
            }
        }
    }
}

/// Marks `p` invalid, with the line of the first XML error (or of the
/// element the schema error concerns).
fn invalid(p: &mut Published, body: &[u8], why: String, element: &str) {
    p.result = TryResult::Invalid;
    let (line, what) = match xml::first_error(body) {
        Some((line, what)) => (line, format!("malformed XML: {what}")),
        None => (xml::line_of(body, element), why),
    };
    p.detail = Some(format!("line {line}: {what}"));
}

fn dns_failed(p: &mut Published, e: &DnsError) {
    p.result = crate::discover::dns_result(e);
    if *e != DnsError::NotFound {
        p.detail = Some(e.to_string());
    }
}

/// Whether `host` lies within `domain`.
pub fn on_domain(host: &str, domain: &str) -> bool {
    within(host, domain)
}

/// The security a published server uses, for messages.
pub fn insecure(s: &Server) -> bool {
    s.security == Security::None
}
