//! API tokens resolved recently, so that a script's requests do not each ask PostgreSQL
//! who is calling. Every server process keeps its own, bounded ([`CAPACITY`] tokens, each
//! trusted for at most [`TTL`]), and empties it whenever anything that decides a token's
//! access changes in any process: a trigger on `api_tokens` (revocation, deletion) and on
//! `users` (disabling, a changed e-mail, name or principal) notifies [`CHANNEL`], and each
//! process's [`TokenCache::watch`] listens. While the listener is not connected the cache
//! is not used at all, so a missed notification can never keep a revoked token alive; the
//! process that commits a revocation also empties its own cache at once
//! ([`TokenCache::forget_all`]) rather than waiting for its notification.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use sqlx::postgres::PgListener;

use super::User;

/// The channel the identity triggers notify.
pub const CHANNEL: &str = "identity_changed";
/// Tokens kept at most; when full, the cache starts again empty.
pub const CAPACITY: usize = 10_000;
/// How long a resolved token is trusted without asking PostgreSQL, as a bound behind the
/// notifications.
pub const TTL: Duration = Duration::from_secs(60);

/// A resolved token: who it belongs to, and when it was last marked used.
#[derive(Clone, Debug)]
pub(super) struct Resolved {
    pub prefix: String,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    pub user: User,
}

struct Entry {
    resolved: Resolved,
    at: Instant,
}

/// This process's resolved tokens, keyed by the token's SHA-256.
#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<Vec<u8>, Entry>>,
    /// Bumped by every emptying, so that a lookup that started before one is not cached.
    generation: AtomicU64,
    /// Whether the listener is connected: only then is the cache read or filled.
    live: AtomicBool,
}

impl TokenCache {
    /// An empty cache, not used until [`TokenCache::watch`] connects.
    pub fn new() -> Self {
        Self::default()
    }

    /// The resolved token for `digest`, if cached and fresh.
    pub(super) fn get(&self, digest: &[u8]) -> Option<Resolved> {
        if !self.live.load(Ordering::Acquire) {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(digest)
            .filter(|entry| entry.at.elapsed() < TTL)
            .map(|entry| entry.resolved.clone())
    }

    /// Where a lookup starts: pass it to [`TokenCache::put`].
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Keeps what a lookup that started at `generation` found, unless the cache was emptied
    /// since (the lookup may have read what a revocation was about to change).
    pub(super) fn put(&self, generation: u64, digest: Vec<u8>, resolved: Resolved) {
        if !self.live.load(Ordering::Acquire) {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(
            digest,
            Entry {
                resolved,
                at: Instant::now(),
            },
        );
    }

    /// Empties the cache: after a change to tokens or users, from a notification or from
    /// the process that committed it.
    pub fn forget_all(&self) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }

    /// How many tokens are cached.
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no token is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn set_live(&self, live: bool) {
        self.forget_all();
        self.live.store(live, Ordering::Release);
    }

    /// Follows [`CHANNEL`] until the task is aborted: the cache is used only while the
    /// listener is connected, and emptied on every notification and every (re)connection.
    pub fn watch(self: &std::sync::Arc<Self>, pool: PgPool) -> tokio::task::JoinHandle<()> {
        let cache = std::sync::Arc::clone(self);
        tokio::spawn(async move {
            loop {
                if let Err(error) = cache.follow(&pool).await {
                    tracing::warn!(%error, "token cache listener lost its connection; not caching until it is back");
                }
                cache.set_live(false);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    }

    async fn follow(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(CHANNEL).await?;
        // `recv` (not `try_recv`): a dropped connection is an error here, so the cache
        // stops being used until the listener is back.
        self.set_live(true);
        loop {
            listener.recv().await?;
            self.forget_all();
        }
    }
}
