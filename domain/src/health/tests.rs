use std::collections::HashMap;

use chrono::TimeZone;
use serde_json::json;

use super::*;
use crate::contracts::quality::port_rules;
use crate::registry::{ParsedSchema, SchemaType};

fn now() -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_005, 0)
        .single()
        .expect("valid time")
}

fn document(custom: serde_json::Value) -> serde_json::Value {
    json!({
        "schema": [{
            "name": "OrderPlaced",
            "physicalName": "sales.order-placed.v1",
            "customProperties": custom,
            "properties": [
                {"name": "orderId", "logicalType": "string", "required": true},
                {"name": "total", "logicalType": "number",
                 "logicalTypeOptions": {"exclusiveMinimum": 0}},
            ],
        }],
    })
}

fn schemas() -> HashMap<u32, ParsedSchema> {
    let schema = ParsedSchema::parse_stored(
        SchemaType::Json,
        r#"{"type":"object","required":["orderId"],"properties":{"orderId":{"type":"string"},"total":{"type":"number"}}}"#,
    )
    .expect("valid schema");
    HashMap::from([(7, schema.clone()), (8, schema)])
}

fn port(custom: serde_json::Value) -> PortCheck {
    let quality = port_rules(&document(custom)).expect("valid contract");
    PortCheck::new(Uuid::nil(), &quality[0], HashSet::from([7]), 1 << 20)
}

fn incoming(offset: i64, payload: &[u8]) -> Incoming<'_> {
    Incoming {
        partition: 1,
        offset,
        key: Some(b"o-1"),
        payload: Some(payload),
        timestamp: Some(now() - TimeDelta::milliseconds(30)),
    }
}

#[test]
fn records_are_judged_by_wire_format_schema_and_rules() {
    let mut check = port(json!([]));
    let lookup = schemas();
    let good = wire::frame(7, br#"{"orderId":"o-1","total":12.5}"#);
    let judged = check.judge(&incoming(0, &good), now(), &lookup, Wanted::ALL);
    assert!(judged.valid(), "{judged:?}");
    assert_eq!(judged.value, Some(json!({"orderId": "o-1", "total": 12.5})));

    let negative = wire::frame(7, br#"{"orderId":"o-2","total":-1}"#);
    let judged = check.judge(&incoming(1, &negative), now(), &lookup, Wanted::ALL);
    assert_eq!(judged.reason, Some(QUALITY_REASON));
    assert_eq!(&*judged.failures[0].rule, "total:range");
    assert_eq!(judged.failures[0].field.as_deref(), Some("total"));

    let cases: [(&[u8], &str); 5] = [
        (br#"{"orderId":"o-1"}"#, "not_wire_format"),
        (&[0, 0, 0], "truncated"),
        (&wire::frame(99, b"{}"), "unknown_schema_id"),
        (
            &wire::frame(8, br#"{"orderId":"o-1"}"#),
            "schema_not_of_subject",
        ),
        (&wire::frame(7, b"\xff\xfe"), "undecodable"),
    ];
    for (bytes, reason) in cases {
        let judged = check.judge(&incoming(2, bytes), now(), &lookup, Wanted::ALL);
        assert_eq!(judged.reason, Some(reason), "{bytes:?}");
        assert_eq!(judged.value, None);
    }
    let missing = wire::frame(7, br#"{"total":3}"#);
    assert_eq!(
        check
            .judge(&incoming(3, &missing), now(), &lookup, Wanted::ALL)
            .reason,
        Some("invalid")
    );
    // A tombstone (no value) is counted too, never skipped.
    let tombstone = Incoming {
        payload: None,
        ..incoming(4, b"")
    };
    assert_eq!(
        check.judge(&tombstone, now(), &lookup, Wanted::ALL).reason,
        Some("truncated")
    );
}

#[test]
fn a_failing_record_past_the_samples_is_counted_without_messages() {
    let mut check = port(json!([]));
    let lookup = schemas();
    let topic: Arc<str> = Arc::from("sales.order-placed.v1");
    let mut batch = Batch::default();
    let negative = wire::frame(7, br#"{"orderId":"o-2","total":-5}"#);
    for offset in 0..(INVALID_SAMPLES + 3) {
        let record = incoming(offset, &negative);
        let wanted = batch.wants(Uuid::nil());
        let messages = wanted.messages;
        assert_eq!(messages, offset < INVALID_SAMPLES, "at offset {offset}");
        let judged = check.judge(&record, now(), &lookup, wanted);
        assert_eq!(judged.value.is_some(), messages, "at offset {offset}");
        assert_eq!(judged.reason, Some(QUALITY_REASON));
        assert_eq!(judged.failures.len(), 1);
        assert_eq!(&*judged.failures[0].rule, "total:range");
        assert_eq!(judged.failures[0].message.is_empty(), !messages);
        batch.add(Uuid::nil(), &topic, &record, judged, now());
    }
    let tally = &batch.points[&(Uuid::nil(), step_of(now()))];
    assert_eq!(
        tally.rule_failed.get("total:range"),
        Some(&(INVALID_SAMPLES + 3))
    );
    let kept = &batch.samples[&(Uuid::nil(), false)];
    assert_eq!(kept.len(), INVALID_SAMPLES as usize);
    assert!(kept.iter().all(|s| !s.failures[0].message.is_empty()));
}

#[test]
fn a_batch_adds_up_points_offsets_and_bounded_samples() {
    let mut check = port(json!([]));
    let lookup = schemas();
    let topic: Arc<str> = Arc::from("sales.order-placed.v1");
    let mut batch = Batch::default();
    let good = wire::frame(7, br#"{"orderId":"o-1","total":1}"#);
    for offset in 0..(VALID_SAMPLES + 5) {
        let record = incoming(offset, &good);
        let judged = check.judge(&record, now(), &lookup, Wanted::ALL);
        batch.add(Uuid::nil(), &topic, &record, judged, now());
    }
    let bad = incoming(100, b"not wire");
    let judged = check.judge(&bad, now(), &lookup, Wanted::ALL);
    batch.add(Uuid::nil(), &topic, &bad, judged, now());

    let tally = &batch.points[&(Uuid::nil(), step_of(now()))];
    assert_eq!(tally.records, VALID_SAMPLES + 6);
    assert_eq!(tally.valid, VALID_SAMPLES + 5);
    assert_eq!(tally.invalid.get("not_wire_format"), Some(&1));
    assert_eq!(
        tally.rule_passed().get("total:range"),
        Some(&(VALID_SAMPLES + 5))
    );
    // 30 ms from record to check: the ≤ 50 ms bucket.
    assert_eq!(tally.latency[latency_bucket(30)], VALID_SAMPLES + 6);
    assert_eq!(next_offset(&batch, &topic, 1), Some(101));
    // The first records of a batch are its samples; the rest are counted only.
    let kept = &batch.samples[&(Uuid::nil(), true)];
    assert_eq!(kept.len(), VALID_SAMPLES as usize);
    assert_eq!(kept.last().map(|s| s.offset), Some(VALID_SAMPLES - 1));
    let failing = &batch.samples[&(Uuid::nil(), false)][0];
    assert_eq!(failing.raw_hex.as_deref(), Some(hex(b"not wire").as_str()));
    assert_eq!(failing.reason.as_deref(), Some("not_wire_format"));

    // A record another process already counted only moves the offset.
    batch.skip(&topic, 2, 40);
    assert_eq!(next_offset(&batch, &topic, 2), Some(41));
    assert_eq!(next_offset(&batch, &topic, 1), Some(101));
}

/// The next offset a batch would store for a partition.
fn next_offset(batch: &Batch, topic: &Arc<str>, partition: i32) -> Option<i64> {
    let mut found = batch
        .offsets()
        .filter(|(t, p, _)| *t == topic && *p == partition)
        .map(|(_, _, next)| next);
    let next = found.next();
    assert_eq!(found.next(), None, "one offset per partition");
    next
}

#[test]
fn offsets_interleaved_across_partitions_and_topics_each_keep_their_highest() {
    let orders: Arc<str> = Arc::from("sales.order-placed.v1");
    // The same name from another refresh of the ports: another `Arc`, the same topic.
    let orders_again: Arc<str> = Arc::from("sales.order-placed.v1");
    let signups: Arc<str> = Arc::from("crm.customer-signed-up.v1");
    let mut batch = Batch::default();
    assert!(batch.is_empty());
    batch.skip(&orders, 0, 10);
    assert!(!batch.is_empty());
    batch.skip(&orders, 0, 11);
    batch.skip(&orders, 1, 5);
    batch.skip(&signups, 0, 3);
    batch.skip(&orders, 0, 12);
    // A record behind the partition's highest (a redelivery) never moves it back.
    batch.skip(&orders, 0, 4);
    batch.skip(&orders_again, 1, 2);
    batch.skip(&orders_again, 1, 8);
    assert_eq!(next_offset(&batch, &orders, 0), Some(13));
    assert_eq!(next_offset(&batch, &orders, 1), Some(9));
    assert_eq!(next_offset(&batch, &signups, 0), Some(4));
    assert_eq!(next_offset(&batch, &signups, 1), None);
    assert_eq!(batch.offsets().count(), 3);
}

#[test]
fn a_future_record_time_never_makes_the_stream_look_fresher_than_now() {
    let mut tally = Tally::default();
    let record = Incoming {
        timestamp: Some(now() + TimeDelta::hours(3)),
        ..incoming(0, b"x")
    };
    let judged = wire_failure(&WireError::NotWireFormat, b"x");
    tally.add(&record, &judged, now());
    assert_eq!(tally.last_event_at, Some(now()));
    assert_eq!(tally.latency[0], 1);
}

#[test]
fn the_contract_policy_is_read_from_the_schema_objects_custom_properties() {
    let quarantine = json!([{"property": "contractPolicy", "value": "quarantine"}]);
    assert_eq!(port(quarantine).policy, Policy::Quarantine);
    assert_eq!(port(json!([])).policy, Policy::Monitor);
    let problems = port_rules(&document(
        json!([{"property": "contractPolicy", "value": "drop"}]),
    ))
    .expect_err("an unknown policy is refused");
    assert_eq!(problems[0].pointer, "/schema/0/customProperties/0/value");
}
