//! Subscriptions against the real broker with its authorizer on: a consumer is refused
//! before approval, reads once the subscription is active and is refused again after
//! revocation; approvals made while the broker is unreachable survive a crash and end
//! active; the reconciler repairs deleted and unexplained ACLs; who may decide; bad input;
//! a subscriber replays its consumer group from a point in time.
//!
//! Each test uses its own topic and its own consumer-group prefix, so tests sharing the
//! broker never manage each other's ACLs.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use domain::broker::BrokerAdmin;
use domain::broker::acl::{
    AclBinding, AclFilter, Operation, PatternType, Permission, ResourceType,
};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::{Value, json};
use server::configuration::Settings;
use sqlx::PgPool;

use crate::helpers::{TestApp, spawn_app, spawn_app_with, token_for};

fn settings() -> Settings {
    Settings::load(None).expect("test settings")
}

fn admin() -> BrokerAdmin {
    BrokerAdmin::new(&settings().kafka.broker_config()).expect("broker admin")
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

/// A product of domain sales whose one port is `topic`.
fn contract(slug: &str, topic: &str) -> String {
    format!(
        "apiVersion: v3.1.0\nkind: DataContract\nid: {slug}\nversion: 1.0.0\nstatus: active\n\
         name: {slug}\ndataProduct: {slug}\ndomain: sales\nschema:\n  - name: Probe\n    \
         physicalName: {topic}\n    properties:\n      - name: id\n        logicalType: string\n"
    )
}

struct Setup {
    app: TestApp,
    owner: String,
    analyst: String,
    slug: String,
    topic: String,
    group: String,
}

async fn setup_with(pool: &PgPool, app: TestApp) -> Setup {
    let owner = token_for(pool, "owner.sales@meshmart.local").await;
    let analyst = token_for(pool, "analyst3@meshmart.local").await;
    let slug = unique("probe");
    let topic = format!("sales.{slug}.v1");
    let (status, body) = app
        .put_contract(&owner, &slug, contract(&slug, &topic))
        .await;
    assert_eq!(status, 201, "{body}");
    Setup {
        app,
        owner,
        analyst,
        // Inside analyst3's own namespace, and unique to this test.
        group: format!("analyst3.{}.", unique("g")),
        slug,
        topic,
    }
}

/// `s` with its server killed (as by kill -9) and `next` started in its place.
async fn replace_server(s: Setup, next: impl std::future::Future<Output = TestApp>) -> Setup {
    let Setup {
        app,
        owner,
        analyst,
        slug,
        topic,
        group,
    } = s;
    app.kill();
    Setup {
        app: next.await,
        owner,
        analyst,
        slug,
        topic,
        group,
    }
}

async fn seed(pool: &PgPool) {
    domain::demo::seed_parts(pool, &[domain::demo::Part::Identities], false)
        .await
        .expect("demo identities");
}

async fn setup(pool: &PgPool) -> Setup {
    seed(pool).await;
    let app = spawn_app(pool.clone()).await;
    setup_with(pool, app).await
}

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app
        .client
        .request(method, format!("{}/api/v1{path}", app.address))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// POSTs `action` (approve, reject, revoke) on subscription `id` as `token`.
async fn decide(
    s: &Setup,
    id: &str,
    action: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let path = format!("/subscriptions/{id}/{action}");
    call(&s.app, reqwest::Method::POST, &path, token, body).await
}

/// GETs subscription `id` as `token`.
async fn show(s: &Setup, id: &str, token: &str) -> (u16, Value) {
    let path = format!("/subscriptions/{id}");
    call(&s.app, reqwest::Method::GET, &path, token, None).await
}

async fn request_access(s: &Setup) -> String {
    let (status, body) = call(
        &s.app,
        reqwest::Method::POST,
        "/subscriptions",
        &s.analyst,
        Some(json!({ "product": s.slug, "group": s.group, "purpose": "churn analysis" })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["state"], "pending");
    assert_eq!(body["principal"], "User:analyst3");
    body["id"].as_str().expect("id").to_string()
}

/// Polls the subscription until `state` (or panics after `within`); returns when.
async fn wait_for_state(s: &Setup, id: &str, state: &str, within: Duration) -> Instant {
    let deadline = Instant::now() + within;
    loop {
        let (_, body) = show(s, id, &s.analyst).await;
        if body["state"] == state {
            return Instant::now();
        }
        assert!(Instant::now() < deadline, "never reached {state}: {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A client of the test broker as a demo PLAIN `user` (password `meshmart`), or as
/// Meshmart's admin with `None`.
fn client_as(user: Option<&str>) -> ClientConfig {
    let kafka = settings().kafka;
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &kafka.bootstrap_servers)
        .set("security.protocol", "SASL_PLAINTEXT")
        .set("sasl.mechanisms", "PLAIN");
    match user {
        Some(user) => config
            .set("sasl.username", user)
            .set("sasl.password", "meshmart"),
        None => config.set("sasl.username", &kafka.username).set(
            "sasl.password",
            secrecy::ExposeSecret::expose_secret(&kafka.password),
        ),
    };
    config
}

fn consumer(user: &str, group: &str) -> BaseConsumer {
    client_as(Some(user))
        .set(
            "group.id",
            format!("{group}app-{}", uuid::Uuid::new_v4().simple()),
        )
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer")
}

/// What a consumer as `user` gets from `topic` within `within`: the payloads it read, or the
/// error that stopped it.
async fn consume(
    user: &str,
    group: &str,
    topic: &str,
    within: Duration,
) -> Result<Vec<String>, String> {
    let (user, group, topic) = (user.to_string(), group.to_string(), topic.to_string());
    tokio::task::spawn_blocking(move || {
        let consumer = consumer(&user, &group);
        consumer.subscribe(&[&topic]).map_err(|e| e.to_string())?;
        let deadline = Instant::now() + within;
        let mut read = Vec::new();
        while Instant::now() < deadline {
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(message)) => {
                    read.push(
                        String::from_utf8_lossy(message.payload().unwrap_or_default()).to_string(),
                    );
                    if read.len() == 3 {
                        return Ok(read);
                    }
                }
                Some(Err(error)) => return Err(error.to_string()),
                None => {}
            }
        }
        Ok(read)
    })
    .await
    .expect("consumer thread")
}

async fn produce(topic: &str) {
    let topic = topic.to_string();
    let admin = admin();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !admin
        .topic_exists(&topic, Duration::from_secs(2))
        .await
        .unwrap_or(false)
    {
        assert!(Instant::now() < deadline, "topic {topic} was never created");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::task::spawn_blocking(move || {
        let producer: BaseProducer = client_as(None).create().expect("producer");
        for n in 1..=3 {
            let payload = format!("{{\"id\":\"{n}\"}}");
            producer
                .send(BaseRecord::<(), _>::to(&topic).payload(&payload))
                .expect("queued");
        }
        producer.flush(Duration::from_secs(10)).expect("produced");
    })
    .await
    .expect("producer thread");
}

/// The test's consumer-group prefix for `user` (analyst3's is `s.group`).
fn group_of(s: &Setup, user: &str) -> String {
    s.group.replacen("analyst3.", &format!("{user}."), 1)
}

/// The ACLs the broker holds for `principal` on the test's topic and group.
async fn acls(s: &Setup, principal: &str) -> BTreeSet<AclBinding> {
    let user = principal.strip_prefix("User:").unwrap_or(principal);
    let group = group_of(s, user);
    admin()
        .describe_acls(AclFilter {
            principal: Some(principal.to_string()),
            ..AclFilter::default()
        })
        .await
        .expect("describe")
        .into_iter()
        .filter(|b| b.resource_name == s.topic || b.resource_name == group)
        .collect()
}

fn expected(s: &Setup, principal: &str) -> BTreeSet<AclBinding> {
    let user = principal.strip_prefix("User:").unwrap_or(principal);
    let group = group_of(s, user);
    let binding = |resource_type, name: &str, pattern_type, operation| AclBinding {
        resource_type,
        resource_name: name.to_string(),
        pattern_type,
        principal: principal.to_string(),
        host: "*".to_string(),
        operation,
        permission: Permission::Allow,
    };
    [
        binding(
            ResourceType::Topic,
            &s.topic,
            PatternType::Literal,
            Operation::Read,
        ),
        binding(
            ResourceType::Topic,
            &s.topic,
            PatternType::Literal,
            Operation::Describe,
        ),
        binding(
            ResourceType::Group,
            &group,
            PatternType::Prefixed,
            Operation::Read,
        ),
    ]
    .into()
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn a_consumer_reads_only_while_its_subscription_is_active(pool: PgPool) {
    let s = setup(&pool).await;
    produce(&s.topic).await;
    let id = request_access(&s).await;

    let refused = consume("analyst3", &s.group, &s.topic, Duration::from_secs(5)).await;
    assert!(
        refused.as_ref().is_err_and(|e| e.contains("uthoriz")),
        "before approval the broker refuses: {refused:?}"
    );

    let (status, body) = decide(
        &s,
        &id,
        "approve",
        &s.owner,
        Some(json!({ "comment": "fine" })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let active = wait_for_state(&s, &id, "active", Duration::from_secs(10)).await;
    assert_eq!(
        acls(&s, "User:analyst3").await,
        expected(&s, "User:analyst3")
    );
    // Three partitions: the order across them is the broker's.
    let read = consume("analyst3", &s.group, &s.topic, Duration::from_secs(10))
        .await
        .map(|mut events| {
            events.sort();
            events
        });
    let took = active.elapsed();
    assert_eq!(
        read.as_deref(),
        Ok(&[
            "{\"id\":\"1\"}".to_string(),
            "{\"id\":\"2\"}".to_string(),
            "{\"id\":\"3\"}".to_string()
        ][..])
    );
    assert!(took < Duration::from_secs(5), "read {took:?} after active");
    let (_, body) = show(&s, &id, &s.analyst).await;
    let kcat = body["connection"]["kcat"].as_str().unwrap_or_default();
    assert!(
        kcat.contains(&s.topic) && kcat.contains("sasl.username=analyst3"),
        "{body}"
    );

    let (status, body) = decide(&s, &id, "revoke", &s.analyst, None).await;
    assert_eq!(
        (status, body["state"].clone()),
        (200, json!("revoked")),
        "{body}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !acls(&s, "User:analyst3").await.is_empty() {
        assert!(Instant::now() < deadline, "ACLs were never removed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refused = consume("analyst3", &s.group, &s.topic, Duration::from_secs(5)).await;
    assert!(
        refused.as_ref().is_err_and(|e| e.contains("uthoriz")),
        "after revocation the broker refuses again: {refused:?}"
    );
    let events: Vec<String> = sqlx::query_scalar!(
        "select action from audit_log where target = $1 order by id",
        format!("subscription:{id}"),
    )
    .fetch_all(&pool)
    .await
    .expect("audit");
    assert_eq!(
        events,
        vec![
            "subscription.request",
            "subscription.approve",
            "subscription.activate",
            "subscription.revoke"
        ]
    );
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn disabling_a_user_ends_their_subscriptions_and_removes_their_acls(pool: PgPool) {
    let s = setup(&pool).await;
    produce(&s.topic).await;
    let active = request_access(&s).await;
    let (status, body) = decide(&s, &active, "approve", &s.owner, None).await;
    assert_eq!(status, 200, "{body}");
    wait_for_state(&s, &active, "active", Duration::from_secs(10)).await;
    assert_eq!(
        acls(&s, "User:analyst3").await,
        expected(&s, "User:analyst3")
    );

    // An admin disables analyst3 from the admin page's server function.
    let admin = token_for(&pool, "admin@meshmart.local").await;
    let analyst3 = domain::identity::users::find_by_email(&pool, "analyst3@meshmart.local")
        .await
        .expect("db")
        .expect("user");
    let response = s
        .app
        .client
        .post(format!("{}/api/fn/admin_set_disabled", s.app.address))
        .bearer_auth(&admin)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(format!("id={}&disabled=true", analyst3.id))
        .send()
        .await
        .expect("disable");
    assert!(response.status().is_success(), "{}", response.status());

    // The subscription ended with the account, and the broker follows.
    let (_, body) = show(&s, &active, &s.owner).await;
    assert_eq!(body["state"], "revoked", "{body}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !acls(&s, "User:analyst3").await.is_empty() {
        assert!(Instant::now() < deadline, "ACLs were never removed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refused = consume("analyst3", &s.group, &s.topic, Duration::from_secs(5)).await;
    assert!(
        refused.as_ref().is_err_and(|e| e.contains("uthoriz")),
        "after the account is disabled the broker refuses: {refused:?}"
    );
    let (status, _) = call(
        &s.app,
        reqwest::Method::GET,
        "/subscriptions",
        &s.analyst,
        None,
    )
    .await;
    assert_eq!(status, 401, "the disabled user's token stopped working");
    let ended: Vec<(String, String, Option<String>)> = sqlx::query!(
        r#"select actor, action, after->>'comment' as comment from audit_log
           where target = $1 order by id"#,
        format!("subscription:{active}"),
    )
    .fetch_all(&pool)
    .await
    .expect("audit")
    .into_iter()
    .map(|row| (row.actor, row.action, row.comment))
    .collect();
    assert_eq!(
        ended.last(),
        Some(&(
            "user:admin@meshmart.local".to_string(),
            "subscription.revoke".to_string(),
            Some("user disabled".to_string())
        )),
        "{ended:?}"
    );
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn a_list_shows_the_callers_subscriptions_however_many_others_exist(pool: PgPool) {
    let s = setup(&pool).await;
    let own = request_access(&s).await;
    // 2,500 newer subscriptions of another analyst, which analyst3 may not see.
    sqlx::query!(
        r#"insert into subscriptions
             (product_id, principal, requested_by, consumer_group, purpose, state, created_at)
           select p.id, 'User:analyst1', u.id, 'analyst1.load.', 'load', 'revoked',
                  now() + make_interval(secs => g)
           from products p, users u, generate_series(1, 2500) g
           where p.slug = $1 and u.email = 'analyst1@meshmart.local'"#,
        s.slug,
    )
    .execute(&pool)
    .await
    .expect("others");

    let ids = |body: &Value| -> Vec<String> {
        body["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i["id"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (status, body) = call(
        &s.app,
        reqwest::Method::GET,
        "/subscriptions",
        &s.analyst,
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body), vec![own.clone()]);
    let (_, body) = call(
        &s.app,
        reqwest::Method::GET,
        "/subscriptions?mine=true",
        &s.analyst,
        None,
    )
    .await;
    assert_eq!(ids(&body), vec![own.clone()]);
    // The sales owner decides all of them: the newest 2,000, own request beyond them.
    let (_, body) = call(
        &s.app,
        reqwest::Method::GET,
        "/subscriptions",
        &s.owner,
        None,
    )
    .await;
    let seen = ids(&body);
    assert_eq!(seen.len(), 2000);
    assert!(!seen.contains(&own));
    // Pending ones to decide: only analyst3's request.
    let (_, body) = call(
        &s.app,
        reqwest::Method::GET,
        "/subscriptions?state=pending",
        &s.owner,
        None,
    )
    .await;
    assert_eq!(ids(&body), vec![own]);
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn a_revocation_shows_access_being_removed_until_the_broker_confirms(pool: PgPool) {
    let s = setup(&pool).await;
    let id = request_access(&s).await;
    let (status, body) = decide(&s, &id, "approve", &s.owner, None).await;
    assert_eq!(status, 200, "{body}");
    wait_for_state(&s, &id, "active", Duration::from_secs(10)).await;

    // The owner revokes while this server cannot reach the broker.
    let s = replace_server(
        s,
        spawn_app_with(pool.clone(), |settings| {
            settings.kafka.bootstrap_servers = "127.0.0.1:1".to_string();
        }),
    )
    .await;
    let (status, body) = decide(
        &s,
        &id,
        "revoke",
        &s.owner,
        Some(json!({ "comment": "project over" })),
    )
    .await;
    assert_eq!(
        (status, body["state"].clone()),
        (200, json!("revoked")),
        "{body}"
    );
    // Revoked, and the page says the access is still there: the worker tried and failed.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, body) = show(&s, &id, &s.owner).await;
        assert_eq!(body["state"], "revoked", "{body}");
        assert!(body["access_removed_at"].is_null(), "{body}");
        if body["last_error"].is_string() && body["provision_attempts"].as_i64() >= Some(1) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no failed removal recorded: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        acls(&s, "User:analyst3").await,
        expected(&s, "User:analyst3"),
        "the ACLs are really still on the broker"
    );
    // The requester's page, signed in in a browser session, says so.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client");
    let signed_in = browser
        .post(format!("{}/api/v1/session", s.app.address))
        .json(&json!({ "email": "analyst3@meshmart.local", "password": "meshmart" }))
        .send()
        .await
        .expect("sign in");
    assert_eq!(signed_in.status(), 200);
    let html = browser
        .get(format!("{}/subscriptions", s.app.address))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .unwrap_or_default();
    assert!(
        html.contains("revoked — access still on the broker, removal attempt"),
        "the requester's page says so"
    );

    // Once a server reaches the broker again, the ACLs go and the removal is recorded.
    let s = replace_server(s, spawn_app(pool.clone())).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, body) = show(&s, &id, &s.owner).await;
        if body["access_removed_at"].is_string() {
            assert!(body["last_error"].is_null(), "{body}");
            break;
        }
        assert!(Instant::now() < deadline, "removal never recorded: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(acls(&s, "User:analyst3").await.is_empty());
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn approvals_made_during_a_broker_outage_survive_a_crash(pool: PgPool) {
    seed(&pool).await;
    // The broker is unreachable from this server (nothing listens on port 1).
    let down = spawn_app_with(pool.clone(), |settings| {
        settings.kafka.bootstrap_servers = "127.0.0.1:1".to_string();
    })
    .await;
    let s = setup_with(&pool, down).await;
    let principals = ["analyst1", "analyst2", "analyst3"];
    let mut ids = Vec::new();
    for user in principals {
        let token = token_for(&pool, &format!("{user}@meshmart.local")).await;
        let (status, body) = call(
            &s.app,
            reqwest::Method::POST,
            "/subscriptions",
            &token,
            Some(json!({ "product": s.slug, "group": group_of(&s, user), "purpose": "outage drill" })),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        let id = body["id"].as_str().expect("id").to_string();
        let (status, _) = decide(&s, &id, "approve", &s.owner, None).await;
        assert_eq!(status, 200);
        ids.push(id);
    }
    // The worker tries, fails, and says so on the subscription.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, body) = call(
            &s.app,
            reqwest::Method::GET,
            &format!("/subscriptions/{}", ids[0]),
            &s.owner,
            None,
        )
        .await;
        if body["state"] == "provisioning" && body["last_error"].is_string() {
            assert!(
                body["provision_attempts"].as_i64().unwrap_or(0) >= 1,
                "{body}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no failed attempt recorded: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // kill -9: the server task is dropped mid-flight, no graceful shutdown.
    let s = replace_server(s, spawn_app(pool.clone())).await;
    for id in &ids {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (_, body) = show(&s, id, &s.owner).await;
            if body["state"] == "active" {
                break;
            }
            assert!(Instant::now() < deadline, "never became active: {body}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    for user in principals {
        let principal = format!("User:{user}");
        assert_eq!(
            acls(&s, &principal).await,
            expected(&s, &principal),
            "{principal}"
        );
    }
}

/// An active subscription of analyst3's, on a server whose reconciler runs every
/// `reconcile_seconds`; and the READ on its topic the broker holds for it.
async fn active_subscription(pool: &PgPool, reconcile_seconds: u64) -> (Setup, AclBinding) {
    seed(pool).await;
    let app = spawn_app_with(pool.clone(), |settings| {
        settings.provisioning.reconcile_interval_seconds = reconcile_seconds;
    })
    .await;
    let s = setup_with(pool, app).await;
    let id = request_access(&s).await;
    let (status, _) = decide(&s, &id, "approve", &s.owner, None).await;
    assert_eq!(status, 200);
    wait_for_state(&s, &id, "active", Duration::from_secs(10)).await;
    let read = expected(&s, "User:analyst3")
        .into_iter()
        .find(|b| b.resource_type == ResourceType::Topic && b.operation == Operation::Read)
        .expect("topic read");
    (s, read)
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn the_reconciler_restores_deleted_acls_and_removes_unexplained_ones(pool: PgPool) {
    let (s, read) = active_subscription(&pool, 1).await;
    let broker = admin();
    let deleted = broker
        .delete_acls(vec![AclFilter::exact(&read)])
        .await
        .expect("delete by hand");
    assert_eq!(deleted, vec![read.clone()]);
    let stranger = AclBinding {
        principal: "User:analyst1".to_string(),
        ..read.clone()
    };
    broker
        .create_acls(vec![stranger.clone()])
        .await
        .expect("unexplained ACL");

    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let restored = acls(&s, "User:analyst3").await == expected(&s, "User:analyst3");
        let removed = acls(&s, "User:analyst1").await.is_empty();
        if restored && removed {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the reconciler did not repair within its interval"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let repairs: Vec<String> = sqlx::query_scalar!(
        r#"select action || ' ' || target as "repair!" from audit_log
           where actor = 'system:reconciler' order by id"#,
    )
    .fetch_all(&pool)
    .await
    .expect("audit");
    assert!(
        repairs.contains(&format!(
            "acl.repair.create acl:User:analyst3:topic:{}:read",
            s.topic
        )),
        "{repairs:?}"
    );
    assert!(
        repairs.contains(&format!(
            "acl.repair.delete acl:User:analyst1:topic:{}:read",
            s.topic
        )),
        "{repairs:?}"
    );
}

/// ACL drift as an incident, over the API: an ACL of an active subscription deleted on the
/// broker by hand is seen by the incident detector (two rounds, so one in flight is not
/// drift), opened as `acl_missing` with the ACL as evidence, repaired at once (the policy's
/// ACLs, nothing more), and shown to the product's owner and to the subscriber.
#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn a_deleted_acl_is_an_incident_repaired_at_once_and_shown_to_owner_and_subscriber(
    pool: PgPool,
) {
    // The reconciler stays out of the way: the detector finds the drift first.
    let (s, read) = active_subscription(&pool, 3600).await;
    let broker = admin();
    broker
        .delete_acls(vec![AclFilter::exact(&read)])
        .await
        .expect("delete by hand");

    let config = settings().kafka.broker_config();
    let mut detector = domain::incidents::detect::Detector::default();
    for _ in 0..3 {
        detector
            .round(&pool, &broker, &config, chrono::Utc::now())
            .await
            .expect("a round");
    }
    assert_eq!(
        acls(&s, "User:analyst3").await,
        expected(&s, "User:analyst3"),
        "repaired to exactly what the policy grants"
    );

    for token in [&s.owner, &s.analyst] {
        let (status, list) = call(
            &s.app,
            reqwest::Method::GET,
            "/incidents?state=open",
            token,
            None,
        )
        .await;
        assert_eq!(status, 200, "{list}");
        let incident = list["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|i| i["cause"] == "acl_missing")
            .unwrap_or_else(|| panic!("an acl_missing incident: {list}"))
            .clone();
        assert!(
            incident["evidence"].to_string().contains(&s.topic),
            "the missing ACL is the evidence: {incident}"
        );
        assert!(
            incident["actions"]
                .as_array()
                .expect("actions")
                .iter()
                .any(|a| a["action"] == "repair_acls" && a["outcome"] == "done"),
            "repaired automatically: {incident}"
        );
    }
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn in_dry_run_the_reconciler_only_reports(pool: PgPool) {
    seed(&pool).await;
    let app = spawn_app_with(pool.clone(), |settings| {
        settings.provisioning.reconcile_interval_seconds = 1;
        settings.provisioning.reconcile_dry_run = true;
    })
    .await;
    let s = setup_with(&pool, app).await;
    let id = request_access(&s).await;
    decide(&s, &id, "approve", &s.owner, None).await;
    wait_for_state(&s, &id, "active", Duration::from_secs(10)).await;
    let stranger = AclBinding {
        principal: "User:analyst1".to_string(),
        ..expected(&s, "User:analyst3")
            .into_iter()
            .next()
            .expect("a binding")
    };
    admin()
        .create_acls(vec![stranger.clone()])
        .await
        .expect("unexplained ACL");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let reported: i64 = sqlx::query_scalar!(
            r#"select count(*) as "count!" from audit_log where action = 'acl.drift.unexplained'"#,
        )
        .fetch_one(&pool)
        .await
        .expect("audit");
        if reported > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "drift was not reported");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        acls(&s, "User:analyst1").await.contains(&stranger),
        "dry run left it in place"
    );
    admin()
        .delete_acls(vec![AclFilter::exact(&stranger)])
        .await
        .expect("clean up");
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn only_owners_of_the_products_domain_and_admins_decide(pool: PgPool) {
    let s = setup(&pool).await;
    let id = request_access(&s).await;
    let other_owner = token_for(&pool, "owner.customer-management@meshmart.local").await;
    let other_analyst = token_for(&pool, "analyst1@meshmart.local").await;
    for token in [&s.analyst, &other_analyst, &other_owner] {
        let (status, body) = decide(&s, &id, "approve", token, None).await;
        assert_eq!(status, 403, "{body}");
    }
    // Others cannot even see it.
    let (status, _) = show(&s, &id, &other_analyst).await;
    assert_eq!(status, 404);
    // A second request for the same principal points at the first.
    let (status, body) = call(
        &s.app,
        reqwest::Method::POST,
        "/subscriptions",
        &s.analyst,
        Some(json!({ "product": s.slug, "purpose": "again" })),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("/subscriptions#{id}")),
        "{body}"
    );
    let (status, body) = decide(
        &s,
        &id,
        "reject",
        &s.owner,
        Some(json!({ "comment": "use the aggregate product" })),
    )
    .await;
    assert_eq!(
        (status, body["state"].clone()),
        (200, json!("rejected")),
        "{body}"
    );
    let (status, _) = decide(&s, &id, "approve", &s.owner, None).await;
    assert_eq!(status, 409, "a rejected request cannot be approved");
    let (_, mine) = call(
        &s.app,
        reqwest::Method::GET,
        "/subscriptions?mine=true",
        &s.analyst,
        None,
    )
    .await;
    assert_eq!(
        mine["items"][0]["decision_comment"],
        "use the aggregate product"
    );
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn bad_requests_name_the_field_and_store_nothing(pool: PgPool) {
    let s = setup(&pool).await;
    let cases = [
        (json!({ "product": s.slug, "purpose": "  " }), "purpose"),
        (
            json!({ "product": "no-such-product", "purpose": "x" }),
            "product",
        ),
        (
            json!({ "product": s.slug, "purpose": "x", "ports": ["not.a.port"] }),
            "ports",
        ),
        (
            json!({ "product": s.slug, "purpose": "x", "principal": "User:analyst1" }),
            "principal",
        ),
        (
            json!({ "product": s.slug, "purpose": "x", "group": "has space" }),
            "group",
        ),
        (
            // Another application's consumer groups are out of reach.
            json!({ "product": s.slug, "purpose": "x", "group": "svc-marketing-campaigns." }),
            "group",
        ),
        (
            json!({ "product": s.slug, "purpose": "x", "until": "2001-01-01T00:00:00Z" }),
            "until",
        ),
        (
            json!({ "product": s.slug, "purpose": "x", "until": "tomorrow" }),
            "body",
        ),
        (json!({ "purpose": "x" }), "body"),
    ];
    for (body, field) in cases {
        let (status, answer) = call(
            &s.app,
            reqwest::Method::POST,
            "/subscriptions",
            &s.analyst,
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{body}: {answer}");
    }
    let (status, _) = call(
        &s.app,
        reqwest::Method::GET,
        "/subscriptions?state=sleeping",
        &s.analyst,
        None,
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = call(
        &s.app,
        reqwest::Method::GET,
        "/subscriptions/not-a-uuid",
        &s.analyst,
        None,
    )
    .await;
    assert_eq!(status, 404);
    let stored: i64 = sqlx::query_scalar!(r#"select count(*) as "count!" from subscriptions"#,)
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(stored, 0);
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn subscriptions_end_at_their_end_date_after_a_warning(pool: PgPool) {
    let s = setup(&pool).await;
    let until = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
    let (status, body) = call(
        &s.app,
        reqwest::Method::POST,
        "/subscriptions",
        &s.analyst,
        Some(json!({ "product": s.slug, "group": s.group, "purpose": "a short study", "until": until })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().expect("id").to_string();
    decide(&s, &id, "approve", &s.owner, None).await;
    wait_for_state(&s, &id, "active", Duration::from_secs(10)).await;

    assert_eq!(
        domain::subscriptions::warn_expiring(&pool)
            .await
            .expect("warn"),
        1
    );
    assert_eq!(
        domain::subscriptions::warn_expiring(&pool)
            .await
            .expect("warn"),
        0,
        "once"
    );
    let message: String = sqlx::query_scalar!("select message from notifications",)
        .fetch_one(&pool)
        .await
        .expect("notification");
    assert!(message.contains("User:analyst3"), "{message}");

    sqlx::query!(
        "update subscriptions set until = now() - interval '1 second' where id = $1::text::uuid",
        id,
    )
    .execute(&pool)
    .await
    .expect("time passes");
    assert_eq!(
        domain::subscriptions::expire_due(&pool)
            .await
            .expect("expire"),
        1
    );
    wait_for_state(&s, &id, "expired", Duration::from_secs(1)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !acls(&s, "User:analyst3").await.is_empty() {
        assert!(
            Instant::now() < deadline,
            "the ACLs of an expired subscription stayed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A request nobody decides before its end date expires too, and says so.
    let until = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let (status, body) = call(
        &s.app,
        reqwest::Method::POST,
        "/subscriptions",
        &s.analyst,
        Some(json!({ "product": s.slug, "group": s.group, "purpose": "a second look", "until": until })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let undecided = body["id"].as_str().expect("id").to_string();
    sqlx::query!(
        "update subscriptions set until = now() - interval '1 second' where id = $1::text::uuid",
        undecided,
    )
    .execute(&pool)
    .await
    .expect("time passes");
    assert_eq!(
        domain::subscriptions::expire_due(&pool)
            .await
            .expect("expire"),
        1
    );
    wait_for_state(&s, &undecided, "expired", Duration::from_secs(1)).await;
    let ended: Vec<(String, String, String)> = sqlx::query!(
        r#"select n.message, n.link as "link!", u.email
           from notifications n join users u on u.id = n.user_id
           where n.kind = 'subscription.expired' order by n.id"#,
    )
    .fetch_all(&pool)
    .await
    .expect("notifications")
    .into_iter()
    .map(|row| (row.message, row.link, row.email))
    .collect();
    assert_eq!(ended.len(), 2, "{ended:?}");
    assert!(
        ended[0].0.starts_with("Access of User:analyst3 to ")
            && ended[0].0.contains(" expired on "),
        "{ended:?}"
    );
    assert_eq!(ended[0].1, format!("/subscriptions#{id}"));
    assert!(
        ended[1].0.starts_with("The request of User:analyst3 for ")
            && ended[1].0.ends_with("before anyone decided it"),
        "{ended:?}"
    );
    assert_eq!(ended[1].1, format!("/subscriptions#{undecided}"));
    assert!(
        ended
            .iter()
            .all(|(_, _, to)| to == "analyst3@meshmart.local")
    );
    // They are among the requester's unread notifications, which their page lists.
    let analyst3 = domain::identity::users::find_by_email(&pool, "analyst3@meshmart.local")
        .await
        .expect("db")
        .expect("user");
    let unread = domain::subscriptions::notifications(&pool, &analyst3)
        .await
        .expect("notifications");
    assert_eq!(
        unread
            .iter()
            .filter(|n| n.kind == "subscription.expired")
            .count(),
        2
    );
}

/// Whether a client can sign in to the broker as `user` with SCRAM-SHA-512.
async fn scram_login(user: &str, password: &str) -> Result<(), String> {
    let kafka = settings().kafka;
    let (user, password) = (user.to_string(), password.to_string());
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &kafka.bootstrap_servers)
            .set("security.protocol", "SASL_PLAINTEXT")
            .set("sasl.mechanisms", "SCRAM-SHA-512")
            .set("sasl.username", &user)
            .set("sasl.password", &password)
            .create()
            .map_err(|e| e.to_string())?;
        consumer
            .fetch_metadata(None, Duration::from_secs(5))
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .await
    .expect("login thread")
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn owners_issue_scram_credentials_for_their_service_accounts(pool: PgPool) {
    seed(&pool).await;
    let app = spawn_app(pool.clone()).await;
    let owner = token_for(&pool, "owner.marketing@meshmart.local").await;
    let analyst = token_for(&pool, "analyst1@meshmart.local").await;
    let path = "/domains/marketing/service-accounts/svc-marketing-campaigns/credentials";
    let (status, _) = call(&app, reqwest::Method::POST, path, &analyst, None).await;
    assert_eq!(status, 403);
    let (status, _) = call(
        &app,
        reqwest::Method::POST,
        "/domains/marketing/service-accounts/no-such-account/credentials",
        &owner,
        None,
    )
    .await;
    assert_eq!(status, 404);

    let (status, first) = call(&app, reqwest::Method::POST, path, &owner, None).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["username"], "svc-marketing-campaigns");
    assert_eq!(first["mechanism"], "SCRAM-SHA-512");
    let password = first["password"].as_str().expect("password").to_string();
    assert!(password.len() >= 32);
    assert_eq!(
        scram_login("svc-marketing-campaigns", &password).await,
        Ok(())
    );
    assert!(
        scram_login("svc-marketing-campaigns", "not-the-password")
            .await
            .is_err()
    );

    // Rotating replaces it: the old password stops working.
    let (status, second) = call(&app, reqwest::Method::POST, path, &owner, None).await;
    assert_eq!(status, 201);
    let rotated = second["password"].as_str().expect("password");
    assert_ne!(rotated, password);
    assert_eq!(
        scram_login("svc-marketing-campaigns", rotated).await,
        Ok(())
    );
    assert!(
        scram_login("svc-marketing-campaigns", &password)
            .await
            .is_err()
    );
    let audited: i64 = sqlx::query_scalar!(
        r#"select count(*) as "count!" from audit_log where action = 'service_account.credential'"#,
    )
    .fetch_one(&pool)
    .await
    .expect("audit");
    assert_eq!(audited, 2);
    let leaked: i64 = sqlx::query_scalar!(
        r#"select count(*) as "count!" from audit_log where after::text like $1"#,
        format!("%{password}%"),
    )
    .fetch_one(&pool)
    .await
    .expect("audit");
    assert_eq!(leaked, 0, "the password is never stored");
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn notifications_stay_unread_until_the_ones_shown_are_dismissed(pool: PgPool) {
    domain::demo::seed_parts(&pool, &[domain::demo::Part::Identities], false)
        .await
        .expect("demo");
    let find = |email: &'static str| {
        let pool = pool.clone();
        async move {
            domain::identity::users::find_by_email(&pool, email)
                .await
                .expect("db")
                .expect("demo user")
        }
    };
    let (analyst1, analyst2) = (
        find("analyst1@meshmart.local").await,
        find("analyst2@meshmart.local").await,
    );
    let notify = |user: uuid::Uuid, n: i32| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar!(
                r#"insert into notifications (user_id, kind, message, created_at)
                   values ($1, 'subscription.expiring', 'note ' || $2::int, now() - make_interval(secs => 1000 - $2::int))
                   returning id"#,
                user,
                n,
            )
            .fetch_one(&pool)
            .await
            .expect("notification")
        }
    };
    for n in 0..60 {
        notify(analyst1.id, n).await;
    }
    let foreign = notify(analyst2.id, 0).await;
    let unread = |user: domain::identity::User| {
        let pool = pool.clone();
        async move {
            let policy = domain::policy::Policy::load(&pool).await.expect("policy");
            domain::subscriptions::badge_counts(&pool, &policy, &user)
                .await
                .expect("count")
                .unread
        }
    };
    let app = spawn_app(pool.clone()).await;
    let token = token_for(&pool, "analyst1@meshmart.local").await;

    // Rendering the page (twice) changes nothing.
    let mut shown = String::new();
    for _ in 0..2 {
        let page = app
            .client
            .get(format!("{}/subscriptions", app.address))
            .bearer_auth(&token)
            .send()
            .await
            .expect("page");
        assert_eq!(page.status(), 200);
        let html = page.text().await.expect("html");
        let start = html
            .find(r#"name="ids" value=""#)
            .expect("a Mark as read form")
            + 18;
        shown = html[start..start + html[start..].find('"').expect("end")].to_string();
    }
    assert_eq!(
        unread(analyst1.clone()).await,
        60,
        "a GET marks nothing read"
    );
    let shown_ids: Vec<i64> = shown.split(',').map(|id| id.parse().expect("id")).collect();
    assert_eq!(shown_ids.len(), 50, "the page shows the newest 50");

    // One arrives after the page was rendered; the dismissal names another user's too.
    notify(analyst1.id, 999).await;
    let dismiss = |ids: String| {
        app.client
            .post(format!("{}/api/fn/mark_notifications_read", app.address))
            .bearer_auth(&token)
            .header("accept", "application/json")
            .form(&[("ids", ids)])
            .send()
    };
    let done = dismiss(format!("{shown},{foreign}"))
        .await
        .expect("dismiss");
    assert_eq!(done.status(), 200);
    assert_eq!(done.json::<Value>().await.expect("json"), json!(50));
    assert_eq!(
        unread(analyst1.clone()).await,
        11,
        "the 10 not shown and the one that came later stay unread"
    );
    assert_eq!(
        unread(analyst2).await,
        1,
        "another user's notification is untouched"
    );
    let left = domain::subscriptions::notifications(&pool, &analyst1)
        .await
        .expect("left");
    assert!(left.iter().all(|n| !shown_ids.contains(&n.id)));

    let bad = dismiss("1,two".into()).await.expect("dismiss");
    assert_eq!(bad.status(), 422);
    assert_eq!(unread(analyst1).await, 11, "a bad request changes nothing");
}

/// Reads up to `count` records from `topic` in group `group` as `user`, committing what it
/// read, and leaves the group; how many it read.
fn read_committing(user: &str, group: &str, topic: &str, count: usize) -> usize {
    let consumer: BaseConsumer = client_as(Some(user))
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribed");
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut read = 0;
    while read < count && Instant::now() < deadline {
        if let Some(Ok(_)) = consumer.poll(Duration::from_millis(100)) {
            read += 1;
        }
    }
    consumer
        .commit_consumer_state(rdkafka::consumer::CommitMode::Sync)
        .expect("committed");
    read
}

/// A running application: joins `group` on `topic` as `user`, says so on `joined` once it
/// has partitions, and stays `hold` long.
fn hold_group(
    user: &str,
    group: &str,
    topic: &str,
    joined: std::sync::mpsc::Sender<()>,
    hold: Duration,
) {
    let consumer: BaseConsumer = client_as(Some(user))
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribed");
    let until = Instant::now() + hold;
    let mut told = false;
    while Instant::now() < until {
        consumer.poll(Duration::from_millis(100));
        if !told && consumer.assignment().is_ok_and(|a| a.count() > 0) {
            told = joined.send(()).is_ok();
        }
    }
}

/// `group`'s committed offsets on `topic`, summed over its partitions (missing ones as 0).
async fn committed_total(group: &str, topic: &str) -> i64 {
    let (group, topic) = (group.to_string(), topic.to_string());
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = client_as(None)
            .set("group.id", &group)
            .create()
            .expect("consumer");
        let mut partitions = rdkafka::TopicPartitionList::new();
        for partition in 0..3 {
            partitions.add_partition(&topic, partition);
        }
        consumer
            .committed_offsets(partitions, Duration::from_secs(10))
            .expect("committed")
            .elements()
            .iter()
            .filter_map(|element| element.offset().to_raw())
            .filter(|offset| *offset >= 0)
            .sum()
    })
    .await
    .expect("thread")
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn a_subscriber_replays_its_group_from_a_time_but_not_while_it_runs(pool: PgPool) {
    let s = setup(&pool).await;
    let before = chrono::Utc::now() - chrono::TimeDelta::seconds(60);
    produce(&s.topic).await;
    let id = request_access(&s).await;
    let (status, body) = decide(&s, &id, "approve", &s.owner, None).await;
    assert_eq!(status, 200, "{body}");
    wait_for_state(&s, &id, "active", Duration::from_secs(10)).await;
    let group = format!("{}welcome", s.group);
    let (user, g, topic) = ("analyst3", group.clone(), s.topic.clone());
    let read = tokio::task::spawn_blocking(move || read_committing(user, &g, &topic, 3))
        .await
        .expect("thread");
    assert_eq!(read, 3);
    assert_eq!(committed_total(&group, &s.topic).await, 3);
    let replay = |token: String, body: Value| {
        let path = format!("/subscriptions/{id}/replay");
        let app = &s.app;
        async move { call(app, reqwest::Method::POST, &path, &token, Some(body)).await }
    };

    // Bad input names its field and moves nothing.
    let (status, body) = replay(
        s.analyst.clone(),
        json!({"group": group, "to": "yesterday"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("to")),
        "{body}"
    );
    let (status, body) = replay(
        s.analyst.clone(),
        json!({"group": "someone-else.app", "to": "earliest"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("group")),
        "{body}"
    );
    // Another analyst may not.
    let other = token_for(&pool, "analyst1@meshmart.local").await;
    let (status, _) = replay(other, json!({"group": group, "to": "earliest"})).await;
    assert_eq!(status, 403);
    assert_eq!(committed_total(&group, &s.topic).await, 3, "nothing moved");

    // While the application runs, the replay is refused and says why.
    let (user, g, topic) = ("analyst3", group.clone(), s.topic.clone());
    let (joined, has_joined) = std::sync::mpsc::channel();
    let running = tokio::task::spawn_blocking(move || {
        hold_group(user, &g, &topic, joined, Duration::from_secs(6))
    });
    tokio::task::spawn_blocking(move || has_joined.recv_timeout(Duration::from_secs(15)))
        .await
        .expect("thread")
        .expect("the application joined its group");
    let refused = replay(
        s.analyst.clone(),
        json!({"group": group, "to": before.to_rfc3339()}),
    )
    .await;
    assert_eq!(refused.0, 409, "{}", refused.1);
    assert!(
        refused.1["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("active member") && m.contains("stop its consumers")),
        "{}",
        refused.1
    );
    running.await.expect("thread");

    // Stopped, the group goes back to a minute ago: its three records are read again.
    let (status, body) = replay(
        s.analyst.clone(),
        json!({"group": group, "to": before.to_rfc3339()}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["offsets_back"], 3, "{body}");
    assert_eq!(body["cut_by_retention"], false, "{body}");
    assert_eq!(committed_total(&group, &s.topic).await, 0);
    let (user, g, topic) = ("analyst3", group.clone(), s.topic.clone());
    let again = tokio::task::spawn_blocking(move || read_committing(user, &g, &topic, 3))
        .await
        .expect("thread");
    assert_eq!(again, 3, "the replayed records are read again");
    // The owner may replay for the subscriber; replaying to the same point twice is the
    // same move.
    for _ in 0..2 {
        let (status, body) =
            replay(s.owner.clone(), json!({"group": group, "to": "earliest"})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(committed_total(&group, &s.topic).await, 0);
    }
    let replays: i64 = sqlx::query_scalar!(
        r#"select count(*) as "count!" from audit_log where target = $1 and action = 'subscription.replay'"#,
        format!("subscription:{id}"),
    )
    .fetch_one(&pool)
    .await
    .expect("audit");
    assert_eq!(replays, 3, "each replay is audited, refused ones are not");
}
