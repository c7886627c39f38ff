//! Catalog search over the API: the queries analysts type on the demo catalog, changes
//! searchable within a second in every server process, an index folder that rebuilds itself,
//! and bad input answered with 400 naming the parameter.

use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::PgPool;

use crate::helpers::{TestApp, spawn_app, spawn_app_with, token_for};

/// `GET /api/v1/search` with `params`; waits (up to 15 s) while the index is still being
/// built at start-up.
async fn search(app: &TestApp, token: &str, params: &[(&str, &str)]) -> (u16, Value) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let response = search_request(app, token, params)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        if status != 503 || Instant::now() > deadline {
            return (status, body);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn search_request(app: &TestApp, token: &str, params: &[(&str, &str)]) -> reqwest::RequestBuilder {
    app.client
        .get(format!("{}/api/v1/search", app.address))
        .query(params)
        .bearer_auth(token)
}

fn slugs(body: &Value) -> Vec<&str> {
    body["hits"]
        .as_array()
        .map(|hits| hits.iter().filter_map(|h| h["slug"].as_str()).collect())
        .unwrap_or_default()
}

async fn demo_catalog(pool: &PgPool) {
    domain::demo::seed(pool, false).await.expect("demo data");
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn the_demo_catalog_answers_what_analysts_type(pool: PgPool) {
    demo_catalog(&pool).await;
    let app = spawn_app(pool.clone()).await;
    let token = token_for(&pool, "analyst1@meshmart.local").await;

    let (status, body) = search(&app, &token, &[("q", "custmer signup")]).await;
    assert_eq!(status, 200, "{body}");
    let mut top: Vec<&str> = slugs(&body).into_iter().take(2).collect();
    top.sort_unstable();
    assert_eq!(
        top,
        vec!["customer-signed-up", "enriched-customer-signed-up"],
        "{body}"
    );

    let (_, body) = search(&app, &token, &[("q", "OrderPlaced")]).await;
    assert_eq!(slugs(&body).first(), Some(&"order-placed"), "{body}");
    let first = &body["hits"][0];
    assert_eq!(first["name"], "OrderPlaced");
    assert_eq!(first["domain"], "sales");
    assert_eq!(first["status"], "active");
    assert!(first["score"].as_f64().is_some_and(|s| s > 0.0));
    assert!(body["took_ms"].as_f64().is_some());

    let (_, body) = search(&app, &token, &[("q", "field:signupRiskScore")]).await;
    assert_eq!(slugs(&body), vec!["enriched-customer-signed-up"]);

    // Why it ranks first: the parts add up to the score.
    let (_, body) = search(&app, &token, &[("q", "OrderPlaced"), ("explain", "true")]).await;
    let explanation = &body["hits"][0]["explanation"];
    let parts: f64 = explanation["components"]
        .as_array()
        .expect("components")
        .iter()
        .filter_map(|c| c["score"].as_f64())
        .sum();
    let total = parts
        * explanation["status_factor"].as_f64().unwrap_or(0.0)
        * explanation["popularity_factor"].as_f64().unwrap_or(0.0);
    let score = body["hits"][0]["score"].as_f64().unwrap_or(0.0);
    assert!(
        (total - score).abs() < 0.01 * score,
        "{explanation} vs {score}"
    );

    // Filters as parameters, facets, sorting and paging.
    let (_, body) = search(
        &app,
        &token,
        &[
            ("q", "order"),
            ("domain", "sales"),
            ("limit", "50"),
            ("facets", "domain,status"),
        ],
    )
    .await;
    let total = body["total"].as_u64().expect("total");
    assert!(total >= 3, "{body}");
    assert!(
        body["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .all(|h| h["domain"] == "sales")
    );
    // The filtered dimension still offers other domains; the others follow the filter.
    let domains = body["facets"]["domain"].as_array().expect("domain facet");
    let sales = domains
        .iter()
        .find(|f| f["value"] == "sales")
        .expect("sales offered");
    assert_eq!(sales["count"].as_u64(), Some(total));
    assert!(
        domains.len() > 1,
        "other domains stay selectable: {domains:?}"
    );
    let statuses: u64 = body["facets"]["status"]
        .as_array()
        .expect("status facet")
        .iter()
        .filter_map(|f| f["count"].as_u64())
        .sum();
    assert_eq!(statuses, total);
    let counted: Vec<&String> = body["facets"].as_object().expect("facets").keys().collect();
    assert_eq!(counted, ["domain", "status"], "only the facets asked for");

    let (_, body) = search(
        &app,
        &token,
        &[("q", "status:active"), ("sort", "name"), ("limit", "5")],
    )
    .await;
    let names: Vec<String> = body["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| h["name"].as_str().unwrap_or_default().to_lowercase())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    let (_, next) = search(
        &app,
        &token,
        &[
            ("q", "status:active"),
            ("sort", "name"),
            ("limit", "5"),
            ("offset", "4"),
        ],
    )
    .await;
    assert_eq!(
        slugs(&next)[0],
        slugs(&body)[4],
        "pages continue where the last ended"
    );

    // By default no facets and no highlights; each on request; `fields=` chooses.
    let (_, plain) = search(&app, &token, &[("q", "order")]).await;
    assert_eq!(plain.get("facets"), None, "{plain}");
    let first = &plain["hits"][0];
    assert_eq!(first.get("highlights"), None, "{first}");
    assert!(first["description"].is_string() && first["owners"].is_array());
    let (_, lit) = search(&app, &token, &[("q", "order"), ("highlight", "true")]).await;
    assert!(
        lit["hits"][0]["highlights"]
            .as_array()
            .is_some_and(|h| !h.is_empty()),
        "{lit}"
    );
    assert_eq!(slugs(&lit), slugs(&plain), "the same hits either way");
    let (_, slim) = search(
        &app,
        &token,
        &[
            ("q", "order"),
            ("fields", "slug,subscribers"),
            ("facets", "all"),
        ],
    )
    .await;
    assert_eq!(slugs(&slim), slugs(&plain));
    for hit in slim["hits"].as_array().expect("hits") {
        let keys: Vec<&String> = hit.as_object().expect("hit").keys().collect();
        assert_eq!(keys, ["slug", "subscribers"], "{hit}");
    }
    let dimensions: Vec<&String> = slim["facets"].as_object().expect("facets").keys().collect();
    assert_eq!(
        dimensions,
        ["domain", "format", "owner", "sla", "status", "tag"]
    );
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn bad_search_input_is_the_callers_and_changes_nothing(pool: PgPool) {
    demo_catalog(&pool).await;
    let app = spawn_app(pool.clone()).await;
    let token = token_for(&pool, "analyst1@meshmart.local").await;

    let anonymous = app.get("/api/v1/search?q=order").await;
    assert_eq!(anonymous.status().as_u16(), 401);

    let long = "x".repeat(600);
    let many = (0..40)
        .map(|i| format!("o{i}"))
        .collect::<Vec<_>>()
        .join(",");
    for (params, field, says) in [
        (vec![("q", "colour:red")], "q", "unknown filter `colour:`"),
        (vec![("q", "domain:")], "q", "needs a value"),
        (vec![("q", "status:gone")], "q", "unknown status"),
        (vec![("q", long.as_str())], "q", "at most 500"),
        (vec![("limit", "0")], "limit", "1 to 100"),
        (vec![("limit", "ten")], "limit", "whole number"),
        (vec![("offset", "20000")], "offset", "at most"),
        (vec![("sort", "random")], "sort", "relevance, name"),
        (vec![("status", "gone")], "status", "one of"),
        (vec![("explain", "maybe")], "explain", "true or false"),
        (vec![("highlight", "yes")], "highlight", "true or false"),
        (
            vec![("facets", "domain,colour")],
            "facets",
            "domain, tag, owner",
        ),
        (
            vec![("fields", "slug,colour")],
            "fields",
            "`colour` is not an attribute",
        ),
        (
            vec![("tag", long.as_str())],
            "tag",
            "at most 200 characters",
        ),
        (
            vec![("owner", many.as_str())],
            "owner",
            "at most 32 filter values",
        ),
    ] {
        let (status, body) = search(&app, &token, &params).await;
        assert_eq!(status, 400, "{params:?}: {body}");
        assert_eq!(body["error"]["field"], field, "{params:?}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{params:?}: {message}");
    }
    // Quotes, symbols and unbalanced syntax are text, not errors.
    let hex = "ab".repeat(40);
    for q in [
        "\"order",
        "order)",
        "12:30",
        "*",
        "'; drop table products; --",
        "ümlaut ß",
    ] {
        let (status, body) = search(&app, &token, &[("q", q)]).await;
        assert_eq!(status, 200, "{q}: {body}");
    }
    let (_, body) = search(&app, &token, &[("q", hex.as_str())]).await;
    assert_eq!(
        body["total"], 0,
        "a word too long to index matches nothing, not everything"
    );
    let (status, _) = search(&app, &token, &[("status", "Active")]).await;
    assert_eq!(
        status, 200,
        "statuses are case-insensitive, as in the query text"
    );
}

const PARCEL_WEIGHED: &str = r#"apiVersion: v3.1.0
kind: DataContract
id: logistics-parcel-weighed
version: VERSION
status: STATUS
name: Parcel Weighed
dataProduct: parcel weighed
domain: logistics
description:
  purpose: Each parcel's weight as the scale reports it.
schema:
  - name: ParcelWeighed
    physicalName: logistics.parcel-weighed.v1
    physicalType: topic
    properties:
      - name: parcelId
        logicalType: string
        required: true
      - name: grossWeightGrams
        logicalType: integer
        required: true
"#;

async fn push(app: &TestApp, token: &str, version: &str, status: &str) {
    let body = PARCEL_WEIGHED
        .replace("VERSION", version)
        .replace("STATUS", status);
    let (code, response) = app.put_contract(token, "parcel-weighed", body).await;
    assert!((200..300).contains(&code), "{code}: {response}");
}

/// How long a test waits for a change to reach a server's index. Changes travel by
/// notification in well under a second; the ceiling is generous because a loaded 2-core
/// runner can stall any process for seconds. It stays far below the full comparison with
/// PostgreSQL (`search.sync_interval_seconds`, 60 s), so a pass still proves the
/// notification path and not the safety net.
const PROPAGATION_CEILING: Duration = Duration::from_secs(15);

/// Polls `app` until `found` holds for the first hit of `q` or `limit` passes; returns the
/// time it took.
async fn searchable_within(
    app: &TestApp,
    token: &str,
    q: &str,
    limit: Duration,
    found: impl Fn(&Value) -> bool,
) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() <= limit {
        let (_, body) = search(app, token, &[("q", q)]).await;
        if found(&body["hits"][0]) {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn a_registered_product_is_searchable_promptly_in_every_server(pool: PgPool) {
    domain::demo::seed_parts(&pool, &[domain::demo::Part::Identities], false)
        .await
        .expect("demo people");
    // Two server processes on one database, each with its own pool and index.
    let one = spawn_app(pool.clone()).await;
    let other_pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(5)
        .connect_with((*pool.connect_options()).clone())
        .await
        .expect("a second pool");
    let other = spawn_app(other_pool).await;
    let owner = token_for(&pool, "owner.logistics@meshmart.local").await;
    let analyst = token_for(&pool, "analyst1@meshmart.local").await;
    for app in [&one, &other] {
        let (status, body) = search(app, &analyst, &[("q", "parcel")]).await;
        assert_eq!((status, body["total"].as_u64()), (200, Some(0)));
        assert_eq!(body["cached"], false, "{body}");
        // Asked again on the same contents, the answer is the kept one (unless a commit
        // came between: a third ask then finds the second's)…
        let mut kept = false;
        for _ in 0..3 {
            let (_, again) = search(app, &analyst, &[("q", "parcel")]).await;
            assert_eq!(again["total"], 0);
            kept |= again["cached"] == true;
        }
        assert!(
            kept,
            "the same question was never answered from the kept answers"
        );
        // …unless the client asks for it computed.
        let no_cache = search_request(app, &analyst, &[("q", "parcel")])
            .header("Cache-Control", "no-cache")
            .send();
        let fresh: Value = no_cache.await.expect("request").json().await.expect("json");
        assert_eq!(
            (&fresh["cached"], &fresh["total"]),
            (&Value::Bool(false), &Value::from(0))
        );
    }

    push(&one, &owner, "1.0.0", "active").await;
    let is_it = |hit: &Value| hit["slug"] == "parcel-weighed" && hit["status"] == "active";
    let here =
        searchable_within(&one, &analyst, "parcel weighed", PROPAGATION_CEILING, is_it).await;
    let there = searchable_within(
        &other,
        &analyst,
        "ParcelWeighed",
        PROPAGATION_CEILING,
        is_it,
    )
    .await;
    assert!(
        here.is_some(),
        "not searchable in the server that registered it"
    );
    assert!(there.is_some(), "not searchable in the other server");

    // A status change is a change too.
    push(&one, &owner, "1.1.0", "deprecated").await;
    let deprecated = |hit: &Value| hit["slug"] == "parcel-weighed" && hit["status"] == "deprecated";
    let there = searchable_within(
        &other,
        &analyst,
        "grossWeightGrams",
        PROPAGATION_CEILING,
        deprecated,
    )
    .await;
    assert!(
        there.is_some(),
        "the deprecation did not reach the other server"
    );
    // The answers kept before the product existed went with the contents they were
    // computed on: the first question, asked again, finds it in both servers.
    for app in [&one, &other] {
        let (_, body) = search(app, &analyst, &[("q", "parcel")]).await;
        assert_eq!(slugs(&body), vec!["parcel-weighed"], "{body}");
    }
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn a_deleted_index_folder_is_rebuilt_at_start_up(pool: PgPool) {
    demo_catalog(&pool).await;
    let dir = std::env::temp_dir().join(format!("meshmart-rebuild-{}", uuid::Uuid::new_v4()));
    let settings_dir = dir.clone();
    let app = spawn_app_with(pool.clone(), |s| s.search.index_dir = settings_dir).await;
    let token = token_for(&pool, "analyst1@meshmart.local").await;
    let (_, before) = search(&app, &token, &[("q", "OrderPlaced")]).await;
    assert_eq!(slugs(&before).first(), Some(&"order-placed"));
    app.stop().await;

    std::fs::remove_dir_all(&dir).expect("index folder deleted");
    let settings_dir = dir.clone();
    let app = spawn_app_with(pool.clone(), |s| s.search.index_dir = settings_dir).await;
    let (status, after) = search(&app, &token, &[("q", "OrderPlaced")]).await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["total"], before["total"]);
    assert_eq!(slugs(&after).first(), Some(&"order-placed"));
    let ready = app
        .get("/readyz")
        .await
        .json::<Value>()
        .await
        .expect("json");
    assert_eq!(ready["checks"]["search_index"]["status"], "ok", "{ready}");
    app.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A server that reuses its index folder catches up at start-up with what changed while it
/// was down: a product changed is replaced, a product new is added, each found once (new
/// products are added without a delete each, so a mistake here would show as duplicates).
#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn a_reused_index_catches_up_with_changes_made_while_down_each_product_once(pool: PgPool) {
    demo_catalog(&pool).await;
    let dir = std::env::temp_dir().join(format!("meshmart-catch-up-{}", uuid::Uuid::new_v4()));
    let settings_dir = dir.clone();
    let app = spawn_app_with(pool.clone(), |s| s.search.index_dir = settings_dir).await;
    let token = token_for(&pool, "analyst1@meshmart.local").await;
    let (_, before) = search(&app, &token, &[("q", "OrderPlaced")]).await;
    assert_eq!(slugs(&before).first(), Some(&"order-placed"), "{before}");
    app.stop().await;

    // While it is down: another server (its own index) registers a new product, and an
    // existing product's description changes.
    let other = spawn_app(pool.clone()).await;
    let owner = token_for(&pool, "owner.logistics@meshmart.local").await;
    push(&other, &owner, "1.0.0", "active").await;
    other.stop().await;
    sqlx::query!(
        "update products set description = description || ' Zeppelin deliveries included.',
           updated_at = now() where slug = 'order-placed'"
    )
    .execute(&pool)
    .await
    .expect("description changed");

    let settings_dir = dir.clone();
    let app = spawn_app_with(pool.clone(), |s| s.search.index_dir = settings_dir).await;
    // A reused index serves at once and catches up in the background.
    let is_it = |hit: &Value| hit["slug"] == "parcel-weighed";
    let caught_up =
        searchable_within(&app, &token, "ParcelWeighed", PROPAGATION_CEILING, is_it).await;
    assert!(
        caught_up.is_some(),
        "the new product never became searchable"
    );
    let (_, changed) = search(&app, &token, &[("q", "zeppelin")]).await;
    assert_eq!(slugs(&changed), ["order-placed"], "{changed}");
    let (_, after) = search(&app, &token, &[("q", "OrderPlaced")]).await;
    assert_eq!(after["total"], before["total"], "{after}");
    let placed = slugs(&after)
        .iter()
        .filter(|s| **s == "order-placed")
        .count();
    assert_eq!(placed, 1, "{after}");
    app.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn a_new_subscription_moves_a_product_up_the_most_subscribed_order_promptly(pool: PgPool) {
    demo_catalog(&pool).await;
    let app = spawn_app(pool.clone()).await;
    let analyst = token_for(&pool, "analyst1@meshmart.local").await;
    let admin = token_for(&pool, "admin@meshmart.local").await;
    let most = |body: &Value| slugs(body).first().map(|s| s.to_string());
    let (status, body) = search(&app, &analyst, &[("q", "order"), ("sort", "subscribers")]).await;
    assert_eq!(status, 200, "{body}");
    // The last of the page: no subscribers yet, behind everything listed.
    let product = slugs(&body).last().expect("hits").to_string();
    assert_ne!(most(&body).as_deref(), Some(product.as_str()));

    let subscribe = |token: String, approver: String| {
        let (app, product) = (&app, product.clone());
        async move {
            let created: Value = app
                .client
                .post(format!("{}/api/v1/subscriptions", app.address))
                .bearer_auth(&token)
                .json(&serde_json::json!({ "product": product, "purpose": "ranking" }))
                .send()
                .await
                .expect("request")
                .json()
                .await
                .expect("json");
            let id = created["id"].as_str().expect("id").to_string();
            let approved = app
                .client
                .post(format!("{}/api/v1/subscriptions/{id}/approve", app.address))
                .bearer_auth(&approver)
                .send()
                .await
                .expect("approve");
            assert_eq!(approved.status().as_u16(), 200);
        }
    };
    subscribe(analyst.clone(), admin.clone()).await;
    subscribe(
        token_for(&pool, "analyst2@meshmart.local").await,
        admin.clone(),
    )
    .await;
    let approved = Instant::now();
    loop {
        let (_, body) = search(&app, &analyst, &[("q", "order"), ("sort", "subscribers")]).await;
        if most(&body).as_deref() == Some(product.as_str()) {
            break;
        }
        assert!(
            approved.elapsed() < PROPAGATION_CEILING,
            "{product} (2 subscribers) is not first: {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
