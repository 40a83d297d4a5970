//! Reading a scan's input: one address or domain a line, streamed.
//!
//! Lines are numbered from 1 as they stand in the file, comments and blank
//! lines included, so a line number in the output always points at the
//! input. `--shard K/N` keeps the lines whose number minus one leaves K
//! when divided by N: N machines given the same file and K = 0‥N−1 split it
//! between them, with no coordination and nothing left over.

use std::fmt;
use std::io::BufRead;
use std::str::FromStr;

use crate::address::{EmailAddress, check_domain};

/// The longest line taken; longer ones are reported as malformed (no
/// address or domain is that long) and skipped without being kept whole.
pub const MAX_LINE: usize = 1024;

/// `--shard K/N`: every N-th line, starting at line K+1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which share, from 0.
    pub k: u64,
    /// How many shares.
    pub n: u64,
}

impl Shard {
    /// Whether line `line` (from 1) belongs to this shard.
    pub fn takes(&self, line: u64) -> bool {
        (line - 1) % self.n == self.k
    }
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad =
            || format!("'{s}' is not K/N with 0 <= K < N, such as 0/4 (the first of four shards)");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let k: u64 = k.trim().parse().map_err(|_| bad())?;
        let n: u64 = n.trim().parse().map_err(|_| bad())?;
        if n == 0 || k >= n {
            return Err(bad());
        }
        Ok(Shard { k, n })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// What one line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An address.
    Address(EmailAddress),
    /// A domain (ASCII, lower case).
    Domain(String),
}

impl Target {
    /// The domain (ASCII).
    pub fn domain(&self) -> &str {
        match self {
            Target::Address(a) => a.domain(),
            Target::Domain(d) => d,
        }
    }
}

/// One input line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// Blank or a `#` comment: nothing to do, no output.
    Skip,
    /// An address or a domain.
    Target(Target),
    /// Neither: the reason, for the line's error object.
    Malformed(String),
}

/// Reads one line's text.
pub fn classify(text: &str) -> Line {
    let t = text.trim();
    if t.is_empty() || t.starts_with('#') {
        return Line::Skip;
    }
    if t.contains('@') {
        return match t.parse::<EmailAddress>() {
            Ok(a) => Line::Target(Target::Address(a)),
            Err(e) => Line::Malformed(e.to_string()),
        };
    }
    match check_domain(t) {
        Ok(d) => Line::Target(Target::Domain(d)),
        Err(e) => Line::Malformed(e.to_string()),
    }
}

/// One line read from the input: its number, its text (cut to
/// [`MAX_LINE`]) and how many bytes it took in the input.
#[derive(Debug, Clone)]
pub struct RawLine {
    /// From 1.
    pub number: u64,
    /// The text, without the line end; invalid UTF-8 replaced.
    pub text: String,
    /// The line was longer than [`MAX_LINE`] bytes.
    pub too_long: bool,
    /// Bytes consumed, line end included.
    pub bytes: u64,
}

/// Reads lines one at a time with bounded memory: a line longer than
/// [`MAX_LINE`] is consumed to its end but only its start is kept.
pub struct Lines<R> {
    reader: R,
    number: u64,
}

impl<R: BufRead> Lines<R> {
    /// Lines of `reader`.
    pub fn new(reader: R) -> Lines<R> {
        Lines { reader, number: 0 }
    }
}

impl<R: BufRead> Iterator for Lines<R> {
    type Item = std::io::Result<RawLine>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut kept: Vec<u8> = Vec::new();
        let mut bytes = 0u64;
        let mut too_long = false;
        loop {
            let buf = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Some(Err(e)),
            };
            if buf.is_empty() {
                if bytes == 0 {
                    return None;
                }
                break;
            }
            let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (&buf[..=i], true),
                None => (buf, false),
            };
            let room = MAX_LINE.saturating_sub(kept.len());
            if chunk.len() > room {
                too_long = true;
            }
            kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
            let used = chunk.len();
            bytes += used as u64;
            self.reader.consume(used);
            if done {
                break;
            }
        }
        self.number += 1;
        while matches!(kept.last(), Some(b'\n' | b'\r')) {
            kept.pop();
        }
        Some(Ok(RawLine {
            number: self.number,
            text: String::from_utf8_lossy(&kept).into_owned(),
            too_long,
            bytes,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_lines_with_nothing_left_over() {
        let shards: Vec<Shard> = (0..3).map(|k| format!("{k}/3").parse().unwrap()).collect();
        for line in 1..=100u64 {
            let n = shards.iter().filter(|s| s.takes(line)).count();
            assert_eq!(n, 1, "line {line}");
        }
        assert!(shards[0].takes(1) && shards[1].takes(2) && shards[0].takes(4));
        for bad in ["3/3", "1", "a/b", "0/0", "-1/2", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn lines_are_classified() {
        assert_eq!(classify("  "), Line::Skip);
        assert_eq!(classify("# a comment"), Line::Skip);
        assert!(
            matches!(classify("Example.TEST"), Line::Target(Target::Domain(d)) if d == "example.test")
        );
        assert!(matches!(
            classify("a@b.test"),
            Line::Target(Target::Address(_))
        ));
        assert!(matches!(classify("not a domain"), Line::Malformed(_)));
        assert!(matches!(classify("a@@b"), Line::Malformed(_)));
        assert!(matches!(classify("localhost"), Line::Malformed(_)));
    }

    #[test]
    fn lines_are_numbered_and_bounded() {
        let long = "x".repeat(5000);
        let input = format!("a.test\r\n\n{long}\nlast.test");
        let lines: Vec<RawLine> = Lines::new(input.as_bytes()).map(Result::unwrap).collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0].text, "a.test");
        assert_eq!(lines[1].text, "");
        assert!(lines[2].too_long && lines[2].text.len() == MAX_LINE);
        assert_eq!((lines[3].number, lines[3].text.as_str()), (4, "last.test"));
        let total: u64 = lines.iter().map(|l| l.bytes).sum();
        assert_eq!(total, input.len() as u64);
    }
}
