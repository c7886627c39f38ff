//! Collecting what a query matches: the page, the total and the facet counts in one pass
//! over the index's segments (spread over threads for large searches), with filters on
//! facet dimensions checked per match. A large one-word search that counts no facet ranks
//! its page with block-max WAND instead and counts its matches apart, without scores.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::query::EnableScoring;
use tantivy::{DocAddress, Score, Searcher, SegmentOrdinal, SegmentReader};

use super::{Plan, Sort};
use crate::search::query::FilterKey;
use crate::search::schema::FACETS;
use crate::search::tally::{self, Counts, Tally};
use crate::search::{SEARCH_THREADS, SearchError, SearchIndex};

/// Postings a search walks through, roughly, from which it spreads the index's segments
/// over threads.
const PARALLEL_POSTINGS: u64 = 10_000;
/// Postings of a one-word search from which its page is ranked with pruning and its
/// matches counted apart (see `Tally::collect_pruned`). The unit tests' catalogs are
/// smaller, and they check that both ways find the same page.
#[cfg(not(test))]
const PRUNED_POSTINGS: u64 = 20_000;
#[cfg(test)]
const PRUNED_POSTINGS: u64 = 1_000;

impl SearchIndex {
    /// Ranks, counts and tallies the `facets` asked for of what `plan` matches in one
    /// pass. Filters on facet dimensions are checked per match rather than in the query,
    /// so each such dimension is counted without its own filter; owners (matched by name
    /// words too) stay in the query and their dimension is counted in a second pass
    /// without them.
    pub(super) fn collect(
        &self,
        searcher: &Searcher,
        plan: &Plan,
        all_words: bool,
        sort: Sort,
        window: (usize, usize),
        facets: [bool; FACETS.len()],
    ) -> Result<Page, SearchError> {
        let (limit, offset) = window;
        let found = self.tally(searcher, plan, all_words, sort, offset + limit, facets)?;
        let mut counts = found.counts;
        let in_query: std::collections::BTreeSet<FilterKey> = plan
            .filters
            .iter()
            .map(|(key, _)| *key)
            .filter(|key| tallied_dimension(*key).is_none())
            .collect();
        for key in in_query {
            let Some(dimension) = FACETS.iter().position(|d| *d == key.name()) else {
                continue;
            };
            if !facets[dimension] {
                continue;
            }
            let mut others = plan.clone();
            others.filters.retain(|(k, _)| *k != key);
            // Counting only: no page, so no order and no scores.
            let mut only = [false; FACETS.len()];
            only[dimension] = true;
            let mut recount = self.tally(searcher, &others, all_words, Sort::Name, 0, only)?;
            let values = recount.counts.remove(FACETS[dimension]).unwrap_or_default();
            counts.insert(FACETS[dimension], values);
        }
        Ok(Page {
            docs: found
                .top
                .into_iter()
                .skip(offset)
                .map(|(value, address)| (value.score(), address))
                .collect(),
            total: found.total,
            facets: counts,
        })
    }

    /// One pass over what `plan` matches, keeping the best `keep`, counting the
    /// dimensions `counted`.
    fn tally(
        &self,
        searcher: &Searcher,
        plan: &Plan,
        all_words: bool,
        sort: Sort,
        keep: usize,
        counted: [bool; FACETS.len()],
    ) -> Result<tally::Tallied, SearchError> {
        let mut in_query = plan.clone();
        in_query
            .filters
            .retain(|(key, _)| tallied_dimension(*key).is_none());
        let built = self.build(searcher, &in_query, all_words)?;
        let (query, walked) = (built.query, built.walked);
        let mut tally = Tally::new(&self.tables, sort, keep);
        for (dimension, values) in tallied_filters(plan) {
            tally = tally.filter(dimension, values);
        }
        tally = tally.counting(counted);
        let scoring = if tally.requires_scoring() {
            EnableScoring::enabled_from_searcher(searcher)
        } else {
            EnableScoring::disabled_from_searcher(searcher)
        };
        let weight = query.weight(scoring)?;
        // Handing a small search to another thread costs more than it saves, and so does
        // handing any to a core that other searches keep busy.
        let spread = walked >= PARALLEL_POSTINGS && self.cores_idle();
        // Ranking with pruning and counting apart pays off only for one word's large
        // union: otherwise Tantivy would walk every match twice, or the count alone would
        // cost what one pass does.
        if built.one_word && walked >= PRUNED_POSTINGS && tally.prunes() {
            let counter = query.weight(EnableScoring::disabled_from_searcher(searcher))?;
            return self.search_segments(searcher, &tally, spread, |ordinal, segment| {
                tally.collect_pruned(weight.as_ref(), counter.as_ref(), ordinal, segment)
            });
        }
        self.search_segments(searcher, &tally, spread, |ordinal, segment| {
            tally.collect_segment(weight.as_ref(), ordinal, segment)
        })
    }

    /// Whether the cores a search spreads over are idle as far as searching goes: the other
    /// searches holding a turn leave [`SEARCH_THREADS`] − 1 cores free. Under load they
    /// seldom do, and spreading there only added thread wake-ups (about 10 % of a computed
    /// search's CPU at 16 connections on 2 cores).
    fn cores_idle(&self) -> bool {
        self.searching() + SEARCH_THREADS - 1 <= self.cores
    }

    /// Runs `search` over every segment and merges what it finds with `collector`: on this
    /// thread alone, or `spread` over this thread and the helper threads, each taking the
    /// next segment not yet searched (largest first, so the last to finish has little
    /// left).
    fn search_segments<C: Collector>(
        &self,
        searcher: &Searcher,
        collector: &C,
        spread: bool,
        search: impl Fn(SegmentOrdinal, &SegmentReader) -> tantivy::Result<SegmentFruit<C>> + Sync,
    ) -> Result<C::Fruit, SearchError> {
        let segments = searcher.segment_readers();
        let mut order: Vec<usize> = (0..segments.len()).collect();
        order.sort_by_key(|i| std::cmp::Reverse(segments[*i].num_docs()));
        let fruits: Vec<Mutex<Option<tantivy::Result<SegmentFruit<C>>>>> =
            segments.iter().map(|_| Mutex::new(None)).collect();
        let next = AtomicUsize::new(0);
        let work = || {
            while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                let fruit = search(i as SegmentOrdinal, &segments[i]);
                *fruits[i].lock().unwrap_or_else(PoisonError::into_inner) = Some(fruit);
            }
        };
        if spread && segments.len() > 1 {
            self.helpers.in_place_scope(|scope| {
                scope.spawn(|_| work());
                work();
            });
        } else {
            work();
        }
        let fruits = fruits
            .into_iter()
            .filter_map(|fruit| fruit.into_inner().unwrap_or_else(PoisonError::into_inner))
            .collect::<tantivy::Result<Vec<_>>>()?;
        Ok(collector.merge_fruits(fruits)?)
    }
}

/// A page of addresses with optional scores, the total and the facet counts.
pub(super) struct Page {
    pub(super) docs: Vec<(Option<Score>, DocAddress)>,
    pub(super) total: u64,
    pub(super) facets: Counts,
}

/// The filters checked per match, by facet dimension (index into [`FACETS`]) with the
/// values accepted.
fn tallied_filters(plan: &Plan) -> Vec<(usize, Vec<String>)> {
    FACETS
        .iter()
        .enumerate()
        .filter_map(|(dimension, name)| {
            let values: Vec<String> = plan
                .filters
                .iter()
                .filter(|(k, _)| k.name() == *name && tallied_dimension(*k).is_some())
                .map(|(_, value)| value.clone())
                .collect();
            (!values.is_empty()).then_some((dimension, values))
        })
        .collect()
}

/// The facet dimension a filter is checked on per match, if it is: exact values of the
/// domain, tag, status, format and SLA tier. Owners also match words of their names, so
/// they are filtered in the query.
fn tallied_dimension(key: FilterKey) -> Option<usize> {
    if key == FilterKey::Owner {
        return None;
    }
    FACETS.iter().position(|d| *d == key.name())
}

/// What a collector finds in one segment.
type SegmentFruit<C> = <<C as Collector>::Child as SegmentCollector>::Fruit;
