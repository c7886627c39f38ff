//! The schema languages the registry speaks and the error a schema text that cannot be
//! one of them gets: what every part of the registry (parsing, references, Protobuf) names
//! without needing the others.

use serde::{Deserialize, Serialize};

/// The schema languages the registry speaks (Confluent's names), stored as that text: a
/// stored name outside these is a decoding error, never read as some other type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "UPPERCASE")]
pub enum SchemaType {
    #[serde(rename = "AVRO")]
    Avro,
    #[serde(rename = "JSON")]
    Json,
    #[serde(rename = "PROTOBUF")]
    Protobuf,
}

impl SchemaType {
    pub const ALL: [SchemaType; 3] = [SchemaType::Json, SchemaType::Protobuf, SchemaType::Avro];

    pub fn as_str(self) -> &'static str {
        match self {
            SchemaType::Avro => "AVRO",
            SchemaType::Json => "JSON",
            SchemaType::Protobuf => "PROTOBUF",
        }
    }

    /// Confluent's `schemaType`, absent meaning Avro.
    pub fn parse(name: Option<&str>) -> Result<Self, InvalidSchema> {
        match name.map(str::to_ascii_uppercase).as_deref() {
            None | Some("AVRO") => Ok(SchemaType::Avro),
            Some("JSON") => Ok(SchemaType::Json),
            Some("PROTOBUF") => Ok(SchemaType::Protobuf),
            Some(other) => Err(InvalidSchema(format!(
                "unknown schema type `{other}`; use AVRO, JSON or PROTOBUF"
            ))),
        }
    }
}

/// Why schema text was refused (Confluent's 42201).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidSchema(pub String);
