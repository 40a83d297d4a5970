//! Network discovery: account settings for a domain the built-in table does
//! not know.
//!
//! Six sources start at once, each in its own module:
//!
//! | source | module | asks |
//! |---|---|---|
//! | autoconfig | [`autoconfig`] | `https://autoconfig.<domain>/mail/config-v1.1.xml`, `https://<domain>/.well-known/autoconfig/…`; plain HTTP only after both failed |
//! | ISPDB | [`ispdb`] | `<ispdb-url>/<domain>` |
//! | MX | [`mx`] | the MX hosts: a built-in provider's pattern, else the ISPDB for the MX host's registrable domain |
//! | Autodiscover | [`autodiscover`] | POX POST to `https://<domain>/autodiscover/…`, `https://autodiscover.<domain>/…`, `_autodiscover._tcp` SRV |
//! | SRV | [`srv`] | `_imaps._tcp`, `_imap._tcp`, `_pop3s._tcp`, `_pop3._tcp`, `_submissions._tcp`, `_submission._tcp` |
//! | guess | [`guess`] | `imap.`, `mail.`, `pop3.`, `pop.`, `smtp.` on the standard ports: TLS (implicit or STARTTLS) and capabilities, never a login |
//!
//! # Ranking
//!
//! Answers are ranked by where they come from ([`Rank`], best first):
//!
//! 1. the built-in table (asked before discovery starts),
//! 2. the domain's autoconfig file over HTTPS — the domain's own words,
//!    authenticated by its certificate,
//! 3. the ISPDB — curated, fetched over HTTPS,
//! 4. SRV records validated with DNSSEC — the domain's own words, signed,
//! 5. Autodiscover — the domain's own words, but written for Outlook and
//!    often only half filled in for IMAP,
//! 6. a provider recognised by MX host — right for the mailbox host, but the
//!    domain may read mail elsewhere,
//! 7. SRV records without DNSSEC,
//! 8. autoconfig over plain HTTP — anyone on the path could have written it,
//! 9. guessed host names.
//!
//! Each running source announces the best rank it can still reach (an
//! autoconfig source whose HTTPS attempts failed can only reach 8). As soon
//! as the best answer in hand is at least as good as every rank still
//! reachable, the remaining sources are stopped and recorded as `cancelled`:
//! a quick autoconfig answer never waits for slow guesses. `--timeout` is
//! one deadline for all of it; what is still open then is recorded as
//! `timeout` and the best answer so far is returned.

pub mod autoconfig;
pub mod autodiscover;
pub mod domain;
pub mod guess;
pub mod ispdb;
pub mod mx;
mod options;
pub mod srv;
pub mod trail;

/// The Autodiscover response reader, at the path the fuzz targets and
/// property tests know it by; it lives in [`crate::autodiscover::response`].
pub use crate::autodiscover::response as pox;

use std::sync::Arc;

use tokio::sync::{OnceCell, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::address::EmailAddress;
use crate::net::dns::{Dns, DnsError, Mx};
use crate::net::http::Http;
use crate::net::policy::Guard;
use crate::probe::ProbeOptions;
use crate::settings::{Settings, Source};
pub use options::{DEFAULT_ISPDB_URL, Options};
use trail::Trail;
pub use trail::{Observer, Tried, TryResult};

/// Where an answer ranks: earlier variants are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Rank {
    /// The built-in provider table.
    Builtin,
    /// The domain's autoconfig file over HTTPS.
    AutoconfigHttps,
    /// The ISPDB (over HTTPS).
    Ispdb,
    /// DNSSEC-validated SRV records.
    SrvDnssec,
    /// Autodiscover (over HTTPS).
    Autodiscover,
    /// A provider recognised by its MX host (or the ISPDB of the MX host's
    /// domain).
    Mx,
    /// SRV records without DNSSEC.
    Srv,
    /// Autoconfig (or an ISPDB) over plain HTTP.
    Http,
    /// Probed host names.
    Guess,
}

/// An answer from one source.
#[derive(Debug, Clone)]
pub struct Found {
    /// How good it is.
    pub rank: Rank,
    /// The settings.
    pub settings: Settings,
}

/// What discovery found, and everything it asked.
#[derive(Debug, Clone)]
pub struct Discovery {
    /// The best answer, if any.
    pub found: Option<Found>,
    /// Every question asked, in order.
    pub tried: Vec<Tried>,
    /// How many connections it opened (what a rate limit should count).
    pub connections: u32,
}

/// Why discovery could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The trust store (`--ca-file`).
    #[error(transparent)]
    Tls(#[from] crate::net::tls::TlsSetupError),
    /// The resolver.
    #[error(transparent)]
    Dns(#[from] crate::net::dns::DnsSetupError),
    /// The HTTPS client.
    #[error("{0}")]
    Http(String),
}

/// What every source gets.
pub struct Ctx {
    /// The address.
    pub email: EmailAddress,
    /// Its domain, ASCII.
    pub domain: String,
    /// The resolver.
    pub dns: Dns,
    /// The HTTPS client.
    pub http: Http,
    /// How mail servers are probed (guessing): the same resolver and trust
    /// store, each probe bounded by a share of the deadline.
    pub probe: ProbeOptions,
    /// The ISPDB base URL.
    pub ispdb_url: String,
    /// The one deadline.
    pub deadline: Instant,
    /// The trail of questions asked.
    pub trail: Trail,
    mx: OnceCell<Result<Vec<Mx>, DnsError>>,
}

impl Ctx {
    /// The domain's MX records, looked up once and shared by the sources
    /// that need them.
    pub async fn mx(&self) -> &Result<Vec<Mx>, DnsError> {
        self.mx
            .get_or_init(|| async {
                let a = self.trail.start(Source::Mx, format!("MX {}", self.domain));
                let r = self.dns.mx(&self.domain).await;
                match &r {
                    Ok(mx) => {
                        let hosts: Vec<_> = mx
                            .iter()
                            .map(|m| format!("{} {}", m.preference, m.host))
                            .collect();
                        a.finish(TryResult::Found, Some(hosts.join(", ")));
                    }
                    Err(e) => a.finish(dns_result(e), Some(e.to_string())),
                }
                r
            })
            .await
    }
}

/// How a DNS failure is recorded.
pub fn dns_result(e: &DnsError) -> TryResult {
    match e {
        DnsError::NotFound => TryResult::NotFound,
        DnsError::Timeout => TryResult::Timeout,
        DnsError::OverBudget => TryResult::Cancelled,
        DnsError::Garbage(_) => TryResult::Invalid,
        _ => TryResult::Error,
    }
}

/// Details written by this program (not by the network) that an anonymous
/// visitor may read.
const OWN_WORDS: [&str; 7] = [
    crate::net::policy::NOT_PUBLIC,
    crate::net::http::PLAIN_REDIRECT,
    "not a standard port",
    "not asked",
    "stopped: a better source",
    "the overall deadline",
    "over plain HTTP: unverified",
];

/// `t` fit for an anonymous visitor: source, URL and result, and a detail
/// only when this program wrote it — never an error text from the network
/// (which would tell a refused port from a closed one, or quote a server).
pub fn for_anonymous(mut t: Tried) -> Tried {
    if !t
        .detail
        .as_deref()
        .is_some_and(|d| OWN_WORDS.iter().any(|w| d.starts_with(w)))
    {
        t.detail = None;
    }
    t
}

/// A source's way to say the best rank it can still reach.
#[derive(Clone)]
pub struct Potential {
    kind: usize,
    tx: mpsc::UnboundedSender<Event>,
}

impl Potential {
    /// From now on this source can at best give `rank`.
    pub fn lower_to(&self, rank: Rank) {
        let _ = self.tx.send(Event::Potential(self.kind, rank));
    }
}

enum Event {
    Potential(usize, Rank),
    Done(usize, Option<Found>),
}

type SourceFn = fn(Arc<Ctx>, Potential) -> futures::future::BoxFuture<'static, Option<Found>>;

/// The sources: what each is called in `tried`, the best it can give, and
/// how to run it.
const SOURCES: [(Source, Rank, SourceFn); 6] = [
    (Source::Autoconfig, Rank::AutoconfigHttps, |c, p| {
        Box::pin(autoconfig::run(c, p))
    }),
    (Source::Ispdb, Rank::Ispdb, |c, _| Box::pin(ispdb::run(c))),
    (Source::Srv, Rank::SrvDnssec, |c, _| Box::pin(srv::run(c))),
    (Source::Autodiscover, Rank::Autodiscover, |c, _| {
        Box::pin(autodiscover::run(c))
    }),
    (Source::Mx, Rank::Mx, |c, _| Box::pin(mx::run(c))),
    (Source::Guess, Rank::Guess, |c, _| Box::pin(guess::run(c))),
];

/// The resolver, HTTPS client and probe options discovery uses: built once
/// per lookup by [`discover`], or once for many lookups (a bulk scan, whose
/// lookups then share one DNS cache and one connection pool).
#[derive(Clone)]
pub struct Shared {
    /// The resolver (and its cache).
    pub dns: Dns,
    /// The HTTPS client.
    pub http: Http,
    /// How guessing probes servers.
    pub probe: ProbeOptions,
}

impl Shared {
    /// Builds them from the lookup options. Must be called inside a tokio
    /// runtime (the resolver's requirement).
    pub fn new(opts: &Options) -> Result<Shared, SetupError> {
        let tls = crate::net::tls::client_config(opts.ca_file.as_deref())?;
        let dns = Dns::with_trust_anchor(opts.dns, opts.trust_anchor.as_ref())?;
        let http = Http::new(&tls, dns.clone(), Guard::default()).map_err(SetupError::Http)?;
        let probe = ProbeOptions::with_dns(
            opts.timeout.min(guess::PROBE_LIMIT),
            dns.clone(),
            opts.ca_file.as_deref(),
        )?;
        Ok(Shared { dns, http, probe })
    }

    /// The same, every connection (configuration fetches and probes) at
    /// most `limits` at a time per host.
    pub fn limited(mut self, limits: crate::net::limit::HostLimits) -> Shared {
        self.http = self.http.limited(limits.clone());
        self.probe = self.probe.limited(limits);
        self
    }
}

/// Runs every source for `email` and returns the best answer.
pub async fn discover(
    email: &EmailAddress,
    opts: &Options,
    observer: Option<Observer>,
) -> Result<Discovery, SetupError> {
    let shared = Shared::new(opts)?;
    Ok(discover_shared(email, opts, &shared, observer).await)
}

/// [`discover`] with a resolver, client and probe options already built.
pub async fn discover_shared(
    email: &EmailAddress,
    opts: &Options,
    shared: &Shared,
    observer: Option<Observer>,
) -> Discovery {
    let deadline = Instant::now() + opts.timeout;
    // One guard for the whole discovery: every source's connections and
    // questions count against it. Guessing, the source of least value and
    // the most connections, leaves a reserve to the others.
    let guard = Guard::new(opts.policy);
    let dns = shared.dns.guarded(guard.clone());
    let http = shared.http.guarded(guard.clone());
    let probe = shared.probe.clone().guarded(guard.low_priority());
    let trail = Trail::new(observer);
    let ctx = Arc::new(Ctx {
        email: email.clone(),
        domain: email.domain().to_string(),
        dns,
        http,
        probe,
        ispdb_url: opts.ispdb_url.clone(),
        deadline,
        trail: trail.clone(),
        mx: OnceCell::new(),
    });

    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut tasks = JoinSet::new();
    let mut potential: Vec<Option<Rank>> = Vec::new();
    for (kind, (_, rank, run)) in SOURCES.iter().enumerate() {
        potential.push(Some(*rank));
        let p = Potential {
            kind,
            tx: tx.clone(),
        };
        let fut = run(ctx.clone(), p);
        let tx = tx.clone();
        tasks.spawn(async move {
            let found = fut.await;
            let _ = tx.send(Event::Done(kind, found));
        });
    }
    drop(tx);

    let mut best: Option<Found> = None;
    let mut timed_out = false;
    loop {
        let reachable = potential.iter().flatten().min().copied();
        match (&best, reachable) {
            (_, None) => break,
            (Some(b), Some(r)) if b.rank <= r => {
                tracing::debug!("{:?} answered; nothing better can come", b.rank);
                break;
            }
            _ => {}
        }
        let event = tokio::select! {
            e = rx.recv() => e,
            _ = tokio::time::sleep_until(deadline) => {
                timed_out = true;
                None
            }
        };
        match event {
            Some(Event::Potential(k, r)) => {
                if let Some(p) = &mut potential[k] {
                    *p = (*p).max(r);
                }
            }
            Some(Event::Done(k, found)) => {
                potential[k] = None;
                if let Some(f) = found {
                    if best.as_ref().is_none_or(|b| f.rank < b.rank) {
                        best = Some(f);
                    }
                }
            }
            None => break,
        }
    }
    trail.set_abort(if timed_out {
        TryResult::Timeout
    } else {
        TryResult::Cancelled
    });
    tasks.shutdown().await;
    for (source, _, _) in &SOURCES {
        if !trail.has(*source) {
            let (result, why) = if timed_out {
                (TryResult::Timeout, "not asked before the deadline")
            } else {
                (
                    TryResult::Cancelled,
                    "not asked: a better source had already answered",
                )
            };
            trail.record(
                *source,
                format!("{source} for {}", ctx.domain),
                result,
                Some(why.into()),
            );
        }
    }
    let mut tried = trail.entries();
    if opts.policy.anonymous {
        tried = tried.into_iter().map(for_anonymous).collect();
    }
    let (connections, questions) = guard.spent();
    tracing::debug!(
        "discovery of {} spent {connections} connections and {questions} DNS questions",
        ctx.domain
    );
    Discovery {
        found: best,
        tried,
        connections,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tried(result: TryResult, detail: &str) -> Tried {
        Tried {
            source: Source::Guess,
            url: "imaps://imap.x.test:993".into(),
            result,
            ms: 3,
            detail: Some(detail.into()),
            problem: None,
        }
    }

    #[test]
    fn anonymous_answers_keep_no_network_text() {
        for d in [
            "the connection to 10.0.0.5:993 was refused: nothing accepts connections on that port",
            "HTTP 500",
            "TLS, certificate valid; capabilities: IMAP4rev1 AUTH=PLAIN",
            "DNS lookup failed: io error: Connection refused (os error 111)",
            "redirect from https://a.test/ to http://b.test/ refused",
        ] {
            let t = for_anonymous(tried(TryResult::Error, d));
            assert_eq!(t.detail, None, "{d}");
            assert_eq!(t.url, "imaps://imap.x.test:993");
            assert_eq!(t.result, TryResult::Error);
        }
        for d in [
            "not a public address",
            "not a standard port (6379): not dialled by the service",
            "not asked: the discovery's budget of connections is spent",
        ] {
            let t = for_anonymous(tried(TryResult::RefusedInsecure, d));
            assert_eq!(t.detail.as_deref(), Some(d));
        }
    }
}
