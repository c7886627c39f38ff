//! Confluent's wire format: a record is the magic byte `0`, the big-endian 4-byte id of
//! its schema in the registry, then the payload in that schema's language (Avro binary,
//! UTF-8 JSON for JSON Schema, or Protobuf's message indexes and message, see
//! [`protobuf`]). This module turns bytes into the JSON the quality checker
//! reads, or into a [`WireError`] whose [`reason`](WireError::reason) is a stable name to
//! count by.
//!
//! Bounded by design, because every byte here comes from a producer:
//!
//! - records over the size limit are refused before anything is decoded;
//! - JSON is parsed with serde_json's nesting limit (128);
//! - Avro schemas that could make decoding unbounded are not decoded: a record type that
//!   contains itself (decoding recursion is then driven by the payload, or by nothing at
//!   all), and arrays or maps of zero-width items (`null`, an empty record, `fixed(0)`),
//!   whose item count costs no payload bytes. Apache Avro's allocation limit is set to
//!   [`MAX_AVRO_ALLOCATION_BYTES`] (it is process-wide: the first caller sets it);
//! - a decoder keeps the last record's value to decode the next over (`reuse`), unless
//!   the record was over [`KEEP_RECORD_BYTES`];
//! - compiled schemas are cached per id, and only ids of the product's subject are cached,
//!   so the cache holds at most that subject's versions.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use apache_avro::Schema;
use serde_json::Value;

use crate::registry::schema::{ParsedSchema, SchemaType};

/// The first byte of every wire-format record.
pub const MAGIC_BYTE: u8 = 0;
/// Magic byte and schema id.
pub const HEADER_BYTES: usize = 5;
/// The broker's default `message.max.bytes`, the default record size limit.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 1_048_588;
/// The most Apache Avro may allocate for one collection while decoding.
pub const MAX_AVRO_ALLOCATION_BYTES: usize = 64 * 1024 * 1024;
/// Records larger than this are not kept to be decoded over (see [`DecodedRef`]).
pub const KEEP_RECORD_BYTES: usize = 64 * 1024;
/// Characters of a decoder's error kept in a [`WireError`].
const MAX_MESSAGE_CHARS: usize = 200;

/// Why a record could not be read as its contract's data.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("the record does not start with the magic byte 0")]
    NotWireFormat,
    #[error("the record has {0} bytes, fewer than the 5-byte wire-format header")]
    Truncated(usize),
    #[error("the record is {size} bytes; the limit is {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("schema id {0} is not in the registry")]
    UnknownSchemaId(u32),
    #[error("schema id {0} is not a version of the product's subject")]
    SchemaNotOfSubject(u32),
    #[error("the payload does not decode with schema {id}: {message}")]
    Undecodable { id: u32, message: String },
    #[error("the payload does not follow schema {id}: {message}")]
    Invalid { id: u32, message: String },
}

impl WireError {
    /// A stable, low-cardinality name for counting (a metric label, a DLQ header).
    pub fn reason(&self) -> &'static str {
        match self {
            WireError::NotWireFormat => "not_wire_format",
            WireError::Truncated(_) => "truncated",
            WireError::TooLarge { .. } => "too_large",
            WireError::UnknownSchemaId(_) => "unknown_schema_id",
            WireError::SchemaNotOfSubject(_) => "schema_not_of_subject",
            WireError::Undecodable { .. } => "undecodable",
            WireError::Invalid { .. } => "invalid",
        }
    }
}

/// Where schemas come from by id (the registry, later; a map in tests).
pub trait SchemaLookup {
    /// The registered schema with this id, if there is one.
    fn schema(&self, id: u32) -> Option<ParsedSchema>;
}

impl<F> SchemaLookup for F
where
    F: Fn(u32) -> Option<ParsedSchema>,
{
    fn schema(&self, id: u32) -> Option<ParsedSchema> {
        self(id)
    }
}

impl SchemaLookup for HashMap<u32, ParsedSchema> {
    fn schema(&self, id: u32) -> Option<ParsedSchema> {
        self.get(&id).cloned()
    }
}

/// A decoded record: the schema id it named and its value as JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    pub schema_id: u32,
    pub value: Value,
}

/// Splits a record into its schema id and payload.
pub fn split(bytes: &[u8]) -> Result<(u32, &[u8]), WireError> {
    match bytes {
        [] => Err(WireError::Truncated(0)),
        [first, ..] if *first != MAGIC_BYTE => Err(WireError::NotWireFormat),
        [_, a, b, c, d, payload @ ..] => Ok((u32::from_be_bytes([*a, *b, *c, *d]), payload)),
        short => Err(WireError::Truncated(short.len())),
    }
}

/// Prepends the wire-format header to a payload.
pub fn frame(schema_id: u32, payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER_BYTES + payload.len());
    bytes.push(MAGIC_BYTE);
    bytes.extend_from_slice(&schema_id.to_be_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

mod avro;
pub mod protobuf;
mod reuse;

/// A schema ready to decode with.
enum Compiled {
    /// Read by [`avro::Fast`]: the schema holds only types it covers.
    FastAvro(Box<avro::Fast>),
    /// Read by Apache Avro.
    Avro(Box<Schema>),
    Json(Box<jsonschema::Validator>),
    Protobuf(Box<crate::registry::protobuf::Protobuf>),
    /// The schema cannot be decoded safely or at all; every record with it is undecodable.
    Refused(String),
}

/// Decodes records of one product, caching compiled schemas by id.
pub struct Decoder {
    max_record_bytes: usize,
    compiled: HashMap<u32, Compiled>,
    /// The last record decoded, written over by the next ([`reuse`]).
    last: Value,
    json: reuse::JsonReader,
}

/// A record a [`Decoder`] decoded: its value stays the decoder's, to be written over by
/// the next record. Dropped, it lets go of the value of a record over
/// [`KEEP_RECORD_BYTES`], so one large record does not hold its memory until the
/// product's next record arrives.
pub struct DecodedRef<'d> {
    pub schema_id: u32,
    decoder: &'d mut Decoder,
    large: bool,
}

impl DecodedRef<'_> {
    /// The record as JSON.
    pub fn value(&self) -> &Value {
        &self.decoder.last
    }

    /// The record as JSON, taken from the decoder (which starts its next record afresh).
    pub fn into_value(self) -> Value {
        std::mem::take(&mut self.decoder.last)
    }
}

impl std::fmt::Debug for DecodedRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecodedRef")
            .field("schema_id", &self.schema_id)
            .field("value", self.value())
            .finish()
    }
}

impl Drop for DecodedRef<'_> {
    fn drop(&mut self) {
        if self.large {
            self.decoder.last = Value::Null;
        }
    }
}

impl Decoder {
    /// A decoder refusing records larger than `max_record_bytes`.
    pub fn new(max_record_bytes: usize) -> Self {
        apache_avro::util::max_allocation_bytes(MAX_AVRO_ALLOCATION_BYTES);
        Self {
            max_record_bytes,
            compiled: HashMap::new(),
            last: Value::Null,
            json: reuse::JsonReader::default(),
        }
    }

    /// Decodes one record whose schema must be one of `subject_ids`, over the value of the
    /// record decoded before it (see [`reuse`]): a stream of records of one shape is
    /// decoded without building a tree for each. Compiling a JSON Schema the first time an
    /// id is seen is CPU work; async callers run this off the runtime's threads.
    pub fn decode(
        &mut self,
        bytes: &[u8],
        subject_ids: &HashSet<u32>,
        lookup: &impl SchemaLookup,
    ) -> Result<DecodedRef<'_>, WireError> {
        let large = bytes.len() > KEEP_RECORD_BYTES;
        match self.decode_over_last(bytes, subject_ids, lookup) {
            Ok(schema_id) => Ok(DecodedRef {
                schema_id,
                decoder: self,
                large,
            }),
            Err(error) => {
                // What a failed large record left is not kept either.
                if large {
                    self.last = Value::Null;
                }
                Err(error)
            }
        }
    }

    /// Decodes one record into `self.last`; the schema id it named.
    fn decode_over_last(
        &mut self,
        bytes: &[u8],
        subject_ids: &HashSet<u32>,
        lookup: &impl SchemaLookup,
    ) -> Result<u32, WireError> {
        if bytes.len() > self.max_record_bytes {
            return Err(WireError::TooLarge {
                size: bytes.len(),
                limit: self.max_record_bytes,
            });
        }
        let (id, payload) = split(bytes)?;
        let compiled = match self.compiled.entry(id) {
            Entry::Occupied(slot) => slot.into_mut(),
            Entry::Vacant(slot) => {
                let schema = lookup.schema(id).ok_or(WireError::UnknownSchemaId(id))?;
                if !subject_ids.contains(&id) {
                    return Err(WireError::SchemaNotOfSubject(id));
                }
                slot.insert(compile(&schema))
            }
        };
        // Checked again for cached ids: the subject's versions are the caller's to change.
        if !subject_ids.contains(&id) {
            return Err(WireError::SchemaNotOfSubject(id));
        }
        let undecodable = |message: String| WireError::Undecodable {
            id,
            message: cut(message),
        };
        let value = &mut self.last;
        match compiled {
            Compiled::FastAvro(fast) => fast
                .decode_into(payload, value)
                .map_err(|e| undecodable(format!("not Avro of this schema ({e})")))?,
            Compiled::Avro(schema) => {
                *value = decode_avro(schema, payload).map_err(undecodable)?;
            }
            Compiled::Protobuf(schema) => {
                *value = protobuf::decode(schema, payload).map_err(undecodable)?;
            }
            Compiled::Json(validator) => {
                // UTF-8 checked once for the whole payload, not string by string.
                let text = std::str::from_utf8(payload)
                    .map_err(|e| undecodable(format!("the payload is not UTF-8 ({e})")))?;
                self.json
                    .read_into(text, value)
                    .map_err(|e| undecodable(format!("the payload is not JSON ({e})")))?;
                // The error iterator only for a record that fails: it costs more.
                if !validator.is_valid(value)
                    && let Some(error) = validator.iter_errors(value).next()
                {
                    return Err(WireError::Invalid {
                        id,
                        message: cut(format!("at `{}`: {error}", error.instance_path())),
                    });
                }
            }
            Compiled::Refused(reason) => return Err(undecodable(reason.clone())),
        }
        Ok(id)
    }
}

/// Decodes one record with a fresh decoder (no cache): for one-off reads and tests.
pub fn decode(
    bytes: &[u8],
    lookup: &impl SchemaLookup,
    subject_ids: &HashSet<u32>,
) -> Result<Decoded, WireError> {
    let mut decoder = Decoder::new(DEFAULT_MAX_RECORD_BYTES);
    let decoded = decoder.decode(bytes, subject_ids, lookup)?;
    Ok(Decoded {
        schema_id: decoded.schema_id,
        value: decoded.into_value(),
    })
}

fn cut(message: String) -> String {
    if message.chars().count() <= MAX_MESSAGE_CHARS {
        message
    } else {
        let mut short: String = message.chars().take(MAX_MESSAGE_CHARS).collect();
        short.push('…');
        short
    }
}

fn compile(schema: &ParsedSchema) -> Compiled {
    match schema.schema_type {
        SchemaType::Avro => match schema.avro() {
            Some(avro) => match unbounded(avro) {
                Some(reason) => Compiled::Refused(reason),
                None => match avro::Fast::new(avro) {
                    Some(fast) => Compiled::FastAvro(Box::new(fast)),
                    None => Compiled::Avro(Box::new(avro.clone())),
                },
            },
            None => Compiled::Refused("the Avro schema did not parse".to_string()),
        },
        SchemaType::Json => match jsonschema::validator_for(schema.resolved()) {
            Ok(validator) => Compiled::Json(Box::new(validator)),
            Err(error) => Compiled::Refused(format!("the JSON Schema does not compile: {error}")),
        },
        SchemaType::Protobuf => match schema.protobuf() {
            Some(compiled) => Compiled::Protobuf(Box::new(compiled.clone())),
            None => Compiled::Refused("the Protobuf schema did not compile".to_string()),
        },
    }
}

fn decode_avro(schema: &Schema, payload: &[u8]) -> Result<Value, String> {
    let mut reader = payload;
    let value = apache_avro::reader::datum::GenericDatumReader::builder(schema)
        .build()
        .and_then(|datum| datum.read_value(&mut reader))
        .map_err(|e| format!("not Avro of this schema ({e})"))?;
    if !reader.is_empty() {
        return Err(format!("{} bytes follow the record", reader.len()));
    }
    Value::try_from(value).map_err(|e| format!("the record has no JSON form ({e})"))
}

/// Why decoding with this Avro schema could be unbounded, if it could (see the module
/// documentation). The walk follows the schema, which the registry limited in depth.
fn unbounded(schema: &Schema) -> Option<String> {
    let mut widths = HashMap::new();
    let mut enclosing = Vec::new();
    walk(schema, &mut widths, &mut enclosing).err()
}

/// Whether a value of this schema can take zero bytes; an error names an unbounded shape.
fn walk(
    schema: &Schema,
    widths: &mut HashMap<String, bool>,
    enclosing: &mut Vec<String>,
) -> Result<bool, String> {
    Ok(match schema {
        Schema::Null => true,
        Schema::Fixed(fixed) | Schema::Duration(fixed) => {
            widths.insert(fixed.name.to_string(), fixed.size == 0);
            fixed.size == 0
        }
        Schema::Enum(e) => {
            widths.insert(e.name.to_string(), false);
            false
        }
        Schema::Record(record) => {
            let name = record.name.to_string();
            enclosing.push(name.clone());
            let mut zero = true;
            for field in &record.fields {
                zero &= walk(&field.schema, widths, enclosing)?;
            }
            enclosing.pop();
            widths.insert(name, zero);
            zero
        }
        Schema::Ref { name } => {
            let name = name.to_string();
            if enclosing.contains(&name) {
                return Err(format!(
                    "the Avro schema is recursive (`{name}` contains itself); Meshmart does not decode recursive records"
                ));
            }
            // A name defined inside a logical type (a decimal's fixed) is not tracked;
            // it is never zero-width in practice.
            widths.get(&name).copied().unwrap_or(false)
        }
        Schema::Array(array) => {
            if walk(&array.items, widths, enclosing)? {
                return Err(
                    "the Avro schema has an array of zero-width items (null or empty records)"
                        .to_string(),
                );
            }
            false
        }
        Schema::Map(map) => {
            walk(&map.types, widths, enclosing)?;
            false
        }
        Schema::Union(union) => {
            for variant in union.variants() {
                walk(variant, widths, enclosing)?;
            }
            false
        }
        Schema::Decimal(_)
        | Schema::Uuid(_)
        | Schema::Boolean
        | Schema::Int
        | Schema::Long
        | Schema::Float
        | Schema::Double
        | Schema::Bytes
        | Schema::String
        | Schema::BigDecimal
        | Schema::Date
        | Schema::TimeMillis
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => false,
    })
}

#[cfg(test)]
mod tests;
