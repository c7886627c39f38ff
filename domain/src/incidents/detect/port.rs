//! One product output port's signals in a round: records in below their band (or silent
//! past rate and freshness SLA), an invalid share above its band, and a hot partition.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

use super::{Detector, Found, SKEW_WINDOW, trailing_run};
use crate::health::STEP_SECONDS;
use crate::incidents::Signal;
use crate::incidents::diagnose::{Anomaly, Facts};
use crate::incidents::model;
use crate::incidents::signals;

impl Detector {
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn port(
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
}
