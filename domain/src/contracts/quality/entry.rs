//! Reading one `quality` entry: `text`, `sql` and `custom` rules kept as not evaluated, and
//! the library metrics (`nullValues`, `missingValues`, `invalidValues`, `duplicateValues`)
//! with their threshold, unit and window, refused with a pointer when malformed.

use serde_json::Value;

use super::model::{
    Check, FieldPath, Metric, Operator, QualityRule, Step, Threshold, Unit, display_path,
};
use super::{DEFAULT_WINDOW_SECONDS, Reader, text};

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}
impl Reader<'_> {
    /// One `quality` entry; `None` when it is malformed (a problem was recorded).
    pub(super) fn entry(
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
