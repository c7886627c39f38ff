//! One consumer's loop: follows the catalog's ports, polls, finds each record's port and
//! partition floor, judges it, copies it under `quarantine`, and flushes about once a second.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use domain::contracts::quality::Policy;
use domain::health::store;
use domain::health::{Batch, FastMap, Incoming};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use secrecy::ExposeSecret;
use sqlx::PgPool;
use tokio::runtime::Handle;

use super::catalog::{CHANGE_CHECK_EVERY, Catalog};
use super::dead_letters::{DeadLetters, quarantine};
use super::flush::flush;
use super::ports::{Ports, judge, refresh};
use super::{CheckerConfig, CheckerContext, Shared, fetch_settings, lock};

/// How often counts are added to PostgreSQL.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// Records checked between two readings of the clock while records keep arriving (it is
/// also read after every wait for one).
const CLOCK_EVERY: u32 = 16;

/// How often each consumer tells the group coordinator it is alive (see `consume`).
const HEARTBEAT_MS: &str = "500";

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

pub(super) fn consume(
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
