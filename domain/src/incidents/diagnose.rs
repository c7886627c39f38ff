//! Diagnosis: rules over evidence. Each fact the detector gathered about a channel (the
//! broker's answer, missing ACLs, the consumer group's members, the node's instances,
//! invalid records by reason, classified error lines) adds weight to the causes it points
//! at; the heaviest cause is named, and its share of all weight is the confidence. Every
//! fact that weighed is returned as evidence, so the page says why.

use chrono::{DateTime, Utc};

use super::classify::classify;
use super::{Cause, Channel, Evidence, Signal};

/// What the detector found about one channel, beyond the anomalous signal itself.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// Whether the broker answered this round.
    pub broker_reachable: bool,
    /// Granted ACLs of the channel's principals missing on the broker:
    /// (principal, resource, operation).
    pub missing_acls: Vec<(String, String, String)>,
    /// Error lines seen by the checker, the node or a client: (when, who, text).
    pub errors: Vec<(Option<DateTime<Utc>>, String, String)>,
    /// Invalid records by reason in the fault's window.
    pub invalid_reasons: Vec<(String, i64)>,
    /// The consumer group, for subscriptions.
    pub group: Option<GroupFacts>,
    /// The node, for node channels.
    pub node: Option<NodeFacts>,
    /// The busiest partition's share of the records in the window, for products.
    pub partition_share: Option<(i32, f64)>,
}

#[derive(Clone, Debug, Default)]
pub struct GroupFacts {
    /// Members of the group now.
    pub members: usize,
    /// The group's state as the broker reports it.
    pub state: String,
    /// Messages the group consumed over the window (committed offsets' progress).
    pub consumed: i64,
    /// Messages produced to its topics over the window.
    pub produced: i64,
}

#[derive(Clone, Debug, Default)]
pub struct NodeFacts {
    pub live: i32,
    pub known: i32,
    pub paused: bool,
    /// Restarts and error steps in the window.
    pub restarts: i32,
    pub error_steps: i32,
    /// A process that ended without stopping (its replacement started in its place):
    /// when, and what was seen.
    pub crashed: Option<(DateTime<Utc>, String)>,
    /// Since when a live process has parked its output on the node's detour topic (its
    /// output refused a write).
    pub rerouted_since: Option<DateTime<Utc>>,
}

/// A measured signal outside its band.
#[derive(Clone, Debug)]
pub struct Anomaly {
    pub signal: Signal,
    pub value: f64,
    /// The expected (lower, upper), or the limit crossed.
    pub expected: (f64, f64),
    /// When the signal left its band.
    pub since: DateTime<Utc>,
    /// Opened on a forecast: seconds until the SLA is breached.
    pub breach_in: Option<f64>,
}

/// The diagnosis: cause, confidence (0..1), and the evidence that weighed.
#[derive(Clone, Debug)]
pub struct Diagnosis {
    pub cause: Cause,
    pub confidence: f64,
    pub evidence: Vec<Evidence>,
}

struct Scale {
    weights: Vec<(Cause, f64)>,
    evidence: Vec<Evidence>,
}

impl Scale {
    fn add(&mut self, cause: Cause, weight: f64, evidence: Evidence) {
        if let Some(entry) = self.weights.iter_mut().find(|(c, _)| *c == cause) {
            entry.1 += weight;
        } else {
            self.weights.push((cause, weight));
        }
        self.evidence.push(evidence.points_to(cause));
    }
}

/// Names the most likely cause of `anomaly` on `channel`.
pub fn diagnose(channel: &Channel, anomaly: &Anomaly, facts: &Facts) -> Diagnosis {
    let mut scale = Scale {
        weights: Vec::new(),
        evidence: vec![
            Evidence::new(
                "metric",
                anomaly.signal.label(),
                format!(
                    "{} (expected {}–{})",
                    show(anomaly.value),
                    show(anomaly.expected.0),
                    show(anomaly.expected.1)
                ),
            )
            .at(anomaly.since),
        ],
    };
    if let Some(seconds) = anomaly.breach_in {
        scale.evidence.push(Evidence::new(
            "forecast",
            "freshness SLA breached in",
            format!("~{} s at this rate", seconds.round()),
        ));
    }
    if !facts.broker_reachable {
        scale.add(
            Cause::BrokerUnreachable,
            4.0,
            Evidence::new("broker", "broker metadata request", "no answer"),
        );
    }
    for (principal, resource, operation) in &facts.missing_acls {
        scale.add(
            Cause::AclMissing,
            3.0,
            Evidence::new(
                "acl",
                "granted ACL missing on the broker",
                format!("{principal} {operation} {resource}"),
            ),
        );
    }
    let mut classified = 0;
    for (at, who, text) in &facts.errors {
        if let Some(cause) = classify(text)
            && classified < 3
        {
            classified += 1;
            let mut evidence = Evidence::new("error", format!("{who} error"), cut(text));
            evidence.at = *at;
            // A node's own error says why it failed: it outweighs the failure itself.
            let weight = match channel {
                Channel::Node { .. } if who == "node" && cause != Cause::NodeCrashed => 4.0,
                _ => 1.0,
            };
            scale.add(cause, weight, evidence);
        }
    }
    match (channel, anomaly.signal) {
        // Drift is its own evidence (the missing ACLs, weighed above).
        (_, Signal::AclDrift) => {}
        (Channel::Product { .. }, Signal::InvalidRatio) => invalid(&mut scale, facts),
        (Channel::Product { .. }, Signal::PartitionShare) => {
            if let Some((partition, share)) = facts.partition_share {
                scale.add(
                    Cause::PartitionSkew,
                    3.0,
                    Evidence::new(
                        "metric",
                        format!("partition {partition}'s share of the records"),
                        format!("{:.0} %", share * 100.0),
                    ),
                );
            }
        }
        (Channel::Product { .. }, _) => scale.add(
            Cause::ProducerStopped,
            2.0,
            Evidence::new("metric", "records checked per second", show(anomaly.value))
                .at(anomaly.since),
        ),
        (Channel::Subscription { .. }, _) => group(&mut scale, facts),
        (Channel::Node { .. }, _) => node(&mut scale, facts),
        (Channel::Broker, _) => scale.add(
            Cause::BrokerUnreachable,
            2.0,
            Evidence::new("broker", "broker reachable", "no"),
        ),
    }
    let total: f64 = scale.weights.iter().map(|(_, w)| w).sum();
    let (cause, weight) = scale
        .weights
        .iter()
        .copied()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or((fallback(channel), 0.0));
    let confidence = if total > 0.0 {
        (weight / total).clamp(0.0, 1.0)
    } else {
        0.3
    };
    Diagnosis {
        cause,
        confidence: (confidence * 100.0).round() / 100.0,
        evidence: scale.evidence,
    }
}

fn invalid(scale: &mut Scale, facts: &Facts) {
    let total: i64 = facts.invalid_reasons.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return;
    }
    let drift: i64 = facts
        .invalid_reasons
        .iter()
        .filter(|(reason, _)| reason == "unknown_schema_id" || reason == "schema_not_of_subject")
        .map(|(_, n)| n)
        .sum();
    let share = drift as f64 / total as f64;
    let reasons = facts
        .invalid_reasons
        .iter()
        .map(|(reason, n)| format!("{reason}: {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let evidence = Evidence::new("metric", "invalid records by reason", reasons);
    if share >= 0.5 {
        scale.add(Cause::SchemaDrift, 3.0 * share, evidence);
    } else {
        scale.add(Cause::ContractBroken, 3.0 * (1.0 - share), evidence);
    }
}

fn group(scale: &mut Scale, facts: &Facts) {
    let Some(group) = &facts.group else {
        return;
    };
    let members = Evidence::new(
        "group",
        "consumer group members",
        format!("{} ({})", group.members, group.state),
    );
    if group.members == 0 {
        scale.add(Cause::ConsumerStopped, 2.5, members);
        return;
    }
    let progress = Evidence::new(
        "group",
        "consumed vs produced in the window",
        format!("{} of {}", group.consumed, group.produced),
    );
    if group.consumed > 0 {
        scale.add(Cause::ConsumerSlow, 2.5, progress);
    } else {
        // Members that consume nothing: stuck (or refused, which the ACL facts tell).
        scale.add(Cause::ConsumerStopped, 1.5, members);
        scale.add(Cause::ConsumerSlow, 0.5, progress);
    }
}

fn node(scale: &mut Scale, facts: &Facts) {
    let Some(node) = &facts.node else {
        return;
    };
    if node.live == 0 && !node.paused {
        scale.add(
            Cause::NodeCrashed,
            2.5,
            Evidence::new(
                "node",
                "instances with a fresh heartbeat",
                format!("0 of {}", node.known),
            ),
        );
    }
    if let Some((at, detail)) = &node.crashed {
        scale.add(
            Cause::NodeCrashed,
            2.5,
            Evidence::new("node", "a process ended without stopping", detail.clone()).at(*at),
        );
    }
    if let Some(since) = node.rerouted_since {
        scale.add(
            Cause::NodeOutputUnwritable,
            3.0,
            Evidence::new(
                "node",
                "output refused a write; output parked on the detour topic",
                "rerouted",
            )
            .at(since),
        );
    }
    if node.restarts > 1 {
        scale.add(
            Cause::NodeCrashed,
            1.0,
            Evidence::new("node", "restarts in the window", node.restarts.to_string()),
        );
    }
    if node.error_steps > 0 && node.live > 0 {
        scale.add(
            Cause::NodeCrashed,
            0.5,
            Evidence::new(
                "node",
                "steps with errors in the window",
                node.error_steps.to_string(),
            ),
        );
    }
}

/// The cause to name when no fact weighed.
fn fallback(channel: &Channel) -> Cause {
    match channel {
        Channel::Product { .. } => Cause::ProducerStopped,
        Channel::Subscription { .. } => Cause::ConsumerSlow,
        Channel::Node { .. } => Cause::NodeCrashed,
        Channel::Broker => Cause::BrokerUnreachable,
    }
}

fn show(value: f64) -> String {
    if value.abs() >= 100.0 || value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

fn cut(text: &str) -> String {
    match text.char_indices().nth(300) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        Utc::now()
    }

    fn anomaly(signal: Signal) -> Anomaly {
        Anomaly {
            signal,
            value: 0.0,
            expected: (1.0, 3.0),
            since: at(),
            breach_in: None,
        }
    }

    fn product() -> Channel {
        Channel::Product {
            product: "customer-signed-up".into(),
            topic: "customer.signed-up.v1".into(),
        }
    }

    fn subscription() -> Channel {
        Channel::Subscription {
            subscription: uuid::Uuid::nil(),
            group: "svc-marketing-campaigns".into(),
            product: "customer-signed-up".into(),
        }
    }

    fn node_channel() -> Channel {
        Channel::Node {
            node: "customer-enrichment".into(),
            product: "enriched-customer-signed-up".into(),
        }
    }

    fn reachable() -> Facts {
        Facts {
            broker_reachable: true,
            ..Facts::default()
        }
    }

    #[test]
    fn a_silent_topic_with_a_healthy_broker_is_a_stopped_producer() {
        let d = diagnose(&product(), &anomaly(Signal::RateIn), &reachable());
        assert_eq!(d.cause, Cause::ProducerStopped);
        assert!(d.confidence >= 0.9);
    }

    #[test]
    fn a_silent_topic_with_an_unreachable_broker_is_the_broker() {
        let facts = Facts {
            broker_reachable: false,
            ..Facts::default()
        };
        let d = diagnose(&product(), &anomaly(Signal::RateIn), &facts);
        assert_eq!(d.cause, Cause::BrokerUnreachable);
    }

    #[test]
    fn a_missing_write_acl_outweighs_a_stopped_producer() {
        let facts = Facts {
            missing_acls: vec![(
                "User:svc-producer-customer-management".into(),
                "customer.signed-up.v1".into(),
                "write".into(),
            )],
            ..reachable()
        };
        let d = diagnose(&product(), &anomaly(Signal::RateIn), &facts);
        assert_eq!(d.cause, Cause::AclMissing);
        assert!(d.evidence.iter().any(|e| e.kind == "acl"));
    }

    #[test]
    fn invalid_records_are_drift_or_broken_contract_by_their_reasons() {
        let drift = Facts {
            invalid_reasons: vec![("unknown_schema_id".into(), 90), ("invalid".into(), 2)],
            ..reachable()
        };
        let broken = Facts {
            invalid_reasons: vec![("invalid".into(), 40), ("not_wire_format".into(), 10)],
            ..reachable()
        };
        let signal = anomaly(Signal::InvalidRatio);
        assert_eq!(
            diagnose(&product(), &signal, &drift).cause,
            Cause::SchemaDrift
        );
        assert_eq!(
            diagnose(&product(), &signal, &broken).cause,
            Cause::ContractBroken
        );
    }

    #[test]
    fn lag_with_no_members_is_a_stopped_consumer_and_with_progress_a_slow_one() {
        let stopped = Facts {
            group: Some(GroupFacts {
                members: 0,
                state: "Empty".into(),
                consumed: 0,
                produced: 120,
            }),
            ..reachable()
        };
        let slow = Facts {
            group: Some(GroupFacts {
                members: 1,
                state: "Stable".into(),
                consumed: 60,
                produced: 120,
            }),
            ..reachable()
        };
        let lag = anomaly(Signal::LagSeconds);
        assert_eq!(
            diagnose(&subscription(), &lag, &stopped).cause,
            Cause::ConsumerStopped
        );
        assert_eq!(
            diagnose(&subscription(), &lag, &slow).cause,
            Cause::ConsumerSlow
        );
    }

    #[test]
    fn a_refused_consumer_is_a_missing_acl() {
        let facts = Facts {
            missing_acls: vec![(
                "User:svc-marketing".into(),
                "customer.signed-up.v1".into(),
                "read".into(),
            )],
            errors: vec![(
                None,
                "consumer".into(),
                "Broker: Topic authorization failed".into(),
            )],
            group: Some(GroupFacts {
                members: 1,
                state: "Stable".into(),
                consumed: 0,
                produced: 100,
            }),
            ..reachable()
        };
        let d = diagnose(&subscription(), &anomaly(Signal::LagSeconds), &facts);
        assert_eq!(d.cause, Cause::AclMissing);
    }

    #[test]
    fn a_node_is_crashed_when_gone_and_unwritable_when_its_errors_say_so() {
        let gone = Facts {
            node: Some(NodeFacts {
                live: 0,
                known: 1,
                ..NodeFacts::default()
            }),
            ..reachable()
        };
        let unwritable = Facts {
            node: Some(NodeFacts {
                live: 1,
                known: 1,
                error_steps: 3,
                ..NodeFacts::default()
            }),
            errors: vec![
                (None, "node".into(), "Broker: Message size too large".into()),
                (None, "node".into(), "Broker: Message size too large".into()),
            ],
            ..reachable()
        };
        let rate = anomaly(Signal::NodeRate);
        assert_eq!(
            diagnose(&node_channel(), &rate, &gone).cause,
            Cause::NodeCrashed
        );
        assert_eq!(
            diagnose(&node_channel(), &rate, &unwritable).cause,
            Cause::NodeOutputUnwritable
        );
    }

    #[test]
    fn a_node_that_dies_on_an_unwritable_output_is_unwritable_and_a_killed_one_crashed() {
        let crashed = Some((at(), "instance 0: pid 10 replaced by pid 11".to_owned()));
        let looping = Facts {
            node: Some(NodeFacts {
                live: 1,
                known: 1,
                restarts: 3,
                crashed: crashed.clone(),
                ..NodeFacts::default()
            }),
            errors: vec![(
                None,
                "node".into(),
                "Message production error: MessageSizeTooLarge (Broker: Message size too large)"
                    .into(),
            )],
            ..reachable()
        };
        let killed = Facts {
            node: Some(NodeFacts {
                live: 1,
                known: 1,
                restarts: 1,
                crashed,
                ..NodeFacts::default()
            }),
            ..reachable()
        };
        let rate = anomaly(Signal::NodeRate);
        assert_eq!(
            diagnose(&node_channel(), &rate, &looping).cause,
            Cause::NodeOutputUnwritable
        );
        assert_eq!(
            diagnose(&node_channel(), &rate, &killed).cause,
            Cause::NodeCrashed
        );
    }

    #[test]
    fn a_node_that_parks_its_output_on_the_detour_has_an_unwritable_output() {
        // The first refusal aborts a transaction (an error step), and the node says why.
        let since = at();
        let rerouted = Facts {
            node: Some(NodeFacts {
                live: 1,
                known: 1,
                error_steps: 1,
                rerouted_since: Some(since),
                ..NodeFacts::default()
            }),
            ..reachable()
        };
        let d = diagnose(&node_channel(), &anomaly(Signal::NodeRate), &rerouted);
        assert_eq!(d.cause, Cause::NodeOutputUnwritable);
        assert!(
            d.evidence
                .iter()
                .any(|e| e.label.contains("detour") && e.at == Some(since)),
            "{:?}",
            d.evidence
        );
    }

    #[test]
    fn acl_drift_on_a_producers_topic_is_a_missing_acl_for_certain() {
        let facts = Facts {
            missing_acls: vec![(
                "User:svc-customer-management-producer".into(),
                "customer.signed-up.v1".into(),
                "write".into(),
            )],
            ..reachable()
        };
        let d = diagnose(&product(), &anomaly(Signal::AclDrift), &facts);
        assert_eq!(d.cause, Cause::AclMissing);
        assert_eq!(d.confidence, 1.0);
    }

    #[test]
    fn a_hot_partition_is_skew() {
        let facts = Facts {
            partition_share: Some((2, 0.97)),
            ..reachable()
        };
        let d = diagnose(&product(), &anomaly(Signal::PartitionShare), &facts);
        assert_eq!(d.cause, Cause::PartitionSkew);
    }
}
