//! Server functions of the subscription workflow in the browser: the request form on a
//! product page, "My subscriptions" (state, connection details, revoke), the approvals
//! inbox (approve or reject with a comment) and a product's auto-approval roles.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::ApiError;
#[cfg(feature = "ssr")]
use domain::policy::Permission;

/// Connection details of an active subscription.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionView {
    pub bootstrap_servers: String,
    pub group_prefix: String,
    pub group_example: String,
    pub principal: String,
    pub password_hint: String,
    pub registry_url: String,
    pub librdkafka: String,
    pub java: String,
    pub kcat: String,
}

/// A subscription as the pages show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionView {
    pub id: String,
    pub product: String,
    pub product_name: String,
    pub domain: String,
    pub topics: Vec<String>,
    pub principal: String,
    pub team: Option<String>,
    pub consumer_group: String,
    pub purpose: String,
    pub state: String,
    pub until: Option<String>,
    pub requested_by: String,
    pub requested_at: String,
    pub decided_by: Option<String>,
    pub decision_comment: Option<String>,
    pub provision_attempts: i32,
    pub last_error: Option<String>,
    /// Ended, with its ACLs not yet confirmed gone from the broker.
    pub removing_access: bool,
    pub connection: Option<ConnectionView>,
}

/// A principal the form offers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalOption {
    pub principal: String,
    pub label: String,
}

/// What the request form on a product page needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestForm {
    pub product: String,
    pub ports: Vec<String>,
    pub principals: Vec<PrincipalOption>,
    pub default_group: String,
    /// The contract's cap on the length, in days.
    pub max_days: Option<i64>,
    /// The caller's live subscription to this product, if any (id, state).
    pub existing: Option<(String, String)>,
    /// Whether the caller decides requests for this product (and so sets auto-approval).
    pub can_decide: bool,
    pub auto_approve: Vec<String>,
}

/// An in-app notification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationView {
    pub id: i64,
    pub message: String,
    pub link: Option<String>,
    pub created_at: String,
}

#[cfg(feature = "ssr")]
mod ssr {
    use domain::subscriptions::Subscription;
    use http::StatusCode;

    use super::*;
    use crate::ssr::time::timestamp;
    use crate::ssr::{fail, services};

    pub fn view(subscription: Subscription) -> Result<SubscriptionView, ApiError> {
        let removing_access = subscription.removing_access();
        let connection = services()?
            .clients
            .connection(&subscription)
            .map(|c| ConnectionView {
                bootstrap_servers: c.bootstrap_servers,
                group_prefix: c.group_prefix,
                group_example: c.group_example,
                principal: c.principal,
                password_hint: c.password_hint,
                registry_url: c.registry_url,
                librdkafka: c.librdkafka,
                java: c.java,
                kcat: c.kcat,
            });
        Ok(SubscriptionView {
            id: subscription.id.to_string(),
            product: subscription.product,
            product_name: subscription.product_name,
            domain: subscription.domain,
            topics: subscription.topics,
            principal: subscription.principal,
            team: subscription.team,
            consumer_group: subscription.consumer_group,
            purpose: subscription.purpose,
            state: subscription.state.as_str().to_string(),
            until: subscription.until.map(timestamp),
            requested_by: subscription.requested_by,
            requested_at: timestamp(subscription.requested_at),
            decided_by: subscription.decided_by,
            decision_comment: subscription.decision_comment,
            removing_access,
            provision_attempts: subscription.provision_attempts,
            last_error: subscription.last_error,
            connection,
        })
    }

    /// A time as the replay form sends it: an RFC 3339 time or `earliest` as they are, and a
    /// `datetime-local` value (`2026-12-05T01:00`, no zone; the form says UTC) read as UTC.
    pub fn replay_point(text: &str) -> String {
        let text = text.trim();
        let local = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
            .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"));
        match local {
            Ok(at) => at.and_utc().to_rfc3339(),
            Err(_) => text.to_string(),
        }
    }

    pub fn id(text: &str) -> Result<uuid::Uuid, ApiError> {
        text.parse()
            .map_err(|_| fail(StatusCode::NOT_FOUND, ApiError::NotFound))
    }
}

/// The request form of the product `slug`.
#[server(prefix = "/api/fn", endpoint = "subscription_form")]
pub async fn subscription_form(slug: String) -> Result<RequestForm, ApiError> {
    use crate::ssr::{authorize, fail, internal, services};
    use domain::subscriptions;

    let user = authorize(domain::policy::GLOBAL, Permission::ReadCatalog).await?;
    let services = services()?;
    let pool = &services.pool;
    let Some(detail) = crate::ssr::product(&slug).await? else {
        return Err(fail(http::StatusCode::NOT_FOUND, ApiError::NotFound));
    };
    let principals = subscriptions::principal_choices(pool, &services.policy, &user)
        .await
        .map_err(internal)?
        .into_iter()
        .map(|c| PrincipalOption {
            principal: c.principal,
            label: c.label,
        })
        .collect();
    let facts = subscriptions::form_facts(pool, &slug, &user.kafka_principal)
        .await
        .map_err(internal)?
        .ok_or_else(|| fail(http::StatusCode::NOT_FOUND, ApiError::NotFound))?;
    let can_decide = services
        .policy
        .allows(
            &user,
            &detail.summary.domain,
            Permission::ApproveSubscriptions,
        )
        .await;
    Ok(RequestForm {
        product: slug.clone(),
        ports: detail.ports.into_iter().map(|p| p.topic).collect(),
        principals,
        default_group: subscriptions::default_group(&user.kafka_principal),
        max_days: facts.max_days,
        existing: facts
            .live
            .map(|(id, state)| (id.to_string(), state.as_str().to_string())),
        can_decide,
        auto_approve: facts.auto_approve,
    })
}

/// Requests access to `product` (one port, or all when `port` is empty).
#[server(prefix = "/api/fn", endpoint = "request_access")]
pub async fn request_access(
    product: String,
    port: Option<String>,
    principal: Option<String>,
    group: Option<String>,
    purpose: String,
    until: Option<String>,
) -> Result<SubscriptionView, ApiError> {
    use crate::ssr::{caller, services, unprocessable};

    let services = services()?;
    let until = match until.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        None => None,
        Some(text) => {
            let day = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| unprocessable("until", "use a date like 2027-01-31"))?;
            // Access lasts to the end of that day (UTC).
            day.and_hms_opt(23, 59, 59).map(|t| t.and_utc())
        }
    };
    let request = domain::subscriptions::Request {
        product,
        ports: port
            .filter(|p| !p.trim().is_empty())
            .map(|p| vec![p.trim().to_string()]),
        principal,
        group,
        purpose,
        until,
    };
    let created =
        domain::subscriptions::request(&services.pool, &services.policy, &caller(), &request)
            .await
            .map_err(crate::ssr::error)?;
    ssr::view(created)
}

/// The caller's own subscriptions, newest first, and their unread notifications.
#[server(prefix = "/api/fn", endpoint = "my_subscriptions")]
pub async fn my_subscriptions() -> Result<(Vec<SubscriptionView>, Vec<NotificationView>), ApiError>
{
    use crate::ssr::{authorize, caller, internal, services};

    let user = authorize(domain::policy::GLOBAL, Permission::ReadCatalog).await?;
    let services = services()?;
    let filter = domain::subscriptions::ListFilter {
        mine: true,
        ..Default::default()
    };
    let items = domain::subscriptions::list(&services.pool, &services.policy, &caller(), &filter)
        .await
        .map_err(crate::ssr::error)?
        .into_iter()
        .map(ssr::view)
        .collect::<Result<Vec<_>, _>>()?;
    let notes = domain::subscriptions::notifications(&services.pool, &user)
        .await
        .map_err(internal)?
        .into_iter()
        .map(|n| NotificationView {
            id: n.id,
            message: n.message,
            link: n.link,
            created_at: crate::ssr::time::timestamp(n.created_at),
        })
        .collect();
    Ok((items, notes))
}

/// Marks the notifications `ids` (comma-separated, as the page lists them) of the caller
/// read; returns how many were unread. Notifications the page did not show stay unread.
#[server(prefix = "/api/fn", endpoint = "mark_notifications_read")]
pub async fn mark_notifications_read(ids: String) -> Result<u64, ApiError> {
    use crate::ssr::{authorize, internal, services, unprocessable};

    let user = authorize(domain::policy::GLOBAL, Permission::ReadCatalog).await?;
    let ids = ids
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(str::parse::<i64>)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| unprocessable("ids", "must be notification ids separated by commas"))?;
    let services = services()?;
    domain::subscriptions::mark_notifications_read(&services.pool, &user, &ids)
        .await
        .map_err(internal)
}

/// Requests the caller decides (pending first, then the latest decided), for `/approvals`.
#[server(prefix = "/api/fn", endpoint = "approvals")]
pub async fn approvals() -> Result<Vec<SubscriptionView>, ApiError> {
    use crate::ssr::{caller, services};

    let services = services()?;
    let filter = domain::subscriptions::ListFilter {
        to_decide: true,
        ..Default::default()
    };
    let mut items =
        domain::subscriptions::list(&services.pool, &services.policy, &caller(), &filter)
            .await
            .map_err(crate::ssr::error)?;
    // Pending first; the rest keep newest-first order.
    items.sort_by_key(|s| s.state != domain::subscriptions::State::Pending);
    items.truncate(200);
    items.into_iter().map(ssr::view).collect()
}

/// Approves or rejects a pending request (`decision` is `approve` or `reject`).
#[server(prefix = "/api/fn", endpoint = "decide_subscription")]
pub async fn decide_subscription(
    id: String,
    decision: String,
    comment: Option<String>,
) -> Result<SubscriptionView, ApiError> {
    use crate::ssr::{caller, services, unprocessable};

    let services = services()?;
    let id = ssr::id(&id)?;
    let comment = comment.as_deref();
    let done = match decision.as_str() {
        "approve" => {
            domain::subscriptions::approve(&services.pool, &services.policy, &caller(), id, comment)
                .await
        }
        "reject" => {
            domain::subscriptions::reject(&services.pool, &services.policy, &caller(), id, comment)
                .await
        }
        _ => return Err(unprocessable("decision", "approve or reject")),
    }
    .map_err(crate::ssr::error)?;
    ssr::view(done)
}

/// Ends a subscription (its requester, or an owner of the product's domain, or an admin).
#[server(prefix = "/api/fn", endpoint = "revoke_subscription")]
pub async fn revoke_subscription(
    id: String,
    comment: Option<String>,
) -> Result<SubscriptionView, ApiError> {
    use crate::ssr::{caller, services};

    let services = services()?;
    let done = domain::subscriptions::revoke(
        &services.pool,
        &services.policy,
        &caller(),
        ssr::id(&id)?,
        comment.as_deref(),
    )
    .await
    .map_err(crate::ssr::error)?;
    ssr::view(done)
}

/// Moves one of a subscription's consumer groups back to a time or to the oldest record
/// kept (its requester, an owner of the product's domain, an admin); what happened.
#[server(prefix = "/api/fn", endpoint = "replay_subscription")]
pub async fn replay_subscription(
    id: String,
    group: String,
    to: String,
) -> Result<String, ApiError> {
    use crate::ssr::{caller, services};

    let services = services()?;
    let request = domain::subscriptions::ReplayRequest {
        group,
        to: ssr::replay_point(&to),
    };
    let done = domain::subscriptions::replay(
        &services.pool,
        &services.policy,
        &services.broker,
        &caller(),
        ssr::id(&id)?,
        &request,
    )
    .await
    .map_err(crate::ssr::error)?;
    Ok(done.message)
}

/// Sets which requesters' roles the product `slug` approves automatically.
#[server(prefix = "/api/fn", endpoint = "set_auto_approve")]
pub async fn set_auto_approve(
    slug: String,
    analyst: Option<String>,
    owner: Option<String>,
    admin: Option<String>,
) -> Result<Vec<String>, ApiError> {
    use crate::ssr::{caller, services};

    let services = services()?;
    let roles: Vec<String> = [("analyst", analyst), ("owner", owner), ("admin", admin)]
        .into_iter()
        .filter(|(_, on)| on.is_some())
        .map(|(role, _)| role.to_string())
        .collect();
    domain::subscriptions::set_auto_approve(
        &services.pool,
        &services.policy,
        &caller(),
        &slug,
        &roles,
    )
    .await
    .map_err(crate::ssr::error)
}
