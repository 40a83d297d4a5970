//! The service's outbound policy, tried as an attacker would: a visitor
//! picks the domain, so every DNS answer, SRV target and redirect is
//! theirs. Each test aims discovery run by `serve` at internal addresses
//! one way and proves that nothing connected there, while a stand-in public
//! range shows that public targets are still reached.
//!
//! Address plan (inside the lab's namespace only):
//! - 127.0.12.50–59  one DNS server per test
//! - 127.0.12.1N, 10.0.12.1N, 169.254.12.1N  test N's "internal" hosts:
//!   tripwires that count every connection on the ports an attacker would
//!   pick; 169.254.169.254 the cloud metadata address
//! - 11.0.12.0/24    the stand-in public range. 11.0.0.0/8 is genuinely
//!   public address space (so the policy treats it as public with no test
//!   knob); it exists here only on the namespace's own loopback.

mod lab;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lab::TestCa;
use lab::dns::{Dns, Record};
use lab::https::{Reply, Route, Web};
use mailsetup::address::EmailAddress;
use mailsetup::lookup::{LookupError, Options, Tried, TryResult};
use mailsetup::server::config::DiscoveryConfig;
use mailsetup::server::resolve::{self, DiscoverFn};
use mailsetup::settings::Source;

/// Ports an attacker would aim at, besides the standard ones.
const PORTS: [u16; 13] = [
    22, 80, 443, 993, 143, 995, 110, 465, 587, 2375, 6379, 8080, 25,
];

/// Puts the internal and stand-in public addresses on loopback (once).
fn addresses() {
    lab::require();
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for a in [
            "10.0.12.0/24",
            "169.254.12.0/24",
            "169.254.169.254/32",
            "11.0.12.0/24",
        ] {
            let _ = std::process::Command::new("ip")
                .args(["addr", "add", a, "dev", "lo"])
                .status();
        }
    });
}

/// Listeners on every attacker port of one address, counting connections
/// (a completed handshake waits in the accept queue until counted).
struct Tripwire {
    listeners: Vec<(SocketAddr, TcpListener)>,
}

impl Tripwire {
    fn on(ip: &str, ports: &[u16]) -> Tripwire {
        let listeners = ports
            .iter()
            .map(|p| {
                let addr: SocketAddr = format!("{ip}:{p}").parse().unwrap();
                let l = TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
                l.set_nonblocking(true).unwrap();
                (addr, l)
            })
            .collect();
        Tripwire { listeners }
    }

    /// Every address that got a connection.
    fn hit(&self) -> Vec<SocketAddr> {
        let mut hit = Vec::new();
        for (addr, l) in &self.listeners {
            while l.accept().is_ok() {
                hit.push(*addr);
            }
        }
        hit
    }
}

/// Test `n`'s internal hosts, on every attacker port.
fn internal(n: u8) -> Vec<Tripwire> {
    [
        format!("127.0.12.{}", 10 + n),
        format!("10.0.12.{}", 10 + n),
        format!("169.254.12.{}", 10 + n),
    ]
    .iter()
    .map(|ip| Tripwire::on(ip, &PORTS))
    .collect()
}

fn assert_untouched(wires: &[Tripwire]) {
    let hit: Vec<_> = wires.iter().flat_map(Tripwire::hit).collect();
    assert!(hit.is_empty(), "internal hosts were connected to: {hit:?}");
}

/// Discovery as `serve` runs it, under the default `[discovery]` policy.
fn service(dns: &Dns, ca: &TestCa) -> DiscoverFn {
    let opts = Options {
        timeout: Duration::from_secs(6),
        dns: Some(dns.addr),
        ca_file: Some(ca.ca_file()),
        ispdb_url: "https://ispdb.lab.test/v1.1/".into(),
        ..Options::default()
    };
    resolve::network_discovery(opts, &DiscoveryConfig::default())
}

/// Runs `discover` for `email`: the tried entries, and whether settings
/// were found.
async fn run(discover: &DiscoverFn, email: &str) -> (Vec<Tried>, bool) {
    let email = EmailAddress::parse(email).unwrap();
    match discover(email).await {
        Ok(l) => (l.tried, true),
        Err(e @ LookupError::NotFound { .. }) => (e.tried().to_vec(), false),
        Err(e) => panic!("{e}"),
    }
}

fn show(tried: &[Tried]) -> String {
    tried
        .iter()
        .map(|t| format!("{} {} {:?} {:?}", t.source, t.url, t.result, t.detail))
        .collect::<Vec<_>>()
        .join("\n")
}

fn refused<'a>(tried: &'a [Tried], url_part: &str) -> Vec<&'a Tried> {
    tried
        .iter()
        .filter(|t| t.url.contains(url_part) && t.result == TryResult::RefusedInsecure)
        .collect()
}

lab_test! {
    #[tokio::test(flavor = "multi_thread")]
    async fn names_pointing_at_internal_addresses_are_never_dialled() {
        addresses();
        let wires = internal(1);
        let ca = TestCa::new();
        let dns = Dns::start(
            "127.0.12.50",
            &[
                Record::a("imap.guess.test", "10.0.12.11"),
                Record::a("mail.guess.test", "127.0.12.11"),
                Record::a("smtp.guess.test", "169.254.12.11"),
                // IPv4-mapped IPv6: the same internal host in other clothing.
                Record::a("pop3.guess.test", "::ffff:10.0.12.11"),
                Record::a("pop.guess.test", "::ffff:127.0.12.11"),
                Record::a("autoconfig.guess.test", "10.0.12.11"),
                Record::a("guess.test", "169.254.12.11"),
                Record::a("autodiscover.guess.test", "127.0.12.11"),
            ],
        );
        let (tried, found) = run(&service(&dns, &ca), "jane@guess.test").await;
        assert!(!found, "{}", show(&tried));
        assert_untouched(&wires);
        // Every guess was refused for its address, in the answer's words.
        for host in ["imap.", "mail.", "smtp.", "pop3.", "pop."] {
            let r = refused(&tried, &format!("//{host}guess.test"));
            assert!(!r.is_empty(), "{host}: {}", show(&tried));
            for t in r {
                assert_eq!(t.detail.as_deref(), Some("not a public address"));
            }
        }
        for url in [
            "autoconfig.guess.test",
            "https://guess.test/",
            "autodiscover.guess.test",
        ] {
            assert!(!refused(&tried, url).is_empty(), "{url}: {}", show(&tried));
        }
        // No raw network text anywhere.
        for t in &tried {
            if let Some(d) = &t.detail {
                assert!(!d.contains("refused:") && !d.contains("os error"), "{d}");
            }
        }
    }
}

lab_test! {
    #[tokio::test(flavor = "multi_thread")]
    async fn redirects_to_internal_and_metadata_urls_are_refused() {
        addresses();
        let mut wires = internal(2);
        wires.push(Tripwire::on("169.254.169.254", &[80, 443]));
        let ca = TestCa::new();
        let public = "11.0.12.1";
        let names = [
            "redirect.test",
            "autoconfig.redirect.test",
            "autodiscover.redirect.test",
        ];
        let leaf = ca.issue(&names);
        let metadata = "http://169.254.169.254/latest/meta-data/iam/security-credentials/admin";
        let config = "/mail/config-v1.1.xml";
        let well_known = "/.well-known/autoconfig/mail/config-v1.1.xml";
        let pox = "/autodiscover/autodiscover.xml";
        let https = Web::start(
            public,
            443,
            Some(&leaf),
            vec![
                Route::get(
                    "autoconfig.redirect.test",
                    config,
                    Reply::Redirect(307, "https://10.0.12.12/mail/config-v1.1.xml".into()),
                ),
                Route::get(
                    "redirect.test",
                    well_known,
                    Reply::Redirect(302, "https://internal.redirect.test/x".into()),
                ),
                Route::post(
                    "redirect.test",
                    pox,
                    Reply::Redirect(
                        307,
                        "https://int.redirect.test:22/autodiscover/autodiscover.xml".into(),
                    ),
                ),
                Route::post(
                    "autodiscover.redirect.test",
                    pox,
                    Reply::Redirect(
                        307,
                        "https://[::ffff:127.0.12.12]/autodiscover/autodiscover.xml".into(),
                    ),
                ),
            ],
        );
        let http = Web::start(
            public,
            80,
            None,
            vec![
                Route::get(
                    "autoconfig.redirect.test",
                    config,
                    Reply::Redirect(302, metadata.into()),
                ),
                Route::get(
                    "redirect.test",
                    well_known,
                    Reply::Redirect(302, "http://10.0.12.12:6379/FLUSHALL".into()),
                ),
            ],
        );
        let mut records: Vec<Record> = names.iter().map(|n| Record::a(n, public)).collect();
        records.push(Record::a("internal.redirect.test", "10.0.12.12"));
        records.push(Record::a("int.redirect.test", "11.0.12.2"));
        let int = Tripwire::on("11.0.12.2", &[22]);
        let dns = Dns::start("127.0.12.51", &records);
        let (tried, found) = run(&service(&dns, &ca), "jane@redirect.test").await;
        assert!(!found, "{}", show(&tried));
        assert_untouched(&wires);
        assert!(
            int.hit().is_empty(),
            "a redirect reached a non-standard port"
        );
        // The public host was asked: the redirects were seen and refused.
        assert!(https.requests().len() >= 3, "{:?}", https.requests());
        assert!(http.requests().len() >= 2, "{:?}", http.requests());
        let autoconfig: Vec<_> = tried
            .iter()
            .filter(|t| t.source == Source::Autoconfig)
            .collect();
        assert!(
            autoconfig
                .iter()
                .all(|t| t.result == TryResult::RefusedInsecure),
            "{}",
            show(&tried)
        );
        let not_public = tried
            .iter()
            .filter(|t| t.detail.as_deref() == Some("not a public address"))
            .count();
        assert!(not_public >= 2, "{}", show(&tried));
        assert!(
            tried.iter().any(|t| t.source == Source::Autodiscover
                && t.result == TryResult::RefusedInsecure
                && t.detail
                    .as_deref()
                    .is_some_and(|d| d.starts_with("not a standard port"))),
            "{}",
            show(&tried)
        );
    }
}

lab_test! {
    #[tokio::test(flavor = "multi_thread")]
    async fn srv_targets_on_internal_ports_are_recorded_and_not_dialled() {
        addresses();
        let wires = internal(3);
        // The SRV ports of a public host (its standard ports may be guessed).
        let public = Tripwire::on("11.0.12.3", &[22, 2375, 6379]);
        let ca = TestCa::new();
        let dns = Dns::start(
            "127.0.12.52",
            &[
                Record::srv("_autodiscover._tcp.srv.test", "int.srv.test", 6379, 0, 0),
                Record::a("int.srv.test", "11.0.12.3"),
                Record::srv("_imaps._tcp.srv.test", "imap.srv.test", 2375, 0, 0),
                Record::srv("_submissions._tcp.srv.test", "smtp.srv.test", 22, 0, 0),
                Record::a("imap.srv.test", "10.0.12.13"),
                Record::a("smtp.srv.test", "11.0.12.3"),
            ],
        );
        let (tried, _) = run(&service(&dns, &ca), "jane@srv.test").await;
        assert_untouched(&wires);
        assert!(public.hit().is_empty(), "an SRV port was dialled");
        // The SRV answers are recorded as what DNS said.
        assert!(
            tried
                .iter()
                .any(|t| t.url == "SRV _imaps._tcp.srv.test" && t.result == TryResult::Found),
            "{}",
            show(&tried)
        );
        assert!(
            tried
                .iter()
                .any(|t| t.url.contains("int.srv.test:6379")
                    && t.result == TryResult::RefusedInsecure),
            "{}",
            show(&tried)
        );
    }
}

/// A name server that answers every A question for `.test` with `public`
/// and `private` by turns, with TTL 0, so that any check made on one
/// answer and a connection made on the next would meet different
/// addresses.
struct Rebinder {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    asked: Arc<AtomicUsize>,
}

impl Rebinder {
    fn start(addr: &str, public: [u8; 4], private: [u8; 4]) -> Rebinder {
        let socket = std::net::UdpSocket::bind(addr).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let asked = Arc::new(AtomicUsize::new(0));
        let (s, n) = (stop.clone(), asked.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !s.load(Ordering::Relaxed) {
                let Ok((len, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                if let Some(reply) = answer(&buf[..len], || {
                    if n.fetch_add(1, Ordering::Relaxed) % 2 == 0 {
                        public
                    } else {
                        private
                    }
                }) {
                    let _ = socket.send_to(&reply, from);
                }
            }
        });
        Rebinder {
            stop,
            thread: Some(thread),
            asked,
        }
    }
}

impl Drop for Rebinder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The reply to one query: A questions get one address from `next`, other
/// types an empty answer.
fn answer(q: &[u8], next: impl FnOnce() -> [u8; 4]) -> Option<Vec<u8>> {
    if q.len() < 12 {
        return None;
    }
    let mut at = 12;
    while *q.get(at)? != 0 {
        at += 1 + usize::from(q[at]);
    }
    let qtype = u16::from_be_bytes([*q.get(at + 1)?, *q.get(at + 2)?]);
    let question = &q[12..at + 5];
    let a = qtype == 1;
    let mut r = vec![q[0], q[1], 0x85, 0x80, 0, 1, 0, u8::from(a), 0, 0, 0, 0];
    r.extend_from_slice(question);
    if a {
        r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4]);
        r.extend_from_slice(&next());
    }
    Some(r)
}

lab_test! {
    #[tokio::test(flavor = "multi_thread")]
    async fn a_rebinding_name_server_gains_nothing() {
        addresses();
        let wires = internal(4);
        let ca = TestCa::new();
        let leaf = ca.issue(&[
            "autoconfig.rebind.test",
            "rebind.test",
            "autodiscover.rebind.test",
        ]);
        // The public face answers with a redirect back to its own name, which
        // the name server then points at the internal host.
        let web = Web::start(
            "11.0.12.4",
            443,
            Some(&leaf),
            vec![Route::any(
                "*",
                "/mail/config-v1.1.xml",
                Reply::Redirect(302, "https://rebind.test/again".into()),
            )],
        );
        let rebinder = Rebinder::start("127.0.12.53:53", [11, 0, 12, 4], [10, 0, 12, 14]);
        let opts = Options {
            timeout: Duration::from_secs(6),
            dns: Some("127.0.12.53:53".parse().unwrap()),
            ca_file: Some(ca.ca_file()),
            ispdb_url: "https://ispdb.lab.test/v1.1/".into(),
            ..Options::default()
        };
        let discover = resolve::network_discovery(opts, &DiscoveryConfig::default());
        let (tried, _) = run(&discover, "jane@rebind.test").await;
        assert!(
            rebinder.asked.load(Ordering::Relaxed) >= 4,
            "{}",
            show(&tried)
        );
        assert_untouched(&wires);
        assert!(!web.requests().is_empty(), "the public answers were used");
        assert!(
            tried
                .iter()
                .any(|t| t.detail.as_deref() == Some("not a public address")),
            "{}",
            show(&tried)
        );
    }
}

/// good.test's autoconfig file: IMAP and SMTP over TLS at imap. and smtp.
fn good_config() -> String {
    lab::autoconfig::Autoconfig::new("good.test").xml()
}

lab_test! {
    #[tokio::test(flavor = "multi_thread")]
    async fn public_targets_are_reached_and_the_api_answers_without_network_text() {
        addresses();
        let ca = TestCa::new();
        let leaf = ca.issue(&["autoconfig.good.test"]);
        let web = Web::start(
            "11.0.12.5",
            443,
            Some(&leaf),
            vec![Route::get(
                "autoconfig.good.test",
                "/mail/config-v1.1.xml",
                Reply::xml(good_config()),
            )],
        );
        let dns = Dns::start(
            "127.0.12.54",
            &[Record::a("autoconfig.good.test", "11.0.12.5")],
        );
        let server =
            lab::server::Running::start(lab::server::config(""), service(&dns, &ca), "127.0.12.60")
                .await;
        let r = lab::server::client()
            .get(server.url("/api/v1/lookup?email=jane@good.test"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let json: serde_json::Value = r.json().await.unwrap();
        assert_eq!(json["source"], "autoconfig", "{json}");
        assert_eq!(json["trust"], "verified", "{json}");
        assert_eq!(json["incoming"][0]["host"], "imap.good.test");
        assert_eq!(web.requests().len(), 1);
        // The sources that failed say how, not what the network said.
        for t in json["tried"].as_array().unwrap() {
            let detail = t["detail"].as_str().unwrap_or("");
            assert!(
                detail.is_empty() || detail.starts_with("not ") || detail.starts_with("stopped"),
                "{t}"
            );
        }
        server.stop().await;
    }
}

lab_test! {
    #[tokio::test(flavor = "multi_thread")]
    async fn one_discovery_opens_at_most_24_connections() {
        addresses();
        // Every name of the domain answers on every standard port, at a
        // public address, and closes at once: without a budget, guessing alone
        // would open 28 connections (14 names here, 14 at the MX host's
        // domain), more with the retries of ports that send no greeting.
        let wires: Vec<Tripwire> = (6..=7)
            .map(|n| {
                Tripwire::on(
                    &format!("11.0.12.{n}"),
                    &[80, 443, 993, 143, 995, 110, 465, 587],
                )
            })
            .collect();
        let ca = TestCa::new();
        // The MX host's domain doubles the guesses.
        let mut records = vec![
            Record::a("many.test", "11.0.12.6"),
            Record::mx("many.test", "mx.many-mx.test", 10),
        ];
        for h in [
            "autoconfig",
            "autodiscover",
            "imap",
            "mail",
            "pop3",
            "pop",
            "smtp",
        ] {
            records.push(Record::a(&format!("{h}.many.test"), "11.0.12.7"));
            records.push(Record::a(&format!("{h}.many-mx.test"), "11.0.12.7"));
        }
        let dns = Dns::start("127.0.12.55", &records);
        let counting = {
            let wires = &wires;
            move || -> usize { wires.iter().map(|w| w.hit().len()).sum() }
        };
        let discover = service(&dns, &ca);
        let email = EmailAddress::parse("jane@many.test").unwrap();
        let mut total = 0;
        let fut = discover(email);
        tokio::pin!(fut);
        let result = loop {
            tokio::select! {
                r = &mut fut => break r,
                _ = tokio::time::sleep(Duration::from_millis(20)) => total += counting(),
            }
        };
        total += counting();
        let (tried, reported) = match result {
            Ok(l) => (l.tried, l.connections),
            Err(e) => (e.tried().to_vec(), e.connections()),
        };
        // What the rate limit is charged: every connection, none invented.
        assert!(
            (total..=24).contains(&(reported as usize)),
            "{reported} reported, {total} seen"
        );
        assert!(total > 0, "nothing was dialled: {}", show(&tried));
        assert!(total <= 24, "{total} connections: {}", show(&tried));
        eprintln!("{total} connections");
        assert!(
            tried.iter().any(|t| t.result == TryResult::Cancelled
                && t.detail.as_deref().is_some_and(|d| d.contains("budget"))),
            "{}",
            show(&tried)
        );
    }
}

/// A discovery that takes `delay` and counts its calls.
fn slow(calls: Arc<AtomicUsize>, delay: Duration) -> DiscoverFn {
    Arc::new(move |email: EmailAddress| {
        let calls = calls.clone();
        Box::pin(async move {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            Err(LookupError::NotFound {
                domain: email.domain().to_string(),
                tried: Vec::new(),
                connections: 0,
            })
        })
    })
}

#[tokio::test]
async fn discoveries_beyond_the_cap_get_503_with_retry_after() {
    let calls = Arc::new(AtomicUsize::new(0));
    let config = lab::server::config("[discovery]\nmax_concurrent = 1\n");
    let server = lab::server::Running::start(
        config,
        slow(calls.clone(), Duration::from_millis(800)),
        "127.0.0.1",
    )
    .await;
    let client = lab::server::client();
    let first = client
        .get(server.url("/api/v1/lookup?email=a@slow-one.test"))
        .send();
    let second = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        client
            .get(server.url("/api/v1/lookup?email=b@slow-two.test"))
            .send()
            .await
            .unwrap()
    };
    let (first, second) = tokio::join!(first, second);
    assert_eq!(first.unwrap().status(), 404);
    assert_eq!(second.status(), 503);
    assert_eq!(second.headers()["retry-after"], "5");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // The refusal is not cached: once the slot is free, it runs.
    let again = client
        .get(server.url("/api/v1/lookup?email=b@slow-two.test"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    server.stop().await;
}

lab_test! {
    fn the_cli_reaches_private_hosts_but_not_through_a_public_redirect() {
        addresses();
        let ca = TestCa::new();
        let leaf = ca.issue(&["autoconfig.cli.test", "cli.test"]);
        let private_leaf = ca.issue(&["autoconfig.home.test", "intranet.cli.test"]);
        // A public host redirecting to an intranet name.
        let _public = Web::start(
            "11.0.12.8",
            443,
            Some(&leaf),
            vec![Route::any(
                "*",
                "/mail/config-v1.1.xml",
                Reply::Redirect(302, "https://intranet.cli.test/mail/config-v1.1.xml".into()),
            )],
        );
        let private = Web::start(
            "10.0.12.40",
            443,
            Some(&private_leaf),
            vec![Route::any(
                "*",
                "/mail/config-v1.1.xml",
                Reply::xml(good_config().replace("good.test", "home.test")),
            )],
        );
        let dns = Dns::start(
            "127.0.12.56",
            &[
                Record::a("autoconfig.cli.test", "11.0.12.8"),
                Record::a("intranet.cli.test", "10.0.12.40"),
                Record::a("autoconfig.home.test", "10.0.12.40"),
            ],
        );
        let lookup = |email: &str| -> serde_json::Value {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_mailsetup"))
                .args(["lookup", "--json", "--timeout", "5", "--dns"])
                .arg(dns.addr.to_string())
                .args(["--ispdb-url", "https://ispdb.lab.test/v1.1/", "--ca-file"])
                .arg(ca.ca_file())
                .arg(email)
                .output()
                .unwrap();
            serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
        };
        // A person's own network: reached.
        let home = lookup("jane@home.test");
        assert_eq!(home["source"], "autoconfig", "{home}");
        let seen = private.requests().len();
        assert!(seen >= 1);
        // Through a public host's redirect: refused, and the intranet host
        // never asked again.
        let redirected = lookup("jane@cli.test");
        assert_eq!(private.requests().len(), seen, "{:?}", private.requests());
        let tried = redirected["tried"].as_array().expect("tried");
        assert!(
            tried.iter().any(|t| t["source"] == "autoconfig"
                && t["result"] == "refused-insecure"
                && t["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("redirect from a public host"))),
            "{redirected}"
        );
    }
}
