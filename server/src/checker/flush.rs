//! Adding a batch of counts to PostgreSQL, storing the offsets it covers, and recording the
//! stream metrics for it.

use std::collections::HashMap;

use domain::health::Batch;
use domain::health::store;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use super::{CheckerContext, Shared, lock};

/// Adds the batch to PostgreSQL, then lets the group commit the offsets it covers. On
/// failure the batch is kept for the next try.
pub(super) fn flush(
    context: &CheckerContext,
    consumer: &BaseConsumer<CheckerContext>,
    shared: &mut Shared,
) -> anyhow::Result<()> {
    if shared.batch.is_empty() {
        return Ok(());
    }
    if !shared.batch.dead_lettered.is_empty() {
        // Copies first: an offset is never stored before its dead letter is on the broker.
        context.dead_letters.flush()?;
    }
    context
        .handle
        .block_on(store::flush(&context.pool, &shared.batch))?;
    let batch = std::mem::take(&mut shared.batch);
    let mut offsets = TopicPartitionList::new();
    for (topic, partition, next) in batch.offsets() {
        offsets.add_partition_offset(topic, partition, Offset::Offset(next))?;
    }
    if let Err(error) = consumer.store_offsets(&offsets) {
        // Partitions no longer ours; PostgreSQL's offsets still keep the counts exact.
        tracing::debug!(%error, "offsets not stored");
    }
    record_metrics(&lock(&context.labels), &batch);
    Ok(())
}

/// Gives the stream series their `# HELP` text; the recorder must be installed first.
pub(super) fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge};
    describe_counter!(
        "meshmart_stream_records_total",
        Unit::Count,
        "Records checked on a product's topics."
    );
    describe_counter!(
        "meshmart_stream_bytes_total",
        Unit::Bytes,
        "Payload bytes of the records checked."
    );
    describe_counter!(
        "meshmart_stream_invalid_total",
        Unit::Count,
        "Records that broke the contract, by reason."
    );
    describe_counter!(
        "meshmart_stream_dead_letters_total",
        Unit::Count,
        "Failing records copied to the product's dead-letter topic."
    );
    describe_gauge!(
        "meshmart_stream_last_event_timestamp_seconds",
        Unit::Seconds,
        "Unix time of the newest record checked (record timestamp, never later than now)."
    );
}

fn record_metrics(labels: &HashMap<uuid::Uuid, (String, String)>, batch: &Batch) {
    let other = ("_other".to_string(), "_other".to_string());
    for ((port, _), tally) in &batch.points {
        let (product, domain) = labels.get(port).unwrap_or(&other);
        let labels = [("product", product.clone()), ("domain", domain.clone())];
        metrics::counter!("meshmart_stream_records_total", &labels).increment(tally.records as u64);
        metrics::counter!("meshmart_stream_bytes_total", &labels).increment(tally.bytes as u64);
        for (reason, n) in &tally.invalid {
            let mut with_reason = labels.to_vec();
            with_reason.push(("reason", reason.clone()));
            metrics::counter!("meshmart_stream_invalid_total", &with_reason).increment(*n as u64);
        }
        if let Some(at) = tally.last_event_at {
            metrics::gauge!("meshmart_stream_last_event_timestamp_seconds", &labels)
                .set(at.timestamp_millis() as f64 / 1000.0);
        }
    }
    for (port, n) in &batch.dead_lettered {
        let (product, domain) = labels.get(port).unwrap_or(&other);
        metrics::counter!(
            "meshmart_stream_dead_letters_total",
            "product" => product.clone(),
            "domain" => domain.clone()
        )
        .increment(*n as u64);
    }
}
