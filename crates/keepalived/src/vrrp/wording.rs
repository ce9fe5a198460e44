//! keepalived's wording of what the VRRP engine reports, in one place. Every line about an
//! instance starts with `VRRP_Instance(NAME)`, the 1.x form that contains 2.x's `(NAME)`, so
//! scrapers of either version match it (docs/compat.md, log lines).

use keepalived_vrrp::instance::{DropReason, Event, FaultCause, State};

/// One log line: `detail` lines are written only with `-D` (log-detail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Shown only with `-D`.
    pub detail: bool,
    /// The text.
    pub text: String,
}

/// How a line about instance `name` starts.
pub fn instance(name: &str) -> String {
    format!("VRRP_Instance({name})")
}

/// A line about instance `name`.
pub fn about(name: &str, text: &str) -> String {
    format!("{} {text}", instance(name))
}

/// How a line about script `name` starts.
pub fn script(name: &str) -> String {
    format!("VRRP_Script({name})")
}

/// The state as the dumps and the generic notify word it.
pub fn state_word(state: State) -> &'static str {
    match state {
        State::Initialize => "INIT",
        State::Backup => "BACKUP",
        State::Master => "MASTER",
        State::Fault => "FAULT",
    }
}

/// How keepalived 2.2.7 names a sync group in its log: `VRRP_Group(G1)`.
pub fn group(name: &str) -> String {
    format!("VRRP_Group({name})")
}

/// `VRRP_Group(G1) Syncing instances to MASTER state`, as keepalived 2.2.7 logs a group
/// moving its members.
pub fn group_syncing(name: &str, state: State) -> String {
    format!(
        "{} Syncing instances to {} state",
        group(name),
        state_word(state)
    )
}

/// The lines `event` of instance `name` (on `interface`) is logged as, in order; none for
/// events keepalived does not log.
pub fn lines(name: &str, interface: &str, event: &Event) -> Vec<Line> {
    let info = |text: String| Line {
        detail: false,
        text,
    };
    let detail = |text: String| Line { detail: true, text };
    let about = |text: &str| about(name, text);
    match event {
        Event::PriorityChanged { from, to } => vec![info(about(&format!(
            "Changing effective priority from {from} to {to}"
        )))],
        Event::TransitionToMaster => vec![info(about("Transition to MASTER STATE"))],
        Event::Entering(State::Initialize) => Vec::new(),
        Event::Entering(state) => vec![info(about(&format!(
            "Entering {} STATE",
            state_word(*state)
        )))],
        // keepalived 2.2.7, starting on a down link: `(VI_1): entering FAULT state (interface
        // eth0 down)` then `(VI_1) entering FAULT state`.
        // 2.2.7 starts an instance that tracks a weight-0 script once the script's first
        // result is in; when that result is a failure it sits in FAULT without a word
        // (observed, crates/keepalived/tests/script_lookup.rs).
        Event::StartedInFault(FaultCause::Script) => Vec::new(),
        Event::StartedInFault(cause) => {
            let mut lines = Vec::new();
            if *cause == FaultCause::LinkDown {
                lines.push(info(format!(
                    "{}: entering FAULT state (interface {interface} down)",
                    instance(name)
                )));
            }
            // keepalived 2.2.7, an IPv6 instance whose interface has no link-local address:
            // `(VI_1) entering FAULT state (no IPv6 address for interface)` (observed).
            // The same for IPv4 (a VIP equal to the interface's only address, observed).
            let family = match cause {
                FaultCause::NoIpv6Address => Some("IPv6"),
                FaultCause::NoIpv4Address => Some("IPv4"),
                _ => None,
            };
            if let Some(family) = family {
                lines.push(info(about(&format!(
                    "entering FAULT state (no {family} address for interface)"
                ))));
            }
            lines.push(info(about("entering FAULT state")));
            lines
        }
        Event::NowInFault => vec![info(about("Now in FAULT state"))],
        Event::HigherPriorityReceived { .. } => vec![info(about("Received higher prio advert"))],
        Event::PriorityZeroSent => vec![info(about("sent 0 priority"))],
        Event::LowerPriorityReceived {
            from,
            priority,
            ours,
            answered,
        } => vec![info(about(&format!(
            "Received advert from {from} with lower priority {priority}, ours {ours}{}",
            if *answered {
                ", forcing new election"
            } else {
                ""
            }
        )))],
        Event::ReceiveTimeout => vec![info(about("Receive advertisement timeout"))],
        Event::SettingAddresses => vec![detail(about("setting protocol VIPs."))],
        Event::RemovingAddresses => vec![detail(about("removing protocol VIPs."))],
        Event::AddressMismatch { from, addresses } => {
            let theirs: Vec<String> = addresses.iter().map(ToString::to_string).collect();
            vec![info(about(&format!(
                "received an advert from {from} with a different set of addresses: {}",
                theirs.join(" ")
            )))]
        }
        // keepalived 2.2.7 with check_unicast_src (observed).
        Event::Dropped {
            from,
            reason: DropReason::NotPeer,
            ..
        } => vec![info(about(&format!(
            "unicast source address {from} not a unicast peer"
        )))],
        Event::Dropped {
            from,
            reason,
            count,
        } => vec![info(about(&format!(
            "dropped an advert from {from}: {} ({count} so far)",
            reason.as_str()
        )))],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn texts(event: Event) -> Vec<String> {
        lines("VI_1", "eth0", &event)
            .into_iter()
            .map(|l| l.text)
            .collect()
    }

    #[test]
    fn state_changes_read_as_keepalived_writes_them() {
        assert_eq!(
            texts(Event::Entering(State::Master)),
            vec!["VRRP_Instance(VI_1) Entering MASTER STATE"]
        );
        assert_eq!(
            texts(Event::Entering(State::Backup)),
            vec!["VRRP_Instance(VI_1) Entering BACKUP STATE"]
        );
        assert_eq!(
            texts(Event::TransitionToMaster),
            vec!["VRRP_Instance(VI_1) Transition to MASTER STATE"]
        );
        assert_eq!(
            texts(Event::PriorityChanged { from: 100, to: 80 }),
            vec!["VRRP_Instance(VI_1) Changing effective priority from 100 to 80"]
        );
        assert!(texts(Event::Entering(State::Initialize)).is_empty());
    }

    #[test]
    fn start_in_fault_contains_keepalived_2_2_7_lines() {
        let lines = texts(Event::StartedInFault(FaultCause::LinkDown));
        assert!(lines[0].contains("(VI_1): entering FAULT state (interface eth0 down)"));
        assert!(lines[1].contains("(VI_1) entering FAULT state"));
        assert_eq!(texts(Event::StartedInFault(FaultCause::Tracked)).len(), 1);
        assert!(texts(Event::StartedInFault(FaultCause::Script)).is_empty());
    }

    #[test]
    fn vip_lines_are_detail_only() {
        let l = lines("VI_1", "eth0", &Event::SettingAddresses);
        assert!(l[0].detail);
        assert_eq!(l[0].text, "VRRP_Instance(VI_1) setting protocol VIPs.");
        let drop = Event::Dropped {
            from: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9)),
            reason: DropReason::Password,
            count: 3,
        };
        assert_eq!(
            texts(drop),
            vec!["VRRP_Instance(VI_1) dropped an advert from 192.0.2.9: invalid passwd (3 so far)"]
        );
    }
}
