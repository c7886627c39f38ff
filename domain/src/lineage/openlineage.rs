//! Observed lineage from OpenLineage run events (`POST /api/v1/lineage/openlineage`). An
//! event is validated against the official OpenLineage JSON Schema (draft 2020-12,
//! vendored next to this file with its licence, compiled once), with its `RunEvent`
//! definition as the root: the document's own root is a `oneOf` over run, dataset and job
//! events, which would report any mistake as one unhelpful error at `""`.
//!
//! The job becomes `processor:<namespace>/<name>`; each Kafka dataset (namespace
//! `kafka://host:port`, any host; name = topic) becomes `port:<topic>`, with an edge
//! port → processor for inputs and processor → port for outputs. Other datasets are
//! ignored and reported back. Every node and edge keeps the earliest and latest event time
//! it was seen at, so events arriving out of order do not move them backwards.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{LineageError, MAX_DATASETS, MAX_EVENT_BYTES, is_topic, port_id, problem};
use crate::audit::{self, Event};
use crate::contracts::Problem;
use crate::db::Timestamp;
use crate::identity::Caller;
use crate::policy::{Denied, GLOBAL, Permission, Policy};

const OPENLINEAGE_SCHEMA: &str = include_str!("OpenLineage.json");

/// Most problems reported for one event.
const MAX_PROBLEMS: usize = 50;
/// Longest job namespace or name accepted.
const MAX_NAME: usize = 500;

fn validator() -> Option<&'static jsonschema::Validator> {
    static VALIDATOR: OnceLock<Option<jsonschema::Validator>> = OnceLock::new();
    VALIDATOR
        .get_or_init(|| {
            let mut schema: Value = serde_json::from_str(OPENLINEAGE_SCHEMA).ok()?;
            let root = schema.as_object_mut()?;
            root.remove("oneOf");
            root.insert("$ref".to_string(), json!("#/$defs/RunEvent"));
            jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .should_validate_formats(true)
                .build(&schema)
                .map_err(|error| tracing::error!(%error, "the OpenLineage schema does not compile"))
                .ok()
        })
        .as_ref()
}

/// Checks a run event against the OpenLineage schema; every violation, by JSON pointer (a
/// missing member is named by its own pointer, `/job` rather than `""`).
pub fn validate_event(event: &Value) -> Result<(), LineageError> {
    let Some(validator) = validator() else {
        return Err(LineageError::Invalid(vec![problem(
            "",
            "the OpenLineage schema could not be loaded",
        )]));
    };
    let mut seen = BTreeSet::new();
    let problems: Vec<Problem> = validator
        .iter_errors(event)
        .map(|error| {
            let mut pointer = error.instance_path().to_string();
            if let jsonschema::error::ValidationErrorKind::Required { property } = error.kind()
                && let Some(name) = property.as_str()
            {
                pointer = format!("{pointer}/{}", name.replace('~', "~0").replace('/', "~1"));
            }
            problem(pointer, error.to_string())
        })
        // `allOf` branches can report the same thing twice.
        .filter(|p| seen.insert((p.pointer.clone(), p.message.clone())))
        .take(MAX_PROBLEMS)
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(LineageError::Invalid(problems))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RunEvent {
    event_time: String,
    #[serde(default)]
    event_type: Option<String>,
    job: Job,
    #[serde(default)]
    inputs: Vec<Dataset>,
    #[serde(default)]
    outputs: Vec<Dataset>,
}

#[derive(Deserialize)]
struct Job {
    namespace: String,
    name: String,
}

#[derive(Deserialize)]
struct Dataset {
    namespace: String,
    name: String,
}

/// A dataset the event named that is not a Kafka topic.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IgnoredDataset {
    pub namespace: String,
    pub name: String,
}

/// What an accepted event recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ingested {
    /// The processor node's id.
    pub processor: String,
    /// Edges the event names (new or seen again).
    pub edges: usize,
    /// Whether the processor or any edge is new.
    pub created: bool,
    /// Datasets that are not Kafka topics, as named in the event.
    pub ignored: Vec<IgnoredDataset>,
}

fn is_kafka(namespace: &str) -> bool {
    namespace
        .strip_prefix("kafka://")
        .is_some_and(|authority| !authority.trim().is_empty())
}

/// The lineage one run event reports; inputs and outputs are (topic, dataset namespace).
#[derive(Debug)]
pub struct Observed {
    namespace: String,
    name: String,
    at: DateTime<Utc>,
    event_type: Option<String>,
    inputs: Vec<(String, String)>,
    outputs: Vec<(String, String)>,
    ignored: Vec<IgnoredDataset>,
}

/// Reads an OpenLineage run event from a request body: its size, its JSON, then what it
/// says about lineage (every problem named by pointer). No database: the untrusted part of
/// [`ingest`], fuzzed on its own (`fuzz/fuzz_targets/openlineage.rs`).
pub fn read_event(body: &[u8]) -> Result<Observed, LineageError> {
    if body.len() > MAX_EVENT_BYTES {
        return Err(LineageError::TooLarge {
            size: body.len(),
            limit: MAX_EVENT_BYTES,
        });
    }
    let event: Value = serde_json::from_slice(body).map_err(|error| {
        LineageError::Invalid(vec![Problem {
            pointer: String::new(),
            line: Some(error.line()),
            column: Some(error.column()),
            message: format!("not JSON: {error}"),
        }])
    })?;
    observe(&event)
}

fn observe(event: &Value) -> Result<Observed, LineageError> {
    validate_event(event)?;
    let parsed: RunEvent = serde_json::from_value(event.clone())
        .map_err(|error| LineageError::Invalid(vec![problem("", error.to_string())]))?;
    let mut problems = Vec::new();
    let at = DateTime::parse_from_rfc3339(&parsed.event_time)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|error| {
            problems.push(problem(
                "/eventTime",
                format!("not an RFC 3339 date-time ({error})"),
            ))
        })
        .ok();
    for (field, value) in [
        ("namespace", &parsed.job.namespace),
        ("name", &parsed.job.name),
    ] {
        if value.trim().is_empty() || value.len() > MAX_NAME {
            problems.push(problem(
                format!("/job/{field}"),
                format!("the job's {field} is 1 to {MAX_NAME} characters"),
            ));
        }
    }
    let datasets = parsed.inputs.len() + parsed.outputs.len();
    if datasets > MAX_DATASETS {
        problems.push(problem(
            if parsed.inputs.len() > parsed.outputs.len() {
                "/inputs"
            } else {
                "/outputs"
            },
            format!("{datasets} datasets; an event may list at most {MAX_DATASETS}"),
        ));
    }
    let mut ignored = BTreeSet::new();
    let mut sides: [Vec<(String, String)>; 2] = [Vec::new(), Vec::new()];
    for (side, (key, list)) in [("inputs", &parsed.inputs), ("outputs", &parsed.outputs)]
        .into_iter()
        .enumerate()
    {
        let mut topics = BTreeSet::new();
        for (index, dataset) in list.iter().enumerate() {
            if !is_kafka(&dataset.namespace) {
                ignored.insert(IgnoredDataset {
                    namespace: dataset.namespace.clone(),
                    name: dataset.name.clone(),
                });
            } else if !is_topic(&dataset.name) {
                problems.push(problem(
                    format!("/{key}/{index}/name"),
                    "a Kafka dataset's name is its topic: 1 to 249 letters, digits, '.', '_' or '-'",
                ));
            } else if topics.insert(dataset.name.clone()) {
                sides[side].push((dataset.name.clone(), dataset.namespace.clone()));
            }
        }
    }
    match at {
        Some(at) if problems.is_empty() => {
            let [inputs, outputs] = sides;
            Ok(Observed {
                namespace: parsed.job.namespace.trim().to_string(),
                name: parsed.job.name.trim().to_string(),
                at,
                event_type: parsed.event_type,
                inputs,
                outputs,
                ignored: ignored.into_iter().collect(),
            })
        }
        _ => Err(LineageError::Invalid(problems)),
    }
}

/// A caller the policy allowed to report lineage ([`Permission::ReportLineage`]): what
/// [`ingest`] takes, so the one check happens before an adapter reads the body.
pub struct Reporter {
    actor: crate::audit::Actor,
}

impl Reporter {
    /// A process of Meshmart itself (a stream node reporting its runs), which the policy
    /// does not gate: it writes only the observed lineage of its own processor.
    pub fn system(name: String) -> Self {
        Self {
            actor: crate::audit::Actor::System(name),
        }
    }
}

/// Checks that `caller` may report lineage.
pub async fn authorize_report(policy: &Policy, caller: &Caller) -> Result<Reporter, Denied> {
    policy
        .authorize(caller, GLOBAL, Permission::ReportLineage)
        .await?;
    Ok(Reporter {
        actor: caller.audit_actor(),
    })
}

/// Records the lineage of one OpenLineage run event (JSON bytes) sent by `reporter`, with
/// its audit entry, in one transaction; nothing is stored when the event is refused.
#[tracing::instrument(skip_all, fields(bytes = body.len()))]
pub async fn ingest(
    pool: &PgPool,
    reporter: &Reporter,
    body: &[u8],
) -> Result<Ingested, LineageError> {
    let observed = read_event(body)?;
    let processor = super::processor_id(&observed.namespace, &observed.name);

    let mut tx = pool.begin().await?;
    let processor_new: bool = sqlx::query_scalar!(
        r#"insert into lineage_nodes (id, kind, name, namespace, first_seen, last_seen)
           values ($1, 'processor', $2, $3, $4, $4)
           on conflict (id) do update
           set first_seen = least(lineage_nodes.first_seen, excluded.first_seen),
               last_seen = greatest(lineage_nodes.last_seen, excluded.last_seen),
               updated_at = now()
           returning (xmax = 0) as "inserted!""#,
        processor,
        observed.name,
        observed.namespace,
        observed.at as Timestamp,
    )
    .fetch_one(&mut *tx)
    .await?;
    let (topics, namespaces): (Vec<String>, Vec<String>) = observed
        .inputs
        .iter()
        .chain(&observed.outputs)
        .cloned()
        .unzip();
    sqlx::query!(
        r#"insert into lineage_nodes (id, kind, name, namespace, first_seen, last_seen)
           select distinct on (topic) 'port:' || topic, 'port', topic, namespace, $3, $3
           from unnest($1::text[], $2::text[]) as d(topic, namespace)
           on conflict (id) do update
           set namespace = excluded.namespace,
               first_seen = least(lineage_nodes.first_seen, excluded.first_seen),
               last_seen = greatest(lineage_nodes.last_seen, excluded.last_seen),
               updated_at = now()"#,
        &topics,
        &namespaces,
        observed.at as Timestamp,
    )
    .execute(&mut *tx)
    .await?;
    let mut sources = Vec::new();
    let mut targets = Vec::new();
    for (topic, _) in &observed.inputs {
        sources.push(port_id(topic));
        targets.push(processor.clone());
    }
    for (topic, _) in &observed.outputs {
        sources.push(processor.clone());
        targets.push(port_id(topic));
    }
    let inserted: Vec<bool> = sqlx::query_scalar!(
        r#"insert into lineage_edges (source, target, origin, first_seen, last_seen)
           select source, target, 'openlineage', $3, $3
           from unnest($1::text[], $2::text[]) as w(source, target)
           on conflict on constraint lineage_edges_key do update
           set first_seen = least(lineage_edges.first_seen, excluded.first_seen),
               last_seen = greatest(lineage_edges.last_seen, excluded.last_seen),
               updated_at = now()
           returning (xmax = 0) as "inserted!""#,
        &sources,
        &targets,
        observed.at as Timestamp,
    )
    .fetch_all(&mut *tx)
    .await?;
    let created = processor_new || inserted.iter().any(|new| *new);
    audit::record(
        &mut tx,
        Event::new(&reporter.actor, "lineage.openlineage", &processor).after(json!({
            "eventType": observed.event_type,
            "eventTime": observed.at,
            "inputs": observed.inputs.iter().map(|(t, _)| t).collect::<Vec<_>>(),
            "outputs": observed.outputs.iter().map(|(t, _)| t).collect::<Vec<_>>(),
            "ignored": observed.ignored.len(),
            "created": created,
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(Ingested {
        processor,
        edges: sources.len(),
        created,
        ignored: observed.ignored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Value {
        json!({
            "eventType": "COMPLETE",
            "eventTime": "2026-11-26T10:00:00.000Z",
            "producer": "https://github.com/OpenLineage/OpenLineage/tree/1.0.0/client/python",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": "3f5e83fa-3480-44ff-99c5-ff943904e5e8"},
            "job": {"namespace": "flink", "name": "customer-enrichment"},
            "inputs": [
                {"namespace": "kafka://broker-1:9092", "name": "cm.signed-up.v1"},
                {"namespace": "postgres://db:5432", "name": "crm.public.customers"}
            ],
            "outputs": [{"namespace": "kafka://broker-1:9092", "name": "ci.enriched.v1"}]
        })
    }

    #[test]
    fn a_run_event_maps_kafka_datasets_and_ignores_the_rest() {
        let observed = observe(&event()).expect("valid");
        assert_eq!(observed.namespace, "flink");
        assert_eq!(observed.name, "customer-enrichment");
        assert_eq!(
            observed.inputs,
            vec![(
                "cm.signed-up.v1".to_string(),
                "kafka://broker-1:9092".to_string()
            )]
        );
        assert_eq!(observed.outputs.len(), 1);
        assert_eq!(
            observed.ignored,
            vec![IgnoredDataset {
                namespace: "postgres://db:5432".to_string(),
                name: "crm.public.customers".to_string()
            }]
        );
    }

    fn pointers(error: LineageError) -> Vec<String> {
        match error {
            LineageError::Invalid(problems) => problems.into_iter().map(|p| p.pointer).collect(),
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn schema_violations_name_their_pointer() {
        let mut missing_job = event();
        missing_job.as_object_mut().expect("object").remove("job");
        assert!(pointers(observe(&missing_job).expect_err("no job")).contains(&"/job".to_string()));

        let mut bad = event();
        bad["inputs"][0]["namespace"] = json!(5);
        bad["eventType"] = json!("EXPLODED");
        bad["run"]["runId"] = json!("not-a-uuid");
        let found = pointers(observe(&bad).expect_err("invalid"));
        for expected in ["/inputs/0/namespace", "/eventType", "/run/runId"] {
            assert!(found.contains(&expected.to_string()), "{found:?}");
        }

        let mut bad_time = event();
        bad_time["eventTime"] = json!("yesterday");
        assert_eq!(
            pointers(observe(&bad_time).expect_err("bad time")),
            vec!["/eventTime"]
        );
    }

    #[test]
    fn bad_topics_and_too_many_datasets_are_refused() {
        let mut bad_topic = event();
        bad_topic["outputs"][0]["name"] = json!("has spaces");
        assert_eq!(
            pointers(observe(&bad_topic).expect_err("bad topic")),
            vec!["/outputs/0/name"]
        );
        let mut many = event();
        many["inputs"] = Value::Array(
            (0..=MAX_DATASETS)
                .map(|i| json!({"namespace": "kafka://b:9092", "name": format!("t{i}")}))
                .collect(),
        );
        assert_eq!(
            pointers(observe(&many).expect_err("too many")),
            vec!["/inputs"]
        );
    }

    #[test]
    fn dataset_and_job_events_are_not_run_events() {
        let job_event = json!({
            "eventTime": "2026-11-26T10:00:00Z",
            "producer": "https://example.com/p",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json",
            "job": {"namespace": "n", "name": "j"}
        });
        assert_eq!(
            pointers(observe(&job_event).expect_err("no run")),
            vec!["/run"]
        );
    }
}
