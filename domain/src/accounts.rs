//! Audited account operations: each makes its change and appends its audit entry on the
//! same connection, so within the caller's transaction both commit or neither does. REST
//! handlers, server functions and the CLI all go through here.

use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::audit::{self, Actor, Event};
use crate::identity::service_accounts::{self, ServiceAccount};
use crate::identity::tokens::{self, NewToken, TokenInfo};
use crate::identity::users::{self, NewUser};
use crate::identity::{IdentityError, User, user_target};
use crate::policy::{self, Role};
use crate::subscriptions;

/// Creates a user (an analyst) on behalf of `actor`.
pub async fn create_user(
    conn: &mut PgConnection,
    actor: &Actor,
    new: NewUser,
) -> Result<User, IdentityError> {
    let user = users::create(&mut *conn, new).await?;
    audit::record(
        conn,
        Event::new(actor, "user.create", user_target(&user)).after(json!({
            "email": user.email,
            "display_name": user.display_name,
            "kafka_principal": user.kafka_principal,
        })),
    )
    .await?;
    Ok(user)
}

async fn existing_user(conn: &mut PgConnection, id: Uuid) -> Result<User, IdentityError> {
    users::find(conn, id).await?.ok_or(IdentityError::NotFound)
}

/// Why disabling or enabling a user failed: the account change, or ending the disabled
/// user's subscriptions (which identity itself knows nothing of).
#[derive(Debug, thiserror::Error)]
pub enum DisableError {
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Subscription(#[from] subscriptions::SubscriptionError),
}

impl From<sqlx::Error> for DisableError {
    fn from(error: sqlx::Error) -> Self {
        DisableError::Identity(error.into())
    }
}

/// Disables or enables a user. Disabling also revokes their API tokens and ends the live
/// subscriptions of their own Kafka principal (their ACLs are removed through the outbox).
pub async fn set_disabled(
    conn: &mut PgConnection,
    actor: &Actor,
    id: Uuid,
    disabled: bool,
) -> Result<User, DisableError> {
    let before = users::set_disabled(&mut *conn, id, disabled).await?;
    if disabled {
        // Disabling ends the user's own access on the broker too, not only their sign-in;
        // subscriptions they requested for service accounts serve those and stay.
        subscriptions::end_all_of(&mut *conn, &before.kafka_principal, actor, "user disabled")
            .await?;
    }
    let action = if disabled {
        "user.disable"
    } else {
        "user.enable"
    };
    audit::record(
        &mut *conn,
        Event::new(actor, action, user_target(&before))
            .before(json!({ "disabled": before.disabled }))
            .after(json!({ "disabled": disabled })),
    )
    .await?;
    Ok(existing_user(conn, id).await?)
}

/// Sets a new password for a user.
pub async fn reset_password(
    conn: &mut PgConnection,
    actor: &Actor,
    id: Uuid,
    new_password: String,
) -> Result<(), IdentityError> {
    let user = existing_user(&mut *conn, id).await?;
    users::reset_password(&mut *conn, id, new_password).await?;
    audit::record(
        conn,
        Event::new(actor, "user.password_reset", user_target(&user)),
    )
    .await?;
    Ok(())
}

/// Grants a role; `false` (and no audit entry) when it was already held.
pub async fn grant_role(
    conn: &mut PgConnection,
    actor: &Actor,
    id: Uuid,
    role: &Role,
) -> Result<bool, IdentityError> {
    let user = existing_user(&mut *conn, id).await?;
    if let Role::Owner(domain) = role
        && !crate::domains::exists(&mut *conn, domain).await?
    {
        return Err(IdentityError::Invalid {
            field: "domain",
            message: format!("no domain `{domain}`"),
        });
    }
    let granted = policy::grant(&mut *conn, id, role).await?;
    if granted {
        let event = Event::new(actor, "role.grant", user_target(&user)).after(role);
        audit::record(conn, in_role_domain(event, role)).await?;
    }
    Ok(granted)
}

/// Revokes a role; `false` (and no audit entry) when it was not held.
pub async fn revoke_role(
    conn: &mut PgConnection,
    actor: &Actor,
    id: Uuid,
    role: &Role,
) -> Result<bool, IdentityError> {
    let user = existing_user(&mut *conn, id).await?;
    let revoked = policy::revoke(&mut *conn, id, role).await?;
    if revoked {
        let event = Event::new(actor, "role.revoke", user_target(&user)).before(role);
        audit::record(conn, in_role_domain(event, role)).await?;
    }
    Ok(revoked)
}

/// A role change's audit entry, filed under the role's domain when it is an owner's.
fn in_role_domain(event: Event, role: &Role) -> Event {
    match role {
        Role::Owner(domain) => event.in_domain(domain),
        Role::Admin | Role::Analyst => event,
    }
}

/// Creates an API token for `user` (the actor is the user).
pub async fn create_token(
    conn: &mut PgConnection,
    user: &User,
    name: &str,
) -> Result<NewToken, IdentityError> {
    let created = tokens::create(&mut *conn, user.id, name).await?;
    audit::record(
        conn,
        Event::new(
            &Actor::user(user),
            "token.create",
            format!("token:{}", created.info.prefix),
        )
        .after(json!({ "name": created.info.name, "prefix": created.info.prefix })),
    )
    .await?;
    Ok(created)
}

/// Revokes one of `user`'s tokens.
pub async fn revoke_token(
    conn: &mut PgConnection,
    user: &User,
    token_id: Uuid,
) -> Result<TokenInfo, IdentityError> {
    let before = tokens::revoke(&mut *conn, user.id, token_id).await?;
    if before.revoked_at.is_none() {
        audit::record(
            conn,
            Event::new(
                &Actor::user(user),
                "token.revoke",
                format!("token:{}", before.prefix),
            )
            .before(json!({ "name": before.name, "revoked": false }))
            .after(json!({ "revoked": true })),
        )
        .await?;
    }
    Ok(before)
}

/// Creates a service account in `domain`.
pub async fn create_service_account(
    conn: &mut PgConnection,
    actor: &Actor,
    actor_id: Option<Uuid>,
    domain: &str,
    name: &str,
    description: &str,
) -> Result<ServiceAccount, IdentityError> {
    let account = service_accounts::create(&mut *conn, domain, name, description, actor_id).await?;
    audit::record(
        conn,
        Event::new(actor, "service_account.create", &account.kafka_principal)
            .in_domain(domain)
            .after(&account),
    )
    .await?;
    Ok(account)
}

/// A SCRAM credential just issued for a service account; the password is shown once.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IssuedCredential {
    pub principal: String,
    pub username: String,
    pub mechanism: String,
    pub password: String,
}

/// Why no credential was issued.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("no service account `{0}` in this domain")]
    NotFound(String),
    #[error("{0}")]
    Refused(String),
    #[error("the broker cannot store SCRAM credentials: {0}")]
    Unsupported(String),
    /// The broker's own words are logged where the error is reported, not shown.
    #[error("the broker did not take the credential; try again")]
    Broker(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Creates (or replaces) the SCRAM-SHA-512 credential of the service account `name` of
/// `domain` on the broker, with a fresh random password, and audits it (without the
/// password). The broker's admin user is reserved.
pub async fn issue_scram_credential(
    pool: &sqlx::PgPool,
    broker: &crate::broker::BrokerAdmin,
    actor: &Actor,
    domain: &str,
    name: &str,
) -> Result<IssuedCredential, CredentialError> {
    use argon2::password_hash::rand_core::{OsRng, RngCore};

    let account = service_accounts::list(pool, Some(domain))
        .await?
        .into_iter()
        .find(|a| a.name == name)
        .ok_or_else(|| CredentialError::NotFound(name.to_string()))?;
    if account.disabled {
        return Err(CredentialError::Refused(format!(
            "service account `{name}` is disabled"
        )));
    }
    let username = account
        .kafka_principal
        .strip_prefix("User:")
        .unwrap_or(&account.kafka_principal)
        .to_string();
    let shadows_a_person = sqlx::query_scalar!(
        r#"select exists (select 1 from users where kafka_principal = $1) as "exists!""#,
        account.kafka_principal,
    )
    .fetch_one(pool)
    .await?;
    if shadows_a_person {
        return Err(CredentialError::Refused(format!(
            "{} is also a person's principal; a service account cannot get its credential",
            account.kafka_principal
        )));
    }
    if username == broker.admin_user() {
        return Err(CredentialError::Refused(format!(
            "`{username}` is the broker's admin user and cannot get a service-account credential"
        )));
    }
    let mut bytes = [0u8; 24];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| CredentialError::Broker(format!("no randomness: {e}")))?;
    let password: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    broker
        .upsert_scram(&username, &password)
        .await
        .map_err(|error| match error {
            crate::broker::scram::ScramError::Unsupported(why) => CredentialError::Unsupported(why),
            crate::broker::scram::ScramError::Invalid(why) => CredentialError::Refused(why),
            other => CredentialError::Broker(other.to_string()),
        })?;
    let mut conn = pool.acquire().await?;
    audit::record(
        &mut conn,
        Event::new(
            actor,
            "service_account.credential",
            &account.kafka_principal,
        )
        .in_domain(domain)
        .after(serde_json::json!({ "mechanism": "SCRAM-SHA-512", "username": username })),
    )
    .await?;
    Ok(IssuedCredential {
        principal: account.kafka_principal,
        username,
        mechanism: "SCRAM-SHA-512".to_string(),
        password,
    })
}
