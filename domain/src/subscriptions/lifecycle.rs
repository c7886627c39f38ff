//! The rules of a subscription's life, as one pure function: which [`Action`] may happen
//! in which [`Stage`], and where it leads. The store asks it before every change it
//! writes, so the rules are here once, tested as a table, and not spread over SQL
//! `where` clauses.

use std::fmt;

use chrono::{DateTime, Utc};

use super::{State, SubscriptionError};

/// Something that happens to a subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// An owner of the product's domain, an admin or an auto-approval rule approves the
    /// request.
    Approve,
    /// An owner of the product's domain or an admin rejects the request.
    Reject,
    /// The requester withdraws or gives it up, an owner or admin takes it away, or the
    /// principal's account is disabled.
    Revoke,
    /// Its end date passed.
    Expire,
    /// The provisioner tried to bring the principal's broker ACLs in line and failed.
    ProvisioningFailed,
    /// The provisioner put the subscription's ACLs on the broker.
    Provisioned,
    /// The broker was found to hold none of the ended subscription's access.
    AccessRemoved,
}

impl Action {
    /// Every action, in the order of a subscription's life.
    pub const ALL: [Action; 7] = [
        Action::Approve,
        Action::Reject,
        Action::Revoke,
        Action::Expire,
        Action::ProvisioningFailed,
        Action::Provisioned,
        Action::AccessRemoved,
    ];
}

/// Where a subscription is in its life: its state and, once it is revoked or expired,
/// whether its access is still being removed from the broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Stage {
    pub state: State,
    /// Ended, but its ACLs are not yet confirmed gone from the broker.
    pub removing_access: bool,
}

impl Stage {
    /// The stage of a subscription in `state` whose access was confirmed removed at
    /// `access_removed_at` (if ever).
    pub fn of(state: State, access_removed_at: Option<DateTime<Utc>>) -> Stage {
        Stage {
            state,
            removing_access: matches!(state, State::Revoked | State::Expired)
                && access_removed_at.is_none(),
        }
    }

    /// Where `action` leads from here, or why it cannot happen here.
    pub fn after(self, action: Action) -> Result<Stage, NotAllowed> {
        use State::*;
        let to = |state| Stage {
            state,
            removing_access: false,
        };
        // An ended subscription whose access had been granted keeps it until the broker
        // confirms it is gone; a request never approved had none.
        let ended = |state| Stage {
            state,
            removing_access: self.state.grants_access(),
        };
        let next = match (action, self.state) {
            (Action::Approve, Pending) => to(Approved),
            (Action::Reject, Pending) => to(Rejected),
            (Action::Revoke, from) if from.is_live() => ended(Revoked),
            (Action::Expire, from) if from.is_live() => ended(Expired),
            (Action::ProvisioningFailed, Approved | Provisioning) => to(Provisioning),
            (Action::Provisioned, Approved | Provisioning) => to(Active),
            // Removal is retried until the broker agrees; its failures are recorded too.
            (Action::ProvisioningFailed, Revoked | Expired) if self.removing_access => self,
            (Action::AccessRemoved, Revoked | Expired) if self.removing_access => Stage {
                removing_access: false,
                ..self
            },
            _ => {
                return Err(NotAllowed {
                    action,
                    state: self.state,
                });
            }
        };
        Ok(next)
    }
}

/// An action that cannot happen to a subscription in this state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotAllowed {
    pub action: Action,
    pub state: State,
}

impl fmt::Display for NotAllowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.as_str();
        match self.action {
            Action::Approve | Action::Reject => write!(
                f,
                "this request is {state}; only pending requests can be decided"
            ),
            Action::Revoke | Action::Expire => write!(f, "this subscription is already {state}"),
            Action::ProvisioningFailed | Action::Provisioned => {
                write!(f, "a {state} subscription has no access to provision")
            }
            Action::AccessRemoved => {
                write!(f, "a {state} subscription has no access being removed")
            }
        }
    }
}

impl std::error::Error for NotAllowed {}

impl From<NotAllowed> for SubscriptionError {
    fn from(refused: NotAllowed) -> Self {
        SubscriptionError::Conflict(refused.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;

    fn at(state: State) -> Stage {
        Stage {
            state,
            removing_access: false,
        }
    }

    fn removing(state: State) -> Stage {
        Stage {
            state,
            removing_access: true,
        }
    }

    /// Every stage a subscription can be in.
    fn stages() -> Vec<Stage> {
        let mut all: Vec<Stage> = State::ALL.into_iter().map(at).collect();
        all.extend([removing(State::Revoked), removing(State::Expired)]);
        all
    }

    #[test]
    fn every_stage_and_action_leads_where_the_table_says() {
        use State::*;
        const COLUMNS: [Action; 7] = [
            Approve,
            Reject,
            Revoke,
            Expire,
            ProvisioningFailed,
            Provisioned,
            AccessRemoved,
        ];
        assert_eq!(COLUMNS, Action::ALL);
        let no = None;
        #[rustfmt::skip]
        let table: [(Stage, [Option<Stage>; 7]); 9] = [
            //                    approve             reject              revoke                   expire                   provisioning failed      provisioned       access removed
            (at(Pending),       [Some(at(Approved)),  Some(at(Rejected)),  Some(at(Revoked)),        Some(at(Expired)),        no,                       no,                no]),
            (at(Approved),      [no,                  no,                  Some(removing(Revoked)),  Some(removing(Expired)),  Some(at(Provisioning)),   Some(at(Active)),  no]),
            (at(Provisioning),  [no,                  no,                  Some(removing(Revoked)),  Some(removing(Expired)),  Some(at(Provisioning)),   Some(at(Active)),  no]),
            (at(Active),        [no,                  no,                  Some(removing(Revoked)),  Some(removing(Expired)),  no,                       no,                no]),
            (at(Rejected),      [no,                  no,                  no,                       no,                       no,                       no,                no]),
            (removing(Revoked), [no,                  no,                  no,                       no,                       Some(removing(Revoked)),  no,                Some(at(Revoked))]),
            (at(Revoked),       [no,                  no,                  no,                       no,                       no,                       no,                no]),
            (removing(Expired), [no,                  no,                  no,                       no,                       Some(removing(Expired)),  no,                Some(at(Expired))]),
            (at(Expired),       [no,                  no,                  no,                       no,                       no,                       no,                no]),
        ];
        assert_eq!(table.len(), stages().len());
        for stage in stages() {
            assert!(
                table.iter().any(|(from, _)| *from == stage),
                "{stage:?} has a row"
            );
        }
        for (from, row) in table {
            for (action, expected) in COLUMNS.into_iter().zip(row) {
                let got = from.after(action);
                assert_eq!(got.ok(), expected, "{from:?} after {action:?}: {got:?}");
                if let Err(refused) = got {
                    assert_eq!(
                        refused,
                        NotAllowed {
                            action,
                            state: from.state
                        }
                    );
                }
            }
        }
    }

    #[test]
    fn refusals_say_why_in_the_words_the_api_returns() {
        let message = |stage: Stage, action| {
            SubscriptionError::from(stage.after(action).expect_err("not allowed")).to_string()
        };
        assert_eq!(
            message(at(State::Active), Approve),
            "this request is active; only pending requests can be decided"
        );
        assert_eq!(
            message(at(State::Rejected), Reject),
            "this request is rejected; only pending requests can be decided"
        );
        assert_eq!(
            message(at(State::Rejected), Revoke),
            "this subscription is already rejected"
        );
        assert_eq!(
            message(removing(State::Expired), Revoke),
            "this subscription is already expired"
        );
        assert!(matches!(
            SubscriptionError::from(at(State::Pending).after(Provisioned).expect_err("refused")),
            SubscriptionError::Conflict(_)
        ));
    }

    #[test]
    fn an_ended_subscription_never_grants_access_again() {
        for from in stages() {
            for action in Action::ALL {
                let Ok(next) = from.after(action) else {
                    continue;
                };
                if !from.state.is_live() {
                    assert_eq!(next.state, from.state, "{from:?} after {action:?}");
                    assert!(!next.removing_access || from.removing_access);
                }
                assert!(
                    !next.removing_access || matches!(next.state, State::Revoked | State::Expired),
                    "{from:?} after {action:?} gives {next:?}"
                );
            }
        }
    }

    #[test]
    fn the_stage_of_a_stored_row() {
        let removed = Some(Utc::now());
        assert_eq!(Stage::of(State::Revoked, None), removing(State::Revoked));
        assert_eq!(Stage::of(State::Revoked, removed), at(State::Revoked));
        assert_eq!(Stage::of(State::Expired, None), removing(State::Expired));
        assert_eq!(Stage::of(State::Expired, removed), at(State::Expired));
        // Only an ended subscription has access to remove; a rejected one never had any.
        assert_eq!(Stage::of(State::Rejected, None), at(State::Rejected));
        assert_eq!(Stage::of(State::Active, None), at(State::Active));
    }
}
