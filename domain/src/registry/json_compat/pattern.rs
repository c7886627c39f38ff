//! `patternProperties` keys matched with the `regex` crate (linear-time matching and a
//! bounded compiled size). JSON Schema patterns are ECMA-262; the common subset (literals,
//! classes, `\d\w\s`, anchors, groups, alternation, quantifiers) reads the same in both.
//! Look-around and back-references do not compile: [`compile`] returns `None` for them.

/// Largest compiled program accepted, so a hostile pattern cannot use much memory.
const SIZE_LIMIT: usize = 1 << 20;

/// A compiled pattern.
#[derive(Debug)]
pub(super) struct Regex(regex::Regex);

/// Compiles `source`, or `None` when it does not compile (or would be too large).
pub(super) fn compile(source: &str) -> Option<Regex> {
    regex::RegexBuilder::new(source)
        .size_limit(SIZE_LIMIT)
        .build()
        .ok()
        .map(Regex)
}

impl Regex {
    /// Whether the pattern matches anywhere in `text` (JSON Schema patterns are not
    /// anchored).
    pub(super) fn is_match(&self, text: &str) -> bool {
        self.0.is_match(text)
    }
}

#[cfg(test)]
mod tests {
    use super::compile;

    fn matches(pattern: &str, text: &str) -> Option<bool> {
        compile(pattern).map(|regex| regex.is_match(text))
    }

    #[test]
    fn the_usual_patterns_match_as_in_ecma_262() {
        assert_eq!(matches("^I_", "I_123"), Some(true));
        assert_eq!(matches("^I_", "xI_123"), Some(false));
        assert_eq!(matches("_1", "I_123"), Some(true));
        assert_eq!(matches("^[a-z]+$", "abC"), Some(false));
        assert_eq!(matches("^(foo|bar)\\d{2,3}$", "bar12"), Some(true));
        assert_eq!(matches("^(foo|bar)\\d{2,3}$", "bar1234"), Some(false));
        assert_eq!(matches("^x-\\w+$", "x-custom_1"), Some(true));
        assert_eq!(matches("(a*)*b", &"a".repeat(5000)), Some(false));
    }

    #[test]
    fn unsupported_or_broken_patterns_do_not_compile() {
        assert!(compile("(?=a)").is_none());
        assert!(compile("(a)\\1").is_none());
        assert!(compile("(").is_none());
        assert!(compile("a{100000}{100000}").is_none());
    }
}
