//! Answers of recent searches, kept for the index's current contents: the same question
//! asked again (a popular query, a second page view, a script polling) is answered from
//! memory instead of walking its matches again — what Solr's query result cache does.
//!
//! An answer is kept under the searcher generation that computed it. A commit makes a new
//! generation, and the first lookup or insertion under it empties the cache, so an answer
//! never outlives the contents it was computed from: a product added, changed, retired or
//! whose health or subscriber count changed is searched afresh as soon as the index holds
//! it. Answers with explanations are not kept (they are asked for while tuning a query).
//!
//! Bounded by the estimated size of what it holds ([`BUDGET`]), least recently used first
//! out; an answer larger than [`LARGEST`] is not kept.

use std::num::NonZeroUsize;
use std::sync::{Mutex, PoisonError};

use lru::LruCache;

use super::engine::{SearchRequest, SearchResults};

/// Estimated bytes of answers kept at most, per process.
pub const BUDGET: usize = 16 * 1024 * 1024;
/// An answer estimated larger than this is not kept (a 100-hit page with every facet is
/// about 120 KB).
pub const LARGEST: usize = 256 * 1024;
/// Answers kept at most, however small.
const ENTRIES: usize = 8_192;

struct Kept {
    results: SearchResults,
    bytes: usize,
}

struct Inner {
    /// The searcher generation the kept answers were computed on.
    generation: u64,
    entries: LruCache<SearchRequest, Kept>,
    bytes: usize,
}

/// Recent answers for the index's current generation.
pub(super) struct ResultCache {
    inner: Mutex<Inner>,
}

impl ResultCache {
    pub(super) fn new() -> ResultCache {
        ResultCache {
            inner: Mutex::new(Inner {
                generation: 0,
                entries: LruCache::new(NonZeroUsize::new(ENTRIES).unwrap_or(NonZeroUsize::MIN)),
                bytes: 0,
            }),
        }
    }

    /// The kept answer to `request` computed on `generation`, if any.
    pub(super) fn get(&self, generation: u64, request: &SearchRequest) -> Option<SearchResults> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if generation != inner.generation {
            // A newer generation: what is kept was computed on contents now gone.
            if generation > inner.generation {
                inner.clear(generation);
            }
            return None;
        }
        inner.entries.get(request).map(|kept| kept.results.clone())
    }

    /// Keeps `results`, the answer to `request` on `generation`, unless a later generation
    /// has been seen already or it is too large.
    pub(super) fn put(&self, generation: u64, request: &SearchRequest, results: &SearchResults) {
        if request.explain {
            return;
        }
        let bytes = estimate(request, results);
        if bytes > LARGEST {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if generation < inner.generation {
            return;
        }
        if generation > inner.generation {
            inner.clear(generation);
        }
        let kept = Kept {
            results: results.clone(),
            bytes,
        };
        if let Some((_, old)) = inner.entries.push(request.clone(), kept) {
            inner.bytes -= old.bytes;
        }
        inner.bytes += bytes;
        while inner.bytes > BUDGET {
            match inner.entries.pop_lru() {
                Some((_, old)) => inner.bytes -= old.bytes,
                None => break,
            }
        }
    }

    /// How many answers are kept and their estimated bytes.
    #[cfg(test)]
    pub(super) fn size(&self) -> (usize, usize) {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        (inner.entries.len(), inner.bytes)
    }
}

impl Inner {
    fn clear(&mut self, generation: u64) {
        self.entries.clear();
        self.bytes = 0;
        self.generation = generation;
    }
}

/// The heap an answer and its key take, roughly: their text, plus a fixed amount per hit,
/// highlight segment and facet value for the structures around it.
fn estimate(request: &SearchRequest, results: &SearchResults) -> usize {
    let key = request.q.len()
        + request
            .filters
            .iter()
            .map(|(_, v)| v.len() + 32)
            .sum::<usize>();
    let hits: usize = results
        .hits
        .iter()
        .map(|hit| {
            let texts = hit.slug.len()
                + hit.name.len()
                + hit.domain.len()
                + hit.domain_name.len()
                + hit.status.len()
                + hit.health.len()
                + hit.description.len()
                + hit.sla_tier.as_ref().map_or(0, String::len)
                + hit.classification.as_ref().map_or(0, String::len);
            let lists = hit
                .tags
                .iter()
                .chain(&hit.topics)
                .map(|s| s.len() + 24)
                .sum::<usize>()
                + hit
                    .owners
                    .iter()
                    .map(|o| o.username.len() + o.name.len() + 48)
                    .sum::<usize>();
            let highlights = hit
                .highlights
                .iter()
                .map(|h| {
                    h.field.len() + 48 + h.segments.iter().map(|s| s.text.len() + 32).sum::<usize>()
                })
                .sum::<usize>();
            texts + lists + highlights + 320
        })
        .sum();
    let facets: usize = results
        .facets
        .iter()
        .map(|(d, values)| d.len() + 48 + values.iter().map(|v| v.value.len() + 40).sum::<usize>())
        .sum();
    key + hits + facets + results.suggestion.as_ref().map_or(0, String::len) + 256
}
