//! Undoing the faults still pending: now, or whatever is left at the end of a scenario.

use super::Stack;
use super::inject::{Undo, Undos};

impl Stack {
    /// Undoes whatever is still pending; says what it did.
    pub(super) async fn undo_all(&self) -> Vec<String> {
        let mut notes = Vec::new();
        for undo in self.undos.drain() {
            match self.undo(&undo).await {
                Ok(()) => notes.push(format!("undone at the end: {}", undo.describe())),
                Err(error) => {
                    notes.push(format!("COULD NOT UNDO ({}): {error:#}", undo.describe()))
                }
            }
        }
        notes
    }

    pub(super) async fn undo(&self, undo: &Undo) -> anyhow::Result<()> {
        match undo {
            Undo::StopChild(pid) => {
                self.stop_child(*pid).await;
                Ok(())
            }
            other => self.admin.undo(other).await,
        }
    }

    /// Runs `undo` now and forgets it.
    pub(super) async fn undo_now(&self, undo: &Undo) -> anyhow::Result<()> {
        self.undo(undo).await?;
        self.undos.done(undo);
        Ok(())
    }
}

impl Undos {
    /// Takes the pending undos that `pick` selects, newest first.
    pub(super) fn drain_kind(&self, pick: impl Fn(&Undo) -> bool) -> Vec<Undo> {
        let all = self.drain();
        let (picked, kept): (Vec<Undo>, Vec<Undo>) = all.into_iter().partition(|u| pick(u));
        for undo in kept.into_iter().rev() {
            self.push(undo);
        }
        picked
    }
}
