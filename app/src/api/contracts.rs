//! Contracts from the browser: validate as the owner types, publish, and the domains the
//! caller may publish to. Publishing goes through the same domain path as the REST API.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::ApiError;
#[cfg(feature = "ssr")]
use domain::policy::Permission;

/// One problem, as the editor shows it next to the text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProblemView {
    pub location: String,
    pub message: String,
}

/// What validation found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validation {
    pub problems: Vec<ProblemView>,
    /// For a valid contract: "order-placed 1.0.0 in sales, 1 port".
    pub summary: Option<String>,
}

#[cfg(feature = "ssr")]
fn problem_views(error: &domain::contracts::ContractError) -> Vec<ProblemView> {
    error
        .problems()
        .into_iter()
        .map(|p| ProblemView {
            location: match (p.line, p.column) {
                (Some(line), Some(column)) => format!("line {line}, column {column}"),
                _ if p.pointer.is_empty() => "contract".to_string(),
                _ => p.pointer.clone(),
            },
            message: p.message,
        })
        .collect()
}

/// Validates contract text without storing anything.
#[server(prefix = "/api/fn", endpoint = "validate_contract")]
pub async fn validate_contract(yaml: String) -> Result<Validation, ApiError> {
    use crate::ssr::{authorize, internal};
    use domain::contracts::ContractError;

    authorize(domain::policy::GLOBAL, Permission::ReadCatalog).await?;
    Ok(match domain::contracts::import(&yaml) {
        Ok(contract) => Validation {
            problems: Vec::new(),
            summary: Some(format!(
                "{} {} in {}, {}",
                contract.slug,
                contract.version,
                contract.domain.as_deref().unwrap_or("(choose a domain)"),
                crate::words::counted(contract.ports.len(), "port", "ports")
            )),
        },
        Err(error @ ContractError::Internal(_)) => return Err(internal(error)),
        Err(error) => Validation {
            problems: problem_views(&error),
            summary: None,
        },
    })
}

/// The domains the caller may publish products in (empty: no registration form).
#[server(prefix = "/api/fn", endpoint = "publishable_domains")]
pub async fn publishable_domains() -> Result<Vec<(String, String)>, ApiError> {
    use crate::ssr::{authorize, internal, services};

    let user = authorize(domain::policy::GLOBAL, Permission::ReadCatalog).await?;
    let services = services()?;
    let domains = domain::catalog::publishable_domains(&services.pool, &services.policy, &user)
        .await
        .map_err(internal)?;
    Ok(domains.into_iter().map(|d| (d.slug, d.name)).collect())
}

/// The current contract of `slug` as YAML, for its owners to start a new version from.
#[server(prefix = "/api/fn", endpoint = "current_contract")]
pub async fn current_contract(slug: String) -> Result<String, ApiError> {
    use crate::ssr::{authorize_owner_of, fail, internal, services};

    authorize_owner_of(&slug).await?;
    let pool = services()?.pool;
    let (_, document) = domain::catalog::contract_document(&pool, &slug, None)
        .await
        .map_err(internal)?
        .ok_or_else(|| fail(http::StatusCode::NOT_FOUND, ApiError::NotFound))?;
    Ok(domain::contracts::export(&document))
}

/// Publishes the contract; returns the product's slug.
#[server(prefix = "/api/fn", endpoint = "publish_contract")]
pub async fn publish_contract(yaml: String, domain: Option<String>) -> Result<String, ApiError> {
    use crate::ssr::{caller, services};

    let services = services()?;
    let caller = caller();
    let fallback = domain.filter(|d| !d.trim().is_empty());
    let publisher = domain::catalog::authorize_publish(&services.policy, &caller)
        .await
        .map_err(crate::ssr::error)?;
    let (contract, _) = domain::catalog::publish(
        &services.pool,
        &services.policy,
        &publisher,
        &yaml,
        None,
        fallback.as_deref(),
    )
    .await
    .map_err(crate::ssr::error)?;
    Ok(contract.slug)
}
