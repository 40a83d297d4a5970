//! The `[[domain]]` tables of the configuration: the operator's domains,
//! their servers (or `discover = true`), names and DAV URLs, and the checks
//! that keep a server from publishing settings that cannot work or would
//! expose passwords.

use serde::Deserialize;
use toml::Spanned;

use super::{At, ConfigError};
use crate::dav::{self, DavServer};
use crate::provider::ServerSpec;
use crate::settings::{Protocol, Security};

/// The most characters autoconfig's `displayShortName` may have.
const SHORT_NAME_MAX: usize = 20;

/// One of the operator's domains.
#[derive(Debug, Clone)]
pub struct DomainConfig {
    /// The main domain name (ASCII, lower case).
    pub name: String,
    /// The name clients show for the account's provider.
    pub display_name: String,
    /// A short name (autoconfig's `displayShortName`), at most 20
    /// characters; the display name when not given (the writer leaves it
    /// out when that is longer).
    pub short_name: String,
    /// Servers, or `None` to discover them like for any domain.
    pub servers: Option<DomainServers>,
    /// A CalDAV URL; `%EMAILADDRESS%` and kin are expanded.
    pub caldav: Option<String>,
    /// A CardDAV URL; `%EMAILADDRESS%` and kin are expanded.
    pub carddav: Option<String>,
}

/// The servers the operator lists for a domain, best first.
#[derive(Debug, Clone)]
pub struct DomainServers {
    /// The username template (`%EMAILADDRESS%`, `%EMAILLOCALPART%`).
    pub username: String,
    /// Incoming servers.
    pub incoming: Vec<ServerSpec>,
    /// Outgoing servers.
    pub outgoing: Vec<ServerSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileDomain {
    pub(super) name: Spanned<String>,
    #[serde(default)]
    pub(super) aliases: Vec<Spanned<String>>,
    display_name: Option<String>,
    short_name: Option<Spanned<String>>,
    discover: Option<Spanned<bool>>,
    username: Option<String>,
    #[serde(default)]
    incoming: Vec<Spanned<ServerSpec>>,
    #[serde(default)]
    outgoing: Vec<Spanned<ServerSpec>>,
    caldav: Option<Spanned<String>>,
    carddav: Option<Spanned<String>>,
}

pub(super) fn domain(d: &FileDomain, at: &At) -> Result<DomainConfig, ConfigError> {
    let name = crate::address::check_domain(d.name.get_ref())
        .map_err(|e| at(d.name.span(), format!("domain: {e}")))?;
    let listed = !d.incoming.is_empty() || !d.outgoing.is_empty();
    let discover = d.discover.as_ref().is_some_and(|b| *b.get_ref());
    let servers = match (discover, listed) {
        (true, true) => {
            return Err(at(
                d.discover.as_ref().map_or(d.name.span(), |b| b.span()),
                format!(
                    "{name}: either list incoming and outgoing servers or set discover = true, not both"
                ),
            ));
        }
        (true, false) => None,
        (false, _) if d.incoming.is_empty() || d.outgoing.is_empty() => {
            return Err(at(
                d.name.span(),
                format!(
                    "{name}: list at least one incoming and one outgoing server, such as incoming = [{{ url = \"imaps://imap.{name}\", auth = [\"password\"] }}], or set discover = true"
                ),
            ));
        }
        (false, _) => {
            for s in &d.incoming {
                check_server(s, true, at)?;
            }
            for s in &d.outgoing {
                check_server(s, false, at)?;
            }
            Some(DomainServers {
                username: d
                    .username
                    .clone()
                    .unwrap_or_else(|| "%EMAILADDRESS%".into()),
                incoming: d.incoming.iter().map(|s| s.get_ref().clone()).collect(),
                outgoing: d.outgoing.iter().map(|s| s.get_ref().clone()).collect(),
            })
        }
    };
    // Checked as it will be used: expanded for an address of the domain.
    let sample = crate::address::EmailAddress::parse(&format!("user@{name}"))
        .map_err(|e| at(d.name.span(), format!("domain: {e}")))?;
    let dav = |u: &Option<Spanned<String>>, what: &str| -> Result<Option<String>, ConfigError> {
        match u {
            Some(u) if !u.get_ref().starts_with("https://") => Err(at(
                u.span(),
                format!("{what} must be an https:// URL (clients send passwords to it)"),
            )),
            Some(u) => match DavServer::parse(&dav::expand(&sample, u.get_ref())) {
                Ok(_) => Ok(Some(u.get_ref().clone())),
                Err(e) => Err(at(u.span(), format!("{what}: {e}"))),
            },
            None => Ok(None),
        }
    };
    if let Some(short) = &d.short_name {
        let n = short.get_ref().chars().count();
        if n == 0 || n > SHORT_NAME_MAX {
            return Err(at(
                short.span(),
                format!(
                    "short_name has {n} characters: clients show at most {SHORT_NAME_MAX} (autoconfig's displayShortName); shorten it or leave it out"
                ),
            ));
        }
    }
    let display_name = d.display_name.clone().unwrap_or_else(|| name.clone());
    Ok(DomainConfig {
        short_name: d
            .short_name
            .as_ref()
            .map(|s| s.get_ref().clone())
            .unwrap_or_else(|| display_name.clone()),
        display_name,
        servers,
        caldav: dav(&d.caldav, "caldav")?,
        carddav: dav(&d.carddav, "carddav")?,
        name,
    })
}

fn check_server(s: &Spanned<ServerSpec>, incoming: bool, at: &At) -> Result<(), ConfigError> {
    let url = &s.get_ref().url;
    let problem = if incoming && url.protocol == Protocol::Smtp {
        Some("an SMTP server is listed under incoming: move it to outgoing")
    } else if !incoming && url.protocol != Protocol::Smtp {
        Some("outgoing servers are SMTP (smtps:// or smtp://): move IMAP and POP3 to incoming")
    } else if url.security == Security::None {
        Some(
            "a server without encryption would make clients send passwords in clear: use imaps://, smtps:// or STARTTLS (imap://, smtp://)",
        )
    } else if url.protocol == Protocol::Smtp && url.port == 25 {
        Some("port 25 is for servers relaying mail: clients submit on 465 (smtps://) or 587")
    } else if s.get_ref().auth.is_empty() {
        Some("auth is empty: list at least one method, such as auth = [\"password\"]")
    } else {
        None
    };
    match problem {
        Some(p) => Err(at(s.span(), format!("{url}: {p}"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::parse;
    use super::super::tests::{GOOD, err};

    #[test]
    fn domain_errors_are_found() {
        let dup = GOOD.replace("example.net", "example.com");
        let e = err(&dup);
        assert_eq!(e.line, 5, "{e}");
        assert!(e.message.contains("listed twice"), "{e}");

        let bad_name = GOOD.replace("Example.COM", "exa mple");
        assert!(err(&bad_name).message.contains("not a valid domain"));

        let smtp_in = GOOD.replace("imaps://imap", "smtps://imap");
        let e = err(&smtp_in);
        assert_eq!(e.line, 7, "{e}");
        assert!(e.message.contains("move it to outgoing"), "{e}");

        let imap_out = GOOD.replace("smtp://smtp", "imap://smtp");
        assert!(err(&imap_out).message.contains("outgoing servers are SMTP"));

        let clear = GOOD.replace(
            "imaps://imap.example.com",
            "imap://imap.example.com?security=none",
        );
        assert!(err(&clear).message.contains("without encryption"));

        let relay = GOOD.replace("smtp://smtp.example.com", "smtp://smtp.example.com:25");
        assert!(err(&relay).message.contains("port 25"));

        let both = GOOD.replace("display_name", "discover = true\ndisplay_name");
        let e = err(&both);
        assert!(e.message.contains("not both"), "{e}");

        let none = "[[domain]]\nname = \"example.org\"\n";
        let e = err(none);
        assert_eq!(e.line, 2, "{e}");
        assert!(e.message.contains("discover = true"), "{e}");

        let http_dav = GOOD.replace("https://dav", "http://dav");
        assert!(err(&http_dav).message.contains("https://"));

        let dav_secret = GOOD.replace("https://dav", "https://me:hunter2@dav");
        let e = err(&dav_secret);
        assert!(e.message.contains("user name or password"), "{e}");
        assert!(!e.message.contains("hunter2"), "{e}");
        let dav_no_host = GOOD.replace("https://dav.example.com/", "https:///");
        assert!(err(&dav_no_host).message.starts_with("caldav: "));
        // A placeholder in the host name is fine: it is checked expanded.
        let dav_domain = GOOD.replace("https://dav.example.com/", "https://dav.%EMAILDOMAIN%/");
        assert!(parse(&dav_domain, Path::new("m.toml")).is_ok());

        let long = GOOD.replace(
            "display_name",
            "short_name = \"A name far too long to show\"\ndisplay_name",
        );
        let e = err(&long);
        assert!(e.message.contains("at most 20"), "{e}");
        let empty = GOOD.replace("display_name", "short_name = \"\"\ndisplay_name");
        assert!(err(&empty).message.contains("short_name has 0"));
        let fine = GOOD.replace("display_name", "short_name = \"Example\"\ndisplay_name");
        let c = parse(&fine, Path::new("m.toml")).unwrap();
        assert_eq!(c.domains["example.com"].short_name, "Example");

        let bad_url = GOOD.replace("imaps://imap.example.com", "http://imap.example.com");
        let e = err(&bad_url);
        assert_eq!(e.line, 7, "{e}");
        assert!(e.message.contains("not a mail scheme"), "{e}");
    }

    #[test]
    fn discover_domains_have_no_servers() {
        let c = parse(
            "[[domain]]\nname = \"example.org\"\ndiscover = true\n",
            Path::new("m.toml"),
        )
        .unwrap();
        assert!(c.domains["example.org"].servers.is_none());
    }
}
