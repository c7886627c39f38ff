//! Every official ODCS v3 example (vendored from bitol-io/open-data-contract-standard,
//! Apache-2.0, `fixtures/odcs/LICENSE`) imports, and import → export → import yields the
//! same product.

use std::path::Path;

use domain::contracts::{export, import};

#[test]
fn every_official_example_round_trips() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/odcs");
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures folder")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.to_string_lossy().ends_with(".odcs.yaml"))
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let text = std::fs::read_to_string(&path).expect("readable");
        let first =
            import(&text).unwrap_or_else(|e| panic!("{name} must import: {:?}", e.problems()));
        let exported = export(&first.document);
        let second =
            import(&exported).unwrap_or_else(|e| panic!("{name} re-import: {:?}", e.problems()));
        assert_eq!(first, second, "{name} changed in a round trip");
        assert!(!first.slug.is_empty(), "{name} has a slug");
        checked += 1;
    }
    assert_eq!(checked, 18, "all vendored examples were checked");
}

#[test]
fn the_kafka_example_maps_to_an_output_port() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/odcs");
    let text = std::fs::read_to_string(dir.join("schema--kafka-schema.odcs.yaml")).expect("file");
    let contract = import(&text).expect("imports");
    assert_eq!(contract.slug, "orders-event-stream");
    assert_eq!(contract.version.to_string(), "0.0.1");
    assert_eq!(contract.ports.len(), 1);
    let port = &contract.ports[0];
    assert_eq!(
        (
            port.event_type.as_str(),
            port.topic.as_str(),
            port.format.as_str()
        ),
        ("Orders", "orders", "avro")
    );
    let names: Vec<_> = port
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.required))
        .collect();
    assert_eq!(names, [("cust_id", true), ("prod_id", true), ("qty", true)]);
}
