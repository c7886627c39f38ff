//! Combined schemas: `allOf` / `anyOf` / `oneOf` against each other. A change of criterion,
//! subschemas gained or lost, and the pairing of each original subschema with a compatible
//! one in the update (a maximum bipartite matching). A plain schema against a combination,
//! and `not`, are handled in `walk`.

use std::collections::{HashMap, VecDeque};

use super::diff::{Diff, all_compatible, extend_prefixed, json_eq};
use super::model::{Crit, Sub};
use super::{ChangeKind, Comparator};

/// The rule Confluent's registry applies to a change of keyword (its `CombinedSchemaDiff`):
/// any combination may become `anyOf`; only a singleton may become `oneOf`; only a
/// singleton may become a singleton `allOf`. Anything else is COMBINED_TYPE_CHANGED, and
/// the subschemas are then not compared. With the keyword kept or extended, the subschemas
/// (duplicates collapsed) are counted: more under `allOf` is PRODUCT_TYPE_EXTENDED
/// (breaking), fewer PRODUCT_TYPE_NARROWED; more under `anyOf`/`oneOf` is SUM_TYPE_EXTENDED,
/// fewer SUM_TYPE_NARROWED (breaking). Then every subschema of the smaller side must pair
/// with a compatible one of the other (a maximum matching), else
/// COMBINED_TYPE_SUBSCHEMAS_CHANGED. `tests.rs` walks every transition.
fn criteria_change(o: Crit, u: Crit, o_single: bool, u_single: bool) -> Option<ChangeKind> {
    if o == u {
        None
    } else if u == Crit::Any
        || (u == Crit::One && o_single)
        || (u == Crit::All && o_single && u_single)
    {
        Some(ChangeKind::CombinedTypeExtended)
    } else {
        Some(ChangeKind::CombinedTypeChanged)
    }
}

/// Subschemas with duplicates (same JSON, same facet) collapsed.
fn dedupe<'s, 'a>(subs: &'s [Sub<'a>]) -> Vec<&'s Sub<'a>> {
    let mut out: Vec<&Sub<'a>> = Vec::new();
    for sub in subs {
        if !out
            .iter()
            .any(|kept| kept.loc.facet == sub.loc.facet && json_eq(kept.loc.value, sub.loc.value))
        {
            out.push(sub);
        }
    }
    out
}

/// Maximum bipartite matching (augmenting paths found breadth first).
fn max_matching(left: usize, right: usize, adjacency: &[Vec<usize>]) -> Vec<Option<usize>> {
    let mut match_left: Vec<Option<usize>> = vec![None; left];
    let mut match_right: Vec<Option<usize>> = vec![None; right];
    for start in 0..left {
        let mut reached_from: Vec<Option<usize>> = vec![None; right];
        let mut seen_left = vec![false; left];
        let mut queue = VecDeque::from([start]);
        if let Some(s) = seen_left.get_mut(start) {
            *s = true;
        }
        let mut free = None;
        'search: while let Some(l) = queue.pop_front() {
            for &r in adjacency.get(l).map_or(&[][..], Vec::as_slice) {
                match reached_from.get(r) {
                    Some(None) => {}
                    _ => continue,
                }
                if let Some(slot) = reached_from.get_mut(r) {
                    *slot = Some(l);
                }
                match match_right.get(r).copied().flatten() {
                    None => {
                        free = Some(r);
                        break 'search;
                    }
                    Some(next) => {
                        if let Some(seen) = seen_left.get_mut(next)
                            && !*seen
                        {
                            *seen = true;
                            queue.push_back(next);
                        }
                    }
                }
            }
        }
        let mut r = match free {
            Some(r) => r,
            None => continue,
        };
        // Flip the augmenting path back to `start`.
        for _ in 0..=left {
            let Some(l) = reached_from.get(r).copied().flatten() else {
                break;
            };
            let previous = match_left.get(l).copied().flatten();
            if let Some(slot) = match_left.get_mut(l) {
                *slot = Some(r);
            }
            if let Some(slot) = match_right.get_mut(r) {
                *slot = Some(l);
            }
            match previous {
                Some(p) => r = p,
                None => break,
            }
        }
    }
    match_left
}

impl<'a> Comparator<'a> {
    pub(super) fn compare_combined(
        &mut self,
        (oc, os): (Crit, &[Sub<'a>]),
        (uc, us): (Crit, &[Sub<'a>]),
        out: &mut Vec<Diff>,
    ) {
        if let Some(kind) = criteria_change(oc, uc, os.len() == 1, us.len() == 1) {
            out.push(Diff::new(
                kind,
                String::new(),
                format!("{} changed to {}", oc.keyword(), uc.keyword()),
            ));
            if kind == ChangeKind::CombinedTypeChanged {
                return;
            }
        }
        let os = dedupe(os);
        let us = dedupe(us);
        let (on, un) = (os.len(), us.len());
        if on != un {
            let kind = match (uc == Crit::All, on < un) {
                (true, true) => ChangeKind::ProductTypeExtended,
                (true, false) => ChangeKind::ProductTypeNarrowed,
                (false, true) => ChangeKind::SumTypeExtended,
                (false, false) => ChangeKind::SumTypeNarrowed,
            };
            out.push(Diff::new(
                kind,
                String::new(),
                format!(
                    "{} {} subschemas ({on} → {un})",
                    uc.keyword(),
                    if on < un { "gained" } else { "lost" }
                ),
            ));
        }
        let mut adjacency: Vec<Vec<usize>> = vec![Vec::new(); on];
        let mut edge_diffs: HashMap<(usize, usize), Vec<Diff>> = HashMap::new();
        'outer: for (i, osub) in os.iter().enumerate() {
            for (j, usub) in us.iter().enumerate() {
                if self.exhausted() {
                    break 'outer;
                }
                let found = self.compare_locs(&osub.loc, &usub.loc);
                if all_compatible(&found) {
                    if let Some(list) = adjacency.get_mut(i) {
                        list.push(j);
                    }
                    let mut prefixed = Vec::new();
                    extend_prefixed(
                        &mut prefixed,
                        osub.seg.as_deref().unwrap_or_default(),
                        found,
                    );
                    edge_diffs.insert((i, j), prefixed);
                }
            }
        }
        let matching = max_matching(on, un, &adjacency);
        let mut matched = 0;
        for (i, partner) in matching.iter().enumerate() {
            if let Some(j) = partner {
                matched += 1;
                if let Some(found) = edge_diffs.remove(&(i, *j)) {
                    out.extend(found);
                }
            }
        }
        if matched < on.min(un) {
            out.push(Diff::new(
                ChangeKind::CombinedTypeSubschemasChanged,
                String::new(),
                format!(
                    "{} subschemas changed: only {matched} of {} can be paired with a compatible subschema",
                    oc.keyword(),
                    on.min(un)
                ),
            ));
        }
    }
}
