//! Lineage: where a data product's events come from and who reads them. The graph has
//! three kinds of nodes — output **ports** (Kafka topics, `port:<topic>`), **processors**
//! (jobs, enrichment nodes, stream applications, `processor:<namespace>/<name>`) and
//! **consumers** (Kafka principals, `consumer:<principal>`) — and edges in the direction the
//! data flows, each with its origin and first/last seen times. Three sources feed it:
//!
//! - **contracts** (`contract` edges, stored when a contract is registered, in its
//!   transaction). The convention, in the contract's ODCS `customProperties`:
//!
//!   ```yaml
//!   customProperties:
//!     - property: inputPorts          # the upstream topics this product is computed from
//!       value: [customer-management.customer-signed-up.v1]
//!     - property: processor           # optional: the job that computes it
//!       value: customer-enrichment    # (default: the product's slug)
//!   ```
//!
//!   gives `port:<input> → processor:contract/<processor> → port:<each output port>`.
//!   Each registration replaces that product's declarations; inputs need not be ports of
//!   a product (yet). Topics are Kafka topic names; the processor name is 1–200 letters,
//!   digits, `.`, `_` or `-`.
//! - **subscriptions** (`subscription` edges `port:<topic> → consumer:<principal>`), never
//!   stored: derived from the subscriptions that grant access (approved, provisioning,
//!   active) by the view `lineage_subscription_edges`, so they are exactly the live ones.
//! - **OpenLineage** run events (`openlineage` edges), see [`ingest`]: the job becomes
//!   `processor:<job.namespace>/<job.name>`, Kafka datasets (`kafka://host:port`, name =
//!   topic) become ports; other datasets are ignored and reported back.
//!
//! Traversals load the whole (small) edge set and walk it in memory, bounded by depth and a
//! node cap and safe against cycles ([`graph`], [`impact`]).

mod contract;
mod graph;
mod openlineage;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::contracts::Problem;
use crate::subscriptions::State;

pub use contract::{CONTRACT_NAMESPACE, declare};
pub use graph::{EdgeSet, graph, graph_with_limit, impact, up_and_down};
pub use openlineage::{
    IgnoredDataset, Ingested, Observed, Reporter, authorize_report, ingest, read_event,
    validate_event,
};

/// Hops a lineage request walks when it names none.
pub const DEFAULT_DEPTH: u32 = 3;
/// The most hops a lineage request may ask for.
pub const MAX_DEPTH: u32 = 10;
/// The most nodes one lineage graph holds; beyond it the graph is `truncated`.
pub const MAX_NODES: usize = 5_000;
/// The largest OpenLineage event accepted, in bytes.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;
/// The most datasets (inputs and outputs together) one OpenLineage event may list.
pub const MAX_DATASETS: usize = 1_000;

/// What a node stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// A Kafka topic (an output port, when a product has it).
    Port,
    /// A job that reads and writes topics.
    Processor,
    /// A Kafka principal that reads topics through a subscription.
    Consumer,
}

impl NodeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Port => "port",
            NodeKind::Processor => "processor",
            NodeKind::Consumer => "consumer",
        }
    }

    /// The kind a node id's prefix names.
    pub fn of_id(id: &str) -> Option<NodeKind> {
        let (prefix, _) = id.split_once(':')?;
        match prefix {
            "port" => Some(NodeKind::Port),
            "processor" => Some(NodeKind::Processor),
            "consumer" => Some(NodeKind::Consumer),
            _ => None,
        }
    }
}

/// The node id of a topic.
pub fn port_id(topic: &str) -> String {
    format!("port:{topic}")
}

/// The node id of a job.
pub fn processor_id(namespace: &str, name: &str) -> String {
    format!("processor:{namespace}/{name}")
}

/// The node id of a Kafka principal.
pub fn consumer_id(principal: &str) -> String {
    format!("consumer:{principal}")
}

/// Which way a traversal walks from the product.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Upstream: what the product is computed from.
    Up,
    /// Downstream: what is computed from the product and who reads it.
    Down,
    /// Both, each walked in its own direction (not the undirected neighbourhood).
    #[default]
    Both,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
            Direction::Both => "both",
        }
    }

    pub fn parse(text: &str) -> Option<Direction> {
        match text {
            "up" => Some(Direction::Up),
            "down" => Some(Direction::Down),
            "both" => Some(Direction::Both),
            _ => None,
        }
    }
}

/// A lineage graph around a product.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    /// Sorted by depth, then id.
    pub nodes: Vec<Node>,
    /// Every edge between two nodes of the graph, sorted by source, target, origin.
    pub edges: Vec<Edge>,
    /// Whether nodes were left out: beyond the depth, or beyond [`MAX_NODES`].
    pub truncated: bool,
}

/// One node of a lineage graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub id: String,
    pub kind: NodeKind,
    /// The topic, the job's name or the principal.
    pub name: String,
    /// The slug of the product whose output port this is.
    pub product: Option<String>,
    pub product_name: Option<String>,
    /// The product's domain (ports), the declaring product's domain (contract processors)
    /// or the team of a service-account principal (consumers).
    pub domain: Option<String>,
    /// One of the nodes the traversal started from (the product's ports and processor).
    pub root: bool,
    /// Hops from the nearest root.
    pub depth: u32,
}

/// One edge of a lineage graph, in the direction the data flows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Edge {
    pub source: String,
    pub target: String,
    /// `contract`, `openlineage` or `subscription`.
    pub origin: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// Everything downstream of a product: who breaks if it changes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Impact {
    /// The product's slug.
    pub product: String,
    /// Products computed (transitively) from it, nearest first.
    pub products: Vec<ImpactedProduct>,
    /// Processors reading it or anything computed from it.
    pub processors: Vec<ImpactedProcessor>,
    /// Principals reading it or anything computed from it.
    pub consumers: Vec<ImpactedConsumer>,
    /// Topics downstream that belong to no product.
    pub topics: Vec<String>,
    /// Subscriptions granting access (approved, provisioning, active) to its ports or any
    /// downstream port.
    pub subscriptions: Vec<ImpactedSubscription>,
}

/// A downstream product and its owners.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImpactedProduct {
    pub slug: String,
    pub name: String,
    pub domain: String,
    /// Usernames of the product's team (`team` of its contract).
    pub owners: Vec<String>,
    /// Hops from the product's ports.
    pub depth: u32,
}

/// A downstream processor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImpactedProcessor {
    pub id: String,
    pub name: String,
    pub namespace: String,
    pub depth: u32,
}

/// A downstream consumer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImpactedConsumer {
    pub principal: String,
    /// The domain of a service account.
    pub team: Option<String>,
    pub depth: u32,
}

/// A subscription that reads the product or something downstream of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImpactedSubscription {
    pub id: Uuid,
    /// The slug of the subscribed product.
    pub product: String,
    pub topics: Vec<String>,
    pub principal: String,
    pub team: Option<String>,
    /// Email of who asked for it.
    pub requested_by: String,
    pub state: State,
}

/// Why a lineage request or event was refused.
#[derive(Debug, thiserror::Error)]
pub enum LineageError {
    /// No data product has the slug.
    #[error("no such data product")]
    NotFound,
    /// A query parameter is out of range.
    #[error("{parameter}: {message}")]
    BadParameter {
        parameter: &'static str,
        message: String,
    },
    /// The event (or contract declaration) is not valid; each problem names its pointer.
    #[error("{}", invalid_summary(.0))]
    Invalid(Vec<Problem>),
    #[error("the event is {size} bytes; the limit is {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error(transparent)]
    Denied(#[from] crate::policy::Denied),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// One line saying what is wrong with an event.
pub fn invalid_summary(problems: &[Problem]) -> String {
    match problems {
        [one] => format!("the event is not valid OpenLineage: {one}"),
        _ => format!(
            "the event is not valid OpenLineage ({} problems)",
            problems.len()
        ),
    }
}

pub(crate) fn problem(pointer: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        pointer: pointer.into(),
        line: None,
        column: None,
        message: message.into(),
    }
}

pub(crate) use crate::contracts::declaration::is_topic;

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sqlx::PgPool;

    use super::*;
    use crate::identity::users::{self, NewUser};
    use crate::identity::{Caller, Via};

    #[test]
    fn ids_name_their_kind_and_directions_parse() {
        assert_eq!(NodeKind::of_id(&port_id("a.b")), Some(NodeKind::Port));
        assert_eq!(
            NodeKind::of_id(&processor_id("contract", "x")),
            Some(NodeKind::Processor)
        );
        assert_eq!(
            NodeKind::of_id(&consumer_id("User:a")),
            Some(NodeKind::Consumer)
        );
        assert_eq!(NodeKind::of_id("thing"), None);
        for direction in [Direction::Up, Direction::Down, Direction::Both] {
            assert_eq!(Direction::parse(direction.as_str()), Some(direction));
        }
        assert_eq!(Direction::parse("sideways"), None);
        assert!(is_topic("sales.order-placed.v1"));
        assert!(!is_topic("a b") && !is_topic("") && !is_topic(&"a".repeat(250)));
    }

    const UPSTREAM: &str = "apiVersion: v3.1.0\nkind: DataContract\nid: up\nversion: 1.0.0\n\
status: active\nname: Up\ndataProduct: up\ndomain: sales\nschema:\n  - name: Up\n    physicalName: lt.up.v1\n";

    fn downstream(version: &str, inputs: &str) -> String {
        format!(
            "apiVersion: v3.1.0\nkind: DataContract\nid: down\nversion: {version}\nstatus: active\n\
             name: Down\ndataProduct: down\ndomain: sales\nschema:\n  - name: Down\n    \
             physicalName: lt.down.v1\ncustomProperties:\n  - property: inputPorts\n    \
             value: {inputs}\n  - property: processor\n    value: joiner\n"
        )
    }

    async fn register(pool: &PgPool, yaml: &str) {
        let contract = crate::contracts::import(yaml).expect("valid contract");
        let mut tx = pool.begin().await.expect("tx");
        crate::catalog::register(
            &mut tx,
            &crate::audit::Actor::Cli,
            &contract,
            &crate::catalog::RegisterOptions {
                may_create_domain: true,
                ..Default::default()
            },
        )
        .await
        .expect("registered");
        tx.commit().await.expect("commit");
    }

    fn run_event(job: &str, inputs: &[&str], outputs: &[&str], at: &str) -> Vec<u8> {
        let datasets = |topics: &[&str]| {
            topics
                .iter()
                .map(|t| json!({"namespace": "kafka://broker:9092", "name": t}))
                .collect::<Vec<_>>()
        };
        json!({
            "eventType": "COMPLETE", "eventTime": at,
            "producer": "https://example.com/lineage-test",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": "3f5e83fa-3480-44ff-99c5-ff943904e5e8"},
            "job": {"namespace": "streams", "name": job},
            "inputs": datasets(inputs), "outputs": datasets(outputs),
        })
        .to_string()
        .into_bytes()
    }

    fn ids(graph: &Graph) -> Vec<&str> {
        graph.nodes.iter().map(|n| n.id.as_str()).collect()
    }

    #[sqlx::test(migrator = "crate::db::MIGRATOR")]
    async fn declared_and_observed_lineage_with_a_cycle_is_walked_once(pool: PgPool) {
        register(&pool, UPSTREAM).await;
        register(&pool, &downstream("1.0.0", "[lt.up.v1, lt.raw.v1]")).await;
        let up = graph(&pool, "down", Direction::Up, DEFAULT_DEPTH)
            .await
            .expect("graph");
        assert_eq!(
            ids(&up),
            vec![
                "port:lt.down.v1",
                "processor:contract/joiner",
                "port:lt.raw.v1",
                "port:lt.up.v1"
            ]
        );
        let upstream = up
            .nodes
            .iter()
            .find(|n| n.id == "port:lt.up.v1")
            .expect("up");
        assert_eq!(upstream.product.as_deref(), Some("up"));
        assert_eq!(upstream.domain.as_deref(), Some("sales"));
        assert!(!upstream.root && upstream.depth == 1);
        assert_eq!(up.edges.len(), 3);
        assert!(up.edges.iter().all(|e| e.origin == "contract"));

        // A new version that drops an input replaces the declaration.
        register(&pool, &downstream("1.1.0", "[lt.up.v1]")).await;
        let up = graph(&pool, "down", Direction::Up, DEFAULT_DEPTH)
            .await
            .expect("graph");
        assert!(!ids(&up).contains(&"port:lt.raw.v1"), "{:?}", ids(&up));

        // Observed: down → loop → up closes a cycle up → joiner → down → loop → up.
        let user = {
            let mut conn = pool.acquire().await.expect("conn");
            users::create(
                &mut conn,
                NewUser {
                    email: "lineage@example.com".into(),
                    display_name: "Lineage".into(),
                    password: "meshmart".into(),
                    kafka_principal: None,
                },
            )
            .await
            .expect("user")
        };
        let caller = Caller::User {
            user,
            via: Via::Session,
        };
        let policy = crate::policy::Policy::load(&pool).await.expect("policy");
        let body = run_event(
            "loop",
            &["lt.down.v1"],
            &["lt.up.v1"],
            "2026-11-26T10:00:00Z",
        );
        let reporter = authorize_report(&policy, &caller)
            .await
            .expect("a signed-in user may report lineage");
        let ingested = ingest(&pool, &reporter, &body).await.expect("ingested");
        assert_eq!(ingested.processor, "processor:streams/loop");
        assert!(ingested.created && ingested.edges == 2);
        let again = ingest(&pool, &reporter, &body).await.expect("again");
        assert!(!again.created, "seen again");

        let both = graph(&pool, "down", Direction::Both, MAX_DEPTH)
            .await
            .expect("a cycle ends the walk");
        assert_eq!(both.nodes.len(), 4, "{:?}", ids(&both));
        assert!(!both.truncated);
        let looped = both
            .nodes
            .iter()
            .find(|n| n.id == "processor:streams/loop")
            .expect("observed job");
        assert_eq!((looped.kind, looped.depth), (NodeKind::Processor, 1));
        assert_eq!(looped.name, "loop");

        let downstream_of_up = impact(&pool, "up").await.expect("impact");
        assert_eq!(
            downstream_of_up
                .products
                .iter()
                .map(|p| p.slug.as_str())
                .collect::<Vec<_>>(),
            vec!["down"],
            "the cycle back to `up` does not list it as its own dependant"
        );
        assert_eq!(downstream_of_up.processors.len(), 2);

        let capped = graph_with_limit(&pool, "down", Direction::Both, MAX_DEPTH, 2)
            .await
            .expect("capped");
        assert!(capped.truncated && capped.nodes.len() == 2);
        assert!(matches!(
            graph(&pool, "down", Direction::Both, MAX_DEPTH + 1).await,
            Err(LineageError::BadParameter {
                parameter: "depth",
                ..
            })
        ));
        assert!(matches!(
            graph(&pool, "nope", Direction::Both, 1).await,
            Err(LineageError::NotFound)
        ));
    }
}
