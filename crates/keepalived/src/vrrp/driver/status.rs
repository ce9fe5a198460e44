//! The status of the running instances and scripts: the snapshot the dumps render, and the
//! drop counters logged when stopping.

use keepalived_track::Outcome;
use keepalived_vrrp::instance::{Destination, DropReason, State};
use keepalived_vrrp::packet::Auth;

use super::super::setup::AddressPlan;
use super::super::wording;
use super::Driver;
use crate::dump::{
    InstanceSnapshot, InstanceState, ScriptSnapshot, ScriptStatus, Snapshot, StatsSnapshot,
    SyncGroupSnapshot, VipSnapshot,
};

/// What keepalived 2.2.7's dump prints after the scope of an IPv6 VIP (observed): ` -nodad`,
/// then ` deprecated` or ` preferred_lft forever|N`.
fn ipv6_options(a: &AddressPlan) -> String {
    if a.address.is_ipv4() {
        return String::new();
    }
    let dad = if a.dad { " -nodad" } else { "" };
    match a.preferred_lft {
        Some(0) => format!("{dad} deprecated"),
        Some(n) => format!("{dad} preferred_lft {n}"),
        None => format!("{dad} preferred_lft forever"),
    }
}

/// The name of an RT_SCOPE number, as `ip address` prints it.
fn scope_name(scope: Option<u8>) -> &'static str {
    match scope {
        None | Some(0) => "global",
        Some(200) => "site",
        Some(253) => "link",
        Some(254) => "host",
        Some(_) => "nowhere",
    }
}

/// The engine's state as the status model names it.
fn instance_state(state: State) -> InstanceState {
    match state {
        State::Initialize => InstanceState::Init,
        State::Backup => InstanceState::Backup,
        State::Master => InstanceState::Master,
        State::Fault => InstanceState::Fault,
    }
}

/// A state from the exporter's number (0 init, 1 backup, 2 master, 3 fault).
fn state_from_number(number: u8) -> InstanceState {
    match number {
        1 => InstanceState::Backup,
        2 => InstanceState::Master,
        3 => InstanceState::Fault,
        _ => InstanceState::Init,
    }
}

/// A duration in whole milliseconds.
fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl Driver {
    /// Writes dump `kind` of the current state.
    pub(super) fn dump(&self, kind: super::super::dumps::Kind) {
        super::super::dumps::write(kind, &self.snapshot(), &self.logger);
    }

    /// The state of every instance and script: the status model the dumps, the control
    /// socket and the metrics render.
    pub(super) fn snapshot(&self) -> Snapshot {
        let instances = self
            .running
            .iter()
            .enumerate()
            .map(|(index, r)| {
                let config = r.instance.config();
                let stats = r.instance.stats();
                let count = |reasons: &[DropReason]| -> u64 {
                    reasons.iter().map(|reason| stats.dropped(*reason)).sum()
                };
                let state = instance_state(r.instance.state());
                let drained = r.instance.drained();
                let heard = r.instance.master_heard();
                InstanceSnapshot {
                    name: config.name.clone(),
                    state,
                    sync_group: self
                        .group_of(index)
                        .map(|g| self.groups[g].plan.name.clone()),
                    drained,
                    wanted_state: match state {
                        InstanceState::Master if !drained => InstanceState::Master,
                        _ => InstanceState::Backup,
                    },
                    garp_delay_secs: config.garp_master_delay.as_secs(),
                    drops: DropReason::ALL
                        .iter()
                        .filter(|reason| stats.dropped(**reason) > 0)
                        .map(|reason| (reason.as_str().to_string(), stats.dropped(*reason)))
                        .collect(),
                    near_failovers: r.watch.near_failovers,
                    jitter: (r.watch.buckets, r.watch.count, r.watch.sum_us),
                    transitions: r
                        .transitions
                        .counts()
                        .map(|(to, cause, n)| (state_from_number(to), cause, n))
                        .collect(),
                    interface: config.interface.clone(),
                    vrid: config.vrid,
                    version: config.version.number(),
                    base_priority: config.priority,
                    effective_priority: r.instance.priority(),
                    advert_interval_ms: millis(config.advert_interval),
                    master_router: heard.map(|(address, _)| address.to_string()),
                    master_priority: heard.map_or(0, |(_, priority)| priority),
                    source_ip: Some(config.local_address)
                        .filter(|a| !a.is_unspecified())
                        .map(|a| a.to_string()),
                    preempt: config.preempt,
                    preempt_delay_ms: millis(config.preempt_delay),
                    auth_password: match &config.auth {
                        Auth::Pass(bytes) => Some(
                            String::from_utf8_lossy(bytes)
                                .trim_end_matches('\0')
                                .to_string(),
                        ),
                        Auth::None | Auth::Ah => None,
                    },
                    addresses: r
                        .plan
                        .addresses
                        .iter()
                        .map(|a| VipSnapshot {
                            address: a.address,
                            prefix_len: a.prefix_len,
                            device: a.interface.clone(),
                            scope: scope_name(a.scope).to_string(),
                            ipv6_options: ipv6_options(a),
                        })
                        .collect(),
                    unicast_peers: match &config.destination {
                        Destination::Unicast(unicast) => {
                            unicast.peers.iter().map(ToString::to_string).collect()
                        }
                        Destination::Multicast(_) => Vec::new(),
                    },
                    tracked_interfaces: r
                        .plan
                        .track_interfaces
                        .iter()
                        .map(|(name, weight, _)| (name.clone(), *weight))
                        .collect(),
                    tracked_scripts: r
                        .plan
                        .scripts
                        .iter()
                        .filter_map(|u| {
                            let script = self.scripts.get(u.script)?;
                            Some((script.plan.spec.name.clone(), u.weight))
                        })
                        .collect(),
                    last_transition: r.last_transition,
                    stats: StatsSnapshot {
                        advert_received: stats.received,
                        advert_sent: stats.sent,
                        became_master: stats.became_master,
                        released_master: stats.released_master,
                        packet_length_errors: count(&[DropReason::Truncated, DropReason::Length]),
                        ttl_errors: count(&[DropReason::Ttl]),
                        invalid_type_received: count(&[DropReason::Type, DropReason::Version]),
                        advert_interval_errors: count(&[DropReason::Interval]),
                        address_list_errors: 0,
                        invalid_auth_type: 0,
                        auth_type_mismatch: count(&[DropReason::AuthType]),
                        auth_failures: count(&[DropReason::Password]),
                        priority_zero_received: stats.priority_zero_received,
                        priority_zero_sent: stats.priority_zero_sent,
                    },
                }
            })
            .collect();
        let scripts = self
            .scripts
            .iter()
            .enumerate()
            .map(|(index, s)| {
                let spec = &s.plan.spec;
                let weight = self
                    .running
                    .iter()
                    .flat_map(|r| r.plan.scripts.iter())
                    .find(|u| u.script == index)
                    .map_or(0, |u| u.weight);
                ScriptSnapshot {
                    name: spec.name.clone(),
                    command: spec.argv.join(" "),
                    interval_ms: millis(spec.interval),
                    timeout_ms: millis(spec.timeout),
                    rise: spec.rise,
                    fall: spec.fall,
                    weight,
                    last_result: s.last_outcome.as_ref().map(|outcome| match outcome {
                        Outcome::Success => "success".to_string(),
                        Outcome::Failure(code) => format!("exit {code}"),
                        Outcome::TimedOut => "timeout".to_string(),
                        Outcome::CannotRun(reason) => format!("cannot run: {reason}"),
                    }),
                    streak: s.tracker.streak(),
                    run_phase: s.running.get(),
                    status: if !s.tracker.has_result() {
                        ScriptStatus::Init
                    } else if s.tracker.is_good() {
                        ScriptStatus::Good
                    } else {
                        ScriptStatus::Bad
                    },
                }
            })
            .collect();
        Snapshot {
            router_id: self.router_id.clone(),
            utc_offset_secs: 0,
            instances,
            scripts,
            sync_groups: self.groups.iter().map(|g| self.group_snapshot(g)).collect(),
            virtual_servers: Vec::new(),
        }
    }

    /// One running sync group as the state dump shows it.
    fn group_snapshot(&self, g: &super::sync_groups::RunningGroup) -> SyncGroupSnapshot {
        let plan = &g.plan;
        let notify = &plan.notify;
        let kinds = [
            ("Backup", &notify.backup),
            ("Master", &notify.master),
            ("Fault", &notify.fault),
            ("Stop", &notify.stop),
            ("Generic", &notify.generic),
        ];
        SyncGroupSnapshot {
            name: plan.name.clone(),
            state: g.group.state().map_or(InstanceState::Init, instance_state),
            members_in_fault: g
                .members
                .iter()
                .filter(|&&m| self.own_tracking_of(m).fault.is_some())
                .count(),
            members_in_init: g
                .members
                .iter()
                .filter(|&&m| self.running[m].instance.state() == State::Initialize)
                .count(),
            members: g
                .members
                .iter()
                .map(|&m| self.running[m].plan.config.name.clone())
                .collect(),
            tracking_weight: plan.tracking_weight,
            smtp_alert: plan.smtp_alert,
            notify_priority_changes: plan.notify_priority_changes,
            tracked_interfaces: plan.tracked.interfaces.clone(),
            tracked_scripts: plan.tracked.scripts.clone(),
            tracked_files: plan.tracked.files.clone(),
            tracked_processes: plan.tracked.processes.clone(),
            notify_scripts: kinds
                .into_iter()
                .filter_map(|(kind, command)| {
                    let command = command.as_ref()?;
                    let ids = command.run_as_ids.or(plan.notify_user).unwrap_or((0, 0));
                    // 2.2.7 shows the program by its canonical path (`/usr/bin/true` for
                    // `/bin/true` on a merged-/usr system; observed).
                    let mut words = command.argv.clone();
                    if let Some(program) = words.first_mut()
                        && let Ok(real) = std::fs::canonicalize(&*program)
                    {
                        *program = real.to_string_lossy().into_owned();
                    }
                    Some((kind, words, ids))
                })
                .collect(),
        }
    }

    /// Logs what each interface dropped before any instance saw it.
    pub(super) fn log_link_drops(&self) {
        for link in &self.links {
            let counts = [
                ("unknown VRID", link.unknown_vrid),
                ("packet too short", link.too_short),
            ];
            let counts: Vec<String> = counts
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(what, n)| format!("{what} {n}"))
                .collect();
            if !counts.is_empty() {
                self.logger.info(&format!(
                    "(interface {}) dropped packets: {}",
                    link.name,
                    counts.join(", ")
                ));
            }
        }
    }

    /// Logs how many packets instance `i` dropped, per reason, if any.
    pub(super) fn log_drops(&self, i: usize) {
        let stats = self.running[i].instance.stats();
        let counts: Vec<String> = DropReason::ALL
            .iter()
            .filter(|r| stats.dropped(**r) > 0)
            .map(|r| format!("{} {}", r.as_str(), stats.dropped(*r)))
            .collect();
        if !counts.is_empty() {
            self.logger.info(&wording::about(
                &self.running[i].plan.config.name,
                &format!("dropped adverts: {}", counts.join(", ")),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_vip_options_are_worded_as_keepalived_dumps_them() {
        let vip = |address: &str, dad: bool, preferred_lft: Option<u32>| AddressPlan {
            interface: "eth0".into(),
            address: address.parse().expect("address"),
            prefix_len: 64,
            broadcast: None,
            scope: None,
            label: None,
            dad,
            preferred_lft,
            peer: None,
            flags: Default::default(),
            no_track: false,
        };
        // As keepalived 2.2.7 printed them (observed).
        assert_eq!(
            ipv6_options(&vip("2001:db8::105", true, None)),
            " -nodad preferred_lft forever"
        );
        assert_eq!(
            ipv6_options(&vip("2001:db8::101", false, Some(0))),
            " deprecated"
        );
        assert_eq!(
            ipv6_options(&vip("2001:db8::108", false, Some(30))),
            " preferred_lft 30"
        );
        assert_eq!(ipv6_options(&vip("192.0.2.1", false, None)), "");
    }
}
