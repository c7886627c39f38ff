//! `$ref`s: resolving a local reference (a JSON pointer, percent-encoded as in a URI
//! fragment, or a `$anchor` / draft-07 `$id: "#name"`), a document as resolution sees it
//! ([`Doc`]), following a chain of references during a comparison
//! ([`Comparator::resolve`]), and [`validate_refs`] with its search for `$ref` cycles that
//! never consume data.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::model::{Facet, Loc, Opaque, Target, display_pointer, has_assertions, is_schema, seg};
use super::{Comparator, MAX_REF_HOPS, RefProblem};

/// Local `$ref`s must resolve inside the document and no chain of `$ref`s may loop back on
/// itself without passing through a keyword that consumes data (`properties`, `items`, ...).
/// `Err` names the JSON pointer of the offending `$ref`.
///
/// Local means `#`, `#/json/pointer` (percent-encoded as in a URI fragment) or `#name` for a
/// `$anchor` (or a draft-07 `$id: "#name"`); other references point outside the document and
/// are left alone. Keywords that apply a subschema to the same instance — `allOf`, `anyOf`,
/// `oneOf`, `not`, `if`/`then`/`else`, `dependentSchemas` and schema-valued `dependencies` —
/// do not consume data.
pub fn validate_refs(schema: &Value) -> Result<(), RefProblem> {
    let anchors = collect_anchors(schema);
    let mut nodes: Vec<(String, &Value)> = vec![(String::new(), schema)];
    let mut index: HashMap<String, usize> = HashMap::from([(String::new(), 0)]);
    let mut edges: Vec<Vec<(usize, bool)>> = vec![Vec::new()];
    let mut next = 0;
    while let Some((ptr, value)) = nodes.get(next).cloned() {
        let here = next;
        next += 1;
        let Some(map) = value.as_object() else {
            continue;
        };
        for (suffix, child, edge) in schema_children(map) {
            let id = intern(
                &mut nodes,
                &mut index,
                &mut edges,
                format!("{ptr}{suffix}"),
                child,
            );
            if edge == Edge::InPlace
                && let Some(list) = edges.get_mut(here)
            {
                list.push((id, false));
            }
        }
        let Some(reference) = map.get("$ref") else {
            continue;
        };
        let at = display_pointer(&format!("{ptr}/$ref"));
        let Some(reference) = reference.as_str() else {
            return Err(RefProblem {
                pointer: at,
                message: "`$ref` must be a string".to_string(),
            });
        };
        if !is_local_ref(reference) {
            continue;
        }
        let Some((target, target_value)) = resolve_local(schema, &anchors, reference) else {
            return Err(RefProblem {
                pointer: at,
                message: format!("`$ref` `{reference}` does not resolve inside the document"),
            });
        };
        let id = intern(&mut nodes, &mut index, &mut edges, target, target_value);
        if let Some(list) = edges.get_mut(here) {
            list.push((id, true));
        }
    }
    find_ref_cycle(&nodes, &edges)
}

fn intern<'v>(
    nodes: &mut Vec<(String, &'v Value)>,
    index: &mut HashMap<String, usize>,
    edges: &mut Vec<Vec<(usize, bool)>>,
    ptr: String,
    value: &'v Value,
) -> usize {
    if let Some(&id) = index.get(&ptr) {
        return id;
    }
    let id = nodes.len();
    index.insert(ptr.clone(), id);
    nodes.push((ptr, value));
    edges.push(Vec::new());
    id
}

/// Depth-first search for a cycle in the graph of in-place applicator edges and `$ref` edges.
fn find_ref_cycle(
    nodes: &[(String, &Value)],
    edges: &[Vec<(usize, bool)>],
) -> Result<(), RefProblem> {
    const WHITE: u8 = 0;
    const GRAY: u8 = 1;
    const BLACK: u8 = 2;
    let mut color = vec![WHITE; nodes.len()];
    for start in 0..nodes.len() {
        if color.get(start) != Some(&WHITE) {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        if let Some(c) = color.get_mut(start) {
            *c = GRAY;
        }
        while let Some(top) = stack.last_mut() {
            let (node, cursor) = *top;
            match edges.get(node).and_then(|list| list.get(cursor)).copied() {
                Some((target, via_ref)) => {
                    top.1 += 1;
                    match color.get(target).copied() {
                        Some(WHITE) => {
                            if let Some(c) = color.get_mut(target) {
                                *c = GRAY;
                            }
                            stack.push((target, 0));
                        }
                        Some(GRAY) => {
                            return Err(cycle_problem(nodes, edges, &stack, target, via_ref));
                        }
                        _ => {}
                    }
                }
                None => {
                    if let Some(c) = color.get_mut(node) {
                        *c = BLACK;
                    }
                    stack.pop();
                }
            }
        }
    }
    Ok(())
}

fn cycle_problem(
    nodes: &[(String, &Value)],
    edges: &[Vec<(usize, bool)>],
    stack: &[(usize, usize)],
    target: usize,
    closing_via_ref: bool,
) -> RefProblem {
    let from = stack
        .iter()
        .position(|&(node, _)| node == target)
        .unwrap_or(0);
    let cycle = stack.get(from..).unwrap_or_default();
    let last = cycle.last().map_or(target, |&(node, _)| node);
    // The `$ref` to blame: the one closing the loop, else the last one on it.
    let mut holder = if closing_via_ref { Some(last) } else { None };
    if holder.is_none() {
        for &(node, cursor) in cycle.iter().rev().skip(1) {
            let via_ref = edges
                .get(node)
                .and_then(|list| list.get(cursor.wrapping_sub(1)))
                .is_some_and(|&(_, via_ref)| via_ref);
            if via_ref {
                holder = Some(node);
                break;
            }
        }
    }
    let ptr_of = |id: usize| nodes.get(id).map_or("", |(ptr, _)| ptr.as_str());
    let mut route: Vec<String> = cycle
        .iter()
        .map(|&(node, _)| display_pointer(ptr_of(node)))
        .collect();
    route.push(display_pointer(ptr_of(target)));
    RefProblem {
        pointer: display_pointer(&format!("{}/$ref", ptr_of(holder.unwrap_or(last)))),
        message: format!(
            "`$ref` cycle that never consumes data: {}",
            route.join(" → ")
        ),
    }
}

fn is_local_ref(reference: &str) -> bool {
    reference.is_empty() || reference.starts_with('#')
}

fn percent_decode(text: &str) -> Option<String> {
    if !text.contains('%') {
        return Some(text.to_string());
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = char::from(*bytes.get(i + 1)?).to_digit(16)?;
            let lo = char::from(*bytes.get(i + 2)?).to_digit(16)?;
            out.push(u8::try_from(hi * 16 + lo).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Resolves a local reference to (normalized pointer, value).
fn resolve_local<'v>(
    root: &'v Value,
    anchors: &HashMap<String, String>,
    reference: &str,
) -> Option<(String, &'v Value)> {
    let fragment = if reference.is_empty() {
        ""
    } else {
        reference.strip_prefix('#')?
    };
    let decoded = percent_decode(fragment)?;
    if decoded.is_empty() {
        return Some((String::new(), root));
    }
    if decoded.starts_with('/') {
        let value = root.pointer(&decoded)?;
        return Some((decoded, value));
    }
    let ptr = anchors.get(&decoded)?;
    root.pointer(ptr).map(|value| (ptr.clone(), value))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edge {
    /// Applies to the same instance (`allOf`, `not`, ...).
    InPlace,
    /// Applies to part of the instance (`properties`, `items`, ...).
    Consuming,
    /// Not applied at all (`definitions`, `$defs`).
    Definition,
}

/// The subschemas directly under a schema object: (pointer suffix, schema, edge kind).
fn schema_children(map: &Map<String, Value>) -> Vec<(String, &Value, Edge)> {
    let mut out = Vec::new();
    for (keyword, value) in map {
        let kw = keyword.as_str();
        match kw {
            "properties" | "patternProperties" | "definitions" | "$defs" | "dependentSchemas"
            | "dependencies" => {
                let edge = match kw {
                    "properties" | "patternProperties" => Edge::Consuming,
                    "definitions" | "$defs" => Edge::Definition,
                    _ => Edge::InPlace,
                };
                if let Some(children) = value.as_object() {
                    for (name, child) in children {
                        if is_schema(child) {
                            out.push((seg(&[kw, name]), child, edge));
                        }
                    }
                }
            }
            "allOf" | "anyOf" | "oneOf" | "prefixItems" | "items" => {
                let edge = if matches!(kw, "prefixItems" | "items") {
                    Edge::Consuming
                } else {
                    Edge::InPlace
                };
                match value {
                    Value::Array(children) => {
                        for (i, child) in children.iter().enumerate() {
                            if is_schema(child) {
                                out.push((seg(&[kw, &i.to_string()]), child, edge));
                            }
                        }
                    }
                    child if kw == "items" && is_schema(child) => {
                        out.push((seg(&[kw]), child, edge));
                    }
                    _ => {}
                }
            }
            "not" | "if" | "then" | "else" if is_schema(value) => {
                out.push((seg(&[kw]), value, Edge::InPlace));
            }
            "additionalProperties"
            | "unevaluatedProperties"
            | "propertyNames"
            | "additionalItems"
            | "unevaluatedItems"
            | "contains"
                if is_schema(value) =>
            {
                out.push((seg(&[kw]), value, Edge::Consuming));
            }
            _ => {}
        }
    }
    out
}

/// Every schema location reachable through schema keywords, pre-order, without following refs.
fn collect_nodes(root: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    let mut stack = vec![(String::new(), root)];
    while let Some((ptr, value)) = stack.pop() {
        if let Some(map) = value.as_object() {
            let children = schema_children(map);
            for (suffix, child, _) in children.into_iter().rev() {
                stack.push((format!("{ptr}{suffix}"), child));
            }
        }
        out.push((ptr, value));
    }
    out
}

/// `$anchor` names (and draft-07 `$id: "#name"`) to the pointer of the schema carrying them.
fn collect_anchors(root: &Value) -> HashMap<String, String> {
    let mut anchors = HashMap::new();
    for (ptr, value) in collect_nodes(root) {
        let Some(map) = value.as_object() else {
            continue;
        };
        if let Some(name) = map.get("$anchor").and_then(Value::as_str) {
            anchors
                .entry(name.to_string())
                .or_insert_with(|| ptr.clone());
        }
        if let Some(name) = map
            .get("$id")
            .and_then(Value::as_str)
            .and_then(|id| id.strip_prefix('#'))
            .filter(|name| !name.is_empty())
        {
            anchors
                .entry(name.to_string())
                .or_insert_with(|| ptr.clone());
        }
    }
    anchors
}

pub(super) struct Doc<'a> {
    root: &'a Value,
    anchors: HashMap<String, String>,
    /// Whether keywords next to `$ref` apply (2019-09 and later); draft-07 and older ignore them.
    pub(super) ref_siblings: bool,
}

impl<'a> Doc<'a> {
    pub(super) fn new(root: &'a Value) -> Doc<'a> {
        let old_draft = root
            .get("$schema")
            .and_then(Value::as_str)
            .is_some_and(|dialect| dialect.contains("draft-0"));
        Doc {
            root,
            anchors: collect_anchors(root),
            ref_siblings: !old_draft,
        }
    }
}

impl<'a> Comparator<'a> {
    /// Follows `$ref`s until reaching a location that is not a bare reference.
    pub(super) fn resolve(&self, loc: &Loc<'a>) -> Target<'a> {
        let mut current = loc.clone();
        let mut seen: Vec<String> = Vec::new();
        loop {
            let Some(map) = current.map() else {
                return Ok(current);
            };
            let Some(reference) = map.get("$ref").and_then(Value::as_str) else {
                return Ok(current);
            };
            let doc = self.doc(current.doc);
            let follow = match current.facet {
                Facet::RefOnly => true,
                Facet::Whole => !(doc.ref_siblings && has_assertions(map)),
                _ => false,
            };
            if !follow {
                return Ok(current);
            }
            let opaque = |why: &'static str| Opaque {
                doc: current.doc,
                reference: reference.to_string(),
                why,
            };
            if seen.len() >= MAX_REF_HOPS || seen.contains(&current.ptr) {
                return Err(opaque("is circular"));
            }
            if !is_local_ref(reference) {
                return Err(opaque("points outside the document"));
            }
            seen.push(current.ptr.clone());
            match resolve_local(doc.root, &doc.anchors, reference) {
                Some((ptr, value)) => {
                    current = Loc {
                        doc: current.doc,
                        ptr,
                        value,
                        facet: Facet::Whole,
                    };
                }
                None => return Err(opaque("cannot be resolved")),
            }
        }
    }
}
