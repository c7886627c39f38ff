//! Prometheus metrics: the recorder (one per process), the middleware that counts requests
//! and times them per route, and `/metrics` in the Prometheus text format.
//!
//! `/metrics` names routes, products and error rates, so it is not for everyone: with
//! `metrics.token` set, a scraper sends `Authorization: Bearer <token>`; without it, only
//! clients on this machine's loopback interface may read it.

use std::sync::OnceLock;
use std::time::Instant;

use std::net::IpAddr;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
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

/// Where the metrics are served.
pub const PATH: &str = "/metrics";

pub fn routes() -> Routes {
    Routes::new().get(PATH, render)
}

/// Who may read `/metrics`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetricsAccess {
    /// Clients on the loopback interface only (no token configured).
    Loopback,
    /// Bearers of the token whose SHA-256 this is, from anywhere.
    Token([u8; 32]),
}

impl MetricsAccess {
    pub fn new(token: Option<&str>) -> Self {
        match token {
            Some(token) => MetricsAccess::Token(digest(token)),
            None => MetricsAccess::Loopback,
        }
    }

    /// Whether a client at `peer` sending `authorization` may read the metrics.
    fn check(&self, peer: Option<IpAddr>, authorization: Option<&str>) -> Result<(), StatusCode> {
        match self {
            MetricsAccess::Loopback if peer.is_some_and(|ip| ip.to_canonical().is_loopback()) => {
                Ok(())
            }
            MetricsAccess::Loopback => Err(StatusCode::FORBIDDEN),
            MetricsAccess::Token(expected) => {
                // Digests of equal length are compared, so timing says nothing of the token.
                let sent = authorization.and_then(|value| value.strip_prefix("Bearer "));
                match sent {
                    Some(token) if digest(token.trim()) == *expected => Ok(()),
                    _ => Err(StatusCode::UNAUTHORIZED),
                }
            }
        }
    }
}

fn digest(token: &str) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(token.as_bytes()).into()
}

async fn render(State(state): State<AppState>, request: Request) -> Response {
    let peer = request
        .extensions()
        .get::<domain::identity::session::ClientIp>()
        .map(|ip| ip.0);
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    if let Err(status) = state.metrics_access.check(peer, authorization) {
        let message = match status {
            StatusCode::UNAUTHORIZED => "send the metrics token: Authorization: Bearer <token>",
            _ => {
                "metrics are served to this machine only; set metrics.token to scrape from elsewhere"
            }
        };
        return (status, message).into_response();
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
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

#[cfg(test)]
mod access_tests {
    use super::*;

    #[test]
    fn without_a_token_only_loopback_clients_read_the_metrics() {
        let access = MetricsAccess::new(None);
        for local in ["127.0.0.1", "127.8.0.3", "::1", "::ffff:127.0.0.1"] {
            let ip: IpAddr = local.parse().expect("ip");
            assert_eq!(access.check(Some(ip), None), Ok(()), "{local}");
        }
        for remote in ["10.0.0.7", "192.168.1.2", "2001:db8::1", "::ffff:10.0.0.7"] {
            let ip: IpAddr = remote.parse().expect("ip");
            assert_eq!(
                access.check(Some(ip), Some("Bearer anything")),
                Err(StatusCode::FORBIDDEN),
                "{remote}"
            );
        }
        assert_eq!(access.check(None, None), Err(StatusCode::FORBIDDEN));
    }

    #[test]
    fn with_a_token_only_its_bearers_read_the_metrics_from_anywhere() {
        let access = MetricsAccess::new(Some("s3cret-scrape"));
        let remote: IpAddr = "10.0.0.7".parse().expect("ip");
        let local: IpAddr = "127.0.0.1".parse().expect("ip");
        assert_eq!(
            access.check(Some(remote), Some("Bearer s3cret-scrape")),
            Ok(())
        );
        for wrong in [
            None,
            Some("Bearer s3cret"),
            Some("Basic s3cret-scrape"),
            Some("s3cret-scrape"),
        ] {
            assert_eq!(
                access.check(Some(local), wrong),
                Err(StatusCode::UNAUTHORIZED),
                "{wrong:?}, even from loopback"
            );
        }
    }
}
