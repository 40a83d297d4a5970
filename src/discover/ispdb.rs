//! Source 2: a Thunderbird-style ISPDB (`--ispdb-url`, Thunderbird's public
//! one by default): `<url>/<domain>` holds the same autoconfig XML a domain
//! would publish itself.
//!
//! The MX source asks the same database for the MX host's domain, through
//! [`ask`].

use std::sync::Arc;

use reqwest::Url;

use super::autoconfig::fetch_config;
use super::trail::TryResult;
use super::{Ctx, Found, Rank};
use crate::settings::{Settings, Source, Trust};

/// Runs the source.
pub async fn run(ctx: Arc<Ctx>) -> Option<Found> {
    let settings = ask(&ctx, &ctx.domain, Source::Ispdb).await?;
    let rank = match settings.trust {
        Trust::Verified => Rank::Ispdb,
        Trust::Unverified => Rank::Http,
    };
    Some(Found { rank, settings })
}

/// The ISPDB's entry for `domain`, recorded under `source`.
pub async fn ask(ctx: &Ctx, domain: &str, source: Source) -> Option<Settings> {
    match entry_url(&ctx.ispdb_url, domain) {
        Ok(url) => fetch_config(ctx, source, url).await,
        Err(why) => {
            ctx.trail
                .record(source, ctx.ispdb_url.clone(), TryResult::Error, Some(why));
            None
        }
    }
}

/// `base/<domain>`, whether or not `base` ends with a slash.
pub fn entry_url(base: &str, domain: &str) -> Result<Url, String> {
    let mut base = Url::parse(base)
        .ok()
        .filter(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some())
        .ok_or_else(|| format!("--ispdb-url {base:?} is not an http(s) URL"))?;
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    base.join(domain)
        .map_err(|e| format!("cannot add {domain} to the ISPDB URL: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_urls_append_the_domain() {
        for base in [
            "https://autoconfig.thunderbird.net/v1.1/",
            "https://autoconfig.thunderbird.net/v1.1",
        ] {
            assert_eq!(
                entry_url(base, "example.test").unwrap().as_str(),
                "https://autoconfig.thunderbird.net/v1.1/example.test"
            );
        }
    }

    #[test]
    fn bad_ispdb_urls_are_explained() {
        for bad in ["", "ispdb.example", "ftp://x.example/", "file:///etc/"] {
            let e = entry_url(bad, "a.test").unwrap_err();
            assert!(e.contains("--ispdb-url"), "{bad}: {e}");
        }
    }
}
