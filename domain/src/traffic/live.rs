//! A producer that is steered while it runs, for the fault suite (`meshmart chaos`): one
//! product's traffic whose [`Mode`] changes at a moment the caller chooses (stop, break the
//! contract, drift, send every record with one key), and which keeps a log of what the
//! broker acknowledged, record by record.
//!
//! Every record carries two headers: [`RUN_HEADER`] (the caller's run id, so records of
//! other producers on the same topic are told apart) and [`SEQ_HEADER`] (the record's
//! sequence number in the run, from 0). A reader of the topic can then say, against the
//! [`Log`], which acknowledged records it never saw (lost) and which it saw twice
//! (duplicated). The log also keeps each acknowledged record's partition and offset, which
//! a stream node's output names in its `meshmart.source.*` headers.
//!
//! [`super::run`] stays the command line's fixed plan; this one shares its pace and its
//! record shapes ([`Product::record`], [`Product::bad_record`], [`Product::drifted_record`]).

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::{BadKind, Generator, Lane, Pace, Record};

/// The header naming the run a record belongs to.
pub const RUN_HEADER: &str = "meshmart.traffic.run";
/// The header holding a record's sequence number within its run (decimal text).
pub const SEQ_HEADER: &str = "meshmart.traffic.seq";
/// The one key every record carries in [`Mode::HotKey`].
pub const HOT_KEY: &str = "hot-key";

/// What the producer sends right now.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    /// Valid records at the pace's rate, keyed by their entity.
    Normal,
    /// Nothing (and nothing caught up afterwards, as a stopped producer does not).
    Stopped,
    /// A share (0 to 1) of the records broken, each in one of `kinds` (all when empty).
    Broken { share: f64, kinds: Vec<BadKind> },
    /// Every record in a schema version the registry never saw (an unregistered id).
    Drifted,
    /// Every record keyed by [`HOT_KEY`], so one partition takes them all.
    HotKey,
}

/// One record the broker acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ack {
    pub seq: u64,
    pub partition: i32,
    pub offset: i64,
}

/// What the producer did so far; shared with the caller while it runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Log {
    /// Records the broker acknowledged, in the order the acknowledgements came.
    pub acked: Vec<Ack>,
    /// Sequence numbers the broker refused or never acknowledged in time.
    pub failed: Vec<u64>,
    /// Records handed to the producer.
    pub sent: u64,
    /// Of those, broken on purpose, drifted, and sent with the hot key.
    pub bad: u64,
    pub drifted: u64,
    pub hot: u64,
}

/// A shared [`Log`].
pub type SharedLog = Arc<Mutex<Log>>;

/// Runs `f` on the log (a panicked writer leaves a log that is still worth reading).
pub fn with_log<T>(log: &SharedLog, f: impl FnOnce(&mut Log) -> T) -> T {
    let mut guard = log.lock().unwrap_or_else(PoisonError::into_inner);
    f(&mut guard)
}

/// The sequence number of a record of run `run`, from its headers' values (`None` for a
/// record of another run or producer).
pub fn tagged_seq(run: &str, run_value: Option<&[u8]>, seq_value: Option<&[u8]>) -> Option<u64> {
    if run_value? != run.as_bytes() {
        return None;
    }
    std::str::from_utf8(seq_value?).ok()?.parse().ok()
}

/// How a live run is steered and recorded.
pub struct Steering {
    /// The run id every record carries in [`RUN_HEADER`].
    pub run: String,
    /// The mode, read at every tick.
    pub mode: watch::Receiver<Mode>,
    pub log: SharedLog,
    /// How long to wait for acknowledgements still due once stopped.
    pub drain: Duration,
}

/// Produces `lane`'s product at `pace`, in the mode the steering holds at each moment,
/// tagging every record with the run id and its sequence number, until `stop` completes;
/// then waits up to the steering's `drain` for the acknowledgements still due. Everything
/// lands in its log.
pub async fn run(
    lane: &Lane,
    generator: &mut Generator,
    pace: Pace,
    steering: Steering,
    stop: impl Future<Output = ()>,
) {
    let Steering {
        run: run_id,
        mode,
        log,
        drain,
    } = steering;
    let run_id = run_id.as_str();
    let (product, producer) = lane;
    let period = Duration::from_secs_f64((1.0 / pace.rate.max(0.001)).clamp(0.001, 0.1));
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut in_flight: JoinSet<()> = JoinSet::new();
    let (mut due, mut last, mut rounds, mut seq) = (0.0_f64, 0.0_f64, 0_u64, 0_u64);
    let started = Instant::now();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = ticker.tick() => {}
        }
        let now = started.elapsed().as_secs_f64();
        due += pace.due_between(last, now);
        last = now;
        let current = mode.borrow().clone();
        if current == Mode::Stopped {
            // Owe nothing for the stopped time.
            rounds = (due + 1e-6).floor() as u64;
            continue;
        }
        while (rounds as f64) < (due + 1e-6).floor() {
            rounds += 1;
            let (event, record) = match product.record(generator) {
                Ok(pair) => pair,
                Err(error) => {
                    tracing::warn!(product = %product.slug, %error, "record not encoded");
                    continue;
                }
            };
            let record = match &current {
                Mode::Broken { share, kinds } if generator.rng().chance(*share) => {
                    let kinds: &[BadKind] = if kinds.is_empty() {
                        &BadKind::ALL
                    } else {
                        kinds
                    };
                    let kind = kinds[generator.rng().below(kinds.len() as u64) as usize];
                    with_log(&log, |l| l.bad += 1);
                    product.bad_record(kind, &event.key, &event.value)
                }
                Mode::Drifted => {
                    let tier = ["bronze", "silver", "gold"][generator.rng().below(3) as usize];
                    with_log(&log, |l| l.drifted += 1);
                    product.drifted_record(&event.key, &event.value, tier)
                }
                Mode::HotKey => {
                    with_log(&log, |l| l.hot += 1);
                    Ok(Record {
                        key: HOT_KEY.to_string(),
                        value: record.value,
                    })
                }
                _ => Ok(record),
            };
            let record = match record {
                Ok(record) => record,
                Err(error) => {
                    tracing::warn!(product = %product.slug, %error, "record not encoded");
                    continue;
                }
            };
            let this = seq;
            seq += 1;
            let seq_text = this.to_string();
            let headers = OwnedHeaders::new()
                .insert(Header {
                    key: RUN_HEADER,
                    value: Some(run_id),
                })
                .insert(Header {
                    key: SEQ_HEADER,
                    value: Some(&seq_text),
                });
            let queued = producer.send_result(
                FutureRecord::to(&product.topic)
                    .key(&record.key)
                    .payload(&record.value)
                    .headers(headers),
            );
            with_log(&log, |l| l.sent += 1);
            match queued {
                Ok(delivery) => {
                    let log = Arc::clone(&log);
                    in_flight.spawn(async move {
                        let outcome = delivery.await;
                        with_log(&log, |l| match outcome {
                            Ok(Ok(done)) => l.acked.push(Ack {
                                seq: this,
                                partition: done.partition,
                                offset: done.offset,
                            }),
                            _ => l.failed.push(this),
                        });
                    });
                }
                Err((error, _)) => {
                    tracing::warn!(product = %product.slug, %error, "record not queued");
                    with_log(&log, |l| l.failed.push(this));
                }
            }
        }
        while in_flight.try_join_next().is_some() {}
    }
    let deadline = tokio::time::Instant::now() + drain;
    while let Ok(Some(_)) = tokio::time::timeout_at(deadline, in_flight.join_next()).await {}
    if !in_flight.is_empty() {
        tracing::warn!(
            product = %product.slug,
            unacknowledged = in_flight.len(),
            "records without an acknowledgement"
        );
    }
    // Whatever is still in flight counts as failed: its sequence numbers are those neither
    // acknowledged nor failed so far.
    in_flight.abort_all();
    with_log(&log, |l| {
        let mut known: Vec<u64> = l
            .acked
            .iter()
            .map(|a| a.seq)
            .chain(l.failed.iter().copied())
            .collect();
        known.sort_unstable();
        let missing: Vec<u64> = (0..seq)
            .filter(|s| known.binary_search(s).is_err())
            .collect();
        l.failed.extend(missing);
    });
}
