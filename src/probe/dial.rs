//! From a host name to a TCP connection: DNS (the program's one resolver,
//! [`crate::net::dns`], with the system's servers or `--dns`), then a
//! connection to each address in turn, telling "refused" from "timed out"
//! from "no route".

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::net::TcpStream;

use super::error::ProbeError;
use crate::net::dns::{Dns, DnsError};

/// The addresses of `host` (an IP literal is its own address).
pub(crate) async fn resolve(
    host: &str,
    dns: Result<&Dns, &str>,
) -> Result<Vec<IpAddr>, ProbeError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    let dns = dns.map_err(|e| ProbeError::DnsFailed {
        host: host.to_string(),
        detail: e.to_string(),
    })?;
    match dns.ips(host).await {
        Ok(ips) => Ok(ips),
        Err(DnsError::NotFound) => Err(ProbeError::DnsNotFound {
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
