//! `/api/v1/session`: sign in and out from scripts with the same rules as the login form
//! (throttling, audit, session cookie flags), and ask who is signed in.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use domain::identity::User;
use domain::identity::session::ClientIp;
use domain::policy::{GLOBAL, Role};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use super::{CallerExt, caller};
use crate::error::AppError;
use crate::http::Routes;
use crate::state::AppState;
use domain::policy::Permission;

pub fn routes() -> Routes {
    Routes::new()
        .post("/api/v1/session", login)
        .get("/api/v1/session", whoami)
        .delete("/api/v1/session", logout)
}

#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: String,
}

/// The signed-in user as the API shows it.
#[derive(Serialize)]
pub struct UserView {
    id: String,
    email: String,
    display_name: String,
    kafka_principal: String,
    roles: Vec<Role>,
}

async fn view(state: &AppState, user: User) -> Result<UserView, AppError> {
    let roles = domain::policy::roles_of(&state.pool, user.id).await?;
    Ok(UserView {
        id: user.id.to_string(),
        email: user.email,
        display_name: user.display_name,
        kafka_principal: user.kafka_principal,
        roles,
    })
}

#[tracing::instrument(skip_all)]
async fn login(
    State(state): State<AppState>,
    session: Session,
    ip: Option<Extension<ClientIp>>,
    Json(credentials): Json<Credentials>,
) -> Result<Json<UserView>, AppError> {
    let ip = ip.map(|Extension(ClientIp(ip))| ip);
    let user = domain::identity::login(
        &state.pool,
        &state.throttle,
        &credentials.email,
        &credentials.password,
        ip,
    )
    .await?;
    domain::identity::session::establish(&session, &user)
        .await
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("session store: {e}")))?;
    Ok(Json(view(&state, user).await?))
}

async fn whoami(
    State(state): State<AppState>,
    caller_ext: CallerExt,
) -> Result<Json<UserView>, AppError> {
    let caller = caller(caller_ext);
    let user = state
        .policy
        .authorize(&caller, GLOBAL, Permission::ManageOwnAccount)
        .await?
        .clone();
    Ok(Json(view(&state, user).await?))
}

async fn logout(
    State(state): State<AppState>,
    session: Session,
    caller_ext: CallerExt,
) -> Result<StatusCode, AppError> {
    let caller = caller(caller_ext);
    let user = state
        .policy
        .authorize(&caller, GLOBAL, Permission::ManageOwnAccount)
        .await?;
    session
        .flush()
        .await
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("session store: {e}")))?;
    domain::identity::record_logout(&state.pool, user).await?;
    Ok(StatusCode::NO_CONTENT)
}
