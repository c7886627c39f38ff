//! Schema registry compatibility (`POST /registry/compatibility/…`, and every registration
//! under a mode): the first byte picks the schema type and the mode, the rest is two
//! schemas separated by a NUL byte (the new one first). When both parse, the checker
//! compares them both ways.
#![no_main]

use domain::registry::compat::{self, Mode};
use domain::registry::{ParsedSchema, SchemaType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let kind = match selector % 3 {
        0 => SchemaType::Avro,
        1 => SchemaType::Json,
        _ => SchemaType::Protobuf,
    };
    let mode = Mode::ALL[usize::from(selector / 3) % Mode::ALL.len()];
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let Some((new, old)) = text.split_once('\0') else {
        return;
    };
    let (Ok(new), Ok(old)) = (ParsedSchema::parse(kind, new), ParsedSchema::parse(kind, old))
    else {
        return;
    };
    let _ = compat::check(mode, &new, &[(1, old.clone())]);
    let _ = compat::can_read(&old, &new);
});
