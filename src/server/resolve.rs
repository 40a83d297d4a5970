//! From an address to the settings the server answers with.
//!
//! One place decides where an answer comes from: the operator's own
//! domains (servers from the configuration, or discovered when the
//! configuration says `discover = true`), then — in help-desk mode only —
//! the built-in provider table, then network discovery through
//! [`crate::lookup::lookup`].
//!
//! Discovery results are cached per domain in a bounded moka cache with a
//! time to live, and concurrent requests for one domain share a single
//! discovery (moka's `get_with` coalesces them). To make one entry serve
//! every address of a domain, discovery runs for the placeholder address
//! `%EMAILLOCALPART%@domain` and each answer is personalised afterwards;
//! this also keeps users' addresses from being sent to the sources asked.
//!
//! Discovery here runs for anonymous visitors, under the service's network
//! policy ([`crate::net::policy::Policy::service`]: public addresses and
//! standard ports only, a budget per request, no network text in `tried`),
//! and at most `[discovery] max_concurrent` at once: a request that would
//! start one more is answered 503 with `Retry-After`, never queued.

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::BoxFuture;

use super::config::{Config, DiscoveryConfig, DomainConfig, DomainServers};
use super::error::AppError;
use super::metrics::Metrics;
use super::ratelimit::{ClientKey, FIXED_DISCOVERY_COST, Limiter};
use crate::address::EmailAddress;
use crate::dav::{self, Dav, DavServer};
use crate::lookup::{self, Lookup, LookupError, Tried, TryResult};
use crate::provider::{IosAccount, ProviderTable};
use crate::settings::{ProviderRef, Server, Settings, Source, Trust};

/// The local part discovery runs with; see the module documentation.
pub const PLACEHOLDER_LOCAL: &str = "%EMAILLOCALPART%";

/// Network discovery for one address: [`lookup::lookup`] in production; a
/// test may count or slow calls.
pub type DiscoverFn =
    Arc<dyn Fn(EmailAddress) -> BoxFuture<'static, Result<Lookup, LookupError>> + Send + Sync>;

/// Discovery with [`lookup::lookup`] and `opts`, under the service's
/// network policy as `discovery` configures it.
pub fn network_discovery(mut opts: lookup::Options, discovery: &DiscoveryConfig) -> DiscoverFn {
    opts.policy = crate::net::policy::Policy::service(discovery.allow_private_addresses);
    let opts = Arc::new(opts);
    Arc::new(move |email| {
        let opts = opts.clone();
        Box::pin(async move { lookup::lookup(&email, &opts).await })
    })
}

/// An answer, with what the outputs need beyond the lookup document.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The address asked about.
    pub email: EmailAddress,
    /// The `lookup --json` document.
    pub lookup: Lookup,
    /// The operator's configuration for the domain, when it is theirs.
    pub domain: Option<Arc<DomainConfig>>,
    /// The iPhone's built-in account type for the provider, if any.
    pub ios: Option<IosAccount>,
    /// Whether the answer came from the configuration or built-in data
    /// (the same for as long as the server runs), not from discovery.
    pub fixed: bool,
}

impl Resolved {
    /// The CalDAV URL for this address, expanded.
    pub fn caldav(&self) -> Option<String> {
        let d = self.domain.as_ref()?;
        d.caldav.as_deref().map(|u| self.expand(u))
    }

    /// The CardDAV URL for this address, expanded.
    pub fn carddav(&self) -> Option<String> {
        let d = self.domain.as_ref()?;
        d.carddav.as_deref().map(|u| self.expand(u))
    }

    /// The calendar and contacts servers for this address. A URL that does
    /// not parse once expanded (the configuration's own check passed, so
    /// only an unusual address can cause it) is left out and logged, so the
    /// mail settings are still served.
    pub fn dav(&self) -> Dav {
        let server = |url: Option<String>, what: &str| {
            let url = url?;
            DavServer::parse(&url)
                .inspect_err(|e| {
                    tracing::warn!(domain = self.email.domain(), "{what} left out: {e}")
                })
                .ok()
        };
        Dav {
            caldav: server(self.caldav(), "caldav"),
            carddav: server(self.carddav(), "carddav"),
        }
    }

    /// Expands `template` for the address; for the placeholder address of
    /// an autoconfig request without one, only the domain is filled in and
    /// the client fills in the rest.
    fn expand(&self, template: &str) -> String {
        if self.email.local_part() == PLACEHOLDER_LOCAL {
            template.replace("%EMAILDOMAIN%", self.email.domain())
        } else {
            dav::expand(&self.email, template)
        }
    }
}

/// How long a client told "busy" is asked to wait.
pub const BUSY_RETRY_AFTER_SECS: u64 = 5;

/// A discovery result that is not cached: every slot was taken, or DNS
/// itself did not answer (a passing outage must not be remembered as "no
/// settings" for the cache's lifetime).
#[derive(Debug)]
enum Uncached {
    Busy,
    DnsDown(LookupError),
}

/// Finds settings for addresses; cheap to share.
pub struct Resolver {
    /// One permit per discovery that may run at once.
    running: Arc<tokio::sync::Semaphore>,
    domains: HashMap<String, Arc<DomainConfig>>,
    help_desk: bool,
    cache: moka::future::Cache<String, Result<Lookup, LookupError>>,
    discover: DiscoverFn,
    metrics: Arc<Metrics>,
    limiter: Arc<Limiter>,
}

/// The outbound connections one discovery made, which its client is
/// charged. A discovery that reports none (every target refused, or a
/// stand-in discovery) costs [`FIXED_DISCOVERY_COST`], the most one may
/// make, so that aiming the service at refused targets is not free.
pub fn discovery_cost(result: &Result<Lookup, LookupError>) -> u32 {
    let made = match result {
        Ok(l) => l.connections,
        Err(e) => e.connections(),
    };
    match made {
        0 => FIXED_DISCOVERY_COST,
        n => n.min(FIXED_DISCOVERY_COST),
    }
}

impl Resolver {
    /// A resolver for `config`, discovering with `discover`.
    pub fn new(config: &Config, discover: DiscoverFn, metrics: Arc<Metrics>) -> Resolver {
        let cache = moka::future::Cache::builder()
            .max_capacity(config.cache.capacity)
            .time_to_live(config.cache.ttl)
            .build();
        Resolver {
            running: Arc::new(tokio::sync::Semaphore::new(
                config.discovery.max_concurrent as usize,
            )),
            domains: config.domains.clone(),
            help_desk: config.help_desk,
            cache,
            discover,
            metrics,
            limiter: Arc::new(Limiter::new(config.rate_limit)),
        }
    }

    /// The limiter discoveries are charged to.
    pub fn limiter(&self) -> &Arc<Limiter> {
        &self.limiter
    }

    /// Whether the server answers for `domain` at all (without asking
    /// anything): one of the operator's, or any in help-desk mode.
    pub fn serves(&self, domain: &str) -> bool {
        self.help_desk || self.domains.contains_key(domain)
    }

    /// The settings for `email`, asked by `client`. Only a network
    /// discovery (no configured servers, no built-in provider, nothing
    /// cached) is charged to `client`, and refused with
    /// [`AppError::RateLimited`] while the client is over its limit.
    pub async fn resolve(
        &self,
        email: &EmailAddress,
        client: ClientKey,
    ) -> Result<Resolved, AppError> {
        let own = self.domains.get(email.domain()).cloned();
        let (lookup, fixed) = match &own {
            Some(d) => match &d.servers {
                Some(servers) => (configured(email, d, servers), true),
                None => (self.discovered(email, client).await?, false),
            },
            None if !self.help_desk => return Err(self.not_served(email.domain())),
            None => match lookup::lookup_builtin(email) {
                Some(found) => (found, true),
                None => (self.discovered(email, client).await?, false),
            },
        };
        let mut lookup = lookup;
        if let Some(d) = &own {
            lookup.settings.provider = Some(ProviderRef {
                id: d.name.clone(),
                name: d.display_name.clone(),
            });
        }
        let ios = match lookup.settings.source {
            Source::ProviderDb | Source::Mx => lookup
                .settings
                .provider
                .as_ref()
                .and_then(|p| ProviderTable::builtin().by_id(&p.id))
                .and_then(|p| p.ios),
            _ => None,
        };
        Ok(Resolved {
            email: email.clone(),
            lookup,
            domain: own,
            ios,
            fixed,
        })
    }

    fn not_served(&self, domain: &str) -> AppError {
        let mut names: Vec<&str> = self.domains.keys().map(String::as_str).collect();
        names.sort_unstable();
        AppError::NotFound(format!(
            "this service answers for {} only, not for {domain}: ask your own mail provider for its settings",
            names.join(", ")
        ))
    }

    async fn discovered(
        &self,
        email: &EmailAddress,
        client: ClientKey,
    ) -> Result<Lookup, AppError> {
        let domain = email.domain().to_string();
        let result = match self.cache.get(&domain).await {
            // A cached answer costs nobody anything.
            Some(hit) => Ok(hit),
            None => {
                self.limiter.admit(client).map_err(AppError::RateLimited)?;
                let template = EmailAddress::parse(&format!("{PLACEHOLDER_LOCAL}@{domain}"))
                    .map_err(|e| {
                        AppError::Internal(format!("placeholder address for {domain}: {e}"))
                    })?;
                let discover = self.discover.clone();
                let metrics = self.metrics.clone();
                let limiter = self.limiter.clone();
                let running = self.running.clone();
                // One being discovered costs no slot; a new discovery takes
                // one or is refused (and the refusal not cached).
                self.cache
                    .try_get_with(domain, async move {
                        let _slot = running.try_acquire_owned().map_err(|_| Uncached::Busy)?;
                        let r = discover(template).await;
                        let tried = match &r {
                            Ok(l) => &l.tried,
                            Err(e) => e.tried(),
                        };
                        metrics.discovery(tried);
                        // Whoever started the discovery pays for it; those
                        // who joined it while it ran do not.
                        limiter.charge(client, discovery_cost(&r));
                        match r {
                            Err(e @ LookupError::NotFound { .. })
                                if crate::lookup::dns_unanswered(e.tried()) =>
                            {
                                Err(Uncached::DnsDown(e))
                            }
                            r => Ok(r),
                        }
                    })
                    .await
            }
        };
        match result {
            Ok(Ok(found)) => Ok(personalise(found, email)),
            Ok(Err(e)) => Err(e.into()),
            Err(uncached) => match &*uncached {
                Uncached::DnsDown(e) => Err(e.clone().into()),
                Uncached::Busy => {
                    tracing::warn!(
                        "every discovery slot is taken ([discovery] max_concurrent): answering 503"
                    );
                    Err(AppError::Busy(BUSY_RETRY_AFTER_SECS))
                }
            },
        }
    }
}

/// The settings an operator listed for their domain.
fn configured(email: &EmailAddress, d: &DomainConfig, servers: &DomainServers) -> Lookup {
    let server = |spec: &crate::provider::ServerSpec| Server {
        protocol: spec.url.protocol,
        host: spec.url.host.clone(),
        port: spec.url.port,
        security: spec.url.security,
        auth: spec.auth.clone(),
        username: email.expand(spec.username.as_deref().unwrap_or(&servers.username)),
    };
    let mut settings = Settings {
        provider: None,
        incoming: servers.incoming.iter().map(server).collect(),
        outgoing: servers.outgoing.iter().map(server).collect(),
        source: Source::User,
        trust: Trust::Verified,
        notes: Vec::new(),
    };
    settings.sort_servers();
    let tried = vec![Tried {
        source: Source::User,
        url: format!("config:{}", d.name),
        result: TryResult::Found,
        ms: 0,
        detail: None,
        problem: None,
    }];
    Lookup::build(email, settings, tried)
}

/// Turns a lookup made for the placeholder address into `email`'s: the
/// placeholder stands exactly where `email`'s local part belongs, since
/// `%EMAILADDRESS%` expanded to `%EMAILLOCALPART%@domain`.
fn personalise(found: Lookup, email: &EmailAddress) -> Lookup {
    let mut settings = found.settings;
    for s in settings
        .incoming
        .iter_mut()
        .chain(settings.outgoing.iter_mut())
    {
        s.username = s
            .username
            .replace(PLACEHOLDER_LOCAL, email.base_local_part());
    }
    Lookup::build(email, settings, found.tried)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{AuthMethod, Protocol, Security};

    fn template_lookup() -> Lookup {
        let t = EmailAddress::parse("%EMAILLOCALPART%@example.org").unwrap();
        let server = |p, host: &str, port| Server {
            protocol: p,
            host: host.into(),
            port,
            security: Security::Tls,
            auth: vec![AuthMethod::Password],
            username: t.expand("%EMAILADDRESS%"),
        };
        let settings = Settings {
            provider: None,
            incoming: vec![server(Protocol::Imap, "imap.example.org", 993)],
            outgoing: vec![server(Protocol::Smtp, "smtp.example.org", 465)],
            source: Source::Autoconfig,
            trust: Trust::Verified,
            notes: vec![],
        };
        Lookup::build(&t, settings, vec![])
    }

    #[test]
    fn dav_urls_expand_every_placeholder() {
        let email = EmailAddress::parse("Jane+x@example.org").unwrap();
        let r = Resolved {
            lookup: personalise(template_lookup(), &email),
            email,
            domain: Some(Arc::new(DomainConfig {
                name: "example.org".into(),
                display_name: "Example".into(),
                short_name: "Example".into(),
                servers: None,
                caldav: Some("https://dav.example.org/%EMAILADDRESS%/cal".into()),
                carddav: Some("https://dav.example.org/%EMAILDOMAIN%/%EMAILLOCALPART%".into()),
            })),
            ios: None,
            fixed: false,
        };
        assert_eq!(
            r.caldav().unwrap(),
            "https://dav.example.org/Jane@example.org/cal"
        );
        assert_eq!(
            r.carddav().unwrap(),
            "https://dav.example.org/example.org/Jane"
        );
    }

    #[test]
    fn placeholder_addresses_parse() {
        let t = EmailAddress::parse("%EMAILLOCALPART%@example.org").unwrap();
        assert_eq!(t.expand("%EMAILADDRESS%"), "%EMAILLOCALPART%@example.org");
    }

    #[test]
    fn personalising_gives_what_a_direct_lookup_would() {
        let email = EmailAddress::parse("Jane+news@example.org").unwrap();
        let l = personalise(template_lookup(), &email);
        assert_eq!(l.settings.incoming[0].username, "Jane@example.org");
        assert_eq!(l.email, "Jane+news@example.org");
        assert!(l.settings.notes.iter().any(|n| n.code == "subaddress"));
    }
}
