//! Word wrapping for the text people read: `lookup` and `check` answers,
//! the domain check and the iPhone steps.

/// Wraps `text` at `width` columns, indenting every line by `indent`
/// spaces. Words longer than a line (URLs) stay whole.
pub fn wrap(text: &str, width: usize, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent + line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(&pad);
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&pad);
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_width_and_keeps_long_words() {
        let w = wrap("aaa bbb ccc ddd", 9, 2);
        assert_eq!(w, "  aaa bbb\n  ccc ddd\n");
        let long = wrap("https://example.com/a/very/long/path x", 10, 0);
        assert_eq!(long, "https://example.com/a/very/long/path\nx\n");
        assert_eq!(wrap("", 10, 2), "");
    }
}
