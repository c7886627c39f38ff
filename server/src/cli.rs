//! The command line: `meshmart serve | migrate | seed-demo | reindex | traffic | contract
//! push | user | token`. Every command loads the same settings.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use domain::demo::SeedOutcome;
use domain::identity::IdentityError;
use domain::identity::users::NewUser;
use domain::policy::Role;

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
        /// Also generate this many synthetic products (for benchmarks).
        #[arg(long, value_name = "N")]
        products: Option<usize>,
        /// Also replace the synthetic lineage with about N observed nodes downstream of
        /// `--lineage-around` (for benchmarks of the lineage page).
        #[arg(long, value_name = "N")]
        lineage_nodes: Option<usize>,
        /// The product the synthetic lineage grows from.
        #[arg(long, value_name = "SLUG", default_value = domain::demo::lineage::DEFAULT_ROOT)]
        lineage_around: String,
    },
    /// Rebuild the search index from the database (a server keeps its index in sync by
    /// itself; this is for a stopped server or a fresh index directory).
    Reindex,
    /// Manage users (bootstrapping: the first admin, automation accounts).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Produce demo events to the seed flow's products (Confluent wire format, with the id of
    /// each product's registered schema), until the duration ends or Ctrl-C.
    Traffic {
        /// Products to produce to, by slug (comma-separated).
        #[arg(long, value_delimiter = ',', default_values_t = domain::traffic::KNOWN_PRODUCTS.map(String::from))]
        products: Vec<String>,
        /// Records per second, per product.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        rate: u32,
        /// Stop after this many seconds (default: run until Ctrl-C).
        #[arg(long, value_name = "SECONDS")]
        duration: Option<u64>,
        /// Seed of the value generator, to replay the same events (default: random).
        #[arg(long)]
        seed: Option<u64>,
        /// Share of sign-ups that look risky (a throw-away mailbox, a hosting address).
        #[arg(long, default_value_t = domain::traffic::DEFAULT_RISKY_SHARE, value_parser = share)]
        risky_share: f64,
        /// Follow a daily curve (UTC): `--rate` is the evening peak, the small hours get a
        /// tenth of it.
        #[arg(long)]
        diurnal: bool,
        /// Share of records (0 to 1) that break the contract on purpose.
        #[arg(long, default_value_t = 0.0, value_parser = share)]
        bad_share: f64,
        /// How the broken records break it (comma-separated; default: all of
        /// wrong-type, missing-required, unknown-schema-id, not-wire-format).
        #[arg(long, value_delimiter = ',')]
        bad_kinds: Vec<domain::traffic::BadKind>,
        /// Pause producing this many seconds after the start (with --pause-for).
        #[arg(long, value_name = "SECONDS", requires = "pause_for")]
        pause_after: Option<u64>,
        /// How long the pause lasts.
        #[arg(long, value_name = "SECONDS", requires = "pause_after")]
        pause_for: Option<u64>,
        /// From this many seconds after the start, send every record in a new schema version
        /// (an added field) under a schema id the registry does not have.
        #[arg(long, value_name = "SECONDS")]
        drift_after: Option<u64>,
    },
    /// Data contracts (ODCS v3 YAML).
    Contract {
        #[command(subcommand)]
        command: ContractCommand,
    },
    /// Run stream nodes (processors a contract declares with a nodeKind).
    Node {
        #[command(subcommand)]
        command: NodeCommand,
    },
    /// The sign-up risk model of the customer-enrichment node.
    Model {
        #[command(subcommand)]
        command: ModelCommand,
    },
    /// The fault suite: inject faults into the running stack through real means (stop or
    /// slow a consumer, kill a node, delete an ACL, break the contract, stop the broker)
    /// and measure what the incident detector made of them.
    Chaos(crate::chaos::Options),
}

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Train the model on generated, labelled sign-ups, evaluate it on a held-out split
    /// beside the best single feature, and write the model file.
    Train {
        /// Sign-ups to generate (80 % train, the later 20 % held out).
        #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1_000..=5_000_000))]
        samples: u64,
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Share of risky sign-ups (the labels).
        #[arg(long, default_value = "0.1", value_parser = share)]
        risky_share: f64,
        /// Sign-ups per second of simulated time, for the sliding-window counts.
        #[arg(long, default_value_t = 5.0)]
        per_second: f64,
        /// The model's version, written into every enriched record.
        #[arg(long, default_value = "signup-risk-2")]
        version: String,
        /// Where to write the model.
        #[arg(long, default_value = "models/signup-risk.json")]
        out: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Run one instance of the node until Ctrl-C: a member of the node's consumer group,
    /// writing its output exactly once (Kafka transactions).
    Run {
        /// The node's name (its contract's `processor`).
        name: String,
        /// This instance's number: its transactional id's suffix. Give each live process of
        /// a node its own; a restarted instance with the same number fences its predecessor.
        #[arg(long, default_value_t = 0)]
        instance: u32,
        /// Commit a transaction this often, in milliseconds.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=60_000))]
        transaction_ms: u64,
        /// Commit a transaction when it holds this many records.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        max_batch: u64,
    },
}

/// `meshmart contract …`
#[derive(Debug, Subcommand)]
pub enum ContractCommand {
    /// Validate a contract file and publish it as its product's current contract (the
    /// domain is created if missing: the CLI acts with operator rights).
    Push {
        /// The ODCS YAML file.
        file: PathBuf,
        /// Domain to use when the contract names none.
        #[arg(long)]
        domain: Option<String>,
    },
}

/// `meshmart user …`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password comes from MESHMART_USER_PASSWORD or the first line of
    /// standard input, never from the command line (it would show in `ps`).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Kafka principal (default `User:<local part of the email>`).
        #[arg(long)]
        principal: Option<String>,
        /// Make the user an admin.
        #[arg(long)]
        admin: bool,
        /// Make the user owner of this domain (repeatable).
        #[arg(long = "owner", value_name = "DOMAIN")]
        owner_of: Vec<String>,
    },
}

/// `meshmart token …`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token for a user and print it (shown once).
    Create {
        /// Email of the user the token acts as.
        #[arg(long)]
        user: String,
        /// What the token is for.
        #[arg(long)]
        name: String,
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
        Command::SeedDemo {
            force,
            products,
            lineage_nodes,
            lineage_around,
        } => {
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
            if let Some(count) = products {
                let started = std::time::Instant::now();
                let added = domain::demo::synthetic::generate(&pool, count)
                    .await
                    .context("failed to generate the synthetic catalog")?;
                let seconds = started.elapsed().as_secs_f64();
                println!(
                    "{added} synthetic products in {seconds:.1} s ({:.0} products/s)",
                    added as f64 / seconds.max(0.001)
                );
            }
            if let Some(nodes) = lineage_nodes {
                let started = std::time::Instant::now();
                let report = domain::demo::lineage::generate(&pool, &lineage_around, nodes)
                    .await
                    .map_err(|error| match error {
                        domain::lineage::LineageError::NotFound => {
                            anyhow::anyhow!(
                                "no data product `{lineage_around}` with an output port"
                            )
                        }
                        other => anyhow::Error::new(other)
                            .context("failed to generate the synthetic lineage"),
                    })?;
                println!(
                    "synthetic lineage around {lineage_around} ({}): {} nodes, {} edges, {} cycles, \
                     widest neighbourhood {} in {:.1} s",
                    report.root_topic,
                    report.nodes,
                    report.edges,
                    report.cycles,
                    report.widest,
                    started.elapsed().as_secs_f64()
                );
            }
            Ok(())
        }
        Command::Reindex => reindex(settings).await,
        Command::User {
            command:
                UserCommand::Create {
                    email,
                    name,
                    principal,
                    admin,
                    owner_of,
                },
        } => {
            let password = read_password()?;
            let pool = settings.database.pool();
            let mut tx = pool.begin().await.context("failed to reach the database")?;
            let user = domain::accounts::create_user(
                &mut tx,
                CLI_ACTOR,
                NewUser {
                    email,
                    display_name: name,
                    password,
                    kafka_principal: principal,
                },
            )
            .await
            .map_err(user_error)?;
            let mut roles: Vec<Role> = owner_of.into_iter().map(Role::Owner).collect();
            if admin {
                roles.push(Role::Admin);
            }
            for role in &roles {
                domain::accounts::grant_role(&mut tx, CLI_ACTOR, user.id, role)
                    .await
                    .map_err(user_error)?;
            }
            tx.commit().await.context("failed to save the user")?;
            let roles: Vec<String> = std::iter::once("analyst".to_string())
                .chain(roles.iter().map(ToString::to_string))
                .collect();
            println!(
                "created {} ({}), roles: {}",
                user.email,
                user.kafka_principal,
                roles.join(", ")
            );
            Ok(())
        }
        Command::Token {
            command: TokenCommand::Create { user, name },
        } => {
            let pool = settings.database.pool();
            let user = domain::identity::users::find_by_email(&pool, &user)
                .await
                .context("failed to reach the database")?
                .filter(|user| !user.disabled)
                .ok_or_else(|| anyhow::anyhow!("no enabled user with email {user}"))?;
            let mut tx = pool.begin().await.context("failed to reach the database")?;
            let created = domain::accounts::create_token(&mut tx, &user, &name)
                .await
                .map_err(user_error)?;
            tx.commit().await.context("failed to save the token")?;
            // The token alone on stdout, so scripts can capture it.
            println!("{}", created.token);
            eprintln!(
                "token {} for {} created; it is not shown again",
                created.info.prefix, user.email
            );
            Ok(())
        }
        Command::Contract {
            command: ContractCommand::Push { file, domain },
        } => push_contract(settings, &file, domain.as_deref()).await,
        Command::Traffic {
            products,
            rate,
            duration,
            seed,
            risky_share,
            diurnal,
            bad_share,
            bad_kinds,
            pause_after,
            pause_for,
            drift_after,
        } => {
            use std::time::Duration;
            let plan = domain::traffic::Plan {
                rate,
                duration: duration.map(Duration::from_secs),
                diurnal,
                pause: pause_after
                    .zip(pause_for)
                    .map(|(after, length)| domain::traffic::Pause {
                        after: Duration::from_secs(after),
                        length: Duration::from_secs(length),
                    }),
            };
            let faults = domain::traffic::Faults {
                bad_share,
                bad_kinds,
                drift_after: drift_after.map(Duration::from_secs),
            };
            traffic(settings, &products, plan, &faults, seed, risky_share).await
        }
        Command::Node {
            command:
                NodeCommand::Run {
                    name,
                    instance,
                    transaction_ms,
                    max_batch,
                },
        } => {
            let options = crate::node::Options {
                instance,
                transaction_every: std::time::Duration::from_millis(transaction_ms),
                max_batch: max_batch as usize,
            };
            crate::node::run(settings, &name, options).await
        }
        Command::Chaos(options) => crate::chaos::run(settings, options).await,
        Command::Model {
            command:
                ModelCommand::Train {
                    samples,
                    seed,
                    risky_share,
                    per_second,
                    version,
                    out,
                },
        } => {
            anyhow::ensure!(
                per_second.is_finite() && per_second > 0.0,
                UsageError(format!("--per-second {per_second} is not a positive rate"))
            );
            let options = crate::model::TrainOptions {
                samples: samples as usize,
                seed,
                risky_share,
                per_second,
                version,
            };
            tokio::task::spawn_blocking(move || crate::model::train(&options, &out)).await?
        }
    }
}

/// A command the user must change (an unknown product, say): `main` prints it as one line
/// and exits with code 2, like a bad setting.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

fn share(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(share) if (0.0..=1.0).contains(&share) => Ok(share),
        _ => Err(format!("`{text}` is not a share between 0 and 1")),
    }
}

async fn traffic(
    settings: Settings,
    slugs: &[String],
    plan: domain::traffic::Plan,
    faults: &domain::traffic::Faults,
    seed: Option<u64>,
    risky_share: f64,
) -> anyhow::Result<()> {
    use domain::traffic::{self, Generator, TrafficError};

    let pool = settings.database.pool();
    let mut products = Vec::with_capacity(slugs.len());
    for slug in slugs {
        match traffic::product(&pool, slug).await {
            Ok(product) => products.push(product),
            Err(TrafficError::Database(error)) => {
                return Err(anyhow::Error::new(error).context("failed to reach the database"));
            }
            Err(refused) => return Err(UsageError(refused.to_string()).into()),
        }
    }
    let broker = settings.kafka.broker_config();
    // A record for a missing topic would wait in the queue until its timeout: say it now.
    let admin = domain::broker::BrokerAdmin::new(&broker).context("failed to reach the broker")?;
    for product in &products {
        if !admin
            .topic_exists(&product.topic, std::time::Duration::from_secs(10))
            .await
            .context("failed to reach the broker")?
        {
            return Err(UsageError(format!(
                "product `{}` has no topic `{}` on the broker yet (`meshmart serve` creates it)",
                product.slug, product.topic
            ))
            .into());
        }
    }
    let lanes = producer_lanes(&pool, &broker, products).await?;
    let seed = seed.unwrap_or_else(traffic::generate::Rng::os_seed);
    let mut generator = Generator::new(seed, risky_share);
    eprintln!(
        "producing {} records/s to each of {} (seed {seed}); Ctrl-C stops",
        plan.rate,
        slugs.join(", ")
    );
    let stop = async {
        // Without a signal handler there is no Ctrl-C to wait for; the duration still ends.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let summary = traffic::run(&lanes, &mut generator, plan, faults, stop).await;
    println!("{summary}");
    Ok(())
}

/// One producer per domain principal, each product with its domain's. The credential is
/// derived as `meshmart serve` set it on the broker (`domain::producers`); a product whose
/// grant is revoked, or whose principal's credential is still waiting in the outbox, is
/// refused. Without SASL there are no principals to produce as, so Meshmart's own
/// connection is used.
async fn producer_lanes(
    pool: &sqlx::PgPool,
    broker: &domain::broker::BrokerConfig,
    products: Vec<domain::traffic::Product>,
) -> anyhow::Result<Vec<domain::traffic::Lane>> {
    use std::collections::HashMap;

    if !broker.authenticates() {
        eprintln!("the broker takes no SASL credentials: producing as Meshmart's own connection");
        let producer = broker
            .producer("meshmart-traffic")
            .context("failed to create the producer")?;
        return Ok(products
            .into_iter()
            .map(|p| (p, producer.clone()))
            .collect());
    }
    let mut domains = Vec::new();
    for product in &products {
        let Some(principal) = &product.producer else {
            return Err(UsageError(format!(
                "product `{}` has no producer grant (an owner revoked it on the domain page)",
                product.slug
            ))
            .into());
        };
        if !domains.contains(&principal.domain) {
            domains.push(principal.domain.clone());
        }
    }
    // A credential created or rotated moments ago is set by the server's outbox worker.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let waiting = domain::producers::pending_syncs(pool, &domains)
            .await
            .context("failed to reach the database")?;
        if waiting.is_empty() {
            break;
        }
        if std::time::Instant::now() >= deadline {
            return Err(UsageError(format!(
                "the producer credentials of {} are not on the broker yet; is `meshmart serve` running?",
                waiting.join(", ")
            ))
            .into());
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let mut producers: HashMap<String, domain::traffic::Producer> = HashMap::new();
    let mut lanes = Vec::with_capacity(products.len());
    for product in products {
        let Some(principal) = product.producer.clone() else {
            continue;
        };
        let producer = match producers.get(&principal.principal) {
            Some(producer) => producer.clone(),
            None => {
                let password = broker.derived_password(&domain::producers::password_label(
                    principal.username(),
                    principal.generation,
                ));
                let producer = broker
                    .producer_as(
                        &format!("meshmart-traffic-{}", principal.domain),
                        principal.username(),
                        &password,
                    )
                    .context("failed to create the producer")?;
                eprintln!("{}: producing as {}", product.slug, principal.principal);
                producers.insert(principal.principal.clone(), producer.clone());
                producer
            }
        };
        lanes.push((product, producer));
    }
    Ok(lanes)
}

async fn reindex(settings: Settings) -> anyhow::Result<()> {
    let dir = settings.search.index_dir.clone();
    let index = crate::startup::open_search_index(&dir)
        .await
        .map_err(|error| {
            if error.chain().any(|cause| {
                matches!(
                    cause.downcast_ref::<domain::search::SearchError>(),
                    Some(domain::search::SearchError::Busy(_))
                )
            }) {
                anyhow::anyhow!(
                    "the search index in {} is open in a running server, which keeps it in sync by \
                 itself; to rebuild it anyway, stop that server first (or delete the folder: \
                 a server rebuilds a missing index at start-up)",
                    dir.display()
                )
            } else {
                error
            }
        })?;
    let pool = settings.database.pool();
    let report = domain::search::feed::rebuild(&index, &pool)
        .await
        .context("failed to rebuild the search index")?;
    println!(
        "indexed {} products in {:.1} s into {}",
        report.updated,
        report.elapsed.as_secs_f64(),
        dir.display()
    );
    Ok(())
}

async fn push_contract(
    settings: Settings,
    file: &std::path::Path,
    domain: Option<&str>,
) -> anyhow::Result<()> {
    use domain::catalog::{RegisterOptions, Registration};

    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let contract = match domain::contracts::import(&text) {
        Ok(contract) => contract,
        Err(error) => {
            let problems: Vec<String> = error.problems().iter().map(|p| format!("  {p}")).collect();
            anyhow::bail!("{}: {error}\n{}", file.display(), problems.join("\n"));
        }
    };
    let pool = settings.database.pool();
    let mut tx = pool.begin().await.context("failed to reach the database")?;
    let options = RegisterOptions {
        expected_slug: None,
        fallback_domain: domain,
        may_create_domain: true,
    };
    let outcome = domain::catalog::register(&mut tx, CLI_ACTOR, &contract, &options)
        .await
        .map_err(|error| match error {
            domain::catalog::CatalogError::Database(error) => {
                anyhow::Error::new(error).context("database error")
            }
            other => anyhow::anyhow!("{}: {other}", file.display()),
        })?;
    tx.commit().await.context("failed to save the contract")?;
    let verb = match outcome {
        Registration::Created => "registered",
        Registration::Updated => "published",
        Registration::Unchanged => "unchanged:",
    };
    println!(
        "{verb} {} {} ({} port(s))",
        contract.slug,
        contract.version,
        contract.ports.len()
    );
    Ok(())
}

/// How the CLI appears in the audit log.
const CLI_ACTOR: &domain::audit::Actor = &domain::audit::Actor::Cli;

fn read_password() -> anyhow::Result<String> {
    if let Ok(password) = std::env::var("MESHMART_USER_PASSWORD") {
        return Ok(password);
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("failed to read the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        anyhow::bail!("no password: set MESHMART_USER_PASSWORD or pipe it on standard input");
    }
    Ok(password)
}

fn user_error(error: IdentityError) -> anyhow::Error {
    match error {
        IdentityError::Database(error) => anyhow::Error::new(error).context("database error"),
        other => anyhow::anyhow!("{other}"),
    }
}
