use std::cell::Cell;

use apache_avro::types::Value as Avro;
use proptest::prelude::*;
use serde_json::json;

use super::*;

const ORDER: &str = r#"{"type": "record", "name": "OrderPlaced", "namespace": "meshmart.sales", "fields": [
    {"name": "orderId", "type": "string"},
    {"name": "channel", "type": ["null", "string"], "default": null},
    {"name": "total", "type": "double"},
    {"name": "placedAt", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "lines", "type": {"type": "array", "items": {"type": "record", "name": "Line", "fields": [
        {"name": "sku", "type": "string"}, {"name": "quantity", "type": "int"}]}}},
    {"name": "returnLine", "type": ["null", "Line"], "default": null}
]}"#;

const ORDER_JSON: &str = r#"{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
    "properties": {"orderId": {"type": "string"}, "total": {"type": "number"}},
    "required": ["orderId"], "additionalProperties": false}"#;

fn schemas() -> HashMap<u32, ParsedSchema> {
    let avro = |text: &str| ParsedSchema::parse(SchemaType::Avro, text).expect("valid Avro");
    HashMap::from([
        (1, avro(ORDER)),
        (
            2,
            ParsedSchema::parse(SchemaType::Json, ORDER_JSON).expect("valid JSON Schema"),
        ),
        // Registered, but under another subject.
        (3, avro(r#""string""#)),
        (
            4,
            avro(
                r#"{"type": "record", "name": "Node", "fields": [
                {"name": "value", "type": "long"}, {"name": "next", "type": ["null", "Node"]}]}"#,
            ),
        ),
        (5, avro(r#"{"type": "array", "items": "null"}"#)),
    ])
}

fn subject() -> HashSet<u32> {
    HashSet::from([1, 2, 4, 5])
}

fn encode(schema_text: &str, value: Avro) -> Vec<u8> {
    let schema = ParsedSchema::parse(SchemaType::Avro, schema_text).expect("valid");
    let writer = apache_avro::writer::datum::GenericDatumWriter::builder(
        schema.avro().expect("an Avro schema"),
    )
    .build()
    .expect("a writer");
    writer.write_value_to_vec(value).expect("encodes")
}

fn order() -> Avro {
    let line = |sku: &str, quantity: i32| {
        Avro::Record(vec![
            ("sku".into(), Avro::String(sku.into())),
            ("quantity".into(), Avro::Int(quantity)),
        ])
    };
    Avro::Record(vec![
        ("orderId".into(), Avro::String("o-1".into())),
        (
            "channel".into(),
            Avro::Union(1, Box::new(Avro::String("web".into()))),
        ),
        ("total".into(), Avro::Double(12.5)),
        ("placedAt".into(), Avro::TimestampMillis(1_700_000_000_000)),
        (
            "lines".into(),
            Avro::Array(vec![line("a", 2), line("b", 1)]),
        ),
        ("returnLine".into(), Avro::Union(0, Box::new(Avro::Null))),
    ])
}

fn decode_with(bytes: &[u8]) -> Result<Decoded, WireError> {
    decode(bytes, &schemas(), &subject())
}

#[test]
fn avro_records_decode_to_json() {
    let bytes = frame(1, &encode(ORDER, order()));
    assert_eq!(&bytes[..5], &[0, 0, 0, 0, 1]);
    let decoded = decode_with(&bytes).expect("decodes");
    assert_eq!(decoded.schema_id, 1);
    assert_eq!(
        decoded.value,
        json!({
            "orderId": "o-1", "channel": "web", "total": 12.5, "placedAt": 1_700_000_000_000i64,
            "lines": [{"sku": "a", "quantity": 2}, {"sku": "b", "quantity": 1}],
            "returnLine": null
        })
    );
}

#[test]
fn json_records_are_validated_against_their_schema() {
    let decoded = decode_with(&frame(2, br#"{"orderId": "o-1", "total": 3}"#)).expect("valid");
    assert_eq!(decoded.value, json!({"orderId": "o-1", "total": 3}));
    let missing = decode_with(&frame(2, br#"{"total": 3}"#)).expect_err("orderId is required");
    assert_eq!(missing.reason(), "invalid");
    assert!(missing.to_string().contains("orderId"), "{missing}");
}

#[test]
fn every_bad_record_has_a_reason() {
    let good = encode(ORDER, order());
    let mut trailing = frame(1, &good);
    trailing.push(7);
    let deep_json = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "truncated"),
        ("header cut short", vec![0, 0, 0], "truncated"),
        (
            "no magic byte",
            br#"{"orderId": "o-1"}"#.to_vec(),
            "not_wire_format",
        ),
        ("magic byte 1", vec![1, 0, 0, 0, 1, 2], "not_wire_format"),
        ("unknown id", frame(99, &good), "unknown_schema_id"),
        (
            "another subject's id",
            frame(3, &good),
            "schema_not_of_subject",
        ),
        (
            "avro cut short",
            frame(1, &good[..good.len() - 3]),
            "undecodable",
        ),
        ("avro with trailing bytes", trailing, "undecodable"),
        ("garbage", frame(1, &[0xff; 64]), "undecodable"),
        (
            "huge string length",
            frame(
                1,
                &[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ),
            "undecodable",
        ),
        (
            "json under an avro id",
            frame(1, br#"{"orderId": "o-1"}"#),
            "undecodable",
        ),
        (
            "not utf-8",
            frame(2, &[0x7b, 0xff, 0xfe, 0x7d]),
            "undecodable",
        ),
        ("not json", frame(2, b"{orderId: o-1"), "undecodable"),
        (
            "json nested too deep",
            frame(2, deep_json.as_bytes()),
            "undecodable",
        ),
        (
            "over the size limit",
            frame(2, &vec![b' '; DEFAULT_MAX_RECORD_BYTES]),
            "too_large",
        ),
        ("a recursive schema", frame(4, &[2, 0]), "undecodable"),
        (
            "an array of nulls",
            frame(5, &[0xfe, 0xff, 0xff, 0xff, 0x0f, 0]),
            "undecodable",
        ),
    ];
    for (name, bytes, reason) in cases {
        let error = decode_with(&bytes).expect_err(name);
        assert_eq!(error.reason(), reason, "{name}: {error}");
        assert!(error.to_string().chars().count() < 400, "{name}: {error}");
    }
}

#[test]
fn unsafe_avro_schemas_say_why_they_are_not_decoded() {
    let recursive = decode_with(&frame(4, &[2, 0])).expect_err("recursive");
    assert!(recursive.to_string().contains("recursive"), "{recursive}");
    let nulls = decode_with(&frame(5, &[2, 0])).expect_err("zero-width items");
    assert!(nulls.to_string().contains("zero-width"), "{nulls}");
}

#[test]
fn schemas_are_looked_up_once_per_id() {
    let calls = Cell::new(0);
    let all = schemas();
    let lookup = |id: u32| {
        calls.set(calls.get() + 1);
        all.get(&id).cloned()
    };
    let mut decoder = Decoder::new(DEFAULT_MAX_RECORD_BYTES);
    let bytes = frame(2, br#"{"orderId": "o-1"}"#);
    for _ in 0..3 {
        decoder
            .decode(&bytes, &subject(), &lookup)
            .expect("decodes");
    }
    assert_eq!(calls.get(), 1);
    // An id the subject no longer lists is refused even when cached.
    let error = decoder
        .decode(&bytes, &HashSet::from([1]), &lookup)
        .expect_err("not of the subject any more");
    assert_eq!(error.reason(), "schema_not_of_subject");
}

#[test]
fn the_port_schemas_meshmart_registers_decode() {
    let document = crate::demo::catalog::contracts()
        .into_iter()
        .find(|d| d["dataProduct"] == "order-placed")
        .expect("the demo has order-placed");
    let contract = crate::contracts::Contract::from_document(document).expect("maps");
    let mut port = contract.ports[0].clone();
    port.format = "avro".to_string();
    let (kind, schema) = crate::registry::schema::port_schema("meshmart.sales", &port);
    let parsed = ParsedSchema::parse(kind, &schema.to_string()).expect("valid");
    assert!(unbounded(parsed.avro().expect("Avro")).is_none());
}

proptest! {
    #[test]
    fn decoding_never_panics(
        id in prop_oneof![Just(1u32), Just(2), Just(3), Just(4), Just(5), any::<u32>()],
        payload in prop::collection::vec(any::<u8>(), 0..256),
        magic in prop_oneof![Just(0u8), any::<u8>()],
    ) {
        let mut bytes = frame(id, &payload);
        bytes[0] = magic;
        let _ = decode_with(&bytes);
        let _ = decode_with(&payload);
    }

    #[test]
    fn mutated_avro_records_never_panic(cut in 0usize..64, flips in prop::collection::vec((0usize..64, any::<u8>()), 0..4)) {
        let mut payload = encode(ORDER, order());
        for (at, byte) in flips {
            if let Some(b) = payload.get_mut(at) {
                *b ^= byte;
            }
        }
        payload.truncate(payload.len().saturating_sub(cut));
        let _ = decode_with(&frame(1, &payload));
    }
}

/// Every supported Avro type, named types referred to by name, and a namespace.
const EVERY_TYPE: &str = r#"{"type": "record", "name": "Every", "namespace": "meshmart.test", "fields": [
    {"name": "flag", "type": "boolean"},
    {"name": "count", "type": "int"},
    {"name": "big", "type": "long"},
    {"name": "ratio", "type": "float"},
    {"name": "amount", "type": "double"},
    {"name": "blob", "type": "bytes"},
    {"name": "text", "type": "string"},
    {"name": "hash", "type": {"type": "fixed", "name": "Hash", "size": 4}},
    {"name": "colour", "type": {"type": "enum", "name": "Colour", "symbols": ["RED", "GREEN", "BLUE"]}},
    {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "tags", "type": {"type": "map", "values": ["null", "string", "long"]}},
    {"name": "points", "type": {"type": "array", "items": {"type": "record", "name": "Point", "fields": [
        {"name": "x", "type": "double"}, {"name": "shade", "type": "Colour"}]}}},
    {"name": "spare", "type": ["null", "Point", "Hash"]}
]}"#;

fn every(seed: &[u8], text: String, tags: Vec<(String, Option<i64>)>) -> Avro {
    let b = |i: usize| seed.get(i).copied().unwrap_or(7);
    let point = |i: usize| {
        Avro::Record(vec![
            ("x".into(), Avro::Double(f64::from(b(i)) / 3.0)),
            (
                "shade".into(),
                Avro::Enum(
                    u32::from(b(i) % 3),
                    ["RED", "GREEN", "BLUE"][usize::from(b(i) % 3)].into(),
                ),
            ),
        ])
    };
    Avro::Record(vec![
        ("flag".into(), Avro::Boolean(b(0) % 2 == 0)),
        ("count".into(), Avro::Int(i32::from(b(1)) * -70_000)),
        ("big".into(), Avro::Long(i64::from(b(2)) << 40)),
        ("ratio".into(), Avro::Float(f32::from(b(3)) / 7.0)),
        ("amount".into(), Avro::Double(-f64::from(b(4)) * 1e6)),
        ("blob".into(), Avro::Bytes(seed.to_vec())),
        ("text".into(), Avro::String(text)),
        ("hash".into(), Avro::Fixed(4, vec![b(0), b(1), b(2), b(3)])),
        (
            "colour".into(),
            Avro::Enum(
                u32::from(b(5) % 3),
                ["RED", "GREEN", "BLUE"][usize::from(b(5) % 3)].into(),
            ),
        ),
        ("day".into(), Avro::Date(i32::from(b(6)) * 100)),
        (
            "at".into(),
            Avro::TimestampMillis(1_700_000_000_000 + i64::from(b(7))),
        ),
        (
            "tags".into(),
            Avro::Map(
                tags.into_iter()
                    .map(|(k, v)| {
                        (
                            k,
                            v.map_or(Avro::Union(0, Box::new(Avro::Null)), |n| {
                                Avro::Union(2, Box::new(Avro::Long(n)))
                            }),
                        )
                    })
                    .collect(),
            ),
        ),
        (
            "points".into(),
            Avro::Array((0..usize::from(b(8) % 4)).map(point).collect()),
        ),
        (
            "spare".into(),
            match b(9) % 3 {
                0 => Avro::Union(0, Box::new(Avro::Null)),
                1 => Avro::Union(1, Box::new(point(9))),
                _ => Avro::Union(2, Box::new(Avro::Fixed(4, vec![1, 2, 3, 4]))),
            },
        ),
    ])
}

/// What Apache Avro makes of a payload: its reader, then its conversion to JSON.
fn apache(schema: &Schema, payload: &[u8]) -> Option<Value> {
    decode_avro(schema, payload).ok()
}

#[test]
fn the_fast_reader_covers_plain_schemas_and_leaves_the_rest() {
    let parsed = |text: &str| ParsedSchema::parse(SchemaType::Avro, text).expect("valid");
    assert!(avro::Fast::new(parsed(EVERY_TYPE).avro().expect("Avro")).is_some());
    assert!(avro::Fast::new(parsed(ORDER).avro().expect("Avro")).is_some());
    let decimal = r#"{"type": "record", "name": "Price", "fields": [
        {"name": "value", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}}]}"#;
    assert!(avro::Fast::new(parsed(decimal).avro().expect("Avro")).is_none());
}

proptest! {
    /// The fast reader and Apache Avro (reader, then conversion to JSON) agree on every
    /// payload: the same JSON for a good one, an error from both for a broken one. With one
    /// deliberate exception: Apache Avro reads a union whose index is cut off by the end of
    /// the record as `null` (and so passes a truncated record); the fast reader says the
    /// record ends early.
    #[test]
    fn the_fast_reader_reads_what_apache_avro_reads(
        seed in prop::collection::vec(any::<u8>(), 0..12),
        text in "\\PC{0,12}",
        tags in prop::collection::vec(("[a-z]{0,4}", prop::option::of(any::<i64>())), 0..4),
        cut in 0usize..8,
        flips in prop::collection::vec((0usize..96, any::<u8>()), 0..3),
    ) {
        let parsed = ParsedSchema::parse(SchemaType::Avro, EVERY_TYPE).expect("valid");
        let schema = parsed.avro().expect("Avro");
        let fast = avro::Fast::new(schema).expect("covered");
        let mut payload = encode(EVERY_TYPE, every(&seed, text, tags));
        let good = apache(schema, &payload);
        prop_assert!(good.is_some(), "Apache Avro reads what it wrote");
        prop_assert_eq!(fast.decode(&payload).ok(), good);
        for (at, byte) in flips {
            if let Some(b) = payload.get_mut(at) {
                *b ^= byte;
            }
        }
        payload.truncate(payload.len().saturating_sub(cut));
        match (fast.decode(&payload), apache(schema, &payload)) {
            (Ok(fast), apache) => prop_assert_eq!(Some(fast), apache),
            (Err(error), Some(lenient)) => {
                // Only a cut-off last field, the union `spare`, which Apache Avro calls null:
                // cut by `cut`, or by a flip that leaves its last byte a varint's
                // continuation (the index then runs off the end as surely).
                prop_assert_eq!(error, "the record ends early");
                prop_assert_eq!(&lenient["spare"], &Value::Null);
            }
            (Err(_), None) => {}
        }
    }
}

/// JSON text, possibly with a member name given twice or written with an escape, from a
/// few names so that records share some of their fields and not others.
fn json_text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        (-1e9f64..1e9).prop_map(|x| format!("{x:?}")),
        "\\PC{0,6}".prop_map(|s| serde_json::to_string(&s).expect("a string serializes")),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        let name = prop_oneof![
            Just("\"a\""),
            Just("\"b\""),
            Just("\"\\u0061\""),
            Just("\"ccc\""),
            Just("\"dd\""),
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4)
                .prop_map(|items| format!("[{}]", items.join(","))),
            prop::collection::vec((name, inner), 0..5).prop_map(|members| {
                let members: Vec<String> = members
                    .into_iter()
                    .map(|(n, v)| format!("{n}:{v}"))
                    .collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
}

proptest! {
    /// Parsed over whatever the record before left (a whole value, or part of one when it
    /// failed), by a reader that parsed it, a JSON document is what serde_json makes of it
    /// alone, and fails when that fails.
    #[test]
    fn json_read_in_place_is_json_read_afresh(
        texts in prop::collection::vec((json_text(), 0usize..3), 1..6),
    ) {
        let mut out = Value::Null;
        let mut reader = reuse::JsonReader::default();
        for (text, cut) in texts {
            let text = &text[..text.floor_char_boundary(text.len() - cut.min(text.len()))];
            let fresh = serde_json::from_str::<Value>(text);
            let in_place = reader.read_into(text, &mut out);
            match fresh {
                Ok(fresh) => {
                    prop_assert!(in_place.is_ok(), "{text}: {in_place:?}");
                    prop_assert_eq!(&out, &fresh, "{}", text);
                }
                Err(_) => prop_assert!(in_place.is_err(), "{text} parsed in place"),
            }
        }
    }

    /// The fast Avro reader writing over the record before (or over what a broken record
    /// left of it) reads what it reads afresh.
    #[test]
    fn the_fast_reader_in_place_reads_what_it_reads_afresh(
        records in prop::collection::vec((
            prop::collection::vec(any::<u8>(), 0..12),
            "\\PC{0,12}",
            prop::collection::vec(("[a-z]{0,4}", prop::option::of(any::<i64>())), 0..4),
            0usize..4,
        ), 1..6),
    ) {
        let parsed = ParsedSchema::parse(SchemaType::Avro, EVERY_TYPE).expect("valid");
        let fast = avro::Fast::new(parsed.avro().expect("Avro")).expect("covered");
        let mut out = Value::Null;
        for (seed, text, tags, cut) in records {
            let mut payload = encode(EVERY_TYPE, every(&seed, text, tags));
            payload.truncate(payload.len() - cut);
            match fast.decode(&payload) {
                Ok(fresh) => {
                    prop_assert!(fast.decode_into(&payload, &mut out).is_ok());
                    prop_assert_eq!(&out, &fresh);
                }
                Err(_) => prop_assert!(fast.decode_into(&payload, &mut out).is_err()),
            }
        }
    }
}

#[test]
fn a_record_decoded_in_place_loses_the_fields_the_one_before_had() {
    let lookup = schemas();
    let mut decoder = Decoder::new(DEFAULT_MAX_RECORD_BYTES);
    let mut value_of = |bytes: &[u8]| -> Value {
        let decoded = decoder.decode(bytes, &subject(), &lookup).expect("valid");
        decoded.value().clone()
    };
    let full = frame(2, br#"{"orderId":"o-1","total":12.5}"#);
    let short = frame(2, br#"{"orderId":"o-2"}"#);
    let twice = frame(2, br#"{"orderId":"o-3","orderId":"o-4"}"#);
    assert_eq!(value_of(&full), json!({"orderId": "o-1", "total": 12.5}));
    assert_eq!(value_of(&short), json!({"orderId": "o-2"}));
    value_of(&full);
    // Two names, one of them twice: the count of names matches the map's, and still
    // `total` is not among them.
    assert_eq!(value_of(&twice), json!({"orderId": "o-4"}));
}

#[test]
fn a_large_record_is_not_kept_once_read() {
    let lookup = schemas();
    let mut decoder = Decoder::new(DEFAULT_MAX_RECORD_BYTES);
    let full = frame(2, br#"{"orderId":"o-1","total":12.5}"#);
    let mut large = br#"{"orderId":""#.to_vec();
    large.extend(std::iter::repeat_n(b'x', KEEP_RECORD_BYTES));
    large.extend(br#""}"#);
    let decoded = decoder
        .decode(&frame(2, &large), &subject(), &lookup)
        .expect("valid");
    assert_eq!(
        decoded.value()["orderId"].as_str().map(str::len),
        Some(KEEP_RECORD_BYTES)
    );
    drop(decoded);
    assert_eq!(decoder.last, Value::Null);
    // Nor what a large record that failed to parse left.
    decoder.decode(&full, &subject(), &lookup).expect("valid");
    large.truncate(large.len() - 2);
    decoder
        .decode(&frame(2, &large), &subject(), &lookup)
        .expect_err("cut off");
    assert_eq!(decoder.last, Value::Null);
    // A small record's value stays, to be written over by the next.
    decoder.decode(&full, &subject(), &lookup).expect("valid");
    assert_eq!(decoder.last, json!({"orderId": "o-1", "total": 12.5}));
    // Taken, it is the caller's, and the decoder starts the next record afresh.
    let taken = decoder
        .decode(&full, &subject(), &lookup)
        .expect("valid")
        .into_value();
    assert_eq!(taken, json!({"orderId": "o-1", "total": 12.5}));
    assert_eq!(decoder.last, Value::Null);
}

#[test]
fn records_of_schemas_with_references_are_read_with_the_referenced_types() {
    use crate::registry::references::{Dependencies, Dependency, Reference};
    let reference = |name: &str, subject: &str| Reference {
        name: name.to_string(),
        subject: subject.to_string(),
        version: 1,
    };
    // Avro: a shipment whose `to` is `shared.Address` from another subject.
    let address = r#"{"type": "record", "name": "Address", "namespace": "shared",
        "fields": [{"name": "city", "type": "string"}]}"#;
    let mut reached = Dependencies::default();
    reached.insert(
        "shared.Address",
        1,
        Dependency {
            schema_type: SchemaType::Avro,
            schema: address.to_string(),
            references: Vec::new(),
        },
    );
    let shipment = ParsedSchema::parse_with(
        SchemaType::Avro,
        r#"{"type": "record", "name": "Shipment", "fields": [
            {"name": "id", "type": "string"}, {"name": "to", "type": "shared.Address"}]}"#,
        vec![reference("shared.Address", "shared.Address")],
        &reached,
    )
    .expect("resolves");
    let record = Avro::Record(vec![
        ("id".into(), Avro::String("s-1".into())),
        (
            "to".into(),
            Avro::Record(vec![("city".into(), Avro::String("Utrecht".into()))]),
        ),
    ]);
    let payload = apache_avro::writer::datum::GenericDatumWriter::builder(
        shipment.avro().expect("an Avro schema"),
    )
    .build()
    .expect("a writer")
    .write_value_to_vec(record)
    .expect("encodes");
    // JSON Schema: a customer whose `home` is `address.json` from another subject.
    let mut reached = Dependencies::default();
    reached.insert(
        "shared-address",
        1,
        Dependency {
            schema_type: SchemaType::Json,
            schema: r#"{"type": "object", "properties": {"street": {"type": "string"}},
                "required": ["street"]}"#
                .to_string(),
            references: Vec::new(),
        },
    );
    let customer = ParsedSchema::parse_with(
        SchemaType::Json,
        r#"{"type": "object", "properties": {"home": {"$ref": "address.json"}}}"#,
        vec![reference("address.json", "shared-address")],
        &reached,
    )
    .expect("resolves");
    let schemas = HashMap::from([(7, shipment), (8, customer)]);
    let ids = HashSet::from([7, 8]);
    let decoded = decode(&frame(7, &payload), &schemas, &ids).expect("decodes");
    assert_eq!(
        decoded.value,
        json!({"id": "s-1", "to": {"city": "Utrecht"}})
    );
    decode(
        &frame(8, br#"{"home": {"street": "Main 1"}}"#),
        &schemas,
        &ids,
    )
    .expect("valid");
    let invalid = decode(&frame(8, br#"{"home": {"street": 7}}"#), &schemas, &ids)
        .expect_err("the referenced street is a string");
    assert_eq!(invalid.reason(), "invalid", "{invalid}");
}

#[test]
fn protobuf_records_decode_by_their_message_indexes() {
    let schema = ParsedSchema::parse(
        SchemaType::Protobuf,
        r#"syntax = "proto3";
        package meshmart;
        message Parcel { string parcel_id = 1; int64 grams = 2; Depot depot = 3; }
        message Depot { string city = 1; message Dock { int32 number = 1; } }"#,
    )
    .expect("compiles");
    let compiled = schema.protobuf().expect("Protobuf").clone();
    let encode = |indexes: &[i32], json: serde_json::Value| {
        let message = compiled.message(indexes).expect("a message");
        let value = prost_reflect::DynamicMessage::deserialize(message, json).expect("fits");
        let mut payload = protobuf::indexes_prefix(indexes);
        prost::Message::encode(&value, &mut payload).expect("encodes");
        frame(9, &payload)
    };
    let schemas = HashMap::from([(9, schema.clone())]);
    let ids = HashSet::from([9]);
    let parcel = encode(
        &[0],
        json!({"parcel_id": "p-1", "grams": 1200, "depot": {"city": "Utrecht"}}),
    );
    assert_eq!(parcel[5], 0, "the first message is the single index byte 0");
    let decoded = decode(&parcel, &schemas, &ids).expect("decodes");
    assert_eq!(
        decoded.value,
        json!({"parcel_id": "p-1", "grams": 1200, "depot": {"city": "Utrecht"}}),
        "field names as in the .proto, 64-bit numbers as numbers"
    );
    let dock = encode(&[1, 0], json!({"number": 4}));
    assert_eq!(
        decode(&dock, &schemas, &ids).expect("nested").value,
        json!({"number": 4})
    );
    for (bytes, why) in [
        (
            frame(9, &[0x02, 0x0a, 0xff]),
            "an index past the file's messages",
        ),
        (frame(9, &[0x00, 0x0a, 0x05, b'a']), "a length past the end"),
        (frame(9, &[0x80]), "cut-short indexes"),
    ] {
        let error = decode(&bytes, &schemas, &ids).expect_err(why);
        assert_eq!(error.reason(), "undecodable", "{why}: {error}");
    }
}
