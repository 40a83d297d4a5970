//! The Outlook POX Autodiscover request: written by discovery, read by
//! the server.
//!
//! Outlook POSTs a small document:
//!
//! ```xml
//! <Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
//!   <Request>
//!     <EMailAddress>someone@example.com</EMailAddress>
//!     <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
//!   </Request>
//! </Autodiscover>
//! ```
//!
//! [`request`] writes it (for discovery and `check`); [`parse_request`]
//! reads it (for the server) with the module's one hardened reader, which
//! refuses what a hostile client could abuse (DTDs, entities, nesting
//! deeper than [`super::MAX_DEPTH`]); bodies over [`MAX_BODY`] and fields
//! over [`MAX_FIELD`] are refused too. The success response is
//! written by [`super::write::write`], the `Error` response Outlook
//! understands (codes 600 and 601) by [`super::write::error_response`].

use super::xml::{self, Node};
use super::{Document, NS_REQUEST, OUTLOOK_2006A, PoxError};

/// The largest request body read, in bytes.
pub const MAX_BODY: usize = 64 * 1024;
/// The longest field value accepted, in bytes.
pub const MAX_FIELD: usize = 1024;

/// The request body for `email`.
pub fn request(email: &str) -> String {
    let email = quick_xml::escape::escape(email);
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="{NS_REQUEST}">
  <Request>
    <EMailAddress>{email}</EMailAddress>
    <AcceptableResponseSchema>{OUTLOOK_2006A}</AcceptableResponseSchema>
  </Request>
</Autodiscover>
"#
    )
}

/// What the request asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoxRequest {
    /// `Request/EMailAddress`, trimmed.
    pub email: String,
    /// `Request/AcceptableResponseSchema`, trimmed; empty when absent.
    pub schema: String,
}

/// Reads an Autodiscover request body.
pub fn parse_request(body: &[u8]) -> Result<PoxRequest, PoxError> {
    let mut email = None::<String>;
    let mut schema = None::<String>;
    xml::walk(Document::Request, body, MAX_BODY, |path, node| {
        let Node::Text(text) = node else {
            return Ok(());
        };
        // The field whose text is being read, if any.
        let field = match path {
            [_, r, f] if r == "Request" && f == "EMailAddress" => Some(&mut email),
            [_, r, f] if r == "Request" && f == "AcceptableResponseSchema" => Some(&mut schema),
            _ => None,
        };
        append(field, text)
    })?;
    let email = email
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or(PoxError::NoEmail)?;
    Ok(PoxRequest {
        email,
        schema: schema.map(|s| s.trim().to_string()).unwrap_or_default(),
    })
}

fn append(field: Option<&mut Option<String>>, s: &str) -> Result<(), PoxError> {
    if let Some(f) = field {
        let v = f.get_or_insert_with(String::new);
        if v.len() + s.len() > MAX_FIELD {
            return Err(PoxError::FieldTooLong);
        }
        v.push_str(s);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(email: &str, schema: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="{NS_REQUEST}">
  <Request>
    <EMailAddress>{email}</EMailAddress>
    <AcceptableResponseSchema>{schema}</AcceptableResponseSchema>
  </Request>
</Autodiscover>"#
        )
    }

    #[test]
    fn outlooks_request_is_read() {
        let r = parse_request(request(" jane@example.com ", OUTLOOK_2006A).as_bytes()).unwrap();
        assert_eq!(r.email, "jane@example.com");
        assert_eq!(r.schema, OUTLOOK_2006A);
    }

    #[test]
    fn predefined_and_character_references_are_resolved() {
        let r = parse_request(request("a&amp;b&#x40;example.com", "x").as_bytes()).unwrap();
        assert_eq!(r.email, "a&b@example.com");
        let r = parse_request(request("<![CDATA[c@example.com]]>", "").as_bytes()).unwrap();
        assert_eq!(r.email, "c@example.com");
    }

    #[test]
    fn prefixed_names_and_a_bom_are_fine() {
        let body = "\u{feff}<a:Autodiscover xmlns:a=\"urn:x\"><a:Request><a:EMailAddress>p@example.com</a:EMailAddress></a:Request></a:Autodiscover>";
        assert_eq!(
            parse_request(body.as_bytes()).unwrap().email,
            "p@example.com"
        );
    }

    #[test]
    fn dtds_are_refused_before_any_entity_is_defined() {
        let billion = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<Autodiscover><Request><EMailAddress>&lol2;</EMailAddress></Request></Autodiscover>"#;
        assert_eq!(
            parse_request(billion.as_bytes()),
            Err(PoxError::Dtd(Document::Request))
        );
        let xxe = r#"<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><Autodiscover/>"#;
        assert_eq!(
            parse_request(xxe.as_bytes()),
            Err(PoxError::Dtd(Document::Request))
        );
    }

    #[test]
    fn undefined_entities_are_refused() {
        let e = parse_request(request("&xxe;", "").as_bytes()).unwrap_err();
        assert_eq!(e, PoxError::Entity(Document::Request, "xxe".into()));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = format!(
            "<Autodiscover>{}{}</Autodiscover>",
            "<a>".repeat(1000),
            "</a>".repeat(1000)
        );
        assert_eq!(
            parse_request(deep.as_bytes()),
            Err(PoxError::TooDeep(Document::Request))
        );
    }

    #[test]
    fn sizes_are_bounded() {
        let big = vec![b' '; MAX_BODY + 1];
        assert_eq!(
            parse_request(&big),
            Err(PoxError::TooLarge(Document::Request, MAX_BODY))
        );
        let long = request(&"a".repeat(MAX_FIELD + 1), "");
        assert_eq!(parse_request(long.as_bytes()), Err(PoxError::FieldTooLong));
    }

    #[test]
    fn malformed_bodies_say_so() {
        for (body, want) in [
            ("", "no XML element"),
            ("<Autodiscover><Request>", "well-formed"),
            ("<Autodiscover></Request>", "well-formed"),
            ("<Autodiscover/><Autodiscover/>", "root"),
            ("<html><body/></html>", "<html>"),
            ("{\"email\": \"x@y.z\"}", "no XML element"),
            (
                "<Autodiscover><Request></Request></Autodiscover>",
                "no <EMailAddress>",
            ),
        ] {
            let e = parse_request(body.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(want), "{body}: {e}");
        }
        assert_eq!(
            parse_request(&[0xff, 0xfe, 0x3c]),
            Err(PoxError::NotUtf8(Document::Request))
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap deterministic fuzz: every prefix and many byte flips of a
        // real request.
        let base = request("jane@example.com", OUTLOOK_2006A).into_bytes();
        for cut in 0..base.len() {
            let _ = parse_request(&base[..cut]);
        }
        for i in 0..base.len() {
            for b in [0u8, b'<', b'>', b'&', b'/', 0x80] {
                let mut v = base.clone();
                v[i] = b;
                let _ = parse_request(&v);
            }
        }
    }
}
