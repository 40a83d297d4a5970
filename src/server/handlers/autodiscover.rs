//! Outlook Autodiscover: the POX endpoint (`POST
//! /autodiscover/autodiscover.xml`) and the v2 JSON endpoint new Outlook
//! asks first (`GET /autodiscover/autodiscover.json`), which only points
//! back at the POX URL.
//!
//! Failures of the POX endpoint are answered with Autodiscover's own
//! `Error` document (code 600, or 601 for a response schema not served
//! here) so that Outlook and a person reading the body both learn what
//! went wrong; the HTTP status still says whose fault it was.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::params;
use crate::address::EmailAddress;
use crate::autodiscover::request::{self as pox, MAX_BODY};
use crate::autodiscover::write::{ErrorCode, error_response};
use crate::autodiscover::{Document, OUTLOOK_2006A, PoxError, v2};
use crate::server::answers::Kind;
use crate::server::error::AppError;
use crate::server::origin::Client;
use crate::server::ratelimit::ClientKey;
use crate::server::render;
use crate::server::state::AppState;

const XML: &str = "application/xml; charset=utf-8";

/// `POST /autodiscover/autodiscover.xml` (any case).
pub async fn pox(State(state): State<AppState>, Client(client): Client, req: Request) -> Response {
    // Only the content type is read from the headers: taking the request
    // whole, rather than a copy of its header map, saves that copy on
    // every request.
    let content_type = req.headers().get(header::CONTENT_TYPE).cloned();
    let body = Bytes::from_request(req, &()).await;
    match answer(&state, client, content_type.as_ref(), body).await {
        Ok(xml) => ([(header::CONTENT_TYPE, HeaderValue::from_static(XML))], xml).into_response(),
        Err((status, code, message, retry_after)) => {
            let mut r = (
                status,
                [(header::CONTENT_TYPE, XML)],
                error_response(code, &message),
            )
                .into_response();
            if let Some(secs) = retry_after {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            r
        }
    }
}

/// Status, Autodiscover error code, message, and `Retry-After` seconds.
type Failure = (StatusCode, ErrorCode, String, Option<u64>);

async fn answer(
    state: &AppState,
    client: ClientKey,
    content_type: Option<&HeaderValue>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Bytes, Failure> {
    let invalid = |status, message: String| (status, ErrorCode::InvalidRequest, message, None);
    if let Some(ct) = content_type {
        let essence = ct
            .to_str()
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !(essence == "text/xml" || essence == "application/xml" || essence.ends_with("+xml")) {
            return Err(invalid(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("the body must be XML (Content-Type: text/xml), not {essence}"),
            ));
        }
    }
    let body = body.map_err(|e| {
        let status = e.status();
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            PoxError::TooLarge(Document::Request, MAX_BODY).to_string()
        } else {
            format!("the request body could not be read: {}", e.body_text())
        };
        invalid(status, message)
    })?;
    let request = pox::parse_request(&body).map_err(|e| {
        let status = match e {
            PoxError::TooLarge(..) => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        };
        invalid(status, e.to_string())
    })?;
    if !(request.schema.is_empty() || request.schema.eq_ignore_ascii_case(OUTLOOK_2006A)) {
        // Not a failure of the request: this server answers one schema only
        // (ActiveSync clients ask for "mobilesync").
        return Err((
            StatusCode::OK,
            ErrorCode::ProviderUnavailable,
            format!("only the response schema {OUTLOOK_2006A} is served here"),
            None,
        ));
    }
    let email = EmailAddress::parse(&request.email)
        .map_err(|e| invalid(StatusCode::BAD_REQUEST, AppError::from(e).message()))?;
    state.log_lookup("autodiscover", &email);
    let key = email.to_string();
    if let Some(kept) = state.answers.get(Kind::Autodiscover, &key) {
        return Ok(kept);
    }
    let fail = |e: AppError| {
        let retry_after = match e {
            AppError::RateLimited(secs) => Some(secs),
            _ => None,
        };
        (
            e.status(),
            ErrorCode::InvalidRequest,
            e.message(),
            retry_after,
        )
    };
    let resolved = state.resolver.resolve(&email, client).await.map_err(fail)?;
    let xml = Bytes::from(render::autodiscover(&resolved).map_err(fail)?);
    if resolved.fixed {
        state.answers.put(Kind::Autodiscover, &key, xml.clone());
    }
    Ok(xml)
}

/// `GET /autodiscover/autodiscover.json?Email=E&Protocol=AutodiscoverV1`.
pub async fn json(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    let params = match params(query) {
        Ok(p) => p,
        Err(e) => return v2_error(StatusCode::BAD_REQUEST, "InvalidRequest", &e.message()),
    };
    let email = find(&params, "email");
    answer_v2(&state, &headers, email, &params)
}

/// `GET /autodiscover/autodiscover.json/v1.0/{email}?Protocol=AutodiscoverV1`.
pub async fn json_v1(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(email): Path<String>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    let params = match params(query) {
        Ok(p) => p,
        Err(e) => return v2_error(StatusCode::BAD_REQUEST, "InvalidRequest", &e.message()),
    };
    answer_v2(&state, &headers, Some(email.as_str()), &params)
}

fn find<'a>(params: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn answer_v2(
    state: &AppState,
    headers: &HeaderMap,
    email: Option<&str>,
    params: &HashMap<String, String>,
) -> Response {
    let protocol = find(params, "protocol").unwrap_or("");
    if !v2::asks_v1(protocol) {
        return v2_error(
            StatusCode::BAD_REQUEST,
            "InvalidProtocol",
            &format!(
                "The given protocol value '{protocol}' is invalid. Supported values are 'AutodiscoverV1'"
            ),
        );
    }
    let email = match email.map(EmailAddress::parse) {
        Some(Ok(e)) => e,
        Some(Err(e)) => {
            return v2_error(
                StatusCode::BAD_REQUEST,
                "InvalidUser",
                &AppError::from(e).message(),
            );
        }
        None => {
            return v2_error(
                StatusCode::BAD_REQUEST,
                "InvalidUser",
                "no email address given: add ?Email=someone@example.com",
            );
        }
    };
    if !state.resolver.serves(email.domain()) {
        return v2_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("{} is not served here", email.domain()),
        );
    }
    match state.origin.base_url(headers, Some(email.domain())) {
        Some(base) => Json(v2::pointer(&base)).into_response(),
        None => v2_error(
            StatusCode::MISDIRECTED_REQUEST,
            "InvalidRequest",
            &format!(
                "this service does not answer as the host this request was sent to: ask autodiscover.{} (the operator can set public_url)",
                email.domain()
            ),
        ),
    }
}

fn v2_error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(v2::error(code, message))).into_response()
}
