//! The consume loop: polls the input, reacts to rebalances, pauses and restarts, drains
//! the detour, and commits when a transaction is due.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rdkafka::Offset;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, Producer};
use rdkafka::util::Timeout;

use super::detour::Route;
use super::heartbeat::{HEARTBEAT_EVERY, Status};
use super::lineage::RUNNING_EVERY;
use super::rebalance::NodeContext;
use super::records::Step;
use super::transaction::Open;
use super::{COORDINATOR_TIMEOUT, Ended, Runner};

impl Runner {
    pub(super) fn run(
        &mut self,
        consumer: &BaseConsumer<NodeContext>,
        stop: &AtomicBool,
    ) -> anyhow::Result<Ended> {
        self.producer
            .init_transactions(COORDINATOR_TIMEOUT)
            .context("initialising transactions (is another process running this instance?)")?;
        let mut topics = vec![self.plan.node.input_topic.as_str()];
        topics.extend(self.plan.repartition.as_deref());
        consumer
            .subscribe(&topics)
            .context("subscribing to the input topic")?;
        let mut open = Open::default();
        let mut status = Status::new(self.options.instance);
        let mut ended = Ended::Stopped;
        while !stop.load(Ordering::Relaxed) {
            // While the detour drains, the input is paused: the loop waits on the detour.
            let wait = if self.detour.holds_input() && !status.paused {
                Duration::ZERO
            } else {
                Duration::from_millis(20)
            };
            let polled = consumer.poll(wait);
            if self.rebalanced.swap(false, Ordering::SeqCst) {
                let aborted = open.started.is_some();
                if aborted {
                    // The open transaction's records may belong to partitions this process
                    // no longer owns, or be read again from the committed offsets: drop
                    // them.
                    self.abort(consumer, &mut open)?;
                }
                self.follow_assignment(consumer)?;
                // What was parked for the partitions this process now owns reaches the
                // output before their new records do.
                if !matches!(self.detour.route, Route::Detoured { .. }) {
                    self.detour
                        .start_draining(self.owned_state_partitions(consumer)?)?;
                }
                // Partitions assigned since a pause (or the drain) start paused too.
                self.set_input_flow(consumer, &status)?;
                if aborted {
                    // What was polled is read again from the committed offsets.
                    continue;
                }
            }
            match polled {
                Some(Ok(message)) if status.paused || self.detour.holds_input() => {
                    // Fetched before its partition paused: read it again on resume.
                    consumer.seek(
                        message.topic(),
                        message.partition(),
                        Offset::Offset(message.offset()),
                        Timeout::After(COORDINATOR_TIMEOUT),
                    )?;
                    consumer.pause(&consumer.assignment()?)?;
                }
                Some(Ok(message)) => {
                    self.begin(&mut open)?;
                    match self.step(&message, &mut open) {
                        Step::Output => status.records += 1,
                        Step::DeadLetter => status.dead_letters += 1,
                        Step::Repartitioned => {}
                    }
                    let repartitioned = message.topic() != self.plan.node.input_topic;
                    open.next
                        .insert((repartitioned, message.partition()), message.offset() + 1);
                    open.records += 1;
                }
                Some(Err(error)) => {
                    tracing::warn!(%error, "node consumer error");
                    status.note_error(error.to_string());
                }
                None => {}
            }
            if self.detour.holds_input() && !status.paused {
                self.drain_step(consumer, &mut open, &mut status)?;
            } else if self.detour.probe_due() && !status.paused {
                if open.started.is_some() {
                    self.commit(consumer, &mut open, &mut status)?;
                }
                if self.detour.probe_due() {
                    tracing::info!(detour = %self.detour.topic, "trying the output again");
                    self.detour
                        .start_draining(self.owned_state_partitions(consumer)?)?;
                    self.set_input_flow(consumer, &status)?;
                }
            }
            let due = open.started.is_some_and(|started| {
                started.elapsed() >= self.options.transaction_every
                    || open.records >= self.options.max_batch
                    || open.failed.is_some()
            });
            if due {
                self.commit(consumer, &mut open, &mut status)?;
            }
            if status.last_beat.elapsed() >= HEARTBEAT_EVERY {
                let orders = self.beat(consumer, &mut status, "running");
                let generation = *status
                    .restart_generation
                    .get_or_insert(orders.restart_generation);
                if generation != orders.restart_generation {
                    ended = Ended::Restart;
                    break;
                }
                if status.last_running_event.elapsed() >= RUNNING_EVERY {
                    status.last_running_event = Instant::now();
                    self.handle
                        .block_on(self.lineage.emit(&self.pool, "RUNNING"));
                }
                let paused = orders.paused;
                if paused != status.paused {
                    if open.started.is_some() {
                        self.commit(consumer, &mut open, &mut status)?;
                    }
                    status.paused = paused;
                    self.set_input_flow(consumer, &status)?;
                    tracing::info!(paused, "node {}", if paused { "paused" } else { "resumed" });
                }
            }
        }
        if open.started.is_some() {
            self.commit(consumer, &mut open, &mut status)?;
        }
        let state = match ended {
            Ended::Stopped => "stopped",
            Ended::Restart => "restarting",
        };
        self.beat(consumer, &mut status, state);
        tracing::info!(
            records = status.records,
            dead_letters = status.dead_letters,
            "node {state}"
        );
        Ok(ended)
    }

    /// Pauses the input while the node is paused or its detour drains; resumes it otherwise.
    pub(super) fn set_input_flow(
        &self,
        consumer: &BaseConsumer<NodeContext>,
        status: &Status,
    ) -> anyhow::Result<()> {
        let assignment = consumer.assignment()?;
        if status.paused || self.detour.holds_input() {
            consumer.pause(&assignment)?;
        } else {
            consumer.resume(&assignment)?;
        }
        Ok(())
    }

    /// One step of a drain: copies the next parked record to the output; once the detour
    /// is empty, commits and lets the input flow to the output again.
    fn drain_step(
        &mut self,
        consumer: &BaseConsumer<NodeContext>,
        open: &mut Open,
        status: &mut Status,
    ) -> anyhow::Result<()> {
        if let Some(parked) = self.detour.poll(Duration::from_millis(20)) {
            self.begin(open)?;
            let mut record: BaseRecord<'_, [u8], [u8]> =
                BaseRecord::to(&self.plan.node.output_topic)
                    .payload(parked.payload().unwrap_or_default());
            if let Some(headers) = parked.headers() {
                record = record.headers(headers.clone());
            }
            if let Some(key) = parked.key() {
                record = record.key(key);
            }
            if let Some(at) = parked.timestamp().to_millis() {
                record = record.timestamp(at);
            }
            self.send(record, open);
            open.drained.insert(parked.partition(), parked.offset() + 1);
            open.records += 1;
            self.detour.drained += 1;
            return Ok(());
        }
        if !self.detour.empty() {
            return Ok(());
        }
        if open.started.is_some() {
            self.commit(consumer, open, status)?;
        }
        if self.detour.holds_input() {
            tracing::info!(
                detour = %self.detour.topic,
                drained = self.detour.drained,
                "the detour is empty; writing the output again"
            );
            self.detour.finish();
            self.set_input_flow(consumer, status)?;
        }
        Ok(())
    }
}
