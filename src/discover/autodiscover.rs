//! Source 4: Microsoft's POX Autodiscover, asked safely.
//!
//! The Outlook request ([`crate::autodiscover::request::request`]) is POSTed at once to
//! `https://<domain>/autodiscover/autodiscover.xml`,
//! `https://autodiscover.<domain>/autodiscover/autodiscover.xml` and the
//! host named by the `_autodiscover._tcp.<domain>` SRV record; the first
//! usable answer wins. The rules (security rule 4), each enforced here or in
//! [`crate::net::http`]:
//!
//! - never a parent domain, `autodiscover.<parent>` or
//!   `autodiscover.<public suffix>` — whether reached directly, through an
//!   HTTP redirect or through SRV ([`super::domain::autodiscover_forbidden`]);
//! - never credentials: no request carries any, and a 401 ends the attempt;
//! - never plain HTTP; HTTP redirects HTTPS only, at most 5;
//! - `redirectAddr` and `redirectUrl` answers are followed only within the
//!   address's domain, and count towards the same limit of 5.
//!
//! An answer reached through an SRV target outside the domain is
//! `unverified` (DNS without DNSSEC pointing elsewhere, rule 5).

use std::sync::Arc;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use reqwest::Url;

use super::domain::{autodiscover_forbidden, within};
use super::trail::TryResult;
use super::{Ctx, Found, Rank, dns_result};
use crate::address::EmailAddress;
use crate::autodiscover::request::request as pox_request;
use crate::autodiscover::response::{self as pox, PoxResponse};
use crate::net::http::MAX_REDIRECTS;
use crate::settings::{Settings, Source, Trust};

/// Runs the source.
pub async fn run(ctx: Arc<Ctx>) -> Option<Found> {
    let d = &ctx.domain;
    let mut asks: FuturesUnordered<futures::future::BoxFuture<'_, Option<Settings>>> =
        FuturesUnordered::new();
    for url in [
        format!("https://{d}/autodiscover/autodiscover.xml"),
        format!("https://autodiscover.{d}/autodiscover/autodiscover.xml"),
    ] {
        if let Ok(u) = Url::parse(&url) {
            asks.push(Box::pin(ask(&ctx, u, Trust::Verified)));
        }
    }
    asks.push(Box::pin(via_srv(&ctx)));
    while let Some(r) = asks.next().await {
        if let Some(settings) = r {
            return Some(Found {
                rank: Rank::Autodiscover,
                settings,
            });
        }
    }
    None
}

/// Follows `_autodiscover._tcp.<domain>`.
async fn via_srv(ctx: &Ctx) -> Option<Settings> {
    let name = format!("_autodiscover._tcp.{}", ctx.domain);
    let attempt = ctx.trail.start(Source::Autodiscover, format!("SRV {name}"));
    let answer = match ctx.dns.srv(&name).await {
        Ok(a) => a,
        Err(e) => {
            attempt.finish(dns_result(&e), Some(e.to_string()));
            return None;
        }
    };
    let Some(target) = answer.records.iter().find(|r| !r.target.is_empty()) else {
        attempt.finish(
            TryResult::NotFound,
            Some("not offered (target \".\")".into()),
        );
        return None;
    };
    if let Some(why) = autodiscover_forbidden(&target.target, &ctx.domain) {
        attempt.finish(TryResult::RefusedInsecure, Some(why));
        return None;
    }
    let port = if target.port == 0 { 443 } else { target.port };
    let Ok(url) = Url::parse(&format!(
        "https://{}:{port}/autodiscover/autodiscover.xml",
        target.target
    )) else {
        attempt.finish(
            TryResult::Invalid,
            Some(format!("bad target {}", target.target)),
        );
        return None;
    };
    attempt.finish(TryResult::Found, Some(url.to_string()));
    let trust = if answer.validated || within(&target.target, &ctx.domain) {
        Trust::Verified
    } else {
        Trust::Unverified
    };
    ask(ctx, url, trust).await
}

/// POSTs the request to `url` and follows POX redirects within the domain.
async fn ask(ctx: &Ctx, mut url: Url, trust: Trust) -> Option<Settings> {
    let attempt = ctx.trail.start(Source::Autodiscover, format!("POST {url}"));
    let domain = ctx.domain.clone();
    let allow = move |u: &Url| -> Result<(), String> {
        match u.host_str() {
            _ if u.scheme() != "https" => Err("Autodiscover is only asked over HTTPS".into()),
            Some(h) => autodiscover_forbidden(h, &domain).map_or(Ok(()), Err),
            None => Err("no host".into()),
        }
    };
    let mut email: EmailAddress = ctx.email.clone();
    let mut steps: Vec<String> = Vec::new();
    for round in 0..=MAX_REDIRECTS {
        let body = pox_request(&email.login_address()).into_bytes();
        let fetched = match ctx
            .http
            .post_xml(url.clone(), body, ctx.deadline, &allow)
            .await
        {
            Ok(f) => f,
            Err(e) => {
                attempt.fetch_failed(&e);
                return None;
            }
        };
        let refuse = |why: String| (TryResult::RefusedInsecure, why);
        let outcome = match pox::parse(&fetched.body) {
            Err(e) => (TryResult::Invalid, e.to_string()),
            Ok(PoxResponse::Error(msg)) => {
                (TryResult::NotFound, format!("server says: {msg:.200}"))
            }
            Ok(PoxResponse::Settings(p)) => match pox::to_settings(&p, &email, trust) {
                Some(s) => {
                    steps.push(format!("settings from {}", fetched.url));
                    attempt.finish(TryResult::Found, Some(steps.join("; ")));
                    return Some(s);
                }
                None => (
                    TryResult::NotFound,
                    "no IMAP, POP3 or SMTP server in the answer (Exchange only?)".into(),
                ),
            },
            Ok(PoxResponse::RedirectAddr(a)) => match a.parse::<EmailAddress>() {
                Ok(next) if within(next.domain(), &ctx.domain) => {
                    steps.push(format!("redirectAddr to {next}"));
                    email = next;
                    (TryResult::Found, String::new())
                }
                Ok(next) => refuse(format!(
                    "redirectAddr to {next} refused: it leaves {}",
                    ctx.domain
                )),
                Err(_) => (
                    TryResult::Invalid,
                    format!("redirectAddr to a bad address {a:.100}"),
                ),
            },
            Ok(PoxResponse::RedirectUrl(u)) => match Url::parse(&u) {
                Ok(next)
                    if next.scheme() == "https"
                        && next.host_str().is_some_and(|h| within(h, &ctx.domain)) =>
                {
                    steps.push(format!("redirectUrl to {next}"));
                    url = next;
                    (TryResult::Found, String::new())
                }
                _ => refuse(format!(
                    "redirectUrl to {u:.200} refused: only HTTPS within {} is followed",
                    ctx.domain
                )),
            },
        };
        match outcome {
            (TryResult::Found, _) if round < MAX_REDIRECTS => continue,
            (TryResult::Found, _) => {
                attempt.finish(
                    TryResult::Error,
                    Some(format!("more than {MAX_REDIRECTS} Autodiscover redirects")),
                );
                return None;
            }
            (result, why) => {
                steps.push(why);
                attempt.finish(result, Some(steps.join("; ")));
                return None;
            }
        }
    }
    None
}
