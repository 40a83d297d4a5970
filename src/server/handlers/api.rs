//! `GET /api/v1/lookup?email=E`: the `lookup --json` document.

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};

use super::{address, params};
use crate::server::app::AppState;
use crate::server::error::ApiError;
use crate::server::origin::Client;

/// `GET /api/v1/lookup?email=E`.
pub async fn lookup(
    State(state): State<AppState>,
    Client(client): Client,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = params(query)?;
    let email = address(&params, &["email", "emailaddress"])?;
    state.log_lookup("api", &email);
    let resolved = state.resolver.resolve(&email, client).await?;
    Ok(Json(resolved.lookup).into_response())
}
