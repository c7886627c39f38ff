//! The search box's query language (`GET /api/v1/search?q=`, the search page): words,
//! phrases, filters, negations and their limits.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = domain::search::parse(text);
    }
});
