//! Incidents and their timelines in PostgreSQL: what the detector opens, updates and
//! resolves, and what callers may read (admins all; owners their domains'; subscribers
//! what affects the products they subscribe to; the broker's everyone signed in).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::{ActionRecord, Cause, Channel, Evidence, Incident, IncidentError, Signal};
use crate::db::Timestamp;
use crate::identity::{Caller, User};
use crate::policy::{GLOBAL, Permission, Policy};

/// Incidents a list returns at most.
pub const MAX_LIMIT: i64 = 200;

/// What a list shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// `open` or `resolved`; all when `None`.
    pub state: Option<String>,
    /// A product's slug.
    pub product: Option<String>,
    /// A node's name.
    pub node: Option<String>,
    /// At most this many (capped at [`MAX_LIMIT`]; 0 means the cap).
    pub limit: i64,
}

struct Row {
    id: Uuid,
    state: String,
    channel: String,
    channel_kind: String,
    subscription_id: Option<Uuid>,
    node: Option<String>,
    signal: String,
    cause: String,
    confidence: f64,
    summary: String,
    predicted: bool,
    evidence: Value,
    band: Value,
    started_at: Timestamp,
    opened_at: Timestamp,
    last_seen_at: Timestamp,
    resolved_at: Option<Timestamp>,
    product_id: Option<Uuid>,
    product: Option<String>,
    domain: Option<String>,
}

/// `sqlx::query_as!(Row, …)` over every incident, with the condition (string literals
/// joined with `+`, as the macro allows) and its arguments.
macro_rules! select_rows {
    ($($tail:literal)+ $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            Row,
            r#"select i.id, i.state, i.channel, i.channel_kind, i.subscription_id, i.node,
                   i.signal, i.cause, i.confidence, i.summary, i.predicted, i.evidence, i.band,
                   i.started_at as "started_at: Timestamp", i.opened_at as "opened_at: Timestamp",
                   i.last_seen_at as "last_seen_at: Timestamp",
                   i.resolved_at as "resolved_at: Timestamp", i.product_id,
                   p.slug as "product?", p.domain as "domain?"
               from incidents i left join products p on p.id = i.product_id "# $(+ $tail)+
            $(, $arg)*
        )
    };
}

impl Row {
    fn channel(&self) -> Channel {
        let rest = || self.channel.split_once('/').map(|(_, r)| r.to_owned());
        let product = self.product.clone().unwrap_or_default();
        match self.channel_kind.as_str() {
            "product" => Channel::Product {
                product,
                topic: rest().unwrap_or_default(),
            },
            "subscription" => Channel::Subscription {
                subscription: self.subscription_id.unwrap_or_default(),
                group: rest().unwrap_or_default(),
                product,
            },
            "node" => Channel::Node {
                node: self.node.clone().unwrap_or_default(),
                product,
            },
            _ => Channel::Broker,
        }
    }

    fn into_incident(self, actions: Vec<ActionRecord>) -> Incident {
        let channel = self.channel();
        Incident {
            id: self.id,
            state: self.state,
            opened_at: self.opened_at,
            resolved_at: self.resolved_at,
            started_at: self.started_at,
            last_seen_at: self.last_seen_at,
            channel,
            signal: Signal::parse(&self.signal).unwrap_or(Signal::RateIn),
            cause: Cause::parse(&self.cause).unwrap_or(Cause::ProducerStopped),
            confidence: self.confidence,
            summary: self.summary,
            predicted: self.predicted,
            evidence: serde_json::from_value(self.evidence).unwrap_or_default(),
            actions,
        }
    }
}

/// What the caller may see: everything (admins), or these domains' and products'.
struct Sight {
    user: User,
    all: bool,
    domains: HashMap<String, bool>,
    /// The products the caller subscribes to, read when a row first needs them (most
    /// lists, a product page's above all, have no row to ask about).
    subscribed: Option<HashSet<Uuid>>,
}

impl Sight {
    async fn of(policy: &Policy, caller: &Caller) -> Result<Self, IncidentError> {
        let user = policy
            .authorize(caller, GLOBAL, Permission::ReadCatalog)
            .await?
            .clone();
        let all = policy.allows(&user, GLOBAL, Permission::ManageRoles).await;
        Ok(Sight {
            user,
            all,
            domains: HashMap::new(),
            subscribed: None,
        })
    }

    /// Whether the caller owns `domain` (may approve its subscriptions).
    async fn owns(&mut self, policy: &Policy, domain: &str) -> bool {
        if let Some(&owns) = self.domains.get(domain) {
            return owns;
        }
        let owns = policy
            .allows(&self.user, domain, Permission::ApproveSubscriptions)
            .await;
        self.domains.insert(domain.to_owned(), owns);
        owns
    }

    /// Whether the caller subscribes to `product`.
    async fn subscribes(&mut self, pool: &PgPool, product: Uuid) -> Result<bool, IncidentError> {
        if self.subscribed.is_none() {
            let products = sqlx::query_scalar!(
                "select product_id from subscriptions
                 where requested_by = $1 and state in ('approved', 'provisioning', 'active')",
                self.user.id,
            )
            .fetch_all(pool)
            .await?;
            self.subscribed = Some(products.into_iter().collect());
        }
        Ok(self
            .subscribed
            .as_ref()
            .is_some_and(|products| products.contains(&product)))
    }

    async fn sees(
        &mut self,
        pool: &PgPool,
        policy: &Policy,
        row: &Row,
    ) -> Result<bool, IncidentError> {
        if self.all || row.channel_kind == "broker" {
            return Ok(true);
        }
        // The policy first: it answers from memory, the subscriptions from PostgreSQL.
        if let Some(domain) = &row.domain
            && self.owns(policy, domain).await
        {
            return Ok(true);
        }
        match row.product_id {
            Some(product) => self.subscribes(pool, product).await,
            None => Ok(false),
        }
    }
}

/// The incidents the caller may see, newest first.
pub async fn list(
    pool: &PgPool,
    policy: &Policy,
    caller: &Caller,
    filter: &Filter,
) -> Result<Vec<Incident>, IncidentError> {
    if let Some(state) = &filter.state
        && state != "open"
        && state != "resolved"
    {
        return Err(IncidentError::Invalid(format!(
            "state `{state}` is not one of open, resolved"
        )));
    }
    let mut sight = Sight::of(policy, caller).await?;
    let limit = match filter.limit {
        n if n <= 0 => MAX_LIMIT,
        n => n.min(MAX_LIMIT),
    };
    let rows: Vec<Row> = select_rows!(
        "where ($1::text is null or i.state = $1)
           and ($2::text is null or p.slug = $2)
           and ($3::text is null or i.node = $3)
         order by i.opened_at desc
         limit 1000",
        filter.state,
        filter.product,
        filter.node,
    )
    .fetch_all(pool)
    .await?;
    let mut visible = Vec::new();
    for row in rows {
        if visible.len() as i64 >= limit {
            break;
        }
        if sight.sees(pool, policy, &row).await? {
            visible.push(row);
        }
    }
    let ids: Vec<Uuid> = visible.iter().map(|row| row.id).collect();
    let mut actions = if ids.is_empty() {
        HashMap::new()
    } else {
        actions_of(pool, &ids).await?
    };
    Ok(visible
        .into_iter()
        .map(|row| {
            let done = actions.remove(&row.id).unwrap_or_default();
            row.into_incident(done)
        })
        .collect())
}

/// The actions taken on each incident, oldest first.
async fn actions_of(
    pool: &PgPool,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<ActionRecord>>, IncidentError> {
    struct Done {
        incident_id: Uuid,
        action: String,
        at: Timestamp,
        actor: String,
        outcome: Option<String>,
        detail: Value,
    }
    let rows: Vec<Done> = sqlx::query_as!(
        Done,
        r#"select incident_id, action as "action!", at as "at: Timestamp", actor, outcome, detail
           from incident_events
           where incident_id = any($1) and kind = 'action' order by id"#,
        ids,
    )
    .fetch_all(pool)
    .await?;
    let mut by_incident: HashMap<Uuid, Vec<ActionRecord>> = HashMap::new();
    for done in rows {
        by_incident
            .entry(done.incident_id)
            .or_default()
            .push(ActionRecord {
                action: done.action,
                at: done.at,
                actor: done.actor,
                outcome: done.outcome.unwrap_or_default(),
                detail: done.detail,
            });
    }
    Ok(by_incident)
}

/// One incident the caller may see (unknown to those who may not), with what the page and
/// the actions need to know of the caller.
pub struct Seen {
    pub incident: Incident,
    /// The model's band and forecast saved when the incident was opened.
    pub band: Value,
    /// Whether the caller may act as the incident's owner (an admin, or an owner of its
    /// domain).
    pub owner: bool,
    pub user: User,
}

/// The incident `id`, if the caller may see it (unknown to those who may not).
pub async fn seen(
    pool: &PgPool,
    policy: &Policy,
    caller: &Caller,
    id: Uuid,
) -> Result<Seen, IncidentError> {
    let mut sight = Sight::of(policy, caller).await?;
    let row: Row = select_rows!("where i.id = $1", id)
        .fetch_optional(pool)
        .await?
        .ok_or(IncidentError::Unknown(id))?;
    if !sight.sees(pool, policy, &row).await? {
        return Err(IncidentError::Unknown(id));
    }
    let owner = sight.all
        || match &row.domain {
            Some(domain) => sight.owns(policy, domain).await,
            None => false,
        };
    let band = row.band.clone();
    let actions = actions_of(pool, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    Ok(Seen {
        incident: row.into_incident(actions),
        band,
        owner,
        user: sight.user,
    })
}

/// An incident the detector found, to open.
#[derive(Clone, Debug)]
pub struct NewIncident {
    pub channel: Channel,
    pub signal: Signal,
    pub cause: Cause,
    pub confidence: f64,
    pub summary: String,
    pub predicted: bool,
    pub evidence: Vec<Evidence>,
    pub band: Value,
    pub started_at: DateTime<Utc>,
}

/// An open incident as the detector tracks it.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenIncident {
    pub id: Uuid,
    pub channel: String,
    pub signal: String,
    pub cause: String,
    pub started_at: DateTime<Utc>,
    pub opened_at: DateTime<Utc>,
}

/// Every open incident.
pub async fn open_incidents(pool: &PgPool) -> Result<Vec<OpenIncident>, sqlx::Error> {
    sqlx::query_as!(
        OpenIncident,
        r#"select id, channel, signal, cause, started_at as "started_at: Timestamp",
                  opened_at as "opened_at: Timestamp"
           from incidents where state = 'open'"#,
    )
    .fetch_all(pool)
    .await
}

/// Opens an incident unless one is open for its channel and signal; its id when opened.
pub async fn open(pool: &PgPool, new: &NewIncident) -> Result<Option<Uuid>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let (product_id, subscription_id, node) = match &new.channel {
        Channel::Product { product, .. } => (product_id(&mut tx, product).await?, None, None),
        Channel::Subscription {
            subscription,
            product,
            ..
        } => (
            product_id(&mut tx, product).await?,
            Some(*subscription),
            None,
        ),
        Channel::Node { node, product } => (
            product_id(&mut tx, product).await?,
            None,
            Some(node.clone()),
        ),
        Channel::Broker => (None, None, None),
    };
    let id: Option<Uuid> = sqlx::query_scalar!(
        "insert into incidents (state, channel, channel_kind, product_id, subscription_id, node,
             signal, cause, confidence, summary, predicted, evidence, band, started_at)
         values ('open', $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         on conflict (channel, signal) where state = 'open' do nothing
         returning id",
        new.channel.key(),
        new.channel.kind(),
        product_id,
        subscription_id,
        node,
        new.signal.as_str(),
        new.cause.as_str(),
        new.confidence,
        new.summary,
        new.predicted,
        serde_json::to_value(&new.evidence).unwrap_or_default(),
        new.band,
        new.started_at as Timestamp,
    )
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(id) = id {
        event(
            &mut tx,
            id,
            "opened",
            None,
            "detector",
            None,
            serde_json::json!({
                "cause": new.cause.as_str(),
                "confidence": new.confidence,
                "summary": new.summary,
            }),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(id)
}

async fn product_id(
    conn: &mut sqlx::PgConnection,
    slug: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!("select id from products where slug = $1", slug,)
        .fetch_optional(conn)
        .await
}

/// Appends to an incident's timeline.
pub async fn event(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
    kind: &str,
    action: Option<&str>,
    actor: &str,
    outcome: Option<&str>,
    detail: Value,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into incident_events (incident_id, kind, action, actor, outcome, detail)
         values ($1, $2, $3, $4, $5, $6)",
        id,
        kind,
        action,
        actor,
        outcome,
        detail,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The fault is still there: refreshes the evidence, and records a changed diagnosis.
pub async fn still_open(
    pool: &PgPool,
    id: Uuid,
    cause: Cause,
    confidence: f64,
    summary: &str,
    evidence: &[Evidence],
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let before: Option<String> = sqlx::query_scalar!(
        "update incidents i set last_seen_at = now(), updated_at = now(), cause = $2,
             confidence = $3, summary = $4, evidence = $5
         from (select cause from incidents where id = $1 for update) old
         where i.id = $1 and i.state = 'open'
         returning old.cause",
        id,
        cause.as_str(),
        confidence,
        summary,
        serde_json::to_value(evidence).unwrap_or_default(),
    )
    .fetch_optional(&mut *tx)
    .await?;
    if before.is_some_and(|before| before != cause.as_str()) {
        event(
            &mut tx,
            id,
            "diagnosed",
            None,
            "detector",
            None,
            serde_json::json!({ "cause": cause.as_str(), "confidence": confidence }),
        )
        .await?;
    }
    tx.commit().await
}

/// The signal is back to normal: resolves the incident.
pub async fn resolve(pool: &PgPool, id: Uuid, why: &str) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query!(
        "update incidents set state = 'resolved', resolved_at = now(), updated_at = now()
         where id = $1 and state = 'open'",
        id,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if done {
        event(
            &mut tx,
            id,
            "resolved",
            None,
            "detector",
            None,
            serde_json::json!({ "why": why }),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(done)
}
