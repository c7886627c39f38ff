//! One incident as its page shows it: what happened (the timeline), the signal against
//! the band it left, what is affected downstream, and the actions the viewer may take.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::model::Band;
use super::signals::{self, Point};
use super::{Affected, Chart, Incident, IncidentDetail, IncidentError, TimelineEntry};
use super::{actions, store};
use crate::db::Timestamp;
use crate::health::STEP_SECONDS;
use crate::identity::Caller;
use crate::policy::Policy;

/// One incident the caller may see (unknown to those who may not), as its page shows it.
pub async fn get(
    pool: &PgPool,
    policy: &Policy,
    caller: &Caller,
    id: Uuid,
) -> Result<IncidentDetail, IncidentError> {
    let seen = store::seen(pool, policy, caller, id).await?;
    let timeline = timeline(pool, id).await?;
    let chart = chart(pool, &seen.incident, &seen.band).await?;
    let affected = affected(pool, &seen.incident).await?;
    let offered = actions::offers(&seen.incident, seen.owner, &seen.user, pool).await?;
    Ok(IncidentDetail {
        incident: seen.incident,
        timeline,
        offered,
        chart,
        affected,
    })
}

/// The incident's signal around it, with the band and forecast saved when it was opened.
async fn chart(pool: &PgPool, incident: &Incident, band: &Value) -> Result<Chart, sqlx::Error> {
    Ok(Chart {
        label: incident.signal.label().to_owned(),
        points: signals::around(pool, incident).await?,
        band: Band::from_json(band)
            .map(|band| band.points())
            .unwrap_or_default(),
        forecast: forecast_points(band),
        limit: band.get("limit").and_then(Value::as_f64),
    })
}

fn forecast_points(band: &Value) -> Vec<Point> {
    let Some(start) = band
        .get("forecast_start")
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
    else {
        return Vec::new();
    };
    let step = band
        .get("step_seconds")
        .and_then(Value::as_i64)
        .unwrap_or(STEP_SECONDS);
    band.get("forecast")
        .and_then(Value::as_array)
        .map(|values| {
            values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    Some((
                        start.with_timezone(&Utc) + Duration::seconds(step * i as i64),
                        v.as_f64()?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn timeline(pool: &PgPool, id: Uuid) -> Result<Vec<TimelineEntry>, IncidentError> {
    Ok(sqlx::query_as!(
        TimelineEntry,
        r#"select at as "at: Timestamp", kind, action, actor, outcome, detail
           from incident_events where incident_id = $1 order by id"#,
        id,
    )
    .fetch_all(pool)
    .await?)
}

/// The incident's product and everything downstream of it, with live subscribers.
async fn affected(pool: &PgPool, incident: &Incident) -> Result<Vec<Affected>, IncidentError> {
    let Some(slug) = incident.channel.product() else {
        return Ok(Vec::new());
    };
    let mut slugs = vec![slug.to_owned()];
    if let Ok(impact) = crate::lineage::impact(pool, slug).await {
        slugs.extend(impact.products.into_iter().map(|p| p.slug));
    }
    let mut affected = sqlx::query_as!(
        Affected,
        r#"select p.slug as product, p.name,
                coalesce(array_agg(distinct s.principal) filter (where s.principal is not null), '{}')
                  as "subscribers!"
           from products p
           left join subscriptions s on s.product_id = p.id and s.state = 'active'
           where p.slug = any($1)
           group by p.slug, p.name"#,
        &slugs,
    )
    .fetch_all(pool)
    .await?;
    affected.sort_by_key(|a| slugs.iter().position(|s| *s == a.product));
    Ok(affected)
}
