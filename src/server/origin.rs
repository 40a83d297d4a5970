//! Who is asking, and by which name they reached the service.
//!
//! This module owns everything read from connection facts and routing
//! headers: the client's IP address (for rate limiting), whether the request
//! came over HTTPS, and the host name it was sent to (the autoconfig domain
//! when no address is given, and the base of absolute URLs such as the
//! profile link inside a QR code). Forwarding headers are believed only
//! when the operator says a reverse proxy sets them (`trust_forwarded`).
//! Host names are checked before use, so nothing a client writes in `Host`
//! ends up unescaped in an answer.
//!
//! Absolute links are made from the configured `public_url`; without it,
//! only from a Host that is one of the operator's domains, its
//! `autoconfig.`/`autodiscover.` name, or an address the service listens
//! on ([`OriginPolicy::base_url`]). Any other Host gets no absolute link
//! (the page links relatively and shows no QR code): a link inside a QR
//! code must never point wherever a request's Host header said.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

use super::error::AppError;
use super::ratelimit::ClientKey;
use super::state::AppState;

/// The remote address of a connection, recorded by the listener.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

impl Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>> for Peer {
    fn connect_info(s: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        Peer(*s.remote_addr())
    }
}

/// The client a request comes from, as limits count it: its address by
/// [`OriginPolicy::client_ip`], IPv6 folded to its /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client(pub ClientKey);

impl FromRequestParts<AppState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Client(ClientKey::of(state.origin.client_ip(parts))))
    }
}

/// How to read a request's origin.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    /// Believe `X-Forwarded-For` / `X-Forwarded-Proto` (behind a proxy).
    pub trust_forwarded: bool,
    /// The listener speaks TLS itself.
    pub tls: bool,
    /// The configured public base URL, overriding the Host header.
    pub public_url: Option<String>,
    /// Host names (lower case, no port) links may be made from without
    /// `public_url`: the operator's domains and their `autoconfig.` and
    /// `autodiscover.` names, and the listen addresses' IPs.
    pub link_hosts: HashSet<String>,
}

impl OriginPolicy {
    /// The names links may be made from for `domains` (each with its
    /// `autoconfig.` and `autodiscover.` name) and the addresses in
    /// `listen` (`[v6]` in brackets, as in a Host header).
    pub fn link_hosts<'a>(
        domains: impl IntoIterator<Item = &'a str>,
        listen: &[SocketAddr],
    ) -> HashSet<String> {
        let mut hosts = HashSet::new();
        for d in domains {
            let d = d.to_ascii_lowercase();
            hosts.insert(format!("autoconfig.{d}"));
            hosts.insert(format!("autodiscover.{d}"));
            hosts.insert(d);
        }
        for a in listen {
            hosts.insert(match a.ip() {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => format!("[{v6}]"),
            });
        }
        hosts
    }
}

impl OriginPolicy {
    /// The client's IP address: the connection's peer, or the last
    /// `X-Forwarded-For` entry (the one our own proxy appended).
    pub fn client_ip(&self, parts: &Parts) -> IpAddr {
        if self.trust_forwarded {
            // Only the last entry: earlier ones are whatever the client
            // sent, and may be forged.
            let forwarded = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .next_back()
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|ip| ip.trim().parse::<IpAddr>().ok());
            if let Some(ip) = forwarded {
                return ip;
            }
        }
        parts
            .extensions
            .get::<ConnectInfo<Peer>>()
            .map(|c| c.0.0.ip())
            // Requests that did not come through a listener (tests calling
            // the router directly) share one bucket.
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }

    /// The host name (and port) the request was sent to, checked.
    pub fn host(&self, headers: &HeaderMap) -> Result<String, AppError> {
        let raw = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                AppError::BadRequest(
                    "the request has no Host header: without an email address the domain is taken from it".into(),
                )
            })?;
        check_host(raw).ok_or_else(|| {
            AppError::BadRequest(
                "the Host header is not a host name: send the name this service was reached by"
                    .into(),
            )
        })
    }

    /// The base URL clients reach this service at, without a trailing
    /// slash: the configured `public_url`, or the scheme and Host header
    /// when the Host is one links may be made from (see the module
    /// documentation; `mail_domain`, a domain this request is served for,
    /// counts as the operator's). `None` otherwise: make no absolute link.
    pub fn base_url(&self, headers: &HeaderMap, mail_domain: Option<&str>) -> Option<String> {
        if let Some(u) = &self.public_url {
            return Some(u.clone());
        }
        let host = self.host(headers).ok()?;
        let name = host_name(&host);
        let served = mail_domain.is_some_and(|d| {
            let d = d.to_ascii_lowercase();
            name == d
                || name.strip_prefix("autoconfig.") == Some(d.as_str())
                || name.strip_prefix("autodiscover.") == Some(d.as_str())
        });
        if !(served || self.link_hosts.contains(name)) {
            return None;
        }
        let forwarded_https = self.trust_forwarded
            && headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
        let scheme = if self.tls || forwarded_https {
            "https"
        } else {
            "http"
        };
        Some(format!("{scheme}://{host}"))
    }
}

/// The name part of a checked `host[:port]`.
fn host_name(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !host.ends_with(']') => h,
        _ => host,
    }
}

/// `host[:port]` lower-cased when it is a host name or IP address with an
/// optional port; `None` otherwise.
pub fn check_host(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let (host, port) = if let Some(rest) = raw.strip_prefix('[') {
        let (ip, after) = rest.split_once(']')?;
        ip.parse::<std::net::Ipv6Addr>().ok()?;
        (format!("[{ip}]"), after.strip_prefix(':'))
    } else {
        match raw.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (raw.to_string(), None),
        }
    };
    if let Some(p) = port {
        p.parse::<u16>().ok().filter(|&p| p > 0)?;
    }
    let host = if host.starts_with('[') || host.parse::<Ipv4Addr>().is_ok() {
        host
    } else {
        let ascii = crate::address::normalize_host(&host).ok()?;
        // normalize_host allows IDN; a Host header is already ASCII, and
        // only letters, digits, hyphens and dots belong in it.
        if !ascii
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        {
            return None;
        }
        ascii
    };
    Some(match port {
        Some(p) => format!("{host}:{p}"),
        None => host,
    })
}

/// The mail domain a host name stands for: `autoconfig.example.com` and
/// `autodiscover.example.com` stand for `example.com`.
pub fn mail_domain(host: &str) -> String {
    let name = match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.ends_with(']') => h,
        _ => host,
    };
    for prefix in ["autoconfig.", "autodiscover."] {
        if let Some(rest) = name.strip_prefix(prefix)
            && rest.contains('.')
        {
            return rest.to_string();
        }
    }
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut b = Request::builder().uri("/");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn hosts_are_checked() {
        assert_eq!(
            check_host("AutoConfig.Example.COM").unwrap(),
            "autoconfig.example.com"
        );
        assert_eq!(check_host("example.com:8443").unwrap(), "example.com:8443");
        assert_eq!(check_host("127.0.4.1:80").unwrap(), "127.0.4.1:80");
        assert_eq!(check_host("[::1]:80").unwrap(), "[::1]:80");
        for bad in [
            "",
            "exa mple.com",
            "example.com:0",
            "example.com:99999",
            "<script>.com",
            "a\"b.com",
            "[zz]:80",
            "example.com/path",
        ] {
            assert!(check_host(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn mail_domain_strips_service_prefixes_and_ports() {
        assert_eq!(mail_domain("autoconfig.example.com"), "example.com");
        assert_eq!(mail_domain("autodiscover.example.com:443"), "example.com");
        assert_eq!(mail_domain("example.com"), "example.com");
        assert_eq!(mail_domain("autoconfig.com"), "autoconfig.com");
    }

    fn example_hosts() -> HashSet<String> {
        OriginPolicy::link_hosts(["example.com"], &["127.0.4.1:8080".parse().unwrap()])
    }

    #[test]
    fn forwarded_headers_count_only_when_trusted() {
        let p = parts(&[
            ("x-forwarded-for", "203.0.113.9, 198.51.100.7"),
            ("x-forwarded-proto", "https"),
            ("host", "autoconfig.example.com"),
        ]);
        let trusting = OriginPolicy {
            trust_forwarded: true,
            link_hosts: example_hosts(),
            ..Default::default()
        };
        assert_eq!(trusting.client_ip(&p).to_string(), "198.51.100.7");
        assert_eq!(
            trusting.base_url(&p.headers, None).unwrap(),
            "https://autoconfig.example.com"
        );
        let direct = OriginPolicy {
            link_hosts: example_hosts(),
            ..Default::default()
        };
        assert_eq!(direct.client_ip(&p), IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(
            direct.base_url(&p.headers, None).unwrap(),
            "http://autoconfig.example.com"
        );
    }

    #[test]
    fn links_follow_only_hosts_of_the_operator_or_the_listener() {
        let policy = OriginPolicy {
            link_hosts: example_hosts(),
            ..Default::default()
        };
        let base = |host: &str, domain: Option<&str>| {
            policy.base_url(&parts(&[("host", host)]).headers, domain)
        };
        for ok in [
            "example.com",
            "Example.COM:8443",
            "autodiscover.example.com",
            "autoconfig.example.com:80",
            "127.0.4.1:8080",
            "127.0.4.1",
        ] {
            assert!(base(ok, None).is_some(), "{ok}");
        }
        assert_eq!(
            base("127.0.4.1:8080", None).unwrap(),
            "http://127.0.4.1:8080"
        );
        for bad in [
            "evil.example",
            "example.com.evil.example",
            "evilexample.com",
            "mail.example.com",
            "autoconfig.evil.example",
            "127.0.4.2:8080",
            "[::1]:8080",
        ] {
            assert!(base(bad, None).is_none(), "{bad}");
        }
        // A domain the request is served for counts, with its service names.
        assert!(base("autodiscover.customer.example", Some("customer.example")).is_some());
        assert!(base("autodiscover.other.example", Some("customer.example")).is_none());
        assert!(base("[::1]:80", None).is_none());
        let v6 = OriginPolicy {
            link_hosts: OriginPolicy::link_hosts([], &["[::1]:8080".parse().unwrap()]),
            ..Default::default()
        };
        assert!(
            v6.base_url(&parts(&[("host", "[::1]:8080")]).headers, None)
                .is_some()
        );
    }

    #[test]
    fn public_url_wins_and_bad_hosts_get_no_link() {
        let p = parts(&[("host", "evil\"host")]);
        let fixed = OriginPolicy {
            public_url: Some("https://mail.example.com".into()),
            ..Default::default()
        };
        assert_eq!(
            fixed.base_url(&p.headers, None).unwrap(),
            "https://mail.example.com"
        );
        let evil = parts(&[("host", "evil.example")]);
        assert_eq!(
            fixed.base_url(&evil.headers, None).unwrap(),
            "https://mail.example.com"
        );
        assert!(OriginPolicy::default().base_url(&p.headers, None).is_none());
        let e = OriginPolicy::default().host(&p.headers).unwrap_err();
        assert_eq!(e.status().as_u16(), 400);
        assert!(OriginPolicy::default().host(&parts(&[]).headers).is_err());
    }
}
