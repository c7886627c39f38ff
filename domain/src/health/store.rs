//! The checker's tables: adding a [`Batch`] in one transaction, the counted offsets a
//! process starts from, the ports to check, and the rollup that folds 10-second points
//! into minutes and drops what is past its retention.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::{Batch, INVALID_SAMPLES, VALID_SAMPLES};
use crate::contracts::Contract;
use crate::contracts::quality::PortQuality;
use crate::db::Timestamp;
use crate::registry::schema::value_subject;

/// How long 10-second points are kept.
pub const POINTS_KEPT_HOURS: i64 = 2;
/// How long 1-minute points are kept.
pub const MINUTES_KEPT_DAYS: i64 = 7;

/// Adds what a batch counted, the offsets it covers and its samples, in one transaction.
/// What was counted for a port that no longer exists (its product retired it in a new
/// contract version) is dropped, so one vanished port never holds up the others.
pub async fn flush(pool: &PgPool, batch: &Batch) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    // Offsets in a fixed order, so two processes never wait on each other's rows in turn.
    let mut offsets: Vec<_> = batch.offsets().collect();
    offsets.sort();
    for (topic, partition, next) in offsets {
        sqlx::query!(
            r#"insert into checker_offsets (topic, partition, next_offset) values ($1, $2, $3)
               on conflict (topic, partition) do update
               set next_offset = greatest(checker_offsets.next_offset, excluded.next_offset),
                   updated_at = now()"#,
            topic.as_ref(),
            partition,
            next,
        )
        .execute(&mut *tx)
        .await?;
    }
    let mut points: Vec<_> = batch.points.iter().collect();
    points.sort_by_key(|((port, at), _)| (*port, *at));
    let mut per_port: HashMap<Uuid, (i64, i64, Option<DateTime<Utc>>)> = HashMap::new();
    for ((port, at), tally) in points {
        sqlx::query!(
            r#"insert into health_points (port_id, at, records, valid, bytes, invalid,
                   rule_passed, rule_failed, last_event_at, latency)
               select $1, $2, $3, $4, $5, $6, $7, $8, $9, $10
               where exists (select 1 from output_ports where id = $1)
               on conflict (port_id, at) do update set
                   records = health_points.records + excluded.records,
                   valid = health_points.valid + excluded.valid,
                   bytes = health_points.bytes + excluded.bytes,
                   invalid = health_counts_add(health_points.invalid, excluded.invalid),
                   rule_passed = health_counts_add(health_points.rule_passed, excluded.rule_passed),
                   rule_failed = health_counts_add(health_points.rule_failed, excluded.rule_failed),
                   last_event_at = greatest(health_points.last_event_at, excluded.last_event_at),
                   latency = health_buckets_add(health_points.latency, excluded.latency)"#,
            port,
            *at as Timestamp,
            tally.records,
            tally.valid,
            tally.bytes,
            json!(tally.invalid),
            json!(tally.rule_passed()),
            json!(tally.rule_failed),
            tally.last_event_at as Option<Timestamp>,
            &tally.latency,
        )
        .execute(&mut *tx)
        .await?;
        let entry = per_port.entry(*port).or_default();
        entry.0 += tally.records;
        entry.1 += tally.records - tally.valid;
        entry.2 = entry.2.max(tally.last_event_at);
    }
    let ports: HashSet<Uuid> = per_port
        .keys()
        .chain(batch.dead_lettered.keys())
        .copied()
        .collect();
    let mut ports: Vec<Uuid> = ports.into_iter().collect();
    ports.sort();
    for port in ports {
        let (records, invalid, last) = per_port.get(&port).copied().unwrap_or_default();
        let dead = batch.dead_lettered.get(&port).copied().unwrap_or_default();
        sqlx::query!(
            r#"insert into port_health (port_id, last_event_at, last_checked_at, records,
                   invalid, dlq_records)
               select $1, $2, now(), $3, $4, $5
               where exists (select 1 from output_ports where id = $1)
               on conflict (port_id) do update set
                   last_event_at = greatest(port_health.last_event_at, excluded.last_event_at),
                   last_checked_at = now(),
                   records = port_health.records + excluded.records,
                   invalid = port_health.invalid + excluded.invalid,
                   dlq_records = port_health.dlq_records + excluded.dlq_records"#,
            port,
            last as Option<Timestamp>,
            records,
            invalid,
            dead,
        )
        .execute(&mut *tx)
        .await?;
    }
    for ((port, valid), samples) in &batch.samples {
        for sample in samples {
            sqlx::query!(
                r#"insert into health_samples (port_id, partition, "offset", valid, schema_id,
                       key, value, raw_hex, reason, failures, record_at, checked_at)
                   select $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12
                   where exists (select 1 from output_ports where id = $1)"#,
                sample.port_id,
                sample.partition,
                sample.offset,
                sample.valid,
                sample.schema_id.map(i64::from),
                sample.key,
                sample.value,
                sample.raw_hex,
                sample.reason,
                json!(sample.failures),
                sample.record_at as Option<Timestamp>,
                sample.checked_at as Timestamp,
            )
            .execute(&mut *tx)
            .await?;
        }
        let kept = if *valid {
            VALID_SAMPLES
        } else {
            INVALID_SAMPLES
        };
        sqlx::query!(
            r#"delete from health_samples where port_id = $1 and valid = $2 and id < (
                   select coalesce(min(id), 0) from (
                       select id from health_samples where port_id = $1 and valid = $2
                       order by id desc limit $3) as newest)"#,
            port,
            valid,
            kept,
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// The first offset of a partition not yet counted (0 when none was).
pub async fn floor(pool: &PgPool, topic: &str, partition: i32) -> Result<i64, sqlx::Error> {
    let next: Option<i64> = sqlx::query_scalar!(
        "select next_offset from checker_offsets where topic = $1 and partition = $2",
        topic,
        partition,
    )
    .fetch_optional(pool)
    .await?;
    Ok(next.unwrap_or(0))
}

/// An output port to check: where it lives and its current contract's rules.
#[derive(Clone, Debug)]
pub struct CheckedPort {
    pub port_id: Uuid,
    pub product: String,
    pub domain: String,
    pub quality: PortQuality,
    pub subject_ids: HashSet<u32>,
}

/// Every output port of a product that is not retired, with its current rules and the ids
/// of the schemas under its value subject.
pub async fn ports(pool: &PgPool) -> Result<Vec<CheckedPort>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select o.id, p.slug, p.domain, o.topic, c.document, o.policy_override
           from output_ports o
           join products p on p.id = o.product_id
           join contract_versions c on c.product_id = p.id and c.version = p.current_version
           where p.status <> 'retired'"#,
    )
    .fetch_all(pool)
    .await?;
    let topics: Vec<String> = rows.iter().map(|r| value_subject(&r.topic)).collect();
    let ids = sqlx::query!(
        r#"select subject, schema_id from registry_versions
           where subject = any($1) and deleted_at is null"#,
        &topics,
    )
    .fetch_all(pool)
    .await?;
    let mut by_subject: HashMap<String, HashSet<u32>> = HashMap::new();
    for row in ids {
        if let Ok(id) = u32::try_from(row.schema_id) {
            by_subject.entry(row.subject).or_default().insert(id);
        }
    }
    let mut ports = Vec::with_capacity(rows.len());
    for row in rows {
        let Ok(contract) = Contract::from_document(row.document) else {
            tracing::warn!(product = %row.slug, "current contract does not map; its port is not checked");
            continue;
        };
        let quality = contract
            .quality
            .into_iter()
            .find(|q| q.topic == row.topic)
            .unwrap_or_else(|| PortQuality {
                topic: row.topic.clone(),
                format: String::new(),
                rules: Vec::new(),
                policy: Default::default(),
            });
        // An owner's override (an incident's quarantine action) wins over the contract.
        let mut quality = quality;
        match row.policy_override.as_deref() {
            Some("quarantine") => quality.policy = crate::contracts::quality::Policy::Quarantine,
            Some("monitor") => quality.policy = crate::contracts::quality::Policy::Monitor,
            _ => {}
        }
        ports.push(CheckedPort {
            port_id: row.id,
            product: row.slug,
            domain: row.domain,
            subject_ids: by_subject
                .remove(&value_subject(&row.topic))
                .unwrap_or_default(),
            quality,
        });
    }
    Ok(ports)
}

/// What changes when any product or port changes: their number and newest change.
pub async fn catalog_stamp(pool: &PgPool) -> Result<(i64, Option<Timestamp>), sqlx::Error> {
    let stamp = sqlx::query!(
        r#"select (select count(*) from output_ports) as "ports!",
                  greatest((select max(updated_at) from products),
                           (select max(updated_at) from output_ports)) as "changed: Timestamp""#,
    )
    .fetch_one(pool)
    .await?;
    Ok((stamp.ports, stamp.changed))
}

/// The ids of the schemas under one subject (registered since the ports were loaded).
pub async fn subject_ids(pool: &PgPool, topic: &str) -> Result<HashSet<u32>, sqlx::Error> {
    let ids: Vec<i32> = sqlx::query_scalar!(
        "select schema_id from registry_versions where subject = $1 and deleted_at is null",
        value_subject(topic),
    )
    .fetch_all(pool)
    .await?;
    Ok(ids
        .into_iter()
        .filter_map(|id| u32::try_from(id).ok())
        .collect())
}

/// Folds the 10-second points (and lag points: the largest per minute) of the last ten
/// complete minutes into minute points
/// (recomputed, so running it twice or in two processes changes nothing), then drops points
/// and minutes past their retention. Returns the rows dropped.
pub async fn roll_up(pool: &PgPool) -> Result<u64, sqlx::Error> {
    sqlx::query!(
        r#"insert into health_minutes (port_id, at, records, valid, bytes, invalid, rule_passed,
               rule_failed, last_event_at, latency)
           select port_id, date_trunc('minute', at), sum(records), sum(valid), sum(bytes),
               health_counts_sum(invalid), health_counts_sum(rule_passed),
               health_counts_sum(rule_failed), max(last_event_at), health_buckets_sum(latency)
           from health_points
           where at >= date_trunc('minute', now()) - interval '10 minutes'
             and at < date_trunc('minute', now())
           group by port_id, date_trunc('minute', at)
           on conflict (port_id, at) do update set
               records = excluded.records, valid = excluded.valid, bytes = excluded.bytes,
               invalid = excluded.invalid, rule_passed = excluded.rule_passed,
               rule_failed = excluded.rule_failed, last_event_at = excluded.last_event_at,
               latency = excluded.latency"#,
    )
    .execute(pool)
    .await?;
    sqlx::query!(
        r#"insert into lag_minutes (subscription_id, consumer_group, at, messages, seconds)
           select subscription_id, consumer_group, date_trunc('minute', at), max(messages),
               max(seconds)
           from lag_points
           where at >= date_trunc('minute', now()) - interval '10 minutes'
             and at < date_trunc('minute', now())
           group by subscription_id, consumer_group, date_trunc('minute', at)
           on conflict (subscription_id, consumer_group, at) do update set
               messages = excluded.messages, seconds = excluded.seconds"#,
    )
    .execute(pool)
    .await?;
    let mut dropped = 0;
    dropped += sqlx::query!(
        "delete from health_points where at < now() - make_interval(hours => $1)",
        POINTS_KEPT_HOURS as i32,
    )
    .execute(pool)
    .await?
    .rows_affected();
    dropped += sqlx::query!(
        "delete from health_minutes where at < now() - make_interval(days => $1)",
        MINUTES_KEPT_DAYS as i32,
    )
    .execute(pool)
    .await?
    .rows_affected();
    dropped += sqlx::query!(
        "delete from lag_minutes where at < now() - make_interval(days => $1)",
        MINUTES_KEPT_DAYS as i32,
    )
    .execute(pool)
    .await?
    .rows_affected();
    dropped += sqlx::query!(
        "delete from lag_points where at < now() - make_interval(hours => $1)",
        POINTS_KEPT_HOURS as i32,
    )
    .execute(pool)
    .await?
    .rows_affected();
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use chrono::{DurationRound, TimeDelta, Utc};
    use serde_json::json;

    use super::*;
    use crate::demo::Part;

    #[sqlx::test(migrator = "crate::db::MIGRATOR")]
    async fn points_roll_up_into_minutes_and_old_ones_go(pool: PgPool) {
        crate::demo::seed_parts(&pool, &[Part::Identities, Part::Catalog], false)
            .await
            .expect("demo catalog");
        let port: Uuid = sqlx::query_scalar!("select id from output_ports limit 1")
            .fetch_one(&pool)
            .await
            .expect("a port");
        let minute = (Utc::now() - TimeDelta::minutes(3))
            .duration_trunc(TimeDelta::minutes(1))
            .expect("a minute");
        let insert = |at, records: i64, invalid: serde_json::Value, latency: Vec<i64>| {
            sqlx::query!(
                r#"insert into health_points (port_id, at, records, valid, bytes, invalid,
                       rule_passed, rule_failed, last_event_at, latency)
                   values ($1, $2, $3::bigint, $3::bigint - 1, 10, $4, '{"r": 1}', '{"r": 1}', $2, $5)"#,
                port,
                at as Timestamp,
                records,
                invalid,
                &latency,
            )
            .execute(&pool)
        };
        insert(minute, 5, json!({"quality": 1}), vec![1, 2])
            .await
            .expect("point");
        insert(
            minute + TimeDelta::seconds(10),
            7,
            json!({"truncated": 1}),
            vec![0, 1, 3],
        )
        .await
        .expect("point");
        insert(Utc::now() - TimeDelta::hours(3), 1, json!({}), vec![])
            .await
            .expect("old point");

        let dropped = roll_up(&pool).await.expect("rollup");
        assert_eq!(dropped, 1, "the point past its 2 hours");
        // Twice changes nothing: the minute is recomputed, not added to again.
        roll_up(&pool).await.expect("rollup again");
        let row = sqlx::query!(
            r#"select records, valid, invalid, rule_passed, latency,
                      last_event_at as "last_event_at: Timestamp"
               from health_minutes where port_id = $1 and at = $2"#,
            port,
            minute as Timestamp,
        )
        .fetch_one(&pool)
        .await
        .expect("the minute");
        let (records, valid, invalid, passed, latency, last) = (
            row.records,
            row.valid,
            row.invalid,
            row.rule_passed,
            row.latency,
            row.last_event_at,
        );
        assert_eq!((records, valid), (12, 10));
        assert_eq!(invalid, json!({"quality": 1, "truncated": 1}));
        assert_eq!(passed, json!({"r": 2}));
        assert_eq!(latency, vec![1, 3, 3]);
        assert_eq!(last, Some(minute + TimeDelta::seconds(10)));
    }
}
