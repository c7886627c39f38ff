//! The registry's operations on PostgreSQL: register (deduplicated, checked, numbered under
//! a lock on the subject), look up, list, delete (soft, then permanent; never a version
//! another schema references) and configure; loading the schemas a schema's references
//! reach, and who references a version.

use serde::Serialize;
use serde_json::json;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};

use super::compat::{self, Mode};
use super::references::{self, Dependencies, Dependency, Reference};
use super::schema::{self, ParsedSchema, SchemaType};
use super::{RegistryError, VersionRef};
use crate::audit::{self, Actor, Event};

/// One version of a subject, as the API returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SubjectVersion {
    pub subject: String,
    pub version: i32,
    pub id: i32,
    pub schema_type: SchemaType,
    pub schema: String,
    /// The other subjects' versions the schema uses (empty for most).
    pub references: Vec<Reference>,
}

/// What a registration did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Registered {
    pub id: i32,
    pub version: i32,
    /// False when the subject already had this schema and nothing changed.
    pub created: bool,
}

struct VersionRow {
    subject: String,
    version: i32,
    schema_id: i32,
    schema_type: SchemaType,
    schema: String,
    references: Json<Vec<Reference>>,
    deleted: bool,
}

impl VersionRow {
    fn into_version(self) -> SubjectVersion {
        SubjectVersion {
            subject: self.subject,
            version: self.version,
            id: self.schema_id,
            schema_type: self.schema_type,
            schema: self.schema,
            references: self.references.0,
        }
    }
}

async fn rows(
    conn: &mut PgConnection,
    subject: &str,
    include_deleted: bool,
) -> Result<Vec<VersionRow>, sqlx::Error> {
    sqlx::query_as!(
        VersionRow,
        r#"select v.subject, v.version, v.schema_id, s.schema_type as "schema_type!: SchemaType",
                  s.schema as "schema!", v.deleted_at is not null as "deleted!",
                  s.reference_list as "references!: Json<Vec<Reference>>"
           from registry_versions v join registry_schemas_with_references s on s.id = v.schema_id
           where v.subject = $1 and ($2 or v.deleted_at is null)
           order by v.version"#,
        subject,
        include_deleted,
    )
    .fetch_all(conn)
    .await
}

/// The domain of the product whose topic a `<topic>-value`/`-key` subject names.
pub async fn owning_domain(pool: &PgPool, subject: &str) -> Result<Option<String>, sqlx::Error> {
    let Some(topic) = schema::topic_of_subject(subject) else {
        return Ok(None);
    };
    sqlx::query_scalar!(
        r#"select p.domain from output_ports o join products p on p.id = o.product_id
           where o.topic = $1"#,
        topic,
    )
    .fetch_optional(pool)
    .await
}

/// A compatibility verdict reached before the subject is locked, for [`register_checked`]
/// to re-verify under the lock: the mode, the versions compared, and what broke.
///
/// Comparing a schema with every earlier version (the transitive modes) is CPU work that
/// can take long on a subject with many versions. It runs on a blocking thread, outside
/// any row lock, so neither the async runtime nor other writers of the subject wait on it.
#[derive(Clone, Debug)]
pub struct Precheck {
    mode: Mode,
    /// `(version, schema id)` of each version compared, oldest first.
    compared: Vec<(i32, i32)>,
    /// `None` when the subject already had this schema, so nothing was compared.
    breaking: Option<Vec<compat::Breaking>>,
}

/// Reaches the compatibility verdict of `schema` under `subject` without taking any lock.
pub async fn precheck(
    conn: &mut PgConnection,
    subject: &str,
    schema: &ParsedSchema,
) -> Result<Precheck, RegistryError> {
    super::check_subject(subject)?;
    let mode = subject_mode(&mut *conn, subject).await?;
    let live = rows(conn, subject, false).await?;
    verdict(conn, mode, schema, &live).await
}

async fn verdict(
    conn: &mut PgConnection,
    mode: Mode,
    schema: &ParsedSchema,
    live: &[VersionRow],
) -> Result<Precheck, RegistryError> {
    let against = compared(mode, live);
    let compared_ids = against.iter().map(|r| (r.version, r.schema_id)).collect();
    let breaking = if existing(live, schema).is_some() {
        None
    } else {
        Some(check_off_runtime(conn, mode, schema, against).await?)
    };
    Ok(Precheck {
        mode,
        compared: compared_ids,
        breaking,
    })
}

/// Loads what the stored versions reference, then parses them and compares `schema` with
/// them on a blocking thread.
async fn check_off_runtime(
    conn: &mut PgConnection,
    mode: Mode,
    schema: &ParsedSchema,
    against: &[VersionRow],
) -> Result<Vec<compat::Breaking>, RegistryError> {
    let schema = schema.clone();
    let mut stored = Vec::with_capacity(against.len());
    for row in against {
        let reached = dependencies(&mut *conn, &row.references.0).await?;
        stored.push((
            row.version,
            row.schema_type,
            row.schema.clone(),
            row.references.0.clone(),
            reached,
        ));
    }
    tokio::task::spawn_blocking(move || {
        let earlier = stored
            .into_iter()
            .map(|(version, kind, text, references, reached)| {
                ParsedSchema::parse_stored_with(kind, &text, references, &reached)
                    .map(|parsed| (version, parsed))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(compat::check(mode, &schema, &earlier))
    })
    .await
    .map_err(|error| RegistryError::Internal(format!("compatibility check failed: {error}")))?
}

/// The version of `live` that has exactly `schema`, the earliest.
fn existing<'a>(live: &'a [VersionRow], schema: &ParsedSchema) -> Option<&'a VersionRow> {
    live.iter().find(|row| same_schema(row, schema))
}

fn same_schema(row: &VersionRow, schema: &ParsedSchema) -> bool {
    row.schema == schema.canonical
        && row.schema_type == schema.schema_type
        && row.references.0 == schema.references
}

/// Registers `schema` under `subject` in the caller's transaction: the existing version
/// when the subject already has this schema, else a new version once it passes the
/// subject's compatibility mode. The comparison runs before the subject is locked (see
/// [`Precheck`]).
pub async fn register(
    conn: &mut PgConnection,
    subject: &str,
    schema: &ParsedSchema,
    actor: &Actor,
) -> Result<Registered, RegistryError> {
    let checked = precheck(&mut *conn, subject, schema).await?;
    register_checked(conn, subject, schema, checked, actor).await
}

/// Registers `schema` with a verdict from [`precheck`]: under the subject's lock it is used
/// as it is while the subject's mode and compared versions are still those it was reached
/// on; otherwise (another registration came in between) the comparison runs again.
pub async fn register_checked(
    conn: &mut PgConnection,
    subject: &str,
    schema: &ParsedSchema,
    checked: Precheck,
    actor: &Actor,
) -> Result<Registered, RegistryError> {
    super::check_subject(subject)?;
    sqlx::query!(
        "insert into registry_subjects (name) values ($1) on conflict do nothing",
        subject,
    )
    .execute(&mut *conn)
    .await?;
    // The referenced subjects first (shared: a delete there waits for this transaction),
    // then one registration per subject at a time, so versions are numbered without gaps.
    hold_references(conn, &schema.references).await?;
    lock_subject(conn, subject).await?;
    let live = rows(conn, subject, false).await?;
    if let Some(existing) = existing(&live, schema) {
        return Ok(Registered {
            id: existing.schema_id,
            version: existing.version,
            created: false,
        });
    }
    let mode = subject_mode(conn, subject).await?;
    let still_valid = checked.mode == mode
        && checked.compared
            == compared(mode, &live)
                .iter()
                .map(|r| (r.version, r.schema_id))
                .collect::<Vec<_>>();
    let breaking = match checked.breaking {
        Some(breaking) if still_valid => breaking,
        _ => check_off_runtime(conn, mode, schema, compared(mode, &live)).await?,
    };
    if !breaking.is_empty() {
        return Err(RegistryError::Incompatible {
            subject: subject.to_string(),
            mode,
            breaking,
        });
    }
    let id = schema_id(conn, schema).await?;
    let version = sqlx::query_scalar!(
        r#"insert into registry_versions (subject, version, schema_id, registered_by)
           select $1, coalesce(max(version), 0) + 1, $2, $3
           from registry_versions where subject = $1
           returning version"#,
        subject,
        id,
        actor.to_string(),
    )
    .fetch_one(&mut *conn)
    .await?;
    audit::record(
        conn,
        Event::new(actor, "schema.register", format!("subject:{subject}")).after(json!({
            "version": version,
            "id": id,
            "schema_type": schema.schema_type.as_str(),
        })),
    )
    .await?;
    Ok(Registered {
        id,
        version,
        created: true,
    })
}

/// The versions `mode` compares a new schema with: all, or the latest only.
fn compared(mode: Mode, live: &[VersionRow]) -> &[VersionRow] {
    if mode.transitive() {
        live
    } else {
        &live[live.len().saturating_sub(1)..]
    }
}

/// Serialises writers of one subject (registrations and deletes) for their transaction.
async fn lock_subject(conn: &mut PgConnection, subject: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "select name from registry_subjects where name = $1 for update",
        subject,
    )
    .fetch_optional(conn)
    .await?;
    Ok(())
}

/// Keeps the versions `references` name from being deleted until the caller's transaction
/// ends, and checks that each is still there (a delete may have come first).
async fn hold_references(
    conn: &mut PgConnection,
    references: &[Reference],
) -> Result<(), RegistryError> {
    if references.is_empty() {
        return Ok(());
    }
    let mut subjects: Vec<&str> = references.iter().map(|r| r.subject.as_str()).collect();
    subjects.sort_unstable();
    subjects.dedup();
    sqlx::query!(
        "select name from registry_subjects where name = any($1) order by name for share",
        &subjects as &[&str],
    )
    .fetch_all(&mut *conn)
    .await?;
    for reference in references {
        live_version(&mut *conn, reference).await?;
    }
    Ok(())
}

/// The version a new schema's reference names, which must be live.
async fn live_version(
    conn: &mut PgConnection,
    reference: &Reference,
) -> Result<i32, RegistryError> {
    sqlx::query_scalar!(
        r#"select version from registry_versions
           where subject = $1 and ($2 = -1 or version = $2) and deleted_at is null
           order by version desc limit 1"#,
        reference.subject,
        reference.version,
    )
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| {
        RegistryError::InvalidSchema(format!(
            "reference `{}`: subject '{}' has no {}",
            reference.name,
            reference.subject,
            if reference.version == references::LATEST {
                "live version".to_string()
            } else {
                format!("live version {}", reference.version)
            }
        ))
    })
}

/// Every schema `references` reach, directly or through the references of those, loaded
/// from the registry (soft-deleted versions included: a stored schema may still use one).
/// Refused past [`references::MAX_REFERENCE_DEPTH`] or [`references::MAX_DEPENDENCIES`].
pub async fn dependencies(
    conn: &mut PgConnection,
    references: &[Reference],
) -> Result<Dependencies, RegistryError> {
    let mut reached = Dependencies::default();
    let mut pending: Vec<(Reference, usize)> = references.iter().map(|r| (r.clone(), 1)).collect();
    while let Some((reference, depth)) = pending.pop() {
        if reached.contains(&reference.subject, reference.version) {
            continue;
        }
        if depth > references::MAX_REFERENCE_DEPTH {
            return Err(RegistryError::InvalidSchema(format!(
                "references nest deeper than {} levels (at subject '{}' version {})",
                references::MAX_REFERENCE_DEPTH,
                reference.subject,
                reference.version
            )));
        }
        if reached.len() >= references::MAX_DEPENDENCIES {
            return Err(RegistryError::InvalidSchema(format!(
                "the references reach more than {} schemas",
                references::MAX_DEPENDENCIES
            )));
        }
        let found = sqlx::query!(
            r#"select s.schema_type as "schema_type!: SchemaType", s.schema as "schema!",
                      s.reference_list as "references!: Json<Vec<Reference>>"
               from registry_versions v join registry_schemas_with_references s on s.id = v.schema_id
               where v.subject = $1 and v.version = $2"#,
            reference.subject,
            reference.version,
        )
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| {
            RegistryError::InvalidSchema(format!(
                "reference `{}`: subject '{}' has no version {}",
                reference.name, reference.subject, reference.version
            ))
        })?;
        pending.extend(found.references.0.iter().map(|r| (r.clone(), depth + 1)));
        reached.insert(
            &reference.subject,
            reference.version,
            Dependency {
                schema_type: found.schema_type,
                schema: found.schema,
                references: found.references.0,
            },
        );
    }
    Ok(reached)
}

/// Reads a schema a client sent with its references: checks them, pins `-1` to the
/// subject's latest live version, loads everything they reach and parses the schema
/// against it.
pub async fn prepare(
    pool: &PgPool,
    schema_type: SchemaType,
    text: &str,
    mut references: Vec<Reference>,
) -> Result<ParsedSchema, RegistryError> {
    if references.is_empty() {
        return Ok(ParsedSchema::parse(schema_type, text)?);
    }
    references::check(&references)?;
    let mut conn = pool.acquire().await?;
    for reference in &mut references {
        reference.version = live_version(&mut conn, reference).await?;
    }
    let reached = dependencies(&mut conn, &references).await?;
    Ok(ParsedSchema::parse_with(
        schema_type,
        text,
        references,
        &reached,
    )?)
}

/// A stored version parsed with its references resolved.
pub async fn parse_version(
    pool: &PgPool,
    version: &SubjectVersion,
) -> Result<ParsedSchema, RegistryError> {
    parse_stored(
        pool,
        version.schema_type,
        &version.schema,
        version.references.clone(),
    )
    .await
}

async fn parse_stored(
    pool: &PgPool,
    schema_type: SchemaType,
    text: &str,
    references: Vec<Reference>,
) -> Result<ParsedSchema, RegistryError> {
    let reached = if references.is_empty() {
        Dependencies::default()
    } else {
        dependencies(&mut *pool.acquire().await?, &references).await?
    };
    Ok(ParsedSchema::parse_stored_with(
        schema_type,
        text,
        references,
        &reached,
    )?)
}

/// The schema with a global id, parsed with its references resolved (for the readers of
/// records that carry the id).
pub async fn stored_schema(pool: &PgPool, id: i32) -> Result<ParsedSchema, RegistryError> {
    let found = schema_by_id(pool, id).await?;
    parse_stored(pool, found.schema_type, &found.schema, found.references).await
}

/// The global id of a schema, created on first use (with its references).
async fn schema_id(conn: &mut PgConnection, schema: &ParsedSchema) -> Result<i32, sqlx::Error> {
    let fingerprint = schema.fingerprint();
    if let Some(id) = sqlx::query_scalar!(
        "select id from registry_schemas where schema_type = $1 and fingerprint = $2",
        schema.schema_type.as_str(),
        fingerprint,
    )
    .fetch_optional(&mut *conn)
    .await?
    {
        return Ok(id);
    }
    let id = sqlx::query_scalar!(
        r#"insert into registry_schemas (schema_type, schema, fingerprint) values ($1, $2, $3)
           on conflict (schema_type, fingerprint) do update set updated_at = registry_schemas.updated_at
           returning id"#,
        schema.schema_type.as_str(),
        schema.canonical,
        fingerprint,
    )
    .fetch_one(&mut *conn)
    .await?;
    if !schema.references.is_empty() {
        let names: Vec<&str> = schema.references.iter().map(|r| r.name.as_str()).collect();
        let subjects: Vec<&str> = schema
            .references
            .iter()
            .map(|r| r.subject.as_str())
            .collect();
        let versions: Vec<i32> = schema.references.iter().map(|r| r.version).collect();
        sqlx::query!(
            r#"insert into registry_references (schema_id, position, name, subject, version)
               select $1, (t.position - 1)::int, t.name, t.subject, t.version
               from unnest($2::text[], $3::text[], $4::int[])
                    with ordinality as t(name, subject, version, position)
               on conflict do nothing"#,
            id,
            &names as &[&str],
            &subjects as &[&str],
            &versions,
        )
        .execute(conn)
        .await?;
    }
    Ok(id)
}

/// The ids of the schemas (used by some version) that reference `subject`'s version.
async fn referencing(
    conn: &mut PgConnection,
    subject: &str,
    version: i32,
) -> Result<Vec<i32>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select distinct r.schema_id from registry_references r
           where r.subject = $1 and r.version = $2
             and exists (select 1 from registry_versions v where v.schema_id = r.schema_id)
           order by r.schema_id"#,
        subject,
        version,
    )
    .fetch_all(conn)
    .await
}

/// The ids of the schemas that reference a version of a subject (Confluent's
/// `referencedby`).
pub async fn referenced_by(
    pool: &PgPool,
    subject: &str,
    which: VersionRef,
) -> Result<Vec<i32>, RegistryError> {
    let found = version(pool, subject, which, true).await?;
    Ok(referencing(&mut *pool.acquire().await?, subject, found.version).await?)
}

/// The ids of the schemas that reference any subject version using the schema `id`.
pub async fn referenced_by_schema(pool: &PgPool, id: i32) -> Result<Vec<i32>, RegistryError> {
    schema_by_id(pool, id).await?;
    Ok(sqlx::query_scalar!(
        r#"select distinct r.schema_id from registry_references r
           join registry_versions t on t.subject = r.subject and t.version = r.version
           where t.schema_id = $1
             and exists (select 1 from registry_versions v where v.schema_id = r.schema_id)
           order by r.schema_id"#,
        id,
    )
    .fetch_all(pool)
    .await?)
}

/// Refuses to delete a version another registered schema references.
async fn refuse_if_referenced(
    conn: &mut PgConnection,
    subject: &str,
    version: i32,
) -> Result<(), RegistryError> {
    let referenced_by = referencing(conn, subject, version).await?;
    if referenced_by.is_empty() {
        Ok(())
    } else {
        Err(RegistryError::ReferenceExists {
            subject: subject.to_string(),
            version,
            referenced_by,
        })
    }
}

/// The version of `subject` that has `schema` (Confluent's lookup).
pub async fn lookup(
    pool: &PgPool,
    subject: &str,
    schema: &ParsedSchema,
    include_deleted: bool,
) -> Result<SubjectVersion, RegistryError> {
    let mut conn = pool.acquire().await?;
    let mut all = rows(&mut conn, subject, include_deleted).await?;
    if all.is_empty() {
        return Err(RegistryError::SubjectNotFound(subject.to_string()));
    }
    let latest = all
        .iter()
        .rposition(|row| same_schema(row, schema))
        .ok_or(RegistryError::SchemaNotFound)?;
    Ok(all.swap_remove(latest).into_version())
}

/// Every subject with a live version (or any version, with `include_deleted`).
pub async fn subjects(
    pool: &PgPool,
    include_deleted: bool,
    prefix: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select distinct subject from registry_versions
           where ($1 or deleted_at is null) and starts_with(subject, $2)
           order by subject"#,
        include_deleted,
        prefix,
    )
    .fetch_all(pool)
    .await
}

/// The version numbers of a subject.
pub async fn versions(
    pool: &PgPool,
    subject: &str,
    include_deleted: bool,
) -> Result<Vec<i32>, RegistryError> {
    let mut conn = pool.acquire().await?;
    let found: Vec<i32> = rows(&mut conn, subject, include_deleted)
        .await?
        .into_iter()
        .map(|row| row.version)
        .collect();
    if found.is_empty() {
        return Err(RegistryError::SubjectNotFound(subject.to_string()));
    }
    Ok(found)
}

/// One version of a subject.
pub async fn version(
    pool: &PgPool,
    subject: &str,
    which: VersionRef,
    include_deleted: bool,
) -> Result<SubjectVersion, RegistryError> {
    let mut conn = pool.acquire().await?;
    let all = rows(&mut conn, subject, true).await?;
    if all.is_empty() || (!include_deleted && all.iter().all(|row| row.deleted)) {
        return Err(RegistryError::SubjectNotFound(subject.to_string()));
    }
    let found = match which {
        VersionRef::Latest => all
            .into_iter()
            .rev()
            .find(|row| include_deleted || !row.deleted),
        VersionRef::Number(n) => all
            .into_iter()
            .find(|row| row.version == n && (include_deleted || !row.deleted)),
    };
    found
        .map(VersionRow::into_version)
        .ok_or_else(|| RegistryError::VersionNotFound {
            subject: subject.to_string(),
            version: which.to_string(),
        })
}

/// A schema by its global id, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSchema {
    pub schema_type: SchemaType,
    pub schema: String,
    pub references: Vec<Reference>,
}

/// A schema by its global id, while some version (live or soft-deleted) uses it.
pub async fn schema_by_id(pool: &PgPool, id: i32) -> Result<StoredSchema, RegistryError> {
    sqlx::query!(
        r#"select s.schema_type as "schema_type!: SchemaType", s.schema as "schema!",
                  s.reference_list as "references!: Json<Vec<Reference>>"
           from registry_schemas_with_references s
           where s.id = $1 and exists (select 1 from registry_versions v where v.schema_id = s.id)"#,
        id,
    )
    .fetch_optional(pool)
    .await?
    .map(|row| StoredSchema {
        schema_type: row.schema_type,
        schema: row.schema,
        references: row.references.0,
    })
    .ok_or(RegistryError::SchemaNotFound)
}

/// The subject versions that use a schema id.
pub async fn versions_of_schema(
    pool: &PgPool,
    id: i32,
    include_deleted: bool,
) -> Result<Vec<(String, i32)>, RegistryError> {
    let found = sqlx::query!(
        r#"select subject, version, deleted_at is not null as "deleted!" from registry_versions
           where schema_id = $1 order by subject, version"#,
        id,
    )
    .fetch_all(pool)
    .await?;
    if found.is_empty() {
        return Err(RegistryError::SchemaNotFound);
    }
    Ok(found
        .into_iter()
        .filter(|row| include_deleted || !row.deleted)
        .map(|row| (row.subject, row.version))
        .collect())
}

/// Deletes one version: soft first, then (with `permanent`) for good.
pub async fn delete_version(
    conn: &mut PgConnection,
    subject: &str,
    which: VersionRef,
    permanent: bool,
    actor: &Actor,
) -> Result<i32, RegistryError> {
    lock_subject(conn, subject).await?;
    let all = rows(conn, subject, true).await?;
    if all.is_empty() {
        return Err(RegistryError::SubjectNotFound(subject.to_string()));
    }
    let target = match which {
        VersionRef::Latest => all.iter().rev().find(|row| !row.deleted),
        VersionRef::Number(n) => all.iter().find(|row| row.version == n),
    }
    .ok_or_else(|| RegistryError::VersionNotFound {
        subject: subject.to_string(),
        version: which.to_string(),
    })?;
    let version = target.version;
    refuse_if_referenced(conn, subject, version).await?;
    match (permanent, target.deleted) {
        (false, true) => {
            return Err(RegistryError::VersionSoftDeleted {
                subject: subject.to_string(),
                version,
            });
        }
        (true, false) => {
            return Err(RegistryError::VersionNotSoftDeleted {
                subject: subject.to_string(),
                version,
            });
        }
        (false, false) => {
            sqlx::query!(
                "update registry_versions set deleted_at = now(), updated_at = now() where subject = $1 and version = $2",
                subject,
                version,
            )
            .execute(&mut *conn)
            .await?;
        }
        (true, true) => {
            sqlx::query!(
                "delete from registry_versions where subject = $1 and version = $2",
                subject,
                version,
            )
            .execute(&mut *conn)
            .await?;
        }
    }
    audit::record(
        conn,
        Event::new(actor, "schema.delete", format!("subject:{subject}"))
            .before(json!({ "version": version, "permanent": permanent })),
    )
    .await?;
    Ok(version)
}

/// Deletes a subject: soft-deletes its live versions, or (with `permanent`, after a soft
/// delete) removes it and its configuration.
pub async fn delete_subject(
    conn: &mut PgConnection,
    subject: &str,
    permanent: bool,
    actor: &Actor,
) -> Result<Vec<i32>, RegistryError> {
    lock_subject(conn, subject).await?;
    let all = rows(conn, subject, true).await?;
    if all.is_empty() {
        return Err(RegistryError::SubjectNotFound(subject.to_string()));
    }
    let live: Vec<i32> = all
        .iter()
        .filter(|r| !r.deleted)
        .map(|r| r.version)
        .collect();
    for row in &all {
        refuse_if_referenced(conn, subject, row.version).await?;
    }
    let deleted = if permanent {
        if !live.is_empty() {
            return Err(RegistryError::SubjectNotSoftDeleted(subject.to_string()));
        }
        sqlx::query!("delete from registry_subjects where name = $1", subject,)
            .execute(&mut *conn)
            .await?;
        all.iter().map(|r| r.version).collect()
    } else {
        if live.is_empty() {
            return Err(RegistryError::SubjectSoftDeleted(subject.to_string()));
        }
        sqlx::query!(
            "update registry_versions set deleted_at = now(), updated_at = now() where subject = $1 and deleted_at is null",
            subject,
        )
        .execute(&mut *conn)
        .await?;
        live
    };
    audit::record(
        conn,
        Event::new(actor, "schema.delete", format!("subject:{subject}"))
            .before(json!({ "versions": deleted, "permanent": permanent })),
    )
    .await?;
    Ok(deleted)
}

/// The mode that applies to a subject: its own, else the global one.
pub async fn subject_mode(conn: &mut PgConnection, subject: &str) -> Result<Mode, sqlx::Error> {
    // Both in one round trip: the subject's own mode, else the global one.
    let row = sqlx::query!(
        r#"select (select compatibility from registry_subjects where name = $1) as own,
                  (select compatibility from registry_config) as global"#,
        subject,
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(mode_of(row.own.as_deref(), row.global.as_deref()))
}

/// The mode a subject is checked under: its own, else the global default, else BACKWARD.
pub(crate) fn mode_of(own: Option<&str>, global: Option<&str>) -> Mode {
    own.and_then(Mode::parse)
        .or_else(|| global.and_then(Mode::parse))
        .unwrap_or(Mode::Backward)
}

/// The global default mode.
pub async fn global_mode(conn: &mut PgConnection) -> Result<Mode, sqlx::Error> {
    let text = sqlx::query_scalar!("select compatibility from registry_config")
        .fetch_optional(conn)
        .await?;
    Ok(text
        .as_deref()
        .and_then(Mode::parse)
        .unwrap_or(Mode::Backward))
}

/// A subject's own mode, if it has one.
pub async fn own_mode(pool: &PgPool, subject: &str) -> Result<Option<Mode>, sqlx::Error> {
    let own = sqlx::query_scalar!(
        "select compatibility from registry_subjects where name = $1",
        subject,
    )
    .fetch_optional(pool)
    .await?
    .flatten();
    Ok(own.as_deref().and_then(Mode::parse))
}

/// Sets the global mode (`None` resets it to BACKWARD); returns the previous one.
pub async fn set_global_mode(
    conn: &mut PgConnection,
    mode: Option<Mode>,
    actor: &Actor,
) -> Result<Mode, sqlx::Error> {
    let before = global_mode(conn).await?;
    let after = mode.unwrap_or(Mode::Backward);
    sqlx::query!(
        r#"insert into registry_config (id, compatibility) values (true, $1)
           on conflict (id) do update set compatibility = $1, updated_at = now()"#,
        after.as_str(),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        Event::new(actor, "registry.config", "subject:*")
            .before(json!({ "compatibility": before }))
            .after(json!({ "compatibility": after })),
    )
    .await?;
    Ok(before)
}

/// Sets (or with `None` removes) a subject's own mode; returns the previous one.
pub async fn set_subject_mode(
    conn: &mut PgConnection,
    subject: &str,
    mode: Option<Mode>,
    actor: &Actor,
) -> Result<Option<Mode>, RegistryError> {
    super::check_subject(subject)?;
    let before = sqlx::query_scalar!(
        "select compatibility from registry_subjects where name = $1",
        subject,
    )
    .fetch_optional(&mut *conn)
    .await?
    .flatten()
    .as_deref()
    .and_then(Mode::parse);
    if mode.is_none() && before.is_none() {
        return Err(RegistryError::SubjectConfigNotFound(subject.to_string()));
    }
    sqlx::query!(
        r#"insert into registry_subjects (name, compatibility) values ($1, $2)
           on conflict (name) do update set compatibility = $2, updated_at = now()"#,
        subject,
        mode.map(Mode::as_str),
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        Event::new(actor, "registry.config", format!("subject:{subject}"))
            .before(json!({ "compatibility": before }))
            .after(json!({ "compatibility": mode })),
    )
    .await?;
    Ok(before)
}

/// Checks a schema against a subject without registering it: against one version, or
/// (with `None`) against the versions the subject's mode compares with.
pub async fn check_compatibility(
    pool: &PgPool,
    subject: &str,
    which: Option<VersionRef>,
    schema: &ParsedSchema,
) -> Result<Vec<compat::Breaking>, RegistryError> {
    let mut conn = pool.acquire().await?;
    let mode = subject_mode(&mut conn, subject).await?;
    let live = rows(&mut conn, subject, false).await?;
    let Some(which) = which else {
        return check_off_runtime(&mut conn, mode, schema, compared(mode, &live)).await;
    };
    if live.is_empty() {
        return Err(RegistryError::SubjectNotFound(subject.to_string()));
    }
    let target = match which {
        VersionRef::Latest => live.last(),
        VersionRef::Number(n) => live.iter().find(|row| row.version == n),
    }
    .ok_or_else(|| RegistryError::VersionNotFound {
        subject: subject.to_string(),
        version: which.to_string(),
    })?;
    // One version: the mode's direction, without its transitivity.
    let single = match mode {
        Mode::BackwardTransitive => Mode::Backward,
        Mode::ForwardTransitive => Mode::Forward,
        Mode::FullTransitive => Mode::Full,
        other => other,
    };
    check_off_runtime(&mut conn, single, schema, std::slice::from_ref(target)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn avro(fields: &str) -> ParsedSchema {
        ParsedSchema::parse(
            SchemaType::Avro,
            &format!(r#"{{"type":"record","name":"Signup","fields":[{fields}]}}"#),
        )
        .expect("valid Avro")
    }

    #[sqlx::test(migrator = "crate::db::MIGRATOR")]
    async fn a_verdict_reached_before_a_concurrent_registration_is_checked_again(pool: PgPool) {
        let subject = "signups-value";
        let mut conn = pool.acquire().await.expect("conn");
        register(
            &mut conn,
            subject,
            &avro(r#"{"name":"a","type":"string"}"#),
            &Actor::Cli,
        )
        .await
        .expect("v1");

        // `b` as an int is fine against v1 alone …
        let late = avro(r#"{"name":"a","type":"string"},{"name":"b","type":"int","default":0}"#);
        let stale = precheck(&mut conn, subject, &late).await.expect("precheck");
        // … but another writer registers `b` as a string before the late one takes the lock.
        let other =
            avro(r#"{"name":"a","type":"string"},{"name":"b","type":"string","default":""}"#);
        register(&mut conn, subject, &other, &Actor::Cli)
            .await
            .expect("v2");

        match register_checked(&mut conn, subject, &late, stale, &Actor::Cli).await {
            Err(RegistryError::Incompatible { breaking, .. }) => {
                assert!(breaking.iter().all(|b| b.version == 2), "{breaking:?}")
            }
            other => panic!("the stale verdict was used: {other:?}"),
        }
        assert_eq!(
            rows(&mut conn, subject, true).await.expect("rows").len(),
            2,
            "nothing was registered"
        );
    }

    #[sqlx::test(migrator = "crate::db::MIGRATOR")]
    async fn a_stored_schema_type_outside_the_known_ones_is_an_error_not_avro(pool: PgPool) {
        let mut conn = pool.acquire().await.expect("conn");
        let done = register(
            &mut conn,
            "x-value",
            &avro(r#"{"name":"a","type":"string"}"#),
            &Actor::Cli,
        )
        .await
        .expect("v1");
        sqlx::raw_sql(
            r#"alter table registry_schemas drop constraint registry_schemas_schema_type_check;
               update registry_schemas set schema_type = 'XML'"#,
        )
        .execute(&mut *conn)
        .await
        .expect("corrupt the row");
        match schema_by_id(&pool, done.id).await {
            Err(RegistryError::Database(sqlx::Error::ColumnDecode { .. })) => {}
            other => panic!("corrupt data read as {other:?}"),
        }
        assert!(matches!(
            version(&pool, "x-value", VersionRef::Latest, false).await,
            Err(RegistryError::Database(_))
        ));
    }
}
