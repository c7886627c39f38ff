//! What shows that a fault really happened (counters before and after it, facts seen while
//! it lasted), and whether the stack undid it itself.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use domain::traffic::live::{self, SharedLog};

use super::inject;
use super::node_processes::LIVE_SECONDS;
use super::scenario::Scenario;
use super::{Stack, subscriber};

impl Stack {
    /// Facts seen while the fault lasts that show it really happened.
    pub(super) async fn observe(
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
                    let error: Option<String> = sqlx::query_scalar!(
                        r#"select last_error as "last_error!" from node_instances
                           where node = $1 and last_error_at >= $2 and last_error is not null
                           order by last_error_at desc limit 1"#,
                        node.name,
                        at as domain::db::Timestamp,
                    )
                    .fetch_optional(&self.pool)
                    .await
                    .ok()
                    .flatten();
                    if error.is_some() {
                        observed.node_error = error;
                    }
                    let live: i64 = sqlx::query_scalar!(
                        r#"select count(*) as "count!" from node_instances
                           where node = $1 and state = 'running'
                             and heartbeat_at > now() - make_interval(secs => $2)"#,
                        node.name,
                        LIVE_SECONDS,
                    )
                    .fetch_one(&self.pool)
                    .await
                    .unwrap_or(-1);
                    if live == 0 {
                        observed.node_absent = true;
                    }
                    let pids: Vec<i32> = sqlx::query_scalar!(
                        "select pid from node_instances where node = $1",
                        node.name,
                    )
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
    pub(super) async fn healed(
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
                let back: i64 = sqlx::query_scalar!(
                    r#"select count(*) as "count!" from node_instances
                       where node = $1 and state = 'running' and started_at > $2
                         and heartbeat_at > now() - make_interval(secs => $3)"#,
                    node.name,
                    at as domain::db::Timestamp,
                    LIVE_SECONDS,
                )
                .fetch_one(&self.pool)
                .await
                .ok()?;
                (back > 0).then(|| (clock.elapsed().as_secs_f64(), "node restarted".to_string()))
            }
            _ => None,
        }
    }
}

/// What the fault loop saw.
#[derive(Debug, Default)]
pub(super) struct Observed {
    broker_down: Option<String>,
    refused: Option<String>,
    node_error: Option<String>,
    node_absent: bool,
    /// Node processes seen reporting during the fault (a restart is a new pid).
    node_pids: Vec<i32>,
}

/// The producer's and consumer's counters at a moment.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Snapshot {
    sent: u64,
    pub(super) acked: usize,
    bad: u64,
    drifted: u64,
    hot: u64,
    consumed: u64,
    refused: u64,
    at: Option<Instant>,
}

impl Snapshot {
    pub(super) fn take(log: &SharedLog, subscriber: Option<&subscriber::Subscriber>) -> Self {
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
    pub(super) fn evidence(
        &self,
        scenario: Scenario,
        before: &Snapshot,
        observed: &Observed,
    ) -> Vec<String> {
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
