//! The data the sign-up risk model is trained and evaluated on: sign-ups from the traffic
//! generator (labelled by its risky share), turned into features by the enrichment node's
//! own code ([`crate::nodes::enrich::Enricher::assess`]) at a steady simulated rate, so that the
//! sliding-window counts mean what they mean in the node. Also the single-feature baseline
//! the model has to beat.

use chrono::{DateTime, Duration, Utc};

use crate::contracts::Contract;
use crate::nodes::enrich::{Enricher, Source};
use crate::nodes::risk::{self, FEATURES};
use crate::traffic::generate::{EventKind, Generator};

/// Labelled feature rows, oldest first.
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    pub rows: Vec<[f64; FEATURES.len()]>,
    /// True for a sign-up the generator meant to be risky.
    pub labels: Vec<bool>,
}

impl Dataset {
    /// The first `fraction` for training, the rest (later in time) held out.
    pub fn split(&self, fraction: f64) -> (Dataset, Dataset) {
        let cut = (self.rows.len() as f64 * fraction).round() as usize;
        let part = |range: std::ops::Range<usize>| Dataset {
            rows: self.rows[range.clone()].to_vec(),
            labels: self.labels[range].to_vec(),
        };
        (part(0..cut), part(cut..self.rows.len()))
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// One feature's column.
    pub fn column(&self, index: usize) -> Vec<f64> {
        self.rows.iter().map(|row| row[index]).collect()
    }
}

/// `samples` generated sign-ups of the demo's CustomerSignedUp contract arriving at
/// `per_second`, as the node would see them.
pub fn generate(
    enricher: &mut Enricher,
    samples: usize,
    seed: u64,
    risky_share: f64,
    per_second: f64,
) -> Dataset {
    let fields = signup_fields();
    let mut generator = Generator::new(seed, risky_share);
    let start: DateTime<Utc> = DateTime::from_timestamp(1_796_083_200, 0).unwrap_or_default();
    let gap_us = (1e6 / per_second.max(0.001)) as i64;
    let mut data = Dataset::default();
    for index in 0..samples {
        let now = start + Duration::microseconds(gap_us * index as i64);
        let event = generator.next(EventKind::CustomerSignedUp, &fields, now);
        let Some(record) = event.value.as_object() else {
            continue;
        };
        let source = Source {
            partition: 0,
            offset: index as i64,
            timestamp_ms: now.timestamp_millis(),
        };
        if let Ok(assessed) = enricher.assess(record, source) {
            data.rows.push(assessed.features);
            data.labels.push(event.risky);
        }
    }
    data
}

/// `samples` generated sign-up records (a tenth risky), for measuring the enrichment.
pub fn signups(samples: usize, seed: u64) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let fields = signup_fields();
    let mut generator = Generator::new(seed, 0.1);
    let now = Utc::now();
    (0..samples)
        .filter_map(|_| {
            generator
                .next(EventKind::CustomerSignedUp, &fields, now)
                .value
                .as_object()
                .cloned()
        })
        .collect()
}

/// The demo CustomerSignedUp contract's fields (what the generator fills).
fn signup_fields() -> Vec<crate::contracts::Field> {
    super::catalog::contracts()
        .into_iter()
        .find(|document| document["name"] == "CustomerSignedUp")
        .and_then(|document| Contract::from_document(document).ok())
        .and_then(|contract| contract.ports.into_iter().next())
        .map(|port| port.fields)
        .unwrap_or_default()
}

/// The single feature that ranks the held-out sign-ups best on its own (oriented the way
/// it points on the training split): (name, ROC-AUC, precision at the top 5 %).
pub fn best_single_feature(train: &Dataset, test: &Dataset) -> (String, f64, f64) {
    let mut best = (String::new(), 0.0, 0.0);
    for (index, name) in FEATURES.iter().enumerate() {
        let sign = if risk::roc_auc(&train.column(index), &train.labels) >= 0.5 {
            1.0
        } else {
            -1.0
        };
        let scores: Vec<f64> = test.column(index).iter().map(|x| sign * x).collect();
        let auc = risk::roc_auc(&scores, &test.labels);
        if auc > best.1 {
            let precision = risk::precision_at_top(&scores, &test.labels, 0.05);
            best = (name.to_string(), auc, precision);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodes::geo::Geo;
    use crate::nodes::risk::RiskModel;

    #[test]
    fn generated_signups_carry_signal_in_more_than_one_feature() {
        let geo = Geo::open_default().expect("make setup fetches it");
        let mut enricher = Enricher::new(geo, RiskModel::untrained());
        let data = generate(&mut enricher, 4_000, 7, 0.2, 5.0);
        assert_eq!(data.len(), 4_000, "every generated sign-up is assessed");
        let risky = data.labels.iter().filter(|&&l| l).count();
        assert!((600..1_000).contains(&risky), "{risky} risky of 4000");
        let (train, test) = data.split(0.8);
        assert_eq!((train.len(), test.len()), (3_200, 800));
        let (name, auc, _) = best_single_feature(&train, &test);
        assert!((0.6..0.95).contains(&auc), "{name}: {auc}");
        for feature in [
            "ip_country_differs",
            "disposable_email",
            "signups_same_24_window",
        ] {
            let index = FEATURES
                .iter()
                .position(|f| *f == feature)
                .expect("a feature");
            let column = data.column(index);
            assert!(
                risk::roc_auc(&column, &data.labels) > 0.55,
                "{feature} should point at risk"
            );
        }
    }
}
