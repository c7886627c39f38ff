//! The transaction path: the open transaction, begin, queue a record, commit with the
//! offsets it covers, and abort and rewind (parking the output on the detour when the
//! output refused a write).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseRecord, Producer};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};

use super::detour::Route;
use super::heartbeat::Status;
use super::rebalance::NodeContext;
use super::{COORDINATOR_TIMEOUT, Runner};

/// The open transaction: the next input offset of each partition it covers.
#[derive(Default)]
pub(super) struct Open {
    pub(super) started: Option<Instant>,
    /// Keyed by (from the repartition topic, partition).
    pub(super) next: BTreeMap<(bool, i32), i64>,
    /// The next detour offset of each detour partition it drained.
    pub(super) drained: BTreeMap<i32, i64>,
    pub(super) records: usize,
    /// A record the producer would not queue (it refuses while the transaction must
    /// abort): commit now, which fails and aborts.
    pub(super) failed: Option<String>,
}

impl Runner {
    /// Begins a transaction unless one is open.
    pub(super) fn begin(&self, open: &mut Open) -> anyhow::Result<()> {
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

    /// Queues a record in the open transaction, waiting while the producer's queue is
    /// full. A record the producer refuses (its transaction must abort: a write failed)
    /// marks the transaction failed; committing it aborts and reads the input again.
    pub(super) fn send(&self, mut record: BaseRecord<'_, [u8], [u8]>, open: &mut Open) {
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
    pub(super) fn commit(
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
    pub(super) fn abort(
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
