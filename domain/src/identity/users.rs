//! People who use Meshmart: creation, lookup, login, disabling, password resets. Every user
//! is an analyst from the start (a Casbin grouping row written in the same transaction).

use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::roles::{self, Role};
use super::{IdentityError, invalid, password};
use crate::db::Timestamp;

/// A person with a login.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub kafka_principal: String,
    pub disabled: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// What it takes to create a user.
#[derive(Clone, Debug, Deserialize)]
pub struct NewUser {
    pub email: String,
    pub display_name: String,
    pub password: String,
    /// Defaults to `User:<local part of the email>`.
    pub kafka_principal: Option<String>,
}

/// Normalises and checks an email address; returns it lowercased.
pub fn normalize_email(email: &str) -> Result<String, IdentityError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, host)| {
            !local.is_empty() && !host.is_empty() && !host.contains('@') && !email.contains(' ')
        });
    if valid {
        Ok(email)
    } else {
        Err(invalid("email", "is not an email address"))
    }
}

/// `User:<local part>`, with characters Kafka principals should not carry replaced.
pub fn default_principal(email: &str) -> String {
    let local = email.split('@').next().unwrap_or(email);
    let cleaned: String = local
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("User:{cleaned}")
}

fn check_principal(principal: &str) -> Result<(), IdentityError> {
    let name = principal.strip_prefix("User:").unwrap_or_default();
    if name.is_empty() || name.len() > 200 || name.contains(char::is_whitespace) {
        return Err(invalid(
            "kafka_principal",
            "must look like User:name (no spaces)",
        ));
    }
    Ok(())
}

/// Creates a user with the analyst role, in the caller's transaction.
#[tracing::instrument(skip_all, fields(email = %new.email))]
pub async fn create(conn: &mut PgConnection, new: NewUser) -> Result<User, IdentityError> {
    let email = normalize_email(&new.email)?;
    let display_name = new.display_name.trim().to_string();
    if display_name.is_empty() || display_name.chars().count() > 200 {
        return Err(invalid("display_name", "must be 1 to 200 characters"));
    }
    password::check_rules(&new.password)?;
    let principal = new
        .kafka_principal
        .filter(|p| !p.trim().is_empty())
        .map(|p| p.trim().to_string())
        .unwrap_or_else(|| default_principal(&email));
    check_principal(&principal)?;
    let hash = password::hash(new.password).await?;
    let user = sqlx::query_as!(
        User,
        r#"insert into users (email, display_name, password_hash, kafka_principal)
           values ($1, $2, $3, $4)
           returning id, email, display_name, kafka_principal, disabled,
                     created_at as "created_at: Timestamp""#,
        email,
        display_name,
        hash,
        principal,
    )
    .fetch_one(&mut *conn)
    .await?;
    roles::grant(conn, user.id, &Role::Analyst).await?;
    Ok(user)
}

/// The user with this id, on a pool or inside a transaction.
pub async fn find(
    executor: impl sqlx::PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as!(
        User,
        r#"select id, email, display_name, kafka_principal, disabled,
                  created_at as "created_at: Timestamp"
           from users where id = $1"#,
        id,
    )
    .fetch_optional(executor)
    .await
}

/// The user with this email (case-insensitive), on a pool or inside a transaction.
pub async fn find_by_email(
    executor: impl sqlx::PgExecutor<'_>,
    email: &str,
) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as!(
        User,
        r#"select id, email, display_name, kafka_principal, disabled,
                  created_at as "created_at: Timestamp"
           from users where email = $1"#,
        email.trim().to_lowercase(),
    )
    .fetch_optional(executor)
    .await
}

/// Every user, by email.
pub async fn list(pool: &PgPool) -> Result<Vec<User>, sqlx::Error> {
    sqlx::query_as!(
        User,
        r#"select id, email, display_name, kafka_principal, disabled,
                  created_at as "created_at: Timestamp"
           from users order by email"#,
    )
    .fetch_all(pool)
    .await
}

/// Why a login failed. The messages are what the person sees.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("wrong email or password")]
    InvalidCredentials,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Checks an email and password. Unknown emails and disabled accounts fail exactly like a
/// wrong password, and take as long.
#[tracing::instrument(skip_all)]
pub async fn authenticate(pool: &PgPool, email: &str, password: &str) -> Result<User, LoginError> {
    let row = sqlx::query!(
        r#"select id, password_hash, disabled from users where email = $1"#,
        email.trim().to_lowercase(),
    )
    .fetch_optional(pool)
    .await?
    .map(|row| (row.id, row.password_hash, row.disabled));
    let Some((id, hash, disabled)) = row else {
        password::verify(password::decoy_hash().await, password.to_string()).await;
        return Err(LoginError::InvalidCredentials);
    };
    if !password::verify(hash, password.to_string()).await || disabled {
        return Err(LoginError::InvalidCredentials);
    }
    find(pool, id).await?.ok_or(LoginError::InvalidCredentials)
}

/// Enables or disables a user; returns the user as it was before.
pub async fn set_disabled(
    conn: &mut PgConnection,
    id: Uuid,
    disabled: bool,
) -> Result<User, IdentityError> {
    let before = sqlx::query_as!(
        User,
        r#"select id, email, display_name, kafka_principal, disabled,
                  created_at as "created_at: Timestamp"
           from users where id = $1 for update"#,
        id,
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(IdentityError::NotFound)?;
    sqlx::query!(
        r#"update users set disabled = $2, updated_at = now() where id = $1"#,
        id,
        disabled,
    )
    .execute(&mut *conn)
    .await?;
    if disabled {
        // A disabled user's API tokens stop working at once, and stay revoked.
        sqlx::query!(
            r#"update api_tokens set revoked_at = now(), updated_at = now()
               where user_id = $1 and revoked_at is null"#,
            id,
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(before)
}

/// Sets a new password.
pub async fn reset_password(
    conn: &mut PgConnection,
    id: Uuid,
    new_password: String,
) -> Result<(), IdentityError> {
    password::check_rules(&new_password)?;
    let hash = password::hash(new_password).await?;
    let updated = sqlx::query!(
        r#"update users set password_hash = $2, updated_at = now() where id = $1"#,
        id,
        hash,
    )
    .execute(conn)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(IdentityError::NotFound);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_lowercased_and_checked() {
        assert_eq!(
            normalize_email("  Ana@Example.COM ").expect("valid"),
            "ana@example.com"
        );
        for bad in ["", "ana", "@example.com", "ana@", "a b@c.d", "a@b@c"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_default_principal_comes_from_the_local_part() {
        assert_eq!(
            default_principal("analyst1@meshmart.local"),
            "User:analyst1"
        );
        assert_eq!(default_principal("ana+x@b.c"), "User:ana-x");
    }

    fn new_user(email: &str) -> NewUser {
        NewUser {
            email: email.to_string(),
            display_name: "Ana Lyst".to_string(),
            password: "meshmart".to_string(),
            kafka_principal: None,
        }
    }

    #[sqlx::test(migrator = "crate::db::MIGRATOR")]
    async fn a_created_user_logs_in_with_the_right_password_only(pool: PgPool) {
        let mut conn = pool.acquire().await.expect("conn");
        let user = create(&mut conn, new_user("Ana@Example.com"))
            .await
            .expect("created");
        assert_eq!(user.email, "ana@example.com");
        assert_eq!(user.kafka_principal, "User:ana");

        let found = authenticate(&pool, "ANA@example.com", "meshmart")
            .await
            .expect("login");
        assert_eq!(found.id, user.id);
        assert!(matches!(
            authenticate(&pool, "ana@example.com", "wrong-password").await,
            Err(LoginError::InvalidCredentials)
        ));
        assert!(matches!(
            authenticate(&pool, "nobody@example.com", "meshmart").await,
            Err(LoginError::InvalidCredentials)
        ));

        set_disabled(&mut conn, user.id, true)
            .await
            .expect("disable");
        assert!(matches!(
            authenticate(&pool, "ana@example.com", "meshmart").await,
            Err(LoginError::InvalidCredentials)
        ));
    }

    #[sqlx::test(migrator = "crate::db::MIGRATOR")]
    async fn duplicate_emails_and_bad_fields_are_refused(pool: PgPool) {
        let mut conn = pool.acquire().await.expect("conn");
        create(&mut conn, new_user("ana@example.com"))
            .await
            .expect("created");
        assert!(matches!(
            create(&mut conn, new_user("ANA@example.com")).await,
            Err(IdentityError::EmailTaken)
        ));
        let mut short = new_user("bob@example.com");
        short.password = "short".to_string();
        let error = create(&mut conn, short).await.expect_err("short password");
        assert_eq!(error.to_string(), "password: must be at least 8 characters");
    }
}
