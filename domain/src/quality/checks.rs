//! The checks of one value: present or not, a number within its range, a match of a
//! pattern, a well-formed string format.

use std::net::{Ipv4Addr, Ipv6Addr};

use chrono::DateTime;
use serde_json::Value;

use super::{Say, Verdict, quote};
use crate::contracts::quality::{Bound, StringFormat};

pub(super) fn first_failure(
    values: &[Option<&Value>],
    mut failure: impl FnMut(Option<&Value>) -> Option<String>,
) -> Verdict {
    values
        .iter()
        .find_map(|value| failure(*value))
        .map_or(Verdict::Passed, Verdict::Failed)
}

/// Checks present, non-null values only: absence is the business of `required`.
pub(super) fn present(
    values: &[Option<&Value>],
    mut failure: impl FnMut(&Value) -> Option<String>,
) -> Verdict {
    first_failure(values, |value| match value {
        None | Some(Value::Null) => None,
        Some(value) => failure(value),
    })
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(text) if text.len() <= 64 => text.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|n| n.is_finite())
}

pub(super) fn range(
    value: &Value,
    minimum: Option<Bound>,
    maximum: Option<Bound>,
    shown: &str,
    say: Say,
) -> Option<String> {
    let Some(n) = number(value) else {
        return Some(say.it(|| format!("`{shown}` is {}, not a number", quote(value))));
    };
    if let Some(low) = minimum
        && (n < low.value || (low.exclusive && n == low.value))
    {
        let word = if low.exclusive { "above" } else { "at least" };
        return Some(
            say.it(|| format!("`{shown}` is {n}; the contract wants {word} {}", low.value)),
        );
    }
    if let Some(high) = maximum
        && (n > high.value || (high.exclusive && n == high.value))
    {
        let word = if high.exclusive { "below" } else { "at most" };
        return Some(
            say.it(|| format!("`{shown}` is {n}; the contract wants {word} {}", high.value)),
        );
    }
    None
}

pub(super) fn matches_pattern(pattern: &regex::Regex, value: &Value) -> bool {
    match value {
        Value::String(text) => pattern.is_match(text),
        Value::Number(n) => pattern.is_match(&n.to_string()),
        Value::Bool(b) => pattern.is_match(if *b { "true" } else { "false" }),
        _ => false,
    }
}

pub(super) fn has_format(format: StringFormat, text: &str) -> bool {
    match format {
        StringFormat::Email => text.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
                && !text.chars().any(char::is_whitespace)
        }),
        StringFormat::Uuid => uuid::Uuid::try_parse(text).is_ok(),
        StringFormat::Uri => text.split_once(':').is_some_and(|(scheme, rest)| {
            !rest.is_empty()
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
                && !text.chars().any(char::is_whitespace)
        }),
        StringFormat::Hostname => {
            !text.is_empty()
                && text.len() <= 253
                && text.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                })
        }
        StringFormat::Ipv4 => text.parse::<Ipv4Addr>().is_ok(),
        StringFormat::Ipv6 => text.parse::<Ipv6Addr>().is_ok(),
        StringFormat::Date => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok(),
        StringFormat::DateTime => DateTime::parse_from_rfc3339(text).is_ok(),
    }
}
