//! Producer principals on the real broker: once the outbox's `producer.sync` has run (here
//! called as the worker calls it), a domain's principal writes its own products' topics
//! with an idempotent producer, authenticating with the SCRAM credential Meshmart derived
//! for it, and the broker refuses it on another domain's topic
//! (TOPIC_AUTHORIZATION_FAILED). Owners manage the grant over the API and on the domain
//! page: rotating the credential and revoking the grant take effect on the broker.

use std::time::{Duration, Instant};

use domain::broker::BrokerAdmin;
use domain::broker::acl::{AclFilter, Operation, ResourceType};
use domain::demo::Part;
use domain::producers;
use domain::traffic::{self, Faults, Generator, Plan};
use rdkafka::error::KafkaError;
use rdkafka::producer::FutureRecord;
use rdkafka::types::RDKafkaErrorCode;
use serde_json::{Value, json};
use server::configuration::Settings;
use sqlx::PgPool;

use crate::helpers::{TestApp, spawn_app, token_for};

/// Produces one record to `topic` as `username`, retrying until `accepted` says the outcome
/// is the expected one (the broker applies credentials and ACLs within moments) or 30 s
/// pass; returns the last outcome.
async fn produce_until(
    broker: &domain::broker::BrokerConfig,
    username: &str,
    password: &str,
    topic: &str,
    accepted: impl Fn(&Result<(), KafkaError>) -> bool,
) -> Result<(), KafkaError> {
    let password = secrecy::SecretString::from(password.to_string());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // A fresh connection each time: a producer keeps the credential it started with.
        let producer = broker
            .producer_as("meshmart-test-producer", username, &password)
            .expect("producer");
        let outcome = producer
            .send(
                FutureRecord::to(topic).key("probe").payload("probe"),
                Duration::from_secs(5),
            )
            .await
            .map(|_| ())
            .map_err(|(error, _)| error);
        if accepted(&outcome) || Instant::now() >= deadline {
            return outcome;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Whether the broker's authorizer refused the record (TOPIC_AUTHORIZATION_FAILED).
fn refused(outcome: &Result<(), KafkaError>) -> bool {
    matches!(
        outcome,
        Err(KafkaError::MessageProduction(
            RDKafkaErrorCode::TopicAuthorizationFailed
        ))
    )
}

/// `method` on a path of the application as `token`'s user: the status and the JSON answer.
async fn call(app: &TestApp, token: &str, method: reqwest::Method, path: &str) -> (u16, Value) {
    let response = app
        .client
        .request(method, format!("{}{path}", app.address))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

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
    if let Err(error) = produce_until(
        &broker,
        principal.username(),
        secrecy::ExposeSecret::expose_secret(&password),
        &own.topic,
        Result::is_ok,
    )
    .await
    {
        panic!("the domain's principal cannot write its own topic: {error}");
    }
    let producer = connect();
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

/// A domain of this test's own, so that its principal and credential are not shared with
/// other tests on the broker.
#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn owners_see_rotate_and_revoke_their_domains_producer_grant(pool: PgPool) {
    domain::demo::seed_parts(&pool, &[Part::Identities], false)
        .await
        .expect("demo identities");
    let app = spawn_app(pool.clone()).await;
    let admin = token_for(&pool, "admin@meshmart.local").await;
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let domain = format!("prod-{suffix}");
    let slug = format!("probe-{suffix}");
    let topic = format!("{domain}.probe.v1");
    let contract = format!(
        "apiVersion: v3.1.0\nkind: DataContract\nid: {slug}\nversion: 1.0.0\nstatus: active\n\
         name: Probe\ndataProduct: {slug}\ndomain: {domain}\nschema:\n  - name: Probe\n    \
         physicalName: {topic}\n"
    );
    let (status, body) = app.put_contract(&admin, &slug, contract).await;
    assert_eq!(status, 201, "{body}");

    let view_path = format!("/api/v1/domains/{domain}/producer");
    let (status, view) = call(&app, &admin, reqwest::Method::GET, &view_path).await;
    assert_eq!(status, 200);
    let principal = format!("User:svc-{domain}-producer");
    let username = format!("svc-{domain}-producer");
    assert_eq!(view["principal"], principal.as_str());
    assert_eq!(view["mechanism"], "SCRAM-SHA-512");
    assert_eq!(view["generation"], 1);
    assert!(view.get("password").is_none(), "never shown again: {view}");
    assert_eq!(view["grants"][0]["product"], slug.as_str());
    assert_eq!(view["grants"][0]["topics"], json!([topic]));
    assert_eq!(view["grants"][0]["revoked_at"], Value::Null);

    // The server's outbox created the topic, the credential and the ACLs.
    let settings = Settings::load(None).expect("test settings");
    let broker = settings.kafka.broker_config();
    let first = secrecy::ExposeSecret::expose_secret(
        &broker.derived_password(&producers::password_label(&username, 1)),
    )
    .to_string();
    produce_until(&broker, &username, &first, &topic, Result::is_ok)
        .await
        .expect("the domain's principal writes its product's topic");

    // Rotation: a new password, shown in this answer only, which the broker takes.
    let (status, rotated) = call(
        &app,
        &admin,
        reqwest::Method::POST,
        &format!("{view_path}/credentials"),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(rotated["generation"], 2);
    let second = rotated["password"]
        .as_str()
        .expect("a password")
        .to_string();
    assert_ne!(second, first);
    produce_until(&broker, &username, &second, &topic, Result::is_ok)
        .await
        .expect("the rotated credential works");

    // Revoking the grant takes the topic away on the broker.
    let (status, answer) = call(
        &app,
        &admin,
        reqwest::Method::POST,
        &format!("/api/v1/products/{slug}/producer/revoke"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["changed"], true);
    let outcome = produce_until(&broker, &username, &second, &topic, refused).await;
    assert!(refused(&outcome), "{outcome:?}");
    let (_, view) = call(&app, &admin, reqwest::Method::GET, &view_path).await;
    assert!(view["grants"][0]["revoked_at"].is_string(), "{view}");

    let (_, entries) = call(
        &app,
        &admin,
        reqwest::Method::GET,
        &format!("/api/v1/audit?target={principal}"),
    )
    .await;
    let actions: Vec<&str> = entries["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in [
        "producer.grant",
        "producer.credential.rotate",
        "producer.revoke",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    let logged = serde_json::to_string(&entries).expect("text");
    assert!(
        !logged.contains(&second) && !logged.contains(&first),
        "no password in the audit log"
    );

    // The domain page shows it to admins and owners, not to analysts.
    for (email, shown) in [
        ("admin@meshmart.local", true),
        ("analyst1@meshmart.local", false),
    ] {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .expect("client");
        let signed_in = client
            .post(format!("{}/api/v1/session", app.address))
            .json(&json!({ "email": email, "password": "meshmart" }))
            .send()
            .await
            .expect("request");
        assert!(signed_in.status().is_success());
        let page = client
            .get(format!("{}/domains/{domain}", app.address))
            .send()
            .await
            .expect("request");
        assert_eq!(page.status(), 200, "{email}");
        let html = page.text().await.expect("html");
        assert_eq!(html.contains(&principal), shown, "{email}");
        assert_eq!(html.contains("Rotate credential"), shown, "{email}");
    }
    app.stop().await;
}

/// The reconciler keeps producer ACLs true in both directions and leaves alone the WRITE
/// ACLs it does not manage. A domain and topic of this test's own keep the managed scope
/// (this database's product topics and producer principals) away from other tests' ACLs.
#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn the_reconciler_repairs_producer_acls_and_leaves_others_alone(pool: PgPool) {
    use domain::broker::acl::{AclBinding, PatternType, Permission};

    domain::demo::seed_parts(&pool, &[Part::Identities], false)
        .await
        .expect("demo identities");
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let domain = format!("rec-{suffix}");
    let topic = format!("{domain}.probe.v1");
    let contract = domain::contracts::import(&format!(
        "apiVersion: v3.1.0\nkind: DataContract\nid: rec-{suffix}\nversion: 1.0.0\n\
         status: active\nname: Probe\ndataProduct: rec-{suffix}\ndomain: {domain}\n\
         schema:\n  - name: Probe\n    physicalName: {topic}\n"
    ))
    .expect("contract");
    let mut conn = pool.acquire().await.expect("conn");
    domain::catalog::register(
        &mut conn,
        &domain::audit::Actor::Cli,
        &contract,
        &domain::catalog::RegisterOptions {
            may_create_domain: true,
            ..Default::default()
        },
    )
    .await
    .expect("registered");
    drop(conn);

    let settings = Settings::load(None).expect("test settings");
    let admin = BrokerAdmin::new(&settings.kafka.broker_config()).expect("admin");
    producers::sync(&pool, &admin, &domain).await.expect("sync");
    let principal = producers::principal_of(&domain);
    let acl = |principal: &str, resource_type, name: &str, operation| AclBinding {
        resource_type,
        resource_name: name.to_string(),
        pattern_type: PatternType::Literal,
        principal: principal.to_string(),
        host: "*".to_string(),
        operation,
        permission: Permission::Allow,
    };
    let write = acl(&principal, ResourceType::Topic, &topic, Operation::Write);
    let idempotent = acl(
        &principal,
        ResourceType::Cluster,
        producers::CLUSTER,
        Operation::IdempotentWrite,
    );
    let on_broker = |binding: AclBinding| {
        let admin = admin.clone();
        async move {
            admin
                .describe_acls(AclFilter::exact(&binding))
                .await
                .expect("describe")
                .contains(&binding)
        }
    };
    assert!(on_broker(write.clone()).await && on_broker(idempotent.clone()).await);

    // Drift: the managed WRITE is gone; unmanaged WRITE ACLs were added by hand.
    admin
        .delete_acls(vec![AclFilter::exact(&write)])
        .await
        .expect("delete");
    let stranger = acl(
        &format!("User:stranger-{suffix}"),
        ResourceType::Topic,
        &topic,
        Operation::Write,
    );
    let elsewhere = acl(
        &principal,
        ResourceType::Topic,
        &format!("not-a-product-{suffix}"),
        Operation::Write,
    );
    admin
        .create_acls(vec![stranger.clone(), elsewhere.clone()])
        .await
        .expect("create");
    let repairs = domain::provisioning::reconcile(&pool, &admin, false)
        .await
        .expect("reconcile");
    assert!(
        repairs
            .iter()
            .any(|r| r.action == "created" && r.binding == write),
        "{repairs:?}"
    );
    assert!(on_broker(write.clone()).await, "re-created");
    assert!(on_broker(stranger.clone()).await, "not Meshmart's: kept");
    assert!(
        on_broker(elsewhere.clone()).await,
        "no product's topic: kept"
    );

    // A revoked grant leaves the principal's WRITE unexplained: the reconciler removes it.
    sqlx::query!("update producer_grants set revoked_at = now()",)
        .execute(&pool)
        .await
        .expect("revoke behind the worker's back");
    sqlx::query!(
        "delete from casbin_rule where v0 = 'kafka:' || $1",
        principal,
    )
    .execute(&pool)
    .await
    .expect("policy rows");
    let repairs = domain::provisioning::reconcile(&pool, &admin, false)
        .await
        .expect("reconcile");
    assert!(
        repairs
            .iter()
            .any(|r| r.action == "deleted" && r.binding == write),
        "{repairs:?}"
    );
    assert!(!on_broker(write).await && !on_broker(idempotent).await);
    assert!(on_broker(stranger.clone()).await && on_broker(elsewhere.clone()).await);
    admin
        .delete_acls(vec![
            AclFilter::exact(&stranger),
            AclFilter::exact(&elsewhere),
        ])
        .await
        .expect("clean up");
}
