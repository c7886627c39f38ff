//! The module's tests: Confluent's test vectors and hand-written cases, through the public API.

use super::*;
use serde_json::json;

const VECTORS: &str = include_str!("../testdata/diff-schema-examples.json");

/// Vectors whose change list differs from Confluent's on purpose (the verdict still agrees).
const KNOWN_KIND_DEVIATIONS: &[(usize, &str)] = &[(
    39,
    "patternProperties added to a closed content model are reported (PATTERN_PROPERTY_ADDED_TO_CLOSED_CONTENT_MODEL)",
)];

fn normalize(path: &str) -> String {
    if path == "#/" {
        "#".to_string()
    } else {
        path.to_string()
    }
}

#[test]
fn confluent_vectors() {
    let cases: Value = serde_json::from_str(VECTORS).expect("vectors are JSON");
    let cases = cases.as_array().expect("vectors are an array");
    assert_eq!(cases.len(), 104);
    let mut verdict_failures = Vec::new();
    let mut kind_failures = Vec::new();
    let mut exact = 0;
    for (i, case) in cases.iter().enumerate() {
        let description = case["description"].as_str().unwrap_or_default();
        let expected_compatible = case["compatible"].as_bool().expect("compatible flag");
        let found = changes(&case["original_schema"], &case["update_schema"]);
        let verdict = check_backward(&case["original_schema"], &case["update_schema"]);
        let listed: Vec<String> = found
            .iter()
            .map(|c| format!("{} {} ({})", c.kind, c.path, c.message))
            .collect();
        if verdict.is_ok() != expected_compatible {
            verdict_failures.push(format!(
                "#{i} {description}: expected compatible={expected_compatible}, got {}; changes: {listed:?}",
                verdict.is_ok()
            ));
        }
        let mut expected: Vec<String> = case["changes"]
            .as_array()
            .expect("changes list")
            .iter()
            .filter_map(Value::as_str)
            .map(|entry| match entry.split_once(' ') {
                Some((kind, path)) => format!("{kind} {}", normalize(path)),
                None => entry.to_string(),
            })
            .collect();
        let mut got: Vec<String> = found
            .iter()
            .map(|c| format!("{} {}", c.kind, c.path))
            .collect();
        expected.sort();
        got.sort();
        if expected == got {
            exact += 1;
        } else if !KNOWN_KIND_DEVIATIONS.iter().any(|(n, _)| *n == i) {
            kind_failures.push(format!(
                "#{i} {description}: expected {expected:?}, got {got:?}"
            ));
        }
    }
    assert!(
        verdict_failures.is_empty(),
        "{} verdicts disagree:\n{}",
        verdict_failures.len(),
        verdict_failures.join("\n")
    );
    eprintln!("verdicts: 104/104; change kinds match exactly in {exact}/104 vectors");
    assert!(
        kind_failures.is_empty(),
        "change kinds differ:\n{}",
        kind_failures.join("\n")
    );
    assert_eq!(exact, 104 - KNOWN_KIND_DEVIATIONS.len());
}

#[test]
fn kind_names_round_trip() {
    for kind in ChangeKind::ALL {
        assert_eq!(ChangeKind::from_name(kind.as_str()), Some(*kind));
    }
    assert!(ChangeKind::TypeExtended.is_compatible());
    assert!(!ChangeKind::TypeChanged.is_compatible());
}

#[test]
fn type_change_on_a_property_is_breaking() {
    let original = json!({
        "type": "object",
        "properties": {"customerID": {"type": "string"}}
    });
    let update = json!({
        "type": "object",
        "properties": {"customerID": {"type": "integer"}}
    });
    let breaking = check_backward(&original, &update).expect_err("breaking");
    assert_eq!(breaking.len(), 1, "{breaking:?}");
    let change = &breaking[0];
    assert_eq!(change.kind, ChangeKind::TypeChanged);
    assert_eq!(change.kind.as_str(), "TYPE_CHANGED");
    assert_eq!(change.path, "#/properties/customerID");
    assert_eq!(change.message, "type changed string → integer");
    assert_eq!(
        change.to_string(),
        "#/properties/customerID: type changed string → integer"
    );
    assert!(change.is_breaking());
}

#[test]
fn message_shapes() {
    let closed = json!({
        "type": "object",
        "properties": {"name": {"type": "string"}},
        "additionalProperties": false
    });
    let found = changes(
        &closed,
        &json!({
            "type": "object",
            "properties": {"name": {"type": "string", "maxLength": 10}, "email": {"type": "string"}},
            "required": ["email"],
            "additionalProperties": false
        }),
    );
    let listed: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert_eq!(
        listed,
        [
            "#/properties/name/maxLength: maxLength added (10)",
            "#/properties/email: required property `email` added",
        ]
    );
    let removed = check_backward(
        &closed,
        &json!({"type": "object", "additionalProperties": false}),
    )
    .expect_err("breaking");
    assert_eq!(
        removed[0].kind,
        ChangeKind::PropertyRemovedFromClosedContentModel
    );
    assert_eq!(removed[0].path, "#/properties/name");
}

#[test]
fn identical_schemas_have_no_changes() {
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "tags": {"type": "array", "prefixItems": [{"type": "string"}], "items": false},
            "child": {"$ref": "#"},
            "kind": {"enum": ["a", "b"]},
            "not_x": {"not": {"const": "x"}}
        },
        "$defs": {"unused": {"type": "number"}}
    });
    assert!(changes(&schema, &schema).is_empty());
}

#[test]
fn recursive_schema_terminates() {
    let original = json!({
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "children": {"type": "array", "items": {"$ref": "#"}},
            "parent": {"$ref": "#"}
        }
    });
    let update = json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 20},
            "children": {"type": "array", "items": {"$ref": "#"}},
            "parent": {"$ref": "#"}
        }
    });
    let breaking = check_backward(&original, &update).expect_err("maxLength added");
    assert_eq!(breaking.len(), 1, "{breaking:?}");
    assert_eq!(breaking[0].path, "#/properties/name/maxLength");
    assert!(check_backward(&update, &original).is_ok());

    // Definitions referring to each other through properties and unions.
    let mutual = |leaf: &str| {
        json!({
            "$ref": "#/definitions/a",
            "definitions": {
                "a": {"type": "object", "properties": {"b": {"$ref": "#/definitions/b"}, "v": {"type": leaf}}},
                "b": {"anyOf": [{"$ref": "#/definitions/a"}, {"type": "null"}]}
            }
        })
    };
    assert!(changes(&mutual("string"), &mutual("string")).is_empty());
    let breaking = check_backward(&mutual("string"), &mutual("number")).expect_err("breaking");
    assert_eq!(breaking[0].path, "#/properties/v");

    // Recursion through an in-place applicator, against a differently shaped update.
    let looping = json!({"definitions": {"x": {"anyOf": [{"$ref": "#/definitions/x"}, {"type": "string"}]}}, "$ref": "#/definitions/x"});
    let other = json!({"oneOf": [{"$ref": "#"}, {"type": "integer"}]});
    let _ = changes(&looping, &other);
    let _ = changes(&other, &looping);
}

#[test]
fn circular_refs_are_reported() {
    let pure = json!({
        "$ref": "#/definitions/a",
        "definitions": {
            "a": {"$ref": "#/definitions/b"},
            "b": {"allOf": [{"$ref": "#/definitions/a"}]}
        }
    });
    let problem = validate_refs(&pure).expect_err("cycle");
    assert!(problem.message.contains("cycle"), "{problem}");
    assert!(problem.pointer.ends_with("/$ref"), "{problem}");
    assert!(problem.pointer.starts_with("#/definitions/"), "{problem}");
    // Comparing such schemas still terminates.
    let _ = changes(&pure, &json!({"$ref": "#"}));

    let itself = json!({"$ref": "#"});
    let problem = validate_refs(&itself).expect_err("self reference");
    assert_eq!(problem.pointer, "#/$ref");

    let recursive = json!({"properties": {"next": {"$ref": "#"}}, "items": {"$ref": "#/definitions/n"}, "definitions": {"n": {"$ref": "#"}}});
    assert_eq!(validate_refs(&recursive), Ok(()));

    let dangling = json!({"properties": {"a": {"$ref": "#/definitions/missing"}}});
    let problem = validate_refs(&dangling).expect_err("dangling");
    assert_eq!(problem.pointer, "#/properties/a/$ref");
    assert_eq!(
        problem.to_string(),
        "#/properties/a/$ref: `$ref` `#/definitions/missing` does not resolve inside the document"
    );

    let anchored = json!({"$defs": {"n": {"$anchor": "node", "type": "string"}}, "properties": {"a": {"$ref": "#node"}, "b": {"$ref": "#/$defs/n"}, "c": {"$ref": "https://example.com/x.json"}}});
    assert_eq!(validate_refs(&anchored), Ok(()));
    let encoded = json!({"$defs": {"a b": {"type": "string"}, "c/d": {"type": "string"}}, "properties": {"x": {"$ref": "#/$defs/a%20b"}, "y": {"$ref": "#/$defs/c~1d"}}});
    assert_eq!(validate_refs(&encoded), Ok(()));
    let not_string = json!({"properties": {"a": {"$ref": 5}}});
    assert!(validate_refs(&not_string).is_err());
}

#[test]
fn deep_and_wide_inputs_do_not_panic() {
    fn nested(depth: usize, leaf: Value) -> Value {
        let mut schema = leaf;
        for i in 0..depth {
            schema = match i % 4 {
                0 => json!({"type": "object", "properties": {"a": schema}}),
                1 => json!({"oneOf": [schema, {"type": "null"}]}),
                2 => json!({"not": {"not": schema}}),
                _ => json!({"type": "array", "items": [schema], "additionalItems": false}),
            };
        }
        schema
    }
    // A small stack on purpose: the limits must hold in unoptimized builds too.
    let worker = std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(|| {
            for depth in [8, 40, 70, 150] {
                let a = nested(depth, json!({"type": "string"}));
                let b = nested(depth, json!({"type": "integer"}));
                assert!(changes(&a, &a).is_empty());
                assert!(check_backward(&a, &b).is_err());
                assert!(check_backward(&b, &a).is_err());
                assert_eq!(validate_refs(&a), Ok(()));
            }
            let a = nested(150, json!({"type": "string"}));
            let b = nested(150, json!({"type": "integer"}));
            let breaking = check_backward(&a, &b).expect_err("too deep to prove compatible");
            assert!(
                breaking
                    .iter()
                    .any(|c| c.kind == ChangeKind::ComparisonLimitExceeded)
            );
        })
        .expect("spawn");
    worker.join().expect("no stack overflow or panic");

    let wide = |n: usize, ty: &str| json!({"oneOf": (0..n).map(|i| json!({"type": ty, "minimum": i})).collect::<Vec<_>>()});
    let _ = changes(&wide(300, "number"), &wide(300, "integer"));

    for weird in [
        json!(null),
        json!(3),
        json!("x"),
        json!([1, 2]),
        json!({"type": 7}),
        json!({"properties": []}),
        json!({"items": "x"}),
        json!({"enum": 1}),
        json!({"multipleOf": 0}),
        json!({"$ref": "http://x/y"}),
        json!({"patternProperties": {"(": {"type": "string"}}, "additionalProperties": false}),
    ] {
        let _ = changes(&weird, &json!({"type": "string"}));
        let _ = changes(&json!({"type": "string"}), &weird);
        assert!(changes(&weird, &weird).is_empty(), "{weird}");
        let _ = validate_refs(&weird);
    }
}

#[test]
fn extensions_beyond_confluent() {
    // A pattern property added to an open model restricts what old data may hold.
    let open = json!({"type": "object"});
    let with_pattern = json!({"type": "object", "patternProperties": {"^x-": {"type": "string"}}});
    let breaking = check_backward(&open, &with_pattern).expect_err("breaking");
    assert_eq!(
        breaking[0].kind,
        ChangeKind::PatternPropertyAddedToOpenContentModel
    );
    assert_eq!(breaking[0].path, "#/patternProperties/^x-");
    assert!(check_backward(&with_pattern, &open).is_ok());

    // const and enum compare as value sets.
    assert!(check_backward(&json!({"const": "a"}), &json!({"enum": ["a", "b"]})).is_ok());
    assert!(check_backward(&json!({"enum": [1, 2]}), &json!({"enum": [1.0, 2]})).is_ok());
    assert!(check_backward(&json!({"enum": ["a", "b"]}), &json!({"const": "a"})).is_err());

    // 2020-12 tuples.
    let tuple = json!({"type": "array", "prefixItems": [{"type": "string"}], "items": false});
    let longer = json!({"type": "array", "prefixItems": [{"type": "string"}, {"type": "number"}], "items": false});
    assert!(check_backward(&tuple, &longer).is_ok());
    let breaking = check_backward(&longer, &tuple).expect_err("breaking");
    assert_eq!(breaking[0].path, "#/prefixItems/1");

    // `$ref` with siblings (2019-09+) applies both.
    let base = json!({"$defs": {"s": {"type": "string"}}, "$ref": "#/$defs/s"});
    let narrowed = json!({"$defs": {"s": {"type": "string"}}, "$ref": "#/$defs/s", "maxLength": 3});
    assert!(check_backward(&base, &narrowed).is_err());
    assert!(check_backward(&narrowed, &base).is_ok());

    // Numbers: exclusive bounds and multipleOf with fractions.
    assert!(
        check_backward(
            &json!({"type": "number", "multipleOf": 0.5}),
            &json!({"type": "number", "multipleOf": 0.25})
        )
        .is_ok()
    );
    assert!(
        check_backward(
            &json!({"type": "number", "multipleOf": 0.5}),
            &json!({"type": "number", "multipleOf": 1})
        )
        .is_err()
    );
    assert!(
        check_backward(
            &json!({"type": "number", "exclusiveMaximum": 5}),
            &json!({"type": "number", "exclusiveMaximum": 4})
        )
        .is_err()
    );

    // Dropping a conjunct of an intersection keeps every old record valid: compatible here
    // (PRODUCT_TYPE_NARROWED, as when an allOf loses a subschema), where Confluent's
    // registry compares an allOf of two with a plain schema as a change of type.
    assert!(
        check_backward(
            &json!({"allOf": [{"type": "string"}, {"maxLength": 5}]}),
            &json!({"type": "string"})
        )
        .is_ok()
    );

    // Changing `if`/`then`/`else` is not analysed, so it counts as breaking.
    assert!(
        check_backward(
            &json!({"if": {"type": "string"}, "then": {"minLength": 1}}),
            &json!({"if": {"type": "string"}, "then": {"minLength": 2}})
        )
        .is_err()
    );
}

/// Every transition between `allOf`, `anyOf` and `oneOf`, with subschemas kept, added and
/// removed, and the singleton cases, each with the verdict Confluent's registry gives and
/// the difference that decides it (its `CombinedSchemaDiff` and `SchemaDiff`, described in
/// `combined.rs` and `walk.rs`). The subschemas are three unrelated types, so a pairing
/// exists exactly for the subschemas both sides share.
#[test]
fn every_transition_between_combined_keywords() {
    let a = json!({"type": "string"});
    let b = json!({"type": "integer"});
    let c = json!({"type": "boolean"});
    let two = [a.clone(), b.clone()];
    let three = [a.clone(), b.clone(), c.clone()];
    let one = [a.clone()];
    // (original keyword, its subschemas, updated keyword, its subschemas, compatible, why)
    type Transition<'a> = (&'a str, &'a [Value], &'a str, &'a [Value], bool, &'a str);
    let cases: [Transition; 36] = [
        // Same subschemas.
        ("allOf", &two, "allOf", &two, true, "unchanged"),
        ("allOf", &two, "anyOf", &two, true, "COMBINED_TYPE_EXTENDED"),
        (
            "allOf",
            &two,
            "oneOf",
            &two,
            false,
            "COMBINED_TYPE_CHANGED: only a singleton may become oneOf",
        ),
        ("anyOf", &two, "allOf", &two, false, "COMBINED_TYPE_CHANGED"),
        ("anyOf", &two, "anyOf", &two, true, "unchanged"),
        ("anyOf", &two, "oneOf", &two, false, "COMBINED_TYPE_CHANGED"),
        ("oneOf", &two, "allOf", &two, false, "COMBINED_TYPE_CHANGED"),
        ("oneOf", &two, "anyOf", &two, true, "COMBINED_TYPE_EXTENDED"),
        ("oneOf", &two, "oneOf", &two, true, "unchanged"),
        // A subschema added.
        (
            "allOf",
            &two,
            "allOf",
            &three,
            false,
            "PRODUCT_TYPE_EXTENDED",
        ),
        (
            "allOf",
            &two,
            "anyOf",
            &three,
            true,
            "COMBINED_TYPE_EXTENDED, SUM_TYPE_EXTENDED",
        ),
        (
            "allOf",
            &two,
            "oneOf",
            &three,
            false,
            "COMBINED_TYPE_CHANGED",
        ),
        (
            "anyOf",
            &two,
            "allOf",
            &three,
            false,
            "COMBINED_TYPE_CHANGED",
        ),
        ("anyOf", &two, "anyOf", &three, true, "SUM_TYPE_EXTENDED"),
        (
            "anyOf",
            &two,
            "oneOf",
            &three,
            false,
            "COMBINED_TYPE_CHANGED",
        ),
        (
            "oneOf",
            &two,
            "allOf",
            &three,
            false,
            "COMBINED_TYPE_CHANGED",
        ),
        (
            "oneOf",
            &two,
            "anyOf",
            &three,
            true,
            "COMBINED_TYPE_EXTENDED, SUM_TYPE_EXTENDED",
        ),
        ("oneOf", &two, "oneOf", &three, true, "SUM_TYPE_EXTENDED"),
        // A subschema removed.
        (
            "allOf",
            &three,
            "allOf",
            &two,
            true,
            "PRODUCT_TYPE_NARROWED",
        ),
        ("allOf", &three, "anyOf", &two, false, "SUM_TYPE_NARROWED"),
        (
            "allOf",
            &three,
            "oneOf",
            &two,
            false,
            "COMBINED_TYPE_CHANGED",
        ),
        (
            "anyOf",
            &three,
            "allOf",
            &two,
            false,
            "COMBINED_TYPE_CHANGED",
        ),
        ("anyOf", &three, "anyOf", &two, false, "SUM_TYPE_NARROWED"),
        (
            "anyOf",
            &three,
            "oneOf",
            &two,
            false,
            "COMBINED_TYPE_CHANGED",
        ),
        (
            "oneOf",
            &three,
            "allOf",
            &two,
            false,
            "COMBINED_TYPE_CHANGED",
        ),
        ("oneOf", &three, "anyOf", &two, false, "SUM_TYPE_NARROWED"),
        ("oneOf", &three, "oneOf", &two, false, "SUM_TYPE_NARROWED"),
        // Singletons: any singleton may become oneOf, and a singleton allOf is the only
        // allOf a criterion change may reach.
        ("allOf", &one, "oneOf", &one, true, "COMBINED_TYPE_EXTENDED"),
        (
            "anyOf",
            &one,
            "oneOf",
            &two,
            true,
            "COMBINED_TYPE_EXTENDED, SUM_TYPE_EXTENDED",
        ),
        (
            "allOf",
            &one,
            "oneOf",
            &two,
            true,
            "COMBINED_TYPE_EXTENDED, SUM_TYPE_EXTENDED",
        ),
        ("oneOf", &one, "allOf", &one, true, "COMBINED_TYPE_EXTENDED"),
        ("anyOf", &one, "allOf", &one, true, "COMBINED_TYPE_EXTENDED"),
        (
            "oneOf",
            &one,
            "allOf",
            &two,
            false,
            "COMBINED_TYPE_CHANGED: the update is no singleton",
        ),
        (
            "anyOf",
            &two,
            "allOf",
            &one,
            false,
            "COMBINED_TYPE_CHANGED: the original is no singleton",
        ),
        ("oneOf", &two, "oneOf", &one, false, "SUM_TYPE_NARROWED"),
        ("allOf", &two, "allOf", &one, true, "PRODUCT_TYPE_NARROWED"),
    ];
    let mut wrong = Vec::new();
    for (from, original, to, update, compatible, why) in cases {
        let original = json!({ from: original });
        let update = json!({ to: update });
        let verdict = check_backward(&original, &update);
        if verdict.is_ok() != compatible {
            wrong.push(format!(
                "{original} → {update}: expected {why}, got {verdict:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // A plain schema against a combination (Confluent's `SchemaDiff`): a union in the
    // update that has a matching branch widens it; a singleton on either side is its one
    // subschema; anything else is a change of type.
    assert!(check_backward(&a, &json!({"anyOf": [b.clone(), a.clone()]})).is_ok());
    assert!(check_backward(&a, &json!({"oneOf": [b.clone(), a.clone()]})).is_ok());
    assert!(check_backward(&a, &json!({"allOf": [a.clone()]})).is_ok());
    assert!(check_backward(&json!({"anyOf": [a.clone()]}), &a).is_ok());
    assert!(check_backward(&a, &json!({"allOf": [a.clone(), b.clone()]})).is_err());
    assert!(check_backward(&json!({"anyOf": [a.clone(), b.clone()]}), &a).is_err());
    assert!(check_backward(&json!({"oneOf": [a.clone(), b.clone()]}), &a).is_err());
}

/// Keyword changes while the subschemas' properties change too: each subschema pair is
/// judged by the object rules (Confluent's `ObjectSchemaDiff`), and the combination by
/// the keyword and count rules above.
#[test]
fn combined_keywords_with_changing_properties() {
    let open_a = json!({"type": "object", "properties": {"a": {"type": "string"}}});
    let open_b = json!({"type": "object", "properties": {"b": {"type": "integer"}}});
    let open_c = json!({"type": "object", "properties": {"c": {"type": "boolean"}}});
    // A typed property added to an open model may clash with what old records hold.
    let open_a_plus = json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}});
    let closed_a = json!({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": false});
    let closed_a_optional_b = json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}, "additionalProperties": false});
    let closed_a_required_b = json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}, "required": ["b"], "additionalProperties": false});
    let number = json!({"type": "integer"});
    let cases: [(Value, Value, bool, &str); 8] = [
        (
            json!({"allOf": [open_a, open_b]}),
            json!({"anyOf": [open_a, open_b, open_c]}),
            true,
            "COMBINED_TYPE_EXTENDED, SUM_TYPE_EXTENDED, every pair unchanged",
        ),
        (
            json!({"allOf": [open_a, open_b]}),
            json!({"anyOf": [open_a]}),
            false,
            "SUM_TYPE_NARROWED",
        ),
        (
            json!({"oneOf": [closed_a]}),
            json!({"anyOf": [closed_a_optional_b]}),
            true,
            "COMBINED_TYPE_EXTENDED, OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
        ),
        (
            json!({"anyOf": [closed_a, number]}),
            json!({"oneOf": [closed_a_optional_b, number]}),
            false,
            "COMBINED_TYPE_CHANGED: two subschemas may not become oneOf",
        ),
        (
            json!({"anyOf": [open_a]}),
            json!({"anyOf": [open_a_plus]}),
            false,
            "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL, so no compatible pair: COMBINED_TYPE_SUBSCHEMAS_CHANGED",
        ),
        (
            json!({"anyOf": [closed_a, number]}),
            json!({"anyOf": [number, closed_a_optional_b]}),
            true,
            "reordered; OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
        ),
        (
            json!({"oneOf": [closed_a, number]}),
            json!({"oneOf": [closed_a_required_b]}),
            false,
            "SUM_TYPE_NARROWED, REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
        ),
        (
            json!({"allOf": [closed_a, open_b]}),
            json!({"allOf": [closed_a_optional_b]}),
            true,
            "PRODUCT_TYPE_NARROWED, OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
        ),
    ];
    let mut wrong = Vec::new();
    for (original, update, compatible, why) in &cases {
        let verdict = check_backward(original, update);
        if verdict.is_ok() != *compatible {
            wrong.push(format!(
                "{original} → {update}: expected {why}, got {verdict:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
