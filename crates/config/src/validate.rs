//! Checks that need the whole configuration: references between blocks, duplicate VRIDs, and
//! whether tracked scripts can run (file present, script security).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::diagnostic::{Diagnostic, Diagnostics, Severity};
use crate::host::Host;
use crate::model::{Command, Config, RunAs};

/// Runs every cross-block check, dropping references that cannot work as keepalived does.
pub fn validate(config: &mut Config, host: &dyn Host, diagnostics: &mut Diagnostics) {
    tracked_scripts_exist(config, diagnostics);
    duplicate_vrids(config, diagnostics);
    sync_group_members(config, diagnostics);
    scripts_can_run(config, host, diagnostics);
    // Instances without a valid VRID were kept only so their references could be checked.
    config.instances.retain(|i| i.virtual_router_id != 0);
}

/// `track_script` names must be defined by a vrrp_script.
fn tracked_scripts_exist(config: &mut Config, diagnostics: &mut Diagnostics) {
    let defined: HashSet<String> = config.scripts.iter().map(|s| s.name.clone()).collect();
    for inst in &mut config.instances {
        let name = inst.name.clone();
        inst.track_scripts.retain(|t| {
            let known = defined.contains(&t.name);
            if !known {
                diagnostics.error(
                    &t.location,
                    format!("({name}) track script {} not found, ignoring...", t.name),
                );
            }
            known
        });
    }
}

/// Two instances may not share a VRID on one interface (RFC 3768 section 5.3.3: the VRID
/// identifies the virtual router on the LAN).
fn duplicate_vrids(config: &Config, diagnostics: &mut Diagnostics) {
    let mut seen: HashMap<(String, u8, bool), &str> = HashMap::new();
    for inst in config.instances.iter().filter(|i| i.virtual_router_id != 0) {
        let interface = inst
            .interface
            .clone()
            .unwrap_or_else(|| config.global.default_interface.clone());
        let ipv6 = inst
            .virtual_ipaddresses
            .first()
            .is_some_and(|a| a.address.is_ipv6());
        if let Some(other) = seen.insert(
            (interface.clone(), inst.virtual_router_id, ipv6),
            &inst.name,
        ) {
            diagnostics.error(
                &inst.location,
                format!(
                    "VRID {} is used by both {} and {} on interface {interface}",
                    inst.virtual_router_id, other, inst.name
                ),
            );
        }
    }
}

/// Sync groups may only name instances that exist.
fn sync_group_members(config: &Config, diagnostics: &mut Diagnostics) {
    let instances: HashSet<&str> = config.instances.iter().map(|i| i.name.as_str()).collect();
    for group in &config.sync_groups {
        for member in &group.instances {
            if !instances.contains(member.as_str()) {
                diagnostics.error(
                    &group.location,
                    format!("Virtual router {member} specified in sync group {} doesn't exist - ignoring", group.name),
                );
            }
        }
    }
}

/// Every script that will run: tracked vrrp_scripts and notify commands.
fn commands_to_run(config: &Config) -> Vec<(&Command, Option<&RunAs>)> {
    let tracked: HashSet<&str> = config
        .instances
        .iter()
        .flat_map(|i| i.track_scripts.iter())
        .chain(
            config
                .sync_groups
                .iter()
                .flat_map(|g| g.track_scripts.iter()),
        )
        .map(|t| t.name.as_str())
        .collect();
    let mut out = Vec::new();
    for script in &config.scripts {
        if let (true, Some(cmd)) = (tracked.contains(script.name.as_str()), &script.command) {
            out.push((cmd, script.user.as_ref()));
        }
    }
    for inst in &config.instances {
        for cmd in [
            &inst.notify_master,
            &inst.notify_backup,
            &inst.notify_fault,
            &inst.notify_stop,
            &inst.notify,
        ]
        .into_iter()
        .flatten()
        {
            out.push((cmd, None));
        }
    }
    for group in &config.sync_groups {
        for cmd in [
            &group.notify_master,
            &group.notify_backup,
            &group.notify_fault,
            &group.notify_stop,
            &group.notify,
        ]
        .into_iter()
        .flatten()
        {
            out.push((cmd, None));
        }
    }
    out
}

/// Script files must exist and be executable; under `enable_script_security` a script run as
/// root must not be writable by anyone else, nor any directory above it.
fn scripts_can_run(config: &Config, host: &dyn Host, diagnostics: &mut Diagnostics) {
    let commands = commands_to_run(config);
    if commands.is_empty() {
        return;
    }
    let global = &config.global;
    let default_user = match &global.script_user {
        Some(user) => Some(user.user.clone()),
        None => host
            .user("keepalived_script")
            .map(|_| "keepalived_script".to_string()),
    };
    if let Some(user) = &global.script_user
        && host.user(&user.user).is_none()
    {
        diagnostics.error(
            &commands[0].0.location,
            format!("script_user '{}' does not exist", user.user),
        );
    }
    let mut insecure = false;
    for (command, run_as) in &commands {
        let program = Path::new(&command.argv[0]);
        let Some(status) = host
            .file_status(program)
            .filter(|s| s.is_file && s.mode & 0o111 != 0)
        else {
            diagnostics.error(
                &command.location,
                format!("Script '{}' not found or not executable", program.display()),
            );
            continue;
        };
        let user = run_as
            .map(|r| r.user.clone())
            .or_else(|| default_user.clone());
        let runs_as_root = user
            .as_deref()
            .and_then(|u| host.user(u))
            .is_none_or(|(uid, _)| uid == 0);
        if !runs_as_root {
            continue;
        }
        if global.enable_script_security {
            if let Some(reason) = writable_by_others(host, program, status) {
                diagnostics.push(Diagnostic::new(
                    Severity::Security,
                    Some(command.location.clone()),
                    format!(
                        "Unsafe permissions found for script '{}' - {reason}",
                        program.display()
                    ),
                ));
            }
        } else {
            insecure = true;
        }
    }
    if insecure {
        diagnostics.push(Diagnostic::new(
            Severity::Security,
            None,
            "SECURITY VIOLATION - scripts are being executed but script_security not enabled.",
        ));
    }
}

/// Why a root-run script is unsafe: it, or a directory on its path, can be changed by a
/// non-root user.
fn writable_by_others(
    host: &dyn Host,
    program: &Path,
    status: crate::host::FileStatus,
) -> Option<String> {
    if status.uid != 0 || status.mode & 0o022 != 0 {
        return Some("the file is writable by a non-root user".to_string());
    }
    for dir in program.ancestors().skip(1) {
        if dir.as_os_str().is_empty() {
            break;
        }
        if let Some(d) = host.file_status(dir) {
            let sticky = d.mode & 0o1000 != 0;
            if d.uid != 0 || (d.mode & 0o022 != 0 && !sticky) {
                return Some(format!(
                    "directory '{}' is writable by a non-root user",
                    dir.display()
                ));
            }
        }
    }
    None
}
