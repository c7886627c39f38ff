//! Server-only glue for server functions: the services they use (provided as Leptos
//! context by the server), the caller of the current request, the one authorization helper,
//! how domain errors become [`ApiError`]s with the right HTTP status, and ([`time`]) how
//! times are written for the browser.

use std::net::IpAddr;
use std::sync::Arc;

use domain::identity::session::{AUTH_KEY, SessionAuth};
use domain::identity::throttle::LoginThrottle;
use domain::identity::{Caller, IdentityError, User};
use domain::policy::{Denied, Policy};
use http::StatusCode;
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use sqlx::PgPool;

use crate::api::ApiError;

pub mod time;

/// Long-lived handles the server provides to every server function and page render.
#[derive(Clone)]
pub struct Services {
    pub pool: PgPool,
    pub policy: Policy,
    pub search: Arc<domain::search::SearchIndex>,
    pub throttle: Arc<LoginThrottle>,
    pub clients: Arc<domain::subscriptions::ClientAccess>,
    pub broker: domain::broker::BrokerAdmin,
}

/// The services, or `Internal` when the server forgot to provide them.
pub fn services() -> Result<Services, ApiError> {
    use_context::<Services>().ok_or_else(|| {
        tracing::error!("server functions called without Services in context");
        ApiError::Internal
    })
}

/// The caller the server's auth middleware resolved for this request.
pub fn caller() -> Caller {
    use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Caller>().cloned())
        .unwrap_or_default()
}

/// The client's IP address as the server saw it.
pub fn client_ip() -> Option<IpAddr> {
    use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<ClientIp>().map(|ip| ip.0))
}

/// The client address, put into request extensions by the server.
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub IpAddr);

/// Asks the policy whether the caller may `action` the `object` in `domain`; sets the
/// HTTP status to 401/403 when not.
pub async fn authorize(domain: &str, object: &str, action: &str) -> Result<User, ApiError> {
    let services = services()?;
    let caller = caller();
    services
        .policy
        .authorize(&caller, domain, object, action)
        .await
        .cloned()
        .map_err(denied)
}

/// Maps a policy refusal to an error (and status) for the browser.
pub fn denied(denied: Denied) -> ApiError {
    match denied {
        Denied::Unauthenticated => fail(StatusCode::UNAUTHORIZED, ApiError::Unauthenticated),
        forbidden @ Denied::Forbidden { .. } => fail(
            StatusCode::FORBIDDEN,
            ApiError::Forbidden(forbidden.to_string()),
        ),
    }
}

/// Sets the response status for `error` and returns it. A plain HTML form post (no
/// JavaScript) keeps Leptos's redirect back to the form with the error in the URL, which a
/// 4xx status would stop the browser from following.
pub fn fail(status: StatusCode, error: ApiError) -> ApiError {
    let from_html_form = use_context::<http::request::Parts>().is_some_and(|parts| {
        parts.method == http::Method::POST
            && parts
                .headers
                .get(http::header::ACCEPT)
                .and_then(|accept| accept.to_str().ok())
                .is_some_and(|accept| accept.contains("text/html"))
    });
    if !from_html_form && let Some(response) = use_context::<ResponseOptions>() {
        response.set_status(status);
    }
    error
}

/// A field the user got wrong: status 422.
pub fn unprocessable(field: impl Into<String>, message: impl Into<String>) -> ApiError {
    fail(
        StatusCode::UNPROCESSABLE_ENTITY,
        ApiError::invalid(field, message),
    )
}

/// Logs an unexpected error and returns the generic `Internal`.
pub fn internal(error: impl std::fmt::Display) -> ApiError {
    tracing::error!(%error, "server function failed");
    fail(StatusCode::INTERNAL_SERVER_ERROR, ApiError::Internal)
}

/// Maps identity errors: field problems and conflicts are the user's, the rest is ours.
pub fn identity_error(error: IdentityError) -> ApiError {
    match error {
        IdentityError::Invalid { field, message } => fail(
            StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::invalid(field, message),
        ),
        IdentityError::NotFound => fail(StatusCode::NOT_FOUND, ApiError::NotFound),
        conflict @ (IdentityError::EmailTaken
        | IdentityError::PrincipalTaken
        | IdentityError::NameTaken) => fail(
            StatusCode::CONFLICT,
            ApiError::Conflict(conflict.to_string()),
        ),
        other => internal(other),
    }
}

/// Signs `user` in to the browser session: a new session id (no fixation), then the auth
/// record with the time for the absolute expiry.
pub async fn establish_session(
    session: &tower_sessions::Session,
    user: &User,
) -> Result<(), tower_sessions::session::Error> {
    session.cycle_id().await?;
    session
        .insert(
            AUTH_KEY,
            SessionAuth {
                user_id: user.id,
                authenticated_at: chrono::Utc::now(),
            },
        )
        .await
}
