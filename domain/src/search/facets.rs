//! Facet counts: per dimension (domain, tag, owner, format, status, SLA tier), how many
//! matching products have each value. Values of one filter are alternatives, so a
//! dimension being filtered on is counted without its own filter. Broad queries (surely
//! matching half the catalog) are counted as the whole catalog's counts, kept per searcher
//! generation, minus the counts of what they miss.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, PoisonError};

use tantivy::collector::{Collector, FacetCollector};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query};
use tantivy::schema::Facet;
use tantivy::{DocId, Score, Searcher, SegmentReader, Term};

use super::engine::{FacetValue, Plan};
use super::query::FilterKey;
use super::schema::{FACETS, Group};
use super::{SearchError, SearchIndex};

/// Values returned per facet dimension.
const FACET_VALUES: usize = 20;
/// Catalogs smaller than this count facets directly, whatever the query.
const BROAD_CATALOG: u64 = 20_000;
impl SearchIndex {
    /// The facet counts of what `query` (built from `plan`) matches, each filtered
    /// dimension counted without its own filter.
    pub(super) fn facet_counts_for(
        &self,
        searcher: &Searcher,
        plan: &Plan,
        all_words: bool,
        query: &dyn Query,
        broad: bool,
    ) -> Result<Counts, SearchError> {
        let mut counts = self.facet_counts(searcher, query, broad)?;
        for dimension in FACETS {
            let Some(key) = FilterKey::parse(dimension) else {
                continue;
            };
            if !plan.filters.iter().any(|(k, _)| *k == key) {
                continue;
            }
            let mut others = plan.clone();
            others.filters.retain(|(k, _)| *k != key);
            let without = self.build(searcher, &others, all_words)?;
            let mut values =
                searcher.search(without.as_ref(), &DimensionCounter(vec![dimension]))?;
            counts.insert(dimension, values.remove(dimension).unwrap_or_default());
        }
        Ok(counts)
    }

    /// Whether the query surely matches at least half the catalog (every word and filter
    /// does, judged by document frequencies). Facets of such a query are cheaper to count
    /// as "all products minus those it does not match".
    pub(super) fn looks_broad(
        &self,
        searcher: &Searcher,
        plan: &Plan,
    ) -> Result<bool, SearchError> {
        let catalog = searcher.num_docs();
        if catalog < BROAD_CATALOG {
            return Ok(false);
        }
        if !plan.phrases.is_empty() {
            return Ok(false);
        }
        let mut smallest = catalog;
        for word in &plan.words {
            let mut widest = 0;
            for group in Group::ALL {
                let term = Term::from_field_text(self.fields.group(group), word);
                widest = widest.max(searcher.doc_freq(&term)?);
            }
            smallest = smallest.min(widest);
        }
        let mut by_key: BTreeMap<FilterKey, u64> = BTreeMap::new();
        for (key, value) in &plan.filters {
            let field = self.fields.filter(*key);
            let freq = searcher.doc_freq(&Term::from_field_text(field, value))?;
            let widest = by_key.entry(*key).or_default();
            *widest = (*widest).max(freq);
        }
        for freq in by_key.values() {
            smallest = smallest.min(*freq);
        }
        Ok(smallest * 2 >= catalog)
    }

    /// The facet counts of what `query` matches: counted directly, or for a broad query as
    /// the whole catalog's counts (kept per index generation) minus the counts of what it
    /// does not match.
    pub(super) fn facet_counts(
        &self,
        searcher: &Searcher,
        query: &dyn Query,
        broad: bool,
    ) -> Result<Counts, SearchError> {
        if !broad {
            return count_facets(searcher, query);
        }
        let generation = searcher.generation().generation_id();
        let all = {
            let cached = self
                .all_facets
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            cached
                .as_ref()
                .filter(|(g, _)| *g == generation)
                .map(|(_, counts)| Arc::clone(counts))
        };
        let all = match all {
            Some(all) => all,
            None => {
                let counted = Arc::new(count_facets(searcher, &AllQuery)?);
                *self
                    .all_facets
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) =
                    Some((generation, Arc::clone(&counted)));
                counted
            }
        };
        let rest = BooleanQuery::new(vec![
            (Occur::Must, Box::new(AllQuery) as Box<dyn Query>),
            (Occur::MustNot, query.box_clone()),
        ]);
        let missing = count_facets(searcher, &rest)?;
        let mut counts = (*all).clone();
        for (dimension, values) in missing {
            if let Some(total) = counts.get_mut(dimension) {
                for (value, count) in values {
                    if let Some(n) = total.get_mut(&value) {
                        *n = n.saturating_sub(count);
                    }
                }
            }
        }
        Ok(counts)
    }
}

/// Facet counts: per dimension, value → number of matching products.
pub(super) type Counts = BTreeMap<&'static str, HashMap<String, u64>>;

/// Counts the facets of the documents `query` matches (tantivy's facet collector: one
/// walk through each document's facet paths beats six column reads).
fn count_facets(searcher: &Searcher, query: &dyn Query) -> Result<Counts, SearchError> {
    let mut collector = FacetCollector::for_field("facets");
    for dimension in FACETS {
        collector.add_facet(Facet::from_path([dimension]));
    }
    let found = searcher.search(query, &collector)?;
    Ok(FACETS
        .iter()
        .map(|dimension| {
            let values = found
                .get(Facet::from_path([*dimension]))
                .filter_map(|(facet, count)| Some((facet.to_path().last()?.to_string(), count)))
                .collect();
            (*dimension, values)
        })
        .collect())
}

/// Counts the values of a facet dimension among the matches, from its fast column: one
/// column read per document, cheaper than tantivy's facet collector walking every facet
/// path of a document (which wins when all six dimensions are wanted).
struct DimensionCounter(Vec<&'static str>);

impl Collector for DimensionCounter {
    type Fruit = Counts;
    type Child = DimensionSegmentCounter;

    fn for_segment(
        &self,
        _: tantivy::SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<DimensionSegmentCounter> {
        let mut columns = Vec::with_capacity(self.0.len());
        for dimension in &self.0 {
            let column = segment.fast_fields().str(dimension)?;
            let counts = vec![0; column.as_ref().map_or(0, |c| c.num_terms())];
            columns.push((*dimension, column, counts));
        }
        Ok(DimensionSegmentCounter { columns })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Counts>) -> tantivy::Result<Counts> {
        let mut merged: Counts = self.0.iter().map(|d| (*d, HashMap::new())).collect();
        for fruit in fruits {
            for (dimension, values) in fruit {
                let into = merged.entry(dimension).or_default();
                for (value, count) in values {
                    *into.entry(value).or_default() += count;
                }
            }
        }
        Ok(merged)
    }
}

type DimensionColumn = (&'static str, Option<tantivy::columnar::StrColumn>, Vec<u64>);

struct DimensionSegmentCounter {
    columns: Vec<DimensionColumn>,
}

impl tantivy::collector::SegmentCollector for DimensionSegmentCounter {
    type Fruit = Counts;

    fn collect(&mut self, doc: DocId, _: Score) {
        for (_, column, counts) in &mut self.columns {
            if let Some(column) = column {
                for ord in column.term_ords(doc) {
                    if let Some(count) = counts.get_mut(ord as usize) {
                        *count += 1;
                    }
                }
            }
        }
    }

    fn harvest(self) -> Counts {
        let mut harvested = Counts::new();
        for (dimension, column, counts) in self.columns {
            let values = harvested.entry(dimension).or_default();
            let Some(column) = column else {
                continue;
            };
            for (ord, count) in counts.iter().enumerate() {
                let mut value = String::new();
                if *count > 0 && column.ord_to_str(ord as u64, &mut value).unwrap_or(false) {
                    values.insert(value, *count);
                }
            }
        }
        harvested
    }
}

/// The top values of each dimension, most frequent first (ties by value).
pub(super) fn top_values(counts: &Counts) -> BTreeMap<String, Vec<FacetValue>> {
    counts
        .iter()
        .map(|(dimension, values)| {
            let mut values: Vec<FacetValue> = values
                .iter()
                .filter(|(_, count)| **count > 0)
                .map(|(value, count)| FacetValue {
                    value: value.clone(),
                    count: *count,
                })
                .collect();
            values.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
            values.truncate(FACET_VALUES);
            ((*dimension).to_string(), values)
        })
        .collect()
}
