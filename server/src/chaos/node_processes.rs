//! The node scenarios' processes: the live ones, the harness's own (started, killed,
//! restarted, stopped).

use std::sync::PoisonError;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::inject::{self, Undo};
use super::report::Outcome;
use super::scenario::Scenario;
use super::{Stack, say};

/// A node heartbeat younger than this is a live process.
pub(super) const LIVE_SECONDS: f64 = 10.0;

impl Stack {
    /// Live node processes: (instance, host, pid).
    async fn live_node_processes(&self) -> anyhow::Result<Vec<(i32, String, i32)>> {
        let node = self.node.as_ref().context("no node")?;
        let rows = sqlx::query!(
            r#"select instance, host, pid from node_instances
               where node = $1 and state = 'running'
                 and heartbeat_at > now() - make_interval(secs => $2)
               order by instance"#,
            node.name,
            LIVE_SECONDS,
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| (row.instance, row.host, row.pid))
            .collect())
    }

    /// Makes sure a node process runs: when none is live, starts the harness's own and
    /// waits until it reports itself. Returns the pid of one the harness started.
    pub(super) async fn ensure_node(
        &self,
        scenario: Scenario,
        outcome: &mut Outcome,
    ) -> anyhow::Result<Option<u32>> {
        if !self.live_node_processes().await?.is_empty() {
            return Ok(None);
        }
        let pid = self.spawn_node(false).await?;
        say(
            scenario,
            &format!("no node process was live: started one (pid {pid})"),
        );
        outcome
            .notes
            .push(format!("the harness ran the node itself (pid {pid})"));
        Ok(Some(pid))
    }

    /// Starts `meshmart node run <node>` and waits (up to 90 s) until it reports itself
    /// running. A `detached` one outlives the harness (it replaces a process of the
    /// stack's), with its output in `.data/chaos/`.
    async fn spawn_node(&self, detached: bool) -> anyhow::Result<u32> {
        let node = self.node.as_ref().context("no node")?;
        let exe = std::env::current_exe().context("cannot find the meshmart binary")?;
        let mut command = if detached {
            let mut c = std::process::Command::new("setsid");
            c.arg(&exe);
            c
        } else {
            std::process::Command::new(&exe)
        };
        command
            .args(["node", "run", &node.name, "--instance", "0"])
            .stdin(std::process::Stdio::null());
        if detached {
            std::fs::create_dir_all(".data/chaos").context("cannot create .data/chaos")?;
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(format!(".data/chaos/node-{}.log", node.name))
                .context("cannot open the node's log")?;
            command
                .stdout(log.try_clone().context("cannot open the node's log")?)
                .stderr(log);
        } else {
            command
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
        }
        let child = command.spawn().context("cannot start the node")?;
        let pid = child.id();
        if detached {
            // Not the harness's to stop; setsid execs in place, so the pid is the node's.
            drop(child);
        } else {
            self.children
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(pid, child);
            self.undos.push(Undo::StopChild(pid));
        }
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let live = self.live_node_processes().await?;
            if live.iter().any(|(_, _, p)| *p as u32 == pid) {
                return Ok(pid);
            }
        }
        anyhow::bail!("the node process {pid} did not report itself running within 90 s")
    }

    /// SIGKILLs the node's processes: the harness's own, or the live ones on this host.
    pub(super) async fn kill_node(&self, own: Option<u32>) -> anyhow::Result<Vec<u32>> {
        if let Some(pid) = own {
            let child = self
                .children
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&pid);
            if let Some(mut child) = child {
                let _ = child.kill();
                let _ = tokio::task::spawn_blocking(move || child.wait()).await;
            }
            self.undos.done(&Undo::StopChild(pid));
            return Ok(vec![pid]);
        }
        let node = self.node.as_ref().context("no node")?;
        let host = inject::hostname();
        let mut killed = Vec::new();
        for (_, at, pid) in self.live_node_processes().await? {
            let Ok(pid) = u32::try_from(pid) else {
                continue;
            };
            if at == host
                && inject::is_node_process(pid, &node.name)
                && inject::signal(pid, "-9").await
            {
                killed.push(pid);
            }
        }
        Ok(killed)
    }

    /// After node-crashed: a node the stack restarted itself is left alone; otherwise the
    /// harness starts one (its own again, or a detached one standing in for the stack's).
    pub(super) async fn restart_node(
        &self,
        outcome: &mut Outcome,
        own: bool,
        healed: bool,
    ) -> anyhow::Result<String> {
        if healed {
            return Ok("none needed".to_string());
        }
        let pid = self.spawn_node(!own).await?;
        if !own {
            outcome.notes.push(format!(
                "nothing restarted the node: the harness started pid {pid} (log in .data/chaos/)"
            ));
        }
        Ok(format!("node restarted (pid {pid})"))
    }

    pub(super) async fn stop_child(&self, pid: u32) {
        let child = self
            .children
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&pid);
        let Some(mut child) = child else { return };
        inject::signal(pid, "-TERM").await;
        let _ = tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            let _ = child.kill();
            let _ = child.wait();
        })
        .await;
    }
}
