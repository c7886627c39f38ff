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
//!
//! This file holds the checker's interface (its configuration, [`spawn`], [`Running`],
//! [`fetch_settings`]) and the state a consumer shares with its rebalance callbacks. The
//! parts: `consume` (one consumer's loop), `catalog` (the ports as the catalog has them),
//! `ports` (judging a record against its port), `dead_letters` (copies under `quarantine`),
//! `flush` (adding the counts to PostgreSQL, and the stream metrics) and `rebalance` (the
//! consumer's callbacks).

mod catalog;
mod consume;
mod dead_letters;
mod flush;
mod ports;
mod rebalance;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::broker::BrokerConfig;
use domain::health::{Batch, FastMap};
use sqlx::PgPool;
use tokio::runtime::Handle;

use self::catalog::Catalog;
use self::consume::consume;
use self::dead_letters::DeadLetters;
use self::flush::describe;

/// Products with their own metric labels; the rest share `product="_other"`.
pub const MAX_LABELLED_PRODUCTS: usize = 500;

/// How long librdkafka waits before fetching again for a partition whose local queue is
/// over its threshold. Its default, 1 s, starves a consumer that does real work per record:
/// the queue drains long before the next fetch, and the checker waited on an empty queue
/// about two thirds of the time (112k records/s; 3× that with this value).
const FETCH_QUEUE_BACKOFF_MS: &str = "10";

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
    /// How many times `floors` was cleared: a `Lane` (see [`consume`](mod@consume)) from
    /// before is looked up again.
    assignments: u64,
}

impl Shared {
    fn forget_floors(&mut self) {
        self.floors.clear();
        self.assignments += 1;
    }
}

struct CheckerContext {
    shared: Arc<Mutex<Shared>>,
    pool: PgPool,
    handle: Handle,
    dead_letters: DeadLetters,
    labels: Arc<Mutex<HashMap<uuid::Uuid, (String, String)>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
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

impl std::fmt::Debug for CheckerContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CheckerContext")
    }
}
