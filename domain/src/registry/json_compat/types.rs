//! Types: how a schema location reads as a [`Shape`], the way the everit loader reads it.
//! `type` names one type or a list (an implicit `anyOf`); without `type`, keywords imply the
//! type they belong to; a schema with several independent parts (`type` + `enum`,
//! `properties` + `oneOf`, `$ref` + siblings) is an implicit `allOf` of them. Also a shape's
//! short name for messages. Comparing two shapes (and `TYPE_CHANGED`) is in `walk`.

use serde_json::{Map, Value};

use super::Comparator;
use super::model::{Crit, Facet, Loc, Shape, Sub, Target, Ty, has_assertions, is_schema, seg};

/// Keywords that imply a type when `type` is absent (as the everit loader reads them).
const SNIFFED: &[(Ty, &[&str])] = &[
    (
        Ty::Object,
        &[
            "properties",
            "required",
            "minProperties",
            "maxProperties",
            "dependencies",
            "dependentRequired",
            "dependentSchemas",
            "patternProperties",
            "additionalProperties",
            "unevaluatedProperties",
            "propertyNames",
        ],
    ),
    (
        Ty::Array,
        &[
            "items",
            "prefixItems",
            "additionalItems",
            "unevaluatedItems",
            "minItems",
            "maxItems",
            "uniqueItems",
            "contains",
            "minContains",
            "maxContains",
        ],
    ),
    (
        Ty::Number,
        &[
            "minimum",
            "maximum",
            "exclusiveMinimum",
            "exclusiveMaximum",
            "multipleOf",
        ],
    ),
    (Ty::String, &["minLength", "maxLength", "pattern", "format"]),
];

fn ty_of(name: &str) -> Ty {
    match name {
        "null" => Ty::Null,
        "boolean" => Ty::Boolean,
        "object" => Ty::Object,
        "array" => Ty::Array,
        "number" => Ty::Number,
        "integer" => Ty::Integer,
        "string" => Ty::String,
        _ => Ty::Unknown,
    }
}

fn type_list(map: &Map<String, Value>) -> Vec<Ty> {
    let mut out = Vec::new();
    match map.get("type") {
        Some(Value::String(name)) => out.push(ty_of(name)),
        Some(Value::Array(names)) => {
            for ty in names.iter().filter_map(Value::as_str).map(ty_of) {
                if !out.contains(&ty) {
                    out.push(ty);
                }
            }
        }
        _ => {}
    }
    out
}

fn leaf(ty: Ty) -> Shape<'static> {
    match ty {
        Ty::Null => Shape::Null,
        Ty::Boolean => Shape::Boolean,
        Ty::Object => Shape::Object,
        Ty::Array => Shape::Array,
        Ty::Number => Shape::Number { integer: false },
        Ty::Integer => Shape::Number { integer: true },
        Ty::String => Shape::String,
        Ty::Unknown => Shape::Unknown("unknown type"),
    }
}

/// The independent parts of a schema object, besides `$ref`.
fn parts(map: &Map<String, Value>) -> Vec<Facet> {
    let mut parts = Vec::new();
    if map.contains_key("type") {
        match type_list(map).as_slice() {
            [] => {}
            [one] => parts.push(Facet::Type(*one)),
            _ => parts.push(Facet::TypeUnion),
        }
    } else {
        for (ty, keywords) in SNIFFED {
            if keywords.iter().any(|k| map.contains_key(*k)) {
                parts.push(Facet::Type(*ty));
            }
        }
    }
    if map.get("enum").is_some_and(Value::is_array) {
        parts.push(Facet::Enum);
    }
    if map.contains_key("const") {
        parts.push(Facet::Const);
    }
    for (keyword, facet) in [
        ("allOf", Facet::AllOf),
        ("anyOf", Facet::AnyOf),
        ("oneOf", Facet::OneOf),
    ] {
        if map.get(keyword).is_some_and(Value::is_array) {
            parts.push(facet);
        }
    }
    if map.get("not").is_some_and(is_schema) {
        parts.push(Facet::Not);
    }
    if ["if", "then", "else"].iter().any(|k| map.contains_key(*k)) {
        parts.push(Facet::Conditional);
    }
    parts
}

impl<'a> Comparator<'a> {
    pub(super) fn shape(&self, target: &Target<'a>) -> Shape<'a> {
        match target {
            Ok(loc) => self.classify(loc),
            Err(opaque) => Shape::Opaque(opaque.clone()),
        }
    }

    fn classify(&self, loc: &Loc<'a>) -> Shape<'a> {
        let map = match loc.value {
            Value::Bool(true) => return Shape::Empty,
            Value::Bool(false) => return Shape::False,
            Value::Object(map) => map,
            _ => return Shape::Unknown("non-schema value"),
        };
        match loc.facet {
            Facet::Whole => {
                if map.get("$ref").is_some_and(Value::is_string)
                    && self.doc(loc.doc).ref_siblings
                    && has_assertions(map)
                {
                    return Shape::Combined {
                        crit: Crit::All,
                        subs: vec![
                            Sub {
                                loc: loc.with_facet(Facet::RefOnly),
                                seg: None,
                            },
                            Sub {
                                loc: loc.with_facet(Facet::Siblings),
                                seg: None,
                            },
                        ],
                        synthetic: true,
                    };
                }
                self.classify_parts(loc, map)
            }
            Facet::Siblings => self.classify_parts(loc, map),
            // A reference is followed by `resolve` before anything is classified.
            Facet::RefOnly => Shape::Empty,
            Facet::Enum => Shape::Enum {
                values: map
                    .get("enum")
                    .and_then(Value::as_array)
                    .map(|values| values.iter().collect())
                    .unwrap_or_default(),
                keyword: "enum",
            },
            Facet::Const => Shape::Enum {
                values: map.get("const").into_iter().collect(),
                keyword: "const",
            },
            Facet::AllOf | Facet::AnyOf | Facet::OneOf => {
                let crit = match loc.facet {
                    Facet::AllOf => Crit::All,
                    Facet::AnyOf => Crit::Any,
                    _ => Crit::One,
                };
                let keyword = crit.keyword();
                let subs = map
                    .get(keyword)
                    .and_then(Value::as_array)
                    .map(|items| {
                        items
                            .iter()
                            .enumerate()
                            .map(|(i, value)| {
                                let suffix = seg(&[keyword, &i.to_string()]);
                                Sub {
                                    loc: loc.child(&suffix, value),
                                    seg: Some(suffix),
                                }
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                Shape::Combined {
                    crit,
                    subs,
                    synthetic: false,
                }
            }
            Facet::Not => match loc.schema_at("not") {
                Some(inner) => Shape::Not(inner),
                None => Shape::Empty,
            },
            Facet::Conditional => Shape::Conditional,
            Facet::Type(ty) => leaf(ty),
            Facet::TypeUnion => Shape::Combined {
                crit: Crit::Any,
                subs: type_list(map)
                    .into_iter()
                    .map(|ty| Sub {
                        loc: loc.with_facet(Facet::Type(ty)),
                        seg: None,
                    })
                    .collect(),
                synthetic: true,
            },
        }
    }

    fn classify_parts(&self, loc: &Loc<'a>, map: &Map<String, Value>) -> Shape<'a> {
        let parts = parts(map);
        match parts.as_slice() {
            [] => Shape::Empty,
            [one] => self.classify(&loc.with_facet(*one)),
            _ => Shape::Combined {
                crit: Crit::All,
                subs: parts
                    .iter()
                    .map(|facet| Sub {
                        loc: loc.with_facet(*facet),
                        seg: None,
                    })
                    .collect(),
                synthetic: true,
            },
        }
    }

    /// A short name for a shape: `string`, `oneOf`, `string & enum`, `string | null`.
    pub(super) fn describe(&self, shape: &Shape<'a>) -> String {
        match shape {
            Shape::Combined {
                crit,
                subs,
                synthetic: true,
            } => {
                let names: Vec<String> = subs
                    .iter()
                    .map(|sub| match sub.loc.facet {
                        Facet::RefOnly => "$ref".to_string(),
                        Facet::TypeUnion => "type union".to_string(),
                        Facet::Siblings => "keywords".to_string(),
                        _ => self.classify(&sub.loc).leaf_name(),
                    })
                    .collect();
                names.join(if *crit == Crit::All { " & " } else { " | " })
            }
            other => other.leaf_name(),
        }
    }

    pub(super) fn is_empty_schema(&self, loc: &Loc<'a>) -> bool {
        matches!(self.shape(&self.resolve(loc)), Shape::Empty)
    }

    pub(super) fn is_false_schema(&self, loc: &Loc<'a>) -> bool {
        matches!(self.shape(&self.resolve(loc)), Shape::False)
    }
}
