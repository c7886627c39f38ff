//! What the detector recorded, read straight from its tables (`incidents`,
//! `incident_events`), so the harness judges the detector from the outside.

use chrono::{DateTime, Utc};
use domain::db::Timestamp;
use sqlx::PgPool;
use uuid::Uuid;

use super::report::Seen;

/// An incident row, as far as the harness cares.
#[derive(Clone, Debug, PartialEq)]
pub struct Incident {
    pub id: Uuid,
    pub state: String,
    pub channel: String,
    pub signal: String,
    pub cause: String,
    pub confidence: f64,
    pub opened_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

impl Incident {
    /// The incident with its actions, for the report.
    pub fn seen(&self, actions: Vec<String>) -> Seen {
        Seen {
            id: self.id,
            channel: self.channel.clone(),
            signal: self.signal.clone(),
            cause: self.cause.clone(),
            confidence: self.confidence,
            actions,
        }
    }

    /// `channel signal cause`, for lists of incidents.
    pub fn label(&self) -> String {
        format!("{} {} {}", self.channel, self.signal, self.cause)
    }
}

/// The database's clock: incidents are stamped with it, so delays are measured on it.
pub async fn now(pool: &PgPool) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query_scalar!(r#"select now() as "now!: Timestamp""#)
        .fetch_one(pool)
        .await
}

/// Incidents opened at or after `since`, oldest first.
pub async fn opened_since(
    pool: &PgPool,
    since: DateTime<Utc>,
) -> Result<Vec<Incident>, sqlx::Error> {
    sqlx::query_as!(
        Incident,
        r#"select id, state, channel, signal, cause, confidence,
                  opened_at as "opened_at: Timestamp", resolved_at as "resolved_at: Timestamp"
           from incidents
           where opened_at >= $1
           order by opened_at, id"#,
        since as Timestamp,
    )
    .fetch_all(pool)
    .await
}

/// One incident as it is now.
pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<Incident>, sqlx::Error> {
    sqlx::query_as!(
        Incident,
        r#"select id, state, channel, signal, cause, confidence,
                  opened_at as "opened_at: Timestamp", resolved_at as "resolved_at: Timestamp"
           from incidents
           where id = $1"#,
        id,
    )
    .fetch_optional(pool)
    .await
}

/// The actions recorded on an incident, as `action:outcome`, in order.
pub async fn actions(pool: &PgPool, id: Uuid) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select action, outcome
           from incident_events
           where incident_id = $1 and kind = 'action'
           order by id"#,
        id,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let (action, outcome) = (row.action, row.outcome);
            format!(
                "{}:{}",
                action.unwrap_or_else(|| "?".to_string()),
                outcome.unwrap_or_else(|| "offered".to_string())
            )
        })
        .collect())
}

/// Whether the detector's tables exist (the incidents migration is applied).
pub async fn tables_exist(pool: &PgPool) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select to_regclass('incidents') is not null
                  and to_regclass('incident_events') is not null as "ready!""#,
    )
    .fetch_one(pool)
    .await
}
