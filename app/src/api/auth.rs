//! Signing in and out of the browser session, and who is signed in.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::ApiError;
#[cfg(feature = "ssr")]
use domain::policy::Permission;

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
    use crate::ssr::{client_ip, fail, internal, services};
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
        // Said next to the password field, where the form shows it.
        Err(LoginFailure::InvalidCredentials) => {
            return Err(fail(
                StatusCode::UNAUTHORIZED,
                ApiError::invalid("password", "wrong email or password"),
            ));
        }
        Err(other) => return Err(crate::ssr::error(other)),
    };
    let session = leptos_axum::extract::<tower_sessions::Session>()
        .await
        .map_err(internal)?;
    domain::identity::session::establish(&session, &user)
        .await
        .map_err(internal)?;
    leptos_axum::redirect(&local_path(next.as_deref()));
    Ok(())
}

/// The longest `next` accepted; a longer one falls back to `/`.
#[cfg(feature = "ssr")]
const MAX_NEXT_BYTES: usize = 2048;

/// Where to go after signing in: `next` when it is a path and query on this site, else `/`.
///
/// `next` is parsed as a URL relative to this site and kept only if it stays on this origin
/// and contains no control characters or backslashes (browsers strip tabs and newlines and
/// read `\` as `/`, so `/<TAB>/evil.example` would leave the site, and a newline cannot go
/// into a `Location` header at all). Its normalised path must not start with `//` either,
/// written plainly or percent-encoded, which some browsers and proxies read as another host.
#[cfg(feature = "ssr")]
fn local_path(next: Option<&str>) -> String {
    next.and_then(same_origin_path)
        .unwrap_or_else(|| "/".to_string())
}

#[cfg(feature = "ssr")]
fn same_origin_path(next: &str) -> Option<String> {
    if next.len() > MAX_NEXT_BYTES
        || !next.starts_with('/')
        || next.chars().any(|c| c.is_control() || c == '\\')
    {
        return None;
    }
    let base = url::Url::parse("http://meshmart.invalid/").ok()?;
    let url = base.join(next).ok()?;
    if url.origin() != base.origin() || url.username() != "" || url.password().is_some() {
        return None;
    }
    let path = url.path();
    let lowered = path.to_ascii_lowercase();
    let leaves_site = ["//", "/%2f", "/%5c"]
        .iter()
        .any(|prefix| lowered.starts_with(prefix));
    if leaves_site {
        return None;
    }
    Some(match url.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_string(),
    })
}

/// Ends the browser session.
#[server(prefix = "/api/fn", endpoint = "logout")]
pub async fn logout() -> Result<(), ApiError> {
    use crate::ssr::{authorize, internal, services};
    use domain::policy::GLOBAL;

    let user = authorize(GLOBAL, Permission::ManageOwnAccount).await?;
    let session = leptos_axum::extract::<tower_sessions::Session>()
        .await
        .map_err(internal)?;
    session.flush().await.map_err(internal)?;
    let services = services()?;
    domain::identity::record_logout(&services.pool, &user)
        .await
        .map_err(internal)?;
    leptos_axum::redirect("/");
    Ok(())
}

/// The signed-in person, or `None`. While a page renders, the one the server read before
/// rendering it ([`HeaderMe`]).
#[server(prefix = "/api/fn", endpoint = "current_user")]
pub async fn current_user() -> Result<Option<Me>, ApiError> {
    use crate::ssr::{caller, services};

    let read_before = use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<HeaderMe>().cloned());
    if let Some(HeaderMe(me)) = read_before {
        return me;
    }
    let services = services()?;
    me_of(&services.pool, &services.policy, &caller()).await
}

/// Who signed in, as the header shows them, read by the server before it renders a page
/// and left in the request's extensions. The header then has it at once, so its menu is
/// in the page's HTML where it belongs: read during the render, it streamed out of order
/// in a `<template>` that only a script puts in place, and without JavaScript the page had
/// no menu and no way to sign out.
#[cfg(feature = "ssr")]
#[derive(Clone, Debug)]
pub struct HeaderMe(pub Result<Option<Me>, ApiError>);

/// `caller` as the header shows them: their roles as the loaded policy holds them (it
/// decides every request with these) and the counts of their badges.
#[cfg(feature = "ssr")]
pub async fn me_of(
    pool: &sqlx::PgPool,
    policy: &domain::policy::Policy,
    caller: &domain::identity::Caller,
) -> Result<Option<Me>, ApiError> {
    use domain::policy::Role;

    let Some(user) = caller.user() else {
        return Ok(None);
    };
    let roles = policy.roles_held(user.id).await;
    let badges = domain::subscriptions::badge_counts(pool, policy, user)
        .await
        .map_err(crate::ssr::internal)?;
    Ok(Some(Me {
        approvals_pending: badges.pending,
        notifications: badges.unread,
        is_admin: roles.contains(&Role::Admin),
        roles: roles.iter().map(ToString::to_string).collect(),
        email: user.email.clone(),
        display_name: user.display_name.clone(),
        kafka_principal: user.kafka_principal.clone(),
    }))
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::local_path;

    #[test]
    fn redirects_stay_on_this_site() {
        assert_eq!(local_path(Some("/admin")), "/admin");
        assert_eq!(
            local_path(Some("/products/order-placed?tab=schema")),
            "/products/order-placed?tab=schema"
        );
        assert_eq!(local_path(Some("/search?q=a b")), "/search?q=a%20b");
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn redirects_refuse_everything_that_could_leave_the_site_or_break_the_header() {
        let long = format!("/{}", "a".repeat(5000));
        for hostile in [
            "/\t/evil.example",
            "/\r/evil.example",
            "/\n",
            "/\r\nSet-Cookie: x=1",
            "/\\evil.example",
            "//evil.example",
            "///evil.example",
            "/%2F%2Fevil.example",
            "/%2f/evil.example",
            "/%5Cevil.example",
            "/.//evil.example",
            "/a/..//evil.example",
            "https://evil.example",
            "http:/evil.example",
            "evil.example",
            "",
            "/\u{0}",
            "/\u{7f}",
            long.as_str(),
        ] {
            assert_eq!(
                local_path(Some(hostile)),
                "/",
                "{hostile:?} must fall back to /"
            );
        }
    }
}
