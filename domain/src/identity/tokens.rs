//! Personal API tokens for automation: `mmt_` + 64 hex characters of OS randomness. Only a
//! SHA-256 of the token is stored (the token itself is shown once); the first characters
//! are kept to recognise it in lists. Revocation takes effect on the next request.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{IdentityError, User, invalid};

const TOKEN_PREFIX: &str = "mmt_";
/// Characters of the token kept in clear to recognise it: `mmt_` + 8.
const SHOWN_PREFIX_LEN: usize = 12;

/// A token as lists show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct TokenInfo {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A new token, with the secret that is never shown again.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NewToken {
    pub token: String,
    #[serde(flatten)]
    pub info: TokenInfo,
}

const TOKEN_COLUMNS: &str = "id, name, prefix, created_at, last_used_at, revoked_at";

fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Creates a token for `user_id`.
pub async fn create(
    conn: &mut PgConnection,
    user_id: Uuid,
    name: &str,
) -> Result<NewToken, IdentityError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(invalid("name", "must be 1 to 100 characters"));
    }
    let mut secret = [0u8; 32];
    OsRng.fill_bytes(&mut secret);
    let token = format!(
        "{TOKEN_PREFIX}{}",
        secret
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let info = sqlx::query_as::<_, TokenInfo>(&format!(
        r#"insert into api_tokens (user_id, name, prefix, token_hash)
           values ($1, $2, $3, $4)
           returning {TOKEN_COLUMNS}"#
    ))
    .bind(user_id)
    .bind(name)
    .bind(&token[..SHOWN_PREFIX_LEN])
    .bind(digest(&token))
    .fetch_one(conn)
    .await?;
    Ok(NewToken { token, info })
}

/// The user's tokens, newest first.
pub async fn list(pool: &PgPool, user_id: Uuid) -> Result<Vec<TokenInfo>, sqlx::Error> {
    sqlx::query_as::<_, TokenInfo>(&format!(
        "select {TOKEN_COLUMNS} from api_tokens where user_id = $1 order by created_at desc"
    ))
    .bind(user_id)
    .fetch_all(pool)
    .await
}

/// Revokes one of the user's tokens; returns it as it was before.
pub async fn revoke(
    conn: &mut PgConnection,
    user_id: Uuid,
    token_id: Uuid,
) -> Result<TokenInfo, IdentityError> {
    let before = sqlx::query_as::<_, TokenInfo>(&format!(
        "select {TOKEN_COLUMNS} from api_tokens where id = $1 and user_id = $2 for update"
    ))
    .bind(token_id)
    .bind(user_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(IdentityError::NotFound)?;
    sqlx::query(
        r#"update api_tokens set revoked_at = coalesce(revoked_at, now()), updated_at = now()
           where id = $1"#,
    )
    .bind(token_id)
    .execute(&mut *conn)
    .await?;
    Ok(before)
}

/// The enabled user behind a live token, recording that it was used.
pub async fn authenticate(
    pool: &PgPool,
    token: &str,
) -> Result<Option<(User, String)>, sqlx::Error> {
    if !token.starts_with(TOKEN_PREFIX) || token.len() != TOKEN_PREFIX.len() + 64 {
        return Ok(None);
    }
    // One statement on every API request: record the use and return the user.
    sqlx::query_as::<
        _,
        (
            String,
            Uuid,
            String,
            String,
            String,
            bool,
            chrono::DateTime<chrono::Utc>,
        ),
    >(
        r#"update api_tokens t set last_used_at = now()
           from users u
           where t.token_hash = $1 and t.revoked_at is null
             and u.id = t.user_id and not u.disabled
           returning t.prefix, u.id, u.email, u.display_name, u.kafka_principal, u.disabled,
                     u.created_at"#,
    )
    .bind(digest(token))
    .fetch_optional(pool)
    .await
    .map(|row| {
        row.map(
            |(prefix, id, email, display_name, kafka_principal, disabled, created_at)| {
                let user = User {
                    id,
                    email,
                    display_name,
                    kafka_principal,
                    disabled,
                    created_at,
                };
                (user, prefix)
            },
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::users::{self, NewUser};

    #[sqlx::test(migrator = "crate::db::MIGRATOR")]
    async fn a_token_works_until_it_is_revoked(pool: PgPool) {
        let mut conn = pool.acquire().await.expect("conn");
        let user = users::create(
            &mut conn,
            NewUser {
                email: "bot@example.com".into(),
                display_name: "Bot".into(),
                password: "meshmart".into(),
                kafka_principal: None,
            },
        )
        .await
        .expect("user");
        let new = create(&mut conn, user.id, "ci pipeline")
            .await
            .expect("token");
        assert!(new.token.starts_with("mmt_") && new.token.len() == 68);
        assert_eq!(new.info.prefix, &new.token[..12]);

        let (found, prefix) = authenticate(&pool, &new.token)
            .await
            .expect("db")
            .expect("valid");
        assert_eq!(found.id, user.id);
        assert_eq!(prefix, new.info.prefix);
        let listed = list(&pool, user.id).await.expect("list");
        assert!(listed[0].last_used_at.is_some(), "last use is recorded");

        revoke(&mut conn, user.id, new.info.id)
            .await
            .expect("revoke");
        assert!(authenticate(&pool, &new.token).await.expect("db").is_none());
        assert!(
            authenticate(&pool, "mmt_nonsense")
                .await
                .expect("db")
                .is_none()
        );
    }
}
