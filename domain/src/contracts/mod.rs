//! Data contracts in the Open Data Contract Standard (ODCS v3) YAML: parsing with limits
//! (size, nesting, alias expansion), validation against the official ODCS JSON Schema
//! (vendored next to this file with its licence), mapping onto the catalog's model, and
//! export back to YAML.
//!
//! A contract document is kept exactly as imported (as JSON); exporting serialises that
//! document, so import → export → import yields the same product.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub mod declaration;
mod document;
mod model;
pub mod quality;
pub mod sensitivity;

pub use declaration::{Declaration, NodeKind};
pub use model::{Contract, Field, Member, OutputPort, ProductStatus, Sla, SupportChannel};
pub use quality::{PortQuality, QualityRule};

/// The largest contract accepted, in bytes.
pub const MAX_CONTRACT_BYTES: usize = 1024 * 1024;
/// The deepest nesting accepted (objects and arrays).
pub const MAX_DEPTH: usize = 32;
/// Most problems reported for one contract.
const MAX_PROBLEMS: usize = 50;

const ODCS_SCHEMA: &str = include_str!("odcs-json-schema-v3.1.0.json");

/// One thing wrong with a contract, located by JSON pointer and, where known, line/column.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// JSON pointer into the document (`""` for the whole document).
    pub pointer: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, "line {line}, column {column}: ")?,
            _ if !self.pointer.is_empty() => write!(f, "{}: ", self.pointer)?,
            _ => {}
        }
        write!(f, "{}", self.message)
    }
}

/// Why a contract was refused; each variant lists what to fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ContractError {
    #[error("the contract is {size} bytes; the limit is {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("the contract is not valid YAML: {0}")]
    Syntax(Problem),
    #[error("the contract does not follow ODCS v3 ({} problem(s))", .0.len())]
    Invalid(Vec<Problem>),
    /// The contract could not be checked at all (the built-in ODCS schema failed to
    /// load): ours to fix, not the author's, so it carries no problems.
    #[error("the contract could not be checked: {0}")]
    Internal(String),
}

impl ContractError {
    /// Every problem, for error responses.
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            ContractError::TooLarge { .. } => vec![Problem {
                pointer: String::new(),
                line: None,
                column: None,
                message: self.to_string(),
            }],
            ContractError::Syntax(problem) => vec![problem.clone()],
            ContractError::Invalid(problems) => problems.clone(),
            ContractError::Internal(_) => Vec::new(),
        }
    }
}

fn problem(pointer: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        pointer: pointer.into(),
        line: None,
        column: None,
        message: message.into(),
    }
}

fn validator() -> Result<&'static jsonschema::Validator, ContractError> {
    static VALIDATOR: OnceLock<Result<jsonschema::Validator, ContractError>> = OnceLock::new();
    VALIDATOR
        .get_or_init(|| compile_validator(ODCS_SCHEMA))
        .as_ref()
        .map_err(Clone::clone)
}

/// Compiles the ODCS JSON Schema; a failure is an internal error, never the author's.
fn compile_validator(text: &str) -> Result<jsonschema::Validator, ContractError> {
    let schema: Value = serde_json::from_str(text)
        .map_err(|e| ContractError::Internal(format!("the ODCS schema is not JSON: {e}")))?;
    jsonschema::validator_for(&schema)
        .map_err(|e| ContractError::Internal(format!("the ODCS schema does not compile: {e}")))
}

/// Parses YAML text into a JSON document, with YAML line/column on syntax errors.
pub fn parse_yaml(text: &str) -> Result<Value, ContractError> {
    if text.len() > MAX_CONTRACT_BYTES {
        return Err(ContractError::TooLarge {
            size: text.len(),
            limit: MAX_CONTRACT_BYTES,
        });
    }
    // Through the YAML library's own value first: it refuses duplicate keys, which a
    // direct conversion would silently resolve to the last one.
    let yaml: serde_norway::Value = serde_norway::from_str(text).map_err(|error| {
        let location = error.location();
        let message = error.to_string();
        // The library appends " at line L column C"; the location fields carry that.
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_string();
        ContractError::Syntax(Problem {
            pointer: String::new(),
            line: location.as_ref().map(|l| l.line()),
            column: location.as_ref().map(|l| l.column()),
            message,
        })
    })?;
    let value = serde_json::to_value(&yaml).map_err(|error| {
        ContractError::Syntax(problem(
            "",
            format!("the YAML cannot be read as a JSON document ({error}); keys must be strings"),
        ))
    })?;
    if let Some(pointer) = too_deep(&value, 0, String::new()) {
        return Err(ContractError::Invalid(vec![problem(
            pointer,
            format!("nesting deeper than {MAX_DEPTH} levels"),
        )]));
    }
    Ok(value)
}

fn too_deep(value: &Value, depth: usize, pointer: String) -> Option<String> {
    if depth > MAX_DEPTH {
        return Some(pointer);
    }
    match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| too_deep(item, depth + 1, format!("{pointer}/{i}"))),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            let key = key.replace('~', "~0").replace('/', "~1");
            too_deep(item, depth + 1, format!("{pointer}/{key}"))
        }),
        _ => None,
    }
}

/// What a schema violation says. A value outside a list of allowed values names every one
/// of them (the validator's own text stops after a few, "or 7 other candidates").
fn message_of(error: &jsonschema::ValidationError<'_>) -> String {
    match error.kind() {
        jsonschema::error::ValidationErrorKind::Enum { options } => {
            let allowed: Vec<String> = options
                .as_array()
                .map(|all| all.iter().map(ToString::to_string).collect())
                .unwrap_or_default();
            format!("{} is not one of: {}", error.instance(), allowed.join(", "))
        }
        _ => error.to_string(),
    }
}

/// Validates a document against the ODCS v3 JSON Schema; every violation, by pointer.
pub fn validate(document: &Value) -> Result<(), ContractError> {
    if !document.is_object() {
        return Err(ContractError::Invalid(vec![problem(
            "",
            "a contract is a YAML mapping (apiVersion, kind, id, version, status, …)",
        )]));
    }
    let problems: Vec<Problem> = validator()?
        .iter_errors(document)
        .take(MAX_PROBLEMS)
        .map(|error| problem(error.instance_path().to_string(), message_of(&error)))
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ContractError::Invalid(problems))
    }
}

/// Parses, validates and maps a contract.
pub fn import(text: &str) -> Result<Contract, ContractError> {
    let document = parse_yaml(text)?;
    validate(&document)?;
    Contract::from_document(document).map_err(ContractError::Invalid)
}

/// The contract document as ODCS YAML.
pub fn export(document: &Value) -> String {
    serde_norway::to_string(document).unwrap_or_default()
}

/// A product slug from free text: lowercase ASCII letters and digits, single dashes.
pub fn slugify(text: &str) -> String {
    let mut slug = String::with_capacity(text.len());
    for c in text.trim().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    slug.truncate(100);
    slug
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_value_outside_an_enum_lists_every_allowed_one() {
        let document = serde_json::json!({
            "apiVersion": "v3.1.0", "kind": "DataContract", "id": "x", "version": "1.0.0",
            "status": "active",
            "schema": [{"name": "E", "properties": [{"name": "a", "logicalType": "text"}]}]
        });
        let Err(ContractError::Invalid(problems)) = validate(&document) else {
            panic!("invalid");
        };
        let message = &problems
            .iter()
            .find(|p| p.pointer.ends_with("/logicalType"))
            .expect("the logicalType problem")
            .message;
        assert!(!message.contains("other candidates"), "{message}");
        for allowed in [
            "\"string\"",
            "\"date\"",
            "\"timestamp\"",
            "\"array\"",
            "\"object\"",
        ] {
            assert!(message.contains(allowed), "{allowed} in {message}");
        }
    }
    use super::*;

    #[test]
    fn a_broken_built_in_schema_is_an_internal_error_not_the_authors_problem() {
        for broken in ["{ not json", r#"{"type": 12}"#] {
            match compile_validator(broken) {
                Err(ContractError::Internal(message)) => {
                    assert!(message.contains("ODCS schema"), "{message}")
                }
                Err(other) => panic!("{broken}: reported as {other:?}"),
                Ok(_) => panic!("{broken}: compiled"),
            }
        }
        assert!(compile_validator(ODCS_SCHEMA).is_ok());
        assert!(ContractError::Internal("x".into()).problems().is_empty());
    }

    #[test]
    fn slugs_are_lowercase_and_dashed() {
        assert_eq!(slugify("my quantum"), "my-quantum");
        assert_eq!(slugify("  Customer Signed-Up!  "), "customer-signed-up");
        assert_eq!(slugify("my_quantum"), "my-quantum");
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let error =
            import("apiVersion: v3.0.2\nkind: DataContract\n  id: [unclosed\n").expect_err("bad");
        let ContractError::Syntax(problem) = error else {
            panic!("expected a syntax error, got {error:?}");
        };
        assert_eq!(problem.line, Some(3), "{problem:?}");
        assert!(problem.column.is_some());
    }

    #[test]
    fn an_alias_bomb_is_refused_naming_the_limit_not_expanded() {
        // Nine levels of nine aliases each: a billion strings once expanded.
        let mut text = String::from(
            "a: &a [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n",
        );
        for level in b'b'..=b'i' {
            let previous = (level - 1) as char;
            let aliases = vec![format!("*{previous}"); 9].join(", ");
            text.push_str(&format!(
                "{}: &{} [{aliases}]\n",
                level as char, level as char
            ));
        }
        // The YAML library counts what aliases expand to and stops at its limit.
        let Err(ContractError::Syntax(problem)) = parse_yaml(&text) else {
            panic!("an alias bomb was accepted");
        };
        assert!(problem.message.contains("repetition limit"), "{problem:?}");
    }

    #[test]
    fn schema_violations_name_the_pointer() {
        let error = import("apiVersion: v3.0.2\nkind: DataContract\nid: x\nversion: 1.0.0\nstatus: active\nschema: 5\n")
            .expect_err("schema must be a list");
        let problems = error.problems();
        assert!(
            problems.iter().any(|p| p.pointer == "/schema"),
            "{problems:?}"
        );
        let missing = import("kind: DataContract\n").expect_err("missing fields");
        assert!(
            missing
                .problems()
                .iter()
                .any(|p| p.message.contains("apiVersion")),
            "{:?}",
            missing.problems()
        );
    }

    /// The YAML a user downloads for the flagship demo products, reviewed as a whole: a
    /// change to the export or to these contracts shows up as a snapshot diff. What is
    /// downloaded must also upload again unchanged.
    #[test]
    fn demo_contracts_export_as_reviewed_odcs_yaml_that_imports_again() {
        let all = crate::demo::catalog::contracts();
        for product in ["customer-signed-up", "order-placed"] {
            let document = all
                .iter()
                .find(|d| d["dataProduct"] == product)
                .unwrap_or_else(|| panic!("the demo has {product}"));
            let yaml = export(document);
            assert_eq!(&parse_yaml(&yaml).expect("parses"), document, "{product}");
            let contract = import(&yaml).expect("imports");
            assert_eq!(contract.slug, product);
            insta::assert_snapshot!(product, yaml);
        }
    }
}
