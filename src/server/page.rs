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
    /// The iPhone steps, plain text.
    pub steps: String,
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
    let title = match &s.provider {
        Some(p) => format!("{} — {}", esc(&l.email), esc(&p.name)),
        None => esc(&l.email).into_owned(),
    };
    let _ = write!(h, "<h2>{title}</h2>");
    let oauth = s.oauth_only();
    if oauth {
        // The same words as app.js; the oauth-required note that follows
        // names the exact Settings path.
        let name = s.provider.as_ref().map_or("its own", |p| p.name.as_str());
        let _ = write!(
            h,
            r#"<div class="lead" id="builtin"><h3>Use the iPhone's built-in {} account</h3><p>This provider accepts only sign-in with its own page (OAuth), so a password does not work. The note below says where to add it on the iPhone.</p></div>"#,
            esc(name)
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
            let _ = write!(h, r#"<p class="note">{}</p>"#, esc(why));
        }
        kind => {
            let label = match kind {
                ProfileKind::Exchange => "Download the Exchange (OAuth) profile",
                _ => "Download profile",
            };
            let _ = write!(
                h,
                r#"<div class="profile"><p><a class="download" id="profile-link" href="{url}">{label}</a></p><p class="hint">On the iPhone: tap it in Safari, then open Settings › Profile Downloaded and tap Install. The iPhone asks for the password; it is never part of the profile.</p>{qr}</div>"#,
                url = esc(&a.profile_url),
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
    h.push_str(r#"<table class="settings"><caption>Settings to type in</caption>"#);
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
            let _ = write!(h, "<li><code>{}</code></li>", esc(&o.url().to_string()));
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
    let _ = write!(
        h,
        r#"<h3>Set it up by hand on the iPhone</h3><pre class="steps" id="steps">{}</pre>"#,
        esc(&a.steps)
    );
    h
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
        host = esc(&s.host),
        user = esc(&s.username),
        port = s.port,
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
