//! Dead letters: copying a failing record of a `quarantine` port to its dead-letter topic,
//! with headers saying why and where it came from.

use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::broker::BrokerConfig;
use domain::contracts::quality::dead_letter_topic;
use domain::health::Judged;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

/// The producer of dead letters, created when the first record is quarantined (most ports
/// only monitor) and served by the checker's own thread: it has no polling thread.
pub(super) struct DeadLetters {
    pub(super) broker: BrokerConfig,
    pub(super) producer: OnceLock<BaseProducer>,
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
    pub(super) fn flush(&self) -> anyhow::Result<()> {
        if let Some(producer) = self.producer.get() {
            producer.flush(Duration::from_secs(10))?;
        }
        Ok(())
    }
}

/// Copies a failing record to its topic's dead-letter topic; whether it was queued.
pub(super) fn quarantine<M: Message>(
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
