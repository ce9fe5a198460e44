//! Checks that need the whole configuration: references between blocks, duplicate VRIDs and
//! instance names, instance-level consistency, and whether scripts can run (file present,
//! script security). Wording and line numbers follow keepalived 2.2.7's `-t`.

use std::collections::{HashMap, HashSet};

use crate::build::track_list::settle;
use crate::diagnostic::{Diagnostic, Diagnostics, Location, Pass, Severity};
use crate::host::Host;
use crate::model::{AuthType, Config, InitialState, ServiceKey, SyncGroup, TrackRef, VrrpInstance};
use crate::script_checks;

/// Runs every cross-block check, dropping what cannot work as keepalived does.
pub fn validate(config: &mut Config, host: &dyn Host, diagnostics: &mut Diagnostics) {
    crate::build::checker::drop_unresolved_groups(config);
    if diagnostics.has_syntax_error() {
        // The VRRP side is never completed: its pass, or one before it, stopped reading.
        diagnostics.skip_completion();
    }
    // What keepalived 2.2.7 checks while it reads the file.
    // The address family is settled while reading, at each instance's end: its messages come
    // from every instance, also when the reading stops later or the completion is skipped
    // (2.2.7, observed).
    let families: Vec<bool> = config
        .instances
        .iter_mut()
        .map(|inst| address_family(inst, diagnostics))
        .collect();
    script_checks::missing_default_user(config, host, diagnostics);
    default_script_user(config, host, diagnostics);
    tracked_scripts_exist(config, diagnostics);
    crate::validate_vrrp::tracked_objects_exist(config, diagnostics);
    if diagnostics.has_nonexistent_interface() {
        config.nonexistent_interface = true;
        diagnostics.skip_completion();
        // 2.2.7 stops its VRRP side here: no instance, sync group or script pass follows.
        // The checker reads the file on its own and still reports.
        unlocated(
            diagnostics,
            Severity::Error,
            "Non-existent interface specified in configuration".to_string(),
        );
        checker_services(config, diagnostics);
        config.instances.retain(|i| i.virtual_router_id != 0);
        return;
    }
    script_checks::check(config, host, diagnostics);
    let unusable = config
        .instances
        .iter()
        .find(|i| !i.vrid_given || i.interface.is_none());
    if let Some(inst) = unusable {
        // Completing the instances stops at the first without a VRID or an interface, before
        // any other instance is completed (2.2.7, observed).
        diagnostics.skip_completion();
        let line = if inst.vrid_given {
            format!("({}) Unknown interface!", inst.name)
        } else {
            format!("({}) the virtual router id must be set", inst.name)
        };
        unlocated(diagnostics, Severity::Error, line);
        checker_services(config, diagnostics);
        config.instances.retain(|i| i.virtual_router_id != 0);
        return;
    }
    let global_strict = config.global.vrrp_strict;
    let global_version = config.global.vrrp_version;
    // An instance left without a VIP where one is required (VRRPv3, IPv6 or strict) ends the
    // completion there: 2.2.7 completes no later instance and checks no VRIDs (observed).
    let version_of = |inst: &VrrpInstance, ipv6: bool| {
        inst.version
            .unwrap_or(if ipv6 { 3 } else { global_version })
    };
    let stop = config
        .instances
        .iter()
        .zip(&families)
        .position(|(inst, &ipv6)| {
            let strict = inst.strict_mode.unwrap_or(global_strict);
            inst.virtual_ipaddresses.is_empty() && (ipv6 || strict || version_of(inst, ipv6) == 3)
        });
    if let Some(at) = stop {
        let names: Vec<String> = config.instances[at..]
            .iter()
            .map(|i| format!("({})", i.name))
            .collect();
        diagnostics.drop_held(|message| names.iter().any(|n| message.starts_with(n.as_str())));
    }
    diagnostics.complete();
    for (index, (inst, &ipv6)) in config.instances.iter_mut().zip(&families).enumerate() {
        if stop == Some(index) {
            let line = format!("({}) No VIP specified; at least one is required", inst.name);
            unlocated(diagnostics, Severity::Warning, line);
            break;
        }
        let strict = inst.strict_mode.unwrap_or(global_strict);
        // An IPv6 instance runs VRRPv3 unless it says otherwise, whatever vrrp_version says
        // (keepalived 2.2.7, observed).
        let version = version_of(inst, ipv6);
        let version =
            crate::validate_strict::ipv6_version(inst, strict, ipv6, version, diagnostics);
        instance_consistency(inst, strict, version, ipv6, diagnostics);
    }
    if stop.is_none() {
        sync_group_weights(config, diagnostics);
        address_owner_weights(config, diagnostics);
        duplicate_vrids(config, diagnostics);
    }
    sync_group_members(config, diagnostics);
    crate::validate_vrrp::validate(config, diagnostics);
    checker_services(config, diagnostics);
    // Instances without a valid VRID were kept only so their references could be checked.
    config.instances.retain(|i| i.virtual_router_id != 0);
}

/// keepalived 2.2.7's rules on the initial state and authentication, in its order: under
/// `vrrp_strict` only the address owner may start as MASTER and there is no authentication
/// (RFC 5798 section 5.2.5 dropped it); VRRPv3 has none; an AH instance that does not own the
/// address starts as BACKUP. AH is IPv4's (RFC 2338 section 5.3.6.3): a VRRPv2 instance over
/// IPv6 drops it and sends no authentication (keepalived 2.2.7, observed: `Cannot use AH
/// authentication with IPv6. ignoring`, auth type 0 on the wire).
fn initial_state_and_authentication(
    inst: &mut VrrpInstance,
    strict: bool,
    version: u8,
    ipv6: bool,
    diagnostics: &mut Diagnostics,
) {
    let name = inst.name.clone();
    let owner = inst.priority == 255;
    // A version 3 instance's authentication is refused below for that, without this line
    // (2.2.7, corpus).
    if version != 3
        && inst
            .authentication
            .as_ref()
            .is_some_and(|a| a.password.is_empty())
    {
        let line = format!("({name}) Authentication specified but no password given. Ignoring");
        unlocated(diagnostics, Severity::Warning, line);
        inst.authentication = None;
    }
    if strict && inst.state == InitialState::Master && !owner {
        let line = format!("({name}) State MASTER must match being address owner");
        unlocated(diagnostics, Severity::Warning, line);
        inst.state = InitialState::Backup;
    } else if strict && inst.state_given && inst.state == InitialState::Backup && owner {
        // The owner written as BACKUP is made MASTER, with the same line (2.2.7, observed).
        let line = format!("({name}) State MASTER must match being address owner");
        unlocated(diagnostics, Severity::Warning, line);
        inst.state = InitialState::Master;
    }
    if inst.authentication.is_some() && strict {
        let line = format!("({name}) Strict mode does not support authentication. Ignoring.");
        unlocated(diagnostics, Severity::Warning, line);
        inst.authentication = None;
    }
    if inst.authentication.is_some() && version == 3 {
        let line = format!("({name}) VRRP version 3 does not support authentication. Ignoring.");
        unlocated(diagnostics, Severity::Warning, line);
        inst.authentication = None;
    }
    if ipv6
        && inst
            .authentication
            .as_ref()
            .is_some_and(|a| a.auth_type == AuthType::Ah)
    {
        let line = format!("({name}) Cannot use AH authentication with IPv6. ignoring");
        unlocated(diagnostics, Severity::Warning, line);
        inst.authentication = None;
    }
    let ah = inst
        .authentication
        .as_ref()
        .is_some_and(|a| a.auth_type == AuthType::Ah);
    if ah && inst.state == InitialState::Master && !owner {
        let line = format!(
            "({name}) Initial state master is incompatible with AH authentication - clearing"
        );
        unlocated(diagnostics, Severity::Warning, line);
        inst.state = InitialState::Backup;
    }
}

/// A warning of the checker's own pass, given without a line number.
fn checker_line(diagnostics: &mut Diagnostics, message: String) {
    diagnostics.push(Diagnostic::new(Severity::Warning, None, message).in_pass(Pass::Checker));
}

/// Reports a problem keepalived gives without a line number.
fn unlocated(diagnostics: &mut Diagnostics, severity: Severity, message: String) {
    diagnostics.push(Diagnostic::new(severity, None, message));
}

/// With `enable_script_security`, a script without a user needs `script_user` or an existing
/// `keepalived_script` user; otherwise keepalived removes it at its closing `}`.
fn default_script_user(config: &mut Config, host: &dyn Host, diagnostics: &mut Diagnostics) {
    let global = &config.global;
    // A `script_user` that does not exist leaves the scripts without a user of their own
    // with no user at all, script security or not.
    let named_missing = global.script_user.as_ref().is_some_and(|r| {
        host.user(&r.user).is_none() || r.group.as_ref().is_some_and(|g| host.group(g).is_none())
    });
    let default_missing = global.enable_script_security
        && global.script_user.is_none()
        && host.user("keepalived_script").is_none();
    if !named_missing && !default_missing {
        return;
    }
    // 2.2.7 tries the default user once: the first script needing it says it is missing
    // (unless a notify FIFO of global_defs already did). A vrrp_script needs it at its `}`, an
    // instance's or sync group's notify script without a user of its own at its line.
    let mut said = global.default_script_user_failed;
    if default_missing && !said {
        let first_notify = config
            .instances
            .iter()
            .map(|i| &i.notify)
            .chain(config.sync_groups.iter().map(|g| &g.notify))
            .flat_map(|n| [&n.master, &n.backup, &n.fault, &n.stop, &n.generic])
            .flatten()
            .filter(|c| c.run_as.is_none() && !c.shell)
            .map(|c| &c.location)
            .min_by_key(|at| at.order);
        let first_script = config
            .scripts
            .iter()
            .filter(|s| s.user.is_none())
            .map(|s| s.close.as_ref().map_or(u32::MAX, |at| at.order))
            .min();
        if let Some(at) = first_notify
            && first_script.is_none_or(|order| at.order < order)
        {
            said = true;
            diagnostics.push(
                Diagnostic::new(
                    Severity::Error,
                    Some(at.clone()),
                    "Unable to set default user keepalived_script for script",
                )
                .in_pass(Pass::Vrrp),
            );
        }
    }
    config.scripts.retain(|script| {
        if script.user.is_some() {
            return true;
        }
        // A block the file never closes is ended at the end of the file, where keepalived
        // names no line.
        let at = script.close.clone();
        let mut report = |message: String| {
            diagnostics
                .push(Diagnostic::new(Severity::Error, at.clone(), message).in_pass(Pass::Vrrp));
        };
        if default_missing && !said {
            said = true;
            report("Unable to set default user keepalived_script for script".to_string());
        }
        report(format!(
            "Unable to set default user for vrrp script {} - removing",
            script.name
        ));
        false
    });
}

/// `track_script` names must be defined by a vrrp_script, once per instance; a sync group's
/// too. keepalived 2.2.7 looks the script up while it reads the `track_script` line, so a
/// vrrp_script defined further down the file (in reading order, includes read in place) is
/// not found either.
fn tracked_scripts_exist(config: &mut Config, diagnostics: &mut Diagnostics) {
    let defined = defined_at(
        config
            .scripts
            .iter()
            .map(|s| (s.name.as_str(), &s.location)),
    );
    let known = |t: &TrackRef| {
        defined
            .get(t.name.as_str())
            .is_some_and(|&order| order < t.location.order)
    };
    for group in &mut config.sync_groups {
        let name = group.name.clone();
        let mut seen = HashSet::new();
        group.track_scripts.retain(|t| {
            if !known(t) {
                diagnostics.error(
                    &t.location,
                    format!("({name}) track script {} not found, ignoring...", t.name),
                );
                return false;
            }
            if seen.contains(&t.name) {
                diagnostics.error(
                    &t.location,
                    format!("({name}) duplicate track_script {} - ignoring", t.name),
                );
                return false;
            }
            // An entry its own words leave out is not there for a later duplicate.
            if !settle(t, diagnostics) {
                return false;
            }
            seen.insert(t.name.clone());
            true
        });
    }
    for inst in &mut config.instances {
        let name = inst.name.clone();
        let mut seen = HashSet::new();
        inst.track_scripts.retain(|t| {
            if !known(t) {
                diagnostics.error(
                    &t.location,
                    format!("({name}) track script {} not found, ignoring...", t.name),
                );
                return false;
            }
            if seen.contains(&t.name) {
                diagnostics.error(
                    &t.location,
                    format!("({name}) duplicate track_script {} - ignoring", t.name),
                );
                return false;
            }
            // An entry its own words leave out is not there for a later duplicate.
            if !settle(t, diagnostics) {
                return false;
            }
            seen.insert(t.name.clone());
            true
        });
    }
}

/// Each name with the reading position of its first definition: what a reference read after
/// that position finds.
pub(crate) fn defined_at<'a>(
    definitions: impl Iterator<Item = (&'a str, &'a Location)>,
) -> HashMap<&'a str, u32> {
    let mut defined = HashMap::new();
    for (name, location) in definitions {
        defined
            .entry(name)
            .and_modify(|order: &mut u32| *order = (*order).min(location.order))
            .or_insert(location.order);
    }
    defined
}

/// An instance has one address family (RFC 5798 section 5.2.9): 2.2.7 takes it from the
/// first line in reading order that has one (a VIP, a unicast peer, a source address,
/// `mcast_dst_ip`, `native_ipv6`) and skips, with a lined message, every later one of the
/// other family. Returns whether the instance is IPv6.
fn address_family(inst: &mut VrrpInstance, diagnostics: &mut Diagnostics) -> bool {
    use crate::model::FamilyUseKind as Kind;
    // (reading order, IPv6, what: Err(VIP index) or Ok(family use index))
    let mut lines: Vec<(u32, bool, Result<usize, usize>)> = inst
        .virtual_ipaddresses
        .iter()
        .enumerate()
        .map(|(i, a)| (a.location.order, a.address.is_ipv6(), Err(i)))
        .chain(inst.family_uses.iter().enumerate().map(|(i, u)| {
            (
                u.location.order,
                u.kind == Kind::NativeIpv6 || u.address.is_ipv6(),
                Ok(i),
            )
        }))
        .collect();
    lines.sort_by_key(|&(order, _, _)| order);
    let Some(&(_, want_v6, _)) = lines.first() else {
        return inst.native_ipv6;
    };
    let name = inst.name.clone();
    let mut skipped_vips = Vec::new();
    let mut skipped_peers = Vec::new();
    for &(_, v6, what) in &lines {
        if v6 == want_v6 {
            continue;
        }
        let i = match what {
            Ok(i) => i,
            Err(vip) => {
                skipped_vips.push(vip);
                continue;
            }
        };
        let used = &inst.family_uses[i];
        let address = used.address;
        let message = match used.kind {
            Kind::McastDst => format!(
                "({name}) mcast dest address {address} MUST match VRRP instance family. Skipping..."
            ),
            Kind::UnicastPeer => {
                skipped_peers.push(address);
                format!(
                    "Configuration error: VRRP instance[{name}] and unicast peer address[{address}] MUST be of the same family !!! Skipping..."
                )
            }
            Kind::Source => {
                if inst.mcast_src_ip == Some(address) {
                    inst.mcast_src_ip = None;
                }
                if inst.unicast_src_ip == Some(address) {
                    inst.unicast_src_ip = None;
                }
                format!(
                    "Configuration error: VRRP instance[{name}] and src address[{address}] MUST be of the same family !!! Skipping..."
                )
            }
            Kind::NativeIpv6 => {
                inst.native_ipv6 = false;
                format!("({name}) Cannot specify native_ipv6 with IPv4 addresses")
            }
        };
        diagnostics.error(&used.location.clone(), message);
    }
    let had_peers = !inst.unicast_peers.is_empty();
    inst.unicast_peers.retain(|p| !skipped_peers.contains(p));
    if had_peers && inst.unicast_peers.is_empty() {
        // Every peer was of the other family: 2.2.7 then falls back to multicast, with the
        // warning the build gives an instance without peers (it completes the instance after
        // skipping them).
        diagnostics.push_at_completion(Diagnostic::new(
            Severity::Warning,
            None,
            format!(
                "({name}) A unicast keyword has been specified without any unicast peers. \
                 Defaulting to multicast. This usage is deprecated - please update your \
                 configuration."
            ),
        ));
    }
    let mut index = 0;
    inst.virtual_ipaddresses.retain(|vip| {
        let same = !skipped_vips.contains(&index);
        index += 1;
        if !same {
            diagnostics.error(
                &vip.location,
                format!(
                    "({name}): address family must match VRRP instance [{}] - ignoring",
                    vip.written
                ),
            );
        }
        same
    });
    want_v6
}

/// Rules inside one instance (RFC 3768 section 6.1 for preemption and the owner).
fn instance_consistency(
    inst: &mut VrrpInstance,
    strict: bool,
    version: u8,
    ipv6: bool,
    diagnostics: &mut Diagnostics,
) {
    let name = inst.name.clone();
    initial_state_and_authentication(inst, strict, version, ipv6, diagnostics);
    crate::validate_strict::first_address(inst, strict, ipv6, diagnostics);
    if inst.nopreempt && inst.priority == 255 {
        unlocated(
            diagnostics,
            Severity::Warning,
            format!("({name}) nopreempt is incompatible with priority 255. resetting nopreempt"),
        );
        inst.nopreempt = false;
    } else if inst.nopreempt && inst.state == InitialState::Master {
        unlocated(
            diagnostics,
            Severity::Warning,
            format!(
                "({name}) Warning - nopreempt will not work with initial state MASTER - clearing"
            ),
        );
        inst.nopreempt = false;
    }
    if inst.preempt_delay > 0.0 {
        if inst.nopreempt {
            unlocated(
                diagnostics,
                Severity::Warning,
                format!("({name}) preempt_delay is incompatible with nopreempt mode - resetting"),
            );
            inst.preempt_delay = 0.0;
        } else if inst.state == InitialState::Master {
            unlocated(
                diagnostics,
                Severity::Warning,
                format!(
                    "({name}) Warning - preempt delay will not work with initial state MASTER - clearing"
                ),
            );
            inst.preempt_delay = 0.0;
        }
    }
    crate::validate_strict::settings(inst, strict, version, diagnostics);
    // RFC 5798 section 5.2.7: the interval is 12 bits of centiseconds, at most 40.95 s.
    if version == 3 && inst.advert_int >= 40.96 {
        unlocated(
            diagnostics,
            Severity::Warning,
            format!(
                "({name}) VRRPv3 advertisement interval {:.2}s is out of range. Must be less \
                 than 40.96s. Setting to 40.95s",
                inst.advert_int
            ),
        );
        inst.advert_int = 40.95;
    }
    if version == 2 && inst.advert_int.fract() != 0.0 {
        unlocated(
            diagnostics,
            Severity::Warning,
            format!(
                "({name}) VRRPv2 advertisement interval {:.6}s must be an integer. rounding",
                inst.advert_int
            ),
        );
        inst.advert_int = inst.advert_int.round().max(1.0);
    }
    if inst.virtual_ipaddresses.is_empty() {
        // (an instance that requires one stopped the completion before its checks)
        unlocated(
            diagnostics,
            Severity::Warning,
            format!("({name}) No VIP specified; at least one is sensible"),
        );
    }
}

/// A sync group moves its members together, so a member's own weighted tracking would make
/// them drift apart: unless the group has `sync_group_tracking_weight`, keepalived 2.2.7
/// ignores a member's weighted track_interface (tracked without weight) and drops its
/// weighted tracked scripts and files, and clears the weights of the group's own tracked
/// scripts and interfaces when a member owns its address (priority 255).
fn sync_group_weights(config: &mut Config, diagnostics: &mut Diagnostics) {
    let script_weights: HashMap<String, i32> = config
        .scripts
        .iter()
        .map(|s| (s.name.clone(), s.weight))
        .collect();
    let file_weights = {
        let defined = defined_at(
            config
                .track_files
                .iter()
                .map(|t| (t.name.as_str(), &t.location)),
        );
        let weights: HashMap<&str, i32> = config
            .track_files
            .iter()
            .rev()
            .map(|t| (t.name.as_str(), t.weight))
            .collect();
        defined
            .into_iter()
            .filter_map(|(name, order)| Some((name.to_string(), (order, *weights.get(name)?))))
            .collect::<HashMap<String, (u32, i32)>>()
    };
    let mut warn = |message: String| unlocated(diagnostics, Severity::Warning, message);
    for group in &mut config.sync_groups {
        let members: Vec<&mut Box<VrrpInstance>> = config
            .instances
            .iter_mut()
            .filter(|i| group.instances.iter().any(|m| m == i.name.as_str()))
            .collect();
        let has_owner = members.iter().any(|i| i.priority == 255);
        if !group.sync_group_tracking_weight {
            for inst in members {
                let name = inst.name.clone();
                for t in inst.track_interfaces.iter_mut() {
                    if t.weight.is_some_and(|w| w != 0) {
                        warn(format!(
                            "({name}) ignoring {} tracked interface weight due to SYNC group",
                            t.name
                        ));
                        t.weight = Some(0);
                        t.reverse = Some(false);
                    }
                }
                inst.track_scripts.retain(|t| {
                    let weight = t.weight.unwrap_or_else(|| {
                        script_weights.get(t.name.as_str()).copied().unwrap_or(0)
                    });
                    if weight != 0 {
                        warn(format!(
                            "({name}) ignoring tracked script {} with weights due to SYNC group",
                            t.name
                        ));
                    }
                    weight == 0
                });
                // A second entry for a file is left for the duplicate check.
                let mut seen = HashSet::new();
                inst.track_files.retain_mut(|t| {
                    let Some(&(order, own)) = file_weights.get(t.name.as_str()) else {
                        return true;
                    };
                    if order >= t.location.order || !seen.insert(t.name.clone()) {
                        return true;
                    }
                    let weight = t.weight.unwrap_or(own);
                    if weight == 1 {
                        // The default weight: 2.2.7 keeps the file, without weight.
                        warn(format!(
                            "({name}) ignoring weight from tracked file {} due to SYNC group. specify weight 0",
                            t.name
                        ));
                        t.weight = Some(0);
                        t.reverse = Some(false);
                        return true;
                    }
                    if weight != 0 {
                        warn(format!(
                            "({name}) ignoring tracked file {} with weight {weight} due to SYNC group",
                            t.name
                        ));
                    }
                    weight == 0
                });
            }
        }
        if has_owner {
            let group_name = group.name.clone();
            for t in group.track_scripts.iter_mut() {
                let weight = t
                    .weight
                    .unwrap_or_else(|| script_weights.get(t.name.as_str()).copied().unwrap_or(0));
                if weight != 0 {
                    warn(format!(
                        "({group_name}) Cannot have weighted track script '{}' with member having priority 255 - clearing weight",
                        t.name
                    ));
                    t.weight = Some(0);
                    t.reverse = Some(false);
                }
            }
            for t in group.track_interfaces.iter_mut() {
                if t.weight.is_some_and(|w| w != 0) {
                    warn(format!(
                        "({group_name}) Cannot have weighted track interface '{}' with member having priority 255 - clearing weight",
                        t.name
                    ));
                    t.weight = Some(0);
                    t.reverse = Some(false);
                }
            }
        }
    }
}

/// An address owner (priority 255) never changes its priority, so weighted tracking is
/// dropped (RFC 3768 section 5.3.4: the owner always advertises 255).
fn address_owner_weights(config: &mut Config, diagnostics: &mut Diagnostics) {
    let weights: HashMap<String, i32> = config
        .scripts
        .iter()
        .map(|s| (s.name.clone(), s.weight))
        .collect();
    for inst in config.instances.iter_mut().filter(|i| i.priority == 255) {
        let name = inst.name.clone();
        inst.track_scripts.retain(|t| {
            let weight = t
                .weight
                .unwrap_or_else(|| weights.get(t.name.as_str()).copied().unwrap_or(0));
            if weight != 0 {
                unlocated(
                    diagnostics,
                    Severity::Warning,
                    format!(
                        "({name}) ignoring tracked script {} with weights due to address_owner",
                        t.name
                    ),
                );
            }
            weight == 0
        });
    }
}

/// Two instances may not share a VRID on one interface and address family (RFC 3768
/// section 5.3.3: the VRID names the virtual router on the LAN).
fn duplicate_vrids(config: &Config, diagnostics: &mut Diagnostics) {
    // One bit per (VRID, family) and interface: 64 bytes an interface instead of a map entry
    // an instance, which counts when `-t` holds ten thousand of them at its peak.
    let default = config.global.default_interface.as_str();
    let mut used: HashMap<&str, [u64; 8]> = HashMap::new();
    let with_vrid: Vec<&VrrpInstance> = config
        .instances
        .iter()
        .filter(|i| i.virtual_router_id != 0)
        .map(|i| &**i)
        .collect();
    for (index, inst) in with_vrid.iter().enumerate() {
        let (interface, vrid, ipv6) = vrid_key(inst, default);
        let bit = usize::from(vrid) * 2 + usize::from(ipv6);
        let word = &mut used.entry(interface).or_insert([0; 8])[bit / 64];
        if *word & (1 << (bit % 64)) == 0 {
            *word |= 1 << (bit % 64);
            continue;
        }
        // A duplicate (rare): the instance it clashes with is the latest earlier one.
        let this = (interface, vrid, ipv6);
        let Some(other) = with_vrid[..index]
            .iter()
            .rev()
            .find(|o| vrid_key(o, default) == this)
        else {
            continue;
        };
        let family = if ipv6 { "IPv6" } else { "IPv4" };
        unlocated(
            diagnostics,
            Severity::Error,
            format!(
                "{} and {} both use VRID {vrid} with {family} on interface {}",
                other.name, inst.name, this.0
            ),
        );
    }
}

/// What must be unique among instances: interface, VRID and address family (IPv6 when the
/// first VIP is).
fn vrid_key<'a>(inst: &'a VrrpInstance, default_interface: &'a str) -> (&'a str, u8, bool) {
    let interface = inst.interface.as_deref().unwrap_or(default_interface);
    let ipv6 = inst
        .virtual_ipaddresses
        .first()
        .is_some_and(|a| a.address.is_ipv6());
    (interface, inst.virtual_router_id, ipv6)
}

/// Sync groups may only name instances that exist, each in one group only: a member named
/// again (in a later group, or twice in one) is dropped from the group naming it again, as
/// 2.2.7 does ("Virtual router VI_1 cannot exist in more than one sync group; ignoring SG",
/// observed: the group then has one member fewer).
fn sync_group_members(config: &mut Config, diagnostics: &mut Diagnostics) {
    if config.sync_groups.is_empty() {
        return;
    }
    let instances: HashSet<&str> = config.instances.iter().map(|i| i.name.as_str()).collect();
    let mut grouped: HashSet<String> = HashSet::new();
    for group in &mut config.sync_groups {
        let name = group.name.clone();
        group.instances.retain(|member| {
            if !instances.contains(member.as_str()) {
                unlocated(
                    diagnostics,
                    Severity::Warning,
                    format!(
                        "Virtual router {member} specified in sync group {name} doesn't exist - ignoring"
                    ),
                );
                // Left in the list: the group's size counts only existing members.
                return true;
            }
            if !grouped.insert(member.clone()) {
                unlocated(
                    diagnostics,
                    Severity::Warning,
                    format!(
                        "Virtual router {member} cannot exist in more than one sync group; ignoring {name}"
                    ),
                );
                return false;
            }
            true
        });
        sync_group_size(group, &instances, diagnostics);
    }
}

/// A sync group needs virtual routers to synchronise: none is an error, one a warning (said
/// right after the group's members, as 2.2.7 orders them).
fn sync_group_size(group: &SyncGroup, instances: &HashSet<&str>, diagnostics: &mut Diagnostics) {
    let existing = group
        .instances
        .iter()
        .filter(|m| instances.contains(m.as_str()))
        .count();
    let name = &group.name;
    let message = match existing {
        0 if group.instances.is_empty() => {
            format!("Sync group {name} has no virtual router(s). removing")
        }
        0 => format!(
            "Sync group {name}, no matching virtual router found in group declaration - removing"
        ),
        1 => format!(
            "Sync group {name} has only 1 virtual router(s) - this probably isn't what you want"
        ),
        _ => return,
    };
    unlocated(diagnostics, Severity::Warning, message);
}

/// A group entry's address range as 2.2.7 writes it: `192.0.2.53-55` as
/// `192.0.2.53-192.0.2.55` (the range's end replaces the address's last part).
fn group_range(text: &str) -> String {
    let Some((start, end)) = text.split_once('-') else {
        return text.to_string();
    };
    let separator = if start.contains(':') { ':' } else { '.' };
    match start.rsplit_once(separator) {
        Some((head, _)) => format!("{start}-{head}{separator}{end}"),
        None => text.to_string(),
    }
}

/// The persistence timeout keepalived gives a zero-port service that has none (6 minutes,
/// as for `persistence_timeout` written without a value).
const DEFAULT_PERSISTENCE_TIMEOUT: u32 = 6 * 60;

/// A virtual server needs real servers, and keepalived warns about defaults it has to pick.
/// Services are named as 2.2.7 names them there: `[ADDR]:PROTO:PORT` (`none` until the
/// protocol is defaulted), `FWM N`, and `[GROUP]:N` for the Nth service using a group.
fn checker_services(config: &mut Config, diagnostics: &mut Diagnostics) {
    let mut group_uses: HashMap<&str, u32> = HashMap::new();
    // Services whose one-packet scheduling 2.2.7 resets (it needs UDP).
    let mut ops_reset = Vec::new();
    // Zero-port services 2.2.7 makes persistent with its default timeout.
    let mut made_persistent = Vec::new();
    for (index, vs) in config.virtual_servers.iter().enumerate() {
        let protocol = vs.protocol.as_deref().map(str::to_ascii_lowercase);
        let (needs_protocol, name) = match &vs.key {
            ServiceKey::Address(..) => (true, None),
            ServiceKey::Fwmark(_) => (false, Some(vs.key.to_string())),
            ServiceKey::Group(group) => {
                let uses = group_uses.entry(group.as_str()).or_default();
                let shown = format!("[{group}]:{uses}");
                *uses += 1;
                (group_has_addresses(config, group), Some(shown))
            }
        };
        let shown = |protocol: &str| match (&vs.key, &name) {
            (ServiceKey::Address(addr, port), _) => format!("[{addr}]:{protocol}:{port}"),
            (_, Some(name)) => name.clone(),
            (_, None) => vs.key.to_string(),
        };
        // A fwmark service, or a group of fwmarks only, has no protocol: one written is
        // dropped; a group with a fwmark entry gives its real servers no port there.
        let (fwmark_only, has_fwmark) = match &vs.key {
            ServiceKey::Fwmark(_) => (true, true),
            ServiceKey::Group(group) => (
                !group_has_addresses(config, group),
                group_has_fwmark(config, group),
            ),
            ServiceKey::Address(..) => (false, false),
        };
        // A service without real servers is dropped before its protocol is looked at: no
        // fwmark protocol line for it (2.2.7, observed: chk-sorry-server-family).
        if vs.real_servers.is_empty() {
            let shown_protocol = protocol.as_deref().unwrap_or("none");
            let line = format!(
                "Virtual server {} has no real servers - ignoring",
                shown(shown_protocol)
            );
            checker_line(diagnostics, line);
            continue;
        }
        let protocol = if fwmark_only && protocol.is_some() {
            let line = format!(
                "Warning: Virtual server {}: protocol specified for fwmark - protocol will be ignored",
                shown("")
            );
            checker_line(diagnostics, line);
            None
        } else {
            protocol
        };
        let mut protocol = protocol.unwrap_or_else(|| "none".to_string());
        // NAT (the default) keeps a real server's port behind a fwmark: 2.2.7 warns only for
        // DR and TUN (observed with its shipped virtual_server_group sample).
        let masquerading = vs.lb_kind.as_deref().is_none_or(|kind| kind == "NAT");
        // The fwmark port lines name the protocol as read (before the UDP default).
        let fwmark_protocol = protocol.clone();
        if protocol == "none" && needs_protocol {
            let line = format!(
                "Virtual server {}: no protocol set - defaulting to UDP",
                shown(&protocol)
            );
            checker_line(diagnostics, line);
            protocol = "udp".to_string();
        }
        // 2.2.7's order (checker VM scenario 10): the zero-port line, the defaults, then the
        // real servers' port lines.
        if vs.persistence_timeout.is_none() && has_zero_port(config, &vs.key) {
            let line = format!(
                "Virtual server {}: zero port only valid for persistent services - setting",
                shown(&protocol)
            );
            checker_line(diagnostics, line);
            made_persistent.push(index);
        }
        let defaults = [
            (
                vs.lb_algo.is_none(),
                "no scheduler set, setting default 'wlc'",
            ),
            (
                vs.lb_kind.is_none(),
                "no forwarding method set, setting default NAT",
            ),
        ];
        for (missing, message) in defaults {
            if missing {
                let line = format!("Virtual server {}: {message}", shown(&protocol));
                checker_line(diagnostics, line);
            }
        }
        if has_fwmark && !masquerading {
            let protocol = &fwmark_protocol;
            let action = if matches!(vs.key, ServiceKey::Group(_)) {
                "port will be ignored"
            } else {
                "clearing"
            };
            for rs in vs.real_servers.iter().filter(|rs| rs.port != 0) {
                let line = format!(
                    "WARNING - fwmark virtual server {}, real server [{}]:{protocol}:{} has \
                     port specified - {action}",
                    shown(protocol),
                    rs.address,
                    rs.port
                );
                checker_line(diagnostics, line);
            }
        }
        if vs.ops && protocol != "udp" && !matches!(vs.key, ServiceKey::Fwmark(_)) {
            let line = format!(
                "Virtual server {}: one packet scheduling requires UDP - resetting",
                shown(&protocol)
            );
            checker_line(diagnostics, line);
            ops_reset.push(index);
        }
        if let (ServiceKey::Address(_, 0), false) = (&vs.key, masquerading) {
            // With DR or TUN the IPVS destination gets port 0 (checker plan); the checks keep
            // the port. NAT (also the default) keeps it, silently (observed in 2.2.7).
            for rs in vs.real_servers.iter().filter(|rs| rs.port != 0) {
                let line = format!(
                    "WARNING - virtual server {} and real server [{}]:{protocol}:{} ports \
                     don't match - resetting",
                    shown(&protocol),
                    rs.address,
                    rs.port
                );
                checker_line(diagnostics, line);
            }
        }
        // A group's address entries whose port is not a real server's (DR or TUN, which carry
        // the service's port): named, the kernel uses the service's (2.2.7, observed).
        if let (ServiceKey::Group(group), false) = (&vs.key, masquerading) {
            let entries = config
                .virtual_server_groups
                .iter()
                .find(|g| g.name == *group)
                .map(|g| g.entries.as_slice())
                .unwrap_or_default();
            for rs in vs.real_servers.iter().filter(|rs| rs.port != 0) {
                for entry in entries
                    .iter()
                    .filter(|e| e.first().is_some_and(|w| w != "fwmark"))
                {
                    let port = entry
                        .get(1)
                        .and_then(|p| p.parse::<u16>().ok())
                        .unwrap_or(0);
                    if port == rs.port {
                        continue;
                    }
                    let range = entry.first().map_or(String::new(), |r| group_range(r));
                    let line = format!(
                        "virtual server {}:[{range},{port}] and real server [{}]:{protocol}:{} \
                         ports don't match",
                        shown(&protocol),
                        rs.address,
                        rs.port
                    );
                    checker_line(diagnostics, line);
                }
            }
        }
        // The sorry server's port, cleared as the real servers' are (its own
        // sorry_server_lvs_method first); 2.2.7 in the QEMU lab (checker VM scenario 11).
        let sorry_port = vs
            .sorry_server
            .as_ref()
            .and_then(|words| words.get(1))
            .and_then(|port| port.parse::<u16>().ok())
            .filter(|port| *port != 0);
        let sorry_masquerading = vs
            .other
            .iter()
            .rev()
            .find(|s| s.keyword == "sorry_server_lvs_method")
            .and_then(|s| s.args.first())
            .map_or(masquerading, |kind| kind == "NAT");
        if sorry_port.is_some() && !sorry_masquerading {
            let line = match &vs.key {
                ServiceKey::Fwmark(_) => Some(format!(
                    "WARNING - virtual server {}, sorry server has port specified - clearing",
                    shown(&fwmark_protocol)
                )),
                ServiceKey::Address(_, 0) => Some(format!(
                    "WARNING - virtual server {} and sorry server ports don't match - resetting",
                    shown(&protocol)
                )),
                _ => None,
            };
            if let Some(line) = line {
                checker_line(diagnostics, line);
            }
        }
    }
    for index in ops_reset {
        config.virtual_servers[index].ops = false;
    }
    for index in made_persistent {
        config.virtual_servers[index].persistence_timeout = Some(DEFAULT_PERSISTENCE_TIMEOUT);
    }
}

/// Whether a service listens on port 0: its own port, or a group entry without a port or
/// with port 0.
fn has_zero_port(config: &Config, key: &ServiceKey) -> bool {
    match key {
        ServiceKey::Address(_, port) => *port == 0,
        ServiceKey::Fwmark(_) => false,
        ServiceKey::Group(group) => config
            .virtual_server_groups
            .iter()
            .filter(|g| &g.name == group)
            .flat_map(|g| &g.entries)
            .filter(|entry| entry.first().is_some_and(|w| w != "fwmark"))
            .any(|entry| {
                entry
                    .get(1)
                    .is_none_or(|p| crate::values::read_unsigned(p, 0, 65535) == Ok(0))
            }),
    }
}

/// Whether the group `group` has a fwmark entry.
fn group_has_fwmark(config: &Config, group: &str) -> bool {
    config
        .virtual_server_groups
        .iter()
        .filter(|g| g.name == group)
        .flat_map(|g| &g.entries)
        .any(|entry| entry.first().is_some_and(|w| w == "fwmark"))
}

/// Whether a virtual_server_group lists an address entry (not only fwmarks): only then does a
/// service using it need a protocol.
fn group_has_addresses(config: &Config, group: &str) -> bool {
    config
        .virtual_server_groups
        .iter()
        .filter(|g| g.name == group)
        .flat_map(|g| &g.entries)
        .any(|entry| entry.first().is_some_and(|w| w != "fwmark"))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::{FakeHost, LoadOptions, Loaded, load_str};

    /// `text` read as `/k.conf` on the lab host.
    fn load(text: &str) -> Loaded {
        load_str(
            text,
            Path::new("/k.conf"),
            &LoadOptions::for_host(&FakeHost::lab()),
        )
    }

    /// The messages of `loaded`'s diagnostics, in order.
    fn messages(loaded: &Loaded) -> Vec<&str> {
        loaded
            .diagnostics
            .iter()
            .map(|d| d.message.as_str())
            .collect()
    }

    #[test]
    fn peers_all_of_the_other_family_fall_back_to_multicast() {
        let text = "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n \
                    virtual_ipaddress {\n 192.0.2.1\n }\n unicast_peer {\n 2001:db8::2\n }\n}\n";
        let loaded = load(text);
        assert!(loaded.config.instances[0].unicast_peers.is_empty());
        assert!(
            loaded.diagnostics.iter().any(|d| d
                .message
                .starts_with("(A) A unicast keyword has been specified")),
            "{:?}",
            loaded.diagnostics
        );
    }

    #[test]
    fn an_instance_that_requires_a_vip_ends_the_completion() {
        let text = "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n \
                    native_ipv6\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n\
                    vrrp_instance B {\n interface eth0\n virtual_router_id 1\n \
                    state MASTER\n nopreempt\n virtual_ipaddress {\n 192.0.2.2\n }\n}\n";
        let loaded = load(text);
        let messages = messages(&loaded);
        assert!(
            messages
                .contains(&"(A): address family must match VRRP instance [192.0.2.1] - ignoring"),
            "{messages:?}"
        );
        assert!(
            messages.contains(&"(A) No VIP specified; at least one is required"),
            "{messages:?}"
        );
        // B is never completed: neither its nopreempt nor the shared VRID is reported.
        assert!(
            !messages
                .iter()
                .any(|m| m.starts_with("(B)") || m.contains("both use VRID")),
            "{messages:?}"
        );
    }

    #[test]
    fn a_zero_port_service_gets_keepalived_s_default_persistence() {
        let text = "virtual_server 192.0.2.10 0 {\n protocol TCP\n lb_kind DR\n \
                    real_server 192.0.2.11 80 {\n \
                    }\n real_server 192.0.2.12 0 {\n }\n}\n\
                    virtual_server 192.0.2.20 80 {\n protocol TCP\n real_server 192.0.2.21 8080 {\n }\n}\n";
        let loaded = load(text);
        let messages = messages(&loaded);
        assert!(
            messages
                .iter()
                .any(|m| m.contains("ports don't match - resetting")),
            "{messages:?}"
        );
        let zero = &loaded.config.virtual_servers[0];
        assert_eq!(zero.persistence_timeout, Some(360));
        let other = &loaded.config.virtual_servers[1];
        assert_eq!(other.persistence_timeout, None);
        assert_eq!(other.real_servers[0].port, 8080);
    }

    /// keepalived 2.2.7 says "ports don't match - resetting" for a zero-port service's real
    /// server with a port only with DR or TUN: with NAT, written or by default, the port is
    /// kept silently (checker VM scenario 10, `chk-vs-zero-port`).
    #[test]
    fn a_zero_port_nat_service_keeps_its_real_servers_ports_silently() {
        for kind in ["lb_kind NAT\n", "", "lb_kind DR\n", "lb_kind TUN\n"] {
            let text = format!(
                "virtual_server 192.0.2.10 0 {{\n protocol TCP\n {kind} \
                 persistence_timeout 50\n real_server 192.0.2.11 80 {{\n }}\n}}\n"
            );
            let loaded = load(&text);
            let warned = loaded
                .diagnostics
                .iter()
                .any(|d| d.message.contains("ports don't match - resetting"));
            assert_eq!(
                warned,
                kind.contains("DR") || kind.contains("TUN"),
                "{kind:?}"
            );
        }
    }

    /// A sorry server's port under DR or TUN: cleared under a fwmark, reset under a
    /// zero-port service, each with 2.2.7's warning after the real servers' (checker VM
    /// scenario 11); under NAT, or without a port, nothing is said.
    #[test]
    fn a_sorry_servers_port_is_cleared_under_dr_and_tun() {
        let text = "virtual_server fwmark 12 {\n lb_algo rr\n lb_kind DR\n \
                    sorry_server 192.0.2.156 8080\n real_server 192.0.2.163 80 {\n }\n}\n\
                    virtual_server fwmark 14 {\n lb_algo rr\n lb_kind NAT\n \
                    sorry_server 192.0.2.156 8080\n real_server 192.0.2.165 80 {\n }\n}\n\
                    virtual_server fwmark 16 {\n lb_algo rr\n lb_kind DR\n \
                    sorry_server 192.0.2.156 8080\n sorry_server_lvs_method NAT\n \
                    real_server 192.0.2.168 0 {\n }\n}\n\
                    virtual_server 198.51.100.151 0 {\n lb_algo rr\n lb_kind TUN\n \
                    protocol TCP\n persistence_timeout 30\n sorry_server 192.0.2.156 8080\n \
                    real_server 192.0.2.158 80 {\n }\n}\n\
                    virtual_server 198.51.100.152 0 {\n lb_algo rr\n lb_kind TUN\n \
                    protocol TCP\n persistence_timeout 30\n sorry_server 192.0.2.156\n \
                    real_server 192.0.2.167 0 {\n }\n}\n";
        let loaded = load(text);
        let messages: Vec<&str> = messages(&loaded)
            .into_iter()
            .filter(|m| m.contains("WARNING"))
            .collect();
        assert_eq!(
            messages,
            [
                "WARNING - fwmark virtual server FWM 12, real server [192.0.2.163]:none:80 has port specified - clearing",
                "WARNING - virtual server FWM 12, sorry server has port specified - clearing",
                "WARNING - virtual server [198.51.100.151]:tcp:0 and real server [192.0.2.158]:tcp:80 ports don't match - resetting",
                "WARNING - virtual server [198.51.100.151]:tcp:0 and sorry server ports don't match - resetting",
            ]
        );
    }

    /// The checker's lines come in 2.2.7's order (checker VM scenario 10's log): the zero-port
    /// line before the defaults, a fwmark real server's port line after them.
    #[test]
    fn checker_lines_follow_keepalived_s_order() {
        let text = "virtual_server fwmark 27 {\n lb_kind DR\n protocol TCP\n \
                    real_server 192.0.2.143 8080 {\n }\n}\n\
                    virtual_server 192.0.2.142 0 {\n protocol TCP\n \
                    real_server 192.0.2.145 80 {\n }\n}\n";
        let loaded = load(text);
        let messages: Vec<&str> = messages(&loaded)
            .into_iter()
            .filter(|m| m.contains("Virtual server") || m.contains("WARNING"))
            .collect();
        assert_eq!(
            messages,
            [
                "Warning: Virtual server FWM 27: protocol specified for fwmark - protocol will be ignored",
                "Virtual server FWM 27: no scheduler set, setting default 'wlc'",
                "WARNING - fwmark virtual server FWM 27, real server [192.0.2.143]:none:8080 has port specified - clearing",
                "Virtual server [192.0.2.142]:tcp:0: zero port only valid for persistent services - setting",
                "Virtual server [192.0.2.142]:tcp:0: no scheduler set, setting default 'wlc'",
                "Virtual server [192.0.2.142]:tcp:0: no forwarding method set, setting default NAT",
            ]
        );
    }
}
