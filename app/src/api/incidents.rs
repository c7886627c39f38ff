//! Server functions of the incident pages (`/incidents`, `/incidents/:id`) and of the "Open
//! incidents" sections on product and processor pages: the incidents the caller may see,
//! one incident with its chart, evidence, actions, timeline and reach, and carrying out an
//! offered recovery action. `domain::incidents` decides who sees and may do what.
//!
//! The DTOs are written for the page: times preformatted, causes and signals as sentences,
//! the chart's times as seconds from its left edge (chrono stays out of the wasm bundle).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::ApiError;

/// Incidents a list asks for at most.
pub const LIST_LIMIT: i64 = 100;

/// What an incident is about, for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelView {
    /// `product`, `subscription`, `node` or `broker`.
    pub kind: String,
    /// "customer-signed-up · topic customer.signed-up.v1", "consumer group svc-a-…", …
    pub label: String,
    /// The page of the product or node, if the channel has one.
    pub href: Option<String>,
}

/// One incident in a list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IncidentRow {
    pub id: String,
    /// `open` or `resolved`.
    pub state: String,
    pub opened_at: String,
    pub resolved_at: Option<String>,
    /// When the signal left its band: the fault's start as measured.
    pub started_at: String,
    pub last_seen_at: String,
    pub channel: ChannelView,
    /// The signal's code (`lag_seconds`) and what it measures (`consumer lag (s)`).
    pub signal: String,
    pub signal_label: String,
    /// The cause's code (`consumer_stopped`) and its sentence.
    pub cause: String,
    pub cause_text: String,
    /// The diagnosis's confidence, in whole percent.
    pub confidence: u8,
    pub summary: String,
    /// Opened on a forecast, before the SLA was breached.
    pub predicted: bool,
}

/// One piece of evidence behind the diagnosis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceView {
    pub kind: String,
    pub label: String,
    pub value: String,
    pub at: Option<String>,
    /// The sentence of the cause it points at.
    pub points_to: Option<String>,
}

/// An action the caller may take, and what it will do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferView {
    /// The action's code, as the form posts it.
    pub action: String,
    pub label: String,
    pub consequence: String,
}

/// An action taken (or refused), with its result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionView {
    pub action: String,
    pub label: String,
    pub at: String,
    pub actor: String,
    /// `done` or `failed`.
    pub outcome: String,
    /// What the action reported, in a sentence or as compact JSON.
    pub detail: String,
}

/// One entry of the incident's timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineView {
    pub at: String,
    /// `opened`, `diagnosed`, `action`, `notified` or `resolved`.
    pub kind: String,
    pub action: Option<String>,
    pub actor: String,
    pub outcome: Option<String>,
    pub detail: String,
}

/// A product downstream of the incident, and its live subscribers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffectedView {
    pub product: String,
    pub name: String,
    pub subscribers: Vec<String>,
}

/// The incident's signal: what was measured, the band the model expected and the forecast,
/// with times as seconds from the chart's left edge (`from`), which is `span` seconds wide.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChartView {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub band: Vec<(f64, f64, f64)>,
    pub forecast: Vec<(f64, f64)>,
    pub limit: Option<f64>,
    /// Where the fault started (the signal left its band).
    pub start: Option<f64>,
    pub span: f64,
    /// The times at the left and right edges.
    pub from: String,
    pub to: String,
}

/// An incident with everything its page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IncidentPage {
    pub incident: IncidentRow,
    pub evidence: Vec<EvidenceView>,
    pub offered: Vec<OfferView>,
    pub taken: Vec<ActionView>,
    pub timeline: Vec<TimelineView>,
    pub chart: ChartView,
    pub affected: Vec<AffectedView>,
}

/// The people's name of an action (`replay` → "Replay the consumer group").
pub fn action_label(action: &str) -> String {
    match action {
        "replay" => "Replay the consumer group",
        "reprocess_dead_letters" => "Reprocess the dead letters",
        "quarantine" => "Quarantine the port",
        "monitor" => "Return the port to monitor",
        "restart" => "Restart the node",
        "resume" => "Resume the node",
        "repair_acls" => "Repair the ACLs",
        "notify" => "Notify the owner and subscribers",
        "reroute" => "Park the output on the detour topic",
        other => return other.replace('_', " "),
    }
    .to_string()
}

#[cfg(feature = "ssr")]
mod ssr {
    use chrono::{DateTime, Utc};
    use domain::incidents::{
        ActionRecord, Affected, Channel, Chart, Evidence, Incident, TimelineEntry,
    };
    use http::StatusCode;

    use super::*;
    use crate::ssr::fail;
    use crate::ssr::time::timestamp;

    pub fn id(text: &str) -> Result<uuid::Uuid, ApiError> {
        text.parse()
            .map_err(|_| fail(StatusCode::NOT_FOUND, ApiError::NotFound))
    }

    /// A replay target as the form sends it: `earliest` and RFC 3339 times as they are, a
    /// `datetime-local` value (no zone; the form says UTC) read as UTC.
    pub fn replay_point(text: &str) -> String {
        let local = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
            .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"));
        match local {
            Ok(at) => at.and_utc().to_rfc3339(),
            Err(_) => text.to_string(),
        }
    }

    fn channel(channel: &Channel) -> ChannelView {
        let (label, href) = match channel {
            Channel::Product { product, topic } => (
                format!("{product} · topic {topic}"),
                Some(format!("/products/{product}")),
            ),
            Channel::Subscription { group, product, .. } => (
                format!("consumer group {group} · reads {product}"),
                Some(format!("/products/{product}")),
            ),
            Channel::Node { node, .. } => (
                format!("stream node {node}"),
                Some(format!("/nodes/{node}")),
            ),
            Channel::Broker => ("the broker connection".to_string(), None),
        };
        ChannelView {
            kind: channel.kind().to_string(),
            label,
            href,
        }
    }

    pub fn row(incident: &Incident) -> IncidentRow {
        IncidentRow {
            id: incident.id.to_string(),
            state: incident.state.clone(),
            opened_at: timestamp(incident.opened_at),
            resolved_at: incident.resolved_at.map(timestamp),
            started_at: timestamp(incident.started_at),
            last_seen_at: timestamp(incident.last_seen_at),
            channel: channel(&incident.channel),
            signal: incident.signal.as_str().to_string(),
            signal_label: incident.signal.label().to_string(),
            cause: incident.cause.as_str().to_string(),
            cause_text: incident.cause.describe().to_string(),
            confidence: percent(incident.confidence),
            summary: incident.summary.clone(),
            predicted: incident.predicted,
        }
    }

    /// A confidence in 0..=1 as whole percent.
    fn percent(confidence: f64) -> u8 {
        if confidence.is_finite() {
            (confidence.clamp(0.0, 1.0) * 100.0).round() as u8
        } else {
            0
        }
    }

    /// What an action or timeline entry reported: its `message` (or `error`, `reason`,
    /// `why`) when it has one, nothing when empty, else its fields as `name: value` with
    /// causes as sentences and confidences in percent.
    fn detail(value: &serde_json::Value) -> String {
        use serde_json::Value;
        let map = match value {
            Value::Null => return String::new(),
            Value::String(text) => return text.clone(),
            Value::Object(map) => map,
            other => return other.to_string(),
        };
        if let Some(text) = ["message", "error", "reason", "why"]
            .iter()
            .find_map(|key| map.get(*key).and_then(Value::as_str))
        {
            return text.to_string();
        }
        map.iter()
            .map(|(key, value)| {
                let value = match (key.as_str(), value) {
                    ("cause", Value::String(code)) => domain::incidents::Cause::parse(code)
                        .map_or_else(|| code.clone(), |cause| cause.describe().to_string()),
                    ("confidence", Value::Number(n)) => {
                        format!("{}%", percent(n.as_f64().unwrap_or(f64::NAN)))
                    }
                    (_, Value::String(text)) => text.clone(),
                    (_, other) => other.to_string(),
                };
                format!("{}: {value}", key.replace('_', " "))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn evidence(evidence: Evidence) -> EvidenceView {
        EvidenceView {
            kind: evidence.kind,
            label: evidence.label,
            value: evidence.value,
            at: evidence.at.map(timestamp),
            points_to: evidence.points_to.map(|cause| cause.describe().to_string()),
        }
    }

    pub fn action(record: ActionRecord) -> ActionView {
        ActionView {
            label: action_label(&record.action),
            action: record.action,
            at: timestamp(record.at),
            actor: record.actor,
            outcome: record.outcome,
            detail: detail(&record.detail),
        }
    }

    fn entry(entry: TimelineEntry) -> TimelineView {
        TimelineView {
            at: timestamp(entry.at),
            kind: entry.kind,
            action: entry.action.as_deref().map(action_label),
            actor: entry.actor,
            outcome: entry.outcome,
            detail: detail(&entry.detail),
        }
    }

    fn affected(affected: Affected) -> AffectedView {
        AffectedView {
            product: affected.product,
            name: affected.name,
            subscribers: affected.subscribers,
        }
    }

    /// The chart with its times as seconds from its earliest time (the fault's start
    /// counts, so its marker is always on the chart). Values that are not finite numbers are
    /// left out: they were not measured.
    pub fn chart(chart: Chart, started_at: DateTime<Utc>) -> ChartView {
        let finite = |v: &f64| v.is_finite();
        let points: Vec<_> = chart
            .points
            .into_iter()
            .filter(|(_, v)| finite(v))
            .collect();
        let band: Vec<_> = chart
            .band
            .into_iter()
            .filter(|(_, lo, hi)| finite(lo) && finite(hi))
            .collect();
        let forecast: Vec<_> = chart
            .forecast
            .into_iter()
            .filter(|(_, v)| finite(v))
            .collect();
        let times = points
            .iter()
            .map(|(t, _)| *t)
            .chain(band.iter().map(|(t, ..)| *t))
            .chain(forecast.iter().map(|(t, _)| *t));
        let (Some(from), Some(to)) = (
            times.clone().chain([started_at]).min(),
            times.chain([started_at]).max(),
        ) else {
            return ChartView::default();
        };
        let x = |t: DateTime<Utc>| (t - from).num_milliseconds() as f64 / 1000.0;
        ChartView {
            label: chart.label,
            points: points.into_iter().map(|(t, v)| (x(t), v)).collect(),
            band: band.into_iter().map(|(t, lo, hi)| (x(t), lo, hi)).collect(),
            forecast: forecast.into_iter().map(|(t, v)| (x(t), v)).collect(),
            limit: chart.limit.filter(|v| v.is_finite()),
            start: Some(x(started_at)),
            span: x(to),
            from: timestamp(from),
            to: timestamp(to),
        }
    }

    pub fn page(detail: domain::incidents::IncidentDetail) -> IncidentPage {
        let domain::incidents::IncidentDetail {
            incident,
            timeline,
            offered,
            chart: signal_chart,
            affected: reach,
        } = detail;
        IncidentPage {
            chart: chart(signal_chart, incident.started_at),
            incident: row(&incident),
            evidence: incident.evidence.into_iter().map(evidence).collect(),
            offered: offered
                .into_iter()
                .map(|offer| OfferView {
                    action: offer.action.as_str().to_string(),
                    label: action_label(offer.action.as_str()),
                    consequence: offer.consequence,
                })
                .collect(),
            taken: incident.actions.into_iter().map(action).collect(),
            timeline: timeline.into_iter().map(entry).collect(),
            affected: reach.into_iter().map(affected).collect(),
        }
    }

    #[cfg(test)]
    mod tests {
        use chrono::{Duration, TimeZone};

        use super::*;

        #[test]
        fn chart_times_count_from_the_earliest_moment_and_skip_unmeasured_values() {
            let t0 = Utc.with_ymd_and_hms(2026, 12, 5, 10, 0, 0).unwrap();
            let chart = Chart {
                label: "consumer lag (s)".into(),
                points: vec![
                    (t0 + Duration::seconds(60), 1.0),
                    (t0 + Duration::seconds(120), f64::NAN),
                ],
                band: vec![(t0, 0.0, 2.0)],
                forecast: vec![(t0 + Duration::seconds(300), 9.0)],
                limit: Some(5.0),
            };
            let view = super::chart(chart, t0 + Duration::seconds(90));
            assert_eq!(view.points, vec![(60.0, 1.0)]);
            assert_eq!(view.band, vec![(0.0, 0.0, 2.0)]);
            assert_eq!(view.start, Some(90.0));
            assert_eq!(view.span, 300.0);
            assert_eq!(view.from, "2026-12-05 10:00 UTC");
            assert_eq!(view.to, "2026-12-05 10:05 UTC");
        }

        #[test]
        fn details_read_as_their_message() {
            assert_eq!(
                detail(&serde_json::json!({"message": "rewound 3 partitions"})),
                "rewound 3 partitions"
            );
            assert_eq!(detail(&serde_json::json!({})), "");
            assert_eq!(
                detail(
                    &serde_json::json!({"cause": "acl_missing", "confidence": 0.5, "dead_letters": 4})
                ),
                "cause: A granted broker ACL is missing, confidence: 50%, dead letters: 4"
            );
            assert_eq!(percent(0.874), 87);
        }
    }
}

/// The incidents the caller may see, newest first: `state` `open` or `resolved` (all when
/// absent), about the product `product` or the node `node` when given.
#[server(prefix = "/api/fn", endpoint = "incidents")]
pub async fn incidents(
    state: Option<String>,
    product: Option<String>,
    node: Option<String>,
) -> Result<Vec<IncidentRow>, ApiError> {
    use crate::ssr::{caller, error, services};

    let given = |v: Option<String>| v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let services = services()?;
    let filter = domain::incidents::Filter {
        state: given(state),
        product: given(product),
        node: given(node),
        limit: LIST_LIMIT,
    };
    let items = domain::incidents::list(&services.pool, &services.policy, &caller(), &filter)
        .await
        .map_err(error)?;
    Ok(items.iter().map(ssr::row).collect())
}

/// The incident `id`, with what its page shows.
#[server(prefix = "/api/fn", endpoint = "incident")]
pub async fn incident(id: String) -> Result<IncidentPage, ApiError> {
    use crate::ssr::{caller, error, services};

    let services = services()?;
    let detail = domain::incidents::get(&services.pool, &services.policy, &caller(), ssr::id(&id)?)
        .await
        .map_err(error)?;
    Ok(ssr::page(detail))
}

/// Carries out the offered `action` on the incident `id`; what it did. `to` is a replay's
/// target (an RFC 3339 time, a `datetime-local` value read as UTC, or `earliest`); blank
/// means when the incident started.
#[server(prefix = "/api/fn", endpoint = "act_on_incident")]
pub async fn act_on_incident(
    id: String,
    action: String,
    to: Option<String>,
) -> Result<ActionView, ApiError> {
    use crate::ssr::{caller, error, services, unprocessable};
    use domain::incidents::actions::{ActRequest, act};

    let Some(chosen) = domain::incidents::Action::parse(action.trim()) else {
        return Err(unprocessable(
            "action",
            format!("unknown action `{action}`"),
        ));
    };
    let to = to
        .map(|to| to.trim().to_string())
        .filter(|to| !to.is_empty())
        .map(|to| ssr::replay_point(&to));
    let services = services()?;
    let record = act(
        &services.pool,
        &services.policy,
        &services.broker,
        &caller(),
        ssr::id(&id)?,
        chosen,
        &ActRequest { to },
    )
    .await
    .map_err(error)?;
    Ok(ssr::action(record))
}
