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

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
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

    /// A redactor for every form in which this secret could travel: as
    /// sent, base64 (alone and inside the PLAIN and XOAUTH2 blobs), hex in
    /// either case, reversed, percent-encoded, and any run of
    /// [`RUN_CHARS`] characters of it in each of those forms.
    pub fn redactor(&self) -> Redactor {
        let s = self.expose();
        let u = &self.username;
        let mut r = Redactor::default();
        if s.len() < MIN_REDACTED {
            return r;
        }
        r.add_forms(s);
        for blob in [
            sasl::encode(s.as_bytes()),
            sasl::plain(u, s),
            sasl::xoauth2(u, s),
        ] {
            // Base64 of a blob is stable only from the start; a server quoting
            // it might also cut its padding.
            r.add(blob.trim_end_matches('='));
        }
        // Base64 of the secret inside any other blob: whatever precedes it,
        // the secret starts at one of three offsets of a 3-byte group, and
        // from the next group boundary on, its encoding is fixed.
        for offset in 0..3 {
            let bytes = &s.as_bytes()[offset.min(s.len())..];
            let whole = Zeroizing::new(bytes[..bytes.len() / 3 * 3].to_vec());
            let core = sasl::encode(&whole);
            if core.len() >= 8 {
                r.add(&core);
                // Each 6 bytes of the secret are 8 characters of base64.
                for start in (0..core.len().saturating_sub(7)).step_by(4) {
                    r.add(&core[start..start + 8]);
                }
            }
        }
        let chars: Vec<(usize, char)> = s.char_indices().collect();
        if chars.len() > RUN_CHARS {
            for w in 0..=chars.len() - RUN_CHARS {
                let from = chars[w].0;
                let to = chars.get(w + RUN_CHARS).map_or(s.len(), |c| c.0);
                r.add_forms(&s[from..to]);
            }
        }
        r.finish();
        r
    }
}

/// Secrets shorter than this are not searched for in server text: a
/// one-letter "password" would blank out every occurrence of that letter.
const MIN_REDACTED: usize = 3;

/// Any run of this many characters of a secret counts as the secret: a
/// server that quotes part of it leaks part of it.
pub const RUN_CHARS: usize = 6;

/// What replaces each form of a secret.
const HIDDEN: &str = "[secret hidden]";

/// Removes a secret, in each of its encodings, from text.
#[derive(Default, Clone)]
pub struct Redactor {
    /// Every form to hide, grouped by length in bytes and sorted, so a
    /// scan of the text needs one binary search per position and length.
    needles: Vec<(usize, Vec<Zeroizing<String>>)>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n: usize = self.needles.iter().map(|(_, v)| v.len()).sum();
        write!(f, "Redactor({n} forms)")
    }
}

/// The characters RFC 3986 leaves unencoded.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

impl Redactor {
    /// A redactor with nothing to hide (no credentials given).
    pub fn none() -> Redactor {
        Redactor::default()
    }

    /// Adds one exact form.
    fn add(&mut self, needle: &str) {
        if needle.len() < MIN_REDACTED {
            return;
        }
        let group = match self
            .needles
            .iter()
            .position(|(len, _)| *len == needle.len())
        {
            Some(i) => i,
            None => {
                self.needles.push((needle.len(), Vec::new()));
                self.needles.len() - 1
            }
        };
        self.needles[group]
            .1
            .push(Zeroizing::new(needle.to_string()));
    }

    /// Adds `text` as sent, reversed, in hex and percent-encoded.
    fn add_forms(&mut self, text: &str) {
        self.add(text);
        let reversed = Zeroizing::new(text.chars().rev().collect::<String>());
        self.add(&reversed);
        let mut lower = Zeroizing::new(String::with_capacity(text.len() * 2));
        for b in text.bytes() {
            lower.push(char::from(HEX[usize::from(b >> 4)]));
            lower.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        self.add(&lower);
        self.add(&Zeroizing::new(lower.to_ascii_uppercase()));
        let mut percent: Vec<Zeroizing<String>> = vec![
            Zeroizing::new(utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()),
            Zeroizing::new(utf8_percent_encode(text, UNRESERVED).to_string()),
            Zeroizing::new(form_urlencoded::byte_serialize(text.as_bytes()).collect()),
        ];
        // The same with lower-case hex digits after each `%`.
        for i in 0..percent.len() {
            let low = Zeroizing::new(lower_percent_hex(&percent[i]));
            percent.push(low);
        }
        for p in &percent {
            if p.as_str() != text {
                self.add(p);
            }
        }
    }

    /// Sorts each group for binary search, longest forms first.
    fn finish(&mut self) {
        for (_, group) in &mut self.needles {
            group.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            group.dedup();
        }
        self.needles
            .sort_unstable_by_key(|g| std::cmp::Reverse(g.0));
    }

    /// `text` with every form of the secret replaced by `[secret hidden]`
    /// (overlapping forms become one).
    pub fn scrub(&self, text: &str) -> String {
        if self.needles.is_empty() {
            return text.to_string();
        }
        let bytes = text.as_bytes();
        // Byte ranges to hide, found left to right.
        let mut hide: Vec<(usize, usize)> = Vec::new();
        for i in 0..bytes.len() {
            if !text.is_char_boundary(i) {
                continue;
            }
            for (len, group) in &self.needles {
                let Some(window) = bytes.get(i..i + len) else {
                    continue;
                };
                if group.binary_search_by(|n| n.as_bytes().cmp(window)).is_ok() {
                    match hide.last_mut() {
                        Some(last) if i <= last.1 => last.1 = last.1.max(i + len),
                        _ => hide.push((i, i + len)),
                    }
                    // The longest match at this position is enough.
                    break;
                }
            }
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (from, to) in hide {
            out.push_str(&text[at..from]);
            out.push_str(HIDDEN);
            at = to;
        }
        out.push_str(&text[at..]);
        out
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `%2F` → `%2f`.
fn lower_percent_hex(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut after = 0;
    for c in text.chars() {
        if c == '%' {
            after = 2;
            out.push(c);
        } else if after > 0 {
            after -= 1;
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
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

    /// Every form a server has been seen (or could be expected) to echo.
    fn forms(secret: &str) -> Vec<String> {
        let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
        let chars: Vec<char> = secret.chars().collect();
        let mut v = vec![
            secret.to_string(),
            sasl::encode(secret.as_bytes()).to_string(),
            hex.clone(),
            hex.to_uppercase(),
            chars.iter().rev().collect(),
            utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string(),
            lower_percent_hex(&utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string()),
            form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
            sasl::encode(format!("xyz{secret}").as_bytes()).to_string(),
            sasl::encode(format!("xy{secret}").as_bytes()).to_string(),
            sasl::encode(format!("x{secret}").as_bytes()).to_string(),
        ];
        for w in chars.windows(RUN_CHARS) {
            v.push(w.iter().collect());
        }
        v
    }

    #[test]
    fn scrub_hides_hex_reversed_percent_and_runs() {
        let secret = "hunter2 p@ss/word+ü";
        let c = creds(secret);
        let r = c.redactor();
        for form in forms(secret) {
            let echo = format!("NO [ALERT] bad password:{form}|try again");
            let out = r.scrub(&echo);
            assert!(out.contains("[secret hidden]"), "{form}: {out}");
            assert!(
                out.starts_with("NO [ALERT] bad password:"),
                "{form:?} {out}"
            );
            assert!(out.ends_with("|try again"), "{form:?} {out}");
            // Nothing of 6 characters or more of the secret is left.
            for w in secret.chars().collect::<Vec<_>>().windows(RUN_CHARS) {
                let w: String = w.iter().collect();
                assert!(!out.contains(&w), "{form}: {out}");
            }
        }
        // The example: hunter2 in hex.
        let c = creds("hunter2");
        let out = c
            .redactor()
            .scrub("NO [ALERT] bad password 68756e74657232 x");
        assert_eq!(out, "NO [ALERT] bad password [secret hidden] x");
        let out = c.redactor().scrub("NO 68756E74657232 / 2retnuh / hunter");
        assert_eq!(
            out,
            "NO [secret hidden] / [secret hidden] / [secret hidden]"
        );
    }

    #[test]
    fn scrub_leaves_other_text_and_short_secrets_alone() {
        let r = creds("ab").redactor();
        assert_eq!(r.scrub("abcabc"), "abcabc");
        let r = creds("Tr0ub4dor&3").redactor();
        let text = "* OK [CAPABILITY IMAP4rev1] ready, ünïcödé";
        assert_eq!(r.scrub(text), text);
        // Overlapping forms become one marker.
        assert_eq!(r.scrub("Tr0ub4dor&3Tr0ub4"), "[secret hidden]");
    }

    #[test]
    fn long_tokens_scrub_quickly() {
        let token: String = (0..MAX_SECRET_BYTES)
            .map(|i| char::from(b'a' + (i * 7 % 26) as u8))
            .collect();
        let c = Credentials::oauth_token("u@example.test", SecretString::from(token.clone()));
        let started = std::time::Instant::now();
        let r = c.redactor();
        let echo = format!("NO {} {}", &token[100..200], "x".repeat(500));
        let out = r.scrub(&echo);
        assert!(!out.contains(&token[100..106]), "{out}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
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
