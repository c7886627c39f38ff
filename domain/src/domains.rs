//! The data-mesh domains (teams) that own data products and scope the `owner` role. The
//! catalog grows this into the full domain model; identity needs it to say "owner of X".

use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};

/// A domain of the data mesh, e.g. `customer-management`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Domain {
    pub slug: String,
    pub name: String,
    pub description: String,
}

/// Errors of the domains module.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("invalid domain slug `{0}`: use lowercase letters, digits and single dashes")]
    InvalidSlug(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Whether `slug` is a well-formed domain slug.
pub fn is_valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= 63
        && slug.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// Every domain, by slug.
pub async fn list(pool: &PgPool) -> Result<Vec<Domain>, sqlx::Error> {
    sqlx::query_as!(
        Domain,
        r#"select slug, name, description from domains order by slug"#
    )
    .fetch_all(pool)
    .await
}

/// A domain with how many data products it owns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Summary {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub products: i64,
}

/// Every domain with its product count, by name.
pub async fn summaries(pool: &PgPool) -> Result<Vec<Summary>, sqlx::Error> {
    sqlx::query_as!(
        Summary,
        r#"select d.slug, d.name, d.description, count(p.id) as "products!"
           from domains d left join products p on p.domain = d.slug
           group by d.slug order by d.name"#,
    )
    .fetch_all(pool)
    .await
}

/// One domain with its product count, if it exists.
pub async fn summary(pool: &PgPool, slug: &str) -> Result<Option<Summary>, sqlx::Error> {
    sqlx::query_as!(
        Summary,
        r#"select d.slug, d.name, d.description,
                  (select count(*) from products p where p.domain = d.slug) as "products!"
           from domains d where d.slug = $1"#,
        slug,
    )
    .fetch_optional(pool)
    .await
}

/// Whether the domain exists.
pub async fn exists(conn: &mut PgConnection, slug: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select exists (select 1 from domains where slug = $1) as "exists!""#,
        slug,
    )
    .fetch_one(conn)
    .await
}

/// Creates the domain, or updates its name and description.
pub async fn upsert(conn: &mut PgConnection, domain: &Domain) -> Result<(), DomainError> {
    if !is_valid_slug(&domain.slug) {
        return Err(DomainError::InvalidSlug(domain.slug.clone()));
    }
    sqlx::query!(
        r#"insert into domains (slug, name, description) values ($1, $2, $3)
           on conflict (slug) do update
           set name = excluded.name, description = excluded.description, updated_at = now()"#,
        domain.slug,
        domain.name,
        domain.description,
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::is_valid_slug;

    #[test]
    fn slugs_are_lowercase_words_joined_by_single_dashes() {
        for good in ["sales", "customer-management", "a1-b2"] {
            assert!(is_valid_slug(good), "{good}");
        }
        for bad in [
            "",
            "Sales",
            "-sales",
            "sales-",
            "sales--eu",
            "sales eu",
            "sälj",
        ] {
            assert!(!is_valid_slug(bad), "{bad}");
        }
    }
}
