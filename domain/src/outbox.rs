//! The transactional outbox: effects outside PostgreSQL (topics on the broker; later ACLs
//! and index updates) are written as rows in the same transaction as the decision, then
//! carried out by a worker that retries with backoff and marks each row done. Handlers must
//! be idempotent: a row may run more than once.

use std::time::Duration;

use serde_json::Value;
use sqlx::{PgConnection, PgPool};

/// Create a topic: `{"topic", "partitions", "retention_ms"}`.
pub const CREATE_TOPIC: &str = "topic.create";

/// Adds a row to the outbox, in the caller's transaction.
pub async fn enqueue(
    conn: &mut PgConnection,
    kind: &str,
    payload: Value,
) -> Result<(), sqlx::Error> {
    sqlx::query("insert into outbox (kind, payload) values ($1, $2)")
        .bind(kind)
        .bind(payload)
        .execute(conn)
        .await?;
    Ok(())
}

/// A pending row handed to a worker.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Pending {
    pub id: i64,
    pub kind: String,
    pub payload: Value,
    pub attempts: i32,
}

/// Claims up to `limit` due rows (skipping rows other workers hold) and runs `handle` on
/// each; success marks the row done, failure schedules a retry with exponential backoff
/// and jitter. Returns how many rows were handled.
pub async fn run_due<F, Fut>(pool: &PgPool, limit: i64, handle: F) -> Result<usize, sqlx::Error>
where
    F: Fn(Pending) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let mut tx = pool.begin().await?;
    let rows = sqlx::query_as::<_, Pending>(
        r#"select id, kind, payload, attempts from outbox
           where done_at is null and next_attempt_at <= now()
           order by id limit $1 for update skip locked"#,
    )
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    let handled = rows.len();
    for row in rows {
        let (id, attempts) = (row.id, row.attempts);
        match handle(row).await {
            Ok(()) => {
                sqlx::query("update outbox set done_at = now(), attempts = attempts + 1, last_error = null, updated_at = now() where id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            Err(error) => {
                let delay = backoff(attempts);
                tracing::warn!(outbox_id = id, attempt = attempts + 1, %error, "outbox effect failed; will retry");
                sqlx::query(
                    r#"update outbox set attempts = attempts + 1, last_error = $2,
                           next_attempt_at = now() + make_interval(secs => $3), updated_at = now()
                       where id = $1"#,
                )
                .bind(id)
                .bind(error)
                .bind(delay.as_secs_f64())
                .execute(&mut *tx)
                .await?;
            }
        }
    }
    tx.commit().await?;
    Ok(handled)
}

/// 0.5 s doubling to at most 60 s, plus up to 25 % random jitter so that retries of many
/// rows do not arrive together.
fn backoff(attempts: i32) -> Duration {
    use argon2::password_hash::rand_core::{OsRng, RngCore};

    let base = (0.5_f64 * 2_f64.powi(attempts.clamp(0, 10))).min(60.0);
    let jitter = 1.0 + f64::from(OsRng.next_u32() % 1000) / 4000.0;
    Duration::from_secs_f64(base * jitter)
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(0).as_secs_f64() >= 0.5 && backoff(0).as_secs_f64() < 0.63);
        assert!(backoff(3).as_secs_f64() >= 4.0);
        assert!(backoff(50).as_secs_f64() <= 75.0);
    }
}
