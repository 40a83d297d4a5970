//! The built-in provider table.
//!
//! This module owns the project's own data file, `data/providers.toml`,
//! compiled into the binary: for each provider its domains, the MX host
//! patterns that recognise a custom domain hosted there, its servers best
//! first, the username form, the authentication methods and the notes a user
//! needs before logging in. The file is written and maintained by this
//! project; `tests/corpora.rs` compares it with Thunderbird's ISPDB and
//! chatmail's provider-db and fails where they disagree without a recorded
//! reason (`why_differs`).
//!
//! Loading is lazy, because parsing the whole file costs several times more
//! than the rest of a `lookup`: the build script (`build.rs`) turns each
//! entry into a compact JSON object and indexes domains and MX patterns; at
//! run time a lookup finds its entry by binary search and parses only that
//! one. Each parsed entry is checked against the table's rules (see
//! [`Problem`]); a test parses every entry and compares the compiled form
//! with a direct parse of the TOML, so a bad entry fails the tests, not a
//! user.
//!
//! ```
//! use mailsetup::provider::ProviderTable;
//! let table = ProviderTable::builtin();
//! let p = table.by_domain("MSN.com").unwrap();
//! assert_eq!(p.id, "outlook.com");
//! assert!(table.by_mx_host("example-com.mail.protection.outlook.com").is_some());
//! ```

mod names;
mod schema;
mod validate;

use std::collections::HashMap;
use std::sync::{LazyLock, OnceLock};

use serde::Deserialize;

pub use names::{Iter as NamesIter, Names};
pub use schema::{IosAccount, Provider, ServerSpec, Status, mx_pattern_matches};
pub use validate::{ACTION_NOTES, CORPORA, Problem};

/// The table's source text, compiled in.
pub const PROVIDERS_TOML: &str = include_str!("../../data/providers.toml");

/// The entries of [`PROVIDERS_TOML`] as the build script compiled them:
/// one JSON object each.
const PROVIDERS_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/providers.json"));

/// Every id, domain and MX pattern of the compiled table, one after the
/// other; the index addresses them by byte range.
const NAMES: &str = include_str!(concat!(env!("OUT_DIR"), "/names.txt"));

/// The build script's index: byte ranges of the entries in
/// [`PROVIDERS_JSON`], and of their ids, domains (sorted) and MX patterns
/// in [`NAMES`]. Integers only, so that loading the program needs no
/// relocation for it (see `build.rs`).
mod index {
    include!(concat!(env!("OUT_DIR"), "/provider_index.rs"));
}

/// The text of a byte range of a compiled string. The build script wrote
/// the ranges while writing those very strings, so they are in bounds and on
/// char boundaries; `get` keeps a mistake from being more than a miss.
fn compiled(text: &'static str, at: u32, len: u32) -> &'static str {
    let at = at as usize;
    text.get(at..at + len as usize).unwrap_or_default()
}

/// Keys (domains or MX patterns) with the number of their provider: the
/// built-in table's compiled index, or one built from a parsed table.
#[derive(Debug)]
enum Keys {
    Compiled(&'static [(u32, u32, u32)]),
    Owned(Vec<(String, usize)>),
}

impl Keys {
    fn len(&self) -> usize {
        match self {
            Keys::Compiled(k) => k.len(),
            Keys::Owned(k) => k.len(),
        }
    }

    fn get(&self, i: usize) -> (&str, usize) {
        match self {
            Keys::Compiled(k) => {
                let (at, len, n) = k[i];
                (compiled(NAMES, at, len), n as usize)
            }
            Keys::Owned(k) => (k[i].0.as_str(), k[i].1),
        }
    }

    fn iter(&self) -> impl Iterator<Item = (&str, usize)> {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Binary search; the keys are sorted.
    fn find(&self, key: &str) -> Option<usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let (k, n) = self.get(mid);
            match k.cmp(key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(n),
            }
        }
        None
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableFile {
    provider: Vec<Provider>,
}

/// Why the table's text could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// Not valid TOML for the schema.
    #[error("provider table: {0}")]
    Toml(#[from] toml::de::Error),
    /// A domain listed twice.
    #[error("provider table: domain {0} is listed by both {1} and {2}")]
    DuplicateDomain(String, String, String),
    /// Two providers with one id.
    #[error("provider table: the id {0} is used twice")]
    DuplicateId(String),
    /// An entry that breaks one of the table's rules.
    #[error("provider table: {provider}: {problem}")]
    Invalid {
        /// The entry's id.
        provider: String,
        /// What is wrong.
        problem: Problem,
    },
    /// An entry of the compiled built-in table that does not fit the schema.
    #[error("provider table (compiled): {0}")]
    Compiled(#[from] serde_json::Error),
}

/// The provider table, indexed by domain and MX pattern.
#[derive(Debug)]
pub struct ProviderTable {
    /// Each provider, parsed on first use for the compiled table.
    entries: Vec<OnceLock<Box<Provider>>>,
    /// Whether `entries` are the compiled built-in table's.
    compiled: bool,
    /// Every provider, made on the first call of [`ProviderTable::providers`].
    all: OnceLock<Vec<Provider>>,
    domains: Keys,
    mx: Keys,
}

static BUILTIN: LazyLock<ProviderTable> = LazyLock::new(ProviderTable::compiled_in);

impl ProviderTable {
    /// The table compiled into the program.
    pub fn builtin() -> &'static ProviderTable {
        &BUILTIN
    }

    fn compiled_in() -> ProviderTable {
        ProviderTable {
            entries: (0..index::BLOCKS.len()).map(|_| OnceLock::new()).collect(),
            compiled: true,
            all: OnceLock::new(),
            domains: Keys::Compiled(&index::DOMAINS),
            mx: Keys::Compiled(&index::MX),
        }
    }

    /// Parses, checks and indexes a whole table.
    pub fn parse(text: &str) -> Result<ProviderTable, TableError> {
        let file: TableFile = toml::from_str(text)?;
        let mut owner: HashMap<&str, usize> = HashMap::new();
        let mut ids: HashMap<&str, ()> = HashMap::new();
        let mut domains = Vec::new();
        let mut mx = Vec::new();
        for (i, p) in file.provider.iter().enumerate() {
            validate::validate(p).map_err(|problem| TableError::Invalid {
                provider: p.id.clone(),
                problem,
            })?;
            if ids.insert(&p.id, ()).is_some() {
                return Err(TableError::DuplicateId(p.id.clone()));
            }
            for d in &p.domains {
                if let Some(&j) = owner.get(d) {
                    let first = file.provider[j].id.clone();
                    return Err(TableError::DuplicateDomain(
                        d.to_string(),
                        first,
                        p.id.clone(),
                    ));
                }
                owner.insert(d, i);
                domains.push((d.to_string(), i));
            }
            mx.extend(p.mx.iter().map(|m| (m.to_string(), i)));
        }
        domains.sort();
        let entries = file
            .provider
            .into_iter()
            .map(|p| OnceLock::from(Box::new(p)))
            .collect();
        Ok(ProviderTable {
            entries,
            compiled: false,
            all: OnceLock::new(),
            domains: Keys::Owned(domains),
            mx: Keys::Owned(mx),
        })
    }

    /// Parses entry `n` of the compiled built-in table; its domains and MX
    /// patterns are the index's.
    fn parse_block(n: usize) -> Result<Provider, TableError> {
        let mut p: Provider = serde_json::from_str(Self::block(n))?;
        p.domains = Names::compiled(n, names::Kind::Domains);
        p.mx = Names::compiled(n, names::Kind::Mx);
        validate::validate(&p).map_err(|problem| TableError::Invalid {
            provider: p.id.clone(),
            problem,
        })?;
        Ok(p)
    }

    /// The compiled JSON of entry `n` of the built-in table.
    fn block(n: usize) -> &'static str {
        let (start, end) = index::BLOCKS[n];
        compiled(PROVIDERS_JSON, start, end.saturating_sub(start))
    }

    /// The id of entry `n`, without parsing it.
    fn id(&self, n: usize) -> &str {
        if self.compiled {
            let (at, len) = index::IDS[n];
            compiled(NAMES, at, len)
        } else {
            self.get(n).id.as_str()
        }
    }

    fn get(&self, n: usize) -> &Provider {
        self.entries[n].get_or_init(|| {
            // Only the compiled table has entries left to parse;
            // `every_builtin_entry_parses_and_follows_the_rules` parses each
            // of them, so this cannot fail in a tested build.
            let p = Self::parse_block(n)
                .unwrap_or_else(|err| panic!("built-in provider {n} is invalid: {err}"));
            Box::new(p)
        })
    }

    /// The number of providers.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// All providers, in file order. The first call parses every entry of
    /// the built-in table; lookups never need this.
    pub fn providers(&self) -> &[Provider] {
        self.all.get_or_init(|| {
            (0..self.entries.len())
                .map(|i| self.get(i).clone())
                .collect()
        })
    }

    /// The provider of an email domain (any case, trailing dot allowed).
    pub fn by_domain(&self, domain: &str) -> Option<&Provider> {
        let d = domain.trim_end_matches('.').to_ascii_lowercase();
        Some(self.get(self.domains.find(&d)?))
    }

    /// The provider whose MX patterns match `mx_host`. Where several match,
    /// the most specific wins: an exact host before any `*.suffix`, a longer
    /// suffix before a shorter one.
    pub fn by_mx_host(&self, mx_host: &str) -> Option<&Provider> {
        let h = mx_host.trim_end_matches('.').to_ascii_lowercase();
        self.mx
            .iter()
            .filter(|(p, _)| mx_pattern_matches(p, &h))
            .max_by_key(|(p, _)| (!p.starts_with("*."), p.len()))
            .map(|(_, n)| self.get(n))
    }

    /// The provider with this id.
    pub fn by_id(&self, id: &str) -> Option<&Provider> {
        let i = (0..self.entries.len()).find(|&n| self.id(n) == id)?;
        Some(self.get(i))
    }
}

#[cfg(test)]
mod tests;
