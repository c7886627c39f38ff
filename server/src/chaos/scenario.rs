//! The fault suite's scenarios: one per cause an incident can name, plus a clean run. Each
//! says which cause it injects, which channels an incident about it may be on, what its
//! producer sends while the fault lasts, where its events are counted, and what it needs
//! from the stack. Nothing here does I/O.

use std::str::FromStr;

use domain::traffic::BadKind;
use domain::traffic::live::Mode;

/// A fault the suite injects (or none, for [`Scenario::Clean`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scenario {
    /// No fault; the diurnal curve in a compressed day. Every incident is a false one.
    Clean,
    ProducerStopped,
    ContractBroken,
    SchemaDrift,
    HotPartition,
    ConsumerStopped,
    ConsumerSlow,
    AclRemoved,
    NodeCrashed,
    NodeOutputUnwritable,
    BrokerUnreachable,
}

/// What kind of channel an incident about a scenario is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelKind {
    /// The harness's product (its port's topic).
    Product,
    /// The subscription whose consumer the harness runs.
    Subscription,
    /// The stream node.
    Node,
    Broker,
}

/// Where a scenario's events are counted against the producer's log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CountedOn {
    /// The product's topic, by the records' run and sequence headers.
    ProductTopic,
    /// The node's output and dead-letter topics, by the input coordinates they name.
    NodeOutput,
}

/// The names of the things a run knows about, for the channel keys an incident may carry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Names {
    pub product: String,
    pub subscription: Option<uuid::Uuid>,
    pub subscribed_product: Option<String>,
    pub node: Option<String>,
}

/// The share of records `contract-broken` breaks.
pub const BROKEN_SHARE: f64 = 0.3;

impl Scenario {
    /// Every scenario, in the order `all` runs them: the clean run first (a baseline before
    /// any fault), the broker outage last (it disturbs every client).
    pub const ALL: [Scenario; 11] = [
        Scenario::Clean,
        Scenario::ProducerStopped,
        Scenario::ContractBroken,
        Scenario::SchemaDrift,
        Scenario::HotPartition,
        Scenario::ConsumerStopped,
        Scenario::ConsumerSlow,
        Scenario::AclRemoved,
        Scenario::NodeCrashed,
        Scenario::NodeOutputUnwritable,
        Scenario::BrokerUnreachable,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Clean => "clean",
            Scenario::ProducerStopped => "producer-stopped",
            Scenario::ContractBroken => "contract-broken",
            Scenario::SchemaDrift => "schema-drift",
            Scenario::HotPartition => "hot-partition",
            Scenario::ConsumerStopped => "consumer-stopped",
            Scenario::ConsumerSlow => "consumer-slow",
            Scenario::AclRemoved => "acl-removed",
            Scenario::NodeCrashed => "node-crashed",
            Scenario::NodeOutputUnwritable => "node-output-unwritable",
            Scenario::BrokerUnreachable => "broker-unreachable",
        }
    }

    /// The cause an incident should name, as the `incidents.cause` column spells it
    /// (`domain::incidents::Cause::as_str`); `None` for the clean run.
    pub fn cause(self) -> Option<&'static str> {
        Some(match self {
            Scenario::Clean => return None,
            Scenario::ProducerStopped => "producer_stopped",
            Scenario::ContractBroken => "contract_broken",
            Scenario::SchemaDrift => "schema_drift",
            Scenario::HotPartition => "partition_skew",
            Scenario::ConsumerStopped => "consumer_stopped",
            Scenario::ConsumerSlow => "consumer_slow",
            Scenario::AclRemoved => "acl_missing",
            Scenario::NodeCrashed => "node_crashed",
            Scenario::NodeOutputUnwritable => "node_output_unwritable",
            Scenario::BrokerUnreachable => "broker_unreachable",
        })
    }

    /// The kinds of channel an incident about the fault may be on, the likeliest first.
    pub fn channels(self) -> &'static [ChannelKind] {
        match self {
            Scenario::Clean => &[],
            Scenario::ProducerStopped
            | Scenario::ContractBroken
            | Scenario::SchemaDrift
            | Scenario::HotPartition => &[ChannelKind::Product],
            Scenario::ConsumerStopped | Scenario::ConsumerSlow => &[ChannelKind::Subscription],
            // The subscriber's reads are refused: its group stalls, its product is fine.
            Scenario::AclRemoved => &[ChannelKind::Subscription, ChannelKind::Product],
            Scenario::NodeCrashed | Scenario::NodeOutputUnwritable => &[ChannelKind::Node],
            Scenario::BrokerUnreachable => &[ChannelKind::Broker],
        }
    }

    /// What the harness's producer sends while the fault lasts (`Normal` when the fault is
    /// elsewhere).
    pub fn producer_mode(self) -> Mode {
        match self {
            Scenario::ProducerStopped => Mode::Stopped,
            Scenario::ContractBroken => Mode::Broken {
                share: BROKEN_SHARE,
                kinds: vec![BadKind::WrongType, BadKind::MissingRequired],
            },
            Scenario::SchemaDrift => Mode::Drifted,
            Scenario::HotPartition => Mode::HotKey,
            _ => Mode::Normal,
        }
    }

    /// Where the scenario's events are counted.
    pub fn counted_on(self) -> CountedOn {
        match self {
            Scenario::NodeCrashed | Scenario::NodeOutputUnwritable => CountedOn::NodeOutput,
            _ => CountedOn::ProductTopic,
        }
    }

    /// Whether the harness runs the subscriber's consumer (its group is the channel).
    pub fn needs_subscriber(self) -> bool {
        matches!(
            self,
            Scenario::ConsumerStopped | Scenario::ConsumerSlow | Scenario::AclRemoved
        )
    }

    /// Whether the scenario needs the stream node.
    pub fn needs_node(self) -> bool {
        matches!(self, Scenario::NodeCrashed | Scenario::NodeOutputUnwritable)
    }

    /// Whether no event may be lost in it (the target): every scenario whose fault
    /// is undone. A stopped producer sends nothing, so it loses nothing either.
    pub fn recoverable(self) -> bool {
        self != Scenario::Clean
    }

    /// The channel keys (or key prefixes) of `names` an incident about the fault may carry:
    /// `product:<slug>` (also with `/<topic>`), `subscription:<id>/`, `node:<name>`, `broker`.
    pub fn channel_keys(self, names: &Names) -> Vec<String> {
        self.channels()
            .iter()
            .filter_map(|kind| match kind {
                ChannelKind::Product => Some(format!(
                    "product:{}",
                    if self == Scenario::AclRemoved {
                        names.subscribed_product.as_deref()?
                    } else {
                        names.product.as_str()
                    }
                )),
                ChannelKind::Subscription => {
                    names.subscription.map(|id| format!("subscription:{id}/"))
                }
                ChannelKind::Node => names.node.as_ref().map(|n| format!("node:{n}")),
                ChannelKind::Broker => Some("broker".to_string()),
            })
            .collect()
    }
}

/// Whether an incident's channel key is one of `keys` ([`Scenario::channel_keys`]): equal,
/// or under it (`product:a` covers `product:a/topic`, not `product:ab`).
pub fn channel_matches(keys: &[String], channel: &str) -> bool {
    keys.iter().any(|key| {
        channel == key
            || (key.ends_with('/') && channel.starts_with(key.as_str()))
            || channel
                .strip_prefix(key.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

impl FromStr for Scenario {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Scenario::ALL
            .into_iter()
            .find(|s| s.name() == text)
            .ok_or_else(|| {
                format!(
                    "unknown scenario `{text}`; scenarios are all, {}",
                    Scenario::ALL.map(Scenario::name).join(", ")
                )
            })
    }
}

/// The scenarios a command line names: each once, in the suite's order; `all` (or
/// nothing) for every one.
pub fn selection(names: &[String]) -> Result<Vec<Scenario>, String> {
    if names.is_empty() || names.iter().any(|n| n == "all") {
        return Ok(Scenario::ALL.to_vec());
    }
    let mut chosen = names
        .iter()
        .map(|n| n.parse::<Scenario>())
        .collect::<Result<Vec<_>, _>>()?;
    chosen.sort();
    chosen.dedup();
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The causes `domain::incidents::Cause` names (its `as_str`), which the migration's
    /// `incidents.cause` column holds.
    const CAUSES: [&str; 10] = [
        "producer_stopped",
        "contract_broken",
        "schema_drift",
        "consumer_stopped",
        "consumer_slow",
        "node_crashed",
        "node_output_unwritable",
        "acl_missing",
        "broker_unreachable",
        "partition_skew",
    ];

    #[test]
    fn every_cause_is_injected_by_exactly_one_scenario() {
        for cause in CAUSES {
            let injecting: Vec<_> = Scenario::ALL
                .into_iter()
                .filter(|s| s.cause() == Some(cause))
                .collect();
            assert_eq!(injecting.len(), 1, "{cause}: {injecting:?}");
        }
        let faults = Scenario::ALL.iter().filter(|s| s.cause().is_some()).count();
        assert_eq!(faults, CAUSES.len(), "no scenario injects an unknown cause");
    }

    #[test]
    fn names_parse_back_and_the_selection_keeps_the_suite_order() {
        for scenario in Scenario::ALL {
            assert_eq!(scenario.name().parse::<Scenario>(), Ok(scenario));
        }
        let error = "bogus".parse::<Scenario>().expect_err("unknown");
        assert!(error.contains("acl-removed"), "{error}");
        let chosen = selection(&[
            "broker-unreachable".to_string(),
            "clean".to_string(),
            "clean".to_string(),
        ])
        .expect("known");
        assert_eq!(chosen, vec![Scenario::Clean, Scenario::BrokerUnreachable]);
        assert_eq!(selection(&[]).expect("all"), Scenario::ALL.to_vec());
        assert_eq!(
            selection(&["all".to_string()]).expect("all"),
            Scenario::ALL.to_vec()
        );
        assert!(selection(&["clean".to_string(), "nope".to_string()]).is_err());
    }

    #[test]
    fn the_producer_misbehaves_only_in_the_producers_scenarios() {
        assert_eq!(Scenario::ProducerStopped.producer_mode(), Mode::Stopped);
        assert_eq!(Scenario::SchemaDrift.producer_mode(), Mode::Drifted);
        assert_eq!(Scenario::HotPartition.producer_mode(), Mode::HotKey);
        match Scenario::ContractBroken.producer_mode() {
            Mode::Broken { share, kinds } => {
                assert_eq!(share, BROKEN_SHARE);
                assert_eq!(kinds, vec![BadKind::WrongType, BadKind::MissingRequired]);
            }
            other => panic!("contract-broken sends {other:?}"),
        }
        for scenario in [
            Scenario::Clean,
            Scenario::ConsumerStopped,
            Scenario::AclRemoved,
            Scenario::NodeCrashed,
            Scenario::BrokerUnreachable,
        ] {
            assert_eq!(scenario.producer_mode(), Mode::Normal, "{scenario:?}");
        }
    }

    #[test]
    fn incidents_are_expected_on_the_faulty_channel_only() {
        let id = uuid::Uuid::nil();
        let names = Names {
            product: "customer-signed-up".to_string(),
            subscription: Some(id),
            subscribed_product: Some("enriched-customer-signed-up".to_string()),
            node: Some("customer-enrichment".to_string()),
        };
        let keys = Scenario::ContractBroken.channel_keys(&names);
        assert!(channel_matches(
            &keys,
            "product:customer-signed-up/customer-management.customer-signed-up.v1"
        ));
        assert!(channel_matches(&keys, "product:customer-signed-up"));
        assert!(!channel_matches(&keys, "product:customer-signed-up-copy/x"));
        assert!(!channel_matches(&keys, "node:customer-enrichment"));

        let keys = Scenario::ConsumerSlow.channel_keys(&names);
        assert!(channel_matches(
            &keys,
            &format!("subscription:{id}/svc-marketing-campaigns.chaos")
        ));
        assert!(!channel_matches(&keys, "product:customer-signed-up/t"));

        let keys = Scenario::AclRemoved.channel_keys(&names);
        assert!(channel_matches(&keys, &format!("subscription:{id}/g")));
        assert!(channel_matches(
            &keys,
            "product:enriched-customer-signed-up/t"
        ));
        assert!(!channel_matches(&keys, "product:customer-signed-up/t"));

        let keys = Scenario::NodeCrashed.channel_keys(&names);
        assert!(channel_matches(&keys, "node:customer-enrichment"));
        assert!(!channel_matches(&keys, "node:customer-enrichment-2"));
        assert_eq!(
            Scenario::BrokerUnreachable.channel_keys(&names),
            vec!["broker"]
        );
        assert!(Scenario::Clean.channel_keys(&names).is_empty());

        // Without a subscription or node there is no channel to expect.
        let bare = Names {
            product: "p".to_string(),
            ..Names::default()
        };
        assert!(Scenario::ConsumerStopped.channel_keys(&bare).is_empty());
        assert!(Scenario::NodeCrashed.channel_keys(&bare).is_empty());
    }
}
