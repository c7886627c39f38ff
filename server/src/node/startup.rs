//! One run of the node's clients: waits until its credential, ACLs and topics are on the
//! broker, configures its consumer, producer and readers, and hands them to the loop's
//! thread.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use domain::nodes::{self, Node};
use domain::quality::wire::Decoder;
use rdkafka::consumer::BaseConsumer;
use rdkafka::producer::ThreadedProducer;
use sqlx::PgPool;

use super::detour::{Detour, Refusals};
use super::lineage::RunEvents;
use super::plan::{plan, transformer};
use super::rebalance::NodeContext;
use super::{Ended, Options, Runner};
use crate::configuration::Settings;

/// How long the broker keeps a transaction open without its producer (librdkafka default
/// 60 s): what a crashed instance that never comes back holds up read_committed readers.
const TRANSACTION_TIMEOUT_MS: &str = "10000";

/// How long `node run` waits for the node's credential and ACLs to reach the broker.
const SYNC_WAIT: Duration = Duration::from_secs(60);

pub(super) async fn run_once(
    settings: &Settings,
    pool: &PgPool,
    name: &str,
    options: &Options,
    stopped: &Arc<AtomicBool>,
    lineage: &RunEvents,
) -> anyhow::Result<Ended> {
    let plan = plan(pool, name).await?;
    let transformer = transformer(plan.kind)?;
    wait_for_sync(pool, &plan.node).await?;
    let broker = settings.kafka.broker_config();
    if let Some(topic) = &plan.repartition {
        wait_for_topic(&broker, topic).await?;
    }
    wait_for_topic(&broker, &plan.node.detour_topic()).await?;
    let password = broker.derived_password(&nodes::password_label(
        plan.node.username(),
        plan.node.generation,
    ));
    let client_id = format!("meshmart-node-{name}-{}", options.instance);
    let mut consumer = broker.client_config_as(&client_id, plan.node.username(), &password);
    consumer
        .set("group.id", nodes::group_of(name))
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("auto.offset.reset", "earliest")
        // Static membership (KIP-345): a restarted instance takes its partitions back
        // without a rebalance; one that stays away loses them after the session timeout.
        // What it subscribes to is part of the id: a member that rejoins within its session
        // timeout gets its old assignment back even when it now reads more topics (a node
        // declared before its kind repartitioned, restarted with the broker).
        .set(
            "group.instance.id",
            format!(
                "{}-{}{}",
                nodes::group_of(name),
                options.instance,
                if plan.repartition.is_some() {
                    "-repartitioned"
                } else {
                    ""
                }
            ),
        )
        .set("heartbeat.interval.ms", "1000")
        .set("session.timeout.ms", "10000")
        // A subscribed topic deleted and created again is found within seconds.
        .set("topic.metadata.refresh.interval.ms", "10000")
        // Per-partition consumer lag for the heartbeat (NodeContext::stats).
        .set("statistics.interval.ms", "2000");
    let mut warm = broker.client_config_as(
        &format!("{client_id}-warm"),
        plan.node.username(),
        &password,
    );
    // A group id librdkafka wants even for assigned partitions; nothing is committed in it
    // (the node's prefix ACL covers it).
    warm.set("group.id", format!("{}-state", nodes::group_of(name)))
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true");
    let mut detour = broker.client_config_as(
        &format!("{client_id}-detour"),
        plan.node.username(),
        &password,
    );
    // The drained detour offsets are committed in this group, in the node's transactions.
    detour
        .set("group.id", format!("{}-detour", nodes::group_of(name)))
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true");
    // Reading the detour's metadata blocks (librdkafka): off the async runtime.
    let detour_topic = plan.node.detour_topic();
    let detour = tokio::task::spawn_blocking(move || Detour::new(&detour_topic, &detour))
        .await
        .context("the detour reader's thread failed")??;
    let mut producer = broker.client_config_as(&client_id, plan.node.username(), &password);
    producer
        .set(
            "transactional.id",
            format!("{}-{}", nodes::transactional_prefix(name), options.instance),
        )
        .set("transaction.timeout.ms", TRANSACTION_TIMEOUT_MS)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5");
    let context = NodeContext::default();
    let rebalanced = Arc::clone(&context.rebalanced);
    let lag = Arc::clone(&context.lag);
    let consumer: BaseConsumer<NodeContext> = consumer
        .create_with_context(context)
        .context("creating the node's consumer")?;
    let producer: ThreadedProducer<Refusals> = producer
        .create_with_context(Refusals::new(&plan.node.output_topic))
        .context("creating the node's producer")?;
    let handle = tokio::runtime::Handle::current();
    tracing::info!(
        node = name,
        instance = options.instance,
        input = %plan.node.input_topic,
        output = %plan.node.output_topic,
        kind = plan.kind.as_str(),
        "node starting"
    );
    lineage.set_datasets(&plan.node.input_topic, &plan.node.output_topic);
    lineage.emit(pool, "START").await;
    let stopped = Arc::clone(stopped);
    let lineage = lineage.clone();
    let mut runner = Runner {
        plan,
        options: options.clone(),
        producer,
        rebalanced,
        decoder: Decoder::new(domain::quality::wire::DEFAULT_MAX_RECORD_BYTES),
        pool: pool.clone(),
        handle,
        transformer,
        warm,
        owned: HashSet::new(),
        lineage,
        lag,
        detour,
    };
    tokio::task::spawn_blocking(move || runner.run(&consumer, &stopped))
        .await
        .context("the node's thread failed")?
}

/// Waits until the node's `node.sync` is done, so its credential and ACLs are on the broker.
async fn wait_for_sync(pool: &PgPool, node: &Node) -> anyhow::Result<()> {
    let deadline = Instant::now() + SYNC_WAIT;
    while !nodes::synced(pool, &node.principal).await? {
        anyhow::ensure!(
            Instant::now() < deadline,
            "node `{}`'s credential and ACLs are not on the broker after {} s (is a server running its outbox?)",
            node.name,
            SYNC_WAIT.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(())
}

/// Waits until `topic` is on the broker: the outbox creates a node's repartition topic with
/// the node, and a consumer subscribed before it exists would not see it for minutes.
async fn wait_for_topic(broker: &domain::broker::BrokerConfig, topic: &str) -> anyhow::Result<()> {
    let admin = domain::broker::BrokerAdmin::new(broker)?;
    let deadline = Instant::now() + SYNC_WAIT;
    while !admin
        .topic_exists(topic, Duration::from_secs(5))
        .await
        .unwrap_or(false)
    {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the node's repartition topic `{topic}` is not on the broker after {} s (is a server running its outbox?)",
            SYNC_WAIT.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(())
}
