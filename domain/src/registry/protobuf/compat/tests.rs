//! Cases from Confluent's `diff-schema-examples.json` (CF, paraphrased to small schemas) and
//! derived from its rules (D): each names the differences the diff (original, update) must
//! find, as a multiset of `(CHANGE, path)`, and the verdict follows from their types.

use super::*;
use crate::registry::references::{Dependencies, Dependency, Reference};
use crate::registry::schema::SchemaType;

fn proto(text: &str) -> Protobuf {
    let text = if text.contains("syntax") {
        text.to_string()
    } else {
        format!("syntax = \"proto3\";\n{text}")
    };
    Protobuf::compile(&text, &[], &Dependencies::default()).expect(&text)
}

fn found(original: &Protobuf, update: &Protobuf) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = diff(original, update)
        .into_iter()
        .map(|d| (d.change.name().to_string(), d.path))
        .collect();
    found.sort();
    found
}

#[track_caller]
fn case(name: &str, original: &str, update: &str, expected: &[(&str, &str)], compatible: bool) {
    let (original, update) = (proto(original), proto(update));
    let mut want: Vec<(String, String)> = expected
        .iter()
        .map(|(c, p)| (c.to_string(), p.to_string()))
        .collect();
    want.sort();
    assert_eq!(found(&original, &update), want, "{name}");
    assert_eq!(
        can_read(&update, &original).is_empty(),
        compatible,
        "{name}: {:?}",
        can_read(&update, &original)
    );
}

#[test]
fn confluents_examples_on_files_messages_and_fields() {
    case(
        "CF01 package change",
        "package foo; message TestMessage { string test_string = 1; .foo.TestMessage.Status test_int = 2; message Status { string test_string = 1; } }",
        "package bar; message TestMessage { string test_string = 1; .bar.TestMessage.Status test_int = 2; message Status { string test_string = 1; } }",
        &[("PACKAGE_CHANGED", "#/")],
        false,
    );
    case(
        "CF02 relative and absolute names",
        "package foo; message TestMessage { string test_string = 1; Status test_int = 2; message Status { string test_string = 1; } }",
        "package foo; message TestMessage { string test_string = 1; .foo.TestMessage.Status test_int = 2; message Status { string test_string = 1; } }",
        &[],
        true,
    );
    case(
        "CF03 added field",
        "message TestMessage { string test_string = 1; }",
        "message TestMessage { string test_string = 1; string test_string2 = 2; }",
        &[("FIELD_ADDED", "#/TestMessage/2")],
        true,
    );
    case(
        "CF04 added required field",
        "syntax = \"proto2\"; message TestMessage { optional string test_string = 1; }",
        "syntax = \"proto2\"; message TestMessage { optional string test_string = 1; required string test_string2 = 2; }",
        &[("REQUIRED_FIELD_ADDED", "#/TestMessage/2")],
        false,
    );
    case(
        "CF04 removed required field",
        "syntax = \"proto2\"; message TestMessage { optional string test_string = 1; required string test_string2 = 2; }",
        "syntax = \"proto2\"; message TestMessage { optional string test_string = 1; }",
        &[("REQUIRED_FIELD_REMOVED", "#/TestMessage/2")],
        false,
    );
    case(
        "CF05 added field in a nested message",
        "message Wrapper { int32 wrapperInt = 1; message TestMessage { string test_string = 1; } }",
        "message Wrapper { int32 wrapperInt = 1; message TestMessage { string test_string = 1; string test_string2 = 2; } }",
        &[("FIELD_ADDED", "#/Wrapper/TestMessage/2")],
        true,
    );
    case(
        "CF06 removed field",
        "message TestMessage { string test_string = 1; string test_string2 = 2; }",
        "message TestMessage { string test_string = 1; }",
        &[("FIELD_REMOVED", "#/TestMessage/2")],
        true,
    );
    case(
        "CF07 changed field number",
        "message TestMessage { string test_string = 1; }",
        "message TestMessage { string test_string = 2; }",
        &[
            ("FIELD_REMOVED", "#/TestMessage/1"),
            ("FIELD_ADDED", "#/TestMessage/2"),
        ],
        true,
    );
    case(
        "CF08 int32 to int64, string to bytes",
        "message TestMessage { string test_string = 1; int32 test_int = 2; }",
        "message TestMessage { bytes test_string = 1; int64 test_int = 2; }",
        &[],
        true,
    );
    case(
        "CF19 scalar to message",
        "message TestMessage { string test_string = 1; int32 test_int = 2; }",
        "message TestMessage { string test_string = 1; TestMessage2 test_int = 2; } message TestMessage2 { string s1 = 1; }",
        &[
            ("MESSAGE_ADDED", "#/TestMessage2"),
            ("FIELD_KIND_CHANGED", "#/TestMessage/2"),
        ],
        false,
    );
    case(
        "CF20 int32 to string, renamed",
        "message TestMessage { string test_string = 1; int32 test_int = 2; }",
        "message TestMessage { string test_string = 1; string test_string2 = 2; }",
        &[
            ("FIELD_NAME_CHANGED", "#/TestMessage/2"),
            ("FIELD_SCALAR_KIND_CHANGED", "#/TestMessage/2"),
        ],
        false,
    );
    case(
        "CF21 another message type",
        "message TestMessage { string test_string = 1; TestMessage2 test_int = 2; } message TestMessage2 { string s1 = 1; }",
        "message TestMessage { string test_string = 1; TestMessage3 test_int = 2; } message TestMessage3 { string s1 = 1; }",
        &[
            ("MESSAGE_REMOVED", "#/TestMessage2"),
            ("MESSAGE_ADDED", "#/TestMessage3"),
            ("FIELD_NAMED_TYPE_CHANGED", "#/TestMessage/2"),
        ],
        false,
    );
    case(
        "CF27 a message put first",
        "message TestMessage { string test_string = 1; }",
        "message TestMessage2 { string test_string = 1; } message TestMessage { string test_string = 1; }",
        &[
            ("MESSAGE_ADDED", "#/TestMessage2"),
            ("MESSAGE_MOVED", "#/TestMessage"),
        ],
        true,
    );
    case(
        "CF28 a message added at the end",
        "message TestMessage { string test_string = 1; }",
        "message TestMessage { string test_string = 1; } message TestMessage2 { string test_string = 1; }",
        &[("MESSAGE_ADDED", "#/TestMessage2")],
        true,
    );
    case(
        "D07 an unused message removed",
        "message A { int32 x = 1; } message B { int32 y = 1; }",
        "message A { int32 x = 1; }",
        &[("MESSAGE_REMOVED", "#/B")],
        false,
    );
}

#[test]
fn confluents_examples_on_enums_labels_and_maps() {
    case(
        "CF09 int32 to an enum",
        "message TestMessage { string test_string = 1; int32 test_int = 2; }",
        "message TestMessage { string test_string = 1; Status test_int = 2; } enum Status { ACTIVE = 0; INACTIVE = 1; }",
        &[("ENUM_ADDED", "#/Status")],
        true,
    );
    case(
        "CF10 int32 to a message named like an enum",
        "message TestMessage { string test_string = 1; int32 test_int = 2; }",
        "message TestMessage { string test_string = 1; .TestMessage.Status test_int = 2; message Status { string test_string = 1; } } enum Status { ACTIVE = 0; INACTIVE = 1; }",
        &[
            ("FIELD_KIND_CHANGED", "#/TestMessage/2"),
            ("MESSAGE_ADDED", "#/TestMessage/Status"),
            ("ENUM_ADDED", "#/Status"),
        ],
        false,
    );
    case(
        "CF11 an enum constant renamed",
        "message TestMessage { string test_string = 1; Status test_int = 2; } enum Status { ACTIVE = 0; INACTIVE = 1; }",
        "message TestMessage { string test_string = 1; Status test_int = 2; } enum Status { ACTIVE = 0; NOT_ACTIVE = 1; }",
        &[("ENUM_CONST_CHANGED", "#/Status/1")],
        true,
    );
    case(
        "D01 another enum",
        "message M { A f = 1; } enum A { A0 = 0; } enum B { B0 = 0; }",
        "message M { B f = 1; } enum A { A0 = 0; } enum B { B0 = 0; }",
        &[],
        true,
    );
    case(
        "CF22 map value type",
        "message TestMessage { string test_string = 1; map<string, int32> test_map_int = 2; }",
        "message TestMessage { string test_string = 1; map<string, string> test_map_string = 2; }",
        &[
            ("FIELD_NAME_CHANGED", "#/TestMessage/2"),
            ("FIELD_SCALAR_KIND_CHANGED", "#/TestMessage/2"),
        ],
        false,
    );
    case(
        "CF23 map value name qualified",
        "message TestMessage { string test_string = 1; map<string, Status> test_map = 2; message Status { string test_string = 1; } }",
        "message TestMessage { string test_string = 1; map<string, TestMessage.Status> test_map = 2; message Status { string test_string = 1; } }",
        &[],
        true,
    );
    case(
        "CF24 label of a message field",
        "message TestMessage { string test_string = 1; optional Status test_status = 2; message Status { string test_string = 1; } }",
        "message TestMessage { string test_string = 1; repeated Status test_status = 2; message Status { string test_string = 1; } }",
        &[],
        true,
    );
    case(
        "CF25 label of a string field",
        "message TestMessage { optional string test_string = 1; }",
        "message TestMessage { repeated string test_string = 1; }",
        &[("FIELD_STRING_OR_BYTES_LABEL_CHANGED", "#/TestMessage/1")],
        true,
    );
    case(
        "CF26 label of a number field",
        "message TestMessage { optional int32 test_int = 1; }",
        "message TestMessage { repeated int32 test_int = 1; }",
        &[("FIELD_NUMERIC_LABEL_CHANGED", "#/TestMessage/1")],
        false,
    );
    case(
        "D02 message to bytes",
        "message M { N n = 1; } message N { string s = 1; }",
        "message M { bytes n = 1; } message N { string s = 1; }",
        &[("FIELD_KIND_CHANGED", "#/M/1")],
        false,
    );
    case(
        "D03 scalar changes across groups",
        "message M { int32 a = 1; float b = 2; }",
        "message M { sint32 a = 1; double b = 2; }",
        &[
            ("FIELD_SCALAR_KIND_CHANGED", "#/M/1"),
            ("FIELD_SCALAR_KIND_CHANGED", "#/M/2"),
        ],
        false,
    );
    case(
        "D04 scalar changes within groups",
        "message M { uint32 a = 1; fixed32 b = 2; sfixed64 c = 3; string d = 4; }",
        "message M { bool a = 1; sfixed32 b = 2; fixed64 c = 3; bytes d = 4; }",
        &[],
        true,
    );
    case(
        "D05 proto3 unlabeled to repeated",
        "message M { int32 a = 1; }",
        "message M { repeated int32 a = 1; }",
        &[],
        true,
    );
    case(
        "D06 proto2 required to optional string",
        "syntax = \"proto2\"; message M { required string s = 1; }",
        "syntax = \"proto2\"; message M { optional string s = 1; }",
        &[("FIELD_STRING_OR_BYTES_LABEL_CHANGED", "#/M/1")],
        true,
    );
    case(
        "D13 a map to a repeated message",
        "message M { map<string, int32> m = 1; }",
        "message M { repeated E m = 1; message E { string key = 1; int32 value = 2; } }",
        &[("FIELD_KIND_CHANGED", "#/M/1"), ("MESSAGE_ADDED", "#/M/E")],
        false,
    );
    case(
        "D15 proto2 required to proto3 unlabeled",
        "syntax = \"proto2\"; message M { required int32 a = 1; }",
        "syntax = \"proto3\"; message M { int32 a = 1; }",
        &[],
        true,
    );
}

#[test]
fn confluents_examples_on_oneofs() {
    case(
        "CF12 a field and a new member in a new oneof",
        "message TestMessage { string test_string = 1; string test_string2 = 2; }",
        "message TestMessage { string test_string = 1; oneof new_oneof { string test_string2 = 2; int32 other_id = 3; } }",
        &[("ONEOF_ADDED", "#/TestMessage/new_oneof")],
        true,
    );
    case(
        "CF13 two fields moved into one oneof",
        "message TestMessage { string test_string = 1; string test_string2 = 2; }",
        "message TestMessage { oneof new_oneof { string test_string = 1; string test_string2 = 2; int32 other_id = 3; } }",
        &[
            ("MULTIPLE_FIELDS_MOVED_TO_ONEOF", "#/TestMessage/new_oneof"),
            ("ONEOF_ADDED", "#/TestMessage/new_oneof"),
        ],
        false,
    );
    case(
        "CF14 a member added",
        "message TestMessage { oneof new_oneof { string test_string = 1; string test_string2 = 2; } }",
        "message TestMessage { oneof new_oneof { string test_string = 1; string test_string2 = 2; int32 other_id = 3; } }",
        &[("ONEOF_FIELD_ADDED", "#/TestMessage/new_oneof/3")],
        true,
    );
    case(
        "CF15 a member removed",
        "message TestMessage { oneof new_oneof { string test_string = 1; string test_string2 = 2; int32 other_id = 3; } }",
        "message TestMessage { oneof new_oneof { string test_string = 1; string test_string2 = 2; } }",
        &[("ONEOF_FIELD_REMOVED", "#/TestMessage/new_oneof/3")],
        false,
    );
    case(
        "CF16 one field into a new oneof of its own",
        "message TestMessage { string test_string = 1; string test_string2 = 2; }",
        "message TestMessage { string test_string = 1; oneof new_oneof { string test_string2 = 2; } }",
        &[("ONEOF_ADDED", "#/TestMessage/new_oneof")],
        true,
    );
    case(
        "CF17 a field into an existing oneof",
        "message TestMessage { string test_string = 1; oneof new_oneof { string test_string2 = 2; string test_string3 = 3; } }",
        "message TestMessage { oneof new_oneof { string test_string = 1; string test_string2 = 2; string test_string3 = 3; } }",
        &[
            ("FIELD_MOVED_TO_EXISTING_ONEOF", "#/TestMessage/new_oneof"),
            ("ONEOF_FIELD_ADDED", "#/TestMessage/new_oneof/1"),
        ],
        false,
    );
    case(
        "CF18 into an existing oneof that was renamed",
        "message TestMessage { string test_string = 1; oneof new_oneof { string test_string2 = 2; string test_string3 = 3; } }",
        "message TestMessage { oneof new_oneof_2 { string test_string = 1; string test_string2 = 2; string test_string3 = 3; } }",
        &[
            ("FIELD_MOVED_TO_EXISTING_ONEOF", "#/TestMessage/new_oneof_2"),
            ("ONEOF_ADDED", "#/TestMessage/new_oneof_2"),
            ("ONEOF_REMOVED", "#/TestMessage/new_oneof"),
        ],
        false,
    );
    case(
        "D08 a whole oneof removed",
        "message M { oneof o { string a = 1; int32 b = 2; } }",
        "message M { }",
        &[("ONEOF_REMOVED", "#/M/o")],
        true,
    );
    case(
        "D09 a field moved out of a oneof that stays",
        "message M { oneof o { string a = 1; int32 b = 2; } }",
        "message M { string a = 1; oneof o { int32 b = 2; } }",
        &[("FIELD_ADDED", "#/M/1")],
        true,
    );
    case(
        "D10 a type changed while moving into a oneof",
        "message M { int32 a = 1; }",
        "message M { oneof o { string a = 1; } }",
        &[
            ("ONEOF_ADDED", "#/M/o"),
            ("FIELD_SCALAR_KIND_CHANGED", "#/M/1"),
        ],
        false,
    );
    case(
        "D11 two oneofs merged",
        "message M { oneof x { string a = 1; } oneof y { string b = 2; } }",
        "message M { oneof z { string a = 1; string b = 2; } }",
        &[
            ("ONEOF_ADDED", "#/M/z"),
            ("ONEOF_REMOVED", "#/M/x"),
            ("ONEOF_REMOVED", "#/M/y"),
            ("FIELD_MOVED_TO_EXISTING_ONEOF", "#/M/z"),
        ],
        false,
    );
}

#[test]
fn modes_run_the_diff_in_their_direction() {
    use crate::registry::compat::{Mode, check};
    use crate::registry::schema::ParsedSchema;
    let parse = |text: &str| ParsedSchema::parse(SchemaType::Protobuf, text).expect("valid");
    let old = parse("syntax = \"proto3\"; message A { int32 x = 1; }");
    let new = parse("syntax = \"proto3\"; message A { int32 x = 1; } message B { int32 y = 1; }");
    let earlier = [(1, old)];
    assert!(check(Mode::Backward, &new, &earlier).is_empty());
    let forward = check(Mode::Forward, &new, &earlier);
    assert_eq!(forward.len(), 1, "{forward:?}");
    assert!(
        forward[0].message.contains("MESSAGE_REMOVED"),
        "{forward:?}"
    );
    assert_eq!(check(Mode::Full, &new, &earlier).len(), 1);
    assert!(check(Mode::None, &new, &earlier).is_empty());

    // Transitive modes compare every version: a number freed in v2 and reused with
    // another type in v3 passes against v2 alone, not against v1.
    let v1 = parse("syntax = \"proto3\"; message A { int32 a = 1; }");
    let v2 = parse("syntax = \"proto3\"; message A { }");
    let v3 = parse("syntax = \"proto3\"; message A { string a = 1; }");
    let history = [(1, v1), (2, v2)];
    assert!(check(Mode::Backward, &v3, &history).is_empty());
    let transitive = check(Mode::BackwardTransitive, &v3, &history);
    assert_eq!(transitive.len(), 1, "{transitive:?}");
    assert_eq!(transitive[0].version, 1);
    assert!(
        transitive[0].message.contains("FIELD_SCALAR_KIND_CHANGED"),
        "{transitive:?}"
    );
}

/// An imported file, registered as `name` under subject `name` at `version`.
fn imported(name: &str, version: i32, text: &str) -> (Reference, Dependencies) {
    let reference = Reference {
        name: name.to_string(),
        subject: name.to_string(),
        version,
    };
    let mut reached = Dependencies::default();
    reached.insert(
        name,
        version,
        Dependency {
            schema_type: SchemaType::Protobuf,
            schema: text.to_string(),
            references: Vec::new(),
        },
    );
    (reference, reached)
}

#[test]
fn imported_types_are_compared_when_they_come_from_another_version() {
    let home = |device: &str, package: &str| {
        format!(
            "syntax = \"proto3\"; package {package}; message GoogleHome {{ {device} deviceID = 1; bool enabled = 2; }}"
        )
    };
    let using = |import: &str,
                 package: &str,
                 references: Vec<Reference>,
                 reached: &Dependencies| {
        Protobuf::compile(
            &format!(
                "syntax = \"proto3\"; import \"{import}\"; message TestMessage {{ .{package}.GoogleHome test_string = 1; }}"
            ),
            &references,
            reached,
        )
        .expect("compiles")
    };
    // CF29: the imported type's field changed type in the other reference.
    let (r1, d1) = imported("google.proto", 1, &home("int32", "demo.domain"));
    let (r2, d2) = imported("google2.proto", 1, &home("string", "demo.domain"));
    let original = using("google.proto", "demo.domain", vec![r1.clone()], &d1);
    let update = using("google2.proto", "demo.domain", vec![r2], &d2);
    let mut got = found(&original, &update);
    got.sort();
    assert_eq!(
        got,
        vec![
            (
                "FIELD_NAMED_TYPE_CHANGED".to_string(),
                "#/TestMessage/1".to_string()
            ),
            (
                "FIELD_SCALAR_KIND_CHANGED".to_string(),
                "#/GoogleHome/1".to_string()
            ),
        ]
    );
    assert!(!can_read(&update, &original).is_empty());
    // CF30: the same definition in another package and reference: nothing to report.
    let (r3, d3) = imported("google2.proto", 1, &home("int32", "demo.domain2"));
    let moved = using("google2.proto", "demo.domain2", vec![r3], &d3);
    assert_eq!(found(&original, &moved), vec![]);
    // CF31: a local message moved into an import is a removed message.
    let local = proto(
        "message TestMessage { GoogleHome test_string = 1; } message GoogleHome { int32 deviceID = 1; bool enabled = 2; }",
    );
    assert_eq!(
        found(&local, &original),
        vec![("MESSAGE_REMOVED".to_string(), "#/GoogleHome".to_string())]
    );
    // The same reference on both sides: one definition, not compared again.
    assert_eq!(
        found(
            &original,
            &using("google.proto", "demo.domain", vec![r1], &d1)
        ),
        vec![]
    );
}

#[test]
fn recursive_messages_terminate() {
    let original = proto("message Node { int64 value = 1; Node next = 2; }");
    let update = proto("message Node { int64 value = 1; Node next = 2; string label = 3; }");
    assert_eq!(
        found(&original, &update),
        vec![("FIELD_ADDED".to_string(), "#/Node/3".to_string())]
    );
}
