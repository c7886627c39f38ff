//! Loading the stack the scenarios run against: the checks that it is ready, the harness's
//! producer, and the subscription and node the scenarios use.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use domain::broker::BrokerConfig;
use domain::traffic::TrafficError;
use sqlx::PgPool;
use uuid::Uuid;

use super::inject::{self, Admin, Undos};
use super::scenario::Names;
use super::{NodeInfo, Options, Stack, Subscribed, incidents};
use crate::cli::UsageError;
use crate::configuration::Settings;

impl Stack {
    pub(super) async fn load(settings: Settings, options: Options) -> anyhow::Result<Self> {
        let pool = settings.database.pool();
        anyhow::ensure!(
            incidents::tables_exist(&pool)
                .await
                .context("failed to reach the database")?,
            UsageError(
                "the incidents tables are missing: run `meshmart migrate` (or `serve --migrate`)"
                    .to_string()
            )
        );
        let product = match domain::traffic::product(&pool, &options.product).await {
            Ok(product) => product,
            Err(TrafficError::Database(error)) => {
                return Err(anyhow::Error::new(error).context("failed to reach the database"));
            }
            Err(refused) => return Err(UsageError(refused.to_string()).into()),
        };
        let broker = settings.kafka.broker_config();
        let admin = Admin::new(&broker)?;
        anyhow::ensure!(
            admin
                .broker()
                .topic_exists(&product.topic, Duration::from_secs(10))
                .await
                .context("failed to reach the broker")?,
            UsageError(format!(
                "product `{}` has no topic `{}` on the broker yet (`meshmart serve` creates it)",
                product.slug, product.topic
            ))
        );
        let producer = producer(&pool, &broker, &product).await?;
        let subscription = subscription(&pool, options.subscription).await?;
        if options.subscription.is_some() && subscription.is_none() {
            return Err(UsageError(format!(
                "no active subscription {}",
                options.subscription.unwrap_or_default()
            ))
            .into());
        }
        let node = sqlx::query!(
            "select name, input_topic, output_topic from nodes where name = $1",
            options.node,
        )
        .fetch_optional(&pool)
        .await
        .context("failed to reach the database")?
        .map(|row| (row.name, row.input_topic, row.output_topic));
        let node = node.map(|(name, input_topic, output_topic)| NodeInfo {
            dead_letter_topic: format!("{input_topic}.{name}.dlq"),
            name,
            input_topic,
            output_topic,
        });
        let broker_control = options
            .broker_stop
            .clone()
            .zip(options.broker_start.clone())
            .or_else(|| {
                let root = std::env::current_dir().ok()?;
                inject::local_broker_commands(&broker.bootstrap_servers, &root)
            });
        let names = Names {
            product: product.slug.clone(),
            subscription: subscription.as_ref().map(|s| s.id),
            subscribed_product: subscription.as_ref().map(|s| s.product.clone()),
            node: node.as_ref().map(|n| n.name.clone()),
        };
        let seed = options
            .seed
            .unwrap_or_else(domain::traffic::generate::Rng::os_seed);
        eprintln!(
            "[chaos] producing {} records/s to {} as {}; subscription {}; node {}; broker control {}",
            options.rate,
            product.topic,
            product
                .producer
                .as_ref()
                .map_or("Meshmart's principal", |p| p.principal.as_str()),
            subscription
                .as_ref()
                .map_or("none".to_string(), |s| format!(
                    "{} ({})",
                    s.id, s.principal
                )),
            node.as_ref().map_or("none", |n| n.name.as_str()),
            if broker_control.is_some() {
                "yes"
            } else {
                "none"
            },
        );
        Ok(Self {
            pool,
            broker,
            admin,
            lane: (product, producer),
            names,
            subscription,
            node,
            broker_control,
            options,
            undos: Undos::default(),
            children: Mutex::new(HashMap::new()),
            seed,
        })
    }
}

/// The harness's producer: the product's domain principal (its derived credential, as
/// `meshmart traffic` uses it), idempotent, `acks=all`, and patient: records wait up to
/// five minutes for the broker, so an outage of a minute delays them without failing them.
async fn producer(
    pool: &PgPool,
    broker: &BrokerConfig,
    product: &domain::traffic::Product,
) -> anyhow::Result<domain::traffic::Producer> {
    let mut config = if broker.authenticates() {
        let principal = product.producer.as_ref().ok_or_else(|| {
            UsageError(format!(
                "product `{}` has no producer grant (an owner revoked it on the domain page)",
                product.slug
            ))
        })?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while !domain::producers::pending_syncs(pool, std::slice::from_ref(&principal.domain))
            .await
            .context("failed to reach the database")?
            .is_empty()
        {
            anyhow::ensure!(
                Instant::now() < deadline,
                UsageError(format!(
                    "the producer credential of {} is not on the broker yet; is `meshmart serve` running?",
                    principal.domain
                ))
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let password = broker.derived_password(&domain::producers::password_label(
            principal.username(),
            principal.generation,
        ));
        broker.client_config_as("meshmart-chaos-producer", principal.username(), &password)
    } else {
        broker.producer_config("meshmart-chaos-producer")
    };
    config
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "300000");
    config.create().context("failed to create the producer")
}

/// The subscription the consumer scenarios use: `id`, or the demo's campaign engine's.
async fn subscription(pool: &PgPool, id: Option<Uuid>) -> anyhow::Result<Option<Subscribed>> {
    let row = sqlx::query!(
        r#"select s.id, s.principal, s.consumer_group, p.slug,
                  coalesce(array_agg(sp.topic order by sp.topic)
                           filter (where sp.topic is not null), '{}') as "topics!"
           from subscriptions s
           join products p on p.id = s.product_id
           left join subscription_ports sp on sp.subscription_id = s.id
           where s.state = 'active'
             and (s.id = $1 or ($1 is null and s.principal = 'User:svc-marketing-campaigns'))
           group by s.id, p.slug
           order by s.activated_at nulls last
           limit 1"#,
        id,
    )
    .fetch_optional(pool)
    .await
    .context("failed to reach the database")?
    .map(|row| {
        (
            row.id,
            row.principal,
            row.consumer_group,
            row.slug,
            row.topics,
        )
    });
    Ok(row.filter(|(.., topics)| !topics.is_empty()).map(
        |(id, principal, group_prefix, product, topics)| Subscribed {
            id,
            principal,
            group_prefix,
            product,
            topics,
        },
    ))
}
