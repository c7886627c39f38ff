//! Background workers of the server process. The outbox worker carries out effects on the
//! broker that transactions recorded (topic creation, ACL syncs after subscription
//! decisions, producer principals' credentials and ACLs), waking on the outbox's NOTIFY and polling every second in case one was
//! missed; failures retry with backoff. The reconciler repairs drift between the broker's
//! ACLs and the policy every interval, and ends subscriptions past their end date.

use std::time::Duration;

use domain::broker::BrokerAdmin;
use domain::outbox::{self, Message, Pending};
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
            let handled =
                outbox::run_due(&pool, 20, |row| handle(&pool, &broker, replication, row)).await;
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

async fn handle(
    pool: &PgPool,
    broker: &BrokerAdmin,
    replication: i32,
    row: Pending,
) -> Result<(), String> {
    match row.message {
        Message::CreateTopic {
            topic,
            partitions,
            retention_ms,
        } => broker
            .create_topic(&topic, partitions, replication, retention_ms)
            .await
            .map_err(|e| e.to_string()),
        Message::SyncAcls {
            subscription,
            principal,
        } => {
            domain::provisioning::sync_subscription(
                pool,
                broker,
                subscription,
                &principal,
                row.attempts + 1,
            )
            .await
        }
        Message::SyncProducer { domain } => domain::producers::sync(pool, broker, &domain)
            .await
            .map_err(|e| e.to_string()),
        Message::SyncNode { principal } => domain::nodes::sync(pool, broker, &principal)
            .await
            .map_err(|e| e.to_string()),
    }
}

/// Runs the reconciler and the expiry job every `every` until the task is aborted.
pub fn spawn_reconciler(
    pool: PgPool,
    broker: BrokerAdmin,
    every: Duration,
    dry_run: bool,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // The first round comes one interval after start-up, not at once.
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match domain::subscriptions::expire_due(&pool).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "subscriptions past their end date expired"),
                Err(error) => tracing::warn!(%error, "expiry job failed"),
            }
            if let Err(error) = domain::subscriptions::warn_expiring(&pool).await {
                tracing::warn!(%error, "expiry warnings failed");
            }
            match domain::provisioning::reconcile(&pool, &broker, dry_run).await {
                Ok(repairs) => {
                    for repair in &repairs {
                        let outcome = if repair.applied {
                            "repaired"
                        } else {
                            "dry_run"
                        };
                        metrics::counter!(
                            "meshmart_acl_repairs_total",
                            "action" => repair.action,
                            "outcome" => outcome
                        )
                        .increment(1);
                        tracing::warn!(
                            action = repair.action,
                            applied = repair.applied,
                            principal = %repair.binding.principal,
                            resource = %repair.binding.resource_name,
                            "broker ACL drift"
                        );
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "reconciliation failed; next interval retries")
                }
            }
        }
    })
}

/// Measures live subscriptions' consumer lag and publishes products' stream statuses (fresh,
/// stale) to search every 10 seconds, and rolls health points up
/// into minutes (dropping what is past retention) every minute, until aborted. Both are
/// idempotent, so every server process may run them.
pub fn spawn_health(
    pool: PgPool,
    broker: domain::broker::BrokerConfig,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut round: u64 = 0;
        loop {
            tick.tick().await;
            round += 1;
            match domain::health::lag::watched(&pool).await {
                Ok(watched) if !watched.is_empty() => {
                    let config = broker.clone();
                    let measured = tokio::task::spawn_blocking(move || {
                        domain::health::lag::measure(&config, &watched)
                    })
                    .await;
                    match measured {
                        Ok(Ok(measured)) => {
                            if let Err(error) = domain::health::lag::record(&pool, &measured).await
                            {
                                tracing::warn!(%error, "consumer lag not stored");
                            }
                        }
                        Ok(Err(error)) => tracing::warn!(%error, "consumer lag not measured"),
                        Err(error) => tracing::warn!(%error, "consumer lag task failed"),
                    }
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "subscriptions to measure not read"),
            }
            if let Err(error) = domain::health::report::publish_statuses(&pool).await {
                tracing::warn!(%error, "stream statuses not published");
            }
            if round.is_multiple_of(6) {
                match domain::health::store::roll_up(&pool).await {
                    Ok(dropped) if dropped > 0 => {
                        tracing::debug!(dropped, "health points past retention dropped")
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "health rollup failed"),
                }
            }
        }
    })
}
