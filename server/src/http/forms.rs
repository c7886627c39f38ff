//! The request body limit of server functions (the browser's forms and calls under
//! `/api/fn/`): [`MAX_FORM_BODY_BYTES`], set as axum's body limit for them, and a body
//! whose declared length is over it is refused with 413 naming the limit before any of it
//! is read. (A chunked body without a length stops at the same limit while it is read, and
//! is answered 422 by the server function: `request: length limit exceeded`.)

use axum::Json;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The largest server-function request: the largest form (a contract pasted into the
/// register page) is a few hundred KB at most.
pub const MAX_FORM_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Where the server functions are served.
pub const SERVER_FNS: &str = "/api/fn/";

/// Refuses a server-function request whose declared body is over [`MAX_FORM_BODY_BYTES`],
/// in the error shape the browser's server-function client reads.
pub async fn limit_declared_length(request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    match declared {
        Some(length)
            if request.uri().path().starts_with(SERVER_FNS)
                && length > MAX_FORM_BODY_BYTES as u64 =>
        {
            let error = app::api::ApiError::invalid(
                "request",
                format!("the request body is {length} bytes; the limit is {MAX_FORM_BODY_BYTES}"),
            );
            (StatusCode::PAYLOAD_TOO_LARGE, Json(error)).into_response()
        }
        _ => next.run(request).await,
    }
}
