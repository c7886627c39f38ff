//! What a report reads from PostgreSQL: the product with its declared SLAs and rules, the
//! points of a window (10-second points or minute rollups) and its subscribers' lag.

use sqlx::PgPool;
use uuid::Uuid;

use super::{Lag, LagScope, PointRow, Shared};
use crate::contracts::Sla;
use crate::contracts::quality::Policy;
use crate::db::Timestamp;
use crate::health::HealthError;

pub(super) struct Measured {
    pub(super) id: Uuid,
    pub(super) slas: Vec<Sla>,
    pub(super) ports: Vec<(Uuid, String, i64)>,
    pub(super) rules: Vec<(String, Option<String>)>,
    pub(super) policy: Policy,
    /// What every window shares.
    pub(super) shared: Shared,
    /// The newest event before each window's start, in the order of the starts asked.
    pub(super) before: Vec<Option<Timestamp>>,
}

/// The product, its current contract, its ports, what every window shares and the newest
/// event before each of `starts`: one round trip (a product page reads three windows).
/// The starts pass through `array(select unnest(..))` so that the planner cannot count
/// them: with a countable array every custom plan looked cheaper than the generic one,
/// and PostgreSQL planned the statement anew on every call (0.6 ms, seven times its
/// execution).
pub(super) async fn product(
    pool: &PgPool,
    slug: &str,
    starts: &[Timestamp],
) -> Result<Measured, HealthError> {
    let row = sqlx::query!(
        r#"with product as (
               select p.id, p.slas, c.document,
                      array(select op.id from output_ports op where op.product_id = p.id
                            order by op.topic) as port_ids
               from products p
               join contract_versions c on c.product_id = p.id and c.version = p.current_version
               where p.slug = $1)
           select p.id, p.slas, p.document, p.port_ids as "port_ids!",
                  array(select op.topic from output_ports op where op.product_id = p.id
                        order by op.topic) as "topics!",
                  array(select op.retention_ms from output_ports op where op.product_id = p.id
                        order by op.topic) as "retention_ms!",
                  h.last_event_at as "last_event_at: Timestamp",
                  h.first_checked as "first_checked: Timestamp",
                  h.dead_lettered as "dead_lettered!",
                  array(select greatest(
                                   (select max(last_event_at) from health_points
                                    where port_id = any(p.port_ids) and at < s.start),
                                   (select max(last_event_at) from health_minutes
                                    where port_id = any(p.port_ids) and at < s.start))
                        from unnest(array(select unnest($2::timestamptz[])))
                             with ordinality as s(start, n)
                        order by s.n) as "before!: Vec<Option<Timestamp>>"
           from product p
           cross join lateral (
               select max(last_event_at) as last_event_at,
                      min(first_checked_at) as first_checked,
                      coalesce(sum(dlq_records), 0)::bigint as dead_lettered
               from port_health where port_id = any(p.port_ids)) h"#,
        slug,
        &starts as &[Timestamp],
    )
    .fetch_optional(pool)
    .await?
    .ok_or(HealthError::NotFound)?;
    let ports = row
        .port_ids
        .into_iter()
        .zip(row.topics)
        .zip(row.retention_ms)
        .map(|((id, topic), retention_ms)| (id, topic, retention_ms))
        .collect();
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
        shared: Shared {
            last_event_at: row.last_event_at,
            first_checked: row.first_checked,
            dead_lettered: row.dead_lettered,
        },
        before: row.before,
    })
}
/// Whether a window reads 10-second points (they are kept a few hours), not minute rollups.
pub(super) fn fine(window_seconds: i64) -> bool {
    window_seconds <= crate::health::store::POINTS_KEPT_HOURS * 3600
}
/// The points of the ports since `start`: 10-second points when `fine`, else minute
/// rollups (with the last ten minutes from the 10-second points, not rolled up yet).
pub(super) async fn points(
    pool: &PgPool,
    port_ids: &[Uuid],
    start: Timestamp,
    fine: bool,
) -> Result<Vec<PointRow>, sqlx::Error> {
    // The ports and `fine` are read through `(select ..)`, which the planner cannot see
    // into: given the values, it planned the statement anew for every call (0.07 ms each,
    // twice a product page), since a known `fine` lets it drop one branch of the union.
    // Now one generic plan serves every call; the unused branch stops at its filter.
    sqlx::query_as!(
        PointRow,
        r#"with raw as (
               select at, records, valid, bytes, invalid, rule_passed, rule_failed,
                   last_event_at, latency
               from health_points
               where port_id = any(array(select unnest($1::uuid[]))) and at >= $2
                   and ((select $3::bool)
                        or at >= date_trunc('minute', now()) - interval '10 minutes')
               union all
               select at, records, valid, bytes, invalid, rule_passed, rule_failed,
                   last_event_at, latency
               from health_minutes
               where port_id = any(array(select unnest($1::uuid[]))) and at >= $2
                   and not (select $3::bool)
                   and at < date_trunc('minute', now()) - interval '10 minutes')
           select case when (select $3::bool) then at else date_trunc('minute', at) end
                    as "at!: Timestamp",
               sum(records)::bigint as "records!", sum(valid)::bigint as "valid!",
               sum(bytes)::bigint as "bytes!", health_counts_sum(invalid) as "invalid!",
               health_counts_sum(rule_passed) as "rule_passed!",
               health_counts_sum(rule_failed) as "rule_failed!",
               max(last_event_at) as "last_event_at: Timestamp",
               health_buckets_sum(latency) as "latency!"
           from raw group by 1 order by 1"#,
        port_ids,
        start as Timestamp,
        fine,
    )
    .fetch_all(pool)
    .await
}
/// The newest measured lag of the product's live subscriptions in scope.
pub(super) async fn lags(
    pool: &PgPool,
    product: Uuid,
    scope: LagScope,
) -> Result<Vec<Lag>, sqlx::Error> {
    let (all, user) = match scope {
        LagScope::None => return Ok(Vec::new()),
        LagScope::All => (true, None),
        LagScope::RequestedBy(user) => (false, Some(user)),
    };
    sqlx::query_as!(
        Lag,
        r#"select distinct on (l.subscription_id, l.consumer_group)
               l.subscription_id as subscription, l.consumer_group as group, l.messages,
               l.seconds, l.at as "measured_at: Timestamp"
           from lag_points l join subscriptions s on s.id = l.subscription_id
           where s.product_id = $1 and s.state = 'active'
             and ($2 or s.requested_by = $3)
             and l.at > now() - interval '10 minutes'
           order by l.subscription_id, l.consumer_group, l.at desc"#,
        product,
        all,
        user,
    )
    .fetch_all(pool)
    .await
}
