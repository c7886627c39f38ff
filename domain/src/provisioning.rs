//! Provisioning: the broker's ACLs as a projection of the Casbin policy. Each Casbin row
//! `p, kafka:<principal>, *, topic:<t>, read` means READ and DESCRIBE on the literal topic
//! `t`; `group:<prefix>` means READ on the prefixed consumer group. The provisioner brings
//! one principal's ACLs in line after a decision (an `acl.sync` outbox row); the reconciler
//! compares the whole managed scope with the policy every interval and repairs drift.
//!
//! Producer grants ([`crate::producers`]) are rows too: `topic:<t>, write` means WRITE and
//! DESCRIBE on the literal topic, `cluster:kafka-cluster, idempotent_write` IDEMPOTENT_WRITE
//! on the cluster. Stream nodes ([`crate::nodes`]) add `transactional_id:<prefix>, write`:
//! WRITE and DESCRIBE on the prefixed transactional id; every ACL of one of this
//! deployment's node principals (`User:svc-node-…`, a reserved name) is in the managed
//! scope, and those of a node being synced (a removed one), not another deployment's.
//!
//! The managed scope is what Meshmart grants and nothing else: READ/DESCRIBE ACLs on the
//! topics of data products' output ports, prefixed READ ACLs on the consumer-group
//! prefixes Meshmart has granted, for the principal it granted them to (approved
//! subscriptions, live or ended), and WRITE on product topics and IDEMPOTENT_WRITE on the
//! cluster for the domains' producer principals. Other ACLs (other principals' WRITE, the
//! cluster for anyone else, groups Meshmart never granted) are never touched. Syncs and reconciliations take one advisory lock, so a
//! reconciliation never acts on a broker view older than a sync that finished meanwhile.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::audit::{self, Event};
use crate::broker::acl::{AclBinding, AclFilter, Operation, PatternType, Permission, ResourceType};
use crate::broker::{BrokerAdmin, BrokerError, CLUSTER};
use crate::identity::principals::{is_node_username, username};
use crate::subscriptions::{self, State};

/// The ACLs one Casbin (object, action) grants a principal.
pub fn bindings(principal: &str, object: &str, action: &str) -> Vec<AclBinding> {
    let binding = |resource_type, name: &str, pattern_type, operation| AclBinding {
        resource_type,
        resource_name: name.to_string(),
        pattern_type,
        principal: principal.to_string(),
        host: "*".to_string(),
        operation,
        permission: Permission::Allow,
    };
    match (object.split_once(':'), action) {
        (Some(("topic", topic)), "write") => vec![
            binding(
                ResourceType::Topic,
                topic,
                PatternType::Literal,
                Operation::Write,
            ),
            binding(
                ResourceType::Topic,
                topic,
                PatternType::Literal,
                Operation::Describe,
            ),
        ],
        (Some(("cluster", cluster)), "idempotent_write") => vec![binding(
            ResourceType::Cluster,
            cluster,
            PatternType::Literal,
            Operation::IdempotentWrite,
        )],
        (Some(("topic", topic)), "read") => vec![
            binding(
                ResourceType::Topic,
                topic,
                PatternType::Literal,
                Operation::Read,
            ),
            binding(
                ResourceType::Topic,
                topic,
                PatternType::Literal,
                Operation::Describe,
            ),
        ],
        (Some(("transactional_id", prefix)), "write") => vec![
            binding(
                ResourceType::TransactionalId,
                prefix,
                PatternType::Prefixed,
                Operation::Write,
            ),
            binding(
                ResourceType::TransactionalId,
                prefix,
                PatternType::Prefixed,
                Operation::Describe,
            ),
        ],
        (Some(("group", prefix)), "read") => vec![binding(
            ResourceType::Group,
            prefix,
            PatternType::Prefixed,
            Operation::Read,
        )],
        _ => Vec::new(),
    }
}

/// Every ACL the policy asks for (of one principal, when given).
pub async fn desired(
    conn: &mut sqlx::PgConnection,
    principal: Option<&str>,
) -> Result<BTreeSet<AclBinding>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select substr(v0, 7) as "principal!", v2 as object, v3 as action from casbin_rule
           where ptype = 'p' and v0 like 'kafka:%' and v1 = '*'
             and v3 in ('read', 'write', 'idempotent_write')
             and ($1::text is null or v0 = 'kafka:' || $1)"#,
        principal,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .iter()
        .flat_map(|row| bindings(&row.principal, &row.object, &row.action))
        .collect())
}

/// What the reconciler may create and delete.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    topics: BTreeSet<String>,
    /// (principal, group prefix) pairs Meshmart has granted.
    groups: BTreeSet<(String, String)>,
    /// The domains' producer principals.
    producers: BTreeSet<String>,
    /// This deployment's stream-node principals (another Meshmart on the same broker has
    /// its own).
    nodes: BTreeSet<String>,
}

impl Scope {
    pub async fn load(conn: &mut sqlx::PgConnection) -> Result<Self, sqlx::Error> {
        let topics = sqlx::query_scalar!("select topic from output_ports")
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .collect();
        let groups = sqlx::query!(
            r#"select principal as "principal!", consumer_group as "group!" from subscriptions
               where state in ('approved', 'provisioning', 'active', 'revoked', 'expired')
                 and decided_at is not null
               union select substr(v0, 7), substr(v2, 7) from casbin_rule
               where ptype = 'p' and v0 like 'kafka:%' and v2 like 'group:%'"#,
        )
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|row| (row.principal, row.group))
        .collect();
        let producers = sqlx::query_scalar!("select principal from producer_principals")
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .collect();
        let nodes = sqlx::query_scalar!("select principal from nodes")
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .collect();
        Ok(Self {
            topics,
            groups,
            producers,
            nodes,
        })
    }

    /// The scope with a node principal Meshmart is syncing added: a removed node's ACLs
    /// are still its own to delete.
    pub fn including(mut self, principal: &str) -> Self {
        if is_node_username(username(principal)) {
            self.nodes.insert(principal.to_string());
        }
        self
    }

    /// Whether Meshmart manages this ACL.
    pub fn contains(&self, binding: &AclBinding) -> bool {
        if binding.permission != Permission::Allow || binding.host != "*" {
            return false;
        }
        // A stream node's principal is Meshmart's alone (the name is reserved): every ACL
        // one of this deployment's nodes holds on topics, groups and transactional ids is
        // the node's policy or stale. Other deployments' nodes are theirs.
        if is_node_username(username(&binding.principal)) {
            return self.nodes.contains(&binding.principal)
                && matches!(
                    binding.resource_type,
                    ResourceType::Topic | ResourceType::Group | ResourceType::TransactionalId
                );
        }
        match (
            binding.resource_type,
            binding.pattern_type,
            binding.operation,
        ) {
            (ResourceType::Topic, PatternType::Literal, Operation::Read | Operation::Describe) => {
                self.topics.contains(&binding.resource_name)
            }
            (ResourceType::Group, PatternType::Prefixed, Operation::Read) => self
                .groups
                .contains(&(binding.principal.clone(), binding.resource_name.clone())),
            (ResourceType::Topic, PatternType::Literal, Operation::Write) => {
                self.producers.contains(&binding.principal)
                    && self.topics.contains(&binding.resource_name)
            }
            (ResourceType::Cluster, PatternType::Literal, Operation::IdempotentWrite) => {
                self.producers.contains(&binding.principal) && binding.resource_name == CLUSTER
            }
            _ => false,
        }
    }
}

/// Brings one principal's managed ACLs in line with the policy, then marks the
/// subscription active if it was waiting for that, or its access removed if it ended. Idempotent: replaying it changes
/// nothing once the broker agrees. `attempt` counts this try (1 for the first).
pub async fn sync_subscription(
    pool: &PgPool,
    broker: &BrokerAdmin,
    subscription: Uuid,
    principal: &str,
    attempt: i32,
) -> Result<(), String> {
    // Read before the sync: an end committed by then is in the policy the sync applies,
    // so success means the ended subscription's ACLs are gone. One that ends during the
    // sync has its own job, which records the removal.
    let ended_before = matches!(
        subscriptions::provisioning_state(pool, subscription)
            .await
            .map_err(|e| e.to_string())?,
        Some((State::Revoked | State::Expired, _))
    );
    let result = apply(pool, broker, principal).await;
    match result {
        Ok(()) => {
            if ended_before {
                subscriptions::record_access_removed(pool, subscription, attempt)
                    .await
                    .map_err(|e| e.to_string())?;
            } else if let Some((State::Approved | State::Provisioning, _)) =
                subscriptions::provisioning_state(pool, subscription)
                    .await
                    .map_err(|e| e.to_string())?
            {
                subscriptions::record_active(pool, subscription, attempt)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        }
        Err(error) => {
            let message = error.to_string();
            if let Err(db) =
                subscriptions::record_attempt_failed(pool, subscription, attempt, &message).await
            {
                tracing::warn!(error = %db, "could not record a failed provisioning attempt");
            }
            Err(message)
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// Holds the provisioning lock (a transaction-scoped advisory lock on its own connection)
/// for as long as the returned transaction lives.
async fn provisioning_lock(
    pool: &PgPool,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query!("select pg_advisory_xact_lock(hashtext('meshmart-provisioning'))")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// Brings one principal's managed ACLs in line with the policy (a producer principal's, after
/// a grant changed). Idempotent.
pub async fn sync_principal(
    pool: &PgPool,
    broker: &BrokerAdmin,
    principal: &str,
) -> Result<(), String> {
    apply(pool, broker, principal)
        .await
        .map_err(|e| e.to_string())
}

async fn apply(pool: &PgPool, broker: &BrokerAdmin, principal: &str) -> Result<(), SyncError> {
    let mut lock = provisioning_lock(pool).await?;
    // The broker first, the policy second: a grant committed in between is then in the
    // policy whenever its ACL is on the broker, so it is never taken for drift.
    let actual: BTreeSet<AclBinding> = broker
        .describe_acls(AclFilter {
            principal: Some(principal.to_string()),
            ..AclFilter::default()
        })
        .await?
        .into_iter()
        .collect();
    let wanted = desired(&mut lock, Some(principal)).await?;
    let scope = Scope::load(&mut lock).await?.including(principal);
    let missing: Vec<AclBinding> = wanted.difference(&actual).cloned().collect();
    let extra: Vec<AclBinding> = actual
        .iter()
        .filter(|b| scope.contains(b) && !wanted.contains(*b))
        .cloned()
        .collect();
    broker.create_acls(missing.clone()).await?;
    broker
        .delete_acls(extra.iter().map(AclFilter::exact).collect())
        .await?;
    let filter = AclFilter {
        principal: Some(principal.to_string()),
        ..AclFilter::default()
    };
    settle(broker, filter, &missing, &extra).await;
    lock.commit().await?;
    Ok(())
}

/// How long a change of ACLs may take to show in the broker's answers.
const SETTLE_WITHIN: Duration = Duration::from_secs(5);

/// Waits, still holding the provisioning lock, until DescribeAcls (under `filter`) shows
/// the ACLs just created and no longer the ones just deleted. The broker answers a change
/// once its controller committed it and applies it to its own answers a moment later; the
/// next holder of the lock (this process or another) would otherwise find the same drift
/// and repair it again (a second repair in the audit log). Gives up after
/// [`SETTLE_WITHIN`] with a warning: the broker has the change either way.
async fn settle(
    broker: &BrokerAdmin,
    filter: AclFilter,
    created: &[AclBinding],
    deleted: &[AclBinding],
) {
    if created.is_empty() && deleted.is_empty() {
        return;
    }
    let deadline = Instant::now() + SETTLE_WITHIN;
    loop {
        if let Ok(now) = broker.describe_acls(filter.clone()).await {
            let now: BTreeSet<AclBinding> = now.into_iter().collect();
            if created.iter().all(|b| now.contains(b)) && !deleted.iter().any(|b| now.contains(b)) {
                return;
            }
        }
        if Instant::now() >= deadline {
            tracing::warn!(
                created = created.len(),
                deleted = deleted.len(),
                "the broker's ACL answers did not show the change within 5 s"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One difference the reconciler found (and repaired, unless in dry-run mode).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Repair {
    /// `created` (was missing) or `deleted` (no subscription explains it).
    pub action: &'static str,
    pub binding: AclBinding,
    pub applied: bool,
}

/// The policy's ACLs missing on the broker, and managed ones on it that nothing explains.
async fn differences(
    conn: &mut sqlx::PgConnection,
    broker: &BrokerAdmin,
) -> Result<(Vec<AclBinding>, Vec<AclBinding>), String> {
    // The broker first, the policy second (see `apply`).
    let actual: BTreeSet<AclBinding> = broker
        .describe_acls(AclFilter::default())
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .collect();
    let wanted = desired(conn, None).await.map_err(|e| e.to_string())?;
    let scope = Scope::load(conn).await.map_err(|e| e.to_string())?;
    let missing: Vec<AclBinding> = wanted.difference(&actual).cloned().collect();
    let extra: Vec<AclBinding> = actual
        .iter()
        .filter(|b| scope.contains(b) && !wanted.contains(*b))
        .cloned()
        .collect();
    Ok((missing, extra))
}

/// The policy's ACLs missing on the broker now (drift), without repairing or auditing
/// anything: the incident detector's view, each round.
pub async fn missing_acls(pool: &PgPool, broker: &BrokerAdmin) -> Result<Vec<AclBinding>, String> {
    let mut conn = pool.acquire().await.map_err(|e| e.to_string())?;
    Ok(differences(&mut conn, broker).await?.0)
}

/// Compares the managed ACLs on the broker with the policy and repairs the differences
/// (or, with `dry_run`, only reports them). Each repair is audited.
pub async fn reconcile(
    pool: &PgPool,
    broker: &BrokerAdmin,
    dry_run: bool,
) -> Result<Vec<Repair>, String> {
    let mut lock = provisioning_lock(pool).await.map_err(|e| e.to_string())?;
    let (missing, extra) = differences(&mut lock, broker).await?;
    if missing.is_empty() && extra.is_empty() {
        lock.commit().await.map_err(|e| e.to_string())?;
        return Ok(Vec::new());
    }
    if !dry_run {
        broker
            .create_acls(missing.clone())
            .await
            .map_err(|e| e.to_string())?;
        broker
            .delete_acls(extra.iter().map(AclFilter::exact).collect())
            .await
            .map_err(|e| e.to_string())?;
        settle(broker, AclFilter::default(), &missing, &extra).await;
    }
    lock.commit().await.map_err(|e| e.to_string())?;
    let repairs: Vec<Repair> = missing
        .into_iter()
        .map(|binding| Repair {
            action: "created",
            binding,
            applied: !dry_run,
        })
        .chain(extra.into_iter().map(|binding| Repair {
            action: "deleted",
            binding,
            applied: !dry_run,
        }))
        .collect();
    let mut conn = pool.acquire().await.map_err(|e| e.to_string())?;
    for repair in &repairs {
        let action = match (repair.action, repair.applied) {
            ("created", true) => "acl.repair.create",
            ("created", false) => "acl.drift.missing",
            (_, true) => "acl.repair.delete",
            (_, false) => "acl.drift.unexplained",
        };
        let target = format!(
            "acl:{}:{}:{}",
            repair.binding.principal,
            resource_label(&repair.binding),
            format!("{:?}", repair.binding.operation).to_lowercase()
        );
        audit::record(
            &mut conn,
            Event::new(&crate::audit::Actor::system("reconciler"), action, target)
                .after(json!(repair.binding)),
        )
        .await
        .map_err(|e| e.to_string())?;
    }
    Ok(repairs)
}

fn resource_label(binding: &AclBinding) -> String {
    let kind = match binding.resource_type {
        ResourceType::Topic => "topic",
        ResourceType::Group => "group",
        _ => "other",
    };
    let pattern = if binding.pattern_type == PatternType::Prefixed {
        "*"
    } else {
        ""
    };
    format!("{kind}:{}{pattern}", binding.resource_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casbin_objects_become_the_acls_a_consumer_needs() {
        let topic = bindings("User:analyst1", "topic:sales.order-placed.v1", "read");
        assert_eq!(topic.len(), 2);
        assert!(topic.iter().all(|b| b.pattern_type == PatternType::Literal));
        assert_eq!(
            topic.iter().map(|b| b.operation).collect::<Vec<_>>(),
            vec![Operation::Read, Operation::Describe]
        );
        let group = bindings("User:analyst1", "group:analyst1.", "read");
        assert_eq!(group.len(), 1);
        assert_eq!(group[0].resource_type, ResourceType::Group);
        assert_eq!(group[0].pattern_type, PatternType::Prefixed);
        assert!(bindings("User:analyst1", "cluster:x", "read").is_empty());
        assert!(bindings("User:analyst1", "topic:t", "delete").is_empty());
    }

    #[test]
    fn producer_grants_become_the_acls_an_idempotent_producer_needs() {
        let topic = bindings(
            "User:svc-sales-producer",
            "topic:sales.order-placed.v1",
            "write",
        );
        assert_eq!(
            topic.iter().map(|b| b.operation).collect::<Vec<_>>(),
            vec![Operation::Write, Operation::Describe]
        );
        assert!(
            topic.iter().all(|b| b.resource_type == ResourceType::Topic
                && b.pattern_type == PatternType::Literal)
        );
        let cluster = bindings(
            "User:svc-sales-producer",
            "cluster:kafka-cluster",
            "idempotent_write",
        );
        assert_eq!(cluster.len(), 1);
        assert_eq!(cluster[0].resource_type, ResourceType::Cluster);
        assert_eq!(cluster[0].operation, Operation::IdempotentWrite);
    }

    #[test]
    fn the_scope_leaves_other_acls_alone() {
        let scope = Scope {
            topics: ["sales.order-placed.v1".to_string()].into(),
            groups: [("User:analyst1".to_string(), "analyst1.".to_string())].into(),
            producers: ["User:svc-sales-producer".to_string()].into(),
            nodes: ["User:svc-node-copy".to_string()].into(),
        };
        let mut read = bindings("User:analyst1", "topic:sales.order-placed.v1", "read")[0].clone();
        assert!(scope.contains(&read));
        read.operation = Operation::Write;
        assert!(
            !scope.contains(&read),
            "another producer's WRITE is not ours"
        );
        let ours = bindings(
            "User:svc-sales-producer",
            "topic:sales.order-placed.v1",
            "write",
        );
        assert!(
            ours.iter().all(|b| scope.contains(b)),
            "the domain producer's is"
        );
        let elsewhere = bindings("User:svc-sales-producer", "topic:not.a.product", "write");
        assert!(
            !scope.contains(&elsewhere[0]),
            "WRITE on a topic of no product"
        );
        let cluster = |p| bindings(p, "cluster:kafka-cluster", "idempotent_write")[0].clone();
        assert!(scope.contains(&cluster("User:svc-sales-producer")));
        assert!(!scope.contains(&cluster("User:someone-else")));
        let other_topic = bindings("User:x", "topic:not.a.product", "read")[0].clone();
        assert!(!scope.contains(&other_topic));
        let stranger_group = bindings("User:stranger", "group:s.", "read")[0].clone();
        assert!(
            !scope.contains(&stranger_group),
            "a group Meshmart never assigned"
        );
        let group = bindings("User:analyst1", "group:analyst1.", "read")[0].clone();
        assert!(scope.contains(&group));
        let same_prefix_other_principal =
            bindings("User:analyst2", "group:analyst1.", "read")[0].clone();
        assert!(!scope.contains(&same_prefix_other_principal));
        // This deployment's node owns all its ACLs; another deployment's node is not ours,
        // unless we are syncing that principal (a node removed here).
        let node = |p| bindings(p, "topic:anything.v1", "read")[0].clone();
        assert!(scope.contains(&node("User:svc-node-copy")));
        assert!(!scope.contains(&node("User:svc-node-elsewhere")));
        let syncing = scope.clone().including("User:svc-node-elsewhere");
        assert!(syncing.contains(&node("User:svc-node-elsewhere")));
    }
}
