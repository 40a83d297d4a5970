//! An entry's domains or MX patterns, without copies for the built-in
//! table.
//!
//! A table read from TOML owns its lists. An entry of the compiled built-in
//! table points into the build script's index instead, which already holds
//! every name: a lookup parses one entry, and Outlook.com's alone lists 180
//! domains, each of which would otherwise be a heap allocation (and, at
//! start, the first touch of more memory pages) that the lookup never reads.

use serde::{Deserialize, Deserializer};

use super::{NAMES, compiled, index};

/// Domains or MX patterns of one entry, in file order.
#[derive(Debug, Clone)]
pub struct Names(Repr);

#[derive(Debug, Clone)]
enum Repr {
    /// Read from a table's text.
    Listed(Vec<String>),
    /// Byte ranges of the compiled table's `names.txt`.
    Compiled(&'static [(u32, u32)]),
}

/// Which list of a compiled entry.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    Domains,
    Mx,
}

impl Names {
    /// The list of entry `n` of the compiled built-in table.
    pub(super) fn compiled(n: usize, kind: Kind) -> Names {
        let (domains, mx) = index::OWN[n];
        let (start, count) = match kind {
            Kind::Domains => domains,
            Kind::Mx => mx,
        };
        let (start, count) = (start as usize, count as usize);
        Names(Repr::Compiled(
            index::OWN_NAMES
                .get(start..start + count)
                .unwrap_or_default(),
        ))
    }

    /// The names, in file order.
    pub fn iter(&self) -> Iter<'_> {
        Iter(match &self.0 {
            Repr::Listed(v) => IterRepr::Listed(v.iter()),
            Repr::Compiled(r) => IterRepr::Compiled(r.iter()),
        })
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Listed(v) => v.len(),
            Repr::Compiled(r) => r.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first one (an entry's main domain).
    pub fn first(&self) -> Option<&str> {
        self.iter().next()
    }
}

impl Default for Names {
    fn default() -> Self {
        Names(Repr::Listed(Vec::new()))
    }
}

impl From<Vec<String>> for Names {
    fn from(v: Vec<String>) -> Self {
        Names(Repr::Listed(v))
    }
}

impl PartialEq for Names {
    fn eq(&self, other: &Names) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Names {}

impl<'de> Deserialize<'de> for Names {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<String>::deserialize(d).map(Names::from)
    }
}

/// The iterator of [`Names::iter`].
#[derive(Debug, Clone)]
pub struct Iter<'a>(IterRepr<'a>);

#[derive(Debug, Clone)]
enum IterRepr<'a> {
    Listed(std::slice::Iter<'a, String>),
    Compiled(std::slice::Iter<'static, (u32, u32)>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        match &mut self.0 {
            IterRepr::Listed(it) => it.next().map(String::as_str),
            IterRepr::Compiled(it) => it.next().map(|&(at, len)| compiled(NAMES, at, len)),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            IterRepr::Listed(it) => it.size_hint(),
            IterRepr::Compiled(it) => it.size_hint(),
        }
    }
}

impl<'a> IntoIterator for &'a Names {
    type Item = &'a str;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}
