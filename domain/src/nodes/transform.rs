//! What a node does to one record: its kind, and the kind's check that the output
//! product's schema can carry what the node writes (the runtime refuses to start
//! otherwise).
//!
//! Records arrive decoded (a JSON value keyed by the input contract's field names, or by
//! their Avro forms for an Avro port) and leave as a JSON value keyed by the output
//! contract's field names, which [`crate::traffic::encode`] writes in the output subject's
//! schema.

use serde_json::{Map, Value};

use crate::contracts::{Field, OutputPort};
use crate::registry::schema::avro_name;

/// The kinds of node Meshmart runs (`nodeKind` in the contract).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Copies each record's fields that the output contract lists: the runtime with no
    /// enrichment (the baseline enrichment is measured against).
    PassThrough,
}

impl Kind {
    pub const ALL: [Kind; 1] = [Kind::PassThrough];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::PassThrough => "pass-through",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// What is wrong with running this kind from `input` to `output`, if anything: each
    /// required output field must be one the node writes.
    pub fn check(self, input: &OutputPort, output: &OutputPort) -> Result<(), String> {
        match self {
            Kind::PassThrough => {
                let missing: Vec<&str> = output
                    .fields
                    .iter()
                    .filter(|field| field.required && !has_field(&input.fields, &field.name))
                    .map(|field| field.name.as_str())
                    .collect();
                if missing.is_empty() {
                    Ok(())
                } else {
                    Err(format!(
                        "the output contract requires {} which the input `{}` does not carry",
                        missing
                            .iter()
                            .map(|name| format!("`{name}`"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        input.topic
                    ))
                }
            }
        }
    }

    /// The output record for one input record, or why there is none (the record goes to
    /// the node's dead-letter topic).
    pub fn apply(self, record: &Value, output: &OutputPort) -> Result<Value, String> {
        let Value::Object(fields) = record else {
            return Err("the record is not an object".to_string());
        };
        match self {
            Kind::PassThrough => {
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
        }
    }
}

fn has_field(fields: &[Field], name: &str) -> bool {
    fields.iter().any(|field| field.name == name)
}
