//! The one application state shared by every handler, server function and worker.

use std::sync::Arc;

use axum::extract::FromRef;
use domain::broker::BrokerAdmin;
use domain::identity::throttle::LoginThrottle;
use domain::policy::Policy;
use domain::search::SearchIndex;
use leptos::config::LeptosOptions;
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;

use crate::configuration::AuthSettings;

/// Handles to everything long-lived: cheap to clone.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub pool: PgPool,
    pub broker: BrokerAdmin,
    pub policy: Policy,
    pub search: Arc<SearchIndex>,
    pub throttle: Arc<LoginThrottle>,
    /// API tokens resolved recently (`identity::token_cache`).
    pub tokens: Arc<domain::identity::token_cache::TokenCache>,
    pub auth: Arc<AuthSettings>,
    /// The load balancers whose `X-Forwarded-For` names the client (settings
    /// `server.trusted_proxies`).
    pub trusted_proxies: Arc<[ipnet::IpNet]>,
    pub metrics: PrometheusHandle,
    pub metrics_access: crate::http::metrics::MetricsAccess,
    pub leptos_options: LeptosOptions,
    /// How subscribers' clients reach the broker (for connection details).
    pub clients: Arc<domain::subscriptions::ClientAccess>,
    /// Whether users' webhooks may target private networks (settings `webhooks`).
    pub webhooks_allow_private: bool,
}

impl AppState {
    /// What server functions get as Leptos context.
    pub fn services(&self) -> app::ssr::Services {
        app::ssr::Services {
            pool: self.pool.clone(),
            policy: self.policy.clone(),
            search: Arc::clone(&self.search),
            throttle: Arc::clone(&self.throttle),
            tokens: Arc::clone(&self.tokens),
            clients: Arc::clone(&self.clients),
            broker: self.broker.clone(),
            webhooks_allow_private: self.webhooks_allow_private,
        }
    }
}
