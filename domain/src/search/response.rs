//! What `GET /api/v1/search` answers: the hits with the attributes the caller chose
//! (`fields=`), and the facets only when asked for. A script that lists slugs should not
//! download and parse every hit's description, owners and highlights; at 20 hits the full
//! answer is about 12 KB.

use std::collections::BTreeMap;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::engine::{FacetValue, Hit, SearchResults};

/// The attributes of a hit, by the names the API gives them.
pub const HIT_FIELDS: [&str; 17] = [
    "slug",
    "name",
    "domain",
    "domain_name",
    "status",
    "health",
    "description",
    "owners",
    "tags",
    "sla_tier",
    "classification",
    "topics",
    "subscribers",
    "updated_at",
    "score",
    "highlights",
    "explanation",
];

/// A set of [`HIT_FIELDS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HitFields(u32);

impl HitFields {
    pub const ALL: HitFields = HitFields((1 << HIT_FIELDS.len()) - 1);

    /// Reads a comma-separated list of [`HIT_FIELDS`] names; blanks are skipped. The error
    /// names the first unknown one.
    pub fn parse(list: &str) -> Result<HitFields, String> {
        let mut fields = HitFields(0);
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let Some(at) = HIT_FIELDS.iter().position(|f| *f == name) else {
                let shown: String = name.chars().take(40).collect();
                return Err(format!(
                    "`{shown}` is not an attribute of a hit; use any of {}",
                    HIT_FIELDS.join(", ")
                ));
            };
            fields.0 |= 1 << at;
        }
        Ok(fields)
    }

    /// These fields without `name` (one of [`HIT_FIELDS`]).
    pub fn without(self, name: &str) -> HitFields {
        match HIT_FIELDS.iter().position(|f| *f == name) {
            Some(at) => HitFields(self.0 & !(1 << at)),
            None => self,
        }
    }

    fn has(self, at: usize) -> bool {
        self.0 & (1 << at) != 0
    }
}

/// A page of results as the API writes it.
#[derive(Serialize)]
pub struct Response<'a> {
    hits: Vec<Selected<'a>>,
    total: u64,
    /// Left out unless the caller asked for facets.
    #[serde(skip_serializing_if = "Option::is_none")]
    facets: Option<&'a BTreeMap<String, Vec<FacetValue>>>,
    took_ms: f64,
    suggestion: Option<&'a str>,
    relaxed: bool,
    /// Whether the answer was kept from the same question on the same index contents.
    cached: bool,
}

impl<'a> Response<'a> {
    /// `results` with each hit's `fields`, and its facets when `facets` is set.
    pub fn new(results: &'a SearchResults, fields: HitFields, facets: bool) -> Response<'a> {
        Response {
            hits: results
                .hits
                .iter()
                .map(|hit| Selected { hit, fields })
                .collect(),
            total: results.total,
            facets: facets.then_some(&results.facets),
            took_ms: results.took_ms,
            suggestion: results.suggestion.as_deref(),
            relaxed: results.relaxed,
            cached: results.cached,
        }
    }
}

/// A hit written with the chosen attributes only.
struct Selected<'a> {
    hit: &'a Hit,
    fields: HitFields,
}

impl Serialize for Selected<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let hit = self.hit;
        let mut map = serializer.serialize_map(None)?;
        // In the order of HIT_FIELDS; the test below holds the two together.
        macro_rules! entries {
            ($($at:literal $field:ident),* $(,)?) => {
                $(
                    if self.fields.has($at) {
                        map.serialize_entry(HIT_FIELDS[$at], &hit.$field)?;
                    }
                )*
            };
        }
        entries!(
            0 slug, 1 name, 2 domain, 3 domain_name, 4 status, 5 health, 6 description,
            7 owners, 8 tags, 9 sla_tier, 10 classification, 11 topics, 12 subscribers,
            13 updated_at, 14 score, 15 highlights, 16 explanation,
        );
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::search::Owner;

    fn hit() -> Hit {
        Hit {
            slug: "order-placed".into(),
            name: "Order placed".into(),
            domain: "sales".into(),
            domain_name: "Sales".into(),
            status: "active".into(),
            health: "fresh".into(),
            description: "Every order as it is placed.".into(),
            owners: vec![Owner {
                username: "owner".into(),
                name: "Owner".into(),
            }],
            tags: vec!["orders".into()],
            sla_tier: Some("gold".into()),
            classification: Some("internal".into()),
            topics: vec!["sales.order-placed.v1".into()],
            subscribers: 3,
            updated_at: chrono::DateTime::UNIX_EPOCH,
            score: Some(1.5),
            highlights: Vec::new(),
            explanation: None,
        }
    }

    fn results() -> SearchResults {
        SearchResults {
            hits: vec![hit()].into(),
            total: 1,
            facets: BTreeMap::from([(
                "domain".to_string(),
                vec![FacetValue {
                    value: "sales".into(),
                    count: 1,
                }],
            )]),
            took_ms: 0.5,
            suggestion: None,
            relaxed: false,
            cached: false,
        }
    }

    #[test]
    fn every_field_written_is_the_hit_as_serde_writes_it() {
        let results = results();
        let all =
            serde_json::to_value(Response::new(&results, HitFields::ALL, true)).expect("json");
        assert_eq!(all["hits"][0], serde_json::to_value(hit()).expect("json"));
        assert_eq!(
            all["facets"],
            serde_json::to_value(&results.facets).expect("json")
        );
        let names: Vec<&str> = all["hits"][0]
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = HIT_FIELDS.to_vec();
        expected.sort_unstable();
        assert_eq!(names, expected);
    }

    #[test]
    fn chosen_fields_and_no_facets_leave_the_rest_out() {
        let results = results();
        let fields = HitFields::parse("slug, subscribers,").expect("known fields");
        let answer: Value =
            serde_json::to_value(Response::new(&results, fields, false)).expect("json");
        assert_eq!(
            answer["hits"],
            json!([{"slug": "order-placed", "subscribers": 3}])
        );
        assert_eq!(answer.get("facets"), None);
        assert_eq!(answer["total"], 1);
        let without = HitFields::ALL.without("highlights");
        let answer = serde_json::to_value(Response::new(&results, without, false)).expect("json");
        assert_eq!(answer["hits"][0].get("highlights"), None);
        assert_eq!(answer["hits"][0]["slug"], "order-placed");
    }

    #[test]
    fn an_unknown_field_is_named() {
        let error = HitFields::parse("slug,colour").expect_err("unknown field");
        assert!(
            error.starts_with("`colour` is not an attribute of a hit"),
            "{error}"
        );
    }
}
