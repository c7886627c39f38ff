//! Administration: users, roles, service accounts, the effective policy and the audit log.
//! Everything here is for admins, except service accounts, which owners of their domain
//! manage too.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::ApiError;
#[cfg(feature = "ssr")]
use domain::policy::Permission;

/// A user row of the admin page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub kafka_principal: String,
    pub disabled: bool,
    /// (role, domain) pairs: ("admin", None), ("owner", Some("sales")), ("analyst", None).
    pub roles: Vec<(String, Option<String>)>,
}

/// A service account row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAccountRow {
    pub domain: String,
    pub name: String,
    pub description: String,
    pub kafka_principal: String,
}

/// One permission of the effective policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionRow {
    pub subject: String,
    pub domain: String,
    pub object: String,
    pub action: String,
}

/// One audit entry as the admin page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    pub id: i64,
    pub occurred_at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub domain: Option<String>,
    pub outcome: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

#[cfg(feature = "ssr")]
mod convert {
    use super::*;
    use domain::policy::Role;

    pub fn role_pair(role: &Role) -> (String, Option<String>) {
        match role {
            Role::Admin => ("admin".into(), None),
            Role::Analyst => ("analyst".into(), None),
            Role::Owner(domain) => ("owner".into(), Some(domain.clone())),
        }
    }

    pub fn parse_role(role: &str, domain: Option<String>) -> Result<Role, ApiError> {
        match (role, domain.filter(|d| !d.trim().is_empty())) {
            ("admin", _) => Ok(Role::Admin),
            ("analyst", _) => Ok(Role::Analyst),
            ("owner", Some(domain)) => Ok(Role::Owner(domain.trim().to_string())),
            ("owner", None) => Err(crate::ssr::unprocessable(
                "domain",
                "an owner role needs a domain",
            )),
            _ => Err(crate::ssr::unprocessable(
                "role",
                "must be admin, owner or analyst",
            )),
        }
    }

    pub fn parse_id(id: &str) -> Result<uuid::Uuid, ApiError> {
        id.parse()
            .map_err(|_| crate::ssr::unprocessable("id", "is not a user id"))
    }
}

/// Every user with their roles.
#[server(prefix = "/api/fn", endpoint = "admin_users")]
pub async fn list_users() -> Result<Vec<UserRow>, ApiError> {
    use crate::ssr::{authorize, internal, services};

    authorize(domain::policy::GLOBAL, Permission::ManageUsers).await?;
    let pool = services()?.pool;
    let users = domain::identity::users::list(&pool)
        .await
        .map_err(internal)?;
    let grants = domain::policy::grants(&pool).await.map_err(internal)?;
    Ok(users
        .into_iter()
        .map(|user| UserRow {
            roles: grants
                .iter()
                .filter(|(id, _)| *id == user.id)
                .map(|(_, role)| convert::role_pair(role))
                .collect(),
            id: user.id.to_string(),
            email: user.email,
            display_name: user.display_name,
            kafka_principal: user.kafka_principal,
            disabled: user.disabled,
        })
        .collect())
}

/// Creates a user (an analyst until given more roles).
#[server(prefix = "/api/fn", endpoint = "admin_create_user")]
pub async fn create_user(
    email: String,
    display_name: String,
    password: String,
    kafka_principal: Option<String>,
) -> Result<(), ApiError> {
    use crate::ssr::{authorize, error, internal, services};

    let admin = authorize(domain::policy::GLOBAL, Permission::ManageUsers).await?;
    let mut tx = services()?.pool.begin().await.map_err(internal)?;
    domain::accounts::create_user(
        &mut tx,
        &domain::audit::Actor::user(&admin),
        domain::identity::users::NewUser {
            email,
            display_name,
            password,
            kafka_principal,
        },
    )
    .await
    .map_err(error)?;
    tx.commit().await.map_err(internal)
}

/// Disables or re-enables a user.
#[server(prefix = "/api/fn", endpoint = "admin_set_disabled")]
pub async fn set_user_disabled(id: String, disabled: bool) -> Result<(), ApiError> {
    use crate::ssr::{authorize, error, internal, services};

    let admin = authorize(domain::policy::GLOBAL, Permission::ManageUsers).await?;
    let id = convert::parse_id(&id)?;
    if id == admin.id && disabled {
        return Err(crate::ssr::unprocessable(
            "id",
            "you cannot disable yourself",
        ));
    }
    let services = services()?;
    let mut tx = services.pool.begin().await.map_err(internal)?;
    domain::accounts::set_disabled(&mut tx, &domain::audit::Actor::user(&admin), id, disabled)
        .await
        .map_err(error)?;
    tx.commit().await.map_err(internal)?;
    // Their tokens stop working here at once; other processes hear of it from the trigger.
    services.tokens.forget_all();
    Ok(())
}

/// Sets a new password for a user.
#[server(prefix = "/api/fn", endpoint = "admin_reset_password")]
pub async fn reset_password(id: String, password: String) -> Result<(), ApiError> {
    use crate::ssr::{authorize, error, internal, services};

    let admin = authorize(domain::policy::GLOBAL, Permission::ManageUsers).await?;
    let id = convert::parse_id(&id)?;
    let mut tx = services()?.pool.begin().await.map_err(internal)?;
    domain::accounts::reset_password(&mut tx, &domain::audit::Actor::user(&admin), id, password)
        .await
        .map_err(error)?;
    tx.commit().await.map_err(internal)
}

/// Grants (`grant = true`) or revokes a role.
#[server(prefix = "/api/fn", endpoint = "admin_set_role")]
pub async fn set_role(
    id: String,
    role: String,
    domain: Option<String>,
    grant: bool,
) -> Result<(), ApiError> {
    use crate::ssr::{authorize, error, internal, services};

    let admin = authorize(domain::policy::GLOBAL, Permission::ManageRoles).await?;
    let id = convert::parse_id(&id)?;
    let role = convert::parse_role(&role, domain)?;
    let actor = domain::audit::Actor::user(&admin);
    let services = services()?;
    let mut tx = services.pool.begin().await.map_err(internal)?;
    if grant {
        domain::accounts::grant_role(&mut tx, &actor, id, &role).await
    } else {
        domain::accounts::revoke_role(&mut tx, &actor, id, &role).await
    }
    .map_err(error)?;
    tx.commit().await.map_err(internal)?;
    // Other processes reload on the NOTIFY; this one does not wait for it.
    services.policy.reload().await.map_err(internal)?;
    Ok(())
}

/// The mesh domains (for role and service-account forms).
#[server(prefix = "/api/fn", endpoint = "list_domains")]
pub async fn list_domains() -> Result<Vec<(String, String)>, ApiError> {
    use crate::ssr::{authorize, internal, services};

    authorize(domain::policy::GLOBAL, Permission::ReadCatalog).await?;
    let domains = domain::domains::list(&services()?.pool)
        .await
        .map_err(internal)?;
    Ok(domains.into_iter().map(|d| (d.slug, d.name)).collect())
}

/// Service accounts of every domain (admins).
#[server(prefix = "/api/fn", endpoint = "admin_service_accounts")]
pub async fn list_service_accounts() -> Result<Vec<ServiceAccountRow>, ApiError> {
    use crate::ssr::{authorize, internal, services};

    authorize(domain::policy::GLOBAL, Permission::ReadServiceAccounts).await?;
    let accounts = domain::identity::service_accounts::list(&services()?.pool, None)
        .await
        .map_err(internal)?;
    Ok(accounts
        .into_iter()
        .map(|a| ServiceAccountRow {
            domain: a.domain,
            name: a.name,
            description: a.description,
            kafka_principal: a.kafka_principal,
        })
        .collect())
}

/// Creates a service account in a domain (owners of that domain and admins).
#[server(prefix = "/api/fn", endpoint = "create_service_account")]
pub async fn create_service_account(
    domain: String,
    name: String,
    description: String,
) -> Result<(), ApiError> {
    use crate::ssr::{authorize, error, internal, services};

    let actor = authorize(&domain, Permission::ManageServiceAccounts).await?;
    let mut tx = services()?.pool.begin().await.map_err(internal)?;
    domain::accounts::create_service_account(
        &mut tx,
        &domain::audit::Actor::user(&actor),
        Some(actor.id),
        &domain,
        &name,
        &description,
    )
    .await
    .map_err(error)?;
    tx.commit().await.map_err(internal)
}

/// A service account's new SCRAM credential, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedCredentialView {
    pub principal: String,
    pub username: String,
    pub mechanism: String,
    pub password: String,
}

/// Creates (or rotates) the SCRAM-SHA-512 credential of a service account on the broker.
#[server(prefix = "/api/fn", endpoint = "issue_service_account_credential")]
pub async fn issue_service_account_credential(
    domain: String,
    name: String,
) -> Result<IssuedCredentialView, ApiError> {
    use crate::ssr::{authorize, caller, services};

    authorize(&domain, Permission::ManageServiceAccounts).await?;
    let services = services()?;
    let issued = domain::accounts::issue_scram_credential(
        &services.pool,
        &services.broker,
        &caller().audit_actor(),
        &domain,
        &name,
    )
    .await
    .map_err(crate::ssr::error)?;
    Ok(IssuedCredentialView {
        principal: issued.principal,
        username: issued.username,
        mechanism: issued.mechanism,
        password: issued.password,
    })
}

/// Every permission row of the policy (read-only).
#[server(prefix = "/api/fn", endpoint = "admin_policy")]
pub async fn effective_policy() -> Result<Vec<PermissionRow>, ApiError> {
    use crate::ssr::{authorize, internal, services};

    authorize(domain::policy::GLOBAL, Permission::ReadPolicy).await?;
    let rows = domain::policy::permissions(&services()?.pool)
        .await
        .map_err(internal)?;
    Ok(rows
        .into_iter()
        .map(|p| PermissionRow {
            subject: p.subject,
            domain: p.domain,
            object: p.object,
            action: p.action,
        })
        .collect())
}

/// Audit entries a page of the audit log shows at most.
pub const AUDIT_PAGE: usize = 100;

/// A page of the audit log: entries newest first, the id to read older ones from (when
/// there are), and the actions the log holds (for the filter's choice).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub rows: Vec<AuditRow>,
    pub older: Option<i64>,
    pub actions: Vec<String>,
}

/// Audit entries matching the filters, newest first, [`AUDIT_PAGE`] at a time: `before`
/// (an entry id) pages to older ones (keyset paging, as `GET /api/v1/audit?before_id=`).
#[server(prefix = "/api/fn", endpoint = "admin_audit")]
pub async fn search_audit(
    actor: Option<String>,
    action: Option<String>,
    target: Option<String>,
    from: Option<String>,
    to: Option<String>,
    before: Option<i64>,
) -> Result<AuditPage, ApiError> {
    use crate::ssr::{authorize, internal, services};

    authorize(domain::policy::GLOBAL, Permission::ReadAudit).await?;
    let filter = domain::audit::Filter {
        actor,
        action,
        target,
        from: parse_time("from", from.as_deref())?,
        to: parse_time("to", to.as_deref())?,
        before_id: before,
        // One more than a page: whether older entries exist.
        limit: Some(AUDIT_PAGE as i64 + 1),
    };
    let pool = services()?.pool;
    let mut entries = domain::audit::search(&pool, &filter)
        .await
        .map_err(internal)?;
    let older = (entries.len() > AUDIT_PAGE).then(|| {
        entries.truncate(AUDIT_PAGE);
        entries.last().map(|e| e.id)
    });
    let actions = domain::audit::actions(&pool).await.map_err(internal)?;
    let rows = entries
        .into_iter()
        .map(|e| AuditRow {
            id: e.id,
            occurred_at: crate::ssr::time::timestamp(e.occurred_at),
            actor: e.actor,
            action: e.action,
            target: e.target,
            domain: e.domain,
            outcome: e.outcome,
            before: e
                .before
                .map(|v| serde_json::to_string_pretty(&v).unwrap_or_default()),
            after: e
                .after
                .map(|v| serde_json::to_string_pretty(&v).unwrap_or_default()),
        })
        .collect();
    Ok(AuditPage {
        rows,
        older: older.flatten(),
        actions,
    })
}

/// Parses `2026-11-26`, `2026-11-26T10:00` or RFC 3339 into UTC.
#[cfg(feature = "ssr")]
pub fn parse_time(
    field: &str,
    value: Option<&str>,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M") {
        return Ok(Some(t.and_utc()));
    }
    if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()));
    }
    Err(crate::ssr::unprocessable(
        field,
        "use a date like 2026-11-26, 2026-11-26T10:00 or an RFC 3339 time",
    ))
}
