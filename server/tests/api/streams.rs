//! The record checker on the real broker: every record of a product's topic is judged
//! against its contract and counted once, whatever the partitions' owners; failing records
//! of a `quarantine` port are copied to `<topic>.dlq` with headers saying why; the health
//! API agrees with the broker's offsets; and the kept records are shown only to those who
//! may see the product's data.
//!
//! Each test publishes a product on a topic of its own and runs the checker in a group of
//! its own, so the broker's other topics and tests do not add to its numbers.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use domain::broker::BrokerAdmin;
use domain::quality::wire;
use domain::registry::{self, VersionRef};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde_json::Value;
use server::configuration::Settings;
use sqlx::PgPool;

use crate::helpers::{TestApp, spawn_app_with, token_for};

fn contract(topic: &str, policy: &str) -> String {
    format!(
        r#"apiVersion: v3.1.0
kind: DataContract
id: sales-order-placed
version: 1.0.0
status: active
name: Order Placed
dataProduct: order placed
domain: sales
description:
  purpose: Every order a customer places.
schema:
  - name: OrderPlaced
    physicalName: {topic}
    physicalType: topic
    customProperties:
      - property: contractPolicy
        value: {policy}
    properties:
      - name: orderId
        logicalType: string
        required: true
      - name: email
        logicalType: string
        classification: restricted
      - name: totalValue
        logicalType: number
        required: true
        logicalTypeOptions:
          minimum: 0
slaProperties:
  - property: latency
    value: 30
    unit: s
servers:
  - server: local
    type: kafka
    host: 127.0.0.1:19092
    format: json
"#
    )
}

fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

use crate::helpers::admin_client as client;

async fn checking_app(pool: &PgPool, group: &str) -> TestApp {
    // The people first, so the application starts with their roles.
    domain::demo::seed_parts(pool, &[domain::demo::Part::Identities], false)
        .await
        .expect("demo identities");
    let group = group.to_string();
    // A pool of its own, as each server process has: two servers sharing the test's pool
    // would wait on each other's connections, which no deployment does.
    let own = sqlx::postgres::PgPoolOptions::new()
        .max_connections(10)
        .connect_with((*pool.connect_options()).clone())
        .await
        .expect("a pool of the test database");
    spawn_app_with(own, move |settings| {
        settings.checker.enabled = true;
        settings.checker.group = group;
        // One consumer a process: with the topics' 3 partitions, two processes must then
        // both hold some (with the default, one process's consumers could hold them all).
        settings.checker.consumers = 1;
    })
    .await
}

/// Waits until the consumer group has `members` members, each holding partitions, and is
/// stable.
async fn wait_for_members(group: &str, members: usize) {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = client()
        .set("group.id", format!("{group}-observer"))
        .create()
        .expect("an observing client");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let seen = consumer
            .fetch_group_list(Some(group), Duration::from_secs(5))
            .ok()
            .and_then(|list| {
                list.groups().first().map(|g| {
                    let holding = g
                        .members()
                        .iter()
                        // An empty assignment is 10 bytes (version, no topics, no user data);
                        // one with a topic is longer than 16.
                        .filter(|m| m.assignment().is_some_and(|a| a.len() > 16))
                        .count();
                    (g.state().to_string(), g.members().len(), holding)
                })
            });
        if let Some((state, n, holding)) = &seen
            && state == "Stable"
            && *n == members
            && *holding == members
        {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the group did not settle at {members} members holding partitions: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Publishes the product as its owner and waits for its topic and dead-letter topic.
async fn publish(pool: &PgPool, app: &TestApp, topic: &str, policy: &str) -> (String, u32) {
    let owner = token_for(pool, "owner.sales@meshmart.local").await;
    let (status, body) = app
        .put_contract(&owner, "order-placed", contract(topic, policy))
        .await;
    assert_eq!(status, 201, "{body}");
    let admin = BrokerAdmin::new(
        &Settings::load(None)
            .expect("settings")
            .kafka
            .broker_config(),
    )
    .expect("admin");
    let deadline = Instant::now() + Duration::from_secs(30);
    for name in [topic.to_string(), format!("{topic}.dlq")] {
        while !admin
            .topic_exists(&name, Duration::from_secs(2))
            .await
            .unwrap_or(false)
        {
            assert!(Instant::now() < deadline, "topic {name} was never created");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let version = registry::version(pool, &format!("{topic}-value"), VersionRef::Latest, false)
        .await
        .expect("the registered schema");
    (owner, u32::try_from(version.id).expect("id"))
}

async fn produce(topic: &str, records: Vec<(String, Vec<u8>)>) {
    let topic = topic.to_string();
    tokio::task::spawn_blocking(move || {
        let producer: BaseProducer = client().create().expect("producer");
        for (key, value) in &records {
            producer
                .send(BaseRecord::to(&topic).key(key).payload(value))
                .expect("queued");
        }
        producer.flush(Duration::from_secs(10)).expect("produced");
    })
    .await
    .expect("producer thread");
}

fn order(schema_id: u32, n: usize, total: f64) -> (String, Vec<u8>) {
    let key = format!("o-{n}");
    let body =
        format!(r#"{{"orderId":"{key}","email":"buyer{n}@example.com","totalValue":{total}}}"#);
    (key, wire::frame(schema_id, body.as_bytes()))
}

async fn health(app: &TestApp, token: &str) -> Value {
    let response = app
        .client
        .get(format!(
            "{}/api/v1/products/order-placed/health?window=600",
            app.address
        ))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    assert_eq!(status, 200, "{body}");
    body
}

/// Polls the health API until `events_total` reaches `expected` (or 60 s pass).
async fn counted(app: &TestApp, token: &str, expected: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let body = health(app, token).await;
        if body["events_total"].as_i64() >= Some(expected) || Instant::now() > deadline {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// How many records passed and failed a quality rule, as the health API reports it.
fn rule_counts(body: &Value, rule: &str) -> (Option<i64>, Option<i64>) {
    let found = body["quality"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["rule"] == rule)
        .unwrap_or_else(|| panic!("the rule {rule} is reported: {body}"));
    (found["passed"].as_i64(), found["failed"].as_i64())
}

/// The sum of the topic's end offsets: every record it holds.
async fn end_offsets(topic: &str) -> i64 {
    let topic = topic.to_string();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = client()
            .set("group.id", "meshmart-test-offsets")
            .create()
            .expect("consumer");
        let metadata = consumer
            .fetch_metadata(Some(&topic), Duration::from_secs(10))
            .expect("metadata");
        metadata.topics()[0]
            .partitions()
            .iter()
            .map(|p| {
                consumer
                    .fetch_watermarks(&topic, p.id(), Duration::from_secs(10))
                    .expect("watermarks")
                    .1
            })
            .sum()
    })
    .await
    .expect("offsets thread")
}

/// Every record of the dead-letter topic, with its headers.
async fn dead_letters(topic: &str, expected: usize) -> Vec<HashMap<String, String>> {
    let topic = format!("{topic}.dlq");
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = client()
            .set("group.id", format!("meshmart-test-dlq-{}", unique()))
            .set("isolation.level", "read_committed")
            .create()
            .expect("consumer");
        let metadata = consumer
            .fetch_metadata(Some(&topic), Duration::from_secs(10))
            .expect("metadata");
        let mut assignment = TopicPartitionList::new();
        for p in metadata.topics()[0].partitions() {
            assignment
                .add_partition_offset(&topic, p.id(), Offset::Beginning)
                .expect("partition");
        }
        consumer.assign(&assignment).expect("assign");
        let mut found = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while found.len() < expected && Instant::now() < deadline {
            if let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) {
                let mut headers = HashMap::new();
                if let Some(all) = message.headers() {
                    for header in all.iter() {
                        headers.insert(
                            header.key.to_string(),
                            String::from_utf8_lossy(header.value.unwrap_or_default()).to_string(),
                        );
                    }
                }
                found.push(headers);
            }
        }
        found
    })
    .await
    .expect("consumer thread")
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn every_record_is_judged_counted_once_and_failing_ones_are_quarantined(pool: PgPool) {
    let app = checking_app(&pool, &format!("meshmart-test-checker-{}", unique())).await;
    let topic = format!("sales.order-placed.{}", unique());
    let (owner, schema_id) = publish(&pool, &app, &topic, "quarantine").await;

    let mut records: Vec<(String, Vec<u8>)> = (0..20)
        .map(|n| order(schema_id, n, 10.0 + n as f64))
        .collect();
    records.push(order(schema_id, 20, -5.0)); // breaks the minimum
    records.push(order(schema_id, 21, -1.0));
    records.push(("raw".into(), br#"{"orderId":"o-22"}"#.to_vec())); // no wire header
    // No such schema, and an id past i32: a record's id is any 4 bytes, and its sample
    // must not stop the counts from being stored.
    records.push(("ghost".into(), wire::frame(u32::MAX, b"{}")));
    records.push(("cut".into(), vec![0, 0, 1])); // truncated
    records.push(("bin".into(), wire::frame(schema_id, b"\xff\xfe\xfd"))); // not UTF-8
    produce(&topic, records).await;

    let body = counted(&app, &owner, 26).await;
    assert_eq!(body["events_total"], 26, "{body}");
    assert_eq!(
        body["events_total"].as_i64(),
        Some(end_offsets(&topic).await),
        "agrees with the broker"
    );
    assert_eq!(body["invalid_total"], 6, "{body}");
    let reasons = &body["invalid_by_reason"];
    assert_eq!(reasons["quality"], 2, "{body}");
    assert_eq!(reasons["not_wire_format"], 1, "{body}");
    assert_eq!(reasons["unknown_schema_id"], 1, "{body}");
    assert_eq!(reasons["truncated"], 1, "{body}");
    assert_eq!(reasons["undecodable"], 1, "{body}");
    let ratio = body["valid_ratio"].as_f64().expect("a ratio");
    assert!((ratio - 20.0 / 26.0).abs() < 1e-9, "{body}");
    assert_eq!(rule_counts(&body, "totalValue:range"), (Some(20), Some(2)));
    assert_eq!(body["freshness"]["declared_seconds"], 30.0);
    assert_eq!(body["status"], "fresh");
    assert!(body["last_event_at"].is_string());

    // Quarantine: the six failing records, each with why and where from.
    let dead = dead_letters(&topic, 6).await;
    assert_eq!(dead.len(), 6, "{dead:?}");
    for headers in &dead {
        assert_eq!(headers["meshmart.source.topic"], topic);
        assert!(
            headers["meshmart.source.offset"].parse::<i64>().is_ok(),
            "{headers:?}"
        );
        assert!(!headers["meshmart.reason"].is_empty(), "{headers:?}");
        assert!(headers.contains_key("meshmart.checked.at"), "{headers:?}");
    }
    let rules: Vec<&str> = dead.iter().map(|h| h["meshmart.rule"].as_str()).collect();
    assert_eq!(
        rules.iter().filter(|r| **r == "totalValue:range").count(),
        2,
        "{rules:?}"
    );
    let body = health(&app, &owner).await;
    assert_eq!(body["dlq"]["records"], 6, "{body}");
    assert_eq!(body["dlq"]["topic"], format!("{topic}.dlq"));

    // The failing samples: the owner sees them as they are, say why, and where.
    let samples = app
        .client
        .get(format!(
            "{}/api/v1/products/order-placed/samples?invalid=true&limit=10",
            app.address
        ))
        .bearer_auth(&owner)
        .send()
        .await
        .expect("request");
    assert_eq!(samples.status(), 200);
    let samples: Value = samples.json().await.expect("json");
    assert_eq!(samples["masked"], false);
    let listed = samples["samples"].as_array().expect("samples");
    assert_eq!(listed.len(), 6, "{samples}");
    let negative = listed
        .iter()
        .find(|s| s["key"] == "o-20")
        .expect("the record breaking the minimum");
    assert_eq!(negative["value"]["email"], "buyer20@example.com");
    assert_eq!(negative["failures"][0]["field"], "totalValue");

    // Someone without a subscription may not read the data; nobody signed in neither.
    let analyst = token_for(&pool, "analyst1@meshmart.local").await;
    let refused = app
        .client
        .get(format!(
            "{}/api/v1/products/order-placed/samples",
            app.address
        ))
        .bearer_auth(&analyst)
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status(), 403);
    let anonymous = app.get("/api/v1/products/order-placed/samples").await;
    assert_eq!(anonymous.status(), 401);
    // Bad parameters name themselves.
    let bad = app
        .client
        .get(format!(
            "{}/api/v1/products/order-placed/health?window=abc",
            app.address
        ))
        .bearer_auth(&owner)
        .send()
        .await
        .expect("request");
    assert_eq!(bad.status(), 400);
    let bad: Value = bad.json().await.expect("json");
    assert_eq!(bad["error"]["field"], "window", "{bad}");

    // A new contract version keeps the topic's port: what was measured stays, and checking
    // goes on under the new policy.
    let next = contract(&topic, "monitor").replace("version: 1.0.0", "version: 1.1.0");
    let (status, body) = app.put_contract(&owner, "order-placed", next).await;
    assert_eq!(status, 200, "{body}");
    // The checker asks the catalog for changes every second.
    tokio::time::sleep(Duration::from_secs(2)).await;
    produce(
        &topic,
        vec![order(schema_id, 30, 1.0), order(schema_id, 31, -1.0)],
    )
    .await;
    let body = counted(&app, &owner, 28).await;
    assert_eq!(body["events_total"], 28, "{body}");
    assert_eq!(body["invalid_by_reason"]["quality"], 3, "{body}");
    assert_eq!(body["dlq"]["policy"], "monitor", "{body}");
    assert_eq!(body["dlq"]["records"], 6, "no copy under monitor: {body}");
    app.stop().await;
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn two_servers_share_the_partitions_and_count_each_record_once(pool: PgPool) {
    let group = format!("meshmart-test-checker-{}", unique());
    let first = checking_app(&pool, &group).await;
    let topic = format!("sales.order-placed.{}", unique());
    let (owner, schema_id) = publish(&pool, &first, &topic, "monitor").await;

    produce(&topic, (0..150).map(|n| order(schema_id, n, 1.0)).collect()).await;
    assert_eq!(counted(&first, &owner, 150).await["events_total"], 150);

    // A second process joins the group: the partitions are split between the two.
    let second = checking_app(&pool, &group).await;
    wait_for_members(&group, 2).await;
    produce(
        &topic,
        (150..300).map(|n| order(schema_id, n, 1.0)).collect(),
    )
    .await;
    assert_eq!(counted(&second, &owner, 300).await["events_total"], 300);

    // The first leaves: the second takes its partitions over, and counts nothing twice.
    first.stop().await;
    produce(
        &topic,
        (300..450).map(|n| order(schema_id, n, 1.0)).collect(),
    )
    .await;
    let body = counted(&second, &owner, 450).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let settled = health(&second, &owner).await;
    assert_eq!(body["events_total"], 450, "{body}");
    assert_eq!(
        settled["events_total"], 450,
        "no record counted twice: {settled}"
    );
    assert_eq!(end_offsets(&topic).await, 450);
    let owners: i64 = sqlx::query_scalar!(
        r#"select count(*) as "count!" from checker_offsets where topic = $1"#,
        topic,
    )
    .fetch_one(&pool)
    .await
    .expect("offsets");
    assert_eq!(owners, 3, "every partition's counted offset is kept");
    second.stop().await;
}

/// Reads `count` records of `topic` as `user` (PLAIN, the demo password) in `group`,
/// commits, and leaves the group: a consumer that then stops.
async fn consume_and_stop(user: &str, group: &str, topic: &str, count: usize) {
    let (user, group, topic) = (user.to_string(), group.to_string(), topic.to_string());
    tokio::task::spawn_blocking(move || {
        let kafka = Settings::load(None).expect("settings").kafka;
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &kafka.bootstrap_servers)
            .set("security.protocol", "SASL_PLAINTEXT")
            .set("sasl.mechanisms", "PLAIN")
            .set("sasl.username", &user)
            .set("sasl.password", "meshmart")
            .set("group.id", &group)
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .create()
            .expect("consumer");
        consumer.subscribe(&[&topic]).expect("subscribe");
        let mut read = 0;
        let deadline = Instant::now() + Duration::from_secs(30);
        while read < count && Instant::now() < deadline {
            match consumer.poll(Duration::from_millis(200)) {
                Some(Ok(_)) => read += 1,
                Some(Err(error)) => panic!("consumer as {user}: {error}"),
                None => {}
            }
        }
        assert_eq!(read, count, "records read before stopping");
        consumer
            .commit_consumer_state(rdkafka::consumer::CommitMode::Sync)
            .expect("commit");
    })
    .await
    .expect("consumer thread");
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn a_stopped_consumers_lag_grows_by_what_is_produced(pool: PgPool) {
    let app = checking_app(&pool, &format!("meshmart-test-checker-{}", unique())).await;
    let topic = format!("sales.order-placed.{}", unique());
    let (owner, schema_id) = publish(&pool, &app, &topic, "monitor").await;
    let analyst = token_for(&pool, "analyst2@meshmart.local").await;
    let group = format!("analyst2.lag-{}.", unique());
    let request = app
        .client
        .post(format!("{}/api/v1/subscriptions", app.address))
        .bearer_auth(&analyst)
        .json(&serde_json::json!({"product": "order-placed", "group": group, "purpose": "lag"}))
        .send()
        .await
        .expect("request");
    assert_eq!(request.status(), 201);
    let id = request.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let approved = app
        .client
        .post(format!("{}/api/v1/subscriptions/{id}/approve", app.address))
        .bearer_auth(&owner)
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("request");
    assert_eq!(approved.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let shown: Value = app
            .client
            .get(format!("{}/api/v1/subscriptions/{id}", app.address))
            .bearer_auth(&analyst)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
        if shown["state"] == "active" {
            break;
        }
        assert!(Instant::now() < deadline, "never active: {shown}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    produce(&topic, (0..30).map(|n| order(schema_id, n, 1.0)).collect()).await;
    let consumer_group = format!("{group}reports");
    consume_and_stop("analyst2", &consumer_group, &topic, 30).await;
    // Caught up: no lag.
    let lag_of = |body: &Value| {
        body["lag"]
            .as_array()
            .and_then(|lags| lags.iter().find(|l| l["group"] == consumer_group.as_str()))
            .and_then(|l| l["messages"].as_i64())
    };
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let body = health(&app, &analyst).await;
        if lag_of(&body) == Some(0) {
            break;
        }
        assert!(Instant::now() < deadline, "lag never measured at 0: {body}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The consumer is stopped; 40 more records are produced: its lag is 40.
    produce(&topic, (30..70).map(|n| order(schema_id, n, 1.0)).collect()).await;
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let body = health(&app, &analyst).await;
        if lag_of(&body) == Some(40) {
            let lag = body["lag"]
                .as_array()
                .and_then(|lags| lags.iter().find(|l| l["group"] == consumer_group.as_str()))
                .cloned()
                .unwrap_or_default();
            assert!(lag["seconds"].as_f64() > Some(0.0), "{lag}");
            assert_eq!(lag["subscription"], id.as_str());
            break;
        }
        assert!(Instant::now() < deadline, "lag never reached 40: {body}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Another analyst does not see this subscription's lag.
    let other = token_for(&pool, "analyst1@meshmart.local").await;
    assert_eq!(health(&app, &other).await["lag"], serde_json::json!([]));
    app.stop().await;
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn protobuf_records_are_decoded_and_judged_by_their_contract(pool: PgPool) {
    let app = checking_app(&pool, &format!("meshmart-test-checker-{}", unique())).await;
    let topic = format!("sales.order-placed.{}", unique());
    let owner = token_for(&pool, "owner.sales@meshmart.local").await;
    let (status, body) = app
        .put_contract(
            &owner,
            "order-placed",
            contract(&topic, "quarantine").replace("format: json", "format: protobuf"),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let version = registry::version(&pool, &format!("{topic}-value"), VersionRef::Latest, false)
        .await
        .expect("the port's schema is registered");
    assert_eq!(version.schema_type, registry::SchemaType::Protobuf);
    assert!(
        version.schema.contains("double totalValue = 3;"),
        "{}",
        version.schema
    );
    let schema = registry::stored_schema(&pool, version.id)
        .await
        .expect("compiles");
    let id = u32::try_from(version.id).expect("id");
    let order = |n: usize, total: f64| {
        let value = serde_json::json!({
            "orderId": format!("o-{n}"), "email": format!("buyer{n}@example.com"), "totalValue": total
        });
        let bytes = domain::traffic::encode::record(id, &schema, &value).expect("encodes");
        (format!("o-{n}"), bytes)
    };
    let mut records: Vec<(String, Vec<u8>)> = (0..10).map(|n| order(n, 10.0 + n as f64)).collect();
    records.push(order(10, -5.0)); // breaks the minimum
    // Message indexes naming a third message the schema does not have.
    records.push(("far".into(), wire::frame(id, &[0x02, 0x04, 0x0a, 0x00])));
    // A field's length running past the end of the record.
    records.push(("cut".into(), wire::frame(id, &[0x00, 0x0a, 0x09, b'o'])));
    produce(&topic, records).await;

    let body = counted(&app, &owner, 13).await;
    assert_eq!(body["events_total"], 13, "{body}");
    assert_eq!(body["invalid_total"], 3, "{body}");
    assert_eq!(body["invalid_by_reason"]["quality"], 1, "{body}");
    assert_eq!(body["invalid_by_reason"]["undecodable"], 2, "{body}");
    assert_eq!(
        rule_counts(&body, "totalValue:range"),
        (Some(10), Some(1)),
        "the decoded Protobuf fields reach the quality rules"
    );
    assert_eq!(dead_letters(&topic, 3).await.len(), 3);
}
