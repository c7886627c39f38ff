//! The domain library's modules form layers: no two sibling modules (two contexts, or two
//! parts of one context) need each other, directly or around a loop. This test reads the
//! sources, finds every path a module names (`crate::…`, `super::…`, `self::…`, including
//! `use` groups), and fails with the loop and where each step of it is written.
//!
//! Test code is left out (files named `tests.rs` and items under `#[cfg(test)]`): a test
//! may seed the demo catalog, which needs every context. So are comments: a doc link is
//! not a dependency.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path below the crate root, e.g. `["search", "engine"]`.
type ModulePath = Vec<String>;

/// For each directory module, its children's edges: child → sibling → where it is named.
type Edges = BTreeMap<ModulePath, BTreeMap<String, BTreeMap<String, String>>>;

/// One source file and the module it is.
struct Source {
    module: ModulePath,
    file: PathBuf,
}

fn sources(dir: &Path, module: &ModulePath, found: &mut Vec<Source>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("readable source directory")
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .expect("UTF-8 file name")
            .to_string();
        if path.is_dir() {
            let mut child = module.clone();
            child.push(name);
            sources(&path, &child, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") && name != "tests" {
            let mut own = module.clone();
            if name != "mod" && name != "lib" {
                own.push(name);
            }
            found.push(Source {
                module: own,
                file: path,
            });
        }
    }
}

/// The code of a file without comments and without items under `#[cfg(test)]`.
fn production_code(text: &str) -> String {
    let mut kept = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]" {
            let indent = line.len() - line.trim_start().len();
            let Some(item) = lines.next() else { break };
            if item.trim_end().ends_with('{') {
                let close = format!("{}}}", " ".repeat(indent));
                for inner in lines.by_ref() {
                    if inner.trim_end() == close {
                        break;
                    }
                }
            }
            kept.push('\n');
            continue;
        }
        let code = line.split("//").next().unwrap_or_default();
        kept.push_str(code);
        kept.push('\n');
    }
    kept
}

/// Every module path the code names, resolved against `module` (the file's own), with the
/// line it is on.
fn named_paths(code: &str, module: &ModulePath) -> Vec<(ModulePath, usize)> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    let line_of = |at: usize| code[..at].matches('\n').count() + 1;
    for (prefix, base) in [
        ("crate::", Vec::new()),
        ("super::", module[..module.len().saturating_sub(1)].to_vec()),
        ("self::", module.clone()),
    ] {
        let mut from = 0;
        while let Some(offset) = code[from..].find(prefix) {
            let at = from + offset;
            from = at + prefix.len();
            let preceded =
                at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
            if preceded || (prefix != "crate::" && at > 1 && &code[at - 2..at] == "::") {
                continue;
            }
            let mut base = base.clone();
            let mut rest = &code[from..];
            // `super::super::x`
            while let Some(after) = rest.strip_prefix("super::") {
                base.pop();
                rest = after;
            }
            for path in expand(rest) {
                let mut full = base.clone();
                full.extend(path);
                found.push((full, line_of(at)));
            }
        }
    }
    found
}

/// The paths written after a `crate::`: `a::b`, or each member of `{a::b, c}`.
fn expand(rest: &str) -> Vec<Vec<String>> {
    if let Some(group) = rest.strip_prefix('{') {
        let mut depth = 0;
        let mut end = group.len();
        for (index, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    end = index;
                    break;
                }
                '}' => depth -= 1,
                _ => {}
            }
        }
        let mut members = Vec::new();
        let mut depth = 0;
        let mut start = 0;
        let inner = &group[..end];
        for (index, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    members.push(&inner[start..index]);
                    start = index + 1;
                }
                _ => {}
            }
        }
        members.push(&inner[start..]);
        return members
            .into_iter()
            .map(str::trim)
            .filter(|member| !member.is_empty() && *member != "self")
            .flat_map(expand)
            .collect();
    }
    let mut path = Vec::new();
    let mut rest = rest;
    loop {
        let length = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if length == 0 {
            break;
        }
        path.push(rest[..length].to_string());
        rest = &rest[length..];
        match rest.strip_prefix("::") {
            Some(after) if after.starts_with('{') => {
                return expand(after)
                    .into_iter()
                    .map(|tail| path.iter().cloned().chain(tail).collect())
                    .collect();
            }
            Some(after) => rest = after,
            None => break,
        }
    }
    vec![path]
}

/// Each directory module's children and the siblings they name.
fn edges(root: &Path) -> Edges {
    let mut found = Vec::new();
    sources(root, &Vec::new(), &mut found);
    let modules: BTreeSet<ModulePath> = found.iter().map(|source| source.module.clone()).collect();
    let mut edges = Edges::new();
    for source in &found {
        let text = std::fs::read_to_string(&source.file).expect("readable source");
        let code = production_code(&text);
        for (path, line) in named_paths(&code, &source.module) {
            // The first place where the two paths part is where the edge runs: between two
            // children of their common parent, when the target is a module.
            let shared = source
                .module
                .iter()
                .zip(&path)
                .take_while(|(a, b)| a == b)
                .count();
            if shared >= source.module.len() || shared >= path.len() {
                continue;
            }
            let sibling = path[..=shared].to_vec();
            if !modules.contains(&sibling) {
                continue;
            }
            let relative = source.file.strip_prefix(root).unwrap_or(&source.file);
            edges
                .entry(source.module[..shared].to_vec())
                .or_default()
                .entry(source.module[shared].clone())
                .or_default()
                .entry(path[shared].clone())
                .or_insert_with(|| format!("{}:{line}", relative.display()));
        }
    }
    edges
}

/// A loop among one directory's children, if there is one.
fn a_loop(children: &BTreeMap<String, BTreeMap<String, String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        children: &BTreeMap<String, BTreeMap<String, String>>,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|seen| seen == node) {
            let mut found = stack[at..].to_vec();
            found.push(node.to_string());
            return Some(found);
        }
        if !done.insert(node.to_string()) {
            return None;
        }
        stack.push(node.to_string());
        for next in children.get(node).into_iter().flat_map(BTreeMap::keys) {
            if let Some(found) = visit(next, children, done, stack) {
                return Some(found);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    children
        .keys()
        .find_map(|start| visit(start, children, &mut done, &mut Vec::new()))
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_two_modules_need_each_other() {
    let edges = edges(&root());
    let mut loops = Vec::new();
    for (parent, children) in &edges {
        if let Some(found) = a_loop(children) {
            let steps: Vec<String> = found
                .windows(2)
                .map(|pair| {
                    format!(
                        "  {} -> {} ({})",
                        pair[0], pair[1], children[&pair[0]][&pair[1]]
                    )
                })
                .collect();
            let place = if parent.is_empty() {
                "crate".to_string()
            } else {
                parent.join("::")
            };
            loops.push(format!(
                "in {place}: {}\n{}",
                found.join(" -> "),
                steps.join("\n")
            ));
        }
    }
    assert!(
        loops.is_empty(),
        "modules that need each other:\n{}",
        loops.join("\n")
    );
}

#[test]
fn the_scan_sees_the_dependencies_that_are_there() {
    let edges = edges(&root());
    let top = &edges[&Vec::new()];
    let names = |from: &str, to: &str| top.get(from).is_some_and(|named| named.contains_key(to));
    // A `use crate::…` line, a `use crate::{…}` group and a path inside code.
    assert!(
        names("catalog", "contracts"),
        "catalog uses the contract model"
    );
    assert!(
        names("accounts", "identity"),
        "accounts audits identity changes"
    );
    assert!(
        names("identity", "audit"),
        "identity names actors in the audit log"
    );
    // What only a test or a comment names is not a dependency.
    assert!(
        !names("nodes", "demo"),
        "the node tests seed the demo; the nodes do not"
    );
    let search = &edges[&vec!["search".to_string()]];
    assert!(
        search["engine"].contains_key("tally"),
        "a `super::` path is seen too"
    );
}

#[test]
fn test_code_and_comments_are_not_read_as_dependencies() {
    let code = production_code(
        "use crate::a;\n// crate::b\nfn f() {} // crate::c\n#[cfg(test)]\nmod tests {\n    use crate::d;\n}\nuse crate::{e::{f, g}, h};\n",
    );
    let named: Vec<ModulePath> = named_paths(&code, &vec!["x".to_string()])
        .into_iter()
        .map(|(path, _)| path)
        .collect();
    let path = |parts: &[&str]| {
        parts
            .iter()
            .map(|part| part.to_string())
            .collect::<ModulePath>()
    };
    assert_eq!(
        named,
        vec![
            path(&["a"]),
            path(&["e", "f"]),
            path(&["e", "g"]),
            path(&["h"])
        ]
    );
}
