//! The consumer's rebalance callbacks: before partitions are revoked, what was counted for
//! them is flushed; on a revoke or an assignment the partition floors are forgotten (and
//! loaded again as records arrive).

use rdkafka::ClientContext;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};

use super::flush::flush;
use super::{CheckerContext, lock};

impl ClientContext for CheckerContext {}

impl ConsumerContext for CheckerContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(_) = rebalance {
            // Count what was seen of the partitions before another process may take them.
            let mut shared = lock(&self.shared);
            if let Err(error) = flush(self, consumer, &mut shared) {
                tracing::warn!(%error, "could not add counts before a rebalance");
            }
            shared.forget_floors();
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(partitions) = rebalance {
            tracing::info!(
                partitions = partitions.count(),
                "record checker assigned partitions"
            );
            lock(&self.shared).forget_floors();
        }
    }
}
