//! The command line: `meshmart serve | migrate | seed-demo`. Every command loads the same
//! settings; later issues add `reindex`, `contract push`, `user` and `token` here.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use domain::demo::SeedOutcome;

use crate::configuration::Settings;
use crate::startup::Application;

/// Meshmart, the self-serve data-product marketplace.
#[derive(Debug, Parser)]
#[command(name = "meshmart", version, about)]
pub struct Cli {
    /// A TOML settings file (default: `meshmart.toml` in the working directory, if present).
    #[arg(long, global = true, env = "MESHMART_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web app, the APIs and the operations endpoints.
    Serve {
        /// Apply pending database migrations before serving.
        #[arg(long)]
        migrate: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Load the demo data set (for demos only) unless it was loaded before.
    SeedDemo {
        /// Load it again even if it was loaded before.
        #[arg(long)]
        force: bool,
    },
}

/// Runs one command to completion.
pub async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve { migrate } => {
            let application = Application::build(settings).await?;
            if migrate {
                domain::db::migrate(application.pool())
                    .await
                    .context("failed to apply database migrations")?;
            }
            application.run_until_stopped().await
        }
        Command::Migrate => {
            let pool = settings.database.pool();
            domain::db::migrate(&pool)
                .await
                .context("failed to apply database migrations")?;
            println!("migrations applied");
            Ok(())
        }
        Command::SeedDemo { force } => {
            let pool = settings.database.pool();
            match domain::demo::seed(&pool, force)
                .await
                .context("failed to load the demo data")?
            {
                SeedOutcome::Loaded => println!("demo data loaded"),
                SeedOutcome::AlreadyPresent => {
                    println!("demo data already present (use --force to load it again)")
                }
            }
            Ok(())
        }
    }
}
