//! The incident detector's home in the server ([`domain::incidents::detect`]): a round every
//! 5 seconds (idempotent: one open incident per channel and signal, so every server
//! process may run it) on a thread of its own, with a single-threaded runtime and a database pool of
//! its own (`application_name = meshmart-detector`), so that what modelling costs is
//! measured apart from the rest of the server. After each round it adds the thread's CPU
//! time, and that of the PostgreSQL backends serving its pool (when PostgreSQL runs on this
//! machine and `/proc` shows them), to `meshmart_detector_cpu_seconds{part="detector"}` and
//! `{part="postgres"}`, and sets `meshmart_detector_models` to the signal models it
//! evaluates. `meshmart chaos` reads them to print the detection cost.

use std::collections::HashMap;
use std::time::Duration;

use domain::broker::{BrokerAdmin, BrokerConfig};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

/// The application name of the detector's database connections.
const APPLICATION: &str = "meshmart-detector";

/// Starts the detector's thread; it stops when the returned task is aborted (or dropped
/// with the server's runtime).
pub fn spawn(
    pool: &PgPool,
    admin: BrokerAdmin,
    broker: BrokerConfig,
) -> tokio::task::JoinHandle<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let options = pool
        .connect_options()
        .as_ref()
        .clone()
        .application_name(APPLICATION);
    let started = std::thread::Builder::new()
        .name("meshmart-detector".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    tracing::error!(%error, "the incident detector's runtime did not start");
                    return;
                }
            };
            runtime.block_on(async move {
                let pool = PgPoolOptions::new()
                    .max_connections(2)
                    .idle_timeout(None)
                    .connect_lazy_with(options);
                tokio::select! {
                    _ = stopped => {}
                    () = rounds(pool, admin, broker) => {}
                }
            });
        });
    if let Err(error) = started {
        tracing::error!(%error, "the incident detector's thread did not start");
    }
    tokio::spawn(async move {
        // Aborting this task drops `stop`, which ends the detector's thread.
        let _stop = stop;
        std::future::pending::<()>().await;
    })
}

async fn rounds(pool: PgPool, admin: BrokerAdmin, broker: BrokerConfig) {
    let mut detector = domain::incidents::detect::Detector::default();
    let mut cost = Cost::default();
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let started = std::time::Instant::now();
        match detector
            .round(&pool, &admin, &broker, chrono::Utc::now())
            .await
        {
            Ok(report) => {
                metrics::histogram!("meshmart_detector_round_seconds")
                    .record(started.elapsed().as_secs_f64());
                if report.trained > 0 {
                    metrics::histogram!("meshmart_detector_training_seconds")
                        .record(report.training_seconds);
                    tracing::debug!(trained = report.trained, "signal models retrained");
                }
            }
            Err(error) => tracing::warn!(%error, "incident detector round failed"),
        }
        metrics::gauge!("meshmart_detector_models").set(detector.models() as f64);
        cost.measure(&pool).await;
    }
}

/// CPU seconds the detector has used: its thread's, and its PostgreSQL backends'.
#[derive(Default)]
struct Cost {
    /// Each backend's CPU seconds when last read.
    backends: HashMap<i32, f64>,
    postgres: f64,
}

impl Cost {
    async fn measure(&mut self, pool: &PgPool) {
        if let Some(seconds) = cpu_seconds("/proc/thread-self/stat") {
            metrics::gauge!("meshmart_detector_cpu_seconds", "part" => "detector").set(seconds);
        }
        let pids: Vec<i32> = sqlx::query_scalar!(
            r#"select pid as "pid!" from pg_stat_activity where application_name = $1"#,
            APPLICATION,
        )
        .fetch_all(pool)
        .await
        .unwrap_or_default();
        for pid in pids {
            let Some(now) = cpu_seconds(&format!("/proc/{pid}/stat")) else {
                continue;
            };
            let before = self.backends.insert(pid, now).unwrap_or(now);
            self.postgres += (now - before).max(0.0);
        }
        metrics::gauge!("meshmart_detector_cpu_seconds", "part" => "postgres").set(self.postgres);
    }
}

/// User and system CPU seconds of the thread or process whose `stat` file is `path`.
fn cpu_seconds(path: &str) -> Option<f64> {
    parse_stat(&std::fs::read_to_string(path).ok()?)
}

/// Clock ticks per second of `/proc` times (Linux's USER_HZ).
const TICKS_PER_SECOND: f64 = 100.0;

/// utime + stime (fields 14 and 15) of a `/proc/…/stat` line, in seconds. The command
/// name (field 2) may hold spaces and parentheses, so fields are counted after its last `)`.
fn parse_stat(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let user: f64 = fields.next()?.parse().ok()?;
    let system: f64 = fields.next()?.parse().ok()?;
    Some((user + system) / TICKS_PER_SECOND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_times_are_read_after_the_command_name() {
        let stat = "4242 (tokio (w) 1) S 1 4242 4242 0 -1 4194560 500 0 0 0 250 50 0 0 20 0 9 0";
        assert_eq!(parse_stat(stat), Some(3.0));
        assert_eq!(parse_stat("garbage"), None);
        assert!(cpu_seconds("/proc/thread-self/stat").is_some());
    }
}
