//! Signing in and out of the browser session, and who is signed in.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::ApiError;

/// The signed-in person, as pages show them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub email: String,
    pub display_name: String,
    pub kafka_principal: String,
    /// Human-readable roles, e.g. "owner of sales".
    pub roles: Vec<String>,
    pub is_admin: bool,
    /// Access requests waiting for this person's decision (the header's badge).
    pub approvals_pending: i64,
    /// Unread in-app notifications (expiry warnings and expiries).
    pub notifications: i64,
}

/// Signs in with email and password; on success the browser goes to `next` (a local path).
#[server(prefix = "/api/fn", endpoint = "login")]
pub async fn login(email: String, password: String, next: Option<String>) -> Result<(), ApiError> {
    use crate::ssr::{client_ip, establish_session, fail, internal, services};
    use domain::identity::LoginFailure;
    use http::StatusCode;

    let services = services()?;
    if email.trim().is_empty() {
        return Err(fail(
            StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::invalid("email", "is required"),
        ));
    }
    let user = match domain::identity::login(
        &services.pool,
        &services.throttle,
        &email,
        &password,
        client_ip(),
    )
    .await
    {
        Ok(user) => user,
        Err(LoginFailure::Throttled(throttled)) => {
            return Err(fail(
                StatusCode::TOO_MANY_REQUESTS,
                ApiError::Throttled(throttled.to_string()),
            ));
        }
        Err(LoginFailure::InvalidCredentials) => {
            return Err(fail(
                StatusCode::UNAUTHORIZED,
                ApiError::invalid("password", "wrong email or password"),
            ));
        }
        Err(LoginFailure::Database(error)) => return Err(internal(error)),
    };
    let session = leptos_axum::extract::<tower_sessions::Session>()
        .await
        .map_err(internal)?;
    establish_session(&session, &user).await.map_err(internal)?;
    leptos_axum::redirect(&local_path(next.as_deref()));
    Ok(())
}

/// Only same-site paths: an open redirect would let links send people anywhere.
#[cfg(feature = "ssr")]
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
            path.to_string()
        }
        _ => "/".to_string(),
    }
}

/// Ends the browser session.
#[server(prefix = "/api/fn", endpoint = "logout")]
pub async fn logout() -> Result<(), ApiError> {
    use crate::ssr::{authorize, internal, services};
    use domain::audit::{self, Event};
    use domain::policy::GLOBAL;

    let user = authorize(GLOBAL, "account", "manage").await?;
    let session = leptos_axum::extract::<tower_sessions::Session>()
        .await
        .map_err(internal)?;
    session.flush().await.map_err(internal)?;
    let services = services()?;
    let mut conn = services.pool.acquire().await.map_err(internal)?;
    let actor = format!("user:{}", user.email);
    audit::record(&mut conn, Event::new(&actor, "logout", &actor))
        .await
        .map_err(internal)?;
    leptos_axum::redirect("/");
    Ok(())
}

/// The signed-in person, or `None`.
#[server(prefix = "/api/fn", endpoint = "current_user")]
pub async fn current_user() -> Result<Option<Me>, ApiError> {
    use crate::ssr::{caller, internal, services};
    use domain::policy::Role;

    let Some(user) = caller().user().cloned() else {
        return Ok(None);
    };
    let services = services()?;
    let roles = domain::policy::roles_of(&services.pool, user.id)
        .await
        .map_err(internal)?;
    let approvals_pending =
        domain::subscriptions::pending_count(&services.pool, &services.policy, &user)
            .await
            .map_err(internal)?;
    let notifications = domain::subscriptions::notifications(&services.pool, &user)
        .await
        .map_err(internal)?
        .len() as i64;
    Ok(Some(Me {
        approvals_pending,
        notifications,
        is_admin: roles.contains(&Role::Admin),
        roles: roles.iter().map(ToString::to_string).collect(),
        email: user.email,
        display_name: user.display_name,
        kafka_principal: user.kafka_principal,
    }))
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::local_path;

    #[test]
    fn redirects_stay_on_this_site() {
        assert_eq!(local_path(Some("/admin")), "/admin");
        assert_eq!(local_path(Some("//evil.example")), "/");
        assert_eq!(local_path(Some("https://evil.example")), "/");
        assert_eq!(local_path(Some("/\\evil.example")), "/");
        assert_eq!(local_path(None), "/");
    }
}
