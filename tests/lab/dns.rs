//! The lab's DNS server: a real dnsmasq answering for made-up `.test`
//! domains, started by a test and stopped when the handle drops (or when the
//! lab's namespace ends).
//!
//! ```ignore
//! let dns = lab::dns::Dns::start("127.0.1.53", &[
//!     Record::a("imap.example.test", "127.0.1.10"),
//!     Record::mx("example.test", "mx.example.test", 10),
//! ]);
//! // mailsetup ... --dns 127.0.1.53
//! ```

use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One DNS record.
#[derive(Debug, Clone)]
pub enum Record {
    /// An A or AAAA record (by the address's family).
    Host(String, String),
    /// An MX record: domain, exchange, preference.
    Mx(String, String, u16),
    /// An SRV record: name, target, port, priority, weight.
    Srv(String, String, u16, u16, u16),
    /// A CNAME: alias, target.
    Cname(String, String),
    /// A TXT record.
    Txt(String, String),
    /// Raw dnsmasq option, for cases the variants don't cover.
    Raw(String),
}

impl Record {
    /// An A/AAAA record.
    pub fn a(name: &str, ip: &str) -> Record {
        Record::Host(name.into(), ip.into())
    }
    /// An MX record.
    pub fn mx(domain: &str, exchange: &str, pref: u16) -> Record {
        Record::Mx(domain.into(), exchange.into(), pref)
    }
    /// An SRV record.
    pub fn srv(name: &str, target: &str, port: u16, prio: u16, weight: u16) -> Record {
        Record::Srv(name.into(), target.into(), port, prio, weight)
    }
    /// A CNAME record.
    pub fn cname(alias: &str, target: &str) -> Record {
        Record::Cname(alias.into(), target.into())
    }

    fn arg(&self) -> String {
        match self {
            Record::Host(n, ip) => format!("--host-record={n},{ip}"),
            Record::Mx(d, h, p) => format!("--mx-host={d},{h},{p}"),
            // dnsmasq writes "no service" (target ".") as an SRV with no target.
            Record::Srv(n, t, port, prio, w) if t == "." => {
                let _ = (port, prio, w);
                format!("--srv-host={n}")
            }
            Record::Srv(n, t, port, prio, w) => format!("--srv-host={n},{t},{port},{prio},{w}"),
            Record::Cname(a, t) => format!("--cname={a},{t}"),
            Record::Txt(n, t) => format!("--txt-record={n},\"{t}\""),
            Record::Raw(s) => s.clone(),
        }
    }
}

/// A running dnsmasq.
pub struct Dns {
    child: Child,
    /// Where it listens (UDP and TCP, port 53).
    pub addr: SocketAddr,
}

impl Dns {
    /// Starts dnsmasq on `ip`:53 answering `records`; every other name under
    /// `.test` gets NXDOMAIN, and nothing is forwarded anywhere.
    pub fn start(ip: &str, records: &[Record]) -> Dns {
        super::require();
        let addr: SocketAddr = format!("{ip}:53").parse().expect("an IP address");
        let mut cmd = Command::new("dnsmasq");
        cmd.args([
            "--keep-in-foreground",
            "--no-resolv",
            "--no-hosts",
            "--no-poll",
            "--conf-file=/dev/null",
            "--bind-interfaces",
            "--port=53",
            "--pid-file=",
            "--user=root",
            "--local=/test/",
            "--local=/invalid/",
            "--log-facility=-",
        ])
        .arg(format!("--listen-address={ip}"))
        .args(records.iter().map(Record::arg))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        let child = cmd
            .spawn()
            .expect("dnsmasq runs (install dnsmasq-base: scripts/install-deps.sh)");
        let mut dns = Dns { child, addr };
        dns.wait_ready();
        dns
    }

    fn wait_ready(&mut self) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("dnsmasq exited at start: {status}");
            }
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(100)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("dnsmasq did not start listening on {}", self.addr);
    }
}

impl Drop for Dns {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A DNS server on UDP port 53 that answers each query with what a
/// function makes of it (nothing, when it makes `None`), until dropped.
pub struct ScriptedDns {
    /// Where it listens (UDP, port 53).
    pub addr: SocketAddr,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ScriptedDns {
    /// Starts one on `ip`:53 answering a query with `answer(query)`.
    pub fn start(
        ip: &str,
        answer: impl Fn(&[u8]) -> Option<Vec<u8>> + Send + 'static,
    ) -> ScriptedDns {
        super::require();
        let addr: SocketAddr = format!("{ip}:53").parse().expect("an IP address");
        let socket = std::net::UdpSocket::bind(addr).expect("bind UDP 53");
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                if let Some(reply) = answer(&buf[..n]) {
                    let _ = socket.send_to(&reply, from);
                }
            }
        });
        ScriptedDns {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// One that answers every query with its query id followed by garbage:
    /// a header claiming answers that are not there.
    pub fn garbage(ip: &str) -> ScriptedDns {
        ScriptedDns::start(ip, |query| {
            if query.len() < 2 {
                return None;
            }
            // Same id, "response, no error", 1 question, 3 answers — then
            // bytes that are neither.
            let mut reply = vec![query[0], query[1], 0x81, 0x80, 0, 1, 0, 3, 0, 0, 0, 0];
            reply.extend_from_slice(&[0xc0, 0xff, 0x3f, 0x00, 0x21, 0xde, 0xad, 0xbe, 0xef]);
            Some(reply)
        })
    }

    /// One that answers every query with the response code `rcode`
    /// (REFUSED = 5, SERVFAIL = 2), or never answers (`None`).
    pub fn rcode(ip: &str, rcode: Option<u8>) -> ScriptedDns {
        ScriptedDns::start(ip, move |query| {
            let rcode = rcode?;
            let n = query.len();
            // Header and question only: skip the name's labels, then type
            // and class.
            let mut end = 12;
            while end < n && query[end] != 0 {
                end += 1 + query[end] as usize;
            }
            end += 5;
            if n < 12 || end > n {
                return None;
            }
            let mut reply = query[..end].to_vec();
            reply[2] = 0x80 | (query[2] & 0x01);
            reply[3] = 0x80 | rcode;
            reply[4..12].copy_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
            Some(reply)
        })
    }
}

impl Drop for ScriptedDns {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
