//! Stream nodes on the real broker: a product whose contract declares a pass-through node
//! gets the node's principal and ACLs through the outbox; the node (run in-process, as
//! `meshmart node run` runs it) copies every input record to the output topic, where a
//! read_committed reader sees each exactly once with its source headers; its process shows
//! on `GET /api/v1/nodes/{name}`; an owner pauses it (an analyst may not) and the output
//! stops growing, then resumes it and the records produced meanwhile arrive.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use domain::traffic::{self, Generator, Plan};
use serde_json::{Value, json};
use server::configuration::Settings;
use sqlx::PgPool;

use crate::helpers::{TestApp, spawn_app, token_for};

const OWNER: &str = "owner.customer-management@meshmart.local";

/// Registers a copy of customer-signed-up on a topic of this test (`input`), and a product
/// whose contract declares the pass-through node `node` from it (`output`).
async fn products(pool: &PgPool, input: &str, output: &str, node: &str) {
    products_of_kind(
        pool,
        input,
        output,
        node,
        "pass-through",
        "customer-signed-up",
    )
    .await;
}

/// The demo contract of `slug`.
fn demo_contract(slug: &str) -> Value {
    domain::demo::catalog::contracts()
        .into_iter()
        .find(|d| d["dataProduct"] == slug)
        .expect("demo contract")
}

/// As [`products`], with a node of `kind` whose output is a copy of the demo product
/// `output_like`.
async fn products_of_kind(
    pool: &PgPool,
    input: &str,
    output: &str,
    node: &str,
    kind: &str,
    output_like: &str,
) {
    domain::demo::seed_parts(pool, &[domain::demo::Part::Identities], false)
        .await
        .expect("demo identities");
    for (slug, topic, custom, like) in [
        (input, input.to_string(), json!([]), "customer-signed-up"),
        (
            output,
            output.to_string(),
            json!([
                {"property": "inputPorts", "value": [format!("customer-management.{input}.v1")]},
                {"property": "processor", "value": node},
                {"property": "nodeKind", "value": kind},
            ]),
            output_like,
        ),
    ] {
        let mut document = demo_contract(like);
        document["domain"] = json!("customer-management");
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

/// A pool of its own on the test's database, as a node process has (it does not share the
/// server's connections).
fn own_pool(pool: &PgPool) -> PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect_lazy_with((*pool.connect_options()).clone())
}

/// Runs the node in-process as `meshmart node run` would (instance 0, a transaction every
/// 100 ms) until the returned sender is used or dropped.
fn start_node(
    pool: &PgPool,
    node: &str,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server::node::run_until(
        Settings::load(None).expect("settings"),
        own_pool(pool),
        node.to_owned(),
        server::node::Options {
            instance: 0,
            transaction_every: Duration::from_millis(100),
            max_batch: 10_000,
        },
        async move {
            let _ = stopped.await;
        },
    ));
    (stop, running)
}

/// Posts an order (`pause`, `resume`, `restart`) for `node` as `token`'s holder.
async fn order(app: &TestApp, node: &str, action: &str, token: &str) -> (u16, Value) {
    call(
        app,
        reqwest::Method::POST,
        &format!("/nodes/{node}/{action}"),
        token,
    )
    .await
}

/// `GET /api/v1/products/{slug}`.
async fn product(app: &TestApp, slug: &str, token: &str) -> (u16, Value) {
    let path = format!("/products/{slug}");
    call(app, reqwest::Method::GET, &path, token).await
}

async fn call(app: &TestApp, method: reqwest::Method, path: &str, token: &str) -> (u16, Value) {
    app.call(method, &format!("/api/v1{path}"), token).await
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
    committed_records(topic)
        .await
        .into_iter()
        .map(|(headers, _)| {
            let header = |key: &str| headers.get(key).cloned().unwrap_or_default();
            (
                header("meshmart.source.partition"),
                header("meshmart.source.offset"),
            )
        })
        .collect()
}

/// Every committed record of `topic` now: its headers and its value.
async fn committed_records(topic: &str) -> Vec<(HashMap<String, String>, Vec<u8>)> {
    crate::helpers::committed(topic)
        .await
        .into_iter()
        .map(|record| (record.headers, record.value))
        .collect()
}

/// Waits until `topic` holds `count` committed records (or 60 s pass); what it holds then.
async fn wait_for(topic: &str, count: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
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
    wait_for_view(app, token, node, |instance| instance["state"] == state).await
}

/// Waits until the node's first instance satisfies `done` (or 90 s pass, on a machine busy
/// with the whole suite); the node's view.
async fn wait_for_view(
    app: &TestApp,
    token: &str,
    node: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (status, view) =
            call(app, reqwest::Method::GET, &format!("/nodes/{node}"), token).await;
        assert_eq!(status, 200, "{view}");
        if done(&view["instances"][0]) || Instant::now() > deadline {
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
    let (stop, running) = start_node(&pool, &node);

    assert_eq!(wait_for(&output_topic, 40).await, 40);
    let records = committed(&output_topic).await;
    let distinct: HashSet<_> = records.iter().collect();
    assert_eq!(distinct.len(), 40, "each input once: {records:?}");
    assert!(records.iter().all(|(p, o)| !p.is_empty() && !o.is_empty()));

    wait_for_state(&app, &analyst, &node, "running").await;
    // The next heartbeat reports the partitions the group gave the process.
    let view = wait_for_view(&app, &analyst, &node, |instance| instance["records"] == 40).await;
    assert_eq!(view["principal"], format!("User:svc-node-{node}"));
    assert_eq!(view["input_topic"], input_topic);
    assert_eq!(view["output_topic"], output_topic);
    assert_eq!(view["group"], format!("meshmart-node-{node}"));
    assert_eq!(view["paused"], false);
    let instance = &view["instances"][0];
    assert_eq!(instance["partitions"], json!([0, 1, 2]), "{view}");
    // The product says which node computes it, and its domain's name.
    let (status, detail) = product(&app, &output, &analyst).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(
        detail["computed_by"],
        json!({ "node": node, "kind": "pass-through" }),
        "{detail}"
    );
    assert_eq!(detail["domain_name"], "Customer Management", "{detail}");
    let (_, input_detail) = product(&app, &input, &analyst).await;
    assert_eq!(input_detail["computed_by"], Value::Null, "{input_detail}");

    let (status, _) = order(&app, &node, "pause", &analyst).await;
    assert_eq!(status, 403, "an analyst may not pause a node");
    let (status, paused) = order(&app, &node, "pause", &owner).await;
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

    let (status, _) = order(&app, &node, "resume", &owner).await;
    assert_eq!(status, 200);
    assert_eq!(
        wait_for(&output_topic, 60).await,
        60,
        "the paused records arrive"
    );
    let view = wait_for_state(&app, &owner, &node, "running").await;
    assert_eq!(view["instances"][0]["records"], 60, "{view}");
    let audited: i64 = sqlx::query_scalar!(
        r#"select count(*) as "count!" from audit_log where action in ('node.pause', 'node.resume')"#,
    )
    .fetch_one(&pool)
    .await
    .expect("audit");
    assert_eq!(audited, 2);

    // The node's runs are observed lineage of its processor (OpenLineage START events).
    let observed: Vec<String> = sqlx::query_scalar!(
        "select target from lineage_edges where origin = 'openlineage' and source = $1",
        format!("processor:contract/{node}"),
    )
    .fetch_all(&pool)
    .await
    .expect("lineage");
    assert_eq!(observed, vec![format!("port:{output_topic}")]);

    // Restart: the process starts again in place (new clients, state rebuilt from the
    // committed input) and goes on exactly once.
    let before = view["instances"][0]["started_at"].clone();
    let (status, _) = order(&app, &node, "restart", &analyst).await;
    assert_eq!(status, 403, "an analyst may not restart a node");
    let (status, restarted) = order(&app, &node, "restart", &owner).await;
    assert_eq!(
        (status, &restarted["restart_generation"]),
        (200, &json!(1)),
        "{restarted}"
    );
    // Restarted, and back on its partitions (the first heartbeat of a run goes out before
    // the group has assigned them).
    let view = wait_for_view(&app, &owner, &node, |instance| {
        instance["started_at"] != before
            && instance["state"] == "running"
            && instance["partitions"] == json!([0, 1, 2])
    })
    .await;
    assert_eq!(
        view["instances"][0]["partitions"],
        json!([0, 1, 2]),
        "{view}"
    );
    assert_ne!(
        view["instances"][0]["started_at"], before,
        "no restart: {view}"
    );
    produce(&pool, &input, 10).await;
    assert_eq!(
        wait_for(&output_topic, 70).await,
        70,
        "exactly once across the restart"
    );
    let restarts: i64 = sqlx::query_scalar!(
        r#"select count(*) as "count!" from audit_log where action = 'node.restart'"#,
    )
    .fetch_one(&pool)
    .await
    .expect("audit");
    assert_eq!(restarts, 1);
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

/// The seed's enrichment on the real broker: sign-ups in, each out once with where its IP
/// address is, its e-mail domain and a risk score stamped with the model's version; a
/// sign-up whose address is no IP address goes to the node's dead-letter topic with its
/// reason, and the node carries on.
#[sqlx::test(migrations = "../migrations")]
async fn an_enrichment_node_locates_and_scores_each_signup_and_dead_letters_a_bad_address(
    pool: PgPool,
) {
    let run = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
    let (input, output, node) = (
        format!("enrich-in-{run}"),
        format!("enrich-out-{run}"),
        format!("enrich-{run}"),
    );
    products_of_kind(
        &pool,
        &input,
        &output,
        &node,
        "customer-enrichment",
        "enriched-customer-signed-up",
    )
    .await;
    // The server's outbox creates the topics and the principals' credentials and ACLs.
    let app = spawn_app(pool.clone()).await;
    let output_topic = format!("customer-management.{output}.v1");
    let input_topic = format!("customer-management.{input}.v1");
    produce(&pool, &input, 30).await;
    // One sign-up whose address is not an address, encoded as the producer would.
    let product = traffic::product(&pool, &input)
        .await
        .expect("input product");
    let bad = product
        .encode(&json!({
            "eventId": "7f1c1d36-6d7e-4b53-9d5e-3c1b2f3a4b5c",
            "occurredAt": "2026-12-04T20:00:00.000Z",
            "customerID": "c-bad-address",
            "signupTimestamp": "2026-12-04T20:00:00.000Z",
            "sourceChannel": "web",
            "ipAddress": "999.12.1.300",
            "email": "someone@gmail.com",
        }))
        .expect("encodes");
    let producer: rdkafka::producer::FutureProducer =
        crate::helpers::admin_client().create().expect("producer");
    producer
        .send(
            rdkafka::producer::FutureRecord::to(&input_topic)
                .key("c-bad-address")
                .payload(&bad),
            Duration::from_secs(10),
        )
        .await
        .expect("delivered");
    produce(&pool, &input, 10).await;

    let (stop, running) = start_node(&pool, &node);
    let written = wait_for(&output_topic, 40).await;
    if running.is_finished() {
        panic!("the node stopped: {:?}", running.await);
    }
    assert_eq!(written, 40);
    let model = domain::nodes::risk::RiskModel::builtin();
    let records = committed_records(&output_topic).await;
    let mut located = 0;
    for (_, value) in &records {
        assert_eq!(value[0], 0, "Confluent wire format");
        let record: Value = serde_json::from_slice(&value[5..]).expect("JSON");
        let score = record["signupRiskScore"].as_f64().expect("a score");
        assert!((0.0..=1.0).contains(&score), "{record}");
        assert_eq!(record["riskModelVersion"], json!(model.version));
        assert!(
            record.get("email").is_none(),
            "the address itself is not copied"
        );
        match record["geolocationStatus"].as_str() {
            Some("located") => {
                located += 1;
                let geolocation = &record["geolocation"];
                assert!(geolocation["country"].is_string(), "{record}");
                // Every generated address is in an announced network, hosting or not.
                assert!(
                    geolocation["asn"].as_u64().is_some_and(|asn| asn > 0),
                    "{record}"
                );
                assert!(geolocation["asnOrganization"].is_string(), "{record}");
                assert!(
                    matches!(geolocation["asnType"].as_str(), Some("hosting" | "isp")),
                    "{record}"
                );
            }
            Some("no-address") => {
                assert_eq!(record["sourceChannel"], "store", "{record}");
                assert!(record.get("geolocation").is_none());
            }
            other => panic!("unexpected status {other:?}: {record}"),
        }
    }
    assert!(
        located >= 30,
        "generated addresses are in the database: {located}"
    );
    let dead = wait_for(&format!("{input_topic}.{node}.dlq"), 1).await;
    assert_eq!(dead, 1);
    let letters = committed_records(&format!("{input_topic}.{node}.dlq")).await;
    let (headers, payload) = &letters[0];
    assert_eq!(headers["meshmart.reason"], "unparseable-ip");
    assert!(
        headers["meshmart.message"].contains("999.12.1.300"),
        "{headers:?}"
    );
    assert_eq!(
        payload, &bad,
        "the dead letter is the input record as it was"
    );
    let _ = stop.send(());
    running
        .await
        .expect("the node task ends")
        .expect("the node stops cleanly");
    app.stop().await;
}

/// Reroute on the real broker: the output topic stops taking writes (its size limit drops
/// below a record's, as `meshmart chaos node-output-unwritable` does); the node keeps
/// reading and parks its output on its detour topic, says so on its page, and once the
/// output takes writes again drains the detour to it in order, every record once.
#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn a_node_parks_its_output_on_the_detour_while_the_output_refuses_writes_and_drains_it_in_order(
    pool: PgPool,
) {
    let run = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
    let (input, output, node) = (
        format!("node-in-{run}"),
        format!("node-out-{run}"),
        format!("detour-{run}"),
    );
    products(&pool, &input, &output, &node).await;
    let app = spawn_app(pool.clone()).await;
    let owner = token_for(&pool, OWNER).await;
    let output_topic = format!("customer-management.{output}.v1");
    let detour_topic = format!("meshmart-node-{node}-detour");

    produce(&pool, &input, 20).await;
    let (stop, running) = start_node(&pool, &node);
    let broker = Settings::load(None)
        .expect("settings")
        .kafka
        .broker_config();
    assert_eq!(wait_for(&output_topic, 20).await, 20);

    let admin = server::chaos::inject::Admin::new(&broker).expect("admin");
    let undo = admin
        .make_unwritable(&output_topic)
        .await
        .expect("the output refuses writes");
    produce(&pool, &input, 30).await;
    let view = wait_for_view(&app, &owner, &node, |instance| {
        !instance["rerouted_since"].is_null()
    })
    .await;
    assert!(
        !view["instances"][0]["rerouted_since"].is_null(),
        "the node reports its reroute: {view}"
    );
    assert_eq!(view["detour_topic"], detour_topic);
    assert_eq!(
        wait_for(&detour_topic, 30).await,
        30,
        "what the output refused is parked"
    );
    let error = view["instances"][0]["last_error"]
        .as_str()
        .unwrap_or_default();
    assert!(
        error.contains("refused a write") && error.contains(&detour_topic),
        "the node says what happened: {error}"
    );
    assert_eq!(
        domain::incidents::classify::classify(error),
        Some(domain::incidents::Cause::NodeOutputUnwritable)
    );
    assert_eq!(committed(&output_topic).await.len(), 20, "{view}");

    admin.undo(&undo).await.expect("the output takes writes");
    assert_eq!(
        wait_for(&output_topic, 50).await,
        50,
        "the detour drains to the output"
    );
    let records = crate::helpers::committed(&output_topic).await;
    let sources: HashSet<(String, String)> = records
        .iter()
        .map(|r| {
            (
                r.headers["meshmart.source.partition"].clone(),
                r.headers["meshmart.source.offset"].clone(),
            )
        })
        .collect();
    assert_eq!(sources.len(), 50, "each input once");
    // In each output partition, the records of one input partition keep the input's order.
    let mut last: HashMap<(i32, String), i64> = HashMap::new();
    for record in &records {
        let source = record.headers["meshmart.source.partition"].clone();
        let offset: i64 = record.headers["meshmart.source.offset"]
            .parse()
            .expect("offset");
        if let Some(before) = last.insert((record.partition, source), offset) {
            assert!(before < offset, "out of order: {before} then {offset}");
        }
    }
    let view = wait_for_view(&app, &owner, &node, |instance| {
        instance["rerouted_since"].is_null()
    })
    .await;
    assert!(
        view["instances"][0]["rerouted_since"].is_null(),
        "the output is written directly again: {view}"
    );
    produce(&pool, &input, 5).await;
    assert_eq!(wait_for(&output_topic, 55).await, 55);
    assert_eq!(
        committed(&detour_topic).await.len(),
        30,
        "nothing parked once the output heals"
    );
    let _ = stop.send(());
    running
        .await
        .expect("the node task ends")
        .expect("the node stops cleanly");
    app.stop().await;
}
