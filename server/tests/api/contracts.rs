//! Publishing ODCS contracts over the API: registration, export, version rules, topic
//! creation on the real broker, and bad input that must store nothing.

use std::time::Duration;

use sqlx::PgPool;

use crate::helpers::{TestApp, spawn_app, token_for};

const ORDER_PLACED: &str = r#"apiVersion: v3.1.0
kind: DataContract
id: sales-order-placed
version: 1.0.0
status: active
name: Order Placed
dataProduct: order placed
domain: sales
description:
  purpose: Every order a customer places, as it is placed.
tags: [orders, sales]
schema:
  - name: OrderPlaced
    physicalName: sales.order-placed.v1
    physicalType: topic
    description: One event per placed order
    properties:
      - name: orderId
        logicalType: string
        required: true
        description: Order identifier
      - name: totalValue
        logicalType: number
        required: true
        examples: [42.5]
slaProperties:
  - property: latency
    value: 5
    unit: s
  - property: retention
    value: 7
    unit: d
servers:
  - server: local
    type: kafka
    host: 127.0.0.1:19092
    format: avro
"#;

async fn setup(pool: &PgPool) -> (TestApp, String) {
    domain::demo::seed_parts(pool, &[domain::demo::Part::Identities], false)
        .await
        .expect("demo");
    let app = spawn_app(pool.clone()).await;
    let token = token_for(pool, "owner.sales@meshmart.local").await;
    (app, token)
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn an_owner_publishes_a_contract_and_its_topic_appears_on_the_broker(pool: PgPool) {
    let (app, token) = setup(&pool).await;
    let topic = format!("sales.order-placed.{}", uuid_suffix());
    let contract = ORDER_PLACED.replace("sales.order-placed.v1", &topic);
    let (status, body) = app
        .put_contract(&token, "order-placed", contract.clone())
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["outcome"], "created");
    let product = &body["product"];
    assert_eq!(product["domain"], "sales");
    assert_eq!(product["ports"][0]["topic"], topic.as_str());
    assert_eq!(product["ports"][0]["format"], "avro");
    assert_eq!(product["slas"][0]["property"], "latency");
    assert_eq!(product["ports"][0]["fields"][1]["name"], "totalValue");

    // The YAML comes back and re-imports to the same product.
    let yaml = app
        .client
        .get(format!(
            "{}/api/v1/products/order-placed/contract",
            app.address
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    let original = domain::contracts::import(&contract).expect("original");
    let again = domain::contracts::import(&yaml).expect("exported YAML imports");
    assert_eq!(original, again);

    // The outbox worker creates the topic on the real broker.
    let settings = server::configuration::Settings::load(None).expect("settings");
    let broker = domain::broker::BrokerAdmin::new(&settings.kafka.broker_config()).expect("broker");
    let mut exists = false;
    for _ in 0..40 {
        if broker
            .topic_exists(&topic, Duration::from_secs(2))
            .await
            .unwrap_or(false)
        {
            exists = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(exists, "topic {topic} was created on the broker");
    let audit = domain::audit::search(
        &pool,
        &domain::audit::Filter {
            action: Some("product.register".into()),
            ..Default::default()
        },
    )
    .await
    .expect("audit");
    assert_eq!(audit.len(), 1);
}

fn uuid_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_string()
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn versions_only_go_up_and_published_ones_never_change(pool: PgPool) {
    let (app, token) = setup(&pool).await;
    let topic = format!("sales.orders.{}", uuid_suffix());
    let v1 = ORDER_PLACED.replace("sales.order-placed.v1", &topic);
    assert_eq!(
        app.put_contract(&token, "order-placed", v1.clone()).await.0,
        201
    );
    let (status, body) = app.put_contract(&token, "order-placed", v1.clone()).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("unchanged")),
        "{body}"
    );

    let changed = v1.replace("Every order a customer places", "Orders");
    let (status, body) = app
        .put_contract(&token, "order-placed", changed.clone())
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("already published"),
        "{body}"
    );

    let lower = changed.replace("version: 1.0.0", "version: 0.9.0");
    let (status, body) = app.put_contract(&token, "order-placed", lower).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("lower than"),
        "{body}"
    );

    let v2 = changed.replace("version: 1.0.0", "version: 1.1.0");
    let (status, body) = app.put_contract(&token, "order-placed", v2).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("updated")),
        "{body}"
    );
    let versions: Vec<&str> = body["product"]["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .filter_map(|v| v["version"].as_str())
        .collect();
    assert_eq!(versions, ["1.1.0", "1.0.0"]);
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn owners_publish_only_to_existing_domains_they_own(pool: PgPool) {
    let (app, token) = setup(&pool).await;
    let marketing = ORDER_PLACED.replace("domain: sales", "domain: marketing");
    assert_eq!(
        app.put_contract(&token, "order-placed", marketing).await.0,
        403
    );

    let unknown = ORDER_PLACED.replace("domain: sales", "domain: logistics");
    let admin = token_for(&pool, "admin@meshmart.local").await;
    let (status, body) = app
        .put_contract(&token, "order-placed", unknown.clone())
        .await;
    assert_eq!(
        status, 403,
        "an owner of sales may not write to logistics: {body}"
    );
    let topic = format!("logistics.orders.{}", uuid_suffix());
    let (status, body) = app
        .put_contract(
            &admin,
            "order-placed",
            unknown.replace("sales.order-placed.v1", &topic),
        )
        .await;
    assert_eq!(status, 201, "an admin's push creates the domain: {body}");
    assert_eq!(body["product"]["domain"], "logistics");
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn bad_contracts_get_a_clear_4xx_and_store_nothing(pool: PgPool) {
    let (app, token) = setup(&pool).await;
    let nested = format!(
        "apiVersion: v3.1.0\nkind: DataContract\nid: x\nversion: 1.0.0\nstatus: active\ncustomProperties: {}1{}\n",
        "[".repeat(200),
        "]".repeat(200)
    );
    let bomb = "a: &a [\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n".to_string();
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "unclosed flow sequence",
            b"apiVersion: [unclosed\n".to_vec(),
            422,
            "line",
        ),
        (
            "tab indentation",
            b"kind: DataContract\n\tid: x\n".to_vec(),
            422,
            "line",
        ),
        (
            "duplicate key",
            ORDER_PLACED
                .replace("status: active", "status: active\nstatus: draft")
                .into_bytes(),
            422,
            "duplicate",
        ),
        ("empty body", Vec::new(), 422, "mapping"),
        ("a scalar", b"hello".to_vec(), 422, "mapping"),
        ("a list", b"- a\n- b\n".to_vec(), 422, "mapping"),
        (
            "missing apiVersion",
            ORDER_PLACED
                .replace("apiVersion: v3.1.0\n", "")
                .into_bytes(),
            422,
            "apiVersion",
        ),
        (
            "missing id",
            ORDER_PLACED
                .replace("id: sales-order-placed\n", "")
                .into_bytes(),
            422,
            "id",
        ),
        (
            "missing status",
            ORDER_PLACED.replace("status: active\n", "").into_bytes(),
            422,
            "status",
        ),
        (
            "version is a list",
            ORDER_PLACED
                .replace("version: 1.0.0", "version: [1]")
                .into_bytes(),
            422,
            "/version",
        ),
        (
            "version is not semver",
            ORDER_PLACED
                .replace("version: 1.0.0", "version: one")
                .into_bytes(),
            422,
            "/version",
        ),
        (
            "status is a number",
            ORDER_PLACED
                .replace("status: active", "status: 5")
                .into_bytes(),
            422,
            "/status",
        ),
        (
            "kind is wrong",
            ORDER_PLACED
                .replace("kind: DataContract", "kind: Spreadsheet")
                .into_bytes(),
            422,
            "/kind",
        ),
        (
            "schema is a string",
            ORDER_PLACED
                .replace(
                    "schema:\n  - name: OrderPlaced",
                    "schema: nope\nx:\n  - name: OrderPlaced",
                )
                .into_bytes(),
            422,
            "/schema",
        ),
        (
            "schema object without name",
            ORDER_PLACED
                .replace("  - name: OrderPlaced\n", "  - businessName: Orders\n")
                .into_bytes(),
            422,
            "/schema/0",
        ),
        (
            "slaProperties is a string",
            ORDER_PLACED
                .replace(
                    "slaProperties:\n  - property: latency",
                    "slaProperties: fast\nzz:\n  - property: latency",
                )
                .into_bytes(),
            422,
            "/slaProperties",
        ),
        (
            "tags is a number",
            ORDER_PLACED
                .replace("tags: [orders, sales]", "tags: 7")
                .into_bytes(),
            422,
            "/tags",
        ),
        (
            "unknown top-level field",
            format!("{ORDER_PLACED}whatever: 1\n").into_bytes(),
            422,
            "whatever",
        ),
        ("deeply nested", nested.into_bytes(), 422, ""),
        ("anchor bomb", bomb.into_bytes(), 422, ""),
        (
            "not UTF-8",
            vec![0x61, 0x3a, 0x20, 0xff, 0xfe, 0x0a],
            422,
            "UTF-8",
        ),
        ("10 MB body", vec![b'#'; 10 * 1024 * 1024], 413, "larger"),
        (
            "slug differs from dataProduct",
            ORDER_PLACED
                .replace("dataProduct: order placed", "dataProduct: something else")
                .into_bytes(),
            422,
            "order-placed",
        ),
        (
            "no domain",
            ORDER_PLACED.replace("domain: sales\n", "").into_bytes(),
            422,
            "/domain",
        ),
        (
            "topic with spaces",
            ORDER_PLACED
                .replace("sales.order-placed.v1", "bad topic name!")
                .into_bytes(),
            422,
            "topic",
        ),
    ];
    assert!(cases.len() >= 20);
    for (name, body, expected, needle) in cases {
        let (status, response) = app.put_contract(&token, "order-placed", body).await;
        assert_eq!(status, expected, "{name}: {response}");
        let text = response.to_string();
        assert!(
            text.contains(needle),
            "{name}: expected `{needle}` in {text}"
        );
        assert!(!text.contains("panicked"), "{name}: {text}");
    }
    let stored = sqlx::query!(
        r#"select (select count(*) from products) as "products!",
                  (select count(*) from output_ports) as "output_ports!",
                  (select count(*) from contract_versions) as "contract_versions!",
                  (select count(*) from outbox) as "outbox!""#,
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    for (table, count) in [
        ("products", stored.products),
        ("output_ports", stored.output_ports),
        ("contract_versions", stored.contract_versions),
        ("outbox", stored.outbox),
    ] {
        assert_eq!(count, 0, "{table} stays empty");
    }
    // The server is still healthy after all of it.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn a_topic_of_another_product_is_refused_and_nothing_is_stored(pool: PgPool) {
    let (app, token) = setup(&pool).await;
    let topic = format!("sales.order-placed.{}", uuid_suffix());
    let contract = ORDER_PLACED.replace("sales.order-placed.v1", &topic);
    let (status, body) = app
        .put_contract(&token, "order-placed", contract.clone())
        .await;
    assert_eq!(status, 201, "{body}");
    // Another product of the same domain names the same topic.
    let other = contract
        .replace("id: sales-order-placed", "id: sales-order-copy")
        .replace("dataProduct: order placed", "dataProduct: order copy");
    let (status, body) = app.put_contract(&token, "order-copy", other).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("belongs to another data product")),
        "{body}"
    );
    let stored: i64 = sqlx::query_scalar!(
        r#"select count(*) as "count!" from products where slug = 'order-copy'"#,
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(stored, 0);
    let owner: String = sqlx::query_scalar!(
        "select p.slug from output_ports o join products p on p.id = o.product_id where o.topic = $1",
        topic,
    )
    .fetch_one(&pool)
    .await
    .expect("the port");
    assert_eq!(owner, "order-placed");
}
