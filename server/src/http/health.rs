//! Operations probes: `/healthz` says the process is alive; `/readyz` says whether it can do
//! its work, checking the database, the search index and the broker (503 naming what is
//! down). Details of a
//! failure go to the log, not to the client.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::Routes;
use crate::state::AppState;

const DATABASE_TIMEOUT: Duration = Duration::from_secs(2);
const BROKER_TIMEOUT: Duration = Duration::from_secs(3);

pub fn routes() -> Routes {
    Routes::new()
        .get("/healthz", healthz)
        .get("/readyz", readyz)
}

#[derive(Serialize)]
struct Liveness {
    status: &'static str,
}

async fn healthz() -> Json<Liveness> {
    Json(Liveness { status: "ok" })
}

/// The body of `/readyz`.
#[derive(Serialize)]
struct Readiness {
    status: &'static str,
    checks: Checks,
}

#[derive(Serialize)]
struct Checks {
    database: Check,
    search_index: Check,
    broker: Check,
}

#[derive(Serialize)]
struct Check {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
}

impl Check {
    fn ok() -> Self {
        Check {
            status: "ok",
            error: None,
        }
    }

    fn down(error: &'static str) -> Self {
        Check {
            status: "down",
            error: Some(error),
        }
    }

    fn is_ok(&self) -> bool {
        self.error.is_none()
    }
}

#[tracing::instrument(skip_all)]
async fn readyz(State(state): State<AppState>) -> Response {
    let (database, broker) = tokio::join!(check_database(&state), check_broker(&state));
    let search_index = if state.search.is_ready() {
        Check::ok()
    } else {
        Check::down("search index is being built")
    };
    let ready = database.is_ok() && search_index.is_ok() && broker.is_ok();
    let body = Readiness {
        status: if ready { "ready" } else { "unavailable" },
        checks: Checks {
            database,
            search_index,
            broker,
        },
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

async fn check_database(state: &AppState) -> Check {
    match tokio::time::timeout(DATABASE_TIMEOUT, domain::db::ping(&state.pool)).await {
        Ok(Ok(())) => Check::ok(),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness: database check failed");
            Check::down("database unreachable")
        }
        Err(_) => {
            tracing::warn!("readiness: database check timed out");
            Check::down("database did not answer in time")
        }
    }
}

async fn check_broker(state: &AppState) -> Check {
    match state.broker.check(BROKER_TIMEOUT).await {
        Ok(_) => Check::ok(),
        Err(error) => {
            tracing::warn!(%error, "readiness: broker check failed");
            Check::down("broker unreachable")
        }
    }
}
