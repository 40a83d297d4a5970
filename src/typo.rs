//! "Did you mean gmail.com?": domains a slip of the finger away from a
//! well-known provider's.
//!
//! An address at `gmial.com` or `hotmial.com` is almost always a typo, and
//! such names are registered by people who hope to receive other people's
//! mail. Discovery must not ask such a domain for settings (its autoconfig,
//! its MX) and offer them as if they were the provider's: the user would
//! type their password into a stranger's server. So before any network
//! discovery [`crate::lookup`] asks [`suggest`], and stops with a
//! `did-you-mean` note when it answers, unless the user confirmed the domain
//! (`Options::typo_check` off; `--no-typo-check` on the command line).
//!
//! A domain is a typo when it is not in the built-in provider table and is
//! at most two edits (insertions, deletions, substitutions, or swaps of two
//! neighbouring letters) from one of [`WELL_KNOWN`]: one edit for names of
//! eight characters, two from nine on. Shorter provider names (`aol.com`,
//! `gmx.de`, `qq.com`) are left out: too many real domains lie one edit from
//! them.
//!
//! ```
//! assert_eq!(mailsetup::typo::suggest("gmial.com"), Some("gmail.com"));
//! assert_eq!(mailsetup::typo::suggest("outlok.com"), Some("outlook.com"));
//! assert_eq!(mailsetup::typo::suggest("gmail.com"), None);
//! assert_eq!(mailsetup::typo::suggest("example.org"), None);
//! ```

use crate::provider::ProviderTable;
use crate::settings::Note;

/// The domains typos are compared with: the largest consumer providers'
/// main domains, most used first (the first at the smallest distance wins).
pub const WELL_KNOWN: &[&str] = &[
    "gmail.com",
    "yahoo.com",
    "hotmail.com",
    "outlook.com",
    "icloud.com",
    "live.com",
    "googlemail.com",
    "hotmail.co.uk",
    "yahoo.co.uk",
    "hotmail.fr",
    "yahoo.fr",
    "hotmail.de",
    "hotmail.it",
    "hotmail.es",
    "yahoo.co.in",
    "yahoo.co.jp",
    "yahoo.com.br",
    "yahoo.es",
    "yahoo.de",
    "outlook.de",
    "outlook.fr",
    "live.co.uk",
    "ymail.com",
    "rocketmail.com",
    "protonmail.com",
    "proton.me",
    "comcast.net",
    "verizon.net",
    "sbcglobal.net",
    "bellsouth.net",
    "charter.net",
    "earthlink.net",
    "optonline.net",
    "btinternet.com",
    "virginmedia.com",
    "blueyonder.co.uk",
    "t-online.de",
    "freenet.de",
    "orange.fr",
    "wanadoo.fr",
    "laposte.net",
    "libero.it",
    "virgilio.it",
    "tiscali.it",
    "yandex.ru",
    "rambler.ru",
    "seznam.cz",
    "interia.pl",
    "naver.com",
    "hanmail.net",
    "rediffmail.com",
    "bigpond.com",
    "rogers.com",
    "sympatico.ca",
    "uol.com.br",
    "bol.com.br",
    "terra.com.br",
    "zoho.com",
    "mail.com",
];

/// The well-known provider domain `domain` is most likely a typo of, if any.
/// `domain` is compared in lower case, without a trailing dot.
pub fn suggest(domain: &str) -> Option<&'static str> {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    if d.is_empty() || d.len() > 64 || ProviderTable::builtin().by_domain(&d).is_some() {
        return None;
    }
    let mut best: Option<(usize, &'static str)> = None;
    for &known in WELL_KNOWN {
        let limit = match known.len() {
            ..8 => continue,
            8 => 1,
            _ => 2,
        };
        if let Some(n) = distance(&d, known, limit) {
            if n > 0 && best.is_none_or(|(b, _)| n < b) {
                best = Some((n, known));
            }
        }
    }
    best.map(|(_, known)| known)
}

/// The `did-you-mean` note for a typo `domain` of `suggestion`.
pub fn note(domain: &str, suggestion: &str) -> Note {
    Note::new(
        "did-you-mean",
        format!(
            "Did you mean {suggestion}? {domain} is not a provider mailsetup knows, and it is one or two letters away from {suggestion}. Check the address: a name like this may belong to someone who collects other people's mail and passwords."
        ),
    )
}

/// The optimal-string-alignment distance of `a` and `b` (edits:
/// insertion, deletion, substitution, swap of neighbours), or `None` when
/// it is more than `limit`.
fn distance(a: &str, b: &str, limit: usize) -> Option<usize> {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len().abs_diff(b.len()) > limit {
        return None;
    }
    // Three rows of the dynamic-programming table: two back, one back, now.
    let mut two = vec![0usize; b.len() + 1];
    let mut one: Vec<usize> = (0..=b.len()).collect();
    let mut now = vec![0usize; b.len() + 1];
    for i in 1..=a.len() {
        now[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (one[j] + 1).min(now[j - 1] + 1).min(one[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(two[j - 2] + 1);
            }
            now[j] = v;
        }
        if now.iter().min().is_some_and(|&m| m > limit) {
            return None;
        }
        std::mem::swap(&mut two, &mut one);
        std::mem::swap(&mut one, &mut now);
    }
    Some(one[b.len()]).filter(|&n| n <= limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_typos_people_make_get_the_provider_they_meant() {
        for (typo, meant) in [
            ("gmial.com", "gmail.com"),
            ("gmai.com", "gmail.com"),
            ("gmail.con", "gmail.com"),
            ("gmail.co", "gmail.com"),
            ("gnail.com", "gmail.com"),
            ("GMIAL.COM.", "gmail.com"),
            ("hotmial.com", "hotmail.com"),
            ("hotmal.com", "hotmail.com"),
            ("hotmail.cm", "hotmail.com"),
            ("outlok.com", "outlook.com"),
            ("outllok.com", "outlook.com"),
            ("yaho.com", "yahoo.com"),
            ("yahooo.com", "yahoo.com"),
            ("icloud.co", "icloud.com"),
            ("iclod.com", "icloud.com"),
            ("hotmial.co.uk", "hotmail.co.uk"),
            ("comcast.ent", "comcast.net"),
            ("btinternt.com", "btinternet.com"),
        ] {
            assert_eq!(suggest(typo), Some(meant), "{typo}");
        }
    }

    #[test]
    fn real_domains_are_not_typos() {
        // Every domain of the built-in table is real, even when it is one
        // edit from another (mail.com and gmail.com, live.de and live.com).
        let table = ProviderTable::builtin();
        for p in table.providers() {
            for d in &p.domains {
                assert_eq!(suggest(d), None, "{d} of {}", p.id);
            }
        }
        for d in [
            "example.org",
            "nsn.com",
            "aol.co",
            "me.co",
            "gmx.dk",
            "university.edu",
            "",
            ".",
            "a",
        ] {
            assert_eq!(suggest(d), None, "{d}");
        }
        assert_eq!(suggest(&"g".repeat(5000)), None);
    }

    #[test]
    fn distance_counts_swaps_as_one_edit_and_stops_at_the_limit() {
        assert_eq!(distance("gmial.com", "gmail.com", 2), Some(1));
        assert_eq!(distance("gmail.com", "gmail.com", 2), Some(0));
        assert_eq!(distance("gml.com", "gmail.com", 2), Some(2));
        assert_eq!(distance("gm.com", "gmail.com", 2), None);
        assert_eq!(distance("abc", "", 3), Some(3));
        assert_eq!(distance("", "", 0), Some(0));
        assert_eq!(distance("xyz.org", "gmail.com", 2), None);
    }

    #[test]
    fn the_note_names_the_provider_and_has_its_code() {
        let n = note("gmial.com", "gmail.com");
        assert_eq!(n.code, "did-you-mean");
        assert!(n.text.starts_with("Did you mean gmail.com?"), "{}", n.text);
        assert!(n.text.contains("gmial.com"));
    }
}
