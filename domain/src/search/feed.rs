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
use super::{SearchError, SearchIndex, Staging};

/// The channel the trigger notifies.
pub const CHANNEL: &str = "search_changed";
/// Above this many slugs in one batch, a full comparison is cheaper than a lookup by slug.
const BATCH_LIMIT: usize = 2_000;
/// Products read from PostgreSQL and staged in the index at a time when many change (a
/// first start, a rebuild): the index's memory while building is one batch of products
/// plus the writer's own budget, not the whole catalog (at 100,000 products, loading them
/// all at once made the server's peak 776 MB).
const LOAD_BATCH: usize = 2_000;

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
    let _writing = index.writing.lock().await;
    let truth = document::versions(pool).await?;
    let indexed = {
        let index = Arc::clone(index);
        blocking(move || index.versions()).await?
    };
    // Products the index lacks are only added; those it has in another version replaced.
    let (missing, changed): (Vec<String>, Vec<String>) = truth
        .iter()
        .filter(|(slug, version)| indexed.get(slug) != Some(version))
        .map(|(slug, _)| slug.clone())
        .partition(|slug| !indexed.contains_key(slug));
    let live: BTreeSet<&str> = truth.iter().map(|(slug, _)| slug.as_str()).collect();
    let removed: Vec<String> = indexed
        .keys()
        .filter(|slug| !live.contains(slug.as_str()))
        .cloned()
        .collect();
    let report = SyncReport {
        updated: missing.len() + changed.len(),
        removed: removed.len(),
        elapsed: Duration::ZERO,
    };
    if report.updated > 0 || !removed.is_empty() {
        let target = Arc::clone(index);
        blocking(move || target.stage(&[], &removed, Staging::Replace)).await?;
        let batches = [(&changed, Staging::Replace), (&missing, Staging::Add)];
        stage_in_batches(index, pool, &batches).await?;
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
    let _writing = index.writing.lock().await;
    let slugs: Vec<String> = document::versions(pool)
        .await?
        .into_iter()
        .map(|(slug, _)| slug)
        .collect();
    let updated = slugs.len();
    let target = Arc::clone(index);
    blocking(move || target.stage_removal_of_all()).await?;
    stage_in_batches(index, pool, &[(&slugs, Staging::Add)]).await?;
    index.mark_ready();
    Ok(SyncReport {
        updated,
        removed: 0,
        elapsed: started.elapsed(),
    })
}

/// Reads the products named by each list of slugs from PostgreSQL and stages them
/// [`LOAD_BATCH`] at a time as the list says, then commits everything staged (with what the
/// caller staged before) at once; on any failure nothing staged lands.
async fn stage_in_batches(
    index: &Arc<SearchIndex>,
    pool: &PgPool,
    lists: &[(&Vec<String>, Staging)],
) -> Result<(), SearchError> {
    let staged = async {
        for &(slugs, staging) in lists {
            for batch in slugs.chunks(LOAD_BATCH) {
                let products = document::load(pool, Some(batch)).await?;
                let target = Arc::clone(index);
                blocking(move || target.stage(&products, &[], staging)).await?;
            }
        }
        let target = Arc::clone(index);
        blocking(move || target.commit()).await
    }
    .await;
    if staged.is_err() {
        let target = Arc::clone(index);
        // Best effort: `blocking` only fails when the task panicked.
        let _ = blocking(move || {
            target.roll_back();
            Ok(())
        })
        .await;
    }
    staged
}

/// Re-reads the products named by `slugs` and updates or removes their documents.
pub async fn refresh(
    index: &Arc<SearchIndex>,
    pool: &PgPool,
    slugs: &[String],
) -> Result<(), SearchError> {
    let _writing = index.writing.lock().await;
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
