//! `mailsetup scan`: ordering, malformed lines, the summary, sharding,
//! resume and Ctrl-C, on the real binary.
//!
//! Most tests use `--offline` (built-in data only), so they need no
//! network; those that need slow servers run in the lab (127.0.15.0/24 and 127.0.16.0/24).

mod lab;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lab::dns::{Dns, Record};
use lab::https::{Reply, Route, Web};
use serde_json::Value;

fn scan(input: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mailsetup"))
        .arg("scan")
        .arg(input)
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// [`scan_text`] asking the lab's `dns`, trusting `ca`, with the lab's
/// ISPDB.
fn scan_lab(
    text: &str,
    dns: &Dns,
    ca: &lab::TestCa,
    extra: &[&str],
) -> (Option<i32>, String, String) {
    let (dns, ca_file) = (dns.addr.to_string(), ca.ca_file());
    let lab = [
        "--dns",
        &dns,
        "--ca-file",
        ca_file.to_str().unwrap(),
        "--ispdb-url",
        ISPDB,
    ];
    scan_text(text, &[extra, &lab[..]].concat())
}

/// [`scan`] of a file holding `text`.
fn scan_text(text: &str, extra: &[&str]) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, text).unwrap();
    scan(&input, extra)
}

fn parse_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Entries by line number (summaries left out), each line at most once.
fn by_line(objects: &[Value]) -> BTreeMap<u64, Value> {
    let mut m = BTreeMap::new();
    for o in objects.iter().filter(|o| o.get("summary").is_none()) {
        let n = o["line"].as_u64().unwrap();
        assert!(m.insert(n, o.clone()).is_none(), "line {n} twice");
    }
    m
}

const INPUT: &str = "# providers people use
gmail.com

someone@msn.com
not a domain
posteo.de
  # an indented comment
a@@b.test
unknown-domain.test
GMX.DE
";

#[test]
fn malformed_lines_get_an_error_object_and_the_summary_comes_last() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    let long = "x".repeat(3000);
    std::fs::write(&input, format!("{INPUT}{long}.test\n")).unwrap();
    let (code, out, err) = scan(&input, &["--offline", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    // Piped: no progress bar, nothing on stderr.
    assert_eq!(err, "");
    let objects = parse_lines(&out);
    let summary = objects.last().unwrap();
    assert_eq!(summary["summary"], true);
    assert_eq!(
        objects
            .iter()
            .filter(|o| o.get("summary").is_some())
            .count(),
        1
    );
    let lines = by_line(&objects);
    assert_eq!(
        lines.keys().copied().collect::<Vec<_>>(),
        [2, 4, 5, 6, 8, 9, 10, 11]
    );
    assert_eq!(lines[&2]["domain"], "gmail.com");
    assert_eq!(lines[&2]["input"], "gmail.com");
    assert_eq!(lines[&2]["source"], "provider-db");
    assert_eq!(lines[&4]["email"], "someone@msn.com");
    assert_eq!(
        lines[&4]["incoming"][0]["url"],
        "imaps://outlook.office365.com:993"
    );
    for n in [5, 8, 11] {
        assert_eq!(lines[&n]["code"], "malformed", "{}", lines[&n]);
        assert!(
            lines[&n]["error"]
                .as_str()
                .unwrap()
                .contains("one address or domain a line")
        );
    }
    assert!(
        lines[&11]["error"]
            .as_str()
            .unwrap()
            .contains("longer than")
    );
    assert_eq!(lines[&9]["code"], "not-found");
    assert_eq!(lines[&10]["domain"], "gmx.de");
    assert_eq!(summary["lines"], 11);
    assert_eq!(summary["entries"], 5);
    assert_eq!(summary["found"], 4);
    assert_eq!(summary["by_source"]["provider-db"], 4);
    assert_eq!(summary["not_found"], 1);
    assert_eq!(summary["malformed"], 3);
    assert_eq!(summary["errors"], 0);
    assert_eq!(summary["interrupted"], false);

    // Standard input, and text output: one line per entry, a summary.
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailsetup"))
        .args(["scan", "-", "--offline"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(INPUT.as_bytes())
        .unwrap();
    let text = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
    assert!(
        text.contains("2\tgmail.com\tprovider-db\timaps://imap.gmail.com:993"),
        "{text}"
    );
    assert!(text.contains("5\tnot a domain\tmalformed:"), "{text}");
    assert!(text.contains("7 entries in "), "{text}");
}

#[test]
fn the_union_of_the_shards_is_the_unsharded_scan_line_for_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    let mut text = String::new();
    for i in 0..40 {
        text.push_str(match i % 5 {
            0 => "gmail.com\n",
            1 => "someone@outlook.com\n",
            2 => "# comment\n",
            3 => "bad domain\n",
            _ => "nowhere.test\n",
        });
    }
    std::fs::write(&input, &text).unwrap();
    let (_, all, _) = scan(&input, &["--offline", "--json"]);
    let all = by_line(&parse_lines(&all));
    assert_eq!(all.len(), 32);
    let mut union = BTreeMap::new();
    for k in 0..3 {
        let (code, out, err) = scan(
            &input,
            &["--offline", "--json", "--shard", &format!("{k}/3")],
        );
        assert_eq!(code, Some(0), "{err}");
        let objects = parse_lines(&out);
        let summary = objects.last().unwrap();
        assert_eq!(summary["lines"], 40);
        for (n, o) in by_line(&objects) {
            assert_eq!((n - 1) % 3, k, "line {n} in shard {k}");
            assert!(union.insert(n, o).is_none());
        }
    }
    assert_eq!(union, all);
    // A bad shard is a usage error.
    let (code, _, err) = scan(&input, &["--offline", "--shard", "3/3"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("K/N"), "{err}");
}

#[test]
fn resume_skips_the_lines_out_holds_and_redoes_a_torn_one() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(
        &input,
        "gmail.com\nposteo.de\nsomeone@msn.com\ngmx.de\nbad one\nweb.de\n",
    )
    .unwrap();
    let out = dir.path().join("out.jsonl");
    let (code, _, err) = scan(
        &input,
        &["--offline", "--json", "-o", out.to_str().unwrap()],
    );
    assert_eq!(code, Some(0), "{err}");
    // As if the first run had died after three lines and half a fourth.
    let full = std::fs::read_to_string(&out).unwrap();
    let kept: Vec<&str> = full.lines().take(3).collect();
    let done: Vec<u64> = kept
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["line"]
                .as_u64()
                .unwrap()
        })
        .collect();
    let fourth = full.lines().nth(3).unwrap();
    std::fs::write(
        &out,
        format!("{}\n{}", kept.join("\n"), &fourth[..fourth.len() / 2]),
    )
    .unwrap();

    let (code, stdout, err) = scan(&input, &["--offline", "--resume", out.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(stdout, "", "results go to OUT");
    let objects = parse_lines(&std::fs::read_to_string(&out).unwrap());
    let lines = by_line(&objects);
    assert_eq!(
        lines.keys().copied().collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
    let summary = objects.last().unwrap();
    assert_eq!(summary["summary"], true);
    assert_eq!(summary["resumed"], 3);
    assert_eq!(
        summary["entries"].as_u64().unwrap() + summary["malformed"].as_u64().unwrap(),
        3
    );
    // Resuming a finished run does nothing more.
    let (_, _, _) = scan(&input, &["--offline", "--resume", out.to_str().unwrap()]);
    let again = parse_lines(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(by_line(&again).len(), 6);
    assert_eq!(again.last().unwrap()["resumed"], 6);
    assert!(done.iter().all(|n| lines.contains_key(n)));
}

use lab::ip;

const ISPDB: &str = "https://ispdb.scan.test/v1.1/";

/// DNS for `*.slow.test` and `fast.test`: autoconfig answers after `delay`
/// for every slow domain, at once for fast.test.
fn slow_lab(b: u8, delay: Duration) -> (lab::TestCa, Dns, Web, Web) {
    let ca = lab::TestCa::new();
    let dns = Dns::start(
        &ip(b, 53),
        &[
            Record::Raw(format!("--address=/slow.test/{}", ip(b, 10))),
            Record::a("autoconfig.fast.test", &ip(b, 11)),
        ],
    );
    let slow_leaf = ca.issue(&["*.slow.test", "autoconfig.a.slow.test"]);
    let slow = Web::start_delayed(
        &ip(b, 10),
        443,
        Some(&slow_leaf),
        vec![Route::get(
            "*",
            "/mail/config-v1.1.xml",
            Reply::xml(config_xml("slow.test")),
        )],
        delay,
    );
    let fast_leaf = ca.issue(&["autoconfig.fast.test"]);
    let fast = Web::start(
        &ip(b, 11),
        443,
        Some(&fast_leaf),
        vec![Route::get(
            "autoconfig.fast.test",
            "/mail/config-v1.1.xml",
            Reply::xml(config_xml("fast.test")),
        )],
    );
    (ca, dns, slow, fast)
}

lab_test! {
    fn entries_are_written_as_they_finish_with_their_line_numbers() {
        let (ca, dns, _slow, _fast) = slow_lab(15, Duration::from_millis(1500));
        let (code, out, err) = scan_lab(
            "a.slow.test\nfast.test\ngmail.com\nsomeone@fast.test\n",
            &dns,
            &ca,
            &["--json", "--timeout", "6"],
        );
        assert_eq!(code, Some(0), "{err}");
        let objects = parse_lines(&out);
        let order: Vec<u64> = objects.iter().filter_map(|o| o["line"].as_u64()).collect();
        // The slow line 1 does not hold up the others: it comes out last.
        assert_eq!(order.len(), 4, "{out}");
        assert_eq!(*order.last().unwrap(), 1, "{order:?}");
        let lines = by_line(&objects);
        assert_eq!(lines[&1]["source"], "autoconfig", "{}", lines[&1]);
        assert_eq!(lines[&1]["domain"], "a.slow.test");
        assert_eq!(lines[&2]["source"], "autoconfig");
        assert_eq!(lines[&4]["incoming"][0]["username"], "someone@fast.test");
        let summary = objects.last().unwrap();
        assert_eq!(summary["by_source"]["autoconfig"], 3);
        assert_eq!(summary["by_source"]["provider-db"], 1);
    }
}

lab_test! {
    fn ctrl_c_leaves_valid_json_lines_and_resume_finishes_the_job() {
        let (ca, dns, _slow, _fast) = slow_lab(16, Duration::from_secs(30));
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.txt");
        let mut text = String::from("gmail.com\nposteo.de\nsomeone@msn.com\n");
        for i in 0..100 {
            text.push_str(&format!("d{i}.slow.test\n"));
        }
        std::fs::write(&input, text).unwrap();
        let out = dir.path().join("out.jsonl");
        let dns_addr = dns.addr.to_string();
        let ca_file = ca.ca_file();
        let args = [
            "--timeout",
            "20",
            "--jobs",
            "8",
            "--dns",
            &dns_addr,
            "--ca-file",
            ca_file.to_str().unwrap(),
            "--ispdb-url",
            ISPDB,
        ];
        let child = Command::new(env!("CARGO_BIN_EXE_mailsetup"))
            .args(["scan", "--json", "-o", out.to_str().unwrap()])
            .arg(&input)
            .args(args)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while std::fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .count()
            < 3
        {
            assert!(start.elapsed() < Duration::from_secs(10), "no output");
            std::thread::sleep(Duration::from_millis(20));
        }
        // Let slow entries be in flight, then Ctrl-C.
        std::thread::sleep(Duration::from_millis(300));
        let ok = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        let stopped = Instant::now();
        let output = child.wait_with_output().unwrap();
        assert!(
            stopped.elapsed() < Duration::from_secs(5),
            "Ctrl-C took {:?}",
            stopped.elapsed()
        );
        assert_eq!(output.status.code(), Some(2));
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(err.contains("--resume"), "{err}");
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.ends_with('\n'));
        let objects = parse_lines(&text);
        let summary = objects.last().unwrap();
        assert_eq!(summary["interrupted"], true);
        assert_eq!(by_line(&objects).len(), 3);

        // With servers that answer now, --resume does the rest and only that.
        drop(_slow);
        let (code, _, err) = scan(
            &input,
            &[
                "--resume",
                out.to_str().unwrap(),
                "--timeout",
                "3",
                "--jobs",
                "50",
                "--dns",
                &dns_addr,
                "--ispdb-url",
                ISPDB,
            ],
        );
        assert_eq!(code, Some(0), "{err}");
        let all = parse_lines(&std::fs::read_to_string(&out).unwrap());
        assert_eq!(by_line(&all).len(), 103);
        assert_eq!(all.last().unwrap()["resumed"], 3);
    }
}

/// The bench's stand-in for the internet's DNS: every answer comes after
/// `delay`, and the names look like a real domain list. Domain `dN.bench.test`
/// is, by N mod 10:
///
/// - 0–3: hosted mail: MX `mxH.hoster.test` (H = N mod 20), an address for
///   the domain and for `mail.` (a hoster's address where nothing listens,
///   so connections are refused at once), nothing else;
/// - 4–5: the same, plus RFC 6186 SRV `_imaps._tcp` and
///   `_submissions._tcp` naming `mailH.hoster.test`;
/// - 6: MX at a provider the built-in table knows (`aspmx.l.google.com`);
/// - 7–9: no such domain.
///
/// So 3 in 10 are found (by SRV or MX); 4 in 10 have mail but publish
/// nothing a client could use.
/// Negative answers carry the zone's SOA, so resolvers may cache them.
struct SlowDns {
    addr: std::net::SocketAddr,
    _thread: std::thread::JoinHandle<()>,
}

/// One answer record: type and data.
enum Rr {
    A([u8; 4]),
    Mx(u16, String),
    Srv(u16, String),
}

/// What the bench's DNS says about `name` (lower case, no trailing dot)
/// and type `qtype`: records, or `None` for "no such name".
fn bench_zone(name: &str, qtype: u16) -> Option<Vec<Rr>> {
    const A: u16 = 1;
    const MX: u16 = 15;
    const SRV: u16 = 33;
    let hoster = |h: u64| [127, 0, 18, h as u8 + 1];
    let only = |t: u16, rr: Rr| if qtype == t { vec![rr] } else { vec![] };
    if ["", "test", "bench.test", "hoster.test"].contains(&name) {
        return Some(vec![]);
    }
    if let Some(host) = name.strip_suffix(".hoster.test") {
        let h = host
            .strip_prefix("mx")
            .or_else(|| host.strip_prefix("mail"))
            .and_then(|h| h.parse::<u64>().ok())?;
        return Some(only(A, Rr::A(hoster(h))));
    }
    let rest = name.strip_suffix(".bench.test")?;
    let (sub, domain) = match rest.rsplit_once('.') {
        Some((sub, d)) => (Some(sub), d),
        None => (None, rest),
    };
    let n: u64 = domain.strip_prefix('d')?.parse().ok()?;
    let h = n % 20;
    match (n % 10, sub) {
        (7..=9, _) => None,
        (6, None) => Some(only(MX, Rr::Mx(10, "aspmx.l.google.com".into()))),
        (_, None) => Some(match qtype {
            MX => vec![Rr::Mx(10, format!("mx{h}.hoster.test"))],
            A => vec![Rr::A([127, 0, 18, 100])],
            _ => vec![],
        }),
        (0..=5, Some("mail")) => Some(only(A, Rr::A(hoster(h)))),
        (4 | 5, Some("_imaps._tcp")) => {
            Some(only(SRV, Rr::Srv(993, format!("mail{h}.hoster.test"))))
        }
        (4 | 5, Some("_submissions._tcp")) => {
            Some(only(SRV, Rr::Srv(465, format!("mail{h}.hoster.test"))))
        }
        _ => None,
    }
}

/// `name` in DNS wire form.
fn wire_name(name: &str, out: &mut Vec<u8>) {
    for label in name.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
}

/// The answer to `query`, or `None` when it is not a question.
fn bench_reply(query: &[u8]) -> Option<Vec<u8>> {
    if query.len() < 12 || query[2] & 0x80 != 0 {
        return None;
    }
    let mut labels = Vec::new();
    let mut i = 12;
    while *query.get(i)? != 0 {
        let len = query[i] as usize;
        labels.push(String::from_utf8_lossy(query.get(i + 1..i + 1 + len)?).to_ascii_lowercase());
        i += 1 + len;
    }
    let qtype = u16::from_be_bytes([*query.get(i + 1)?, *query.get(i + 2)?]);
    let question_end = i + 5;
    query.get(..question_end)?;
    let name = labels.join(".");
    let answers = bench_zone(&name, qtype);
    if std::env::var_os("MAILSETUP_BENCH_DNSLOG").is_some() {
        eprintln!(
            "dns: {name} {qtype} {}",
            answers
                .as_ref()
                .map_or("NX".to_string(), |a| a.len().to_string())
        );
    }
    let mut r = query[..question_end].to_vec();
    r[2] = 0x84 | (query[2] & 0x01); // QR, AA, RD as asked
    r[3] = if answers.is_some() { 0x80 } else { 0x83 }; // RA; NXDOMAIN
    let records = answers.unwrap_or_default();
    let count = |r: &mut Vec<u8>, at: usize, n: usize| {
        r[at..at + 2].copy_from_slice(&(n as u16).to_be_bytes());
    };
    count(&mut r, 6, records.len());
    count(&mut r, 8, usize::from(records.is_empty()));
    count(&mut r, 10, 0);
    for rr in &records {
        r.extend_from_slice(&[0xc0, 0x0c]);
        let (t, data) = match rr {
            Rr::A(ip) => (1u16, ip.to_vec()),
            Rr::Mx(pref, host) => {
                let mut d = pref.to_be_bytes().to_vec();
                wire_name(host, &mut d);
                (15, d)
            }
            Rr::Srv(port, host) => {
                let mut d = vec![0, 10, 0, 10];
                d.extend_from_slice(&port.to_be_bytes());
                wire_name(host, &mut d);
                (33, d)
            }
        };
        r.extend_from_slice(&t.to_be_bytes());
        r.extend_from_slice(&[0, 1, 0, 0, 1, 0x2c]); // IN, TTL 300
        r.extend_from_slice(&(data.len() as u16).to_be_bytes());
        r.extend_from_slice(&data);
    }
    if records.is_empty() {
        // The SOA of "test", so the "no" may be cached for 300 s.
        wire_name("test", &mut r);
        r.extend_from_slice(&[0, 6, 0, 1, 0, 0, 1, 0x2c]);
        let mut d = Vec::new();
        wire_name("ns.test", &mut d);
        wire_name("hostmaster.test", &mut d);
        for v in [1u32, 3600, 600, 86400, 300] {
            d.extend_from_slice(&v.to_be_bytes());
        }
        r.extend_from_slice(&(d.len() as u16).to_be_bytes());
        r.extend_from_slice(&d);
    }
    Some(r)
}

impl SlowDns {
    fn start(ip: &str, delay: Duration) -> SlowDns {
        lab::require();
        let addr: std::net::SocketAddr = format!("{ip}:53").parse().unwrap();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let socket = tokio::net::UdpSocket::bind(addr).await.unwrap();
                ready_tx.send(()).unwrap();
                let mut buf = [0u8; 1500];
                // Replies wait in arrival order, which is the order they
                // are due in: one queue, no task per question.
                let mut due: std::collections::VecDeque<(tokio::time::Instant, Vec<u8>, std::net::SocketAddr)> =
                    std::collections::VecDeque::new();
                loop {
                    let next = due.front().map(|d| d.0);
                    tokio::select! {
                        r = socket.recv_from(&mut buf) => {
                            let Ok((n, from)) = r else { continue };
                            if let Some(reply) = bench_reply(&buf[..n]) {
                                due.push_back((tokio::time::Instant::now() + delay, reply, from));
                            }
                        }
                        _ = tokio::time::sleep_until(next.unwrap_or_else(tokio::time::Instant::now)), if next.is_some() => {
                            let now = tokio::time::Instant::now();
                            while due.front().is_some_and(|d| d.0 <= now) {
                                let (_, reply, to) = due.pop_front().unwrap();
                                let _ = socket.try_send_to(&reply, to);
                            }
                        }
                    }
                }
            });
        });
        ready_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        SlowDns {
            addr,
            _thread: thread,
        }
    }
}

/// Runs a scan of `input` against `dns`; returns the wall time, the peak
/// RSS (kB) and the output lines (the summary last).
fn timed_scan(input: &Path, dns: &SlowDns, extra: &[&str]) -> (Duration, u64, Vec<String>) {
    let bin =
        std::env::var("MAILSETUP_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_mailsetup").into());
    let start = Instant::now();
    let mut child = Command::new(bin)
        .arg("scan")
        .arg(input)
        .args([
            "--json",
            "--timeout",
            "10",
            "--dns",
            &dns.addr.to_string(),
            "--ispdb-url",
            ISPDB,
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let stdout = child.stdout.take().unwrap();
    // Read the output as it comes (as a pipe to a file would).
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stdout)
            .lines()
            .map(Result::unwrap)
            .collect::<Vec<String>>()
    });
    let mut peak = 0u64;
    let mut cpu = 0u64;
    loop {
        // utime + stime, in clock ticks (fields 14 and 15).
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            let fields: Vec<&str> = stat
                .rsplit_once(')')
                .map_or(vec![], |(_, r)| r.split_whitespace().collect());
            let t: u64 = fields[11..13]
                .iter()
                .filter_map(|f| f.parse::<u64>().ok())
                .sum();
            cpu = cpu.max(t);
        }
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            if let Some(kb) = status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
            {
                peak = peak.max(kb);
            }
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = start.elapsed();
    eprintln!(
        "scan: {:.1} s wall, about {:.1} s of CPU (user and system)",
        took.as_secs_f64(),
        cpu as f64 / 100.0
    );
    (took, peak, reader.join().unwrap())
}

/// The entries of a scan's output by line, without what depends on timing:
/// `ms`, and `tried` (the order questions finished in, and which were
/// still open when a better source answered, differ between any two
/// runs). What was found, where, and why not, stays.
fn comparable(lines: &[String]) -> BTreeMap<u64, Value> {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.remove("ms");
                m.remove("tried");
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut objects: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    objects.iter_mut().for_each(strip);
    by_line(&objects)
}

lab_test! {
    /// Throughput, flat memory and sharding against a DNS that answers every
    /// question after 50 ms, with a realistic mix of domains ([`SlowDns`]). In
    /// CI, 200 domains, a loose floor and no shards; `bench/scan.sh` sets
    /// `MAILSETUP_BENCH_SCAN=1` for 10,000 domains at 500 a second or more,
    /// the same peak memory for 1,000,000 input lines, and 4 shards whose
    /// union is the unsharded scan.
    fn scan_throughput_and_flat_memory_against_slow_dns() {
        let full = std::env::var("MAILSETUP_BENCH_SCAN").ok();
        // In CI (a debug build on a shared machine) only a floor that
        // catches entries running one after another: 200 domains at a second
        // each would take minutes.
        let (n, floor) = match full.as_deref().map(str::parse::<u64>) {
            Some(Ok(n)) if n > 1 => (n, 500.0),
            Some(_) => (10_000u64, 500.0),
            None => (200, 5.0),
        };
        let dns = SlowDns::start(&ip(17, 53), Duration::from_millis(50));
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("small.txt");
        let big = dir.path().join("big.txt");
        {
            let mut f = std::io::BufWriter::new(std::fs::File::create(&small).unwrap());
            for i in 0..n {
                writeln!(f, "d{i}.bench.test").unwrap();
            }
            // 100 times the lines; --shard 0/100 takes every 100th, which are
            // the lines of the small file, so the work is the same and only
            // the input grows.
            let mut g = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
            for i in 0..n * 100 {
                if i % 100 == 0 {
                    writeln!(g, "d{}.bench.test", i / 100).unwrap();
                } else {
                    writeln!(g, "x{i}.bench.test").unwrap();
                }
            }
        }
        let (took, peak_small, out) = timed_scan(&small, &dns, &[]);
        if let Some(path) = std::env::var_os("MAILSETUP_BENCH_OUT") {
            std::fs::write(path, out.join("\n")).unwrap();
        }
        let rate = n as f64 / took.as_secs_f64();
        let summary: Value = serde_json::from_str(out.last().unwrap()).unwrap();
        assert_eq!(summary["summary"], true);
        assert_eq!(summary["entries"], n);
        let count = |k: &str| summary[k].as_u64().unwrap();
        println!(
            "scan: {n} domains in {:.1} s = {rate:.0}/s (DNS answers after 50 ms): {} found {}, {} not found, {} errors",
            took.as_secs_f64(),
            count("found"),
            summary["by_source"],
            count("not_found"),
            count("errors"),
        );
        assert_eq!(count("found") + count("not_found") + count("errors"), n);
        // A slow scan shows here as errors (entries past their deadline):
        // at most one in a thousand.
        assert!(count("errors") <= n / 1000, "{summary}");
        assert!(count("found") >= n * 3 / 10, "{summary}");
        let (took_big, peak_big, out_big) = timed_scan(&big, &dns, &["--shard", "0/100"]);
        let summary_big: Value = serde_json::from_str(out_big.last().unwrap()).unwrap();
        assert_eq!(summary_big["lines"], n * 100);
        assert_eq!(summary_big["entries"], n);
        println!(
            "scan: peak RSS {peak_small} kB for {n} lines, {peak_big} kB for {} lines ({:.1} s)",
            n * 100,
            took_big.as_secs_f64()
        );
        // Memory does not grow with the input: 100 times the lines, at most a
        // quarter more memory (allocator noise), never 100 times.
        assert!(
            peak_big <= peak_small + peak_small / 4,
            "peak RSS {peak_big} kB for {} lines against {peak_small} kB for {n}",
            n * 100
        );
        // The union of 4 shards is the unsharded scan, line for line (in CI
        // the offline shard test stands for this).
        if full.is_none() {
            assert!(rate >= floor, "{rate:.0}/s is below {floor}/s");
            return;
        }
        let all = comparable(&out);
        let mut union = BTreeMap::new();
        for k in 0..4 {
            let (_, _, part) = timed_scan(&small, &dns, &["--shard", &format!("{k}/4")]);
            for (line, v) in comparable(&part) {
                assert_eq!((line - 1) % 4, k);
                assert!(union.insert(line, v).is_none());
            }
        }
        assert_eq!(union.len(), all.len());
        let differ: Vec<u64> = all
            .iter()
            .filter(|(l, v)| union.get(l) != Some(v))
            .map(|(l, _)| *l)
            .collect();
        assert!(
            differ.is_empty(),
            "{} lines differ, the first: {} against {}",
            differ.len(),
            all[&differ[0]],
            union[&differ[0]]
        );
        println!(
            "scan: the union of 4 shards equals the unsharded scan, {} lines",
            all.len()
        );
        assert!(rate >= floor, "{rate:.0}/s is below {floor}/s");
    }
}

/// An autoconfig file for `d`: IMAP on 993 and SMTP on 465 at `mail.d`.
fn config_xml(d: &str) -> String {
    let mail = format!("mail.{d}");
    lab::autoconfig::Autoconfig::new(d)
        .imap(&mail, 993, "SSL")
        .smtp(&mail, 465, "SSL")
        .xml()
}

/// A host that counts its connections, on every port discovery may use:
/// each is held `hold`, then closed by the host (so a client's slot is
/// free only after the host has counted the connection gone).
struct Counter {
    now: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    peak: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    total: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Counter {
    fn start(ip: &str, hold: Duration) -> Counter {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let total = Arc::new(AtomicUsize::new(0));
        for port in [443, 80, 993, 143, 995, 110, 465, 587] {
            let l = std::net::TcpListener::bind((ip, port)).unwrap();
            let (now, peak, total) = (now.clone(), peak.clone(), total.clone());
            std::thread::spawn(move || {
                for conn in l.incoming() {
                    let Ok(conn) = conn else { continue };
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(n, Ordering::SeqCst);
                    total.fetch_add(1, Ordering::SeqCst);
                    let now = now.clone();
                    std::thread::spawn(move || {
                        std::thread::sleep(hold);
                        now.fetch_sub(1, Ordering::SeqCst);
                        drop(conn);
                    });
                }
            });
        }
        Counter { now, peak, total }
    }

    /// (peak, total) since the last call; starts again from zero.
    fn take(&self) -> (usize, usize) {
        use std::sync::atomic::Ordering;
        while self.now.load(Ordering::SeqCst) > 0 {
            std::thread::sleep(Duration::from_millis(10));
        }
        (
            self.peak.swap(0, Ordering::SeqCst),
            self.total.swap(0, Ordering::SeqCst),
        )
    }
}

lab_test! {
    fn per_host_limits_the_connections_lookups_make_to_one_host() {
        // Twelve domains, every name under them at one hoster's address: each
        // lookup fetches configurations there (HTTPS, HTTP) and probes
        // guessed servers there (IMAP, POP3, SMTP).
        let host = ip(19, 10);
        let counter = Counter::start(&host, Duration::from_millis(40));
        let mut records = Vec::new();
        for i in 0..12 {
            let d = format!("d{i}.hosted.test");
            records.push(Record::mx(&d, &format!("mail.{d}"), 10));
            for name in [
                d.clone(),
                format!("autoconfig.{d}"),
                format!("autodiscover.{d}"),
                format!("mail.{d}"),
                format!("imap.{d}"),
            ] {
                records.push(Record::a(&name, &host));
            }
        }
        let dns = Dns::start(&ip(19, 53), &records);
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.txt");
        let domains: String = (0..12).map(|i| format!("d{i}.hosted.test\n")).collect();
        std::fs::write(&input, domains).unwrap();
        let dns_addr = dns.addr.to_string();
        let run = |extra: &[&str]| {
            let mut args = vec![
                "--json",
                "--jobs",
                "12",
                "--timeout",
                "30",
                "--dns",
                &dns_addr,
                "--ispdb-url",
                ISPDB,
            ];
            args.extend_from_slice(extra);
            let (code, out, err) = scan(&input, &args);
            assert_eq!(code, Some(0), "{err}");
            let objects = parse_lines(&out);
            let summary = objects.last().unwrap();
            assert_eq!(summary["entries"], 12, "{summary}");
            assert_eq!(summary["errors"], 0, "{summary}");
            let (peak, total) = counter.take();
            assert!(total > 0, "no connection reached the host: {out}");
            (peak, total)
        };
        // Without a limit, the lookups crowd the host.
        let (peak, total) = run(&[]);
        assert!(peak > 2, "only {peak} at once in {total} connections");
        // With --per-host 2, never more than two at once, and every lookup
        // still made its connections.
        let (limited_peak, limited_total) = run(&["--per-host", "2"]);
        assert!(
            (1..=2).contains(&limited_peak),
            "{limited_peak} connections at once with --per-host 2"
        );
        assert!(
            limited_total >= 12 * 6,
            "{limited_total} connections (without the limit: {total})"
        );
    }
}

lab_test! {
    fn per_host_chains_redirecting_to_each_others_hosts_both_finish() {
        // ra.test's configuration redirects to a name at rb.test's host,
        // and rb.test's to one at ra.test's. With one slot per host, a
        // chain that kept its first host's slot while waiting for the
        // next would wait for the other chain until the deadline, and
        // find nothing: each hop gives its slot back first.
        let ca = lab::TestCa::new();
        let (a, b) = (ip(21, 10), ip(21, 11));
        let path = "/mail/config-v1.1.xml";
        // Every answer after 300 ms, so both chains hold their first host
        // at the same time.
        let web = |ip: &str, own: &str, other: &str| {
            let leaf = ca.issue(&[&format!("autoconfig.{own}"), &format!("cfg.{own}")]);
            Web::start_delayed(
                ip,
                443,
                Some(&leaf),
                vec![
                    Route::get(
                        &format!("autoconfig.{own}"),
                        path,
                        Reply::Redirect(302, format!("https://cfg.{other}/{own}.xml")),
                    ),
                    Route::get(
                        &format!("cfg.{own}"),
                        &format!("/{other}.xml"),
                        Reply::xml(config_xml(other)),
                    ),
                ],
                Duration::from_millis(300),
            )
        };
        let _web_a = web(&a, "ra.test", "rb.test");
        let _web_b = web(&b, "rb.test", "ra.test");
        let dns = Dns::start(
            &ip(21, 53),
            &[
                Record::a("autoconfig.ra.test", &a),
                Record::a("cfg.ra.test", &a),
                Record::a("autoconfig.rb.test", &b),
                Record::a("cfg.rb.test", &b),
            ],
        );
        let (code, out, err) = scan_lab(
            "ra.test\nrb.test\n",
            &dns,
            &ca,
            &["--json", "--jobs", "2", "--per-host", "1", "--timeout", "8"],
        );
        assert_eq!(code, Some(0), "{err}");
        let objects = parse_lines(&out);
        let summary = objects.last().unwrap();
        assert_eq!(summary["found"], 2, "{out}");
        assert_eq!(summary["by_source"]["autoconfig"], 2, "{out}");
    }
}

/// A public-looking address (11.0.20.0/24 is public address space; it
/// exists only on this lab's loopback) for the audit test.
fn add_public(net: &str) {
    lab::require();
    let _ = Command::new("ip")
        .args(["addr", "add", net, "dev", "lo"])
        .status();
}

lab_test! {
    fn audit_scan_reaches_a_private_domain_after_a_public_one_but_no_redirect_does() {
        add_public("11.0.20.0/24");
        let (public, private) = ("11.0.20.1", ip(20, 10));
        let ca = lab::TestCa::new();
        let path = "/mail/config-v1.1.xml";
        let well_known = "/.well-known/autoconfig/mail/config-v1.1.xml";
        let leaf = ca.issue(&["autoconfig.public.test", "public.test"]);
        let _public_web = Web::start(
            public,
            443,
            Some(&leaf),
            vec![
                Route::get(
                    "autoconfig.public.test",
                    path,
                    Reply::xml(config_xml("public.test")),
                ),
                // A public host sending the audit to a private address.
                Route::get(
                    "public.test",
                    well_known,
                    Reply::Redirect(302, format!("https://inside.public.test{well_known}")),
                ),
            ],
        );
        let leaf = ca.issue(&["autoconfig.private.test", "inside.public.test"]);
        let private_web = Web::start(
            &private,
            443,
            Some(&leaf),
            vec![
                Route::get(
                    "autoconfig.private.test",
                    path,
                    Reply::xml(config_xml("private.test")),
                ),
                Route::get(
                    "inside.public.test",
                    well_known,
                    Reply::xml(config_xml("public.test")),
                ),
            ],
        );
        let dns = Dns::start(
            &ip(20, 53),
            &[
                Record::a("autoconfig.public.test", public),
                Record::a("public.test", public),
                Record::a("inside.public.test", &private),
                Record::a("autoconfig.private.test", &private),
            ],
        );
        // The public domain first, one entry at a time.
        let (code, out, err) = scan_lab(
            "public.test\nprivate.test\n",
            &dns,
            &ca,
            &["--audit", "--json", "--jobs", "1", "--timeout", "10"],
        );
        assert!(matches!(code, Some(0 | 1)), "{err}");
        let objects = parse_lines(&out);
        let lines = by_line(&objects);
        // The summary counts, per finding code, the domains that have it
        // (info findings, such as source-ok, aside), and the domains with
        // an error.
        let summary = objects.last().unwrap();
        let mut want: BTreeMap<String, u64> = BTreeMap::new();
        let mut with_errors = 0;
        for entry in lines.values() {
            let findings = entry["findings"].as_array().unwrap();
            let codes: std::collections::BTreeSet<&str> = findings
                .iter()
                .filter(|f| f["severity"] != "info")
                .map(|f| f["code"].as_str().unwrap())
                .collect();
            for c in codes {
                *want.entry(c.to_string()).or_default() += 1;
            }
            with_errors += u64::from(findings.iter().any(|f| f["severity"] == "error"));
        }
        let got: BTreeMap<String, u64> =
            serde_json::from_value(summary["findings"].clone()).unwrap_or_default();
        assert!(!want.is_empty(), "{out}");
        assert_eq!(got, want, "{summary}");
        assert_eq!(summary["domains_with_errors"], with_errors, "{summary}");
        assert_eq!(summary["entries"], 2);
        let source = |line: u64, asked: &str| -> Value {
            lines[&line]["sources"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["asked"].as_str().unwrap().starts_with(asked))
                .unwrap_or_else(|| panic!("{asked} not asked: {}", lines[&line]))
                .clone()
        };
        let public_config = source(1, "https://autoconfig.public.test/");
        assert_eq!(public_config["result"], "found", "{public_config}");
        // The redirect from the public host to a private address was not
        // followed: the private server never saw that request.
        let redirected = source(1, "https://public.test/.well-known/");
        assert_ne!(redirected["result"], "found", "{redirected}");
        assert!(
            redirected["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("redirect from a public host"),
            "{redirected}"
        );
        assert!(
            private_web
                .requests()
                .iter()
                .all(|r| r.host != "inside.public.test"),
            "{:?}",
            private_web.requests()
        );
        // The private domain, audited after the public one, is reached.
        let private_config = source(2, "https://autoconfig.private.test/");
        assert_eq!(private_config["result"], "found", "{private_config}");
        assert_eq!(lines[&2]["domain"], "private.test");
    }
}
