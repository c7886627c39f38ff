//! Server functions of the processor page (`/nodes/:name`): a stream node's definition, its
//! processes as they report themselves, and the operations its owners have (pause, resume,
//! restart). The domain operations (`domain::nodes`) ask the policy themselves.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::ApiError;

/// One process of a node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstanceRow {
    pub instance: i32,
    pub host: String,
    pub pid: i32,
    /// `running`, `paused`, `restarting`, `stopped` or `gone`.
    pub state: String,
    pub partitions: Vec<i32>,
    pub records: i64,
    pub dead_letters: i64,
    /// Records per second over the process's last heartbeat interval.
    pub rate: f64,
    pub lag: Option<i64>,
    pub started_at: String,
    pub heartbeat_at: String,
    /// Seconds since the last heartbeat, when the page was made.
    pub heartbeat_age: i64,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    /// Since when the process parks the output on the detour topic (the output refuses
    /// writes).
    pub rerouted_since: Option<String>,
}

/// A node as its page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodePageView {
    pub name: String,
    pub kind: String,
    pub domain: String,
    pub product: String,
    pub input_topic: String,
    pub input_product: Option<String>,
    pub output_topic: String,
    pub principal: String,
    pub group: String,
    pub transactional_prefix: String,
    pub dead_letter_topic: String,
    pub detour_topic: String,
    pub paused: bool,
    /// Whether the caller may pause, resume and restart it.
    pub can_operate: bool,
    pub instances: Vec<InstanceRow>,
}

/// The node `name` for anyone signed in who may read the catalog.
#[server(prefix = "/api/fn", endpoint = "node_page")]
pub async fn node_page(name: String) -> Result<NodePageView, ApiError> {
    use crate::ssr::{caller, error, services};
    use domain::policy::Permission;

    let services = services()?;
    let caller = caller();
    let view = domain::nodes::view(&services.pool, &services.policy, &caller, &name)
        .await
        .map_err(error)?;
    let can_operate = services
        .policy
        .authorize(&caller, &view.node.domain, Permission::WriteProduct)
        .await
        .is_ok();
    let now = chrono::Utc::now();
    let clock = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    Ok(NodePageView {
        transactional_prefix: domain::nodes::transactional_prefix(&view.node.name),
        name: view.node.name.clone(),
        kind: view.node.kind.clone(),
        domain: view.node.domain.clone(),
        product: view.node.product.clone(),
        input_topic: view.node.input_topic.clone(),
        input_product: view.input_product,
        output_topic: view.node.output_topic.clone(),
        principal: view.node.principal.clone(),
        group: view.group,
        dead_letter_topic: view.dead_letter_topic,
        detour_topic: view.detour_topic,
        paused: view.node.paused,
        can_operate,
        instances: view
            .instances
            .into_iter()
            .map(|i| InstanceRow {
                instance: i.instance,
                host: i.host,
                pid: i.pid,
                state: i.state,
                partitions: i.partitions,
                records: i.records,
                dead_letters: i.dead_letters,
                rate: i.rate,
                lag: i.lag,
                started_at: clock(i.started_at),
                heartbeat_at: clock(i.heartbeat_at),
                heartbeat_age: (now - i.heartbeat_at).num_seconds().max(0),
                last_error: i.last_error,
                last_error_at: i.last_error_at.map(clock),
                rerouted_since: i.rerouted_since.map(clock),
            })
            .collect(),
    })
}

/// Pauses (`paused = true`) or resumes the node; whether that changed anything.
#[server(prefix = "/api/fn", endpoint = "set_node_paused")]
pub async fn set_node_paused(name: String, paused: bool) -> Result<bool, ApiError> {
    use crate::ssr::{caller, error, services};

    let services = services()?;
    domain::nodes::set_paused(&services.pool, &services.policy, &caller(), &name, paused)
        .await
        .map_err(error)
}

/// Asks the node's processes to restart in place; the new restart generation.
#[server(prefix = "/api/fn", endpoint = "restart_node")]
pub async fn restart_node(name: String) -> Result<i32, ApiError> {
    use crate::ssr::{caller, error, services};

    let services = services()?;
    domain::nodes::request_restart(&services.pool, &services.policy, &caller(), &name)
        .await
        .map_err(error)
}
