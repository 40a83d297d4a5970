//! `--resume OUT`: which input lines an earlier run already answered.
//!
//! OUT is read line by line (never whole); every object with a `"line"`
//! number, summaries aside, marks that input line done. The set is a bit
//! per line, so a million-line input costs 125 KB. A last line cut short
//! by a crash is not valid JSON: it is cut off the file before new lines
//! are appended, and its input line is done again.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::Path;

/// A growable set of line numbers.
#[derive(Debug, Default, Clone)]
pub struct LineSet {
    bits: Vec<u64>,
    len: u64,
}

impl LineSet {
    /// Adds `line`.
    pub fn insert(&mut self, line: u64) {
        let (word, bit) = ((line / 64) as usize, line % 64);
        if word >= self.bits.len() {
            self.bits.resize(word + 1, 0);
        }
        if self.bits[word] & (1 << bit) == 0 {
            self.len += 1;
        }
        self.bits[word] |= 1 << bit;
    }

    /// Whether `line` is in the set.
    pub fn contains(&self, line: u64) -> bool {
        let (word, bit) = ((line / 64) as usize, line % 64);
        self.bits.get(word).is_some_and(|w| w & (1 << bit) != 0)
    }

    /// How many lines.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Reads OUT's done lines, cuts a torn last line off, and opens it for
/// appending. A missing OUT is an empty one (nothing done yet).
pub fn open(path: &Path) -> std::io::Result<(LineSet, File)> {
    let mut done = LineSet::default();
    let mut keep: u64 = 0;
    if let Ok(f) = File::open(path) {
        let mut reader = BufReader::new(f);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let n = reader.read_until(b'\n', &mut buf)?;
            if n == 0 {
                break;
            }
            let whole = buf.last() == Some(&b'\n');
            let parsed: Option<serde_json::Value> = serde_json::from_slice(&buf).ok();
            if !whole && parsed.is_none() {
                // Torn by a crash mid-write: dropped, done again.
                break;
            }
            keep += n as u64;
            if let Some(v) = parsed {
                if v.get("summary").and_then(|s| s.as_bool()) == Some(true) {
                    continue;
                }
                if let Some(line) = v.get("line").and_then(|l| l.as_u64()) {
                    done.insert(line);
                }
            }
        }
    }
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    file.set_len(keep)?;
    file.seek(SeekFrom::Start(keep))?;
    // A last whole object without its newline gets one, so the next line
    // starts on its own.
    if keep > 0 {
        let mut last = [0u8; 1];
        let mut r = File::open(path)?;
        r.seek(SeekFrom::Start(keep - 1))?;
        std::io::Read::read_exact(&mut r, &mut last)?;
        if last[0] != b'\n' {
            std::io::Write::write_all(&mut file, b"\n")?;
        }
    }
    Ok((done, file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_sets_count_each_line_once() {
        let mut s = LineSet::default();
        for l in [1, 64, 65, 1_000_000, 64] {
            s.insert(l);
        }
        assert_eq!(s.len(), 4);
        assert!(s.contains(65) && s.contains(1_000_000) && !s.contains(2));
    }

    #[test]
    fn torn_last_lines_are_cut_and_summaries_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.jsonl");
        std::fs::write(
            &out,
            "{\"line\":1}\n{\"line\":3,\"x\":1}\n{\"summary\":true,\"line\":9}\n{\"line\":4,\"inc",
        )
        .unwrap();
        let (done, mut f) = open(&out).unwrap();
        assert!(done.contains(1) && done.contains(3));
        assert!(!done.contains(4) && !done.contains(9));
        std::io::Write::write_all(&mut f, b"{\"line\":4}\n").unwrap();
        drop(f);
        let text = std::fs::read_to_string(&out).unwrap();
        for l in text.lines() {
            serde_json::from_str::<serde_json::Value>(l).unwrap();
        }
        assert!(text.ends_with("{\"line\":4}\n"));
        // Missing OUT: nothing done.
        let (done, _) = open(&dir.path().join("new.jsonl")).unwrap();
        assert!(done.is_empty());
    }
}
