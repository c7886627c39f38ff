//! The sign-up risk model: the features the enrichment node computes for a sign-up, the
//! sliding window of recent sign-ups per IP address and per /24 network they need, the
//! scoring of a trained logistic model, and the measures it is evaluated with (ROC-AUC,
//! precision at the top 5 %).
//!
//! The model is trained by `meshmart model train` on sign-ups the traffic generator
//! labels (its risky share), and committed as `models/signup-risk.json`: its version, its
//! feature list (which must match [`FEATURES`] to load), its weights and its evaluation.
//! It shows the model is wired, evaluated and replaceable; it is no claim about real fraud.

use std::collections::{HashMap, VecDeque};
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::asn::NetworkType;
use super::geo::{Location, Unlocated};

/// The model the node uses unless told otherwise, as committed in the repository.
pub const BUILTIN_MODEL: &str = include_str!("../../../models/signup-risk.json");

/// How far back the per-address and per-network counts look (event time).
pub const WINDOW_MS: i64 = 10 * 60 * 1000;

/// The features, in the order of the model's weights.
pub const FEATURES: [&str; 11] = [
    "ip_country_differs",
    "ip_not_located",
    "ip_hosting_network",
    "disposable_email",
    "free_email",
    "signups_same_ip_window",
    "signups_same_24_window",
    "hour_sin",
    "hour_cos",
    "channel_web",
    "channel_app",
];

/// Throw-away mailbox providers (a short list of well-known ones).
const DISPOSABLE_DOMAINS: [&str; 14] = [
    "10minutemail.com",
    "discard.email",
    "dispostable.com",
    "getnada.com",
    "guerrillamail.com",
    "maildrop.cc",
    "mailinator.com",
    "mintemail.com",
    "sharklasers.com",
    "temp-mail.org",
    "tempmail.dev",
    "throwawaymail.com",
    "trashmail.com",
    "yopmail.com",
];

/// Free mailbox providers.
const FREE_DOMAINS: [&str; 14] = [
    "aol.com",
    "gmail.com",
    "gmx.de",
    "gmx.net",
    "hotmail.com",
    "icloud.com",
    "live.com",
    "mail.ru",
    "orange.fr",
    "outlook.com",
    "proton.me",
    "web.de",
    "yahoo.com",
    "yandex.ru",
];

/// What the model sees of one sign-up.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Signup<'a> {
    /// The country the customer gave (ISO 3166-1 alpha-2), if any.
    pub country: Option<&'a str>,
    pub email_domain: Option<&'a str>,
    pub channel: Option<&'a str>,
    /// Hour of day (UTC) of the sign-up, 0–23.
    pub hour: Option<u32>,
}

/// The feature vector of a sign-up, in [`FEATURES`] order.
pub fn features(
    signup: &Signup<'_>,
    located: &Result<Location, Unlocated>,
    counts: Counts,
) -> [f64; FEATURES.len()] {
    let flag = |on: bool| if on { 1.0 } else { 0.0 };
    let located_country = located.as_ref().ok().and_then(|l| l.country.as_deref());
    let hosting = located
        .as_ref()
        .ok()
        .and_then(|l| l.asn.as_ref())
        .is_some_and(|system| system.network_type == NetworkType::Hosting);
    let differs = match (located_country, signup.country) {
        (Some(found), Some(stated)) => !found.eq_ignore_ascii_case(stated),
        _ => false,
    };
    let domain = signup.email_domain.map(str::to_ascii_lowercase);
    let domain = domain.as_deref();
    let (sin, cos) = match signup.hour {
        Some(hour) => {
            let angle = f64::from(hour) / 24.0 * std::f64::consts::TAU;
            (angle.sin(), angle.cos())
        }
        None => (0.0, 0.0),
    };
    [
        flag(differs),
        flag(located_country.is_none()),
        flag(hosting),
        flag(domain.is_some_and(|d| DISPOSABLE_DOMAINS.contains(&d))),
        flag(domain.is_some_and(|d| FREE_DOMAINS.contains(&d))),
        (1.0 + f64::from(counts.same_ip)).ln(),
        (1.0 + f64::from(counts.same_network)).ln(),
        sin,
        cos,
        flag(signup.channel == Some("web")),
        flag(matches!(signup.channel, Some("ios" | "android"))),
    ]
}

/// How many earlier sign-ups in the window came from the same address and /24 network.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub same_ip: u32,
    pub same_network: u32,
}

/// One sign-up remembered by the window.
#[derive(Clone, Debug)]
struct Seen {
    partition: i32,
    offset: i64,
    at_ms: i64,
    ip: Ipv4Addr,
}

/// Sign-ups per IP address and per /24 network over the last [`WINDOW_MS`] of event time.
/// Entries remember the input partition and offset they came from, so that an aborted
/// transaction's records can be taken back out ([`Window::rewind`]) and the window
/// rebuilt after a restart by reading the input again.
#[derive(Debug, Default)]
pub struct Window {
    seen: VecDeque<Seen>,
    by_ip: HashMap<Ipv4Addr, u32>,
    by_network: HashMap<[u8; 3], u32>,
    newest_ms: i64,
}

impl Window {
    /// Counts earlier sign-ups from `ip`, then remembers this one.
    pub fn observe(&mut self, partition: i32, offset: i64, at_ms: i64, ip: Ipv4Addr) -> Counts {
        self.newest_ms = self.newest_ms.max(at_ms);
        self.evict();
        let network = network_of(ip);
        let counts = Counts {
            same_ip: self.by_ip.get(&ip).copied().unwrap_or(0),
            same_network: self.by_network.get(&network).copied().unwrap_or(0),
        };
        *self.by_ip.entry(ip).or_default() += 1;
        *self.by_network.entry(network).or_default() += 1;
        self.seen.push_back(Seen {
            partition,
            offset,
            at_ms,
            ip,
        });
        counts
    }

    /// Forgets what was observed from `partition` at or after `offset` (an aborted
    /// transaction's records, read again next).
    pub fn rewind(&mut self, partition: i32, offset: i64) {
        let before = self.seen.len();
        self.seen
            .retain(|seen| seen.partition != partition || seen.offset < offset);
        if self.seen.len() != before {
            self.recount();
        }
    }

    /// Forgets a partition entirely (it moved to another instance).
    pub fn forget(&mut self, partition: i32) {
        self.rewind(partition, i64::MIN);
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    fn evict(&mut self) {
        let oldest = self.newest_ms - WINDOW_MS;
        while let Some(front) = self.seen.front() {
            if front.at_ms >= oldest {
                break;
            }
            let ip = front.ip;
            self.seen.pop_front();
            decrement(&mut self.by_ip, ip);
            decrement(&mut self.by_network, network_of(ip));
        }
    }

    fn recount(&mut self) {
        self.by_ip.clear();
        self.by_network.clear();
        for seen in &self.seen {
            *self.by_ip.entry(seen.ip).or_default() += 1;
            *self.by_network.entry(network_of(seen.ip)).or_default() += 1;
        }
    }
}

fn decrement<K: std::hash::Hash + Eq>(counts: &mut HashMap<K, u32>, key: K) {
    if let Some(count) = counts.get_mut(&key) {
        *count -= 1;
        if *count == 0 {
            counts.remove(&key);
        }
    }
}

fn network_of(ip: Ipv4Addr) -> [u8; 3] {
    let [a, b, c, _] = ip.octets();
    [a, b, c]
}

/// A trained logistic model as committed: `score = σ(intercept + weights · features)`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RiskModel {
    pub name: String,
    pub version: String,
    pub algorithm: String,
    pub features: Vec<String>,
    pub weights: Vec<f64>,
    pub intercept: f64,
    pub evaluation: Evaluation,
}

/// How the model did on its held-out split, beside the best single feature.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Evaluation {
    pub seed: u64,
    pub risky_share: f64,
    pub train_samples: usize,
    pub test_samples: usize,
    pub roc_auc: f64,
    pub precision_at_top_5_percent: f64,
    pub baseline_feature: String,
    pub baseline_roc_auc: f64,
    pub baseline_precision_at_top_5_percent: f64,
}

impl RiskModel {
    /// Reads a model file, refusing one whose features are not the ones computed here.
    pub fn parse(text: &str) -> Result<Self, String> {
        let model: RiskModel =
            serde_json::from_str(text).map_err(|error| format!("not a risk model: {error}"))?;
        if model.features != FEATURES {
            return Err(format!(
                "the model `{}` expects features {:?}; this node computes {:?}",
                model.version, model.features, FEATURES
            ));
        }
        if model.weights.len() != FEATURES.len() || !model.intercept.is_finite() {
            return Err(format!(
                "the model `{}` has {} weights for {} features",
                model.version,
                model.weights.len(),
                FEATURES.len()
            ));
        }
        Ok(model)
    }

    /// A model of the current features that scores every sign-up 0.5: what training
    /// computes its features with, since features do not depend on the model.
    pub fn untrained() -> Self {
        Self {
            name: "signup-risk".into(),
            version: "untrained".into(),
            algorithm: "none".into(),
            features: FEATURES.iter().map(|name| name.to_string()).collect(),
            weights: vec![0.0; FEATURES.len()],
            intercept: 0.0,
            evaluation: Evaluation {
                seed: 0,
                risky_share: 0.0,
                train_samples: 0,
                test_samples: 0,
                roc_auc: 0.5,
                precision_at_top_5_percent: 0.0,
                baseline_feature: String::new(),
                baseline_roc_auc: 0.5,
                baseline_precision_at_top_5_percent: 0.0,
            },
        }
    }

    /// The committed model.
    pub fn builtin() -> Self {
        Self::parse(BUILTIN_MODEL).expect("the committed model matches the features")
    }

    /// The risk of a sign-up, 0 (trusted) to 1 (likely fraud).
    pub fn score(&self, features: &[f64; FEATURES.len()]) -> f64 {
        let z = self.intercept
            + self
                .weights
                .iter()
                .zip(features)
                .map(|(w, x)| w * x)
                .sum::<f64>();
        1.0 / (1.0 + (-z).exp())
    }
}

/// The area under the ROC curve of `scores` against `labels` (true = risky): the chance
/// that a random risky sign-up scores above a random legitimate one, ties counting half.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Mid-ranks (1-based) over ties.
    let mut rank_sum_positive = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let mid_rank = (i + j) as f64 / 2.0 + 1.0;
        for &index in &order[i..=j] {
            if labels[index] {
                rank_sum_positive += mid_rank;
            }
        }
        i = j + 1;
    }
    let positives = labels.iter().filter(|&&l| l).count() as f64;
    let negatives = labels.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return 0.5;
    }
    (rank_sum_positive - positives * (positives + 1.0) / 2.0) / (positives * negatives)
}

/// The share of risky sign-ups among the top `fraction` by score.
pub fn precision_at_top(scores: &[f64], labels: &[bool], fraction: f64) -> f64 {
    let take = ((scores.len() as f64 * fraction).ceil() as usize).clamp(1, scores.len().max(1));
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let hits = order.iter().take(take).filter(|&&i| labels[i]).count();
    hits as f64 / take as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Ipv4Addr {
        text.parse().expect("ip")
    }

    #[test]
    fn the_window_counts_earlier_signups_per_address_and_network_and_forgets_old_ones() {
        let mut window = Window::default();
        assert_eq!(window.observe(0, 1, 0, ip("10.0.0.1")), Counts::default());
        assert_eq!(
            window.observe(1, 1, 1_000, ip("10.0.0.1")),
            Counts {
                same_ip: 1,
                same_network: 1
            }
        );
        assert_eq!(
            window.observe(0, 2, 2_000, ip("10.0.0.9")),
            Counts {
                same_ip: 0,
                same_network: 2
            }
        );
        // Eleven minutes later the first two are out of the window.
        assert_eq!(
            window.observe(0, 3, 1_000 + WINDOW_MS + 1, ip("10.0.0.1")),
            Counts {
                same_ip: 0,
                same_network: 1
            }
        );
    }

    #[test]
    fn rewinding_a_partition_takes_back_what_an_aborted_transaction_observed() {
        let mut window = Window::default();
        window.observe(0, 10, 0, ip("10.0.0.1"));
        window.observe(1, 10, 0, ip("10.0.0.1"));
        window.observe(0, 11, 0, ip("10.0.0.1"));
        window.rewind(0, 11);
        assert_eq!(window.len(), 2);
        assert_eq!(window.observe(0, 11, 0, ip("10.0.0.1")).same_ip, 2);
        window.forget(1);
        assert_eq!(window.observe(0, 12, 0, ip("10.0.0.1")).same_ip, 2);
    }

    #[test]
    fn roc_auc_is_one_for_a_perfect_ranking_a_half_for_ties_and_zero_reversed() {
        let labels = [false, false, true, true];
        assert_eq!(roc_auc(&[0.1, 0.2, 0.8, 0.9], &labels), 1.0);
        assert_eq!(roc_auc(&[0.5; 4], &labels), 0.5);
        assert_eq!(roc_auc(&[0.9, 0.8, 0.2, 0.1], &labels), 0.0);
        assert_eq!(roc_auc(&[0.1, 0.8, 0.2, 0.9], &labels), 0.75);
        assert_eq!(precision_at_top(&[0.1, 0.8, 0.2, 0.9], &labels, 0.5), 0.5);
    }

    #[test]
    fn the_committed_model_loads_and_a_risky_looking_signup_scores_higher() {
        let model = RiskModel::builtin();
        assert!(model.evaluation.roc_auc > model.evaluation.baseline_roc_auc);
        let home = Ok(Location {
            country: Some("DE".into()),
            ..Location::default()
        });
        let abroad = Ok(Location {
            country: Some("BR".into()),
            ..Location::default()
        });
        let trusted = Signup {
            country: Some("DE"),
            email_domain: Some("gmail.com"),
            channel: Some("ios"),
            hour: Some(19),
        };
        let risky = Signup {
            email_domain: Some("mailinator.com"),
            channel: Some("web"),
            ..trusted.clone()
        };
        let low = model.score(&features(&trusted, &home, Counts::default()));
        let high = model.score(&features(
            &risky,
            &abroad,
            Counts {
                same_ip: 3,
                same_network: 5,
            },
        ));
        assert!((0.0..0.5).contains(&low), "{low}");
        assert!(high > 0.5 && high <= 1.0, "{high}");
    }

    #[test]
    fn a_model_for_other_features_is_refused() {
        let mut model = RiskModel::builtin();
        model.features.pop();
        let text = serde_json::to_string(&model).expect("serialises");
        let error = RiskModel::parse(&text).expect_err("refused");
        assert!(error.contains("expects features"), "{error}");
    }
}
