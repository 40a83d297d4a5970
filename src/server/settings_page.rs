//! The settings page at `/`: the iPhone user's front door.
//!
//! One labelled input; the answer appears on the same page. With
//! JavaScript (`assets/app.js`) the form is answered from
//! `/api/v1/lookup` without a reload; without it the form is a plain GET
//! and this module renders the same answer on the server, with the same
//! markup. The answer leads with what matters most: for OAuth-only
//! providers the iPhone's built-in account type, otherwise the profile
//! download and a QR code that opens it on a phone; then the provider's
//! notes, the settings table and the manual steps.
//!
//! Every value that came from a request or from discovery is HTML-escaped
//! ([`esc`]); the page, its CSS and script are compiled into the binary and
//! served with a Content-Security-Policy that allows nothing else.

use std::fmt::Write;

use quick_xml::escape::escape;

use super::config::PageConfig;
use super::error::AppError;
use super::render::ProfileKind;
use super::resolve::Resolved;
use crate::apple::ios_steps::{SectionKind, Steps};
use crate::settings::{AuthMethod, Security, Server};

/// The page's HTML around the answer.
const INDEX: &str = include_str!("assets/index.html");
/// The style sheet.
pub const STYLE: &str = include_str!("assets/style.css");
/// The script that answers the form without a reload.
pub const SCRIPT: &str = include_str!("assets/app.js");

/// The Content-Security-Policy of the page.
pub const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Note codes shown first and highlighted (the same as the CLI's).
const IMPORTANT: &[&str] = &[
    "oauth-required",
    "oauth-recommended",
    "app-password",
    "enable-imap",
    "enable-pop",
    "provider-status",
];

/// HTML-escapes `s` for text and quoted attribute values.
pub fn esc(s: &str) -> std::borrow::Cow<'_, str> {
    escape(s)
}

/// Everything the answer shows besides the settings.
pub struct Answer<'a> {
    /// The settings.
    pub resolved: &'a Resolved,
    /// What profile can be offered.
    pub profile: ProfileKind,
    /// The profile's absolute URL (when one is offered).
    pub profile_url: String,
    /// The QR code of `profile_url`, as inline SVG; empty for none.
    pub qr_svg: String,
    /// The iPhone steps.
    pub steps: Steps,
}

/// The full page: the form with `typed` in it, and `outcome` below.
pub fn page(
    operator: &PageConfig,
    typed: &str,
    outcome: Option<Result<Answer<'_>, String>>,
) -> String {
    let result = match outcome {
        None => String::new(),
        Some(Ok(a)) => answer(&a),
        Some(Err(message)) => format!(r#"<p class="error" role="alert">{}</p>"#, esc(&message)),
    };
    INDEX
        .replace("{{title}}", &title(operator))
        .replace("{{operator}}", &header(operator))
        .replace("{{help}}", &help(operator))
        .replace("{{email}}", &esc(typed))
        .replace("{{result}}", &result)
}

fn title(p: &PageConfig) -> String {
    match &p.name {
        Some(n) => format!("Set up your email — {}", esc(n)),
        None => "Set up your email".into(),
    }
}

/// The operator's logo and name above the form.
fn header(p: &PageConfig) -> String {
    let mut h = String::new();
    if p.logo.is_none() && p.name.is_none() {
        return h;
    }
    h.push_str(r#"<header class="operator">"#);
    if p.logo.is_some() {
        let alt = p
            .name
            .as_deref()
            .map_or(String::new(), |n| esc(n).into_owned());
        let _ = write!(h, r#"<img class="logo" src="/static/logo" alt="{alt}">"#);
    }
    if let Some(n) = &p.name {
        let _ = write!(h, r#"<p class="operator-name">{}</p>"#, esc(n));
    }
    h.push_str("</header>");
    h
}

/// Where to get help, below the answer.
fn help(p: &PageConfig) -> String {
    match &p.help_url {
        Some(url) => {
            let text = p.help_text.as_deref().or(p.name.as_deref()).map_or_else(
                || "Ask your mail provider's help desk".to_string(),
                |n| format!("Help: {n}"),
            );
            format!(
                r#"<footer class="help"><p>Still stuck? <a href="{}" rel="noopener">{}</a></p></footer>"#,
                esc(url),
                esc(&text)
            )
        }
        None => String::new(),
    }
}

/// The answer section.
pub fn answer(a: &Answer<'_>) -> String {
    let l = &a.resolved.lookup;
    let s = &l.settings;
    let mut h = String::new();
    let provider = s.provider.as_ref().map(|p| p.name.as_str());
    let title = match provider {
        Some(p) => format!("{} — {}", esc(&l.email), esc(p)),
        None => esc(&l.email).into_owned(),
    };
    let _ = write!(h, "<h2>{title}</h2>");
    if s.oauth_only() {
        // The iPhone's own name for the account type: "Microsoft Exchange"
        // for Microsoft 365, "Outlook.com" for Outlook.com.
        let label = match a.resolved.ios {
            Some(account) => account.label().to_string(),
            None => provider.unwrap_or("the provider's").to_string(),
        };
        let _ = write!(
            h,
            r#"<div class="lead" id="builtin"><h3>Use the iPhone's built-in {label} account</h3><p>{who} accepts only sign-in on its own page (OAuth): a password typed into the Mail app does not work. The first steps below show where to add the account.</p></div>"#,
            label = esc(&label),
            who = esc(provider.unwrap_or("This provider")),
        );
    }
    for n in s
        .notes
        .iter()
        .filter(|n| IMPORTANT.contains(&n.code.as_str()))
    {
        note(&mut h, n, true);
    }
    match &a.profile {
        ProfileKind::Refused(why) => {
            let mut c = why.chars();
            let why: String = c
                .next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default();
            let _ = write!(h, r#"<p class="note" id="no-profile">{}</p>"#, esc(&why));
        }
        kind => {
            let (label, hint) = match kind {
                ProfileKind::Exchange => (
                    "Download the Exchange (OAuth) profile",
                    format!(
                        "On the iPhone: tap it in Safari, then open Settings › Profile Downloaded and tap Install. The iPhone then opens {}'s sign-in page; no password goes into the profile.",
                        provider.unwrap_or("the provider")
                    ),
                ),
                _ => (
                    "Download profile",
                    "On the iPhone: tap it in Safari, then open Settings › Profile Downloaded and tap Install. The iPhone asks for the password; it is never part of the profile.".to_string(),
                ),
            };
            let _ = write!(
                h,
                r#"<div class="profile"><p><a class="download" id="profile-link" href="{url}">{label}</a></p><p class="hint" id="profile-hint">{hint}</p>{qr}</div>"#,
                url = esc(&a.profile_url),
                hint = esc(&hint),
                qr = if a.qr_svg.is_empty() {
                    String::new()
                } else {
                    format!(
                        r#"<figure class="qr" id="qr">{}<figcaption>Or scan this with the iPhone's camera to open the profile.</figcaption></figure>"#,
                        a.qr_svg
                    )
                },
            );
        }
    }
    steps(&mut h, &a.steps);
    h.push_str(r#"<table class="settings"><caption>All settings</caption>"#);
    if let Some(i) = s.incoming.first() {
        server_rows(&mut h, "Incoming mail server", i);
    }
    if let Some(o) = s.outgoing.first() {
        server_rows(&mut h, "Outgoing mail server", o);
    }
    h.push_str("</table>");
    let others: Vec<&Server> = s
        .incoming
        .iter()
        .skip(1)
        .chain(s.outgoing.iter().skip(1))
        .collect();
    if !others.is_empty() {
        h.push_str(r#"<h3>Alternatives</h3><ul class="alternatives">"#);
        for o in others {
            let _ = write!(h, "<li>{}</li>", value(&o.url().to_string(), "server"));
        }
        h.push_str("</ul>");
    }
    for n in s
        .notes
        .iter()
        .filter(|n| !IMPORTANT.contains(&n.code.as_str()))
    {
        note(&mut h, n, false);
    }
    h
}

/// The iPhone steps as ordered lists, each field a labelled row. The
/// provider's notes are not repeated here: the answer shows each once.
fn steps(h: &mut String, st: &Steps) {
    h.push_str(r#"<section class="steps" id="steps"><h3>Step by step on the iPhone</h3>"#);
    if let Some(w) = &st.warning {
        let _ = write!(
            h,
            r#"<p class="note important">{}</p>"#,
            esc(w.trim_start_matches("! "))
        );
    }
    for section in &st.sections {
        let id = match section.kind {
            SectionKind::BuiltIn => "steps-built-in",
            SectionKind::ByHand => "steps-by-hand",
            SectionKind::CalendarsContacts => "steps-dav",
        };
        let _ = write!(h, r#"<div class="way" id="{id}">"#);
        if let Some(heading) = &section.heading {
            let _ = write!(h, "<h4>{}</h4>", esc(heading));
        }
        if let Some(text) = &section.text {
            let _ = write!(h, "<p>{}</p>", esc(text));
        }
        if !section.steps.is_empty() {
            h.push_str("<ol>");
            for step in &section.steps {
                let _ = write!(h, "<li><p>{}</p>", esc(&step.text));
                if !step.fields.is_empty() {
                    h.push_str(r#"<dl class="fields">"#);
                    for f in &step.fields {
                        let shown = if f.literal {
                            value(&f.value, &f.label)
                        } else {
                            format!(r#"<span class="say">{}</span>"#, esc(&f.value))
                        };
                        let _ = write!(
                            h,
                            r#"<div class="field"><dt>{}</dt><dd>{shown}</dd></div>"#,
                            esc(&f.label)
                        );
                    }
                    h.push_str("</dl>");
                }
                if let Some(after) = &step.after {
                    let _ = write!(h, "<p>{}</p>", esc(after));
                }
                h.push_str("</li>");
            }
            h.push_str("</ol>");
        }
        h.push_str("</div>");
    }
    h.push_str("</section>");
}

/// A value to type exactly: never broken inside, with a copy button that
/// the script shows (without JavaScript it stays hidden).
fn value(v: &str, label: &str) -> String {
    format!(
        r#"<span class="value-row"><code class="value">{v}</code><button type="button" class="copy" data-copy="{v}" aria-label="Copy {label}" hidden>Copy</button></span>"#,
        v = esc(v),
        label = esc(label)
    )
}

/// An error in words for the person who typed `typed`, not for a program.
pub fn for_people(e: &AppError, typed: &str) -> String {
    let domain = typed.rsplit_once('@').map_or("", |(_, d)| d.trim());
    match e {
        AppError::Address(why) => format!(
            "“{}” is not a complete email address ({why}). Type it as name@example.com.",
            typed.trim()
        ),
        AppError::NotFound(m) if m.starts_with("this service answers") => m.clone(),
        AppError::NotFound(_) => format!(
            "No settings were found for {domain}. Check the spelling of the address. If it is right, ask your email provider for the names of its incoming (IMAP) and outgoing (SMTP) mail servers."
        ),
        AppError::RateLimited(secs) => format!(
            "Too many lookups from your network just now. Try again in {secs} seconds."
        ),
        AppError::Internal(_) => "Something went wrong on our side. Try again in a minute; if it keeps happening, tell the people who run this page.".into(),
        other => other.message(),
    }
}

fn note(h: &mut String, n: &crate::settings::Note, important: bool) {
    let class = if important { "note important" } else { "note" };
    let _ = write!(
        h,
        r#"<p class="{class}" data-code="{}">{}"#,
        esc(&n.code),
        esc(&n.text)
    );
    if let Some(url) = &n.url
        && url.starts_with("https://")
    {
        let _ = write!(h, r#" <a href="{}" rel="noopener">More</a>"#, esc(url));
    }
    h.push_str("</p>");
}

fn server_rows(h: &mut String, title: &str, s: &Server) {
    let ssl = match s.security {
        Security::Tls => "On (SSL/TLS)",
        Security::Starttls => "On (STARTTLS)",
        Security::None => "Off",
    };
    let auth = s
        .auth
        .iter()
        .map(|a| AuthMethod::label(*a))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = write!(
        h,
        r#"<tr><th colspan="2" scope="colgroup">{title} ({proto})</th></tr><tr><th scope="row">Host Name</th><td>{host}</td></tr><tr><th scope="row">User Name</th><td>{user}</td></tr><tr><th scope="row">Server Port</th><td>{port}</td></tr><tr><th scope="row">Use SSL</th><td>{ssl}</td></tr><tr><th scope="row">Authentication</th><td>{auth}</td></tr>"#,
        proto = s.protocol.label(),
        host = value(&s.host, "host name"),
        user = value(&s.username, "user name"),
        port = value(&s.port.to_string(), "port"),
        auth = esc(&auth),
    );
}

/// A QR code of `text` as inline SVG.
pub fn qr_svg(text: &str) -> Result<String, AppError> {
    let code = qrcode::QrCode::new(text.as_bytes()).map_err(|e| {
        AppError::BadRequest(format!("the profile link is too long for a QR code: {e}"))
    })?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(232, 232)
        .quiet_zone(true)
        .build();
    // The renderer starts with an XML declaration, which has no place
    // inside HTML; the <svg> element itself is kept as rendered.
    let start = svg.find("<svg").unwrap_or(0);
    Ok(svg[start..].replacen(
        "<svg ",
        r#"<svg role="img" aria-label="QR code that opens the profile" "#,
        1,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_text_is_escaped_in_the_form() {
        let html = page(
            &PageConfig::default(),
            r#""><script>alert(1)</script>"#,
            None,
        );
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&quot;&gt;&lt;script&gt;"));
    }

    #[test]
    fn errors_are_escaped() {
        let html = page(
            &PageConfig::default(),
            "x",
            Some(Err("<img src=x onerror=alert(1)>".into())),
        );
        assert!(!html.contains("<img src=x"));
        assert!(html.contains(r#"role="alert""#));
    }

    #[test]
    fn qr_codes_are_inline_svg() {
        let svg =
            qr_svg("https://example.com/apple/mobileconfig?emailaddress=a%40b.example").unwrap();
        assert!(svg.starts_with("<svg role=\"img\""), "{}", &svg[..60]);
        assert!(!svg.contains("<?xml"));
        assert!(qr_svg(&"x".repeat(5000)).is_err());
    }
}
