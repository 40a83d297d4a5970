//! Properties that hold for every input, checked on generated ones
//! (proptest):
//!
//! - any settings written as autoconfig, Autodiscover POX and mobileconfig
//!   parse back (with the program's own readers, and a plist reader) to
//!   the same servers;
//! - any address that parses prints and re-parses to itself;
//! - host names, user names and display names holding markup characters
//!   never change the structure of any output: the element (or plist key)
//!   outline is the same as for plain names.

use std::collections::BTreeMap;

use mailsetup::address::EmailAddress;
use mailsetup::output::mobileconfig::Options;
use mailsetup::profile::{self, Format, Request};
use mailsetup::settings::{
    AuthMethod, Protocol, ProviderRef, Security, Server, ServerUrl, Settings, Source, Trust,
};
use proptest::prelude::*;
use quick_xml::events::Event;

// --- Generators ----------------------------------------------------------

/// A valid, normalised host name: 2–4 labels of letters, digits and inner
/// hyphens, with a letter-only top-level label.
fn host() -> impl Strategy<Value = String> {
    (
        prop::collection::vec("[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,4})?", 1..4),
        "[a-z]{2,6}",
    )
        .prop_map(|(labels, tld)| format!("{}.{tld}", labels.join(".")))
}

/// Text with every character XML and plists treat specially, plus
/// non-ASCII, quotes and CDATA ends.
fn hostile_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("<".to_string()),
            Just(">".to_string()),
            Just("&".to_string()),
            Just("\"".to_string()),
            Just("'".to_string()),
            Just("]]>".to_string()),
            Just("<!--".to_string()),
            Just("&amp;".to_string()),
            Just("<key>".to_string()),
            Just("</string>".to_string()),
            Just("</hostname>".to_string()),
            Just("ü".to_string()),
            Just("中".to_string()),
            "[a-zA-Z0-9 .@+-]{1,6}",
        ],
        1..8,
    )
    .prop_map(|parts| parts.concat())
}

fn security() -> impl Strategy<Value = Security> {
    prop_oneof![Just(Security::Tls), Just(Security::Starttls)]
}

fn server(protocol: Protocol, username: BoxedStrategy<String>) -> impl Strategy<Value = Server> {
    (host(), 1u16..=65535, security(), username).prop_map(
        move |(host, port, security, username)| Server {
            protocol,
            host,
            port,
            security,
            auth: vec![AuthMethod::Password],
            username,
        },
    )
}

fn settings(
    username: BoxedStrategy<String>,
    name: BoxedStrategy<String>,
) -> impl Strategy<Value = Settings> {
    (
        prop::collection::vec(
            prop_oneof![
                server(Protocol::Imap, username.clone()),
                server(Protocol::Pop3, username.clone())
            ],
            1..3,
        ),
        prop::collection::vec(server(Protocol::Smtp, username), 1..3),
        name,
    )
        .prop_map(|(incoming, outgoing, name)| Settings {
            provider: Some(ProviderRef {
                id: "example.com".into(),
                name,
            }),
            incoming,
            outgoing,
            source: Source::Autoconfig,
            trust: Trust::Verified,
            notes: vec![],
        })
}

fn plain_username() -> BoxedStrategy<String> {
    "[a-z][a-z0-9.]{0,10}@[a-z]{1,8}\\.example".boxed()
}

fn plain_name() -> BoxedStrategy<String> {
    "[A-Z][a-z]{1,10}( [A-Z][a-z]{1,8})?".boxed()
}

fn email() -> EmailAddress {
    "someone@example.com".parse().unwrap()
}

fn render(email: &EmailAddress, settings: &Settings, format: Format) -> Vec<u8> {
    profile::render(&Request {
        email,
        settings,
        format,
        exchange: false,
        signer: None,
        options: &Options::default(),
        dav: None,
        short_name: None,
    })
    .unwrap_or_else(|e| panic!("{format:?} refused: {e}\n{settings:#?}"))
    .bytes
}

/// What a server is, for comparing: everything a client needs to connect.
type Key = (Protocol, String, u16, Security, String);

fn key(s: &Server) -> Key {
    (
        s.protocol,
        s.host.clone(),
        s.port,
        s.security,
        s.username.clone(),
    )
}

fn keys(servers: &[Server]) -> Vec<Key> {
    servers.iter().map(key).collect()
}

// --- Round trips -----------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn autoconfig_round_trips(s in settings(plain_username(), plain_name())) {
        let e = email();
        let xml = render(&e, &s, Format::Autoconfig);
        let config = mailsetup::autoconfig::parse(&xml)
            .unwrap_or_else(|err| panic!("{err}\n{}", String::from_utf8_lossy(&xml)));
        prop_assert_eq!(config.providers.len(), 1);
        let back = config.providers[0]
            .to_settings(&e, &config, Source::Autoconfig, Trust::Verified)
            .unwrap();
        prop_assert_eq!(keys(&back.incoming), keys(&s.incoming));
        prop_assert_eq!(keys(&back.outgoing), keys(&s.outgoing));
    }

    #[test]
    fn autodiscover_round_trips(s in settings(plain_username(), plain_name())) {
        let e = email();
        let xml = render(&e, &s, Format::Autodiscover);
        let parsed = mailsetup::discover::pox::parse(&xml)
            .unwrap_or_else(|err| panic!("{err}\n{}", String::from_utf8_lossy(&xml)));
        let mailsetup::discover::pox::PoxResponse::Settings(protocols) = parsed else {
            panic!("not settings: {}", String::from_utf8_lossy(&xml));
        };
        let back = mailsetup::discover::pox::to_settings(&protocols, &e, Trust::Verified).unwrap();
        let mut got = keys(&back.incoming);
        got.extend(keys(&back.outgoing));
        got.sort();
        let mut want = keys(&s.incoming);
        want.extend(keys(&s.outgoing));
        want.sort();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn mobileconfig_round_trips(s in settings(plain_username(), plain_name())) {
        let e = email();
        let bytes = render(&e, &s, Format::Mobileconfig);
        let v = plist::Value::from_reader_xml(bytes.as_slice())
            .unwrap_or_else(|err| panic!("{err}\n{}", String::from_utf8_lossy(&bytes)));
        let payloads = v.as_dictionary().unwrap()["PayloadContent"].as_array().unwrap();
        let mail = payloads
            .iter()
            .map(|p| p.as_dictionary().unwrap())
            .find(|p| p["PayloadType"].as_string() == Some("com.apple.mail.managed"))
            .expect("a mail payload");
        // iOS takes one incoming and one outgoing server: the ones the
        // program's own choice picks.
        let chosen = mailsetup::output::iphone::servers(&s).unwrap();
        let get = |k: &str| mail.get(k).cloned();
        let int = |k: &str| get(k).and_then(|v| v.as_unsigned_integer());
        let text = |k: &str| get(k).and_then(|v| v.as_string().map(str::to_string));
        let tls = |k: &str| get(k).and_then(|v| v.as_boolean()).unwrap_or(false);
        let incoming = chosen.incoming.server;
        let outgoing = chosen.outgoing.server;
        prop_assert_eq!(text("IncomingMailServerHostName"), Some(incoming.host.clone()));
        prop_assert_eq!(int("IncomingMailServerPortNumber"), Some(u64::from(incoming.port)));
        prop_assert_eq!(tls("IncomingMailServerUseSSL"), incoming.security.is_encrypted());
        prop_assert_eq!(text("IncomingMailServerUsername"), Some(incoming.username.clone()));
        prop_assert_eq!(
            text("IncomingMailAccountType").or(text("EmailAccountType")).map(|t| t.contains("POP")),
            Some(incoming.protocol == Protocol::Pop3)
        );
        prop_assert_eq!(text("OutgoingMailServerHostName"), Some(outgoing.host.clone()));
        prop_assert_eq!(int("OutgoingMailServerPortNumber"), Some(u64::from(outgoing.port)));
        prop_assert_eq!(tls("OutgoingMailServerUseSSL"), outgoing.security.is_encrypted());
        prop_assert_eq!(text("OutgoingMailServerUsername"), Some(outgoing.username.clone()));
    }

    #[test]
    fn addresses_print_and_reparse_to_themselves(
        input in prop_oneof![
            // Address-shaped: the interesting cases.
            (
                "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~.-]{1,20}",
                prop::collection::vec("[a-zA-Z0-9üßé中-]{1,12}", 1..4),
                "[a-zA-Z]{2,6}|xn--[a-z0-9]{2,10}",
            ).prop_map(|(l, labels, tld)| format!("{l}@{}.{tld}", labels.join("."))),
            ("\"[a-z @.]{1,10}\"", "[a-z]{1,8}\\.[a-z]{2,4}").prop_map(|(l, d)| format!("{l}@{d}")),
            // Anything at all.
            any::<String>(),
        ]
    ) {
        if let Ok(a) = EmailAddress::parse(&input) {
            let shown = a.to_string();
            let again = EmailAddress::parse(&shown);
            prop_assert!(again.is_ok(), "{:?} printed as {:?}, which fails: {:?}", input, shown, again);
            prop_assert_eq!(again.unwrap(), a.clone());
            let ascii = EmailAddress::parse(&a.ascii()).unwrap();
            prop_assert_eq!(ascii.domain(), a.domain());
        }
    }

    #[test]
    fn server_urls_print_and_reparse_to_themselves(
        host in host(),
        scheme in prop::sample::select(vec!["imaps", "imap", "pop3s", "pop3", "smtps", "smtp"]),
        port in prop::option::of(1u16..=65535),
        none in any::<bool>(),
    ) {
        let mut s = format!("{scheme}://{host}");
        if let Some(p) = port {
            s.push_str(&format!(":{p}"));
        }
        if none {
            s.push_str("?security=none");
        }
        let u: ServerUrl = s.parse().unwrap();
        prop_assert_eq!(u.to_string().parse::<ServerUrl>().unwrap(), u);
    }
}

// --- Markup never changes structure ---------------------------------------

/// The outline of an XML document: element names with their depth, in
/// order, and for plists the sequence of `<key>` texts (the structure a
/// reader sees), with all other text left out.
fn outline(xml: &[u8]) -> Vec<String> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut in_key = false;
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => {
                let name = e.name().into_inner().to_string();
                in_key = name == "key";
                out.push(format!("{depth}<{name}>"));
                depth += 1;
            }
            Ok(Event::Empty(e)) => {
                out.push(format!("{depth}<{}/>", e.name().into_inner()));
            }
            Ok(Event::End(_)) => {
                depth -= 1;
                in_key = false;
            }
            Ok(Event::Text(t)) if in_key => {
                out.push(format!("key={}", t.into_inner()));
            }
            Ok(Event::Eof) => break,
            Err(e) => panic!("not well-formed: {e}\n{}", String::from_utf8_lossy(xml)),
            _ => {}
        }
        buf.clear();
    }
    out
}

/// Settings whose hosts, user names and display name are `host`, `user`
/// and `name`, on fixed ports.
fn fixed(host: &str, user: &str, name: &str) -> Settings {
    let srv = |protocol, port, security| Server {
        protocol,
        host: host.to_string(),
        port,
        security,
        auth: vec![AuthMethod::Password],
        username: user.to_string(),
    };
    Settings {
        provider: Some(ProviderRef {
            id: "example.com".into(),
            name: name.to_string(),
        }),
        incoming: vec![
            srv(Protocol::Imap, 993, Security::Tls),
            srv(Protocol::Pop3, 995, Security::Tls),
        ],
        outgoing: vec![srv(Protocol::Smtp, 465, Security::Tls)],
        source: Source::Autoconfig,
        trust: Trust::Verified,
        notes: vec![],
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn markup_in_names_never_changes_the_structure(
        host in hostile_text(),
        user in hostile_text(),
        name in hostile_text(),
    ) {
        let e = email();
        // Plain names of the same lengths: a name's length may decide
        // whether an element is written at all (displayShortName).
        let same = |t: &str| "x".repeat(t.chars().count());
        let plain = fixed(&same(&host), &same(&user), &same(&name));
        let hostile = fixed(&host, &user, &name);
        for format in [Format::Autoconfig, Format::Autodiscover, Format::Mobileconfig] {
            let want = outline(&render(&e, &plain, format));
            let got = outline(&render(&e, &hostile, format));
            prop_assert_eq!(&got, &want, "{:?} with host {:?} user {:?} name {:?}", format, host, user, name);
        }
        // And the values survive as text: a reader gets back what was
        // written (control characters aside, which none of these hold).
        let xml = render(&e, &hostile, Format::Autoconfig);
        let config = mailsetup::autoconfig::parse(&xml).unwrap();
        let p = &config.providers[0];
        let hosts: BTreeMap<_, _> = p.incoming.iter().map(|s| (s.hostname.clone(), ())).collect();
        prop_assert!(hosts.contains_key(&Some(host.clone())) || hosts.contains_key(&Some(host.trim().to_string())),
            "{:?} not in {:?}", host, hosts);
    }
}
