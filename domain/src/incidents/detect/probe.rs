//! The detector's look at the broker: consumer groups' members and state, and each
//! product topic's high watermarks, through one client kept across rounds.

use std::collections::HashMap;
use std::sync::Arc;

use rdkafka::consumer::{BaseConsumer, Consumer};

use super::{BROKER_TIMEOUT, Marks};
use crate::broker::BrokerConfig;

/// Group members and topic watermarks, from the broker.
#[derive(Default)]
pub(super) struct Probe {
    /// group → (members, state)
    pub(super) groups: HashMap<String, (usize, String)>,
    pub(super) watermarks: Marks,
}

/// The detector's broker client, made once and kept across rounds (a new one would
/// authenticate and fetch metadata again every 5 seconds).
pub(super) fn probe_client(
    config: &BrokerConfig,
) -> Result<Arc<BaseConsumer>, rdkafka::error::KafkaError> {
    Ok(Arc::new(
        config
            .consumer_config("meshmart-detector", "meshmart-detector")
            .create()?,
    ))
}

pub(super) fn probe(
    client: &BaseConsumer,
    topics: &[String],
) -> Result<Probe, rdkafka::error::KafkaError> {
    let timeout = BROKER_TIMEOUT;
    let groups = client
        .fetch_group_list(None, timeout)?
        .groups()
        .iter()
        .map(|g| {
            (
                g.name().to_owned(),
                (g.members().len(), g.state().to_owned()),
            )
        })
        .collect();
    let mut watermarks = HashMap::new();
    for topic in topics {
        let metadata = client.fetch_metadata(Some(topic), timeout)?;
        let mut marks = Vec::new();
        for t in metadata.topics().iter().filter(|t| t.error().is_none()) {
            for p in t.partitions() {
                let (_, high) = client.fetch_watermarks(topic, p.id(), timeout)?;
                marks.push((p.id(), high));
            }
        }
        watermarks.insert(topic.clone(), marks);
    }
    Ok(Probe { groups, watermarks })
}
