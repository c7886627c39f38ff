//! Records that break the contract on purpose, for the checker and the self-healing that
//! build on it: each [`BadKind`] is broken in exactly one way, the way a careless or
//! outdated producer breaks a stream, and a [`Drift`] is a whole new schema version the
//! registry never saw.
//!
//! - `wrong-type`: a required field carries a value of another type. JSON: a number where
//!   the schema says string (the payload is valid JSON and fails validation). Avro: binary
//!   has no types on the wire, so the field is written as a negative `long` where the
//!   reader expects a string, whose length then reads as negative (undecodable).
//! - `missing-required`: a required field is left out. JSON: the key is absent. Avro: the
//!   record stops before its last required field (the reader runs out of bytes).
//! - `unknown-schema-id`: a well-formed record naming a schema id the registry does not have.
//! - `not-wire-format`: the value as plain JSON text, without the magic byte and schema id.
//!
//! Drift adds an optional field (`loyaltyTier`) to every record and names an unregistered
//! schema id, as a producer that deployed a new schema without registering it would.

use std::str::FromStr;

use serde_json::{Value, json};

use super::encode::{self, EncodeError};
use super::{Product, Record};
use crate::quality::wire;
use crate::registry::schema::{ParsedSchema, SchemaType, avro_name};

/// A way of breaking a record's contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BadKind {
    WrongType,
    MissingRequired,
    UnknownSchemaId,
    NotWireFormat,
}

impl BadKind {
    /// Every kind, in the order `--bad-kinds` lists them.
    pub const ALL: [BadKind; 4] = [
        BadKind::WrongType,
        BadKind::MissingRequired,
        BadKind::UnknownSchemaId,
        BadKind::NotWireFormat,
    ];

    /// The name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            BadKind::WrongType => "wrong-type",
            BadKind::MissingRequired => "missing-required",
            BadKind::UnknownSchemaId => "unknown-schema-id",
            BadKind::NotWireFormat => "not-wire-format",
        }
    }
}

impl FromStr for BadKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        BadKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| {
                format!(
                    "unknown bad kind `{text}`; kinds are {}",
                    BadKind::ALL.map(BadKind::as_str).join(", ")
                )
            })
    }
}

/// The field drift adds.
pub const DRIFT_FIELD: &str = "loyaltyTier";

/// Schemas derived once per product for the faults that need another shape (Avro only:
/// JSON faults change the value, not the schema).
#[derive(Clone, Debug, Default)]
pub(super) struct Shapes {
    /// The record with its first required string field typed `long`, and that field.
    pub(super) wrong_type: Option<(ParsedSchema, String)>,
    /// The record cut before its last required field.
    pub(super) missing: Option<ParsedSchema>,
    /// The record with [`DRIFT_FIELD`] appended.
    pub(super) drift: Option<ParsedSchema>,
}

impl Shapes {
    pub(super) fn of(schema: &ParsedSchema) -> Self {
        if schema.schema_type != SchemaType::Avro {
            return Self::default();
        }
        let Some(fields) = schema.document.get("fields").and_then(Value::as_array) else {
            return Self::default();
        };
        let reparse = |fields: Vec<Value>| {
            let mut document = schema.document.clone();
            document["fields"] = Value::Array(fields);
            ParsedSchema::parse(SchemaType::Avro, &document.to_string()).ok()
        };
        let required = |field: &Value| !field["type"].is_array();
        let is_string =
            |field: &Value| field["type"] == "string" || field["type"]["type"] == "string";
        let wrong_type = fields
            .iter()
            .position(|f| required(f) && is_string(f))
            .and_then(|at| {
                let mut changed = fields.clone();
                changed[at]["type"] = json!("long");
                let name = changed[at]["name"].as_str()?.to_string();
                Some((reparse(changed)?, name))
            });
        let missing = fields
            .iter()
            .rposition(required)
            .and_then(|at| reparse(fields[..at].to_vec()));
        let mut drifted = fields.clone();
        drifted.push(json!({"name": DRIFT_FIELD, "type": ["null", "string"], "default": null}));
        Self {
            wrong_type,
            missing,
            drift: reparse(drifted),
        }
    }
}

impl Product {
    /// `value` (a generated event's) broken the way `kind` says, keyed by `key`.
    pub fn bad_record(
        &self,
        kind: BadKind,
        key: &str,
        value: &Value,
    ) -> Result<Record, EncodeError> {
        let record = |value: Vec<u8>| Record {
            key: key.to_string(),
            value,
        };
        let unsupported =
            |what: &str| EncodeError::Unsupported(format!("{what} for {}", self.subject));
        Ok(record(match (kind, self.schema.schema_type) {
            (BadKind::NotWireFormat, _) => serde_json::to_vec(value)
                .map_err(|e| EncodeError::Unsupported(format!("unserialisable JSON ({e})")))?,
            (BadKind::UnknownSchemaId, _) => wire::frame(
                self.unknown_schema_id,
                &encode::payload(&self.schema, value)?,
            ),
            (BadKind::WrongType, SchemaType::Json) => {
                let mut value = value.clone();
                let field = self
                    .first_required(&value, |v| v.is_string())
                    .ok_or_else(|| unsupported("no required text field to mistype"))?;
                value[&field] = json!(40_400);
                encode::record(self.schema_id, &self.schema, &value)?
            }
            (BadKind::MissingRequired, SchemaType::Json) => {
                let mut value = value.clone();
                let field = self
                    .first_required(&value, |_| true)
                    .ok_or_else(|| unsupported("no required field to leave out"))?;
                if let Some(object) = value.as_object_mut() {
                    object.remove(&field);
                }
                encode::record(self.schema_id, &self.schema, &value)?
            }
            (BadKind::WrongType, SchemaType::Avro) => {
                let (schema, field) = self
                    .shapes
                    .wrong_type
                    .as_ref()
                    .ok_or_else(|| unsupported("no required string field to mistype"))?;
                let mut value = by_avro_name(value);
                value[field.as_str()] = json!(-40_400);
                encode::record(self.schema_id, schema, &value)?
            }
            (BadKind::MissingRequired, SchemaType::Avro) => {
                let schema = self
                    .shapes
                    .missing
                    .as_ref()
                    .ok_or_else(|| unsupported("no required field to leave out"))?;
                encode::record(self.schema_id, schema, value)?
            }
            (BadKind::WrongType | BadKind::MissingRequired, SchemaType::Protobuf) => {
                return Err(unsupported("a mistyped or incomplete Protobuf record"));
            }
        }))
    }

    /// `value` as the drifted version writes it: with [`DRIFT_FIELD`], under the
    /// unregistered drift schema id.
    pub fn drifted_record(
        &self,
        key: &str,
        value: &Value,
        tier: &str,
    ) -> Result<Record, EncodeError> {
        let mut value = value.clone();
        if let Some(object) = value.as_object_mut() {
            object.insert(DRIFT_FIELD.to_string(), json!(tier));
        }
        let payload = match (self.schema.schema_type, &self.shapes.drift) {
            (SchemaType::Json, _) => encode::payload(&self.schema, &value)?,
            (SchemaType::Avro, Some(drift)) => encode::payload(drift, &value)?,
            (SchemaType::Avro | SchemaType::Protobuf, _) => {
                return Err(EncodeError::Unsupported(format!(
                    "a drifted version of {}",
                    self.subject
                )));
            }
        };
        Ok(Record {
            key: key.to_string(),
            value: wire::frame(self.drift_schema_id, &payload),
        })
    }

    /// The first field the JSON Schema requires whose value passes `test`.
    fn first_required(&self, value: &Value, test: impl Fn(&Value) -> bool) -> Option<String> {
        self.schema.document["required"]
            .as_array()?
            .iter()
            .filter_map(Value::as_str)
            .find(|name| value.get(*name).is_some_and(&test))
            .map(str::to_string)
    }
}

/// The value with its keys in their Avro form, so a field can be replaced by its Avro name.
fn by_avro_name(value: &Value) -> Value {
    match value {
        Value::Object(object) => Value::Object(
            object
                .iter()
                .map(|(k, v)| (avro_name(k), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}
