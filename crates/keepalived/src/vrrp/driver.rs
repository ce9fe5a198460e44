//! The thin Linux driver around the sans-IO engine: one raw socket and one gratuitous-ARP
//! sender per interface, one timer for all instances (the earliest `poll_timeout`), packets
//! routed to instances by interface and VRID, link events turned into FAULT, and the engine's
//! actions carried out through crates/net.

use std::cell::Cell;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::rc::Rc;
use std::time::Instant;

use anyhow::Context;
use keepalived_net::addresses::{AddressManager, AddressSpec};
use keepalived_net::garp::GarpSender;
use keepalived_net::interface;
use keepalived_net::link::{self, LinkEvent};
use keepalived_net::timer::PreciseTimer;
use keepalived_net::vrrp_socket::VrrpSocket;
use keepalived_track::{
    Outcome, ScriptEvent, ScriptSpec, Tracked, Tracker, effective_priority, log_line, run_once,
};
use keepalived_vrrp::instance::{Action, DropReason, Instance, Received, State};
use tokio::sync::mpsc;

use super::setup::{AddressPlan, InstancePlan, ScriptPlan};
use crate::logger::Logger;

/// A packet read from an interface's socket.
struct Incoming {
    interface: usize,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    payload: Vec<u8>,
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

/// Everything the driver owns.
struct Driver {
    links: Vec<Link>,
    instances: Vec<Instance>,
    plans: Vec<InstancePlan>,
    /// (interface, VRID) → instance.
    routes: HashMap<(usize, u8), usize>,
    /// Instance → its interface.
    instance_link: Vec<usize>,
    addresses: AddressManager,
    ifindex: HashMap<String, u32>,
    /// Gratuitous-ARP senders by interface: the instance's, and every `dev` of an address.
    garps: HashMap<String, GarpSender>,
    logger: Logger,
    /// `-V`: leave the addresses in place when stopping.
    keep_addresses_on_stop: bool,
    /// Set once the stop has begun.
    stopping: bool,
    /// The tracked scripts, and the rise/fall state of each.
    scripts: Vec<ScriptPlan>,
    trackers: Vec<Tracker>,
    /// Scripts whose "cannot run" reason was logged (once each).
    reported_cannot_run: Vec<bool>,
    /// Scripts whose first result was logged.
    reported_first_result: Vec<bool>,
    /// Per instance, the queue of its notify commands (run one after the other, in the order
    /// of the transitions, by a task of its own so the protocol never waits for them).
    notify_queues: Vec<mpsc::UnboundedSender<Vec<String>>>,
    /// Link state by interface name: the instances' interfaces and the tracked ones.
    interface_up: HashMap<String, bool>,
    notify_tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Runs `plans` until `stop` completes, then stops every instance (priority 0 from masters,
/// addresses removed unless `keep_addresses`).
pub async fn run(
    plans: Vec<InstancePlan>,
    scripts: Vec<ScriptPlan>,
    group: Ipv4Addr,
    logger: Logger,
    keep_addresses: bool,
    stop: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let (tx, mut rx) = mpsc::channel::<Incoming>(1024);
    let mut driver = Driver::open(plans, group, logger, tx)?;
    driver.keep_addresses_on_stop = keep_addresses;
    driver.trackers = scripts
        .iter()
        .map(|s| Tracker::from_spec(&s.spec))
        .collect();
    driver.reported_cannot_run = vec![false; scripts.len()];
    driver.reported_first_result = vec![false; scripts.len()];
    // Each script runs in a task of its own: a slow or hung script never delays adverts.
    let (script_tx, mut script_rx) = mpsc::channel::<(usize, Outcome)>(256);
    for (index, script) in scripts.iter().enumerate() {
        spawn_script(index, script.spec.clone(), script_tx.clone());
    }
    driver.scripts = scripts;
    for i in 0..driver.plans.len() {
        let plan = &driver.plans[i];
        let (tx, task) = spawn_notifier(
            plan.config.name.clone(),
            plan.notify_user,
            driver.logger.clone(),
        );
        driver.notify_queues.push(tx);
        driver.notify_tasks.push(task);
    }
    let mut link_events = link::watch().context("cannot watch link state")?;
    let now = Instant::now();
    for i in 0..driver.instances.len() {
        let up = interface::lookup(&driver.plans[i].interface)
            .map(|l| l.up)
            .unwrap_or(false);
        driver.instances[i].start(now);
        if !up {
            driver.logger.info(&format!(
                "Kernel is reporting: interface {} DOWN",
                driver.plans[i].interface
            ));
        }
        driver.apply_tracking(i, now);
        driver.execute(i).await;
    }
    tokio::pin!(stop);
    // tokio's sleep rounds up to whole milliseconds; protocol deadlines need better.
    let timer = PreciseTimer::new().context("cannot create the protocol timer")?;
    loop {
        let deadline = driver
            .instances
            .iter()
            .filter_map(Instance::poll_timeout)
            .min();
        if let Some(at) = deadline {
            timer.arm(at).context("cannot arm the protocol timer")?;
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
            () = &mut stop => break,
            () = sleep => {
                let now = Instant::now();
                for i in 0..driver.instances.len() {
                    if driver.instances[i].poll_timeout().is_some_and(|t| t <= now) {
                        driver.instances[i].handle_timeout(now);
                        driver.execute(i).await;
                    }
                }
            }
            Some(packet) = rx.recv() => driver.receive(packet).await,
            Some(event) = link_events.recv() => driver.link_changed(event).await,
            Some((script, outcome)) = script_rx.recv() => driver.script_ran(script, outcome).await,
        }
    }
    driver.stopping = true;
    let now = Instant::now();
    for i in 0..driver.instances.len() {
        driver.instances[i].shutdown(now);
        driver.execute(i).await;
        driver.log_drops(i);
    }
    driver.log_link_drops();
    // notify_stop and anything still queued run before we exit, within the 5 s a stop may take.
    driver.notify_queues.clear();
    let pending = std::mem::take(&mut driver.notify_tasks);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(4), async {
        for task in pending {
            let _ = task.await;
        }
    })
    .await;
    Ok(())
}

impl Driver {
    fn open(
        plans: Vec<InstancePlan>,
        group: Ipv4Addr,
        logger: Logger,
        tx: mpsc::Sender<Incoming>,
    ) -> anyhow::Result<Driver> {
        let mut links: Vec<Link> = Vec::new();
        let mut routes = HashMap::new();
        let mut instance_link = Vec::new();
        let mut ifindex = HashMap::new();
        let mut garps = HashMap::new();
        for (i, plan) in plans.iter().enumerate() {
            let link = match links.iter().position(|l| l.name == plan.interface) {
                Some(link) => link,
                None => {
                    let iface = interface::lookup(&plan.interface)
                        .with_context(|| format!("interface {}", plan.interface))?;
                    let source = Some(plan.config.local_address).filter(|a| !a.is_unspecified());
                    let socket = Rc::new(
                        VrrpSocket::open(&iface, source, group)
                            .with_context(|| format!("VRRP socket on {}", plan.interface))?,
                    );
                    let queue_full = Rc::new(Cell::new(0));
                    spawn_receiver(links.len(), socket.clone(), tx.clone(), queue_full.clone());
                    ifindex.insert(iface.name.clone(), iface.index);
                    links.push(Link {
                        name: iface.name,
                        index: iface.index,
                        socket,
                        unknown_vrid: 0,
                        too_short: 0,
                        queue_full,
                        up: iface.up,
                    });
                    links.len() - 1
                }
            };
            routes.insert((link, plan.config.vrid), i);
            instance_link.push(link);
            for name in
                std::iter::once(&plan.interface).chain(plan.addresses.iter().map(|a| &a.interface))
            {
                if garps.contains_key(name) {
                    continue;
                }
                // A `dev` that does not exist is reported when its address is added.
                if let Ok(iface) = interface::lookup(name) {
                    let garp = GarpSender::open(&iface)
                        .with_context(|| format!("ARP socket on {name}"))?;
                    ifindex.insert(iface.name.clone(), iface.index);
                    garps.insert(iface.name, garp);
                }
            }
        }
        let instances = plans
            .iter()
            .map(|p| Instance::new(p.config.clone()))
            .collect();
        let mut interface_up: HashMap<String, bool> =
            links.iter().map(|l| (l.name.clone(), l.up)).collect();
        for plan in &plans {
            for (name, _, _) in &plan.track_interfaces {
                let up = interface::lookup(name).map(|i| i.up).unwrap_or(false);
                interface_up.entry(name.clone()).or_insert(up);
            }
        }
        let addresses = AddressManager::new().context("rtnetlink")?;
        Ok(Driver {
            links,
            instances,
            plans,
            routes,
            instance_link,
            addresses,
            ifindex,
            garps,
            logger,
            keep_addresses_on_stop: false,
            stopping: false,
            scripts: Vec::new(),
            trackers: Vec::new(),
            reported_cannot_run: Vec::new(),
            reported_first_result: Vec::new(),
            notify_queues: Vec::new(),
            notify_tasks: Vec::new(),
            interface_up,
        })
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
        self.instances[i].handle_packet(Instant::now(), received);
        self.execute(i).await;
    }

    async fn link_changed(&mut self, event: LinkEvent) {
        let link = self.links.iter().position(|l| l.index == event.index);
        let tracked = self
            .plans
            .iter()
            .any(|p| p.track_interfaces.iter().any(|t| t.0 == event.name));
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
        for i in 0..self.instances.len() {
            let affected = Some(self.instance_link[i]) == link
                || self.plans[i]
                    .track_interfaces
                    .iter()
                    .any(|t| t.0 == event.name);
            if affected {
                self.apply_tracking(i, now);
                self.execute(i).await;
            }
        }
    }

    /// A script finished: update its rise/fall state, log as keepalived does, and re-rate the
    /// instances that track it.
    async fn script_ran(&mut self, script: usize, outcome: Outcome) {
        let name = self.scripts[script].spec.name.clone();
        match &outcome {
            Outcome::TimedOut => self.logger.info(&log_line(&name, ScriptEvent::TimedOut)),
            Outcome::CannotRun(reason) if !self.reported_cannot_run[script] => {
                self.reported_cannot_run[script] = true;
                self.logger.info(&format!("VRRP_Script({name}) {reason}"));
            }
            _ => {}
        }
        let changed = self.trackers[script].record(&outcome);
        // keepalived reports a script's first result too (it starts in an "init" state), so
        // the log says `succeeded` once at start-up; after that only changes are reported.
        let first = !std::mem::replace(&mut self.reported_first_result[script], true);
        if changed.is_none() && first {
            let good = self.trackers[script].is_good();
            self.logger
                .info(&log_line(&name, ScriptEvent::from_state(good)));
        }
        let Some(good) = changed else {
            return;
        };
        self.logger
            .info(&log_line(&name, ScriptEvent::from_state(good)));
        let now = Instant::now();
        for i in 0..self.instances.len() {
            if self.plans[i].scripts.iter().any(|u| u.script == script) {
                self.apply_tracking(i, now);
                self.execute(i).await;
            }
        }
    }

    /// Sets instance `i`'s effective priority and FAULT from its link and tracked scripts.
    fn apply_tracking(&mut self, i: usize, now: Instant) {
        let scripts = self.plans[i].scripts.iter().map(|u| Tracked {
            weight: u.weight,
            reverse: u.reverse,
            up: self.trackers.get(u.script).is_none_or(Tracker::is_good),
        });
        let interfaces = self.plans[i]
            .track_interfaces
            .iter()
            .map(|(name, weight, reverse)| Tracked {
                weight: *weight,
                reverse: *reverse,
                up: self.interface_up.get(name).copied().unwrap_or(false),
            });
        let tracked: Vec<Tracked> = scripts.chain(interfaces).collect();
        let (priority, script_fault) = effective_priority(self.plans[i].config.priority, &tracked);
        let link_up = self.links[self.instance_link[i]].up;
        self.instances[i].set_priority(now, priority);
        self.instances[i].set_fault(now, script_fault || !link_up);
    }

    /// Queues the notify commands for instance `i` entering `state`: the state's own command,
    /// then the generic `notify` with its four extra arguments (compat.md section 6).
    fn notify(&self, i: usize, state: State) {
        let plan = &self.plans[i];
        let (own, word) = match state {
            State::Master => (&plan.notify.master, "MASTER"),
            State::Backup => (&plan.notify.backup, "BACKUP"),
            State::Fault => (&plan.notify.fault, "FAULT"),
            State::Initialize => (&plan.notify.stop, "STOP"),
        };
        let Some(queue) = self.notify_queues.get(i) else {
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
                self.instances[i].priority().to_string(),
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
        let stats = self.instances[i].stats();
        let counts: Vec<String> = DropReason::ALL
            .iter()
            .filter(|r| stats.dropped(**r) > 0)
            .map(|r| format!("{} {}", r.as_str(), stats.dropped(*r)))
            .collect();
        if !counts.is_empty() {
            self.logger.info(&format!(
                "VRRP_Instance({}) dropped adverts: {}",
                self.plans[i].config.name,
                counts.join(", ")
            ));
        }
    }

    /// Carries out everything instance `i` asked for.
    async fn execute(&mut self, i: usize) {
        while let Some(action) = self.instances[i].poll_action() {
            match action {
                Action::Send(bytes) => self.send(i, &bytes).await,
                Action::AddAddresses => {
                    for address in self.plans[i].addresses.clone() {
                        self.change_address(&address, true).await;
                    }
                }
                Action::RemoveAddresses => {
                    // On stop with -V (dont-release-vrrp) the addresses stay.
                    if !(self.keep_addresses_on_stop && self.stopping) {
                        for address in self.plans[i].addresses.clone() {
                            if self.is_present(&address).await {
                                self.change_address(&address, false).await;
                            }
                        }
                    }
                }
                Action::SendGratuitousArps => self.send_garps(i),
                Action::StateChanged(state) => self.notify(i, state),
                Action::Log(line) if line.detail => self.logger.detail(&line.text),
                Action::Log(line) => self.logger.info(&line.text),
            }
        }
    }

    async fn send(&mut self, i: usize, bytes: &[u8]) {
        let link = &self.links[self.instance_link[i]];
        // A down link cannot carry the priority-0 advert of an instance entering FAULT.
        if !link.up {
            return;
        }
        let result = if self.plans[i].unicast_peers.is_empty() {
            link.socket.send(bytes).await
        } else {
            let mut result = Ok(());
            for peer in &self.plans[i].unicast_peers {
                result = result.and(link.socket.send_to(bytes, *peer).await);
            }
            result
        };
        if let Err(err) = result {
            self.logger.info(&format!(
                "VRRP_Instance({}) cannot send an advert on {}: {err}",
                self.plans[i].config.name, link.name
            ));
        }
    }

    /// One burst: `garp_repeat` gratuitous ARPs per IPv4 address, each on the interface the
    /// address lives on.
    fn send_garps(&self, i: usize) {
        let plan = &self.plans[i];
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
) -> (
    mpsc::UnboundedSender<Vec<String>>,
    tokio::task::JoinHandle<()>,
) {
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

/// Runs one script on its interval forever, handing each outcome to the main loop.
fn spawn_script(index: usize, spec: ScriptSpec, tx: mpsc::Sender<(usize, Outcome)>) {
    tokio::task::spawn_local(async move {
        loop {
            let started = tokio::time::Instant::now();
            let outcome = run_once(&spec).await;
            if tx.send((index, outcome)).await.is_err() {
                return;
            }
            tokio::time::sleep_until(started + spec.interval).await;
        }
    });
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
