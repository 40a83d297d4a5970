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
    let config = |d: &str| {
        format!(
            r#"<clientConfig version="1.1"><emailProvider id="{d}"><domain>{d}</domain>
<incomingServer type="imap"><hostname>imap.{d}</hostname><port>993</port><socketType>SSL</socketType><username>%EMAILADDRESS%</username><authentication>password-cleartext</authentication></incomingServer>
<outgoingServer type="smtp"><hostname>smtp.{d}</hostname><port>465</port><socketType>SSL</socketType><username>%EMAILADDRESS%</username><authentication>password-cleartext</authentication></outgoingServer>
</emailProvider></clientConfig>"#
        )
    };
    let slow_leaf = ca.issue(&["*.slow.test", "autoconfig.a.slow.test"]);
    let slow = Web::start_delayed(
        &ip(b, 10),
        443,
        Some(&slow_leaf),
        vec![Route::get(
            "*",
            "/mail/config-v1.1.xml",
            Reply::xml(config("slow.test")),
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
            Reply::xml(config("fast.test")),
        )],
    );
    (ca, dns, slow, fast)
}

lab_test! {
    fn entries_are_written_as_they_finish_with_their_line_numbers() {
        let (ca, dns, _slow, _fast) = slow_lab(15, Duration::from_millis(1500));
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.txt");
        std::fs::write(
            &input,
            "a.slow.test\nfast.test\ngmail.com\nsomeone@fast.test\n",
        )
        .unwrap();
        let (code, out, err) = scan(
            &input,
            &[
                "--json",
                "--timeout",
                "6",
                "--dns",
                &dns.addr.to_string(),
                "--ca-file",
                ca.ca_file().to_str().unwrap(),
                "--ispdb-url",
                ISPDB,
            ],
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

/// A DNS server that answers every question "no such name" after
/// `delay`: the lab's stand-in for the internet's resolvers, for the
/// throughput test.
struct SlowDns {
    addr: std::net::SocketAddr,
    _thread: std::thread::JoinHandle<()>,
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
                let socket = std::sync::Arc::new(tokio::net::UdpSocket::bind(addr).await.unwrap());
                ready_tx.send(()).unwrap();
                let mut buf = [0u8; 1500];
                loop {
                    let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                        continue;
                    };
                    if n < 12 {
                        continue;
                    }
                    // The query with QR set, RA set, RCODE 3 (NXDOMAIN), no
                    // answers; an EDNS record, if any, dropped.
                    let mut reply = buf[..n].to_vec();
                    reply[2] = 0x80 | (reply[2] & 0x01);
                    reply[3] = 0x83;
                    reply[6..12].fill(0);
                    // Keep the question only: find its end.
                    let mut i = 12;
                    while i < reply.len() && reply[i] != 0 {
                        i += 1 + reply[i] as usize;
                    }
                    let end = (i + 5).min(reply.len());
                    reply.truncate(end);
                    let socket = socket.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        let _ = socket.send_to(&reply, from).await;
                    });
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

/// Runs a scan of `input` against `dns`, output thrown away; returns the
/// wall time, the peak RSS (kB) and the summary.
fn timed_scan(input: &Path, dns: &SlowDns, extra: &[&str]) -> (Duration, u64, Value) {
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
    // Read the output as it comes (as a pipe to a file would), keeping
    // only the last line.
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut last = String::new();
        for l in std::io::BufReader::new(stdout).lines() {
            last = l.unwrap();
        }
        last
    });
    let mut peak = 0u64;
    loop {
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
    let last = reader.join().unwrap();
    (took, peak, serde_json::from_str(&last).unwrap())
}

lab_test! {
    /// Throughput and memory against a DNS that answers every question after
    /// 50 ms. In CI, 200 domains and a loose floor; `bench/scan.sh` sets
    /// `MAILSETUP_BENCH_SCAN=1` for 10,000 domains at 500 a second or more,
    /// and the same peak memory for 1,000,000 input lines.
    fn scan_throughput_and_flat_memory_against_slow_dns() {
        let full = std::env::var_os("MAILSETUP_BENCH_SCAN").is_some();
        // In CI (a debug build on a shared machine) only a floor that
        // catches entries running one after another: 200 domains at a second
        // each would take minutes.
        let (n, floor) = if full { (10_000u64, 500.0) } else { (200, 5.0) };
        let dns = SlowDns::start(&ip(17, 53), Duration::from_millis(50));
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("small.txt");
        let big = dir.path().join("big.txt");
        {
            let mut f = std::io::BufWriter::new(std::fs::File::create(&small).unwrap());
            for i in 0..n {
                writeln!(f, "d{i}.bench{}.test", i % 97).unwrap();
            }
            // 100 times the lines; --shard 0/100 keeps the same number of
            // entries, so every line is read but the work is the same.
            let mut g = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
            for i in 0..n * 100 {
                writeln!(g, "d{i}.bench{}.test", i % 97).unwrap();
            }
        }
        let (took, peak_small, summary) = timed_scan(&small, &dns, &[]);
        let rate = n as f64 / took.as_secs_f64();
        assert_eq!(summary["summary"], true);
        assert_eq!(summary["entries"], n);
        assert_eq!(
            summary["not_found"].as_u64().unwrap() + summary["errors"].as_u64().unwrap(),
            n
        );
        let (took_big, peak_big, summary_big) = timed_scan(&big, &dns, &["--shard", "0/100"]);
        assert_eq!(summary_big["lines"], n * 100);
        assert_eq!(summary_big["entries"], n);
        println!(
            "scan: {n} domains in {:.1} s = {rate:.0}/s (DNS answers after 50 ms); peak RSS {peak_small} kB for {n} lines, {peak_big} kB for {} lines ({:.1} s)",
            took.as_secs_f64(),
            n * 100,
            took_big.as_secs_f64()
        );
        assert!(rate >= floor, "{rate:.0}/s is below {floor}/s");
        // Memory does not grow with the input: 100 times the lines, at most a
        // quarter more memory (allocator noise), never 100 times.
        assert!(
            peak_big <= peak_small + peak_small / 4,
            "peak RSS {peak_big} kB for {} lines against {peak_small} kB for {n}",
            n * 100
        );
    }
}
