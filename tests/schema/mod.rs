//! A checker for Apple configuration profiles, driven by Apple's own schema
//! (apple/device-management, `mdm/profiles/*.yaml`, copied into `tests/data/apple/`).
//!
//! It reads the YAML as data and reports every way a profile departs from
//! it: keys the schema does not know (or that iOS does not support), values
//! of the wrong type, required keys that are missing, values outside a
//! `rangelist`, strings that miss a `format`, payload types without a
//! schema, and PayloadUUIDs or PayloadIdentifiers that are malformed or
//! repeated inside the profile. Its own tests break good profiles on purpose
//! and expect each fault to be found.
//!
//! [`relaxng`] checks autoconfig files against the draft's RELAX NG grammar.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet};

use plist::{Dictionary, Value};
use serde::Deserialize;

const APPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/apple/");

/// The payload schemas the project writes.
const PAYLOADS: &[&str] = &["com.apple.mail.managed.yaml", "com.apple.eas.account.yaml"];

/// The CalDAV and CardDAV payloads' own keys, in the schema's shape, for
/// the payload types `tests/data/apple/` does not hold. Copied by hand (keys,
/// types, presence; descriptions left out) from apple/device-management,
/// `mdm/profiles/com.apple.caldav.account.yaml` and
/// `mdm/profiles/com.apple.carddav.account.yaml`. Both list
/// `…PrincipalURL` with `macOS: n/a` only, so it is an iOS key.
const DAV_PAYLOADS: &[(&str, &str)] = &[
    (
        "com.apple.caldav.account",
        "
- {key: CalDAVAccountDescription, type: <string>, presence: optional}
- {key: CalDAVHostName, type: <string>, presence: required}
- {key: CalDAVUsername, type: <string>, presence: optional}
- {key: CalDAVPassword, type: <string>, presence: optional}
- {key: CalDAVPrincipalURL, type: <string>, presence: optional}
- {key: CalDAVUseSSL, type: <boolean>, presence: optional}
- {key: CalDAVPort, type: <integer>, presence: optional}
- {key: VPNUUID, type: <string>, presence: optional}
",
    ),
    (
        "com.apple.carddav.account",
        "
- {key: CardDAVAccountDescription, type: <string>, presence: optional}
- {key: CardDAVHostName, type: <string>, presence: required}
- {key: CardDAVUsername, type: <string>, presence: optional}
- {key: CardDAVPassword, type: <string>, presence: optional}
- {key: CardDAVPrincipalURL, type: <string>, presence: optional}
- {key: CardDAVUseSSL, type: <boolean>, presence: optional}
- {key: CardDAVPort, type: <integer>, presence: optional}
- {key: CommunicationServiceRules, type: <dictionary>, presence: optional}
- {key: VPNUUID, type: <string>, presence: optional}
",
    ),
];

#[derive(Debug, Deserialize)]
struct File {
    payload: PayloadInfo,
    payloadkeys: Vec<KeyDef>,
}

#[derive(Debug, Deserialize)]
struct PayloadInfo {
    payloadtype: String,
}

/// One key of the schema.
#[derive(Debug, Clone, Deserialize)]
pub struct KeyDef {
    key: String,
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    presence: Option<String>,
    #[serde(default)]
    rangelist: Option<Vec<serde_norway::Value>>,
    #[serde(default)]
    subkeys: Option<Vec<KeyDef>>,
    #[serde(default)]
    format: Option<String>,
    #[serde(rename = "supportedOS", default)]
    supported_os: Option<serde_norway::Value>,
}

impl KeyDef {
    fn required(&self) -> bool {
        self.presence.as_deref() == Some("required")
    }

    /// Whether the schema says iOS does not have this key
    /// (`supportedOS: {iOS: {introduced: n/a}}`).
    fn not_on_ios(&self) -> bool {
        self.supported_os
            .as_ref()
            .and_then(|os| os.get("iOS"))
            .and_then(|ios| ios.get("introduced"))
            .and_then(|v| v.as_str())
            == Some("n/a")
    }
}

/// Apple's schema for the profiles this project writes.
pub struct Schema {
    top: Vec<KeyDef>,
    common: Vec<KeyDef>,
    payloads: BTreeMap<String, Vec<KeyDef>>,
}

fn load(name: &str) -> File {
    let path = format!("{APPLE}{name}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

impl Schema {
    /// Reads the YAML files.
    pub fn load() -> Schema {
        let mut payloads = BTreeMap::new();
        for name in PAYLOADS {
            let f = load(name);
            payloads.insert(f.payload.payloadtype, f.payloadkeys);
        }
        for (kind, keys) in DAV_PAYLOADS {
            let keys: Vec<KeyDef> = serde_norway::from_str(keys)
                .unwrap_or_else(|e| panic!("the {kind} key table: {e}"));
            payloads.insert(kind.to_string(), keys);
        }
        Schema {
            top: load("TopLevel.yaml").payloadkeys,
            common: load("CommonPayloadKeys.yaml").payloadkeys,
            payloads,
        }
    }

    /// Every departure of `profile` (XML or binary plist) from the schema.
    pub fn check(&self, profile: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        let value = match Value::from_reader(std::io::Cursor::new(profile)) {
            Ok(v) => v,
            Err(e) => return vec![format!("not a property list: {e}")],
        };
        let Some(top) = value.as_dictionary() else {
            return vec!["the profile is not a dictionary".into()];
        };
        // PayloadContent is walked per payload type below.
        check_dict(top, &self.top, "profile", &mut out, &["PayloadContent"]);
        let mut uuids = vec![("profile".to_string(), top.get("PayloadUUID"))];
        let mut ids = vec![("profile".to_string(), top.get("PayloadIdentifier"))];
        if let Some(content) = top.get("PayloadContent").and_then(Value::as_array) {
            for (i, item) in content.iter().enumerate() {
                let at = format!("PayloadContent[{i}]");
                let Some(dict) = item.as_dictionary() else {
                    out.push(format!("{at}: not a dictionary"));
                    continue;
                };
                let kind = dict
                    .get("PayloadType")
                    .and_then(Value::as_string)
                    .unwrap_or("");
                let Some(own) = self.payloads.get(kind) else {
                    out.push(format!("{at}: no schema for PayloadType '{kind}'"));
                    continue;
                };
                // A payload's own definition of a key wins over the common one.
                let mut defs: Vec<KeyDef> = own.clone();
                for c in &self.common {
                    if !defs.iter().any(|d| d.key == c.key) {
                        defs.push(c.clone());
                    }
                }
                check_dict(dict, &defs, &at, &mut out, &[]);
                uuids.push((at.clone(), dict.get("PayloadUUID")));
                ids.push((at, dict.get("PayloadIdentifier")));
            }
        }
        unique(&uuids, "PayloadUUID", true, &mut out);
        unique(&ids, "PayloadIdentifier", false, &mut out);
        out
    }
}

fn unique(values: &[(String, Option<&Value>)], key: &str, uuid: bool, out: &mut Vec<String>) {
    let mut seen = HashSet::new();
    for (at, v) in values {
        let Some(s) = v.and_then(|v| v.as_string()) else {
            continue; // reported as missing or mistyped already
        };
        if uuid && uuid::Uuid::parse_str(s).is_err() {
            out.push(format!("{at}: {key} '{s}' is not a UUID"));
        }
        if !seen.insert(s.to_ascii_lowercase()) {
            out.push(format!("{at}: {key} '{s}' is used twice in the profile"));
        }
    }
}

fn type_ok(ty: &str, v: &Value) -> bool {
    match ty {
        "<string>" => v.as_string().is_some(),
        "<integer>" => v.as_signed_integer().is_some() || v.as_unsigned_integer().is_some(),
        "<boolean>" => v.as_boolean().is_some(),
        "<array>" => v.as_array().is_some(),
        "<dictionary>" => v.as_dictionary().is_some(),
        "<data>" => v.as_data().is_some(),
        "<date>" => v.as_date().is_some(),
        "<real>" => v.as_real().is_some() || v.as_signed_integer().is_some(),
        "<any>" => true,
        _ => false,
    }
}

/// A scalar as text, to compare plist values with YAML ones.
fn plist_text(v: &Value) -> Option<String> {
    if let Some(s) = v.as_string() {
        return Some(s.to_string());
    }
    if let Some(i) = v.as_signed_integer() {
        return Some(i.to_string());
    }
    if let Some(i) = v.as_unsigned_integer() {
        return Some(i.to_string());
    }
    v.as_boolean().map(|b| b.to_string())
}

fn yaml_text(v: &serde_norway::Value) -> String {
    match v {
        serde_norway::Value::String(s) => s.clone(),
        serde_norway::Value::Number(n) => n.to_string(),
        serde_norway::Value::Bool(b) => b.to_string(),
        other => format!("{other:?}"),
    }
}

fn check_dict(dict: &Dictionary, defs: &[KeyDef], at: &str, out: &mut Vec<String>, skip: &[&str]) {
    let open = defs.iter().any(|d| d.key == "ANY");
    for (key, value) in dict {
        let Some(def) = defs.iter().find(|d| &d.key == key) else {
            if !open {
                out.push(format!("{at}: unknown key {key}"));
            }
            continue;
        };
        if def.not_on_ios() {
            out.push(format!("{at}: {key} is not supported on iOS"));
        }
        if skip.contains(&key.as_str()) {
            continue;
        }
        check_value(value, def, &format!("{at}.{key}"), out);
    }
    for def in defs.iter().filter(|d| d.required() && d.key != "ANY") {
        if !dict.contains_key(&def.key) {
            out.push(format!("{at}: required key {} is missing", def.key));
        }
    }
}

fn check_value(value: &Value, def: &KeyDef, at: &str, out: &mut Vec<String>) {
    if !type_ok(&def.ty, value) {
        out.push(format!("{at}: should be {} but is {value:?}", def.ty));
        return;
    }
    if let Some(range) = &def.rangelist {
        let text = plist_text(value);
        let allowed: Vec<String> = range.iter().map(yaml_text).collect();
        if !text.as_ref().is_some_and(|t| allowed.contains(t)) {
            out.push(format!("{at}: {value:?} is not one of {allowed:?}"));
        }
    }
    if let (Some(re), Some(s)) = (&def.format, value.as_string()) {
        match regex::Regex::new(re) {
            Ok(re) if !re.is_match(s) => out.push(format!("{at}: '{s}' does not match {re}")),
            Ok(_) => {}
            Err(e) => out.push(format!("{at}: the schema's format is not a regex: {e}")),
        }
    }
    let Some(sub) = &def.subkeys else { return };
    if let Some(d) = value.as_dictionary() {
        check_dict(d, sub, at, out, &[]);
    } else if let (Some(items), Some(item_def)) = (value.as_array(), sub.first()) {
        for (i, item) in items.iter().enumerate() {
            check_value(item, item_def, &format!("{at}[{i}]"), out);
        }
    }
}

/// Parses a profile for tests that look at its values.
pub fn parse(profile: &[u8]) -> Dictionary {
    Value::from_reader(std::io::Cursor::new(profile))
        .expect("a property list")
        .into_dictionary()
        .expect("a dictionary")
}

/// The first payload of a profile.
pub fn payload(profile: &Dictionary) -> &Dictionary {
    profile["PayloadContent"].as_array().unwrap()[0]
        .as_dictionary()
        .unwrap()
}

/// Keys that would carry a secret. A profile from this project never has
/// them: the iPhone asks for the password while installing.
const SECRET_KEYS: &[&str] = &[
    "IncomingPassword",
    "OutgoingPassword",
    "Password",
    "CertificatePassword",
    "CalDAVPassword",
    "CardDAVPassword",
];

/// Fails if any dictionary of the profile has a key that carries a secret.
pub fn assert_no_secrets(profile: &[u8]) {
    fn walk(v: &Value) {
        if let Some(d) = v.as_dictionary() {
            for (k, v) in d {
                assert!(
                    !SECRET_KEYS.contains(&k.as_str()),
                    "the profile carries {k}"
                );
                walk(v);
            }
        } else if let Some(a) = v.as_array() {
            a.iter().for_each(walk);
        }
    }
    walk(&Value::Dictionary(parse(profile)));
}

/// The autoconfig draft's RELAX NG grammar.
const RNG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/autoconfig/autoconfig.rng"
);

/// Runs `xmllint --relaxng` with the autoconfig draft's grammar on `xml`;
/// what xmllint said when it rejects it.
pub fn relaxng(xml: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config-v1.1.xml");
    std::fs::write(&file, xml).unwrap();
    let o = std::process::Command::new("xmllint")
        .args(["--noout", "--relaxng", RNG])
        .arg(&file)
        .output()
        .expect("xmllint is installed (scripts/install-deps.sh: libxml2-utils)");
    if o.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailsetup::address::EmailAddress;
    use mailsetup::lookup::lookup_builtin;
    use mailsetup::output::dav::{Dav, DavServer};
    use mailsetup::output::mobileconfig::Options;
    use mailsetup::profile::{Format, Request, render};

    fn good(address: &str, exchange: bool) -> Dictionary {
        let email: EmailAddress = address.parse().unwrap();
        let found = lookup_builtin(&email).unwrap();
        let bytes = render(&Request {
            email: &email,
            settings: &found.settings,
            format: Format::Mobileconfig,
            exchange,
            signer: None,
            options: &Options::default(),
            dav: None,
            short_name: None,
        })
        .unwrap()
        .bytes;
        assert_eq!(Schema::load().check(&bytes), Vec::<String>::new());
        parse(&bytes)
    }

    /// A profile with CalDAV and CardDAV payloads after the mail payload.
    fn with_dav() -> Dictionary {
        let email: EmailAddress = "alice@posteo.de".parse().unwrap();
        let found = lookup_builtin(&email).unwrap();
        let server = |u| DavServer::parse(u).unwrap();
        let dav = Dav {
            caldav: Some(server("https://dav.posteo.de/cal/")),
            carddav: Some(server("https://dav.posteo.de:8843/card/")),
        };
        let bytes = render(&Request {
            email: &email,
            settings: &found.settings,
            format: Format::Mobileconfig,
            exchange: false,
            signer: None,
            options: &Options::default(),
            dav: Some(&dav),
            short_name: None,
        })
        .unwrap()
        .bytes;
        assert_eq!(Schema::load().check(&bytes), Vec::<String>::new());
        parse(&bytes)
    }

    fn edit_nth(profile: &mut Dictionary, n: usize, f: impl FnOnce(&mut Dictionary)) {
        let content = profile
            .get_mut("PayloadContent")
            .and_then(Value::as_array_mut)
            .unwrap();
        f(content[n].as_dictionary_mut().unwrap());
    }

    fn faults(profile: &Dictionary) -> Vec<String> {
        let mut bytes = Vec::new();
        Value::Dictionary(profile.clone())
            .to_writer_xml(&mut bytes)
            .unwrap();
        Schema::load().check(&bytes)
    }

    fn edit_payload(profile: &mut Dictionary, f: impl FnOnce(&mut Dictionary)) {
        let content = profile
            .get_mut("PayloadContent")
            .and_then(Value::as_array_mut)
            .unwrap();
        f(content[0].as_dictionary_mut().unwrap());
    }

    fn expect_one(profile: &Dictionary, needle: &str) {
        let found = faults(profile);
        assert!(
            found.iter().any(|f| f.contains(needle)),
            "expected a fault containing {needle:?}, got {found:?}"
        );
    }

    #[test]
    fn walker_finds_unknown_keys() {
        let mut p = good("alice@posteo.de", false);
        edit_payload(&mut p, |d| {
            d.insert("IncomingMailServerUseTLS".into(), true.into());
        });
        expect_one(&p, "unknown key IncomingMailServerUseTLS");
        let mut p = good("alice@posteo.de", false);
        p.insert("Colour".into(), "blue".into());
        expect_one(&p, "profile: unknown key Colour");
    }

    #[test]
    fn walker_finds_wrong_types() {
        let mut p = good("alice@posteo.de", false);
        edit_payload(&mut p, |d| {
            d.insert("IncomingMailServerPortNumber".into(), "993".into());
        });
        expect_one(&p, "IncomingMailServerPortNumber: should be <integer>");
        let mut p = good("someone@msn.com", true);
        edit_payload(&mut p, |d| {
            d.insert("OAuth".into(), "true".into());
        });
        expect_one(&p, "OAuth: should be <boolean>");
    }

    #[test]
    fn walker_finds_missing_required_keys() {
        let mut p = good("alice@posteo.de", false);
        edit_payload(&mut p, |d| {
            d.remove("IncomingMailServerHostName");
        });
        expect_one(&p, "required key IncomingMailServerHostName is missing");
        let mut p = good("alice@posteo.de", false);
        p.remove("PayloadVersion");
        expect_one(&p, "profile: required key PayloadVersion is missing");
    }

    #[test]
    fn walker_finds_values_outside_the_rangelist() {
        let mut p = good("alice@posteo.de", false);
        edit_payload(&mut p, |d| {
            d.insert("EmailAccountType".into(), "EmailTypeExchange".into());
        });
        expect_one(&p, "is not one of [\"EmailTypeIMAP\", \"EmailTypePOP\"]");
        let mut p = good("alice@posteo.de", false);
        p.insert("PayloadVersion".into(), 2.into());
        expect_one(&p, "profile.PayloadVersion");
        let mut p = good("alice@posteo.de", false);
        edit_payload(&mut p, |d| {
            d.insert(
                "OutgoingMailServerAuthentication".into(),
                "EmailAuthOAuth".into(),
            );
        });
        expect_one(&p, "OutgoingMailServerAuthentication");
    }

    #[test]
    fn walker_finds_repeated_and_malformed_uuids() {
        let mut p = good("alice@posteo.de", false);
        let top = p["PayloadUUID"].clone();
        edit_payload(&mut p, |d| {
            d.insert("PayloadUUID".into(), top);
        });
        expect_one(&p, "is used twice in the profile");
        let mut p = good("alice@posteo.de", false);
        p.insert("PayloadUUID".into(), "not-a-uuid".into());
        expect_one(&p, "'not-a-uuid' is not a UUID");
    }

    #[test]
    fn walker_finds_unknown_payload_types_formats_and_non_ios_keys() {
        let mut p = good("alice@posteo.de", false);
        edit_payload(&mut p, |d| {
            d.insert("PayloadType".into(), "com.apple.mail.unmanaged".into());
        });
        expect_one(&p, "no schema for PayloadType 'com.apple.mail.unmanaged'");
        let mut p = good("alice@posteo.de", false);
        edit_payload(&mut p, |d| {
            d.insert("SMIMESigningCertificateUUID".into(), "xyz".into());
        });
        expect_one(&p, "'xyz' does not match");
        let mut p = good("alice@posteo.de", false);
        edit_payload(&mut p, |d| {
            d.insert("PreventMove".into(), true.into());
        });
        assert_eq!(
            faults(&p),
            Vec::<String>::new(),
            "PreventMove is an iOS key"
        );
    }

    #[test]
    fn keys_marked_not_available_on_ios_are_found() {
        // None of the payloads written today has such a key, so the rule is
        // checked on a definition of the schema's own shape.
        let def: KeyDef = serde_norway::from_str(
            "key: X\ntype: <boolean>\nsupportedOS:\n  iOS:\n    introduced: n/a\n",
        )
        .unwrap();
        let mut d = Dictionary::new();
        d.insert("X".into(), true.into());
        let mut out = Vec::new();
        check_dict(&d, &[def], "p", &mut out, &[]);
        assert_eq!(out, ["p: X is not supported on iOS"]);
    }

    #[test]
    fn secrets_are_found() {
        let mut p = good("alice@posteo.de", false);
        edit_payload(&mut p, |d| {
            d.insert("IncomingPassword".into(), "hunter2".into());
        });
        let mut bytes = Vec::new();
        Value::Dictionary(p).to_writer_xml(&mut bytes).unwrap();
        let caught = std::panic::catch_unwind(|| assert_no_secrets(&bytes));
        assert!(caught.is_err(), "a password in the profile went unnoticed");
    }

    #[test]
    fn walker_checks_dav_payloads_by_their_key_tables() {
        let mut p = with_dav();
        edit_nth(&mut p, 1, |d| {
            d.remove("CalDAVHostName");
        });
        expect_one(
            &p,
            "PayloadContent[1]: required key CalDAVHostName is missing",
        );
        let mut p = with_dav();
        edit_nth(&mut p, 2, |d| {
            d.insert("CardDAVPort".into(), "443".into());
        });
        expect_one(&p, "PayloadContent[2].CardDAVPort: should be <integer>");
        let mut p = with_dav();
        edit_nth(&mut p, 1, |d| {
            d.insert("CalDAVUseTLS".into(), true.into());
        });
        expect_one(&p, "unknown key CalDAVUseTLS");
        let mut p = with_dav();
        edit_nth(&mut p, 2, |d| {
            d.insert("CardDAVPassword".into(), "hunter2".into());
        });
        let mut bytes = Vec::new();
        Value::Dictionary(p).to_writer_xml(&mut bytes).unwrap();
        let caught = std::panic::catch_unwind(|| assert_no_secrets(&bytes));
        assert!(
            caught.is_err(),
            "a DAV password in the profile went unnoticed"
        );
    }

    #[test]
    fn walker_refuses_what_is_not_a_profile() {
        let s = Schema::load();
        assert!(!s.check(b"").is_empty());
        assert!(
            !s.check(b"<plist version=\"1.0\"><array/></plist>")
                .is_empty()
        );
    }
}
