//! The demo data set behind `meshmart seed-demo` (demos only, never production). Each
//! context adds a named part here; a marker row per part makes `make run` load each part
//! once (so a database from before a new part gets just that part) and leaves later edits
//! by hand alone.

use sqlx::{PgConnection, PgPool};

pub mod catalog;
pub mod synthetic;

use crate::accounts;
use crate::identity::IdentityError;
use crate::identity::users::{self, NewUser};
use crate::policy::Role;

/// The password of every demo account (demos only).
pub const DEMO_PASSWORD: &str = "meshmart";

/// Demo service accounts: (domain, name, description).
const DEMO_SERVICE_ACCOUNTS: [(&str, &str, &str); 2] = [
    (
        "marketing",
        "svc-marketing-campaigns",
        "Campaign engine consuming enriched sign-ups",
    ),
    (
        "customer-management",
        "svc-enrichment",
        "Enrichment node producing EnrichedCustomerSignedUp",
    ),
];

/// What `seed` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeedOutcome {
    /// The demo data was loaded now.
    Loaded,
    /// It had been loaded before; nothing was changed.
    AlreadyPresent,
}

/// A named part of the demo data set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Identities,
    Catalog,
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Part::Identities => "identities",
            Part::Catalog => "catalog",
        }
    }
}

/// The parts of the demo data set, in the order they load.
const PARTS: [Part; 2] = [Part::Identities, Part::Catalog];

/// Loads every part of the demo data set not loaded before (every part, with `force`).
#[tracing::instrument(skip(pool))]
pub async fn seed(pool: &PgPool, force: bool) -> Result<SeedOutcome, sqlx::Error> {
    seed_parts(pool, &PARTS, force).await
}

/// Loads only some parts (tests that need people but not 150 products and their topics).
pub async fn seed_parts(
    pool: &PgPool,
    parts: &[Part],
    force: bool,
) -> Result<SeedOutcome, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut loaded = false;
    for &part in parts {
        let fresh = sqlx::query(
            r#"insert into demo_seed (name) values ($1)
               on conflict (name) do update set updated_at = now()
               where $2
               returning name"#,
        )
        .bind(part.name())
        .bind(force)
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
        if !fresh {
            continue;
        }
        loaded = true;
        match part {
            Part::Identities => seed_identities(&mut tx)
                .await
                .map_err(|error| match error {
                    IdentityError::Database(error) => error,
                    other => sqlx::Error::Protocol(format!("demo identities: {other}")),
                })?,
            Part::Catalog => seed_catalog(&mut tx).await?,
        }
    }
    tx.commit().await?;
    Ok(if loaded {
        SeedOutcome::Loaded
    } else {
        SeedOutcome::AlreadyPresent
    })
}

/// The demo catalog, registered like any contract push (versions, outbox, audit).
async fn seed_catalog(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    use crate::catalog::{CatalogError, RegisterOptions, register};
    use crate::contracts::Contract;

    // Databases seeded before the catalog existed have fewer domains: add the rest with
    // their names and descriptions before products land in them.
    catalog::upsert_domains(&mut *conn).await?;
    let options = RegisterOptions {
        may_create_domain: true,
        ..RegisterOptions::default()
    };
    for document in catalog::contracts() {
        let contract = Contract::from_document(document).map_err(|problems| {
            sqlx::Error::Protocol(format!("demo contract does not map: {problems:?}"))
        })?;
        match register(&mut *conn, "seed-demo", &contract, &options).await {
            Ok(_) => {}
            Err(CatalogError::Database(error)) => return Err(error),
            Err(other) => {
                return Err(sqlx::Error::Protocol(format!(
                    "demo product {}: {other}",
                    contract.slug
                )));
            }
        }
    }
    Ok(())
}

/// Demo domains, people (admin, an owner per domain, analysts) and service accounts.
async fn seed_identities(conn: &mut PgConnection) -> Result<(), IdentityError> {
    const ACTOR: &str = "seed-demo";
    catalog::upsert_domains(&mut *conn).await?;
    let mut people = vec![(
        "admin@meshmart.local".to_string(),
        "Ada Admin".to_string(),
        Some(Role::Admin),
    )];
    for (slug, name, _) in catalog::DOMAINS {
        people.push((
            format!("owner.{slug}@meshmart.local"),
            format!("{name} Owner"),
            Some(Role::Owner(slug.to_string())),
        ));
    }
    for n in 1..=3 {
        people.push((
            format!("analyst{n}@meshmart.local"),
            format!("Analyst {n}"),
            None,
        ));
    }
    for (email, display_name, role) in people {
        let user = match users::find_by_email(&mut *conn, &email).await? {
            Some(user) => user,
            None => {
                accounts::create_user(
                    &mut *conn,
                    ACTOR,
                    NewUser {
                        email,
                        display_name,
                        password: DEMO_PASSWORD.to_string(),
                        kafka_principal: None,
                    },
                )
                .await?
            }
        };
        if let Some(role) = role {
            accounts::grant_role(&mut *conn, ACTOR, user.id, &role).await?;
        }
    }
    for (domain, name, description) in DEMO_SERVICE_ACCOUNTS {
        let exists = sqlx::query_scalar::<_, bool>(
            "select exists (select 1 from service_accounts where name = $1)",
        )
        .bind(name)
        .fetch_one(&mut *conn)
        .await?;
        if !exists {
            accounts::create_service_account(&mut *conn, ACTOR, None, domain, name, description)
                .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[sqlx::test(migrator = "crate::db::MIGRATOR")]
    async fn demo_data_loads_once_unless_forced(pool: PgPool) {
        assert_eq!(seed(&pool, false).await.expect("seed"), SeedOutcome::Loaded);
        assert_eq!(
            seed(&pool, false).await.expect("seed again"),
            SeedOutcome::AlreadyPresent
        );
        assert_eq!(
            seed(&pool, true).await.expect("forced"),
            SeedOutcome::Loaded
        );
    }
}
