//! One scenario from start to count: what it needs, the harness's traffic (and consumer),
//! the warm-up or the clean day, the fault, and the tally of what was written.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use domain::traffic::live::{self, Mode, SharedLog};
use domain::traffic::{Generator, Pace};
use rdkafka::config::ClientConfig;
use tokio::sync::{oneshot, watch};

use super::inject::Undo;
use super::report::{Outcome, Status};
use super::scenario::Scenario;
use super::{Stack, incidents, say, subscriber};

/// Aborts a spawned task when dropped (an interrupted scenario leaves no producer behind).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How long the producer may wait for acknowledgements (a broker outage included).
const PRODUCER_DRAIN: Duration = Duration::from_secs(120);

impl Stack {
    /// What the stack lacks for `scenario`, if anything.
    fn missing(&self, scenario: Scenario) -> Option<String> {
        if scenario.needs_subscriber() && self.subscription.is_none() {
            return Some(
                "no active subscription (seed the demo, or pass --subscription)".to_string(),
            );
        }
        if scenario.needs_node() {
            match &self.node {
                None => return Some(format!("no node `{}`", self.options.node)),
                Some(node) if node.input_topic != self.lane.0.topic => {
                    return Some(format!(
                        "node {} reads {}, not the harness's product",
                        node.name, node.input_topic
                    ));
                }
                Some(_) => {}
            }
        }
        if scenario == Scenario::BrokerUnreachable && self.broker_control.is_none() {
            return Some(
                "no way to stop this broker: pass --broker-stop and --broker-start".to_string(),
            );
        }
        None
    }

    pub(super) async fn scenario(&self, scenario: Scenario) -> Outcome {
        let mut outcome = Outcome::new(scenario);
        if let Some(why) = self.missing(scenario) {
            outcome.status = Status::Skipped(why);
            return outcome;
        }
        if let Err(error) = self.play(scenario, &mut outcome).await {
            outcome.status = Status::Failed(format!("{error:#}"));
        }
        outcome
    }

    async fn play(&self, scenario: Scenario, outcome: &mut Outcome) -> anyhow::Result<()> {
        let run_id = format!(
            "chaos-{}-{}",
            scenario.name(),
            Utc::now().timestamp_millis()
        );
        let started = incidents::now(&self.pool).await?;
        let counted = self.counted_topics(scenario);
        let from = self.end_offsets(&counted).await?;

        // A node must run for the node scenarios, and for a subscription that reads its
        // output; without one on this host the harness runs its own.
        let reads_node_output = scenario.needs_subscriber()
            && self
                .node
                .as_ref()
                .zip(self.subscription.as_ref())
                .is_some_and(|(n, s)| s.topics.contains(&n.output_topic));
        let own_node = if scenario.needs_node() || reads_node_output {
            self.ensure_node(scenario, outcome).await?
        } else {
            None
        };

        let subscriber = if scenario.needs_subscriber() {
            Some(self.start_subscriber(scenario)?)
        } else {
            None
        };

        let (mode, mode_rx) = watch::channel(Mode::Normal);
        let log = SharedLog::default();
        let (stop_producer, stopped) = oneshot::channel::<()>();
        let mut producer = {
            let lane = self.lane.clone();
            let mut generator = Generator::new(self.seed ^ started.timestamp() as u64, 0.05);
            let pace = Pace {
                rate: f64::from(self.options.rate),
                diurnal: scenario == Scenario::Clean,
                pause: None,
                started: Utc::now(),
                day_seconds: Some(self.options.day_seconds as f64),
            };
            let steering = live::Steering {
                run: run_id.clone(),
                mode: mode_rx,
                log: Arc::clone(&log),
                drain: PRODUCER_DRAIN,
            };
            AbortOnDrop(tokio::spawn(async move {
                live::run(&lane, &mut generator, pace, steering, async {
                    let _ = stopped.await;
                })
                .await;
            }))
        };

        if scenario == Scenario::Clean {
            say(
                scenario,
                &format!(
                    "one compressed day of diurnal traffic: {} s",
                    self.options.day_seconds
                ),
            );
            tokio::time::sleep(Duration::from_secs(self.options.day_seconds)).await;
            outcome.other_incidents = incidents::opened_since(&self.pool, started)
                .await?
                .iter()
                .map(incidents::Incident::label)
                .collect();
        } else {
            say(scenario, &format!("warm-up {} s", self.options.warmup));
            tokio::time::sleep(Duration::from_secs(self.options.warmup)).await;
            self.fault(
                scenario,
                outcome,
                &mode,
                &log,
                subscriber.as_ref(),
                own_node,
                started,
            )
            .await?;
        }

        // The producer's log is complete once it stopped and heard back.
        let _ = stop_producer.send(());
        let _ = (&mut producer.0).await;
        let (acked, failed) = live::with_log(&log, |l| (l.acked.clone(), l.failed.len()));
        outcome.unacknowledged = failed as u64;
        if let Some(subscriber) = subscriber {
            subscriber.close().await;
        }
        for undo in self.undos.drain_kind(|u| matches!(u, Undo::DeleteGroup(_))) {
            if let Err(error) = self.undo(&undo).await {
                outcome
                    .notes
                    .push(format!("{}: {error:#}", undo.describe()));
            }
        }
        say(
            scenario,
            &format!("counting {} acknowledged records", acked.len()),
        );
        outcome.events = Some(self.count(scenario, &run_id, &from, &acked).await?);
        Ok(())
    }

    /// Starts the subscription's consumer in the group `<prefix>chaos`, as its principal.
    fn start_subscriber(&self, scenario: Scenario) -> anyhow::Result<subscriber::Subscriber> {
        let subscription = self.subscription.as_ref().context("no subscription")?;
        let group = format!("{}chaos", subscription.group_prefix);
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.broker.bootstrap_servers)
            .set("security.protocol", &self.broker.security_protocol)
            .set("client.id", "meshmart-chaos-subscriber")
            .set("group.id", &group)
            .set("isolation.level", "read_committed")
            .set("auto.offset.reset", "latest")
            .set("enable.auto.commit", "true")
            .set("auto.commit.interval.ms", "1000")
            .set("enable.partition.eof", "false");
        if self.broker.authenticates() {
            config
                .set("sasl.mechanisms", &self.options.subscriber_mechanism)
                .set(
                    "sasl.username",
                    domain::producers::username(&subscription.principal),
                )
                .set("sasl.password", &self.options.subscriber_password);
        }
        self.undos.push(Undo::DeleteGroup(group.clone()));
        say(
            scenario,
            &format!(
                "consumer in group {group} as {} on {}",
                subscription.principal,
                subscription.topics.join(", ")
            ),
        );
        let slow =
            Duration::from_secs_f64(1.0 / (f64::from(self.options.rate) * self.options.slow_share));
        Ok(subscriber::Subscriber::start(
            config,
            subscription.topics.clone(),
            slow,
        ))
    }
}
