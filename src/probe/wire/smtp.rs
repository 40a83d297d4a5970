//! SMTP replies (RFC 5321 §4.2): three-digit codes, multi-line replies
//! (`250-…` then `250 …`), and the EHLO keywords that matter to a mail
//! client (STARTTLS, AUTH).

use super::{Capabilities, MAX_CAPABILITIES, MAX_REPLY_LINES, WireError, clean};

/// One line of a reply: its code, whether it is the last, and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyLine<'a> {
    /// The three-digit code.
    pub code: u16,
    /// `true` for `250 …` (the last line), `false` for `250-…`.
    pub last: bool,
    /// The text after the separator.
    pub text: &'a str,
}

/// Reads one reply line.
pub fn parse_line(line: &str) -> Result<ReplyLine<'_>, WireError> {
    let b = line.as_bytes();
    if b.len() < 3 || !b[..3].iter().all(u8::is_ascii_digit) || !(b'2'..=b'5').contains(&b[0]) {
        return Err(WireError::unexpected(line));
    }
    // The first three bytes are ASCII digits, so slicing at 3 is on a
    // character boundary.
    let code: u16 = line[..3].parse().map_err(|_| WireError::unexpected(line))?;
    let (last, text) = match b.get(3) {
        None => (true, ""),
        Some(b' ') => (true, &line[4..]),
        Some(b'-') => (false, &line[4..]),
        Some(_) => return Err(WireError::unexpected(line)),
    };
    Ok(ReplyLine { code, last, text })
}

/// A complete reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The code shared by every line.
    pub code: u16,
    /// The text of each line.
    pub lines: Vec<String>,
}

impl Reply {
    /// 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 3xx: the server waits for more (e.g. `334` during AUTH).
    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }

    /// The text, lines joined with spaces.
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }
}

/// Collects the lines of one reply.
#[derive(Debug, Default)]
pub struct ReplyBuilder {
    code: Option<u16>,
    lines: Vec<String>,
}

impl ReplyBuilder {
    /// Adds a line; returns the reply when it was the last line.
    pub fn push(&mut self, line: &str) -> Result<Option<Reply>, WireError> {
        let l = parse_line(line)?;
        match self.code {
            Some(c) if c != l.code => return Err(WireError::MixedCodes(c, l.code)),
            _ => self.code = Some(l.code),
        }
        if self.lines.len() >= MAX_REPLY_LINES {
            return Err(WireError::TooLong);
        }
        self.lines.push(l.text.to_string());
        if l.last {
            return Ok(Some(Reply {
                code: l.code,
                lines: std::mem::take(&mut self.lines),
            }));
        }
        Ok(None)
    }
}

/// Builds [`Capabilities`] from a positive EHLO reply: the first line is
/// the server's name, each later line one keyword with its parameters.
pub fn capabilities(ehlo: &Reply) -> Capabilities {
    let mut caps = Capabilities::default();
    for line in ehlo.lines.iter().skip(1).take(MAX_CAPABILITIES) {
        let mut words = line.split_ascii_whitespace();
        let Some(keyword) = words.next() else {
            continue;
        };
        let upper = keyword.to_ascii_uppercase();
        match upper.as_str() {
            "STARTTLS" => caps.starttls = true,
            "AUTH" => words.for_each(|m| caps.add_mechanism(m)),
            // Old servers write AUTH=LOGIN PLAIN (pre-RFC 2554 clients).
            _ if upper.starts_with("AUTH=") => {
                caps.add_mechanism(&upper[5..]);
                words.for_each(|m| caps.add_mechanism(m));
            }
            _ => {}
        }
        caps.list.push(clean(line, 80));
    }
    caps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(lines: &[&str]) -> Result<Reply, WireError> {
        let mut b = ReplyBuilder::default();
        for l in lines {
            if let Some(r) = b.push(l)? {
                return Ok(r);
            }
        }
        Err(WireError::Unexpected("unfinished".into()))
    }

    #[test]
    fn reply_lines() {
        assert_eq!(
            parse_line("250-STARTTLS").unwrap(),
            ReplyLine {
                code: 250,
                last: false,
                text: "STARTTLS"
            }
        );
        assert_eq!(
            parse_line("220").unwrap(),
            ReplyLine {
                code: 220,
                last: true,
                text: ""
            }
        );
        for bad in [
            "", "25", "250x", "abc def", "650 no", "1234", "+OK", "2é0 x", "* OK",
        ] {
            assert!(parse_line(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn multi_line_replies() {
        let r = reply(&["250-mail.example", "250-PIPELINING", "250 AUTH PLAIN LOGIN"]).unwrap();
        assert!(r.is_positive());
        assert_eq!(r.lines.len(), 3);
        assert!(matches!(
            reply(&["250-a", "251 b"]),
            Err(WireError::MixedCodes(250, 251))
        ));
        let endless: Vec<&str> = std::iter::repeat_n("250-x", MAX_REPLY_LINES + 1).collect();
        assert!(matches!(reply(&endless), Err(WireError::TooLong)));
        assert!(reply(&["334 VXNlcm5hbWU6"]).unwrap().is_intermediate());
    }

    #[test]
    fn ehlo_keywords() {
        let r = reply(&[
            "250-mail.example Hello",
            "250-SIZE 35882577",
            "250-starttls",
            "250-AUTH PLAIN LOGIN",
            "250-AUTH=XOAUTH2",
            "250 8BITMIME",
        ])
        .unwrap();
        let c = capabilities(&r);
        assert!(c.starttls);
        assert_eq!(c.mechanisms, ["PLAIN", "LOGIN", "XOAUTH2"]);
        assert_eq!(c.list.len(), 5);
        // The first line is the server's name, never a keyword.
        let r = reply(&["250 STARTTLS"]).unwrap();
        assert!(!capabilities(&r).starttls);
    }
}
