//! Retraining the signal models: each channel's recent history without its incidents'
//! time (a fault is never learned as normal), fitted off the async threads and saved.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

use super::Detector;
use crate::db::Timestamp;
use crate::health::STEP_SECONDS;
use crate::incidents::Signal;
use crate::incidents::model;
use crate::incidents::signals::{self, Point};

impl Detector {
    pub(super) async fn train(
        &mut self,
        pool: &PgPool,
        ports: &[signals::Port],
        groups: &[signals::Group],
        nodes: &[signals::NodeNow],
        busy: &HashSet<String>,
        step: DateTime<Utc>,
    ) -> Result<(usize, f64), sqlx::Error> {
        let since = step - Duration::seconds(STEP_SECONDS * model::MAX_POINTS as i64);
        // A fault is never learned as normal: the time of every incident of a channel (and
        // 30 s after it) is left out of its history.
        let faults: Vec<(String, Timestamp, Timestamp)> = sqlx::query!(
            r#"select channel, started_at - interval '10 seconds' as "from!: Timestamp",
                      coalesce(resolved_at, now()) + interval '30 seconds' as "until!: Timestamp"
               from incidents where coalesce(resolved_at, now()) > $1"#,
            since as Timestamp,
        )
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|row| (row.channel, row.from, row.until))
        .collect();
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
        let count = trained.len();
        self.learning = count < wanted;
        for (key, signal, points, band) in trained {
            model::save(pool, &key, signal, &band, points).await?;
            self.bands.insert((key, signal), band);
        }
        Ok((count, seconds))
    }
}
