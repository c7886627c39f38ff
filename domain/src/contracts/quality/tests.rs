use serde_json::json;

use super::freshness::latency_seconds;
use super::*;
use crate::contracts::{ContractError, import};

/// A contract with one port whose third property (`status`) carries `quality`, plus
/// whatever the test adds.
fn contract(status_extra: &str, object_extra: &str) -> String {
    format!(
        "apiVersion: v3.1.0
kind: DataContract
id: shop-orders
version: 1.0.0
status: active
dataProduct: orders
servers:
  - server: local
    type: kafka
    host: localhost:9092
    format: avro
schema:
  - name: OrderPlaced
    physicalName: sales.order-placed.v1
{object_extra}
    properties:
      - name: orderId
        logicalType: string
        required: true
        unique: true
      - name: total
        logicalType: number
        logicalTypeOptions:
          minimum: 0
          exclusiveMaximum: 100000
      - name: status
        logicalType: string
{status_extra}
slaProperties:
  - property: latency
    value: 30
    unit: s
"
    )
}

fn quality(entries: &str) -> String {
    let indented: String = entries
        .lines()
        .map(|l| format!("          {l}\n"))
        .collect();
    format!("        quality:\n{indented}")
}

fn rules(yaml: &str) -> Vec<QualityRule> {
    let contract = import(yaml).unwrap_or_else(|e| panic!("imports: {:?}", e.problems()));
    assert_eq!(contract.quality.len(), contract.ports.len());
    contract.quality.into_iter().next().expect("one port").rules
}

fn rule<'a>(rules: &'a [QualityRule], name: &str) -> &'a QualityRule {
    rules
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no rule {name} in {rules:#?}"))
}

#[test]
fn property_declarations_become_rules() {
    let rules = rules(&contract("", ""));
    let key = || Some(vec![Step::Key("orderId".into())]);
    assert_eq!(rule(&rules, "orderId:required").check, Check::NotNull);
    assert_eq!(rule(&rules, "orderId:required").field, key());
    assert_eq!(
        rule(&rules, "orderId:required").pointer,
        "/schema/0/properties/0/required"
    );
    assert!(matches!(
        &rule(&rules, "orderId:unique").check,
        Check::Counted { metric: Metric::DuplicateValues { key: k }, threshold, .. }
            if k == &vec![key().expect("path")] && threshold.operator == Operator::Be(0.0)
    ));
    assert_eq!(
        rule(&rules, "total:range").check,
        Check::Range {
            minimum: Some(Bound {
                value: 0.0,
                exclusive: false
            }),
            maximum: Some(Bound {
                value: 100_000.0,
                exclusive: true
            }),
        }
    );
    assert_eq!(
        rule(&rules, "freshness").check,
        Check::Freshness {
            max_age_seconds: 30.0,
            time_field: None
        }
    );
    assert_eq!(rule(&rules, "freshness").pointer, "/slaProperties/0");
}

#[test]
fn string_options_become_length_pattern_and_format_rules() {
    let options = "        logicalTypeOptions:
          minLength: 2
          maxLength: 10
          pattern: '^[A-Z]+$'
          format: email";
    let rules = rules(&contract(options, ""));
    assert_eq!(
        rule(&rules, "status:length").check,
        Check::Length {
            min: Some(2),
            max: Some(10)
        }
    );
    assert_eq!(
        rule(&rules, "status:pattern").check,
        Check::Pattern("^[A-Z]+$".into())
    );
    assert_eq!(
        rule(&rules, "status:format").check,
        Check::Format(StringFormat::Email)
    );
    let password = "        logicalTypeOptions:\n          format: password";
    assert!(matches!(
        rule(&rules_of(password), "status:format").check,
        Check::NotEvaluated { .. }
    ));
}

fn rules_of(status_extra: &str) -> Vec<QualityRule> {
    rules(&contract(status_extra, ""))
}

#[test]
fn library_metrics_become_counted_rules() {
    let cases: &[(&str, Metric, Operator, Unit, f64)] = &[
        (
            "- metric: nullValues\n  mustBe: 0",
            Metric::NullValues,
            Operator::Be(0.0),
            Unit::Rows,
            DEFAULT_WINDOW_SECONDS,
        ),
        (
            "- metric: missingValues\n  mustBeLessThan: 5\n  unit: percent\n  arguments:\n    missingValues: [null, '', 'n/a']\n    windowSeconds: 60",
            Metric::MissingValues(vec![json!(null), json!(""), json!("n/a")]),
            Operator::LessThan(5.0),
            Unit::Percent,
            60.0,
        ),
        (
            "- metric: invalidValues\n  mustBeBetween: [0, 2]\n  arguments:\n    validValues: [placed, paid]",
            Metric::InvalidValues {
                valid_values: Some(vec![json!("placed"), json!("paid")]),
                pattern: None,
            },
            Operator::Between(0.0, 2.0),
            Unit::Rows,
            DEFAULT_WINDOW_SECONDS,
        ),
        (
            "- type: library\n  metric: invalidValues\n  mustNotBe: 3\n  arguments:\n    pattern: '^[a-z]+$'",
            Metric::InvalidValues {
                valid_values: None,
                pattern: Some("^[a-z]+$".into()),
            },
            Operator::NotBe(3.0),
            Unit::Rows,
            DEFAULT_WINDOW_SECONDS,
        ),
        (
            "- metric: duplicateValues\n  mustBeLessOrEqualTo: 1\n  unit: percent\n  arguments:\n    windowSeconds: 0.5",
            Metric::DuplicateValues {
                key: vec![vec![Step::Key("status".into())]],
            },
            Operator::LessOrEqualTo(1.0),
            Unit::Percent,
            0.5,
        ),
    ];
    for (yaml, metric, operator, unit, window) in cases {
        let rules = rules_of(&quality(yaml));
        let found = rule(&rules, &format!("status:{}", metric_name(metric)));
        assert_eq!(found.pointer, "/schema/0/properties/2/quality/0", "{yaml}");
        assert_eq!(
            found.check,
            Check::Counted {
                metric: metric.clone(),
                threshold: Threshold {
                    operator: *operator,
                    unit: *unit
                },
                window_seconds: *window,
            },
            "{yaml}"
        );
    }
}

fn metric_name(metric: &Metric) -> &'static str {
    match metric {
        Metric::NullValues => "nullValues",
        Metric::MissingValues(_) => "missingValues",
        Metric::InvalidValues { .. } => "invalidValues",
        Metric::DuplicateValues { .. } => "duplicateValues",
    }
}

#[test]
fn a_composite_key_on_the_schema_object_is_a_duplicate_rule() {
    let object = "    quality:
      - metric: duplicateValues
        name: one order per status
        mustBe: 0
        arguments:
          properties: [orderId, status]
      - metric: rowCount
        mustBeGreaterThan: 10";
    let rules = rules(&contract("", object));
    let found = rule(&rules, "one order per status");
    assert_eq!(found.field, None);
    assert!(matches!(
        &found.check,
        Check::Counted { metric: Metric::DuplicateValues { key }, .. }
            if key == &vec![vec![Step::Key("orderId".into())], vec![Step::Key("status".into())]]
    ));
    assert!(matches!(
        rule(&rules, "rowCount").check,
        Check::NotEvaluated { .. }
    ));
}

#[test]
fn rules_meshmart_cannot_run_are_kept_with_a_reason() {
    let entries = "- type: sql
  query: select count(*) from t
  mustBe: 0
- type: text
  description: be nice
- type: custom
  engine: soda
  implementation: 'x: 1'
- metric: nullValues
  mustBe: 0
  unit: kilograms";
    let rules = rules_of(&quality(entries));
    for (name, reason) in [
        ("status:sql", "SQL"),
        ("status:text", "people"),
        ("status:custom", "soda"),
        ("status:nullValues", "kilograms"),
    ] {
        match &rule(&rules, name).check {
            Check::NotEvaluated { reason: found } => {
                assert!(found.contains(reason), "{name}: {found}")
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn malformed_rules_are_refused_with_a_pointer() {
    let q = "/schema/0/properties/2/quality/0";
    let cases: Vec<(String, String, &str)> = vec![
        (
            quality("- metric: nullValues\n  mustBeBetween: [5, 1]"),
            format!("{q}/mustBeBetween"),
            "smaller first",
        ),
        (
            quality(
                "- metric: nullValues\n  mustNotBeBetween: [1, 5]\n  unit: percent\n  arguments:\n    windowSeconds: -3",
            ),
            format!("{q}/arguments/windowSeconds"),
            "positive",
        ),
        (
            quality("- metric: nullValues\n  mustBe: 0\n  arguments:\n    windowSeconds: soon"),
            format!("{q}/arguments/windowSeconds"),
            "positive",
        ),
        (
            quality("- metric: invalidValues\n  mustBe: 0\n  arguments:\n    validValues: placed"),
            format!("{q}/arguments/validValues"),
            "list",
        ),
        (
            quality("- metric: invalidValues\n  mustBe: 0\n  arguments:\n    pattern: '(unclosed'"),
            format!("{q}/arguments/pattern"),
            "does not compile",
        ),
        (
            quality("- metric: invalidValues\n  mustBe: 0"),
            format!("{q}/metric"),
            "validValues",
        ),
        (
            quality("- metric: missingValues\n  mustBeLessThan: 120\n  unit: percent"),
            format!("{q}/mustBeLessThan"),
            "between 0 and 100",
        ),
        (
            quality("- metric: nullValues\n  mustBe: none"),
            format!("{q}/mustBe"),
            "number",
        ),
        (
            "        logicalTypeOptions:\n          pattern: '[z-a]'".to_string(),
            "/schema/0/properties/2/logicalTypeOptions/pattern".to_string(),
            "does not compile",
        ),
        (
            "        logicalTypeOptions:\n          minLength: 5\n          maxLength: 1"
                .to_string(),
            "/schema/0/properties/2/logicalTypeOptions/maxLength".to_string(),
            "below",
        ),
    ];
    for (extra, pointer, message) in cases {
        let error = import(&contract(&extra, "")).expect_err(&extra);
        let ContractError::Invalid(problems) = &error else {
            panic!("{extra}: {error:?}");
        };
        assert!(
            problems
                .iter()
                .any(|p| p.pointer == pointer && p.message.contains(message)),
            "{extra}: {problems:#?}"
        );
    }
}

#[test]
fn an_unknown_metric_is_refused_by_the_odcs_schema_at_the_metric() {
    let error = import(&contract(&quality("- metric: freshness\n  mustBe: 0"), ""))
        .expect_err("unknown metric");
    assert!(
        error
            .problems()
            .iter()
            .any(|p| p.pointer.starts_with("/schema/0/properties/2/quality/0")),
        "{:#?}",
        error.problems()
    );
}

#[test]
fn a_duplicate_key_must_name_the_objects_properties() {
    let object = "    quality:
      - metric: duplicateValues
        mustBe: 0
        arguments:
          properties: [orderId, nope]";
    let error = import(&contract("", object)).expect_err("unknown key property");
    assert_eq!(
        error.problems()[0].pointer,
        "/schema/0/quality/0/arguments/properties"
    );
}

#[test]
fn the_latency_sla_reads_units_and_can_name_the_event_time() {
    let cases = [
        (
            json!({"property": "latency", "value": 4, "unit": "d"}),
            Ok(345_600.0),
        ),
        (
            json!({"property": "latency", "value": "250", "unit": "ms"}),
            Ok(0.25),
        ),
        (
            json!({"property": "latency", "value": 2, "unit": "fortnights"}),
            Err("fortnights"),
        ),
        (
            json!({"property": "latency", "value": "soon", "unit": "s"}),
            Err("positive"),
        ),
        (json!({"property": "latency", "value": 3}), Err("no unit")),
    ];
    for (sla, expected) in cases {
        match (latency_seconds(&sla), expected) {
            (Ok(found), Ok(want)) => assert_eq!(found, want, "{sla}"),
            (Err(found), Err(want)) => assert!(found.contains(want), "{sla}: {found}"),
            (found, _) => panic!("{sla}: {found:?}"),
        }
    }
    let object = json!({"name": "OrderPlaced", "properties": [{"name": "placedAt"}]});
    let document = |element: &str| json!({"slaProperties": [{"property": "latency", "value": 1, "unit": "m", "element": element}]});
    let rule = freshness(&document("OrderPlaced.placedAt"), &object).expect("a rule");
    assert_eq!(
        rule.check,
        Check::Freshness {
            max_age_seconds: 60.0,
            time_field: Some(vec![Step::Key("placedAt".into())])
        }
    );
    assert!(freshness(&document("OtherTable.placedAt"), &object).is_none());
    let rule = freshness(&document("unknownColumn"), &object).expect("a rule");
    assert!(matches!(
        rule.check,
        Check::Freshness {
            time_field: None,
            ..
        }
    ));
}

#[test]
fn nested_and_item_properties_get_paths() {
    let document = json!({
        "schema": [{"name": "O", "properties": [
            {"name": "geo", "logicalType": "object", "properties": [
                {"name": "country", "required": true}
            ]},
            {"name": "lines", "logicalType": "array", "items": {
                "logicalType": "object",
                "properties": [{"name": "sku", "required": true}]
            }}
        ]}]
    });
    let ports = port_rules(&document).expect("valid");
    let fields: Vec<String> = ports[0]
        .rules
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                display_path(r.field.as_deref().unwrap_or_default()),
                r.pointer
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            "geo.country /schema/0/properties/0/properties/0/required",
            "lines[].sku /schema/0/properties/1/items/properties/0/required",
        ]
    );
}

#[test]
fn operators_compare_as_odcs_says() {
    let cases = [
        (Operator::Be(0.0), 0.0, true),
        (Operator::Be(0.0), 1.0, false),
        (Operator::NotBe(0.0), 0.0, false),
        (Operator::GreaterThan(1.0), 1.0, false),
        (Operator::GreaterOrEqualTo(1.0), 1.0, true),
        (Operator::LessThan(5.0), 4.9, true),
        (Operator::LessOrEqualTo(5.0), 5.1, false),
        (Operator::Between(1.0, 2.0), 2.0, true),
        (Operator::NotBetween(1.0, 2.0), 1.5, false),
        (Operator::NotBetween(1.0, 2.0), 2.5, true),
    ];
    for (operator, measured, holds) in cases {
        assert_eq!(operator.holds(measured), holds, "{operator} on {measured}");
    }
}
