//! The demo data set behind `meshmart seed-demo` (demos only, never production). Each
//! context adds its part of the demo catalog here; the marker row makes `make run` load it
//! once and leave later edits by hand alone.

use sqlx::PgPool;

/// Name of the marker row for the current demo data set.
const DEMO_SET: &str = "demo";

/// What `seed` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeedOutcome {
    /// The demo data was loaded now.
    Loaded,
    /// It had been loaded before; nothing was changed.
    AlreadyPresent,
}

/// Loads the demo data set unless it was loaded before (or `force` is set).
#[tracing::instrument(skip(pool))]
pub async fn seed(pool: &PgPool, force: bool) -> Result<SeedOutcome, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let inserted = sqlx::query(
        r#"insert into demo_seed (name) values ($1)
           on conflict (name) do update set updated_at = now()
           where $2
           returning name"#,
    )
    .bind(DEMO_SET)
    .bind(force)
    .fetch_optional(&mut *tx)
    .await?;
    if inserted.is_none() {
        return Ok(SeedOutcome::AlreadyPresent);
    }
    // The contexts' demo data is inserted here, in this transaction, as they arrive.
    tx.commit().await?;
    Ok(SeedOutcome::Loaded)
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
