//! The one hardened quick-xml reader behind both Autodiscover parsers (the
//! request the server reads, the response discovery reads).
//!
//! It refuses what a hostile peer could abuse: any DOCTYPE (so no DTD and
//! no entity is ever defined, let alone expanded), entity references other
//! than XML's five and character references, nesting deeper than
//! [`MAX_DEPTH`], more than one root element, a document that ends inside
//! an element, input over the caller's size limit, and text that is not
//! UTF-8. Elements are matched by local name, so namespace prefixes do not
//! matter; the root must be `<Autodiscover>`. A leading byte-order mark is
//! skipped.

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use quick_xml::reader::Reader;

use super::{Document, MAX_DEPTH, PoxError};

/// What the reader hands its caller, with the path of open elements (root
/// first).
pub(super) enum Node<'a> {
    /// An element opened; it is the path's last.
    Open,
    /// A piece of text inside the path's last element (references
    /// resolved).
    Text(&'a str),
}

/// Reads `bytes` as an Autodiscover `doc` of at most `limit` bytes, calling
/// `visit` with each element opened and each piece of text.
pub(super) fn walk(
    doc: Document,
    bytes: &[u8],
    limit: usize,
    mut visit: impl FnMut(&[String], Node<'_>) -> Result<(), PoxError>,
) -> Result<(), PoxError> {
    if bytes.len() > limit {
        return Err(PoxError::TooLarge(doc, limit));
    }
    let s = std::str::from_utf8(bytes).map_err(|_| PoxError::NotUtf8(doc))?;
    let s = s.strip_prefix('\u{feff}').unwrap_or(s);
    let mut reader = Reader::from_str(s);
    reader.config_mut().check_end_names = true;
    let malformed = |why: String| PoxError::Malformed(doc, why.chars().take(200).collect());
    let mut path: Vec<String> = Vec::new();
    let mut seen_root = false;
    loop {
        let event = reader.read_event().map_err(|e| malformed(e.to_string()))?;
        match event {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_string();
                if path.is_empty() {
                    if seen_root {
                        return Err(malformed("more than one root element".into()));
                    }
                    if name != "Autodiscover" {
                        return Err(PoxError::NotAutodiscover(doc, name));
                    }
                    seen_root = true;
                }
                path.push(name);
                if path.len() > MAX_DEPTH {
                    return Err(PoxError::TooDeep(doc));
                }
                visit(&path, Node::Open)?;
            }
            Event::Empty(e) if path.is_empty() => {
                let name = e.local_name().as_ref().to_string();
                if seen_root {
                    return Err(malformed("more than one root element".into()));
                }
                if name != "Autodiscover" {
                    return Err(PoxError::NotAutodiscover(doc, name));
                }
                seen_root = true;
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Text(t) => visit(&path, Node::Text(&t.xml10_content()))?,
            Event::CData(c) => visit(&path, Node::Text(&c.xml10_content()))?,
            Event::GeneralRef(r) => {
                let resolved = if r.is_char_ref() {
                    r.resolve_char_ref()
                        .map_err(|e| malformed(e.to_string()))?
                        .ok_or_else(|| malformed("a character reference to nothing".into()))?
                        .to_string()
                } else {
                    resolve_predefined_entity(&r)
                        .ok_or_else(|| PoxError::Entity(doc, r.to_string()))?
                        .to_string()
                };
                visit(&path, Node::Text(&resolved))?;
            }
            Event::DocType(_) => return Err(PoxError::Dtd(doc)),
            Event::Eof if !path.is_empty() => {
                return Err(malformed(format!(
                    "the document ends inside <{}>",
                    path.join("><")
                )));
            }
            Event::Eof => break,
            Event::Empty(_) | Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
    }
    if !seen_root {
        return Err(PoxError::NoRoot(doc));
    }
    Ok(())
}
