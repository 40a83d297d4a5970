//! Which hosts discovery may ask, and what a host's domain is.
//!
//! Rules that every source shares, kept in one place so they are tested once:
//! whether a host lies within the address's domain (then DNS answers
//! pointing at it need no further proof), the registrable domain of a host
//! (from the Public Suffix List through the `psl` crate, never a hand-made
//! list, and never a bare public suffix), and which hosts Autodiscover must
//! never be asked at (a parent domain, `autodiscover.<public suffix>`).

/// Whether `host` is `domain` or a name below it. Both are ASCII lower case
/// without a trailing dot.
pub fn within(host: &str, domain: &str) -> bool {
    let host = host.trim_end_matches('.');
    host == domain
        || host
            .strip_suffix(domain)
            .is_some_and(|rest| rest.ends_with('.'))
}

/// Whether `name` is itself a public suffix (`com`, `co.uk`, `github.io`):
/// something anyone can register below, which therefore speaks for nobody.
pub fn is_public_suffix(name: &str) -> bool {
    let name = name.trim_end_matches('.');
    psl::suffix_str(name) == Some(name)
}

/// The registrable domain of `host` (`mx1.mail.hoster.co.uk` →
/// `hoster.co.uk`); `None` when the host is a public suffix itself.
pub fn registrable(host: &str) -> Option<String> {
    let host = host.trim_end_matches('.');
    psl::domain_str(host)
        .filter(|d| !is_public_suffix(d))
        .map(str::to_string)
}

/// Why Autodiscover must not be asked at `host` for an address at
/// `domain`, or `None` when it may be.
///
/// Outlook's old "back-off" asked `autodiscover.<parent>` and finally
/// `autodiscover.<tld>` — hosts its users do not control — and sent
/// passwords there. Neither a parent domain, nor `autodiscover.` in front of
/// one, nor a public suffix with or without `autodiscover.` is ever asked.
pub fn autodiscover_forbidden(host: &str, domain: &str) -> Option<String> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if within(&host, domain) {
        return None;
    }
    let base = host.strip_prefix("autodiscover.").unwrap_or(&host);
    if is_public_suffix(base) {
        return Some(format!(
            "{host} belongs to a public suffix ({base}), not to {domain}"
        ));
    }
    if within(domain, base) {
        return Some(format!("{host} is at a parent domain of {domain}"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_means_the_domain_or_below_it() {
        assert!(within("example.test", "example.test"));
        assert!(within("imap.example.test", "example.test"));
        assert!(within("a.b.example.test.", "example.test"));
        assert!(!within("badexample.test", "example.test"));
        assert!(!within("example.test.evil.test", "example.test"));
        assert!(!within("test", "example.test"));
    }

    #[test]
    fn registrable_domains_come_from_the_public_suffix_list() {
        assert_eq!(
            registrable("mx1.mail.hoster.co.uk").as_deref(),
            Some("hoster.co.uk")
        );
        assert_eq!(
            registrable("mx.hoster.test").as_deref(),
            Some("hoster.test")
        );
        assert_eq!(
            registrable("aspmx.l.google.com").as_deref(),
            Some("google.com")
        );
        for suffix in ["co.uk", "com", "github.io"] {
            assert_eq!(registrable(suffix), None, "{suffix}");
            assert!(is_public_suffix(suffix), "{suffix}");
        }
        // A private-section suffix: the user's own part is the registrable one.
        assert_eq!(
            registrable("mx.someone.github.io").as_deref(),
            Some("someone.github.io")
        );
    }

    #[test]
    fn autodiscover_is_never_asked_at_a_parent_or_a_suffix() {
        let d = "mail.example.co.uk";
        assert_eq!(autodiscover_forbidden("mail.example.co.uk", d), None);
        assert_eq!(
            autodiscover_forbidden("autodiscover.mail.example.co.uk", d),
            None
        );
        for bad in [
            "example.co.uk",
            "autodiscover.example.co.uk",
            "co.uk",
            "autodiscover.co.uk",
            "autodiscover.uk",
            "autodiscover.com",
            "AUTODISCOVER.COM.",
        ] {
            assert!(autodiscover_forbidden(bad, d).is_some(), "{bad}");
        }
        // An unrelated host (a hoster named by a redirect or SRV) is allowed.
        assert_eq!(autodiscover_forbidden("autodiscover.hoster.test", d), None);
    }
}
