//! The wire formats of the probes, free of I/O.
//!
//! Everything a server sends passes through these functions before the
//! probe acts on it, so they are where hostile input is met: each takes one
//! line (already bounded by the connection layer) or a finished reply, and
//! returns a typed value or a [`WireError`]. Nothing here reads a socket,
//! which is what lets the unit tests (and a fuzzer) feed them anything.
//!
//! - [`imap`], [`pop3`], [`smtp`]: replies of each protocol.
//! - [`sasl`]: the client side of PLAIN, LOGIN, XOAUTH2 and OAUTHBEARER.
//! - [`Capabilities`]: what a server says it can do, in one shape for all
//!   three protocols.

pub mod imap;
pub mod pop3;
pub mod sasl;
pub mod smtp;

/// The longest line accepted from a server, CRLF included. RFC 7162 §4
/// asks IMAP clients to accept 8192 octets; SMTP's limit is 512 (RFC 5321
/// §4.5.3.1.5) and POP3's 512 (RFC 2449), so this covers all three with room.
pub const MAX_LINE: usize = 8192;

/// The most lines one reply (a CAPABILITY, CAPA or EHLO answer) may have.
pub const MAX_REPLY_LINES: usize = 256;

/// The most capability tokens kept from one reply.
pub const MAX_CAPABILITIES: usize = 256;

/// A reply that does not follow the protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The line has the wrong shape for where it came.
    #[error("unexpected reply: {0}")]
    Unexpected(String),
    /// A multi-line reply went on for too long.
    #[error("the reply is longer than {MAX_REPLY_LINES} lines")]
    TooLong,
    /// A multi-line SMTP reply changed its code between lines.
    #[error("the reply mixes codes {0} and {1}")]
    MixedCodes(u16, u16),
}

impl WireError {
    /// An [`WireError::Unexpected`] quoting (a cleaned, shortened) `line`.
    pub fn unexpected(line: &str) -> WireError {
        WireError::Unexpected(clean(line, 120))
    }
}

/// How a server greeted a new connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Greeting {
    /// Ready, already authenticated, or refusing.
    pub kind: GreetingKind,
    /// The greeting's text (raw; clean it before showing it).
    pub text: String,
}

/// The kinds of greeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GreetingKind {
    /// Ready for commands (`* OK`, `+OK`, `220`).
    Ready,
    /// IMAP `* PREAUTH`: the session is authenticated already, without
    /// credentials.
    Preauth,
    /// The server will not talk (`* BYE`, `-ERR`, `554`).
    Refused,
}

/// What a server offers, read from CAPABILITY (IMAP), CAPA (POP3) or EHLO
/// (SMTP).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// The capabilities as the server listed them (cleaned for display).
    pub list: Vec<String>,
    /// STARTTLS / STLS is offered.
    pub starttls: bool,
    /// SASL mechanisms offered, upper case (`PLAIN`, `LOGIN`, `XOAUTH2`, …).
    pub mechanisms: Vec<String>,
    /// IMAP `LOGINDISABLED`: no LOGIN command (and usually no password at
    /// all) on this connection.
    pub login_disabled: bool,
    /// POP3 `USER`: the USER/PASS commands are offered.
    pub user_pass: bool,
    /// IMAP `SASL-IR`: the first SASL response may go with the command.
    pub sasl_ir: bool,
}

impl Capabilities {
    /// Whether `mechanism` (any case) is offered.
    pub fn offers(&self, mechanism: &str) -> bool {
        self.mechanisms
            .iter()
            .any(|m| m.eq_ignore_ascii_case(mechanism))
    }

    fn add_mechanism(&mut self, m: &str) {
        let m = m.to_ascii_uppercase();
        if is_mechanism_name(&m) && !self.mechanisms.contains(&m) {
            self.mechanisms.push(m);
        }
    }
}

/// A SASL mechanism name (RFC 4422 §3.1: up to 20 of A-Z 0-9 - _).
fn is_mechanism_name(m: &str) -> bool {
    !m.is_empty()
        && m.len() <= 20
        && m.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Makes server text safe to show: control characters (which could drive a
/// terminal: ESC, BEL, backspace) become `?`, and the text is cut at `max`
/// characters.
pub fn clean(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (i, c) in text.trim_end_matches(['\r', '\n']).chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { '?' } else { c });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_defuses_terminal_escapes_and_cuts() {
        assert_eq!(clean("ok\x1b[31mred\x07", 100), "ok?[31mred?");
        assert_eq!(clean("abcdef", 3), "abc…");
        assert_eq!(clean("line\r\n", 10), "line");
        assert_eq!(clean("", 10), "");
    }

    /// Random and hostile lines into every parser: none may panic. (A
    /// cheap stand-in for a fuzzer; the parsers take `&str`, so any line
    /// the connection layer can produce is covered by this alphabet.)
    #[test]
    fn no_parser_panics_on_garbage() {
        const PIECES: &[&str] = &[
            "* ",
            "+ ",
            "+OK",
            "-ERR",
            "250",
            "250-",
            "334 ",
            "a1 ",
            "OK",
            "NO",
            "BAD",
            "[",
            "]",
            "CAPABILITY",
            "AUTH=",
            "PREAUTH",
            "BYE",
            "REFERRAL",
            "SASL",
            "STLS",
            ".",
            "..",
            " ",
            "\t",
            "\"",
            "\\",
            "{5}",
            "\0",
            "\u{1b}",
            "é",
            "💥",
            "=",
            "AAAA",
            "\r",
            "\n",
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let len = (next() % 12) as usize;
            let line: String = (0..len)
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect();
            let _ = imap::parse_greeting(&line);
            let _ = imap::parse_response(&line);
            let _ = imap::capability_tokens(&line).map(imap::capabilities);
            let _ = imap::referral(&line);
            let _ = imap::quoted(&line);
            let _ = pop3::parse_reply(&line);
            let _ = pop3::parse_greeting(&line);
            let _ = pop3::parse_list_line(&line);
            let _ = pop3::capabilities([line.as_str()]);
            let _ = smtp::parse_line(&line);
            let mut b = smtp::ReplyBuilder::default();
            if let Ok(Some(r)) = b.push(&line) {
                let _ = smtp::capabilities(&r);
            }
            let _ = sasl::decode_challenge(&line);
            let _ = clean(&line, 5);
        }
    }

    #[test]
    fn mechanism_names_are_checked() {
        let mut c = Capabilities::default();
        for m in [
            "plain",
            "XOAUTH2",
            "",
            "A B",
            &"X".repeat(21),
            "SCRAM-SHA-256",
        ] {
            c.add_mechanism(m);
        }
        c.add_mechanism("PLAIN");
        assert_eq!(c.mechanisms, ["PLAIN", "XOAUTH2", "SCRAM-SHA-256"]);
        assert!(c.offers("xoauth2"));
        assert!(!c.offers("LOGIN"));
    }
}
