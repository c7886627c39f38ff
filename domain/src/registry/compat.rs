//! Compatibility between schema versions: the seven Confluent modes, and the check of a new
//! schema against the versions a mode compares it with. Avro uses the Apache Avro crate's
//! reader/writer resolution rules; JSON Schema uses [`super::json_compat`], which follows
//! Confluent's JSON Schema rules; Protobuf [`super::protobuf::compat`], which follows
//! Confluent's Protobuf rules.

use serde::{Deserialize, Serialize};

use super::json_compat;
use super::schema::{ParsedSchema, SchemaType};

/// A compatibility mode, by Confluent's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Mode {
    None,
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

impl Mode {
    pub const ALL: [Mode; 7] = [
        Mode::None,
        Mode::Backward,
        Mode::BackwardTransitive,
        Mode::Forward,
        Mode::ForwardTransitive,
        Mode::Full,
        Mode::FullTransitive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::None => "NONE",
            Mode::Backward => "BACKWARD",
            Mode::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Mode::Forward => "FORWARD",
            Mode::ForwardTransitive => "FORWARD_TRANSITIVE",
            Mode::Full => "FULL",
            Mode::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    pub fn parse(text: &str) -> Option<Mode> {
        Mode::ALL
            .into_iter()
            .find(|mode| mode.as_str().eq_ignore_ascii_case(text.trim()))
    }

    /// Whether every earlier version is compared, not only the latest.
    pub fn transitive(self) -> bool {
        matches!(
            self,
            Mode::BackwardTransitive | Mode::ForwardTransitive | Mode::FullTransitive
        )
    }

    fn backward(self) -> bool {
        matches!(
            self,
            Mode::Backward | Mode::BackwardTransitive | Mode::Full | Mode::FullTransitive
        )
    }

    fn forward(self) -> bool {
        matches!(
            self,
            Mode::Forward | Mode::ForwardTransitive | Mode::Full | Mode::FullTransitive
        )
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reason a schema cannot replace another, e.g.
/// `#/properties/customerID: type changed string → integer`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breaking {
    /// The version compared against.
    pub version: i32,
    /// `backward` (new readers, old data) or `forward` (old readers, new data).
    pub direction: String,
    pub message: String,
}

impl std::fmt::Display for Breaking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (against version {}, {})",
            self.message, self.version, self.direction
        )
    }
}

/// Checks `new` against earlier versions (oldest first, as `(version, schema)`) under
/// `mode`; an empty list when compatible.
pub fn check(mode: Mode, new: &ParsedSchema, earlier: &[(i32, ParsedSchema)]) -> Vec<Breaking> {
    let compared: &[(i32, ParsedSchema)] = if mode == Mode::None {
        &[]
    } else if mode.transitive() {
        earlier
    } else {
        earlier.last().map(std::slice::from_ref).unwrap_or(&[])
    };
    let mut found = Vec::new();
    for (version, old) in compared {
        if mode.backward() {
            found.extend(can_read(new, old).into_iter().map(|message| Breaking {
                version: *version,
                direction: "backward".to_string(),
                message,
            }));
        }
        if mode.forward() {
            found.extend(can_read(old, new).into_iter().map(|message| Breaking {
                version: *version,
                direction: "forward".to_string(),
                message,
            }));
        }
    }
    found
}

/// Why data written with `writer` cannot be read with `reader` (empty when it can).
pub fn can_read(reader: &ParsedSchema, writer: &ParsedSchema) -> Vec<String> {
    if reader.schema_type != writer.schema_type {
        return vec![format!(
            "schema type changed {} → {}",
            writer.schema_type.as_str(),
            reader.schema_type.as_str()
        )];
    }
    match reader.schema_type {
        SchemaType::Json => match json_compat::check_backward(writer.resolved(), reader.resolved())
        {
            Ok(()) => Vec::new(),
            Err(changes) => changes.iter().map(ToString::to_string).collect(),
        },
        SchemaType::Protobuf => {
            let (Some(reader), Some(writer)) = (reader.protobuf(), writer.protobuf()) else {
                return vec!["the schema could not be read as Protobuf".to_string()];
            };
            super::protobuf::compat::can_read(reader, writer)
        }
        SchemaType::Avro => {
            let (Some(reader), Some(writer)) = (reader.avro(), writer.avro()) else {
                return vec!["the schema could not be read as Avro".to_string()];
            };
            use apache_avro::schema_compatibility::{Compatibility, SchemaCompatibility};
            match SchemaCompatibility::can_read(writer, reader) {
                Ok(Compatibility::Full) => Vec::new(),
                Ok(Compatibility::Partial) => vec![
                    "some values written with the old schema cannot be read: an enum lost symbols or a union lost branches"
                        .to_string(),
                ],
                Err(error) => vec![avro_message(&error)],
            }
        }
    }
}

/// Longest message kept for one Avro incompatibility (the crate's type mismatches print
/// whole schemas).
const MAX_MESSAGE: usize = 300;

fn avro_message(error: &apache_avro::error::CompatibilityError) -> String {
    let mut message = avro_message_full(error);
    if message.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push('…');
    }
    message
}

fn avro_message_full(error: &apache_avro::error::CompatibilityError) -> String {
    use apache_avro::error::CompatibilityError as E;
    match error {
        E::MissingDefaultValue(field) => {
            format!("#/fields/{field}: field `{field}` was added without a default value")
        }
        E::FieldTypeMismatch(field, inner) => {
            format!("#/fields/{field}: type changed ({})", avro_message(inner))
        }
        E::NameMismatch {
            writer_name,
            reader_name,
        } => format!("record name changed {writer_name} → {reader_name}"),
        E::WrongType {
            writer_schema_type,
            reader_schema_type,
        } => format!("{writer_schema_type} → {reader_schema_type}"),
        other => {
            let text = other.to_string();
            text.strip_prefix("Incompatible schemata! ")
                .or_else(|| text.strip_prefix("Incompatible schema types! "))
                .unwrap_or(&text)
                .to_string()
        }
    }
}

#[cfg(test)]
mod properties;

#[cfg(test)]
mod tests {
    use super::*;

    fn avro(fields: &str) -> ParsedSchema {
        let text = format!(
            r#"{{"type":"record","name":"CustomerSignedUp","namespace":"crm","fields":[{fields}]}}"#
        );
        ParsedSchema::parse(SchemaType::Avro, &text).expect("valid Avro")
    }

    const V1: &str = r#"{"name":"customerID","type":"string"},{"name":"email","type":"string"}"#;

    #[test]
    fn avro_adding_a_field_with_a_default_is_backward_compatible() {
        let v2 = avro(&format!(
            r#"{V1},{{"name":"country","type":"string","default":"NL"}}"#
        ));
        assert_eq!(check(Mode::Backward, &v2, &[(1, avro(V1))]), vec![]);
    }

    #[test]
    fn avro_adding_a_field_without_a_default_names_the_field() {
        let v2 = avro(&format!(r#"{V1},{{"name":"country","type":"string"}}"#));
        let found = check(Mode::Backward, &v2, &[(1, avro(V1))]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            found[0].message,
            "#/fields/country: field `country` was added without a default value"
        );
        // Old readers simply skip the new field.
        assert_eq!(check(Mode::Forward, &v2, &[(1, avro(V1))]), vec![]);
    }

    #[test]
    fn avro_renaming_without_an_alias_fails_and_with_one_passes() {
        let renamed =
            avro(r#"{"name":"customerId","type":"string"},{"name":"email","type":"string"}"#);
        let found = check(Mode::Backward, &renamed, &[(1, avro(V1))]);
        assert!(
            found.iter().any(|b| b.message.contains("customerId")),
            "{found:?}"
        );
        let aliased = avro(
            r#"{"name":"customerId","type":"string","aliases":["customerID"]},{"name":"email","type":"string"}"#,
        );
        assert_eq!(check(Mode::Backward, &aliased, &[(1, avro(V1))]), vec![]);
    }

    #[test]
    fn transitive_modes_compare_every_earlier_version() {
        let v1 = avro(r#"{"name":"a","type":"string"}"#);
        let v2 = avro(r#"{"name":"a","type":"string"},{"name":"b","type":"string","default":""}"#);
        // v3 drops b's default-free predecessor `a`... and adds `c` without a default
        // relative to v1 only through v2's shape.
        let v3 = avro(r#"{"name":"b","type":"string"}"#);
        let earlier = [(1, v1), (2, v2)];
        assert_eq!(check(Mode::Backward, &v3, &earlier), vec![]);
        let found = check(Mode::BackwardTransitive, &v3, &earlier);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].version, 1);
        assert_eq!(check(Mode::None, &v3, &earlier), vec![]);
    }

    #[test]
    fn json_type_change_is_named_by_path() {
        let v1 = ParsedSchema::parse(
            SchemaType::Json,
            r#"{"type":"object","properties":{"customerID":{"type":"string"}}}"#,
        )
        .expect("valid");
        let v2 = ParsedSchema::parse(
            SchemaType::Json,
            r#"{"type":"object","properties":{"customerID":{"type":"integer"}}}"#,
        )
        .expect("valid");
        let found = check(Mode::Backward, &v2, &[(1, v1)]);
        assert!(
            found
                .iter()
                .any(|b| b.message == "#/properties/customerID: type changed string → integer"),
            "{found:?}"
        );
    }

    #[test]
    fn modes_parse_by_confluent_name() {
        for mode in Mode::ALL {
            assert_eq!(Mode::parse(mode.as_str()), Some(mode));
        }
        assert_eq!(Mode::parse("full_transitive"), Some(Mode::FullTransitive));
        assert_eq!(Mode::parse("SIDEWAYS"), None);
    }
}
