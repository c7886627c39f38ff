//! Lineage declared by contracts: reading the `inputPorts`/`processor` custom properties of
//! an ODCS document (checked when the contract is imported, so a bad declaration is a 422
//! naming its pointer) and storing them when the contract is registered, replacing what
//! the product's previous version declared while keeping when each edge was first seen.

use std::collections::BTreeSet;

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{LineageError, is_topic, port_id, problem, processor_id};
use crate::contracts::{Contract, Problem};

/// The processor namespace of jobs declared by contracts.
pub const CONTRACT_NAMESPACE: &str = "contract";

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
    pub node: Option<crate::nodes::Kind>,
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
    let mut node: Option<(String, crate::nodes::Kind)> = None;
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
            Some(crate::nodes::KIND_PROPERTY) => {
                if node.is_some() {
                    problems.push(problem(pointer, "nodeKind is declared twice"));
                    continue;
                }
                match value
                    .as_str()
                    .map(str::trim)
                    .and_then(crate::nodes::Kind::parse)
                {
                    Some(kind) => node = Some((pointer, kind)),
                    None => problems.push(problem(
                        pointer,
                        format!(
                            "nodeKind is one of: {}",
                            crate::nodes::Kind::ALL.map(|kind| kind.as_str()).join(", ")
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

/// Stores what `contract` declares for its product (`product_id`, in `domain`), in the
/// registering transaction: edges still declared keep their first-seen time, edges no
/// longer declared are removed.
pub async fn declare(
    conn: &mut PgConnection,
    product_id: Uuid,
    domain: &str,
    contract: &Contract,
) -> Result<Option<Declaration>, LineageError> {
    let own: Vec<String> = contract.ports.iter().map(|p| p.topic.clone()).collect();
    let declared =
        declaration(&contract.document, &contract.slug, &own).map_err(LineageError::Invalid)?;
    let mut sources = Vec::new();
    let mut targets = Vec::new();
    if let Some(declared) = &declared {
        let processor = processor_id(CONTRACT_NAMESPACE, &declared.processor);
        let ports: Vec<String> = declared.inputs.iter().chain(&own).cloned().collect();
        sqlx::query(
            r#"insert into lineage_nodes (id, kind, name)
               select 'port:' || topic, 'port', topic from unnest($1::text[]) as t(topic)
               on conflict (id) do update set last_seen = now(), updated_at = now()"#,
        )
        .bind(&ports)
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            r#"insert into lineage_nodes (id, kind, name, namespace, domain)
               values ($1, 'processor', $2, $3, $4)
               on conflict (id) do update
               set domain = excluded.domain, last_seen = now(), updated_at = now()"#,
        )
        .bind(&processor)
        .bind(&declared.processor)
        .bind(CONTRACT_NAMESPACE)
        .bind(domain)
        .execute(&mut *conn)
        .await?;
        for input in &declared.inputs {
            sources.push(port_id(input));
            targets.push(processor.clone());
        }
        for topic in &own {
            sources.push(processor.clone());
            targets.push(port_id(topic));
        }
    }
    sqlx::query(
        r#"delete from lineage_edges e
           where e.product_id = $1 and e.origin = 'contract'
             and not exists (select 1 from unnest($2::text[], $3::text[]) as w(source, target)
                             where w.source = e.source and w.target = e.target)"#,
    )
    .bind(product_id)
    .bind(&sources)
    .bind(&targets)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        r#"insert into lineage_edges (source, target, origin, product_id)
           select source, target, 'contract', $1
           from unnest($2::text[], $3::text[]) as w(source, target)
           on conflict on constraint lineage_edges_key
           do update set last_seen = now(), updated_at = now()"#,
    )
    .bind(product_id)
    .bind(&sources)
    .bind(&targets)
    .execute(&mut *conn)
    .await?;
    Ok(declared)
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
