//! `/api/v1/products`: the catalog for scripts and CI — list and read products, push a
//! product's ODCS contract (`PUT …/contract`, YAML body) and fetch it back as YAML.

use axum::Json;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::catalog::{self, ProductQuery, Registration};
use domain::contracts::{self, MAX_CONTRACT_BYTES};
use domain::policy::GLOBAL;
use serde::Deserialize;
use serde_json::json;

use super::{CallerExt, caller};
use crate::error::AppError;
use crate::http::Routes;
use crate::state::AppState;
use domain::policy::Permission;

pub fn routes() -> Routes {
    Routes::new()
        .get("/api/v1/products", list)
        .get("/api/v1/products/{slug}", get)
        .get("/api/v1/products/{slug}/contract", get_contract)
        .put("/api/v1/products/{slug}/contract", put_contract)
}

async fn list(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Query(query): Query<ProductQuery>,
) -> Result<Json<serde_json::Value>, AppError> {
    let caller = caller(caller_ext);
    state
        .policy
        .authorize(&caller, GLOBAL, Permission::ReadCatalog)
        .await?;
    if query
        .limit
        .is_some_and(|l| !(1..=catalog::MAX_PAGE).contains(&l))
    {
        return Err(AppError::unprocessable(
            "limit",
            format!("must be 1 to {}", catalog::MAX_PAGE),
        ));
    }
    if query.offset.is_some_and(|o| o < 0) {
        return Err(AppError::unprocessable("offset", "must not be negative"));
    }
    let (items, total) = catalog::list(&state.pool, &query).await?;
    Ok(Json(json!({ "items": items, "total": total })))
}

async fn get(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(slug): Path<String>,
) -> Result<Json<catalog::ProductDetail>, AppError> {
    let caller = caller(caller_ext);
    state
        .policy
        .authorize(&caller, GLOBAL, Permission::ReadCatalog)
        .await?;
    catalog::get(&state.pool, &slug)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::NotFound(format!("no data product `{slug}`")))
}

#[derive(Deserialize)]
struct VersionQuery {
    version: Option<String>,
}

async fn get_contract(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(slug): Path<String>,
    Query(query): Query<VersionQuery>,
) -> Result<Response, AppError> {
    let caller = caller(caller_ext);
    state
        .policy
        .authorize(&caller, GLOBAL, Permission::ReadCatalog)
        .await?;
    let (version, document) =
        catalog::contract_document(&state.pool, &slug, query.version.as_deref())
            .await?
            .ok_or_else(|| {
                AppError::NotFound(format!("no contract for `{slug}` at that version"))
            })?;
    let disposition = format!("inline; filename=\"{slug}-{version}.odcs.yaml\"");
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/yaml; charset=utf-8".to_string(),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        contracts::export(&document),
    )
        .into_response())
}

#[derive(Deserialize)]
struct PushQuery {
    /// The domain to use when the contract names none.
    domain: Option<String>,
}

async fn put_contract(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(slug): Path<String>,
    Query(query): Query<PushQuery>,
    body: Body,
) -> Result<Response, AppError> {
    let caller = caller(caller_ext);
    // Signed in before reading a large body (publishing's own first check).
    let publisher = catalog::authorize_publish(&state.policy, &caller).await?;
    let bytes =
        to_bytes(body, MAX_CONTRACT_BYTES)
            .await
            .map_err(|_| AppError::PayloadTooLarge {
                limit: MAX_CONTRACT_BYTES,
            })?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| AppError::unprocessable("body", "the contract must be UTF-8 text"))?;
    let (contract, outcome) = catalog::publish(
        &state.pool,
        &state.policy,
        &publisher,
        text,
        Some(&slug),
        query.domain.as_deref(),
    )
    .await?;
    let status = match outcome {
        Registration::Created => StatusCode::CREATED,
        Registration::Updated | Registration::Unchanged => StatusCode::OK,
    };
    let product = catalog::get(&state.pool, &contract.slug).await?;
    Ok((
        status,
        Json(json!({ "outcome": outcome, "product": product })),
    )
        .into_response())
}
