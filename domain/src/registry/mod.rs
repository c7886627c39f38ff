//! The schema registry: subjects with numbered versions of Avro, JSON Schema and Protobuf schemas,
//! global schema ids shared by identical schemas, references between schemas of different
//! subjects, compatibility modes (global and per subject), soft and hard deletes — the model behind Meshmart's Confluent-compatible REST
//! API, and the path every contract push registers its ports' schemas through.
//!
//! A subject named `<topic>-value` (or `-key`) belongs to the data product that owns the
//! topic: its domain's owners may write it. Other subjects are admin-only.

pub mod announce;
pub mod browse;
pub mod compat;
pub mod json_compat;
mod kind;
pub mod protobuf;
pub mod references;
pub mod schema;
mod store;
pub mod view;

pub use compat::{Breaking, Mode};
pub use references::{Dependencies, Dependency, Reference};
pub use schema::{InvalidSchema, MAX_SCHEMA_BYTES, ParsedSchema, SchemaType};
pub use store::*;
pub use view::{Consumer, FieldChange, Proposal, SchemaDiff, VersionEntry, diff};

use crate::identity::Caller;
use crate::policy::Permission;
use crate::policy::{Denied, GLOBAL, Policy};

/// Why a registry request failed, with Confluent's error code for each case.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("Subject '{0}' not found.")]
    SubjectNotFound(String),
    #[error("Version {version} not found in subject '{subject}'.")]
    VersionNotFound { subject: String, version: String },
    #[error("Schema not found")]
    SchemaNotFound,
    #[error("Subject '{0}' was soft deleted. Set permanent=true to delete permanently")]
    SubjectSoftDeleted(String),
    #[error("Subject '{0}' was not deleted first before being permanently deleted")]
    SubjectNotSoftDeleted(String),
    #[error(
        "Subject '{subject}' Version {version} was soft deleted. Set permanent=true to delete permanently"
    )]
    VersionSoftDeleted { subject: String, version: i32 },
    #[error(
        "Subject '{subject}' Version {version} was not deleted first before being permanently deleted"
    )]
    VersionNotSoftDeleted { subject: String, version: i32 },
    #[error(
        "One or more references exist to the schema {{magic=1,keytype=SCHEMA,subject={subject},version={version}}}: schema ids {}",
        ids(.referenced_by)
    )]
    ReferenceExists {
        subject: String,
        version: i32,
        /// The ids of the schemas that reference it.
        referenced_by: Vec<i32>,
    },
    #[error("Subject '{0}' does not have subject-level compatibility configured")]
    SubjectConfigNotFound(String),
    #[error("Schema being registered is incompatible with an earlier schema for subject \"{subject}\": {}", list(.breaking))]
    Incompatible {
        subject: String,
        mode: Mode,
        breaking: Vec<Breaking>,
    },
    #[error("Invalid schema: {0}")]
    InvalidSchema(String),
    #[error(
        "The specified version '{0}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""
    )]
    InvalidVersion(String),
    #[error(
        "Invalid compatibility level `{0}`. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive"
    )]
    InvalidCompatibility(String),
    #[error("Invalid subject `{0}`: use 1 to 255 characters, no control characters")]
    InvalidSubject(String),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error("Error in the backend data store")]
    Database(#[from] sqlx::Error),
    /// Something failed that no request can fix (details are logged, not sent).
    #[error("Internal server error")]
    Internal(String),
}

fn ids(ids: &[i32]) -> String {
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn list(breaking: &[Breaking]) -> String {
    breaking
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<InvalidSchema> for RegistryError {
    fn from(error: InvalidSchema) -> Self {
        RegistryError::InvalidSchema(error.0)
    }
}

impl RegistryError {
    /// Confluent's `error_code`.
    pub fn error_code(&self) -> u32 {
        match self {
            RegistryError::SubjectNotFound(_) => 40401,
            RegistryError::VersionNotFound { .. } => 40402,
            RegistryError::SchemaNotFound => 40403,
            RegistryError::SubjectSoftDeleted(_) => 40404,
            RegistryError::SubjectNotSoftDeleted(_) => 40405,
            RegistryError::VersionSoftDeleted { .. } => 40406,
            RegistryError::VersionNotSoftDeleted { .. } => 40407,
            RegistryError::SubjectConfigNotFound(_) => 40408,
            RegistryError::Incompatible { .. } => 409,
            RegistryError::InvalidSchema(_) => 42201,
            RegistryError::InvalidVersion(_) => 42202,
            RegistryError::ReferenceExists { .. } => 42206,
            RegistryError::InvalidCompatibility(_) => 42203,
            RegistryError::InvalidSubject(_) => 42208,
            RegistryError::Denied(Denied::Unauthenticated) => 401,
            RegistryError::Denied(Denied::Forbidden { .. }) => 40301,
            RegistryError::Database(_) => 50001,
            RegistryError::Internal(_) => 50000,
        }
    }

    /// The HTTP status Confluent answers with.
    pub fn http_status(&self) -> u16 {
        match self.error_code() {
            401 => 401,
            409 => 409,
            code if code >= 50000 => 500,
            code => (code / 100) as u16,
        }
    }

    /// The breaking changes of an incompatible schema, as Confluent's verbose messages.
    pub fn messages(&self) -> Vec<String> {
        match self {
            RegistryError::Incompatible { breaking, .. } => {
                breaking.iter().map(ToString::to_string).collect()
            }
            _ => Vec::new(),
        }
    }
}

/// A version of a subject: `latest` (also `-1`) or a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionRef {
    Latest,
    Number(i32),
}

impl VersionRef {
    pub fn parse(text: &str) -> Result<Self, RegistryError> {
        match text {
            "latest" | "-1" => Ok(VersionRef::Latest),
            _ => match text.parse::<i32>() {
                Ok(n) if n >= 1 => Ok(VersionRef::Number(n)),
                _ => Err(RegistryError::InvalidVersion(text.to_string())),
            },
        }
    }
}

impl std::fmt::Display for VersionRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VersionRef::Latest => f.write_str("latest"),
            VersionRef::Number(n) => write!(f, "{n}"),
        }
    }
}

/// A subject name must be 1–255 characters without control characters.
pub fn check_subject(subject: &str) -> Result<(), RegistryError> {
    if subject.is_empty() || subject.len() > 255 || subject.chars().any(char::is_control) {
        return Err(RegistryError::InvalidSubject(
            subject.chars().take(80).collect(),
        ));
    }
    Ok(())
}

/// Reading the registry needs a signed-in principal.
pub async fn authorize_read(policy: &Policy, caller: &Caller) -> Result<(), RegistryError> {
    policy
        .authorize(caller, GLOBAL, Permission::ReadCatalog)
        .await?;
    Ok(())
}

/// Writing a subject needs ownership of the product whose topic it names (or admin);
/// subjects of no product are admin-only.
pub async fn authorize_write(
    pool: &sqlx::PgPool,
    policy: &Policy,
    caller: &Caller,
    subject: &str,
) -> Result<(), RegistryError> {
    policy
        .authorize(caller, GLOBAL, Permission::ReadCatalog)
        .await?;
    match store::owning_domain(pool, subject).await? {
        Some(domain) => {
            policy
                .authorize(caller, &domain, Permission::WriteProduct)
                .await?
        }
        None => {
            policy
                .authorize(caller, GLOBAL, Permission::WriteRegistry)
                .await?
        }
    };
    Ok(())
}

/// Changing the global configuration is for admins.
pub async fn authorize_global_config(
    policy: &Policy,
    caller: &Caller,
) -> Result<(), RegistryError> {
    policy
        .authorize(caller, GLOBAL, Permission::ConfigureRegistry)
        .await?;
    Ok(())
}
