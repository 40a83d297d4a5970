//! The settings page (`GET /`), its style sheet and script, and the QR
//! code image (`GET /qr.svg?emailaddress=E`) the script shows.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::{optional_address, params};
use crate::server::app::AppState;
use crate::server::error::AppError;
use crate::server::page::{self, Answer, CSP};
use crate::server::render::{self, ProfileKind};
use crate::server::resolve::Resolved;

/// `GET /` and `GET /?email=E` (the form without JavaScript).
pub async fn index(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    let params = params(query).unwrap_or_default();
    let typed = params.get("email").cloned().unwrap_or_default();
    let (status, html) = if typed.trim().is_empty() {
        (StatusCode::OK, page::page(&state.page, &typed, None))
    } else {
        match answer(&state, &headers, &params).await {
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
            Err(e) => (
                e.status(),
                page::page(&state.page, &typed, Some(Err(e.message()))),
            ),
        }
    };
    (status, [(header::CONTENT_SECURITY_POLICY, CSP)], Html(html)).into_response()
}

async fn answer(
    state: &AppState,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<(Resolved, String, String, String), AppError> {
    let email = optional_address(params, &["email"])?
        .ok_or_else(|| AppError::BadRequest("type an email address".into()))?;
    state.log_lookup("page", &email);
    let resolved = state.resolver.resolve(&email).await?;
    let url = profile_url(state, headers, &email.ascii())?;
    let qr = match render::profile_kind(&resolved) {
        ProfileKind::Refused(_) => String::new(),
        _ => page::qr_svg(&url)?,
    };
    let steps = render::ios_steps(&resolved)?;
    Ok((resolved, url, qr, steps))
}

fn profile_url(state: &AppState, headers: &HeaderMap, email: &str) -> Result<String, AppError> {
    let base = state.origin.base_url(headers)?;
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("emailaddress", email)
        .finish();
    Ok(format!("{base}/apple/mobileconfig?{query}"))
}

/// `GET /qr.svg?emailaddress=E`: the QR code of E's profile link.
pub async fn qr(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, AppError> {
    let params = params(query)?;
    let email = super::address(&params, &["emailaddress", "email"])?;
    let svg = page::qr_svg(&profile_url(&state, &headers, &email.ascii())?)?;
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
