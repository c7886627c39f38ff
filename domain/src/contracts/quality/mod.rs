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
//!
//! This file reads each port's rules and holds what the readers share; the rule model is in
//! `model.rs`, a property's declarations are read in `properties.rs`, a `quality` entry in
//! `entry.rs` and the SLA's freshness in `freshness.rs`.

mod entry;
mod freshness;
mod model;
mod properties;

use serde_json::Value;

use super::document::{list, port_format, port_topic};
use super::{Problem, problem};
use freshness::freshness;
pub use freshness::unit_seconds;
pub use model::{
    Bound, Check, FieldPath, Metric, Operator, POLICY_PROPERTY, Policy, PortQuality, QualityRule,
    Step, StringFormat, Threshold, Unit, dead_letter_topic, display_path,
};

/// The sliding window of a counted rule when `arguments.windowSeconds` is not given.
pub const DEFAULT_WINDOW_SECONDS: f64 = 300.0;
/// The largest compiled regular expression accepted, in bytes (the `regex` crate's measure).
const MAX_REGEX_BYTES: usize = 1 << 20;

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
}

#[cfg(test)]
mod tests;
