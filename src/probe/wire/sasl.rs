//! The client side of the SASL mechanisms the probe speaks: PLAIN (RFC
//! 4616), LOGIN (draft-murchison-sasl-login), XOAUTH2 (Google's and
//! Microsoft's) and OAUTHBEARER (RFC 7628), and the choice among them.
//!
//! Every value that holds a secret is a [`Zeroizing`] string, sized up
//! front so no reallocation leaves a copy behind, and wiped when dropped.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use super::{Capabilities, clean};

/// A SASL mechanism (or, for IMAP and POP3, the protocol's own password
/// command) the probe can log in with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// SASL PLAIN.
    Plain,
    /// SASL LOGIN.
    Login,
    /// IMAP `LOGIN user pass` or POP3 `USER`/`PASS`.
    Command,
    /// XOAUTH2.
    XOauth2,
    /// OAUTHBEARER.
    OauthBearer,
}

impl Mechanism {
    /// The name shown in reports.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::Command => "LOGIN-COMMAND",
            Mechanism::XOauth2 => "XOAUTH2",
            Mechanism::OauthBearer => "OAUTHBEARER",
        }
    }
}

/// The kind of secret a login uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// A password (or app password).
    Password,
    /// An OAuth2 access token.
    OauthToken,
}

/// The best mechanism the server offers for `kind`, or `None` when it
/// offers none that fits. `command` is whether the protocol's own
/// password command (IMAP LOGIN, POP3 USER/PASS) is available.
pub fn choose(caps: &Capabilities, kind: SecretKind, command: bool) -> Option<Mechanism> {
    match kind {
        SecretKind::Password => {
            if caps.offers("PLAIN") {
                Some(Mechanism::Plain)
            } else if caps.offers("LOGIN") {
                Some(Mechanism::Login)
            } else if command {
                Some(Mechanism::Command)
            } else {
                None
            }
        }
        SecretKind::OauthToken => {
            if caps.offers("XOAUTH2") {
                Some(Mechanism::XOauth2)
            } else if caps.offers("OAUTHBEARER") {
                Some(Mechanism::OauthBearer)
            } else {
                None
            }
        }
    }
}

/// Base64 of `raw`, into a string that is wiped when dropped.
pub fn encode(raw: &[u8]) -> Zeroizing<String> {
    let len = base64::encoded_len(raw.len(), true).unwrap_or(0);
    let mut out = Zeroizing::new(String::with_capacity(len));
    STANDARD.encode_string(raw, &mut out);
    out
}

/// Joins parts into one buffer that is wiped when dropped.
fn joined(parts: &[&[u8]]) -> Zeroizing<Vec<u8>> {
    let mut raw = Zeroizing::new(Vec::with_capacity(parts.iter().map(|p| p.len()).sum()));
    parts.iter().for_each(|p| raw.extend_from_slice(p));
    raw
}

/// The PLAIN response: base64 of `\0user\0password`.
pub fn plain(user: &str, password: &str) -> Zeroizing<String> {
    encode(&joined(&[
        b"\0",
        user.as_bytes(),
        b"\0",
        password.as_bytes(),
    ]))
}

/// The XOAUTH2 response: base64 of `user=U\x01auth=Bearer T\x01\x01`.
pub fn xoauth2(user: &str, token: &str) -> Zeroizing<String> {
    encode(&joined(&[
        b"user=",
        user.as_bytes(),
        b"\x01auth=Bearer ",
        token.as_bytes(),
        b"\x01\x01",
    ]))
}

/// The OAUTHBEARER response (RFC 7628 §3.1): a GS2 header naming the user,
/// then host, port and the bearer token.
pub fn oauthbearer(user: &str, host: &str, port: u16, token: &str) -> Zeroizing<String> {
    // RFC 5801 §4: ',' and '=' in the authzid are escaped.
    let user = user.replace('=', "=3D").replace(',', "=2C");
    let port = port.to_string();
    encode(&joined(&[
        b"n,a=",
        user.as_bytes(),
        b",\x01host=",
        host.as_bytes(),
        b"\x01port=",
        port.as_bytes(),
        b"\x01auth=Bearer ",
        token.as_bytes(),
        b"\x01\x01",
    ]))
}

/// One message the client sends during a SASL exchange.
pub struct Message {
    /// The base64 text to send.
    pub data: Zeroizing<String>,
    /// Whether it carries the secret (and so never goes into a transcript).
    pub secret: bool,
}

/// The client's messages for `mechanism`, in order. The first may travel
/// with the AUTH command as an initial response where the protocol allows.
/// [`Mechanism::Command`] is not SASL and has none.
pub fn messages(
    mechanism: Mechanism,
    user: &str,
    secret: &str,
    host: &str,
    port: u16,
) -> Vec<Message> {
    let secret_msg = |data| Message { data, secret: true };
    match mechanism {
        Mechanism::Plain => vec![secret_msg(plain(user, secret))],
        Mechanism::Login => vec![
            Message {
                data: encode(user.as_bytes()),
                secret: false,
            },
            secret_msg(encode(secret.as_bytes())),
        ],
        Mechanism::XOauth2 => vec![secret_msg(xoauth2(user, secret))],
        Mechanism::OauthBearer => vec![secret_msg(oauthbearer(user, host, port, secret))],
        Mechanism::Command => Vec::new(),
    }
}

/// The longest server challenge decoded (an XOAUTH2 error is a small JSON
/// object).
pub const MAX_CHALLENGE: usize = 4096;

/// Decodes a base64 server challenge for display: `None` when it is not
/// base64 or too long; control characters are made harmless.
pub fn decode_challenge(b64: &str) -> Option<String> {
    if b64.len() > MAX_CHALLENGE {
        return None;
    }
    let raw = STANDARD.decode(b64.trim()).ok()?;
    Some(clean(&String::from_utf8_lossy(&raw), 300))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(s: &str) -> Vec<u8> {
        STANDARD.decode(s).unwrap()
    }

    #[test]
    fn plain_is_nul_separated() {
        assert_eq!(decoded(&plain("u@x", "p w")), b"\0u@x\0p w");
        assert_eq!(*plain("", ""), "AAA=");
    }

    #[test]
    fn xoauth2_and_oauthbearer_layouts() {
        assert_eq!(
            decoded(&xoauth2("u@x", "tok")),
            b"user=u@x\x01auth=Bearer tok\x01\x01"
        );
        assert_eq!(
            decoded(&oauthbearer("a,b=c", "h", 993, "t")),
            b"n,a=a=2Cb=3Dc,\x01host=h\x01port=993\x01auth=Bearer t\x01\x01"
        );
    }

    #[test]
    fn choice_follows_the_secret_and_the_offer() {
        let caps = |m: &[&str]| Capabilities {
            mechanisms: m.iter().map(|s| s.to_string()).collect(),
            ..Capabilities::default()
        };
        let pw = SecretKind::Password;
        let tok = SecretKind::OauthToken;
        assert_eq!(
            choose(&caps(&["LOGIN", "PLAIN"]), pw, true),
            Some(Mechanism::Plain)
        );
        assert_eq!(choose(&caps(&["LOGIN"]), pw, false), Some(Mechanism::Login));
        assert_eq!(choose(&caps(&[]), pw, true), Some(Mechanism::Command));
        assert_eq!(choose(&caps(&["XOAUTH2"]), pw, false), None);
        assert_eq!(choose(&caps(&["PLAIN"]), tok, true), None);
        assert_eq!(
            choose(&caps(&["OAUTHBEARER"]), tok, false),
            Some(Mechanism::OauthBearer)
        );
        assert_eq!(
            choose(&caps(&["OAUTHBEARER", "XOAUTH2"]), tok, false),
            Some(Mechanism::XOauth2)
        );
    }

    #[test]
    fn only_the_username_of_login_is_not_secret() {
        let m = messages(Mechanism::Login, "u", "pw", "h", 1);
        assert_eq!((m[0].secret, m[1].secret), (false, true));
        assert_eq!(decoded(&m[1].data), b"pw");
        for mech in [Mechanism::Plain, Mechanism::XOauth2, Mechanism::OauthBearer] {
            let m = messages(mech, "u", "pw", "h", 1);
            assert!(m.len() == 1 && m[0].secret, "{mech:?}");
        }
        assert!(messages(Mechanism::Command, "u", "pw", "h", 1).is_empty());
    }

    #[test]
    fn challenges_are_bounded_and_defused() {
        let json = STANDARD.encode(br#"{"status":"401","schemes":"bearer"}"#);
        assert_eq!(
            decode_challenge(&json).unwrap(),
            r#"{"status":"401","schemes":"bearer"}"#
        );
        assert_eq!(
            decode_challenge(&STANDARD.encode(b"\x1b[2J")).unwrap(),
            "?[2J"
        );
        assert!(decode_challenge("not base64!").is_none());
        assert!(decode_challenge(&"A".repeat(MAX_CHALLENGE + 4)).is_none());
        assert_eq!(decode_challenge("").unwrap(), "");
    }
}
