//! Explaining a hit's score: the additive part of each field group and of the exact-match
//! bonus, each scored within the one product, and the status and popularity factors.

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, ConstScoreQuery, Occur, Query};
use tantivy::{Score, Searcher, Term};

use super::{Component, Plan, ScoreExplanation, term_query};
use crate::search::document::ProductDoc;
use crate::search::schema::{self, Group};
use crate::search::tally::{popularity_factor, status_factor};
use crate::search::{SearchError, SearchIndex};

/// A named additive part of a score and the query that scores it.
type ExplainPart = (String, Box<dyn Query>);

impl SearchIndex {
    /// The additive parts of a score, each as a query: the text clauses of each field
    /// group, and the exact-match bonus. Built once per search.
    pub(super) fn explain_parts(
        &self,
        searcher: &Searcher,
        plan: &Plan,
    ) -> Result<Vec<ExplainPart>, SearchError> {
        let mut parts: Vec<ExplainPart> = Vec::new();
        for group in Group::ALL {
            let clauses: Vec<(Occur, Box<dyn Query>)> = self
                .text_clauses(searcher, plan, &[group], false)?
                .0
                .into_iter()
                .map(|q| (Occur::Should, q))
                .collect();
            if !clauses.is_empty() {
                let name = format!("{} match (×{})", group.label(), group.weight());
                parts.push((name, Box::new(BooleanQuery::new(clauses))));
            }
        }
        if let Some(exact) = &plan.exact {
            parts.push((
                "exact name or topic match".to_string(),
                self.exact_query(exact),
            ));
        }
        Ok(parts)
    }

    /// The score of `product`, taken apart: each part is what its query scores searched
    /// within the one product (scores add up, so the parts sum to the text score).
    pub(super) fn explain(
        &self,
        searcher: &Searcher,
        parts: &[ExplainPart],
        product: &ProductDoc,
    ) -> Result<ScoreExplanation, SearchError> {
        let mut components = Vec::new();
        for (name, query) in parts {
            let score = self.score_within(searcher, query.box_clone(), product)?;
            if score > 0.0 {
                components.push(Component {
                    name: name.clone(),
                    score,
                });
            }
        }
        let status = status_factor(schema::status_rank(&product.status));
        let popularity = popularity_factor(product.subscribers);
        let sum: Score = components.iter().map(|c| c.score).sum();
        Ok(ScoreExplanation {
            components,
            status_factor: status,
            popularity_factor: popularity,
            total: sum * status * popularity,
        })
    }

    /// What `query` scores for `product` (0 when it does not match).
    fn score_within(
        &self,
        searcher: &Searcher,
        query: Box<dyn Query>,
        product: &ProductDoc,
    ) -> Result<Score, SearchError> {
        let only = term_query(Term::from_field_text(self.fields.slug, &product.slug));
        let within = BooleanQuery::new(vec![
            (Occur::Must, query),
            (Occur::Must, Box::new(ConstScoreQuery::new(only, 0.0))),
        ]);
        let top = searcher.search(&within, &TopDocs::with_limit(1).order_by_score())?;
        Ok(top.first().map_or(0.0, |(score, _)| *score))
    }
}
