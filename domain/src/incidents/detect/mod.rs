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

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use rdkafka::consumer::{BaseConsumer, Consumer};
use sqlx::PgPool;
use uuid::Uuid;

use super::diagnose::{Anomaly, Facts, GroupFacts, NodeFacts, diagnose};
use super::model::{self, Band};
use super::signals::{self, Point, last_complete_step};
use super::store::{self, NewIncident};
use super::{Cause, Channel, Signal};
use crate::broker::{BrokerAdmin, BrokerConfig};
use crate::health::STEP_SECONDS;

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
    /// How long the last training's fitting took (seconds of one core).
    training_seconds: f64,
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

/// Group members and topic watermarks, from the broker.
#[derive(Default)]
struct Probe {
    /// group → (members, state)
    groups: HashMap<String, (usize, String)>,
    watermarks: Marks,
}

/// The detector's broker client, made once and kept across rounds (a new one would
/// authenticate and fetch metadata again every 5 seconds).
fn probe_client(config: &BrokerConfig) -> Result<Arc<BaseConsumer>, rdkafka::error::KafkaError> {
    Ok(Arc::new(
        config
            .consumer_config("meshmart-detector", "meshmart-detector")
            .create()?,
    ))
}

fn probe(client: &BaseConsumer, topics: &[String]) -> Result<Probe, rdkafka::error::KafkaError> {
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
            let provisioning: bool = sqlx::query_scalar(
                "select exists (select 1 from outbox
                 where done_at is null and created_at > now() - interval '2 minutes')",
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
            report.trained = self
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

    #[allow(clippy::too_many_arguments)]
    async fn port(
        &self,
        pool: &PgPool,
        port: &signals::Port,
        step: DateTime<Utc>,
        now: DateTime<Utc>,
        missing: &[(String, String, String)],
        found: &mut Vec<Found>,
        quiet: &mut HashSet<String>,
    ) -> Result<(), sqlx::Error> {
        let channel = port.channel();
        let key = channel.key();
        let since = step - Duration::seconds(STEP_SECONDS * 11);
        let (rate, invalid) = signals::port_series(pool, port, since, step).await?;
        let relevant: Vec<(String, String, String)> = missing
            .iter()
            .filter(|(principal, resource, operation)| {
                *resource == port.topic
                    && operation == "write"
                    && principal.starts_with("User:svc-producer")
            })
            .cloned()
            .collect();
        let facts = || Facts {
            broker_reachable: true,
            missing_acls: relevant.clone(),
            ..Facts::default()
        };
        // Records in: below the band for two steps, or silent far longer than its rate
        // and its freshness SLA allow.
        if let Some(band) = self.bands.get(&(key.clone(), Signal::RateIn)) {
            let below = trailing_run(&rate, |(at, v)| band.at(*at).is_some_and(|(lo, _)| *v < lo));
            let expected = band.at(step).or_else(|| band.at(band.start));
            let mean = band.mean_at(step).unwrap_or(0.0);
            let gap = port
                .last_event_at
                .map(|at| (now - at).num_milliseconds() as f64 / 1000.0);
            let silent_limit = port
                .freshness_sla()
                .unwrap_or(0.0)
                .max(if mean > 0.0 {
                    8.0 / mean
                } else {
                    f64::INFINITY
                })
                .max(10.0);
            let silent = expected.is_some_and(|(lo, _)| lo > 0.0)
                && gap.is_some_and(|gap| gap > silent_limit);
            if below.is_some() || silent {
                let (since, value) = below.unwrap_or_else(|| {
                    (
                        port.last_event_at.unwrap_or(now),
                        rate.last().map(|p| p.1).unwrap_or(0.0),
                    )
                });
                quiet.insert(port.topic.clone());
                found.push(Found {
                    channel: channel.clone(),
                    anomaly: Anomaly {
                        signal: Signal::RateIn,
                        value,
                        expected: expected.unwrap_or((0.0, 0.0)),
                        since,
                        breach_in: None,
                    },
                    facts: facts(),
                    domain: Some(port.domain.clone()),
                });
            }
        }
        // Invalid share: above the band (or, before one is learned, above the contract's
        // expectation of none plus the floor) for two steps with records.
        let band = self.bands.get(&(key.clone(), Signal::InvalidRatio));
        let upper_at = |at: DateTime<Utc>| match band.and_then(|b| b.at(at)) {
            Some((_, upper)) => upper,
            None => model::floor(Signal::InvalidRatio, 0.0, STEP_SECONDS),
        };
        if let Some((since, value)) = trailing_run(&invalid, |(at, v)| *v > upper_at(*at)) {
            let window = since - Duration::seconds(STEP_SECONDS);
            let mut facts = facts();
            facts.invalid_reasons = signals::invalid_reasons(pool, port.port_id, window).await?;
            facts.errors = signals::checker_errors(pool, port.port_id, window)
                .await?
                .into_iter()
                .map(|(at, text)| (Some(at), "checker".to_owned(), text))
                .collect();
            found.push(Found {
                channel: channel.clone(),
                anomaly: Anomaly {
                    signal: Signal::InvalidRatio,
                    value,
                    expected: (0.0, upper_at(step)),
                    since,
                    breach_in: None,
                },
                facts,
                domain: Some(port.domain.clone()),
            });
        }
        // A hot partition: over the last half minute, one partition took most of the records.
        if let Some((partition, share, total)) = self.partition_share(&port.topic)
            && total >= 30
            && share > model::floor(Signal::PartitionShare, 0.0, STEP_SECONDS) + 0.55
        {
            let mut facts = facts();
            facts.partition_share = Some((partition, share));
            found.push(Found {
                channel,
                anomaly: Anomaly {
                    signal: Signal::PartitionShare,
                    value: share,
                    expected: (0.0, 1.0 / f64::from(port.partitions.max(1)) + 0.25),
                    since: now - Duration::seconds(SKEW_WINDOW),
                    breach_in: None,
                },
                facts,
                domain: Some(port.domain.clone()),
            });
        }
        Ok(())
    }

    /// The busiest partition of `topic` over the kept rounds: (partition, share, records).
    fn partition_share(&self, topic: &str) -> Option<(i32, f64, i64)> {
        let (_, first) = self.watermarks.front()?;
        let (_, last) = self.watermarks.back()?;
        let before: HashMap<i32, i64> = first.get(topic)?.iter().copied().collect();
        let deltas: Vec<(i32, i64)> = last
            .get(topic)?
            .iter()
            .map(|(p, high)| (*p, high - before.get(p).copied().unwrap_or(*high)))
            .collect();
        if deltas.len() < 2 {
            return None;
        }
        let total: i64 = deltas.iter().map(|(_, d)| d.max(&0)).sum();
        let (partition, most) = deltas.iter().copied().max_by_key(|(_, d)| *d)?;
        (total > 0).then(|| (partition, most as f64 / total as f64, total))
    }

    #[allow(clippy::too_many_arguments)]
    async fn group(
        &self,
        pool: &PgPool,
        group: &signals::Group,
        now: DateTime<Utc>,
        missing: &[(String, String, String)],
        probed: &Probe,
        ports: &[signals::Port],
        found: &mut Vec<Found>,
    ) -> Result<(), sqlx::Error> {
        let channel = group.channel();
        let series = signals::lag_series(
            pool,
            group.subscription,
            &group.group,
            now - Duration::minutes(3),
        )
        .await?;
        let Some(&(last_at, last_seconds, last_messages, last_committed)) = series.last() else {
            return Ok(());
        };
        if now - last_at > Duration::seconds(40) {
            return Ok(());
        }
        let seconds: Vec<Point> = series.iter().map(|(at, s, ..)| (*at, *s)).collect();
        let sla = signals::freshness_of(&group.slas);
        let band = self
            .bands
            .get(&(channel.key(), Signal::LagSeconds))
            .cloned();
        let upper_at = |at: DateTime<Utc>| {
            let learned = band.as_ref().and_then(|b| b.at(at)).map(|(_, u)| u);
            learned
                .unwrap_or(f64::INFINITY)
                .min(sla.unwrap_or(f64::INFINITY))
                .max(5.0)
        };
        let out = trailing_run(&seconds, |(at, v)| *v > upper_at(*at));
        let mut anomaly = out.map(|(since, value)| Anomaly {
            signal: Signal::LagSeconds,
            value,
            expected: (0.0, upper_at(last_at)),
            since,
            breach_in: None,
        });
        if anomaly.is_none()
            && let Some(sla) = sla
            && seconds.len() >= 6
            && last_seconds < sla
        {
            let first = seconds[seconds.len().saturating_sub(12)].1;
            let values: Vec<f64> = seconds.iter().rev().take(18).rev().map(|p| p.1).collect();
            let growing = last_seconds - first > 1.0 && last_seconds > 1.0;
            if growing && let Some(forecast) = model::trend_forecast(&values, model::HORIZON) {
                let elapsed = (now - last_at).num_seconds() as f64;
                if let Some(i) = forecast.iter().position(|v| *v >= sla) {
                    let breach_in = ((i + 1) as i64 * STEP_SECONDS) as f64 - elapsed;
                    if breach_in <= PREDICT_WITHIN_SECONDS {
                        let start = seconds
                            .iter()
                            .rev()
                            .take_while(|p| p.1 > 0.5)
                            .last()
                            .map(|p| p.0)
                            .unwrap_or(last_at);
                        anomaly = Some(Anomaly {
                            signal: Signal::LagSeconds,
                            value: last_seconds,
                            expected: (0.0, sla),
                            since: start,
                            breach_in: Some(breach_in.max(0.0)),
                        });
                    }
                }
            }
        }
        let Some(anomaly) = anomaly else {
            return Ok(());
        };
        let (members, state) = probed
            .groups
            .get(&group.group)
            .cloned()
            .unwrap_or((0, "Unknown".to_owned()));
        let window_start = anomaly.since - Duration::seconds(STEP_SECONDS);
        let first = series.iter().find(|(at, ..)| *at >= window_start);
        let first_messages = first.map(|(_, _, m, _)| *m).unwrap_or(last_messages);
        let first_committed = first.and_then(|(_, _, _, c)| *c);
        let mut produced = 0;
        for port in ports.iter().filter(|p| p.product == group.product) {
            let (rate, _) =
                signals::port_series(pool, port, window_start, last_complete_step(now)).await?;
            produced += rate
                .iter()
                .map(|(_, r)| (r * STEP_SECONDS as f64) as i64)
                .sum::<i64>();
        }
        // The group's own progress when it is known (its committed offsets), else what
        // was produced less what its lag grew by.
        let consumed = match (first_committed, last_committed) {
            (Some(first), Some(last)) => (last - first).max(0),
            _ => (produced - (last_messages - first_messages)).max(0),
        };
        let facts = Facts {
            broker_reachable: true,
            missing_acls: missing
                .iter()
                .filter(|(principal, _, _)| *principal == group.principal)
                .cloned()
                .collect(),
            group: Some(GroupFacts {
                members,
                state,
                consumed,
                produced,
            }),
            ..Facts::default()
        };
        found.push(Found {
            channel,
            anomaly,
            facts,
            domain: Some(group.domain.clone()),
        });
        Ok(())
    }

    async fn node(
        &self,
        pool: &PgPool,
        node: &signals::NodeNow,
        step: DateTime<Utc>,
        now: DateTime<Utc>,
        missing: &[(String, String, String)],
        found: &mut Vec<Found>,
    ) -> Result<(), sqlx::Error> {
        let channel = node.channel();
        let series = signals::node_series(pool, &node.node, step - Duration::minutes(2)).await?;
        let rate: Vec<Point> = series.iter().map(|(at, r, _, _)| (*at, *r)).collect();
        let band = self.bands.get(&(channel.key(), Signal::NodeRate));
        let below = band.and_then(|band| {
            trailing_run(&rate, |(at, v)| band.at(*at).is_some_and(|(lo, _)| *v < lo))
        });
        let gone = node.known > 0 && node.live == 0;
        let crashed = self
            .crashes
            .get(&node.node)
            .filter(|(at, _)| now - *at < Duration::seconds(CRASH_SECONDS))
            .cloned();
        let erring = series
            .iter()
            .rev()
            .take(STEPS_OUT)
            .filter(|(_, _, errors, _)| *errors > 0)
            .count()
            >= STEPS_OUT;
        let rerouted = node.rerouted_since;
        if below.is_none() && !gone && !erring && crashed.is_none() && rerouted.is_none() {
            return Ok(());
        }
        let (since, value) = below.unwrap_or_else(|| {
            (
                crashed
                    .as_ref()
                    .map(|(at, _)| *at)
                    .or(node.newest_heartbeat.filter(|_| gone))
                    .or(rerouted)
                    .or(node.last_error_at)
                    .unwrap_or(now),
                rate.last().map(|p| p.1).unwrap_or(0.0),
            )
        });
        let window = since - Duration::minutes(1);
        let in_window = series.iter().filter(|(at, ..)| *at >= window);
        let facts = Facts {
            broker_reachable: true,
            missing_acls: missing
                .iter()
                .filter(|(principal, _, _)| *principal == crate::nodes::principal_of(&node.node))
                .cloned()
                .collect(),
            errors: node
                .last_error
                .iter()
                .filter(|_| node.last_error_at.is_some_and(|at| at >= window))
                .map(|text| (node.last_error_at, "node".to_owned(), text.clone()))
                .collect(),
            node: Some(NodeFacts {
                live: node.live,
                known: node.known,
                paused: node.paused,
                restarts: in_window.clone().map(|(_, _, _, r)| r).sum(),
                error_steps: in_window.map(|(_, _, e, _)| e).sum(),
                crashed,
                rerouted_since: rerouted,
            }),
            ..Facts::default()
        };
        found.push(Found {
            channel,
            anomaly: Anomaly {
                signal: Signal::NodeRate,
                value,
                expected: band
                    .and_then(|b| b.at(step))
                    .unwrap_or((0.0, f64::INFINITY)),
                since,
                breach_in: None,
            },
            facts,
            domain: Some(node.domain.clone()),
        });
        Ok(())
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

    async fn train(
        &mut self,
        pool: &PgPool,
        ports: &[signals::Port],
        groups: &[signals::Group],
        nodes: &[signals::NodeNow],
        busy: &HashSet<String>,
        step: DateTime<Utc>,
    ) -> Result<usize, sqlx::Error> {
        let since = step - Duration::seconds(STEP_SECONDS * model::MAX_POINTS as i64);
        // A fault is never learned as normal: the time of every incident of a channel (and
        // 30 s after it) is left out of its history.
        let faults: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
            "select channel, started_at - interval '10 seconds',
                    coalesce(resolved_at, now()) + interval '30 seconds'
             from incidents where coalesce(resolved_at, now()) > $1",
        )
        .bind(since)
        .fetch_all(pool)
        .await?;
        let mut series: Vec<(String, Signal, Vec<Point>)> = Vec::new();
        // Rates with two days of minutes or more get the daily season (MSTL).
        let mut seasonal: Vec<(String, Vec<Point>)> = Vec::new();
        for port in ports {
            let key = port.channel().key();
            if busy.contains(&key) {
                continue;
            }
            let (rate, invalid) = signals::port_series(pool, port, since, step).await?;
            let minutes = signals::port_minutes(pool, port).await?;
            if minutes.is_empty() {
                series.push((key.clone(), Signal::RateIn, rate));
            } else {
                seasonal.push((key.clone(), minutes));
            }
            series.push((key, Signal::InvalidRatio, invalid));
        }
        for group in groups {
            let key = group.channel().key();
            if busy.contains(&key) {
                continue;
            }
            let lag = signals::lag_series(pool, group.subscription, &group.group, since).await?;
            series.push((
                key,
                Signal::LagSeconds,
                lag.into_iter().map(|(at, s, ..)| (at, s)).collect(),
            ));
        }
        for node in nodes {
            let key = node.channel().key();
            if busy.contains(&key) || node.paused {
                continue;
            }
            let rate = signals::node_series(pool, &node.node, since).await?;
            series.push((
                key,
                Signal::NodeRate,
                rate.into_iter().map(|(at, r, _, _)| (at, r)).collect(),
            ));
        }
        let outside = |key: &str, at: &DateTime<Utc>| {
            !faults
                .iter()
                .any(|(channel, from, to)| channel == key && at >= from && at <= to)
        };
        for (key, _, points) in &mut series {
            points.retain(|(at, _)| outside(key, at));
        }
        // A fault's minutes of a seasonal series read as the band's level would (the
        // season needs every minute): the minutes are replaced by the day before's.
        for (key, minutes) in &mut seasonal {
            for i in 0..minutes.len() {
                if !outside(key, &minutes[i].0) && i >= model::DAY_MINUTES {
                    minutes[i].1 = minutes[i - model::DAY_MINUTES].1;
                }
            }
        }
        let wanted = series.len();
        let wanted = wanted + seasonal.len();
        let trained = tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let mut trained: Vec<_> = series
                .into_iter()
                .filter_map(|(key, signal, points)| {
                    let band = model::train(signal, &points, STEP_SECONDS)?;
                    Some((key, signal, points.len(), band))
                })
                .collect();
            trained.extend(seasonal.into_iter().filter_map(|(key, minutes)| {
                let band = model::train_seasonal(Signal::RateIn, &minutes)?;
                Some((key, Signal::RateIn, minutes.len(), band))
            }));
            (trained, started.elapsed().as_secs_f64())
        })
        .await
        .unwrap_or_default();
        let (trained, seconds) = trained;
        self.training_seconds = seconds;
        let count = trained.len();
        self.learning = count < wanted;
        for (key, signal, points, band) in trained {
            model::save(pool, &key, signal, &band, points).await?;
            self.bands.insert((key, signal), band);
        }
        Ok(count)
    }
}

/// The incident's one-line summary.
fn summary(channel: &Channel, anomaly: &Anomaly, cause: Cause) -> String {
    let subject = match channel {
        Channel::Product { product, .. } => product.clone(),
        Channel::Subscription { group, product, .. } => format!("{group} on {product}"),
        Channel::Node { node, .. } => format!("node {node}"),
        Channel::Broker => "the broker".to_owned(),
    };
    match anomaly.breach_in {
        Some(seconds) => format!(
            "At this rate {subject} breaches its {} s freshness in ~{}",
            anomaly.expected.1.round(),
            humane(seconds)
        ),
        None => format!("{}: {subject}", cause.describe()),
    }
}

fn humane(seconds: f64) -> String {
    if seconds >= 90.0 {
        format!("{} min", (seconds / 60.0).round())
    } else {
        format!("{} s", seconds.round())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
