//! Kafka ACL management (`CreateAcls`, `DescribeAcls`, `DeleteAcls`) through an admin client.
//!
//! rust-rdkafka's `AdminClient` has no ACL calls, so this module owns the only FFI into
//! librdkafka's ACL admin API (through `rdkafka::bindings`). It owns every native object it
//! creates for a request (ACL bindings and filters, admin options, a private result queue and
//! the result event) and frees each one through a small RAII guard, on every path. The
//! `rd_kafka_t` handle is borrowed from the caller's `AdminClient` for the duration of a call.
//!
//! All calls block the current thread for at most about `timeout`; async callers run them in
//! `spawn_blocking`.

// The workspace denies `unsafe_code`. librdkafka's ACL admin API is only reachable through raw
// FFI, so this module is allowed to use `unsafe` (see the crate documentation); every block is
// small, states why it is sound in a `SAFETY:` comment, and nothing unsafe leaks out of the
// safe public API.
#![allow(unsafe_code)]

use std::ffi::{CString, c_char};
use std::ptr;
use std::time::Duration;

use rdkafka::admin::AdminClient;
use rdkafka::bindings as rd;

use super::native::{self, BrokerErrors, Failure, Request, c_array, errstr_text, read_c_str};
use rdkafka::client::DefaultClientContext;
use serde::{Deserialize, Serialize};

/// Kind of resource an ACL protects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ResourceType {
    Topic,
    Group,
    /// The cluster itself (librdkafka calls it `BROKER`; its name is always `kafka-cluster`).
    Cluster,
    TransactionalId,
    /// A type this librdkafka does not know; only produced when decoding broker answers.
    Unknown,
}

/// How an ACL's resource name is matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PatternType {
    /// The resource name must equal the ACL's name (`*` matches every resource).
    Literal,
    /// The resource name must start with the ACL's name.
    Prefixed,
    /// A pattern type this librdkafka does not know; only produced when decoding.
    Unknown,
}

/// Operation an ACL allows or denies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Operation {
    All,
    Read,
    Write,
    Create,
    Delete,
    Alter,
    Describe,
    ClusterAction,
    DescribeConfigs,
    AlterConfigs,
    IdempotentWrite,
    /// An operation this librdkafka does not know; only produced when decoding.
    Unknown,
}

/// Whether an ACL grants or refuses its operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Permission {
    Allow,
    Deny,
    /// A permission this librdkafka does not know; only produced when decoding.
    Unknown,
}

/// One ACL: `principal` (e.g. `User:analyst1`) may/may not `operation` on the resource from
/// `host` (`*` for any host).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AclBinding {
    pub resource_type: ResourceType,
    pub resource_name: String,
    pub pattern_type: PatternType,
    pub principal: String,
    pub host: String,
    pub operation: Operation,
    pub permission: Permission,
}

/// How a filter matches resource names.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub enum PatternFilter {
    /// ACLs of any pattern type whose name equals the filter's name (or any name).
    #[default]
    Any,
    /// Every ACL that would apply to a resource with the filter's name: literal ACLs with that
    /// name or `*`, and prefixed ACLs whose prefix starts the name.
    Match,
    /// Literal ACLs only.
    Literal,
    /// Prefixed ACLs only.
    Prefixed,
    /// Cannot be sent: [`AclFilter::exact`] of a binding whose pattern type is
    /// [`PatternType::Unknown`]. Requests using it fail with [`AclError::Invalid`].
    Unknown,
}

/// What to describe or delete; `None` matches anything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AclFilter {
    pub resource_type: Option<ResourceType>,
    pub resource_name: Option<String>,
    pub pattern: PatternFilter,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: Option<Operation>,
    pub permission: Option<Permission>,
}

impl AclFilter {
    /// A filter matching exactly `binding` and nothing else.
    #[must_use]
    pub fn exact(binding: &AclBinding) -> Self {
        Self {
            resource_type: Some(binding.resource_type),
            resource_name: Some(binding.resource_name.clone()),
            pattern: match binding.pattern_type {
                PatternType::Literal => PatternFilter::Literal,
                PatternType::Prefixed => PatternFilter::Prefixed,
                PatternType::Unknown => PatternFilter::Unknown,
            },
            principal: Some(binding.principal.clone()),
            host: Some(binding.host.clone()),
            operation: Some(binding.operation),
            permission: Some(binding.permission),
        }
    }
}

/// Why an ACL call failed.
#[derive(Debug, thiserror::Error)]
pub enum AclError {
    /// Bad input, refused before anything was sent (NUL byte in a name, an `Unknown` value, an
    /// empty list where one is required).
    #[error("invalid ACL request: {0}")]
    Invalid(String),
    /// No answer within the timeout (e.g. the broker is unreachable).
    #[error("ACL request timed out")]
    TimedOut,
    /// The broker, or librdkafka itself, refused the request. `code` is librdkafka's error name:
    /// a Kafka protocol error such as `SECURITY_DISABLED` or `CLUSTER_AUTHORIZATION_FAILED`, or
    /// a local error starting with `_` such as `_TRANSPORT`.
    #[error("ACL request failed: {code}: {message}")]
    Broker { code: String, message: String },
}

impl From<Failure> for AclError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::TimedOut => AclError::TimedOut,
            Failure::BadOption(message) => AclError::Invalid(message),
            Failure::Unexpected(message) => unexpected(message),
            Failure::Error(error) => AclError::Broker {
                code: error.name,
                message: error.message,
            },
        }
    }
}

/// Creates `bindings`. Creating an ACL that already exists succeeds and changes nothing.
/// An empty slice returns `Ok` without a request. Waits at most about `timeout` (capped at 1h).
///
/// The broker judges each binding on its own: if one is refused (e.g. `INVALID_REQUEST` for a
/// principal without a `User:` prefix or an empty resource name) the call fails with the first
/// refusal, but the other bindings of the batch have been created.
///
/// # Errors
/// [`AclError::Invalid`] for a NUL byte or an `Unknown` value (nothing is sent),
/// [`AclError::TimedOut`], or [`AclError::Broker`] when the broker or librdkafka refuses.
pub fn create_acls(
    client: &AdminClient<DefaultClientContext>,
    bindings: &[AclBinding],
    timeout: Duration,
) -> Result<(), AclError> {
    if bindings.is_empty() {
        return Ok(());
    }
    let natives = bindings
        .iter()
        .map(NativeAcl::binding)
        .collect::<Result<Vec<_>, _>>()?;
    let event = send_all(client, natives, Batch::Create, timeout)?;
    // SAFETY: `event.0` is a valid CreateAcls result event (type checked by `wait`).
    let result = unsafe { rd::rd_kafka_event_CreateAcls_result(event.0) };
    if result.is_null() {
        return Err(unexpected("CreateAcls result missing from its event"));
    }
    let mut count = 0;
    // SAFETY: `result` is non-null and owned by `event`; `count` is a valid out-pointer.
    let array = unsafe { rd::rd_kafka_CreateAcls_result_acls(result, &raw mut count) };
    // SAFETY: librdkafka returns `count` valid result pointers, alive as long as `event`.
    let results = unsafe { c_array(&event, array, count) };
    if results.len() != bindings.len() {
        return Err(unexpected(&format!(
            "CreateAcls answered {} results for {} ACLs",
            results.len(),
            bindings.len()
        )));
    }
    let mut failures = Vec::new();
    for (index, &acl_result) in results.iter().enumerate() {
        if acl_result.is_null() {
            continue;
        }
        // SAFETY: `acl_result` is a valid, non-null result owned by `event`.
        let error = unsafe { rd::rd_kafka_acl_result_error(acl_result) };
        // SAFETY: `error` is null or a valid error owned by `event`.
        if let Some((code, message)) = unsafe { read_error(error) } {
            let what = bindings
                .get(index)
                .map(describe_binding)
                .unwrap_or_default();
            failures.push((code, format!("{what}: {message}")));
        }
    }
    let more = failures.len().saturating_sub(1);
    match failures.into_iter().next() {
        None => Ok(()),
        Some((code, mut message)) => {
            if more > 0 {
                message = format!("{message} (and {more} more ACLs failed)");
            }
            Err(AclError::Broker { code, message })
        }
    }
}

/// The ACLs matching `filter`, sorted. Waits at most about `timeout` (capped at 1h).
///
/// The answer comes from the broker's copy of the ACLs, which follows the controller's commits
/// asynchronously: right after a create or delete it can very occasionally still show the old
/// state for a few milliseconds.
///
/// Beware: librdkafka 2.12 drops the top-level error code of the `DescribeAcls` response, so a
/// refused describe looks like an empty result: a principal without `DESCRIBE` on the cluster
/// gets `Ok(vec![])` where Kafka's Java tools report `CLUSTER_AUTHORIZATION_FAILED`. Only use
/// an admin principal allowed to describe ACLs, and don't read "empty" as proof of absence
/// otherwise.
///
/// # Errors
/// As [`create_acls`].
pub fn describe_acls(
    client: &AdminClient<DefaultClientContext>,
    filter: &AclFilter,
    timeout: Duration,
) -> Result<Vec<AclBinding>, AclError> {
    let native = NativeAcl::filter(filter)?;
    let request = Request::new(
        client,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBEACLS,
        timeout,
    )?;
    // SAFETY: the handles are valid and owned by `request`; `native.0` is a valid filter that
    // librdkafka copies before returning.
    unsafe {
        rd::rd_kafka_DescribeAcls(request.rk, native.0, request.options.0, request.queue.0);
    }
    drop(native);
    let event = request.wait(rd::RD_KAFKA_EVENT_DESCRIBEACLS_RESULT, BrokerErrors::Read)?;
    // SAFETY: `event.0` is a valid DescribeAcls result event (type checked by `wait`).
    let result = unsafe { rd::rd_kafka_event_DescribeAcls_result(event.0) };
    if result.is_null() {
        return Err(unexpected("DescribeAcls result missing from its event"));
    }
    let mut count = 0;
    // SAFETY: `result` is non-null and owned by `event`; `count` is a valid out-pointer.
    let array = unsafe { rd::rd_kafka_DescribeAcls_result_acls(result, &raw mut count) };
    // SAFETY: librdkafka returns `count` valid binding pointers, alive as long as `event`.
    let acls = unsafe { c_array(&event, array, count) };
    let mut out = Vec::with_capacity(acls.len());
    for &acl in acls {
        if !acl.is_null() {
            // SAFETY: `acl` is a valid, non-null binding owned by `event`.
            out.push(unsafe { read_binding(acl) });
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The two admin calls that send a batch of ACL bindings: `CreateAcls` (bindings) and
/// `DeleteAcls` (filters, which librdkafka types as bindings too).
#[derive(Clone, Copy)]
enum Batch {
    Create,
    Delete,
}

/// Sends `natives` with `batch`'s call and waits for its result event. The natives are freed
/// once librdkafka has copied them.
fn send_all(
    client: &AdminClient<DefaultClientContext>,
    natives: Vec<NativeAcl>,
    batch: Batch,
    timeout: Duration,
) -> Result<native::Event, AclError> {
    let (op, result) = match batch {
        Batch::Create => (
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_CREATEACLS,
            rd::RD_KAFKA_EVENT_CREATEACLS_RESULT,
        ),
        Batch::Delete => (
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DELETEACLS,
            rd::RD_KAFKA_EVENT_DELETEACLS_RESULT,
        ),
    };
    let mut ptrs: Vec<*mut rd::rd_kafka_AclBinding_t> = natives.iter().map(|n| n.0).collect();
    let request = Request::new(client, op, timeout)?;
    // SAFETY: `request.rk`, `request.options.0` and `request.queue.0` are valid, non-null
    // handles owned by `request`; `ptrs` holds `ptrs.len()` valid bindings (or filters, the
    // same C type) owned by `natives`, which outlive the call. librdkafka copies them and
    // the options before returning and keeps its own reference to the queue.
    unsafe {
        match batch {
            Batch::Create => rd::rd_kafka_CreateAcls(
                request.rk,
                ptrs.as_mut_ptr(),
                ptrs.len(),
                request.options.0,
                request.queue.0,
            ),
            Batch::Delete => rd::rd_kafka_DeleteAcls(
                request.rk,
                ptrs.as_mut_ptr(),
                ptrs.len(),
                request.options.0,
                request.queue.0,
            ),
        }
    }
    drop(natives);
    Ok(request.wait(result, BrokerErrors::Read)?)
}

/// Deletes every ACL matching any of `filters` and returns the ACLs deleted, sorted and
/// without duplicates. An empty slice returns `Ok` without a request. Matching nothing is not
/// an error. Waits at most about `timeout` (capped at 1h).
///
/// If the broker refuses one filter or one matching ACL the call fails with the first such
/// error, even though ACLs matched by other filters may have been deleted.
///
/// # Errors
/// As [`create_acls`].
pub fn delete_acls(
    client: &AdminClient<DefaultClientContext>,
    filters: &[AclFilter],
    timeout: Duration,
) -> Result<Vec<AclBinding>, AclError> {
    if filters.is_empty() {
        return Ok(Vec::new());
    }
    let natives = filters
        .iter()
        .map(NativeAcl::filter)
        .collect::<Result<Vec<_>, _>>()?;
    let event = send_all(client, natives, Batch::Delete, timeout)?;
    // SAFETY: `event.0` is a valid DeleteAcls result event (type checked by `wait`).
    let result = unsafe { rd::rd_kafka_event_DeleteAcls_result(event.0) };
    if result.is_null() {
        return Err(unexpected("DeleteAcls result missing from its event"));
    }
    let mut count = 0;
    // SAFETY: `result` is non-null and owned by `event`; `count` is a valid out-pointer.
    let array = unsafe { rd::rd_kafka_DeleteAcls_result_responses(result, &raw mut count) };
    // SAFETY: librdkafka returns `count` valid response pointers, alive as long as `event`.
    let responses = unsafe { c_array(&event, array, count) };
    let mut deleted = Vec::new();
    let mut first_error = None;
    for &response in responses {
        if response.is_null() {
            continue;
        }
        // SAFETY: `response` is a valid, non-null response owned by `event`.
        let error = unsafe { rd::rd_kafka_DeleteAcls_result_response_error(response) };
        // SAFETY: `error` is null or a valid error owned by `event`.
        if let Some(error) = unsafe { read_error(error) } {
            first_error.get_or_insert(error);
            continue;
        }
        let mut matching = 0;
        // SAFETY: `response` is valid; `matching` is a valid out-pointer.
        let array = unsafe {
            rd::rd_kafka_DeleteAcls_result_response_matching_acls(response, &raw mut matching)
        };
        // SAFETY: librdkafka returns `matching` valid binding pointers owned by the response,
        // itself owned by `event`.
        let acls = unsafe { c_array(&event, array, matching) };
        for &acl in acls {
            if acl.is_null() {
                continue;
            }
            // SAFETY: `acl` is a valid, non-null binding owned by `event`.
            let error = unsafe { rd::rd_kafka_AclBinding_error(acl) };
            // SAFETY: `error` is null or a valid error owned by `event`.
            if let Some((code, message)) = unsafe { read_error(error) } {
                // SAFETY: as above.
                let what = describe_binding(&unsafe { read_binding(acl) });
                first_error.get_or_insert((code, format!("{what}: {message}")));
            } else {
                // SAFETY: as above.
                deleted.push(unsafe { read_binding(acl) });
            }
        }
    }
    if let Some((code, message)) = first_error {
        return Err(AclError::Broker { code, message });
    }
    deleted.sort();
    deleted.dedup();
    Ok(deleted)
}

/// A one-line description of `binding` for error messages.
fn describe_binding(binding: &AclBinding) -> String {
    format!(
        "{:?} {:?} {} {:?} {:?} '{}' from {}",
        binding.permission,
        binding.operation,
        binding.principal,
        binding.pattern_type,
        binding.resource_type,
        binding.resource_name,
        binding.host
    )
}

fn unexpected(message: &str) -> AclError {
    AclError::Broker {
        code: "_UNEXPECTED_RESULT".to_owned(),
        message: message.to_owned(),
    }
}

fn c_string(field: &str, value: &str) -> Result<CString, AclError> {
    CString::new(value)
        .map_err(|_| AclError::Invalid(format!("{field} contains a NUL byte: {value:?}")))
}

fn c_string_opt(field: &str, value: Option<&str>) -> Result<Option<CString>, AclError> {
    value.map(|value| c_string(field, value)).transpose()
}

fn opt_ptr(value: Option<&CString>) -> *const c_char {
    value.map_or(ptr::null(), |value| value.as_ptr())
}

/// The name and message of a librdkafka error object, or `None` for no error.
///
/// # Safety
/// `error` is null or a valid `rd_kafka_error_t`.
unsafe fn read_error(error: *const rd::rd_kafka_error_t) -> Option<(String, String)> {
    // SAFETY: per this function's contract.
    unsafe { native::read_error(error) }.map(|error| (error.name, error.message))
}

/// Copies a librdkafka ACL binding into Rust.
///
/// # Safety
/// `acl` is a valid, non-null `rd_kafka_AclBinding_t`.
unsafe fn read_binding(acl: *const rd::rd_kafka_AclBinding_t) -> AclBinding {
    // The enum getters below cannot produce an invalid Rust enum value: librdkafka clamps
    // values it decodes from the broker to its own `*_UNKNOWN`, and every value it stores is a
    // variant of the bindgen enums. Strings are copied before `acl` can go away.
    // SAFETY: `acl` is a valid binding per this function's contract.
    let resource_type = unsafe { rd::rd_kafka_AclBinding_restype(acl) };
    // SAFETY: as above; the name lives as long as `acl`.
    let resource_name = unsafe { read_c_str(rd::rd_kafka_AclBinding_name(acl)) };
    // SAFETY: as above.
    let pattern_type = unsafe { rd::rd_kafka_AclBinding_resource_pattern_type(acl) };
    // SAFETY: as above; the principal lives as long as `acl`.
    let principal = unsafe { read_c_str(rd::rd_kafka_AclBinding_principal(acl)) };
    // SAFETY: as above; the host lives as long as `acl`.
    let host = unsafe { read_c_str(rd::rd_kafka_AclBinding_host(acl)) };
    // SAFETY: as above.
    let operation = unsafe { rd::rd_kafka_AclBinding_operation(acl) };
    // SAFETY: as above.
    let permission = unsafe { rd::rd_kafka_AclBinding_permission_type(acl) };
    AclBinding {
        resource_type: resource_type_from(resource_type),
        resource_name,
        pattern_type: pattern_type_from(pattern_type),
        principal,
        host,
        operation: operation_from(operation),
        permission: permission_from(permission),
    }
}

fn resource_type_to(value: ResourceType) -> Result<rd::rd_kafka_ResourceType_t, AclError> {
    use rd::rd_kafka_ResourceType_t as R;
    Ok(match value {
        ResourceType::Topic => R::RD_KAFKA_RESOURCE_TOPIC,
        ResourceType::Group => R::RD_KAFKA_RESOURCE_GROUP,
        ResourceType::Cluster => R::RD_KAFKA_RESOURCE_BROKER,
        ResourceType::TransactionalId => R::RD_KAFKA_RESOURCE_TRANSACTIONAL_ID,
        ResourceType::Unknown => return Err(AclError::Invalid("resource type is Unknown".into())),
    })
}

fn resource_type_from(value: rd::rd_kafka_ResourceType_t) -> ResourceType {
    use rd::rd_kafka_ResourceType_t as R;
    match value {
        R::RD_KAFKA_RESOURCE_TOPIC => ResourceType::Topic,
        R::RD_KAFKA_RESOURCE_GROUP => ResourceType::Group,
        R::RD_KAFKA_RESOURCE_BROKER => ResourceType::Cluster,
        R::RD_KAFKA_RESOURCE_TRANSACTIONAL_ID => ResourceType::TransactionalId,
        R::RD_KAFKA_RESOURCE_UNKNOWN | R::RD_KAFKA_RESOURCE_ANY | R::RD_KAFKA_RESOURCE__CNT => {
            ResourceType::Unknown
        }
    }
}

fn pattern_type_to(value: PatternType) -> Result<rd::rd_kafka_ResourcePatternType_t, AclError> {
    use rd::rd_kafka_ResourcePatternType_t as P;
    Ok(match value {
        PatternType::Literal => P::RD_KAFKA_RESOURCE_PATTERN_LITERAL,
        PatternType::Prefixed => P::RD_KAFKA_RESOURCE_PATTERN_PREFIXED,
        PatternType::Unknown => return Err(AclError::Invalid("pattern type is Unknown".into())),
    })
}

fn pattern_filter_to(value: PatternFilter) -> Result<rd::rd_kafka_ResourcePatternType_t, AclError> {
    use rd::rd_kafka_ResourcePatternType_t as P;
    Ok(match value {
        PatternFilter::Any => P::RD_KAFKA_RESOURCE_PATTERN_ANY,
        PatternFilter::Match => P::RD_KAFKA_RESOURCE_PATTERN_MATCH,
        PatternFilter::Literal => P::RD_KAFKA_RESOURCE_PATTERN_LITERAL,
        PatternFilter::Prefixed => P::RD_KAFKA_RESOURCE_PATTERN_PREFIXED,
        PatternFilter::Unknown => {
            return Err(AclError::Invalid("pattern filter is Unknown".into()));
        }
    })
}

fn pattern_type_from(value: rd::rd_kafka_ResourcePatternType_t) -> PatternType {
    use rd::rd_kafka_ResourcePatternType_t as P;
    match value {
        P::RD_KAFKA_RESOURCE_PATTERN_LITERAL => PatternType::Literal,
        P::RD_KAFKA_RESOURCE_PATTERN_PREFIXED => PatternType::Prefixed,
        P::RD_KAFKA_RESOURCE_PATTERN_UNKNOWN
        | P::RD_KAFKA_RESOURCE_PATTERN_ANY
        | P::RD_KAFKA_RESOURCE_PATTERN_MATCH
        | P::RD_KAFKA_RESOURCE_PATTERN_TYPE__CNT => PatternType::Unknown,
    }
}

fn operation_to(value: Operation) -> Result<rd::rd_kafka_AclOperation_t, AclError> {
    use rd::rd_kafka_AclOperation_t as O;
    Ok(match value {
        Operation::All => O::RD_KAFKA_ACL_OPERATION_ALL,
        Operation::Read => O::RD_KAFKA_ACL_OPERATION_READ,
        Operation::Write => O::RD_KAFKA_ACL_OPERATION_WRITE,
        Operation::Create => O::RD_KAFKA_ACL_OPERATION_CREATE,
        Operation::Delete => O::RD_KAFKA_ACL_OPERATION_DELETE,
        Operation::Alter => O::RD_KAFKA_ACL_OPERATION_ALTER,
        Operation::Describe => O::RD_KAFKA_ACL_OPERATION_DESCRIBE,
        Operation::ClusterAction => O::RD_KAFKA_ACL_OPERATION_CLUSTER_ACTION,
        Operation::DescribeConfigs => O::RD_KAFKA_ACL_OPERATION_DESCRIBE_CONFIGS,
        Operation::AlterConfigs => O::RD_KAFKA_ACL_OPERATION_ALTER_CONFIGS,
        Operation::IdempotentWrite => O::RD_KAFKA_ACL_OPERATION_IDEMPOTENT_WRITE,
        Operation::Unknown => return Err(AclError::Invalid("operation is Unknown".into())),
    })
}

fn operation_from(value: rd::rd_kafka_AclOperation_t) -> Operation {
    use rd::rd_kafka_AclOperation_t as O;
    match value {
        O::RD_KAFKA_ACL_OPERATION_ALL => Operation::All,
        O::RD_KAFKA_ACL_OPERATION_READ => Operation::Read,
        O::RD_KAFKA_ACL_OPERATION_WRITE => Operation::Write,
        O::RD_KAFKA_ACL_OPERATION_CREATE => Operation::Create,
        O::RD_KAFKA_ACL_OPERATION_DELETE => Operation::Delete,
        O::RD_KAFKA_ACL_OPERATION_ALTER => Operation::Alter,
        O::RD_KAFKA_ACL_OPERATION_DESCRIBE => Operation::Describe,
        O::RD_KAFKA_ACL_OPERATION_CLUSTER_ACTION => Operation::ClusterAction,
        O::RD_KAFKA_ACL_OPERATION_DESCRIBE_CONFIGS => Operation::DescribeConfigs,
        O::RD_KAFKA_ACL_OPERATION_ALTER_CONFIGS => Operation::AlterConfigs,
        O::RD_KAFKA_ACL_OPERATION_IDEMPOTENT_WRITE => Operation::IdempotentWrite,
        O::RD_KAFKA_ACL_OPERATION_UNKNOWN
        | O::RD_KAFKA_ACL_OPERATION_ANY
        | O::RD_KAFKA_ACL_OPERATION__CNT => Operation::Unknown,
    }
}

fn permission_to(value: Permission) -> Result<rd::rd_kafka_AclPermissionType_t, AclError> {
    use rd::rd_kafka_AclPermissionType_t as P;
    Ok(match value {
        Permission::Allow => P::RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW,
        Permission::Deny => P::RD_KAFKA_ACL_PERMISSION_TYPE_DENY,
        Permission::Unknown => return Err(AclError::Invalid("permission is Unknown".into())),
    })
}

fn permission_from(value: rd::rd_kafka_AclPermissionType_t) -> Permission {
    use rd::rd_kafka_AclPermissionType_t as P;
    match value {
        P::RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW => Permission::Allow,
        P::RD_KAFKA_ACL_PERMISSION_TYPE_DENY => Permission::Deny,
        P::RD_KAFKA_ACL_PERMISSION_TYPE_UNKNOWN
        | P::RD_KAFKA_ACL_PERMISSION_TYPE_ANY
        | P::RD_KAFKA_ACL_PERMISSION_TYPE__CNT => Permission::Unknown,
    }
}

/// An ACL binding or binding filter we allocated (`rd_kafka_AclBindingFilter_t` is the same
/// type); destroyed on drop. librdkafka copies them into its requests, so they only need to
/// live until the request call returns.
struct NativeAcl(*mut rd::rd_kafka_AclBinding_t);

impl NativeAcl {
    fn binding(binding: &AclBinding) -> Result<Self, AclError> {
        let restype = resource_type_to(binding.resource_type)?;
        let pattern = pattern_type_to(binding.pattern_type)?;
        let operation = operation_to(binding.operation)?;
        let permission = permission_to(binding.permission)?;
        let name = c_string("resource name", &binding.resource_name)?;
        let principal = c_string("principal", &binding.principal)?;
        let host = c_string("host", &binding.host)?;
        let mut errstr = [0u8; 512];
        // SAFETY: the strings are valid NUL-terminated C strings that outlive the call
        // (librdkafka copies them); `errstr` is a writable buffer of the length passed.
        let acl = unsafe {
            rd::rd_kafka_AclBinding_new(
                restype,
                name.as_ptr(),
                pattern,
                principal.as_ptr(),
                host.as_ptr(),
                operation,
                permission,
                errstr.as_mut_ptr().cast::<c_char>(),
                errstr.len(),
            )
        };
        if acl.is_null() {
            return Err(AclError::Invalid(errstr_text(&errstr)));
        }
        Ok(Self(acl))
    }

    fn filter(filter: &AclFilter) -> Result<Self, AclError> {
        use rd::rd_kafka_AclOperation_t as O;
        use rd::rd_kafka_AclPermissionType_t as P;
        use rd::rd_kafka_ResourceType_t as R;
        let restype = filter
            .resource_type
            .map_or(Ok(R::RD_KAFKA_RESOURCE_ANY), resource_type_to)?;
        let pattern = pattern_filter_to(filter.pattern)?;
        let operation = filter
            .operation
            .map_or(Ok(O::RD_KAFKA_ACL_OPERATION_ANY), operation_to)?;
        let permission = filter
            .permission
            .map_or(Ok(P::RD_KAFKA_ACL_PERMISSION_TYPE_ANY), permission_to)?;
        let name = c_string_opt("resource name", filter.resource_name.as_deref())?;
        let principal = c_string_opt("principal", filter.principal.as_deref())?;
        let host = c_string_opt("host", filter.host.as_deref())?;
        let mut errstr = [0u8; 512];
        // SAFETY: each string pointer is null (no filter on that field) or a valid C string
        // that outlives the call (librdkafka copies it); `errstr` is a writable buffer of the
        // length passed.
        let acl = unsafe {
            rd::rd_kafka_AclBindingFilter_new(
                restype,
                opt_ptr(name.as_ref()),
                pattern,
                opt_ptr(principal.as_ref()),
                opt_ptr(host.as_ref()),
                operation,
                permission,
                errstr.as_mut_ptr().cast::<c_char>(),
                errstr.len(),
            )
        };
        if acl.is_null() {
            return Err(AclError::Invalid(errstr_text(&errstr)));
        }
        Ok(Self(acl))
    }
}

impl Drop for NativeAcl {
    fn drop(&mut self) {
        // SAFETY: `self.0` was returned non-null by `rd_kafka_AclBinding(Filter)_new`, is owned
        // solely by this guard and is destroyed exactly once.
        unsafe { rd::rd_kafka_AclBinding_destroy(self.0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding() -> AclBinding {
        AclBinding {
            resource_type: ResourceType::Topic,
            resource_name: "orders".into(),
            pattern_type: PatternType::Literal,
            principal: "User:analyst1".into(),
            host: "*".into(),
            operation: Operation::Read,
            permission: Permission::Allow,
        }
    }

    #[test]
    fn known_values_convert_to_librdkafka_and_back() {
        for value in [
            ResourceType::Topic,
            ResourceType::Group,
            ResourceType::Cluster,
            ResourceType::TransactionalId,
        ] {
            assert_eq!(
                resource_type_from(resource_type_to(value).expect("known")),
                value
            );
        }
        for value in [PatternType::Literal, PatternType::Prefixed] {
            assert_eq!(
                pattern_type_from(pattern_type_to(value).expect("known")),
                value
            );
        }
        for value in [
            Operation::All,
            Operation::Read,
            Operation::Write,
            Operation::Create,
            Operation::Delete,
            Operation::Alter,
            Operation::Describe,
            Operation::ClusterAction,
            Operation::DescribeConfigs,
            Operation::AlterConfigs,
            Operation::IdempotentWrite,
        ] {
            assert_eq!(operation_from(operation_to(value).expect("known")), value);
        }
        for value in [Permission::Allow, Permission::Deny] {
            assert_eq!(permission_from(permission_to(value).expect("known")), value);
        }
        // A filter's own pattern types are never a binding's.
        for (filter, binding) in [
            (PatternFilter::Literal, PatternType::Literal),
            (PatternFilter::Prefixed, PatternType::Prefixed),
            (PatternFilter::Any, PatternType::Unknown),
            (PatternFilter::Match, PatternType::Unknown),
        ] {
            let native = pattern_filter_to(filter).expect("known");
            assert_eq!(pattern_type_from(native), binding, "{filter:?}");
        }
    }

    #[test]
    fn unknown_values_are_refused_and_librdkafkas_wildcards_read_as_unknown() {
        assert!(matches!(
            resource_type_to(ResourceType::Unknown),
            Err(AclError::Invalid(_))
        ));
        assert!(matches!(
            pattern_type_to(PatternType::Unknown),
            Err(AclError::Invalid(_))
        ));
        assert!(matches!(
            pattern_filter_to(PatternFilter::Unknown),
            Err(AclError::Invalid(_))
        ));
        assert!(matches!(
            operation_to(Operation::Unknown),
            Err(AclError::Invalid(_))
        ));
        assert!(matches!(
            permission_to(Permission::Unknown),
            Err(AclError::Invalid(_))
        ));
        assert_eq!(
            resource_type_from(rd::rd_kafka_ResourceType_t::RD_KAFKA_RESOURCE_ANY),
            ResourceType::Unknown
        );
        assert_eq!(
            operation_from(rd::rd_kafka_AclOperation_t::RD_KAFKA_ACL_OPERATION_ANY),
            Operation::Unknown
        );
        assert_eq!(
            permission_from(rd::rd_kafka_AclPermissionType_t::RD_KAFKA_ACL_PERMISSION_TYPE_ANY),
            Permission::Unknown
        );
    }

    #[test]
    fn exact_filters_match_only_their_binding() {
        let b = binding();
        let filter = AclFilter::exact(&b);
        assert_eq!(filter.pattern, PatternFilter::Literal);
        assert_eq!(filter.principal.as_deref(), Some("User:analyst1"));
        let prefixed = AclBinding {
            pattern_type: PatternType::Prefixed,
            ..b
        };
        assert_eq!(AclFilter::exact(&prefixed).pattern, PatternFilter::Prefixed);
    }

    #[test]
    fn native_binding_round_trips() {
        let b = binding();
        let native = NativeAcl::binding(&b).expect("valid binding");
        // SAFETY: `native.0` is a valid binding owned by `native`.
        let back = unsafe { read_binding(native.0) };
        assert_eq!(back, b);
    }

    #[test]
    fn exact_filter_round_trips() {
        let b = binding();
        let native = NativeAcl::filter(&AclFilter::exact(&b)).expect("valid filter");
        // SAFETY: `native.0` is a valid filter owned by `native`.
        let back = unsafe { read_binding(native.0) };
        assert_eq!(back, b);
    }

    #[test]
    fn any_filter_is_accepted() {
        let native = NativeAcl::filter(&AclFilter::default()).expect("valid filter");
        // SAFETY: `native.0` is a valid filter owned by `native`.
        let back = unsafe { read_binding(native.0) };
        assert_eq!(back.resource_name, "");
        assert_eq!(back.resource_type, ResourceType::Unknown);
    }

    #[test]
    fn nul_bytes_and_unknowns_are_invalid() {
        let mut b = binding();
        b.principal = "User:a\0b".into();
        assert!(matches!(NativeAcl::binding(&b), Err(AclError::Invalid(_))));
        let mut b = binding();
        b.operation = Operation::Unknown;
        assert!(matches!(NativeAcl::binding(&b), Err(AclError::Invalid(_))));
        let mut b = binding();
        b.pattern_type = PatternType::Unknown;
        assert!(matches!(
            NativeAcl::filter(&AclFilter::exact(&b)),
            Err(AclError::Invalid(_))
        ));
        let filter = AclFilter {
            host: Some("a\0".into()),
            ..AclFilter::default()
        };
        assert!(matches!(
            NativeAcl::filter(&filter),
            Err(AclError::Invalid(_))
        ));
    }
}
