//! Roles people hold: admin, owner of a domain, analyst. They are Casbin grouping (`g`)
//! rows of `casbin_rule`, written in the caller's transaction; `crate::policy` loads them
//! with the permission rows and decides. Identity owns who holds what, so creating a user
//! can make them an analyst without knowing the policy engine.

use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// The request domain for actions that belong to no mesh domain.
pub const GLOBAL: &str = "*";

/// A role a user can hold.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "role", content = "domain", rename_all = "lowercase")]
pub enum Role {
    Admin,
    Owner(String),
    Analyst,
}

impl Role {
    pub(crate) fn subject(&self) -> &'static str {
        match self {
            Role::Admin => "role:admin",
            Role::Owner(_) => "role:owner",
            Role::Analyst => "role:analyst",
        }
    }

    pub(crate) fn domain(&self) -> &str {
        match self {
            Role::Owner(domain) => domain,
            Role::Admin | Role::Analyst => GLOBAL,
        }
    }

    pub(crate) fn from_row(subject: &str, domain: &str) -> Option<Role> {
        match subject {
            "role:admin" => Some(Role::Admin),
            "role:analyst" => Some(Role::Analyst),
            "role:owner" if domain != GLOBAL => Some(Role::Owner(domain.to_string())),
            _ => None,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Role::Admin => write!(f, "admin"),
            Role::Owner(domain) => write!(f, "owner of {domain}"),
            Role::Analyst => write!(f, "analyst"),
        }
    }
}

pub(crate) fn user_subject(id: Uuid) -> String {
    format!("user:{id}")
}

/// Grants `role` to the user; `false` when it was already held.
pub async fn grant(
    conn: &mut PgConnection,
    user_id: Uuid,
    role: &Role,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query!(
        r#"insert into casbin_rule (ptype, v0, v1, v2, v3, v4, v5)
           values ('g', $1, $2, $3, '', '', '')
           on conflict on constraint unique_key_sqlx_adapter do nothing"#,
        user_subject(user_id),
        role.subject(),
        role.domain(),
    )
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Takes `role` from the user; `false` when it was not held.
pub async fn revoke(
    conn: &mut PgConnection,
    user_id: Uuid,
    role: &Role,
) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query!(
        r#"delete from casbin_rule where ptype = 'g' and v0 = $1 and v1 = $2 and v2 = $3"#,
        user_subject(user_id),
        role.subject(),
        role.domain(),
    )
    .execute(conn)
    .await?;
    Ok(deleted.rows_affected() > 0)
}

/// The roles each user holds, keyed by user id.
pub async fn grants(pool: &PgPool) -> Result<Vec<(Uuid, Role)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select v0 as subject, v1 as role, v2 as domain from casbin_rule
           where ptype = 'g' and v0 like 'user:%'
           order by v0, v1, v2"#,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let id = row.subject.strip_prefix("user:")?.parse().ok()?;
            Some((id, Role::from_row(&row.role, &row.domain)?))
        })
        .collect())
}

/// The roles one user holds.
pub async fn roles_of(pool: &PgPool, user_id: Uuid) -> Result<Vec<Role>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select v1 as role, v2 as domain from casbin_rule
           where ptype = 'g' and v0 = $1 order by v1, v2"#,
        user_subject(user_id),
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| Role::from_row(&row.role, &row.domain))
        .collect())
}
