//! Credentials for a login, and the redaction that keeps them out of every
//! report.
//!
//! A secret (password or OAuth2 token) lives in a [`SecretString`], which
//! wipes its memory when dropped and prints as `[REDACTED]` in `Debug`.
//! It is exposed in exactly one place: the SASL encoders of
//! [`super::wire::sasl`], whose output is itself wiped. The connection
//! layer never records what it sends for a login, and everything a server
//! sends back passes through a [`Redactor`] before it is stored, so a server
//! that echoes the credentials cannot make the program print them.

use std::io::Read;

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::wire::sasl::{self, SecretKind};

/// The longest secret read from standard input. OAuth2 access tokens run to
/// a few kilobytes; nothing legitimate is longer.
pub const MAX_SECRET_BYTES: usize = 16 * 1024;

/// Who to log in as, and with what.
pub struct Credentials {
    username: String,
    secret: SecretString,
    kind: SecretKind,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("kind", &self.kind)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

impl Credentials {
    /// A password login.
    pub fn password(username: impl Into<String>, password: SecretString) -> Credentials {
        Credentials {
            username: username.into(),
            secret: password,
            kind: SecretKind::Password,
        }
    }

    /// An OAuth2 (XOAUTH2 / OAUTHBEARER) login.
    pub fn oauth_token(username: impl Into<String>, token: SecretString) -> Credentials {
        Credentials {
            username: username.into(),
            secret: token,
            kind: SecretKind::OauthToken,
        }
    }

    /// The username.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The same secret for another username.
    pub fn with_username(&self, username: impl Into<String>) -> Credentials {
        Credentials {
            username: username.into(),
            secret: self.secret.clone(),
            kind: self.kind,
        }
    }

    /// Password or token.
    pub fn kind(&self) -> SecretKind {
        self.kind
    }

    /// The secret itself: only for the SASL encoders.
    pub(crate) fn expose(&self) -> &str {
        self.secret.expose_secret()
    }

    /// A redactor for every form in which this secret could travel.
    pub fn redactor(&self) -> Redactor {
        let s = self.expose();
        let u = &self.username;
        let mut needles = vec![
            Zeroizing::new(s.to_string()),
            sasl::encode(s.as_bytes()),
            sasl::plain(u, s),
            sasl::xoauth2(u, s),
        ];
        // Base64 of a blob is stable only from the start; a server quoting
        // it might also cut its padding.
        for n in needles.clone().iter().skip(1) {
            let trimmed = n.trim_end_matches('=');
            needles.push(Zeroizing::new(trimmed.to_string()));
        }
        needles.retain(|n| n.len() >= MIN_REDACTED);
        Redactor { needles }
    }
}

/// Secrets shorter than this are not searched for in server text: a
/// one-letter "password" would blank out every occurrence of that letter.
const MIN_REDACTED: usize = 3;

/// Removes a secret, in each of its encodings, from text.
#[derive(Default, Clone)]
pub struct Redactor {
    needles: Vec<Zeroizing<String>>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} forms)", self.needles.len())
    }
}

impl Redactor {
    /// A redactor with nothing to hide (no credentials given).
    pub fn none() -> Redactor {
        Redactor::default()
    }

    /// `text` with every form of the secret replaced by `[secret hidden]`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for n in &self.needles {
            if out.contains(n.as_str()) {
                out = out.replace(n.as_str(), "[secret hidden]");
            }
        }
        out
    }
}

/// Why a secret could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// Standard input could not be read.
    #[error("cannot read the secret from standard input: {0}")]
    Read(std::io::Error),
    /// Nothing was given.
    #[error("standard input was empty: pipe the password (or token) into mailsetup")]
    Empty,
    /// Too long to be a password or token.
    #[error("the secret on standard input is longer than {MAX_SECRET_BYTES} bytes")]
    TooLong,
    /// Not UTF-8.
    #[error("the secret on standard input is not UTF-8 text")]
    NotText,
    /// A line break inside the secret.
    #[error(
        "the secret on standard input spans several lines: give only the password (or token), on one line"
    )]
    MultiLine,
}

/// Reads one secret from `input` (standard input): everything up to EOF,
/// without one trailing line break. Every intermediate buffer is wiped.
pub fn read_secret(input: impl Read) -> Result<SecretString, SecretError> {
    let mut raw = Zeroizing::new(Vec::with_capacity(MAX_SECRET_BYTES + 1));
    input
        .take(MAX_SECRET_BYTES as u64 + 1)
        .read_to_end(&mut raw)
        .map_err(SecretError::Read)?;
    if raw.len() > MAX_SECRET_BYTES {
        return Err(SecretError::TooLong);
    }
    let text = std::str::from_utf8(&raw).map_err(|_| SecretError::NotText)?;
    secret_from_line(text)
}

/// A secret from one line of text (a prompt's answer or standard input),
/// without its trailing line break.
pub fn secret_from_line(text: &str) -> Result<SecretString, SecretError> {
    let line = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(text);
    if line.is_empty() {
        return Err(SecretError::Empty);
    }
    if line.contains(['\r', '\n']) {
        return Err(SecretError::MultiLine);
    }
    Ok(SecretString::from(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(p: &str) -> Credentials {
        Credentials::password("user@example.test", SecretString::from(p))
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let c = creds("hunter2-secret");
        let shown = format!("{c:?} {:?}", c.redactor());
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn scrub_hides_every_encoding() {
        let c = creds("Tr0ub4dor&3");
        let r = c.redactor();
        let b64 = sasl::encode(b"Tr0ub4dor&3");
        let plain = sasl::plain("user@example.test", "Tr0ub4dor&3");
        let echo = format!(
            "NO you said Tr0ub4dor&3 and {} and {} and {}",
            *b64,
            *plain,
            plain.trim_end_matches('=')
        );
        let out = r.scrub(&echo);
        assert!(!out.contains("Tr0ub4dor"), "{out}");
        assert!(!out.contains(b64.as_str()), "{out}");
        assert!(!out.contains(plain.trim_end_matches('=')), "{out}");
        assert_eq!(out.matches("[secret hidden]").count(), 4, "{out}");
        assert_eq!(Redactor::none().scrub("a b"), "a b");
    }

    #[test]
    fn stdin_secrets() {
        let s = read_secret("pa ss\r\n".as_bytes()).unwrap();
        assert_eq!(s.expose_secret(), "pa ss");
        assert_eq!(
            read_secret("tok".as_bytes()).unwrap().expose_secret(),
            "tok"
        );
        assert!(matches!(
            read_secret("".as_bytes()),
            Err(SecretError::Empty)
        ));
        assert!(matches!(
            read_secret("\n".as_bytes()),
            Err(SecretError::Empty)
        ));
        assert!(matches!(
            read_secret("a\nb\n".as_bytes()),
            Err(SecretError::MultiLine)
        ));
        assert!(matches!(
            read_secret(&[0xff, 0xfe][..]),
            Err(SecretError::NotText)
        ));
        let huge = vec![b'a'; MAX_SECRET_BYTES + 10];
        assert!(matches!(
            read_secret(huge.as_slice()),
            Err(SecretError::TooLong)
        ));
        // Error messages never quote the input.
        let e = read_secret("s3cr3t-line\nmore".as_bytes())
            .unwrap_err()
            .to_string();
        assert!(!e.contains("s3cr3t"), "{e}");
    }
}
