//! Credentials in request headers: an `Authorization` value (Bearer, or Basic with the
//! token as the password) read into a token and its shape checked, as every request with
//! an API token is.
#![no_main]

use domain::identity::tokens;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = std::str::from_utf8(data)
        && let Some(token) = tokens::from_authorization(value)
    {
        let _ = tokens::well_formed(&token);
    }
});
