//! Server functions of the domain page's "Producers" section: who may produce to the
//! domain's products (its producer principal and each product's grant), rotating the
//! principal's credential (the new password is shown once) and revoking or restoring a
//! product's grant. The domain operations (`domain::producers`) ask the policy themselves.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::ApiError;

/// One product's producer grant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerGrantRow {
    pub product: String,
    pub product_name: String,
    pub topics: Vec<String>,
    pub granted_at: String,
    pub revoked_at: Option<String>,
}

/// A domain's producer principal and its grants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerGrantsView {
    pub principal: String,
    pub username: String,
    pub mechanism: String,
    pub generation: i32,
    pub rotated_at: String,
    pub grants: Vec<ProducerGrantRow>,
}

/// A rotated credential, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotatedCredentialView {
    pub principal: String,
    pub mechanism: String,
    pub generation: i32,
    pub password: String,
}

/// Who may produce to the domain's products; `None` when it has no principal yet, or for a
/// signed-in caller who may not manage it (the domain page then shows no section, and its
/// status stays 200).
#[server(prefix = "/api/fn", endpoint = "producer_grants")]
pub async fn producer_grants(domain: String) -> Result<Option<ProducerGrantsView>, ApiError> {
    use crate::ssr::time::timestamp;
    use crate::ssr::{caller, error, services};
    use domain::policy::Denied;
    use domain::producers::ProducerError;

    let services = services()?;
    let view =
        match domain::producers::view(&services.pool, &services.policy, &caller(), &domain).await {
            Err(ProducerError::Denied(Denied::Forbidden { .. })) => return Ok(None),
            other => other.map_err(error)?,
        };
    Ok(view.map(|view| ProducerGrantsView {
        principal: view.principal,
        username: view.username,
        mechanism: view.mechanism,
        generation: view.generation,
        rotated_at: timestamp(view.rotated_at),
        grants: view
            .grants
            .into_iter()
            .map(|grant| ProducerGrantRow {
                product: grant.product,
                product_name: grant.product_name,
                topics: grant.topics,
                granted_at: timestamp(grant.granted_at),
                revoked_at: grant.revoked_at.map(timestamp),
            })
            .collect(),
    }))
}

/// Rotates the domain producer principal's credential; the password is in the answer only.
#[server(prefix = "/api/fn", endpoint = "rotate_producer_credential")]
pub async fn rotate_producer_credential(domain: String) -> Result<RotatedCredentialView, ApiError> {
    use crate::ssr::{caller, error, services};

    let services = services()?;
    let rotated = domain::producers::rotate(
        &services.pool,
        &services.policy,
        &caller(),
        &services.broker,
        &domain,
    )
    .await
    .map_err(error)?;
    Ok(RotatedCredentialView {
        principal: rotated.principal,
        mechanism: rotated.mechanism,
        generation: rotated.generation,
        password: rotated.password,
    })
}

/// Revokes (`granted = false`) or restores a product's producer grant.
#[server(prefix = "/api/fn", endpoint = "set_producer_grant")]
pub async fn set_producer_grant(slug: String, granted: bool) -> Result<bool, ApiError> {
    use crate::ssr::{caller, error, services};

    let services = services()?;
    domain::producers::set_granted(&services.pool, &services.policy, &caller(), &slug, granted)
        .await
        .map_err(error)
}
