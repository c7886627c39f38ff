//! Counting the documents two bitsets share. Facet counting does this for every common facet
//! value over a whole segment on every search, so the speed of `count_ones` matters: with the
//! CPU's `popcnt` instruction a word costs about half what the default x86-64 target's
//! shifts and masks do. `.cargo/config.toml` builds for x86-64 Linux with `popcnt` enabled
//! (every x86-64 CPU since about 2010 has it), which makes the plain loop below use it; a
//! build without it stays correct, only slower, and [`words_per_code`] says so.

/// How many bits are set in both `a` and `b` (compared word by word, up to the shorter).
pub(super) fn shared(a: &[u64], b: &[u64]) -> u32 {
    a.iter().zip(b).map(|(a, b)| (a & b).count_ones()).sum()
}

/// About how many words `shared` goes through in the time counting one facet code of one
/// match takes (measured on the bench catalog: 4 with `popcnt`; without it a word costs
/// about what a code does).
pub(super) const fn words_per_code() -> usize {
    if cfg!(any(target_feature = "popcnt", not(target_arch = "x86_64"))) {
        4
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_bits_both_sets_have() {
        let a = [0b1011u64, u64::MAX, 0, 1 << 63];
        let b = [0b0110u64, u64::MAX, u64::MAX, 1 << 63];
        // 1 + 64 + 0 + 1.
        assert_eq!(shared(&a, &b), 66);
        // Only the words both have are compared.
        assert_eq!(shared(&a[..1], &b), 1);
    }

    /// `words_per_code` and facet counting's speed assume the target section of
    /// `.cargo/config.toml` is in force.
    #[test]
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    fn x86_64_linux_builds_count_bits_with_popcnt() {
        const { assert!(cfg!(target_feature = "popcnt")) };
    }
}
