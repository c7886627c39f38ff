//! Producer principals on the real broker: once the outbox's `producer.sync` has run (here
//! called as the worker calls it), a domain's principal writes its own products' topics
//! with an idempotent producer, authenticating with the SCRAM credential Meshmart derived
//! for it, and the broker refuses it on another domain's topic
//! (TOPIC_AUTHORIZATION_FAILED).

use std::time::{Duration, Instant};

use domain::broker::BrokerAdmin;
use domain::broker::acl::{AclFilter, Operation, ResourceType};
use domain::demo::Part;
use domain::producers;
use domain::traffic::{self, Faults, Generator, Plan};
use rdkafka::error::KafkaError;
use rdkafka::producer::FutureRecord;
use rdkafka::types::RDKafkaErrorCode;
use server::configuration::Settings;
use sqlx::PgPool;

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn a_domains_producer_writes_its_own_topics_and_is_refused_on_another_domains(pool: PgPool) {
    domain::demo::seed_parts(&pool, &[Part::Identities, Part::Catalog], false)
        .await
        .expect("demo catalog");
    let own = traffic::product(&pool, "customer-signed-up")
        .await
        .expect("customer-signed-up");
    let other = traffic::product(&pool, "order-placed")
        .await
        .expect("order-placed");
    let principal = own.producer.clone().expect("a live producer grant");
    assert_eq!(principal.principal, "User:svc-customer-management-producer");
    assert_eq!(
        other.producer.as_ref().map(|p| p.principal.as_str()),
        Some("User:svc-sales-producer")
    );

    let settings = Settings::load(None).expect("test settings");
    let broker = settings.kafka.broker_config();
    let admin = BrokerAdmin::new(&broker).expect("broker admin");
    for topic in [&own.topic, &other.topic] {
        admin
            .create_topic(topic, 3, 1, 7 * 24 * 3_600_000)
            .await
            .expect("the topic");
    }
    producers::sync(&pool, &admin, "customer-management")
        .await
        .expect("the principal's credential and ACLs");

    let acls = admin
        .describe_acls(AclFilter {
            principal: Some(principal.principal.clone()),
            ..AclFilter::default()
        })
        .await
        .expect("ACLs");
    let has = |resource: ResourceType, name: &str, operation: Operation| {
        acls.iter().any(|b| {
            b.resource_type == resource && b.resource_name == name && b.operation == operation
        })
    };
    assert!(
        has(ResourceType::Topic, &own.topic, Operation::Write),
        "{acls:?}"
    );
    assert!(has(ResourceType::Topic, &own.topic, Operation::Describe));
    assert!(has(
        ResourceType::Cluster,
        producers::CLUSTER,
        Operation::IdempotentWrite
    ));
    assert!(!has(ResourceType::Topic, &other.topic, Operation::Write));

    let password = broker.derived_password(&producers::password_label(
        principal.username(),
        principal.generation,
    ));
    let connect = || {
        broker
            .producer_as("meshmart-test-producer", principal.username(), &password)
            .expect("producer")
    };

    // Its own topic. The broker applies a new credential and ACLs within moments: probe
    // until one record is accepted, then produce a batch as `meshmart traffic` does.
    let producer = connect();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let sent = producer
            .send(
                FutureRecord::to(&own.topic).key("probe").payload("probe"),
                Duration::from_secs(5),
            )
            .await;
        match sent {
            Ok(_) => break,
            Err((error, _)) if Instant::now() < deadline => {
                eprintln!("not yet: {error}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err((error, _)) => panic!("the domain's principal cannot write its own topic: {error}"),
        }
    }
    let mut generator = Generator::new(traffic::generate::Rng::os_seed(), 0.05);
    let summary = traffic::run(
        &[(own.clone(), producer)],
        &mut generator,
        Plan {
            rate: 100,
            duration: Some(Duration::from_millis(200)),
            ..Plan::default()
        },
        &Faults::default(),
        std::future::pending(),
    )
    .await;
    assert_eq!(summary.products[0].delivered, 20, "{summary}");
    assert_eq!(summary.products[0].errors, 0, "{summary}");

    // Another domain's topic: refused by the broker's authorizer.
    let refused = connect()
        .send(
            FutureRecord::to(&other.topic).key("k").payload("v"),
            Duration::from_secs(20),
        )
        .await;
    match refused {
        Err((KafkaError::MessageProduction(code), _)) => {
            assert_eq!(code, RDKafkaErrorCode::TopicAuthorizationFailed)
        }
        other => panic!("expected TOPIC_AUTHORIZATION_FAILED, got {other:?}"),
    }
}
