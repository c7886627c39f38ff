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
use domain::identity::Caller;

use super::Routes;

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
