//! Compatibility between two versions of a Protobuf schema, by the rules of Confluent's
//! registry (its `protobuf.diff` package): a diff of an *original* and an *update* schema
//! lists typed differences, and the update is compatible when every difference is of a
//! compatible type. BACKWARD diffs (old, new); FORWARD diffs (new, old).
//!
//! The rules, as implemented here:
//!
//! - **File**: a changed package is incompatible. Top-level (and, recursively, nested)
//!   messages and enums are matched by name within their parent: a message removed is
//!   incompatible, one added is not; a message that changed position among its siblings is
//!   *moved* (compatible). Enums and enum constants may come and go and be renamed.
//! - **Fields** are matched by number, never by name: added, removed and renamed fields are
//!   compatible, except that adding or removing a `required` field is not. A field's type:
//!   its *kind* (scalar — enums count as scalars —, message, or map) may not change; among
//!   scalars only changes within a wire-compatible group pass (`int32 int64 uint32 uint64
//!   bool` and every enum; `sint32 sint64`; `string bytes`; `fixed32 sfixed32`; `fixed64
//!   sfixed64`; `float`; `double`); a label change (`optional`/`required`/`repeated`, both
//!   sides written) is incompatible on numbers and compatible on strings and bytes, ignored
//!   on messages; a message field may not name a message with another name (the name
//!   within its file, so a package move of an imported type passes). When the two named
//!   messages come from different references (or one is local), their definitions are
//!   compared too, and anything incompatible there makes the field's type change
//!   incompatible.
//! - **Oneofs**: adding or removing a whole oneof, and adding a member, are compatible;
//!   removing a member (its number gone from the message) is not; moving more than one
//!   top-level field into a oneof, or a field into a oneof that already had members, is not.
//!   A field whose membership changed (into, out of, or between oneofs) still has its type
//!   compared. (This is the newer of Confluent's two oneof algorithms: it decides every one
//!   of Confluent's published examples the same way as the older, and also catches a type
//!   change made while a field moves into a oneof.)
//! - Not compared, as in Confluent: options (`packed`, `json_name`, defaults, deprecation),
//!   `reserved` statements, services, extensions, the syntax.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use prost_reflect::{
    Cardinality, EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor, Syntax,
};

use super::Protobuf;

/// A kind of difference, by Confluent's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Change {
    PackageChanged,
    MessageAdded,
    MessageRemoved,
    MessageMoved,
    EnumAdded,
    EnumRemoved,
    EnumConstAdded,
    EnumConstChanged,
    EnumConstRemoved,
    FieldAdded,
    FieldRemoved,
    FieldNameChanged,
    FieldKindChanged,
    FieldScalarKindChanged,
    FieldNamedTypeChanged,
    FieldNumericLabelChanged,
    FieldStringOrBytesLabelChanged,
    RequiredFieldAdded,
    RequiredFieldRemoved,
    OneofAdded,
    OneofRemoved,
    OneofFieldAdded,
    OneofFieldRemoved,
    MultipleFieldsMovedToOneof,
    FieldMovedToExistingOneof,
}

impl Change {
    /// Confluent's name for it, e.g. `FIELD_SCALAR_KIND_CHANGED`.
    pub fn name(self) -> &'static str {
        match self {
            Change::PackageChanged => "PACKAGE_CHANGED",
            Change::MessageAdded => "MESSAGE_ADDED",
            Change::MessageRemoved => "MESSAGE_REMOVED",
            Change::MessageMoved => "MESSAGE_MOVED",
            Change::EnumAdded => "ENUM_ADDED",
            Change::EnumRemoved => "ENUM_REMOVED",
            Change::EnumConstAdded => "ENUM_CONST_ADDED",
            Change::EnumConstChanged => "ENUM_CONST_CHANGED",
            Change::EnumConstRemoved => "ENUM_CONST_REMOVED",
            Change::FieldAdded => "FIELD_ADDED",
            Change::FieldRemoved => "FIELD_REMOVED",
            Change::FieldNameChanged => "FIELD_NAME_CHANGED",
            Change::FieldKindChanged => "FIELD_KIND_CHANGED",
            Change::FieldScalarKindChanged => "FIELD_SCALAR_KIND_CHANGED",
            Change::FieldNamedTypeChanged => "FIELD_NAMED_TYPE_CHANGED",
            Change::FieldNumericLabelChanged => "FIELD_NUMERIC_LABEL_CHANGED",
            Change::FieldStringOrBytesLabelChanged => "FIELD_STRING_OR_BYTES_LABEL_CHANGED",
            Change::RequiredFieldAdded => "REQUIRED_FIELD_ADDED",
            Change::RequiredFieldRemoved => "REQUIRED_FIELD_REMOVED",
            Change::OneofAdded => "ONEOF_ADDED",
            Change::OneofRemoved => "ONEOF_REMOVED",
            Change::OneofFieldAdded => "ONEOF_FIELD_ADDED",
            Change::OneofFieldRemoved => "ONEOF_FIELD_REMOVED",
            Change::MultipleFieldsMovedToOneof => "MULTIPLE_FIELDS_MOVED_TO_ONEOF",
            Change::FieldMovedToExistingOneof => "FIELD_MOVED_TO_EXISTING_ONEOF",
        }
    }

    /// Whether a reader of the original can still read data of the update (Confluent's
    /// `COMPATIBLE_CHANGES`).
    pub fn compatible(self) -> bool {
        matches!(
            self,
            Change::MessageAdded
                | Change::MessageMoved
                | Change::EnumAdded
                | Change::EnumRemoved
                | Change::EnumConstAdded
                | Change::EnumConstChanged
                | Change::EnumConstRemoved
                | Change::FieldAdded
                | Change::FieldRemoved
                | Change::FieldNameChanged
                | Change::FieldStringOrBytesLabelChanged
                | Change::OneofAdded
                | Change::OneofRemoved
                | Change::OneofFieldAdded
        )
    }
}

/// One difference: its kind, where (`#/Message/Nested/3`), and what it is in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    pub change: Change,
    pub path: String,
    pub detail: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} ({})", self.path, self.change.name(), self.detail)
    }
}

/// Why data written with `writer` cannot be read with `reader` (empty when it can): the
/// incompatible differences of the diff (original `writer`, update `reader`).
pub fn can_read(reader: &Protobuf, writer: &Protobuf) -> Vec<String> {
    diff(writer, reader)
        .into_iter()
        .filter(|d| !d.change.compatible())
        .map(|d| d.to_string())
        .collect()
}

/// Every difference between an original schema and its update.
pub fn diff(original: &Protobuf, update: &Protobuf) -> Vec<Difference> {
    let mut diff = Diff {
        original,
        update,
        scope: Vec::new(),
        visiting: HashSet::new(),
        found: Vec::new(),
    };
    let (before, after) = (original.file(), update.file());
    if before.package_name() != after.package_name() {
        diff.push(
            Change::PackageChanged,
            format!(
                "package `{}` → `{}`",
                before.package_name(),
                after.package_name()
            ),
        );
    }
    diff.types(
        before.messages().collect(),
        before.enums().collect(),
        after.messages().collect(),
        after.enums().collect(),
    );
    diff.found
}

/// A field's type as the rules see it.
#[derive(Clone, Debug)]
enum Shape {
    Scalar { group: Group, name: String },
    Message(MessageDescriptor),
    Map(Box<Shape>, Box<Shape>),
}

/// The wire-compatible groups of scalar types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Group {
    GeneralNumber,
    SignedNumber,
    StringOrBytes,
    Fixed32,
    Fixed64,
    Float,
    Double,
}

fn shape_of_kind(kind: &Kind) -> Shape {
    let scalar = |group, name: &str| Shape::Scalar {
        group,
        name: name.to_string(),
    };
    match kind {
        Kind::Int32 => scalar(Group::GeneralNumber, "int32"),
        Kind::Int64 => scalar(Group::GeneralNumber, "int64"),
        Kind::Uint32 => scalar(Group::GeneralNumber, "uint32"),
        Kind::Uint64 => scalar(Group::GeneralNumber, "uint64"),
        Kind::Bool => scalar(Group::GeneralNumber, "bool"),
        Kind::Enum(values) => scalar(
            Group::GeneralNumber,
            &format!("enum {}", values.full_name()),
        ),
        Kind::Sint32 => scalar(Group::SignedNumber, "sint32"),
        Kind::Sint64 => scalar(Group::SignedNumber, "sint64"),
        Kind::String => scalar(Group::StringOrBytes, "string"),
        Kind::Bytes => scalar(Group::StringOrBytes, "bytes"),
        Kind::Fixed32 => scalar(Group::Fixed32, "fixed32"),
        Kind::Sfixed32 => scalar(Group::Fixed32, "sfixed32"),
        Kind::Fixed64 => scalar(Group::Fixed64, "fixed64"),
        Kind::Sfixed64 => scalar(Group::Fixed64, "sfixed64"),
        Kind::Float => scalar(Group::Float, "float"),
        Kind::Double => scalar(Group::Double, "double"),
        Kind::Message(message) if message.is_map_entry() => Shape::Map(
            Box::new(shape_of_kind(&message.map_entry_key_field().kind())),
            Box::new(shape_of_kind(&message.map_entry_value_field().kind())),
        ),
        Kind::Message(message) => Shape::Message(message.clone()),
    }
}

impl Shape {
    fn kind_name(&self) -> &'static str {
        match self {
            Shape::Scalar { .. } => "scalar",
            Shape::Message(_) => "message",
            Shape::Map(..) => "map",
        }
    }

    fn text(&self) -> String {
        match self {
            Shape::Scalar { name, .. } => name.clone(),
            Shape::Message(message) => message.full_name().to_string(),
            Shape::Map(key, value) => format!("map<{}, {}>", key.text(), value.text()),
        }
    }
}

/// A field's label as written: none for proto3 fields without one, oneof members and maps.
fn label(field: &FieldDescriptor) -> Option<Cardinality> {
    let proto = field.field_descriptor_proto();
    let in_oneof = field.containing_oneof().is_some_and(|o| !o.is_synthetic());
    let proto3_plain = field.parent_file().syntax() == Syntax::Proto3
        && field.cardinality() == Cardinality::Optional
        && !proto.proto3_optional();
    if in_oneof || field.is_map() || proto3_plain {
        None
    } else {
        Some(field.cardinality())
    }
}

/// Where a message is defined, for deciding whether two same-named messages need their
/// definitions compared: the schema's own file, a referenced subject version, or a file
/// no reference names (a well-known type).
fn origin(schema: &Protobuf, message: &MessageDescriptor) -> Option<(String, i32)> {
    let file = message.parent_file();
    if file.name() == schema.file {
        Some((String::new(), -1))
    } else {
        schema.origins.get(file.name()).cloned()
    }
}

/// A message's name within its file (without the package).
fn local_name(message: &MessageDescriptor) -> &str {
    let package = message.package_name();
    let full = message.full_name();
    if package.is_empty() {
        full
    } else {
        full.strip_prefix(package)
            .and_then(|rest| rest.strip_prefix('.'))
            .unwrap_or(full)
    }
}

struct Diff<'a> {
    original: &'a Protobuf,
    update: &'a Protobuf,
    scope: Vec<String>,
    /// Original messages whose fields are being compared further up (recursive types).
    visiting: HashSet<String>,
    found: Vec<Difference>,
}

impl Diff<'_> {
    fn path(&self, last: Option<&str>) -> String {
        let mut parts: Vec<&str> = self.scope.iter().map(String::as_str).collect();
        parts.extend(last);
        format!("#/{}", parts.join("/"))
    }

    fn push(&mut self, change: Change, detail: String) {
        let path = self.path(None);
        self.found.push(Difference {
            change,
            path,
            detail,
        });
    }

    fn push_at(&mut self, change: Change, last: &str, detail: String) {
        let path = self.path(Some(last));
        self.found.push(Difference {
            change,
            path,
            detail,
        });
    }

    fn within<T>(&mut self, name: &str, run: impl FnOnce(&mut Self) -> T) -> T {
        self.scope.push(name.to_string());
        let out = run(self);
        self.scope.pop();
        out
    }

    /// Messages and enums of one scope, matched by name.
    fn types(
        &mut self,
        before: Vec<MessageDescriptor>,
        before_enums: Vec<EnumDescriptor>,
        after: Vec<MessageDescriptor>,
        after_enums: Vec<EnumDescriptor>,
    ) {
        let index = |list: &[MessageDescriptor]| -> BTreeMap<String, (usize, MessageDescriptor)> {
            list.iter()
                .enumerate()
                .map(|(i, m)| (m.name().to_string(), (i, m.clone())))
                .collect()
        };
        let (old, new) = (index(&before), index(&after));
        let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
        for name in names {
            match (old.get(name), new.get(name)) {
                (Some((_, message)), None) if !message.is_map_entry() => self.push_at(
                    Change::MessageRemoved,
                    name,
                    format!("message `{}` was removed", message.full_name()),
                ),
                (None, Some((_, message))) if !message.is_map_entry() => self.push_at(
                    Change::MessageAdded,
                    name,
                    format!("message `{}` was added", message.full_name()),
                ),
                (Some((i, was)), Some((j, now))) => {
                    self.within(name, |diff| diff.message(was, now));
                    if i != j {
                        self.push_at(
                            Change::MessageMoved,
                            name,
                            format!("message `{name}` moved from position {i} to {j}"),
                        );
                    }
                }
                _ => {}
            }
        }
        let enums = |list: Vec<EnumDescriptor>| -> BTreeMap<String, EnumDescriptor> {
            list.into_iter()
                .map(|e| (e.name().to_string(), e))
                .collect()
        };
        let (old, new) = (enums(before_enums), enums(after_enums));
        let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
        for name in names {
            match (old.get(name), new.get(name)) {
                (Some(was), None) => self.push_at(
                    Change::EnumRemoved,
                    name,
                    format!("enum `{}` was removed", was.full_name()),
                ),
                (None, Some(now)) => self.push_at(
                    Change::EnumAdded,
                    name,
                    format!("enum `{}` was added", now.full_name()),
                ),
                (Some(was), Some(now)) => self.within(name, |diff| diff.enumeration(was, now)),
                (None, None) => {}
            }
        }
    }

    fn enumeration(&mut self, was: &EnumDescriptor, now: &EnumDescriptor) {
        // With `allow_alias` several names share a number; the last declared counts.
        let by_number = |e: &EnumDescriptor| -> BTreeMap<i32, String> {
            e.values()
                .map(|v| (v.number(), v.name().to_string()))
                .collect()
        };
        let (old, new) = (by_number(was), by_number(now));
        let numbers: BTreeSet<&i32> = old.keys().chain(new.keys()).collect();
        for number in numbers {
            let at = number.to_string();
            match (old.get(number), new.get(number)) {
                (Some(name), None) => self.push_at(
                    Change::EnumConstRemoved,
                    &at,
                    format!("`{name}` = {number} was removed"),
                ),
                (None, Some(name)) => self.push_at(
                    Change::EnumConstAdded,
                    &at,
                    format!("`{name}` = {number} was added"),
                ),
                (Some(a), Some(b)) if a != b => self.push_at(
                    Change::EnumConstChanged,
                    &at,
                    format!("{number} was `{a}`, is `{b}`"),
                ),
                _ => {}
            }
        }
    }

    fn message(&mut self, was: &MessageDescriptor, now: &MessageDescriptor) {
        if self.visiting.insert(was.full_name().to_string()) {
            self.fields(was, now);
            self.visiting.remove(was.full_name());
        }
        self.types(
            was.child_messages().collect(),
            was.child_enums().collect(),
            now.child_messages().collect(),
            now.child_enums().collect(),
        );
    }

    fn fields(&mut self, was: &MessageDescriptor, now: &MessageDescriptor) {
        let real_oneof = |f: &FieldDescriptor| {
            f.containing_oneof()
                .filter(|o| !o.is_synthetic())
                .map(|o| o.name().to_string())
        };
        let split = |m: &MessageDescriptor| {
            let mut top = BTreeMap::new();
            let mut oneofs: BTreeMap<String, BTreeMap<u32, FieldDescriptor>> = BTreeMap::new();
            for field in m.fields() {
                match real_oneof(&field) {
                    Some(oneof) => {
                        oneofs
                            .entry(oneof)
                            .or_default()
                            .insert(field.number(), field);
                    }
                    None => {
                        top.insert(field.number(), field);
                    }
                }
            }
            (top, oneofs)
        };
        let (mut old_top, old_oneofs) = split(was);
        let (new_top, new_oneofs) = split(now);
        let old_member_of: BTreeMap<u32, &String> = old_oneofs
            .iter()
            .flat_map(|(name, members)| members.keys().map(move |n| (*n, name)))
            .collect();

        // Fields moved into a oneof: from where did its members come?
        for (name, members) in &new_oneofs {
            let mut origins = BTreeSet::new();
            let mut from_top = 0;
            for number in members.keys() {
                if old_top.contains_key(number) {
                    origins.insert(format!("field {number}"));
                    from_top += 1;
                } else if let Some(oneof) = old_member_of.get(number) {
                    origins.insert(format!("oneof {oneof}"));
                }
            }
            for number in members.keys() {
                old_top.remove(number);
            }
            if origins.len() > 1 {
                let change = if from_top > 1 {
                    Change::MultipleFieldsMovedToOneof
                } else {
                    Change::FieldMovedToExistingOneof
                };
                self.push_at(
                    change,
                    name,
                    format!(
                        "oneof `{name}` gathers fields that were apart: {}",
                        origins.into_iter().collect::<Vec<_>>().join(", ")
                    ),
                );
            }
        }

        // Oneofs by name.
        let names: BTreeSet<&String> = old_oneofs.keys().chain(new_oneofs.keys()).collect();
        for name in names {
            match (old_oneofs.get(name), new_oneofs.get(name)) {
                (Some(_), None) => self.push_at(
                    Change::OneofRemoved,
                    name,
                    format!("oneof `{name}` was removed"),
                ),
                (None, Some(_)) => self.push_at(
                    Change::OneofAdded,
                    name,
                    format!("oneof `{name}` was added"),
                ),
                (Some(old), Some(new)) => self.within(name, |diff| {
                    let numbers: BTreeSet<&u32> = old.keys().chain(new.keys()).collect();
                    for number in numbers {
                        let at = number.to_string();
                        match (old.get(number), new.get(number)) {
                            (Some(field), None) if now.get_field(*number).is_none() => diff
                                .push_at(
                                    Change::OneofFieldRemoved,
                                    &at,
                                    format!("`{}` left oneof `{name}`", field.name()),
                                ),
                            (None, Some(field)) => diff.push_at(
                                Change::OneofFieldAdded,
                                &at,
                                format!("`{}` joined oneof `{name}`", field.name()),
                            ),
                            (Some(a), Some(b)) => diff.field(a, b, &at),
                            _ => {}
                        }
                    }
                }),
                (None, None) => {}
            }
        }

        // Top-level fields by number.
        let numbers: BTreeSet<u32> = old_top.keys().chain(new_top.keys()).copied().collect();
        for number in numbers {
            let at = number.to_string();
            match (old_top.get(&number), new_top.get(&number)) {
                (Some(field), None) => {
                    let change = if field.is_required() {
                        Change::RequiredFieldRemoved
                    } else {
                        Change::FieldRemoved
                    };
                    self.push_at(change, &at, format!("field `{}` was removed", field.name()));
                }
                (None, Some(field)) => {
                    let change = if field.is_required() {
                        Change::RequiredFieldAdded
                    } else {
                        Change::FieldAdded
                    };
                    self.push_at(change, &at, format!("field `{}` was added", field.name()));
                }
                (Some(a), Some(b)) => self.field(a, b, &at),
                (None, None) => {}
            }
        }

        // A field whose oneof membership changed still keeps its type.
        for old in was.fields() {
            if let Some(new) = now.get_field(old.number())
                && real_oneof(&old) != real_oneof(&new)
            {
                self.field(&old, &new, &old.number().to_string());
            }
        }
    }

    /// Two fields with one number.
    fn field(&mut self, was: &FieldDescriptor, now: &FieldDescriptor, at: &str) {
        if was.name() != now.name() {
            self.push_at(
                Change::FieldNameChanged,
                at,
                format!("field `{}` is now `{}`", was.name(), now.name()),
            );
        }
        let name = now.name().to_string();
        self.types_of(
            &shape_of_kind(&was.kind()),
            label(was),
            &shape_of_kind(&now.kind()),
            label(now),
            at,
            &name,
        );
    }

    fn types_of(
        &mut self,
        was: &Shape,
        was_label: Option<Cardinality>,
        now: &Shape,
        now_label: Option<Cardinality>,
        at: &str,
        field: &str,
    ) {
        match (was, now) {
            (
                Shape::Scalar {
                    group: a,
                    name: from,
                },
                Shape::Scalar { group: b, name: to },
            ) => {
                if a != b {
                    self.push_at(
                        Change::FieldScalarKindChanged,
                        at,
                        format!("field `{field}` changed type {from} → {to}"),
                    );
                } else if let (Some(x), Some(y)) = (was_label, now_label)
                    && x != y
                {
                    let change = if *a == Group::StringOrBytes {
                        Change::FieldStringOrBytesLabelChanged
                    } else {
                        Change::FieldNumericLabelChanged
                    };
                    self.push_at(
                        change,
                        at,
                        format!("field `{field}` changed label {x:?} → {y:?}").to_lowercase(),
                    );
                }
            }
            (Shape::Map(key_a, value_a), Shape::Map(key_b, value_b)) => {
                self.types_of(key_a, None, key_b, None, at, field);
                self.types_of(value_a, None, value_b, None, at, field);
            }
            (Shape::Message(a), Shape::Message(b)) => self.named(a, b, at, field),
            (a, b) => self.push_at(
                Change::FieldKindChanged,
                at,
                format!(
                    "field `{field}` changed from {} {} to {} {}",
                    a.kind_name(),
                    a.text(),
                    b.kind_name(),
                    b.text()
                ),
            ),
        }
    }

    /// Two message types of one field.
    fn named(&mut self, was: &MessageDescriptor, now: &MessageDescriptor, at: &str, field: &str) {
        if local_name(was) != local_name(now) {
            self.push_at(
                Change::FieldNamedTypeChanged,
                at,
                format!(
                    "field `{field}` changed type {} → {}",
                    was.full_name(),
                    now.full_name()
                ),
            );
            return;
        }
        let (from, to) = (origin(self.original, was), origin(self.update, now));
        if from.is_some() && from == to {
            // One definition (the same file, or the same referenced version).
            return;
        }
        // The definitions differ in where they come from: compare them in their own scope.
        let mut inner = Diff {
            original: self.original,
            update: self.update,
            scope: local_name(was).split('.').map(str::to_string).collect(),
            visiting: std::mem::take(&mut self.visiting),
            found: Vec::new(),
        };
        inner.message(was, now);
        self.visiting = std::mem::take(&mut inner.visiting);
        let broken = inner.found.iter().any(|d| !d.change.compatible());
        self.found.append(&mut inner.found);
        if broken {
            self.push_at(
                Change::FieldNamedTypeChanged,
                at,
                format!(
                    "field `{field}`: the definition of {} changed incompatibly",
                    now.full_name()
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests;
