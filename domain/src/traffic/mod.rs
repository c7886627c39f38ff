//! Demo traffic: the seed flow's domains producing their events to their products' topics,
//! as they would in production, so that the streams the catalog describes are alive.
//!
//! - [`generate`] draws realistic values from a seeded generator (a channel mix, countries,
//!   a share of risky sign-ups; orders from customers who signed up), shaped by the port's
//!   declared fields.
//! - [`encode`] writes them in the registered schema's language (Avro binary or JSON text)
//!   behind the Confluent wire-format header, with the id of the latest schema of the
//!   product's `<topic>-value` subject. Records are keyed by the entity they are about
//!   (customer id, order id), so one entity's events stay in order on one partition.
//! - [`run`] paces a rate per product ([`pace`]: constant or a daily curve, with an optional
//!   pause) with a real idempotent producer (`acks=all`) per product until a duration ends
//!   or the caller stops it, and counts what the broker acknowledged.
//! - [`faults`] breaks a share of the records on purpose, or switches to an unregistered
//!   schema version after a while (drift), for the checker and self-healing to notice.
//!
//! Each product is produced as its domain's producer principal ([`crate::producers`]):
//! [`product`] loads it with the product, and the caller makes one producer per principal.

pub mod encode;
pub mod faults;
pub mod generate;
pub mod live;
pub mod pace;

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::Utc;
use rdkafka::producer::{FutureProducer, FutureRecord};
use sqlx::PgPool;
use tokio::task::JoinSet;

pub use encode::EncodeError;
pub use faults::BadKind;
pub use generate::{Event, EventKind, Generator};
pub use pace::{Pace, Pause};

use crate::contracts::{Contract, OutputPort};
use crate::producers::Principal;
use crate::registry::schema::value_subject;
use crate::registry::{self, ParsedSchema, RegistryError, VersionRef};

/// The products the generator knows, by slug: the seed flow's sources. Its
/// `enriched-customer-signed-up` is the enrichment node's output, not a domain's.
pub const KNOWN_PRODUCTS: [&str; 3] = ["customer-signed-up", "order-placed", "ticket-opened"];

/// The share of sign-ups that look risky unless told otherwise.
pub const DEFAULT_RISKY_SHARE: f64 = 0.05;

/// How long the broker may take to acknowledge a record before it counts as an error.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// Why traffic for a product cannot start.
#[derive(Debug, thiserror::Error)]
pub enum TrafficError {
    #[error("unknown product `{0}`")]
    UnknownProduct(String),
    #[error("product `{slug}` publishes {event_type}, which the traffic generator does not know")]
    NoGenerator { slug: String, event_type: String },
    #[error("product `{slug}` has no registered schema under `{subject}`")]
    NoSchema { slug: String, subject: String },
    #[error("product `{slug}`: {message}")]
    Unusable { slug: String, message: String },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// How far above the registry's highest schema id the ids of faulty and drifted records
/// are: ids the registry has not handed out.
const UNREGISTERED_OFFSET: u32 = 1_000_000;

/// A product ready to produce to: its port, and the registered schema records carry.
#[derive(Clone, Debug)]
pub struct Product {
    pub slug: String,
    pub topic: String,
    pub subject: String,
    pub schema_id: u32,
    /// The id `unknown-schema-id` records name (not in the registry).
    pub unknown_schema_id: u32,
    /// The id drifted records name (not in the registry).
    pub drift_schema_id: u32,
    pub kind: EventKind,
    /// The domain principal that may produce to it (`None`: its grant is revoked).
    pub producer: Option<Principal>,
    port: OutputPort,
    schema: ParsedSchema,
    shapes: faults::Shapes,
}

/// One record to produce.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub key: String,
    pub value: Vec<u8>,
}

impl Product {
    /// A product whose port and schema are given (tests, and callers that loaded them).
    pub fn new(
        slug: &str,
        port: OutputPort,
        schema_id: u32,
        schema: ParsedSchema,
    ) -> Result<Self, TrafficError> {
        let kind = EventKind::of(&port.event_type).ok_or_else(|| TrafficError::NoGenerator {
            slug: slug.to_string(),
            event_type: port.event_type.clone(),
        })?;
        Ok(Self {
            slug: slug.to_string(),
            topic: port.topic.clone(),
            subject: value_subject(&port.topic),
            schema_id,
            unknown_schema_id: schema_id.saturating_add(UNREGISTERED_OFFSET + 1),
            drift_schema_id: schema_id.saturating_add(UNREGISTERED_OFFSET),
            kind,
            producer: None,
            shapes: faults::Shapes::of(&schema),
            port,
            schema,
        })
    }

    /// Names unregistered ids above `highest`, the registry's highest schema id.
    pub fn with_unregistered_ids_above(mut self, highest: u32) -> Self {
        self.drift_schema_id = highest.saturating_add(UNREGISTERED_OFFSET);
        self.unknown_schema_id = highest.saturating_add(UNREGISTERED_OFFSET + 1);
        self
    }

    /// The port the records are for.
    pub fn port(&self) -> &OutputPort {
        &self.port
    }

    /// `value` (keyed by the contract's field names) as a wire-format record of the
    /// product's schema.
    pub fn encode(&self, value: &serde_json::Value) -> Result<Vec<u8>, EncodeError> {
        encode::record(self.schema_id, &self.schema, value)
    }

    /// The next event, generated and encoded as a wire-format record.
    pub fn record(&self, generator: &mut Generator) -> Result<(Event, Record), EncodeError> {
        let event = generator.next(self.kind, &self.port.fields, Utc::now());
        let value = encode::record(self.schema_id, &self.schema, &event.value)?;
        let record = Record {
            key: event.key.clone(),
            value,
        };
        Ok((event, record))
    }
}

/// Loads a product's current contract and the latest schema of its (first) port's subject.
#[tracing::instrument(skip(pool))]
pub async fn product(pool: &PgPool, slug: &str) -> Result<Product, TrafficError> {
    let Registered {
        port,
        schema_id,
        schema,
    } = registered(pool, slug).await?;
    let highest: i64 = sqlx::query_scalar!(
        r#"select coalesce(max(id), 0)::bigint as "value!" from registry_schemas"#,
    )
    .fetch_one(pool)
    .await?;
    let mut product = Product::new(slug, port, schema_id, schema)?
        .with_unregistered_ids_above(u32::try_from(highest).unwrap_or(schema_id));
    product.producer = crate::producers::principal_of_product(pool, slug).await?;
    Ok(product)
}

/// A product's output port with its subject's latest schema: what writing its records
/// in the Confluent wire format takes.
#[derive(Clone, Debug)]
pub struct Registered {
    pub port: OutputPort,
    pub schema_id: u32,
    pub schema: ParsedSchema,
}

impl Registered {
    /// `value` in the port's schema, in the Confluent wire format.
    pub fn encode(&self, value: &serde_json::Value) -> Result<Vec<u8>, EncodeError> {
        encode::record(self.schema_id, &self.schema, value)
    }
}

/// The product `slug`'s output port and its subject's latest registered schema.
pub async fn registered(pool: &PgPool, slug: &str) -> Result<Registered, TrafficError> {
    let unusable = |message: String| TrafficError::Unusable {
        slug: slug.to_string(),
        message,
    };
    let (_, document) = crate::catalog::contract_document(pool, slug, None)
        .await?
        .ok_or_else(|| TrafficError::UnknownProduct(slug.to_string()))?;
    let contract = Contract::from_document(document)
        .map_err(|_| unusable("its current contract does not map".to_string()))?;
    let port = contract
        .ports
        .into_iter()
        .next()
        .ok_or_else(|| unusable("it has no output port".to_string()))?;
    let subject = value_subject(&port.topic);
    let version = match registry::version(pool, &subject, VersionRef::Latest, false).await {
        Ok(version) => version,
        Err(RegistryError::SubjectNotFound(_) | RegistryError::VersionNotFound { .. }) => {
            return Err(TrafficError::NoSchema {
                slug: slug.to_string(),
                subject,
            });
        }
        Err(RegistryError::Database(error)) => return Err(TrafficError::Database(error)),
        Err(other) => return Err(unusable(other.to_string())),
    };
    let schema = match registry::parse_version(pool, &version).await {
        Ok(schema) => schema,
        Err(RegistryError::Database(error)) => return Err(TrafficError::Database(error)),
        Err(e) => {
            return Err(unusable(format!(
                "its registered schema does not parse: {e}"
            )));
        }
    };
    let schema_id = u32::try_from(version.id)
        .map_err(|_| unusable(format!("schema id {} is out of range", version.id)))?;
    Ok(Registered {
        port,
        schema_id,
        schema,
    })
}

/// How much to produce.
#[derive(Clone, Copy, Debug, Default)]
pub struct Plan {
    /// Records per second, per product (the peak with `diurnal`).
    pub rate: u32,
    /// Stop after this long (then exactly `rate × duration` records per product, unless
    /// the curve or a pause take some away); `None` runs until stopped.
    pub duration: Option<Duration>,
    /// Follow the daily curve ([`pace::diurnal_factor`]).
    pub diurnal: bool,
    pub pause: Option<Pause>,
}

/// Records that break the contract on purpose.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Share (0 to 1) of records broken, each in one of `bad_kinds` (all when empty).
    pub bad_share: f64,
    pub bad_kinds: Vec<BadKind>,
    /// From this long after the start, every record is of an unregistered drifted version.
    pub drift_after: Option<Duration>,
}

/// What one product's traffic did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sent {
    pub slug: String,
    /// Records the broker acknowledged.
    pub delivered: u64,
    /// Records that could not be encoded, queued or delivered.
    pub errors: u64,
    /// Records sent broken on purpose (of those queued).
    pub bad: u64,
    /// Records sent in the drifted version (of those queued).
    pub drifted: u64,
}

/// What a run did, per product in the order given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub products: Vec<Sent>,
    pub elapsed: Duration,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .products
            .iter()
            .map(|p| {
                let mut line = format!("{} {} sent, {} errors", p.slug, p.delivered, p.errors);
                if p.bad > 0 {
                    line.push_str(&format!(", {} broken on purpose", p.bad));
                }
                if p.drifted > 0 {
                    line.push_str(&format!(", {} drifted", p.drifted));
                }
                line
            })
            .collect();
        write!(
            f,
            "traffic: {} in {:.1} s",
            parts.join("; "),
            self.elapsed.as_secs_f64()
        )
    }
}

/// The producer type lanes use (re-exported so callers need no rdkafka of their own).
pub use rdkafka::producer::FutureProducer as Producer;

/// A product and the producer (its domain's principal) that writes it.
pub type Lane = (Product, FutureProducer);

/// Produces `plan.rate` records per second to each product until the plan's duration ends
/// or `stop` completes, then waits (at most [`DELIVERY_TIMEOUT`]) for the broker's
/// acknowledgements of what was already sent. `faults` breaks records on purpose.
#[tracing::instrument(skip_all, fields(rate = plan.rate, products = lanes.len()))]
pub async fn run(
    lanes: &[Lane],
    generator: &mut Generator,
    plan: Plan,
    faults: &Faults,
    stop: impl Future<Output = ()>,
) -> Summary {
    let mut summary = Summary {
        products: lanes
            .iter()
            .map(|(p, _)| Sent {
                slug: p.slug.clone(),
                ..Sent::default()
            })
            .collect(),
        elapsed: Duration::ZERO,
    };
    let rate = f64::from(plan.rate.max(1));
    let pace = Pace {
        rate,
        diurnal: plan.diurnal,
        pause: plan.pause,
        started: Utc::now(),
        day_seconds: None,
    };
    let end = plan.duration.map(|d| d.as_secs_f64());
    let bad_kinds: Vec<BadKind> = if faults.bad_kinds.is_empty() {
        BadKind::ALL.to_vec()
    } else {
        faults.bad_kinds.clone()
    };
    let drift_after = faults.drift_after.map(|d| d.as_secs_f64());
    // Ticks no longer than a tenth of a second, so slow rates stay smooth and fast ones
    // send a small batch per tick.
    let period = Duration::from_secs_f64((1.0 / rate).clamp(0.001, 0.1));
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut in_flight: JoinSet<(usize, bool)> = JoinSet::new();
    let mut pending = vec![0u64; lanes.len()];
    let mut rounds: u64 = 0;
    // Records due so far; the small epsilon keeps `rate × duration` from flooring to one
    // less after summing many ticks.
    let mut due = 0.0_f64;
    let mut last = 0.0_f64;
    let started = Instant::now();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = ticker.tick() => {}
        }
        let mut now = started.elapsed().as_secs_f64();
        if let Some(end) = end {
            now = now.min(end);
        }
        due += pace.due_between(last, now);
        last = now;
        let drifting = drift_after.is_some_and(|after| now >= after);
        while (rounds as f64) < (due + 1e-6).floor() {
            for (index, (product, producer)) in lanes.iter().enumerate() {
                let sent = &mut summary.products[index];
                let (event, record) = match product.record(generator) {
                    Ok(pair) => pair,
                    Err(error) => {
                        tracing::warn!(product = %product.slug, %error, "record not encoded");
                        sent.errors += 1;
                        continue;
                    }
                };
                let record = if drifting {
                    sent.drifted += 1;
                    let tier = ["bronze", "silver", "gold"][generator.rng().below(3) as usize];
                    product.drifted_record(&event.key, &event.value, tier)
                } else if faults.bad_share > 0.0 && generator.rng().chance(faults.bad_share) {
                    sent.bad += 1;
                    let kind = bad_kinds[generator.rng().below(bad_kinds.len() as u64) as usize];
                    product.bad_record(kind, &event.key, &event.value)
                } else {
                    Ok(record)
                };
                let record = match record {
                    Ok(record) => record,
                    Err(error) => {
                        tracing::warn!(product = %product.slug, %error, "record not encoded");
                        sent.errors += 1;
                        continue;
                    }
                };
                let queued = producer.send_result(
                    FutureRecord::to(&product.topic)
                        .key(&record.key)
                        .payload(&record.value),
                );
                match queued {
                    Ok(delivery) => {
                        pending[index] += 1;
                        in_flight
                            .spawn(async move { (index, matches!(delivery.await, Ok(Ok(_)))) });
                    }
                    Err((error, _)) => {
                        tracing::warn!(product = %product.slug, %error, "record not queued");
                        sent.errors += 1;
                    }
                }
            }
            rounds += 1;
        }
        while let Some(done) = in_flight.try_join_next() {
            count(&mut summary, &mut pending, done);
        }
        if end.is_some_and(|end| now >= end) {
            break;
        }
    }
    let deadline = tokio::time::Instant::now() + DELIVERY_TIMEOUT;
    while let Ok(Some(done)) = tokio::time::timeout_at(deadline, in_flight.join_next()).await {
        count(&mut summary, &mut pending, done);
    }
    // Whatever the broker did not acknowledge in time is an error.
    in_flight.abort_all();
    for (sent, unacknowledged) in summary.products.iter_mut().zip(pending) {
        if unacknowledged > 0 {
            tracing::warn!(product = %sent.slug, unacknowledged, "records without an acknowledgement");
            sent.errors += unacknowledged;
        }
    }
    summary.elapsed = started.elapsed();
    summary
}

fn count(
    summary: &mut Summary,
    pending: &mut [u64],
    done: Result<(usize, bool), tokio::task::JoinError>,
) {
    if let Ok((index, delivered)) = done
        && let Some(sent) = summary.products.get_mut(index)
    {
        pending[index] = pending[index].saturating_sub(1);
        if delivered {
            sent.delivered += 1;
        } else {
            sent.errors += 1;
        }
    }
}

#[cfg(test)]
mod tests;
