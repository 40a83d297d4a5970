//! Network faults in the lab: each test points the real binary at a server
//! that fails in one particular way and requires that the run ends within
//! its deadline, says what happened (a `tried` entry or a finding) and
//! keeps its memory bounded.
//!
//! - the DNS server disappears mid-lookup (it stops answering);
//! - an HTTPS server resets the connection after the headers;
//! - one trickles its body a byte a second;
//! - one sends 100 MiB;
//! - a TLS server stalls the handshake;
//! - an IMAP server stops answering after its greeting;
//! - a server closes the connection during STARTTLS.
//!
//! Lab addresses: 127.0.12.0/24.

mod lab;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lab::TestCa;
use lab::codes;
use lab::dns::{Dns, Record};
use lab::fake::{Action, Fake, Imap, Script};
use serde_json::Value;

/// Every run gets `--timeout 4`; nothing may take much longer.
const TIMEOUT: &str = "4";
const DEADLINE: Duration = Duration::from_secs(15);
/// Peak resident memory allowed to a run, in kB.
const MAX_RSS_KB: u64 = 150 * 1024;
const NOWHERE_ISPDB: &str = "http://127.0.12.99/";

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
    peak_rss_kb: u64,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }
}

/// Runs the binary, sampling its peak RSS (VmHWM) until it exits.
fn run(args: &[&str]) -> Run {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailsetup"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let status = format!("/proc/{}/status", child.id());
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut peak = 0;
    let code = loop {
        if let Ok(text) = std::fs::read_to_string(&status) {
            if let Some(kb) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kb);
            }
        }
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        if started.elapsed() > DEADLINE * 2 {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} still running after {:?}", started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        elapsed: started.elapsed(),
        peak_rss_kb: peak,
    }
}

fn bounded(r: &Run, what: &str) {
    assert!(
        r.elapsed < DEADLINE,
        "{what}: took {:?}\n{}",
        r.elapsed,
        r.stderr
    );
    assert!(
        r.peak_rss_kb < MAX_RSS_KB,
        "{what}: peak RSS {} kB\n{}",
        r.peak_rss_kb,
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "{what}: {}", r.stderr);
}

fn lookup(dns: &str, ca: &TestCa, email: &str) -> Run {
    run(&[
        "lookup",
        "--json",
        "--dns",
        dns,
        "--ispdb-url",
        NOWHERE_ISPDB,
        "--timeout",
        TIMEOUT,
        "--ca-file",
        ca.ca_file().to_str().unwrap(),
        email,
    ])
}

fn tried<'a>(v: &'a Value, source: &str) -> Vec<&'a Value> {
    v["tried"]
        .as_array()
        .unwrap_or_else(|| panic!("no tried list: {v:#}"))
        .iter()
        .filter(|t| t["source"] == source)
        .collect()
}

/// A TLS listener on `addr:443` with a lab certificate for `names`, whose
/// connections are handed, after the handshake, to `serve`.
fn https_server(
    addr: &str,
    ca: &TestCa,
    names: &[&str],
    serve: impl Fn(rustls::StreamOwned<rustls::ServerConnection, TcpStream>) + Send + Sync + 'static,
) {
    let config = ca.issue(names).server_config();
    let listener = TcpListener::bind(format!("{addr}:443")).unwrap();
    let serve = Arc::new(serve);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let config = config.clone();
            let serve = serve.clone();
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
                let Ok(conn) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut tls = rustls::StreamOwned::new(conn, stream);
                // Read the request head (completes the handshake).
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 16384 {
                    match tls.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                serve(tls);
            });
        }
    });
}

const XML_HEAD: &str = "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n";

/// A domain whose autoconfig host (and nothing else) points at `ip`.
fn web_lab(b: u8, domain: &str) -> (TestCa, Dns, String) {
    lab::require();
    let ip = format!("127.0.12.{}", b * 10 + 1);
    let dns = Dns::start(
        &format!("127.0.12.{}", b * 10),
        &[
            Record::a(&format!("autoconfig.{domain}"), &ip),
            Record::a(domain, &ip),
        ],
    );
    (TestCa::new(), dns, ip)
}

fn autoconfig_entry<'a>(v: &'a Value, domain: &str) -> &'a Value {
    tried(v, "autoconfig")
        .into_iter()
        .find(|t| {
            t["url"]
                .as_str()
                .is_some_and(|u| u.contains(&format!("autoconfig.{domain}")))
        })
        .unwrap_or_else(|| panic!("no autoconfig entry for {domain}: {v:#}"))
}

// --- DNS ---------------------------------------------------------------------

lab_test! {
    fn dns_server_that_disappears_mid_lookup() {
        // Answers nothing: reads every question and drops it, as a server that
        // died after the first packet would.
        let sock = UdpSocket::bind("127.0.12.5:53").unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while sock.recv_from(&mut buf).is_ok() {}
        });
        let ca = TestCa::new();
        let r = lookup("127.0.12.5", &ca, "someone@gone.test");
        bounded(&r, "silent DNS");
        let v = r.json();
        let dns_tries: Vec<&Value> = v["tried"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| ["srv", "mx", "dns"].contains(&t["source"].as_str().unwrap_or("")))
            .collect();
        assert!(
            !dns_tries.is_empty()
                && dns_tries
                    .iter()
                    .all(|t| t["result"] == "timeout" || t["result"] == "error"),
            "{v:#}"
        );
        assert_eq!(r.code, Some(1), "{v:#}");
    }
}

// --- HTTPS ---------------------------------------------------------------------

lab_test! {
    fn https_reset_after_the_headers() {
        let domain = "reset.test";
        let (ca, dns, ip) = web_lab(1, domain);
        https_server(
            &ip,
            &ca,
            &[&format!("autoconfig.{domain}"), domain],
            |mut tls| {
                let _ = tls.write_all(
                    format!("{XML_HEAD}Content-Length: 4000\r\n\r\n<clientConfig").as_bytes(),
                );
                let _ = tls.flush();
                // SO_LINGER 0: close sends a reset, not a FIN.
                set_linger_zero(&tls.sock);
            },
        );
        let r = lookup(
            &dns.addr.ip().to_string(),
            &ca,
            &format!("someone@{domain}"),
        );
        bounded(&r, "reset");
        let v = r.json();
        let t = autoconfig_entry(&v, domain);
        assert!(t["result"] == "error" || t["result"] == "invalid", "{t:#}");
    }
}

lab_test! {
    fn https_trickling_a_byte_a_second() {
        let domain = "trickle.test";
        let (ca, dns, ip) = web_lab(2, domain);
        https_server(
            &ip,
            &ca,
            &[&format!("autoconfig.{domain}"), domain],
            |mut tls| {
                let _ = tls.write_all(format!("{XML_HEAD}Content-Length: 100000\r\n\r\n").as_bytes());
                for _ in 0..100_000 {
                    if tls.write_all(b" ").and_then(|_| tls.flush()).is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
            },
        );
        let r = lookup(
            &dns.addr.ip().to_string(),
            &ca,
            &format!("someone@{domain}"),
        );
        bounded(&r, "trickle");
        let v = r.json();
        let t = autoconfig_entry(&v, domain);
        assert!(t["result"] == "timeout" || t["result"] == "error", "{t:#}");
    }
}

lab_test! {
    fn https_sending_100_mib() {
        let domain = "huge.test";
        let (ca, dns, ip) = web_lab(3, domain);
        https_server(
            &ip,
            &ca,
            &[&format!("autoconfig.{domain}"), domain],
            |mut tls| {
                let total = 100 * 1024 * 1024;
                let _ = tls.write_all(
                    format!("{XML_HEAD}Content-Length: {total}\r\n\r\n<clientConfig><!--").as_bytes(),
                );
                let chunk = vec![b'x'; 64 * 1024];
                let mut sent = 0;
                while sent < total {
                    if tls.write_all(&chunk).is_err() {
                        return;
                    }
                    sent += chunk.len();
                }
            },
        );
        let r = lookup(
            &dns.addr.ip().to_string(),
            &ca,
            &format!("someone@{domain}"),
        );
        bounded(&r, "100 MiB");
        let v = r.json();
        let t = autoconfig_entry(&v, domain);
        assert!(t["result"] == "invalid" || t["result"] == "error", "{t:#}");
    }
}

lab_test! {
    fn tls_handshake_that_stalls() {
        let domain = "stall.test";
        let (ca, dns, ip) = web_lab(4, domain);
        // Accepts, reads the ClientHello, never answers.
        let listener = TcpListener::bind(format!("{ip}:443")).unwrap();
        let imap = TcpListener::bind(format!("{ip}:993")).unwrap();
        for l in [listener, imap] {
            std::thread::spawn(move || {
                let mut held = Vec::new();
                for mut s in l.incoming().flatten() {
                    let mut buf = [0u8; 4096];
                    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
                    let _ = s.read(&mut buf);
                    held.push(s);
                }
            });
        }
        let r = lookup(
            &dns.addr.ip().to_string(),
            &ca,
            &format!("someone@{domain}"),
        );
        bounded(&r, "stalled handshake (HTTPS)");
        let v = r.json();
        let t = autoconfig_entry(&v, domain);
        assert!(t["result"] == "timeout" || t["result"] == "error", "{t:#}");

        let c = check(&ca, &[&format!("imaps://{ip}:993")]);
        bounded(&c, "stalled handshake (IMAP)");
        let v = c.json();
        assert!(!codes(&v).is_empty(), "no finding: {v:#}");
        assert_eq!(c.code, Some(1), "{v:#}");
    }
}

// --- Mail servers ----------------------------------------------------------------

fn check(ca: &TestCa, incoming: &[&str]) -> Run {
    let ca_file = ca.ca_file();
    let mut args = vec![
        "check",
        "--json",
        "--timeout",
        TIMEOUT,
        "--dns",
        "127.0.12.99",
        "--ispdb-url",
        NOWHERE_ISPDB,
        "--ca-file",
        ca_file.to_str().unwrap(),
        "someone@lab.test",
    ];
    for i in incoming {
        args.extend(["--incoming", i]);
    }
    run(&args)
}

lab_test! {
    fn imap_server_silent_after_the_greeting() {
        let ca = TestCa::new();
        let _silent = Fake::start(
            "127.0.12.60:143",
            Script {
                greeting: "* OK ready\r\n".into(),
                implicit_tls: None,
                starttls_tls: None,
                respond: Arc::new(|| {
                    Box::new(|_: &str, _: bool| Action::Nothing) as lab::fake::Respond
                }),
            },
        );
        let r = check(&ca, &["imap://127.0.12.60:143"]);
        bounded(&r, "silent IMAP");
        let v = r.json();
        let c = codes(&v);
        assert!(
            c.iter()
                .any(|c| c == "server-error" || c == "timeout" || c == "unreachable"),
            "{v:#}"
        );
        assert_eq!(r.code, Some(1), "{v:#}");
    }
}

lab_test! {
    fn server_closing_during_starttls() {
        let ca = TestCa::new();
        // Says OK to STARTTLS, then closes before any handshake.
        let _closer = Fake::start(
            "127.0.12.61:143",
            Script {
                greeting: "* OK ready\r\n".into(),
                implicit_tls: None,
                starttls_tls: None,
                respond: Imap::default().plain().respond,
            },
        );
        let r = check(&ca, &["imap://127.0.12.61:143"]);
        bounded(&r, "close during STARTTLS");
        let v = r.json();
        let c = codes(&v);
        assert!(
            c.iter()
                .any(|c| c == "starttls-missing" || c == "server-error"),
            "{v:#}"
        );
        assert_eq!(r.code, Some(1), "{v:#}");
    }
}

/// Sets SO_LINGER to zero, so closing the socket sends a reset.
#[allow(deprecated)] // tokio's set_linger: deprecated for its blocking close, which is the point here
fn set_linger_zero(s: &TcpStream) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let s = tokio::net::TcpStream::from_std(s.try_clone().unwrap()).unwrap();
    s.set_linger(Some(Duration::ZERO)).unwrap();
}
