//! Stream nodes (`domain::nodes`): a node's definition and its running processes for anyone
//! who may read the catalog; pause, resume and restart for owners of the node's product and
//! admins.
//! The domain operations ask the policy themselves.

use axum::Json;
use axum::extract::{Path, State};
use domain::nodes::{self, NodeView};
use serde_json::{Value, json};

use super::{CallerExt, caller};
use crate::error::AppError;
use crate::http::Routes;
use crate::state::AppState;

pub fn routes() -> Routes {
    Routes::new()
        .get("/api/v1/nodes/{name}", view)
        .post("/api/v1/nodes/{name}/pause", pause)
        .post("/api/v1/nodes/{name}/resume", resume)
        .post("/api/v1/nodes/{name}/restart", restart)
}

async fn restart(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(name): Path<String>,
) -> Result<Json<Value>, AppError> {
    let caller = caller(caller_ext);
    let generation = nodes::request_restart(&state.pool, &state.policy, &caller, &name).await?;
    Ok(Json(
        json!({ "node": name, "restart_generation": generation }),
    ))
}

async fn view(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(name): Path<String>,
) -> Result<Json<NodeView>, AppError> {
    let caller = caller(caller_ext);
    Ok(Json(
        nodes::view(&state.pool, &state.policy, &caller, &name).await?,
    ))
}

async fn pause(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(name): Path<String>,
) -> Result<Json<Value>, AppError> {
    set(state, caller_ext, name, true).await
}

async fn resume(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(name): Path<String>,
) -> Result<Json<Value>, AppError> {
    set(state, caller_ext, name, false).await
}

async fn set(
    state: AppState,
    caller_ext: CallerExt,
    name: String,
    paused: bool,
) -> Result<Json<Value>, AppError> {
    let caller = caller(caller_ext);
    let changed = nodes::set_paused(&state.pool, &state.policy, &caller, &name, paused).await?;
    Ok(Json(
        json!({ "node": name, "paused": paused, "changed": changed }),
    ))
}
