//! Network discovery end to end: the real `mailsetup` binary against real
//! DNS (dnsmasq), HTTPS and mail-greeting servers in the test lab, pointed at
//! them with `--dns`, `--ca-file` and `--ispdb-url`.
//!
//! Each test takes its own block of ten addresses in 127.0.1.0/24 (block
//! `b` is 127.0.1.(10b) … 127.0.1.(10b+9); the DNS server is the first) and
//! its own made-up `.test` domain, so the tests run in parallel.
//!
//! `MAILSETUP_TEST_SHOW=1` prints every run's output (with `--nocapture`).

mod lab;

use std::process::Command;
use std::time::Duration;

use lab::TestCa;
use lab::autoconfig::Autoconfig;
use lab::dns::{Dns, Record, ScriptedDns};
use lab::greeter::Greeter;
use lab::https::{Reply, Route, Web};
use lab::scenario::{ISPDB, Run, json_run};

/// The `n`th address of block `b`.
fn ip(b: u8, n: u8) -> String {
    lab::ip(1, b * 10 + n)
}

/// One test's lab: a CA and a DNS server answering `records` (plus
/// `ispdb.lab.test` at the block's address 9).
struct Lab {
    ca: TestCa,
    dns: Dns,
}

impl Lab {
    fn new(b: u8, mut records: Vec<Record>) -> Lab {
        lab::require();
        records.push(Record::a("ispdb.lab.test", &ip(b, 9)));
        Lab {
            ca: TestCa::new(),
            dns: Dns::start(&ip(b, 0), &records),
        }
    }

    fn lookup(&self, email: &str, extra: &[&str]) -> Run {
        lookup_with_dns(&self.dns.addr.to_string(), &self.ca, email, extra)
    }
}

/// `lookup --json EMAIL` asking the DNS server `dns` and trusting `ca`.
fn lookup_with_dns(dns: &str, ca: &TestCa, email: &str, extra: &[&str]) -> Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mailsetup"));
    c.args(["lookup", "--json", "--dns", dns, "--ispdb-url", ISPDB])
        .args(if extra.contains(&"--timeout") {
            &[][..]
        } else {
            &["--timeout", "6"][..]
        })
        .arg("--ca-file")
        .arg(ca.ca_file())
        .args(extra)
        .arg(email)
        .env("RUST_BACKTRACE", "1");
    json_run(c)
}

/// An autoconfig file: IMAP over TLS at `imap` (the local part as user
/// name), submission at `smtp`.
fn config(id: &str, imap: &str, smtp: &str) -> String {
    Autoconfig::new(id)
        .display_name(&format!("{id} mail"))
        .imap(imap, 993, "SSL")
        .incoming_username("%EMAILLOCALPART%")
        .smtp(smtp, 465, "SSL")
        .xml()
}

/// A POX Autodiscover answer with IMAP at `imap` and SMTP at `smtp`.
fn pox(imap: &str, smtp: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
 <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">
  <Account><AccountType>email</AccountType><Action>settings</Action>
   <Protocol><Type>IMAP</Type><Server>{imap}</Server><Port>993</Port><SSL>on</SSL><SPA>off</SPA></Protocol>
   <Protocol><Type>SMTP</Type><Server>{smtp}</Server><Port>587</Port><SSL>on</SSL><Encryption>TLS</Encryption></Protocol>
  </Account>
 </Response>
</Autodiscover>"#
    )
}

fn pox_redirect(action: &str, element: &str, to: &str) -> String {
    format!(
        r#"<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
 <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">
  <Account><Action>{action}</Action><{element}>{to}</{element}></Account></Response></Autodiscover>"#
    )
}

const CONFIG_PATH: &str = "/mail/config-v1.1.xml";
const WELL_KNOWN: &str = "/.well-known/autoconfig/mail/config-v1.1.xml";
const AUTODISCOVER: &str = "/autodiscover/autodiscover.xml";

lab_test! {
    fn autoconfig_answers_from_the_domains_own_https_file_and_slow_guesses_are_cancelled() {
        let b = 1;
        let lab = Lab::new(
            b,
            vec![
                Record::a("autoconfig.ac.test", &ip(b, 1)),
                Record::a("imap.ac.test", &ip(b, 2)),
            ],
        );
        let web = lab.ca.web(
            &ip(b, 1),
            &["autoconfig.ac.test"],
            vec![Route::get(
                "autoconfig.ac.test",
                CONFIG_PATH,
                Reply::xml(config("ac.test", "imap.%EMAILDOMAIN%", "smtp.ac.test")),
            )],
        );
        // A guessable server that answers only after 4 s: it must not be waited for.
        let _slow = lab.ca.greeter(
            &ip(b, 2),
            993,
            &["imap.ac.test"],
            "* OK",
            Duration::from_secs(4),
        );

        let r = lab.lookup("Jane.Doe+news@ac.test", &[]);
        r.found();
        assert_eq!(r.json["source"], "autoconfig");
        assert_eq!(r.json["trust"], "verified");
        assert_eq!(r.urls("incoming"), ["imaps://imap.ac.test:993"]);
        assert_eq!(r.json["incoming"][0]["username"], "Jane.Doe");
        assert_eq!(r.json["outgoing"][0]["username"], "Jane.Doe@ac.test");
        assert_eq!(r.json["provider"]["id"], "ac.test");
        assert_eq!(r.entry("https://autoconfig.ac.test")["result"], "found");
        assert_eq!(r.entry("imaps://imap.ac.test:993")["result"], "cancelled");
        assert!(r.elapsed < Duration::from_secs(3), "{:?}", r.elapsed);
        let seen = web.requests();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(
            seen[0]
                .target
                .contains("emailaddress=Jane.Doe%2Bnews%40ac.test"),
            "{}",
            seen[0].target
        );
    }
}

lab_test! {
    fn the_well_known_autoconfig_url_at_the_domain_itself_answers_too() {
        let b = 2;
        let lab = Lab::new(b, vec![Record::a("wk.test", &ip(b, 1))]);
        let _web = lab.ca.web(
            &ip(b, 1),
            &["wk.test"],
            vec![Route::get(
                "wk.test",
                WELL_KNOWN,
                Reply::xml(config("wk.test", "imap.wk.test", "smtp.wk.test")),
            )],
        );
        let r = lab.lookup("a@wk.test", &["-v"]);
        r.found();
        // -v narrates on stderr; stdout stays one JSON document.
        assert!(
            r.stderr.contains(
                "autoconfig: asking https://wk.test/.well-known/autoconfig/mail/config-v1.1.xml"
            ),
            "{}",
            r.stderr
        );
        assert_eq!(r.json["source"], "autoconfig");
        assert_eq!(r.json["trust"], "verified");
        assert_eq!(r.entry("https://wk.test/.well-known")["result"], "found");
    }
}

lab_test! {
    fn the_ispdb_answers_for_a_domain_without_a_config_of_its_own() {
        let b = 3;
        let lab = Lab::new(b, vec![]);
        let web = lab.ca.web(
            &ip(b, 9),
            &["ispdb.lab.test"],
            vec![Route::get(
                "ispdb.lab.test",
                "/v1.1/isp.test",
                Reply::xml(config("isp.test", "mail.isp.test", "mail.isp.test")),
            )],
        );
        let r = lab.lookup("a@isp.test", &[]);
        r.found();
        assert_eq!(r.json["source"], "ispdb");
        assert_eq!(r.json["trust"], "verified");
        assert_eq!(r.urls("incoming"), ["imaps://mail.isp.test:993"]);
        assert_eq!(
            r.entry("https://ispdb.lab.test/v1.1/isp.test")["result"],
            "found"
        );
        assert!(web.requests().iter().all(|s| s.method == "GET"));
    }
}

lab_test! {
    fn an_mx_host_at_microsoft_365_gives_microsofts_settings() {
        let b = 4;
        let lab = Lab::new(
            b,
            vec![Record::mx(
                "contoso.test",
                "contoso-test.mail.protection.outlook.com",
                0,
            )],
        );
        let r = lab.lookup("alex@contoso.test", &[]);
        r.found();
        assert_eq!(r.json["source"], "mx");
        assert_eq!(r.json["provider"]["id"], "office365.com");
        assert_eq!(r.json["incoming"][0]["host"], "outlook.office365.com");
        assert_eq!(r.json["incoming"][0]["username"], "alex@contoso.test");
        // DNS without DNSSEC pointing outside the domain (security rule 5).
        assert_eq!(r.json["trust"], "unverified");
        let notes = r.json["notes"].as_array().unwrap();
        assert!(notes.iter().any(|n| n["code"] == "mx-match"), "{notes:?}");
        assert_eq!(r.entry("MX contoso.test")["result"], "found");
    }
}

lab_test! {
    fn the_ispdb_is_asked_for_the_mx_hosts_registrable_domain_never_a_public_suffix() {
        let b = 5;
        let lab = Lab::new(
            b,
            vec![
                // Preferred, but a public suffix: nobody's domain.
                Record::mx("custom.test", "github.io", 5),
                Record::mx("custom.test", "mx1.mail.hoster.test", 10),
            ],
        );
        let web = lab.ca.web(
            &ip(b, 9),
            &["ispdb.lab.test"],
            vec![Route::get(
                "ispdb.lab.test",
                "/v1.1/hoster.test",
                Reply::xml(config(
                    "hoster.test",
                    "imap.hoster.test",
                    "smtp.hoster.test",
                )),
            )],
        );
        let r = lab.lookup("a@custom.test", &[]);
        r.found();
        assert_eq!(r.json["source"], "mx");
        assert_eq!(r.urls("incoming"), ["imaps://imap.hoster.test:993"]);
        assert_eq!(r.json["trust"], "unverified");
        let asked: Vec<String> = web.requests().into_iter().map(|s| s.target).collect();
        assert!(
            asked.contains(&"/v1.1/custom.test".to_string()),
            "{asked:?}"
        );
        assert!(
            asked.contains(&"/v1.1/hoster.test".to_string()),
            "{asked:?}"
        );
        assert!(!asked.iter().any(|a| a.contains("github.io")), "{asked:?}");
    }
}

lab_test! {
    fn autodiscover_answers_without_credentials_and_never_at_a_parent_domain() {
        let b = 6;
        let own = ip(b, 1);
        let parent = ip(b, 2);
        let lab = Lab::new(
            b,
            vec![
                Record::a("autodiscover.mail.adisc.test", &own),
                Record::a("adisc.test", &parent),
                Record::a("autodiscover.adisc.test", &parent),
                Record::a("autodiscover.test", &parent),
                // SRV pointing at the parent: must be refused, not followed.
                Record::srv(
                    "_autodiscover._tcp.mail.adisc.test",
                    "autodiscover.adisc.test",
                    443,
                    0,
                    0,
                ),
            ],
        );
        let web = lab.ca.web_delayed(
            &own,
            &["autodiscover.mail.adisc.test"],
            vec![Route::post(
                "autodiscover.mail.adisc.test",
                AUTODISCOVER,
                Reply::xml(pox("imap.mail.adisc.test", "smtp.mail.adisc.test")),
            )],
            Duration::from_millis(300),
        );
        let trap = lab.ca.web(
            &parent,
            &["adisc.test", "autodiscover.adisc.test", "autodiscover.test"],
            vec![Route::any(
                "*",
                AUTODISCOVER,
                Reply::xml(pox("evil.test", "evil.test")),
            )],
        );
        let r = lab.lookup("jane@mail.adisc.test", &[]);
        r.found();
        assert_eq!(r.json["source"], "autodiscover");
        assert_eq!(r.json["trust"], "verified");
        assert_eq!(r.urls("incoming"), ["imaps://imap.mail.adisc.test:993"]);
        assert_eq!(r.urls("outgoing"), ["smtp://smtp.mail.adisc.test:587"]);
        assert_eq!(
            r.entry("SRV _autodiscover._tcp.mail.adisc.test")["result"],
            "refused-insecure"
        );
        assert!(trap.requests().is_empty(), "{:?}", trap.requests());
        let seen = web.requests();
        assert!(!seen.is_empty());
        for s in &seen {
            assert_eq!(s.method, "POST");
            assert_eq!(s.authorization, None);
            assert!(
                !s.header_names
                    .iter()
                    .any(|h| h.contains("auth") || h == "cookie"),
                "{:?}",
                s.header_names
            );
            assert!(
                s.body
                    .contains("<EMailAddress>jane@mail.adisc.test</EMailAddress>"),
                "{}",
                s.body
            );
        }
    }
}

lab_test! {
    fn autodiscover_redirects_that_leave_the_domain_are_refused() {
        let b = 7;
        let lab = Lab::new(
            b,
            vec![
                Record::a("rd.test", &ip(b, 1)),
                Record::a("autodiscover.rd.test", &ip(b, 1)),
                Record::a("autodiscover.evil.test", &ip(b, 2)),
            ],
        );
        let _web = lab.ca.web(
            &ip(b, 1),
            &["rd.test", "autodiscover.rd.test"],
            vec![
                Route::post(
                    "rd.test",
                    AUTODISCOVER,
                    Reply::xml(pox_redirect(
                        "redirectAddr",
                        "RedirectAddr",
                        "jane@evil.test",
                    )),
                ),
                Route::post(
                    "autodiscover.rd.test",
                    AUTODISCOVER,
                    Reply::xml(pox_redirect(
                        "redirectUrl",
                        "RedirectUrl",
                        "https://autodiscover.evil.test/autodiscover/autodiscover.xml",
                    )),
                ),
            ],
        );
        let evil = lab.ca.web(
            &ip(b, 2),
            &["autodiscover.evil.test"],
            vec![Route::any(
                "*",
                AUTODISCOVER,
                Reply::xml(pox("evil.test", "evil.test")),
            )],
        );
        let r = lab.lookup("jane@rd.test", &[]);
        assert_eq!(r.code, Some(1), "{}", r.json);
        let addr = r.entry("POST https://rd.test/");
        assert_eq!(addr["result"], "refused-insecure");
        assert!(addr["detail"].as_str().unwrap().contains("jane@evil.test"));
        assert_eq!(
            r.entry("POST https://autodiscover.rd.test/")["result"],
            "refused-insecure"
        );
        assert!(evil.requests().is_empty());
    }
}

lab_test! {
    fn autodiscover_http_redirects_are_followed_with_the_post_but_never_to_autodiscover_tld() {
        let b = 21;
        let lab = Lab::new(
            b,
            vec![
                Record::a("hr.test", &ip(b, 1)),
                Record::a("autodiscover.hr.test", &ip(b, 1)),
                Record::a("mail.hr.test", &ip(b, 1)),
                Record::a("autodiscover.test", &ip(b, 2)),
            ],
        );
        let leaf = lab
            .ca
            .issue(&["hr.test", "autodiscover.hr.test", "mail.hr.test"]);
        // Each answer after 200 ms: the refused redirect (one round trip) is
        // recorded before the followed one (two) answers and ends the lookup.
        let web = Web::start_delayed(
            &ip(b, 1),
            443,
            Some(&leaf),
            vec![
                Route::post(
                    "hr.test",
                    AUTODISCOVER,
                    Reply::Redirect(
                        302,
                        "https://autodiscover.test/autodiscover/autodiscover.xml".into(),
                    ),
                ),
                Route::post(
                    "autodiscover.hr.test",
                    AUTODISCOVER,
                    Reply::Redirect(307, "https://mail.hr.test/ews/ad.xml".into()),
                ),
                Route::post(
                    "mail.hr.test",
                    "/ews/ad.xml",
                    Reply::xml(pox("imap.hr.test", "smtp.hr.test")),
                ),
            ],
            Duration::from_millis(200),
        );
        let trap = lab.ca.web(&ip(b, 2), &["autodiscover.test"], vec![]);
        let r = lab.lookup("jane@hr.test", &[]);
        r.found();
        assert_eq!(r.json["source"], "autodiscover");
        assert_eq!(r.urls("incoming"), ["imaps://imap.hr.test:993"]);
        let refused = r.entry("POST https://hr.test/");
        assert_eq!(refused["result"], "refused-insecure", "{refused}");
        assert!(
            refused["detail"]
                .as_str()
                .unwrap()
                .contains("public suffix"),
            "{refused}"
        );
        assert!(trap.requests().is_empty(), "{:?}", trap.requests());
        let followed: Vec<_> = web
            .requests()
            .into_iter()
            .filter(|s| s.host == "mail.hr.test")
            .collect();
        assert_eq!(followed.len(), 1);
        assert_eq!(followed[0].method, "POST");
        assert!(
            followed[0]
                .body
                .contains("<EMailAddress>jane@hr.test</EMailAddress>")
        );
    }
}

lab_test! {
    fn srv_records_answer_and_targets_outside_the_domain_are_unverified() {
        let b = 8;
        let lab = Lab::new(
            b,
            vec![
                Record::srv(
                    "_imaps._tcp.srv.test",
                    "imap.hoster-elsewhere.test",
                    993,
                    0,
                    1,
                ),
                Record::srv("_submission._tcp.srv.test", "smtp.srv.test", 587, 0, 1),
                Record::srv("_pop3._tcp.srv.test", ".", 0, 0, 0),
            ],
        );
        let r = lab.lookup("a@srv.test", &[]);
        r.found();
        assert_eq!(r.json["source"], "srv");
        assert_eq!(r.json["trust"], "unverified");
        assert_eq!(
            r.urls("incoming"),
            ["imaps://imap.hoster-elsewhere.test:993"]
        );
        assert_eq!(r.urls("outgoing"), ["smtp://smtp.srv.test:587"]);
        let pop = r.entry("SRV _pop3._tcp.srv.test");
        assert_eq!(pop["result"], "not-found");
        assert!(pop["detail"].as_str().unwrap().contains("not offered"));
        assert!(
            r.entry("SRV _imaps._tcp.srv.test")["detail"]
                .as_str()
                .unwrap()
                .contains("not DNSSEC-validated")
        );
    }
}

lab_test! {
    fn srv_targets_inside_the_domain_are_verified_and_priority_decides() {
        let b = 9;
        let lab = Lab::new(
            b,
            vec![
                Record::srv("_imaps._tcp.srv2.test", "backup.srv2.test", 993, 20, 0),
                Record::srv("_imaps._tcp.srv2.test", "imap.srv2.test", 993, 10, 0),
            ],
        );
        let r = lab.lookup("a@srv2.test", &[]);
        r.found();
        assert_eq!(r.json["trust"], "verified");
        assert_eq!(
            r.urls("incoming"),
            ["imaps://imap.srv2.test:993", "imaps://backup.srv2.test:993"]
        );
    }
}

lab_test! {
    fn guessing_finds_servers_by_their_greeting_and_never_logs_in() {
        let b = 10;
        let lab = Lab::new(
            b,
            vec![
                Record::a("imap.guess.test", &ip(b, 1)),
                Record::a("smtp.guess.test", &ip(b, 2)),
                Record::a("mail.guess.test", &ip(b, 3)),
            ],
        );
        let imap = lab.ca.greeter(
            &ip(b, 1),
            993,
            &["imap.guess.test"],
            "* OK IMAP4rev1 ready",
            Duration::ZERO,
        );
        // A submission server that answers but offers no STARTTLS: it must not
        // be recommended, and the next candidate (mail.) wins.
        let plain = Greeter::start(
            &ip(b, 2),
            587,
            None,
            "220 smtp.guess.test ESMTP",
            Duration::ZERO,
        );
        let mail = Greeter::start_starttls(
            &ip(b, 3),
            587,
            &lab.ca.issue(&["mail.guess.test"]),
            "220 mail.guess.test ESMTP",
            Duration::ZERO,
        );
        let r = lab.lookup("a@guess.test", &[]);
        r.found();
        assert_eq!(r.json["source"], "guess");
        assert_eq!(r.urls("incoming"), ["imaps://imap.guess.test:993"]);
        assert_eq!(r.urls("outgoing"), ["smtp://mail.guess.test:587"]);
        assert_eq!(r.json["trust"], "verified");
        assert_eq!(r.entry("imaps://imap.guess.test:993")["result"], "found");
        assert_eq!(r.entry("pop3s://pop.guess.test:995")["result"], "not-found");
        let refused = r.entry("smtp://smtp.guess.test:587");
        assert_eq!(refused["result"], "invalid", "{refused}");
        assert!(
            refused["detail"].as_str().unwrap().contains("STARTTLS"),
            "{refused}"
        );
        assert_eq!(r.entry("smtp://mail.guess.test:587")["result"], "found");
        assert!(imap.connections() >= 1 && plain.connections() >= 1 && mail.connections() >= 1);
        // Capabilities were asked; no login was ever started, not even on the
        // server that offered AUTH in plain text.
        imap.assert_asked_capabilities_but_never_logged_in();
        plain.assert_asked_capabilities_but_never_logged_in();
        mail.assert_asked_capabilities_but_never_logged_in();
        assert!(
            mail.received_text().contains("STARTTLS"),
            "{}",
            mail.received_text()
        );
    }
}

lab_test! {
    fn guessing_with_a_valid_certificate_everywhere_is_verified() {
        let b = 11;
        let lab = Lab::new(
            b,
            vec![
                Record::a("mail.g2.test", &ip(b, 1)),
                Record::a("imap.starttls.test", &ip(b, 2)),
                Record::a("smtp.starttls.test", &ip(b, 2)),
                Record::a("pop3.starttls.test", &ip(b, 3)),
            ],
        );
        let leaf = lab.ca.issue(&["mail.g2.test"]);
        let _imap = Greeter::start(&ip(b, 1), 993, Some(&leaf), "* OK", Duration::ZERO);
        let _smtp = Greeter::start(&ip(b, 1), 465, Some(&leaf), "220 ready", Duration::ZERO);
        let r = lab.lookup("a@g2.test", &[]);
        r.found();
        assert_eq!(r.urls("incoming"), ["imaps://mail.g2.test:993"]);
        assert_eq!(r.urls("outgoing"), ["smtps://mail.g2.test:465"]);
        assert_eq!(r.json["trust"], "verified");

        // STARTTLS only: the certificate is checked after STARTTLS, so the
        // answer is verified too.
        let st = lab.ca.issue(&["imap.starttls.test", "smtp.starttls.test"]);
        let imap = Greeter::start_starttls(&ip(b, 2), 143, &st, "* OK ready", Duration::ZERO);
        let smtp = Greeter::start_starttls(&ip(b, 2), 587, &st, "220 ready", Duration::ZERO);
        // A POP3 server whose certificate names someone else, seen only after
        // STLS: disqualified.
        let pop = Greeter::start_starttls(
            &ip(b, 3),
            110,
            &lab.ca.issue(&["someone-else.test"]),
            "+OK ready",
            Duration::ZERO,
        );
        let r = lab.lookup("a@starttls.test", &[]);
        r.found();
        assert_eq!(r.json["source"], "guess");
        assert_eq!(r.urls("incoming"), ["imap://imap.starttls.test:143"]);
        assert_eq!(r.urls("outgoing"), ["smtp://smtp.starttls.test:587"]);
        assert_eq!(r.json["trust"], "verified", "{}", r.json);
        for url in [
            "imap://imap.starttls.test:143",
            "smtp://smtp.starttls.test:587",
        ] {
            let e = r.entry(url);
            assert_eq!(e["result"], "found", "{e}");
            assert!(
                e["detail"]
                    .as_str()
                    .unwrap()
                    .contains("STARTTLS, certificate valid"),
                "{e}"
            );
        }
        let bad = r.entry("pop3://pop3.starttls.test:110");
        assert_eq!(bad["result"], "invalid", "{bad}");
        assert!(
            bad["detail"]
                .as_str()
                .unwrap()
                .contains("someone-else.test"),
            "{bad}"
        );
        for g in [&imap, &smtp, &pop] {
            g.assert_asked_capabilities_but_never_logged_in();
            let sent = g.received_text();
            assert!(sent.contains("STARTTLS") || sent.contains("STLS"), "{sent}");
        }
    }
}

lab_test! {
    fn guessing_also_tries_the_mx_hosts_domain() {
        let b = 22;
        let lab = Lab::new(
            b,
            vec![
                Record::mx("mxg.test", "mx1.hosting.test", 10),
                Record::a("imap.hosting.test", &ip(b, 1)),
            ],
        );
        let imap = lab.ca.greeter(
            &ip(b, 1),
            993,
            &["imap.hosting.test"],
            "* OK",
            Duration::ZERO,
        );
        let r = lab.lookup("a@mxg.test", &[]);
        r.found();
        assert_eq!(r.json["source"], "guess");
        assert_eq!(r.urls("incoming"), ["imaps://imap.hosting.test:993"]);
        assert_eq!(r.json["trust"], "verified");
        assert_eq!(r.entry("imaps://imap.mxg.test:993")["result"], "not-found");
        imap.assert_asked_capabilities_but_never_logged_in();
        // Only the address's domain and the MX host's domain are probed.
        let guessed: Vec<&str> = r.json["tried"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["source"] == "guess")
            .map(|t| t["url"].as_str().unwrap())
            .collect();
        assert!(
            guessed
                .iter()
                .all(|u| u.contains(".mxg.test:") || u.contains(".hosting.test:")),
            "{guessed:?}"
        );
    }
}

lab_test! {
    fn a_config_over_plain_http_is_unverified_and_does_not_carry_the_address() {
        let b = 12;
        let lab = Lab::new(b, vec![Record::a("autoconfig.plain.test", &ip(b, 1))]);
        let web = Web::start(
            &ip(b, 1),
            80,
            None,
            vec![Route::get(
                "autoconfig.plain.test",
                CONFIG_PATH,
                Reply::xml(config("plain.test", "imap.plain.test", "smtp.plain.test")),
            )],
        );
        let r = lab.lookup("a@plain.test", &[]);
        r.found();
        assert_eq!(r.json["source"], "autoconfig");
        assert_eq!(r.json["trust"], "unverified");
        let https = r.entry("https://autoconfig.plain.test");
        assert_eq!(https["result"], "error");
        let http = r.entry("http://autoconfig.plain.test");
        assert_eq!(http["result"], "found");
        assert!(http["detail"].as_str().unwrap().contains("plain HTTP"));
        assert!(
            web.requests()
                .iter()
                .all(|s| !s.target.contains("emailaddress"))
        );
    }
}

lab_test! {
    fn an_https_to_http_redirect_is_refused() {
        let b = 13;
        let lab = Lab::new(b, vec![Record::a("autoconfig.down.test", &ip(b, 1))]);
        let https = lab.ca.web(
            &ip(b, 1),
            &["autoconfig.down.test"],
            vec![Route::get(
                "autoconfig.down.test",
                CONFIG_PATH,
                Reply::Redirect(301, "http://autoconfig.down.test/hijacked.xml".into()),
            )],
        );
        let http = Web::start(
            &ip(b, 1),
            80,
            None,
            vec![Route::get(
                "autoconfig.down.test",
                "/hijacked.xml",
                Reply::xml(config("down.test", "imap.evil.test", "smtp.evil.test")),
            )],
        );
        let r = lab.lookup("a@down.test", &[]);
        assert_eq!(r.code, Some(1), "{}", r.json);
        let e = r.entry("https://autoconfig.down.test");
        assert_eq!(e["result"], "refused-insecure");
        assert!(
            e["detail"]
                .as_str()
                .unwrap()
                .contains("http://autoconfig.down.test/hijacked.xml")
        );
        assert_eq!(https.requests().len(), 1);
        assert!(!http.requests().iter().any(|s| s.target == "/hijacked.xml"));
    }
}

lab_test! {
    fn a_redirect_loop_is_followed_at_most_five_times() {
        let b = 14;
        let lab = Lab::new(b, vec![Record::a("autoconfig.loop.test", &ip(b, 1))]);
        let web = lab.ca.web(
            &ip(b, 1),
            &["autoconfig.loop.test"],
            vec![
                Route::get(
                    "autoconfig.loop.test",
                    CONFIG_PATH,
                    Reply::Redirect(302, "/again".into()),
                ),
                Route::get(
                    "autoconfig.loop.test",
                    "/again",
                    Reply::Redirect(307, "/again".into()),
                ),
            ],
        );
        let r = lab.lookup("a@loop.test", &[]);
        assert_eq!(r.code, Some(1));
        let e = r.entry("https://autoconfig.loop.test");
        assert_eq!(e["result"], "error");
        assert!(
            e["detail"]
                .as_str()
                .unwrap()
                .contains("more than 5 redirects")
        );
        // The first request and five redirects, not one more.
        assert_eq!(web.requests().len(), 6, "{:?}", web.requests());
    }
}

lab_test! {
    fn malformed_and_oversized_answers_are_clear_tried_entries() {
        let b = 15;
        let lab = Lab::new(
            b,
            vec![
                Record::a("autoconfig.bad.test", &ip(b, 1)),
                Record::a("autodiscover.bad.test", &ip(b, 1)),
            ],
        );
        let _web = lab.ca.web(
            &ip(b, 1),
            &["autoconfig.bad.test", "autodiscover.bad.test"],
            vec![
                Route::get(
                    "autoconfig.bad.test",
                    CONFIG_PATH,
                    Reply::xml("<clientConfig><emailProvider id="),
                ),
                Route::post(
                    "autodiscover.bad.test",
                    AUTODISCOVER,
                    Reply::xml("<!DOCTYPE x [<!ENTITY a 'a'>]><Autodiscover>&a;</Autodiscover>"),
                ),
            ],
        );
        let _ispdb = lab.ca.web(
            &ip(b, 9),
            &["ispdb.lab.test"],
            vec![Route::get(
                "ispdb.lab.test",
                "/v1.1/bad.test",
                Reply::Huge(50 * 1024 * 1024),
            )],
        );
        let r = lab.lookup("a@bad.test", &[]);
        assert_eq!(r.code, Some(1), "{}", r.json);
        let ac = r.entry("https://autoconfig.bad.test");
        assert_eq!(ac["result"], "invalid");
        assert!(
            ac["detail"]
                .as_str()
                .unwrap()
                .contains("not valid autoconfig XML")
        );
        let big = r.entry("https://ispdb.lab.test/v1.1/bad.test");
        assert_eq!(big["result"], "invalid");
        assert!(big["detail"].as_str().unwrap().contains("larger than"));
        let ad = r.entry("POST https://autodiscover.bad.test/");
        assert_eq!(ad["result"], "invalid");
        assert!(ad["detail"].as_str().unwrap().contains("DOCTYPE"));
        assert!(
            r.json["error"]
                .as_str()
                .unwrap()
                .contains("no settings found")
        );
        // The 50 MiB body was not read to the end.
        assert!(r.elapsed < Duration::from_secs(5), "{:?}", r.elapsed);
    }
}

lab_test! {
    fn a_dns_answer_with_garbage_is_a_clear_tried_entry() {
        let b = 16;
        // An SRV record whose data is two bytes instead of six-plus-a-name.
        let lab = Lab::new(
            b,
            vec![Record::Raw(
                "--dns-rr=_imaps._tcp.garbage.test,33,0001".into(),
            )],
        );
        let r = lab.lookup("a@garbage.test", &[]);
        assert_eq!(r.code, Some(1), "{}", r.json);
        let e = r.entry("SRV _imaps._tcp.garbage.test");
        assert!(
            ["invalid", "error"].contains(&e["result"].as_str().unwrap()),
            "{e}"
        );
        assert!(e["detail"].as_str().is_some_and(|d| !d.is_empty()), "{e}");

        // A name server that answers only garbage.
        let garbage = ScriptedDns::garbage(&ip(b, 1));
        let r = lookup_with_dns(
            &garbage.addr.to_string(),
            &lab.ca,
            "a@garbage.test",
            &["--timeout", "3"],
        );
        assert_eq!(r.code, Some(1), "{}", r.json);
        let mx = r.entry("MX garbage.test");
        assert_ne!(mx["result"], "found", "{mx}");
        assert!(mx["detail"].as_str().is_some_and(|d| !d.is_empty()), "{mx}");
    }
}

lab_test! {
    fn a_server_that_never_answers_hits_the_deadline() {
        let b = 17;
        let lab = Lab::new(b, vec![Record::a("autoconfig.hang.test", &ip(b, 1))]);
        let _web = lab.ca.web(
            &ip(b, 1),
            &["autoconfig.hang.test"],
            vec![Route::get(
                "autoconfig.hang.test",
                CONFIG_PATH,
                Reply::Never,
            )],
        );
        let r = lab.lookup("a@hang.test", &["--timeout", "2"]);
        assert_eq!(r.code, Some(1), "{}", r.json);
        assert_eq!(r.entry("https://autoconfig.hang.test")["result"], "timeout");
        assert!(r.elapsed >= Duration::from_secs(2), "{:?}", r.elapsed);
        assert!(r.elapsed < Duration::from_millis(3500), "{:?}", r.elapsed);
    }
}

lab_test! {
    fn three_sources_each_delayed_1_5_s_finish_in_under_2_s() {
        let b = 18;
        let delay = Duration::from_millis(1500);
        let lab = Lab::new(
            b,
            vec![
                Record::a("autoconfig.slow.test", &ip(b, 1)),
                Record::a("autodiscover.slow.test", &ip(b, 2)),
            ],
        );
        let ac = lab.ca.issue(&["autoconfig.slow.test"]);
        let ad = lab.ca.issue(&["autodiscover.slow.test"]);
        let isp = lab.ca.issue(&["ispdb.lab.test"]);
        // Autoconfig and the ISPDB have nothing (after 1.5 s); Autodiscover
        // answers (after 1.5 s). The answer needs all three.
        let _a = Web::start_delayed(&ip(b, 1), 443, Some(&ac), vec![], delay);
        let _i = Web::start_delayed(&ip(b, 9), 443, Some(&isp), vec![], delay);
        let _d = Web::start_delayed(
            &ip(b, 2),
            443,
            Some(&ad),
            vec![Route::post(
                "autodiscover.slow.test",
                AUTODISCOVER,
                Reply::xml(pox("imap.slow.test", "smtp.slow.test")),
            )],
            delay,
        );
        let r = lab.lookup("a@slow.test", &[]);
        r.found();
        assert_eq!(r.json["source"], "autodiscover");
        assert_eq!(
            r.entry("https://autoconfig.slow.test")["result"],
            "not-found"
        );
        assert_eq!(
            r.entry("https://ispdb.lab.test/v1.1/slow.test")["result"],
            "not-found"
        );
        assert!(r.elapsed < Duration::from_secs(2), "took {:?}", r.elapsed);
    }
}

lab_test! {
    fn offline_asks_nothing() {
        let b = 19;
        let lab = Lab::new(b, vec![Record::a("autoconfig.off.test", &ip(b, 1))]);
        let web = lab.ca.web(&ip(b, 1), &["autoconfig.off.test"], vec![]);
        let r = lab.lookup("a@off.test", &["--offline"]);
        assert_eq!(r.code, Some(1));
        assert_eq!(r.json["tried"].as_array().unwrap().len(), 1);
        assert!(web.requests().is_empty());
    }
}

lab_test! {
    fn a_certificate_for_another_name_is_refused() {
        let b = 20;
        let lab = Lab::new(b, vec![Record::a("autoconfig.wrongcert.test", &ip(b, 1))]);
        let web = lab.ca.web(
            &ip(b, 1),
            &["something-else.test"],
            vec![Route::get(
                "autoconfig.wrongcert.test",
                CONFIG_PATH,
                Reply::xml(config("wrongcert.test", "imap.evil.test", "smtp.evil.test")),
            )],
        );
        let r = lab.lookup("a@wrongcert.test", &[]);
        assert_eq!(r.code, Some(1), "{}", r.json);
        let e = r.entry("https://autoconfig.wrongcert.test");
        assert_eq!(e["result"], "error");
        assert!(
            e["detail"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("certificate"),
            "{e}"
        );
        assert!(web.requests().is_empty());
    }
}

#[test]
fn a_bad_ca_file_is_a_usage_error_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("ca.pem");
    std::fs::write(&bad, "not a certificate").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mailsetup"))
        .args(["lookup", "--dns", "127.0.0.1:9", "--ca-file"])
        .arg(&bad)
        .arg("a@nowhere.test")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("holds no PEM certificate"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
}

lab_test! {
    fn verify_trusts_an_off_domain_srv_target_only_when_its_certificate_matches() {
        let b = 24;
        let lab = Lab::new(
            b,
            vec![
                Record::srv("_imaps._tcp.vfy.test", "imap.good-host.test", 993, 0, 1),
                Record::a("imap.good-host.test", &ip(b, 1)),
                Record::srv("_imaps._tcp.vfy2.test", "imap.bad-host.test", 993, 0, 1),
                Record::a("imap.bad-host.test", &ip(b, 2)),
            ],
        );
        let good = lab.ca.issue(&["imap.good-host.test"]);
        let wrong = lab.ca.issue(&["someone-else.test"]);
        let greeting = "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready";
        let g = Greeter::start(&ip(b, 1), 993, Some(&good), greeting, Duration::ZERO);
        let _w = Greeter::start(&ip(b, 2), 993, Some(&wrong), greeting, Duration::ZERO);

        // Off-domain SRV without DNSSEC: unverified, and nothing probed.
        let plain = lab.lookup("a@vfy.test", &["--timeout", "3"]);
        plain.found();
        assert_eq!(plain.json["trust"], "unverified");
        assert!(plain.json.get("verify").is_none());

        // --verify: the certificate matches the host, so the answer is trusted.
        let r = lab.lookup("a@vfy.test", &["--verify", "--timeout", "3"]);
        r.found();
        assert_eq!(r.json["trust"], "verified", "{}", r.stderr);
        let v = &r.json["verify"][0];
        assert_eq!(v["url"], "imaps://imap.good-host.test:993");
        assert_eq!(v["reachable"], true);
        assert_eq!(v["cert_valid"], true);
        let sent = String::from_utf8_lossy(&g.received()).to_ascii_uppercase();
        assert!(
            !sent.contains("LOGIN") && !sent.contains("AUTHENTICATE"),
            "--verify must never log in: {sent}"
        );

        // A certificate for another name: reachable, but it stays unverified.
        let bad = lab.lookup("a@vfy2.test", &["--verify", "--timeout", "3"]);
        bad.found();
        assert_eq!(bad.json["trust"], "unverified");
        assert_eq!(bad.json["verify"][0]["reachable"], true);
        assert_eq!(bad.json["verify"][0]["cert_valid"], false);
    }
}
