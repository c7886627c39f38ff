//! The demo data set behind `meshmart seed-demo` (demos only, never production). Each
//! context adds a named part here; a marker row per part makes `make run` load each part
//! once (so a database from before a new part gets just that part) and leaves later edits
//! by hand alone.

use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};

pub mod catalog;
pub mod lineage;
pub mod synthetic;
pub mod training;

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
    /// The lineage demo contracts declare (`inputPorts`), for databases whose catalog was
    /// loaded before the demo declared it (a no-op on a fresh one).
    Lineage,
    /// The marketing campaign engine's subscription to `EnrichedCustomerSignedUp`, the end
    /// of the demo flow (needs the identities and the catalog).
    Subscriptions,
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Part::Identities => "identities",
            Part::Catalog => "catalog",
            Part::Lineage => "lineage",
            Part::Subscriptions => "subscriptions",
        }
    }
}

/// The parts of the demo data set, in the order they load.
const PARTS: [Part; 4] = [
    Part::Identities,
    Part::Catalog,
    Part::Lineage,
    Part::Subscriptions,
];

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
    for &part in parts.iter().filter(|p| **p != Part::Subscriptions) {
        let fresh = sqlx::query!(
            r#"insert into demo_seed (name) values ($1)
               on conflict (name) do update set updated_at = now()
               where $2
               returning name"#,
            part.name(),
            force,
        )
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
            Part::Catalog => seed_catalog(&mut tx, false).await?,
            Part::Lineage => seed_catalog(&mut tx, true).await?,
            Part::Subscriptions => {}
        }
    }
    tx.commit().await?;
    // Subscriptions go through the subscription workflow, which commits on its own; the
    // marker is written once they are in (a rerun after a crash finds them and goes on).
    if parts.contains(&Part::Subscriptions) {
        let done = sqlx::query_scalar!(
            r#"select exists (select 1 from demo_seed where name = $1) as "done!""#,
            Part::Subscriptions.name(),
        )
        .fetch_one(pool)
        .await?;
        if !done || force {
            seed_subscriptions(pool).await?;
            sqlx::query!(
                r#"insert into demo_seed (name) values ($1)
                   on conflict (name) do update set updated_at = now()"#,
                Part::Subscriptions.name(),
            )
            .execute(pool)
            .await?;
            loaded = true;
        }
    }
    Ok(if loaded {
        SeedOutcome::Loaded
    } else {
        SeedOutcome::AlreadyPresent
    })
}

/// The demo catalog, registered like any contract push (versions, outbox, audit); with
/// `declaring_only`, just the contracts that declare lineage.
async fn seed_catalog(conn: &mut PgConnection, declaring_only: bool) -> Result<(), sqlx::Error> {
    // Databases seeded before the catalog existed have fewer domains: add the rest with
    // their names and descriptions before products land in them.
    catalog::upsert_domains(&mut *conn).await?;
    for document in catalog::contracts() {
        if declaring_only && document.get("customProperties").is_none() {
            continue;
        }
        publish_demo(&mut *conn, document).await?;
    }
    Ok(())
}

/// Registers a demo contract. When another demo document already holds its version (a
/// database seeded before the demo changed), it is published as the next minor version
/// instead, unless the published document says the same.
async fn publish_demo(conn: &mut PgConnection, mut document: Value) -> Result<(), sqlx::Error> {
    use crate::catalog::{CatalogError, RegisterOptions, register};
    use crate::contracts::Contract;

    let options = RegisterOptions {
        may_create_domain: true,
        ..RegisterOptions::default()
    };
    let map = |document: Value| {
        Contract::from_document(document).map_err(|problems| {
            sqlx::Error::Protocol(format!("demo contract does not map: {problems:?}"))
        })
    };
    let failed = |slug: &str, error: CatalogError| match error {
        CatalogError::Database(error) => error,
        other => sqlx::Error::Protocol(format!("demo product {slug}: {other}")),
    };
    let contract = map(document.clone())?;
    match register(
        &mut *conn,
        &crate::audit::Actor::SeedDemo,
        &contract,
        &options,
    )
    .await
    {
        Ok(_) => Ok(()),
        Err(CatalogError::Conflict(message)) => {
            let published = sqlx::query!(
                r#"select v.version, v.document
                   from products p join contract_versions v
                     on v.product_id = p.id and v.version = p.current_version
                   where p.slug = $1"#,
                contract.slug,
            )
            .fetch_optional(&mut *conn)
            .await?
            .map(|row| (row.version, row.document));
            let Some((current, mut published)) = published else {
                return Err(failed(&contract.slug, CatalogError::Conflict(message)));
            };
            let version = semver::Version::parse(&current)
                .map_err(|_| failed(&contract.slug, CatalogError::Conflict(message.clone())))?;
            published["version"] = document["version"].clone();
            if published == document {
                return Ok(());
            }
            document["version"] = json!(format!("{}.{}.0", version.major, version.minor + 1));
            let newer = map(document)?;
            register(&mut *conn, &crate::audit::Actor::SeedDemo, &newer, &options)
                .await
                .map(|_| ())
                .map_err(|error| failed(&newer.slug, error))
        }
        Err(other) => Err(failed(&contract.slug, other)),
    }
}

/// The demo flow's last hop: the owner of marketing asks for its campaign engine's
/// service account to read `EnrichedCustomerSignedUp`, and the owner of
/// customer-intelligence approves — the same path as in the browser, so the Casbin rows
/// and the `acl.sync` outbox row make the provisioner create the broker ACLs.
async fn seed_subscriptions(pool: &PgPool) -> Result<(), sqlx::Error> {
    use crate::identity::{Caller, Via};
    use crate::policy::Policy;
    use crate::subscriptions::{self, Request, SubscriptionError};

    fn failed(error: SubscriptionError) -> sqlx::Error {
        match error {
            SubscriptionError::Database(error) => error,
            other => sqlx::Error::Protocol(format!("demo subscription: {other}")),
        }
    }
    let caller = |email: &str| {
        let email = email.to_string();
        async move {
            let user = users::find_by_email(pool, &email).await?.ok_or_else(|| {
                sqlx::Error::Protocol(format!("demo subscription: no user {email}"))
            })?;
            Ok::<_, sqlx::Error>(Caller::User {
                user,
                via: Via::Session,
            })
        }
    };
    let policy = Policy::load(pool)
        .await
        .map_err(|error| sqlx::Error::Protocol(format!("demo subscription: {error}")))?;
    let requester = caller("owner.marketing@meshmart.local").await?;
    let approver = caller("owner.customer-intelligence@meshmart.local").await?;
    let request = Request {
        product: "enriched-customer-signed-up".to_string(),
        principal: Some("User:svc-marketing-campaigns".to_string()),
        purpose: "Campaign engine: welcome journeys and audiences for new customers".to_string(),
        ..Request::default()
    };
    let pending = match subscriptions::request(pool, &policy, &requester, &request).await {
        Ok(created) if created.state == subscriptions::State::Pending => Some(created.id),
        Ok(_) => None,
        Err(SubscriptionError::Duplicate { id, state, .. }) => {
            (state == crate::subscriptions::State::Pending).then_some(id)
        }
        Err(error) => return Err(failed(error)),
    };
    if let Some(id) = pending {
        subscriptions::approve(
            pool,
            &policy,
            &approver,
            id,
            Some("demo: the campaign engine reads enriched sign-ups"),
        )
        .await
        .map_err(failed)?;
    }
    Ok(())
}

/// Demo domains, people (admin, an owner per domain, analysts) and service accounts.
async fn seed_identities(conn: &mut PgConnection) -> Result<(), IdentityError> {
    const ACTOR: &crate::audit::Actor = &crate::audit::Actor::SeedDemo;
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
        let exists = sqlx::query_scalar!(
            r#"select exists (select 1 from service_accounts where name = $1) as "exists!""#,
            name,
        )
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

    #[sqlx::test(migrator = "crate::db::MIGRATOR")]
    async fn a_catalog_seeded_before_lineage_gets_it_as_a_new_version(pool: PgPool) {
        seed_parts(&pool, &[Part::Identities], false)
            .await
            .expect("identities");
        let mut old = catalog::contracts()
            .into_iter()
            .find(|d| d["dataProduct"] == "enriched-customer-signed-up")
            .expect("demo contract");
        old.as_object_mut()
            .expect("document")
            .remove("customProperties");
        let mut tx = pool.begin().await.expect("tx");
        publish_demo(&mut tx, old).await.expect("the old document");
        tx.commit().await.expect("commit");

        assert_eq!(seed(&pool, false).await.expect("seed"), SeedOutcome::Loaded);
        let up = crate::lineage::graph(
            &pool,
            "enriched-customer-signed-up",
            crate::lineage::Direction::Up,
            2,
        )
        .await
        .expect("graph");
        assert!(
            up.nodes
                .iter()
                .any(|n| n.id == "port:customer-management.customer-signed-up.v1"),
            "{up:?}"
        );
        let versions = || async {
            sqlx::query_scalar!(
                r#"select v.version from contract_versions v join products p on p.id = v.product_id
                   where p.slug = 'enriched-customer-signed-up' order by v.version"#,
            )
            .fetch_all(&pool)
            .await
            .expect("versions")
        };
        assert_eq!(versions().await, vec!["1.0.0", "1.1.0"]);
        assert_eq!(
            seed(&pool, true).await.expect("forced"),
            SeedOutcome::Loaded
        );
        assert_eq!(
            versions().await,
            vec!["1.0.0", "1.1.0"],
            "no version per run"
        );
        let subscribed: i64 = sqlx::query_scalar!(
            r#"select count(*) as "count!" from subscriptions where principal = 'User:svc-marketing-campaigns'"#,
        )
        .fetch_one(&pool)
        .await
        .expect("count");
        assert_eq!(subscribed, 1, "one subscription however often it is seeded");
    }
}
