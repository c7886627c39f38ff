//! Search over the catalog: a Tantivy index, on disk, with one document per data product
//! (name, description, domain, owners, tags, status, classification, SLA tier, ports and
//! topics, event types, schema field names and descriptions, subscriber count, update
//! time). PostgreSQL stays the truth; the index is a projection that [`feed`] keeps within
//! a second of it and that can always be rebuilt from it.
//!
//! One process owns one index directory: one `IndexWriter` behind a mutex (Tantivy's writer
//! is already multithreaded), one `IndexReader` reloaded after each commit, and a fresh
//! searcher per query. Every call here blocks, except [`SearchIndex::search_async`], which
//! async callers use: it takes one of a few turns and then searches on the blocking pool.

mod bits;
mod cache;
mod document;
mod engine;
pub mod feed;
mod query;
pub mod response;
mod schema;
mod segments;
mod tally;
pub mod text;
mod vocabulary;
mod word;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tantivy::directory::error::LockError;
use tantivy::store::Compressor;
use tantivy::{Index, IndexReader, IndexSettings, IndexWriter, ReloadPolicy, TantivyError, Term};

pub use document::{FieldDoc, Owner, PortDoc, ProductDoc, load, sla_tier, versions};
pub use engine::{
    Component, FacetValue, Highlight, Hit, MAX_LIMIT, MAX_OFFSET, Reuse, ScoreExplanation,
    SearchRequest, SearchResults, Sort,
};
pub use query::{
    FilterKey, MAX_FILTER_CHARS, MAX_QUERY_CHARS, MAX_TERMS, ParsedQuery, QueryError, STATUSES,
    parse,
};
pub use schema::FACETS;
use schema::Fields;
pub use text::Segment;

/// What the documents of an index directory were made with, beyond the schema (analyzer,
/// word splitting). Bump it when either changes: older indexes are then rebuilt.
const INDEX_FORMAT: &str = "meshmart-search 4: health field; simple tokenizer, remove-long 64, lowercase, ascii folding, camelCase split, exact keys lowercased before filtering";
/// The file that records [`INDEX_FORMAT`] in an index directory.
const FORMAT_FILE: &str = "meshmart-index-format";
/// The file this process locks while it owns an index directory.
const LOCK_FILE: &str = ".meshmart-index.lock";

/// Memory the writer may use before it flushes a segment, shared by its threads.
const WRITER_MEMORY: usize = 128 * 1024 * 1024;
/// Indexing threads; the machine this runs on has few cores and also serves queries.
const WRITER_THREADS: usize = 2;
/// After a commit of this many staged products (a build), the writer is closed, and opened
/// again by the next change: its indexing threads end, and with them the memory their
/// allocator caches kept (about 150 MB after building 100,000 products, kept while idle).
const REOPEN_WRITER_AFTER: usize = 10_000;

/// Threads one search spreads its segments over, the calling thread included (the index
/// is built in about as many segments).
const SEARCH_THREADS: usize = 2;

/// Searches that may run at once, per core. More at once do not finish sooner on a busy
/// machine; each would hold a thread and that thread's allocator caches (several MB each:
/// at 200 concurrent clients the server once grew by 500 MB of such threads). The rest
/// wait for a turn without holding a thread.
const SEARCHES_PER_CORE: usize = 1;

/// The cores this process may use (its CPU quota included), at least 2.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().max(2))
}

/// Searches that may run at once ([`SEARCHES_PER_CORE`] per core). Each runs on the async
/// worker that took its request, so a server gives its runtime this many workers beyond
/// one per core: with every turn taken, other requests still find a free worker.
pub fn turns() -> usize {
    cores() * SEARCHES_PER_CORE
}

/// How indexes store documents: uncompressed, as a page of hits reads ten documents from
/// random places and decompressing their blocks costs more than the disk it saves (about
/// 100 MB rather than 35 MB per 100,000 products); and in blocks of 2 KB, one or two
/// products' cards, since Tantivy copies a hit's whole block out of the file (with 16 KB
/// blocks the copies took 3 % of a computed search's CPU). An index written with other
/// settings is rebuilt.
fn settings() -> IndexSettings {
    IndexSettings {
        docstore_compression: Compressor::None,
        docstore_blocksize: 2048,
        ..IndexSettings::default()
    }
}

/// Why searching or indexing failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The query text is wrong; the message says where and how to fix it.
    #[error("{0}")]
    Query(#[from] QueryError),
    /// The index is being built and does not hold every product yet.
    #[error("the search index is being rebuilt; try again in a few seconds")]
    NotReady,
    /// Another process holds the index directory.
    #[error("the search index at {0} is in use by another process")]
    Busy(PathBuf),
    #[error("search index failure: {0}")]
    Index(#[from] TantivyError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("search index directory: {0}")]
    Io(#[from] std::io::Error),
}

/// What opening an index directory found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Opened {
    /// A usable index; it may still lag PostgreSQL (see [`feed::sync`]).
    Existing,
    /// There was none; an empty one was created.
    Created,
    /// The one there could not be used (the reason says why) and was replaced by an empty one.
    Replaced(String),
}

/// The product search index of this process.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    /// `None` once closed after a large commit; opened again by the next change.
    writer: Mutex<Option<IndexWriter>>,
    /// Products staged since the writer was opened.
    staged: std::sync::atomic::AtomicUsize,
    fields: Fields,
    ready: AtomicBool,
    /// Held while this process owns the directory (none in memory).
    _lock: Option<std::fs::File>,
    /// What each segment's documents contribute to a search's tally.
    tables: segments::Tables<tally::SegmentTable>,
    /// Each segment's words, for expanding typed words.
    vocabularies: segments::Tables<vocabulary::Vocabulary>,
    /// Recent answers on the current contents.
    answers: cache::ResultCache,
    /// The threads that search segments beside the calling one.
    helpers: rayon::ThreadPool,
    /// Turns to search ([`turns`]), taken by [`SearchIndex::search_async`].
    turns: tokio::sync::Semaphore,
    /// [`cores`], read once (it reads the process's CPU quota from files).
    cores: usize,
    /// Held by whoever changes the index through [`feed`] (a sync, a rebuild, a refresh),
    /// from the first staged document to the commit: another writer's commit would land
    /// a half-staged change, and two syncs at once would each load the whole catalog.
    pub(crate) writing: tokio::sync::Mutex<()>,
}

impl SearchIndex {
    /// Opens the index in `dir`, creating it when missing and replacing it when it is
    /// corrupt or was written with another schema.
    pub fn open(dir: &Path) -> Result<(SearchIndex, Opened), SearchError> {
        let (expected, fields) = schema::build();
        std::fs::create_dir_all(dir)?;
        // Own the directory before judging (or clearing) what is in it.
        let lock = lock(dir)?;
        let opened = if !dir.join("meta.json").exists() {
            Opened::Created
        } else {
            match Index::open_in_dir(dir) {
                Ok(index) => match usable(dir, &index, &expected) {
                    Ok(()) => return Self::with(index, fields, dir, Opened::Existing, Some(lock)),
                    Err(reason) => Opened::Replaced(reason),
                },
                Err(error) => Opened::Replaced(format!("it could not be opened: {error}")),
            }
        };
        if let Opened::Replaced(_) = &opened {
            clear(dir)?;
        }
        let index = Index::builder()
            .schema(expected)
            .settings(settings())
            .create_in_dir(dir)?;
        std::fs::write(dir.join(FORMAT_FILE), INDEX_FORMAT)?;
        Self::with(index, fields, dir, opened, Some(lock))
    }

    /// An index in memory (tests and benchmarks that do not need a directory).
    pub fn in_memory() -> Result<SearchIndex, SearchError> {
        let (schema, fields) = schema::build();
        let index = Index::builder()
            .schema(schema)
            .settings(settings())
            .create_in_ram()?;
        Ok(Self::with(index, fields, Path::new("(memory)"), Opened::Created, None)?.0)
    }

    fn with(
        index: Index,
        fields: Fields,
        dir: &Path,
        opened: Opened,
        lock: Option<std::fs::File>,
    ) -> Result<(SearchIndex, Opened), SearchError> {
        schema::register_analyzer(&index);
        let writer = open_writer(&index).map_err(|error| match error {
            SearchError::Index(TantivyError::LockFailure(LockError::LockBusy, _)) => {
                SearchError::Busy(dir.to_path_buf())
            }
            other => other,
        })?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let cores = cores();
        let search = SearchIndex {
            index,
            reader,
            writer: Mutex::new(Some(writer)),
            staged: std::sync::atomic::AtomicUsize::new(0),
            fields,
            ready: AtomicBool::new(false),
            _lock: lock,
            tables: segments::Tables::default(),
            vocabularies: segments::Tables::default(),
            answers: cache::ResultCache::new(),
            helpers: rayon::ThreadPoolBuilder::new()
                .num_threads(SEARCH_THREADS - 1)
                .thread_name(|i| format!("search-helper-{i}"))
                .build()
                .map_err(|error| TantivyError::SystemError(error.to_string()))?,
            turns: tokio::sync::Semaphore::new(cores * SEARCHES_PER_CORE),
            cores,
            writing: tokio::sync::Mutex::new(()),
        };
        Ok((search, opened))
    }

    /// Makes the last commit searchable and prepares its new segments' tallies and
    /// vocabularies.
    fn reload(&self) -> Result<(), SearchError> {
        self.reader.reload()?;
        self.warm()?;
        Ok(())
    }

    fn warm(&self) -> tantivy::Result<()> {
        let searcher = self.reader.searcher();
        self.tables.warm(&searcher)?;
        self.vocabularies.warm(&searcher)
    }

    /// Runs [`SearchIndex::search`] once a turn is free ([`turns`]): the way async callers
    /// search, so that a burst of clients queues instead of holding a thread each. The
    /// search runs on the async worker that polls this: handing it to the blocking pool
    /// and back cost about 12 % of a computed search's CPU in thread wake-ups. A search
    /// takes 0.1 to 3 ms (a misspelt word's expansion up to about 12 ms), and a server
    /// gives its runtime a worker per turn beyond one per core, so other requests are not
    /// held up behind searches.
    pub async fn search_async(
        self: &Arc<Self>,
        request: SearchRequest,
    ) -> Result<SearchResults, SearchError> {
        self.search_async_with(request, Reuse::Kept).await
    }

    /// [`SearchIndex::search_async`], answering from the kept answers only when `reuse`
    /// allows. A kept answer is returned at once, without a turn.
    pub async fn search_async_with(
        self: &Arc<Self>,
        request: SearchRequest,
        reuse: Reuse,
    ) -> Result<SearchResults, SearchError> {
        if reuse == Reuse::Kept && self.is_ready() {
            let started = std::time::Instant::now();
            let generation = self.reader.searcher().generation().generation_id();
            if let Some(kept) = self.kept(generation, &request, started) {
                return Ok(kept);
            }
        }
        let _turn = self
            .turns
            .acquire()
            .await
            .map_err(|_| TantivyError::SystemError("search turns closed".to_string()))?;
        self.search_with(&request, reuse)
    }

    /// How many searches hold a turn now.
    fn searching(&self) -> usize {
        (self.cores * SEARCHES_PER_CORE).saturating_sub(self.turns.available_permits())
    }

    /// Whether the index holds every product (set once the first sync finished).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Marks the index as holding every product, with its segments' tallies and
    /// vocabularies prepared (an index opened up to date has had no commit to prepare them).
    pub fn mark_ready(&self) {
        if let Err(error) = self.warm() {
            // The first search prepares them instead.
            tracing::warn!(%error, "search tallies not prepared");
        }
        self.ready.store(true, Ordering::Release);
    }

    /// How many products the index holds.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Whether the index holds no product.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Replaces the documents of `upserts`, removes those of `deletes`, and commits: the
    /// next search sees the change.
    pub fn apply(&self, upserts: &[ProductDoc], deletes: &[String]) -> Result<(), SearchError> {
        self.stage(upserts, deletes, Staging::Replace)
            .and_then(|()| self.commit())
            .inspect_err(|_| self.roll_back())
    }

    /// Adds `upserts` (replacing their earlier documents under [`Staging::Replace`]) and
    /// removes `deletes` in the writer, without committing: a large change is staged batch
    /// by batch, so that only one batch of products is in memory at a time, then
    /// [`SearchIndex::commit`]ted once. Searches see none of it until then; on a failure,
    /// [`SearchIndex::roll_back`].
    pub fn stage(
        &self,
        upserts: &[ProductDoc],
        deletes: &[String],
        staging: Staging,
    ) -> Result<(), SearchError> {
        self.with_writer(|writer| {
            for slug in deletes {
                writer.delete_term(Term::from_field_text(self.fields.slug, slug));
            }
            for product in upserts {
                if staging == Staging::Replace {
                    writer.delete_term(Term::from_field_text(self.fields.slug, &product.slug));
                }
                writer.add_document(schema::to_document(&self.fields, product))?;
            }
            self.staged.fetch_add(upserts.len(), Ordering::Relaxed);
            Ok(())
        })
    }

    /// Stages the removal of every document (a rebuild's first step).
    pub fn stage_removal_of_all(&self) -> Result<(), SearchError> {
        self.with_writer(|writer| {
            writer.delete_all_documents()?;
            Ok(())
        })
    }

    /// Commits what was staged: the next search sees it. After a large commit the writer
    /// is closed once its merges finish ([`REOPEN_WRITER_AFTER`]).
    pub fn commit(&self) -> Result<(), SearchError> {
        let mut slot = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(writer) = slot.as_mut() {
            writer.commit()?;
        }
        if self.staged.load(Ordering::Relaxed) >= REOPEN_WRITER_AFTER
            && let Some(writer) = slot.take()
        {
            self.staged.store(0, Ordering::Relaxed);
            writer.wait_merging_threads()?;
        }
        drop(slot);
        self.reload()?;
        Ok(())
    }

    /// Drops what was staged since the last commit, so that a later commit never lands a
    /// half-done change.
    pub fn roll_back(&self) {
        let mut slot = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(writer) = slot.as_mut()
            && let Err(error) = writer.rollback()
        {
            tracing::error!(%error, "search index: staged changes not rolled back");
        }
    }

    /// Runs `change` with the writer, opening it first if a large commit closed it.
    fn with_writer<T>(
        &self,
        change: impl FnOnce(&mut IndexWriter) -> Result<T, SearchError>,
    ) -> Result<T, SearchError> {
        let mut slot = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let writer = match slot.as_mut() {
            Some(writer) => writer,
            None => slot.insert(open_writer(&self.index)?),
        };
        change(writer)
    }

    /// The change stamp of every indexed product, by slug.
    pub fn versions(&self) -> Result<HashMap<String, i64>, SearchError> {
        let searcher = self.reader.searcher();
        let mut versions = HashMap::with_capacity(searcher.num_docs() as usize);
        for segment in searcher.segment_readers() {
            let Some(slugs) = segment.fast_fields().str("slug")? else {
                continue;
            };
            let updated = segment
                .fast_fields()
                .i64("updated")?
                .first_or_default_col(0);
            let mut slug = String::new();
            for doc in segment.doc_ids_alive() {
                slug.clear();
                if let Some(ord) = slugs.term_ords(doc).next() {
                    slugs.ord_to_str(ord, &mut slug)?;
                    versions.insert(slug.clone(), updated.get_val(doc));
                }
            }
        }
        Ok(versions)
    }
}

/// Whether the products staged may already have documents in the index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Staging {
    /// Each product replaces its document, if the index has one.
    Replace,
    /// The index has no document of any of them (a rebuild, after the removal of all; the
    /// products a sync found missing): each is only added. Replacing costs a delete per
    /// product, which the writer keeps until the commit (a term query's weight, about
    /// 1.2 KB): at 100,000 products, 125 MB of a build's 250 MB peak.
    Add,
}

/// The index's writer, with Meshmart's threads and memory budget.
fn open_writer(index: &Index) -> Result<IndexWriter, SearchError> {
    Ok(index.writer_with_num_threads(WRITER_THREADS, WRITER_MEMORY)?)
}

/// Locks `dir` for this process, or says who has it.
fn lock(dir: &Path) -> Result<std::fs::File, SearchError> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(LOCK_FILE))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(SearchError::Busy(dir.to_path_buf())),
        Err(std::fs::TryLockError::Error(error)) => Err(SearchError::Io(error)),
    }
}

/// Why an existing index cannot be used, if it cannot.
fn usable(dir: &Path, index: &Index, expected: &tantivy::schema::Schema) -> Result<(), String> {
    let format = std::fs::read_to_string(dir.join(FORMAT_FILE)).unwrap_or_default();
    if format != INDEX_FORMAT {
        return Err("it was written by another version of Meshmart".to_string());
    }
    let same_schema =
        serde_json::to_value(index.schema()).ok() == serde_json::to_value(expected).ok();
    if !same_schema {
        return Err("it was written with a different schema".to_string());
    }
    let same_settings =
        serde_json::to_value(index.settings()).ok() == serde_json::to_value(settings()).ok();
    if !same_settings {
        return Err("it stores documents with other settings".to_string());
    }
    match index.validate_checksum() {
        Ok(damaged) if damaged.is_empty() => Ok(()),
        Ok(damaged) => Err(format!("{} of its files are damaged", damaged.len())),
        Err(error) => Err(format!("its files could not be checked: {error}")),
    }
}

/// Removes everything in `dir` but this process's lock, keeping the directory.
fn clear(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.file_name().is_some_and(|name| name == LOCK_FILE) {
            continue;
        }
        if path.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
