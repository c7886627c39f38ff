//! Moving a consumer group's committed offsets on a topic (a replay), as
//! `kafka-consumer-groups --reset-offsets` does: the group's members from its coordinator,
//! the offsets of a point in time (the broker's offsets-for-times), the partitions'
//! watermarks, and an offset commit from outside the group's generation, which the broker
//! accepts only while the group has no members. librdkafka's consumer API does each step;
//! the calls block, so async callers go through [`super::BrokerAdmin::rewind_group`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};

/// Where a replay moves a group to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    /// The first record at or after this time, per partition (the end where none is).
    Time(DateTime<Utc>),
    /// The oldest record the broker still keeps.
    Earliest,
}

/// One partition's move.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moved {
    pub partition: i32,
    /// The group's committed offset before, if it had one.
    pub from: Option<i64>,
    /// The offset the group reads next now.
    pub to: i64,
    /// The oldest offset the broker keeps (retention removed what is below it).
    pub earliest: i64,
    /// The partition's end.
    pub latest: i64,
}

impl Moved {
    /// Whether the move hit the start of what retention left: records from before it are
    /// gone, so the replay starts later than asked.
    pub fn cut_by_retention(&self) -> bool {
        self.to == self.earliest && self.earliest > 0
    }
}

/// Why a group was not moved.
#[derive(Debug, thiserror::Error)]
pub enum RewindError {
    /// The group has members; they would overwrite the offsets with their own.
    #[error("the consumer group `{group}` has {members} active member(s)")]
    Active { group: String, members: usize },
    #[error("the topic `{0}` is not on the broker")]
    NoTopic(String),
    #[error("{0}")]
    Broker(String),
}

/// Moves `group`'s committed offsets on every partition of `topic` to `to`; what moved.
/// Refused while the group has members.
pub fn rewind(
    config: &ClientConfig,
    group: &str,
    topic: &str,
    to: Position,
    timeout: Duration,
) -> Result<Vec<Moved>, RewindError> {
    let broker = |error: KafkaError| RewindError::Broker(error.to_string());
    let mut config = config.clone();
    config
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("client.id", "meshmart-replay");
    let consumer: BaseConsumer = config.create().map_err(broker)?;
    let active = |members: usize| RewindError::Active {
        group: group.to_string(),
        members,
    };
    let groups = consumer
        .fetch_group_list(Some(group), timeout)
        .map_err(broker)?;
    let members = groups
        .groups()
        .iter()
        .filter(|found| found.name() == group)
        .map(|found| found.members().len())
        .sum::<usize>();
    if members > 0 {
        return Err(active(members));
    }
    let metadata = consumer
        .fetch_metadata(Some(topic), timeout)
        .map_err(broker)?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|found| found.name() == topic && found.error().is_none())
        .flat_map(|found| found.partitions().iter().map(|p| p.id()))
        .collect();
    if partitions.is_empty() {
        return Err(RewindError::NoTopic(topic.to_string()));
    }
    let mut all = TopicPartitionList::new();
    for partition in &partitions {
        all.add_partition(topic, *partition);
    }
    let committed = consumer.committed_offsets(all, timeout).map_err(broker)?;
    let targets = match to {
        Position::Time(at) => {
            let mut wanted = TopicPartitionList::new();
            for partition in &partitions {
                wanted
                    .add_partition_offset(topic, *partition, Offset::Offset(at.timestamp_millis()))
                    .map_err(broker)?;
            }
            Some(
                consumer
                    .offsets_for_times(wanted, timeout)
                    .map_err(broker)?,
            )
        }
        Position::Earliest => None,
    };
    let mut moves = Vec::new();
    let mut commit = TopicPartitionList::new();
    for partition in partitions {
        let (earliest, latest) = consumer
            .fetch_watermarks(topic, partition, timeout)
            .map_err(broker)?;
        let target = match targets
            .as_ref()
            .and_then(|list| list.find_partition(topic, partition))
            .map(|element| element.offset())
        {
            Some(Offset::Offset(offset)) => offset.clamp(earliest, latest),
            // No record at or after the time: the group starts at the end.
            Some(_) => latest,
            None => earliest,
        };
        let from = committed
            .find_partition(topic, partition)
            .and_then(|element| element.offset().to_raw())
            .filter(|offset| *offset >= 0);
        commit
            .add_partition_offset(topic, partition, Offset::Offset(target))
            .map_err(broker)?;
        moves.push(Moved {
            partition,
            from,
            to: target,
            earliest,
            latest,
        });
    }
    match consumer.commit(&commit, CommitMode::Sync) {
        Ok(()) => Ok(moves),
        // A member joined between the check and the commit.
        Err(KafkaError::ConsumerCommit(
            RDKafkaErrorCode::UnknownMemberId
            | RDKafkaErrorCode::IllegalGeneration
            | RDKafkaErrorCode::RebalanceInProgress,
        )) => Err(active(1)),
        Err(other) => Err(broker(other)),
    }
}
