//! The error of REST handlers: explicit 4xx variants with messages for the client, and a
//! 500 that logs the real cause and tells the client nothing internal. Bodies are
//! `{"error": {"code": "...", "message": "...", "field": "..."}}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::identity::IdentityError;
use domain::policy::Denied;
use serde_json::json;

/// What a REST handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("sign in first")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{field}: {message}")]
    Unprocessable { field: String, message: String },
    /// The request itself is malformed (a search query's syntax); 400.
    #[error("{field}: {message}")]
    BadRequest { field: String, message: String },
    /// A part of the service is not ready yet (the search index being rebuilt); 503.
    #[error("{message}")]
    Unavailable { message: String, retry_after: u64 },
    #[error("{message}")]
    TooManyRequests { message: String, retry_after: u64 },
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{message}")]
    InvalidContract {
        message: String,
        problems: Vec<domain::contracts::Problem>,
    },
    /// A contract whose schema breaks the registry's compatibility mode; 409.
    #[error("{message}")]
    IncompatibleContract {
        message: String,
        problems: Vec<domain::contracts::Problem>,
    },
    /// An OpenLineage event that does not follow the schema; 422 with each problem.
    #[error("{message}")]
    InvalidEvent {
        message: String,
        problems: Vec<domain::contracts::Problem>,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl AppError {
    pub fn unprocessable(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Unprocessable {
            field: field.into(),
            message: message.into(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::InvalidContract { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::IncompatibleContract { .. } => StatusCode::CONFLICT,
            AppError::InvalidEvent { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Database(_) | AppError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            AppError::Unauthorized => "unauthenticated",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "not_found",
            AppError::Conflict(_) => "conflict",
            AppError::Unprocessable { .. } => "invalid",
            AppError::BadRequest { .. } => "bad_request",
            AppError::Unavailable { .. } => "unavailable",
            AppError::TooManyRequests { .. } => "throttled",
            AppError::PayloadTooLarge { .. } => "too_large",
            AppError::InvalidContract { .. } => "invalid_contract",
            AppError::IncompatibleContract { .. } => "incompatible_schema",
            AppError::InvalidEvent { .. } => "invalid_event",
            AppError::Database(_) | AppError::Unexpected(_) => "internal",
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            AppError::Database(error) => {
                tracing::error!(%error, "database error in a request");
                "something went wrong on our side; try again".to_string()
            }
            AppError::Unexpected(error) => {
                tracing::error!(
                    error = format!("{error:#}"),
                    "unexpected error in a request"
                );
                "something went wrong on our side; try again".to_string()
            }
            other => other.to_string(),
        };
        let mut body = json!({ "error": { "code": self.code(), "message": message } });
        if let AppError::Unprocessable { field, .. } | AppError::BadRequest { field, .. } = &self {
            body["error"]["field"] = json!(field);
        }
        if let AppError::InvalidContract { problems, .. }
        | AppError::IncompatibleContract { problems, .. }
        | AppError::InvalidEvent { problems, .. } = &self
        {
            body["error"]["problems"] = json!(problems);
        }
        let mut response = (status, Json(body)).into_response();
        if let AppError::TooManyRequests { retry_after, .. }
        | AppError::Unavailable { retry_after, .. } = &self
            && let Ok(value) = HeaderValue::from_str(&retry_after.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<Denied> for AppError {
    fn from(denied: Denied) -> Self {
        match denied {
            Denied::Unauthenticated => AppError::Unauthorized,
            forbidden @ Denied::Forbidden { .. } => AppError::Forbidden(forbidden.to_string()),
        }
    }
}

impl From<domain::contracts::ContractError> for AppError {
    fn from(error: domain::contracts::ContractError) -> Self {
        match error {
            domain::contracts::ContractError::TooLarge { limit, .. } => {
                AppError::PayloadTooLarge { limit }
            }
            domain::contracts::ContractError::Internal(message) => {
                AppError::Unexpected(anyhow::anyhow!(message))
            }
            other => AppError::InvalidContract {
                message: other.to_string(),
                problems: other.problems(),
            },
        }
    }
}

impl From<domain::catalog::CatalogError> for AppError {
    fn from(error: domain::catalog::CatalogError) -> Self {
        use domain::catalog::CatalogError;
        match error {
            CatalogError::Invalid(problem) => AppError::InvalidContract {
                message: problem.to_string(),
                problems: vec![problem],
            },
            CatalogError::Conflict(message) => AppError::Conflict(message),
            CatalogError::Incompatible(problems) => AppError::IncompatibleContract {
                message: "the contract's schema is incompatible with the published one".to_string(),
                problems,
            },
            CatalogError::NotFound => AppError::NotFound("no such data product".to_string()),
            CatalogError::Database(error) => AppError::Database(error),
            CatalogError::Internal(message) => AppError::Unexpected(anyhow::anyhow!(message)),
        }
    }
}

impl From<domain::catalog::PublishError> for AppError {
    fn from(error: domain::catalog::PublishError) -> Self {
        use domain::catalog::PublishError;
        match error {
            PublishError::Contract(error) => error.into(),
            PublishError::Denied(denied) => denied.into(),
            PublishError::Catalog(error) => error.into(),
        }
    }
}

impl From<domain::search::SearchError> for AppError {
    fn from(error: domain::search::SearchError) -> Self {
        use domain::search::SearchError;
        match error {
            SearchError::Query(error) => AppError::BadRequest {
                field: "q".to_string(),
                message: error.to_string(),
            },
            SearchError::NotReady => AppError::Unavailable {
                message: "the search index is being rebuilt; try again in a few seconds"
                    .to_string(),
                retry_after: 5,
            },
            SearchError::Database(error) => AppError::Database(error),
            other => AppError::Unexpected(other.into()),
        }
    }
}

impl From<domain::lineage::LineageError> for AppError {
    fn from(error: domain::lineage::LineageError) -> Self {
        use domain::lineage::LineageError;
        match error {
            LineageError::NotFound => AppError::NotFound("no such data product".to_string()),
            LineageError::BadParameter { parameter, message } => AppError::BadRequest {
                field: parameter.to_string(),
                message,
            },
            LineageError::Invalid(problems) => AppError::InvalidEvent {
                message: domain::lineage::invalid_summary(&problems),
                problems,
            },
            LineageError::TooLarge { limit, .. } => AppError::PayloadTooLarge { limit },
            LineageError::Denied(denied) => denied.into(),
            LineageError::Database(error) => AppError::Database(error),
        }
    }
}

impl From<IdentityError> for AppError {
    fn from(error: IdentityError) -> Self {
        match error {
            IdentityError::Invalid { field, message } => AppError::unprocessable(field, message),
            IdentityError::NotFound => AppError::NotFound("not found".to_string()),
            conflict @ (IdentityError::EmailTaken
            | IdentityError::PrincipalTaken
            | IdentityError::NameTaken) => AppError::Conflict(conflict.to_string()),
            IdentityError::Database(error) => AppError::Database(error),
            IdentityError::Subscription(error) => AppError::Unexpected(anyhow::Error::new(*error)),
            IdentityError::Hashing => {
                AppError::Unexpected(anyhow::anyhow!("password hashing failed"))
            }
        }
    }
}
