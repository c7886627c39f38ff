//! Producer grants (`domain::producers`): who may produce to a domain's products, for the
//! domain's owners and admins, who rotate the producer principal's credential and revoke or
//! restore a product's grant. The domain operations ask the policy themselves.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use domain::producers::{self, ProducerError, ProducerView};
use serde_json::{Value, json};

use super::{CallerExt, caller};
use crate::error::AppError;
use crate::http::Routes;
use crate::state::AppState;

pub fn routes() -> Routes {
    Routes::new()
        .get("/api/v1/domains/{domain}/producer", view)
        .post("/api/v1/domains/{domain}/producer/credentials", rotate)
        .post("/api/v1/products/{slug}/producer/revoke", revoke)
        .post("/api/v1/products/{slug}/producer/grant", grant)
}

async fn view(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(domain): Path<String>,
) -> Result<Json<ProducerView>, AppError> {
    let caller = caller(caller_ext);
    producers::view(&state.pool, &state.policy, &caller, &domain)
        .await?
        .map(Json)
        .ok_or_else(|| ProducerError::NoPrincipal(domain).into())
}

/// The next generation's password, in this response only.
async fn rotate(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(domain): Path<String>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let caller = caller(caller_ext);
    let rotated =
        producers::rotate(&state.pool, &state.policy, &caller, &state.broker, &domain).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "principal": rotated.principal,
            "username": rotated.username,
            "mechanism": rotated.mechanism,
            "generation": rotated.generation,
            "password": rotated.password,
            "bootstrap_servers": state.clients.bootstrap_servers,
        })),
    ))
}

async fn revoke(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(slug): Path<String>,
) -> Result<Json<Value>, AppError> {
    set(state, caller_ext, slug, false).await
}

async fn grant(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(slug): Path<String>,
) -> Result<Json<Value>, AppError> {
    set(state, caller_ext, slug, true).await
}

async fn set(
    state: AppState,
    caller_ext: CallerExt,
    slug: String,
    granted: bool,
) -> Result<Json<Value>, AppError> {
    let caller = caller(caller_ext);
    let changed =
        producers::set_granted(&state.pool, &state.policy, &caller, &slug, granted).await?;
    Ok(Json(
        json!({ "product": slug, "granted": granted, "changed": changed }),
    ))
}
