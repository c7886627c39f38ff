//! The subscription rows on PostgreSQL, as the reads and the changes share them: loading
//! and locking a subscription, who may see it, and the Casbin rows and outbox message a
//! change writes so that the broker's ACLs follow. The reads are in `queries`, the changes
//! in `commands`, the provisioner's progress in `progress`.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{State, Subscription, SubscriptionError, kafka_subject};
use crate::db::Timestamp;
use crate::identity::{Caller, User};
use crate::outbox;
use crate::policy::Permission;
use crate::policy::{self, GLOBAL, Policy};

/// Days before the end date when the requester is warned.
pub const EXPIRY_WARNING_DAYS: i64 = 3;

/// A subscription as [`select_rows`] reads it.
pub(super) struct Row {
    pub(super) id: Uuid,
    pub(super) product: String,
    pub(super) product_name: String,
    pub(super) domain: String,
    pub(super) topics: Vec<String>,
    pub(super) principal: String,
    pub(super) team: Option<String>,
    pub(super) consumer_group: String,
    pub(super) purpose: String,
    pub(super) state: State,
    pub(super) until: Option<DateTime<Utc>>,
    pub(super) requested_by: String,
    pub(super) requested_at: DateTime<Utc>,
    pub(super) decided_by: Option<String>,
    pub(super) decided_at: Option<DateTime<Utc>>,
    pub(super) decision_comment: Option<String>,
    pub(super) provision_attempts: i32,
    pub(super) last_error: Option<String>,
    pub(super) activated_at: Option<DateTime<Utc>>,
    pub(super) ended_at: Option<DateTime<Utc>>,
    pub(super) access_removed_at: Option<DateTime<Utc>>,
}

impl Row {
    pub(super) fn into_subscription(self) -> Subscription {
        Subscription {
            id: self.id,
            product: self.product,
            product_name: self.product_name,
            domain: self.domain,
            topics: self.topics,
            principal: self.principal,
            team: self.team,
            consumer_group: self.consumer_group,
            purpose: self.purpose,
            state: self.state,
            until: self.until,
            requested_by: self.requested_by,
            requested_at: self.requested_at,
            decided_by: self.decided_by,
            decided_at: self.decided_at,
            decision_comment: self.decision_comment,
            provision_attempts: self.provision_attempts,
            last_error: self.last_error,
            activated_at: self.activated_at,
            ended_at: self.ended_at,
            access_removed_at: self.access_removed_at,
        }
    }
}

/// `sqlx::query_as!(Row, …)` over the shared SELECT, with the rest of the query (string
/// literals, joined with `+` as the macro allows) and its arguments: one SELECT for every
/// read of whole subscriptions, compile-checked with each tail.
macro_rules! select_rows {
    ($($tail:literal)+ $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            $crate::subscriptions::store::Row,
            r#"
    select s.id, p.slug as product, p.name as product_name, p.domain,
           array(select sp.topic from subscription_ports sp
                 where sp.subscription_id = s.id order by sp.topic) as "topics!",
           s.principal, s.team, s.consumer_group, s.purpose, s.state as "state: State",
           s.until as "until: Timestamp", u.email as requested_by,
           s.created_at as "requested_at: Timestamp",
           d.email as "decided_by?", s.decided_at as "decided_at: Timestamp",
           s.decision_comment, s.provision_attempts, s.last_error,
           s.activated_at as "activated_at: Timestamp", s.ended_at as "ended_at: Timestamp",
           s.access_removed_at as "access_removed_at: Timestamp"
    from subscriptions s
    join products p on p.id = s.product_id
    join users u on u.id = s.requested_by
    left join users d on d.id = s.decided_by "# $(+ $tail)+
            $(, $arg)*
        )
    };
}
pub(super) use select_rows;

pub(super) async fn load(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<Subscription>, sqlx::Error> {
    Ok(select_rows!("where s.id = $1", id)
        .fetch_optional(conn)
        .await?
        .map(Row::into_subscription))
}

/// Subscription `id`, and whether the caller may see it (its requester, the owners of its
/// product's domain, admins).
pub(super) async fn seen_by(
    pool: &PgPool,
    policy: &Policy,
    caller: &Caller,
    id: Uuid,
) -> Result<(Subscription, bool), SubscriptionError> {
    let user = policy
        .authorize(caller, GLOBAL, Permission::ReadCatalog)
        .await?;
    let mut conn = pool.acquire().await?;
    let found = load(&mut conn, id)
        .await?
        .ok_or(SubscriptionError::NotFound)?;
    let visible = may_see(policy, user, &found).await;
    Ok((found, visible))
}

pub(super) async fn may_see(policy: &Policy, user: &User, subscription: &Subscription) -> bool {
    subscription.requested_by == user.email
        || policy
            .allows(user, &subscription.domain, Permission::ApproveSubscriptions)
            .await
}

/// Locks a subscription row for a decision by the caller and checks they may make it.
pub(super) async fn lock_for(
    conn: &mut PgConnection,
    policy: &Policy,
    caller: &Caller,
    id: Uuid,
    action: &str,
) -> Result<(User, Subscription), SubscriptionError> {
    let user = policy
        .authorize(caller, GLOBAL, Permission::ReadCatalog)
        .await?
        .clone();
    sqlx::query!("select id from subscriptions where id = $1 for update", id)
        .fetch_optional(&mut *conn)
        .await?;
    let subscription = load(&mut *conn, id)
        .await?
        .ok_or(SubscriptionError::NotFound)?;
    let requester = subscription.requested_by == user.email;
    let decider = policy
        .allows(
            &user,
            &subscription.domain,
            Permission::ApproveSubscriptions,
        )
        .await;
    let allowed = decider || (action == "revoke" && requester);
    if !allowed {
        return Err(policy::Denied::Forbidden {
            domain: subscription.domain.clone(),
            object: "subscription".to_string(),
            action: "approve".to_string(),
        }
        .into());
    }
    Ok((user, subscription))
}

/// Subscription `id` for an action its requester may take on it as well as the owners of
/// its product's domain and admins (revoke, replay); others are refused (403), as with
/// [`revoke`].
pub(super) async fn for_requester_or_owner(
    pool: &PgPool,
    policy: &Policy,
    caller: &Caller,
    id: Uuid,
    action: &str,
) -> Result<Subscription, SubscriptionError> {
    match seen_by(pool, policy, caller, id).await? {
        (subscription, true) => Ok(subscription),
        (subscription, false) => Err(policy::Denied::Forbidden {
            domain: subscription.domain,
            object: "subscription".to_string(),
            action: action.to_string(),
        }
        .into()),
    }
}

/// The live subscription (id, state) of `principal` to a product, if any: at most one exists.
pub(super) async fn live_of(
    conn: &mut PgConnection,
    product_id: Uuid,
    principal: &str,
) -> Result<Option<(Uuid, State)>, sqlx::Error> {
    let live = sqlx::query!(
        r#"select id, state as "state: State" from subscriptions
           where product_id = $1 and principal = $2
             and state in ('pending', 'approved', 'provisioning', 'active')"#,
        product_id,
        principal,
    )
    .fetch_optional(conn)
    .await?;
    Ok(live.map(|row| (row.id, row.state)))
}

/// The outbox message that makes the provisioner bring the principal's broker ACLs in line
/// with its Casbin rows.
pub(super) fn sync_acls(subscription: &Subscription) -> outbox::Message {
    outbox::Message::SyncAcls {
        subscription: subscription.id,
        principal: subscription.principal.clone(),
    }
}

/// The Casbin objects a subscription grants its principal.
pub(super) fn objects(subscription: &Subscription) -> Vec<String> {
    subscription
        .topics
        .iter()
        .map(|topic| format!("topic:{topic}"))
        .chain(std::iter::once(format!(
            "group:{}",
            subscription.consumer_group
        )))
        .collect()
}

pub(super) async fn grant(
    conn: &mut PgConnection,
    subscription: &Subscription,
) -> Result<(), sqlx::Error> {
    let subject = kafka_subject(&subscription.principal);
    for object in objects(subscription) {
        sqlx::query!(
            r#"insert into casbin_rule (ptype, v0, v1, v2, v3, v4, v5)
               values ('p', $1, '*', $2, 'read', '', '') on conflict do nothing"#,
            subject,
            object,
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Removes the Casbin rows of an ended subscription that no other live subscription of the
/// same principal still needs.
pub(super) async fn ungrant(
    conn: &mut PgConnection,
    subscription: &Subscription,
) -> Result<(), sqlx::Error> {
    let still_needed: BTreeSet<String> = sqlx::query_scalar!(
        r#"select 'topic:' || sp.topic as "object!" from subscriptions s
             join subscription_ports sp on sp.subscription_id = s.id
           where s.principal = $1 and s.id <> $2
             and s.state in ('approved', 'provisioning', 'active')
           union
           select 'group:' || s.consumer_group from subscriptions s
           where s.principal = $1 and s.id <> $2
             and s.state in ('approved', 'provisioning', 'active')"#,
        subscription.principal,
        subscription.id,
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect();
    let subject = kafka_subject(&subscription.principal);
    for object in objects(subscription) {
        if still_needed.contains(&object) {
            continue;
        }
        sqlx::query!(
            r#"delete from casbin_rule
               where ptype = 'p' and v0 = $1 and v1 = '*' and v2 = $2 and v3 = 'read'"#,
            subject,
            object,
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Serialises grants and ungrants of one principal until the transaction ends: their
/// Casbin rows are shared (a group prefix, a topic read by two subscriptions), and an
/// approval racing a revocation must not lose a row the approval still needs.
pub(super) async fn lock_principal(
    conn: &mut PgConnection,
    principal: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "select pg_advisory_xact_lock(hashtext('subscription-principal:' || $1))",
        principal
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn auto_approve_roles_in(
    conn: &mut PgConnection,
    product_id: Uuid,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "select role from product_auto_approve where product_id = $1 order by role",
        product_id
    )
    .fetch_all(conn)
    .await
}
