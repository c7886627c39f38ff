//! Server-only glue for server functions: the services they use (provided as Leptos
//! context by the server), the caller of the current request, the one authorization helper,
//! how domain errors become [`ApiError`]s with the right HTTP status, and ([`time`]) how
//! times are written for the browser.

use std::net::IpAddr;
use std::sync::Arc;

use domain::catalog::ProductDetail;
use domain::error::{Classified, Kind};
use domain::identity::session::ClientIp;
use domain::identity::throttle::LoginThrottle;
use domain::identity::{Caller, User};
use domain::policy::{Permission, Policy};
use http::StatusCode;
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use sqlx::PgPool;

use crate::api::ApiError;

pub mod time;

/// Long-lived handles the server provides to every server function and page render.
#[derive(Clone)]
pub struct Services {
    pub pool: PgPool,
    pub policy: Policy,
    pub search: Arc<domain::search::SearchIndex>,
    pub throttle: Arc<LoginThrottle>,
    /// Resolved API tokens; emptied after a revocation this process commits.
    pub tokens: Arc<domain::identity::token_cache::TokenCache>,
    pub clients: Arc<domain::subscriptions::ClientAccess>,
    pub broker: domain::broker::BrokerAdmin,
    /// Whether users' webhooks may target private networks (a local demo).
    pub webhooks_allow_private: bool,
}

/// What one request has read already, shared by the server functions its page runs: the
/// product page's sections each need the product, and read it once between them. Made
/// fresh for every request, so nothing outlives the request that read it.
#[derive(Clone, Default)]
pub struct RequestMemo {
    products: Arc<std::sync::Mutex<ProductCells>>,
}

type ProductCells =
    std::collections::HashMap<String, Arc<tokio::sync::OnceCell<Option<ProductDetail>>>>;

/// The product `slug` with its ports and versions, read at most once per request (see
/// [`RequestMemo`]).
pub async fn product(slug: &str) -> Result<Option<ProductDetail>, ApiError> {
    let pool = services()?.pool;
    let Some(memo) = use_context::<RequestMemo>() else {
        return domain::catalog::get(&pool, slug).await.map_err(internal);
    };
    let cell = Arc::clone(
        memo.products
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(slug.to_string())
            .or_default(),
    );
    cell.get_or_try_init(|| domain::catalog::get(&pool, slug))
        .await
        .cloned()
        .map_err(internal)
}

/// The services, or `Internal` when the server forgot to provide them.
pub fn services() -> Result<Services, ApiError> {
    use_context::<Services>().ok_or_else(|| {
        tracing::error!("server functions called without Services in context");
        ApiError::Internal
    })
}

/// The caller the server's auth middleware resolved for this request.
pub fn caller() -> Caller {
    use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Caller>().cloned())
        .unwrap_or_default()
}

/// The client's IP address as the server saw it.
pub fn client_ip() -> Option<IpAddr> {
    use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<ClientIp>().map(|ip| ip.0))
}

/// Asks the policy whether the caller has `permission` in `domain`; sets the HTTP status
/// to 401/403 when not.
pub async fn authorize(domain: &str, permission: Permission) -> Result<User, ApiError> {
    let services = services()?;
    let caller = caller();
    services
        .policy
        .authorize(&caller, domain, permission)
        .await
        .cloned()
        .map_err(error)
}

/// The domain of product `slug`, when the caller may write its products (an owner of the
/// domain, or an admin). No such product is 404 for those who may read the catalog, so
/// nobody learns more than the catalog shows them.
pub async fn authorize_owner_of(slug: &str) -> Result<String, ApiError> {
    let Some(domain) = domain::catalog::domain_of(&services()?.pool, slug)
        .await
        .map_err(internal)?
    else {
        authorize(domain::policy::GLOBAL, Permission::ReadCatalog).await?;
        return Err(fail(StatusCode::NOT_FOUND, ApiError::NotFound));
    };
    authorize(&domain, Permission::WriteProduct).await?;
    Ok(domain)
}

/// Sets the response status for `error` and returns it. A plain HTML form post (no
/// JavaScript) keeps Leptos's redirect back to the form with the error in the URL, which a
/// 4xx status would stop the browser from following.
pub fn fail(status: StatusCode, error: ApiError) -> ApiError {
    let from_html_form = use_context::<http::request::Parts>().is_some_and(|parts| {
        parts.method == http::Method::POST
            && parts
                .headers
                .get(http::header::ACCEPT)
                .and_then(|accept| accept.to_str().ok())
                .is_some_and(|accept| accept.contains("text/html"))
    });
    if !from_html_form && let Some(response) = use_context::<ResponseOptions>() {
        response.set_status(status);
    }
    error
}

/// A field the user got wrong: status 422.
pub fn unprocessable(field: impl Into<String>, message: impl Into<String>) -> ApiError {
    fail(
        StatusCode::UNPROCESSABLE_ENTITY,
        ApiError::invalid(field, message),
    )
}

/// Logs an unexpected error and returns the generic `Internal`.
pub fn internal(error: impl std::fmt::Display) -> ApiError {
    tracing::error!(%error, "server function failed");
    fail(StatusCode::INTERNAL_SERVER_ERROR, ApiError::Internal)
}

/// Maps any domain error by its [`Kind`] (the server functions' one mapping; the REST API
/// has the other, in `server::error`), setting the status. Internal errors are logged and
/// reported without detail; located problems are listed in the message.
pub fn error(error: impl Classified) -> ApiError {
    let kind = error.kind();
    if kind == Kind::Internal {
        return internal(error);
    }
    if matches!(kind, Kind::Unavailable { .. }) {
        tracing::warn!(error = ?error, "a server function met an unavailable dependency");
    }
    let problems = error.problems();
    let message = if problems.is_empty() || kind == Kind::Conflict {
        error.to_string()
    } else {
        problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    };
    let status = StatusCode::from_u16(kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let answer = match kind {
        Kind::Unauthenticated => ApiError::Unauthenticated,
        Kind::Forbidden => ApiError::Forbidden(message),
        Kind::NotFound => ApiError::NotFound,
        Kind::Conflict => ApiError::Conflict(message),
        Kind::Invalid { field } | Kind::BadRequest { field } => ApiError::invalid(field, message),
        Kind::TooLarge { .. } => ApiError::invalid("request", message),
        Kind::Throttled { .. } => ApiError::Throttled(message),
        Kind::Unavailable { .. } => ApiError::Unavailable(message),
        Kind::Internal => ApiError::Internal,
    };
    fail(status, answer)
}
