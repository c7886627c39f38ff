//! The error every server function returns: variants the UI can match on, messages fit to
//! show a person, and never internal details (those go to the server log).

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// What went wrong, as the browser sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ApiError {
    #[error("sign in first")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    Throttled(String),
    /// A part of the service is not ready yet (the search index being rebuilt); try again.
    #[error("{0}")]
    Unavailable(String),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("something went wrong on our side; try again")]
    Internal,
    #[error("the request could not be completed: {0}")]
    Transport(String),
}

impl ApiError {
    /// An invalid field, with the message to show next to it.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(message) | ServerFnErrorErr::Deserialization(message) => {
                unreadable(message)
            }
            other => ApiError::Transport(other.to_string()),
        }
    }
}

/// A request whose arguments could not be read (a field missing, a body over the limit):
/// the caller's to fix, so 422 on the server (a plain form post keeps its redirect back).
fn unreadable(message: String) -> ApiError {
    #[cfg(feature = "ssr")]
    return crate::ssr::unprocessable("request", message);
    #[cfg(not(feature = "ssr"))]
    ApiError::invalid("request", message)
}
