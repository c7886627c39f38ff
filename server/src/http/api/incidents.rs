//! Incidents over REST (`domain::incidents`): `GET /api/v1/incidents?state=&product=&node=`
//! lists the ones the caller may see, `GET /api/v1/incidents/{id}` one with its evidence,
//! timeline, chart data and offered actions, `POST /api/v1/incidents/{id}/actions/{action}`
//! takes an action (`{"to": ...}` for a replay). The domain asks the policy.

use axum::Json;
use axum::extract::{Path, Query, State};
use domain::incidents::actions::{self, ActRequest};
use domain::incidents::{self, Action, ActionRecord, Filter, IncidentDetail, IncidentError};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{CallerExt, JsonBody, body, caller};
use crate::error::AppError;
use crate::http::Routes;
use crate::state::AppState;

pub fn routes() -> Routes {
    Routes::new()
        .get("/api/v1/incidents", list)
        .get("/api/v1/incidents/{id}", get)
        .post("/api/v1/incidents/{id}/actions/{action}", act)
}

#[derive(Deserialize)]
struct ListQuery {
    state: Option<String>,
    product: Option<String>,
    node: Option<String>,
    limit: Option<String>,
}

fn id(text: &str) -> Result<Uuid, AppError> {
    text.parse()
        .map_err(|_| AppError::NotFound("no such incident".to_string()))
}

async fn list(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, AppError> {
    let caller = caller(caller_ext);
    let Query(query) = query.map_err(|e| AppError::BadRequest {
        field: "query".to_string(),
        message: e.body_text(),
    })?;
    let limit = match query.limit.as_deref().filter(|l| !l.is_empty()) {
        None => 0,
        Some(text) => text.parse().map_err(|_| AppError::BadRequest {
            field: "limit".to_string(),
            message: format!("`{text}` is not a whole number"),
        })?,
    };
    let empty = |v: Option<String>| v.filter(|s| !s.is_empty());
    let filter = Filter {
        state: empty(query.state),
        product: empty(query.product),
        node: empty(query.node),
        limit,
    };
    let items = incidents::list(&state.pool, &state.policy, &caller, &filter)
        .await
        .map_err(|error| match error {
            IncidentError::Invalid(message) => AppError::BadRequest {
                field: "state".to_string(),
                message,
            },
            other => other.into(),
        })?;
    Ok(Json(json!({ "items": items })))
}

async fn get(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(raw): Path<String>,
) -> Result<Json<IncidentDetail>, AppError> {
    let caller = caller(caller_ext);
    Ok(Json(
        incidents::get(&state.pool, &state.policy, &caller, id(&raw)?).await?,
    ))
}

async fn act(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path((raw, action)): Path<(String, String)>,
    JsonBody(bytes): JsonBody,
) -> Result<Json<ActionRecord>, AppError> {
    let caller = caller(caller_ext);
    let id = id(&raw)?;
    let action = Action::parse(&action).ok_or(IncidentError::UnknownAction(action))?;
    let request: ActRequest = body(&bytes)?;
    let done = actions::act(
        &state.pool,
        &state.policy,
        &state.broker,
        &caller,
        id,
        action,
        &request,
    )
    .await?;
    Ok(Json(done))
}
