//! Reroute: when a node's output topic refuses writes (a removed permission, a size limit,
//! a deleted topic), the node does not stop. It parks its output on its own detour topic
//! (`meshmart-node-<name>-detour`, [`domain::nodes::detour_topic`]) in the same
//! transactions as the input offsets they cover, and every few seconds tries to drain the
//! detour to the output. Draining pauses the input, copies the detour's records to the
//! output in order with their key, headers and event time, and commits the detour's
//! offsets (its own consumer group, `<group>-detour`) in the same transaction; only when
//! every owned detour partition is at its end does the input flow to the output again, so
//! no record overtakes one parked before it. Nothing is lost or written twice: a failed
//! drain aborts and the detour is read again from its committed offsets.
//!
//! A record parked from state partition `p` goes to detour partition `p` (modulo the
//! detour's partitions), which the owner of `p` drains: with the range assignor a process
//! drains what it parked. The route is per process; each process reports it in its
//! heartbeat (`rerouted_since`), which the incident detector reads. With several
//! processes, one goes back to writing the output once its own detour partitions are
//! drained, not waiting for the others': per-key order holds within a process's
//! partitions, which the range assignor keeps together.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::producer::{DeliveryResult, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::util::Timeout;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use super::COORDINATOR_TIMEOUT;
use super::rebalance::StateReader;

/// How long a process parks its output before it tries the output again.
pub const PROBE_EVERY: Duration = Duration::from_secs(5);

/// Where the node's output goes now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// To the output topic.
    Direct,
    /// To the detour topic: the output refused a write. The next drain is tried at `probe_at`.
    Detoured { probe_at: Instant },
    /// Input paused; the detour's records go to the output until the detour is empty.
    Draining,
}

/// The node producer's delivery reports: the first write the output topic refused since
/// the last [`Refusals::take`]. librdkafka retries what can be retried, so a failed
/// delivery is final; records purged by an abort are not refusals.
#[derive(Clone)]
pub struct Refusals {
    output: String,
    first: Arc<Mutex<Option<String>>>,
}

impl Refusals {
    pub fn new(output: &str) -> Self {
        Self {
            output: output.to_string(),
            first: Arc::default(),
        }
    }

    /// The first refusal since the last call, if any.
    pub fn take(&self) -> Option<String> {
        self.first
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

impl ClientContext for Refusals {}

impl ProducerContext for Refusals {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let Err((error, message)) = result else {
            return;
        };
        let purged = matches!(
            error.rdkafka_error_code(),
            Some(RDKafkaErrorCode::PurgeQueue | RDKafkaErrorCode::PurgeInflight)
        );
        if purged || message.topic() != self.output {
            return;
        }
        self.first
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert_with(|| error.to_string());
    }
}

/// A node process's detour: its route, and the reader that drains it.
pub struct Detour {
    pub topic: String,
    partitions: i32,
    reader: BaseConsumer<StateReader>,
    pub route: Route,
    /// Whether the output refused a write since it last took one: the route is parked, or
    /// draining what was parked. A drain after a rebalance (every start-up has one) is not
    /// a reroute: the output has refused nothing.
    parked: bool,
    /// The detour partitions being drained, and those of them at their end.
    draining: BTreeSet<i32>,
    at_end: BTreeSet<i32>,
    /// Records copied to the output in the current drain.
    pub drained: u64,
}

impl Detour {
    /// The detour of `topic`, read with `config` (its own consumer group).
    pub fn new(topic: &str, config: &rdkafka::ClientConfig) -> anyhow::Result<Self> {
        let reader: BaseConsumer<StateReader> = config
            .create_with_context(StateReader)
            .context("creating the detour reader")?;
        let metadata = reader
            .fetch_metadata(Some(topic), Timeout::After(COORDINATOR_TIMEOUT))
            .context("reading the detour topic's metadata")?;
        let partitions = metadata
            .topics()
            .first()
            .map(|t| t.partitions().len() as i32)
            .unwrap_or_default();
        anyhow::ensure!(
            partitions > 0,
            "the node's detour topic `{topic}` has no partitions"
        );
        Ok(Self {
            topic: topic.to_string(),
            partitions,
            reader,
            route: Route::Direct,
            parked: false,
            draining: BTreeSet::new(),
            at_end: BTreeSet::new(),
            drained: 0,
        })
    }

    /// The detour partition a record of state partition `partition` is parked on.
    pub fn partition_of(&self, partition: i32) -> i32 {
        partition.rem_euclid(self.partitions)
    }

    /// Whether the output is off its direct route because it refused a write (what the
    /// heartbeat reports as `rerouted_since`, and the incident detector reads).
    pub fn rerouted(&self) -> bool {
        self.parked
    }

    /// Whether the input must not flow (the detour is being drained first).
    pub fn holds_input(&self) -> bool {
        self.route == Route::Draining
    }

    /// Parks the output from now on; the output is tried again after [`PROBE_EVERY`].
    pub fn park(&mut self) {
        self.route = Route::Detoured {
            probe_at: Instant::now() + PROBE_EVERY,
        };
        self.parked = true;
        self.draining.clear();
        self.at_end.clear();
        if let Err(error) = self.reader.unassign() {
            tracing::warn!(%error, "unassigning the detour reader");
        }
    }

    /// Whether a parked route is due to try the output again.
    pub fn probe_due(&self) -> bool {
        matches!(self.route, Route::Detoured { probe_at } if Instant::now() >= probe_at)
    }

    /// Starts draining the detour partitions of the owned state partitions, from the
    /// detour group's committed offsets. No transaction may be open.
    pub fn start_draining(&mut self, owned: impl IntoIterator<Item = i32>) -> anyhow::Result<()> {
        self.draining = owned.into_iter().map(|p| self.partition_of(p)).collect();
        self.at_end.clear();
        self.drained = 0;
        self.route = Route::Draining;
        let mut wanted = TopicPartitionList::new();
        for partition in &self.draining {
            wanted.add_partition(&self.topic, *partition);
        }
        let committed = self
            .reader
            .committed_offsets(wanted, Timeout::After(COORDINATOR_TIMEOUT))
            .context("reading the detour's committed offsets")?;
        let mut assign = TopicPartitionList::new();
        for element in committed.elements() {
            let offset = match element.offset() {
                Offset::Offset(offset) => Offset::Offset(offset),
                _ => Offset::Beginning,
            };
            assign.add_partition_offset(&self.topic, element.partition(), offset)?;
        }
        self.reader
            .assign(&assign)
            .context("assigning the detour reader")?;
        Ok(())
    }

    /// The next parked record to drain, if one comes within `wait`; notes partitions that
    /// reached their end.
    pub fn poll(&mut self, wait: Duration) -> Option<OwnedMessage> {
        match self.reader.poll(wait)? {
            Ok(message) => {
                self.at_end.remove(&message.partition());
                Some(message.detach())
            }
            Err(KafkaError::PartitionEOF(partition)) => {
                self.at_end.insert(partition);
                None
            }
            Err(error) => {
                tracing::warn!(%error, "reading the node's detour");
                None
            }
        }
    }

    /// Whether every drained partition is at its end.
    pub fn empty(&self) -> bool {
        self.draining.is_subset(&self.at_end)
    }

    /// Ends the drain: the output takes writes again.
    pub fn finish(&mut self) {
        self.route = Route::Direct;
        self.parked = false;
        self.draining.clear();
        self.at_end.clear();
        if let Err(error) = self.reader.unassign() {
            tracing::warn!(%error, "unassigning the detour reader");
        }
    }

    /// The detour group's metadata, for the drained offsets sent in a transaction.
    pub fn group_metadata(&self) -> Option<rdkafka::consumer::ConsumerGroupMetadata> {
        self.reader.group_metadata()
    }
}
