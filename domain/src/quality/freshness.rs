//! Freshness: the age of a record's event time (a field of it, or the record's own
//! timestamp) against the SLA's latency.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::resolve::resolve;
use super::{Moment, Say, Seconds, Verdict};
use crate::contracts::quality::Step;

pub(super) fn freshness(
    record: &Value,
    moment: Moment,
    max_age_seconds: f64,
    time_field: Option<&[Step]>,
    avro: bool,
    say: Say,
) -> Verdict {
    let event_time = match time_field {
        Some(path) => resolve(record, path, avro)
            .as_slice()
            .iter()
            .flatten()
            .next()
            .and_then(|value| event_time(value)),
        None => moment.record_time,
    };
    let Some(event_time) = event_time else {
        return Verdict::Failed(say.it(|| "the record carries no event time".to_string()));
    };
    let age_ms = (moment.now - event_time).num_milliseconds();
    if age_ms as f64 / 1000.0 > max_age_seconds {
        // A replayed backlog fails this for every record: the age is written from integers.
        Verdict::Failed(say.it(|| {
            format!(
                "the event is {} s old; the SLA allows {} s",
                Seconds(age_ms),
                Seconds((max_age_seconds * 1000.0).round() as i64)
            )
        }))
    } else {
        Verdict::Passed
    }
}

/// An event time from a field: RFC 3339 text, or epoch milliseconds (Avro's
/// `timestamp-millis`, the Kafka convention).
fn event_time(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::String(text) => DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        Value::Number(n) => n.as_i64().and_then(DateTime::from_timestamp_millis),
        _ => None,
    }
}
