//! `mailsetup profile`: every format checked against its grammar (Apple's
//! schema, the autoconfig RELAX NG, Outlook's POX shape), signed profiles
//! checked by `openssl cms -verify`, and the OAuth rules checked for every
//! provider of the built-in table. Only the last section, profiles from
//! settings discovered over the network, needs the test lab (addresses
//! 127.0.3.0/24); everything else runs with `--offline` or the library.

mod lab;
mod schema;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mailsetup::address::EmailAddress;
use mailsetup::autoconfig;
use mailsetup::lookup::lookup_builtin;
use mailsetup::output::mobileconfig::Options;
use mailsetup::profile::{self, Format, ProfileError, Rendered, Request};
use mailsetup::provider::{IosAccount, Provider, ProviderTable};
use mailsetup::settings::{
    AuthMethod, Protocol, ProviderRef, Security, Server, Settings, Source, Trust,
};
use mailsetup::sign::{SignError, Signer};
use plist::Value;
use rcgen::KeyPair;
use schema::{Schema, assert_no_secrets, parse, payload, relaxng};
use serde::Deserialize;

// --- helpers -----------------------------------------------------------------

use lab::{mailsetup, stderr, stdout};

fn email(s: &str) -> EmailAddress {
    s.parse().unwrap()
}

fn render_with(
    email: &EmailAddress,
    settings: &Settings,
    format: Format,
    exchange: bool,
) -> Result<Rendered, ProfileError> {
    profile::render(&Request {
        email,
        settings,
        format,
        exchange,
        signer: None,
        options: &Options::default(),
        dav: None,
        short_name: None,
    })
}

fn render(address: &str, format: Format, exchange: bool) -> Result<Rendered, ProfileError> {
    let e = email(address);
    let found = lookup_builtin(&e).expect("a built-in provider");
    render_with(&e, &found.settings, format, exchange)
}

/// The built-in providers that have servers to put in a profile. The others
/// (no IMAP at all, or only unencrypted servers known) are broken entries
/// whose notes say why; `server_less_providers_are_refused` covers them.
fn with_servers() -> impl Iterator<Item = &'static Provider> {
    ProviderTable::builtin()
        .providers()
        .iter()
        .filter(|p| !p.incoming.is_empty() && !p.outgoing.is_empty())
}

/// Whether the iPhone can log in to none of the provider's incoming servers
/// because each takes only OAuth2 (mit.edu: IMAP in Microsoft 365, SMTP with
/// a password).
fn incoming_oauth_only(p: &Provider) -> bool {
    p.incoming.iter().all(|s| {
        s.auth
            .iter()
            .all(|a| *a == mailsetup::settings::AuthMethod::Oauth2)
    })
}

/// An address at the provider's first domain.
fn address_of(p: &Provider) -> String {
    let domain = p.domains.first().expect("a provider with a domain");
    format!("test.user@{domain}")
}

fn assert_valid_profile(bytes: &[u8]) {
    let faults = Schema::load().check(bytes);
    assert!(
        faults.is_empty(),
        "{faults:#?}\n{}",
        String::from_utf8_lossy(bytes)
    );
    assert_no_secrets(bytes);
}

fn get<'a>(d: &'a plist::Dictionary, key: &str) -> &'a Value {
    d.get(key)
        .unwrap_or_else(|| panic!("the payload has no {key}"))
}

/// Asserts that the payload `d` holds each `(key, value)` of `want`.
fn assert_payload(d: &plist::Dictionary, want: &[(&str, Value)]) {
    for (key, value) in want {
        assert_eq!(get(d, key), value, "{key}");
    }
}

/// `mailsetup profile --offline ARGS`.
fn offline(args: &[&str]) -> Output {
    mailsetup(&[&["profile", "--offline"], args].concat())
}

/// [`offline`], which must succeed.
fn offline_ok(args: &[&str]) -> Output {
    let o = offline(args);
    assert!(o.status.success(), "{}", stderr(&o));
    o
}

// --- the issue's done-when -----------------------------------------------------

#[test]
fn posteo_profile_written_with_dash_o_satisfies_apples_schema() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alice.mobileconfig");
    let o = offline_ok(&["alice@posteo.de", "-o", file.to_str().unwrap()]);
    assert!(o.stdout.is_empty(), "-o writes nothing on stdout");
    let bytes = std::fs::read(&file).unwrap();
    assert_valid_profile(&bytes);
    let p = parse(&bytes);
    let mail = payload(&p);
    // Posteo's own help page: IMAP posteo.de:993 SSL, SMTP posteo.de:465 SSL.
    assert_payload(
        mail,
        &[
            ("PayloadType", "com.apple.mail.managed".into()),
            ("EmailAccountType", "EmailTypeIMAP".into()),
            ("EmailAddress", "alice@posteo.de".into()),
            ("IncomingMailServerHostName", "posteo.de".into()),
            ("IncomingMailServerPortNumber", 993u64.into()),
            ("IncomingMailServerUseSSL", true.into()),
            ("OutgoingMailServerPortNumber", 465u64.into()),
            ("OutgoingMailServerUseSSL", true.into()),
            ("IncomingMailServerUsername", "alice@posteo.de".into()),
        ],
    );
    assert_eq!(
        get(mail, "OutgoingPasswordSameAsIncomingPassword").as_boolean(),
        Some(true),
        "one password prompt for both servers"
    );
    assert_eq!(
        get(mail, "EmailAccountDescription").as_string(),
        Some("Posteo")
    );
}

#[test]
fn an_existing_output_file_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.mobileconfig");
    std::fs::write(
        &file,
        "old contents that are much longer than nothing at all",
    )
    .unwrap();
    offline_ok(&["a@posteo.de", "-o", file.to_str().unwrap()]);
    let bytes = std::fs::read(&file).unwrap();
    assert!(!String::from_utf8_lossy(&bytes).contains("old contents"));
    assert_valid_profile(&bytes);
}

// --- every provider of the table -----------------------------------------------

#[test]
fn every_builtin_provider_gets_a_valid_profile_or_a_reasoned_refusal() {
    let mut written = 0;
    for p in with_servers() {
        let address = address_of(p);
        match render(&address, Format::Mobileconfig, false) {
            Ok(r) => {
                written += 1;
                assert!(
                    !p.oauth_only(),
                    "{}: OAuth-only yet a password profile",
                    p.id
                );
                assert_valid_profile(&r.bytes);
                let parsed = parse(&r.bytes);
                let mail = payload(&parsed);
                for dir in ["Incoming", "Outgoing"] {
                    let port = get(mail, &format!("{dir}MailServerPortNumber"));
                    assert!(
                        port.as_unsigned_integer().is_some(),
                        "{}: {dir} port unset",
                        p.id
                    );
                }
                let best = &p.incoming[0].url;
                assert_eq!(
                    get(mail, "IncomingMailServerUseSSL").as_boolean(),
                    Some(best.security != Security::None),
                    "{}",
                    p.id
                );
            }
            Err(ProfileError::OauthOnly { .. }) => assert!(p.oauth_only(), "{}", p.id),
            Err(ProfileError::UseBuiltInAccount { account, .. }) => {
                assert_eq!(Some(account), p.ios, "{}", p.id);
                assert!(p.app_password_url.is_some(), "{}", p.id);
            }
            Err(ProfileError::NoIphoneServer(_)) => assert!(incoming_oauth_only(p), "{}", p.id),
            Err(e) => panic!("{}: unexpected refusal: {e}", p.id),
        }
    }
    assert!(written > 0, "no provider got a profile at all");
}

#[test]
fn server_less_providers_are_refused() {
    let server_less: Vec<_> = ProviderTable::builtin()
        .providers()
        .iter()
        .filter(|p| p.incoming.is_empty() || p.outgoing.is_empty())
        .collect();
    assert!(!server_less.is_empty());
    for p in server_less {
        let e = render(&address_of(p), Format::Mobileconfig, false).unwrap_err();
        assert!(e.is_refusal(), "{}: {e}", p.id);
        assert_eq!(e.code(), "no-iphone-server", "{}", p.id);
    }
}

#[test]
fn oauth_only_providers_never_get_a_password_profile() {
    let table = ProviderTable::builtin();
    let oauth: Vec<_> = table
        .providers()
        .iter()
        .filter(|p| p.oauth_only())
        .collect();
    assert!(!oauth.is_empty());
    for p in oauth {
        for d in &p.domains {
            let e = render(&format!("x@{d}"), Format::Mobileconfig, false).unwrap_err();
            assert_eq!(e.code(), "oauth-required", "{d}");
            assert!(e.is_refusal());
        }
        // Not even with the servers typed by hand.
        let e = email(&address_of(p));
        let base = lookup_builtin(&e).unwrap().settings;
        let imap = p.incoming[0].url.clone();
        let smtp = p.outgoing[0].url.clone();
        let s = profile::with_user_servers(&e, Some(base), Some(&imap), Some(&smtp)).unwrap();
        assert!(matches!(
            render_with(&e, &s, Format::Mobileconfig, false),
            Err(ProfileError::OauthOnly { .. })
        ));
    }
}

#[test]
fn microsoft_providers_get_a_valid_exchange_oauth_profile() {
    let mut seen = 0;
    for p in with_servers() {
        let microsoft = matches!(p.ios, Some(IosAccount::Outlook | IosAccount::Exchange));
        let r = render(&address_of(p), Format::Mobileconfig, true);
        if !microsoft {
            assert!(
                matches!(r, Err(ProfileError::ExchangeNotAvailable { .. })),
                "{}",
                p.id
            );
            continue;
        }
        seen += 1;
        let bytes = r.unwrap().bytes;
        assert_valid_profile(&bytes);
        let parsed = parse(&bytes);
        let eas = payload(&parsed);
        assert_payload(
            eas,
            &[
                ("PayloadType", "com.apple.eas.account".into()),
                ("OAuth", true.into()),
                ("Host", "outlook.office365.com".into()),
                ("EmailAddress", address_of(p).as_str().into()),
            ],
        );
    }
    assert!(seen > 0);
}

// --- msn.com in every format -------------------------------------------------------

#[test]
fn msn_mobileconfig_is_refused_with_the_iphone_path() {
    let o = offline(&["someone@msn.com"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty(), "nothing is written");
    let e = stderr(&o);
    assert!(
        e.contains("Settings › Apps › Mail › Mail Accounts › Add Account › Outlook.com"),
        "{e}"
    );
    assert!(
        e.contains("Settings › Mail › Accounts › Add Account › Outlook.com"),
        "{e}"
    );
    assert!(e.contains("--exchange"), "{e}");
    insta::assert_snapshot!("msn_mobileconfig_refused", e);

    let o = offline(&["--json", "someone@msn.com"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["code"], "oauth-required");
    assert_eq!(v["email"], "someone@msn.com");
}

#[test]
fn msn_exchange_profile() {
    let o = offline_ok(&["someone@msn.com", "--exchange"]);
    assert_valid_profile(&o.stdout);
    insta::assert_snapshot!("msn_exchange_mobileconfig", stdout(&o));
}

#[test]
fn msn_autoconfig() {
    let o = offline_ok(&["someone@msn.com", "--format", "autoconfig"]);
    relaxng(&stdout(&o)).unwrap();
    insta::assert_snapshot!("msn_autoconfig", stdout(&o));
}

#[test]
fn msn_autodiscover() {
    let o = offline_ok(&["someone@msn.com", "--format", "autodiscover"]);
    pox(&stdout(&o));
    insta::assert_snapshot!("msn_autodiscover", stdout(&o));
}

#[test]
fn msn_ios_steps() {
    let o = offline_ok(&["someone@msn.com", "--format", "ios-steps"]);
    let text = stdout(&o);
    assert!(
        !text.contains("INCOMING MAIL SERVER"),
        "no manual IMAP steps for OAuth only"
    );
    insta::assert_snapshot!("msn_ios_steps", text);
}

// --- Gmail ------------------------------------------------------------------------

#[test]
fn gmail_goes_to_the_google_account_type_unless_servers_are_given() {
    let o = offline(&["jane@gmail.com"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    let e = stderr(&o);
    assert!(e.contains("Add Account › Google"), "{e}");
    assert!(e.contains("app password"), "{e}");
    assert!(e.contains("--format ios-steps"), "{e}");

    // Servers typed by hand are the app-password route: that profile is
    // written, with password login (the iPhone has no OAuth for IMAP).
    let o = offline_ok(&[
        "jane@gmail.com",
        "--incoming",
        "imaps://imap.gmail.com",
        "--outgoing",
        "smtp://smtp.gmail.com",
    ]);
    assert_valid_profile(&o.stdout);
    let parsed = parse(&o.stdout);
    let mail = payload(&parsed);
    assert_payload(
        mail,
        &[
            (
                "IncomingMailServerAuthentication",
                "EmailAuthPassword".into(),
            ),
            ("OutgoingMailServerPortNumber", 587u64.into()),
        ],
    );
}

// --- security and escaping --------------------------------------------------------

#[test]
fn starttls_keeps_use_ssl_on_and_only_unencrypted_servers_turn_it_off() {
    let o = offline_ok(&[
        "alice@posteo.de",
        "--incoming",
        "imap://posteo.de",
        "--outgoing",
        "smtp://posteo.de",
    ]);
    assert_valid_profile(&o.stdout);
    let parsed = parse(&o.stdout);
    let mail = payload(&parsed);
    assert_payload(
        mail,
        &[
            ("IncomingMailServerPortNumber", 143u64.into()),
            ("IncomingMailServerUseSSL", true.into()),
            ("OutgoingMailServerPortNumber", 587u64.into()),
            ("OutgoingMailServerUseSSL", true.into()),
        ],
    );

    let o = offline_ok(&[
        "me@home.example",
        "--incoming",
        "pop3://mail.home.example?security=none",
        "--outgoing",
        "smtp://mail.home.example:25?security=none",
    ]);
    assert_valid_profile(&o.stdout);
    let parsed = parse(&o.stdout);
    let mail = payload(&parsed);
    assert_payload(
        mail,
        &[
            ("EmailAccountType", "EmailTypePOP".into()),
            ("IncomingMailServerUseSSL", false.into()),
            ("OutgoingMailServerUseSSL", false.into()),
        ],
    );
}

fn hostile_settings() -> (EmailAddress, Settings) {
    let e = email("o'brien+news@bücher.example");
    let srv = |protocol: Protocol, security| Server {
        protocol,
        host: "mail.xn--bcher-kva.example".into(),
        port: protocol.default_port(security),
        security,
        auth: vec![AuthMethod::Password],
        username: "o'brien&<co>".into(),
    };
    let settings = Settings {
        provider: Some(ProviderRef {
            id: "bücher & <söhne>".into(),
            name: "Bücher & <Söhne> \"Mail\" ]]> \u{7}".into(),
        }),
        incoming: vec![srv(Protocol::Imap, Security::Tls)],
        outgoing: vec![srv(Protocol::Smtp, Security::Starttls)],
        source: Source::Autoconfig,
        trust: Trust::Verified,
        notes: vec![],
    };
    (e, settings)
}

#[test]
fn names_with_markup_and_non_ascii_are_escaped_in_every_xml_format() {
    let (e, s) = hostile_settings();
    let clean_name = "Bücher & <Söhne> \"Mail\" ]]> ";

    let profile = render_with(&e, &s, Format::Mobileconfig, false)
        .unwrap()
        .bytes;
    assert_valid_profile(&profile);
    let raw = String::from_utf8(profile.clone()).unwrap();
    assert!(raw.contains("Bücher &amp; &lt;Söhne&gt;"), "{raw}");
    let parsed = parse(&profile);
    let mail = payload(&parsed);
    assert_payload(
        mail,
        &[
            ("EmailAccountDescription", clean_name.into()),
            ("IncomingMailServerUsername", "o'brien&<co>".into()),
            ("EmailAddress", "o'brien+news@xn--bcher-kva.example".into()),
        ],
    );
    let shown = get(&parsed, "PayloadDisplayName").as_string().unwrap();
    assert!(shown.contains("bücher.example"), "{shown}");

    let xml = String::from_utf8(
        render_with(&e, &s, Format::Autoconfig, false)
            .unwrap()
            .bytes,
    )
    .unwrap();
    relaxng(&xml).unwrap();
    let cfg = autoconfig::parse(xml.as_bytes()).unwrap();
    assert_eq!(cfg.providers[0].display_name.as_deref(), Some(clean_name));
    assert_eq!(cfg.providers[0].id, "bücher & <söhne>");

    let pox_xml = String::from_utf8(
        render_with(&e, &s, Format::Autodiscover, false)
            .unwrap()
            .bytes,
    )
    .unwrap();
    let parsed = pox(&pox_xml);
    assert_eq!(parsed[0].login_name.as_deref(), Some("o'brien&<co>"));
}

#[test]
fn profiles_are_identified_by_the_address_alone() {
    let a = offline(&["alice@posteo.de"]);
    let b = offline(&["ALICE@Posteo.DE"]);
    let c = offline(&["bob@posteo.de"]);
    let moved = offline(&[
        "alice@posteo.de",
        "--incoming",
        "imap://posteo.de",
        "--outgoing",
        "smtp://posteo.de",
    ]);
    let ids = |o: &Output| {
        let p = parse(&o.stdout);
        let inner = payload(&p);
        [
            get(&p, "PayloadUUID").as_string().unwrap().to_string(),
            get(&p, "PayloadIdentifier")
                .as_string()
                .unwrap()
                .to_string(),
            get(inner, "PayloadUUID").as_string().unwrap().to_string(),
            get(inner, "PayloadIdentifier")
                .as_string()
                .unwrap()
                .to_string(),
        ]
    };
    assert_eq!(ids(&a), ids(&b), "the same account in other case");
    assert_eq!(ids(&a), ids(&moved), "new servers replace the old profile");
    let (ia, ic) = (ids(&a), ids(&c));
    for i in 0..4 {
        assert_ne!(ia[i], ic[i], "another account shares an identifier");
    }
    let uuid = uuid::Uuid::parse_str(&ia[0]).unwrap();
    assert_eq!(uuid.get_version_num(), 5);
    assert_eq!(a.stdout, offline(&["alice@posteo.de"]).stdout);
}

// --- autoconfig and Autodiscover for the whole table -------------------------------

#[test]
fn autoconfig_for_every_builtin_provider_validates_and_round_trips() {
    for p in with_servers() {
        let e = email(&address_of(p));
        let settings = lookup_builtin(&e).unwrap().settings;
        let xml = String::from_utf8(
            render_with(&e, &settings, Format::Autoconfig, false)
                .unwrap()
                .bytes,
        )
        .unwrap();
        relaxng(&xml).unwrap_or_else(|err| panic!("{}: {err}\n{xml}", p.id));
        let cfg = autoconfig::parse(xml.as_bytes()).unwrap();
        let back = cfg.providers[0]
            .to_settings(&e, &cfg, Source::Autoconfig, Trust::Verified)
            .unwrap();
        assert_eq!(back.incoming, settings.incoming, "{}", p.id);
        assert_eq!(back.outgoing, settings.outgoing, "{}", p.id);
        if let Some(help) = p.help.as_deref() {
            assert!(
                back.notes
                    .iter()
                    .any(|n| n.code == "documentation" && n.url.as_deref() == Some(help)),
                "{}: the help page is missing",
                p.id
            );
        }
        for n in p.notes.iter().filter(|n| n.code.starts_with("enable-")) {
            assert!(
                back.notes
                    .iter()
                    .any(|b| b.code == "enable-imap" && b.text == n.text),
                "{}: {} did not become <enable>",
                p.id,
                n.code
            );
        }
    }
}

#[derive(Debug, Deserialize)]
struct PoxRoot {
    #[serde(rename = "@xmlns")]
    xmlns: String,
    #[serde(rename = "Response")]
    response: PoxResponse,
}

#[derive(Debug, Deserialize)]
struct PoxResponse {
    #[serde(rename = "@xmlns")]
    xmlns: String,
    #[serde(rename = "Account")]
    account: PoxAccount,
}

#[derive(Debug, Deserialize)]
struct PoxAccount {
    #[serde(rename = "AccountType")]
    account_type: String,
    #[serde(rename = "Action")]
    action: String,
    #[serde(rename = "Protocol")]
    protocols: Vec<PoxProtocol>,
}

#[derive(Debug, Deserialize)]
struct PoxProtocol {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "Server")]
    server: String,
    #[serde(rename = "Port")]
    port: u16,
    #[serde(rename = "LoginName")]
    login_name: Option<String>,
    #[serde(rename = "SPA")]
    spa: String,
    #[serde(rename = "SSL")]
    ssl: String,
    #[serde(rename = "Encryption")]
    encryption: String,
    #[serde(rename = "AuthRequired")]
    auth_required: String,
    #[serde(rename = "DomainRequired")]
    domain_required: String,
}

/// Parses an Autodiscover response and checks its fixed parts.
fn pox(xml: &str) -> Vec<PoxProtocol> {
    let root: PoxRoot = quick_xml::de::from_str(xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    assert_eq!(
        root.xmlns,
        "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
    );
    assert_eq!(
        root.response.xmlns,
        "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
    );
    assert_eq!(root.response.account.account_type, "email");
    assert_eq!(root.response.account.action, "settings");
    root.response.account.protocols
}

#[test]
fn autodiscover_for_every_builtin_provider_parses_back_to_its_servers() {
    for p in with_servers() {
        let e = email(&address_of(p));
        let settings = lookup_builtin(&e).unwrap().settings;
        let xml = String::from_utf8(
            render_with(&e, &settings, Format::Autodiscover, false)
                .unwrap()
                .bytes,
        )
        .unwrap();
        let protocols = pox(&xml);
        let servers: Vec<&Server> = settings.incoming.iter().chain(&settings.outgoing).collect();
        assert_eq!(protocols.len(), servers.len(), "{}", p.id);
        for (x, s) in protocols.iter().zip(servers) {
            let kind = match s.protocol {
                Protocol::Imap => "IMAP",
                Protocol::Pop3 => "POP3",
                Protocol::Smtp => "SMTP",
            };
            assert_eq!(
                (x.kind.as_str(), x.server.as_str(), x.port),
                (kind, s.host.as_str(), s.port)
            );
            let (ssl, enc) = match s.security {
                Security::Tls => ("on", "SSL"),
                Security::Starttls => ("on", "TLS"),
                Security::None => ("off", "None"),
            };
            assert_eq!(
                (x.ssl.as_str(), x.encryption.as_str()),
                (ssl, enc),
                "{}",
                p.id
            );
            assert_eq!(x.login_name.as_deref(), Some(s.username.as_str()));
            assert_eq!(x.spa, "off");
            assert_eq!(x.auth_required, "on");
            assert_eq!(x.domain_required, "off");
        }
    }
}

// --- iPhone steps --------------------------------------------------------------------

#[test]
fn ios_steps_name_every_field_and_put_built_in_account_types_first() {
    // Long lines are wrapped, so text is compared with runs of white space
    // made one space; the field rows are never wrapped.
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    for p in with_servers() {
        let raw = String::from_utf8(
            render(&address_of(p), Format::IosSteps, false)
                .unwrap()
                .bytes,
        )
        .unwrap();
        let text = norm(&raw);
        if let Some(account) = p.ios {
            let built_in = text
                .find(&format!("Add Account › {}", account.label()))
                .unwrap_or_else(|| panic!("{}: no {} steps\n{text}", p.id, account.label()));
            if let Some(by_hand) = text.find("Add Mail Account") {
                assert!(built_in < by_hand, "{}: by hand comes first", p.id);
            }
        }
        if p.oauth_only() || incoming_oauth_only(p) {
            assert!(
                !text.contains("Host Name"),
                "{}: manual steps for OAuth only",
                p.id
            );
            continue;
        }
        let imap = &p.incoming[0].url;
        let smtp = &p.outgoing[0].url;
        // The login the iPhone can do: a password, or MD5 challenge-response
        // where the provider asks for an encrypted password.
        let settings = lookup_builtin(&email(&address_of(p))).unwrap().settings;
        let chosen = mailsetup::output::iphone::servers(&settings).unwrap();
        for needle in [
            "Settings › Apps › Mail › Mail Accounts › Add Account › Other › Add Mail Account",
            "Settings › Mail › Accounts › Add Account › Other › Add Mail Account",
            "INCOMING MAIL SERVER",
            "OUTGOING MAIL SERVER",
            "Advanced",
            "Use SSL        on",
            &format!("Authentication {}", chosen.incoming.auth.label()),
            &format!("Authentication {}", chosen.outgoing.auth.label()),
            &format!("Host Name      {}", imap.host),
            &format!("Host Name      {}", smtp.host),
            &format!("Server Port    {}", imap.port),
            &format!("Server Port    {}", smtp.port),
            &format!("Email          {}", address_of(p)),
        ] {
            assert!(
                text.contains(&norm(needle)),
                "{}: missing {needle:?}\n{raw}",
                p.id
            );
        }
        for n in &p.notes {
            assert!(
                text.contains(&norm(&n.text)),
                "{}: note {} missing",
                p.id,
                n.code
            );
        }
    }
}

// --- signing ------------------------------------------------------------------------

/// The lab's throwaway CA as a root, an intermediate under it, and signing
/// certificates for given keys.
struct Pki {
    ca: lab::TestCa,
    root_file: PathBuf,
    intermediate: lab::Intermediate,
}

impl Pki {
    fn new() -> Pki {
        let ca = lab::TestCa::new();
        Pki {
            root_file: ca.ca_file(),
            intermediate: ca.intermediate("mailsetup test intermediate"),
            ca,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.ca.dir().join(name)
    }

    /// A signing certificate for the PKCS #8 key `key_pem`, followed by the
    /// intermediate, written to `name`.
    fn leaf(&self, key_pem: &str, name: &str) -> PathBuf {
        let file = self.path(name);
        let chain = self
            .intermediate
            .issue_for_key(key_pem, "mailsetup profile signer");
        std::fs::write(&file, chain).unwrap();
        file
    }

    /// A key made by openssl (`genpkey` arguments), in PKCS #8 and, when
    /// `traditional`, rewritten as SEC1 or PKCS #1.
    fn openssl_key(&self, name: &str, genpkey: &[&str], traditional: bool) -> (String, PathBuf) {
        let pkcs8 = self.path(&format!("{name}.p8.pem"));
        openssl(&[&["genpkey", "-out", pkcs8.to_str().unwrap()], genpkey].concat());
        let pem = std::fs::read_to_string(&pkcs8).unwrap();
        if !traditional {
            return (pem, pkcs8);
        }
        let trad = self.path(&format!("{name}.trad.pem"));
        openssl(&[
            "pkey",
            "-in",
            pkcs8.to_str().unwrap(),
            "-traditional",
            "-out",
            trad.to_str().unwrap(),
        ]);
        (pem, trad)
    }
}

fn openssl(args: &[&str]) -> Output {
    let o = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl is installed (scripts/install-deps.sh)");
    assert!(o.status.success(), "openssl {args:?}: {}", stderr(&o));
    o
}

/// `openssl cms -verify` of DER `signed` against `ca`; the content on
/// success, openssl's complaint otherwise.
fn cms_verify(signed: &[u8], ca: &Path) -> Result<Vec<u8>, String> {
    let dir = tempfile::tempdir().unwrap();
    let (input, content) = (dir.path().join("p.der"), dir.path().join("content"));
    std::fs::write(&input, signed).unwrap();
    let o = Command::new("openssl")
        .args(["cms", "-verify", "-inform", "DER", "-in"])
        .arg(&input)
        .arg("-CAfile")
        .arg(ca)
        .arg("-out")
        .arg(&content)
        .output()
        .expect("openssl is installed");
    if o.status.success() {
        Ok(std::fs::read(&content).unwrap())
    } else {
        Err(stderr(&o))
    }
}

fn unsigned_posteo() -> Vec<u8> {
    render("alice@posteo.de", Format::Mobileconfig, false)
        .unwrap()
        .bytes
}

fn sign_posteo(cert: &Path, key: &Path) -> Vec<u8> {
    let signer = Signer::load(cert, key).unwrap();
    let e = email("alice@posteo.de");
    let settings = lookup_builtin(&e).unwrap().settings;
    let r = profile::render(&Request {
        email: &e,
        settings: &settings,
        format: Format::Mobileconfig,
        exchange: false,
        signer: Some(&signer),
        options: &Options::default(),
        dav: None,
        short_name: None,
    })
    .unwrap();
    assert!(r.signed);
    r.bytes
}

#[test]
fn signed_profiles_verify_with_openssl_and_carry_the_unsigned_profile_byte_for_byte() {
    let pki = Pki::new();
    let key = KeyPair::generate().unwrap(); // ECDSA P-256, PKCS #8
    let key_file = pki.path("signer.key");
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    let cert = pki.leaf(&key.serialize_pem(), "signer.pem");

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("signed.mobileconfig");
    offline_ok(&[
        "alice@posteo.de",
        "--sign-cert",
        cert.to_str().unwrap(),
        "--sign-key",
        key_file.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    let signed = std::fs::read(&out).unwrap();
    // Only the root is trusted: the intermediate must travel in the profile.
    let content = cms_verify(&signed, &pki.root_file).unwrap();
    let unsigned = offline(&["alice@posteo.de"]).stdout;
    assert_eq!(
        content, unsigned,
        "the signed content is the unsigned profile"
    );
    assert_valid_profile(&content);
    // The same key and profile give the same signature (no time stamp).
    assert_eq!(sign_posteo(&cert, &key_file), signed);
}

#[test]
fn rsa_and_traditional_pem_keys_sign_too() {
    let pki = Pki::new();
    let cases: [(&str, &[&str], bool); 3] = [
        (
            "rsa-pkcs8",
            &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            false,
        ),
        (
            "rsa-pkcs1",
            &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            true,
        ),
        (
            "ec-sec1",
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            true,
        ),
    ];
    for (name, genpkey, traditional) in cases {
        let (pkcs8, key_file) = pki.openssl_key(name, genpkey, traditional);
        let label = std::fs::read_to_string(&key_file).unwrap();
        if traditional {
            assert!(label.contains(if name.starts_with("rsa") {
                "RSA PRIVATE KEY"
            } else {
                "EC PRIVATE KEY"
            }));
        }
        let cert = pki.leaf(&pkcs8, &format!("{name}.pem"));
        let signed = sign_posteo(&cert, &key_file);
        let content = cms_verify(&signed, &pki.root_file).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(content, unsigned_posteo(), "{name}");
    }
}

#[test]
fn tampered_or_foreign_signatures_fail_verification() {
    let pki = Pki::new();
    let key = KeyPair::generate().unwrap();
    let key_file = pki.path("k.pem");
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    let cert = pki.leaf(&key.serialize_pem(), "c.pem");
    let signed = sign_posteo(&cert, &key_file);
    cms_verify(&signed, &pki.root_file).unwrap();
    // Another root does not vouch for it.
    let other = Pki::new();
    assert!(cms_verify(&signed, &other.root_file).is_err());
    // A changed byte of the profile breaks the signature.
    let at = signed
        .windows(9)
        .position(|w| w == b"posteo.de")
        .expect("the profile is embedded");
    let mut tampered = signed.clone();
    tampered[at] = b'P';
    assert!(cms_verify(&tampered, &pki.root_file).is_err());
}

#[test]
fn signing_problems_name_the_file_and_what_is_wrong() {
    let pki = Pki::new();
    let key = KeyPair::generate().unwrap();
    let key_file = pki.path("right.key");
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    let cert = pki.leaf(&key.serialize_pem(), "cert.pem");
    let other = KeyPair::generate().unwrap();
    let other_file = pki.path("other.key");
    std::fs::write(&other_file, other.serialize_pem()).unwrap();
    let garbage = pki.path("garbage.pem");
    std::fs::write(&garbage, b"\x00\x01 this is not PEM").unwrap();
    let (_, ed25519) = pki.openssl_key("ed", &["-algorithm", "ed25519"], false);
    let (_, p384) = pki.openssl_key(
        "p384",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
        false,
    );
    let (_, rsa1024) = pki.openssl_key(
        "rsa1024",
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
        false,
    );
    let missing = pki.path("missing.pem");

    let err = |c: &Path, k: &Path| Signer::load(c, k).unwrap_err();
    let e = err(&cert, &other_file);
    assert!(matches!(e, SignError::KeyMismatch { .. }), "{e}");
    assert!(
        e.to_string().contains("other.key") && e.to_string().contains("cert.pem"),
        "{e}"
    );
    let e = err(&garbage, &key_file);
    assert!(
        matches!(e, SignError::NoCertificate { .. }) && e.to_string().contains("garbage.pem"),
        "{e}"
    );
    let e = err(&cert, &garbage);
    assert!(
        matches!(e, SignError::NoKey { .. }) && e.to_string().contains("garbage.pem"),
        "{e}"
    );
    let e = err(&cert, &ed25519);
    assert!(e.to_string().contains("an Ed25519 key"), "{e}");
    let e = err(&cert, &p384);
    assert!(e.to_string().contains("P-384"), "{e}");
    let e = err(&cert, &rsa1024);
    assert!(e.to_string().contains("1024 bits"), "{e}");
    let e = err(&missing, &key_file);
    assert!(
        matches!(e, SignError::Read { .. }) && e.to_string().contains("missing.pem"),
        "{e}"
    );
    let e = err(&key_file, &key_file);
    assert!(
        matches!(e, SignError::NoCertificate { .. }),
        "a key is not a certificate: {e}"
    );

    // Through the command: exit 2, one line, both files named.
    let o = offline(&[
        "a@posteo.de",
        "--sign-cert",
        cert.to_str().unwrap(),
        "--sign-key",
        other_file.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    let msg = stderr(&o);
    assert_eq!(msg.lines().count(), 1, "{msg}");
    assert!(msg.contains("does not belong"), "{msg}");
}

#[test]
fn a_signed_profile_goes_to_a_pipe_as_der_and_never_into_json() {
    let pki = Pki::new();
    let key = KeyPair::generate().unwrap();
    let key_file = pki.path("k.pem");
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    let cert = pki.leaf(&key.serialize_pem(), "c.pem");
    let args = [
        "profile",
        "--offline",
        "alice@posteo.de",
        "--sign-cert",
        cert.to_str().unwrap(),
        "--sign-key",
        key_file.to_str().unwrap(),
    ];
    let o = mailsetup(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout[0], 0x30, "DER SEQUENCE");
    cms_verify(&o.stdout, &pki.root_file).unwrap();
    let o = mailsetup(&[&args[..], &["--json"]].concat());
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("-o FILE"));
}

// --- calendar and contacts (CalDAV, CardDAV) ---------------------------------------

const CALDAV: &str = "https://dav.posteo.de/cal/%EMAILADDRESS%/";
const CARDDAV: &str = "https://dav.posteo.de:8443/%EMAILDOMAIN%/%EMAILLOCALPART%/card/";
const CALDAV_ALICE: &str = "https://dav.posteo.de/cal/alice@posteo.de/";
const CARDDAV_ALICE: &str = "https://dav.posteo.de:8443/posteo.de/alice/card/";

/// `mailsetup profile` for Alice (with a `+tag`) with both DAV URLs.
fn alice_with_dav(format: &str, more: &[&str]) -> Output {
    let mut args = vec![
        "profile",
        "--offline",
        "alice+cal@posteo.de",
        "--format",
        format,
        "--caldav",
        CALDAV,
        "--carddav",
        CARDDAV,
    ];
    args.extend_from_slice(more);
    mailsetup(&args)
}

fn assert_expanded(text: &str) {
    assert!(text.contains(CALDAV_ALICE), "{text}");
    assert!(text.contains(CARDDAV_ALICE), "{text}");
    assert!(!text.contains("%EMAIL"), "a placeholder is left:\n{text}");
}

#[test]
fn dav_accounts_in_the_profile_follow_apples_schema_without_passwords() {
    let o = alice_with_dav("mobileconfig", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_valid_profile(&o.stdout);
    assert_expanded(&stdout(&o));
    let p = parse(&o.stdout);
    let content = get(&p, "PayloadContent").as_array().unwrap();
    let kinds: Vec<&str> = content
        .iter()
        .map(|d| {
            d.as_dictionary().unwrap()["PayloadType"]
                .as_string()
                .unwrap()
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "com.apple.mail.managed",
            "com.apple.caldav.account",
            "com.apple.carddav.account"
        ]
    );
    let cal = content[1].as_dictionary().unwrap();
    let card = content[2].as_dictionary().unwrap();
    let mail = content[0].as_dictionary().unwrap();
    // Host and port taken apart from the URL, which stays whole as the
    // principal URL; the user name is the mail account's.
    assert_payload(
        cal,
        &[
            ("CalDAVHostName", "dav.posteo.de".into()),
            ("CalDAVPort", 443u64.into()),
            ("CalDAVUseSSL", true.into()),
            ("CalDAVPrincipalURL", CALDAV_ALICE.into()),
        ],
    );
    assert_payload(
        card,
        &[
            ("CardDAVPort", 8443u64.into()),
            ("CardDAVPrincipalURL", CARDDAV_ALICE.into()),
        ],
    );
    let login = get(mail, "IncomingMailServerUsername").as_string();
    assert_eq!(login, Some("alice@posteo.de"));
    assert_eq!(get(cal, "CalDAVUsername").as_string(), login);
    assert_eq!(get(card, "CardDAVUsername").as_string(), login);
    for d in [cal, card] {
        assert!(!d.keys().any(|k| k.contains("Password")), "{d:?}");
    }
    let top = get(&p, "PayloadDescription").as_string().unwrap();
    assert!(top.contains("with its calendars and contacts"), "{top}");
}

#[test]
fn dav_payload_uuids_are_stable_per_address_and_distinct() {
    let a = alice_with_dav("mobileconfig", &[]);
    let b = alice_with_dav("mobileconfig", &[]);
    assert_eq!(a.stdout, b.stdout, "the same profile twice");
    let p = parse(&a.stdout);
    let mut uuids: Vec<&str> = get(&p, "PayloadContent")
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            d.as_dictionary().unwrap()["PayloadUUID"]
                .as_string()
                .unwrap()
        })
        .collect();
    uuids.push(get(&p, "PayloadUUID").as_string().unwrap());
    let mut unique = uuids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 4, "{uuids:?}");
    // Without DAV the mail payload keeps its UUID: adding a calendar does not
    // turn the installed mail account into a second one.
    let plain = offline(&["alice+cal@posteo.de"]);
    assert_eq!(
        payload(&parse(&plain.stdout))["PayloadUUID"].as_string(),
        Some(uuids[0])
    );
}

#[test]
fn dav_servers_in_autoconfig_pass_the_grammar_and_read_back() {
    let o = alice_with_dav("autoconfig", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let xml = stdout(&o);
    relaxng(&xml).unwrap();
    assert_expanded(&xml);
    assert!(xml.contains(r#"<calendar type="caldav">"#), "{xml}");
    assert!(xml.contains(r#"<addressbook type="carddav">"#), "{xml}");
    // The mail part still reads back as before.
    let cfg = autoconfig::parse(xml.as_bytes()).unwrap();
    assert_eq!(cfg.providers.len(), 1);
    // Only one CalDAV URL given: only the calendar section.
    let o = offline(&[
        "alice@posteo.de",
        "--format",
        "autoconfig",
        "--caldav",
        CALDAV,
    ]);
    let xml = stdout(&o);
    relaxng(&xml).unwrap();
    assert!(xml.contains("<calendar"), "{xml}");
    assert!(!xml.contains("<addressbook"), "{xml}");
}

#[test]
fn dav_servers_in_autodiscover_are_protocols_with_expanded_urls() {
    let o = alice_with_dav("autodiscover", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let xml = stdout(&o);
    assert_expanded(&xml);
    let protocols = pox(&xml);
    let dav: Vec<(&str, &str, u16, &str)> = protocols
        .iter()
        .filter(|p| p.kind.ends_with("DAV"))
        .map(|p| (p.kind.as_str(), p.server.as_str(), p.port, p.ssl.as_str()))
        .collect();
    assert_eq!(
        dav,
        [
            ("CalDAV", CALDAV_ALICE, 443, "on"),
            ("CardDAV", CARDDAV_ALICE, 8443, "on")
        ]
    );
    let mail = protocols
        .iter()
        .filter(|p| !p.kind.ends_with("DAV"))
        .count();
    assert!(mail >= 2, "the mail servers come first and stay");
    assert!(protocols[..mail].iter().all(|p| !p.kind.ends_with("DAV")));
}

#[test]
fn dav_accounts_in_the_iphone_steps() {
    let o = alice_with_dav("ios-steps", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert_expanded(&text);
    // Long steps are wrapped: compare words.
    let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for path in [
        "Settings › Apps › Calendar › Calendar Accounts › Add Account › Other › Add CalDAV Account",
        "Settings › Apps › Contacts › Contacts Accounts › Add Account › Other › Add CardDAV Account",
    ] {
        assert!(words.contains(path), "{path}\n{text}");
    }
    assert!(text.contains("User Name      alice@posteo.de"), "{text}");
}

#[test]
fn dav_with_an_exchange_profile_is_valid_too() {
    let o = offline_ok(&[
        "someone@msn.com",
        "--exchange",
        "--caldav",
        "https://dav.example.org/%EMAILADDRESS%/",
    ]);
    assert_valid_profile(&o.stdout);
    assert!(stdout(&o).contains("https://dav.example.org/someone@msn.com/"));
}

#[test]
fn dav_placeholders_cannot_move_the_url_for_odd_local_parts() {
    let o = offline_ok(&[
        "a/b?c#d@example.org",
        "--incoming",
        "imaps://imap.example.org",
        "--outgoing",
        "smtps://smtp.example.org",
        "--format",
        "autoconfig",
        "--caldav",
        "https://dav.example.org/%EMAILLOCALPART%/cal/",
    ]);
    let xml = stdout(&o);
    relaxng(&xml).unwrap();
    assert!(
        xml.contains("<url>https://dav.example.org/a%2Fb%3Fc%23d/cal/</url>"),
        "{xml}"
    );
}

#[test]
fn dav_urls_that_would_expose_passwords_are_refused() {
    for (url, needle) in [
        ("http://dav.posteo.de/", "is not an https:// URL"),
        (
            "https://alice:hunter2@dav.posteo.de/",
            "user name or password",
        ),
        ("dav.posteo.de", "is not a URL"),
    ] {
        let o = offline(&["alice@posteo.de", "--caldav", url]);
        assert_eq!(o.status.code(), Some(2), "{url}");
        assert!(o.stdout.is_empty(), "{url}");
        let e = stderr(&o);
        assert!(e.contains(needle), "{url}: {e}");
        assert!(!e.contains("hunter2"), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }
}

#[test]
fn refusals_name_no_flag_but_the_command_line_adds_them() {
    let refusals = [
        render("someone@msn.com", Format::Mobileconfig, false).unwrap_err(),
        render("jane@gmail.com", Format::Mobileconfig, false).unwrap_err(),
        render("alice@posteo.de", Format::Mobileconfig, true).unwrap_err(),
        render("someone@msn.com", Format::Autoconfig, true).unwrap_err(),
    ];
    for e in &refusals {
        let web = e.to_string();
        assert!(!web.contains("--"), "{}: {web}", e.code());
        let cli = e.for_cli();
        assert!(cli.starts_with(&web), "{cli}");
        assert!(cli.contains("--"), "{}: {cli}", e.code());
    }
    assert!(
        refusals[0]
            .for_cli()
            .ends_with("Add --exchange to write one.")
    );
    assert!(refusals[1].for_cli().contains("--format ios-steps"));
    assert!(refusals[2].for_cli().ends_with(": leave --exchange out."));
}

// --- the command's other answers -----------------------------------------------------

#[test]
fn usage_mistakes_exit_2_with_one_line() {
    for args in [
        &["profile", "--offline", "a@posteo.de", "--format", "pdf"][..],
        &[
            "profile",
            "--offline",
            "a@posteo.de",
            "--format",
            "autoconfig",
            "--exchange",
        ],
        &[
            "profile",
            "--offline",
            "someone@msn.com",
            "--format",
            "ios-steps",
            "--exchange",
        ],
        &["profile", "--offline", "a@posteo.de", "--exchange"],
        &[
            "profile",
            "--offline",
            "a@posteo.de",
            "--incoming",
            "smtps://posteo.de",
            "--outgoing",
            "smtps://posteo.de",
        ],
        &[
            "profile",
            "--offline",
            "a@posteo.de",
            "--incoming",
            "http://posteo.de",
        ],
        &["profile", "--offline", "not-an-address"],
    ] {
        let o = mailsetup(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "{args:?}");
        let e = stderr(&o);
        // One line says what is wrong; clap may add the values a flag takes
        // and where help is.
        let said: Vec<&str> = e
            .lines()
            .map(str::trim)
            .filter(|l| {
                !l.is_empty()
                    && !l.starts_with("[possible values:")
                    && !l.starts_with("For more information")
            })
            .collect();
        assert_eq!(said.len(), 1, "{args:?}: {e}");
        assert!(!e.contains("panicked"), "{e}");
    }
}

#[test]
fn an_unknown_domain_offline_exits_1_and_says_how_to_give_servers() {
    let o = offline(&["me@unknown-company.test"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert!(
        stderr(&o).contains("--incoming URL --outgoing URL"),
        "{}",
        stderr(&o)
    );
    // With both servers given it needs no lookup at all.
    let o = offline_ok(&[
        "me@unknown-company.test",
        "--incoming",
        "imaps://mail.unknown-company.test",
        "--outgoing",
        "smtps://mail.unknown-company.test",
    ]);
    assert_valid_profile(&o.stdout);
    let parsed = parse(&o.stdout);
    assert_eq!(
        get(payload(&parsed), "EmailAccountDescription").as_string(),
        Some("unknown-company.test")
    );
}

#[test]
fn json_carries_text_formats_and_names_written_files() {
    let o = offline_ok(&["--json", "a@posteo.de", "--format", "autoconfig"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["format"], "autoconfig");
    relaxng(v["content"].as_str().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.mobileconfig");
    let o = offline_ok(&["--json", "a@posteo.de", "-o", file.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["file"], file.to_str().unwrap());
    assert_eq!(v["bytes"], std::fs::metadata(&file).unwrap().len());
}

#[test]
fn discovered_oauth_only_servers_of_an_unknown_provider_are_refused_too() {
    // Settings as a domain's own autoconfig file might give them: no entry
    // in the built-in table, so the servers' own auth methods decide.
    let e = email("me@oauth-only.test");
    let srv = |protocol: Protocol, auth: Vec<AuthMethod>| Server {
        protocol,
        host: "mail.oauth-only.test".into(),
        port: protocol.default_port(Security::Tls),
        security: Security::Tls,
        auth,
        username: "me@oauth-only.test".into(),
    };
    let mut s = Settings {
        provider: None,
        incoming: vec![srv(Protocol::Imap, vec![AuthMethod::Oauth2])],
        outgoing: vec![srv(Protocol::Smtp, vec![AuthMethod::Oauth2])],
        source: Source::Autoconfig,
        trust: Trust::Verified,
        notes: vec![],
    };
    let err = render_with(&e, &s, Format::Mobileconfig, false).unwrap_err();
    assert!(
        matches!(err, ProfileError::OauthOnly { account: None, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("provider's own app"), "{err}");
    assert!(err.is_refusal());

    // Passwords for sending but not for reading: still no usable account.
    s.outgoing = vec![srv(Protocol::Smtp, vec![AuthMethod::Password])];
    let err = render_with(&e, &s, Format::Mobileconfig, false).unwrap_err();
    assert!(matches!(err, ProfileError::NoIphoneServer(_)), "{err}");
    assert_eq!(err.code(), "no-iphone-server");
    assert!(err.to_string().contains("offer only OAuth2"), "{err}");

    // Kerberos only is no better: the iPhone's Mail app cannot do it.
    s.incoming = vec![srv(Protocol::Imap, vec![AuthMethod::Gssapi])];
    assert!(matches!(
        render_with(&e, &s, Format::Mobileconfig, false),
        Err(ProfileError::NoIphoneServer(_))
    ));
}

#[test]
fn a_signed_profile_is_not_written_to_a_terminal() {
    // `script` (Debian: bsdutils, an essential package) gives the command a
    // terminal as stdout.
    let pki = Pki::new();
    let key = KeyPair::generate().unwrap();
    let key_file = pki.path("k.pem");
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    let cert = pki.leaf(&key.serialize_pem(), "c.pem");
    let command = format!(
        "{} profile --offline alice@posteo.de --sign-cert {} --sign-key {}",
        env!("CARGO_BIN_EXE_mailsetup"),
        cert.display(),
        key_file.display()
    );
    let o = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .output()
        .expect("script is installed (bsdutils)");
    let seen = stdout(&o);
    assert_eq!(o.status.code(), Some(2), "{seen}");
    assert!(seen.contains("write it to a file with -o FILE"), "{seen}");
    assert!(
        !seen.contains("posteo.de</string>"),
        "the profile reached the terminal"
    );
}

// --- profiles from discovered settings (test lab) -----------------------------------

mod discovered {
    use super::*;
    use lab::autoconfig::Autoconfig;
    use lab::dns::Record;
    use lab::https::{Reply, Route, Web};
    use lab::scenario::Scenario;

    /// The `n`th address of this file's block (127.0.3.0/24, `b` a group
    /// of ten per test).
    fn ip(b: u8, n: u8) -> String {
        lab::ip(3, b * 10 + n)
    }

    /// An autoconfig file with STARTTLS servers and two user names.
    fn config(domain: &str) -> String {
        Autoconfig::new(domain)
            .display_name("Shop &amp; Co Mail")
            .imap(&format!("imap.{domain}"), 143, "STARTTLS")
            .incoming_username("%EMAILLOCALPART%")
            .smtp(&format!("smtp.{domain}"), 587, "STARTTLS")
            .xml()
    }

    lab_test! {
        fn a_profile_from_the_domains_own_https_autoconfig_file() {
            let lab = Scenario::new(&ip(1, 0))
                .https(
                    1,
                    &["autoconfig.shop.test"],
                    vec![Route::get(
                        "autoconfig.shop.test",
                        "/mail/config-v1.1.xml",
                        Reply::xml(config("shop.test")),
                    )],
                )
                .start();
            let o = lab.profile(&["jo@shop.test"]);
            assert!(o.status.success(), "{}", stderr(&o));
            assert!(
                o.stderr.is_empty(),
                "verified settings need no warning: {}",
                stderr(&o)
            );
            assert_valid_profile(&o.stdout);
            let parsed = parse(&o.stdout);
            let mail = payload(&parsed);
            assert_payload(
                mail,
                &[
                    ("EmailAccountDescription", "Shop & Co Mail".into()),
                    ("IncomingMailServerHostName", "imap.shop.test".into()),
                    ("IncomingMailServerUsername", "jo".into()),
                    ("IncomingMailServerUseSSL", true.into()),
                    ("OutgoingMailServerUsername", "jo@shop.test".into()),
                ],
            );
            assert_eq!(
                get(mail, "OutgoingPasswordSameAsIncomingPassword").as_boolean(),
                Some(false),
                "different user names, so two prompts"
            );
        }
    }

    lab_test! {
        fn a_profile_from_a_plain_http_config_comes_with_a_warning() {
            let b = 2;
            let lab = Scenario::new(&ip(b, 0))
                .record(Record::a("autoconfig.plain.test", &ip(b, 1)))
                .start();
            let _web = Web::start(
                &ip(b, 1),
                80,
                None,
                vec![Route::get(
                    "autoconfig.plain.test",
                    "/mail/config-v1.1.xml",
                    Reply::xml(config("plain.test")),
                )],
            );
            let o = lab.profile(&["jo@plain.test", "--format", "ios-steps"]);
            assert!(o.status.success(), "{}", stderr(&o));
            assert!(stderr(&o).contains("unverified source"), "{}", stderr(&o));
            assert!(stdout(&o).contains("unverified source"), "{}", stdout(&o));
        }
    }

    lab_test! {
        fn a_custom_domain_at_microsoft_365_is_known_by_its_mx_and_gets_no_password_profile() {
            let lab = Scenario::new(&ip(3, 0))
                .record(Record::mx(
                    "contoso.test",
                    "contoso-test.mail.protection.outlook.com",
                    0,
                ))
                .start();
            let o = lab.profile(&["alex@contoso.test"]);
            assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
            assert!(o.stdout.is_empty());
            let e = stderr(&o);
            assert!(e.contains("Add Account › Microsoft Exchange"), "{e}");
            assert!(e.contains("--exchange"), "{e}");

            let o = lab.profile(&["alex@contoso.test", "--exchange"]);
            assert!(o.status.success(), "{}", stderr(&o));
            assert_valid_profile(&o.stdout);
            let parsed = parse(&o.stdout);
            let eas = payload(&parsed);
            assert_payload(
                eas,
                &[
                    ("OAuth", true.into()),
                    ("EmailAddress", "alex@contoso.test".into()),
                ],
            );
        }
    }
}
