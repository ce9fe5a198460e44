//! Reload: which instances and scripts carry on, decided by a pure diff of the old and the new
//! plans (unit-tested), then carried out. As keepalived 2.2.7 does (observed, docs/compat.md
//! "Reload"): an instance carries on when a new one has its interface, VRID and family,
//! whatever else changed (priority, interval, addresses, name, preemption…): it keeps its
//! state, a master sends an advert at once and sets its addresses again (the removed ones
//! released, the added ones announced); the old instances without a successor stop first
//! (priority 0 from a master, addresses released, notify as FAULT), so their addresses are
//! free before anything takes them over; new ones start.

use std::net::IpAddr;
use std::time::Instant;

use keepalived_net::interface;
use keepalived_track::ScriptSpec;
use keepalived_vrrp::instance::Instance;

use super::super::setup::{AddressPlan, FilePlan, InstancePlan, Planned};
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
    /// For each new instance, the old one that carries on as it (its state, and its
    /// addresses while master), if any.
    pub kept: Vec<Option<Carry>>,
    /// The old instances that stop (no new instance carries them on).
    pub stopped: Vec<usize>,
    /// For each new script, the old one that keeps running (same command and timing).
    pub scripts_kept: Vec<Option<usize>>,
    /// The set of tracked files changed (the watcher restarts).
    pub files_changed: bool,
}

/// An old instance that a new one carries on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Carry {
    /// Its index among the old instances.
    pub old: usize,
    /// Some setting changed: the instance takes the new settings in place
    /// (`Instance::reconfigure`); otherwise the plan is the same.
    pub changed: bool,
}

/// Whether `new` carries on `old`: the same virtual router, as keepalived 2.2.7 matches them
/// on a reload (observed: a new name, priority, interval, address list, `nopreempt` or
/// `state` keep the instance; another VRID or interface stops it and starts a new one).
/// Beyond 2.2.7's rule, what needs another socket or interface also starts anew: the family,
/// the VMAC, AH or not.
pub fn same_router(old: &InstancePlan, new: &InstancePlan) -> bool {
    old.config.interface == new.config.interface
        && old.config.vrid == new.config.vrid
        && old.config.local_address.is_ipv6() == new.config.local_address.is_ipv6()
        && old.vmac == new.vmac
        && old.ah_key.is_some() == new.ah_key.is_some()
}

/// The addresses a master gives up and takes on when its plan goes from `old` to `new`: those
/// of `old` that `new` lacks, and whether `new` has one that `old` lacked (keepalived 2.2.7
/// then announces every address again; observed).
pub fn address_changes(old: &[AddressPlan], new: &[AddressPlan]) -> (Vec<AddressPlan>, bool) {
    let gone = old.iter().filter(|a| !new.contains(a)).cloned().collect();
    let added = new.iter().any(|a| !old.contains(a));
    (gone, added)
}

/// The addresses keepalived 2.2.7 names (`Assigned address … for interface …`) at start and
/// at each reload for an interface its instances use: its first IPv4 address and its first
/// IPv6 link-local one that are not VIPs (observed).
pub fn sending_addresses(iface: &interface::Interface, vips: &[IpAddr]) -> Vec<IpAddr> {
    let v4 = iface
        .ipv4
        .iter()
        .map(|&(a, _)| IpAddr::V4(a))
        .find(|a| !vips.contains(a));
    let v6 = iface
        .ipv6
        .iter()
        .filter(|a| a.is_unicast_link_local())
        .map(|&a| IpAddr::V6(a))
        .find(|a| !vips.contains(a));
    v4.into_iter().chain(v6).collect()
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

/// Decides a reload from `old` to `new`: each old instance carries on as at most one new one
/// of the same virtual router ([`same_router`]), an unchanged one first; each old script
/// keeps running for at most one new one with the same command and timing.
pub fn diff(old: PlanSet<'_>, new: PlanSet<'_>) -> Diff {
    let old_ids: Vec<Identity> = old.instances.iter().map(|p| identity(old, p)).collect();
    let new_ids: Vec<Identity> = new.instances.iter().map(|p| identity(new, p)).collect();
    let mut taken = vec![false; old_ids.len()];
    let mut kept: Vec<Option<Carry>> = vec![None; new_ids.len()];
    // Unchanged ones first, so that two new instances of one router (refused by the
    // configuration check, but cheap to be sure of) leave the unchanged one its old self.
    for (n, id) in new_ids.iter().enumerate() {
        if let Some(i) = (0..old_ids.len()).find(|&i| !taken[i] && old_ids[i] == *id) {
            taken[i] = true;
            kept[n] = Some(Carry {
                old: i,
                changed: false,
            });
        }
    }
    for (n, plan) in new.instances.iter().enumerate() {
        if kept[n].is_some() {
            continue;
        }
        let found = (0..old_ids.len()).find(|&i| !taken[i] && same_router(&old.instances[i], plan));
        if let Some(i) = found {
            taken[i] = true;
            kept[n] = Some(Carry {
                old: i,
                changed: true,
            });
        }
    }
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
        self.sync_daemons.load(planned.sync_daemon.take());
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
        self.log_assigned(&plans);
        // keepalived 2.2.7 (observed): `sent 0 priority` from a master, `removing VIPs.`, and
        // its notify scripts run as for FAULT (not notify_stop), without a state line.
        self.retiring = true;
        for &i in &decided.stopped {
            self.running[i].instance.shutdown(now);
            self.execute(i).await;
        }
        self.retiring = false;
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
        // The instances carried on, with the addresses their old plan had beyond the new one.
        let mut carried: Vec<(usize, Vec<AddressPlan>, bool)> = Vec::new();
        // Exactly the instances planned: no doubling slack (a thousand instances).
        self.running.reserve_exact(plans.len());
        for (mut plan, kept) in plans.into_iter().zip(decided.kept) {
            self.prepare_vmac(&mut plan).await?;
            let link = self.link_for(&plan)?;
            match kept.and_then(|c| old_running[c.old].take()) {
                Some(mut running) => {
                    self.reload_virtual_policy(&running, &plan.policy).await;
                    running.instance.set_contention(plan.contention);
                    running
                        .instance
                        .set_down_timer_adverts(plan.down_timer_adverts);
                    let (gone, added) = address_changes(&running.plan.addresses, &plan.addresses);
                    // Its firewall entries are set again from the new plan if it is master.
                    let old_name = running.plan.config.name.clone();
                    self.firewall_drop_keys(&old_name);
                    let renamed = running.plan.config.name != plan.config.name;
                    if renamed || (running.notifier.is_none() && notify::has_commands(&plan)) {
                        // Its task names the instance in what it logs.
                        running.notifier = notify::has_commands(&plan)
                            .then(|| Notifier::spawn(&plan, self.logger.clone()));
                    }
                    running.plan = plan;
                    running.link = link;
                    carried.push((self.running.len(), gone, added));
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
                            instance.set_down_timer_adverts(plan.down_timer_adverts);
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
        // Before any starts: an owner becomes master at its start.
        self.spread_adverts();
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
        for (i, gone, added) in carried {
            self.carry_on(i, now, &gone, added).await;
        }
        // keepalived 2.2.7 at start (not at a reload, observed): `(VI_1) removing VIPs.` (-D)
        // for every instance, in order, before any instance's first state.
        if old_plans.is_empty() {
            for &i in &fresh {
                self.release_vips_line(i);
            }
        }
        for i in fresh {
            if !self.waits_for_scripts(i) {
                self.start_instance(i, now).await;
            }
        }
        let followed = self.sync_daemons.instance().and_then(|name| {
            self.running
                .iter()
                .find(|r| r.plan.config.name == name)
                .map(|r| r.instance.state())
        });
        self.sync_daemons.settle(followed);
        Ok(())
    }
}

impl Driver {
    /// keepalived 2.2.7's `Assigned address … for interface …` lines for the interfaces
    /// `plans` use, each once, in the order of the instances ([`sending_addresses`]).
    fn log_assigned(&self, plans: &[InstancePlan]) {
        let vips: Vec<IpAddr> = plans
            .iter()
            .flat_map(|p| p.addresses.iter().map(|a| a.address))
            .collect();
        let mut seen: Vec<&str> = Vec::new();
        for plan in plans {
            let name = plan.config.interface.as_str();
            if seen.contains(&name) {
                continue;
            }
            seen.push(name);
            if let Ok(iface) = interface::lookup(name) {
                for address in sending_addresses(&iface, &vips) {
                    self.logger
                        .detail(&wording::assigned_address(address, name));
                }
            }
        }
    }

    /// Instance `i`, carried on by a reload, takes its new plan in place: its state is kept
    /// and its deadlines recomputed (`Instance::reconfigure`). A master, as keepalived 2.2.7
    /// (observed): `setting VIPs.`, the addresses the reload removed released (`ip address
    /// … no longer exist`), the missing ones added, and every address announced when one
    /// was added; an advert leaves at once.
    async fn carry_on(&mut self, i: usize, now: Instant, gone: &[AddressPlan], added: bool) {
        let config = std::sync::Arc::clone(&self.running[i].plan.config);
        let tracking = self.tracking_of(i);
        let master = self.running[i].instance.state() == keepalived_vrrp::event::State::Master;
        if master {
            let name = config.name.clone();
            for address in gone {
                self.logger.info(&wording::about(
                    &name,
                    &format!(
                        "ip address {}/{} dev {}, no longer exist",
                        address.address, address.prefix_len, address.interface
                    ),
                ));
                if self.is_present(address).await {
                    self.change_address(address, false).await;
                }
            }
            // keepalived 2.2.7 sets its drop rule again at a reload, before the addresses.
            self.firewall_set(i);
            self.logger.detail(&wording::about(&name, "setting VIPs."));
            for address in self.running[i].plan.addresses.clone() {
                if !self.is_present(&address).await {
                    self.change_address(&address, true).await;
                }
            }
            if added {
                let count = self.running[i].plan.garp_repeat;
                self.announce(i, count);
            }
        }
        self.running[i].instance.reconfigure(now, config, tracking);
        self.execute(i).await;
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

    const fn carry(old: usize, changed: bool) -> Option<Carry> {
        Some(Carry { old, changed })
    }

    #[test]
    fn an_instance_carries_on_whatever_changed_but_its_router() {
        let old = format!(
            "{HEAD}{}{}{}",
            instance("A", 1, 100, ""),
            instance("B", 2, 100, ""),
            instance("D", 4, 100, "")
        );
        // B unchanged and moved; A's priority changed; D renamed E (same VRID and interface);
        // C new.
        let new = format!(
            "{HEAD}{}{}{}{}",
            instance("B", 2, 100, ""),
            instance("A", 1, 150, ""),
            instance("C", 3, 100, ""),
            instance("E", 4, 100, "")
        );
        let d = diff_of(&old, &new);
        assert_eq!(
            d.kept,
            vec![carry(1, false), carry(0, true), None, carry(2, true)],
            "B kept, A and D changed in place, C new"
        );
        assert!(d.stopped.is_empty());
        assert!(!d.files_changed);
    }

    #[test]
    fn the_sending_addresses_are_the_first_ipv4_and_link_local_ones_but_no_vip() {
        let iface = interface::Interface {
            name: "eth0".into(),
            index: 2,
            mac: [0; 6],
            ipv4: vec![
                ("192.0.2.100".parse().expect("v4"), 24),
                ("192.0.2.1".parse().expect("v4"), 24),
            ],
            ipv6: vec![
                "2001:db8::1".parse().expect("v6"),
                "fe80::1".parse().expect("v6"),
            ],
            up: true,
        };
        let vip: IpAddr = "192.0.2.100".parse().expect("vip");
        let want: Vec<IpAddr> = vec![
            "192.0.2.1".parse().expect("v4"),
            "fe80::1".parse().expect("v6"),
        ];
        assert_eq!(sending_addresses(&iface, &[vip]), want);
        let bare = interface::Interface {
            ipv4: Vec::new(),
            ipv6: Vec::new(),
            ..iface
        };
        assert!(sending_addresses(&bare, &[]).is_empty());
    }

    #[test]
    fn another_vrid_or_interface_is_another_router() {
        let old = format!("{HEAD}{}", instance("A", 1, 100, ""));
        let new = format!("{HEAD}{}", instance("A", 5, 100, ""));
        let d = diff_of(&old, &new);
        assert_eq!((d.kept, d.stopped), (vec![None], vec![0]));
        let moved = old.replace("interface eth0", "interface eth1");
        let d = diff_of(&old, &moved);
        assert_eq!((d.kept, d.stopped), (vec![None], vec![0]));
    }

    #[test]
    fn address_changes_name_what_goes_and_whether_any_comes() {
        let vips = |list: &str| {
            let text = format!(
                "{HEAD}vrrp_instance A {{\n interface eth0\n virtual_router_id 1\n \
                 virtual_ipaddress {{\n{list}\n }}\n}}\n"
            );
            load(&text).0.remove(0).addresses
        };
        let two = vips("192.0.2.1/24\n192.0.2.2/24");
        let one = vips("192.0.2.1/24");
        let (gone, added) = address_changes(&two, &one);
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].address.to_string(), "192.0.2.2");
        assert!(!added);
        let (gone, added) = address_changes(&one, &two);
        assert!(gone.is_empty());
        assert!(added);
        assert_eq!(address_changes(&two, &two), (Vec::new(), false));
    }

    #[test]
    fn scripts_are_compared_by_what_they_run_not_by_index() {
        let scripts =
            "vrrp_script one {\n script /bin/true\n}\nvrrp_script two {\n script /bin/false\n}\n";
        let track = " track_script {\n two\n }\n";
        let old = format!("{HEAD}{scripts}{}", instance("A", 1, 100, track));
        // `one` is no longer tracked: `two` moves to index 0 and the instance is unchanged.
        let new = old.clone();
        assert_eq!(diff_of(&old, &new).kept, vec![carry(0, false)]);
        let other = "vrrp_script two {\n script /bin/false\n interval 5\n}\n";
        let changed = format!("{HEAD}{other}{}", instance("A", 1, 100, track));
        let d = diff_of(&old, &changed);
        assert_eq!(
            d.kept,
            vec![carry(0, true)],
            "the script's timing changed: the instance takes it in place"
        );
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
        assert_eq!(d.kept, vec![carry(0, false)]);
        assert!(d.stopped.is_empty());
    }

    #[test]
    fn an_old_instance_carries_on_at_most_once() {
        let old = format!("{HEAD}{}", instance("A", 1, 100, ""));
        let d = diff_of(&old, &old);
        assert_eq!((d.kept, d.stopped), (vec![carry(0, false)], vec![]));
    }
}
