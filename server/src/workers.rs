//! Background workers of the server process. The outbox worker carries out effects on the
//! broker that transactions recorded (topic creation), waking on the outbox's NOTIFY and
//! polling every second in case one was missed; failures retry with backoff.

use std::time::Duration;

use domain::broker::BrokerAdmin;
use domain::outbox::{self, CREATE_TOPIC, Pending};
use sqlx::PgPool;
use sqlx::postgres::PgListener;

/// Runs the outbox worker until the task is aborted.
pub fn spawn_outbox(
    pool: PgPool,
    broker: BrokerAdmin,
    replication: i32,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut listener = None;
        loop {
            if listener.is_none() {
                listener = connect_listener(&pool).await;
            }
            let handled = outbox::run_due(&pool, 20, |row| handle(&broker, replication, row)).await;
            match handled {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "outbox worker could not read the outbox"),
            }
            match listener.as_mut() {
                Some(l) => {
                    if let Ok(Err(error)) =
                        tokio::time::timeout(Duration::from_secs(1), l.recv()).await
                    {
                        tracing::warn!(%error, "outbox listener lost its connection");
                        listener = None;
                    }
                }
                None => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        }
    })
}

async fn connect_listener(pool: &PgPool) -> Option<PgListener> {
    let mut listener = PgListener::connect_with(pool).await.ok()?;
    listener.listen("outbox").await.ok()?;
    Some(listener)
}

async fn handle(broker: &BrokerAdmin, replication: i32, row: Pending) -> Result<(), String> {
    match row.kind.as_str() {
        CREATE_TOPIC => {
            let topic = row.payload["topic"]
                .as_str()
                .ok_or("topic.create without a topic")?;
            let partitions = row.payload["partitions"].as_i64().unwrap_or(3) as i32;
            let retention = row.payload["retention_ms"].as_i64().unwrap_or(604_800_000);
            broker
                .create_topic(topic, partitions, replication, retention)
                .await
                .map_err(|e| e.to_string())
        }
        other => Err(format!("no handler for outbox rows of kind `{other}`")),
    }
}
