//! Demo traffic on the real broker: `customer-signed-up` records produced by
//! `domain::traffic` land on the product's topic in the Confluent wire format, with the id
//! of the schema the catalog registered for the topic's value subject, and decode with it.
//!
//! The topic is shared by every test database on the broker, so the test reads from the
//! end offsets it saw before producing and only looks at the keys it produced itself (a
//! second generator with the same random seed names them).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use domain::broker::BrokerAdmin;
use domain::demo::Part;
use domain::quality::wire;
use domain::registry::{self, ParsedSchema, VersionRef};
use domain::traffic::{self, Generator, Plan};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use server::configuration::Settings;
use sqlx::PgPool;

const RECORDS: u32 = 50;

/// A consumer as the admin principal, in a group of its own (it commits nothing).
fn admin_consumer() -> BaseConsumer {
    crate::helpers::admin_client()
        .set(
            "group.id",
            format!("meshmart-test-traffic-{}", uuid::Uuid::new_v4().simple()),
        )
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()
        .expect("consumer")
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn produced_signups_carry_the_registered_schema_id_and_decode(pool: PgPool) {
    domain::demo::seed_parts(&pool, &[Part::Identities, Part::Catalog], false)
        .await
        .expect("demo catalog");
    let product = traffic::product(&pool, "customer-signed-up")
        .await
        .expect("a product with a registered schema");
    let registered = registry::version(&pool, &product.subject, VersionRef::Latest, false)
        .await
        .expect("the subject's latest version");
    assert_eq!(product.subject, format!("{}-value", product.topic));
    assert_eq!(i64::from(product.schema_id), i64::from(registered.id));

    // The outbox worker creates the topic when the app runs; here, as the admin would.
    let settings = Settings::load(None).expect("test settings");
    let broker = settings.kafka.broker_config();
    BrokerAdmin::new(&broker)
        .expect("broker admin")
        .create_topic(&product.topic, 3, 1, 7 * 24 * 3_600_000)
        .await
        .expect("the topic");

    // Where this test's records will start: the end of every partition now.
    let consumer = admin_consumer();
    let topic = product.topic.clone();
    let consumer = tokio::task::spawn_blocking(move || {
        let metadata = consumer
            .fetch_metadata(Some(&topic), Duration::from_secs(10))
            .expect("metadata");
        let mut assignment = TopicPartitionList::new();
        for partition in metadata.topics()[0].partitions() {
            let (_, high) = consumer
                .fetch_watermarks(&topic, partition.id(), Duration::from_secs(10))
                .expect("watermarks");
            assignment
                .add_partition_offset(&topic, partition.id(), Offset::Offset(high))
                .expect("offset");
        }
        consumer.assign(&assignment).expect("assigned");
        consumer
    })
    .await
    .expect("assignment thread");

    let producer = broker.producer("meshmart-test-traffic").expect("producer");
    let seed = traffic::generate::Rng::os_seed();
    let mut generator = Generator::new(seed, 0.1);
    let mut replay = Generator::new(seed, 0.1);
    let ours: HashSet<String> = (0..RECORDS)
        .map(|_| {
            replay
                .next(product.kind, &product.port().fields, chrono::Utc::now())
                .key
        })
        .collect();
    let plan = Plan {
        rate: RECORDS * 4,
        duration: Some(Duration::from_millis(250)),
        ..Plan::default()
    };
    let summary = traffic::run(
        &[(product.clone(), producer)],
        &mut generator,
        plan,
        &traffic::Faults::default(),
        std::future::pending(),
    )
    .await;
    assert_eq!(summary.products.len(), 1);
    assert_eq!(
        summary.products[0].delivered,
        u64::from(RECORDS),
        "{summary}"
    );
    assert_eq!(summary.products[0].errors, 0, "{summary}");

    let schema = ParsedSchema::parse_stored(registered.schema_type, &registered.schema)
        .expect("the registered schema");
    let lookup = HashMap::from([(product.schema_id, schema)]);
    let subject = HashSet::from([product.schema_id]);
    let wanted = ours.clone();
    let records = tokio::task::spawn_blocking(move || {
        let mut records = HashMap::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while records.len() < wanted.len() && Instant::now() < deadline {
            if let Some(message) = consumer.poll(Duration::from_millis(200)) {
                let message = message.expect("a record");
                let key = String::from_utf8_lossy(message.key().unwrap_or_default()).to_string();
                if wanted.contains(&key) {
                    records.insert(key, message.payload().unwrap_or_default().to_vec());
                }
            }
        }
        records
    })
    .await
    .expect("consumer thread");
    assert_eq!(records.len(), ours.len(), "records of ours read");
    for (key, value) in &records {
        assert_eq!(value[0], 0, "magic byte");
        assert_eq!(value[1..5], product.schema_id.to_be_bytes(), "schema id");
        let decoded = wire::decode(value, &lookup, &subject).expect("decodes");
        assert_eq!(decoded.value["customerID"], key.as_str());
    }
}
