//! What the hand-wrapped librdkafka admin calls ([`crate::acl`], [`crate::scram`]) share: RAII guards for admin options, a private result queue and a result event; one
//! admin request (options with a timeout, the queue, waiting for its result); and reading
//! C strings, arrays and error objects safely.
//!
//! Error codes are read as plain integers (see [`ffi`]): librdkafka stores codes exactly as
//! the broker sent them, and a value missing from the bindgen enum must not be materialised
//! as that enum.

// rust-rdkafka has no calls for ACLs or SCRAM credentials, so these wrap librdkafka's C API
// (see the crate documentation). Every unsafe block is small and states why it is sound.
#![allow(unsafe_code)]

use std::ffi::{CStr, c_char, c_int};
use std::time::{Duration, Instant};

use rdkafka::admin::AdminClient;
use rdkafka::bindings as rd;
use rdkafka::client::DefaultClientContext;

/// The longest a request may wait, whatever the caller asks.
const MAX_TIMEOUT: Duration = Duration::from_hours(1);
/// Extra time to wait for librdkafka's own `_TIMED_OUT` answer (it carries a message).
const POLL_GRACE: Duration = Duration::from_secs(1);

pub(super) const NO_ERROR: c_int = rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR as c_int;
pub(super) const ERR_TIMED_OUT: c_int =
    rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR__TIMED_OUT as c_int;

/// librdkafka functions redeclared with plain-integer results. The symbols are the same; a
/// C enum is returned like an `int`, so the signatures are ABI-compatible.
pub(super) mod ffi {
    use std::ffi::{c_char, c_int};

    use rdkafka::bindings as rd;

    unsafe extern "C" {
        #[link_name = "rd_kafka_event_error"]
        pub(in super::super) fn event_error(event: *mut rd::rd_kafka_event_t) -> c_int;
        #[link_name = "rd_kafka_error_code"]
        pub(in super::super) fn error_code(error: *const rd::rd_kafka_error_t) -> c_int;
        /// Also names codes librdkafka does not know (`ERR_<n>?`).
        #[link_name = "rd_kafka_err2name"]
        pub(in super::super) fn err2name(code: c_int) -> *const c_char;
    }
}

/// A librdkafka error: its numeric code (any value the broker sent), name and message.
#[derive(Debug)]
pub(super) struct NativeError {
    pub(super) code: c_int,
    pub(super) name: String,
    pub(super) message: String,
}

/// Why a request produced no result.
#[derive(Debug)]
pub(super) enum Failure {
    /// No answer within the timeout (ours or librdkafka's `_TIMED_OUT`).
    TimedOut,
    /// librdkafka refused the request's options (the message says why).
    BadOption(String),
    /// Something that should not happen (a null handle or result).
    Unexpected(&'static str),
    /// The request failed as a whole, with this error.
    Error(NativeError),
}

/// Admin options we allocated; destroyed on drop (librdkafka copies them into the request).
pub(super) struct Options(pub(super) *mut rd::rd_kafka_AdminOptions_t);

impl Drop for Options {
    fn drop(&mut self) {
        // SAFETY: non-null, from `rd_kafka_AdminOptions_new`, destroyed exactly once.
        unsafe { rd::rd_kafka_AdminOptions_destroy(self.0) }
    }
}

/// Our private result queue; destroyed on drop. An in-flight request holds its own reference
/// to the underlying queue, so destroying ours early (after a timeout) is safe: the late
/// result is discarded by librdkafka.
pub(super) struct Queue(pub(super) *mut rd::rd_kafka_queue_t);

impl Drop for Queue {
    fn drop(&mut self) {
        // SAFETY: non-null, from `rd_kafka_queue_new`, destroyed exactly once.
        unsafe { rd::rd_kafka_queue_destroy(self.0) }
    }
}

/// A polled event; destroying it frees the whole result (every array, binding, description,
/// error and string borrowed from it).
pub(super) struct Event(pub(super) *mut rd::rd_kafka_event_t);

impl Drop for Event {
    fn drop(&mut self) {
        // SAFETY: non-null, from `rd_kafka_queue_poll`, destroyed exactly once.
        unsafe { rd::rd_kafka_event_destroy(self.0) }
    }
}

/// What [`Request::wait`] may do with a result event that carries a broker (Kafka protocol)
/// error for the whole request.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum BrokerErrors {
    /// Read its message and free it as usual.
    Read,
    /// Neither read its message nor free it. librdkafka 2.12's `DescribeUserScramCredentials`
    /// parser stores the broker's request-level error message as a pointer to its own stack
    /// (or to a static string) and the event's destructor `free`s it, which would abort the
    /// process; leaking the event is the only safe way out.
    Leak,
}

/// What one admin request needs: the borrowed client handle, options with the request
/// timeout, and a private queue the result is delivered to.
pub(super) struct Request<'a> {
    /// Borrowed from the `AdminClient` in `_client`, which outlives the request.
    pub(super) rk: *mut rd::rd_kafka_t,
    _client: &'a AdminClient<DefaultClientContext>,
    pub(super) options: Options,
    pub(super) queue: Queue,
    deadline: Instant,
}

impl<'a> Request<'a> {
    pub(super) fn new(
        client: &'a AdminClient<DefaultClientContext>,
        op: rd::rd_kafka_admin_op_t,
        timeout: Duration,
    ) -> Result<Self, Failure> {
        let timeout = timeout.min(MAX_TIMEOUT);
        let rk = client.inner().native_ptr();
        if rk.is_null() {
            return Err(Failure::Unexpected("admin client has no native handle"));
        }
        // SAFETY: `rk` is the live handle of `client`, borrowed for `'a`.
        let options = unsafe { rd::rd_kafka_AdminOptions_new(rk, op) };
        if options.is_null() {
            return Err(Failure::Unexpected("rd_kafka_AdminOptions_new failed"));
        }
        let options = Options(options);
        // librdkafka treats 0 as "no wait" rather than a deadline; 1 ms is the shortest real one.
        let timeout_ms = c_int::try_from(timeout.as_millis())
            .unwrap_or(c_int::MAX)
            .max(1);
        let mut errstr = [0u8; 512];
        // SAFETY: `options.0` is valid; `errstr` is a writable buffer of the length passed.
        let err = unsafe {
            rd::rd_kafka_AdminOptions_set_request_timeout(
                options.0,
                timeout_ms,
                errstr.as_mut_ptr().cast::<c_char>(),
                errstr.len(),
            )
        };
        if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            return Err(Failure::BadOption(errstr_text(&errstr)));
        }
        // SAFETY: `rk` is the live handle of `client`.
        let queue = unsafe { rd::rd_kafka_queue_new(rk) };
        if queue.is_null() {
            return Err(Failure::Unexpected("rd_kafka_queue_new failed"));
        }
        Ok(Self {
            rk,
            _client: client,
            options,
            queue: Queue(queue),
            // librdkafka answers `_TIMED_OUT` itself after `timeout`; the grace period lets that
            // answer (with its message) arrive before we give up on our own.
            deadline: Instant::now() + timeout + POLL_GRACE,
        })
    }

    /// Waits for the result event of type `expected`. Consumes the request: options and
    /// queue are freed on return; the event keeps what it needs alive on its own.
    pub(super) fn wait(
        self,
        expected: c_int,
        broker_errors: BrokerErrors,
    ) -> Result<Event, Failure> {
        loop {
            let remaining = self.deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(Failure::TimedOut);
            }
            let poll_ms = c_int::try_from(remaining.as_millis().max(1)).unwrap_or(c_int::MAX);
            // SAFETY: `self.queue.0` is a valid queue owned by `self`.
            let event = unsafe { rd::rd_kafka_queue_poll(self.queue.0, poll_ms) };
            if event.is_null() {
                continue;
            }
            let event = Event(event);
            // SAFETY: `event.0` is a valid event.
            let kind = unsafe { rd::rd_kafka_event_type(event.0) };
            if kind != expected {
                // Nothing else is routed to a private admin queue; skip it defensively.
                continue;
            }
            // SAFETY: `event.0` is a valid event.
            let code = unsafe { ffi::event_error(event.0) };
            if code == NO_ERROR {
                return Ok(event);
            }
            if code == ERR_TIMED_OUT {
                return Err(Failure::TimedOut);
            }
            let name = error_name(code);
            // Kafka protocol errors are positive; librdkafka's own errors (timeouts, transport,
            // bad arguments) are negative and always carry a message it allocated properly.
            if code > 0 && broker_errors == BrokerErrors::Leak {
                std::mem::forget(event);
                let message = format!(
                    "the broker refused the request ({name}; librdkafka 2.12 loses its message)"
                );
                return Err(Failure::Error(NativeError {
                    code,
                    name,
                    message,
                }));
            }
            // SAFETY: the string lives as long as `event`, which is alive here.
            let message = unsafe { read_c_str(rd::rd_kafka_event_error_string(event.0)) };
            return Err(Failure::Error(NativeError {
                code,
                name,
                message,
            }));
        }
    }
}

/// Reads the NUL-terminated message librdkafka wrote into `buf` (empty if none).
pub(super) fn errstr_text(buf: &[u8]) -> String {
    CStr::from_bytes_until_nul(buf)
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Copies a C string; null becomes the empty string. librdkafka 2.12 copies some broker
/// strings up to the next zero byte of the response rather than by their length, so trailing
/// control characters are dropped.
///
/// # Safety
/// `p` is null or points to a NUL-terminated string alive for the duration of the call.
pub(super) unsafe fn read_c_str(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: `p` is non-null and NUL-terminated per this function's contract.
    let text = unsafe { CStr::from_ptr(p) }.to_string_lossy();
    text.trim_end_matches(char::is_control).to_owned()
}

/// The elements of a C array returned by librdkafka; null or empty gives an empty slice. The
/// slice borrows `_owner`, the event that owns the array, so it cannot outlive it.
///
/// # Safety
/// `array` is null or points to `count` initialised pointers that stay valid as long as
/// `owner` lives.
pub(super) unsafe fn c_array<T>(_owner: &Event, array: *mut *const T, count: usize) -> &[*const T] {
    if array.is_null() || count == 0 {
        return &[];
    }
    // SAFETY: non-null, `count` initialised elements, alive as long as `owner` per the contract.
    unsafe { std::slice::from_raw_parts(array.cast_const(), count) }
}

/// The code, name and message of a librdkafka error object, or `None` for no error.
///
/// # Safety
/// `error` is null or a valid `rd_kafka_error_t`.
pub(super) unsafe fn read_error(error: *const rd::rd_kafka_error_t) -> Option<NativeError> {
    if error.is_null() {
        return None;
    }
    // SAFETY: `error` is valid and non-null.
    let code = unsafe { ffi::error_code(error) };
    if code == NO_ERROR {
        return None;
    }
    // SAFETY: `error` is valid; the returned strings are static or live as long as `error`.
    let name = unsafe { read_c_str(rd::rd_kafka_error_name(error)) };
    // SAFETY: as above.
    let message = unsafe { read_c_str(rd::rd_kafka_error_string(error)) };
    Some(NativeError {
        code,
        name,
        message,
    })
}

/// The name of error `code` (static or thread-local in librdkafka, copied at once).
pub(super) fn error_name(code: c_int) -> String {
    // SAFETY: `rd_kafka_err2name` accepts any code and returns a valid C string that stays
    // valid at least until the next call on this thread; it is copied before that.
    unsafe { read_c_str(ffi::err2name(code)) }
}
