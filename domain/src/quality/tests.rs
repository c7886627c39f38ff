use chrono::TimeZone;
use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::contracts::quality::port_rules;

fn at(seconds: i64) -> Moment {
    Moment {
        now: Utc
            .timestamp_opt(1_700_000_000 + seconds, 0)
            .single()
            .expect("valid time"),
        record_time: None,
    }
}

fn checker(properties: Value, extra: Value) -> Checker {
    let mut document = json!({
        "schema": [{"name": "OrderPlaced", "physicalName": "sales.order-placed.v1", "properties": properties}],
    });
    if let (Value::Object(map), Value::Object(extra)) = (&mut document, extra) {
        map.extend(extra);
    }
    let ports = port_rules(&document).expect("valid rules");
    Checker::new(&ports[0], Limits::default())
}

/// The failed rules' names for a record.
fn failures(checker: &mut Checker, record: Value, moment: Moment) -> Vec<String> {
    checker
        .check(&record, moment)
        .into_iter()
        .filter(|o| !o.passed())
        .map(|o| o.rule.to_string())
        .collect()
}

#[test]
fn per_record_rules_judge_each_record() {
    let mut checker = checker(
        json!([
            {"name": "orderId", "logicalType": "string", "required": true,
             "logicalTypeOptions": {"pattern": "^o-[0-9]+$", "maxLength": 8}},
            {"name": "total", "logicalType": "number",
             "logicalTypeOptions": {"minimum": 0, "exclusiveMaximum": 1000}},
            {"name": "email", "logicalType": "string", "logicalTypeOptions": {"format": "email"}},
            {"name": "status", "logicalType": "string", "quality": [
                {"metric": "invalidValues", "mustBe": 0, "arguments": {"validValues": ["placed", "paid"]}}
            ]},
        ]),
        json!({}),
    );
    let cases: &[(Value, &[&str])] = &[
        (
            json!({"orderId": "o-1", "total": 10, "email": "a@b.io", "status": "paid"}),
            &[],
        ),
        (json!({"orderId": "o-1", "total": "999.5"}), &[]),
        (json!({"total": 10}), &["orderId:required"]),
        (json!({"orderId": null}), &["orderId:required"]),
        (json!({"orderId": "x-1"}), &["orderId:pattern"]),
        (json!({"orderId": "o-123456789"}), &["orderId:length"]),
        (json!({"orderId": "o-1", "total": -1}), &["total:range"]),
        (json!({"orderId": "o-1", "total": 1000}), &["total:range"]),
        (json!({"orderId": "o-1", "total": "lots"}), &["total:range"]),
        (
            json!({"orderId": "o-1", "email": "not an email"}),
            &["email:format"],
        ),
        (
            json!({"orderId": "o-1", "status": "lost"}),
            &["status:invalidValues"],
        ),
        (json!({"orderId": "o-1", "status": null}), &[]),
        (json!("not even an object"), &["orderId:required"]),
        (json!([1, 2, 3]), &["orderId:required"]),
    ];
    for (seconds, (record, expected)) in cases.iter().enumerate() {
        let found = failures(&mut checker, record.clone(), at(seconds as i64));
        assert_eq!(found, *expected, "{record}");
    }
}

#[test]
fn failures_say_what_is_wrong() {
    let mut checker = checker(
        json!([{"name": "total", "logicalType": "integer", "logicalTypeOptions": {"maximum": 5}}]),
        json!({}),
    );
    let outcomes = checker.check(&json!({"total": 7}), at(0));
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].field.as_deref(), Some("total"));
    assert_eq!(
        outcomes[0].verdict,
        Verdict::Failed("`total` is 7; the contract wants at most 5".to_string())
    );
}

#[test]
fn a_completeness_ratio_is_judged_over_the_window() {
    // At most 50 % of records may miss `channel` within 10 s.
    let mut checker = checker(
        json!([{"name": "channel", "quality": [{
            "metric": "missingValues", "mustBeLessOrEqualTo": 50, "unit": "percent",
            "arguments": {"missingValues": [null, "", "n/a"], "windowSeconds": 10}
        }]}]),
        json!({}),
    );
    let good = || json!({"channel": "web"});
    let missing = || json!({"channel": "n/a"});
    let steps: &[(i64, Value, bool)] = &[
        (0, good(), true),
        (1, missing(), true),   // 1 of 2: 50 %
        (2, missing(), false),  // 2 of 3
        (3, good(), true),      // good records always pass
        (4, json!({}), true),   // 3 of 5 missing... absent counts as missing
        (30, missing(), false), // the window emptied: 1 of 1
        (31, good(), true),
        (32, good(), true),
        (33, missing(), true), // 2 of 4
    ];
    let mut results = Vec::new();
    for (seconds, record, _) in steps {
        let outcome = checker.check(record, at(*seconds));
        results.push(outcome[0].passed());
    }
    let expected: Vec<bool> = steps.iter().map(|(_, _, passed)| *passed).collect();
    // Step 4: 3 of 5 missing is over 50 %, so the absent value fails.
    let mut expected = expected;
    expected[4] = false;
    assert_eq!(results, expected);
    let failed = checker.check(&missing(), at(34));
    let Verdict::Failed(message) = &failed[0].verdict else {
        panic!("3 of 5 missing: {failed:?}");
    };
    assert!(message.contains("60 % in the last 10 s"), "{message}");
}

#[test]
fn a_key_may_not_repeat_within_its_window() {
    let mut checker = checker(
        json!([{"name": "orderId", "quality": [{
            "metric": "duplicateValues", "mustBe": 0, "arguments": {"windowSeconds": 60}
        }]}]),
        json!({}),
    );
    let order = |id: &str| json!({"orderId": id});
    assert!(failures(&mut checker, order("a"), at(0)).is_empty());
    assert!(failures(&mut checker, order("b"), at(1)).is_empty());
    assert_eq!(
        failures(&mut checker, order("a"), at(30)),
        ["orderId:duplicateValues"]
    );
    // Last seen at 30 s, so still inside the window at 89 s, and gone at 91 s.
    assert_eq!(
        failures(&mut checker, order("a"), at(89)),
        ["orderId:duplicateValues"]
    );
    assert!(failures(&mut checker, order("a"), at(150)).is_empty());
    assert!(failures(&mut checker, order("b"), at(151)).is_empty());
    // Records without the key are no duplicates of each other.
    assert!(failures(&mut checker, json!({}), at(152)).is_empty());
    assert!(failures(&mut checker, json!({}), at(153)).is_empty());
    // 1 and 1.0 are the same key.
    assert!(failures(&mut checker, json!({"orderId": 1}), at(154)).is_empty());
    assert_eq!(
        failures(&mut checker, json!({"orderId": 1.0}), at(155)),
        ["orderId:duplicateValues"]
    );
}

#[test]
fn a_composite_key_counts_all_its_parts() {
    let mut checker = checker(
        json!([{"name": "tenant"}, {"name": "order"}]),
        json!({"schema": [{"name": "O", "properties": [{"name": "tenant"}, {"name": "order"}],
            "quality": [{"metric": "duplicateValues", "mustBe": 0, "arguments": {"properties": ["tenant", "order"]}}]}]}),
    );
    assert!(failures(&mut checker, json!({"tenant": "t1", "order": 1}), at(0)).is_empty());
    assert!(failures(&mut checker, json!({"tenant": "t2", "order": 1}), at(1)).is_empty());
    assert_eq!(
        failures(&mut checker, json!({"tenant": "t1", "order": 1}), at(2)),
        ["duplicateValues"]
    );
}

#[test]
fn uniqueness_holds_a_bounded_number_of_keys() {
    let document =
        json!({"schema": [{"name": "O", "properties": [{"name": "id", "unique": true}]}]});
    let ports = port_rules(&document).expect("valid");
    let mut checker = Checker::new(&ports[0], Limits { max_keys: 100 });
    for i in 0..1_000 {
        assert!(failures(&mut checker, json!({"id": i}), at(0)).is_empty());
    }
    assert_eq!(checker.evicted_keys(), 900);
    // The newest keys are still known; the oldest were evicted.
    assert_eq!(
        failures(&mut checker, json!({"id": 999}), at(1)),
        ["id:unique"]
    );
    assert!(failures(&mut checker, json!({"id": 0}), at(1)).is_empty());
}

#[test]
fn freshness_compares_the_event_time_with_the_sla() {
    let sla = |element: Option<&str>| {
        let mut sla = json!({"property": "latency", "value": 30, "unit": "s"});
        if let Some(element) = element {
            sla["element"] = json!(element);
        }
        json!({"slaProperties": [sla]})
    };
    let mut by_timestamp = checker(json!([{"name": "id"}]), sla(None));
    let moment = |age: i64| Moment {
        record_time: Some(at(0).now),
        ..at(age)
    };
    assert!(failures(&mut by_timestamp, json!({}), moment(30)).is_empty());
    assert_eq!(
        failures(&mut by_timestamp, json!({}), moment(31)),
        ["freshness"]
    );
    assert_eq!(failures(&mut by_timestamp, json!({}), at(0)), ["freshness"]);

    let mut by_field = checker(json!([{"name": "placedAt"}]), sla(Some("placedAt")));
    let placed = at(0).now;
    let rfc3339 = json!({"placedAt": placed.to_rfc3339()});
    let millis = json!({"placedAt": placed.timestamp_millis()});
    assert!(failures(&mut by_field, rfc3339.clone(), at(10)).is_empty());
    assert!(failures(&mut by_field, millis.clone(), at(10)).is_empty());
    let outcome = by_field.check(&millis, at(90));
    assert_eq!(
        outcome[0].verdict,
        Verdict::Failed("the event is 90 s old; the SLA allows 30 s".to_string())
    );
    assert_eq!(
        failures(&mut by_field, json!({"placedAt": "yesterday"}), at(0)),
        ["freshness"]
    );
}

#[test]
fn nested_fields_and_items_are_checked_where_they_exist() {
    let mut checker = checker(
        json!([
            {"name": "geo", "logicalType": "object", "properties": [{"name": "country", "required": true}]},
            {"name": "lines", "logicalType": "array", "items": {
                "logicalType": "object", "properties": [{"name": "sku", "required": true}]
            }}
        ]),
        json!({}),
    );
    assert!(failures(&mut checker, json!({}), at(0)).is_empty());
    assert!(failures(&mut checker, json!({"geo": null, "lines": []}), at(0)).is_empty());
    assert_eq!(
        failures(
            &mut checker,
            json!({"geo": {}, "lines": [{"sku": "a"}, {}]}),
            at(0)
        ),
        ["geo.country:required", "lines[].sku:required"]
    );
}

#[test]
fn avro_records_are_read_under_their_sanitised_field_names() {
    let document = json!({
        "servers": [{"server": "k", "type": "kafka", "format": "avro"}],
        "schema": [{"name": "O", "properties": [{"name": "signup-source", "required": true}]}]
    });
    let ports = port_rules(&document).expect("valid");
    let mut checker = Checker::new(&ports[0], Limits::default());
    assert!(failures(&mut checker, json!({"signup_source": "web"}), at(0)).is_empty());
    assert_eq!(
        failures(&mut checker, json!({}), at(0)),
        ["signup-source:required"]
    );
}

#[test]
fn rules_meshmart_cannot_run_are_listed_not_checked() {
    let checker = checker(
        json!([{"name": "id", "quality": [{"type": "sql", "query": "select 1", "mustBe": 1}]}]),
        json!({}),
    );
    assert_eq!(checker.not_evaluated().len(), 1);
    assert_eq!(&*checker.not_evaluated()[0].0, "id:sql");
}

#[test]
fn deep_and_huge_records_are_checked_without_trouble() {
    let mut checker = checker(
        json!([
            {"name": "a", "required": true, "unique": true, "logicalType": "string",
             "logicalTypeOptions": {"pattern": "x", "maxLength": 3}},
        ]),
        json!({}),
    );
    let mut deep = json!(1);
    for _ in 0..100_000 {
        deep = Value::Array(vec![deep]);
    }
    // Built by hand: `json!` would serialise `deep`, recursively.
    let record = Value::Object([("a".to_string(), deep)].into_iter().collect());
    let names = |outcomes: Vec<Outcome>| -> Vec<String> {
        outcomes
            .into_iter()
            .filter(|o| !o.passed())
            .map(|o| o.rule.to_string())
            .collect()
    };
    assert_eq!(
        names(checker.check(&record, at(0))),
        ["a:length", "a:pattern"]
    );
    assert_eq!(
        names(checker.check(&record, at(1))),
        ["a:unique", "a:length", "a:pattern"]
    );
    // Dropping (or cloning) such a value recurses inside serde_json; decoders never make
    // one (serde_json stops at 128 levels), so the test just leaks it.
    std::mem::forget(record);
    let huge = json!({"a": "y".repeat(10_000_000)});
    assert_eq!(
        failures(&mut checker, huge, at(2)),
        ["a:length", "a:pattern"]
    );
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        ".{0,20}".prop_map(Value::String),
        prop_oneof![
            Just("o-1"),
            Just("placed"),
            Just("1e309"),
            Just("NaN"),
            Just("")
        ]
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("orderId"),
                        Just("total"),
                        Just("lines"),
                        Just("sku"),
                        Just("x")
                    ],
                    inner
                ),
                0..8
            )
            .prop_map(|pairs| Value::Object(
                pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}

proptest! {
    #[test]
    fn the_checker_never_panics(records in prop::collection::vec((arbitrary_json(), any::<i64>(), any::<Option<i64>>()), 1..20)) {
        let mut checker = checker(
            json!([
                {"name": "orderId", "required": true, "unique": true, "logicalType": "string",
                 "logicalTypeOptions": {"pattern": "^o-", "minLength": 1, "format": "uuid"},
                 "quality": [{"metric": "missingValues", "mustBeLessThan": 10, "unit": "percent"},
                             {"metric": "invalidValues", "mustBe": 0, "arguments": {"validValues": ["o-1", 1]}}]},
                {"name": "total", "logicalType": "number", "logicalTypeOptions": {"minimum": 0, "maximum": 10}},
                {"name": "lines", "logicalType": "array", "items": {"logicalType": "object", "properties": [
                    {"name": "sku", "required": true, "quality": [{"metric": "duplicateValues", "mustBe": 0}]}
                ]}},
            ]),
            json!({"slaProperties": [{"property": "latency", "value": 1, "unit": "ms", "element": "total"}]}),
        );
        for (record, now, record_time) in records {
            let moment = Moment {
                now: DateTime::from_timestamp_millis(now % 8_000_000_000_000_000).unwrap_or_default(),
                record_time: record_time.and_then(DateTime::from_timestamp_millis),
            };
            let outcomes = checker.check(&record, moment);
            prop_assert_eq!(outcomes.len(), 11);
        }
    }
}

#[test]
fn ages_read_as_seconds_with_at_most_two_decimals() {
    for (ms, shown) in [
        (90_000, "90"),
        (1_500, "1.5"),
        (1_234, "1.23"),
        (1_235, "1.24"),
        (1_005, "1.01"),
        (999_999, "1000"),
        (4, "0"),
        (-1_500, "-1.5"),
    ] {
        assert_eq!(super::Seconds(ms).to_string(), shown, "{ms} ms");
    }
}
