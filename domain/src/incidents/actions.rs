//! Recovery actions on incidents: what each would do (offered with its consequence), and
//! doing it — authorized like everything else (the underlying operation asks the policy:
//! a subscriber replays only their own groups, only owners restart their nodes), audited,
//! recorded on the incident's timeline, and run at most once per incident (a unique index
//! on the timeline's actions). No action widens access: repairing ACLs restores exactly
//! what the policy grants.
//!
//! The detector runs [`automatic`] actions itself: it notifies the owners and affected
//! subscribers of every new incident, and repairs ACLs when one is missing.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::store::{self, NewIncident};
use super::{Action, ActionRecord, Cause, Channel, Incident, IncidentError, Offer};
use crate::audit::{self, Actor, Event};
use crate::broker::BrokerAdmin;
use crate::db::Timestamp;
use crate::identity::{Caller, User};
use crate::policy::Policy;

/// What an action needs beyond the incident.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActRequest {
    /// For a replay: an RFC 3339 time or `earliest` (default: when the incident started).
    #[serde(default)]
    pub to: Option<String>,
}

/// The actions that fit an incident, whether or not the caller may take them.
fn fitting(incident: &Incident) -> Vec<(Action, String)> {
    let mut fit = Vec::new();
    match &incident.channel {
        Channel::Subscription { group, .. } => fit.push((
            Action::Replay,
            format!(
                "Moves consumer group {group} back to where it was reading when the incident started ({}), less a minute, so it reads again what it missed; a minute or so may be read twice. Refused while the group has members: stop the consumer first.",
                incident.started_at.format("%Y-%m-%d %H:%M:%S UTC")
            ),
        )),
        Channel::Product { .. } => {
            if matches!(incident.cause, Cause::ContractBroken | Cause::SchemaDrift) {
                fit.push((
                    Action::Quarantine,
                    "Switches the port to quarantine: records that break the contract are copied to its dead-letter topic and counted as quarantined until you switch it back. The producer is not stopped.".to_owned(),
                ));
                fit.push((
                    Action::ReprocessDeadLetters,
                    format!("Judges every dead letter of this port since {} again, against the contract and schemas as they are now (after your fix), and publishes those that pass to the product's topic with their original key and headers, exactly once. Those still invalid stay in the dead-letter topic; each record's outcome is recorded. Run it once the fix is in: it runs once per incident.", incident.started_at.format("%Y-%m-%d %H:%M:%S UTC")),
                ));
                fit.push((
                    Action::Monitor,
                    "Switches the port back to the policy its contract declares.".to_owned(),
                ));
            }
        }
        Channel::Node { node, .. } => {
            fit.push((
                Action::Restart,
                format!("Asks every process of node {node} to restart: each commits or aborts its open transaction and rejoins its group; nothing is lost or written twice."),
            ));
            fit.push((
                Action::Resume,
                format!("Resumes node {node} if it is paused."),
            ));
        }
        Channel::Broker => {}
    }
    if incident.cause == Cause::AclMissing {
        fit.push((
            Action::RepairAcls,
            "Puts the ACLs the policy grants back on the broker, and removes managed ACLs nothing grants. It never grants more than the policy.".to_owned(),
        ));
    }
    fit.push((
        Action::Notify,
        "Tells the owners of the product and its live subscribers, in the app.".to_owned(),
    ));
    fit
}

/// The actions the caller may take on the open incident, with their consequences; none
/// once it is resolved or already taken.
pub async fn offers(
    incident: &Incident,
    owner: bool,
    user: &User,
    pool: &PgPool,
) -> Result<Vec<Offer>, IncidentError> {
    if incident.state != "open" {
        return Ok(Vec::new());
    }
    let subscriber =
        match &incident.channel {
            Channel::Subscription { subscription, .. } => sqlx::query_scalar!(
                r#"select exists (select 1 from subscriptions where id = $1 and requested_by = $2)
                     as "mine!""#,
                subscription,
                user.id,
            )
            .fetch_one(pool)
            .await?,
            _ => false,
        };
    let overridden = match &incident.channel {
        Channel::Product { topic, .. } => policy_override(pool, topic).await?,
        _ => None,
    };
    Ok(fitting(incident)
        .into_iter()
        // Quarantine while the port follows its contract; monitor while it is overridden.
        .filter(|(action, _)| match action {
            Action::Quarantine => overridden.is_none(),
            Action::Monitor => overridden.is_some(),
            _ => true,
        })
        .filter(|(action, _)| {
            !incident
                .actions
                .iter()
                .any(|done| done.action == action.as_str() && done.outcome == "done")
        })
        .filter(|(action, _)| owner || (subscriber && *action == Action::Replay))
        .map(|(action, consequence)| Offer {
            action,
            consequence,
        })
        .collect())
}

/// Actions the detector may take without asking, for a cause.
pub fn automatic_for(cause: Cause) -> &'static [Action] {
    match cause {
        Cause::AclMissing => &[Action::Notify, Action::RepairAcls],
        Cause::NodeOutputUnwritable => &[Action::Notify, Action::Reroute],
        _ => &[Action::Notify],
    }
}

/// Takes `action` on incident `id` as the caller.
pub async fn act(
    pool: &PgPool,
    policy: &Policy,
    broker: &BrokerAdmin,
    caller: &Caller,
    id: Uuid,
    action: Action,
    request: &ActRequest,
) -> Result<ActionRecord, IncidentError> {
    let incident = store::seen(pool, policy, caller, id).await?.incident;
    if incident.state != "open" {
        return Err(IncidentError::NotApplicable {
            action: action.as_str(),
            why: "the incident is resolved".to_owned(),
        });
    }
    if !fitting(&incident).iter().any(|(a, _)| *a == action) {
        return Err(IncidentError::NotApplicable {
            action: action.as_str(),
            why: format!(
                "it is not among this incident's actions (a {} incident about {})",
                incident.cause.as_str(),
                incident.channel.key()
            ),
        });
    }
    if incident
        .actions
        .iter()
        .any(|done| done.action == action.as_str() && done.outcome == "done")
    {
        return Err(IncidentError::AlreadyDone(action.as_str()));
    }
    let actor = caller.audit_actor();
    let result = run(pool, policy, broker, caller, &incident, action, request).await;
    if let Err(IncidentError::Broker(detail)) = &result {
        tracing::warn!(incident = %id, action = action.as_str(), error = %detail, "incident action failed on the broker");
    }
    let (outcome, detail) = match &result {
        Ok(detail) => ("done", detail.clone()),
        Err(error) => ("failed", json!({ "error": error.to_string() })),
    };
    let recorded = record(
        pool,
        id,
        action,
        &actor.to_string(),
        outcome,
        &detail,
        domain_of(&incident),
    )
    .await?;
    result?;
    recorded.ok_or(IncidentError::AlreadyDone(action.as_str()))
}

fn domain_of(incident: &Incident) -> Option<String> {
    incident.channel.product().map(str::to_owned)
}

/// Writes the action's result on the timeline and in the audit log, once per incident
/// (`None` when another request recorded it first).
async fn record(
    pool: &PgPool,
    id: Uuid,
    action: Action,
    actor: &str,
    outcome: &str,
    detail: &serde_json::Value,
    product: Option<String>,
) -> Result<Option<ActionRecord>, IncidentError> {
    let mut tx = pool.begin().await?;
    if outcome == "done" {
        let inserted = sqlx::query!(
            "insert into incident_events (incident_id, kind, action, actor, outcome, detail)
             values ($1, 'action', $2, $3, 'done', $4)
             on conflict (incident_id, action) where kind = 'action' and outcome = 'done'
             do nothing",
            id,
            action.as_str(),
            actor,
            detail,
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Ok(None);
        }
    } else {
        // A failed attempt is on the timeline, and may be tried again.
        store::event(
            &mut tx,
            id,
            "action",
            Some(action.as_str()),
            actor,
            Some("failed"),
            detail.clone(),
        )
        .await?;
    }
    let event = Event::new(
        &Actor::system("incidents"),
        "incident.action",
        format!("incident:{id}"),
    )
    .after(json!({
        "action": action.as_str(), "actor": actor, "outcome": outcome,
        "detail": detail, "product": product,
    }));
    audit::record(&mut tx, event).await?;
    tx.commit().await?;
    Ok(Some(ActionRecord {
        action: action.as_str().to_owned(),
        at: chrono::Utc::now(),
        actor: actor.to_owned(),
        outcome: outcome.to_owned(),
        detail: detail.clone(),
    }))
}

async fn run(
    pool: &PgPool,
    policy: &Policy,
    broker: &BrokerAdmin,
    caller: &Caller,
    incident: &Incident,
    action: Action,
    request: &ActRequest,
) -> Result<serde_json::Value, IncidentError> {
    let subscription_error = |error: crate::subscriptions::SubscriptionError| match error {
        crate::subscriptions::SubscriptionError::Denied(denied) => IncidentError::Denied(denied),
        crate::subscriptions::SubscriptionError::Database(error) => IncidentError::Database(error),
        crate::subscriptions::SubscriptionError::Broker(detail) => IncidentError::Broker(detail),
        // A group with members, a subscription no longer live: the action waits.
        crate::subscriptions::SubscriptionError::Conflict(why) => IncidentError::NotApplicable {
            action: "replay",
            why,
        },
        other => IncidentError::Invalid(other.to_string()),
    };
    let node_error = |error: crate::nodes::NodeError| match error {
        crate::nodes::NodeError::Denied(denied) => IncidentError::Denied(denied),
        crate::nodes::NodeError::Database(error) => IncidentError::Database(error),
        other => IncidentError::Invalid(other.to_string()),
    };
    match (action, &incident.channel) {
        (
            Action::Replay,
            Channel::Subscription {
                subscription,
                group,
                ..
            },
        ) => {
            let to = match &request.to {
                Some(to) => to.clone(),
                None => replay_point(pool, *subscription, group, incident.started_at)
                    .await?
                    .to_rfc3339(),
            };
            let done = crate::subscriptions::replay(
                pool,
                policy,
                broker,
                caller,
                *subscription,
                &crate::subscriptions::ReplayRequest {
                    group: group.clone(),
                    to,
                },
            )
            .await
            .map_err(subscription_error)?;
            Ok(serde_json::to_value(done).unwrap_or_default())
        }
        (Action::Quarantine | Action::Monitor, Channel::Product { product, topic }) => {
            owner_of(pool, policy, caller, product).await?;
            let value = (action == Action::Quarantine).then_some("quarantine");
            if policy_override(pool, topic).await?.as_deref() == value {
                return Err(IncidentError::NotApplicable {
                    action: action.as_str(),
                    why: match value {
                        Some(_) => "the port is in quarantine already".to_owned(),
                        None => "the port follows its contract's policy already".to_owned(),
                    },
                });
            }
            sqlx::query!(
                "update output_ports set policy_override = $2, updated_at = now() where topic = $1",
                topic,
                value,
            )
            .execute(pool)
            .await?;
            Ok(json!({ "topic": topic, "policy": value.unwrap_or("as the contract declares") }))
        }
        (Action::ReprocessDeadLetters, Channel::Product { product, topic }) => {
            owner_of(pool, policy, caller, product).await?;
            let done = super::reprocess::reprocess(
                pool,
                broker,
                incident.id,
                topic,
                incident.started_at - chrono::Duration::seconds(10),
            )
            .await?;
            Ok(serde_json::to_value(done).unwrap_or_default())
        }
        (Action::Restart, Channel::Node { node, .. }) => {
            let generation = crate::nodes::request_restart(pool, policy, caller, node)
                .await
                .map_err(node_error)?;
            Ok(json!({ "node": node, "restart_generation": generation }))
        }
        (Action::Resume, Channel::Node { node, .. }) => {
            let changed = crate::nodes::set_paused(pool, policy, caller, node, false)
                .await
                .map_err(node_error)?;
            Ok(json!({ "node": node, "resumed": changed }))
        }
        (Action::RepairAcls, channel) => {
            may_operate(pool, policy, caller, channel).await?;
            repair(pool, broker).await
        }
        (Action::Notify, channel) => {
            may_operate(pool, policy, caller, channel).await?;
            let sent = notify(pool, incident.id).await?;
            Ok(json!({ "notified": sent }))
        }
        (action, channel) => Err(IncidentError::NotApplicable {
            action: action.as_str(),
            why: format!("not for a {} channel", channel.kind()),
        }),
    }
}

/// Where a replay goes by default: where the group was reading when the incident started
/// (its lag then, behind the start), and a minute earlier still. Reading a minute twice is
/// harmless; moving a group past records it never read would lose them.
async fn replay_point(
    pool: &PgPool,
    subscription: Uuid,
    group: &str,
    started_at: chrono::DateTime<chrono::Utc>,
) -> Result<chrono::DateTime<chrono::Utc>, IncidentError> {
    let lag: Option<f64> = sqlx::query_scalar!(
        "select seconds from lag_points
         where subscription_id = $1 and consumer_group = $2 and at <= $3
         order by at desc limit 1",
        subscription,
        group,
        started_at as Timestamp,
    )
    .fetch_optional(pool)
    .await?;
    let behind = chrono::Duration::milliseconds((lag.unwrap_or(0.0).max(0.0) * 1000.0) as i64);
    Ok(started_at - behind - chrono::Duration::minutes(1))
}

/// Refuses unless the caller owns the channel's product's domain, or, for the broker's
/// channel, is an admin.
async fn may_operate(
    pool: &PgPool,
    policy: &Policy,
    caller: &Caller,
    channel: &Channel,
) -> Result<(), IncidentError> {
    match channel.product() {
        Some(product) => owner_of(pool, policy, caller, product).await,
        None => {
            policy
                .authorize(
                    caller,
                    crate::policy::GLOBAL,
                    crate::policy::Permission::ManageRoles,
                )
                .await?;
            Ok(())
        }
    }
}

/// Refuses unless the caller owns the product's domain (or is an admin).
async fn owner_of(
    pool: &PgPool,
    policy: &Policy,
    caller: &Caller,
    product: &str,
) -> Result<(), IncidentError> {
    let domain: Option<String> =
        sqlx::query_scalar!("select domain from products where slug = $1", product,)
            .fetch_optional(pool)
            .await?;
    policy
        .authorize(
            caller,
            domain.as_deref().unwrap_or(crate::policy::GLOBAL),
            crate::policy::Permission::ApproveSubscriptions,
        )
        .await?;
    Ok(())
}

async fn repair(pool: &PgPool, broker: &BrokerAdmin) -> Result<serde_json::Value, IncidentError> {
    let repairs = crate::provisioning::reconcile(pool, broker, false)
        .await
        .map_err(IncidentError::Broker)?;
    let created: Vec<String> = repairs
        .iter()
        .filter(|r| r.action == "created")
        .map(|r| {
            format!(
                "{} {:?} {}",
                r.binding.principal, r.binding.operation, r.binding.resource_name
            )
            .to_lowercase()
        })
        .collect();
    let deleted = repairs.len() - created.len();
    Ok(json!({ "created": created, "deleted": deleted }))
}

/// In-app notifications to the owners of the incident's product's domain and the
/// requesters of its live subscriptions, and the same as a signed webhook delivery to
/// those of them who set one (`incident.opened`); how many people were told.
async fn notify(pool: &PgPool, id: Uuid) -> Result<u64, IncidentError> {
    let mut tx = pool.begin().await?;
    let users: Vec<Uuid> = sqlx::query_scalar!(
        "select distinct u.id
         from incidents i
         join products p on p.id = i.product_id
         join users u on u.id in (
             select substr(c.v0, 6)::uuid from casbin_rule c
             where c.ptype = 'g' and c.v1 = 'role:owner' and c.v2 = p.domain
               and c.v0 like 'user:%'
             union
             select s.requested_by from subscriptions s
             where s.product_id = p.id and s.state = 'active'
         )
         where i.id = $1 and not u.disabled",
        id,
    )
    .fetch_all(&mut *tx)
    .await?;
    let incident = sqlx::query!(
        r#"select summary, cause, confidence, channel, opened_at as "opened_at: Timestamp"
           from incidents where id = $1"#,
        id,
    )
    .fetch_optional(&mut *tx)
    .await?
    .map(|row| {
        (
            row.summary,
            row.cause,
            row.confidence,
            row.channel,
            row.opened_at,
        )
    });
    let Some((summary, cause, confidence, channel, opened_at)) = incident else {
        return Err(IncidentError::Unknown(id));
    };
    let link = format!("/incidents/{id}");
    crate::webhooks::tell(
        &mut tx,
        &users,
        "incident.opened",
        &summary,
        &link,
        &json!({
            "event": "incident.opened",
            "incident": id,
            "summary": summary,
            "cause": cause,
            "confidence": confidence,
            "channel": channel,
            "opened_at": opened_at,
            "link": link,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(users.len() as u64)
}

/// The detector's own actions on a new incident; failures are on its timeline.
pub async fn automatic(
    pool: &PgPool,
    broker: &BrokerAdmin,
    id: Uuid,
    incident: &NewIncident,
    _domain: Option<&str>,
) {
    for action in automatic_for(incident.cause) {
        let result = match action {
            Action::Notify => notify(pool, id)
                .await
                .map(|sent| json!({ "notified": sent })),
            Action::RepairAcls => repair(pool, broker).await,
            Action::Reroute => match rerouted(pool, &incident.channel).await {
                Ok(Some(detail)) => Ok(detail),
                // The node did not park its output (it cannot, or it stopped): nothing
                // to record.
                Ok(None) => continue,
                Err(error) => Err(error),
            },
            _ => continue,
        };
        let (outcome, detail) = match result {
            Ok(detail) => ("done", detail),
            Err(error) => {
                if let IncidentError::Broker(detail) = &error {
                    tracing::warn!(incident = %id, action = action.as_str(), error = %detail, "automatic action failed on the broker");
                }
                ("failed", json!({ "error": error.to_string() }))
            }
        };
        let product = incident.channel.product().map(str::to_owned);
        if let Err(error) = record(pool, id, *action, "detector", outcome, &detail, product).await {
            tracing::warn!(%error, incident = %id, action = action.as_str(), "automatic action not recorded");
        }
    }
}

/// The policy a port's owner switched it to, overriding its contract's (`quarantine`).
async fn policy_override(pool: &PgPool, topic: &str) -> Result<Option<String>, sqlx::Error> {
    Ok(sqlx::query_scalar!(
        "select policy_override from output_ports where topic = $1",
        topic,
    )
    .fetch_optional(pool)
    .await?
    .flatten())
}

/// What the node of a node channel reports about its reroute, if a live process of it
/// parks its output on the detour now.
async fn rerouted(
    pool: &PgPool,
    channel: &Channel,
) -> Result<Option<serde_json::Value>, IncidentError> {
    let Channel::Node { node, .. } = channel else {
        return Ok(None);
    };
    let since: Option<Timestamp> = sqlx::query_scalar!(
        r#"select min(rerouted_since) as "since: Timestamp" from node_instances
           where node = $1 and heartbeat_at > now() - interval '30 seconds'"#,
        node,
    )
    .fetch_one(pool)
    .await?;
    Ok(since.map(|since| {
        json!({
            "by": "node",
            "node": node,
            "detour": crate::nodes::detour_topic(node),
            "since": since,
        })
    }))
}

/// The reconciler repaired ACL drift before the detector saw it: each channel whose
/// principal lacked a granted ACL gets its incident all the same (opened, its
/// `repair_acls` recorded as done by the reconciler, owners and subscribers notified); the
/// detector resolves it once its rounds find nothing missing.
pub async fn repaired_by_reconciler(
    pool: &PgPool,
    created: &[(String, String, String)],
) -> Result<usize, IncidentError> {
    let mut opened = 0;
    for (channel, _, triples) in super::signals::acl_channels(pool, created).await? {
        let described: Vec<String> = triples
            .iter()
            .map(|(p, r, o)| format!("{p} {o} {r}"))
            .collect();
        let new = NewIncident {
            channel,
            signal: super::Signal::AclDrift,
            cause: Cause::AclMissing,
            confidence: 1.0,
            summary: format!(
                "{} (repaired by the reconciler)",
                Cause::AclMissing.describe()
            ),
            predicted: false,
            evidence: triples
                .iter()
                .map(|(p, r, o)| {
                    super::Evidence::new(
                        "acl",
                        "granted ACL missing on the broker",
                        format!("{p} {o} {r}"),
                    )
                    .points_to(Cause::AclMissing)
                })
                .collect(),
            band: json!({}),
            started_at: chrono::Utc::now(),
        };
        let Some(id) = store::open(pool, &new).await? else {
            continue;
        };
        opened += 1;
        let product = new.channel.product().map(str::to_owned);
        record(
            pool,
            id,
            Action::RepairAcls,
            "reconciler",
            "done",
            &json!({ "created": described }),
            product.clone(),
        )
        .await?;
        let sent = notify(pool, id).await?;
        record(
            pool,
            id,
            Action::Notify,
            "reconciler",
            "done",
            &json!({ "notified": sent }),
            product,
        )
        .await?;
    }
    Ok(opened)
}
