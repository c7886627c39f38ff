//! ODCS contract import (`PUT /api/v1/products/{slug}/contract`, the register page): YAML
//! or JSON text through parsing, limits, the ODCS JSON Schema and the mapping onto the
//! catalog's model, quality rules included.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = domain::contracts::import(text);
    }
});
