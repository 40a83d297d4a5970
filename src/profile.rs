//! `profile`: from an account's settings to what a mail client installs.
//!
//! The one entry point for the command line and the HTTP service alike:
//! [`render`] takes the settings `lookup` found (or [`with_user_servers`]
//! made from `--incoming/--outgoing`) and writes one [`Format`], optionally
//! signed. The writers live with their formats ([`crate::autoconfig`],
//! [`crate::autodiscover`], [`crate::apple`]); this module owns the policy
//! around them:
//!
//! - A provider that accepts only OAuth2 (Outlook.com and its domains such
//!   as msn.com, Microsoft 365) never gets a password profile, whatever the
//!   servers say: such a profile cannot work. Microsoft accounts can get an
//!   Exchange profile that signs in with Microsoft instead (`exchange`).
//! - A provider whose normal password does not work in mail apps (it
//!   publishes an app-password page) and for which the iPhone has its own
//!   account type (Gmail) gets no profile from discovered settings either:
//!   the built-in type signs in properly. Servers the user gave by hand are
//!   taken as the app-password route and do get a profile.
//!
//! Both rules read the provider table (`oauth_only`, `ios`,
//! `app_password_url`), never a list of domains.
//!
//! Calendar and contacts servers ([`Request::dav`]) go into every format
//! with the mail account's user name. Refusals ([`ProfileError`]) are worded
//! for any reader; the command line adds its flags with
//! [`ProfileError::for_cli`].

use std::fmt;
use std::str::FromStr;

use crate::address::EmailAddress;
use crate::apple::iphone::{self, NoIosServer, SettingsPath};
use crate::apple::sign::{SignError, Signer};
use crate::apple::{ios_steps, mobileconfig};
use crate::autoconfig::write as autoconfig_xml;
use crate::autodiscover::write as autodiscover_xml;
use crate::dav::{Dav, DavAccount, DavUrlError};
use crate::provider::{IosAccount, Provider, ProviderTable};
use crate::settings::{AuthMethod, Protocol, Server, ServerUrl, Settings, Source, Trust};

/// Exchange Online's host, which serves Outlook.com and Microsoft 365
/// mailboxes alike (it is their IMAP and POP host in the provider table
/// too). Apple's schema notes that with `OAuth` on and no `OAuthSignInURL`
/// iOS finds the account by itself and ignores `Host`; it is still written
/// so the profile says where the account lives.
pub const MICROSOFT_EAS_HOST: &str = "outlook.office365.com";

/// What to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An Apple configuration profile (the default).
    Mobileconfig,
    /// Thunderbird autoconfig XML.
    Autoconfig,
    /// Outlook POX Autodiscover XML.
    Autodiscover,
    /// Step-by-step instructions for the iPhone's Settings app.
    IosSteps,
}

impl Format {
    /// The media type of the output (a signed profile is still
    /// `application/x-apple-aspen-config`).
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Mobileconfig => mobileconfig::CONTENT_TYPE,
            Format::Autoconfig => autoconfig_xml::CONTENT_TYPE,
            Format::Autodiscover => autodiscover_xml::CONTENT_TYPE,
            Format::IosSteps => "text/plain; charset=utf-8",
        }
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "mobileconfig" => Format::Mobileconfig,
            "autoconfig" => Format::Autoconfig,
            "autodiscover" => Format::Autodiscover,
            "ios-steps" => Format::IosSteps,
            _ => {
                return Err(format!(
                    "'{s}' is not a format: use mobileconfig, autoconfig, autodiscover or ios-steps"
                ));
            }
        })
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Mobileconfig => "mobileconfig",
            Format::Autoconfig => "autoconfig",
            Format::Autodiscover => "autodiscover",
            Format::IosSteps => "ios-steps",
        })
    }
}

/// What to render.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The address.
    pub email: &'a EmailAddress,
    /// Its settings.
    pub settings: &'a Settings,
    /// The format.
    pub format: Format,
    /// For Microsoft accounts: an Exchange profile that signs in with OAuth.
    pub exchange: bool,
    /// Sign the profile (mobileconfig only).
    pub signer: Option<&'a Signer>,
    /// Identifier prefix, organisation and sender name of profiles.
    pub options: &'a mobileconfig::Options,
    /// Calendar and contacts servers to set up with the mail account, URLs
    /// already expanded for the address ([`crate::dav::expand`]).
    pub dav: Option<&'a Dav>,
    /// A short name for the provider (autoconfig's `displayShortName`).
    pub short_name: Option<&'a str>,
}

/// A rendered file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The bytes: UTF-8 text, or DER when signed.
    pub bytes: Vec<u8>,
    /// Its media type.
    pub content_type: &'static str,
    /// Whether it is a signed (binary) profile.
    pub signed: bool,
}

/// Why nothing was written.
///
/// The message ([`fmt::Display`]) names no command-line flag, so the HTTP
/// service and its page can show it as it is; [`ProfileError::for_cli`]
/// adds the flag that helps on the command line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// The provider takes no passwords: a password profile cannot work.
    #[error(
        "{provider} accepts only sign-in on its own page (OAuth2), not passwords, so a mail profile with a password cannot work and none was written. {}",
        oauth_advice(.account, *.exchange)
    )]
    OauthOnly {
        /// The provider's name.
        provider: String,
        /// The iPhone's built-in account type for it.
        account: Option<IosAccount>,
        /// Whether an Exchange profile (`--exchange`) is possible.
        exchange: bool,
    },
    /// The iPhone's own account type is the way (Gmail).
    #[error(
        "{provider} does not take your normal password in mail apps, so no profile with a password was written. On the iPhone open {} and {}. To use an app password instead{}, set the account up by hand: the iPhone steps show every field.",
        SettingsPath::add_account(*.account).sentence(),
        iphone::sign_in_words(*.account),
        .app_password_url.as_ref().map(|u| format!(" (made at {u})")).unwrap_or_default()
    )]
    UseBuiltInAccount {
        /// The provider's name.
        provider: String,
        /// The iPhone's built-in account type.
        account: IosAccount,
        /// Where app passwords are made.
        app_password_url: Option<String>,
    },
    /// An Exchange profile for a provider that is not Microsoft's.
    #[error(
        "an Exchange profile is for Outlook.com and Microsoft 365 accounts, and {provider} is neither"
    )]
    ExchangeNotAvailable {
        /// The provider's name.
        provider: String,
    },
    /// A choice that applies to Apple profiles only.
    #[error("{option} is possible only in an Apple profile (mobileconfig), not in {format}")]
    OnlyForMobileconfig {
        /// The choice, in words.
        option: &'static str,
        /// The format asked for.
        format: Format,
    },
    /// `--incoming` or `--outgoing` of the wrong kind, or one missing.
    #[error("{0}")]
    UserServers(String),
    /// A CalDAV or CardDAV URL that cannot be used.
    #[error("{0}")]
    Dav(#[from] DavUrlError),
    /// The settings name no server at all: a file without one would set
    /// up nothing (and Autodiscover's own readers refuse it).
    #[error("no profile was written: the settings name no incoming or outgoing server")]
    NoServers,
    /// No server the iPhone can log in to.
    #[error("no profile was written: {0}")]
    NoIphoneServer(NoIosServer),
    /// Signing failed.
    #[error(transparent)]
    Sign(#[from] SignError),
}

/// What an Exchange profile is called in [`ProfileError::OnlyForMobileconfig`].
const EXCHANGE_OPTION: &str = "an Exchange account";
/// What signing is called in [`ProfileError::OnlyForMobileconfig`].
const SIGNING_OPTION: &str = "signing";

fn oauth_advice(account: &Option<IosAccount>, exchange: bool) -> String {
    match account {
        Some(a) => {
            let mut s = format!(
                "On the iPhone open {} and {}.",
                SettingsPath::add_account(*a).sentence(),
                iphone::sign_in_words(*a)
            );
            if exchange {
                s.push_str(" An Exchange profile that signs in with Microsoft works too.");
            }
            s
        }
        None => "The iPhone's Mail app offers OAuth2 only for its built-in account types: use the provider's own app.".to_string(),
    }
}

impl ProfileError {
    /// A stable code for programs (`--json`, the HTTP service).
    pub fn code(&self) -> &'static str {
        match self {
            ProfileError::OauthOnly { .. } => "oauth-required",
            ProfileError::UseBuiltInAccount { .. } => "use-built-in-account",
            ProfileError::ExchangeNotAvailable { .. } => "exchange-not-available",
            ProfileError::OnlyForMobileconfig { .. } => "mobileconfig-only",
            ProfileError::UserServers(_) => "bad-server-url",
            ProfileError::Dav(_) => "bad-dav-url",
            ProfileError::NoServers => "no-servers",
            ProfileError::NoIphoneServer(_) => "no-iphone-server",
            ProfileError::Sign(_) => "sign-failed",
        }
    }

    /// Whether this is a negative answer about the account (exit status 1)
    /// rather than a usage or setup error (exit status 2).
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            ProfileError::OauthOnly { .. }
                | ProfileError::UseBuiltInAccount { .. }
                | ProfileError::NoIphoneServer(_)
                | ProfileError::NoServers
        )
    }

    /// What to do on the command line, naming `mailsetup profile`'s flags;
    /// `None` when the message says it all.
    pub fn cli_hint(&self) -> Option<&'static str> {
        match self {
            ProfileError::OauthOnly { exchange: true, .. } => Some("Add --exchange to write one."),
            ProfileError::UseBuiltInAccount { .. } => Some("Print them with --format ios-steps."),
            ProfileError::NoServers => Some("Give the servers with --incoming and --outgoing."),
            ProfileError::ExchangeNotAvailable { .. } => Some("Leave --exchange out."),
            ProfileError::OnlyForMobileconfig { option, .. } if *option == EXCHANGE_OPTION => {
                Some("Leave --exchange out, or use --format mobileconfig.")
            }
            ProfileError::OnlyForMobileconfig { .. } => {
                Some("Leave --sign-cert and --sign-key out, or use --format mobileconfig.")
            }
            _ => None,
        }
    }

    /// The message for the command line: [`fmt::Display`]'s, followed by
    /// [`ProfileError::cli_hint`] (as a sentence of its own after one that
    /// ends, after a colon otherwise).
    pub fn for_cli(&self) -> String {
        let message = self.to_string();
        match self.cli_hint() {
            Some(hint) if message.ends_with('.') => format!("{message} {hint}"),
            Some(hint) => format!("{message}: {}", lower_first(hint)),
            None => message,
        }
    }
}

/// `s` with its first letter in lower case (a hint after a colon).
fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_lowercase().chain(c).collect())
        .unwrap_or_default()
}

/// The built-in provider data for an account: by the address's domain, else
/// by the provider the settings name (a custom domain matched by MX).
pub fn provider_of(email: &EmailAddress, settings: &Settings) -> Option<&'static Provider> {
    let table = ProviderTable::builtin();
    table
        .by_domain(email.domain())
        .or_else(|| settings.provider.as_ref().and_then(|p| table.by_id(&p.id)))
}

/// The iPhone steps of `req` as data (what [`Format::IosSteps`] writes as
/// text), for writers such as the service's HTML page.
pub fn ios_steps(req: &Request<'_>) -> ios_steps::Steps {
    let provider = provider_of(req.email, req.settings);
    let username = dav_username(req.email, req.settings);
    let dav = req.dav.filter(|d| !d.is_empty()).map(|dav| DavAccount {
        dav,
        username: &username,
    });
    ios_steps::steps(&ios_steps::Guide {
        email: req.email,
        settings: req.settings,
        built_in: provider.and_then(|p| p.ios),
        dav,
    })
}

/// Renders `req.format`.
pub fn render(req: &Request<'_>) -> Result<Rendered, ProfileError> {
    let no_dav = req.dav.is_none_or(|d| d.is_empty());
    // An Apple profile says why with the provider's own reason
    // (`NoIphoneServer`).
    let apple = req.format == Format::Mobileconfig;
    if !apple && req.settings.incoming.is_empty() && req.settings.outgoing.is_empty() && no_dav {
        return Err(ProfileError::NoServers);
    }
    if req.format != Format::Mobileconfig {
        let option = if req.exchange {
            Some(EXCHANGE_OPTION)
        } else if req.signer.is_some() {
            Some(SIGNING_OPTION)
        } else {
            None
        };
        if let Some(option) = option {
            return Err(ProfileError::OnlyForMobileconfig {
                option,
                format: req.format,
            });
        }
    }
    let provider = provider_of(req.email, req.settings);
    let username = dav_username(req.email, req.settings);
    let dav = req.dav.filter(|d| !d.is_empty()).map(|dav| DavAccount {
        dav,
        username: &username,
    });
    let bytes = match req.format {
        Format::Mobileconfig => profile(req, provider, dav)?,
        Format::Autoconfig => {
            let extras = autoconfig_xml::Extras {
                help: provider.and_then(|p| p.help.as_deref()),
                short_name: req.short_name,
                dav,
            };
            autoconfig_xml::write(req.email, req.settings, &extras).into_bytes()
        }
        Format::Autodiscover => autodiscover_xml::write(req.settings, dav.as_ref()).into_bytes(),
        Format::IosSteps => ios_steps::write(&ios_steps::Guide {
            email: req.email,
            settings: req.settings,
            built_in: provider.and_then(|p| p.ios),
            dav,
        })
        .into_bytes(),
    };
    let (bytes, signed) = match req.signer {
        Some(s) => (s.sign(&bytes)?, true),
        None => (bytes, false),
    };
    Ok(Rendered {
        bytes,
        content_type: req.format.content_type(),
        signed,
    })
}

fn display_name(email: &EmailAddress, settings: &Settings) -> String {
    settings
        .provider
        .as_ref()
        .map(|p| p.name.clone())
        .unwrap_or_else(|| email.domain_unicode().to_string())
}

/// The user name of the calendar and contacts accounts: the mail server's
/// (DAV servers that go with a mail domain take its logins), else the
/// address without its `+tag`.
fn dav_username(email: &EmailAddress, settings: &Settings) -> String {
    settings
        .incoming
        .iter()
        .map(|s| s.username.as_str())
        .find(|u| !u.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| email.login_address())
}

fn profile(
    req: &Request<'_>,
    provider: Option<&Provider>,
    dav: Option<DavAccount<'_>>,
) -> Result<Vec<u8>, ProfileError> {
    let no_dav = Dav::default();
    let dav = dav.unwrap_or(DavAccount {
        dav: &no_dav,
        username: "",
    });
    let name = display_name(req.email, req.settings);
    let ios = provider.and_then(|p| p.ios);
    let microsoft = matches!(ios, Some(IosAccount::Outlook | IosAccount::Exchange));
    if req.exchange {
        if !microsoft {
            return Err(ProfileError::ExchangeNotAvailable { provider: name });
        }
        let username = req.email.login_address();
        let account = mobileconfig::ExchangeAccount {
            email: req.email,
            description: &name,
            host: MICROSOFT_EAS_HOST,
            username: &username,
            dav,
        };
        return Ok(mobileconfig::exchange_profile(&account, req.options));
    }
    if provider.is_some_and(Provider::oauth_only) || req.settings.oauth_only() {
        return Err(ProfileError::OauthOnly {
            provider: name,
            account: ios,
            exchange: microsoft,
        });
    }
    if let (Some(p), Some(account)) = (provider, ios) {
        if p.app_password_url.is_some() && req.settings.source != Source::User {
            return Err(ProfileError::UseBuiltInAccount {
                provider: name,
                account,
                app_password_url: p.app_password_url.clone(),
            });
        }
    }
    let servers = iphone::servers(req.settings).map_err(ProfileError::NoIphoneServer)?;
    let account = mobileconfig::MailAccount {
        email: req.email,
        description: &name,
        servers,
        dav,
    };
    Ok(mobileconfig::mail_profile(&account, req.options))
}

/// A direction of an account left with no encrypted server by
/// [`without_unencrypted`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unencrypted {
    /// Every incoming server has `security=none`.
    Incoming,
    /// Every outgoing server has `security=none`.
    Outgoing,
}

impl Unencrypted {
    /// `incoming` or `outgoing`.
    pub fn word(self) -> &'static str {
        match self {
            Unencrypted::Incoming => "incoming",
            Unencrypted::Outgoing => "outgoing",
        }
    }
}

/// `settings` without the servers that have no encryption
/// (`security=none`), which no file that sets up a device should carry;
/// `keep_incoming`/`keep_outgoing` leave a direction as it is (servers a
/// person chose on purpose). An error when a direction had servers and
/// only unencrypted ones.
pub fn without_unencrypted(
    settings: &Settings,
    keep_incoming: bool,
    keep_outgoing: bool,
) -> Result<Settings, Unencrypted> {
    let mut out = settings.clone();
    let filter = |servers: &mut Vec<Server>, keep: bool, which: Unencrypted| {
        if keep || servers.is_empty() {
            return Ok(());
        }
        servers.retain(|s| s.security.is_encrypted());
        if servers.is_empty() {
            Err(which)
        } else {
            Ok(())
        }
    };
    filter(&mut out.incoming, keep_incoming, Unencrypted::Incoming)?;
    filter(&mut out.outgoing, keep_outgoing, Unencrypted::Outgoing)?;
    Ok(out)
}

/// Settings with the servers the user gave (`--incoming`, `--outgoing`) in
/// place of discovered ones. `base` holds what was discovered (or the
/// built-in provider's settings); it may be `None` only when both servers
/// are given. A given server keeps the authentication methods and username
/// of the same server in `base`; otherwise it logs in with a password as
/// the address without its `+tag`.
pub fn with_user_servers(
    email: &EmailAddress,
    base: Option<Settings>,
    incoming: Option<&ServerUrl>,
    outgoing: Option<&ServerUrl>,
) -> Result<Settings, ProfileError> {
    if let Some(u) = incoming.filter(|u| !u.protocol.is_incoming()) {
        return Err(ProfileError::UserServers(format!(
            "--incoming {u} is not an incoming server: use imaps://, imap://, pop3s:// or pop3://"
        )));
    }
    if let Some(u) = outgoing.filter(|u| u.protocol != Protocol::Smtp) {
        return Err(ProfileError::UserServers(format!(
            "--outgoing {u} is not an outgoing server: use smtps:// or smtp://"
        )));
    }
    let both = incoming.is_some() && outgoing.is_some();
    let mut settings = match base {
        Some(s) => s,
        None if both => Settings {
            provider: None,
            incoming: vec![],
            outgoing: vec![],
            source: Source::User,
            trust: Trust::Verified,
            notes: vec![],
        },
        None => {
            return Err(ProfileError::UserServers(
                "no settings were found to go with the one server given: give both --incoming and --outgoing".into(),
            ));
        }
    };
    let given = |url: &ServerUrl, known: &[Server]| {
        known
            .iter()
            .find(|s| &s.url() == url)
            .cloned()
            .unwrap_or_else(|| Server {
                protocol: url.protocol,
                host: url.host.clone(),
                port: url.port,
                security: url.security,
                auth: vec![AuthMethod::Password],
                username: email.login_address(),
            })
    };
    if let Some(u) = incoming {
        settings.incoming = vec![given(u, &settings.incoming)];
    }
    if let Some(u) = outgoing {
        settings.outgoing = vec![given(u, &settings.outgoing)];
    }
    if incoming.is_some() || outgoing.is_some() {
        settings.source = Source::User;
    }
    if both {
        // Both servers are the user's own choice.
        settings.trust = Trust::Verified;
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lookup::lookup_builtin;

    fn email(s: &str) -> EmailAddress {
        s.parse().unwrap()
    }

    #[test]
    fn formats_parse_and_print() {
        for f in ["mobileconfig", "autoconfig", "autodiscover", "ios-steps"] {
            assert_eq!(f.parse::<Format>().unwrap().to_string(), f);
        }
        let e = "pdf".parse::<Format>().unwrap_err();
        assert!(e.contains("use mobileconfig, autoconfig"), "{e}");
    }

    #[test]
    fn user_servers_keep_known_auth_and_default_to_password() {
        let a = email("jane+x@gmail.com");
        let base = lookup_builtin(&a).unwrap().settings;
        let imap: ServerUrl = "imaps://imap.gmail.com".parse().unwrap();
        let smtp: ServerUrl = "smtp://smtp.other.example:2525".parse().unwrap();
        let s = with_user_servers(&a, Some(base), Some(&imap), Some(&smtp)).unwrap();
        assert_eq!(s.incoming.len(), 1);
        assert_eq!(
            s.incoming[0].auth,
            [AuthMethod::Oauth2, AuthMethod::Password]
        );
        assert_eq!(s.outgoing[0].auth, [AuthMethod::Password]);
        assert_eq!(s.outgoing[0].username, "jane@gmail.com");
        assert_eq!(s.source, Source::User);
    }

    #[test]
    fn user_servers_of_the_wrong_kind_or_alone_are_refused() {
        let a = email("a@example.org");
        let smtp: ServerUrl = "smtps://s.example.org".parse().unwrap();
        let imap: ServerUrl = "imaps://i.example.org".parse().unwrap();
        for (i, o) in [(Some(&smtp), None), (None, Some(&imap))] {
            let e = with_user_servers(&a, None, i, o).unwrap_err();
            assert!(e.to_string().contains("is not an"), "{e}");
        }
        let e = with_user_servers(&a, None, Some(&imap), None).unwrap_err();
        assert!(e.to_string().contains("give both"), "{e}");
    }

    /// Found by the `profile_writers` fuzz target: settings without any
    /// server made an Autodiscover answer that no reader accepts. Every
    /// format now refuses them, saying why.
    #[test]
    fn settings_without_any_server_are_refused_in_every_format() {
        let a = email("a@example.org");
        let mut settings = lookup_builtin(&email("jane@posteo.de")).unwrap().settings;
        settings.incoming.clear();
        settings.outgoing.clear();
        let options = crate::apple::mobileconfig::Options::default();
        for format in [
            Format::Mobileconfig,
            Format::Autoconfig,
            Format::Autodiscover,
            Format::IosSteps,
        ] {
            let req = Request {
                email: &a,
                settings: &settings,
                format,
                exchange: false,
                signer: None,
                options: &options,
                dav: None,
                short_name: None,
            };
            let Err(e) = render(&req) else {
                panic!("{format}: written")
            };
            assert!(e.is_refusal(), "{format}: {e}");
            if format != Format::Mobileconfig {
                assert!(matches!(e, ProfileError::NoServers), "{format}: {e}");
                assert_eq!(e.code(), "no-servers");
            }
        }
    }

    /// The two inputs the `profile_writers` fuzz target crashed on, as it
    /// decoded them: a provider whose id and name hold markup and NUL, and
    /// no server at all. The Autodiscover answer written for them did not
    /// re-parse; now no format writes anything for them, and with one
    /// server added every output re-parses with the program's own readers.
    #[test]
    fn the_profile_writers_fuzz_crashes_are_refused_or_re_parse() {
        use crate::settings::{AuthMethod, Protocol, ProviderRef, Security, Server, Source};
        let a = email("someone@example.com");
        let options = crate::output::mobileconfig::Options::default();
        for (id, name) in [
            ("r<&>\"\0B & <S\u{f6}hn", ""),
            ("xample.com\0user<&>\"\0B\u{fc}ch", "eS"),
        ] {
            let mut settings = Settings {
                provider: Some(ProviderRef {
                    id: id.into(),
                    name: name.into(),
                }),
                incoming: vec![],
                outgoing: vec![],
                source: Source::Autoconfig,
                trust: crate::settings::Trust::Verified,
                notes: vec![],
            };
            let formats = [
                Format::Autoconfig,
                Format::Autodiscover,
                Format::Mobileconfig,
                Format::IosSteps,
            ];
            fn req<'a>(
                email: &'a EmailAddress,
                settings: &'a Settings,
                format: Format,
                options: &'a crate::output::mobileconfig::Options,
            ) -> Request<'a> {
                Request {
                    email,
                    settings,
                    format,
                    exchange: false,
                    signer: None,
                    options,
                    dav: None,
                    short_name: None,
                }
            }
            for format in formats {
                let e = render(&req(&a, &settings, format, &options)).err();
                let e = e.unwrap_or_else(|| panic!("{format}: written for no server"));
                assert!(e.is_refusal(), "{format}: {e}");
            }
            settings.incoming.push(Server {
                protocol: Protocol::Imap,
                host: "mail.example.com".into(),
                port: 993,
                security: Security::Tls,
                auth: vec![AuthMethod::Password],
                username: "user<&>\"".into(),
            });
            for format in formats {
                let Ok(out) = render(&req(&a, &settings, format, &options)) else {
                    continue;
                };
                match format {
                    Format::Autoconfig => {
                        crate::autoconfig::parse(&out.bytes).expect("autoconfig re-parses");
                    }
                    Format::Autodiscover => {
                        crate::discover::pox::parse(&out.bytes).expect("Autodiscover re-parses");
                    }
                    Format::Mobileconfig => {
                        plist::Value::from_reader_xml(out.bytes.as_slice())
                            .expect("the mobileconfig is a plist");
                    }
                    _ => {}
                }
            }
        }
    }
}
