//! Service accounts: non-human principals a domain owns (`User:svc-marketing-campaigns`),
//! used by stream jobs and consumer applications. Owners of the domain and admins manage
//! them; later, subscriptions can be requested for them.

use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::principals::{is_node_username, is_producer_name};
use super::{IdentityError, invalid};
use crate::db::Timestamp;
use crate::domains;

/// A domain's service account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct ServiceAccount {
    pub id: Uuid,
    pub domain: String,
    pub name: String,
    pub description: String,
    pub kafka_principal: String,
    pub disabled: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Creates a service account `name` in `domain`, principal `User:<name>`.
pub async fn create(
    conn: &mut PgConnection,
    domain: &str,
    name: &str,
    description: &str,
    created_by: Option<Uuid>,
) -> Result<ServiceAccount, IdentityError> {
    let name = name.trim();
    if !domains::is_valid_slug(name) {
        return Err(invalid(
            "name",
            "use lowercase letters, digits and single dashes, e.g. svc-marketing-campaigns",
        ));
    }
    if is_producer_name(name) {
        // Their credentials are derived by Meshmart (crate::producers); an account of the
        // same name would share, and could overwrite, a domain's producer credential.
        return Err(invalid(
            "name",
            "names like svc-<domain>-producer are reserved for the domains' producer principals",
        ));
    }
    if is_node_username(name) {
        return Err(invalid(
            "name",
            "names starting svc-node- are reserved for the principals of stream nodes",
        ));
    }
    if !domains::exists(&mut *conn, domain).await? {
        return Err(invalid("domain", format!("no domain `{domain}`")));
    }
    let account = sqlx::query_as!(
        ServiceAccount,
        r#"insert into service_accounts (domain, name, description, kafka_principal, created_by)
           values ($1, $2, $3, $4, $5)
           returning id, domain, name, description, kafka_principal, disabled,
                     created_at as "created_at: Timestamp""#,
        domain,
        name,
        description.trim(),
        format!("User:{name}"),
        created_by,
    )
    .fetch_one(conn)
    .await?;
    Ok(account)
}

/// The service accounts of one domain, or of all when `domain` is `None`.
pub async fn list(pool: &PgPool, domain: Option<&str>) -> Result<Vec<ServiceAccount>, sqlx::Error> {
    sqlx::query_as!(
        ServiceAccount,
        r#"select id, domain, name, description, kafka_principal, disabled,
                  created_at as "created_at: Timestamp"
           from service_accounts where $1::text is null or domain = $1 order by domain, name"#,
        domain,
    )
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn producer_principal_names_are_reserved() {
        assert!(is_producer_name("svc-sales-producer"));
        let principal = crate::producers::principal_of("customer-management");
        assert!(is_producer_name(crate::producers::username(&principal)));
        assert!(!is_producer_name("svc-marketing-campaigns"));
        assert!(!is_producer_name("svc-producer"));
        assert!(!is_producer_name("svc-sales-producers"));
        let node = crate::nodes::principal_of("customer-enrichment");
        assert!(crate::nodes::is_node_username(crate::producers::username(
            &node
        )));
        assert!(!crate::nodes::is_node_username("svc-marketing-campaigns"));
    }
}
