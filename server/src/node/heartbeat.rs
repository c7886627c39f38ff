//! What a node process reports about itself every couple of seconds, and the orders
//! (pause, restart) it gets back.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use domain::nodes;
use rdkafka::consumer::{BaseConsumer, Consumer};

use super::Runner;
use super::rebalance::NodeContext;

/// How often a node process reports itself (and learns whether it is paused).
pub(super) const HEARTBEAT_EVERY: Duration = Duration::from_secs(2);

/// What a node process reports about itself.
pub(super) struct Status {
    instance: i32,
    host: String,
    started_at: chrono::DateTime<chrono::Utc>,
    pub(super) paused: bool,
    pub(super) records: u64,
    pub(super) dead_letters: u64,
    error: Option<String>,
    pub(super) last_beat: Instant,
    at_last_beat: u64,
    /// The node's restart generation when this run started (known from the first beat).
    pub(super) restart_generation: Option<i32>,
    pub(super) last_running_event: Instant,
}

impl Status {
    /// Keeps the first error since the last heartbeat: those after it are usually its
    /// consequences (a refused record, then the skipped sequence numbers it leaves), and
    /// the incident detector classifies what the heartbeat reports.
    pub(super) fn note_error(&mut self, error: String) {
        self.error.get_or_insert(error);
    }

    pub(super) fn new(instance: u32) -> Self {
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|name| name.trim().to_string())
            .ok()
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "localhost".to_string());
        Self {
            instance: i32::try_from(instance).unwrap_or(i32::MAX),
            host,
            started_at: chrono::Utc::now(),
            paused: false,
            records: 0,
            dead_letters: 0,
            error: None,
            // The first beat goes out at once.
            last_beat: Instant::now() - HEARTBEAT_EVERY,
            at_last_beat: 0,
            restart_generation: None,
            last_running_event: Instant::now(),
        }
    }
}

impl Runner {
    /// Reports this process to the catalog; what the node should be doing (the last known
    /// orders when the database cannot be reached).
    pub(super) fn beat(
        &self,
        consumer: &BaseConsumer<NodeContext>,
        status: &mut Status,
        state: &'static str,
    ) -> nodes::Orders {
        let elapsed = status.last_beat.elapsed().as_secs_f64();
        let written = status.records + status.dead_letters;
        let rate = if elapsed > 0.0 {
            written.saturating_sub(status.at_last_beat) as f64 / elapsed
        } else {
            0.0
        };
        let assignment = consumer.assignment().unwrap_or_default();
        let partitions = assignment
            .elements()
            .iter()
            .filter(|p| p.topic() == self.plan.node.input_topic)
            .map(|p| p.partition())
            .collect();
        let lag = Some(self.lag.load(Ordering::Relaxed)).filter(|lag| *lag >= 0);
        let beat = nodes::Beat {
            instance: status.instance,
            host: status.host.clone(),
            pid: std::process::id() as i32,
            started_at: status.started_at,
            state: if state == "running" && status.paused {
                "paused"
            } else {
                state
            },
            partitions,
            records: status.records as i64,
            dead_letters: status.dead_letters as i64,
            rate,
            lag,
            error: status.error.take(),
            rerouted: self.detour.rerouted(),
        };
        status.last_beat = Instant::now();
        status.at_last_beat = written;
        match self
            .handle
            .block_on(nodes::heartbeat(&self.pool, &self.plan.node.name, &beat))
        {
            Ok(orders) => orders,
            Err(error) => {
                tracing::warn!(%error, "node heartbeat not recorded");
                nodes::Orders {
                    paused: status.paused,
                    restart_generation: status.restart_generation.unwrap_or_default(),
                }
            }
        }
    }
}
