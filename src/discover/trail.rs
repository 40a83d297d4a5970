//! The trail of what discovery asked: one [`Tried`] entry per question,
//! each with its [`TryResult`].
//!
//! This module owns those two types (the `tried` list of every answer and
//! error) and the [`Trail`] that collects them while sources run. A source
//! opens an [`Attempt`] before it asks and closes it with the outcome.
//! An attempt still open when its source is stopped — because a better
//! answer came in, or the deadline passed — closes itself on drop as
//! `cancelled` or `timeout`, so the trail is complete whatever happens and
//! no source has to clean up after itself.

use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;
use tokio::time::Instant;

use crate::net::http::FetchError;
use crate::settings::Source;

/// The outcome of asking one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum TryResult {
    /// It answered with usable settings.
    Found,
    /// It has nothing for this domain.
    NotFound,
    /// It answered with something unusable (malformed, oversized, garbage).
    Invalid,
    /// It would have needed an insecure step (HTTPS→HTTP redirect, …).
    RefusedInsecure,
    /// It did not answer before the deadline.
    Timeout,
    /// Network or protocol failure.
    Error,
    /// Not asked, because a better source had already answered.
    Cancelled,
    /// Not asked (e.g. `--offline`).
    Skipped,
}

/// One source consulted during a lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tried {
    /// The kind of source.
    pub source: Source,
    /// What was asked: a URL, a DNS record, a host and port.
    pub url: String,
    /// What came of it.
    pub result: TryResult,
    /// How long it took, in milliseconds.
    pub ms: u64,
    /// A short explanation for failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Why a probed candidate was rejected (guessing): in JSON its finding
    /// code; `check` turns it into a finding with a fix.
    #[serde(
        rename = "code",
        serialize_with = "problem_code",
        skip_serializing_if = "Option::is_none"
    )]
    pub problem: Option<crate::probe::ProbeError>,
}

fn problem_code<S: serde::Serializer>(
    p: &Option<crate::probe::ProbeError>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match p {
        Some(e) => e.code().serialize(s),
        None => s.serialize_none(),
    }
}

/// Called with each entry as it is recorded (for progress display).
pub type Observer = Arc<dyn Fn(&Tried) + Send + Sync>;

/// The shared trail.
#[derive(Clone)]
pub struct Trail {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    entries: Vec<(u64, Tried)>,
    next: u64,
    /// What an attempt dropped while open means.
    abort: TryResult,
    observer: Option<Observer>,
}

impl Trail {
    /// An empty record.
    pub fn new(observer: Option<Observer>) -> Trail {
        Trail {
            inner: Arc::new(Mutex::new(Inner {
                entries: Vec::new(),
                next: 0,
                abort: TryResult::Cancelled,
                observer,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the entries
        // half-written (each push is one call), so a poisoned lock is safe
        // to keep using.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens an attempt at `url` for `source`.
    pub fn start(&self, source: Source, url: impl Into<String>) -> Attempt {
        let url = url.into();
        tracing::debug!("{source}: asking {url}");
        let mut inner = self.lock();
        let seq = inner.next;
        inner.next += 1;
        Attempt {
            trail: self.clone(),
            seq,
            source,
            url,
            started: Instant::now(),
            open: true,
        }
    }

    /// Sets what attempts still open from now on are recorded as.
    pub fn set_abort(&self, result: TryResult) {
        self.lock().abort = result;
    }

    /// Whether `source` has any entry.
    pub fn has(&self, source: Source) -> bool {
        self.lock().entries.iter().any(|(_, t)| t.source == source)
    }

    /// Records an entry directly (for a source that never started).
    pub fn record(&self, source: Source, url: String, result: TryResult, detail: Option<String>) {
        let a = self.start(source, url);
        a.finish(result, detail);
    }

    /// Every entry, in the order the questions were asked.
    pub fn entries(&self) -> Vec<Tried> {
        let mut e = self.lock().entries.clone();
        e.sort_by_key(|(seq, _)| *seq);
        e.into_iter().map(|(_, t)| t).collect()
    }

    fn push(&self, seq: u64, t: Tried) {
        let observer = {
            let mut inner = self.lock();
            inner.entries.push((seq, t.clone()));
            inner.observer.clone()
        };
        tracing::info!(
            "{} {}: {} ({} ms){}",
            t.source,
            t.url,
            result_word(t.result),
            t.ms,
            t.detail
                .as_deref()
                .map(|d| format!(" — {d}"))
                .unwrap_or_default()
        );
        if let Some(o) = observer {
            o(&t);
        }
    }
}

/// The JSON word of a result.
pub fn result_word(r: TryResult) -> String {
    serde_json::to_value(r)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// One question being asked.
pub struct Attempt {
    trail: Trail,
    seq: u64,
    source: Source,
    url: String,
    started: Instant,
    open: bool,
}

impl Attempt {
    /// Closes the attempt with `result`.
    pub fn finish(mut self, result: TryResult, detail: Option<String>) {
        self.close(result, detail, None);
    }

    /// Closes the attempt with `result` and the probe failure behind it.
    pub fn finish_probe(
        mut self,
        result: TryResult,
        detail: Option<String>,
        problem: Option<crate::probe::ProbeError>,
    ) {
        self.close(result, detail, problem);
    }

    /// Closes the attempt as found.
    pub fn found(self) {
        self.finish(TryResult::Found, None);
    }

    /// Closes the attempt with the outcome of a failed fetch.
    pub fn fetch_failed(self, e: &FetchError) {
        self.finish(fetch_result(e), Some(e.to_string()));
    }

    fn close(
        &mut self,
        result: TryResult,
        detail: Option<String>,
        problem: Option<crate::probe::ProbeError>,
    ) {
        if !self.open {
            return;
        }
        self.open = false;
        let t = Tried {
            source: self.source,
            url: std::mem::take(&mut self.url),
            result,
            ms: self.started.elapsed().as_millis() as u64,
            detail,
            problem,
        };
        self.trail.push(self.seq, t);
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if self.open {
            let abort = self.trail.lock().abort;
            let detail = match abort {
                TryResult::Timeout => "the overall deadline (--timeout) passed",
                _ => "stopped: a better source had already answered",
            };
            self.close(abort, Some(detail.to_string()), None);
        }
    }
}

/// How a failed fetch is recorded.
pub fn fetch_result(e: &FetchError) -> TryResult {
    match e {
        FetchError::NoSuchHost(_) | FetchError::NotFound(_) => TryResult::NotFound,
        FetchError::InsecureRedirect { .. } | FetchError::Refused { .. } => {
            TryResult::RefusedInsecure
        }
        FetchError::Policy(r) if r.is_budget() => TryResult::Cancelled,
        FetchError::Policy(_) => TryResult::RefusedInsecure,
        FetchError::TooLarge(_) => TryResult::Invalid,
        FetchError::Timeout => TryResult::Timeout,
        _ => TryResult::Error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dropped_attempts_record_the_abort_reason() {
        let trail = Trail::new(None);
        let a = trail.start(Source::Autoconfig, "https://a.test/");
        let b = trail.start(Source::Srv, "_imaps._tcp.a.test");
        a.found();
        trail.set_abort(TryResult::Timeout);
        drop(b);
        let e = trail.entries();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].result, TryResult::Found);
        assert_eq!(e[1].result, TryResult::Timeout);
        assert!(e[1].detail.as_deref().unwrap().contains("--timeout"));
    }

    #[tokio::test]
    async fn entries_keep_the_order_questions_were_asked() {
        let trail = Trail::new(None);
        let first = trail.start(Source::Ispdb, "1");
        let second = trail.start(Source::Mx, "2");
        second.finish(TryResult::NotFound, None);
        first.finish(TryResult::Error, Some("x".into()));
        let urls: Vec<_> = trail.entries().into_iter().map(|t| t.url).collect();
        assert_eq!(urls, ["1", "2"]);
        assert!(trail.has(Source::Mx) && !trail.has(Source::Guess));
    }

    #[test]
    fn fetch_failures_map_to_results() {
        assert_eq!(
            fetch_result(&FetchError::InsecureRedirect {
                from: "https://a".into(),
                to: "http://a".into()
            }),
            TryResult::RefusedInsecure
        );
        assert_eq!(fetch_result(&FetchError::TooLarge(1)), TryResult::Invalid);
        assert_eq!(
            fetch_result(&FetchError::NotFound(404)),
            TryResult::NotFound
        );
        assert_eq!(fetch_result(&FetchError::Timeout), TryResult::Timeout);
        assert_eq!(
            fetch_result(&FetchError::TooManyRedirects("x".into())),
            TryResult::Error
        );
        use crate::net::policy::Refusal;
        let ip = "10.0.0.5".parse().unwrap();
        assert_eq!(
            fetch_result(&FetchError::Policy(Refusal::NotPublic(ip))),
            TryResult::RefusedInsecure
        );
        assert_eq!(
            fetch_result(&FetchError::Policy(Refusal::Port(6379))),
            TryResult::RefusedInsecure
        );
        assert_eq!(
            fetch_result(&FetchError::Policy(Refusal::Questions)),
            TryResult::Cancelled
        );
    }
}
