//! The bridge from a [`Resolved`] answer to the writers of each format
//! ([`crate::autoconfig`], [`crate::autodiscover`], [`crate::apple`]), which
//! own them; the server keeps no copy of
//! any of them. This module only picks the writer and its inputs: which
//! kind of Apple profile an account can have, the domain's calendar and
//! contacts servers and short name, and placeholders for autoconfig
//! requests that came without an address.
//!
//! It also keeps the rule that nothing unverified is handed to a device:
//! the files that set up a device (autoconfig, Autodiscover, the Apple
//! profile) are never written from settings whose trust is `unverified`,
//! and never carry a server without encryption (such servers are left
//! out; when a direction has no other, nothing is written). Both are
//! refused with 422 and a reason written for the person reading it; the
//! page and the iPhone steps, read by a person, still show them with the
//! page's warning.

use super::error::AppError;
use super::resolve::Resolved;
use crate::apple::mobileconfig;
use crate::apple::sign::Signer;
use crate::profile::{self, Format, ProfileError, Request};
use crate::settings::{Settings, Trust};

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
    let safe = match device_settings(r) {
        Ok(s) => s,
        Err(e) => return ProfileKind::Refused(e.message()),
    };
    match render_settings(r, &safe, Format::Mobileconfig, false, None) {
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

/// The settings of `r` that may go into a file that sets up a device; 422
/// with the reason when there are none.
pub fn device_settings(r: &Resolved) -> Result<Settings, AppError> {
    let settings = &r.lookup.settings;
    let domain = r.email.domain();
    if settings.trust == Trust::Unverified {
        return Err(AppError::Unprocessable(format!(
            "the settings found for {domain} are unverified: they came over plain HTTP or from DNS records without DNSSEC, where anyone on the way could have changed them to servers of their own and so received your password. No file that sets up a device is handed out for them: compare them with your mail provider's own instructions and set the account up by hand."
        )));
    }
    profile::without_unencrypted(settings, false, false).map_err(|which| {
        AppError::Unprocessable(format!(
            "the {} server found for {domain} has no encryption, so your password would cross the network readable by anyone on the way. No file that sets up a device is handed out for it: ask your mail provider for a server with TLS.",
            which.word()
        ))
    })
}

fn render_settings(
    r: &Resolved,
    settings: &Settings,
    format: Format,
    exchange: bool,
    signer: Option<&Signer>,
) -> Result<profile::Rendered, ProfileError> {
    let dav = r.dav();
    profile::render(&Request {
        email: &r.email,
        settings,
        format,
        exchange,
        signer,
        options: &options(r),
        dav: Some(&dav),
        short_name: r.domain.as_ref().map(|d| d.short_name.as_str()),
    })
}

/// `format` for `r`, from the settings a device may have when `device`.
fn text(r: &Resolved, format: Format, device: bool) -> Result<String, AppError> {
    let settings = if device {
        device_settings(r)?
    } else {
        r.lookup.settings.clone()
    };
    // ProfileError's message names no command-line flag: it fits the web.
    let out = render_settings(r, &settings, format, false, None)
        .map_err(|e| AppError::Unprocessable(e.to_string()))?;
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
    text(r, Format::Autoconfig, true)
}

/// The Outlook POX Autodiscover response.
pub fn autodiscover(r: &Resolved) -> Result<String, AppError> {
    text(r, Format::Autodiscover, true)
}

/// The iPhone steps as data, for the page.
pub fn ios_guide(r: &Resolved) -> crate::apple::ios_steps::Steps {
    let dav = r.dav();
    profile::ios_steps(&Request {
        email: &r.email,
        settings: &r.lookup.settings,
        format: Format::IosSteps,
        exchange: false,
        signer: None,
        options: &options(r),
        dav: Some(&dav),
        short_name: r.domain.as_ref().map(|d| d.short_name.as_str()),
    })
}

/// The iPhone steps, plain text.
pub fn ios_steps(r: &Resolved) -> Result<String, AppError> {
    text(r, Format::IosSteps, false)
}

/// The Apple profile, signed by `signer` when given; 422 with the reason
/// when the account can have none.
pub fn mobileconfig(r: &Resolved, signer: Option<&Signer>) -> Result<Vec<u8>, AppError> {
    let exchange = match profile_kind(r) {
        ProfileKind::Refused(why) => return Err(AppError::Unprocessable(why)),
        kind => kind == ProfileKind::Exchange,
    };
    let settings = device_settings(r)?;
    match render_settings(r, &settings, Format::Mobileconfig, exchange, signer) {
        Ok(out) => Ok(out.bytes),
        Err(ProfileError::Sign(e)) => Err(AppError::Internal(format!("signing a profile: {e}"))),
        Err(e) => Err(AppError::Unprocessable(e.to_string())),
    }
}
