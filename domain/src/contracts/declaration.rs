//! The lineage a contract declares in its custom properties: `inputPorts` (the upstream
//! topics), `processor` (the job computing the product) and `nodeKind` (a node Meshmart
//! runs for it). Read when the contract is imported, so a bad declaration is a 422 naming
//! its pointer; `crate::lineage` stores it when the contract is registered, and
//! `crate::nodes` runs the node.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{Problem, problem};

/// The custom property naming a node's kind.
pub const KIND_PROPERTY: &str = "nodeKind";

/// The kinds of node Meshmart runs (`nodeKind` in the contract); `crate::nodes::Kind`
/// runs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// Copies each record's fields that the output contract lists: the runtime with no
    /// enrichment (the baseline enrichment is measured against).
    PassThrough,
    /// A sign-up with geolocation, e-mail domain and risk score added.
    CustomerEnrichment,
}

impl NodeKind {
    pub const ALL: [NodeKind; 2] = [NodeKind::PassThrough, NodeKind::CustomerEnrichment];

    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::PassThrough => "pass-through",
            NodeKind::CustomerEnrichment => "customer-enrichment",
        }
    }

    pub fn parse(text: &str) -> Option<NodeKind> {
        NodeKind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// Whether `topic` is a Kafka topic name (the same rule as output ports).
pub(crate) fn is_topic(topic: &str) -> bool {
    (1..=249).contains(&topic.len())
        && topic
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Most input ports one contract may declare.
const MAX_INPUTS: usize = 1_000;

/// What a contract says its product is computed from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Declaration {
    /// The job's name (`processor:contract/<name>`).
    pub processor: String,
    /// Upstream topics, without duplicates, in the order declared.
    pub inputs: Vec<String>,
    /// The kind of node Meshmart runs for the processor (`nodeKind`), if it runs one.
    pub node: Option<NodeKind>,
}

fn is_processor_name(name: &str) -> bool {
    (1..=200).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// The lineage a contract document declares (`None` when it declares none), or what is
/// wrong with the declaration, by JSON pointer. `own_topics` are the product's ports: a
/// product cannot be its own input.
pub fn declaration(
    document: &Value,
    slug: &str,
    own_topics: &[String],
) -> Result<Option<Declaration>, Vec<Problem>> {
    let Some(properties) = document.get("customProperties").and_then(Value::as_array) else {
        return Ok(None);
    };
    let mut problems = Vec::new();
    let mut inputs: Option<Vec<String>> = None;
    let mut processor: Option<String> = None;
    let mut node: Option<(String, NodeKind)> = None;
    for (index, item) in properties.iter().enumerate() {
        let pointer = format!("/customProperties/{index}/value");
        let value = item.get("value").unwrap_or(&Value::Null);
        match item.get("property").and_then(Value::as_str) {
            Some("inputPorts") => {
                if inputs.is_some() {
                    problems.push(problem(pointer, "inputPorts is declared twice"));
                    continue;
                }
                let Some(items) = value.as_array() else {
                    problems.push(problem(
                        pointer,
                        "inputPorts lists the upstream topics: [topic, …]",
                    ));
                    continue;
                };
                if items.len() > MAX_INPUTS {
                    problems.push(problem(
                        pointer,
                        format!("at most {MAX_INPUTS} input ports"),
                    ));
                    continue;
                }
                let mut seen = BTreeSet::new();
                let mut topics = Vec::new();
                for (position, topic) in items.iter().enumerate() {
                    let pointer = format!("{pointer}/{position}");
                    match topic.as_str().map(str::trim) {
                        Some(topic) if is_topic(topic) => {
                            if own_topics.iter().any(|own| own == topic) {
                                problems.push(problem(
                                    pointer,
                                    format!(
                                        "`{topic}` is an output port of this product; a product cannot be its own input"
                                    ),
                                ));
                            } else if seen.insert(topic.to_string()) {
                                topics.push(topic.to_string());
                            }
                        }
                        _ => problems.push(problem(
                            pointer,
                            "an input port is a Kafka topic name: letters, digits, '.', '_' or '-'",
                        )),
                    }
                }
                inputs = Some(topics);
            }
            Some("processor") => {
                if processor.is_some() {
                    problems.push(problem(pointer, "processor is declared twice"));
                    continue;
                }
                match value.as_str().map(str::trim) {
                    Some(name) if is_processor_name(name) => processor = Some(name.to_string()),
                    _ => problems.push(problem(
                        pointer,
                        "a processor name is 1 to 200 letters, digits, '.', '_' or '-'",
                    )),
                }
            }
            Some(KIND_PROPERTY) => {
                if node.is_some() {
                    problems.push(problem(pointer, "nodeKind is declared twice"));
                    continue;
                }
                match value.as_str().map(str::trim).and_then(NodeKind::parse) {
                    Some(kind) => node = Some((pointer, kind)),
                    None => problems.push(problem(
                        pointer,
                        format!(
                            "nodeKind is one of: {}",
                            NodeKind::ALL.map(|kind| kind.as_str()).join(", ")
                        ),
                    )),
                }
            }
            _ => {}
        }
    }
    if let Some((pointer, _)) = &node {
        if inputs.as_ref().is_none_or(|inputs| inputs.len() != 1) {
            problems.push(problem(
                pointer.clone(),
                "a node reads exactly one input port: declare inputPorts with one topic",
            ));
        }
        if own_topics.len() != 1 {
            problems.push(problem(
                pointer.clone(),
                "a node writes exactly one output port: the product must have one",
            ));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(match (inputs, processor) {
        (None, None) => None,
        (inputs, processor) => Some(Declaration {
            processor: processor.unwrap_or_else(|| slug.to_string()),
            inputs: inputs.unwrap_or_default(),
            node: node.map(|(_, kind)| kind),
        }),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn own() -> Vec<String> {
        vec!["ci.enriched.v1".to_string()]
    }

    #[test]
    fn inputs_and_processor_are_read_from_custom_properties() {
        let document = json!({"customProperties": [
            {"property": "maxSubscriptionDays", "value": 90},
            {"property": "inputPorts", "value": ["cm.signed-up.v1", "cm.signed-up.v1", "sales.order.v1"]},
            {"property": "processor", "value": "customer-enrichment"},
        ]});
        assert_eq!(
            declaration(&document, "enriched", &own()),
            Ok(Some(Declaration {
                processor: "customer-enrichment".to_string(),
                inputs: vec!["cm.signed-up.v1".to_string(), "sales.order.v1".to_string()],
                node: None,
            }))
        );
    }

    #[test]
    fn the_processor_defaults_to_the_slug_and_nothing_declared_is_none() {
        let document = json!({"customProperties": [{"property": "inputPorts", "value": ["a.b"]}]});
        let declared = declaration(&document, "enriched", &own())
            .expect("valid")
            .expect("declared");
        assert_eq!(declared.processor, "enriched");
        assert_eq!(declaration(&json!({}), "x", &own()), Ok(None));
        assert_eq!(
            declaration(
                &json!({"customProperties": [{"property": "other", "value": 1}]}),
                "x",
                &own()
            ),
            Ok(None)
        );
    }

    #[test]
    fn bad_declarations_name_their_pointer() {
        let document = json!({"customProperties": [
            {"property": "inputPorts", "value": ["fine.topic", "not a topic", 5, "ci.enriched.v1"]},
            {"property": "processor", "value": "has spaces"},
        ]});
        let problems = declaration(&document, "x", &own()).expect_err("invalid");
        let pointers: Vec<&str> = problems.iter().map(|p| p.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            vec![
                "/customProperties/0/value/1",
                "/customProperties/0/value/2",
                "/customProperties/0/value/3",
                "/customProperties/1/value",
            ]
        );
        let scalar = json!({"customProperties": [{"property": "inputPorts", "value": "a.b"}]});
        assert_eq!(
            declaration(&scalar, "x", &own()).expect_err("not a list")[0].pointer,
            "/customProperties/0/value"
        );
    }
}
