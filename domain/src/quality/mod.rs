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
//!
//! This file holds the checker and what it answers, and compiles a port's rules with
//! `compile.rs`; a record is checked in `evaluate.rs`, with the field paths walked in
//! `resolve.rs`, single values judged in `checks.rs`, counted rules in `counted.rs` and
//! freshness in `freshness.rs`.
//!
//! [`Check::Counted`]: crate::contracts::quality::Check::Counted

mod checks;
mod compile;
mod counted;
mod evaluate;
mod freshness;
mod resolve;
pub mod wire;

use std::collections::hash_map::RandomState;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::contracts::quality::{
    Bound, FieldPath, PortQuality, StringFormat, Threshold, display_path,
};
use compile::compile;
use counted::{Seen, Window};

/// Keys a uniqueness rule holds unless told otherwise: about 0.5 MB per rule.
pub const DEFAULT_MAX_KEYS: usize = 10_000;
/// Values of one field (items of arrays) looked at per rule and record.
pub const MAX_VALUES_PER_RULE: usize = 10_000;
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

#[cfg(test)]
mod tests;
