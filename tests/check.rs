//! End-to-end tests of `mailsetup check`, driven through the real binary
//! against a real dovecot and small hostile fake servers in the test lab
//! (addresses 127.0.2.0/24). Every finding code of the interface is
//! produced here by a server, and every security rule has a test that
//! fails if the rule breaks.

mod lab;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lab::codes;
use lab::dns::{Dns, Record, ScriptedDns};
use lab::dovecot::Dovecot;
use lab::fake::{Blackhole, Fake, Imap, Pop3, Smtp};
use serde_json::Value;

/// The dovecot user's password.
const PASSWORD: &str = "correct-horse-battery-42";
/// What the fakes accept.
const FAKE_SECRET: &str = "right-secret";
/// What the tests type when a login must fail (long and unique, so a leak
/// cannot hide in other text).
const WRONG: &str = "Wr0ng-Pa55w0rd-zQx9";

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

fn mailsetup(args: &[&str], stdin: Option<&str>) -> Out {
    let o = lab::mailsetup_with_input(args, stdin);
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Where DNS questions go when a test names no DNS server: the shared lab
/// dnsmasq, which knows no name, so discovery of the made-up domains fails
/// at once and nothing is ever asked outside the lab. The ISPDB likewise
/// points at a loopback address where nothing listens.
const NOWHERE_DNS: &str = "127.0.2.53";
const NOWHERE_ISPDB: &str = "http://127.0.2.99/";

/// `check` with `args` (and `--ca-file`, a short timeout, DNS and ISPDB on
/// loopback unless given), as people read it.
fn check_human(args: &[&str], stdin: Option<&str>) -> Out {
    let ca = shared().ca.ca_file();
    let mut all = vec![
        "check",
        "--timeout",
        "3",
        "--ca-file",
        ca.to_str().unwrap(),
        "--ispdb-url",
        NOWHERE_ISPDB,
    ];
    if !args.contains(&"--dns") {
        all.extend_from_slice(&["--dns", NOWHERE_DNS]);
    }
    all.extend_from_slice(args);
    mailsetup(&all, stdin)
}

/// [`check_human`] with `--json`.
fn check(args: &[&str], stdin: Option<&str>) -> (Out, Value) {
    let out = check_human(&[&["--json"], args].concat(), stdin);
    let v = out.json();
    (out, v)
}

/// [`check`] of `a@lab.test` with `args` (its servers, and flags), no
/// secret given.
fn check_servers(args: &[&str]) -> (Out, Value) {
    check(&[&["a@lab.test"], args].concat(), None)
}

/// [`check`] of `a@lab.test` with the servers in `args`, typing `secret`
/// as the password.
fn check_password(args: &[&str], secret: &str) -> (Out, Value) {
    check(
        &[&["a@lab.test"], args, &["--password-stdin"]].concat(),
        Some(secret),
    )
}

fn finding<'a>(v: &'a Value, code: &str) -> &'a Value {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("no {code} finding in {v:#}"))
}

fn server<'a>(v: &'a Value, role: &str) -> &'a Value {
    v["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["role"] == role)
        .unwrap_or_else(|| panic!("no {role} server in {v:#}"))
}

/// The lab CA, one dovecot and an empty DNS server, shared by the tests
/// of this file.
struct Shared {
    ca: lab::TestCa,
    dovecot: Dovecot,
    _dns: Dns,
}

fn shared() -> &'static Shared {
    static S: OnceLock<Shared> = OnceLock::new();
    S.get_or_init(|| {
        lab::require();
        let ca = lab::TestCa::new();
        let leaf = ca.issue(&["mail.lab.test", "127.0.2.10"]);
        let dovecot = Dovecot::start("127.0.2.10", &leaf, PASSWORD);
        let _dns = Dns::start(NOWHERE_DNS, &[]);
        Shared { ca, dovecot, _dns }
    })
}

fn tls_for(names: &[&str]) -> Arc<rustls::ServerConfig> {
    shared().ca.issue(names).server_config()
}

// --- Real dovecot -------------------------------------------------------

lab_test! {
    fn dovecot_login_ok_over_implicit_tls_and_starttls() {
        let d = &shared().dovecot;
        let started = Instant::now();
        let (out, v) = check(
            &[
                d.user,
                "--incoming",
                "imaps://127.0.2.10:993",
                "--outgoing",
                "smtp://127.0.2.10:587",
                "--password-stdin",
            ],
            Some(&format!("{PASSWORD}\n")),
        );
        let elapsed = started.elapsed();
        assert_eq!(out.code, 0, "{}\n{}\n{}", out.stdout, out.stderr, d.log());
        assert_eq!(codes(&v), Vec::<String>::new());
        for role in ["incoming", "outgoing"] {
            let s = server(&v, role);
            assert_eq!(s["login"], "ok", "{s:#}");
            assert_eq!(s["reachable"], true);
            assert_eq!(s["tls"]["cert_valid"], true);
            assert!(s["tls"]["version"].as_str().unwrap().starts_with("TLSv1."));
            assert!(
                s["tls"]["names"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|n| n == "127.0.2.10")
            );
            assert_eq!(s["tls"]["issuer"], "CN=mailsetup test CA");
            assert!(s["tls"]["not_after"].as_str().unwrap().ends_with('Z'));
            assert!(
                s["auth_mechanisms"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|m| m == "PLAIN")
            );
            assert!(s["ms"].as_u64().unwrap() < 1000, "{s:#}");
        }
        // Incoming and outgoing together, on loopback: well under a second
        // for the probes (the whole process also loads the trust store).
        assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
        assert!(v["verdict"].as_str().unwrap().contains("work"));
    }
}

lab_test! {
    fn dovecot_login_ok_over_pop3_starttls_and_smtps() {
        let d = &shared().dovecot;
        let (out, v) = check(
            &[
                d.user,
                "--incoming",
                "pop3://127.0.2.10:110",
                "--outgoing",
                "smtps://127.0.2.10:465",
                "--password-stdin",
            ],
            Some(PASSWORD),
        );
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
        assert_eq!(server(&v, "incoming")["login"], "ok");
        assert_eq!(server(&v, "outgoing")["login"], "ok");
    }
}

lab_test! {
    fn dovecot_wrong_password_is_auth_failed() {
        let d = &shared().dovecot;
        let (out, v) = check(
            &[
                d.user,
                "--incoming",
                "imap://127.0.2.10:143",
                "--password-stdin",
            ],
            Some(WRONG),
        );
        assert_eq!(out.code, 1, "{}", out.stdout);
        assert_eq!(server(&v, "incoming")["login"], "failed");
        let f = finding(&v, "auth-failed");
        assert_eq!(f["severity"], "error");
        assert!(f["fix"].as_str().unwrap().contains(d.user), "{f:#}");
        assert!(
            f["message"]
                .as_str()
                .unwrap()
                .contains("AUTHENTICATIONFAILED"),
            "{f:#}"
        );
    }
}

lab_test! {
    fn human_output_puts_a_plain_verdict_first() {
        let d = &shared().dovecot;
        let out = check_human(
            &[
                d.user,
                "--incoming",
                "imaps://127.0.2.10:993",
                "--outgoing",
                "smtp://127.0.2.10:2526",
            ],
            None,
        );
        assert_eq!(out.code, 1);
        let first = out.stdout.lines().nth(2).unwrap();
        assert!(
            first.starts_with("Your incoming mail server works; sending mail will fail because"),
            "{}",
            out.stdout
        );
        assert!(
            out.stdout.contains("x error: tcp-unreachable"),
            "{}",
            out.stdout
        );
        assert!(out.stdout.contains("Fix: "), "{}", out.stdout);
    }
}

lab_test! {
    fn implicit_tls_to_a_plaintext_port_is_tls_mismatch() {
        let (out, v) = check_servers(&["--incoming", "imaps://127.0.2.10:143"]);
        assert_eq!(out.code, 1);
        let f = finding(&v, "tls-mismatch");
        let fix = f["fix"].as_str().unwrap();
        assert!(
            fix.contains("imap://127.0.2.10:143") && fix.contains("imaps://127.0.2.10:993"),
            "{fix}"
        );
    }
}

lab_test! {
    fn plaintext_to_an_implicit_tls_port_is_tls_mismatch() {
        let (out, v) = check_servers(&["--outgoing", "smtp://127.0.2.10:465"]);
        assert_eq!(out.code, 1);
        let f = finding(&v, "tls-mismatch");
        assert!(
            f["fix"]
                .as_str()
                .unwrap()
                .contains("smtps://127.0.2.10:465"),
            "{f:#}"
        );
    }
}

// --- DNS and TCP --------------------------------------------------------

lab_test! {
    fn unknown_host_is_dns_not_found_and_known_names_work() {
        shared();
        let _dns = Dns::start("127.0.2.55", &[Record::a("mail.lab.test", "127.0.2.10")]);
        let (out, v) = check_servers(&[
            "--dns",
            "127.0.2.55",
            "--incoming",
            "imaps://imap.nowhere.test",
        ]);
        assert_eq!(out.code, 1);
        let f = finding(&v, "dns-not-found");
        assert!(f["message"].as_str().unwrap().contains("imap.nowhere.test"));
        assert!(f["fix"].as_str().unwrap().contains("spelling"));
        // The name the certificate holds resolves and validates.
        let (out, v) =
            check_servers(&["--dns", "127.0.2.55", "--incoming", "imaps://mail.lab.test"]);
        assert_eq!(out.code, 0, "{}", out.stdout);
        assert_eq!(server(&v, "incoming")["addresses"][0], "127.0.2.10");
    }
}

lab_test! {
    fn refused_and_timed_out_connections_are_told_apart() {
        shared();
        let (_, v) = check_servers(&["--incoming", "imaps://127.0.2.11:993"]);
        let f = finding(&v, "tcp-unreachable");
        assert!(f["message"].as_str().unwrap().contains("refused"), "{f:#}");
        assert!(
            f["fix"].as_str().unwrap().contains("Check the port"),
            "{f:#}"
        );

        let _hole = Blackhole::start("127.0.2.12:993");
        let (_, v) = check_servers(&["--incoming", "imaps://127.0.2.12:993"]);
        let f = finding(&v, "tcp-unreachable");
        assert!(
            f["message"].as_str().unwrap().contains("timed out"),
            "{f:#}"
        );
        assert!(f["fix"].as_str().unwrap().contains("firewall"), "{f:#}");

        let _hole25 = Blackhole::start("127.0.2.12:25");
        let (_, v) = check_servers(&["--outgoing", "smtp://127.0.2.12:25"]);
        let f = finding(&v, "tcp-unreachable");
        assert!(
            f["fix"].as_str().unwrap().contains("block port 25"),
            "{f:#}"
        );
        finding(&v, "port-25-submission");
    }
}

lab_test! {
    fn port_25_for_sending_is_a_finding_even_when_it_works() {
        let fake = Fake::start(
            "127.0.2.13:25",
            Smtp::default().starttls(tls_for(&["127.0.2.13"])),
        );
        let (out, v) = check_servers(&["--outgoing", "smtp://127.0.2.13:25"]);
        assert_eq!(out.code, 0, "{}", out.stdout);
        let f = finding(&v, "port-25-submission");
        assert_eq!(f["severity"], "warning");
        assert!(f["fix"].as_str().unwrap().contains("smtp://127.0.2.13:587"));
        assert!(fake.connections() >= 1);
    }
}

// --- STARTTLS -------------------------------------------------------------

lab_test! {
    fn no_starttls_means_starttls_missing_and_no_password_in_clear() {
        let fake = Fake::start(
            "127.0.2.14:143",
            Imap {
                plain_caps: "IMAP4rev1 AUTH=PLAIN".into(),
                ..Imap::default()
            }
            .plain(),
        );
        let (out, v) = check_password(&["--incoming", "imap://127.0.2.14:143"], FAKE_SECRET);
        assert_eq!(out.code, 1);
        finding(&v, "starttls-missing");
        assert_eq!(server(&v, "incoming")["login"], "refused-insecure");
        let clear = fake.received_in_clear();
        assert!(clear.contains("CAPABILITY"), "{clear}");
        assert!(
            !clear.contains("AUTHENTICATE") && !clear.contains("LOGIN"),
            "{clear}"
        );
        assert!(!clear.contains(FAKE_SECRET), "{clear}");
    }
}

lab_test! {
    fn refused_starttls_never_falls_back_to_plaintext() {
        let fake = Fake::start(
            "127.0.2.15:587",
            Smtp {
                plain_ehlo: vec!["AUTH PLAIN".into(), "STARTTLS".into()],
                starttls_reply: "454 4.7.0 TLS not available\r\n".into(),
                ..Smtp::default()
            }
            .starttls(tls_for(&["127.0.2.15"])),
        );
        // The fake's STARTTLS answer is 454, so it never switches.
        let (out, v) = check_password(&["--outgoing", "smtp://127.0.2.15:587"], FAKE_SECRET);
        assert_eq!(out.code, 1);
        let f = finding(&v, "starttls-missing");
        assert!(f["message"].as_str().unwrap().contains("454"), "{f:#}");
        let clear = fake.received_in_clear();
        // STARTTLS is the last thing said in clear: no AUTH, no retry.
        assert!(clear.trim_end().ends_with("STARTTLS"), "{clear}");
        assert!(!clear.contains("AUTH"), "{clear}");
    }
}

lab_test! {
    fn accepted_starttls_without_tls_is_starttls_missing() {
        // STARTTLS is accepted, then the server closes instead of TLS.
        let _fake = Fake::start(
            "127.0.2.28:110",
            Pop3 {
                plain_capa: vec!["STLS".into(), "USER".into()],
                ..Pop3::default()
            }
            .plain(),
        );
        let (out, v) = check_password(&["--incoming", "pop3://127.0.2.28:110"], FAKE_SECRET);
        assert_eq!(out.code, 1);
        let f = finding(&v, "starttls-missing");
        assert!(
            f["message"].as_str().unwrap().contains("did not start TLS"),
            "{f:#}"
        );
        assert_eq!(server(&v, "incoming")["login"], "refused-insecure");
    }
}

lab_test! {
    fn bytes_after_the_starttls_answer_abort_the_connection() {
        let fake = Fake::start(
            "127.0.2.16:143",
            Imap {
                starttls_reply: "{tag} OK Begin TLS\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n"
                    .into(),
                ..Imap::default()
            }
            .starttls(tls_for(&["127.0.2.16"])),
        );
        let (out, v) = check_password(&["--incoming", "imap://127.0.2.16:143"], FAKE_SECRET);
        assert_eq!(out.code, 1);
        let f = finding(&v, "starttls-injection");
        assert_eq!(f["severity"], "error");
        let s = server(&v, "incoming");
        assert_eq!(s["login"], "refused-insecure");
        // Nothing learnt before the abort is reported as capabilities.
        assert_eq!(s["capabilities"], serde_json::json!([]));
        assert!(!fake.received_in_clear().contains(FAKE_SECRET));
        assert_eq!(fake.received_in_tls(), "", "no TLS session may follow");
    }
}

lab_test! {
    fn capabilities_are_asked_again_inside_tls_and_plain_text_is_not_trusted() {
        let fake = Fake::start(
            "127.0.2.17:143",
            Imap {
                greeting: "* OK PLAIN-GREETING-MARKER ready\r\n".into(),
                plain_caps: "IMAP4rev1 STARTTLS AUTH=PLAIN X-PLAIN-ONLY".into(),
                tls_caps: "IMAP4rev1 SASL-IR AUTH=XOAUTH2 LOGINDISABLED X-TLS-ONLY".into(),
                ..Imap::default()
            }
            .starttls(tls_for(&["127.0.2.17"])),
        );
        let (out, v) = check_servers(&["--incoming", "imap://127.0.2.17:143", "-v"]);
        let s = server(&v, "incoming");
        let caps: Vec<&str> = s["capabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        assert!(
            caps.contains(&"X-TLS-ONLY") && !caps.contains(&"X-PLAIN-ONLY"),
            "{caps:?}"
        );
        assert_eq!(s["auth_mechanisms"], serde_json::json!(["XOAUTH2"]));
        assert!(fake.received_in_tls().contains("CAPABILITY"));
        // The plain greeting is not reported as the server's word…
        assert!(
            !out.stdout.contains("PLAIN-GREETING-MARKER"),
            "{}",
            out.stdout
        );
        // …and in the -v transcript it is marked as plain text.
        let line = out
            .stderr
            .lines()
            .find(|l| l.contains("PLAIN-GREETING-MARKER"))
            .unwrap();
        assert!(line.trim_start().starts_with("plain"), "{line}");
        // The settings expect a password; only XOAUTH2 is offered.
        finding(&v, "auth-unsupported");
    }
}

lab_test! {
    fn preauth_before_tls_is_a_finding_and_nothing_is_sent() {
        let fake = Fake::start(
            "127.0.2.18:143",
            Imap {
                greeting: "* PREAUTH IMAP4rev1 logged in as you\r\n".into(),
                ..Imap::default()
            }
            .starttls(tls_for(&["127.0.2.18"])),
        );
        let (out, v) = check_password(&["--incoming", "imap://127.0.2.18:143"], FAKE_SECRET);
        assert_eq!(out.code, 1);
        finding(&v, "preauth");
        // Give the fake a moment to record anything that might have come.
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(fake.received_in_clear(), "", "not a byte may be sent");
    }
}

// --- Certificates and TLS -------------------------------------------------

lab_test! {
    fn expired_certificate_is_cert_expired_with_its_dates() {
        let leaf = shared().ca.issue_with(&["127.0.2.19"], |p| {
            p.not_before = rcgen::date_time_ymd(2020, 1, 1);
            p.not_after = rcgen::date_time_ymd(2021, 1, 1);
        });
        let fake = Fake::start(
            "127.0.2.19:993",
            Imap::default().implicit(leaf.server_config()),
        );
        let (out, v) = check_password(&["--incoming", "imaps://127.0.2.19:993"], FAKE_SECRET);
        assert_eq!(out.code, 1);
        let f = finding(&v, "cert-expired");
        assert!(
            f["message"].as_str().unwrap().contains("2021-01-01"),
            "{f:#}"
        );
        let s = server(&v, "incoming");
        assert_eq!(s["tls"]["cert_valid"], false);
        assert_eq!(s["tls"]["not_after"], "2021-01-01T00:00:00Z");
        assert_eq!(s["login"], "refused-insecure");
        assert_eq!(fake.received_in_tls(), "");
    }
}

lab_test! {
    fn wrong_name_certificate_is_cert_name_mismatch_naming_what_it_holds() {
        let _dns = Dns::start("127.0.2.54", &[Record::a("imap.alias.test", "127.0.2.20")]);
        let _fake = Fake::start(
            "127.0.2.20:993",
            Imap::default().implicit(tls_for(&["mail.provider.test"])),
        );
        let (out, v) = check_servers(&[
            "--dns",
            "127.0.2.54",
            "--incoming",
            "imaps://imap.alias.test:993",
        ]);
        assert_eq!(out.code, 1);
        let f = finding(&v, "cert-name-mismatch");
        let msg = f["message"].as_str().unwrap();
        assert!(
            msg.contains("imap.alias.test") && msg.contains("mail.provider.test"),
            "{msg}"
        );
        assert!(
            f["fix"].as_str().unwrap().contains("mail.provider.test"),
            "{f:#}"
        );
    }
}

lab_test! {
    fn self_signed_certificate_is_cert_untrusted() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["127.0.2.21".to_string()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "self-made");
        let cert = params.self_signed(&key).unwrap();
        let leaf = lab::Leaf {
            chain_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_file: Default::default(),
            key_file: Default::default(),
        };
        let _fake = Fake::start(
            "127.0.2.21:993",
            Imap::default().implicit(leaf.server_config()),
        );
        let (out, v) = check_servers(&["--incoming", "imaps://127.0.2.21:993"]);
        assert_eq!(out.code, 1);
        let f = finding(&v, "cert-untrusted");
        assert!(
            f["message"].as_str().unwrap().contains("self-signed"),
            "{f:#}"
        );
        assert_eq!(server(&v, "incoming")["tls"]["issuer"], "CN=self-made");
    }
}

lab_test! {
    fn servers_stuck_on_old_tls_are_tls_outdated() {
        shared();
        // A TLS 1.0-only stack: a protocol_version alert to a TLS 1.2/1.3 hello.
        let _alert = Fake::raw(
            "127.0.2.22:993",
            &[0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46],
        );
        let (out, v) = check_servers(&["--incoming", "imaps://127.0.2.22:993"]);
        assert_eq!(out.code, 1);
        finding(&v, "tls-outdated");
        // One that answers with a TLS 1.0 ServerHello.
        const HELLO: &[u8] = &[
            0x16, 0x03, 0x01, 0x00, 0x2a, 0x02, 0x00, 0x00, 0x26, 0x03, 0x01, 1, 2, 3, 4, 5, 6, 7,
            8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29,
            30, 31, 32, 0x00, 0x00, 0x2f, 0x00,
        ];
        let _hello = Fake::raw("127.0.2.22:995", HELLO);
        let (_, v) = check_servers(&["--incoming", "pop3s://127.0.2.22:995"]);
        let f = finding(&v, "tls-outdated");
        assert!(f["fix"].as_str().unwrap().contains("TLS 1.2"), "{f:#}");
    }
}

// --- Authentication -------------------------------------------------------

lab_test! {
    fn security_none_is_plaintext_auth_and_the_password_is_not_sent() {
        let fake = Fake::start(
            "127.0.2.23:143",
            Imap {
                plain_caps: "IMAP4rev1 STARTTLS AUTH=PLAIN".into(),
                ..Imap::default()
            }
            .plain(),
        );
        let (out, v) = check_password(
            &["--incoming", "imap://127.0.2.23:143?security=none"],
            FAKE_SECRET,
        );
        assert_eq!(out.code, 1);
        let f = finding(&v, "plaintext-auth");
        assert!(f["message"].as_str().unwrap().contains("not sent"));
        assert!(
            f["fix"].as_str().unwrap().contains("offers STARTTLS"),
            "{f:#}"
        );
        assert_eq!(server(&v, "incoming")["login"], "refused-insecure");
        let clear = fake.received_in_clear();
        assert!(
            !clear.contains(FAKE_SECRET) && !clear.contains("AUTHENTICATE"),
            "{clear}"
        );
        let b64 = STANDARD.encode(format!("\0a@lab.test\0{FAKE_SECRET}"));
        assert!(!clear.contains(&b64));
    }
}

lab_test! {
    fn xoauth2_only_server_is_auth_unsupported_for_a_password_and_takes_a_token() {
        let fake = Fake::start(
            "127.0.2.24:993",
            Imap {
                tls_caps: "IMAP4rev1 SASL-IR AUTH=XOAUTH2 LOGINDISABLED".into(),
                secret: "ya29.token-value".into(),
                ..Imap::default()
            }
            .implicit(tls_for(&["127.0.2.24"])),
        );
        let (out, v) = check_password(&["--incoming", "imaps://127.0.2.24:993"], FAKE_SECRET);
        assert_eq!(out.code, 1);
        let f = finding(&v, "auth-unsupported");
        assert!(f["message"].as_str().unwrap().contains("XOAUTH2"));
        assert!(!fake.received_in_tls().contains("AUTHENTICATE"));
        // With a token it logs in.
        let (out, v) = check(
            &[
                "a@lab.test",
                "--incoming",
                "imaps://127.0.2.24:993",
                "--oauth-token-stdin",
            ],
            Some("ya29.token-value\n"),
        );
        assert_eq!(out.code, 0, "{}", out.stdout);
        let s = server(&v, "incoming");
        assert_eq!(
            (s["login"].as_str(), s["login_mechanism"].as_str()),
            (Some("ok"), Some("XOAUTH2"))
        );
        // And a wrong token fails.
        let (out, v) = check(
            &[
                "a@lab.test",
                "--incoming",
                "imaps://127.0.2.24:993",
                "--oauth-token-stdin",
            ],
            Some("expired-token"),
        );
        assert_eq!(out.code, 1);
        finding(&v, "auth-failed");
    }
}

lab_test! {
    fn msn_password_refused_means_oauth_required_with_the_iphone_path() {
        let _imap = Fake::start(
            "127.0.2.25:993",
            Imap {
                // Like outlook.office365.com: PLAIN is listed, passwords fail.
                tls_caps: "IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=XOAUTH2".into(),
                fail: "{tag} NO AUTHENTICATE failed.\r\n".into(),
                ..Imap::default()
            }
            .implicit(tls_for(&["127.0.2.25"])),
        );
        let _smtp = Fake::start(
            "127.0.2.25:587",
            Smtp {
                tls_ehlo: vec!["AUTH LOGIN XOAUTH2".into()],
                ..Smtp::default()
            }
            .starttls(tls_for(&["127.0.2.25"])),
        );
        let (out, v) = check(
            &[
                "someone@msn.com",
                "--incoming",
                "imaps://127.0.2.25:993",
                "--outgoing",
                "smtp://127.0.2.25:587",
                "--password-stdin",
            ],
            Some(WRONG),
        );
        assert_eq!(out.code, 1);
        let outlook = mailsetup::provider::ProviderTable::builtin()
            .by_domain("msn.com")
            .unwrap();
        let f = finding(&v, "auth-failed");
        let fix = f["fix"].as_str().unwrap();
        assert!(fix.contains("Passwords no longer work"), "{fix}");
        assert!(
            fix.contains(&format!(
                "add the account as {}",
                outlook.ios.unwrap().label()
            )),
            "{fix}"
        );
        // Proved by the refused login, so it names the server.
        let o = finding(&v, "oauth-required");
        assert_eq!(o["severity"], "error");
        assert_eq!(o["server"], "imaps://127.0.2.25:993");
        assert!(
            o["message"]
                .as_str()
                .unwrap()
                .starts_with("The password was refused"),
            "{o:#}"
        );
        assert_eq!(
            codes(&v).iter().filter(|c| *c == "oauth-required").count(),
            1
        );
        assert!(codes(&v).contains(&"settings-differ".to_string()));
        assert!(
            v["verdict"]
                .as_str()
                .unwrap()
                .starts_with("Outlook.com does not accept passwords")
        );
    }
}

lab_test! {
    fn auth_failed_fixes_come_from_the_provider_table() {
        let _imap = Fake::start(
            "127.0.2.26:993",
            Imap::default().implicit(tls_for(&["127.0.2.26"])),
        );
        let _smtp = Fake::start(
            "127.0.2.26:465",
            Smtp::default().implicit(tls_for(&["127.0.2.26"])),
        );
        // The outgoing server is given too, so the provider's real one is
        // never contacted.
        let table = mailsetup::provider::ProviderTable::builtin();
        // A provider with app passwords: the fix links to them.
        let (_, v) = check(
            &[
                "jane@gmail.com",
                "--incoming",
                "imaps://127.0.2.26:993",
                "--outgoing",
                "smtps://127.0.2.26:465",
                "--password-stdin",
            ],
            Some(WRONG),
        );
        let link = table
            .by_domain("gmail.com")
            .unwrap()
            .app_password_url
            .clone()
            .unwrap();
        let f = finding(&v, "auth-failed");
        assert!(f["fix"].as_str().unwrap().contains(&link), "{f:#}");
        assert!(f["fix"].as_str().unwrap().contains("app password"), "{f:#}");
        // A provider where IMAP must be switched on first.
        let (_, v) = check(
            &[
                "max@gmx.de",
                "--incoming",
                "imaps://127.0.2.26:993",
                "--outgoing",
                "smtps://127.0.2.26:465",
                "--password-stdin",
            ],
            Some(WRONG),
        );
        let gmx = table.by_domain("gmx.de").unwrap();
        let note = gmx.notes.iter().find(|n| n.code == "enable-imap").unwrap();
        let f = finding(&v, "auth-failed");
        assert!(f["fix"].as_str().unwrap().contains(&note.text), "{f:#}");
        // The given server is not GMX's: settings-differ names GMX's own.
        let d = finding(&v, "settings-differ");
        assert!(
            d["fix"]
                .as_str()
                .unwrap()
                .contains(&gmx.incoming[0].url.to_string()),
            "{d:#}"
        );
    }
}

lab_test! {
    fn referrals_are_reported_and_never_followed() {
        let elsewhere = Fake::start(
            "127.0.2.27:993",
            Imap::default().implicit(tls_for(&["127.0.2.27"])),
        );
        let _imap = Fake::start(
            "127.0.2.26:1993",
            Imap {
                fail: "{tag} NO [REFERRAL imaps://127.0.2.27:993/] go there\r\n".into(),
                ..Imap::default()
            }
            .implicit(tls_for(&["127.0.2.26"])),
        );
        let (_, v) = check_password(&["--incoming", "imaps://127.0.2.26:1993"], WRONG);
        let f = finding(&v, "auth-failed");
        assert!(
            f["message"].as_str().unwrap().contains("does not follow"),
            "{f:#}"
        );
        assert_eq!(
            server(&v, "incoming")["referral"],
            "imaps://127.0.2.27:993/"
        );
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(elsewhere.connections(), 0, "the referral was followed");
    }
}

// --- Secrets --------------------------------------------------------------

/// Every form in which the secret could leak.
fn leaks(secret: &str, user: &str, text: &str) -> Vec<String> {
    let forms = [
        secret.to_string(),
        STANDARD.encode(secret),
        STANDARD.encode(format!("\0{user}\0{secret}")),
        STANDARD.encode(format!("user={user}\x01auth=Bearer {secret}\x01\x01")),
    ];
    forms
        .into_iter()
        .filter(|f| text.contains(f.trim_end_matches('=')))
        .collect()
}

lab_test! {
    fn the_password_appears_nowhere_in_any_output() {
        let secret = "S3cret-Leak-Canary-7781";
        let user = "a@lab.test";
        // A server that echoes whatever was sent in its failure message.
        let _echo = Fake::start(
            "127.0.2.30:993",
            Imap {
                fail: "{tag} NO you sent {sent} which is wrong\r\n".into(),
                ..Imap::default()
            }
            .implicit(tls_for(&["127.0.2.30"])),
        );
        let _echo_smtp = Fake::start(
            "127.0.2.30:465",
            Smtp::default().implicit(tls_for(&["127.0.2.30"])),
        );
        let _inject = Fake::start(
            "127.0.2.31:143",
            Imap {
                starttls_reply: "{tag} OK go\r\n* OK injected\r\n".into(),
                ..Imap::default()
            }
            .starttls(tls_for(&["127.0.2.31"])),
        );
        let _plain = Fake::start(
            "127.0.2.32:110",
            Pop3 {
                plain_capa: vec!["USER".into()],
                ..Pop3::default()
            }
            .plain(),
        );
        let _xoauth = Fake::start(
            "127.0.2.33:993",
            Imap {
                tls_caps: "IMAP4rev1 AUTH=XOAUTH2".into(),
                ..Imap::default()
            }
            .implicit(tls_for(&["127.0.2.33"])),
        );
        let d = &shared().dovecot;
        // (user, servers): dovecot with its own user (a login that works),
        // every other case with a user the fakes do not know.
        let cases: &[(&str, &[&str])] = &[
            (
                d.user,
                &[
                    "--incoming",
                    "imaps://127.0.2.10:993",
                    "--outgoing",
                    "smtp://127.0.2.10:587",
                ],
            ),
            (
                d.user,
                &[
                    "--incoming",
                    "pop3://127.0.2.10:110",
                    "--outgoing",
                    "smtps://127.0.2.10:465",
                ],
            ),
            (user, &["--incoming", "imap://127.0.2.10:143"]),
            (
                user,
                &[
                    "--incoming",
                    "imaps://127.0.2.30:993",
                    "--outgoing",
                    "smtps://127.0.2.30:465",
                ],
            ),
            (user, &["--incoming", "imap://127.0.2.31:143"]),
            (user, &["--incoming", "pop3://127.0.2.32:110"]),
            (user, &["--incoming", "pop3://127.0.2.32:110?security=none"]),
            (user, &["--incoming", "imaps://127.0.2.33:993"]),
            (user, &["--incoming", "imaps://127.0.2.10:143"]),
            (user, &["--incoming", "imaps://127.0.2.11:993"]),
        ];
        for (who, servers) in cases {
            for mode in [&["-v", "--json"][..], &["-v"][..]] {
                for flag in ["--password-stdin", "--oauth-token-stdin"] {
                    let args = [&[who, flag], mode, servers].concat();
                    let out = check_human(&args, Some(secret));
                    for text in [&out.stdout, &out.stderr] {
                        let found = leaks(secret, who, text);
                        assert!(found.is_empty(), "{args:?} leaked {found:?}:\n{text}");
                    }
                    assert!(out.code == 0 || out.code == 1, "{args:?}: {}", out.stderr);
                }
            }
        }
        // The echoing server really did receive (and echo) it: the test would
        // see a leak if redaction failed.
        let (_, v) = check(
            &[
                user,
                "--incoming",
                "imaps://127.0.2.30:993",
                "--password-stdin",
            ],
            Some(secret),
        );
        let reply = server(&v, "incoming")["login_reply"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(reply.contains("[secret hidden]"), "{reply}");
    }
}

// --- Exit status and usage -----------------------------------------------

lab_test! {
    fn exit_status_is_0_1_2() {
        let d = &shared().dovecot;
        let (ok, _) = check(&[d.user, "--incoming", "imaps://127.0.2.10:993"], None);
        assert_eq!(ok.code, 0, "{}", ok.stdout);
        let (bad, _) = check(&[d.user, "--incoming", "imaps://127.0.2.10:143"], None);
        assert_eq!(bad.code, 1);
        let usage = mailsetup(&["check", "a@lab.test", "--incoming", "ftp://x.test"], None);
        assert_eq!(usage.code, 2);
    }
}

#[test]
fn usage_errors_exit_2_with_one_clear_line() {
    for (args, stdin, want) in [
        // A domain is audited; an audit asks the network, so --offline
        // and account flags are usage errors.
        (
            &["check", "example.com", "--offline"][..],
            None,
            "drop --offline",
        ),
        (
            &["check", "example.com", "--incoming", "imaps://h.test"][..],
            None,
            "give an address (someone@example.com)",
        ),
        (&["check", "not an address"][..], None, "has no @"),
        (
            &["check", "a@b.test", "--incoming", "smtp://h.test"][..],
            None,
            "--incoming takes an IMAP or POP3 server",
        ),
        (
            &["check", "a@b.test", "--outgoing", "imaps://h.test"][..],
            None,
            "--outgoing takes an SMTP server",
        ),
        (
            &["check", "a@b.test", "--incoming", "imaps://h.test:0"][..],
            None,
            "not a port",
        ),
        (
            &[
                "check",
                "a@b.test",
                "--incoming",
                "imaps://h.test",
                "--password-stdin",
            ][..],
            Some(""),
            "standard input was empty",
        ),
    ] {
        let out = mailsetup(args, stdin);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{args:?}");
        assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(want), "{args:?}: {}", out.stderr);
    }
}

#[test]
fn msn_without_a_secret_gets_a_clear_verdict_from_the_table() {
    let out = mailsetup(&["check", "--offline", "someone@msn.com"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let outlook = mailsetup::provider::ProviderTable::builtin()
        .by_domain("msn.com")
        .unwrap();
    let verdict: String = out
        .stdout
        .lines()
        .skip(2)
        .take_while(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        verdict.starts_with(&format!(
            "{} does not accept passwords from mail apps",
            outlook.name
        )),
        "{verdict}"
    );
    assert!(
        verdict.contains(&format!(
            "add the account as {} on the iPhone",
            outlook.ios.unwrap().label()
        )),
        "{verdict}"
    );
    let json = mailsetup(&["check", "--offline", "--json", "someone@msn.com"], None).json();
    assert_eq!(json["email"], "someone@msn.com");
    assert_eq!(
        json["servers"][0]["url"],
        outlook.incoming[0].url.to_string()
    );
    assert_eq!(json["servers"][0]["probed"], false);
    let f = finding(&json, "oauth-required");
    assert_eq!(f["severity"], "warning");
    assert!(f["server"].is_null());
    for key in ["severity", "code", "server", "message", "fix"] {
        assert!(f.get(key).is_some(), "{key}");
    }
    for key in [
        "role",
        "url",
        "reachable",
        "tls",
        "capabilities",
        "auth_mechanisms",
        "login",
        "ms",
    ] {
        assert!(json["servers"][0].get(key).is_some(), "{key}");
    }
}

#[test]
fn a_password_for_an_oauth_only_provider_is_an_error_even_offline() {
    let out = mailsetup(
        &[
            "check",
            "--offline",
            "--json",
            "someone@hotmail.com",
            "--password-stdin",
        ],
        Some("pw-123456"),
    );
    assert_eq!(out.code, 1);
    let v = out.json();
    assert_eq!(finding(&v, "oauth-required")["severity"], "error");
    assert!(!out.stdout.contains("pw-123456"));
}

// --- The library API for `lookup --verify` ---------------------------------

lab_test! {
    #[tokio::test(flavor = "multi_thread")]
    async fn verify_settings_trusts_only_certificates_that_match() {
        use mailsetup::probe::{LoginStatus, ProbeOptions, verify_settings};
        use mailsetup::settings::{AuthMethod, Server, Settings, Source, Trust};
        let s = shared();
        let _fake = Fake::start(
            "127.0.2.29:993",
            Imap::default().implicit(tls_for(&["other.test"])),
        );
        let opts = ProbeOptions::new(Duration::from_secs(3), None, Some(&s.ca.ca_file())).unwrap();
        let server = |url: &str| {
            let u: mailsetup::settings::ServerUrl = url.parse().unwrap();
            Server {
                protocol: u.protocol,
                host: u.host,
                port: u.port,
                security: u.security,
                auth: vec![AuthMethod::Password],
                username: s.dovecot.user.into(),
            }
        };
        let settings = |incoming: &str| Settings {
            provider: None,
            incoming: vec![server(incoming)],
            outgoing: vec![server("smtp://127.0.2.10:587")],
            source: Source::Guess,
            trust: Trust::Unverified,
            notes: vec![],
        };
        let mut good = settings("imaps://127.0.2.10:993");
        let reports = verify_settings(&mut good, &opts).await;
        assert_eq!(good.trust, Trust::Verified);
        assert_eq!(reports.len(), 2);
        assert!(
            reports
                .iter()
                .all(|r| r.cert_valid() && r.login == LoginStatus::Skipped)
        );
        let mut bad = settings("imaps://127.0.2.29:993");
        let reports = verify_settings(&mut bad, &opts).await;
        assert_eq!(bad.trust, Trust::Unverified);
        assert_eq!(
            reports[0].error.as_ref().unwrap().code(),
            "cert-name-mismatch"
        );
    }
}

// --- Hostile servers that never stop ---------------------------------------

lab_test! {
    fn endless_or_oversized_replies_are_cut_off() {
        use lab::fake::{Action, Script};
        // Asks for more after every answer, forever.
        let _asking = Fake::start(
            "127.0.2.34:993",
            Script {
                greeting: "* OK hi\r\n".into(),
                implicit_tls: Some(tls_for(&["127.0.2.34"])),
                starttls_tls: None,
                respond: Arc::new(|| {
                    Box::new(|line: &str, _| {
                        if line.ends_with("CAPABILITY") {
                            let tag = line.split(' ').next().unwrap_or("*");
                            Action::Reply(format!(
                                "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n{tag} OK\r\n"
                            ))
                        } else {
                            Action::Reply("+ more\r\n".into())
                        }
                    })
                }),
            },
        );
        // A greeting line of 100 kB.
        let huge: &'static str =
            Box::leak(format!("+OK {}\r\n", "x".repeat(100_000)).into_boxed_str());
        let _huge = Fake::start(
            "127.0.2.34:110",
            Script {
                greeting: huge.into(),
                implicit_tls: None,
                starttls_tls: None,
                respond: Arc::new(|| Box::new(|_: &str, _| Action::Nothing)),
            },
        );
        let started = Instant::now();
        let (out, v) = check_password(&["--incoming", "imaps://127.0.2.34:993"], FAKE_SECRET);
        assert_eq!(out.code, 1);
        let f = finding(&v, "server-error");
        assert!(
            f["message"].as_str().unwrap().contains("longer than"),
            "{f:#}"
        );
        let (out, v) = check_servers(&["--incoming", "pop3://127.0.2.34:110"]);
        assert_eq!(out.code, 1);
        let f = finding(&v, "server-error");
        assert!(f["message"].as_str().unwrap().contains("8192"), "{f:#}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }
}

lab_test! {
    fn a_wildcard_certificate_covers_one_label_only() {
        // RFC 6125 §6.4.3 / RFC 7817: *.wild.test matches imap.wild.test, not
        // x.imap.wild.test, and the name checked is the one in the settings.
        let _dns = Dns::start(
            "127.0.2.56",
            &[
                Record::a("imap.wild.test", "127.0.2.35"),
                Record::a("x.imap.wild.test", "127.0.2.35"),
            ],
        );
        let _fake = Fake::start(
            "127.0.2.35:993",
            Imap::default().implicit(tls_for(&["*.wild.test"])),
        );
        let dns = ["--dns", "127.0.2.56"];
        let (out, v) = check(
            &[
                &dns[..],
                &["a@lab.test", "--incoming", "imaps://imap.wild.test"],
            ]
            .concat(),
            None,
        );
        assert_eq!(out.code, 0, "{}", out.stdout);
        assert_eq!(server(&v, "incoming")["tls"]["cert_valid"], true);
        let (out, v) = check(
            &[
                &dns[..],
                &["a@lab.test", "--incoming", "imaps://x.imap.wild.test"],
            ]
            .concat(),
            None,
        );
        assert_eq!(out.code, 1);
        let f = finding(&v, "cert-name-mismatch");
        assert!(
            f["message"].as_str().unwrap().contains("*.wild.test"),
            "{f:#}"
        );
    }
}

// --- Only an address: what discovery rejected, missing sides ------------

/// The text a person reads in one finding or the verdict, lower case.
fn words(v: &Value) -> String {
    let mut all = vec![v["verdict"].as_str().unwrap_or("").to_string()];
    for f in v["findings"].as_array().unwrap() {
        all.push(f["message"].as_str().unwrap().to_string());
        all.push(f["fix"].as_str().unwrap().to_string());
    }
    all.join("\n").to_lowercase()
}

lab_test! {
    fn only_an_address_with_an_expired_certificate_reports_it_and_exits_1() {
        let expired = |names: &[&str]| {
            shared()
                .ca
                .issue_with(names, |p| {
                    p.not_before = rcgen::date_time_ymd(2020, 1, 1);
                    p.not_after = rcgen::date_time_ymd(2021, 1, 1);
                })
                .server_config()
        };
        let _dns = Dns::start(
            "127.0.3.53",
            &[Record::a("mail.expired.test", "127.0.3.10")],
        );
        let _imap = Fake::start(
            "127.0.3.10:993",
            Imap::default().implicit(expired(&["mail.expired.test"])),
        );
        let _smtp = Fake::start(
            "127.0.3.10:465",
            Smtp::default().implicit(expired(&["mail.expired.test"])),
        );
        let (out, v) = check(&["bob@expired.test", "--dns", "127.0.3.53"], None);
        assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
        // The certificate problem of each side, then the side itself; the
        // ports where nothing listens are not worth a finding beside it.
        assert_eq!(
            codes(&v),
            ["cert-expired", "no-incoming", "cert-expired", "no-outgoing"],
            "{v:#}"
        );
        let f = &v["findings"][0];
        assert_eq!(f["server"], "imaps://mail.expired.test:993");
        assert!(
            f["message"].as_str().unwrap().contains("2021-01-01"),
            "{f:#}"
        );
        assert!(f["fix"].as_str().unwrap().contains("renew"), "{f:#}");
        assert_eq!(v["findings"][2]["server"], "smtps://mail.expired.test:465");
        let text = words(&v);
        assert!(!text.contains("spelling"), "{text}");
        assert!(text.contains("neither receiving nor sending"), "{text}");
        // The discovery trail says the same, with codes.
        assert!(
            v["tried"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["url"] == "imaps://mail.expired.test:993" && t["code"] == "cert-expired"),
            "{v:#}"
        );
        // For people: the finding, not "no settings found".
        let human = check_human(&["--dns", "127.0.3.53", "bob@expired.test"], None);
        assert_eq!(human.code, 1);
        assert!(
            human
                .stdout
                .contains("cert-expired (imaps://mail.expired.test:993)"),
            "{}",
            human.stdout
        );
        assert!(
            !human.stderr.contains("no settings found"),
            "{}",
            human.stderr
        );
    }
}

lab_test! {
    fn only_an_address_whose_ports_are_all_blocked_names_the_firewall() {
        let _dns = Dns::start(
            "127.0.3.54",
            &[Record::a("mail.blocked.test", "127.0.3.20")],
        );
        let _holes: Vec<Blackhole> = [993, 143, 995, 110, 465, 587]
            .iter()
            .map(|p| Blackhole::start(&format!("127.0.3.20:{p}")))
            .collect();
        let (out, v) = check(&["bob@blocked.test", "--dns", "127.0.3.54"], None);
        assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
        let c = codes(&v);
        assert!(c.contains(&"no-incoming".to_string()), "{c:?}");
        assert!(c.contains(&"no-outgoing".to_string()), "{c:?}");
        let blocked: Vec<&Value> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["code"] == "tcp-unreachable")
            .collect();
        let servers: Vec<&str> = blocked
            .iter()
            .map(|f| f["server"].as_str().unwrap())
            .collect();
        for want in [
            "imaps://mail.blocked.test:993",
            "smtps://mail.blocked.test:465",
            "smtp://mail.blocked.test:587",
        ] {
            assert!(servers.contains(&want), "{want} not in {servers:?}");
        }
        assert!(
            blocked
                .iter()
                .all(|f| f["message"].as_str().unwrap().contains("timed out"))
        );
        let side = finding(&v, "no-incoming");
        assert!(
            side["message"]
                .as_str()
                .unwrap()
                .contains("mail.blocked.test"),
            "{side:#}"
        );
        assert!(
            side["fix"].as_str().unwrap().contains("firewall"),
            "{side:#}"
        );
        assert!(!words(&v).contains("spelling"));
    }
}

lab_test! {
    fn only_an_address_with_smtp_lacking_starttls_says_sending_cannot_work() {
        let _dns = Dns::start(
            "127.0.3.55",
            &[Record::a("mail.nostarttls.test", "127.0.3.30")],
        );
        let _imap = Fake::start(
            "127.0.3.30:993",
            Imap::default().implicit(tls_for(&["mail.nostarttls.test"])),
        );
        let smtp = Fake::start(
            "127.0.3.30:587",
            Smtp {
                plain_ehlo: vec!["PIPELINING".into(), "AUTH PLAIN LOGIN".into()],
                ..Smtp::default()
            }
            .starttls(tls_for(&["mail.nostarttls.test"])),
        );
        let (out, v) = check(&["erin@nostarttls.test", "--dns", "127.0.3.55"], None);
        assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
        assert_eq!(
            server(&v, "incoming")["url"],
            "imaps://mail.nostarttls.test:993"
        );
        assert_eq!(codes(&v), ["starttls-missing", "no-outgoing"], "{v:#}");
        assert_eq!(
            v["findings"][0]["server"],
            "smtp://mail.nostarttls.test:587"
        );
        let verdict = v["verdict"].as_str().unwrap();
        assert!(
            verdict.starts_with("Your incoming mail server works; sending mail will fail"),
            "{verdict}"
        );
        // Guessing never logs in, and nothing was said in clear but EHLO.
        assert!(!smtp.received_in_clear().contains("AUTH"));
    }
}

lab_test! {
    fn a_failing_resolver_is_dns_failure_and_never_blames_a_builtin_name() {
        shared();
        for (ip, rcode, what) in [
            ("127.0.3.41", Some(5), "REFUSED"),
            ("127.0.3.42", Some(2), "SERVFAIL"),
            ("127.0.3.43", None, "silence"),
        ] {
            let _dns = ScriptedDns::rcode(ip, rcode);
            let started = Instant::now();
            let (out, v) = check(&["someone@msn.com", "--dns", ip], None);
            assert_eq!(out.code, 1, "{what}: {}", out.stdout);
            assert!(started.elapsed() < Duration::from_secs(8), "{what}");
            let c = codes(&v);
            assert!(c.contains(&"dns-failure".to_string()), "{what}: {c:?}");
            assert!(!c.contains(&"dns-not-found".to_string()), "{what}: {c:?}");
            let f = finding(&v, "dns-failure");
            assert!(
                f["message"]
                    .as_str()
                    .unwrap()
                    .contains("outlook.office365.com"),
                "{what}: {f:#}"
            );
            let text = words(&v);
            for blame in ["typo", "spelling", "does not exist"] {
                assert!(!text.contains(blame), "{what}: '{blame}' in {text}");
            }
            assert!(text.contains("dns did not answer"), "{what}: {text}");
        }
        // A DNS server that says the provider's name does not exist: still no
        // typo, since the name comes from the provider's own settings.
        let _nx = Dns::start(
            "127.0.3.44",
            &[
                Record::Raw("--local=/office365.com/".into()),
                Record::Raw("--local=/outlook.com/".into()),
            ],
        );
        let (out, v) = check(&["someone@msn.com", "--dns", "127.0.3.44"], None);
        assert_eq!(out.code, 1, "{}", out.stdout);
        let f = finding(&v, "dns-not-found");
        let fix = f["fix"].as_str().unwrap();
        assert!(fix.contains("publishes"), "{fix}");
        let text = words(&v);
        assert!(
            !text.contains("typo") && !text.contains("spelling"),
            "{text}"
        );
    }
}

/// A domain of the built-in table whose entry has no server at all (such
/// entries exist where the only settings known send passwords in clear).
fn builtin_without_servers() -> Option<(String, String)> {
    mailsetup::provider::ProviderTable::builtin()
        .providers()
        .iter()
        .find(|p| p.incoming.is_empty() && p.outgoing.is_empty())
        .and_then(|p| Some((p.domains.first()?.to_string(), p.name.clone())))
}

lab_test! {
    fn a_builtin_entry_without_secure_servers_exits_1_with_its_reason() {
        shared();
        let Some((domain, name)) = builtin_without_servers() else {
            // The table's own test then covers the case (diagnose::missing).
            eprintln!("no built-in entry without servers");
            return;
        };
        let email = format!("a@{domain}");
        let (out, v) = check(&[&email], None);
        assert_eq!(out.code, 1, "{}", out.stdout);
        assert_eq!(codes(&v), ["no-incoming", "no-outgoing"]);
        let f = finding(&v, "no-incoming");
        assert!(f["message"].as_str().unwrap().contains(&name), "{f:#}");
        assert!(
            !v["verdict"]
                .as_str()
                .unwrap()
                .contains("No server was checked")
        );
    }
}

#[test]
fn offline_without_a_builtin_entry_is_a_report_with_exit_1() {
    let out = mailsetup(&["check", "--offline", "--json", "a@unknown.test"], None);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let v = out.json();
    assert_eq!(codes(&v), ["no-incoming", "no-outgoing"]);
    let f = finding(&v, "no-incoming");
    assert!(f["fix"].as_str().unwrap().contains("--offline"), "{f:#}");
    assert!(f["fix"].as_str().unwrap().contains("--incoming"), "{f:#}");
    // The same without --json, for people.
    let out = mailsetup(&["check", "--offline", "a@unknown.test"], None);
    assert_eq!(out.code, 1);
    assert!(out.stdout.contains("no-incoming"), "{}", out.stdout);
    if let Some((domain, _)) = builtin_without_servers() {
        let out = mailsetup(
            &["check", "--offline", "--json", &format!("a@{domain}")],
            None,
        );
        assert_eq!(out.code, 1, "{}", out.stdout);
        assert_eq!(codes(&out.json()), ["no-incoming", "no-outgoing"]);
    }
}

lab_test! {
    fn a_certificate_ending_in_10_days_is_a_warning_with_its_date() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let end = mailsetup::probe::rfc3339(now + 10 * 86_400);
        let (y, m, d) = (
            end[..4].parse().unwrap(),
            end[5..7].parse().unwrap(),
            end[8..10].parse().unwrap(),
        );
        let leaf = shared().ca.issue_with(&["127.0.3.60"], |p| {
            p.not_after = rcgen::date_time_ymd(y, m, d);
        });
        let _fake = Fake::start(
            "127.0.3.60:993",
            Imap::default().implicit(leaf.server_config()),
        );
        let (out, v) = check_servers(&["--incoming", "imaps://127.0.3.60:993"]);
        assert_eq!(out.code, 0, "{}", out.stdout);
        let f = finding(&v, "cert-expiring");
        assert_eq!(f["severity"], "warning");
        assert!(f["message"].as_str().unwrap().contains(&end[..10]), "{f:#}");
        assert_eq!(server(&v, "incoming")["tls"]["cert_valid"], true);
        // A year ahead is nothing to warn about.
        let (_, v) = check_servers(&["--incoming", "imaps://127.0.2.10:993"]);
        assert!(!codes(&v).contains(&"cert-expiring".to_string()));
    }
}

lab_test! {
    fn a_blocked_submission_port_tries_the_other_and_the_fix_names_it() {
        let _hole = Blackhole::start("127.0.3.70:587");
        let _smtps = Fake::start(
            "127.0.3.70:465",
            Smtp::default().implicit(tls_for(&["127.0.3.70"])),
        );
        let (out, v) = check_servers(&["--outgoing", "smtp://127.0.3.70:587"]);
        assert_eq!(out.code, 1, "{}", out.stdout);
        let f = finding(&v, "tcp-unreachable");
        assert_eq!(f["server"], "smtp://127.0.3.70:587");
        let fix = f["fix"].as_str().unwrap();
        assert!(fix.contains("smtps://127.0.3.70:465"), "{fix}");
        assert!(fix.contains("works"), "{fix}");
        let alt = v["servers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["instead_of"] == "smtp://127.0.3.70:587")
            .unwrap_or_else(|| panic!("no stand-in server in {v:#}"));
        assert_eq!(alt["url"], "smtps://127.0.3.70:465");
        assert_eq!(alt["reachable"], true);
        assert!(v["verdict"].as_str().unwrap().contains("port 465"), "{v:#}");
        let human = check_human(
            &[
                "--offline",
                "a@lab.test",
                "--outgoing",
                "smtp://127.0.3.70:587",
            ],
            None,
        );
        // --offline contacts nothing, so nothing stands in.
        assert!(
            !human.stdout.contains("tried instead of"),
            "{}",
            human.stdout
        );
        let human = check_human(&["a@lab.test", "--outgoing", "smtp://127.0.3.70:587"], None);
        assert!(
            human.stdout.contains(
                "Outgoing (SMTP) smtps://127.0.3.70:465 (tried instead of smtp://127.0.3.70:587)"
            ),
            "{}",
            human.stdout
        );
        // Both blocked: the fix says the other was tried too.
        let _hole2 = Blackhole::start("127.0.3.71:587");
        let _hole3 = Blackhole::start("127.0.3.71:465");
        let (_, v) = check_servers(&["--outgoing", "smtp://127.0.3.71:587"]);
        let fix = finding(&v, "tcp-unreachable")["fix"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            fix.contains("smtps://127.0.3.71:465") && fix.contains("was tried as well"),
            "{fix}"
        );
    }
}
