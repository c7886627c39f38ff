//! The difference record the comparison builds ([`Diff`]: a change with a path relative to
//! the pair of schemas being compared) and its helpers: prefixing paths, telling whether
//! every difference is compatible, JSON equality as JSON Schema defines it, and short JSON
//! text for messages.

use serde_json::Value;

use super::model::display_pointer;
use super::{Change, ChangeKind};

/// A difference with a path relative to the pair of schemas being compared.
#[derive(Debug, Clone)]
pub(super) struct Diff {
    pub(super) kind: ChangeKind,
    rel: String,
    message: String,
}

impl Diff {
    pub(super) fn new(kind: ChangeKind, rel: String, message: String) -> Diff {
        Diff { kind, rel, message }
    }

    pub(super) fn into_change(self) -> Change {
        Change {
            kind: self.kind,
            path: display_pointer(&self.rel),
            message: self.message,
        }
    }
}

pub(super) fn all_compatible(diffs: &[Diff]) -> bool {
    diffs.iter().all(|d| d.kind.is_compatible())
}

pub(super) fn extend_prefixed(out: &mut Vec<Diff>, prefix: &str, diffs: Vec<Diff>) {
    out.extend(diffs.into_iter().map(|mut d| {
        d.rel.insert_str(0, prefix);
        d
    }));
}

/// Short JSON text for messages (deeply nested values are elided rather than serialized).
pub(super) fn render(value: &Value) -> String {
    if nests_deeper_than(value, 16) {
        return "…".to_string();
    }
    let text = value.to_string();
    if text.chars().count() > 60 {
        let cut: String = text.chars().take(57).collect();
        format!("{cut}...")
    } else {
        text
    }
}

pub(super) fn render_opt(value: Option<&Value>) -> String {
    value.map_or_else(|| "none".to_string(), render)
}

fn nests_deeper_than(value: &Value, limit: usize) -> bool {
    let mut stack = vec![(value, 0)];
    while let Some((v, depth)) = stack.pop() {
        if depth > limit {
            return true;
        }
        match v {
            Value::Array(items) => stack.extend(items.iter().map(|i| (i, depth + 1))),
            Value::Object(map) => stack.extend(map.values().map(|i| (i, depth + 1))),
            _ => {}
        }
    }
    false
}

/// JSON equality as JSON Schema defines it (`1` equals `1.0`), without recursion.
pub(super) fn json_eq(a: &Value, b: &Value) -> bool {
    let mut stack = vec![(a, b)];
    while let Some(pair) = stack.pop() {
        match pair {
            (Value::Number(x), Value::Number(y)) => {
                let same = if let (Some(p), Some(q)) = (x.as_i64(), y.as_i64()) {
                    p == q
                } else if let (Some(p), Some(q)) = (x.as_u64(), y.as_u64()) {
                    p == q
                } else {
                    matches!(
                        (x.as_f64(), y.as_f64()),
                        (Some(p), Some(q)) if p.partial_cmp(&q) == Some(std::cmp::Ordering::Equal)
                    )
                };
                if !same {
                    return false;
                }
            }
            (Value::Array(x), Value::Array(y)) => {
                if x.len() != y.len() {
                    return false;
                }
                stack.extend(x.iter().zip(y.iter()));
            }
            (Value::Object(x), Value::Object(y)) => {
                if x.len() != y.len() {
                    return false;
                }
                for (key, p) in x {
                    match y.get(key) {
                        Some(q) => stack.push((p, q)),
                        None => return false,
                    }
                }
            }
            (Value::String(x), Value::String(y)) if x == y => {}
            (Value::Bool(x), Value::Bool(y)) if x == y => {}
            (Value::Null, Value::Null) => {}
            _ => return false,
        }
    }
    true
}

pub(super) fn opt_json_eq(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => json_eq(a, b),
        _ => false,
    }
}
