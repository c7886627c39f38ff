//! Sign-in, sessions, throttling, cross-site protection, API tokens, role changes taking
//! effect at once, and the audit trail of all of it.

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

const PASSWORD: &str = "meshmart";

fn cookie_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn login(
    app: &TestApp,
    client: &reqwest::Client,
    email: &str,
    password: &str,
) -> reqwest::Response {
    client
        .post(format!("{}/api/v1/session", app.address))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .expect("request")
}

async fn audit(pool: &PgPool, action: &str) -> Vec<domain::audit::Entry> {
    domain::audit::search(
        pool,
        &domain::audit::Filter {
            action: Some(action.to_string()),
            ..Default::default()
        },
    )
    .await
    .expect("audit search")
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn login_sets_a_hardened_session_cookie_and_rotates_the_session_id(pool: PgPool) {
    domain::demo::seed_parts(&pool, &[domain::demo::Part::Identities], false)
        .await
        .expect("demo");
    let app = spawn_app(pool.clone()).await;
    let client = cookie_client();

    let first = login(&app, &client, "analyst1@meshmart.local", PASSWORD).await;
    assert_eq!(first.status(), 200);
    let cookie = first.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(cookie.starts_with("meshmart_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        cookie.contains("Max-Age=7200"),
        "idle expiry of 120 minutes: {cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain http in tests: {cookie}");
    let body: Value = first.json().await.expect("json");
    assert_eq!(body["display_name"], "Analyst 1");

    // Signing in again on the same session gets a new session id (no fixation).
    let second = login(&app, &client, "analyst1@meshmart.local", PASSWORD).await;
    let rotated = second.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_string();
    let id = |c: &str| c.split(';').next().unwrap_or_default().to_string();
    assert_ne!(id(&cookie), id(&rotated));

    let me = client
        .get(format!("{}/api/v1/session", app.address))
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), 200);
    let logout = client
        .delete(format!("{}/api/v1/session", app.address))
        .send()
        .await
        .expect("out");
    assert_eq!(logout.status(), 204);
    let me = client
        .get(format!("{}/api/v1/session", app.address))
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), 401);

    assert!(
        audit(&pool, "login")
            .await
            .iter()
            .any(|e| e.outcome == "success")
    );
    assert_eq!(audit(&pool, "logout").await.len(), 1);
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn the_cookie_is_secure_when_served_over_https(pool: PgPool) {
    domain::demo::seed_parts(&pool, &[domain::demo::Part::Identities], false)
        .await
        .expect("demo");
    let app = spawn_app_with(pool, |settings| {
        settings.server.public_url = "https://meshmart.example".to_string();
    })
    .await;
    let response = login(&app, &cookie_client(), "analyst1@meshmart.local", PASSWORD).await;
    let cookie = response.headers()["set-cookie"].to_str().expect("ascii");
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn a_wrong_password_is_refused_and_audited(pool: PgPool) {
    domain::demo::seed_parts(&pool, &[domain::demo::Part::Identities], false)
        .await
        .expect("demo");
    let app = spawn_app(pool.clone()).await;
    let response = login(
        &app,
        &cookie_client(),
        "analyst1@meshmart.local",
        "nope-nope",
    )
    .await;
    assert_eq!(response.status(), 401);
    assert!(response.headers().get("set-cookie").is_none());
    let failures: Vec<_> = audit(&pool, "login")
        .await
        .into_iter()
        .filter(|e| e.outcome == "failure")
        .collect();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].target, "user:analyst1@meshmart.local");
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn twenty_wrong_passwords_throttle_the_account_until_the_window_passes(pool: PgPool) {
    domain::demo::seed_parts(&pool, &[domain::demo::Part::Identities], false)
        .await
        .expect("demo");
    let app = spawn_app_with(pool.clone(), |settings| {
        settings.auth.login_burst_per_account = 10;
        // Long enough that no attempt comes back during the 20 below, even on a busy machine.
        settings.auth.login_refill_seconds = 5;
    })
    .await;
    let client = cookie_client();
    let mut statuses = Vec::new();
    let mut last_body = Value::Null;
    for _ in 0..20 {
        let response = login(&app, &client, "analyst1@meshmart.local", "wrong-password").await;
        statuses.push(response.status().as_u16());
        last_body = response.json().await.expect("json");
    }
    assert_eq!(&statuses[..10], &[401; 10], "{statuses:?}");
    assert_eq!(statuses[19], 429, "{statuses:?}");
    let message = last_body["error"]["message"].as_str().expect("message");
    assert!(
        message.starts_with("too many login attempts for this account; try again in"),
        "{message}"
    );

    // While throttled, even the right password waits...
    assert_eq!(
        login(&app, &client, "analyst1@meshmart.local", PASSWORD)
            .await
            .status(),
        429
    );
    // ...and other accounts are not affected.
    assert_eq!(
        login(&app, &client, "analyst2@meshmart.local", PASSWORD)
            .await
            .status(),
        200
    );

    tokio::time::sleep(std::time::Duration::from_millis(5100)).await;
    assert_eq!(
        login(&app, &client, "analyst1@meshmart.local", PASSWORD)
            .await
            .status(),
        200
    );
    assert!(!audit(&pool, "login.throttled").await.is_empty());
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn a_forged_cross_site_post_is_refused_and_changes_nothing(pool: PgPool) {
    domain::demo::seed_parts(&pool, &[domain::demo::Part::Identities], false)
        .await
        .expect("demo");
    let app = spawn_app(pool.clone()).await;
    let client = cookie_client();
    assert_eq!(
        login(&app, &client, "analyst1@meshmart.local", PASSWORD)
            .await
            .status(),
        200
    );

    for (header, value) in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let forged = client
            .post(format!("{}/api/v1/tokens", app.address))
            .header(header, value)
            .json(&json!({ "name": "stolen" }))
            .send()
            .await
            .expect("request");
        assert_eq!(forged.status(), 403, "{header}: {value}");
        let forged_fn = client
            .post(format!("{}/api/fn/create_token", app.address))
            .header(header, value)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("name=stolen")
            .send()
            .await
            .expect("request");
        assert_eq!(forged_fn.status(), 403, "{header}: {value}");
    }
    let count: i64 = sqlx::query_scalar!(r#"select count(*) as "count!" from api_tokens"#,)
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(count, 0, "no token was created");

    // The same request from our own origin works.
    let same = client
        .post(format!("{}/api/v1/tokens", app.address))
        .header("origin", app.address.clone())
        .json(&json!({ "name": "mine" }))
        .send()
        .await
        .expect("request");
    assert_eq!(same.status(), 201);
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn an_api_token_works_until_the_moment_it_is_revoked(pool: PgPool) {
    domain::demo::seed_parts(&pool, &[domain::demo::Part::Identities], false)
        .await
        .expect("demo");
    let app = spawn_app(pool.clone()).await;
    let client = cookie_client();
    assert_eq!(
        login(&app, &client, "analyst1@meshmart.local", PASSWORD)
            .await
            .status(),
        200
    );
    let created: Value = client
        .post(format!("{}/api/v1/tokens", app.address))
        .json(&json!({ "name": "automation" }))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let token = created["token"]
        .as_str()
        .expect("token shown once")
        .to_string();
    let id = created["id"].as_str().expect("id").to_string();

    let bearer = reqwest::Client::new();
    let me = bearer
        .get(format!("{}/api/v1/session", app.address))
        .bearer_auth(&token)
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), 200);

    let listed: Value = bearer
        .get(format!("{}/api/v1/tokens", app.address))
        .bearer_auth(&token)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert!(listed[0]["last_used_at"].is_string(), "{listed}");
    assert!(
        listed[0].get("token").is_none(),
        "the secret is never listed: {listed}"
    );

    let revoked = bearer
        .delete(format!("{}/api/v1/tokens/{id}", app.address))
        .bearer_auth(&token)
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoked.status(), 204);
    let after = bearer
        .get(format!("{}/api/v1/session", app.address))
        .bearer_auth(&token)
        .send()
        .await
        .expect("me");
    assert_eq!(after.status(), 401);

    assert_eq!(audit(&pool, "token.create").await.len(), 1);
    assert_eq!(audit(&pool, "token.revoke").await.len(), 1);
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn a_granted_owner_role_applies_to_the_next_request(pool: PgPool) {
    domain::demo::seed_parts(&pool, &[domain::demo::Part::Identities], false)
        .await
        .expect("demo");
    let app = spawn_app(pool.clone()).await;
    let analyst = cookie_client();
    assert_eq!(
        login(&app, &analyst, "analyst2@meshmart.local", PASSWORD)
            .await
            .status(),
        200
    );
    let create = |name: &'static str| {
        analyst
            .post(format!(
                "{}/api/v1/domains/sales/service-accounts",
                app.address
            ))
            .json(&json!({ "name": name }))
            .send()
    };
    let before = create("svc-sales-reporting").await.expect("request");
    assert_eq!(before.status(), 403);
    let body: Value = before.json().await.expect("json");
    assert_eq!(
        body["error"]["message"],
        "missing permission: manage service-account in domain sales"
    );

    let admin = cookie_client();
    assert_eq!(
        login(&app, &admin, "admin@meshmart.local", PASSWORD)
            .await
            .status(),
        200
    );
    let analyst2 = domain::identity::users::find_by_email(&pool, "analyst2@meshmart.local")
        .await
        .expect("db")
        .expect("user");
    let grant = admin
        .post(format!("{}/api/fn/admin_set_role", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(format!(
            "id={}&role=owner&domain=sales&grant=true",
            analyst2.id
        ))
        .send()
        .await
        .expect("grant");
    assert!(grant.status().is_success(), "{}", grant.status());

    let after = create("svc-sales-reporting").await.expect("request");
    assert_eq!(after.status(), 201);
    let grants = audit(&pool, "role.grant").await;
    assert!(
        grants.iter().any(|e| e.actor == "user:admin@meshmart.local"
            && e.target == "user:analyst2@meshmart.local"),
        "{grants:?}"
    );
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn admins_export_the_audit_log_as_csv(pool: PgPool) {
    domain::demo::seed_parts(&pool, &[domain::demo::Part::Identities], false)
        .await
        .expect("demo");
    let app = spawn_app(pool).await;
    let admin = cookie_client();
    assert_eq!(
        login(&app, &admin, "admin@meshmart.local", PASSWORD)
            .await
            .status(),
        200
    );
    let response = admin
        .get(format!(
            "{}/api/v1/audit?format=csv&action=login",
            app.address
        ))
        .send()
        .await
        .expect("csv");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/csv")
    );
    let csv = response.text().await.expect("text");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("id,occurred_at,actor,action,target,domain,outcome,before,after,client_ip")
    );
    assert!(
        lines.any(|line| line.contains(",user:admin@meshmart.local,login,")),
        "{csv}"
    );

    let bad = admin
        .get(format!("{}/api/v1/audit?from=yesterday", app.address))
        .send()
        .await
        .expect("bad");
    assert_eq!(bad.status(), 422);
    let body: Value = bad.json().await.expect("json");
    assert_eq!(body["error"]["field"], "from");
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn signing_in_with_a_hostile_next_stays_on_this_site(pool: PgPool) {
    domain::demo::seed_parts(&pool, &[domain::demo::Part::Identities], false)
        .await
        .expect("demo");
    let app = spawn_app(pool.clone()).await;
    let sign_in = |email: &'static str, next: String| {
        let address = app.address.clone();
        async move {
            let body = form_urlencoded::Serializer::new(String::new())
                .append_pair("email", email)
                .append_pair("password", PASSWORD)
                .append_pair("next", &next)
                .finish();
            cookie_client()
                .post(format!("{address}/api/fn/login"))
                // As a browser's form post without JavaScript.
                .header("accept", "text/html,application/xhtml+xml")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .expect("the server answers (a worker that panics answers nothing)")
        }
    };

    let hostile = [
        "/\t/evil.example".to_string(),
        "/\r/evil.example".to_string(),
        "/\n".to_string(),
        "/\\evil.example".to_string(),
        "//evil.example".to_string(),
        "/%2F%2Fevil.example".to_string(),
        "https://evil.example/".to_string(),
        format!("/{}", "a".repeat(10_000)),
    ];
    for next in hostile {
        let response = sign_in("analyst1@meshmart.local", next.clone()).await;
        assert!(
            response.status().is_redirection(),
            "{next:?}: {}",
            response.status()
        );
        assert_eq!(response.headers()["location"], "/", "{next:?}");
    }

    // A path on this site is where the browser goes.
    let response = sign_in("analyst2@meshmart.local", "/subscriptions?tab=mine".into()).await;
    assert_eq!(
        response.headers()["location"],
        "/subscriptions?tab=mine",
        "a local path and query survive"
    );
}
