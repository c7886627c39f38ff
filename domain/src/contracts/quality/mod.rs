//! The quality rules a contract declares, typed so that a stream checker can evaluate them
//! record by record. They are derived from the ODCS document (which stays the contract of
//! record) and never stored on their own.
//!
//! What maps to what:
//!
//! - a property's `required: true` → [`Check::NotNull`];
//! - a property's `unique: true` → [`Metric::DuplicateValues`] with `mustBe: 0` over the
//!   default window;
//! - `logicalTypeOptions` of `number`/`integer` properties (`minimum`, `maximum`,
//!   `exclusiveMinimum`, `exclusiveMaximum`) → [`Check::Range`]; of `string` properties
//!   (`minLength`/`maxLength`, `pattern`, `format`) → [`Check::Length`], [`Check::Pattern`]
//!   and [`Check::Format`];
//! - `quality` entries of `type: library` (the default) with `metric` `nullValues`,
//!   `missingValues` (`arguments.missingValues`), `invalidValues` (`arguments.validValues`
//!   and/or `arguments.pattern`) and `duplicateValues` (on a schema object:
//!   `arguments.properties`, the key) → [`Check::Counted`]: each record is a row, and the
//!   rule's threshold (`mustBe`, `mustBeLessThan`, …, in `unit` `rows` or `percent`) is
//!   compared with the count or share of offending records within a sliding window;
//! - the contract's SLA `latency` → [`Check::Freshness`] on every port (`element` may name
//!   the property holding the event time; otherwise the record's timestamp is used).
//!
//! ODCS is silent on streams, so Meshmart adds one argument: `arguments.windowSeconds`, the
//! sliding window of a counted rule (default [`DEFAULT_WINDOW_SECONDS`]). ODCS has no
//! `freshness` metric (the JSON Schema refuses unknown metrics), hence the SLA mapping.
//!
//! Rules ODCS allows but a record-by-record checker cannot run (`text`, `sql`, `custom`,
//! `rowCount`, a unit other than rows/percent, an unknown string format) are kept as
//! [`Check::NotEvaluated`] with the reason, never refused. Rules that are malformed in a
//! way the JSON Schema does not catch (a `mustBeBetween` out of order, a pattern that does
//! not compile, a window that is not a positive number, …) are refused at import with a
//! [`Problem`] pointing at the offending key.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::document::{list, port_format, port_topic};
use super::{Problem, problem};

/// The sliding window of a counted rule when `arguments.windowSeconds` is not given.
pub const DEFAULT_WINDOW_SECONDS: f64 = 300.0;
/// The largest compiled regular expression accepted, in bytes (the `regex` crate's measure).
const MAX_REGEX_BYTES: usize = 1 << 20;

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
    fn parse(name: &str) -> Option<Self> {
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

    fn numbers(self) -> Vec<f64> {
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

/// Compiles a rule's regular expression with the size limit every pattern gets.
pub fn compile_pattern(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .size_limit(MAX_REGEX_BYTES)
        .build()
}

/// Derives every port's rules from a document that passed the ODCS JSON Schema; the
/// problems are the rules that are malformed.
pub fn port_rules(document: &Value) -> Result<Vec<PortQuality>, Vec<Problem>> {
    let mut problems = Vec::new();
    let format = port_format(document);
    let objects: Vec<&Value> = document
        .get("schema")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let mut ports = Vec::with_capacity(objects.len());
    for (index, object) in objects.iter().enumerate() {
        let pointer = format!("/schema/{index}");
        let mut rules = Vec::new();
        let mut reader = Reader {
            problems: &mut problems,
            rules: &mut rules,
        };
        reader.object(object, &pointer);
        reader.properties(object, &pointer, &[]);
        if let Some(rule) = freshness(document, object) {
            rules.push(rule);
        }
        let policy = match policy(object, &pointer) {
            Ok(policy) => policy,
            Err(found) => {
                problems.push(found);
                Policy::Monitor
            }
        };
        ports.push(PortQuality {
            topic: port_topic(object),
            format: format.clone(),
            rules,
            policy,
        });
    }
    if problems.is_empty() {
        Ok(ports)
    } else {
        Err(problems)
    }
}

/// The schema object's `contractPolicy` custom property, if it declares one.
fn policy(object: &Value, pointer: &str) -> Result<Policy, Problem> {
    let Some(properties) = object.get("customProperties").and_then(Value::as_array) else {
        return Ok(Policy::Monitor);
    };
    for (index, entry) in properties.iter().enumerate() {
        if entry.get("property").and_then(Value::as_str) != Some(POLICY_PROPERTY) {
            continue;
        }
        return match entry.get("value").and_then(Value::as_str).map(str::trim) {
            Some("monitor") => Ok(Policy::Monitor),
            Some("quarantine") => Ok(Policy::Quarantine),
            _ => Err(problem(
                format!("{pointer}/customProperties/{index}/value"),
                "contractPolicy must be `monitor` or `quarantine`",
            )),
        };
    }
    Ok(Policy::Monitor)
}

struct Reader<'a> {
    problems: &'a mut Vec<Problem>,
    rules: &'a mut Vec<QualityRule>,
}

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

impl Reader<'_> {
    fn problem(&mut self, pointer: String, message: impl Into<String>) {
        self.problems.push(problem(pointer, message));
    }

    /// The schema object's own `quality` entries (no field: the whole record).
    fn object(&mut self, object: &Value, pointer: &str) {
        let names: Vec<&str> = object
            .get("properties")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| text(p, "name"))
            .collect();
        for (index, entry) in list(object, "quality").enumerate() {
            let pointer = format!("{pointer}/quality/{index}");
            if let Some(rule) = self.entry(entry, &pointer, None, &names) {
                self.rules.push(rule);
            }
        }
    }

    /// Every property's rules, recursing into nested objects and array items.
    fn properties(&mut self, parent: &Value, pointer: &str, path: &[Step]) {
        for (index, property) in list(parent, "properties").enumerate() {
            let Some(name) = text(property, "name") else {
                continue;
            };
            let pointer = format!("{pointer}/properties/{index}");
            let mut field = path.to_vec();
            field.push(Step::Key(name.to_string()));
            self.property(property, &pointer, &field);
            self.properties(property, &pointer, &field);
            if let Some(items) = property.get("items") {
                let mut each = field.clone();
                each.push(Step::Items);
                let items_pointer = format!("{pointer}/items");
                self.property(items, &items_pointer, &each);
                self.properties(items, &items_pointer, &each);
            }
        }
    }

    fn property(&mut self, property: &Value, pointer: &str, field: &FieldPath) {
        let shown = display_path(field);
        let rule = |name: String, pointer: String, check: Check| QualityRule {
            name,
            pointer,
            field: Some(field.clone()),
            dimension: None,
            severity: None,
            check,
        };
        if property.get("required").and_then(Value::as_bool) == Some(true) {
            self.rules.push(rule(
                format!("{shown}:required"),
                format!("{pointer}/required"),
                Check::NotNull,
            ));
        }
        if property.get("unique").and_then(Value::as_bool) == Some(true) {
            self.rules.push(rule(
                format!("{shown}:unique"),
                format!("{pointer}/unique"),
                Check::Counted {
                    metric: Metric::DuplicateValues {
                        key: vec![field.clone()],
                    },
                    threshold: Threshold {
                        operator: Operator::Be(0.0),
                        unit: Unit::Rows,
                    },
                    window_seconds: DEFAULT_WINDOW_SECONDS,
                },
            ));
        }
        if let Some(options) = property.get("logicalTypeOptions") {
            let options_pointer = format!("{pointer}/logicalTypeOptions");
            let logical = text(property, "logicalType").unwrap_or_default();
            for (name, check) in self.options(logical, options, &options_pointer) {
                self.rules.push(rule(
                    format!("{shown}:{name}"),
                    options_pointer.clone(),
                    check,
                ));
            }
        }
        for (index, entry) in list(property, "quality").enumerate() {
            let pointer = format!("{pointer}/quality/{index}");
            if let Some(rule) = self.entry(entry, &pointer, Some(field), &[]) {
                self.rules.push(rule);
            }
        }
    }

    /// Rules implied by `logicalTypeOptions` (the JSON Schema has already checked the keys
    /// and their types for each logical type).
    fn options(
        &mut self,
        logical: &str,
        options: &Value,
        pointer: &str,
    ) -> Vec<(&'static str, Check)> {
        let mut checks = Vec::new();
        let number = |key: &str| options.get(key).and_then(Value::as_f64);
        match logical {
            "number" | "integer" => {
                let minimum = number("exclusiveMinimum")
                    .map(|value| Bound {
                        value,
                        exclusive: true,
                    })
                    .or(number("minimum").map(|value| Bound {
                        value,
                        exclusive: false,
                    }));
                let maximum = number("exclusiveMaximum")
                    .map(|value| Bound {
                        value,
                        exclusive: true,
                    })
                    .or(number("maximum").map(|value| Bound {
                        value,
                        exclusive: false,
                    }));
                if let (Some(low), Some(high)) = (minimum, maximum)
                    && low.value > high.value
                {
                    let key = if high.exclusive {
                        "exclusiveMaximum"
                    } else {
                        "maximum"
                    };
                    self.problem(
                        format!("{pointer}/{key}"),
                        format!(
                            "the maximum {} is below the minimum {}",
                            high.value, low.value
                        ),
                    );
                } else if minimum.is_some() || maximum.is_some() {
                    checks.push(("range", Check::Range { minimum, maximum }));
                }
            }
            "string" => {
                let min = options.get("minLength").and_then(Value::as_u64);
                let max = options.get("maxLength").and_then(Value::as_u64);
                if let (Some(low), Some(high)) = (min, max)
                    && low > high
                {
                    self.problem(
                        format!("{pointer}/maxLength"),
                        format!("maxLength {high} is below minLength {low}"),
                    );
                } else if min.is_some() || max.is_some() {
                    checks.push(("length", Check::Length { min, max }));
                }
                if let Some(pattern) = options.get("pattern").and_then(Value::as_str)
                    && self.pattern(pattern, format!("{pointer}/pattern"))
                {
                    checks.push(("pattern", Check::Pattern(pattern.to_string())));
                }
                if let Some(format) = options.get("format").and_then(Value::as_str) {
                    checks.push((
                        "format",
                        match StringFormat::parse(format) {
                            Some(known) => Check::Format(known),
                            None => Check::NotEvaluated {
                                reason: format!(
                                    "the string format `{format}` is not one Meshmart checks"
                                ),
                            },
                        },
                    ));
                }
            }
            _ => {}
        }
        checks
    }

    /// Whether a pattern compiles; a problem at `pointer` if not.
    fn pattern(&mut self, pattern: &str, pointer: String) -> bool {
        match compile_pattern(pattern) {
            Ok(_) => true,
            Err(error) => {
                let reason = match error {
                    regex::Error::CompiledTooBig(_) => "it is too large".to_string(),
                    other => other
                        .to_string()
                        .lines()
                        .last()
                        .unwrap_or_default()
                        .trim()
                        .to_string(),
                };
                self.problem(
                    pointer,
                    format!("the pattern does not compile as a regular expression: {reason}"),
                );
                false
            }
        }
    }

    /// One `quality` entry; `None` when it is malformed (a problem was recorded).
    fn entry(
        &mut self,
        entry: &Value,
        pointer: &str,
        field: Option<&FieldPath>,
        object_properties: &[&str],
    ) -> Option<QualityRule> {
        let kind = text(entry, "type").unwrap_or("library");
        let metric = text(entry, "metric").or_else(|| text(entry, "rule"));
        let shown = field.map(|f| display_path(f));
        let label = metric.unwrap_or(kind);
        let name = text(entry, "name")
            .or_else(|| text(entry, "id"))
            .map(str::to_string)
            .unwrap_or_else(|| match &shown {
                Some(shown) => format!("{shown}:{label}"),
                None => label.to_string(),
            });
        let rule = |check: Check| QualityRule {
            name: name.clone(),
            pointer: pointer.to_string(),
            field: field.cloned(),
            dimension: text(entry, "dimension").map(str::to_string),
            severity: text(entry, "severity").map(str::to_string),
            check,
        };
        let not_evaluated = |reason: String| Some(rule(Check::NotEvaluated { reason }));
        match kind {
            "text" => return not_evaluated("a text rule is written for people".into()),
            "sql" => {
                return not_evaluated(
                    "an SQL rule needs a table; records are checked one at a time".into(),
                );
            }
            "custom" => {
                let engine = text(entry, "engine").unwrap_or("another engine");
                return not_evaluated(format!("a custom rule runs on {engine}, not on Meshmart"));
            }
            _ => {}
        }
        let Some(metric) = metric else {
            return not_evaluated("the rule names no metric".into());
        };
        let problems_before = self.problems.len();
        let arguments = entry.get("arguments");
        let argument = |key: &str| arguments.and_then(|a| a.get(key));
        let argument_pointer = |key: &str| format!("{pointer}/arguments/{}", escape(key));
        let operator = self.operator(entry, pointer);
        let unit = match text(entry, "unit").map(str::to_ascii_lowercase).as_deref() {
            None | Some("rows") | Some("row") => Some(Unit::Rows),
            Some("percent") | Some("%") => Some(Unit::Percent),
            Some(_) => None,
        };
        if let (Some((key, operator)), Some(Unit::Percent)) = (operator, unit)
            && operator
                .numbers()
                .iter()
                .any(|n| !(0.0..=100.0).contains(n))
        {
            self.problem(
                format!("{pointer}/{key}"),
                "a percent threshold is between 0 and 100",
            );
        }
        let window_seconds = match argument("windowSeconds") {
            None => DEFAULT_WINDOW_SECONDS,
            Some(value) => match value.as_f64() {
                Some(seconds) if seconds > 0.0 && seconds.is_finite() => seconds,
                _ => {
                    self.problem(
                        argument_pointer("windowSeconds"),
                        "the window is a positive number of seconds",
                    );
                    DEFAULT_WINDOW_SECONDS
                }
            },
        };
        let list_argument = |reader: &mut Self, key: &str| -> Option<Vec<Value>> {
            match argument(key) {
                None => None,
                Some(Value::Array(items)) => Some(items.clone()),
                Some(_) => {
                    reader.problem(
                        argument_pointer(key),
                        format!("`{key}` is a list of values"),
                    );
                    None
                }
            }
        };
        let metric = match metric {
            "nullValues" => Some(Metric::NullValues),
            "missingValues" => Some(Metric::MissingValues(
                list_argument(self, "missingValues")
                    .unwrap_or_else(|| vec![Value::Null, Value::String(String::new())]),
            )),
            "invalidValues" => {
                let valid_values = list_argument(self, "validValues");
                let pattern = match argument("pattern") {
                    None => None,
                    Some(Value::String(pattern)) => self
                        .pattern(pattern, argument_pointer("pattern"))
                        .then(|| pattern.clone()),
                    Some(_) => {
                        self.problem(
                            argument_pointer("pattern"),
                            "`pattern` is a regular expression",
                        );
                        None
                    }
                };
                if argument("validValues").is_none() && argument("pattern").is_none() {
                    self.problem(
                        format!("{pointer}/metric"),
                        "say what is valid: arguments.validValues (a list) or arguments.pattern",
                    );
                }
                Some(Metric::InvalidValues {
                    valid_values,
                    pattern,
                })
            }
            "duplicateValues" => match (field, argument("properties")) {
                (Some(field), None) => Some(Metric::DuplicateValues {
                    key: vec![field.clone()],
                }),
                (_, Some(Value::Array(names)))
                    if !names.is_empty()
                        && names.iter().all(|n| {
                            n.as_str()
                                .is_some_and(|n| field.is_some() || object_properties.contains(&n))
                        }) =>
                {
                    let base: FieldPath = field
                        .map(|f| f[..f.len().saturating_sub(1)].to_vec())
                        .unwrap_or_default();
                    Some(Metric::DuplicateValues {
                        key: names
                            .iter()
                            .filter_map(Value::as_str)
                            .map(|n| {
                                let mut path = base.clone();
                                path.push(Step::Key(n.to_string()));
                                path
                            })
                            .collect(),
                    })
                }
                (None, None) => {
                    return not_evaluated(
                        "duplicateValues on a schema object needs arguments.properties, the key"
                            .into(),
                    );
                }
                (_, Some(_)) => {
                    self.problem(
                        argument_pointer("properties"),
                        "`properties` lists the names of this object's properties that form the key",
                    );
                    None
                }
            },
            "rowCount" => {
                return not_evaluated(
                    "rowCount measures a table; a stream's volume is its throughput".into(),
                );
            }
            // The JSON Schema already refuses other metrics; this is the belt to its braces.
            other => {
                self.problem(
                    format!("{pointer}/metric"),
                    format!("unknown metric `{other}`; use nullValues, missingValues, invalidValues, duplicateValues or rowCount"),
                );
                None
            }
        };
        if self.problems.len() > problems_before {
            return None;
        }
        let metric = metric?;
        if field.is_none() && !matches!(metric, Metric::DuplicateValues { .. }) {
            return not_evaluated(format!("{label} on a schema object names no property"));
        }
        let Some((_, operator)) = operator else {
            return not_evaluated("the rule has no mustBe… threshold".into());
        };
        let Some(unit) = unit else {
            return not_evaluated(format!(
                "the unit `{}` is neither rows nor percent",
                text(entry, "unit").unwrap_or_default()
            ));
        };
        Some(rule(Check::Counted {
            metric,
            threshold: Threshold { operator, unit },
            window_seconds,
        }))
    }

    /// The entry's comparison operator and its key; problems for malformed ones.
    fn operator(&mut self, entry: &Value, pointer: &str) -> Option<(&'static str, Operator)> {
        const SINGLE: [&str; 6] = [
            "mustBe",
            "mustNotBe",
            "mustBeGreaterThan",
            "mustBeGreaterOrEqualTo",
            "mustBeLessThan",
            "mustBeLessOrEqualTo",
        ];
        for key in SINGLE {
            let Some(value) = entry.get(key) else {
                continue;
            };
            let Some(n) = value.as_f64() else {
                self.problem(
                    format!("{pointer}/{key}"),
                    format!("`{key}` of a metric is a number"),
                );
                return None;
            };
            let operator = match key {
                "mustBe" => Operator::Be(n),
                "mustNotBe" => Operator::NotBe(n),
                "mustBeGreaterThan" => Operator::GreaterThan(n),
                "mustBeGreaterOrEqualTo" => Operator::GreaterOrEqualTo(n),
                "mustBeLessThan" => Operator::LessThan(n),
                _ => Operator::LessOrEqualTo(n),
            };
            return Some((key, operator));
        }
        for key in ["mustBeBetween", "mustNotBeBetween"] {
            let Some(value) = entry.get(key) else {
                continue;
            };
            let pair = value.as_array().and_then(|items| match items.as_slice() {
                [low, high] => Some((low.as_f64()?, high.as_f64()?)),
                _ => None,
            });
            match pair {
                Some((low, high)) if low < high => {
                    return Some(if key == "mustBeBetween" {
                        ("mustBeBetween", Operator::Between(low, high))
                    } else {
                        ("mustNotBeBetween", Operator::NotBetween(low, high))
                    });
                }
                _ => {
                    self.problem(
                        format!("{pointer}/{key}"),
                        format!("`{key}` is two numbers, the smaller first"),
                    );
                    return None;
                }
            }
        }
        None
    }
}

/// The port's freshness rule from the SLA `latency`, if the contract declares one. An
/// `element` (`object.property` or `property`) that names another object leaves this port
/// out; one that names a property of this port makes it the event time.
fn freshness(document: &Value, object: &Value) -> Option<QualityRule> {
    let (index, sla) = list(document, "slaProperties")
        .enumerate()
        .find(|(_, sla)| {
            text(sla, "property").is_some_and(|p| p.eq_ignore_ascii_case("latency"))
        })?;
    let object_name = text(object, "name").unwrap_or_default();
    let physical_name = text(object, "physicalName").unwrap_or_default();
    let mut time_field = None;
    if let Some(element) = text(sla, "element") {
        let (owner, property) = match element.rsplit_once('.') {
            Some((owner, property)) => (Some(owner), property),
            None => (None, element),
        };
        if owner.is_some_and(|o| o != object_name && o != physical_name) {
            return None;
        }
        let declared = list(object, "properties").any(|p| text(p, "name") == Some(property));
        if declared {
            time_field = Some(vec![Step::Key(property.to_string())]);
        }
    }
    let check = match latency_seconds(sla) {
        Ok(max_age_seconds) => Check::Freshness {
            max_age_seconds,
            time_field,
        },
        Err(reason) => Check::NotEvaluated { reason },
    };
    Some(QualityRule {
        name: "freshness".to_string(),
        pointer: format!("/slaProperties/{index}"),
        field: None,
        dimension: Some("timeliness".to_string()),
        severity: None,
        check,
    })
}

/// The SLA value in seconds: a number (or numeric text) and an ISO-ish unit.
fn latency_seconds(sla: &Value) -> Result<f64, String> {
    let value = match sla.get("value") {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|v| v.is_finite() && *v > 0.0)
    .ok_or("the latency is not a positive number")?;
    let unit = text(sla, "unit").ok_or("the latency has no unit")?;
    let seconds = unit_seconds(unit)
        .ok_or_else(|| format!("the latency unit `{unit}` is not one Meshmart reads"))?;
    Ok(value * seconds)
}

/// Seconds in one of an SLA duration's unit (`ms`, `s`, `min`, `h`, `d`, `w`, `y` and their
/// long forms, any case); `None` for a unit Meshmart does not read.
pub fn unit_seconds(unit: &str) -> Option<f64> {
    Some(match unit.trim().to_ascii_lowercase().as_str() {
        "ms" | "millisecond" | "milliseconds" => 0.001,
        "s" | "sec" | "second" | "seconds" => 1.0,
        "m" | "min" | "minute" | "minutes" => 60.0,
        "h" | "hr" | "hour" | "hours" => 3600.0,
        "d" | "day" | "days" => 86_400.0,
        "w" | "week" | "weeks" => 7.0 * 86_400.0,
        "y" | "yr" | "year" | "years" => 365.0 * 86_400.0,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

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
                quality(
                    "- metric: invalidValues\n  mustBe: 0\n  arguments:\n    validValues: placed",
                ),
                format!("{q}/arguments/validValues"),
                "list",
            ),
            (
                quality(
                    "- metric: invalidValues\n  mustBe: 0\n  arguments:\n    pattern: '(unclosed'",
                ),
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
}
