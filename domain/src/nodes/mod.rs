//! Stream nodes: processors Meshmart runs. A contract that declares a `processor` with
//! `inputPorts` (lineage, [`crate::contracts::declaration`]) and a `nodeKind` custom property
//! declares a node: `meshmart node run <name>` reads the one input topic and writes the
//! product's output topic, exactly once, as the node's own principal `User:svc-node-<name>`.
//!
//! Registering the contract writes the node's row and its policy in the same transaction
//! (Casbin rows: READ on the input topic and the node's consumer-group prefix, WRITE on the
//! output and dead-letter topics, WRITE on its transactional-id prefix, READ and WRITE on
//! its detour topic, and on its repartition topic when its kind has one); a `node.sync`
//! outbox row sets its SCRAM credential and projects the policy onto the broker's ACLs, and
//! the reconciler keeps them true ([`crate::provisioning`]). Like producer credentials, the
//! node's password is derived from Meshmart's broker password and the node's generation,
//! never stored.
//!
//! What a node does to each record is [`transform`]'s; the runtime (consumer group,
//! transactions, fencing) is the server's `node` module.

pub mod asn;
pub mod enrich;
pub mod geo;
pub mod risk;
pub mod transform;

use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::audit::{self, Actor, Event};
use crate::db::Timestamp;
use crate::outbox;

pub use transform::{Kind, Transformer};

pub use crate::contracts::declaration::KIND_PROPERTY;

/// The principal a node reads and writes as.
pub fn principal_of(name: &str) -> String {
    format!("User:svc-node-{name}")
}

pub use crate::identity::principals::is_node_username;

/// The consumer group of a node's instances (also the prefix its READ ACL covers).
pub fn group_of(name: &str) -> String {
    format!("meshmart-node-{name}")
}

/// The prefix of a node's transactional ids (one id per instance: `<prefix>-<instance>`).
pub fn transactional_prefix(name: &str) -> String {
    format!("meshmart-node-{name}")
}

/// Where a node puts the input records it cannot decode or transform.
pub fn dead_letter_topic(input: &str, name: &str) -> String {
    format!("{input}.{name}.dlq")
}

/// The node's internal topic for kinds whose state is keyed by something other than the
/// input's key ([`Kind::rekeys`]): the node's first step copies each input record there
/// under the state's key, so that every record of one key reaches the one instance that
/// owns the key's partition, as Kafka Streams repartitions before a keyed aggregation.
pub fn repartition_topic(name: &str) -> String {
    format!("{}-repartition", group_of(name))
}

/// The node's internal detour topic: when its output topic refuses writes, the node parks
/// its output there (in the same transactions as its input offsets) instead of stopping,
/// and drains it to the output in order once the output takes writes again.
pub fn detour_topic(name: &str) -> String {
    format!("{}-detour", group_of(name))
}

/// The label the password of a node's principal at `generation` is derived from.
pub fn password_label(username: &str, generation: i32) -> String {
    format!("meshmart node credential\0{username}\0{generation}")
}

/// A node as its runtime needs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub name: String,
    pub product_id: Uuid,
    /// The product the node computes.
    pub product: String,
    pub domain: String,
    pub kind: String,
    pub input_topic: String,
    pub output_topic: String,
    pub principal: String,
    pub generation: i32,
    pub paused: bool,
}

impl Node {
    /// The SASL user name of the node's principal.
    pub fn username(&self) -> &str {
        crate::producers::username(&self.principal)
    }

    pub fn dead_letter_topic(&self) -> String {
        dead_letter_topic(&self.input_topic, &self.name)
    }

    pub fn detour_topic(&self) -> String {
        detour_topic(&self.name)
    }

    /// The node's repartition topic, if its kind keeps state by another key.
    pub fn repartition_topic(&self) -> Option<String> {
        Kind::parse(&self.kind)
            .filter(|kind| kind.rekeys())
            .map(|_| repartition_topic(&self.name))
    }
}

/// Why a node could not be declared or loaded.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("no node `{0}`: no contract declares a processor of that name with a nodeKind")]
    Unknown(String),
    #[error(
        "node `{name}` is already declared by product `{product}`; a node computes one product"
    )]
    Taken { name: String, product: String },
    #[error(transparent)]
    Denied(#[from] crate::policy::Denied),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// What a registering contract declares about its node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Declared<'a> {
    pub name: &'a str,
    pub kind: Kind,
    pub input_topic: &'a str,
    pub output_topic: &'a str,
}

/// Writes the node a registering contract declares, and its policy, in the registering
/// transaction; queues the broker sync when anything changed. A contract that stops
/// declaring its node leaves it stopped where it was: its row and grants go
/// ([`on_undeclared`]).
pub async fn on_declare(
    conn: &mut PgConnection,
    actor: &Actor,
    domain: &str,
    product_id: Uuid,
    declared: &Declared<'_>,
) -> Result<(), NodeError> {
    let owner = sqlx::query!(
        r#"select n.product_id, p.slug from nodes n join products p on p.id = n.product_id
           where n.name = $1"#,
        declared.name,
    )
    .fetch_optional(&mut *conn)
    .await?
    .map(|row| (row.product_id, row.slug));
    if let Some((owner, product)) = owner
        && owner != product_id
    {
        return Err(NodeError::Taken {
            name: declared.name.to_string(),
            product,
        });
    }
    let principal = principal_of(declared.name);
    let changed = sqlx::query!(
        r#"insert into nodes (name, product_id, kind, input_topic, output_topic, principal)
           values ($1, $2, $3, $4, $5, $6)
           on conflict (name) do update
           set kind = excluded.kind, input_topic = excluded.input_topic,
               output_topic = excluded.output_topic, updated_at = now()
           where (nodes.kind, nodes.input_topic, nodes.output_topic)
                 is distinct from (excluded.kind, excluded.input_topic, excluded.output_topic)"#,
        declared.name,
        product_id,
        declared.kind.as_str(),
        declared.input_topic,
        declared.output_topic,
        principal,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected()
        > 0;
    // Other nodes of this product (a renamed processor) are gone.
    let removed = on_undeclared(&mut *conn, product_id, Some(declared.name)).await?;
    let policy_changed = set_policy(&mut *conn, &principal, Some(declared)).await?;
    if changed {
        audit::record(
            &mut *conn,
            Event::new(actor, "node.declare", &principal)
                .in_domain(domain)
                .after(serde_json::json!({
                    "node": declared.name,
                    "kind": declared.kind.as_str(),
                    "input": declared.input_topic,
                    "output": declared.output_topic,
                })),
        )
        .await?;
        outbox::enqueue(
            &mut *conn,
            &outbox::Message::create_topic(dead_letter_topic(declared.input_topic, declared.name)),
        )
        .await?;
    }
    if changed || policy_changed {
        // Also when only the policy changed: a node declared before nodes had detours.
        outbox::enqueue(
            &mut *conn,
            &outbox::Message::create_topic(detour_topic(declared.name)),
        )
        .await?;
    }
    if declared.kind.rekeys() && (changed || policy_changed) {
        // Also when only the policy changed: a node declared before its kind repartitioned.
        outbox::enqueue(
            &mut *conn,
            &outbox::Message::create_topic(repartition_topic(declared.name)),
        )
        .await?;
    }
    if changed || removed || policy_changed {
        outbox::enqueue(
            &mut *conn,
            &outbox::Message::SyncNode {
                principal: principal.clone(),
            },
        )
        .await?;
    }
    Ok(())
}

/// Removes the product's nodes other than `keep`, with their policy; whether any went.
pub async fn on_undeclared(
    conn: &mut PgConnection,
    product_id: Uuid,
    keep: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let gone: Vec<String> = sqlx::query_scalar!(
        r#"delete from nodes where product_id = $1 and ($2::text is null or name <> $2)
           returning principal"#,
        product_id,
        keep,
    )
    .fetch_all(&mut *conn)
    .await?;
    for principal in &gone {
        set_policy(&mut *conn, principal, None).await?;
        outbox::enqueue(
            &mut *conn,
            &outbox::Message::SyncNode {
                principal: principal.clone(),
            },
        )
        .await?;
    }
    Ok(!gone.is_empty())
}

/// Makes the principal's Casbin rows what the node needs (none when `declared` is `None`);
/// whether anything changed.
async fn set_policy(
    conn: &mut PgConnection,
    principal: &str,
    declared: Option<&Declared<'_>>,
) -> Result<bool, sqlx::Error> {
    let subject = crate::subscriptions::kafka_subject(principal);
    let wanted: Vec<(String, &str)> = match declared {
        Some(node) => {
            let mut wanted = vec![
                (format!("topic:{}", node.input_topic), "read"),
                (format!("group:{}", group_of(node.name)), "read"),
                (format!("topic:{}", node.output_topic), "write"),
                (
                    format!("topic:{}", dead_letter_topic(node.input_topic, node.name)),
                    "write",
                ),
                (
                    format!("transactional_id:{}", transactional_prefix(node.name)),
                    "write",
                ),
                (format!("topic:{}", detour_topic(node.name)), "read"),
                (format!("topic:{}", detour_topic(node.name)), "write"),
            ];
            if node.kind.rekeys() {
                let internal = format!("topic:{}", repartition_topic(node.name));
                wanted.push((internal.clone(), "read"));
                wanted.push((internal, "write"));
            }
            wanted
        }
        None => Vec::new(),
    };
    // A node principal is Meshmart's alone: every global row it holds is the node's.
    crate::policy::set_global_permissions(conn, &subject, &wanted, None).await
}

/// The node named `name`.
pub async fn load(pool: &PgPool, name: &str) -> Result<Node, NodeError> {
    sqlx::query_as!(
        Node,
        r#"select n.name, n.product_id, p.slug as product, p.domain, n.kind, n.input_topic,
                  n.output_topic, n.principal, n.generation, n.paused
           from nodes n join products p on p.id = n.product_id where n.name = $1"#,
        name,
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| NodeError::Unknown(name.to_string()))
}

/// The product whose output port is `topic`, by slug.
pub async fn product_of_topic(pool: &PgPool, topic: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "select p.slug from output_ports o join products p on p.id = o.product_id where o.topic = $1",
        topic,
    )
    .fetch_optional(pool)
    .await
}

/// Whether the node's policy has reached the broker: no `node.sync` of its principal is
/// waiting in the outbox.
pub async fn synced(pool: &PgPool, principal: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select not exists (select 1 from outbox
           where kind = 'node.sync' and payload->>'principal' = $1 and done_at is null)
             as "synced!""#,
        principal,
    )
    .fetch_one(pool)
    .await
}

/// Why a node sync failed (the outbox retries it): a producer sync's reasons.
pub use crate::producers::SyncError;

/// Carries out a `node.sync`: sets the principal's SCRAM credential when the node exists
/// (the password of its generation; setting it again changes nothing) and brings its ACLs
/// in line with the policy (none left for a removed node).
pub async fn sync(
    pool: &PgPool,
    broker: &crate::broker::BrokerAdmin,
    principal: &str,
) -> Result<(), SyncError> {
    let generation: Option<i32> = sqlx::query_scalar!(
        "select generation from nodes where principal = $1",
        principal,
    )
    .fetch_optional(pool)
    .await?;
    let label = generation
        .map(|generation| password_label(crate::producers::username(principal), generation));
    crate::producers::sync_principal(pool, broker, principal, label.as_deref()).await
}

/// What a node process reports about itself.
#[derive(Clone, Debug, PartialEq)]
pub struct Beat {
    pub instance: i32,
    pub host: String,
    pub pid: i32,
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// `running`, `paused` or `stopped`.
    pub state: &'static str,
    pub partitions: Vec<i32>,
    pub records: i64,
    pub dead_letters: i64,
    pub rate: f64,
    /// Records behind the input's high watermarks, over the owned partitions (`None` before
    /// the process knows).
    pub lag: Option<i64>,
    /// The latest error since the last beat, if any.
    pub error: Option<String>,
    /// Whether the process is parking its output on the detour topic (the output refuses
    /// writes) or draining it.
    pub rerouted: bool,
}

/// What a node's processes should do, as the catalog says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Orders {
    pub paused: bool,
    /// Changes when someone asks the node to restart.
    pub restart_generation: i32,
}

/// Records a node process's heartbeat; returns what the process should be doing.
pub async fn heartbeat(pool: &PgPool, name: &str, beat: &Beat) -> Result<Orders, sqlx::Error> {
    sqlx::query_as!(
        Orders,
        r#"with beat as (
             insert into node_instances (node, instance, host, pid, started_at, heartbeat_at,
                                         state, partitions, records, dead_letters, rate,
                                         last_error, last_error_at, lag, rerouted_since)
             values ($1, $2, $3, $4, $5, now(), $6, $7, $8, $9, $10, $11,
                     case when $11::text is null then null else now() end, $12,
                     case when $13 then now() end)
             on conflict (node, instance) do update
             set host = excluded.host, pid = excluded.pid, started_at = excluded.started_at,
                 heartbeat_at = now(), state = excluded.state,
                 partitions = excluded.partitions, records = excluded.records,
                 dead_letters = excluded.dead_letters, rate = excluded.rate,
                 lag = excluded.lag,
                 rerouted_since = case when $13
                                       then coalesce(node_instances.rerouted_since, now()) end,
                 last_error = coalesce(excluded.last_error, node_instances.last_error),
                 last_error_at = coalesce(excluded.last_error_at, node_instances.last_error_at)
             returning node)
           select n.paused, n.restart_generation from nodes n join beat on beat.node = n.name"#,
        name,
        beat.instance,
        beat.host,
        beat.pid,
        beat.started_at as Timestamp,
        beat.state,
        &beat.partitions,
        beat.records,
        beat.dead_letters,
        beat.rate,
        beat.error,
        beat.lag,
        beat.rerouted,
    )
    .fetch_optional(pool)
    .await
    .map(Option::unwrap_or_default)
}

/// How long without a heartbeat before an instance counts as gone.
pub const INSTANCE_TIMEOUT_SECONDS: i64 = 15;

/// One process of a node, as its page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub instance: i32,
    pub host: String,
    pub pid: i32,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub heartbeat_at: chrono::DateTime<chrono::Utc>,
    /// `running`, `paused`, `stopped`, or `gone` (no heartbeat for
    /// [`INSTANCE_TIMEOUT_SECONDS`]).
    pub state: String,
    pub partitions: Vec<i32>,
    pub records: i64,
    pub dead_letters: i64,
    pub rate: f64,
    pub lag: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Since when the process has parked its output on the node's detour topic.
    #[serde(default)]
    pub rerouted_since: Option<chrono::DateTime<chrono::Utc>>,
}

/// A node and its processes, as its page and `GET /api/v1/nodes/{name}` show them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeView {
    #[serde(flatten)]
    pub node: Node,
    pub group: String,
    pub dead_letter_topic: String,
    /// Where the node parks its output while the output topic refuses writes.
    pub detour_topic: String,
    /// The product the node reads (the input port's), when a product publishes it.
    pub input_product: Option<String>,
    pub restart_generation: i32,
    pub instances: Vec<Instance>,
}

/// The node `name` and its instances, for a caller who may read the catalog.
pub async fn view(
    pool: &PgPool,
    policy: &crate::policy::Policy,
    caller: &crate::identity::Caller,
    name: &str,
) -> Result<NodeView, NodeError> {
    policy
        .authorize(
            caller,
            crate::policy::GLOBAL,
            crate::policy::Permission::ReadCatalog,
        )
        .await?;
    let node = load(pool, name).await?;
    let instances = sqlx::query_as!(
        Instance,
        r#"select instance, host, pid, started_at as "started_at: Timestamp",
                  heartbeat_at as "heartbeat_at: Timestamp",
                  case when heartbeat_at < now() - make_interval(secs => $2) and state <> 'stopped'
                       then 'gone' else state end as "state!",
                  partitions, records, dead_letters, rate, lag, last_error,
                  last_error_at as "last_error_at: Timestamp",
                  rerouted_since as "rerouted_since: Timestamp"
           from node_instances where node = $1 order by instance"#,
        name,
        INSTANCE_TIMEOUT_SECONDS as f64,
    )
    .fetch_all(pool)
    .await?;
    let restart_generation: i32 =
        sqlx::query_scalar!("select restart_generation from nodes where name = $1", name,)
            .fetch_optional(pool)
            .await?
            .unwrap_or_default();
    Ok(NodeView {
        group: group_of(&node.name),
        dead_letter_topic: node.dead_letter_topic(),
        detour_topic: node.detour_topic(),
        input_product: product_of_topic(pool, &node.input_topic).await?,
        restart_generation,
        node,
        instances,
    })
}

/// What the lineage page shows of each of `names` that is a node: (state, records per
/// second over its live instances, latest heartbeat).
pub async fn summaries(
    pool: &PgPool,
    names: &[String],
) -> Result<Vec<(String, Summary)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select n.name, n.paused,
                      count(i.instance) filter (where i.state in ('running', 'paused')
                          and i.heartbeat_at >= now() - make_interval(secs => $2)) as "live!",
                      sum(i.rate) filter (where i.state in ('running', 'paused')
                          and i.heartbeat_at >= now() - make_interval(secs => $2)) as rate,
                      max(i.heartbeat_at) as "heartbeat_at: Timestamp"
               from nodes n left join node_instances i on i.node = n.name
               where n.name = any($1)
               group by n.name, n.paused"#,
        names,
        INSTANCE_TIMEOUT_SECONDS as f64,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let (name, paused, live, rate, heartbeat_at) =
                (row.name, row.paused, row.live, row.rate, row.heartbeat_at);
            let state = match (live, paused) {
                (0, _) => "not running",
                (_, true) => "paused",
                _ => "running",
            };
            (
                name,
                Summary {
                    state: state.to_string(),
                    instances: live,
                    rate: rate.unwrap_or(0.0),
                    heartbeat_at,
                },
            )
        })
        .collect())
}

/// A node at a glance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// `running`, `paused` or `not running`.
    pub state: String,
    pub instances: i64,
    pub rate: f64,
    pub heartbeat_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Asks every running process of a node to restart in place (they follow within a
/// heartbeat); owners of the node's product and admins may. Audited.
pub async fn request_restart(
    pool: &PgPool,
    policy: &crate::policy::Policy,
    caller: &crate::identity::Caller,
    name: &str,
) -> Result<i32, NodeError> {
    let node = operable(pool, policy, caller, name).await?;
    let mut tx = pool.begin().await?;
    let generation: i32 = sqlx::query_scalar!(
        "update nodes set restart_generation = restart_generation + 1, updated_at = now()
         where name = $1 returning restart_generation",
        name,
    )
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        Event::new(&caller.audit_actor(), "node.restart", &node.principal)
            .in_domain(&node.domain)
            .after(serde_json::json!({ "node": name, "restart_generation": generation })),
    )
    .await?;
    tx.commit().await?;
    Ok(generation)
}

/// The node `name` if `caller` may operate it (write its product's domain); "no such
/// node" only to someone who could see it at all.
async fn operable(
    pool: &PgPool,
    policy: &crate::policy::Policy,
    caller: &crate::identity::Caller,
    name: &str,
) -> Result<Node, NodeError> {
    let node = match load(pool, name).await {
        Ok(node) => node,
        Err(NodeError::Unknown(name)) => {
            policy
                .authorize(
                    caller,
                    crate::policy::GLOBAL,
                    crate::policy::Permission::ReadCatalog,
                )
                .await?;
            return Err(NodeError::Unknown(name));
        }
        Err(other) => return Err(other),
    };
    policy
        .authorize(
            caller,
            &node.domain,
            crate::policy::Permission::WriteProduct,
        )
        .await?;
    Ok(node)
}

/// Pauses or resumes a node (its processes follow within a heartbeat); owners of the
/// node's product and admins may. Audited; whether anything changed.
pub async fn set_paused(
    pool: &PgPool,
    policy: &crate::policy::Policy,
    caller: &crate::identity::Caller,
    name: &str,
    paused: bool,
) -> Result<bool, NodeError> {
    let node = operable(pool, policy, caller, name).await?;
    let mut tx = pool.begin().await?;
    let changed = sqlx::query!(
        "update nodes set paused = $2, updated_at = now() where name = $1 and paused <> $2",
        name,
        paused,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected()
        > 0;
    if changed {
        audit::record(
            &mut tx,
            Event::new(
                &caller.audit_actor(),
                if paused { "node.pause" } else { "node.resume" },
                &node.principal,
            )
            .in_domain(&node.domain)
            .before(serde_json::json!({ "paused": !paused }))
            .after(serde_json::json!({ "paused": paused, "node": name })),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(changed)
}

#[cfg(test)]
mod tests;
