//! A generated value (JSON, with the contract's field names) in the registered schema's
//! language: UTF-8 JSON text for a JSON Schema, Avro binary for Avro, the first message
//! (after its message indexes) for Protobuf. The header of the
//! Confluent wire format is [`crate::quality::wire::frame`]'s, the same code the checker
//! reads it with.
//!
//! Avro conversion follows the schema, not the value: each record field is looked up under
//! the contract field name whose Avro form ([`avro_name`]) it is, an absent or null value
//! takes a union's `null` branch, timestamps are read from RFC 3339 text, and a structured
//! value where the schema says `string` (the port schema types every array item as a
//! string) is written as its JSON text.

use std::collections::HashMap;

use apache_avro::Schema;
use apache_avro::types::Value as Avro;
use chrono::{DateTime, NaiveDate};
use serde_json::Value;

use crate::quality::wire;
use crate::registry::schema::{ParsedSchema, SchemaType, avro_name};

/// Why a value could not be encoded with its schema.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("`{0}` is required by the schema and has no value")]
    Missing(String),
    #[error("`{field}` does not fit the schema's {expected}")]
    Mismatch { field: String, expected: String },
    #[error("the schema uses {0}, which the traffic generator does not write")]
    Unsupported(String),
    #[error("the Avro writer refused the value: {0}")]
    Avro(String),
}

/// The payload of `value` in `schema`'s language (no wire-format header).
pub fn payload(schema: &ParsedSchema, value: &Value) -> Result<Vec<u8>, EncodeError> {
    match (schema.schema_type, schema.avro()) {
        (SchemaType::Json, _) => serde_json::to_vec(value)
            .map_err(|e| EncodeError::Unsupported(format!("unserialisable JSON ({e})"))),
        (SchemaType::Avro, Some(avro)) => {
            let datum = to_avro(avro, value, "")?;
            apache_avro::writer::datum::GenericDatumWriter::builder(avro)
                .build()
                .and_then(|writer| writer.write_value_to_vec(datum))
                .map_err(|e| EncodeError::Avro(e.to_string()))
        }
        (SchemaType::Avro, None) => Err(EncodeError::Unsupported(
            "an Avro schema that did not parse".to_string(),
        )),
        (SchemaType::Protobuf, _) => protobuf(schema, value),
    }
}

/// `value` with every object key as the port schema names the field ([`avro_name`]).
fn proto_names(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (avro_name(key), proto_names(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(proto_names).collect()),
        other => other.clone(),
    }
}

/// The first message of a Protobuf schema from its JSON form (field names as in the
/// `.proto`), after the message indexes `[0]`.
fn protobuf(schema: &ParsedSchema, value: &Value) -> Result<Vec<u8>, EncodeError> {
    use prost::Message as _;
    let message = schema
        .protobuf()
        .and_then(|compiled| compiled.message(&[0]))
        .ok_or_else(|| EncodeError::Unsupported("a Protobuf schema without a message".into()))?;
    let decoded = prost_reflect::DynamicMessage::deserialize(message, proto_names(value))
        .map_err(|e| mismatch("", &format!("message ({e})")))?;
    let mut bytes = wire::protobuf::indexes_prefix(&[0]);
    decoded
        .encode(&mut bytes)
        .map_err(|e| EncodeError::Unsupported(format!("an unencodable message ({e})")))?;
    Ok(bytes)
}

/// `value` as a Confluent wire-format record of schema `schema_id`.
pub fn record(
    schema_id: u32,
    schema: &ParsedSchema,
    value: &Value,
) -> Result<Vec<u8>, EncodeError> {
    Ok(wire::frame(schema_id, &payload(schema, value)?))
}

fn mismatch(path: &str, expected: &str) -> EncodeError {
    EncodeError::Mismatch {
        field: if path.is_empty() {
            "the record".to_string()
        } else {
            path.to_string()
        },
        expected: expected.to_string(),
    }
}

/// `value` as an Avro datum of `schema`; `path` names the field in errors.
pub fn to_avro(schema: &Schema, value: &Value, path: &str) -> Result<Avro, EncodeError> {
    let number = |value: &Value| match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse::<f64>().ok(),
        _ => None,
    };
    let integer = |value: &Value| match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse::<i64>().ok(),
        _ => None,
    };
    let millis = |value: &Value| match value {
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.timestamp_millis()),
        other => integer(other),
    };
    if value.is_null() && !matches!(schema, Schema::Null | Schema::Union(_)) {
        // A required field with no value: say so, rather than "does not fit".
        return Err(EncodeError::Missing(path.to_string()));
    }
    Ok(match schema {
        Schema::Null => match value {
            Value::Null => Avro::Null,
            _ => return Err(mismatch(path, "null")),
        },
        Schema::Boolean => Avro::Boolean(value.as_bool().ok_or_else(|| mismatch(path, "boolean"))?),
        Schema::Int => Avro::Int(
            integer(value)
                .and_then(|n| i32::try_from(n).ok())
                .ok_or_else(|| mismatch(path, "int"))?,
        ),
        Schema::Long => Avro::Long(integer(value).ok_or_else(|| mismatch(path, "long"))?),
        Schema::Float => Avro::Float(number(value).ok_or_else(|| mismatch(path, "float"))? as f32),
        Schema::Double => Avro::Double(number(value).ok_or_else(|| mismatch(path, "double"))?),
        Schema::String | Schema::Uuid(_) => Avro::String(match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
        Schema::Bytes => match value {
            Value::String(s) => Avro::Bytes(s.as_bytes().to_vec()),
            _ => return Err(mismatch(path, "bytes")),
        },
        Schema::TimestampMillis => {
            Avro::TimestampMillis(millis(value).ok_or_else(|| mismatch(path, "timestamp-millis"))?)
        }
        Schema::TimestampMicros => Avro::TimestampMicros(
            millis(value).ok_or_else(|| mismatch(path, "timestamp-micros"))? * 1_000,
        ),
        Schema::Date => {
            let days = match value {
                Value::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .ok()
                    .map(|d| d.signed_duration_since(NaiveDate::default()).num_days()),
                other => integer(other),
            };
            Avro::Date(
                days.and_then(|d| i32::try_from(d).ok())
                    .ok_or_else(|| mismatch(path, "date"))?,
            )
        }
        Schema::Enum(e) => {
            let symbol = value.as_str().ok_or_else(|| mismatch(path, "enum"))?;
            let index = e
                .symbols
                .iter()
                .position(|s| s == symbol)
                .ok_or_else(|| mismatch(path, "enum symbols"))?;
            Avro::Enum(index as u32, symbol.to_string())
        }
        Schema::Array(array) => {
            let items = value.as_array().ok_or_else(|| mismatch(path, "array"))?;
            Avro::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| to_avro(&array.items, item, &format!("{path}[{i}]")))
                    .collect::<Result<_, _>>()?,
            )
        }
        Schema::Map(map) => {
            let entries = value.as_object().ok_or_else(|| mismatch(path, "map"))?;
            Avro::Map(
                entries
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), to_avro(&map.types, v, &format!("{path}.{k}"))?)))
                    .collect::<Result<HashMap<_, _>, EncodeError>>()?,
            )
        }
        Schema::Record(record) => {
            let object = value.as_object().ok_or_else(|| mismatch(path, "record"))?;
            // The registry derived each Avro field name from a contract field name.
            let by_avro_name: HashMap<String, &Value> =
                object.iter().map(|(k, v)| (avro_name(k), v)).collect();
            let mut fields = Vec::with_capacity(record.fields.len());
            for field in &record.fields {
                let inner = if path.is_empty() {
                    field.name.clone()
                } else {
                    format!("{path}.{}", field.name)
                };
                let value = by_avro_name
                    .get(&field.name)
                    .copied()
                    .unwrap_or(&Value::Null);
                fields.push((field.name.clone(), to_avro(&field.schema, value, &inner)?));
            }
            Avro::Record(fields)
        }
        Schema::Union(union) => {
            let variants = union.variants();
            if value.is_null() {
                let index = variants
                    .iter()
                    .position(|v| matches!(v, Schema::Null))
                    .ok_or_else(|| EncodeError::Missing(path.to_string()))?;
                Avro::Union(index as u32, Box::new(Avro::Null))
            } else {
                let mut last = mismatch(path, "union");
                let mut found = None;
                for (index, variant) in variants.iter().enumerate() {
                    if matches!(variant, Schema::Null) {
                        continue;
                    }
                    match to_avro(variant, value, path) {
                        Ok(datum) => {
                            found = Some(Avro::Union(index as u32, Box::new(datum)));
                            break;
                        }
                        Err(error) => last = error,
                    }
                }
                found.ok_or(last)?
            }
        }
        other => {
            return Err(EncodeError::Unsupported(format!(
                "{:?}",
                apache_avro::schema::SchemaKind::from(other)
            )));
        }
    })
}
