//! Node names, policy and declaration: what registering a contract with a `nodeKind` does.

use serde_json::json;

use super::*;
use crate::contracts::{Field, OutputPort};

fn field(name: &str, required: bool) -> Field {
    Field {
        name: name.to_string(),
        logical_type: Some("string".to_string()),
        physical_type: None,
        required,
        description: None,
        classification: None,
        examples: Vec::new(),
        fields: Vec::new(),
    }
}

fn port(topic: &str, fields: Vec<Field>) -> OutputPort {
    OutputPort {
        event_type: "Event".to_string(),
        topic: topic.to_string(),
        format: "json".to_string(),
        description: None,
        fields,
    }
}

#[test]
fn a_node_has_its_own_principal_group_transactional_ids_and_dead_letters() {
    assert_eq!(principal_of("copy"), "User:svc-node-copy");
    assert!(is_node_username(crate::producers::username(&principal_of(
        "copy"
    ))));
    assert!(!is_node_username("svc-node-"));
    assert!(!is_node_username("svc-sales-producer"));
    assert_eq!(group_of("copy"), "meshmart-node-copy");
    assert_eq!(transactional_prefix("copy"), "meshmart-node-copy");
    assert_eq!(
        dead_letter_topic("cm.signups.v1", "copy"),
        "cm.signups.v1.copy.dlq"
    );
    assert_ne!(
        password_label("svc-node-copy", 1),
        crate::producers::password_label("svc-node-copy", 1),
        "a node credential is not a producer credential"
    );
}

#[test]
fn pass_through_copies_the_output_fields_and_refuses_a_record_without_a_required_one() {
    let output = port(
        "out",
        vec![field("customerID", true), field("email", false)],
    );
    let kind = Kind::PassThrough;
    assert_eq!(
        kind.apply(
            &json!({"customerID": "c1", "email": "a@b.c", "ipAddress": "1.2.3.4"}),
            &output
        ),
        Ok(json!({"customerID": "c1", "email": "a@b.c"}))
    );
    assert_eq!(
        kind.apply(&json!({"customerID": "c1", "email": null}), &output),
        Ok(json!({"customerID": "c1"})),
        "a null optional field is left out"
    );
    let missing = kind
        .apply(&json!({"email": "a@b.c"}), &output)
        .expect_err("refused");
    assert!(missing.contains("`customerID`"), "{missing}");
    assert!(kind.apply(&json!([1, 2]), &output).is_err());
}

#[test]
fn pass_through_needs_every_required_output_field_in_the_input() {
    let input = port("in", vec![field("customerID", true), field("email", false)]);
    let fits = port(
        "out",
        vec![field("customerID", true), field("email", false)],
    );
    assert_eq!(Kind::PassThrough.check(&input, &fits), Ok(()));
    let wider = port(
        "out",
        vec![field("customerID", true), field("riskScore", true)],
    );
    let why = Kind::PassThrough
        .check(&input, &wider)
        .expect_err("refused");
    assert!(why.contains("`riskScore`") && why.contains("`in`"), "{why}");
}

#[test]
fn kinds_parse_from_their_names_only() {
    for kind in Kind::ALL {
        assert_eq!(Kind::parse(kind.as_str()), Some(kind));
    }
    assert_eq!(Kind::parse("Pass-Through"), None);
    assert_eq!(Kind::parse(""), None);
}

/// Why a registration was refused: at import (the contract does not map) or by the
/// catalog.
#[derive(Debug)]
enum Refused {
    Import(Vec<crate::contracts::Problem>),
    Catalog(crate::catalog::CatalogError),
}

async fn register(pool: &sqlx::PgPool, document: serde_json::Value) -> Result<(), Refused> {
    let contract = crate::contracts::Contract::from_document(document).map_err(Refused::Import)?;
    let mut tx = pool.begin().await.expect("tx");
    crate::catalog::register(
        &mut tx,
        &crate::audit::Actor::Cli,
        &contract,
        &crate::catalog::RegisterOptions::default(),
    )
    .await
    .map_err(Refused::Catalog)?;
    tx.commit().await.expect("commit");
    Ok(())
}

fn signed_up() -> serde_json::Value {
    crate::demo::catalog::contracts()
        .into_iter()
        .find(|d| d["dataProduct"] == "customer-signed-up")
        .expect("demo contract")
}

/// The demo people and `customer-signed-up`.
async fn seed(pool: &sqlx::PgPool) {
    crate::demo::seed_parts(pool, &[crate::demo::Part::Identities], false)
        .await
        .expect("demo identities");
    register(pool, signed_up())
        .await
        .expect("customer-signed-up");
}

/// Registers version `version` of product `slug`, a copy of `customer-signed-up` on a
/// topic of its own, with `custom` as its custom properties.
async fn register_copy(
    pool: &sqlx::PgPool,
    slug: &str,
    version: &str,
    custom: serde_json::Value,
) -> Result<(), Refused> {
    let mut document = signed_up();
    document["id"] = json!(format!("{slug}-id"));
    document["version"] = json!(version);
    document["dataProduct"] = json!(slug);
    document["schema"][0]["physicalName"] = json!(format!("customer-management.{slug}.v1"));
    document["customProperties"] = custom;
    register(pool, document).await
}

const SIGNED_UP: &str = "customer-management.customer-signed-up.v1";

fn declaring(node: &str, kind: &str, inputs: serde_json::Value) -> serde_json::Value {
    json!([
        {"property": "inputPorts", "value": inputs},
        {"property": "processor", "value": node},
        {"property": "nodeKind", "value": kind},
    ])
}

/// Registers product `slug` (version 1.0.0) declaring node `name` of `kind` reading
/// customer-signed-up; the node as loaded.
async fn declare_node(pool: &sqlx::PgPool, slug: &str, name: &str, kind: &str) -> Node {
    register_copy(
        pool,
        slug,
        "1.0.0",
        declaring(name, kind, json!([SIGNED_UP])),
    )
    .await
    .expect("registered");
    load(pool, name).await.expect("the node")
}

async fn policy(pool: &sqlx::PgPool, principal: &str) -> Vec<(String, String)> {
    sqlx::query!(
        "select v2, v3 from casbin_rule where ptype = 'p' and v0 = 'kafka:' || $1 order by v2, v3",
        principal,
    )
    .fetch_all(pool)
    .await
    .expect("rows")
    .into_iter()
    .map(|row| (row.v2, row.v3))
    .collect()
}

#[sqlx::test(migrator = "crate::db::MIGRATOR")]
async fn a_contract_declaring_a_node_gives_it_a_principal_and_its_policy(pool: sqlx::PgPool) {
    seed(&pool).await;
    let node = declare_node(&pool, "signups-copy", "copy", "pass-through").await;
    assert_eq!(
        (
            node.kind.as_str(),
            node.input_topic.as_str(),
            node.output_topic.as_str()
        ),
        (
            "pass-through",
            SIGNED_UP,
            "customer-management.signups-copy.v1"
        )
    );
    assert_eq!(node.product, "signups-copy");
    assert_eq!(node.principal, "User:svc-node-copy");
    assert_eq!(
        policy(&pool, &node.principal).await,
        vec![
            ("group:meshmart-node-copy".to_string(), "read".to_string()),
            (format!("topic:{SIGNED_UP}"), "read".to_string()),
            (format!("topic:{SIGNED_UP}.copy.dlq"), "write".to_string()),
            (
                "topic:customer-management.signups-copy.v1".to_string(),
                "write".to_string()
            ),
            (
                "topic:meshmart-node-copy-detour".to_string(),
                "read".to_string()
            ),
            (
                "topic:meshmart-node-copy-detour".to_string(),
                "write".to_string()
            ),
            (
                "transactional_id:meshmart-node-copy".to_string(),
                "write".to_string()
            ),
        ]
    );
    let queued: Vec<String> = sqlx::query_scalar!(
        r#"select kind || ' ' || payload::text as "queued!" from outbox
           where kind in ('node.sync', 'topic.create') order by id"#,
    )
    .fetch_all(&pool)
    .await
    .expect("outbox");
    assert!(
        queued
            .iter()
            .any(|row| row.starts_with("node.sync") && row.contains("svc-node-copy")),
        "{queued:?}"
    );
    assert!(
        queued
            .iter()
            .any(|row| row.contains(&format!("{SIGNED_UP}.copy.dlq"))),
        "the dead-letter topic is created: {queued:?}"
    );
    assert!(
        queued
            .iter()
            .any(|row| row.contains("meshmart-node-copy-detour")),
        "the detour topic is created: {queued:?}"
    );
    assert!(!synced(&pool, &node.principal).await.expect("query"));
    let desired = crate::provisioning::desired(
        &mut pool.acquire().await.expect("conn"),
        Some(&node.principal),
    )
    .await
    .expect("desired");
    assert!(desired.iter().any(|acl| acl.resource_type
        == crate::broker::acl::ResourceType::TransactionalId
        && acl.operation == crate::broker::acl::Operation::Write));

    // A contract without the node removes it, its policy, and (through the sync) its ACLs.
    register_copy(&pool, "signups-copy", "1.1.0", json!([]))
        .await
        .expect("registered again");
    assert!(matches!(
        load(&pool, "copy").await,
        Err(NodeError::Unknown(_))
    ));
    assert!(policy(&pool, "User:svc-node-copy").await.is_empty());
}

#[sqlx::test(migrator = "crate::db::MIGRATOR")]
async fn a_bad_node_declaration_is_refused_naming_its_pointer(pool: sqlx::PgPool) {
    seed(&pool).await;
    let refused = |result: Result<(), Refused>| match result {
        Err(Refused::Import(mut problems)) if problems.len() == 1 => {
            let problem = problems.swap_remove(0);
            (problem.pointer, problem.message)
        }
        other => panic!("expected one problem at import, got {other:?}"),
    };
    let (pointer, message) = refused(
        register_copy(
            &pool,
            "signups-copy",
            "1.0.0",
            declaring("copy", "teleport", json!([SIGNED_UP])),
        )
        .await,
    );
    assert_eq!(pointer, "/customProperties/2/value");
    assert!(message.contains("pass-through"), "{message}");
    let (pointer, message) = refused(
        register_copy(
            &pool,
            "signups-copy",
            "1.0.0",
            declaring(
                "copy",
                "pass-through",
                json!([SIGNED_UP, "sales.order-placed.v1"]),
            ),
        )
        .await,
    );
    assert_eq!(pointer, "/customProperties/2/value");
    assert!(message.contains("exactly one input"), "{message}");
    assert!(matches!(
        load(&pool, "copy").await,
        Err(NodeError::Unknown(_))
    ));

    register_copy(
        &pool,
        "signups-copy",
        "1.0.0",
        declaring("copy", "pass-through", json!([SIGNED_UP])),
    )
    .await
    .expect("registered");
    match register_copy(
        &pool,
        "signups-other",
        "1.0.0",
        declaring("copy", "pass-through", json!([SIGNED_UP])),
    )
    .await
    {
        Err(Refused::Catalog(crate::catalog::CatalogError::Conflict(message))) => {
            assert!(message.contains("signups-copy"), "{message}")
        }
        other => panic!("a second product cannot take the node: {other:?}"),
    }
    assert_eq!(
        load(&pool, "copy").await.expect("kept").product,
        "signups-copy"
    );
}

#[sqlx::test(migrator = "crate::db::MIGRATOR")]
async fn an_enrichment_node_gets_a_repartition_topic_it_reads_and_writes(pool: sqlx::PgPool) {
    seed(&pool).await;
    let node = declare_node(&pool, "signups-scored", "scorer", "customer-enrichment").await;
    let internal = "topic:meshmart-node-scorer-repartition".to_string();
    assert_eq!(
        node.repartition_topic().as_deref(),
        Some("meshmart-node-scorer-repartition")
    );
    let rows = policy(&pool, &node.principal).await;
    assert!(
        rows.contains(&(internal.clone(), "read".to_string())),
        "{rows:?}"
    );
    assert!(rows.contains(&(internal, "write".to_string())), "{rows:?}");
    let created: Vec<String> = sqlx::query_scalar!(
        r#"select payload->>'topic' as "topic!" from outbox where kind = 'topic.create' order by id"#,
    )
    .fetch_all(&pool)
    .await
    .expect("outbox");
    assert!(
        created
            .iter()
            .any(|t| t == "meshmart-node-scorer-repartition"),
        "{created:?}"
    );

    // A pass-through node keeps no state, so it has none.
    let copy = declare_node(&pool, "signups-copy", "copy", "pass-through").await;
    assert_eq!(copy.repartition_topic(), None);
    assert!(
        !policy(&pool, &copy.principal)
            .await
            .iter()
            .any(|(object, _)| object.contains("repartition"))
    );
}
