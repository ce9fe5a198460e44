//! vrrp_sync_group: the decisions that make the members of a group move together, as
//! keepalived 2.2.7 does (observed by running it; docs/compat.md, "Sync groups"). Pure: the
//! driver hands in what the members are doing and carries out the answer.
//!
//! - FAULT: one member that must be in FAULT takes every member there ([`group_fault`]);
//!   they leave it together once no member's own tracking says FAULT.
//! - BACKUP: a member that enters BACKUP (at start, on a higher-priority advert, out of
//!   FAULT) takes the group there ([`SyncGroup::member_entered`]).
//! - MASTER: a member whose Master_Down_Timer fires becomes master only when every other
//!   member is master or has timed out too ([`may_become_master`]); then the group follows it.

use crate::event::{FaultCause, State};

/// What the group needs to know of one member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// Its state.
    pub state: State,
    /// In BACKUP, its Master_Down_Timer fired since it last heard a master.
    pub wants_master: bool,
}

/// One sync group's own state: the state it last synced its members to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroup {
    state: Option<State>,
}

impl SyncGroup {
    /// A group whose members are in `state` (`None` before any member started).
    pub fn new(state: Option<State>) -> SyncGroup {
        SyncGroup { state }
    }

    /// The state the group is in (`Initialize`: stopped); `None` before any member started.
    pub fn state(&self) -> Option<State> {
        self.state
    }

    /// A member entered `state`. When that moves the group, the group's new state is
    /// returned: the driver then runs the group's notify commands and, for BACKUP, MASTER and
    /// FAULT, logs `VRRP_Group(NAME) Syncing instances to STATE state` and moves the other
    /// members. A member that stops (`Initialize`) stops the group once.
    pub fn member_entered(&mut self, state: State) -> Option<State> {
        if self.state == Some(state) {
            return None;
        }
        self.state = Some(state);
        Some(state)
    }
}

/// Whether a member whose Master_Down_Timer fired may become master now: the group is
/// already master, or every `other` member is master or has timed out as well. Otherwise it
/// waits (keepalived 2.2.7 re-arms its timer so it does not time out again before the others).
pub fn may_become_master(group: Option<State>, others: impl IntoIterator<Item = Member>) -> bool {
    group == Some(State::Master)
        || others
            .into_iter()
            .all(|m| m.state == State::Master || (m.state == State::Backup && m.wants_master))
}

/// The FAULT of a member of a group: its own, or, when any `other` member's own tracking says
/// FAULT, the group's ([`FaultCause::Group`]).
pub fn group_fault(
    own: Option<FaultCause>,
    others: impl IntoIterator<Item = Option<FaultCause>>,
) -> Option<FaultCause> {
    own.or_else(|| {
        others
            .into_iter()
            .any(|f| f.is_some())
            .then_some(FaultCause::Group)
    })
}

/// The states a group logs as syncing its members to (keepalived 2.2.7 logs no line when
/// it stops).
pub fn logs_sync(state: State) -> bool {
    matches!(state, State::Backup | State::Master | State::Fault)
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn member(state: State, wants_master: bool) -> Member {
        Member {
            state,
            wants_master,
        }
    }

    #[test]
    fn the_group_follows_the_first_member_into_a_state_once() {
        let mut group = SyncGroup::new(None);
        assert_eq!(group.member_entered(State::Backup), Some(State::Backup));
        assert_eq!(group.member_entered(State::Backup), None, "the followers");
        assert_eq!(group.member_entered(State::Master), Some(State::Master));
        assert_eq!(group.member_entered(State::Master), None);
        assert_eq!(group.member_entered(State::Fault), Some(State::Fault));
        assert_eq!(group.member_entered(State::Backup), Some(State::Backup));
        assert_eq!(
            group.member_entered(State::Initialize),
            Some(State::Initialize)
        );
        assert_eq!(group.member_entered(State::Initialize), None, "one STOP");
        assert!(logs_sync(State::Fault) && !logs_sync(State::Initialize));
    }

    #[test]
    fn keepalived_becomes_master_only_when_every_member_timed_out() {
        let waiting = member(State::Backup, false);
        let timed_out = member(State::Backup, true);
        assert!(!may_become_master(Some(State::Backup), [waiting]));
        assert!(may_become_master(Some(State::Backup), [timed_out]));
        assert!(may_become_master(
            Some(State::Backup),
            [timed_out, member(State::Master, false)]
        ));
        assert!(!may_become_master(
            Some(State::Backup),
            [timed_out, waiting]
        ));
        assert!(!may_become_master(
            Some(State::Backup),
            [member(State::Fault, false)]
        ));
        assert!(
            may_become_master(Some(State::Master), [waiting]),
            "a group already master takes a member that times out"
        );
        assert!(may_become_master(None, []), "a group of one");
    }

    #[test]
    fn one_member_in_fault_holds_every_member_in_fault() {
        assert_eq!(group_fault(None, [None, None]), None);
        assert_eq!(
            group_fault(None, [None, Some(FaultCause::LinkDown)]),
            Some(FaultCause::Group)
        );
        assert_eq!(
            group_fault(Some(FaultCause::LinkDown), [Some(FaultCause::Script)]),
            Some(FaultCause::LinkDown),
            "its own cause wins"
        );
    }
}
