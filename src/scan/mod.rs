//! `scan`: lookups (or domain audits) for a whole file of addresses and
//! domains, as fast as the network allows and no faster than the targets
//! should bear.
//!
//! The engine, in one pass over the input:
//!
//! - **input** ([`input`]): streamed line by line on a thread of its own,
//!   never loaded whole; blank lines and `#` comments are skipped; a line
//!   that is neither an address nor a domain gets an error object and the
//!   scan goes on. `--shard K/N` keeps every N-th line from K, `--resume`
//!   ([`resume`]) skips the lines an earlier run's output holds.
//! - **work**: at most `jobs` entries at once, each bounded by one
//!   deadline (`--timeout`); every entry shares one resolver (one DNS
//!   cache), one trust store and one table of per-host connection limits
//!   ([`limit`]), which every connection discovery, probes and audits
//!   make goes through.
//! - **output**: one JSON object a line, in the order entries finish, each
//!   with its input line number; every line is written whole and flushed
//!   at once, so an interrupted scan leaves valid JSON Lines behind. The
//!   last line is the [`Summary`], with `"summary": true`.
//!
//! Memory does not grow with the input: the queue between reader and
//! workers is bounded, results leave as soon as they are done, and the
//! resume set is a bit per line.

pub mod input;
pub mod resume;

pub use crate::net::limit;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::io::{BufRead, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::task::JoinSet;

use crate::address::EmailAddress;
use crate::discover::{SetupError, Shared};
use crate::lookup::{self, Lookup, Options, Tried, TryResult};
use crate::settings::Source;
use input::{Line, Lines, Shard, Target};
use limit::HostLimits;
use resume::LineSet;

/// How a scan runs.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Discovery options; `timeout` is the deadline of each entry.
    pub lookup: Options,
    /// Entries at once.
    pub jobs: usize,
    /// Connections at once per target host (0: no limit).
    pub per_host: usize,
    /// Only this share of the lines.
    pub shard: Option<Shard>,
    /// Audit domains instead of looking up settings.
    pub audit: bool,
    /// JSON Lines (else one short line of text per entry).
    pub json: bool,
    /// Lines already done (from `--resume`).
    pub done: LineSet,
}

/// The default `--jobs`: work is waiting on the network, not the CPU, so
/// many entries per core.
pub fn default_jobs() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (cores * 256).min(2048)
}

/// What a scan did: the last line of its output.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Always `true`: tells this line from the entries.
    pub summary: bool,
    /// Input lines read.
    pub lines: u64,
    /// Entries looked up (or audited) in this run.
    pub entries: u64,
    /// Entries with settings found.
    pub found: u64,
    /// Found entries by the source that answered.
    pub by_source: BTreeMap<String, u64>,
    /// Entries for which no source had settings.
    pub not_found: u64,
    /// Entries that failed (deadline, setup).
    pub errors: u64,
    /// Lines that are neither an address nor a domain.
    pub malformed: u64,
    /// Lines skipped because `--resume`'s file already held them.
    pub resumed: u64,
    /// Lines left to other shards.
    pub other_shards: u64,
    /// With `--audit`: how many domains had each finding code.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub findings: BTreeMap<String, u64>,
    /// With `--audit`: domains with at least one error finding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domains_with_errors: Option<u64>,
    /// The scan was stopped (Ctrl-C) before the end of the input.
    pub interrupted: bool,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Entries per second.
    pub per_second: f64,
}

/// Where a scan is, for a progress display.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Entries finished.
    pub done: u64,
    /// Input bytes consumed so far.
    pub bytes: u64,
    /// Entries found (or audited without error).
    pub ok: u64,
    /// Entries not found, failed or malformed.
    pub failed: u64,
}

/// Called after each entry.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// Why a scan could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// Discovery could not be set up (trust store, resolver).
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// Reading the input failed.
    #[error("cannot read the input: {0}")]
    Input(std::io::Error),
    /// Writing the output failed.
    #[error("cannot write the output: {0}")]
    Output(std::io::Error),
}

/// Why a domain DNS does not know is not looked up further.
const NO_SUCH_DOMAIN: &str =
    "the domain does not exist (DNS: no such name), so no name under it does either";

/// What became of one entry.
enum Outcome {
    Found(Source),
    NotFound,
    Failed,
    Malformed,
    Audited {
        codes: BTreeSet<String>,
        errors: bool,
    },
}

/// Runs a scan of `input`, writing to `out`, until the input ends or `stop`
/// completes (then entries in flight are dropped: their lines are not
/// written, and a resumed run does them again).
pub async fn run<R, W>(
    input: R,
    out: W,
    opts: ScanOptions,
    progress: Option<ProgressFn>,
    stop: impl Future<Output = ()>,
) -> Result<Summary, ScanError>
where
    R: BufRead + Send + 'static,
    W: Write + Send + 'static,
{
    let started = Instant::now();
    let limits = HostLimits::new(opts.per_host);
    let shared = Shared::new(&opts.lookup)?.limited(limits.clone());
    let auditor = if opts.audit {
        Some(crate::audit::Auditor::new(
            &opts.lookup,
            shared.clone(),
            limits.clone(),
        )?)
    } else {
        None
    };
    let jobs = opts.jobs.max(1);
    let opts = Arc::new(opts);

    // The reader: a thread, a bounded queue.
    let bytes = Arc::new(AtomicU64::new(0));
    let (line_tx, mut line_rx) = tokio::sync::mpsc::channel(jobs.min(1024));
    let reader = {
        let bytes = bytes.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            for l in Lines::new(input) {
                let l = l?;
                bytes.fetch_add(l.bytes, Ordering::Relaxed);
                if line_tx.blocking_send(l).is_err() {
                    break;
                }
            }
            Ok(())
        })
    };

    // The writer: a thread writing whole lines and flushing each.
    let (out_tx, out_rx) = std::sync::mpsc::sync_channel::<String>(1024);
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        let mut out = out;
        for line in out_rx {
            out.write_all(line.as_bytes())?;
            out.flush()?;
        }
        Ok(())
    });
    let send = |s: String| -> Result<(), ScanError> {
        out_tx.send(s).map_err(|_| {
            ScanError::Output(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the output was closed",
            ))
        })
    };

    let mut summary = Summary {
        summary: true,
        domains_with_errors: opts.audit.then_some(0),
        ..Summary::default()
    };
    let mut tasks: JoinSet<(Outcome, String)> = JoinSet::new();
    let mut reading = true;
    let mut failed = 0u64;
    let mut ok = 0u64;
    tokio::pin!(stop);
    loop {
        if !reading && tasks.is_empty() {
            break;
        }
        tokio::select! {
            biased;
            _ = &mut stop => {
                summary.interrupted = true;
                break;
            }
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                let (outcome, line) = match done {
                    Ok(r) => r,
                    Err(e) if e.is_cancelled() => continue,
                    Err(e) => (Outcome::Failed, error_line(0, "", "internal", &format!("the entry's task failed: {e}"), opts.json)),
                };
                count(&mut summary, outcome, &mut ok, &mut failed);
                send(line)?;
                if let Some(p) = &progress {
                    p(Progress { done: summary.entries + summary.malformed, bytes: bytes.load(Ordering::Relaxed), ok, failed });
                }
            }
            l = line_rx.recv(), if reading && tasks.len() < jobs => {
                let Some(l) = l else {
                    reading = false;
                    continue;
                };
                summary.lines += 1;
                if opts.shard.is_some_and(|s| !s.takes(l.number)) {
                    summary.other_shards += 1;
                    continue;
                }
                if opts.done.contains(l.number) {
                    summary.resumed += 1;
                    continue;
                }
                let parsed = if l.too_long {
                    Line::Malformed(format!("the line is longer than {} bytes: no address or domain is", input::MAX_LINE))
                } else {
                    input::classify(&l.text)
                };
                match parsed {
                    Line::Skip => {}
                    Line::Malformed(why) => {
                        count(&mut summary, Outcome::Malformed, &mut ok, &mut failed);
                        send(error_line(l.number, &l.text, "malformed", &format!("{why}; give one address or domain a line"), opts.json))?;
                    }
                    Line::Target(t) => {
                        let (opts, shared, auditor) = (opts.clone(), shared.clone(), auditor.clone());
                        tasks.spawn(async move { entry(l.number, l.text, t, &opts, &shared, auditor.as_ref()).await });
                    }
                }
            }
        }
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    drop(line_rx);
    let read = reader.await;
    summary.seconds = started.elapsed().as_secs_f64();
    summary.per_second = if summary.seconds > 0.0 {
        (summary.entries + summary.malformed) as f64 / summary.seconds
    } else {
        0.0
    };
    let last = if opts.json {
        let mut s = serde_json::to_string(&summary).unwrap_or_default();
        s.push('\n');
        s
    } else {
        human_summary(&summary)
    };
    send(last)?;
    drop(out_tx);
    writer
        .join()
        .map_err(|_| ScanError::Output(std::io::Error::other("the writer stopped")))?
        .map_err(ScanError::Output)?;
    match read {
        Ok(Err(e)) if !summary.interrupted => Err(ScanError::Input(e)),
        _ => Ok(summary),
    }
}

fn count(s: &mut Summary, o: Outcome, ok: &mut u64, failed: &mut u64) {
    match o {
        Outcome::Malformed => {
            s.malformed += 1;
            *failed += 1;
            return;
        }
        Outcome::Found(src) => {
            s.found += 1;
            *s.by_source.entry(src.to_string()).or_default() += 1;
            *ok += 1;
        }
        Outcome::NotFound => {
            s.not_found += 1;
            *failed += 1;
        }
        Outcome::Failed => {
            s.errors += 1;
            *failed += 1;
        }
        Outcome::Audited { codes, errors } => {
            for c in codes {
                *s.findings.entry(c).or_default() += 1;
            }
            if errors {
                *s.domains_with_errors.get_or_insert(0) += 1;
                *failed += 1;
            } else {
                *ok += 1;
            }
        }
    }
    s.entries += 1;
}

/// One entry: a lookup or an audit, within the entry's deadline, as one
/// output line.
async fn entry(
    number: u64,
    text: String,
    target: Target,
    opts: &ScanOptions,
    shared: &Shared,
    auditor: Option<&crate::audit::Auditor>,
) -> (Outcome, String) {
    // Discovery returns what it has at the deadline; this bound is for
    // anything that would not.
    let limit = opts.lookup.timeout + Duration::from_secs(2);
    let work = async {
        if let Some(a) = auditor {
            audit_entry(&target, opts, a).await
        } else {
            lookup_entry(&target, &opts.lookup, shared).await
        }
    };
    match tokio::time::timeout(limit, work).await {
        Ok((outcome, body)) => {
            let mut obj = Map::new();
            obj.insert("line".into(), json!(number));
            obj.insert("input".into(), json!(text.trim()));
            if let Value::Object(m) = body {
                obj.extend(m);
            }
            let line = if opts.json {
                let mut s = Value::Object(obj).to_string();
                s.push('\n');
                s
            } else {
                human_line(number, text.trim(), &outcome, &Value::Object(obj))
            };
            (outcome, line)
        }
        Err(_) => (
            Outcome::Failed,
            error_line(
                number,
                &text,
                "timeout",
                &format!(
                    "no answer within {} s; give more time with --timeout",
                    opts.lookup.timeout.as_secs_f64()
                ),
                opts.json,
            ),
        ),
    }
}

async fn lookup_entry(target: &Target, opts: &Options, shared: &Shared) -> (Outcome, Value) {
    let (email, domain_only) = match target {
        Target::Address(a) => (a.clone(), false),
        Target::Domain(d) => match format!("postmaster@{d}").parse::<EmailAddress>() {
            Ok(a) => (a, true),
            Err(e) => {
                return (
                    Outcome::Failed,
                    json!({"error": e.to_string(), "code": "malformed"}),
                );
            }
        },
    };
    let named = |mut v: Value| {
        if domain_only {
            if let Value::Object(m) = &mut v {
                m.remove("email");
                m.insert("domain".into(), json!(email.domain_unicode()));
            }
        }
        v
    };
    if let Some(found) = lookup::lookup_builtin(&email) {
        let src = found.settings.source;
        return (
            Outcome::Found(src),
            named(serde_json::to_value(&found).unwrap_or_default()),
        );
    }
    let mut tried = lookup::not_built_in(&email);
    if opts.offline {
        return (
            Outcome::NotFound,
            named(
                json!({"email": email.to_string(), "code": "not-found", "error": "not in the built-in provider table (--offline)", "tried": tried}),
            ),
        );
    }
    // A domain that does not exist has nothing under it (RFC 8020): one
    // question instead of the forty discovery would ask. Lists of domains
    // hold many such; the answer also primes the MX cache for the rest.
    let started = Instant::now();
    if !shared.dns.exists(email.domain()).await {
        tried.push(Tried {
            source: Source::Mx,
            url: format!("MX {}", email.domain()),
            result: TryResult::NotFound,
            ms: started.elapsed().as_millis() as u64,
            detail: Some(NO_SUCH_DOMAIN.into()),
            problem: None,
        });
        return (
            Outcome::NotFound,
            named(
                json!({"email": email.to_string(), "code": "not-found", "error": NO_SUCH_DOMAIN, "tried": tried}),
            ),
        );
    }
    let d = crate::discover::discover_shared(&email, opts, shared, None).await;
    tried.extend(d.tried);
    match d.found {
        Some(f) => {
            let src = f.settings.source;
            let doc = Lookup::build(&email, f.settings, tried);
            (
                Outcome::Found(src),
                named(serde_json::to_value(&doc).unwrap_or_default()),
            )
        }
        None => (
            Outcome::NotFound,
            named(
                json!({"email": email.to_string(), "code": "not-found", "error": "no source had settings", "tried": tried}),
            ),
        ),
    }
}

async fn audit_entry(
    target: &Target,
    opts: &ScanOptions,
    auditor: &crate::audit::Auditor,
) -> (Outcome, Value) {
    let report = auditor.audit(target.domain(), &opts.lookup).await;
    let codes = report
        .findings
        .iter()
        .filter(|f| f.severity != crate::diagnose::Severity::Info)
        .map(|f| f.code.to_string())
        .collect();
    let outcome = Outcome::Audited {
        codes,
        errors: report.has_errors(),
    };
    (outcome, serde_json::to_value(&report).unwrap_or_default())
}

fn error_line(number: u64, text: &str, code: &str, why: &str, as_json: bool) -> String {
    if as_json {
        let mut s =
            json!({"line": number, "input": text.trim(), "code": code, "error": why}).to_string();
        s.push('\n');
        s
    } else {
        format!("{number}\t{}\t{code}: {why}\n", text.trim())
    }
}

/// One entry as a line of text: number, input, then what was found.
fn human_line(number: u64, text: &str, outcome: &Outcome, v: &Value) -> String {
    let urls = |key: &str| -> String {
        v[key]
            .as_array()
            .and_then(|a| a.first())
            .and_then(|s| s["url"].as_str())
            .unwrap_or("-")
            .to_string()
    };
    match outcome {
        Outcome::Found(src) => format!(
            "{number}\t{text}\t{src}\t{}\t{}\n",
            urls("incoming"),
            urls("outgoing")
        ),
        Outcome::Audited { codes, errors } => {
            let verdict = if *errors { "errors" } else { "ok" };
            let list: Vec<&str> = codes.iter().map(String::as_str).collect();
            format!("{number}\t{text}\t{verdict}\t{}\n", list.join(","))
        }
        _ => format!(
            "{number}\t{text}\t{}\n",
            v["error"].as_str().unwrap_or("not found")
        ),
    }
}

fn human_summary(s: &Summary) -> String {
    let mut out = format!(
        "\n{} entries in {:.1} s ({:.0}/s): {} found, {} not found, {} errors, {} malformed lines",
        s.entries + s.malformed,
        s.seconds,
        s.per_second,
        s.found,
        s.not_found,
        s.errors,
        s.malformed
    );
    if s.resumed > 0 {
        out.push_str(&format!(", {} already done", s.resumed));
    }
    if s.interrupted {
        out.push_str(" (interrupted)");
    }
    out.push('\n');
    for (src, n) in &s.by_source {
        out.push_str(&format!("  {src:<14}{n}\n"));
    }
    for (code, n) in &s.findings {
        out.push_str(&format!("  {code:<24}{n} domains\n"));
    }
    out
}
