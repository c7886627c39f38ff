//! Replaying a subscription: moving one of its consumer groups back to a point in time (or
//! to the oldest record the broker keeps), so that the subscriber's application reads again
//! what it missed or lost. A recovery action of self-healing, usable on its own.
//!
//! Who: the subscriber, for the groups under the subscription's group prefix; owners of the
//! product's domain and admins, for them; anyone else is refused (403), as for revoking. When: only an
//! active subscription, and only while the group has no members (a running application
//! would overwrite the offsets with its own; the broker refuses the commit too). Replaying
//! twice to one point moves nothing the second time. Each replay is audited with what moved.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{State, SubscriptionError, invalid};
use crate::audit::{self, Event};
use crate::broker::BrokerAdmin;
use crate::broker::groups::{Moved, Position, RewindError};
use crate::identity::Caller;
use crate::policy::Policy;

/// What a replay asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// The consumer group to move; under the subscription's group prefix.
    #[serde(default)]
    pub group: String,
    /// An RFC 3339 time (each partition restarts at its first record at or after it), or
    /// `earliest` (the oldest record kept).
    #[serde(default)]
    pub to: String,
}

/// What a replay did, per topic and partition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replay {
    pub subscription: Uuid,
    pub group: String,
    pub to: String,
    pub topics: Vec<TopicReplay>,
    /// How far back the group moved, over the partitions where it had a committed offset
    /// (the sum of `from - to`; negative when it moved forward). Offsets, not records: on a
    /// transactional topic the markers count too.
    pub offsets_back: i64,
    /// Whether retention already removed records from before the asked time on some
    /// partition, so the replay starts later there than asked.
    pub cut_by_retention: bool,
    /// What happened, in a sentence for people.
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicReplay {
    pub topic: String,
    pub partitions: Vec<Moved>,
}

/// The most a group name may be (the broker's limit for a group id is larger).
const MAX_GROUP: usize = 249;

/// Moves `request.group` of subscription `id` back to `request.to` on every topic of the
/// subscription.
pub async fn replay(
    pool: &sqlx::PgPool,
    policy: &Policy,
    broker: &BrokerAdmin,
    caller: &Caller,
    id: Uuid,
    request: &ReplayRequest,
) -> Result<Replay, SubscriptionError> {
    let subscription =
        super::store::for_requester_or_owner(pool, policy, caller, id, "replay").await?;
    let group = request.group.trim();
    if group.len() <= subscription.consumer_group.len()
        || !group.starts_with(&subscription.consumer_group)
        || !super::is_group_name(group, MAX_GROUP)
    {
        return Err(invalid(
            "group",
            format!(
                "a consumer group of this subscription: `{}` followed by letters, digits, '.', '_' or '-' (at most {MAX_GROUP} characters)",
                subscription.consumer_group
            ),
        ));
    }
    let position = match request.to.trim() {
        "earliest" => Position::Earliest,
        text => {
            let at = DateTime::parse_from_rfc3339(text)
                .map_err(|e| {
                    invalid(
                        "to",
                        format!(
                            "`{text}` is not an RFC 3339 time such as 2026-12-05T01:00:00Z, nor `earliest`: {e}"
                        ),
                    )
                })?
                .with_timezone(&Utc);
            if at > Utc::now() {
                return Err(invalid("to", format!("{at} is in the future")));
            }
            Position::Time(at)
        }
    };
    if subscription.state != State::Active {
        return Err(SubscriptionError::Conflict(format!(
            "only an active subscription can be replayed; this one is {}",
            subscription.state.as_str()
        )));
    }
    let mut topics = Vec::new();
    for topic in &subscription.topics {
        let partitions = broker
            .rewind_group(group, topic, position)
            .await
            .map_err(|error| match error {
                RewindError::Active { .. } => SubscriptionError::Conflict(format!(
                    "{error}: stop its consumers first, then replay (a running group would overwrite the offsets)"
                )),
                RewindError::NoTopic(_) => SubscriptionError::Conflict(error.to_string()),
                RewindError::Broker(message) => SubscriptionError::Broker(message),
            })?;
        topics.push(TopicReplay {
            topic: topic.clone(),
            partitions,
        });
    }
    let moved = topics.iter().flat_map(|topic| topic.partitions.iter());
    let offsets_back = moved
        .clone()
        .filter_map(|partition| partition.from.map(|from| from - partition.to))
        .sum();
    let cut: Vec<String> = topics
        .iter()
        .flat_map(|topic| {
            topic
                .partitions
                .iter()
                .filter(|partition| partition.cut_by_retention())
                .map(move |partition| {
                    format!(
                        "{}[{}] from offset {}",
                        topic.topic, partition.partition, partition.to
                    )
                })
        })
        .collect();
    let cut_by_retention = matches!(position, Position::Time(_)) && !cut.is_empty();
    let from = match position {
        Position::Time(at) => at.to_rfc3339(),
        Position::Earliest => "the oldest record kept".to_string(),
    };
    let had_offsets = topics
        .iter()
        .flat_map(|topic| topic.partitions.iter())
        .any(|partition| partition.from.is_some());
    let mut message = match offsets_back {
        _ if !had_offsets => {
            format!("`{group}` had no committed offsets; it reads from {from} next.")
        }
        0 => format!("`{group}` reads from {from} next, where it already was."),
        back if back > 0 => {
            format!("`{group}` reads from {from} next: {back} offset(s) back, read again.")
        }
        ahead => format!(
            "`{group}` reads from {from} next: {} offset(s) ahead of where it was.",
            -ahead
        ),
    };
    if cut_by_retention {
        message.push_str(&format!(
            " Retention has already removed older records; these partitions start at their oldest record kept: {}.",
            cut.join(", ")
        ));
    }
    let replay = Replay {
        subscription: id,
        group: group.to_string(),
        to: request.to.trim().to_string(),
        topics,
        offsets_back,
        cut_by_retention,
        message,
    };
    let mut conn = pool.acquire().await?;
    audit::record(
        &mut conn,
        Event::new(
            &caller.audit_actor(),
            "subscription.replay",
            format!("subscription:{id}"),
        )
        .in_domain(subscription.domain.clone())
        .after(serde_json::json!({
            "group": replay.group,
            "to": replay.to,
            "offsets_back": replay.offsets_back,
            "topics": replay.topics,
        })),
    )
    .await?;
    Ok(replay)
}
