//! Tracking: what tracked scripts, interfaces and files say about an instance (pure functions
//! with unit tests), and the driver's side of it — script tasks, the file watcher, link
//! events — which feeds those answers to the engine.

use std::cell::Cell;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::rc::Rc;
use std::time::Instant;

use keepalived_net::link::LinkEvent;
use keepalived_track::file::{FileValue, FileWatcher, file_effect, init_file, read_value};
use keepalived_track::{
    Outcome, RunPhase, ScriptSpec, Tracked, Tracker, effective_priority_with_files,
    run_once_watched,
};
use keepalived_vrrp::instance::{FaultCause, Tracking};
use keepalived_vrrp::packet::Family;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::super::fault_reason::{FaultReason, file_status};
use super::super::setup::{AddressPlan, FilePlan, InstancePlan, ScriptPlan};
use super::super::wording;
use super::Driver;
use super::net::LinkSocket;
use crate::vrrp::address_monitor::AddressChange;

/// A tracked script as tracking sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptState {
    /// It has run at least once.
    pub has_result: bool,
    /// It counts as up (before the first result: as `init_fail` says).
    pub good: bool,
}

/// What tracking sees of the world: script results, interface and file states.
pub struct World<'a> {
    /// Per planned script.
    pub scripts: &'a [ScriptState],
    /// Link state by interface name.
    pub interface_up: &'a HashMap<String, bool>,
    /// The value each planned file holds.
    pub file_values: &'a [i64],
    /// Whether each planned tracked process has its quorum.
    pub process_up: &'a [bool],
    /// Whether the instance's own interface is up.
    pub link_up: bool,
    /// Whether the instance's unicast source address (if it names one) is on the host.
    pub source_present: bool,
    /// Whether the instance's interface has the IPv4 address its adverts leave from (true
    /// when a source is configured).
    pub has_address: bool,
}

/// Whether `address` is one of this host's addresses: keepalived 2.2.7 binds a unicast
/// instance's socket to its `unicast_src_ip`, which fails (EADDRNOTAVAIL) otherwise, and the
/// instance stays in FAULT ("src address not configured").
pub fn source_present(address: Ipv4Addr) -> bool {
    std::net::UdpSocket::bind(std::net::SocketAddrV4::new(address, 0)).is_ok()
}

/// The effective priority and FAULT of `plan` in `world` (compat.md section 6): weights of
/// scripts, interfaces and files; a weight-0 failure or a priority pushed below the bottom is
/// a tracked FAULT; the instance's own link down is a link FAULT, which wins. A script without
/// a result yet counts as its tracker's initial state says.
pub fn assess(plan: &InstancePlan, world: &World<'_>) -> Tracking {
    let scripts = plan.scripts.iter().map(|u| Tracked {
        weight: u.weight,
        reverse: u.reverse,
        up: world.scripts.get(u.script).is_none_or(|s| s.good),
    });
    let interfaces = plan
        .track_interfaces
        .iter()
        .map(|(name, weight, reverse)| Tracked {
            weight: *weight,
            reverse: *reverse,
            up: world.interface_up.get(name).copied().unwrap_or(false),
        });
    let scripts: Vec<Tracked> = scripts.collect();
    // Processes count as interfaces do: their weight-0 failure is a tracked FAULT.
    let interfaces: Vec<Tracked> = interfaces
        .chain(super::processes::tracked(plan, world.process_up))
        .collect();
    let tracked: Vec<Tracked> = scripts.iter().chain(&interfaces).copied().collect();
    let files: Vec<_> = plan
        .track_files
        .iter()
        .map(|u| {
            let value = world.file_values.get(u.file).copied().unwrap_or(0);
            file_effect(value, u.weight, u.reverse)
        })
        .collect();
    let (priority, tracked_fault) =
        effective_priority_with_files(plan.config.priority, &tracked, &files);
    let fault = if !world.link_up && !plan.dont_track_primary {
        Some(FaultCause::LinkDown)
    } else if !world.source_present || !world.has_address {
        Some(FaultCause::Tracked)
    } else if tracked_fault {
        let (_, others_fault) =
            effective_priority_with_files(plan.config.priority, &interfaces, &files);
        Some(if others_fault {
            FaultCause::Tracked
        } else {
            FaultCause::Script
        })
    } else {
        None
    };
    Tracking { priority, fault }
}

/// The names of what tracking refers to by index: the planned files and processes.
pub struct Names<'a> {
    /// The planned files' block names.
    pub files: &'a [String],
    /// The planned processes' names.
    pub processes: &'a [String],
}

/// Why `plan` is in FAULT in `world`, each object named, in keepalived 2.2.7's order: its
/// own interface, weight-0 tracked interfaces, the interface's address, files, processes,
/// the unicast source (empty when only a script says FAULT).
pub fn fault_reasons(
    plan: &InstancePlan,
    world: &World<'_>,
    names: &Names<'_>,
) -> Vec<FaultReason> {
    let mut reasons = Vec::new();
    if !world.link_up && !plan.dont_track_primary {
        reasons.push(FaultReason::InterfaceDown(plan.config.interface.clone()));
    }
    for (name, weight, reverse) in &plan.track_interfaces {
        let up = world.interface_up.get(name).copied().unwrap_or(false);
        if *weight == 0 && up == *reverse {
            reasons.push(FaultReason::InterfaceDown(name.clone()));
        }
    }
    if !world.has_address {
        reasons.push(FaultReason::NoAddress(Family::of(
            plan.config.local_address,
        )));
    }
    for u in &plan.track_files {
        let value = world.file_values.get(u.file).copied().unwrap_or(0);
        if file_effect(value, u.weight, u.reverse) == keepalived_track::file::FileEffect::Fault {
            reasons.push(FaultReason::File {
                name: names.files.get(u.file).cloned().unwrap_or_default(),
                status: file_status(value, u.weight, u.reverse),
            });
        }
    }
    for u in &plan.track_processes {
        if u.weight == 0 && world.process_up.get(u.process).copied().unwrap_or(false) == u.reverse {
            reasons.push(FaultReason::Process(
                names.processes.get(u.process).cloned().unwrap_or_default(),
            ));
        }
    }
    if !world.source_present
        && let Some(address) = plan.unicast_source
    {
        reasons.push(FaultReason::SourceMissing(address));
    }
    reasons
}

/// The new source of an instance that sends from its interface's address, now `current`,
/// when the interface's address of its family (the first IPv4 one other than a VIP, or the
/// IPv6 link-local one) is `interface_address`; `None` when it keeps its source. Without one
/// it has none (FAULT); one that comes is taken; keepalived 2.2.7 keeps its IPv4 source
/// while the interface has some IPv4 address (observed), while an IPv6 one follows the
/// link-local address.
pub fn followed_source(current: IpAddr, interface_address: Option<IpAddr>) -> Option<IpAddr> {
    match interface_address {
        None if current.is_unspecified() => None,
        None => Some(match current {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        }),
        Some(address) if current.is_unspecified() || (address.is_ipv6() && address != current) => {
            Some(address)
        }
        Some(_) => None,
    }
}

/// Whether `plan` must wait before it starts: keepalived 2.2.7 starts an instance that tracks
/// a weight-0 script only once that script has its first result (tracking_lab.rs).
pub fn waits_for_first_results(plan: &InstancePlan, scripts: &[ScriptState]) -> bool {
    plan.scripts
        .iter()
        .any(|u| u.weight == 0 && scripts.get(u.script).is_some_and(|s| !s.has_result))
}

/// One tracked vrrp_script and the task that runs it.
pub struct RunningScript {
    /// What it runs.
    pub plan: ScriptPlan,
    /// Identifies the outcomes of this script's task (indexes move on reload).
    pub id: u64,
    /// Its rise/fall state.
    pub tracker: Tracker,
    /// The task.
    pub task: JoinHandle<()>,
    /// Its "cannot run" reason was logged (once).
    pub reported_cannot_run: bool,
    /// The last result, for the status.
    pub last_outcome: Option<Outcome>,
    /// Where its current run is (for the status: keepalived_script_state).
    pub running: Rc<Cell<RunPhase>>,
}

impl RunningScript {
    /// What tracking sees of it.
    pub fn state(&self) -> ScriptState {
        ScriptState {
            has_result: self.tracker.has_result(),
            good: self.tracker.is_good(),
        }
    }
}

/// Runs one script on its interval until aborted, handing each outcome to the main loop;
/// `running` says where the current run is (for the status).
fn spawn_script(
    id: u64,
    spec: ScriptSpec,
    tx: mpsc::Sender<(u64, Outcome)>,
    running: Rc<Cell<RunPhase>>,
) -> JoinHandle<()> {
    tokio::task::spawn_local(async move {
        loop {
            let started = tokio::time::Instant::now();
            let outcome = run_once_watched(&spec, |phase| running.set(phase)).await;
            if tx.send((id, outcome)).await.is_err() {
                return;
            }
            tokio::time::sleep_until(started + spec.interval).await;
        }
    })
}

impl Driver {
    /// The result of every planned script.
    pub(super) fn script_results(&self) -> Vec<ScriptState> {
        self.scripts.iter().map(RunningScript::state).collect()
    }

    /// What tracking says about instance `i` now, its sync group's FAULT included.
    pub(super) fn tracking_of(&self, i: usize) -> Tracking {
        let own = self.own_tracking_of(i);
        self.with_group_fault(i, own)
    }

    /// What instance `i`'s own tracking says now (its sync group's trackers are its own).
    pub(super) fn own_tracking_of(&self, i: usize) -> Tracking {
        let results = self.script_results();
        assess(&self.running[i].plan, &self.world_of(i, &results))
    }

    /// What tracking sees of the world for instance `i`, with these script results.
    fn world_of<'a>(&'a self, i: usize, results: &'a [ScriptState]) -> World<'a> {
        let link = &self.links[self.running[i].link];
        World {
            scripts: results,
            interface_up: &self.interface_up,
            file_values: &self.file_values,
            process_up: &self.processes.up,
            link_up: link.up,
            source_present: self.running[i]
                .plan
                .unicast_source
                .is_none_or(source_present),
            has_address: !self.running[i].plan.source_from_interface
                || self.interface_source(i).is_some(),
        }
    }

    /// Why instance `i` is in FAULT now, each object named (for its start-up lines).
    pub(super) fn fault_reasons(&self, i: usize) -> Vec<FaultReason> {
        let results = self.script_results();
        let files: Vec<String> = self.files.iter().map(|f| f.name.clone()).collect();
        let processes: Vec<String> = self.processes.names();
        let names = Names {
            files: &files,
            processes: &processes,
        };
        fault_reasons(&self.running[i].plan, &self.world_of(i, &results), &names)
    }

    /// Hands instance `i` what tracking says now.
    pub(super) async fn apply_tracking(&mut self, i: usize, now: Instant) {
        let tracking = self.tracking_of(i);
        self.running[i].instance.track(now, tracking);
        self.execute(i).await;
    }

    /// Starts instance `i` as tracking says: BACKUP, MASTER for an owner, or FAULT directly.
    pub(super) async fn start_instance(&mut self, i: usize, now: Instant) {
        self.running[i].started = true;
        self.refresh_source(i);
        let tracking = self.tracking_of(i);
        let drained = self.drained.contains(&self.running[i].plan.config.name);
        self.running[i].instance.set_drained(now, drained);
        self.running[i].instance.start(now, tracking);
        self.execute(i).await;
    }

    /// Whether instance `i` still waits for the first result of a weight-0 script.
    pub(super) fn waits_for_scripts(&self, i: usize) -> bool {
        waits_for_first_results(&self.running[i].plan, &self.script_results())
    }

    /// Starts the task that runs `plan` on its interval.
    pub(super) fn start_script(&mut self, plan: ScriptPlan) -> RunningScript {
        let id = self.next_script_id;
        self.next_script_id += 1;
        let running = Rc::new(Cell::new(RunPhase::Idle));
        let task = spawn_script(
            id,
            plan.spec.clone(),
            self.outcomes.clone(),
            running.clone(),
        );
        RunningScript {
            running,
            tracker: Tracker::from_spec(&plan.spec),
            plan,
            id,
            task,
            reported_cannot_run: false,
            last_outcome: None,
        }
    }

    /// A script finished: update its rise/fall state, log as keepalived does, and re-rate the
    /// instances that track it (or start those that waited for its first result).
    pub(super) async fn script_ran(&mut self, id: u64, outcome: Outcome) {
        // An outcome from a script the last reload stopped is stale.
        let Some(script) = self.scripts.iter().position(|s| s.id == id) else {
            return;
        };
        let name = self.scripts[script].plan.spec.name.clone();
        if let Outcome::CannotRun(reason) = &outcome
            && !self.scripts[script].reported_cannot_run
        {
            self.scripts[script].reported_cannot_run = true;
            self.logger
                .info(&format!("{} {reason}", wording::script(&name)));
        }
        // keepalived reports a script's first result too (it starts in an "init" state), so
        // the log says `succeeded` once at start-up; after that only changes are reported.
        let (changed, lines) = self.scripts[script].tracker.record_logged(&name, &outcome);
        self.scripts[script].last_outcome = Some(outcome.clone());
        for line in lines {
            self.logger.info(&line);
        }
        let now = Instant::now();
        for i in 0..self.running.len() {
            if !self.running[i]
                .plan
                .scripts
                .iter()
                .any(|u| u.script == script)
            {
                continue;
            }
            if !self.running[i].started {
                if !self.waits_for_scripts(i) {
                    self.start_instance(i, now).await;
                }
            } else if changed.is_some() {
                self.apply_tracking(i, now).await;
            }
        }
    }

    /// Tracks `files` from now on: writes the `init_file` values, reads every file, and
    /// (re)starts the task that watches them.
    pub(super) fn watch_files(&mut self, files: Vec<FilePlan>) {
        if let Some(watch) = self.file_watch.take() {
            watch.abort();
        }
        self.file_generation += 1;
        for file in &files {
            if let Some((value, overwrite)) = file.init
                && let Err(err) = init_file(&file.path, value, overwrite)
            {
                self.logger.info(&format!(
                    "Unable to initialise track file {} ({}): {err}",
                    file.name,
                    file.path.display()
                ));
            }
        }
        self.file_values = files
            .iter()
            .map(|f| {
                let value = read_value(&f.path);
                if let Some(line) = value.log_line(&f.path) {
                    self.logger.info(&line);
                }
                value.status_or(0)
            })
            .collect();
        self.files = files;
        if self.files.is_empty() {
            return;
        }
        let paths = self.files.iter().map(|f| f.path.clone()).collect();
        match FileWatcher::new(paths) {
            Ok(mut watcher) => {
                let events = self.file_events.clone();
                let generation = self.file_generation;
                self.file_watch = Some(tokio::task::spawn_local(async move {
                    while let Some((index, value)) = watcher.next().await {
                        if events.send((generation, index, value)).await.is_err() {
                            return;
                        }
                    }
                }));
            }
            Err(err) => self.logger.info(&format!(
                "cannot watch the tracked files (their values are read once): {err}"
            )),
        }
    }

    /// A tracked file changed: keep its new value and re-rate the instances that track it.
    pub(super) async fn file_changed(&mut self, file: usize, value: FileValue) {
        let (Some(plan), Some(&previous)) = (self.files.get(file), self.file_values.get(file))
        else {
            return;
        };
        if let Some(line) = value.log_line(&plan.path) {
            self.logger.info(&line);
        }
        let plan_name = plan.name.clone();
        let new = value.status_or(previous);
        if new == previous {
            return;
        }
        self.file_values[file] = new;
        let now = Instant::now();
        for i in 0..self.running.len() {
            let uses: Vec<_> = self.running[i]
                .plan
                .track_files
                .iter()
                .filter(|u| u.file == file)
                .copied()
                .collect();
            if uses.is_empty() || !self.running[i].started {
                continue;
            }
            // keepalived 2.2.7: `(VI_1): tracked file tf now FAULT state` / `leaving FAULT
            // state` when the file starts or stops putting the instance in FAULT (observed).
            let fault = |value| {
                uses.iter().any(|u| {
                    file_effect(value, u.weight, u.reverse)
                        == keepalived_track::file::FileEffect::Fault
                })
            };
            if fault(previous) != fault(new) {
                self.logger.info(&wording::tracked_file_fault(
                    &self.running[i].plan.config.name,
                    &plan_name,
                    fault(new),
                ));
            }
            self.apply_tracking(i, now).await;
        }
    }

    /// An interface went up or down, appeared or went away: links whose interface is
    /// created (again) get a socket on it, and the instances on it or tracking it are
    /// re-rated. keepalived 2.2.7's lines: `Interface eth9 added` / `deleted`, `Netlink
    /// reports eth9 up` / `down`.
    pub(super) async fn link_changed(&mut self, event: LinkEvent) {
        if event.name.is_empty() || self.stale_vmac_event(&event) {
            return;
        }
        let links: Vec<usize> = (0..self.links.len())
            .filter(|&l| self.links[l].name == event.name)
            .collect();
        let tracked = self
            .running
            .iter()
            .any(|r| r.plan.track_interfaces.iter().any(|t| t.0 == event.name));
        if links.is_empty() && !tracked {
            return;
        }
        // The interface as it is now; None once it is gone (RTM_DELLINK, or a stale event).
        let present = keepalived_net::interface::lookup(&event.name)
            .ok()
            .filter(|i| i.index == event.index);
        let known = self.ifindex.get(&event.name).copied();
        let mut addresses_changed = false;
        match &present {
            Some(iface) if known != Some(iface.index) => {
                self.logger
                    .info(&wording::interface_presence(&event.name, true));
                self.ifindex.insert(event.name.clone(), iface.index);
                for &l in &links {
                    self.attach(l, iface);
                }
                self.reopen_garps(&event.name);
                addresses_changed = true;
            }
            None if known == Some(event.index) && !event.up => {
                // Gone: the log says so after the link state (as 2.2.7 orders them).
            }
            _ => {}
        }
        let up = event.up && present.is_some();
        let state_changed = self.interface_up.get(&event.name) != Some(&up);
        if state_changed {
            self.interface_up.insert(event.name.clone(), up);
            for &l in &links {
                self.links[l].up = up;
            }
            self.logger.info(&wording::link_state(&event.name, up));
        }
        if present.is_none() && known == Some(event.index) {
            self.ifindex.remove(&event.name);
            for &l in &links {
                self.links[l].primary = None;
            }
            self.logger
                .info(&wording::interface_presence(&event.name, false));
        }
        if !state_changed && !addresses_changed {
            return;
        }
        let now = Instant::now();
        for i in 0..self.running.len() {
            let affected = self.running[i].started
                && (links.contains(&self.running[i].link)
                    || self.running[i]
                        .plan
                        .track_interfaces
                        .iter()
                        .any(|t| t.0 == event.name));
            if affected {
                self.refresh_source(i);
                self.apply_tracking(i, now).await;
                self.announce_on_link_back(i, &event.name, up && state_changed, now)
                    .await;
            }
        }
    }

    /// A master with `dont_track_primary` stays MASTER while its interface is down, and
    /// announces its addresses again when the interface comes back up (2.2.7, observed).
    async fn announce_on_link_back(
        &mut self,
        i: usize,
        interface: &str,
        came_up: bool,
        now: Instant,
    ) {
        let running = &mut self.running[i];
        if came_up && running.plan.dont_track_primary && running.plan.config.interface == interface
        {
            running.instance.reannounce(now);
            self.execute(i).await;
        }
    }

    /// Link `l`'s interface exists (again) as `iface`: a new socket on it, its address.
    fn attach(&mut self, l: usize, iface: &keepalived_net::interface::Interface) {
        if self.links[l].index == iface.index && !matches!(self.links[l].socket, LinkSocket::Absent)
        {
            return;
        }
        let socket = match self.open_socket(iface, self.links[l].kind) {
            Ok(socket) => socket,
            Err(err) => {
                self.logger.info(&format!("{err:#}"));
                LinkSocket::Absent
            }
        };
        if let LinkSocket::Ah(ah) = &socket {
            for r in self.running.iter().filter(|r| r.link == l) {
                if let Some(key) = r.plan.ah_key {
                    ah.set_key(r.plan.config.vrid, key);
                }
            }
        }
        self.links[l].socket = socket;
        self.links[l].paused_until = None;
        self.links[l].index = iface.index;
        self.links[l].primary = self.first_address(iface, self.links[l].kind.ipv6.is_some());
    }

    /// The gratuitous-ARP sender of interface `name`, opened again on its new index.
    fn reopen_garps(&mut self, name: &str) {
        let wanted = self.garps.contains_key(name)
            || self.running.iter().any(|r| {
                r.plan.config.interface == name
                    || r.plan.addresses.iter().any(|a| a.interface == name)
            });
        if !wanted {
            return;
        }
        self.garps.remove(name);
        if let Ok(iface) = keepalived_net::interface::lookup(name) {
            match keepalived_net::garp::GarpSender::open(&iface) {
                Ok(garp) => {
                    self.garps.insert(iface.name, garp);
                }
                Err(err) => self
                    .logger
                    .info(&format!("cannot open the ARP socket on {name}: {err}")),
            }
        }
    }

    /// Instance `i` takes its source from its interface (see [`followed_source`]).
    fn refresh_source(&mut self, i: usize) {
        if !self.running[i].plan.source_from_interface {
            return;
        }
        let current = self.running[i].instance.config().local_address;
        if let Some(source) = self.vmac_source(i, current) {
            // A VMAC instance keeps its last source while its underlying interface has none
            // (its priority-0 advert leaves from it, as 2.2.7's does), and takes the
            // interface's next one.
            if source != current {
                self.running[i].instance.set_local_address(source);
            }
            return;
        }
        if let Some(source) = followed_source(current, self.interface_source(i)) {
            self.running[i].instance.set_local_address(source);
        }
    }

    /// An address was added to or removed from an interface: the address of the links on it
    /// is read again, and the instances it matters to are re-rated (no IPv4 address, or no
    /// IPv6 link-local one, means FAULT; a `unicast_src_ip` that appears lets the instance
    /// leave FAULT).
    pub(super) async fn address_changed(&mut self, change: AddressChange) {
        let now = Instant::now();
        // First what a master does when its VIP goes (2.2.7 logs it before the interface's
        // own address going with it, as removing a primary takes its secondaries along).
        if !change.added {
            self.vip_removed(&change, now).await;
        }
        let mut affected: Vec<usize> = Vec::new();
        for l in 0..self.links.len() {
            if self.links[l].index != change.index || self.links[l].index == 0 {
                continue;
            }
            let Ok(iface) = keepalived_net::interface::lookup(&self.links[l].name) else {
                continue;
            };
            let primary = self.first_address(&iface, self.links[l].kind.ipv6.is_some());
            if primary != self.links[l].primary {
                let name = &self.links[l].name;
                if let Some(old) = self.links[l].primary {
                    self.logger.detail(&wording::deassigned_address(old, name));
                }
                if let Some(new) = primary {
                    self.logger.detail(&wording::assigned_address(new, name));
                }
                self.links[l].primary = primary;
                affected.extend((0..self.running.len()).filter(|&i| self.running[i].link == l));
            }
        }
        // VMAC instances send from their underlying interface's address.
        let over_base = self.base_source_changed(change.index);
        affected.extend(over_base);
        affected.extend((0..self.running.len()).filter(|&i| {
            self.running[i]
                .plan
                .unicast_source
                .is_some_and(|a| std::net::IpAddr::V4(a) == change.address)
        }));
        affected.sort_unstable();
        affected.dedup();
        for i in affected {
            self.refresh_source(i);
            if self.running[i].started {
                self.apply_tracking(i, now).await;
            }
        }
    }

    /// Someone else removed a VIP of a master: as keepalived 2.2.7 (observed), it says so
    /// (`Netlink reflector reports IP 192.0.2.100 removed from eth0`), steps down (BACKUP,
    /// priority 0, its addresses released) and, alone on the link, takes over again after
    /// Skew_Time, setting its addresses again (`Instance::step_down`).
    async fn vip_removed(&mut self, change: &AddressChange, now: Instant) {
        for i in 0..self.running.len() {
            let running = &self.running[i];
            if running.instance.state() != keepalived_vrrp::event::State::Master {
                continue;
            }
            let Some(vip) = holds_vip(&running.plan.addresses, change, |name| {
                self.ifindex.get(name).copied()
            }) else {
                continue;
            };
            let vip = vip.clone();
            // Back already: the event was of a removal of ours, seen late.
            if self.is_present(&vip).await {
                continue;
            }
            self.logger.info(&format!(
                "Netlink reflector reports IP {} removed from {}",
                change.address, vip.interface
            ));
            self.running[i].instance.step_down(now);
            self.execute(i).await;
        }
    }
}

/// The tracked VIP of `addresses` that `change` (a removal) took away, if any: the same
/// address on the interface it belongs on (`ifindex` resolves interface names). A `no_track`
/// VIP is not: its removal changes nothing, silently, as in 2.2.7 (observed).
pub fn holds_vip<'a>(
    addresses: &'a [AddressPlan],
    change: &AddressChange,
    ifindex: impl Fn(&str) -> Option<u32>,
) -> Option<&'a AddressPlan> {
    addresses
        .iter()
        .filter(|a| !a.no_track)
        .find(|a| a.address == change.address && ifindex(&a.interface) == Some(change.index))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vrrp::setup::{InterfaceInfo, plan};
    use keepalived_config::{FakeHost, LoadOptions, load_str};
    use std::path::Path;

    fn plans(text: &str) -> Vec<InstancePlan> {
        let host = FakeHost::lab();
        let loaded = load_str(text, Path::new("t.conf"), &LoadOptions::for_host(&host));
        let lookup = |_: &str| {
            Some(InterfaceInfo {
                index: 2,
                primary: None,
                link_local: None,
            })
        };
        plan(&loaded.config, lookup, |_| Some((0, 0))).instances
    }

    const CONF: &str = "global_defs {\n script_user root\n enable_script_security\n}\n\
        vrrp_script zero {\n script /bin/true\n}\n\
        vrrp_script heavy {\n script /bin/true\n weight -30\n}\n\
        vrrp_instance A {\n interface eth0\n virtual_router_id 1\n priority 100\n track_script {\n zero\n heavy\n }\n track_interface {\n eth1 weight 10\n }\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n";

    const fn result(good: bool) -> ScriptState {
        ScriptState {
            has_result: true,
            good,
        }
    }
    const INIT: ScriptState = ScriptState {
        has_result: false,
        good: true,
    };

    fn world<'a>(
        scripts: &'a [ScriptState],
        up: &'a HashMap<String, bool>,
        link_up: bool,
    ) -> World<'a> {
        World {
            scripts,
            interface_up: up,
            file_values: &[],
            process_up: &[],
            link_up,
            source_present: true,
            has_address: true,
        }
    }

    #[test]
    fn dont_track_primary_keeps_a_down_interface_from_faulting() {
        let text = CONF.replace(" priority 100\n", " priority 100\n dont_track_primary\n");
        let p = &plans(&text)[0];
        assert!(p.dont_track_primary);
        let up = HashMap::from([("eth1".to_string(), true)]);
        let results = [result(true), result(true)];
        let w = world(&results, &up, false);
        assert_eq!(assess(p, &w).fault, None);
        let names = Names {
            files: &[],
            processes: &[],
        };
        assert!(fault_reasons(p, &w, &names).is_empty());
        // Without it, the same world is a link-down FAULT.
        let q = &plans(CONF)[0];
        assert_eq!(assess(q, &w).fault, Some(FaultCause::LinkDown));
    }

    #[test]
    fn a_unicast_source_not_on_the_host_is_a_fault() {
        let p = &plans(CONF)[0];
        let up = HashMap::new();
        let results = [result(true), result(true)];
        let mut w = world(&results, &up, true);
        w.source_present = false;
        assert_eq!(assess(p, &w).fault, Some(FaultCause::Tracked));
        w.link_up = false;
        assert_eq!(assess(p, &w).fault, Some(FaultCause::LinkDown));
        assert!(source_present(Ipv4Addr::LOCALHOST));
        // A documentation address the test host itself does not hold (labs put theirs in
        // namespaces).
        assert!(!source_present(Ipv4Addr::new(203, 0, 113, 251)));
    }

    #[test]
    fn weights_and_faults_follow_the_tracked_objects() {
        let p = &plans(CONF)[0];
        let mut up = HashMap::new();
        up.insert("eth1".to_string(), true);
        let t = assess(p, &world(&[result(true), result(true)], &up, true));
        assert_eq!((t.priority, t.fault), (110, None));
        let t = assess(p, &world(&[result(true), result(false)], &up, true));
        assert_eq!((t.priority, t.fault), (80, None));
        let t = assess(p, &world(&[result(false), result(true)], &up, true));
        assert_eq!(t.fault, Some(FaultCause::Script), "weight-0 script failed");
        let t = assess(p, &world(&[result(false), result(true)], &up, false));
        assert_eq!(t.fault, Some(FaultCause::LinkDown), "the link wins");
        // Before their first result scripts count as their initial state says.
        let t = assess(p, &world(&[INIT, INIT], &up, true));
        assert_eq!((t.priority, t.fault), (110, None));
    }

    #[test]
    fn fault_reasons_name_each_object_in_keepalived_order() {
        let text = "vrrp_track_file tf {\n file /tmp/none-tf\n}\n\
            vrrp_instance A {\n interface eth0\n virtual_router_id 1\n priority 100\n track_interface {\n eth1\n eth2 weight 10\n }\n track_file {\n tf weight 0\n }\n unicast_src_ip 203.0.113.251\n unicast_peer {\n 203.0.113.252\n }\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n";
        let p = &plans(text)[0];
        let up = HashMap::from([("eth1".to_string(), false), ("eth2".to_string(), false)]);
        let files = ["tf".to_string()];
        let names = Names {
            files: &files,
            processes: &[],
        };
        let mut w = world(&[], &up, false);
        w.file_values = &[1];
        w.has_address = false;
        w.source_present = false;
        assert_eq!(
            fault_reasons(p, &w, &names),
            vec![
                FaultReason::InterfaceDown("eth0".into()),
                FaultReason::InterfaceDown("eth1".into()),
                FaultReason::NoAddress(Family::V4),
                FaultReason::File {
                    name: "tf".into(),
                    status: -254
                },
                FaultReason::SourceMissing(Ipv4Addr::new(203, 0, 113, 251)),
            ],
            "a weighted interface lowers the priority, it is no reason"
        );
        assert_eq!(assess(p, &w).fault, Some(FaultCause::LinkDown));
        let up = HashMap::from([("eth1".to_string(), true)]);
        let mut w = world(&[], &up, true);
        w.has_address = false;
        assert_eq!(
            fault_reasons(p, &w, &names),
            vec![FaultReason::NoAddress(Family::V4)]
        );
        assert_eq!(assess(p, &w).fault, Some(FaultCause::Tracked));
        w.has_address = true;
        assert!(fault_reasons(p, &w, &names).is_empty());
        assert_eq!(assess(p, &w).fault, None);
    }

    #[test]
    fn keepalived_waits_only_for_weight_zero_scripts() {
        let p = &plans(CONF)[0];
        assert!(waits_for_first_results(p, &[INIT, result(true)]));
        assert!(!waits_for_first_results(p, &[result(false), INIT]));
    }

    #[test]
    fn keepalived_ipv6_instance_without_link_local_is_in_fault_until_one_comes() {
        // keepalived 2.2.7 (observed): `(VI_1) entering FAULT state (no IPv6 address for
        // interface)` at start; a global address does not help; a link-local one added later
        // brings it to BACKUP, its removal back to FAULT.
        let p = plans(
            "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 2001:db8::100/64\n }\n}\n",
        );
        let a = &p[0];
        assert!(a.source_from_interface);
        assert!(a.config.local_address.is_unspecified());
        let up = HashMap::new();
        let names = Names {
            files: &[],
            processes: &[],
        };
        let mut w = world(&[], &up, true);
        w.has_address = false;
        assert_eq!(assess(a, &w).fault, Some(FaultCause::Tracked));
        assert_eq!(
            fault_reasons(a, &w, &names),
            vec![FaultReason::NoAddress(Family::V6)]
        );
        let link_down = World {
            link_up: false,
            ..w
        };
        assert_eq!(assess(a, &link_down).fault, Some(FaultCause::LinkDown));
        let none = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
        let ll: IpAddr = "fe80::5".parse().expect("address");
        let other: IpAddr = "fe80::6".parse().expect("address");
        assert_eq!(followed_source(none, Some(ll)), Some(ll));
        assert_eq!(followed_source(ll, Some(ll)), None);
        assert_eq!(followed_source(ll, Some(other)), Some(other));
        assert_eq!(followed_source(ll, None), Some(none));
        assert_eq!(followed_source(none, None), None);
        // IPv4: the source is kept while the interface has an IPv4 address (2.2.7, observed).
        let v4_none = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        let first: IpAddr = "192.0.2.1".parse().expect("address");
        let second: IpAddr = "198.51.100.9".parse().expect("address");
        assert_eq!(followed_source(v4_none, Some(first)), Some(first));
        assert_eq!(followed_source(first, Some(second)), None);
        assert_eq!(followed_source(first, None), Some(v4_none));
        // A configured source is not followed.
        let q = plans(
            "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n mcast_src_ip fe80::9\n virtual_ipaddress {\n 2001:db8::100/64\n }\n}\n",
        );
        assert!(!q[0].source_from_interface);
        let r = plans(CONF);
        // The test host's eth0 has no IPv4 address: the IPv4 instance follows the interface.
        assert!(r[0].source_from_interface);
        assert_eq!(r[0].config.local_address, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    }

    #[test]
    fn a_removed_vip_is_found_on_its_own_interface_only() {
        let p = plans(
            "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 192.0.2.100/24\n 192.0.2.101/24 dev eth1\n 192.0.2.102/24 no_track\n }\n}\n",
        );
        let index = |name: &str| match name {
            "eth0" => Some(2),
            "eth1" => Some(3),
            _ => None,
        };
        let removed = |address: &str, index: u32| AddressChange {
            added: false,
            address: address.parse().expect("address"),
            index,
        };
        let found = holds_vip(&p[0].addresses, &removed("192.0.2.100", 2), index);
        assert_eq!(found.map(|a| a.interface.as_str()), Some("eth0"));
        let found = holds_vip(&p[0].addresses, &removed("192.0.2.101", 3), index);
        assert_eq!(found.map(|a| a.interface.as_str()), Some("eth1"));
        assert!(holds_vip(&p[0].addresses, &removed("192.0.2.100", 3), index).is_none());
        assert!(holds_vip(&p[0].addresses, &removed("192.0.2.50", 2), index).is_none());
        assert!(holds_vip(&p[0].addresses, &removed("192.0.2.102", 2), index).is_none());
    }
}
