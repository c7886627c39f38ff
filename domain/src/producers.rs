//! Producer grants: each domain writes its products' topics as its own service-account
//! principal, `User:svc-<domain>-producer`, never as Meshmart's admin.
//!
//! A grant is part of owning a product: registering a product gives its domain's principal
//! WRITE and DESCRIBE on each port's topic and IDEMPOTENT_WRITE on the cluster (what an
//! idempotent producer needs). The grant is a row of `producer_grants`; its policy is Casbin
//! rows (`p, kafka:<principal>, *, topic:<t>, write` and `cluster:kafka-cluster,
//! idempotent_write`), written in the same transaction; the broker's ACLs and the
//! principal's SCRAM credential are their projection, carried out by the outbox
//! (`producer.sync`) and kept true by the reconciler ([`crate::provisioning`]).
//!
//! The credential is never stored: its password is derived from Meshmart's own broker
//! password and the principal's `generation` ([`password_label`],
//! [`crate::broker::derive_password`]), so `meshmart traffic` (which has Meshmart's
//! configuration) can produce as every domain, and replaying a sync sets the same password.
//! Rotating bumps the generation; the new password is shown once, to the owner who rotated.
//! Owners (and admins) see the principal and its grants, rotate the credential, and revoke
//! or restore a product's grant; each change is audited.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::audit::{self, Actor, Event};
use crate::db::Timestamp;
use crate::identity::Caller;
use crate::outbox;
use crate::policy::{Denied, Permission, Policy};

pub use crate::broker::CLUSTER;
pub use crate::identity::principals::username;

/// The SASL mechanism producer principals authenticate with.
pub const MECHANISM: &str = "SCRAM-SHA-512";

/// Casbin action of a topic the principal may write.
pub const WRITE: &str = "write";

/// Casbin action of the cluster grant an idempotent producer needs.
pub const IDEMPOTENT_WRITE: &str = "idempotent_write";

/// The producer principal of `domain`.
pub fn principal_of(domain: &str) -> String {
    format!("User:svc-{domain}-producer")
}

/// The label the password of `username` at `generation` is derived from.
pub fn password_label(username: &str, generation: i32) -> String {
    format!("meshmart producer credential\0{username}\0{generation}")
}

/// Why a producer operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ProducerError {
    #[error("no data product `{0}`")]
    UnknownProduct(String),
    #[error("domain `{0}` has no producer principal yet (it has no products)")]
    NoPrincipal(String),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A domain's producer principal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Principal {
    pub domain: String,
    pub principal: String,
    pub generation: i32,
    pub rotated_at: DateTime<Utc>,
}

impl Principal {
    /// The SASL user name.
    pub fn username(&self) -> &str {
        username(&self.principal)
    }
}

/// One product's producer grant, as owners see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Grant {
    pub product: String,
    pub product_name: String,
    pub topics: Vec<String>,
    pub granted_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Who may produce to a domain's products: the principal and each product's grant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerView {
    pub domain: String,
    pub principal: String,
    pub username: String,
    pub mechanism: String,
    pub generation: i32,
    pub rotated_at: DateTime<Utc>,
    pub grants: Vec<Grant>,
}

/// A freshly rotated credential; its password is in this value only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotatedCredential {
    pub principal: String,
    pub username: String,
    pub mechanism: String,
    pub generation: i32,
    pub password: String,
}

/// Gives a product (just registered or published by its domain) its producer grant, unless
/// it has one (a revoked grant stays revoked), and brings the domain principal's policy in
/// line with its ports. Runs in the caller's transaction; the broker follows through the
/// outbox.
pub async fn on_register(
    conn: &mut PgConnection,
    actor: &Actor,
    domain: &str,
    product_id: Uuid,
    slug: &str,
) -> Result<(), sqlx::Error> {
    let principal = principal_of(domain);
    sqlx::query!(
        r#"insert into producer_principals (domain, principal) values ($1, $2)
           on conflict (domain) do nothing"#,
        domain,
        principal,
    )
    .execute(&mut *conn)
    .await?;
    let created = sqlx::query!(
        r#"insert into producer_grants (product_id, principal) values ($1, $2)
           on conflict (product_id) do nothing"#,
        product_id,
        principal,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected()
        > 0;
    let changed = refresh_policy(&mut *conn, &principal).await?;
    if created {
        let topics = topics_of(&mut *conn, product_id).await?;
        audit::record(
            &mut *conn,
            Event::new(actor, "producer.grant", &principal)
                .in_domain(domain)
                .after(json!({ "product": slug, "topics": topics })),
        )
        .await?;
    }
    if created || changed {
        enqueue_sync(conn, domain).await?;
    }
    Ok(())
}

async fn topics_of(conn: &mut PgConnection, product_id: Uuid) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "select topic from output_ports where product_id = $1 order by topic",
        product_id,
    )
    .fetch_all(conn)
    .await
}

/// Makes the principal's producer rows in Casbin what its live grants say; returns whether
/// anything changed.
async fn refresh_policy(conn: &mut PgConnection, principal: &str) -> Result<bool, sqlx::Error> {
    let subject = crate::subscriptions::kafka_subject(principal);
    let mut wanted: Vec<(String, &str)> = sqlx::query_scalar!(
        r#"select distinct 'topic:' || o.topic as "object!" from producer_grants g
             join output_ports o on o.product_id = g.product_id
           where g.principal = $1 and g.revoked_at is null"#,
        principal,
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|object| (object, WRITE))
    .collect();
    if !wanted.is_empty() {
        wanted.push((format!("cluster:{CLUSTER}"), IDEMPOTENT_WRITE));
    }
    // Only the producer rows: the same principal may hold subscriptions' read rows.
    crate::policy::set_global_permissions(conn, &subject, &wanted, Some(&[WRITE, IDEMPOTENT_WRITE]))
        .await
}

/// Queues a `producer.sync` for the domain unless one is already waiting (not yet leased),
/// which will see this transaction's changes anyway.
async fn enqueue_sync(conn: &mut PgConnection, domain: &str) -> Result<(), sqlx::Error> {
    let waiting = sqlx::query_scalar!(
        r#"select exists (select 1 from outbox
           where kind = 'producer.sync' and payload->>'domain' = $1 and done_at is null
             and locked_until is null and attempts = 0) as "waiting!""#,
        domain,
    )
    .fetch_one(&mut *conn)
    .await?;
    if !waiting {
        outbox::enqueue(
            conn,
            &outbox::Message::SyncProducer {
                domain: domain.to_string(),
            },
        )
        .await?;
    }
    Ok(())
}

/// The domain's producer principal, if it has one.
pub async fn principal(
    conn: &mut PgConnection,
    domain: &str,
) -> Result<Option<Principal>, sqlx::Error> {
    sqlx::query_as!(
        Principal,
        r#"select domain, principal, generation, rotated_at as "rotated_at: Timestamp"
           from producer_principals where domain = $1"#,
        domain,
    )
    .fetch_optional(conn)
    .await
}

/// The principal that may produce to a product's topics, if its grant is live.
pub async fn principal_of_product(
    pool: &PgPool,
    slug: &str,
) -> Result<Option<Principal>, sqlx::Error> {
    sqlx::query_as!(
        Principal,
        r#"select pp.domain, pp.principal, pp.generation,
                  pp.rotated_at as "rotated_at: Timestamp"
           from products p
             join producer_grants g on g.product_id = p.id and g.revoked_at is null
             join producer_principals pp on pp.principal = g.principal
           where p.slug = $1"#,
        slug,
    )
    .fetch_optional(pool)
    .await
}

/// The domains among `domains` whose producer credential or ACLs still wait in the outbox.
pub async fn pending_syncs(pool: &PgPool, domains: &[String]) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select distinct payload->>'domain' as "domain!" from outbox
           where kind = 'producer.sync' and done_at is null
             and next_attempt_at <> 'infinity' and payload->>'domain' = any($1)
           order by 1"#,
        domains,
    )
    .fetch_all(pool)
    .await
}

/// Who may produce to the domain's products, for its owners and admins.
pub async fn view(
    pool: &PgPool,
    policy: &Policy,
    caller: &Caller,
    domain: &str,
) -> Result<Option<ProducerView>, ProducerError> {
    policy
        .authorize(caller, domain, Permission::ReadServiceAccounts)
        .await?;
    let mut conn = pool.acquire().await?;
    let Some(principal) = principal(&mut conn, domain).await? else {
        return Ok(None);
    };
    let grants = sqlx::query_as!(
        Grant,
        r#"select p.slug as product, p.name as product_name,
                  coalesce(array_agg(o.topic order by o.topic) filter (where o.topic is not null),
                           '{}') as "topics!",
                  g.granted_at as "granted_at: Timestamp", g.revoked_at as "revoked_at: Timestamp"
           from producer_grants g
             join products p on p.id = g.product_id
             left join output_ports o on o.product_id = p.id
           where g.principal = $1
           group by p.slug, p.name, g.granted_at, g.revoked_at
           order by p.slug"#,
        principal.principal,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some(ProducerView {
        domain: principal.domain.clone(),
        username: principal.username().to_string(),
        principal: principal.principal,
        mechanism: MECHANISM.to_string(),
        generation: principal.generation,
        rotated_at: principal.rotated_at,
        grants,
    }))
}

/// Replaces the domain principal's credential: the next generation's password, set on the
/// broker by the outbox (within a second, normally). Returns it, once; the old password
/// stops working when the broker has the new one.
pub async fn rotate(
    pool: &PgPool,
    policy: &Policy,
    caller: &Caller,
    broker: &crate::broker::BrokerAdmin,
    domain: &str,
) -> Result<RotatedCredential, ProducerError> {
    use secrecy::ExposeSecret;

    policy
        .authorize(caller, domain, Permission::ManageServiceAccounts)
        .await?;
    let mut tx = pool.begin().await?;
    let rotated = sqlx::query_as!(
        Principal,
        r#"update producer_principals
           set generation = generation + 1, rotated_at = now(), updated_at = now()
           where domain = $1
           returning domain, principal, generation, rotated_at as "rotated_at: Timestamp""#,
        domain,
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ProducerError::NoPrincipal(domain.to_string()))?;
    audit::record(
        &mut tx,
        Event::new(
            &caller.audit_actor(),
            "producer.credential.rotate",
            &rotated.principal,
        )
        .in_domain(domain)
        .before(json!({ "generation": rotated.generation - 1 }))
        .after(json!({ "generation": rotated.generation, "mechanism": MECHANISM })),
    )
    .await?;
    outbox::enqueue(
        &mut tx,
        &outbox::Message::SyncProducer {
            domain: domain.to_string(),
        },
    )
    .await?;
    tx.commit().await?;
    let password = broker.derived_password(&password_label(rotated.username(), rotated.generation));
    Ok(RotatedCredential {
        username: rotated.username().to_string(),
        principal: rotated.principal,
        mechanism: MECHANISM.to_string(),
        generation: rotated.generation,
        password: password.expose_secret().to_string(),
    })
}

/// Revokes (`granted = false`) or restores a product's producer grant; returns whether it
/// changed (an unchanged grant writes no audit entry).
pub async fn set_granted(
    pool: &PgPool,
    policy: &Policy,
    caller: &Caller,
    slug: &str,
    granted: bool,
) -> Result<bool, ProducerError> {
    let mut tx = pool.begin().await?;
    let row = sqlx::query!(
        r#"select g.product_id, p.domain, g.principal, g.revoked_at is null as "live!"
           from producer_grants g join products p on p.id = g.product_id
           where p.slug = $1 for update of g"#,
        slug,
    )
    .fetch_optional(&mut *tx)
    .await?
    .map(|row| (row.product_id, row.domain, row.principal, row.live));
    let Some((product_id, domain, principal, live)) = row else {
        // Say "no such product" only to someone who could see it at all.
        policy
            .authorize(caller, crate::policy::GLOBAL, Permission::ReadCatalog)
            .await?;
        return Err(ProducerError::UnknownProduct(slug.to_string()));
    };
    policy
        .authorize(caller, &domain, Permission::ManageServiceAccounts)
        .await?;
    if live == granted {
        return Ok(false);
    }
    sqlx::query!(
        r#"update producer_grants
           set revoked_at = case when $2 then null else now() end,
               granted_at = case when $2 then now() else granted_at end,
               updated_at = now()
           where product_id = $1"#,
        product_id,
        granted,
    )
    .execute(&mut *tx)
    .await?;
    refresh_policy(&mut tx, &principal).await?;
    let topics = topics_of(&mut tx, product_id).await?;
    let (action, before, after) = if granted {
        (
            "producer.grant",
            json!({ "granted": false }),
            json!({ "product": slug, "topics": topics, "granted": true }),
        )
    } else {
        (
            "producer.revoke",
            json!({ "product": slug, "topics": topics, "granted": true }),
            json!({ "granted": false }),
        )
    };
    audit::record(
        &mut tx,
        Event::new(&caller.audit_actor(), action, &principal)
            .in_domain(&domain)
            .before(before)
            .after(after),
    )
    .await?;
    enqueue_sync(&mut tx, &domain).await?;
    tx.commit().await?;
    Ok(true)
}

/// Why a producer or node sync failed (the outbox retries it).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("setting the SCRAM credential of {principal}: {message}")]
    Credential { principal: String, message: String },
    #[error("{0}")]
    Acls(String),
}

/// Carries out a `producer.sync`: sets the principal's SCRAM credential (the password of
/// its current generation; setting it again changes nothing) and brings its ACLs in line
/// with the policy. A broker without SCRAM gets the ACLs only, with a warning.
pub async fn sync(
    pool: &PgPool,
    broker: &crate::broker::BrokerAdmin,
    domain: &str,
) -> Result<(), SyncError> {
    let mut conn = pool.acquire().await?;
    let Some(principal) = principal(&mut conn, domain).await? else {
        return Ok(());
    };
    drop(conn);
    let label = password_label(principal.username(), principal.generation);
    sync_principal(pool, broker, &principal.principal, Some(&label)).await
}

/// Sets the SCRAM credential of a principal Meshmart runs (its password derived with
/// `label`; none to set without one) and brings its ACLs in line with the policy: the
/// part of a producer sync and a node sync that is the same. A broker without SCRAM gets
/// the ACLs only, with a warning.
pub(crate) async fn sync_principal(
    pool: &PgPool,
    broker: &crate::broker::BrokerAdmin,
    principal: &str,
    label: Option<&str>,
) -> Result<(), SyncError> {
    use crate::broker::scram::ScramError;
    use secrecy::ExposeSecret;

    if let Some(label) = label {
        let password = broker.derived_password(label);
        match broker
            .upsert_scram(username(principal), password.expose_secret())
            .await
        {
            Ok(()) => {}
            Err(ScramError::Unsupported(why)) => {
                tracing::warn!(%principal, %why, "the broker cannot store SCRAM credentials; ACLs only");
            }
            Err(other) => {
                return Err(SyncError::Credential {
                    principal: principal.to_string(),
                    message: other.to_string(),
                });
            }
        }
    }
    crate::provisioning::sync_principal(pool, broker, principal)
        .await
        .map_err(SyncError::Acls)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::{ExposeSecret, SecretString};

    #[test]
    fn principals_and_passwords_are_per_domain_and_generation() {
        assert_eq!(principal_of("sales"), "User:svc-sales-producer");
        assert_eq!(username(&principal_of("sales")), "svc-sales-producer");
        let secret = SecretString::from("meshmart-admin-secret");
        let derive = |user: &str, generation| {
            crate::broker::derive_password(&secret, &password_label(user, generation))
                .expose_secret()
                .to_string()
        };
        let first = derive("svc-sales-producer", 1);
        assert_eq!(first.len(), 64);
        assert_eq!(
            first,
            derive("svc-sales-producer", 1),
            "derived, not random"
        );
        assert_ne!(
            first,
            derive("svc-sales-producer", 2),
            "rotation changes it"
        );
        assert_ne!(first, derive("svc-marketing-producer", 1));
        let other = SecretString::from("another-admin-secret");
        assert_ne!(
            first,
            crate::broker::derive_password(&other, &password_label("svc-sales-producer", 1))
                .expose_secret()
        );
    }

    async fn caller(pool: &PgPool, email: &str) -> Caller {
        let user = crate::identity::users::find_by_email(pool, email)
            .await
            .expect("query")
            .expect("a demo user");
        Caller::User {
            user,
            via: crate::identity::Via::Session,
        }
    }

    async fn producer_rows(pool: &PgPool, principal: &str) -> Vec<(String, String)> {
        sqlx::query!(
            r#"select v2, v3 from casbin_rule where ptype = 'p' and v0 = 'kafka:' || $1
               order by v2, v3"#,
            principal,
        )
        .fetch_all(pool)
        .await
        .expect("rows")
        .into_iter()
        .map(|row| (row.v2, row.v3))
        .collect()
    }

    #[sqlx::test(migrator = "crate::db::MIGRATOR")]
    async fn registered_products_get_their_domains_grant_which_owners_revoke_and_restore(
        pool: PgPool,
    ) {
        use crate::demo::Part;
        crate::demo::seed_parts(&pool, &[Part::Identities, Part::Catalog], false)
            .await
            .expect("demo");
        let policy = Policy::load(&pool).await.expect("policy");
        let sales = principal_of("sales");
        let rows = producer_rows(&pool, &sales).await;
        assert!(rows.contains(&("topic:sales.order-placed.v1".into(), WRITE.into())));
        assert!(rows.contains(&(format!("cluster:{CLUSTER}"), IDEMPOTENT_WRITE.into())));
        assert!(
            rows.iter()
                .all(|(o, _)| o.starts_with("topic:sales.") || o.starts_with("cluster:")),
            "only the domain's own topics: {rows:?}"
        );
        let syncs: i64 = sqlx::query_scalar!(
            r#"select count(*) as "count!" from outbox where kind = 'producer.sync' and payload->>'domain' = 'sales'"#,
        )
        .fetch_one(&pool)
        .await
        .expect("count");
        assert_eq!(
            syncs, 1,
            "one waiting sync per domain, however many products"
        );

        let owner = caller(&pool, "owner.sales@meshmart.local").await;
        let stranger = caller(&pool, "owner.marketing@meshmart.local").await;
        let seen = view(&pool, &policy, &owner, "sales")
            .await
            .expect("view")
            .expect("a principal");
        assert_eq!(seen.principal, sales);
        assert!(seen.grants.iter().any(|g| g.product == "order-placed"
            && g.topics == vec!["sales.order-placed.v1".to_string()]
            && g.revoked_at.is_none()));
        assert!(matches!(
            view(&pool, &policy, &stranger, "sales").await,
            Err(ProducerError::Denied(Denied::Forbidden { .. }))
        ));
        assert!(matches!(
            set_granted(&pool, &policy, &stranger, "order-placed", false).await,
            Err(ProducerError::Denied(Denied::Forbidden { .. }))
        ));
        assert!(matches!(
            set_granted(&pool, &policy, &owner, "no-such-product", false).await,
            Err(ProducerError::UnknownProduct(_))
        ));

        assert!(
            set_granted(&pool, &policy, &owner, "order-placed", false)
                .await
                .expect("revoke")
        );
        assert!(
            !set_granted(&pool, &policy, &owner, "order-placed", false)
                .await
                .expect("again")
        );
        let rows = producer_rows(&pool, &sales).await;
        assert!(!rows.contains(&("topic:sales.order-placed.v1".into(), WRITE.into())));
        assert!(
            principal_of_product(&pool, "order-placed")
                .await
                .expect("q")
                .is_none()
        );
        // Publishing a new version does not quietly give a revoked grant back.
        let mut conn = pool.acquire().await.expect("conn");
        let product_id: Uuid =
            sqlx::query_scalar!("select id from products where slug = 'order-placed'",)
                .fetch_one(&mut *conn)
                .await
                .expect("id");
        on_register(
            &mut conn,
            &Actor::SeedDemo,
            "sales",
            product_id,
            "order-placed",
        )
        .await
        .expect("publish");
        drop(conn);
        assert!(
            principal_of_product(&pool, "order-placed")
                .await
                .expect("q")
                .is_none()
        );

        assert!(
            set_granted(&pool, &policy, &owner, "order-placed", true)
                .await
                .expect("grant")
        );
        assert!(
            producer_rows(&pool, &sales)
                .await
                .contains(&("topic:sales.order-placed.v1".into(), WRITE.into()))
        );
        let actions: Vec<String> = sqlx::query_scalar!(
            "select action from audit_log where target = $1 order by id",
            sales,
        )
        .fetch_all(&pool)
        .await
        .expect("audit");
        assert_eq!(
            actions
                .iter()
                .filter(|a| a.as_str() == "producer.revoke")
                .count(),
            1
        );
        assert!(
            actions.last().is_some_and(|a| a == "producer.grant"),
            "{actions:?}"
        );
    }
}
