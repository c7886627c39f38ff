//! The stream node runtime (`meshmart node run <name>`): one process of a node's consumer
//! group, reading the node's input topic and writing its output topic exactly once, as the
//! node's own principal ([`domain::nodes`]).
//!
//! Exactly once is Kafka's transactions, nothing home-made: every output record, every
//! dead letter and the input offsets they cover are sent in one transaction
//! (`send_offsets_to_transaction` with the consumer's group metadata, KIP-447), committed
//! every `--transaction-ms`; readers use `isolation.level=read_committed`. A stable
//! `transactional.id` per instance (`<prefix>-<instance>`) lets a restarted instance fence
//! its crashed predecessor and abort its open transaction at once; the same number is the
//! instance's static group membership, so it gets its partitions back without a rebalance.
//! Partitions are split by the group: start another instance (another `--instance`) and
//! they rebalance; a rebalance
//! in the middle of a transaction aborts it and the new owner re-reads from the committed
//! offsets.
//!
//! A record the node cannot decode or transform goes to `<input>.<node>.dlq` with the
//! checker's dead-letter headers, in the same transaction; the node never stalls on it.
//! When the output topic itself refuses writes, the node parks its output on its detour
//! topic and drains it in order once the output heals ([`detour`]).

mod detour;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use domain::contracts::OutputPort;
use domain::nodes::enrich::{Enricher, Source};
use domain::nodes::geo::{self, Geo};
use domain::nodes::risk::RiskModel;
use domain::nodes::{self, Kind, Node, Transformer};
use domain::quality::wire::Decoder;
use domain::registry::ParsedSchema;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::util::Timeout;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use sqlx::PgPool;

use self::detour::{Detour, Refusals, Route};
use crate::cli::UsageError;
use crate::configuration::Settings;

/// How long a call to the transaction coordinator may take before the node gives up.
const COORDINATOR_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the broker keeps a transaction open without its producer (librdkafka default
/// 60 s): what a crashed instance that never comes back holds up read_committed readers.
const TRANSACTION_TIMEOUT_MS: &str = "10000";

/// How long `node run` waits for the node's credential and ACLs to reach the broker.
const SYNC_WAIT: Duration = Duration::from_secs(60);

/// How a node process runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// This process's number among the node's instances; its transactional id's suffix.
    /// Two live processes with one number fence each other.
    pub instance: u32,
    /// Commit a transaction this often (and when `max_batch` records are in it).
    pub transaction_every: Duration,
    pub max_batch: usize,
}

/// The sign-up risk model a customer-enrichment node loads: `MESHMART_RISK_MODEL` (a
/// model file from `meshmart model train`), or the committed one.
fn risk_model() -> anyhow::Result<RiskModel> {
    match std::env::var("MESHMART_RISK_MODEL") {
        Ok(path) if !path.is_empty() => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading the risk model {path}"))?;
            RiskModel::parse(&text).map_err(|why| UsageError(format!("{path}: {why}")).into())
        }
        _ => Ok(RiskModel::builtin()),
    }
}

/// What the node does to each record, with what that needs loaded.
fn transformer(kind: Kind) -> anyhow::Result<Transformer> {
    Ok(match kind {
        Kind::PassThrough => Transformer::PassThrough,
        Kind::CustomerEnrichment => {
            let started = Instant::now();
            let geo = Geo::open_default().map_err(|why| {
                UsageError(format!(
                    "{why} (make setup fetches it; MESHMART_GEO_DB and MESHMART_ASN_DB point elsewhere)"
                ))
            })?;
            let model = risk_model()?;
            tracing::info!(
                model = %model.version,
                geo = %geo::default_path().display(),
                asn = %domain::nodes::asn::default_path().display(),
                seconds = started.elapsed().as_secs_f64(),
                "enrichment loaded"
            );
            Transformer::Enrich(Box::new(Enricher::new(geo, model)))
        }
    })
}

/// Everything a running node needs about its records.
struct Plan {
    node: Node,
    kind: Kind,
    /// The node's repartition topic when its kind keeps state by another key: input
    /// records are copied there under the state's key first, and enriched from there.
    repartition: Option<String>,
    output: domain::traffic::Registered,
    output_port: OutputPort,
    input_subject_ids: HashSet<u32>,
    input_schemas: HashMap<u32, ParsedSchema>,
}

/// Runs the node until Ctrl-C (or SIGTERM), committing what it has read.
pub async fn run(settings: Settings, name: &str, options: Options) -> anyhow::Result<()> {
    let pool = settings.database.pool();
    run_until(
        settings,
        pool,
        name.to_owned(),
        options,
        crate::startup::shutdown_signal(),
    )
    .await
}

/// Runs the node until `stop` completes, committing what it has read. A restart asked for
/// on the node's page ends the current consumer and producer cleanly and starts again from
/// the catalog (the definition, schemas and model are read anew).
pub async fn run_until(
    settings: Settings,
    pool: PgPool,
    name: String,
    options: Options,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let stopped = Arc::new(AtomicBool::new(false));
    let stopping = StopOnDrop(Arc::clone(&stopped));
    // The flag is set when `stop` completes, and also when the runtime drops the task
    // (shutting down), so the node's thread never outlives its runtime.
    tokio::spawn(async move {
        let _stopping = stopping;
        stop.await;
    });
    let lineage = RunEvents::new(&settings, &name);
    loop {
        let outcome = run_once(&settings, &pool, &name, &options, &stopped, &lineage).await;
        match outcome {
            Ok(Ended::Stopped) => {
                lineage.emit(&pool, "COMPLETE").await;
                return Ok(());
            }
            Ok(Ended::Restart) => {
                lineage.emit(&pool, "COMPLETE").await;
                tracing::info!(node = name, "node restarting as asked");
            }
            Err(error) => {
                lineage.emit(&pool, "FAIL").await;
                return Err(error);
            }
        }
    }
}

/// Sets its flag when dropped.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Why a run of the node's clients ended.
enum Ended {
    Stopped,
    Restart,
}

async fn run_once(
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

/// How often a running node tells OpenLineage it is still running.
const RUNNING_EVERY: Duration = Duration::from_secs(300);

/// The node's OpenLineage run events (START, RUNNING, COMPLETE, FAIL), recorded through
/// the catalog's OpenLineage intake as observed lineage of the node's processor.
#[derive(Clone)]
struct RunEvents {
    name: String,
    run_id: String,
    namespace: String,
    datasets: Arc<std::sync::Mutex<(String, String)>>,
}

impl RunEvents {
    fn new(settings: &Settings, name: &str) -> Self {
        let first = settings
            .kafka
            .bootstrap_servers
            .split(',')
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        Self {
            name: name.to_string(),
            run_id: uuid::Uuid::new_v4().to_string(),
            namespace: format!("kafka://{first}"),
            datasets: Arc::default(),
        }
    }

    fn set_datasets(&self, input: &str, output: &str) {
        if let Ok(mut datasets) = self.datasets.lock() {
            *datasets = (input.to_string(), output.to_string());
        }
    }

    /// Records one run event; a failure is logged, never fatal to the node.
    async fn emit(&self, pool: &PgPool, event_type: &str) {
        let (input, output) = self
            .datasets
            .lock()
            .map(|datasets| datasets.clone())
            .unwrap_or_default();
        if input.is_empty() {
            return;
        }
        let event = serde_json::json!({
            "eventType": event_type,
            "eventTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "run": {"runId": self.run_id},
            "job": {"namespace": domain::lineage::CONTRACT_NAMESPACE, "name": self.name},
            "inputs": [{"namespace": self.namespace, "name": input}],
            "outputs": [{"namespace": self.namespace, "name": output}],
            "producer": "https://meshmart.local/node",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        });
        let reporter = domain::lineage::Reporter::system(format!("node {}", self.name));
        let body = event.to_string();
        if let Err(error) = domain::lineage::ingest(pool, &reporter, body.as_bytes()).await {
            tracing::warn!(%error, event_type, "OpenLineage run event not recorded");
        }
    }
}

/// Loads the node, its input and output products, and checks they fit the node's kind.
async fn plan(pool: &PgPool, name: &str) -> anyhow::Result<Plan> {
    let node = match nodes::load(pool, name).await {
        Ok(node) => node,
        Err(nodes::NodeError::Unknown(_)) => {
            return Err(UsageError(format!(
                "no node `{name}`: no contract declares a processor of that name with a nodeKind"
            ))
            .into());
        }
        Err(other) => return Err(other.into()),
    };
    let kind = Kind::parse(&node.kind).ok_or_else(|| {
        UsageError(format!(
            "node `{name}` is of kind `{}`, which this Meshmart does not run",
            node.kind
        ))
    })?;
    let input_slug = nodes::product_of_topic(pool, &node.input_topic)
        .await?
        .ok_or_else(|| {
            UsageError(format!(
                "node `{name}` reads `{}`, which is no product's output port",
                node.input_topic
            ))
        })?;
    let input = domain::traffic::registered(pool, &input_slug)
        .await
        .map_err(|e| UsageError(format!("node `{name}`'s input: {e}")))?;
    let output = domain::traffic::registered(pool, &node.product)
        .await
        .map_err(|e| UsageError(format!("node `{name}`'s output: {e}")))?;
    kind.check(&input.port, &output.port)
        .map_err(|why| UsageError(format!("node `{name}` cannot run: {why}")))?;
    let (input_subject_ids, input_schemas) = input_schemas(pool, &node.input_topic).await?;
    Ok(Plan {
        output_port: output.port.clone(),
        repartition: node.repartition_topic(),
        node,
        kind,
        output,
        input_subject_ids,
        input_schemas,
    })
}

/// The ids and schemas registered under the input topic's value subject.
async fn input_schemas(
    pool: &PgPool,
    topic: &str,
) -> anyhow::Result<(HashSet<u32>, HashMap<u32, ParsedSchema>)> {
    let ids = domain::health::store::subject_ids(pool, topic).await?;
    let mut schemas = HashMap::new();
    for id in &ids {
        let (kind, text) = domain::registry::schema_by_id(pool, *id as i32)
            .await
            .with_context(|| format!("reading schema {id}"))?;
        if let Ok(schema) = ParsedSchema::parse_stored(kind, &text) {
            schemas.insert(*id, schema);
        }
    }
    Ok((ids, schemas))
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

/// Notes a rebalance for the loop, which aborts the transaction it has open, and keeps the
/// consumer's lag from librdkafka's statistics.
#[derive(Default)]
struct NodeContext {
    rebalanced: Arc<AtomicBool>,
    /// Records behind the last stable offsets over the fetched partitions; -1 while unknown.
    lag: Arc<AtomicI64>,
}

impl ClientContext for NodeContext {
    fn stats(&self, statistics: rdkafka::Statistics) {
        // librdkafka's `consumer_lag` is measured from the consumer's own committed offset,
        // which transactional commits (made by the producer) never move. The lag is what
        // the node has not processed yet: the records between its fetch position and the
        // last stable offset, and those fetched but not yet handed to it (transaction
        // markers, which a read_committed reader skips, are not counted).
        let lags: Vec<i64> = statistics
            .topics
            .values()
            .flat_map(|topic| topic.partitions.iter())
            .filter(|(id, partition)| {
                **id >= 0 && partition.next_offset >= 0 && partition.ls_offset >= 0
            })
            .map(|(_, partition)| {
                (partition.ls_offset - partition.next_offset).max(0) + partition.fetchq_cnt.max(0)
            })
            .collect();
        let lag = if lags.is_empty() {
            -1
        } else {
            lags.iter().sum()
        };
        self.lag.store(lag, Ordering::Relaxed);
    }
}

impl ConsumerContext for NodeContext {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(partitions) = rebalance {
            tracing::info!(partitions = partitions.count(), "node partitions revoked");
        }
        self.rebalanced.store(true, Ordering::SeqCst);
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(partitions) = rebalance {
            let owned: Vec<i32> = partitions
                .elements()
                .iter()
                .map(|p| p.partition())
                .collect();
            tracing::info!(?owned, "node partitions assigned");
        }
    }
}

struct Runner {
    plan: Plan,
    options: Options,
    pool: PgPool,
    handle: tokio::runtime::Handle,
    producer: ThreadedProducer<Refusals>,
    rebalanced: Arc<AtomicBool>,
    decoder: Decoder,
    transformer: Transformer,
    /// Client settings for reading committed input back into the node's state.
    warm: rdkafka::ClientConfig,
    /// The partitions whose records the node's state holds.
    owned: HashSet<i32>,
    lineage: RunEvents,
    /// The consumer's lag as its statistics last said (-1 while unknown).
    lag: Arc<AtomicI64>,
    /// Where the output goes, and the reader that drains the detour.
    detour: Detour,
}

/// How often a node process reports itself (and learns whether it is paused).
const HEARTBEAT_EVERY: Duration = Duration::from_secs(2);

/// What a node process reports about itself.
struct Status {
    instance: i32,
    host: String,
    started_at: chrono::DateTime<chrono::Utc>,
    paused: bool,
    records: u64,
    dead_letters: u64,
    error: Option<String>,
    last_beat: Instant,
    at_last_beat: u64,
    /// The node's restart generation when this run started (known from the first beat).
    restart_generation: Option<i32>,
    last_running_event: Instant,
}

impl Status {
    /// Keeps the first error since the last heartbeat: those after it are usually its
    /// consequences (a refused record, then the skipped sequence numbers it leaves), and
    /// the incident detector classifies what the heartbeat reports.
    fn note_error(&mut self, error: String) {
        self.error.get_or_insert(error);
    }

    fn new(instance: u32) -> Self {
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|name| name.trim().to_string())
            .ok()
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "localhost".to_string());
        Self {
            instance: i32::try_from(instance).unwrap_or(i32::MAX),
            host,
            started_at: chrono::Utc::now(),
            paused: false,
            records: 0,
            dead_letters: 0,
            error: None,
            // The first beat goes out at once.
            last_beat: Instant::now() - HEARTBEAT_EVERY,
            at_last_beat: 0,
            restart_generation: None,
            last_running_event: Instant::now(),
        }
    }
}

/// The open transaction: the next input offset of each partition it covers.
#[derive(Default)]
struct Open {
    started: Option<Instant>,
    /// Keyed by (from the repartition topic, partition).
    next: BTreeMap<(bool, i32), i64>,
    /// The next detour offset of each detour partition it drained.
    drained: BTreeMap<i32, i64>,
    records: usize,
    /// A record the producer would not queue (it refuses while the transaction must
    /// abort): commit now, which fails and aborts.
    failed: Option<String>,
}

impl Runner {
    fn run(
        &mut self,
        consumer: &BaseConsumer<NodeContext>,
        stop: &AtomicBool,
    ) -> anyhow::Result<Ended> {
        self.producer
            .init_transactions(COORDINATOR_TIMEOUT)
            .context("initialising transactions (is another process running this instance?)")?;
        let mut topics = vec![self.plan.node.input_topic.as_str()];
        topics.extend(self.plan.repartition.as_deref());
        consumer
            .subscribe(&topics)
            .context("subscribing to the input topic")?;
        let mut open = Open::default();
        let mut status = Status::new(self.options.instance);
        let mut ended = Ended::Stopped;
        while !stop.load(Ordering::Relaxed) {
            // While the detour drains, the input is paused: the loop waits on the detour.
            let wait = if self.detour.holds_input() && !status.paused {
                Duration::ZERO
            } else {
                Duration::from_millis(20)
            };
            let polled = consumer.poll(wait);
            if self.rebalanced.swap(false, Ordering::SeqCst) {
                let aborted = open.started.is_some();
                if aborted {
                    // The open transaction's records may belong to partitions this process
                    // no longer owns, or be read again from the committed offsets: drop
                    // them.
                    self.abort(consumer, &mut open)?;
                }
                self.follow_assignment(consumer)?;
                // What was parked for the partitions this process now owns reaches the
                // output before their new records do.
                if !matches!(self.detour.route, Route::Detoured { .. }) {
                    self.detour
                        .start_draining(self.owned_state_partitions(consumer)?)?;
                }
                // Partitions assigned since a pause (or the drain) start paused too.
                self.set_input_flow(consumer, &status)?;
                if aborted {
                    // What was polled is read again from the committed offsets.
                    continue;
                }
            }
            match polled {
                Some(Ok(message)) if status.paused || self.detour.holds_input() => {
                    // Fetched before its partition paused: read it again on resume.
                    consumer.seek(
                        message.topic(),
                        message.partition(),
                        Offset::Offset(message.offset()),
                        Timeout::After(COORDINATOR_TIMEOUT),
                    )?;
                    consumer.pause(&consumer.assignment()?)?;
                }
                Some(Ok(message)) => {
                    self.begin(&mut open)?;
                    match self.step(&message, &mut open) {
                        Step::Output => status.records += 1,
                        Step::DeadLetter => status.dead_letters += 1,
                        Step::Repartitioned => {}
                    }
                    let repartitioned = message.topic() != self.plan.node.input_topic;
                    open.next
                        .insert((repartitioned, message.partition()), message.offset() + 1);
                    open.records += 1;
                }
                Some(Err(error)) => {
                    tracing::warn!(%error, "node consumer error");
                    status.note_error(error.to_string());
                }
                None => {}
            }
            if self.detour.holds_input() && !status.paused {
                self.drain_step(consumer, &mut open, &mut status)?;
            } else if self.detour.probe_due() && !status.paused {
                if open.started.is_some() {
                    self.commit(consumer, &mut open, &mut status)?;
                }
                if self.detour.probe_due() {
                    tracing::info!(detour = %self.detour.topic, "trying the output again");
                    self.detour
                        .start_draining(self.owned_state_partitions(consumer)?)?;
                    self.set_input_flow(consumer, &status)?;
                }
            }
            let due = open.started.is_some_and(|started| {
                started.elapsed() >= self.options.transaction_every
                    || open.records >= self.options.max_batch
                    || open.failed.is_some()
            });
            if due {
                self.commit(consumer, &mut open, &mut status)?;
            }
            if status.last_beat.elapsed() >= HEARTBEAT_EVERY {
                let orders = self.beat(consumer, &mut status, "running");
                let generation = *status
                    .restart_generation
                    .get_or_insert(orders.restart_generation);
                if generation != orders.restart_generation {
                    ended = Ended::Restart;
                    break;
                }
                if status.last_running_event.elapsed() >= RUNNING_EVERY {
                    status.last_running_event = Instant::now();
                    self.handle
                        .block_on(self.lineage.emit(&self.pool, "RUNNING"));
                }
                let paused = orders.paused;
                if paused != status.paused {
                    if open.started.is_some() {
                        self.commit(consumer, &mut open, &mut status)?;
                    }
                    status.paused = paused;
                    self.set_input_flow(consumer, &status)?;
                    tracing::info!(paused, "node {}", if paused { "paused" } else { "resumed" });
                }
            }
        }
        if open.started.is_some() {
            self.commit(consumer, &mut open, &mut status)?;
        }
        let state = match ended {
            Ended::Stopped => "stopped",
            Ended::Restart => "restarting",
        };
        self.beat(consumer, &mut status, state);
        tracing::info!(
            records = status.records,
            dead_letters = status.dead_letters,
            "node {state}"
        );
        Ok(ended)
    }

    /// Begins a transaction unless one is open.
    fn begin(&self, open: &mut Open) -> anyhow::Result<()> {
        if open.started.is_none() {
            // Refusals reported before this transaction were its predecessor's.
            let _ = self.producer.context().take();
            self.producer
                .begin_transaction()
                .context("beginning a transaction")?;
            open.started = Some(Instant::now());
        }
        Ok(())
    }

    /// Pauses the input while the node is paused or its detour drains; resumes it otherwise.
    fn set_input_flow(
        &self,
        consumer: &BaseConsumer<NodeContext>,
        status: &Status,
    ) -> anyhow::Result<()> {
        let assignment = consumer.assignment()?;
        if status.paused || self.detour.holds_input() {
            consumer.pause(&assignment)?;
        } else {
            consumer.resume(&assignment)?;
        }
        Ok(())
    }

    /// The partitions of the state topic the group gave this process.
    fn owned_state_partitions(
        &self,
        consumer: &BaseConsumer<NodeContext>,
    ) -> anyhow::Result<Vec<i32>> {
        Ok(consumer
            .assignment()?
            .elements()
            .iter()
            .filter(|p| p.topic() == self.state_topic())
            .map(|p| p.partition())
            .collect())
    }

    /// One step of a drain: copies the next parked record to the output; once the detour
    /// is empty, commits and lets the input flow to the output again.
    fn drain_step(
        &mut self,
        consumer: &BaseConsumer<NodeContext>,
        open: &mut Open,
        status: &mut Status,
    ) -> anyhow::Result<()> {
        if let Some(parked) = self.detour.poll(Duration::from_millis(20)) {
            self.begin(open)?;
            let mut record: BaseRecord<'_, [u8], [u8]> =
                BaseRecord::to(&self.plan.node.output_topic)
                    .payload(parked.payload().unwrap_or_default());
            if let Some(headers) = parked.headers() {
                record = record.headers(headers.clone());
            }
            if let Some(key) = parked.key() {
                record = record.key(key);
            }
            if let Some(at) = parked.timestamp().to_millis() {
                record = record.timestamp(at);
            }
            self.send(record, open);
            open.drained.insert(parked.partition(), parked.offset() + 1);
            open.records += 1;
            self.detour.drained += 1;
            return Ok(());
        }
        if !self.detour.empty() {
            return Ok(());
        }
        if open.started.is_some() {
            self.commit(consumer, open, status)?;
        }
        if self.detour.holds_input() {
            tracing::info!(
                detour = %self.detour.topic,
                drained = self.detour.drained,
                "the detour is empty; writing the output again"
            );
            self.detour.finish();
            self.set_input_flow(consumer, status)?;
        }
        Ok(())
    }

    /// Reports this process to the catalog; what the node should be doing (the last known
    /// orders when the database cannot be reached).
    fn beat(
        &self,
        consumer: &BaseConsumer<NodeContext>,
        status: &mut Status,
        state: &'static str,
    ) -> nodes::Orders {
        let elapsed = status.last_beat.elapsed().as_secs_f64();
        let written = status.records + status.dead_letters;
        let rate = if elapsed > 0.0 {
            written.saturating_sub(status.at_last_beat) as f64 / elapsed
        } else {
            0.0
        };
        let assignment = consumer.assignment().unwrap_or_default();
        let partitions = assignment
            .elements()
            .iter()
            .filter(|p| p.topic() == self.plan.node.input_topic)
            .map(|p| p.partition())
            .collect();
        let lag = Some(self.lag.load(Ordering::Relaxed)).filter(|lag| *lag >= 0);
        let beat = nodes::Beat {
            instance: status.instance,
            host: status.host.clone(),
            pid: std::process::id() as i32,
            started_at: status.started_at,
            state: if state == "running" && status.paused {
                "paused"
            } else {
                state
            },
            partitions,
            records: status.records as i64,
            dead_letters: status.dead_letters as i64,
            rate,
            lag,
            error: status.error.take(),
            rerouted: self.detour.rerouted(),
        };
        status.last_beat = Instant::now();
        status.at_last_beat = written;
        match self
            .handle
            .block_on(nodes::heartbeat(&self.pool, &self.plan.node.name, &beat))
        {
            Ok(orders) => orders,
            Err(error) => {
                tracing::warn!(%error, "node heartbeat not recorded");
                nodes::Orders {
                    paused: status.paused,
                    restart_generation: status.restart_generation.unwrap_or_default(),
                }
            }
        }
    }

    /// What one polled record takes: an input record of a node that repartitions is copied
    /// to the repartition topic under its state key; any other is transformed.
    fn step<M: Message>(&mut self, message: &M, open: &mut Open) -> Step {
        match &self.plan.repartition {
            Some(_) if message.topic() == self.plan.node.input_topic => {
                self.repartition(message, open);
                Step::Repartitioned
            }
            _ => match self.forward(message, open) {
                true => Step::Output,
                false => Step::DeadLetter,
            },
        }
    }

    /// Copies an input record to the repartition topic, keyed by its state key (its own key
    /// when it has none, or cannot be decoded: the transform step dead-letters it). Its
    /// input coordinates and key travel in headers, so that the output and dead letters
    /// name the input record, and the output keeps the input's key.
    fn repartition<M: Message>(&mut self, message: &M, open: &mut Open) {
        let Some(topic) = self.plan.repartition.as_deref() else {
            return;
        };
        let schemas = &self.plan.input_schemas;
        let lookup = |id: u32| schemas.get(&id).cloned();
        let payload = message.payload().unwrap_or_default();
        let state_key = self
            .decoder
            .decode(payload, &self.plan.input_subject_ids, &lookup)
            .ok()
            .and_then(|decoded| self.transformer.state_key(decoded.value()));
        let partition = message.partition().to_string();
        let offset = message.offset().to_string();
        let mut headers = OwnedHeaders::new_with_capacity(4)
            .insert(header("meshmart.source.topic", message.topic()))
            .insert(header("meshmart.source.partition", &partition))
            .insert(header("meshmart.source.offset", &offset));
        if let Some(key) = message.key() {
            headers = headers.insert(Header {
                key: SOURCE_KEY,
                value: Some(key),
            });
        }
        let mut record: BaseRecord<'_, [u8], [u8]> =
            BaseRecord::to(topic).payload(payload).headers(headers);
        if let Some(at) = message.timestamp().to_millis() {
            record = record.timestamp(at);
        }
        match state_key.as_deref() {
            Some(key) => record = record.key(key.as_bytes()),
            None => {
                if let Some(key) = message.key() {
                    record = record.key(key);
                }
            }
        }
        self.send(record, open)
    }

    /// Transforms one input record and queues it on the output topic, or on the dead-letter
    /// topic when it cannot be; whether it reached the output. A record from the
    /// repartition topic is named by the input coordinates and key it carries.
    fn forward<M: Message>(&mut self, message: &M, open: &mut Open) -> bool {
        let outcome = self.transform(message);
        let (own_partition, own_offset);
        let source = match self.plan.repartition.as_deref() {
            Some(topic) if message.topic() == topic => Carried::of(message),
            _ => {
                own_partition = message.partition().to_string();
                own_offset = message.offset().to_string();
                Carried {
                    topic: message.topic(),
                    partition: &own_partition,
                    offset: &own_offset,
                    key: message.key(),
                }
            }
        };
        let node = self.plan.node.name.as_str();
        let mut headers = OwnedHeaders::new_with_capacity(8)
            .insert(header("meshmart.node", node))
            .insert(header("meshmart.source.topic", source.topic))
            .insert(header("meshmart.source.partition", source.partition))
            .insert(header("meshmart.source.offset", source.offset));
        let dead_letters;
        let mut partition = None;
        let (topic, payload) = match &outcome {
            // While the output refuses writes, the output is parked on the detour.
            Ok(bytes) if matches!(self.detour.route, Route::Detoured { .. }) => {
                partition = Some(self.detour.partition_of(message.partition()));
                (self.detour.topic.as_str(), bytes.as_slice())
            }
            Ok(bytes) => (self.plan.node.output_topic.as_str(), bytes.as_slice()),
            Err((reason, why)) => {
                headers = headers
                    .insert(header("meshmart.reason", reason))
                    .insert(header("meshmart.rule", reason))
                    .insert(header("meshmart.field", ""))
                    .insert(header("meshmart.message", why));
                dead_letters = self.plan.node.dead_letter_topic();
                (dead_letters.as_str(), message.payload().unwrap_or_default())
            }
        };
        let mut record: BaseRecord<'_, [u8], [u8]> =
            BaseRecord::to(topic).payload(payload).headers(headers);
        // The output carries its input's event time (as Kafka Streams does), so a reader
        // sees how long after its event an output became readable.
        if let Some(at) = message.timestamp().to_millis() {
            record = record.timestamp(at);
        }
        if let Some(key) = source.key {
            record = record.key(key);
        }
        if let Some(partition) = partition {
            record = record.partition(partition);
        }
        self.send(record, open);
        outcome.is_ok()
    }

    /// The output record of one input record, or (reason, message) for its dead letter.
    fn transform<M: Message>(&mut self, message: &M) -> Result<Vec<u8>, (&'static str, String)> {
        let bytes = message.payload().unwrap_or_default();
        let schemas = &self.plan.input_schemas;
        let lookup = |id: u32| schemas.get(&id).cloned();
        let decoded = self
            .decoder
            .decode(bytes, &self.plan.input_subject_ids, &lookup)
            .map_err(|error| (error.reason(), error.to_string()))?;
        let source = Source {
            partition: message.partition(),
            offset: message.offset(),
            timestamp_ms: message.timestamp().to_millis().unwrap_or_default(),
        };
        let value = self
            .transformer
            .apply(decoded.value(), source, &self.plan.output_port)?;
        self.plan
            .output
            .encode(&value)
            .map_err(|error| ("encode", error.to_string()))
    }

    /// Queues a record in the open transaction, waiting while the producer's queue is
    /// full. A record the producer refuses (its transaction must abort: a write failed)
    /// marks the transaction failed; committing it aborts and reads the input again.
    fn send(&self, mut record: BaseRecord<'_, [u8], [u8]>, open: &mut Open) {
        loop {
            match self.producer.send(record) {
                Ok(()) => return,
                Err((
                    KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull),
                    returned,
                )) => {
                    record = returned;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((error, _)) => {
                    open.failed.get_or_insert_with(|| error.to_string());
                    return;
                }
            }
        }
    }

    /// Waits (up to the coordinator timeout) until the broker has acknowledged every queued
    /// record. `commit_transaction` flushes too, but rust-rdkafka's flush then polls in
    /// steps of a full 100 ms, which put 100 ms on every transaction; the producer's own
    /// thread serves the delivery reports, so this only has to watch the count.
    fn delivered(&self) {
        let deadline = Instant::now() + COORDINATOR_TIMEOUT;
        while self.producer.in_flight_count() > 0 && Instant::now() < deadline {
            // A zero-timeout flush sends what lingers now instead of after `linger.ms`.
            let _ = self.producer.flush(Timeout::After(Duration::ZERO));
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Sends the open transaction's offsets in it and commits it. An abortable failure
    /// (a rebalance fenced the offsets, a record was refused) aborts it and rewinds; when
    /// the output topic refused a record, the output is parked on the detour from now on.
    fn commit(
        &mut self,
        consumer: &BaseConsumer<NodeContext>,
        open: &mut Open,
        status: &mut Status,
    ) -> anyhow::Result<()> {
        let started = Instant::now();
        if let Some(refused) = open.failed.take() {
            return self.recover(consumer, open, status, refused);
        }
        match self.send_offsets_and_commit(consumer, open) {
            Ok(()) => {
                tracing::debug!(
                    records = open.records,
                    open_ms = open
                        .started
                        .map(|at| at.elapsed().as_millis())
                        .unwrap_or_default(),
                    commit_ms = started.elapsed().as_millis(),
                    "transaction committed"
                );
                *open = Open::default();
                Ok(())
            }
            Err(KafkaError::Transaction(error)) if error.txn_requires_abort() => {
                self.recover(consumer, open, status, error.to_string())
            }
            Err(error) => Err(error).context("committing a transaction"),
        }
    }

    /// Sends the input offsets (in the node's group) and the drained detour offsets (in
    /// the detour's group) the open transaction covers, and commits it.
    fn send_offsets_and_commit(
        &self,
        consumer: &BaseConsumer<NodeContext>,
        open: &Open,
    ) -> rdkafka::error::KafkaResult<()> {
        if !open.next.is_empty() {
            let mut offsets = TopicPartitionList::new();
            for ((repartitioned, partition), next) in &open.next {
                let topic = match (repartitioned, &self.plan.repartition) {
                    (true, Some(repartition)) => repartition,
                    _ => &self.plan.node.input_topic,
                };
                offsets.add_partition_offset(topic, *partition, Offset::Offset(*next))?;
            }
            let metadata = consumer
                .group_metadata()
                .ok_or(KafkaError::NoMessageReceived)?;
            self.producer
                .send_offsets_to_transaction(&offsets, &metadata, COORDINATOR_TIMEOUT)?;
        }
        if !open.drained.is_empty() {
            let mut offsets = TopicPartitionList::new();
            for (partition, next) in &open.drained {
                offsets.add_partition_offset(
                    &self.detour.topic,
                    *partition,
                    Offset::Offset(*next),
                )?;
            }
            let metadata = self
                .detour
                .group_metadata()
                .ok_or(KafkaError::NoMessageReceived)?;
            self.producer
                .send_offsets_to_transaction(&offsets, &metadata, COORDINATOR_TIMEOUT)?;
        }
        self.delivered();
        self.producer.commit_transaction(COORDINATOR_TIMEOUT)
    }

    /// Aborts a transaction that failed with `error` and rewinds. When the output topic
    /// refused one of its records, the output goes to the detour from now on (a failed
    /// drain goes back to parking, and tries again later).
    fn recover(
        &mut self,
        consumer: &BaseConsumer<NodeContext>,
        open: &mut Open,
        status: &mut Status,
        error: String,
    ) -> anyhow::Result<()> {
        let refused = self.producer.context().take();
        tracing::warn!(%error, ?refused, "transaction aborted; re-reading from the committed offsets");
        self.abort(consumer, open)?;
        let output = &self.plan.node.output_topic;
        match (self.detour.route, refused) {
            (Route::Draining, refused) => {
                status.note_error(format!(
                    "output topic {output} still refuses writes ({}); the output stays parked on {}",
                    refused.as_deref().unwrap_or(&error),
                    self.detour.topic
                ));
                self.detour.park();
                self.set_input_flow(consumer, status)?;
            }
            (Route::Direct, Some(refused)) => {
                tracing::warn!(%refused, detour = %self.detour.topic, "the output refuses writes; parking the output on the detour");
                status.note_error(format!(
                    "output topic {output} refused a write ({refused}); the output is parked on {}",
                    self.detour.topic
                ));
                self.detour.park();
            }
            // Already parked: the abort is news, the parking still the state to report.
            (Route::Detoured { .. }, refused) => status.note_error(format!(
                "transaction aborted ({}); the output stays parked on {} since output topic {output} refused a write",
                refused.as_deref().unwrap_or(&error),
                self.detour.topic
            )),
            (Route::Direct, None) => status.note_error(format!("transaction aborted: {error}")),
        }
        Ok(())
    }

    /// Aborts the open transaction and moves every owned partition back to its committed
    /// offset (the aborted records are read again).
    fn abort(
        &mut self,
        consumer: &BaseConsumer<NodeContext>,
        open: &mut Open,
    ) -> anyhow::Result<()> {
        self.producer
            .abort_transaction(COORDINATOR_TIMEOUT)
            .context("aborting a transaction")?;
        *open = Open::default();
        let assignment = consumer.assignment()?;
        if assignment.count() == 0 {
            return Ok(());
        }
        let committed = consumer
            .committed_offsets(assignment, Timeout::After(COORDINATOR_TIMEOUT))
            .context("reading the committed offsets")?;
        let mut rewind = TopicPartitionList::new();
        for element in committed.elements() {
            let offset = match element.offset() {
                Offset::Offset(offset) => Offset::Offset(offset),
                _ => Offset::Beginning,
            };
            if element.topic() == self.state_topic() {
                self.transformer.rewind(
                    element.partition(),
                    element.offset().to_raw().unwrap_or_default().max(0),
                );
            }
            rewind.add_partition_offset(element.topic(), element.partition(), offset)?;
        }
        consumer
            .seek_partitions(rewind, Timeout::After(COORDINATOR_TIMEOUT))
            .context("rewinding to the committed offsets")?;
        Ok(())
    }
}

impl Runner {
    /// The topic whose partitions the node's state is kept by: the repartition topic when
    /// the node has one, else the input.
    fn state_topic(&self) -> &str {
        self.plan
            .repartition
            .as_deref()
            .unwrap_or(&self.plan.node.input_topic)
    }

    /// Brings the node's state in line with the partitions the group gave this process:
    /// forgets the ones it lost, rebuilds the ones it gained from their committed records.
    fn follow_assignment(&mut self, consumer: &BaseConsumer<NodeContext>) -> anyhow::Result<()> {
        let Some(window_ms) = self.transformer.state_window_ms() else {
            return Ok(());
        };
        let assignment = consumer.assignment()?;
        let state_topic = self.state_topic().to_string();
        let now: HashSet<i32> = assignment
            .elements()
            .iter()
            .filter(|p| p.topic() == state_topic)
            .map(|p| p.partition())
            .collect();
        for lost in self.owned.difference(&now).copied().collect::<Vec<_>>() {
            self.transformer.forget(lost);
        }
        let gained: Vec<i32> = now.difference(&self.owned).copied().collect();
        self.owned = now;
        if gained.is_empty() {
            return Ok(());
        }
        let mut wanted = TopicPartitionList::new();
        for partition in &gained {
            wanted.add_partition(&state_topic, *partition);
        }
        let committed = consumer
            .committed_offsets(wanted, Timeout::After(COORDINATOR_TIMEOUT))
            .context("reading the committed offsets")?;
        let started = Instant::now();
        tracing::debug!(
            ?committed,
            "rebuilding the node state up to the committed offsets"
        );
        let warmed = self.warm(&committed, window_ms)?;
        tracing::info!(
            ?gained,
            records = warmed,
            seconds = started.elapsed().as_secs_f64(),
            "node state rebuilt from the committed input"
        );
        Ok(())
    }

    /// Reads each partition's records of the last `window_ms` before its committed offset
    /// into the node's state; how many.
    fn warm(&mut self, committed: &TopicPartitionList, window_ms: i64) -> anyhow::Result<u64> {
        let mut until = HashMap::new();
        let mut from = TopicPartitionList::new();
        let since = chrono::Utc::now().timestamp_millis() - window_ms;
        for element in committed.elements() {
            if let Offset::Offset(offset) = element.offset()
                && offset > 0
            {
                until.insert(element.partition(), offset);
                from.add_partition_offset(
                    element.topic(),
                    element.partition(),
                    Offset::Offset(since),
                )?;
            }
        }
        if until.is_empty() {
            return Ok(0);
        }
        let reader: BaseConsumer<StateReader> = self
            .warm
            .create_with_context(StateReader)
            .context("creating the state reader")?;
        let starts = reader
            .offsets_for_times(from, Timeout::After(COORDINATOR_TIMEOUT))
            .context("finding the window's first records")?;
        tracing::debug!(?starts, ?until, "the window's first records");
        let mut assign = TopicPartitionList::new();
        for element in starts.elements() {
            let Some(&end) = until.get(&element.partition()) else {
                continue;
            };
            match element.offset() {
                Offset::Offset(start) if start < end => {
                    assign.add_partition_offset(
                        element.topic(),
                        element.partition(),
                        Offset::Offset(start),
                    )?;
                }
                // No record in the window before the committed offset.
                _ => {
                    until.remove(&element.partition());
                }
            }
        }
        if until.is_empty() {
            return Ok(0);
        }
        reader
            .assign(&assign)
            .context("assigning the state reader")?;
        let deadline = Instant::now() + COORDINATOR_TIMEOUT;
        let mut warmed = 0;
        while !until.is_empty() && Instant::now() < deadline {
            let Some(polled) = reader.poll(Duration::from_millis(100)) else {
                continue;
            };
            let message = match polled {
                Ok(message) => message,
                Err(KafkaError::PartitionEOF(partition)) => {
                    until.remove(&partition);
                    continue;
                }
                Err(error) => {
                    tracing::warn!(%error, "reading the node's state back");
                    continue;
                }
            };
            let partition = message.partition();
            let Some(&end) = until.get(&partition) else {
                continue;
            };
            if message.offset() >= end {
                until.remove(&partition);
                continue;
            }
            let schemas = &self.plan.input_schemas;
            let lookup = |id: u32| schemas.get(&id).cloned();
            if let Ok(decoded) = self.decoder.decode(
                message.payload().unwrap_or_default(),
                &self.plan.input_subject_ids,
                &lookup,
            ) {
                let source = Source {
                    partition,
                    offset: message.offset(),
                    timestamp_ms: message.timestamp().to_millis().unwrap_or_default(),
                };
                self.transformer.warm(decoded.value(), source);
                warmed += 1;
            }
            if message.offset() + 1 >= end {
                until.remove(&partition);
            }
        }
        Ok(warmed)
    }
}

fn header<'a>(key: &'a str, value: &'a str) -> Header<'a, &'a str> {
    Header {
        key,
        value: Some(value),
    }
}

/// The client context of the reader that rebuilds a node's state: reaching a partition's
/// end is how it knows it is done, not an error to log (librdkafka reports it as one).
struct StateReader;

impl ClientContext for StateReader {
    fn error(&self, error: KafkaError, reason: &str) {
        match error {
            KafkaError::PartitionEOF(_) => {
                tracing::debug!(%reason, "state reader at a partition's end")
            }
            other => tracing::warn!(error = %other, %reason, "node state reader error"),
        }
    }
}

impl ConsumerContext for StateReader {}

/// The header a repartitioned record carries its input key in.
const SOURCE_KEY: &str = "meshmart.source.key";

/// What one polled record became.
enum Step {
    Output,
    DeadLetter,
    /// Copied to the repartition topic (no output yet).
    Repartitioned,
}

/// The input coordinates and key an output record names: the input record's own, or those
/// a repartitioned record carries in its headers.
struct Carried<'a> {
    topic: &'a str,
    partition: &'a str,
    offset: &'a str,
    key: Option<&'a [u8]>,
}

impl<'a> Carried<'a> {
    fn of<M: Message>(message: &'a M) -> Self {
        let mut carried = Carried {
            topic: "",
            partition: "",
            offset: "",
            key: None,
        };
        let Some(headers) = message.headers() else {
            return carried;
        };
        for header in headers.iter() {
            let value = header.value.unwrap_or_default();
            let text = || std::str::from_utf8(value).unwrap_or_default();
            match header.key {
                "meshmart.source.topic" => carried.topic = text(),
                "meshmart.source.partition" => carried.partition = text(),
                "meshmart.source.offset" => carried.offset = text(),
                SOURCE_KEY => carried.key = Some(value),
                _ => {}
            }
        }
        carried
    }
}
