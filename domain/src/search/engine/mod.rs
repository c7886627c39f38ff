//! Answering a search: the query plan (every word must match somewhere, falling back to any
//! word when that finds nothing), ranking, highlights, explanations and spelling
//! suggestions. Ranking, the total and facet counts come from one pass over the matches
//! (see `tally`); each word is one union of its terms (see `word`).
//!
//! Ranking, in order of strength: an exact name, slug, topic or event-type match (case,
//! spaces and separators ignored) outranks everything; then matches in the name (×5), in
//! topics, event types and schema field names (×3), in domain, tags and owners (×1.5) and in
//! descriptions (×1), each BM25-scored. A word found nowhere as typed matches within its
//! typo budget, and the word being typed also matches as a prefix; both score below an
//! exact word. The sum is multiplied by the status (active 1, draft 0.8, deprecated 0.5,
//! retired 0.25) and mildly by popularity (1 + 0.05·ln(1 + subscribers)).
//!
//! This file holds what a search asks and answers and runs one; the query is built in
//! `build.rs`, collected in `collect.rs`, its hits made in `hits.rs`, their scores
//! explained in `explain.rs` and corrections suggested in `suggest.rs`.

mod build;
mod collect;
mod explain;
mod hits;
mod suggest;

use std::collections::BTreeMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tantivy::query::{Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{Score, Term};

use super::document::Owner;
pub use super::query::Sort;
use super::query::{self, FilterKey};
use super::schema::FACETS;
use super::tally;
pub use super::tally::FacetValue;
use super::text::Segment;
use super::{SearchError, SearchIndex};
use hits::hit;

/// Most hits one page returns.
pub const MAX_LIMIT: usize = 100;
/// Deepest offset served; past it, narrow the query instead.
pub const MAX_OFFSET: usize = 10_000;

/// A search as asked.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SearchRequest {
    /// The search box's text (words, phrases, filters).
    pub q: String,
    /// Filters given besides the text (API parameters, facet toggles).
    pub filters: Vec<(FilterKey, String)>,
    pub sort: Sort,
    pub limit: usize,
    pub offset: usize,
    /// Whether hits carry their score components.
    pub explain: bool,
    /// The facet dimensions counted, in the order of [`FACETS`]: all by default (the
    /// search page shows them); an API caller asks for those it wants. A dimension not
    /// counted is left out of the results and costs nothing per match.
    pub facets: [bool; FACETS.len()],
    /// Whether hits carry highlights (the matched words of their name, description,
    /// fields and topics); by default they do.
    pub highlights: bool,
}

impl Default for SearchRequest {
    fn default() -> Self {
        SearchRequest {
            q: String::new(),
            filters: Vec::new(),
            sort: Sort::default(),
            limit: 0,
            offset: 0,
            explain: false,
            facets: [true; FACETS.len()],
            highlights: true,
        }
    }
}

/// Whether a search may be answered from the answers kept for the index's current
/// contents (see `cache`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reuse {
    /// A kept answer will do: it is what computing would give.
    Kept,
    /// Compute it (an HTTP client's `Cache-Control: no-cache`); the answer is kept.
    Compute,
}

/// A page of results.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SearchResults {
    /// Shared, so that keeping an answer or answering from the kept ones copies no hit.
    pub hits: std::sync::Arc<[Hit]>,
    /// Products matching, over all pages.
    pub total: u64,
    /// Per dimension (`domain`, `tag`, `owner`, `format`, `status`, `sla`), the values among
    /// the matching products with their counts, most frequent first.
    pub facets: BTreeMap<String, Vec<FacetValue>>,
    pub took_ms: f64,
    /// A corrected query, when this one found nothing and the correction finds something.
    pub suggestion: Option<String>,
    /// Whether no product matched every word, so products matching some words are shown.
    pub relaxed: bool,
    /// Whether this is a kept answer of the same question on the same index contents
    /// (see `cache`); `took_ms` is then the time to find it.
    #[serde(default)]
    pub cached: bool,
}

/// One matching product.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Hit {
    pub slug: String,
    pub name: String,
    /// Domain slug.
    pub domain: String,
    pub domain_name: String,
    pub status: String,
    /// The stream's live status: `fresh`, `stale` or `no_data`.
    pub health: String,
    pub description: String,
    pub owners: Vec<Owner>,
    pub tags: Vec<String>,
    pub sla_tier: Option<String>,
    pub classification: Option<String>,
    pub topics: Vec<String>,
    pub subscribers: u64,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// The ranking score; `None` when sorted by something else.
    pub score: Option<Score>,
    /// Matched words in the name, description, schema fields and topics.
    pub highlights: Vec<Highlight>,
    /// Why it scored what it did, when asked for.
    pub explanation: Option<ScoreExplanation>,
}

/// Matched words in one attribute of a hit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Highlight {
    /// `name`, `description`, `fields` or `topics`.
    pub field: String,
    pub segments: Vec<Segment>,
}

/// A hit's score, taken apart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreExplanation {
    /// Additive parts: text matches per field group and the exact-match bonus.
    pub components: Vec<Component>,
    /// Multiplier for the product's status.
    pub status_factor: Score,
    /// Multiplier for its subscriber count.
    pub popularity_factor: Score,
    /// (sum of components) × status factor × popularity factor.
    pub total: Score,
}

/// One additive part of a score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Component {
    pub name: String,
    pub score: Score,
}

/// A query's words after the analyzer, with the prefix flag of the last one.
#[derive(Clone)]
pub(super) struct Plan {
    pub(super) words: Vec<String>,
    pub(super) phrases: Vec<Vec<String>>,
    prefix_last: bool,
    exact: Option<String>,
    pub(super) filters: Vec<(FilterKey, String)>,
    /// Whether the query had words, even if the analyzer dropped them all (words longer
    /// than it indexes): such a query matches exact keys only, never everything.
    had_text: bool,
}

impl SearchIndex {
    /// Runs `request`.
    pub fn search(&self, request: &SearchRequest) -> Result<SearchResults, SearchError> {
        self.search_with(request, Reuse::Kept)
    }

    /// Runs `request`, answering from the kept answers when `reuse` allows and one is kept
    /// for the index's current contents; a computed answer is kept for the next asker.
    pub fn search_with(
        &self,
        request: &SearchRequest,
        reuse: Reuse,
    ) -> Result<SearchResults, SearchError> {
        let started = Instant::now();
        if !self.is_ready() {
            return Err(SearchError::NotReady);
        }
        let searcher = self.reader.searcher();
        let generation = searcher.generation().generation_id();
        if reuse == Reuse::Kept
            && let Some(kept) = self.kept(generation, request, started)
        {
            return Ok(kept);
        }
        let results = self.compute(&searcher, request, started)?;
        self.answers.put(generation, request, &results);
        Ok(results)
    }

    /// The kept answer to `request` on `generation`, timed from `started`.
    pub(super) fn kept(
        &self,
        generation: u64,
        request: &SearchRequest,
        started: Instant,
    ) -> Option<SearchResults> {
        let mut kept = self.answers.get(generation, request)?;
        kept.cached = true;
        kept.took_ms = started.elapsed().as_secs_f64() * 1000.0;
        Some(kept)
    }

    fn compute(
        &self,
        searcher: &tantivy::Searcher,
        request: &SearchRequest,
        started: Instant,
    ) -> Result<SearchResults, SearchError> {
        let typed = query::parse(&request.q)?;
        let mut parsed = typed.clone();
        for (key, value) in &request.filters {
            parsed.add_filter(*key, value)?;
        }
        let plan = self.plan(&parsed);
        let limit = request.limit.clamp(1, MAX_LIMIT);
        let offset = request.offset.min(MAX_OFFSET);
        let sort = match request.sort {
            Sort::Relevance if !parsed.has_text() => Sort::Name,
            other => other,
        };

        let mut relaxed = false;
        let window = (limit, offset);
        let facets = request.facets;
        let mut page = self.collect(searcher, &plan, true, sort, window, facets)?;
        if page.total == 0 && plan.words.len() + plan.phrases.len() > 1 {
            relaxed = true;
            page = self.collect(searcher, &plan, false, sort, window, facets)?;
        }
        let suggestion = if page.total == 0 && parsed.has_text() {
            self.suggest(searcher, &typed, &parsed.filters)?
        } else {
            None
        };

        let parts = if request.explain {
            self.explain_parts(searcher, &plan)?
        } else {
            Vec::new()
        };
        let mut hits = Vec::with_capacity(page.docs.len());
        for (score, address) in page.docs {
            let product = self.product(searcher, address)?;
            let explanation = if request.explain && score.is_some() {
                Some(self.explain(searcher, &parts, &product)?)
            } else {
                None
            };
            hits.push(hit(product, score, &plan, request.highlights, explanation));
        }
        Ok(SearchResults {
            hits: hits.into(),
            total: page.total,
            // The dimensions asked for only: the tally reports no other.
            facets: tally::top_values(&page.facets),
            took_ms: started.elapsed().as_secs_f64() * 1000.0,
            suggestion,
            relaxed,
            cached: false,
        })
    }
}

fn term_query(term: Term) -> Box<dyn Query> {
    Box::new(TermQuery::new(term, IndexRecordOption::Basic))
}
