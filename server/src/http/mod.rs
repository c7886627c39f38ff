//! Plain axum routes (everything that is not a Leptos page or server function), one
//! `router()` per feature, merged here; and the middleware every request passes through.

mod health;
pub mod metrics;

use axum::Router;

use crate::state::AppState;

/// Every plain route of the application.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(health::router())
        .merge(metrics::router())
}
