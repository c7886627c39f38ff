//! Kafka SASL/SCRAM credential management (`AlterUserScramCredentials`,
//! `DescribeUserScramCredentials`, KIP-554) through an admin client: create, replace, delete
//! and list a user's (for Meshmart, a service account's) SCRAM credentials on the broker.
//!
//! rust-rdkafka's `AdminClient` has no SCRAM calls, so this module owns the only FFI into
//! librdkafka's SCRAM admin API (through `rdkafka::bindings`). It owns every native object it
//! creates for a request (the credential alteration, admin options, a private result queue and
//! the result event) and frees each one through a small RAII guard, on every path. The
//! `rd_kafka_t` handle is borrowed from the caller's `AdminClient` for the duration of a call.
//!
//! Upserting needs librdkafka built with OpenSSL (rdkafka's `ssl` feature): librdkafka computes
//! the salted password (`Hi()` of RFC 5802) itself and only sends that, the salt and the
//! iteration count; the password never leaves the process. Without OpenSSL an upsert fails with
//! [`ScramError::Unsupported`] before anything is sent; describe and delete work either way.
//!
//! All calls block the current thread for at most about `timeout`; async callers run them in
//! `spawn_blocking`.

// The workspace denies `unsafe_code`. librdkafka's SCRAM admin API is only reachable through raw
// FFI, so this module is allowed to use `unsafe` (see the crate documentation); every block is
// small, states why it is sound in a `SAFETY:` comment, and nothing unsafe leaks out of the
// safe public API.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_int};
use std::sync::OnceLock;
use std::time::Duration;

use rdkafka::admin::AdminClient;
use rdkafka::bindings as rd;
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;

use super::native::{
    BrokerErrors, ERR_TIMED_OUT, Failure, NativeError, Request, c_array, read_c_str, read_error,
};
use serde::{Deserialize, Serialize};

/// A SASL/SCRAM mechanism (RFC 5802 / RFC 7677) a credential is stored for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ScramMechanism {
    /// `SCRAM-SHA-256`.
    Sha256,
    /// `SCRAM-SHA-512`.
    Sha512,
}

impl ScramMechanism {
    /// The SASL mechanism name a client logs in with (librdkafka's `sasl.mechanisms`).
    #[must_use]
    pub const fn sasl_name(self) -> &'static str {
        match self {
            Self::Sha256 => "SCRAM-SHA-256",
            Self::Sha512 => "SCRAM-SHA-512",
        }
    }

    const fn to_native(self) -> rd::rd_kafka_ScramMechanism_t {
        match self {
            Self::Sha256 => rd::rd_kafka_ScramMechanism_t::RD_KAFKA_SCRAM_MECHANISM_SHA_256,
            Self::Sha512 => rd::rd_kafka_ScramMechanism_t::RD_KAFKA_SCRAM_MECHANISM_SHA_512,
        }
    }

    /// The mechanism of a Kafka `Mechanism` byte as librdkafka stores it; `None` for `UNKNOWN`
    /// (0) or a value this module does not know.
    const fn from_wire(value: c_int) -> Option<Self> {
        match value {
            1 => Some(Self::Sha256),
            2 => Some(Self::Sha512),
            _ => None,
        }
    }
}

/// Why a SCRAM call failed.
#[derive(Debug, thiserror::Error)]
pub enum ScramError {
    /// Bad input: refused before anything was sent (empty or over-long user name or password, a
    /// NUL byte, iterations out of range), or refused by the broker as an
    /// `UNACCEPTABLE_CREDENTIAL`. The message never contains the password.
    #[error("invalid SCRAM request: {0}")]
    Invalid(String),
    /// SCRAM credentials cannot be managed here: librdkafka was built without OpenSSL (no
    /// upserts), the OS has no randomness for a salt, or the broker does not support the API or
    /// the mechanism (`_UNSUPPORTED_FEATURE`, `UNSUPPORTED_VERSION`,
    /// `UNSUPPORTED_SASL_MECHANISM`).
    #[error("SCRAM credentials unsupported: {0}")]
    Unsupported(String),
    /// No answer within the timeout (e.g. the broker is unreachable).
    #[error("SCRAM request timed out")]
    TimedOut,
    /// The broker, or librdkafka itself, refused the request. `code` is librdkafka's error name:
    /// a Kafka protocol error such as `CLUSTER_AUTHORIZATION_FAILED`, or a local error starting
    /// with `_` such as `_TRANSPORT`.
    #[error("SCRAM request failed: {code}: {message}")]
    Broker { code: String, message: String },
}

/// Fewest iterations Kafka accepts for either mechanism (`ScramMechanism.minIterations`).
pub const MIN_ITERATIONS: i32 = 4096;
/// Most iterations Kafka accepts (`ScramMechanism.maxIterations`).
pub const MAX_ITERATIONS: i32 = 16384;
/// Longest user name or password accepted, in bytes: the Kafka protocol's string limit, far
/// below librdkafka's 32-bit length fields.
pub const MAX_FIELD_LEN: usize = 32_767;
/// Random salt per upsert, in bytes, from the operating system.
const SALT_LEN: usize = 32;

/// Error codes this module tells apart. Kept as plain integers: see [`crate::native::ffi`].
const ERR_INVALID_ARG: c_int = rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR__INVALID_ARG as c_int;
const ERR_UNSUPPORTED_FEATURE: c_int =
    rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE as c_int;
const ERR_UNSUPPORTED_SASL_MECHANISM: c_int =
    rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_UNSUPPORTED_SASL_MECHANISM as c_int;
const ERR_UNSUPPORTED_VERSION: c_int =
    rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION as c_int;
const ERR_RESOURCE_NOT_FOUND: c_int =
    rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_RESOURCE_NOT_FOUND as c_int;
const ERR_UNACCEPTABLE_CREDENTIAL: c_int =
    rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_UNACCEPTABLE_CREDENTIAL as c_int;

/// `rd_kafka_ScramCredentialInfo_mechanism` redeclared with a plain-integer result: librdkafka
/// stores the mechanism byte exactly as the broker sent it, which can be a value missing from
/// the bindgen enum `rd_kafka_ScramMechanism_t` (materialising it would be undefined
/// behaviour). A C enum is returned like an `int`, so the signature is ABI-compatible.
mod ffi {
    use std::ffi::c_int;

    use rdkafka::bindings as rd;

    unsafe extern "C" {
        #[link_name = "rd_kafka_ScramCredentialInfo_mechanism"]
        pub(super) fn credential_info_mechanism(
            info: *const rd::rd_kafka_ScramCredentialInfo_t,
        ) -> c_int;
    }
}

/// Creates `user`'s SCRAM credential for `mechanism`, or replaces it (a new random salt, the new
/// password and iteration count). Blocks for at most about `timeout` (capped at 1h); call it
/// from `spawn_blocking`.
///
/// `iterations` must be within [`MIN_ITERATIONS`]`..=`[`MAX_ITERATIONS`] (Kafka's limits; every
/// login pays for them, 4096 is Kafka's own default). The broker stores a credential for either
/// mechanism, but clients can only log in with those listed in its `sasl.enabled.mechanisms`.
///
/// # Errors
/// [`ScramError::Invalid`] for bad input (nothing is sent), [`ScramError::Unsupported`] when
/// librdkafka lacks OpenSSL or the broker lacks SCRAM support, [`ScramError::TimedOut`], or
/// [`ScramError::Broker`] when the broker refuses (e.g. `CLUSTER_AUTHORIZATION_FAILED`).
pub fn upsert_scram_credential(
    client: &AdminClient<DefaultClientContext>,
    user: &str,
    mechanism: ScramMechanism,
    iterations: i32,
    password: &str,
    timeout: Duration,
) -> Result<(), ScramError> {
    let name = user_name(user)?;
    check_iterations(iterations)?;
    check_password(password)?;
    if !librdkafka_has_ssl() {
        return Err(ScramError::Unsupported(
            "librdkafka was built without OpenSSL (rdkafka feature `ssl`), which it needs to \
             salt the password"
                .to_owned(),
        ));
    }
    let mut salt = [0u8; SALT_LEN];
    getrandom::fill(&mut salt).map_err(|error| {
        ScramError::Unsupported(format!("no random salt from the operating system: {error}"))
    })?;
    let alteration = Alteration::upsertion(&name, mechanism, iterations, password, &salt)?;
    alter(client, alteration, user, Missing::Error, timeout)
}

/// Deletes `user`'s SCRAM credential for `mechanism`; other mechanisms' credentials stay.
/// Deleting a credential that does not exist succeeds. New logins fail at once; connections
/// that already authenticated with it stay open (Kafka checks credentials when a connection
/// authenticates, or re-authenticates under `connections.max.reauth.ms`). Blocks for at most
/// about `timeout` (capped at 1h).
///
/// # Errors
/// As [`upsert_scram_credential`], except that OpenSSL is not needed.
pub fn delete_scram_credential(
    client: &AdminClient<DefaultClientContext>,
    user: &str,
    mechanism: ScramMechanism,
    timeout: Duration,
) -> Result<(), ScramError> {
    let name = user_name(user)?;
    let alteration = Alteration::deletion(&name, mechanism)?;
    alter(client, alteration, user, Missing::Ok, timeout)
}

/// The mechanisms `user` has SCRAM credentials for, sorted; empty when none. Blocks for at
/// most about `timeout` (capped at 1h).
///
/// Needs `DESCRIBE` on the cluster. If the broker refuses the whole request (e.g.
/// `CLUSTER_AUTHORIZATION_FAILED`), librdkafka 2.12 keeps an invalid pointer as the result's
/// message and would free it with the result; this call reports the error code without the
/// broker's message and deliberately leaks that one result (a few hundred bytes) instead of
/// letting the process abort.
///
/// # Errors
/// As [`delete_scram_credential`].
pub fn describe_scram_credentials(
    client: &AdminClient<DefaultClientContext>,
    user: &str,
    timeout: Duration,
) -> Result<Vec<ScramMechanism>, ScramError> {
    let name = user_name(user)?;
    let request = Request::new(
        client,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBEUSERSCRAMCREDENTIALS,
        timeout,
    )?;
    let mut users = [name.as_ptr()];
    // SAFETY: the handles are valid and owned by `request`; `users` holds one valid C string
    // (owned by `name`, alive until the end of this function) that librdkafka copies before
    // returning, and it keeps its own reference to the queue.
    unsafe {
        rd::rd_kafka_DescribeUserScramCredentials(
            request.rk,
            users.as_mut_ptr(),
            users.len(),
            request.options.0,
            request.queue.0,
        );
    }
    let event = request.wait(
        rd::RD_KAFKA_EVENT_DESCRIBEUSERSCRAMCREDENTIALS_RESULT,
        BrokerErrors::Leak,
    )?;
    // SAFETY: `event.0` is a valid DescribeUserScramCredentials result event (type checked by
    // `wait`).
    let result = unsafe { rd::rd_kafka_event_DescribeUserScramCredentials_result(event.0) };
    if result.is_null() {
        return Err(unexpected(
            "DescribeUserScramCredentials result missing from its event",
        ));
    }
    let mut count = 0;
    // SAFETY: `result` is non-null and owned by `event`; `count` is a valid out-pointer.
    let array = unsafe {
        rd::rd_kafka_DescribeUserScramCredentials_result_descriptions(result, &raw mut count)
    };
    // SAFETY: librdkafka returns `count` valid description pointers, alive as long as `event`.
    let descriptions = unsafe { c_array(&event, array, count) };
    for &description in descriptions {
        if description.is_null() {
            continue;
        }
        // SAFETY: `description` is a valid, non-null description owned by `event`; the name
        // lives as long as it.
        let described = unsafe {
            read_c_str(rd::rd_kafka_UserScramCredentialsDescription_user(
                description,
            ))
        };
        if described != user {
            continue;
        }
        // SAFETY: as above; the error is null or owned by `description`.
        let error = unsafe { rd::rd_kafka_UserScramCredentialsDescription_error(description) };
        // SAFETY: `error` is null or a valid error owned by `event`.
        if let Some(error) = unsafe { read_error(error) } {
            if error.code == ERR_RESOURCE_NOT_FOUND {
                return Ok(Vec::new());
            }
            return Err(error.into_scram_error());
        }
        // SAFETY: `description` is valid, see above.
        let infos = unsafe {
            rd::rd_kafka_UserScramCredentialsDescription_scramcredentialinfo_count(description)
        };
        let mut mechanisms = Vec::with_capacity(infos);
        for index in 0..infos {
            // SAFETY: `index` is below the count librdkafka reported for `description`.
            let info = unsafe {
                rd::rd_kafka_UserScramCredentialsDescription_scramcredentialinfo(description, index)
            };
            if info.is_null() {
                continue;
            }
            // SAFETY: `info` is a valid, non-null credential info owned by `event`.
            let mechanism = unsafe { ffi::credential_info_mechanism(info) };
            mechanisms.extend(ScramMechanism::from_wire(mechanism));
        }
        mechanisms.sort();
        mechanisms.dedup();
        return Ok(mechanisms);
    }
    Err(unexpected(&format!(
        "DescribeUserScramCredentials answered nothing for user {user:?}"
    )))
}

/// Whether the broker answering `RESOURCE_NOT_FOUND` (no such credential) is a success.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Missing {
    Ok,
    Error,
}

/// Sends one alteration for `user` and turns its result into `Ok` or the broker's refusal.
fn alter(
    client: &AdminClient<DefaultClientContext>,
    alteration: Alteration,
    user: &str,
    missing: Missing,
    timeout: Duration,
) -> Result<(), ScramError> {
    let request = Request::new(
        client,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_ALTERUSERSCRAMCREDENTIALS,
        timeout,
    )?;
    let mut alterations = [alteration.0];
    // SAFETY: the handles are valid and owned by `request`; `alterations` holds one valid
    // alteration owned by `alteration`, which librdkafka copies before returning (it checks it
    // first and reports a bad one on the queue), and it keeps its own reference to the queue.
    unsafe {
        rd::rd_kafka_AlterUserScramCredentials(
            request.rk,
            alterations.as_mut_ptr(),
            alterations.len(),
            request.options.0,
            request.queue.0,
        );
    }
    drop(alteration);
    let event = request.wait(
        rd::RD_KAFKA_EVENT_ALTERUSERSCRAMCREDENTIALS_RESULT,
        BrokerErrors::Read,
    )?;
    // SAFETY: `event.0` is a valid AlterUserScramCredentials result event (type checked by
    // `wait`).
    let result = unsafe { rd::rd_kafka_event_AlterUserScramCredentials_result(event.0) };
    if result.is_null() {
        return Err(unexpected(
            "AlterUserScramCredentials result missing from its event",
        ));
    }
    let mut count = 0;
    // SAFETY: `result` is non-null and owned by `event`; `count` is a valid out-pointer.
    let array =
        unsafe { rd::rd_kafka_AlterUserScramCredentials_result_responses(result, &raw mut count) };
    // SAFETY: librdkafka returns `count` valid response pointers, alive as long as `event`.
    let responses = unsafe { c_array(&event, array, count) };
    let mut answered = false;
    for &response in responses {
        if response.is_null() {
            continue;
        }
        answered = true;
        // SAFETY: `response` is a valid, non-null response owned by `event`.
        let error =
            unsafe { rd::rd_kafka_AlterUserScramCredentials_result_response_error(response) };
        // SAFETY: `error` is null or a valid error owned by `event`.
        if let Some(error) = unsafe { read_error(error) } {
            if missing == Missing::Ok && error.code == ERR_RESOURCE_NOT_FOUND {
                continue;
            }
            return Err(error.into_scram_error());
        }
    }
    if answered {
        Ok(())
    } else {
        Err(unexpected(&format!(
            "AlterUserScramCredentials answered nothing for user {user:?}"
        )))
    }
}

/// Whether the linked librdkafka has OpenSSL (`ssl` in its `builtin.features`); asked once.
fn librdkafka_has_ssl() -> bool {
    static HAS_SSL: OnceLock<bool> = OnceLock::new();
    *HAS_SSL.get_or_init(|| {
        ClientConfig::new()
            .create_native_config()
            .and_then(|config| config.get("builtin.features"))
            .is_ok_and(|features| features.split(',').any(|feature| feature.trim() == "ssl"))
    })
}

fn user_name(user: &str) -> Result<CString, ScramError> {
    if user.is_empty() {
        return Err(ScramError::Invalid("user name is empty".to_owned()));
    }
    if user.len() > MAX_FIELD_LEN {
        return Err(ScramError::Invalid(format!(
            "user name is {} bytes long, more than {MAX_FIELD_LEN}",
            user.len()
        )));
    }
    CString::new(user)
        .map_err(|_| ScramError::Invalid(format!("user name contains a NUL byte: {user:?}")))
}

fn check_iterations(iterations: i32) -> Result<(), ScramError> {
    if (MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
        Ok(())
    } else {
        Err(ScramError::Invalid(format!(
            "{iterations} iterations; Kafka accepts {MIN_ITERATIONS} to {MAX_ITERATIONS}"
        )))
    }
}

fn check_password(password: &str) -> Result<(), ScramError> {
    if password.is_empty() {
        return Err(ScramError::Invalid("password is empty".to_owned()));
    }
    if password.len() > MAX_FIELD_LEN {
        return Err(ScramError::Invalid(format!(
            "password is longer than {MAX_FIELD_LEN} bytes"
        )));
    }
    // librdkafka would store it, but no librdkafka client could log in with it
    // (`sasl.password` is a C string).
    if password.contains('\0') {
        return Err(ScramError::Invalid(
            "password contains a NUL byte".to_owned(),
        ));
    }
    Ok(())
}

impl From<Failure> for ScramError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::TimedOut => ScramError::TimedOut,
            Failure::BadOption(message) => ScramError::Invalid(message),
            Failure::Unexpected(message) => unexpected(message),
            Failure::Error(error) => error.into_scram_error(),
        }
    }
}

impl NativeError {
    fn into_scram_error(self) -> ScramError {
        match self.code {
            ERR_TIMED_OUT => ScramError::TimedOut,
            ERR_INVALID_ARG if self.message.contains("OpenSSL") => {
                ScramError::Unsupported(self.message)
            }
            ERR_INVALID_ARG | ERR_UNACCEPTABLE_CREDENTIAL => ScramError::Invalid(self.message),
            ERR_UNSUPPORTED_FEATURE | ERR_UNSUPPORTED_VERSION | ERR_UNSUPPORTED_SASL_MECHANISM => {
                ScramError::Unsupported(format!("{}: {}", self.name, self.message))
            }
            _ => ScramError::Broker {
                code: self.name,
                message: self.message,
            },
        }
    }
}

fn unexpected(message: &str) -> ScramError {
    ScramError::Broker {
        code: "_UNEXPECTED_RESULT".to_owned(),
        message: message.to_owned(),
    }
}

/// A credential upsertion or deletion we allocated; destroyed on drop. librdkafka copies it
/// into its request, so it only needs to live until the request call returns.
struct Alteration(*mut rd::rd_kafka_UserScramCredentialAlteration_t);

impl Alteration {
    fn upsertion(
        user: &CStr,
        mechanism: ScramMechanism,
        iterations: i32,
        password: &str,
        salt: &[u8],
    ) -> Result<Self, ScramError> {
        // SAFETY: `user` is a valid C string; `password` and `salt` are readable for the lengths
        // passed (both non-empty and far below `i32::MAX`, checked by the callers). librdkafka
        // copies all three before returning.
        let alteration = unsafe {
            rd::rd_kafka_UserScramCredentialUpsertion_new(
                user.as_ptr(),
                mechanism.to_native(),
                iterations,
                password.as_ptr(),
                password.len(),
                salt.as_ptr(),
                salt.len(),
            )
        };
        Self::checked(alteration)
    }

    fn deletion(user: &CStr, mechanism: ScramMechanism) -> Result<Self, ScramError> {
        // SAFETY: `user` is a valid C string that librdkafka copies before returning.
        let alteration = unsafe {
            rd::rd_kafka_UserScramCredentialDeletion_new(user.as_ptr(), mechanism.to_native())
        };
        Self::checked(alteration)
    }

    fn checked(
        alteration: *mut rd::rd_kafka_UserScramCredentialAlteration_t,
    ) -> Result<Self, ScramError> {
        if alteration.is_null() {
            return Err(unexpected("rd_kafka_UserScramCredential*_new failed"));
        }
        Ok(Self(alteration))
    }
}

impl Drop for Alteration {
    fn drop(&mut self) {
        // SAFETY: `self.0` was returned non-null by `rd_kafka_UserScramCredential*_new`, is owned
        // solely by this guard and is destroyed exactly once.
        unsafe { rd::rd_kafka_UserScramCredentialAlteration_destroy(self.0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mechanisms_map_to_librdkafka_and_back() {
        for mechanism in [ScramMechanism::Sha256, ScramMechanism::Sha512] {
            let native = mechanism.to_native() as c_int;
            assert_eq!(ScramMechanism::from_wire(native), Some(mechanism));
        }
        assert_eq!(ScramMechanism::from_wire(0), None);
        assert_eq!(ScramMechanism::from_wire(3), None);
        assert_eq!(ScramMechanism::from_wire(-1), None);
        assert_eq!(ScramMechanism::Sha512.sasl_name(), "SCRAM-SHA-512");
    }

    #[test]
    fn bad_input_is_invalid() {
        assert!(matches!(user_name(""), Err(ScramError::Invalid(_))));
        assert!(matches!(user_name("a\0b"), Err(ScramError::Invalid(_))));
        let long = "x".repeat(MAX_FIELD_LEN + 1);
        assert!(matches!(user_name(&long), Err(ScramError::Invalid(_))));
        assert!(user_name("svc-orders").is_ok());
        assert!(matches!(
            check_iterations(4095),
            Err(ScramError::Invalid(_))
        ));
        assert!(matches!(
            check_iterations(16385),
            Err(ScramError::Invalid(_))
        ));
        assert!(matches!(check_iterations(-1), Err(ScramError::Invalid(_))));
        assert!(check_iterations(MIN_ITERATIONS).is_ok());
        assert!(check_iterations(MAX_ITERATIONS).is_ok());
        assert!(matches!(check_password(""), Err(ScramError::Invalid(_))));
        assert!(matches!(check_password("a\0"), Err(ScramError::Invalid(_))));
        assert!(matches!(check_password(&long), Err(ScramError::Invalid(_))));
        assert!(check_password("s3cret").is_ok());
    }

    #[test]
    fn errors_are_classified() {
        let error = |code, name: &str, message: &str| NativeError {
            code,
            name: name.to_owned(),
            message: message.to_owned(),
        };
        assert!(matches!(
            error(ERR_TIMED_OUT, "_TIMED_OUT", "").into_scram_error(),
            ScramError::TimedOut
        ));
        assert!(matches!(
            error(
                ERR_INVALID_ARG,
                "_INVALID_ARG",
                "OpenSSL required for upsertion at index 0"
            )
            .into_scram_error(),
            ScramError::Unsupported(_)
        ));
        assert!(matches!(
            error(
                ERR_UNACCEPTABLE_CREDENTIAL,
                "UNACCEPTABLE_CREDENTIAL",
                "Too few iterations"
            )
            .into_scram_error(),
            ScramError::Invalid(_)
        ));
        assert!(matches!(
            error(ERR_UNSUPPORTED_VERSION, "UNSUPPORTED_VERSION", "").into_scram_error(),
            ScramError::Unsupported(_)
        ));
        assert!(matches!(
            error(31, "CLUSTER_AUTHORIZATION_FAILED", "").into_scram_error(),
            ScramError::Broker { code, .. } if code == "CLUSTER_AUTHORIZATION_FAILED"
        ));
        // Codes librdkafka does not know are named, not undefined behaviour.
        assert!(!crate::native::error_name(30_000).is_empty());
    }
}
