//! One subscriber's consumer group in a round: lag above its band or freshness SLA, or
//! growing toward the SLA fast enough to breach it soon (a forecast), with the group's
//! members, state and progress against what was produced.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

use super::probe::Probe;
use super::{Detector, Found, PREDICT_WITHIN_SECONDS, trailing_run};
use crate::health::STEP_SECONDS;
use crate::incidents::Signal;
use crate::incidents::diagnose::{Anomaly, Facts, GroupFacts};
use crate::incidents::model;
use crate::incidents::signals::{self, Point, last_complete_step};

impl Detector {
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn group(
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
}
