//! Reading the contract's SLA `latency` as each port's freshness rule, and SLA duration
//! units as seconds.

use serde_json::Value;

use super::model::{Check, QualityRule, Step};
use super::text;
use crate::contracts::document::list;

/// The port's freshness rule from the SLA `latency`, if the contract declares one. An
/// `element` (`object.property` or `property`) that names another object leaves this port
/// out; one that names a property of this port makes it the event time.
pub(super) fn freshness(document: &Value, object: &Value) -> Option<QualityRule> {
    let (index, sla) = list(document, "slaProperties")
        .enumerate()
        .find(|(_, sla)| {
            text(sla, "property").is_some_and(|p| p.eq_ignore_ascii_case("latency"))
        })?;
    let object_name = text(object, "name").unwrap_or_default();
    let physical_name = text(object, "physicalName").unwrap_or_default();
    let mut time_field = None;
    if let Some(element) = text(sla, "element") {
        let (owner, property) = match element.rsplit_once('.') {
            Some((owner, property)) => (Some(owner), property),
            None => (None, element),
        };
        if owner.is_some_and(|o| o != object_name && o != physical_name) {
            return None;
        }
        let declared = list(object, "properties").any(|p| text(p, "name") == Some(property));
        if declared {
            time_field = Some(vec![Step::Key(property.to_string())]);
        }
    }
    let check = match latency_seconds(sla) {
        Ok(max_age_seconds) => Check::Freshness {
            max_age_seconds,
            time_field,
        },
        Err(reason) => Check::NotEvaluated { reason },
    };
    Some(QualityRule {
        name: "freshness".to_string(),
        pointer: format!("/slaProperties/{index}"),
        field: None,
        dimension: Some("timeliness".to_string()),
        severity: None,
        check,
    })
}

/// The SLA value in seconds: a number (or numeric text) and an ISO-ish unit.
pub(super) fn latency_seconds(sla: &Value) -> Result<f64, String> {
    let value = match sla.get("value") {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|v| v.is_finite() && *v > 0.0)
    .ok_or("the latency is not a positive number")?;
    let unit = text(sla, "unit").ok_or("the latency has no unit")?;
    let seconds = unit_seconds(unit)
        .ok_or_else(|| format!("the latency unit `{unit}` is not one Meshmart reads"))?;
    Ok(value * seconds)
}

/// Seconds in one of an SLA duration's unit (`ms`, `s`, `min`, `h`, `d`, `w`, `y` and their
/// long forms, any case); `None` for a unit Meshmart does not read.
pub fn unit_seconds(unit: &str) -> Option<f64> {
    Some(match unit.trim().to_ascii_lowercase().as_str() {
        "ms" | "millisecond" | "milliseconds" => 0.001,
        "s" | "sec" | "second" | "seconds" => 1.0,
        "m" | "min" | "minute" | "minutes" => 60.0,
        "h" | "hr" | "hour" | "hours" => 3600.0,
        "d" | "day" | "days" => 86_400.0,
        "w" | "week" | "weeks" => 7.0 * 86_400.0,
        "y" | "yr" | "year" | "years" => 365.0 * 86_400.0,
        _ => return None,
    })
}
