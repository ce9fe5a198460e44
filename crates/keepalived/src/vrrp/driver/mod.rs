//! The thin Linux driver around the sans-IO engine, one concern per module:
//!
//! - this module: the event loop — one timer for all instances (the earliest `poll_timeout`),
//!   received packets, link events, script and file results, requests from signals, and the
//!   stop;
//! - [`net`]: sockets per interface, packets routed to instances by interface and VRID;
//! - [`actions`]: carrying out the engine's actions (adverts, addresses, announcements,
//!   notify, log lines);
//! - [`tracking`]: what scripts, interfaces and files say about an instance, fed to the engine;
//! - [`reload`]: a reload as a pure diff of the old and new plans, then carried out;
//! - [`notify`]: the notify commands and the task per instance that runs them;
//! - [`status`]: the snapshot the dumps render, drop counters;
//! - [`requests`]: what the control socket and the metrics ask (snapshots, drain);
//! - [`sync_groups`]: vrrp_sync_groups moving their members together;
//! - [`routes`]: virtual and static routes and rules.
//! - [`vmac`]: the VMAC interfaces of `use_vmac`;
//! - [`ah`]: `auth_type AH`, the authentication header of each advert.
//! - [`processes`]: vrrp_track_process, the tracker task and its reports;
//! - [`fifo`]: the notify FIFO and its script.
//! - [`firewall`]: the nftables rules of instances without accept mode (`vrrp_strict`).
//! - [`read_gate`]: adverts that come in bursts read in batches.
//! - [`arrivals`]: which sockets have datagrams waiting, without a wake-up per datagram.

//!
//! Every protocol decision is the engine's ([`keepalived_vrrp::instance::Instance`]).

mod actions;
mod ah;
mod arrivals;
mod deadlines;
mod extra_garps;
pub mod fifo;
mod firewall;
mod net;
mod notify;
mod processes;
mod read_gate;
mod reload;
mod requests;
mod routes;
mod spread;
mod status;
mod sync_groups;
mod tracking;
mod vmac;

use std::collections::{BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use anyhow::Context;
use keepalived_net::addresses::AddressManager;
use keepalived_net::garp::GarpSender;
use keepalived_net::link;
use keepalived_net::timer::PreciseTimer;
use keepalived_track::Outcome;
use keepalived_track::file::FileValue;
use keepalived_vrrp::instance::Instance;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::setup::{FilePlan, InstancePlan, Planned};
use super::shutdown::Shutdown;
use super::transitions::Transitions;
use crate::alert::AlertSettings;
use crate::control::protocol::Target;
use crate::dump::Snapshot;
use crate::logger::Logger;
use net::Link;
use notify::Notifier;
use tracking::RunningScript;

/// What the daemon around the driver asks of it (from signals); the stop travels apart, as a
/// [`Shutdown`] token.
#[derive(Debug)]
pub enum Control {
    /// Run this newly loaded configuration (SIGHUP): unchanged instances keep their state.
    Reload(Box<Planned>),
    /// Write the state dump (SIGUSR1).
    DumpData,
    /// Write the statistics dump (SIGUSR2).
    DumpStats,
    /// Write the JSON dump (SIGRTMIN+2).
    DumpJson,
    /// Write the statistics dump, then clear the counters (SIGRTMAX-1).
    DumpAndClearStats,
    /// Hand over the status model (the control socket, the metrics).
    Snapshot(oneshot::Sender<Snapshot>),
    /// Drain (true) or undrain (false) instances; the answer names them, or says why
    /// nothing changed.
    Drain(Target, bool, oneshot::Sender<Result<Vec<String>, String>>),
}

/// One running vrrp_instance.
struct Running {
    instance: Instance,
    plan: InstancePlan,
    /// Index into `Driver::links`.
    link: usize,
    /// Its notify commands' task; only when it has notify commands.
    notifier: Option<Notifier>,
    /// When it last changed state.
    last_transition: Option<SystemTime>,
    /// Its state changes by cause.
    transitions: Transitions,
    /// Jitter and near failovers of the adverts it hears in BACKUP.
    watch: super::advert_watch::AdvertWatch,
    /// Started: it waits for the first result of every weight-0 script it tracks, as
    /// keepalived 2.2.7 does.
    started: bool,
}

/// The daemon-wide settings the driver needs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `vrrp_mcast_group4`: the group each interface's socket joins.
    pub group: Ipv4Addr,
    /// `router_id`, for the dumps.
    pub router_id: String,
    /// `-V`: leave the addresses in place when stopping.
    pub keep_addresses: bool,
    /// Where state changes are mailed, when some instance asks for it.
    pub alerts: Option<Arc<AlertSettings>>,
    /// `vrrp_notify_fifo` / `notify_fifo`.
    pub fifo: Option<fifo::FifoPlan>,
    /// `-X`: at the stop, instances that are not master say they remove their VIPs too.
    pub release_vips: bool,
    /// The nftables options of global_defs.
    pub firewall: super::firewall_plan::FirewallSettings,
}

/// Everything the driver owns.
struct Driver {
    group: Ipv4Addr,
    router_id: String,
    links: Vec<Link>,
    running: Vec<Running>,
    /// (interface, VRID) → instance.
    routes: net::Routes,
    addresses: AddressManager,
    /// Routes and rules (virtual_* and static_*).
    policy: routes::Policy,
    ifindex: HashMap<String, u32>,
    /// Gratuitous-ARP senders by interface: the instance's, and every `dev` of an address.
    garps: HashMap<String, GarpSender>,
    /// The spacing of announcements per interface, and those waiting for it.
    pacer: super::garp_pace::Pacer,
    logger: Logger,
    /// `-V`: leave the addresses in place when stopping.
    keep_addresses_on_stop: bool,
    /// Where state changes of instances with `smtp_alert` are mailed.
    alerts: Option<Arc<AlertSettings>>,
    /// Set once the stop has begun.
    stopping: bool,
    /// Set while a reload stops the instances it removes: their notify runs as for FAULT.
    retiring: bool,
    /// The tracked scripts.
    scripts: Vec<RunningScript>,
    next_script_id: u64,
    /// Link state by interface name: the instances' interfaces and the tracked ones.
    interface_up: HashMap<String, bool>,
    /// The one buffer every socket is read into ([`net::Driver::drain_link`]).
    receive_buffer: Vec<u8>,
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
    /// Every instance's deadline, ordered, as of the last [`Driver::earliest_deadline`].
    deadlines: deadlines::Deadlines,
    /// Instances that handled an event since then.
    touched: Vec<usize>,
    /// The instance list changed: the deadlines must be read again from every instance.
    instances_changed: bool,
    /// The instances the operator drained, by name: kept across reloads.
    drained: BTreeSet<String>,
    /// The vrrp_sync_groups.
    groups: Vec<sync_groups::RunningGroup>,
    /// What members reported for their group while their actions were carried out.
    group_events: Vec<(usize, sync_groups::GroupEvent)>,
    /// The VMAC interfaces made for `use_vmac`.
    vmacs: vmac::Vmacs,
    /// The tracked processes.
    processes: processes::Processes,
    /// The notify FIFO, when one is configured.
    fifo: Option<fifo::NotifyFifo>,
    /// `-X`.
    release_vips: bool,
    /// State changes so far: a burst of them is followed by giving memory back.
    state_changes: u64,
    /// The nftables rules of instances without accept mode.
    firewall: firewall::Firewall,
    /// The periodic announcements of `garp_extra_if`.
    extra_garps: extra_garps::ExtraGarps,
    /// Which links' sockets have datagrams waiting.
    arrivals: arrivals::Arrivals,
    /// IPVS's sync daemons of `lvs_sync_daemon`, following one instance.
    sync_daemons: super::sync_daemon::SyncDaemons,
}

/// Runs `planned` until `shutdown` completes, then stops every instance (priority 0 from
/// masters, addresses removed unless `keep_addresses`).
pub async fn run(
    planned: Planned,
    settings: Settings,
    logger: Logger,
    mut controls: mpsc::Receiver<Control>,
    mut shutdown: Shutdown,
) -> anyhow::Result<()> {
    let (outcomes, mut script_rx) = mpsc::channel::<(u64, Outcome)>(256);
    let (file_events, mut file_rx) = mpsc::channel::<(u64, usize, FileValue)>(64);
    let (process_reports, mut process_rx) = mpsc::channel(64);
    let sync_daemons = super::sync_daemon::SyncDaemons::new(logger.clone());
    let mut driver = Driver {
        group: settings.group,
        router_id: settings.router_id,
        links: Vec::new(),
        running: Vec::new(),
        routes: net::Routes::default(),
        addresses: AddressManager::new().context("rtnetlink")?,
        policy: routes::Policy::new().context("rtnetlink")?,
        ifindex: HashMap::new(),
        garps: HashMap::new(),
        pacer: Default::default(),
        logger,
        keep_addresses_on_stop: settings.keep_addresses,
        alerts: settings.alerts.clone(),
        stopping: false,
        retiring: false,
        scripts: Vec::new(),
        next_script_id: 0,
        interface_up: HashMap::new(),
        receive_buffer: Vec::new(),
        outcomes,
        files: Vec::new(),
        file_values: Vec::new(),
        file_watch: None,
        file_events,
        file_generation: 0,
        deadlines: Default::default(),
        touched: Vec::new(),
        instances_changed: true,
        drained: BTreeSet::new(),
        groups: Vec::new(),
        group_events: Vec::new(),
        vmacs: Default::default(),
        processes: processes::Processes::new(process_reports),
        fifo: None,
        release_vips: settings.release_vips,
        state_changes: 0,
        firewall: firewall::Firewall::new(settings.firewall),
        extra_garps: Default::default(),
        arrivals: arrivals::Arrivals::new().context("cannot watch the VRRP sockets")?,
        sync_daemons,
    };
    driver.fifo = settings
        .fifo
        .and_then(|plan| fifo::NotifyFifo::open(plan, driver.logger.clone()));
    let mut link_events = link::watch().context("cannot watch link state")?;
    // Address changes matter to instances that send from their interface's address and to
    // unicast sources; without the watch they are looked at only on link events.
    let mut policy_events = match super::policy_monitor::watch() {
        Ok(rx) => rx,
        Err(err) => {
            driver
                .logger
                .info(&format!("Cannot watch route and rule changes: {err}"));
            tokio::sync::mpsc::unbounded_channel().1
        }
    };
    let mut address_events = match super::address_monitor::watch() {
        Ok(rx) => rx,
        Err(err) => {
            driver
                .logger
                .info(&format!("Cannot watch address changes: {err}"));
            tokio::sync::mpsc::unbounded_channel().1
        }
    };
    driver.install(planned).await?;
    crate::ready::tell_parent(
        &driver.logger,
        crate::cli::ChildRole::Vrrp,
        crate::ready::Done::Startup,
    );
    // tokio's sleep rounds up to whole milliseconds; protocol deadlines need better.
    let timer = PreciseTimer::new().context("cannot create the protocol timer")?;
    // The deadline the timer holds and has not reported yet: most packets move a deadline
    // other than the earliest, and then the timer need not be set again (one syscall saved
    // per advert received).
    let mut armed: Option<Instant> = None;
    // When the start-up (or the last reload) is over and its memory goes back (crate::memory).
    let mut settle_at = Some(tokio::time::Instant::now() + crate::memory::SETTLE_AFTER);
    let mut state_changes_seen = driver.state_changes;
    // Where the next look for a readable socket starts, so no link is always looked at last.
    let mut read_from = 0usize;
    // Adverts that come in bursts are read in batches (see read_gate).
    let mut read_gate = read_gate::ReadGate::default();
    while !shutdown.is_shutdown() {
        if driver.state_changes != state_changes_seen {
            // Transitions ran code and took memory that steady running does not need.
            state_changes_seen = driver.state_changes;
            settle_at = Some(tokio::time::Instant::now() + crate::memory::SETTLE_AFTER);
        }
        let deadline = [
            driver.earliest_deadline(),
            driver.pacer.deadline(),
            driver.extra_garps.deadline(),
            read_gate.closed_until(),
        ]
        .into_iter()
        .flatten()
        .min();
        // Set again only when the deadline comes earlier. A later one (a backup's
        // Master_Down_Timer moves on with each advert heard, and the earliest is the next
        // instance heard) keeps the timer where it is: it fires early, finds nothing due and
        // is set to the deadline of then (one syscall saved per advert received).
        if let Some(at) = deadline
            && armed.is_none_or(|armed| at < armed)
        {
            timer.arm(at).context("cannot arm the protocol timer")?;
            armed = Some(at);
        }
        let paused = driver.paused_until();
        let resume = async {
            match paused {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        read_from = read_from.wrapping_add(1);
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
        let settle = async {
            match settle_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = shutdown.recv() => break,
            Some(control) = controls.recv() => {
                if matches!(control, Control::Reload(_)) {
                    settle_at = Some(tokio::time::Instant::now() + crate::memory::SETTLE_AFTER);
                }
                driver.control(control).await;
            }
            () = settle => {
                settle_at = None;
                crate::memory::release_startup_memory();
            }
            () = sleep => {
                armed = None;
                let now = Instant::now();
                read_gate.timer_fired(now);
                driver.timers_due(now).await;
            }
            l = driver.arrivals.readable(&mut driver.links, read_from, read_gate.is_open()) => {
                let drained = driver.drain_link(l).await;
                if drained.more {
                    // A flood: the socket stays ready, and the loop would not return to the
                    // runtime, which then would not see the protocol timer fire (its readiness
                    // is only read when the task yields).
                    tokio::task::yield_now().await;
                } else {
                    read_gate.read(Instant::now(), drained.packets);
                }
            }
            () = resume => driver.resume_links(Instant::now()),
            Some(event) = link_events.recv() => driver.link_changed(event).await,
            Some(change) = address_events.recv() => driver.address_changed(change).await,
            Some(deleted) = policy_events.recv() => driver.policy_deleted(deleted).await,
            Some((id, outcome)) = script_rx.recv() => driver.script_ran(id, outcome).await,
            Some((generation, report)) = process_rx.recv() => {
                driver.process_report(generation, report).await;
            }
            Some((generation, file, value)) = file_rx.recv() => {
                if generation == driver.file_generation {
                    driver.file_changed(file, value).await;
                }
            }
        }
    }
    driver.stop().await;
    Ok(())
}

impl Driver {
    /// A request from a signal.
    async fn control(&mut self, control: Control) {
        match control {
            Control::Reload(planned) => {
                match self.install(*planned).await {
                    // keepalived 2.2.7's last line of a reload, from the parent (crate::ready).
                    Ok(()) => crate::ready::tell_parent(
                        &self.logger,
                        crate::cli::ChildRole::Vrrp,
                        crate::ready::Done::Reload,
                    ),
                    Err(err) => self.logger.info(&format!("Reload failed: {err:#}")),
                }
            }
            Control::DumpData => self.dump(super::dumps::Kind::Data),
            Control::DumpStats => self.dump(super::dumps::Kind::Stats),
            Control::DumpJson => self.dump(super::dumps::Kind::Json),
            Control::DumpAndClearStats => {
                self.dump(super::dumps::Kind::Stats);
                for running in &mut self.running {
                    running.instance.clear_stats();
                }
            }
            Control::Snapshot(reply) => {
                let _ = reply.send(self.snapshot());
            }
            Control::Drain(target, drain, reply) => {
                let _ = reply.send(self.drain(&target, drain).await);
            }
        }
    }

    /// The protocol timer fired: every instance whose deadline has come handles it.
    async fn timers_due(&mut self, now: Instant) {
        self.send_paced(now);
        self.send_extra_garps(now);
        // The ordered deadlines are current: the loop read them just before it slept.
        for i in self.deadlines.due(now) {
            if self
                .running
                .get(i)
                .and_then(|r| r.instance.poll_timeout())
                .is_some_and(|t| t <= now)
            {
                self.running[i].instance.handle_timeout(now);
                self.execute(i).await;
            } else {
                // Moved since (by another instance's actions): read again on the next turn.
                self.touched.push(i);
            }
        }
    }

    /// The stop: every instance shuts down (priority 0 from masters), tasks end, and the
    /// notify commands still queued (notify_stop among them) run within 4 s.
    async fn stop(&mut self) {
        self.stopping = true;
        let now = Instant::now();
        for i in 0..self.running.len() {
            let was_master =
                self.running[i].instance.state() == keepalived_vrrp::event::State::Master;
            self.running[i].instance.shutdown(now);
            self.execute(i).await;
            if self.release_vips && !was_master {
                self.release_vips_line(i);
            }
            self.log_drops(i);
        }
        self.sync_daemons.stop();
        self.firewall_teardown();
        self.log_link_drops();
        self.remove_statics().await;
        self.remove_vmacs().await;
        for script in &self.scripts {
            script.task.abort();
        }
        if let Some(watch) = self.file_watch.take() {
            watch.abort();
        }
        self.processes.stop();
        if let Some(fifo) = self.fifo.take() {
            fifo.close();
        }
        let pending: Vec<JoinHandle<()>> = std::mem::take(&mut self.running)
            .into_iter()
            .filter_map(|r| r.notifier.map(Notifier::into_task))
            .chain(
                std::mem::take(&mut self.groups)
                    .into_iter()
                    .filter_map(|g| g.notifier.map(Notifier::into_task)),
            )
            .collect();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(4), async {
            for task in pending {
                let _ = task.await;
            }
        })
        .await;
    }

    /// Gives each instance its place in the advert interval (see [`spread`]).
    pub(super) fn spread_adverts(&mut self) {
        let n = self.running.len();
        for (i, running) in self.running.iter_mut().enumerate() {
            let interval = running.instance.config().advert_interval;
            running
                .instance
                .set_advert_spread(spread::spread_of(interval, i, n));
        }
    }

    /// The earliest deadline over all instances. A received advert moves the deadline of one
    /// instance: only the instances touched since the last call are read again.
    fn earliest_deadline(&mut self) -> Option<Instant> {
        if std::mem::take(&mut self.instances_changed) {
            self.touched.clear();
            self.deadlines
                .rebuild(self.running.iter().map(|r| r.instance.poll_timeout()));
        } else {
            for i in self.touched.drain(..) {
                let at = self.running.get(i).and_then(|r| r.instance.poll_timeout());
                self.deadlines.set(i, at);
            }
        }
        self.deadlines.earliest()
    }
}
