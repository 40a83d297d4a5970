//! The operator's configuration file (`mailsetup serve --config mail.toml`).
//!
//! This module owns the file's format and its checks, and nothing else: it
//! reads TOML text into a [`Config`] and refuses anything it cannot serve
//! safely, naming the file, the line and what to change. Every check runs
//! before the server binds a socket, so a broken file never half-starts a
//! service. Certificate and key files are only checked for being readable
//! here; [`super::tls`] and the profile signer load them.
//!
//! ```toml
//! listen = ["[::]:443"]
//! [tls]
//! cert = "/etc/mailsetup/fullchain.pem"
//! key = "/etc/mailsetup/privkey.pem"
//! [[domain]]
//! name = "example.com"
//! display_name = "Example Mail"
//! incoming = [{ url = "imaps://imap.example.com", auth = ["password"] }]
//! outgoing = [{ url = "smtps://smtp.example.com", auth = ["password"] }]
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

mod discovery;
mod domain;
mod page;

pub use discovery::DiscoveryConfig;
pub use domain::{DomainConfig, DomainServers};
pub use page::{LOGO_MAX_BYTES, Logo, PageConfig};

/// A configuration the server refuses to start with.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ConfigError {
    /// The configuration file.
    pub file: String,
    /// The line (1-based) the problem is on.
    pub line: usize,
    /// What is wrong and what to do.
    pub message: String,
}

/// The whole configuration, checked. The default is the help-desk mode
/// that `serve` runs in without `--config`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file this was read from (by [`load`]); a reload reads it again.
    pub path: Option<PathBuf>,
    /// Where to listen (`--listen` overrides).
    pub listen: Vec<SocketAddr>,
    /// Where `/metrics` answers; on the main listeners when absent.
    pub metrics_listen: Option<SocketAddr>,
    /// The service's public base URL (for links and QR codes); taken from
    /// the request's Host header when absent.
    pub public_url: Option<String>,
    /// Whether to answer for domains not listed, from built-in data and
    /// discovery (the help-desk mode). True when no domain is listed.
    pub help_desk: bool,
    /// Behind a reverse proxy: take the client address from the last
    /// `X-Forwarded-For` entry and the scheme from `X-Forwarded-Proto`.
    pub trust_forwarded: bool,
    /// Whether email addresses may appear in logs at info level.
    pub log_addresses: bool,
    /// HTTPS certificate and key; plain HTTP when absent.
    pub tls: Option<CertKey>,
    /// Certificate and key that sign Apple profiles; unsigned when absent.
    pub signing: Option<CertKey>,
    /// Per-client rate limit on the discovery endpoints.
    pub rate_limit: RateLimit,
    /// The discovery cache.
    pub cache: CacheConfig,
    /// How long one request may take before it is answered with 408.
    pub request_timeout: Duration,
    /// Timeouts and caps of client connections.
    pub connections: ConnectionLimits,
    /// The operator's domains, by every name (main name and aliases).
    pub domains: HashMap<String, std::sync::Arc<DomainConfig>>,
    /// The settings page's operator name, logo and help link.
    pub page: PageConfig,
    /// Where discovery on behalf of visitors may reach (`[discovery]`).
    pub discovery: DiscoveryConfig,
}

impl Config {
    /// An error about `line` of this configuration's file.
    pub fn error_at(&self, line: usize, message: String) -> ConfigError {
        ConfigError {
            file: self
                .path
                .as_ref()
                .map_or_else(|| "the configuration".into(), |p| p.display().to_string()),
            line,
            message,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            path: None,
            listen: Vec::new(),
            metrics_listen: None,
            public_url: None,
            help_desk: true,
            trust_forwarded: false,
            log_addresses: false,
            tls: None,
            signing: None,
            rate_limit: RateLimit::default(),
            cache: CacheConfig::default(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            connections: ConnectionLimits::default(),
            domains: HashMap::new(),
            page: PageConfig::default(),
            discovery: DiscoveryConfig::default(),
        }
    }
}

/// How long a request may take unless the configuration says otherwise.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A certificate (chain) file and its private key file, PEM.
#[derive(Debug, Clone, Default)]
pub struct CertKey {
    /// The certificate, followed by its chain.
    pub cert: PathBuf,
    /// The private key.
    pub key: PathBuf,
    /// The line of `cert` in the configuration file (0 when not from one),
    /// for messages about the certificate's content.
    pub line: usize,
}

/// The per-client limit on network discovery, counted in the outbound
/// connections discoveries make (see [`crate::server::ratelimit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Outbound connections per minute per client; 0 turns the limit off.
    pub per_minute: u32,
    /// Outbound connections a client may cause at once before the rate
    /// applies.
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            per_minute: 240,
            burst: 120,
        }
    }
}

/// Timeouts and caps of client connections (`[connections]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// How long a client may take to send a request's headers, from the
    /// moment the server waits for them (`header_timeout_secs`).
    pub header_timeout: Duration,
    /// How long a connection may stay idle between requests
    /// (`keep_alive_secs`); at most `header_timeout` in effect, since
    /// waiting for the next request is waiting for its headers.
    pub keep_alive: Duration,
    /// Connections open at once, over all clients (`max`); lowered at
    /// start to what the process's file descriptor limit allows.
    pub max: usize,
    /// Connections open at once from one client address (IPv4 address or
    /// IPv6 /64) (`per_client`); 0 turns this cap off, which suits a
    /// service behind a reverse proxy, where every connection comes from
    /// the proxy.
    pub per_client: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_timeout: Duration::from_secs(10),
            keep_alive: Duration::from_secs(5),
            max: 10_000,
            per_client: 64,
        }
    }
}

/// The discovery cache's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// How long a discovery result is reused.
    pub ttl: Duration,
    /// How many domains are kept at most.
    pub capacity: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            ttl: Duration::from_secs(600),
            capacity: 10_000,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    listen: Vec<Spanned<String>>,
    metrics_listen: Option<Spanned<String>>,
    public_url: Option<Spanned<String>>,
    help_desk: Option<bool>,
    #[serde(default)]
    trust_forwarded: bool,
    #[serde(default)]
    log_addresses: bool,
    tls: Option<FileCertKey>,
    signing: Option<FileCertKey>,
    rate_limit: Option<FileRateLimit>,
    cache: Option<FileCache>,
    request_timeout_secs: Option<Spanned<u64>>,
    connections: Option<FileConnections>,
    #[serde(default)]
    domain: Vec<domain::FileDomain>,
    page: Option<page::FilePage>,
    discovery: Option<discovery::FileDiscovery>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCertKey {
    cert: Spanned<PathBuf>,
    key: Spanned<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRateLimit {
    per_minute: u32,
    burst: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConnections {
    header_timeout_secs: Option<Spanned<u64>>,
    keep_alive_secs: Option<Spanned<u64>>,
    max: Option<Spanned<usize>>,
    per_client: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCache {
    ttl_secs: u64,
    capacity: Spanned<u64>,
}

/// Reads and checks a configuration file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.display().to_string(),
        line: 0,
        message: format!("cannot read the configuration file: {e}"),
    })?;
    let mut config = parse(&text, path)?;
    config.path = Some(path.to_path_buf());
    Ok(config)
}

/// Parses and checks configuration `text` read from `path` (used in
/// messages and to resolve relative certificate paths).
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let at = |span: Range<usize>, message: String| ConfigError {
        file: path.display().to_string(),
        line: line_of(text, span.start),
        message,
    };
    let file: File = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(0);
        ConfigError {
            file: path.display().to_string(),
            line,
            message: format!(
                "{} (see the example configuration in the README)",
                e.message().trim_end()
            ),
        }
    })?;
    let base = path.parent().unwrap_or(Path::new("."));

    let mut listen = Vec::new();
    for l in &file.listen {
        let addr = l.get_ref().parse::<SocketAddr>().map_err(|_| {
            at(
                l.span(),
                format!(
                    "'{}' is not an address to listen on: write IP:PORT, such as \"[::]:443\" or \"127.0.0.1:8080\"",
                    l.get_ref()
                ),
            )
        })?;
        listen.push(addr);
    }

    let metrics_listen = match &file.metrics_listen {
        Some(l) => {
            let addr = l.get_ref().parse::<SocketAddr>().map_err(|_| {
                at(
                    l.span(),
                    format!(
                        "metrics_listen '{}' is not an address to listen on: write IP:PORT, such as \"127.0.0.1:9090\"",
                        l.get_ref()
                    ),
                )
            })?;
            if listen.contains(&addr) {
                return Err(at(
                    l.span(),
                    format!(
                        "metrics_listen {addr} is also in listen: give /metrics an address of its own"
                    ),
                ));
            }
            Some(addr)
        }
        None => None,
    };

    let public_url = match &file.public_url {
        Some(u) => {
            let v = u.get_ref().trim_end_matches('/');
            if !(v.starts_with("https://") || v.starts_with("http://")) || v.contains(['?', '#']) {
                return Err(at(
                    u.span(),
                    format!(
                        "public_url '{v}' must be an http:// or https:// base URL without query, such as \"https://autoconfig.example.com\""
                    ),
                ));
            }
            Some(v.to_string())
        }
        None => None,
    };

    let tls = file
        .tls
        .as_ref()
        .map(|c| cert_key(c, base, "tls", &at))
        .transpose()?;
    let signing = file
        .signing
        .as_ref()
        .map(|c| cert_key(c, base, "signing", &at))
        .transpose()?;

    let rate_limit = match &file.rate_limit {
        None => RateLimit::default(),
        Some(r) => {
            let burst = match &r.burst {
                Some(b) if *b.get_ref() == 0 && r.per_minute > 0 => {
                    return Err(at(
                        b.span(),
                        "rate_limit.burst must be at least 1 (set per_minute = 0 to turn the limit off)".into(),
                    ));
                }
                Some(b) => *b.get_ref(),
                None => (r.per_minute / 2).max(1),
            };
            RateLimit {
                per_minute: r.per_minute,
                burst,
            }
        }
    };

    let cache = match &file.cache {
        None => CacheConfig::default(),
        Some(c) if *c.capacity.get_ref() == 0 => {
            return Err(at(
                c.capacity.span(),
                "cache.capacity must be at least 1 (the number of domains kept)".into(),
            ));
        }
        Some(c) => CacheConfig {
            ttl: Duration::from_secs(c.ttl_secs),
            capacity: *c.capacity.get_ref(),
        },
    };

    let request_timeout = match &file.request_timeout_secs {
        None => DEFAULT_REQUEST_TIMEOUT,
        Some(t) if !(1..=600).contains(t.get_ref()) => {
            return Err(at(
                t.span(),
                "request_timeout_secs must be between 1 and 600".into(),
            ));
        }
        Some(t) => Duration::from_secs(*t.get_ref()),
    };

    let connections = match &file.connections {
        None => ConnectionLimits::default(),
        Some(c) => connection_limits(c, &at)?,
    };

    let mut domains = HashMap::new();
    for d in &file.domain {
        let dc = std::sync::Arc::new(domain::domain(d, &at)?);
        for n in std::iter::once(&d.name).chain(&d.aliases) {
            let ascii = crate::address::check_domain(n.get_ref())
                .map_err(|e| at(n.span(), format!("domain: {e}")))?;
            if domains.insert(ascii.clone(), dc.clone()).is_some() {
                return Err(at(
                    n.span(),
                    format!("the domain {ascii} is listed twice: list each domain once"),
                ));
            }
        }
    }

    let page = match &file.page {
        Some(p) => page::page(p, base, &at)?,
        None => PageConfig::default(),
    };
    let discovery = discovery::discovery(file.discovery.as_ref(), &at)?;

    Ok(Config {
        path: None,
        listen,
        metrics_listen,
        public_url,
        help_desk: file.help_desk.unwrap_or(file.domain.is_empty()),
        trust_forwarded: file.trust_forwarded,
        log_addresses: file.log_addresses,
        tls,
        signing,
        rate_limit,
        cache,
        request_timeout,
        connections,
        domains,
        page,
        discovery,
    })
}

fn connection_limits(c: &FileConnections, at: &At) -> Result<ConnectionLimits, ConfigError> {
    let d = ConnectionLimits::default();
    let secs = |v: &Option<Spanned<u64>>, name: &str, default: Duration| match v {
        None => Ok(default),
        Some(t) if !(1..=300).contains(t.get_ref()) => Err(at(
            t.span(),
            format!("connections.{name} must be between 1 and 300"),
        )),
        Some(t) => Ok(Duration::from_secs(*t.get_ref())),
    };
    let header_timeout = secs(
        &c.header_timeout_secs,
        "header_timeout_secs",
        d.header_timeout,
    )?;
    let keep_alive = secs(&c.keep_alive_secs, "keep_alive_secs", d.keep_alive)?;
    let max = match &c.max {
        None => d.max,
        Some(m) if *m.get_ref() == 0 => {
            return Err(at(
                m.span(),
                "connections.max must be at least 1 (the connections open at once)".into(),
            ));
        }
        Some(m) => *m.get_ref(),
    };
    Ok(ConnectionLimits {
        header_timeout,
        keep_alive,
        max,
        per_client: c.per_client.unwrap_or(d.per_client),
    })
}

pub(crate) type At<'a> = dyn Fn(Range<usize>, String) -> ConfigError + 'a;

fn cert_key(c: &FileCertKey, base: &Path, table: &str, at: &At) -> Result<CertKey, ConfigError> {
    let check = |p: &Spanned<PathBuf>, what: &str| {
        let path = base.join(p.get_ref());
        std::fs::metadata(&path).map_err(|e| {
            at(
                p.span(),
                format!(
                    "[{table}] {what} file {} cannot be read ({e}): give the path of a PEM file",
                    path.display()
                ),
            )
        })?;
        Ok(path)
    };
    Ok(CertKey {
        cert: check(&c.cert, "cert")?,
        key: check(&c.key, "key")?,
        line: at(c.cert.span(), String::new()).line,
    })
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(super) fn err(text: &str) -> ConfigError {
        parse(text, Path::new("mail.toml")).unwrap_err()
    }

    pub(super) const GOOD: &str = r#"
listen = ["127.0.0.1:8080"]
[[domain]]
name = "Example.COM"
aliases = ["example.net"]
display_name = "Example Mail"
incoming = [{ url = "imaps://imap.example.com", auth = ["password"] }]
outgoing = [{ url = "smtp://smtp.example.com", auth = ["password"] }]
caldav = "https://dav.example.com/%EMAILADDRESS%/"
"#;

    #[test]
    fn a_good_file_gives_domains_by_every_name() {
        let c = parse(GOOD, Path::new("mail.toml")).unwrap();
        assert_eq!(c.listen, ["127.0.0.1:8080".parse().unwrap()]);
        assert!(!c.help_desk, "listing domains turns help-desk mode off");
        let d = &c.domains["example.com"];
        assert_eq!(d.display_name, "Example Mail");
        assert_eq!(d.short_name, "Example Mail");
        assert!(std::sync::Arc::ptr_eq(d, &c.domains["example.net"]));
        let s = d.servers.as_ref().unwrap();
        assert_eq!(s.username, "%EMAILADDRESS%");
        assert_eq!(s.outgoing[0].url.port, 587);
        assert_eq!(c.rate_limit, RateLimit::default());
    }

    #[test]
    fn an_empty_file_is_help_desk_mode() {
        let c = parse("", Path::new("mail.toml")).unwrap();
        assert!(c.help_desk);
        assert!(c.domains.is_empty());
        let d = Config::default();
        assert_eq!(
            (d.help_desk, d.rate_limit, d.cache, d.request_timeout),
            (c.help_desk, c.rate_limit, c.cache, c.request_timeout)
        );
        assert_eq!(c.connections, ConnectionLimits::default());
        assert_eq!(c.connections.header_timeout, Duration::from_secs(10));
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let e = err("listen = [\"127.0.0.1:8080\"]\n\n[[domain]\nname = 1\n");
        assert_eq!((e.file.as_str(), e.line), ("mail.toml", 3), "{e}");
        assert!(e.to_string().starts_with("mail.toml:3: "), "{e}");
    }

    #[test]
    fn unknown_keys_are_refused_on_their_line() {
        let e = err("help_desk = true\nlisten_on = \"x\"\n");
        assert_eq!(e.line, 2, "{e}");
        assert!(e.message.contains("listen_on"), "{e}");
    }

    #[test]
    fn every_semantic_error_names_its_line_and_the_fix() {
        let cases: &[(&str, usize, &str)] = &[
            ("listen = [\"localhost\"]", 1, "IP:PORT"),
            ("public_url = \"ftp://x\"", 1, "https://"),
            ("[rate_limit]\nper_minute = 10\nburst = 0", 3, "at least 1"),
            ("[cache]\nttl_secs = 1\ncapacity = 0", 3, "at least 1"),
            ("request_timeout_secs = 0", 1, "between 1 and 600"),
            (
                "[connections]\nheader_timeout_secs = 0",
                2,
                "between 1 and 300",
            ),
            (
                "[connections]\nkeep_alive_secs = 301",
                2,
                "between 1 and 300",
            ),
            ("[connections]\nmax = 0", 2, "at least 1"),
            (
                "[tls]\ncert = \"/nonexistent/c.pem\"\nkey = \"/nonexistent/k.pem\"",
                2,
                "cannot be read",
            ),
        ];
        for (text, line, want) in cases {
            let e = err(text);
            assert_eq!(e.line, *line, "{text}: {e}");
            assert!(e.message.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn line_of_counts_newlines() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 99), 3);
    }
}
