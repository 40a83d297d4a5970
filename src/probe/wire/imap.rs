//! IMAP4 responses (RFC 9051, RFC 3501): greetings, tagged and untagged
//! responses, continuation requests, capability lists, response codes, and
//! the quoting of strings the client sends.

use super::{Capabilities, Greeting, GreetingKind, MAX_CAPABILITIES, WireError, clean};

/// The status of a tagged response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `OK`: the command worked.
    Ok,
    /// `NO`: the command failed (wrong password, refused STARTTLS).
    No,
    /// `BAD`: the command was not understood.
    Bad,
}

/// One response line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response<'a> {
    /// `* …`: data, with what follows `* `.
    Untagged(&'a str),
    /// `+ …`: the server waits for more from the client.
    Continuation(&'a str),
    /// `tag OK|NO|BAD text`: a command is complete.
    Tagged {
        /// The command's tag.
        tag: &'a str,
        /// Its status.
        status: Status,
        /// The text after the status (may start with a `[CODE]`).
        text: &'a str,
    },
}

/// Reads a greeting: `* OK`, `* PREAUTH` or `* BYE` (RFC 9051 §7.1).
pub fn parse_greeting(line: &str) -> Result<Greeting, WireError> {
    let Response::Untagged(rest) = parse_response(line)? else {
        return Err(WireError::unexpected(line));
    };
    let (word, text) = split_word(rest);
    let kind = match word.to_ascii_uppercase().as_str() {
        "OK" => GreetingKind::Ready,
        "PREAUTH" => GreetingKind::Preauth,
        "BYE" => GreetingKind::Refused,
        _ => return Err(WireError::unexpected(line)),
    };
    Ok(Greeting {
        kind,
        text: text.to_string(),
    })
}

/// Splits a response line into its kind.
pub fn parse_response(line: &str) -> Result<Response<'_>, WireError> {
    if let Some(rest) = line.strip_prefix("* ") {
        return Ok(Response::Untagged(rest));
    }
    if line == "+" {
        return Ok(Response::Continuation(""));
    }
    if let Some(rest) = line.strip_prefix("+ ") {
        return Ok(Response::Continuation(rest));
    }
    let (tag, rest) = split_word(line);
    let (status, text) = split_word(rest);
    let tag_ok = !tag.is_empty()
        && tag
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"(){%*\"\\+".contains(&b));
    let status = match status.to_ascii_uppercase().as_str() {
        "OK" => Status::Ok,
        "NO" => Status::No,
        "BAD" => Status::Bad,
        _ => return Err(WireError::unexpected(line)),
    };
    if !tag_ok {
        return Err(WireError::unexpected(line));
    }
    Ok(Response::Tagged { tag, status, text })
}

/// The capability tokens of untagged data `CAPABILITY a b c`, or of a
/// `[CAPABILITY a b c]` response code; `None` for other data.
pub fn capability_tokens(untagged: &str) -> Option<Vec<&str>> {
    let (word, rest) = split_word(untagged);
    if word.eq_ignore_ascii_case("CAPABILITY") {
        return Some(rest.split_ascii_whitespace().collect());
    }
    if word.eq_ignore_ascii_case("OK") || word.eq_ignore_ascii_case("PREAUTH") {
        if let Some((code, args)) = response_code(rest) {
            if code.eq_ignore_ascii_case("CAPABILITY") {
                return Some(args.split_ascii_whitespace().collect());
            }
        }
    }
    None
}

/// Builds [`Capabilities`] from IMAP capability tokens.
pub fn capabilities<'a>(tokens: impl IntoIterator<Item = &'a str>) -> Capabilities {
    let mut caps = Capabilities::default();
    for t in tokens.into_iter().take(MAX_CAPABILITIES) {
        let upper = t.to_ascii_uppercase();
        match upper.as_str() {
            "STARTTLS" => caps.starttls = true,
            "LOGINDISABLED" => caps.login_disabled = true,
            "SASL-IR" => caps.sasl_ir = true,
            _ => {
                if let Some(m) = upper.strip_prefix("AUTH=") {
                    caps.add_mechanism(m);
                }
            }
        }
        caps.list.push(clean(t, 64));
    }
    caps
}

/// The response code at the start of `text` (`[CODE args] …`), as the code
/// and its arguments.
pub fn response_code(text: &str) -> Option<(&str, &str)> {
    let inner = text.strip_prefix('[')?;
    let end = inner.find(']')?;
    let inner = &inner[..end];
    Some(split_word(inner))
}

/// The URL of a `[REFERRAL url]` response code (RFC 2221), which the probe
/// reports but never follows.
pub fn referral(text: &str) -> Option<&str> {
    let (code, args) = response_code(text)?;
    code.eq_ignore_ascii_case("REFERRAL")
        .then(|| args.split_ascii_whitespace().next())
        .flatten()
}

/// `s` as an IMAP quoted string, or `None` when it cannot be one (CR, LF
/// or NUL inside, which only a literal can carry).
pub fn quoted(s: &str) -> Option<String> {
    if s.contains(['\r', '\n', '\0']) {
        return None;
    }
    // Room for every character escaped: no reallocation, so a quoted
    // password leaves no stray copy behind.
    let mut out = String::with_capacity(s.len() * 2 + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    Some(out)
}

fn split_word(s: &str) -> (&str, &str) {
    match s.split_once(' ') {
        Some((w, rest)) => (w, rest),
        None => (s, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greetings() {
        let g = parse_greeting("* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot ready.").unwrap();
        assert_eq!(g.kind, GreetingKind::Ready);
        assert_eq!(
            parse_greeting("* PREAUTH hello").unwrap().kind,
            GreetingKind::Preauth
        );
        assert_eq!(
            parse_greeting("* BYE go away").unwrap().kind,
            GreetingKind::Refused
        );
        assert_eq!(parse_greeting("* ok").unwrap().kind, GreetingKind::Ready);
        for bad in [
            "",
            "*",
            "* ",
            "+OK POP3",
            "220 smtp",
            "* NO",
            "a1 OK",
            "\u{16}\u{3}\u{1}",
        ] {
            assert!(parse_greeting(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn responses() {
        assert_eq!(
            parse_response("a1 OK [CAPABILITY X] done").unwrap(),
            Response::Tagged {
                tag: "a1",
                status: Status::Ok,
                text: "[CAPABILITY X] done"
            }
        );
        assert_eq!(
            parse_response("A2 no").unwrap(),
            Response::Tagged {
                tag: "A2",
                status: Status::No,
                text: ""
            }
        );
        assert_eq!(parse_response("+").unwrap(), Response::Continuation(""));
        assert_eq!(
            parse_response("+ eyJ9").unwrap(),
            Response::Continuation("eyJ9")
        );
        assert_eq!(
            parse_response("* 3 EXISTS").unwrap(),
            Response::Untagged("3 EXISTS")
        );
        for bad in [
            "", " ", "a1", "a1 MAYBE", "a(1 OK", "\"x OK", "+OK", "a1\tOK",
        ] {
            assert!(parse_response(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn capability_lists() {
        let t = capability_tokens(
            "CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN auth=xoauth2 STARTTLS LOGINDISABLED",
        )
        .unwrap();
        let c = capabilities(t);
        assert!(c.starttls && c.login_disabled && c.sasl_ir);
        assert_eq!(c.mechanisms, ["PLAIN", "XOAUTH2"]);
        assert_eq!(c.list.len(), 6);
        let g = capability_tokens("OK [CAPABILITY IMAP4rev1 AUTH=LOGIN] hi").unwrap();
        assert_eq!(capabilities(g).mechanisms, ["LOGIN"]);
        assert!(capability_tokens("3 EXISTS").is_none());
        assert!(capability_tokens("OK [ALERT] hi").is_none());
        assert!(capability_tokens("OK [CAPABILITY unterminated").is_none());
        assert_eq!(capability_tokens("CAPABILITY").unwrap().len(), 0);
    }

    #[test]
    fn capability_lists_are_bounded_and_cleaned() {
        let many = format!("CAPABILITY {}", "X ".repeat(10_000));
        let c = capabilities(capability_tokens(&many).unwrap());
        assert_eq!(c.list.len(), MAX_CAPABILITIES);
        let c = capabilities(["AUTH=\u{1b}[2J", "AUTH=", "AUTH=PLAIN\u{7}"]);
        assert!(c.mechanisms.is_empty());
        assert!(c.list.iter().all(|s| !s.chars().any(char::is_control)));
    }

    #[test]
    fn response_codes_and_referrals() {
        assert_eq!(
            response_code("[AUTHENTICATIONFAILED] bad"),
            Some(("AUTHENTICATIONFAILED", ""))
        );
        assert_eq!(
            referral("[REFERRAL imap://user@other.example/] go"),
            Some("imap://user@other.example/")
        );
        assert_eq!(referral("[REFERRAL] x"), None);
        assert_eq!(referral("no code"), None);
        assert_eq!(response_code("[unterminated"), None);
    }

    #[test]
    fn quoting_escapes_and_refuses_line_breaks() {
        assert_eq!(quoted(r#"pa"ss\word"#).unwrap(), r#""pa\"ss\\word""#);
        assert_eq!(quoted("").unwrap(), "\"\"");
        assert!(quoted("a\r\nb").is_none());
        assert!(quoted("a\0b").is_none());
    }
}
