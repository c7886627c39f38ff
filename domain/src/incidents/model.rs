//! Each signal's learned normal: a band of expected values for the steps ahead, fitted on
//! the signal's own history with `augurs` — an AutoETS model (level, trend and noise) on
//! the 10-second points, or, once two days of minutes are kept, MSTL (daily seasonality)
//! with an AutoETS trend — at a 99 % prediction interval. Bands are stored in
//! `signal_models` and retrained on a schedule, so a restarted detector keeps its models.
//!
//! Every band is at least as wide as the smallest change worth an incident for its signal
//! ([`floor`]): a Poisson count's noise for rates, 10 points of invalid share, and so on;
//! a model fitted on a flat series otherwise expects nothing else ever.

use augurs_core::{Fit, Predict};
use augurs_ets::AutoETS;
use augurs_ets::trend::AutoETSTrendModel;
use augurs_mstl::MSTLModel;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgPool;

use super::Signal;
use super::signals::Point;
use crate::db::Timestamp;

/// The prediction interval of every band.
pub const LEVEL: f64 = 0.99;
/// Points a model needs before it is trusted (5 minutes of 10-second steps).
pub const MIN_POINTS: usize = 30;
/// Points of history a model is fitted on at most (2 hours of 10-second steps).
pub const MAX_POINTS: usize = 720;
/// Steps a band covers ahead (10 minutes); models are retrained well before it runs out.
pub const HORIZON: usize = 60;
/// Minutes in a day: the seasonal period of minute series.
pub const DAY_MINUTES: usize = 1440;

/// Expected values of a signal from `start`, one per step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Band {
    /// `ets` or `mstl`.
    pub method: String,
    pub start: DateTime<Utc>,
    pub step_seconds: i64,
    pub mean: Vec<f64>,
    pub lower: Vec<f64>,
    pub upper: Vec<f64>,
}

impl Band {
    /// The expected (lower, upper) at `at`, if the band covers it; the steps just before
    /// its start (since it was trained, as long as it covers ahead) expect its first.
    pub fn at(&self, at: DateTime<Utc>) -> Option<(f64, f64)> {
        let index = self.index(at)?;
        Some((*self.lower.get(index)?, *self.upper.get(index)?))
    }

    /// The expected value at `at`, if the band covers it.
    pub fn mean_at(&self, at: DateTime<Utc>) -> Option<f64> {
        self.mean.get(self.index(at)?).copied()
    }

    /// The step of the band `at` falls in (its first for the steps just before it).
    fn index(&self, at: DateTime<Utc>) -> Option<usize> {
        let step = self.step_seconds.max(1);
        let offset = (at - self.start).num_seconds();
        if offset < -step * self.lower.len() as i64 {
            return None;
        }
        usize::try_from(offset.max(0) / step).ok()
    }

    /// Whether the band still covers `at`.
    pub fn covers(&self, at: DateTime<Utc>) -> bool {
        self.at(at).is_some()
    }

    /// (time, lower, upper) for charts.
    pub fn points(&self) -> Vec<(DateTime<Utc>, f64, f64)> {
        self.lower
            .iter()
            .zip(&self.upper)
            .enumerate()
            .map(|(i, (&lower, &upper))| {
                (
                    self.start + Duration::seconds(self.step_seconds * i as i64),
                    lower,
                    upper,
                )
            })
            .collect()
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    pub fn from_json(value: &Value) -> Option<Band> {
        serde_json::from_value(value.clone()).ok()
    }
}

/// The smallest distance from the expected value worth an incident, for a signal whose
/// expected value is `mean` (per-second rates over 10-second steps).
pub fn floor(signal: Signal, mean: f64, step_seconds: i64) -> f64 {
    let step = step_seconds.max(1) as f64;
    match signal {
        // Three standard deviations of a Poisson count over a step, as a rate; at least
        // half the rate, so a slow producer is not alarming for its jitter.
        Signal::RateIn => {
            let mean = mean.max(0.0);
            (3.0 * (mean * step).sqrt() / step).max(0.5 * mean).max(0.2)
        }
        // A node's rate is measured over its 2-second heartbeat: far noisier.
        Signal::NodeRate => {
            let mean = mean.max(0.0);
            (3.0 * (mean * 2.0).sqrt() / 2.0).max(0.5 * mean).max(0.2)
        }
        Signal::InvalidRatio => 0.1,
        Signal::LagSeconds => (0.5 * mean.abs()).max(2.0),
        Signal::PartitionShare => 0.25,
        Signal::Freshness | Signal::NodeErrors | Signal::BrokerReachable | Signal::AclDrift => 0.5,
    }
}

/// Fits a band for `signal` on the points of `history` (oldest first, one per step),
/// starting the step after the last point. `None` with too little history.
pub fn train(signal: Signal, history: &[Point], step_seconds: i64) -> Option<Band> {
    let history = &history[history.len().saturating_sub(MAX_POINTS)..];
    if history.len() < MIN_POINTS {
        return None;
    }
    let values: Vec<f64> = history.iter().map(|(_, v)| *v).collect();
    let start = history.last()?.0 + Duration::seconds(step_seconds);
    let (mean, lower, upper, method) = match ets(&values, HORIZON) {
        Some((mean, lower, upper)) => (mean, lower, upper, "ets"),
        // A constant series (a stream that never had an invalid record) has no noise to
        // fit: its level is the band's centre.
        None => {
            let level = values.iter().sum::<f64>() / values.len() as f64;
            (
                vec![level; HORIZON],
                vec![level; HORIZON],
                vec![level; HORIZON],
                "level",
            )
        }
    };
    Some(widened(
        signal,
        method,
        start,
        step_seconds,
        mean,
        lower,
        upper,
    ))
}

/// Fits a daily-seasonal band on minute points (at least two days of them), for the
/// `HORIZON` minutes after the last: MSTL with an AutoETS trend.
pub fn train_seasonal(signal: Signal, minutes: &[Point]) -> Option<Band> {
    if minutes.len() < 2 * DAY_MINUTES {
        return None;
    }
    let minutes = &minutes[minutes.len().saturating_sub(7 * DAY_MINUTES)..];
    let values: Vec<f64> = minutes.iter().map(|(_, v)| *v).collect();
    let trend = AutoETSTrendModel::from(AutoETS::non_seasonal());
    let fitted = MSTLModel::new(vec![DAY_MINUTES], trend).fit(&values).ok()?;
    let forecast = fitted.predict(HORIZON, LEVEL).ok()?;
    let intervals = forecast.intervals?;
    let start = minutes.last()?.0 + Duration::minutes(1);
    Some(widened(
        signal,
        "mstl",
        start,
        60,
        forecast.point,
        intervals.lower,
        intervals.upper,
    ))
}

/// An AutoETS forecast with its interval, or `None` when no model fits.
fn ets(values: &[f64], horizon: usize) -> Option<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    let spread = values.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        - values.iter().copied().fold(f64::INFINITY, f64::min);
    if !spread.is_finite() || spread < 1e-9 {
        return None;
    }
    let fitted = AutoETS::non_seasonal().fit(values).ok()?;
    let forecast = fitted.predict(horizon, LEVEL).ok()?;
    let intervals = forecast.intervals?;
    let finite = |v: &[f64]| v.iter().all(|x| x.is_finite());
    (finite(&forecast.point) && finite(&intervals.lower) && finite(&intervals.upper)).then_some((
        forecast.point,
        intervals.lower,
        intervals.upper,
    ))
}

fn widened(
    signal: Signal,
    method: &str,
    start: DateTime<Utc>,
    step_seconds: i64,
    mean: Vec<f64>,
    lower: Vec<f64>,
    upper: Vec<f64>,
) -> Band {
    let (lower, upper) = mean
        .iter()
        .zip(lower.iter().zip(&upper))
        .map(|(&m, (&l, &u))| {
            let f = floor(signal, m, 10);
            (l.min(m - f).max(0.0), u.max(m + f))
        })
        .unzip();
    Band {
        method: method.to_owned(),
        start,
        step_seconds,
        mean,
        lower,
        upper,
    }
}

/// A trend forecast of `values` (one per step) for `horizon` steps: AutoETS with an
/// additive (possibly damped) trend. For lag, whose growth is the point.
pub fn trend_forecast(values: &[f64], horizon: usize) -> Option<Vec<f64>> {
    if values.len() < 6 {
        return None;
    }
    let model = AutoETS::new(1, "AAN").ok()?;
    let fitted = model.fit(values).ok()?;
    let forecast = fitted.predict(horizon, None).ok()?;
    forecast
        .point
        .iter()
        .all(|v| v.is_finite())
        .then_some(forecast.point)
}

/// Stores a channel's band for a signal.
pub async fn save(
    pool: &PgPool,
    channel: &str,
    signal: Signal,
    band: &Band,
    points: usize,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into signal_models (channel, signal, trained_at, points, step_seconds, band)
         values ($1, $2, now(), $3, $4, $5)
         on conflict (channel, signal) do update set trained_at = now(),
             points = excluded.points, step_seconds = excluded.step_seconds,
             band = excluded.band",
        channel,
        signal.as_str(),
        i32::try_from(points).unwrap_or(i32::MAX),
        band.step_seconds as i32,
        band.to_json(),
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Every stored band, with when it was trained.
pub async fn load_all(
    pool: &PgPool,
) -> Result<Vec<(String, Signal, DateTime<Utc>, Band)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select channel, signal, trained_at as "trained_at: Timestamp", band
           from signal_models"#,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let (channel, signal, at, band) = (row.channel, row.signal, row.trained_at, row.band);
            Some((
                channel,
                Signal::parse(&signal)?,
                at,
                Band::from_json(&band)?,
            ))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(values: impl IntoIterator<Item = f64>) -> Vec<Point> {
        let start = DateTime::parse_from_rfc3339("2026-12-05T00:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        values
            .into_iter()
            .enumerate()
            .map(|(i, v)| (start + Duration::seconds(10 * i as i64), v))
            .collect()
    }

    /// A deterministic, noisy rate around `level` (records/s).
    fn noisy(level: f64, n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| level + ((i * 7919) % 13) as f64 / 13.0 - 0.5)
            .collect()
    }

    #[test]
    fn a_stopped_producer_falls_out_of_its_band_and_normal_noise_does_not() {
        let history = series(noisy(5.0, 200));
        let band = train(Signal::RateIn, &history, 10).expect("enough history");
        let next = band.start;
        let (lower, upper) = band.at(next).expect("covered");
        assert!(lower > 0.0, "a stop (rate 0) is outside: {lower}");
        for value in noisy(5.0, 20) {
            assert!(
                value >= lower && value <= upper,
                "{value} in {lower}..{upper}"
            );
        }
    }

    #[test]
    fn a_flat_clean_stream_still_tolerates_one_stray_invalid_record() {
        let history = series(std::iter::repeat_n(0.0, 100));
        let band = train(Signal::InvalidRatio, &history, 10).expect("enough history");
        let (_, upper) = band.at(band.start).expect("covered");
        // One invalid record among 20 in a step is 5 %: not an incident; 30 % is.
        assert!((0.05..0.3).contains(&upper), "upper {upper}");
    }

    #[test]
    fn too_little_history_learns_nothing() {
        assert!(train(Signal::RateIn, &series(noisy(5.0, 10)), 10).is_none());
    }

    #[test]
    fn growing_lag_is_forecast_to_keep_growing() {
        let lag: Vec<f64> = (0..30).map(|i| f64::from(i) * 2.0).collect();
        let forecast = trend_forecast(&lag, 12).expect("fits");
        assert!(forecast[11] > 60.0, "{forecast:?}");
    }

    #[test]
    fn a_band_answers_only_for_the_steps_it_covers() {
        let band = train(Signal::RateIn, &series(noisy(5.0, 100)), 10).expect("fits");
        assert!(band.covers(band.start));
        assert!(band.covers(band.start - Duration::seconds(10)));
        assert!(!band.covers(band.start - Duration::seconds(10 * HORIZON as i64 + 10)));
        assert!(!band.covers(band.start + Duration::seconds(10 * HORIZON as i64)));
    }
}
