//! String keywords: `maxLength`, `minLength` and `pattern` (compared by its text).

use serde_json::Value;

use super::ChangeKind;
use super::diff::Diff;
use super::model::{Loc, seg};
use super::numbers::bound;

pub(super) fn compare_string(o: &Loc<'_>, u: &Loc<'_>, out: &mut Vec<Diff>) {
    use ChangeKind as K;
    bound(out, "maxLength", o.get("maxLength"), u.get("maxLength"));
    bound(out, "minLength", o.get("minLength"), u.get("minLength"));
    let pattern = |l: &Loc<'_>| l.get("pattern").and_then(Value::as_str).map(str::to_string);
    let path = seg(&["pattern"]);
    match (pattern(o), pattern(u)) {
        (None, Some(p)) => out.push(Diff::new(
            K::PatternAdded,
            path,
            format!("pattern added `{p}`"),
        )),
        (Some(p), None) => out.push(Diff::new(
            K::PatternRemoved,
            path,
            format!("pattern removed `{p}`"),
        )),
        (Some(a), Some(b)) if a != b => out.push(Diff::new(
            K::PatternChanged,
            path,
            format!("pattern changed `{a}` → `{b}`"),
        )),
        _ => {}
    }
}
