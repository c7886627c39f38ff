//! Server functions for a product's measured health (the Health section of its page) and
//! its kept records (`/products/{slug}/samples`). Everything shown was measured by the
//! record checker (`domain::health`); a number without data reads "no data", never 0.
//! Charts are laid out here, as SVG coordinates, so the page draws them without JavaScript.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::ApiError;

/// Chart size in SVG user units.
pub const CHART_WIDTH: f64 = 600.0;
pub const CHART_HEIGHT: f64 = 120.0;

/// One rule's pass rate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleView {
    pub rule: String,
    pub field: Option<String>,
    pub passed: i64,
    pub failed: i64,
    /// "99.5 %", or "no data".
    pub rate: String,
}

/// One declared SLA property next to what was measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SlaCheckView {
    pub property: String,
    pub declared: String,
    pub observed: String,
    /// `met`, `at_risk`, `breached`, `no_data`, `not_declared`, `not_evaluated`.
    pub verdict: String,
}

/// A subscription's consumer lag.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LagView {
    pub group: String,
    pub messages: i64,
    pub seconds: String,
}

/// A product's health, ready to show.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthView {
    pub slug: String,
    /// `fresh`, `stale` or `no_data`.
    pub status: String,
    pub rate_now: String,
    pub rate_hour: String,
    pub rate_day: String,
    pub events_hour: i64,
    pub last_event: String,
    pub freshness_declared: String,
    pub freshness_observed: String,
    pub freshness_verdict: String,
    pub valid: String,
    pub invalid_hour: i64,
    pub reasons: Vec<(String, i64)>,
    pub rules: Vec<RuleView>,
    pub latency_p99: String,
    pub dlq_topic: Option<String>,
    pub dlq_policy: String,
    pub dlq_records: i64,
    pub slas: Vec<SlaCheckView>,
    pub lag: Vec<LagView>,
    /// Whether the viewer may open the kept records.
    pub may_see_samples: bool,
    /// SVG polyline points of records/s per bucket over the last hour, and of invalid ones.
    pub chart_records: String,
    pub chart_invalid: String,
    /// The chart's top value, records/s.
    pub chart_max: String,
}

/// One kept record as shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SampleRow {
    pub partition: i32,
    pub offset: i64,
    pub valid: bool,
    pub key: String,
    /// Pretty-printed JSON, or the first bytes in hex, or "withheld".
    pub body: String,
    pub reason: Option<String>,
    pub failures: Vec<String>,
    pub checked_at: String,
}

/// The kept records a viewer may see.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SamplesView {
    pub slug: String,
    pub masked: bool,
    pub masked_fields: Vec<String>,
    pub invalid_only: bool,
    pub samples: Vec<SampleRow>,
}

#[cfg(feature = "ssr")]
fn rate(per_second: f64, measured: bool) -> String {
    if !measured {
        "no data".into()
    } else if per_second >= 10.0 {
        format!("{per_second:.0}/s")
    } else {
        format!("{per_second:.2}/s")
    }
}

#[cfg(feature = "ssr")]
fn ago(seconds: f64) -> String {
    match seconds {
        s if s < 90.0 => format!("{s:.0} s ago"),
        s if s < 5400.0 => format!("{:.0} min ago", s / 60.0),
        s if s < 172_800.0 => format!("{:.0} h ago", s / 3600.0),
        s => format!("{:.0} days ago", s / 86_400.0),
    }
}

#[cfg(feature = "ssr")]
fn verdict(verdict: domain::health::report::Verdict) -> String {
    serde_json::to_value(verdict)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Polyline points for a series scaled to the chart, and the scale's top.
#[cfg(feature = "ssr")]
fn chart(series: &[domain::health::report::SeriesPoint]) -> (String, String, f64) {
    use std::fmt::Write;
    // Buckets before checking began are left out of the lines, not drawn as zero.
    let rates: Vec<Option<(f64, f64)>> = series
        .iter()
        .map(|p| {
            let width = p.seconds.max(1) as f64;
            p.measured
                .then(|| (p.records as f64 / width, p.invalid as f64 / width))
        })
        .collect();
    let top = rates.iter().flatten().map(|r| r.0).fold(0.0, f64::max);
    let scale = if top > 0.0 { top * 1.1 } else { 1.0 };
    let n = rates.len().max(2) - 1;
    let mut records = String::new();
    let mut invalid = String::new();
    for (index, rate) in rates.iter().enumerate() {
        let Some((all, bad)) = rate else { continue };
        let x = CHART_WIDTH * index as f64 / n as f64;
        let y = |v: f64| CHART_HEIGHT - (v / scale) * (CHART_HEIGHT - 4.0);
        let _ = write!(records, "{x:.1},{:.1} ", y(*all));
        let _ = write!(invalid, "{x:.1},{:.1} ", y(*bad));
    }
    (records.trim_end().into(), invalid.trim_end().into(), top)
}

/// The product's health: now (5 minutes), the last hour and the last day.
#[server(prefix = "/api/fn", endpoint = "product_health")]
pub async fn product_health(slug: String) -> Result<HealthView, ApiError> {
    use crate::ssr::{caller, error, services};
    use domain::health::{report, samples};

    let services = services()?;
    let (pool, policy, caller) = (&services.pool, &services.policy, caller());
    // Asks the policy (reading the catalog; owners see every subscription's lag) before
    // saying whether the product exists, then about the product the page has read.
    let user = crate::ssr::authorize(
        domain::policy::GLOBAL,
        domain::policy::Permission::ReadCatalog,
    )
    .await?;
    let Some(product) = crate::ssr::product(&slug).await? else {
        return Err(crate::ssr::fail(
            http::StatusCode::NOT_FOUND,
            ApiError::NotFound,
        ));
    };
    let reader = report::reader_of(policy, &user, product.id, product.summary.domain).await;
    // Now, the last hour and the last day, the product read once.
    let mut windows = report::healths(pool, &slug, &[300, 3600, 86_400], reader.lag)
        .await
        .map_err(error)?
        .into_iter();
    let (Some(now), Some(hour), Some(day)) = (windows.next(), windows.next(), windows.next())
    else {
        return Err(crate::ssr::internal(
            "three health windows asked, fewer answered",
        ));
    };
    let may_see_samples = reader.owner
        || samples::may_read(pool, policy, &caller, reader.product, &reader.domain)
            .await
            .map_err(error)?;
    let measured = hour.last_event_at.is_some() || day.events_total > 0;
    let (chart_records, chart_invalid, top) = chart(&hour.series);
    let seconds = |s: Option<f64>| s.map_or("no data".to_string(), |s| format!("{s:.1} s"));
    Ok(HealthView {
        slug,
        status: now.status.as_str().to_string(),
        rate_now: rate(now.events_per_second, measured),
        rate_hour: rate(hour.events_per_second, measured),
        rate_day: rate(day.events_per_second, measured),
        events_hour: hour.events_total,
        last_event: now
            .freshness
            .current_seconds
            .map_or("no data".to_string(), ago),
        freshness_declared: now
            .freshness
            .declared_seconds
            .map_or("not declared".to_string(), |s| format!("{s:.0} s")),
        freshness_observed: seconds(hour.freshness.observed_p95_seconds),
        freshness_verdict: verdict(hour.freshness.verdict),
        valid: hour
            .valid_ratio
            .map_or("no data".to_string(), |r| format!("{:.2} %", r * 100.0)),
        invalid_hour: hour.invalid_total,
        reasons: hour.invalid_by_reason.into_iter().collect(),
        rules: hour
            .quality
            .into_iter()
            .map(|r| {
                let total = r.passed + r.failed;
                RuleView {
                    rate: if total == 0 {
                        "no data".into()
                    } else {
                        format!("{:.2} %", 100.0 * r.passed as f64 / total as f64)
                    },
                    rule: r.rule,
                    field: r.field,
                    passed: r.passed,
                    failed: r.failed,
                }
            })
            .collect(),
        latency_p99: hour.latency_p99_ms.map_or("no data".to_string(), |ms| {
            if ms < 1000 {
                format!("≤ {ms} ms")
            } else {
                format!("≤ {} s", ms / 1000)
            }
        }),
        dlq_topic: hour.dlq.as_ref().map(|d| d.topic.clone()),
        dlq_policy: hour
            .dlq
            .as_ref()
            .map_or("monitor", |d| d.policy.as_str())
            .to_string(),
        dlq_records: hour.dlq.as_ref().map_or(0, |d| d.records),
        slas: hour
            .slas
            .into_iter()
            .map(|s| SlaCheckView {
                property: s.property,
                declared: s.declared,
                observed: s.observed.unwrap_or_else(|| "no data".into()),
                verdict: verdict(s.verdict),
            })
            .collect(),
        lag: now
            .lag
            .into_iter()
            .map(|l| LagView {
                group: l.group,
                messages: l.messages,
                seconds: format!("{:.1} s", l.seconds),
            })
            .collect(),
        may_see_samples,
        chart_records,
        chart_invalid,
        chart_max: rate(top, measured),
    })
}

/// The newest kept records of a product, for its owners, admins and active subscribers.
#[server(prefix = "/api/fn", endpoint = "product_samples")]
pub async fn product_samples(slug: String, invalid_only: bool) -> Result<SamplesView, ApiError> {
    use crate::ssr::{caller, error, services};

    let services = services()?;
    let found = domain::health::samples::samples(
        &services.pool,
        &services.policy,
        &caller(),
        &slug,
        50,
        invalid_only,
    )
    .await
    .map_err(error)?;
    Ok(SamplesView {
        slug,
        masked: found.masked,
        masked_fields: found.masked_fields,
        invalid_only,
        samples: found
            .samples
            .into_iter()
            .map(|s| SampleRow {
                partition: s.partition,
                offset: s.offset,
                valid: s.valid,
                key: s.key.unwrap_or_default(),
                body: match (s.value, s.raw_hex) {
                    (Some(value), _) => serde_json::to_string_pretty(&value).unwrap_or_default(),
                    (None, Some(hex)) => format!("undecodable bytes: {hex}"),
                    (None, None) => "withheld".into(),
                },
                reason: s.reason,
                failures: s
                    .failures
                    .into_iter()
                    .map(|f| match f.field {
                        Some(field) => format!("{} ({field}): {}", f.rule, f.message),
                        None => format!("{}: {}", f.rule, f.message),
                    })
                    .collect(),
                checked_at: crate::ssr::time::timestamp(s.checked_at),
            })
            .collect(),
    })
}
