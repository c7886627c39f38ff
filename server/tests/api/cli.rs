//! The `meshmart` binary refuses bad settings with one line that names the setting, exit
//! code 2 and no stack trace.

use std::process::Command;

fn meshmart(envs: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_meshmart"))
        .args(args)
        .envs(envs.iter().copied())
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("the meshmart binary runs")
}

fn single_line_error(output: &std::process::Output) -> String {
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn a_malformed_database_url_stops_with_one_line_naming_it() {
    let output = meshmart(
        &[("DATABASE_URL", "postgres://me:pw@localhost:99999/x")],
        &["migrate"],
    );
    let stderr = single_line_error(&output);
    assert!(stderr.contains("`database.url`"), "{stderr}");
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
    assert!(!stderr.contains(":pw@"), "password leaked: {stderr}");
}

#[test]
fn an_unparsable_setting_stops_with_one_line_naming_it() {
    let output = meshmart(&[("MESHMART__SERVER__PORT", "eighty")], &["serve"]);
    let stderr = single_line_error(&output);
    assert!(stderr.contains("server.port"), "{stderr}");
}

#[test]
fn an_unknown_log_format_stops_with_one_line_naming_it() {
    let output = meshmart(&[("MESHMART__LOG__FORMAT", "xml")], &["serve"]);
    let stderr = single_line_error(&output);
    assert!(stderr.contains("log.format"), "{stderr}");
}

/// The URL of the test's own database, for running the binary against it.
async fn database_url(pool: &sqlx::PgPool) -> String {
    let name: String = sqlx::query_scalar!(r#"select current_database() as "value!""#,)
        .fetch_one(pool)
        .await
        .expect("database name");
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL of the test stack");
    let (server, _) = base.rsplit_once('/').expect("a database URL");
    format!("{server}/{name}")
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn contract_push_publishes_a_file_and_reports_problems(pool: sqlx::PgPool) {
    let url = database_url(&pool).await;
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../domain/tests/fixtures/odcs/schema--kafka-schema.odcs.yaml"
    );
    let output = meshmart(
        &[("DATABASE_URL", &url)],
        &["contract", "push", fixture, "--domain", "sales"],
    );
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("registered orders-event-stream 0.0.1 (1 port(s))"),
        "{stdout}"
    );
    let domain: String =
        sqlx::query_scalar!("select domain from products where slug = 'orders-event-stream'",)
            .fetch_one(&pool)
            .await
            .expect("product stored");
    assert_eq!(domain, "sales", "the CLI created the missing domain");

    // Pushing the same file again changes nothing.
    let again = meshmart(
        &[("DATABASE_URL", &url)],
        &["contract", "push", fixture, "--domain", "sales"],
    );
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("unchanged"),
        "{again:?}"
    );

    // A broken file: exit code 1, each problem on its own line with its location.
    let broken = std::env::temp_dir().join(format!("broken-{}.yaml", std::process::id()));
    std::fs::write(
        &broken,
        "apiVersion: v3.1.0\nkind: DataContract\nid: x\nversion: 1.0.0\nstatus: 5\n",
    )
    .expect("write");
    let failed = meshmart(
        &[("DATABASE_URL", &url)],
        &["contract", "push", &broken.to_string_lossy()],
    );
    let _ = std::fs::remove_file(&broken);
    assert_eq!(failed.status.code(), Some(1), "{failed:?}");
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("/status"), "{stderr}");
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn traffic_refuses_an_unknown_product_with_one_line_naming_it(pool: sqlx::PgPool) {
    let url = database_url(&pool).await;
    let output = meshmart(
        &[("DATABASE_URL", &url)],
        &[
            "traffic",
            "--products",
            "no-such-product",
            "--duration",
            "1",
        ],
    );
    let stderr = single_line_error(&output);
    assert!(
        stderr.contains("unknown product `no-such-product`"),
        "{stderr}"
    );
}
