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
//!
//! This file holds the command (its options, the run over the scenarios and the printed
//! results) and the `Stack` the scenarios run against; the stack's methods are spread over
//! the parts by what they do: `load` (what the harness finds on the stack), `play` (one
//! scenario from start to count), `fault` (inject, hold, undo, follow the incident),
//! `evidence` (what shows the fault happened, and whether the stack healed it),
//! `node_processes` (the node scenarios' processes), `undo` (undoing what is pending) and
//! `count` (reading back what a scenario wrote). Below them: [`inject`] (the faults
//! themselves), [`subscriber`], [`read`], [`incidents`], [`scenario`], [`tally`] and
//! [`report`].

mod count;
mod evidence;
mod fault;
pub mod incidents;
pub mod inject;
mod load;
mod node_processes;
mod play;
pub mod read;
pub mod report;
pub mod scenario;
pub mod subscriber;
pub mod tally;
mod undo;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use domain::broker::BrokerConfig;
use domain::traffic::Lane;
use sqlx::PgPool;
use uuid::Uuid;

use crate::cli::UsageError;
use crate::configuration::Settings;
use inject::{Admin, Undos};
use report::{Outcome, Status};
use scenario::{Names, Scenario};

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
