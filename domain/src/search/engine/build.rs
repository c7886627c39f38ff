//! Building the Tantivy query of a search: the analyzed words of its plan, each word's
//! terms (as typed, within its typo budget, or completed as a prefix), phrases, the
//! exact-match bonus and the filters.

use std::collections::BTreeMap;

use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, PhraseQuery, Query,
    TermQuery,
};
use tantivy::schema::IndexRecordOption;
use tantivy::{Score, Searcher, Term};

use super::{Plan, term_query};
use crate::search::query::{FilterKey, ParsedQuery};
use crate::search::schema::{self, Group};
use crate::search::text;
use crate::search::vocabulary::{GroupFreqs, Words};
use crate::search::word::WordQuery;
use crate::search::{SearchError, SearchIndex};

/// An exact name or topic match's bonus: more than any text match can reach.
const EXACT_BOOST: Score = 100.0;
/// What a word completing the one being typed counts, relative to the word itself.
const PREFIX_WEIGHT: Score = 0.6;
/// What a word within the typo budget counts, relative to the word as typed.
const TYPO_WEIGHT: Score = 0.5;
/// Most indexed words one typed word expands to per field (the most frequent are kept).
const MAX_EXPANSIONS: usize = 48;
/// How much more common than the rarest word of an intersection a word must be to be
/// skipped through rather than read.
const SKIPPED_RATIO: u64 = 8;

impl SearchIndex {
    /// Runs the analyzer over the parsed words, so query terms equal indexed terms.
    pub(in crate::search) fn plan(&self, parsed: &ParsedQuery) -> Plan {
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
    pub(in crate::search) fn build(
        &self,
        searcher: &Searcher,
        plan: &Plan,
        all_words: bool,
    ) -> Result<Built, SearchError> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let (text, mut walked) = self.text_clauses(searcher, plan, &Group::ALL, all_words)?;
        let mut one_word = text.len() == 1 && plan.phrases.is_empty();
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
            let words = one_or_all(text.into_iter().map(|q| (occur, q)).collect());
            // The words match, or the whole text names the product exactly
            // (`orderplaced` is no word of `OrderPlaced`, but its exact key). Most texts
            // name no product: their words are then searched alone, one union less.
            let named = match &plan.exact {
                Some(exact) => searcher.doc_freq(&self.exact_term(exact))? > 0,
                None => false,
            };
            match &plan.exact {
                Some(exact) if named => {
                    one_word = false;
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
            one_word = false;
            clauses.push((Occur::Must, Box::new(ConstScoreQuery::new(filter, 0.0))));
        }
        Ok(Built {
            query: one_or_all(clauses),
            walked,
            one_word,
        })
    }

    /// One query per word and per phrase, each matching in any field of `groups`, and how
    /// many postings the search will walk through, roughly (the rarest word's when the
    /// words are intersected, all words' otherwise). When the words are intersected, a word
    /// far more common than the rarest one is only ever skipped through, so it gets the
    /// union that skips cheaply (see `word`).
    pub(super) fn text_clauses(
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
    pub(super) fn vocabulary_words(
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

    pub(super) fn exact_query(&self, key: &str) -> Box<dyn Query> {
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
}

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

/// A search's query as built.
pub(in crate::search) struct Built {
    pub(in crate::search) query: Box<dyn Query>,
    /// Roughly how many postings searching it walks through.
    pub(in crate::search) walked: u64,
    /// Whether the query is one word's union of terms and nothing else, which Tantivy
    /// ranks with block-max WAND.
    pub(in crate::search) one_word: bool,
}

/// The clauses as one query: a lone clause that must (or alone should) match is itself the
/// query, with the same matches and scores. A single word is then its own union of terms,
/// which Tantivy can rank with block-max WAND (see `collect`).
fn one_or_all(mut clauses: Vec<(Occur, Box<dyn Query>)>) -> Box<dyn Query> {
    match clauses.pop() {
        Some((Occur::Must | Occur::Should, only)) if clauses.is_empty() => only,
        Some(last) => {
            clauses.push(last);
            Box::new(BooleanQuery::new(clauses))
        }
        None => Box::new(BooleanQuery::new(clauses)),
    }
}

fn boost(query: Box<dyn Query>, weight: Score) -> Box<dyn Query> {
    Box::new(BoostQuery::new(query, weight))
}
