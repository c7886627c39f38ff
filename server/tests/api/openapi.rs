//! The OpenAPI document describes exactly the REST routes the server has, with the same
//! methods, so clients generated from it do not miss or invent endpoints; and what is
//! served is reviewed as a whole (an `insta` snapshot), so no change to it goes unseen.

use std::collections::BTreeSet;

use serde_json::Value;
use sqlx::PgPool;

use crate::helpers::spawn_app;

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn the_openapi_document_lists_every_api_route(pool: PgPool) {
    let app = spawn_app(pool).await;
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.expect("json");
    assert_eq!(document["openapi"], "3.1.0");

    let described: BTreeSet<(String, String)> = document["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .into_iter()
                .flat_map(|ops| ops.keys())
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect();
    let served: BTreeSet<(String, String)> = server::http::routes()
        .listed()
        .iter()
        .filter(|route| route.path.starts_with("/api/v1/"))
        .map(|route| (route.method.to_string(), route.path.to_string()))
        .collect();
    assert_eq!(described, served, "openapi.json and the router disagree");
}

/// Any change to the served document, however small, fails until its snapshot is
/// reviewed and accepted (`INSTA_UPDATE=always` or `cargo insta review`).
#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn the_served_openapi_document_is_the_reviewed_one(pool: PgPool) {
    let app = spawn_app(pool).await;
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let document: Value = response.json().await.expect("json");
    insta::assert_json_snapshot!("openapi", document);
}
