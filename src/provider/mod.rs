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

mod check;
mod schema;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{LazyLock, OnceLock};

use serde::Deserialize;

pub use check::{ACTION_NOTES, CORPORA, Problem};
pub use schema::{IosAccount, Provider, ServerSpec, Status, mx_pattern_matches};

/// The table's source text, compiled in.
pub const PROVIDERS_TOML: &str = include_str!("../../data/providers.toml");

/// The entries of [`PROVIDERS_TOML`] as the build script compiled them:
/// one JSON object each.
const PROVIDERS_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/providers.json"));

/// The build script's index of [`PROVIDERS_JSON`]: byte ranges of the
/// entries, their ids, and the sorted domain and MX indexes.
mod index {
    include!(concat!(env!("OUT_DIR"), "/provider_index.rs"));
}

/// (key, provider number) pairs; the domain index is sorted by key.
type Index = Cow<'static, [(Cow<'static, str>, usize)]>;

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

/// One provider: parsed already, or an entry of the compiled built-in table
/// to parse on first use.
#[derive(Debug)]
struct Entry {
    id: Cow<'static, str>,
    block: Option<&'static str>,
    provider: OnceLock<Provider>,
}

/// The provider table, indexed by domain and MX pattern.
#[derive(Debug)]
pub struct ProviderTable {
    entries: Vec<Entry>,
    /// Every provider, made on the first call of [`ProviderTable::providers`].
    all: OnceLock<Vec<Provider>>,
    domains: Index,
    mx: Index,
}

static BUILTIN: LazyLock<ProviderTable> = LazyLock::new(ProviderTable::compiled_in);

impl ProviderTable {
    /// The table compiled into the program.
    pub fn builtin() -> &'static ProviderTable {
        &BUILTIN
    }

    fn compiled_in() -> ProviderTable {
        let entries = index::BLOCKS
            .iter()
            .zip(index::IDS)
            .map(|(&(start, end), id)| Entry {
                id: Cow::Borrowed(id),
                // The build script recorded these ranges while writing this
                // very text, so they are in bounds and on char boundaries.
                block: Some(&PROVIDERS_JSON[start..end]),
                provider: OnceLock::new(),
            })
            .collect();
        ProviderTable {
            entries,
            all: OnceLock::new(),
            domains: Cow::Borrowed(&index::DOMAINS),
            mx: Cow::Borrowed(&index::MX),
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
            check::check(p).map_err(|problem| TableError::Invalid {
                provider: p.id.clone(),
                problem,
            })?;
            if ids.insert(&p.id, ()).is_some() {
                return Err(TableError::DuplicateId(p.id.clone()));
            }
            for d in &p.domains {
                if let Some(&j) = owner.get(d.as_str()) {
                    let first = file.provider[j].id.clone();
                    return Err(TableError::DuplicateDomain(d.clone(), first, p.id.clone()));
                }
                owner.insert(d, i);
                domains.push((Cow::Owned(d.clone()), i));
            }
            mx.extend(p.mx.iter().map(|m| (Cow::Owned(m.clone()), i)));
        }
        domains.sort();
        let entries = file
            .provider
            .into_iter()
            .map(|p| Entry {
                id: Cow::Owned(p.id.clone()),
                block: None,
                provider: OnceLock::from(p),
            })
            .collect();
        Ok(ProviderTable {
            entries,
            all: OnceLock::new(),
            domains: Cow::Owned(domains),
            mx: Cow::Owned(mx),
        })
    }

    /// Parses one entry of the compiled built-in table.
    fn parse_block(block: &str) -> Result<Provider, TableError> {
        let p: Provider = serde_json::from_str(block)?;
        check::check(&p).map_err(|problem| TableError::Invalid {
            provider: p.id.clone(),
            problem,
        })?;
        Ok(p)
    }

    fn get(&self, n: usize) -> &Provider {
        let e = &self.entries[n];
        e.provider.get_or_init(|| {
            // Entries without a parsed provider are compiled entries of the
            // built-in table; `every_builtin_entry_parses_and_follows_the_rules`
            // parses each of them, so this cannot fail in a tested build.
            let block = e.block.unwrap_or_default();
            Self::parse_block(block)
                .unwrap_or_else(|err| panic!("built-in provider {} is invalid: {err}", e.id))
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
        let i = self
            .domains
            .binary_search_by(|(k, _)| k.as_ref().cmp(d.as_str()))
            .ok()?;
        Some(self.get(self.domains[i].1))
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
            .map(|&(_, n)| self.get(n))
    }

    /// The provider with this id.
    pub fn by_id(&self, id: &str) -> Option<&Provider> {
        let i = self.entries.iter().position(|e| e.id == id)?;
        Some(self.get(i))
    }
}

#[cfg(test)]
mod tests;
