//! The transactional outbox: effects outside PostgreSQL (topics and ACLs on the broker) are
//! written as typed [`Message`] rows in the same transaction as the decision, then carried
//! out by a worker that retries with backoff. Handlers must be idempotent: a row may run
//! more than once.
//!
//! A worker never holds a transaction across a broker call. It leases due rows in one short
//! statement (`locked_until`, so no other worker takes them while the lease lasts, and a
//! crashed worker's rows come back when it runs out), then settles each row on its own:
//! done, or failed with the next attempt scheduled. A database error on one row therefore
//! cannot undo what was recorded for another.

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// What the outbox carries out. Stored as the `kind` column (the tag) and the `payload`
/// column (the fields).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload")]
pub enum Message {
    /// Create a topic on the broker (an existing topic counts as done).
    #[serde(rename = "topic.create")]
    CreateTopic {
        topic: String,
        partitions: i32,
        retention_ms: i64,
    },
    /// Make the broker's ACLs of a subscription's principal what the policy says.
    #[serde(rename = "acl.sync")]
    SyncAcls {
        subscription: Uuid,
        principal: String,
    },
    /// Set a domain producer principal's SCRAM credential and make its ACLs what its
    /// producer grants say.
    #[serde(rename = "producer.sync")]
    SyncProducer { domain: String },
    /// Set a stream node principal's SCRAM credential and make its ACLs what the node's
    /// policy says (none, for a node no contract declares any more).
    #[serde(rename = "node.sync")]
    SyncNode { principal: String },
}

impl Message {
    /// A topic with the catalog's defaults: 3 partitions, 7 days' retention.
    pub fn create_topic(topic: impl Into<String>) -> Self {
        Message::CreateTopic {
            topic: topic.into(),
            partitions: 3,
            retention_ms: 604_800_000,
        }
    }

    /// The stored `(kind, payload)` of this message.
    fn to_row(&self) -> Result<(String, Value), serde_json::Error> {
        let mut tagged = serde_json::to_value(self)?;
        let kind = tagged["kind"].as_str().unwrap_or_default().to_string();
        Ok((kind, tagged["payload"].take()))
    }

    /// The message a stored `(kind, payload)` holds.
    fn from_row(kind: &str, payload: &Value) -> Result<Self, serde_json::Error> {
        serde_json::from_value(json!({ "kind": kind, "payload": payload }))
    }
}

/// Adds a message to the outbox, in the caller's transaction.
pub async fn enqueue(conn: &mut PgConnection, message: &Message) -> Result<(), sqlx::Error> {
    let (kind, payload) = message
        .to_row()
        .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query!(
        "insert into outbox (kind, payload) values ($1, $2)",
        kind,
        payload,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A leased row handed to a worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    pub id: i64,
    pub message: Message,
    /// Attempts before this one.
    pub attempts: i32,
}

struct Row {
    id: i64,
    kind: String,
    payload: Value,
    attempts: i32,
}

/// How long a worker may take over a leased row before another worker may take it.
pub const LEASE: Duration = Duration::from_secs(60);

/// Leases up to `limit` due rows (rows another worker leased are skipped) and runs `handle`
/// on each, outside any transaction; success marks the row done, failure schedules a retry
/// with exponential backoff and jitter. A row whose message cannot be read is parked with
/// its error and not retried. Returns how many rows were handled.
pub async fn run_due<F, Fut>(pool: &PgPool, limit: i64, handle: F) -> Result<usize, sqlx::Error>
where
    F: Fn(Pending) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let rows = lease(pool, limit, LEASE).await?;
    let handled = rows.len();
    for row in rows {
        let (id, attempts) = (row.id, row.attempts);
        let message = match Message::from_row(&row.kind, &row.payload) {
            Ok(message) => message,
            Err(error) => {
                let error = format!("unreadable outbox row of kind `{}`: {error}", row.kind);
                tracing::error!(outbox_id = id, %error, "outbox row parked");
                park(pool, id, &error).await?;
                continue;
            }
        };
        match handle(Pending {
            id,
            message,
            attempts,
        })
        .await
        {
            Ok(()) => mark_done(pool, id).await?,
            Err(error) => {
                tracing::warn!(outbox_id = id, attempt = attempts + 1, %error, "outbox effect failed; will retry");
                retry_later(pool, id, &error, backoff(attempts)).await?;
            }
        }
    }
    Ok(handled)
}

/// Leases due rows for `lease` in one statement (its own short transaction).
async fn lease(pool: &PgPool, limit: i64, lease: Duration) -> Result<Vec<Row>, sqlx::Error> {
    sqlx::query_as!(
        Row,
        r#"update outbox set locked_until = now() + make_interval(secs => $2), updated_at = now()
           where id in (
               select id from outbox
               where done_at is null and next_attempt_at <= now()
                 and (locked_until is null or locked_until < now())
               order by id limit $1
               for update skip locked)
           returning id, kind, payload, attempts"#,
        limit,
        lease.as_secs_f64(),
    )
    .fetch_all(pool)
    .await
    .map(|mut rows| {
        rows.sort_by_key(|row| row.id);
        rows
    })
}

async fn mark_done(pool: &PgPool, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"update outbox set done_at = now(), attempts = attempts + 1, last_error = null,
               locked_until = null, updated_at = now()
           where id = $1"#,
        id,
    )
    .execute(pool)
    .await?;
    Ok(())
}

async fn retry_later(
    pool: &PgPool,
    id: i64,
    error: &str,
    delay: Duration,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"update outbox set attempts = attempts + 1, last_error = $2, locked_until = null,
               next_attempt_at = now() + make_interval(secs => $3), updated_at = now()
           where id = $1"#,
        id,
        error,
        delay.as_secs_f64(),
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Keeps a row that can never succeed out of the queue, with its error for whoever looks.
async fn park(pool: &PgPool, id: i64, error: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"update outbox set attempts = attempts + 1, last_error = $2, locked_until = null,
               next_attempt_at = 'infinity', updated_at = now()
           where id = $1"#,
        id,
        error,
    )
    .execute(pool)
    .await?;
    Ok(())
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
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(0).as_secs_f64() >= 0.5 && backoff(0).as_secs_f64() < 0.63);
        assert!(backoff(3).as_secs_f64() >= 4.0);
        assert!(backoff(50).as_secs_f64() <= 75.0);
    }

    #[test]
    fn messages_round_trip_through_their_stored_kind_and_payload() {
        let messages = [
            Message::create_topic("orders"),
            Message::SyncAcls {
                subscription: Uuid::new_v4(),
                principal: "User:analyst1".to_string(),
            },
            Message::SyncProducer {
                domain: "sales".to_string(),
            },
            Message::SyncNode {
                principal: "User:svc-node-copy".to_string(),
            },
        ];
        for message in messages {
            let (kind, payload) = message.to_row().expect("serialises");
            assert!(payload.get("kind").is_none(), "the tag is its own column");
            assert_eq!(Message::from_row(&kind, &payload).expect("reads"), message);
        }
        let (kind, payload) = Message::create_topic("orders").to_row().expect("row");
        assert_eq!(kind, "topic.create");
        assert_eq!(
            payload,
            json!({ "topic": "orders", "partitions": 3, "retention_ms": 604_800_000 })
        );
    }

    #[test]
    fn rows_written_before_messages_were_typed_still_read() {
        let id = Uuid::new_v4();
        let stored = json!({ "subscription": id.to_string(), "principal": "User:svc-a" });
        assert_eq!(
            Message::from_row("acl.sync", &stored).expect("reads"),
            Message::SyncAcls {
                subscription: id,
                principal: "User:svc-a".to_string()
            }
        );
    }

    #[test]
    fn unreadable_rows_are_errors_not_defaults() {
        assert!(Message::from_row("topic.create", &json!({ "topic": "t" })).is_err());
        assert!(Message::from_row("acl.sync", &json!({ "subscription": "nope" })).is_err());
        assert!(Message::from_row("no.such.kind", &json!({})).is_err());
    }

    #[sqlx::test(migrator = "crate::db::MIGRATOR")]
    async fn each_row_is_settled_on_its_own_and_no_transaction_spans_the_handlers(pool: PgPool) {
        let mut conn = pool.acquire().await.expect("conn");
        for topic in ["a", "b", "c"] {
            enqueue(&mut conn, &Message::create_topic(topic))
                .await
                .expect("enqueue");
        }
        sqlx::query!("insert into outbox (kind, payload) values ('topic.create', '{}')",)
            .execute(&mut *conn)
            .await
            .expect("a row no handler can read");
        drop(conn);

        // The handler looks at the table from another connection while it runs: the rows
        // settled before it are already committed, and its own row is leased.
        let handled = run_due(&pool, 10, |row| {
            let pool = pool.clone();
            async move {
                let counted = sqlx::query!(
                    r#"select count(*) filter (where done_at is not null) as "done!",
                              count(*) filter (where locked_until > now()) as "leased!"
                       from outbox"#,
                )
                .fetch_one(&pool)
                .await
                .map_err(|e| e.to_string())?;
                let (done, leased) = (counted.done, counted.leased);
                let Message::CreateTopic { topic, .. } = row.message else {
                    return Err("unexpected message".into());
                };
                match topic.as_str() {
                    "a" => assert_eq!(done, 0),
                    "b" => assert_eq!(done, 1, "a's done mark is committed before b runs"),
                    _ => assert_eq!(done, 1, "b failed"),
                }
                assert!(leased >= 1, "the running row is leased");
                if topic == "b" {
                    Err("broker unreachable".into())
                } else {
                    Ok(())
                }
            }
        })
        .await
        .expect("run");
        assert_eq!(handled, 4);

        let rows: Vec<(String, bool, i32, Option<String>, bool)> = sqlx::query!(
            r#"select coalesce(payload->>'topic', '?') as "topic!",
                      done_at is not null as "done!", attempts, last_error,
                      next_attempt_at = 'infinity' as "given_up!"
               from outbox order by id"#,
        )
        .fetch_all(&pool)
        .await
        .expect("rows")
        .into_iter()
        .map(|row| {
            (
                row.topic,
                row.done,
                row.attempts,
                row.last_error,
                row.given_up,
            )
        })
        .collect();
        assert_eq!(rows[0], ("a".into(), true, 1, None, false));
        assert_eq!(
            rows[1],
            (
                "b".into(),
                false,
                1,
                Some("broker unreachable".into()),
                false
            )
        );
        assert_eq!(rows[2], ("c".into(), true, 1, None, false));
        assert!(!rows[3].1 && rows[3].4, "the unreadable row is parked");
        assert!(
            rows[3]
                .3
                .as_deref()
                .is_some_and(|e| e.contains("unreadable")),
            "{:?}",
            rows[3].3
        );

        // Nothing is due now (b waits for its backoff, the parked row forever).
        assert_eq!(
            run_due(&pool, 10, |_| async { Ok(()) }).await.expect("run"),
            0
        );
    }

    #[sqlx::test(migrator = "crate::db::MIGRATOR")]
    async fn a_leased_row_is_not_handed_to_a_second_worker_until_its_lease_runs_out(pool: PgPool) {
        let mut conn = pool.acquire().await.expect("conn");
        enqueue(&mut conn, &Message::create_topic("a"))
            .await
            .expect("enqueue");
        drop(conn);
        let first = lease(&pool, 10, Duration::from_secs(60))
            .await
            .expect("lease");
        assert_eq!(first.len(), 1);
        assert!(lease(&pool, 10, LEASE).await.expect("lease").is_empty());

        // A worker that died holding the row: once its lease ends, the row comes back.
        sqlx::query!("update outbox set locked_until = now() - interval '1 second'",)
            .execute(&pool)
            .await
            .expect("expire the lease");
        assert_eq!(lease(&pool, 10, LEASE).await.expect("lease").len(), 1);
    }
}
