//! Spelling suggestions: when a query finds nothing, the query with each unknown word
//! replaced by the closest frequent indexed word, offered if it finds something.

use tantivy::Searcher;
use tantivy::Term;
use tantivy::query::FuzzyTermQuery;

use crate::search::query::{FilterKey, ParsedQuery};
use crate::search::schema::Group;
use crate::search::text;
use crate::search::vocabulary::Words;
use crate::search::{SearchError, SearchIndex};

impl SearchIndex {
    /// A query with each unknown word replaced by the most frequent indexed word within two
    /// typos, if that query finds something.
    pub(super) fn suggest(
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
        let built = self.build(searcher, &plan, false)?;
        Ok((built.query.count(searcher)? > 0).then_some(suggestion))
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
