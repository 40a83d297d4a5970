//! The bridge from a [`Resolved`] answer to the output writers of
//! [`crate::output`], which own every format; the server keeps no copy of
//! any of them. This module only picks the writer and its inputs: which
//! kind of Apple profile an account can have, and placeholders for
//! autoconfig requests that came without an address.

use super::error::AppError;
use super::resolve::Resolved;
use crate::provider::IosAccount;

/// What Apple profile an account can have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileKind {
    /// An IMAP or POP3 account with its SMTP server.
    Mail,
    /// An Exchange account that signs in with Microsoft (OAuth).
    Exchange,
    /// None: why, and what to do instead.
    Refused(String),
}

/// The profile `r` can have: a mail account unless every server takes
/// only OAuth, then Exchange for Microsoft's providers, and nothing for
/// others (their own account type on the iPhone is the way).
pub fn profile_kind(r: &Resolved) -> ProfileKind {
    let s = &r.lookup.settings;
    if !s.oauth_only() {
        return ProfileKind::Mail;
    }
    match r.ios {
        Some(IosAccount::Outlook | IosAccount::Exchange) => ProfileKind::Exchange,
        Some(other) => ProfileKind::Refused(format!(
            "No profile can set this account up: the provider accepts only its own sign-in (OAuth). On the iPhone add it as {} (Settings › Apps › Mail › Mail Accounts › Add Account › {}).",
            other.label(),
            other.label()
        )),
        None => ProfileKind::Refused(
            "No profile can set this account up: the provider accepts only its own sign-in (OAuth), which the iPhone's Mail app offers only for its built-in account types. Use the provider's own app.".into(),
        ),
    }
}

/// Puts `%EMAILADDRESS%` back where an answer for the placeholder address
/// `%EMAILLOCALPART%@domain` has it expanded, for autoconfig requests
/// without an address.
pub fn restore_placeholders(r: &mut Resolved) {
    let expanded = format!("%EMAILLOCALPART%@{}", r.email.domain());
    let s = &mut r.lookup.settings;
    for server in s.incoming.iter_mut().chain(s.outgoing.iter_mut()) {
        if server.username == expanded {
            server.username = "%EMAILADDRESS%".into();
        }
    }
}

fn pending(format: &str) -> AppError {
    AppError::Internal(format!("the {format} writer is not part of this build yet"))
}

/// Thunderbird autoconfig XML.
pub fn autoconfig(_r: &Resolved) -> Result<String, AppError> {
    Err(pending("autoconfig"))
}

/// The Outlook POX Autodiscover response.
pub fn autodiscover(_r: &Resolved) -> Result<String, AppError> {
    Err(pending("Autodiscover"))
}

/// The unsigned Apple profile, or why there is none (422).
pub fn mobileconfig(r: &Resolved) -> Result<Vec<u8>, AppError> {
    match profile_kind(r) {
        ProfileKind::Refused(why) => Err(AppError::Unprocessable(why)),
        _ => Err(pending("mobileconfig")),
    }
}

/// The iPhone steps, plain text.
pub fn ios_steps(_r: &Resolved) -> Result<String, AppError> {
    Err(pending("iPhone steps"))
}
