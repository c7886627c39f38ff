//! Walking a rule's field path in a record: the values it reaches, through nested objects
//! and array items, without recursion and at most [`MAX_VALUES_PER_RULE`] of them.

use serde_json::Value;

use super::MAX_VALUES_PER_RULE;
use crate::contracts::quality::Step;

/// The values a path reaches: `None` where the last key is absent. A missing or null
/// parent yields nothing (its own rules judge it), so a required field of an optional
/// object is only required when the object is there.
pub(super) fn resolve<'a>(record: &'a Value, path: &[Step], avro: bool) -> Values<'a> {
    match path {
        [] => Values::One(Some(record)),
        // The common case (a top-level field), without allocating.
        [Step::Key(key)] => Values::One(get(record, key, avro)),
        _ => Values::Many(resolve_all(record, path, avro)),
    }
}

/// What a path reaches: one value (or its absence) for a plain path, many through arrays.
pub(super) enum Values<'a> {
    /// Nothing: a rule about the whole record has no field to look at.
    Empty,
    /// A path without items: its one value, or `None` when absent.
    One(Option<&'a Value>),
    Many(Vec<Option<&'a Value>>),
}

impl<'a> Values<'a> {
    pub(super) fn as_slice(&self) -> &[Option<&'a Value>] {
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
