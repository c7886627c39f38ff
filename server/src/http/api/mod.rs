//! The REST API under `/api/v1`, for scripts and automation: the same rules as the browser
//! (every handler asks the policy), sessions or `Authorization: Bearer` API tokens.

mod audit;
mod health;
mod incidents;
mod lineage;
mod nodes;
mod openapi;
mod producers;
mod products;
mod search;
mod service_accounts;
mod session;
mod subscriptions;
mod tokens;
mod webhooks;

use axum::Extension;
use axum::body::{Bytes, to_bytes};
use axum::extract::{FromRequest, Request};
use domain::identity::Caller;

use super::Routes;
use crate::error::AppError;

/// The largest JSON body the REST API's small requests accept (a subscription request, a
/// decision, a replay, a webhook, an incident action): each is well under 1 KB, and a
/// larger body is refused with 413 naming this limit before any of it is parsed. Contracts
/// (`products`), lineage events and registry schemas have limits of their own.
pub const MAX_JSON_BODY_BYTES: usize = 64 * 1024;

/// Every `/api/v1` route.
pub fn routes() -> Routes {
    Routes::new()
        .merge(session::routes())
        .merge(tokens::routes())
        .merge(service_accounts::routes())
        .merge(producers::routes())
        .merge(products::routes())
        .merge(search::routes())
        .merge(subscriptions::routes())
        .merge(lineage::routes())
        .merge(nodes::routes())
        .merge(incidents::routes())
        .merge(webhooks::routes())
        .merge(health::routes())
        .merge(audit::routes())
        .merge(openapi::routes())
}

/// The caller the auth middleware resolved (anonymous when it did not run).
pub type CallerExt = Option<Extension<Caller>>;

pub fn caller(extension: CallerExt) -> Caller {
    extension
        .map(|Extension(caller)| caller)
        .unwrap_or_default()
}

/// The bytes of a JSON request body of at most [`MAX_JSON_BODY_BYTES`] (413 naming the
/// limit otherwise); [`body`] parses them.
pub struct JsonBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = AppError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, AppError> {
        to_bytes(request.into_body(), MAX_JSON_BODY_BYTES)
            .await
            .map(JsonBody)
            .map_err(|_| AppError::PayloadTooLarge {
                limit: MAX_JSON_BODY_BYTES,
            })
    }
}

/// Parses a JSON body into `T`, naming the field that is wrong; an empty body is `{}`.
pub fn body<T: serde::de::DeserializeOwned>(bytes: &Bytes) -> Result<T, AppError> {
    if bytes.is_empty() {
        return serde_json::from_slice(b"{}")
            .map_err(|e| AppError::unprocessable("body", e.to_string()));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        AppError::unprocessable(
            "body",
            format!("{e} (line {}, column {})", e.line(), e.column()),
        )
    })
}
