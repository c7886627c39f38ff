//! Annotations and value sets: `$id`, `title`, `description` and `default` (compatible
//! whatever they become), and `enum` / `const`, compared as sets of values.

use serde_json::Value;

use super::ChangeKind;
use super::diff::{Diff, json_eq, opt_json_eq, render, render_opt};
use super::model::{Facet, Loc, seg};

pub(super) fn compare_annotations(o: &Loc<'_>, u: &Loc<'_>, out: &mut Vec<Diff>) {
    if o.facet != Facet::Whole || u.facet != Facet::Whole {
        return;
    }
    let checks = [
        ("$id", ChangeKind::IdChanged),
        ("title", ChangeKind::TitleChanged),
        ("description", ChangeKind::DescriptionChanged),
        ("default", ChangeKind::DefaultChanged),
    ];
    for (keyword, kind) in checks {
        let (a, b) = (o.get(keyword), u.get(keyword));
        if !opt_json_eq(a, b) {
            out.push(Diff::new(
                kind,
                String::new(),
                format!("{keyword} changed {} → {}", render_opt(a), render_opt(b)),
            ));
        }
    }
}

pub(super) fn compare_enum(o: &[&Value], u: &[&Value], keyword: &str, out: &mut Vec<Diff>) {
    let in_set = |set: &[&Value], v: &Value| set.iter().any(|x| json_eq(x, v));
    let added: Vec<String> = u
        .iter()
        .filter(|v| !in_set(o, v))
        .map(|v| render(v))
        .collect();
    let removed: Vec<String> = o
        .iter()
        .filter(|v| !in_set(u, v))
        .map(|v| render(v))
        .collect();
    let path = seg(&[keyword]);
    let (kind, message) = match (added.is_empty(), removed.is_empty()) {
        (true, true) => return,
        (false, true) => (
            ChangeKind::EnumArrayExtended,
            format!("{keyword} extended: added {}", added.join(", ")),
        ),
        (true, false) => (
            ChangeKind::EnumArrayNarrowed,
            format!("{keyword} narrowed: removed {}", removed.join(", ")),
        ),
        (false, false) => (
            ChangeKind::EnumArrayChanged,
            format!(
                "{keyword} changed: removed {}; added {}",
                removed.join(", "),
                added.join(", ")
            ),
        ),
    };
    out.push(Diff::new(kind, path, message));
}
