//! The signed-in person's own account: personal API tokens and their webhook.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::ApiError;
#[cfg(feature = "ssr")]
use domain::policy::Permission;

/// A token as the account page lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked: bool,
}

/// A token just created: the secret is in here once, and nowhere else.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedToken {
    pub token: String,
    pub view: TokenView,
}

#[cfg(feature = "ssr")]
impl From<domain::identity::tokens::TokenInfo> for TokenView {
    fn from(info: domain::identity::tokens::TokenInfo) -> Self {
        use crate::ssr::time::timestamp;

        TokenView {
            id: info.id.to_string(),
            name: info.name,
            prefix: info.prefix,
            created_at: timestamp(info.created_at),
            last_used_at: info.last_used_at.map(timestamp),
            revoked: info.revoked_at.is_some(),
        }
    }
}

/// The caller's tokens, newest first.
#[server(prefix = "/api/fn", endpoint = "list_tokens")]
pub async fn list_tokens() -> Result<Vec<TokenView>, ApiError> {
    use crate::ssr::{authorize, internal, services};

    let user = authorize(domain::policy::GLOBAL, Permission::ManageOwnAccount).await?;
    let tokens = domain::identity::tokens::list(&services()?.pool, user.id)
        .await
        .map_err(internal)?;
    Ok(tokens.into_iter().map(TokenView::from).collect())
}

/// Creates a token for the caller and returns its secret, once.
#[server(prefix = "/api/fn", endpoint = "create_token")]
pub async fn create_token(name: String) -> Result<CreatedToken, ApiError> {
    use crate::ssr::{authorize, error, internal, services};

    let user = authorize(domain::policy::GLOBAL, Permission::ManageOwnAccount).await?;
    let mut tx = services()?.pool.begin().await.map_err(internal)?;
    let created = domain::accounts::create_token(&mut tx, &user, &name)
        .await
        .map_err(error)?;
    tx.commit().await.map_err(internal)?;
    Ok(CreatedToken {
        token: created.token,
        view: created.info.into(),
    })
}

/// Revokes one of the caller's tokens.
#[server(prefix = "/api/fn", endpoint = "revoke_token")]
pub async fn revoke_token(id: String) -> Result<(), ApiError> {
    use crate::ssr::{authorize, error, internal, services};

    let user = authorize(domain::policy::GLOBAL, Permission::ManageOwnAccount).await?;
    let id = id
        .parse()
        .map_err(|_| crate::ssr::unprocessable("id", "is not a token id"))?;
    let services = services()?;
    let mut tx = services.pool.begin().await.map_err(internal)?;
    domain::accounts::revoke_token(&mut tx, &user, id)
        .await
        .map_err(error)?;
    tx.commit().await.map_err(internal)?;
    // Other processes hear of it from the trigger; this one does not wait for that.
    services.tokens.forget_all();
    Ok(())
}

/// The caller's webhook as the account page shows it (never its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookView {
    pub url: String,
    pub created_at: String,
    pub delivered: i64,
    pub failing: i64,
    pub last_error: Option<String>,
}

/// A webhook just set: its signing secret, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetWebhookResult {
    pub url: String,
    pub secret: String,
}

/// The caller's webhook, if set.
#[server(prefix = "/api/fn", endpoint = "my_webhook")]
pub async fn my_webhook() -> Result<Option<WebhookView>, ApiError> {
    use crate::ssr::{caller, error, services};

    let services = services()?;
    let found = domain::webhooks::get(&services.pool, &services.policy, &caller())
        .await
        .map_err(error)?;
    Ok(found.map(|w| WebhookView {
        url: w.url,
        created_at: crate::ssr::time::timestamp(w.created_at),
        delivered: w.delivered,
        failing: w.failing,
        last_error: w.last_error,
    }))
}

/// Sets the caller's webhook to `url`; its new signing secret, once.
#[server(prefix = "/api/fn", endpoint = "set_webhook")]
pub async fn set_webhook(url: String) -> Result<SetWebhookResult, ApiError> {
    use crate::ssr::{caller, error, services};

    let services = services()?;
    let set = domain::webhooks::set(
        &services.pool,
        &services.policy,
        &caller(),
        &url,
        services.webhooks_allow_private,
    )
    .await
    .map_err(error)?;
    Ok(SetWebhookResult {
        url: set.url,
        secret: set.secret,
    })
}

/// Removes the caller's webhook.
#[server(prefix = "/api/fn", endpoint = "remove_webhook")]
pub async fn remove_webhook() -> Result<bool, ApiError> {
    use crate::ssr::{caller, error, services};

    let services = services()?;
    domain::webhooks::remove(&services.pool, &services.policy, &caller())
        .await
        .map_err(error)
}
