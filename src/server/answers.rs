//! Rendered answers that cannot change while the server runs, kept.
//!
//! An autoconfig or Autodiscover answer for one of the operator's
//! configured domains, or for a built-in provider, depends only on the
//! address asked about (and the configuration, fixed for the life of the
//! [`super::AppState`]): rendering it again for every request of a busy
//! Monday morning is wasted work. Such answers are kept here by endpoint
//! and address, up to [`MAX_BYTES`] in all; when that is reached the whole
//! store is dropped and refilled, which keeps the bound without per-entry
//! bookkeeping. Answers from network discovery are never kept here: the
//! discovery cache and its time to live govern them.

use std::collections::HashMap;
use std::sync::RwLock;

use axum::body::Bytes;

/// The most bytes of answers kept.
pub const MAX_BYTES: usize = 4 << 20;

/// Which answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Autoconfig for an address.
    Autoconfig,
    /// Autoconfig with placeholders (no address given; the domain from
    /// the Host header).
    AutoconfigTemplate,
    /// The POX Autodiscover answer.
    Autodiscover,
}

/// By kind, then by address: two levels so that a lookup borrows the
/// address instead of building a key (this runs on every request).
#[derive(Default)]
struct Store {
    answers: HashMap<Kind, HashMap<String, Bytes>>,
    bytes: usize,
}

/// The kept answers.
#[derive(Default)]
pub struct Answers {
    store: RwLock<Store>,
}

impl Answers {
    /// An empty store.
    pub fn new() -> Answers {
        Answers::default()
    }

    /// The answer kept for `kind` and `email`, if any.
    pub fn get(&self, kind: Kind, email: &str) -> Option<Bytes> {
        let store = self.store.read().unwrap_or_else(|p| p.into_inner());
        store.answers.get(&kind)?.get(email).cloned()
    }

    /// Keeps `answer` for `kind` and `email`.
    pub fn put(&self, kind: Kind, email: &str, answer: Bytes) {
        let size = answer.len() + email.len();
        if size > MAX_BYTES {
            return;
        }
        let mut store = self.store.write().unwrap_or_else(|p| p.into_inner());
        if store.bytes + size > MAX_BYTES {
            store.answers.clear();
            store.answers.shrink_to_fit();
            store.bytes = 0;
        }
        if store
            .answers
            .entry(kind)
            .or_default()
            .insert(email.to_string(), answer)
            .is_none()
        {
            store.bytes += size;
        }
    }

    /// How many answers are kept.
    pub fn len(&self) -> usize {
        self.store
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .answers
            .values()
            .map(HashMap::len)
            .sum()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_kept_by_kind_and_address() {
        let a = Answers::new();
        a.put(
            Kind::Autoconfig,
            "jane@example.com",
            Bytes::from_static(b"<xml/>"),
        );
        assert_eq!(
            a.get(Kind::Autoconfig, "jane@example.com").unwrap(),
            Bytes::from_static(b"<xml/>")
        );
        assert!(a.get(Kind::Autodiscover, "jane@example.com").is_none());
        assert!(a.get(Kind::Autoconfig, "Jane@example.com").is_none());
    }

    #[test]
    fn the_store_never_grows_past_its_bound() {
        let a = Answers::new();
        let big = Bytes::from(vec![b'x'; 64 << 10]);
        for i in 0..1000 {
            a.put(Kind::Autoconfig, &format!("u{i}@example.com"), big.clone());
            let store = a.store.read().unwrap();
            assert!(store.bytes <= MAX_BYTES);
        }
        assert!(a.len() <= MAX_BYTES / (64 << 10));
        assert!(!a.is_empty());
        // Larger than the whole store: not kept at all.
        a.put(
            Kind::Autoconfig,
            "huge@example.com",
            Bytes::from(vec![0; MAX_BYTES + 1]),
        );
        assert!(a.get(Kind::Autoconfig, "huge@example.com").is_none());
    }
}
