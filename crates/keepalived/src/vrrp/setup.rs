//! From the typed configuration to what the VRRP engine and the data path need: one
//! [`InstancePlan`] per vrrp_instance, with keepalived's global defaults applied. The engine's
//! [`InstanceConfig`] is built here once; the plan adds only what the engine does not hold
//! (address details, scripts, notify commands), so no setting is copied twice.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use keepalived_config::Config;
use keepalived_config::model::{AuthType, InitialState, NotifyScripts, VrrpInstance};
use keepalived_track::ScriptSpec;
use keepalived_vrrp::config::instance_version;
use keepalived_vrrp::instance::{Destination, InstanceConfig, Unicast};
use keepalived_vrrp::packet::{Auth, Family, Version};

/// What the data path knows about an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceInfo {
    /// Kernel interface index.
    pub index: u32,
    /// The first IPv4 address configured on it, if any.
    pub primary: Option<Ipv4Addr>,
    /// Its first IPv6 link-local address, if any: the source of IPv6 adverts.
    pub link_local: Option<Ipv6Addr>,
}

/// One address to add or remove: a VIP line of the configuration, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressPlan {
    /// The interface it goes on (`dev`, else the instance's interface).
    pub interface: String,
    /// The address.
    pub address: IpAddr,
    /// Its prefix length.
    pub prefix_len: u8,
    /// `brd`.
    pub broadcast: Option<Ipv4Addr>,
    /// `scope`, as the kernel's RT_SCOPE number.
    pub scope: Option<u8>,
    /// `label`.
    pub label: Option<String>,
    /// IPv6: duplicate address detection asked for (`-nodad`).
    pub dad: bool,
    /// IPv6: the preferred lifetime (`preferred_lft`; 0 by default for a /128, so the address
    /// is deprecated and never picked as a source, as keepalived.conf(5) says); None: forever.
    pub preferred_lft: Option<u32>,
    /// `peer`: the far end of a point-to-point address.
    pub peer: Option<IpAddr>,
    /// `home`, `mngtmpaddr`, `noprefixroute`, `autojoin`.
    pub flags: keepalived_net::AddressOptions,
    /// `no_track`: its removal by someone else leaves the instance MASTER, and it is not put
    /// back before the next time the instance becomes MASTER (keepalived.conf(5)).
    pub no_track: bool,
}

/// Everything needed to run one vrrp_instance.
#[derive(Debug, Clone, PartialEq)]
pub struct InstancePlan {
    /// The protocol side: name, interface, VRID, priorities, timers, source, destinations.
    pub config: Arc<InstanceConfig>,
    /// The addresses the master holds (virtual_ipaddress and virtual_ipaddress_excluded).
    pub addresses: Vec<AddressPlan>,
    /// Gratuitous ARPs per address in one burst (garp_master_repeat).
    pub garp_repeat: u32,
    /// The sizes of the other bursts (refresh, after a lower-priority advert).
    pub announce: super::announce_plan::AnnouncePlan,
    /// What it does when it hears another master.
    pub contention: keepalived_vrrp::config::Contention,
    /// The advert intervals its Master_Down_Interval waits (`down_timer_adverts`).
    pub down_timer_adverts: u32,
    /// The scripts it tracks.
    pub scripts: Vec<ScriptUse>,
    /// notify_master / backup / fault / stop and the generic notify.
    pub notify: NotifyScripts,
    /// The user (uid, gid) notify scripts run as: `script_user`, else root.
    pub notify_user: Option<(u32, u32)>,
    /// Whether its state changes are mailed (`smtp_alert`, see [`crate::alert`]).
    pub smtp_alert: bool,
    /// `track_interface`: name, weight (0: down means FAULT), reverse.
    pub track_interfaces: Vec<(String, i32, bool)>,
    /// `track_file`: the files it tracks.
    pub track_files: Vec<FileUse>,
    /// `track_process`: the processes it tracks.
    pub track_processes: Vec<super::track_process::spec::ProcessUse>,
    /// The `unicast_src_ip` of a unicast instance: keepalived 2.2.7 binds its socket to it,
    /// and while that address is not on the host the instance stays in FAULT.
    pub unicast_source: Option<Ipv4Addr>,
    /// No `mcast_src_ip` / `unicast_src_ip` of the instance's family: its adverts leave from
    /// an address of its interface (IPv4: the first one other than a VIP; IPv6: the
    /// link-local one, RFC 5798 section 5.1.2.1), which it follows while it runs; while the
    /// interface has none the instance is in FAULT (keepalived 2.2.7, observed: `entering
    /// FAULT state (no IPv4 address for interface)`, `(no IPv6 address for interface)`). Its
    /// `config.local_address` is unspecified when the interface had none at planning.
    pub source_from_interface: bool,
    /// `dont_track_primary`: its own interface going down does not put it in FAULT; a
    /// master announces its addresses again when the interface comes back (2.2.7, observed).
    pub dont_track_primary: bool,
    /// Lines logged when the instance is installed (keepalived 2.2.7's start-up remarks).
    pub notes: Vec<String>,
    /// virtual_routes and virtual_rules, installed while it is MASTER.
    pub policy: super::route_plan::PolicyPlan,
    /// `use_vmac`: the VMAC interface it needs ([`super::vmac_plan`]).
    pub vmac: Option<super::vmac_plan::VmacPlan>,
    /// The VMACs of its addresses (`use_vmac_addr`, an address's `use_vmac`).
    pub address_vmacs: Vec<super::vmac_plan::VmacPlan>,
    /// `garp_extra_if` / `vrrp_garp_extra_if`: periodic announcements while master.
    pub garp_extra: Option<super::vmac_plan::GarpExtra>,
    /// `auth_type AH` (VRRPv2): the key of its authentication header
    /// ([`keepalived_net::ah`]).
    pub ah_key: Option<[u8; keepalived_net::ah::KEY_LEN]>,
    /// Not in accept mode: while it is master, nftables drops traffic to and from its
    /// addresses ([`super::firewall_plan`]).
    pub firewall: bool,
}

/// A `track_file` (or `vrrp_track_file`) block that some instance tracks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePlan {
    /// The block's name.
    pub name: String,
    /// The file holding the number.
    pub path: PathBuf,
    /// `init_file [VALUE] [overwrite]`: the value written at start, and whether it replaces
    /// an existing file.
    pub init: Option<(i64, bool)>,
}

/// An instance's use of a tracked file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileUse {
    /// Index into the planned files.
    pub file: usize,
    /// The weight that applies (the track line's, else the block's).
    pub weight: i32,
    /// `weight W reverse`.
    pub reverse: bool,
}

/// Everything planned from one configuration.
#[derive(Debug, Clone, Default)]
pub struct Planned {
    /// One plan per instance that can run.
    pub instances: Vec<InstancePlan>,
    /// The scripts the instances track.
    pub scripts: Vec<ScriptPlan>,
    /// The files the instances track.
    pub files: Vec<FilePlan>,
    /// The processes the instances track.
    pub processes: Vec<super::track_process::ProcessSpec>,
    /// The vrrp_sync_groups (crate::vrrp::sync_plan).
    pub groups: Vec<super::sync_plan::GroupPlan>,
    /// Warnings of planning to log once (members' tracking dropped by their sync group).
    pub notes: Vec<String>,
    /// static_ipaddress, static_routes and static_rules, installed while the daemon runs.
    pub statics: super::route_plan::StaticPlan,
    /// The instances that cannot run, and why.
    pub problems: Vec<PlanProblem>,
    /// vrrp_garp_interval / vrrp_gna_interval / garp_group (crate::vrrp::garp_pace).
    pub pacing: Box<super::garp_pace::PacePlan>,
    /// Where state changes are mailed (global_defs' mail settings, read at each load; set
    /// by the caller, see [`crate::alert`]).
    pub alerts: Option<std::sync::Arc<crate::alert::AlertSettings>>,
    /// `lvs_sync_daemon`: IPVS's sync daemons and the instance they follow.
    pub sync_daemon: Option<super::sync_daemon::SyncDaemonPlan>,
}

/// A vrrp_script that some instance tracks, ready to run.
#[derive(Debug, Clone)]
pub struct ScriptPlan {
    /// How to run it.
    pub spec: ScriptSpec,
}

/// An instance's use of a tracked script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptUse {
    /// Index into the planned scripts.
    pub script: usize,
    /// The weight that applies (the track line's, else the script's).
    pub weight: i32,
    /// `weight W reverse`.
    pub reverse: bool,
}

/// A reason an instance cannot run; it is logged and the instance left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanProblem {
    /// The instance.
    pub instance: String,
    /// What is wrong.
    pub error: PlanError,
}

/// Why an instance cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// Its interface is not on this host.
    #[error("interface {0} does not exist")]
    NoInterface(String),
}

/// Plans every instance of `config`, and every script one of them tracks; `lookup` answers
/// for interface names, `user` for script users (name → uid, gid).
pub fn plan(
    config: &Config,
    lookup: impl Fn(&str) -> Option<InterfaceInfo>,
    user: impl Fn(&str) -> Option<(u32, u32)>,
) -> Planned {
    let folded;
    let (config, notes) = if config.sync_groups.is_empty() {
        (config, Vec::new())
    } else {
        let mut copy = config.clone();
        let notes = super::sync_plan::fold_tracking(&mut copy);
        folded = copy;
        (&folded, notes)
    };
    let notify_user = config
        .global
        .script_user
        .as_ref()
        .and_then(|r| user(&r.user));
    let mut groups = super::sync_plan::groups(config);
    for group in &mut groups {
        group.notify_user = notify_user;
    }
    let mut notes = notes;
    if config.global.dynamic_interfaces {
        notes.splice(0..0, missing_interfaces(config, &lookup));
    }
    let mut plans = Vec::new();
    let mut scripts: Vec<ScriptPlan> = Vec::new();
    let mut files: Vec<FilePlan> = Vec::new();
    let mut processes = Vec::new();
    let mut problems = Vec::new();
    let naming = super::vmac_plan::Naming::of(config);
    let mut vmac_names = Vec::new();
    for inst in &config.instances {
        match plan_instance(config, inst, &lookup, (&naming, &mut vmac_names)) {
            Ok(mut plan) => {
                plan.scripts = track_scripts(config, inst, &mut scripts, &user);
                plan.track_files = track_files(config, inst, &mut files);
                plan.track_processes =
                    super::track_process::spec::uses(config, inst, &mut processes);
                plan.notify_user = config
                    .global
                    .script_user
                    .as_ref()
                    .and_then(|r| user(&r.user));
                plan.smtp_alert = crate::alert::vrrp_alerts(config, inst);
                plans.push(plan);
            }
            Err(error) => problems.push(PlanProblem {
                instance: inst.name.to_string(),
                error,
            }),
        }
    }
    let pacing = Box::new(super::garp_pace::PacePlan::of(config, &plans));
    Planned {
        pacing,
        instances: plans,
        scripts,
        files,
        processes,
        groups,
        notes,
        problems,
        statics: super::route_plan::StaticPlan::of(config),
        alerts: None,
        sync_daemon: super::sync_daemon::plan(config),
    }
}

/// keepalived 2.2.7's line for each interface an instance runs on or tracks that does not
/// exist yet, with `dynamic_interfaces` (each named once, in file order).
fn missing_interfaces(
    config: &Config,
    lookup: &impl Fn(&str) -> Option<InterfaceInfo>,
) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for inst in &config.instances {
        let own = inst.interface.as_ref().map_or_else(
            || config.global.default_interface.clone(),
            |i| i.to_string(),
        );
        let tracked = inst.track_interfaces.iter().map(|t| t.name.to_string());
        for name in std::iter::once(own).chain(tracked) {
            if !names.contains(&name) && lookup(&name).is_none() {
                names.push(name);
            }
        }
    }
    names
        .iter()
        .map(|name| super::wording::will_use_if_created(name))
        .collect()
}

/// The files `inst` tracks, adding each to `files` once. A block without a `file` is left
/// out (the configuration check reports it).
fn track_files(config: &Config, inst: &VrrpInstance, files: &mut Vec<FilePlan>) -> Vec<FileUse> {
    let mut uses = Vec::new();
    for tracked in &inst.track_files {
        let Some(def) = config.track_files.iter().find(|f| f.name == tracked.name) else {
            continue;
        };
        let Some(path) = &def.file else {
            continue;
        };
        let index = match files.iter().position(|f| f.name == def.name) {
            Some(index) => index,
            None => {
                files.push(FilePlan {
                    name: def.name.clone(),
                    path: path.clone(),
                    init: def.init_file.as_ref().map(|words| init_value(words)),
                });
                files.len() - 1
            }
        };
        uses.push(FileUse {
            file: index,
            weight: tracked.weight.unwrap_or(def.weight),
            reverse: tracked.reverse.unwrap_or(def.reverse),
        });
    }
    uses
}

/// `init_file [VALUE] [overwrite]`: the value (0 when absent or not a number) and whether
/// an existing file is replaced.
fn init_value(words: &[String]) -> (i64, bool) {
    let overwrite = words.iter().any(|w| w == "overwrite");
    let value = words
        .iter()
        .find(|w| *w != "overwrite")
        .and_then(|w| w.parse().ok())
        .unwrap_or(0);
    (value, overwrite)
}

/// The scripts `inst` tracks, adding each to `scripts` once. Disabled scripts (program
/// missing or unsafe, reported by the config check) are left out, as keepalived does.
fn track_scripts(
    config: &Config,
    inst: &VrrpInstance,
    scripts: &mut Vec<ScriptPlan>,
    user: &impl Fn(&str) -> Option<(u32, u32)>,
) -> Vec<ScriptUse> {
    let mut uses = Vec::new();
    for tracked in &inst.track_scripts {
        let Some(script) = config.scripts.iter().find(|s| s.name == tracked.name) else {
            continue;
        };
        let Some(command) = script.command.as_ref().filter(|_| !script.disabled) else {
            continue;
        };
        let index = match scripts.iter().position(|p| p.spec.name == script.name) {
            Some(index) => index,
            None => {
                let run_as = script.user.as_ref().or(config.global.script_user.as_ref());
                let interval = Duration::from_secs_f64(script.interval);
                scripts.push(ScriptPlan {
                    spec: ScriptSpec {
                        name: script.name.clone(),
                        argv: command.argv.clone(),
                        interval,
                        timeout: script.timeout.map_or(interval, Duration::from_secs_f64),
                        rise: script.rise,
                        fall: script.fall,
                        init_fail: script.init_fail,
                        uid_gid: run_as.and_then(|r| user(&r.user)),
                    },
                });
                scripts.len() - 1
            }
        };
        uses.push(ScriptUse {
            script: index,
            weight: tracked.weight.unwrap_or(script.weight),
            reverse: tracked.reverse.unwrap_or(script.weight_reverse),
        });
    }
    uses
}

/// `garp_master_repeat` of `inst`, else of global_defs; at least 1.
fn garp_repeat_of(config: &Config, inst: &VrrpInstance) -> u32 {
    inst.garp_master_repeat
        .unwrap_or(config.global.vrrp_garp_master_repeat)
        .max(1)
}

fn plan_instance(
    config: &Config,
    inst: &VrrpInstance,
    lookup: &impl Fn(&str) -> Option<InterfaceInfo>,
    (naming, vmac_names): (&super::vmac_plan::Naming, &mut Vec<String>),
) -> Result<InstancePlan, PlanError> {
    let global = &config.global;
    let interface = inst
        .interface
        .as_ref()
        .map_or_else(|| global.default_interface.clone(), |i| i.to_string());
    // With `dynamic_interfaces` an instance on an interface that does not exist yet runs in
    // FAULT until it is created (keepalived 2.2.7); its source is found then.
    let info = match lookup(&interface) {
        Some(info) => info,
        None if global.dynamic_interfaces => InterfaceInfo {
            index: 0,
            primary: None,
            link_local: None,
        },
        None => return Err(PlanError::NoInterface(interface.clone())),
    };
    // One family per instance (RFC 5798 section 5.2.9): IPv6 with `native_ipv6`, an IPv6
    // source or an IPv6 first VIP (the config check already dropped VIPs of the other family).
    let ipv6 = inst.native_ipv6
        || inst.unicast_src_ip.or(inst.mcast_src_ip).map_or_else(
            || {
                inst.virtual_ipaddresses
                    .first()
                    .is_some_and(|a| a.address.is_ipv6())
            },
            |a| a.is_ipv6(),
        );
    let mut notes = Vec::new();
    let family = if ipv6 { Family::V6 } else { Family::V4 };
    let version = instance_version(family, inst.version, global.vrrp_version);
    let configured_source = inst.unicast_src_ip.or(inst.mcast_src_ip);
    let local_address = if ipv6 {
        // RFC 5798 section 5.1.2.1: the source is the interface's link-local address.
        IpAddr::V6(
            configured_source
                .and_then(|a| match a {
                    IpAddr::V6(v6) => Some(v6),
                    IpAddr::V4(_) => None,
                })
                .or(info.link_local)
                .unwrap_or(Ipv6Addr::UNSPECIFIED),
        )
    } else {
        let source = configured_source.and_then(|a| match a {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        });
        IpAddr::V4(source.or(info.primary).unwrap_or(Ipv4Addr::UNSPECIFIED))
    };
    let auth = match (&inst.authentication, version) {
        (Some(a), Version::V2) if a.auth_type == AuthType::Pass => Auth::pass(&a.password),
        (Some(a), Version::V2) if a.auth_type == AuthType::Ah => Auth::Ah,
        _ => Auth::None,
    };
    let vips: Vec<IpAddr> = inst.virtual_ipaddresses.iter().map(|a| a.address).collect();
    // RFC 5798 section 5.2.9 wants the first IPv6 address to be the link-local one; keepalived
    // 2.2.7 only says so, and only for multicast instances (observed).
    if ipv6 && inst.unicast_peers.is_empty() && vips.first().is_some_and(|a| !is_link_local(*a)) {
        notes.push(super::wording::about(
            &inst.name,
            "the first IPv6 VIP address should be link local",
        ));
    }
    // Adverts go to the unicast peers of the instance's family, else to the group:
    // vrrp_mcast_group4, or vrrp_mcast_group6 (ff02::12).
    let peers: Vec<IpAddr> = inst
        .unicast_peers
        .iter()
        .copied()
        .filter(|p| p.is_ipv6() == ipv6)
        .collect();
    let destination = if inst.unicast_peers.is_empty() {
        Destination::Multicast(if ipv6 {
            IpAddr::V6(global.vrrp_mcast_group6)
        } else {
            IpAddr::V4(global.vrrp_mcast_group4)
        })
    } else {
        // keepalived 2.2.7 sends unicast IPv6 adverts with the kernel's default hop limit
        // (64) unless `unicast_ttl` is set; IPv4 ones with TTL 255 (observed).
        let default_ttl = if ipv6 {
            UNICAST_HOP_LIMIT_V6
        } else {
            keepalived_vrrp::packet::TTL
        };
        Destination::Unicast(Unicast {
            peers,
            ttl: inst.unicast_ttl.unwrap_or(default_ttl),
            only_from_peers: inst.check_unicast_src || global.vrrp_check_unicast_src,
        })
    };
    let vmac = super::vmac_plan::vmac_of(inst, &interface, ipv6, info.link_local, naming);
    if let Some(v) = &vmac {
        vmac_names.push(v.name.clone());
    }
    let placement = super::vmac_plan::place(
        inst,
        (&interface, ipv6),
        vmac.as_ref(),
        naming,
        &|name| lookup(name).and_then(|i| i.link_local),
        vmac_names,
    );
    let addresses: Vec<AddressPlan> = inst
        .virtual_ipaddresses
        .iter()
        .chain(&inst.excluded_ipaddresses)
        .zip(&placement.interfaces)
        .map(|(a, on)| AddressPlan {
            interface: on.clone(),
            address: a.address,
            prefix_len: a.prefix_len,
            broadcast: a.broadcast,
            scope: a.scope.map(super::route_plan::scope_value),
            label: a.label.as_ref().map(|l| l.to_string()),
            dad: a.other.iter().any(|o| o == "-nodad"),
            preferred_lft: preferred_lft(a),
            peer: a.peer,
            flags: super::route_plan::address_options(a),
            no_track: a.other.iter().any(|o| o == "no_track"),
        })
        .collect();
    let garp_extra = {
        let own: Vec<&str> = std::iter::once(interface.as_str())
            .chain(vmac.as_ref().map(|v| v.name.as_str()))
            .collect();
        let vmacs: Vec<&str> = placement.vmacs.iter().map(|v| v.name.as_str()).collect();
        super::vmac_plan::garp_extra(config, inst, &placement.interfaces, &own, &vmacs)
    };
    let refresh = inst
        .garp_master_refresh
        .unwrap_or(global.vrrp_garp_master_refresh);
    let garp_repeat = garp_repeat_of(config, inst);
    let (announce, contention) = super::announce_plan::announce_settings(config, inst, garp_repeat);
    let down_timer_adverts = crate::down_timer::adverts(config, inst);
    let config = InstanceConfig {
        name: inst.name.to_string(),
        interface: match &vmac {
            Some(v) if !v.xmit_base => v.name.clone(),
            _ => interface.clone(),
        },
        vrid: inst.virtual_router_id,
        priority: inst.priority,
        advert_interval: Duration::from_secs_f64(inst.advert_int),
        // RFC 3768 section 6.1: Preempt_Mode; keepalived's `nopreempt` turns it off.
        preempt: !inst.nopreempt,
        preempt_delay: Duration::from_secs_f64(inst.preempt_delay),
        auth,
        version,
        addresses: vips,
        local_address,
        destination,
        garp_master_delay: Duration::from_secs(u64::from(
            inst.garp_master_delay
                .unwrap_or(global.vrrp_garp_master_delay),
        )),
        garp_master_refresh: (refresh > 0).then(|| Duration::from_secs(u64::from(refresh))),
        // keepalived 2.2.7 (observed): only a written `state BACKUP` holds an instance of
        // priority 255 in BACKUP at start.
        start_backup: inst.state_given && inst.state == InitialState::Backup,
    };
    // keepalived starts a `state MASTER` instance in BACKUP too (compat.md section 6), unless
    // its priority is 255; the state otherwise only sets the default priority, which the
    // config layer already did.
    Ok(InstancePlan {
        config: Arc::new(config),
        addresses,
        garp_repeat,
        announce,
        contention,
        down_timer_adverts,
        scripts: Vec::new(),
        notify: inst.notify.clone(),
        notify_user: None,
        smtp_alert: false,
        track_files: Vec::new(),
        track_processes: Vec::new(),
        track_interfaces: inst
            .track_interfaces
            .iter()
            .map(|t| {
                (
                    t.name.to_string(),
                    t.weight.unwrap_or(0),
                    t.reverse.unwrap_or(false),
                )
            })
            .collect(),
        address_vmacs: placement.vmacs,
        garp_extra,
        // A VMAC has no address of its own: its adverts leave from the base interface's,
        // followed as 2.2.7 does (driver/vmac.rs).
        source_from_interface: configured_source.is_none_or(|a| a.is_ipv6() != ipv6),
        dont_track_primary: inst.dont_track_primary,
        unicast_source: match inst.unicast_src_ip {
            Some(IpAddr::V4(a)) if !inst.unicast_peers.is_empty() => Some(a),
            _ => None,
        },
        notes,
        policy: super::route_plan::PolicyPlan::of(&inst.virtual_routes, &inst.virtual_rules),
        vmac,
        ah_key: match (&inst.authentication, version) {
            (Some(a), Version::V2) if a.auth_type == AuthType::Ah => {
                Some(keepalived_net::ah::key(&a.password))
            }
            _ => None,
        },
        firewall: !super::firewall_plan::accept_mode(inst, global, version),
    })
}

/// Hop limit of unicast IPv6 adverts without `unicast_ttl`: the kernel's default, which
/// keepalived 2.2.7 leaves in place (observed).
pub const UNICAST_HOP_LIMIT_V6: u8 = 64;

/// fe80::/10.
fn is_link_local(address: IpAddr) -> bool {
    matches!(address, IpAddr::V6(v6) if v6.is_unicast_link_local())
}

/// The preferred lifetime of an IPv6 VIP: `preferred_lft N` (`forever`: None), else 0 for a
/// /128 (keepalived.conf(5)), else None.
pub(crate) fn preferred_lft(a: &keepalived_config::model::IpAddress) -> Option<u32> {
    if !a.address.is_ipv6() {
        return None;
    }
    let given = a
        .other
        .iter()
        .find_map(|o| o.strip_prefix("preferred_lft "));
    match given {
        Some("forever") => None,
        Some(n) => n.parse().ok(),
        None => (a.prefix_len == 128).then_some(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepalived_config::{FakeHost, LoadOptions, load_str};
    use std::path::Path;

    fn plans(text: &str) -> Vec<InstancePlan> {
        let host = FakeHost::lab();
        let loaded = load_str(text, Path::new("t.conf"), &LoadOptions::for_host(&host));
        let lookup = |name: &str| {
            (name == "eth0").then_some(InterfaceInfo {
                index: 2,
                primary: Some(Ipv4Addr::new(192, 0, 2, 10)),
                link_local: Some(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0xff, 0xfe00, 0x0a)),
            })
        };
        let planned = plan(&loaded.config, lookup, |_| None);
        assert!(planned.problems.is_empty(), "{:?}", planned.problems);
        planned.instances
    }

    #[test]
    fn seed_like_instance_is_planned_with_defaults() {
        let p = plans(
            "vrrp_instance VI_23 {\n state BACKUP\n nopreempt\n interface eth0\n virtual_router_id 23\n priority 100\n advert_int 5\n authentication {\n auth_type PASS\n auth_pass 1111\n }\n virtual_ipaddress {\n 192.0.2.100\n 192.0.2.101/24 dev eth0 label eth0:1 scope link\n }\n}\n",
        );
        let plan = &p[0];
        assert_eq!(plan.config.vrid, 23);
        assert!(!plan.config.preempt);
        assert_eq!(plan.config.advert_interval, Duration::from_secs(5));
        assert_eq!(plan.config.auth, Auth::pass(b"1111"));
        assert_eq!(
            plan.config.local_address,
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10))
        );
        assert_eq!(
            plan.config.destination,
            Destination::Multicast(IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18)))
        );
        assert_eq!(plan.config.garp_master_delay, Duration::from_secs(5));
        assert_eq!(plan.garp_repeat, 5);
        assert_eq!(plan.addresses.len(), 2);
        assert_eq!(plan.addresses[0].prefix_len, 32);
        assert_eq!(plan.addresses[1].label.as_deref(), Some("eth0:1"));
        assert_eq!(plan.addresses[1].scope, Some(253));
    }

    #[test]
    fn mcast_src_ip_overrides_the_primary_address() {
        let p = plans(
            "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n mcast_src_ip 192.0.2.77\n virtual_ipaddress {\n 192.0.2.100\n }\n}\n",
        );
        assert_eq!(
            p[0].config.local_address,
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 77))
        );
    }

    #[test]
    fn adverts_go_to_the_configured_group_or_to_the_peers() {
        let p = plans(
            "global_defs {\n vrrp_mcast_group4 224.0.0.19\n}\nvrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 192.0.2.100\n }\n}\nvrrp_instance B {\n interface eth0\n virtual_router_id 2\n unicast_src_ip 192.0.2.10\n unicast_peer {\n 192.0.2.20\n 192.0.2.30\n }\n virtual_ipaddress {\n 192.0.2.101\n }\n}\n",
        );
        assert_eq!(
            p[0].config.destination,
            Destination::Multicast(IpAddr::V4(Ipv4Addr::new(224, 0, 0, 19)))
        );
        assert_eq!(
            p[1].config.destination,
            Destination::Unicast(Unicast {
                peers: vec![
                    IpAddr::V4(Ipv4Addr::new(192, 0, 2, 20)),
                    IpAddr::V4(Ipv4Addr::new(192, 0, 2, 30)),
                ],
                ttl: 255,
                only_from_peers: false,
            })
        );
    }

    #[test]
    fn ipv6_instances_run_vrrpv3_from_the_link_local_address() {
        // keepalived 2.2.7 (observed): VRRPv3 whatever vrrp_version says, adverts to ff02::12
        // from the link-local address, a remark when the first VIP is not link-local, unicast
        // hop limit 64 unless unicast_ttl, /128 VIPs deprecated unless preferred_lft says
        // otherwise, `-nodad` asks for DAD.
        let p = plans(
            "global_defs {\n vrrp_version 2\n vrrp_mcast_group6 ff02::1:12\n}\nvrrp_instance A {\n interface eth0\n virtual_router_id 1\n advert_int 0.5\n virtual_ipaddress {\n 2001:db8::100/64\n 2001:db8::101\n 2001:db8::102 preferred_lft forever\n 2001:db8::103/64 -nodad preferred_lft 30\n }\n}\n\
             vrrp_instance B {\n interface eth0\n virtual_router_id 2\n unicast_src_ip 2001:db8::10\n unicast_peer {\n 2001:db8::11\n }\n virtual_ipaddress {\n 2001:db8::200/64\n }\n}\n\
             vrrp_instance C {\n interface eth0\n virtual_router_id 3\n virtual_ipaddress {\n fe80::1/64\n 2001:db8::300/64\n }\n}\n",
        );
        let a = &p[0];
        assert_eq!(a.config.version, Version::V3);
        assert_eq!(a.config.advert_interval, Duration::from_millis(500));
        assert_eq!(
            a.config.local_address,
            "fe80::ff:fe00:a".parse::<IpAddr>().expect("address")
        );
        assert_eq!(
            a.config.destination,
            Destination::Multicast("ff02::1:12".parse().expect("group"))
        );
        assert_eq!(
            a.notes,
            vec!["VRRP_Instance(A) the first IPv6 VIP address should be link local".to_string()]
        );
        let lifetimes: Vec<(bool, Option<u32>)> = a
            .addresses
            .iter()
            .map(|x| (x.dad, x.preferred_lft))
            .collect();
        assert_eq!(
            lifetimes,
            vec![
                (false, None),
                (false, Some(0)),
                (false, None),
                (true, Some(30))
            ]
        );
        // No remark for a unicast instance, nor when the first VIP is link-local.
        let b = &p[1];
        assert!(b.notes.is_empty() && p[2].notes.is_empty());
        assert_eq!(
            b.config.local_address,
            "2001:db8::10".parse::<IpAddr>().expect("address")
        );
        assert_eq!(
            b.config.destination,
            Destination::Unicast(Unicast {
                peers: vec!["2001:db8::11".parse().expect("peer")],
                ttl: 64,
                only_from_peers: false,
            })
        );
    }

    #[test]
    fn ipv6_instances_with_version_2_run_vrrpv2_over_ipv6() {
        // keepalived 2.2.7 (observed): `version 2` in an IPv6 instance sends VRRPv2 over IPv6,
        // auth type 1 without password for PASS; AH is dropped by the config check.
        let p = plans(
            "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n version 2\n advert_int 2\n authentication {\n auth_type PASS\n auth_pass secret\n }\n virtual_ipaddress {\n 2001:db8::100/64\n }\n}\n\
             vrrp_instance B {\n interface eth0\n virtual_router_id 2\n version 2\n authentication {\n auth_type AH\n auth_pass secret\n }\n virtual_ipaddress {\n 2001:db8::200/64\n }\n}\n",
        );
        let a = &p[0].config;
        assert_eq!(a.version, Version::V2);
        assert_eq!(a.auth, Auth::pass(b"secret"));
        assert_eq!(a.advert_interval, Duration::from_secs(2));
        assert_eq!(
            a.local_address,
            "fe80::ff:fe00:a".parse::<IpAddr>().expect("address")
        );
        assert!(p[0].notes.iter().all(|n| !n.contains("VRRPv3")));
        assert_eq!(
            (p[1].config.version, p[1].config.auth),
            (Version::V2, Auth::None)
        );
        assert!(p[1].ah_key.is_none());
    }

    #[test]
    fn an_instance_on_a_missing_interface_is_a_typed_problem() {
        let host = FakeHost::lab();
        let text = "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 192.0.2.100\n }\n}\n";
        let loaded = load_str(text, Path::new("t.conf"), &LoadOptions::for_host(&host));
        let planned = plan(&loaded.config, |_| None, |_| None);
        assert_eq!(
            planned.problems,
            vec![PlanProblem {
                instance: "A".into(),
                error: PlanError::NoInterface("eth0".into()),
            }]
        );
        assert_eq!(
            planned.problems[0].error.to_string(),
            "interface eth0 does not exist"
        );
    }

    #[test]
    fn dynamic_interfaces_plans_an_instance_on_a_missing_interface() {
        let host = FakeHost::lab();
        let text = "global_defs {\n dynamic_interfaces\n}\n\
            vrrp_instance A {\n interface eth9\n virtual_router_id 1\n track_interface {\n eth7\n eth9\n }\n virtual_ipaddress {\n 192.0.2.100\n }\n}\n\
            vrrp_instance B {\n interface eth9\n virtual_router_id 2\n mcast_src_ip 192.0.2.5\n virtual_ipaddress {\n 192.0.2.101\n }\n}\n";
        let loaded = load_str(text, Path::new("t.conf"), &LoadOptions::for_host(&host));
        let planned = plan(&loaded.config, |_| None, |_| None);
        assert!(planned.problems.is_empty(), "{:?}", planned.problems);
        assert_eq!(planned.instances.len(), 2);
        // Each missing interface is named once, in file order.
        assert_eq!(
            planned.notes,
            vec![
                "Configuration specifies interface eth9 which doesn't currently exist - will use if created",
                "Configuration specifies interface eth7 which doesn't currently exist - will use if created",
            ]
        );
        let (a, b) = (&planned.instances[0], &planned.instances[1]);
        assert!(
            a.source_from_interface,
            "no source: the interface's address"
        );
        assert_eq!(a.config.local_address, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert!(!b.source_from_interface, "mcast_src_ip is the source");
    }
}

#[cfg(test)]
mod script_tests {
    use super::*;
    use keepalived_config::{FakeHost, LoadOptions, load_str};
    use std::path::Path;

    #[test]
    fn tracked_scripts_are_planned_once_with_their_weights() {
        let text = "global_defs {\n script_user root\n enable_script_security\n}\n\
            vrrp_script chk {\n script \"/bin/true -x\"\n interval 2\n weight -20\n fall 3\n}\n\
            vrrp_instance A {\n interface eth0\n virtual_router_id 1\n track_script {\n chk\n }\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n\
            vrrp_instance B {\n interface eth0\n virtual_router_id 2\n track_script {\n chk weight 0\n }\n virtual_ipaddress {\n 192.0.2.2\n }\n}\n";
        let host = FakeHost::lab();
        let loaded = load_str(text, Path::new("t.conf"), &LoadOptions::for_host(&host));
        let lookup = |_: &str| {
            Some(InterfaceInfo {
                index: 2,
                primary: None,
                link_local: None,
            })
        };
        let Planned {
            instances: plans,
            scripts,
            ..
        } = plan(&loaded.config, lookup, |_| Some((0, 0)));
        assert_eq!(scripts.len(), 1);
        let spec = &scripts[0].spec;
        assert_eq!(spec.argv, vec!["/bin/true", "-x"]);
        assert_eq!(
            (spec.interval, spec.timeout),
            (Duration::from_secs(2), Duration::from_secs(2))
        );
        assert_eq!((spec.fall, spec.uid_gid), (3, Some((0, 0))));
        assert_eq!(
            plans[0].scripts,
            vec![ScriptUse {
                script: 0,
                weight: -20,
                reverse: false
            }]
        );
        assert_eq!(
            plans[1].scripts,
            vec![ScriptUse {
                script: 0,
                weight: 0,
                reverse: false
            }]
        );
    }
}
