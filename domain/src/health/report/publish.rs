//! Publishing each product's stream status (fresh, stale, no data) where it changed, for
//! search filters and result badges, and reading the statuses published.

use std::collections::HashMap;

use chrono::Utc;
use sqlx::PgPool;

use super::verdicts::{declared_seconds, status};
use crate::contracts::Sla;
use crate::db::Timestamp;

/// The statuses last published for these products, by slug (none: no data yet).
pub async fn published_statuses(
    pool: &PgPool,
    slugs: &[String],
) -> Result<HashMap<String, String>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select p.slug, s.status from products p
           join product_stream_status s on s.product_id = p.id where p.slug = any($1)"#,
        slugs,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|row| (row.slug, row.status)).collect())
}

/// Stores each measured product's status where it changed and tells the search feed, so
/// search filters (`health:stale`) and result badges follow the streams. Returns the
/// products whose status changed.
pub async fn publish_statuses(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select p.id, p.slug, p.slas, max(h.last_event_at) as "last: Timestamp",
                  s.status as "stored?"
           from products p join output_ports o on o.product_id = p.id
           join port_health h on h.port_id = o.id
           left join product_stream_status s on s.product_id = p.id
           group by p.id, p.slug, p.slas, s.status"#,
    )
    .fetch_all(pool)
    .await?;
    let now = Utc::now();
    let mut changed = Vec::new();
    for row in rows {
        let (id, slug, slas, last, stored) = (row.id, row.slug, row.slas, row.last, row.stored);
        let slas: Vec<Sla> = serde_json::from_value(slas).unwrap_or_default();
        let declared = declared_seconds(&slas, &["latency", "freshness"]);
        let current = status(last, declared, now).as_str();
        if stored.as_deref() == Some(current) {
            continue;
        }
        sqlx::query!(
            r#"insert into product_stream_status (product_id, status) values ($1, $2)
               on conflict (product_id) do update set status = excluded.status, changed_at = now()"#,
            id,
            current,
        )
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
        sqlx::query!("select pg_notify('search_changed', $1)", payload,)
            .execute(pool)
            .await?;
    }
    Ok(changed)
}
