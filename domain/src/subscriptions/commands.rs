//! The subscription workflow's changes: request, approve, reject, revoke, end, expire,
//! warn before expiry, and auto-approval settings. Each change is one transaction with its
//! audit row, its Casbin rows and, when broker ACLs must follow, its outbox row; the rules
//! of which change may happen when are `lifecycle`'s.

use std::collections::BTreeSet;

use chrono::{Duration, Utc};
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::queries::principal_choices;
use super::store::{
    EXPIRY_WARNING_DAYS, auto_approve_roles_in, grant, live_of, load, lock_for, lock_principal,
    sync_acls, ungrant,
};
use super::{
    Action, Request, Stage, State, Subscription, SubscriptionError, check_group, default_group,
    invalid, max_days,
};
use crate::audit::{self, Actor, Event};
use crate::db::Timestamp;
use crate::identity::{Caller, User};
use crate::outbox;
use crate::policy::Permission;
use crate::policy::{self, GLOBAL, Policy, Role};

struct Target {
    id: Uuid,
    domain: String,
    status: String,
    topics: Vec<String>,
    contract: serde_json::Value,
}

async fn product(conn: &mut PgConnection, slug: &str) -> Result<Option<Target>, sqlx::Error> {
    let row = sqlx::query!(
        r#"select p.id, p.domain, p.status, v.document
           from products p join contract_versions v
             on v.product_id = p.id and v.version = p.current_version
           where p.slug = $1"#,
        slug
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let (id, domain, status, contract) = (row.id, row.domain, row.status, row.document);
    let topics = sqlx::query_scalar!(
        "select topic from output_ports where product_id = $1 order by topic",
        id
    )
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
    let inserted = sqlx::query_scalar!(
        r#"insert into subscriptions (product_id, principal, team, requested_by, consumer_group,
                                      purpose, until)
           values ($1, $2, $3, $4, $5, $6, $7) returning id"#,
        target.id,
        principal,
        choice.team,
        user.id,
        group,
        purpose,
        // A type override: the macros would expect the `time` crate's type (see `Timestamp`).
        until as Option<Timestamp>,
    )
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
    let ports: Vec<&str> = topics.iter().map(String::as_str).collect();
    sqlx::query!(
        "insert into subscription_ports (subscription_id, topic) select $1, unnest($2::text[])",
        id,
        &ports as &[&str],
    )
    .execute(&mut *tx)
    .await?;
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
    committed(pool, id).await
}

/// The first of the requester's roles that the product approves automatically.
async fn auto_approval(
    pool: &PgPool,
    user: &User,
    product_id: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    let roles: Vec<String> = sqlx::query_scalar!(
        "select role from product_auto_approve where product_id = $1 order by role",
        product_id
    )
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
    sqlx::query!(
        r#"update subscriptions set state = $2, decided_by = $3, decided_at = now(),
               decision_comment = $4, ended_at = case when $2 = 'rejected' then now() end,
               updated_at = now()
           where id = $1"#,
        id,
        state.as_str(),
        decided_by,
        comment,
    )
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
    committed(pool, id).await
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
    committed(pool, id).await
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
    let live: Vec<Uuid> = sqlx::query_scalar!(
        r#"select id from subscriptions
           where principal = $1 and state in ('pending', 'approved', 'provisioning', 'active')
           order by id
           for update"#,
        principal
    )
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
    sqlx::query!(
        r#"update subscriptions set state = $2, ended_at = now(), ended_by = $3,
               decision_comment = coalesce($4, decision_comment),
               access_removed_at = case when $5 then null else now() end,
               provision_attempts = case when $5 then 0 else provision_attempts end,
               last_error = null, updated_at = now()
           where id = $1"#,
        subscription.id,
        state.as_str(),
        actor.to_string(),
        comment,
        next.removing_access,
    )
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
        sqlx::query!(
            r#"insert into notifications (user_id, kind, message, link)
               select s.requested_by, 'subscription.expired',
                      format($2, s.principal, p.name,
                             to_char(coalesce(s.until, now()) at time zone 'UTC',
                                     'YYYY-MM-DD HH24:MI "UTC"')),
                      '/subscriptions#' || s.id
               from subscriptions s join products p on p.id = s.product_id
               where s.id = $1"#,
            subscription.id,
            message,
        )
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
    let due: Vec<Uuid> = sqlx::query_scalar!(
        r#"select id from subscriptions
           where until <= now() and state in ('pending', 'approved', 'provisioning', 'active')"#,
    )
    .fetch_all(pool)
    .await?;
    let mut ended = 0;
    for id in due {
        let mut tx = pool.begin().await?;
        sqlx::query!("select id from subscriptions where id = $1 for update", id)
            .fetch_optional(&mut *tx)
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
    let done = sqlx::query!(
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
        EXPIRY_WARNING_DAYS as i32,
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
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
    sqlx::query!(
        "delete from product_auto_approve where product_id = $1",
        target.id
    )
    .execute(&mut *tx)
    .await?;
    let roles: Vec<&str> = wanted.iter().copied().collect();
    sqlx::query!(
        "insert into product_auto_approve (product_id, role) select $1, unnest($2::text[])",
        target.id,
        &roles as &[&str],
    )
    .execute(&mut *tx)
    .await?;
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

/// The subscription as a change just committed it.
async fn committed(pool: &PgPool, id: Uuid) -> Result<Subscription, SubscriptionError> {
    let mut conn = pool.acquire().await?;
    load(&mut conn, id)
        .await?
        .ok_or(SubscriptionError::NotFound)
}
