//! From a host name to a TCP connection: DNS (the program's one resolver,
//! [`crate::net::dns`], with the system's servers or `--dns`), then a
//! connection to each address in turn, telling "refused" from "timed out"
//! from "no route".
//!
//! Every address is put to the probe's [`Guard`] right before it is
//! dialled ([`crate::net::policy`]): under the service's policy only
//! public addresses on the mail protocols' standard ports, each connection
//! spending the discovery's budget. The address checked is the address
//! connected to; nothing is looked up in between.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::net::TcpStream;

use super::error::ProbeError;
use crate::net::dns::{Dns, DnsError};
use crate::net::limit::{HostLimits, HostPermit};
use crate::net::policy::{Guard, MAIL_PORTS};

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
        Err(DnsError::OverBudget) => Err(ProbeError::NotDialled(
            crate::net::policy::Refusal::Questions,
        )),
        Err(e) => Err(ProbeError::DnsFailed {
            host: host.to_string(),
            detail: e.to_string(),
        }),
    }
}

/// Connects to `port` on the first address that accepts and that `guard`
/// allows, waiting at most `timeout` for each. The error is the last
/// address's. With `limits`, each address is dialled only with a slot at
/// it, which the caller keeps as long as it uses the connection.
pub(crate) async fn connect(
    addrs: &[IpAddr],
    port: u16,
    timeout: Duration,
    guard: &Guard,
    limits: &HostLimits,
) -> Result<(TcpStream, HostPermit), ProbeError> {
    guard
        .check_port(port, &MAIL_PORTS)
        .map_err(ProbeError::NotDialled)?;
    let mut last = None;
    for ip in addrs {
        if let Err(r) = guard.check_addr(*ip, false) {
            tracing::debug!("{ip} not dialled: {r}");
            last.get_or_insert(ProbeError::NotDialled(r));
            continue;
        }
        guard.take_connection().map_err(ProbeError::NotDialled)?;
        let slot = limits.acquire(&ip.to_string()).await;
        let addr = SocketAddr::new(*ip, port);
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                return Ok((s, slot));
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
            &Guard::default(),
            &HostLimits::unlimited(),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, ProbeError::Refused { .. }), "{e:?}");
    }

    #[tokio::test]
    async fn the_service_policy_dials_no_private_address_and_no_other_port() {
        use crate::net::policy::{Policy, Refusal};
        // A listener that would accept: the guard must keep us away.
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let guard = Guard::new(Policy::service(false));
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let e = connect(
            &[local],
            993,
            Duration::from_secs(2),
            &guard,
            &HostLimits::unlimited(),
        )
        .await
        .unwrap_err();
        assert_eq!(e, ProbeError::NotDialled(Refusal::NotPublic(local)));
        let e = connect(
            &[local],
            port,
            Duration::from_secs(2),
            &guard,
            &HostLimits::unlimited(),
        )
        .await
        .unwrap_err();
        assert_eq!(e, ProbeError::NotDialled(Refusal::Port(port)));
        // Nothing was dialled, so nothing was spent.
        assert_eq!(guard.spent().0, 0);
        let accepted = tokio::time::timeout(Duration::from_millis(50), l.accept()).await;
        assert!(accepted.is_err(), "a connection reached the listener");
        // The lab's allowance reaches it, spending the budget.
        let lab = Guard::new(Policy::service(true));
        let e = connect(
            &[local],
            port,
            Duration::from_secs(2),
            &lab,
            &HostLimits::unlimited(),
        )
        .await;
        assert!(matches!(e, Err(ProbeError::NotDialled(Refusal::Port(_)))));
        let cli = Guard::default();
        assert!(
            connect(
                &[local],
                port,
                Duration::from_secs(2),
                &cli,
                &HostLimits::unlimited()
            )
            .await
            .is_ok()
        );
    }
}
