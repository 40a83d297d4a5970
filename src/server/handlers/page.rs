//! The settings page (`GET /`), its style sheet and script, and the QR
//! code image (`GET /qr.svg?emailaddress=E`) the script shows.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::{Address, optional_address, params};
use crate::apple::ios_steps::Steps;
use crate::server::error::AppError;
use crate::server::origin::Client;
use crate::server::ratelimit::ClientKey;
use crate::server::render::{self, ProfileKind};
use crate::server::resolve::Resolved;
use crate::server::settings_page::{self as page, Answer, CSP};
use crate::server::state::AppState;

/// `GET /` and `GET /?email=E` (the form without JavaScript).
pub async fn index(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    let params = params(query).unwrap_or_default();
    let typed = params.get("email").cloned().unwrap_or_default();
    let mut retry_after = None;
    let (status, html) = if typed.trim().is_empty() {
        (StatusCode::OK, page::page(&state.page, &typed, None))
    } else {
        match answer(&state, client, &headers, &params).await {
            Ok((resolved, profile_url, qr_svg, steps)) => {
                let a = Answer {
                    profile: render::profile_kind(&resolved),
                    resolved: &resolved,
                    profile_url,
                    qr_svg,
                    steps,
                };
                (StatusCode::OK, page::page(&state.page, &typed, Some(Ok(a))))
            }
            Err(e) => {
                if let AppError::RateLimited(secs) = e {
                    retry_after = Some(secs);
                }
                (
                    e.status(),
                    page::page(&state.page, &typed, Some(Err(page::for_people(&e, &typed)))),
                )
            }
        }
    };
    let mut r = (status, [(header::CONTENT_SECURITY_POLICY, CSP)], Html(html)).into_response();
    if let Some(secs) = retry_after {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    r
}

async fn answer(
    state: &AppState,
    client: ClientKey,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<(Resolved, String, String, Steps), AppError> {
    let email = optional_address(params, &["email"])?
        .ok_or_else(|| AppError::BadRequest("type an email address".into()))?;
    state.log_lookup("page", &email);
    let resolved = state.resolver.resolve(&email, client).await?;
    // Without a link the page may make absolute, the link is relative and
    // there is no QR code.
    let absolute = profile_url(state, headers, &email.ascii());
    let qr = match (render::profile_kind(&resolved), &absolute) {
        (ProfileKind::Refused(_), _) | (_, None) => String::new(),
        (_, Some(url)) => page::qr_svg(url)?,
    };
    let url = absolute.unwrap_or_else(|| format!("/apple/mobileconfig?{}", query(&email.ascii())));
    let steps = render::ios_guide(&resolved);
    Ok((resolved, url, qr, steps))
}

fn query(email: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("emailaddress", email)
        .finish()
}

/// The absolute link to `email`'s profile, when this request's Host is
/// one links may be made from.
fn profile_url(state: &AppState, headers: &HeaderMap, email: &str) -> Option<String> {
    let base = state.origin.base_url(headers, None)?;
    Some(format!("{base}/apple/mobileconfig?{}", query(email)))
}

/// `GET /qr.svg?emailaddress=E`: the QR code of E's profile link.
pub async fn qr(
    State(state): State<AppState>,
    headers: HeaderMap,
    Address(email, _): Address,
) -> Result<Response, AppError> {
    let url = profile_url(&state, &headers, &email.ascii()).ok_or_else(|| {
        AppError::NotFound(
            "no QR code: this service makes links only when reached by one of its own names (set public_url to make them for any)".into(),
        )
    })?;
    let svg = page::qr_svg(&url)?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}

/// `GET /static/style.css`.
pub async fn style() -> Response {
    static_asset("text/css; charset=utf-8", page::STYLE)
}

/// `GET /static/app.js`.
pub async fn script() -> Response {
    static_asset("text/javascript; charset=utf-8", page::SCRIPT)
}

fn static_asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// `GET /static/logo`: the operator's logo from `[page] logo`, or 404.
pub async fn logo(State(state): State<AppState>) -> Response {
    match &state.page.logo {
        Some(l) => (
            [
                (header::CONTENT_TYPE, l.content_type),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            axum::body::Bytes::from(l.bytes.to_vec()),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no logo is configured\n").into_response(),
    }
}
