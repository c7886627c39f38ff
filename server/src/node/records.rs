//! What one polled record becomes: copied to the repartition topic, or transformed into
//! an output record or a dead letter.

use domain::nodes::enrich::Source;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::BaseRecord;

use super::Runner;
use super::detour::Route;
use super::transaction::Open;

impl Runner {
    /// What one polled record takes: an input record of a node that repartitions is copied
    /// to the repartition topic under its state key; any other is transformed.
    pub(super) fn step<M: Message>(&mut self, message: &M, open: &mut Open) -> Step {
        match &self.plan.repartition {
            Some(_) if message.topic() == self.plan.node.input_topic => {
                self.repartition(message, open);
                Step::Repartitioned
            }
            _ => match self.forward(message, open) {
                true => Step::Output,
                false => Step::DeadLetter,
            },
        }
    }

    /// Copies an input record to the repartition topic, keyed by its state key (its own key
    /// when it has none, or cannot be decoded: the transform step dead-letters it). Its
    /// input coordinates and key travel in headers, so that the output and dead letters
    /// name the input record, and the output keeps the input's key.
    fn repartition<M: Message>(&mut self, message: &M, open: &mut Open) {
        let Some(topic) = self.plan.repartition.as_deref() else {
            return;
        };
        let schemas = &self.plan.input_schemas;
        let lookup = |id: u32| schemas.get(&id).cloned();
        let payload = message.payload().unwrap_or_default();
        let state_key = self
            .decoder
            .decode(payload, &self.plan.input_subject_ids, &lookup)
            .ok()
            .and_then(|decoded| self.transformer.state_key(decoded.value()));
        let partition = message.partition().to_string();
        let offset = message.offset().to_string();
        let mut headers = OwnedHeaders::new_with_capacity(4)
            .insert(header("meshmart.source.topic", message.topic()))
            .insert(header("meshmart.source.partition", &partition))
            .insert(header("meshmart.source.offset", &offset));
        if let Some(key) = message.key() {
            headers = headers.insert(Header {
                key: SOURCE_KEY,
                value: Some(key),
            });
        }
        let mut record: BaseRecord<'_, [u8], [u8]> =
            BaseRecord::to(topic).payload(payload).headers(headers);
        if let Some(at) = message.timestamp().to_millis() {
            record = record.timestamp(at);
        }
        match state_key.as_deref() {
            Some(key) => record = record.key(key.as_bytes()),
            None => {
                if let Some(key) = message.key() {
                    record = record.key(key);
                }
            }
        }
        self.send(record, open)
    }

    /// Transforms one input record and queues it on the output topic, or on the dead-letter
    /// topic when it cannot be; whether it reached the output. A record from the
    /// repartition topic is named by the input coordinates and key it carries.
    fn forward<M: Message>(&mut self, message: &M, open: &mut Open) -> bool {
        let outcome = self.transform(message);
        let (own_partition, own_offset);
        let source = match self.plan.repartition.as_deref() {
            Some(topic) if message.topic() == topic => Carried::of(message),
            _ => {
                own_partition = message.partition().to_string();
                own_offset = message.offset().to_string();
                Carried {
                    topic: message.topic(),
                    partition: &own_partition,
                    offset: &own_offset,
                    key: message.key(),
                }
            }
        };
        let node = self.plan.node.name.as_str();
        let mut headers = OwnedHeaders::new_with_capacity(8)
            .insert(header("meshmart.node", node))
            .insert(header("meshmart.source.topic", source.topic))
            .insert(header("meshmart.source.partition", source.partition))
            .insert(header("meshmart.source.offset", source.offset));
        let dead_letters;
        let mut partition = None;
        let (topic, payload) = match &outcome {
            // While the output refuses writes, the output is parked on the detour.
            Ok(bytes) if matches!(self.detour.route, Route::Detoured { .. }) => {
                partition = Some(self.detour.partition_of(message.partition()));
                (self.detour.topic.as_str(), bytes.as_slice())
            }
            Ok(bytes) => (self.plan.node.output_topic.as_str(), bytes.as_slice()),
            Err((reason, why)) => {
                headers = headers
                    .insert(header("meshmart.reason", reason))
                    .insert(header("meshmart.rule", reason))
                    .insert(header("meshmart.field", ""))
                    .insert(header("meshmart.message", why));
                dead_letters = self.plan.node.dead_letter_topic();
                (dead_letters.as_str(), message.payload().unwrap_or_default())
            }
        };
        let mut record: BaseRecord<'_, [u8], [u8]> =
            BaseRecord::to(topic).payload(payload).headers(headers);
        // The output carries its input's event time (as Kafka Streams does), so a reader
        // sees how long after its event an output became readable.
        if let Some(at) = message.timestamp().to_millis() {
            record = record.timestamp(at);
        }
        if let Some(key) = source.key {
            record = record.key(key);
        }
        if let Some(partition) = partition {
            record = record.partition(partition);
        }
        self.send(record, open);
        outcome.is_ok()
    }

    /// The output record of one input record, or (reason, message) for its dead letter.
    fn transform<M: Message>(&mut self, message: &M) -> Result<Vec<u8>, (&'static str, String)> {
        let bytes = message.payload().unwrap_or_default();
        let schemas = &self.plan.input_schemas;
        let lookup = |id: u32| schemas.get(&id).cloned();
        let decoded = self
            .decoder
            .decode(bytes, &self.plan.input_subject_ids, &lookup)
            .map_err(|error| (error.reason(), error.to_string()))?;
        let source = Source {
            partition: message.partition(),
            offset: message.offset(),
            timestamp_ms: message.timestamp().to_millis().unwrap_or_default(),
        };
        let value = self
            .transformer
            .apply(decoded.value(), source, &self.plan.output_port)?;
        self.plan
            .output
            .encode(&value)
            .map_err(|error| ("encode", error.to_string()))
    }
}

fn header<'a>(key: &'a str, value: &'a str) -> Header<'a, &'a str> {
    Header {
        key,
        value: Some(value),
    }
}

/// The header a repartitioned record carries its input key in.
const SOURCE_KEY: &str = "meshmart.source.key";

/// What one polled record became.
pub(super) enum Step {
    Output,
    DeadLetter,
    /// Copied to the repartition topic (no output yet).
    Repartitioned,
}

/// The input coordinates and key an output record names: the input record's own, or those
/// a repartitioned record carries in its headers.
struct Carried<'a> {
    topic: &'a str,
    partition: &'a str,
    offset: &'a str,
    key: Option<&'a [u8]>,
}

impl<'a> Carried<'a> {
    fn of<M: Message>(message: &'a M) -> Self {
        let mut carried = Carried {
            topic: "",
            partition: "",
            offset: "",
            key: None,
        };
        let Some(headers) = message.headers() else {
            return carried;
        };
        for header in headers.iter() {
            let value = header.value.unwrap_or_default();
            let text = || std::str::from_utf8(value).unwrap_or_default();
            match header.key {
                "meshmart.source.topic" => carried.topic = text(),
                "meshmart.source.partition" => carried.partition = text(),
                "meshmart.source.offset" => carried.offset = text(),
                SOURCE_KEY => carried.key = Some(value),
                _ => {}
            }
        }
        carried
    }
}
