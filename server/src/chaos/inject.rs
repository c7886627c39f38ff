//! The faults themselves, through the means an operator or an accident would use: the
//! broker's admin API (a topic's `max.message.bytes`, an ACL), stopping the broker's
//! process, SIGKILL for a node's process. Every injection has an [`Undo`], which the suite
//! keeps until it has run, so a fault is undone on every path (Ctrl-C and errors included).

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use domain::broker::BrokerConfig;
use domain::broker::acl::{
    AclBinding, AclFilter, Operation, PatternType, Permission, ResourceType,
};
use rdkafka::admin::{AdminClient, AdminOptions, AlterConfig, ConfigSource, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;

/// The `max.message.bytes` that makes a topic refuse the node's writes: below any batch
/// of its records (a 61-byte batch header, then a key, a payload of a few hundred bytes and
/// the `meshmart.*` headers), above a transaction marker (a 78-byte control batch). With
/// less, the broker refuses the coordinator's abort markers too (`RecordTooLarge` is not
/// retried), which leaves the node's transactional id stuck until the broker restarts.
pub const UNWRITABLE_MAX_MESSAGE_BYTES: &str = "128";

/// What puts a fault right.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Undo {
    /// Set a topic's dynamic configuration back to exactly these entries.
    TopicConfig {
        topic: String,
        entries: Vec<(String, String)>,
    },
    /// Create an ACL again (idempotent).
    Acl(AclBinding),
    /// Start the broker again with this shell command.
    StartBroker(String),
    /// Delete the harness's own consumer group (so no stopped group lingers under a
    /// subscription's prefix).
    DeleteGroup(String),
    /// Stop the node process the harness started (SIGTERM, then SIGKILL).
    StopChild(u32),
}

impl Undo {
    /// What it does, for the report.
    pub fn describe(&self) -> String {
        match self {
            Undo::TopicConfig { topic, .. } => format!("{topic}'s configuration restored"),
            Undo::Acl(binding) => format!(
                "{} {:?} on {} created again",
                binding.principal, binding.operation, binding.resource_name
            ),
            Undo::StartBroker(_) => "broker started".to_string(),
            Undo::DeleteGroup(group) => format!("group {group} deleted"),
            Undo::StopChild(pid) => format!("node process {pid} stopped"),
        }
    }
}

/// The undos not yet done, newest last.
#[derive(Debug, Default)]
pub struct Undos(Mutex<Vec<Undo>>);

impl Undos {
    pub fn push(&self, undo: Undo) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(undo);
    }

    /// Forgets `undo` (it ran); whether it was pending.
    pub fn done(&self, undo: &Undo) -> bool {
        let mut pending = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let before = pending.len();
        pending.retain(|u| u != undo);
        pending.len() != before
    }

    /// Takes every pending undo, newest first.
    pub fn drain(&self) -> Vec<Undo> {
        let mut pending = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<Undo> = pending.drain(..).collect();
        all.reverse();
        all
    }
}

/// The broker's admin API as Meshmart's principal, for what `BrokerAdmin` has no call for
/// (topic configurations, consumer groups).
pub struct Admin {
    client: AdminClient<DefaultClientContext>,
    broker: domain::broker::BrokerAdmin,
}

fn options() -> AdminOptions {
    AdminOptions::new()
        .operation_timeout(Some(Duration::from_secs(10)))
        .request_timeout(Some(Duration::from_secs(10)))
}

impl Admin {
    pub fn new(config: &BrokerConfig) -> anyhow::Result<Self> {
        let client = config
            .producer_config("meshmart-chaos-admin")
            .create()
            .context("failed to create the broker admin client")?;
        let broker = domain::broker::BrokerAdmin::new(config)
            .context("failed to create the broker admin")?;
        Ok(Self { client, broker })
    }

    pub fn broker(&self) -> &domain::broker::BrokerAdmin {
        &self.broker
    }

    /// The topic's dynamic (per-topic) configuration entries.
    pub async fn topic_config(&self, topic: &str) -> anyhow::Result<Vec<(String, String)>> {
        let resources = self
            .client
            .describe_configs([&ResourceSpecifier::Topic(topic)], &options())
            .await
            .with_context(|| format!("failed to describe {topic}'s configuration"))?;
        let resource = resources
            .into_iter()
            .next()
            .context("the broker described no configuration")?
            .map_err(|code| anyhow::anyhow!("describing {topic}'s configuration: {code}"))?;
        Ok(resource
            .entries
            .into_iter()
            .filter(|e| e.source == ConfigSource::DynamicTopic)
            .filter_map(|e| e.value.map(|v| (e.name, v)))
            .collect())
    }

    /// Replaces the topic's dynamic configuration with `entries` (AlterConfigs sets the
    /// whole set: whatever is not named returns to the broker's default).
    pub async fn set_topic_config(
        &self,
        topic: &str,
        entries: &[(String, String)],
    ) -> anyhow::Result<()> {
        let mut alter = AlterConfig::new(ResourceSpecifier::Topic(topic));
        for (name, value) in entries {
            alter = alter.set(name, value);
        }
        let results = self
            .client
            .alter_configs([&alter], &options())
            .await
            .with_context(|| format!("failed to alter {topic}'s configuration"))?;
        for result in results {
            result
                .map_err(|(_, code)| anyhow::anyhow!("altering {topic}'s configuration: {code}"))?;
        }
        Ok(())
    }

    /// Makes `topic` refuse every write (`max.message.bytes` of one byte); returns the undo.
    pub async fn make_unwritable(&self, topic: &str) -> anyhow::Result<Undo> {
        let entries = self.topic_config(topic).await?;
        let mut broken: Vec<(String, String)> = entries
            .iter()
            .filter(|(name, _)| name != "max.message.bytes")
            .cloned()
            .collect();
        broken.push((
            "max.message.bytes".to_string(),
            UNWRITABLE_MAX_MESSAGE_BYTES.to_string(),
        ));
        let undo = Undo::TopicConfig {
            topic: topic.to_string(),
            entries,
        };
        self.set_topic_config(topic, &broken).await?;
        Ok(undo)
    }

    /// Deletes `principal`'s READ on `topic`; returns the ACL deleted (`None`: the broker held
    /// no such ACL).
    pub async fn delete_read_acl(
        &self,
        principal: &str,
        topic: &str,
    ) -> anyhow::Result<Option<AclBinding>> {
        let binding = read_acl(principal, topic);
        let deleted = self
            .broker
            .delete_acls(vec![AclFilter::exact(&binding)])
            .await
            .with_context(|| format!("failed to delete {principal}'s READ on {topic}"))?;
        Ok(deleted.into_iter().next())
    }

    /// Whether the broker holds `binding`.
    pub async fn has_acl(&self, binding: &AclBinding) -> anyhow::Result<bool> {
        Ok(!self
            .broker
            .describe_acls(AclFilter::exact(binding))
            .await
            .context("failed to describe ACLs")?
            .is_empty())
    }

    /// Deletes a consumer group (it must have no members); a missing group is fine.
    pub async fn delete_group(&self, group: &str) -> anyhow::Result<()> {
        let results = self
            .client
            .delete_groups(&[group], &options())
            .await
            .with_context(|| format!("failed to delete group {group}"))?;
        for result in results {
            match result {
                Ok(_) | Err((_, rdkafka::types::RDKafkaErrorCode::GroupIdNotFound)) => {}
                Err((_, code)) => anyhow::bail!("deleting group {group}: {code}"),
            }
        }
        Ok(())
    }

    /// Whether the broker answers within `timeout`.
    pub async fn reachable(&self, timeout: Duration) -> bool {
        self.broker.check(timeout).await.is_ok()
    }

    /// Carries out `undo`.
    pub async fn undo(&self, undo: &Undo) -> anyhow::Result<()> {
        match undo {
            Undo::TopicConfig { topic, entries } => self.set_topic_config(topic, entries).await,
            Undo::Acl(binding) => self
                .broker
                .create_acls(vec![binding.clone()])
                .await
                .context("failed to create the ACL again"),
            Undo::StartBroker(command) => shell(command).await,
            Undo::DeleteGroup(group) => {
                // Its consumer may take a moment to leave.
                let mut last = Ok(());
                for _ in 0..10 {
                    last = self.delete_group(group).await;
                    if last.is_ok() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                last
            }
            Undo::StopChild(pid) => {
                stop_process(*pid).await;
                Ok(())
            }
        }
    }
}

/// The READ ACL a subscription grants `principal` on `topic`.
pub fn read_acl(principal: &str, topic: &str) -> AclBinding {
    AclBinding {
        resource_type: ResourceType::Topic,
        resource_name: topic.to_string(),
        pattern_type: PatternType::Literal,
        principal: principal.to_string(),
        host: "*".to_string(),
        operation: Operation::Read,
        permission: Permission::Allow,
    }
}

/// Runs `command` with `sh -c`, failing on a non-zero exit.
pub async fn shell(command: &str) -> anyhow::Result<()> {
    let text = command.to_string();
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(&text)
            .stdout(std::process::Stdio::null())
            .status()
    })
    .await
    .context("the command was cancelled")?
    .with_context(|| format!("cannot run `{command}`"))?;
    anyhow::ensure!(status.success(), "`{command}` failed ({status})");
    Ok(())
}

/// Sends `signal` (`-9`, `-TERM`, `-0`) to `pid` with kill(1); whether it was delivered.
pub async fn signal(pid: u32, signal: &str) -> bool {
    let signal = signal.to_string();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new("kill")
            .arg(&signal)
            .arg(pid.to_string())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
    .await
    .unwrap_or(false)
}

/// Whether `pid` on this host is a `meshmart node run <node>` process (so a recycled pid
/// of something else is never killed).
pub fn is_node_process(pid: u32, node: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| runs_node(&cmdline, node))
}

/// Whether a NUL-separated command line (`/proc/<pid>/cmdline`) runs `node run <node>`.
fn runs_node(cmdline: &[u8], node: &str) -> bool {
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    args.windows(3)
        .any(|w| w[0] == b"node" && w[1] == b"run" && w[2] == node.as_bytes())
}

/// SIGTERM, then SIGKILL after 15 s if it is still there.
pub async fn stop_process(pid: u32) {
    if !signal(pid, "-TERM").await {
        return;
    }
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if !signal(pid, "-0").await {
            return;
        }
    }
    signal(pid, "-KILL").await;
}

/// This host's name as node processes report it (`node_instances.host`).
pub fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|name| name.trim().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// The commands that stop and start the local broker of `make run` or the test stack
/// (`scripts/kafka.sh` of the checkout at `root`), from its port (`None`: not a broker a
/// checkout runs).
pub fn local_broker_commands(bootstrap: &str, root: &std::path::Path) -> Option<(String, String)> {
    let (profile, port, controller) = match bootstrap.trim() {
        "127.0.0.1:19092" | "localhost:19092" => ("run", 19092, 19093),
        "127.0.0.1:19192" | "localhost:19192" => ("test", 19192, 19193),
        _ => return None,
    };
    let script = root.join("scripts/kafka.sh");
    if !script.exists() {
        return None;
    }
    let root = root.display();
    let env = format!(
        "KAFKA_DATA={root}/.data/{profile}/kafka KAFKA_PORT={port} KAFKA_CONTROLLER_PORT={controller}"
    );
    let script = script.display();
    Some((
        format!("{env} {script} stop"),
        format!("{env} {script} start"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undos_run_newest_first_and_once() {
        let undos = Undos::default();
        let acl = Undo::Acl(read_acl("User:a", "t"));
        let group = Undo::DeleteGroup("g".to_string());
        undos.push(group.clone());
        undos.push(acl.clone());
        assert!(undos.done(&acl));
        assert!(!undos.done(&acl), "already done");
        undos.push(Undo::StopChild(7));
        assert_eq!(undos.drain(), vec![Undo::StopChild(7), group]);
        assert!(undos.drain().is_empty());
    }

    #[test]
    fn only_the_local_stacks_broker_can_be_stopped() {
        let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
        let (stop, start) = local_broker_commands("127.0.0.1:19192", root).expect("the test stack");
        let root = root.display();
        assert_eq!(
            stop,
            format!(
                "KAFKA_DATA={root}/.data/test/kafka KAFKA_PORT=19192 KAFKA_CONTROLLER_PORT=19193 {root}/scripts/kafka.sh stop"
            )
        );
        assert!(start.ends_with("scripts/kafka.sh start"));
        assert!(
            local_broker_commands("127.0.0.1:19092", std::path::Path::new(&root.to_string()))
                .is_some()
        );
        assert_eq!(
            local_broker_commands(
                "kafka1.internal:9092",
                std::path::Path::new(&root.to_string())
            ),
            None
        );
        assert_eq!(
            local_broker_commands("127.0.0.1:19192", std::path::Path::new("/nonexistent")),
            None,
            "no checkout there"
        );
    }

    #[test]
    fn only_a_process_running_that_node_is_recognised() {
        let cmdline = b"/x/meshmart\0node\0run\0customer-enrichment\0--instance\x000\0";
        assert!(runs_node(cmdline, "customer-enrichment"));
        assert!(!runs_node(cmdline, "customer"));
        assert!(!runs_node(b"/x/meshmart\0serve\0", "customer-enrichment"));
        assert!(!runs_node(b"vi\0node\0run\0", "customer-enrichment"));
        assert!(!is_node_process(std::process::id(), "customer-enrichment"));
    }
}
