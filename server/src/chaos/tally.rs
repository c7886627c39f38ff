//! Counting a scenario's events against the producer's log: which records the broker
//! acknowledged that a reader never found (lost), and which it found more than once
//! (duplicated). Records a reader found that were never acknowledged (the producer gave up
//! waiting, yet the write happened) are neither: they are counted apart.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use serde::Serialize;

/// What a read of a topic found, against what the producer was told was written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Records the broker acknowledged.
    pub acked: u64,
    /// Distinct acknowledged records found.
    pub found: u64,
    /// Acknowledged records never found.
    pub lost: u64,
    /// Extra copies found of records (acknowledged or not).
    pub duplicated: u64,
    /// Records found that the producer has no acknowledgement for.
    pub unacknowledged_found: u64,
}

/// Tallies `found` (one key per record read, in any order) against `acked` (one key per
/// acknowledged record).
pub fn tally<K: Eq + Hash + Copy>(
    acked: impl IntoIterator<Item = K>,
    found: impl IntoIterator<Item = K>,
) -> Tally {
    let acked: HashSet<K> = acked.into_iter().collect();
    let mut seen: HashMap<K, u64> = HashMap::new();
    for key in found {
        *seen.entry(key).or_default() += 1;
    }
    let found_acked = acked.iter().filter(|k| seen.contains_key(k)).count() as u64;
    Tally {
        acked: acked.len() as u64,
        found: found_acked,
        lost: acked.len() as u64 - found_acked,
        duplicated: seen.values().map(|n| n - 1).sum(),
        unacknowledged_found: seen.keys().filter(|k| !acked.contains(k)).count() as u64,
    }
}

/// Whether every acknowledged key is among `found` (a reader may stop).
pub fn all_found<K: Eq + Hash>(acked: &HashSet<K>, found: &HashSet<K>) -> bool {
    acked.iter().all(|k| found.contains(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_found_once_is_neither_lost_nor_duplicated() {
        let t = tally(0..100u64, (0..100u64).rev());
        assert_eq!(
            t,
            Tally {
                acked: 100,
                found: 100,
                lost: 0,
                duplicated: 0,
                unacknowledged_found: 0
            }
        );
    }

    #[test]
    fn missing_records_are_lost_and_repeated_ones_duplicated() {
        // 3 and 7 missing; 5 read three times, 9 twice.
        let found = [0, 1, 2, 4, 5, 5, 5, 6, 8, 9, 9];
        let t = tally(0..10u64, found);
        assert_eq!(t.acked, 10);
        assert_eq!(t.found, 8);
        assert_eq!(t.lost, 2);
        assert_eq!(t.duplicated, 3);
        assert_eq!(t.unacknowledged_found, 0);
    }

    #[test]
    fn records_without_an_acknowledgement_are_counted_apart() {
        // 10 and 11 were written though the producer never heard back; 11 twice.
        let t = tally(0..10u64, (0..12u64).chain([11]));
        assert_eq!(t.lost, 0);
        assert_eq!(t.found, 10);
        assert_eq!(t.unacknowledged_found, 2);
        assert_eq!(t.duplicated, 1);
    }

    #[test]
    fn keys_may_be_input_coordinates() {
        let acked = [(0, 10i64), (0, 11), (1, 4)];
        let found = [(1, 4), (0, 10), (0, 10)];
        let t = tally(acked, found);
        assert_eq!((t.lost, t.duplicated), (1, 1));
        let acked: HashSet<_> = acked.into_iter().collect();
        assert!(!all_found(&acked, &found.into_iter().collect()));
        assert!(all_found(
            &acked,
            &[(0, 10), (0, 11), (1, 4), (2, 0)].into_iter().collect()
        ));
    }
}
