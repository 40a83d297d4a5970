//! `lookup --verify`: confirming discovered settings with capabilities-only
//! probes (no login, ever).

use futures::future::join_all;

use super::report::ServerReport;
use super::{ProbeOptions, probe};
use crate::settings::{Settings, Trust};

/// Probes every server of `settings` at once, without logging in, and
/// marks the settings [`Trust::Verified`] when each server answered with a
/// certificate valid for its host (interface rule 5: settings from plain
/// HTTP or off-domain DNS stay unverified until a probe confirms them).
/// Trust is never lowered here; the reports say what each server did.
pub async fn verify_settings(settings: &mut Settings, opts: &ProbeOptions) -> Vec<ServerReport> {
    let urls: Vec<_> = settings
        .incoming
        .iter()
        .chain(&settings.outgoing)
        .map(|s| s.url())
        .collect();
    let reports = join_all(urls.iter().map(|u| probe(u, opts))).await;
    if !reports.is_empty() && reports.iter().all(ServerReport::cert_valid) {
        settings.trust = Trust::Verified;
    }
    reports
}
