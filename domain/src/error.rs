//! What kind of failure a domain error is. Each error type of the domain says its
//! [`Kind`] once ([`Classified::kind`]); the REST API (`server::error`) and the server
//! functions (`app::ssr::error`) each turn a kind into their answer in one place, so a new
//! error variant is classified here and nowhere else.
//!
//! The Confluent-compatible registry API is the one exception: it answers with
//! Confluent's own error codes (`RegistryError::error_code`), which its clients match on.

use crate::contracts::Problem;

/// How a failure is reported to whoever made the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// No valid credential (401).
    Unauthenticated,
    /// Signed in, but not allowed (403).
    Forbidden,
    /// What the request names does not exist (404).
    NotFound,
    /// The request clashes with the current state (409).
    Conflict,
    /// A field or the document of the request is wrong (422); `field` names it.
    Invalid { field: String },
    /// The request itself is malformed, e.g. a query's syntax (400); `field` names the
    /// parameter.
    BadRequest { field: String },
    /// The request body is larger than `limit` bytes (413).
    TooLarge { limit: usize },
    /// Too many attempts; `retry_after` seconds until the next one may succeed (429).
    Throttled { retry_after: u64 },
    /// A part of the service is not ready yet, e.g. the search index being rebuilt; try
    /// again after `retry_after` seconds (503).
    Unavailable { retry_after: u64 },
    /// Ours, not the caller's: logged in full, reported without detail (500).
    Internal,
}

impl Kind {
    /// The HTTP status of this kind.
    pub fn status(&self) -> u16 {
        match self {
            Kind::Unauthenticated => 401,
            Kind::Forbidden => 403,
            Kind::NotFound => 404,
            Kind::Conflict => 409,
            Kind::Invalid { .. } => 422,
            Kind::BadRequest { .. } => 400,
            Kind::TooLarge { .. } => 413,
            Kind::Throttled { .. } => 429,
            Kind::Unavailable { .. } => 503,
            Kind::Internal => 500,
        }
    }

    /// The machine-readable code API clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            Kind::Unauthenticated => "unauthenticated",
            Kind::Forbidden => "forbidden",
            Kind::NotFound => "not_found",
            Kind::Conflict => "conflict",
            Kind::Invalid { .. } => "invalid",
            Kind::BadRequest { .. } => "bad_request",
            Kind::TooLarge { .. } => "too_large",
            Kind::Throttled { .. } => "throttled",
            Kind::Unavailable { .. } => "unavailable",
            Kind::Internal => "internal",
        }
    }

    /// The field or parameter the request got wrong, if the kind names one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Kind::Invalid { field } | Kind::BadRequest { field } => Some(field),
            _ => None,
        }
    }

    /// Seconds after which the request may succeed, if the kind says.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Kind::Throttled { retry_after } | Kind::Unavailable { retry_after } => {
                Some(*retry_after)
            }
            _ => None,
        }
    }

    pub(crate) fn invalid(field: impl Into<String>) -> Kind {
        Kind::Invalid {
            field: field.into(),
        }
    }
}

/// A domain error that knows its [`Kind`]. Its `Display` is the message for the caller
/// (never shown for [`Kind::Internal`], which is logged instead).
pub trait Classified: std::error::Error + Send + Sync + 'static {
    /// What kind of failure this is.
    fn kind(&self) -> Kind;

    /// The code API clients match on; the kind's, unless the error is more specific
    /// (`invalid_contract`, `incompatible_schema`, `invalid_event`).
    fn code(&self) -> &'static str {
        self.kind().code()
    }

    /// Problems located in the request's document (a contract, an event), if any.
    fn problems(&self) -> Vec<Problem> {
        Vec::new()
    }
}

impl Classified for sqlx::Error {
    fn kind(&self) -> Kind {
        Kind::Internal
    }
}

impl Classified for crate::policy::Denied {
    fn kind(&self) -> Kind {
        match self {
            crate::policy::Denied::Unauthenticated => Kind::Unauthenticated,
            crate::policy::Denied::Forbidden { .. } => Kind::Forbidden,
        }
    }
}

impl Classified for crate::health::HealthError {
    fn kind(&self) -> Kind {
        use crate::health::HealthError;
        match self {
            HealthError::NotFound => Kind::NotFound,
            HealthError::BadWindow => Kind::BadRequest {
                field: "window".into(),
            },
            HealthError::BadLimit => Kind::BadRequest {
                field: "limit".into(),
            },
            HealthError::Denied(denied) => denied.kind(),
            HealthError::Database(_) => Kind::Internal,
        }
    }
}

impl Classified for crate::contracts::ContractError {
    fn kind(&self) -> Kind {
        use crate::contracts::ContractError;
        match self {
            ContractError::TooLarge { limit, .. } => Kind::TooLarge { limit: *limit },
            ContractError::Syntax(_) | ContractError::Invalid(_) => Kind::invalid("contract"),
            ContractError::Internal(_) => Kind::Internal,
        }
    }

    fn code(&self) -> &'static str {
        match self.kind() {
            Kind::Invalid { .. } => "invalid_contract",
            other => other.code(),
        }
    }

    fn problems(&self) -> Vec<Problem> {
        crate::contracts::ContractError::problems(self)
    }
}

impl Classified for crate::catalog::CatalogError {
    fn kind(&self) -> Kind {
        use crate::catalog::CatalogError;
        match self {
            CatalogError::Invalid(problem) => Kind::invalid(problem.pointer.clone()),
            CatalogError::Conflict(_) | CatalogError::Incompatible(_) => Kind::Conflict,
            CatalogError::NotFound => Kind::NotFound,
            CatalogError::Database(_) | CatalogError::Internal(_) => Kind::Internal,
        }
    }

    fn code(&self) -> &'static str {
        use crate::catalog::CatalogError;
        match self {
            CatalogError::Invalid(_) => "invalid_contract",
            CatalogError::Incompatible(_) => "incompatible_schema",
            other => other.kind().code(),
        }
    }

    fn problems(&self) -> Vec<Problem> {
        use crate::catalog::CatalogError;
        match self {
            CatalogError::Invalid(problem) => vec![problem.clone()],
            CatalogError::Incompatible(problems) => problems.clone(),
            _ => Vec::new(),
        }
    }
}

impl Classified for crate::catalog::PublishError {
    fn kind(&self) -> Kind {
        use crate::catalog::PublishError;
        match self {
            PublishError::Contract(error) => error.kind(),
            PublishError::Denied(error) => error.kind(),
            PublishError::Catalog(error) => error.kind(),
        }
    }

    fn code(&self) -> &'static str {
        use crate::catalog::PublishError;
        match self {
            PublishError::Contract(error) => error.code(),
            PublishError::Denied(error) => error.code(),
            PublishError::Catalog(error) => error.code(),
        }
    }

    fn problems(&self) -> Vec<Problem> {
        use crate::catalog::PublishError;
        match self {
            PublishError::Contract(error) => Classified::problems(error),
            PublishError::Denied(_) => Vec::new(),
            PublishError::Catalog(error) => error.problems(),
        }
    }
}

impl Classified for crate::search::SearchError {
    fn kind(&self) -> Kind {
        use crate::search::SearchError;
        match self {
            SearchError::Query(_) => Kind::BadRequest {
                field: "q".to_string(),
            },
            SearchError::NotReady => Kind::Unavailable { retry_after: 5 },
            SearchError::Busy(_)
            | SearchError::Index(_)
            | SearchError::Database(_)
            | SearchError::Io(_) => Kind::Internal,
        }
    }
}

impl Classified for crate::lineage::LineageError {
    fn kind(&self) -> Kind {
        use crate::lineage::LineageError;
        match self {
            LineageError::NotFound => Kind::NotFound,
            LineageError::BadParameter { parameter, .. } => Kind::BadRequest {
                field: parameter.to_string(),
            },
            LineageError::Invalid(_) => Kind::invalid("event"),
            LineageError::TooLarge { limit, .. } => Kind::TooLarge { limit: *limit },
            LineageError::Denied(denied) => denied.kind(),
            LineageError::Database(_) => Kind::Internal,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            crate::lineage::LineageError::Invalid(_) => "invalid_event",
            other => other.kind().code(),
        }
    }

    fn problems(&self) -> Vec<Problem> {
        match self {
            crate::lineage::LineageError::Invalid(problems) => problems.clone(),
            _ => Vec::new(),
        }
    }
}

impl Classified for crate::identity::IdentityError {
    fn kind(&self) -> Kind {
        use crate::identity::IdentityError;
        match self {
            IdentityError::Invalid { field, .. } => Kind::invalid(*field),
            IdentityError::NotFound => Kind::NotFound,
            IdentityError::EmailTaken
            | IdentityError::PrincipalTaken
            | IdentityError::NameTaken => Kind::Conflict,
            IdentityError::Hashing | IdentityError::Database(_) => Kind::Internal,
        }
    }
}

impl Classified for crate::identity::LoginFailure {
    fn kind(&self) -> Kind {
        use crate::identity::LoginFailure;
        match self {
            LoginFailure::Throttled(throttled) => Kind::Throttled {
                retry_after: throttled.retry_after_secs(),
            },
            LoginFailure::InvalidCredentials => Kind::Unauthenticated,
            LoginFailure::Database(_) => Kind::Internal,
        }
    }
}

impl Classified for crate::subscriptions::SubscriptionError {
    fn kind(&self) -> Kind {
        use crate::subscriptions::SubscriptionError;
        match self {
            SubscriptionError::Invalid { field, .. } => Kind::invalid(field.clone()),
            SubscriptionError::NotFound => Kind::NotFound,
            SubscriptionError::Duplicate { .. } | SubscriptionError::Conflict(_) => Kind::Conflict,
            SubscriptionError::Denied(denied) => denied.kind(),
            SubscriptionError::Broker(_) => Kind::Unavailable { retry_after: 5 },
            SubscriptionError::Database(_) => Kind::Internal,
        }
    }
}

impl Classified for crate::registry::RegistryError {
    fn kind(&self) -> Kind {
        use crate::registry::RegistryError;
        match self {
            RegistryError::SubjectNotFound(_)
            | RegistryError::VersionNotFound { .. }
            | RegistryError::SchemaNotFound
            | RegistryError::SubjectConfigNotFound(_) => Kind::NotFound,
            RegistryError::Incompatible { .. } => Kind::Conflict,
            RegistryError::InvalidSchema(_) => Kind::invalid("schema"),
            RegistryError::InvalidVersion(_) => Kind::invalid("version"),
            RegistryError::InvalidCompatibility(_) => Kind::invalid("compatibility"),
            RegistryError::InvalidSubject(_) => Kind::invalid("subject"),
            RegistryError::SubjectSoftDeleted(_)
            | RegistryError::SubjectNotSoftDeleted(_)
            | RegistryError::VersionSoftDeleted { .. }
            | RegistryError::VersionNotSoftDeleted { .. } => Kind::invalid("request"),
            RegistryError::ReferenceExists { .. } => Kind::invalid("version"),
            RegistryError::Denied(denied) => denied.kind(),
            RegistryError::Database(_) | RegistryError::Internal(_) => Kind::Internal,
        }
    }
}

impl Classified for crate::accounts::DisableError {
    fn kind(&self) -> Kind {
        use crate::accounts::DisableError;
        match self {
            DisableError::Identity(error) => error.kind(),
            DisableError::Subscription(_) => Kind::Internal,
        }
    }
}

impl Classified for crate::accounts::CredentialError {
    fn kind(&self) -> Kind {
        use crate::accounts::CredentialError;
        match self {
            CredentialError::NotFound(_) => Kind::NotFound,
            CredentialError::Refused(_) => Kind::invalid("name"),
            CredentialError::Unsupported(_) => Kind::Conflict,
            CredentialError::Broker(_) => Kind::Unavailable { retry_after: 5 },
            CredentialError::Database(_) => Kind::Internal,
        }
    }
}

impl Classified for crate::producers::ProducerError {
    fn kind(&self) -> Kind {
        use crate::producers::ProducerError;
        match self {
            ProducerError::UnknownProduct(_) | ProducerError::NoPrincipal(_) => Kind::NotFound,
            ProducerError::Denied(denied) => denied.kind(),
            ProducerError::Database(_) => Kind::Internal,
        }
    }
}

impl Classified for crate::nodes::NodeError {
    fn kind(&self) -> Kind {
        use crate::nodes::NodeError;
        match self {
            NodeError::Unknown(_) => Kind::NotFound,
            NodeError::Taken { .. } => Kind::Conflict,
            NodeError::Denied(denied) => denied.kind(),
            NodeError::Database(_) => Kind::Internal,
        }
    }
}

impl Classified for crate::incidents::IncidentError {
    fn kind(&self) -> Kind {
        use crate::incidents::IncidentError;
        match self {
            IncidentError::Unknown(_) => Kind::NotFound,
            IncidentError::UnknownAction(_) => Kind::NotFound,
            IncidentError::NotApplicable { .. } | IncidentError::AlreadyDone(_) => Kind::Conflict,
            IncidentError::Invalid(_) => Kind::invalid("request"),
            IncidentError::Denied(denied) => denied.kind(),
            IncidentError::Broker(_) => Kind::Unavailable { retry_after: 5 },
            IncidentError::Database(_) => Kind::Internal,
        }
    }
}

impl Classified for crate::webhooks::WebhookError {
    fn kind(&self) -> Kind {
        use crate::webhooks::WebhookError;
        match self {
            WebhookError::InvalidUrl(_) => Kind::invalid("url"),
            WebhookError::Denied(denied) => denied.kind(),
            WebhookError::Database(_) => Kind::Internal,
        }
    }
}

impl Classified for crate::domains::DomainError {
    fn kind(&self) -> Kind {
        match self {
            crate::domains::DomainError::InvalidSlug(_) => Kind::invalid("domain"),
            crate::domains::DomainError::Database(_) => Kind::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::SearchError;

    #[test]
    fn a_rebuilding_index_is_unavailable_not_throttled() {
        let kind = SearchError::NotReady.kind();
        assert_eq!(kind, Kind::Unavailable { retry_after: 5 });
        assert_eq!((kind.status(), kind.code()), (503, "unavailable"));
    }

    #[test]
    fn database_failures_are_internal_and_say_nothing_specific() {
        let error = crate::catalog::CatalogError::Database(sqlx::Error::RowNotFound);
        assert_eq!(error.kind(), Kind::Internal);
        assert_eq!(error.code(), "internal");
    }

    #[test]
    fn contract_problems_keep_their_specific_codes() {
        let problem = Problem {
            pointer: "/schema/0".into(),
            line: None,
            column: None,
            message: "breaks".into(),
        };
        let incompatible = crate::catalog::CatalogError::Incompatible(vec![problem.clone()]);
        assert_eq!(
            (incompatible.kind().status(), incompatible.code()),
            (409, "incompatible_schema")
        );
        assert_eq!(incompatible.problems(), vec![problem.clone()]);
        let invalid = crate::catalog::CatalogError::Invalid(problem);
        assert_eq!(invalid.kind(), Kind::invalid("/schema/0"));
        assert_eq!(invalid.code(), "invalid_contract");
    }
}
