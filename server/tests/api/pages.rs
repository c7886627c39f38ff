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

/// The 404 page's header knows who is signed in, as every other page's does.
#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn the_not_found_page_shows_the_signed_in_person(pool: PgPool) {
    domain::demo::seed_parts(&pool, &[domain::demo::Part::Identities], false)
        .await
        .expect("demo identities");
    let app = spawn_app(pool.clone()).await;
    let token = crate::helpers::token_for(&pool, "analyst1@meshmart.local").await;
    let response = app
        .client
        .get(format!("{}/definitely/not/here", app.address))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 404);
    let html = response.text().await.expect("html");
    assert!(html.contains("Page not found"), "{html}");
    assert!(
        html.contains("Sign out"),
        "the header knows the caller: {html}"
    );
    assert!(!html.contains(">Sign in</a>"), "{html}");
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

/// The audit log page shows a page of entries with a link to older ones (keyset paging),
/// and the whole before/after JSON of each, and an action filter to choose from.
#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn the_audit_log_pages_back_through_older_entries(pool: PgPool) {
    domain::demo::seed_parts(&pool, &[domain::demo::Part::Identities], false)
        .await
        .expect("demo identities");
    sqlx::query!(
        "insert into audit_log (actor, action, target, outcome, after)
         select 'cli', 'test.paging', 'target-' || n, 'success',
                jsonb_build_object('n', n, 'note', repeat('long text ', 20))
         from generate_series(1, 150) n",
    )
    .execute(&pool)
    .await
    .expect("entries");
    let app = spawn_app(pool.clone()).await;
    let token = crate::helpers::token_for(&pool, "admin@meshmart.local").await;
    let page = |path: String| {
        let request = app
            .client
            .get(format!("{}{path}", app.address))
            .bearer_auth(&token);
        async move {
            let response = request.send().await.expect("request");
            assert_eq!(response.status(), 200);
            response.text().await.expect("html")
        }
    };
    let first = page("/admin/audit?action=test.paging".into()).await;
    assert_eq!(
        first.matches("data-audit-id=").count(),
        100,
        "a page of 100"
    );
    assert!(
        first.contains("target-150") && !first.contains("target-50<"),
        "newest first"
    );
    assert!(
        first.contains(r#"<option value="test.paging" selected"#),
        "{first}"
    );
    assert!(
        first.contains("long text long text"),
        "the whole JSON is there"
    );
    let older = first
        .split("href=\"")
        .filter_map(|rest| rest.split('"').next())
        .find(|href| href.contains("before="))
        .expect("a link to older entries")
        .replace("&amp;", "&");
    let second = page(older).await;
    assert_eq!(second.matches("data-audit-id=").count(), 50);
    assert!(second.contains("target-50<") && !second.contains("target-51<"));
    assert!(second.contains("Newest"), "{second}");
    assert!(!second.contains("Older entries"), "nothing older");
}
