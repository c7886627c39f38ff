//! The fault of a scenario: injected, held until an incident opens (or the stack heals
//! it), undone, and the incident followed to its resolution.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use domain::traffic::live::{self, Mode, SharedLog};
use tokio::sync::watch;

use super::evidence::{Observed, Snapshot};
use super::inject::{self, Undo};
use super::report::{Outcome, Recovery};
use super::scenario::{self, Scenario};
use super::{Stack, incidents, say, subscriber};

impl Stack {
    /// The fault: injected, held, undone, and the incident followed to its resolution.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn fault(
        &self,
        scenario: Scenario,
        outcome: &mut Outcome,
        mode: &watch::Sender<Mode>,
        log: &SharedLog,
        subscriber: Option<&subscriber::Subscriber>,
        own_node: Option<u32>,
        started: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let keys = scenario.channel_keys(&self.names);
        let before = Snapshot::take(log, subscriber);
        let at = incidents::now(&self.pool).await?;
        let clock = Instant::now();
        let undo = self
            .inject(scenario, outcome, mode, subscriber, own_node)
            .await?;
        say(
            scenario,
            &format!("fault injected at {}", at.format("%H:%M:%S%.3f")),
        );

        let min_hold = Duration::from_secs(self.options.fault_seconds);
        let max_hold = if scenario == Scenario::BrokerUnreachable {
            min_hold
        } else {
            Duration::from_secs(self.options.detect_timeout).max(min_hold)
        };
        let mut first: Option<incidents::Incident> = None;
        let mut healed: Option<(f64, String)> = None;
        let mut observed = Observed::default();
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if first.is_none() {
                first = self.first_incident(at, &keys).await?;
                if let Some(incident) = &first {
                    say(scenario, &format!("incident opened: {}", incident.label()));
                }
            }
            self.observe(scenario, at, subscriber, &mut observed).await;
            if healed.is_none() {
                healed = self.healed(scenario, at, clock).await;
                if let Some((after, how)) = &healed {
                    say(
                        scenario,
                        &format!("healed by the stack after {after:.0} s: {how}"),
                    );
                }
            }
            let held = clock.elapsed();
            if held >= max_hold || (first.is_some() && (held >= min_hold || healed.is_some())) {
                break;
            }
        }
        outcome
            .injection
            .extend(Snapshot::take(log, subscriber).evidence(scenario, &before, &observed));
        if scenario == Scenario::HotPartition {
            let mut partitions: Vec<(i32, usize)> = Vec::new();
            live::with_log(log, |l| {
                for ack in l.acked.iter().skip(before.acked) {
                    match partitions.iter_mut().find(|(p, _)| *p == ack.partition) {
                        Some((_, n)) => *n += 1,
                        None => partitions.push((ack.partition, 1)),
                    }
                }
            });
            partitions.sort_unstable();
            outcome.injection.push(format!(
                "acknowledged per partition meanwhile: {}",
                partitions
                    .iter()
                    .map(|(p, n)| format!("{p}: {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }

        // The diagnosis while the fault lasted (it may change once the fault is undone).
        if let Some(incident) = &first {
            first = Some(
                incidents::get(&self.pool, incident.id)
                    .await?
                    .unwrap_or_else(|| incident.clone()),
            );
        }
        let diagnosed = first.clone();

        // Undo: the producer and the consumer back to normal, and whatever was changed on
        // the broker or its processes.
        mode.send_replace(Mode::Normal);
        if let Some(subscriber) = subscriber {
            subscriber.set(subscriber::Pace::Running);
        }
        let undone = match &undo {
            Some(undo) => {
                let how = undo.describe();
                self.undo_now(undo)
                    .await
                    .with_context(|| format!("failed to undo the fault ({how})"))?;
                how
            }
            None if scenario == Scenario::NodeCrashed => {
                self.restart_node(outcome, own_node.is_some(), healed.is_some())
                    .await?
            }
            None => match scenario {
                Scenario::ConsumerStopped | Scenario::ConsumerSlow => {
                    "consumer back to full speed".to_string()
                }
                _ => "producer back to normal".to_string(),
            },
        };
        outcome.recovery = match healed {
            Some((after_seconds, how)) => Recovery::System { after_seconds, how },
            None => Recovery::Harness { how: undone },
        };
        say(scenario, "fault undone");

        // Follow the incident (or wait for a late one) until it resolves.
        let deadline = Instant::now() + Duration::from_secs(self.options.resolve_timeout);
        loop {
            if first.is_none() {
                first = self.first_incident(at, &keys).await?;
            }
            if let Some(incident) = &first {
                let now = incidents::get(&self.pool, incident.id)
                    .await?
                    .unwrap_or_else(|| incident.clone());
                if let Some(resolved) = now.resolved_at {
                    outcome.resolved_seconds = Some(seconds_between(at, resolved));
                    say(scenario, "incident resolved");
                    break;
                }
            }
            if Instant::now() >= deadline {
                say(scenario, "incident not resolved in time");
                break;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        if let Some(incident) = &first {
            outcome.detection_seconds = Some(seconds_between(at, incident.opened_at));
            let actions = incidents::actions(&self.pool, incident.id).await?;
            // The cause named while the fault lasted; an incident that opened only after
            // the undo is judged by its first diagnosis.
            let judged = diagnosed.as_ref().unwrap_or(incident);
            outcome.incident = Some(judged.seen(actions));
            if let Some(later) = incidents::get(&self.pool, incident.id).await?
                && later.cause != judged.cause
            {
                outcome.notes.push(format!(
                    "diagnosis changed after the fault was undone: {} ({:.2})",
                    later.cause, later.confidence
                ));
            }
        }
        outcome.other_incidents = incidents::opened_since(&self.pool, started)
            .await?
            .iter()
            .filter(|i| first.as_ref().is_none_or(|f| f.id != i.id))
            .map(incidents::Incident::label)
            .collect();
        Ok(())
    }

    /// Injects the fault; returns its undo when there is one beyond the producer's or the
    /// consumer's mode (and keeps it pending in [`Self::undos`]).
    async fn inject(
        &self,
        scenario: Scenario,
        outcome: &mut Outcome,
        mode: &watch::Sender<Mode>,
        subscriber: Option<&subscriber::Subscriber>,
        own_node: Option<u32>,
    ) -> anyhow::Result<Option<Undo>> {
        mode.send_replace(scenario.producer_mode());
        match scenario {
            Scenario::ConsumerStopped => {
                if let Some(s) = subscriber {
                    s.set(subscriber::Pace::Stopped);
                }
                Ok(None)
            }
            Scenario::ConsumerSlow => {
                if let Some(s) = subscriber {
                    s.set(subscriber::Pace::Slow);
                }
                Ok(None)
            }
            Scenario::AclRemoved => {
                let subscription = self.subscription.as_ref().context("no subscription")?;
                let topic = subscription.topics.first().context("no topic")?;
                let deleted = self
                    .admin
                    .delete_read_acl(&subscription.principal, topic)
                    .await?
                    .with_context(|| {
                        format!(
                            "the broker holds no READ on {topic} for {}",
                            subscription.principal
                        )
                    })?;
                let undo = Undo::Acl(deleted);
                self.undos.push(undo.clone());
                outcome.injection.push(format!(
                    "deleted {}'s READ on {topic} (DeleteAcls)",
                    subscription.principal
                ));
                Ok(Some(undo))
            }
            Scenario::NodeOutputUnwritable => {
                let node = self.node.as_ref().context("no node")?;
                let undo = self.admin.make_unwritable(&node.output_topic).await?;
                self.undos.push(undo.clone());
                outcome.injection.push(format!(
                    "{}: max.message.bytes={} (AlterConfigs)",
                    node.output_topic,
                    inject::UNWRITABLE_MAX_MESSAGE_BYTES
                ));
                Ok(Some(undo))
            }
            Scenario::BrokerUnreachable => {
                let (stop, start) = self.broker_control.clone().context("no broker control")?;
                let undo = Undo::StartBroker(start);
                self.undos.push(undo.clone());
                inject::shell(&stop).await?;
                outcome.injection.push(format!("broker stopped (`{stop}`)"));
                Ok(Some(undo))
            }
            Scenario::NodeCrashed => {
                let killed = self.kill_node(own_node).await?;
                anyhow::ensure!(!killed.is_empty(), "no node process to kill");
                outcome.injection.push(format!(
                    "SIGKILL to node process(es) {}",
                    killed
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    /// The first incident opened since `at` on one of `keys`.
    async fn first_incident(
        &self,
        at: DateTime<Utc>,
        keys: &[String],
    ) -> anyhow::Result<Option<incidents::Incident>> {
        Ok(incidents::opened_since(&self.pool, at)
            .await?
            .into_iter()
            .find(|i| scenario::channel_matches(keys, &i.channel)))
    }
}

fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_milliseconds() as f64 / 1_000.0
}
