//! Field classifications ordered by sensitivity (`public` < `internal` < `confidential` <
//! `restricted`): a product is as sensitive as its most sensitive field, which is what its
//! badge says (not a hand-written `pii` tag that drifts from the schema).

/// The classifications a field may carry, least sensitive first.
pub const LEVELS: [&str; 4] = ["public", "internal", "confidential", "restricted"];

/// The rank of `classification` (any case) among [`LEVELS`], if it is one.
pub fn level(classification: &str) -> Option<usize> {
    LEVELS
        .iter()
        .position(|level| level.eq_ignore_ascii_case(classification.trim()))
}

/// The most sensitive of `classifications`; unknown words are ignored.
pub fn most_sensitive<'a>(
    classifications: impl IntoIterator<Item = &'a str>,
) -> Option<&'static str> {
    classifications
        .into_iter()
        .filter_map(level)
        .max()
        .map(|level| LEVELS[level])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_sensitive_field_decides() {
        assert_eq!(
            most_sensitive(["public", "Confidential", "internal"]),
            Some("confidential")
        );
        assert_eq!(most_sensitive(["restricted", "public"]), Some("restricted"));
        assert_eq!(most_sensitive(["secret-ish"]), None);
        assert_eq!(most_sensitive(Vec::<&str>::new()), None);
    }
}
