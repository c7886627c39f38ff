//! The wording of an incident's one-line summary.

use crate::incidents::diagnose::Anomaly;
use crate::incidents::{Cause, Channel};

/// The incident's one-line summary.
pub(super) fn summary(channel: &Channel, anomaly: &Anomaly, cause: Cause) -> String {
    let subject = match channel {
        Channel::Product { product, .. } => product.clone(),
        Channel::Subscription { group, product, .. } => format!("{group} on {product}"),
        Channel::Node { node, .. } => format!("node {node}"),
        Channel::Broker => "the broker".to_owned(),
    };
    match anomaly.breach_in {
        Some(seconds) => format!(
            "At this rate {subject} breaches its {} s freshness in ~{}",
            anomaly.expected.1.round(),
            humane(seconds)
        ),
        None => format!("{}: {subject}", cause.describe()),
    }
}

fn humane(seconds: f64) -> String {
    if seconds >= 90.0 {
        format!("{} min", (seconds / 60.0).round())
    } else {
        format!("{} s", seconds.round())
    }
}
