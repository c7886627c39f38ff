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
//!
//! This file holds the entry points and the running node (`Runner`); the runner's methods
//! are spread over the parts by what they do: `startup` (one run of the node's clients),
//! `plan` (what the node runs), `consume` (the loop), `records` (what each record becomes),
//! `transaction` (begin, commit, abort), `rebalance` (the consumer context and the state
//! following the assignment), `heartbeat` (what a process reports), `lineage` (OpenLineage
//! run events) and `detour`.

mod consume;
mod detour;
mod heartbeat;
mod lineage;
mod plan;
mod rebalance;
mod records;
mod startup;
mod transaction;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use domain::nodes::Transformer;
use domain::quality::wire::Decoder;
use rdkafka::producer::ThreadedProducer;
use sqlx::PgPool;

use self::detour::{Detour, Refusals};
use self::lineage::RunEvents;
use self::plan::Plan;
use self::startup::run_once;
use crate::configuration::Settings;

/// How long a call to the transaction coordinator may take before the node gives up.
const COORDINATOR_TIMEOUT: Duration = Duration::from_secs(30);

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
