//! Thunderbird autoconfig XML (`clientConfig` version 1.1,
//! draft-ietf-mailmaint-autoconfig): the writer.
//!
//! The reader is [`super::parse`]; the tests feed every file written
//! here back through it and through the draft's RELAX NG grammar
//! (`xmllint --relaxng`). One `emailProvider` is written for the address's
//! domain with every server of the account, best first, each with its
//! `<authentication>` values; the provider's help page and notes with a link
//! become `<documentation>`, and "switch IMAP/POP on first" notes become
//! Thunderbird's `<enable>` element. Calendar and contacts servers, when
//! known, become the draft's `<calendar type="caldav">` and
//! `<addressbook type="carddav">` sections, which its grammar places in
//! `<clientConfig>` next to `<emailProvider>`. Text is escaped by quick-xml
//! after [`crate::xml_text::clean`] has dropped what XML cannot carry.

use std::io;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, Event};

use crate::address::EmailAddress;
use crate::dav::{DavAccount, DavKind};
use crate::settings::{Note, Protocol, Security, Server, Settings};
use crate::xml_text::{clean, escaped, text};

/// The media type of an autoconfig file.
pub const CONTENT_TYPE: &str = "application/xml";

/// The draft allows at most 20 characters in `<displayShortName>`.
const SHORT_NAME_MAX: usize = 20;

/// Note codes that become `<enable>` (a step in the provider's web settings
/// before IMAP or POP works) rather than `<documentation>`.
const ENABLE_CODES: &[&str] = &["enable-imap", "enable-pop"];

/// What goes into the file besides the account's mail servers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extras<'a> {
    /// The provider's page with its settings for mail apps.
    pub help: Option<&'a str>,
    /// `<displayShortName>`, when the provider's name is too long for it
    /// or another is wanted (at most 20 characters; longer is left out).
    pub short_name: Option<&'a str>,
    /// Calendar and contacts servers.
    pub dav: Option<DavAccount<'a>>,
}

/// The autoconfig file for `email`'s account.
pub fn write(email: &EmailAddress, settings: &Settings, extras: &Extras<'_>) -> String {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    // Invariant: the writer is a Vec, which never fails, so no io::Error
    // can arise.
    write_config(&mut w, email, settings, extras).expect("writing XML into memory cannot fail");
    let mut out = String::from_utf8(w.into_inner())
        .expect("quick-xml writes the UTF-8 strings it is given unchanged");
    out.push('\n');
    out
}

fn write_config(
    w: &mut Writer<Vec<u8>>,
    email: &EmailAddress,
    settings: &Settings,
    extras: &Extras<'_>,
) -> io::Result<()> {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let (id, name) = match &settings.provider {
        Some(p) => (clean(&p.id).into_owned(), clean(&p.name).into_owned()),
        None => (
            email.domain().to_string(),
            email.domain_unicode().to_string(),
        ),
    };
    w.create_element("clientConfig")
        .with_attribute(("version", "1.1"))
        .write_inner_content(|w| {
            w.create_element("emailProvider")
                .with_attribute(("id", id.as_str()))
                .write_inner_content(|w| {
                    text(w, "domain", email.domain())?;
                    text(w, "displayName", &name)?;
                    let short = extras.short_name.map(clean);
                    if let Some(short) = [short.as_deref(), Some(name.as_str())]
                        .into_iter()
                        .flatten()
                        .find(|n| !n.is_empty() && n.chars().count() <= SHORT_NAME_MAX)
                    {
                        text(w, "displayShortName", short)?;
                    }
                    for s in &settings.incoming {
                        server(w, "incomingServer", s)?;
                    }
                    for s in &settings.outgoing {
                        server(w, "outgoingServer", s)?;
                    }
                    documentation(w, extras.help, &settings.notes)?;
                    for n in settings
                        .notes
                        .iter()
                        .filter(|n| ENABLE_CODES.contains(&n.code.as_str()))
                    {
                        enable(w, n)?;
                    }
                    Ok(())
                })?;
            if let Some(dav) = &extras.dav {
                dav_sections(w, dav)?;
            }
            Ok(())
        })?;
    Ok(())
}

/// `<calendar>` and `<addressbook>`: the draft's URL-based server sections.
/// The client logs in with the account's password over HTTP Basic, as in
/// the draft's own example; DAV servers that take mail passwords (Nextcloud,
/// SOGo, Radicale behind a mail login) accept it.
fn dav_sections(w: &mut Writer<Vec<u8>>, dav: &DavAccount<'_>) -> io::Result<()> {
    for (kind, server) in dav.dav.servers() {
        let (element, kind) = match kind {
            DavKind::CalDav => ("calendar", "caldav"),
            DavKind::CardDav => ("addressbook", "carddav"),
        };
        w.create_element(element)
            .with_attribute(("type", kind))
            .write_inner_content(|w| {
                text(w, "url", server.url())?;
                w.create_element("authentication")
                    .with_attribute(("system", "http"))
                    .write_text_content(escaped("Basic"))?;
                if !dav.username.is_empty() {
                    text(w, "username", dav.username)?;
                }
                Ok(())
            })?;
    }
    Ok(())
}

fn server(w: &mut Writer<Vec<u8>>, element: &str, s: &Server) -> io::Result<()> {
    let kind = match s.protocol {
        Protocol::Imap => "imap",
        Protocol::Pop3 => "pop3",
        Protocol::Smtp => "smtp",
    };
    w.create_element(element)
        .with_attribute(("type", kind))
        .write_inner_content(|w| {
            text(w, "hostname", &s.host)?;
            text(w, "port", &s.port.to_string())?;
            text(w, "socketType", socket_type(s.security))?;
            text(w, "username", &s.username)?;
            let mut seen = Vec::new();
            for a in &s.auth {
                if !seen.contains(a) {
                    seen.push(*a);
                    text(w, "authentication", a.autoconfig_name())?;
                }
            }
            Ok(())
        })?;
    Ok(())
}

/// The `<socketType>` of a security.
pub fn socket_type(security: Security) -> &'static str {
    match security {
        Security::Tls => "SSL",
        Security::Starttls => "STARTTLS",
        Security::None => "plain",
    }
}

fn documentation(w: &mut Writer<Vec<u8>>, help: Option<&str>, notes: &[Note]) -> io::Result<()> {
    let mut docs: Vec<(&str, &str)> = Vec::new();
    if let Some(url) = help {
        docs.push((url, "The provider's settings for mail apps"));
    }
    for n in notes
        .iter()
        .filter(|n| !ENABLE_CODES.contains(&n.code.as_str()))
    {
        if let Some(url) = &n.url {
            docs.push((url, &n.text));
        }
    }
    let mut written: Vec<&str> = Vec::new();
    for (url, descr) in docs {
        if written.contains(&url) {
            continue;
        }
        written.push(url);
        w.create_element("documentation")
            .with_attribute(("url", clean(url).as_ref()))
            .write_inner_content(|w| {
                w.create_element("descr")
                    .with_attribute(("lang", "en"))
                    .write_text_content(escaped(descr))?;
                Ok(())
            })?;
    }
    Ok(())
}

fn enable(w: &mut Writer<Vec<u8>>, n: &Note) -> io::Result<()> {
    let mut el = w.create_element("enable");
    if let Some(url) = &n.url {
        el = el.with_attribute(("visiturl", clean(url).as_ref()));
    }
    el.write_inner_content(|w| text(w, "instruction", &n.text))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autoconfig;
    use crate::settings::{AuthMethod, ProviderRef, Source, Trust};

    fn settings(name: &str) -> Settings {
        Settings {
            provider: Some(ProviderRef {
                id: "example.org".into(),
                name: name.into(),
            }),
            incoming: vec![Server {
                protocol: Protocol::Imap,
                host: "imap.example.org".into(),
                port: 993,
                security: Security::Tls,
                auth: vec![AuthMethod::Password, AuthMethod::Password],
                username: "a&b<c>@example.org".into(),
            }],
            outgoing: vec![Server {
                protocol: Protocol::Smtp,
                host: "smtp.example.org".into(),
                port: 25,
                security: Security::None,
                auth: vec![AuthMethod::None],
                username: String::new(),
            }],
            source: Source::User,
            trust: Trust::Verified,
            notes: vec![],
        }
    }

    #[test]
    fn hostile_names_are_escaped_and_round_trip() {
        let email: EmailAddress = "x@example.org".parse().unwrap();
        let xml = write(
            &email,
            &settings("A&B <\"Mail\"> ]]> \u{1}Ü"),
            &Extras::default(),
        );
        assert!(xml.contains("A&amp;B &lt;"), "{xml}");
        assert!(!xml.contains('\u{1}'));
        let cfg = autoconfig::parse(xml.as_bytes()).unwrap();
        let p = &cfg.providers[0];
        assert_eq!(p.display_name.as_deref(), Some("A&B <\"Mail\"> ]]> Ü"));
        let back = p
            .to_settings(&email, &cfg, Source::Autoconfig, Trust::Verified)
            .unwrap();
        assert_eq!(back.incoming[0].username, "a&b<c>@example.org");
        assert_eq!(back.incoming[0].auth, [AuthMethod::Password]);
        assert_eq!(back.outgoing[0].security, Security::None);
        assert_eq!(back.outgoing[0].auth, [AuthMethod::None]);
    }

    #[test]
    fn long_names_get_no_short_name() {
        let email: EmailAddress = "x@example.org".parse().unwrap();
        let long = settings("A very long provider name indeed");
        let xml = write(&email, &long, &Extras::default());
        assert!(!xml.contains("displayShortName"));
        let xml = write(&email, &settings("Short"), &Extras::default());
        assert!(xml.contains("<displayShortName>Short</displayShortName>"));
        // A short name given wins; one too long falls back to the name.
        fn given(short: &str) -> Extras<'_> {
            Extras {
                short_name: Some(short),
                ..Extras::default()
            }
        }
        let xml = write(&email, &long, &given("Long & Co"));
        assert!(xml.contains("<displayShortName>Long &amp; Co</displayShortName>"));
        let xml = write(&email, &settings("Short"), &given(&"x".repeat(21)));
        assert!(xml.contains("<displayShortName>Short</displayShortName>"));
        let xml = write(&email, &long, &given(&"x".repeat(21)));
        assert!(!xml.contains("displayShortName"));
    }
}
