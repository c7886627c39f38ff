//! Content models: what governs the keys (or tuple positions) nothing else names — open,
//! partially open (a schema) or closed ([`Rest`]) — as read from `additionalProperties` /
//! `additionalItems` ([`Additional`]) and `unevaluatedProperties` / `unevaluatedItems`, and
//! how those keywords compare. Shared by `objects` and `arrays`.

use serde_json::Value;

use super::diff::{Diff, all_compatible, extend_prefixed};
use super::model::{Loc, seg, trivially_true};
use super::{ChangeKind, Comparator};

/// What governs the values of keys (or tuple positions) that nothing else names.
#[derive(Debug, Clone)]
pub(super) enum Rest<'a> {
    /// Anything goes.
    Open,
    /// Nothing is allowed.
    Closed,
    /// Values must match this schema.
    Partial(Loc<'a>),
}

/// The change kinds for one sort of member a content model lists by name or position (a
/// tuple item, a pattern property) when a member is removed or added: what the other
/// version's [`Rest`] does with the values decides which.
pub(super) struct MemberKinds {
    pub(super) removed_from_open: ChangeKind,
    pub(super) removed_covered: ChangeKind,
    pub(super) removed_not_covered: ChangeKind,
    pub(super) false_removed_from_closed: ChangeKind,
    pub(super) removed_from_closed: ChangeKind,
    pub(super) empty_added_to_open: ChangeKind,
    pub(super) added_to_open: ChangeKind,
    pub(super) added_covered: ChangeKind,
    pub(super) added_not_covered: ChangeKind,
    pub(super) added_to_closed: ChangeKind,
    /// What the members nothing names are called: `items`, `properties`.
    pub(super) additional: &'static str,
}

/// An `additionalProperties` / `additionalItems` keyword as Confluent reads it.
#[derive(Debug, Clone)]
pub(super) struct Additional<'a> {
    pub(super) present: bool,
    permits: bool,
    schema: Option<Loc<'a>>,
}

pub(super) fn additional<'a>(loc: &Loc<'a>, keyword: &str) -> Additional<'a> {
    match loc.get(keyword) {
        Some(Value::Bool(permits)) => Additional {
            present: true,
            permits: *permits,
            schema: None,
        },
        Some(value) if trivially_true(value) => Additional {
            present: true,
            permits: true,
            schema: None,
        },
        Some(value) if value.is_object() => Additional {
            present: true,
            permits: true,
            schema: Some(loc.child(&seg(&[keyword]), value)),
        },
        _ => Additional {
            present: false,
            permits: true,
            schema: None,
        },
    }
}

pub(super) fn rest_of<'a>(additional: &Additional<'a>, unevaluated: Option<&Loc<'a>>) -> Rest<'a> {
    if additional.present {
        match (&additional.schema, additional.permits) {
            (_, false) => Rest::Closed,
            (Some(schema), true) => Rest::Partial(schema.clone()),
            (None, true) => Rest::Open,
        }
    } else {
        match unevaluated {
            None => Rest::Open,
            Some(loc) if loc.value == &Value::Bool(false) => Rest::Closed,
            Some(loc) => Rest::Partial(loc.clone()),
        }
    }
}

impl<'a> Comparator<'a> {
    /// `what` (e.g. "tuple item 2"), at `path`, is gone from the update, whose content model
    /// `rest` now governs the values the original let through with schema `old`.
    pub(super) fn member_removed(
        &mut self,
        kinds: &MemberKinds,
        what: &str,
        path: String,
        old: &Loc<'a>,
        rest: Rest<'a>,
        out: &mut Vec<Diff>,
    ) {
        match rest {
            Rest::Open => out.push(Diff::new(
                kinds.removed_from_open,
                path,
                format!("{what} removed from an open content model"),
            )),
            Rest::Partial(schema) => {
                let found = self.compare_locs(old, &schema);
                let covered = all_compatible(&found);
                extend_prefixed(out, &path, found);
                out.push(if covered {
                    Diff::new(
                        kinds.removed_covered,
                        path,
                        format!(
                            "{what} removed; its values are still accepted as additional {}",
                            kinds.additional
                        ),
                    )
                } else {
                    Diff::new(
                        kinds.removed_not_covered,
                        path,
                        format!("{what} removed; the partially open content model rejects its old values"),
                    )
                });
            }
            Rest::Closed => out.push(if self.is_false_schema(old) {
                Diff::new(
                    kinds.false_removed_from_closed,
                    path,
                    format!("{what} (schema false) removed from a closed content model"),
                )
            } else {
                Diff::new(
                    kinds.removed_from_closed,
                    path,
                    format!("{what} removed from a closed content model"),
                )
            }),
        }
    }

    /// `what`, at `path`, is new in the update with schema `new`, where the original's
    /// content model `rest` governed it.
    pub(super) fn member_added(
        &mut self,
        kinds: &MemberKinds,
        what: &str,
        path: String,
        new: &Loc<'a>,
        rest: Rest<'a>,
        out: &mut Vec<Diff>,
    ) {
        match rest {
            Rest::Open => out.push(if self.is_empty_schema(new) {
                Diff::new(
                    kinds.empty_added_to_open,
                    path,
                    format!("{what} with an empty schema added to an open content model"),
                )
            } else {
                Diff::new(
                    kinds.added_to_open,
                    path,
                    format!(
                        "{what} added to an open content model (old data may hold any value there)"
                    ),
                )
            }),
            Rest::Partial(schema) => {
                let found = self.compare_locs(&schema, new);
                let covered = all_compatible(&found);
                extend_prefixed(out, &path, found);
                out.push(if covered {
                    Diff::new(
                        kinds.added_covered,
                        path,
                        format!("{what} added; it accepts what the partially open content model accepted"),
                    )
                } else {
                    Diff::new(
                        kinds.added_not_covered,
                        path,
                        format!("{what} added; it rejects values the partially open content model accepted"),
                    )
                });
            }
            Rest::Closed => out.push(Diff::new(
                kinds.added_to_closed,
                path,
                format!("{what} added to a closed content model"),
            )),
        }
    }

    /// `additionalProperties` / `additionalItems`, as Confluent compares them.
    pub(super) fn compare_additional(
        &mut self,
        keyword: &str,
        o: &Additional<'a>,
        u: &Additional<'a>,
        kinds: [ChangeKind; 4],
        out: &mut Vec<Diff>,
    ) {
        let [added, removed, extended, narrowed] = kinds;
        let path = seg(&[keyword]);
        if o.permits != u.permits {
            out.push(if u.permits {
                Diff::new(added, path, format!("{} now allowed", noun(keyword)))
            } else {
                Diff::new(
                    removed,
                    path,
                    format!("{} no longer allowed", noun(keyword)),
                )
            });
            return;
        }
        match (&o.schema, &u.schema) {
            (None, Some(_)) => out.push(Diff::new(
                narrowed,
                path,
                format!("{} now restricted by a schema", noun(keyword)),
            )),
            (Some(_), None) => out.push(Diff::new(
                extended,
                path,
                format!("{} no longer restricted by a schema", noun(keyword)),
            )),
            (Some(os), Some(us)) => {
                let found = self.compare_locs(os, us);
                extend_prefixed(out, &path, found);
            }
            (None, None) => {}
        }
    }

    /// `unevaluatedProperties` / `unevaluatedItems` (schemas that accept everything are `None`).
    pub(super) fn compare_unevaluated(
        &mut self,
        keyword: &str,
        o: Option<&Loc<'a>>,
        u: Option<&Loc<'a>>,
        kinds: [ChangeKind; 4],
        out: &mut Vec<Diff>,
    ) {
        let [added, removed, extended, narrowed] = kinds;
        let path = seg(&[keyword]);
        let is_false = |l: &Loc<'a>| l.value == &Value::Bool(false);
        let (kind, message) = match (o, u) {
            (None, None) => return,
            (Some(o), Some(u)) if is_false(o) && is_false(u) => return,
            (None, Some(u)) | (Some(_), Some(u)) if is_false(u) => {
                (removed, format!("{} no longer allowed", noun(keyword)))
            }
            (Some(o), None) | (Some(o), Some(_)) if is_false(o) => {
                (added, format!("{} now allowed", noun(keyword)))
            }
            (None, Some(_)) => (
                narrowed,
                format!("{} now restricted by a schema", noun(keyword)),
            ),
            (Some(_), None) => (
                extended,
                format!("{} no longer restricted by a schema", noun(keyword)),
            ),
            (Some(o), Some(u)) => {
                let found = self.compare_locs(o, u);
                extend_prefixed(out, &path, found);
                return;
            }
        };
        out.push(Diff::new(kind, path, message));
    }
}

/// What an `additional*` / `unevaluated*` keyword governs, for messages.
fn noun(keyword: &str) -> &'static str {
    match keyword {
        "additionalProperties" => "additional properties",
        "unevaluatedProperties" => "unevaluated properties",
        "unevaluatedItems" => "unevaluated items",
        _ => "additional items",
    }
}
