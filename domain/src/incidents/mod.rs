//! Self-healing channels: incidents. A *channel* is a product's output port, a
//! subscription's consumer group, a stream node or the broker connection; each carries
//! *signals* ([`signals`]) measured from what the checker, the lag job and the nodes record.
//!
//! - [`model`] learns each signal's normal band from its own history (augurs) and keeps it
//!   in `signal_models`, so detection survives restarts;
//! - [`detect`] compares the newest measurements with the bands, and forecasts lag to open
//!   an incident before a freshness SLA is breached;
//! - [`diagnose`] names the most likely cause from the evidence, with a confidence, and
//!   [`classify`] turns client and node error text into causes;
//! - [`store`] keeps incidents and their timelines; [`actions`] carries out recovery
//!   actions (audited, idempotent, one run per incident), and says what each would do.
//!
//! Who sees what: admins every incident; owners those of their domains' channels;
//! subscribers those of the products they subscribe to; the broker's to everyone signed in.

pub mod actions;
pub mod classify;
pub mod detail;
pub mod detect;
pub mod diagnose;
pub mod model;
pub mod reprocess;
pub mod signals;
pub mod store;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use detail::get;
pub use store::{Filter, list};

/// What an incident says went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The producer stopped sending.
    ProducerStopped,
    /// The producer sends records that break the contract (invalid-ratio spike).
    ContractBroken,
    /// Records name a schema id the registry does not have, or one not registered under
    /// the product's subject.
    SchemaDrift,
    /// A subscriber's consumer group stopped consuming.
    ConsumerStopped,
    /// A subscriber's consumer group consumes slower than the product is produced.
    ConsumerSlow,
    /// A stream node's processes died, or loop on errors.
    NodeCrashed,
    /// A stream node cannot write its output topic.
    NodeOutputUnwritable,
    /// An ACL the policy grants is missing on the broker (authorization failures).
    AclMissing,
    /// The broker does not answer.
    BrokerUnreachable,
    /// One partition takes most of a topic's records (a hot key).
    PartitionSkew,
}

impl Cause {
    pub const ALL: [Cause; 10] = [
        Cause::ProducerStopped,
        Cause::ContractBroken,
        Cause::SchemaDrift,
        Cause::ConsumerStopped,
        Cause::ConsumerSlow,
        Cause::NodeCrashed,
        Cause::NodeOutputUnwritable,
        Cause::AclMissing,
        Cause::BrokerUnreachable,
        Cause::PartitionSkew,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Cause::ProducerStopped => "producer_stopped",
            Cause::ContractBroken => "contract_broken",
            Cause::SchemaDrift => "schema_drift",
            Cause::ConsumerStopped => "consumer_stopped",
            Cause::ConsumerSlow => "consumer_slow",
            Cause::NodeCrashed => "node_crashed",
            Cause::NodeOutputUnwritable => "node_output_unwritable",
            Cause::AclMissing => "acl_missing",
            Cause::BrokerUnreachable => "broker_unreachable",
            Cause::PartitionSkew => "partition_skew",
        }
    }

    pub fn parse(text: &str) -> Option<Cause> {
        Cause::ALL.into_iter().find(|cause| cause.as_str() == text)
    }

    /// A short sentence for people.
    pub fn describe(self) -> &'static str {
        match self {
            Cause::ProducerStopped => "The producer stopped sending records",
            Cause::ContractBroken => "The producer sends records that break the contract",
            Cause::SchemaDrift => "Records use a schema the registry does not know",
            Cause::ConsumerStopped => "The subscriber's consumer stopped",
            Cause::ConsumerSlow => "The subscriber's consumer is slower than the stream",
            Cause::NodeCrashed => "The stream node crashed or loops on errors",
            Cause::NodeOutputUnwritable => "The stream node cannot write its output topic",
            Cause::AclMissing => "A granted broker ACL is missing",
            Cause::BrokerUnreachable => "The broker is unreachable",
            Cause::PartitionSkew => "One partition takes most of the records (hot key)",
        }
    }
}

/// A measured signal of a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// Records checked per second on a product's topic.
    RateIn,
    /// Share of checked records that failed the contract.
    InvalidRatio,
    /// Seconds since the newest record (against the freshness SLA).
    Freshness,
    /// A consumer group's lag, in seconds.
    LagSeconds,
    /// A node's records written per second.
    NodeRate,
    /// A node's errors (and restarts) per step.
    NodeErrors,
    /// Whether the broker answers.
    BrokerReachable,
    /// Granted ACLs missing on the broker.
    AclDrift,
    /// The busiest partition's share of a topic's records.
    PartitionShare,
}

impl Signal {
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::RateIn => "rate_in",
            Signal::InvalidRatio => "invalid_ratio",
            Signal::Freshness => "freshness",
            Signal::LagSeconds => "lag_seconds",
            Signal::NodeRate => "node_rate",
            Signal::NodeErrors => "node_errors",
            Signal::BrokerReachable => "broker_reachable",
            Signal::AclDrift => "acl_drift",
            Signal::PartitionShare => "partition_share",
        }
    }

    pub fn parse(text: &str) -> Option<Signal> {
        [
            Signal::RateIn,
            Signal::InvalidRatio,
            Signal::Freshness,
            Signal::LagSeconds,
            Signal::NodeRate,
            Signal::NodeErrors,
            Signal::BrokerReachable,
            Signal::AclDrift,
            Signal::PartitionShare,
        ]
        .into_iter()
        .find(|signal| signal.as_str() == text)
    }

    /// What the signal measures, with its unit, for charts.
    pub fn label(self) -> &'static str {
        match self {
            Signal::RateIn => "records/s in",
            Signal::InvalidRatio => "invalid share",
            Signal::Freshness => "seconds since the newest record",
            Signal::LagSeconds => "consumer lag (s)",
            Signal::NodeRate => "node records/s out",
            Signal::NodeErrors => "node errors per step",
            Signal::BrokerReachable => "broker answers (1) or not (0)",
            Signal::AclDrift => "missing ACLs",
            Signal::PartitionShare => "busiest partition's share",
        }
    }
}

/// A channel: what an incident is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Channel {
    /// A product's output port, by the product's slug and the port's topic.
    Product { product: String, topic: String },
    /// A consumer group of a subscription.
    Subscription {
        subscription: Uuid,
        group: String,
        product: String,
    },
    /// A stream node.
    Node { node: String, product: String },
    /// The broker connection.
    Broker,
}

impl Channel {
    /// The stored key: `product:<slug>/<topic>`, `subscription:<id>/<group>`,
    /// `node:<name>`, `broker`.
    pub fn key(&self) -> String {
        match self {
            Channel::Product { product, topic } => format!("product:{product}/{topic}"),
            Channel::Subscription {
                subscription,
                group,
                ..
            } => format!("subscription:{subscription}/{group}"),
            Channel::Node { node, .. } => format!("node:{node}"),
            Channel::Broker => "broker".to_owned(),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Channel::Product { .. } => "product",
            Channel::Subscription { .. } => "subscription",
            Channel::Node { .. } => "node",
            Channel::Broker => "broker",
        }
    }

    /// The product the channel belongs to (none for the broker).
    pub fn product(&self) -> Option<&str> {
        match self {
            Channel::Product { product, .. }
            | Channel::Subscription { product, .. }
            | Channel::Node { product, .. } => Some(product),
            Channel::Broker => None,
        }
    }
}

/// One piece of evidence behind a diagnosis.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// `metric`, `error`, `group`, `acl`, `broker`, `node`, `forecast`.
    pub kind: String,
    pub label: String,
    pub value: String,
    /// When it was measured or seen (or when the metric changed).
    pub at: Option<DateTime<Utc>>,
    /// The cause this piece points at, if any.
    pub points_to: Option<Cause>,
}

impl Evidence {
    pub fn new(kind: &str, label: impl Into<String>, value: impl Into<String>) -> Self {
        Evidence {
            kind: kind.to_owned(),
            label: label.into(),
            value: value.into(),
            at: None,
            points_to: None,
        }
    }

    pub fn at(mut self, at: DateTime<Utc>) -> Self {
        self.at = Some(at);
        self
    }

    pub fn points_to(mut self, cause: Cause) -> Self {
        self.points_to = Some(cause);
        self
    }
}

/// A recovery action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Rewind a subscription's consumer group (to when the incident started).
    Replay,
    /// Judge the port's dead letters since the incident started again and publish those
    /// that pass (after a fix), exactly once.
    ReprocessDeadLetters,
    /// Switch the port's policy to quarantine (invalid records go to its dead letters only).
    Quarantine,
    /// Switch the port's policy back to what its contract says.
    Monitor,
    /// Restart a node's processes.
    Restart,
    /// Resume a paused node.
    Resume,
    /// Put the policy's ACLs back on the broker.
    RepairAcls,
    /// Tell the owner and the affected subscribers.
    Notify,
    /// A node parks its output on its detour topic while the output refuses writes, and
    /// drains it in order once the output heals. The node does this itself; the incident
    /// records it.
    Reroute,
}

impl Action {
    pub const ALL: [Action; 9] = [
        Action::Replay,
        Action::ReprocessDeadLetters,
        Action::Quarantine,
        Action::Monitor,
        Action::Restart,
        Action::Resume,
        Action::RepairAcls,
        Action::Notify,
        Action::Reroute,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Replay => "replay",
            Action::ReprocessDeadLetters => "reprocess_dead_letters",
            Action::Quarantine => "quarantine",
            Action::Monitor => "monitor",
            Action::Restart => "restart",
            Action::Resume => "resume",
            Action::RepairAcls => "repair_acls",
            Action::Notify => "notify",
            Action::Reroute => "reroute",
        }
    }

    pub fn parse(text: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

/// An action taken, or refused, with its result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionRecord {
    pub action: String,
    pub at: DateTime<Utc>,
    /// `detector` for automatic actions, else the person or account.
    pub actor: String,
    /// `done` or `failed`.
    pub outcome: String,
    pub detail: serde_json::Value,
}

/// An action the caller may take, and what it will do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Offer {
    pub action: Action,
    pub consequence: String,
}

/// An incident as the API and pages show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: Uuid,
    /// `open` or `resolved`.
    pub state: String,
    pub opened_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub started_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub channel: Channel,
    pub signal: Signal,
    pub cause: Cause,
    pub confidence: f64,
    pub summary: String,
    pub predicted: bool,
    pub evidence: Vec<Evidence>,
    pub actions: Vec<ActionRecord>,
}

/// One entry of an incident's timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    /// `opened`, `diagnosed`, `action`, `notified`, `resolved`.
    pub kind: String,
    pub action: Option<String>,
    pub actor: String,
    pub outcome: Option<String>,
    pub detail: serde_json::Value,
}

/// A signal's measured points and the band the model expected, for the incident's chart.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Chart {
    pub label: String,
    /// (time, value) measured.
    pub points: Vec<(DateTime<Utc>, f64)>,
    /// (time, lower, upper) expected.
    pub band: Vec<(DateTime<Utc>, f64, f64)>,
    /// (time, value) forecast (lag incidents).
    pub forecast: Vec<(DateTime<Utc>, f64)>,
    /// A limit drawn across (the freshness SLA), if any.
    pub limit: Option<f64>,
}

/// Who an incident reaches, from lineage: a product downstream and its subscribers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    pub product: String,
    pub name: String,
    /// Live subscribers' principals.
    pub subscribers: Vec<String>,
}

/// An incident with everything its page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IncidentDetail {
    #[serde(flatten)]
    pub incident: Incident,
    pub timeline: Vec<TimelineEntry>,
    pub offered: Vec<Offer>,
    pub chart: Chart,
    pub affected: Vec<Affected>,
}

/// What can go wrong reading or acting on incidents.
#[derive(Debug, thiserror::Error)]
pub enum IncidentError {
    #[error("no incident `{0}`")]
    Unknown(Uuid),
    #[error(
        "unknown action `{0}`: use one of replay, reprocess_dead_letters, quarantine, monitor, restart, resume, repair_acls, notify"
    )]
    UnknownAction(String),
    #[error("`{action}` does not apply to this incident: {why}")]
    NotApplicable { action: &'static str, why: String },
    #[error("`{0}` already ran for this incident")]
    AlreadyDone(&'static str),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Denied(#[from] crate::policy::Denied),
    /// The broker's own words stay in the server's log (they can name internals).
    #[error("the broker did not carry out the action; try again shortly")]
    Broker(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}
