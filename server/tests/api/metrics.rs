//! `/metrics` in the Prometheus text format, with request counts and latency histograms
//! labelled by route pattern.

use sqlx::PgPool;

use crate::helpers::{spawn_app, spawn_app_with};

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn metrics_count_and_time_requests_per_route(pool: PgPool) {
    let app = spawn_app(pool).await;
    assert_eq!(app.get("/").await.status(), 200);
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/no-such-page-42").await.status(), 404);

    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().expect("ascii");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let body = response.text().await.expect("text");

    let has = |metric: &str, labels: &[&str]| {
        body.lines()
            .any(|line| line.starts_with(metric) && labels.iter().all(|l| line.contains(l)))
    };
    assert!(
        has(
            "http_requests_total{",
            &[r#"route="/healthz""#, r#"status="200""#]
        ),
        "{body}"
    );
    assert!(
        has("http_requests_total{", &[r#"route="/""#, r#"method="GET""#]),
        "{body}"
    );
    assert!(
        has(
            "http_requests_total{",
            &[r#"route="unmatched""#, r#"status="404""#]
        ),
        "{body}"
    );
    assert!(
        has(
            "http_request_duration_seconds_bucket{",
            &[r#"route="/""#, r#"le="0.005""#]
        ),
        "{body}"
    );
    assert!(
        has(
            "http_request_duration_seconds_count{",
            &[r#"route="/healthz""#]
        ),
        "{body}"
    );
    // Raw paths never become labels.
    assert!(!body.contains("no-such-page-42"), "{body}");
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn with_a_scrape_token_the_metrics_need_it(pool: PgPool) {
    let token = "scrape-token-0123456789";
    let app = spawn_app_with(pool, |settings| {
        settings.metrics.token = Some(token.to_string().into());
    })
    .await;
    let scrape = |authorization: Option<String>| {
        let mut request = app.client.get(format!("{}/metrics", app.address));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        request.send()
    };
    assert_eq!(scrape(None).await.expect("scrape").status(), 401);
    assert_eq!(
        scrape(Some("Bearer wrong-token-0123456789".into()))
            .await
            .expect("scrape")
            .status(),
        401
    );
    let ok = scrape(Some(format!("Bearer {token}")))
        .await
        .expect("scrape");
    assert_eq!(ok.status(), 200);
    assert!(
        ok.text()
            .await
            .expect("text")
            .contains("http_requests_total")
    );
}
