//! The `[page]` table: who runs the settings page. The operator's name
//! heads the page, a logo (a local image file, served from memory so the
//! page's Content-Security-Policy stays `'self'`) stands beside it, and a
//! help link tells people where to go when the settings do not work.
//!
//! ```toml
//! [page]
//! name = "Example Mail"
//! logo = "/etc/mailsetup/logo.svg"     # PNG, SVG, JPEG or WebP, at most 256 KiB
//! help_url = "https://help.example.com/mail"
//! help_text = "Example Mail help desk"
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use super::{At, ConfigError};

/// The largest logo file accepted.
pub const LOGO_MAX_BYTES: u64 = 256 * 1024;

/// The page's operator settings; all optional.
#[derive(Debug, Clone, Default)]
pub struct PageConfig {
    /// The operator's name, shown above the form and in the title.
    pub name: Option<String>,
    /// The logo, read when the configuration is loaded.
    pub logo: Option<Logo>,
    /// Where people get help (https:// or mailto:).
    pub help_url: Option<String>,
    /// The words of the help link.
    pub help_text: Option<String>,
}

/// An image served at `/static/logo`.
#[derive(Debug, Clone)]
pub struct Logo {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its media type, from the file name.
    pub content_type: &'static str,
    /// The image.
    pub bytes: Arc<[u8]>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FilePage {
    name: Option<Spanned<String>>,
    logo: Option<Spanned<PathBuf>>,
    help_url: Option<Spanned<String>>,
    help_text: Option<Spanned<String>>,
}

pub(super) fn page(p: &FilePage, base: &Path, at: &At) -> Result<PageConfig, ConfigError> {
    let text = |v: &Option<Spanned<String>>, key: &str, max: usize| match v {
        Some(s) if s.get_ref().trim().is_empty() || s.get_ref().chars().count() > max => Err(at(
            s.span(),
            format!("[page] {key} must have 1 to {max} characters; shorten it or leave it out"),
        )),
        Some(s) => Ok(Some(s.get_ref().trim().to_string())),
        None => Ok(None),
    };
    let name = text(&p.name, "name", 80)?;
    let help_text = text(&p.help_text, "help_text", 80)?;
    let help_url = match &p.help_url {
        Some(u)
            if !(u.get_ref().starts_with("https://") || u.get_ref().starts_with("mailto:"))
                || u.get_ref()
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control()) =>
        {
            return Err(at(
                u.span(),
                format!(
                    "[page] help_url '{}' must be an https:// or mailto: link without spaces, such as \"https://help.example.com/mail\"",
                    u.get_ref()
                ),
            ));
        }
        Some(u) => Some(u.get_ref().clone()),
        None => None,
    };
    let logo = p.logo.as_ref().map(|l| logo(l, base, at)).transpose()?;
    Ok(PageConfig {
        name,
        logo,
        help_url,
        help_text,
    })
}

fn logo(l: &Spanned<PathBuf>, base: &Path, at: &At) -> Result<Logo, ConfigError> {
    let path = base.join(l.get_ref());
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let content_type = match ext.as_str() {
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        _ => {
            return Err(at(
                l.span(),
                format!(
                    "[page] logo {} must be a .png, .svg, .jpg or .webp file",
                    path.display()
                ),
            ));
        }
    };
    let too_big = |n: u64| {
        at(
            l.span(),
            format!(
                "[page] logo {} has {n} bytes: use an image of at most {LOGO_MAX_BYTES} bytes",
                path.display()
            ),
        )
    };
    let meta = std::fs::metadata(&path).map_err(|e| {
        at(
            l.span(),
            format!(
                "[page] logo file {} cannot be read ({e}): give the path of an image file",
                path.display()
            ),
        )
    })?;
    if meta.len() > LOGO_MAX_BYTES {
        return Err(too_big(meta.len()));
    }
    let bytes = std::fs::read(&path).map_err(|e| {
        at(
            l.span(),
            format!("[page] logo file {} cannot be read ({e})", path.display()),
        )
    })?;
    if bytes.len() as u64 > LOGO_MAX_BYTES {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(Logo {
        path,
        content_type,
        bytes: bytes.into(),
    })
}
