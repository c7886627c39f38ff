//! Reading a schema object's properties: `required`, `unique` and `logicalTypeOptions`
//! (range, length, pattern, format), recursing into nested objects and array items, and
//! handing each property's `quality` entries on.

use serde_json::Value;

use super::model::{
    Bound, Check, FieldPath, Metric, Operator, QualityRule, Step, StringFormat, Threshold, Unit,
    display_path,
};
use super::{DEFAULT_WINDOW_SECONDS, Reader, text};
use crate::contracts::document::list;

impl Reader<'_> {
    /// Every property's rules, recursing into nested objects and array items.
    pub(super) fn properties(&mut self, parent: &Value, pointer: &str, path: &[Step]) {
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
}
