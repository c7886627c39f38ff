//! Rebalances: the consumer context that notes them for the loop (and keeps the lag from
//! librdkafka's statistics), and the node's state following the partitions the group gives
//! this process, rebuilt from the committed input.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use domain::nodes::enrich::Source;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::util::Timeout;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use super::{COORDINATOR_TIMEOUT, Runner};

/// Notes a rebalance for the loop, which aborts the transaction it has open, and keeps the
/// consumer's lag from librdkafka's statistics.
#[derive(Default)]
pub(super) struct NodeContext {
    pub(super) rebalanced: Arc<AtomicBool>,
    /// Records behind the last stable offsets over the fetched partitions; -1 while unknown.
    pub(super) lag: Arc<AtomicI64>,
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

impl Runner {
    /// The partitions of the state topic the group gave this process.
    pub(super) fn owned_state_partitions(
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
}

impl Runner {
    /// The topic whose partitions the node's state is kept by: the repartition topic when
    /// the node has one, else the input.
    pub(super) fn state_topic(&self) -> &str {
        self.plan
            .repartition
            .as_deref()
            .unwrap_or(&self.plan.node.input_topic)
    }

    /// Brings the node's state in line with the partitions the group gave this process:
    /// forgets the ones it lost, rebuilds the ones it gained from their committed records.
    pub(super) fn follow_assignment(
        &mut self,
        consumer: &BaseConsumer<NodeContext>,
    ) -> anyhow::Result<()> {
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

/// The client context of the reader that rebuilds a node's state: reaching a partition's
/// end is how it knows it is done, not an error to log (librdkafka reports it as one).
pub(super) struct StateReader;

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
