//! JSON Schema compatibility checking with Confluent Schema Registry semantics.
//!
//! This module owns the evolution rules for JSON Schema subjects: given the schema a subject
//! holds now (`original`, the writer) and a proposed next version (`update`, the reader),
//! [`changes`] lists every difference, named with the change kinds of Confluent's
//! `JsonSchemaDiff` (`io.confluent.kafka.schemaregistry.json.diff.Difference.Type`), and
//! [`check_backward`] decides BACKWARD compatibility — the update must accept every document the
//! original accepted. [`validate_refs`] checks that a schema's local `$ref`s resolve and never
//! loop back on themselves without consuming data.
//!
//! The comparison mirrors Confluent's: a schema is read the way the everit loader reads it
//! (`{"type": "string", "enum": [..]}` is an implicit `allOf` of a string schema and an enum
//! schema, `"type": [a, b]` an implicit `anyOf`, keywords without `type` imply the type they
//! belong to), `$ref`s are followed transparently, and the rules for open, partially open and
//! closed content models decide what adding or removing a property or tuple item means. It is
//! checked against Confluent's own test vectors (`testdata/diff-schema-examples.json`).
//!
//! Where Confluent says nothing, this module adds a little, always on the safe side:
//! `patternProperties` added or removed are reported (`PATTERN_PROPERTY_*`), `contains` and
//! `propertyNames` compare like any subschema, `const` and `enum` compare as value sets, a
//! property that no pattern governs in a model whose `additionalProperties` is open counts as
//! open, and `if`/`then`/`else` that differ at all are a breaking `TYPE_CHANGED`. Recursion is
//! cut off co-inductively (a pair of locations already being compared is assumed compatible),
//! and comparisons that go too deep or take too long report `COMPARISON_LIMIT_EXCEEDED`,
//! which is breaking. `patternProperties` keys are matched with the `regex` crate; a pattern
//! it cannot compile (look-around, back-references) is assumed to match.
//!
//! The module is split by responsibility; each file owns one part:
//!
//! - `model`: the schema model the comparison reads: locations in the two documents, the
//!   facets of a schema object, the shapes the everit loader would see, JSON pointers.
//! - `refs`: `$ref` resolution, anchors, [`validate_refs`] and its search for `$ref` cycles.
//! - `diff`: the difference record the comparison builds, JSON equality, short JSON text.
//! - `walk`: the recursive comparison itself: the depth, step and call-stack limits, the
//!   co-inductive cut-off, a plain schema against a union, `TYPE_CHANGED`, and the dispatch
//!   to the keyword families below.
//! - `types`: how a location reads as a shape (`type`, types implied by keywords, a schema's
//!   independent parts as an implicit `allOf`, `$ref` with siblings).
//! - `annotations`: `$id`, `title`, `description` and `default`; `enum` and `const`.
//! - `strings`: `maxLength`, `minLength`, `pattern`.
//! - `numbers`: `maximum`, `minimum` and their exclusive forms, `multipleOf`, and the table
//!   of numeric bounds every `max*` / `min*` keyword is compared with.
//! - `combined`: `allOf` / `anyOf` / `oneOf` against each other, pairing their subschemas.
//! - `content`: open, partially open and closed content models (`additionalProperties`,
//!   `additionalItems`, `unevaluated*`), shared by objects and arrays.
//! - `objects`: `properties`, `required`, dependencies, `patternProperties`, `propertyNames`.
//! - `arrays`: `items`, tuples (`items` as an array, `prefixItems`), `contains`, `uniqueItems`.
//! - `pattern`: `patternProperties` regular expressions.
//!
//! `Comparator` is declared here; `walk`, `refs`, `types` and each keyword family add an
//! `impl` block with their own methods. They reach each other's methods only through `self`
//! (a method call names no module), and each file names only siblings below it (`model`
//! names none), so the files form layers without loops, as `domain/tests/layers.rs` checks.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde_json::Value;

mod annotations;
mod arrays;
mod combined;
mod content;
mod diff;
mod model;
mod numbers;
mod objects;
mod pattern;
mod refs;
mod strings;
#[cfg(test)]
mod tests;
mod types;
mod walk;

pub use refs::validate_refs;

use diff::Diff;
use model::{Loc, PairKey};
use refs::Doc;

/// How many schema levels one comparison may descend before giving up.
const MAX_DEPTH: usize = 64;
/// How many schema pairs one comparison may examine before giving up.
const MAX_STEPS: usize = 200_000;
/// How many `$ref`s in a row may be followed before a chain counts as circular.
const MAX_REF_HOPS: usize = 64;
/// How much of the calling thread's call stack must be left for a comparison to descend one
/// more level. A level takes about 6 KiB unoptimized (far less optimized), so this leaves ample
/// room for the last level and the checks below it; [`MAX_DEPTH`] levels take about 380 KiB
/// unoptimized, so even a 512 KiB thread reaches that limit first.
const MIN_STACK_LEFT: usize = 128 * 1024;

const ORIGINAL: usize = 0;
const UPDATE: usize = 1;

macro_rules! change_kinds {
    ($( $(#[$meta:meta])* $variant:ident = $name:literal, $compatible:literal; )*) => {
        /// The kind of a [`Change`], named as in Confluent's `Difference.Type`, with a few
        /// additions of this module's own (documented on the variant).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ChangeKind {
            $( $(#[$meta])* #[doc = concat!("`", $name, "`")] $variant, )*
        }

        impl ChangeKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [ChangeKind] = &[$(ChangeKind::$variant),*];

            /// The Confluent-style name, e.g. `TYPE_CHANGED`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ChangeKind::$variant => $name,)*
                }
            }

            /// Whether a change of this kind keeps BACKWARD compatibility.
            pub fn is_compatible(self) -> bool {
                match self {
                    $(ChangeKind::$variant => $compatible,)*
                }
            }
        }
    };
}

change_kinds! {
    IdChanged = "ID_CHANGED", true;
    DescriptionChanged = "DESCRIPTION_CHANGED", true;
    TitleChanged = "TITLE_CHANGED", true;
    DefaultChanged = "DEFAULT_CHANGED", true;
    SchemaAdded = "SCHEMA_ADDED", false;
    SchemaRemoved = "SCHEMA_REMOVED", true;
    TypeExtended = "TYPE_EXTENDED", true;
    TypeNarrowed = "TYPE_NARROWED", false;
    TypeChanged = "TYPE_CHANGED", false;

    MaxLengthAdded = "MAX_LENGTH_ADDED", false;
    MaxLengthRemoved = "MAX_LENGTH_REMOVED", true;
    MaxLengthIncreased = "MAX_LENGTH_INCREASED", true;
    MaxLengthDecreased = "MAX_LENGTH_DECREASED", false;
    MinLengthAdded = "MIN_LENGTH_ADDED", false;
    MinLengthRemoved = "MIN_LENGTH_REMOVED", true;
    MinLengthIncreased = "MIN_LENGTH_INCREASED", false;
    MinLengthDecreased = "MIN_LENGTH_DECREASED", true;
    PatternAdded = "PATTERN_ADDED", false;
    PatternRemoved = "PATTERN_REMOVED", true;
    PatternChanged = "PATTERN_CHANGED", false;

    MaximumAdded = "MAXIMUM_ADDED", false;
    MaximumRemoved = "MAXIMUM_REMOVED", true;
    MaximumIncreased = "MAXIMUM_INCREASED", true;
    MaximumDecreased = "MAXIMUM_DECREASED", false;
    MinimumAdded = "MINIMUM_ADDED", false;
    MinimumRemoved = "MINIMUM_REMOVED", true;
    MinimumIncreased = "MINIMUM_INCREASED", false;
    MinimumDecreased = "MINIMUM_DECREASED", true;
    ExclusiveMaximumAdded = "EXCLUSIVE_MAXIMUM_ADDED", false;
    ExclusiveMaximumRemoved = "EXCLUSIVE_MAXIMUM_REMOVED", true;
    ExclusiveMaximumIncreased = "EXCLUSIVE_MAXIMUM_INCREASED", true;
    ExclusiveMaximumDecreased = "EXCLUSIVE_MAXIMUM_DECREASED", false;
    ExclusiveMinimumAdded = "EXCLUSIVE_MINIMUM_ADDED", false;
    ExclusiveMinimumRemoved = "EXCLUSIVE_MINIMUM_REMOVED", true;
    ExclusiveMinimumIncreased = "EXCLUSIVE_MINIMUM_INCREASED", false;
    ExclusiveMinimumDecreased = "EXCLUSIVE_MINIMUM_DECREASED", true;
    MultipleOfAdded = "MULTIPLE_OF_ADDED", false;
    MultipleOfRemoved = "MULTIPLE_OF_REMOVED", true;
    MultipleOfExpanded = "MULTIPLE_OF_EXPANDED", false;
    MultipleOfReduced = "MULTIPLE_OF_REDUCED", true;
    MultipleOfChanged = "MULTIPLE_OF_CHANGED", false;

    RequiredAttributeAdded = "REQUIRED_ATTRIBUTE_ADDED", false;
    RequiredAttributeWithDefaultAdded = "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED", true;
    RequiredAttributeRemoved = "REQUIRED_ATTRIBUTE_REMOVED", true;
    MaxPropertiesAdded = "MAX_PROPERTIES_ADDED", false;
    MaxPropertiesRemoved = "MAX_PROPERTIES_REMOVED", true;
    MaxPropertiesIncreased = "MAX_PROPERTIES_INCREASED", true;
    MaxPropertiesDecreased = "MAX_PROPERTIES_DECREASED", false;
    MinPropertiesAdded = "MIN_PROPERTIES_ADDED", false;
    MinPropertiesRemoved = "MIN_PROPERTIES_REMOVED", true;
    MinPropertiesIncreased = "MIN_PROPERTIES_INCREASED", false;
    MinPropertiesDecreased = "MIN_PROPERTIES_DECREASED", true;
    AdditionalPropertiesAdded = "ADDITIONAL_PROPERTIES_ADDED", true;
    AdditionalPropertiesRemoved = "ADDITIONAL_PROPERTIES_REMOVED", false;
    AdditionalPropertiesExtended = "ADDITIONAL_PROPERTIES_EXTENDED", true;
    AdditionalPropertiesNarrowed = "ADDITIONAL_PROPERTIES_NARROWED", false;
    DependencyArrayAdded = "DEPENDENCY_ARRAY_ADDED", false;
    DependencyArrayRemoved = "DEPENDENCY_ARRAY_REMOVED", true;
    DependencyArrayExtended = "DEPENDENCY_ARRAY_EXTENDED", false;
    DependencyArrayNarrowed = "DEPENDENCY_ARRAY_NARROWED", true;
    DependencyArrayChanged = "DEPENDENCY_ARRAY_CHANGED", false;
    DependencySchemaAdded = "DEPENDENCY_SCHEMA_ADDED", false;
    DependencySchemaRemoved = "DEPENDENCY_SCHEMA_REMOVED", true;
    /// Confluent 7.x's name for a property added to an open content model; deprecated in 8.x
    /// and never produced here (see the `*_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL` kinds).
    PropertyAddedToOpenContentModel = "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", false;
    RequiredPropertyAddedToOpenContentModel = "REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", false;
    RequiredPropertyWithDefaultAddedToOpenContentModel =
        "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL", false;
    OptionalPropertyAddedToOpenContentModel = "OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", false;
    PropertyWithEmptySchemaAddedToOpenContentModel =
        "PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL", true;
    RequiredPropertyAddedToUnopenContentModel =
        "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL", false;
    RequiredPropertyWithDefaultAddedToUnopenContentModel =
        "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL", true;
    OptionalPropertyAddedToUnopenContentModel =
        "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL", true;
    PropertyRemovedFromOpenContentModel = "PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL", true;
    PropertyWithFalseRemovedFromClosedContentModel =
        "PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL", true;
    PropertyRemovedFromClosedContentModel = "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", false;
    PropertyRemovedIsCoveredByPartiallyOpenContentModel =
        "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", true;
    PropertyRemovedNotCoveredByPartiallyOpenContentModel =
        "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", false;
    PropertyAddedIsCoveredByPartiallyOpenContentModel =
        "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", true;
    PropertyAddedNotCoveredByPartiallyOpenContentModel =
        "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", false;
    UnevaluatedPropertiesAdded = "UNEVALUATED_PROPERTIES_ADDED", true;
    UnevaluatedPropertiesRemoved = "UNEVALUATED_PROPERTIES_REMOVED", false;
    UnevaluatedPropertiesExtended = "UNEVALUATED_PROPERTIES_EXTENDED", true;
    UnevaluatedPropertiesNarrowed = "UNEVALUATED_PROPERTIES_NARROWED", false;

    MaxItemsAdded = "MAX_ITEMS_ADDED", false;
    MaxItemsRemoved = "MAX_ITEMS_REMOVED", true;
    MaxItemsIncreased = "MAX_ITEMS_INCREASED", true;
    MaxItemsDecreased = "MAX_ITEMS_DECREASED", false;
    MinItemsAdded = "MIN_ITEMS_ADDED", false;
    MinItemsRemoved = "MIN_ITEMS_REMOVED", true;
    MinItemsIncreased = "MIN_ITEMS_INCREASED", false;
    MinItemsDecreased = "MIN_ITEMS_DECREASED", true;
    MaxContainsAdded = "MAX_CONTAINS_ADDED", false;
    MaxContainsRemoved = "MAX_CONTAINS_REMOVED", true;
    MaxContainsIncreased = "MAX_CONTAINS_INCREASED", true;
    MaxContainsDecreased = "MAX_CONTAINS_DECREASED", false;
    MinContainsAdded = "MIN_CONTAINS_ADDED", false;
    MinContainsRemoved = "MIN_CONTAINS_REMOVED", true;
    MinContainsIncreased = "MIN_CONTAINS_INCREASED", false;
    MinContainsDecreased = "MIN_CONTAINS_DECREASED", true;
    UniqueItemsAdded = "UNIQUE_ITEMS_ADDED", false;
    UniqueItemsRemoved = "UNIQUE_ITEMS_REMOVED", true;
    AdditionalItemsAdded = "ADDITIONAL_ITEMS_ADDED", true;
    AdditionalItemsRemoved = "ADDITIONAL_ITEMS_REMOVED", false;
    AdditionalItemsExtended = "ADDITIONAL_ITEMS_EXTENDED", true;
    AdditionalItemsNarrowed = "ADDITIONAL_ITEMS_NARROWED", false;
    UnevaluatedItemsAdded = "UNEVALUATED_ITEMS_ADDED", true;
    UnevaluatedItemsRemoved = "UNEVALUATED_ITEMS_REMOVED", false;
    UnevaluatedItemsExtended = "UNEVALUATED_ITEMS_EXTENDED", true;
    UnevaluatedItemsNarrowed = "UNEVALUATED_ITEMS_NARROWED", false;
    ItemAddedToOpenContentModel = "ITEM_ADDED_TO_OPEN_CONTENT_MODEL", false;
    ItemWithEmptySchemaAddedToOpenContentModel =
        "ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL", true;
    ItemAddedToClosedContentModel = "ITEM_ADDED_TO_CLOSED_CONTENT_MODEL", true;
    ItemRemovedFromOpenContentModel = "ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL", true;
    ItemWithFalseRemovedFromClosedContentModel =
        "ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL", true;
    ItemRemovedFromClosedContentModel = "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL", false;
    ItemRemovedIsCoveredByPartiallyOpenContentModel =
        "ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", true;
    ItemRemovedNotCoveredByPartiallyOpenContentModel =
        "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", false;
    ItemAddedIsCoveredByPartiallyOpenContentModel =
        "ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", true;
    ItemAddedNotCoveredByPartiallyOpenContentModel =
        "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", false;

    EnumArrayExtended = "ENUM_ARRAY_EXTENDED", true;
    EnumArrayNarrowed = "ENUM_ARRAY_NARROWED", false;
    EnumArrayChanged = "ENUM_ARRAY_CHANGED", false;

    CombinedTypeExtended = "COMBINED_TYPE_EXTENDED", true;
    CombinedTypeChanged = "COMBINED_TYPE_CHANGED", false;
    ProductTypeExtended = "PRODUCT_TYPE_EXTENDED", false;
    ProductTypeNarrowed = "PRODUCT_TYPE_NARROWED", true;
    SumTypeExtended = "SUM_TYPE_EXTENDED", true;
    SumTypeNarrowed = "SUM_TYPE_NARROWED", false;
    CombinedTypeSubschemasChanged = "COMBINED_TYPE_SUBSCHEMAS_CHANGED", false;
    NotTypeExtended = "NOT_TYPE_EXTENDED", false;
    NotTypeNarrowed = "NOT_TYPE_NARROWED", true;

    /// Meshmart addition: a `patternProperties` entry added where the original allowed any
    /// additional property (values the old schema accepted may now be rejected).
    PatternPropertyAddedToOpenContentModel =
        "PATTERN_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", false;
    /// Meshmart addition: a `patternProperties` entry with an empty schema added to an open
    /// content model.
    PatternPropertyWithEmptySchemaAddedToOpenContentModel =
        "PATTERN_PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL", true;
    /// Meshmart addition: a `patternProperties` entry added where the original rejected
    /// additional properties.
    PatternPropertyAddedToClosedContentModel =
        "PATTERN_PROPERTY_ADDED_TO_CLOSED_CONTENT_MODEL", true;
    /// Meshmart addition: a `patternProperties` entry added that accepts everything the
    /// original's `additionalProperties` schema accepted.
    PatternPropertyAddedIsCoveredByPartiallyOpenContentModel =
        "PATTERN_PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", true;
    /// Meshmart addition: a `patternProperties` entry added that rejects values the original's
    /// `additionalProperties` schema accepted.
    PatternPropertyAddedNotCoveredByPartiallyOpenContentModel =
        "PATTERN_PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", false;
    /// Meshmart addition: a `patternProperties` entry removed where the update allows any
    /// additional property.
    PatternPropertyRemovedFromOpenContentModel =
        "PATTERN_PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL", true;
    /// Meshmart addition: a `patternProperties` entry whose schema was `false` removed from a
    /// closed content model.
    PatternPropertyWithFalseRemovedFromClosedContentModel =
        "PATTERN_PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL", true;
    /// Meshmart addition: a `patternProperties` entry removed where the update rejects
    /// additional properties.
    PatternPropertyRemovedFromClosedContentModel =
        "PATTERN_PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", false;
    /// Meshmart addition: a `patternProperties` entry removed whose values the update's
    /// `additionalProperties` schema still accepts.
    PatternPropertyRemovedIsCoveredByPartiallyOpenContentModel =
        "PATTERN_PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", true;
    /// Meshmart addition: a `patternProperties` entry removed whose values the update's
    /// `additionalProperties` schema rejects.
    PatternPropertyRemovedNotCoveredByPartiallyOpenContentModel =
        "PATTERN_PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", false;
    /// Meshmart addition: the schemas nest too deeply, or the comparison examined too many
    /// schema pairs, to be compared completely; treated as breaking.
    ComparisonLimitExceeded = "COMPARISON_LIMIT_EXCEEDED", false;
}

impl ChangeKind {
    /// The kind with this Confluent-style name, if there is one.
    pub fn from_name(name: &str) -> Option<ChangeKind> {
        Self::ALL.iter().copied().find(|kind| kind.as_str() == name)
    }
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One difference between two versions of a schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// What changed, in Confluent's terms.
    pub kind: ChangeKind,
    /// Where: a JSON pointer into the schema prefixed with `#` (`#` alone for the root), such
    /// as `#/properties/customerID` or `#/maxLength`. It follows the original's structure,
    /// with `$ref`s looked through.
    pub path: String,
    /// Human text, such as `type changed string → integer`.
    pub message: String,
}

impl Change {
    /// Whether this change breaks BACKWARD compatibility.
    pub fn is_breaking(&self) -> bool {
        !self.kind.is_compatible()
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// A `$ref` that does not resolve, or a chain of `$ref`s that loops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefProblem {
    /// Where the offending `$ref` keyword is, e.g. `#/definitions/a/$ref`.
    pub pointer: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for RefProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pointer, self.message)
    }
}

impl std::error::Error for RefProblem {}

/// Every difference from `original` to `update`, in document order (keyword by keyword,
/// depth first, following the original's structure).
pub fn changes(original: &Value, update: &Value) -> Vec<Change> {
    let mut comparator = Comparator::new(original, update);
    let o = Loc::root(ORIGINAL, original);
    let u = Loc::root(UPDATE, update);
    let mut diffs = comparator.compare_locs(&o, &u);
    // A limit hit inside a union or a partially open content model may only show up as a
    // failed match there; say why at the top as well.
    if comparator.limited
        && !diffs
            .iter()
            .any(|d| d.kind == ChangeKind::ComparisonLimitExceeded)
    {
        diffs.push(Diff::new(
            ChangeKind::ComparisonLimitExceeded,
            String::new(),
            "the schemas are too deep or too large to compare completely".to_string(),
        ));
    }
    diffs.into_iter().map(Diff::into_change).collect()
}

/// BACKWARD check: `Ok` when `update` can read all data `original` accepted, else the
/// breaking changes.
pub fn check_backward(original: &Value, update: &Value) -> Result<(), Vec<Change>> {
    let breaking: Vec<Change> = changes(original, update)
        .into_iter()
        .filter(Change::is_breaking)
        .collect();
    if breaking.is_empty() {
        Ok(())
    } else {
        Err(breaking)
    }
}

/// One comparison of an original schema with an update. The methods live with what they
/// compare: the walk in `walk`, `$ref`s in `refs`, shapes in `types`, and each family of
/// keywords in its own file.
struct Comparator<'a> {
    docs: [Doc<'a>; 2],
    memo: HashMap<PairKey, Vec<Diff>>,
    in_progress: HashSet<PairKey>,
    regexes: HashMap<String, Option<pattern::Regex>>,
    depth: usize,
    steps: usize,
    /// Set once any comparison was cut short by a limit.
    limited: bool,
}

impl<'a> Comparator<'a> {
    fn new(original: &'a Value, update: &'a Value) -> Comparator<'a> {
        Comparator {
            docs: [Doc::new(original), Doc::new(update)],
            memo: HashMap::new(),
            in_progress: HashSet::new(),
            regexes: HashMap::new(),
            depth: 0,
            steps: 0,
            limited: false,
        }
    }

    fn doc(&self, doc: usize) -> &Doc<'a> {
        let [original, update] = &self.docs;
        if doc == ORIGINAL { original } else { update }
    }
}
