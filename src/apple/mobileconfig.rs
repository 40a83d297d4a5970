//! Apple configuration profiles (`.mobileconfig`) that add a mail account
//! to an iPhone in one tap.
//!
//! Two payloads are written, each checked by the tests against Apple's own
//! schema (apple/device-management, `mdm/profiles/`):
//! - `com.apple.mail.managed`: an IMAP or POP3 account with its SMTP server;
//! - `com.apple.eas.account`: an Exchange ActiveSync account that signs in
//!   with OAuth (for Microsoft accounts, whose IMAP no longer takes
//!   passwords);
//! - `com.apple.caldav.account` and `com.apple.carddav.account`: the
//!   calendar and contacts servers that go with the mail account, when the
//!   operator (or `--caldav`, `--carddav`) names them.
//!
//! No password is ever written: the iPhone asks for it while installing.
//! Identifiers are derived from the address alone (UUID v5), so installing a
//! newer profile for the same address replaces the old account instead of
//! adding a second one. The XML is written by the `plist` crate, which
//! escapes text; text passes through [`crate::xml_text::clean`] first.
//!
//! Which servers and which login method the account gets is decided by
//! [`super::iphone::servers`]; whether a password account may be written at
//! all is decided by [`crate::profile`].

use serde::Serialize;
use uuid::Uuid;

use super::iphone::{IosServer, IosServers};
use crate::address::EmailAddress;
use crate::dav::{Dav, DavAccount, DavKind, DavServer};
use crate::settings::{Protocol, Security};
use crate::xml_text::clean;

/// The media type iOS and macOS open as a configuration profile.
pub const CONTENT_TYPE: &str = "application/x-apple-aspen-config";

/// The namespace of this program's profile UUIDs (a fixed random UUID).
/// Changing it would make every reinstalled profile a second account.
const NAMESPACE: Uuid = Uuid::from_u128(0x0b04_20d9_4126_483f_99d1_5699_cf87_b7dd);

/// `TargetDeviceType` 1: iPhone and iPad. Naming the target spares the user
/// the "choose a device" question when a Watch is paired (iOS 12.2+).
const TARGET_IPHONE: u8 = 1;

/// Choices that are not part of the account itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The reverse-DNS prefix of `PayloadIdentifier` (an operator's own
    /// domain, reversed, when served; `mailsetup.profile` otherwise).
    pub identifier_prefix: String,
    /// `PayloadOrganization`: who hands out the profile.
    pub organization: Option<String>,
    /// `EmailAccountName`: the sender name in sent mail. When absent the
    /// user sets it in Settings.
    pub account_name: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            identifier_prefix: "mailsetup.profile".to_string(),
            organization: None,
            account_name: None,
        }
    }
}

/// The identifiers of one account's profile, derived from its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    key: String,
    /// The profile's `PayloadUUID`.
    pub uuid: Uuid,
    /// The profile's `PayloadIdentifier`.
    pub identifier: String,
}

impl Identity {
    /// The identity of `email`'s profile. Case is ignored, so `Alice@X` and
    /// `alice@x` get the same profile (mail providers ignore it too).
    pub fn for_address(email: &EmailAddress, prefix: &str) -> Identity {
        let key = email.ascii().to_lowercase();
        let uuid = Uuid::new_v5(&NAMESPACE, key.as_bytes());
        let identifier = format!("{}.{}", clean(prefix), uuid.hyphenated());
        Identity {
            key,
            uuid,
            identifier,
        }
    }

    /// The `PayloadUUID` of the payload of type `payload_type`.
    pub fn payload_uuid(&self, payload_type: &str) -> Uuid {
        Uuid::new_v5(
            &NAMESPACE,
            format!("{}#{payload_type}", self.key).as_bytes(),
        )
    }
}

/// An IMAP or POP3 account for the `com.apple.mail.managed` payload.
#[derive(Debug, Clone, Copy)]
pub struct MailAccount<'a> {
    /// The address.
    pub email: &'a EmailAddress,
    /// What the account is called in Mail (the provider's name).
    pub description: &'a str,
    /// The servers, chosen by [`super::iphone::servers`].
    pub servers: IosServers<'a>,
    /// Calendar and contacts servers to add with it.
    pub dav: DavAccount<'a>,
}

/// An Exchange account that signs in with OAuth.
#[derive(Debug, Clone, Copy)]
pub struct ExchangeAccount<'a> {
    /// The address.
    pub email: &'a EmailAddress,
    /// What the account is called in Mail (the provider's name).
    pub description: &'a str,
    /// The Exchange ActiveSync host.
    pub host: &'a str,
    /// The user name (the address, for Microsoft accounts).
    pub username: &'a str,
    /// Calendar and contacts servers to add with it.
    pub dav: DavAccount<'a>,
}

/// The keys every payload has (CommonPayloadKeys).
///
/// Optional keys are empty strings skipped when writing, not `Option`s: with
/// `#[serde(flatten)]` the plist serialiser would write `Some(x)` as a
/// dictionary.
#[derive(Serialize)]
struct Common {
    #[serde(rename = "PayloadDescription")]
    description: String,
    #[serde(rename = "PayloadDisplayName")]
    display_name: String,
    #[serde(rename = "PayloadIdentifier")]
    identifier: String,
    #[serde(
        rename = "PayloadOrganization",
        skip_serializing_if = "String::is_empty"
    )]
    organization: String,
    #[serde(rename = "PayloadType")]
    payload_type: &'static str,
    #[serde(rename = "PayloadUUID")]
    uuid: String,
    #[serde(rename = "PayloadVersion")]
    version: u8,
}

impl Common {
    /// The keys every payload of `id`'s profile carries: its identifier is
    /// the profile's plus `suffix`, its UUID derived from the payload type.
    fn new(
        id: &Identity,
        payload_type: &'static str,
        suffix: &str,
        description: String,
        display_name: String,
        opts: &Options,
    ) -> Common {
        Common {
            description,
            display_name,
            identifier: format!("{}.{suffix}", id.identifier),
            organization: optional(&opts.organization),
            payload_type,
            uuid: upper(id.payload_uuid(payload_type)),
            version: 1,
        }
    }
}

/// The profile around the payloads (TopLevel).
#[derive(Serialize)]
struct Profile {
    #[serde(rename = "PayloadContent")]
    content: Vec<Payload>,
    #[serde(flatten)]
    common: Common,
    #[serde(rename = "TargetDeviceType")]
    target: u8,
}

#[derive(Serialize)]
struct MailPayload {
    #[serde(rename = "EmailAccountDescription")]
    description: String,
    #[serde(rename = "EmailAccountName", skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(rename = "EmailAccountType")]
    account_type: &'static str,
    #[serde(rename = "EmailAddress")]
    address: String,
    #[serde(rename = "IncomingMailServerAuthentication")]
    incoming_auth: &'static str,
    #[serde(rename = "IncomingMailServerHostName")]
    incoming_host: String,
    #[serde(rename = "IncomingMailServerPortNumber")]
    incoming_port: u16,
    #[serde(rename = "IncomingMailServerUseSSL")]
    incoming_ssl: bool,
    #[serde(
        rename = "IncomingMailServerUsername",
        skip_serializing_if = "String::is_empty"
    )]
    incoming_username: String,
    #[serde(rename = "OutgoingMailServerAuthentication")]
    outgoing_auth: &'static str,
    #[serde(rename = "OutgoingMailServerHostName")]
    outgoing_host: String,
    #[serde(rename = "OutgoingMailServerPortNumber")]
    outgoing_port: u16,
    #[serde(rename = "OutgoingMailServerUseSSL")]
    outgoing_ssl: bool,
    #[serde(
        rename = "OutgoingMailServerUsername",
        skip_serializing_if = "String::is_empty"
    )]
    outgoing_username: String,
    #[serde(rename = "OutgoingPasswordSameAsIncomingPassword")]
    same_password: bool,
    #[serde(flatten)]
    common: Common,
}

/// One payload of a profile; untagged, so each is written as its own
/// dictionary.
#[derive(Serialize)]
#[serde(untagged)]
enum Payload {
    Mail(Box<MailPayload>),
    Eas(EasPayload),
    CalDav(CalDavPayload),
    CardDav(CardDavPayload),
}

/// `com.apple.caldav.account`. Apple's schema (apple/device-management,
/// `mdm/profiles/com.apple.caldav.account.yaml`) requires only the host
/// name; the principal URL takes the client straight to the account
/// instead of making it search the server's well-known paths.
#[derive(Serialize)]
struct CalDavPayload {
    #[serde(rename = "CalDAVAccountDescription")]
    description: String,
    #[serde(rename = "CalDAVHostName")]
    host: String,
    #[serde(rename = "CalDAVPort")]
    port: u16,
    #[serde(rename = "CalDAVPrincipalURL")]
    principal_url: String,
    #[serde(rename = "CalDAVUseSSL")]
    ssl: bool,
    #[serde(rename = "CalDAVUsername", skip_serializing_if = "String::is_empty")]
    username: String,
    #[serde(flatten)]
    common: Common,
}

/// `com.apple.carddav.account`, the same keys with `CardDAV` in front
/// (`mdm/profiles/com.apple.carddav.account.yaml`).
#[derive(Serialize)]
struct CardDavPayload {
    #[serde(rename = "CardDAVAccountDescription")]
    description: String,
    #[serde(rename = "CardDAVHostName")]
    host: String,
    #[serde(rename = "CardDAVPort")]
    port: u16,
    #[serde(rename = "CardDAVPrincipalURL")]
    principal_url: String,
    #[serde(rename = "CardDAVUseSSL")]
    ssl: bool,
    #[serde(rename = "CardDAVUsername", skip_serializing_if = "String::is_empty")]
    username: String,
    #[serde(flatten)]
    common: Common,
}

#[derive(Serialize)]
struct EasPayload {
    #[serde(rename = "EmailAddress")]
    address: String,
    #[serde(rename = "Host")]
    host: String,
    #[serde(rename = "OAuth")]
    oauth: bool,
    #[serde(rename = "SSL")]
    ssl: bool,
    #[serde(rename = "UserName")]
    username: String,
    #[serde(flatten)]
    common: Common,
}

/// `…UseSSL` for a server.
///
/// On for every encrypted server, implicit TLS and STARTTLS alike; off only
/// for a server without encryption. With it on, iOS speaks TLS from the
/// first byte on 993/995/465 and negotiates STARTTLS on 143/110/587; with it
/// off, iOS may log in without TLS and send the password in clear. Apple
/// itself lists its STARTTLS submission port this way: its support article
/// "iCloud Mail server settings for other email client apps" gives
/// smtp.mail.me.com, port 587, "SSL Required: Yes" (and "if you see an error
/// message when using SSL, try using TLS or STARTTLS instead"). automx2
/// (generators/apple.py) sets it only for implicit TLS, which leaves
/// STARTTLS accounts without encryption; we do not follow it.
fn use_ssl(security: Security) -> bool {
    security.is_encrypted()
}

/// The username, or empty (left out: the iPhone asks) when there is none.
fn username(s: &IosServer<'_>) -> String {
    clean(&s.server.username).into_owned()
}

/// An optional text; empty means the key is left out.
fn optional(s: &Option<String>) -> String {
    s.as_deref()
        .map(|o| clean(o).into_owned())
        .unwrap_or_default()
}

/// The profile for an IMAP or POP3 account, as XML.
pub fn mail_profile(account: &MailAccount<'_>, opts: &Options) -> Vec<u8> {
    const PAYLOAD: &str = "com.apple.mail.managed";
    let id = Identity::for_address(account.email, &opts.identifier_prefix);
    let (incoming, outgoing) = (account.servers.incoming, account.servers.outgoing);
    let description = clean(account.description).into_owned();
    let address = account.email.ascii();
    let shown = account.email.to_string();
    let same_password = incoming.auth.needs_password()
        && outgoing.auth.needs_password()
        && incoming.server.username == outgoing.server.username;
    let payload = MailPayload {
        description: description.clone(),
        name: optional(&opts.account_name),
        account_type: match incoming.server.protocol {
            Protocol::Pop3 => "EmailTypePOP",
            _ => "EmailTypeIMAP",
        },
        address: address.clone(),
        incoming_auth: incoming.auth.profile_value(),
        incoming_host: incoming.server.host.clone(),
        incoming_port: incoming.server.port,
        incoming_ssl: use_ssl(incoming.server.security),
        incoming_username: username(&incoming),
        outgoing_auth: outgoing.auth.profile_value(),
        outgoing_host: outgoing.server.host.clone(),
        outgoing_port: outgoing.server.port,
        outgoing_ssl: use_ssl(outgoing.server.security),
        outgoing_username: username(&outgoing),
        same_password,
        common: Common::new(
            &id,
            PAYLOAD,
            "mail",
            format!("The mail account {shown}."),
            format!("{description} mail"),
            opts,
        ),
    };
    let top_description = format!(
        "Sets up the email account {shown} in the Mail app{}. You will be asked for its password while installing; the password is not part of this profile.",
        dav_words(account.dav.dav)
    );
    let mut content = vec![Payload::Mail(Box::new(payload))];
    content.extend(dav_payloads(&account.dav, &id, &description, &shown, opts));
    write(content, &id, top_description, &description, shown, opts)
}

/// The profile for an Exchange account that signs in with OAuth, as XML.
pub fn exchange_profile(account: &ExchangeAccount<'_>, opts: &Options) -> Vec<u8> {
    const PAYLOAD: &str = "com.apple.eas.account";
    let id = Identity::for_address(account.email, &opts.identifier_prefix);
    let description = clean(account.description).into_owned();
    let shown = account.email.to_string();
    let payload = EasPayload {
        address: account.email.ascii(),
        host: account.host.to_string(),
        oauth: true,
        ssl: true,
        username: clean(account.username).into_owned(),
        common: Common::new(
            &id,
            PAYLOAD,
            "exchange",
            format!("The Exchange account {shown}, signing in with Microsoft."),
            format!("{description} (Exchange)"),
            opts,
        ),
    };
    let top_description = format!(
        "Sets up {shown} as an Exchange account for Mail, Contacts and Calendars{}. After installing, the iPhone opens Microsoft's sign-in page; no password is part of this profile.",
        dav_words(account.dav.dav)
    );
    let mut content = vec![Payload::Eas(payload)];
    content.extend(dav_payloads(&account.dav, &id, &description, &shown, opts));
    write(content, &id, top_description, &description, shown, opts)
}

/// What the top-level description adds for DAV accounts.
fn dav_words(dav: &Dav) -> &'static str {
    match (dav.caldav.is_some(), dav.carddav.is_some()) {
        (true, true) => ", with its calendars and contacts",
        (true, false) => ", with its calendars",
        (false, true) => ", with its contacts",
        (false, false) => "",
    }
}

/// The CalDAV and CardDAV payloads of `account`, in that order.
fn dav_payloads(
    account: &DavAccount<'_>,
    id: &Identity,
    description: &str,
    shown: &str,
    opts: &Options,
) -> Vec<Payload> {
    let username = clean(account.username).into_owned();
    account
        .dav
        .servers()
        .map(|(kind, server)| dav_payload(kind, server, &username, id, description, shown, opts))
        .collect()
}

fn dav_payload(
    kind: DavKind,
    server: &DavServer,
    username: &str,
    id: &Identity,
    description: &str,
    shown: &str,
    opts: &Options,
) -> Payload {
    let (payload_type, suffix, what) = match kind {
        DavKind::CalDav => ("com.apple.caldav.account", "caldav", "calendars"),
        DavKind::CardDav => ("com.apple.carddav.account", "carddav", "contacts"),
    };
    let common = Common::new(
        id,
        payload_type,
        suffix,
        format!("The {what} of {shown} ({}).", kind.name()),
        format!("{description} {what}"),
        opts,
    );
    let account_description = format!("{description} {what}");
    // DavServer only holds https:// URLs, so SSL is always on.
    let (host, port, url) = (
        clean(server.host()).into_owned(),
        server.port(),
        clean(server.url()).into_owned(),
    );
    match kind {
        DavKind::CalDav => Payload::CalDav(CalDavPayload {
            description: account_description,
            host,
            port,
            principal_url: url,
            ssl: true,
            username: username.to_string(),
            common,
        }),
        DavKind::CardDav => Payload::CardDav(CardDavPayload {
            description: account_description,
            host,
            port,
            principal_url: url,
            ssl: true,
            username: username.to_string(),
            common,
        }),
    }
}

fn write(
    content: Vec<Payload>,
    id: &Identity,
    description: String,
    name: &str,
    shown: String,
    opts: &Options,
) -> Vec<u8> {
    let profile = Profile {
        content,
        common: Common {
            description,
            display_name: format!("{name} ({shown})"),
            identifier: id.identifier.clone(),
            organization: optional(&opts.organization),
            payload_type: "Configuration",
            uuid: upper(id.uuid),
            version: 1,
        },
        target: TARGET_IPHONE,
    };
    let mut out = Vec::new();
    // Invariant: the structs hold only strings, integers, booleans, arrays
    // and dictionaries, all of which a plist can represent, and the writer
    // is a Vec, which cannot fail.
    plist::to_writer_xml(&mut out, &profile).expect("a profile always serialises into memory");
    out.push(b'\n');
    out
}

fn upper(u: Uuid) -> String {
    u.hyphenated().to_string().to_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(s: &str) -> EmailAddress {
        s.parse().unwrap()
    }

    #[test]
    fn identity_ignores_case_and_differs_per_address() {
        let a = Identity::for_address(&email("Alice@Posteo.de"), "p");
        let b = Identity::for_address(&email("alice@posteo.de"), "p");
        let c = Identity::for_address(&email("bob@posteo.de"), "p");
        assert_eq!(a, b);
        assert_ne!(a.uuid, c.uuid);
        assert_eq!(a.uuid.get_version_num(), 5);
        assert_ne!(a.payload_uuid("x"), a.payload_uuid("y"));
        assert_ne!(a.payload_uuid("x"), a.uuid);
        assert!(a.identifier.starts_with("p."));
    }

    #[test]
    fn ssl_is_on_for_starttls_and_off_only_without_encryption() {
        assert!(use_ssl(Security::Tls));
        assert!(use_ssl(Security::Starttls));
        assert!(!use_ssl(Security::None));
    }
}
