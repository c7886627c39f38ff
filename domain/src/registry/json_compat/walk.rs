//! The walk: the recursive entry of a comparison. It follows `$ref`s, enforces the depth,
//! step and call-stack limits (`COMPARISON_LIMIT_EXCEEDED`), cuts recursion off
//! co-inductively (a pair already being compared is assumed compatible; results are
//! memoized), matches a plain schema against a union in the update or an intersection in the
//! original, reports `TYPE_CHANGED` when the shapes differ, and hands same-shaped pairs to the
//! keyword families (`annotations`, `strings`, `numbers`, `combined`, `objects`, `arrays`).
//! `not` (which only flips the direction) and `if`/`then`/`else` are compared here.

use super::annotations::{compare_annotations, compare_enum};
use super::diff::{Diff, all_compatible, json_eq, opt_json_eq, render};
use super::model::{Crit, Loc, Shape, Target, contains_ref, seg, target_key};
use super::numbers::compare_number;
use super::strings::compare_string;
use super::{ChangeKind, Comparator, MAX_DEPTH, MAX_STEPS, MIN_STACK_LEFT};

/// Whether the calling thread is near the end of its call stack, measured against the
/// thread's real stack bounds, so a comparison is safe on any thread however deep it starts.
/// Where `stacker` cannot tell, [`MAX_DEPTH`] alone bounds the recursion.
fn stack_is_low() -> bool {
    stacker::remaining_stack().is_some_and(|left| left < MIN_STACK_LEFT)
}

impl<'a> Comparator<'a> {
    pub(super) fn exhausted(&self) -> bool {
        self.steps > MAX_STEPS
    }

    fn limit(&mut self, why: String) -> Vec<Diff> {
        self.limited = true;
        vec![Diff::new(
            ChangeKind::ComparisonLimitExceeded,
            String::new(),
            why,
        )]
    }

    pub(super) fn compare_opt(
        &mut self,
        o: Option<&Loc<'a>>,
        u: Option<&Loc<'a>>,
        label: &str,
    ) -> Vec<Diff> {
        match (o, u) {
            (None, None) => Vec::new(),
            (None, Some(_)) => vec![Diff::new(
                ChangeKind::SchemaAdded,
                String::new(),
                format!("`{label}` schema added"),
            )],
            (Some(_), None) => vec![Diff::new(
                ChangeKind::SchemaRemoved,
                String::new(),
                format!("`{label}` schema removed"),
            )],
            (Some(o), Some(u)) => self.compare_locs(o, u),
        }
    }

    pub(super) fn compare_locs(&mut self, o: &Loc<'a>, u: &Loc<'a>) -> Vec<Diff> {
        let o = self.resolve(o);
        let u = self.resolve(u);
        self.compare_targets(&o, &u)
    }

    fn compare_targets(&mut self, o: &Target<'a>, u: &Target<'a>) -> Vec<Diff> {
        self.steps += 1;
        if self.exhausted() {
            return self.limit(format!(
                "comparison stopped after examining {MAX_STEPS} schema pairs"
            ));
        }
        if self.depth >= MAX_DEPTH || stack_is_low() {
            return self.limit(format!(
                "schemas nest too deeply (more than {MAX_DEPTH} levels, or too much call stack); not compared further"
            ));
        }
        let key = (target_key(o), target_key(u));
        if let Some(known) = self.memo.get(&key) {
            return known.clone();
        }
        if !self.in_progress.insert(key.clone()) {
            // This pair is already being compared further up: a recursive schema. Assume it
            // is compatible; whatever differs is reported where the comparison started.
            return Vec::new();
        }
        self.depth += 1;
        let found = self.compare_shapes(o, u);
        self.depth -= 1;
        self.in_progress.remove(&key);
        self.memo.insert(key, found.clone());
        found
    }

    fn compare_shapes(&mut self, o: &Target<'a>, u: &Target<'a>) -> Vec<Diff> {
        if let (Ok(ol), Ok(ul)) = (o, u)
            && ol.facet == ul.facet
            && json_eq(ol.value, ul.value)
            && !contains_ref(ol.value)
        {
            return Vec::new();
        }
        let so = self.shape(o);
        let su = self.shape(u);
        let mut out = Vec::new();

        // A plain schema against a union in the update (or an intersection in the original):
        // fine when one branch matches.
        if !so.is_combined()
            && let Shape::Combined { crit, subs, .. } = &su
        {
            if let [only] = subs.as_slice() {
                let ut = self.resolve(&only.loc);
                let found = self.compare_targets(o, &ut);
                if all_compatible(&found) {
                    return found;
                }
            } else if *crit != Crit::All {
                for sub in subs {
                    if self.exhausted() {
                        break;
                    }
                    let ut = self.resolve(&sub.loc);
                    let mut found = self.compare_targets(o, &ut);
                    if all_compatible(&found) {
                        found.push(Diff::new(
                            ChangeKind::SumTypeExtended,
                            String::new(),
                            format!("{} widened to {}", self.describe(&so), self.describe(&su)),
                        ));
                        return found;
                    }
                }
            }
        } else if !su.is_combined()
            && let Shape::Combined { crit, subs, .. } = &so
        {
            if let [only] = subs.as_slice() {
                let ot = self.resolve(&only.loc);
                let found = self.compare_targets(&ot, u);
                if all_compatible(&found) {
                    return found;
                }
            } else if *crit == Crit::All {
                for sub in subs {
                    if self.exhausted() {
                        break;
                    }
                    let ot = self.resolve(&sub.loc);
                    let mut found = self.compare_targets(&ot, u);
                    if all_compatible(&found) {
                        found.push(Diff::new(
                            ChangeKind::ProductTypeNarrowed,
                            String::new(),
                            format!("{} narrowed to {}", self.describe(&so), self.describe(&su)),
                        ));
                        return found;
                    }
                }
            }
        }

        if std::mem::discriminant(&so) != std::mem::discriminant(&su) {
            if !matches!(so, Shape::False) && !matches!(su, Shape::Empty) {
                out.push(Diff::new(
                    ChangeKind::TypeChanged,
                    String::new(),
                    format!(
                        "type changed {} → {}",
                        self.describe(&so),
                        self.describe(&su)
                    ),
                ));
            }
            return out;
        }

        if let (Ok(ol), Ok(ul)) = (o, u) {
            compare_annotations(ol, ul, &mut out);
        }

        match (&so, &su) {
            (Shape::String, Shape::String) => {
                if let (Ok(ol), Ok(ul)) = (o, u) {
                    compare_string(ol, ul, &mut out);
                }
            }
            (Shape::Number { integer: oi }, Shape::Number { integer: ui }) => {
                if let (Ok(ol), Ok(ul)) = (o, u) {
                    compare_number(ol, ul, &mut out);
                }
                if oi != ui {
                    out.push(if *oi {
                        Diff::new(
                            ChangeKind::TypeExtended,
                            String::new(),
                            "type extended integer → number".to_string(),
                        )
                    } else {
                        Diff::new(
                            ChangeKind::TypeNarrowed,
                            String::new(),
                            "type narrowed number → integer".to_string(),
                        )
                    });
                }
            }
            (
                Shape::Enum {
                    values: ov,
                    keyword,
                },
                Shape::Enum { values: uv, .. },
            ) => compare_enum(ov, uv, keyword, &mut out),
            (
                Shape::Combined {
                    crit: oc, subs: os, ..
                },
                Shape::Combined {
                    crit: uc, subs: us, ..
                },
            ) => self.compare_combined((*oc, os), (*uc, us), &mut out),
            (Shape::Not(on), Shape::Not(un)) => {
                // `not` flips the direction: the update may reject less.
                let found = self.compare_locs(un, on);
                if !found.is_empty() {
                    out.push(if all_compatible(&found) {
                        Diff::new(
                            ChangeKind::NotTypeNarrowed,
                            seg(&["not"]),
                            "`not` schema narrowed: the update rejects less".to_string(),
                        )
                    } else {
                        Diff::new(
                            ChangeKind::NotTypeExtended,
                            seg(&["not"]),
                            "`not` schema extended: the update rejects more".to_string(),
                        )
                    });
                }
            }
            (Shape::Object, Shape::Object) => {
                if let (Ok(ol), Ok(ul)) = (o, u) {
                    self.compare_object(ol, ul, &mut out);
                }
            }
            (Shape::Array, Shape::Array) => {
                if let (Ok(ol), Ok(ul)) = (o, u) {
                    self.compare_array(ol, ul, &mut out);
                }
            }
            (Shape::Conditional, Shape::Conditional) => {
                if let (Ok(ol), Ok(ul)) = (o, u)
                    && ["if", "then", "else"]
                        .iter()
                        .any(|k| !opt_json_eq(ol.get(k), ul.get(k)))
                {
                    out.push(Diff::new(
                        ChangeKind::TypeChanged,
                        String::new(),
                        "if/then/else changed (conditional schemas are not analysed)".to_string(),
                    ));
                }
            }
            (Shape::Opaque(a), Shape::Opaque(b)) if a.reference != b.reference => {
                out.push(Diff::new(
                    ChangeKind::TypeChanged,
                    String::new(),
                    format!(
                        "$ref changed `{}` → `{}` (the original's {})",
                        a.reference, b.reference, a.why
                    ),
                ));
            }
            (Shape::Unknown(_), Shape::Unknown(_)) => {
                if let (Ok(ol), Ok(ul)) = (o, u)
                    && !json_eq(ol.value, ul.value)
                {
                    out.push(Diff::new(
                        ChangeKind::TypeChanged,
                        String::new(),
                        format!("schema changed {} → {}", render(ol.value), render(ul.value)),
                    ));
                }
            }
            _ => {}
        }
        out
    }
}
