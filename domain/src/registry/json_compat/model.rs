//! The schema model the comparison reads: a location in one of the two documents ([`Loc`])
//! and the facet of the schema object it stands for ([`Facet`]), the shape the everit loader
//! would see there ([`Shape`]), the subschemas of a combination ([`Sub`], [`Crit`]), a `$ref`
//! that could not be followed ([`Opaque`]), and the JSON pointer and keyword helpers the rest
//! builds on. This file names no sibling module.

use serde_json::{Map, Value};

/// Keywords that constrain instances (anything else is an annotation or unknown).
const ASSERTION_KEYWORDS: &[&str] = &[
    "type",
    "enum",
    "const",
    "properties",
    "patternProperties",
    "additionalProperties",
    "unevaluatedProperties",
    "required",
    "minProperties",
    "maxProperties",
    "dependencies",
    "dependentRequired",
    "dependentSchemas",
    "propertyNames",
    "items",
    "prefixItems",
    "additionalItems",
    "unevaluatedItems",
    "contains",
    "minContains",
    "maxContains",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
];

pub(super) fn is_schema(value: &Value) -> bool {
    value.is_object() || value.is_boolean()
}

/// `true`, or an object schema without any assertion keyword (nor `$ref`).
pub(super) fn trivially_true(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::Object(map) => !map
            .keys()
            .any(|k| k == "$ref" || ASSERTION_KEYWORDS.contains(&k.as_str())),
        _ => false,
    }
}

pub(super) fn has_assertions(map: &Map<String, Value>) -> bool {
    map.keys().any(|k| ASSERTION_KEYWORDS.contains(&k.as_str()))
}

pub(super) fn contains_ref(value: &Value) -> bool {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(map) => {
                if map.contains_key("$ref") {
                    return true;
                }
                stack.extend(map.values());
            }
            Value::Array(items) => stack.extend(items.iter()),
            _ => {}
        }
    }
    false
}

/// One JSON pointer segment per part, `~` and `/` escaped.
pub(super) fn seg(parts: &[&str]) -> String {
    let mut out = String::new();
    for part in parts {
        out.push('/');
        for c in part.chars() {
            match c {
                '~' => out.push_str("~0"),
                '/' => out.push_str("~1"),
                c => out.push(c),
            }
        }
    }
    out
}

pub(super) fn display_pointer(ptr: &str) -> String {
    format!("#{ptr}")
}

/// Which aspect of a schema object a location stands for. A schema with several independent
/// parts (`type` + `enum`, `properties` + `oneOf`, `$ref` + siblings) is read as an implicit
/// `allOf` of its parts, each a facet of the same JSON object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Facet {
    Whole,
    RefOnly,
    Siblings,
    Enum,
    Const,
    AllOf,
    AnyOf,
    OneOf,
    Not,
    Conditional,
    Type(Ty),
    TypeUnion,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Ty {
    Null,
    Boolean,
    Object,
    Array,
    Number,
    Integer,
    String,
    Unknown,
}

pub(super) type Key = (usize, String, Facet);
pub(super) type PairKey = (Key, Key);

/// A schema location: which document, where in it, and which facet.
#[derive(Debug, Clone)]
pub(super) struct Loc<'a> {
    pub(super) doc: usize,
    pub(super) ptr: String,
    pub(super) value: &'a Value,
    pub(super) facet: Facet,
}

impl<'a> Loc<'a> {
    pub(super) fn root(doc: usize, value: &'a Value) -> Loc<'a> {
        Loc {
            doc,
            ptr: String::new(),
            value,
            facet: Facet::Whole,
        }
    }

    pub(super) fn child(&self, suffix: &str, value: &'a Value) -> Loc<'a> {
        Loc {
            doc: self.doc,
            ptr: format!("{}{suffix}", self.ptr),
            value,
            facet: Facet::Whole,
        }
    }

    pub(super) fn with_facet(&self, facet: Facet) -> Loc<'a> {
        Loc {
            facet,
            ..self.clone()
        }
    }

    fn key(&self) -> Key {
        (self.doc, self.ptr.clone(), self.facet)
    }

    pub(super) fn map(&self) -> Option<&'a Map<String, Value>> {
        self.value.as_object()
    }

    pub(super) fn get(&self, keyword: &str) -> Option<&'a Value> {
        self.map()?.get(keyword)
    }

    /// The subschema under a single-schema keyword.
    pub(super) fn schema_at(&self, keyword: &str) -> Option<Loc<'a>> {
        let value = self.get(keyword)?;
        is_schema(value).then(|| self.child(&seg(&[keyword]), value))
    }

    /// Like [`Loc::schema_at`], but `None` for a schema that accepts everything.
    pub(super) fn restricting_schema_at(&self, keyword: &str) -> Option<Loc<'a>> {
        self.schema_at(keyword).filter(|l| !trivially_true(l.value))
    }
}

/// A `$ref` that could not be followed.
#[derive(Debug, Clone)]
pub(super) struct Opaque {
    pub(super) doc: usize,
    pub(super) reference: String,
    pub(super) why: &'static str,
}

pub(super) type Target<'a> = Result<Loc<'a>, Opaque>;

pub(super) fn target_key(target: &Target<'_>) -> Key {
    match target {
        Ok(loc) => loc.key(),
        Err(opaque) => (
            opaque.doc,
            format!("$ref {}", opaque.reference),
            Facet::RefOnly,
        ),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Crit {
    All,
    Any,
    One,
}

impl Crit {
    pub(super) fn keyword(self) -> &'static str {
        match self {
            Crit::All => "allOf",
            Crit::Any => "anyOf",
            Crit::One => "oneOf",
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Sub<'a> {
    pub(super) loc: Loc<'a>,
    /// Path segment for differences found inside (`/oneOf/2`); none for implicit parts.
    pub(super) seg: Option<String>,
}

/// How the everit loader would see a schema location (roughly, its Java class).
#[derive(Debug)]
pub(super) enum Shape<'a> {
    Empty,
    False,
    Null,
    Boolean,
    String,
    Number {
        integer: bool,
    },
    Object,
    Array,
    Enum {
        values: Vec<&'a Value>,
        keyword: &'static str,
    },
    Not(Loc<'a>),
    Combined {
        crit: Crit,
        subs: Vec<Sub<'a>>,
        synthetic: bool,
    },
    Conditional,
    Opaque(Opaque),
    Unknown(&'static str),
}

impl Shape<'_> {
    pub(super) fn is_combined(&self) -> bool {
        matches!(self, Shape::Combined { .. })
    }

    pub(super) fn leaf_name(&self) -> String {
        match self {
            Shape::Empty => "any".to_string(),
            Shape::False => "false".to_string(),
            Shape::Null => "null".to_string(),
            Shape::Boolean => "boolean".to_string(),
            Shape::String => "string".to_string(),
            Shape::Number { integer: true } => "integer".to_string(),
            Shape::Number { integer: false } => "number".to_string(),
            Shape::Object => "object".to_string(),
            Shape::Array => "array".to_string(),
            Shape::Enum { keyword, .. } => (*keyword).to_string(),
            Shape::Not(_) => "not".to_string(),
            Shape::Combined { crit, .. } => crit.keyword().to_string(),
            Shape::Conditional => "if/then/else".to_string(),
            Shape::Opaque(opaque) => format!("$ref `{}`", opaque.reference),
            Shape::Unknown(what) => (*what).to_string(),
        }
    }
}
