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
