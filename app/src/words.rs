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

/// A contract's key as words: `supportHours` → "Support hours", `time_to_detect` →
/// "Time to detect".
pub fn humane_key(key: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    for c in key.chars() {
        if c == '_' || c == '-' || c == ' ' {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
        } else if c.is_uppercase() && !word.is_empty() {
            words.push(std::mem::take(&mut word));
            word.extend(c.to_lowercase());
        } else {
            word.extend(c.to_lowercase());
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    let text = words.join(" ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
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

    #[test]
    fn keys_read_as_words() {
        assert_eq!(humane_key("supportHours"), "Support hours");
        assert_eq!(humane_key("latency"), "Latency");
        assert_eq!(humane_key("time_to_detect"), "Time to detect");
        assert_eq!(humane_key(""), "");
    }
}
