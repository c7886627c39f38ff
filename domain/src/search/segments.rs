//! What the search derives once per index segment (its tally table, its vocabulary) and
//! keeps while the segment is searched: segments never change, so each is built once, at
//! reload or by the first search that needs it, and dropped once the segment is merged
//! away.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tantivy::index::SegmentId;
use tantivy::{Searcher, SegmentReader};

/// What is derived once per segment and cached while the segment is searched (segments
/// never change).
pub(super) trait PerSegment: Sized {
    fn build(segment: &SegmentReader) -> tantivy::Result<Self>;
}

/// The `T` of the segments searched lately, by segment.
pub(super) struct Tables<T>(Mutex<HashMap<SegmentId, Arc<T>>>);

impl<T> Default for Tables<T> {
    fn default() -> Self {
        Tables(Mutex::default())
    }
}

impl<T: PerSegment> Tables<T> {
    pub(super) fn get(&self, segment: &SegmentReader) -> tantivy::Result<Arc<T>> {
        let id = segment.segment_id();
        let cached = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned();
        if let Some(table) = cached {
            return Ok(table);
        }
        let table = Arc::new(T::build(segment)?);
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, Arc::clone(&table));
        Ok(table)
    }

    /// Builds the tables of `searcher`'s segments and forgets those of segments it no
    /// longer has (merged away), so no query pays for building one.
    pub(super) fn warm(&self, searcher: &Searcher) -> tantivy::Result<()> {
        let live: Vec<SegmentId> = searcher
            .segment_readers()
            .iter()
            .map(SegmentReader::segment_id)
            .collect();
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|id, _| live.contains(id));
        for segment in searcher.segment_readers() {
            self.get(segment)?;
        }
        Ok(())
    }
}
