//! Schema references, with Confluent's semantics: a schema may name other subjects'
//! versions (`{"name", "subject", "version"}`) whose types it uses — Avro named types by
//! their full name, JSON Schema documents by the `$ref` URL given as the reference's name.
//!
//! This module owns the rules on a request's references, the set of schemas they reach
//! ([`Dependencies`], loaded by the store), and the *resolved* form of a schema that
//! comparisons and record validation work on: the referenced definitions written into the
//! schema itself, so that a change inside a referenced type is seen like any other change.
//!
//! - Avro: the schema is parsed with every dependency (`apache_avro`'s
//!   `parse_str_with_list`), then each referenced named type is written out in full at its
//!   first use, as if the schema had defined it there.
//! - JSON Schema: each dependency is copied under the root's `definitions` (draft-04 to 07)
//!   or `$defs` (later drafts) and every `$ref` naming a reference (`address.json`,
//!   `address.json#/definitions/street`) is rewritten to point there; a dependency's own
//!   local `$ref`s are moved along with it, and its `$id`/`$schema` dropped.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::kind::{InvalidSchema, SchemaType};

/// The most references one schema may make.
pub const MAX_REFERENCES: usize = 64;
/// The most schemas a schema's references may reach, directly or through others.
pub const MAX_DEPENDENCIES: usize = 256;
/// The longest chain of references (a schema referencing one that references another…).
pub const MAX_REFERENCE_DEPTH: usize = 16;
/// The longest reference name accepted.
const MAX_NAME: usize = 1024;
/// The version number a request may give for "the subject's latest version".
pub const LATEST: i32 = -1;

/// A schema's reference to a version of another subject, as Confluent's API spells it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Reference {
    /// How the schema names it: an Avro type's full name, a JSON Schema `$ref` URL.
    pub name: String,
    pub subject: String,
    pub version: i32,
}

/// A referenced version's schema, as it is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    pub schema_type: SchemaType,
    pub schema: String,
    /// Its own references.
    pub references: Vec<Reference>,
}

/// Every schema a schema's references reach (transitively), by subject and version.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dependencies {
    found: BTreeMap<(String, i32), Dependency>,
}

impl Dependencies {
    pub fn insert(&mut self, subject: &str, version: i32, dependency: Dependency) {
        self.found
            .insert((subject.to_string(), version), dependency);
    }

    pub fn contains(&self, subject: &str, version: i32) -> bool {
        self.found.contains_key(&(subject.to_string(), version))
    }

    pub fn len(&self) -> usize {
        self.found.len()
    }

    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// The schema a reference names, if it was loaded.
    pub fn get(&self, reference: &Reference) -> Option<&Dependency> {
        self.found
            .get(&(reference.subject.clone(), reference.version))
    }

    /// Every schema reached.
    pub fn all(&self) -> impl Iterator<Item = &Dependency> {
        self.found.values()
    }
}

/// Checks the references of a request before anything is looked up: at most
/// [`MAX_REFERENCES`], each with a name (unique within the schema), a valid subject and a
/// version of at least 1 (or [`LATEST`]). The error names the offending entry.
pub fn check(references: &[Reference]) -> Result<(), InvalidSchema> {
    if references.len() > MAX_REFERENCES {
        return Err(InvalidSchema(format!(
            "references: {} given; the limit is {MAX_REFERENCES}",
            references.len()
        )));
    }
    let mut names = HashSet::new();
    for (i, reference) in references.iter().enumerate() {
        let at = |field: &str, problem: String| {
            InvalidSchema(format!("references/{i}/{field}: {problem}"))
        };
        if reference.name.trim().is_empty() || reference.name.len() > MAX_NAME {
            return Err(at("name", format!("use 1 to {MAX_NAME} characters")));
        }
        if !names.insert(reference.name.as_str()) {
            return Err(at("name", format!("`{}` is named twice", reference.name)));
        }
        if super::check_subject(&reference.subject).is_err() {
            return Err(at(
                "subject",
                "use 1 to 255 characters, no control characters".to_string(),
            ));
        }
        if reference.version < 1 && reference.version != LATEST {
            return Err(at(
                "version",
                format!(
                    "{} is not a version; use a number from 1, or -1 for the latest",
                    reference.version
                ),
            ));
        }
    }
    Ok(())
}

/// An Avro schema with its references: parsed together with every dependency, then
/// resolved so that each referenced type is defined in full at its first use.
pub fn resolve_avro(
    document: &Value,
    dependencies: &Dependencies,
) -> Result<apache_avro::Schema, InvalidSchema> {
    let mut texts = Vec::with_capacity(dependencies.len());
    for ((subject, version), dependency) in &dependencies.found {
        if dependency.schema_type != SchemaType::Avro {
            return Err(InvalidSchema(format!(
                "reference to subject '{subject}' version {version}: it is a {} schema; an Avro schema can only reference Avro schemas",
                dependency.schema_type.as_str()
            )));
        }
        texts.push(dependency.schema.as_str());
    }
    let (schema, schemata) = apache_avro::Schema::parse_str_with_list(&document.to_string(), texts)
        .map_err(|e| InvalidSchema(format!("not a valid Avro schema with its references: {e}")))?;
    let mut named: HashMap<String, Value> = HashMap::new();
    for dependency in &schemata {
        if let Some(name) = dependency.name() {
            named.insert(name.fullname(None), written(dependency)?);
        }
    }
    let mut resolved = written(&schema)?;
    let mut defined = HashSet::new();
    expand_avro(&mut resolved, &named, &mut defined, 0)?;
    apache_avro::Schema::parse(&resolved)
        .map_err(|e| InvalidSchema(format!("the schema's references do not resolve: {e}")))
}

fn written(schema: &apache_avro::Schema) -> Result<Value, InvalidSchema> {
    serde_json::to_value(schema)
        .map_err(|e| InvalidSchema(format!("an Avro schema could not be written out: {e}")))
}

/// Writes each referenced type (`named`, by full name) in full at its first use in
/// `value`, an Avro schema as `apache_avro` writes it (every reference a full name).
fn expand_avro(
    value: &mut Value,
    named: &HashMap<String, Value>,
    defined: &mut HashSet<String>,
    depth: usize,
) -> Result<(), InvalidSchema> {
    // Each referenced type is expanded once, so the depth is bounded by the dependencies'
    // own nesting; the guard keeps a hostile combination off the stack's end.
    if depth > 512 {
        return Err(InvalidSchema(
            "the schema and its references nest too deeply".to_string(),
        ));
    }
    match value {
        Value::String(name) => {
            if let Some(definition) = named.get(name.as_str())
                && defined.insert(name.clone())
            {
                let mut definition = definition.clone();
                expand_avro(&mut definition, named, defined, depth + 1)?;
                *value = definition;
            }
        }
        Value::Array(branches) => {
            for branch in branches {
                expand_avro(branch, named, defined, depth + 1)?;
            }
        }
        Value::Object(map) => {
            let kind = map.get("type").and_then(Value::as_str);
            if matches!(kind, Some("record" | "error" | "enum" | "fixed"))
                && let Some(name) = map.get("name").and_then(Value::as_str)
            {
                let full = match map.get("namespace").and_then(Value::as_str) {
                    Some(namespace) if !namespace.is_empty() && !name.contains('.') => {
                        format!("{namespace}.{name}")
                    }
                    _ => name.to_string(),
                };
                defined.insert(full);
            }
            if let Some(Value::Array(fields)) = map.get_mut("fields") {
                for field in fields {
                    if let Some(kind) = field.get_mut("type") {
                        expand_avro(kind, named, defined, depth + 1)?;
                    }
                }
            }
            for key in ["items", "values"] {
                if let Some(inner) = map.get_mut(key) {
                    expand_avro(inner, named, defined, depth + 1)?;
                }
            }
            if let Some(inner @ (Value::Object(_) | Value::Array(_))) = map.get_mut("type") {
                expand_avro(inner, named, defined, depth + 1)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// A JSON Schema with its references: each dependency copied under the root's definitions
/// and every `$ref` that names a reference pointed at the copy. Without references the
/// document is returned as it is.
pub fn resolve_json(
    document: &Value,
    references: &[Reference],
    dependencies: &Dependencies,
) -> Result<Value, InvalidSchema> {
    if references.is_empty() {
        return Ok(document.clone());
    }
    let Value::Object(root) = document else {
        return Err(InvalidSchema(
            "a JSON Schema with references must be a JSON object".to_string(),
        ));
    };
    let container = match root.get("$schema").and_then(Value::as_str) {
        Some(dialect) if dialect.contains("draft-0") => "definitions",
        _ => "$defs",
    };
    // Keys by position: subjects may hold characters a URI fragment would need escaped.
    let keys: HashMap<(&str, i32), String> = dependencies
        .found
        .keys()
        .enumerate()
        .map(|(i, (subject, version))| {
            (
                (subject.as_str(), *version),
                format!("meshmart-reference-{i}"),
            )
        })
        .collect();
    let places = Places {
        container,
        keys: &keys,
    };
    let mut copies = Map::new();
    for ((subject, version), dependency) in &dependencies.found {
        if dependency.schema_type != SchemaType::Json {
            return Err(InvalidSchema(format!(
                "reference to subject '{subject}' version {version}: it is a {} schema; a JSON Schema can only reference JSON Schemas",
                dependency.schema_type.as_str()
            )));
        }
        let mut copy: Value = serde_json::from_str(&dependency.schema).map_err(|e| {
            InvalidSchema(format!(
                "subject '{subject}' version {version} is not JSON: {e}"
            ))
        })?;
        if let Value::Object(map) = &mut copy {
            map.remove("$id");
            map.remove("$schema");
        }
        let key = places.key(subject, *version)?;
        let here = format!("#/{container}/{key}");
        places.rewrite(
            &mut copy,
            &dependency.references,
            dependencies,
            Some(&here),
            0,
        )?;
        copies.insert(key, copy);
    }
    let mut resolved = document.clone();
    places.rewrite(&mut resolved, references, dependencies, None, 0)?;
    if let Value::Object(root) = &mut resolved {
        match root
            .entry(container)
            .or_insert_with(|| Value::Object(Map::new()))
        {
            Value::Object(definitions) => definitions.extend(copies),
            _ => {
                return Err(InvalidSchema(format!("`{container}` must be an object")));
            }
        }
    }
    Ok(resolved)
}

/// Where the copies of dependencies live in a resolved JSON Schema.
struct Places<'a> {
    container: &'static str,
    keys: &'a HashMap<(&'a str, i32), String>,
}

impl Places<'_> {
    fn key(&self, subject: &str, version: i32) -> Result<String, InvalidSchema> {
        self.keys.get(&(subject, version)).cloned().ok_or_else(|| {
            InvalidSchema(format!(
                "subject '{subject}' version {version} was not loaded"
            ))
        })
    }

    /// Rewrites the `$ref`s in `value`: those naming one of `references` to the copy of
    /// its dependency; with `here` (a copy's own place), local ones to inside the copy.
    fn rewrite(
        &self,
        value: &mut Value,
        references: &[Reference],
        dependencies: &Dependencies,
        here: Option<&str>,
        depth: usize,
    ) -> Result<(), InvalidSchema> {
        if depth > 256 {
            return Err(InvalidSchema(
                "a referenced schema nests too deeply".to_string(),
            ));
        }
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get_mut("$ref")
                    && let Some(rewritten) = self.target(target, references, dependencies, here)?
                {
                    *target = rewritten;
                }
                for child in map.values_mut() {
                    self.rewrite(child, references, dependencies, here, depth + 1)?;
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.rewrite(item, references, dependencies, here, depth + 1)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn target(
        &self,
        target: &str,
        references: &[Reference],
        dependencies: &Dependencies,
        here: Option<&str>,
    ) -> Result<Option<String>, InvalidSchema> {
        let (base, fragment) = target.split_once('#').unwrap_or((target, ""));
        if base.is_empty() {
            // Local: inside a copy, a pointer moves along with it.
            return Ok(match here {
                Some(here) if fragment.is_empty() || fragment.starts_with('/') => {
                    Some(format!("{here}{fragment}"))
                }
                _ => None,
            });
        }
        let Some(reference) = references.iter().find(|r| r.name == base) else {
            return Ok(None);
        };
        if dependencies.get(reference).is_none() {
            return Err(InvalidSchema(format!(
                "reference `{}` (subject '{}' version {}) was not loaded",
                reference.name, reference.subject, reference.version
            )));
        }
        if !(fragment.is_empty() || fragment.starts_with('/')) {
            return Err(InvalidSchema(format!(
                "`$ref` `{target}`: only JSON pointers (`#/…`) may follow a reference's name"
            )));
        }
        let key = self.key(&reference.subject, reference.version)?;
        Ok(Some(format!("#/{}/{key}{fragment}", self.container)))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn reference(name: &str, subject: &str, version: i32) -> Reference {
        Reference {
            name: name.to_string(),
            subject: subject.to_string(),
            version,
        }
    }

    fn dependency(kind: SchemaType, schema: Value, references: Vec<Reference>) -> Dependency {
        Dependency {
            schema_type: kind,
            schema: schema.to_string(),
            references,
        }
    }

    #[test]
    fn a_requests_references_are_checked_entry_by_entry() {
        assert!(check(&[reference("a", "s", 1), reference("b", "s", LATEST)]).is_ok());
        let cases = [
            (vec![reference("", "s", 1)], "references/0/name"),
            (
                vec![reference("a", "s", 1), reference("a", "t", 1)],
                "references/1/name: `a` is named twice",
            ),
            (vec![reference("a", "", 1)], "references/0/subject"),
            (
                vec![reference("a", "s", 0)],
                "references/0/version: 0 is not a version",
            ),
        ];
        for (references, expected) in cases {
            let error = check(&references).expect_err(expected);
            assert!(error.0.starts_with(expected), "{}", error.0);
        }
        let many: Vec<Reference> = (0..=MAX_REFERENCES)
            .map(|i| reference(&format!("n{i}"), "s", 1))
            .collect();
        assert!(check(&many).expect_err("too many").0.contains("limit"));
    }

    fn address(fields: Value) -> Value {
        json!({"type": "record", "name": "Address", "namespace": "shared", "fields": fields})
    }

    fn order() -> Value {
        json!({"type": "record", "name": "Order", "namespace": "sales", "fields": [
            {"name": "id", "type": "string"},
            {"name": "shipTo", "type": "shared.Address"},
            {"name": "billTo", "type": ["null", "shared.Address"], "default": null},
        ]})
    }

    #[test]
    fn an_avro_reference_is_written_in_full_at_its_first_use() {
        let mut dependencies = Dependencies::default();
        dependencies.insert(
            "shared.Address",
            1,
            dependency(
                SchemaType::Avro,
                address(json!([{"name": "city", "type": "string"}])),
                Vec::new(),
            ),
        );
        let resolved = resolve_avro(&order(), &dependencies).expect("resolves");
        let written = serde_json::to_value(&resolved).expect("writes");
        assert_eq!(written["fields"][1]["type"]["name"], "Address");
        assert_eq!(
            written["fields"][1]["type"]["fields"][0]["name"], "city",
            "{written}"
        );
        // The second use stays a name.
        assert_eq!(written["fields"][2]["type"][1], "shared.Address");
    }

    #[test]
    fn an_avro_type_no_reference_defines_is_refused() {
        let error = resolve_avro(&order(), &Dependencies::default()).expect_err("unknown type");
        assert!(error.0.contains("references"), "{}", error.0);
    }

    #[test]
    fn references_reach_through_references() {
        // Order → Address → Country.
        let country = json!({"type": "enum", "name": "Country", "namespace": "shared", "symbols": ["NL", "DE"]});
        let mut dependencies = Dependencies::default();
        dependencies.insert(
            "shared.Country",
            1,
            dependency(SchemaType::Avro, country, Vec::new()),
        );
        dependencies.insert(
            "shared.Address",
            2,
            dependency(
                SchemaType::Avro,
                address(json!([{"name": "country", "type": "shared.Country"}])),
                vec![reference("shared.Country", "shared.Country", 1)],
            ),
        );
        let resolved = resolve_avro(&order(), &dependencies).expect("resolves");
        let written = serde_json::to_value(&resolved).expect("writes");
        assert_eq!(
            written["fields"][1]["type"]["fields"][0]["type"]["symbols"],
            json!(["NL", "DE"])
        );
    }

    #[test]
    fn json_references_point_at_copies_of_the_referenced_schemas() {
        let street = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "$id": "https://example.com/address.json",
            "type": "object",
            "properties": {"street": {"$ref": "#/definitions/line"}},
            "definitions": {"line": {"type": "string"}}
        });
        let root = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {
                "shipTo": {"$ref": "address.json"},
                "line": {"$ref": "address.json#/definitions/line"},
                "own": {"$ref": "#/definitions/own"}
            },
            "definitions": {"own": {"type": "integer"}}
        });
        let mut dependencies = Dependencies::default();
        dependencies.insert(
            "address",
            3,
            dependency(SchemaType::Json, street, Vec::new()),
        );
        let references = [reference("address.json", "address", 3)];
        let resolved = resolve_json(&root, &references, &dependencies).expect("resolves");
        let copy = "#/definitions/meshmart-reference-0";
        assert_eq!(resolved["properties"]["shipTo"]["$ref"], copy);
        assert_eq!(
            resolved["properties"]["line"]["$ref"],
            format!("{copy}/definitions/line")
        );
        assert_eq!(resolved["properties"]["own"]["$ref"], "#/definitions/own");
        let placed = &resolved["definitions"]["meshmart-reference-0"];
        assert_eq!(
            placed["properties"]["street"]["$ref"],
            format!("{copy}/definitions/line")
        );
        assert!(placed.get("$id").is_none() && placed.get("$schema").is_none());
        // The result is a schema that validates on its own.
        let validator = jsonschema::validator_for(&resolved).expect("compiles");
        assert!(validator.is_valid(&json!({"shipTo": {"street": "Main 1"}, "own": 2})));
        assert!(!validator.is_valid(&json!({"shipTo": {"street": 7}})));
    }

    #[test]
    fn a_reference_to_the_other_language_is_refused() {
        let mut dependencies = Dependencies::default();
        dependencies.insert(
            "address",
            1,
            dependency(SchemaType::Json, json!({"type": "object"}), Vec::new()),
        );
        let error = resolve_avro(&order(), &dependencies).expect_err("JSON from Avro");
        assert!(error.0.contains("can only reference Avro"), "{}", error.0);
        let mut dependencies = Dependencies::default();
        dependencies.insert(
            "shared.Address",
            1,
            dependency(SchemaType::Avro, address(json!([])), Vec::new()),
        );
        let error = resolve_json(
            &json!({"$ref": "a.json"}),
            &[reference("a.json", "shared.Address", 1)],
            &dependencies,
        )
        .expect_err("Avro from JSON");
        assert!(error.0.contains("can only reference JSON"), "{}", error.0);
    }
}
