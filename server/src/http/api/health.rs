//! Stream health over REST: a product's measured health against its contract
//! (`GET /api/v1/products/{slug}/health?window=SECONDS`) and the newest records the checker
//! kept (`GET /api/v1/products/{slug}/samples?limit=&invalid=true`), the latter for owners,
//! admins and active subscribers only (classified fields masked for subscribers).

use axum::Json;
use axum::extract::{Path, Query, State};
use domain::health::HealthError;
use domain::health::report::{self, DEFAULT_WINDOW_SECONDS, Health};
use domain::health::samples::{self, Samples};
use serde::Deserialize;

use super::{CallerExt, caller};
use crate::error::AppError;
use crate::http::Routes;
use crate::state::AppState;

pub fn routes() -> Routes {
    Routes::new()
        .get("/api/v1/products/{slug}/health", health)
        .get("/api/v1/products/{slug}/samples", samples)
}

#[derive(Deserialize)]
struct HealthQuery {
    window: Option<String>,
}

#[derive(Deserialize)]
struct SamplesQuery {
    limit: Option<String>,
    invalid: Option<String>,
}

fn bad(parameter: &str, message: impl Into<String>) -> AppError {
    AppError::BadRequest {
        field: parameter.to_string(),
        message: message.into(),
    }
}

fn number(parameter: &str, text: Option<&str>, default: i64) -> Result<i64, AppError> {
    match text.filter(|t| !t.is_empty()) {
        None => Ok(default),
        Some(text) => text
            .parse()
            .map_err(|_| bad(parameter, format!("`{text}` is not a whole number"))),
    }
}

async fn health(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(slug): Path<String>,
    query: Result<Query<HealthQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Health>, AppError> {
    let caller = caller(caller_ext);
    // Asks the policy: anyone who reads the catalog; owners see every subscription's lag.
    let reader = report::reader(&state.pool, &state.policy, &caller, &slug)
        .await
        .map_err(|error| not_found(error, &slug))?;
    let Query(query) = query.map_err(|e| bad("query", e.body_text()))?;
    let window = number("window", query.window.as_deref(), DEFAULT_WINDOW_SECONDS)?;
    report::health(&state.pool, &slug, window, reader.lag)
        .await
        .map(Json)
        .map_err(|error| not_found(error, &slug))
}

async fn samples(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(slug): Path<String>,
    query: Result<Query<SamplesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Samples>, AppError> {
    let caller = caller(caller_ext);
    let Query(query) = query.map_err(|e| bad("query", e.body_text()))?;
    let limit = number("limit", query.limit.as_deref(), 20)?;
    let invalid = match query.invalid.as_deref() {
        None | Some("" | "false") => false,
        Some("true") => true,
        Some(other) => return Err(bad("invalid", format!("`{other}` is not true or false"))),
    };
    // `samples` asks the policy itself (owners and admins, else an active subscription).
    samples::samples(&state.pool, &state.policy, &caller, &slug, limit, invalid)
        .await
        .map(Json)
        .map_err(|error| not_found(error, &slug))
}

fn not_found(error: HealthError, slug: &str) -> AppError {
    match error {
        HealthError::NotFound => AppError::NotFound(format!("no data product `{slug}`")),
        other => other.into(),
    }
}
