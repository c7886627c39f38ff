//! Prometheus metrics: the recorder (one per process), the middleware that counts requests
//! and times them per route, and `/metrics` in the Prometheus text format.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::Routes;
use crate::state::AppState;

const REQUEST_DURATION: &str = "http_request_duration_seconds";
const REQUESTS_TOTAL: &str = "http_requests_total";
/// Buckets from 1 ms to 10 s: page renders sit at the low end, broker checks at the high end.
const DURATION_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Installs the process-wide recorder on first call and returns its handle. Concurrent
/// first calls (tests start several applications at once) install it exactly once.
pub fn recorder() -> anyhow::Result<PrometheusHandle> {
    static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(REQUEST_DURATION.to_string()),
                    &DURATION_BUCKETS,
                )
                .and_then(PrometheusBuilder::install_recorder)
                .map_err(|error| error.to_string())
        })
        .clone()
        .map_err(|error| anyhow::anyhow!("metrics recorder: {error}"))
}

pub fn routes() -> Routes {
    Routes::new().get("/metrics", render)
}

async fn render(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

/// Counts and times every request, labelled by the route pattern (never the raw path, which
/// would let clients create unbounded series).
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request.extensions().get::<MatchedPath>().map_or_else(
        || route_group(request.uri().path()),
        |path| path.as_str().to_string(),
    );
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!(REQUESTS_TOTAL, &labels).increment(1);
    metrics::histogram!(REQUEST_DURATION, &labels).record(started.elapsed().as_secs_f64());
    response
}

/// A bounded label for requests no route pattern matched (static files, 404s).
fn route_group(path: &str) -> String {
    if path.starts_with("/pkg/") {
        "/pkg/{file}".to_string()
    } else if path.starts_with("/assets/") {
        "/assets/{file}".to_string()
    } else {
        "unmatched".to_string()
    }
}
