//! Stream nodes on the real broker: a product whose contract declares a pass-through node
//! gets the node's principal and ACLs through the outbox; the node (run in-process, as
//! `meshmart node run` runs it) copies every input record to the output topic, where a
//! read_committed reader sees each exactly once with its source headers; its process shows
//! on `GET /api/v1/nodes/{name}`; an owner pauses it (an analyst may not) and the output
//! stops growing, then resumes it and the records produced meanwhile arrive.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use domain::traffic::{self, Generator, Plan};
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::{Value, json};
use server::configuration::Settings;
use sqlx::PgPool;

use crate::helpers::{TestApp, spawn_app, token_for};

const OWNER: &str = "owner.customer-management@meshmart.local";

/// Registers a copy of customer-signed-up on a topic of this test (`input`), and a product
/// whose contract declares the pass-through node `node` from it (`output`).
async fn products(pool: &PgPool, input: &str, output: &str, node: &str) {
    domain::demo::seed_parts(pool, &[domain::demo::Part::Identities], false)
        .await
        .expect("demo identities");
    let source = domain::demo::catalog::contracts()
        .into_iter()
        .find(|d| d["dataProduct"] == "customer-signed-up")
        .expect("demo contract");
    for (slug, topic, custom) in [
        (input, input.to_string(), json!([])),
        (
            output,
            output.to_string(),
            json!([
                {"property": "inputPorts", "value": [format!("customer-management.{input}.v1")]},
                {"property": "processor", "value": node},
                {"property": "nodeKind", "value": "pass-through"},
            ]),
        ),
    ] {
        let mut document = source.clone();
        document["id"] = json!(format!("{slug}-id"));
        document["dataProduct"] = json!(slug);
        document["schema"][0]["physicalName"] = json!(format!("customer-management.{topic}.v1"));
        document["customProperties"] = custom;
        let contract = domain::contracts::Contract::from_document(document).expect("maps");
        let mut conn = pool.acquire().await.expect("conn");
        domain::catalog::register(
            &mut conn,
            &domain::audit::Actor::Cli,
            &contract,
            &domain::catalog::RegisterOptions::default(),
        )
        .await
        .expect("registered");
    }
}

async fn call(app: &TestApp, method: reqwest::Method, path: &str, token: &str) -> (u16, Value) {
    let response = app
        .client
        .request(method, format!("{}/api/v1{path}", app.address))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Produces `count` sign-ups to the input product as its domain's producer would.
async fn produce(pool: &PgPool, slug: &str, count: u32) {
    let product = traffic::product(pool, slug)
        .await
        .expect("the input product");
    let broker = Settings::load(None)
        .expect("settings")
        .kafka
        .broker_config();
    let producer = broker.producer("meshmart-test-nodes").expect("producer");
    let summary = traffic::run(
        &[(product, producer)],
        &mut Generator::new(traffic::generate::Rng::os_seed(), 0.0),
        Plan {
            rate: count * 4,
            duration: Some(Duration::from_millis(250)),
            ..Plan::default()
        },
        &traffic::Faults::default(),
        std::future::pending(),
    )
    .await;
    assert_eq!(summary.products[0].delivered, u64::from(count), "{summary}");
}

/// Every committed record of `topic` now: (source partition, source offset) of each.
async fn committed(topic: &str) -> Vec<(String, String)> {
    let topic = topic.to_string();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = crate::helpers::admin_client()
            .set(
                "group.id",
                format!("meshmart-test-nodes-{}", uuid::Uuid::new_v4().simple()),
            )
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("isolation.level", "read_committed")
            .set("enable.partition.eof", "true")
            .create()
            .expect("consumer");
        consumer.subscribe(&[&topic]).expect("subscribed");
        let (mut records, mut ends) = (Vec::new(), HashSet::new());
        let deadline = Instant::now() + Duration::from_secs(20);
        while ends.len() < 3 && Instant::now() < deadline {
            match consumer.poll(Duration::from_millis(200)) {
                Some(Ok(message)) => {
                    use rdkafka::message::Headers;
                    let header = |key: &str| {
                        message
                            .headers()
                            .and_then(|h| h.iter().find(|h| h.key == key))
                            .and_then(|h| h.value)
                            .map(|v| String::from_utf8_lossy(v).to_string())
                            .unwrap_or_default()
                    };
                    records.push((
                        header("meshmart.source.partition"),
                        header("meshmart.source.offset"),
                    ));
                }
                Some(Err(rdkafka::error::KafkaError::PartitionEOF(partition))) => {
                    ends.insert(partition);
                }
                _ => {}
            }
        }
        records
    })
    .await
    .expect("reader thread")
}

/// Waits until `topic` holds `count` committed records (or 30 s pass); what it holds then.
async fn wait_for(topic: &str, count: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen = committed(topic).await.len();
        if seen >= count || Instant::now() > deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Waits until the node's only instance reports `state` (or 20 s pass); the node's view.
async fn wait_for_state(app: &TestApp, token: &str, node: &str, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, view) =
            call(app, reqwest::Method::GET, &format!("/nodes/{node}"), token).await;
        assert_eq!(status, 200, "{view}");
        if view["instances"][0]["state"] == state || Instant::now() > deadline {
            return view;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn a_declared_node_copies_each_record_once_and_its_owner_pauses_and_resumes_it(pool: PgPool) {
    let run = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
    let (input, output, node) = (
        format!("node-in-{run}"),
        format!("node-out-{run}"),
        format!("copy-{run}"),
    );
    products(&pool, &input, &output, &node).await;
    let app = spawn_app(pool.clone()).await;
    let owner = token_for(&pool, OWNER).await;
    let analyst = token_for(&pool, "analyst1@meshmart.local").await;
    let output_topic = format!("customer-management.{output}.v1");
    let input_topic = format!("customer-management.{input}.v1");

    produce(&pool, &input, 40).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let settings = Settings::load(None).expect("settings");
    let running = tokio::spawn(server::node::run_until(
        settings,
        pool.clone(),
        node.clone(),
        server::node::Options {
            instance: 0,
            transaction_every: Duration::from_millis(100),
            max_batch: 10_000,
        },
        async move {
            let _ = stopped.await;
        },
    ));

    assert_eq!(wait_for(&output_topic, 40).await, 40);
    let records = committed(&output_topic).await;
    let distinct: HashSet<_> = records.iter().collect();
    assert_eq!(distinct.len(), 40, "each input once: {records:?}");
    assert!(records.iter().all(|(p, o)| !p.is_empty() && !o.is_empty()));

    let view = wait_for_state(&app, &analyst, &node, "running").await;
    assert_eq!(view["principal"], format!("User:svc-node-{node}"));
    assert_eq!(view["input_topic"], input_topic);
    assert_eq!(view["output_topic"], output_topic);
    assert_eq!(view["group"], format!("meshmart-node-{node}"));
    assert_eq!(view["paused"], false);
    let instance = &view["instances"][0];
    assert_eq!(instance["partitions"], json!([0, 1, 2]), "{view}");

    let (status, _) = call(
        &app,
        reqwest::Method::POST,
        &format!("/nodes/{node}/pause"),
        &analyst,
    )
    .await;
    assert_eq!(status, 403, "an analyst may not pause a node");
    let (status, paused) = call(
        &app,
        reqwest::Method::POST,
        &format!("/nodes/{node}/pause"),
        &owner,
    )
    .await;
    assert_eq!(
        (status, &paused["changed"]),
        (200, &json!(true)),
        "{paused}"
    );
    wait_for_state(&app, &owner, &node, "paused").await;
    produce(&pool, &input, 20).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        committed(&output_topic).await.len(),
        40,
        "nothing is written while paused"
    );

    let (status, _) = call(
        &app,
        reqwest::Method::POST,
        &format!("/nodes/{node}/resume"),
        &owner,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        wait_for(&output_topic, 60).await,
        60,
        "the paused records arrive"
    );
    let view = wait_for_state(&app, &owner, &node, "running").await;
    assert_eq!(view["instances"][0]["records"], 60, "{view}");
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action in ('node.pause', 'node.resume')",
    )
    .fetch_one(&pool)
    .await
    .expect("audit");
    assert_eq!(audited, 2);

    let (status, _) = call(&app, reqwest::Method::GET, "/nodes/no-such-node", &analyst).await;
    assert_eq!(status, 404);
    let _ = stop.send(());
    running
        .await
        .expect("the node task ends")
        .expect("the node stops cleanly");
    let view = wait_for_state(&app, &owner, &node, "stopped").await;
    assert_eq!(view["instances"][0]["state"], "stopped");
    app.stop().await;
}
