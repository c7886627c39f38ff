//! Lineage over the API: an OpenLineage run event reading `CustomerSignedUp` adds its job
//! and both edges to the product's graph; invalid events are refused naming the JSON
//! pointer and store nothing; the impact of `CustomerSignedUp` on the demo catalog reaches
//! the enrichment node, `EnrichedCustomerSignedUp`, the marketing campaign engine and every
//! active subscriber; bad parameters are 400s naming the parameter.

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, spawn_app, token_for};

const SIGNED_UP_TOPIC: &str = "customer-management.customer-signed-up.v1";

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
) -> (u16, Value) {
    let mut request = app
        .client
        .request(method, format!("{}/api/v1{path}", app.address));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post_event(app: &TestApp, token: &str, event: &Value) -> (u16, Value) {
    call(
        app,
        reqwest::Method::POST,
        "/lineage/openlineage",
        Some(token),
        Some(event.to_string().into_bytes()),
    )
    .await
}

/// The demo people and only the `CustomerSignedUp` product.
async fn signed_up_only(pool: &PgPool) {
    domain::demo::seed_parts(pool, &[domain::demo::Part::Identities], false)
        .await
        .expect("demo identities");
    let document = domain::demo::catalog::contracts()
        .into_iter()
        .find(|d| d["dataProduct"] == "customer-signed-up")
        .expect("demo contract");
    let contract = domain::contracts::Contract::from_document(document).expect("maps");
    let mut tx = pool.begin().await.expect("tx");
    domain::catalog::register(
        &mut tx,
        &domain::audit::Actor::Cli,
        &contract,
        &domain::catalog::RegisterOptions::default(),
    )
    .await
    .expect("registered");
    tx.commit().await.expect("commit");
}

fn run_event(job: &str, output: &str) -> Value {
    json!({
        "eventType": "COMPLETE",
        "eventTime": "2026-11-26T10:00:00.000Z",
        "producer": "https://github.com/OpenLineage/OpenLineage/tree/1.24.0/integration/flink",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": "0176a8c2-fe01-7439-87e6-56a1a1b4029f"},
        "job": {"namespace": "flink-jobs", "name": job},
        "inputs": [
            {"namespace": "kafka://broker-1.internal:9092", "name": SIGNED_UP_TOPIC},
            {"namespace": "postgres://crm:5432", "name": "crm.public.customers"}
        ],
        "outputs": [{"namespace": "kafka://broker-1.internal:9092", "name": output}]
    })
}

fn node<'a>(graph: &'a Value, id: &str) -> Option<&'a Value> {
    graph["nodes"].as_array()?.iter().find(|n| n["id"] == id)
}

fn has_edge(graph: &Value, source: &str, target: &str, origin: &str) -> bool {
    graph["edges"].as_array().is_some_and(|edges| {
        edges
            .iter()
            .any(|e| e["source"] == source && e["target"] == target && e["origin"] == origin)
    })
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn a_run_event_reading_customer_signed_up_adds_its_job_and_both_edges(pool: PgPool) {
    signed_up_only(&pool).await;
    let app = spawn_app(pool.clone()).await;
    let analyst = token_for(&pool, "analyst1@meshmart.local").await;
    let output = "fraud-and-risk.signup-screened.v1";

    let event = run_event("signup-screening", output);
    let (status, body) = post_event(&app, &analyst, &event).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["processor"], "processor:flink-jobs/signup-screening");
    assert_eq!(body["edges"], 2);
    assert_eq!(
        body["ignored"],
        json!([{"namespace": "postgres://crm:5432", "name": "crm.public.customers"}])
    );
    let (status, body) = post_event(&app, &analyst, &event).await;
    assert_eq!(status, 200, "the same run again adds nothing: {body}");

    let (status, graph) = call(
        &app,
        reqwest::Method::GET,
        "/products/customer-signed-up/lineage?direction=down&depth=2",
        Some(&analyst),
        None,
    )
    .await;
    assert_eq!(status, 200, "{graph}");
    let root = node(&graph, &format!("port:{SIGNED_UP_TOPIC}")).expect("the product's port");
    assert_eq!(root["root"], true);
    assert_eq!(root["product"], "customer-signed-up");
    assert_eq!(root["domain"], "customer-management");
    let job = node(&graph, "processor:flink-jobs/signup-screening").expect("the job");
    assert_eq!(
        (&job["kind"], &job["depth"]),
        (&json!("processor"), &json!(1))
    );
    let written = node(&graph, &format!("port:{output}")).expect("the new topic");
    assert_eq!(
        (&written["kind"], &written["depth"]),
        (&json!("port"), &json!(2))
    );
    assert_eq!(written["product"], Value::Null, "no product owns it yet");
    assert!(has_edge(
        &graph,
        &format!("port:{SIGNED_UP_TOPIC}"),
        "processor:flink-jobs/signup-screening",
        "openlineage"
    ));
    assert!(has_edge(
        &graph,
        "processor:flink-jobs/signup-screening",
        &format!("port:{output}"),
        "openlineage"
    ));
    let edge = &graph["edges"][0];
    assert_eq!(edge["last_seen"], "2026-11-26T10:00:00Z");
    assert_eq!(graph["truncated"], false);

    let audited: i64 = sqlx::query_scalar!(
        r#"select count(*) as "count!" from audit_log where action = 'lineage.openlineage'"#,
    )
    .fetch_one(&pool)
    .await
    .expect("audit");
    assert_eq!(audited, 2);
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn invalid_events_are_refused_naming_the_pointer_and_store_nothing(pool: PgPool) {
    signed_up_only(&pool).await;
    let app = spawn_app(pool.clone()).await;
    let analyst = token_for(&pool, "analyst1@meshmart.local").await;

    let mut event = run_event("broken", "x.y.v1");
    event["job"].as_object_mut().expect("job").remove("name");
    event["eventType"] = json!("EXPLODED");
    let (status, body) = post_event(&app, &analyst, &event).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_event");
    let pointers: Vec<&str> = body["error"]["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter_map(|p| p["pointer"].as_str())
        .collect();
    assert!(pointers.contains(&"/job/name"), "{body}");
    assert!(pointers.contains(&"/eventType"), "{body}");

    let mut no_job = run_event("x", "x.y.v1");
    no_job.as_object_mut().expect("event").remove("job");
    let (status, body) = post_event(&app, &analyst, &no_job).await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["problems"][0]["pointer"], "/job", "{body}");

    let mut bad_topic = run_event("x", "not a topic");
    bad_topic["eventTime"] = json!("2026-11-26T10:00:00Z");
    let (status, body) = post_event(&app, &analyst, &bad_topic).await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["problems"][0]["pointer"], "/outputs/0/name");

    let (status, body) = call(
        &app,
        reqwest::Method::POST,
        "/lineage/openlineage",
        Some(&analyst),
        Some(b"{\"eventTime\": ".to_vec()),
    )
    .await;
    assert_eq!(status, 422, "not JSON: {body}");
    let mut huge = run_event("x", "x.y.v1");
    huge["run"]["facets"] = json!({"padding": {"_producer": "https://x", "_schemaURL": "https://x",
        "text": "x".repeat(domain::lineage::MAX_EVENT_BYTES)}});
    let (status, _) = post_event(&app, &analyst, &huge).await;
    assert_eq!(status, 413);
    let (status, _) = call(
        &app,
        reqwest::Method::POST,
        "/lineage/openlineage",
        None,
        Some(run_event("x", "x.y.v1").to_string().into_bytes()),
    )
    .await;
    assert_eq!(status, 401);

    let stored: i64 = sqlx::query_scalar!(
        r#"select (select count(*) from lineage_edges) + (select count(*) from lineage_nodes)
             as "stored!""#,
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(stored, 0, "nothing stored");

    for (query, field) in [
        ("direction=sideways", "direction"),
        ("depth=11", "depth"),
        ("depth=-1", "depth"),
        ("depth=two", "depth"),
    ] {
        let (status, body) = call(
            &app,
            reqwest::Method::GET,
            &format!("/products/customer-signed-up/lineage?{query}"),
            Some(&analyst),
            None,
        )
        .await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["field"], field, "{query}");
    }
    for path in ["/products/nope/lineage", "/products/nope/impact"] {
        let (status, _) = call(&app, reqwest::Method::GET, path, Some(&analyst), None).await;
        assert_eq!(status, 404, "{path}");
    }
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn impact_of_customer_signed_up_reaches_marketing_and_every_active_subscriber(pool: PgPool) {
    domain::demo::seed(&pool, false).await.expect("demo data");
    let app = spawn_app(pool.clone()).await;
    let analyst = token_for(&pool, "analyst2@meshmart.local").await;
    let owner = token_for(&pool, "owner.customer-management@meshmart.local").await;

    // One more subscriber, on the product's own port.
    let (status, body) = call(
        &app,
        reqwest::Method::POST,
        "/subscriptions",
        Some(&analyst),
        Some(
            json!({"product": "customer-signed-up", "purpose": "sign-up funnel report"})
                .to_string()
                .into_bytes(),
        ),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().expect("id").to_string();
    let (status, body) = call(
        &app,
        reqwest::Method::POST,
        &format!("/subscriptions/{id}/approve"),
        Some(&owner),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let (status, impact) = call(
        &app,
        reqwest::Method::GET,
        "/products/customer-signed-up/impact",
        Some(&analyst),
        None,
    )
    .await;
    assert_eq!(status, 200, "{impact}");
    let processors: Vec<&str> = impact["processors"]
        .as_array()
        .expect("processors")
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert!(
        processors.contains(&"processor:contract/customer-enrichment"),
        "{impact}"
    );
    let enriched = impact["products"]
        .as_array()
        .expect("products")
        .iter()
        .find(|p| p["slug"] == "enriched-customer-signed-up")
        .expect("the enriched product is downstream");
    assert_eq!(enriched["domain"], "customer-intelligence");
    assert_eq!(enriched["depth"], 2);
    assert_eq!(
        enriched["owners"],
        json!(["owner.customer-intelligence@meshmart.local"])
    );
    assert!(
        impact["products"]
            .as_array()
            .expect("products")
            .iter()
            .all(|p| p["slug"] != "customer-signed-up"),
        "not its own dependant"
    );
    let marketing = impact["consumers"]
        .as_array()
        .expect("consumers")
        .iter()
        .find(|c| c["principal"] == "User:svc-marketing-campaigns")
        .expect("the campaign engine reads enriched sign-ups");
    assert_eq!(marketing["team"], "marketing");
    assert_eq!(marketing["depth"], 3);

    let subscribers: Vec<(&str, &str)> = impact["subscriptions"]
        .as_array()
        .expect("subscriptions")
        .iter()
        .filter_map(|s| Some((s["product"].as_str()?, s["principal"].as_str()?)))
        .collect();
    assert!(
        subscribers.contains(&(
            "enriched-customer-signed-up",
            "User:svc-marketing-campaigns"
        )),
        "{impact}"
    );
    assert!(
        subscribers.contains(&("customer-signed-up", "User:analyst2")),
        "{impact}"
    );
    let live: i64 = sqlx::query_scalar!(
        r#"select count(*) as "count!" from subscriptions s
           join subscription_ports sp on sp.subscription_id = s.id
           where s.state in ('approved', 'provisioning', 'active')
             and sp.topic in ($1, 'customer-intelligence.enriched-customer-signed-up.v1')"#,
        SIGNED_UP_TOPIC,
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert!(
        subscribers.len() as i64 >= live,
        "every live subscriber of the flow is listed"
    );

    // The page's graph shows the flow out of the box.
    let (status, graph) = call(
        &app,
        reqwest::Method::GET,
        "/products/enriched-customer-signed-up/lineage",
        Some(&analyst),
        None,
    )
    .await;
    assert_eq!(status, 200, "{graph}");
    let enriched_port = "port:customer-intelligence.enriched-customer-signed-up.v1";
    assert!(has_edge(
        &graph,
        &format!("port:{SIGNED_UP_TOPIC}"),
        "processor:contract/customer-enrichment",
        "contract"
    ));
    assert!(has_edge(
        &graph,
        "processor:contract/customer-enrichment",
        enriched_port,
        "contract"
    ));
    assert!(has_edge(
        &graph,
        enriched_port,
        "consumer:User:svc-marketing-campaigns",
        "subscription"
    ));
    let job = node(&graph, "processor:contract/customer-enrichment").expect("the job");
    assert_eq!(job["root"], true, "the product's own job");
}
