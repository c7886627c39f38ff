//! The detector's round (every 5 seconds, in every server process; incidents are unique
//! per channel and signal, so two processes open one): measure each channel's newest
//! complete steps, compare them with the learned bands ([`super::model`]), forecast lag
//! against freshness SLAs, gather the facts of each anomalous channel and diagnose it
//! ([`super::diagnose`]), open or refresh its incident, run the automatic actions, and
//! resolve incidents whose signal came back. Models are retrained every minute on each
//! channel's history without its incidents' time, so a fault is never learned as normal.
//!
//! A downstream symptom is not a second incident: while the broker is unreachable only the
//! broker's incident opens (and for 30 s after it is back, while clients catch up); a
//! node whose input stopped is not diagnosed as crashed.
//!
//! The round itself is here; the checks of each channel are in `port.rs`, `group.rs` and
//! `node.rs`, the broker probe in `probe.rs`, retraining in `train.rs` and an incident's
//! summary in `summary.rs`.

mod group;
mod node;
mod port;
mod probe;
mod summary;
mod train;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use rdkafka::consumer::BaseConsumer;
use sqlx::PgPool;
use uuid::Uuid;

use super::diagnose::{Anomaly, Facts, diagnose};
use super::model::{self, Band};
use super::signals::{self, Point, last_complete_step};
use super::store::{self, NewIncident};
use super::{Channel, Signal};
use crate::broker::{BrokerAdmin, BrokerConfig};
use crate::health::STEP_SECONDS;
use probe::{Probe, probe, probe_client};
use summary::summary;

/// How often models are retrained: every minute, so a slow daily curve is followed
/// (fitting every channel's models takes milliseconds).
const RETRAIN_EVERY: i64 = 60;
/// How often training is tried while some channel has no model yet (too little history).
const LEARN_EVERY: i64 = 60;
/// Consecutive complete steps outside the band that make an anomaly.
const STEPS_OUT: usize = 2;
/// Rounds without the anomaly before an incident resolves.
const ROUNDS_CLEAR: u32 = 3;
/// A predicted breach this near opens an incident.
const PREDICT_WITHIN_SECONDS: f64 = 300.0;
/// After the broker comes back, its clients catch up this long before anything else is
/// judged.
const SETTLE_AFTER_BROKER: i64 = 30;
/// A node's crash keeps its channel anomalous this long (the replacement usually runs
/// within seconds: the incident records the crash, then resolves).
const CRASH_SECONDS: i64 = 60;
/// The window over which partitions' shares of a topic's records are compared, seconds.
const SKEW_WINDOW: i64 = 30;
/// The broker's answer is awaited this long.
const BROKER_TIMEOUT: StdDuration = StdDuration::from_secs(3);

/// High watermarks per partition, by topic.
type Marks = HashMap<String, Vec<(i32, i64)>>;

/// What the detector keeps between rounds.
#[derive(Default)]
pub struct Detector {
    bands: HashMap<(String, Signal), Band>,
    loaded: bool,
    trained_at: Option<DateTime<Utc>>,
    /// Whether the last training left a channel without a model.
    learning: bool,
    clear: HashMap<Uuid, u32>,
    /// High watermarks per topic and partition, per round (`SKEW_WINDOW` of them).
    watermarks: VecDeque<(DateTime<Utc>, Marks)>,
    broker_down_since: Option<DateTime<Utc>>,
    broker_back_at: Option<DateTime<Utc>>,
    /// Each node process as last seen, to tell a crash (replaced without stopping).
    instances: HashMap<(String, i32), signals::InstanceNow>,
    /// The newest crash of each node: when, and what was seen.
    crashes: HashMap<String, (DateTime<Utc>, String)>,
    /// The ACLs missing last round (drift must last two rounds).
    missing_before: HashSet<signals::Acl>,
    /// The broker client of the probes (group members, watermarks).
    client: Option<Arc<BaseConsumer>>,
}

/// What a round did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    pub opened: Vec<Uuid>,
    pub resolved: usize,
    pub trained: usize,
    pub anomalies: usize,
    /// Seconds of one core the models' fitting took this round (0 without training).
    pub training_seconds: f64,
}

/// Whether `topic` went quiet this round or has an open records-in incident.
fn quiet(quiet: &HashSet<String>, open: &[store::OpenIncident], topic: &str) -> bool {
    quiet.contains(topic)
        || open.iter().any(|i| {
            i.signal == Signal::RateIn.as_str() && i.channel.ends_with(&format!("/{topic}"))
        })
}

/// The first point of the trailing run of points for which `out` holds, if the run is at
/// least `STEPS_OUT` long.
fn trailing_run(points: &[Point], out: impl Fn(&Point) -> bool) -> Option<(DateTime<Utc>, f64)> {
    let run = points.iter().rev().take_while(|p| out(p)).count();
    if run < STEPS_OUT {
        return None;
    }
    let first = points[points.len() - run];
    let last = points[points.len() - 1];
    Some((first.0, last.1))
}

struct Found {
    channel: Channel,
    anomaly: Anomaly,
    facts: Facts,
    domain: Option<String>,
}
impl Detector {
    /// The signal models (channel and signal) the detector holds now.
    pub fn models(&self) -> usize {
        self.bands.len()
    }

    /// One round at `now`.
    pub async fn round(
        &mut self,
        pool: &PgPool,
        admin: &BrokerAdmin,
        config: &BrokerConfig,
        now: DateTime<Utc>,
    ) -> Result<Report, sqlx::Error> {
        if !self.loaded {
            for (channel, signal, _, band) in model::load_all(pool).await? {
                self.bands.insert((channel, signal), band);
            }
            self.loaded = true;
        }
        let mut report = Report::default();
        let step = last_complete_step(now);
        let reachable = admin.check(BROKER_TIMEOUT).await.is_ok();
        if reachable {
            if self.broker_down_since.take().is_some() {
                self.broker_back_at = Some(now);
            }
        } else {
            self.broker_down_since.get_or_insert(now);
        }
        let settling = self
            .broker_back_at
            .is_some_and(|at| now - at < Duration::seconds(SETTLE_AFTER_BROKER));
        let nodes = signals::nodes_now(pool, step).await?;
        self.track(signals::instances_now(pool).await?);
        let ports = signals::ports(pool).await?;
        let groups = signals::groups(pool, now - Duration::minutes(2)).await?;
        let open = store::open_incidents(pool).await?;
        let open_by_key: HashMap<(String, String), &store::OpenIncident> = open
            .iter()
            .map(|i| ((i.channel.clone(), i.signal.clone()), i))
            .collect();

        let mut found: Vec<Found> = Vec::new();
        if !reachable {
            let since = self.broker_down_since.unwrap_or(now);
            found.push(Found {
                channel: Channel::Broker,
                anomaly: Anomaly {
                    signal: Signal::BrokerReachable,
                    value: 0.0,
                    expected: (1.0, 1.0),
                    since,
                    breach_in: None,
                },
                facts: Facts::default(),
                domain: None,
            });
        } else if !settling {
            let missing: Vec<(String, String, String)> =
                crate::provisioning::missing_acls(pool, admin)
                    .await
                    .unwrap_or_default()
                    .into_iter()
                    .map(|b| {
                        (
                            b.principal,
                            b.resource_name,
                            format!("{:?}", b.operation).to_lowercase(),
                        )
                    })
                    .collect();
            // A granted ACL missing on the broker is an incident of its channel (the
            // detector repairs it: automatic), whether or not anything failed yet — once
            // it was missing two rounds running and no provisioning is in flight (the
            // outbox applies new grants moments after they are written).
            let persistent: Vec<signals::Acl> = missing
                .iter()
                .filter(|acl| self.missing_before.contains(*acl))
                .cloned()
                .collect();
            self.missing_before = missing.iter().cloned().collect();
            let provisioning: bool = sqlx::query_scalar!(
                r#"select exists (select 1 from outbox
                   where done_at is null and created_at > now() - interval '2 minutes')
                     as "provisioning!""#,
            )
            .fetch_one(pool)
            .await?;
            let drifted = if provisioning {
                Vec::new()
            } else {
                signals::acl_channels(pool, &persistent).await?
            };
            for (channel, domain, triples) in drifted {
                found.push(Found {
                    channel,
                    anomaly: Anomaly {
                        signal: Signal::AclDrift,
                        value: triples.len() as f64,
                        expected: (0.0, 0.0),
                        since: now,
                        breach_in: None,
                    },
                    facts: Facts {
                        broker_reachable: true,
                        missing_acls: triples,
                        ..Facts::default()
                    },
                    domain: Some(domain),
                });
            }
            let topics: Vec<String> = ports.iter().map(|p| p.topic.clone()).collect();
            if self.client.is_none() {
                self.client = probe_client(config).ok();
            }
            let probed = match self.client.clone() {
                Some(client) => tokio::task::spawn_blocking(move || probe(&client, &topics))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or_default(),
                None => Probe::default(),
            };
            self.watermarks.push_back((now, probed.watermarks.clone()));
            while self
                .watermarks
                .front()
                .is_some_and(|(at, _)| now - *at > Duration::seconds(SKEW_WINDOW + 5))
            {
                self.watermarks.pop_front();
            }
            let mut quiet_inputs: HashSet<String> = HashSet::new();
            for port in &ports {
                self.port(
                    pool,
                    port,
                    step,
                    now,
                    &missing,
                    &mut found,
                    &mut quiet_inputs,
                )
                .await?;
            }
            // A node's output product goes quiet with the node's input: one incident, on
            // the input, not another on each product downstream.
            found.retain(|f| match (&f.channel, f.anomaly.signal) {
                (Channel::Product { topic, .. }, Signal::RateIn) => !nodes.iter().any(|n| {
                    n.output_topic == *topic && quiet(&quiet_inputs, &open, &n.input_topic)
                }),
                _ => true,
            });
            for group in &groups {
                self.group(pool, group, now, &missing, &probed, &ports, &mut found)
                    .await?;
            }
            for node in &nodes {
                if node.paused {
                    continue;
                }
                if quiet(&quiet_inputs, &open, &node.input_topic) {
                    continue;
                }
                self.node(pool, node, step, now, &missing, &mut found)
                    .await?;
            }
        }
        report.anomalies = found.len();

        let mut seen: HashSet<Uuid> = HashSet::new();
        for item in found {
            let diagnosis = diagnose(&item.channel, &item.anomaly, &item.facts);
            let key = (item.channel.key(), item.anomaly.signal.as_str().to_owned());
            let summary = summary(&item.channel, &item.anomaly, diagnosis.cause);
            if let Some(existing) = open_by_key.get(&key) {
                seen.insert(existing.id);
                self.clear.remove(&existing.id);
                store::still_open(
                    pool,
                    existing.id,
                    diagnosis.cause,
                    diagnosis.confidence,
                    &summary,
                    &diagnosis.evidence,
                )
                .await?;
                continue;
            }
            let band = self.band_json(&item.channel, &item.anomaly, now);
            let new = NewIncident {
                channel: item.channel.clone(),
                signal: item.anomaly.signal,
                cause: diagnosis.cause,
                confidence: diagnosis.confidence,
                summary,
                predicted: item.anomaly.breach_in.is_some(),
                evidence: diagnosis.evidence,
                band,
                started_at: item.anomaly.since,
            };
            if let Some(id) = store::open(pool, &new).await? {
                tracing::warn!(
                    incident = %id,
                    channel = %new.channel.key(),
                    signal = new.signal.as_str(),
                    cause = new.cause.as_str(),
                    confidence = new.confidence,
                    "incident opened"
                );
                report.opened.push(id);
                seen.insert(id);
                super::actions::automatic(pool, admin, id, &new, item.domain.as_deref()).await;
            }
        }
        for incident in &open {
            if seen.contains(&incident.id) {
                continue;
            }
            // A broker incident ends when the broker answers; others need quiet rounds
            // (and are not judged while the broker is down or its clients settle).
            if !reachable && incident.channel != "broker" {
                continue;
            }
            let rounds = self.clear.entry(incident.id).or_insert(0);
            *rounds += 1;
            if incident.channel == "broker" || *rounds >= ROUNDS_CLEAR {
                self.clear.remove(&incident.id);
                if store::resolve(pool, incident.id, "the signal is back within its band").await? {
                    report.resolved += 1;
                }
            }
        }

        let every = if self.learning {
            LEARN_EVERY
        } else {
            RETRAIN_EVERY
        };
        let due = self
            .trained_at
            .is_none_or(|at| now - at >= Duration::seconds(every));
        if due && reachable {
            let busy: HashSet<String> = open.iter().map(|i| i.channel.clone()).collect();
            (report.trained, report.training_seconds) = self
                .train(pool, &ports, &groups, &nodes, &busy, step)
                .await?;
            self.trained_at = Some(now);
            signals::forget_old(pool).await?;
        }
        Ok(report)
    }

    /// Notes each node process that was replaced without stopping cleanly (a new pid in
    /// its place while its row still said it ran): a crash.
    fn track(&mut self, instances: Vec<signals::InstanceNow>) {
        for now in instances {
            let key = (now.node.clone(), now.instance);
            if let Some(before) = self.instances.get(&key)
                && (before.pid != now.pid || before.host != now.host)
                && before.state != "stopped"
            {
                let detail = format!(
                    "instance {}: pid {} (last heartbeat {}) replaced by pid {} started {}",
                    now.instance,
                    before.pid,
                    before.heartbeat_at.format("%H:%M:%S"),
                    now.pid,
                    now.started_at.format("%H:%M:%S"),
                );
                self.crashes
                    .insert(now.node.clone(), (before.heartbeat_at, detail));
            }
            self.instances.insert(key, now);
        }
    }

    /// The band (and forecast) around the anomaly, kept on the incident for its chart.
    fn band_json(
        &self,
        channel: &Channel,
        anomaly: &Anomaly,
        now: DateTime<Utc>,
    ) -> serde_json::Value {
        let mut value = self
            .bands
            .get(&(channel.key(), anomaly.signal))
            .map(Band::to_json)
            .unwrap_or_else(|| serde_json::json!({}));
        if let (Some(seconds), Some(object)) = (anomaly.breach_in, value.as_object_mut()) {
            object.insert("limit".into(), serde_json::json!(anomaly.expected.1));
            object.insert("forecast_start".into(), serde_json::json!(now.to_rfc3339()));
            let steps = (seconds / STEP_SECONDS as f64).ceil().max(1.0) as usize + 1;
            let slope = (anomaly.expected.1 - anomaly.value) / (steps as f64 - 1.0).max(1.0);
            let forecast: Vec<f64> = (0..steps)
                .map(|i| anomaly.value + slope * i as f64)
                .collect();
            object.insert("forecast".into(), serde_json::json!(forecast));
            object.insert(
                "step_seconds_forecast".into(),
                serde_json::json!(STEP_SECONDS),
            );
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incidents::Cause;

    fn points(values: &[f64]) -> Vec<Point> {
        let start = Utc::now();
        values
            .iter()
            .enumerate()
            .map(|(i, v)| (start + Duration::seconds(10 * i as i64), *v))
            .collect()
    }

    #[test]
    fn an_anomaly_needs_two_steps_out_and_starts_at_the_first() {
        let series = points(&[5.0, 5.0, 0.0, 0.0]);
        let (since, value) = trailing_run(&series, |p| p.1 < 1.0).expect("two out");
        assert_eq!(since, series[2].0);
        assert_eq!(value, 0.0);
        assert!(trailing_run(&points(&[5.0, 0.0, 5.0, 0.0]), |p| p.1 < 1.0).is_none());
    }

    #[test]
    fn a_forecast_breach_reads_as_minutes_ahead() {
        let channel = Channel::Subscription {
            subscription: Uuid::nil(),
            group: "svc-marketing-campaigns".into(),
            product: "customer-signed-up".into(),
        };
        let anomaly = Anomaly {
            signal: Signal::LagSeconds,
            value: 2.0,
            expected: (0.0, 5.0),
            since: Utc::now(),
            breach_in: Some(240.0),
        };
        assert_eq!(
            summary(&channel, &anomaly, Cause::ConsumerSlow),
            "At this rate svc-marketing-campaigns on customer-signed-up breaches its 5 s freshness in ~4 min"
        );
    }
}
