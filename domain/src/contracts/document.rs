//! Reading an ODCS document's values the way the contract model and its quality rules
//! both need: trimmed text, lists, and each port's record format and topic.

use serde_json::Value;

/// The value of `key` as text (numbers and booleans written out), trimmed; `None` when
/// missing or blank.
pub(super) fn text(value: &Value, key: &str) -> Option<String> {
    match value.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The items of the array at `key` (none when it is missing or not an array).
pub(super) fn list<'a>(value: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    value
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// The format of the contract's records: its Kafka server's `format` (`avro`, `protobuf`
/// or `json`), JSON when it names none.
pub(super) fn port_format(document: &Value) -> String {
    list(document, "servers")
        .find(|server| text(server, "type").as_deref() == Some("kafka"))
        .and_then(|server| text(server, "format"))
        .map(|f| f.to_ascii_lowercase())
        .filter(|f| f == "avro" || f == "json" || f == "protobuf")
        .unwrap_or_else(|| "json".to_string())
}

/// A schema object's topic: its `physicalName`, else its `name`.
pub(super) fn port_topic(object: &Value) -> String {
    text(object, "physicalName")
        .or_else(|| text(object, "name"))
        .unwrap_or_default()
}
