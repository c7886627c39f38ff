//! Schema registry registration (`POST /registry/subjects/{s}/versions`): the first byte
//! picks Avro, JSON Schema or Protobuf (`.proto` text or a base64 descriptor), the rest is
//! the schema text; a schema that parses is also written in canonical form, as
//! registration does.
#![no_main]

use domain::registry::{ParsedSchema, SchemaType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let kind = match kind % 3 {
        0 => SchemaType::Avro,
        1 => SchemaType::Json,
        _ => SchemaType::Protobuf,
    };
    if let Ok(text) = std::str::from_utf8(rest) {
        let _ = ParsedSchema::parse(kind, text);
    }
});
