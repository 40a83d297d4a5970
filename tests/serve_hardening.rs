//! `mailsetup serve` facing the internet, tried as an attacker would:
//! connections that never send a request or send it a byte at a time,
//! more connections than one client should hold, file descriptors run
//! short; settings nobody verified, or servers without encryption, asked
//! for as device files; Host headers that name someone else's server.
//!
//! The in-process tests use short timeouts from the configuration; the
//! exhaustion test (`#[ignore]`d: it needs the lab's addresses) runs the
//! binary under `prlimit --nofile=1024:1024`, systemd's default soft limit.

mod lab;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lab::server::{Binary, OPERATOR_TOML, Running, client, config, offline};
use mailsetup::address::EmailAddress;
use mailsetup::lookup::{self, Lookup};
use mailsetup::server::resolve::DiscoverFn;
use mailsetup::settings::{AuthMethod, Protocol, Security, Server, Settings, Source, Trust};
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Waits until the server closes `stream` (EOF or reset), up to `limit`;
/// the time it took, or `None` if it stayed open.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((start + limit).into(), stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
            // A response (or a 408); keep reading until the close.
            Ok(Ok(_)) => continue,
        }
    }
}

async fn start(toml: &str) -> Running {
    Running::start(config(toml), offline(), "127.0.0.1").await
}

fn addr(s: &Running) -> SocketAddr {
    s.base.trim_start_matches("http://").parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_sends_no_headers_is_dropped_after_the_header_timeout() {
    let s = start(&format!(
        "[connections]\nheader_timeout_secs = 1\n{OPERATOR_TOML}"
    ))
    .await;
    // Silent.
    let mut silent = TcpStream::connect(addr(&s)).await.unwrap();
    // Slowloris: a byte of header every 200 ms, never the end.
    let mut slow = TcpStream::connect(addr(&s)).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let trickle = tokio::spawn(async move {
        let start = Instant::now();
        while slow.write_all(b"X").await.is_ok() && start.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        start.elapsed()
    });
    let t = closed_within(&mut silent, Duration::from_secs(4))
        .await
        .expect("a silent connection is closed");
    assert!(t >= Duration::from_millis(900), "closed too early: {t:?}");
    let t = trickle.await.unwrap();
    assert!(
        t < Duration::from_secs(4),
        "a trickling client is closed by the header timeout too: {t:?}"
    );
    // Meanwhile, and after, everyone else is served.
    let r = s.fetch("/healthz").await;
    assert_eq!(r.status(), StatusCode::OK);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_kept_alive_connection_is_closed_after_keep_alive_secs() {
    let s = start(&format!(
        "[connections]\nheader_timeout_secs = 10\nkeep_alive_secs = 1\n{OPERATOR_TOML}"
    ))
    .await;
    let mut c = TcpStream::connect(addr(&s)).await.unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = c.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{:?}", &buf[..n]);
    // Kept alive: a second request on the same connection is answered.
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let n = c.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    // Then idle: closed after about a second, long before the header
    // timeout.
    let t = closed_within(&mut c, Duration::from_secs(5))
        .await
        .expect("the idle connection is closed");
    assert!(
        t >= Duration::from_millis(900) && t < Duration::from_secs(3),
        "{t:?}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_per_client_cap_are_closed_at_once_and_counted() {
    let s = start(&format!("[connections]\nper_client = 3\n{OPERATOR_TOML}")).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(addr(&s)).await.unwrap());
    }
    // Let the server count them.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut over = TcpStream::connect(addr(&s)).await.unwrap();
    let t = closed_within(&mut over, Duration::from_secs(2))
        .await
        .expect("the fourth connection is closed");
    assert!(t < Duration::from_millis(500), "{t:?}");
    // The held ones still work.
    held[0]
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    held[0].read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Places are freed when connections close.
    let metrics = s.fetch("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"mailsetup_connections_refused_total{reason="per-client"} 1"#),
        "{metrics}"
    );
    s.stop().await;
}

#[test]
fn connection_settings_out_of_range_refuse_to_start() {
    for (text, want) in [
        (
            "[connections]\nheader_timeout_secs = 0\n",
            "between 1 and 300",
        ),
        ("[connections]\nmax = 0\n", "at least 1"),
        ("[connections]\nper_client = -1\n", "mail.toml:2"),
    ] {
        let e =
            mailsetup::server::config::parse(text, std::path::Path::new("mail.toml")).unwrap_err();
        assert!(e.to_string().contains(want), "{text}: {e}");
    }
}

/// Discovery answering every domain with `make(domain)`'s servers and
/// `trust`.
fn discovery(trust: Trust, make: fn(&str) -> (Vec<Server>, Vec<Server>)) -> DiscoverFn {
    Arc::new(move |email: EmailAddress| {
        Box::pin(async move {
            let (incoming, outgoing) = make(email.domain());
            let settings = Settings {
                provider: None,
                incoming,
                outgoing,
                source: Source::Autoconfig,
                trust,
                notes: vec![],
            };
            let tried = vec![lookup::Tried {
                source: Source::Autoconfig,
                url: format!("http://autoconfig.{}/mail/config-v1.1.xml", email.domain()),
                result: lookup::TryResult::Found,
                ms: 1,
                detail: None,
                problem: None,
            }];
            Ok::<Lookup, _>(Lookup::build(&email, settings, tried))
        })
    })
}

/// A server with no configuration whose discovery is [`discovery`].
async fn discovering(trust: Trust, make: fn(&str) -> (Vec<Server>, Vec<Server>)) -> Running {
    Running::start(config(""), discovery(trust, make), "127.0.0.1").await
}

fn server(protocol: Protocol, host: String, port: u16, security: Security) -> Server {
    Server {
        protocol,
        host,
        port,
        security,
        auth: vec![AuthMethod::Password],
        username: "%EMAILADDRESS%".into(),
    }
}

fn encrypted(d: &str) -> (Vec<Server>, Vec<Server>) {
    (
        vec![server(
            Protocol::Imap,
            format!("imap.{d}"),
            993,
            Security::Tls,
        )],
        vec![server(
            Protocol::Smtp,
            format!("smtp.{d}"),
            465,
            Security::Tls,
        )],
    )
}

async fn device_files(s: &Running, email: &str) -> Vec<(&'static str, reqwest::Response)> {
    let c = client();
    let get = |path| c.get(s.url(path)).query(&[("emailaddress", email)]).send();
    vec![
        ("mobileconfig", get("/apple/mobileconfig").await.unwrap()),
        ("autoconfig", get("/mail/config-v1.1.xml").await.unwrap()),
        ("autodiscover", s.autodiscover(&c, email).await),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unverified_settings_are_never_handed_to_a_device() {
    let s = discovering(Trust::Unverified, encrypted).await;
    for (what, r) in device_files(&s, "jane@plain-http.test").await {
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{what}");
        let text = r.text().await.unwrap();
        assert!(text.contains("unverified"), "{what}: {text}");
        assert!(text.contains("by hand"), "{what}: {text}");
        assert!(!text.contains("imap.plain-http.test"), "{what}: {text}");
        assert!(
            !text.contains("--allow"),
            "{what}: no CLI flags on the web: {text}"
        );
    }
    // A person still sees them on the page, with the warning and no
    // profile to download.
    let r = s.fetch("/?email=jane%40plain-http.test").await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("imap.plain-http.test"), "{html}");
    assert!(html.contains("unverified"), "{html}");
    assert!(!html.contains(r#"id="profile-link""#), "{html}");
    assert!(!html.contains("<svg"), "no QR code: {html}");
    s.stop().await;
}

fn plaintext_fallbacks(d: &str) -> (Vec<Server>, Vec<Server>) {
    let (mut incoming, outgoing) = encrypted(d);
    incoming.push(server(
        Protocol::Imap,
        format!("plain.{d}"),
        143,
        Security::None,
    ));
    (incoming, outgoing)
}

fn plaintext_only_outgoing(d: &str) -> (Vec<Server>, Vec<Server>) {
    let (incoming, _) = encrypted(d);
    (
        incoming,
        vec![server(
            Protocol::Smtp,
            format!("smtp.{d}"),
            25,
            Security::None,
        )],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_without_encryption_are_left_out_of_device_files() {
    let s = discovering(Trust::Verified, plaintext_fallbacks).await;
    for (what, r) in device_files(&s, "jane@fallback.test").await {
        assert_eq!(r.status(), StatusCode::OK, "{what}");
        let body = r.bytes().await.unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("imap.fallback.test"), "{what}: {text}");
        assert!(!text.contains("plain.fallback.test"), "{what}: {text}");
    }
    s.stop().await;

    let s = discovering(Trust::Verified, plaintext_only_outgoing).await;
    for (what, r) in device_files(&s, "jane@cleartext.test").await {
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{what}");
        let text = r.text().await.unwrap();
        assert!(text.contains("outgoing server"), "{what}: {text}");
        assert!(text.contains("no encryption"), "{what}: {text}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_and_qr_codes_never_follow_a_foreign_host_header() {
    let s = start(OPERATOR_TOML).await;
    let c = client();
    let page = |host: &'static str| {
        c.get(s.url("/?email=jane%40example.test"))
            .header("Host", host)
            .send()
    };
    // The operator's names make absolute links and a QR code...
    for host in ["autoconfig.example.test", "example-alias.test:8443"] {
        let html = page(host).await.unwrap().text().await.unwrap();
        assert!(
            html.contains(&format!("href=\"http://{host}/apple/mobileconfig?")),
            "{host}: {html}"
        );
        assert!(html.contains("<svg"), "{host}");
    }
    // ...any other name gets a relative link and no QR code.
    let html = page("evil.example").await.unwrap().text().await.unwrap();
    assert!(!html.contains("evil.example"), "{html}");
    assert!(
        html.contains(r#"href="/apple/mobileconfig?emailaddress=jane%40example.test""#),
        "{html}"
    );
    assert!(!html.contains("<svg"), "{html}");
    let r = c
        .get(s.url("/qr.svg?emailaddress=jane@example.test"))
        .header("Host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.text().await.unwrap().contains("public_url"));
    // New Outlook's pointer is not made for a foreign name either.
    let r =
        c.get(s.url(
            "/autodiscover/autodiscover.json?Email=jane@example.test&Protocol=AutodiscoverV1",
        ))
        .header("Host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::MISDIRECTED_REQUEST);
    assert!(!r.text().await.unwrap().contains("evil.example"));
    s.stop().await;

    // With public_url, links always use it.
    let s = start(&format!(
        "public_url = \"https://mail.example.test/\"\n{OPERATOR_TOML}"
    ))
    .await;
    let html = s
        .fetch_as("/?email=jane%40example.test", "evil.example")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"href="https://mail.example.test/apple/mobileconfig?"#));
    assert!(!html.contains("evil.example"));
    s.stop().await;
}

#[test]
fn serve_warns_at_start_when_links_follow_the_host_header() {
    let b = Binary::start(&["--offline", "--listen", "127.0.0.1:0"]);
    let log = b.start_log.join("\n");
    assert!(log.contains("WARN"), "{log}");
    assert!(log.contains("no public_url"), "{log}");
    assert!(log.contains("Host header"), "{log}");
    // The open files limit is said too.
    assert!(log.contains("open files limit"), "{log}");
    drop(b);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mail.toml");
    std::fs::write(
        &file,
        format!("public_url = \"https://mail.example.test\"\n{OPERATOR_TOML}"),
    )
    .unwrap();
    let b = Binary::start_offline(&file);
    assert!(!b.start_log.join("\n").contains("no public_url"));
}

/// Opens a connection to `to` from `from` (an address of the lab's lo).
async fn connect_from(from: &str, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(format!("{from}:0").parse().unwrap())?;
    socket.connect(to).await
}

lab_test! {
    fn idle_and_slowloris_floods_under_1024_descriptors_leave_others_served() {
        // This process holds thousands of sockets.
        rlimit::increase_nofile_limit(16_384).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mail.toml");
        std::fs::write(&file, OPERATOR_TOML).unwrap();
        let b = Binary::start_under(
            &["prlimit", "--nofile=1024:1024"],
            &[
                "--offline",
                "--listen",
                "127.0.4.40:8080",
                "--config",
                file.to_str().unwrap(),
            ],
        );
        let server = b.addr;
        let header_timeout = Duration::from_secs(10);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            // 1,100 connections that send nothing, from one address...
            let mut idle = Vec::new();
            for _ in 0..1100 {
                let start = Instant::now();
                let c = connect_from("127.0.4.41", server).await.expect("connect");
                idle.push(tokio::spawn(async move {
                    let mut c = c;
                    let closed = closed_within(&mut c, Duration::from_secs(30)).await;
                    closed.map(|_| start.elapsed())
                }));
            }
            // ...and 3,000 that send headers a line a second, from another.
            let mut slow = Vec::new();
            for _ in 0..3000 {
                let Ok(mut c) = connect_from("127.0.4.42", server).await else {
                    continue;
                };
                slow.push(tokio::spawn(async move {
                    let start = Instant::now();
                    if c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                        .await
                        .is_err()
                    {
                        return Some(start.elapsed());
                    }
                    let mut buf = [0u8; 256];
                    while start.elapsed() < Duration::from_secs(30) {
                        tokio::select! {
                            r = c.read(&mut buf) => match r {
                                Ok(0) | Err(_) => return Some(start.elapsed()),
                                Ok(_) => {}
                            },
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {
                                if c.write_all(b"X-Slow: 1\r\n").await.is_err() {
                                    return Some(start.elapsed());
                                }
                            }
                        }
                    }
                    None
                }));
            }
            // Another client is served at once, by name and by health check.
            let tls = mailsetup::net::tls::client_config(None).unwrap();
            let other = reqwest::Client::builder()
                .tls_backend_preconfigured(rustls::ClientConfig::clone(&tls))
                .local_address("127.0.4.43".parse::<std::net::IpAddr>().unwrap())
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap();
            for path in [
                "/healthz",
                "/mail/config-v1.1.xml?emailaddress=jane@example.test",
                "/healthz",
            ] {
                let start = Instant::now();
                let r = other
                    .get(format!("http://{server}{path}"))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{path}: {e}"));
                assert_eq!(r.status(), StatusCode::OK, "{path}");
                r.bytes().await.unwrap();
                let t = start.elapsed();
                assert!(t < Duration::from_secs(1), "{path} took {t:?}");
            }
            // Every idle connection is closed within the header timeout (those
            // over the cap at once, the others when it runs out).
            let slack = Duration::from_secs(3);
            for (i, task) in idle.into_iter().enumerate() {
                let t = task
                    .await
                    .unwrap()
                    .unwrap_or_else(|| panic!("idle {i} still open"));
                assert!(t < header_timeout + slack, "idle {i} closed after {t:?}");
            }
            let mut closed = 0;
            for task in slow {
                let t = task
                    .await
                    .unwrap()
                    .expect("a slowloris connection still open");
                assert!(t < header_timeout + slack, "slowloris closed after {t:?}");
                closed += 1;
            }
            assert!(
                closed > 2900,
                "only {closed} slowloris connections were made"
            );
            let metrics = other
                .get(format!("http://{server}/metrics"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let refused: u64 = metrics
                .lines()
                .find_map(|l| {
                    l.strip_prefix(r#"mailsetup_connections_refused_total{reason="per-client"} "#)
                })
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or_else(|| panic!("no per-client refusals counted:\n{metrics}"));
            assert!(refused > 3900, "{refused} refused");
        });
        // The cap was fitted to the descriptors there are, and said so.
        let log = b.start_log.join("\n");
        assert!(log.contains("open files limit"), "{log}");
        assert!(log.contains("capped below connections.max"), "{log}");
    }
}

/// An autoconfig file for `domain` whose SMTP server is `smtp`
/// (`host:port:socketType`).
fn autoconfig_file(domain: &str, smtp: (&str, u16, &str)) -> String {
    lab::autoconfig::Autoconfig::new(domain)
        .display_name(&format!("{domain} mail"))
        .smtp(smtp.0, smtp.1, smtp.2)
        .xml()
}

lab_test! {
    fn the_cli_writes_unverified_or_unencrypted_settings_only_when_told() {
        use lab::dns::Record;
        use lab::https::{Reply, Route, Web};
        use lab::scenario::Scenario;
        // A domain's autoconfig file, with `smtp` as its SMTP server.
        let config = |d: &str, smtp| {
            let xml = autoconfig_file(d, smtp);
            Route::get(
                &format!("autoconfig.{d}"),
                "/mail/config-v1.1.xml",
                Reply::xml(xml),
            )
        };
        // clear.test over HTTPS (verified), with SMTP only without encryption.
        let lab = Scenario::new("127.0.4.60")
            .record(Record::a("autoconfig.plain.test", "127.0.4.61"))
            .https(
                2,
                &["autoconfig.clear.test"],
                vec![config("clear.test", ("smtp.clear.test", 25, "plain"))],
            )
            .start();
        // plain.test publishes its config over plain HTTP only: unverified.
        let _plain = Web::start(
            "127.0.4.61",
            80,
            None,
            vec![config("plain.test", ("smtp.plain.test", 465, "SSL"))],
        );

        let o = lab.profile(&["jane@plain.test"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(o.stdout.is_empty(), "nothing written");
        assert!(
            err.contains("unverified") && err.contains("--allow-unverified"),
            "{err}"
        );
        let o = lab.profile(&["--json", "jane@plain.test"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["code"], "unverified", "{v}");

        let o = lab.profile(&["--allow-unverified", "jane@plain.test"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{err}");
        assert!(err.contains("warning"), "{err}");
        assert!(String::from_utf8_lossy(&o.stdout).contains("imap.plain.test"));

        // Unencrypted SMTP found by discovery: refused, even when allowing
        // unverified settings...
        for extra in [&[][..], &["--allow-unverified"][..]] {
            let o = lab.profile(&[extra, &["jane@clear.test"]].concat());
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(1), "{err}");
            assert!(
                err.contains("outgoing server") && err.contains("no encryption"),
                "{err}"
            );
            assert!(err.contains("--outgoing URL?security=none"), "{err}");
            assert!(o.stdout.is_empty());
        }
        // ...and written only when the user names it.
        let o = lab.profile(&[
            "--outgoing",
            "smtp://smtp.clear.test:25?security=none",
            "jane@clear.test",
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{err}");
        assert!(err.contains("no encryption"), "the warning stays: {err}");
        assert!(String::from_utf8_lossy(&o.stdout).contains("smtp.clear.test"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_answers_are_rendered_once_and_discovered_ones_never_kept() {
    let toml = format!(
        "help_desk = true\n{OPERATOR_TOML}\n[[domain]]\nname = \"found.test\"\ndiscover = true\n"
    );
    let s = Running::start(
        config(&toml),
        discovery(Trust::Verified, encrypted),
        "127.0.0.1",
    )
    .await;
    let c = client();
    let get = |email: &str| {
        c.get(s.url("/mail/config-v1.1.xml"))
            .query(&[("emailaddress", email)])
            .send()
    };
    let first = get("jane@example.test")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let again = get("jane@example.test")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(first, again);
    assert!(first.contains("jane@example.test"), "{first}");
    // Each address its own answer, each format its own.
    let other = get("joe@example.test").await.unwrap().text().await.unwrap();
    assert!(
        other.contains("joe@example.test") && !other.contains("jane@"),
        "{other}"
    );
    let r = s.autodiscover(&c, "jane@example.test").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("<Autodiscover"));
    // A built-in provider is fixed too.
    assert_eq!(
        get("jane@posteo.de").await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(s.state.answers.len(), 4);
    // Discovered answers follow the discovery cache, not this store.
    for _ in 0..2 {
        assert_eq!(
            get("jane@found.test").await.unwrap().status(),
            StatusCode::OK
        );
        assert_eq!(
            get("jane@elsewhere.test").await.unwrap().status(),
            StatusCode::OK
        );
    }
    assert_eq!(s.state.answers.len(), 4);
    s.stop().await;
}
