//! The caller's webhook (`domain::webhooks`): `GET /api/v1/account/webhook` (its URL and
//! delivery counts, never the secret), `PUT` with `{"url": "..."}` sets it and answers
//! the new signing secret once, `DELETE` removes it.

use axum::Json;
use axum::extract::State;
use domain::webhooks::{self, NewWebhook};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{CallerExt, JsonBody, body, caller};
use crate::error::AppError;
use crate::http::Routes;
use crate::state::AppState;

pub fn routes() -> Routes {
    Routes::new()
        .get("/api/v1/account/webhook", get)
        .put("/api/v1/account/webhook", set)
        .delete("/api/v1/account/webhook", remove)
}

#[derive(Deserialize)]
struct SetWebhook {
    url: String,
}

async fn get(
    State(state): State<AppState>,
    caller_ext: CallerExt,
) -> Result<Json<Value>, AppError> {
    let caller = caller(caller_ext);
    let found = webhooks::get(&state.pool, &state.policy, &caller).await?;
    Ok(Json(json!({ "webhook": found })))
}

async fn set(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    JsonBody(bytes): JsonBody,
) -> Result<Json<NewWebhook>, AppError> {
    let caller = caller(caller_ext);
    let request: SetWebhook = body(&bytes)?;
    Ok(Json(
        webhooks::set(
            &state.pool,
            &state.policy,
            &caller,
            &request.url,
            state.webhooks_allow_private,
        )
        .await?,
    ))
}

async fn remove(
    State(state): State<AppState>,
    caller_ext: CallerExt,
) -> Result<Json<Value>, AppError> {
    let caller = caller(caller_ext);
    let removed = webhooks::remove(&state.pool, &state.policy, &caller).await?;
    Ok(Json(json!({ "removed": removed })))
}
