//! How many records are due: a rate, optionally shaped by a daily curve (`--diurnal`) and
//! interrupted by a pause (`--pause-after`, `--pause-for`).
//!
//! The curve is a retailer's day in UTC hours, 1.0 at the evening peak and about a tenth of
//! it in the small hours, linearly interpolated between hours; with it the rate is the
//! peak rate. A pause sends nothing and owes nothing: records are not caught up after it,
//! as a stopped producer does not catch up either.
//!
//! A day may be compressed (`day_seconds`): the curve's clock then runs 86,400 /
//! `day_seconds` times as fast from the start, so a fault suite's clean run covers a whole
//! day, night trough and evening peak included, in minutes.

use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};

/// Share of the peak rate at each UTC hour (0 to 23).
const DIURNAL: [f64; 24] = [
    0.30, 0.20, 0.14, 0.10, 0.09, 0.12, 0.22, 0.38, 0.52, 0.62, 0.70, 0.76, 0.80, 0.78, 0.74, 0.72,
    0.76, 0.84, 0.94, 1.00, 0.98, 0.86, 0.66, 0.45,
];

/// The curve's share of the peak rate at `at`.
pub fn diurnal_factor(at: DateTime<Utc>) -> f64 {
    let hour =
        f64::from(at.hour()) + f64::from(at.minute()) / 60.0 + f64::from(at.second()) / 3_600.0;
    let low = hour.floor() as usize % 24;
    let high = (low + 1) % 24;
    let share = hour - hour.floor();
    DIURNAL[low] * (1.0 - share) + DIURNAL[high] * share
}

/// A pause: nothing is sent from `after` (since the start) for `length`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pause {
    pub after: Duration,
    pub length: Duration,
}

/// The rate at which records fall due.
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    /// Records per second (the peak, with the curve).
    pub rate: f64,
    /// Follow the daily curve.
    pub diurnal: bool,
    pub pause: Option<Pause>,
    /// Wall-clock time of the start (the curve's clock).
    pub started: DateTime<Utc>,
    /// The length of the curve's day in seconds (`None`: a real day of 86,400 s).
    pub day_seconds: Option<f64>,
}

/// Seconds in a real day.
pub const DAY_SECONDS: f64 = 86_400.0;

impl Pace {
    /// Records due between `from` and `to` seconds after the start (fractional).
    pub fn due_between(&self, from: f64, to: f64) -> f64 {
        if to <= from {
            return 0.0;
        }
        let mut active = to - from;
        if let Some(pause) = self.pause {
            let (start, end) = (
                pause.after.as_secs_f64(),
                (pause.after + pause.length).as_secs_f64(),
            );
            active -= (to.min(end) - from.max(start)).max(0.0);
        }
        let factor = if self.diurnal {
            self.factor_at((from + to) / 2.0)
        } else {
            1.0
        };
        self.rate * active * factor
    }

    /// The curve's share of the peak `at` seconds after the start, on the curve's clock
    /// (compressed when the day is shorter than a real one).
    pub fn factor_at(&self, at: f64) -> f64 {
        let speed = self
            .day_seconds
            .filter(|day| day.is_finite() && *day > 0.0)
            .map_or(1.0, |day| DAY_SECONDS / day);
        diurnal_factor(self.started + chrono::Duration::milliseconds((at * speed * 1_000.0) as i64))
    }

    /// Whether `at` seconds after the start is within the pause.
    pub fn paused(&self, at: f64) -> bool {
        self.pause
            .is_some_and(|p| at >= p.after.as_secs_f64() && at < (p.after + p.length).as_secs_f64())
    }
}
