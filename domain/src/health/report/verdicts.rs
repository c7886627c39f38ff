//! Verdicts: freshness against the declared latency, a stream's status, declared durations
//! in seconds, and one verdict per declared SLA property (latency, availability, retention,
//! frequency).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{PointRow, SlaVerdict, Status, UNDECLARED_STALE_SECONDS, Verdict, percentile, seconds};
use crate::contracts::Sla;

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

pub(super) fn sla_verdicts(
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
