//! Entry point of the `meshmart` binary: parse the command line, load and validate the
//! settings (one clear line and exit code 2 when they are wrong), start telemetry, and run
//! the chosen command.

use std::process::ExitCode;

use clap::Parser;
use server::cli::{Cli, UsageError, run};
use server::configuration::Settings;

/// mimalloc, which also stands in for the C allocator (the crate's `override` feature), so
/// librdkafka's per-record allocations use it too. The record checker allocates and frees a
/// few small blocks per record on threads other than the one that allocated them; under
/// glibc's allocator those frees queued on arena locks.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("meshmart: {error}");
            return ExitCode::from(2);
        }
    };
    server::telemetry::init(settings.log.format);

    // A search runs on the worker that took its request (`SearchIndex::search_async`), so
    // beside one worker per core there is one per search turn: with every turn taken,
    // other requests still find a free worker.
    let workers = domain::search::cores() + domain::search::turns();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("meshmart: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.downcast_ref::<UsageError>().is_some() => {
            eprintln!("meshmart: {error}");
            ExitCode::from(2)
        }
        Err(error) => {
            tracing::error!(
                error = format!("{error:#}"),
                "meshmart stopped with an error"
            );
            eprintln!("meshmart: {error:#}");
            ExitCode::FAILURE
        }
    }
}
