//! Registering a schema with a reference (`references` on
//! `POST /registry/subjects/{s}/versions`): the first byte picks Avro, JSON Schema or
//! Protobuf; the rest is the referencing schema and the referenced one, separated by a NUL
//! byte. The referenced schema is registered first (it must parse on its own), under the
//! name each language uses it by (`dep` for Avro named types, `dep.json` for a JSON
//! Schema `$ref`, `dep.proto` for a Protobuf import); the referencing one is then resolved
//! with it, as registration does, and compared with itself.
#![no_main]

use domain::registry::compat::{self, Mode};
use domain::registry::{Dependencies, Dependency, ParsedSchema, Reference, SchemaType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (kind, name) = match selector % 3 {
        0 => (SchemaType::Avro, "dep"),
        1 => (SchemaType::Json, "dep.json"),
        _ => (SchemaType::Protobuf, "dep.proto"),
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let Some((main, dep)) = text.split_once('\0') else {
        return;
    };
    let Ok(dep) = ParsedSchema::parse(kind, dep) else {
        return;
    };
    let reference = Reference {
        name: name.to_string(),
        subject: "shared".to_string(),
        version: 1,
    };
    let mut reached = Dependencies::default();
    reached.insert(
        "shared",
        1,
        Dependency {
            schema_type: kind,
            schema: dep.canonical,
            references: Vec::new(),
        },
    );
    if let Ok(parsed) = ParsedSchema::parse_with(kind, main, vec![reference], &reached) {
        let _ = parsed.fingerprint();
        let _ = compat::check(Mode::FullTransitive, &parsed, &[(1, parsed.clone())]);
    }
});
