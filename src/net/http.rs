//! HTTP(S) requests for discovery: reqwest with the program's one TLS
//! configuration ([`super::tls`]) and DNS resolver ([`super::dns`]).
//!
//! Every fetch follows the same rules, whatever asks:
//!
//! - redirects are followed here, not by reqwest, so each hop is checked:
//!   at most [`MAX_REDIRECTS`], never from HTTPS down to plain HTTP, and the
//!   caller may veto any URL (Autodiscover refuses parent domains);
//! - a POST stays a POST across redirects (Autodiscover clients re-send the
//!   request to the new place);
//! - no credentials are ever sent: there is no way to attach any, and a
//!   server asking for them (401) is an error;
//! - the body is read with a size limit ([`MAX_BODY`]) and every step has a
//!   deadline;
//! - every connection, each redirect hop included, goes through the
//!   discovery's [`Guard`] ([`super::policy`]): host names resolve through
//!   [`GuardedResolver`], which returns only the addresses the policy
//!   allows and the client dials exactly those, at once — no second lookup
//!   a rebinding name server could answer differently; IP literals are
//!   checked here; only ports 443 and 80 under the service's policy;
//! - a redirect that arrived over plain HTTP may not leave its host (anyone
//!   on the path could have written it).

use std::sync::Arc;

use reqwest::{Method, StatusCode, Url};
use tokio::time::{Instant, timeout_at};

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use super::dns::{Dns, DnsError, ResolveError};
use super::limit::{HostLimits, HostPermit};
use super::policy::{Guard, HTTP_PORTS, Refusal};

/// The most a response body may hold (XML in practice).
pub const MAX_BODY: usize = 1024 * 1024;

/// Why a plain-HTTP redirect to another host is refused.
pub const PLAIN_REDIRECT: &str = "a redirect over plain HTTP to another host is not followed: anyone on the path could have written it";

/// The most redirects followed for one request.
pub const MAX_REDIRECTS: usize = 5;

/// A response that arrived whole.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The URL that finally answered.
    pub url: Url,
    /// Every hop was HTTPS.
    pub secure: bool,
    /// The body, at most [`MAX_BODY`] bytes.
    pub body: Vec<u8>,
}

/// Why a fetch gave no body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The host name does not exist.
    #[error("no such host: {0}")]
    NoSuchHost(String),
    /// 404 or 410.
    #[error("HTTP {0}: nothing here")]
    NotFound(u16),
    /// Any other status that is not success or redirect.
    #[error("HTTP {0}")]
    Status(u16),
    /// 401/407: the server wants credentials; none are ever sent.
    #[error("the server asks for a password (HTTP {0}); mailsetup never sends credentials here")]
    WantsCredentials(u16),
    /// A redirect from HTTPS to plain HTTP.
    #[error("redirect from {from} to {to} refused: plain HTTP can be altered on the way")]
    InsecureRedirect {
        /// Where it came from.
        from: String,
        /// Where it pointed.
        to: String,
    },
    /// A URL the caller does not allow.
    #[error("{url} refused: {why}")]
    Refused {
        /// The URL.
        url: String,
        /// The caller's reason.
        why: String,
    },
    /// More than [`MAX_REDIRECTS`] redirects.
    #[error("more than {MAX_REDIRECTS} redirects (last to {0})")]
    TooManyRedirects(String),
    /// The body is larger than the limit.
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    /// The deadline passed.
    #[error("no answer before the deadline")]
    Timeout,
    /// The discovery's policy refused the connection (an address that is
    /// not public, a port that is not standard, a spent budget).
    #[error("{0}")]
    Policy(Refusal),
    /// Connection, TLS or protocol failure.
    #[error("{0}")]
    Failed(String),
}

/// The HTTPS client.
#[derive(Clone)]
pub struct Http {
    tls: Arc<rustls::ClientConfig>,
    dns: Dns,
    guard: Guard,
    limits: HostLimits,
}

impl Http {
    /// A client trusting `tls`'s roots, resolving through `dns` and
    /// connecting only where `guard` allows.
    pub fn new(tls: &Arc<rustls::ClientConfig>, dns: Dns, guard: Guard) -> Result<Http, String> {
        let http = Http {
            tls: tls.clone(),
            dns,
            guard,
            limits: HostLimits::unlimited(),
        };
        http.client(GuardedResolver::new(http.dns.clone(), http.guard.clone()))?;
        Ok(http)
    }

    /// The same client, connecting only where `guard` allows (one guard
    /// per discovery).
    pub fn guarded(&self, guard: Guard) -> Http {
        Http {
            tls: self.tls.clone(),
            dns: self.dns.guarded(guard.clone()),
            guard,
            limits: self.limits.clone(),
        }
    }

    /// The same client, at most `limits` connections at a time per host
    /// (shared by every discovery of a scan).
    pub fn limited(mut self, limits: HostLimits) -> Http {
        self.limits = limits;
        self
    }

    /// A client for one request and its redirects: the resolver carries
    /// what the chain has dialled so far.
    fn client(&self, resolver: GuardedResolver) -> Result<reqwest::Client, String> {
        let mut b = reqwest::Client::builder()
            .tls_backend_preconfigured(rustls::ClientConfig::clone(&self.tls))
            .dns_resolver(resolver)
            .redirect(reqwest::redirect::Policy::none())
            // No connection outlives its response: a chain's slot at a host
            // (HostLimits) is given back at the next hop, and an idle
            // connection kept for later would still count at the host.
            .pool_max_idle_per_host(0)
            .user_agent(concat!("mailsetup/", env!("CARGO_PKG_VERSION")));
        let policy = self.guard.policy();
        if policy.anonymous || !policy.allow_private {
            // A proxy would dial for us, out of the guard's sight.
            b = b.no_proxy();
        }
        b.build()
            .map_err(|e| format!("cannot set up the HTTPS client: {}", describe(&e)))
    }

    /// GETs `url`.
    pub async fn get(
        &self,
        url: Url,
        deadline: Instant,
        allow: &(dyn Fn(&Url) -> Result<(), String> + Sync),
    ) -> Result<Fetched, FetchError> {
        self.fetch(Method::GET, url, None, deadline, allow).await
    }

    /// POSTs `body` (XML) to `url`.
    pub async fn post_xml(
        &self,
        url: Url,
        body: Vec<u8>,
        deadline: Instant,
        allow: &(dyn Fn(&Url) -> Result<(), String> + Sync),
    ) -> Result<Fetched, FetchError> {
        self.fetch(Method::POST, url, Some(body), deadline, allow)
            .await
    }

    async fn fetch(
        &self,
        method: Method,
        mut url: Url,
        body: Option<Vec<u8>>,
        deadline: Instant,
        allow: &(dyn Fn(&Url) -> Result<(), String> + Sync),
    ) -> Result<Fetched, FetchError> {
        let mut secure = url.scheme() == "https";
        let resolver =
            GuardedResolver::new(self.dns.clone(), self.guard.clone()).limited(self.limits.clone());
        let client = self.client(resolver.clone()).map_err(FetchError::Failed)?;
        for hop in 0..=MAX_REDIRECTS {
            if hop > 0 {
                // The last hop's response is gone, and with it its
                // connection: give its host's slot back before waiting
                // for the next host's, so that two chains redirecting
                // to each other's hosts never wait on each other.
                resolver.release();
            }
            allow(&url).map_err(|why| FetchError::Refused {
                url: url.to_string(),
                why,
            })?;
            self.check_hop(&url, &resolver)?;
            tracing::debug!("{method} {url}");
            let mut req = client.request(method.clone(), url.clone());
            if let Some(b) = &body {
                req = req
                    .header(reqwest::header::CONTENT_TYPE, "text/xml; charset=utf-8")
                    .body(b.clone());
            }
            let resp = timeout_at(deadline, req.send())
                .await
                .map_err(|_| FetchError::Timeout)?
                .map_err(|e| classify(&e))?;
            let status = resp.status();
            if status.is_redirection() {
                let next = location(&url, &resp)?;
                if url.scheme() == "https" && next.scheme() != "https" {
                    return Err(FetchError::InsecureRedirect {
                        from: url.to_string(),
                        to: next.to_string(),
                    });
                }
                if url.scheme() == "http" && next.host_str() != url.host_str() {
                    return Err(FetchError::Refused {
                        url: next.to_string(),
                        why: PLAIN_REDIRECT.into(),
                    });
                }
                if hop == MAX_REDIRECTS {
                    return Err(FetchError::TooManyRedirects(next.to_string()));
                }
                tracing::debug!("{url} redirects to {next}");
                secure &= next.scheme() == "https";
                url = next;
                continue;
            }
            match status {
                StatusCode::NOT_FOUND | StatusCode::GONE => {
                    return Err(FetchError::NotFound(status.as_u16()));
                }
                StatusCode::UNAUTHORIZED | StatusCode::PROXY_AUTHENTICATION_REQUIRED => {
                    return Err(FetchError::WantsCredentials(status.as_u16()));
                }
                s if !s.is_success() => return Err(FetchError::Status(s.as_u16())),
                _ => {}
            }
            let body = read_limited(resp, MAX_BODY, deadline).await?;
            return Ok(Fetched { url, secure, body });
        }
        unreachable!("the loop returns on its last hop")
    }

    /// The checks the resolver cannot make: the port, and an IP literal
    /// (which the client dials without asking the resolver).
    fn check_hop(&self, url: &Url, resolver: &GuardedResolver) -> Result<(), FetchError> {
        let port = url.port_or_known_default().unwrap_or(0);
        self.guard
            .check_port(port, &HTTP_PORTS)
            .map_err(FetchError::Policy)?;
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            _ => return Ok(()),
        };
        resolver.admit(&[ip]).map_err(FetchError::Policy)?;
        Ok(())
    }
}

/// The HTTPS client's resolver: the discovery's [`Dns`], passing on only
/// the addresses the [`Guard`] allows, and spending one connection of the
/// budget per lookup (the client connects right after). One per request
/// chain, so that it knows whether an earlier hop reached a public host:
/// a client that serves many chains (or many domains) with one resolver
/// would refuse every private address once any public one was dialled.
///
/// With [`HostLimits`], each lookup also waits for a slot at the host
/// (known by its first allowed address) and keeps it until the response
/// is done: until the next hop of the chain ([`GuardedResolver::release`])
/// or the chain's end (the client, and with it the connection, dropped).
#[derive(Clone)]
pub struct GuardedResolver {
    dns: Dns,
    guard: Guard,
    limits: HostLimits,
    /// Whether a hop of this chain was dialled at a public address.
    public_before: Arc<Mutex<bool>>,
    /// The slots this chain holds, by host.
    permits: Arc<Mutex<Vec<HostPermit>>>,
}

impl GuardedResolver {
    /// A resolver for one request chain, spending from `guard`.
    pub fn new(dns: Dns, guard: Guard) -> GuardedResolver {
        GuardedResolver {
            dns,
            guard,
            limits: HostLimits::unlimited(),
            public_before: Arc::new(Mutex::new(false)),
            permits: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The same, waiting for a slot at each host under `limits`.
    pub fn limited(mut self, limits: HostLimits) -> GuardedResolver {
        self.limits = limits;
        self
    }

    /// Waits for a slot at `ip` unless this chain holds one already.
    async fn hold(&self, ip: IpAddr) {
        if !self.limits.is_limited() {
            return;
        }
        let host = ip.to_string();
        let held = |permits: &Vec<HostPermit>| permits.iter().any(|p| p.host() == host);
        if held(
            &self
                .permits
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        ) {
            return;
        }
        let permit = self.limits.acquire(&host).await;
        self.permits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(permit);
    }

    /// Gives back every slot this chain holds (its connections are done).
    pub(crate) fn release(&self) {
        self.permits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    /// The addresses of `ips` that may be dialled, spending a connection;
    /// the first refusal when none may.
    pub(crate) fn admit(&self, ips: &[IpAddr]) -> Result<Vec<IpAddr>, Refusal> {
        let mut public_before = self
            .public_before
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut allowed = Vec::new();
        let mut refusal = None;
        for ip in ips {
            match self.guard.check_addr(*ip, *public_before) {
                Ok(()) => allowed.push(*ip),
                Err(r) => {
                    tracing::debug!("{ip} refused: {r}");
                    refusal.get_or_insert(r);
                }
            }
        }
        if allowed.is_empty() {
            return Err(refusal.unwrap_or(Refusal::NotPublic(IpAddr::from([0, 0, 0, 0]))));
        }
        self.guard.take_connection()?;
        *public_before |= allowed.iter().any(|ip| super::policy::is_public(*ip));
        Ok(allowed)
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let this = self.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let ips = this.dns.ips(&host).await.map_err(|e| {
                Box::new(ResolveError { host, error: e })
                    as Box<dyn std::error::Error + Send + Sync>
            })?;
            let allowed = this.admit(&ips).map_err(|r| {
                Box::new(PolicyError(r)) as Box<dyn std::error::Error + Send + Sync>
            })?;
            this.hold(allowed[0]).await;
            let addrs: reqwest::dns::Addrs =
                Box::new(allowed.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// The guard refused every address of a host; found in the HTTP error's
/// source chain.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct PolicyError(Refusal);

fn location(url: &Url, resp: &reqwest::Response) -> Result<Url, FetchError> {
    let loc = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            FetchError::Failed(format!(
                "HTTP {} without a usable Location header",
                resp.status().as_u16()
            ))
        })?;
    let next = url
        .join(loc)
        .map_err(|_| FetchError::Failed(format!("redirect to an invalid URL: {loc:.100}")))?;
    if !matches!(next.scheme(), "https" | "http") {
        return Err(FetchError::Refused {
            url: next.to_string(),
            why: "only http and https redirects are followed".into(),
        });
    }
    Ok(next)
}

/// Reads the body, stopping as soon as it exceeds `limit`.
pub(crate) async fn read_limited(
    mut resp: reqwest::Response,
    limit: usize,
    deadline: Instant,
) -> Result<Vec<u8>, FetchError> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(FetchError::TooLarge(limit));
    }
    let mut body = Vec::new();
    loop {
        let chunk = timeout_at(deadline, resp.chunk())
            .await
            .map_err(|_| FetchError::Timeout)?
            .map_err(|e| classify(&e))?;
        match chunk {
            Some(c) if body.len() + c.len() > limit => return Err(FetchError::TooLarge(limit)),
            Some(c) => body.extend_from_slice(&c),
            None => return Ok(body),
        }
    }
}

fn classify(e: &reqwest::Error) -> FetchError {
    if e.is_timeout() {
        return FetchError::Timeout;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(PolicyError(r)) = s.downcast_ref::<PolicyError>() {
            return FetchError::Policy(*r);
        }
        if let Some(r) = s.downcast_ref::<ResolveError>() {
            return match r.error {
                DnsError::NotFound => FetchError::NoSuchHost(r.host.clone()),
                DnsError::Timeout => FetchError::Timeout,
                DnsError::OverBudget => FetchError::Policy(Refusal::Questions),
                _ => FetchError::Failed(r.to_string()),
            };
        }
        source = s.source();
    }
    match (e.is_connect(), e.url().and_then(|u| u.host_str())) {
        (true, Some(host)) => {
            FetchError::Failed(format!("cannot connect to {host}: {}", describe(e)))
        }
        _ => FetchError::Failed(describe(e)),
    }
}

/// The most specific message of an error chain (reqwest's own top-level
/// message only repeats the URL).
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        last = s.to_string();
        source = s.source();
    }
    last.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::net::policy::Policy;

    async fn service_client() -> Http {
        let tls = crate::net::tls::client_config(None).unwrap();
        let dns = Dns::new(Some("127.0.0.1:9".parse().unwrap())).unwrap();
        Http::new(&tls, dns, Guard::new(Policy::service(false))).unwrap()
    }

    #[tokio::test]
    async fn the_service_refuses_private_literals_and_other_ports_before_connecting() {
        let http = service_client().await;
        let deadline = Instant::now() + std::time::Duration::from_secs(2);
        let allow = |_: &Url| Ok(());
        for (url, want) in [
            ("http://127.0.0.1/", "not a public address"),
            ("https://[::ffff:10.0.0.5]/x", "not a public address"),
            (
                "http://169.254.169.254/latest/meta-data/",
                "not a public address",
            ),
            ("https://8.8.8.8:8443/", "not a standard port (8443)"),
            (
                "http://example.test:6379/FLUSHALL",
                "not a standard port (6379)",
            ),
        ] {
            let e = http
                .get(Url::parse(url).unwrap(), deadline, &allow)
                .await
                .unwrap_err();
            assert!(matches!(e, FetchError::Policy(_)), "{url}: {e:?}");
            assert!(e.to_string().starts_with(want), "{url}: {e}");
        }
        // Refused without a connection, so nothing was spent.
        assert_eq!(http.guard.spent(), (0, 0));
    }

    #[test]
    fn messages_say_what_happened() {
        let e = FetchError::InsecureRedirect {
            from: "https://a.test/x".into(),
            to: "http://a.test/x".into(),
        };
        assert!(e.to_string().contains("plain HTTP"));
        assert!(
            FetchError::WantsCredentials(401)
                .to_string()
                .contains("never sends credentials")
        );
        assert!(
            FetchError::TooManyRedirects("https://x.test/".into())
                .to_string()
                .contains("more than 5 redirects")
        );
    }
}
