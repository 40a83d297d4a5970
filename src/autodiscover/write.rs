//! Outlook's "POX" Autodiscover responses: the writers — an account's
//! settings ([`fn@write`]) and the `Error` response ([`error_response`]).
//!
//! The answer Outlook expects from `POST /autodiscover/autodiscover.xml`
//! ([MS-OXDSCLI] §2.2.4), in the namespace [`super::OUTLOOK_2006A`],
//! with one `<Protocol>` per IMAP, POP3 and SMTP server, best first (Outlook
//! takes the first of each type).
//!
//! Security is written twice, because Outlook versions read different
//! elements: `<Encryption>` (`SSL` for implicit TLS, `TLS` for STARTTLS,
//! `None`), which [MS-OXDSCLI] says overrides `<SSL>` where present, and
//! `<SSL>`, which is `on` for every encrypted server. An old client that
//! reads only `<SSL>` then fails to connect on a STARTTLS port instead of
//! logging in without encryption. Text is escaped by
//! [`crate::xml_text::escaped`].
//!
//! [MS-OXDSCLI] has no element for calendar and contacts servers other than
//! Exchange's own. Like automx2 (`generators/outlook.py`), a CalDAV or
//! CardDAV server becomes one more `<Protocol>` of `<Type>CalDAV</Type>` or
//! `CardDAV`, with the URL as `<Server>`: Outlook skips types it does not
//! know, and DAV-aware clients of Autodiscover (and add-ins) read them.
//! Unlike automx2, placeholders in the URL are expanded for the address.

use std::io;

use quick_xml::Writer;
use quick_xml::escape::escape;
use quick_xml::events::{BytesDecl, Event};

use super::{NS_RESPONSE_ROOT, OUTLOOK_2006A};
use crate::dav::{DavAccount, DavKind};
use crate::settings::{AuthMethod, Protocol, Security, Server, Settings};
use crate::xml_text::text;

/// The media type of the response.
pub const CONTENT_TYPE: &str = "application/xml";

/// The Autodiscover response for an account's settings, with its calendar
/// and contacts servers when given.
pub fn write(settings: &Settings, dav: Option<&DavAccount<'_>>) -> String {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    // Invariant: the writer is a Vec, which never fails.
    write_response(&mut w, settings, dav).expect("writing XML into memory cannot fail");
    let mut out = String::from_utf8(w.into_inner())
        .expect("quick-xml writes the UTF-8 strings it is given unchanged");
    out.push('\n');
    out
}

fn write_response(
    w: &mut Writer<Vec<u8>>,
    settings: &Settings,
    dav: Option<&DavAccount<'_>>,
) -> io::Result<()> {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
    w.create_element("Autodiscover")
        .with_attribute(("xmlns", NS_RESPONSE_ROOT))
        .write_inner_content(|w| {
            w.create_element("Response")
                .with_attribute(("xmlns", OUTLOOK_2006A))
                .write_inner_content(|w| {
                    w.create_element("Account").write_inner_content(|w| {
                        text(w, "AccountType", "email")?;
                        text(w, "Action", "settings")?;
                        for s in settings.incoming.iter().chain(&settings.outgoing) {
                            protocol(w, s)?;
                        }
                        if let Some(dav) = dav {
                            dav_protocols(w, dav)?;
                        }
                        Ok(())
                    })?;
                    Ok(())
                })?;
            Ok(())
        })?;
    Ok(())
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

fn protocol(w: &mut Writer<Vec<u8>>, s: &Server) -> io::Result<()> {
    let kind = match s.protocol {
        Protocol::Imap => "IMAP",
        Protocol::Pop3 => "POP3",
        Protocol::Smtp => "SMTP",
    };
    let encryption = match s.security {
        Security::Tls => "SSL",
        Security::Starttls => "TLS",
        Security::None => "None",
    };
    // SPA ("secure password authentication") is Microsoft's name for NTLM.
    let spa = s.auth.first() == Some(&AuthMethod::Ntlm);
    let auth_required = !(s.auth.is_empty() || s.auth == [AuthMethod::None]);
    w.create_element("Protocol").write_inner_content(|w| {
        text(w, "Type", kind)?;
        text(w, "Server", &s.host)?;
        text(w, "Port", &s.port.to_string())?;
        text(w, "DomainRequired", "off")?;
        if !s.username.is_empty() {
            text(w, "LoginName", &s.username)?;
        }
        text(w, "SPA", on_off(spa))?;
        text(w, "SSL", on_off(s.security.is_encrypted()))?;
        text(w, "Encryption", encryption)?;
        text(w, "AuthRequired", on_off(auth_required))?;
        Ok(())
    })?;
    Ok(())
}

/// One `<Protocol>` per DAV server; see the module documentation.
fn dav_protocols(w: &mut Writer<Vec<u8>>, dav: &DavAccount<'_>) -> io::Result<()> {
    for (kind, server) in dav.dav.servers() {
        let kind = match kind {
            DavKind::CalDav => "CalDAV",
            DavKind::CardDav => "CardDAV",
        };
        w.create_element("Protocol").write_inner_content(|w| {
            text(w, "Type", kind)?;
            text(w, "Server", server.url())?;
            text(w, "Port", &server.port().to_string())?;
            text(w, "DomainRequired", "off")?;
            if !dav.username.is_empty() {
                text(w, "LoginName", dav.username)?;
            }
            // Only https:// URLs get this far: TLS from the first byte, and
            // the same SPA, SSL and Encryption elements as a mail server.
            text(w, "SPA", "off")?;
            text(w, "SSL", "on")?;
            text(w, "Encryption", "SSL")?;
            text(w, "AuthRequired", "on")?;
            Ok(())
        })?;
    }
    Ok(())
}

/// Autodiscover's error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 600: the request is invalid (malformed, no address).
    InvalidRequest,
    /// 601: the requested response schema is not provided here.
    ProviderUnavailable,
}

/// The Autodiscover `Error` response (the 2006 response schema) with
/// `message` escaped.
pub fn error_response(code: ErrorCode, message: &str) -> String {
    let (num, text) = match code {
        ErrorCode::InvalidRequest => (600, "Invalid Request"),
        ErrorCode::ProviderUnavailable => (601, "Provider is not available"),
    };
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="{NS_RESPONSE_ROOT}">
  <Response>
    <Error>
      <ErrorCode>{num}</ErrorCode>
      <Message>{text}</Message>
      <DebugData>{}</DebugData>
    </Error>
  </Response>
</Autodiscover>
"#,
        escape(message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Source, Trust};

    #[test]
    fn ntlm_is_spa_and_no_auth_is_not_required() {
        let srv = |auth: Vec<AuthMethod>| Server {
            protocol: Protocol::Smtp,
            host: "h.example".into(),
            port: 587,
            security: Security::Starttls,
            auth,
            username: String::new(),
        };
        let s = Settings {
            provider: None,
            incoming: vec![],
            outgoing: vec![srv(vec![AuthMethod::Ntlm]), srv(vec![AuthMethod::None])],
            source: Source::User,
            trust: Trust::Verified,
            notes: vec![],
        };
        let xml = write(&s, None);
        let protocols: Vec<&str> = xml.split("<Protocol>").skip(1).collect();
        assert_eq!(protocols.len(), 2);
        assert!(protocols[0].contains("<SPA>on</SPA>"));
        assert!(protocols[0].contains("<AuthRequired>on</AuthRequired>"));
        assert!(protocols[1].contains("<SPA>off</SPA>"));
        assert!(protocols[1].contains("<AuthRequired>off</AuthRequired>"));
        assert!(!xml.contains("LoginName"), "empty usernames are left out");
    }

    #[test]
    fn error_responses_escape_the_message() {
        let x = error_response(ErrorCode::InvalidRequest, "<b>&\"");
        assert!(x.contains("<ErrorCode>600</ErrorCode>"));
        assert!(x.contains("&lt;b&gt;&amp;&quot;"), "{x}");
        assert!(error_response(ErrorCode::ProviderUnavailable, "").contains("601"));
    }
}
