//! vrrp_sync_group planning: what each group runs (its members, notify commands, alerts), and
//! how the group's tracking folds into its members' as keepalived 2.2.7 does it
//! (docs/compat.md, "Sync groups"):
//!
//! - the group's `track_script` / `track_interface` / `track_file` / `track_process` are
//!   tracked by every member, as FAULT trackers (weight 0): one failing puts the whole group in
//!   FAULT;
//! - without `sync_group_tracking_weight` (or the deprecated `global_tracking`), a member's
//!   own weighted trackers are dropped (scripts, files) or lose their weight (interfaces,
//!   processes), with 2.2.7's warnings (none for processes), because members with different
//!   priorities could not move together.

use keepalived_config::model::{Config, NotifyScripts, ThinVec, TrackRef};

/// One vrrp_sync_group as the driver runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPlan {
    /// The group's name.
    pub name: String,
    /// Its members that exist, in the order of its `group { }` block.
    pub members: Vec<String>,
    /// Its notify commands.
    pub notify: NotifyScripts,
    /// The user notify commands run as (`script_user`).
    pub notify_user: Option<(u32, u32)>,
    /// `smtp_alert` for the group (its own, else `smtp_alert_vrrp`, else `smtp_alert`).
    pub smtp_alert: bool,
    /// `sync_group_tracking_weight` (or `global_tracking`).
    pub tracking_weight: bool,
    /// The group's own `notify_priority_changes`, if written (for the state dump).
    pub notify_priority_changes: Option<bool>,
    /// The group's own `track_interface`, `track_script`, `track_file` and `track_process`
    /// names (for the state dump; the members track them).
    pub tracked: GroupTracked,
}

/// The names a group tracks itself, in the order written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupTracked {
    /// `track_interface`.
    pub interfaces: Vec<String>,
    /// `track_script`.
    pub scripts: Vec<String>,
    /// `track_file`.
    pub files: Vec<String>,
    /// `track_process`.
    pub processes: Vec<String>,
}

fn names(refs: &ThinVec<TrackRef>) -> Vec<String> {
    refs.iter().map(|t| t.name.to_string()).collect()
}

/// The groups of `config` that have at least one existing member; an instance named by two
/// groups belongs to the first.
pub fn groups(config: &Config) -> Vec<GroupPlan> {
    let mut taken: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for group in &config.sync_groups {
        let members: Vec<String> = group
            .instances
            .iter()
            .filter(|m| config.instances.iter().any(|i| i.name == **m))
            .filter(|m| !taken.contains(&m.as_str()))
            .cloned()
            .collect();
        if members.is_empty() {
            continue;
        }
        taken.extend(group.instances.iter().map(String::as_str));
        out.push(GroupPlan {
            name: group.name.clone(),
            members,
            notify: group.notify.clone(),
            notify_user: None,
            smtp_alert: group
                .smtp_alert
                .or_else(|| crate::alert::raw_flag(config, "smtp_alert_vrrp"))
                .or_else(|| crate::alert::raw_flag(config, "smtp_alert"))
                .unwrap_or(false),
            tracking_weight: group.sync_group_tracking_weight,
            notify_priority_changes: group
                .other
                .iter()
                .rev()
                .find(|s| s.keyword == "notify_priority_changes")
                .map(|s| {
                    s.args
                        .first()
                        .and_then(|w| keepalived_config::values::parse_bool(w))
                        .unwrap_or(true)
                }),
            tracked: GroupTracked {
                interfaces: names(&group.track_interfaces),
                scripts: names(&group.track_scripts),
                files: names(&group.track_files),
                processes: names(&group.track_processes),
            },
        });
    }
    out
}

/// Folds each group's tracking into its members (see the module doc), returning the
/// warnings keepalived 2.2.7 logs for what it drops.
pub fn fold_tracking(config: &mut Config) -> Vec<String> {
    let mut notes = Vec::new();
    let groups = config.sync_groups.clone();
    let plans = groups_of(config);
    for (group, members) in groups.iter().zip(plans) {
        for name in members {
            let Some(inst) = config.instances.iter_mut().find(|i| i.name == name) else {
                continue;
            };
            if !group.sync_group_tracking_weight {
                let scripts = &config.scripts;
                inst.track_scripts.retain(|t| {
                    let weight = t.weight.unwrap_or_else(|| {
                        scripts
                            .iter()
                            .find(|s| s.name == t.name)
                            .map_or(0, |s| s.weight)
                    });
                    if weight != 0 {
                        notes.push(format!(
                            "({name}) ignoring tracked script {} with weights due to SYNC group",
                            t.name
                        ));
                    }
                    weight == 0
                });
                let files = &config.track_files;
                inst.track_files.retain(|t| {
                    let weight = t.weight.unwrap_or_else(|| {
                        files
                            .iter()
                            .find(|f| f.name == t.name)
                            .map_or(0, |f| f.weight)
                    });
                    if weight != 0 {
                        notes.push(format!(
                            "({name}) ignoring tracked file {} with weight {weight} due to SYNC group",
                            t.name
                        ));
                    }
                    weight == 0
                });
                // 2.2.7 keeps a member's weighted process as a FAULT tracker (weight 0), without
                // a warning (observed: a missing process puts the member, and its group, in
                // FAULT).
                for t in &mut inst.track_processes {
                    t.weight = Some(0);
                    t.reverse = Some(false);
                }
                for t in &mut inst.track_interfaces {
                    if t.weight.is_some_and(|w| w != 0) {
                        notes.push(format!(
                            "({name}) ignoring {} tracked interface weight due to SYNC group",
                            t.name
                        ));
                        t.weight = Some(0);
                    }
                }
            }
            add_fault_trackers(&mut inst.track_scripts, &group.track_scripts);
            add_fault_trackers(&mut inst.track_interfaces, &group.track_interfaces);
            add_fault_trackers(&mut inst.track_files, &group.track_files);
            add_fault_trackers(&mut inst.track_processes, &group.track_processes);
        }
    }
    notes
}

/// The members of each group of `config`, as [`groups`] decides them, in group order
/// (empty for groups that are left out).
fn groups_of(config: &Config) -> Vec<Vec<String>> {
    let planned = groups(config);
    config
        .sync_groups
        .iter()
        .map(|g| {
            planned
                .iter()
                .find(|p| p.name == g.name)
                .map(|p| p.members.clone())
                .unwrap_or_default()
        })
        .collect()
}

/// Adds the group's trackers to a member's, as weight-0 ones, unless it tracks the object
/// already.
fn add_fault_trackers(member: &mut ThinVec<TrackRef>, group: &[TrackRef]) {
    for t in group {
        if member.iter().any(|m| m.name == t.name) {
            continue;
        }
        member.push(TrackRef {
            weight: Some(0),
            reverse: Some(false),
            ..t.clone()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepalived_config::{FakeHost, LoadOptions, load_str};
    use std::path::Path;

    fn load(text: &str) -> Config {
        let host = FakeHost::lab();
        load_str(text, Path::new("t.conf"), &LoadOptions::for_host(&host)).config
    }

    const CONF: &str = "global_defs {\n script_user root\n}\n\
        vrrp_script gs {\n script /bin/true\n}\n\
        vrrp_script heavy {\n script /bin/true\n weight -30\n}\n\
        vrrp_sync_group G1 {\n group {\n A\n B\n }\n track_script {\n gs\n }\n\
        notify_master /bin/true\n}\n\
        vrrp_instance A {\n interface eth0\n virtual_router_id 1\n track_script {\n heavy\n }\n\
        track_interface {\n eth1 weight 10\n }\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n\
        vrrp_instance B {\n interface eth0\n virtual_router_id 2\n virtual_ipaddress {\n 192.0.2.2\n }\n}\n\
        vrrp_instance C {\n interface eth0\n virtual_router_id 3\n virtual_ipaddress {\n 192.0.2.3\n }\n}\n";

    #[test]
    fn keepalived_drops_member_weights_and_shares_the_group_trackers() {
        // The config reader drops a member's weights and reports it, as 2.2.7's reader does
        // (these lines are logged at start with the other configuration problems); the
        // folding finds nothing more to drop.
        let host = FakeHost::lab();
        let loaded = load_str(CONF, Path::new("t.conf"), &LoadOptions::for_host(&host));
        let reported = format!("{:?}", loaded.diagnostics);
        for line in [
            "(A) ignoring tracked script heavy with weights due to SYNC group",
            "(A) ignoring eth1 tracked interface weight due to SYNC group",
        ] {
            assert!(reported.contains(line), "{line} not in {reported}");
        }
        let mut config = loaded.config;
        let notes = fold_tracking(&mut config);
        assert!(notes.is_empty(), "{notes:?}");
        let a = &config.instances[0];
        let names: Vec<&str> = a.track_scripts.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, vec!["gs"]);
        assert_eq!(a.track_interfaces[0].weight, Some(0));
        assert_eq!(config.instances[1].track_scripts[0].weight, Some(0));
        assert!(config.instances[2].track_scripts.is_empty(), "not a member");
        let groups = groups(&config);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].members, vec!["A", "B"]);
        assert!(groups[0].notify.master.is_some());
    }

    #[test]
    fn sync_group_tracking_weight_keeps_member_weights() {
        let text = CONF.replace(
            "notify_master /bin/true\n",
            "notify_master /bin/true\n sync_group_tracking_weight\n",
        );
        let mut config = load(&text);
        assert!(fold_tracking(&mut config).is_empty());
        let a = &config.instances[0];
        assert_eq!(a.track_scripts.len(), 2);
        assert_eq!(a.track_interfaces[0].weight, Some(10));
    }

    #[test]
    fn a_member_weighted_process_becomes_a_fault_tracker() {
        let text = "vrrp_track_process tp {\n process app\n weight -10\n}\n\
            vrrp_sync_group G1 {\n group {\n A\n B\n }\n}\n\
            vrrp_instance A {\n interface eth0\n virtual_router_id 1\n\
            track_process {\n tp\n }\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n\
            vrrp_instance B {\n interface eth0\n virtual_router_id 2\n\
            virtual_ipaddress {\n 192.0.2.2\n }\n}\n";
        let mut config = load(text);
        let notes = fold_tracking(&mut config);
        assert!(notes.is_empty(), "2.2.7 says nothing: {notes:?}");
        assert_eq!(config.instances[0].track_processes[0].weight, Some(0));
    }
}
