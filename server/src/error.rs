//! The error of REST handlers: explicit 4xx variants with messages for the client, domain
//! errors by their [`Kind`] (mapped here once for every domain error type), and a 500 that
//! logs the real cause and tells the client nothing internal. Bodies are
//! `{"error": {"code": "...", "message": "...", "field": "...", "problems": [...]}}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::error::{Classified, Kind};
use domain::identity::IdentityError;
use domain::policy::Denied;
use serde_json::json;

/// What a REST handler can fail with: a failure the handler itself found (the explicit
/// variants), or a domain error, carried with its [`Kind`].
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("sign in first")]
    Unauthorized,
    #[error("{0}")]
    NotFound(String),
    #[error("{field}: {message}")]
    Unprocessable { field: String, message: String },
    /// The request itself is malformed (a query parameter's syntax); 400.
    #[error("{field}: {message}")]
    BadRequest { field: String, message: String },
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// A domain error the client can act on, as its kind says.
    #[error("{message}")]
    Classified {
        kind: Kind,
        code: &'static str,
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

    /// A domain error, by its kind: internal ones keep their cause for the log only.
    pub fn classified(error: impl Classified) -> Self {
        let kind = error.kind();
        match kind {
            Kind::Internal => AppError::Unexpected(anyhow::Error::new(error)),
            Kind::Unauthenticated => AppError::Unauthorized,
            kind => {
                if matches!(kind, Kind::Unavailable { .. }) {
                    tracing::warn!(error = ?error, "a request met an unavailable dependency");
                }
                AppError::Classified {
                    code: error.code(),
                    message: error.to_string(),
                    problems: error.problems(),
                    kind,
                }
            }
        }
    }

    /// The kind of this error, whoever found it.
    fn kind(&self) -> Kind {
        match self {
            AppError::Unauthorized => Kind::Unauthenticated,
            AppError::NotFound(_) => Kind::NotFound,
            AppError::Unprocessable { field, .. } => Kind::Invalid {
                field: field.clone(),
            },
            AppError::BadRequest { field, .. } => Kind::BadRequest {
                field: field.clone(),
            },
            AppError::PayloadTooLarge { limit } => Kind::TooLarge { limit: *limit },
            AppError::Classified { kind, .. } => kind.clone(),
            AppError::Database(_) | AppError::Unexpected(_) => Kind::Internal,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let kind = self.kind();
        let status =
            StatusCode::from_u16(kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
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
        let code = match &self {
            AppError::Classified { code, .. } => code,
            _ => kind.code(),
        };
        let mut body = json!({ "error": { "code": code, "message": message } });
        if let Some(field) = kind.field() {
            body["error"]["field"] = json!(field);
        }
        if let AppError::Classified { problems, .. } = &self
            && !problems.is_empty()
        {
            body["error"]["problems"] = json!(problems);
        }
        let mut response = (status, Json(body)).into_response();
        if let Some(retry_after) = kind.retry_after()
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

/// Each domain error becomes an [`AppError`] through its [`Classified::kind`]: the one
/// mapping, shared in spirit with the server functions' (`app::ssr::error`).
macro_rules! classified_into_app_error {
    ($($error:ty),* $(,)?) => {
        $(impl From<$error> for AppError {
            fn from(error: $error) -> Self {
                AppError::classified(error)
            }
        })*
    };
}

classified_into_app_error!(
    Denied,
    IdentityError,
    domain::identity::LoginFailure,
    domain::accounts::CredentialError,
    domain::catalog::CatalogError,
    domain::catalog::PublishError,
    domain::contracts::ContractError,
    domain::domains::DomainError,
    domain::lineage::LineageError,
    domain::health::HealthError,
    domain::nodes::NodeError,
    domain::incidents::IncidentError,
    domain::webhooks::WebhookError,
    domain::producers::ProducerError,
    domain::search::SearchError,
    domain::subscriptions::SubscriptionError,
);
