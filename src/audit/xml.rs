//! Where a published XML file goes wrong: the line of the first
//! well-formedness error, so the operator can open the file at it.

use quick_xml::Reader;
use quick_xml::events::Event;

/// The line (from 1) holding byte `pos` of `text`.
pub fn line_at(text: &[u8], pos: usize) -> usize {
    let pos = pos.min(text.len());
    text[..pos].iter().filter(|&&b| b == b'\n').count() + 1
}

/// The first well-formedness error of `body`: its line and what is wrong;
/// `None` when the XML is well-formed.
pub fn first_error(body: &[u8]) -> Option<(usize, String)> {
    let text = match std::str::from_utf8(body) {
        Ok(t) => t,
        Err(e) => return Some((line_at(body, e.valid_up_to()), "it is not UTF-8".into())),
    };
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut depth = 0usize;
    let mut roots = 0usize;
    loop {
        match reader.read_event() {
            Err(e) => {
                let pos = reader.error_position() as usize;
                return Some((line_at(body, pos), short(&e.to_string())));
            }
            Ok(Event::Eof) => {
                return match (depth, roots) {
                    (0, 0) => Some((
                        line_at(body, body.len()),
                        "there is no element at all".into(),
                    )),
                    (0, _) => None,
                    _ => Some((
                        line_at(body, body.len()),
                        "the file ends before its elements are closed".into(),
                    )),
                };
            }
            Ok(Event::Start(_)) => {
                if depth == 0 {
                    roots += 1;
                }
                depth += 1;
            }
            Ok(Event::Empty(_)) if depth == 0 => roots += 1,
            Ok(Event::End(_)) => depth = depth.saturating_sub(1),
            Ok(Event::Text(t)) if depth == 0 && !t.as_ref().trim().is_empty() => {
                let pos = reader.buffer_position() as usize;
                return Some((line_at(body, pos), "text outside the root element".into()));
            }
            Ok(_) => {}
        }
        if roots > 1 {
            let pos = reader.buffer_position() as usize;
            return Some((line_at(body, pos), "more than one root element".into()));
        }
    }
}

/// The line of the first occurrence of `needle`, or 1.
pub fn line_of(body: &[u8], needle: &str) -> usize {
    body.windows(needle.len().max(1))
        .position(|w| w == needle.as_bytes())
        .map_or(1, |p| line_at(body, p))
}

fn short(s: &str) -> String {
    s.chars().take(160).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_their_line() {
        let ok = b"<?xml version=\"1.0\"?>\n<clientConfig>\n  <a/>\n</clientConfig>\n";
        assert_eq!(first_error(ok), None);
        let bad = b"<clientConfig>\n  <emailProvider>\n    <x></y>\n</clientConfig>\n";
        assert_eq!(first_error(bad).unwrap().0, 3);
        let cut = b"<clientConfig>\n  <emailProvider>\n";
        assert!(first_error(cut).unwrap().1.contains("ends before"));
        assert!(first_error(b"").is_some());
        assert_eq!(first_error(b"\n\n\xff").unwrap().0, 3);
        assert_eq!(line_of(b"a\nb\n<emailProvider", "<emailProvider"), 3);
    }
}
