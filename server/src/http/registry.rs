//! The Confluent Schema Registry REST API under `/registry`, so Confluent's serializers
//! and clients use Meshmart as their registry: same paths, bodies, content type
//! (`application/vnd.schemaregistry.v1+json`) and error codes (`{"error_code", "message"}`).
//! Reads need any signed-in principal; writes the owners of the subject's product (or an
//! admin). Clients authenticate with an API token, as Bearer or as the Basic password.

use axum::body::{Body, to_bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::registry::{
    self, Mode, ParsedSchema, Reference, RegistryError, SchemaType, SubjectVersion, VersionRef,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Routes;
use super::api::{CallerExt, caller};
use crate::state::AppState;

/// Confluent's media type, used for every response.
const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";
/// The largest request body read; a larger schema inside it is refused with 42201.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

pub fn routes() -> Routes {
    Routes::new()
        .get("/registry/subjects", list_subjects)
        .get("/registry/subjects/{subject}/versions", list_versions)
        .post("/registry/subjects/{subject}/versions", register)
        .get(
            "/registry/subjects/{subject}/versions/{version}",
            get_version,
        )
        .get(
            "/registry/subjects/{subject}/versions/{version}/schema",
            get_version_schema,
        )
        .delete(
            "/registry/subjects/{subject}/versions/{version}",
            delete_version,
        )
        .get(
            "/registry/subjects/{subject}/versions/{version}/referencedby",
            get_version_referenced_by,
        )
        .post("/registry/subjects/{subject}", lookup)
        .delete("/registry/subjects/{subject}", delete_subject)
        .get("/registry/schemas/ids/{id}", get_schema)
        .get("/registry/schemas/ids/{id}/schema", get_schema_text)
        .get("/registry/schemas/ids/{id}/versions", get_schema_versions)
        .get(
            "/registry/schemas/ids/{id}/referencedby",
            get_schema_referenced_by,
        )
        .get("/registry/schemas/types", schema_types)
        .post(
            "/registry/compatibility/subjects/{subject}/versions/{version}",
            check_version,
        )
        .post(
            "/registry/compatibility/subjects/{subject}/versions",
            check_all,
        )
        .get("/registry/config", get_global_config)
        .put("/registry/config", put_global_config)
        .delete("/registry/config", delete_global_config)
        .get("/registry/config/{subject}", get_subject_config)
        .put("/registry/config/{subject}", put_subject_config)
        .delete("/registry/config/{subject}", delete_subject_config)
        .get(
            "/registry/associations/resources/{namespace}/{resource}",
            associations,
        )
}

/// Confluent's resource associations (subjects bound to a topic explicitly). Meshmart binds
/// topics by name (`<topic>-value`), so there are none; clients then use that name.
async fn associations(State(state): State<AppState>, caller_ext: CallerExt) -> Answer {
    read_access(&state, caller_ext).await?;
    ok(json!([]))
}

/// Any other path under `/registry`: Confluent's JSON 404, never the web app's page.
pub async fn not_found() -> Response {
    Failure::new(StatusCode::NOT_FOUND, 404, "HTTP 404 Not Found").into_response()
}

/// A response in Confluent's media type.
struct Reply(StatusCode, Value);

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = (self.0, axum::Json(self.1)).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        response
    }
}

fn ok(value: Value) -> Result<Reply, Failure> {
    Ok(Reply(StatusCode::OK, value))
}

/// An error in Confluent's shape; internal causes are logged, never sent.
struct Failure {
    status: StatusCode,
    code: u32,
    message: String,
}

impl Failure {
    fn new(status: StatusCode, code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
}

impl From<RegistryError> for Failure {
    fn from(error: RegistryError) -> Self {
        match &error {
            RegistryError::Database(cause) => {
                tracing::error!(error = %cause, "registry database error")
            }
            RegistryError::Internal(cause) => tracing::error!(error = %cause, "registry failure"),
            _ => {}
        }
        let status =
            StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Failure::new(status, error.error_code(), error.to_string())
    }
}

impl From<sqlx::Error> for Failure {
    fn from(error: sqlx::Error) -> Self {
        RegistryError::Database(error).into()
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        Reply(
            self.status,
            json!({ "error_code": self.code, "message": self.message }),
        )
        .into_response()
    }
}

type Answer = Result<Reply, Failure>;

/// Reads a JSON body of at most [`MAX_BODY_BYTES`].
async fn read_json<T: serde::de::DeserializeOwned>(body: Body) -> Result<T, Failure> {
    let bytes = to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| {
        Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            413,
            format!("The request body is larger than {MAX_BODY_BYTES} bytes"),
        )
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            400,
            format!(
                "Invalid request body: {e} (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })
}

/// A schema in a request, as Confluent's clients send it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SchemaRequest {
    schema: Option<String>,
    schema_type: Option<String>,
    /// Other subjects' versions the schema uses (`version` -1: the latest).
    #[serde(default)]
    references: Option<Vec<Reference>>,
}

impl SchemaRequest {
    /// The schema, with its references loaded and resolved.
    async fn parse(self, state: &AppState) -> Result<ParsedSchema, RegistryError> {
        let Some(text) = self.schema else {
            return Err(RegistryError::InvalidSchema(
                "the body has no `schema` field".to_string(),
            ));
        };
        let kind = SchemaType::parse(self.schema_type.as_deref())?;
        registry::prepare(
            &state.pool,
            kind,
            &text,
            self.references.unwrap_or_default(),
        )
        .await
    }
}

fn version_json(found: &SubjectVersion) -> Value {
    let mut value = json!({
        "subject": found.subject,
        "version": found.version,
        "id": found.id,
        "schema": found.schema,
    });
    if found.schema_type != SchemaType::Avro {
        value["schemaType"] = json!(found.schema_type.as_str());
    }
    if !found.references.is_empty() {
        value["references"] = json!(found.references);
    }
    value
}

/// The query flags of Confluent's API. Clients spell booleans `true` or `True` (Python's
/// client does both), so they are read as text.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawFlags {
    deleted: Option<String>,
    #[serde(alias = "deleted_only")]
    deleted_only: Option<String>,
    permanent: Option<String>,
    verbose: Option<String>,
    default_to_global: Option<String>,
    subject_prefix: Option<String>,
    /// `serialized`: a Protobuf schema as base64 of its `FileDescriptorProto`, as
    /// Confluent's Protobuf deserializers ask for it.
    format: Option<String>,
}

#[derive(Default)]
struct Flags {
    deleted: bool,
    permanent: bool,
    verbose: bool,
    default_to_global: bool,
    subject_prefix: String,
    serialized: bool,
}

fn flag(name: &str, value: Option<&str>) -> Result<bool, Failure> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(Failure::new(
            StatusCode::BAD_REQUEST,
            400,
            format!("query parameter `{name}` must be true or false, not `{other}`"),
        )),
    }
}

/// Query strings that do not parse are the client's mistake (400), not ours.
type FlagsQuery = Result<Query<RawFlags>, axum::extract::rejection::QueryRejection>;

fn flags(query: FlagsQuery) -> Result<Flags, Failure> {
    let Query(raw) =
        query.map_err(|e| Failure::new(StatusCode::BAD_REQUEST, 400, e.body_text()))?;
    Ok(Flags {
        // Deleted-only listings are a subset of deleted-inclusive ones.
        deleted: flag("deleted", raw.deleted.as_deref())?
            || flag("deletedOnly", raw.deleted_only.as_deref())?,
        permanent: flag("permanent", raw.permanent.as_deref())?,
        verbose: flag("verbose", raw.verbose.as_deref())?,
        default_to_global: flag("defaultToGlobal", raw.default_to_global.as_deref())?,
        subject_prefix: raw.subject_prefix.unwrap_or_default(),
        serialized: raw
            .format
            .is_some_and(|format| format.eq_ignore_ascii_case("serialized")),
    })
}

async fn read_access(state: &AppState, caller_ext: CallerExt) -> Result<(), Failure> {
    registry::authorize_read(&state.policy, &caller(caller_ext)).await?;
    Ok(())
}

async fn list_subjects(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    query: FlagsQuery,
) -> Answer {
    read_access(&state, caller_ext).await?;
    let flags = flags(query)?;
    let found = registry::subjects(&state.pool, flags.deleted, &flags.subject_prefix).await?;
    ok(json!(found))
}

async fn list_versions(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(subject): Path<String>,
    query: FlagsQuery,
) -> Answer {
    read_access(&state, caller_ext).await?;
    let flags = flags(query)?;
    ok(json!(
        registry::versions(&state.pool, &subject, flags.deleted).await?
    ))
}

async fn register(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(subject): Path<String>,
    body: Body,
) -> Answer {
    let caller = caller(caller_ext);
    registry::authorize_write(&state.pool, &state.policy, &caller, &subject).await?;
    let request: SchemaRequest = read_json(body).await?;
    let schema = request.parse(&state).await?;
    let mut tx = state.pool.begin().await?;
    let registered = registry::register(&mut tx, &subject, &schema, &caller.audit_actor()).await?;
    tx.commit().await?;
    ok(json!({ "id": registered.id }))
}

async fn get_version(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path((subject, version)): Path<(String, String)>,
    query: FlagsQuery,
) -> Answer {
    let flags = flags(query)?;
    let mut found = read_version(&state, caller_ext, &subject, &version, &flags).await?;
    if flags.serialized {
        found.schema = serialized(&state, found.schema_type, found.id, found.schema).await?;
    }
    ok(version_json(&found))
}

/// A Protobuf schema's text as `format=serialized` asks for it (other types as they are).
async fn serialized(
    state: &AppState,
    schema_type: SchemaType,
    id: i32,
    text: String,
) -> Result<String, Failure> {
    if schema_type != SchemaType::Protobuf {
        return Ok(text);
    }
    let parsed = registry::stored_schema(&state.pool, id).await?;
    Ok(parsed
        .protobuf()
        .map(|compiled| compiled.serialized())
        .unwrap_or(text))
}

async fn get_version_schema(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path((subject, version)): Path<(String, String)>,
    query: FlagsQuery,
) -> Result<Response, Failure> {
    let flags = flags(query)?;
    let found = read_version(&state, caller_ext, &subject, &version, &flags).await?;
    Ok(raw_schema(found.schema))
}

/// The version a reader asked for (`latest`, `-1` or a number; `?deleted=true` includes
/// soft-deleted versions), after the read check.
async fn read_version(
    state: &AppState,
    caller_ext: CallerExt,
    subject: &str,
    version: &str,
    flags: &Flags,
) -> Result<registry::SubjectVersion, Failure> {
    read_access(state, caller_ext).await?;
    let which = VersionRef::parse(version)?;
    Ok(registry::version(&state.pool, subject, which, flags.deleted).await?)
}

/// The bare schema text (Confluent's `/schema` sub-resources).
fn raw_schema(text: String) -> Response {
    let mut response = text.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    response
}

async fn delete_version(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path((subject, version)): Path<(String, String)>,
    query: FlagsQuery,
) -> Answer {
    let caller = caller(caller_ext);
    registry::authorize_write(&state.pool, &state.policy, &caller, &subject).await?;
    let flags = flags(query)?;
    let which = VersionRef::parse(&version)?;
    let mut tx = state.pool.begin().await?;
    let deleted = registry::delete_version(
        &mut tx,
        &subject,
        which,
        flags.permanent,
        &caller.audit_actor(),
    )
    .await?;
    tx.commit().await?;
    ok(json!(deleted))
}

async fn lookup(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(subject): Path<String>,
    query: FlagsQuery,
    body: Body,
) -> Answer {
    read_access(&state, caller_ext).await?;
    let flags = flags(query)?;
    let request: SchemaRequest = read_json(body).await?;
    let schema = request.parse(&state).await?;
    let found = registry::lookup(&state.pool, &subject, &schema, flags.deleted).await?;
    ok(version_json(&found))
}

async fn delete_subject(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(subject): Path<String>,
    query: FlagsQuery,
) -> Answer {
    let caller = caller(caller_ext);
    registry::authorize_write(&state.pool, &state.policy, &caller, &subject).await?;
    let flags = flags(query)?;
    let mut tx = state.pool.begin().await?;
    let deleted =
        registry::delete_subject(&mut tx, &subject, flags.permanent, &caller.audit_actor()).await?;
    tx.commit().await?;
    ok(json!(deleted))
}

fn schema_id(text: &str) -> Result<i32, Failure> {
    text.parse::<i32>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| RegistryError::SchemaNotFound.into())
}

async fn get_schema(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(id): Path<String>,
    query: FlagsQuery,
) -> Answer {
    read_access(&state, caller_ext).await?;
    let flags = flags(query)?;
    let id = schema_id(&id)?;
    let found = registry::schema_by_id(&state.pool, id).await?;
    let text = if flags.serialized {
        serialized(&state, found.schema_type, id, found.schema).await?
    } else {
        found.schema
    };
    let mut value = json!({ "schema": text });
    if found.schema_type != SchemaType::Avro {
        value["schemaType"] = json!(found.schema_type.as_str());
    }
    if !found.references.is_empty() {
        value["references"] = json!(found.references);
    }
    ok(value)
}

/// The ids of the schemas that reference a subject's version.
async fn get_version_referenced_by(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path((subject, version)): Path<(String, String)>,
) -> Answer {
    read_access(&state, caller_ext).await?;
    let which = VersionRef::parse(&version)?;
    ok(json!(
        registry::referenced_by(&state.pool, &subject, which).await?
    ))
}

/// The ids of the schemas that reference a subject version using schema `id`.
async fn get_schema_referenced_by(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(id): Path<String>,
) -> Answer {
    read_access(&state, caller_ext).await?;
    ok(json!(
        registry::referenced_by_schema(&state.pool, schema_id(&id)?).await?
    ))
}

async fn get_schema_text(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    read_access(&state, caller_ext).await?;
    let found = registry::schema_by_id(&state.pool, schema_id(&id)?).await?;
    Ok(raw_schema(found.schema))
}

async fn get_schema_versions(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(id): Path<String>,
    query: FlagsQuery,
) -> Answer {
    read_access(&state, caller_ext).await?;
    let flags = flags(query)?;
    let found = registry::versions_of_schema(&state.pool, schema_id(&id)?, flags.deleted).await?;
    ok(json!(
        found
            .into_iter()
            .map(|(subject, version)| json!({ "subject": subject, "version": version }))
            .collect::<Vec<_>>()
    ))
}

async fn schema_types(State(state): State<AppState>, caller_ext: CallerExt) -> Answer {
    read_access(&state, caller_ext).await?;
    ok(json!(
        SchemaType::ALL
            .iter()
            .map(|kind| kind.as_str())
            .collect::<Vec<_>>()
    ))
}

async fn check(
    state: &AppState,
    caller_ext: CallerExt,
    subject: &str,
    which: Option<VersionRef>,
    query: FlagsQuery,
    body: Body,
) -> Answer {
    read_access(state, caller_ext).await?;
    let flags = flags(query)?;
    let request: SchemaRequest = read_json(body).await?;
    let schema = request.parse(state).await?;
    let breaking = registry::check_compatibility(&state.pool, subject, which, &schema).await?;
    let mut value = json!({ "is_compatible": breaking.is_empty() });
    if flags.verbose {
        value["messages"] = json!(breaking.iter().map(ToString::to_string).collect::<Vec<_>>());
    }
    ok(value)
}

async fn check_version(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path((subject, version)): Path<(String, String)>,
    query: FlagsQuery,
    body: Body,
) -> Answer {
    let which = VersionRef::parse(&version)?;
    check(&state, caller_ext, &subject, Some(which), query, body).await
}

async fn check_all(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(subject): Path<String>,
    query: FlagsQuery,
    body: Body,
) -> Answer {
    check(&state, caller_ext, &subject, None, query, body).await
}

#[derive(Deserialize)]
struct ConfigRequest {
    compatibility: Option<String>,
}

async fn read_mode(body: Body) -> Result<Mode, Failure> {
    let request: ConfigRequest = read_json(body).await?;
    let text = request.compatibility.unwrap_or_default();
    Mode::parse(&text).ok_or_else(|| RegistryError::InvalidCompatibility(text).into())
}

async fn get_global_config(State(state): State<AppState>, caller_ext: CallerExt) -> Answer {
    read_access(&state, caller_ext).await?;
    let mut conn = state.pool.acquire().await?;
    let mode = registry::global_mode(&mut conn).await?;
    ok(json!({ "compatibilityLevel": mode }))
}

async fn put_global_config(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    body: Body,
) -> Answer {
    let caller = caller(caller_ext);
    registry::authorize_global_config(&state.policy, &caller).await?;
    let mode = read_mode(body).await?;
    let mut tx = state.pool.begin().await?;
    registry::set_global_mode(&mut tx, Some(mode), &caller.audit_actor()).await?;
    tx.commit().await?;
    ok(json!({ "compatibility": mode }))
}

async fn delete_global_config(State(state): State<AppState>, caller_ext: CallerExt) -> Answer {
    let caller = caller(caller_ext);
    registry::authorize_global_config(&state.policy, &caller).await?;
    let mut tx = state.pool.begin().await?;
    let before = registry::set_global_mode(&mut tx, None, &caller.audit_actor()).await?;
    tx.commit().await?;
    ok(json!({ "compatibilityLevel": before }))
}

async fn get_subject_config(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(subject): Path<String>,
    query: FlagsQuery,
) -> Answer {
    read_access(&state, caller_ext).await?;
    let flags = flags(query)?;
    match registry::own_mode(&state.pool, &subject).await? {
        Some(mode) => ok(json!({ "compatibilityLevel": mode })),
        None if flags.default_to_global => {
            let mut conn = state.pool.acquire().await?;
            let mode = registry::global_mode(&mut conn).await?;
            ok(json!({ "compatibilityLevel": mode }))
        }
        None => Err(RegistryError::SubjectConfigNotFound(subject).into()),
    }
}

async fn put_subject_config(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(subject): Path<String>,
    body: Body,
) -> Answer {
    let caller = caller(caller_ext);
    registry::authorize_write(&state.pool, &state.policy, &caller, &subject).await?;
    let mode = read_mode(body).await?;
    let mut tx = state.pool.begin().await?;
    registry::set_subject_mode(&mut tx, &subject, Some(mode), &caller.audit_actor()).await?;
    tx.commit().await?;
    ok(json!({ "compatibility": mode }))
}

async fn delete_subject_config(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Path(subject): Path<String>,
) -> Answer {
    let caller = caller(caller_ext);
    registry::authorize_write(&state.pool, &state.policy, &caller, &subject).await?;
    let mut tx = state.pool.begin().await?;
    let before = registry::set_subject_mode(&mut tx, &subject, None, &caller.audit_actor()).await?;
    tx.commit().await?;
    ok(json!({ "compatibilityLevel": before }))
}
