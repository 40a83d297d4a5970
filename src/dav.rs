//! Calendar and contacts servers (CalDAV, CardDAV) that go with a mail
//! account: their URLs, checked once, for the writers.
//!
//! An operator names them per domain as URL templates with the autoconfig
//! placeholders (`https://dav.example.com/%EMAILADDRESS%/`); `mailsetup
//! profile` takes them as `--caldav` and `--carddav`. [`expand`] fills the
//! placeholders for one address, percent-encoding what it puts in, so a
//! local part with `/`, `?`, `#` or spaces stays one piece of the path
//! instead of changing where the URL points. [`DavServer::parse`] accepts
//! only `https://` URLs with a host and no user name or password in them:
//! clients send the account's password to these servers. Parsing is the
//! `url` crate's; nothing here does I/O.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use url::Url;

use crate::address::EmailAddress;

/// What is percent-encoded in an expanded placeholder: everything but
/// letters, digits, `-._~` (unreserved) and `@` and `+`, which a path
/// segment may hold as they are (RFC 3986 `pchar`) and which addresses
/// have.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'@')
    .remove(b'+');

/// `template` with `%EMAILADDRESS%`, `%EMAILLOCALPART%` and `%EMAILDOMAIN%`
/// replaced by `email`'s (login address, local part without `+tag`, ASCII
/// domain), each percent-encoded for a URL path.
pub fn expand(email: &EmailAddress, template: &str) -> String {
    let enc = |s: &str| utf8_percent_encode(s, SEGMENT).to_string();
    template
        .replace("%EMAILADDRESS%", &enc(&email.login_address()))
        .replace("%EMAILLOCALPART%", &enc(email.base_local_part()))
        .replace("%EMAILDOMAIN%", &enc(email.domain()))
}

/// Why a DAV URL was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DavUrlError {
    /// Not a URL at all.
    #[error("'{url}' is not a URL ({why}): give one like https://dav.example.com/")]
    NotAUrl {
        /// What was given.
        url: String,
        /// The parser's reason.
        why: String,
    },
    /// Not `https://`.
    #[error(
        "'{0}' is not an https:// URL: clients send the account's password to it, so it must be encrypted"
    )]
    NotHttps(String),
    /// A user name or password inside the URL.
    #[error(
        "the URL for {0} has a user name or password in it: leave them out, the client asks for them"
    )]
    Credentials(String),
}

/// One CalDAV or CardDAV server, as a checked `https://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DavServer {
    url: Url,
}

impl DavServer {
    /// Checks `url`: `https://`, a host, no credentials.
    pub fn parse(url: &str) -> Result<DavServer, DavUrlError> {
        let parsed = Url::parse(url.trim()).map_err(|e| DavUrlError::NotAUrl {
            url: url.to_string(),
            why: e.to_string(),
        })?;
        if parsed.scheme() != "https" {
            return Err(DavUrlError::NotHttps(url.to_string()));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            // Named by host only: the URL itself holds the secret.
            let host = parsed.host_str().unwrap_or("this server").to_string();
            return Err(DavUrlError::Credentials(host));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(DavUrlError::NotAUrl {
                url: url.to_string(),
                why: "no host".into(),
            });
        }
        Ok(DavServer { url: parsed })
    }

    /// The whole URL.
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// The host name (or IP address).
    pub fn host(&self) -> &str {
        // Invariant: `parse` refused URLs without a host.
        self.url.host_str().unwrap_or_default()
    }

    /// The port: the URL's own, else 443.
    pub fn port(&self) -> u16 {
        self.url.port_or_known_default().unwrap_or(443)
    }
}

/// The calendar and contacts servers of an account, either or both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dav {
    /// The CalDAV server (calendars).
    pub caldav: Option<DavServer>,
    /// The CardDAV server (contacts).
    pub carddav: Option<DavServer>,
}

impl Dav {
    /// Whether neither server is set.
    pub fn is_empty(&self) -> bool {
        self.caldav.is_none() && self.carddav.is_none()
    }

    /// The servers that are set, each with its kind.
    pub fn servers(&self) -> impl Iterator<Item = (DavKind, &DavServer)> {
        [
            (DavKind::CalDav, self.caldav.as_ref()),
            (DavKind::CardDav, self.carddav.as_ref()),
        ]
        .into_iter()
        .filter_map(|(k, s)| s.map(|s| (k, s)))
    }
}

/// The DAV servers of an account with the user name they log in with.
#[derive(Debug, Clone, Copy)]
pub struct DavAccount<'a> {
    /// The servers; none set means nothing is written.
    pub dav: &'a Dav,
    /// The user name (no password is ever written).
    pub username: &'a str,
}

/// CalDAV or CardDAV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DavKind {
    /// Calendars (RFC 4791).
    CalDav,
    /// Contacts (RFC 6352).
    CardDav,
}

impl DavKind {
    /// The protocol's name as people write it.
    pub fn name(self) -> &'static str {
        match self {
            DavKind::CalDav => "CalDAV",
            DavKind::CardDav => "CardDAV",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(s: &str) -> EmailAddress {
        s.parse().unwrap()
    }

    #[test]
    fn placeholders_expand_and_cannot_change_the_path() {
        let e = email("Jane+news@example.org");
        assert_eq!(
            expand(&e, "https://dav.example.org/%EMAILADDRESS%/cal"),
            "https://dav.example.org/Jane@example.org/cal"
        );
        assert_eq!(
            expand(&e, "https://dav.%EMAILDOMAIN%/%EMAILLOCALPART%/"),
            "https://dav.example.org/Jane/"
        );
        // Characters an address may hold that would end the path segment.
        let odd = email("a/b?c#d@example.org");
        let url = expand(&odd, "https://dav.example.org/%EMAILLOCALPART%/");
        assert_eq!(url, "https://dav.example.org/a%2Fb%3Fc%23d/");
        let s = DavServer::parse(&url).unwrap();
        assert_eq!(s.url(), url, "the parser keeps the segment whole");
        let quoted = email("\"j doe\"@example.org");
        assert!(!expand(&quoted, "https://h/%EMAILLOCALPART%").contains(' '));
    }

    #[test]
    fn only_https_urls_with_a_host_and_no_credentials_pass() {
        let ok = DavServer::parse("https://dav.example.org:8443/cal/").unwrap();
        assert_eq!(
            (ok.host(), ok.port(), ok.url()),
            ("dav.example.org", 8443, "https://dav.example.org:8443/cal/")
        );
        assert_eq!(
            DavServer::parse("https://dav.example.org").unwrap().port(),
            443
        );
        assert!(matches!(
            DavServer::parse("http://dav.example.org/"),
            Err(DavUrlError::NotHttps(_))
        ));
        let e = DavServer::parse("https://me:hunter2@dav.example.org/").unwrap_err();
        assert!(matches!(e, DavUrlError::Credentials(_)));
        assert!(!e.to_string().contains("hunter2"), "{e}");
        for bad in [
            "",
            "dav.example.org",
            "https://",
            "https://[::1/",
            "https://exa mple.org/",
        ] {
            assert!(DavServer::parse(bad).is_err(), "{bad}");
        }
        let long = format!("https://dav.example.org/{}", "a".repeat(100_000));
        assert!(DavServer::parse(&long).is_ok(), "long paths are only long");
    }

    #[test]
    fn servers_lists_what_is_set() {
        let cal = DavServer::parse("https://c.example.org/").unwrap();
        let dav = Dav {
            caldav: Some(cal.clone()),
            carddav: None,
        };
        let kinds: Vec<_> = dav.servers().map(|(k, _)| k).collect();
        assert_eq!(kinds, [DavKind::CalDav]);
        assert!(!dav.is_empty());
        assert!(Dav::default().is_empty());
    }
}
