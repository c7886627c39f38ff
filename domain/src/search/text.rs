//! Text handling shared by indexing, querying and highlighting: identifiers written in
//! camelCase or with separators (`CustomerSignedUp`, `customer-signed-up.v1`,
//! `signupRiskScore`) become separate words, so a search for "customer signed" finds them.
//! The index receives text with the words already split; the analyzer then only lowercases.

use std::ops::Range;

/// Byte ranges of the words in `text`: runs of letters and digits, split again at
/// camelCase boundaries (`signupRiskScore` → `signup`, `Risk`, `Score`; `HTTPServer` →
/// `HTTP`, `Server`).
pub fn word_ranges(text: &str) -> Vec<Range<usize>> {
    let mut words = Vec::new();
    visit_words(text, |range| {
        words.push(range);
        true
    });
    words
}

/// Calls `visit` with the byte range of each word of `text` (see [`word_ranges`]) until it
/// returns false.
fn visit_words(text: &str, mut visit: impl FnMut(Range<usize>) -> bool) {
    let mut start: Option<usize> = None;
    let mut previous = ' ';
    let mut chars = text.char_indices().peekable();
    while let Some((offset, c)) = chars.next() {
        if !c.is_alphanumeric() {
            if let Some(s) = start.take()
                && !visit(s..offset)
            {
                return;
            }
        } else if let Some(s) = start {
            let next = chars.peek().map(|&(_, n)| n);
            let lower_to_upper =
                c.is_uppercase() && (previous.is_lowercase() || previous.is_ascii_digit());
            let acronym_end =
                c.is_uppercase() && previous.is_uppercase() && next.is_some_and(char::is_lowercase);
            if lower_to_upper || acronym_end {
                if !visit(s..offset) {
                    return;
                }
                start = Some(offset);
            }
        } else {
            start = Some(offset);
        }
        previous = c;
    }
    if let Some(s) = start {
        visit(s..text.len());
    }
}

/// `text` with its words separated by spaces, ready for the analyzer.
pub fn split_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for range in word_ranges(text) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&text[range]);
    }
    out
}

/// The lowercase words of `text`.
pub fn words(text: &str) -> Vec<String> {
    word_ranges(text)
        .into_iter()
        .map(|range| text[range].to_lowercase())
        .collect()
}

/// The key two names share when they differ only in case, spaces or separators:
/// `OrderPlaced`, `order placed` and `order-placed` all give `orderplaced`.
pub fn exact_key(text: &str) -> String {
    // Lowercase first: a lowercase form may hold a mark that is no letter (`İ` → `i̇`), and
    // a key must not differ from the key of its own lowercase.
    text.chars()
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// How many typos a query word of this many letters tolerates: none up to 3 letters, one
/// for 4–7 and two for longer words.
pub fn typo_budget(word: &str) -> u8 {
    match word.chars().count() {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

/// Whether the document word `candidate` matches the query word `word`: equal, within the
/// typo budget, or (for the word being typed) starting with it.
pub fn word_matches(word: &str, candidate: &str, prefix: bool) -> bool {
    if candidate == word || (prefix && candidate.starts_with(word)) {
        return true;
    }
    let budget = typo_budget(word) as usize;
    // Each edit changes the length by at most one: most words are ruled out by length.
    budget > 0
        && word.len().abs_diff(candidate.len()) <= budget * 4
        && word.chars().count().abs_diff(candidate.chars().count()) <= budget
        && letters_differ_by_at_most(word, candidate, 2 * budget)
        && strsim::osa_distance(word, candidate) <= budget
}

/// Whether the multisets of the two words' letters differ by at most `limit` (letters of
/// one missing from the other, counted both ways). An edit changes that difference by at
/// most two (a transposition by none), so words `budget` edits apart differ by at most
/// 2 × `budget`: most same-length words of a text are ruled out here, without the distance
/// computation. ASCII case is ignored; words with other letters are never ruled out.
fn letters_differ_by_at_most(a: &str, b: &str, limit: usize) -> bool {
    if !a.is_ascii() || !b.is_ascii() {
        return true;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut balance = [0i16; 256];
    for byte in a {
        balance[usize::from(byte.to_ascii_lowercase())] += 1;
    }
    for byte in b {
        balance[usize::from(byte.to_ascii_lowercase())] -= 1;
    }
    let differ: usize = a
        .iter()
        .chain(b)
        .map(|byte| usize::from(byte.to_ascii_lowercase()))
        .map(|at| std::mem::take(&mut balance[at]).unsigned_abs() as usize)
        .sum();
    differ <= limit
}

/// Whether any word of `text` matches one of `terms` (the last one a prefix when `prefix`).
pub fn mentions(text: &str, terms: &[String], prefix: bool) -> bool {
    let mut found = false;
    visit_words(text, |range| {
        found = any_term_matches(&text[range], terms, prefix);
        !found
    });
    found
}

/// Whether the document word `raw` (any case) matches one of `terms`.
fn any_term_matches(raw: &str, terms: &[String], prefix: bool) -> bool {
    let last = terms.len().saturating_sub(1);
    let mut terms = terms.iter().enumerate();
    if raw.is_ascii() {
        terms.any(|(i, term)| ascii_word_matches(term, raw, prefix && i == last))
    } else {
        let candidate = raw.to_lowercase();
        terms.any(|(i, term)| word_matches(term, &candidate, prefix && i == last))
    }
}

/// [`word_matches`] for an ASCII document word in any case, without lowercasing it unless
/// it may be a typo of `word` (highlighting checks every word of a hit).
fn ascii_word_matches(word: &str, raw: &str, prefix: bool) -> bool {
    if raw.eq_ignore_ascii_case(word)
        || (prefix && raw.len() >= word.len() && raw[..word.len()].eq_ignore_ascii_case(word))
    {
        return true;
    }
    let budget = typo_budget(word) as usize;
    budget > 0
        && raw.len().abs_diff(word.chars().count()) <= budget
        && letters_differ_by_at_most(word, raw, 2 * budget)
        && strsim::osa_distance(word, &raw.to_ascii_lowercase()) <= budget
}

/// A piece of highlighted text: `hit` marks the words that matched the query.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Segment {
    pub text: String,
    pub hit: bool,
}

/// Marks the words of `text` that match `terms` (the last one a prefix when `prefix`), and
/// cuts a window of about `max_chars` around the first match. `None` when nothing matched.
pub fn highlight(
    text: &str,
    terms: &[String],
    prefix: bool,
    max_chars: usize,
) -> Option<Vec<Segment>> {
    let mut hits: Vec<Range<usize>> = Vec::new();
    visit_words(text, |range| {
        if any_term_matches(&text[range.clone()], terms, prefix) {
            hits.push(range);
        }
        true
    });
    let first = hits.first()?;
    let (start, end) = window(text, first.start, max_chars);
    let mut segments = Vec::new();
    let mut cursor = start;
    let push = |segments: &mut Vec<Segment>, text: &str, hit: bool| {
        if text.is_empty() {
            return;
        }
        match segments.last_mut() {
            Some(last) if last.hit == hit => last.text.push_str(text),
            _ => segments.push(Segment {
                text: text.to_string(),
                hit,
            }),
        }
    };
    if start > 0 {
        push(&mut segments, "…", false);
    }
    for hit in hits.iter().filter(|h| h.start >= start && h.end <= end) {
        push(&mut segments, &text[cursor..hit.start], false);
        push(&mut segments, &text[hit.clone()], true);
        cursor = hit.end;
    }
    push(&mut segments, &text[cursor..end], false);
    if end < text.len() {
        push(&mut segments, "…", false);
    }
    Some(segments)
}

/// A window of at most `max_chars` characters of `text` that contains byte `focus`, starting
/// a little before it and on a character boundary.
fn window(text: &str, focus: usize, max_chars: usize) -> (usize, usize) {
    if text.chars().count() <= max_chars {
        return (0, text.len());
    }
    let lead = (max_chars / 4).max(1);
    let before: Vec<usize> = text[..focus].char_indices().map(|(i, _)| i).collect();
    let mut start = before.len().checked_sub(lead).map_or(0, |i| before[i]);
    // Start at a word boundary rather than in the middle of one.
    if start > 0
        && let Some(space) = text[start..focus].find(' ')
    {
        start += space + 1;
    }
    let end = text[start..]
        .char_indices()
        .nth(max_chars)
        .map_or(text.len(), |(i, _)| start + i);
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_identifiers_become_words() {
        for (text, expected) in [
            ("CustomerSignedUp", vec!["Customer", "Signed", "Up"]),
            ("signupRiskScore", vec!["signup", "Risk", "Score"]),
            ("customerID", vec!["customer", "ID"]),
            ("HTTPServerError", vec!["HTTP", "Server", "Error"]),
            (
                "sales.order-placed.v1",
                vec!["sales", "order", "placed", "v1"],
            ),
            ("Größe änderte", vec!["Größe", "änderte"]),
            ("", vec![]),
        ] {
            let got: Vec<&str> = word_ranges(text).into_iter().map(|r| &text[r]).collect();
            assert_eq!(got, expected, "{text}");
        }
    }

    #[test]
    fn names_differing_in_case_and_separators_share_a_key() {
        assert_eq!(exact_key("OrderPlaced"), "orderplaced");
        assert_eq!(exact_key("order placed"), "orderplaced");
        assert_eq!(exact_key("sales.order-placed"), "salesorderplaced");
        assert_eq!(exact_key("İD"), "id");
        assert_eq!(exact_key(&"İD".to_lowercase()), "id");
    }

    #[test]
    fn typo_budget_follows_word_length() {
        assert_eq!(typo_budget("abc"), 0);
        assert_eq!(typo_budget("abcd"), 1);
        assert_eq!(typo_budget("abcdefg"), 1);
        assert_eq!(typo_budget("abcdefgh"), 2);
        assert!(word_matches("custmer", "customer", false));
        // Transposed, substituted, inserted and missing letters; too many differences.
        assert!(word_matches("cutsomer", "customer", false));
        assert!(word_matches("custoner", "customer", false));
        assert!(word_matches("customers", "customer", false));
        assert!(!word_matches("cuxtomex", "custom", false));
        assert!(!word_matches("cuxtoxex", "customer", false));
        assert!(!word_matches("consumer", "customer", false));
        assert!(letters_differ_by_at_most("parcel", "PARCEL", 0));
        assert!(letters_differ_by_at_most("parcel", "carpet", 2));
        assert!(!letters_differ_by_at_most("parcel", "planet", 2));
        assert!(letters_differ_by_at_most("größe", "grösse", 0));
        assert!(!word_matches("ordr", "orders", false));
        assert!(word_matches("ord", "orders", true));
        assert!(
            word_matches("sigunp", "signup", false),
            "a transposition is one typo"
        );
    }

    #[test]
    fn highlights_mark_matching_words_in_a_window() {
        let text = "When the sign-up completed, the customer record was created";
        let segments = highlight(text, &["custmer".to_string()], false, 200).expect("a match");
        let marked: Vec<&str> = segments
            .iter()
            .filter(|s| s.hit)
            .map(|s| s.text.as_str())
            .collect();
        assert_eq!(marked, vec!["customer"]);
        let joined: String = segments.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(joined, text);

        let long = format!("{} customer {}", "lorem ".repeat(100), "ipsum ".repeat(100));
        let segments = highlight(&long, &["customer".to_string()], false, 80).expect("a match");
        let joined: String = segments.iter().map(|s| s.text.as_str()).collect();
        assert!(joined.starts_with('…') && joined.ends_with('…'));
        assert!(joined.chars().count() <= 84, "{joined}");
        assert!(highlight("nothing here", &["customer".to_string()], false, 80).is_none());

        // Any case, the word being typed as a prefix, typos and non-ASCII words.
        let terms = [
            "größe".to_string(),
            "custmer".to_string(),
            "sig".to_string(),
        ];
        let segments =
            highlight("GRÖSSE Größe CUSTOMER SignUp sig", &terms, true, 200).expect("a match");
        let marked: Vec<&str> = segments
            .iter()
            .filter(|s| s.hit)
            .map(|s| s.text.as_str())
            .collect();
        assert_eq!(marked, vec!["Größe", "CUSTOMER", "Sign", "sig"]);
    }
}
