//! Counting what a scenario wrote: the topics' end offsets before it, and reading them back
//! afterwards to tally against the producer's log.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use anyhow::Context;
use domain::traffic::live;
use rdkafka::config::ClientConfig;

use super::scenario::{CountedOn, Scenario};
use super::{Stack, read, tally};

impl Stack {
    pub(super) fn counted_topics(&self, scenario: Scenario) -> Vec<String> {
        match (scenario.counted_on(), &self.node) {
            (CountedOn::NodeOutput, Some(node)) => {
                vec![node.output_topic.clone(), node.dead_letter_topic.clone()]
            }
            _ => vec![self.lane.0.topic.clone()],
        }
    }

    fn reader_config(&self) -> ClientConfig {
        let mut config = self
            .broker
            .consumer_config("meshmart-chaos-reader", "meshmart-chaos-reader");
        config.set("enable.auto.commit", "false");
        config
    }

    pub(super) async fn end_offsets(
        &self,
        topics: &[String],
    ) -> anyhow::Result<HashMap<String, HashMap<i32, i64>>> {
        let config = self.reader_config();
        let topics = topics.to_vec();
        tokio::task::spawn_blocking(move || {
            topics
                .into_iter()
                .map(|t| read::end_offsets(&config, &t).map(|ends| (t, ends)))
                .collect()
        })
        .await
        .context("cancelled")?
    }

    /// Reads what the scenario wrote and tallies it against the producer's log.
    pub(super) async fn count(
        &self,
        scenario: Scenario,
        run_id: &str,
        from: &HashMap<String, HashMap<i32, i64>>,
        acked: &[live::Ack],
    ) -> anyhow::Result<tally::Tally> {
        let config = self.reader_config();
        let (from, run_id, acked) = (from.clone(), run_id.to_string(), acked.to_vec());
        let node = self.node.clone();
        let on_node = scenario.counted_on() == CountedOn::NodeOutput;
        tokio::task::spawn_blocking(move || {
            if let (true, Some(node)) = (on_node, node) {
                let expected: HashSet<(i32, i64)> =
                    acked.iter().map(|a| (a.partition, a.offset)).collect();
                let found = read::read(
                    &config,
                    &from,
                    &read::Want::Sources {
                        input_topic: &node.input_topic,
                        dead_letter_topic: &node.dead_letter_topic,
                        expected: &expected,
                    },
                    Duration::from_secs(60),
                    Duration::from_secs(300),
                )?;
                Ok(tally::tally(expected, found.sources))
            } else {
                let expected: HashSet<u64> = acked.iter().map(|a| a.seq).collect();
                let found = read::read(
                    &config,
                    &from,
                    &read::Want::Seqs {
                        run: &run_id,
                        expected: &expected,
                    },
                    Duration::from_secs(15),
                    Duration::from_secs(120),
                )?;
                Ok(tally::tally(expected, found.seqs))
            }
        })
        .await
        .context("cancelled")?
    }
}
