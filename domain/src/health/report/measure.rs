//! One window's health from its points: totals, rates, the newest event's age at each step,
//! the latency percentile, rule pass counts and the series for the chart.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use super::read::{Measured, fine};
use super::verdicts::{declared_seconds, freshness_verdict, sla_verdicts, status};
use super::{
    DeadLetters, Freshness, Health, Lag, PointRow, RuleHealth, SeriesPoint, Shared, percentile,
    seconds,
};
use crate::contracts::quality::dead_letter_topic;
use crate::health::{LATENCY_BUCKETS_MS, STEP_SECONDS};

/// Points in a report's series at most (longer windows are merged into wider buckets).
const MAX_SERIES_POINTS: usize = 120;
/// Where one window stands in time, and what all windows share.
pub(super) struct Moments<'a> {
    pub(super) now: DateTime<Utc>,
    pub(super) start: DateTime<Utc>,
    /// The newest event before `start`.
    pub(super) before: Option<DateTime<Utc>>,
    pub(super) shared: &'a Shared,
}
/// One window's health from its points.
pub(super) fn measure(
    slug: &str,
    row: &Measured,
    window_seconds: i64,
    points: &[PointRow],
    moments: Moments<'_>,
    lag: Vec<Lag>,
) -> Health {
    let Moments {
        now,
        start,
        before,
        shared,
    } = moments;
    let step = if fine(window_seconds) {
        STEP_SECONDS
    } else {
        60
    };
    let (first_checked, dead_lettered) = (shared.first_checked, shared.dead_lettered);
    // The ports' summary and the window's points are read by two statements. A flush that
    // commits between them must not show counted events and "no data" at once, so the
    // newest event is also taken from the points.
    let last_event_at = points
        .iter()
        .map(|point| point.last_event_at)
        .fold(shared.last_event_at, Option::max);

    // Only the part of the window since checking began counts: before, nothing was measured.
    let measured_from = first_checked.map_or(now, |first| first.max(start));
    let measured_seconds = (now - measured_from).num_seconds().max(0);
    let declared_latency = declared_seconds(&row.slas, &["latency", "freshness"]);
    let mut totals = Totals::default();
    for point in points {
        totals.add(point);
    }
    let ages = ages(points, before, measured_from, now, step);
    let current = last_event_at.map(|at| seconds(now - at));
    let observed_p95 = percentile(&ages, 0.95);
    let freshness = Freshness {
        declared_seconds: declared_latency,
        observed_p95_seconds: observed_p95,
        current_seconds: current,
        verdict: freshness_verdict(declared_latency, observed_p95, current),
    };
    let status = status(last_event_at, declared_latency, now);
    let mut quality: Vec<RuleHealth> = row
        .rules
        .iter()
        .map(|(rule, field)| RuleHealth {
            rule: rule.clone(),
            field: field.clone(),
            passed: totals.rule_passed.get(rule).copied().unwrap_or_default(),
            failed: totals.rule_failed.get(rule).copied().unwrap_or_default(),
        })
        .collect();
    quality.dedup_by(|a, b| a.rule == b.rule);
    let slas = sla_verdicts(
        &row.slas,
        &ages,
        points,
        &row.ports,
        declared_latency,
        measured_seconds,
    );
    Health {
        product: slug.to_string(),
        status,
        window_seconds,
        measured_seconds,
        events_per_second: totals.records as f64 / measured_seconds.max(1) as f64,
        events_total: totals.records,
        bytes_per_second: totals.bytes as f64 / measured_seconds.max(1) as f64,
        last_event_at,
        freshness,
        valid_ratio: (totals.records > 0).then(|| totals.valid as f64 / totals.records as f64),
        invalid_total: totals.records - totals.valid,
        invalid_by_reason: totals.invalid,
        quality,
        latency_p99_ms: histogram_percentile(&totals.latency, 0.99),
        dlq: row.ports.first().map(|(_, topic, _)| DeadLetters {
            topic: dead_letter_topic(topic),
            policy: row.policy,
            records: dead_lettered,
        }),
        lag,
        slas,
        series: series(points, start, measured_from, now, step),
    }
}

#[derive(Default)]
struct Totals {
    records: i64,
    valid: i64,
    bytes: i64,
    invalid: BTreeMap<String, i64>,
    rule_passed: HashMap<String, i64>,
    rule_failed: HashMap<String, i64>,
    latency: Vec<i64>,
}

fn counts(value: &Value) -> impl Iterator<Item = (&String, i64)> {
    value
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k, v.as_i64().unwrap_or_default()))
}

impl Totals {
    fn add(&mut self, point: &PointRow) {
        self.records += point.records;
        self.valid += point.valid;
        self.bytes += point.bytes;
        for (reason, n) in counts(&point.invalid) {
            *self.invalid.entry(reason.clone()).or_default() += n;
        }
        for (rule, n) in counts(&point.rule_passed) {
            *self.rule_passed.entry(rule.clone()).or_default() += n;
        }
        for (rule, n) in counts(&point.rule_failed) {
            *self.rule_failed.entry(rule.clone()).or_default() += n;
        }
        if self.latency.len() < point.latency.len() {
            self.latency.resize(point.latency.len(), 0);
        }
        for (total, n) in self.latency.iter_mut().zip(&point.latency) {
            *total += n;
        }
    }
}

/// The newest event's age at the end of each step of the window (steps before the first
/// event ever are left out).
pub(super) fn ages(
    points: &[PointRow],
    before: Option<DateTime<Utc>>,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
    step: i64,
) -> Vec<f64> {
    let mut newest = before;
    let mut points = points.iter().peekable();
    let mut ages = Vec::new();
    let mut at = crate::health::step_of(start);
    while at < now {
        let end = (at + TimeDelta::seconds(step)).min(now);
        while let Some(point) = points.next_if(|p| p.at < end) {
            newest = newest.max(point.last_event_at);
        }
        if let Some(newest) = newest {
            ages.push(seconds(end - newest));
        }
        at += TimeDelta::seconds(step);
    }
    ages
}

/// The upper bound (ms) of the bucket holding the quantile; the slowest bucket has none, so
/// its lower bound is given.
pub(super) fn histogram_percentile(buckets: &[i64], quantile: f64) -> Option<i64> {
    let total: i64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let wanted = (quantile * total as f64).ceil() as i64;
    let mut seen = 0;
    for (index, n) in buckets.iter().enumerate() {
        seen += n;
        if seen >= wanted {
            return Some(
                LATENCY_BUCKETS_MS
                    .get(index)
                    .or(LATENCY_BUCKETS_MS.last())
                    .copied()
                    .unwrap_or_default(),
            );
        }
    }
    LATENCY_BUCKETS_MS.last().copied()
}

/// At most [`MAX_SERIES_POINTS`] buckets covering the window, empty ones included.
fn series(
    points: &[PointRow],
    start: DateTime<Utc>,
    measured_from: DateTime<Utc>,
    now: DateTime<Utc>,
    step: i64,
) -> Vec<SeriesPoint> {
    let span = (now - start).num_seconds().max(step);
    let steps = (span / step).max(1);
    let per_bucket = ((steps as usize).div_ceil(MAX_SERIES_POINTS)).max(1) as i64;
    let width = step * per_bucket;
    let first = crate::health::step_of(start);
    let buckets = ((now - first).num_seconds() / width + 1) as usize;
    let mut series: Vec<SeriesPoint> = (0..buckets)
        .map(|i| {
            let at = first + TimeDelta::seconds(width * i as i64);
            SeriesPoint {
                at,
                seconds: width,
                measured: at + TimeDelta::seconds(width) > measured_from,
                records: 0,
                invalid: 0,
            }
        })
        .collect();
    for point in points {
        let index = ((point.at - first).num_seconds().max(0) / width) as usize;
        if let Some(bucket) = series.get_mut(index) {
            bucket.records += point.records;
            bucket.invalid += point.records - point.valid;
        }
    }
    series
}
