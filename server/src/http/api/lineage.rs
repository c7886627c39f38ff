//! Lineage over REST: the graph around a product (`GET /api/v1/products/{slug}/lineage`),
//! what is downstream of it (`…/impact`), and OpenLineage run events reported by jobs
//! (`POST /api/v1/lineage/openlineage`, JSON, at most 1 MiB).

use axum::Json;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use domain::lineage::{
    self, DEFAULT_DEPTH, Direction, Graph, Impact, Ingested, LineageError, MAX_DEPTH,
};
use domain::policy::GLOBAL;
use serde::Deserialize;

use super::{CallerExt, caller};
use crate::error::AppError;
use crate::http::Routes;
use crate::state::AppState;
use domain::policy::Permission;

pub fn routes() -> Routes {
    Routes::new()
        .get("/api/v1/products/{slug}/lineage", graph)
        .get("/api/v1/products/{slug}/impact", impact)
        .post("/api/v1/lineage/openlineage", openlineage)
}

#[derive(Deserialize)]
struct GraphQuery {
    direction: Option<String>,
    depth: Option<String>,
}

fn bad(parameter: &str, message: impl Into<String>) -> AppError {
    AppError::BadRequest {
        field: parameter.to_string(),
        message: message.into(),
    }
}

async fn graph(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(slug): Path<String>,
    query: Result<Query<GraphQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Graph>, AppError> {
    let caller = caller(caller_ext);
    state
        .policy
        .authorize(&caller, GLOBAL, Permission::ReadCatalog)
        .await?;
    let Query(query) = query.map_err(|e| bad("query", e.body_text()))?;
    let direction = match query.direction.as_deref().filter(|d| !d.is_empty()) {
        None => Direction::default(),
        Some(text) => Direction::parse(text).ok_or_else(|| {
            bad(
                "direction",
                format!("unknown direction `{text}`; use up, down or both"),
            )
        })?,
    };
    let depth = match query.depth.as_deref().filter(|d| !d.is_empty()) {
        None => DEFAULT_DEPTH,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|d| *d <= MAX_DEPTH)
            .ok_or_else(|| {
                bad(
                    "depth",
                    format!("must be a whole number from 0 to {MAX_DEPTH}"),
                )
            })?,
    };
    lineage::graph(&state.pool, &slug, direction, depth)
        .await
        .map(Json)
        .map_err(|error| not_found(error, &slug))
}

async fn impact(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(slug): Path<String>,
) -> Result<Json<Impact>, AppError> {
    let caller = caller(caller_ext);
    state
        .policy
        .authorize(&caller, GLOBAL, Permission::ReadCatalog)
        .await?;
    lineage::impact(&state.pool, &slug)
        .await
        .map(Json)
        .map_err(|error| not_found(error, &slug))
}

/// Names the product a lineage read did not find.
fn not_found(error: LineageError, slug: &str) -> AppError {
    match error {
        LineageError::NotFound => AppError::NotFound(format!("no data product `{slug}`")),
        other => other.into(),
    }
}

async fn openlineage(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    body: Body,
) -> Result<(StatusCode, Json<Ingested>), AppError> {
    let caller = caller(caller_ext);
    // Allowed to report lineage before reading a large body (the one check: `ingest`
    // takes its proof).
    let reporter = lineage::authorize_report(&state.policy, &caller).await?;
    let bytes = to_bytes(body, lineage::MAX_EVENT_BYTES)
        .await
        .map_err(|_| AppError::PayloadTooLarge {
            limit: lineage::MAX_EVENT_BYTES,
        })?;
    let ingested = lineage::ingest(&state.pool, &reporter, &bytes).await?;
    let status = if ingested.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(ingested)))
}
