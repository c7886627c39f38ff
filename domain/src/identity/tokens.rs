//! Personal API tokens for automation: `mmt_` + 64 hex characters of OS randomness. Only a
//! SHA-256 of the token is stored (the token itself is shown once); the first characters
//! are kept to recognise it in lists. Revocation takes effect on the next request.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::token_cache::{Resolved, TokenCache};
use super::{IdentityError, User, invalid};
use crate::db::Timestamp;

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

/// The API token an `Authorization` header's value carries: `Bearer <token>`, or `Basic`
/// with the token as the password (what Confluent's registry clients send; the user name
/// is ignored). `None` for anything else. Untrusted input, fuzzed
/// (`fuzz/fuzz_targets/headers.rs`).
pub fn from_authorization(value: &str) -> Option<String> {
    use base64::Engine as _;
    if let Some(token) = value.strip_prefix("Bearer ") {
        return Some(token.trim().to_string());
    }
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let pair = String::from_utf8(decoded).ok()?;
    let (_user, token) = pair.split_once(':')?;
    Some(token.to_string())
}

/// Whether `token` has the shape of a Meshmart token (`mmt_` and 64 more characters): only
/// those are looked up.
pub fn well_formed(token: &str) -> bool {
    token.starts_with(TOKEN_PREFIX) && token.len() == TOKEN_PREFIX.len() + 64
}

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
    let info = sqlx::query_as!(
        TokenInfo,
        r#"insert into api_tokens (user_id, name, prefix, token_hash)
           values ($1, $2, $3, $4)
           returning id, name, prefix, created_at as "created_at: Timestamp",
                     last_used_at as "last_used_at: Timestamp",
                     revoked_at as "revoked_at: Timestamp""#,
        user_id,
        name,
        &token[..SHOWN_PREFIX_LEN],
        digest(&token),
    )
    .fetch_one(conn)
    .await?;
    Ok(NewToken { token, info })
}

/// The user's tokens, newest first.
pub async fn list(pool: &PgPool, user_id: Uuid) -> Result<Vec<TokenInfo>, sqlx::Error> {
    sqlx::query_as!(
        TokenInfo,
        r#"select id, name, prefix, created_at as "created_at: Timestamp",
                  last_used_at as "last_used_at: Timestamp",
                  revoked_at as "revoked_at: Timestamp"
           from api_tokens where user_id = $1 order by created_at desc"#,
        user_id,
    )
    .fetch_all(pool)
    .await
}

/// Revokes one of the user's tokens; returns it as it was before.
pub async fn revoke(
    conn: &mut PgConnection,
    user_id: Uuid,
    token_id: Uuid,
) -> Result<TokenInfo, IdentityError> {
    let before = sqlx::query_as!(
        TokenInfo,
        r#"select id, name, prefix, created_at as "created_at: Timestamp",
                  last_used_at as "last_used_at: Timestamp",
                  revoked_at as "revoked_at: Timestamp"
           from api_tokens where id = $1 and user_id = $2 for update"#,
        token_id,
        user_id,
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(IdentityError::NotFound)?;
    sqlx::query!(
        r#"update api_tokens set revoked_at = coalesce(revoked_at, now()), updated_at = now()
           where id = $1"#,
        token_id,
    )
    .execute(&mut *conn)
    .await?;
    Ok(before)
}

/// How stale a token's `last_used_at` may get before a request refreshes it. Lists show
/// when a token was last used to the minute; writing it on every request would make every
/// API call a write, and registry clients at high rates queue on the token's row.
const LAST_USED_RESOLUTION_SECONDS: f64 = 60.0;

/// The enabled user behind a live token, recording that it was used (to the minute).
/// Tokens resolved within [`super::token_cache::TTL`] come from `cache` (see there why that
/// is safe).
pub async fn authenticate(
    pool: &PgPool,
    cache: &TokenCache,
    token: &str,
) -> Result<Option<(User, String)>, sqlx::Error> {
    if !well_formed(token) {
        return Ok(None);
    }
    let digest = digest(token);
    // A token due to be marked used is looked up again: that marks it and re-reads it.
    if let Some(resolved) = cache
        .get(&digest)
        .filter(|resolved| !is_stale(resolved.last_used_at))
    {
        return Ok(Some((resolved.user, resolved.prefix)));
    }
    let generation = cache.generation();
    let Some(found) = sqlx::query!(
        r#"select t.id as token_id, t.prefix, t.last_used_at as "last_used_at: Timestamp",
                  u.id, u.email, u.display_name, u.kafka_principal, u.disabled,
                  u.created_at as "created_at: Timestamp"
           from api_tokens t join users u on u.id = t.user_id
           where t.token_hash = $1 and t.revoked_at is null and not u.disabled"#,
        digest,
    )
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let user = User {
        id: found.id,
        email: found.email,
        display_name: found.display_name,
        kafka_principal: found.kafka_principal,
        disabled: found.disabled,
        created_at: found.created_at,
    };
    let mut last_used_at = found.last_used_at;
    if is_stale(last_used_at) {
        touch(pool, found.token_id).await?;
        last_used_at = Some(chrono::Utc::now());
    }
    cache.put(
        generation,
        digest,
        Resolved {
            prefix: found.prefix.clone(),
            last_used_at,
            user: user.clone(),
        },
    );
    Ok(Some((user, found.prefix)))
}

fn is_stale(last_used_at: Option<chrono::DateTime<chrono::Utc>>) -> bool {
    last_used_at
        .is_none_or(|at| (chrono::Utc::now() - at).as_seconds_f64() >= LAST_USED_RESOLUTION_SECONDS)
}

/// Records that a token was used; conditional, so concurrent requests of one token (on any
/// process) write it once.
async fn touch(pool: &PgPool, token_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"update api_tokens set last_used_at = now()
           where id = $1
             and (last_used_at is null
                  or last_used_at < now() - make_interval(secs => $2))"#,
        token_id,
        LAST_USED_RESOLUTION_SECONDS,
    )
    .execute(pool)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::users::{self, NewUser};
    use std::time::Duration;

    #[test]
    fn a_token_comes_from_bearer_or_the_basic_password_and_nothing_else() {
        let token = format!("{TOKEN_PREFIX}{}", "ab".repeat(32));
        assert_eq!(
            from_authorization(&format!("Bearer {token} ")),
            Some(token.clone())
        );
        // Confluent's clients: user name and token as a Basic pair.
        let basic = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("someone:{token}"),
        );
        assert_eq!(
            from_authorization(&format!("Basic {basic}")),
            Some(token.clone())
        );
        assert!(well_formed(&token));
        for value in [
            "",
            "Bearer",
            "bearer x",
            "Basic !!!",
            "Basic Zm9v",
            "Digest x",
        ] {
            let read = from_authorization(value);
            assert!(
                read.as_deref().is_none_or(|t| !well_formed(t)),
                "{value}: {read:?}"
            );
        }
    }

    #[sqlx::test(migrator = "crate::db::MIGRATOR")]
    async fn a_token_works_until_it_is_revoked(pool: PgPool) {
        // Not watching: every lookup asks PostgreSQL.
        let cache = TokenCache::new();
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

        let (found, prefix) = authenticate(&pool, &cache, &new.token)
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
        assert!(
            authenticate(&pool, &cache, &new.token)
                .await
                .expect("db")
                .is_none()
        );
        assert!(
            authenticate(&pool, &cache, "mmt_nonsense")
                .await
                .expect("db")
                .is_none()
        );
    }

    #[sqlx::test(migrator = "crate::db::MIGRATOR")]
    async fn a_token_records_its_last_use_at_most_once_a_minute(pool: PgPool) {
        let cache = TokenCache::new();
        let mut conn = pool.acquire().await.expect("conn");
        let user = users::create(
            &mut conn,
            NewUser {
                email: "registry-client@example.com".into(),
                display_name: "Registry client".into(),
                password: "meshmart".into(),
                kafka_principal: None,
            },
        )
        .await
        .expect("user");
        let new = create(&mut conn, user.id, "serializer")
            .await
            .expect("token");
        let last_used = || async {
            list(&pool, user.id).await.expect("list")[0]
                .last_used_at
                .expect("recorded")
        };

        authenticate(&pool, &cache, &new.token)
            .await
            .expect("db")
            .expect("valid");
        let first = last_used().await;
        for _ in 0..20 {
            authenticate(&pool, &cache, &new.token)
                .await
                .expect("db")
                .expect("valid");
        }
        assert_eq!(
            last_used().await,
            first,
            "requests within a minute write nothing"
        );

        sqlx::query!("update api_tokens set last_used_at = now() - interval '2 minutes'",)
            .execute(&mut *conn)
            .await
            .expect("age the token");
        let aged = last_used().await;
        authenticate(&pool, &cache, &new.token)
            .await
            .expect("db")
            .expect("valid");
        assert!(last_used().await > aged, "a use after a minute is recorded");
    }

    #[sqlx::test(migrator = "crate::db::MIGRATOR")]
    async fn a_cached_token_is_refused_once_another_process_revokes_it(pool: PgPool) {
        let cache = std::sync::Arc::new(TokenCache::new());
        let watcher = cache.watch(pool.clone());
        let mut conn = pool.acquire().await.expect("conn");
        let user = users::create(
            &mut conn,
            NewUser {
                email: "pipeline@example.com".into(),
                display_name: "Pipeline".into(),
                password: "meshmart".into(),
                kafka_principal: None,
            },
        )
        .await
        .expect("user");
        let new = create(&mut conn, user.id, "deploys").await.expect("token");
        let resolves = || async { authenticate(&pool, &cache, &new.token).await.expect("db") };
        // Cached once the listener is connected.
        for _ in 0..100 {
            resolves().await.expect("valid");
            if !cache.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(cache.len(), 1, "the token is cached");

        // Revoked by another process: this one only hears of it through the trigger.
        sqlx::query!(
            "update api_tokens set revoked_at = now() where id = $1",
            new.info.id,
        )
        .execute(&mut *conn)
        .await
        .expect("revoked elsewhere");
        let started = std::time::Instant::now();
        while resolves().await.is_some() {
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "still served after 1 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }

        // A disabled user's other tokens go the same way.
        let other = create(&mut conn, user.id, "backups").await.expect("token");
        authenticate(&pool, &cache, &other.token)
            .await
            .expect("db")
            .expect("valid");
        sqlx::query!("update users set disabled = true where id = $1", user.id,)
            .execute(&mut *conn)
            .await
            .expect("disabled elsewhere");
        let started = std::time::Instant::now();
        while authenticate(&pool, &cache, &other.token)
            .await
            .expect("db")
            .is_some()
        {
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "still served after 1 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        watcher.abort();
    }
}
