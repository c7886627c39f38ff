//! The query language of the search box: free words, `"quoted phrases"` and field filters
//! (`domain:sales tag:pii owner:alice status:active field:customerID`, also `format:`,
//! `sla:`, `topic:`, `classification:` and `health:` — a stream's live status, `fresh`,
//! `stale` or `no_data`). Parsing is lenient where intent is clear (an
//! unterminated quote runs to the end) and strict where guessing would mislead: an unknown
//! filter or one without a value is the user's error, reported with its position.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::text;

/// How hits are ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    /// Best match first (by name when the query has no words).
    #[default]
    Relevance,
    /// Alphabetically by name.
    Name,
    /// Most recently updated first.
    Updated,
    /// Most subscribers first.
    Subscribers,
}

impl Sort {
    /// The sort called `name`.
    pub fn parse(name: &str) -> Option<Sort> {
        match name {
            "relevance" | "" => Some(Sort::Relevance),
            "name" => Some(Sort::Name),
            "updated" => Some(Sort::Updated),
            "subscribers" => Some(Sort::Subscribers),
            _ => None,
        }
    }
}

/// Longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 500;
/// Most words and phrases one query may hold, and most filter values.
pub const MAX_TERMS: usize = 32;
/// Longest filter value, in characters.
pub const MAX_FILTER_CHARS: usize = 200;

/// A filter the query language knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FilterKey {
    Domain,
    Tag,
    Owner,
    Status,
    Health,
    Field,
    Format,
    Sla,
    Topic,
    Classification,
}

impl FilterKey {
    /// Every filter, in the order help texts list them.
    pub const ALL: [FilterKey; 10] = [
        FilterKey::Domain,
        FilterKey::Tag,
        FilterKey::Owner,
        FilterKey::Status,
        FilterKey::Health,
        FilterKey::Field,
        FilterKey::Format,
        FilterKey::Sla,
        FilterKey::Topic,
        FilterKey::Classification,
    ];

    /// The word before the colon.
    pub fn name(self) -> &'static str {
        match self {
            FilterKey::Domain => "domain",
            FilterKey::Tag => "tag",
            FilterKey::Owner => "owner",
            FilterKey::Status => "status",
            FilterKey::Health => "health",
            FilterKey::Field => "field",
            FilterKey::Format => "format",
            FilterKey::Sla => "sla",
            FilterKey::Topic => "topic",
            FilterKey::Classification => "classification",
        }
    }

    /// The filter called `name` (case-insensitive).
    pub fn parse(name: &str) -> Option<FilterKey> {
        FilterKey::ALL
            .into_iter()
            .find(|key| key.name().eq_ignore_ascii_case(name))
    }

    fn example(self) -> &'static str {
        match self {
            FilterKey::Domain => "domain:sales",
            FilterKey::Tag => "tag:pii",
            FilterKey::Owner => "owner:alice",
            FilterKey::Status => "status:active",
            FilterKey::Health => "health:stale",
            FilterKey::Field => "field:customerID",
            FilterKey::Format => "format:avro",
            FilterKey::Sla => "sla:gold",
            FilterKey::Topic => "topic:sales.order-placed.v1",
            FilterKey::Classification => "classification:restricted",
        }
    }
}

/// Product statuses a `status:` filter may name.
pub const STATUSES: [&str; 4] = ["draft", "active", "deprecated", "retired"];
/// Live stream statuses a `health:` filter may name.
pub const HEALTH_STATUSES: [&str; 3] = ["fresh", "stale", "no_data"];

/// A query the user got wrong, with the character position it went wrong at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryError {
    pub message: String,
    /// 0-based character offset in the query.
    pub position: usize,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.position + 1)
    }
}

impl std::error::Error for QueryError {}

/// A parsed query.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedQuery {
    /// Lowercase free words, in order.
    pub words: Vec<String>,
    /// Quoted phrases, as lowercase words.
    pub phrases: Vec<Vec<String>>,
    /// Filters as (key, value); several values of one key are alternatives.
    pub filters: Vec<(FilterKey, String)>,
    /// Whether the last free word is still being typed (the query does not end in a space),
    /// so it also matches as a prefix.
    pub prefix_last: bool,
    /// The free text and phrases as one key (see [`text::exact_key`]), for exact name and
    /// topic matches.
    pub exact: Option<String>,
}

impl ParsedQuery {
    /// Whether the query has any words or phrases to score by (rather than only filters).
    pub fn has_text(&self) -> bool {
        !self.words.is_empty() || !self.phrases.is_empty()
    }

    /// Adds a filter that came from outside the query text (API parameters, facet toggles).
    pub fn add_filter(&mut self, key: FilterKey, value: &str) -> Result<(), QueryError> {
        if self.filters.len() >= MAX_TERMS {
            return Err(QueryError {
                message: format!("at most {MAX_TERMS} filter values apply at once"),
                position: 0,
            });
        }
        let value = normalise(key, value, 0)?;
        if !self.filters.contains(&(key, value.clone())) {
            self.filters.push((key, value));
        }
        Ok(())
    }

    /// The values filtered on for `key`.
    pub fn values(&self, key: FilterKey) -> impl Iterator<Item = &str> {
        self.filters
            .iter()
            .filter(move |(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses the search box's text.
pub fn parse(input: &str) -> Result<ParsedQuery, QueryError> {
    let count = input.chars().count();
    if count > MAX_QUERY_CHARS {
        return Err(QueryError {
            message: format!(
                "the query is {count} characters long; at most {MAX_QUERY_CHARS} are searched"
            ),
            position: MAX_QUERY_CHARS,
        });
    }
    let chars: Vec<char> = input.chars().collect();
    let mut parsed = ParsedQuery::default();
    let mut exact_text = String::new();
    let mut last_was_word = false;
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if chars[i] == '"' {
            let (content, next) = quoted(&chars, i);
            i = next;
            let words = text::words(&content);
            exact_text.push_str(&content);
            match words.len() {
                0 => {}
                1 => parsed.words.extend(words),
                _ => parsed.phrases.push(words),
            }
            last_was_word = false;
            continue;
        }
        while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '"' {
            i += 1;
        }
        let token: String = chars[start..i].iter().collect();
        if let Some((name, value)) = token.split_once(':')
            && !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphabetic())
        {
            let Some(key) = FilterKey::parse(name) else {
                let known: Vec<String> = FilterKey::ALL
                    .iter()
                    .map(|k| format!("{}:", k.name()))
                    .collect();
                return Err(QueryError {
                    message: format!(
                        "unknown filter `{name}:`; filters are {} (put the text in quotes to search for it literally)",
                        known.join(", ")
                    ),
                    position: start,
                });
            };
            let value = if value.is_empty() && chars.get(i) == Some(&'"') {
                let (content, next) = quoted(&chars, i);
                i = next;
                content
            } else {
                value.to_string()
            };
            let value = normalise(key, &value, start)?;
            if !parsed.filters.contains(&(key, value.clone())) {
                if parsed.filters.len() >= MAX_TERMS {
                    return Err(QueryError {
                        message: format!("at most {MAX_TERMS} filter values apply at once"),
                        position: start,
                    });
                }
                parsed.filters.push((key, value));
            }
            last_was_word = false;
            continue;
        }
        let words = text::words(&token);
        last_was_word = !words.is_empty();
        exact_text.push_str(&token);
        parsed.words.extend(words);
    }
    if parsed.words.len() + parsed.phrases.len() > MAX_TERMS {
        return Err(QueryError {
            message: format!("the query has more than {MAX_TERMS} words; shorten it"),
            position: 0,
        });
    }
    parsed.prefix_last = last_was_word && !input.ends_with(char::is_whitespace);
    let exact = text::exact_key(&exact_text);
    parsed.exact = (!exact.is_empty()).then_some(exact);
    Ok(parsed)
}

/// The text between the quote at `open` and the next quote (or the end), and the index
/// after it.
fn quoted(chars: &[char], open: usize) -> (String, usize) {
    let mut end = open + 1;
    while end < chars.len() && chars[end] != '"' {
        end += 1;
    }
    let content = chars[open + 1..end].iter().collect();
    (content, (end + 1).min(chars.len()))
}

/// The value of a filter as the index stores it.
fn normalise(key: FilterKey, value: &str, position: usize) -> Result<String, QueryError> {
    let value = value.trim();
    let value = match key {
        FilterKey::Topic => value.to_string(),
        FilterKey::Field => text::exact_key(value),
        _ => value.to_lowercase(),
    };
    // Both checked after normalising: lowercasing may lengthen a value (`İ` → `i̇`), and
    // a stored value must be one that is accepted again as a filter; `field:-` has no
    // letters or digits to match a field by.
    if value.chars().count() > MAX_FILTER_CHARS {
        return Err(QueryError {
            message: format!(
                "`{}:` values are at most {MAX_FILTER_CHARS} characters",
                key.name()
            ),
            position,
        });
    }
    if value.is_empty() {
        return Err(QueryError {
            message: format!(
                "`{}:` needs a value, for example {}",
                key.name(),
                key.example()
            ),
            position,
        });
    }
    if key == FilterKey::Status && !STATUSES.contains(&value.as_str()) {
        return Err(QueryError {
            message: format!(
                "unknown status `{value}`; use one of {}",
                STATUSES.join(", ")
            ),
            position,
        });
    }
    if key == FilterKey::Health && !HEALTH_STATUSES.contains(&value.as_str()) {
        return Err(QueryError {
            message: format!(
                "unknown stream health `{value}`; use one of {}",
                HEALTH_STATUSES.join(", ")
            ),
            position,
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_words_phrases_and_filters() {
        let parsed =
            parse(r#"custmer "signed up" domain:Customer-Management field:customerID tag:PII"#)
                .expect("valid");
        assert_eq!(parsed.words, vec!["custmer"]);
        assert_eq!(
            parsed.phrases,
            vec![vec!["signed".to_string(), "up".to_string()]]
        );
        assert_eq!(
            parsed.filters,
            vec![
                (FilterKey::Domain, "customer-management".to_string()),
                (FilterKey::Field, "customerid".to_string()),
                (FilterKey::Tag, "pii".to_string()),
            ]
        );
        assert!(!parsed.prefix_last, "the last token is a filter");
        assert_eq!(parsed.exact.as_deref(), Some("custmersignedup"));
    }

    #[test]
    fn camel_case_words_split_and_the_last_word_is_a_prefix_while_typing() {
        let parsed = parse("OrderPlac").expect("valid");
        assert_eq!(parsed.words, vec!["order", "plac"]);
        assert!(parsed.prefix_last);
        assert_eq!(parsed.exact.as_deref(), Some("orderplac"));
        assert!(!parse("order ").expect("valid").prefix_last);
    }

    #[test]
    fn quoted_filter_values_and_unterminated_quotes() {
        let parsed = parse(r#"owner:"Alice Smith" "order plac"#).expect("valid");
        assert_eq!(
            parsed.filters,
            vec![(FilterKey::Owner, "alice smith".to_string())]
        );
        assert_eq!(
            parsed.phrases,
            vec![vec!["order".to_string(), "plac".to_string()]]
        );
    }

    #[test]
    fn mistakes_are_reported_with_their_position() {
        let error = parse("orders colour:red").expect_err("unknown filter");
        assert_eq!(error.position, 7);
        assert!(
            error.message.contains("unknown filter `colour:`"),
            "{error}"
        );
        assert!(error.message.contains("domain:"), "{error}");

        let error = parse("domain:").expect_err("empty value");
        assert!(error.message.contains("domain:sales"), "{error}");
        let long = format!("tag:{}", "İ".repeat(MAX_FILTER_CHARS / 2 + 1));
        assert!(
            parse(&long)
                .expect_err("too long once lowercased")
                .message
                .contains("at most")
        );
        let error = parse("orders field:-").expect_err("no letters or digits");
        assert_eq!(error.position, 7);
        assert!(error.message.contains("field:customerID"), "{error}");

        let error = parse("status:gone").expect_err("bad status");
        assert!(
            error.message.contains("draft, active, deprecated, retired"),
            "{error}"
        );

        assert!(parse(&"a".repeat(MAX_QUERY_CHARS + 1)).is_err());
        assert!(parse(&"word ".repeat(MAX_TERMS + 1)).is_err());
        let many: Vec<String> = (0..=MAX_TERMS).map(|i| format!("tag:t{i}")).collect();
        let error = parse(&many.join(" ")).expect_err("too many filter values");
        assert_eq!(
            error.position,
            many[..MAX_TERMS].join(" ").chars().count() + 1
        );
        assert!(error.message.contains("filter values"), "{error}");
        // Repeating a value adds nothing, so it does not count against the limit.
        assert!(parse(&"tag:pii ".repeat(MAX_TERMS + 1)).is_ok());
    }

    #[test]
    fn colons_inside_words_are_text() {
        let parsed = parse("12:30 ::").expect("valid");
        assert_eq!(parsed.words, vec!["12", "30"]);
        assert!(parsed.filters.is_empty());
    }

    mod properties {
        //! Properties a user relies on for any text typed into the search box.

        use proptest::prelude::*;

        use super::super::*;

        /// Fragments that stress the tokenizer: filters known and unknown, quotes, colons,
        /// odd whitespace, control characters, combining marks and camelCase.
        fn fragment() -> impl Strategy<Value = String> {
            prop_oneof![
                "[a-zA-Z0-9]{1,8}",
                "\\PC{1,4}",
                Just("tag:".to_string()),
                Just("TAG:".to_string()),
                Just("field:".to_string()),
                Just("status:".to_string()),
                Just("health:".to_string()),
                Just("owner:".to_string()),
                Just(":".to_string()),
                Just("\"".to_string()),
                Just("-".to_string()),
                Just(" ".to_string()),
                Just("\t".to_string()),
                Just("\n".to_string()),
                Just("\u{a0}".to_string()),
                Just("\u{3000}".to_string()),
                Just("\u{0}".to_string()),
                Just("\u{1b}[0m".to_string()),
                Just("\u{301}".to_string()),
                Just("İ".to_string()),
                Just("ß".to_string()),
                Just("🦀".to_string()),
                Just("OrderPlaced".to_string()),
            ]
        }

        /// Any text: arbitrary strings, and soups of the fragments above (some longer
        /// than the query limit).
        fn any_query() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<String>(),
                prop::collection::vec(fragment(), 0..40).prop_map(|parts| parts.concat()),
                (prop::collection::vec(fragment(), 1..8), 20..120usize)
                    .prop_map(|(parts, times)| parts.concat().repeat(times)),
                // Many short, distinct words and filters: the limits on their numbers.
                prop::collection::vec("[a-z]{1,3}|(tag|domain|sla|field):[a-z0-9]{1,3}", 0..90)
                    .prop_map(|tokens| tokens.join(" ")),
            ]
        }

        fn known_key() -> impl Strategy<Value = FilterKey> {
            prop::sample::select(FilterKey::ALL.to_vec())
        }

        /// A filter name as a user might type it: any mix of case.
        fn spelled(key: FilterKey) -> impl Strategy<Value = String> {
            prop::collection::vec(any::<bool>(), key.name().len()).prop_map(move |upper| {
                key.name()
                    .chars()
                    .zip(upper)
                    .map(|(c, up)| if up { c.to_ascii_uppercase() } else { c })
                    .collect()
            })
        }

        /// A value for `key` that the parser accepts, unquoted or quoted (with spaces).
        fn value_for(key: FilterKey) -> BoxedStrategy<(String, bool)> {
            let closed = match key {
                FilterKey::Status => Some(STATUSES.to_vec()),
                FilterKey::Health => Some(HEALTH_STATUSES.to_vec()),
                _ => None,
            };
            if let Some(values) = closed {
                return (prop::sample::select(values), any::<bool>())
                    .prop_map(|(status, upper)| {
                        let typed = if upper {
                            status.to_uppercase()
                        } else {
                            status.to_string()
                        };
                        (typed, false)
                    })
                    .boxed();
            }
            prop_oneof![
                "[A-Za-z0-9][A-Za-z0-9._-]{0,20}".prop_map(|v| (v, false)),
                "[A-Za-z0-9]{1,6}( [A-Za-z0-9]{1,6}){1,2}".prop_map(|v| (v, true)),
            ]
            .boxed()
        }

        /// What the index holds for a value typed after `key:`.
        fn stored(key: FilterKey, typed: &str) -> String {
            match key {
                FilterKey::Topic => typed.to_string(),
                FilterKey::Field => text::exact_key(typed),
                _ => typed.to_lowercase(),
            }
        }

        fn free_words() -> impl Strategy<Value = Vec<String>> {
            prop::collection::vec("[A-Za-z0-9]{1,10}", 0..6)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Any text parses or is refused with a position inside it; what parses stays
            /// within the documented limits, so the engine never builds an unbounded query.
            #[test]
            fn any_text_parses_within_the_limits_or_is_refused_with_a_position(
                input in any_query(),
            ) {
                let length = input.chars().count();
                match parse(&input) {
                    Err(error) => {
                        prop_assert!(error.position <= length, "{error:?} in {length} chars");
                        prop_assert!(!error.message.is_empty());
                        let shown = format!("at character {}", error.position + 1);
                        prop_assert!(error.to_string().contains(&shown), "{error}");
                    }
                    Ok(parsed) => {
                        prop_assert!(length <= MAX_QUERY_CHARS);
                        prop_assert!(parsed.words.len() + parsed.phrases.len() <= MAX_TERMS);
                        prop_assert!(
                            parsed.filters.len() <= MAX_TERMS,
                            "{} filter values",
                            parsed.filters.len()
                        );
                        for word in &parsed.words {
                            prop_assert!(!word.is_empty());
                            prop_assert!(!word.contains(char::is_whitespace), "{word:?}");
                            prop_assert_eq!(&word.to_lowercase(), word);
                        }
                        for phrase in &parsed.phrases {
                            prop_assert!(phrase.len() >= 2, "{phrase:?}");
                        }
                        for (i, (key, value)) in parsed.filters.iter().enumerate() {
                            prop_assert!(!value.is_empty(), "{}: is empty", key.name());
                            prop_assert!(value.chars().count() <= MAX_FILTER_CHARS);
                            prop_assert!(!parsed.filters[..i].contains(&(*key, value.clone())));
                            if *key == FilterKey::Status {
                                prop_assert!(STATUSES.contains(&value.as_str()), "{value}");
                            }
                            // A stored value is a fixed point: applying it again as a facet
                            // selects exactly the same filter.
                            let mut again = ParsedQuery::default();
                            prop_assert!(again.add_filter(*key, value).is_ok());
                            prop_assert_eq!(&again.filters, &vec![(*key, value.clone())]);
                        }
                        if parsed.prefix_last {
                            prop_assert!(!parsed.words.is_empty());
                            prop_assert!(!input.ends_with(char::is_whitespace));
                        }
                        prop_assert!(parsed.exact.as_deref() != Some(""));
                    }
                }
            }

            /// A filter is recognised wherever it stands among free words, whatever the case
            /// of its name, and the words around it are searched as if it were not there.
            #[test]
            fn a_filter_is_recognised_wherever_it_stands(
                (key, spelling, (value, quoted)) in known_key().prop_flat_map(|key| {
                    (Just(key), spelled(key), value_for(key))
                }),
                words in free_words(),
                at in any::<prop::sample::Index>(),
            ) {
                let filter = if quoted {
                    format!("{spelling}:\"{value}\"")
                } else {
                    format!("{spelling}:{value}")
                };
                let mut tokens = words.clone();
                tokens.insert(at.index(words.len() + 1), filter.clone());
                let query = tokens.join(" ");

                let parsed = parse(&query).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(&parsed.filters, &vec![(key, stored(key, &value))]);
                let without = parse(&words.join(" ")).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(&parsed.words, &without.words);
                prop_assert_eq!(&parsed.exact, &without.exact);
                prop_assert!(parsed.phrases.is_empty());
            }

            /// A word before a colon that is no filter is refused at the start of that word,
            /// naming it, rather than silently searched for.
            #[test]
            fn an_unknown_filter_is_refused_where_it_starts(
                name in "[a-zA-Z]{1,12}".prop_filter("not a filter", |n| FilterKey::parse(n).is_none()),
                before in free_words(),
                after in free_words(),
            ) {
                let lead: String = before.iter().map(|w| format!("{w} ")).collect();
                let query = format!("{lead}{name}:x {}", after.join(" "));
                let error = parse(&query).expect_err("unknown filter");
                prop_assert_eq!(error.position, lead.chars().count());
                let named = format!("unknown filter `{name}:`");
                prop_assert!(error.message.contains(&named), "{}", error.message);
            }

            /// How many spaces, tabs or newlines separate the parts of a query changes nothing.
            #[test]
            fn spacing_between_parts_does_not_change_the_meaning(
                parts in prop::collection::vec(
                    prop_oneof![
                        "[A-Za-z0-9]{1,10}",
                        "\"[a-z]{1,6} [a-z]{1,6}\"",
                        "(tag|domain|owner|field|topic):[a-zA-Z0-9.-]{1,10}",
                    ],
                    1..10,
                ),
                gaps in prop::collection::vec("[ \t\n\u{a0}\u{3000}]{1,4}", 10),
            ) {
                // A refusal still points at its own position in each spelling.
                let meaning = |query: &str| parse(query).map_err(|e| e.message);
                let single = meaning(&parts.join(" "));
                let spaced: String = parts
                    .iter()
                    .zip(gaps.iter().map(String::as_str).chain(std::iter::repeat("")))
                    .enumerate()
                    .map(|(i, (part, gap))| if i == 0 { part.clone() } else { format!("{gap}{part}") })
                    .collect();
                prop_assert_eq!(single, meaning(&spaced));
            }
        }
    }
}
