//! Background workers of the server process. The outbox worker carries out effects on the
//! broker that transactions recorded (topic creation, ACL syncs after subscription
//! decisions, producer principals' credentials and ACLs), waking on the outbox's NOTIFY and polling every second in case one was
//! missed; failures retry with backoff. The reconciler repairs drift between the broker's
//! ACLs and the policy every interval, and ends subscriptions past their end date. The
//! incident detector runs on a thread of its own ([`crate::detector`]), and the
//! webhook worker sends users' signed deliveries ([`domain::webhooks`]), retrying with
//! backoff.

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
                    let created: Vec<(String, String, String)> = repairs
                        .iter()
                        .filter(|r| r.applied && r.action == "created")
                        .map(|r| {
                            (
                                r.binding.principal.clone(),
                                r.binding.resource_name.clone(),
                                format!("{:?}", r.binding.operation).to_lowercase(),
                            )
                        })
                        .collect();
                    if !created.is_empty()
                        && let Err(error) =
                            domain::incidents::actions::repaired_by_reconciler(&pool, &created)
                                .await
                    {
                        tracing::warn!(%error, "ACL repair not recorded as an incident");
                    }
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

/// Sends due webhook deliveries every 2 seconds until aborted: a JSON POST signed with the
/// user's secret, 2xx within 10 s is delivered, anything else retries with backoff.
/// Deliveries are leased, so every server process may run it.
pub fn spawn_webhooks(pool: PgPool, allow_private: bool) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let client = match reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("Meshmart-Webhooks/1")
            .build()
        {
            Ok(client) => client,
            Err(error) => {
                tracing::error!(%error, "webhook client not built; webhooks are not sent");
                return;
            }
        };
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let due = match domain::webhooks::due(&pool, 20).await {
                Ok(due) => due,
                Err(error) => {
                    tracing::warn!(%error, "webhook deliveries not read");
                    continue;
                }
            };
            for delivery in due {
                let result = deliver(&client, &delivery, allow_private).await;
                if let Err(error) = &result {
                    tracing::info!(delivery = delivery.id, %error, "webhook delivery failed; it will be retried");
                }
                if let Err(error) = domain::webhooks::outcome(&pool, delivery.id, result).await {
                    tracing::warn!(%error, "webhook outcome not stored");
                }
            }
        }
    })
}

async fn deliver(
    client: &reqwest::Client,
    delivery: &domain::webhooks::Due,
    allow_private: bool,
) -> Result<u16, String> {
    // The target is checked again at each delivery: a name may resolve elsewhere now.
    domain::webhooks::check_target(&delivery.url, allow_private)
        .await
        .map_err(|e| e.to_string())?;
    let body = serde_json::to_vec(&delivery.payload).map_err(|e| e.to_string())?;
    let timestamp = chrono::Utc::now().timestamp();
    let response = client
        .post(&delivery.url)
        .header("content-type", "application/json")
        .header("x-meshmart-event", &delivery.event)
        .header("x-meshmart-delivery", delivery.id.to_string())
        .header("x-meshmart-timestamp", timestamp.to_string())
        .header(
            "x-meshmart-signature",
            domain::webhooks::sign(&delivery.secret, timestamp, &body),
        )
        .body(body)
        .send()
        .await
        .map_err(|e| {
            // Not the URL's query or the full chain: where and what, briefly.
            if e.is_timeout() {
                "timed out after 10 s".to_string()
            } else if e.is_connect() {
                "could not connect".to_string()
            } else {
                "the request failed".to_string()
            }
        })?;
    let status = response.status();
    if status.is_success() {
        Ok(status.as_u16())
    } else {
        Err(format!("HTTP {}", status.as_u16()))
    }
}
