//! End-to-end tests of the `mailsetup` binary: exit status, stdout/stderr
//! discipline and the human output people read.

use std::process::{Command, Output};

fn mailsetup(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mailsetup"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[test]
fn msn_human_output() {
    let o = mailsetup(&["lookup", "--offline", "someone@msn.com"]);
    assert!(o.status.success(), "{}", stderr(&o));
    insta::assert_snapshot!("lookup_msn", stdout(&o));
}

#[test]
fn gmail_human_output() {
    let o = mailsetup(&["lookup", "--offline", "jane.doe@gmail.com"]);
    assert!(o.status.success(), "{}", stderr(&o));
    insta::assert_snapshot!("lookup_gmail", stdout(&o));
}

#[test]
fn regional_provider_human_output() {
    let o = mailsetup(&["lookup", "--offline", "max@gmx.de"]);
    assert!(o.status.success(), "{}", stderr(&o));
    insta::assert_snapshot!("lookup_gmx", stdout(&o));
}

#[test]
fn msn_json_has_the_interface_fields_and_nothing_else_on_stdout() {
    let o = mailsetup(&["lookup", "--offline", "--json", "Someone@MSN.COM"]);
    assert!(o.status.success());
    let v: serde_json::Value =
        serde_json::from_slice(&o.stdout).expect("stdout is one JSON document");
    assert_eq!(v["email"], "Someone@msn.com");
    assert_eq!(v["provider"]["id"], "outlook.com");
    assert_eq!(v["source"], "provider-db");
    assert_eq!(v["trust"], "verified");
    let imap = &v["incoming"][0];
    assert_eq!(imap["protocol"], "imap");
    assert_eq!(imap["host"], "outlook.office365.com");
    assert_eq!(imap["port"], 993);
    assert_eq!(imap["security"], "tls");
    assert_eq!(imap["auth"], serde_json::json!(["oauth2"]));
    assert_eq!(imap["username"], "Someone@msn.com");
    assert_eq!(v["incoming"][1]["url"], "pop3s://outlook.office365.com:995");
    assert_eq!(v["outgoing"][0]["url"], "smtp://smtp-mail.outlook.com:587");
    assert!(
        v["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["code"] == "oauth-required")
    );
    assert_eq!(v["tried"][0]["result"], "found");
}

#[test]
fn idn_domain_is_shown_in_unicode() {
    let o = mailsetup(&["lookup", "--offline", "--json", "user@bücher.example"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["email"], "user@bücher.example");
    assert!(stderr(&o).contains("bücher.example is not in the built-in provider table"));
}

#[test]
fn unknown_domain_offline_exits_1_and_names_the_network_sources() {
    let o = mailsetup(&["lookup", "--offline", "someone@unknown-company.test"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    let e = stderr(&o);
    assert!(e.contains("without --offline"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
}

#[test]
fn bad_addresses_exit_2_with_one_line_and_no_panic() {
    let long = format!("{}@example.com", "a".repeat(250));
    for bad in [
        "",
        "someone.msn.com",
        "a@b@msn.com",
        "some\u{1}one@msn.com",
        "x\ny@msn.com",
        long.as_str(),
        "@msn.com",
        "a@",
    ] {
        let o = mailsetup(&["lookup", "--offline", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
        assert!(o.stdout.is_empty(), "{bad:?}");
        let e = stderr(&o);
        assert_eq!(e.lines().count(), 1, "{bad:?}: {e}");
        assert!(e.starts_with("mailsetup: "), "{e}");
        assert!(!e.contains("panicked") && !e.contains("backtrace"), "{e}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let o = mailsetup(&["lookup"]);
    assert_eq!(o.status.code(), Some(2));
    let o = mailsetup(&["lookup", "a@msn.com", "--timeout", "-3"]);
    assert_eq!(o.status.code(), Some(2));
    let o = mailsetup(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn man_page_and_completions_are_generated_from_the_flags() {
    let man = mailsetup(&["generate", "man"]);
    assert!(man.status.success());
    let text = stdout(&man);
    assert!(text.contains(".TH mailsetup"), "not a man page");
    assert!(text.contains("offline"));
    for shell in ["bash", "zsh", "fish"] {
        let o = mailsetup(&["generate", shell]);
        assert!(o.status.success(), "{shell}");
        assert!(stdout(&o).contains("ispdb-url"), "{shell}");
    }
    assert_eq!(mailsetup(&["generate", "tcsh"]).status.code(), Some(2));
}

#[test]
fn generate_man_dir_writes_a_page_per_command_and_one_for_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man");
    let o = mailsetup(&["generate", "man", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let top = std::fs::read_to_string(out.join("mailsetup.1")).unwrap();
    // Every page the main page refers to exists.
    for command in ["lookup", "check", "profile", "serve", "generate"] {
        assert!(
            top.contains(&format!("mailsetup\\-{command}(1)")),
            "{command}"
        );
        let page = std::fs::read_to_string(out.join(format!("mailsetup-{command}.1")))
            .unwrap_or_else(|e| panic!("mailsetup-{command}.1: {e}"));
        assert!(page.contains(".SH EXAMPLES"), "{command}");
        assert!(
            page.contains("\\-\\-offline"),
            "{command}: the global options too"
        );
    }
    let config = std::fs::read_to_string(out.join("mailsetup.toml.5")).unwrap();
    assert!(config.contains(".SH EXAMPLE"));
    assert!(config.contains("[[domain]]"));
    assert!(config.contains("metrics_listen"));
    // man(1) renders them without complaint, when it is installed.
    if let Ok(o) = std::process::Command::new("man")
        .arg("-l")
        .arg(out.join("mailsetup-serve.1"))
        .env("MANWIDTH", "80")
        .output()
    {
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.is_empty() || text.contains("check-config"), "{text}");
    }
}

#[test]
fn completions_offer_the_value_lists_and_help_names_defaults_and_headings() {
    let bash = stdout(&mailsetup(&["generate", "bash"]));
    assert!(
        bash.contains("mobileconfig autoconfig autodiscover ios-steps"),
        "--format values in bash completions"
    );
    assert!(bash.contains("man bash zsh fish elvish powershell"));
    let help = stdout(&mailsetup(&["--help"]));
    assert!(help.contains("generate"), "{help}");
    let serve = stdout(&mailsetup(&["serve", "--help"]));
    assert!(serve.contains("127.0.0.1:8080"), "{serve}");
    assert!(serve.contains("Global options:"), "{serve}");
    let (own, global) = serve.split_once("Global options:").unwrap();
    assert!(
        own.contains("--check-config") && !own.contains("--offline"),
        "{serve}"
    );
    assert!(global.contains("--offline"), "{serve}");
}

#[test]
fn a_typo_domain_asks_did_you_mean_and_stops_until_confirmed() {
    let o = mailsetup(&["lookup", "--json", "jane@gmial.com"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["notes"][0]["code"], "did-you-mean");
    assert!(
        v["notes"][0]["text"]
            .as_str()
            .unwrap()
            .contains("gmail.com")
    );
    assert_eq!(v["tried"].as_array().unwrap().len(), 1, "no network source");
    assert!(v.get("incoming").is_none(), "no settings offered");
    let human = mailsetup(&["lookup", "jane@hotmial.com"]);
    assert_eq!(human.status.code(), Some(1));
    assert!(
        stderr(&human).contains("did you mean hotmail.com?"),
        "{}",
        stderr(&human)
    );
    assert!(stderr(&human).contains("--no-typo-check"));
    // Confirmed: the lookup goes on (offline here, so to the table only).
    let o = mailsetup(&["lookup", "--offline", "--no-typo-check", "jane@gmial.com"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("gmial.com is not in the built-in provider table"));
}

#[test]
fn a_builtin_provider_without_secure_settings_is_unverified_and_exits_1() {
    let o = mailsetup(&["lookup", "--offline", "--json", "someone@proton.me"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["trust"], "unverified");
    let codes: Vec<&str> = v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["code"].as_str())
        .collect();
    assert!(codes.contains(&"provider-status"), "{codes:?}");
    assert!(codes.contains(&"unverified"), "{codes:?}");
    let human = mailsetup(&["lookup", "--offline", "someone@proton.me"]);
    assert_eq!(human.status.code(), Some(1));
    assert!(!stdout(&human).contains("(verified)"), "{}", stdout(&human));
    assert!(stderr(&human).contains("no settings with encryption are known"));
}

/// Runs the binary with stdout a pipe whose reader has already gone, as in
/// `mailsetup … | head -1` when `head` has read its line: the start is
/// delayed until the test has closed its end, so the first write fails
/// with a broken pipe every time.
fn into_closed_pipe(args: &[&str]) -> Output {
    use std::process::Stdio;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(r#"sleep 0.3; exec "$0" "$@""#)
        .arg(env!("CARGO_BIN_EXE_mailsetup"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh runs");
    drop(child.stdout.take());
    child.wait_with_output().expect("the binary runs")
}

#[test]
fn every_command_that_prints_stops_quietly_when_the_reader_goes_away() {
    let cases: &[&[&str]] = &[
        &["lookup", "--offline", "someone@msn.com"],
        &["lookup", "--offline", "--json", "someone@msn.com"],
        &[
            "lookup",
            "--offline",
            "--json",
            "nobody@unknown-domain.test",
        ],
        &["profile", "--offline", "alice@posteo.de"],
        &["profile", "--offline", "--json", "alice@posteo.de"],
        &[
            "profile",
            "--offline",
            "--format",
            "autoconfig",
            "alice@posteo.de",
        ],
        &[
            "profile",
            "--offline",
            "--format",
            "ios-steps",
            "alice@posteo.de",
        ],
        // Nothing listens on port 1 of loopback: a report about that.
        &[
            "check",
            "--dns",
            "127.0.0.1:9",
            "--timeout",
            "5",
            "--incoming",
            "imaps://127.0.0.1:1",
            "--outgoing",
            "smtps://127.0.0.1:1",
            "alice@example.com",
        ],
        &["generate", "man"],
        &["generate", "bash"],
        &["--help"],
    ];
    for args in cases {
        // The command does print something when the reader stays.
        let normal = mailsetup(args);
        assert!(!normal.stdout.is_empty(), "{args:?} prints nothing");
        let o = into_closed_pipe(args);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{args:?} into a closed pipe: {}",
            stderr(&o)
        );
        assert_eq!(stderr(&o), "", "{args:?} into a closed pipe");
    }
}

#[test]
fn a_pipe_into_head_ends_with_status_zero() {
    // The shape people type: with pipefail, the status is mailsetup's.
    let o = Command::new("bash")
        .arg("-c")
        .arg(r#"set -o pipefail; "$0" generate man | head -1 >/dev/null"#)
        .arg(env!("CARGO_BIN_EXE_mailsetup"))
        .output()
        .expect("bash runs");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
}
