//! The catalog search for the browser: the URL state of the search page ([`SearchState`]:
//! query, filters, sort, page — one source for links, forms and the server function), and
//! the server function that asks the index. DTOs compile to wasm, so highlights travel as
//! plain segments and times as preformatted strings.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::ApiError;
#[cfg(feature = "ssr")]
use domain::policy::Permission;

/// Hits per page on the search page.
pub const PER_PAGE: u32 = 20;

/// Facet dimensions the sidebar offers, with their labels, in order.
pub const FACETS: [(&str, &str); 6] = [
    ("domain", "Domain"),
    ("status", "Status"),
    ("sla", "SLA tier"),
    ("tag", "Tag"),
    ("format", "Format"),
    ("owner", "Owner"),
];

/// Sorts the page offers: (value, label).
pub const SORTS: [(&str, &str); 4] = [
    ("relevance", "Best match"),
    ("name", "Name"),
    ("updated", "Recently updated"),
    ("subscribers", "Most subscribed"),
];

/// What the search page shows, as its URL says: `/?q=…&domain=a,b&tag=…&sort=…&page=…`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SearchState {
    pub q: String,
    /// (facet, values) in [`FACETS`] order; only facets with values.
    pub filters: Vec<(String, Vec<String>)>,
    /// `relevance` when empty.
    pub sort: String,
    /// 1-based.
    pub page: u32,
}

impl SearchState {
    /// Reads the state from query parameters (`get` returns a parameter's value).
    pub fn from_query(get: impl Fn(&str) -> Option<String>) -> Self {
        let filters = FACETS
            .iter()
            .filter_map(|(key, _)| {
                let values: Vec<String> = get(key)
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(str::to_string)
                    .collect();
                (!values.is_empty()).then(|| ((*key).to_string(), values))
            })
            .collect();
        let sort = get("sort").unwrap_or_default();
        SearchState {
            q: get("q").unwrap_or_default(),
            filters,
            sort: if SORTS.iter().any(|(s, _)| *s == sort) && sort != "relevance" {
                sort
            } else {
                String::new()
            },
            page: get("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1),
        }
    }

    /// Reads the state from a URL query string (`q=…&domain=…`, no leading `?`).
    pub fn parse(query: &str) -> Self {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        Self::from_query(|name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    /// The URL of this state (`/` alone when it is empty).
    pub fn href(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if !self.q.is_empty() {
            query.append_pair("q", &self.q);
        }
        for (key, values) in &self.filters {
            query.append_pair(key, &values.join(","));
        }
        if !self.sort.is_empty() {
            query.append_pair("sort", &self.sort);
        }
        if self.page > 1 {
            query.append_pair("page", &self.page.to_string());
        }
        let query = query.finish();
        if query.is_empty() {
            "/".to_string()
        } else {
            format!("/?{query}")
        }
    }

    /// Whether `value` of `facet` is filtered on.
    pub fn has(&self, facet: &str, value: &str) -> bool {
        self.filters
            .iter()
            .any(|(k, values)| k == facet && values.iter().any(|v| v == value))
    }

    /// This state with `value` of `facet` switched on or off, back on page 1.
    pub fn toggled(&self, facet: &str, value: &str) -> Self {
        let mut next = self.clone();
        next.page = 1;
        match next.filters.iter_mut().find(|(k, _)| k == facet) {
            Some((_, values)) => {
                if let Some(i) = values.iter().position(|v| v == value) {
                    values.remove(i);
                } else {
                    values.push(value.to_string());
                }
            }
            None => next
                .filters
                .push((facet.to_string(), vec![value.to_string()])),
        }
        next.filters.retain(|(_, values)| !values.is_empty());
        let order = |k: &str| FACETS.iter().position(|(f, _)| *f == k);
        next.filters.sort_by_key(|(k, _)| order(k));
        next
    }

    /// This state with another query text, back on page 1.
    pub fn with_query(&self, q: &str) -> Self {
        SearchState {
            q: q.to_string(),
            page: 1,
            ..self.clone()
        }
    }

    /// This state on page `page`.
    pub fn with_page(&self, page: u32) -> Self {
        SearchState {
            page,
            ..self.clone()
        }
    }
}

/// A run of text, marked when it matched the query.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    pub text: String,
    pub hit: bool,
}

/// One result card.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    pub slug: String,
    pub name: Vec<Mark>,
    pub domain: String,
    pub domain_name: String,
    pub status: String,
    /// The stream's live status: `fresh`, `stale` or `no_data`.
    pub health: String,
    pub description: Vec<Mark>,
    /// Matching schema field names, when any matched.
    pub fields: Vec<Mark>,
    pub topics: Vec<String>,
    pub owner: Option<String>,
    pub sla_tier: Option<String>,
    /// The most sensitive classification of its fields.
    pub classification: Option<String>,
    pub tags: Vec<String>,
    pub updated: String,
}

/// A value in the facet sidebar.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacetOption {
    pub value: String,
    /// What people read: a domain's name for the domain facet, else the value.
    pub label: String,
    pub count: u64,
}

/// A page of results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchPage {
    pub hits: Vec<SearchHit>,
    pub total: u64,
    /// (facet, values) in [`FACETS`] order.
    pub facets: Vec<(String, Vec<FacetOption>)>,
    pub took_ms: f64,
    /// A corrected query text when nothing matched.
    pub suggestion: Option<String>,
    /// Whether the hits match only some of the words.
    pub relaxed: bool,
    pub page: u32,
    pub pages: u32,
}

/// Searches the catalog as the search page's URL query (`q=…&domain=…&page=…`) says.
/// `None` for visitors who are not signed in: the search page is public and invites them
/// to sign in, so it must not answer 401.
#[server(prefix = "/api/fn", endpoint = "search_catalog")]
pub async fn search_catalog(query: String) -> Result<Option<SearchPage>, ApiError> {
    use crate::ssr::{authorize, caller, fail, internal, services};
    use domain::search::{FilterKey, SearchRequest, Sort};
    use http::StatusCode;

    if caller().user().is_none() {
        return Ok(None);
    }
    authorize(domain::policy::GLOBAL, Permission::ReadCatalog).await?;
    let index = services()?.search;
    let state = SearchState::parse(&query);
    let mut filters = Vec::new();
    for (key, values) in &state.filters {
        let Some(key) = FilterKey::parse(key) else {
            continue;
        };
        filters.extend(values.iter().map(|v| (key, v.clone())));
    }
    let page = state.page.max(1);
    let offset = (page as usize - 1) * PER_PAGE as usize;
    if offset > domain::search::MAX_OFFSET {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            ApiError::invalid("page", "that page is too deep; narrow the search instead"),
        ));
    }
    let request = SearchRequest {
        q: state.q.clone(),
        filters,
        sort: Sort::parse(&state.sort).unwrap_or_default(),
        limit: PER_PAGE as usize,
        offset,
        explain: false,
        ..SearchRequest::default()
    };
    let results = index
        .search_async(request)
        .await
        .map_err(crate::ssr::error)?;
    // The domain facet shows the names the result cards show, not slugs.
    let domain_names: std::collections::HashMap<String, String> =
        domain::domains::list(&services()?.pool)
            .await
            .map_err(internal)?
            .into_iter()
            .map(|d| (d.slug, d.name))
            .collect();
    let label = |key: &str, value: &str| match (key, domain_names.get(value)) {
        ("domain", Some(name)) => name.clone(),
        _ => value.to_string(),
    };
    let facets = FACETS
        .iter()
        .map(|(key, _)| {
            let mut options: Vec<FacetOption> = results
                .facets
                .get(*key)
                .map(|values| {
                    values
                        .iter()
                        // Tags that only repeat the product's domain or SLA tier (their
                        // own facets) are left out of the tag facet.
                        .filter(|v| {
                            *key != "tag"
                                || !(domain_names.contains_key(&v.value)
                                    || ["platinum", "gold", "silver", "bronze"]
                                        .contains(&v.value.as_str()))
                        })
                        .map(|v| FacetOption {
                            label: label(key, &v.value),
                            value: v.value.clone(),
                            count: v.count,
                        })
                        .collect()
                })
                .unwrap_or_default();
            // Selected values stay visible (to switch them off) even when none match.
            for (facet, values) in &state.filters {
                if facet == key {
                    for value in values {
                        if !options.iter().any(|o| o.value == value.to_lowercase()) {
                            options.push(FacetOption {
                                label: label(key, value),
                                value: value.clone(),
                                count: 0,
                            });
                        }
                    }
                }
            }
            ((*key).to_string(), options)
        })
        .collect();
    // Pages past the deepest offset served are not offered.
    let deepest = (domain::search::MAX_OFFSET as u64) / u64::from(PER_PAGE) + 1;
    let pages = results
        .total
        .div_ceil(u64::from(PER_PAGE))
        .clamp(1, deepest);
    Ok(Some(SearchPage {
        hits: results.hits.iter().map(convert::hit).collect(),
        total: results.total,
        facets,
        took_ms: results.took_ms,
        suggestion: results.suggestion,
        relaxed: results.relaxed,
        page,
        pages: u32::try_from(pages).unwrap_or(u32::MAX),
    }))
}

#[cfg(feature = "ssr")]
mod convert {
    use super::{Mark, SearchHit};
    use domain::search::{Highlight, Hit};

    fn marks(highlights: &[Highlight], field: &str) -> Option<Vec<Mark>> {
        highlights.iter().find(|h| h.field == field).map(|h| {
            h.segments
                .iter()
                .map(|s| Mark {
                    text: s.text.clone(),
                    hit: s.hit,
                })
                .collect()
        })
    }

    fn plain(text: &str) -> Vec<Mark> {
        vec![Mark {
            text: text.to_string(),
            hit: false,
        }]
    }

    pub fn hit(hit: &Hit) -> SearchHit {
        let description = marks(&hit.highlights, "description").unwrap_or_else(|| {
            let short: String = hit.description.chars().take(180).collect();
            let ellipsis = if short.len() < hit.description.len() {
                "…"
            } else {
                ""
            };
            plain(&format!("{short}{ellipsis}"))
        });
        SearchHit {
            name: marks(&hit.highlights, "name").unwrap_or_else(|| plain(&hit.name)),
            fields: marks(&hit.highlights, "fields").unwrap_or_default(),
            description,
            owner: hit.owners.first().map(|o| o.name.clone()),
            updated: crate::ssr::time::timestamp(hit.updated_at),
            slug: hit.slug.clone(),
            domain: hit.domain.clone(),
            domain_name: hit.domain_name.clone(),
            status: hit.status.clone(),
            health: hit.health.clone(),
            topics: hit.topics.clone(),
            sla_tier: hit.sla_tier.clone(),
            classification: hit.classification.clone(),
            tags: hit.tags.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(pairs: &[(&str, &str)]) -> SearchState {
        SearchState::from_query(|name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_string())
        })
    }

    #[test]
    fn url_state_round_trips() {
        let s = state(&[
            ("q", "custmer signup"),
            ("tag", "pii,gold"),
            ("domain", "sales"),
            ("page", "2"),
            ("sort", "name"),
        ]);
        assert_eq!(
            s.filters[0],
            ("domain".to_string(), vec!["sales".to_string()])
        );
        assert_eq!(
            s.href(),
            "/?q=custmer+signup&domain=sales&tag=pii%2Cgold&sort=name&page=2"
        );
        assert_eq!(SearchState::default().href(), "/");
        let href = s.href();
        assert_eq!(SearchState::parse(&href[2..]), s);
    }

    #[test]
    fn toggling_a_facet_resets_the_page_and_keeps_facet_order() {
        let s = state(&[("q", "order"), ("tag", "pii"), ("page", "3")]);
        let on = s.toggled("domain", "sales");
        assert_eq!(on.href(), "/?q=order&domain=sales&tag=pii");
        let off = on.toggled("tag", "pii");
        assert_eq!(off.href(), "/?q=order&domain=sales");
        assert!(on.has("domain", "sales") && !off.has("tag", "pii"));
    }

    #[test]
    fn unknown_sorts_and_bad_pages_fall_back() {
        let s = state(&[("sort", "random"), ("page", "-4")]);
        assert_eq!(s.sort, "");
        assert_eq!(s.page, 1);
    }
}
