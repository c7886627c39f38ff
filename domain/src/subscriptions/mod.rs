//! Subscriptions: an analyst's request for a Kafka principal to read a product's output
//! ports, and its life — pending → approved → provisioning → active, or rejected; then
//! revoked or expired. Deciding and ending commit together with the Casbin policies that
//! say what the principal may read and the outbox row that makes the provisioner apply
//! them on the broker, so nothing approved is lost to a crash or a broker outage. Which
//! change may happen when is decided in one place, [`Stage::after`].
//!
//! Casbin rows for a principal: `p, kafka:<principal>, *, topic:<topic>, read` per port and
//! `p, kafka:<principal>, *, group:<prefix>, read` for its consumer-group prefix. A row
//! stays while any live subscription of the principal needs it.

mod commands;
mod connection;
mod lifecycle;
mod progress;
mod queries;
mod replay;
mod store;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use commands::*;
pub use connection::{ClientAccess, Connection};
pub use lifecycle::{Action, NotAllowed, Stage};
pub use progress::*;
pub use queries::*;
pub use replay::{Replay, ReplayRequest, TopicReplay, replay};
pub use store::EXPIRY_WARNING_DAYS;

/// Where a subscription is in its life. Stored as its lowercase name: a stored state
/// outside these is a decoding error (logged, a 500), never read as some other state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum State {
    Pending,
    Approved,
    Provisioning,
    Active,
    Rejected,
    Revoked,
    Expired,
}

impl State {
    pub const ALL: [State; 7] = [
        State::Pending,
        State::Approved,
        State::Provisioning,
        State::Active,
        State::Rejected,
        State::Revoked,
        State::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Approved => "approved",
            State::Provisioning => "provisioning",
            State::Active => "active",
            State::Rejected => "rejected",
            State::Revoked => "revoked",
            State::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Approved and not ended: the principal's ACLs should exist.
    pub fn grants_access(self) -> bool {
        matches!(self, State::Approved | State::Provisioning | State::Active)
    }

    /// Not ended (a pending request counts).
    pub fn is_live(self) -> bool {
        self == State::Pending || self.grants_access()
    }
}

/// A subscription as lists and pages show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    pub id: Uuid,
    pub product: String,
    pub product_name: String,
    pub domain: String,
    pub topics: Vec<String>,
    pub principal: String,
    pub team: Option<String>,
    pub consumer_group: String,
    pub purpose: String,
    pub state: State,
    pub until: Option<DateTime<Utc>>,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_comment: Option<String>,
    pub provision_attempts: i32,
    pub last_error: Option<String>,
    pub activated_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// When the broker was found to hold none of this ended subscription's access;
    /// `None` while the removal is under way (see [`Subscription::removing_access`]).
    pub access_removed_at: Option<DateTime<Utc>>,
}

impl Subscription {
    /// Where it is in its life (see [`Stage::after`] for what may happen next).
    pub fn stage(&self) -> Stage {
        Stage::of(self.state, self.access_removed_at)
    }

    /// Ended, but its ACLs are not yet confirmed gone from the broker.
    pub fn removing_access(&self) -> bool {
        self.stage().removing_access
    }
}

/// What an analyst asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The product's slug.
    pub product: String,
    /// Topics of the product's output ports; all of them when absent or empty.
    #[serde(default)]
    pub ports: Option<Vec<String>>,
    /// A Kafka principal (`User:…`): the caller's own, or a service account's of a domain
    /// they own. The caller's own when absent.
    #[serde(default)]
    pub principal: Option<String>,
    /// Consumer-group prefix; derived from the principal when absent.
    #[serde(default)]
    pub group: Option<String>,
    pub purpose: String,
    /// When access ends; the product's contract may cap it.
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
}

/// Why a subscription request or decision was refused.
#[derive(Debug, thiserror::Error)]
pub enum SubscriptionError {
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("not found")]
    NotFound,
    /// A live subscription for this product and principal exists already.
    #[error("{principal} already has a {} subscription to {product}: /subscriptions#{id}", .state.as_str())]
    Duplicate {
        id: Uuid,
        product: String,
        principal: String,
        state: State,
    },
    /// The subscription is not in a state that allows this.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Denied(#[from] crate::policy::Denied),
    /// The broker could not do it now (unreachable, or it refused).
    #[error("the broker: {0}")]
    Broker(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

pub(crate) fn invalid(field: &str, message: impl Into<String>) -> SubscriptionError {
    SubscriptionError::Invalid {
        field: field.to_string(),
        message: message.into(),
    }
}

/// The consumer-group prefix Meshmart suggests for a principal: `User:analyst1` →
/// `analyst1.`.
pub fn default_group(principal: &str) -> String {
    let name = principal.strip_prefix("User:").unwrap_or(principal);
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{cleaned}.")
}

/// Whether `group` is 1 to `max` letters, digits, `.`, `_` or `-` (a consumer group or a
/// prefix of one as Meshmart accepts them).
pub(crate) fn is_group_name(group: &str, max: usize) -> bool {
    !group.is_empty()
        && group.len() <= max
        && group
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// A consumer-group prefix: 1–200 of letters, digits, `.`, `_`, `-`, inside the
/// principal's own namespace (`analyst1.` for `User:analyst1`), so no subscription can
/// reach another application's consumer groups.
pub fn check_group(principal: &str, group: &str) -> Result<(), SubscriptionError> {
    let own = default_group(principal);
    if !group.starts_with(&own) {
        return Err(invalid(
            "group",
            format!("a consumer-group prefix of {principal} starts with `{own}`"),
        ));
    }
    if is_group_name(group, 200) {
        Ok(())
    } else {
        Err(invalid(
            "group",
            "a consumer-group prefix is 1 to 200 letters, digits, '.', '_' or '-'",
        ))
    }
}

/// The Casbin subject of a Kafka principal.
pub fn kafka_subject(principal: &str) -> String {
    format!("kafka:{principal}")
}

/// The largest subscription length, in days, a contract allows: ODCS
/// `customProperties: [{property: maxSubscriptionDays, value: N}]`.
pub fn max_days(contract: &serde_json::Value) -> Option<i64> {
    contract
        .get("customProperties")?
        .as_array()?
        .iter()
        .find(|p| p.get("property").and_then(|v| v.as_str()) == Some("maxSubscriptionDays"))
        .and_then(|p| p.get("value"))
        .and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        })
        .filter(|days| *days > 0)
        // A hundred years is "no cap" in practice and keeps date arithmetic in range.
        .map(|days| days.min(36_500))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_prefixes_derive_from_the_principal_and_are_checked() {
        assert_eq!(default_group("User:analyst1"), "analyst1.");
        assert_eq!(default_group("User:svc orders"), "svc-orders.");
        assert!(check_group("User:analyst1", "analyst1.").is_ok());
        assert!(check_group("User:analyst1", "analyst1.reports.").is_ok());
        assert!(check_group("User:analyst1", "svc-marketing-campaigns.").is_err());
        assert!(check_group("User:analyst1", "").is_err());
        assert!(check_group("User:analyst1", "analyst1.a b").is_err());
        assert!(check_group("User:analyst1", &format!("analyst1.{}", "a".repeat(200))).is_err());
    }

    #[test]
    fn the_contract_may_cap_the_length() {
        let doc = serde_json::json!({"customProperties": [{"property": "maxSubscriptionDays", "value": 90}]});
        assert_eq!(max_days(&doc), Some(90));
        let text = serde_json::json!({"customProperties": [{"property": "maxSubscriptionDays", "value": "30"}]});
        assert_eq!(max_days(&text), Some(30));
        let huge = serde_json::json!({"customProperties": [{"property": "maxSubscriptionDays", "value": 100_000_000}]});
        assert_eq!(max_days(&huge), Some(36_500));
        assert_eq!(max_days(&serde_json::json!({})), None);
    }

    #[test]
    fn states_round_trip_and_say_what_they_grant() {
        for state in State::ALL {
            assert_eq!(State::parse(state.as_str()), Some(state));
        }
        assert!(State::Provisioning.grants_access());
        assert!(State::Pending.is_live() && !State::Pending.grants_access());
        assert!(!State::Revoked.is_live());
    }
}
