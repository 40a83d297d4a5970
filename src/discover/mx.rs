//! Source 3: the domain's MX records.
//!
//! Many domains keep their mail at a big provider without publishing any
//! client settings. Their MX hosts give it away: `contoso-com.mail.protection.outlook.com`
//! is Microsoft 365, `aspmx.l.google.com` is Google. MX hosts are taken
//! lowest preference first; a host matching a built-in provider's `mx`
//! patterns gives that provider's settings with the address's own username.
//! Otherwise the ISPDB is asked for the MX host's registrable domain (from
//! the Public Suffix List; never a bare public suffix, never the address's
//! own domain, which the ISPDB source asks already).
//!
//! MX answers are not DNSSEC-validated here and point outside the domain,
//! so the answer is `unverified` (security rule 5) until a probe of the
//! servers (`lookup --verify`, `check`) confirms them.

use std::sync::Arc;

use super::domain::registrable;
use super::{Ctx, Found, Rank, ispdb};
use crate::provider::ProviderTable;
use crate::settings::{Note, Settings, Source, Trust};

/// At most this many MX domains are asked at the ISPDB.
const MAX_ISPDB_DOMAINS: usize = 3;

/// Runs the source.
pub async fn run(ctx: Arc<Ctx>) -> Option<Found> {
    let mx = ctx.mx().await.as_ref().ok()?;
    let hosts: Vec<&str> = mx
        .iter()
        .map(|m| m.host.as_str())
        .filter(|h| !h.is_empty())
        .collect();
    let table = ProviderTable::builtin();
    for host in &hosts {
        if let Some(p) = table.by_mx_host(host) {
            return Some(found(p.settings_for(&ctx.email, Source::Mx), host, &p.name));
        }
    }
    let mut asked: Vec<String> = Vec::new();
    for host in hosts {
        let Some(reg) = registrable(host) else {
            continue;
        };
        if reg == ctx.domain || asked.contains(&reg) {
            continue;
        }
        if asked.len() == MAX_ISPDB_DOMAINS {
            break;
        }
        asked.push(reg.clone());
        if let Some(s) = ispdb::ask(&ctx, &reg, Source::Mx).await {
            let name = s.provider.as_ref().map_or(reg, |p| p.name.clone());
            return Some(found(s, host, &name));
        }
    }
    None
}

/// The answer, with a note saying where it came from. Security rule 5: an
/// MX host outside the domain, without DNSSEC, leaves it unverified.
fn found(mut settings: Settings, host: &str, name: &str) -> Found {
    settings.notes.push(Note::new(
        "mx-match",
        format!(
            "Your domain's mail is received by {name} (MX host {host}), so these are {name}'s settings. DNS said so without a signature: confirm them with your provider, or run mailsetup lookup --verify."
        ),
    ));
    settings.trust = Trust::Unverified;
    Found {
        rank: Rank::Mx,
        settings,
    }
}
