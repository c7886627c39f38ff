//! What lists, pages and the approvals inbox read: one subscription, filtered lists, the
//! pending count, the principals a requester may choose, the live subscription of a
//! principal to a product, auto-approval settings, and each user's notifications.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

use super::store::{Row, seen_by, select_rows};
use super::{State, Subscription, SubscriptionError};
use crate::db::Timestamp;
use crate::identity::{Caller, User};
use crate::policy::Permission;
use crate::policy::{GLOBAL, Policy};

/// One subscription, for its requester, the owners of its product's domain and admins.
pub async fn get(
    pool: &PgPool,
    policy: &Policy,
    caller: &Caller,
    id: Uuid,
) -> Result<Subscription, SubscriptionError> {
    match seen_by(pool, policy, caller, id).await? {
        (found, true) => Ok(found),
        // Not even whether it exists.
        (_, false) => Err(SubscriptionError::NotFound),
    }
}

/// What a list shows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListFilter {
    pub state: Option<State>,
    /// Only the caller's own requests.
    #[serde(default)]
    pub mine: bool,
    /// Only requests the caller may decide (the approvals inbox).
    #[serde(default)]
    pub to_decide: bool,
}

/// Most subscriptions one list returns.
const LIST_LIMIT: i64 = 2000;

/// The subscriptions the caller may see, newest first (at most [`LIST_LIMIT`]): their
/// own, plus those of products they may approve (all, for admins). Which domains the
/// caller decides is asked of the policy per domain (there are few), so the database
/// returns visible rows only and the limit never hides an older one of the caller's.
pub async fn list(
    pool: &PgPool,
    policy: &Policy,
    caller: &Caller,
    filter: &ListFilter,
) -> Result<Vec<Subscription>, SubscriptionError> {
    let user = policy
        .authorize(caller, GLOBAL, Permission::ReadCatalog)
        .await?;
    let mut deciding = Vec::new();
    if !filter.mine {
        let domains: Vec<String> = sqlx::query_scalar!("select slug from domains order by slug")
            .fetch_all(pool)
            .await?;
        for domain in domains {
            if policy
                .allows(user, &domain, Permission::ApproveSubscriptions)
                .await
            {
                deciding.push(domain);
            }
        }
    }
    let own = filter.mine || !filter.to_decide;
    let rows = select_rows!(
        "where ($1::text is null or s.state = $1)
           and (($2 and u.email = $3) or p.domain = any($4))
         order by s.created_at desc limit $5",
        filter.state.map(State::as_str),
        own,
        user.email,
        &deciding,
        LIST_LIMIT,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(Row::into_subscription).collect())
}

/// The header's two badges of `user`: how many requests wait for their decision, and how
/// many of their notifications are unread — read in one round trip, as every page asks.
pub async fn badge_counts(
    pool: &PgPool,
    policy: &Policy,
    user: &User,
) -> Result<Badges, sqlx::Error> {
    let row = sqlx::query!(
        r#"with pending as (
               select p.domain, count(*) as waiting from subscriptions s
                 join products p on p.id = s.product_id
               where s.state = 'pending' group by p.domain)
           select (select count(*) from notifications
                   where user_id = $1 and read_at is null) as "unread!",
                  array(select domain from pending order by domain) as "domains!",
                  array(select waiting from pending order by domain) as "counts!""#,
        user.id,
    )
    .fetch_one(pool)
    .await?;
    let mut pending = 0;
    for (domain, count) in row.domains.iter().zip(&row.counts) {
        if policy
            .allows(user, domain, Permission::ApproveSubscriptions)
            .await
        {
            pending += count;
        }
    }
    Ok(Badges {
        pending,
        unread: row.unread,
    })
}

/// What the header's badges count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Badges {
    /// Requests waiting for the user's decision.
    pub pending: i64,
    /// The user's unread notifications.
    pub unread: i64,
}

/// A principal the caller may request access for, and the team (domain) it belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalChoice {
    pub principal: String,
    pub team: Option<String>,
    pub label: String,
}

/// The caller's own principal, then the service accounts of the domains they own.
pub async fn principal_choices(
    pool: &PgPool,
    policy: &Policy,
    user: &User,
) -> Result<Vec<PrincipalChoice>, sqlx::Error> {
    let mut choices = vec![PrincipalChoice {
        principal: user.kafka_principal.clone(),
        team: None,
        label: format!("{} (you)", user.kafka_principal),
    }];
    // Most people manage no service account anywhere: nothing to read for them.
    if !policy
        .may_somewhere(user, Permission::ManageServiceAccounts)
        .await
    {
        return Ok(choices);
    }
    let accounts = sqlx::query!(
        r#"select s.kafka_principal, s.domain, s.name from service_accounts s
           where not s.disabled
             and not exists (select 1 from users u where u.kafka_principal = s.kafka_principal)
           order by s.domain, s.name"#,
    )
    .fetch_all(pool)
    .await?;
    for row in accounts {
        let (principal, domain, name) = (row.kafka_principal, row.domain, row.name);
        if policy
            .allows(user, &domain, Permission::ManageServiceAccounts)
            .await
        {
            choices.push(PrincipalChoice {
                label: format!("{principal} (service account {name}, {domain})"),
                principal,
                team: Some(domain),
            });
        }
    }
    Ok(choices)
}

/// What the request form of a product needs beyond the product itself, read in one round
/// trip: the principal's live subscription, the roles approved on request, and the
/// contract's longest subscription.
#[derive(Clone, Debug, PartialEq)]
pub struct FormFacts {
    pub live: Option<(Uuid, State)>,
    pub auto_approve: Vec<String>,
    /// `maxSubscriptionDays` of the current contract ([`super::max_days`]).
    pub max_days: Option<i64>,
}

/// The [`FormFacts`] of the product `slug` for `principal`; `None` when no such product.
pub async fn form_facts(
    pool: &PgPool,
    slug: &str,
    principal: &str,
) -> Result<Option<FormFacts>, sqlx::Error> {
    let Some(row) = sqlx::query!(
        r#"select c.document -> 'customProperties' as "custom_properties: serde_json::Value",
                  live.id as "live_id?", live.state as "live_state?: State",
                  array(select a.role from product_auto_approve a where a.product_id = p.id
                        order by a.role) as "auto_approve!"
           from products p
           left join contract_versions c
             on c.product_id = p.id and c.version = p.current_version
           left join subscriptions live
             on live.product_id = p.id and live.principal = $2
            and live.state in ('pending', 'approved', 'provisioning', 'active')
           where p.slug = $1"#,
        slug,
        principal,
    )
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let contract = serde_json::json!({ "customProperties": row.custom_properties });
    Ok(Some(FormFacts {
        live: row.live_id.zip(row.live_state),
        auto_approve: row.auto_approve,
        max_days: super::max_days(&contract),
    }))
}

/// A user's unread in-app notifications, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub id: i64,
    pub kind: String,
    pub message: String,
    pub link: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The most unread notifications a page shows at once.
pub const NOTIFICATIONS_SHOWN: i64 = 50;

/// Marks exactly the notifications `ids` of `user` read (those they were shown and
/// dismissed); other users' ids are ignored. Returns how many were unread.
pub async fn mark_notifications_read(
    pool: &PgPool,
    user: &User,
    ids: &[i64],
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        r#"update notifications set read_at = now(), updated_at = now()
           where user_id = $1 and id = any($2) and read_at is null"#,
        user.id,
        ids,
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// The newest [`NOTIFICATIONS_SHOWN`] unread notifications of `user`, newest first.
pub async fn notifications(pool: &PgPool, user: &User) -> Result<Vec<Notification>, sqlx::Error> {
    sqlx::query_as!(
        Notification,
        r#"select id, kind, message, link, created_at as "created_at: Timestamp"
           from notifications
           where user_id = $1 and read_at is null order by created_at desc, id desc limit $2"#,
        user.id,
        NOTIFICATIONS_SHOWN,
    )
    .fetch_all(pool)
    .await
}
