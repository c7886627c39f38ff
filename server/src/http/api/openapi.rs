//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 description of the REST API, kept next to the
//! handlers. A test checks that it describes exactly the routes the router serves.

use axum::http::header;
use axum::response::IntoResponse;

use crate::http::Routes;

/// The document, embedded at build time.
pub const OPENAPI: &str = include_str!("openapi.json");

pub fn routes() -> Routes {
    Routes::new().get("/api/v1/openapi.json", document)
}

async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}
