//! Server-rendered pages: the shell, the hydration scripts, 404s and compression.

use sqlx::PgPool;

use crate::helpers::spawn_app;

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn the_home_page_is_server_rendered_with_hydration_scripts(pool: PgPool) {
    let app = spawn_app(pool).await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().expect("ascii");
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = response.text().await.expect("html");
    assert!(
        html.contains("<h1>Find event streams you can trust</h1>"),
        "{html}"
    );
    assert!(
        html.contains(r#"role="search""#),
        "header search box: {html}"
    );
    assert!(
        html.contains("/pkg/meshmart.js"),
        "hydration script: {html}"
    );
    assert!(
        html.contains("/pkg/meshmart_bg.wasm"),
        "wasm preload: {html}"
    );
    assert!(html.contains("/pkg/meshmart.css"), "stylesheet: {html}");
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn an_unknown_path_renders_the_not_found_page_with_404(pool: PgPool) {
    let app = spawn_app(pool).await;
    let response = app.get("/definitely/not/here").await;
    assert_eq!(response.status(), 404);
    let html = response.text().await.expect("html");
    assert!(html.contains("Page not found"), "{html}");
    assert!(
        html.contains(r#"class="site-header""#),
        "404 keeps the shell: {html}"
    );
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn pages_are_compressed_for_clients_that_accept_it(pool: PgPool) {
    let app = spawn_app(pool).await;
    let response = app
        .client
        .get(format!("{}/", app.address))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-encoding"], "gzip");
}
