//! Reprocessing a port's dead letters after a fix (a schema registered under the
//! product's subject, a contract that corrects a rule): every record the checker copied to
//! `<topic>.dlq` since the incident started is judged again against the port's current
//! contract and registry; those that pass are published again to the product's topic with
//! their original key and headers (plus `meshmart.reprocessed.from`), and the others stay
//! where they are (time rules such as freshness do not count the time a record spent
//! among the dead letters). Exactly once: the records and the dead-letter offsets they consumed
//! commit in one Kafka transaction (transactional id and consumer group
//! `meshmart-reprocess-<incident>`), so a retried run starts after what was committed.
//! Each record's outcome is kept in `dead_letter_outcomes`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Header, Headers, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Message, Offset, TopicPartitionList};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::IncidentError;
use crate::broker::BrokerAdmin;
use crate::health::{Incoming, PortCheck, Wanted};
use crate::registry::ParsedSchema;

/// Dead letters one run reprocesses at most.
pub const MAX_RECORDS: usize = 100_000;
const TIMEOUT: Duration = Duration::from_secs(10);
/// The header naming where a reprocessed record came from.
pub const FROM_HEADER: &str = "meshmart.reprocessed.from";
/// The headers the checker adds to a dead letter (the server's `checker::quarantine`);
/// a republished record leaves them behind.
pub const DEAD_LETTER_HEADERS: [&str; 9] = [
    "meshmart.reason",
    "meshmart.rule",
    "meshmart.field",
    "meshmart.message",
    "meshmart.source.topic",
    "meshmart.source.partition",
    "meshmart.source.offset",
    "meshmart.schema.id",
    "meshmart.checked.at",
];

/// One dead letter's outcome.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outcome {
    pub partition: i32,
    pub offset: i64,
    /// `republished` or `still_invalid`.
    pub outcome: &'static str,
    pub reason: Option<String>,
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Reprocessed {
    pub topic: String,
    pub dead_letters: String,
    pub read: usize,
    pub republished: usize,
    pub still_invalid: usize,
    /// Whether dead letters of the window remain (more than one run takes).
    pub more: bool,
}

/// Reprocesses the dead letters of `topic` written since `since`, for incident `incident`.
pub async fn reprocess(
    pool: &PgPool,
    admin: &BrokerAdmin,
    incident: Uuid,
    topic: &str,
    since: DateTime<Utc>,
) -> Result<Reprocessed, IncidentError> {
    let port = crate::health::store::ports(pool)
        .await?
        .into_iter()
        .find(|port| port.quality.topic == topic)
        .ok_or_else(|| IncidentError::Invalid(format!("`{topic}` is no checked port")))?;
    let check = PortCheck::new(
        port.port_id,
        &port.quality,
        port.subject_ids.clone(),
        crate::health::DEFAULT_MAX_RECORD_BYTES,
    );
    let config = admin.client_settings();
    let topic = topic.to_owned();
    let handle = tokio::runtime::Handle::current();
    let lookup_pool = pool.clone();
    let (summary, outcomes) = tokio::task::spawn_blocking(move || {
        let lookup = |id: u32| -> Option<ParsedSchema> {
            handle
                .block_on(crate::registry::stored_schema(&lookup_pool, id as i32))
                .ok()
        };
        run(&config, incident, &topic, since, check, lookup)
    })
    .await
    .map_err(|_| IncidentError::Broker("the reprocessing task stopped".to_owned()))?
    .map_err(IncidentError::Broker)?;
    let mut tx = pool.begin().await?;
    for outcome in &outcomes {
        sqlx::query!(
            "insert into dead_letter_outcomes (incident_id, dead_letters, partition, \"offset\",
                 outcome, reason)
             values ($1, $2, $3, $4, $5, $6)
             on conflict (dead_letters, partition, \"offset\", incident_id) do nothing",
            incident,
            summary.dead_letters,
            outcome.partition,
            outcome.offset,
            outcome.outcome,
            outcome.reason,
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(summary)
}

fn run(
    config: &rdkafka::ClientConfig,
    incident: Uuid,
    topic: &str,
    since: DateTime<Utc>,
    mut check: PortCheck,
    lookup: impl Fn(u32) -> Option<ParsedSchema>,
) -> Result<(Reprocessed, Vec<Outcome>), String> {
    let error = |e: rdkafka::error::KafkaError| e.to_string();
    let dead_letters = format!("{topic}.dlq");
    let id = format!("meshmart-reprocess-{incident}");
    let mut settings = config.clone();
    settings
        .set("client.id", "meshmart-reprocess")
        .set("group.id", &id)
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest");
    let consumer: BaseConsumer = settings.create().map_err(error)?;
    let metadata = consumer
        .fetch_metadata(Some(&dead_letters), TIMEOUT)
        .map_err(error)?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == dead_letters && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if partitions.is_empty() {
        return Err(format!(
            "the dead-letter topic `{dead_letters}` is not on the broker"
        ));
    }
    // Where to start: after what an earlier run committed, else the incident's start.
    let mut all = TopicPartitionList::new();
    for p in &partitions {
        all.add_partition(&dead_letters, *p);
    }
    let committed = consumer.committed_offsets(all, TIMEOUT).map_err(error)?;
    let mut by_time = TopicPartitionList::new();
    for p in &partitions {
        by_time
            .add_partition_offset(&dead_letters, *p, Offset::Offset(since.timestamp_millis()))
            .map_err(error)?;
    }
    let timed = consumer
        .offsets_for_times(by_time, TIMEOUT)
        .map_err(error)?;
    let mut start = TopicPartitionList::new();
    let mut ends: HashMap<i32, i64> = HashMap::new();
    for p in &partitions {
        let (low, high) = consumer
            .fetch_watermarks(&dead_letters, *p, TIMEOUT)
            .map_err(error)?;
        let from_commit =
            committed
                .find_partition(&dead_letters, *p)
                .and_then(|e| match e.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                });
        let from_time = timed
            .find_partition(&dead_letters, *p)
            .and_then(|e| match e.offset() {
                Offset::Offset(o) => Some(o),
                _ => None,
            })
            .unwrap_or(high);
        let first = from_commit.unwrap_or(from_time).clamp(low, high);
        if first < high {
            ends.insert(*p, high);
        }
        start
            .add_partition_offset(&dead_letters, *p, Offset::Offset(first))
            .map_err(error)?;
    }
    let mut summary = Reprocessed {
        topic: topic.to_owned(),
        dead_letters: dead_letters.clone(),
        ..Reprocessed::default()
    };
    if ends.is_empty() {
        return Ok((summary, Vec::new()));
    }
    consumer.assign(&start).map_err(error)?;

    let mut producer_settings = config.clone();
    producer_settings
        .set("client.id", "meshmart-reprocess")
        .set("transactional.id", &id)
        .set("enable.idempotence", "true")
        .set("acks", "all");
    let producer: ThreadedProducer<DefaultProducerContext> =
        producer_settings.create().map_err(error)?;
    producer.init_transactions(TIMEOUT).map_err(error)?;
    producer.begin_transaction().map_err(error)?;

    let mut outcomes = Vec::new();
    let mut next: HashMap<i32, i64> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let result = (|| {
        while !ends.is_empty() && outcomes.len() < MAX_RECORDS {
            if Instant::now() > deadline {
                return Err("the dead letters were not read within 2 minutes".to_owned());
            }
            let Some(message) = consumer.poll(Duration::from_millis(500)) else {
                continue;
            };
            let message = message.map_err(error)?;
            let partition = message.partition();
            let offset = message.offset();
            next.insert(partition, offset + 1);
            if ends.get(&partition).is_some_and(|end| offset + 1 >= *end) {
                ends.remove(&partition);
            }
            // Judged as if it arrived now: the time it spent among the dead letters is not
            // held against it by a freshness rule.
            let now = Utc::now();
            let incoming = Incoming {
                partition,
                offset,
                key: message.key(),
                payload: message.payload(),
                timestamp: Some(now),
            };
            let judged = check.judge(&incoming, now, &lookup, Wanted::MESSAGES);
            if judged.valid() {
                republish(&producer, topic, &dead_letters, &message)?;
                outcomes.push(Outcome {
                    partition,
                    offset,
                    outcome: "republished",
                    reason: None,
                });
            } else {
                outcomes.push(Outcome {
                    partition,
                    offset,
                    outcome: "still_invalid",
                    reason: judged
                        .failures
                        .first()
                        .map(|f| format!("{}: {}", f.rule, f.message)),
                });
            }
        }
        let mut consumed = TopicPartitionList::new();
        for (partition, offset) in &next {
            consumed
                .add_partition_offset(&dead_letters, *partition, Offset::Offset(*offset))
                .map_err(error)?;
        }
        let group = consumer
            .group_metadata()
            .ok_or_else(|| "no consumer group metadata".to_owned())?;
        producer
            .send_offsets_to_transaction(&consumed, &group, TIMEOUT)
            .map_err(error)?;
        producer.commit_transaction(TIMEOUT).map_err(error)
    })();
    if let Err(message) = result {
        let _ = producer.abort_transaction(TIMEOUT);
        return Err(message);
    }
    summary.read = outcomes.len();
    summary.republished = outcomes
        .iter()
        .filter(|o| o.outcome == "republished")
        .count();
    summary.still_invalid = summary.read - summary.republished;
    summary.more = !ends.is_empty();
    Ok((summary, outcomes))
}

/// Publishes a dead letter again to `topic`, with its key, and its headers except the
/// checker's own (`meshmart.*`), plus where it came from.
fn republish(
    producer: &ThreadedProducer<DefaultProducerContext>,
    topic: &str,
    dead_letters: &str,
    message: &BorrowedMessage<'_>,
) -> Result<(), String> {
    let from = format!(
        "{dead_letters}/{}/{}",
        message.partition(),
        message.offset()
    );
    let mut headers = OwnedHeaders::new();
    if let Some(original) = message.headers() {
        for header in original.iter() {
            if DEAD_LETTER_HEADERS.contains(&header.key) {
                continue;
            }
            headers = headers.insert(Header {
                key: header.key,
                value: header.value,
            });
        }
    }
    headers = headers.insert(Header {
        key: FROM_HEADER,
        value: Some(from.as_bytes()),
    });
    let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic).headers(headers);
    if let Some(key) = message.key() {
        record = record.key(key);
    }
    if let Some(payload) = message.payload() {
        record = record.payload(payload);
    }
    producer.send(record).map_err(|(e, _)| e.to_string())
}
