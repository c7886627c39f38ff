//! What a registered schema is: its type (Avro, JSON Schema or Protobuf), parsing with limits (with
//! its references resolved, see [`super::references`]), the canonical text and references
//! that decide identity (keys sorted, no insignificant whitespace) and their fingerprint,
//! and the schemas a contract's output port implies.

use std::fmt::Write as _;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::json_compat;
pub use super::kind::{InvalidSchema, SchemaType};
use super::protobuf::Protobuf;
use super::references::{self, Dependencies, Reference};
use crate::contracts::{Field, OutputPort};

/// The largest schema accepted, in bytes of its text.
pub const MAX_SCHEMA_BYTES: usize = 1024 * 1024;
/// The deepest nesting accepted in a schema document.
const MAX_DEPTH: usize = 64;

/// A schema that parsed: the language, the document, its canonical text, its references,
/// and its resolved form (the references' definitions written in).
#[derive(Clone, Debug)]
pub struct ParsedSchema {
    pub schema_type: SchemaType,
    pub document: Value,
    pub canonical: String,
    /// The other subjects' versions it uses, in the order given.
    pub references: Vec<Reference>,
    /// A JSON Schema with its references' copies (`None`: it has none).
    resolved: Option<Value>,
    /// An Avro schema, its references resolved.
    avro: Option<apache_avro::Schema>,
    /// A Protobuf schema compiled with its imports.
    protobuf: Option<Protobuf>,
}

impl ParsedSchema {
    /// Parses and checks schema text of the given type that has no references.
    pub fn parse(schema_type: SchemaType, text: &str) -> Result<Self, InvalidSchema> {
        Self::parse_with(schema_type, text, Vec::new(), &Dependencies::default())
    }

    /// Parses and checks schema text with its references and every schema they reach.
    pub fn parse_with(
        schema_type: SchemaType,
        text: &str,
        references: Vec<Reference>,
        dependencies: &Dependencies,
    ) -> Result<Self, InvalidSchema> {
        if text.len() > MAX_SCHEMA_BYTES {
            return Err(InvalidSchema(format!(
                "the schema is {} bytes; the limit is {MAX_SCHEMA_BYTES}",
                text.len()
            )));
        }
        if schema_type == SchemaType::Protobuf {
            return Self::compile_protobuf(text, references, dependencies, false);
        }
        let document = parse_json(schema_type, text)?;
        if depth(&document) > MAX_DEPTH {
            return Err(InvalidSchema(format!(
                "the schema nests deeper than {MAX_DEPTH} levels"
            )));
        }
        let (resolved, avro) = resolve(schema_type, &document, &references, dependencies)?;
        if schema_type == SchemaType::Json {
            check_json_schema(resolved.as_ref().unwrap_or(&document))?;
        }
        let mut canonical = String::with_capacity(text.len());
        write_canonical(&document, &mut canonical);
        Ok(Self {
            schema_type,
            document,
            canonical,
            references,
            resolved,
            avro,
            protobuf: None,
        })
    }

    /// A Protobuf schema: compiled with its imports; its canonical text is the compiled
    /// file printed back (so text and serialized descriptors of one schema are one), unless
    /// it is a stored schema whose text is already canonical (`stored`).
    fn compile_protobuf(
        text: &str,
        references: Vec<Reference>,
        dependencies: &Dependencies,
        stored: bool,
    ) -> Result<Self, InvalidSchema> {
        let compiled = Protobuf::compile(text, &references, dependencies)?;
        let canonical = if stored {
            text.to_string()
        } else {
            compiled.canonical()
        };
        Ok(Self {
            schema_type: SchemaType::Protobuf,
            document: Value::String(canonical.clone()),
            canonical,
            references,
            resolved: None,
            avro: None,
            protobuf: Some(compiled),
        })
    }

    /// A schema without references read back from the registry's own table.
    pub fn parse_stored(schema_type: SchemaType, text: &str) -> Result<Self, InvalidSchema> {
        Self::parse_stored_with(schema_type, text, Vec::new(), &Dependencies::default())
    }

    /// A schema read back from the registry's own table, with its references: it was
    /// checked when registered, so only what comparisons need is rebuilt (no JSON Schema
    /// meta-validation or compile).
    pub fn parse_stored_with(
        schema_type: SchemaType,
        text: &str,
        references: Vec<Reference>,
        dependencies: &Dependencies,
    ) -> Result<Self, InvalidSchema> {
        if schema_type == SchemaType::Protobuf {
            return Self::compile_protobuf(text, references, dependencies, true);
        }
        let document = parse_json(schema_type, text)?;
        let (resolved, avro) = resolve(schema_type, &document, &references, dependencies)?;
        Ok(Self {
            schema_type,
            document,
            canonical: text.to_string(),
            references,
            resolved,
            avro,
            protobuf: None,
        })
    }

    /// The SHA-256 of the canonical text (and of the references, when there are any):
    /// equal for schemas that differ only in key order or whitespace.
    pub fn fingerprint(&self) -> Vec<u8> {
        let mut digest = Sha256::new();
        digest.update(self.canonical.as_bytes());
        if !self.references.is_empty() {
            digest.update(b"\nreferences:");
            for reference in &self.references {
                digest.update(
                    serde_json::to_string(reference)
                        .unwrap_or_default()
                        .as_bytes(),
                );
            }
        }
        digest.finalize().to_vec()
    }

    /// The document comparisons and record validation work on: a JSON Schema with its
    /// references' definitions copied in (the document itself when it has none).
    pub fn resolved(&self) -> &Value {
        self.resolved.as_ref().unwrap_or(&self.document)
    }

    /// The parsed Avro schema (Avro schemas only).
    pub fn avro(&self) -> Option<&apache_avro::Schema> {
        self.avro.as_ref()
    }

    /// The compiled Protobuf schema (Protobuf schemas only).
    pub fn protobuf(&self) -> Option<&Protobuf> {
        self.protobuf.as_ref()
    }
}

/// The resolved forms of a document: a JSON Schema's copy with its references (when it has
/// any) and an Avro schema's parse.
fn resolve(
    schema_type: SchemaType,
    document: &Value,
    references: &[Reference],
    dependencies: &Dependencies,
) -> Result<(Option<Value>, Option<apache_avro::Schema>), InvalidSchema> {
    Ok(match schema_type {
        SchemaType::Avro if references.is_empty() => (
            None,
            Some(
                apache_avro::Schema::parse(document)
                    .map_err(|e| InvalidSchema(format!("not a valid Avro schema: {e}")))?,
            ),
        ),
        SchemaType::Avro => (
            None,
            Some(references::resolve_avro(document, dependencies)?),
        ),
        SchemaType::Json if references.is_empty() => (None, None),
        SchemaType::Json => (
            Some(references::resolve_json(
                document,
                references,
                dependencies,
            )?),
            None,
        ),
        // Compiled by `ParsedSchema::protobuf`, never through here.
        SchemaType::Protobuf => (None, None),
    })
}

fn parse_json(schema_type: SchemaType, text: &str) -> Result<Value, InvalidSchema> {
    match serde_json::from_str::<Value>(text) {
        Ok(value) => Ok(value),
        // Avro allows a bare primitive name such as `string`.
        Err(_) if schema_type == SchemaType::Avro && is_avro_primitive(text.trim()) => {
            Ok(Value::String(text.trim().to_string()))
        }
        Err(e) => Err(InvalidSchema(format!(
            "the schema is not valid JSON: {e} (line {}, column {})",
            e.line(),
            e.column()
        ))),
    }
}

fn is_avro_primitive(name: &str) -> bool {
    matches!(
        name,
        "null" | "boolean" | "int" | "long" | "float" | "double" | "bytes" | "string"
    )
}

/// A JSON Schema must be an object or a boolean, compile as a JSON Schema (draft-07 or
/// 2020-12, by its `$schema`), and have only local `$ref`s that do not loop.
fn check_json_schema(document: &Value) -> Result<(), InvalidSchema> {
    if !matches!(document, Value::Object(_) | Value::Bool(_)) {
        return Err(InvalidSchema(
            "a JSON Schema must be a JSON object (or true/false)".to_string(),
        ));
    }
    if let Some(dialect) = document.get("$schema").and_then(Value::as_str)
        && !(dialect.contains("draft-07")
            || dialect.contains("2020-12")
            || dialect.contains("2019-09")
            || dialect.contains("draft-06")
            || dialect.contains("draft-04"))
    {
        return Err(InvalidSchema(format!(
            "unsupported JSON Schema dialect `{dialect}`; use draft-07 or 2020-12"
        )));
    }
    json_compat::validate_refs(document)
        .map_err(|problem| InvalidSchema(format!("invalid $ref: {problem}")))?;
    jsonschema::meta::validate(document).map_err(|e| {
        InvalidSchema(format!(
            "not a valid JSON Schema at {}: {e}",
            e.instance_path()
        ))
    })?;
    jsonschema::options()
        .build(document)
        .map_err(|e| InvalidSchema(format!("not a valid JSON Schema: {e}")))?;
    Ok(())
}

fn depth(value: &Value) -> usize {
    // Iterative, so a hostile document cannot exhaust the stack.
    let mut deepest = 0;
    let mut stack = vec![(value, 1)];
    while let Some((value, level)) = stack.pop() {
        deepest = deepest.max(level);
        match value {
            Value::Array(items) => stack.extend(items.iter().map(|v| (v, level + 1))),
            Value::Object(map) => stack.extend(map.values().map(|v| (v, level + 1))),
            _ => {}
        }
    }
    deepest
}

/// Compact JSON with object keys sorted at every level. Arrays keep their order (Avro
/// field order and union order mean something).
pub fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(&Value::String(key.clone()), out);
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => {
            let _ = write!(out, "{scalar}");
        }
    }
}

/// The registry subject of a topic's values (Confluent's TopicNameStrategy).
pub fn value_subject(topic: &str) -> String {
    format!("{topic}-value")
}

/// The topic a TopicNameStrategy subject belongs to, if it is one.
pub fn topic_of_subject(subject: &str) -> Option<&str> {
    subject
        .strip_suffix("-value")
        .or_else(|| subject.strip_suffix("-key"))
}

/// The schema a contract's output port implies, as the text to register.
pub fn port_schema_text(namespace: &str, port: &OutputPort) -> (SchemaType, String) {
    match port_schema(namespace, port) {
        (SchemaType::Protobuf, Value::String(text)) => (SchemaType::Protobuf, text),
        (kind, document) => (kind, document.to_string()),
    }
}

/// The schema a contract's output port implies, in the port's format: an Avro record
/// (optional fields are `null` unions defaulting to null), a proto3 message (as a JSON
/// string of its `.proto` text; optional fields are `optional`, timestamps
/// `google.protobuf.Timestamp`) or a closed draft-07 JSON Schema (so adding an optional
/// field stays backward compatible and removing one does not).
pub fn port_schema(namespace: &str, port: &OutputPort) -> (SchemaType, Value) {
    if port.format.eq_ignore_ascii_case("protobuf") {
        return (
            SchemaType::Protobuf,
            Value::String(proto_message(namespace, port)),
        );
    }
    if port.format.eq_ignore_ascii_case("avro") {
        let mut names = NameGen::default();
        (
            SchemaType::Avro,
            avro_record(
                &port.event_type,
                namespace,
                port.description.as_deref(),
                &port.fields,
                &mut names,
            ),
        )
    } else {
        let mut schema = json_object(&port.fields);
        if let Value::Object(map) = &mut schema {
            let mut head = Map::new();
            head.insert(
                "$schema".into(),
                json!("http://json-schema.org/draft-07/schema#"),
            );
            head.insert("title".into(), json!(port.event_type));
            if let Some(description) = &port.description {
                head.insert("description".into(), json!(description));
            }
            head.append(map);
            *map = head;
        }
        (SchemaType::Json, schema)
    }
}

fn kind_of(field: &Field) -> String {
    field
        .logical_type
        .as_deref()
        .or(field.physical_type.as_deref())
        .unwrap_or("string")
        .to_ascii_lowercase()
}

fn json_object(fields: &[Field]) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for field in fields {
        let mut property = json_type(field);
        if let (Value::Object(map), Some(description)) = (&mut property, &field.description) {
            map.insert("description".into(), json!(description));
        }
        properties.insert(field.name.clone(), property);
        if field.required {
            required.push(json!(field.name));
        }
    }
    let mut schema = Map::new();
    schema.insert("type".into(), json!("object"));
    schema.insert("properties".into(), Value::Object(properties));
    if !required.is_empty() {
        schema.insert("required".into(), Value::Array(required));
    }
    schema.insert("additionalProperties".into(), json!(false));
    Value::Object(schema)
}

fn json_type(field: &Field) -> Value {
    let physical = field
        .physical_type
        .as_deref()
        .unwrap_or("")
        .to_ascii_lowercase();
    match kind_of(field).as_str() {
        "object" | "record" | "struct" => json_object(&field.fields),
        "array" => json!({ "type": "array" }),
        "integer" | "int" | "long" | "bigint" => json!({ "type": "integer" }),
        "number" | "double" | "float" | "decimal" => json!({ "type": "number" }),
        "boolean" | "bool" => json!({ "type": "boolean" }),
        "date" => json!({ "type": "string", "format": "date" }),
        "timestamp" | "datetime" | "timestamp-millis" => {
            json!({ "type": "string", "format": "date-time" })
        }
        _ if physical == "uuid" => json!({ "type": "string", "format": "uuid" }),
        _ => json!({ "type": "string" }),
    }
}

/// A proto3 file with the port's event as its first message (nested objects as nested
/// messages), in package `namespace`.
fn proto_message(namespace: &str, port: &OutputPort) -> String {
    let mut body = String::new();
    let mut timestamps = false;
    proto_fields(&port.fields, 1, &mut body, &mut timestamps);
    let mut out = String::from("syntax = \"proto3\";\n");
    if !namespace.is_empty() {
        let _ = writeln!(out, "package {namespace};");
    }
    if timestamps {
        out.push_str("import \"google/protobuf/timestamp.proto\";\n");
    }
    if let Some(description) = &port.description {
        for line in description.lines() {
            let _ = writeln!(out, "// {line}");
        }
    }
    let _ = write!(
        out,
        "message {} {{\n{body}}}\n",
        avro_name(&port.event_type)
    );
    out
}

fn proto_fields(fields: &[Field], depth: usize, out: &mut String, timestamps: &mut bool) {
    let indent = "  ".repeat(depth);
    for (i, field) in fields.iter().enumerate() {
        let name = avro_name(&field.name);
        let physical = field
            .physical_type
            .as_deref()
            .unwrap_or("")
            .to_ascii_lowercase();
        let kind = match kind_of(field).as_str() {
            "object" | "record" | "struct" => {
                let mut message = name.clone();
                if let Some(first) = message.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                let _ = writeln!(out, "{indent}message {message} {{");
                proto_fields(&field.fields, depth + 1, out, timestamps);
                let _ = writeln!(out, "{indent}}}");
                message
            }
            "array" => "repeated string".to_string(),
            "integer" | "int" | "long" | "bigint" if physical == "int" => "int32".to_string(),
            "integer" | "int" | "long" | "bigint" => "int64".to_string(),
            "number" | "double" | "float" | "decimal" if physical == "float" => "float".to_string(),
            "number" | "double" | "float" | "decimal" => "double".to_string(),
            "boolean" | "bool" => "bool".to_string(),
            "timestamp" | "datetime" | "timestamp-millis" => {
                *timestamps = true;
                "google.protobuf.Timestamp".to_string()
            }
            _ => "string".to_string(),
        };
        let label = if field.required || kind.starts_with("repeated") {
            ""
        } else {
            "optional "
        };
        let _ = writeln!(out, "{indent}{label}{kind} {name} = {};", i + 1);
    }
}

/// Unique Avro names for nested records.
#[derive(Default)]
struct NameGen {
    used: std::collections::HashSet<String>,
}

impl NameGen {
    fn claim(&mut self, wanted: &str) -> String {
        let base = avro_name(wanted);
        let mut name = base.clone();
        let mut n = 2;
        while !self.used.insert(name.clone()) {
            name = format!("{base}{n}");
            n += 1;
        }
        name
    }
}

/// A valid Avro namespace from arbitrary parts (`["meshmart", "3pl-ops"]` →
/// `meshmart._3pl_ops`).
pub fn avro_namespace(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|part| avro_name(part))
        .collect::<Vec<_>>()
        .join(".")
}

/// An Avro name: letters, digits and `_`, not starting with a digit.
pub(crate) fn avro_name(text: &str) -> String {
    let mut name: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    name
}

fn avro_record(
    name: &str,
    namespace: &str,
    doc: Option<&str>,
    fields: &[Field],
    names: &mut NameGen,
) -> Value {
    let mut record = Map::new();
    record.insert("type".into(), json!("record"));
    record.insert("name".into(), json!(names.claim(name)));
    if !namespace.is_empty() {
        record.insert("namespace".into(), json!(namespace));
    }
    if let Some(doc) = doc {
        record.insert("doc".into(), json!(doc));
    }
    let fields: Vec<Value> = fields
        .iter()
        .map(|field| {
            let mut entry = Map::new();
            entry.insert("name".into(), json!(avro_name(&field.name)));
            let kind = avro_type(field, namespace, names);
            if field.required {
                entry.insert("type".into(), kind);
            } else {
                entry.insert("type".into(), json!(["null", kind]));
                entry.insert("default".into(), Value::Null);
            }
            if let Some(description) = &field.description {
                entry.insert("doc".into(), json!(description));
            }
            Value::Object(entry)
        })
        .collect();
    record.insert("fields".into(), Value::Array(fields));
    Value::Object(record)
}

fn avro_type(field: &Field, namespace: &str, names: &mut NameGen) -> Value {
    let physical = field
        .physical_type
        .as_deref()
        .unwrap_or("")
        .to_ascii_lowercase();
    match kind_of(field).as_str() {
        "object" | "record" | "struct" => {
            let mut upper = field.name.clone();
            if let Some(first) = upper.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            avro_record(&upper, namespace, None, &field.fields, names)
        }
        "array" => json!({ "type": "array", "items": "string" }),
        "integer" | "int" | "long" | "bigint" if physical == "int" => json!("int"),
        "integer" | "int" | "long" | "bigint" => json!("long"),
        "number" | "double" | "float" | "decimal" if physical == "float" => json!("float"),
        "number" | "double" | "float" | "decimal" => json!("double"),
        "boolean" | "bool" => json!("boolean"),
        "date" => json!({ "type": "int", "logicalType": "date" }),
        "timestamp" | "datetime" | "timestamp-millis" => {
            json!({ "type": "long", "logicalType": "timestamp-millis" })
        }
        _ => json!("string"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_text_ignores_key_order_and_whitespace() {
        let a = ParsedSchema::parse(
            SchemaType::Avro,
            r#"{"type": "record", "name": "A", "fields": [{"name": "x", "type": "int"}]}"#,
        )
        .expect("valid");
        let b = ParsedSchema::parse(
            SchemaType::Avro,
            "{ \"fields\":[{\"type\":\"int\",\"name\":\"x\"}],\n \"name\":\"A\",\"type\":\"record\"}",
        )
        .expect("valid");
        assert_eq!(a.canonical, b.canonical);
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_eq!(
            a.canonical,
            r#"{"fields":[{"name":"x","type":"int"}],"name":"A","type":"record"}"#
        );
    }

    #[test]
    fn bad_schemas_are_refused_with_the_reason() {
        let cases = [
            (SchemaType::Avro, "{\"type\": \"record\"", "not valid JSON"),
            (
                SchemaType::Avro,
                r#"{"type":"record","name":"A"}"#,
                "not a valid Avro schema",
            ),
            (SchemaType::Json, "[1, 2]", "must be a JSON object"),
            (
                SchemaType::Json,
                r#"{"type": 12}"#,
                "not a valid JSON Schema",
            ),
            (
                SchemaType::Json,
                r##"{"$ref": "#/definitions/a", "definitions": {"a": {"$ref": "#/definitions/a"}}}"##,
                "invalid $ref",
            ),
        ];
        for (kind, text, expected) in cases {
            let error = ParsedSchema::parse(kind, text).expect_err(text);
            assert!(error.0.contains(expected), "{text}: {}", error.0);
        }
        let huge = format!("\"{}\"", "a".repeat(MAX_SCHEMA_BYTES));
        assert!(
            ParsedSchema::parse(SchemaType::Json, &huge)
                .expect_err("too large")
                .0
                .contains("limit")
        );
        let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        assert!(ParsedSchema::parse(SchemaType::Json, &deep).is_err());
        assert_eq!(
            SchemaType::parse(Some("XML")).expect_err("unknown").0,
            "unknown schema type `XML`; use AVRO, JSON or PROTOBUF"
        );
    }

    #[test]
    fn a_port_implies_a_valid_schema_in_its_format() {
        let field = |name: &str, kind: &str, required: bool| Field {
            name: name.to_string(),
            logical_type: Some(kind.to_string()),
            physical_type: None,
            required,
            description: None,
            classification: None,
            examples: Vec::new(),
            fields: Vec::new(),
        };
        let mut port = OutputPort {
            event_type: "CustomerSignedUp".to_string(),
            topic: "crm.customer-signed-up.v1".to_string(),
            format: "avro".to_string(),
            description: Some("A customer signed up".to_string()),
            fields: vec![
                field("customerID", "string", true),
                field("signup-source", "string", false),
                field("age", "integer", false),
            ],
        };
        let (kind, schema) = port_schema("meshmart.crm", &port);
        assert_eq!(kind, SchemaType::Avro);
        let parsed = ParsedSchema::parse(kind, &schema.to_string()).expect("valid Avro");
        assert!(parsed.canonical.contains(r#""name":"signup_source""#));
        port.format = "json".to_string();
        let (kind, schema) = port_schema("meshmart.crm", &port);
        assert_eq!(kind, SchemaType::Json);
        ParsedSchema::parse(kind, &schema.to_string()).expect("valid JSON Schema");
        assert_eq!(schema["required"], json!(["customerID"]));
        assert_eq!(schema["properties"]["age"]["type"], "integer");
        port.format = "protobuf".to_string();
        port.fields.push(field("signedUpAt", "timestamp", true));
        let (kind, text) = port_schema_text("meshmart.crm", &port);
        assert_eq!(kind, SchemaType::Protobuf);
        let parsed = ParsedSchema::parse(kind, &text).expect("valid Protobuf");
        for line in [
            "package meshmart.crm;",
            "message CustomerSignedUp {",
            "string customerID = 1;",
            "optional string signup_source = 2;",
            "optional int64 age = 3;",
            ".google.protobuf.Timestamp signedUpAt = 4;",
        ] {
            assert!(
                parsed.canonical.contains(line),
                "{line}: {}",
                parsed.canonical
            );
        }
    }
}
