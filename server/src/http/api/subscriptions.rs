//! `/api/v1/subscriptions`: request access to a data product, list and read subscriptions
//! (with connection details once active), approve, reject or revoke them, and replay one
//! of a subscription's consumer groups from a point in time. The domain library decides
//! who may do what; this maps requests and errors.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use domain::subscriptions::{self, Connection, ListFilter, Request, Subscription};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{CallerExt, JsonBody, body, caller};
use crate::error::AppError;
use crate::http::Routes;
use crate::state::AppState;

pub fn routes() -> Routes {
    Routes::new()
        .post("/api/v1/subscriptions", create)
        .get("/api/v1/subscriptions", list)
        .get("/api/v1/subscriptions/{id}", get)
        .post("/api/v1/subscriptions/{id}/approve", approve)
        .post("/api/v1/subscriptions/{id}/reject", reject)
        .post("/api/v1/subscriptions/{id}/revoke", revoke)
        .post("/api/v1/subscriptions/{id}/replay", replay)
}

/// A subscription with its connection details (active ones only).
#[derive(Serialize)]
struct View {
    #[serde(flatten)]
    subscription: Subscription,
    connection: Option<Connection>,
}

fn view(state: &AppState, subscription: Subscription) -> View {
    View {
        connection: state.clients.connection(&subscription),
        subscription,
    }
}

async fn create(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    JsonBody(bytes): JsonBody,
) -> Result<(StatusCode, Json<View>), AppError> {
    let caller = caller(caller_ext);
    let request: Request = body(&bytes)?;
    let created = subscriptions::request(&state.pool, &state.policy, &caller, &request).await?;
    Ok((StatusCode::CREATED, Json(view(&state, created))))
}

#[derive(Deserialize)]
struct ListQuery {
    state: Option<String>,
    #[serde(default)]
    mine: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, AppError> {
    let caller = caller(caller_ext);
    let Query(query) = query.map_err(|e| AppError::BadRequest {
        field: "query".to_string(),
        message: e.body_text(),
    })?;
    let wanted = match query.state.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => Some(subscriptions::State::parse(text).ok_or_else(|| AppError::BadRequest {
            field: "state".to_string(),
            message: format!(
                "unknown state `{text}`; use pending, approved, provisioning, active, rejected, revoked or expired"
            ),
        })?),
    };
    let mine = match query.mine.as_deref() {
        None | Some("false") | Some("0") | Some("") => false,
        Some("true") | Some("1") => true,
        Some(other) => {
            return Err(AppError::BadRequest {
                field: "mine".to_string(),
                message: format!("`{other}` is not true or false"),
            });
        }
    };
    let filter = ListFilter {
        state: wanted,
        mine,
        to_decide: false,
    };
    let items: Vec<View> = subscriptions::list(&state.pool, &state.policy, &caller, &filter)
        .await?
        .into_iter()
        .map(|s| view(&state, s))
        .collect();
    Ok(Json(serde_json::json!({ "items": items })))
}

fn id(text: &str) -> Result<Uuid, AppError> {
    text.parse()
        .map_err(|_| AppError::NotFound("no such subscription".to_string()))
}

async fn get(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(raw): Path<String>,
) -> Result<Json<View>, AppError> {
    let caller = caller(caller_ext);
    let found = subscriptions::get(&state.pool, &state.policy, &caller, id(&raw)?).await?;
    Ok(Json(view(&state, found)))
}

#[derive(Deserialize, Default)]
struct DecisionRequest {
    comment: Option<String>,
}

/// What a decision endpoint does.
#[derive(Clone, Copy)]
enum Action {
    Approve,
    Reject,
    Revoke,
}

async fn approve(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(raw): Path<String>,
    JsonBody(bytes): JsonBody,
) -> Result<Json<View>, AppError> {
    act(state, caller_ext, &raw, &bytes, Action::Approve).await
}

async fn reject(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(raw): Path<String>,
    JsonBody(bytes): JsonBody,
) -> Result<Json<View>, AppError> {
    act(state, caller_ext, &raw, &bytes, Action::Reject).await
}

async fn revoke(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(raw): Path<String>,
    JsonBody(bytes): JsonBody,
) -> Result<Json<View>, AppError> {
    act(state, caller_ext, &raw, &bytes, Action::Revoke).await
}

/// Approve, reject or revoke `raw` with the body's optional comment; the domain library
/// decides who may.
async fn act(
    state: AppState,
    caller_ext: CallerExt,
    raw: &str,
    bytes: &Bytes,
    action: Action,
) -> Result<Json<View>, AppError> {
    let caller = caller(caller_ext);
    let request: DecisionRequest = body(bytes)?;
    let (pool, policy, id, comment) = (
        &state.pool,
        &state.policy,
        id(raw)?,
        request.comment.as_deref(),
    );
    let done = match action {
        Action::Approve => subscriptions::approve(pool, policy, &caller, id, comment).await,
        Action::Reject => subscriptions::reject(pool, policy, &caller, id, comment).await,
        Action::Revoke => subscriptions::revoke(pool, policy, &caller, id, comment).await,
    }?;
    Ok(Json(view(&state, done)))
}

/// Moves one of the subscription's consumer groups back to a time (or the oldest record
/// kept): `{"group": "...", "to": "2026-12-05T01:00:00Z" | "earliest"}`.
async fn replay(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(raw): Path<String>,
    JsonBody(bytes): JsonBody,
) -> Result<Json<subscriptions::Replay>, AppError> {
    let caller = caller(caller_ext);
    let request: subscriptions::ReplayRequest = body(&bytes)?;
    let done = subscriptions::replay(
        &state.pool,
        &state.policy,
        &state.broker,
        &caller,
        id(&raw)?,
        &request,
    )
    .await?;
    Ok(Json(done))
}
