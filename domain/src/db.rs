//! PostgreSQL access shared by every context: the one connection pool, the embedded
//! migrations and the liveness probe used by `/readyz`.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// The type of every `timestamptz` column. The compile-checked queries name it in a type
/// override (`created_at as "created_at: Timestamp"`): left to themselves, sqlx's macros map
/// `timestamptz` to the `time` crate's type whenever sqlx's `time` feature is on (a
/// dependency, the session store, turns it on), and the domain uses chrono.
pub type Timestamp = chrono::DateTime<chrono::Utc>;

/// The schema migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// Creates the process-wide pool without connecting yet, so the server can start (and say
/// so on `/readyz`) while the database is still coming up.
///
/// A connection is not pinged before each use (sqlx's default): that doubled the round
/// trips of every query, and pings were a fifth of a product page's server time. A
/// connection the database dropped fails the one query that finds out, and is closed; so
/// that this is rare, idle connections are let go after a minute.
pub fn lazy_pool(options: PgConnectOptions, max_connections: u32) -> PgPool {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(3))
        .test_before_acquire(false)
        .idle_timeout(Duration::from_secs(60))
        .connect_lazy_with(options)
}

/// Applies every pending migration.
#[tracing::instrument(skip_all)]
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

/// Succeeds when the database answers a trivial query.
pub async fn ping(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query!("select 1 as one")
        .fetch_one(pool)
        .await
        .map(|_| ())
}
