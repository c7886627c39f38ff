//! The Confluent-compatible schema registry under `/registry`: Confluent's own Python
//! client against it, contract pushes registering (and being refused) through it, who may
//! write, and bad input answered in Confluent's error format without storing anything.

use std::path::PathBuf;

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, spawn_app, token_for};

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

async fn setup(pool: &PgPool) -> TestApp {
    domain::demo::seed_parts(pool, &[domain::demo::Part::Identities], false)
        .await
        .expect("demo identities");
    spawn_app(pool.clone()).await
}

/// A request to the registry as the holder of `token` (none: anonymous); status and body.
async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app
        .client
        .request(method, format!("{}/registry{path}", app.address));
    if let Some(token) = token {
        request = request.basic_auth("someone@example.com", Some(token));
    }
    if let Some(body) = body {
        request = request
            .header("content-type", CONTENT_TYPE)
            .body(body.to_string());
    }
    let response = request.send().await.expect("request reaches the server");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status != 401 {
        assert_eq!(content_type, CONTENT_TYPE, "{path}: {body}");
    }
    (status, body)
}

fn avro(fields: Value) -> Value {
    json!({
        "schemaType": "AVRO",
        "schema": json!({
            "type": "record", "name": "Order", "namespace": "sales", "fields": fields
        }).to_string(),
    })
}

/// The Python interpreter of the venv `scripts/setup.sh` installs the client into.
fn venv_python() -> PathBuf {
    let cache = std::env::var_os("MESHMART_CACHE").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/meshmart"),
        PathBuf::from,
    );
    cache.join("venv/bin/python")
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn confluents_python_client_registers_and_fetches_schemas(pool: PgPool) {
    let app = setup(&pool).await;
    let token = token_for(&pool, "admin@meshmart.local").await;
    let python = venv_python();
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup.sh (make test does) to install confluent-kafka",
        python.display()
    );
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../end2end/registry/confluent_client.py");
    let url = format!("{}/registry", app.address);
    // Off the runtime's thread: the server under test runs on it.
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&python)
            .arg(&script)
            .args(["--url", &url, "--user", "admin@meshmart.local"])
            .args(["--token", &token])
            .args(["--subject-prefix", "sales.e2e-orders.v1"])
            .output()
    })
    .await
    .expect("the child process is awaited")
    .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the Confluent client failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("all registry checks passed"), "{stdout}");
}

const CONTRACT: &str = r#"apiVersion: v3.1.0
kind: DataContract
id: sales-order-shipped
version: VERSION
status: active
name: Order Shipped
dataProduct: order shipped
domain: sales
schema:
  - name: OrderShipped
    physicalName: sales.order-shipped.v1
    properties:
      - name: orderId
        logicalType: string
        required: true
FIELDS
servers:
  - server: local
    type: kafka
    host: 127.0.0.1:19092
    format: avro
"#;

fn contract(version: &str, extra_fields: &str) -> String {
    CONTRACT
        .replace("VERSION", version)
        .replace("FIELDS\n", extra_fields)
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn a_contract_push_registers_its_schema_and_an_incompatible_one_is_refused(pool: PgPool) {
    let app = setup(&pool).await;
    let owner = token_for(&pool, "owner.sales@meshmart.local").await;
    let subject = "/subjects/sales.order-shipped.v1-value/versions";

    let (status, body) = app
        .put_contract(&owner, "order-shipped", contract("1.0.0", ""))
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, versions) = call(&app, reqwest::Method::GET, subject, Some(&owner), None).await;
    assert_eq!((status, versions), (200, json!([1])));
    let (_, latest) = call(
        &app,
        reqwest::Method::GET,
        &format!("{subject}/latest"),
        Some(&owner),
        None,
    )
    .await;
    let schema: Value = serde_json::from_str(latest["schema"].as_str().expect("schema text"))
        .expect("the schema is JSON");
    assert_eq!(schema["name"], "OrderShipped");
    assert_eq!(schema["fields"][0]["name"], "orderId");

    // A new required field has no default: old events cannot be read with it.
    let required = "      - name: carrier\n        logicalType: string\n        required: true\n";
    let (status, body) = app
        .put_contract(&owner, "order-shipped", contract("1.1.0", required))
        .await;
    assert_eq!(status, 409, "{body}");
    let problems = body["error"]["problems"].to_string();
    assert!(
        problems.contains("#/fields/carrier: field `carrier` was added without a default value"),
        "{body}"
    );
    let (_, versions) = call(&app, reqwest::Method::GET, subject, Some(&owner), None).await;
    assert_eq!(versions, json!([1]), "a refused contract registers nothing");
    let (status, _) = app
        .put_contract(&owner, "order-shipped", contract("1.0.0", ""))
        .await;
    assert_eq!(status, 200, "the published version is unchanged");

    // The same message through the registry's own compatibility check.
    let (kind, document) = {
        let parsed = domain::contracts::import(&contract("1.1.0", required)).expect("valid");
        domain::registry::schema::port_schema("meshmart.sales", &parsed.ports[0])
    };
    let request = json!({ "schema": document.to_string(), "schemaType": kind.as_str() });
    let (status, verdict) = call(
        &app,
        reqwest::Method::POST,
        "/compatibility/subjects/sales.order-shipped.v1-value/versions/latest?verbose=true",
        Some(&owner),
        Some(request),
    )
    .await;
    assert_eq!(status, 200, "{verdict}");
    assert_eq!(verdict["is_compatible"], false);
    assert!(
        verdict["messages"][0]
            .as_str()
            .is_some_and(|m| m.starts_with("#/fields/carrier: field `carrier` was added")),
        "{verdict}"
    );

    // An optional field defaults to null: compatible, so version 2.
    let optional = "      - name: carrier\n        logicalType: string\n";
    let (status, body) = app
        .put_contract(&owner, "order-shipped", contract("1.1.0", optional))
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, versions) = call(&app, reqwest::Method::GET, subject, Some(&owner), None).await;
    assert_eq!(versions, json!([1, 2]));
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn owners_write_their_products_subjects_and_everyone_signed_in_reads(pool: PgPool) {
    let app = setup(&pool).await;
    let owner = token_for(&pool, "owner.sales@meshmart.local").await;
    let (status, _) = app
        .put_contract(&owner, "order-shipped", contract("1.0.0", ""))
        .await;
    assert_eq!(status, 201);
    let path = "/subjects/sales.order-shipped.v1-value/versions";
    let v2 = avro(json!([
        {"name": "orderId", "type": "string"},
        {"name": "note", "type": "string", "default": ""}
    ]));
    let other_owner = token_for(&pool, "owner.customer-management@meshmart.local").await;
    let analyst = token_for(&pool, "analyst1@meshmart.local").await;
    for token in [&other_owner, &analyst] {
        let (status, body) = call(
            &app,
            reqwest::Method::POST,
            path,
            Some(token),
            Some(v2.clone()),
        )
        .await;
        assert_eq!(
            (status, body["error_code"].clone()),
            (403, json!(40301)),
            "{body}"
        );
        let (status, _) = call(&app, reqwest::Method::GET, path, Some(token), None).await;
        assert_eq!(status, 200);
    }
    let (status, body) = call(&app, reqwest::Method::GET, path, None, None).await;
    assert_eq!(status, 401, "{body}");
    // A subject of no product is the admins'.
    let (status, _) = call(
        &app,
        reqwest::Method::POST,
        "/subjects/free-standing/versions",
        Some(&owner),
        Some(v2.clone()),
    )
    .await;
    assert_eq!(status, 403);
    // The record is named Order, not OrderShipped: a different name is a breaking change.
    let (status, body) = call(&app, reqwest::Method::POST, path, Some(&owner), Some(v2)).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error_code"], 409);
    let renamed = json!({
        "schema": json!({
            "type": "record", "name": "OrderShipped", "namespace": "meshmart.sales",
            "fields": [
                {"name": "orderId", "type": "string"},
                {"name": "note", "type": "string", "default": ""}
            ]
        }).to_string()
    });
    let (status, body) = call(
        &app,
        reqwest::Method::POST,
        path,
        Some(&owner),
        Some(renamed),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["id"].as_i64().is_some_and(|id| id > 1), "{body}");
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn bad_input_gets_confluents_error_format_and_changes_nothing(pool: PgPool) {
    let app = setup(&pool).await;
    let admin = token_for(&pool, "admin@meshmart.local").await;
    let register = "/subjects/probe-value/versions";
    let circular = json!({
        "$ref": "#/definitions/a",
        "definitions": { "a": { "$ref": "#/definitions/b" }, "b": { "$ref": "#/definitions/a" } }
    });
    let huge = format!(
        r#"{{"type":"record","name":"Big","fields":[],"doc":"{}"}}"#,
        "x".repeat(5 * 1024 * 1024)
    );
    let cases: Vec<(&str, Value, u16, u32, &str)> = vec![
        (
            "malformed schema JSON",
            json!({ "schema": "{\"type\": \"record\",", "schemaType": "AVRO" }),
            422,
            42201,
            "not valid JSON",
        ),
        (
            "unknown schema type",
            json!({ "schema": "{}", "schemaType": "XML" }),
            422,
            42201,
            "unknown schema type `XML`",
        ),
        (
            "5 MB schema",
            json!({ "schema": huge }),
            422,
            42201,
            "the limit is 1048576",
        ),
        (
            "circular $ref",
            json!({ "schema": circular.to_string(), "schemaType": "JSON" }),
            422,
            42201,
            "$ref",
        ),
        (
            "invalid Avro",
            json!({ "schema": "{\"type\": \"record\", \"name\": \"A\"}" }),
            422,
            42201,
            "not a valid Avro schema",
        ),
        (
            "no schema field",
            json!({ "schemaType": "AVRO" }),
            422,
            42201,
            "no `schema` field",
        ),
    ];
    for (what, body, status, code, message) in cases {
        let (got, answer) = call(
            &app,
            reqwest::Method::POST,
            register,
            Some(&admin),
            Some(body),
        )
        .await;
        assert_eq!(got, status, "{what}: {answer}");
        assert_eq!(answer["error_code"], code, "{what}: {answer}");
        let text = answer["message"].as_str().unwrap_or_default();
        assert!(text.contains(message), "{what}: {text}");
    }
    // A body that is not JSON at all.
    let response = app
        .client
        .post(format!("{}/registry{register}", app.address))
        .basic_auth("admin", Some(&admin))
        .header("content-type", CONTENT_TYPE)
        .body("schema=1")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 400);
    let answer: Value = response.json().await.expect("json");
    assert_eq!(answer["error_code"], 400, "{answer}");

    let (status, subjects) =
        call(&app, reqwest::Method::GET, "/subjects", Some(&admin), None).await;
    assert_eq!((status, subjects), (200, json!([])), "nothing was stored");

    let lookups: Vec<(&str, u16, u32)> = vec![
        ("/subjects/nope/versions", 404, 40401),
        ("/subjects/nope/versions/abc", 422, 42202),
        ("/subjects/nope/versions/0", 422, 42202),
        ("/schemas/ids/999", 404, 40403),
        ("/schemas/ids/x", 404, 40403),
        ("/config/nope", 404, 40408),
        ("/no/such/path", 404, 404),
        ("/subjects?deleted=maybe", 400, 400),
    ];
    for (path, status, code) in lookups {
        let (got, answer) = call(&app, reqwest::Method::GET, path, Some(&admin), None).await;
        assert_eq!(
            (got, answer["error_code"].clone()),
            (status, json!(code)),
            "{path}: {answer}"
        );
    }
    let (status, answer) = call(
        &app,
        reqwest::Method::PUT,
        "/config",
        Some(&admin),
        Some(json!({ "compatibility": "SIDEWAYS" })),
    )
    .await;
    assert_eq!((status, answer["error_code"].clone()), (422, json!(42203)));
    let (_, config) = call(&app, reqwest::Method::GET, "/config", Some(&admin), None).await;
    assert_eq!(config, json!({ "compatibilityLevel": "BACKWARD" }));
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn identical_schemas_share_an_id_and_modes_decide_compatibility(pool: PgPool) {
    let app = setup(&pool).await;
    let admin = token_for(&pool, "admin@meshmart.local").await;
    let v1 = avro(json!([{"name": "id", "type": "string"}]));
    // Same schema, keys in another order and other whitespace.
    let v1_again = json!({
        "schema": "{ \"fields\": [ {\"type\": \"string\", \"name\": \"id\"} ], \"namespace\": \"sales\", \"name\": \"Order\", \"type\": \"record\" }"
    });
    let (_, first) = call(
        &app,
        reqwest::Method::POST,
        "/subjects/a-value/versions",
        Some(&admin),
        Some(v1),
    )
    .await;
    let (_, again) = call(
        &app,
        reqwest::Method::POST,
        "/subjects/a-value/versions",
        Some(&admin),
        Some(v1_again.clone()),
    )
    .await;
    let (_, other) = call(
        &app,
        reqwest::Method::POST,
        "/subjects/b-value/versions",
        Some(&admin),
        Some(v1_again),
    )
    .await;
    assert_eq!(first["id"], again["id"]);
    assert_eq!(
        first["id"], other["id"],
        "one global id per distinct schema"
    );
    let (_, versions) = call(
        &app,
        reqwest::Method::GET,
        "/subjects/a-value/versions",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(versions, json!([1]));

    // Dropping the only field without a default breaks FORWARD (old readers need it).
    let v2 = avro(json!([{"name": "other", "type": "string", "default": ""}]));
    let (status, _) = call(
        &app,
        reqwest::Method::PUT,
        "/config/a-value",
        Some(&admin),
        Some(json!({ "compatibility": "FORWARD" })),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = call(
        &app,
        reqwest::Method::POST,
        "/subjects/a-value/versions",
        Some(&admin),
        Some(v2.clone()),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("forward"),
        "{body}"
    );
    let (status, _) = call(
        &app,
        reqwest::Method::PUT,
        "/config/a-value",
        Some(&admin),
        Some(json!({ "compatibility": "NONE" })),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = call(
        &app,
        reqwest::Method::POST,
        "/subjects/a-value/versions",
        Some(&admin),
        Some(v2),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, versions) = call(
        &app,
        reqwest::Method::GET,
        "/schemas/ids/1/versions",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(
        versions,
        json!([{"subject": "a-value", "version": 1}, {"subject": "b-value", "version": 1}])
    );
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn a_proposed_breaking_schema_names_the_subscriptions_it_breaks(pool: PgPool) {
    let app = setup(&pool).await;
    let owner = token_for(&pool, "owner.sales@meshmart.local").await;
    let (status, _) = app
        .put_contract(&owner, "order-shipped", contract("1.0.0", ""))
        .await;
    assert_eq!(status, 201);
    // Two live subscriptions and one revoked one read the topic.
    for (principal, state) in [
        ("User:analyst1", "active"),
        ("User:svc-fulfilment", "provisioning"),
        ("User:analyst2", "revoked"),
    ] {
        sqlx::query!(
            r#"with s as (
                 insert into subscriptions (product_id, principal, requested_by, consumer_group, purpose, state)
                 select p.id, $1, u.id, 'g', 'reporting', $2
                 from products p, users u
                 where p.slug = 'order-shipped' and u.email = 'analyst1@meshmart.local'
                 returning id)
               insert into subscription_ports (subscription_id, topic)
               select id, 'sales.order-shipped.v1' from s"#,
            principal,
            state,
        )
        .execute(&pool)
        .await
        .expect("subscription");
    }
    let breaking = domain::registry::ParsedSchema::parse(
        domain::registry::SchemaType::Avro,
        r#"{"type":"record","name":"OrderShipped","namespace":"meshmart.sales","fields":[{"name":"orderId","type":"long"}]}"#,
    )
    .expect("valid");
    let proposal = domain::registry::view::propose(
        &pool,
        "sales.order-shipped.v1-value",
        "sales.order-shipped.v1",
        &breaking,
    )
    .await
    .expect("proposal");
    assert!(!proposal.diff.compatible);
    assert_eq!(proposal.version, Some(2));
    assert!(
        proposal.diff.breaking[0].starts_with("#/fields/orderId: type changed"),
        "{:?}",
        proposal.diff.breaking
    );
    let principals: Vec<&str> = proposal
        .consumers_at_risk
        .iter()
        .map(|c| c.principal.as_str())
        .collect();
    assert_eq!(principals, vec!["User:analyst1", "User:svc-fulfilment"]);
    assert_eq!(proposal.diff.fields.len(), 1);
    assert_eq!(proposal.diff.fields[0].change, "changed");
}

/// A registry call as the admin: status and body.
async fn admin_call(
    app: &TestApp,
    admin: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    call(app, method, path, Some(admin), body).await
}

fn address(extra: Value) -> Value {
    let mut fields = vec![json!({"name": "city", "type": "string"})];
    if !extra.is_null() {
        fields.push(extra);
    }
    json!({
        "schema": json!({
            "type": "record", "name": "Address", "namespace": "shared", "fields": fields
        }).to_string(),
    })
}

/// An order that uses `shared.Address` from version `version` of the `shared.Address`
/// subject.
fn order_using_address(version: i32) -> Value {
    json!({
        "schema": json!({"type": "record", "name": "Order", "namespace": "sales", "fields": [
            {"name": "id", "type": "string"},
            {"name": "shipTo", "type": "shared.Address"}
        ]}).to_string(),
        "references": [{"name": "shared.Address", "subject": "shared.Address", "version": version}],
    })
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn an_avro_subject_references_another_subjects_named_type(pool: PgPool) {
    use reqwest::Method;
    let app = setup(&pool).await;
    let admin = token_for(&pool, "admin@meshmart.local").await;
    let orders = "/subjects/sales.orders-value/versions";
    let (status, address_v1) = admin_call(
        &app,
        &admin,
        Method::POST,
        "/subjects/shared.Address/versions",
        Some(address(Value::Null)),
    )
    .await;
    assert_eq!(status, 200, "{address_v1}");

    // The referencing schema registers, and reads back with its references.
    let (status, order_v1) = admin_call(
        &app,
        &admin,
        Method::POST,
        orders,
        Some(order_using_address(1)),
    )
    .await;
    assert_eq!(status, 200, "{order_v1}");
    let reference = json!([{"name": "shared.Address", "subject": "shared.Address", "version": 1}]);
    let (_, fetched) = admin_call(&app, &admin, Method::GET, &format!("{orders}/1"), None).await;
    assert_eq!(fetched["references"], reference, "{fetched}");
    let (_, by_id) = admin_call(
        &app,
        &admin,
        Method::GET,
        &format!("/schemas/ids/{}", order_v1["id"]),
        None,
    )
    .await;
    assert_eq!(by_id["references"], reference, "{by_id}");
    // Registered again (the latest version given as -1): the same id; looked up: version 1.
    let mut latest = order_using_address(1);
    latest["references"][0]["version"] = json!(-1);
    let (_, again) = admin_call(&app, &admin, Method::POST, orders, Some(latest.clone())).await;
    assert_eq!(again["id"], order_v1["id"]);
    let (status, found) = admin_call(
        &app,
        &admin,
        Method::POST,
        "/subjects/sales.orders-value",
        Some(latest),
    )
    .await;
    assert_eq!((status, &found["version"]), (200, &json!(1)), "{found}");
    // Without its reference the type it uses is unknown.
    let mut bare = order_using_address(1);
    bare.as_object_mut().expect("object").remove("references");
    let (status, error) = admin_call(&app, &admin, Method::POST, orders, Some(bare)).await;
    assert_eq!(
        (status, &error["error_code"]),
        (422, &json!(42201)),
        "{error}"
    );

    // Who references Address v1: by subject version and by schema id.
    for path in [
        "/subjects/shared.Address/versions/1/referencedby".to_string(),
        format!("/schemas/ids/{}/referencedby", address_v1["id"]),
    ] {
        let (status, ids) = admin_call(&app, &admin, Method::GET, &path, None).await;
        assert_eq!((status, ids), (200, json!([order_v1["id"]])), "{path}");
    }

    // Address evolves compatibly (a field with a default); the order follows it.
    let (status, _) = admin_call(
        &app,
        &admin,
        Method::POST,
        "/subjects/shared.Address/versions",
        Some(address(
            json!({"name": "country", "type": "string", "default": "NL"}),
        )),
    )
    .await;
    assert_eq!(status, 200);
    let (status, order_v2) = admin_call(
        &app,
        &admin,
        Method::POST,
        orders,
        Some(order_using_address(2)),
    )
    .await;
    assert_eq!(status, 200, "{order_v2}");
    assert_ne!(order_v2["id"], order_v1["id"]);

    // Address v3 adds a field without a default (its own subject allows anything): an
    // order using it cannot read orders written with v2 — seen only through the reference.
    let (status, _) = admin_call(
        &app,
        &admin,
        Method::PUT,
        "/config/shared.Address",
        Some(json!({"compatibility": "NONE"})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = admin_call(
        &app,
        &admin,
        Method::POST,
        "/subjects/shared.Address/versions",
        Some(address(json!({"name": "zip", "type": "string"}))),
    )
    .await;
    assert_eq!(status, 200);
    let (status, verdict) = admin_call(
        &app,
        &admin,
        Method::POST,
        "/compatibility/subjects/sales.orders-value/versions/latest?verbose=true",
        Some(order_using_address(3)),
    )
    .await;
    assert_eq!(status, 200, "{verdict}");
    assert_eq!(verdict["is_compatible"], false, "{verdict}");
    assert!(verdict["messages"].to_string().contains("zip"), "{verdict}");
    let (status, refused) = admin_call(
        &app,
        &admin,
        Method::POST,
        orders,
        Some(order_using_address(3)),
    )
    .await;
    assert_eq!(
        (status, &refused["error_code"]),
        (409, &json!(409)),
        "{refused}"
    );
    assert!(
        refused["message"].as_str().unwrap_or("").contains("zip"),
        "{refused}"
    );

    // A referenced version is not deleted, softly or with its subject (Confluent's 42206).
    for path in [
        "/subjects/shared.Address/versions/1",
        "/subjects/shared.Address",
    ] {
        let (status, error) = admin_call(&app, &admin, Method::DELETE, path, None).await;
        assert_eq!(
            (status, &error["error_code"]),
            (422, &json!(42206)),
            "{path}: {error}"
        );
        assert!(
            error["message"]
                .as_str()
                .unwrap_or("")
                .contains("version=1"),
            "{error}"
        );
    }
    // v3 is referenced by nothing registered, so it may go.
    let (status, _) = admin_call(
        &app,
        &admin,
        Method::DELETE,
        "/subjects/shared.Address/versions/3",
        None,
    )
    .await;
    assert_eq!(status, 200);

    // Bad references are named and change nothing.
    let cases = [
        (json!(9), "subject 'shared.Address' has no live version 9"),
        (json!(0), "references/0/version"),
        (json!(3), "no live version 3"),
    ];
    for (version, expected) in cases {
        let mut body = order_using_address(1);
        body["references"][0]["version"] = version;
        let (status, error) = admin_call(&app, &admin, Method::POST, orders, Some(body)).await;
        assert_eq!(
            (status, &error["error_code"]),
            (422, &json!(42201)),
            "{error}"
        );
        assert!(
            error["message"].as_str().unwrap_or("").contains(expected),
            "{expected}: {error}"
        );
    }
    let (_, versions) = admin_call(&app, &admin, Method::GET, orders, None).await;
    assert_eq!(versions, json!([1, 2]));
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn a_json_schema_refers_to_another_subjects_schema_by_name(pool: PgPool) {
    use reqwest::Method;
    let app = setup(&pool).await;
    let admin = token_for(&pool, "admin@meshmart.local").await;
    let address = |street: &str| {
        json!({
            "schemaType": "JSON",
            "schema": json!({
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "properties": {"street": {"type": street}},
                "additionalProperties": false
            }).to_string(),
        })
    };
    let customer = |version: i32| {
        json!({
            "schemaType": "JSON",
            "schema": json!({
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "properties": {"name": {"type": "string"}, "home": {"$ref": "address.json"}},
                "additionalProperties": false
            }).to_string(),
            "references": [{"name": "address.json", "subject": "shared-address", "version": version}],
        })
    };
    let (status, _) = admin_call(
        &app,
        &admin,
        Method::PUT,
        "/config/shared-address",
        Some(json!({"compatibility": "NONE"})),
    )
    .await;
    assert_eq!(status, 200);
    for street in ["string", "integer"] {
        let (status, body) = admin_call(
            &app,
            &admin,
            Method::POST,
            "/subjects/shared-address/versions",
            Some(address(street)),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let customers = "/subjects/crm.customers-value/versions";
    let (status, body) = admin_call(&app, &admin, Method::POST, customers, Some(customer(1))).await;
    assert_eq!(status, 200, "{body}");
    let (_, fetched) = admin_call(
        &app,
        &admin,
        Method::GET,
        &format!("{customers}/latest"),
        None,
    )
    .await;
    assert_eq!(fetched["schemaType"], "JSON");
    assert_eq!(fetched["references"][0]["name"], "address.json");
    // The referenced street turned from string to integer: breaking through the `$ref`.
    let (status, refused) =
        admin_call(&app, &admin, Method::POST, customers, Some(customer(2))).await;
    assert_eq!(status, 409, "{refused}");
    assert!(
        refused["message"].as_str().unwrap_or("").contains("street"),
        "{refused}"
    );
    // A `$ref` to a name no reference gives does not resolve.
    let mut unnamed = customer(1);
    unnamed["references"][0]["name"] = json!("other.json");
    let (status, error) = admin_call(&app, &admin, Method::POST, customers, Some(unnamed)).await;
    assert_eq!(
        (status, &error["error_code"]),
        (422, &json!(42201)),
        "{error}"
    );
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn a_chain_of_references_deeper_than_the_limit_is_refused(pool: PgPool) {
    use reqwest::Method;
    let app = setup(&pool).await;
    let admin = token_for(&pool, "admin@meshmart.local").await;
    let depth = domain::registry::references::MAX_REFERENCE_DEPTH as i32;
    // Link i holds link i-1: registering link i reaches i schemas through references.
    for i in 0..=depth + 1 {
        let mut fields = vec![json!({"name": "n", "type": "int"})];
        let mut body = json!({});
        if i > 0 {
            fields.push(json!({"name": "inner", "type": format!("chain.Link{}", i - 1)}));
            body["references"] = json!([{
                "name": format!("chain.Link{}", i - 1),
                "subject": format!("link-{}", i - 1),
                "version": 1
            }]);
        }
        body["schema"] = json!(
            json!({"type": "record", "name": format!("Link{i}"), "namespace": "chain", "fields": fields})
                .to_string()
        );
        let (status, answer) = admin_call(
            &app,
            &admin,
            Method::POST,
            &format!("/subjects/link-{i}/versions"),
            Some(body),
        )
        .await;
        if i <= depth {
            assert_eq!(status, 200, "link {i}: {answer}");
        } else {
            assert_eq!(
                (status, &answer["error_code"]),
                (422, &json!(42201)),
                "{answer}"
            );
            assert!(
                answer["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains(&format!("references nest deeper than {depth} levels")),
                "{answer}"
            );
        }
    }
    let (status, _) = admin_call(
        &app,
        &admin,
        Method::GET,
        &format!("/subjects/link-{}/versions", depth + 1),
        None,
    )
    .await;
    assert_eq!(status, 404, "nothing was registered");
}
