//! The secret appears in no output: `check`, the one command that takes a
//! secret, is run with `--password-stdin` and `--oauth-token-stdin`, in
//! text, `-v` and `--json` modes, through a successful login and every way
//! a login can fail, against IMAP, POP3 and SMTP servers that echo the
//! secret back in every reply — as sent, base64, hex in both cases,
//! reversed, percent-encoded, form-encoded and in part — and nothing the
//! program prints (standard output, log lines, error or panic messages)
//! may hold the secret in any of those forms.
//!
//! Lab addresses: 127.0.11.0/24.

mod lab;

use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lab::dns::Dns;
use lab::fake::{Action, Fake, Respond, Script};

/// The secret every run types. No `"` or `\` (IMAP LOGIN would quote them),
/// and long enough that its 6-character runs are distinctive.
const SECRET: &str = "Hx7-Qz!p9%Lm/w+K";

const DNS: &str = "127.0.11.53";
const NOWHERE_ISPDB: &str = "http://127.0.11.99/";

/// Every form a server could quote the secret in.
fn forms(secret: &str) -> Vec<String> {
    let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
    let pct = |upper: bool| -> String {
        secret
            .bytes()
            .map(|b| match (b.is_ascii_alphanumeric(), upper) {
                (true, _) => char::from(b).to_string(),
                (false, true) => format!("%{b:02X}"),
                (false, false) => format!("%{b:02x}"),
            })
            .collect()
    };
    let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    vec![
        secret.to_string(),
        STANDARD.encode(secret),
        hex.clone(),
        hex.to_uppercase(),
        secret.chars().rev().collect(),
        pct(true),
        pct(false),
        form,
        STANDARD.encode(format!("\0someone@lab.test\0{secret}")),
        STANDARD.encode(format!(
            "user=someone@lab.test\x01auth=Bearer {secret}\x01\x01"
        )),
    ]
}

/// What an echoing server puts in its replies: every form, and a part.
fn echo() -> String {
    let mut f = forms(SECRET);
    f.truncate(8);
    f.push(SECRET[3..11].to_string());
    f.join(" ")
}

/// Every leak the test looks for in output: the forms and every run of 6
/// characters of the secret (the `[secret hidden]` marker cannot contain
/// one: it shares no 6-character run with the secret).
fn leaks(text: &str) -> Vec<String> {
    let mut needles = forms(SECRET);
    let chars: Vec<char> = SECRET.chars().collect();
    for w in chars.windows(6) {
        needles.push(w.iter().collect());
    }
    needles
        .into_iter()
        .filter(|n| text.contains(n.trim_end_matches('=')))
        .collect()
}

/// How the echoing server ends the login.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    /// Accepts the secret (success, with the echo in its OK).
    Accept,
    /// Refuses it, echoing.
    Reject,
    /// Closes the connection, echoing.
    Bye,
    /// Answers with a reply that is no reply of the protocol.
    Garbage,
    /// Sends a SASL challenge holding the echo (base64), then refuses.
    Challenge,
}

const OUTCOMES: [Outcome; 5] = [
    Outcome::Accept,
    Outcome::Reject,
    Outcome::Bye,
    Outcome::Garbage,
    Outcome::Challenge,
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Proto {
    Imap,
    Pop3,
    Smtp,
}

/// The server's last word on a login.
fn verdict(proto: Proto, tag: &str, outcome: Outcome, challenged: bool) -> Action {
    let e = echo();
    match (proto, outcome) {
        (_, Outcome::Challenge) if !challenged => {
            let b = STANDARD.encode(format!("{{\"status\":\"401\",\"echo\":\"{e}\"}}"));
            Action::Reply(match proto {
                Proto::Smtp => format!("334 {b}\r\n"),
                _ => format!("+ {b}\r\n"),
            })
        }
        (Proto::Imap, Outcome::Accept) => Action::Reply(format!("{tag} OK [ALERT] hi {e}\r\n")),
        (Proto::Imap, Outcome::Bye) => Action::Close(format!("* BYE [ALERT] {e}\r\n")),
        (Proto::Imap, Outcome::Garbage) => Action::Reply(format!("{tag} HUH {e}\r\n")),
        (Proto::Imap, _) => Action::Reply(format!(
            "* NO [ALERT] bad password {e}\r\n{tag} NO [AUTHENTICATIONFAILED] {e}\r\n"
        )),
        (Proto::Pop3, Outcome::Accept) => Action::Reply(format!("+OK hi {e}\r\n")),
        (Proto::Pop3, Outcome::Bye) => Action::Close(format!("-ERR [SYS/PERM] {e}\r\n")),
        (Proto::Pop3, Outcome::Garbage) => Action::Reply(format!("HUH {e}\r\n")),
        (Proto::Pop3, _) => Action::Reply(format!("-ERR [AUTH] bad password {e}\r\n")),
        (Proto::Smtp, Outcome::Accept) => {
            Action::Reply(format!("235-{e}\r\n235 2.7.0 Authenticated {e}\r\n"))
        }
        (Proto::Smtp, Outcome::Bye) => Action::Close(format!("421 4.7.0 {e}\r\n")),
        (Proto::Smtp, Outcome::Garbage) => Action::Reply(format!("HUH {e}\r\n")),
        (Proto::Smtp, _) => Action::Reply(format!("535-{e}\r\n535 5.7.8 bad password {e}\r\n")),
    }
}

/// A server of `proto` offering `mechs` (SASL names; "USER" for POP3's
/// USER/PASS; nothing for IMAP means plain LOGIN), ending logins with
/// `outcome`, and echoing the secret in every reply.
fn echo_server(
    proto: Proto,
    mechs: &'static [&'static str],
    outcome: Outcome,
    tls: Arc<rustls::ServerConfig>,
) -> Script {
    let e = echo();
    let greeting = match proto {
        Proto::Imap => format!("* OK [ALERT] ready {e}\r\n"),
        Proto::Pop3 => format!("+OK ready {e}\r\n"),
        Proto::Smtp => format!("220 echo.lab.test ESMTP {e}\r\n"),
    };
    let respond = Arc::new(move || -> Respond {
        // (tag, data lines still expected, challenged yet)
        let mut pending: Option<(String, usize, bool)> = None;
        Box::new(move |line: &str, _tls: bool| {
            if let Some((tag, left, challenged)) = pending.take() {
                if line == "*" {
                    return verdict(proto, &tag, Outcome::Reject, true);
                }
                if left > 1 {
                    pending = Some((tag, left - 1, challenged));
                    let prompt = "UGFzc3dvcmQ6";
                    return Action::Reply(match proto {
                        Proto::Smtp => format!("334 {prompt}\r\n"),
                        _ => format!("+ {prompt}\r\n"),
                    });
                }
                let a = verdict(proto, &tag, outcome, challenged);
                if matches!(outcome, Outcome::Challenge) && !challenged {
                    pending = Some((tag, 1, true));
                }
                return a;
            }
            let e = echo();
            let upper = line.to_ascii_uppercase();
            let (tag, cmd) = match proto {
                Proto::Imap => line.split_once(' ').unwrap_or((line, "")),
                _ => ("", line),
            };
            let ucmd = cmd.to_ascii_uppercase();
            let _ = upper;
            let words: Vec<&str> = cmd.split(' ').collect();
            let auth = match proto {
                Proto::Imap => ucmd.starts_with("AUTHENTICATE "),
                _ => ucmd.starts_with("AUTH "),
            };
            if auth {
                let mech = words.get(1).unwrap_or(&"").to_ascii_uppercase();
                let lines = if mech == "LOGIN" { 2 } else { 1 };
                match words.get(2) {
                    Some(_) if lines == 1 => {
                        let a = verdict(proto, tag, outcome, false);
                        if matches!(outcome, Outcome::Challenge) {
                            pending = Some((tag.to_string(), 1, true));
                        }
                        return a;
                    }
                    Some(_) => {
                        pending = Some((tag.to_string(), 1, false));
                        return Action::Reply(match proto {
                            Proto::Smtp => "334 UGFzc3dvcmQ6\r\n".into(),
                            _ => "+ UGFzc3dvcmQ6\r\n".into(),
                        });
                    }
                    None => {
                        pending = Some((tag.to_string(), lines, false));
                        let prompt = if lines == 2 { "VXNlcm5hbWU6" } else { "" };
                        return Action::Reply(match proto {
                            Proto::Smtp => format!("334 {prompt}\r\n"),
                            _ => format!("+ {prompt}\r\n"),
                        });
                    }
                }
            }
            match proto {
                Proto::Imap => match ucmd.split(' ').next().unwrap_or("") {
                    "CAPABILITY" => {
                        let mut caps = String::from("IMAP4rev1 SASL-IR");
                        for m in mechs {
                            caps.push_str(&format!(" AUTH={m}"));
                        }
                        Action::Reply(format!("* CAPABILITY {caps}\r\n{tag} OK {e}\r\n"))
                    }
                    "LOGIN" => verdict(proto, tag, outcome, true),
                    "LOGOUT" => Action::Close(format!("* BYE {e}\r\n{tag} OK {e}\r\n")),
                    _ => Action::Reply(format!("{tag} BAD {e}\r\n")),
                },
                Proto::Pop3 => match words[0].to_ascii_uppercase().as_str() {
                    "CAPA" => {
                        let mut r = String::from("+OK\r\nTOP\r\n");
                        let sasl: Vec<&str> =
                            mechs.iter().copied().filter(|m| *m != "USER").collect();
                        if mechs.contains(&"USER") {
                            r.push_str("USER\r\n");
                        }
                        if !sasl.is_empty() {
                            r.push_str(&format!("SASL {}\r\n", sasl.join(" ")));
                        }
                        Action::Reply(r + ".\r\n")
                    }
                    "USER" => Action::Reply(format!("+OK {e}\r\n")),
                    "PASS" => verdict(proto, tag, outcome, true),
                    "QUIT" => Action::Close(format!("+OK bye {e}\r\n")),
                    _ => Action::Reply(format!("-ERR {e}\r\n")),
                },
                Proto::Smtp => match words[0].to_ascii_uppercase().as_str() {
                    "EHLO" => {
                        let mut r = format!("250-echo.lab.test hello {e}\r\n");
                        if !mechs.is_empty() {
                            r.push_str(&format!("250-AUTH {}\r\n", mechs.join(" ")));
                        }
                        Action::Reply(r + "250 PIPELINING\r\n")
                    }
                    "QUIT" => Action::Close(format!("221 bye {e}\r\n")),
                    _ => Action::Reply(format!("502 {e}\r\n")),
                },
            }
        })
    });
    Script {
        greeting,
        implicit_tls: Some(tls),
        starttls_tls: None,
        respond,
    }
}

fn run(args: &[&str], stdin: &str) -> (i32, String, String) {
    let o = lab::mailsetup_with_input(args, Some(stdin));
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The mechanisms each server offers, and which secret they take.
const MECHS: &[Mechs] = &[
    // (IMAP, POP3, SMTP, flag)
    (
        &["PLAIN", "LOGIN"],
        &["USER", "PLAIN"],
        &["PLAIN", "LOGIN"],
        "--password-stdin",
    ),
    (&["LOGIN"], &["LOGIN"], &["LOGIN"], "--password-stdin"),
    (&[], &["USER"], &[], "--password-stdin"),
    (
        &["XOAUTH2"],
        &["XOAUTH2"],
        &["XOAUTH2"],
        "--oauth-token-stdin",
    ),
    (
        &["OAUTHBEARER"],
        &["OAUTHBEARER"],
        &["OAUTHBEARER"],
        "--oauth-token-stdin",
    ),
    // A token for a server that takes only passwords, and the reverse.
    (&["PLAIN"], &["USER"], &["PLAIN"], "--oauth-token-stdin"),
    (&["XOAUTH2"], &["XOAUTH2"], &["XOAUTH2"], "--password-stdin"),
];

lab_test! {
    fn no_form_of_the_secret_reaches_any_output() {
        let _dns = Dns::start(DNS, &[]);
        let ca = lab::TestCa::new();
        let ca_file = ca.ca_file();
        let hidden = Mutex::new(0usize);
        let runs = Mutex::new(0usize);
        let cases: Vec<_> = MECHS
            .iter()
            .flat_map(|m| OUTCOMES.iter().map(move |o| (m, *o)))
            .enumerate()
            .collect();
        // A few cases at a time: each waits mostly on its servers.
        std::thread::scope(|scope| {
            for chunk in cases.chunks(cases.len().div_ceil(12)) {
                let (ca, ca_file, hidden, runs) = (&ca, &ca_file, &hidden, &runs);
                scope.spawn(move || {
                    for &(i, (&(imap, pop3, smtp, flag), outcome)) in chunk {
                        one_case(
                            ca,
                            ca_file,
                            i + 11,
                            (imap, pop3, smtp, flag),
                            outcome,
                            hidden,
                            runs,
                        );
                    }
                });
            }
        });
        // The echo reached the output (masked) in most runs: the test tests.
        let hidden = *hidden.lock().unwrap();
        let runs = *runs.lock().unwrap();
        assert!(
            hidden * 2 > runs,
            "only {hidden} of {runs} runs showed a masked echo"
        );
    }
}

type Mechs = (
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
    &'static str,
);

/// Every mode and both incoming protocols against one set of echoing
/// servers.
fn one_case(
    ca: &lab::TestCa,
    ca_file: &std::path::Path,
    ip: usize,
    (imap, pop3, smtp, flag): Mechs,
    outcome: Outcome,
    hidden: &Mutex<usize>,
    runs: &Mutex<usize>,
) {
    {
        let host = format!("127.0.11.{ip}");
        let tls = ca.issue(&[&host]).server_config();
        let fakes = [
            Fake::start(
                &format!("{host}:993"),
                echo_server(Proto::Imap, imap, outcome, tls.clone()),
            ),
            Fake::start(
                &format!("{host}:995"),
                echo_server(Proto::Pop3, pop3, outcome, tls.clone()),
            ),
            Fake::start(
                &format!("{host}:465"),
                echo_server(Proto::Smtp, smtp, outcome, tls),
            ),
        ];
        let servers: [[String; 4]; 2] = [
            [
                "--incoming".into(),
                format!("imaps://{host}:993"),
                "--outgoing".into(),
                format!("smtps://{host}:465"),
            ],
            [
                "--incoming".into(),
                format!("pop3s://{host}:995"),
                "--outgoing".into(),
                format!("smtps://{host}:465"),
            ],
        ];
        for server in &servers {
            for mode in [&["-v"][..], &["--json"][..], &["-v", "--json"][..]] {
                let mut args = vec![
                    "check",
                    "--timeout",
                    "2",
                    "--ca-file",
                    ca_file.to_str().unwrap(),
                    "--dns",
                    DNS,
                    "--ispdb-url",
                    NOWHERE_ISPDB,
                    "someone@lab.test",
                    flag,
                ];
                args.extend(mode);
                args.extend(server.iter().map(String::as_str));
                let (code, stdout, stderr) = run(&args, SECRET);
                *runs.lock().unwrap() += 1;
                for (name, text) in [("stdout", &stdout), ("stderr", &stderr)] {
                    let found = leaks(text);
                    assert!(
                        found.is_empty(),
                        "{outcome:?} {args:?}: {name} leaked {found:?}:\n{text}"
                    );
                }
                assert!(
                    !stderr.contains("panicked"),
                    "{outcome:?} {args:?}: {stderr}"
                );
                assert!(
                    code == 0 || code == 1,
                    "{outcome:?} {args:?}: exit {code}: {stderr}"
                );
                if stdout.contains("[secret hidden]") || stderr.contains("[secret hidden]") {
                    *hidden.lock().unwrap() += 1;
                }
            }
        }
        for f in &fakes {
            assert!(f.connections() > 0, "{outcome:?}: nobody connected");
        }
        let clear = fakes
            .iter()
            .map(|f| f.received_in_tls())
            .collect::<String>();
        // The secret really was sent to the echoing servers (in some
        // form), so a failure of masking would have shown.
        assert!(
            !leaks(&clear).is_empty()
                || clear.contains(&STANDARD.encode(SECRET)[..8])
                || flag == "--oauth-token-stdin" && imap.contains(&"PLAIN"),
            "{outcome:?} {flag}: the secret never reached the servers:\n{clear}"
        );
    }
}
