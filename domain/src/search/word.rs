//! One query word across the text fields: the union of its weighted terms (the word in each
//! field group, and what it expands to), scored as the sum of the terms a product has.
//!
//! Tantivy's own union pre-scores a window of 4,096 documents whenever it is asked to skip
//! ahead, which makes intersecting a common word with a rare one cost as much as reading
//! the common word in full. A word that will only be skipped through (far more common than
//! the rarest word it is intersected with) therefore gets a union that moves its terms only
//! as far as asked and scores only the documents kept, so `seasonal campaign scheduled`
//! costs about what its rarest word does. Read in full, or with many terms (long typo or
//! prefix expansions), a word uses Tantivy's union, which is faster for that.

use tantivy::query::{
    BooleanQuery, BoostQuery, EmptyScorer, EnableScoring, Explanation, Occur, Query, Scorer,
    TermQuery, Weight,
};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Score, SegmentReader, TERMINATED, TantivyError, Term};

/// Most terms the lazy union takes; past this, Tantivy's buffered union is faster.
const LAZY_TERMS: usize = 12;

/// A word as weighted terms; matches products with any of them.
#[derive(Clone, Debug)]
pub(super) struct WordQuery {
    terms: Vec<(Term, Score)>,
    /// Whether the search mostly skips through this word's matches.
    skipped: bool,
}

impl WordQuery {
    pub(super) fn new(terms: Vec<(Term, Score)>, skipped: bool) -> WordQuery {
        WordQuery { terms, skipped }
    }
}

impl Query for WordQuery {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        if !self.skipped || self.terms.len() > LAZY_TERMS {
            let any: Vec<(Occur, Box<dyn Query>)> = self
                .terms
                .iter()
                .map(|(term, weight)| {
                    let query = TermQuery::new(term.clone(), IndexRecordOption::WithFreqs);
                    let boosted: Box<dyn Query> =
                        Box::new(BoostQuery::new(Box::new(query), *weight));
                    (Occur::Should, boosted)
                })
                .collect();
            return BooleanQuery::new(any).weight(scoring);
        }
        let parts = self
            .terms
            .iter()
            .map(|(term, weight)| {
                let query = TermQuery::new(term.clone(), IndexRecordOption::WithFreqs);
                Ok((query.weight(scoring)?, *weight))
            })
            .collect::<tantivy::Result<Vec<_>>>()?;
        Ok(Box::new(WordWeight { parts }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        for (term, _) in &self.terms {
            visitor(term, false);
        }
    }
}

struct WordWeight {
    parts: Vec<(Box<dyn Weight>, Score)>,
}

impl Weight for WordWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let mut scorers = Vec::with_capacity(self.parts.len());
        for (weight, factor) in &self.parts {
            let scorer = weight.scorer(reader, boost * factor)?;
            if scorer.doc() != TERMINATED {
                scorers.push(scorer);
            }
        }
        Ok(match scorers.len() {
            0 => Box::new(EmptyScorer),
            1 => scorers.remove(0),
            _ => {
                let doc = scorers.iter().map(|s| s.doc()).min().unwrap_or(TERMINATED);
                Box::new(WordScorer { scorers, doc })
            }
        })
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut scorer = self.scorer(reader, 1.0)?;
        if scorer.doc() > doc || scorer.seek(doc) != doc {
            return Err(TantivyError::InvalidArgument(format!(
                "document {doc} does not match"
            )));
        }
        Ok(Explanation::new("sum of the word's terms", scorer.score()))
    }
}

/// The union itself: every term scorer sits on its next document at or after `doc`.
struct WordScorer {
    scorers: Vec<Box<dyn Scorer>>,
    doc: DocId,
}

impl WordScorer {
    fn settle(&mut self) -> DocId {
        self.doc = self
            .scorers
            .iter()
            .map(|s| s.doc())
            .min()
            .unwrap_or(TERMINATED);
        self.doc
    }
}

impl DocSet for WordScorer {
    fn advance(&mut self) -> DocId {
        let current = self.doc;
        for scorer in &mut self.scorers {
            if scorer.doc() == current {
                scorer.advance();
            }
        }
        self.settle()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if self.doc >= target {
            return self.doc;
        }
        for scorer in &mut self.scorers {
            if scorer.doc() < target {
                scorer.seek(target);
            }
        }
        self.settle()
    }

    fn doc(&self) -> DocId {
        self.doc
    }

    fn size_hint(&self) -> u32 {
        self.scorers
            .iter()
            .map(|s| s.size_hint())
            .fold(0u32, u32::saturating_add)
    }
}

impl Scorer for WordScorer {
    fn score(&mut self) -> Score {
        let doc = self.doc;
        self.scorers
            .iter_mut()
            .filter(|s| s.doc() == doc)
            .map(|s| s.score())
            .sum()
    }
}
