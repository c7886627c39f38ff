//! Counted words as people write them: "1 version", "3 versions", "an active subscription".

/// `count` and the noun in the number it takes ("1 node", "12 nodes").
pub fn counted(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// The indefinite article for `word` ("an active", "a pending").
pub fn article(word: &str) -> &'static str {
    match word.chars().next() {
        Some(c) if "aeiouAEIOU".contains(c) => "an",
        _ => "a",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_take_their_number_and_articles_their_sound() {
        assert_eq!(counted(1, "version", "versions"), "1 version");
        assert_eq!(counted(0, "version", "versions"), "0 versions");
        assert_eq!(counted(12, "node", "nodes"), "12 nodes");
        assert_eq!(article("active"), "an");
        assert_eq!(article("pending"), "a");
        assert_eq!(article("expired"), "an");
    }
}
