use super::*;
use crate::registry::references::Dependency;

const SHIPMENT: &str = r#"
// A comment the canonical form drops.
syntax = "proto3";
package meshmart.e2e;

import "meshmart/address.proto";
import "google/protobuf/timestamp.proto";

option java_package = "io.meshmart.e2e";

message Shipment {
  string id = 1;
  meshmart.shared.Address to = 2;
  google.protobuf.Timestamp shipped_at = 3;
  map<string, int64> counts = 4;
  optional string note = 5;
  oneof carrier {
    string postnl = 6;
    string dhl = 7;
  }
  repeated Line lines = 8;
  reserved 20 to 25, 30;
  reserved "legacy";
  message Line {
    string sku = 1;
    int32 quantity = 2 [deprecated = true];
  }
  enum State {
    STATE_UNSPECIFIED = 0;
    SHIPPED = 1;
  }
  State state = 9;
}
"#;

const ADDRESS: &str = r#"syntax = "proto3";
package meshmart.shared;
message Address { string city = 1; }
"#;

fn address_import() -> (Vec<Reference>, Dependencies) {
    let reference = Reference {
        name: "meshmart/address.proto".to_string(),
        subject: "meshmart/address.proto".to_string(),
        version: 1,
    };
    let mut reached = Dependencies::default();
    reached.insert(
        &reference.subject,
        1,
        Dependency {
            schema_type: SchemaType::Protobuf,
            schema: ADDRESS.to_string(),
            references: Vec::new(),
        },
    );
    (vec![reference], reached)
}

/// The canonical text of `compiled` compiles to the same file (its name aside) and prints
/// the same text again.
#[track_caller]
fn assert_round_trips(compiled: &Protobuf, references: &[Reference], reached: &Dependencies) {
    let canonical = compiled.canonical();
    let again = Protobuf::compile(&canonical, references, reached).expect("recompiles");
    assert_eq!(again.canonical(), canonical);
    let mut first = compiled.file().file_descriptor_proto().clone();
    let mut second = again.file().file_descriptor_proto().clone();
    first.name = None;
    second.name = None;
    assert_eq!(first, second, "{canonical}");
}

#[test]
fn the_canonical_text_compiles_to_the_same_file_and_prints_the_same() {
    let (references, reached) = address_import();
    let compiled = Protobuf::compile(SHIPMENT, &references, &reached).expect("compiles");
    let canonical = compiled.canonical();
    assert!(!canonical.contains("comment"), "{canonical}");
    assert!(
        canonical.contains("map<string, int64> counts = 4;"),
        "{canonical}"
    );
    assert!(
        canonical.contains("optional string note = 5;"),
        "{canonical}"
    );
    assert!(canonical.contains("oneof carrier {"), "{canonical}");
    assert!(canonical.contains("reserved 20 to 25, 30;"), "{canonical}");
    assert!(
        canonical.contains(".meshmart.shared.Address to = 2;"),
        "{canonical}"
    );
    assert_round_trips(&compiled, &references, &reached);
}

#[test]
fn a_serialized_descriptor_is_the_same_schema_as_its_text() {
    let (references, reached) = address_import();
    let compiled = Protobuf::compile(SHIPMENT, &references, &reached).expect("compiles");
    let serialized = compiled.serialized();
    let from_descriptor =
        Protobuf::compile(&serialized, &references, &reached).expect("a base64 descriptor");
    assert_eq!(from_descriptor.canonical(), compiled.canonical());
}

#[test]
fn message_indexes_name_nested_messages() {
    let (references, reached) = address_import();
    let compiled = Protobuf::compile(SHIPMENT, &references, &reached).expect("compiles");
    assert_eq!(
        compiled.message(&[0]).map(|m| m.full_name().to_string()),
        Some("meshmart.e2e.Shipment".to_string())
    );
    // Map entries are nested messages too: `Line` follows `CountsEntry`.
    let line = compiled
        .message(&[0])
        .expect("shipment")
        .child_messages()
        .position(|m| m.name() == "Line")
        .expect("Line");
    assert_eq!(
        compiled
            .message(&[0, line as i32])
            .map(|m| m.full_name().to_string()),
        Some("meshmart.e2e.Shipment.Line".to_string())
    );
    assert!(compiled.message(&[3]).is_none());
    assert!(compiled.message(&[]).is_none());
}

#[test]
fn bad_schemas_are_refused_with_where_and_why() {
    let error = Protobuf::compile(
        "syntax = \"proto3\";\nmessage A {\n  string a = 1\n}\n",
        &[],
        &Dependencies::default(),
    )
    .expect_err("a missing semicolon");
    assert!(error.0.contains("line 4"), "{}", error.0);
    let error = Protobuf::compile(
        "syntax = \"proto3\";\nimport \"missing.proto\";\nmessage A { Missing a = 1; }\n",
        &[],
        &Dependencies::default(),
    )
    .expect_err("an import no reference gives");
    assert!(error.0.contains("missing.proto"), "{}", error.0);
    let deep = format!(
        "syntax = \"proto3\";\n{}{}",
        "message A { ".repeat(200),
        "}".repeat(200)
    );
    let error = Protobuf::compile(&deep, &[], &Dependencies::default()).expect_err("too deep");
    assert!(error.0.contains("nests deeper than 64"), "{}", error.0);
    let (references, mut reached) = address_import();
    reached.insert(
        "meshmart/address.proto",
        1,
        Dependency {
            schema_type: SchemaType::Avro,
            schema: "\"string\"".to_string(),
            references: Vec::new(),
        },
    );
    let error = Protobuf::compile(SHIPMENT, &references, &reached).expect_err("an Avro import");
    assert!(error.0.contains("can only import Protobuf"), "{}", error.0);
}

#[test]
fn proto2_defaults_labels_and_extensions_survive_the_canonical_form() {
    let text = r#"syntax = "proto2";
package legacy;
message M {
  optional bytes b = 1 [default = "\001x"];
  optional string s = 2 [default = "say \"hi\""];
  optional int32 n = 3 [default = -4];
  optional E e = 4 [default = TWO];
  required string r = 5;
  repeated int32 packed = 6 [packed = true];
  optional string renamed = 7 [json_name = "other"];
  extensions 100 to 199;
  enum E { ONE = 1; TWO = 2; }
}
message N { extensions 10 to 19; }
extend M { optional string note = 100; }
extend N { optional int32 size = 10; }
extend M { optional int32 more = 101; }
service Orders { rpc Place(M) returns (stream M); }
"#;
    let compiled = Protobuf::compile(text, &[], &Dependencies::default()).expect("compiles");
    assert_round_trips(&compiled, &[], &Dependencies::default());
}
