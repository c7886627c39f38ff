//! The one application state shared by every handler, server function and worker.

use axum::extract::FromRef;
use domain::broker::BrokerAdmin;
use leptos::config::LeptosOptions;
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;

/// Handles to everything long-lived: cheap to clone.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub pool: PgPool,
    pub broker: BrokerAdmin,
    pub metrics: PrometheusHandle,
    pub leptos_options: LeptosOptions,
}
