//! The record of what discovery asked: one [`Tried`] entry per question.
//!
//! A source opens an [`Attempt`] before it asks and closes it with the
//! outcome. An attempt still open when its source is stopped — because a
//! better answer came in, or the deadline passed — closes itself on drop as
//! `cancelled` or `timeout`, so the record is complete whatever happens and
//! no source has to clean up after itself.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::time::Instant;

use crate::lookup::{Tried, TryResult};
use crate::net::http::FetchError;
use crate::settings::Source;

/// Called with each entry as it is recorded (for progress display).
pub type Observer = Arc<dyn Fn(&Tried) + Send + Sync>;

/// The shared record.
#[derive(Clone)]
pub struct Log {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    entries: Vec<(u64, Tried)>,
    next: u64,
    /// What an attempt dropped while open means.
    abort: TryResult,
    observer: Option<Observer>,
}

impl Log {
    /// An empty record.
    pub fn new(observer: Option<Observer>) -> Log {
        Log {
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
            log: self.clone(),
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
    log: Log,
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
        self.log.push(self.seq, t);
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if self.open {
            let abort = self.log.lock().abort;
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
        let log = Log::new(None);
        let a = log.start(Source::Autoconfig, "https://a.test/");
        let b = log.start(Source::Srv, "_imaps._tcp.a.test");
        a.found();
        log.set_abort(TryResult::Timeout);
        drop(b);
        let e = log.entries();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].result, TryResult::Found);
        assert_eq!(e[1].result, TryResult::Timeout);
        assert!(e[1].detail.as_deref().unwrap().contains("--timeout"));
    }

    #[tokio::test]
    async fn entries_keep_the_order_questions_were_asked() {
        let log = Log::new(None);
        let first = log.start(Source::Ispdb, "1");
        let second = log.start(Source::Mx, "2");
        second.finish(TryResult::NotFound, None);
        first.finish(TryResult::Error, Some("x".into()));
        let urls: Vec<_> = log.entries().into_iter().map(|t| t.url).collect();
        assert_eq!(urls, ["1", "2"]);
        assert!(log.has(Source::Mx) && !log.has(Source::Guess));
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
