//! The signals of every channel, as 10-second series read from what is already measured:
//! the checker's `health_points` (records in, invalid ratio; a step without a row had no
//! records), the lag job's `lag_points`, and `node_points`, which the detector writes each
//! round from the node instances' heartbeats.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::{Channel, Incident, Signal};
use crate::contracts::Sla;
use crate::db::Timestamp;
use crate::health::STEP_SECONDS;
use crate::health::report::declared_seconds;

/// A measured point: the start of its 10-second step, and the value.
pub type Point = (DateTime<Utc>, f64);

/// A step is complete (every checker flushed it) this long after it ends.
const SETTLE_SECONDS: i64 = 3;

/// The start of the newest complete step at `now`.
pub fn last_complete_step(now: DateTime<Utc>) -> DateTime<Utc> {
    crate::health::step_of(now - Duration::seconds(STEP_SECONDS + SETTLE_SECONDS))
}

/// A product's output port the checker measures.
#[derive(Clone, Debug)]
pub struct Port {
    pub port_id: Uuid,
    pub product: String,
    pub domain: String,
    pub topic: String,
    pub partitions: i32,
    pub first_checked_at: DateTime<Utc>,
    pub last_event_at: Option<DateTime<Utc>>,
    pub slas: Value,
}

impl Port {
    pub fn channel(&self) -> Channel {
        Channel::Product {
            product: self.product.clone(),
            topic: self.topic.clone(),
        }
    }

    /// The contract's freshness (or latency) SLA in seconds, if it declares one.
    pub fn freshness_sla(&self) -> Option<f64> {
        freshness_of(&self.slas)
    }
}

/// A freshness (or latency) SLA in seconds from a product's `slas` projection.
pub fn freshness_of(slas: &Value) -> Option<f64> {
    let slas: Vec<Sla> = serde_json::from_value(slas.clone()).unwrap_or_default();
    declared_seconds(&slas, &["freshness", "latency"])
}

/// `sqlx::query_as!(Port, …)` over the measured ports, with the condition (string literals
/// joined with `+`, as the macro allows) and its arguments.
macro_rules! select_ports {
    ($($tail:literal)+ $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            Port,
            r#"select o.id as port_id, p.slug as product, p.domain, o.topic, o.partitions,
                   h.first_checked_at as "first_checked_at: Timestamp",
                   h.last_event_at as "last_event_at: Timestamp", p.slas
               from output_ports o join products p on p.id = o.product_id
               join port_health h on h.port_id = o.id "# $(+ $tail)+
            $(, $arg)*
        )
    };
}

/// Every port the checker has measured.
pub async fn ports(pool: &PgPool) -> Result<Vec<Port>, sqlx::Error> {
    select_ports!("where p.status = 'active' or p.status = 'deprecated'")
        .fetch_all(pool)
        .await
}

/// A port's records-in rate (per second) and invalid ratio per step, from `since` to
/// `until` (step starts, inclusive). Steps without records are rate 0 and have no ratio;
/// steps before checking began are left out.
pub async fn port_series(
    pool: &PgPool,
    port: &Port,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<(Vec<Point>, Vec<Point>), sqlx::Error> {
    let rows: Vec<(Timestamp, i64, i64)> = sqlx::query!(
        r#"select at as "at: Timestamp", records, valid from health_points
           where port_id = $1 and at >= $2 and at <= $3 order by at"#,
        port.port_id,
        since as Timestamp,
        until as Timestamp,
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|row| (row.at, row.records, row.valid))
    .collect();
    let start = since.max(crate::health::step_of(port.first_checked_at) + step());
    let mut rate = Vec::new();
    let mut invalid = Vec::new();
    let mut rows = rows.into_iter().peekable();
    let mut at = crate::health::step_of(start);
    while at <= until {
        while rows.peek().is_some_and(|(t, _, _)| *t < at) {
            rows.next();
        }
        match rows.peek() {
            Some((t, records, valid)) if *t == at => {
                rate.push((at, *records as f64 / STEP_SECONDS as f64));
                if *records > 0 {
                    invalid.push((at, (*records - *valid) as f64 / *records as f64));
                }
            }
            _ => rate.push((at, 0.0)),
        }
        at += step();
    }
    Ok((rate, invalid))
}

/// A port's records-in rate per minute over the last 7 days (zero-filled between its first
/// and last minute), for the daily-seasonal model; empty with under two days of minutes.
pub async fn port_minutes(pool: &PgPool, port: &Port) -> Result<Vec<Point>, sqlx::Error> {
    let rows: Vec<(Timestamp, i64)> = sqlx::query!(
        r#"select at as "at: Timestamp", records from health_minutes
           where port_id = $1 and at > now() - interval '7 days' order by at"#,
        port.port_id,
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|row| (row.at, row.records))
    .collect();
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return Ok(Vec::new());
    };
    if last.0 - first.0 < Duration::days(2) {
        return Ok(Vec::new());
    }
    let mut points = Vec::new();
    let mut rows = rows.iter().peekable();
    let mut at = first.0;
    while at <= last.0 {
        let value = match rows.peek() {
            Some((t, records)) if *t == at => {
                rows.next();
                *records as f64 / 60.0
            }
            _ => 0.0,
        };
        points.push((at, value));
        at += Duration::minutes(1);
    }
    Ok(points)
}

/// Invalid records by reason over a window (`{"unknown_schema_id": 12, ...}`).
pub async fn invalid_reasons(
    pool: &PgPool,
    port_id: Uuid,
    since: DateTime<Utc>,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select key as "key!", sum(value::bigint)::bigint as "records!"
           from health_points, jsonb_each_text(invalid)
           where port_id = $1 and at >= $2 group by key order by 2 desc"#,
        port_id,
        since as Timestamp,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|row| (row.key, row.records)).collect())
}

/// The newest invalid records' reasons and failures the checker kept (its log lines).
pub async fn checker_errors(
    pool: &PgPool,
    port_id: Uuid,
    since: DateTime<Utc>,
) -> Result<Vec<(DateTime<Utc>, String)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select checked_at as "checked_at: Timestamp", reason, failures from health_samples
           where port_id = $1 and not valid and checked_at >= $2
           order by id desc limit 3"#,
        port_id,
        since as Timestamp,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let (at, reason, failures) = (row.checked_at, row.reason, row.failures);
            let first = failures
                .as_array()
                .and_then(|f| f.first())
                .and_then(|f| f.get("message"))
                .and_then(Value::as_str)
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            (at, format!("{}{first}", reason.unwrap_or_default()))
        })
        .collect())
}

/// A live subscription's consumer group whose lag is measured.
#[derive(Clone, Debug)]
pub struct Group {
    pub subscription: Uuid,
    pub group: String,
    pub product: String,
    pub domain: String,
    pub principal: String,
    pub slas: Value,
}

impl Group {
    pub fn channel(&self) -> Channel {
        Channel::Subscription {
            subscription: self.subscription,
            group: self.group.clone(),
            product: self.product.clone(),
        }
    }
}

/// Groups with lag measured in the last `window`.
pub async fn groups(pool: &PgPool, since: DateTime<Utc>) -> Result<Vec<Group>, sqlx::Error> {
    sqlx::query_as!(
        Group,
        r#"select distinct l.subscription_id as subscription, l.consumer_group as group,
                  p.slug as product, p.domain, s.principal, p.slas
           from lag_points l join subscriptions s on s.id = l.subscription_id
           join products p on p.id = s.product_id
           where l.at >= $1 and s.state = 'active'"#,
        since as Timestamp,
    )
    .fetch_all(pool)
    .await
}

/// A group's lag in seconds and in messages, and its committed offsets (summed), per step.
pub async fn lag_series(
    pool: &PgPool,
    subscription: Uuid,
    group: &str,
    since: DateTime<Utc>,
) -> Result<Vec<(Timestamp, f64, i64, Option<i64>)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select at as "at: Timestamp", seconds, messages, committed from lag_points
           where subscription_id = $1 and consumer_group = $2 and at >= $3 order by at"#,
        subscription,
        group,
        since as Timestamp,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.at, row.seconds, row.messages, row.committed))
        .collect())
}

/// A stream node as the detector sees it this round.
#[derive(Clone, Debug)]
pub struct NodeNow {
    pub node: String,
    pub product: String,
    pub domain: String,
    pub input_topic: String,
    pub output_topic: String,
    pub paused: bool,
    /// Instances with a heartbeat in the last 30 s.
    pub live: i32,
    /// Instances ever recorded (a crashed one stays until it is replaced).
    pub known: i32,
    pub rate: f64,
    pub dead_letters: i64,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub newest_start: Option<DateTime<Utc>>,
    pub newest_heartbeat: Option<DateTime<Utc>>,
    /// Since when a live process has parked the output on the node's detour topic.
    pub rerouted_since: Option<DateTime<Utc>>,
}

impl NodeNow {
    pub fn channel(&self) -> Channel {
        Channel::Node {
            node: self.node.clone(),
            product: self.product.clone(),
        }
    }
}

/// Every node's present state, and a `node_points` row for `step` (idempotent).
pub async fn nodes_now(pool: &PgPool, step: DateTime<Utc>) -> Result<Vec<NodeNow>, sqlx::Error> {
    let nodes: Vec<NodeNow> = sqlx::query_as!(
        NodeNow,
        r#"select n.name as node, p.slug as product, p.domain, n.input_topic, n.output_topic,
                n.paused,
                count(i.instance) filter (where i.heartbeat_at > now() - interval '30 seconds'
                                            and i.state <> 'stopped')::int as "live!",
                count(i.instance)::int as "known!",
                coalesce(sum(i.rate) filter (where i.heartbeat_at > now() - interval '30 seconds'), 0)::float8 as "rate!",
                coalesce(sum(i.dead_letters), 0)::bigint as "dead_letters!",
                (array_agg(i.last_error order by i.last_error_at desc nulls last))[1] as last_error,
                max(i.last_error_at) as "last_error_at: Timestamp",
                max(i.started_at) as "newest_start: Timestamp",
                max(i.heartbeat_at) as "newest_heartbeat: Timestamp",
                min(i.rerouted_since) filter (where i.heartbeat_at > now() - interval '30 seconds'
                                                and i.state <> 'stopped') as "rerouted_since: Timestamp"
         from nodes n join products p on p.id = n.product_id
         left join node_instances i on i.node = n.name
         group by n.name, p.slug, p.domain, n.input_topic, n.output_topic, n.paused"#,
    )
    .fetch_all(pool)
    .await?;
    let since = step - self::step();
    for node in &nodes {
        let errors = i32::from(node.last_error_at.is_some_and(|at| at >= since));
        let restarts = i32::from(node.newest_start.is_some_and(|at| at >= since));
        sqlx::query!(
            "insert into node_points (node, at, rate, dead_letters, instances, errors, restarts)
             values ($1, $2, $3, $4, $5, $6, $7)
             on conflict (node, at) do update set rate = excluded.rate,
                 dead_letters = excluded.dead_letters, instances = excluded.instances,
                 errors = greatest(node_points.errors, excluded.errors),
                 restarts = greatest(node_points.restarts, excluded.restarts)",
            node.node,
            step as Timestamp,
            node.rate,
            node.dead_letters,
            node.live,
            errors,
            restarts,
        )
        .execute(pool)
        .await?;
    }
    Ok(nodes)
}

/// One process of a node as its heartbeats left it.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceNow {
    pub node: String,
    pub instance: i32,
    pub host: String,
    pub pid: i32,
    pub state: String,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
}

/// Every node process's row now.
pub async fn instances_now(pool: &PgPool) -> Result<Vec<InstanceNow>, sqlx::Error> {
    sqlx::query_as!(
        InstanceNow,
        r#"select node, instance, host, pid, state, started_at as "started_at: Timestamp",
                  heartbeat_at as "heartbeat_at: Timestamp"
           from node_instances"#,
    )
    .fetch_all(pool)
    .await
}

/// A node's records-out rate, errors and restarts per step.
pub async fn node_series(
    pool: &PgPool,
    node: &str,
    since: DateTime<Utc>,
) -> Result<Vec<(Timestamp, f64, i32, i32)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select at as "at: Timestamp", rate, errors, restarts from node_points
           where node = $1 and at >= $2 order by at"#,
        node,
        since as Timestamp,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.at, row.rate, row.errors, row.restarts))
        .collect())
}

/// Drops node points past 2 hours.
pub async fn forget_old(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query!("delete from node_points where at < now() - interval '2 hours'")
        .execute(pool)
        .await?;
    Ok(())
}

fn step() -> Duration {
    Duration::seconds(STEP_SECONDS)
}

/// The incident's signal from 30 minutes before it started to now (or shortly after it
/// was resolved).
pub async fn around(pool: &PgPool, incident: &Incident) -> Result<Vec<Point>, sqlx::Error> {
    let since = incident.started_at - Duration::minutes(30);
    let until = incident
        .resolved_at
        .map(|at| at + Duration::minutes(5))
        .unwrap_or_else(Utc::now)
        .min(Utc::now());
    Ok(match (&incident.channel, incident.signal) {
        (Channel::Product { topic, .. }, signal) => {
            let port = select_ports!("where o.topic = $1", topic)
                .fetch_optional(pool)
                .await?;
            match port {
                Some(port) => {
                    let (rate, invalid) = port_series(pool, &port, since, until).await?;
                    if signal == Signal::InvalidRatio {
                        invalid
                    } else {
                        rate
                    }
                }
                None => Vec::new(),
            }
        }
        (
            Channel::Subscription {
                subscription,
                group,
                ..
            },
            _,
        ) => lag_series(pool, *subscription, group, since)
            .await?
            .into_iter()
            .filter(|(at, ..)| *at <= until)
            .map(|(at, seconds, ..)| (at, seconds))
            .collect(),
        (Channel::Node { node, .. }, signal) => node_series(pool, node, since)
            .await?
            .into_iter()
            .filter(|(at, ..)| *at <= until)
            .map(|(at, rate, errors, restarts)| {
                let value = if signal == Signal::NodeErrors {
                    f64::from(errors + restarts)
                } else {
                    rate
                };
                (at, value)
            })
            .collect(),
        (Channel::Broker, _) => Vec::new(),
    })
}

/// An ACL as (principal, resource, operation).
pub type Acl = (String, String, String);

/// The channels whose principals miss granted ACLs: a live subscription's (its group
/// prefix), a node's, or a domain producer's (the product whose topic the ACL names);
/// each with its domain and the missing (principal, resource, operation) triples.
pub async fn acl_channels(
    pool: &PgPool,
    missing: &[Acl],
) -> Result<Vec<(Channel, String, Vec<Acl>)>, sqlx::Error> {
    let mut found: Vec<(Channel, String, Vec<Acl>)> = Vec::new();
    for triple in missing {
        let (principal, resource, _) = triple;
        let subscription = sqlx::query!(
            "select s.id, s.consumer_group, p.slug, p.domain from subscriptions s
             join products p on p.id = s.product_id
             where s.principal = $1 and s.state = 'active' order by s.created_at limit 1",
            principal,
        )
        .fetch_optional(pool)
        .await?
        .map(|row| (row.id, row.consumer_group, row.slug, row.domain));
        let channel = match subscription {
            Some((subscription, group, product, domain)) => Some((
                Channel::Subscription {
                    subscription,
                    group,
                    product,
                },
                domain,
            )),
            None => {
                let node = sqlx::query!(
                    "select n.name, p.slug, p.domain from nodes n
                     join products p on p.id = n.product_id where n.principal = $1",
                    principal,
                )
                .fetch_optional(pool)
                .await?
                .map(|row| (row.name, row.slug, row.domain));
                match node {
                    Some((node, product, domain)) => {
                        Some((Channel::Node { node, product }, domain))
                    }
                    None => sqlx::query!(
                        "select p.slug, p.domain from output_ports o
                         join products p on p.id = o.product_id
                         join producer_principals pp on pp.principal = $1
                         where o.topic = $2",
                        principal,
                        resource,
                    )
                    .fetch_optional(pool)
                    .await?
                    .map(|row| {
                        let (product, domain) = (row.slug, row.domain);
                        (
                            Channel::Product {
                                product,
                                topic: resource.clone(),
                            },
                            domain,
                        )
                    }),
                }
            }
        };
        if let Some((channel, domain)) = channel {
            match found.iter_mut().find(|(c, ..)| *c == channel) {
                Some((_, _, triples)) => triples.push(triple.clone()),
                None => found.push((channel, domain, vec![triple.clone()])),
            }
        }
    }
    Ok(found)
}
