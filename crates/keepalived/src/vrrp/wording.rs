//! keepalived's wording of what the VRRP engine reports, in one place. Every line about an
//! instance starts with `VRRP_Instance(NAME)`, the 1.x form that contains 2.x's `(NAME)`, so
//! scrapers of either version match it (docs/compat.md, log lines).

use keepalived_vrrp::instance::{AddressDifference, DropReason, Event, FaultCause, State};

use keepalived_vrrp::packet::Family;

use super::fault_reason::FaultReason;

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

/// The lines of instance `name` starting in FAULT for `reasons`, as keepalived 2.2.7 writes
/// them (observed, crates/keepalived/tests/dynamic_if_lab.rs): one line per reason, then
/// `(VI_1) entering FAULT state`. A unicast source that is not on the host is found later in
/// 2.2.7's start (its socket is bound after the other checks): the bind error, the reason, and
/// `(VI_1) Entering FAULT STATE`.
pub fn start_in_fault(name: &str, reasons: &[FaultReason]) -> Vec<String> {
    let colon = |text: String| format!("{}: entering FAULT state ({text})", instance(name));
    let plain = |text: &str| about(name, &format!("entering FAULT state ({text})"));
    let mut lines = Vec::new();
    let mut source = None;
    for reason in reasons {
        match reason {
            FaultReason::InterfaceDown(interface) => {
                lines.push(colon(format!("interface {interface} down")));
            }
            // keepalived 2.2.7 (observed): `no IPv4 address for interface` (a VIP equal to the
            // interface's only address, an interface without one), `no IPv6 address for
            // interface` (no link-local address; a global one does not count).
            FaultReason::NoAddress(family) => lines.push(plain(match family {
                Family::V4 => "no IPv4 address for interface",
                Family::V6 => "no IPv6 address for interface",
            })),
            FaultReason::File { name: file, status } => {
                lines.push(colon(format!("tracked file {file} has status {status}")));
            }
            FaultReason::Process(process) => {
                lines.push(plain(&format!(
                    "tracked process {process} quorum not achieved"
                )));
            }
            FaultReason::SourceMissing(address) => source = Some(*address),
        }
    }
    match source {
        Some(address) if lines.is_empty() => {
            lines.push(format!(
                "bind unicast_src {address} failed 99 - Cannot assign requested address"
            ));
            lines.push(colon("src address not configured".to_string()));
            lines.push(about(name, "Entering FAULT STATE"));
        }
        _ => lines.push(about(name, "entering FAULT state")),
    }
    lines
}

/// `(VI_1): tracked file tf now FAULT state` / `leaving FAULT state`: keepalived 2.2.7's
/// line when a tracked file starts or stops putting a running instance in FAULT (observed).
pub fn tracked_file_fault(name: &str, file: &str, fault: bool) -> String {
    format!(
        "{}: tracked file {file} {} FAULT state",
        instance(name),
        if fault { "now" } else { "leaving" }
    )
}

/// `Netlink reports eth0 up` / `down`: keepalived 2.2.7's line for a link change of an
/// interface it uses.
pub fn link_state(interface: &str, up: bool) -> String {
    format!(
        "Netlink reports {interface} {}",
        if up { "up" } else { "down" }
    )
}

/// `Interface eth9 added` / `deleted`: keepalived 2.2.7's line when an interface appears or
/// goes away.
pub fn interface_presence(interface: &str, added: bool) -> String {
    format!(
        "Interface {interface} {}",
        if added { "added" } else { "deleted" }
    )
}

/// `Configuration specifies interface eth9 which doesn't currently exist - will use if
/// created`: keepalived 2.2.7 with `dynamic_interfaces`, at start.
pub fn will_use_if_created(interface: &str) -> String {
    format!(
        "Configuration specifies interface {interface} which doesn't currently exist - will use \
         if created"
    )
}

/// `(VI_1) Entering BACKUP STATE (init)`: keepalived 2.2.7's line for an instance's first
/// state when it starts (also one a reload starts; observed), where a later change of state
/// reads `Entering BACKUP STATE`.
pub fn entering_at_start(name: &str, state: State) -> String {
    about(
        name,
        &format!("Entering {} STATE (init)", state_word(state)),
    )
}

/// `Assigned address 192.0.2.1 for interface eth0`: keepalived 2.2.7's line for the address
/// an interface it uses sends from (its first IPv4 address, its IPv6 link-local one), at start,
/// at each reload, and when that address comes (observed).
pub fn assigned_address(address: std::net::IpAddr, interface: &str) -> String {
    format!("Assigned address {address} for interface {interface}")
}

/// `Deassigned address 192.0.2.1 from interface eth0`: keepalived 2.2.7's line when that
/// address goes (observed; other addresses coming and going are not logged).
pub fn deassigned_address(address: std::net::IpAddr, interface: &str) -> String {
    format!("Deassigned address {address} from interface {interface}")
}

/// The lines `event` of instance `name` (virtual router `vrid`) is logged as, in order; none
/// for events keepalived does not log.
pub fn lines(name: &str, vrid: u8, event: &Event) -> Vec<Line> {
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
        // keepalived 2.2.7 starts an instance that tracks a weight-0 script once the script's
        // first result is in; when that result is a failure it sits in FAULT without a word
        // (observed, crates/keepalived/tests/script_lookup.rs).
        Event::StartedInFault(FaultCause::Script) => Vec::new(),
        // Without the reasons (the driver words them with `start_in_fault`).
        Event::StartedInFault(_) => vec![info(about("entering FAULT state"))],
        Event::NowInFault => vec![info(about("Now in FAULT state"))],
        // keepalived 2.2.7 (observed): `(VI_1) Master received advert from 192.0.2.2 with
        // higher priority 100, ours 50`.
        Event::HigherPriorityReceived {
            from,
            priority,
            ours,
        } => vec![info(about(&format!(
            "Master received advert from {from} with higher priority {priority}, ours {ours}"
        )))],
        Event::PriorityZeroSent { synced: false } => vec![info(about("sent 0 priority"))],
        // keepalived 2.2.7 sends the advert but logs nothing when the group moved the master
        // (observed, crates/keepalived/tests/sync_group_lab.rs).
        Event::PriorityZeroSent { synced: true } => Vec::new(),
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
        Event::SettingAddresses => vec![detail(about("setting VIPs."))],
        Event::RemovingAddresses => vec![detail(about("removing VIPs."))],
        // keepalived 2.2.7 (observed): `(VI_1) received an unexpected ip number count 1,
        // expected 2!`, and with as many addresses, the first of ours the advert lacks:
        // `(VI_1) ip address associated with VRID 51 not present in MASTER advert:
        // 192.0.2.101`.
        Event::AddressesDiffer {
            difference: AddressDifference::Count { received, expected },
            ..
        } => vec![info(about(&format!(
            "received an unexpected ip number count {received}, expected {expected}!"
        )))],
        Event::AddressesDiffer {
            difference: AddressDifference::Missing(address),
            ..
        } => vec![info(about(&format!(
            "ip address associated with VRID {vrid} not present in MASTER advert: {address}"
        )))],
        // keepalived 2.2.7 (observed): `(VI_1) received lower priority (150) advert from
        // 192.0.2.11 - discarding`.
        Event::LowerPriorityDiscarded { from, priority } => vec![info(about(&format!(
            "received lower priority ({priority}) advert from {from} - discarding"
        )))],
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
        lines("VI_1", 51, &event)
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
        assert_eq!(
            texts(Event::HigherPriorityReceived {
                from: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)),
                priority: 100,
                ours: 50,
            }),
            vec![
                "VRRP_Instance(VI_1) Master received advert from 192.0.2.2 with higher priority \
                 100, ours 50"
            ]
        );
        assert_eq!(
            entering_at_start("VI_1", State::Backup),
            "VRRP_Instance(VI_1) Entering BACKUP STATE (init)"
        );
    }

    #[test]
    fn dropped_address_lists_and_discarded_adverts_read_as_keepalived_2_2_7() {
        let from = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11));
        assert_eq!(
            texts(Event::AddressesDiffer {
                from,
                difference: AddressDifference::Count {
                    received: 1,
                    expected: 2
                },
            }),
            vec!["VRRP_Instance(VI_1) received an unexpected ip number count 1, expected 2!"]
        );
        assert_eq!(
            texts(Event::AddressesDiffer {
                from,
                difference: AddressDifference::Missing(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 101))),
            }),
            vec![
                "VRRP_Instance(VI_1) ip address associated with VRID 51 not present in MASTER \
                 advert: 192.0.2.101"
            ]
        );
        assert_eq!(
            texts(Event::LowerPriorityDiscarded {
                from,
                priority: 150
            }),
            vec![
                "VRRP_Instance(VI_1) received lower priority (150) advert from 192.0.2.11 - discarding"
            ]
        );
    }

    #[test]
    fn start_in_fault_names_each_reason_as_keepalived_2_2_7() {
        let lines = start_in_fault(
            "VI_1",
            &[
                FaultReason::InterfaceDown("eth9".into()),
                FaultReason::NoAddress(Family::V4),
                FaultReason::File {
                    name: "tf".into(),
                    status: -254,
                },
                FaultReason::Process("p".into()),
            ],
        );
        assert_eq!(
            lines,
            vec![
                "VRRP_Instance(VI_1): entering FAULT state (interface eth9 down)",
                "VRRP_Instance(VI_1) entering FAULT state (no IPv4 address for interface)",
                "VRRP_Instance(VI_1): entering FAULT state (tracked file tf has status -254)",
                "VRRP_Instance(VI_1) entering FAULT state (tracked process p quorum not achieved)",
                "VRRP_Instance(VI_1) entering FAULT state",
            ]
        );
        let lines = start_in_fault(
            "VI_2",
            &[FaultReason::SourceMissing(std::net::Ipv4Addr::new(
                192, 0, 2, 7,
            ))],
        );
        assert_eq!(
            lines,
            vec![
                "bind unicast_src 192.0.2.7 failed 99 - Cannot assign requested address",
                "VRRP_Instance(VI_2): entering FAULT state (src address not configured)",
                "VRRP_Instance(VI_2) Entering FAULT STATE",
            ]
        );
        assert_eq!(
            start_in_fault("VI_3", &[FaultReason::NoAddress(Family::V6)]),
            vec![
                "VRRP_Instance(VI_3) entering FAULT state (no IPv6 address for interface)",
                "VRRP_Instance(VI_3) entering FAULT state",
            ]
        );
        assert!(texts(Event::StartedInFault(FaultCause::Script)).is_empty());
        assert_eq!(
            texts(Event::PriorityZeroSent { synced: false }),
            ["VRRP_Instance(VI_1) sent 0 priority"]
        );
        assert!(
            texts(Event::PriorityZeroSent { synced: true }).is_empty(),
            "2.2.7 says nothing of the advert a group's FAULT sends"
        );
        assert_eq!(
            tracked_file_fault("VI_2", "tf", true),
            "VRRP_Instance(VI_2): tracked file tf now FAULT state"
        );
        assert_eq!(link_state("eth0", false), "Netlink reports eth0 down");
        let a: IpAddr = "192.0.2.1".parse().expect("address");
        assert_eq!(
            assigned_address(a, "eth0"),
            "Assigned address 192.0.2.1 for interface eth0"
        );
        assert_eq!(
            deassigned_address(a, "eth0"),
            "Deassigned address 192.0.2.1 from interface eth0"
        );
        assert_eq!(interface_presence("eth9", true), "Interface eth9 added");
    }

    #[test]
    fn vip_lines_are_detail_only() {
        let l = lines("VI_1", 51, &Event::SettingAddresses);
        assert!(l[0].detail);
        assert_eq!(l[0].text, "VRRP_Instance(VI_1) setting VIPs.");
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
