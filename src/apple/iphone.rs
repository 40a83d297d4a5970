//! What the iPhone's Mail app understands, shared by the profile writer
//! ([`super::mobileconfig`]), the step-by-step instructions
//! ([`super::ios_steps`]) and the refusal messages of [`crate::profile`].
//!
//! It owns three facts, so that every format says the same thing:
//! - which authentication methods an iPhone mail account can use, with their
//!   profile key values and the labels of the Settings app;
//! - which of an account's servers the iPhone can use (one incoming IMAP or
//!   POP3 server and one SMTP server, best first);
//! - the menu paths of the Settings app, current and older.

use crate::provider::IosAccount;
use crate::settings::{AuthMethod, Protocol, Server, Settings};

/// An authentication method the iPhone's Mail app offers for IMAP, POP3 and
/// SMTP accounts (Settings › … › Advanced › Authentication). OAuth2 is not
/// among them: the Mail app signs in with OAuth only through its built-in
/// account types (Google, Outlook.com, Microsoft Exchange, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IosAuth {
    /// "Password": the password inside TLS.
    Password,
    /// "MD5 Challenge-Response" (CRAM-MD5).
    Md5ChallengeResponse,
    /// "NTLM".
    Ntlm,
    /// No authentication (outgoing servers that admit by network).
    None,
}

impl IosAuth {
    /// The iPhone's method for the first of `auth` it supports.
    pub fn first_of(auth: &[AuthMethod]) -> Option<IosAuth> {
        auth.iter().find_map(|a| match a {
            AuthMethod::Password => Some(IosAuth::Password),
            AuthMethod::PasswordEncrypted => Some(IosAuth::Md5ChallengeResponse),
            AuthMethod::Ntlm => Some(IosAuth::Ntlm),
            AuthMethod::None => Some(IosAuth::None),
            AuthMethod::Oauth2 | AuthMethod::Gssapi | AuthMethod::ClientCert => None,
        })
    }

    /// The value of `IncomingMailServerAuthentication` /
    /// `OutgoingMailServerAuthentication` in a configuration profile.
    pub fn profile_value(self) -> &'static str {
        match self {
            IosAuth::Password => "EmailAuthPassword",
            IosAuth::Md5ChallengeResponse => "EmailAuthCRAMMD5",
            IosAuth::Ntlm => "EmailAuthNTLM",
            IosAuth::None => "EmailAuthNone",
        }
    }

    /// The label in the Settings app.
    pub fn label(self) -> &'static str {
        match self {
            IosAuth::Password => "Password",
            IosAuth::Md5ChallengeResponse => "MD5 Challenge-Response",
            IosAuth::Ntlm => "NTLM",
            IosAuth::None => "None",
        }
    }

    /// Whether the user types a password for it.
    pub fn needs_password(self) -> bool {
        self != IosAuth::None
    }
}

/// A server the iPhone can use, with the method it logs in with.
#[derive(Debug, Clone, Copy)]
pub struct IosServer<'a> {
    /// The server.
    pub server: &'a Server,
    /// How the iPhone logs in.
    pub auth: IosAuth,
}

/// The incoming and outgoing server an iPhone mail account gets.
#[derive(Debug, Clone, Copy)]
pub struct IosServers<'a> {
    /// IMAP or POP3.
    pub incoming: IosServer<'a>,
    /// SMTP.
    pub outgoing: IosServer<'a>,
}

/// Why the iPhone's Mail app cannot use an account's servers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoIosServer {
    /// No IMAP or POP3 server with a method the iPhone has.
    #[error(
        "no incoming IMAP or POP3 server accepts a login the iPhone's Mail app can do (password, MD5 challenge-response or NTLM){}",
        only(.0)
    )]
    Incoming(Vec<AuthMethod>),
    /// No SMTP server with a method the iPhone has.
    #[error(
        "no outgoing SMTP server accepts a login the iPhone's Mail app can do (password, MD5 challenge-response, NTLM or none){}",
        only(.0)
    )]
    Outgoing(Vec<AuthMethod>),
}

fn only(offered: &[AuthMethod]) -> String {
    if offered.is_empty() {
        return String::new();
    }
    let names: Vec<_> = offered.iter().map(|a| a.label()).collect();
    format!("; the servers offer only {}", names.join(", "))
}

/// Picks the best incoming (IMAP or POP3) and outgoing (SMTP) server the
/// iPhone can log in to. Servers are listed best first (implicit TLS before
/// STARTTLS before none, RFC 8314), so the first usable one wins.
pub fn servers(settings: &Settings) -> Result<IosServers<'_>, NoIosServer> {
    fn pick(list: &[Server], incoming: bool) -> Option<IosServer<'_>> {
        list.iter()
            .filter(|s| s.protocol.is_incoming() == incoming)
            .find_map(|s| IosAuth::first_of(&s.auth).map(|auth| IosServer { server: s, auth }))
    }
    let offered = |list: &[Server]| {
        let mut all: Vec<AuthMethod> = list.iter().flat_map(|s| s.auth.clone()).collect();
        all.sort();
        all.dedup();
        all
    };
    let incoming = pick(&settings.incoming, true)
        .ok_or_else(|| NoIosServer::Incoming(offered(&settings.incoming)))?;
    let outgoing = pick(&settings.outgoing, false)
        .ok_or_else(|| NoIosServer::Outgoing(offered(&settings.outgoing)))?;
    Ok(IosServers { incoming, outgoing })
}

/// The tab of the Add Mail Account screen for an incoming protocol.
pub fn tab(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Pop3 => "POP",
        _ => "IMAP",
    }
}

/// A path through the Settings app, as the current iPhone shows it and as
/// iOS 17 and older did (before Mail moved under Settings › Apps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsPath {
    /// iOS 18 and later.
    pub current: String,
    /// iOS 17 and older.
    pub older: String,
}

impl SettingsPath {
    /// The accounts list, followed by `rest` (each step separated by ›).
    pub fn accounts(rest: &[&str]) -> SettingsPath {
        let tail: String = rest.iter().map(|s| format!(" › {s}")).collect();
        SettingsPath {
            current: format!("Settings › Apps › Mail › Mail Accounts{tail}"),
            older: format!("Settings › Mail › Accounts{tail}"),
        }
    }

    /// Add Account › `label` (a built-in account type).
    pub fn add_account(account: IosAccount) -> SettingsPath {
        SettingsPath::accounts(&["Add Account", account.label()])
    }

    /// Add Account › Other › Add Mail Account (IMAP or POP by hand).
    pub fn add_mail_account() -> SettingsPath {
        SettingsPath::accounts(&["Add Account", "Other", "Add Mail Account"])
    }

    /// Both paths in one sentence.
    pub fn sentence(&self) -> String {
        format!("{} (on iOS 17 and older: {})", self.current, self.older)
    }
}

/// What the user does on the provider's sign-in page of a built-in account
/// type.
pub fn sign_in_words(account: IosAccount) -> &'static str {
    match account {
        IosAccount::Icloud => "sign in with your Apple Account",
        IosAccount::Exchange => {
            "tap Sign In (not Configure Manually) and sign in on Microsoft's page"
        }
        IosAccount::Outlook => "sign in on Microsoft's page",
        IosAccount::Google => "sign in on Google's page",
        IosAccount::Yahoo => "sign in on Yahoo's page",
        IosAccount::Aol => "sign in on AOL's page",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Security, Source, Trust};

    fn srv(protocol: Protocol, security: Security, auth: &[AuthMethod]) -> Server {
        Server {
            protocol,
            host: "h.example".into(),
            port: protocol.default_port(security),
            security,
            auth: auth.to_vec(),
            username: "u".into(),
        }
    }

    fn settings(incoming: Vec<Server>, outgoing: Vec<Server>) -> Settings {
        Settings {
            provider: None,
            incoming,
            outgoing,
            source: Source::User,
            trust: Trust::Verified,
            notes: vec![],
        }
    }

    #[test]
    fn oauth_is_skipped_for_the_next_method() {
        assert_eq!(
            IosAuth::first_of(&[AuthMethod::Oauth2, AuthMethod::Password]),
            Some(IosAuth::Password)
        );
        assert_eq!(IosAuth::first_of(&[AuthMethod::Oauth2]), None);
        assert_eq!(
            IosAuth::first_of(&[AuthMethod::PasswordEncrypted]).map(IosAuth::profile_value),
            Some("EmailAuthCRAMMD5")
        );
    }

    #[test]
    fn first_usable_server_wins_and_oauth_only_servers_are_passed_over() {
        use AuthMethod::*;
        let s = settings(
            vec![
                srv(Protocol::Imap, Security::Tls, &[Oauth2]),
                srv(Protocol::Pop3, Security::Tls, &[Password]),
            ],
            vec![srv(Protocol::Smtp, Security::Starttls, &[Ntlm])],
        );
        let chosen = servers(&s).unwrap();
        assert_eq!(chosen.incoming.server.protocol, Protocol::Pop3);
        assert_eq!(chosen.outgoing.auth, IosAuth::Ntlm);
    }

    #[test]
    fn oauth_only_accounts_have_no_iphone_servers_and_say_why() {
        let s = settings(
            vec![srv(Protocol::Imap, Security::Tls, &[AuthMethod::Oauth2])],
            vec![srv(Protocol::Smtp, Security::Tls, &[AuthMethod::Password])],
        );
        let e = servers(&s).unwrap_err();
        assert_eq!(e, NoIosServer::Incoming(vec![AuthMethod::Oauth2]));
        assert!(e.to_string().contains("offer only OAuth2"), "{e}");
        let s = settings(
            vec![srv(Protocol::Imap, Security::Tls, &[AuthMethod::Password])],
            vec![],
        );
        assert_eq!(servers(&s).unwrap_err(), NoIosServer::Outgoing(vec![]));
    }

    #[test]
    fn paths_name_the_current_and_the_older_settings_app() {
        let p = SettingsPath::add_account(IosAccount::Outlook);
        assert_eq!(
            p.current,
            "Settings › Apps › Mail › Mail Accounts › Add Account › Outlook.com"
        );
        assert_eq!(
            p.older,
            "Settings › Mail › Accounts › Add Account › Outlook.com"
        );
        assert!(
            SettingsPath::add_mail_account()
                .current
                .ends_with("Add Account › Other › Add Mail Account")
        );
    }
}
