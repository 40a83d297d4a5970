//! `GET /api/v1/lookup?email=E`: the `lookup --json` document.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::{Address, EmailParam};
use crate::server::error::ApiError;
use crate::server::origin::Client;
use crate::server::state::AppState;

/// `GET /api/v1/lookup?email=E`.
pub async fn lookup(
    State(state): State<AppState>,
    Client(client): Client,
    address: Result<Address<EmailParam>, crate::server::error::AppError>,
) -> Result<Response, ApiError> {
    let Address(email, _) = address?;
    state.log_lookup("api", &email);
    let resolved = state.resolver.resolve(&email, client).await?;
    Ok(Json(resolved.lookup).into_response())
}
