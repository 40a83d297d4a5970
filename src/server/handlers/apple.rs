//! The iPhone: `GET /apple/mobileconfig?emailaddress=E` (a configuration
//! profile, signed when the operator configured a certificate) and
//! `GET /apple/steps?emailaddress=E` (the manual steps, plain text).
//!
//! For providers that take only OAuth the profile is the Exchange account
//! that signs in with the provider, where the iPhone has one, and a 422
//! that says which built-in account type to use otherwise: never an IMAP
//! password profile that cannot work.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::Address;
use crate::server::error::AppError;
use crate::server::origin::Client;
use crate::server::render;
use crate::server::state::AppState;

/// `GET /apple/mobileconfig?emailaddress=E`.
pub async fn mobileconfig(
    State(state): State<AppState>,
    Client(client): Client,
    Address(email, _): Address,
) -> Result<Response, AppError> {
    state.log_lookup("mobileconfig", &email);
    let resolved = state.resolver.resolve(&email, client).await?;
    let body = render::mobileconfig(&resolved, state.signer.as_deref())?;
    let disposition = format!(
        "attachment; filename=\"{}.mobileconfig\"",
        filename(&email.login_address())
    );
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/x-apple-aspen-config".to_string(),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response())
}

/// `GET /apple/steps?emailaddress=E`.
pub async fn steps(
    State(state): State<AppState>,
    Client(client): Client,
    Address(email, _): Address,
) -> Result<Response, AppError> {
    let resolved = state.resolver.resolve(&email, client).await?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        render::ios_steps(&resolved)?,
    )
        .into_response())
}

/// A file name made of `s`'s letters, digits and `@._+-`; anything else
/// (quotes, slashes, non-ASCII) becomes `_`.
fn filename(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "@._+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn filenames_cannot_break_the_header() {
        assert_eq!(super::filename("jane@posteo.de"), "jane@posteo.de");
        assert_eq!(super::filename("\"a\\\";b\"@x.de"), "_a___b_@x.de");
        assert_eq!(super::filename("../é@x.de"), "..__@x.de");
    }
}
