//! Checking one record against every rule of a port, in declaration order: the value
//! checks, the counted rules' windows and freshness, and the verdict of each.

use serde_json::Value;

use super::checks::{first_failure, has_format, matches_pattern, present, range};
use super::counted::offence;
use super::freshness::freshness;
use super::resolve::{Values, resolve};
use super::{Checker, Kind, Moment, Outcome, Say, Verdict, quote, round};
use crate::contracts::quality::Unit;

impl Checker {
    /// Checks one decoded record; one outcome per evaluated rule, in declaration order.
    pub fn check(&mut self, record: &Value, moment: Moment) -> Vec<Outcome> {
        let mut outcomes: Vec<Outcome> = self
            .rules
            .iter()
            .map(|rule| Outcome {
                rule: rule.name.clone(),
                field: rule.shown.clone(),
                verdict: Verdict::Passed,
            })
            .collect();
        self.check_each(record, moment, true, |index, message| {
            outcomes[index].verdict = Verdict::Failed(message);
        });
        outcomes
    }

    /// Checks one decoded record, calling `failed` with the index and message of each rule
    /// it fails; the others passed. What the record checker runs for every record: a
    /// passing record costs no allocation here, and a failing one none either without
    /// `messages` (each message is then empty).
    pub fn check_each(
        &mut self,
        record: &Value,
        moment: Moment,
        messages: bool,
        mut failed: impl FnMut(usize, String),
    ) {
        let say = Say(messages);
        let now_ms = moment.now.timestamp_millis();
        let avro = self.avro;
        let seed = &self.seed;
        for (index, rule) in self.rules.iter_mut().enumerate() {
            {
                let values = match &rule.field {
                    Some(path) => resolve(record, path, avro),
                    None => Values::Empty,
                };
                let values = values.as_slice();
                let shown = rule.shown.as_deref().unwrap_or("the record");
                let verdict = match &mut rule.kind {
                    Kind::NotNull => first_failure(values, |value| match value {
                        None => Some(say.it(|| format!("`{shown}` is missing"))),
                        Some(Value::Null) => Some(say.it(|| format!("`{shown}` is null"))),
                        Some(_) => None,
                    }),
                    Kind::Range { minimum, maximum } => {
                        present(values, |value| range(value, *minimum, *maximum, shown, say))
                    }
                    Kind::Length { min, max } => present(values, |value| {
                        let Value::String(text) = value else {
                            return Some(say.it(|| format!("`{shown}` is not a string")));
                        };
                        let length = text.chars().count() as u64;
                        if min.is_some_and(|min| length < min)
                            || max.is_some_and(|max| length > max)
                        {
                            Some(say.it(|| {
                                format!(
                                    "`{shown}` is {length} characters long; the contract allows {}..{}",
                                    min.map(|n| n.to_string()).unwrap_or_default(),
                                    max.map(|n| n.to_string()).unwrap_or_default()
                                )
                            }))
                        } else {
                            None
                        }
                    }),
                    Kind::Pattern(pattern) => present(values, |value| {
                        (!matches_pattern(pattern, value)).then(|| {
                            say.it(|| {
                                format!(
                                    "`{shown}` is {}, which does not match `{}`",
                                    quote(value),
                                    pattern.as_str()
                                )
                            })
                        })
                    }),
                    Kind::Format(format) => present(values, |value| {
                        let ok = value.as_str().is_some_and(|text| has_format(*format, text));
                        (!ok).then(|| {
                            say.it(|| {
                                format!("`{shown}` is {}, not a valid {format:?}", quote(value))
                            })
                        })
                    }),
                    Kind::Counted {
                        metric,
                        threshold,
                        window,
                    } => {
                        let offence = offence(
                            metric,
                            values,
                            record,
                            avro,
                            seed,
                            now_ms,
                            window.width_ms,
                            shown,
                            say,
                        );
                        window.add(now_ms, offence.is_some());
                        match offence {
                            None => Verdict::Passed,
                            Some(what) => {
                                let measured = window.measure(threshold.unit);
                                if threshold.operator.holds(measured) {
                                    Verdict::Passed
                                } else {
                                    let unit = match threshold.unit {
                                        Unit::Rows => "records",
                                        Unit::Percent => "%",
                                    };
                                    Verdict::Failed(say.it(|| {
                                        format!(
                                            "{what}: {} {unit} in the last {} s, the contract wants {}",
                                            round(measured),
                                            round(window.width_ms as f64 / 1000.0),
                                            threshold.operator
                                        )
                                    }))
                                }
                            }
                        }
                    }
                    Kind::Freshness {
                        max_age_seconds,
                        time_field,
                    } => freshness(
                        record,
                        moment,
                        *max_age_seconds,
                        time_field.as_deref(),
                        avro,
                        say,
                    ),
                };
                if let Verdict::Failed(message) = verdict {
                    failed(index, message);
                }
            }
        }
    }
}
