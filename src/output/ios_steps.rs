//! Step-by-step instructions for the iPhone's Settings app.
//!
//! For people who cannot or will not install a profile. Every step names
//! the screen, field and toggle in the words the iPhone shows (iOS 18 and
//! later: Settings › Apps › Mail; the older Settings › Mail path too), with
//! the value to type. Where the iPhone has a built-in account type for the
//! provider (Outlook.com, Google, iCloud, Yahoo!, Aol., Microsoft Exchange)
//! that comes first, since it signs in on the provider's own page. Setting
//! up by hand follows unless the provider accepts no password at all; then
//! the calendar and contacts accounts (CalDAV, CardDAV) when the operator
//! names servers for them; the provider's notes (app passwords, switching
//! IMAP on) close the text.

use std::fmt::Write;

use super::dav::{DavAccount, DavKind};
use super::iphone::{self, IosServer, SettingsPath};
use super::text::wrap;
use crate::address::EmailAddress;
use crate::provider::IosAccount;
use crate::settings::{Security, Settings, Trust};

const WIDTH: usize = 78;

/// What the instructions are for.
#[derive(Debug, Clone, Copy)]
pub struct Guide<'a> {
    /// The address.
    pub email: &'a EmailAddress,
    /// Its settings.
    pub settings: &'a Settings,
    /// The iPhone's built-in account type for the provider, if any.
    pub built_in: Option<IosAccount>,
    /// Calendar and contacts servers to add as accounts of their own.
    pub dav: Option<DavAccount<'a>>,
}

/// The instructions, as text.
pub fn write(g: &Guide<'_>) -> String {
    let name = g
        .settings
        .provider
        .as_ref()
        .map(|p| p.name.clone())
        .unwrap_or_else(|| g.email.domain_unicode().to_string());
    let mut out = String::new();
    let _ = writeln!(out, "Setting up {} on an iPhone ({name})", g.email);
    if g.settings.trust == Trust::Unverified {
        out.push('\n');
        out.push_str(&wrap(
            "! These settings come from an unverified source: confirm them with your provider before you type your password.",
            WIDTH,
            0,
        ));
    }
    if let Some(account) = g.built_in {
        out.push('\n');
        built_in(&mut out, g.email, account, &name);
    }
    out.push('\n');
    match iphone::servers(g.settings) {
        Ok(servers) => {
            let app_password = g.settings.notes.iter().any(|n| n.code == "app-password");
            let heading = match (g.built_in.is_some(), app_password) {
                (true, true) => "Or by hand, with an app password",
                (true, false) => "Or by hand",
                (false, _) => "By hand",
            };
            let tab = iphone::tab(servers.incoming.server.protocol);
            let _ = writeln!(out, "{heading} ({tab})");
            let password = if app_password {
                "an app password (see below), not your normal password".to_string()
            } else {
                format!("your {name} password")
            };
            by_hand(&mut out, g.email, &name, &password, servers);
        }
        Err(why) => {
            let text = match g.built_in {
                Some(account) => format!(
                    "Setting the account up by hand (Other › Add Mail Account) does not work: {name} accepts no password from mail apps, only sign-in on its own page, which the Mail app offers through the {} account type above.",
                    account.label()
                ),
                None => format!(
                    "The iPhone's Mail app cannot use this account: {why}. Use {name}'s own app, or a mail app that signs in on {name}'s page (OAuth2)."
                ),
            };
            out.push_str(&wrap(&text, WIDTH, 0));
        }
    }
    if let Some(dav) = g.dav.filter(|d| !d.dav.is_empty()) {
        out.push('\n');
        dav_accounts(&mut out, &dav, &name);
    }
    if !g.settings.notes.is_empty() {
        out.push_str("\nBefore you start\n");
        for n in &g.settings.notes {
            let body = wrap(&n.text, WIDTH, 4);
            let _ = write!(out, "  - {}", body.trim_start());
            if let Some(url) = &n.url {
                let _ = writeln!(out, "    {url}");
            }
        }
    }
    out
}

fn built_in(out: &mut String, email: &EmailAddress, account: IosAccount, name: &str) {
    let _ = writeln!(
        out,
        "The iPhone has a built-in account type for {name}: use it first."
    );
    let path = SettingsPath::add_account(account);
    step(out, 1, &format!("Open {}.", path.sentence()));
    let sign_in = iphone::sign_in_words(account);
    let second = if account == IosAccount::Exchange {
        format!("Type Email {email} and Description {name}, tap Next, then {sign_in}.")
    } else {
        format!("{} with {email}.", capitalized(sign_in))
    };
    step(out, 2, &second);
    step(out, 3, "Leave Mail switched on and tap Save.");
}

fn by_hand(
    out: &mut String,
    email: &EmailAddress,
    name: &str,
    password: &str,
    servers: iphone::IosServers<'_>,
) {
    let (incoming, outgoing) = (servers.incoming, servers.outgoing);
    let path = SettingsPath::add_mail_account();
    step(out, 1, &format!("Open {}.", path.sentence()));
    step(out, 2, "Fill in, then tap Next:");
    field(out, "Name", "your name, as recipients should see it");
    field(out, "Email", &email.ascii());
    field(out, "Password", password);
    field(out, "Description", name);
    step(
        out,
        3,
        &format!("Tap {} at the top.", iphone::tab(incoming.server.protocol)),
    );
    step(out, 4, "Under INCOMING MAIL SERVER:");
    login_fields(out, &incoming);
    step(out, 5, "Under OUTGOING MAIL SERVER:");
    login_fields(out, &outgoing);
    step(
        out,
        6,
        "Tap Next. When the iPhone has checked the account, leave Mail switched on and tap Save.",
    );
    let advanced = SettingsPath::accounts(&[name, "Account", "Advanced"]);
    step(
        out,
        7,
        &format!("Open {}. Under INCOMING SETTINGS set:", advanced.sentence()),
    );
    security_fields(out, &incoming);
    step(
        out,
        8,
        &format!(
            "Go back to Account, tap SMTP, then {} under PRIMARY SERVER, and set:",
            outgoing.server.host
        ),
    );
    security_fields(out, &outgoing);
    let _ = writeln!(out, "     Tap Done.");
}

/// Calendar and contacts accounts: Settings › Apps › Calendar (Contacts) ›
/// … › Add Account › Other › Add CalDAV (CardDAV) Account.
fn dav_accounts(out: &mut String, dav: &DavAccount<'_>, name: &str) {
    let _ = writeln!(out, "Calendars and contacts");
    let mut n = 0;
    for (kind, server) in dav.dav.servers() {
        let (app, what) = match kind {
            DavKind::CalDav => ("Calendar", "calendars"),
            DavKind::CardDav => ("Contacts", "contacts"),
        };
        let add = format!("Add Account › Other › Add {} Account", kind.name());
        let path = SettingsPath {
            current: format!("Settings › Apps › {app} › {app} Accounts › {add}"),
            older: format!("Settings › {app} › Accounts › {add}"),
        };
        n += 1;
        step(out, n, &format!("Open {}.", path.sentence()));
        n += 1;
        step(out, n, "Fill in, then tap Next:");
        field(out, "Server", server.url());
        if dav.username.is_empty() {
            field(out, "User Name", "your user name");
        } else {
            field(out, "User Name", dav.username);
        }
        field(out, "Password", "the same password as for mail");
        field(out, "Description", &format!("{name} {what}"));
        n += 1;
        step(
            out,
            n,
            &format!("Leave {} switched on and tap Save.", app_toggle(kind)),
        );
    }
}

/// The switch the iPhone shows on a new DAV account.
fn app_toggle(kind: DavKind) -> &'static str {
    match kind {
        DavKind::CalDav => "Calendars",
        DavKind::CardDav => "Contacts",
    }
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn step(out: &mut String, n: usize, text: &str) {
    let body = wrap(text, WIDTH, 5);
    let _ = write!(out, "  {n:>1}. {}", body.trim_start());
}

fn field(out: &mut String, label: &str, value: &str) {
    let _ = writeln!(out, "       {label:<15}{value}");
}

fn login_fields(out: &mut String, s: &IosServer<'_>) {
    field(out, "Host Name", &s.server.host);
    if s.auth.needs_password() && !s.server.username.is_empty() {
        field(out, "User Name", &s.server.username);
        field(out, "Password", "the same password");
    } else {
        field(out, "User Name", "leave empty");
        field(out, "Password", "leave empty");
    }
}

fn security_fields(out: &mut String, s: &IosServer<'_>) {
    let ssl = match s.server.security {
        Security::Tls => "on",
        Security::Starttls => "on (the iPhone then uses STARTTLS on this port)",
        Security::None => {
            "off (this server has no encryption: your password can be read on the way; do this only if your provider says so)"
        }
    };
    field(out, "Use SSL", ssl);
    field(out, "Authentication", s.auth.label());
    field(out, "Server Port", &s.server.port.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{AuthMethod, Protocol, Server, Source};

    #[test]
    fn unencrypted_servers_get_a_warning_and_ssl_off() {
        let email: EmailAddress = "me@example.org".parse().unwrap();
        let srv = |protocol, port| Server {
            protocol,
            host: "mail.example.org".into(),
            port,
            security: Security::None,
            auth: vec![AuthMethod::Password],
            username: "me".into(),
        };
        let settings = Settings {
            provider: None,
            incoming: vec![srv(Protocol::Pop3, 110)],
            outgoing: vec![srv(Protocol::Smtp, 587)],
            source: Source::User,
            trust: Trust::Unverified,
            notes: vec![],
        };
        let text = write(&Guide {
            email: &email,
            settings: &settings,
            built_in: None,
            dav: None,
        });
        assert!(text.contains("Tap POP at the top"), "{text}");
        assert!(
            text.contains("Use SSL        off (this server has no encryption"),
            "{text}"
        );
        assert!(text.contains("unverified source"), "{text}");
        assert!(text.contains("By hand (POP)"), "{text}");
    }
}
