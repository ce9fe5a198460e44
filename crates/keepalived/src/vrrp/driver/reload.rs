//! Reload: which instances and scripts carry on, decided by a pure diff of the old and the new
//! plans (unit-tested), then carried out — changed and removed instances stop first, so their
//! addresses are released before anything takes them over, unchanged ones keep their state and
//! timers, new ones start.

use std::time::Instant;

use keepalived_net::interface;
use keepalived_track::ScriptSpec;
use keepalived_vrrp::instance::Instance;

use super::super::setup::{FilePlan, InstancePlan, Planned};
use super::super::wording;
use super::notify::{self, Notifier};
use super::tracking::RunningScript;
use super::{Driver, Running};

/// One side of a reload: instance plans, and the scripts and files they point into.
#[derive(Debug, Clone, Copy)]
pub struct PlanSet<'a> {
    /// The instances.
    pub instances: &'a [InstancePlan],
    /// The scripts their `ScriptUse`s index.
    pub scripts: &'a [ScriptSpec],
    /// The files their `FileUse`s index.
    pub files: &'a [FilePlan],
}

/// What a reload keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff {
    /// For each new instance, the old one that carries on unchanged (state, timers,
    /// addresses), if any.
    pub kept: Vec<Option<usize>>,
    /// The old instances that stop (changed or removed).
    pub stopped: Vec<usize>,
    /// For each new script, the old one that keeps running (same command and timing).
    pub scripts_kept: Vec<Option<usize>>,
    /// The set of tracked files changed (the watcher restarts).
    pub files_changed: bool,
}

/// An instance as a reload compares it: its plan with script and file uses resolved to what
/// they are (indexes differ between two loads).
#[derive(Debug, PartialEq)]
struct Identity {
    plan: InstancePlan,
    scripts: Vec<(Option<ScriptSpec>, i32, bool)>,
    files: Vec<(Option<FilePlan>, i32, bool)>,
}

fn identity(set: PlanSet<'_>, plan: &InstancePlan) -> Identity {
    Identity {
        plan: InstancePlan {
            scripts: Vec::new(),
            track_files: Vec::new(),
            // Routes and rules change in place on a reload (driver::routes), as in 2.2.7.
            policy: Default::default(),
            ..plan.clone()
        },
        scripts: plan
            .scripts
            .iter()
            .map(|u| (set.scripts.get(u.script).cloned(), u.weight, u.reverse))
            .collect(),
        files: plan
            .track_files
            .iter()
            .map(|u| (set.files.get(u.file).cloned(), u.weight, u.reverse))
            .collect(),
    }
}

/// Decides a reload from `old` to `new`: each old instance or script carries on for at most
/// one new one, and only when nothing about it changed.
pub fn diff(old: PlanSet<'_>, new: PlanSet<'_>) -> Diff {
    let old_ids: Vec<Identity> = old.instances.iter().map(|p| identity(old, p)).collect();
    let mut taken = vec![false; old_ids.len()];
    let kept = new
        .instances
        .iter()
        .map(|plan| {
            let id = identity(new, plan);
            let found = (0..old_ids.len()).find(|&i| !taken[i] && old_ids[i] == id);
            if let Some(i) = found {
                taken[i] = true;
            }
            found
        })
        .collect();
    let stopped = (0..old_ids.len()).filter(|&i| !taken[i]).collect();
    let mut script_taken = vec![false; old.scripts.len()];
    let scripts_kept = new
        .scripts
        .iter()
        .map(|spec| {
            let found =
                (0..old.scripts.len()).find(|&i| !script_taken[i] && old.scripts[i] == *spec);
            if let Some(i) = found {
                script_taken[i] = true;
            }
            found
        })
        .collect();
    Diff {
        kept,
        stopped,
        scripts_kept,
        files_changed: old.files != new.files,
    }
}

impl Driver {
    /// Runs `planned`: at start-up every instance is new; on reload as [`diff`] decides.
    pub(super) async fn install(&mut self, mut planned: Planned) -> anyhow::Result<()> {
        self.instances_changed = true;
        // The mail settings of global_defs follow the load (2.2.7 mails the next change
        // through the new server, to the new addresses).
        self.alerts = planned.alerts.take();
        self.install_statics(std::mem::take(&mut planned.statics))
            .await;
        let Planned {
            instances: plans,
            scripts,
            files,
            processes,
            groups,
            pacing,
            ..
        } = planned;
        self.firewall_install(&plans);
        // Indices change with a reload: what waited is dropped (the next burst resends it).
        self.pacer = super::super::garp_pace::Pacer::new(*pacing);
        let now = Instant::now();
        let old_plans: Vec<InstancePlan> = self.running.iter().map(|r| r.plan.clone()).collect();
        let old_specs: Vec<ScriptSpec> = self.scripts.iter().map(|s| s.plan.spec.clone()).collect();
        let new_specs: Vec<ScriptSpec> = scripts.iter().map(|s| s.spec.clone()).collect();
        let decided = diff(
            PlanSet {
                instances: &old_plans,
                scripts: &old_specs,
                files: &self.files,
            },
            PlanSet {
                instances: &plans,
                scripts: &new_specs,
                files: &files,
            },
        );
        // Stop the others first, so their addresses are released before a changed instance
        // (or another instance taking them over) starts.
        for &i in &decided.stopped {
            self.logger.info(&wording::about(
                &self.running[i].plan.config.name,
                "is changed or removed by the reload: stopping it",
            ));
            self.running[i].instance.shutdown(now);
            self.execute(i).await;
        }
        // Scripts: keep those that did not change, start the new ones, stop the rest.
        let mut old_scripts: Vec<Option<RunningScript>> = std::mem::take(&mut self.scripts)
            .into_iter()
            .map(Some)
            .collect();
        let mut new_scripts = Vec::with_capacity(scripts.len());
        for (plan, kept) in scripts.into_iter().zip(&decided.scripts_kept) {
            match kept.and_then(|i| old_scripts[i].take()) {
                Some(script) => new_scripts.push(script),
                None => new_scripts.push(self.start_script(plan)),
            }
        }
        for script in old_scripts.into_iter().flatten() {
            script.task.abort();
        }
        self.scripts = new_scripts;
        if decided.files_changed {
            self.watch_files(files);
        }
        let processes_restarted = self.install_processes(processes);
        // Instances, in the new order.
        let mut old_running: Vec<Option<Running>> = std::mem::take(&mut self.running)
            .into_iter()
            .map(Some)
            .collect();
        let mut fresh = Vec::new();
        // Exactly the instances planned: no doubling slack (a thousand instances).
        self.running.reserve_exact(plans.len());
        for (mut plan, kept) in plans.into_iter().zip(decided.kept) {
            self.prepare_vmac(&mut plan).await?;
            let link = self.link_for(&plan)?;
            match kept.and_then(|i| old_running[i].take()) {
                Some(mut running) => {
                    self.reload_virtual_policy(&running, &plan.policy).await;
                    running.instance.set_contention(plan.contention);
                    running.plan = plan;
                    running.link = link;
                    self.running.push(running);
                }
                None => {
                    for note in &plan.notes {
                        self.logger.info(note);
                    }
                    let notifier = notify::has_commands(&plan)
                        .then(|| Notifier::spawn(&plan, self.logger.clone()));
                    fresh.push(self.running.len());
                    self.running.push(Running {
                        instance: {
                            let mut instance = Instance::new(std::sync::Arc::clone(&plan.config));
                            instance.set_contention(plan.contention);
                            instance
                        },
                        plan,
                        link,
                        notifier,
                        last_transition: None,
                        started: false,
                        transitions: Default::default(),
                        watch: Default::default(),
                    });
                }
            }
        }
        // What is left stopped above; its notify_stop still runs on its own task.
        drop(old_running);
        self.remove_unplanned_vmacs().await;
        self.install_groups(groups);
        self.routes = self
            .running
            .iter()
            .enumerate()
            .map(|(i, r)| ((r.link, r.plan.config.vrid), i))
            .collect();
        for i in 0..self.running.len() {
            let names: Vec<String> = self.running[i]
                .plan
                .track_interfaces
                .iter()
                .map(|t| t.0.clone())
                .collect();
            for name in names {
                if self.interface_up.contains_key(&name) {
                    continue;
                }
                let found = interface::lookup(&name).ok();
                if let Some(iface) = &found {
                    self.ifindex.insert(name.clone(), iface.index);
                }
                self.interface_up.insert(name, found.is_some_and(|i| i.up));
            }
        }
        if processes_restarted {
            self.rerate_process_trackers(now).await;
        }
        for i in fresh {
            if !self.waits_for_scripts(i) {
                self.start_instance(i, now).await;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vrrp::setup::{InterfaceInfo, plan};
    use keepalived_config::{FakeHost, LoadOptions, load_str};
    use std::path::Path;

    /// Plans and script specs of a configuration.
    fn load(text: &str) -> (Vec<InstancePlan>, Vec<ScriptSpec>, Vec<FilePlan>) {
        let host = FakeHost::lab();
        let loaded = load_str(text, Path::new("t.conf"), &LoadOptions::for_host(&host));
        let lookup = |_: &str| {
            Some(InterfaceInfo {
                index: 2,
                primary: None,
                link_local: None,
            })
        };
        let planned = plan(&loaded.config, lookup, |_| Some((0, 0)));
        let specs = planned.scripts.iter().map(|s| s.spec.clone()).collect();
        (planned.instances, specs, planned.files)
    }

    fn diff_of(old: &str, new: &str) -> Diff {
        let (oi, os, of) = load(old);
        let (ni, ns, nf) = load(new);
        diff(
            PlanSet {
                instances: &oi,
                scripts: &os,
                files: &of,
            },
            PlanSet {
                instances: &ni,
                scripts: &ns,
                files: &nf,
            },
        )
    }

    const HEAD: &str = "global_defs {\n script_user root\n enable_script_security\n}\n";

    fn instance(name: &str, vrid: u8, priority: u8, track: &str) -> String {
        format!(
            "vrrp_instance {name} {{\n interface eth0\n virtual_router_id {vrid}\n priority {priority}\n{track} virtual_ipaddress {{\n 192.0.2.{vrid}\n }}\n}}\n"
        )
    }

    #[test]
    fn unchanged_instances_carry_on_and_changed_ones_stop() {
        let old = format!(
            "{HEAD}{}{}",
            instance("A", 1, 100, ""),
            instance("B", 2, 100, "")
        );
        let new = format!(
            "{HEAD}{}{}{}",
            instance("B", 2, 100, ""),
            instance("A", 1, 150, ""),
            instance("C", 3, 100, "")
        );
        let d = diff_of(&old, &new);
        assert_eq!(
            d.kept,
            vec![Some(1), None, None],
            "B kept, A changed, C new"
        );
        assert_eq!(d.stopped, vec![0]);
        assert!(!d.files_changed);
    }

    #[test]
    fn scripts_are_compared_by_what_they_run_not_by_index() {
        let scripts =
            "vrrp_script one {\n script /bin/true\n}\nvrrp_script two {\n script /bin/false\n}\n";
        let track = " track_script {\n two\n }\n";
        let old = format!("{HEAD}{scripts}{}", instance("A", 1, 100, track));
        // `one` is no longer tracked: `two` moves to index 0 and the instance is unchanged.
        let new = old.clone();
        assert_eq!(diff_of(&old, &new).kept, vec![Some(0)]);
        let other = "vrrp_script two {\n script /bin/false\n interval 5\n}\n";
        let changed = format!("{HEAD}{other}{}", instance("A", 1, 100, track));
        let d = diff_of(&old, &changed);
        assert_eq!(d.kept, vec![None], "the script's timing changed");
        assert_eq!(d.scripts_kept, vec![None]);
    }

    #[test]
    fn changed_routes_and_rules_keep_the_instance() {
        let routes = |route: &str, rule: &str| {
            format!(" virtual_routes {{\n {route}\n }}\n virtual_rules {{\n {rule}\n }}\n")
        };
        let old = format!(
            "{HEAD}{}",
            instance(
                "A",
                1,
                100,
                &routes(
                    "203.0.113.0/24 dev eth0",
                    "from 192.0.2.1 table 100 priority 100"
                )
            )
        );
        let new = format!(
            "{HEAD}{}",
            instance(
                "A",
                1,
                100,
                &routes(
                    "198.51.100.0/24 dev eth0",
                    "from 192.0.2.2 table 100 priority 101"
                )
            )
        );
        let d = diff_of(&old, &new);
        assert_eq!(d.kept, vec![Some(0)]);
        assert!(d.stopped.is_empty());
    }

    #[test]
    fn an_old_instance_carries_on_at_most_once() {
        let old = format!("{HEAD}{}", instance("A", 1, 100, ""));
        let d = diff_of(&old, &old);
        assert_eq!((d.kept, d.stopped), (vec![Some(0)], vec![]));
    }
}
