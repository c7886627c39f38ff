//! What a node runs: its definition, input and output products and input schemas from the
//! catalog, and the transformer its kind needs loaded.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use anyhow::Context as _;
use domain::contracts::OutputPort;
use domain::nodes::enrich::Enricher;
use domain::nodes::geo::{self, Geo};
use domain::nodes::risk::RiskModel;
use domain::nodes::{self, Kind, Node, Transformer};
use domain::registry::ParsedSchema;
use sqlx::PgPool;

use crate::cli::UsageError;

/// The sign-up risk model a customer-enrichment node loads: `MESHMART_RISK_MODEL` (a
/// model file from `meshmart model train`), or the committed one.
fn risk_model() -> anyhow::Result<RiskModel> {
    match std::env::var("MESHMART_RISK_MODEL") {
        Ok(path) if !path.is_empty() => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading the risk model {path}"))?;
            RiskModel::parse(&text).map_err(|why| UsageError(format!("{path}: {why}")).into())
        }
        _ => Ok(RiskModel::builtin()),
    }
}

/// What the node does to each record, with what that needs loaded.
pub(super) fn transformer(kind: Kind) -> anyhow::Result<Transformer> {
    Ok(match kind {
        Kind::PassThrough => Transformer::PassThrough,
        Kind::CustomerEnrichment => {
            let started = Instant::now();
            let geo = Geo::open_default().map_err(|why| {
                UsageError(format!(
                    "{why} (make setup fetches it; MESHMART_GEO_DB and MESHMART_ASN_DB point elsewhere)"
                ))
            })?;
            let model = risk_model()?;
            tracing::info!(
                model = %model.version,
                geo = %geo::default_path().display(),
                asn = %domain::nodes::asn::default_path().display(),
                seconds = started.elapsed().as_secs_f64(),
                "enrichment loaded"
            );
            Transformer::Enrich(Box::new(Enricher::new(geo, model)))
        }
    })
}

/// Everything a running node needs about its records.
pub(super) struct Plan {
    pub(super) node: Node,
    pub(super) kind: Kind,
    /// The node's repartition topic when its kind keeps state by another key: input
    /// records are copied there under the state's key first, and enriched from there.
    pub(super) repartition: Option<String>,
    pub(super) output: domain::traffic::Registered,
    pub(super) output_port: OutputPort,
    pub(super) input_subject_ids: HashSet<u32>,
    pub(super) input_schemas: HashMap<u32, ParsedSchema>,
}

/// Loads the node, its input and output products, and checks they fit the node's kind.
pub(super) async fn plan(pool: &PgPool, name: &str) -> anyhow::Result<Plan> {
    let node = match nodes::load(pool, name).await {
        Ok(node) => node,
        Err(nodes::NodeError::Unknown(_)) => {
            return Err(UsageError(format!(
                "no node `{name}`: no contract declares a processor of that name with a nodeKind"
            ))
            .into());
        }
        Err(other) => return Err(other.into()),
    };
    let kind = Kind::parse(&node.kind).ok_or_else(|| {
        UsageError(format!(
            "node `{name}` is of kind `{}`, which this Meshmart does not run",
            node.kind
        ))
    })?;
    let input_slug = nodes::product_of_topic(pool, &node.input_topic)
        .await?
        .ok_or_else(|| {
            UsageError(format!(
                "node `{name}` reads `{}`, which is no product's output port",
                node.input_topic
            ))
        })?;
    let input = domain::traffic::registered(pool, &input_slug)
        .await
        .map_err(|e| UsageError(format!("node `{name}`'s input: {e}")))?;
    let output = domain::traffic::registered(pool, &node.product)
        .await
        .map_err(|e| UsageError(format!("node `{name}`'s output: {e}")))?;
    kind.check(&input.port, &output.port)
        .map_err(|why| UsageError(format!("node `{name}` cannot run: {why}")))?;
    let (input_subject_ids, input_schemas) = input_schemas(pool, &node.input_topic).await?;
    Ok(Plan {
        output_port: output.port.clone(),
        repartition: node.repartition_topic(),
        node,
        kind,
        output,
        input_subject_ids,
        input_schemas,
    })
}

/// The ids and schemas registered under the input topic's value subject.
async fn input_schemas(
    pool: &PgPool,
    topic: &str,
) -> anyhow::Result<(HashSet<u32>, HashMap<u32, ParsedSchema>)> {
    let ids = domain::health::store::subject_ids(pool, topic).await?;
    let mut schemas = HashMap::new();
    for id in &ids {
        match domain::registry::stored_schema(pool, *id as i32).await {
            Ok(schema) => {
                schemas.insert(*id, schema);
            }
            // Registered schemas parse; one that no longer does is left out, as before.
            Err(domain::registry::RegistryError::InvalidSchema(_)) => {}
            Err(error) => return Err(error).with_context(|| format!("reading schema {id}")),
        }
    }
    Ok((ids, schemas))
}
