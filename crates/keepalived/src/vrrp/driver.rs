//! The thin Linux driver around the sans-IO engine: one raw socket and one gratuitous-ARP
//! sender per interface, one timer for all instances (the earliest `poll_timeout`), packets
//! routed to instances by interface and VRID, link events turned into FAULT, the engine's
//! actions carried out through crates/net, and reloads that keep unchanged instances running.

use std::cell::Cell;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::rc::Rc;
use std::time::{Instant, SystemTime};

use anyhow::Context;
use keepalived_net::addresses::{AddressManager, AddressSpec};
use keepalived_net::garp::GarpSender;
use keepalived_net::interface;
use keepalived_net::link::{self, LinkEvent};
use keepalived_net::timer::PreciseTimer;
use keepalived_net::vrrp_socket::VrrpSocket;
use keepalived_track::{Outcome, ScriptSpec, Tracked, Tracker, run_once};
use keepalived_vrrp::instance::{Action, DropReason, Instance, Received, State};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use keepalived_vrrp::packet::{Auth, Version};

use keepalived_track::effective_priority_with_files;
use keepalived_track::file::{FileValue, FileWatcher, file_effect, init_file, read_value};

use super::setup::{AddressPlan, FilePlan, InstancePlan, Planned, ScriptPlan};
use crate::dump::{
    InstanceSnapshot, InstanceState, ScriptSnapshot, ScriptStatus, Snapshot, StatsSnapshot,
    VipSnapshot,
};
use crate::logger::Logger;

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

/// A duration in whole milliseconds.
fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A packet read from an interface's socket.
struct Incoming {
    interface: usize,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    payload: Vec<u8>,
}

/// What the daemon around the driver asks of it (from signals).
#[derive(Debug)]
pub enum Control {
    /// Stop every instance and return (SIGTERM, SIGINT, the parent's death).
    Stop,
    /// Run this newly loaded configuration (SIGHUP): unchanged instances keep their state.
    Reload(Planned),
    /// Write the state dump (SIGUSR1).
    DumpData,
    /// Write the statistics dump (SIGUSR2).
    DumpStats,
    /// Write the JSON dump (SIGRTMIN+2).
    DumpJson,
    /// Write the statistics dump, then clear the counters (SIGRTMAX-1).
    DumpAndClearStats,
}

/// The per-interface half of the data path.
struct Link {
    name: String,
    index: u32,
    socket: Rc<VrrpSocket>,
    /// Packets for a VRID nobody here runs.
    unknown_vrid: u64,
    /// Packets too short to carry a VRID.
    too_short: u64,
    /// Packets the receiver had to drop because the main loop was behind.
    queue_full: Rc<Cell<u64>>,
    /// The last link state seen (the kernel repeats RTM_NEWLINK for unrelated changes).
    up: bool,
}

/// One running vrrp_instance.
struct Running {
    instance: Instance,
    plan: InstancePlan,
    /// Index into `Driver::links`.
    link: usize,
    /// Its notify commands, run one after the other in the order of the transitions by a task
    /// of its own, so the protocol never waits for them.
    /// Only when it has notify scripts.
    notifier: Option<Notifier>,
    /// When it last changed state.
    last_transition: Option<SystemTime>,
    /// Started: it waits for the first result of every weight-0 script it tracks, as
    /// keepalived 2.2.7 does.
    started: bool,
}

/// The queue of one instance's notify commands and the task that runs them.
struct Notifier {
    queue: mpsc::UnboundedSender<Vec<String>>,
    task: JoinHandle<()>,
}

/// One tracked vrrp_script and the task that runs it.
struct RunningScript {
    plan: ScriptPlan,
    /// Identifies the outcomes of this script's task (indexes move on reload).
    id: u64,
    tracker: Tracker,
    task: JoinHandle<()>,
    /// Its "cannot run" reason was logged (once).
    reported_cannot_run: bool,
}

/// The daemon-wide settings the driver needs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `vrrp_mcast_group4`.
    pub group: Ipv4Addr,
    /// `router_id`, for the dumps.
    pub router_id: String,
    /// `-V`: leave the addresses in place when stopping.
    pub keep_addresses: bool,
}

/// Everything the driver owns.
struct Driver {
    group: Ipv4Addr,
    router_id: String,
    links: Vec<Link>,
    running: Vec<Running>,
    /// (interface, VRID) → instance.
    routes: HashMap<(usize, u8), usize>,
    addresses: AddressManager,
    ifindex: HashMap<String, u32>,
    /// Gratuitous-ARP senders by interface: the instance's, and every `dev` of an address.
    garps: HashMap<String, GarpSender>,
    logger: Logger,
    /// `-V`: leave the addresses in place when stopping.
    keep_addresses_on_stop: bool,
    /// Set once the stop has begun.
    stopping: bool,
    /// The tracked scripts.
    scripts: Vec<RunningScript>,
    next_script_id: u64,
    /// Link state by interface name: the instances' interfaces and the tracked ones.
    interface_up: HashMap<String, bool>,
    /// Where receivers hand packets over.
    packets: mpsc::Sender<Incoming>,
    /// Where script tasks hand outcomes over: (script id, outcome).
    outcomes: mpsc::Sender<(u64, Outcome)>,
    /// The tracked files, the value each holds now, and the task watching them.
    files: Vec<FilePlan>,
    file_values: Vec<i64>,
    file_watch: Option<JoinHandle<()>>,
    /// Where the file watcher hands changes over: (generation, file index, value).
    file_events: mpsc::Sender<(u64, usize, FileValue)>,
    /// Bumped whenever the set of files changes, so stale events are ignored.
    file_generation: u64,
    /// The earliest deadline of all instances and whose it is, as last computed.
    earliest: Option<(Instant, usize)>,
    /// Instances that handled an event since `earliest` was computed.
    touched: Vec<usize>,
    /// The instance list changed: `earliest` must be computed from scratch.
    instances_changed: bool,
}

/// Runs `plans` until [`Control::Stop`] arrives on `controls`, then stops every instance
/// (priority 0 from masters, addresses removed unless `keep_addresses`).
pub async fn run(
    planned: Planned,
    settings: Settings,
    logger: Logger,
    mut controls: mpsc::Receiver<Control>,
) -> anyhow::Result<()> {
    let (packets, mut rx) = mpsc::channel::<Incoming>(1024);
    let (outcomes, mut script_rx) = mpsc::channel::<(u64, Outcome)>(256);
    let (file_events, mut file_rx) = mpsc::channel::<(u64, usize, FileValue)>(64);
    let mut driver = Driver {
        group: settings.group,
        router_id: settings.router_id,
        links: Vec::new(),
        running: Vec::new(),
        routes: HashMap::new(),
        addresses: AddressManager::new().context("rtnetlink")?,
        ifindex: HashMap::new(),
        garps: HashMap::new(),
        logger,
        keep_addresses_on_stop: settings.keep_addresses,
        stopping: false,
        scripts: Vec::new(),
        next_script_id: 0,
        interface_up: HashMap::new(),
        packets,
        outcomes,
        files: Vec::new(),
        file_values: Vec::new(),
        file_watch: None,
        file_events,
        file_generation: 0,
        earliest: None,
        touched: Vec::new(),
        instances_changed: true,
    };
    let mut link_events = link::watch().context("cannot watch link state")?;
    driver.install(planned).await?;
    // tokio's sleep rounds up to whole milliseconds; protocol deadlines need better.
    let timer = PreciseTimer::new().context("cannot create the protocol timer")?;
    // The deadline the timer holds and has not reported yet: most packets move a deadline
    // other than the earliest, and then the timer need not be set again (one syscall saved
    // per advert received).
    let mut armed: Option<Instant> = None;
    loop {
        let deadline = driver.earliest_deadline();
        if let Some(at) = deadline
            && armed != Some(at)
        {
            timer.arm(at).context("cannot arm the protocol timer")?;
            armed = Some(at);
        }
        let sleep = async {
            match deadline {
                Some(_) => {
                    if timer.expired().await.is_err() {
                        // Fall back to tokio's coarser timer rather than spin.
                        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                    }
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            control = controls.recv() => match control {
                None | Some(Control::Stop) => break,
                Some(Control::Reload(planned)) => {
                    if let Err(err) = driver.install(planned).await {
                        driver.logger.info(&format!("Reload failed: {err:#}"));
                    }
                }
                Some(Control::DumpData) => driver.dump(super::dumps::Kind::Data),
                Some(Control::DumpStats) => driver.dump(super::dumps::Kind::Stats),
                Some(Control::DumpJson) => driver.dump(super::dumps::Kind::Json),
                Some(Control::DumpAndClearStats) => {
                    driver.dump(super::dumps::Kind::Stats);
                    for running in &mut driver.running {
                        running.instance.clear_stats();
                    }
                }
            },
            () = sleep => {
                armed = None;
                let now = Instant::now();
                for i in 0..driver.running.len() {
                    if driver.running[i].instance.poll_timeout().is_some_and(|t| t <= now) {
                        driver.running[i].instance.handle_timeout(now);
                        driver.execute(i).await;
                    }
                }
            }
            Some(packet) = rx.recv() => {
                driver.receive(packet).await;
                // Whatever else has arrived is handled before the timer is looked at again.
                while let Ok(packet) = rx.try_recv() {
                    driver.receive(packet).await;
                }
            }
            Some(event) = link_events.recv() => driver.link_changed(event).await,
            Some((id, outcome)) = script_rx.recv() => driver.script_ran(id, outcome).await,
            Some((generation, file, value)) = file_rx.recv() => {
                if generation == driver.file_generation {
                    driver.file_changed(file, value).await;
                }
            }
        }
    }
    driver.stopping = true;
    let now = Instant::now();
    for i in 0..driver.running.len() {
        driver.running[i].instance.shutdown(now);
        driver.execute(i).await;
        driver.log_drops(i);
    }
    driver.log_link_drops();
    for script in &driver.scripts {
        script.task.abort();
    }
    if let Some(watch) = driver.file_watch.take() {
        watch.abort();
    }
    // notify_stop and anything still queued run before we exit, within the 5 s a stop may take.
    let pending: Vec<JoinHandle<()>> = std::mem::take(&mut driver.running)
        .into_iter()
        .filter_map(|r| r.notifier.map(|n| n.task))
        .collect();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(4), async {
        for task in pending {
            let _ = task.await;
        }
    })
    .await;
    Ok(())
}

/// Whether two plans describe the same instance, comparing tracked scripts by what they run
/// (their indexes differ between two loads).
fn same_instance(
    (old, old_scripts, old_files): (&InstancePlan, &[RunningScript], &[FilePlan]),
    (new, new_scripts, new_files): (&InstancePlan, &[ScriptPlan], &[FilePlan]),
) -> bool {
    let files = |plan: &InstancePlan, files: &[FilePlan]| -> Vec<(Option<FilePlan>, i32, bool)> {
        plan.track_files
            .iter()
            .map(|u| (files.get(u.file).cloned(), u.weight, u.reverse))
            .collect()
    };
    if files(old, old_files) != files(new, new_files) {
        return false;
    }
    let resolve_old = |plan: &InstancePlan| -> Vec<(Option<ScriptSpec>, i32, bool)> {
        plan.scripts
            .iter()
            .map(|u| {
                let spec = old_scripts.get(u.script).map(|s| s.plan.spec.clone());
                (spec, u.weight, u.reverse)
            })
            .collect()
    };
    let resolve_new = |plan: &InstancePlan| -> Vec<(Option<ScriptSpec>, i32, bool)> {
        plan.scripts
            .iter()
            .map(|u| {
                let spec = new_scripts.get(u.script).map(|s| s.spec.clone());
                (spec, u.weight, u.reverse)
            })
            .collect()
    };
    let strip = |plan: &InstancePlan| InstancePlan {
        scripts: Vec::new(),
        track_files: Vec::new(),
        ..plan.clone()
    };
    strip(old) == strip(new) && resolve_old(old) == resolve_new(new)
}

impl Driver {
    /// The earliest deadline over all instances. A received advert moves the deadline of one
    /// instance, usually not the earliest one, so only the instances touched since the last
    /// call are looked at, unless the earliest one itself was touched (then all are).
    fn earliest_deadline(&mut self) -> Option<Instant> {
        let touched = std::mem::take(&mut self.touched);
        let holder_touched = self
            .earliest
            .is_some_and(|(_, holder)| touched.contains(&holder));
        if self.instances_changed || holder_touched || self.earliest.is_none() {
            self.instances_changed = false;
            self.earliest = self
                .running
                .iter()
                .enumerate()
                .filter_map(|(i, r)| r.instance.poll_timeout().map(|at| (at, i)))
                .min();
        } else {
            for i in touched {
                if let Some(at) = self.running.get(i).and_then(|r| r.instance.poll_timeout())
                    && self.earliest.is_none_or(|(min, _)| at < min)
                {
                    self.earliest = Some((at, i));
                }
            }
        }
        self.touched.clear();
        self.earliest.map(|(at, _)| at)
    }

    /// Runs `plans` and `scripts`: at start-up every one is new; on reload an instance whose
    /// settings did not change keeps its state, timers and addresses, a changed one restarts,
    /// a removed one stops, and scripts whose command and timing did not change keep running.
    async fn install(&mut self, planned: Planned) -> anyhow::Result<()> {
        self.instances_changed = true;
        let Planned {
            instances: plans,
            scripts,
            files,
            ..
        } = planned;
        let now = Instant::now();
        // Which current instances carry on unchanged.
        let mut kept: Vec<Option<usize>> = Vec::with_capacity(plans.len());
        for plan in &plans {
            let old = self.running.iter().position(|r| {
                r.plan.config.name == plan.config.name
                    && same_instance(
                        (&r.plan, &self.scripts, &self.files),
                        (plan, &scripts, &files),
                    )
            });
            kept.push(old);
        }
        // Stop the others first, so their addresses are released before a changed instance
        // (or another instance taking them over) starts.
        for i in 0..self.running.len() {
            if !kept.contains(&Some(i)) {
                self.logger.info(&format!(
                    "VRRP_Instance({}) is changed or removed by the reload: stopping it",
                    self.running[i].plan.config.name
                ));
                self.running[i].instance.shutdown(now);
                self.execute(i).await;
            }
        }
        // Scripts: keep those that did not change, start the new ones, stop the rest.
        let mut old_scripts: Vec<Option<RunningScript>> = std::mem::take(&mut self.scripts)
            .into_iter()
            .map(Some)
            .collect();
        let mut new_scripts = Vec::with_capacity(scripts.len());
        for plan in scripts {
            let same = old_scripts
                .iter()
                .position(|s| s.as_ref().is_some_and(|s| s.plan.spec == plan.spec));
            match same.and_then(|i| old_scripts[i].take()) {
                Some(script) => new_scripts.push(script),
                None => new_scripts.push(self.start_script(plan)),
            }
        }
        for script in old_scripts.into_iter().flatten() {
            script.task.abort();
        }
        self.scripts = new_scripts;
        if files != self.files {
            self.watch_files(files);
        }
        // Instances, in the new order.
        let mut old_running: Vec<Option<Running>> = std::mem::take(&mut self.running)
            .into_iter()
            .map(Some)
            .collect();
        let mut fresh = Vec::new();
        for (plan, old) in plans.into_iter().zip(kept) {
            let link = self.link_for(&plan)?;
            match old.and_then(|i| old_running[i].take()) {
                Some(mut running) => {
                    running.plan = plan;
                    running.link = link;
                    self.running.push(running);
                }
                None => {
                    let notify = &plan.notify;
                    let has_notify = [
                        &notify.master,
                        &notify.backup,
                        &notify.fault,
                        &notify.stop,
                        &notify.generic,
                    ]
                    .iter()
                    .any(|c| c.is_some());
                    let notifier = has_notify.then(|| {
                        let (queue, task) = spawn_notifier(
                            plan.config.name.clone(),
                            plan.notify_user,
                            self.logger.clone(),
                        );
                        Notifier { queue, task }
                    });
                    fresh.push(self.running.len());
                    self.running.push(Running {
                        instance: Instance::new(plan.config.clone()),
                        plan,
                        link,
                        notifier,
                        last_transition: None,
                        started: false,
                    });
                }
            }
        }
        // What is left stopped above; its notify_stop still runs on its own task.
        drop(old_running);
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
                self.interface_up.entry(name).or_insert_with_key(|name| {
                    interface::lookup(name).map(|i| i.up).unwrap_or(false)
                });
            }
        }
        for i in fresh {
            if !self.waits_for_scripts(i) {
                self.start_instance(i, now).await;
            }
        }
        Ok(())
    }

    /// Whether instance `i` still waits for the first result of a weight-0 script.
    fn waits_for_scripts(&self, i: usize) -> bool {
        self.running[i].plan.scripts.iter().any(|u| {
            u.weight == 0
                && self
                    .scripts
                    .get(u.script)
                    .is_some_and(|s| !s.tracker.has_result())
        })
    }

    /// Starts instance `i`: BACKUP (or FAULT, from its link and tracked objects).
    async fn start_instance(&mut self, i: usize, now: Instant) {
        self.running[i].started = true;
        let up = self.links[self.running[i].link].up;
        self.running[i].instance.start(now);
        if !up {
            self.logger.info(&format!(
                "Kernel is reporting: interface {} DOWN",
                self.running[i].plan.interface
            ));
        }
        self.apply_tracking(i, now);
        self.execute(i).await;
    }

    /// The link (socket) of `plan`'s interface, opened on first use, and the gratuitous-ARP
    /// senders its addresses need.
    fn link_for(&mut self, plan: &InstancePlan) -> anyhow::Result<usize> {
        let link = match self.links.iter().position(|l| l.name == plan.interface) {
            Some(link) => link,
            None => {
                let iface = interface::lookup(&plan.interface)
                    .with_context(|| format!("interface {}", plan.interface))?;
                let source = Some(plan.config.local_address).filter(|a| !a.is_unspecified());
                let socket = Rc::new(
                    VrrpSocket::open(&iface, source, self.group)
                        .with_context(|| format!("VRRP socket on {}", plan.interface))?,
                );
                let queue_full = Rc::new(Cell::new(0));
                spawn_receiver(
                    self.links.len(),
                    socket.clone(),
                    self.packets.clone(),
                    queue_full.clone(),
                );
                self.ifindex.insert(iface.name.clone(), iface.index);
                self.interface_up.insert(iface.name.clone(), iface.up);
                self.links.push(Link {
                    name: iface.name,
                    index: iface.index,
                    socket,
                    unknown_vrid: 0,
                    too_short: 0,
                    queue_full,
                    up: iface.up,
                });
                self.links.len() - 1
            }
        };
        for name in
            std::iter::once(&plan.interface).chain(plan.addresses.iter().map(|a| &a.interface))
        {
            if self.garps.contains_key(name) {
                continue;
            }
            // A `dev` that does not exist is reported when its address is added.
            if let Ok(iface) = interface::lookup(name) {
                let garp =
                    GarpSender::open(&iface).with_context(|| format!("ARP socket on {name}"))?;
                self.ifindex.insert(iface.name.clone(), iface.index);
                self.garps.insert(iface.name, garp);
            }
        }
        Ok(link)
    }

    /// Tracks `files` from now on: writes the `init_file` values, reads every file, and
    /// (re)starts the task that watches them.
    fn watch_files(&mut self, files: Vec<FilePlan>) {
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
    async fn file_changed(&mut self, file: usize, value: FileValue) {
        let (Some(plan), Some(&previous)) = (self.files.get(file), self.file_values.get(file))
        else {
            return;
        };
        if let Some(line) = value.log_line(&plan.path) {
            self.logger.info(&line);
        }
        let new = value.status_or(previous);
        if new == previous {
            return;
        }
        self.file_values[file] = new;
        let now = Instant::now();
        for i in 0..self.running.len() {
            let uses = self.running[i]
                .plan
                .track_files
                .iter()
                .any(|u| u.file == file);
            if uses && self.running[i].started {
                self.apply_tracking(i, now);
                self.execute(i).await;
            }
        }
    }

    /// Starts the task that runs `plan` on its interval.
    fn start_script(&mut self, plan: ScriptPlan) -> RunningScript {
        let id = self.next_script_id;
        self.next_script_id += 1;
        let task = spawn_script(id, plan.spec.clone(), self.outcomes.clone());
        RunningScript {
            tracker: Tracker::from_spec(&plan.spec),
            plan,
            id,
            task,
            reported_cannot_run: false,
        }
    }

    /// Writes dump `kind` of the current state.
    fn dump(&self, kind: super::dumps::Kind) {
        super::dumps::write(kind, &self.snapshot(), &self.logger);
    }

    /// The state of every instance and script, for the dumps.
    fn snapshot(&self) -> Snapshot {
        let instances = self
            .running
            .iter()
            .map(|r| {
                let config = &r.plan.config;
                let stats = r.instance.stats();
                let count = |reasons: &[DropReason]| -> u64 {
                    reasons.iter().map(|reason| stats.dropped(*reason)).sum()
                };
                InstanceSnapshot {
                    name: config.name.clone(),
                    state: match r.instance.state() {
                        State::Initialize => InstanceState::Init,
                        State::Backup => InstanceState::Backup,
                        State::Master => InstanceState::Master,
                        State::Fault => InstanceState::Fault,
                    },
                    interface: r.plan.interface.clone(),
                    vrid: config.vrid,
                    version: match config.version {
                        Version::V2 => 2,
                        Version::V3 => 3,
                    },
                    base_priority: config.priority,
                    effective_priority: r.instance.priority(),
                    advert_interval_ms: millis(config.advert_interval),
                    master_router: None,
                    master_priority: 0,
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
                        })
                        .collect(),
                    unicast_peers: r.plan.unicast_peers.iter().map(|p| p.to_string()).collect(),
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
        }
    }

    async fn receive(&mut self, packet: Incoming) {
        let Some(&vrid) = packet.payload.get(1) else {
            let link = &mut self.links[packet.interface];
            link.too_short += 1;
            if link.too_short == 1 {
                self.logger.info(&format!(
                    "(interface {}) VRRP packet too short - {} bytes; counting such packets \
                     from now on",
                    link.name,
                    packet.payload.len()
                ));
            }
            return;
        };
        let Some(&i) = self.routes.get(&(packet.interface, vrid)) else {
            let link = &mut self.links[packet.interface];
            link.unknown_vrid += 1;
            if link.unknown_vrid == 1 {
                self.logger.info(&format!(
                    "(interface {}) received an advert for VRID {vrid} that no instance here \
                     runs; ignoring such adverts from now on",
                    link.name
                ));
            }
            return;
        };
        let received = Received {
            src: packet.src,
            dst: packet.dst,
            ttl: packet.ttl,
            payload: &packet.payload,
        };
        self.running[i]
            .instance
            .handle_packet(Instant::now(), received);
        self.execute(i).await;
    }

    async fn link_changed(&mut self, event: LinkEvent) {
        let link = self.links.iter().position(|l| l.index == event.index);
        let tracked = self
            .running
            .iter()
            .any(|r| r.plan.track_interfaces.iter().any(|t| t.0 == event.name));
        if link.is_none() && !tracked {
            return;
        }
        // The kernel repeats RTM_NEWLINK for unrelated changes: act on real changes only.
        if self.interface_up.get(&event.name) == Some(&event.up) {
            return;
        }
        self.interface_up.insert(event.name.clone(), event.up);
        if let Some(link) = link {
            self.links[link].up = event.up;
        }
        let state = if event.up { "UP" } else { "DOWN" };
        self.logger.info(&format!(
            "Kernel is reporting: interface {} {state}",
            event.name
        ));
        let now = Instant::now();
        for i in 0..self.running.len() {
            let affected = self.running[i].started
                && (Some(self.running[i].link) == link
                    || self.running[i]
                        .plan
                        .track_interfaces
                        .iter()
                        .any(|t| t.0 == event.name));
            if affected {
                self.apply_tracking(i, now);
                self.execute(i).await;
            }
        }
    }

    /// A script finished: update its rise/fall state, log as keepalived does, and re-rate the
    /// instances that track it.
    async fn script_ran(&mut self, id: u64, outcome: Outcome) {
        // An outcome from a script the last reload stopped is stale.
        let Some(script) = self.scripts.iter().position(|s| s.id == id) else {
            return;
        };
        let name = self.scripts[script].plan.spec.name.clone();
        if let Outcome::CannotRun(reason) = &outcome
            && !self.scripts[script].reported_cannot_run
        {
            self.scripts[script].reported_cannot_run = true;
            self.logger.info(&format!("VRRP_Script({name}) {reason}"));
        }
        // keepalived reports a script's first result too (it starts in an "init" state), so
        // the log says `succeeded` once at start-up; after that only changes are reported.
        let (changed, lines) = self.scripts[script].tracker.record_logged(&name, &outcome);
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
                self.apply_tracking(i, now);
                self.execute(i).await;
            }
        }
    }

    /// Sets instance `i`'s effective priority and FAULT from its link and tracked scripts.
    fn apply_tracking(&mut self, i: usize, now: Instant) {
        let scripts = self.running[i].plan.scripts.iter().map(|u| Tracked {
            weight: u.weight,
            reverse: u.reverse,
            up: self
                .scripts
                .get(u.script)
                .is_none_or(|s| s.tracker.is_good()),
        });
        let interfaces =
            self.running[i]
                .plan
                .track_interfaces
                .iter()
                .map(|(name, weight, reverse)| Tracked {
                    weight: *weight,
                    reverse: *reverse,
                    up: self.interface_up.get(name).copied().unwrap_or(false),
                });
        let tracked: Vec<Tracked> = scripts.chain(interfaces).collect();
        let files: Vec<_> = self.running[i]
            .plan
            .track_files
            .iter()
            .map(|u| {
                let value = self.file_values.get(u.file).copied().unwrap_or(0);
                file_effect(value, u.weight, u.reverse)
            })
            .collect();
        let (priority, script_fault) =
            effective_priority_with_files(self.running[i].plan.config.priority, &tracked, &files);
        let link_up = self.links[self.running[i].link].up;
        self.running[i].instance.set_priority(now, priority);
        self.running[i]
            .instance
            .set_fault(now, script_fault || !link_up);
    }

    /// Queues the notify commands for instance `i` entering `state`: the state's own command,
    /// then the generic `notify` with its four extra arguments (compat.md section 6).
    fn notify(&self, i: usize, state: State) {
        let plan = &self.running[i].plan;
        let (own, word) = match state {
            State::Master => (&plan.notify.master, "MASTER"),
            State::Backup => (&plan.notify.backup, "BACKUP"),
            State::Fault => (&plan.notify.fault, "FAULT"),
            State::Initialize => (&plan.notify.stop, "STOP"),
        };
        let Some(Notifier { queue, .. }) = &self.running[i].notifier else {
            return;
        };
        if let Some(command) = own {
            let _ = queue.send(command.argv.clone());
        }
        if let Some(command) = &plan.notify.generic {
            let mut argv = command.argv.clone();
            argv.extend([
                "INSTANCE".to_string(),
                plan.config.name.clone(),
                word.to_string(),
                self.running[i].instance.priority().to_string(),
            ]);
            let _ = queue.send(argv);
        }
    }

    /// Logs what each interface dropped before any instance saw it.
    fn log_link_drops(&self) {
        for link in &self.links {
            let counts = [
                ("unknown VRID", link.unknown_vrid),
                ("packet too short", link.too_short),
                ("receive queue full", link.queue_full.get()),
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
    fn log_drops(&self, i: usize) {
        let stats = self.running[i].instance.stats();
        let counts: Vec<String> = DropReason::ALL
            .iter()
            .filter(|r| stats.dropped(**r) > 0)
            .map(|r| format!("{} {}", r.as_str(), stats.dropped(*r)))
            .collect();
        if !counts.is_empty() {
            self.logger.info(&format!(
                "VRRP_Instance({}) dropped adverts: {}",
                self.running[i].plan.config.name,
                counts.join(", ")
            ));
        }
    }

    /// Carries out everything instance `i` asked for.
    async fn execute(&mut self, i: usize) {
        self.touched.push(i);
        while let Some(action) = self.running[i].instance.poll_action() {
            match action {
                Action::Send(bytes) => self.send(i, &bytes).await,
                Action::AddAddresses => {
                    for address in self.running[i].plan.addresses.clone() {
                        self.change_address(&address, true).await;
                    }
                }
                Action::RemoveAddresses => {
                    // On stop with -V (dont-release-vrrp) the addresses stay.
                    if !(self.keep_addresses_on_stop && self.stopping) {
                        for address in self.running[i].plan.addresses.clone() {
                            if self.is_present(&address).await {
                                self.change_address(&address, false).await;
                            }
                        }
                    }
                }
                Action::SendGratuitousArps => self.send_garps(i),
                Action::StateChanged(state) => {
                    self.running[i].last_transition = Some(SystemTime::now());
                    self.notify(i, state);
                }
                Action::Log(line) if line.detail => self.logger.detail(&line.text),
                Action::Log(line) => self.logger.info(&line.text),
            }
        }
    }

    async fn send(&mut self, i: usize, bytes: &[u8]) {
        let link = &self.links[self.running[i].link];
        // A down link cannot carry the priority-0 advert of an instance entering FAULT.
        if !link.up {
            return;
        }
        let result = if self.running[i].plan.unicast_peers.is_empty() {
            link.socket.send(bytes).await
        } else {
            let mut result = Ok(());
            for peer in &self.running[i].plan.unicast_peers {
                result = result.and(link.socket.send_to(bytes, *peer).await);
            }
            result
        };
        if let Err(err) = result {
            self.logger.info(&format!(
                "VRRP_Instance({}) cannot send an advert on {}: {err}",
                self.running[i].plan.config.name, link.name
            ));
        }
    }

    /// One burst: `garp_repeat` gratuitous ARPs per IPv4 address, each on the interface the
    /// address lives on.
    fn send_garps(&self, i: usize) {
        let plan = &self.running[i].plan;
        for address in &plan.addresses {
            let IpAddr::V4(v4) = address.address else {
                continue;
            };
            let Some(garp) = self.garps.get(&address.interface) else {
                continue;
            };
            self.logger.detail(&format!(
                "VRRP_Instance({}) Sending gratuitous ARPs on {} for {v4}",
                plan.config.name, address.interface
            ));
            for _ in 0..plan.garp_repeat {
                if let Err(err) = garp.send(v4) {
                    self.logger.info(&format!(
                        "VRRP_Instance({}) cannot send a gratuitous ARP on {}: {err}",
                        plan.config.name, address.interface
                    ));
                    break;
                }
            }
        }
    }

    /// Whether `address` is on its interface now (a failed query counts as present, so a
    /// removal is still tried).
    async fn is_present(&self, address: &AddressPlan) -> bool {
        let Some(&ifindex) = self.ifindex.get(&address.interface) else {
            return false;
        };
        match self.addresses.list(ifindex).await {
            Ok(list) => list.contains(&(address.address, address.prefix_len)),
            Err(_) => true,
        }
    }

    async fn change_address(&self, address: &AddressPlan, add: bool) {
        let (verb, done) = if add {
            ("add", "added")
        } else {
            ("remove", "removed")
        };
        let what = format!(
            "{}/{} on {}",
            address.address, address.prefix_len, address.interface
        );
        let Some(&ifindex) = self.ifindex.get(&address.interface) else {
            self.logger.info(&format!(
                "cannot {verb} {what}: the interface does not exist"
            ));
            return;
        };
        let spec = AddressSpec {
            ifindex,
            address: address.address,
            prefix_len: address.prefix_len,
            broadcast: address.broadcast,
            scope: address.scope,
            label: address.label.clone(),
        };
        let result = if add {
            self.addresses.add(&spec).await
        } else {
            self.addresses.remove(&spec).await
        };
        match result {
            Ok(()) => self.logger.detail(&format!(
                "Netlink reflector reports IP {} {done}",
                address.address
            )),
            Err(err) => self.logger.info(&format!("cannot {verb} {what}: {err}")),
        }
    }
}

/// How long one notify command may run before it is killed.
const NOTIFY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// A task that runs an instance's notify commands one after the other.
fn spawn_notifier(
    instance: String,
    uid_gid: Option<(u32, u32)>,
    logger: Logger,
) -> (mpsc::UnboundedSender<Vec<String>>, JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<String>>();
    let task = tokio::task::spawn_local(async move {
        while let Some(argv) = rx.recv().await {
            let spec = ScriptSpec {
                name: instance.clone(),
                argv,
                interval: NOTIFY_TIMEOUT,
                timeout: NOTIFY_TIMEOUT,
                rise: 1,
                fall: 1,
                init_fail: false,
                uid_gid,
            };
            match run_once(&spec).await {
                Outcome::Success | Outcome::Failure(_) => {}
                Outcome::TimedOut => logger.info(&format!(
                    "VRRP_Instance({instance}) notify script {} timed out",
                    spec.argv.first().map_or("", String::as_str)
                )),
                Outcome::CannotRun(reason) => {
                    logger.info(&format!("VRRP_Instance({instance}) notify: {reason}"))
                }
            }
        }
    });
    (tx, task)
}

/// Runs one script on its interval until aborted, handing each outcome to the main loop.
fn spawn_script(id: u64, spec: ScriptSpec, tx: mpsc::Sender<(u64, Outcome)>) -> JoinHandle<()> {
    tokio::task::spawn_local(async move {
        loop {
            let started = tokio::time::Instant::now();
            let outcome = run_once(&spec).await;
            if tx.send((id, outcome)).await.is_err() {
                return;
            }
            tokio::time::sleep_until(started + spec.interval).await;
        }
    })
}

/// Reads one interface's socket forever, handing packets to the main loop.
fn spawn_receiver(
    interface: usize,
    socket: Rc<VrrpSocket>,
    tx: mpsc::Sender<Incoming>,
    queue_full: Rc<Cell<u64>>,
) {
    tokio::task::spawn_local(async move {
        let mut buf = vec![0u8; 65_536];
        loop {
            match socket.recv(&mut buf).await {
                Ok(r) => {
                    let Some(payload) = buf.get(r.payload.clone()) else {
                        continue;
                    };
                    let incoming = Incoming {
                        interface,
                        src: r.src,
                        dst: r.dst,
                        ttl: r.ttl,
                        payload: payload.to_vec(),
                    };
                    // A full queue means the main loop is behind: drop and count.
                    match tx.try_send(incoming) {
                        Ok(()) => {}
                        Err(mpsc::error::TrySendError::Full(_)) => {
                            queue_full.set(queue_full.get() + 1);
                        }
                        Err(mpsc::error::TrySendError::Closed(_)) => return,
                    }
                }
                // A garbled IP header is one bad packet: read the next one at once.
                Err(err) if err.kind() == std::io::ErrorKind::InvalidData => {}
                // A broken socket must not spin: wait a little before the next try.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
            }
        }
    });
}
