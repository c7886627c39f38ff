//! Size limits of request bodies, over HTTP as a client meets them: a body over its limit
//! is refused with 413 naming the limit and changes nothing, and a server function whose
//! arguments cannot be read answers 422 naming the request, never 500.

use serde_json::Value;
use sqlx::PgPool;

use crate::helpers::{spawn_app, token_for};

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn bodies_over_their_limit_are_refused_naming_it_and_change_nothing(pool: PgPool) {
    domain::demo::seed(&pool, false).await.expect("demo data");
    let app = spawn_app(pool.clone()).await;
    let analyst = token_for(&pool, "analyst1@meshmart.local").await;
    let count = || async {
        sqlx::query_scalar!(r#"select count(*) as "n!" from subscriptions"#)
            .fetch_one(&pool)
            .await
            .expect("count")
    };
    let before = count().await;

    // A REST request's JSON body: 64 KiB.
    let purpose = "x".repeat(server::http::MAX_JSON_BODY_BYTES);
    let response = app
        .client
        .post(format!("{}/api/v1/subscriptions", app.address))
        .bearer_auth(&analyst)
        .json(&serde_json::json!({"product": "order-placed", "purpose": purpose}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 413);
    let body: Value = response.json().await.expect("a JSON error");
    assert_eq!(body["error"]["code"], "too_large", "{body}");
    let limit = server::http::MAX_JSON_BODY_BYTES.to_string();
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(&limit), "{body}");
    assert_eq!(count().await, before, "nothing was requested");

    // Just under it, the same request is read (and judged on its content).
    let response = app
        .client
        .post(format!("{}/api/v1/subscriptions", app.address))
        .bearer_auth(&analyst)
        .json(&serde_json::json!({"product": "order-placed", "purpose": "x".repeat(60_000)}))
        .send()
        .await
        .expect("request");
    assert_ne!(response.status().as_u16(), 413);

    // A server function (the browser's forms): 2 MiB, refused from the declared length.
    let form = format!(
        "email={}&password=x",
        "a".repeat(server::http::forms::MAX_FORM_BODY_BYTES)
    );
    let response = app
        .client
        .post(format!("{}/api/fn/login", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 413);
    let body: Value = response
        .json()
        .await
        .expect("the server functions' error shape");
    assert_eq!(body["Invalid"]["field"], "request", "{body}");
    let limit = server::http::forms::MAX_FORM_BODY_BYTES.to_string();
    let message = body["Invalid"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(&limit), "{body}");
    app.stop().await;
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn a_server_function_whose_arguments_cannot_be_read_answers_422(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    // As the browser's server-function client posts (not a plain form post).
    let response = app
        .client
        .post(format!("{}/api/fn/login", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body("username=someone")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 422);
    let body: Value = response
        .json()
        .await
        .expect("the server functions' error shape");
    assert_eq!(body["Invalid"]["field"], "request", "{body}");
    let message = body["Invalid"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("email"), "names the missing field: {body}");
    app.stop().await;
}

/// Each count and length limit of the README's "Limits on input" that a request can reach
/// directly: the answer is a 4xx whose body names the parameter (and the bound).
#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn count_and_length_limits_answer_a_4xx_naming_them(pool: PgPool) {
    domain::demo::seed(&pool, false).await.expect("demo data");
    let app = spawn_app(pool.clone()).await;
    let admin = token_for(&pool, "admin@meshmart.local").await;
    let long_query = "a".repeat(domain::search::MAX_QUERY_CHARS + 1);
    let query_limit = domain::search::MAX_QUERY_CHARS.to_string();
    let get_cases = [
        (
            format!("/api/v1/search?q={long_query}"),
            400,
            query_limit.as_str(),
        ),
        ("/api/v1/search?q=order&limit=101".to_string(), 400, "limit"),
        (
            "/api/v1/search?q=order&offset=10001".to_string(),
            400,
            "offset",
        ),
        (
            "/api/v1/products/order-placed/samples?limit=101".to_string(),
            400,
            "limit",
        ),
        (
            "/api/v1/products/order-placed/samples?limit=0".to_string(),
            400,
            "limit",
        ),
        (
            "/api/v1/products/customer-signed-up/lineage?depth=11".to_string(),
            400,
            "depth",
        ),
    ];
    for (path, status, named) in get_cases {
        let (got, body) = answered(
            app.client
                .get(format!("{}{path}", app.address))
                .bearer_auth(&admin),
        )
        .await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(body.contains(named), "{path} names {named}: {body}");
    }

    // An OpenLineage event listing more datasets than an event may.
    let datasets: Vec<Value> = (0..=domain::lineage::MAX_DATASETS)
        .map(|i| serde_json::json!({"namespace": "kafka://meshmart", "name": format!("t{i}")}))
        .collect();
    let event = serde_json::json!({
        "eventType": "COMPLETE",
        "eventTime": "2026-12-06T12:00:00Z",
        "producer": "https://example.com/limits",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": "0192f2a0-0000-7000-8000-000000000001"},
        "job": {"namespace": "limits", "name": "many"},
        "inputs": datasets,
        "outputs": [],
    });
    let (status, body) = answered(
        app.client
            .post(format!("{}/api/v1/lineage/openlineage", app.address))
            .bearer_auth(&admin)
            .json(&event),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains(&domain::lineage::MAX_DATASETS.to_string()),
        "names the limit: {body}"
    );

    // A contract over its size limit, refused before it is read.
    let owner = token_for(&pool, "owner.sales@meshmart.local").await;
    let huge = format!(
        "description: {}\n",
        "x".repeat(domain::contracts::MAX_CONTRACT_BYTES)
    );
    let (status, body) = answered(
        app.client
            .put(format!(
                "{}/api/v1/products/order-placed/contract",
                app.address
            ))
            .bearer_auth(&owner)
            .header("content-type", "application/yaml")
            .body(huge),
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert!(
        body.contains(&domain::contracts::MAX_CONTRACT_BYTES.to_string()),
        "names the limit: {body}"
    );
    app.stop().await;
}

/// The status and body text of `request`'s answer.
async fn answered(request: reqwest::RequestBuilder) -> (u16, String) {
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}
