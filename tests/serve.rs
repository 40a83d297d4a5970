//! End-to-end tests of `mailsetup serve`: the real server on a loopback
//! port (in-process, or the binary for signals and start-up errors) and a
//! real HTTP client for every endpoint. Outputs are checked against the
//! outside world's grammars (xmllint with the autoconfig RELAX NG, openssl
//! for signatures), not against the writers' own code.

mod lab;
mod schema;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lab::server::{
    Binary, OPERATOR_TOML, OUTLOOK_2006A, Running, client, config, offline, pox_request,
};
use mailsetup::address::EmailAddress;
use mailsetup::lookup::{self, Lookup};
use mailsetup::probe::ProbeError;
use mailsetup::server::resolve::DiscoverFn;
use mailsetup::settings::{AuthMethod, Protocol, Security, Server, Settings, Source, Trust};
use reqwest::StatusCode;

/// Validates `xml` with `xmllint --relaxng` against the autoconfig grammar.
fn assert_valid_autoconfig(xml: &str) {
    if let Err(e) = schema::relaxng(xml) {
        panic!("xmllint rejects the autoconfig answer:\n{e}\n{xml}");
    }
}

async fn operator() -> Running {
    Running::start(config(OPERATOR_TOML), offline(), "127.0.0.1").await
}

async fn help_desk() -> Running {
    Running::start(config(""), offline(), "127.0.0.1").await
}

/// The text of every `<name>` element in `xml`, in order.
fn elements(xml: &str, name: &str) -> Vec<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    xml.split(&open)
        .skip(1)
        .filter_map(|rest| rest.split(&close).next().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_and_metrics_count_requests_by_endpoint_and_status() {
    let s = help_desk().await;
    for _ in 0..3 {
        let r = s.fetch("/healthz").await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    let r = s.fetch("/api/v1/lookup").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = s.fetch("/no/such/path").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = s.fetch("/metrics").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = r.text().await.unwrap();
    for line in [
        r#"mailsetup_http_requests_total{endpoint="/healthz",status="200"} 3"#,
        r#"mailsetup_http_requests_total{endpoint="/api/v1/lookup",status="400"} 1"#,
        r#"mailsetup_http_requests_total{endpoint="unmatched",status="404"} 1"#,
        r#"mailsetup_http_request_duration_seconds_count{endpoint="/healthz"} 3"#,
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autoconfig_on_both_paths_validates_against_the_grammar() {
    let s = operator().await;
    let c = client();
    for path in [
        "/mail/config-v1.1.xml",
        "/.well-known/autoconfig/mail/config-v1.1.xml",
    ] {
        let r = c
            .get(s.url(path))
            .query(&[("emailaddress", "Jane.Doe@example.test")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .contains("xml")
        );
        let xml = r.text().await.unwrap();
        assert_valid_autoconfig(&xml);
        assert!(xml.contains("imap.example.test"), "{xml}");
        assert!(
            xml.contains("<username>Jane.Doe@example.test</username>"),
            "{xml}"
        );
        // The display name's & and < are escaped, not echoed raw.
        assert!(!xml.contains("Example & Co <Mail>"), "{xml}");
    }
    // Thunderbird reads the answer back: the library's own parser agrees.
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autoconfig_without_an_address_takes_the_domain_from_the_host_header() {
    let s = operator().await;
    let r = s
        .fetch_as("/mail/config-v1.1.xml", "autoconfig.example.test")
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let xml = r.text().await.unwrap();
    assert_valid_autoconfig(&xml);
    assert!(xml.contains("<username>%EMAILADDRESS%</username>"), "{xml}");
    assert!(xml.contains("smtp.example.test"));

    // A host that names no domain of the operator is a 404, not a guess.
    let r = s
        .fetch_as("/mail/config-v1.1.xml", "autoconfig.elsewhere.test")
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.text().await.unwrap().contains("example.test"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autodiscover_round_trip_on_every_spelling_of_the_path() {
    let s = operator().await;
    let c = client();
    for path in [
        "/autodiscover/autodiscover.xml",
        "/Autodiscover/Autodiscover.xml",
        "/AutoDiscover/AutoDiscover.XML",
    ] {
        let r = c
            .post(s.url(path))
            .header("Content-Type", "text/xml; charset=utf-8")
            .body(pox_request("jane@example-alias.test", OUTLOOK_2006A))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let xml = r.text().await.unwrap();
        assert!(xml.contains(OUTLOOK_2006A), "{xml}");
        let protocols: Vec<String> = xml
            .split("<Protocol>")
            .skip(1)
            .map(str::to_string)
            .collect();
        // Four mail servers, then the domain's CalDAV server.
        assert_eq!(protocols.len(), 5, "{xml}");
        assert_eq!(elements(&protocols[4], "Type"), ["CalDAV"], "{xml}");
        assert_eq!(
            elements(&protocols[4], "Server"),
            ["https://dav.example.test/cal/jane@example-alias.test/"]
        );
        let find = |server: &str, port: &str| {
            protocols
                .iter()
                .find(|p| elements(p, "Server") == [server] && elements(p, "Port") == [port])
                .unwrap_or_else(|| panic!("no {server}:{port} in {xml}"))
                .clone()
        };
        let imap = find("imap.example.test", "993");
        assert_eq!(elements(&imap, "SSL"), ["on"]);
        assert_eq!(elements(&imap, "Encryption"), ["SSL"]);
        assert_eq!(elements(&imap, "SPA"), ["off"]);
        assert_eq!(elements(&imap, "LoginName"), ["jane@example-alias.test"]);
        let submission = find("smtp.example.test", "587");
        assert_eq!(elements(&submission, "Encryption"), ["TLS"]);
        assert_eq!(elements(&submission, "SPA"), ["off"]);
        let smtps = find("smtp.example.test", "465");
        assert_eq!(elements(&smtps, "Encryption"), ["SSL"]);
    }
    // Autodiscover is POST only.
    let r = s.fetch("/autodiscover/autodiscover.xml").await;
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autodiscover_answers_schemas_it_does_not_serve_with_error_601() {
    let s = operator().await;
    let r = client()
        .post(s.url("/autodiscover/autodiscover.xml"))
        .header("Content-Type", "text/xml")
        .body(pox_request(
            "jane@example.test",
            "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006",
        ))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let xml = r.text().await.unwrap();
    assert!(!status.is_server_error());
    assert_eq!(elements(&xml, "ErrorCode"), ["601"], "{xml}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_and_malformed_autodiscover_bodies_get_4xx_and_nothing_expanded() {
    let s = operator().await;
    let c = client();
    let billion = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol9 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<Autodiscover><Request><EMailAddress>&lol9;@example.test</EMailAddress></Request></Autodiscover>"#;
    let xxe = r#"<?xml version="1.0"?>
<!DOCTYPE a [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Autodiscover><Request><EMailAddress>&xxe;</EMailAddress></Request></Autodiscover>"#;
    let deep = format!(
        "<Autodiscover>{}{}</Autodiscover>",
        "<a>".repeat(5000),
        "</a>".repeat(5000)
    );
    let oversized = format!(
        "<Autodiscover><Request><EMailAddress>a@example.test</EMailAddress>{}</Request></Autodiscover>",
        " ".repeat(70 * 1024)
    );
    let cases: Vec<(&str, String, &str, u16)> = vec![
        ("billion laughs", billion.to_string(), "text/xml", 400),
        ("external entity", xxe.to_string(), "text/xml", 400),
        (
            "undefined entity",
            pox_request("&xxe;", OUTLOOK_2006A),
            "text/xml",
            400,
        ),
        ("deep nesting", deep, "text/xml", 400),
        ("over 64 KiB", oversized, "text/xml", 413),
        ("not XML", "hello".into(), "text/xml", 400),
        (
            "truncated",
            pox_request("a@example.test", "")[..120].to_string(),
            "text/xml",
            400,
        ),
        (
            "no address",
            "<Autodiscover><Request/></Autodiscover>".into(),
            "text/xml",
            400,
        ),
        (
            "malformed address",
            pox_request("not-an-address", OUTLOOK_2006A),
            "text/xml",
            400,
        ),
        (
            "unknown domain",
            pox_request("a@elsewhere.test", OUTLOOK_2006A),
            "text/xml",
            404,
        ),
        (
            "JSON body",
            r#"{"email":"a@example.test"}"#.into(),
            "application/json",
            415,
        ),
        (
            "form body",
            "email=a%40example.test".into(),
            "application/x-www-form-urlencoded",
            415,
        ),
    ];
    for (what, body, content_type, want) in cases {
        let r = c
            .post(s.url("/autodiscover/autodiscover.xml"))
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), want, "{what}");
        let xml = r.text().await.unwrap();
        assert_eq!(elements(&xml, "ErrorCode"), ["600"], "{what}: {xml}");
        assert!(
            !xml.contains("lollol") && !xml.contains("root:"),
            "{what}: {xml}"
        );
    }
    // Values echoed into the error document are escaped.
    let r = s.autodiscover(&c, "&lt;script&gt;@x").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let xml = r.text().await.unwrap();
    assert!(!xml.contains("<script>"), "{xml}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autodiscover_json_points_new_outlook_at_the_pox_url() {
    let s = operator().await;
    for path in [
        "/autodiscover/autodiscover.json?Email=jane@example.test&Protocol=AutodiscoverV1",
        "/autodiscover/autodiscover.json/v1.0/jane@example.test?Protocol=AutodiscoverV1",
        "/Autodiscover/Autodiscover.json/V1.0/jane@example.test?Protocol=autodiscoverv1",
    ] {
        let r = s.fetch_as(path, "autodiscover.example.test").await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "Protocol": "AutodiscoverV1",
                "Url": "http://autodiscover.example.test/autodiscover/autodiscover.xml"
            }),
            "{path}"
        );
    }
    for path in [
        "/autodiscover/autodiscover.json?Email=jane@example.test&Protocol=ActiveSync",
        "/autodiscover/autodiscover.json/v1.0/jane@example.test",
    ] {
        let r = s.fetch(path).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{path}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["ErrorCode"], "InvalidProtocol", "{path}");
    }
    s.stop().await;
}

async fn get_profile(s: &Running, email: &str) -> reqwest::Response {
    client()
        .get(s.url("/apple/mobileconfig"))
        .query(&[("emailaddress", email)])
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_have_apples_type_and_a_file_name() {
    let s = help_desk().await;
    let r = get_profile(&s, "alice@posteo.de").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-type"],
        "application/x-apple-aspen-config"
    );
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        disposition,
        "attachment; filename=\"alice@posteo.de.mobileconfig\""
    );
    let body = r.bytes().await.unwrap();
    let plist: plist::Value = plist::from_bytes(&body).expect("a property list");
    let payloads = plist
        .as_dictionary()
        .and_then(|d| d.get("PayloadContent"))
        .and_then(|v| v.as_array())
        .expect("PayloadContent");
    let mail = payloads[0].as_dictionary().unwrap();
    assert_eq!(
        mail.get("PayloadType").and_then(|v| v.as_string()),
        Some("com.apple.mail.managed")
    );
    assert_eq!(
        mail.get("IncomingMailServerHostName")
            .and_then(|v| v.as_string()),
        Some("posteo.de")
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_only_providers_never_get_a_password_profile() {
    let s = help_desk().await;
    let r = get_profile(&s, "someone@msn.com").await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = String::from_utf8(r.bytes().await.unwrap().to_vec()).unwrap();
    assert!(body.contains("com.apple.eas.account"), "{body}");
    assert!(!body.contains("com.apple.mail.managed"), "{body}");
    assert!(!body.contains("IncomingPassword"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_with_their_own_iphone_account_get_a_422_that_names_it() {
    let s = help_desk().await;
    let r = get_profile(&s, "jane@gmail.com").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let text = r.text().await.unwrap();
    assert!(text.contains("Add Account › Google"), "{text}");
    // Words for a web page: no command-line flags.
    assert!(!text.contains("--format"), "{text}");
    // The page offers no download then, and says why.
    let html = s
        .fetch("/?email=jane%40gmail.com")
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains(r#"id="profile-link""#), "{html}");
    assert!(html.contains("Add Account › Google"), "{html}");
    assert!(!html.contains("--format"), "{html}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_profiles_verify_with_openssl() {
    let ca = lab::TestCa::new();
    let leaf = ca.issue(&["profiles.example.test"]);
    let toml = format!(
        "{OPERATOR_TOML}\n[signing]\ncert = \"{}\"\nkey = \"{}\"\n",
        leaf.cert_file.display(),
        leaf.key_file.display()
    );
    let s = Running::start(config(&toml), offline(), "127.0.0.1").await;
    let r = get_profile(&s, "jane@example.test").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-type"],
        "application/x-apple-aspen-config"
    );
    let signed = r.bytes().await.unwrap();
    assert_eq!(signed[0], 0x30, "DER, not XML");
    let dir = tempfile::tempdir().unwrap();
    let (input, content) = (dir.path().join("p.der"), dir.path().join("p.plist"));
    std::fs::write(&input, &signed).unwrap();
    let o = Command::new("openssl")
        .args(["cms", "-verify", "-inform", "DER", "-in"])
        .arg(&input)
        .arg("-CAfile")
        .arg(ca.ca_file())
        .arg("-out")
        .arg(&content)
        .output()
        .expect("openssl is installed");
    assert!(
        o.status.success(),
        "openssl cms -verify: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let inner = std::fs::read_to_string(&content).unwrap();
    assert!(inner.contains("imap.example.test"), "{inner}");
    s.stop().await;

    // A signing key that does not exist stops the server before it binds.
    let broken = toml.replace(
        &leaf.key_file.display().to_string(),
        &leaf.cert_file.display().to_string(),
    );
    let cfg = config(&broken);
    let e = mailsetup::server::Server::bind(&cfg, &["127.0.0.1:0".parse().unwrap()], offline())
        .await
        .err()
        .expect("a certificate file as key is refused");
    assert!(e.to_string().contains("signing"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lookup_api_answers_what_the_cli_prints() {
    let s = help_desk().await;
    let r = client()
        .get(s.url("/api/v1/lookup"))
        .query(&[("email", "Someone@MSN.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let api: serde_json::Value = r.json().await.unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_mailsetup"))
        .args(["lookup", "--offline", "--json", "Someone@MSN.com"])
        .output()
        .unwrap();
    let cli: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(api, cli);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_class_gets_a_4xx_that_says_what_to_do() {
    let s = operator().await;
    let cases: &[(&str, u16, &str)] = &[
        ("/api/v1/lookup", 400, "no email address"),
        ("/api/v1/lookup?email=", 400, "empty"),
        ("/api/v1/lookup?email=someone.example.test", 400, "has no @"),
        ("/api/v1/lookup?email=a@elsewhere.test", 404, "example.test"),
        (
            "/api/v1/lookup?email=a%00b@example.test",
            400,
            "control character",
        ),
        (
            "/mail/config-v1.1.xml?emailaddress=x@@example.test",
            400,
            "more than one @",
        ),
        ("/apple/mobileconfig", 400, "no email address"),
        (
            "/apple/mobileconfig?emailaddress=a@elsewhere.test",
            404,
            "example.test",
        ),
        ("/qr.svg", 400, "no email address"),
        ("/?email=%3Cb%3Eoops", 400, "&lt;b&gt;oops"),
    ];
    for (path, want, says) in cases {
        let r = s.fetch(path).await;
        assert_eq!(r.status().as_u16(), *want, "{path}");
        let text = r.text().await.unwrap();
        assert!(text.contains(says), "{path}: {text}");
        assert!(!text.contains("<b>oops"), "{path}: echoed unescaped");
    }
    // The API's errors are JSON.
    let r = s.fetch("/api/v1/lookup").await;
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(v["error"].as_str().unwrap().contains("?email="));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limit_counts_discoveries_connections_and_spares_static_answers() {
    // 30 connections at once, then one a second: a discovery costs 24.
    let toml =
        format!("help_desk = true\n{OPERATOR_TOML}\n[rate_limit]\nper_minute = 60\nburst = 30\n");
    let calls = Arc::new(AtomicUsize::new(0));
    let s = Running::start(
        config(&toml),
        counting_discovery(calls.clone(), Duration::ZERO),
        "127.0.0.1",
    )
    .await;
    let c = client();
    let lookup = |d: &str| s.url(&format!("/api/v1/lookup?email=jane@{d}"));
    // Two discoveries: the first leaves 6, the second is allowed on them
    // and leaves the client 18 connections in debt.
    for d in ["one.test", "two.test"] {
        let r = c.get(lookup(d)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{d}");
    }
    let r = c.get(lookup("three.test")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((15..=20).contains(&wait), "{wait}");
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(v["error"].as_str().unwrap().contains("try again"));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "a refused request discovers nothing"
    );
    // Every endpoint that would start a discovery is refused alike...
    let r = c
        .get(s.url("/mail/config-v1.1.xml?emailaddress=jane@four.test"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let r = s.autodiscover(&c, "jane@four.test").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    assert!(r.text().await.unwrap().contains("try again"));
    let r = c
        .get(s.url("/?email=jane%40four.test"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    // ...while answers that start none cost nothing: the operator's own
    // domain, built-in providers, a cached discovery, health checks.
    for _ in 0..50 {
        for path in [
            "/mail/config-v1.1.xml?emailaddress=jane@example.test",
            "/api/v1/lookup?email=jane@gmail.com",
            "/api/v1/lookup?email=someone.else@one.test",
            "/healthz",
        ] {
            let r = c.get(s.url(path)).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{path}");
        }
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    s.stop().await;
}

/// A discovery that counts its calls and takes `delay`, answering with
/// an IMAP and an SMTP server under the asked domain.
fn counting_discovery(calls: Arc<AtomicUsize>, delay: Duration) -> DiscoverFn {
    Arc::new(move |email: EmailAddress| {
        let calls = calls.clone();
        Box::pin(async move {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            Ok(fake_lookup(&email))
        })
    })
}

fn fake_lookup(email: &EmailAddress) -> Lookup {
    let server = |protocol, host: String, port, security| Server {
        protocol,
        host,
        port,
        security,
        auth: vec![AuthMethod::Password],
        username: email.expand("%EMAILADDRESS%"),
    };
    let d = email.domain();
    let settings = Settings {
        provider: None,
        incoming: vec![server(
            Protocol::Imap,
            format!("imap.{d}"),
            993,
            Security::Tls,
        )],
        outgoing: vec![server(
            Protocol::Smtp,
            format!("smtp.{d}"),
            587,
            Security::Starttls,
        )],
        source: Source::Autoconfig,
        trust: Trust::Verified,
        notes: vec![],
    };
    let tried = vec![lookup::Tried {
        source: Source::Autoconfig,
        url: format!("https://autoconfig.{d}/mail/config-v1.1.xml"),
        result: lookup::TryResult::Found,
        ms: 1,
        detail: None,
        problem: None,
    }];
    Lookup::build(email, settings, tried)
}

/// A discovery that finds nothing: for `down.test` because DNS did not
/// answer (every probed name stopped at a DNS failure), for any other
/// domain because its names do not exist.
fn nothing_found(calls: Arc<AtomicUsize>) -> DiscoverFn {
    Arc::new(move |email: EmailAddress| {
        let calls = calls.clone();
        Box::pin(async move {
            calls.fetch_add(1, Ordering::SeqCst);
            let host = format!("imap.{}", email.domain());
            let problem = if email.domain() == "down.test" {
                ProbeError::DnsFailed {
                    host: host.clone(),
                    detail: "no connections available".into(),
                }
            } else {
                ProbeError::DnsNotFound { host: host.clone() }
            };
            Err(lookup::LookupError::NotFound {
                domain: email.domain().to_string(),
                tried: vec![lookup::Tried {
                    source: Source::Guess,
                    url: format!("imaps://{host}:993"),
                    result: lookup::TryResult::Error,
                    ms: 1,
                    detail: Some(problem.to_string()),
                    problem: Some(problem),
                }],
                connections: 0,
            })
        })
    })
}

#[tokio::test]
async fn a_dns_outage_is_a_503_and_is_not_remembered_as_no_settings() {
    let calls = Arc::new(AtomicUsize::new(0));
    let s = Running::start(config(""), nothing_found(calls.clone()), "127.0.0.1").await;
    for _ in 0..2 {
        let r = s.fetch("/api/v1/lookup?email=jane@down.test").await;
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()["retry-after"], "120");
        let body = r.text().await.unwrap();
        assert!(body.contains("DNS") && body.contains("try again"), "{body}");
        assert!(!body.contains("spelling"), "{body}");
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "a DNS failure is asked again"
    );
    for _ in 0..2 {
        let r = s.fetch("/api/v1/lookup?email=jane@nxdomain.test").await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let body = r.text().await.unwrap();
        assert!(body.contains("check the spelling"), "{body}");
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "names that do not exist are cached"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_for_one_domain_costs_one_discovery() {
    let calls = Arc::new(AtomicUsize::new(0));
    let s = Running::start(
        config(""),
        counting_discovery(calls.clone(), Duration::from_millis(300)),
        "127.0.0.1",
    )
    .await;
    let c = client();
    let mut asks = Vec::new();
    for i in 0..20 {
        let url = s.url(&format!("/api/v1/lookup?email=user{i}@slow.test"));
        let c = c.clone();
        asks.push(tokio::spawn(async move {
            let r = c.get(url).send().await.unwrap();
            (r.status(), r.json::<serde_json::Value>().await.unwrap())
        }));
    }
    for (i, a) in asks.into_iter().enumerate() {
        let (status, v) = a.await.unwrap();
        assert_eq!(status, StatusCode::OK);
        // Each answer is personalised although discovery ran once.
        assert_eq!(v["incoming"][0]["username"], format!("user{i}@slow.test"));
        assert_eq!(v["incoming"][0]["host"], "imap.slow.test");
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "concurrent lookups coalesce"
    );
    // Later requests are served from the cache; another domain is its own.
    let r = s.fetch("/api/v1/lookup?email=late@slow.test").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let r = s.fetch("/api/v1/lookup?email=x@other.test").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // Built-in providers never reach discovery.
    let r = s.fetch("/api/v1/lookup?email=x@gmail.com").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // Each discovery's sources are counted once, cache hits not at all.
    let text = s.fetch("/metrics").await.text().await.unwrap();
    assert!(
        text.contains(r#"mailsetup_discovery_sources_total{source="autoconfig",result="found"} 2"#),
        "{text}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_answers_without_javascript_with_escaped_values() {
    let s = help_desk().await;
    // Reached at its listen address, which links may be made from.
    let r = s.fetch("/?email=alice%40posteo.de").await;
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = r.text().await.unwrap();
    assert!(html.contains(r#"<label for="email">"#));
    assert!(html.contains(r#"value="alice@posteo.de""#));
    assert!(
        html.contains(
            "<th scope=\"row\">Host Name</th><td><span class=\"value-row\"><code class=\"value\">posteo.de</code>"
        ),
        "{html}"
    );
    // Links are made for the address the service listens on.
    assert!(html.contains(&format!(
        r#"href="{}/apple/mobileconfig?emailaddress=alice%40posteo.de""#,
        s.base
    )));
    assert!(html.contains("<svg role=\"img\""), "an inline QR code");
    assert!(html.contains(r#"id="steps""#));

    let r = s.fetch("/?email=someone%40msn.com").await;
    let html = r.text().await.unwrap();
    assert!(
        html.contains(r#"id="builtin""#),
        "OAuth leads with the built-in account"
    );
    assert!(html.contains("Download the Exchange (OAuth) profile"));
    assert!(
        html.contains("opens Outlook.com&apos;s sign-in page"),
        "{html}"
    );
    assert!(!html.contains("asks for the password"), "{html}");
    // Each note once, and no "by hand" heading above text saying by hand
    // does not work.
    assert_eq!(html.matches(r#"data-code="oauth-required""#).count(), 1);
    assert!(!html.contains("Set it up by hand"), "{html}");
    assert!(html.contains("<ol>"), "steps as an ordered list");
    // Host names never break: they sit whole in a value element.
    assert!(html.contains(r#"<code class="value">outlook.office365.com</code>"#));

    // Errors are written for people.
    let r = s.fetch("/?email=someone%40nowhere.invalid").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("No settings were found for nowhere.invalid"),
        "{html}"
    );
    assert!(!html.contains("tried"), "{html}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_requests_in_flight_finish() {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut s = Running::start(
        config(""),
        counting_discovery(calls.clone(), Duration::from_millis(800)),
        "127.0.0.1",
    )
    .await;
    let url = s.url("/api/v1/lookup?email=a@slow.test");
    let base = s.base.clone();
    let in_flight = tokio::spawn(async move { client().get(url).send().await });
    while calls.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    s.signal_stop();
    let r = in_flight
        .await
        .unwrap()
        .expect("the request in flight is answered");
    assert_eq!(r.status(), StatusCode::OK);
    tokio::time::timeout(Duration::from_secs(5), s.stopped())
        .await
        .expect("the server stops")
        .unwrap();
    // New connections are refused once it has stopped.
    assert!(
        client()
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_err()
    );
}

#[test]
fn configuration_errors_name_file_and_line_and_refuse_to_start() {
    let (dir, file) = config_file(
        "[[domain]]\nname = \"example.test\"\nincoming = [{ url = \"imaps://imap.example.test\", auth = [\"password\"] }]\noutgoing = [{ url = \"smtp://smtp.example.test:25\", auth = [\"password\"] }]\n",
    );
    let o = Command::new(env!("CARGO_BIN_EXE_mailsetup"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("{}:4:", file.display())), "{err}");
    assert!(err.contains("port 25"), "{err}");
    assert!(err.contains("did not start"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let o = Command::new(env!("CARGO_BIN_EXE_mailsetup"))
        .args(["serve", "--config"])
        .arg(dir.path().join("missing.toml"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing.toml"));
}

#[test]
fn sigterm_stops_the_binary_cleanly() {
    let mut b = Binary::start(&["--offline", "--listen", "127.0.0.1:0"]);
    let addr = b.addr;
    assert!(std::net::TcpStream::connect(addr).is_ok());
    b.signal("TERM");
    let status = b
        .wait_exit(Duration::from_secs(10))
        .expect("it exits after SIGTERM");
    assert!(status.success(), "{status}");
    assert!(std::net::TcpStream::connect(addr).is_err());
}

/// The DER of the certificate `addr` presents for `name`.
async fn served_certificate(
    addr: std::net::SocketAddr,
    ca: &std::path::Path,
    name: &str,
) -> Vec<u8> {
    let config = mailsetup::net::tls::client_config(Some(ca)).unwrap();
    let connector = tokio_rustls::TlsConnector::from(config);
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let server_name = rustls::pki_types::ServerName::try_from(name.to_string()).unwrap();
    let tls = connector
        .connect(server_name, tcp)
        .await
        .expect("a TLS handshake");
    tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

fn pem_der(pem: &str) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .unwrap()
        .unwrap()
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_tls_certificate() {
    let ca = lab::TestCa::new();
    let first = ca.issue(&["autoconfig.example.test"]);
    let second = ca.issue(&["autoconfig.example.test"]);
    let cert = ca.dir().join("live.crt");
    let key = ca.dir().join("live.key");
    std::fs::write(&cert, &first.chain_pem).unwrap();
    std::fs::write(&key, &first.key_pem).unwrap();
    let file = ca.dir().join("mail.toml");
    std::fs::write(
        &file,
        format!(
            "{OPERATOR_TOML}\n[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
            cert.display(),
            key.display()
        ),
    )
    .unwrap();
    let b = Binary::start_offline(&file);
    let name = "autoconfig.example.test";
    assert_eq!(
        served_certificate(b.addr, &ca.ca_file(), name).await,
        pem_der(&first.chain_pem)
    );
    // HTTPS serves the endpoints.
    let url = format!("https://{name}:{}/healthz", b.addr.port());
    let https = reqwest::Client::builder()
        .tls_backend_preconfigured(rustls::ClientConfig::clone(
            &mailsetup::net::tls::client_config(Some(&ca.ca_file())).unwrap(),
        ))
        .resolve(name, b.addr)
        .build()
        .unwrap();
    assert_eq!(
        https.get(&url).send().await.unwrap().status(),
        StatusCode::OK
    );

    // A broken file on reload keeps the old certificate, and the log
    // names the configuration's line that names the file.
    std::fs::write(&cert, "garbage").unwrap();
    let line = failed_reload(&b, Duration::from_secs(5));
    let cert_line = line_number(&file, "cert =");
    assert!(
        line.contains(&format!("{}:{cert_line}: [tls]", file.display())),
        "{line}"
    );
    assert_eq!(
        served_certificate(b.addr, &ca.ca_file(), name).await,
        pem_der(&first.chain_pem)
    );
    // A renewed certificate is served after SIGHUP, without a restart.
    std::fs::write(&cert, &second.chain_pem).unwrap();
    std::fs::write(&key, &second.key_pem).unwrap();
    b.signal("HUP");
    assert!(
        b.wait_for_log("configuration reloaded", Duration::from_secs(5))
            .is_some()
    );
    assert_eq!(
        served_certificate(b.addr, &ca.ca_file(), name).await,
        pem_der(&second.chain_pem)
    );
}

/// Runs wrk against `url` (16 connections, 6 s) and returns its report.
fn wrk(url: &str, script: Option<&std::path::Path>) -> String {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", "-c16", "-d6s", "--timeout", "5s"]);
    if let Some(s) = script {
        cmd.arg("-s").arg(s);
    }
    let o = cmd
        .arg(url)
        .output()
        .expect("wrk is installed (scripts/install-deps.sh)");
    assert!(
        o.status.success(),
        "wrk: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

lab_test! {
    fn under_load_every_answer_is_a_2xx_and_nothing_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mail.toml");
        // The limits at their defaults: static answers (the operator's domain,
        // built-in providers) are never throttled, whatever the load.
        std::fs::write(&file, format!("help_desk = true\n{OPERATOR_TOML}")).unwrap();
        let lua = dir.path().join("autodiscover.lua");
        let body = pox_request("jane@example.test", OUTLOOK_2006A);
        std::fs::write(
            &lua,
            format!(
                "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"text/xml\"\nwrk.body = [[{body}]]\n"
            ),
        )
        .unwrap();
        let b = Binary::start(&[
            "--offline",
            "--listen",
            "127.0.4.30:8080",
            "--config",
            file.to_str().unwrap(),
        ]);
        let base = format!("http://{}", b.addr);
        let runs = [
            (
                format!("{base}/mail/config-v1.1.xml?emailaddress=jane@example.test"),
                None,
            ),
            (
                format!("{base}/autodiscover/autodiscover.xml"),
                Some(lua.as_path()),
            ),
            (
                format!("{base}/api/v1/lookup?email=jane@example.test"),
                None,
            ),
            (format!("{base}/api/v1/lookup?email=jane@gmx.de"), None),
        ];
        for (url, script) in runs {
            let report = wrk(&url, script);
            println!("{url}\n{report}");
            assert!(!report.contains("Non-2xx"), "{url}: {report}");
            assert!(!report.contains("Socket errors"), "{url}: {report}");
            let requests: u64 = report
                .lines()
                .find_map(|l| l.trim().split_once(" requests in "))
                .and_then(|(n, _)| n.trim().parse().ok())
                .unwrap_or_else(|| panic!("no request count in {report}"));
            assert!(requests > 1000, "{url}: only {requests} requests");
        }
        // Still healthy afterwards.
        assert!(std::net::TcpStream::connect(b.addr).is_ok());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_domains_may_be_discovered_under_the_operators_name() {
    let calls = Arc::new(AtomicUsize::new(0));
    let toml =
        "[[domain]]\nname = \"found.test\"\ndisplay_name = \"Found Mail\"\ndiscover = true\n";
    let s = Running::start(
        config(toml),
        counting_discovery(calls.clone(), Duration::ZERO),
        "127.0.0.1",
    )
    .await;
    let v: serde_json::Value = s
        .fetch("/api/v1/lookup?email=ann@found.test")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["incoming"][0]["host"], "imap.found.test");
    assert_eq!(v["incoming"][0]["username"], "ann@found.test");
    assert_eq!(v["provider"]["name"], "Found Mail");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // Operator mode: other domains are not discovered on anyone's behalf.
    let r = s.fetch("/api/v1/lookup?email=ann@other.test").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_over_its_deadline_gets_408() {
    let calls = Arc::new(AtomicUsize::new(0));
    let s = Running::start(
        config("request_timeout_secs = 1\n"),
        counting_discovery(calls, Duration::from_secs(5)),
        "127.0.0.1",
    )
    .await;
    let start = std::time::Instant::now();
    let r = s.fetch("/api/v1/lookup?email=a@slow.test").await;
    assert_eq!(r.status(), StatusCode::REQUEST_TIMEOUT);
    assert!(start.elapsed() < Duration::from_secs(4));
    s.stop().await;
}

const DAV_TOML: &str = r#"
[[domain]]
name = "dav.test"
display_name = "A Rather Long Provider Name"
short_name = "Dav & Co"
incoming = [{ url = "imaps://imap.dav.test", auth = ["password"] }]
outgoing = [{ url = "smtps://smtp.dav.test", auth = ["password"] }]
caldav = "https://cal.dav.test/%EMAILADDRESS%/"
carddav = "https://card.%EMAILDOMAIN%/%EMAILLOCALPART%/"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domains_dav_urls_and_short_name_reach_every_output_expanded() {
    let s = Running::start(config(DAV_TOML), offline(), "127.0.0.1").await;
    let c = client();
    let cal = "https://cal.dav.test/Jo@dav.test/";
    let card = "https://card.dav.test/Jo/";
    let get = |path: &'static str| {
        c.get(s.url(path))
            .query(&[("emailaddress", "Jo+x@dav.test")])
            .send()
    };
    let expanded = |what: &str, text: &str| {
        assert!(text.contains(cal), "{what}: {text}");
        assert!(text.contains(card), "{what}: {text}");
        assert!(!text.contains("%EMAIL"), "{what} has a placeholder: {text}");
    };

    let xml = get("/mail/config-v1.1.xml")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_valid_autoconfig(&xml);
    expanded("autoconfig", &xml);
    assert_eq!(elements(&xml, "displayShortName"), ["Dav &amp; Co"]);

    let r = s.autodiscover(&c, "Jo+x@dav.test").await;
    assert_eq!(r.status(), StatusCode::OK);
    let xml = r.text().await.unwrap();
    expanded("autodiscover", &xml);
    assert_eq!(
        elements(&xml, "Type"),
        ["IMAP", "SMTP", "CalDAV", "CardDAV"]
    );

    let r = get("/apple/mobileconfig").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body = r.bytes().await.unwrap();
    assert_eq!(schema::Schema::load().check(&body), Vec::<String>::new());
    schema::assert_no_secrets(&body);
    let text = String::from_utf8(body.to_vec()).unwrap();
    expanded("mobileconfig", &text);
    assert!(text.contains("com.apple.caldav.account"), "{text}");
    assert!(text.contains("com.apple.carddav.account"), "{text}");

    let steps = get("/apple/steps").await.unwrap().text().await.unwrap();
    expanded("iPhone steps", &steps);
    assert!(steps.contains("Add CalDAV Account"), "{steps}");

    // Without an address the client fills in the placeholders itself: the
    // domain is known, the user is not.
    let xml = s
        .fetch_as("/mail/config-v1.1.xml", "autoconfig.dav.test")
        .await
        .text()
        .await
        .unwrap();
    assert_valid_autoconfig(&xml);
    assert_eq!(
        elements(&xml, "url"),
        [
            "https://cal.dav.test/%EMAILADDRESS%/",
            "https://card.dav.test/%EMAILLOCALPART%/"
        ]
    );
    s.stop().await;
}

/// The number (from 1) of the first line of `file` that starts with
/// `prefix`.
fn line_number(file: &std::path::Path, prefix: &str) -> usize {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .position(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starts with {prefix}"))
        + 1
}

/// Sends SIGHUP to `b`, whose reload must fail; the log line that says so.
fn failed_reload(b: &Binary, limit: Duration) -> String {
    b.signal("HUP");
    b.wait_for_log("still serving the previous configuration", limit)
        .expect("the failed reload is logged")
}

/// A configuration file in a fresh directory.
fn config_file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mail.toml");
    std::fs::write(&file, text).unwrap();
    (dir, file)
}

const NEW_DOMAIN_TOML: &str = r#"
[[domain]]
name = "new.test"
display_name = "New Mail"
incoming = [{ url = "imaps://imap.new.test", auth = ["password"] }]
outgoing = [{ url = "smtps://smtp.new.test", auth = ["password"] }]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_whole_configuration_and_keeps_the_old_one_on_a_mistake() {
    let (_dir, file) = config_file(OPERATOR_TOML);
    let b = Binary::start_offline(&file);
    let c = client();
    let lookup = |email: &str| {
        c.get(format!("http://{}/api/v1/lookup", b.addr))
            .query(&[("email", email)])
            .send()
    };
    assert_eq!(lookup("a@new.test").await.unwrap().status(), 404);

    // A domain added to the file is served after SIGHUP, with the page
    // settings of the new file; the old domain is still there.
    std::fs::write(
        &file,
        format!("{OPERATOR_TOML}{NEW_DOMAIN_TOML}\n[page]\nname = \"Reloaded Help Desk\"\n"),
    )
    .unwrap();
    b.signal("HUP");
    let line = b
        .wait_for_log("configuration reloaded", Duration::from_secs(10))
        .expect("the reload is logged");
    assert!(line.contains("2 domains"), "{line}");
    let r = lookup("a@new.test").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("imap.new.test"));
    assert_eq!(lookup("a@example.test").await.unwrap().status(), 200);
    let page = c
        .get(format!("http://{}/", b.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Reloaded Help Desk"), "{page}");

    // A mistake: the old configuration keeps serving, the log says where.
    std::fs::write(
        &file,
        format!("request_timeout_secs = 0\n{OPERATOR_TOML}{NEW_DOMAIN_TOML}"),
    )
    .unwrap();
    let line = failed_reload(&b, Duration::from_secs(10));
    let bad_line = line_number(&file, "request_timeout_secs");
    assert!(
        line.contains(&format!(
            "{}:{bad_line}: request_timeout_secs",
            file.display()
        )),
        "{line}"
    );
    assert_eq!(lookup("a@new.test").await.unwrap().status(), 200);

    // Removing the domain again takes it away.
    std::fs::write(&file, OPERATOR_TOML).unwrap();
    b.signal("HUP");
    b.wait_for_log("configuration reloaded", Duration::from_secs(10))
        .expect("the reload is logged");
    assert_eq!(lookup("a@new.test").await.unwrap().status(), 404);
}

#[test]
fn sighup_never_kills_a_server_without_tls_or_configuration() {
    let mut b = Binary::start(&["--offline", "--listen", "127.0.0.1:0"]);
    b.signal("HUP");
    assert!(
        b.wait_for_log("nothing to reload", Duration::from_secs(5))
            .is_some()
    );
    assert!(
        b.wait_exit(Duration::from_millis(300)).is_none(),
        "still running"
    );
    assert!(std::net::TcpStream::connect(b.addr).is_ok());

    let (_dir, file) = config_file(OPERATOR_TOML);
    let mut b = Binary::start_offline(&file);
    b.signal("HUP");
    assert!(
        b.wait_for_log("configuration reloaded", Duration::from_secs(5))
            .is_some()
    );
    assert!(
        b.wait_exit(Duration::from_millis(300)).is_none(),
        "still running"
    );
}

#[test]
fn check_config_exits_0_or_2_without_listening() {
    // The port is taken: a server would fail to start, a check does not
    // try to listen.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (_dir, file) = config_file(&format!(
        "listen = [\"{}\"]\n{OPERATOR_TOML}",
        taken.local_addr().unwrap()
    ));
    let o = Command::new(env!("CARGO_BIN_EXE_mailsetup"))
        .args(["serve", "--check-config", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("usable (1 domains"), "{out}");

    // A signing key that is not a key: found by the check, with its line.
    std::fs::write(
        &file,
        format!("{OPERATOR_TOML}\n[signing]\ncert = \"mail.toml\"\nkey = \"mail.toml\"\n"),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_mailsetup"))
        .args(["serve", "--check-config", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    let line = line_number(&file, "cert =");
    assert!(
        err.contains(&format!("{}:{line}: [signing]", file.display())),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_near_their_end_are_warned_about_and_exported() {
    let ca = lab::TestCa::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // 2020-01-01 is 1577836800.
    let in_ten_days = Duration::from_secs(now - 1_577_836_800 + 10 * 86_400);
    let leaf = ca.issue_with(&["autoconfig.example.test"], |p| {
        p.not_before = rcgen::date_time_ymd(2020, 1, 1);
        p.not_after = rcgen::date_time_ymd(2020, 1, 1) + in_ten_days;
    });
    let cert = ca.dir().join("soon.crt");
    let key = ca.dir().join("soon.key");
    std::fs::write(&cert, &leaf.chain_pem).unwrap();
    std::fs::write(&key, &leaf.key_pem).unwrap();
    let text = format!(
        "{OPERATOR_TOML}\nmetrics_listen = \"127.0.0.1:0\"\n[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
        cert.display(),
        key.display()
    );
    // The file's top-level keys must come before its tables.
    let text = text.replacen("\nmetrics_listen = \"127.0.0.1:0\"\n", "\n", 1);
    let text = format!("metrics_listen = \"127.0.0.1:0\"\n{text}");
    let (_dir, file) = config_file(&text);

    // --check-config warns and still says yes.
    let o = Command::new(env!("CARGO_BIN_EXE_mailsetup"))
        .args(["serve", "--check-config", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("expires on"), "{err}");
    assert!(
        err.contains("in 9 days") || err.contains("in 10 days"),
        "{err}"
    );

    // Serving: the gauge is on the metrics listener only.
    let config = mailsetup::server::config::load(&file).unwrap();
    let server =
        mailsetup::server::Server::bind(&config, &["127.0.0.1:0".parse().unwrap()], offline())
            .await
            .unwrap();
    let metrics = server.metrics_addr().expect("a metrics listener");
    let main = server.local_addrs()[0];
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(async {
        let _ = rx.await;
    }));
    let text = client()
        .get(format!("http://{metrics}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let gauge = text
        .lines()
        .find(|l| l.starts_with(r#"mailsetup_certificate_expiry_seconds{certificate="tls"}"#))
        .unwrap_or_else(|| panic!("no expiry gauge in\n{text}"));
    let secs: i64 = gauge.rsplit(' ').next().unwrap().parse().unwrap();
    assert!((9 * 86_400..=10 * 86_400).contains(&secs), "{gauge}");
    // The public (TLS) listener has no /metrics.
    let name = "autoconfig.example.test";
    let https = reqwest::Client::builder()
        .tls_backend_preconfigured(rustls::ClientConfig::clone(
            &mailsetup::net::tls::client_config(Some(&ca.ca_file())).unwrap(),
        ))
        .resolve(name, main)
        .build()
        .unwrap();
    let base = format!("https://{name}:{}", main.port());
    assert_eq!(
        https
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        https
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let _ = tx.send(());
    task.await.unwrap().unwrap();
}

#[test]
fn every_request_is_logged_once_at_info_with_a_masked_address() {
    let b = Binary::start(&["--offline", "--listen", "127.0.0.1:0"]);
    http_get(b.addr, "/api/v1/lookup?email=someone%40msn.com");
    let line = b
        .wait_for_log("mailsetup::access", Duration::from_secs(5))
        .expect("a request line");
    for want in [
        "route=/api/v1/lookup",
        "status=200",
        "bytes=",
        "ms=",
        "client=127.0.0.0/24",
        "GET",
    ] {
        assert!(line.contains(want), "{want} missing in {line}");
    }
    assert!(!line.contains("someone"), "{line}");

    // JSON lines for log collectors, and log_addresses shows the address.
    let (_dir, file) = config_file("log_addresses = true\n");
    let b = Binary::start_with(
        &[
            "--offline",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--config",
            file.to_str().unwrap(),
        ],
        None,
    );
    http_get(b.addr, "/healthz");
    let line = b
        .wait_for_log("mailsetup::access", Duration::from_secs(5))
        .expect("a request line");
    let v: serde_json::Value = serde_json::from_str(&line).expect("one JSON object a line");
    assert_eq!(v["level"], "INFO", "{line}");
    assert_eq!(v["status"], 200, "{line}");
    assert_eq!(v["client"], "127.0.0.1", "{line}");
    assert_eq!(v["span"]["route"], "/healthz", "{line}");
    assert!(v["bytes"].as_u64().is_some(), "{line}");
}

#[test]
fn verbose_raises_only_mailsetups_own_modules() {
    // Without RUST_LOG, -v turns on DEBUG for mailsetup, not for hyper,
    // rustls or hickory.
    let b = Binary::start_with(
        &[
            "-v",
            "--offline",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
        ],
        None,
    );
    http_get(b.addr, "/api/v1/lookup?email=someone%40msn.com");
    let mut lines = Vec::new();
    while let Ok(l) = b.stderr.recv_timeout(Duration::from_secs(5)) {
        let v: serde_json::Value = serde_json::from_str(&l).expect("JSON lines");
        let done = v["target"] == "mailsetup::access";
        lines.push(v);
        if done {
            break;
        }
    }
    let debug: Vec<&serde_json::Value> = lines.iter().filter(|v| v["level"] == "DEBUG").collect();
    assert!(
        !debug.is_empty(),
        "-v shows mailsetup's debug lines: {lines:?}"
    );
    for v in &debug {
        let target = v["target"].as_str().unwrap_or_default();
        assert!(
            target.starts_with("mailsetup"),
            "a dependency's debug line: {v}"
        );
    }
}

/// A plain HTTP/1.1 GET, blocking; returns status line and body.
fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}
