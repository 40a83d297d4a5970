//! Indexes the built-in provider table at build time.
//!
//! Parsing all of `data/providers.toml` takes several milliseconds, more
//! than a whole `lookup` may, and even one large entry costs a quarter of a
//! millisecond in TOML. So this script reads the file once at build time:
//! it cuts it into one block per `[[provider]]`, checks that every block is
//! a complete entry on its own and agrees with the whole file, that ids and
//! domains are unique and domains plausible, and writes two files into
//! `OUT_DIR`: `providers.json`, each entry as one compact JSON object (which
//! serde reads ten times faster than TOML) without its domains and MX
//! patterns, `names.txt`, every id, domain and MX pattern one after the
//! other, and `provider_index.rs`: the entries' byte ranges in that JSON,
//! and as byte ranges of `names.txt` their ids, the domains sorted for
//! binary search, the MX patterns, and each entry's own domains and MX
//! patterns in file order (so that a parsed entry points at them instead of
//! copying them: `src/provider/names.rs`).
//! The index holds integers only: a table of `&str` would need one
//! relocation per string each time the (position-independent) program is
//! loaded, and start-up time grows with the table. At run time a lookup
//! parses only its own entry. The full checks of each entry (servers,
//! notes, links) live in the library (`src/provider/validate.rs`): they
//! run whenever an entry is parsed, and its tests parse every entry and
//! compare the compiled form with a direct parse of the TOML.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

const TABLE: &str = "data/providers.toml";

fn main() {
    println!("cargo:rerun-if-changed={TABLE}");
    println!("cargo:rerun-if-changed=build.rs");
    pack_relocations();
    let text =
        std::fs::read_to_string(TABLE).unwrap_or_else(|e| fail(&format!("cannot read it: {e}")));
    let index = Index::build(&text).unwrap_or_else(|e| fail(&e));
    let out =
        PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_else(|| fail("OUT_DIR is not set")));
    std::fs::write(out.join("providers.json"), &index.json)
        .unwrap_or_else(|e| fail(&format!("cannot write the compiled table: {e}")));
    if index.json.len() > u32::MAX as usize {
        fail("the compiled table is larger than 4 GiB");
    }
    let (rust, names) = index.render();
    std::fs::write(out.join("provider_index.rs"), rust)
        .unwrap_or_else(|e| fail(&format!("cannot write the index: {e}")));
    std::fs::write(out.join("names.txt"), names)
        .unwrap_or_else(|e| fail(&format!("cannot write the names: {e}")));
}

/// Start-up: a position-independent program is relocated at every start,
/// one pointer-sized fix per static pointer (string tables, vtables, panic
/// locations, the certificate roots: about 14,000 in mailsetup). GNU ld and
/// lld can pack these "relative" relocations into a compact table (DT_RELR,
/// glibc 2.36 and later), which the loader reads in a fraction of the time
/// and memory; the program stays position-independent (ASLR). The linker
/// uses the packed form only when the C library it links against supports
/// it, and otherwise keeps the classic table.
fn pack_relocations() {
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu" {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("{TABLE}: {msg}");
    std::process::exit(1);
}

struct Index {
    /// Every entry as a JSON object, one after the other.
    json: String,
    /// Byte ranges of the entries in `json`.
    blocks: Vec<(usize, usize)>,
    ids: Vec<String>,
    domains: BTreeMap<String, usize>,
    mx: Vec<(String, usize)>,
    /// Each entry's own domains and MX patterns, in file order.
    own: Vec<(Vec<String>, Vec<String>)>,
}

impl Index {
    fn build(text: &str) -> Result<Index, String> {
        let toml_blocks = blocks(text);
        let whole: toml::Table = text.parse().map_err(|e| format!("{e}"))?;
        let providers = whole
            .get("provider")
            .and_then(|v| v.as_array())
            .ok_or("there is no [[provider]]")?;
        if providers.len() != toml_blocks.len() {
            return Err(format!(
                "{} providers but {} lines that are exactly [[provider]]: start every entry with such a line",
                providers.len(),
                toml_blocks.len()
            ));
        }
        let mut index = Index {
            json: String::new(),
            blocks: Vec::new(),
            ids: Vec::new(),
            domains: BTreeMap::new(),
            mx: Vec::new(),
            own: Vec::new(),
        };
        for (n, &(start, end)) in toml_blocks.iter().enumerate() {
            let block: toml::Table = text[start..end]
                .parse()
                .map_err(|e| format!("the block at byte {start} does not parse on its own: {e}"))?;
            let entry = match block
                .get("provider")
                .and_then(|v| v.as_array())
                .map(Vec::as_slice)
            {
                Some([one]) => one.clone(),
                _ => {
                    return Err(format!(
                        "the block at byte {start} is not exactly one provider"
                    ));
                }
            };
            if Some(&entry) != providers.get(n) {
                return Err(format!(
                    "the block at byte {start} differs from provider {n} of the whole file"
                ));
            }
            let id = entry
                .get("id")
                .and_then(|v| v.as_str())
                .ok_or(format!("provider {n} has no id"))?
                .to_string();
            if index.ids.contains(&id) {
                return Err(format!("the id {id} is used twice"));
            }
            index.ids.push(id.clone());
            let (own_domains, own_mx) = (strings(&entry, "domains"), strings(&entry, "mx"));
            for d in &own_domains {
                if !plausible_host(d) {
                    return Err(format!(
                        "{id}: domain '{d}' is not lower-case ASCII without a trailing dot"
                    ));
                }
                if let Some(&other) = index.domains.get(d) {
                    return Err(format!(
                        "domain {d} is listed by both {} and {id}",
                        index.ids[other]
                    ));
                }
                index.domains.insert(d.clone(), n);
            }
            for m in &own_mx {
                index.mx.push((m.clone(), n));
            }
            index.own.push((own_domains, own_mx));
            // The domains and MX patterns are left out of the entry's JSON:
            // the index holds them (OWN), so a lookup that parses the entry
            // copies none of them (src/provider/names.rs).
            let mut entry = entry;
            if let Some(t) = entry.as_table_mut() {
                t.remove("domains");
                t.remove("mx");
            }
            let json = serde_json::to_string(&entry).map_err(|e| format!("{id}: {e}"))?;
            let at = index.json.len();
            index.json.push_str(&json);
            index.blocks.push((at, index.json.len()));
        }
        Ok(index)
    }

    /// The index as Rust source holding only integers: every name (ids,
    /// domains, MX patterns) is a byte range of one string, `names.txt`, so
    /// the tables need no relocation when the program is loaded.
    fn render(&self) -> (String, String) {
        let mut names = String::new();
        let mut name = |text: &str| {
            let at = names.len();
            names.push_str(text);
            (at, text.len())
        };
        let ids: Vec<(usize, usize)> = self.ids.iter().map(|i| name(i)).collect();
        let domains: Vec<(usize, usize, usize)> = self
            .domains
            .iter()
            .map(|(d, &n)| {
                let (at, len) = name(d);
                (at, len, n)
            })
            .collect();
        let mx: Vec<(usize, usize, usize)> = self
            .mx
            .iter()
            .map(|(m, n)| {
                let (at, len) = name(m);
                (at, len, *n)
            })
            .collect();
        let mut s = String::from(
            "// @generated by build.rs from data/providers.toml\n\
             // Integers only (byte ranges of providers.json and names.txt),\n\
             // so that loading the program relocates nothing here.\n",
        );
        let _ = writeln!(
            s,
            "/// Byte ranges of the entries in providers.json, in file order.\n\
             pub(super) static BLOCKS: [(u32, u32); {}] = [",
            self.blocks.len()
        );
        for (a, b) in &self.blocks {
            let _ = writeln!(s, "    ({a}, {b}),");
        }
        let _ = writeln!(
            s,
            "];\n/// Each entry's id: a byte range of names.txt.\n\
             pub(super) static IDS: [(u32, u32); {}] = [",
            ids.len()
        );
        for (a, l) in &ids {
            let _ = writeln!(s, "    ({a}, {l}),");
        }
        s.push_str("];\n");
        for (doc, key, list) in [
            ("Domains, sorted", "DOMAINS", &domains),
            ("MX patterns, in file order", "MX", &mx),
        ] {
            let _ = writeln!(
                s,
                "/// {doc}: (offset in names.txt, length, entry number).\n\
                 pub(super) static {key}: [(u32, u32, u32); {}] = [",
                list.len()
            );
            for (a, l, n) in list {
                let _ = writeln!(s, "    ({a}, {l}, {n}),");
            }
            s.push_str("];\n");
        }
        // Each entry's own names in file order, as ranges of names.txt that
        // the lists above already wrote.
        let at: std::collections::HashMap<&str, (usize, usize)> = self
            .domains
            .keys()
            .zip(&domains)
            .map(|(d, &(a, l, _))| (d.as_str(), (a, l)))
            .chain(
                self.mx
                    .iter()
                    .zip(&mx)
                    .map(|((m, _), &(a, l, _))| (m.as_str(), (a, l))),
            )
            .collect();
        let mut own_names = Vec::new();
        let mut own = Vec::new();
        for (ds, ms) in &self.own {
            let mut run = |list: &Vec<String>| {
                let start = own_names.len();
                own_names.extend(list.iter().map(|n| at[n.as_str()]));
                (start, list.len())
            };
            own.push((run(ds), run(ms)));
        }
        let _ = writeln!(
            s,
            "/// Each entry's domains, then its MX patterns, in file order:\n\
             /// (offset in names.txt, length).\n\
             pub(super) static OWN_NAMES: [(u32, u32); {}] = [",
            own_names.len()
        );
        for (a, l) in &own_names {
            let _ = writeln!(s, "    ({a}, {l}),");
        }
        let _ = writeln!(
            s,
            "];\n/// Per entry: its domains and its MX patterns, each as\n\
             /// (first index in OWN_NAMES, count).\n\
             pub(super) static OWN: [((u32, u32), (u32, u32)); {}] = [",
            own.len()
        );
        for ((ds, dc), (ms, mc)) in &own {
            let _ = writeln!(s, "    (({ds}, {dc}), ({ms}, {mc})),");
        }
        s.push_str("];\n");
        (s, names)
    }
}

/// Byte ranges from each line that is exactly `[[provider]]` to the next.
fn blocks(text: &str) -> Vec<(usize, usize)> {
    let mut starts = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end() == "[[provider]]" {
            starts.push(offset);
        }
        offset += line.len();
    }
    let ends = starts.iter().skip(1).copied().chain([text.len()]);
    starts.iter().copied().zip(ends).collect()
}

fn strings(entry: &toml::Value, key: &str) -> Vec<String> {
    entry
        .get(key)
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The build-time half of the domain rule; the library checks the rest
/// (IDNA) in its tests.
fn plausible_host(d: &str) -> bool {
    !d.is_empty()
        && !d.ends_with('.')
        && d.split('.').all(|l| !l.is_empty())
        && d.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}
