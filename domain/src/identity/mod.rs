//! Identity: who is calling. People (email + argon2id password, a Kafka principal), their
//! personal API tokens, the service accounts of a domain, login with throttling, and the
//! `Caller` every request is resolved to before the policy decides what it may do.

mod password;
pub mod principals;
pub mod roles;
pub mod service_accounts;
pub mod throttle;
pub mod token_cache;
pub mod tokens;
pub mod users;

use serde::{Deserialize, Serialize};

pub use users::User;

/// How a request proved who it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Via {
    /// A browser session cookie.
    Session,
    /// `Authorization: Bearer` with the API token of this prefix.
    Token { prefix: String },
}

/// Who a request comes from, resolved once per request.
#[derive(Clone, Debug, Default)]
pub enum Caller {
    /// Nobody signed in.
    #[default]
    Anonymous,
    /// A signed-in, enabled user.
    User { user: User, via: Via },
}

impl Caller {
    /// The user, when someone is signed in.
    pub fn user(&self) -> Option<&User> {
        match self {
            Caller::Anonymous => None,
            Caller::User { user, .. } => Some(user),
        }
    }

    /// How this caller appears in the audit log.
    pub fn audit_actor(&self) -> crate::audit::Actor {
        match self {
            Caller::Anonymous => crate::audit::Actor::Anonymous,
            Caller::User { user, .. } => crate::audit::Actor::user(user),
        }
    }
}

impl crate::audit::Actor {
    /// The signed-in `user`. (Here rather than in `audit`: the audit log names actors,
    /// identity knows who they are.)
    pub fn user(user: &User) -> Self {
        crate::audit::Actor::User(user.email.clone())
    }
}

/// The audit target naming a user: `user:<email>`, as [`crate::audit::Actor::User`] names
/// the actor.
pub fn user_target(user: &User) -> String {
    crate::audit::Actor::user(user).to_string()
}

/// Keys and values Meshmart keeps in a browser session.
pub mod session {
    use serde::{Deserialize, Serialize};
    use uuid::Uuid;

    /// The session key holding [`SessionAuth`].
    pub const AUTH_KEY: &str = "auth";

    /// Who signed in to this session, and when (for the absolute expiry).
    #[derive(Clone, Debug, Serialize, Deserialize)]
    pub struct SessionAuth {
        pub user_id: Uuid,
        pub authenticated_at: chrono::DateTime<chrono::Utc>,
    }

    /// The client's address as the server saw it, put into each request's extensions (for
    /// login throttling, audit and who may read `/metrics`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct ClientIp(pub std::net::IpAddr);

    /// Signs `user` in to a browser session: a new session id (no fixation), then the
    /// auth record with the time for the absolute expiry. The REST sign-in and the sign-in
    /// form both come here.
    pub async fn establish(
        session: &tower_sessions::Session,
        user: &super::User,
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
}

/// Errors of the identity context.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("a user with this email already exists")]
    EmailTaken,
    #[error("this Kafka principal is already used")]
    PrincipalTaken,
    #[error("a service account with this name already exists")]
    NameTaken,
    #[error("not found")]
    NotFound,
    #[error("password hashing failed")]
    Hashing,
    #[error(transparent)]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for IdentityError {
    fn from(error: sqlx::Error) -> Self {
        match error.as_database_error().and_then(|e| e.constraint()) {
            Some("users_email_key") => IdentityError::EmailTaken,
            Some("users_kafka_principal_key" | "service_accounts_kafka_principal_key") => {
                IdentityError::PrincipalTaken
            }
            Some("service_accounts_name_key") => IdentityError::NameTaken,
            _ => IdentityError::Database(error),
        }
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> IdentityError {
    IdentityError::Invalid {
        field,
        message: message.into(),
    }
}

/// Why a login attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginFailure {
    #[error(transparent)]
    Throttled(#[from] throttle::Throttled),
    #[error("wrong email or password")]
    InvalidCredentials,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Records in the audit log that `user` signed out.
pub async fn record_logout(pool: &sqlx::PgPool, user: &User) -> Result<(), sqlx::Error> {
    let actor = crate::audit::Actor::user(user);
    let mut conn = pool.acquire().await?;
    crate::audit::record(
        &mut conn,
        crate::audit::Event::new(&actor, "logout", actor.to_string()),
    )
    .await
}

/// One login attempt, throttled per account and per address, and audited either way.
#[tracing::instrument(skip_all)]
pub async fn login(
    pool: &sqlx::PgPool,
    throttle: &throttle::LoginThrottle,
    email: &str,
    password: &str,
    ip: Option<std::net::IpAddr>,
) -> Result<User, LoginFailure> {
    use crate::audit::{self, Event};

    let claimed = audit::Actor::claimed(email);
    let claimed_target = claimed.to_string();
    let address = ip.unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    if let Err(refusal) = throttle.attempt(pool, email, address).await {
        let throttled = match refusal {
            throttle::ThrottleError::Throttled(throttled) => throttled,
            throttle::ThrottleError::Database(error) => return Err(error.into()),
        };
        let mut conn = pool.acquire().await?;
        audit::record(
            &mut conn,
            Event::new(&claimed, "login.throttled", &claimed_target)
                .failed()
                .from_ip(ip),
        )
        .await?;
        return Err(throttled.into());
    }
    match users::authenticate(pool, email, password).await {
        Ok(user) => {
            let mut conn = pool.acquire().await?;
            let actor = audit::Actor::user(&user);
            audit::record(
                &mut conn,
                Event::new(&actor, "login", actor.to_string()).from_ip(ip),
            )
            .await?;
            Ok(user)
        }
        Err(users::LoginError::InvalidCredentials) => {
            let mut conn = pool.acquire().await?;
            audit::record(
                &mut conn,
                Event::new(&claimed, "login", &claimed_target)
                    .failed()
                    .from_ip(ip),
            )
            .await?;
            Err(LoginFailure::InvalidCredentials)
        }
        Err(users::LoginError::Database(error)) => Err(error.into()),
    }
}
