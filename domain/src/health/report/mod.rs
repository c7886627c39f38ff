//! A product's health over a window, read from the checker's points and set next to what
//! its contract declares: rates, the newest event, freshness (how old the newest event was
//! at each step) with its verdict, valid ratio and reasons, rule pass rates, dead letters,
//! end-to-end latency, and a verdict per declared SLA property.
//!
//! Windows up to [`POINTS_KEPT_HOURS`](super::store::POINTS_KEPT_HOURS) read 10-second
//! points; longer ones (up to 7 days) read minutes, except for the last ten minutes, which
//! the rollup may still be folding (it recomputes the last ten complete minutes every
//! minute): those come from the points.
//!
//! This file holds what a report answers, who may read it, and the entry points that read a
//! product's windows; the reads are in `read.rs`, one window is measured in `measure.rs`,
//! its verdicts given in `verdicts.rs`, and stream statuses published in `publish.rs`.

mod measure;
mod publish;
mod read;
mod verdicts;

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::HealthError;
use crate::contracts::quality::Policy;
use crate::db::Timestamp;
use measure::{Moments, measure};
pub use publish::{publish_statuses, published_statuses};
use read::{fine, lags, points, product};
pub use verdicts::{declared_seconds, freshness_verdict, status};

/// The default window of a report, in seconds.
pub const DEFAULT_WINDOW_SECONDS: i64 = 300;
/// The longest window, in seconds (the minutes' retention).
pub const MAX_WINDOW_SECONDS: i64 = 7 * 24 * 3600;
/// Without a declared latency, a stream is stale after this long without events.
pub const UNDECLARED_STALE_SECONDS: f64 = 300.0;
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
/// Who reads a product's health, and whose lag they see.
#[derive(Clone, Debug)]
pub struct Reader {
    /// An owner of the product's domain, or an admin.
    pub owner: bool,
    pub lag: LagScope,
    /// The product read: its id and domain.
    pub product: Uuid,
    pub domain: String,
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
    let product = sqlx::query!("select id, domain from products where slug = $1", slug)
        .fetch_optional(pool)
        .await?
        .ok_or(HealthError::NotFound)?;
    Ok(reader_of(policy, user, product.id, product.domain).await)
}

/// [`reader`] for a `user` the policy has let read the catalog, of a product already read
/// (its id and domain): the product page has both.
pub async fn reader_of(
    policy: &crate::policy::Policy,
    user: &crate::identity::User,
    product: Uuid,
    domain: String,
) -> Reader {
    let owner = policy
        .allows(user, &domain, crate::policy::Permission::WriteProduct)
        .await;
    Reader {
        owner,
        lag: if owner {
            LagScope::All
        } else {
            LagScope::RequestedBy(user.id)
        },
        product,
        domain,
    }
}

/// What every window of one product shares: the newest event, when checking began, and
/// the records copied to its dead-letter topics.
struct Shared {
    last_event_at: Option<Timestamp>,
    first_checked: Option<Timestamp>,
    dead_lettered: i64,
}

struct PointRow {
    at: Timestamp,
    records: i64,
    valid: i64,
    bytes: i64,
    invalid: Value,
    rule_passed: Value,
    rule_failed: Value,
    last_event_at: Option<Timestamp>,
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
    let now = Utc::now();
    let starts: Vec<Timestamp> = windows
        .iter()
        .map(|w| now - TimeDelta::seconds(*w))
        .collect();
    let row = product(pool, slug, &starts).await?;
    let port_ids: Vec<Uuid> = row.ports.iter().map(|p| p.0).collect();
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
            before: row.before.get(index).copied().flatten(),
            shared: &row.shared,
        };
        found.push(measure(slug, &row, *window, points, moments, lag));
    }
    Ok(found)
}

fn seconds(delta: TimeDelta) -> f64 {
    (delta.num_milliseconds().max(0) as f64) / 1000.0
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

#[cfg(test)]
mod tests {
    use super::measure::{ages, histogram_percentile};
    use super::read::Measured;
    use super::*;
    use crate::contracts::Sla;
    use crate::health::LATENCY_BUCKETS_MS;

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

    /// A latency SLA of `value` in `unit`.
    fn sla(value: &str, unit: Option<&str>) -> Sla {
        Sla {
            property: "latency".into(),
            value: value.into(),
            unit: unit.map(str::to_string),
            element: None,
            driver: None,
        }
    }

    #[test]
    fn declared_durations_are_read_in_their_unit() {
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
    fn points_flushed_after_the_ports_summary_was_read_still_count_as_events() {
        let now = DateTime::parse_from_rfc3339("2026-12-04T10:00:00Z")
            .expect("a valid time")
            .with_timezone(&Utc);
        let row = Measured {
            id: Uuid::nil(),
            slas: vec![sla("30", Some("s"))],
            ports: Vec::new(),
            rules: Vec::new(),
            policy: Policy::default(),
            shared: Shared {
                last_event_at: None,
                first_checked: None,
                dead_lettered: 0,
            },
            before: Vec::new(),
        };
        // The summary was read before the checker's flush; the points after it.
        let summary = Shared {
            last_event_at: None,
            first_checked: Some(now - TimeDelta::seconds(20)),
            dead_lettered: 0,
        };
        let points = [PointRow {
            at: now - TimeDelta::seconds(10),
            records: 26,
            valid: 20,
            bytes: 100,
            invalid: Value::Null,
            rule_passed: Value::Null,
            rule_failed: Value::Null,
            last_event_at: Some(now - TimeDelta::seconds(5)),
            latency: Vec::new(),
        }];
        let moments = |shared| Moments {
            now,
            start: now - TimeDelta::seconds(300),
            before: None,
            shared,
        };
        let health = measure("p", &row, 300, &points, moments(&summary), Vec::new());
        assert_eq!(health.events_total, 26);
        assert_eq!(health.status, Status::Fresh);
        assert_eq!(health.last_event_at, Some(now - TimeDelta::seconds(5)));
        let none = measure("p", &row, 300, &[], moments(&summary), Vec::new());
        assert_eq!(none.status, Status::NoData);
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
        let port: Uuid = sqlx::query_scalar!(
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
                // One checked query per table: a table name cannot be a parameter.
                let inserted = if table == "health_minutes" {
                    sqlx::query!(
                        "insert into health_minutes (port_id, at, records, valid, last_event_at)
                         values ($1, $2, $3, $3, $2)",
                        port,
                        at as Timestamp,
                        records,
                    )
                    .execute(&pool)
                    .await
                } else {
                    sqlx::query!(
                        "insert into health_points (port_id, at, records, valid, last_event_at)
                         values ($1, $2, $3, $3, $2)",
                        port,
                        at as Timestamp,
                        records,
                    )
                    .execute(&pool)
                    .await
                };
                inserted.expect("row");
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
        sqlx::query!(
            "insert into port_health (port_id, last_event_at, first_checked_at, last_checked_at)
             values ($1, $2, $3, $2)",
            port,
            now as Timestamp,
            (now - TimeDelta::hours(2)) as Timestamp,
        )
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
