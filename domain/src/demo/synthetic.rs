//! A large synthetic catalog for benchmarks (`meshmart seed-demo --products N`): varied
//! names, descriptions, fields and tags, spread over the demo domains, written in bulk
//! (`unnest` batches) so 100,000 products load in seconds. Every generated contract is a
//! valid ODCS document. Synthetic products get no topics on the broker and one audit entry
//! for the whole batch: they exist to measure search and pages at scale.

use serde_json::{Value, json};
use sqlx::PgPool;

use super::catalog::DOMAINS;
use crate::audit::{self, Event};

const ADJECTIVES: [&str; 16] = [
    "Daily",
    "Realtime",
    "Regional",
    "Global",
    "Verified",
    "Raw",
    "Curated",
    "Hourly",
    "Partner",
    "Mobile",
    "Web",
    "Wholesale",
    "Retail",
    "Premium",
    "Seasonal",
    "Legacy",
];
const ENTITIES: [&str; 24] = [
    "Order",
    "Customer",
    "Shipment",
    "Invoice",
    "Payment",
    "Refund",
    "Product",
    "Price",
    "Stock",
    "Campaign",
    "Ticket",
    "Review",
    "Session",
    "Cart",
    "Voucher",
    "Subscription",
    "Supplier",
    "Warehouse",
    "Device",
    "Account",
    "Basket",
    "Parcel",
    "Quote",
    "Lead",
];
const VERBS: [&str; 16] = [
    "Created",
    "Updated",
    "Cancelled",
    "Approved",
    "Rejected",
    "Scored",
    "Enriched",
    "Archived",
    "Assigned",
    "Completed",
    "Expired",
    "Flagged",
    "Merged",
    "Reopened",
    "Scheduled",
    "Synced",
];
const FIELDS: [(&str, &str, &str); 20] = [
    ("customerID", "string", "Customer identifier"),
    ("orderID", "string", "Order identifier"),
    ("amount", "number", "Amount in minor units"),
    ("currency", "string", "ISO 4217 currency"),
    ("country", "string", "ISO 3166 country"),
    ("channel", "string", "Sales or contact channel"),
    ("sku", "string", "Stock keeping unit"),
    ("quantity", "integer", "Units"),
    ("status", "string", "Status after the change"),
    ("reason", "string", "Reason given by the source system"),
    ("score", "number", "Model score between 0 and 1"),
    ("region", "string", "Sales region"),
    ("agentId", "string", "Agent handling it"),
    ("deviceId", "string", "Device identifier"),
    ("email", "string", "Email address"),
    ("campaignId", "string", "Campaign identifier"),
    ("warehouseId", "string", "Warehouse identifier"),
    ("priority", "integer", "Priority from 1 to 5"),
    ("language", "string", "IETF language tag"),
    ("segment", "string", "Customer segment"),
];
const TAGS: [&str; 12] = [
    "pii",
    "finance",
    "gdpr",
    "realtime",
    "batch",
    "gold",
    "silver",
    "bronze",
    "kpi",
    "experimental",
    "certified",
    "external",
];

/// A small deterministic generator (SplitMix64), so runs are reproducible.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

/// One synthetic product: (slug, domain, name, description, tags, document, topic, fields).
struct Row {
    slug: String,
    domain: &'static str,
    name: String,
    description: String,
    tags: String,
    document: Value,
    topic: String,
    fields: Value,
}

fn row(index: usize, mix: &mut Mix) -> Row {
    let (domain, domain_name, _) = *mix.pick(&DOMAINS);
    let name = format!(
        "{}{}{}",
        mix.pick(&ADJECTIVES),
        mix.pick(&ENTITIES),
        mix.pick(&VERBS)
    );
    let slug = format!("syn-{}-{index}", super::catalog::kebab(&name));
    let topic = format!("synthetic.{slug}");
    let field_count = 3 + (mix.next() % 6) as usize;
    let mut properties =
        vec![json!({"name": "eventId", "logicalType": "string", "required": true})];
    let mut used = std::collections::HashSet::new();
    for _ in 0..field_count {
        let (field, logical, description) = *mix.pick(&FIELDS);
        if used.insert(field) {
            properties.push(json!({
                "name": field, "logicalType": logical, "required": mix.next().is_multiple_of(2),
                "description": description,
            }));
        }
    }
    let tags: Vec<&str> = (0..1 + mix.next() % 3).map(|_| *mix.pick(&TAGS)).collect();
    let description = format!(
        "{name} events from {domain_name}: one per change, for {} use.",
        if mix.next().is_multiple_of(2) {
            "operational"
        } else {
            "analytical"
        }
    );
    let status = ["active", "active", "active", "draft", "deprecated"][(mix.next() % 5) as usize];
    let fields = Value::Array(
        properties
            .iter()
            .map(|p| {
                json!({
                    "name": p["name"], "logical_type": p["logicalType"], "physical_type": null,
                    "required": p["required"], "description": p.get("description"),
                    "classification": null, "examples": [], "fields": [],
                })
            })
            .collect(),
    );
    let document = json!({
        "apiVersion": "v3.1.0", "kind": "DataContract", "id": slug, "version": "1.0.0",
        "status": status, "name": name, "dataProduct": slug, "domain": domain,
        "description": {"purpose": description},
        "tags": tags,
        "schema": [{"name": name, "physicalName": topic, "properties": properties}],
    });
    Row {
        slug,
        domain,
        name,
        description,
        tags: tags.join(","),
        document,
        topic,
        fields,
    }
}

/// Adds `count` synthetic products in batches; returns how many were added.
pub async fn generate(pool: &PgPool, count: usize) -> Result<usize, sqlx::Error> {
    const BATCH: usize = 2_000;
    let mut conn = pool.acquire().await?;
    super::catalog::upsert_domains(&mut conn).await?;
    // Continue numbering after earlier runs, so slugs stay unique.
    let start: i64 = sqlx::query_scalar!(
        r#"select count(*) as "count!" from products where slug like 'syn-%'"#,
    )
    .fetch_one(&mut *conn)
    .await?;
    let start = usize::try_from(start).unwrap_or(0);
    let mut mix = Mix(0x6d65_7368_6d61_7274 ^ start as u64);
    let mut done = 0;
    // Two batches in flight: one PostgreSQL backend per core.
    let mut inflight = tokio::task::JoinSet::new();
    while done < count {
        let rows: Vec<Row> = (0..BATCH.min(count - done))
            .map(|i| row(start + done + i, &mut mix))
            .collect();
        done += rows.len();
        if inflight.len() >= 2 {
            joined(inflight.join_next().await)?;
        }
        inflight.spawn(insert_batch(pool.clone(), rows));
    }
    while let Some(result) = inflight.join_next().await {
        joined(Some(result))?;
    }
    audit::record(
        &mut conn,
        Event::new(&crate::audit::Actor::SeedDemo, "demo.synthetic", "catalog")
            .after(json!({ "products": done })),
    )
    .await?;
    Ok(done)
}

fn joined(
    result: Option<Result<Result<(), sqlx::Error>, tokio::task::JoinError>>,
) -> Result<(), sqlx::Error> {
    match result {
        Some(Ok(outcome)) => outcome,
        Some(Err(error)) => Err(sqlx::Error::Protocol(format!("batch task failed: {error}"))),
        None => Ok(()),
    }
}

/// Inserts one batch in one transaction. Losing the last batch in a crash is harmless for
/// generated data, so the commit does not wait for the disk.
async fn insert_batch(pool: PgPool, rows: Vec<Row>) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query!("set local synchronous_commit = off",)
        .execute(&mut *tx)
        .await?;
    let column = |f: fn(&Row) -> String| rows.iter().map(f).collect::<Vec<String>>();
    // One statement per batch: the products, then their port and first contract
    // version from the ids the insert returns.
    sqlx::query!(
            r#"with input as (
                   select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                        $6::text[], $7::text[], $8::jsonb[], $9::jsonb[])
                       as u(slug, domain, name, description, status, tags, topic, fields, document)
               ), inserted as (
                   insert into products (slug, domain, name, description, status, tags, contract_id, current_version)
                   select slug, domain, name, description, status, string_to_array(tags, ','), slug, '1.0.0'
                   from input
                   returning id, slug
               ), ports as (
                   insert into output_ports (product_id, event_type, topic, format, fields)
                   select i.id, u.name, u.topic, 'json', u.fields
                   from inserted i join input u using (slug)
               )
               insert into contract_versions (product_id, version, document, published_by)
               select i.id, '1.0.0', u.document, 'seed-demo'
               from inserted i join input u using (slug)"#,
            &column(|r| r.slug.clone()),
            &column(|r| r.domain.to_string()),
            &column(|r| r.name.clone()),
            &column(|r| r.description.clone()),
            &column(|r| r.document["status"].as_str().unwrap_or("draft").to_string()),
            &column(|r| r.tags.clone()),
            &column(|r| r.topic.clone()),
            &rows.iter().map(|r| r.fields.clone()).collect::<Vec<Value>>(),
            &rows.iter().map(|r| r.document.clone()).collect::<Vec<Value>>(),
        )
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contracts;

    #[test]
    fn synthetic_contracts_are_valid_and_varied() {
        let mut mix = Mix(7);
        let rows: Vec<Row> = (0..200).map(|i| row(i, &mut mix)).collect();
        for r in &rows {
            contracts::validate(&r.document)
                .unwrap_or_else(|e| panic!("{}: {:?}", r.slug, e.problems()));
            let contract = contracts::Contract::from_document(r.document.clone()).expect("maps");
            assert_eq!(contract.slug, r.slug);
        }
        let names: std::collections::HashSet<_> = rows.iter().map(|r| &r.name).collect();
        assert!(names.len() > 150, "names vary: {}", names.len());
    }

    #[sqlx::test(migrator = "crate::db::MIGRATOR")]
    async fn generated_products_are_readable_through_the_catalog(pool: PgPool) {
        assert_eq!(generate(&pool, 2_500).await.expect("generate"), 2_500);
        let (items, total) = crate::catalog::list(&pool, &crate::catalog::ProductQuery::default())
            .await
            .expect("list");
        assert_eq!(total, 2_500);
        let detail = crate::catalog::get(&pool, &items[0].slug)
            .await
            .expect("db")
            .expect("product");
        assert_eq!(detail.ports.len(), 1);
        assert_eq!(detail.versions.len(), 1);
        assert_eq!(
            generate(&pool, 10).await.expect("again"),
            10,
            "later runs add more"
        );
    }
}
