//! How the UI writes a moment: `2026-11-26 10:04 UTC`, everywhere. The DTOs that cross to
//! the browser carry times as preformatted strings (chrono stays out of the wasm bundle),
//! and this is the one function that makes them, so every page writes times alike.

use chrono::{DateTime, Utc};

/// The moment `t` as pages show it: date, hours and minutes, in UTC, saying so.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn a_moment_reads_as_utc_date_and_minutes() {
        let t = Utc.with_ymd_and_hms(2026, 11, 26, 9, 4, 59).unwrap();
        assert_eq!(timestamp(t), "2026-11-26 09:04 UTC");
    }
}
