//! `meshmart model train`: fits the sign-up risk model ([`domain::nodes::risk`]) with
//! `linfa-logistic` on generated, labelled sign-ups, evaluates it on a later held-out split
//! beside the best single feature, and writes the model file the enrichment node loads.

use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;
use domain::demo::training::{self, Dataset};
use domain::nodes::enrich::{Enricher, Source};
use domain::nodes::geo::Geo;
use domain::nodes::risk::{self, Evaluation, FEATURES, RiskModel};
use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};

/// How a model is trained.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    pub samples: usize,
    pub seed: u64,
    pub risky_share: f64,
    /// Sign-ups per second of simulated time (what the window counts see).
    pub per_second: f64,
    pub version: String,
}

/// Trains, evaluates and writes the model to `out`; prints the evaluation.
pub fn train(options: &TrainOptions, out: &Path) -> anyhow::Result<()> {
    let geo = Geo::open_default().map_err(anyhow::Error::msg)?;
    let mut enricher = Enricher::new(geo, RiskModel::untrained());
    let started = Instant::now();
    let data = training::generate(
        &mut enricher,
        options.samples,
        options.seed,
        options.risky_share,
        options.per_second,
    );
    let (train, test) = data.split(0.8);
    println!(
        "generated {} sign-ups ({:.1} % risky) in {:.1} s; training on {}, holding out the last {}",
        data.len(),
        100.0 * data.labels.iter().filter(|&&l| l).count() as f64 / data.len().max(1) as f64,
        started.elapsed().as_secs_f64(),
        train.len(),
        test.len()
    );
    let (weights, intercept) = fit(&train)?;
    let (baseline_feature, baseline_auc, baseline_precision) =
        training::best_single_feature(&train, &test);
    let mut model = RiskModel {
        name: "signup-risk".into(),
        version: options.version.clone(),
        algorithm: "logistic regression (linfa-logistic 0.8, L2 alpha 0.01)".into(),
        features: FEATURES.iter().map(|f| f.to_string()).collect(),
        weights,
        intercept,
        evaluation: Evaluation {
            seed: options.seed,
            risky_share: options.risky_share,
            train_samples: train.len(),
            test_samples: test.len(),
            roc_auc: 0.0,
            precision_at_top_5_percent: 0.0,
            baseline_feature,
            baseline_roc_auc: round(baseline_auc),
            baseline_precision_at_top_5_percent: round(baseline_precision),
        },
    };
    let scores: Vec<f64> = test.rows.iter().map(|row| model.score(row)).collect();
    model.evaluation.roc_auc = round(risk::roc_auc(&scores, &test.labels));
    model.evaluation.precision_at_top_5_percent =
        round(risk::precision_at_top(&scores, &test.labels, 0.05));
    let evaluation = &model.evaluation;
    println!(
        "model {}: ROC-AUC {:.4}, precision at the top 5 % {:.4}",
        model.version, evaluation.roc_auc, evaluation.precision_at_top_5_percent
    );
    println!(
        "baseline (best single feature, {}): ROC-AUC {:.4}, precision at the top 5 % {:.4}",
        evaluation.baseline_feature,
        evaluation.baseline_roc_auc,
        evaluation.baseline_precision_at_top_5_percent
    );
    anyhow::ensure!(
        evaluation.roc_auc > evaluation.baseline_roc_auc,
        "the model does not beat its single-feature baseline; not writing it"
    );
    report_cost(&model, &test)?;
    let text = serde_json::to_string_pretty(&model)? + "\n";
    std::fs::write(out, text).with_context(|| format!("writing {}", out.display()))?;
    println!("wrote {}", out.display());
    Ok(())
}

/// Fits the logistic model; (weights in [`FEATURES`] order, intercept) for P(risky).
fn fit(train: &Dataset) -> anyhow::Result<(Vec<f64>, f64)> {
    let records = Array2::from_shape_vec(
        (train.len(), FEATURES.len()),
        train.rows.iter().flatten().copied().collect(),
    )?;
    let targets = Array1::from_iter(train.labels.iter().copied());
    let dataset = linfa::Dataset::new(records, targets);
    let fitted = LogisticRegression::default()
        .alpha(0.01)
        .max_iterations(500)
        .fit(&dataset)
        .context("fitting the logistic model")?;
    let mut weights = fitted.params().to_vec();
    let mut intercept = fitted.intercept();
    // linfa models P(the larger label); make it P(risky) whichever that was.
    if !fitted.labels().pos.class {
        weights.iter_mut().for_each(|w| *w = -*w);
        intercept = -intercept;
    }
    Ok((weights.into_iter().map(round).collect(), round(intercept)))
}

/// Prints what scoring costs per record: the model alone, and the whole enrichment
/// (geolocation, window, features, score) on generated sign-ups.
fn report_cost(model: &RiskModel, test: &Dataset) -> anyhow::Result<()> {
    let rounds = 20;
    let started = Instant::now();
    let mut sum = 0.0;
    for _ in 0..rounds {
        for row in &test.rows {
            sum += model.score(std::hint::black_box(row));
        }
    }
    let scoring = started.elapsed().as_secs_f64() * 1e6 / (rounds * test.len()).max(1) as f64;
    let geo = Geo::open_default().map_err(anyhow::Error::msg)?;
    let mut enricher = Enricher::new(geo, model.clone());
    let records: Vec<_> = domain::demo::training::signups(20_000, 11);
    let started = Instant::now();
    for (index, record) in records.iter().enumerate() {
        let source = Source {
            partition: 0,
            offset: index as i64,
            timestamp_ms: 1_796_083_200_000 + index as i64 * 200,
        };
        let _ = std::hint::black_box(enricher.enrich(record, source));
    }
    let enrich = started.elapsed().as_secs_f64() * 1e6 / records.len().max(1) as f64;
    println!(
        "cost per record: scoring {scoring:.3} µs, whole enrichment {enrich:.2} µs (checksum {:.1})",
        sum / rounds as f64
    );
    Ok(())
}

fn round(value: f64) -> f64 {
    (value * 1e6).round() / 1e6
}
