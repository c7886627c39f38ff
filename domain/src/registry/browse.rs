//! The registry's browser: every subject with what people look for first — the product
//! that publishes it, its schema type, latest version, how many versions, its effective
//! compatibility mode and when it last changed — searchable by subject, product or domain.
//! Subjects no product's port owns (test leftovers, hand-registered ones) are told apart.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::db::Timestamp;

/// One subject as the browser lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectRow {
    pub subject: String,
    pub schema_type: String,
    pub latest: i32,
    pub versions: i64,
    /// The subject's own mode, or the registry's global one.
    pub mode: String,
    /// The product whose output port's topic the subject is named after.
    pub product: Option<String>,
    pub product_name: Option<String>,
    pub domain: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// How many subjects a page lists at most; a search narrows the rest.
pub const PAGE: i64 = 200;

/// `sqlx::query!` over every subject with a live version, filtered by the rest of the query
/// (string literals, joined with `+` as the macro allows) with its arguments, mapped to
/// `(SubjectRow, how many rows matched before any limit)`.
macro_rules! select_subjects {
    ($($tail:literal)+ $(, $arg:expr)* $(,)?) => {
        sqlx::query!(
            r#"
    with latest as (
        select subject, max(version) as latest, count(*) as versions, max(created_at) as updated_at
        from registry_versions where deleted_at is null group by subject)
    select l.subject as "subject!", s.schema_type, l.latest as "latest!",
           l.versions as "versions!",
           coalesce(rs.compatibility, (select compatibility from registry_config)) as "mode!",
           p.slug as "product?", p.name as "product_name?", p.domain as "domain?",
           l.updated_at as "updated_at!: Timestamp", count(*) over () as "total!"
    from latest l
    join registry_subjects rs on rs.name = l.subject
    join registry_versions v on v.subject = l.subject and v.version = l.latest
    join registry_schemas s on s.id = v.schema_id
    left join output_ports o on o.topic = regexp_replace(l.subject, '-(value|key)$', '')
    left join products p on p.id = o.product_id
"# $(+ $tail)+
            $(, $arg)*
        )
        .map(|row| {
            let subject = SubjectRow {
                subject: row.subject,
                schema_type: row.schema_type,
                latest: row.latest,
                versions: row.versions,
                mode: row.mode,
                product: row.product,
                product_name: row.product_name,
                domain: row.domain,
                updated_at: row.updated_at,
            };
            (subject, row.total)
        })
    };
}

/// Subjects whose name, product (slug or name) or domain contains `q` (any case; every
/// subject without one), products' first, at most [`PAGE`]; and how many match in all.
/// `orphans` asks for the subjects no product owns instead.
pub async fn subjects(
    pool: &PgPool,
    q: Option<&str>,
    orphans: bool,
) -> Result<(Vec<SubjectRow>, i64), sqlx::Error> {
    let q = q.map(str::trim).filter(|q| !q.is_empty());
    let rows = select_subjects!(
        r#"
        where (p.slug is null) = $2
          and ($1::text is null
               or strpos(lower(l.subject), lower($1)) > 0
               or strpos(lower(coalesce(p.slug, '')), lower($1)) > 0
               or strpos(lower(coalesce(p.name, '')), lower($1)) > 0
               or strpos(lower(coalesce(p.domain, '')), lower($1)) > 0)
        order by l.subject limit $3"#,
        q,
        orphans,
        PAGE,
    )
    .fetch_all(pool)
    .await?;
    // Counted over every matching row, before the limit; none matched when there is no row.
    let total = rows.first().map_or(0, |(_, total)| *total);
    Ok((
        rows.into_iter().map(|(subject, _)| subject).collect(),
        total,
    ))
}

/// The subject `name`, if it has a live version.
pub async fn subject(pool: &PgPool, name: &str) -> Result<Option<SubjectRow>, sqlx::Error> {
    let found = select_subjects!("where l.subject = $1", name)
        .fetch_optional(pool)
        .await?;
    Ok(found.map(|(subject, _)| subject))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[sqlx::test(migrator = "crate::db::MIGRATOR")]
    async fn subjects_are_found_by_product_and_leftovers_are_told_apart(pool: PgPool) {
        crate::demo::seed(&pool, false).await.expect("demo");
        let schema = crate::registry::ParsedSchema::parse(
            crate::registry::SchemaType::Json,
            r#"{"type":"object","properties":{"a":{"type":"string"}}}"#,
        )
        .expect("schema");
        let mut conn = pool.acquire().await.expect("conn");
        crate::registry::register(
            &mut conn,
            "leftover-test-value",
            &schema,
            &crate::audit::Actor::Cli,
        )
        .await
        .expect("registered");
        drop(conn);

        let (found, total) = subjects(&pool, Some("Enriched"), false)
            .await
            .expect("query");
        assert_eq!(total, found.len() as i64);
        let enriched = found
            .iter()
            .find(|s| s.product.as_deref() == Some("enriched-customer-signed-up"))
            .expect("found by the product's name");
        assert_eq!(
            enriched.subject,
            "customer-intelligence.enriched-customer-signed-up.v1-value"
        );
        assert_eq!((enriched.latest, enriched.mode.as_str()), (1, "BACKWARD"));
        assert!(found.iter().all(|s| s.subject != "leftover-test-value"));

        let (orphans, _) = subjects(&pool, None, true).await.expect("query");
        assert_eq!(
            orphans
                .iter()
                .map(|s| s.subject.as_str())
                .collect::<Vec<_>>(),
            ["leftover-test-value"]
        );
        assert_eq!(
            subject(&pool, "leftover-test-value")
                .await
                .expect("query")
                .map(|s| s.product),
            Some(None)
        );
        assert_eq!(subject(&pool, "nothing-value").await.expect("query"), None);
    }
}
