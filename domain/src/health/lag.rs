//! Consumer lag of each live subscription, read from the broker: for every consumer group
//! under the subscription's granted prefix, its committed offsets against the partitions'
//! end offsets (messages behind), and the age of the first record it has not consumed
//! (seconds behind). A group that never committed on a partition is behind by everything
//! the partition holds.
//!
//! Blocking broker calls; async callers run [`measure`] on a blocking thread.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use uuid::Uuid;

use crate::broker::BrokerConfig;
use crate::db::Timestamp;

const TIMEOUT: Duration = Duration::from_secs(5);

/// A live subscription whose lag is measured.
#[derive(Clone, Debug)]
pub struct Watched {
    pub subscription: Uuid,
    /// The granted group prefix.
    pub group_prefix: String,
    pub topics: Vec<String>,
}

/// One group's lag.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    pub subscription: Uuid,
    pub group: String,
    pub messages: i64,
    pub seconds: f64,
    /// The group's committed offsets summed over its partitions (its progress).
    pub committed: i64,
}

/// Active subscriptions and their topics.
pub async fn watched(pool: &sqlx::PgPool) -> Result<Vec<Watched>, sqlx::Error> {
    sqlx::query_as!(
        Watched,
        r#"select s.id as subscription, s.consumer_group as group_prefix,
                  array_agg(sp.topic order by sp.topic) as "topics!"
           from subscriptions s join subscription_ports sp on sp.subscription_id = s.id
           where s.state = 'active' group by s.id, s.consumer_group"#,
    )
    .fetch_all(pool)
    .await
}

/// Stores measured lags as this step's points.
pub async fn record(pool: &sqlx::PgPool, measured: &[Measured]) -> Result<(), sqlx::Error> {
    let at = super::step_of(Utc::now());
    for lag in measured {
        sqlx::query!(
            r#"insert into lag_points (subscription_id, consumer_group, at, messages, seconds,
                   committed)
               values ($1, $2, $3, $4, $5, $6)
               on conflict (subscription_id, consumer_group, at) do update
               set messages = excluded.messages, seconds = excluded.seconds,
                   committed = excluded.committed"#,
            lag.subscription,
            lag.group,
            at as Timestamp,
            lag.messages,
            lag.seconds,
            lag.committed,
        )
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// Measures every watched subscription's groups (blocking).
pub fn measure(
    config: &BrokerConfig,
    watched: &[Watched],
) -> Result<Vec<Measured>, rdkafka::error::KafkaError> {
    if watched.is_empty() {
        return Ok(Vec::new());
    }
    let admin: BaseConsumer = config
        .consumer_config("meshmart-lag", "meshmart-lag")
        .create()?;
    let groups: Vec<String> = admin
        .fetch_group_list(None, TIMEOUT)?
        .groups()
        .iter()
        .map(|g| g.name().to_string())
        .collect();
    let mut ends: HashMap<(String, i32), (i64, i64)> = HashMap::new();
    let mut measured = Vec::new();
    for subscription in watched {
        let mut partitions = TopicPartitionList::new();
        for topic in &subscription.topics {
            let metadata = admin.fetch_metadata(Some(topic), TIMEOUT)?;
            for t in metadata.topics() {
                for p in t.partitions() {
                    partitions.add_partition(topic, p.id());
                    if let std::collections::hash_map::Entry::Vacant(slot) =
                        ends.entry((topic.clone(), p.id()))
                    {
                        slot.insert(admin.fetch_watermarks(topic, p.id(), TIMEOUT)?);
                    }
                }
            }
        }
        for group in groups
            .iter()
            .filter(|g| g.starts_with(&subscription.group_prefix))
        {
            let reader: BaseConsumer = config.consumer_config("meshmart-lag", group).create()?;
            let committed = reader.committed_offsets(partitions.clone(), TIMEOUT)?;
            let mut messages = 0;
            let mut progress = 0;
            let mut oldest: Option<DateTime<Utc>> = None;
            let mut behind = TopicPartitionList::new();
            for element in committed.elements() {
                let Some(&(low, high)) =
                    ends.get(&(element.topic().to_string(), element.partition()))
                else {
                    continue;
                };
                let from = match element.offset() {
                    Offset::Offset(offset) => offset.max(low),
                    _ => low,
                };
                progress += from;
                if high > from {
                    messages += high - from;
                    behind.add_partition_offset(
                        element.topic(),
                        element.partition(),
                        Offset::Offset(from),
                    )?;
                }
            }
            if behind.count() > 0 {
                oldest = first_unconsumed(config, &behind)?;
            }
            measured.push(Measured {
                subscription: subscription.subscription,
                group: group.clone(),
                messages,
                seconds: oldest
                    .map(|at| ((Utc::now() - at).num_milliseconds().max(0) as f64) / 1000.0)
                    .unwrap_or(0.0),
                committed: progress,
            });
        }
    }
    Ok(measured)
}

/// The oldest timestamp among the first records at the given offsets.
fn first_unconsumed(
    config: &BrokerConfig,
    at: &TopicPartitionList,
) -> Result<Option<DateTime<Utc>>, rdkafka::error::KafkaError> {
    // A group of its own that never commits: reading here moves nobody's offsets.
    let reader: BaseConsumer = config
        .consumer_config("meshmart-lag", "meshmart-lag-peek")
        .set("enable.auto.commit", "false")
        .create()?;
    reader.assign(at)?;
    let mut wanted = at.count();
    let mut oldest: Option<DateTime<Utc>> = None;
    let deadline = std::time::Instant::now() + TIMEOUT;
    let mut seen = std::collections::HashSet::new();
    while wanted > 0 && std::time::Instant::now() < deadline {
        match reader.poll(Duration::from_millis(200)) {
            Some(Ok(message))
                if seen.insert((message.topic().to_string(), message.partition())) =>
            {
                wanted -= 1;
                if let Some(ms) = message.timestamp().to_millis()
                    && let Some(at) = Utc.timestamp_millis_opt(ms).single()
                {
                    oldest = Some(oldest.map_or(at, |o| o.min(at)));
                }
            }
            Some(Ok(_)) => {}
            Some(Err(error)) => return Err(error),
            None => {}
        }
    }
    Ok(oldest)
}
