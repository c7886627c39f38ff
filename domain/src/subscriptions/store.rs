//! The subscription workflow on PostgreSQL: request, approve, reject, revoke, expire, the
//! reads that lists, pages and the approvals inbox need, and the progress the provisioner
//! records. Each change is one transaction with its audit row, its Casbin rows and, when
//! broker ACLs must follow, its outbox row.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{
    Action, Request, Stage, State, Subscription, SubscriptionError, check_group, default_group,
    invalid, kafka_subject, max_days,
};
use crate::audit::{self, Actor, Event};
use crate::identity::{Caller, User};
use crate::outbox;
use crate::policy::Permission;
use crate::policy::{self, GLOBAL, Policy, Role};

/// The outbox message that makes the provisioner bring the principal's broker ACLs in line
/// with its Casbin rows.
fn sync_acls(subscription: &Subscription) -> outbox::Message {
    outbox::Message::SyncAcls {
        subscription: subscription.id,
        principal: subscription.principal.clone(),
    }
}

/// Days before the end date when the requester is warned.
pub const EXPIRY_WARNING_DAYS: i64 = 3;

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    product: String,
    product_name: String,
    domain: String,
    topics: Vec<String>,
    principal: String,
    team: Option<String>,
    consumer_group: String,
    purpose: String,
    state: State,
    until: Option<DateTime<Utc>>,
    requested_by: String,
    requested_at: DateTime<Utc>,
    decided_by: Option<String>,
    decided_at: Option<DateTime<Utc>>,
    decision_comment: Option<String>,
    provision_attempts: i32,
    last_error: Option<String>,
    activated_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    access_removed_at: Option<DateTime<Utc>>,
}

impl Row {
    fn into_subscription(self) -> Subscription {
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

const SELECT: &str = r#"
    select s.id, p.slug as product, p.name as product_name, p.domain,
           array(select sp.topic from subscription_ports sp
                 where sp.subscription_id = s.id order by sp.topic) as topics,
           s.principal, s.team, s.consumer_group, s.purpose, s.state, s.until,
           u.email as requested_by, s.created_at as requested_at,
           d.email as decided_by, s.decided_at, s.decision_comment,
           s.provision_attempts, s.last_error, s.activated_at, s.ended_at,
           s.access_removed_at
    from subscriptions s
    join products p on p.id = s.product_id
    join users u on u.id = s.requested_by
    left join users d on d.id = s.decided_by"#;

async fn load(conn: &mut PgConnection, id: Uuid) -> Result<Option<Subscription>, sqlx::Error> {
    Ok(
        sqlx::query_as::<_, Row>(&format!("{SELECT} where s.id = $1"))
            .bind(id)
            .fetch_optional(conn)
            .await?
            .map(Row::into_subscription),
    )
}

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

/// Subscription `id`, and whether the caller may see it (its requester, the owners of its
/// product's domain, admins).
async fn seen_by(
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

async fn may_see(policy: &Policy, user: &User, subscription: &Subscription) -> bool {
    subscription.requested_by == user.email
        || policy
            .allows(user, &subscription.domain, Permission::ApproveSubscriptions)
            .await
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
        let domains: Vec<String> = sqlx::query_scalar("select slug from domains order by slug")
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
    let rows = sqlx::query_as::<_, Row>(&format!(
        "{SELECT} where ($1::text is null or s.state = $1)
                    and (($2 and u.email = $3) or p.domain = any($4))
                  order by s.created_at desc limit $5"
    ))
    .bind(filter.state.map(State::as_str))
    .bind(own)
    .bind(&user.email)
    .bind(&deciding)
    .bind(LIST_LIMIT)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(Row::into_subscription).collect())
}

/// How many requests wait for the caller's decision (the header's badge).
pub async fn pending_count(
    pool: &PgPool,
    policy: &Policy,
    user: &User,
) -> Result<i64, sqlx::Error> {
    let per_domain = sqlx::query_as::<_, (String, i64)>(
        r#"select p.domain, count(*) from subscriptions s join products p on p.id = s.product_id
           where s.state = 'pending' group by p.domain"#,
    )
    .fetch_all(pool)
    .await?;
    let mut total = 0;
    for (domain, count) in per_domain {
        if policy
            .allows(user, &domain, Permission::ApproveSubscriptions)
            .await
        {
            total += count;
        }
    }
    Ok(total)
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
    let accounts = sqlx::query_as::<_, (String, String, String)>(
        r#"select s.kafka_principal, s.domain, s.name from service_accounts s
           where not s.disabled
             and not exists (select 1 from users u where u.kafka_principal = s.kafka_principal)
           order by s.domain, s.name"#,
    )
    .fetch_all(pool)
    .await?;
    for (principal, domain, name) in accounts {
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

struct Target {
    id: Uuid,
    domain: String,
    status: String,
    topics: Vec<String>,
    contract: serde_json::Value,
}

async fn product(conn: &mut PgConnection, slug: &str) -> Result<Option<Target>, sqlx::Error> {
    let row = sqlx::query_as::<_, (Uuid, String, String, serde_json::Value)>(
        r#"select p.id, p.domain, p.status, v.document
           from products p join contract_versions v
             on v.product_id = p.id and v.version = p.current_version
           where p.slug = $1"#,
    )
    .bind(slug)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((id, domain, status, contract)) = row else {
        return Ok(None);
    };
    let topics = sqlx::query_scalar::<_, String>(
        "select topic from output_ports where product_id = $1 order by topic",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some(Target {
        id,
        domain,
        status,
        topics,
        contract,
    }))
}

/// Files a request (approving it at once when the product auto-approves one of the
/// requester's roles).
pub async fn request(
    pool: &PgPool,
    policy: &Policy,
    caller: &Caller,
    request: &Request,
) -> Result<Subscription, SubscriptionError> {
    let user = policy
        .authorize(caller, GLOBAL, Permission::RequestSubscriptions)
        .await?;
    let purpose = request.purpose.trim();
    if purpose.is_empty() {
        return Err(invalid("purpose", "say what you will use the data for"));
    }
    if purpose.chars().count() > 2000 {
        return Err(invalid("purpose", "at most 2,000 characters"));
    }
    let mut conn = pool.acquire().await?;
    let target = product(&mut conn, request.product.trim())
        .await?
        .ok_or_else(|| {
            invalid(
                "product",
                format!("there is no data product `{}`", request.product),
            )
        })?;
    drop(conn);
    if target.status == "retired" {
        return Err(invalid("product", "this data product is retired"));
    }
    if target.topics.is_empty() {
        return Err(invalid("product", "this data product has no output ports"));
    }
    let topics: BTreeSet<String> = match &request.ports {
        Some(ports) if !ports.is_empty() => {
            for port in ports {
                if !target.topics.contains(port) {
                    return Err(invalid(
                        "ports",
                        format!("`{port}` is not an output port of {}", request.product),
                    ));
                }
            }
            ports.iter().cloned().collect()
        }
        _ => target.topics.iter().cloned().collect(),
    };
    let choices = principal_choices(pool, policy, user).await?;
    let principal = request
        .principal
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .unwrap_or(&user.kafka_principal);
    let Some(choice) = choices.iter().find(|c| c.principal == principal) else {
        return Err(invalid(
            "principal",
            format!(
                "you may request access for yourself ({}) or for service accounts of domains you own",
                user.kafka_principal
            ),
        ));
    };
    let group = match request.group.as_deref().map(str::trim) {
        Some(group) if !group.is_empty() => group.to_string(),
        _ => default_group(principal),
    };
    check_group(principal, &group)?;
    let now = Utc::now();
    let cap = max_days(&target.contract);
    let until = match (request.until, cap) {
        (Some(until), _) if until <= now => {
            return Err(invalid("until", "the end date must be in the future"));
        }
        (Some(until), Some(days)) if until > now + Duration::days(days) => {
            return Err(invalid(
                "until",
                format!("this product's contract allows at most {days} days of access"),
            ));
        }
        (Some(until), _) => Some(until),
        (None, Some(days)) => Some(now + Duration::days(days)),
        (None, None) => None,
    };
    let auto = auto_approval(pool, user, target.id).await?;

    let mut tx = pool.begin().await?;
    if let Some((id, state)) = live_of(&mut tx, target.id, principal).await? {
        return Err(SubscriptionError::Duplicate {
            id,
            product: request.product.clone(),
            principal: principal.to_string(),
            state,
        });
    }
    let inserted = sqlx::query_scalar::<_, Uuid>(
        r#"insert into subscriptions (product_id, principal, team, requested_by, consumer_group,
                                      purpose, until)
           values ($1, $2, $3, $4, $5, $6, $7) returning id"#,
    )
    .bind(target.id)
    .bind(principal)
    .bind(&choice.team)
    .bind(user.id)
    .bind(&group)
    .bind(purpose)
    .bind(until)
    .fetch_one(&mut *tx)
    .await;
    let id = match inserted {
        Ok(id) => id,
        // A concurrent request won the race for the one live subscription.
        Err(error)
            if error
                .as_database_error()
                .and_then(|e| e.constraint())
                .is_some_and(|c| c == "subscriptions_one_live_idx") =>
        {
            return Err(SubscriptionError::Conflict(format!(
                "{principal} already has a live subscription to {}",
                request.product
            )));
        }
        Err(error) => return Err(error.into()),
    };
    for topic in &topics {
        sqlx::query("insert into subscription_ports (subscription_id, topic) values ($1, $2)")
            .bind(id)
            .bind(topic)
            .execute(&mut *tx)
            .await?;
    }
    audit::record(
        &mut tx,
        Event::new(
            &caller.audit_actor(),
            "subscription.request",
            format!("subscription:{id}"),
        )
        .in_domain(&target.domain)
        .after(json!({
            "product": request.product, "principal": principal, "topics": topics,
            "group": group, "until": until,
        })),
    )
    .await?;
    if let Some(role) = auto {
        let created = load(&mut tx, id)
            .await?
            .ok_or(SubscriptionError::NotFound)?;
        decide(
            &mut tx,
            &created,
            None,
            &Actor::system(format!("auto-approve ({role})")),
            Some(&format!("approved automatically for the {role} role")),
            Action::Approve,
        )
        .await?;
    }
    tx.commit().await?;
    let mut conn = pool.acquire().await?;
    load(&mut conn, id)
        .await?
        .ok_or(SubscriptionError::NotFound)
}

/// The live subscription (id, state) of `principal` to a product, if any: at most one exists.
async fn live_of(
    conn: &mut PgConnection,
    product_id: Uuid,
    principal: &str,
) -> Result<Option<(Uuid, State)>, sqlx::Error> {
    sqlx::query_as::<_, (Uuid, State)>(
        r#"select id, state from subscriptions
           where product_id = $1 and principal = $2
             and state in ('pending', 'approved', 'provisioning', 'active')"#,
    )
    .bind(product_id)
    .bind(principal)
    .fetch_optional(conn)
    .await
}

/// The live subscription (id, state) of `principal` to the product `slug`, if any.
pub async fn live_subscription(
    pool: &PgPool,
    slug: &str,
    principal: &str,
) -> Result<Option<(Uuid, State)>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let Some(product_id) = sqlx::query_scalar::<_, Uuid>("select id from products where slug = $1")
        .bind(slug)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    live_of(&mut conn, product_id, principal).await
}

/// The first of the requester's roles that the product approves automatically.
async fn auto_approval(
    pool: &PgPool,
    user: &User,
    product_id: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    let roles: Vec<String> = sqlx::query_scalar(
        "select role from product_auto_approve where product_id = $1 order by role",
    )
    .bind(product_id)
    .fetch_all(pool)
    .await?;
    if roles.is_empty() {
        return Ok(None);
    }
    let held = policy::roles_of(pool, user.id).await?;
    let names: BTreeSet<&str> = held
        .iter()
        .map(|role| match role {
            Role::Admin => "admin",
            Role::Owner(_) => "owner",
            Role::Analyst => "analyst",
        })
        .collect();
    Ok(roles.into_iter().find(|role| names.contains(role.as_str())))
}

/// Approves or rejects a pending subscription (locked by the caller's transaction): approval
/// writes its Casbin rows and outbox row.
async fn decide(
    conn: &mut PgConnection,
    pending: &Subscription,
    decided_by: Option<Uuid>,
    actor: &Actor,
    comment: Option<&str>,
    decision: Action,
) -> Result<(), SubscriptionError> {
    let state = pending.stage().after(decision)?.state;
    let id = pending.id;
    lock_principal(&mut *conn, &pending.principal).await?;
    sqlx::query(
        r#"update subscriptions set state = $2, decided_by = $3, decided_at = now(),
               decision_comment = $4, ended_at = case when $2 = 'rejected' then now() end,
               updated_at = now()
           where id = $1"#,
    )
    .bind(id)
    .bind(state.as_str())
    .bind(decided_by)
    .bind(comment)
    .execute(&mut *conn)
    .await?;
    let subscription = load(&mut *conn, id)
        .await?
        .ok_or(SubscriptionError::NotFound)?;
    if state.grants_access() {
        grant(&mut *conn, &subscription).await?;
        outbox::enqueue(&mut *conn, &sync_acls(&subscription)).await?;
    }
    let action = match state {
        State::Approved => "subscription.approve",
        _ => "subscription.reject",
    };
    audit::record(
        conn,
        Event::new(actor, action, format!("subscription:{id}"))
            .in_domain(&subscription.domain)
            .before(json!({ "state": pending.state }))
            .after(json!({ "state": state, "comment": comment })),
    )
    .await?;
    Ok(())
}

/// The Casbin objects a subscription grants its principal.
fn objects(subscription: &Subscription) -> Vec<String> {
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

async fn grant(conn: &mut PgConnection, subscription: &Subscription) -> Result<(), sqlx::Error> {
    let subject = kafka_subject(&subscription.principal);
    for object in objects(subscription) {
        sqlx::query(
            r#"insert into casbin_rule (ptype, v0, v1, v2, v3, v4, v5)
               values ('p', $1, '*', $2, 'read', '', '') on conflict do nothing"#,
        )
        .bind(&subject)
        .bind(object)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Removes the Casbin rows of an ended subscription that no other live subscription of the
/// same principal still needs.
async fn ungrant(conn: &mut PgConnection, subscription: &Subscription) -> Result<(), sqlx::Error> {
    let still_needed: BTreeSet<String> = sqlx::query_scalar::<_, String>(
        r#"select 'topic:' || sp.topic from subscriptions s
             join subscription_ports sp on sp.subscription_id = s.id
           where s.principal = $1 and s.id <> $2
             and s.state in ('approved', 'provisioning', 'active')
           union
           select 'group:' || s.consumer_group from subscriptions s
           where s.principal = $1 and s.id <> $2
             and s.state in ('approved', 'provisioning', 'active')"#,
    )
    .bind(&subscription.principal)
    .bind(subscription.id)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect();
    let subject = kafka_subject(&subscription.principal);
    for object in objects(subscription) {
        if still_needed.contains(&object) {
            continue;
        }
        sqlx::query(
            r#"delete from casbin_rule
               where ptype = 'p' and v0 = $1 and v1 = '*' and v2 = $2 and v3 = 'read'"#,
        )
        .bind(&subject)
        .bind(object)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Locks a subscription row for a decision by the caller and checks they may make it.
async fn lock_for(
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
    sqlx::query("select id from subscriptions where id = $1 for update")
        .bind(id)
        .execute(&mut *conn)
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

/// Approves a pending request (owners of the product's domain, admins).
pub async fn approve(
    pool: &PgPool,
    policy: &Policy,
    caller: &Caller,
    id: Uuid,
    comment: Option<&str>,
) -> Result<Subscription, SubscriptionError> {
    settle(pool, policy, caller, id, comment, Action::Approve).await
}

/// Rejects a pending request (owners of the product's domain, admins).
pub async fn reject(
    pool: &PgPool,
    policy: &Policy,
    caller: &Caller,
    id: Uuid,
    comment: Option<&str>,
) -> Result<Subscription, SubscriptionError> {
    settle(pool, policy, caller, id, comment, Action::Reject).await
}

fn clean_comment(comment: Option<&str>) -> Result<Option<&str>, SubscriptionError> {
    let comment = comment.map(str::trim).filter(|c| !c.is_empty());
    if comment.is_some_and(|c| c.chars().count() > 2000) {
        return Err(invalid("comment", "at most 2,000 characters"));
    }
    Ok(comment)
}

async fn settle(
    pool: &PgPool,
    policy: &Policy,
    caller: &Caller,
    id: Uuid,
    comment: Option<&str>,
    decision: Action,
) -> Result<Subscription, SubscriptionError> {
    let comment = clean_comment(comment)?;
    let mut tx = pool.begin().await?;
    let (user, subscription) = lock_for(&mut tx, policy, caller, id, "approve").await?;
    subscription.stage().after(decision)?;
    if decision == Action::Approve && subscription.until.is_some_and(|until| until <= Utc::now()) {
        return Err(SubscriptionError::Conflict(
            "this request's end date has passed; it can only be rejected".to_string(),
        ));
    }
    decide(
        &mut tx,
        &subscription,
        Some(user.id),
        &caller.audit_actor(),
        comment,
        decision,
    )
    .await?;
    tx.commit().await?;
    let mut conn = pool.acquire().await?;
    load(&mut conn, id)
        .await?
        .ok_or(SubscriptionError::NotFound)
}

/// Ends a subscription: its requester withdraws or gives it up, or an owner of the
/// product's domain or an admin takes it away. ACLs are removed through the outbox.
pub async fn revoke(
    pool: &PgPool,
    policy: &Policy,
    caller: &Caller,
    id: Uuid,
    comment: Option<&str>,
) -> Result<Subscription, SubscriptionError> {
    let comment = clean_comment(comment)?;
    let mut tx = pool.begin().await?;
    let (_, subscription) = lock_for(&mut tx, policy, caller, id, "revoke").await?;
    let next = subscription.stage().after(Action::Revoke)?;
    end(&mut tx, &subscription, next, &caller.audit_actor(), comment).await?;
    tx.commit().await?;
    let mut conn = pool.acquire().await?;
    load(&mut conn, id)
        .await?
        .ok_or(SubscriptionError::NotFound)
}

/// Ends every live subscription of `principal` as revoked, on `conn` (a disabled user's
/// access ends with the account): ACLs are removed through the outbox, as for any
/// revocation, and each end is audited with `reason`. Returns how many ended.
pub async fn end_all_of(
    conn: &mut PgConnection,
    principal: &str,
    actor: &Actor,
    reason: &str,
) -> Result<usize, SubscriptionError> {
    let live: Vec<Uuid> = sqlx::query_scalar(
        r#"select id from subscriptions
           where principal = $1 and state in ('pending', 'approved', 'provisioning', 'active')
           order by id
           for update"#,
    )
    .bind(principal)
    .fetch_all(&mut *conn)
    .await?;
    let mut ended = 0;
    for id in live {
        let Some(subscription) = load(&mut *conn, id).await? else {
            continue;
        };
        if let Ok(next) = subscription.stage().after(Action::Revoke) {
            end(&mut *conn, &subscription, next, actor, Some(reason)).await?;
            ended += 1;
        }
    }
    Ok(ended)
}

/// Serialises grants and ungrants of one principal until the transaction ends: their
/// Casbin rows are shared (a group prefix, a topic read by two subscriptions), and an
/// approval racing a revocation must not lose a row the approval still needs.
async fn lock_principal(conn: &mut PgConnection, principal: &str) -> Result<(), sqlx::Error> {
    sqlx::query("select pg_advisory_xact_lock(hashtext('subscription-principal:' || $1))")
        .bind(principal)
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends a locked live subscription as revoked or expired (`next`, from [`Stage::after`]).
async fn end(
    conn: &mut PgConnection,
    subscription: &Subscription,
    next: Stage,
    actor: &Actor,
    comment: Option<&str>,
) -> Result<(), SubscriptionError> {
    let state = next.state;
    lock_principal(&mut *conn, &subscription.principal).await?;
    // Access that was granted is removed by the outbox worker, which records when the
    // broker agrees (attempts count afresh); a request never approved had none to remove.
    sqlx::query(
        r#"update subscriptions set state = $2, ended_at = now(), ended_by = $3,
               decision_comment = coalesce($4, decision_comment),
               access_removed_at = case when $5 then null else now() end,
               provision_attempts = case when $5 then 0 else provision_attempts end,
               last_error = null, updated_at = now()
           where id = $1"#,
    )
    .bind(subscription.id)
    .bind(state.as_str())
    .bind(actor.to_string())
    .bind(comment)
    .bind(next.removing_access)
    .execute(&mut *conn)
    .await?;
    if next.removing_access {
        ungrant(&mut *conn, subscription).await?;
        outbox::enqueue(&mut *conn, &sync_acls(subscription)).await?;
    }
    if state == State::Expired {
        // The requester learns that it ended, and whether anyone had decided it.
        let message = if subscription.state == State::Pending {
            "The request of %s for %s expired on %s before anyone decided it"
        } else {
            "Access of %s to %s expired on %s"
        };
        sqlx::query(
            r#"insert into notifications (user_id, kind, message, link)
               select s.requested_by, 'subscription.expired',
                      format($2, s.principal, p.name,
                             to_char(coalesce(s.until, now()) at time zone 'UTC',
                                     'YYYY-MM-DD HH24:MI "UTC"')),
                      '/subscriptions#' || s.id
               from subscriptions s join products p on p.id = s.product_id
               where s.id = $1"#,
        )
        .bind(subscription.id)
        .bind(message)
        .execute(&mut *conn)
        .await?;
    }
    let action = match state {
        State::Expired => "subscription.expire",
        _ => "subscription.revoke",
    };
    audit::record(
        conn,
        Event::new(actor, action, format!("subscription:{}", subscription.id))
            .in_domain(&subscription.domain)
            .before(json!({ "state": subscription.state }))
            .after(json!({ "state": state, "comment": comment })),
    )
    .await?;
    Ok(())
}

/// Ends every live subscription whose end date has passed; returns how many.
pub async fn expire_due(pool: &PgPool) -> Result<usize, SubscriptionError> {
    let due: Vec<Uuid> = sqlx::query_scalar(
        r#"select id from subscriptions
           where until <= now() and state in ('pending', 'approved', 'provisioning', 'active')"#,
    )
    .fetch_all(pool)
    .await?;
    let mut ended = 0;
    for id in due {
        let mut tx = pool.begin().await?;
        sqlx::query("select id from subscriptions where id = $1 for update")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let Some(subscription) = load(&mut tx, id).await? else {
            continue;
        };
        let expired = subscription.until.is_some_and(|until| until <= Utc::now());
        if expired && let Ok(next) = subscription.stage().after(Action::Expire) {
            end(&mut tx, &subscription, next, &Actor::system("expiry"), None).await?;
            ended += 1;
        }
        tx.commit().await?;
    }
    Ok(ended)
}

/// Warns requesters, in the app, of subscriptions ending within three days (once each);
/// returns how many warnings were written.
pub async fn warn_expiring(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        r#"with due as (
             update subscriptions s set expiry_warned_at = now(), updated_at = now()
             where s.expiry_warned_at is null and s.until > now()
               and s.until <= now() + make_interval(days => $1)
               and s.state in ('approved', 'provisioning', 'active')
             returning s.id, s.requested_by, s.principal, s.until, s.product_id)
           insert into notifications (user_id, kind, message, link)
           select due.requested_by, 'subscription.expiring',
                  format('Access of %s to %s ends on %s', due.principal, p.name,
                         to_char(due.until at time zone 'UTC', 'YYYY-MM-DD HH24:MI "UTC"')),
                  '/subscriptions#' || due.id
           from due join products p on p.id = due.product_id"#,
    )
    .bind(EXPIRY_WARNING_DAYS as i32)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// A user's unread in-app notifications, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
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
    let done = sqlx::query(
        r#"update notifications set read_at = now(), updated_at = now()
           where user_id = $1 and id = any($2) and read_at is null"#,
    )
    .bind(user.id)
    .bind(ids)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// How many unread notifications `user` has (the header's count).
pub async fn unread_notifications(pool: &PgPool, user: &User) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select count(*) from notifications where user_id = $1 and read_at is null")
        .bind(user.id)
        .fetch_one(pool)
        .await
}

/// The newest [`NOTIFICATIONS_SHOWN`] unread notifications of `user`, newest first.
pub async fn notifications(pool: &PgPool, user: &User) -> Result<Vec<Notification>, sqlx::Error> {
    sqlx::query_as::<_, Notification>(
        r#"select id, kind, message, link, created_at from notifications
           where user_id = $1 and read_at is null order by created_at desc, id desc limit $2"#,
    )
    .bind(user.id)
    .bind(NOTIFICATIONS_SHOWN)
    .fetch_all(pool)
    .await
}

/// The roles a product approves automatically.
pub async fn auto_approve_roles(pool: &PgPool, slug: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        r#"select a.role from product_auto_approve a join products p on p.id = a.product_id
           where p.slug = $1 order by a.role"#,
    )
    .bind(slug)
    .fetch_all(pool)
    .await
}

/// Sets the roles a product approves automatically (owners of its domain, admins).
pub async fn set_auto_approve(
    pool: &PgPool,
    policy: &Policy,
    caller: &Caller,
    slug: &str,
    roles: &[String],
) -> Result<Vec<String>, SubscriptionError> {
    policy
        .authorize(caller, GLOBAL, Permission::ReadCatalog)
        .await?;
    let mut conn = pool.acquire().await?;
    let target = product(&mut conn, slug)
        .await?
        .ok_or(SubscriptionError::NotFound)?;
    drop(conn);
    policy
        .authorize(caller, &target.domain, Permission::ApproveSubscriptions)
        .await?;
    let wanted: BTreeSet<&str> = roles.iter().map(String::as_str).collect();
    if let Some(bad) = wanted
        .iter()
        .find(|r| !matches!(**r, "analyst" | "owner" | "admin"))
    {
        return Err(invalid(
            "roles",
            format!("unknown role `{bad}`; use analyst, owner or admin"),
        ));
    }
    let mut tx = pool.begin().await?;
    let before = auto_approve_roles_in(&mut tx, target.id).await?;
    sqlx::query("delete from product_auto_approve where product_id = $1")
        .bind(target.id)
        .execute(&mut *tx)
        .await?;
    for role in &wanted {
        sqlx::query("insert into product_auto_approve (product_id, role) values ($1, $2)")
            .bind(target.id)
            .bind(role)
            .execute(&mut *tx)
            .await?;
    }
    audit::record(
        &mut tx,
        Event::new(
            &caller.audit_actor(),
            "product.auto_approve",
            format!("product:{slug}"),
        )
        .in_domain(&target.domain)
        .before(json!({ "roles": before }))
        .after(json!({ "roles": wanted })),
    )
    .await?;
    tx.commit().await?;
    Ok(wanted.into_iter().map(str::to_string).collect())
}

async fn auto_approve_roles_in(
    conn: &mut PgConnection,
    product_id: Uuid,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("select role from product_auto_approve where product_id = $1 order by role")
        .bind(product_id)
        .fetch_all(conn)
        .await
}

/// The provisioner's view of a subscription: its state and principal.
pub async fn provisioning_state(
    pool: &PgPool,
    id: Uuid,
) -> Result<Option<(State, String)>, sqlx::Error> {
    sqlx::query_as::<_, (State, String)>("select state, principal from subscriptions where id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Locks a subscription row for the provisioner and says where `action` leads from its
/// stage: `None` when the row is gone or the action does not apply (it ended, or was
/// settled, meanwhile).
async fn lock_for_provisioner(
    conn: &mut PgConnection,
    id: Uuid,
    action: Action,
) -> Result<Option<Stage>, sqlx::Error> {
    let row = sqlx::query_as::<_, (State, Option<DateTime<Utc>>)>(
        "select state, access_removed_at from subscriptions where id = $1 for update",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.and_then(|(state, removed)| Stage::of(state, removed).after(action).ok()))
}

/// Records a failed provisioning attempt (the subscription shows `provisioning — attempt n,
/// last error …`).
pub async fn record_attempt_failed(
    pool: &PgPool,
    id: Uuid,
    attempt: i32,
    error: &str,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let Some(next) = lock_for_provisioner(&mut tx, id, Action::ProvisioningFailed).await? else {
        return Ok(());
    };
    sqlx::query(
        r#"update subscriptions
           set state = $2, provision_attempts = $3, last_error = $4, updated_at = now()
           where id = $1"#,
    )
    .bind(id)
    .bind(next.state.as_str())
    .bind(attempt)
    .bind(error)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Marks a subscription active once its ACLs are on the broker; false when it had ended
/// meanwhile (or was active already).
pub async fn record_active(pool: &PgPool, id: Uuid, attempt: i32) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let Some(next) = lock_for_provisioner(&mut tx, id, Action::Provisioned).await? else {
        return Ok(false);
    };
    sqlx::query(
        r#"update subscriptions set state = $2, activated_at = now(),
               provision_attempts = $3, last_error = null, updated_at = now()
           where id = $1"#,
    )
    .bind(id)
    .bind(next.state.as_str())
    .bind(attempt)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        Event::new(
            &Actor::system("provisioner"),
            "subscription.activate",
            format!("subscription:{id}"),
        )
        .after(json!({ "state": next.state, "attempts": attempt })),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Records that the broker holds none of an ended subscription's access any more (the
/// worker's sync for its principal succeeded). Returns whether this changed anything.
pub async fn record_access_removed(
    pool: &PgPool,
    id: Uuid,
    attempt: i32,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    if lock_for_provisioner(&mut tx, id, Action::AccessRemoved)
        .await?
        .is_none()
    {
        return Ok(false);
    }
    sqlx::query(
        r#"update subscriptions set access_removed_at = now(), provision_attempts = $2,
               last_error = null, updated_at = now()
           where id = $1"#,
    )
    .bind(id)
    .bind(attempt)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::{self, Part};

    #[sqlx::test(migrator = "crate::db::MIGRATOR")]
    async fn a_stored_state_outside_the_known_ones_is_an_error_not_pending(pool: PgPool) {
        demo::seed_parts(
            &pool,
            &[Part::Identities, Part::Catalog, Part::Subscriptions],
            false,
        )
        .await
        .expect("demo");
        let id: Uuid = sqlx::query_scalar("select id from subscriptions limit 1")
            .fetch_one(&pool)
            .await
            .expect("the demo subscription");
        assert!(
            provisioning_state(&pool, id)
                .await
                .expect("reads")
                .is_some()
        );

        sqlx::raw_sql(
            r#"alter table subscriptions drop constraint subscriptions_state_check;
               update subscriptions set state = 'paused'"#,
        )
        .execute(&pool)
        .await
        .expect("corrupt the row");
        assert!(
            matches!(
                provisioning_state(&pool, id).await,
                Err(sqlx::Error::ColumnDecode { .. })
            ),
            "an unknown state is an error the provisioner logs, not a missing subscription"
        );
        let mut conn = pool.acquire().await.expect("conn");
        assert!(load(&mut conn, id).await.is_err(), "nor read as pending");
    }
}
