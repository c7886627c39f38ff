//! Reading back what a scenario wrote: the end offsets of a topic before it starts, and
//! afterwards a `read_committed` read of every partition from there, as Meshmart's
//! principal, collecting the run's sequence numbers (product topic) or the input records
//! a node's outputs name (`meshmart.source.*`).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::Context;
use domain::traffic::live::{RUN_HEADER, SEQ_HEADER, tagged_seq};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};

const TIMEOUT: Duration = Duration::from_secs(10);

/// Each partition's end offset (high watermark) of `topic`.
pub fn end_offsets(config: &ClientConfig, topic: &str) -> anyhow::Result<HashMap<i32, i64>> {
    let consumer: BaseConsumer = config.create().context("failed to create a reader")?;
    let metadata = consumer
        .fetch_metadata(Some(topic), TIMEOUT)
        .with_context(|| format!("failed to read {topic}'s metadata"))?;
    let mut ends = HashMap::new();
    for t in metadata.topics() {
        anyhow::ensure!(t.error().is_none(), "topic {topic} is not on the broker");
        for p in t.partitions() {
            let (_, high) = consumer
                .fetch_watermarks(topic, p.id(), TIMEOUT)
                .with_context(|| format!("failed to read {topic}'s end offsets"))?;
            ends.insert(p.id(), high);
        }
    }
    Ok(ends)
}

/// What a read found.
#[derive(Clone, Debug, Default)]
pub struct Found {
    /// Sequence numbers of the run's records (product topic), one per record read.
    pub seqs: Vec<u64>,
    /// Input coordinates (partition, offset) that outputs name (node output), one per
    /// output read.
    pub sources: Vec<(i32, i64)>,
    /// Of `sources`, those read from the dead-letter topic.
    pub dead_letters: u64,
    pub records: u64,
}

/// What to collect, and when a read may stop early.
pub enum Want<'a> {
    /// The run's sequence numbers; done once all of `expected` were seen.
    Seqs {
        run: &'a str,
        expected: &'a HashSet<u64>,
    },
    /// Outputs naming `input_topic`'s records; done once all of `expected` were seen.
    Sources {
        input_topic: &'a str,
        dead_letter_topic: &'a str,
        expected: &'a HashSet<(i32, i64)>,
    },
}

/// Reads `from` (topic → partition → first offset) until what is wanted was all seen and
/// nothing more came for a moment, or nothing came for `quiet`, or `limit` passed.
pub fn read(
    config: &ClientConfig,
    from: &HashMap<String, HashMap<i32, i64>>,
    want: &Want<'_>,
    quiet: Duration,
    limit: Duration,
) -> anyhow::Result<Found> {
    let consumer: BaseConsumer = config.create().context("failed to create a reader")?;
    let mut assignment = TopicPartitionList::new();
    for (topic, partitions) in from {
        for (&partition, &offset) in partitions {
            assignment
                .add_partition_offset(topic, partition, Offset::Offset(offset))
                .context("bad partition")?;
        }
    }
    consumer
        .assign(&assignment)
        .context("failed to assign the partitions")?;
    let mut found = Found::default();
    let (mut seen_seqs, mut seen_sources) = (HashSet::new(), HashSet::new());
    let started = Instant::now();
    let mut last = Instant::now();
    while started.elapsed() < limit {
        let complete = match want {
            Want::Seqs { expected, .. } => expected.iter().all(|s| seen_seqs.contains(s)),
            Want::Sources { expected, .. } => expected.iter().all(|s| seen_sources.contains(s)),
        };
        let idle = last.elapsed();
        if idle >= quiet || (complete && idle >= Duration::from_secs(2)) {
            break;
        }
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = message.context("failed to read")?;
        last = Instant::now();
        found.records += 1;
        let header = |name: &str| {
            message
                .headers()
                .and_then(|headers| headers.iter().find(|h| h.key == name).and_then(|h| h.value))
        };
        match want {
            Want::Seqs { run, .. } => {
                if let Some(seq) = tagged_seq(run, header(RUN_HEADER), header(SEQ_HEADER)) {
                    found.seqs.push(seq);
                    seen_seqs.insert(seq);
                }
            }
            Want::Sources {
                input_topic,
                dead_letter_topic,
                ..
            } => {
                let text = |name: &str| header(name).and_then(|v| std::str::from_utf8(v).ok());
                if text("meshmart.source.topic") != Some(input_topic) {
                    continue;
                }
                let partition = text("meshmart.source.partition").and_then(|v| v.parse().ok());
                let offset = text("meshmart.source.offset").and_then(|v| v.parse().ok());
                if let (Some(partition), Some(offset)) = (partition, offset) {
                    found.sources.push((partition, offset));
                    seen_sources.insert((partition, offset));
                    if message.topic() == *dead_letter_topic {
                        found.dead_letters += 1;
                    }
                }
            }
        }
    }
    Ok(found)
}
