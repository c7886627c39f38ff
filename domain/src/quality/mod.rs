//! Checking decoded records against a port's quality rules ([`crate::contracts::quality`]),
//! one record at a time, with the bounded state the windowed rules need. Pure: no I/O and
//! no clock; the caller passes the time ([`Moment`]), so a test replays any history.
//!
//! Shape, and why:
//!
//! - One [`Checker`] per output port, owned by whoever consumes its partitions; it is
//!   `&mut self`, never shared, so it needs no locks.
//! - Windows run on check time (`Moment::now`), not on the record's timestamp: a producer
//!   sets that timestamp, and a hostile or broken one must not be able to rewind or stretch
//!   a window. A replayed backlog is therefore judged as it is checked.
//! - A counted rule ([`Check::Counted`]) keeps 30 buckets per window, so a window slides
//!   in steps of a thirtieth of its length and holds a fixed amount of memory.
//! - A uniqueness rule keeps at most [`Limits::max_keys`] keys (64-bit hashes with a
//!   per-checker random seed, plus their last-seen time), evicting the oldest first; once
//!   it evicts live keys, a duplicate of an evicted key goes unnoticed, and
//!   [`Checker::evicted_keys`] says how often that happened.
//! - Nothing here recurses over a record: paths are walked and keys hashed with explicit
//!   stacks, so deep nesting cannot overflow the stack, and per rule at most
//!   [`MAX_VALUES_PER_RULE`] array items are looked at.

pub mod wire;

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::contracts::quality::{
    Bound, Check, FieldPath, Metric, PortQuality, Step, StringFormat, Threshold, Unit,
    compile_pattern, display_path,
};

/// Keys a uniqueness rule holds unless told otherwise: about 0.5 MB per rule.
pub const DEFAULT_MAX_KEYS: usize = 10_000;
/// Values of one field (items of arrays) looked at per rule and record.
pub const MAX_VALUES_PER_RULE: usize = 10_000;
/// Buckets per window of a counted rule.
const BUCKETS: i64 = 30;
/// Characters of a value quoted in a failure message.
const QUOTED_CHARS: usize = 64;

/// Memory bounds of a checker.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Keys held per uniqueness rule.
    pub max_keys: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_keys: DEFAULT_MAX_KEYS,
        }
    }
}

/// When a record is checked: now, and the record's own timestamp (Kafka's), if any.
#[derive(Clone, Copy, Debug)]
pub struct Moment {
    pub now: DateTime<Utc>,
    pub record_time: Option<DateTime<Utc>>,
}

/// One rule's verdict on one record.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub rule: Arc<str>,
    /// The field, as people read it (`geolocation.country`); `None` for the whole record.
    pub field: Option<Arc<str>>,
    pub verdict: Verdict,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Passed,
    Failed(String),
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Passed
    }
}

/// The evaluated rules of one port, with their windows.
pub struct Checker {
    rules: Vec<Rule>,
    /// The evaluated rules' names, in order: what a verdict's index points at.
    names: Arc<[Arc<str>]>,
    fields: Arc<[Option<Arc<str>>]>,
    not_evaluated: Vec<(Arc<str>, String)>,
    avro: bool,
    seed: RandomState,
}

struct Rule {
    name: Arc<str>,
    field: Option<FieldPath>,
    shown: Option<Arc<str>>,
    kind: Kind,
}

enum Kind {
    NotNull,
    Range {
        minimum: Option<Bound>,
        maximum: Option<Bound>,
    },
    Length {
        min: Option<u64>,
        max: Option<u64>,
    },
    Pattern(regex::Regex),
    Format(StringFormat),
    Counted {
        metric: Counted,
        threshold: Threshold,
        window: Window,
    },
    Freshness {
        max_age_seconds: f64,
        time_field: Option<FieldPath>,
    },
}

enum Counted {
    Null,
    Missing(Vec<Value>),
    Invalid {
        valid_values: Option<Vec<Value>>,
        pattern: Option<regex::Regex>,
    },
    Duplicate {
        key: Vec<FieldPath>,
        /// The key as people read it, for the message.
        shown: Box<str>,
        seen: Seen,
    },
}

/// Whether failure messages are written. The record checker keeps only a few records per
/// second to show; the others are counted, and judging them formats no message.
#[derive(Clone, Copy)]
struct Say(bool);

impl Say {
    fn it(self, message: impl FnOnce() -> String) -> String {
        if self.0 { message() } else { String::new() }
    }
}

impl Checker {
    /// Compiles a port's rules. A rule that cannot be compiled (import refuses those, so
    /// only a stored rule from an older Meshmart could) is listed as not evaluated.
    pub fn new(port: &PortQuality, limits: Limits) -> Self {
        let mut rules = Vec::new();
        let mut not_evaluated = Vec::new();
        for rule in &port.rules {
            let name: Arc<str> = Arc::from(rule.name.as_str());
            match compile(&rule.check, limits) {
                Ok(kind) => rules.push(Rule {
                    name,
                    shown: rule.field.as_deref().map(|f| Arc::from(display_path(f))),
                    field: rule.field.clone(),
                    kind,
                }),
                Err(reason) => not_evaluated.push((name, reason)),
            }
        }
        Self {
            names: rules.iter().map(|rule| Arc::clone(&rule.name)).collect(),
            fields: rules.iter().map(|rule| rule.shown.clone()).collect(),
            rules,
            not_evaluated,
            avro: port.format.eq_ignore_ascii_case("avro"),
            seed: RandomState::new(),
        }
    }

    /// The declared rules this checker does not evaluate, with the reason.
    pub fn not_evaluated(&self) -> &[(Arc<str>, String)] {
        &self.not_evaluated
    }

    /// Keys the uniqueness rules dropped while still inside their window (see the module
    /// documentation).
    pub fn evicted_keys(&self) -> u64 {
        self.rules
            .iter()
            .map(|rule| match &rule.kind {
                Kind::Counted {
                    metric: Counted::Duplicate { seen, .. },
                    ..
                } => seen.evicted,
                _ => 0,
            })
            .sum()
    }

    /// The evaluated rules' names, in declaration order (the indexes of
    /// [`Checker::check_each`]).
    pub fn names(&self) -> &Arc<[Arc<str>]> {
        &self.names
    }

    /// The field each evaluated rule is about, as people read it (`None` for the whole
    /// record), in the order of [`Checker::names`].
    pub fn fields(&self) -> &Arc<[Option<Arc<str>>]> {
        &self.fields
    }

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

fn compile(check: &Check, limits: Limits) -> Result<Kind, String> {
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

/// The values a path reaches: `None` where the last key is absent. A missing or null
/// parent yields nothing (its own rules judge it), so a required field of an optional
/// object is only required when the object is there.
fn resolve<'a>(record: &'a Value, path: &[Step], avro: bool) -> Values<'a> {
    match path {
        [] => Values::One(Some(record)),
        // The common case (a top-level field), without allocating.
        [Step::Key(key)] => Values::One(get(record, key, avro)),
        _ => Values::Many(resolve_all(record, path, avro)),
    }
}

/// What a path reaches: one value (or its absence) for a plain path, many through arrays.
enum Values<'a> {
    /// Nothing: a rule about the whole record has no field to look at.
    Empty,
    /// A path without items: its one value, or `None` when absent.
    One(Option<&'a Value>),
    Many(Vec<Option<&'a Value>>),
}

impl<'a> Values<'a> {
    fn as_slice(&self) -> &[Option<&'a Value>] {
        match self {
            Values::Empty => &[],
            Values::One(value) => std::slice::from_ref(value),
            Values::Many(values) => values,
        }
    }
}

/// What a path of more than one step, or through items, reaches (see [`resolve`]).
fn resolve_all<'a>(record: &'a Value, path: &[Step], avro: bool) -> Vec<Option<&'a Value>> {
    let Some((last, parents)) = path.split_last() else {
        return Vec::new();
    };
    let mut current = vec![record];
    for step in parents {
        let mut next = Vec::new();
        for value in current {
            match step {
                Step::Key(key) => {
                    if let Some(child) = get(value, key, avro).filter(|v| !v.is_null()) {
                        next.push(child);
                    }
                }
                Step::Items => {
                    if let Value::Array(items) = value {
                        next.extend(items.iter().take(MAX_VALUES_PER_RULE - next.len()));
                    }
                }
            }
            if next.len() >= MAX_VALUES_PER_RULE {
                break;
            }
        }
        current = next;
    }
    let mut values = Vec::with_capacity(current.len());
    for value in current {
        match last {
            Step::Key(key) => values.push(get(value, key, avro)),
            Step::Items => {
                if let Value::Array(items) = value {
                    values.extend(items.iter().map(Some));
                }
            }
        }
        if values.len() >= MAX_VALUES_PER_RULE {
            values.truncate(MAX_VALUES_PER_RULE);
            break;
        }
    }
    values
}

/// A key of an object; for Avro records also under the sanitised name the registry gave
/// the field (`signup-source` → `signup_source`).
fn get<'a>(value: &'a Value, key: &str, avro: bool) -> Option<&'a Value> {
    let map = value.as_object()?;
    map.get(key).or_else(|| {
        if avro {
            map.get(&crate::registry::schema::avro_name(key))
        } else {
            None
        }
    })
}

fn first_failure(
    values: &[Option<&Value>],
    mut failure: impl FnMut(Option<&Value>) -> Option<String>,
) -> Verdict {
    values
        .iter()
        .find_map(|value| failure(*value))
        .map_or(Verdict::Passed, Verdict::Failed)
}

/// Checks present, non-null values only: absence is the business of `required`.
fn present(
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

fn range(
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

fn matches_pattern(pattern: &regex::Regex, value: &Value) -> bool {
    match value {
        Value::String(text) => pattern.is_match(text),
        Value::Number(n) => pattern.is_match(&n.to_string()),
        Value::Bool(b) => pattern.is_match(if *b { "true" } else { "false" }),
        _ => false,
    }
}

fn has_format(format: StringFormat, text: &str) -> bool {
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

/// Why this record offends a counted rule, if it does.
#[allow(clippy::too_many_arguments)]
fn offence(
    metric: &mut Counted,
    values: &[Option<&Value>],
    record: &Value,
    avro: bool,
    seed: &RandomState,
    now_ms: i64,
    width_ms: i64,
    shown: &str,
    say: Say,
) -> Option<String> {
    match metric {
        Counted::Null => values
            .iter()
            .any(|v| v.is_none_or(Value::is_null))
            .then(|| say.it(|| format!("`{shown}` is null"))),
        Counted::Missing(missing) => values
            .iter()
            .find(|v| match v {
                None => true,
                Some(value) => missing.iter().any(|m| same(m, value)),
            })
            .map(|v| {
                say.it(|| {
                    format!(
                        "`{shown}` is missing ({})",
                        v.map_or("absent".to_string(), quote)
                    )
                })
            }),
        Counted::Invalid {
            valid_values,
            pattern,
        } => values
            .iter()
            .flatten()
            .filter(|v| !v.is_null())
            .find_map(|value| {
                let listed = valid_values
                    .as_ref()
                    .is_none_or(|valid| valid.iter().any(|v| same(v, value)));
                let matched = pattern.as_ref().is_none_or(|p| matches_pattern(p, value));
                (!(listed && matched))
                    .then(|| say.it(|| format!("`{shown}` is {}, not a valid value", quote(value))))
            }),
        Counted::Duplicate { key, shown, seen } => {
            let mut hasher = seed.build_hasher();
            for path in key.iter() {
                let values = resolve(record, path, avro);
                let values = values.as_slice();
                if values.is_empty() || values.iter().any(|v| v.is_none_or(Value::is_null)) {
                    // A record without its key has no identity to repeat.
                    return None;
                }
                values.len().hash(&mut hasher);
                for value in values.iter().flatten() {
                    hash_value(value, &mut hasher);
                }
            }
            seen.repeated(hasher.finish(), now_ms, width_ms)
                .then(|| say.it(|| format!("`{shown}` repeats a key seen within the window")))
        }
    }
}

/// Equality as people mean it for values in a contract: `1` equals `1.0`.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// Hashes a value without recursion (any depth is safe).
fn hash_value(value: &Value, hasher: &mut impl Hasher) {
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::Null => 0u8.hash(hasher),
            Value::Bool(b) => (1u8, *b).hash(hasher),
            Value::Number(n) => (2u8, n.as_f64().map(f64::to_bits)).hash(hasher),
            Value::String(s) => (3u8, s).hash(hasher),
            Value::Array(items) => {
                (4u8, items.len()).hash(hasher);
                stack.extend(items.iter().rev());
            }
            Value::Object(map) => {
                (5u8, map.len()).hash(hasher);
                for (key, item) in map {
                    key.hash(hasher);
                    stack.push(item);
                }
            }
        }
    }
}

fn freshness(
    record: &Value,
    moment: Moment,
    max_age_seconds: f64,
    time_field: Option<&[Step]>,
    avro: bool,
    say: Say,
) -> Verdict {
    let event_time = match time_field {
        Some(path) => resolve(record, path, avro)
            .as_slice()
            .iter()
            .flatten()
            .next()
            .and_then(|value| event_time(value)),
        None => moment.record_time,
    };
    let Some(event_time) = event_time else {
        return Verdict::Failed(say.it(|| "the record carries no event time".to_string()));
    };
    let age_ms = (moment.now - event_time).num_milliseconds();
    if age_ms as f64 / 1000.0 > max_age_seconds {
        // A replayed backlog fails this for every record: the age is written from integers.
        Verdict::Failed(say.it(|| {
            format!(
                "the event is {} s old; the SLA allows {} s",
                Seconds(age_ms),
                Seconds((max_age_seconds * 1000.0).round() as i64)
            )
        }))
    } else {
        Verdict::Passed
    }
}

/// An event time from a field: RFC 3339 text, or epoch milliseconds (Avro's
/// `timestamp-millis`, the Kafka convention).
fn event_time(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::String(text) => DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        Value::Number(n) => n.as_i64().and_then(DateTime::from_timestamp_millis),
        _ => None,
    }
}

/// Milliseconds shown as seconds with at most two decimals, as [`round`] would show them.
struct Seconds(i64);

impl std::fmt::Display for Seconds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Rounded to hundredths, half away from zero.
        let hundredths = (self.0.unsigned_abs() + 5) / 10;
        let sign = if self.0 < 0 && hundredths > 0 {
            "-"
        } else {
            ""
        };
        let (whole, frac) = (hundredths / 100, hundredths % 100);
        match frac {
            0 => write!(f, "{sign}{whole}"),
            _ if frac % 10 == 0 => write!(f, "{sign}{whole}.{}", frac / 10),
            _ => write!(f, "{sign}{whole}.{frac:02}"),
        }
    }
}

fn round(n: f64) -> f64 {
    (n * 100.0).round() / 100.0
}

/// A value as quoted in a message, cut short.
fn quote(value: &Value) -> String {
    match value {
        Value::String(text) => {
            let cut: String = text.chars().take(QUOTED_CHARS).collect();
            if cut.len() < text.len() {
                format!("\"{cut}…\"")
            } else {
                format!("\"{cut}\"")
            }
        }
        Value::Array(_) => "a list".to_string(),
        Value::Object(_) => "an object".to_string(),
        scalar => scalar.to_string(),
    }
}

/// A sliding window of record counts in fixed buckets.
struct Window {
    width_ms: i64,
    bucket_ms: i64,
    /// (bucket index, records, offending records), oldest first.
    buckets: VecDeque<(i64, u64, u64)>,
}

impl Window {
    fn new(seconds: f64) -> Self {
        let width_ms = (seconds * 1000.0).clamp(1.0, i64::MAX as f64 / 4.0) as i64;
        Self {
            width_ms,
            bucket_ms: (width_ms / BUCKETS).max(1),
            buckets: VecDeque::new(),
        }
    }

    fn add(&mut self, now_ms: i64, offending: bool) {
        let index = now_ms.div_euclid(self.bucket_ms);
        while self
            .buckets
            .front()
            .is_some_and(|(first, _, _)| *first <= index.saturating_sub(BUCKETS))
        {
            self.buckets.pop_front();
        }
        // A clock that went back counts in the newest bucket.
        match self.buckets.back_mut() {
            Some((last, total, bad)) if *last >= index => {
                *total += 1;
                *bad += u64::from(offending);
            }
            _ => self.buckets.push_back((index, 1, u64::from(offending))),
        }
    }

    fn measure(&self, unit: Unit) -> f64 {
        let (total, bad) = self
            .buckets
            .iter()
            .fold((0u64, 0u64), |(t, b), (_, total, bad)| (t + total, b + bad));
        match unit {
            Unit::Rows => bad as f64,
            Unit::Percent if total == 0 => 0.0,
            Unit::Percent => bad as f64 * 100.0 / total as f64,
        }
    }
}

/// The keys of a uniqueness rule: hash → last seen, and the order they came in.
struct Seen {
    last: HashMap<u64, i64>,
    order: VecDeque<(i64, u64)>,
    max_keys: usize,
    evicted: u64,
}

impl Seen {
    fn new(max_keys: usize) -> Self {
        Self {
            last: HashMap::new(),
            order: VecDeque::new(),
            max_keys: max_keys.max(1),
            evicted: 0,
        }
    }

    /// Whether the key was seen within the window; records it as seen now.
    fn repeated(&mut self, key: u64, now_ms: i64, width_ms: i64) -> bool {
        let cutoff = now_ms.saturating_sub(width_ms);
        while let Some(&(at, old)) = self.order.front() {
            if at >= cutoff {
                break;
            }
            self.order.pop_front();
            if self.last.get(&old) == Some(&at) {
                self.last.remove(&old);
            }
        }
        let repeated = self
            .last
            .get(&key)
            .is_some_and(|at| (now_ms.saturating_sub(*at)).abs() <= width_ms);
        self.last.insert(key, now_ms);
        self.order.push_back((now_ms, key));
        while self.order.len() > self.max_keys {
            if let Some((at, old)) = self.order.pop_front()
                && self.last.get(&old) == Some(&at)
            {
                self.last.remove(&old);
                self.evicted += 1;
            }
        }
        repeated
    }
}

#[cfg(test)]
mod tests;
