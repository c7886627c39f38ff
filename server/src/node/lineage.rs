//! The node's OpenLineage run events (START, RUNNING, COMPLETE, FAIL).

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;

use crate::configuration::Settings;

/// How often a running node tells OpenLineage it is still running.
pub(super) const RUNNING_EVERY: Duration = Duration::from_secs(300);

/// The node's OpenLineage run events (START, RUNNING, COMPLETE, FAIL), recorded through
/// the catalog's OpenLineage intake as observed lineage of the node's processor.
#[derive(Clone)]
pub(super) struct RunEvents {
    name: String,
    run_id: String,
    namespace: String,
    datasets: Arc<std::sync::Mutex<(String, String)>>,
}

impl RunEvents {
    pub(super) fn new(settings: &Settings, name: &str) -> Self {
        let first = settings
            .kafka
            .bootstrap_servers
            .split(',')
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        Self {
            name: name.to_string(),
            run_id: uuid::Uuid::new_v4().to_string(),
            namespace: format!("kafka://{first}"),
            datasets: Arc::default(),
        }
    }

    pub(super) fn set_datasets(&self, input: &str, output: &str) {
        if let Ok(mut datasets) = self.datasets.lock() {
            *datasets = (input.to_string(), output.to_string());
        }
    }

    /// Records one run event; a failure is logged, never fatal to the node.
    pub(super) async fn emit(&self, pool: &PgPool, event_type: &str) {
        let (input, output) = self
            .datasets
            .lock()
            .map(|datasets| datasets.clone())
            .unwrap_or_default();
        if input.is_empty() {
            return;
        }
        let event = serde_json::json!({
            "eventType": event_type,
            "eventTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "run": {"runId": self.run_id},
            "job": {"namespace": domain::lineage::CONTRACT_NAMESPACE, "name": self.name},
            "inputs": [{"namespace": self.namespace, "name": input}],
            "outputs": [{"namespace": self.namespace, "name": output}],
            "producer": "https://meshmart.local/node",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        });
        let reporter = domain::lineage::Reporter::system(format!("node {}", self.name));
        let body = event.to_string();
        if let Err(error) = domain::lineage::ingest(pool, &reporter, body.as_bytes()).await {
            tracing::warn!(%error, event_type, "OpenLineage run event not recorded");
        }
    }
}
