//! The endpoints, one file per family. Each handler reads its typed
//! input, asks [`super::resolve`] for settings, and hands them to a writer
//! of their format ([`crate::autoconfig`], [`crate::autodiscover`],
//! [`crate::apple`]) through [`super::render`]; none holds logic of its
//! own beyond choosing status codes and headers.

pub mod api;
pub mod apple;
pub mod autoconfig;
pub mod autodiscover;
pub mod ops;
pub mod page;

use std::collections::HashMap;
use std::marker::PhantomData;

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;

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

/// Which query parameters carry the address, the first named in messages.
pub trait AddressParam {
    /// Parameter names, matched in any case.
    const NAMES: &'static [&'static str];
}

/// `?emailaddress=`, as Apple's and Thunderbird's clients send it, or
/// `?email=`.
#[derive(Debug)]
pub struct EmailAddressParam;

impl AddressParam for EmailAddressParam {
    const NAMES: &'static [&'static str] = &["emailaddress", "email"];
}

/// `?email=` first, as the JSON API documents it, or `?emailaddress=`.
#[derive(Debug)]
pub struct EmailParam;

impl AddressParam for EmailParam {
    const NAMES: &'static [&'static str] = &["email", "emailaddress"];
}

/// `?emailaddress=` only (Thunderbird autoconfig).
#[derive(Debug)]
pub struct AutoconfigParam;

impl AddressParam for AutoconfigParam {
    const NAMES: &'static [&'static str] = &["emailaddress"];
}

/// The email address a request names in its query string: every handler
/// that needs one takes it as an argument. A missing, empty or malformed
/// address is a 400 saying what to send.
#[derive(Debug)]
pub struct Address<P = EmailAddressParam>(pub EmailAddress, PhantomData<P>);

impl<S: Send + Sync, P: AddressParam> FromRequestParts<S> for Address<P> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let query = Query::<HashMap<String, String>>::from_request_parts(parts, state).await;
        let email = address(&params(query)?, P::NAMES)?;
        Ok(Address(email, PhantomData))
    }
}

/// Like [`Address`], for endpoints where the address may be left out.
#[derive(Debug)]
pub struct OptionalAddress<P = EmailAddressParam>(pub Option<EmailAddress>, PhantomData<P>);

impl<S: Send + Sync, P: AddressParam> FromRequestParts<S> for OptionalAddress<P> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let query = Query::<HashMap<String, String>>::from_request_parts(parts, state).await;
        let email = optional_address(&params(query)?, P::NAMES)?;
        Ok(OptionalAddress(email, PhantomData))
    }
}
