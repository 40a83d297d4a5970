//! A whole lab setup in one expression: DNS records, HTTPS servers with
//! certificates from the one [`TestCa`], and mail greeters, then `lookup`,
//! `check` or `profile` run against them.
//!
//! ```ignore
//! let lab = Scenario::new("127.0.1.20")
//!     .https(1, &["autoconfig.ac.test"], vec![Route::get("autoconfig.ac.test", PATH, reply)])
//!     .greeter(2, &["imap.ac.test"], 993, "* OK")
//!     .start();
//! let run = lab.lookup("jane@ac.test", &[]);
//! ```
//!
//! Host `n` of a scenario is its base address with `n` added to the last
//! octet; the DNS server listens on the base address itself. Every name
//! given to [`Scenario::https`] or [`Scenario::greeter`] gets an A record
//! for its host, and a certificate for all of them.

use std::net::Ipv4Addr;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::TestCa;
use super::dns::{Dns, Record};
use super::greeter::Greeter;
use super::https::{Route, Web};

/// The ISPDB URL every scenario's commands use; a test serves it with
/// [`Scenario::https`] for `ispdb.lab.test` when it needs one.
pub const ISPDB: &str = "https://ispdb.lab.test/v1.1/";

/// What to start.
pub struct Scenario {
    base: Ipv4Addr,
    records: Vec<Record>,
    webs: Vec<(u8, Vec<String>, Vec<Route>)>,
    greeters: Vec<(u8, Vec<String>, u16, String)>,
}

/// A started scenario: everything runs until it is dropped.
pub struct Lab {
    /// The CA that issued every certificate (for `--ca-file`).
    pub ca: TestCa,
    /// The DNS server.
    pub dns: Dns,
    /// The web servers, in the order they were added.
    pub webs: Vec<Web>,
    /// The greeters, in the order they were added.
    pub greeters: Vec<Greeter>,
    base: Ipv4Addr,
}

/// What a `--json` command printed, and how it ended.
pub struct Run {
    /// The exit status.
    pub code: Option<i32>,
    /// Standard output, read as one JSON document.
    pub json: Value,
    /// Standard error.
    pub stderr: String,
    /// How long the command took.
    pub elapsed: Duration,
}

fn host(base: Ipv4Addr, n: u8) -> String {
    let [a, b, c, d] = base.octets();
    Ipv4Addr::new(a, b, c, d + n).to_string()
}

impl Scenario {
    /// A scenario whose DNS server listens on `base` (an address of the
    /// test's own block, see the address plan in `lab`).
    pub fn new(base: &str) -> Scenario {
        Scenario {
            base: base.parse().expect("an IPv4 address"),
            records: Vec::new(),
            webs: Vec::new(),
            greeters: Vec::new(),
        }
    }

    /// Host `n`'s address.
    pub fn ip(&self, n: u8) -> String {
        host(self.base, n)
    }

    /// One more DNS record.
    pub fn record(mut self, r: Record) -> Scenario {
        self.records.push(r);
        self
    }

    /// An HTTPS server on host `n`, port 443, for `names`, answering
    /// `routes`.
    pub fn https(mut self, n: u8, names: &[&str], routes: Vec<Route>) -> Scenario {
        self.webs
            .push((n, names.iter().map(|s| s.to_string()).collect(), routes));
        self
    }

    /// A mail greeter on host `n` at `port`, over TLS from the first byte
    /// with a certificate for `names`, greeting with `greeting`.
    pub fn greeter(mut self, n: u8, names: &[&str], port: u16, greeting: &str) -> Scenario {
        self.greeters.push((
            n,
            names.iter().map(|s| s.to_string()).collect(),
            port,
            greeting.to_string(),
        ));
        self
    }

    /// Starts it all: the CA, then the servers, then DNS.
    pub fn start(self) -> Lab {
        super::require();
        let ca = TestCa::new();
        let mut records = self.records;
        let mut webs = Vec::new();
        for (n, names, routes) in self.webs {
            let ip = host(self.base, n);
            records.extend(names.iter().map(|name| Record::a(name, &ip)));
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let leaf = ca.issue(&names);
            webs.push(Web::start(&ip, 443, Some(&leaf), routes));
        }
        let mut greeters = Vec::new();
        for (n, names, port, greeting) in self.greeters {
            let ip = host(self.base, n);
            records.extend(names.iter().map(|name| Record::a(name, &ip)));
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let leaf = ca.issue(&names);
            greeters.push(Greeter::start(
                &ip,
                port,
                Some(&leaf),
                &greeting,
                Duration::ZERO,
            ));
        }
        let dns = Dns::start(&self.base.to_string(), &records);
        Lab {
            ca,
            dns,
            webs,
            greeters,
            base: self.base,
        }
    }
}

impl Lab {
    /// Host `n`'s address.
    pub fn ip(&self, n: u8) -> String {
        host(self.base, n)
    }

    /// `mailsetup SUBCOMMAND` with this lab's resolver, CA and ISPDB, and a
    /// 6 s deadline unless `args` give one.
    pub fn command(&self, subcommand: &str, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mailsetup"));
        c.arg(subcommand)
            .args(["--dns", &self.dns.addr.to_string()])
            .args(["--ispdb-url", ISPDB])
            .arg("--ca-file")
            .arg(self.ca.ca_file())
            .env("RUST_BACKTRACE", "1");
        if !args.contains(&"--timeout") {
            c.args(["--timeout", "6"]);
        }
        c.args(args);
        c
    }

    /// Runs `mailsetup SUBCOMMAND ARGS`.
    pub fn run(&self, subcommand: &str, args: &[&str]) -> Output {
        self.command(subcommand, args)
            .output()
            .expect("the binary runs")
    }

    /// `mailsetup lookup --json ARGS EMAIL`.
    pub fn lookup(&self, email: &str, args: &[&str]) -> Run {
        self.json("lookup", &[args, &[email]].concat())
    }

    /// `mailsetup check --json ARGS`.
    pub fn check(&self, args: &[&str]) -> Run {
        self.json("check", args)
    }

    /// `mailsetup profile ARGS`.
    pub fn profile(&self, args: &[&str]) -> Output {
        self.run("profile", args)
    }

    fn json(&self, subcommand: &str, args: &[&str]) -> Run {
        json_run(self.command(subcommand, &[&["--json"], args].concat()))
    }
}

/// Runs `command` (a `mailsetup … --json`), which must not panic and must
/// print one JSON document. `MAILSETUP_TEST_SHOW=1` prints what it printed
/// (with `--nocapture`).
pub fn json_run(mut command: Command) -> Run {
    let start = Instant::now();
    let out = command.output().expect("the binary runs");
    let elapsed = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if std::env::var_os("MAILSETUP_TEST_SHOW").is_some() {
        eprintln!("{}\n{stderr}", String::from_utf8_lossy(&out.stdout));
    }
    assert!(
        !stderr.contains("panicked"),
        "mailsetup panicked:\n{stderr}"
    );
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}); stderr:\n{stderr}"));
    Run {
        code: out.status.code(),
        json,
        stderr,
        elapsed,
    }
}

impl Run {
    /// Asserts the command exited 0 (settings found).
    pub fn found(&self) -> &Self {
        assert_eq!(self.code, Some(0), "{}\n{}", self.json, self.stderr);
        self
    }

    /// The `tried` entries whose url contains `part`.
    pub fn tried(&self, part: &str) -> Vec<&Value> {
        self.json["tried"]
            .as_array()
            .expect("a tried list")
            .iter()
            .filter(|t| t["url"].as_str().unwrap_or_default().contains(part))
            .collect()
    }

    /// The one `tried` entry whose url contains `part`.
    pub fn entry(&self, part: &str) -> &Value {
        let t = self.tried(part);
        assert_eq!(t.len(), 1, "entries for {part}: {}", self.json["tried"]);
        t[0]
    }

    /// The `detail` of [`Run::entry`], or "".
    pub fn detail(&self, part: &str) -> String {
        self.entry(part)["detail"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The urls of the servers under `key` (`incoming` or `outgoing`).
    pub fn urls(&self, key: &str) -> Vec<String> {
        self.json[key]
            .as_array()
            .unwrap_or_else(|| panic!("no {key} in {}", self.json))
            .iter()
            .map(|s| s["url"].as_str().unwrap().to_string())
            .collect()
    }
}
