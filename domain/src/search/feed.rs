//! Keeping the index true to PostgreSQL. A statement trigger on `products` sends the slugs
//! of every committed change on the `search_changed` channel (`*` when too many to list), so
//! changes made by any process reach every listening index within a second. Notifications
//! can be lost while a listener reconnects, so [`sync`] — which compares every product's
//! change stamp with the index's — runs at start-up, after each reconnect and periodically.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use sqlx::postgres::PgListener;

use super::document;
use super::{SearchError, SearchIndex};

/// The channel the trigger notifies.
pub const CHANNEL: &str = "search_changed";
/// Above this many slugs in one batch, a full comparison is cheaper than a lookup by slug.
const BATCH_LIMIT: usize = 2_000;

/// What a sync changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub updated: usize,
    pub removed: usize,
    pub elapsed: Duration,
}

/// Brings the index in line with PostgreSQL: adds and replaces every product whose change
/// stamp differs and removes products that are gone. Marks the index ready.
pub async fn sync(index: &Arc<SearchIndex>, pool: &PgPool) -> Result<SyncReport, SearchError> {
    let started = Instant::now();
    let truth = document::versions(pool).await?;
    let indexed = {
        let index = Arc::clone(index);
        blocking(move || index.versions()).await?
    };
    let stale: Vec<String> = truth
        .iter()
        .filter(|(slug, version)| indexed.get(slug) != Some(version))
        .map(|(slug, _)| slug.clone())
        .collect();
    let live: BTreeSet<&str> = truth.iter().map(|(slug, _)| slug.as_str()).collect();
    let removed: Vec<String> = indexed
        .keys()
        .filter(|slug| !live.contains(slug.as_str()))
        .cloned()
        .collect();
    let report = SyncReport {
        updated: stale.len(),
        removed: removed.len(),
        elapsed: Duration::ZERO,
    };
    if !stale.is_empty() || !removed.is_empty() {
        let products = if stale.len() == truth.len() {
            document::load(pool, None).await?
        } else {
            document::load(pool, Some(&stale)).await?
        };
        let index = Arc::clone(index);
        blocking(move || index.apply(&products, &removed)).await?;
    }
    index.mark_ready();
    Ok(SyncReport {
        elapsed: started.elapsed(),
        ..report
    })
}

/// Rebuilds the index from PostgreSQL in one commit (`meshmart reindex`).
pub async fn rebuild(index: &Arc<SearchIndex>, pool: &PgPool) -> Result<SyncReport, SearchError> {
    let started = Instant::now();
    let products = document::load(pool, None).await?;
    let updated = products.len();
    let target = Arc::clone(index);
    blocking(move || target.replace_all(&products)).await?;
    index.mark_ready();
    Ok(SyncReport {
        updated,
        removed: 0,
        elapsed: started.elapsed(),
    })
}

/// Re-reads the products named by `slugs` and updates or removes their documents.
pub async fn refresh(
    index: &Arc<SearchIndex>,
    pool: &PgPool,
    slugs: &[String],
) -> Result<(), SearchError> {
    let products = document::load(pool, Some(slugs)).await?;
    let found: BTreeSet<&str> = products.iter().map(|p| p.slug.as_str()).collect();
    let removed: Vec<String> = slugs
        .iter()
        .filter(|slug| !found.contains(slug.as_str()))
        .cloned()
        .collect();
    let index = Arc::clone(index);
    blocking(move || index.apply(&products, &removed)).await
}

/// Follows the change channel until the task is dropped: syncs first, then applies each
/// batch of notifications, and syncs again after a reconnect and every `sync_every`.
pub fn spawn(
    index: Arc<SearchIndex>,
    pool: PgPool,
    sync_every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(error) = follow(&index, &pool, sync_every).await {
                tracing::warn!(%error, "search feed interrupted; retrying");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}

async fn follow(
    index: &Arc<SearchIndex>,
    pool: &PgPool,
    sync_every: Duration,
) -> Result<(), SearchError> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    let report = sync(index, pool).await?;
    tracing::info!(
        updated = report.updated,
        removed = report.removed,
        elapsed_ms = report.elapsed.as_millis() as u64,
        documents = index.len(),
        "search index in sync"
    );
    let mut tick = tokio::time::interval(sync_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.reset();
    loop {
        tokio::select! {
            received = listener.try_recv() => {
                let Some(first) = received? else {
                    // The connection dropped and was re-established: catch up.
                    sync(index, pool).await?;
                    continue;
                };
                let mut slugs = BTreeSet::new();
                let mut everything = false;
                let mut take = |payload: &str| {
                    for slug in payload.split_whitespace() {
                        if slug == "*" {
                            everything = true;
                        } else {
                            slugs.insert(slug.to_string());
                        }
                    }
                };
                take(first.payload());
                while let Some(next) = listener.next_buffered() {
                    take(next.payload());
                }
                if everything || slugs.len() > BATCH_LIMIT {
                    sync(index, pool).await?;
                } else {
                    let slugs: Vec<String> = slugs.into_iter().collect();
                    refresh(index, pool, &slugs).await?;
                }
            }
            _ = tick.tick() => {
                let report = sync(index, pool).await?;
                if report.updated + report.removed > 0 {
                    tracing::info!(updated = report.updated, removed = report.removed, "search index caught up");
                }
            }
        }
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, SearchError> + Send + 'static,
) -> Result<T, SearchError> {
    tokio::task::spawn_blocking(work).await.map_err(|error| {
        SearchError::Index(tantivy::TantivyError::InternalError(format!(
            "indexing task failed: {error}"
        )))
    })?
}
