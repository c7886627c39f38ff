//! One stream node in a round: its rate below its band, its processes gone, crashed or
//! looping on errors, or its output rerouted, with the facts a diagnosis reads.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

use super::{CRASH_SECONDS, Detector, Found, STEPS_OUT, trailing_run};
use crate::incidents::Signal;
use crate::incidents::diagnose::{Anomaly, Facts, NodeFacts};
use crate::incidents::signals::{self, Point};

impl Detector {
    pub(super) async fn node(
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
}
