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

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tantivy::collector::{Collector, SegmentCollector, TopDocs};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, EnableScoring, FuzzyTermQuery, Occur,
    PhraseQuery, Query, TermQuery, Weight,
};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, Score, Searcher, SegmentOrdinal, Term};

use super::document::{Owner, ProductDoc};
pub use super::query::Sort;
use super::query::{self, FilterKey, ParsedQuery};
use super::schema::{self, FACETS, Group};
pub use super::tally::FacetValue;
use super::tally::{self, Counts, Tally, popularity_factor, status_factor};
use super::text::{self, Segment};
use super::vocabulary::{GroupFreqs, Words};
use super::word::WordQuery;
use super::{SearchError, SearchIndex};

/// An exact name or topic match's bonus: more than any text match can reach.
const EXACT_BOOST: Score = 100.0;
/// Most hits one page returns.
pub const MAX_LIMIT: usize = 100;
/// Deepest offset served; past it, narrow the query instead.
pub const MAX_OFFSET: usize = 10_000;
/// What a word completing the one being typed counts, relative to the word itself.
const PREFIX_WEIGHT: Score = 0.6;
/// What a word within the typo budget counts, relative to the word as typed.
const TYPO_WEIGHT: Score = 0.5;
/// Most indexed words one typed word expands to per field (the most frequent are kept).
const MAX_EXPANSIONS: usize = 48;
/// Postings a search walks through, roughly, from which it spreads the index's segments
/// over threads.
const PARALLEL_POSTINGS: u64 = 10_000;
/// How much more common than the rarest word of an intersection a word must be to be
/// skipped through rather than read.
const SKIPPED_RATIO: u64 = 8;

/// A search as asked.
#[derive(Clone, Debug)]
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

/// A page of results.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SearchResults {
    pub hits: Vec<Hit>,
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
        let started = Instant::now();
        if !self.is_ready() {
            return Err(SearchError::NotReady);
        }
        let typed = query::parse(&request.q)?;
        let mut parsed = typed.clone();
        for (key, value) in &request.filters {
            parsed.add_filter(*key, value)?;
        }
        let plan = self.plan(&parsed);
        let searcher = self.reader.searcher();
        let limit = request.limit.clamp(1, MAX_LIMIT);
        let offset = request.offset.min(MAX_OFFSET);
        let sort = match request.sort {
            Sort::Relevance if !parsed.has_text() => Sort::Name,
            other => other,
        };

        let mut relaxed = false;
        let window = (limit, offset);
        let facets = request.facets;
        let mut page = self.collect(&searcher, &plan, true, sort, window, facets)?;
        if page.total == 0 && plan.words.len() + plan.phrases.len() > 1 {
            relaxed = true;
            page = self.collect(&searcher, &plan, false, sort, window, facets)?;
        }
        let suggestion = if page.total == 0 && parsed.has_text() {
            self.suggest(&searcher, &typed, &parsed.filters)?
        } else {
            None
        };

        let parts = if request.explain {
            self.explain_parts(&searcher, &plan)?
        } else {
            Vec::new()
        };
        let mut hits = Vec::with_capacity(page.docs.len());
        for (score, address) in page.docs {
            let product = self.product(&searcher, address)?;
            let explanation = if request.explain && score.is_some() {
                Some(self.explain(&searcher, &parts, &product)?)
            } else {
                None
            };
            hits.push(hit(product, score, &plan, request.highlights, explanation));
        }
        Ok(SearchResults {
            hits,
            total: page.total,
            // The dimensions asked for only: the tally reports no other.
            facets: tally::top_values(&page.facets),
            took_ms: started.elapsed().as_secs_f64() * 1000.0,
            suggestion,
            relaxed,
        })
    }

    /// Runs the analyzer over the parsed words, so query terms equal indexed terms.
    pub(super) fn plan(&self, parsed: &ParsedQuery) -> Plan {
        let analyse = |words: &[String]| -> Vec<String> {
            let mut analyzer = self
                .index
                .tokenizers()
                .get(schema::ANALYZER)
                .unwrap_or_default();
            let mut out = Vec::new();
            for word in words {
                let mut stream = analyzer.token_stream(word);
                while stream.advance() {
                    out.push(stream.token().text.clone());
                }
            }
            out
        };
        Plan {
            words: analyse(&parsed.words),
            phrases: parsed
                .phrases
                .iter()
                .map(|p| analyse(p))
                .filter(|p| !p.is_empty())
                .collect(),
            prefix_last: parsed.prefix_last,
            exact: parsed.exact.clone(),
            filters: parsed.filters.clone(),
            had_text: parsed.has_text(),
        }
    }

    /// The whole query: words (each required when `all_words`, else at least one), phrases,
    /// the exact-match bonus and the filters.
    /// The query, and roughly how many postings searching it walks through.
    pub(super) fn build(
        &self,
        searcher: &Searcher,
        plan: &Plan,
        all_words: bool,
    ) -> Result<(Box<dyn Query>, u64), SearchError> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let (text, mut walked) = self.text_clauses(searcher, plan, &Group::ALL, all_words)?;
        if text.is_empty() && plan.had_text {
            let only_exact = match &plan.exact {
                Some(exact) => self.exact_query(exact),
                None => Box::new(tantivy::query::EmptyQuery),
            };
            clauses.push((Occur::Must, only_exact));
        } else if text.is_empty() {
            walked = searcher.num_docs();
            clauses.push((
                Occur::Must,
                Box::new(ConstScoreQuery::new(Box::new(AllQuery), 0.0)),
            ));
        } else {
            let occur = if all_words {
                Occur::Must
            } else {
                Occur::Should
            };
            let words: Vec<(Occur, Box<dyn Query>)> =
                text.into_iter().map(|q| (occur, q)).collect();
            let words: Box<dyn Query> = Box::new(BooleanQuery::new(words));
            // The words match, or the whole text names the product exactly
            // (`orderplaced` is no word of `OrderPlaced`, but its exact key). Most texts
            // name no product: their words are then searched alone, one union less.
            let named = match &plan.exact {
                Some(exact) => searcher.doc_freq(&self.exact_term(exact))? > 0,
                None => false,
            };
            match &plan.exact {
                Some(exact) if named => {
                    let either = vec![
                        (Occur::Should, words),
                        (Occur::Should, self.exact_query(exact)),
                    ];
                    clauses.push((Occur::Must, Box::new(BooleanQuery::new(either))));
                }
                _ => clauses.push((Occur::Must, words)),
            }
        }
        for filter in self.filter_queries(&plan.filters) {
            clauses.push((Occur::Must, Box::new(ConstScoreQuery::new(filter, 0.0))));
        }
        Ok((Box::new(BooleanQuery::new(clauses)), walked))
    }

    /// One query per word and per phrase, each matching in any field of `groups`, and how
    /// many postings the search will walk through, roughly (the rarest word's when the
    /// words are intersected, all words' otherwise). When the words are intersected, a word
    /// far more common than the rarest one is only ever skipped through, so it gets the
    /// union that skips cheaply (see `word`).
    fn text_clauses(
        &self,
        searcher: &Searcher,
        plan: &Plan,
        groups: &[Group],
        intersect: bool,
    ) -> Result<(Vec<Box<dyn Query>>, u64), SearchError> {
        let mut clauses = Vec::new();
        let last = plan.words.len().saturating_sub(1);
        let mut words = Vec::with_capacity(plan.words.len());
        for (i, word) in plan.words.iter().enumerate() {
            let prefix = plan.prefix_last && i == last;
            words.push(self.word_terms(searcher, word, prefix, groups)?);
        }
        let reach = |terms: &Vec<(Term, Score, u64)>| terms.iter().map(|t| t.2).sum::<u64>();
        let rarest = words.iter().map(reach).min().unwrap_or(0);
        let walked = if intersect {
            rarest
        } else {
            words.iter().map(reach).sum()
        };
        for terms in words {
            let skipped = intersect && reach(&terms) >= rarest.saturating_mul(SKIPPED_RATIO);
            let terms = terms
                .into_iter()
                .map(|(term, weight, _)| (term, weight))
                .collect();
            clauses.push(Box::new(WordQuery::new(terms, skipped)) as Box<dyn Query>);
        }
        for phrase in &plan.phrases {
            let mut any = Vec::new();
            for group in groups {
                let field = self.fields.group(*group);
                let terms: Vec<Term> = phrase
                    .iter()
                    .map(|w| Term::from_field_text(field, w))
                    .collect();
                let query: Box<dyn Query> = if terms.len() == 1 {
                    Box::new(TermQuery::new(
                        terms[0].clone(),
                        IndexRecordOption::WithFreqs,
                    ))
                } else {
                    Box::new(PhraseQuery::new(terms))
                };
                any.push((Occur::Should, boost(query, group.weight())));
            }
            clauses.push(Box::new(BooleanQuery::new(any)) as Box<dyn Query>);
        }
        // Phrases are not estimated: assume the whole catalog.
        let walked = if plan.phrases.is_empty() {
            walked
        } else {
            searcher.num_docs()
        };
        Ok((clauses, walked))
    }

    /// A word in any field of `groups`, as weighted terms with their document frequencies:
    /// the word as typed where a field has it. A word no field has matches the words within
    /// its typo budget, and the word being typed also matches the words it begins in fields
    /// that lack it; both score below an exact word. Expanding to real terms (rather than
    /// matching an automaton per document) keeps broad prefixes cheap and lets corrected
    /// words rank by BM25 too.
    fn word_terms(
        &self,
        searcher: &Searcher,
        word: &str,
        prefix: bool,
        groups: &[Group],
    ) -> Result<Vec<(Term, Score, u64)>, SearchError> {
        let mut terms = Vec::new();
        let mut missing = Vec::new();
        for group in groups {
            let term = Term::from_field_text(self.fields.group(*group), word);
            match searcher.doc_freq(&term)? {
                0 => missing.push(*group),
                freq => terms.push((term, group.weight(), freq)),
            }
        }
        let begins = prefix && word.chars().count() >= 2;
        let budget = text::typo_budget(word);
        let fuzzy = if budget > 0 && terms.is_empty() {
            let probe = Term::from_field_text(self.fields.name, word);
            Some(FuzzyTermQuery::new(probe, budget, true).automaton()?)
        } else {
            None
        };
        let prefixed = if begins && !missing.is_empty() {
            self.vocabulary_words(searcher, &Words::Beginning(word))?
        } else {
            BTreeMap::new()
        };
        let corrected = match &fuzzy {
            Some(dfa) => self.vocabulary_words(searcher, &Words::Accepted(dfa))?,
            None => BTreeMap::new(),
        };
        for group in missing {
            let field = self.fields.group(group);
            let mut expanded: BTreeMap<String, (Score, u64)> = BTreeMap::new();
            for (candidate, freq) in in_group(&prefixed, group) {
                expanded.insert(candidate, (PREFIX_WEIGHT, freq));
            }
            for (candidate, freq) in in_group(&corrected, group) {
                expanded.entry(candidate).or_insert((TYPO_WEIGHT, freq));
            }
            for (candidate, (factor, freq)) in expanded {
                let term = Term::from_field_text(field, &candidate);
                terms.push((term, factor * group.weight(), freq));
            }
        }
        Ok(terms)
    }

    /// The `words` of the searcher's segments, with their document frequencies per group
    /// summed over segments.
    fn vocabulary_words(
        &self,
        searcher: &Searcher,
        words: &Words,
    ) -> Result<BTreeMap<String, GroupFreqs>, SearchError> {
        let mut found: BTreeMap<String, GroupFreqs> = BTreeMap::new();
        for segment in searcher.segment_readers() {
            let vocabulary = self.vocabularies.get(segment)?;
            vocabulary.visit(words, |word, freqs| {
                let sums = found
                    .entry(String::from_utf8_lossy(word).into_owned())
                    .or_default();
                for (sum, freq) in sums.iter_mut().zip(freqs) {
                    *sum += freq;
                }
            });
        }
        Ok(found)
    }

    fn exact_term(&self, key: &str) -> Term {
        Term::from_field_text(self.fields.exact, key)
    }

    fn exact_query(&self, key: &str) -> Box<dyn Query> {
        let query = TermQuery::new(self.exact_term(key), IndexRecordOption::Basic);
        Box::new(ConstScoreQuery::new(Box::new(query), EXACT_BOOST))
    }

    /// One query per filter key; several values of one key are alternatives.
    fn filter_queries(&self, filters: &[(FilterKey, String)]) -> Vec<Box<dyn Query>> {
        let mut by_key: BTreeMap<FilterKey, Vec<&str>> = BTreeMap::new();
        for (key, value) in filters {
            by_key.entry(*key).or_default().push(value);
        }
        by_key
            .into_iter()
            .map(|(key, values)| {
                let any: Vec<(Occur, Box<dyn Query>)> = values
                    .into_iter()
                    .map(|value| (Occur::Should, self.filter_query(key, value)))
                    .collect();
                Box::new(BooleanQuery::new(any)) as Box<dyn Query>
            })
            .collect()
    }

    fn filter_query(&self, key: FilterKey, value: &str) -> Box<dyn Query> {
        let f = &self.fields;
        match key {
            FilterKey::Owner => {
                // An owner is named by username, or by words of their name or username.
                let mut any: Vec<(Occur, Box<dyn Query>)> = vec![(
                    Occur::Should,
                    term_query(Term::from_field_text(f.owner, value)),
                )];
                let words: Vec<(Occur, Box<dyn Query>)> = text::words(value)
                    .into_iter()
                    .map(|w| {
                        (
                            Occur::Must,
                            term_query(Term::from_field_text(f.owner_words, &w)),
                        )
                    })
                    .collect();
                if !words.is_empty() {
                    any.push((Occur::Should, Box::new(BooleanQuery::new(words))));
                }
                Box::new(BooleanQuery::new(any))
            }
            other => term_query(Term::from_field_text(f.filter(other), value)),
        }
    }

    /// Ranks, counts and tallies the `facets` asked for of what `plan` matches in one
    /// pass. Filters on facet dimensions are checked per match rather than in the query,
    /// so each such dimension is counted without its own filter; owners (matched by name
    /// words too) stay in the query and their dimension is counted in a second pass
    /// without them.
    fn collect(
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
        let (query, walked) = self.build(searcher, &in_query, all_words)?;
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
        // Handing a small search to another thread costs more than it saves.
        self.search_segments(
            searcher,
            weight.as_ref(),
            &tally,
            walked >= PARALLEL_POSTINGS,
        )
    }

    /// Runs `collector` over every segment: on this thread alone, or `spread` over this
    /// thread and the helper threads, each taking the next segment not yet searched
    /// (largest first, so the last to finish has little left).
    fn search_segments<C: Collector>(
        &self,
        searcher: &Searcher,
        weight: &dyn Weight,
        collector: &C,
        spread: bool,
    ) -> Result<C::Fruit, SearchError> {
        let segments = searcher.segment_readers();
        let mut order: Vec<usize> = (0..segments.len()).collect();
        order.sort_by_key(|i| std::cmp::Reverse(segments[*i].num_docs()));
        let fruits: Vec<Mutex<Option<tantivy::Result<SegmentFruit<C>>>>> =
            segments.iter().map(|_| Mutex::new(None)).collect();
        let next = AtomicUsize::new(0);
        let work = || {
            while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                let fruit = collector.collect_segment(weight, i as SegmentOrdinal, &segments[i]);
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

    /// The stored card of a hit (descriptions of ports and fields left out).
    fn product(&self, searcher: &Searcher, address: DocAddress) -> Result<ProductDoc, SearchError> {
        use tantivy::schema::Value;
        let doc: tantivy::TantivyDocument = searcher.doc(address)?;
        let card = doc
            .get_first(self.fields.card)
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        serde_json::from_str(card).map_err(|error| {
            SearchError::Index(tantivy::TantivyError::InternalError(format!(
                "unreadable stored product: {error}"
            )))
        })
    }

    /// The additive parts of a score, each as a query: the text clauses of each field
    /// group, and the exact-match bonus. Built once per search.
    fn explain_parts(
        &self,
        searcher: &Searcher,
        plan: &Plan,
    ) -> Result<Vec<ExplainPart>, SearchError> {
        let mut parts: Vec<ExplainPart> = Vec::new();
        for group in Group::ALL {
            let clauses: Vec<(Occur, Box<dyn Query>)> = self
                .text_clauses(searcher, plan, &[group], false)?
                .0
                .into_iter()
                .map(|q| (Occur::Should, q))
                .collect();
            if !clauses.is_empty() {
                let name = format!("{} match (×{})", group.label(), group.weight());
                parts.push((name, Box::new(BooleanQuery::new(clauses))));
            }
        }
        if let Some(exact) = &plan.exact {
            parts.push((
                "exact name or topic match".to_string(),
                self.exact_query(exact),
            ));
        }
        Ok(parts)
    }

    /// The score of `product`, taken apart: each part is what its query scores searched
    /// within the one product (scores add up, so the parts sum to the text score).
    fn explain(
        &self,
        searcher: &Searcher,
        parts: &[ExplainPart],
        product: &ProductDoc,
    ) -> Result<ScoreExplanation, SearchError> {
        let mut components = Vec::new();
        for (name, query) in parts {
            let score = self.score_within(searcher, query.box_clone(), product)?;
            if score > 0.0 {
                components.push(Component {
                    name: name.clone(),
                    score,
                });
            }
        }
        let status = status_factor(schema::status_rank(&product.status));
        let popularity = popularity_factor(product.subscribers);
        let sum: Score = components.iter().map(|c| c.score).sum();
        Ok(ScoreExplanation {
            components,
            status_factor: status,
            popularity_factor: popularity,
            total: sum * status * popularity,
        })
    }

    /// What `query` scores for `product` (0 when it does not match).
    fn score_within(
        &self,
        searcher: &Searcher,
        query: Box<dyn Query>,
        product: &ProductDoc,
    ) -> Result<Score, SearchError> {
        let only = term_query(Term::from_field_text(self.fields.slug, &product.slug));
        let within = BooleanQuery::new(vec![
            (Occur::Must, query),
            (Occur::Must, Box::new(ConstScoreQuery::new(only, 0.0))),
        ]);
        let top = searcher.search(&within, &TopDocs::with_limit(1).order_by_score())?;
        Ok(top.first().map_or(0.0, |(score, _)| *score))
    }

    /// A query with each unknown word replaced by the most frequent indexed word within two
    /// typos, if that query finds something.
    fn suggest(
        &self,
        searcher: &Searcher,
        typed: &ParsedQuery,
        filters: &[(FilterKey, String)],
    ) -> Result<Option<String>, SearchError> {
        let mut changed = false;
        let mut words = Vec::with_capacity(typed.words.len());
        for word in &typed.words {
            match self.closest_word(searcher, word)? {
                Some(better) if better != *word => {
                    changed = true;
                    words.push(better);
                }
                _ => words.push(word.clone()),
            }
        }
        if !changed {
            return Ok(None);
        }
        // The suggestion replaces the typed text only; filters chosen elsewhere (facets,
        // parameters) stay where they are.
        let mut suggestion = words.join(" ");
        for phrase in &typed.phrases {
            suggestion.push_str(&format!(" \"{}\"", phrase.join(" ")));
        }
        for (key, value) in &typed.filters {
            let value = if value.contains(char::is_whitespace) {
                format!("\"{value}\"")
            } else {
                value.clone()
            };
            suggestion.push_str(&format!(" {}:{value}", key.name()));
        }
        let corrected = ParsedQuery {
            exact: Some(text::exact_key(&words.join(""))).filter(|k| !k.is_empty()),
            words,
            phrases: typed.phrases.clone(),
            filters: filters.to_vec(),
            prefix_last: false,
        };
        let plan = self.plan(&corrected);
        let (query, _) = self.build(searcher, &plan, false)?;
        Ok((query.count(searcher)? > 0).then_some(suggestion))
    }

    /// The most frequent indexed word within two typos of `word` (closest first), or `None`
    /// when `word` is indexed as it is or nothing is close.
    fn closest_word(&self, searcher: &Searcher, word: &str) -> Result<Option<String>, SearchError> {
        if word.chars().count() < 3 {
            return Ok(None);
        }
        for group in Group::ALL {
            let term = Term::from_field_text(self.fields.group(group), word);
            if searcher.doc_freq(&term)? > 0 {
                return Ok(None);
            }
        }
        let probe = Term::from_field_text(self.fields.name, word);
        let dfa = FuzzyTermQuery::new(probe, 2, true).automaton()?;
        let mut best: Option<(usize, u64, String)> = None;
        for (candidate, freqs) in self.vocabulary_words(searcher, &Words::Accepted(&dfa))? {
            // The most documents one group has it in, as when each group was searched.
            let freq = u64::from(freqs.iter().copied().max().unwrap_or(0));
            let distance = strsim::osa_distance(word, &candidate);
            let better = best
                .as_ref()
                .is_none_or(|(d, f, _)| distance < *d || (distance == *d && freq > *f));
            if better {
                best = Some((distance, freq, candidate));
            }
        }
        Ok(best.map(|(_, _, word)| word))
    }
}

/// A page of addresses with optional scores, the total and the facet counts.
struct Page {
    docs: Vec<(Option<Score>, DocAddress)>,
    total: u64,
    facets: Counts,
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

/// A named additive part of a score and the query that scores it.
type ExplainPart = (String, Box<dyn Query>);

/// Of words found with their frequencies per group, those in `group`: the most frequent
/// [`MAX_EXPANSIONS`] when there are more.
fn in_group(found: &BTreeMap<String, GroupFreqs>, group: Group) -> Vec<(String, u64)> {
    let at = Group::ALL.iter().position(|g| *g == group).unwrap_or(0);
    let mut words: Vec<(String, u64)> = found
        .iter()
        .filter(|(_, freqs)| freqs[at] > 0)
        .map(|(word, freqs)| (word.clone(), u64::from(freqs[at])))
        .collect();
    if words.len() > MAX_EXPANSIONS {
        words.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        words.truncate(MAX_EXPANSIONS);
    }
    words
}

fn boost(query: Box<dyn Query>, weight: Score) -> Box<dyn Query> {
    Box::new(BoostQuery::new(query, weight))
}

fn term_query(term: Term) -> Box<dyn Query> {
    Box::new(TermQuery::new(term, IndexRecordOption::Basic))
}

fn hit(
    product: ProductDoc,
    score: Option<Score>,
    plan: &Plan,
    highlighted: bool,
    explanation: Option<ScoreExplanation>,
) -> Hit {
    // Phrase words first: the word being typed (a prefix) is the last free word.
    let mut terms: Vec<String> = plan.phrases.iter().flatten().cloned().collect();
    terms.extend(plan.words.iter().cloned());
    let prefix = plan.prefix_last && !plan.words.is_empty();
    let mut highlights = Vec::new();
    if highlighted && !terms.is_empty() {
        let mut add = |field: &str, text: &str, max: usize| {
            if let Some(segments) = text::highlight(text, &terms, prefix, max) {
                highlights.push(Highlight {
                    field: field.to_string(),
                    segments,
                });
            }
        };
        add("name", &product.name, 200);
        add("description", &product.description, 180);
        let matching_fields: Vec<&str> = product
            .fields()
            .map(|f| f.name.as_str())
            .filter(|name| text::mentions(name, &terms, prefix))
            .take(8)
            .collect();
        add("fields", &matching_fields.join(", "), 400);
        let topics: Vec<&str> = product.ports.iter().map(|p| p.topic.as_str()).collect();
        add("topics", &topics.join(", "), 400);
    }
    Hit {
        topics: product.ports.iter().map(|p| p.topic.clone()).collect(),
        slug: product.slug,
        name: product.name,
        domain: product.domain,
        domain_name: product.domain_name,
        status: product.status,
        health: product.health,
        description: product.description,
        owners: product.owners,
        tags: product.tags,
        sla_tier: product.sla_tier,
        classification: product.classification,
        subscribers: product.subscribers,
        updated_at: product.updated_at,
        score,
        highlights,
        explanation,
    }
}
