//! `meshmart chaos [SCENARIO…]`: the fault suite of self-healing channels (issue 17). It
//! injects each fault into a running stack through real means, and measures from the
//! outside what the detector made of it.
//!
//! For every scenario the harness starts its own synthetic traffic on one product
//! ([`domain::traffic::live`]: every record tagged with the run and a sequence number, every
//! acknowledgement logged), lets it run clean for a warm-up, injects the fault at a time
//! T taken from the database's clock, and polls the detector's `incidents` table for an
//! incident opened after T on the fault's channel. It keeps the fault until the incident
//! opened (at least `--fault-seconds`, at most `--detect-timeout`) or until the stack healed
//! it itself, undoes it, waits (bounded) for the incident to resolve, and finally reads the
//! product's topic (or the node's output and dead letters) over the scenario's offsets with
//! a real `read_committed` consumer to count events lost and duplicated against the
//! producer's log.
//!
//! Faults are undone on every path: each injection leaves an [`inject::Undo`] in a list that
//! the scenario works off, and whatever is left (an error, Ctrl-C) is undone before the
//! command ends. Only a SIGKILL of the harness itself leaves a fault in place.
//!
//! The pure parts (scenarios, counting, the table) are in [`scenario`], [`tally`] and
//! [`report`], with their tests; the rest talks to the stack.

pub mod incidents;
pub mod inject;
pub mod read;
pub mod report;
pub mod scenario;
pub mod subscriber;
pub mod tally;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use domain::broker::BrokerConfig;
use domain::traffic::live::{self, Mode, SharedLog};
use domain::traffic::{Generator, Lane, Pace, TrafficError};
use rdkafka::config::ClientConfig;
use sqlx::PgPool;
use tokio::sync::{oneshot, watch};
use uuid::Uuid;

use crate::cli::UsageError;
use crate::configuration::Settings;
use inject::{Admin, Undo, Undos};
use report::{Outcome, Recovery, Status};
use scenario::{CountedOn, Names, Scenario};

/// `meshmart chaos` options.
#[derive(Debug, clap::Args)]
pub struct Options {
    /// Scenarios to run, in the suite's order (default: all): clean, producer-stopped,
    /// contract-broken, schema-drift, hot-partition, consumer-stopped, consumer-slow,
    /// acl-removed, node-crashed, node-output-unwritable, broker-unreachable.
    #[arg(value_name = "SCENARIO")]
    pub scenarios: Vec<String>,
    /// The product the harness produces to (as its domain's producer principal).
    #[arg(long, default_value = "customer-signed-up")]
    pub product: String,
    /// Records per second (the demo's rate by default).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub rate: u32,
    /// Seconds of clean traffic before the fault.
    #[arg(long, default_value_t = 60)]
    pub warmup: u64,
    /// A fault lasts at least this many seconds (the broker outage exactly this long).
    #[arg(long, default_value_t = 60)]
    pub fault_seconds: u64,
    /// A fault is held until an incident opens, at most this many seconds.
    #[arg(long, default_value_t = 120)]
    pub detect_timeout: u64,
    /// After the fault is undone, wait this many seconds at most for the incident to resolve.
    #[arg(long, default_value_t = 180)]
    pub resolve_timeout: u64,
    /// The clean run's day, compressed: the diurnal curve's 24 hours in this many seconds
    /// (the clean run lasts one such day).
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(10..=86_400))]
    pub day_seconds: u64,
    /// The subscription whose consumer group the consumer and ACL scenarios use (default:
    /// the demo's `User:svc-marketing-campaigns` subscription).
    #[arg(long)]
    pub subscription: Option<Uuid>,
    /// The subscription principal's broker password (the local broker's demo users have
    /// `meshmart`).
    #[arg(
        long,
        env = "MESHMART_CHAOS_SUBSCRIBER_PASSWORD",
        default_value = "meshmart",
        hide_env_values = true,
        hide_default_value = true
    )]
    pub subscriber_password: String,
    /// The subscription principal's SASL mechanism.
    #[arg(long, default_value = "PLAIN")]
    pub subscriber_mechanism: String,
    /// In consumer-slow, the consumer reads this share of the producer's rate.
    #[arg(long, default_value_t = 0.25)]
    pub slow_share: f64,
    /// The stream node of the node scenarios.
    #[arg(long, default_value = "customer-enrichment")]
    pub node: String,
    /// Shell command that stops the broker (default: `scripts/kafka.sh stop` of the
    /// local `make run` or test broker, recognised by its port).
    #[arg(long, requires = "broker_start")]
    pub broker_stop: Option<String>,
    /// Shell command that starts it again.
    #[arg(long, requires = "broker_stop")]
    pub broker_start: Option<String>,
    /// Seed of the value generator (default: random).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also write the results as JSON to this file (the log shares standard output).
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
}

/// Runs the chosen scenarios one after the other and prints their table (or JSON).
pub async fn run(settings: Settings, options: Options) -> anyhow::Result<()> {
    let scenarios = scenario::selection(&options.scenarios).map_err(UsageError)?;
    anyhow::ensure!(
        options.slow_share > 0.0 && options.slow_share < 1.0,
        UsageError(format!(
            "--slow-share {} is not a share between 0 and 1",
            options.slow_share
        ))
    );
    let metrics_url = format!("http://127.0.0.1:{}/metrics", settings.server.port);
    let stack = Stack::load(settings, options).await?;
    let run_started = std::time::Instant::now();
    let metrics_before = server_metrics(&metrics_url).await;
    let mut outcomes = Vec::new();
    let interrupted = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::pin!(interrupted);
    let mut was_interrupted = false;
    for scenario in scenarios {
        say(scenario, "starting");
        let outcome = tokio::select! {
            outcome = stack.scenario(scenario) => Some(outcome),
            () = &mut interrupted => None,
        };
        let leftovers = stack.undo_all().await;
        match outcome {
            Some(mut outcome) => {
                outcome.notes.extend(leftovers);
                say(scenario, &format!("done: {}", one_line(&outcome)));
                outcomes.push(outcome);
            }
            None => {
                for note in leftovers {
                    say(scenario, &note);
                }
                say(scenario, "interrupted; its faults are undone");
                was_interrupted = true;
                break;
            }
        }
    }
    let cost = match (metrics_before, server_metrics(&metrics_url).await) {
        (Some(before), Some(after)) => {
            report::Cost::between(&before, &after, run_started.elapsed().as_secs_f64())
        }
        _ => None,
    };
    let json = serde_json::to_string_pretty(&serde_json::json!({
        "outcomes": outcomes,
        "summary": report::summarize(&outcomes),
        "detection_cost": cost,
    }))?;
    if let Some(path) = &stack.options.out {
        std::fs::write(path, &json).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if stack.options.json {
        println!("{json}");
    } else {
        println!("{}", report::table(&outcomes));
        match &cost {
            Some(cost) => println!("{}", cost.line()),
            None => println!(
                "detection cost: not measured (the server's /metrics at {metrics_url} has no detector figures)"
            ),
        }
    }
    anyhow::ensure!(!was_interrupted, "interrupted");
    Ok(())
}

/// The server's Prometheus metrics (`/metrics` answers clients on its loopback), if it
/// answers.
async fn server_metrics(url: &str) -> Option<String> {
    let response = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()?;
    response.error_for_status().ok()?.text().await.ok()
}

fn say(scenario: Scenario, text: &str) {
    eprintln!("[chaos] {}: {text}", scenario.name());
}

fn one_line(outcome: &Outcome) -> String {
    match (&outcome.status, &outcome.incident) {
        (Status::Skipped(why), _) => format!("skipped ({why})"),
        (Status::Failed(why), _) => format!("FAILED ({why})"),
        (Status::Ran, _) if outcome.injected.is_none() => {
            format!("{} false incidents", outcome.other_incidents.len())
        }
        (Status::Ran, None) => "no incident on the fault's channel".to_string(),
        (Status::Ran, Some(seen)) => format!(
            "incident after {:.1} s: {} ({:.2}) on {}",
            outcome.detection_seconds.unwrap_or_default(),
            seen.cause,
            seen.confidence,
            seen.channel
        ),
    }
}

/// The subscription whose group the consumer scenarios use.
#[derive(Clone, Debug)]
struct Subscribed {
    id: Uuid,
    principal: String,
    group_prefix: String,
    product: String,
    topics: Vec<String>,
}

/// The stream node of the node scenarios.
#[derive(Clone, Debug)]
struct NodeInfo {
    name: String,
    input_topic: String,
    output_topic: String,
    dead_letter_topic: String,
}

/// Everything a scenario needs from the stack.
struct Stack {
    pool: PgPool,
    broker: BrokerConfig,
    admin: Admin,
    lane: Lane,
    names: Names,
    subscription: Option<Subscribed>,
    node: Option<NodeInfo>,
    broker_control: Option<(String, String)>,
    options: Options,
    undos: Undos,
    /// Node processes the harness started, by pid.
    children: Mutex<HashMap<u32, std::process::Child>>,
    seed: u64,
}

/// Aborts a spawned task when dropped (an interrupted scenario leaves no producer behind).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How long the producer may wait for acknowledgements (a broker outage included).
const PRODUCER_DRAIN: Duration = Duration::from_secs(120);
/// A node heartbeat younger than this is a live process.
const LIVE_SECONDS: f64 = 10.0;

impl Stack {
    async fn load(settings: Settings, options: Options) -> anyhow::Result<Self> {
        let pool = settings.database.pool();
        anyhow::ensure!(
            incidents::tables_exist(&pool)
                .await
                .context("failed to reach the database")?,
            UsageError(
                "the incidents tables are missing: run `meshmart migrate` (or `serve --migrate`)"
                    .to_string()
            )
        );
        let product = match domain::traffic::product(&pool, &options.product).await {
            Ok(product) => product,
            Err(TrafficError::Database(error)) => {
                return Err(anyhow::Error::new(error).context("failed to reach the database"));
            }
            Err(refused) => return Err(UsageError(refused.to_string()).into()),
        };
        let broker = settings.kafka.broker_config();
        let admin = Admin::new(&broker)?;
        anyhow::ensure!(
            admin
                .broker()
                .topic_exists(&product.topic, Duration::from_secs(10))
                .await
                .context("failed to reach the broker")?,
            UsageError(format!(
                "product `{}` has no topic `{}` on the broker yet (`meshmart serve` creates it)",
                product.slug, product.topic
            ))
        );
        let producer = producer(&pool, &broker, &product).await?;
        let subscription = subscription(&pool, options.subscription).await?;
        if options.subscription.is_some() && subscription.is_none() {
            return Err(UsageError(format!(
                "no active subscription {}",
                options.subscription.unwrap_or_default()
            ))
            .into());
        }
        let node: Option<(String, String, String)> =
            sqlx::query_as("select name, input_topic, output_topic from nodes where name = $1")
                .bind(&options.node)
                .fetch_optional(&pool)
                .await
                .context("failed to reach the database")?;
        let node = node.map(|(name, input_topic, output_topic)| NodeInfo {
            dead_letter_topic: format!("{input_topic}.{name}.dlq"),
            name,
            input_topic,
            output_topic,
        });
        let broker_control = options
            .broker_stop
            .clone()
            .zip(options.broker_start.clone())
            .or_else(|| {
                let root = std::env::current_dir().ok()?;
                inject::local_broker_commands(&broker.bootstrap_servers, &root)
            });
        let names = Names {
            product: product.slug.clone(),
            subscription: subscription.as_ref().map(|s| s.id),
            subscribed_product: subscription.as_ref().map(|s| s.product.clone()),
            node: node.as_ref().map(|n| n.name.clone()),
        };
        let seed = options
            .seed
            .unwrap_or_else(domain::traffic::generate::Rng::os_seed);
        eprintln!(
            "[chaos] producing {} records/s to {} as {}; subscription {}; node {}; broker control {}",
            options.rate,
            product.topic,
            product
                .producer
                .as_ref()
                .map_or("Meshmart's principal", |p| p.principal.as_str()),
            subscription
                .as_ref()
                .map_or("none".to_string(), |s| format!(
                    "{} ({})",
                    s.id, s.principal
                )),
            node.as_ref().map_or("none", |n| n.name.as_str()),
            if broker_control.is_some() {
                "yes"
            } else {
                "none"
            },
        );
        Ok(Self {
            pool,
            broker,
            admin,
            lane: (product, producer),
            names,
            subscription,
            node,
            broker_control,
            options,
            undos: Undos::default(),
            children: Mutex::new(HashMap::new()),
            seed,
        })
    }

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

    async fn scenario(&self, scenario: Scenario) -> Outcome {
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

    /// Undoes whatever is still pending; says what it did.
    async fn undo_all(&self) -> Vec<String> {
        let mut notes = Vec::new();
        for undo in self.undos.drain() {
            match self.undo(&undo).await {
                Ok(()) => notes.push(format!("undone at the end: {}", undo.describe())),
                Err(error) => {
                    notes.push(format!("COULD NOT UNDO ({}): {error:#}", undo.describe()))
                }
            }
        }
        notes
    }

    async fn undo(&self, undo: &Undo) -> anyhow::Result<()> {
        match undo {
            Undo::StopChild(pid) => {
                self.stop_child(*pid).await;
                Ok(())
            }
            other => self.admin.undo(other).await,
        }
    }

    /// Runs `undo` now and forgets it.
    async fn undo_now(&self, undo: &Undo) -> anyhow::Result<()> {
        self.undo(undo).await?;
        self.undos.done(undo);
        Ok(())
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

    /// The fault: injected, held, undone, and the incident followed to its resolution.
    #[allow(clippy::too_many_arguments)]
    async fn fault(
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

    /// Facts seen while the fault lasts that show it really happened.
    async fn observe(
        &self,
        scenario: Scenario,
        at: DateTime<Utc>,
        subscriber: Option<&subscriber::Subscriber>,
        observed: &mut Observed,
    ) {
        match scenario {
            Scenario::BrokerUnreachable
                if observed.broker_down.is_none()
                    && !self.admin.reachable(Duration::from_secs(2)).await =>
            {
                observed.broker_down =
                    Some("the broker did not answer Meshmart's admin client".to_string());
            }
            Scenario::AclRemoved => {
                if let Some(s) = subscriber {
                    let seen = s.seen();
                    if seen.authorization_failures > 0 && observed.refused.is_none() {
                        observed.refused = seen
                            .errors
                            .iter()
                            .rev()
                            .find(|e| e.contains("Authorization"))
                            .cloned();
                    }
                }
            }
            Scenario::NodeOutputUnwritable | Scenario::NodeCrashed => {
                if let Some(node) = &self.node {
                    let error: Option<String> = sqlx::query_scalar(
                        r#"select last_error from node_instances
                           where node = $1 and last_error_at >= $2 and last_error is not null
                           order by last_error_at desc limit 1"#,
                    )
                    .bind(&node.name)
                    .bind(at)
                    .fetch_optional(&self.pool)
                    .await
                    .ok()
                    .flatten();
                    if error.is_some() {
                        observed.node_error = error;
                    }
                    let live: i64 = sqlx::query_scalar(
                        r#"select count(*) from node_instances
                           where node = $1 and state = 'running'
                             and heartbeat_at > now() - make_interval(secs => $2)"#,
                    )
                    .bind(&node.name)
                    .bind(LIVE_SECONDS)
                    .fetch_one(&self.pool)
                    .await
                    .unwrap_or(-1);
                    if live == 0 {
                        observed.node_absent = true;
                    }
                    let pids: Vec<i32> =
                        sqlx::query_scalar("select pid from node_instances where node = $1")
                            .bind(&node.name)
                            .fetch_all(&self.pool)
                            .await
                            .unwrap_or_default();
                    for pid in pids {
                        if !observed.node_pids.contains(&pid) {
                            observed.node_pids.push(pid);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// Whether the stack undid the fault itself: the reconciler re-created the ACL, a
    /// supervisor restarted the node. Returns seconds after the fault, and how.
    async fn healed(
        &self,
        scenario: Scenario,
        at: DateTime<Utc>,
        clock: Instant,
    ) -> Option<(f64, String)> {
        match scenario {
            Scenario::AclRemoved => {
                let subscription = self.subscription.as_ref()?;
                let binding =
                    inject::read_acl(&subscription.principal, subscription.topics.first()?);
                self.admin
                    .has_acl(&binding)
                    .await
                    .ok()?
                    .then(|| (clock.elapsed().as_secs_f64(), "ACL re-created".to_string()))
            }
            Scenario::NodeCrashed => {
                let node = self.node.as_ref()?;
                let back: i64 = sqlx::query_scalar(
                    r#"select count(*) from node_instances
                       where node = $1 and state = 'running' and started_at > $2
                         and heartbeat_at > now() - make_interval(secs => $3)"#,
                )
                .bind(&node.name)
                .bind(at)
                .bind(LIVE_SECONDS)
                .fetch_one(&self.pool)
                .await
                .ok()?;
                (back > 0).then(|| (clock.elapsed().as_secs_f64(), "node restarted".to_string()))
            }
            _ => None,
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

    fn counted_topics(&self, scenario: Scenario) -> Vec<String> {
        match (scenario.counted_on(), &self.node) {
            (CountedOn::NodeOutput, Some(node)) => {
                vec![node.output_topic.clone(), node.dead_letter_topic.clone()]
            }
            _ => vec![self.lane.0.topic.clone()],
        }
    }

    fn reader_config(&self) -> ClientConfig {
        let mut config = self
            .broker
            .consumer_config("meshmart-chaos-reader", "meshmart-chaos-reader");
        config.set("enable.auto.commit", "false");
        config
    }

    async fn end_offsets(
        &self,
        topics: &[String],
    ) -> anyhow::Result<HashMap<String, HashMap<i32, i64>>> {
        let config = self.reader_config();
        let topics = topics.to_vec();
        tokio::task::spawn_blocking(move || {
            topics
                .into_iter()
                .map(|t| read::end_offsets(&config, &t).map(|ends| (t, ends)))
                .collect()
        })
        .await
        .context("cancelled")?
    }

    /// Reads what the scenario wrote and tallies it against the producer's log.
    async fn count(
        &self,
        scenario: Scenario,
        run_id: &str,
        from: &HashMap<String, HashMap<i32, i64>>,
        acked: &[live::Ack],
    ) -> anyhow::Result<tally::Tally> {
        let config = self.reader_config();
        let (from, run_id, acked) = (from.clone(), run_id.to_string(), acked.to_vec());
        let node = self.node.clone();
        let on_node = scenario.counted_on() == CountedOn::NodeOutput;
        tokio::task::spawn_blocking(move || {
            if let (true, Some(node)) = (on_node, node) {
                let expected: HashSet<(i32, i64)> =
                    acked.iter().map(|a| (a.partition, a.offset)).collect();
                let found = read::read(
                    &config,
                    &from,
                    &read::Want::Sources {
                        input_topic: &node.input_topic,
                        dead_letter_topic: &node.dead_letter_topic,
                        expected: &expected,
                    },
                    Duration::from_secs(60),
                    Duration::from_secs(300),
                )?;
                Ok(tally::tally(expected, found.sources))
            } else {
                let expected: HashSet<u64> = acked.iter().map(|a| a.seq).collect();
                let found = read::read(
                    &config,
                    &from,
                    &read::Want::Seqs {
                        run: &run_id,
                        expected: &expected,
                    },
                    Duration::from_secs(15),
                    Duration::from_secs(120),
                )?;
                Ok(tally::tally(expected, found.seqs))
            }
        })
        .await
        .context("cancelled")?
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

    /// Live node processes: (instance, host, pid).
    async fn live_node_processes(&self) -> anyhow::Result<Vec<(i32, String, i32)>> {
        let node = self.node.as_ref().context("no node")?;
        Ok(sqlx::query_as(
            r#"select instance, host, pid from node_instances
               where node = $1 and state = 'running'
                 and heartbeat_at > now() - make_interval(secs => $2)
               order by instance"#,
        )
        .bind(&node.name)
        .bind(LIVE_SECONDS)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Makes sure a node process runs: when none is live, starts the harness's own and
    /// waits until it reports itself. Returns the pid of one the harness started.
    async fn ensure_node(
        &self,
        scenario: Scenario,
        outcome: &mut Outcome,
    ) -> anyhow::Result<Option<u32>> {
        if !self.live_node_processes().await?.is_empty() {
            return Ok(None);
        }
        let pid = self.spawn_node(false).await?;
        say(
            scenario,
            &format!("no node process was live: started one (pid {pid})"),
        );
        outcome
            .notes
            .push(format!("the harness ran the node itself (pid {pid})"));
        Ok(Some(pid))
    }

    /// Starts `meshmart node run <node>` and waits (up to 90 s) until it reports itself
    /// running. A `detached` one outlives the harness (it replaces a process of the
    /// stack's), with its output in `.data/chaos/`.
    async fn spawn_node(&self, detached: bool) -> anyhow::Result<u32> {
        let node = self.node.as_ref().context("no node")?;
        let exe = std::env::current_exe().context("cannot find the meshmart binary")?;
        let mut command = if detached {
            let mut c = std::process::Command::new("setsid");
            c.arg(&exe);
            c
        } else {
            std::process::Command::new(&exe)
        };
        command
            .args(["node", "run", &node.name, "--instance", "0"])
            .stdin(std::process::Stdio::null());
        if detached {
            std::fs::create_dir_all(".data/chaos").context("cannot create .data/chaos")?;
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(format!(".data/chaos/node-{}.log", node.name))
                .context("cannot open the node's log")?;
            command
                .stdout(log.try_clone().context("cannot open the node's log")?)
                .stderr(log);
        } else {
            command
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
        }
        let child = command.spawn().context("cannot start the node")?;
        let pid = child.id();
        if detached {
            // Not the harness's to stop; setsid execs in place, so the pid is the node's.
            drop(child);
        } else {
            self.children
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(pid, child);
            self.undos.push(Undo::StopChild(pid));
        }
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let live = self.live_node_processes().await?;
            if live.iter().any(|(_, _, p)| *p as u32 == pid) {
                return Ok(pid);
            }
        }
        anyhow::bail!("the node process {pid} did not report itself running within 90 s")
    }

    /// SIGKILLs the node's processes: the harness's own, or the live ones on this host.
    async fn kill_node(&self, own: Option<u32>) -> anyhow::Result<Vec<u32>> {
        if let Some(pid) = own {
            let child = self
                .children
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&pid);
            if let Some(mut child) = child {
                let _ = child.kill();
                let _ = tokio::task::spawn_blocking(move || child.wait()).await;
            }
            self.undos.done(&Undo::StopChild(pid));
            return Ok(vec![pid]);
        }
        let node = self.node.as_ref().context("no node")?;
        let host = inject::hostname();
        let mut killed = Vec::new();
        for (_, at, pid) in self.live_node_processes().await? {
            let Ok(pid) = u32::try_from(pid) else {
                continue;
            };
            if at == host
                && inject::is_node_process(pid, &node.name)
                && inject::signal(pid, "-9").await
            {
                killed.push(pid);
            }
        }
        Ok(killed)
    }

    /// After node-crashed: a node the stack restarted itself is left alone; otherwise the
    /// harness starts one (its own again, or a detached one standing in for the stack's).
    async fn restart_node(
        &self,
        outcome: &mut Outcome,
        own: bool,
        healed: bool,
    ) -> anyhow::Result<String> {
        if healed {
            return Ok("none needed".to_string());
        }
        let pid = self.spawn_node(!own).await?;
        if !own {
            outcome.notes.push(format!(
                "nothing restarted the node: the harness started pid {pid} (log in .data/chaos/)"
            ));
        }
        Ok(format!("node restarted (pid {pid})"))
    }

    async fn stop_child(&self, pid: u32) {
        let child = self
            .children
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&pid);
        let Some(mut child) = child else { return };
        inject::signal(pid, "-TERM").await;
        let _ = tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            let _ = child.kill();
            let _ = child.wait();
        })
        .await;
    }
}

impl Undos {
    /// Takes the pending undos that `pick` selects, newest first.
    fn drain_kind(&self, pick: impl Fn(&Undo) -> bool) -> Vec<Undo> {
        let all = self.drain();
        let (picked, kept): (Vec<Undo>, Vec<Undo>) = all.into_iter().partition(|u| pick(u));
        for undo in kept.into_iter().rev() {
            self.push(undo);
        }
        picked
    }
}

/// What the fault loop saw.
#[derive(Debug, Default)]
struct Observed {
    broker_down: Option<String>,
    refused: Option<String>,
    node_error: Option<String>,
    node_absent: bool,
    /// Node processes seen reporting during the fault (a restart is a new pid).
    node_pids: Vec<i32>,
}

/// The producer's and consumer's counters at a moment.
#[derive(Clone, Copy, Debug, Default)]
struct Snapshot {
    sent: u64,
    acked: usize,
    bad: u64,
    drifted: u64,
    hot: u64,
    consumed: u64,
    refused: u64,
    at: Option<Instant>,
}

impl Snapshot {
    fn take(log: &SharedLog, subscriber: Option<&subscriber::Subscriber>) -> Self {
        let (sent, acked, bad, drifted, hot) =
            live::with_log(log, |l| (l.sent, l.acked.len(), l.bad, l.drifted, l.hot));
        let seen = subscriber
            .map(subscriber::Subscriber::seen)
            .unwrap_or_default();
        Snapshot {
            sent,
            acked,
            bad,
            drifted,
            hot,
            consumed: seen.consumed,
            refused: seen.authorization_failures,
            at: Some(Instant::now()),
        }
    }

    /// Sentences that show the fault happened, from the counters before and after it.
    fn evidence(&self, scenario: Scenario, before: &Snapshot, observed: &Observed) -> Vec<String> {
        let seconds = match (before.at, self.at) {
            (Some(a), Some(b)) => b.duration_since(a).as_secs_f64(),
            _ => 0.0,
        };
        let sent = self.sent - before.sent;
        let mut out = Vec::new();
        match scenario {
            Scenario::ProducerStopped => {
                out.push(format!("producer sent {sent} records in {seconds:.0} s"));
            }
            Scenario::ContractBroken => out.push(format!(
                "{} of {sent} records broken on purpose",
                self.bad - before.bad
            )),
            Scenario::SchemaDrift => out.push(format!(
                "{} of {sent} records under an unregistered schema id",
                self.drifted - before.drifted
            )),
            Scenario::HotPartition => {
                out.push(format!(
                    "{} of {sent} records with one key",
                    self.hot - before.hot
                ));
            }
            Scenario::ConsumerStopped | Scenario::ConsumerSlow => out.push(format!(
                "consumer read {} records in {seconds:.0} s while {sent} were produced",
                self.consumed - before.consumed
            )),
            Scenario::AclRemoved => out.push(match &observed.refused {
                Some(error) => format!(
                    "consumer refused {} times: {error}",
                    self.refused - before.refused
                ),
                None => "the consumer saw no authorization failure".to_string(),
            }),
            Scenario::BrokerUnreachable => out.push(
                observed
                    .broker_down
                    .clone()
                    .unwrap_or_else(|| "the broker still answered".to_string()),
            ),
            Scenario::NodeCrashed | Scenario::NodeOutputUnwritable => {
                if observed.node_absent {
                    out.push("no live node process".to_string());
                }
                if observed.node_pids.len() > 1 {
                    out.push(format!(
                        "node processes reporting during the fault: {} (pids {})",
                        observed.node_pids.len(),
                        observed
                            .node_pids
                            .iter()
                            .map(i32::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                if let Some(error) = &observed.node_error {
                    out.push(format!("node error: {error}"));
                }
            }
            Scenario::Clean => {}
        }
        let acked = self.acked - before.acked;
        if scenario != Scenario::ProducerStopped {
            out.push(format!("{acked} records acknowledged meanwhile"));
        }
        out
    }
}

fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_milliseconds() as f64 / 1_000.0
}

/// The harness's producer: the product's domain principal (its derived credential, as
/// `meshmart traffic` uses it), idempotent, `acks=all`, and patient: records wait up to
/// five minutes for the broker, so an outage of a minute delays them without failing them.
async fn producer(
    pool: &PgPool,
    broker: &BrokerConfig,
    product: &domain::traffic::Product,
) -> anyhow::Result<domain::traffic::Producer> {
    let mut config = if broker.authenticates() {
        let principal = product.producer.as_ref().ok_or_else(|| {
            UsageError(format!(
                "product `{}` has no producer grant (an owner revoked it on the domain page)",
                product.slug
            ))
        })?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while !domain::producers::pending_syncs(pool, std::slice::from_ref(&principal.domain))
            .await
            .context("failed to reach the database")?
            .is_empty()
        {
            anyhow::ensure!(
                Instant::now() < deadline,
                UsageError(format!(
                    "the producer credential of {} is not on the broker yet; is `meshmart serve` running?",
                    principal.domain
                ))
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let password = broker.derived_password(&domain::producers::password_label(
            principal.username(),
            principal.generation,
        ));
        broker.client_config_as("meshmart-chaos-producer", principal.username(), &password)
    } else {
        broker.producer_config("meshmart-chaos-producer")
    };
    config
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "300000");
    config.create().context("failed to create the producer")
}

/// The subscription the consumer scenarios use: `id`, or the demo's campaign engine's.
async fn subscription(pool: &PgPool, id: Option<Uuid>) -> anyhow::Result<Option<Subscribed>> {
    let row: Option<(Uuid, String, String, String, Vec<String>)> = sqlx::query_as(
        r#"select s.id, s.principal, s.consumer_group, p.slug,
                  coalesce(array_agg(sp.topic order by sp.topic)
                           filter (where sp.topic is not null), '{}')
           from subscriptions s
           join products p on p.id = s.product_id
           left join subscription_ports sp on sp.subscription_id = s.id
           where s.state = 'active'
             and (s.id = $1 or ($1 is null and s.principal = 'User:svc-marketing-campaigns'))
           group by s.id, p.slug
           order by s.activated_at nulls last
           limit 1"#,
    )
    .bind(id)
    .fetch_optional(pool)
    .await
    .context("failed to reach the database")?;
    Ok(row.filter(|(.., topics)| !topics.is_empty()).map(
        |(id, principal, group_prefix, product, topics)| Subscribed {
            id,
            principal,
            group_prefix,
            product,
            topics,
        },
    ))
}
