//! Property tests of the compatibility modes and of what "compatible" promises, on schemas
//! built structurally (records and objects from small pools of names, types, defaults and
//! keywords) so that random pairs often share fields and the rules are really exercised.

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value as Avro;
use apache_avro::writer::datum::GenericDatumWriter;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::{Breaking, Mode, can_read, check};
use crate::registry::schema::{ParsedSchema, SchemaType};

const NAMES: [&str; 5] = ["a", "b", "c", "d", "e"];

// ---------------------------------------------------------------------------------------
// Avro: a record `t.R` whose fields come from a small pool.

#[derive(Clone, Debug)]
enum AvroType {
    /// A primitive, by name.
    Primitive(&'static str),
    /// `["null", primitive]`.
    Optional(&'static str),
    /// An enum with these symbols (named after its field).
    Enum(Vec<&'static str>),
    /// An array of a primitive.
    Array(&'static str),
}

#[derive(Clone, Debug)]
struct AvroField {
    name: &'static str,
    ty: AvroType,
    with_default: bool,
    alias: Option<&'static str>,
}

const PRIMITIVES: [&str; 7] = [
    "string", "bytes", "int", "long", "float", "double", "boolean",
];

fn primitive() -> impl Strategy<Value = &'static str> {
    prop::sample::select(PRIMITIVES.to_vec())
}

fn avro_type() -> impl Strategy<Value = AvroType> {
    prop_oneof![
        3 => primitive().prop_map(AvroType::Primitive),
        2 => primitive().prop_map(AvroType::Optional),
        1 => prop::sample::subsequence(vec!["A", "B", "C"], 1..=3).prop_map(AvroType::Enum),
        1 => primitive().prop_map(AvroType::Array),
    ]
}

fn avro_fields() -> impl Strategy<Value = Vec<AvroField>> {
    prop::collection::btree_map(
        prop::sample::select(NAMES.to_vec()),
        (
            avro_type(),
            any::<bool>(),
            prop::option::weighted(0.15, prop::sample::select(NAMES.to_vec())),
        ),
        0..=4,
    )
    .prop_map(|fields| {
        // An alias names a field of an older version: never a field of this one, nor
        // another field's alias.
        let names: Vec<&str> = fields.keys().copied().collect();
        let mut aliases = Vec::new();
        fields
            .into_iter()
            .map(|(name, (ty, with_default, alias))| {
                let alias = alias.filter(|a| !names.contains(a) && !aliases.contains(a));
                aliases.extend(alias);
                AvroField {
                    name,
                    ty,
                    with_default,
                    alias,
                }
            })
            .collect()
    })
}

fn primitive_default(name: &str) -> Value {
    match name {
        "string" | "bytes" => json!(""),
        "int" | "long" => json!(0),
        "float" | "double" => json!(0.0),
        _ => json!(false),
    }
}

fn avro_document(fields: &[AvroField]) -> Value {
    let fields: Vec<Value> = fields
        .iter()
        .map(|field| {
            let (ty, default) = match &field.ty {
                AvroType::Primitive(p) => (json!(p), primitive_default(p)),
                AvroType::Optional(p) => (json!(["null", p]), Value::Null),
                AvroType::Enum(symbols) => (
                    json!({"type": "enum", "name": format!("E{}", field.name), "symbols": symbols}),
                    json!(symbols[0]),
                ),
                AvroType::Array(p) => (json!({"type": "array", "items": p}), json!([])),
            };
            let mut out = json!({"name": field.name, "type": ty});
            if field.with_default {
                out["default"] = default;
            }
            if let Some(alias) = field.alias {
                out["aliases"] = json!([alias]);
            }
            out
        })
        .collect();
    json!({"type": "record", "name": "R", "namespace": "t", "fields": fields})
}

/// An Avro schema and the fields it was built from (to write data with it).
#[derive(Clone, Debug)]
struct AvroSchema {
    fields: Vec<AvroField>,
    parsed: ParsedSchema,
}

fn avro_schema() -> impl Strategy<Value = AvroSchema> {
    avro_fields().prop_filter_map("a valid Avro schema", |fields| {
        let text = avro_document(&fields).to_string();
        let parsed = ParsedSchema::parse(SchemaType::Avro, &text).ok()?;
        Some(AvroSchema { fields, parsed })
    })
}

/// A value of primitive type `name`, chosen by `pick`.
fn primitive_value(name: &str, pick: u8) -> Avro {
    let n = i32::from(pick) - 128;
    match name {
        "string" => Avro::String(format!("s{pick}")),
        // Text: the specification's bytes → string promotion assumes UTF-8.
        "bytes" => Avro::Bytes(format!("b{pick}").into_bytes()),
        "int" => Avro::Int(n),
        "long" => Avro::Long(i64::from(n) * 1_000_000_007),
        "float" => Avro::Float(n as f32 / 4.0),
        "double" => Avro::Double(f64::from(n) / 3.0),
        _ => Avro::Boolean(pick.is_multiple_of(2)),
    }
}

/// A record value for `fields`, its choices taken from `picks`.
fn avro_value(fields: &[AvroField], picks: &[u8]) -> Avro {
    let mut picks = picks.iter().copied().cycle();
    let mut next = move || picks.next().unwrap_or(0);
    Avro::Record(
        fields
            .iter()
            .map(|field| {
                let pick = next();
                let value = match &field.ty {
                    AvroType::Primitive(p) => primitive_value(p, pick),
                    AvroType::Optional(_) if pick.is_multiple_of(3) => {
                        Avro::Union(0, Box::new(Avro::Null))
                    }
                    AvroType::Optional(p) => Avro::Union(1, Box::new(primitive_value(p, next()))),
                    AvroType::Enum(symbols) => {
                        let i = usize::from(pick) % symbols.len();
                        Avro::Enum(i as u32, symbols[i].to_string())
                    }
                    AvroType::Array(p) => {
                        Avro::Array((0..pick % 3).map(|_| primitive_value(p, next())).collect())
                    }
                };
                (field.name.to_string(), value)
            })
            .collect(),
    )
}

/// Whether reading `writer`'s data with `reader` needs a resolution rule that the Avro
/// specification has, and the compatibility rules rightly accept, but the apache-avro
/// crate's decoder lacks, so that such data cannot be decoded here to check: a reader
/// field found through its alias, or a value promoted into a union branch of another type
/// (`bytes` read as `["null", "string"]`, `int` as `["null", "long"]`).
fn beyond_the_decoder(writer: &[AvroField], reader: &[AvroField]) -> bool {
    reader.iter().any(|r| {
        if r.alias
            .is_some_and(|alias| writer.iter().any(|w| w.name == alias))
            && !writer.iter().any(|w| w.name == r.name)
        {
            return true;
        }
        let written = writer.iter().find(|w| w.name == r.name);
        let written = match written.map(|w| &w.ty) {
            Some(AvroType::Primitive(p) | AvroType::Optional(p)) => *p,
            _ => return false,
        };
        matches!(r.ty, AvroType::Optional(p) if p != written)
    })
}

// ---------------------------------------------------------------------------------------
// JSON Schema: objects with properties, required lists, open, closed and partially open
// content models, arrays and combined keywords, nested a little.

fn json_leaf() -> impl Strategy<Value = Value> {
    prop::sample::select(vec![
        json!({"type": "string"}),
        json!({"type": "string", "maxLength": 5}),
        json!({"type": "string", "maxLength": 10}),
        json!({"type": "string", "minLength": 1}),
        json!({"enum": ["x", "y"]}),
        json!({"enum": ["x"]}),
        json!({"const": "y"}),
        json!({"type": "integer"}),
        json!({"type": "integer", "minimum": 0}),
        json!({"type": "number"}),
        json!({"type": "number", "maximum": 100}),
        json!({"type": "boolean"}),
        json!({"type": "null"}),
        json!({"type": ["string", "null"]}),
        json!({"type": ["integer", "string"]}),
        json!({}),
    ])
}

fn additional() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        3 => Just(None),
        1 => Just(Some(json!(true))),
        2 => Just(Some(json!(false))),
        1 => Just(Some(json!({"type": "string"}))),
    ]
}

/// An object schema. `required` names only properties it defines: Confluent calls
/// requiring a name that no `properties` entry defines compatible (its test vector
/// "Detect required array to be changed"), which lets old data fail.
fn json_object(inner: impl Strategy<Value = Value>) -> impl Strategy<Value = Value> {
    (
        prop::collection::btree_map(prop::sample::select(NAMES.to_vec()), inner, 0..=4),
        prop::sample::subsequence(NAMES.to_vec(), 0..=2),
        additional(),
    )
        .prop_map(|(properties, required, additional)| {
            let required: Vec<&str> = required
                .into_iter()
                .filter(|name| properties.contains_key(*name))
                .collect();
            let mut object = json!({"type": "object", "properties": properties});
            if !required.is_empty() {
                object["required"] = json!(required);
            }
            if let Some(additional) = additional {
                object["additionalProperties"] = additional;
            }
            object
        })
}

/// Any subschema; `one_of` says whether `oneOf` may appear (see
/// [`backward_compatible_json_schemas_accept_what_the_old_one_accepted`]).
fn json_subschema(one_of: bool) -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(2, 12, 4, move |inner| {
        let combined = if one_of {
            prop::sample::select(vec!["anyOf", "allOf", "oneOf"]).boxed()
        } else {
            prop::sample::select(vec!["anyOf", "allOf"]).boxed()
        };
        prop_oneof![
            2 => json_object(inner.clone()),
            1 => (inner.clone(), prop::option::of(1..4u32)).prop_map(|(items, max)| {
                let mut array = json!({"type": "array", "items": items});
                if let Some(max) = max {
                    array["maxItems"] = json!(max);
                }
                array
            }),
            1 => (combined, prop::collection::vec(inner, 1..=3))
                .prop_map(|(keyword, subs)| json!({ keyword: subs })),
        ]
    })
}

/// A top-level schema: an object, as an event's is.
fn json_document(one_of: bool) -> impl Strategy<Value = Value> {
    json_object(json_subschema(one_of))
}

fn parse_json(document: &Value) -> Option<ParsedSchema> {
    ParsedSchema::parse(SchemaType::Json, &document.to_string()).ok()
}

/// Every place in `schema` that holds a subschema, as JSON pointers.
fn subschema_pointers(schema: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    let Some(map) = schema.as_object() else {
        return;
    };
    if let Some(properties) = map.get("properties").and_then(Value::as_object) {
        for (name, sub) in properties {
            subschema_pointers(sub, format!("{at}/properties/{name}"), out);
        }
    }
    if let Some(items) = map.get("items") {
        subschema_pointers(items, format!("{at}/items"), out);
    }
    for keyword in ["anyOf", "allOf", "oneOf"] {
        if let Some(subs) = map.get(keyword).and_then(Value::as_array) {
            for (i, sub) in subs.iter().enumerate() {
                subschema_pointers(sub, format!("{at}/{keyword}/{i}"), out);
            }
        }
    }
}

/// One small edit, as a schema's next version would make.
#[derive(Clone, Debug)]
enum Edit {
    /// Replace the subschema with another.
    Replace(Value),
    /// Add (or replace) a property of an object.
    AddProperty(&'static str, Value),
    /// Remove a property of an object.
    RemoveProperty(&'static str),
    /// Require a name, or stop requiring it.
    ToggleRequired(&'static str),
    /// Set (or, with `None`, remove) `additionalProperties`.
    Additional(Option<Value>),
    /// Drop a constraint (`maxLength`, `minimum`, `required`, ...), as a loosening would.
    Loosen(&'static str),
    /// Allow another shape beside the old one: `{"anyOf": [old, other]}`.
    Widen(Value),
}

fn edit(one_of: bool) -> impl Strategy<Value = Edit> {
    let name = || prop::sample::select(NAMES.to_vec());
    prop_oneof![
        json_subschema(one_of).prop_map(Edit::Replace),
        (name(), json_subschema(one_of)).prop_map(|(n, s)| Edit::AddProperty(n, s)),
        name().prop_map(Edit::RemoveProperty),
        name().prop_map(Edit::ToggleRequired),
        additional().prop_map(Edit::Additional),
        prop::sample::select(vec![
            "maxLength",
            "minLength",
            "minimum",
            "maximum",
            "maxItems",
            "required",
            "additionalProperties",
            "enum",
            "const",
        ])
        .prop_map(Edit::Loosen),
        json_subschema(one_of).prop_map(Edit::Widen),
    ]
}

fn apply(schema: &mut Value, edit: Edit) {
    match edit {
        Edit::Replace(new) => *schema = new,
        Edit::Loosen(keyword) => {
            if let Some(map) = schema.as_object_mut() {
                map.remove(keyword);
            }
        }
        Edit::Widen(other) => *schema = json!({"anyOf": [schema.take(), other]}),
        Edit::AddProperty(name, sub) => {
            if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
                properties.insert(name.to_string(), sub);
            }
        }
        Edit::RemoveProperty(name) => {
            if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
                properties.remove(name);
            }
            if let Some(required) = schema.get_mut("required").and_then(Value::as_array_mut) {
                required.retain(|r| r != name);
            }
        }
        Edit::ToggleRequired(name) => {
            let Some(map) = schema.as_object_mut() else {
                return;
            };
            if map.get("properties").and_then(|p| p.get(name)).is_none() {
                return;
            }
            let mut required: Vec<Value> = map
                .get("required")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if let Some(i) = required.iter().position(|r| r == name) {
                required.remove(i);
            } else {
                required.push(json!(name));
            }
            if required.is_empty() {
                map.remove("required");
            } else {
                map.insert("required".to_string(), Value::Array(required));
            }
        }
        Edit::Additional(additional) => {
            let Some(map) = schema.as_object_mut() else {
                return;
            };
            if !map.contains_key("properties") {
                return;
            }
            match additional {
                Some(value) => map.insert("additionalProperties".to_string(), value),
                None => map.remove("additionalProperties"),
            };
        }
    }
}

/// A schema and a next version of it: either unrelated, or the first with a few edits.
fn json_pair(one_of: bool) -> impl Strategy<Value = (Value, Value)> {
    prop_oneof![
        1 => (json_document(one_of), json_document(one_of)),
        3 => (
            json_document(one_of),
            prop::collection::vec((any::<prop::sample::Index>(), edit(one_of)), 1..=3),
        )
            .prop_map(|(original, edits)| {
                let mut update = original.clone();
                for (at, edit) in edits {
                    let mut pointers = Vec::new();
                    subschema_pointers(&update, String::new(), &mut pointers);
                    let pointer = at.get(&pointers).clone();
                    if let Some(target) = update.pointer_mut(&pointer) {
                        apply(target, edit);
                    }
                }
                (original, update)
            }),
    ]
}

/// JSON documents of the shapes the schemas above describe, and some they do not.
fn json_instance() -> impl Strategy<Value = Value> {
    let leaf = prop::sample::select(vec![
        Value::Null,
        json!(true),
        json!(0),
        json!(7),
        json!(-3),
        json!(250),
        json!(1.5),
        json!(""),
        json!("x"),
        json!("y"),
        json!("hello"),
        json!("a longer string"),
    ]);
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec!["a", "b", "c", "d", "e", "f"]),
                inner,
                0..=5
            )
            .prop_map(|map| json!(map)),
        ]
    })
}

// ---------------------------------------------------------------------------------------
// The properties.

/// Any parsed schema: Avro or JSON Schema.
fn any_schema() -> impl Strategy<Value = ParsedSchema> {
    prop_oneof![
        avro_schema().prop_map(|s| s.parsed),
        json_document(true).prop_filter_map("a valid JSON Schema", |d| parse_json(&d)),
    ]
}

/// Two schemas of one type, often related.
fn schema_pair() -> impl Strategy<Value = (ParsedSchema, ParsedSchema)> {
    prop_oneof![
        (avro_schema(), avro_schema()).prop_map(|(a, b)| (a.parsed, b.parsed)),
        json_pair(true).prop_filter_map("valid JSON Schemas", |(a, b)| {
            Some((parse_json(&a)?, parse_json(&b)?))
        }),
    ]
}

/// Three to four versions of one subject and a new schema, all of one type.
fn history() -> impl Strategy<Value = (ParsedSchema, Vec<(i32, ParsedSchema)>)> {
    let versions = |v: Vec<ParsedSchema>| -> Vec<(i32, ParsedSchema)> {
        v.into_iter().zip(1..).map(|(s, n)| (n, s)).collect()
    };
    prop_oneof![
        (avro_schema(), prop::collection::vec(avro_schema(), 2..=4)).prop_map(move |(new, old)| (
            new.parsed,
            versions(old.into_iter().map(|s| s.parsed).collect())
        )),
        (
            json_document(true).prop_filter_map("valid", |d| parse_json(&d)),
            prop::collection::vec(
                json_document(true).prop_filter_map("valid", |d| parse_json(&d)),
                2..=4
            ),
        )
            .prop_map(move |(new, old)| (new, versions(old))),
    ]
}

/// (version, message) of each finding, direction aside.
fn found(breaking: &[Breaking]) -> Vec<(i32, String)> {
    breaking
        .iter()
        .map(|b| (b.version, b.message.clone()))
        .collect()
}

fn base(mode: Mode) -> Mode {
    match mode {
        Mode::BackwardTransitive => Mode::Backward,
        Mode::ForwardTransitive => Mode::Forward,
        Mode::FullTransitive => Mode::Full,
        other => other,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Registering the same schema again never fails, whatever the mode.
    #[test]
    fn a_schema_is_compatible_with_itself_under_every_mode(schema in any_schema()) {
        for mode in Mode::ALL {
            let found = check(mode, &schema, &[(1, schema.clone()), (2, schema.clone())]);
            prop_assert!(found.is_empty(), "{mode}: {found:?}");
        }
    }

    /// NONE accepts anything; the other modes relate as their names say: BACKWARD of the
    /// new against the old is FORWARD of the old against the new, FULL is both, and FULL
    /// does not care which of the two came first.
    #[test]
    fn the_modes_are_the_directions_they_name((new, old) in schema_pair()) {
        let one = |mode: Mode, a: &ParsedSchema, b: &ParsedSchema| check(mode, a, &[(1, b.clone())]);

        prop_assert!(one(Mode::None, &new, &old).is_empty());

        let backward = one(Mode::Backward, &new, &old);
        let forward = one(Mode::Forward, &new, &old);
        prop_assert!(backward.iter().all(|b| b.direction == "backward"));
        prop_assert!(forward.iter().all(|b| b.direction == "forward"));
        prop_assert_eq!(found(&backward), found(&one(Mode::Forward, &old, &new)));
        prop_assert_eq!(found(&backward), found(&one(Mode::Backward, &new, &old)));

        let full = one(Mode::Full, &new, &old);
        let both: Vec<Breaking> = backward.iter().chain(&forward).cloned().collect();
        prop_assert_eq!(&full, &both);
        prop_assert_eq!(full.is_empty(), one(Mode::Full, &old, &new).is_empty());
    }

    /// A transitive mode passes exactly when its plain mode passes against each earlier
    /// version, and reports what each of those reports; a plain mode looks at the latest
    /// version only.
    #[test]
    fn transitive_modes_are_the_plain_mode_against_every_version((new, earlier) in history()) {
        for mode in Mode::ALL {
            let each: Vec<Breaking> = earlier
                .iter()
                .flat_map(|version| check(base(mode), &new, std::slice::from_ref(version)))
                .collect();
            let latest = check(base(mode), &new, &earlier[earlier.len() - 1..]);
            let all = check(mode, &new, &earlier);
            if mode.transitive() {
                prop_assert_eq!(&all, &each, "{}", mode);
            } else {
                prop_assert_eq!(&all, &latest, "{}", mode);
            }
        }
    }

    /// What "the new schema can read the old one's data" promises for Avro: every record
    /// written with the writer schema decodes with the reader schema.
    #[test]
    fn compatible_avro_schemas_read_each_others_data(
        writer in avro_schema(),
        reader in avro_schema(),
        picks in prop::collection::vec(any::<u8>(), 1..16),
    ) {
        let (Some(writer_schema), Some(reader_schema)) = (writer.parsed.avro(), reader.parsed.avro()) else {
            return Err(TestCaseError::fail("parsed Avro schemas hold an Avro schema"));
        };
        let value = avro_value(&writer.fields, &picks);
        prop_assert!(value.validate(writer_schema), "the generated value fits its schema");
        let bytes = GenericDatumWriter::builder(writer_schema)
            .build()
            .and_then(|w| w.write_value_to_vec(value.clone()))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let problems = can_read(&reader.parsed, &writer.parsed);
        let read = GenericDatumReader::builder(writer_schema)
            .reader_schema(reader_schema)
            .build()
            .and_then(|r| r.read_value(&mut bytes.as_slice()));
        if problems.is_empty() && !beyond_the_decoder(&writer.fields, &reader.fields) {
            let read = read.map_err(|e| {
                TestCaseError::fail(format!(
                    "called compatible, but {value:?} did not read: {e}\nwriter {}\nreader {}",
                    writer.parsed.canonical, reader.parsed.canonical
                ))
            })?;
            prop_assert!(read.validate(reader_schema));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// What BACKWARD promises for JSON Schema: a document the old schema accepted, the new
    /// one accepts too. `oneOf` is left out: Confluent, whose rules these are, compares its
    /// branches one by one, so a `oneOf` that gains a branch (SUM_TYPE_EXTENDED) or widens
    /// one is compatible although a document that matched one branch may then match two
    /// (`{"d": null}` against `oneOf: [{type: string, maxLength: 5}, {type: [string, null]}]`
    /// once the first branch also allows null).
    #[test]
    fn backward_compatible_json_schemas_accept_what_the_old_one_accepted(
        (original, update) in json_pair(false),
        instances in prop::collection::vec(json_instance(), 24),
    ) {
        let (Some(old), Some(new)) = (parse_json(&original), parse_json(&update)) else {
            return Ok(());
        };
        if !can_read(&new, &old).is_empty() {
            return Ok(());
        }
        let old_validator = jsonschema::validator_for(&original).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let new_validator = jsonschema::validator_for(&update).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for instance in instances.iter().chain(std::iter::once(&json!({}))) {
            if old_validator.is_valid(instance) {
                prop_assert!(
                    new_validator.is_valid(instance),
                    "called compatible, but {instance} no longer validates\noriginal {original}\nupdate {update}"
                );
            }
        }
    }
}
