//! Breaking schema proposals, announced: an owner who checked a proposed schema that would
//! break live subscriptions tells their requesters before publishing it — in the app and
//! through their webhooks (`schema.proposal`, signed like incident notifications,
//! [`crate::webhooks`]). One announcement per subject and proposed schema: announcing the
//! same proposal again tells no one twice. Audited as `schema.proposal.announce`.

use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use super::{ParsedSchema, RegistryError};
use crate::audit::{self, Actor, Event};
use crate::db::Timestamp;

/// What an announcement did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Announced {
    /// People told now (each requester of a subscription at risk, once).
    pub told: u64,
    /// Subscriptions the proposal would break.
    pub subscriptions: usize,
    /// The same proposal was announced before: no one was told again.
    pub already: bool,
}

/// A proposal's identity: the SHA-256 of its canonical text.
fn fingerprint(schema: &ParsedSchema) -> String {
    Sha256::digest(schema.canonical.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// When `schema` proposed for `subject` was announced, if it was.
pub async fn announced_at(
    pool: &PgPool,
    subject: &str,
    schema: &ParsedSchema,
) -> Result<Option<Timestamp>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select announced_at as "announced_at: Timestamp" from schema_proposals
           where subject = $1 and fingerprint = $2"#,
        subject,
        fingerprint(schema),
    )
    .fetch_optional(pool)
    .await
}

/// Where the proposal is published, as the caller checked it.
pub struct Target<'a> {
    pub domain: &'a str,
    pub product: &'a str,
    pub subject: &'a str,
    pub topic: &'a str,
}

/// Tells the requesters of every live subscription `schema` would break on `target`.
/// Authorization is the caller's (an owner of the product's domain).
pub async fn announce(
    pool: &PgPool,
    actor: &Actor,
    target: &Target<'_>,
    schema: &ParsedSchema,
) -> Result<Announced, RegistryError> {
    let proposal = super::view::propose(pool, target.subject, target.topic, schema).await?;
    let subscriptions: Vec<Uuid> = proposal
        .consumers_at_risk
        .iter()
        .map(|c| c.subscription)
        .collect();
    if subscriptions.is_empty() {
        return Ok(Announced {
            told: 0,
            subscriptions: 0,
            already: false,
        });
    }
    let fingerprint = fingerprint(schema);
    let mut tx = pool.begin().await?;
    let first: Option<i64> = sqlx::query_scalar!(
        "insert into schema_proposals (subject, fingerprint, product, version, breaking, announced_by)
         values ($1, $2, $3, $4, $5, $6)
         on conflict (subject, fingerprint) do nothing
         returning id",
        target.subject,
        fingerprint,
        target.product,
        proposal.version,
        json!(proposal.diff.breaking),
        actor.to_string(),
    )
    .fetch_optional(&mut *tx)
    .await?;
    if first.is_none() {
        return Ok(Announced {
            told: 0,
            subscriptions: subscriptions.len(),
            already: true,
        });
    }
    let users: Vec<Uuid> = sqlx::query_scalar!(
        "select distinct s.requested_by from subscriptions s join users u on u.id = s.requested_by
         where s.id = any($1) and not u.disabled",
        &subscriptions,
    )
    .fetch_all(&mut *tx)
    .await?;
    let version = proposal
        .version
        .map(|v| format!(" v{v}"))
        .unwrap_or_default();
    let why = proposal
        .diff
        .breaking
        .first()
        .cloned()
        .unwrap_or_else(|| "today's schema cannot read its data".to_owned());
    let message = format!(
        "A proposed schema{version} for {} would break your subscription to {}: {why}",
        target.subject, target.product
    );
    let link = format!("/products/{}", target.product);
    let payload = json!({
        "event": "schema.proposal",
        "product": target.product,
        "subject": target.subject,
        "version": proposal.version,
        "breaking": proposal.diff.breaking,
        "subscriptions": subscriptions,
        "message": message,
        "link": link,
    });
    crate::webhooks::tell(
        &mut tx,
        &users,
        "schema.proposal",
        &message,
        &link,
        &payload,
    )
    .await?;
    audit::record(
        &mut tx,
        Event::new(actor, "schema.proposal.announce", target.subject)
            .in_domain(target.domain)
            .after(json!({
                "fingerprint": fingerprint,
                "version": proposal.version,
                "subscriptions": subscriptions,
                "told": users.len(),
            })),
    )
    .await?;
    tx.commit().await?;
    Ok(Announced {
        told: users.len() as u64,
        subscriptions: subscriptions.len(),
        already: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{self, SchemaType, VersionRef};

    const PRODUCT: &str = "enriched-customer-signed-up";

    /// The latest schema of the product's port with its first string field made a number:
    /// data written with it cannot be read with today's schema.
    async fn breaking(pool: &PgPool, subject: &str) -> ParsedSchema {
        let latest = registry::version(pool, subject, VersionRef::Latest, false)
            .await
            .expect("the demo schema");
        let mut document: serde_json::Value =
            serde_json::from_str(&latest.schema).expect("schema JSON");
        match latest.schema_type {
            SchemaType::Avro => {
                let field = document["fields"]
                    .as_array_mut()
                    .expect("fields")
                    .iter_mut()
                    .find(|f| f["type"] == "string")
                    .expect("a string field");
                field["type"] = json!("long");
            }
            _ => {
                let property = document["properties"]
                    .as_object_mut()
                    .expect("properties")
                    .values_mut()
                    .find(|p| p["type"] == "string")
                    .expect("a string property");
                property["type"] = json!("integer");
            }
        }
        ParsedSchema::parse(latest.schema_type, &document.to_string()).expect("parses")
    }

    #[sqlx::test(migrator = "crate::db::MIGRATOR")]
    async fn a_breaking_proposal_tells_each_requester_at_risk_once_in_app_and_by_webhook(
        pool: PgPool,
    ) {
        crate::demo::seed(&pool, false).await.expect("demo");
        let topic: String = sqlx::query_scalar!(
            "select o.topic from output_ports o join products p on p.id = o.product_id where p.slug = $1",
            PRODUCT,
        )
        .fetch_one(&pool)
        .await
        .expect("port");
        let subject = registry::schema::value_subject(&topic);
        let requester: Uuid = sqlx::query_scalar!(
            "select s.requested_by from subscriptions s join products p on p.id = s.product_id
             where p.slug = $1",
            PRODUCT,
        )
        .fetch_one(&pool)
        .await
        .expect("the demo subscription");
        sqlx::query!(
            "insert into webhooks (user_id, url, secret) values ($1, 'https://hooks.example/x', 's')",
            requester,
        )
            .execute(&pool)
            .await
            .expect("webhook");
        let proposal = breaking(&pool, &subject).await;
        let target = Target {
            domain: "customer-intelligence",
            product: PRODUCT,
            subject: &subject,
            topic: &topic,
        };
        let actor = Actor::User("owner.customer-intelligence@meshmart.local".into());
        assert_eq!(
            announced_at(&pool, &subject, &proposal)
                .await
                .expect("query"),
            None
        );

        let done = announce(&pool, &actor, &target, &proposal)
            .await
            .expect("announced");
        assert_eq!(
            done,
            Announced {
                told: 1,
                subscriptions: 1,
                already: false
            }
        );
        let told = sqlx::query!(
            "select kind, message from notifications where user_id = $1 and kind = 'schema.proposal'",
            requester,
        )
        .fetch_one(&pool)
        .await
        .expect("told in the app");
        let (kind, message) = (told.kind, told.message);
        assert_eq!(kind, "schema.proposal");
        assert!(
            message.contains(&subject) && message.contains(PRODUCT),
            "{message}"
        );
        let payload: serde_json::Value = sqlx::query_scalar!(
            "select payload from webhook_deliveries where user_id = $1 and event = 'schema.proposal'",
            requester,
        )
        .fetch_one(&pool)
        .await
        .expect("a webhook delivery");
        assert_eq!(payload["subject"], json!(subject));
        assert!(
            !payload["breaking"].as_array().expect("breaking").is_empty(),
            "{payload}"
        );
        assert!(
            announced_at(&pool, &subject, &proposal)
                .await
                .expect("query")
                .is_some()
        );

        let again = announce(&pool, &actor, &target, &proposal)
            .await
            .expect("again");
        assert!(again.already && again.told == 0, "{again:?}");
        let deliveries: i64 = sqlx::query_scalar!(
            r#"select count(*) as "count!" from webhook_deliveries where event = 'schema.proposal'"#,
        )
        .fetch_one(&pool)
        .await
        .expect("count");
        assert_eq!(deliveries, 1, "no one is told twice");

        // A compatible proposal (today's schema) breaks no one and tells no one.
        let latest = registry::version(&pool, &subject, VersionRef::Latest, false)
            .await
            .expect("latest");
        let same = ParsedSchema::parse(latest.schema_type, &latest.schema).expect("parses");
        let quiet = announce(&pool, &actor, &target, &same)
            .await
            .expect("quiet");
        assert_eq!((quiet.told, quiet.subscriptions), (0, 0));
    }
}
