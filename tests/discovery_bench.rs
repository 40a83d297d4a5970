//! The discovery benchmark: every source's server answers only after the
//! same latency L, and the total lookup time (the real binary, start to
//! exit) is compared with L.
//!
//! - A domain answered by autoconfig: total / L must be at most 1.3 — the
//!   sources run at once, and the slower ones are not waited for.
//! - A domain that needs guessing: total under 2 × L + 100 ms — guessing
//!   starts with everything else, not after it.
//!
//! `bench/discovery.sh` runs it in the lab and prints the ratios;
//! `MAILSETUP_BENCH_LATENCY_MS` sets L (default 1000).

mod lab;

use std::process::Command;
use std::time::{Duration, Instant};

use lab::TestCa;
use lab::dns::{Dns, Record};
use lab::greeter::Greeter;
use lab::https::{Reply, Route, Web};

const RUNS: usize = 3;

fn latency() -> Duration {
    let ms = std::env::var("MAILSETUP_BENCH_LATENCY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    Duration::from_millis(ms)
}

fn ip(n: u8) -> String {
    lab::ip(1, 230 + n)
}

/// The median total time of `RUNS` lookups of `email`.
fn median_lookup(dns: &Dns, ca: &TestCa, email: &str, want_source: &str) -> Duration {
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            let out = Command::new(env!("CARGO_BIN_EXE_mailsetup"))
                .args(["lookup", "--json", "--timeout", "10", "--dns"])
                .arg(dns.addr.to_string())
                .arg("--ca-file")
                .arg(ca.ca_file())
                .args(["--ispdb-url", "https://ispdb.lab.test/v1.1/", email])
                .output()
                .unwrap();
            let took = start.elapsed();
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(v["source"], want_source, "{v}");
            took
        })
        .collect();
    times.sort();
    times[RUNS / 2]
}

lab_test! {
    fn discovery_time_is_about_one_latency() {
        let l = latency();
        let ca = TestCa::new();
        let dns = Dns::start(
            &ip(0),
            &[
                Record::a("ispdb.lab.test", &ip(1)),
                Record::a("autoconfig.fast.test", &ip(2)),
                Record::a("autodiscover.fast.test", &ip(2)),
                Record::a("imap.fast.test", &ip(3)),
                Record::a("smtp.fast.test", &ip(3)),
                Record::a("autoconfig.guessed.test", &ip(4)),
                Record::a("autodiscover.guessed.test", &ip(4)),
                Record::a("imap.guessed.test", &ip(5)),
                Record::a("smtp.guessed.test", &ip(5)),
            ],
        );
        let ispdb = ca.issue(&["ispdb.lab.test"]);
        let _ispdb = Web::start_delayed(&ip(1), 443, Some(&ispdb), vec![], l);
        let config = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/ispdb/a1.net.xml"
        ))
        .unwrap();
        let mut servers = Vec::new();
        let mut greeters = Vec::new();
        for (domain, web_ip, mail_ip, routes) in [
            (
                "fast.test",
                ip(2),
                ip(3),
                vec![Route::get(
                    "autoconfig.fast.test",
                    "/mail/config-v1.1.xml",
                    Reply::xml(config.clone()),
                )],
            ),
            ("guessed.test", ip(4), ip(5), vec![]),
        ] {
            let leaf = ca.issue(&[
                &format!("autoconfig.{domain}"),
                &format!("autodiscover.{domain}"),
            ]);
            servers.push(Web::start_delayed(&web_ip, 443, Some(&leaf), routes, l));
            let mail = ca.issue(&[&format!("imap.{domain}"), &format!("smtp.{domain}")]);
            greeters.push(Greeter::start(&mail_ip, 993, Some(&mail), "* OK", l));
            greeters.push(Greeter::start(&mail_ip, 465, Some(&mail), "220 ready", l));
        }

        let fast = median_lookup(&dns, &ca, "a@fast.test", "autoconfig");
        let guessed = median_lookup(&dns, &ca, "a@guessed.test", "guess");
        let ratio = |t: Duration| t.as_secs_f64() / l.as_secs_f64();
        println!(
            "discovery benchmark, latency L = {} ms (median of {RUNS})",
            l.as_millis()
        );
        println!(
            "  autoconfig domain: {:>6} ms  total/L = {:.2}  (target <= 1.30)",
            fast.as_millis(),
            ratio(fast)
        );
        println!(
            "  guessed domain:    {:>6} ms  total/L = {:.2}  (target < 2 x L + 100 ms = {:.2})",
            guessed.as_millis(),
            ratio(guessed),
            2.0 + 0.1 / l.as_secs_f64()
        );
        assert!(ratio(fast) <= 1.3, "autoconfig: {fast:?} for L = {l:?}");
        assert!(
            guessed < 2 * l + Duration::from_millis(100),
            "guess: {guessed:?} for L = {l:?}"
        );
    }
}
