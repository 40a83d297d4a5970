//! POP3 replies (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH):
//! `+OK`/`-ERR` status lines, SASL continuations, multi-line CAPA lists.

use super::{Capabilities, Greeting, GreetingKind, MAX_CAPABILITIES, WireError, clean};

/// One reply line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply<'a> {
    /// `+OK text`.
    Ok(&'a str),
    /// `-ERR text`.
    Err(&'a str),
    /// `+ data`: a SASL challenge (RFC 5034).
    Continuation(&'a str),
}

/// Reads a status line (or SASL continuation).
pub fn parse_reply(line: &str) -> Result<Reply<'_>, WireError> {
    let text_after = |rest: &'static str| line.get(rest.len()..).map(|t| t.trim_start());
    if starts_with_ci(line, "+OK") {
        let t = text_after("+OK").unwrap_or_default();
        // "+OKAY" is not "+OK".
        if line.len() == 3 || line.as_bytes()[3] == b' ' {
            return Ok(Reply::Ok(t));
        }
    } else if starts_with_ci(line, "-ERR") {
        let t = text_after("-ERR").unwrap_or_default();
        if line.len() == 4 || line.as_bytes()[4] == b' ' {
            return Ok(Reply::Err(t));
        }
    } else if line == "+" {
        return Ok(Reply::Continuation(""));
    } else if let Some(rest) = line.strip_prefix("+ ") {
        return Ok(Reply::Continuation(rest));
    }
    Err(WireError::unexpected(line))
}

/// Reads a greeting: `+OK` (ready) or `-ERR` (refused).
pub fn parse_greeting(line: &str) -> Result<Greeting, WireError> {
    match parse_reply(line)? {
        Reply::Ok(t) => Ok(Greeting {
            kind: GreetingKind::Ready,
            text: t.to_string(),
        }),
        Reply::Err(t) => Ok(Greeting {
            kind: GreetingKind::Refused,
            text: t.to_string(),
        }),
        Reply::Continuation(_) => Err(WireError::unexpected(line)),
    }
}

/// One line of a multi-line reply (RFC 1939 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListLine<'a> {
    /// A line of content, dot-unstuffed.
    Item(&'a str),
    /// The terminating `.`.
    End,
}

/// Reads one line of a multi-line reply.
pub fn parse_list_line(line: &str) -> ListLine<'_> {
    if line == "." {
        ListLine::End
    } else {
        ListLine::Item(line.strip_prefix('.').unwrap_or(line))
    }
}

/// Builds [`Capabilities`] from the lines of a CAPA reply.
pub fn capabilities<'a>(lines: impl IntoIterator<Item = &'a str>) -> Capabilities {
    let mut caps = Capabilities::default();
    for line in lines.into_iter().take(MAX_CAPABILITIES) {
        let mut words = line.split_ascii_whitespace();
        match words.next().map(str::to_ascii_uppercase).as_deref() {
            Some("STLS") => caps.starttls = true,
            Some("USER") => caps.user_pass = true,
            Some("SASL") => words.for_each(|m| caps.add_mechanism(m)),
            Some(_) => {}
            None => continue,
        }
        caps.list.push(clean(line, 80));
    }
    caps
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(
            parse_reply("+OK Dovecot ready.").unwrap(),
            Reply::Ok("Dovecot ready.")
        );
        assert_eq!(parse_reply("+ok").unwrap(), Reply::Ok(""));
        assert_eq!(
            parse_reply("-ERR [AUTH] Authentication failed.").unwrap(),
            Reply::Err("[AUTH] Authentication failed.")
        );
        assert_eq!(parse_reply("+ ").unwrap(), Reply::Continuation(""));
        assert_eq!(parse_reply("+ eyJ9").unwrap(), Reply::Continuation("eyJ9"));
        for bad in ["", "OK", "+OKAY", "-ERROR", "* OK imap", "220 smtp", "+\t"] {
            assert!(parse_reply(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn greetings() {
        assert_eq!(parse_greeting("+OK hi").unwrap().kind, GreetingKind::Ready);
        assert_eq!(
            parse_greeting("-ERR busy").unwrap().kind,
            GreetingKind::Refused
        );
        assert!(parse_greeting("+ x").is_err());
        assert!(parse_greeting("* OK IMAP").is_err());
    }

    #[test]
    fn multi_line_lists_unstuff_dots() {
        assert_eq!(parse_list_line("."), ListLine::End);
        assert_eq!(parse_list_line("..hidden"), ListLine::Item(".hidden"));
        assert_eq!(parse_list_line("USER"), ListLine::Item("USER"));
        assert_eq!(parse_list_line(""), ListLine::Item(""));
    }

    #[test]
    fn capa() {
        let c = capabilities([
            "CAPA",
            "TOP",
            "UIDL",
            "STLS",
            "user",
            "SASL PLAIN login XOAUTH2",
            "",
        ]);
        assert!(c.starttls && c.user_pass);
        assert_eq!(c.mechanisms, ["PLAIN", "LOGIN", "XOAUTH2"]);
        assert_eq!(c.list.len(), 6);
        let c = capabilities(["SASL", "SASL \u{1b}]0;x"]);
        assert!(c.mechanisms.is_empty());
        let many: Vec<String> = (0..1000).map(|i| format!("X{i}")).collect();
        let c = capabilities(many.iter().map(String::as_str));
        assert_eq!(c.list.len(), MAX_CAPABILITIES);
    }
}
