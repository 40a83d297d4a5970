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

use super::iphone::{self, IosServer, SettingsPath};
use crate::address::EmailAddress;
use crate::dav::{DavAccount, DavKind};
use crate::provider::IosAccount;
use crate::settings::{Security, Settings, Trust};
use crate::text::wrap;

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

/// The instructions as data, for writers other than plain text (the
/// service's page renders them as HTML ordered lists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Steps {
    /// "Setting up someone@msn.com on an iPhone (Outlook.com)".
    pub title: String,
    /// A warning for settings from an unverified source.
    pub warning: Option<String>,
    /// The ways to set the account up, in order.
    pub sections: Vec<Section>,
}

/// One way to set the account up, or a paragraph saying why there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// What the section is for.
    pub kind: SectionKind,
    /// The heading; `None` for a paragraph without steps.
    pub heading: Option<String>,
    /// A paragraph (when there are no steps: why).
    pub text: Option<String>,
    /// The numbered steps.
    pub steps: Vec<Step>,
}

/// What a section sets up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionKind {
    /// The iPhone's built-in account type for the provider.
    BuiltIn,
    /// Other › Add Mail Account, or why it cannot work.
    ByHand,
    /// CalDAV and CardDAV accounts.
    CalendarsContacts,
}

/// One numbered step: a sentence, the fields it fills in, and a closing
/// sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What to do.
    pub text: String,
    /// The fields to fill in, in the iPhone's order.
    pub fields: Vec<Field>,
    /// What to do after filling them in.
    pub after: Option<String>,
}

/// A field of the iPhone's form and what to put in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The iPhone's label ("Host Name").
    pub label: String,
    /// The value, or what to choose.
    pub value: String,
    /// Whether `value` is to be typed exactly (a host name, port, user
    /// name, address or URL), rather than a description of what to type.
    pub literal: bool,
}

impl Step {
    fn new(text: impl Into<String>) -> Step {
        Step {
            text: text.into(),
            fields: Vec::new(),
            after: None,
        }
    }

    fn field(mut self, label: &str, value: impl Into<String>, literal: bool) -> Step {
        self.fields.push(Field {
            label: label.into(),
            value: value.into(),
            literal,
        });
        self
    }
}

/// The instructions, as data.
pub fn steps(g: &Guide<'_>) -> Steps {
    let name = g
        .settings
        .provider
        .as_ref()
        .map(|p| p.name.clone())
        .unwrap_or_else(|| g.email.domain_unicode().to_string());
    let warning = (g.settings.trust == Trust::Unverified).then(|| {
        "! These settings come from an unverified source: confirm them with your provider before you type your password.".to_string()
    });
    let mut sections = Vec::new();
    if let Some(account) = g.built_in {
        sections.push(built_in(g.email, account, &name));
    }
    match iphone::servers(g.settings) {
        Ok(servers) => {
            let app_password = g.settings.notes.iter().any(|n| n.code == "app-password");
            let heading = match (g.built_in.is_some(), app_password) {
                (true, true) => "Or by hand, with an app password",
                (true, false) => "Or by hand",
                (false, _) => "By hand",
            };
            let tab = iphone::tab(servers.incoming.server.protocol);
            let password = if app_password {
                "an app password (see below), not your normal password".to_string()
            } else {
                format!("your {name} password")
            };
            sections.push(Section {
                kind: SectionKind::ByHand,
                heading: Some(format!("{heading} ({tab})")),
                text: None,
                steps: by_hand(g.email, &name, &password, servers),
            });
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
            sections.push(Section {
                kind: SectionKind::ByHand,
                heading: None,
                text: Some(text),
                steps: Vec::new(),
            });
        }
    }
    if let Some(dav) = g.dav.filter(|d| !d.dav.is_empty()) {
        sections.push(Section {
            kind: SectionKind::CalendarsContacts,
            heading: Some("Calendars and contacts".into()),
            text: None,
            steps: dav_accounts(&dav, &name),
        });
    }
    Steps {
        title: format!("Setting up {} on an iPhone ({name})", g.email),
        warning,
        sections,
    }
}

/// The instructions, as text.
pub fn write(g: &Guide<'_>) -> String {
    let s = steps(g);
    let mut out = String::new();
    let _ = writeln!(out, "{}", s.title);
    if let Some(w) = &s.warning {
        out.push('\n');
        out.push_str(&wrap(w, WIDTH, 0));
    }
    for section in &s.sections {
        out.push('\n');
        if let Some(h) = &section.heading {
            let _ = writeln!(out, "{h}");
        }
        if let Some(t) = &section.text {
            out.push_str(&wrap(t, WIDTH, 0));
        }
        for (i, step) in section.steps.iter().enumerate() {
            let body = wrap(&step.text, WIDTH, 5);
            let _ = write!(out, "  {:>1}. {}", i + 1, body.trim_start());
            for f in &step.fields {
                let _ = writeln!(out, "       {:<15}{}", f.label, f.value);
            }
            if let Some(a) = &step.after {
                let _ = writeln!(out, "     {a}");
            }
        }
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

fn built_in(email: &EmailAddress, account: IosAccount, name: &str) -> Section {
    let path = SettingsPath::add_account(account);
    let sign_in = iphone::sign_in_words(account);
    let second = if account == IosAccount::Exchange {
        format!("Type Email {email} and Description {name}, tap Next, then {sign_in}.")
    } else {
        format!("{} with {email}.", capitalized(sign_in))
    };
    Section {
        kind: SectionKind::BuiltIn,
        heading: Some(format!(
            "The iPhone has a built-in account type for {name}: use it first."
        )),
        text: None,
        steps: vec![
            Step::new(format!("Open {}.", path.sentence())),
            Step::new(second),
            Step::new("Leave Mail switched on and tap Save."),
        ],
    }
}

fn by_hand(
    email: &EmailAddress,
    name: &str,
    password: &str,
    servers: iphone::IosServers<'_>,
) -> Vec<Step> {
    let (incoming, outgoing) = (servers.incoming, servers.outgoing);
    let path = SettingsPath::add_mail_account();
    let advanced = SettingsPath::accounts(&[name, "Account", "Advanced"]);
    let mut last = security_fields(
        Step::new(format!(
            "Go back to Account, tap SMTP, then {} under PRIMARY SERVER, and set:",
            outgoing.server.host
        )),
        &outgoing,
    );
    last.after = Some("Tap Done.".into());
    vec![
        Step::new(format!("Open {}.", path.sentence())),
        Step::new("Fill in, then tap Next:")
            .field("Name", "your name, as recipients should see it", false)
            .field("Email", email.ascii(), true)
            .field("Password", password, false)
            .field("Description", name, false),
        Step::new(format!(
            "Tap {} at the top.",
            iphone::tab(incoming.server.protocol)
        )),
        login_fields(Step::new("Under INCOMING MAIL SERVER:"), &incoming),
        login_fields(Step::new("Under OUTGOING MAIL SERVER:"), &outgoing),
        Step::new(
            "Tap Next. When the iPhone has checked the account, leave Mail switched on and tap Save.",
        ),
        security_fields(
            Step::new(format!(
                "Open {}. Under INCOMING SETTINGS set:",
                advanced.sentence()
            )),
            &incoming,
        ),
        last,
    ]
}

/// Calendar and contacts accounts: Settings › Apps › Calendar (Contacts) ›
/// … › Add Account › Other › Add CalDAV (CardDAV) Account.
fn dav_accounts(dav: &DavAccount<'_>, name: &str) -> Vec<Step> {
    let mut steps = Vec::new();
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
        steps.push(Step::new(format!("Open {}.", path.sentence())));
        let user = if dav.username.is_empty() {
            ("your user name", false)
        } else {
            (dav.username, true)
        };
        steps.push(
            Step::new("Fill in, then tap Next:")
                .field("Server", server.url(), true)
                .field("User Name", user.0, user.1)
                .field("Password", "the same password as for mail", false)
                .field("Description", format!("{name} {what}"), false),
        );
        steps.push(Step::new(format!(
            "Leave {} switched on and tap Save.",
            app_toggle(kind)
        )));
    }
    steps
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

fn login_fields(step: Step, s: &IosServer<'_>) -> Step {
    let step = step.field("Host Name", s.server.host.clone(), true);
    if s.auth.needs_password() && !s.server.username.is_empty() {
        step.field("User Name", s.server.username.clone(), true)
            .field("Password", "the same password", false)
    } else {
        step.field("User Name", "leave empty", false)
            .field("Password", "leave empty", false)
    }
}

fn security_fields(step: Step, s: &IosServer<'_>) -> Step {
    let ssl = match s.server.security {
        Security::Tls => "on",
        Security::Starttls => "on (the iPhone then uses STARTTLS on this port)",
        Security::None => {
            "off (this server has no encryption: your password can be read on the way; do this only if your provider says so)"
        }
    };
    step.field("Use SSL", ssl, false)
        .field("Authentication", s.auth.label(), false)
        .field("Server Port", s.server.port.to_string(), true)
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
