//! The domain audit (`check DOMAIN`) in the lab: one made-up domain per
//! audit finding, and one that publishes everything in good order.
//!
//! The lab (127.0.14.0/24): dnsmasq at .53; one web server at .10 on 443
//! (the lab CA's certificate for every `autoconfig.`/`autodiscover.` name)
//! and on 80; capability greeters standing in for mail servers: .20 good
//! (993, 465, 587 with STARTTLS), .21 a certificate for another name, .22
//! expired, .23 from a CA nobody trusts, .24 ending in ten days, .25 IMAP
//! without STARTTLS on 143, .26 plain text on 993.

mod lab;

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lab::TestCa;
use lab::autoconfig::Autoconfig;
use lab::dns::{Dns, Record};
use lab::greeter::Greeter;
use lab::https::{Reply, Route, Web};
use serde_json::Value;

fn ip(n: u8) -> String {
    lab::ip(14, n)
}

/// Domains whose servers are the good greeter.
const GOOD: [&str; 6] = [
    "clean.test",
    "httponly.test",
    "plaintext.test",
    "srvoff.test",
    "disagree.test",
    "adauth.test",
];

/// An autoconfig file of `domain`: IMAP at `imap`, SMTP over TLS at `smtp`.
fn config(domain: &str, imap: &str, port: u16, socket: &str, smtp: &str) -> String {
    Autoconfig::new(domain)
        .imap(imap, port, socket)
        .smtp(smtp, 465, "SSL")
        .xml()
}

/// Y-M-D of a Unix time (for a certificate's end date).
fn ymd(t: u64) -> (i32, u8, u8) {
    let z = (t / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    ((yoe + era * 400 + i64::from(m <= 2)) as i32, m, d)
}

struct Lab {
    ca: TestCa,
    _dns: Dns,
    _web: Vec<Web>,
    _mail: Vec<Greeter>,
}

fn lab() -> Lab {
    let ca = TestCa::new();
    let mut records = vec![Record::a("mail.elsewhere.test", &ip(20))];
    let mut web_names: Vec<String> = Vec::new();
    let mut good_names: Vec<String> = vec!["mail.elsewhere.test".into()];
    for d in GOOD.iter().chain(&[
        "mismatch.test",
        "expired.test",
        "untrusted.test",
        "expiring.test",
        "invalid.test",
        "nostarttls.test",
        "tlsport.test",
    ]) {
        for w in [format!("autoconfig.{d}"), format!("autodiscover.{d}")] {
            records.push(Record::a(&w, &ip(10)));
            web_names.push(w);
        }
        let mail = format!("mail.{d}");
        records.push(Record::a(&mail, &ip(20)));
        good_names.push(mail);
    }
    records.push(Record::a("imap2.disagree.test", &ip(20)));
    good_names.push("imap2.disagree.test".into());
    for (host, n) in [
        ("imap.mismatch.test", 21),
        ("imap.expired.test", 22),
        ("imap.untrusted.test", 23),
        ("imap.expiring.test", 24),
        ("imap.nostarttls.test", 25),
        ("imap.tlsport.test", 26),
    ] {
        records.push(Record::a(host, &ip(n)));
    }
    for (name, target, port) in [
        // clean.test: autoconfig over HTTPS and SRV, naming the same servers.
        ("_imaps._tcp.clean.test", "mail.clean.test", 993),
        ("_submissions._tcp.clean.test", "mail.clean.test", 465),
        // srvoff.test: SRV outside the domain, unsigned.
        ("_imaps._tcp.srvoff.test", "mail.elsewhere.test", 993),
        ("_submissions._tcp.srvoff.test", "mail.elsewhere.test", 465),
        // disagree.test: SRV names another IMAP host than autoconfig.
        ("_imaps._tcp.disagree.test", "imap2.disagree.test", 993),
    ] {
        records.push(Record::srv(name, target, port, 0, 1));
    }
    let dns = Dns::start(&ip(53), &records);

    let path = "/mail/config-v1.1.xml";
    // A domain's autoconfig file, with its IMAP server and SMTP at mail.
    let autoconfig = |d: &str, imap: &str, port: u16, socket: &str| {
        let xml = config(d, imap, port, socket, &format!("mail.{d}"));
        Route::get(&format!("autoconfig.{d}"), path, Reply::xml(xml))
    };
    // adauth.test's Autodiscover asks for a password (Basic).
    let challenge = || {
        Route::post(
            "autodiscover.adauth.test",
            "/autodiscover/autodiscover.xml",
            Reply::Challenge(401, "Basic realm=\"adauth\""),
        )
    };
    let mut https_routes = vec![
        autoconfig("plaintext.test", "mail.plaintext.test", 143, "plain"),
        challenge(),
        // Line 4 closes an element that was never opened.
        Route::get(
            "autoconfig.invalid.test",
            path,
            Reply::xml(
                "<?xml version=\"1.0\"?>\n<clientConfig version=\"1.1\">\n  <emailProvider id=\"invalid.test\">\n    </domain>\n  </emailProvider>\n</clientConfig>\n",
            ),
        ),
    ];
    for d in ["clean.test", "disagree.test", "adauth.test"] {
        https_routes.push(autoconfig(d, &format!("mail.{d}"), 993, "SSL"));
    }
    for (d, port, socket) in [
        ("mismatch.test", 993, "SSL"),
        ("expired.test", 993, "SSL"),
        ("untrusted.test", 993, "SSL"),
        ("expiring.test", 993, "SSL"),
        ("nostarttls.test", 143, "STARTTLS"),
        ("tlsport.test", 993, "SSL"),
    ] {
        https_routes.push(autoconfig(d, &format!("imap.{d}"), port, socket));
    }
    let http_routes = vec![
        autoconfig("httponly.test", "mail.httponly.test", 993, "SSL"),
        challenge(),
    ];
    let names: Vec<&str> = web_names.iter().map(String::as_str).collect();
    let web_leaf = ca.issue(&names);
    let https = Web::start(&ip(10), 443, Some(&web_leaf), https_routes);
    let http = Web::start(&ip(10), 80, None, http_routes);

    let good: Vec<&str> = good_names.iter().map(String::as_str).collect();
    let good_leaf = ca.issue(&good);
    let imap = "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready";
    let z = Duration::ZERO;
    let in_ten_days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 10 * 86_400;
    let (y, m, d) = ymd(in_ten_days);
    let other_ca = TestCa::new();
    let mail = vec![
        Greeter::start(&ip(20), 993, Some(&good_leaf), imap, z),
        Greeter::start(&ip(20), 465, Some(&good_leaf), "220 mail ESMTP", z),
        Greeter::start_starttls(&ip(20), 143, &good_leaf, imap, z),
        Greeter::start(
            &ip(21),
            993,
            Some(&ca.issue(&["someone-else.test"])),
            imap,
            z,
        ),
        Greeter::start(
            &ip(22),
            993,
            Some(&ca.issue_with(&["imap.expired.test"], |p| {
                p.not_before = rcgen::date_time_ymd(2020, 1, 1);
                p.not_after = rcgen::date_time_ymd(2021, 1, 1);
            })),
            imap,
            z,
        ),
        Greeter::start(
            &ip(23),
            993,
            Some(&other_ca.issue(&["imap.untrusted.test"])),
            imap,
            z,
        ),
        Greeter::start(
            &ip(24),
            993,
            Some(&ca.issue_with(&["imap.expiring.test"], |p| {
                p.not_before = rcgen::date_time_ymd(2024, 1, 1);
                p.not_after = rcgen::date_time_ymd(y, m, d);
            })),
            imap,
            z,
        ),
        Greeter::start(
            &ip(25),
            143,
            None,
            "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] plain only",
            z,
        ),
        Greeter::start(&ip(26), 993, None, imap, z),
    ];
    Lab {
        ca,
        _dns: dns,
        _web: vec![https, http],
        _mail: mail,
    }
}

struct Audit {
    code: Option<i32>,
    json: Value,
    stderr: String,
}

impl Audit {
    fn findings(&self, code: &str) -> Vec<&Value> {
        self.json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["code"] == code)
            .collect()
    }

    fn codes(&self) -> Vec<String> {
        self.json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                format!(
                    "{}:{}",
                    f["severity"].as_str().unwrap(),
                    f["code"].as_str().unwrap()
                )
            })
            .collect()
    }
}

fn audit(lab: &Lab, domain: &str, extra: &[&str]) -> Audit {
    let out = Command::new(env!("CARGO_BIN_EXE_mailsetup"))
        .args(["check", "--timeout", "8", "--dns"])
        .arg(ip(53))
        .arg("--ca-file")
        .arg(lab.ca.ca_file())
        .args(extra)
        .arg(domain)
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let json = if extra.contains(&"--json") {
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
    } else {
        Value::String(stdout)
    };
    Audit {
        code: out.status.code(),
        json,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// (domain, finding code, severity, what the finding's server or message
/// must contain).
const CASES: [(&str, &str, &str, &str); 12] = [
    (
        "httponly.test",
        "config-http-only",
        "error",
        "http://autoconfig.httponly.test/",
    ),
    (
        "plaintext.test",
        "config-plaintext-server",
        "error",
        "imap://mail.plaintext.test:143?security=none",
    ),
    (
        "srvoff.test",
        "srv-off-domain",
        "warning",
        "_imaps._tcp.srvoff.test",
    ),
    (
        "disagree.test",
        "sources-disagree",
        "warning",
        "imap2.disagree.test",
    ),
    (
        "adauth.test",
        "autodiscover-http-auth",
        "error",
        "http://autodiscover.adauth.test/",
    ),
    (
        "mismatch.test",
        "cert-name-mismatch",
        "error",
        "imaps://imap.mismatch.test:993",
    ),
    (
        "expired.test",
        "cert-expired",
        "error",
        "imaps://imap.expired.test:993",
    ),
    (
        "untrusted.test",
        "cert-untrusted",
        "error",
        "imaps://imap.untrusted.test:993",
    ),
    (
        "expiring.test",
        "cert-expiring",
        "warning",
        "imaps://imap.expiring.test:993",
    ),
    ("invalid.test", "config-invalid", "error", "line 4"),
    (
        "nostarttls.test",
        "starttls-missing",
        "error",
        "imap://imap.nostarttls.test:143",
    ),
    (
        "tlsport.test",
        "tls-mismatch",
        "error",
        "imaps://imap.tlsport.test:993",
    ),
];

lab_test! {
    fn every_audit_finding_has_its_domain_and_a_clean_domain_has_none() {
        let lab = lab();
        let mut failures = Vec::new();
        for (domain, code, severity, needle) in CASES {
            let a = audit(&lab, domain, &["--json"]);
            let found = a.findings(code);
            let ok = found.iter().any(|f| {
                f["severity"] == severity
                    && (f["server"].as_str().is_some_and(|s| s.contains(needle))
                        || f["message"].as_str().unwrap().contains(needle))
                    && !f["fix"].as_str().unwrap().is_empty()
            });
            if !ok {
                failures.push(format!(
                    "{domain}: want {severity}:{code} about {needle}; got {:?}\n{}\n{}",
                    a.codes(),
                    a.json,
                    a.stderr
                ));
                continue;
            }
            let want_exit = if a.json["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["severity"] == "error")
            {
                1
            } else {
                0
            };
            if a.code != Some(want_exit) {
                failures.push(format!("{domain}: exit {:?}, want {want_exit}", a.code));
            }
            // The document's shape: "domain" instead of "email", and sources.
            assert_eq!(a.json["domain"], domain);
            assert!(a.json.get("email").is_none());
            assert!(!a.json["sources"].as_array().unwrap().is_empty());
        }
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));

        // Details of some findings.
        let inv = audit(&lab, "invalid.test", &["--json"]);
        let f = inv.findings("config-invalid");
        assert!(
            f[0]["message"].as_str().unwrap().contains("line 4"),
            "{}",
            f[0]
        );
        let ad = audit(&lab, "adauth.test", &["--json"]);
        let basic = ad.findings("autodiscover-http-auth");
        // Over plain HTTP an error; Basic over HTTPS a warning.
        assert!(basic.iter().any(|f| f["severity"] == "error"), "{basic:?}");
        assert!(
            basic.iter().any(|f| f["severity"] == "warning"
                && f["server"]
                    .as_str()
                    .unwrap()
                    .starts_with("https://autodiscover.adauth.test/")),
            "{basic:?}"
        );
        let src = ad.json["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| {
                s["asked"] == "POST http://autodiscover.adauth.test/autodiscover/autodiscover.xml"
            })
            .unwrap();
        assert_eq!(src["status"], 401);
        assert_eq!(src["transport"], "http");
        assert!(
            src["www_authenticate"]
                .as_str()
                .unwrap()
                .starts_with("Basic")
        );
        let srv = audit(&lab, "srvoff.test", &["--json"]);
        let s = srv.json["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["asked"] == "SRV _imaps._tcp.srvoff.test")
            .unwrap();
        assert_eq!(s["dnssec"], false);
        assert_eq!(s["servers"][0], "imaps://mail.elsewhere.test:993");
        let exp = audit(&lab, "expiring.test", &["--json"]);
        let m = exp.findings("cert-expiring")[0]["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(m.contains(" days from now"), "{m}");

        // The clean domain: no error, no warning, an info finding per source,
        // exit 0, every published server probed and working.
        let clean = audit(&lab, "clean.test", &["--json"]);
        let bad: Vec<String> = clean
            .codes()
            .into_iter()
            .filter(|c| !c.starts_with("info:"))
            .collect();
        assert!(bad.is_empty(), "{bad:?}\n{}", clean.json);
        assert_eq!(clean.code, Some(0), "{}", clean.stderr);
        let infos: Vec<String> = clean
            .findings("source-ok")
            .iter()
            .map(|f| f["message"].as_str().unwrap().to_string())
            .collect();
        assert!(
            infos.iter().any(|m| m.starts_with("autoconfig")),
            "{infos:?}"
        );
        assert!(infos.iter().any(|m| m.starts_with("srv")), "{infos:?}");
        let servers = clean.json["servers"].as_array().unwrap();
        assert_eq!(servers.len(), 2, "{servers:?}");
        for s in servers {
            assert_eq!(s["error"], Value::Null, "{s}");
            assert_eq!(s["tls"]["cert_valid"], true, "{s}");
            assert_eq!(s["login"], "skipped");
        }
        assert!(clean.json["verdict"].as_str().unwrap().contains("safely"));

        // Human output: grouped by source, the fix addressed to the operator.
        let human = audit(&lab, "httponly.test", &[]);
        let text = human.json.as_str().unwrap();
        assert_eq!(human.code, Some(1));
        let (ac, rest) = text.split_once("\nAutodiscover").unwrap();
        assert!(
            ac.contains("Autoconfig\n") && ac.contains("config-http-only"),
            "{text}"
        );
        assert!(ac.contains("Fix: Serve the same file over HTTPS"), "{text}");
        assert!(
            rest.contains("SRV records") && rest.contains("MX"),
            "{text}"
        );
    }
}

lab_test! {
    fn the_audit_never_logs_in_and_never_sends_credentials() {
        // The lab's servers record what clients send: the audit of a domain
        // whose Autodiscover asks for Basic auth sends no Authorization header,
        // and the probes ask capabilities only.
        let ca = TestCa::new();
        let dns = Dns::start(
            &ip(153),
            &[
                Record::a("autodiscover.creds.test", &ip(110)),
                Record::a("autoconfig.creds.test", &ip(110)),
                Record::a("mail.creds.test", &ip(120)),
            ],
        );
        let leaf = ca.issue(&["autodiscover.creds.test", "autoconfig.creds.test"]);
        let web = Web::start(
            &ip(110),
            443,
            Some(&leaf),
            vec![
                Route::post(
                    "autodiscover.creds.test",
                    "/autodiscover/autodiscover.xml",
                    Reply::Challenge(401, "Basic realm=\"x\""),
                ),
                Route::get(
                    "autoconfig.creds.test",
                    "/mail/config-v1.1.xml",
                    Reply::xml(config(
                        "creds.test",
                        "mail.creds.test",
                        993,
                        "SSL",
                        "mail.creds.test",
                    )),
                ),
            ],
        );
        let mail_leaf = ca.issue(&["mail.creds.test"]);
        let imap = Greeter::start(
            &ip(120),
            993,
            Some(&mail_leaf),
            "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi",
            Duration::ZERO,
        );
        let smtp = Greeter::start(
            &ip(120),
            465,
            Some(&mail_leaf),
            "220 mail ESMTP",
            Duration::ZERO,
        );
        let out = Command::new(env!("CARGO_BIN_EXE_mailsetup"))
            .args(["check", "creds.test", "--json", "--timeout", "8", "--dns"])
            .arg(ip(153))
            .arg("--ca-file")
            .arg(ca.ca_file())
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(
            v["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["code"] == "autodiscover-http-auth"),
            "{v}"
        );
        let reqs = web.requests();
        assert!(reqs.iter().any(|r| r.host == "autodiscover.creds.test"));
        assert!(reqs.iter().all(|r| r.authorization.is_none()), "{reqs:?}");
        imap.assert_asked_capabilities_but_never_logged_in();
        smtp.assert_asked_capabilities_but_never_logged_in();
        drop(dns);
    }
}
