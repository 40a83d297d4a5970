//! DNS: the one resolver every network step uses.
//!
//! Built on hickory-resolver, either from the system's configuration or, with
//! `--dns IP[:PORT]`, with that one name server (UDP, falling back to TCP).
//! The same resolver answers the HTTPS client's host lookups (through
//! [`super::http::GuardedResolver`]), so `--dns` covers every connection the
//! program makes.
//!
//! Answers are reduced to what discovery needs: MX hosts by preference, SRV
//! records by priority and weight, and whether an answer was validated with
//! DNSSEC. Validation runs on a second resolver next to the plain one, so a
//! name server that cannot serve DNSSEC (most home routers) costs a failed
//! validation, never a failed lookup.
//!
//! Validation trusts the root zone's keys built into hickory, plus any
//! [`TrustAnchor`] given with `--trust-anchor FILE`: DNSKEY records in
//! zone-file format, for a zone whose chain of DS records does not reach
//! the root (a private or lab zone, or one whose parent is not signed).
//!
//! A resolver may carry a discovery's [`Guard`]: every question then
//! spends its DNS budget ([`super::policy`]), and a spent budget is
//! [`DnsError::OverBudget`]. Which addresses may be dialled is decided where
//! they are dialled, not here.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::dnssec::{Proof, TrustAnchors, Verifier};
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{Resolver, TokioResolver};

use super::policy::Guard;

/// How long an SRV answer's DNSSEC validation may take before the answer
/// counts as not validated.
pub const VALIDATION_LIMIT: Duration = Duration::from_secs(2);

/// Why a DNS question got no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// The name does not exist, or has no record of the type asked.
    #[error("no such record")]
    NotFound,
    /// The name server did not answer in time.
    #[error("the DNS server did not answer in time")]
    Timeout,
    /// The answer could not be decoded.
    #[error("the DNS answer could not be read: {0}")]
    Garbage(String),
    /// Any other failure (server failure, refused, network).
    #[error("DNS lookup failed: {0}")]
    Failed(String),
    /// Not asked: the discovery's budget of DNS questions is spent.
    #[error("not asked: the discovery's budget of DNS questions is spent")]
    OverBudget,
}

/// Why the resolver could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up DNS: {0}; give a name server with --dns IP (for example --dns 9.9.9.9)")]
pub struct DnsSetupError(String);

/// Extra DNSSEC trust anchors (`--trust-anchor FILE`), read once.
///
/// The file holds DNSKEY records in zone-file format, one a line:
/// `example.org. 3600 IN DNSKEY 257 3 13 mdsswUyr…` (the output of
/// `dig DNSKEY example.org`, or a `K*.key` file of `dnssec-keygen`; `;`
/// starts a comment). Each key is trusted for its owner name only, besides
/// the root zone's built-in keys. Keys at the root replace nothing: they are
/// trusted alongside.
#[derive(Clone)]
pub struct TrustAnchor {
    path: PathBuf,
    zones: Vec<String>,
    anchors: Arc<TrustAnchors>,
}

impl std::fmt::Debug for TrustAnchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustAnchor")
            .field("path", &self.path)
            .field("zones", &self.zones)
            .finish_non_exhaustive()
    }
}

/// Why a trust anchor file cannot be used.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot use the trust anchor file {path}: {reason}; it must hold the zone's DNSKEY records in zone-file format, one a line (for example the output of `dig DNSKEY example.org`)"
)]
pub struct TrustAnchorError {
    path: String,
    reason: String,
}

impl TrustAnchor {
    /// Reads `path`. At most this many bytes are read: a trust anchor file
    /// holds a few keys, not a zone.
    const MAX_LEN: u64 = 1 << 20;

    /// Reads and parses a trust anchor file.
    pub fn load(path: &Path) -> Result<TrustAnchor, TrustAnchorError> {
        let fail = |reason: String| TrustAnchorError {
            path: path.display().to_string(),
            reason,
        };
        let len = std::fs::metadata(path)
            .map_err(|e| fail(e.to_string()))?
            .len();
        if len > Self::MAX_LEN {
            return Err(fail(format!(
                "it is {len} bytes, more than the {} a file of keys can need",
                Self::MAX_LEN
            )));
        }
        let text = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        let text = String::from_utf8(text).map_err(|_| fail("it is not text".into()))?;
        Self::parse(&text)
            .map_err(fail)
            .map(|(zones, anchors)| TrustAnchor {
                path: path.to_path_buf(),
                zones,
                anchors: Arc::new(anchors),
            })
    }

    /// Parses the text of a trust anchor file: the zones named, and the
    /// anchors (the built-in root keys plus the file's).
    fn parse(text: &str) -> Result<(Vec<String>, TrustAnchors), String> {
        use hickory_resolver::proto::serialize::txt::trust_anchor::{Entry, Parser};

        // hickory's parser cannot tell a DS record from any other type it
        // does not take; a DS is what a registrar shows, so say so.
        let has_ds = text.lines().any(|l| {
            let l = l.split(';').next().unwrap_or_default();
            l.split_whitespace().any(|w| w.eq_ignore_ascii_case("DS"))
        });
        let entries = Parser::new(text).parse().map_err(|e| {
            if has_ds {
                "DS records are not taken, only the DNSKEY records they are digests of".to_string()
            } else {
                e.to_string()
            }
        })?;
        let mut anchors = TrustAnchors::default();
        let mut zones = Vec::new();
        for entry in entries {
            let Entry::DNSKEY(record) = entry else {
                continue;
            };
            let dnskey = record.data();
            if dnskey.revoke() {
                continue;
            }
            // hickory asserts (panics) on a key of an algorithm it cannot
            // check: ask first. Decoding then proves the key well formed.
            if !dnskey.algorithm().is_supported() {
                return Err(format!(
                    "the DNSKEY of {} uses algorithm {}, which cannot be checked here (use ECDSA, Ed25519 or RSA/SHA-256)",
                    record.name(),
                    dnskey.algorithm()
                ));
            }
            dnskey
                .key()
                .map_err(|e| format!("a DNSKEY of {}: {e}", record.name()))?;
            anchors.insert_with_name(dnskey.public_key(), record.name().into());
            let zone = host_name(&record.name().to_ascii());
            if !zones.contains(&zone) {
                zones.push(zone);
            }
        }
        if zones.is_empty() {
            return Err("it holds no DNSKEY record".into());
        }
        Ok((zones, anchors))
    }

    /// The zones the file has keys for, lower case ("" for the root).
    pub fn zones(&self) -> &[String] {
        &self.zones
    }
}

/// One MX record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mx {
    /// Lower is preferred.
    pub preference: u16,
    /// The mail exchanger, lower case, without the trailing dot; empty for a
    /// "null MX" (RFC 7505: the domain receives no mail).
    pub host: String,
}

/// One SRV record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Srv {
    /// Lower is preferred.
    pub priority: u16,
    /// Among equal priorities, higher is preferred.
    pub weight: u16,
    /// The port.
    pub port: u16,
    /// The target, lower case, without the trailing dot; empty for `.`
    /// ("service not offered", RFC 2782).
    pub target: String,
}

/// An SRV answer, and whether DNSSEC vouched for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvAnswer {
    /// Records sorted best first (priority ascending, weight descending).
    pub records: Vec<Srv>,
    /// Every record was DNSSEC-validated (proof: secure).
    pub validated: bool,
}

/// The resolver.
#[derive(Clone)]
pub struct Dns {
    plain: TokioResolver,
    validating: TokioResolver,
    guard: Guard,
}

impl Dns {
    /// A resolver asking `server`, or the system's name servers when `None`.
    /// Must be called inside a tokio runtime.
    pub fn new(server: Option<SocketAddr>) -> Result<Dns, DnsSetupError> {
        Dns::with_trust_anchor(server, None)
    }

    /// [`Dns::new`], validating with `anchor`'s keys besides the root's.
    pub fn with_trust_anchor(
        server: Option<SocketAddr>,
        anchor: Option<&TrustAnchor>,
    ) -> Result<Dns, DnsSetupError> {
        let build = |validate: bool| -> Result<TokioResolver, DnsSetupError> {
            let provider = TokioRuntimeProvider::default();
            let mut builder = match server {
                Some(addr) => {
                    let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                    for c in &mut ns.connections {
                        c.port = addr.port();
                    }
                    Resolver::builder_with_config(
                        ResolverConfig::from_name_servers(vec![ns]),
                        provider,
                    )
                }
                None => Resolver::builder(provider).map_err(|e| DnsSetupError(e.to_string()))?,
            };
            let opts: &mut ResolverOpts = builder.options_mut();
            opts.timeout = Duration::from_secs(4);
            opts.attempts = 2;
            opts.validate = validate;
            if let (true, Some(a)) = (validate, anchor) {
                builder = builder.with_trust_anchor(a.anchors.clone());
            }
            builder.build().map_err(|e| DnsSetupError(e.to_string()))
        };
        Ok(Dns {
            plain: build(false)?,
            validating: build(true)?,
            guard: Guard::default(),
        })
    }

    /// The same resolver, spending `guard`'s budget of questions.
    pub fn guarded(&self, guard: Guard) -> Dns {
        Dns {
            guard,
            ..self.clone()
        }
    }

    /// Spends the budget for `questions` questions about `key`; a
    /// question asked before is answered from the resolver's cache.
    fn spend(&self, key: String, questions: u32) -> Result<(), DnsError> {
        self.guard
            .take_questions_for(&key, questions)
            .map_err(|_| DnsError::OverBudget)
    }

    /// The addresses of `host` (two questions: A and AAAA).
    ///
    /// A first, AAAA only when the name has no A record (an IPv6-only
    /// host), as the resolver's own IPv4-then-IPv6 lookup does, except
    /// that a name that does not exist is not asked again for AAAA
    /// (RFC 8020): discovery asks after many names that do not exist.
    pub async fn ips(&self, host: &str) -> Result<Vec<IpAddr>, DnsError> {
        self.spend(format!("A/AAAA {host}"), 2)?;
        let name = fqdn(host);
        let addrs = |answers: &[hickory_resolver::proto::rr::Record]| -> Vec<IpAddr> {
            answers
                .iter()
                .filter_map(|r| match &r.data {
                    RData::A(a) => Some(IpAddr::V4(a.0)),
                    RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                    _ => None,
                })
                .collect()
        };
        let v4 = match self.plain.ipv4_lookup(name.clone()).await {
            Ok(found) => addrs(found.answers()),
            Err(e) if e.is_nx_domain() => return Err(DnsError::NotFound),
            Err(e) if e.is_no_records_found() => Vec::new(),
            Err(e) => return Err(classify(e)),
        };
        if !v4.is_empty() {
            return Ok(v4);
        }
        let found = self.plain.ipv6_lookup(name).await.map_err(classify)?;
        let v6 = addrs(found.answers());
        if v6.is_empty() {
            return Err(DnsError::NotFound);
        }
        Ok(v6)
    }

    /// Whether `domain` exists: `false` only when DNS says there is no
    /// such name (NXDOMAIN), which means no name under it exists either
    /// (RFC 8020). Asks for MX and A at once, and believes "no such name"
    /// only when both say it: some servers (dnsmasq among them) answer
    /// NXDOMAIN for a type they hold nothing of. Discovery asks both
    /// anyway, so its questions are then answered from the cache.
    pub async fn exists(&self, domain: &str) -> bool {
        if self.spend(format!("MX {domain}"), 1).is_err()
            || self.spend(format!("A/AAAA {domain}"), 2).is_err()
        {
            return true;
        }
        let (mx, a) = tokio::join!(
            self.plain.mx_lookup(fqdn(domain)),
            self.plain.ipv4_lookup(fqdn(domain))
        );
        let nx = |r: &Result<hickory_resolver::lookup::Lookup, NetError>| {
            r.as_ref().is_err_and(NetError::is_nx_domain)
        };
        !(nx(&mx) && nx(&a))
    }

    /// The MX records of `domain`, lowest preference first.
    pub async fn mx(&self, domain: &str) -> Result<Vec<Mx>, DnsError> {
        self.spend(format!("MX {domain}"), 1)?;
        let found = self.plain.mx_lookup(fqdn(domain)).await.map_err(classify)?;
        let mut mx: Vec<Mx> = found
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::MX(m) => Some(Mx {
                    preference: m.preference,
                    host: host_name(&m.exchange.to_ascii()),
                }),
                _ => None,
            })
            .collect();
        if mx.is_empty() {
            return Err(DnsError::NotFound);
        }
        mx.sort_by_key(|m| m.preference);
        Ok(mx)
    }

    /// The SRV records at `name`, best first, with DNSSEC validation asked
    /// alongside.
    pub async fn srv(&self, name: &str) -> Result<SrvAnswer, DnsError> {
        self.spend(format!("SRV {name}"), 2)?;
        // The plain answer first: most SRV names asked do not exist, and
        // those need no validation (which asks again, and may walk the
        // chain of trust, several round trips more).
        let plain = self.plain.srv_lookup(fqdn(name)).await.map_err(classify)?;
        let mut records = srv_records(plain.answers().iter().map(|r| &r.data));
        if records.is_empty() {
            return Err(DnsError::NotFound);
        }
        sort_srv(&mut records);
        // A chain of trust that cannot be walked in time is no proof.
        let validated =
            tokio::time::timeout(VALIDATION_LIMIT, self.validating.srv_lookup(fqdn(name)))
                .await
                .unwrap_or(Err(NetError::Timeout));
        let validated = match validated {
            Ok(v) => {
                let answers = v.answers();
                !answers.is_empty()
                    && answers
                        .iter()
                        .filter(|r| matches!(r.data, RData::SRV(_)))
                        .all(|r| r.proof == Proof::Secure)
                    && {
                        let mut same = srv_records(answers.iter().map(|r| &r.data));
                        sort_srv(&mut same);
                        same == records
                    }
            }
            Err(_) => false,
        };
        Ok(SrvAnswer { records, validated })
    }
}

fn srv_records<'a>(data: impl Iterator<Item = &'a RData>) -> Vec<Srv> {
    data.filter_map(|d| match d {
        RData::SRV(s) => Some(Srv {
            priority: s.priority,
            weight: s.weight,
            port: s.port,
            target: host_name(&s.target.to_ascii()),
        }),
        _ => None,
    })
    .collect()
}

/// Orders SRV records best first: priority ascending, then weight
/// descending. RFC 2782 picks among equal priorities at random, weighted;
/// showing one answer to a person, the heaviest is the fair choice and keeps
/// output stable.
pub fn sort_srv(records: &mut [Srv]) {
    records.sort_by(|a, b| {
        a.priority
            .cmp(&b.priority)
            .then(b.weight.cmp(&a.weight))
            .then(a.target.cmp(&b.target))
    });
}

/// A name as an absolute name (one query, no search list).
fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    }
}

/// A DNS name as a host name: lower case, no trailing dot; the root is "".
fn host_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn classify(e: NetError) -> DnsError {
    if e.is_no_records_found() || e.is_nx_domain() {
        return DnsError::NotFound;
    }
    match &e {
        NetError::Timeout => DnsError::Timeout,
        NetError::Proto(p) => DnsError::Garbage(short(&p.to_string())),
        _ => DnsError::Failed(short(&e.to_string())),
    }
}

fn short(s: &str) -> String {
    s.chars().take(160).collect()
}

/// A host lookup made for the HTTPS client failed. Callers find it in the
/// HTTP error's source chain to tell "no such host" from other failures.
#[derive(Debug, thiserror::Error)]
#[error("{host}: {error}")]
pub struct ResolveError {
    /// The host asked for.
    pub host: String,
    /// What went wrong.
    pub error: DnsError,
}

#[cfg(test)]
mod tests {
    use hickory_resolver::proto::serialize::txt::trust_anchor::Entry;

    use super::*;

    fn srv(priority: u16, weight: u16, target: &str) -> Srv {
        Srv {
            priority,
            weight,
            port: 993,
            target: target.into(),
        }
    }

    #[test]
    fn srv_records_sort_by_priority_then_weight() {
        let mut r = vec![
            srv(20, 0, "c.example"),
            srv(10, 5, "b.example"),
            srv(10, 50, "a.example"),
        ];
        sort_srv(&mut r);
        let order: Vec<_> = r.iter().map(|s| s.target.as_str()).collect();
        assert_eq!(order, ["a.example", "b.example", "c.example"]);
    }

    /// A real key (ECDSA P-256) as `dnssec-keygen` writes it.
    const KEY_FILE: &str = "; This is a key-signing key, keyid 39601, for signed.test.
; Created: 20261203141107 (Thu Dec  3 14:11:07 2026)
signed.test. IN DNSKEY 257 3 13 2xBIWMh3UReDnAqMnmVDAi4lzWrhnoGFJW6xe3b/WJ/5pOi4IlVVcgy8 +1y7Czu1Bg35Xyom9FrkqguMe+IB1w==
";

    #[test]
    fn a_key_file_is_trusted_for_its_own_zone() {
        let (zones, anchors) = TrustAnchor::parse(KEY_FILE).unwrap();
        assert_eq!(zones, ["signed.test"]);
        let Entry::DNSKEY(record) =
            hickory_resolver::proto::serialize::txt::trust_anchor::Parser::new(KEY_FILE)
                .parse()
                .unwrap()
                .remove(0)
        else {
            unreachable!()
        };
        let key = record.data().public_key();
        let zone = record.name().into();
        assert!(anchors.contains_with_name(key, &zone));
        let other = hickory_resolver::proto::rr::Name::from_ascii("other.test.").unwrap();
        assert!(!anchors.contains_with_name(key, &other.into()));
        // The root's own keys stay.
        assert_eq!(anchors.len(), TrustAnchors::default().len());
    }

    #[test]
    fn files_without_a_usable_key_are_refused_with_a_reason() {
        for (text, want) in [
            ("", "no DNSKEY record"),
            ("; only a comment\n", "no DNSKEY record"),
            (
                "signed.test. 3600 IN DS 39601 13 2 ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789\n",
                "DS records are not taken",
            ),
            ("signed.test. IN DNSKEY 257 3 13 !!!\n", ""),
            ("signed.test. IN A 192.0.2.1\n", ""),
            // A key of an algorithm nobody can check (253: private).
            (
                "signed.test. IN DNSKEY 257 3 253 AAAA\n",
                "cannot be checked",
            ),
        ] {
            let e = TrustAnchor::parse(text).err();
            let e = e.unwrap_or_else(|| panic!("{text:?} was taken"));
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn names_are_normalised() {
        assert_eq!(host_name("MX.Example.TEST."), "mx.example.test");
        assert_eq!(host_name("."), "");
        assert_eq!(fqdn("a.test"), "a.test.");
        assert_eq!(fqdn("a.test."), "a.test.");
    }
}
