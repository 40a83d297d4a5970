//! Thunderbird autoconfig: `GET /mail/config-v1.1.xml` and
//! `GET /.well-known/autoconfig/mail/config-v1.1.xml`.
//!
//! `emailaddress` is optional, as the autoconfig draft allows: Thunderbird
//! for Android, KMail and Geary leave it out. Without it the domain comes
//! from the Host header (`autoconfig.example.com` stands for
//! `example.com`) and usernames keep their placeholders
//! (`%EMAILADDRESS%`) for the client to fill in.

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::{AutoconfigParam, OptionalAddress};
use crate::address::EmailAddress;
use crate::server::answers::Kind;
use crate::server::error::AppError;
use crate::server::origin::{Client, mail_domain};
use crate::server::render;
use crate::server::state::AppState;

/// `GET /mail/config-v1.1.xml?emailaddress=E`.
pub async fn autoconfig(
    State(state): State<AppState>,
    Client(client): Client,
    OptionalAddress(email, _): OptionalAddress<AutoconfigParam>,
    // Taken whole (no body is read) for its Host header: cheaper than a
    // copy of the header map on every request.
    req: Request,
) -> Result<Response, AppError> {
    let (email, templated) = match email {
        Some(e) => (e, false),
        None => {
            let host = state.origin.host(req.headers())?;
            let domain = mail_domain(&host);
            let e = EmailAddress::parse(&format!("%EMAILLOCALPART%@{domain}")).map_err(|_| {
                AppError::BadRequest(format!(
                    "no emailaddress given and the host name {host} names no mail domain: add ?emailaddress=someone@example.com"
                ))
            })?;
            (e, true)
        }
    };
    if !templated {
        state.log_lookup("autoconfig", &email);
    }
    let kind = if templated {
        Kind::AutoconfigTemplate
    } else {
        Kind::Autoconfig
    };
    let key = email.to_string();
    let xml = match state.answers.get(kind, &key) {
        Some(kept) => kept,
        None => {
            let mut resolved = state.resolver.resolve(&email, client).await?;
            if templated {
                render::restore_placeholders(&mut resolved);
            }
            let xml = Bytes::from(render::autoconfig(&resolved)?);
            if resolved.fixed {
                state.answers.put(kind, &key, xml.clone());
            }
            xml
        }
    };
    Ok(([(header::CONTENT_TYPE, XML)], xml).into_response())
}

const XML: HeaderValue = HeaderValue::from_static("application/xml; charset=utf-8");
