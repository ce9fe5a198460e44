//! Cross-block checks of the VRRP side that keepalived 2.2.7 makes: `track_file` /
//! `track_process` / `track_bfd` names that nothing defines (while reading), and sync groups
//! left with fewer than two virtual routers (after reading). Wording follows 2.2.7's `-t`.

use std::collections::{HashMap, HashSet};

use crate::build::track_list::settle;
use crate::diagnostic::{Diagnostic, Diagnostics, Severity};
use crate::model::{Config, ThinVec, TrackRef};
use crate::validate::defined_at;

/// Runs the checks, dropping references that cannot work as keepalived does.
pub fn validate(config: &mut Config, diagnostics: &mut Diagnostics) {
    interfaces_tracked_twice(config, diagnostics);
}

/// An interface a sync group tracks that a member instance tracks too (its own interface
/// counts: an instance always follows it) is warned about, as 2.2.7 does.
fn interfaces_tracked_twice(config: &Config, diagnostics: &mut Diagnostics) {
    for group in &config.sync_groups {
        for member in &group.instances {
            let Some(inst) = config.instances.iter().find(|i| i.name == *member) else {
                continue;
            };
            for tracked in &group.track_interfaces {
                let own = inst.interface.as_deref() == Some(tracked.name.as_str());
                let listed = inst.track_interfaces.iter().any(|t| t.name == tracked.name);
                if own || listed {
                    diagnostics.push(Diagnostic::new(
                        Severity::Warning,
                        None,
                        format!(
                            "({}) track_interface {} is configured on VRRP instance and sync group. Remove vrrp instance or sync group config",
                            inst.name, tracked.name
                        ),
                    ));
                }
            }
        }
    }
}

/// Drops the references to names not defined before them in reading order (2.2.7 looks each
/// one up as it reads it).
fn drop_unknown(
    owner: &str,
    what: &str,
    refs: &mut ThinVec<TrackRef>,
    defined: &HashMap<&str, u32>,
    diagnostics: &mut Diagnostics,
) {
    let mut seen = HashSet::new();
    refs.retain(|t| {
        if defined
            .get(t.name.as_str())
            .is_some_and(|&order| order < t.location.order)
        {
            if seen.contains(&t.name) {
                diagnostics.error(
                    &t.location,
                    format!("({owner}) duplicate track_{what} {} - ignoring", t.name),
                );
                return false;
            }
            // An entry its own words leave out is not there for a later duplicate.
            if !settle(t, diagnostics) {
                return false;
            }
            seen.insert(t.name.clone());
            return true;
        }
        diagnostics.error(
            &t.location,
            format!("({owner}) track {what} {} not found, ignoring...", t.name),
        );
        false
    });
}

/// Every tracked file, process and BFD instance must be defined at the top level, before the
/// reference (looked up while the file is read, so also when checking stops after reading).
pub(crate) fn tracked_objects_exist(config: &mut Config, diagnostics: &mut Diagnostics) {
    let files = defined_at(
        config
            .track_files
            .iter()
            .map(|t| (t.name.as_str(), &t.location)),
    );
    let processes = defined_at(
        config
            .track_processes
            .iter()
            .map(|t| (t.name.as_str(), &t.location)),
    );
    let bfds = defined_at(
        config
            .bfd_instances
            .iter()
            .map(|b| (b.name.as_str(), &b.location)),
    );
    for inst in &mut config.instances {
        let owner = inst.name.clone();
        drop_unknown(&owner, "file", &mut inst.track_files, &files, diagnostics);
        drop_unknown(
            &owner,
            "process",
            &mut inst.track_processes,
            &processes,
            diagnostics,
        );
        drop_unknown(&owner, "bfd", &mut inst.track_bfds, &bfds, diagnostics);
    }
    for group in &mut config.sync_groups {
        let owner = group.name.clone();
        drop_unknown(&owner, "file", &mut group.track_files, &files, diagnostics);
        drop_unknown(
            &owner,
            "process",
            &mut group.track_processes,
            &processes,
            diagnostics,
        );
        drop_unknown(&owner, "bfd", &mut group.track_bfds, &bfds, diagnostics);
    }
}
