//! Counted rules: whether a record offends a metric (null, missing, invalid, duplicate
//! key), the sliding window of counts its threshold is compared with, and the bounded store
//! of keys a uniqueness rule has seen.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash, Hasher};

use serde_json::Value;

use super::checks::matches_pattern;
use super::resolve::resolve;
use super::{Counted, Say, quote};
use crate::contracts::quality::Unit;

/// Buckets per window of a counted rule.
const BUCKETS: i64 = 30;

/// Why this record offends a counted rule, if it does.
#[allow(clippy::too_many_arguments)]
pub(super) fn offence(
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
/// A sliding window of record counts in fixed buckets.
pub(super) struct Window {
    pub(super) width_ms: i64,
    bucket_ms: i64,
    /// (bucket index, records, offending records), oldest first.
    buckets: VecDeque<(i64, u64, u64)>,
}

impl Window {
    pub(super) fn new(seconds: f64) -> Self {
        let width_ms = (seconds * 1000.0).clamp(1.0, i64::MAX as f64 / 4.0) as i64;
        Self {
            width_ms,
            bucket_ms: (width_ms / BUCKETS).max(1),
            buckets: VecDeque::new(),
        }
    }

    pub(super) fn add(&mut self, now_ms: i64, offending: bool) {
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

    pub(super) fn measure(&self, unit: Unit) -> f64 {
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
pub(super) struct Seen {
    last: HashMap<u64, i64>,
    order: VecDeque<(i64, u64)>,
    max_keys: usize,
    pub(super) evicted: u64,
}

impl Seen {
    pub(super) fn new(max_keys: usize) -> Self {
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
