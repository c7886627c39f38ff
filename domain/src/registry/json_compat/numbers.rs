//! Numeric keywords: the table of numeric bounds and their change kinds ([`BOUNDS`], also
//! used for lengths, property counts and item counts), `maximum` / `minimum` and their
//! exclusive forms (draft-04's boolean `exclusiveMaximum` folded in), and `multipleOf`.

use serde_json::Value;

use super::ChangeKind;
use super::diff::Diff;
use super::model::{Loc, seg};

fn number(value: Option<&Value>) -> Option<(f64, String)> {
    let value = value?;
    let n = value.as_f64().filter(|n| n.is_finite())?;
    Some((n, value.to_string()))
}

/// Numeric keywords and their (added, removed, increased, decreased) kinds.
const BOUNDS: &[(&str, [ChangeKind; 4])] = &[
    (
        "maxProperties",
        [
            ChangeKind::MaxPropertiesAdded,
            ChangeKind::MaxPropertiesRemoved,
            ChangeKind::MaxPropertiesIncreased,
            ChangeKind::MaxPropertiesDecreased,
        ],
    ),
    (
        "minProperties",
        [
            ChangeKind::MinPropertiesAdded,
            ChangeKind::MinPropertiesRemoved,
            ChangeKind::MinPropertiesIncreased,
            ChangeKind::MinPropertiesDecreased,
        ],
    ),
    (
        "maxItems",
        [
            ChangeKind::MaxItemsAdded,
            ChangeKind::MaxItemsRemoved,
            ChangeKind::MaxItemsIncreased,
            ChangeKind::MaxItemsDecreased,
        ],
    ),
    (
        "minItems",
        [
            ChangeKind::MinItemsAdded,
            ChangeKind::MinItemsRemoved,
            ChangeKind::MinItemsIncreased,
            ChangeKind::MinItemsDecreased,
        ],
    ),
    (
        "maxContains",
        [
            ChangeKind::MaxContainsAdded,
            ChangeKind::MaxContainsRemoved,
            ChangeKind::MaxContainsIncreased,
            ChangeKind::MaxContainsDecreased,
        ],
    ),
    (
        "minContains",
        [
            ChangeKind::MinContainsAdded,
            ChangeKind::MinContainsRemoved,
            ChangeKind::MinContainsIncreased,
            ChangeKind::MinContainsDecreased,
        ],
    ),
    (
        "maxLength",
        [
            ChangeKind::MaxLengthAdded,
            ChangeKind::MaxLengthRemoved,
            ChangeKind::MaxLengthIncreased,
            ChangeKind::MaxLengthDecreased,
        ],
    ),
    (
        "minLength",
        [
            ChangeKind::MinLengthAdded,
            ChangeKind::MinLengthRemoved,
            ChangeKind::MinLengthIncreased,
            ChangeKind::MinLengthDecreased,
        ],
    ),
    (
        "maximum",
        [
            ChangeKind::MaximumAdded,
            ChangeKind::MaximumRemoved,
            ChangeKind::MaximumIncreased,
            ChangeKind::MaximumDecreased,
        ],
    ),
    (
        "minimum",
        [
            ChangeKind::MinimumAdded,
            ChangeKind::MinimumRemoved,
            ChangeKind::MinimumIncreased,
            ChangeKind::MinimumDecreased,
        ],
    ),
    (
        "exclusiveMaximum",
        [
            ChangeKind::ExclusiveMaximumAdded,
            ChangeKind::ExclusiveMaximumRemoved,
            ChangeKind::ExclusiveMaximumIncreased,
            ChangeKind::ExclusiveMaximumDecreased,
        ],
    ),
    (
        "exclusiveMinimum",
        [
            ChangeKind::ExclusiveMinimumAdded,
            ChangeKind::ExclusiveMinimumRemoved,
            ChangeKind::ExclusiveMinimumIncreased,
            ChangeKind::ExclusiveMinimumDecreased,
        ],
    ),
];

/// Added / removed / increased / decreased, for a numeric keyword listed in [`BOUNDS`].
pub(super) fn bound(out: &mut Vec<Diff>, keyword: &str, o: Option<&Value>, u: Option<&Value>) {
    let Some(&(_, [added, removed, increased, decreased])) =
        BOUNDS.iter().find(|(name, _)| *name == keyword)
    else {
        return;
    };
    let (kind, message) = match (number(o), number(u)) {
        (None, None) => return,
        (None, Some((_, u))) => (added, format!("{keyword} added ({u})")),
        (Some((_, o)), None) => (removed, format!("{keyword} removed (was {o})")),
        (Some((o, os)), Some((u, us))) if o < u => {
            (increased, format!("{keyword} increased {os} → {us}"))
        }
        (Some((o, os)), Some((u, us))) if o > u => {
            (decreased, format!("{keyword} decreased {os} → {us}"))
        }
        _ => return,
    };
    out.push(Diff::new(kind, seg(&[keyword]), message));
}

fn is_multiple(a: f64, b: f64) -> bool {
    if b.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) || !a.is_finite() {
        return false;
    }
    let ratio = a / b;
    (ratio - ratio.round()).abs() <= 1e-9 * ratio.abs().max(1.0)
}

/// `maximum` and `exclusiveMaximum` (or the minimums), with draft-04's boolean exclusive flag
/// folded into the exclusive limit.
fn limits<'v>(
    loc: &Loc<'v>,
    inclusive: &str,
    exclusive: &str,
) -> (Option<&'v Value>, Option<&'v Value>) {
    let limit = loc.get(inclusive).filter(|v| v.is_number());
    match loc.get(exclusive) {
        Some(Value::Bool(true)) => (None, limit),
        Some(v) if v.is_number() => (limit, Some(v)),
        _ => (limit, None),
    }
}

pub(super) fn compare_number(o: &Loc<'_>, u: &Loc<'_>, out: &mut Vec<Diff>) {
    use ChangeKind as K;
    let (o_max, o_xmax) = limits(o, "maximum", "exclusiveMaximum");
    let (u_max, u_xmax) = limits(u, "maximum", "exclusiveMaximum");
    let (o_min, o_xmin) = limits(o, "minimum", "exclusiveMinimum");
    let (u_min, u_xmin) = limits(u, "minimum", "exclusiveMinimum");
    bound(out, "maximum", o_max, u_max);
    bound(out, "minimum", o_min, u_min);
    bound(out, "exclusiveMaximum", o_xmax, u_xmax);
    bound(out, "exclusiveMinimum", o_xmin, u_xmin);
    let path = seg(&["multipleOf"]);
    match (number(o.get("multipleOf")), number(u.get("multipleOf"))) {
        (None, None) => {}
        (None, Some((_, u))) => out.push(Diff::new(
            K::MultipleOfAdded,
            path,
            format!("multipleOf added ({u})"),
        )),
        (Some((_, o)), None) => out.push(Diff::new(
            K::MultipleOfRemoved,
            path,
            format!("multipleOf removed (was {o})"),
        )),
        (Some((o, os)), Some((u, us))) => {
            let (kind, verb) = if os == us || (is_multiple(o, u) && is_multiple(u, o)) {
                return;
            } else if is_multiple(u, o) {
                (K::MultipleOfExpanded, "expanded")
            } else if is_multiple(o, u) {
                (K::MultipleOfReduced, "reduced")
            } else {
                (K::MultipleOfChanged, "changed")
            };
            out.push(Diff::new(
                kind,
                path,
                format!("multipleOf {verb} {os} → {us}"),
            ));
        }
    }
}
