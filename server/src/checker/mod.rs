//! The record checker: a Kafka consumer group (`checker.group`, `read_committed`, as
//! Meshmart's principal) over every product topic, judging each record against its
//! contract ([`domain::health::PortCheck`]) and adding what it saw to PostgreSQL about once
//! a second ([`domain::health::store::flush`]).
//!
//! Scaling out is Kafka's: every server process joins the same group and the broker splits
//! the partitions among them. Exactly-once counting comes from PostgreSQL, not from the
//! group's commits: a flush records the next offset of each partition it covers in the same
//! transaction as the counts; a process that is handed a partition skips what is below that
//! offset; and before partitions are taken away (the revoke callback, which runs inside
//! `poll` on this thread) whatever was counted for them is flushed.
//!
//! Under a `quarantine` policy a failing record is also copied to `<topic>.dlq`, with
//! headers saying why and where it came from; copies are acknowledged before the offsets
//! they cover are stored. A poison record is judged, counted and passed; nothing is retried.
//!
//! A process runs one consumer per core and one more by default (`checker.consumers`), each a member of
//! the group on a thread of its own (decoding is CPU work and the consumer API blocks), so
//! the broker splits a process's partitions among its cores as it splits them among
//! processes. They stop when the [`Running`] handed back by [`spawn`] is stopped or
//! dropped.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use domain::broker::BrokerConfig;
use domain::contracts::quality::{Policy, dead_letter_topic};
use domain::health::store::{self, CheckedPort};
use domain::health::{Batch, FastMap, Incoming, Judged, PortCheck, Wanted};
use domain::registry::ParsedSchema;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use secrecy::ExposeSecret;
use sqlx::PgPool;
use tokio::runtime::Handle;

/// How often counts are added to PostgreSQL.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Records checked between two readings of the clock while records keep arriving (it is
/// also read after every wait for one).
const CLOCK_EVERY: u32 = 16;
/// How often the ports (contracts, topics, schema ids) are read again.
const REFRESH_EVERY: Duration = Duration::from_secs(10);
/// How often the catalog is asked whether a product changed (a new contract version takes
/// effect, policy included, within about this long).
const CHANGE_CHECK_EVERY: Duration = Duration::from_secs(1);
/// Schema ids remembered (found or not) between refreshes.
const MAX_CACHED_SCHEMAS: usize = 10_000;
/// Products with their own metric labels; the rest share `product="_other"`.
pub const MAX_LABELLED_PRODUCTS: usize = 500;

/// How long librdkafka waits before fetching again for a partition whose local queue is
/// over its threshold. Its default, 1 s, starves a consumer that does real work per record:
/// the queue drains long before the next fetch, and the checker waited on an empty queue
/// about two thirds of the time (112k records/s; 3× that with this value).
const FETCH_QUEUE_BACKOFF_MS: &str = "10";

/// How often each consumer tells the group coordinator it is alive (see `consume`).
const HEARTBEAT_MS: &str = "500";

/// Prefetched records each consumer holds at most, in KB (16 MB: a few tenths of a second
/// of records at the checker's rate).
const QUEUED_KBYTES: &str = "16384";

/// What the checker needs to run.
#[derive(Clone, Debug)]
pub struct CheckerConfig {
    pub broker: BrokerConfig,
    pub group: String,
    pub max_record_bytes: usize,
    /// Consumers in this process; 0 means one per core, plus one.
    pub consumers: usize,
    /// librdkafka properties over Meshmart's own (`_` stands for `.`).
    pub client: std::collections::BTreeMap<String, secrecy::SecretString>,
}

/// The running checker threads.
pub struct Running {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Running {
    /// Asks the threads to stop, and waits until they have added their last counts (at
    /// most a poll and a flush). Call it before the runtime shuts down: the threads use it.
    pub async fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let threads = std::mem::take(&mut self.threads);
        let _ = tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        })
        .await;
    }
}

impl Drop for Running {
    /// Dropped without [`Running::stop`] (the server's future dropped mid-flight): the
    /// thread still stops at its next poll.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Starts the checker's consumers, each on a thread of its own.
pub fn spawn(pool: PgPool, config: CheckerConfig) -> Running {
    describe();
    let stop = Arc::new(AtomicBool::new(false));
    let consumers = match config.consumers {
        // One per core and one more: a consumer waiting for its next fetch then leaves no
        // core idle. Measured on 2 cores over a 2M-record backlog on 3-partition topics:
        // 1 consumer 358k records/s, 2 517k, 3 594k, 4 481k.
        0 => std::thread::available_parallelism().map_or(1, usize::from) + 1,
        n => n,
    };
    let catalog = Arc::new(Catalog::default());
    let mut threads = Vec::new();
    for index in 0..consumers {
        let (pool, config, handle, running, catalog) = (
            pool.clone(),
            config.clone(),
            Handle::current(),
            Arc::clone(&stop),
            Arc::clone(&catalog),
        );
        let thread = std::thread::Builder::new()
            .name(format!("meshmart-checker-{index}"))
            .spawn(move || run(&pool, &config, &handle, &running, &catalog));
        match thread {
            Ok(thread) => threads.push(thread),
            Err(error) => tracing::error!(%error, "a record checker thread did not start"),
        }
    }
    tracing::info!(consumers = threads.len(), "record checker started");
    Running { stop, threads }
}

/// State shared by the poll loop and the rebalance callbacks (which run inside `poll`, on
/// the same thread, so the lock is never contended).
struct Shared {
    batch: Batch,
    /// Where counting starts per partition, loaded when a partition is first seen after an
    /// assignment.
    floors: FastMap<(Arc<str>, i32), i64>,
    /// How many times `floors` was cleared: a [`Lane`] from before is looked up again.
    assignments: u64,
}

impl Shared {
    fn forget_floors(&mut self) {
        self.floors.clear();
        self.assignments += 1;
    }
}

/// The partition the last record came from, as looked up for it. A fetch hands over a run
/// of records per partition, so most records find their topic's port and their partition's
/// floor here instead of in three maps (hashing the topic name each time).
struct Lane {
    topic: Arc<str>,
    partition: i32,
    port_id: uuid::Uuid,
    policy: Policy,
    floor: i64,
    /// [`Shared::assignments`] when it was looked up.
    assignments: u64,
}

struct CheckerContext {
    shared: Arc<Mutex<Shared>>,
    pool: PgPool,
    handle: Handle,
    dead_letters: DeadLetters,
    labels: Arc<Mutex<HashMap<uuid::Uuid, (String, String)>>>,
}

impl ClientContext for CheckerContext {}

impl ConsumerContext for CheckerContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(_) = rebalance {
            // Count what was seen of the partitions before another process may take them.
            let mut shared = lock(&self.shared);
            if let Err(error) = flush(self, consumer, &mut shared) {
                tracing::warn!(%error, "could not add counts before a rebalance");
            }
            shared.forget_floors();
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(partitions) = rebalance {
            tracing::info!(
                partitions = partitions.count(),
                "record checker assigned partitions"
            );
            lock(&self.shared).forget_floors();
        }
    }
}

/// The producer of dead letters, created when the first record is quarantined (most ports
/// only monitor) and served by the checker's own thread: it has no polling thread.
struct DeadLetters {
    broker: BrokerConfig,
    producer: OnceLock<BaseProducer>,
}

impl DeadLetters {
    fn producer(&self) -> anyhow::Result<&BaseProducer> {
        if let Some(producer) = self.producer.get() {
            return Ok(producer);
        }
        let created: BaseProducer = self
            .broker
            .producer_config("meshmart-dead-letters")
            .create()?;
        Ok(self.producer.get_or_init(|| created))
    }

    /// Waits until every copy queued so far is on the broker.
    fn flush(&self) -> anyhow::Result<()> {
        if let Some(producer) = self.producer.get() {
            producer.flush(Duration::from_secs(10))?;
        }
        Ok(())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The ports as the catalog has them, read for all of a process's consumers by whichever
/// asks first once the last read is stale: the catalog is queried as often with several
/// consumers as with one.
#[derive(Default)]
struct Catalog {
    state: Mutex<CatalogState>,
}

#[derive(Default)]
struct CatalogState {
    checked_at: Option<Instant>,
    loaded_at: Option<Instant>,
    stamp: Option<(i64, Option<DateTime<Utc>>)>,
    /// Goes up with every read of the ports.
    generation: u64,
    ports: Arc<Vec<CheckedPort>>,
}

impl Catalog {
    /// The ports and their generation (0 before the first read). The catalog is asked
    /// whether a product changed at most every [`CHANGE_CHECK_EVERY`], and the ports are
    /// read again when one did, or [`REFRESH_EVERY`] since the last read.
    fn current(&self, pool: &PgPool, handle: &Handle) -> (u64, Arc<Vec<CheckedPort>>) {
        let mut state = lock(&self.state);
        let now = Instant::now();
        if state
            .checked_at
            .is_none_or(|at| now.duration_since(at) >= CHANGE_CHECK_EVERY)
        {
            state.checked_at = Some(now);
            let mut changed = false;
            if let Ok(stamp) = handle.block_on(store::catalog_stamp(pool)) {
                changed = state.stamp.is_some_and(|seen| seen != stamp);
                state.stamp = Some(stamp);
            }
            let due = state
                .loaded_at
                .is_none_or(|at| now.duration_since(at) >= REFRESH_EVERY);
            if changed || due {
                match handle.block_on(store::ports(pool)) {
                    Ok(ports) => {
                        state.loaded_at = Some(now);
                        state.ports = Arc::new(ports);
                        state.generation += 1;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "record checker could not read the ports");
                    }
                }
            }
        }
        (state.generation, Arc::clone(&state.ports))
    }
}

fn run(
    pool: &PgPool,
    config: &CheckerConfig,
    handle: &Handle,
    stop: &AtomicBool,
    catalog: &Catalog,
) {
    while !stop.load(Ordering::Relaxed) {
        match consume(pool, config, handle, stop, catalog) {
            Ok(()) => return,
            Err(error) => {
                tracing::warn!(%error, "record checker stopped; starting again in 5 s");
                // In steps, so that stopping the server does not wait out the pause.
                for _ in 0..50 {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }
}

/// Ports by topic, with the schema cache they share.
struct Ports {
    by_topic: FastMap<Arc<str>, PortCheck>,
    loaded: HashMap<Arc<str>, CheckedPort>,
    schemas: HashMap<u32, Option<ParsedSchema>>,
    /// When each topic's subject ids were last read again for an unexpected id.
    reread: HashMap<Arc<str>, Instant>,
}

fn consume(
    pool: &PgPool,
    config: &CheckerConfig,
    handle: &Handle,
    stop: &AtomicBool,
    catalog: &Catalog,
) -> anyhow::Result<()> {
    let context = CheckerContext {
        shared: Arc::new(Mutex::new(Shared {
            batch: Batch::default(),
            floors: FastMap::default(),
            assignments: 0,
        })),
        pool: pool.clone(),
        handle: handle.clone(),
        dead_letters: DeadLetters {
            broker: config.broker.clone(),
            producer: OnceLock::new(),
        },
        labels: Arc::new(Mutex::new(HashMap::new())),
    };
    let shared = Arc::clone(&context.shared);
    let mut consumer = config
        .broker
        .consumer_config("meshmart-checker", &config.group);
    fetch_settings(&mut consumer)
        .set("enable.auto.commit", "true")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        // Topics the catalog adds while the checker runs (the outbox creates them after
        // their products are registered) are found within seconds, not librdkafka's
        // default five minutes.
        .set("topic.metadata.refresh.interval.ms", "10000")
        // A member learns that the group is rebalancing from its next heartbeat. The
        // process's consumers join one after another, and at librdkafka's default (3 s) the
        // first one held every partition alone for three seconds: a backlog was checked at
        // about half speed until the others got theirs.
        .set("heartbeat.interval.ms", HEARTBEAT_MS);
    for (property, value) in &config.client {
        consumer.set(property.replace('_', "."), value.expose_secret());
    }
    let consumer: BaseConsumer<CheckerContext> = consumer.create_with_context(context)?;
    let mut ports = Ports {
        by_topic: FastMap::default(),
        loaded: HashMap::new(),
        schemas: HashMap::new(),
        reread: HashMap::new(),
    };
    let mut subscribed: Vec<String> = Vec::new();
    let mut last_asked: Option<Instant> = None;
    let mut generation = 0;
    let mut last_flush = Instant::now();
    // The wall-clock time of a check is the monotonic clock's reading placed on a
    // wall-clock anchor taken at each flush (about once a second).
    let mut anchor = (Instant::now(), Utc::now());
    let mut tick = anchor.0;
    // Records handled since the clock was last read (see `CLOCK_EVERY`).
    let mut unclocked = 0;
    let mut lane: Option<Lane> = None;
    while !stop.load(Ordering::Relaxed) {
        if last_asked.is_none_or(|at| tick.duration_since(at) >= CHANGE_CHECK_EVERY) {
            last_asked = Some(tick);
            let (current, loaded) = catalog.current(pool, handle);
            if current != generation {
                generation = current;
                lane = None;
                refresh(
                    &mut ports,
                    &loaded,
                    config.max_record_bytes,
                    &consumer.context().labels,
                );
                let mut topics: Vec<String> =
                    ports.by_topic.keys().map(|t| t.to_string()).collect();
                topics.sort();
                if topics != subscribed && !topics.is_empty() {
                    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
                    consumer.subscribe(&names)?;
                    tracing::info!(topics = topics.len(), "record checker subscribed");
                    subscribed = topics;
                }
            }
        }
        if subscribed.is_empty() {
            std::thread::sleep(Duration::from_millis(500));
            tick = Instant::now();
            continue;
        }
        // Without waiting first: librdkafka reads the clock for a poll that may wait, and a
        // busy checker polls half a million times a second. A record that was already
        // waiting is checked within microseconds of the one before, so the clock is read
        // after a wait and every `CLOCK_EVERY` records, not for each.
        let polled = match consumer.poll(Duration::ZERO) {
            None => {
                let polled = consumer.poll(Duration::from_millis(100));
                unclocked = CLOCK_EVERY;
                polled
            }
            polled => polled,
        };
        unclocked += 1;
        if unclocked >= CLOCK_EVERY {
            tick = Instant::now();
            unclocked = 0;
        }
        match polled {
            Some(Ok(message)) => {
                let topic = message.topic();
                let partition = message.partition();
                let mut shared = lock(&shared);
                let lane = match lane {
                    Some(ref current)
                        if current.partition == partition
                            && current.assignments == shared.assignments
                            && *current.topic == *topic =>
                    {
                        current
                    }
                    _ => {
                        let Some((key, port)) = ports.by_topic.get_key_value(topic) else {
                            continue;
                        };
                        let key = Arc::clone(key);
                        let floor = match shared.floors.get(&(Arc::clone(&key), partition)) {
                            Some(floor) => *floor,
                            None => {
                                let floor = handle
                                    .block_on(store::floor(pool, topic, partition))
                                    .map_err(|e| {
                                    anyhow::anyhow!("reading counted offsets: {e}")
                                })?;
                                shared.floors.insert((Arc::clone(&key), partition), floor);
                                floor
                            }
                        };
                        // Reading the floor, or a rebalance inside the poll, may have taken
                        // a while.
                        tick = Instant::now();
                        unclocked = 0;
                        &*lane.insert(Lane {
                            topic: key,
                            partition,
                            port_id: port.port_id,
                            policy: port.policy,
                            floor,
                            assignments: shared.assignments,
                        })
                    }
                };
                let now = anchor.1
                    + chrono::TimeDelta::from_std(tick.duration_since(anchor.0))
                        .unwrap_or_default();
                let (key, port_id, policy) = (&lane.topic, lane.port_id, lane.policy);
                if message.offset() < lane.floor {
                    shared.batch.skip(key, partition, message.offset());
                    continue;
                }
                let record = Incoming {
                    partition,
                    offset: message.offset(),
                    key: message.key(),
                    payload: message.payload(),
                    timestamp: message
                        .timestamp()
                        .to_millis()
                        .and_then(|ms| Utc.timestamp_millis_opt(ms).single()),
                };
                // A dead letter's headers say why; otherwise only sampled records do.
                let mut wanted = shared.batch.wants(port_id);
                wanted.messages |= policy == Policy::Quarantine;
                let Some(judged) = judge(pool, handle, &mut ports, key, &record, now, wanted)
                else {
                    continue;
                };
                if policy == Policy::Quarantine && !judged.valid() {
                    let copied =
                        quarantine(&consumer.context().dead_letters, &message, &judged, now);
                    if copied {
                        *shared.batch.dead_lettered.entry(port_id).or_default() += 1;
                    }
                }
                shared.batch.add(port_id, key, &record, judged, now);
            }
            Some(Err(error)) => tracing::debug!(%error, "record checker consumer error"),
            None => {}
        }
        if tick.duration_since(last_flush) >= FLUSH_EVERY {
            last_flush = tick;
            anchor = (Instant::now(), Utc::now());
            let mut shared = lock(&shared);
            if let Err(error) = flush(consumer.context(), &consumer, &mut shared) {
                tracing::warn!(%error, "record checker could not add its counts; keeping them");
            }
            tick = Instant::now();
            unclocked = 0;
        }
    }
    let mut shared = lock(&shared);
    if let Err(error) = flush(consumer.context(), &consumer, &mut shared) {
        tracing::warn!(%error, "record checker could not add its last counts");
    }
    Ok(())
}

/// Rebuilds the port checkers whose contract or subject changed; keeps the others (and
/// their windows) as they are.
fn refresh(
    ports: &mut Ports,
    loaded: &[CheckedPort],
    max_record_bytes: usize,
    labels: &Mutex<HashMap<uuid::Uuid, (String, String)>>,
) {
    let mut seen = HashSet::new();
    let mut names = lock(labels);
    for port in loaded {
        let topic: Arc<str> = Arc::from(port.quality.topic.as_str());
        seen.insert(Arc::clone(&topic));
        let unchanged = ports
            .loaded
            .get(&topic)
            .is_some_and(|old| old.port_id == port.port_id && old.quality == port.quality);
        if unchanged {
            if let Some(check) = ports.by_topic.get_mut(&topic) {
                check.subject_ids = port.subject_ids.clone();
            }
        } else {
            ports.by_topic.insert(
                Arc::clone(&topic),
                PortCheck::new(
                    port.port_id,
                    &port.quality,
                    port.subject_ids.clone(),
                    max_record_bytes,
                ),
            );
        }
        if names.len() < MAX_LABELLED_PRODUCTS || names.contains_key(&port.port_id) {
            names.insert(port.port_id, (port.product.clone(), port.domain.clone()));
        }
        ports.loaded.insert(topic, port.clone());
    }
    ports.by_topic.retain(|topic, _| seen.contains(topic));
    ports.loaded.retain(|topic, _| seen.contains(topic));
    if ports.schemas.len() > MAX_CACHED_SCHEMAS {
        ports.schemas.clear();
    }
    // Ids not found before may have been registered since.
    ports.schemas.retain(|_, schema| schema.is_some());
}

/// How the checker's consumers fetch; the benchmark's plain consumer
/// (`server/examples/plain_consumer.rs`) fetches the same way.
pub fn fetch_settings(config: &mut rdkafka::ClientConfig) -> &mut rdkafka::ClientConfig {
    config
        // Records up to the largest the broker accepts, and a little more to see them.
        .set("fetch.max.bytes", "52428800")
        // librdkafka keeps one fetch per broker in flight. A fetch that finds nothing new on
        // any of its partitions (most product topics are quiet) waits this long on the
        // broker, and a record arriving meanwhile waits with it. At the default 500 ms the
        // produce-to-checked p99 at 1,000 records/s was in the 500 ms bucket.
        .set("fetch.wait.max.ms", "50")
        .set("fetch.queue.backoff.ms", FETCH_QUEUE_BACKOFF_MS)
        // Prefetched records held per consumer. librdkafka's default, 64 MB, is sized for one
        // consumer per process; with three, a backlog left the server at 254 MB RSS.
        .set("queued.max.messages.kbytes", QUEUED_KBYTES)
}

/// Judges a record, reading a schema id it has not seen from the registry, and the
/// subject's ids again when a record names one outside them (a version registered since
/// the last refresh), at most once a second per topic. `None` for a topic no port has.
fn judge(
    pool: &PgPool,
    handle: &Handle,
    ports: &mut Ports,
    topic: &Arc<str>,
    record: &Incoming<'_>,
    now: DateTime<Utc>,
    wanted: Wanted,
) -> Option<Judged> {
    let id = record
        .payload
        .and_then(|bytes| domain::quality::wire::split(bytes).ok())
        .map(|(id, _)| id);
    if let Some(id) = id {
        if !ports.schemas.contains_key(&id) && ports.schemas.len() < MAX_CACHED_SCHEMAS * 2 {
            let schema = handle
                .block_on(domain::registry::schema_by_id(pool, id as i32))
                .ok()
                .and_then(|(kind, text)| ParsedSchema::parse_stored(kind, &text).ok());
            ports.schemas.insert(id, schema);
        }
        let outside = ports
            .by_topic
            .get(topic)
            .is_some_and(|port| !port.subject_ids.contains(&id));
        let due = || {
            ports
                .reread
                .get(topic)
                .is_none_or(|at| at.elapsed() >= Duration::from_secs(1))
        };
        if outside && due() && matches!(ports.schemas.get(&id), Some(Some(_))) {
            ports.reread.insert(Arc::clone(topic), Instant::now());
            if let Ok(ids) = handle.block_on(store::subject_ids(pool, topic))
                && let Some(port) = ports.by_topic.get_mut(topic)
            {
                port.subject_ids = ids;
            }
        }
    }
    let schemas = &ports.schemas;
    let lookup = |id: u32| schemas.get(&id).cloned().flatten();
    ports
        .by_topic
        .get_mut(topic)
        .map(|port| port.judge(record, now, &lookup, wanted))
}

/// Copies a failing record to its topic's dead-letter topic; whether it was queued.
fn quarantine<M: Message>(
    dead_letters: &DeadLetters,
    message: &M,
    judged: &Judged,
    now: DateTime<Utc>,
) -> bool {
    let producer = match dead_letters.producer() {
        Ok(producer) => producer,
        Err(error) => {
            tracing::warn!(%error, "no dead-letter producer; record not copied");
            return false;
        }
    };
    let topic = dead_letter_topic(message.topic());
    let first = judged.failures.first();
    let partition = message.partition().to_string();
    let offset = message.offset().to_string();
    let schema_id = judged
        .schema_id
        .map(|id| id.to_string())
        .unwrap_or_default();
    let checked_at = now.to_rfc3339();
    // The record's own headers first (a reprocessing run publishes them again), then ours.
    let mut headers =
        OwnedHeaders::new_with_capacity(9 + message.headers().map_or(0, |h| h.count()));
    if let Some(original) = message.headers() {
        for h in original.iter() {
            headers = headers.insert(Header {
                key: h.key,
                value: h.value,
            });
        }
    }
    let headers = headers
        .insert(header("meshmart.reason", judged.reason.unwrap_or_default()))
        .insert(header("meshmart.rule", first.map_or("", |f| &*f.rule)))
        .insert(header(
            "meshmart.field",
            first.and_then(|f| f.field.as_deref()).unwrap_or(""),
        ))
        .insert(header(
            "meshmart.message",
            first.map_or("", |f| f.message.as_str()),
        ))
        .insert(header("meshmart.source.topic", message.topic()))
        .insert(header("meshmart.source.partition", &partition))
        .insert(header("meshmart.source.offset", &offset))
        .insert(header("meshmart.schema.id", &schema_id))
        .insert(header("meshmart.checked.at", &checked_at));
    let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&topic).headers(headers);
    if let Some(key) = message.key() {
        record = record.key(key);
    }
    if let Some(payload) = message.payload() {
        record = record.payload(payload);
    }
    // A full queue drains as the producer is served; other errors are final.
    for _ in 0..50 {
        match producer.send(record) {
            Ok(()) => {
                producer.poll(Duration::ZERO);
                return true;
            }
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), again)) => {
                record = again;
                producer.poll(Duration::from_millis(100));
            }
            Err((error, _)) => {
                tracing::warn!(%topic, %error, "record not copied to its dead-letter topic");
                return false;
            }
        }
    }
    tracing::warn!(%topic, "dead-letter queue full for 5 s; record not copied");
    false
}

fn header<'a>(key: &'a str, value: &'a str) -> Header<'a, &'a str> {
    Header {
        key,
        value: Some(value),
    }
}

/// Adds the batch to PostgreSQL, then lets the group commit the offsets it covers. On
/// failure the batch is kept for the next try.
fn flush(
    context: &CheckerContext,
    consumer: &BaseConsumer<CheckerContext>,
    shared: &mut Shared,
) -> anyhow::Result<()> {
    if shared.batch.is_empty() {
        return Ok(());
    }
    if !shared.batch.dead_lettered.is_empty() {
        // Copies first: an offset is never stored before its dead letter is on the broker.
        context.dead_letters.flush()?;
    }
    context
        .handle
        .block_on(store::flush(&context.pool, &shared.batch))?;
    let batch = std::mem::take(&mut shared.batch);
    let mut offsets = TopicPartitionList::new();
    for (topic, partition, next) in batch.offsets() {
        offsets.add_partition_offset(topic, partition, Offset::Offset(next))?;
    }
    if let Err(error) = consumer.store_offsets(&offsets) {
        // Partitions no longer ours; PostgreSQL's offsets still keep the counts exact.
        tracing::debug!(%error, "offsets not stored");
    }
    record_metrics(&lock(&context.labels), &batch);
    Ok(())
}

/// Gives the stream series their `# HELP` text; the recorder must be installed first.
fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge};
    describe_counter!(
        "meshmart_stream_records_total",
        Unit::Count,
        "Records checked on a product's topics."
    );
    describe_counter!(
        "meshmart_stream_bytes_total",
        Unit::Bytes,
        "Payload bytes of the records checked."
    );
    describe_counter!(
        "meshmart_stream_invalid_total",
        Unit::Count,
        "Records that broke the contract, by reason."
    );
    describe_counter!(
        "meshmart_stream_dead_letters_total",
        Unit::Count,
        "Failing records copied to the product's dead-letter topic."
    );
    describe_gauge!(
        "meshmart_stream_last_event_timestamp_seconds",
        Unit::Seconds,
        "Unix time of the newest record checked (record timestamp, never later than now)."
    );
}

fn record_metrics(labels: &HashMap<uuid::Uuid, (String, String)>, batch: &Batch) {
    let other = ("_other".to_string(), "_other".to_string());
    for ((port, _), tally) in &batch.points {
        let (product, domain) = labels.get(port).unwrap_or(&other);
        let labels = [("product", product.clone()), ("domain", domain.clone())];
        metrics::counter!("meshmart_stream_records_total", &labels).increment(tally.records as u64);
        metrics::counter!("meshmart_stream_bytes_total", &labels).increment(tally.bytes as u64);
        for (reason, n) in &tally.invalid {
            let mut with_reason = labels.to_vec();
            with_reason.push(("reason", reason.clone()));
            metrics::counter!("meshmart_stream_invalid_total", &with_reason).increment(*n as u64);
        }
        if let Some(at) = tally.last_event_at {
            metrics::gauge!("meshmart_stream_last_event_timestamp_seconds", &labels)
                .set(at.timestamp_millis() as f64 / 1000.0);
        }
    }
    for (port, n) in &batch.dead_lettered {
        let (product, domain) = labels.get(port).unwrap_or(&other);
        metrics::counter!(
            "meshmart_stream_dead_letters_total",
            "product" => product.clone(),
            "domain" => domain.clone()
        )
        .increment(*n as u64);
    }
}

impl std::fmt::Debug for CheckerContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CheckerContext")
    }
}
