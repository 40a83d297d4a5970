//! The endpoints, one file per family. Each handler reads its typed
//! input, asks [`super::resolve`] for settings, and hands them to a writer
//! in [`crate::output`] through [`super::render`]; none holds logic of its
//! own beyond choosing status codes and headers.

pub mod api;
pub mod apple;
pub mod autoconfig;
pub mod autodiscover;
pub mod ops;
pub mod page;

use std::collections::HashMap;

use axum::extract::Query;
use axum::extract::rejection::QueryRejection;

use super::error::AppError;
use crate::address::EmailAddress;

/// Query parameters, with a clear 400 for a query that cannot be read.
pub(crate) fn params(
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<HashMap<String, String>, AppError> {
    q.map(|Query(m)| m).map_err(|e| {
        AppError::BadRequest(format!(
            "the query string cannot be read ({}): send ?emailaddress=someone@example.com",
            e.body_text()
        ))
    })
}

/// The address in parameter `name` (any case of the name), required.
pub(crate) fn address(
    params: &HashMap<String, String>,
    names: &[&str],
) -> Result<EmailAddress, AppError> {
    match optional_address(params, names)? {
        Some(a) => Ok(a),
        None => Err(AppError::BadRequest(format!(
            "no email address given: add ?{}=someone@example.com",
            names[0]
        ))),
    }
}

/// The address in parameter `name` (any case of the name), if given.
pub(crate) fn optional_address(
    params: &HashMap<String, String>,
    names: &[&str],
) -> Result<Option<EmailAddress>, AppError> {
    let value = params
        .iter()
        .find(|(k, _)| names.iter().any(|n| k.eq_ignore_ascii_case(n)))
        .map(|(_, v)| v.as_str());
    match value {
        None => Ok(None),
        Some(v) if v.trim().is_empty() => Err(AppError::BadRequest(format!(
            "the email address is empty: add ?{}=someone@example.com",
            names[0]
        ))),
        Some(v) => Ok(Some(EmailAddress::parse(v)?)),
    }
}
