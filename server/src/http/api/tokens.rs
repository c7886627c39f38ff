//! `/api/v1/tokens`: personal API tokens of the caller. The secret is in the creation
//! response only.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use domain::identity::tokens::{NewToken, TokenInfo};
use domain::policy::GLOBAL;
use serde::Deserialize;
use uuid::Uuid;

use super::{CallerExt, caller};
use crate::error::AppError;
use crate::http::Routes;
use crate::state::AppState;
use domain::policy::Permission;

pub fn routes() -> Routes {
    Routes::new()
        .post("/api/v1/tokens", create)
        .get("/api/v1/tokens", list)
        .delete("/api/v1/tokens/{id}", revoke)
}

#[derive(Deserialize)]
struct NewTokenRequest {
    name: String,
}

async fn create(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Json(request): Json<NewTokenRequest>,
) -> Result<(StatusCode, Json<NewToken>), AppError> {
    let caller = caller(caller_ext);
    let user = state
        .policy
        .authorize(&caller, GLOBAL, Permission::ManageOwnAccount)
        .await?;
    let mut tx = state.pool.begin().await?;
    let created = domain::accounts::create_token(&mut tx, user, &request.name).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn list(
    State(state): State<AppState>,
    caller_ext: CallerExt,
) -> Result<Json<Vec<TokenInfo>>, AppError> {
    let caller = caller(caller_ext);
    let user = state
        .policy
        .authorize(&caller, GLOBAL, Permission::ManageOwnAccount)
        .await?;
    Ok(Json(
        domain::identity::tokens::list(&state.pool, user.id).await?,
    ))
}

async fn revoke(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    let caller = caller(caller_ext);
    let user = state
        .policy
        .authorize(&caller, GLOBAL, Permission::ManageOwnAccount)
        .await?;
    let id: Uuid = id
        .parse()
        .map_err(|_| AppError::unprocessable("id", "is not a token id"))?;
    let mut tx = state.pool.begin().await?;
    domain::accounts::revoke_token(&mut tx, user, id).await?;
    tx.commit().await?;
    // Other processes hear of it from the trigger; this one does not wait for that.
    state.tokens.forget_all();
    Ok(StatusCode::NO_CONTENT)
}
