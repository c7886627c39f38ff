//! A product's health over a window, read from the checker's points and set next to what
//! its contract declares: rates, the newest event, freshness (how old the newest event was
//! at each step) with its verdict, valid ratio and reasons, rule pass rates, dead letters,
//! end-to-end latency, and a verdict per declared SLA property.
//!
//! Windows up to [`POINTS_KEPT_HOURS`](super::store::POINTS_KEPT_HOURS) read 10-second
//! points; longer ones (up to 7 days) read minutes, except for the last ten minutes, which
//! the rollup may still be folding (it recomputes the last ten complete minutes every
//! minute): those come from the points.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::{HealthError, LATENCY_BUCKETS_MS, STEP_SECONDS};
use crate::contracts::Sla;
use crate::contracts::quality::{Policy, dead_letter_topic};

/// The default window of a report, in seconds.
pub const DEFAULT_WINDOW_SECONDS: i64 = 300;
/// The longest window, in seconds (the minutes' retention).
pub const MAX_WINDOW_SECONDS: i64 = 7 * 24 * 3600;
/// Without a declared latency, a stream is stale after this long without events.
pub const UNDECLARED_STALE_SECONDS: f64 = 300.0;
/// Points in a report's series at most (longer windows are merged into wider buckets).
const MAX_SERIES_POINTS: usize = 120;

/// Met, at risk or breached, or why there is no verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Met,
    AtRisk,
    Breached,
    /// Nothing was measured yet.
    NoData,
    /// The contract declares nothing to compare with.
    NotDeclared,
    /// Declared in a form Meshmart does not measure (e.g. a `frequency` other than
    /// `continuous`).
    NotEvaluated,
}

/// A stream's state at a glance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Fresh,
    Stale,
    NoData,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Fresh => "fresh",
            Status::Stale => "stale",
            Status::NoData => "no_data",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Freshness {
    /// The contract's `latency` SLA, in seconds.
    pub declared_seconds: Option<f64>,
    /// The 95th percentile over the window's steps of the newest event's age.
    pub observed_p95_seconds: Option<f64>,
    /// The newest event's age now.
    pub current_seconds: Option<f64>,
    pub verdict: Verdict,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleHealth {
    pub rule: String,
    pub field: Option<String>,
    pub passed: i64,
    pub failed: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeadLetters {
    pub topic: String,
    pub policy: Policy,
    /// Records copied to the topic since checking began.
    pub records: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Lag {
    pub subscription: Uuid,
    pub group: String,
    pub messages: i64,
    pub seconds: f64,
    pub measured_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SlaVerdict {
    pub property: String,
    /// As declared, with its unit.
    pub declared: String,
    /// What was measured, in the declared property's terms; `None` without data.
    pub observed: Option<String>,
    pub verdict: Verdict,
}

/// One step of the series: its start, records checked and invalid ones.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SeriesPoint {
    pub at: DateTime<Utc>,
    pub seconds: i64,
    /// Whether records were being checked during this bucket (a bucket before checking
    /// began has no numbers, not zero).
    pub measured: bool,
    pub records: i64,
    pub invalid: i64,
}

/// A product's measured health.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Health {
    pub product: String,
    pub status: Status,
    pub window_seconds: i64,
    /// The part of the window during which records were checked (rates are over this).
    pub measured_seconds: i64,
    pub events_per_second: f64,
    pub events_total: i64,
    pub bytes_per_second: f64,
    pub last_event_at: Option<DateTime<Utc>>,
    pub freshness: Freshness,
    /// Valid records over checked ones in the window; `None` when none were checked.
    pub valid_ratio: Option<f64>,
    pub invalid_total: i64,
    pub invalid_by_reason: BTreeMap<String, i64>,
    pub quality: Vec<RuleHealth>,
    pub latency_p99_ms: Option<i64>,
    pub dlq: Option<DeadLetters>,
    pub lag: Vec<Lag>,
    pub slas: Vec<SlaVerdict>,
    pub series: Vec<SeriesPoint>,
}

/// Whose subscriptions' lag a report lists.
#[derive(Clone, Copy, Debug)]
pub enum LagScope {
    /// Every live subscription of the product (owners, admins).
    All,
    /// The subscriptions this user requested.
    RequestedBy(Uuid),
    None,
}

struct Measured {
    id: Uuid,
    slas: Vec<Sla>,
    ports: Vec<(Uuid, String, i64)>,
    rules: Vec<(String, Option<String>)>,
    policy: Policy,
}

async fn product(pool: &PgPool, slug: &str) -> Result<Measured, HealthError> {
    let row = super::product_row(pool, slug).await?;
    let ports = sqlx::query_as::<_, (Uuid, String, i64)>(
        "select id, topic, retention_ms from output_ports where product_id = $1 order by topic",
    )
    .bind(row.id)
    .fetch_all(pool)
    .await?;
    let quality = crate::contracts::quality::port_rules(&row.document).unwrap_or_default();
    let rules = quality
        .iter()
        .flat_map(|port| port.rules.iter())
        .map(|rule| {
            (
                rule.name.clone(),
                rule.field
                    .as_deref()
                    .map(crate::contracts::quality::display_path),
            )
        })
        .collect();
    let policy = quality.first().map(|q| q.policy).unwrap_or_default();
    Ok(Measured {
        id: row.id,
        slas: serde_json::from_value(row.slas).unwrap_or_default(),
        ports,
        rules,
        policy,
    })
}

/// Who reads a product's health, and whose lag they see.
#[derive(Clone, Copy, Debug)]
pub struct Reader {
    /// An owner of the product's domain, or an admin.
    pub owner: bool,
    pub lag: LagScope,
}

/// Whether `caller` may read the product's health (anyone who may read the catalog), and
/// whose consumer lag they see: every subscription's for its owners and admins, their own
/// for others.
pub async fn reader(
    pool: &PgPool,
    policy: &crate::policy::Policy,
    caller: &crate::identity::Caller,
    slug: &str,
) -> Result<Reader, HealthError> {
    use crate::policy::{GLOBAL, Permission};
    let user = policy
        .authorize(caller, GLOBAL, Permission::ReadCatalog)
        .await?;
    let domain = crate::catalog::domain_of(pool, slug)
        .await?
        .ok_or(HealthError::NotFound)?;
    let owner = policy.allows(user, &domain, Permission::WriteProduct).await;
    Ok(Reader {
        owner,
        lag: if owner {
            LagScope::All
        } else {
            LagScope::RequestedBy(user.id)
        },
    })
}

/// What every window of one product shares: the newest event, when checking began, and
/// the records copied to its dead-letter topics.
#[derive(sqlx::FromRow)]
struct Shared {
    last_event_at: Option<DateTime<Utc>>,
    first_checked: Option<DateTime<Utc>>,
    dead_lettered: i64,
}

#[derive(sqlx::FromRow)]
struct PointRow {
    at: DateTime<Utc>,
    records: i64,
    valid: i64,
    bytes: i64,
    invalid: Value,
    rule_passed: Value,
    rule_failed: Value,
    last_event_at: Option<DateTime<Utc>>,
    latency: Vec<i64>,
}

/// The health of a product over the last `window_seconds`, as of now.
pub async fn health(
    pool: &PgPool,
    slug: &str,
    window_seconds: i64,
    lag: LagScope,
) -> Result<Health, HealthError> {
    let mut found = healths(pool, slug, &[window_seconds], lag).await?;
    found.pop().ok_or(HealthError::BadWindow)
}

/// The health of a product over each window, the product read once; lag is listed in the
/// first only.
pub async fn healths(
    pool: &PgPool,
    slug: &str,
    windows: &[i64],
    lag: LagScope,
) -> Result<Vec<Health>, HealthError> {
    if windows
        .iter()
        .any(|w| !(10..=MAX_WINDOW_SECONDS).contains(w))
    {
        return Err(HealthError::BadWindow);
    }
    let row = product(pool, slug).await?;
    let now = Utc::now();
    let port_ids: Vec<Uuid> = row.ports.iter().map(|p| p.0).collect();
    let starts: Vec<DateTime<Utc>> = windows
        .iter()
        .map(|w| now - TimeDelta::seconds(*w))
        .collect();
    let shared: Shared = sqlx::query_as(
        r#"select max(last_event_at) as last_event_at, min(first_checked_at) as first_checked,
                  coalesce(sum(dlq_records), 0)::bigint as dead_lettered
           from port_health where port_id = any($1)"#,
    )
    .bind(&port_ids)
    .fetch_one(pool)
    .await?;
    // The newest event before each window's start (for the ages at its beginning).
    let before: Vec<Option<DateTime<Utc>>> = sqlx::query_scalar(
        r#"select greatest(
                      (select max(last_event_at) from health_points
                       where port_id = any($1) and at < s.start),
                      (select max(last_event_at) from health_minutes
                       where port_id = any($1) and at < s.start))
           from unnest($2::timestamptz[]) with ordinality as s(start, n) order by s.n"#,
    )
    .bind(&port_ids)
    .bind(&starts)
    .fetch_all(pool)
    .await?;
    // The windows that read 10-second points share the widest one's points.
    let widest_fine = windows.iter().copied().filter(|w| fine(*w)).max();
    let fine_points = match widest_fine {
        Some(widest) => points(pool, &port_ids, now - TimeDelta::seconds(widest), true).await?,
        None => Vec::new(),
    };
    let mut found = Vec::with_capacity(windows.len());
    for (index, window) in windows.iter().enumerate() {
        let start = starts[index];
        // Points come ordered by time: a fine window is the tail of the widest one's.
        let coarse;
        let points = if fine(*window) {
            &fine_points[fine_points.partition_point(|p| p.at < start)..]
        } else {
            coarse = points(pool, &port_ids, start, false).await?;
            &coarse[..]
        };
        let lag = if index == 0 { lag } else { LagScope::None };
        let lag = lags(pool, row.id, lag).await?;
        let moments = Moments {
            now,
            start,
            before: before.get(index).copied().flatten(),
            shared: &shared,
        };
        found.push(measure(slug, &row, *window, points, moments, lag));
    }
    Ok(found)
}

/// Whether a window reads 10-second points (they are kept a few hours), not minute rollups.
fn fine(window_seconds: i64) -> bool {
    window_seconds <= super::store::POINTS_KEPT_HOURS * 3600
}

/// Where one window stands in time, and what all windows share.
struct Moments<'a> {
    now: DateTime<Utc>,
    start: DateTime<Utc>,
    /// The newest event before `start`.
    before: Option<DateTime<Utc>>,
    shared: &'a Shared,
}

/// The points of the ports since `start`: 10-second points when `fine`, else minute
/// rollups (with the last ten minutes from the 10-second points, not rolled up yet).
async fn points(
    pool: &PgPool,
    port_ids: &[Uuid],
    start: DateTime<Utc>,
    fine: bool,
) -> Result<Vec<PointRow>, sqlx::Error> {
    sqlx::query_as::<_, PointRow>(
        r#"with raw as (
               select at, records, valid, bytes, invalid, rule_passed, rule_failed,
                   last_event_at, latency
               from health_points
               where port_id = any($1) and at >= $2
                   and ($3 or at >= date_trunc('minute', now()) - interval '10 minutes')
               union all
               select at, records, valid, bytes, invalid, rule_passed, rule_failed,
                   last_event_at, latency
               from health_minutes
               where port_id = any($1) and at >= $2 and not $3
                   and at < date_trunc('minute', now()) - interval '10 minutes')
           select case when $3 then at else date_trunc('minute', at) end as at,
               sum(records)::bigint as records, sum(valid)::bigint as valid,
               sum(bytes)::bigint as bytes, health_counts_sum(invalid) as invalid,
               health_counts_sum(rule_passed) as rule_passed,
               health_counts_sum(rule_failed) as rule_failed,
               max(last_event_at) as last_event_at, health_buckets_sum(latency) as latency
           from raw group by 1 order by 1"#,
    )
    .bind(port_ids)
    .bind(start)
    .bind(fine)
    .fetch_all(pool)
    .await
}

/// One window's health from its points.
fn measure(
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
    let (last_event_at, first_checked, dead_lettered) = (
        shared.last_event_at,
        shared.first_checked,
        shared.dead_lettered,
    );

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

fn seconds(delta: TimeDelta) -> f64 {
    (delta.num_milliseconds().max(0) as f64) / 1000.0
}

/// The newest event's age at the end of each step of the window (steps before the first
/// event ever are left out).
fn ages(
    points: &[PointRow],
    before: Option<DateTime<Utc>>,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
    step: i64,
) -> Vec<f64> {
    let mut newest = before;
    let mut points = points.iter().peekable();
    let mut ages = Vec::new();
    let mut at = super::step_of(start);
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

fn percentile(values: &[f64], quantile: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((quantile * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// The upper bound (ms) of the bucket holding the quantile; the slowest bucket has none, so
/// its lower bound is given.
fn histogram_percentile(buckets: &[i64], quantile: f64) -> Option<i64> {
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

/// Freshness against the declared latency: breached when the window's p95 age exceeds it;
/// at risk when the p95 is above 80 % of it or the stream is late right now.
pub fn freshness_verdict(declared: Option<f64>, p95: Option<f64>, current: Option<f64>) -> Verdict {
    let Some(declared) = declared else {
        return Verdict::NotDeclared;
    };
    let (Some(p95), Some(current)) = (p95, current) else {
        return Verdict::NoData;
    };
    if p95 > declared {
        Verdict::Breached
    } else if p95 > 0.8 * declared || current > declared {
        Verdict::AtRisk
    } else {
        Verdict::Met
    }
}

/// Fresh while the newest event is at most the declared latency old (five minutes without
/// one), stale after, no data before the first event.
pub fn status(
    last_event_at: Option<DateTime<Utc>>,
    declared: Option<f64>,
    now: DateTime<Utc>,
) -> Status {
    match last_event_at {
        None => Status::NoData,
        Some(at) if seconds(now - at) <= declared.unwrap_or(UNDECLARED_STALE_SECONDS) => {
            Status::Fresh
        }
        Some(_) => Status::Stale,
    }
}

/// A declared duration property in seconds (`{"value": 5, "unit": "s"}`).
pub fn declared_seconds(slas: &[Sla], properties: &[&str]) -> Option<f64> {
    let sla = slas.iter().find(|s| {
        properties
            .iter()
            .any(|p| s.property.eq_ignore_ascii_case(p))
    })?;
    let value: f64 = sla.value.trim().parse().ok()?;
    // The same units the contract's freshness rule reads (a unitless value is seconds).
    let factor = crate::contracts::quality::unit_seconds(sla.unit.as_deref().unwrap_or("s"))?;
    (value >= 0.0).then_some(value * factor)
}

fn sla_verdicts(
    slas: &[Sla],
    ages: &[f64],
    points: &[PointRow],
    ports: &[(Uuid, String, i64)],
    declared_latency: Option<f64>,
    measured_seconds: i64,
) -> Vec<SlaVerdict> {
    slas.iter()
        .filter_map(|sla| {
            let declared = match &sla.unit {
                Some(unit) => format!("{} {unit}", sla.value),
                None => sla.value.clone(),
            };
            let property = sla.property.to_ascii_lowercase();
            let (observed, verdict) = match property.as_str() {
                "latency" | "freshness" => {
                    let p95 = percentile(ages, 0.95);
                    let last = ages.last().copied();
                    (
                        p95.map(|p| format!("p95 {p:.1} s")),
                        freshness_verdict(declared_latency, p95, last),
                    )
                }
                "availability" => availability(sla, ages, declared_latency),
                "retention" => retention(slas, ports),
                "frequency" => frequency(sla, points, measured_seconds),
                _ => return None,
            };
            Some(SlaVerdict {
                property: sla.property.clone(),
                declared,
                observed,
                verdict,
            })
        })
        .collect()
}

/// The share of steps in which the stream was fresh, against the declared percentage; at
/// risk once more than half the error budget is spent.
fn availability(sla: &Sla, ages: &[f64], latency: Option<f64>) -> (Option<String>, Verdict) {
    let Ok(declared) = sla.value.trim().trim_end_matches('%').parse::<f64>() else {
        return (None, Verdict::NotEvaluated);
    };
    if ages.is_empty() {
        return (None, Verdict::NoData);
    }
    let limit = latency.unwrap_or(UNDECLARED_STALE_SECONDS);
    let fresh = ages.iter().filter(|age| **age <= limit).count();
    let observed = 100.0 * fresh as f64 / ages.len() as f64;
    let verdict = if observed < declared {
        Verdict::Breached
    } else if observed < declared + (100.0 - declared) / 2.0 {
        Verdict::AtRisk
    } else {
        Verdict::Met
    };
    (Some(format!("{observed:.2} %")), verdict)
}

/// The topics' configured retention against the declared one.
fn retention(slas: &[Sla], ports: &[(Uuid, String, i64)]) -> (Option<String>, Verdict) {
    let Some(declared) = declared_seconds(slas, &["retention"]) else {
        return (None, Verdict::NotEvaluated);
    };
    let Some(shortest) = ports.iter().map(|p| p.2).min() else {
        return (None, Verdict::NoData);
    };
    let observed = shortest as f64 / 1000.0;
    let verdict = if observed >= declared {
        Verdict::Met
    } else {
        Verdict::Breached
    };
    (Some(format!("{:.1} d", observed / 86_400.0)), verdict)
}

/// `continuous`: every minute checked in the window had events (at risk from one gap, breached
/// beyond 5 %).
fn frequency(sla: &Sla, points: &[PointRow], measured_seconds: i64) -> (Option<String>, Verdict) {
    if !sla.value.trim().eq_ignore_ascii_case("continuous") {
        return (None, Verdict::NotEvaluated);
    }
    if points.is_empty() {
        return (None, Verdict::NoData);
    }
    let minutes = (measured_seconds as f64 / 60.0).ceil().max(1.0) as i64;
    let mut active: Vec<i64> = points
        .iter()
        .filter(|p| p.records > 0)
        .map(|p| p.at.timestamp() / 60)
        .collect();
    active.dedup();
    let share = 100.0 * (active.len() as f64).min(minutes as f64) / minutes as f64;
    let verdict = if share >= 100.0 - f64::EPSILON {
        Verdict::Met
    } else if share >= 95.0 {
        Verdict::AtRisk
    } else {
        Verdict::Breached
    };
    (Some(format!("events in {share:.0} % of minutes")), verdict)
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
    let first = super::step_of(start);
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

/// The newest measured lag of the product's live subscriptions in scope.
async fn lags(pool: &PgPool, product: Uuid, scope: LagScope) -> Result<Vec<Lag>, sqlx::Error> {
    let (all, user) = match scope {
        LagScope::None => return Ok(Vec::new()),
        LagScope::All => (true, None),
        LagScope::RequestedBy(user) => (false, Some(user)),
    };
    let rows = sqlx::query_as::<_, (Uuid, String, i64, f64, DateTime<Utc>)>(
        r#"select distinct on (l.subscription_id, l.consumer_group)
               l.subscription_id, l.consumer_group, l.messages, l.seconds, l.at
           from lag_points l join subscriptions s on s.id = l.subscription_id
           where s.product_id = $1 and s.state = 'active'
             and ($2 or s.requested_by = $3)
             and l.at > now() - interval '10 minutes'
           order by l.subscription_id, l.consumer_group, l.at desc"#,
    )
    .bind(product)
    .bind(all)
    .bind(user)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(subscription, group, messages, seconds, measured_at)| Lag {
                subscription,
                group,
                messages,
                seconds,
                measured_at,
            },
        )
        .collect())
}

/// The statuses last published for these products, by slug (none: no data yet).
pub async fn published_statuses(
    pool: &PgPool,
    slugs: &[String],
) -> Result<HashMap<String, String>, sqlx::Error> {
    let rows = sqlx::query_as::<_, (String, String)>(
        r#"select p.slug, s.status from products p
           join product_stream_status s on s.product_id = p.id where p.slug = any($1)"#,
    )
    .bind(slugs)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().collect())
}

/// Stores each measured product's status where it changed and tells the search feed, so
/// search filters (`health:stale`) and result badges follow the streams. Returns the
/// products whose status changed.
pub async fn publish_statuses(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query_as::<_, (Uuid, String, Value, Option<DateTime<Utc>>, Option<String>)>(
        r#"select p.id, p.slug, p.slas, max(h.last_event_at), s.status
           from products p join output_ports o on o.product_id = p.id
           join port_health h on h.port_id = o.id
           left join product_stream_status s on s.product_id = p.id
           group by p.id, p.slug, p.slas, s.status"#,
    )
    .fetch_all(pool)
    .await?;
    let now = Utc::now();
    let mut changed = Vec::new();
    for (id, slug, slas, last, stored) in rows {
        let slas: Vec<Sla> = serde_json::from_value(slas).unwrap_or_default();
        let declared = declared_seconds(&slas, &["latency", "freshness"]);
        let current = status(last, declared, now).as_str();
        if stored.as_deref() == Some(current) {
            continue;
        }
        sqlx::query(
            r#"insert into product_stream_status (product_id, status) values ($1, $2)
               on conflict (product_id) do update set status = excluded.status, changed_at = now()"#,
        )
        .bind(id)
        .bind(current)
        .execute(pool)
        .await?;
        changed.push(slug);
    }
    if !changed.is_empty() {
        let joined = changed.join(" ");
        let payload = if joined.len() > 7000 {
            "*".to_string()
        } else {
            joined
        };
        sqlx::query("select pg_notify('search_changed', $1)")
            .bind(payload)
            .execute(pool)
            .await?;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_verdicts_follow_the_declared_latency() {
        assert_eq!(
            freshness_verdict(None, Some(1.0), Some(1.0)),
            Verdict::NotDeclared
        );
        assert_eq!(freshness_verdict(Some(5.0), None, None), Verdict::NoData);
        assert_eq!(
            freshness_verdict(Some(5.0), Some(1.0), Some(1.0)),
            Verdict::Met
        );
        assert_eq!(
            freshness_verdict(Some(5.0), Some(4.5), Some(1.0)),
            Verdict::AtRisk
        );
        assert_eq!(
            freshness_verdict(Some(5.0), Some(1.0), Some(9.0)),
            Verdict::AtRisk
        );
        assert_eq!(
            freshness_verdict(Some(5.0), Some(6.0), Some(1.0)),
            Verdict::Breached
        );
    }

    #[test]
    fn declared_durations_are_read_in_their_unit() {
        let sla = |value: &str, unit: Option<&str>| Sla {
            property: "latency".into(),
            value: value.into(),
            unit: unit.map(str::to_string),
            element: None,
            driver: None,
        };
        assert_eq!(
            declared_seconds(&[sla("5", Some("s"))], &["latency"]),
            Some(5.0)
        );
        assert_eq!(
            declared_seconds(&[sla("2", Some("min"))], &["latency"]),
            Some(120.0)
        );
        assert_eq!(
            declared_seconds(&[sla("1", Some("hr"))], &["latency"]),
            Some(3600.0)
        );
        assert_eq!(
            declared_seconds(&[sla("250", Some("ms"))], &["latency"]),
            Some(0.25)
        );
        assert_eq!(
            declared_seconds(&[sla("fast", Some("s"))], &["latency"]),
            None
        );
        assert_eq!(
            declared_seconds(&[sla("1", Some("fortnight"))], &["latency"]),
            None
        );
        assert_eq!(declared_seconds(&[sla("1", None)], &["retention"]), None);
    }

    #[test]
    fn the_latency_percentile_is_the_bucket_bound_that_holds_it() {
        let mut buckets = vec![0; LATENCY_BUCKETS_MS.len() + 1];
        buckets[0] = 98; // ≤ 10 ms
        buckets[4] = 2; // ≤ 200 ms
        assert_eq!(histogram_percentile(&buckets, 0.98), Some(10));
        assert_eq!(histogram_percentile(&buckets, 0.99), Some(200));
        assert_eq!(histogram_percentile(&[], 0.99), None);
    }

    #[test]
    fn ages_carry_the_newest_event_across_empty_steps() {
        let start = DateTime::parse_from_rfc3339("2026-12-04T10:00:00Z")
            .expect("a valid time")
            .with_timezone(&Utc);
        let point = |offset: i64, event: i64| PointRow {
            at: start + TimeDelta::seconds(offset),
            records: 1,
            valid: 1,
            bytes: 1,
            invalid: Value::Null,
            rule_passed: Value::Null,
            rule_failed: Value::Null,
            last_event_at: Some(start + TimeDelta::seconds(event)),
            latency: Vec::new(),
        };
        let now = start + TimeDelta::seconds(40);
        let ages = ages(&[point(0, 9), point(20, 25)], None, start, now, 10);
        // step ends 10, 20, 30, 40: newest 9, 9, 25, 25
        assert_eq!(ages, vec![1.0, 11.0, 5.0, 15.0]);
        assert_eq!(
            status(Some(start + TimeDelta::seconds(25)), Some(5.0), now),
            Status::Stale
        );
        assert_eq!(
            status(Some(start + TimeDelta::seconds(38)), Some(5.0), now),
            Status::Fresh
        );
        assert_eq!(status(None, Some(5.0), now), Status::NoData);
    }

    #[sqlx::test(migrator = "crate::db::MIGRATOR")]
    async fn a_long_window_counts_minutes_and_the_points_not_rolled_up_yet(pool: PgPool) {
        crate::demo::seed_parts(
            &pool,
            &[crate::demo::Part::Identities, crate::demo::Part::Catalog],
            false,
        )
        .await
        .expect("demo catalog");
        let port: Uuid = sqlx::query_scalar(
            "select o.id from output_ports o join products p on p.id = o.product_id
             where p.slug = 'customer-signed-up'",
        )
        .fetch_one(&pool)
        .await
        .expect("the port");
        let now = Utc::now();
        let insert = |table: &'static str, at: DateTime<Utc>, records: i64| {
            let pool = pool.clone();
            async move {
                sqlx::query(&format!(
                    "insert into {table} (port_id, at, records, valid, last_event_at)
                     values ($1, $2, $3, $3, $2)"
                ))
                .bind(port)
                .bind(at)
                .bind(records)
                .execute(&pool)
                .await
                .expect("row");
            }
        };
        // An hour ago, rolled up; two minutes ago and just now, only points so far.
        insert(
            "health_minutes",
            super::super::step_of(now - TimeDelta::hours(1)),
            100,
        )
        .await;
        insert(
            "health_points",
            super::super::step_of(now - TimeDelta::minutes(2)),
            20,
        )
        .await;
        insert("health_points", super::super::step_of(now), 3).await;
        sqlx::query(
            "insert into port_health (port_id, last_event_at, first_checked_at, last_checked_at)
             values ($1, $2, $3, $2)",
        )
        .bind(port)
        .bind(now)
        .bind(now - TimeDelta::hours(2))
        .execute(&pool)
        .await
        .expect("port health");

        let long = health(&pool, "customer-signed-up", 3 * 3600, LagScope::None)
            .await
            .expect("health");
        assert_eq!(long.events_total, 123);
        assert_eq!(long.measured_seconds, 2 * 3600);
        let short = health(&pool, "customer-signed-up", 300, LagScope::None)
            .await
            .expect("health");
        assert_eq!(short.events_total, 23);
        assert_eq!(short.status, Status::Fresh);
        assert_eq!(short.valid_ratio, Some(1.0));
        assert!(matches!(
            health(&pool, "customer-signed-up", 5, LagScope::None).await,
            Err(HealthError::BadWindow)
        ));
        assert!(matches!(
            health(&pool, "no-such-product", 300, LagScope::None).await,
            Err(HealthError::NotFound)
        ));
    }
}
