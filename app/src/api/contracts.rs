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
    /// For a valid contract of a product that exists: what publishing it would change,
    /// as the product page's version diff shows it.
    pub changes: Option<super::catalog::VersionDiff>,
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
            changes: changes_from_current(&contract).await?,
        },
        Err(error @ ContractError::Internal(_)) => return Err(internal(error)),
        Err(error) => Validation {
            problems: problem_views(&error),
            summary: None,
            changes: None,
        },
    })
}

/// The diff from the product's current contract to `contract`, both as stored YAML (so
/// comments and layout of the typed text are not changes); `None` for a new product.
#[cfg(feature = "ssr")]
async fn changes_from_current(
    contract: &domain::contracts::Contract,
) -> Result<Option<super::catalog::VersionDiff>, ApiError> {
    use super::catalog::VersionDiff;
    use crate::ssr::{internal, services};
    use domain::contracts::export;

    let pool = services()?.pool;
    let Some((current, document)) = domain::catalog::contract_document(&pool, &contract.slug, None)
        .await
        .map_err(internal)?
    else {
        return Ok(None);
    };
    Ok(Some(VersionDiff::between(
        current,
        contract.version.to_string(),
        &export(&document),
        &export(&contract.document),
    )))
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
