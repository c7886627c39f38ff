//! The ports as the catalog has them, read again when a product changed or every so often,
//! once for all of a process's consumers.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use domain::health::store::{self, CheckedPort};
use sqlx::PgPool;
use tokio::runtime::Handle;

use super::lock;

/// How often the ports (contracts, topics, schema ids) are read again.
const REFRESH_EVERY: Duration = Duration::from_secs(10);

/// How often the catalog is asked whether a product changed (a new contract version takes
/// effect, policy included, within about this long).
pub(super) const CHANGE_CHECK_EVERY: Duration = Duration::from_secs(1);

/// The ports as the catalog has them, read for all of a process's consumers by whichever
/// asks first once the last read is stale: the catalog is queried as often with several
/// consumers as with one.
#[derive(Default)]
pub(super) struct Catalog {
    state: Mutex<CatalogState>,
}

#[derive(Default)]
struct CatalogState {
    checked_at: Option<Instant>,
    loaded_at: Option<Instant>,
    stamp: Option<(i64, Option<DateTime<Utc>>)>,
    /// Goes up with every read of the ports.
    generation: u64,
    ports: Arc<Vec<CheckedPort>>,
}

impl Catalog {
    /// The ports and their generation (0 before the first read). The catalog is asked
    /// whether a product changed at most every [`CHANGE_CHECK_EVERY`], and the ports are
    /// read again when one did, or [`REFRESH_EVERY`] since the last read.
    pub(super) fn current(&self, pool: &PgPool, handle: &Handle) -> (u64, Arc<Vec<CheckedPort>>) {
        let mut state = lock(&self.state);
        let now = Instant::now();
        if state
            .checked_at
            .is_none_or(|at| now.duration_since(at) >= CHANGE_CHECK_EVERY)
        {
            state.checked_at = Some(now);
            let mut changed = false;
            if let Ok(stamp) = handle.block_on(store::catalog_stamp(pool)) {
                changed = state.stamp.is_some_and(|seen| seen != stamp);
                state.stamp = Some(stamp);
            }
            let due = state
                .loaded_at
                .is_none_or(|at| now.duration_since(at) >= REFRESH_EVERY);
            if changed || due {
                match handle.block_on(store::ports(pool)) {
                    Ok(ports) => {
                        state.loaded_at = Some(now);
                        state.ports = Arc::new(ports);
                        state.generation += 1;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "record checker could not read the ports");
                    }
                }
            }
        }
        (state.generation, Arc::clone(&state.ports))
    }
}
