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
//! - [`run`] paces a rate per product with a real idempotent producer (`acks=all`) until a
//!   duration ends or the caller stops it, and counts what the broker acknowledged.
//!
//! For now every domain produces as Meshmart's own configured principal. Per-domain
//! producer principals, with their WRITE (+DESCRIBE, idempotent-write) ACLs provisioned
//! through the outbox and reconciler as part of owning a product, come later (issue 15,
//! part 1); [`Product`] is where the principal will be chosen.

pub mod encode;
pub mod generate;

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::Utc;
use rdkafka::producer::{FutureProducer, FutureRecord};
use sqlx::PgPool;
use tokio::task::JoinSet;

pub use encode::EncodeError;
pub use generate::{Event, EventKind, Generator};

use crate::contracts::{Contract, OutputPort};
use crate::registry::schema::value_subject;
use crate::registry::{self, ParsedSchema, RegistryError, VersionRef};

/// The products the generator knows, by slug.
pub const KNOWN_PRODUCTS: [&str; 2] = ["customer-signed-up", "order-placed"];

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

/// A product ready to produce to: its port, and the registered schema records carry.
#[derive(Clone, Debug)]
pub struct Product {
    pub slug: String,
    pub topic: String,
    pub subject: String,
    pub schema_id: u32,
    pub kind: EventKind,
    port: OutputPort,
    schema: ParsedSchema,
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
            kind,
            port,
            schema,
        })
    }

    /// The port the records are for.
    pub fn port(&self) -> &OutputPort {
        &self.port
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
    let schema = ParsedSchema::parse_stored(version.schema_type, &version.schema)
        .map_err(|e| unusable(format!("its registered schema does not parse: {e}")))?;
    let schema_id = u32::try_from(version.id)
        .map_err(|_| unusable(format!("schema id {} is out of range", version.id)))?;
    Product::new(slug, port, schema_id, schema)
}

/// How much to produce.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Records per second, per product.
    pub rate: u32,
    /// Stop after this long (then exactly `rate × duration` records per product); `None`
    /// runs until stopped.
    pub duration: Option<Duration>,
}

/// What one product's traffic did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sent {
    pub slug: String,
    /// Records the broker acknowledged.
    pub delivered: u64,
    /// Records that could not be encoded, queued or delivered.
    pub errors: u64,
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
            .map(|p| format!("{} {} sent, {} errors", p.slug, p.delivered, p.errors))
            .collect();
        write!(
            f,
            "traffic: {} in {:.1} s",
            parts.join("; "),
            self.elapsed.as_secs_f64()
        )
    }
}

/// Produces `plan.rate` records per second to each product until the plan's duration ends
/// or `stop` completes, then waits (at most [`DELIVERY_TIMEOUT`]) for the broker's
/// acknowledgements of what was already sent.
#[tracing::instrument(skip_all, fields(rate = plan.rate, products = products.len()))]
pub async fn run(
    producer: &FutureProducer,
    products: &[Product],
    generator: &mut Generator,
    plan: Plan,
    stop: impl Future<Output = ()>,
) -> Summary {
    let mut summary = Summary {
        products: products
            .iter()
            .map(|p| Sent {
                slug: p.slug.clone(),
                ..Sent::default()
            })
            .collect(),
        elapsed: Duration::ZERO,
    };
    let rate = f64::from(plan.rate.max(1));
    let limit = plan
        .duration
        .map(|d| (rate * d.as_secs_f64()).round() as u64);
    // Ticks no longer than a tenth of a second, so slow rates stay smooth and fast ones
    // send a small batch per tick.
    let period = Duration::from_secs_f64((1.0 / rate).clamp(0.001, 0.1));
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut in_flight: JoinSet<(usize, bool)> = JoinSet::new();
    let mut pending = vec![0u64; products.len()];
    let mut rounds: u64 = 0;
    let started = Instant::now();
    tokio::pin!(stop);
    loop {
        if limit.is_some_and(|limit| rounds >= limit) {
            break;
        }
        tokio::select! {
            _ = &mut stop => break,
            _ = ticker.tick() => {}
        }
        let mut due = (rate * started.elapsed().as_secs_f64()) as u64;
        if let Some(limit) = limit {
            due = due.min(limit);
        }
        while rounds < due {
            for (index, product) in products.iter().enumerate() {
                match product.record(generator) {
                    Ok((_, record)) => {
                        let queued = producer.send_result(
                            FutureRecord::to(&product.topic)
                                .key(&record.key)
                                .payload(&record.value),
                        );
                        match queued {
                            Ok(delivery) => {
                                pending[index] += 1;
                                in_flight.spawn(async move {
                                    (index, matches!(delivery.await, Ok(Ok(_))))
                                });
                            }
                            Err((error, _)) => {
                                tracing::warn!(product = %product.slug, %error, "record not queued");
                                summary.products[index].errors += 1;
                            }
                        }
                    }
                    Err(error) => {
                        tracing::warn!(product = %product.slug, %error, "record not encoded");
                        summary.products[index].errors += 1;
                    }
                }
            }
            rounds += 1;
        }
        while let Some(done) = in_flight.try_join_next() {
            count(&mut summary, &mut pending, done);
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
