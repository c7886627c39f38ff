//! One pass over a query's matches: the total, the facet counts (a dimension being
//! filtered on is counted without its own filter, so its other values stay choosable) and
//! the top of the page in the requested order.
//!
//! What a match contributes — its facet values, its status × popularity multiplier, its
//! sort keys — is read from a [`SegmentTable`]: flat arrays built once per segment (segments
//! never change; deletions are applied by the searcher), so a match costs a few array reads
//! rather than a column decode per attribute. Common facet values (on at least 1/8 of a
//! segment's documents) keep a bitset of their documents instead: a match only marks its
//! bit, and each such value is counted once per search as the popcount of its bitset and
//! the matches' (or, when few documents matched, from each match's codes). Counting
//! `status:active` for 60,000 matches is then about a thousand word operations rather than
//! 60,000 dependent increments.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::StrColumn;
use tantivy::query::Weight;
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

use super::bits;
use super::query::Sort;
use super::schema::FACETS;
use super::segments::{PerSegment, Tables};

/// One facet value and how many matching products have it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacetValue {
    pub value: String,
    pub count: u64,
}

/// A facet value on at least 1/COMMON of a segment's documents keeps a bitset of them.
const COMMON: u32 = 8;
/// Values returned per facet dimension.
const FACET_VALUES: usize = 20;

/// Facet counts: per dimension, value → number of matching products.
pub(super) type Counts = std::collections::BTreeMap<&'static str, HashMap<String, u64>>;

/// The score multiplier of a status rank (see [`super::schema::status_rank`]).
pub(super) fn status_factor(rank: u64) -> Score {
    match rank {
        0 => 1.0,
        1 => 0.8,
        2 => 0.5,
        _ => 0.25,
    }
}

/// The mild boost of a product's subscriber count.
pub(super) fn popularity_factor(subscribers: u64) -> Score {
    1.0 + 0.05 * (1.0 + subscribers as Score).ln()
}

/// Per segment, what each document contributes to a tally.
pub(super) struct SegmentTable {
    /// Where each document's facet codes start in `codes` (one entry more than documents).
    starts: Vec<u32>,
    /// Facet codes, grouped by document: value `ord` of dimension `d` is `bases[d] + ord`.
    codes: Vec<u32>,
    /// Where each document's rare codes (those without a bitset) start in `rare`.
    rare_starts: Vec<u32>,
    rare: Vec<u32>,
    /// The same for common codes, which a few matches count one by one.
    common_starts: Vec<u32>,
    common_codes: Vec<u32>,
    /// The common codes and, per code, the bitset of the documents that have it.
    common: Vec<(u32, Vec<u64>)>,
    /// Where each dimension's codes start; the last entry is the number of codes.
    bases: [u32; FACETS.len() + 1],
    /// Each dimension's column, which finds filter values.
    columns: Vec<Option<StrColumn>>,
    /// What each code stands for: its dimension and value.
    names: Vec<Option<(&'static str, String)>>,
    /// Status factor × popularity factor.
    factor: Vec<Score>,
    /// The largest factor, which bounds what a text score can become.
    most: Score,
    updated: Vec<i64>,
    subscribers: Vec<u64>,
    /// Ordinal of the lower-cased name in this segment (ordinals sort like the names).
    name_ord: Vec<u64>,
    sort_names: Option<StrColumn>,
}

impl SegmentTable {
    fn build(segment: &SegmentReader) -> tantivy::Result<SegmentTable> {
        let docs = segment.max_doc();
        let fast = segment.fast_fields();
        let mut columns = Vec::with_capacity(FACETS.len());
        let mut bases = [0u32; FACETS.len() + 1];
        for (d, dimension) in FACETS.iter().enumerate() {
            let column = fast.str(dimension)?;
            let terms = column.as_ref().map_or(0, |c| c.num_terms()) as u32;
            bases[d + 1] = bases[d] + terms;
            columns.push(column);
        }
        let mut starts = Vec::with_capacity(docs as usize + 1);
        let mut codes = Vec::with_capacity(docs as usize * 8);
        for doc in 0..docs {
            starts.push(codes.len() as u32);
            for (d, column) in columns.iter().enumerate() {
                if let Some(column) = column {
                    codes.extend(column.term_ords(doc).map(|ord| bases[d] + ord as u32));
                }
            }
        }
        starts.push(codes.len() as u32);
        let mut names = Vec::with_capacity(bases[FACETS.len()] as usize);
        for (d, column) in columns.iter().enumerate() {
            for ord in 0..bases[d + 1] - bases[d] {
                let mut value = String::new();
                let found = column
                    .as_ref()
                    .is_some_and(|c| c.ord_to_str(u64::from(ord), &mut value).unwrap_or(false));
                names.push(found.then_some((FACETS[d], value)));
            }
        }
        let Split {
            rare_starts,
            rare,
            common_starts,
            common_codes,
            common,
        } = split_common(docs, &starts, &codes, bases[FACETS.len()]);

        let u64s = |name: &str| -> tantivy::Result<Vec<u64>> {
            let column = fast.u64(name)?.first_or_default_col(0);
            Ok((0..docs).map(|doc| column.get_val(doc)).collect())
        };
        let ranks = u64s("status_rank")?;
        let subscribers = u64s("subscribers")?;
        let factor: Vec<Score> = ranks
            .iter()
            .zip(&subscribers)
            .map(|(rank, subs)| status_factor(*rank) * popularity_factor(*subs))
            .collect();
        let most = factor.iter().copied().fold(1.0, Score::max);
        let updated_column = fast.i64("updated")?.first_or_default_col(0);
        let updated = (0..docs).map(|doc| updated_column.get_val(doc)).collect();
        let sort_names = fast.str("name_sort")?;
        let name_ord = (0..docs)
            .map(|doc| {
                sort_names
                    .as_ref()
                    .and_then(|c| c.term_ords(doc).next())
                    .unwrap_or(u64::MAX)
            })
            .collect();
        Ok(SegmentTable {
            starts,
            codes,
            rare_starts,
            rare,
            common_starts,
            common_codes,
            common,
            bases,
            columns,
            names,
            factor,
            most,
            updated,
            subscribers,
            name_ord,
            sort_names,
        })
    }

    /// How many documents the segment has (deleted ones included).
    fn docs(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    fn codes(&self, doc: DocId) -> &[u32] {
        slice(&self.starts, &self.codes, doc)
    }

    /// The codes of `doc` that have no bitset.
    fn rare_codes(&self, doc: DocId) -> &[u32] {
        slice(&self.rare_starts, &self.rare, doc)
    }

    /// The codes of `doc` that have a bitset.
    fn common_codes(&self, doc: DocId) -> &[u32] {
        slice(&self.common_starts, &self.common_codes, doc)
    }

    /// A match's status factor × popularity factor.
    fn factor(&self, doc: DocId) -> Score {
        self.factor.get(doc as usize).copied().unwrap_or(1.0)
    }

    /// Filters as this segment's codes: per dimension, the codes of the accepted values it
    /// has (none when it has none of them).
    fn filter_codes(&self, filters: &[(usize, Vec<String>)]) -> Vec<(usize, Vec<u32>)> {
        filters
            .iter()
            .map(|(d, values)| (*d, values.iter().filter_map(|v| self.code(*d, v)).collect()))
            .collect()
    }

    /// The dimension of `code`.
    fn dimension(&self, code: u32) -> usize {
        self.bases[1..].partition_point(|base| *base <= code)
    }

    /// The code of `value` in dimension `d`, if this segment has it.
    fn code(&self, d: usize, value: &str) -> Option<u32> {
        let column = self.columns.get(d)?.as_ref()?;
        let ord = column.dictionary().term_ord(value).ok()??;
        Some(self.bases[d] + ord as u32)
    }

    /// The dimension and value `code` stands for.
    fn name(&self, code: u32) -> Option<(&'static str, &str)> {
        let (dimension, value) = self.names.get(code as usize)?.as_ref()?;
        Some((dimension, value))
    }
}

/// The entries of `doc` in a grouped array.
fn slice<'t>(starts: &[u32], values: &'t [u32], doc: DocId) -> &'t [u32] {
    let at = doc as usize;
    match (starts.get(at), starts.get(at + 1)) {
        (Some(start), Some(end)) => values.get(*start as usize..*end as usize).unwrap_or(&[]),
        _ => &[],
    }
}

/// A segment's codes split into common and rare ones (see [`SegmentTable`]).
struct Split {
    rare_starts: Vec<u32>,
    rare: Vec<u32>,
    common_starts: Vec<u32>,
    common_codes: Vec<u32>,
    common: Vec<(u32, Vec<u64>)>,
}

/// Splits the codes into common ones (on at least 1/COMMON of the documents), each with a
/// bitset of its documents, and the rest, kept per document.
fn split_common(docs: DocId, starts: &[u32], codes: &[u32], code_count: u32) -> Split {
    let mut frequency = vec![0u32; code_count as usize];
    for code in codes {
        frequency[*code as usize] += 1;
    }
    let threshold = (docs / COMMON).max(1);
    let words = (docs as usize).div_ceil(64);
    let mut bitset_of: Vec<Option<usize>> = vec![None; code_count as usize];
    let mut common = Vec::new();
    for (code, n) in frequency.iter().enumerate() {
        if *n >= threshold {
            bitset_of[code] = Some(common.len());
            common.push((code as u32, vec![0u64; words]));
        }
    }
    let mut rare_starts = Vec::with_capacity(starts.len());
    let mut rare = Vec::new();
    let mut common_starts = Vec::with_capacity(starts.len());
    let mut common_codes = Vec::new();
    for doc in 0..docs {
        rare_starts.push(rare.len() as u32);
        common_starts.push(common_codes.len() as u32);
        for code in slice(starts, codes, doc) {
            match bitset_of[*code as usize] {
                Some(i) => {
                    common[i].1[doc as usize / 64] |= 1 << (doc % 64);
                    common_codes.push(*code);
                }
                None => rare.push(*code),
            }
        }
    }
    rare_starts.push(rare.len() as u32);
    common_starts.push(common_codes.len() as u32);
    Split {
        rare_starts,
        rare,
        common_starts,
        common_codes,
        common,
    }
}

impl PerSegment for SegmentTable {
    fn build(segment: &SegmentReader) -> tantivy::Result<SegmentTable> {
        SegmentTable::build(segment)
    }
}

/// What a page is ordered by, comparable across segments (greater is better).
#[derive(Clone, Debug, PartialEq)]
pub(super) enum SortValue {
    Score(Score),
    Number(i128),
    /// Names sort ascending.
    Name(String),
}

impl SortValue {
    fn cmp(&self, other: &SortValue) -> Ordering {
        match (self, other) {
            (SortValue::Score(a), SortValue::Score(b)) => a.total_cmp(b),
            (SortValue::Number(a), SortValue::Number(b)) => a.cmp(b),
            (SortValue::Name(a), SortValue::Name(b)) => b.cmp(a),
            _ => Ordering::Equal,
        }
    }

    /// The ranking score, for relevance order.
    pub(super) fn score(&self) -> Option<Score> {
        match self {
            SortValue::Score(score) => Some(*score),
            _ => None,
        }
    }
}

/// Counts and ranks the matches of a query in one pass.
pub(super) struct Tally<'a> {
    tables: &'a Tables<SegmentTable>,
    /// Filters checked per match: a dimension and the values it accepts (any of them).
    filters: Vec<(usize, Vec<String>)>,
    /// The dimensions counted (the others are left at zero).
    counted: [bool; FACETS.len()],
    sort: Sort,
    /// How many of the best matches to keep (offset + limit).
    keep: usize,
}

impl<'a> Tally<'a> {
    pub(super) fn new(tables: &'a Tables<SegmentTable>, sort: Sort, keep: usize) -> Tally<'a> {
        Tally {
            tables,
            filters: Vec::new(),
            counted: [true; FACETS.len()],
            sort,
            keep,
        }
    }

    /// Matches must have one of `values` in `dimension` (an entry of [`FACETS`]).
    pub(super) fn filter(mut self, dimension: usize, values: Vec<String>) -> Tally<'a> {
        self.filters.push((dimension, values));
        self
    }

    /// Counts the dimensions marked in `counted` only.
    pub(super) fn counting(mut self, counted: [bool; FACETS.len()]) -> Tally<'a> {
        self.counted = counted;
        self
    }
}

impl Tally<'_> {
    /// Whether a segment may be ranked with pruning ([`Tally::collect_pruned`]): in
    /// relevance order, counting no facet and checking no filter per match, a match that
    /// cannot reach the page changes nothing but the total.
    pub(super) fn prunes(&self) -> bool {
        self.sort == Sort::Relevance
            && self.keep > 0
            && self.filters.is_empty()
            && !self.counted.contains(&true)
    }

    /// One segment's page and total when [`Tally::prunes`]: `scored` ranks with Tantivy's
    /// pruning (block-max WAND for a word's union of terms, which skips blocks of postings
    /// that cannot beat the page's last score divided by the segment's largest status ×
    /// popularity factor), and `counter`, the same query without scores, counts every
    /// match. The page is the one a full pass finds; the pruned documents are never scored.
    pub(super) fn collect_pruned(
        &self,
        scored: &dyn Weight,
        counter: &dyn Weight,
        ordinal: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<Tallied> {
        let mut child = self.for_segment(ordinal, segment)?;
        let alive = segment.alive_bitset();
        // Just below the bound, so a rounding in the division loses no match.
        let bound = (1.0 + 1e-5) * child.table.most;
        scored.for_each_pruning(Score::MIN, segment, &mut |doc, score| {
            if alive.is_none_or(|alive| alive.is_alive(doc)) {
                child.rank(doc, score);
            }
            child.floor.map_or(Score::MIN, |floor| floor / bound)
        })?;
        child.total = u64::from(counter.count(segment)?);
        Ok(child.harvest())
    }
}

/// What a tally found.
pub(super) struct Tallied {
    pub(super) total: u64,
    pub(super) counts: Counts,
    /// The best `keep` matches, best first.
    pub(super) top: Vec<(SortValue, DocAddress)>,
}

impl Collector for Tally<'_> {
    type Fruit = Tallied;
    type Child = SegmentTally;

    fn for_segment(
        &self,
        ordinal: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<SegmentTally> {
        let table = self.tables.get(segment)?;
        let filters = table.filter_codes(&self.filters);
        // A search counting nothing (most API searches) allocates nothing per code.
        let counting = self.counted.contains(&true);
        let codes = if counting {
            table.bases[FACETS.len()]
        } else {
            0
        };
        let counted = (0..codes)
            .map(|code| self.counted[table.dimension(code)])
            .collect();
        Ok(SegmentTally {
            counts: vec![0; codes as usize],
            matched: if counting {
                vec![0; (segment.max_doc() as usize).div_ceil(64)]
            } else {
                Vec::new()
            },
            counted,
            counting,
            table,
            ordinal,
            filters,
            total: 0,
            top: Best::new(self.keep),
            floor: None,
            sort: self.sort,
        })
    }

    fn requires_scoring(&self) -> bool {
        self.sort == Sort::Relevance
    }

    fn merge_fruits(&self, fruits: Vec<Tallied>) -> tantivy::Result<Tallied> {
        let mut merged = Tallied {
            total: 0,
            // Every dimension counted is there, with no values when nothing matched.
            counts: FACETS
                .iter()
                .zip(self.counted)
                .filter(|(_, counted)| *counted)
                .map(|(d, _)| (*d, HashMap::new()))
                .collect(),
            top: Vec::new(),
        };
        for fruit in fruits {
            merged.total += fruit.total;
            for (dimension, values) in fruit.counts {
                let into = merged.counts.entry(dimension).or_default();
                for (value, count) in values {
                    *into.entry(value).or_default() += count;
                }
            }
            merged.top.extend(fruit.top);
        }
        merged.top = best_of(merged.top, self.keep);
        Ok(merged)
    }
}

/// Best first: greater sort value, then the earlier document.
fn better(a: &(SortValue, DocAddress), b: &(SortValue, DocAddress)) -> Ordering {
    b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1))
}

/// The best `keep` matches of one segment seen so far.
struct Best {
    heap: BinaryHeap<Kept>,
    keep: usize,
}

impl Best {
    fn new(keep: usize) -> Best {
        Best {
            heap: BinaryHeap::with_capacity(keep + 1),
            keep,
        }
    }

    /// The worst kept score, once `keep` matches are kept.
    fn worst_score(&self) -> Option<Score> {
        match self.heap.peek() {
            Some(Kept {
                key: Key::Score(score),
                ..
            }) if self.heap.len() >= self.keep => Some(*score),
            _ => None,
        }
    }

    /// Keeps `doc` if it is among the best so far.
    fn offer(&mut self, key: Key, doc: DocId) {
        let kept = Kept { key, doc };
        if self.heap.len() < self.keep {
            self.heap.push(kept);
        } else if let Some(worst) = self.heap.peek()
            && kept.rank(worst) == Ordering::Greater
        {
            self.heap.pop();
            self.heap.push(kept);
        }
    }
}

/// The best `keep` of several segments' hits, best first.
fn best_of(mut hits: Vec<(SortValue, DocAddress)>, keep: usize) -> Vec<(SortValue, DocAddress)> {
    hits.sort_by(better);
    hits.truncate(keep);
    hits
}

/// A kept match within a segment; the heap keeps the worst on top.
struct Kept {
    key: Key,
    doc: DocId,
}

/// A segment-local sort key (name ordinals compare within one segment only).
#[derive(Clone, Copy, PartialEq, PartialOrd)]
enum Key {
    Score(Score),
    Number(i128),
}

impl Kept {
    /// Greater is better.
    fn rank(&self, other: &Kept) -> Ordering {
        let by_key = match (self.key, other.key) {
            (Key::Score(a), Key::Score(b)) => a.total_cmp(&b),
            (Key::Number(a), Key::Number(b)) => a.cmp(&b),
            _ => Ordering::Equal,
        };
        by_key.then_with(|| other.doc.cmp(&self.doc))
    }
}

impl PartialEq for Kept {
    fn eq(&self, other: &Kept) -> bool {
        self.rank(other) == Ordering::Equal
    }
}
impl Eq for Kept {}
impl PartialOrd for Kept {
    fn partial_cmp(&self, other: &Kept) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Kept {
    /// Reversed, so the heap's top is the worst kept match.
    fn cmp(&self, other: &Kept) -> Ordering {
        other.rank(self)
    }
}

pub(super) struct SegmentTally {
    table: Arc<SegmentTable>,
    ordinal: SegmentOrdinal,
    filters: Vec<(usize, Vec<u32>)>,
    /// Per code, the matches that have it (any dimension; only `counted` ones are reported);
    /// empty when nothing is counted.
    counts: Vec<u32>,
    /// Per code, whether its dimension is counted; empty when nothing is counted.
    counted: Vec<bool>,
    /// Whether any dimension is counted: a search without facets only ranks.
    counting: bool,
    /// The documents matching every filter (their common codes are counted at harvest);
    /// empty when nothing is counted.
    matched: Vec<u64>,
    total: u64,
    top: Best,
    /// For relevance, the score a match must beat once the page is full.
    floor: Option<Score>,
    sort: Sort,
}

impl SegmentTally {
    /// Offers a match with text score `score` to the page in relevance order. Most matches
    /// score below the page: they are settled with one comparison (an equal score loses
    /// too, to the earlier document).
    fn rank(&mut self, doc: DocId, score: Score) {
        let score = score * self.table.factor(doc);
        if self.floor.is_some_and(|floor| score <= floor) {
            return;
        }
        self.top.offer(Key::Score(score), doc);
        self.floor = self.top.worst_score();
    }

    fn key(&self, doc: DocId, score: Score) -> Key {
        let at = doc as usize;
        match self.sort {
            Sort::Relevance => Key::Score(score * self.table.factor(doc)),
            Sort::Updated => Key::Number(self.table.updated.get(at).copied().unwrap_or(0).into()),
            Sort::Subscribers => {
                Key::Number(self.table.subscribers.get(at).copied().unwrap_or(0).into())
            }
            Sort::Name => Key::Number(-i128::from(
                self.table.name_ord.get(at).copied().unwrap_or(u64::MAX),
            )),
        }
    }
}

impl SegmentCollector for SegmentTally {
    type Fruit = Tallied;

    fn collect(&mut self, doc: DocId, score: Score) {
        let table = &*self.table;
        let counts = &mut self.counts[..];
        if !self.filters.is_empty() {
            // Which filter this document fails, if exactly one: that dimension is still
            // counted, as its other values would find this document.
            let codes = table.codes(doc);
            let mut failed = None;
            for (i, (_, accepted)) in self.filters.iter().enumerate() {
                if !codes.iter().any(|code| accepted.contains(code)) {
                    // Two failed filters, or one when nothing is counted, settle it.
                    if failed.is_some() || !self.counting {
                        return;
                    }
                    failed = Some(i);
                }
            }
            if let Some(i) = failed {
                let dimension = self.filters[i].0;
                let (low, high) = (table.bases[dimension], table.bases[dimension + 1]);
                for code in codes.iter().filter(|code| (low..high).contains(*code)) {
                    counts[*code as usize] += 1;
                }
                return;
            }
        }
        self.total += 1;
        if self.counting {
            if let Some(word) = self.matched.get_mut(doc as usize / 64) {
                *word |= 1 << (doc % 64);
            }
            for code in table.rare_codes(doc) {
                counts[*code as usize] += 1;
            }
        }
        if self.top.keep == 0 {
            return;
        }
        if self.sort == Sort::Relevance {
            self.rank(doc, score);
            return;
        }
        let key = self.key(doc, score);
        self.top.offer(key, doc);
    }

    fn harvest(mut self) -> Tallied {
        let table = &*self.table;
        // Common codes: popcounts over the whole segment, or, when few documents matched,
        // each match's own codes, whichever costs less (see `bits::words_per_code`).
        let popcounts = table.common.len() * self.matched.len();
        let per_match = self.total as usize * (table.common_codes.len() / table.docs().max(1) + 1);
        let tallied = &mut self.counts[..];
        if !self.counting {
            // Nothing to count.
        } else if per_match * bits::words_per_code() < popcounts {
            for (i, word) in self.matched.iter().enumerate() {
                let mut bits = *word;
                while bits != 0 {
                    let doc = (i * 64) as DocId + bits.trailing_zeros();
                    bits &= bits - 1;
                    for code in table.common_codes(doc) {
                        tallied[*code as usize] += 1;
                    }
                }
            }
        } else {
            for (code, documents) in &table.common {
                let at = *code as usize;
                if self.counted.get(at) == Some(&true) {
                    tallied[at] += bits::shared(documents, &self.matched);
                }
            }
        }
        let mut counts = Counts::new();
        for (code, count) in self.counts.iter().enumerate() {
            if *count == 0 || self.counted.get(code) != Some(&true) {
                continue;
            }
            if let Some((dimension, value)) = self.table.name(code as u32) {
                counts
                    .entry(dimension)
                    .or_default()
                    .insert(value.to_string(), u64::from(*count));
            }
        }
        let top = self
            .top
            .heap
            .into_vec()
            .into_iter()
            .map(|kept| {
                let value = match (self.sort, kept.key) {
                    (Sort::Name, _) => {
                        let mut name = String::new();
                        let ord = self.table.name_ord[kept.doc as usize];
                        if let Some(names) = &self.table.sort_names {
                            let _ = names.ord_to_str(ord, &mut name);
                        }
                        SortValue::Name(name)
                    }
                    (_, Key::Score(score)) => SortValue::Score(score),
                    (_, Key::Number(n)) => SortValue::Number(n),
                };
                (value, DocAddress::new(self.ordinal, kept.doc))
            })
            .collect();
        Tallied {
            total: self.total,
            counts,
            top,
        }
    }
}

/// The top values of each dimension, most frequent first (ties by value).
pub(super) fn top_values(counts: &Counts) -> std::collections::BTreeMap<String, Vec<FacetValue>> {
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
