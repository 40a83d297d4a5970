//! The built-in provider table against the two public corpora it is
//! written from: Thunderbird's ISPDB (`clientConfig` XML, read with the
//! program's own autoconfig parser) and chatmail's provider-db (Markdown
//! pages with YAML front matter).
//!
//! Every domain of both corpora must be in the table (or recognised by its
//! MX patterns), with the same servers: host, port, security and username.
//! Where the table deliberately differs, its entry says why in
//! `why_differs.ispdb` or `why_differs.provider-db`; a reason that no longer
//! explains any difference is reported too. The provider-db's status and
//! before-login hints must be reflected in the entry's status and notes.
//!
//! Each test collects every problem before failing, naming the corpus file,
//! the domain, the table entry and what differs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use mailsetup::address::EmailAddress;
use mailsetup::autoconfig;
use mailsetup::provider::{Provider, ProviderTable, Status};
use mailsetup::settings::{Protocol, Security, Server, Source, Trust};
use serde::Deserialize;

const ISPDB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ispdb");
const PROVIDER_DB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/provider-db");

/// Provider-db pages the table leaves out, and why.
const NOT_IN_TABLE: &[(&str, &str)] = &[
    (
        "example.com.md",
        "the provider-db's placeholder for the reserved example domains (RFC 2606); listing them would answer lookups with a made-up provider",
    ),
    (
        "hermes.radio.md",
        "wildcard domains (*.hermes.radio) of radio stations that each run their own server; no server names are given",
    ),
    (
        "espiv.net.md",
        "no server names in the provider-db, and none from the provider's own documentation",
    ),
    (
        "i3.net.md",
        "no server names in the provider-db, and none from the provider's own documentation",
    ),
    (
        "kolst.com.md",
        "no server names in the provider-db, and none from the provider's own documentation",
    ),
    (
        "kontent.com.md",
        "no server names in the provider-db, and none from the provider's own documentation",
    ),
    (
        "firemail.de.md",
        "no server names in the provider-db, and none from the provider's own documentation",
    ),
    (
        "sonic.md",
        "no server names in the provider-db, and none from the provider's own documentation",
    ),
    (
        "yggmail.md",
        "'yggmail' is a single-label pseudo-domain of a separate mesh network, served by a companion app on localhost; the program does not accept it as a mail domain",
    ),
    (
        "dismail.de.md",
        "no server names in the provider-db, and none from the provider's own documentation",
    ),
];

/// (protocol, host, port, security, username) of one server.
type Key = (Protocol, String, u16, Security, String);

fn keys<'a>(servers: impl IntoIterator<Item = &'a Server>) -> BTreeSet<Key> {
    servers
        .into_iter()
        .map(|s| {
            let host = s.host.to_ascii_lowercase();
            (s.protocol, host, s.port, s.security, s.username.clone())
        })
        .collect()
}

fn show(keys: &BTreeSet<Key>) -> String {
    let all: Vec<String> = keys
        .iter()
        .map(|(p, h, port, sec, user)| format!("{p} {h}:{port} {sec} user={user}"))
        .collect();
    format!("[{}]", all.join(", "))
}

fn files(dir: &str, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no *.{ext} files in {dir}");
    out
}

fn name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A made-up address at `domain`, to expand username templates.
fn probe(domain: &str) -> EmailAddress {
    format!("probe@{domain}")
        .parse()
        .unwrap_or_else(|e| panic!("{domain}: {e}"))
}

/// Domains a corpus misspells, with the domain the table lists instead.
const CORPUS_TYPOS: &[(&str, &str)] = &[
    // broba.cc.xml: every sibling is *.broba.cc; "ccv" is a copied typo.
    ("coral.broba.ccv", "coral.broba.cc"),
];

/// The entry that answers for `domain`: by the domain itself, or by the MX
/// patterns for a host in it (the corpora list some providers' MX domains,
/// such as mail.protection.outlook.com, as domains).
fn covering<'t>(table: &'t ProviderTable, domain: &str) -> Option<&'t Provider> {
    let domain = CORPUS_TYPOS
        .iter()
        .find(|(typo, _)| *typo == domain)
        .map_or(domain, |(_, right)| right);
    table
        .by_domain(domain)
        .or_else(|| table.by_mx_host(&format!("mx.{domain}")))
}

fn report(what: &str, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{what}: {} problem(s)\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

/// Remembers which entries' `why_differs` explained a real difference.
#[derive(Default)]
struct Reasons {
    used: BTreeSet<String>,
    checked: BTreeSet<String>,
}

impl Reasons {
    /// A difference was found: fine if `key` explains it, else a failure.
    fn differs(&mut self, p: &Provider, key: &str, failure: String, failures: &mut Vec<String>) {
        if p.why_differs.contains_key(key) {
            self.used.insert(p.id.clone());
        } else {
            failures.push(format!(
                "{failure} (if deliberate, say why in why_differs.{key})"
            ));
        }
    }

    /// Entries checked against the corpus whose reason explained nothing.
    fn stale(&self, table: &ProviderTable, key: &str) -> Vec<String> {
        table
            .providers()
            .iter()
            .filter(|p| p.why_differs.contains_key(key))
            .filter(|p| self.checked.contains(&p.id) && !self.used.contains(&p.id))
            .map(|p| {
                format!(
                    "{}: why_differs.{key} explains nothing: the entry agrees with the corpus",
                    p.id
                )
            })
            .collect()
    }
}

// --- ISPDB ----------------------------------------------------------------

fn ispdb() -> Vec<(String, autoconfig::ClientConfig)> {
    files(ISPDB, "xml")
        .iter()
        .map(|path| {
            let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            let cfg = autoconfig::parse(&bytes)
                .unwrap_or_else(|e| panic!("{}: the program's parser refuses it: {e}", name(path)));
            (name(path), cfg)
        })
        .collect()
}

#[test]
fn every_ispdb_file_parses_with_the_programs_parser() {
    let mut failures = Vec::new();
    let all = ispdb();
    for (file, cfg) in &all {
        for p in &cfg.providers {
            if p.domains.is_empty() {
                failures.push(format!("{file}: provider {} lists no domain", p.id));
            }
            for d in &p.domains {
                let email = probe(d.trim());
                if let Err(e) = p.to_settings(&email, cfg, Source::Ispdb, Trust::Verified) {
                    failures.push(format!("{file}: {d}: {e}"));
                }
            }
        }
    }
    report("ISPDB files", &failures);
}

#[test]
fn ispdb_servers_agree_with_the_table_or_it_says_why() {
    let table = ProviderTable::builtin();
    let mut failures = Vec::new();
    let mut reasons = Reasons::default();
    for (file, cfg) in ispdb() {
        for xp in &cfg.providers {
            let enable = !cfg.enable.is_empty() || !xp.enable.is_empty();
            for d in xp.domains.iter().map(|d| d.trim().to_ascii_lowercase()) {
                let Some(p) = covering(table, &d) else {
                    failures.push(format!("{file}: {d} is not in the table"));
                    continue;
                };
                reasons.checked.insert(p.id.clone());
                let email = probe(&d);
                let Ok(theirs) = xp.to_settings(&email, &cfg, Source::Ispdb, Trust::Verified)
                else {
                    failures.push(format!("{file}: {d}: no usable server"));
                    continue;
                };
                let ours = p.settings_for(&email, Source::ProviderDb);
                for (dir, t, o) in [
                    ("incoming", keys(&theirs.incoming), keys(&ours.incoming)),
                    ("outgoing", keys(&theirs.outgoing), keys(&ours.outgoing)),
                ] {
                    if t != o {
                        let only_t: BTreeSet<Key> = t.difference(&o).cloned().collect();
                        let only_o: BTreeSet<Key> = o.difference(&t).cloned().collect();
                        let msg = format!(
                            "{file}: {d} → {}: {dir} servers differ: only in the ISPDB {}, only in the table {}",
                            p.id,
                            show(&only_t),
                            show(&only_o)
                        );
                        reasons.differs(p, "ispdb", msg, &mut failures);
                    }
                }
                let codes: Vec<&str> = p.notes.iter().map(|n| n.code.as_str()).collect();
                let asks = ["enable-imap", "enable-pop", "app-password"];
                if enable && !codes.iter().any(|c| asks.contains(c)) {
                    let msg = format!(
                        "{file}: {d} → {}: the ISPDB asks to enable access first; the entry has no enable-imap, enable-pop or app-password note",
                        p.id
                    );
                    reasons.differs(p, "ispdb", msg, &mut failures);
                }
                let oauth_only = theirs
                    .incoming
                    .iter()
                    .chain(&theirs.outgoing)
                    .any(Server::oauth_only);
                if oauth_only && !codes.contains(&"oauth-required") {
                    let msg = format!(
                        "{file}: {d} → {}: a server takes only OAuth2 in the ISPDB; the entry has no oauth-required note",
                        p.id
                    );
                    reasons.differs(p, "ispdb", msg, &mut failures);
                }
            }
        }
    }
    failures.extend(reasons.stale(table, "ispdb"));
    report("ISPDB against the table", &failures);
}

// --- provider-db ----------------------------------------------------------

/// A provider-db page's front matter (unknown keys ignored).
#[derive(Debug, Deserialize)]
struct Page {
    status: String,
    #[serde(default)]
    domains: Vec<String>,
    #[serde(default)]
    server: Vec<PageServer>,
    #[serde(default)]
    before_login_hint: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PageServer {
    #[serde(rename = "type")]
    kind: String,
    socket: String,
    hostname: String,
    port: u16,
    #[serde(default)]
    username_pattern: Option<String>,
}

impl PageServer {
    fn key(&self, email: &EmailAddress) -> Result<Key, String> {
        let protocol = match self.kind.as_str() {
            "imap" => Protocol::Imap,
            "pop3" => Protocol::Pop3,
            "smtp" => Protocol::Smtp,
            other => return Err(format!("unknown server type {other}")),
        };
        let security = match self.socket.to_ascii_uppercase().as_str() {
            "SSL" => Security::Tls,
            "STARTTLS" => Security::Starttls,
            "PLAIN" => Security::None,
            other => return Err(format!("unknown socket {other}")),
        };
        let username = match self
            .username_pattern
            .as_deref()
            .map(str::to_ascii_uppercase)
        {
            None => email.login_address(),
            Some(p) if p == "EMAIL" => email.login_address(),
            Some(p) if p == "EMAILLOCALPART" => email.base_local_part().to_string(),
            Some(other) => return Err(format!("unknown username_pattern {other}")),
        };
        let host = self.hostname.to_ascii_lowercase();
        Ok((protocol, host, self.port, security, username))
    }
}

fn pages() -> Vec<(String, Page)> {
    files(PROVIDER_DB, "md")
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            let front = text
                .strip_prefix("---\n")
                .and_then(|rest| rest.split("\n---").next())
                .unwrap_or_else(|| panic!("{}: no front matter", name(path)));
            let page: Page = serde_norway::from_str(front)
                .unwrap_or_else(|e| panic!("{}: front matter: {e}", name(path)));
            (name(path), page)
        })
        .collect()
}

/// What a before-login hint asks for, as the note codes that answer it.
fn hint_needs(hint: &str) -> Result<Vec<&'static str>, String> {
    let h = hint.to_lowercase();
    let any = |words: &[&str]| words.iter().any(|w| h.contains(w));
    let mut needs = Vec::new();
    let app_password = [
        "app password",
        "app-password",
        "app-specific password",
        "auth code",
        "пароль для внешнего приложения",
    ];
    // "per-app-passwords are currently not working" asks for none.
    if any(&app_password) && !any(&["not working"]) {
        needs.push("app-password");
    }
    let verbs = [
        "enabl",
        "allow",
        "activate",
        "turn on",
        "turned on",
        "aktivieren",
        "включить",
    ];
    if any(&verbs) && any(&["imap", "pop3", "доступ"]) {
        needs.push("enable-imap");
    }
    if any(&["not allow using passwords"]) {
        needs.push("oauth-required");
    }
    if any(&[
        "does not offer the standard imap",
        "imap не предоставляется",
        "tor is needed",
    ]) {
        needs.push("provider-status");
    }
    if any(&["premium", "bezahlten"]) {
        needs.push("paid-only");
    }
    if any(&["anmeldedaten"]) {
        needs.push("credentials");
    }
    if needs.is_empty() {
        return Err(format!(
            "the hint {hint:?} is not understood by this test: teach hint_needs() what it asks for"
        ));
    }
    Ok(needs)
}

#[test]
fn provider_db_agrees_with_the_table_or_it_says_why() {
    let table = ProviderTable::builtin();
    let mut failures = Vec::new();
    let mut reasons = Reasons::default();
    for (file, page) in pages() {
        if NOT_IN_TABLE.iter().any(|(f, _)| *f == file) {
            continue;
        }
        for d in page.domains.iter().map(|d| d.trim().to_ascii_lowercase()) {
            let Some(p) = covering(table, &d) else {
                failures.push(format!("{file}: {d} is not in the table"));
                continue;
            };
            reasons.checked.insert(p.id.clone());
            let email = probe(&d);
            let ours = p.settings_for(&email, Source::ProviderDb);
            let ours = keys(ours.incoming.iter().chain(&ours.outgoing));
            for s in &page.server {
                match s.key(&email) {
                    Ok(k) if ours.contains(&k) => {}
                    Ok(k) => {
                        let msg = format!(
                            "{file}: {d} → {}: the provider-db's server {} is not in the table",
                            p.id,
                            show(&BTreeSet::from([k]))
                        );
                        reasons.differs(p, "provider-db", msg, &mut failures);
                    }
                    Err(e) => failures.push(format!("{file}: {e}")),
                }
            }
            let codes: Vec<&str> = p.notes.iter().map(|n| n.code.as_str()).collect();
            let oauth = codes.contains(&"oauth-required");
            if page.status == "BROKEN" && p.status != Status::Broken && !oauth {
                let msg = format!(
                    "{file}: {d} → {}: BROKEN in the provider-db, but the entry is neither broken nor has an oauth-required note",
                    p.id
                );
                reasons.differs(p, "provider-db", msg, &mut failures);
            }
            if page.status == "PREPARATION" && p.status == Status::Ok && p.notes.is_empty() {
                let msg = format!(
                    "{file}: {d} → {}: PREPARATION in the provider-db, but the entry has status ok and no notes",
                    p.id
                );
                reasons.differs(p, "provider-db", msg, &mut failures);
            }
            if let Some(hint) = &page.before_login_hint {
                match hint_needs(hint) {
                    Ok(needs) => {
                        for code in needs.iter().filter(|c| !codes.contains(c)) {
                            let msg = format!(
                                "{file}: {d} → {}: the hint {:?} needs a {code} note",
                                p.id,
                                hint.trim()
                            );
                            reasons.differs(p, "provider-db", msg, &mut failures);
                        }
                    }
                    Err(e) => failures.push(format!("{file}: {e}")),
                }
            }
        }
    }
    failures.extend(reasons.stale(table, "provider-db"));
    report("provider-db against the table", &failures);
}

// --- coverage ---------------------------------------------------------------

#[test]
fn every_corpus_domain_is_in_the_table() {
    let table = ProviderTable::builtin();
    let mut failures = Vec::new();
    for (file, cfg) in ispdb() {
        for d in cfg.providers.iter().flat_map(|p| &p.domains) {
            if covering(table, &d.trim().to_ascii_lowercase()).is_none() {
                failures.push(format!("{file}: {d} is not in the table"));
            }
        }
    }
    let pages = pages();
    for (file, page) in &pages {
        let left_out = NOT_IN_TABLE.iter().any(|(f, _)| f == file);
        for d in &page.domains {
            let d = d.trim().to_ascii_lowercase();
            match (covering(table, &d), left_out) {
                (None, false) => failures.push(format!("{file}: {d} is not in the table")),
                (Some(p), true) => failures.push(format!(
                    "{file}: {d} is now in the table ({}): remove the page from NOT_IN_TABLE",
                    p.id
                )),
                _ => {}
            }
        }
    }
    for (file, why) in NOT_IN_TABLE {
        assert!(!why.is_empty());
        if !pages.iter().any(|(f, _)| f == file) {
            failures.push(format!(
                "NOT_IN_TABLE names {file}, which is not in the provider-db"
            ));
        }
    }
    report("coverage", &failures);
}

#[test]
fn the_hint_reader_understands_what_it_claims() {
    assert_eq!(
        hint_needs("You must create an app-specific password before login.").unwrap(),
        ["app-password"]
    );
    assert_eq!(
        hint_needs("You must allow IMAP access to your account before you can login.").unwrap(),
        ["enable-imap"]
    );
    // "enabled" about 2-Step Verification is not about IMAP.
    assert_eq!(
        hint_needs("you need to have \"2-Step Verification\" enabled and create an app-password")
            .unwrap(),
        ["app-password"]
    );
    assert!(hint_needs("Have a nice day.").is_err());
}
