//! From a host name to a TCP connection: DNS (hickory-resolver, with the
//! system's servers or `--dns`), then a connection to each address in turn,
//! telling "refused" from "timed out" from "no route".

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use tokio::net::TcpStream;

use super::error::ProbeError;

/// A resolver for `dns` (or the system's servers), with `timeout` per
/// query. `Err` carries a message for the user.
pub(crate) fn resolver(
    dns: Option<SocketAddr>,
    timeout: Duration,
) -> Result<TokioResolver, String> {
    let mut builder = match dns {
        Some(addr) => {
            let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
            for c in &mut ns.connections {
                c.port = addr.port();
            }
            let config = ResolverConfig::from_name_servers(vec![ns]);
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
        }
        None => TokioResolver::builder_tokio()
            .map_err(|e| format!("cannot read the system's DNS configuration: {e}"))?,
    };
    let opts = builder.options_mut();
    opts.timeout = timeout;
    opts.attempts = 2;
    builder
        .build()
        .map_err(|e| format!("cannot set up DNS: {e}"))
}

/// The addresses of `host` (an IP literal is its own address).
pub(crate) async fn resolve(
    host: &str,
    resolver: Result<&TokioResolver, &str>,
) -> Result<Vec<IpAddr>, ProbeError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    let resolver = resolver.map_err(|e| ProbeError::DnsFailed {
        host: host.to_string(),
        detail: e.to_string(),
    })?;
    // A trailing dot: the name as written, never completed with a search
    // domain from resolv.conf.
    let fqdn = format!("{}.", host.trim_end_matches('.'));
    match resolver.lookup_ip(fqdn.as_str()).await {
        Ok(found) => {
            let ips: Vec<IpAddr> = found.iter().collect();
            if ips.is_empty() {
                return Err(ProbeError::DnsNotFound {
                    host: host.to_string(),
                });
            }
            Ok(ips)
        }
        Err(e) if e.is_nx_domain() || e.is_no_records_found() => Err(ProbeError::DnsNotFound {
            host: host.to_string(),
        }),
        Err(e) => Err(ProbeError::DnsFailed {
            host: host.to_string(),
            detail: e.to_string(),
        }),
    }
}

/// Connects to `port` on the first address that accepts, waiting at most
/// `timeout` for each. The error is the last address's.
pub(crate) async fn connect(
    addrs: &[IpAddr],
    port: u16,
    timeout: Duration,
) -> Result<TcpStream, ProbeError> {
    let mut last = None;
    for ip in addrs {
        let addr = SocketAddr::new(*ip, port);
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Ok(Err(e)) => last = Some(connect_error(addr, e)),
            Err(_) => last = Some(ProbeError::ConnectTimedOut { addr }),
        }
    }
    Err(last.unwrap_or(ProbeError::DnsNotFound {
        host: String::new(),
    }))
}

fn connect_error(addr: SocketAddr, e: std::io::Error) -> ProbeError {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => ProbeError::Refused { addr },
        TimedOut => ProbeError::ConnectTimedOut { addr },
        _ => ProbeError::Unreachable {
            addr,
            detail: e.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ip_literals_skip_dns() {
        let ips = resolve("127.0.0.1", Err("no DNS")).await.unwrap();
        assert_eq!(ips, ["127.0.0.1".parse::<IpAddr>().unwrap()]);
        let e = resolve("imap.example.test", Err("no DNS"))
            .await
            .unwrap_err();
        assert!(matches!(e, ProbeError::DnsFailed { .. }));
    }

    #[tokio::test]
    async fn a_closed_port_is_refused() {
        // Bind then drop: the port is free and (on loopback) answers RST.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let e = connect(
            &["127.0.0.1".parse().unwrap()],
            port,
            Duration::from_secs(2),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, ProbeError::Refused { .. }), "{e:?}");
    }
}
