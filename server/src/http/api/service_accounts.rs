//! `/api/v1/domains/{domain}/service-accounts`: a domain's non-human principals, managed by
//! the domain's owners and admins.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use domain::identity::service_accounts::{self, ServiceAccount};
use serde::Deserialize;

use super::{CallerExt, caller};
use crate::error::AppError;
use crate::http::Routes;
use crate::state::AppState;
use domain::policy::Permission;

pub fn routes() -> Routes {
    Routes::new()
        .get("/api/v1/domains/{domain}/service-accounts", list)
        .post("/api/v1/domains/{domain}/service-accounts", create)
        .post(
            "/api/v1/domains/{domain}/service-accounts/{name}/credentials",
            issue_credential,
        )
}

/// Creates (or rotates) the service account's SCRAM-SHA-512 credential on the broker; the
/// password is in this response only.
async fn issue_credential(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path((domain, name)): Path<(String, String)>,
) -> Result<(StatusCode, Json<serde_json::Value>), AppError> {
    let caller = caller(caller_ext);
    state
        .policy
        .authorize(&caller, &domain, Permission::ManageServiceAccounts)
        .await?;
    let issued = domain::accounts::issue_scram_credential(
        &state.pool,
        &state.broker,
        &caller.audit_actor(),
        &domain,
        &name,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "principal": issued.principal,
            "username": issued.username,
            "mechanism": issued.mechanism,
            "password": issued.password,
            "bootstrap_servers": state.clients.bootstrap_servers,
        })),
    ))
}

#[derive(Deserialize)]
struct NewServiceAccount {
    name: String,
    #[serde(default)]
    description: String,
}

async fn list(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(domain): Path<String>,
) -> Result<Json<Vec<ServiceAccount>>, AppError> {
    let caller = caller(caller_ext);
    state
        .policy
        .authorize(&caller, &domain, Permission::ReadServiceAccounts)
        .await?;
    Ok(Json(
        service_accounts::list(&state.pool, Some(&domain)).await?,
    ))
}

async fn create(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(domain): Path<String>,
    Json(request): Json<NewServiceAccount>,
) -> Result<(StatusCode, Json<ServiceAccount>), AppError> {
    let caller = caller(caller_ext);
    let user = state
        .policy
        .authorize(&caller, &domain, Permission::ManageServiceAccounts)
        .await?;
    let mut tx = state.pool.begin().await?;
    let account = domain::accounts::create_service_account(
        &mut tx,
        &caller.audit_actor(),
        Some(user.id),
        &domain,
        &request.name,
        &request.description,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(account)))
}
