//! `/healthz` and `/readyz` against the real database and broker, and against each of them
//! being unreachable.

use serde_json::Value;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::helpers::{spawn_app, spawn_app_with};

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn healthz_says_the_process_is_alive(pool: PgPool) {
    let app = spawn_app(pool).await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["status"], "ok");
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn readyz_is_ok_when_database_and_broker_answer(pool: PgPool) {
    let app = spawn_app(pool).await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["status"], "ready", "{body}");
    assert_eq!(body["checks"]["database"]["status"], "ok", "{body}");
    assert_eq!(body["checks"]["broker"]["status"], "ok", "{body}");
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn readyz_names_the_broker_when_it_is_unreachable(pool: PgPool) {
    let app = spawn_app_with(pool, |settings| {
        // Nothing listens on port 1 of loopback.
        settings.kafka.bootstrap_servers = "127.0.0.1:1".to_string();
    })
    .await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["checks"]["database"]["status"], "ok", "{body}");
    assert_eq!(body["checks"]["broker"]["status"], "down", "{body}");
    assert_eq!(
        body["checks"]["broker"]["error"], "broker unreachable",
        "{body}"
    );
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn readyz_refuses_a_broker_that_rejects_our_credentials(pool: PgPool) {
    let app = spawn_app_with(pool, |settings| {
        settings.kafka.password = "not-the-password".to_string().into();
    })
    .await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["checks"]["broker"]["status"], "down", "{body}");
}

#[tokio::test]
async fn readyz_names_the_database_when_it_is_unreachable() {
    let unreachable = PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_secs(1))
        .connect_lazy_with(PgConnectOptions::new().host("127.0.0.1").port(1));
    let app = spawn_app(unreachable).await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["checks"]["database"]["status"], "down", "{body}");
    assert_eq!(body["checks"]["broker"]["status"], "ok", "{body}");
    // The client learns what is down, not the driver's internals.
    let text = body.to_string();
    assert!(!text.contains("Connection refused"), "{text}");
}
