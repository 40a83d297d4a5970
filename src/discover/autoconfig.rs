//! Source 1: the domain's own autoconfig file (draft-ietf-mailmaint-autoconfig).
//!
//! Asks both HTTPS places at once —
//! `https://autoconfig.<domain>/mail/config-v1.1.xml?emailaddress=<address>`
//! and `https://<domain>/.well-known/autoconfig/mail/config-v1.1.xml` — and
//! takes the first usable answer. Only when both fail is plain HTTP tried,
//! as a last resort: an answer from there is `unverified` and ranks below
//! every source but guessing, and the address is not sent along (anyone on
//! the path could read it).
//!
//! Only the fetching is here: the file is read by [`crate::autoconfig`], the
//! same parser as for the ISPDB (placeholders substituted, `<enable>`,
//! `<documentation>` and OAuth2 turned into notes). [`fetch_config`] is
//! shared with the ISPDB and MX sources.

use std::sync::Arc;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use reqwest::Url;

use super::trail::TryResult;
use super::{Ctx, Found, Potential, Rank};
use crate::settings::{Settings, Source, Trust};

/// Runs the source.
pub async fn run(ctx: Arc<Ctx>, potential: Potential) -> Option<Found> {
    let d = &ctx.domain;
    let mut first = Url::parse(&format!("https://autoconfig.{d}/mail/config-v1.1.xml")).ok()?;
    first
        .query_pairs_mut()
        .append_pair("emailaddress", &ctx.email.ascii());
    let well_known = Url::parse(&format!(
        "https://{d}/.well-known/autoconfig/mail/config-v1.1.xml"
    ))
    .ok()?;
    if let Some(s) = first_found(&ctx, [first, well_known]).await {
        return Some(Found {
            rank: Rank::AutoconfigHttps,
            settings: s,
        });
    }
    potential.lower_to(Rank::Http);
    let plain = [
        Url::parse(&format!("http://autoconfig.{d}/mail/config-v1.1.xml")).ok()?,
        Url::parse(&format!(
            "http://{d}/.well-known/autoconfig/mail/config-v1.1.xml"
        ))
        .ok()?,
    ];
    first_found(&ctx, plain).await.map(|settings| Found {
        rank: rank_of(&settings),
        settings,
    })
}

/// The rank of a config file's answer: HTTPS all the way, or not.
fn rank_of(s: &Settings) -> Rank {
    match s.trust {
        Trust::Verified => Rank::AutoconfigHttps,
        Trust::Unverified => Rank::Http,
    }
}

async fn first_found<const N: usize>(ctx: &Ctx, urls: [Url; N]) -> Option<Settings> {
    let mut all: FuturesUnordered<_> = urls
        .into_iter()
        .map(|u| fetch_config(ctx, Source::Autoconfig, u))
        .collect();
    while let Some(r) = all.next().await {
        if r.is_some() {
            return r;
        }
    }
    None
}

/// Fetches a config file at `url` and reads it for the address, recording
/// the attempt under `source`. `unverified` unless every hop was HTTPS.
pub async fn fetch_config(ctx: &Ctx, source: Source, url: Url) -> Option<Settings> {
    let attempt = ctx.trail.start(source, url.as_str());
    let fetched = match ctx.http.get(url, ctx.deadline, &|_| Ok(())).await {
        Ok(f) => f,
        Err(e) => {
            attempt.fetch_failed(&e);
            return None;
        }
    };
    let trust = if fetched.secure {
        Trust::Verified
    } else {
        Trust::Unverified
    };
    let settings = crate::autoconfig::parse(&fetched.body)
        .and_then(|cfg| cfg.settings_for(&ctx.email, &ctx.domain, source, trust));
    match settings {
        Ok(mut s) => {
            let detail = (!fetched.secure)
                .then(|| "over plain HTTP: unverified, confirm with your provider".to_string());
            attempt.finish(TryResult::Found, detail);
            s.sort_servers();
            Some(s)
        }
        Err(e) => {
            attempt.finish(TryResult::Invalid, Some(e.to_string()));
            None
        }
    }
}
