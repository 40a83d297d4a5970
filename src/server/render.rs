//! The bridge from a [`Resolved`] answer to the output writers of
//! [`crate::output`], which own every format; the server keeps no copy of
//! any of them. This module only picks the writer and its inputs: which
//! kind of Apple profile an account can have, the domain's calendar and
//! contacts servers and short name, and placeholders for autoconfig
//! requests that came without an address.

use super::error::AppError;
use super::resolve::Resolved;
use crate::output::mobileconfig;
use crate::profile::{self, Format, ProfileError, Request};
use crate::sign::Signer;

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

/// The profile `r` can have, by the profile policy of [`crate::profile`]:
/// a mail account where passwords work; for Microsoft accounts that take
/// only OAuth, the Exchange account that signs in with Microsoft; for
/// others, none (the message names the iPhone's built-in account type).
pub fn profile_kind(r: &Resolved) -> ProfileKind {
    match render(r, Format::Mobileconfig, false, None) {
        Ok(_) => ProfileKind::Mail,
        Err(ProfileError::OauthOnly { exchange: true, .. }) => ProfileKind::Exchange,
        Err(e) => ProfileKind::Refused(e.to_string()),
    }
}

fn options(r: &Resolved) -> mobileconfig::Options {
    match &r.domain {
        // Profiles an operator hands out carry the operator's identity.
        Some(d) => mobileconfig::Options {
            identifier_prefix: d.name.rsplit('.').collect::<Vec<_>>().join("."),
            organization: Some(d.display_name.clone()),
            account_name: None,
        },
        None => mobileconfig::Options::default(),
    }
}

fn render(
    r: &Resolved,
    format: Format,
    exchange: bool,
    signer: Option<&Signer>,
) -> Result<profile::Rendered, ProfileError> {
    let dav = r.dav();
    profile::render(&Request {
        email: &r.email,
        settings: &r.lookup.settings,
        format,
        exchange,
        signer,
        options: &options(r),
        dav: Some(&dav),
        short_name: r.domain.as_ref().map(|d| d.short_name.as_str()),
    })
}

fn text(r: &Resolved, format: Format) -> Result<String, AppError> {
    // ProfileError's message names no command-line flag: it fits the web.
    let out = render(r, format, false, None).map_err(|e| AppError::Unprocessable(e.to_string()))?;
    String::from_utf8(out.bytes)
        .map_err(|_| AppError::Internal(format!("the {format} writer wrote something not UTF-8")))
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

/// Thunderbird autoconfig XML.
pub fn autoconfig(r: &Resolved) -> Result<String, AppError> {
    text(r, Format::Autoconfig)
}

/// The Outlook POX Autodiscover response.
pub fn autodiscover(r: &Resolved) -> Result<String, AppError> {
    text(r, Format::Autodiscover)
}

/// The iPhone steps, plain text.
pub fn ios_steps(r: &Resolved) -> Result<String, AppError> {
    text(r, Format::IosSteps)
}

/// The Apple profile, signed by `signer` when given; 422 with the reason
/// when the account can have none.
pub fn mobileconfig(r: &Resolved, signer: Option<&Signer>) -> Result<Vec<u8>, AppError> {
    let exchange = match profile_kind(r) {
        ProfileKind::Refused(why) => return Err(AppError::Unprocessable(why)),
        kind => kind == ProfileKind::Exchange,
    };
    match render(r, Format::Mobileconfig, exchange, signer) {
        Ok(out) => Ok(out.bytes),
        Err(ProfileError::Sign(e)) => Err(AppError::Internal(format!("signing a profile: {e}"))),
        Err(e) => Err(AppError::Unprocessable(e.to_string())),
    }
}
