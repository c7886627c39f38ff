//! Incidents end to end on the real database and broker: a product whose records stop
//! arriving (its measured points, as the checker writes them, fall to zero after two hours
//! of a steady rate) opens one `producer_stopped` incident when the detector runs a round
//! (its model learned from the history first); its owner sees it over the API with the
//! evidence and the learned band, an analyst who does not subscribe does not; an owner's
//! `notify` runs once (a second time is refused) and reaches the domain's owners in-app; an
//! action that does not fit is refused; and once records flow again the incident resolves.

use chrono::{Duration, Utc};
use domain::incidents::detect::Detector;
use serde_json::Value;
use server::configuration::Settings;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{spawn_app, token_for};

const OWNER: &str = "owner.customer-management@meshmart.local";
const ANALYST: &str = "analyst1@meshmart.local";
const PRODUCT: &str = "customer-signed-up";

/// Two hours of 10-second points at about 5 records/s for the product's port, ending
/// `silent_steps` steps before the newest complete one, which are left without records.
async fn history(pool: &PgPool, silent_steps: i64) -> Uuid {
    let port: Uuid = sqlx::query_scalar!(
        "select o.id from output_ports o join products p on p.id = o.product_id where p.slug = $1",
        PRODUCT,
    )
    .fetch_one(pool)
    .await
    .expect("the demo port");
    let newest = domain::incidents::signals::last_complete_step(Utc::now());
    let start = newest - Duration::hours(2);
    sqlx::query!(
        "insert into port_health (port_id, last_event_at, first_checked_at, last_checked_at, records)
         values ($1, $2, $3, now(), 0)
         on conflict (port_id) do update set last_event_at = excluded.last_event_at",
        port,
        (Utc::now() - Duration::seconds(10 * silent_steps)) as domain::db::Timestamp,
        (start - Duration::seconds(10)) as domain::db::Timestamp,
    )
    .execute(pool)
    .await
    .expect("port health");
    sqlx::query!(
        "insert into health_points (port_id, at, records, valid)
         select $1, t, 45 + (extract(epoch from t)::bigint / 10) % 11, 45 + (extract(epoch from t)::bigint / 10) % 11
         from generate_series($2::timestamptz, $3::timestamptz, interval '10 seconds') t
         on conflict do nothing",
        port,
        start as domain::db::Timestamp,
        (newest - Duration::seconds(10 * silent_steps)) as domain::db::Timestamp,
    )
    .execute(pool)
    .await
    .expect("points");
    port
}

fn detector_parts() -> (domain::broker::BrokerAdmin, domain::broker::BrokerConfig) {
    let settings = Settings::load(None).expect("test settings");
    let config = settings.kafka.broker_config();
    let admin = domain::broker::BrokerAdmin::new(&config).expect("admin client");
    (admin, config)
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn a_silent_product_opens_one_diagnosed_incident_its_owner_acts_on(pool: PgPool) {
    domain::demo::seed(&pool, false).await.expect("demo data");
    let (admin, config) = detector_parts();
    let mut detector = Detector::default();

    // The first round learns the normal band (two hours of ~5/s); nothing is wrong yet.
    let port = history(&pool, 0).await;
    let first = detector
        .round(&pool, &admin, &config, Utc::now())
        .await
        .expect("a round");
    assert!(first.trained >= 1, "{first:?}");
    // What /metrics reports as meshmart_detector_training_seconds.
    assert!(first.training_seconds > 0.0, "{first:?}");
    assert!(first.opened.is_empty(), "{first:?}");

    // Then the producer stops: three steps without records.
    sqlx::query!(
        "delete from health_points where port_id = $1 and at > $2",
        port,
        (domain::incidents::signals::last_complete_step(Utc::now()) - Duration::seconds(30))
            as domain::db::Timestamp,
    )
    .execute(&pool)
    .await
    .expect("silence");
    let round = detector
        .round(&pool, &admin, &config, Utc::now())
        .await
        .expect("a round");
    assert_eq!(round.opened.len(), 1, "{round:?}");
    let again = detector
        .round(&pool, &admin, &config, Utc::now())
        .await
        .expect("a round");
    assert!(
        again.opened.is_empty(),
        "one incident per channel and signal: {again:?}"
    );
    let id = round.opened[0];

    let app = spawn_app(pool.clone()).await;
    let owner = token_for(&pool, OWNER).await;
    let analyst = token_for(&pool, ANALYST).await;
    let (status, list) = app
        .call(reqwest::Method::GET, "/api/v1/incidents?state=open", &owner)
        .await;
    assert_eq!(status, 200, "{list}");
    let items = list["items"].as_array().expect("items");
    let item = items
        .iter()
        .find(|i| i["id"] == id.to_string())
        .expect("listed");
    assert_eq!(item["cause"], "producer_stopped", "{item}");
    assert_eq!(item["signal"], "rate_in");
    assert_eq!(item["channel"]["product"], PRODUCT);
    assert!(
        item["confidence"].as_f64().expect("confidence") >= 0.5,
        "{item}"
    );
    assert!(
        item["evidence"].as_array().is_some_and(|e| !e.is_empty()),
        "{item}"
    );

    let (status, list) = app
        .call(reqwest::Method::GET, "/api/v1/incidents", &analyst)
        .await;
    assert_eq!(status, 200);
    assert!(
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|i| i["id"] != id.to_string()),
        "an analyst without a subscription does not see it: {list}"
    );
    let (status, _) = app
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/incidents/{id}"),
            &analyst,
        )
        .await;
    assert_eq!(status, 404);

    let (status, detail) = app
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/incidents/{id}"),
            &owner,
        )
        .await;
    assert_eq!(status, 200, "{detail}");
    assert!(
        !detail["chart"]["points"]
            .as_array()
            .expect("points")
            .is_empty(),
        "{detail}"
    );
    assert!(
        !detail["chart"]["band"].as_array().expect("band").is_empty(),
        "{detail}"
    );
    assert_eq!(detail["timeline"][0]["kind"], "opened");
    // The detector notified when it opened the incident: notify is no longer offered.
    assert_eq!(detail["actions"][0]["action"], "notify", "{detail}");
    assert_eq!(detail["actions"][0]["actor"], "detector");
    assert!(
        detail["offered"]
            .as_array()
            .expect("offered")
            .iter()
            .all(|o| o["action"] != "notify"),
        "{detail}"
    );

    // The detector notified on opening; an owner cannot run it a second time.
    let notified: i64 = sqlx::query_scalar!(
        r#"select count(*) as "count!" from notifications where kind = 'incident.opened' and link = $1"#,
        format!("/incidents/{id}"),
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert!(notified >= 1, "the domain's owners were told");
    let path = format!("/api/v1/incidents/{id}/actions/notify");
    let (status, body) = app.call(reqwest::Method::POST, &path, &owner).await;
    assert_eq!(status, 409, "{body}");
    let path = format!("/api/v1/incidents/{id}/actions/restart");
    let (status, body) = app.call(reqwest::Method::POST, &path, &owner).await;
    assert_eq!(
        status, 409,
        "a product incident has no node to restart: {body}"
    );
    let path = format!("/api/v1/incidents/{id}/actions/reboot-everything");
    let (status, _) = app.call(reqwest::Method::POST, &path, &owner).await;
    assert_eq!(status, 404);
    let path = format!("/api/v1/incidents/{id}/actions/notify");
    let (status, _) = app.call(reqwest::Method::POST, &path, &analyst).await;
    assert_eq!(status, 404, "an analyst cannot act on what they cannot see");
    let (status, body) = app
        .call(
            reqwest::Method::GET,
            "/api/v1/incidents?state=maybe",
            &owner,
        )
        .await;
    assert_eq!(status, 400, "{body}");

    // Records flow again: after quiet rounds the incident resolves.
    history(&pool, 0).await;
    for _ in 0..3 {
        detector
            .round(&pool, &admin, &config, Utc::now())
            .await
            .expect("a round");
    }
    let state: String = sqlx::query_scalar!("select state from incidents where id = $1", id,)
        .fetch_one(&pool)
        .await
        .expect("state");
    assert_eq!(state, "resolved");
    app.stop().await;
}

/// The actions offered on an incident, as its owner sees them.
async fn offered(app: &crate::helpers::TestApp, id: Uuid, token: &str) -> Vec<String> {
    let (status, detail) = app
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/incidents/{id}"),
            token,
        )
        .await;
    assert_eq!(status, 200, "{detail}");
    detail["offered"]
        .as_array()
        .expect("offered")
        .iter()
        .map(|o| o["action"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Quarantine on a schema-drift incident: offered while the port follows its contract,
/// and then `monitor` instead; the checker's override follows each. An action refused
/// because it does not fit the port's state is on the timeline as failed, and may be taken
/// once it fits; one done is never run twice.
#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn quarantine_and_monitor_are_offered_by_the_ports_state_and_a_failed_action_may_be_retried(
    pool: PgPool,
) {
    domain::demo::seed(&pool, false).await.expect("demo data");
    let product = domain::traffic::product(&pool, PRODUCT)
        .await
        .expect("product");
    let id = drift_incident(&pool, &product.topic).await;
    let app = spawn_app(pool.clone()).await;
    let owner = token_for(&pool, OWNER).await;
    let overridden = || async {
        sqlx::query_scalar!(
            "select policy_override from output_ports where topic = $1",
            product.topic,
        )
        .fetch_one(&pool)
        .await
        .expect("port")
    };

    let offers = offered(&app, id, &owner).await;
    assert!(offers.contains(&"quarantine".to_owned()), "{offers:?}");
    assert!(
        !offers.contains(&"monitor".to_owned()),
        "the port follows its contract already: {offers:?}"
    );
    // Asked anyway, monitor is refused and recorded as failed.
    let monitor = format!("/api/v1/incidents/{id}/actions/monitor");
    let (status, body) = app.call(reqwest::Method::POST, &monitor, &owner).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body.to_string().contains("follows its contract"),
        "says why: {body}"
    );

    let quarantine = format!("/api/v1/incidents/{id}/actions/quarantine");
    let (status, body) = app.call(reqwest::Method::POST, &quarantine, &owner).await;
    assert_eq!(
        (status, &body["outcome"]),
        (200, &Value::from("done")),
        "{body}"
    );
    assert_eq!(overridden().await.as_deref(), Some("quarantine"));
    let offers = offered(&app, id, &owner).await;
    assert!(offers.contains(&"monitor".to_owned()), "{offers:?}");
    assert!(!offers.contains(&"quarantine".to_owned()), "{offers:?}");
    let (status, _) = app.call(reqwest::Method::POST, &quarantine, &owner).await;
    assert_eq!(status, 409, "done once per incident");

    // The monitor refused before is taken now that it fits.
    let (status, body) = app.call(reqwest::Method::POST, &monitor, &owner).await;
    assert_eq!(
        (status, &body["outcome"]),
        (200, &Value::from("done")),
        "{body}"
    );
    assert_eq!(overridden().await, None);
    let outcomes: Vec<(String, String)> = sqlx::query!(
        r#"select action as "action!", outcome as "outcome!" from incident_events
           where incident_id = $1 and kind = 'action' order by at, id"#,
        id,
    )
    .fetch_all(&pool)
    .await
    .expect("timeline")
    .into_iter()
    .map(|row| (row.action, row.outcome))
    .collect();
    assert_eq!(
        outcomes,
        [
            ("monitor".to_owned(), "failed".to_owned()),
            ("quarantine".to_owned(), "done".to_owned()),
            ("monitor".to_owned(), "done".to_owned()),
        ]
    );
    app.stop().await;
}

/// Every committed record of `topic` whose key starts with `prefix`: its key and headers.
async fn keyed(
    topic: &str,
    prefix: &str,
) -> Vec<(String, std::collections::HashMap<String, String>)> {
    crate::helpers::committed(topic)
        .await
        .into_iter()
        .filter(|record| record.key.starts_with(prefix))
        .map(|record| (record.key, record.headers))
        .collect()
}

/// A quarantined port's dead letters, after a fix: the owner's `reprocess_dead_letters`
/// publishes the ones that now pass to the product's topic once, with their own key and
/// headers (not the checker's), leaves the still-invalid ones, records each outcome, and
/// runs once per incident; a second run reads nothing (the offsets committed with the
/// records).
/// An open schema-drift incident on the demo product's port `topic`, as the detector
/// would open it.
async fn drift_incident(pool: &PgPool, topic: &str) -> Uuid {
    sqlx::query_scalar!(
        "insert into incidents (state, channel, channel_kind, product_id, signal, cause,
             confidence, summary, started_at)
         select 'open', 'product:' || p.slug || '/' || $2, 'product', p.id, 'invalid_ratio',
             'schema_drift', 0.9, 'Records use a schema the registry does not know', now()
         from products p where p.slug = $1
         returning id",
        PRODUCT,
        topic,
    )
    .fetch_one(pool)
    .await
    .expect("incident")
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn dead_letters_that_pass_now_are_published_again_exactly_once(pool: PgPool) {
    use rdkafka::message::{Header, OwnedHeaders};
    use rdkafka::producer::FutureRecord;

    domain::demo::seed(&pool, false).await.expect("demo data");
    let settings = Settings::load(None).expect("test settings");
    let broker = settings.kafka.broker_config();
    let admin = domain::broker::BrokerAdmin::new(&broker).expect("admin");
    let product = domain::traffic::product(&pool, PRODUCT)
        .await
        .expect("product");
    let dead_letters = format!("{}.dlq", product.topic);
    for topic in [&product.topic, &dead_letters] {
        admin
            .create_topic(topic, 3, 1, 604_800_000)
            .await
            .expect("topic");
    }
    let id = drift_incident(&pool, &product.topic).await;

    // What the checker copied while the port was quarantined: three records that pass
    // now, two that never will.
    let prefix = format!("reprocess-{}", Uuid::new_v4().simple());
    let producer = broker
        .producer("meshmart-test-incidents")
        .expect("producer");
    let mut generator = domain::traffic::Generator::new(7, 0.0);
    for i in 0..5 {
        let key = format!("{prefix}-{i}");
        let value = if i < 3 {
            product
                .record(&mut generator)
                .expect("a valid record")
                .1
                .value
        } else {
            b"not a wire-format record".to_vec()
        };
        let trace = format!("trace-{i}");
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "trace-id",
                value: Some(trace.as_str()),
            })
            .insert(Header {
                key: "meshmart.reason",
                value: Some("schema_not_of_subject"),
            })
            .insert(Header {
                key: "meshmart.source.topic",
                value: Some(product.topic.as_str()),
            });
        producer
            .send(
                FutureRecord::to(&dead_letters)
                    .key(&key)
                    .payload(&value)
                    .headers(headers),
                std::time::Duration::from_secs(10),
            )
            .await
            .expect("dead letter written");
    }

    let app = spawn_app(pool.clone()).await;
    let owner = token_for(&pool, OWNER).await;
    let analyst = token_for(&pool, ANALYST).await;
    let path = format!("/api/v1/incidents/{id}/actions/reprocess_dead_letters");
    let (status, _) = app.call(reqwest::Method::POST, &path, &analyst).await;
    assert_eq!(status, 404, "an analyst cannot");
    let (status, done) = app.call(reqwest::Method::POST, &path, &owner).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["outcome"], "done", "{done}");
    let reasons: Vec<(String, Option<String>)> = sqlx::query!(
        "select outcome, reason from dead_letter_outcomes where incident_id = $1",
        id,
    )
    .fetch_all(&pool)
    .await
    .expect("outcomes")
    .into_iter()
    .map(|row| (row.outcome, row.reason))
    .collect();
    assert!(
        done["detail"]["republished"].as_u64().expect("count") >= 3,
        "{done} {reasons:?}"
    );
    assert!(
        done["detail"]["still_invalid"].as_u64().expect("count") >= 2,
        "{done}"
    );

    let republished = keyed(&product.topic, &prefix).await;
    let mut keys: Vec<&str> = republished.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            format!("{prefix}-0"),
            format!("{prefix}-1"),
            format!("{prefix}-2")
        ]
    );
    for (key, headers) in &republished {
        let i = key.rsplit('-').next().expect("index");
        assert_eq!(
            headers.get("trace-id"),
            Some(&format!("trace-{i}")),
            "{headers:?}"
        );
        assert!(headers.contains_key(domain::incidents::reprocess::FROM_HEADER));
        assert!(!headers.contains_key("meshmart.reason"), "{headers:?}");
    }
    let outcomes: Vec<(String, i64)> = sqlx::query!(
        r#"select outcome, count(*) as "count!" from dead_letter_outcomes where incident_id = $1
           group by outcome order by outcome"#,
        id,
    )
    .fetch_all(&pool)
    .await
    .expect("outcomes")
    .into_iter()
    .map(|row| (row.outcome, row.count))
    .collect();
    assert!(
        outcomes.iter().any(|(o, n)| o == "republished" && *n >= 3),
        "{outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .any(|(o, n)| o == "still_invalid" && *n >= 2),
        "{outcomes:?}"
    );

    let (status, body) = app.call(reqwest::Method::POST, &path, &owner).await;
    assert_eq!(status, 409, "once per incident: {body}");
    // Even run again directly, the committed offsets leave nothing to publish twice.
    let again = domain::incidents::reprocess::reprocess(
        &pool,
        &admin,
        id,
        &product.topic,
        Utc::now() - Duration::minutes(5),
    )
    .await
    .expect("a second run");
    assert_eq!(again.read, 0, "{again:?}");
    assert_eq!(keyed(&product.topic, &prefix).await.len(), 3);
    app.stop().await;
}

/// What a webhook receiver got: each request's headers and body.
type Received = std::sync::Arc<tokio::sync::Mutex<Vec<(reqwest::header::HeaderMap, Vec<u8>)>>>;

/// A local receiver answering `status` to every POST; its URL and what it received.
async fn receiver(status: u16) -> (String, Received) {
    let received: Received = Default::default();
    let kept = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let kept = kept.clone();
                async move {
                    let mut map = reqwest::header::HeaderMap::new();
                    for (name, value) in &headers {
                        if let (Ok(name), Ok(value)) = (
                            reqwest::header::HeaderName::from_bytes(name.as_str().as_bytes()),
                            reqwest::header::HeaderValue::from_bytes(value.as_bytes()),
                        ) {
                            map.insert(name, value);
                        }
                    }
                    kept.lock().await.push((map, body.to_vec()));
                    axum::http::StatusCode::from_u16(status).expect("status")
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/hook"), received)
}

/// An owner sets a webhook (the secret is shown once, bad URLs and private targets are
/// refused where the deployment does not allow them); when an incident of their domain
/// is notified, the receiver gets a POST signed with that secret; a receiver that
/// answers 500 is retried later, not dropped.
#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn incident_notifications_reach_a_signed_webhook_and_failures_are_retried(pool: PgPool) {
    domain::demo::seed(&pool, false).await.expect("demo data");
    let strict = spawn_app(pool.clone()).await;
    let owner = token_for(&pool, OWNER).await;
    let put = |app: &crate::helpers::TestApp, url: String| {
        app.client
            .put(format!("{}/api/v1/account/webhook", app.address))
            .bearer_auth(&owner)
            .json(&serde_json::json!({ "url": url }))
            .send()
    };
    let (url, received) = receiver(200).await;
    let response = put(&strict, url.clone()).await.expect("put");
    assert_eq!(
        response.status(),
        422,
        "a loopback target is refused by default"
    );
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["field"], "url", "{body}");
    let response = put(&strict, "ftp://example.com/hook".into())
        .await
        .expect("put");
    assert_eq!(response.status(), 422);
    strict.stop().await;

    let app = crate::helpers::spawn_app_with(pool.clone(), |settings| {
        settings.webhooks.allow_private_targets = true;
    })
    .await;
    let response = put(&app, url.clone()).await.expect("put");
    assert_eq!(response.status(), 200);
    let set: Value = response.json().await.expect("json");
    let secret = set["secret"]
        .as_str()
        .expect("the secret, once")
        .to_string();
    let (status, shown) = app
        .call(reqwest::Method::GET, "/api/v1/account/webhook", &owner)
        .await;
    assert_eq!(status, 200);
    assert_eq!(shown["webhook"]["url"], url.as_str());
    assert!(
        !shown.to_string().contains(&secret),
        "the secret is not shown again"
    );

    let id: Uuid = sqlx::query_scalar!(
        "insert into incidents (state, channel, channel_kind, product_id, signal, cause,
             confidence, summary, started_at)
         select 'open', 'product:' || p.slug || '/x', 'product', p.id, 'rate_in',
             'producer_stopped', 0.9, 'The producer stopped sending records: ' || p.slug, now()
         from products p where p.slug = $1 returning id",
        PRODUCT,
    )
    .fetch_one(&pool)
    .await
    .expect("incident");
    let path = format!("/api/v1/incidents/{id}/actions/notify");
    let (status, body) = app.call(reqwest::Method::POST, &path, &owner).await;
    assert_eq!(status, 200, "{body}");

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while received.lock().await.is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let got = received.lock().await.clone();
    assert_eq!(got.len(), 1, "one delivery");
    let (headers, body) = &got[0];
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(header("x-meshmart-event"), "incident.opened");
    let timestamp: i64 = header("x-meshmart-timestamp").parse().expect("timestamp");
    assert_eq!(
        header("x-meshmart-signature"),
        domain::webhooks::sign(&secret, timestamp, body),
        "signed with the secret the owner was shown"
    );
    let payload: Value = serde_json::from_slice(body).expect("json body");
    assert_eq!(payload["incident"], id.to_string());
    assert_eq!(payload["cause"], "producer_stopped");

    // A receiver that fails is retried, with the error kept, not dropped.
    let (failing, failed) = receiver(500).await;
    put(&app, failing).await.expect("put");
    let second: Uuid = sqlx::query_scalar!(
        "insert into incidents (state, channel, channel_kind, product_id, signal, cause,
             confidence, summary, started_at)
         select 'open', 'product:' || p.slug || '/y', 'product', p.id, 'rate_in',
             'producer_stopped', 0.9, 'again', now()
         from products p where p.slug = $1 returning id",
        PRODUCT,
    )
    .fetch_one(&pool)
    .await
    .expect("incident");
    let path = format!("/api/v1/incidents/{second}/actions/notify");
    let (status, _) = app.call(reqwest::Method::POST, &path, &owner).await;
    assert_eq!(status, 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while failed.lock().await.is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let delivery = sqlx::query!(
        r#"select attempts, last_error, delivered_at as "delivered_at: domain::db::Timestamp"
           from webhook_deliveries where payload ->> 'incident' = $1"#,
        second.to_string(),
    )
    .fetch_one(&pool)
    .await
    .expect("delivery");
    let (attempts, error, delivered) = (
        delivery.attempts,
        delivery.last_error,
        delivery.delivered_at,
    );
    assert!(attempts >= 1, "tried");
    assert_eq!(error.as_deref(), Some("HTTP 500"));
    assert!(delivered.is_none(), "not counted as delivered");
    app.stop().await;
}
