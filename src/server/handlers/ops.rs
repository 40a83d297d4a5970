//! Operations endpoints: `/healthz`, and the answer for unknown paths.

use axum::http::StatusCode;
use axum::response::IntoResponse;

/// `GET /healthz`: the process is up and serving.
pub async fn healthz() -> impl IntoResponse {
    "ok\n"
}

/// Any other path: 404 with the list of what is served here.
/// The path is not echoed: it may be anything a client sent.
pub async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        "no such page. This service answers: / (the settings page), \
/mail/config-v1.1.xml and /.well-known/autoconfig/mail/config-v1.1.xml (Thunderbird), \
POST /autodiscover/autodiscover.xml and /autodiscover/autodiscover.json (Outlook), \
/apple/mobileconfig (iPhone), /api/v1/lookup (JSON), /healthz, /metrics\n",
    )
}
