//! Text that XML 1.0 can carry.
//!
//! The XML writers (quick-xml, plist) escape `&`, `<`, `>` and quotes, but
//! XML 1.0 cannot represent most control characters at all, not even as
//! character references. Names and usernames may come from a domain's own
//! config file, so every string the writers put into XML passes through
//! [`clean`] first: the characters XML forbids are dropped, and everything
//! else (including non-ASCII) is kept as it is. [`escaped`] then escapes
//! element text for quick-xml.

use std::borrow::Cow;

use quick_xml::escape::partial_escape;
use quick_xml::events::BytesText;

/// Whether XML 1.0 allows `c` in text (the `Char` production, §2.2).
pub fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// `s` without the characters XML 1.0 cannot carry.
pub fn clean(s: &str) -> Cow<'_, str> {
    if s.chars().all(allowed) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.chars().filter(|&c| allowed(c)).collect())
    }
}

/// Element text for quick-xml: cleaned, then `&`, `<` and `>` escaped
/// (quotes need no escaping outside attributes).
pub fn escaped(value: &str) -> BytesText<'static> {
    BytesText::from_escaped(partial_escape(clean(value).into_owned()).into_owned())
}

/// Writes `<name>value</name>`, the value cleaned and escaped ([`escaped`]):
/// the one text element both client formats' writers are made of.
pub fn text(w: &mut quick_xml::Writer<Vec<u8>>, name: &str, value: &str) -> std::io::Result<()> {
    w.create_element(name).write_text_content(escaped(value))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_dropped_and_the_rest_kept() {
        assert_eq!(clean("a\u{0}b\u{1b}c\u{fffe}"), "abc");
        assert_eq!(clean("Ärger & <Co>\t"), "Ärger & <Co>\t");
        assert!(matches!(clean("plain"), Cow::Borrowed(_)));
        assert_eq!(clean("😀"), "😀");
        assert_eq!(&*escaped("a<b>&'\"\u{7}"), "a&lt;b&gt;&amp;'\"");
    }
}
