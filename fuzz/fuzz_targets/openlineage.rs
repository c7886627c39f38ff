//! OpenLineage run events (`POST /api/v1/lineage`): the request body through its size
//! limit, JSON, the OpenLineage schema and the reading of its datasets.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = domain::lineage::read_event(data);
});
