//! Compiling a port's declared rules into what the checker evaluates: patterns compiled,
//! counted rules given their window and, for uniqueness, their store of seen keys.

use super::counted::{Seen, Window};
use super::{Counted, Kind, Limits};
use crate::contracts::quality::{Check, Metric, compile_pattern, display_path};

pub(super) fn compile(check: &Check, limits: Limits) -> Result<Kind, String> {
    let pattern = |text: &str| {
        compile_pattern(text).map_err(|_| format!("the pattern `{text}` does not compile"))
    };
    Ok(match check {
        Check::NotNull => Kind::NotNull,
        Check::Range { minimum, maximum } => Kind::Range {
            minimum: *minimum,
            maximum: *maximum,
        },
        Check::Length { min, max } => Kind::Length {
            min: *min,
            max: *max,
        },
        Check::Pattern(text) => Kind::Pattern(pattern(text)?),
        Check::Format(format) => Kind::Format(*format),
        Check::Counted {
            metric,
            threshold,
            window_seconds,
        } => Kind::Counted {
            metric: match metric {
                Metric::NullValues => Counted::Null,
                Metric::MissingValues(values) => Counted::Missing(values.clone()),
                Metric::InvalidValues {
                    valid_values,
                    pattern: text,
                } => Counted::Invalid {
                    valid_values: valid_values.clone(),
                    pattern: text.as_deref().map(pattern).transpose()?,
                },
                Metric::DuplicateValues { key } => Counted::Duplicate {
                    key: key.clone(),
                    shown: key
                        .iter()
                        .map(|p| display_path(p))
                        .collect::<Vec<_>>()
                        .join(", ")
                        .into(),
                    seen: Seen::new(limits.max_keys),
                },
            },
            threshold: *threshold,
            window: Window::new(*window_seconds),
        },
        Check::Freshness {
            max_age_seconds,
            time_field,
        } => Kind::Freshness {
            max_age_seconds: *max_age_seconds,
            time_field: time_field.clone(),
        },
        Check::NotEvaluated { reason } => return Err(reason.clone()),
    })
}
