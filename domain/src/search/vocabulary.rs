//! Every word of a segment's text groups in one dictionary, with its document frequency in
//! each group. Expanding a typed word (words within its typo budget, words it begins)
//! walks this one dictionary per segment rather than the term dictionary of each of the
//! five group fields; walking a dictionary with a Levenshtein automaton was most of the
//! time of a query with a typo.

use std::collections::BTreeMap;

use tantivy::SegmentReader;
use tantivy::query::DfaWrapper;
use tantivy_fst::{IntoStreamer, Map, MapBuilder, Streamer};

use super::schema::Group;
use super::segments::PerSegment;

/// Document frequencies of a word, per group in [`Group::ALL`] order.
pub(super) type GroupFreqs = [u32; Group::ALL.len()];

/// The words of one segment's text groups.
pub(super) struct Vocabulary {
    /// Word → its entry in `freqs`.
    words: Map<Vec<u8>>,
    freqs: Vec<GroupFreqs>,
}

/// Which words of the vocabulary a typed word stands for.
pub(super) enum Words<'a> {
    /// Those beginning with it (the word being typed).
    Beginning(&'a str),
    /// Those an automaton accepts (within a typo budget).
    Accepted(&'a DfaWrapper),
}

impl PerSegment for Vocabulary {
    fn build(segment: &SegmentReader) -> tantivy::Result<Vocabulary> {
        let schema = segment.schema();
        let mut merged: BTreeMap<Vec<u8>, GroupFreqs> = BTreeMap::new();
        for (g, group) in Group::ALL.iter().enumerate() {
            let field = schema.get_field(group.field_name())?;
            let inverted = segment.inverted_index(field)?;
            let mut stream = inverted.terms().stream()?;
            while stream.advance() {
                let freqs = merged.entry(stream.key().to_vec()).or_default();
                freqs[g] = stream.value().doc_freq;
            }
        }
        let mut builder = MapBuilder::memory();
        let mut freqs = Vec::with_capacity(merged.len());
        for (word, word_freqs) in merged {
            builder
                .insert(word, freqs.len() as u64)
                .map_err(|error| tantivy::TantivyError::InternalError(error.to_string()))?;
            freqs.push(word_freqs);
        }
        let bytes = builder
            .into_inner()
            .map_err(|error| tantivy::TantivyError::InternalError(error.to_string()))?;
        let words = Map::from_bytes(bytes)
            .map_err(|error| tantivy::TantivyError::InternalError(error.to_string()))?;
        Ok(Vocabulary { words, freqs })
    }
}

impl Vocabulary {
    /// Calls `found` with each of `words` and its document frequencies per group.
    pub(super) fn visit(&self, words: &Words, mut found: impl FnMut(&[u8], &GroupFreqs)) {
        let mut visit = |word: &[u8], entry: u64| {
            if let Some(freqs) = self.freqs.get(entry as usize) {
                found(word, freqs);
            }
        };
        match words {
            Words::Beginning(prefix) => {
                let prefix = prefix.as_bytes();
                let mut stream = self.words.range().ge(prefix).into_stream();
                while let Some((word, entry)) = stream.next() {
                    if !word.starts_with(prefix) {
                        break;
                    }
                    visit(word, entry);
                }
            }
            Words::Accepted(dfa) => {
                let mut stream = self.words.search(*dfa).into_stream();
                while let Some((word, entry)) = stream.next() {
                    visit(word, entry);
                }
            }
        }
    }
}
