//! State changes counted by the state entered and their cause, for the status and the metrics
//! (`keepalived_transitions_total{state,cause}`). The cause is read from the engine's report:
//! the state left, and whether a higher-priority advert came just before.

use keepalived_config::model::ThinVec;
use keepalived_vrrp::instance::{Event, State};

/// Why an instance entered `to` from `from`; `higher_priority`: the engine reported a
/// higher-priority advert since the last change.
pub fn cause(from: State, to: State, higher_priority: bool) -> &'static str {
    match (from, to) {
        (_, State::Initialize) => "stop",
        (_, State::Fault) => "fault",
        (State::Initialize, State::Master) => "address_owner",
        (_, State::Master) => "master_down",
        (State::Initialize, State::Backup) => "start",
        (State::Fault, State::Backup) => "recovered",
        (State::Master, State::Backup) if higher_priority => "higher_priority",
        // A master leaves for BACKUP only on a higher-priority advert or a drain.
        (State::Master, State::Backup) => "drain",
        (State::Backup, State::Backup) => "start",
    }
}

/// The counts of one instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transitions {
    state: Option<State>,
    higher_priority: bool,
    /// `(state number, cause, count)`, sorted by state and cause: a handful at most, so a
    /// one-pointer vector searched in order (an instance that never changes state allocates
    /// nothing).
    counts: ThinVec<(u8, &'static str, u64)>,
}

/// A state as a sortable number (the exporter's numbering: 0 init, 1 backup, 2 master, 3 fault).
fn number(state: State) -> u8 {
    match state {
        State::Initialize => 0,
        State::Backup => 1,
        State::Master => 2,
        State::Fault => 3,
    }
}

impl Transitions {
    /// Notes an event the engine reported.
    pub fn observe(&mut self, event: &Event) {
        if matches!(event, Event::HigherPriorityReceived { .. }) {
            self.higher_priority = true;
        }
    }

    /// Counts the change into `to`.
    pub fn entered(&mut self, to: State) {
        let from = self.state.unwrap_or(State::Initialize);
        let why = cause(from, to, self.higher_priority);
        let key = (number(to), why);
        match self.counts.binary_search_by(|(s, c, _)| (*s, *c).cmp(&key)) {
            Ok(at) => self.counts[at].2 += 1,
            Err(at) => self.counts.insert(at, (key.0, key.1, 1)),
        }
        self.state = Some(to);
        self.higher_priority = false;
    }

    /// `(state number, cause, count)`, sorted.
    pub fn counts(&self) -> impl Iterator<Item = (u8, &'static str, u64)> + '_ {
        self.counts.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn causes_follow_the_state_left_and_the_adverts() {
        let mut t = Transitions::default();
        t.entered(State::Backup);
        t.entered(State::Master);
        t.observe(&Event::HigherPriorityReceived {
            from: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 20)),
            priority: 200,
            ours: 100,
        });
        t.entered(State::Backup);
        t.entered(State::Master);
        t.entered(State::Backup);
        t.entered(State::Fault);
        t.entered(State::Backup);
        t.entered(State::Initialize);
        let counts: Vec<_> = t.counts().collect();
        assert_eq!(
            counts,
            vec![
                (0, "stop", 1),
                (1, "drain", 1),
                (1, "higher_priority", 1),
                (1, "recovered", 1),
                (1, "start", 1),
                (2, "master_down", 2),
                (3, "fault", 1),
            ]
        );
        assert_eq!(
            cause(State::Initialize, State::Master, false),
            "address_owner"
        );
    }
}
