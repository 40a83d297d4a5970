//! The audit's HTTP requests. Unlike discovery's client
//! ([`crate::net::http`]), which only wants a usable body, the audit must
//! see what a server does wrong: the status, whether it asks for
//! credentials and how (`WWW-Authenticate`), where it redirects, and
//! whether every hop was HTTPS. The rules stay the same: no credentials
//! are ever sent, redirects are followed only from HTTPS to HTTPS and at
//! most [`MAX_REDIRECTS`] times, bodies are read up to [`MAX_BODY`] bytes,
//! and every step has a deadline.
//!
//! Where it may connect is discovery's rule for the command line
//! ([`crate::net::policy`]): private addresses are fine (a person's own
//! network), but never after a redirect from a host at a public address.
//! That memory belongs to one request and its redirects, never to the
//! client: each fetch resolves through a [`GuardedResolver`] of its own,
//! under the audit's [`Guard`] (one per audited domain), so a scan that
//! audited a public domain first still reaches the private servers of the
//! next. The same resolver holds the per-host slots of `--per-host`.

use std::net::IpAddr;
use std::sync::Arc;

use reqwest::{Method, Url};
use tokio::time::{Instant, timeout_at};

use crate::net::dns::{Dns, DnsError, ResolveError};
use crate::net::http::{FetchError, GuardedResolver, MAX_BODY, MAX_REDIRECTS};
use crate::net::limit::HostLimits;
use crate::net::policy::Guard;

/// What a server answered.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The URL that answered last.
    pub url: Url,
    /// Its status.
    pub status: u16,
    /// Every hop was HTTPS.
    pub secure: bool,
    /// The `WWW-Authenticate` header of a 401.
    pub www_authenticate: Option<String>,
    /// Where a redirect not followed pointed.
    pub location: Option<String>,
    /// The body (empty unless 2xx).
    pub body: Vec<u8>,
}

impl Answer {
    /// 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why no answer came.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The host name does not exist.
    #[error("no such host: {0}")]
    NoSuchHost(String),
    /// The deadline passed.
    #[error("no answer before the deadline")]
    Timeout,
    /// The body was larger than the limit.
    #[error("the answer is larger than {MAX_BODY} bytes")]
    TooLarge,
    /// Connection or TLS failure (the certificate included).
    #[error("{0}")]
    Failed(String),
}

/// The audit's HTTP client: never sends credentials, follows no redirect
/// by itself.
#[derive(Clone)]
pub struct Client {
    tls: Arc<rustls::ClientConfig>,
    dns: Dns,
    limits: HostLimits,
}

impl Client {
    /// A client trusting `tls`'s roots and resolving with `dns`; at most
    /// `limits` connections per host.
    pub fn new(
        tls: &Arc<rustls::ClientConfig>,
        dns: Dns,
        limits: HostLimits,
    ) -> Result<Client, String> {
        let c = Client {
            tls: tls.clone(),
            dns,
            limits,
        };
        c.client(GuardedResolver::new(c.dns.clone(), Guard::default()))?;
        Ok(c)
    }

    /// The client of one request and its redirects.
    fn client(&self, resolver: GuardedResolver) -> Result<reqwest::Client, String> {
        reqwest::Client::builder()
            .tls_backend_preconfigured(rustls::ClientConfig::clone(&self.tls))
            .dns_resolver(resolver)
            .redirect(reqwest::redirect::Policy::none())
            // As in net::http: no idle connection outlives its response,
            // so a host's slot can be given back at each hop.
            .pool_max_idle_per_host(0)
            .user_agent(concat!("mailsetup/", env!("CARGO_PKG_VERSION"), " (audit)"))
            .build()
            .map_err(|e| format!("cannot set up the HTTPS client: {}", last_source(&e)))
    }

    /// GETs (or with a body, POSTs XML to) `url`, connecting where `guard`
    /// (the audited domain's) allows. Redirects are followed only while
    /// both ends are HTTPS; any other redirect is the answer.
    pub async fn fetch(
        &self,
        mut url: Url,
        body: Option<&[u8]>,
        deadline: Instant,
        guard: &Guard,
    ) -> Result<Answer, Failure> {
        let mut secure = url.scheme() == "https";
        let resolver =
            GuardedResolver::new(self.dns.clone(), guard.clone()).limited(self.limits.clone());
        let client = self.client(resolver.clone()).map_err(Failure::Failed)?;
        for hop in 0..=MAX_REDIRECTS {
            if hop > 0 {
                // The last hop's connection is done: its slot goes back
                // before the next host's is waited for.
                resolver.release();
            }
            // An IP address in the URL is dialled without the resolver:
            // put it to the same rule here.
            let literal = match url.host() {
                Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
                Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
                _ => None,
            };
            if let Some(ip) = literal {
                resolver
                    .admit(&[ip])
                    .map_err(|r| Failure::Failed(r.to_string()))?;
            }
            let method = if body.is_some() {
                Method::POST
            } else {
                Method::GET
            };
            let mut req = client.request(method, url.clone());
            if let Some(b) = body {
                req = req
                    .header(reqwest::header::CONTENT_TYPE, "text/xml; charset=utf-8")
                    .body(b.to_vec());
            }
            let resp = timeout_at(deadline, req.send())
                .await
                .map_err(|_| Failure::Timeout)?
                .map_err(|e| classify(&e))?;
            let status = resp.status().as_u16();
            let header = |name: reqwest::header::HeaderName| {
                resp.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(|s| s.chars().take(200).collect::<String>())
            };
            let location = header(reqwest::header::LOCATION);
            let www_authenticate = header(reqwest::header::WWW_AUTHENTICATE);
            if resp.status().is_redirection() {
                let next = location.as_deref().and_then(|l| url.join(l).ok());
                match next {
                    Some(next)
                        if url.scheme() == "https"
                            && next.scheme() == "https"
                            && hop < MAX_REDIRECTS =>
                    {
                        url = next;
                        continue;
                    }
                    _ => {
                        return Ok(Answer {
                            url,
                            status,
                            secure,
                            www_authenticate,
                            location,
                            body: Vec::new(),
                        });
                    }
                }
            }
            let body = if resp.status().is_success() {
                read_limited(resp, deadline).await?
            } else {
                Vec::new()
            };
            secure &= url.scheme() == "https";
            return Ok(Answer {
                url,
                status,
                secure,
                www_authenticate,
                location,
                body,
            });
        }
        Err(Failure::Failed(format!(
            "more than {MAX_REDIRECTS} redirects"
        )))
    }
}

/// The body, through the discovery client's reader (the same limit and
/// deadline), its errors in the audit's terms.
async fn read_limited(resp: reqwest::Response, deadline: Instant) -> Result<Vec<u8>, Failure> {
    crate::net::http::read_limited(resp, MAX_BODY, deadline)
        .await
        .map_err(|e| match e {
            FetchError::TooLarge(_) => Failure::TooLarge,
            FetchError::Timeout => Failure::Timeout,
            FetchError::NoSuchHost(host) => Failure::NoSuchHost(host),
            other => Failure::Failed(other.to_string()),
        })
}

fn classify(e: &reqwest::Error) -> Failure {
    if e.is_timeout() {
        return Failure::Timeout;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<ResolveError>() {
            return match r.error {
                DnsError::NotFound => Failure::NoSuchHost(r.host.clone()),
                DnsError::Timeout => Failure::Timeout,
                _ => Failure::Failed(r.to_string()),
            };
        }
        source = s.source();
    }
    Failure::Failed(last_source(e))
}

fn last_source(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        last = s.to_string();
        source = s.source();
    }
    last.chars().take(200).collect()
}
