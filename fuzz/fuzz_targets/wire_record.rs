//! The record checker (every record on a product topic): the Confluent wire format, the
//! schema id, Avro, JSON or Protobuf decoding over the previous record's value (as the
//! checker does, so one decoder reads every input in turn), JSON Schema validation,
//! Protobuf message indexes, and the contract's quality rules. The contract is the demo's
//! customer-signed-up with more rule kinds (`fuzz/contracts/`), registered three times:
//! schema id 1 as JSON Schema, 2 as Avro, 3 as Protobuf.
#![no_main]

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock, PoisonError};

use domain::contracts::{self, Contract};
use domain::quality::wire::Decoder;
use domain::quality::{Checker, Limits, Moment};
use domain::registry::ParsedSchema;
use domain::registry::schema::port_schema_text;
use libfuzzer_sys::fuzz_target;

const CONTRACT: &str = include_str!("../contracts/customer-signed-up.json");

struct Setup {
    decoder: Decoder,
    schemas: HashMap<u32, ParsedSchema>,
    ids: HashSet<u32>,
    checkers: HashMap<u32, Checker>,
}

fn contract(format: &str) -> Contract {
    let mut document: serde_json::Value = serde_json::from_str(CONTRACT).expect("JSON");
    for server in document["servers"].as_array_mut().expect("servers") {
        server["format"] = format.into();
    }
    contracts::import(&document.to_string()).expect("the fuzz contract imports")
}

fn setup() -> Mutex<Setup> {
    let mut schemas = HashMap::new();
    let mut checkers = HashMap::new();
    for (id, format) in [(1, "json"), (2, "avro"), (3, "protobuf")] {
        let contract = contract(format);
        let (kind, schema) = port_schema_text("meshmart.fuzz", &contract.ports[0]);
        let parsed = ParsedSchema::parse(kind, &schema).expect("port schema");
        schemas.insert(id, parsed);
        checkers.insert(id, Checker::new(&contract.quality[0], Limits::default()));
    }
    Mutex::new(Setup {
        decoder: Decoder::new(domain::quality::wire::DEFAULT_MAX_RECORD_BYTES),
        ids: schemas.keys().copied().collect(),
        schemas,
        checkers,
    })
}

static SETUP: OnceLock<Mutex<Setup>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let mut setup = SETUP
        .get_or_init(setup)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let Setup {
        decoder,
        schemas,
        ids,
        checkers,
    } = &mut *setup;
    match decoder.decode(data, ids, schemas) {
        Ok(decoded) => {
            let id = decoded.schema_id;
            if let Some(checker) = checkers.get_mut(&id) {
                let moment = Moment {
                    now: chrono::Utc::now(),
                    record_time: None,
                };
                let _ = checker.check(decoded.value(), moment);
            }
        }
        Err(error) => {
            let _ = error.reason();
        }
    }
});
