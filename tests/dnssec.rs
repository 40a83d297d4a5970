//! DNSSEC end to end: the real `mailsetup` binary against BIND serving
//! zones signed at test time (tests/lab/bind.rs), given the zone's key with
//! `--trust-anchor`.
//!
//! The README's promise under test: SRV records pointing outside the domain
//! are `verified` only when DNSSEC vouches for them — signed, and the
//! signature chains to a trusted key. The same records unsigned, signed
//! with another key, with expired signatures or changed after signing are
//! `unverified`.
//!
//! Each test takes its own block of ten addresses in 127.0.20.0/24 (block
//! `b` is 127.0.20.(10b) …) and its own made-up `.test` zone.

mod lab;

use std::path::Path;
use std::process::Command;

use lab::bind::{Bind, Key, Signing, Zone};
use lab::dns::{Dns, Record};
use lab::scenario::{Run, json_run};

/// The `n`th address of block `b`.
fn ip(b: u8, n: u8) -> String {
    lab::ip(20, b * 10 + n)
}

/// RFC 6186 records of `zone`: IMAP and submission at a hoster outside it.
fn off_domain_srv() -> [&'static str; 2] {
    [
        "_imaps._tcp IN SRV 0 1 993 imap.hoster-elsewhere.test.",
        "_submission._tcp IN SRV 0 1 587 smtp.hoster-elsewhere.test.",
    ]
}

/// `mailsetup ARGS --json --dns DNS [--trust-anchor ANCHOR]`.
fn run(args: &[&str], dns: &str, anchor: Option<&Path>) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mailsetup"));
    cmd.args(args)
        .args(["--json", "--timeout", "6", "--dns", dns])
        // No ISPDB in the lab: its name fails at once.
        .args(["--ispdb-url", "https://ispdb.invalid/"]);
    if let Some(a) = anchor {
        cmd.arg("--trust-anchor").arg(a);
    }
    cmd.env("RUST_BACKTRACE", "1");
    json_run(cmd)
}

/// A lookup of `a@ZONE` whose answer came from the SRV records.
fn lookup_srv(zone: &str, dns: &str, anchor: Option<&Path>) -> Run {
    let r = run(&["lookup", &format!("a@{zone}")], dns, anchor);
    assert_eq!(r.code, Some(0), "{}\n{}", r.json, r.stderr);
    assert_eq!(r.json["source"], "srv", "{}", r.json);
    r
}

/// Asserts `r` found the off-domain servers and marked them unverified,
/// its SRV entry saying why.
fn assert_unverified(r: &Run, zone: &str) {
    assert_eq!(r.json["trust"], "unverified", "{}", r.json);
    let detail = r.detail(&format!("SRV _imaps._tcp.{zone}"));
    assert!(detail.contains("not DNSSEC-validated"), "{detail}");
    let codes: Vec<&str> = r.json["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["code"].as_str())
        .collect();
    assert!(codes.contains(&"unverified"), "{}", r.json["notes"]);
}

lab_test! {
    fn an_off_domain_srv_answer_from_a_signed_zone_is_verified_with_its_trust_anchor() {
        let key = Key::new("signed.test");
        let ns = Bind::start(
            &ip(1, 0),
            &[Zone::new("signed.test", &off_domain_srv()).signed(&key, Signing::Valid)],
        );
        let dns = ns.addr.to_string();

        let r = lookup_srv("signed.test", &dns, Some(&key.anchor_file()));
        assert_eq!(r.json["trust"], "verified", "{}", r.json);
        assert_eq!(
            r.urls("incoming"),
            ["imaps://imap.hoster-elsewhere.test:993"]
        );
        assert_eq!(
            r.urls("outgoing"),
            ["smtp://smtp.hoster-elsewhere.test:587"]
        );
        for svc in ["_imaps._tcp", "_submission._tcp"] {
            let detail = r.detail(&format!("SRV {svc}.signed.test"));
            assert!(
                detail.ends_with("(DNSSEC-validated)"),
                "{svc}: {detail}; named's log:\n{}",
                ns.log()
            );
        }

        // The same signed answer without the anchor: no chain of trust reaches
        // the lab's zone from the root, so nothing vouches for it.
        let r = lookup_srv("signed.test", &dns, None);
        assert_unverified(&r, "signed.test");

        // An anchor file holding only the DNSKEY line (as `dig DNSKEY` prints
        // it, without dnssec-keygen's comments) works the same.
        let dir = tempfile::tempdir().unwrap();
        let bare = dir.path().join("anchor.txt");
        std::fs::write(&bare, format!("{}\n", key.dnskey())).unwrap();
        let r = lookup_srv("signed.test", &dns, Some(&bare));
        assert_eq!(r.json["trust"], "verified", "{}", r.json);
    }
}

lab_test! {
    fn the_same_answer_from_an_unsigned_zone_is_unverified() {
        let key = Key::new("signed2.test");
        let ns = Bind::start(
            &ip(2, 0),
            &[
                Zone::new("signed2.test", &off_domain_srv()).signed(&key, Signing::Valid),
                Zone::new("plain.test", &off_domain_srv()),
            ],
        );
        let dns = ns.addr.to_string();
        // The anchor is trusted for its own zone only.
        let r = lookup_srv("plain.test", &dns, Some(&key.anchor_file()));
        assert_unverified(&r, "plain.test");
        assert_eq!(
            r.urls("incoming"),
            ["imaps://imap.hoster-elsewhere.test:993"]
        );
        // ...while the signed zone next to it, same server, same run of
        // named, validates.
        let r = lookup_srv("signed2.test", &dns, Some(&key.anchor_file()));
        assert_eq!(r.json["trust"], "verified", "{}", r.json);
    }
}

lab_test! {
    fn a_zone_signed_with_a_key_other_than_the_anchor_is_unverified() {
        let signer = Key::new("other-key.test");
        let anchor = Key::new("other-key.test");
        let ns = Bind::start(
            &ip(3, 0),
            &[Zone::new("other-key.test", &off_domain_srv()).signed(&signer, Signing::Valid)],
        );
        let r = lookup_srv(
            "other-key.test",
            &ns.addr.to_string(),
            Some(&anchor.anchor_file()),
        );
        assert_unverified(&r, "other-key.test");
    }
}

lab_test! {
    fn expired_signatures_are_unverified() {
        let key = Key::new("expired.test");
        let ns = Bind::start(
            &ip(4, 0),
            &[Zone::new("expired.test", &off_domain_srv()).signed(&key, Signing::Expired)],
        );
        let r = lookup_srv(
            "expired.test",
            &ns.addr.to_string(),
            Some(&key.anchor_file()),
        );
        assert_unverified(&r, "expired.test");
    }
}

lab_test! {
    fn a_record_changed_after_signing_is_unverified() {
        let key = Key::new("tampered.test");
        let ns = Bind::start(
            &ip(5, 0),
            &[Zone::new("tampered.test", &off_domain_srv()).signed(&key, Signing::Tampered)],
        );
        let r = lookup_srv(
            "tampered.test",
            &ns.addr.to_string(),
            Some(&key.anchor_file()),
        );
        // The forged target is what the name server says; it is never
        // vouched for.
        assert_eq!(
            r.urls("incoming"),
            ["imaps://imap.forged.test:993"],
            "served:\n{}\nlog:\n{}",
            ns.zone_text("tampered.test"),
            ns.log()
        );
        assert_unverified(&r, "tampered.test");
    }
}

lab_test! {
    fn profile_writes_a_device_file_for_validated_srv_and_refuses_it_without_the_anchor() {
        let key = Key::new("profiled.test");
        let ns = Bind::start(
            &ip(8, 0),
            &[Zone::new("profiled.test", &off_domain_srv()).signed(&key, Signing::Valid)],
        );
        let dns = ns.addr.to_string();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.mobileconfig");
        let file_arg = file.to_str().unwrap();
        let args = ["profile", "a@profiled.test", "-o", file_arg];

        let r = run(&args, &dns, Some(&key.anchor_file()));
        assert_eq!(r.code, Some(0), "{}\n{}", r.json, r.stderr);
        let profile = std::fs::read_to_string(&file).unwrap();
        assert!(profile.contains("imap.hoster-elsewhere.test"), "{profile}");
        assert!(!r.stderr.contains("unverified"), "{}", r.stderr);
        std::fs::remove_file(&file).unwrap();

        let r = run(&args, &dns, None);
        assert_eq!(r.code, Some(1), "{}\n{}", r.json, r.stderr);
        assert_eq!(r.json["code"], "unverified", "{}", r.json);
        assert!(
            !file.exists(),
            "a device file was written for unverified settings"
        );
    }
}

lab_test! {
    fn the_audit_finds_no_unsigned_off_domain_srv_in_a_validated_zone() {
        let key = Key::new("audited.test");
        let ns = Bind::start(
            &ip(6, 0),
            &[Zone::new("audited.test", &off_domain_srv()).signed(&key, Signing::Valid)],
        );
        let dns = ns.addr.to_string();
        let codes = |anchor: Option<&Path>| -> Vec<(String, String)> {
            let r = run(&["check", "audited.test"], &dns, anchor);
            r.json["findings"]
                .as_array()
                .unwrap_or_else(|| panic!("no findings in {}", r.json))
                .iter()
                .map(|f| {
                    (
                        f["code"].as_str().unwrap_or_default().to_string(),
                        f["server"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        };
        let without = codes(None);
        assert!(
            without
                .iter()
                .any(|(c, at)| c == "srv-off-domain" && at.contains("_imaps._tcp.audited.test")),
            "{without:?}"
        );
        let with = codes(Some(&key.anchor_file()));
        assert!(!with.iter().any(|(c, _)| c == "srv-off-domain"), "{with:?}");
    }
}

lab_test! {
    fn dnsmasq_forwarding_to_the_signing_server_keeps_the_signatures() {
        let key = Key::new("forwarded.test");
        let ns = Bind::start(
            &ip(7, 0),
            &[Zone::new("forwarded.test", &off_domain_srv()).signed(&key, Signing::Valid)],
        );
        // The lab's usual DNS server, forwarding the signed zone to named.
        let dnsmasq = Dns::start(
            &ip(7, 1),
            &[Record::Raw(format!(
                "--server=/forwarded.test/{}",
                ns.addr.ip()
            ))],
        );
        let r = lookup_srv(
            "forwarded.test",
            &dnsmasq.addr.to_string(),
            Some(&key.anchor_file()),
        );
        assert_eq!(r.json["trust"], "verified", "{}", r.json);
    }
}

/// A file that is not a trust anchor is a usage error naming the file and
/// what it must hold, before anything is asked.
#[test]
fn a_bad_trust_anchor_file_is_a_clear_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds.txt");
    std::fs::write(
        &ds,
        "example.test. 3600 IN DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF\n",
    )
    .unwrap();
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "; nothing but a comment\n").unwrap();
    let garbage = dir.path().join("garbage.txt");
    std::fs::write(&garbage, "example.test. IN DNSKEY 257 3 13 !!!notbase64\n").unwrap();
    // An algorithm hickory cannot check (it used to assert on it).
    let private_alg = dir.path().join("private-alg.key");
    std::fs::write(&private_alg, "example.test. IN DNSKEY 257 3 253 AAAA\n").unwrap();
    let missing = dir.path().join("missing.key");
    for (file, want) in [
        (&ds, "DS records are not taken"),
        (&empty, "no DNSKEY record"),
        (&garbage, "garbage.txt"),
        (&private_alg, "cannot be checked"),
        (&missing, "missing.key"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_mailsetup"))
            .args(["lookup", "--offline", "--trust-anchor"])
            .arg(file)
            .arg("a@example.test")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", file.display());
        assert!(stderr.contains(want), "{}: {stderr}", file.display());
        assert!(stderr.contains("DNSKEY"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
