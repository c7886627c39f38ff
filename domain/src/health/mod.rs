//! Measured health of the streams: every record of every product topic checked against its
//! contract, and what that measured, next to what the contract declares.
//!
//! - [`PortCheck`] judges one record of one output port: wire format, the schema id's
//!   subject, decoding and schema validation ([`crate::quality::wire`]), then the port's
//!   quality rules ([`crate::quality::Checker`]). Pure apart from the schema lookup the
//!   caller passes in.
//! - [`Batch`] accumulates what a checker process saw since its last flush: 10-second
//!   [`Tally`] points per port, the next offset of each partition, failing and recent
//!   samples. [`store::flush`] adds it to PostgreSQL in one transaction, so the counts and
//!   the offsets they cover move together; [`store::floor`] is where a process taking over
//!   a partition starts counting, so two processes never count a record twice.
//! - [`report`] reads the points back as a product's health (rates, freshness, valid ratio,
//!   rule pass rates, SLA verdicts) and [`samples`] the decoded records, masked for readers
//!   who may not see classified fields.
//!
//! The consumer group itself (partition assignment, polling, dead-letter copies) is the
//! server's (`server/src/checker/`): Kafka assigns the partitions, never Meshmart.

pub mod lag;
pub mod report;
pub mod samples;
pub mod store;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::contracts::quality::{Policy, PortQuality};
use crate::quality::wire::{self, Decoder, SchemaLookup, WireError};
use crate::quality::{Checker, Limits, Moment};

/// Length of one point, in seconds.
pub const STEP_SECONDS: i64 = 10;
/// The largest record the checker decodes by default (the broker's default
/// `message.max.bytes`, 1 MiB plus the record overhead).
pub const DEFAULT_MAX_RECORD_BYTES: usize = 1_048_588;
/// Upper bounds (ms) of the end-to-end latency histogram's buckets; one more bucket holds
/// everything slower.
pub const LATENCY_BUCKETS_MS: [i64; 13] = [
    10, 25, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 300_000,
];
/// Failing records kept per port as samples.
pub const INVALID_SAMPLES: i64 = 50;
/// Valid records kept per port as samples.
pub const VALID_SAMPLES: i64 = 20;
/// Bytes of an undecodable record kept in its sample.
const RAW_SAMPLE_BYTES: usize = 256;

/// Why a record is not valid: a wire or schema problem (see [`WireError::reason`]), or a
/// failed quality rule.
pub const QUALITY_REASON: &str = "quality";

/// Why a health read failed.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error("no such product")]
    NotFound,
    #[error("window must be between 10 seconds and 7 days (604800 seconds)")]
    BadWindow,
    #[error("limit must be between 1 and {}", samples::MAX_LIMIT)]
    BadLimit,
    #[error(transparent)]
    Denied(#[from] crate::policy::Denied),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A product as samples read it: its id, domain and current contract.
pub(crate) struct ProductRow {
    pub id: Uuid,
    pub domain: String,
    pub document: Value,
}

/// The product `slug` with its current contract, or [`HealthError::NotFound`].
pub(crate) async fn product_row(
    pool: &sqlx::PgPool,
    slug: &str,
) -> Result<ProductRow, HealthError> {
    let row = sqlx::query!(
        r#"select p.id, p.domain, c.document from products p
           join contract_versions c on c.product_id = p.id and c.version = p.current_version
           where p.slug = $1"#,
        slug,
    )
    .fetch_optional(pool)
    .await?
    .ok_or(HealthError::NotFound)?;
    Ok(ProductRow {
        id: row.id,
        domain: row.domain,
        document: row.document,
    })
}

/// One record as the checker got it from the broker.
#[derive(Clone, Copy, Debug)]
pub struct Incoming<'a> {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<&'a [u8]>,
    pub payload: Option<&'a [u8]>,
    /// The record's timestamp (create or log-append time), if it has one.
    pub timestamp: Option<DateTime<Utc>>,
}

/// A failed rule of one record.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(from = "StoredFailure", into = "StoredFailure")]
pub struct Failure {
    /// Shared with the checker's rule (a count per record, no copy).
    pub rule: Arc<str>,
    pub field: Option<Arc<str>>,
    pub message: String,
}

/// A [`Failure`] as samples store it.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredFailure {
    rule: String,
    field: Option<String>,
    message: String,
}

impl From<StoredFailure> for Failure {
    fn from(stored: StoredFailure) -> Self {
        Self {
            rule: Arc::from(stored.rule),
            field: stored.field.map(Arc::from),
            message: stored.message,
        }
    }
}

impl From<Failure> for StoredFailure {
    fn from(failure: Failure) -> Self {
        Self {
            rule: failure.rule.to_string(),
            field: failure.field.map(|field| field.to_string()),
            message: failure.message,
        }
    }
}

/// The verdict on one record.
#[derive(Clone, Debug, PartialEq)]
pub struct Judged {
    pub schema_id: Option<u32>,
    /// The decoded record, when it decoded and its value was [wanted](Wanted).
    pub value: Option<Value>,
    /// `None` for a valid record; else the reason ([`WireError::reason`] or
    /// [`QUALITY_REASON`]).
    pub reason: Option<&'static str>,
    /// What failed: the wire or schema problem, or each failed rule. Most failing records
    /// fail one or two rules, held without allocating.
    pub failures: Failures,
    /// The rules the record was checked against, when it decoded; each passed unless it
    /// is among the failures.
    pub rules: Option<Arc<[Arc<str>]>>,
}

/// The failures of one record.
pub type Failures = smallvec::SmallVec<[Failure; 2]>;

impl Judged {
    pub fn valid(&self) -> bool {
        self.reason.is_none()
    }
}

/// The checking state of one output port.
pub struct PortCheck {
    pub port_id: Uuid,
    pub policy: Policy,
    /// Ids of the schemas registered under the port's value subject.
    pub subject_ids: HashSet<u32>,
    decoder: Decoder,
    checker: Checker,
}

impl PortCheck {
    pub fn new(
        port_id: Uuid,
        quality: &PortQuality,
        subject_ids: HashSet<u32>,
        max_record_bytes: usize,
    ) -> Self {
        Self {
            port_id,
            policy: quality.policy,
            subject_ids,
            decoder: Decoder::new(max_record_bytes),
            checker: Checker::new(quality, Limits::default()),
        }
    }

    /// Judges one record, checked at `now`, carrying what `wanted` asks for besides the
    /// verdict.
    pub fn judge(
        &mut self,
        record: &Incoming<'_>,
        now: DateTime<Utc>,
        lookup: &impl SchemaLookup,
        wanted: Wanted,
    ) -> Judged {
        let bytes = record.payload.unwrap_or_default();
        // Most records are only read by the rules and counted, so the value stays the
        // decoder's (to be written over by the next) unless the batch keeps it.
        let decoded = match self.decoder.decode(bytes, &self.subject_ids, lookup) {
            Ok(decoded) => decoded,
            Err(error) => return wire_failure(&error, bytes),
        };
        let value = decoded.value();
        let moment = Moment {
            now,
            record_time: record.timestamp,
        };
        let mut failures = Failures::new();
        let names = Arc::clone(self.checker.names());
        let fields = Arc::clone(self.checker.fields());
        self.checker
            .check_each(value, moment, wanted.messages, |index, message| {
                failures.push(Failure {
                    rule: Arc::clone(&names[index]),
                    field: fields[index].clone(),
                    message,
                });
            });
        let valid = failures.is_empty();
        let keep = if valid {
            wanted.valid_value
        } else {
            wanted.invalid_value
        };
        Judged {
            schema_id: Some(decoded.schema_id),
            value: keep.then(|| value.clone()),
            reason: (!valid).then_some(QUALITY_REASON),
            failures,
            rules: Some(names),
        }
    }
}

/// What a judgement carries besides its verdict. Each costs time per record on a busy
/// stream, so the record checker asks only for what its batch will keep
/// ([`Batch::wants`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wanted {
    /// Each failed rule's message; without it the message is empty (a wire failure
    /// always says what it was).
    pub messages: bool,
    /// The decoded value of a record that passed.
    pub valid_value: bool,
    /// The decoded value of a record that failed a rule.
    pub invalid_value: bool,
}

impl Wanted {
    /// Messages and values.
    pub const ALL: Wanted = Wanted {
        messages: true,
        valid_value: true,
        invalid_value: true,
    };
    /// Messages only: for a caller that keeps no record.
    pub const MESSAGES: Wanted = Wanted {
        messages: true,
        valid_value: false,
        invalid_value: false,
    };
}

fn wire_failure(error: &WireError, bytes: &[u8]) -> Judged {
    Judged {
        schema_id: wire::split(bytes).ok().map(|(id, _)| id),
        value: None,
        reason: Some(error.reason()),
        failures: smallvec::smallvec![Failure {
            rule: Arc::from(error.reason()),
            field: None,
            message: error.to_string(),
        }],
        rules: None,
    }
}

/// What one port's records added up to in one 10-second step.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    pub records: i64,
    pub valid: i64,
    pub bytes: i64,
    pub invalid: BTreeMap<String, i64>,
    /// Records checked against each set of rules seen in the step (a new contract version
    /// mid-step starts another); see [`Tally::rule_passed`].
    pub rule_sets: Vec<(Arc<[Arc<str>]>, i64)>,
    pub rule_failed: BTreeMap<String, i64>,
    pub last_event_at: Option<DateTime<Utc>>,
    pub latency: Vec<i64>,
}

impl Tally {
    fn add(&mut self, record: &Incoming<'_>, judged: &Judged, now: DateTime<Utc>) {
        self.records += 1;
        self.bytes += record.payload.map_or(0, <[u8]>::len) as i64;
        match judged.reason {
            None => self.valid += 1,
            Some(reason) => bump(&mut self.invalid, reason),
        }
        if let Some(rules) = &judged.rules {
            match self.rule_sets.last_mut() {
                Some((seen, checked)) if Arc::ptr_eq(seen, rules) => *checked += 1,
                _ => self.rule_sets.push((Arc::clone(rules), 1)),
            }
            for failure in &judged.failures {
                bump(&mut self.rule_failed, &failure.rule);
            }
        }
        // A producer's clock may run ahead: the newest event is never later than now.
        let event_at = record.timestamp.map(|t| t.min(now));
        if let Some(at) = event_at {
            self.last_event_at = Some(self.last_event_at.map_or(at, |last| last.max(at)));
            let latency_ms = (now - at).num_milliseconds().max(0);
            if self.latency.is_empty() {
                self.latency = vec![0; LATENCY_BUCKETS_MS.len() + 1];
            }
            self.latency[latency_bucket(latency_ms)] += 1;
        }
    }
}

impl Tally {
    /// Records that passed each rule: those checked against it, less those that failed it.
    pub fn rule_passed(&self) -> BTreeMap<String, i64> {
        let mut passed = BTreeMap::new();
        for (rules, checked) in &self.rule_sets {
            for rule in rules.iter() {
                *passed.entry(rule.to_string()).or_insert(0) += checked;
            }
        }
        for (rule, failed) in &self.rule_failed {
            if let Some(count) = passed.get_mut(rule) {
                *count -= failed;
            }
        }
        passed
    }
}

/// Adds one to `key`'s count; the key is copied only the first time it is counted (this
/// runs for every rule of every record).
fn bump(counts: &mut BTreeMap<String, i64>, key: &str) {
    match counts.get_mut(key) {
        Some(count) => *count += 1,
        None => {
            counts.insert(key.to_string(), 1);
        }
    }
}

/// The histogram bucket of a latency.
pub fn latency_bucket(latency_ms: i64) -> usize {
    LATENCY_BUCKETS_MS
        .iter()
        .position(|bound| latency_ms <= *bound)
        .unwrap_or(LATENCY_BUCKETS_MS.len())
}

/// The start of the 10-second step `at` falls in.
pub fn step_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::seconds(STEP_SECONDS))
        .unwrap_or(at)
}

/// A decoded (or undecodable) record kept for people to look at.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub port_id: Uuid,
    pub partition: i32,
    pub offset: i64,
    pub valid: bool,
    pub schema_id: Option<u32>,
    pub key: Option<String>,
    pub value: Option<Value>,
    pub raw_hex: Option<String>,
    pub reason: Option<String>,
    pub failures: Vec<Failure>,
    pub record_at: Option<DateTime<Utc>>,
    pub checked_at: DateTime<Utc>,
}

/// What a checker process saw since its last flush.
///
/// Its maps are looked up several times per record, so they hash with `foldhash` (the
/// keys are Meshmart's own ids and the broker's topic names, not an attacker's choice).
#[derive(Debug, Default)]
pub struct Batch {
    pub points: FastMap<(Uuid, DateTime<Utc>), Tally>,
    /// The next offset to count, per (topic, partition), but for the partition of the
    /// latest records: records come in runs from one partition, and the run's offset moves
    /// in `run` without a look-up ([`Batch::offsets`] reads both).
    offsets: FastMap<(Arc<str>, i32), i64>,
    run: Option<(Arc<str>, i32, i64)>,
    /// Samples per port and validity, in the order checked: the first records of the batch,
    /// at most the kept number of each ([`INVALID_SAMPLES`], [`VALID_SAMPLES`]). A batch
    /// spans about a second, so they are recent; the records past the limit are counted
    /// only, and a failing one is judged without writing messages.
    pub samples: FastMap<(Uuid, bool), Vec<Sample>>,
    /// Records copied to each port's dead-letter topic.
    pub dead_lettered: FastMap<Uuid, i64>,
    /// The step the last record fell in, and when it ends: most records fall in the same.
    step: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// A map hashed with `foldhash`.
pub type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty() && self.run.is_none() && self.dead_lettered.is_empty()
    }

    /// The next offset to count of each (topic, partition) the batch covers.
    pub fn offsets(&self) -> impl Iterator<Item = (&Arc<str>, i32, i64)> {
        let run = self.run.as_ref();
        let with_run = move |topic: &Arc<str>, partition: i32, next: i64| match run {
            Some((t, p, n)) if *p == partition && t == topic => next.max(*n),
            _ => next,
        };
        let run_alone = run.filter(|(t, p, _)| !self.offsets.contains_key(&(Arc::clone(t), *p)));
        self.offsets
            .iter()
            .map(move |((t, p), n)| (t, *p, with_run(t, *p, *n)))
            .chain(run_alone.map(|(t, p, n)| (t, *p, *n)))
    }

    /// Counts one judged record of `port` on `topic`.
    pub fn add(
        &mut self,
        port: Uuid,
        topic: &Arc<str>,
        record: &Incoming<'_>,
        judged: Judged,
        now: DateTime<Utc>,
    ) {
        let step = match self.step {
            Some((start, end)) if start <= now && now < end => start,
            _ => {
                let start = step_of(now);
                self.step = Some((start, start + TimeDelta::seconds(STEP_SECONDS)));
                start
            }
        };
        self.points
            .entry((port, step))
            .or_default()
            .add(record, &judged, now);
        self.next_offset(topic, record.partition, record.offset + 1);
        let valid = judged.valid();
        let kept = self.samples.entry((port, valid)).or_default();
        if kept.len() >= samples_kept(valid) {
            return;
        }
        // A record that did not decode is kept as bytes (it was checked against no rules).
        let raw_hex = judged.rules.is_none().then(|| {
            let bytes = record.payload.unwrap_or_default();
            hex(&bytes[..bytes.len().min(RAW_SAMPLE_BYTES)])
        });
        kept.push(Sample {
            port_id: port,
            partition: record.partition,
            offset: record.offset,
            valid,
            schema_id: judged.schema_id,
            key: record.key.map(|k| String::from_utf8_lossy(k).into_owned()),
            value: judged.value,
            raw_hex,
            reason: judged.reason.map(str::to_string),
            failures: judged.failures.into_vec(),
            record_at: record.timestamp,
            checked_at: now,
        });
    }

    /// What a judgement of the next record of `port` should carry: the messages and value
    /// of a failing record and the value of a passing one only while the batch would still
    /// keep it as a sample ([`PortCheck::judge`]).
    pub fn wants(&self, port: Uuid) -> Wanted {
        let room = |valid: bool| {
            self.samples
                .get(&(port, valid))
                .is_none_or(|kept| kept.len() < samples_kept(valid))
        };
        let invalid = room(false);
        Wanted {
            messages: invalid,
            valid_value: room(true),
            invalid_value: invalid,
        }
    }

    /// Notes a record that was already counted (below the partition's floor): only the
    /// offset moves.
    pub fn skip(&mut self, topic: &Arc<str>, partition: i32, offset: i64) {
        self.next_offset(topic, partition, offset + 1);
    }

    /// Moves a partition's next offset forward: in `run` while records keep coming from
    /// one partition, in the map once another partition's come.
    fn next_offset(&mut self, topic: &Arc<str>, partition: i32, next: i64) {
        match &mut self.run {
            Some((t, p, n)) if *p == partition && Arc::ptr_eq(t, topic) => *n = (*n).max(next),
            run => {
                if let Some((t, p, n)) = run.replace((Arc::clone(topic), partition, next)) {
                    let kept = self.offsets.entry((t, p)).or_insert(n);
                    *kept = (*kept).max(n);
                }
            }
        }
    }
}

/// Samples a batch keeps per port of valid or of failing records.
fn samples_kept(valid: bool) -> usize {
    if valid {
        VALID_SAMPLES as usize
    } else {
        INVALID_SAMPLES as usize
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}

#[cfg(test)]
mod tests;
