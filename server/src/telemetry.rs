//! Logging and tracing: one `tracing` subscriber for the process, filtered by `RUST_LOG`
//! (default `info`), pretty for development or JSON lines for production.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::configuration::LogFormat;

/// Installs the global subscriber; a second call (tests) keeps the first.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,librdkafka=warn,rdkafka=warn,rust_sugiyama=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal());
    let _ = match format {
        LogFormat::Pretty => builder.with_target(false).compact().try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
