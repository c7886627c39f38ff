//! The rule model: what a port's quality rules are once read from its contract (the
//! rules, their checks, metrics, thresholds and operators, field paths and the port's
//! contract policy).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The rules of one output port (one ODCS schema object).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PortQuality {
    pub topic: String,
    /// `avro` or `json`: Avro field names are sanitised, so lookups try that name too.
    pub format: String,
    pub rules: Vec<QualityRule>,
    /// What happens to a record that fails: counted, or also copied to the dead-letter topic.
    #[serde(default)]
    pub policy: Policy,
}

/// The contract policy of an output port, declared as the schema object's custom property
/// `contractPolicy` (`monitor` when absent).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Failing records are counted and sampled.
    #[default]
    Monitor,
    /// Failing records are also copied to the port's dead-letter topic, `<topic>.dlq`.
    Quarantine,
}

impl Policy {
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Monitor => "monitor",
            Policy::Quarantine => "quarantine",
        }
    }
}

/// The dead-letter topic of a port's topic.
pub fn dead_letter_topic(topic: &str) -> String {
    format!("{topic}.dlq")
}

/// The custom property naming a port's contract policy.
pub const POLICY_PROPERTY: &str = "contractPolicy";

/// One step from a record to a field: a key of an object, or every item of an array.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Step {
    Key(String),
    Items,
}

/// Where a rule looks in a record, from the record's root.
pub type FieldPath = Vec<Step>;

/// The path as people read it: `geolocation.country`, `lines[].sku`.
pub fn display_path(path: &[Step]) -> String {
    let mut text = String::new();
    for step in path {
        match step {
            Step::Key(key) => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(key);
            }
            Step::Items => text.push_str("[]"),
        }
    }
    text
}

/// One rule, where it came from, and what it checks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QualityRule {
    /// A name for counting and display: the rule's own `name` or `id`, else `field:kind`.
    pub name: String,
    /// JSON pointer of the declaration in the contract.
    pub pointer: String,
    /// The field the rule applies to; `None` for a rule on the whole record.
    pub field: Option<FieldPath>,
    pub dimension: Option<String>,
    pub severity: Option<String>,
    pub check: Check,
}

/// What a rule checks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Check {
    /// The field is present and not null.
    NotNull,
    /// Numbers within bounds (numbers written as strings are read as numbers).
    Range {
        minimum: Option<Bound>,
        maximum: Option<Bound>,
    },
    /// String length in characters.
    Length { min: Option<u64>, max: Option<u64> },
    /// A regular expression that must match somewhere in the string (JSON Schema's
    /// unanchored `pattern`; anchor it with `^…$` to match the whole value).
    Pattern(String),
    /// A well-known string format.
    Format(StringFormat),
    /// An ODCS library metric: a record offends or not, and the threshold is compared with
    /// the offending records within the window. An offending record fails the rule only
    /// when the window, this record included, breaks the threshold.
    Counted {
        metric: Metric,
        threshold: Threshold,
        window_seconds: f64,
    },
    /// The event is at most this old when checked.
    Freshness {
        max_age_seconds: f64,
        /// The field with the event time; `None` means the record's own timestamp.
        time_field: Option<FieldPath>,
    },
    /// Declared but not evaluated on a stream, and why.
    NotEvaluated { reason: String },
}

/// A bound of a range.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bound {
    pub value: f64,
    pub exclusive: bool,
}

/// String formats Meshmart can check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StringFormat {
    Email,
    Uuid,
    Uri,
    Hostname,
    Ipv4,
    Ipv6,
    Date,
    DateTime,
}

impl StringFormat {
    pub(super) fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "email" => StringFormat::Email,
            "uuid" => StringFormat::Uuid,
            "uri" | "url" => StringFormat::Uri,
            "hostname" => StringFormat::Hostname,
            "ipv4" => StringFormat::Ipv4,
            "ipv6" => StringFormat::Ipv6,
            "date" => StringFormat::Date,
            "date-time" | "datetime" | "timestamp" => StringFormat::DateTime,
            _ => return None,
        })
    }
}

/// The ODCS library metrics a stream checker can count.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Metric {
    /// The value is null or absent.
    NullValues,
    /// The value is one of these (default: null, absent or the empty string).
    MissingValues(Vec<Value>),
    /// A non-null value outside `valid_values`, or not matching `pattern`.
    InvalidValues {
        valid_values: Option<Vec<Value>>,
        pattern: Option<String>,
    },
    /// The key (one or more fields) was already seen within the window.
    DuplicateValues { key: Vec<FieldPath> },
}

/// How a counted rule's measure is compared: `operator` applied to the count of offending
/// records (`Rows`) or their share in percent (`Percent`) within the window.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    pub operator: Operator,
    pub unit: Unit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unit {
    Rows,
    Percent,
}

/// The ODCS comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Operator {
    Be(f64),
    NotBe(f64),
    GreaterThan(f64),
    GreaterOrEqualTo(f64),
    LessThan(f64),
    LessOrEqualTo(f64),
    Between(f64, f64),
    NotBetween(f64, f64),
}

impl Operator {
    /// Whether a measured value satisfies the operator.
    pub fn holds(self, measured: f64) -> bool {
        match self {
            Operator::Be(v) => measured == v,
            Operator::NotBe(v) => measured != v,
            Operator::GreaterThan(v) => measured > v,
            Operator::GreaterOrEqualTo(v) => measured >= v,
            Operator::LessThan(v) => measured < v,
            Operator::LessOrEqualTo(v) => measured <= v,
            Operator::Between(low, high) => (low..=high).contains(&measured),
            Operator::NotBetween(low, high) => !(low..=high).contains(&measured),
        }
    }

    pub(super) fn numbers(self) -> Vec<f64> {
        match self {
            Operator::Be(v)
            | Operator::NotBe(v)
            | Operator::GreaterThan(v)
            | Operator::GreaterOrEqualTo(v)
            | Operator::LessThan(v)
            | Operator::LessOrEqualTo(v) => vec![v],
            Operator::Between(low, high) | Operator::NotBetween(low, high) => vec![low, high],
        }
    }
}

impl std::fmt::Display for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Operator::Be(v) => write!(f, "= {v}"),
            Operator::NotBe(v) => write!(f, "≠ {v}"),
            Operator::GreaterThan(v) => write!(f, "> {v}"),
            Operator::GreaterOrEqualTo(v) => write!(f, "≥ {v}"),
            Operator::LessThan(v) => write!(f, "< {v}"),
            Operator::LessOrEqualTo(v) => write!(f, "≤ {v}"),
            Operator::Between(low, high) => write!(f, "between {low} and {high}"),
            Operator::NotBetween(low, high) => write!(f, "not between {low} and {high}"),
        }
    }
}
