//! A page's hits: each product's stored card read back, and turned into a hit with the
//! highlights of its matched words.

use tantivy::{DocAddress, Score, Searcher};

use super::{Highlight, Hit, Plan, ScoreExplanation};
use crate::search::document::ProductDoc;
use crate::search::text;
use crate::search::{SearchError, SearchIndex};

impl SearchIndex {
    /// The stored card of a hit (descriptions of ports and fields left out).
    pub(super) fn product(
        &self,
        searcher: &Searcher,
        address: DocAddress,
    ) -> Result<ProductDoc, SearchError> {
        use tantivy::schema::Value;
        let doc: tantivy::TantivyDocument = searcher.doc(address)?;
        let card = doc
            .get_first(self.fields.card)
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        serde_json::from_str(card).map_err(|error| {
            SearchError::Index(tantivy::TantivyError::InternalError(format!(
                "unreadable stored product: {error}"
            )))
        })
    }
}

pub(super) fn hit(
    product: ProductDoc,
    score: Option<Score>,
    plan: &Plan,
    highlighted: bool,
    explanation: Option<ScoreExplanation>,
) -> Hit {
    // Phrase words first: the word being typed (a prefix) is the last free word.
    let mut terms: Vec<String> = plan.phrases.iter().flatten().cloned().collect();
    terms.extend(plan.words.iter().cloned());
    let prefix = plan.prefix_last && !plan.words.is_empty();
    let mut highlights = Vec::new();
    if highlighted && !terms.is_empty() {
        let mut add = |field: &str, text: &str, max: usize| {
            if let Some(segments) = text::highlight(text, &terms, prefix, max) {
                highlights.push(Highlight {
                    field: field.to_string(),
                    segments,
                });
            }
        };
        add("name", &product.name, 200);
        add("description", &product.description, 180);
        let matching_fields: Vec<&str> = product
            .fields()
            .map(|f| f.name.as_str())
            .filter(|name| text::mentions(name, &terms, prefix))
            .take(8)
            .collect();
        add("fields", &matching_fields.join(", "), 400);
        let topics: Vec<&str> = product.ports.iter().map(|p| p.topic.as_str()).collect();
        add("topics", &topics.join(", "), 400);
    }
    Hit {
        topics: product.ports.iter().map(|p| p.topic.clone()).collect(),
        slug: product.slug,
        name: product.name,
        domain: product.domain,
        domain_name: product.domain_name,
        status: product.status,
        health: product.health,
        description: product.description,
        owners: product.owners,
        tags: product.tags,
        sla_tier: product.sla_tier,
        classification: product.classification,
        subscribers: product.subscribers,
        updated_at: product.updated_at,
        score,
        highlights,
        explanation,
    }
}
