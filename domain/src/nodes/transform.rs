//! What a node does to one record: its kind, and the kind's check that the output
//! product's schema can carry what the node writes (the runtime refuses to start
//! otherwise).
//!
//! Records arrive decoded (a JSON value keyed by the input contract's field names, or by
//! their Avro forms for an Avro port) and leave as a JSON value keyed by the output
//! contract's field names, which [`crate::traffic::encode`] writes in the output subject's
//! schema.

use serde_json::{Map, Value};

use super::enrich::{self, Enricher, Source};
use crate::contracts::{Field, OutputPort};
use crate::registry::schema::avro_name;

/// The kinds of node Meshmart runs, as the contract declares them (`nodeKind`); a
/// customer-enrichment node adds [`enrich`]'s fields.
pub use crate::contracts::NodeKind as Kind;

impl Kind {
    /// Whether the kind keeps state keyed by something other than the input's key (the
    /// sign-up's network, not its customer), so that its records are first repartitioned
    /// by [`Transformer::state_key`] through the node's repartition topic.
    pub fn rekeys(self) -> bool {
        matches!(self, Kind::CustomerEnrichment)
    }

    /// What is wrong with running this kind from `input` to `output`, if anything: each
    /// required output field must be one the node writes.
    pub fn check(self, input: &OutputPort, output: &OutputPort) -> Result<(), String> {
        let added: &[&str] = match self {
            Kind::PassThrough => &[],
            Kind::CustomerEnrichment => {
                if !has_field(&input.fields, enrich::IP_FIELD) {
                    return Err(format!(
                        "a customer-enrichment node reads `{}`, which the input `{}` does not carry",
                        enrich::IP_FIELD,
                        input.topic
                    ));
                }
                &enrich::ENRICHED_FIELDS
            }
        };
        let missing: Vec<&str> = output
            .fields
            .iter()
            .filter(|field| {
                field.required
                    && !has_field(&input.fields, &field.name)
                    && !added.contains(&field.name.as_str())
            })
            .map(|field| field.name.as_str())
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "the output contract requires {} which the input `{}` does not carry{}",
                missing
                    .iter()
                    .map(|name| format!("`{name}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                input.topic,
                if added.is_empty() {
                    String::new()
                } else {
                    format!(" and a {} node does not add", self.as_str())
                }
            ))
        }
    }

    /// The output record for one input record of a pass-through node, or why there is none.
    pub fn apply(self, record: &Value, output: &OutputPort) -> Result<Value, String> {
        let Value::Object(fields) = record else {
            return Err("the record is not an object".to_string());
        };
        project(fields, output)
    }
}

/// What a running node does to each record: its kind, with the kind's state.
pub enum Transformer {
    PassThrough,
    Enrich(Box<Enricher>),
}

impl Transformer {
    /// The output record of one input record, or (reason, message) for its dead letter.
    pub fn apply(
        &mut self,
        record: &Value,
        source: Source,
        output: &OutputPort,
    ) -> Result<Value, (&'static str, String)> {
        let Value::Object(fields) = record else {
            return Err(("transform", "the record is not an object".to_string()));
        };
        match self {
            Transformer::PassThrough => project(fields, output),
            Transformer::Enrich(enricher) => project(&enricher.enrich(fields, source)?, output),
        }
        .map_err(|why| ("transform", why))
    }

    /// Forgets what records of `partition` from `offset` on did to the node's state (an
    /// aborted transaction's, read again next).
    pub fn rewind(&mut self, partition: i32, offset: i64) {
        if let Transformer::Enrich(enricher) = self {
            enricher.window().rewind(partition, offset);
        }
    }

    /// Forgets a partition this process no longer owns.
    pub fn forget(&mut self, partition: i32) {
        if let Transformer::Enrich(enricher) = self {
            enricher.window().forget(partition);
        }
    }

    /// The key the kind's state is kept by, for a decoded input record: the /24 network of
    /// a sign-up's IPv4 address. `None` when the record has none (no address, IPv6, not an
    /// address): it keeps its own key, as no state is kept for it.
    pub fn state_key(&self, record: &Value) -> Option<String> {
        match self {
            Transformer::PassThrough => None,
            Transformer::Enrich(_) => enrich::network_key(record),
        }
    }

    /// Whether the node keeps state that must be rebuilt from the input after a restart or
    /// a new assignment, and how far back (milliseconds of event time).
    pub fn state_window_ms(&self) -> Option<i64> {
        match self {
            Transformer::PassThrough => None,
            Transformer::Enrich(_) => Some(super::risk::WINDOW_MS),
        }
    }

    /// Feeds an already-committed record into the node's state without output.
    pub fn warm(&mut self, record: &Value, source: Source) {
        if let Transformer::Enrich(enricher) = self {
            enricher.warm(record, source);
        }
    }
}

/// The output contract's fields of `fields`; refused when a required one is missing.
fn project(fields: &Map<String, Value>, output: &OutputPort) -> Result<Value, String> {
    let mut out = Map::new();
    for field in &output.fields {
        let value = fields
            .get(&field.name)
            .or_else(|| fields.get(&avro_name(&field.name)))
            .filter(|value| !value.is_null());
        match value {
            Some(value) => {
                out.insert(field.name.clone(), value.clone());
            }
            None if field.required => {
                return Err(format!("`{}` is required and missing", field.name));
            }
            None => {}
        }
    }
    Ok(Value::Object(out))
}

fn has_field(fields: &[Field], name: &str) -> bool {
    fields.iter().any(|field| field.name == name)
}
