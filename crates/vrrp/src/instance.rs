//! One virtual router: the state machine of RFC 3768 section 6.4 (RFC 5798 section 6.4), with
//! keepalived's additions (nopreempt, preempt_delay, FAULT, the second announcement burst).
//!
//! The state is a [`Phase`] whose variants carry their own deadlines, so
//! [`Instance::poll_timeout`] is read out of the state, and a deadline cannot outlive the state
//! it belongs to. Every change of state goes through one function, `change_state`, which runs
//! the exit work of the state left (a master's priority-0 advert and address release) and the
//! entry work of the state entered (timers, adverts, addresses, announcements), and reports it.
//!
//! The driver calls [`Instance::start`], [`Instance::handle_packet`],
//! [`Instance::handle_timeout`], [`Instance::track`] and [`Instance::shutdown`] with the current
//! time, arms one timer at [`Instance::poll_timeout`], and carries out the [`Action`]s that
//! [`Instance::poll_action`] hands out, in order.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use crate::config::{Contention, Destination, InstanceConfig, Unicast};
pub use crate::event::{AddressDifference, DropReason, Event, FaultCause, State};
use crate::packet::{Advertisement, Auth, Family, Packet, TTL, Version, carries_auth_data};

/// How often one drop reason may be reported per instance, so a flood cannot flood the log.
pub const DROP_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Something the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this VRRP message in an IP packet from `src` to `dst` with `ttl`; its checksum is
    /// computed for that pair.
    Send {
        /// The source address (the instance's own).
        src: IpAddr,
        /// The destination: the multicast group or one unicast peer.
        dst: IpAddr,
        /// TTL / hop limit: 255, or `unicast_ttl` to unicast peers.
        ttl: u8,
        /// The VRRP message.
        payload: Vec<u8>,
    },
    /// Add the virtual addresses to the interface.
    AddAddresses,
    /// Remove the virtual addresses from the interface.
    RemoveAddresses,
    /// Announce the virtual addresses on the link once: a burst of gratuitous ARPs for IPv4
    /// addresses, of unsolicited neighbour advertisements for IPv6 ones.
    Announce,
    /// Announce them again with a count of its own (keepalived's `garp_master_refresh_repeat`
    /// or `garp_lower_prio_repeat`).
    Reannounce(Reannounce),
    /// The state changed (for notify scripts and the status).
    StateChanged(State),
    /// Something to report (the binary words it).
    Event(Event),
}

/// Why a master announces its addresses again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reannounce {
    /// The periodic refresh (`garp_master_refresh`).
    Refresh,
    /// It heard a lower-priority advert: another router believed it was master (a split
    /// brain healing), so the link may hold stale entries for the addresses.
    LowerPriority,
}

/// Counters of one instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Adverts accepted.
    pub received: u64,
    /// Adverts sent (one per advert, whatever the number of unicast peers).
    pub sent: u64,
    /// Times this instance became master.
    pub became_master: u64,
    /// Times it left master.
    pub released_master: u64,
    /// Priority-0 adverts received.
    pub priority_zero_received: u64,
    /// Priority-0 adverts sent.
    pub priority_zero_sent: u64,
    /// Dropped packets per [`DropReason`] (indexed like [`DropReason::ALL`]).
    pub dropped: [u64; DropReason::COUNT],
}

impl Stats {
    /// The number of packets dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason.index()]
    }
}

/// A received packet, as the driver hands it over.
#[derive(Debug, Clone, Copy)]
pub struct Received<'a> {
    /// IP source.
    pub src: IpAddr,
    /// IP destination (the multicast group, or our address for unicast).
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// The VRRP message.
    pub payload: &'a [u8],
}

/// What tracking says about an instance: its effective priority, and whether it must be in
/// FAULT (and why).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tracking {
    /// The effective priority (the configured one when nothing is tracked).
    pub priority: u8,
    /// FAULT, and why; `None` when the instance can work.
    pub fault: Option<FaultCause>,
}

impl Tracking {
    /// Nothing tracked, link up: the configured priority, no fault.
    pub fn healthy(config: &InstanceConfig) -> Tracking {
        Tracking {
            priority: config.priority,
            fault: None,
        }
    }
}

/// The deadlines of BACKUP (RFC 3768 section 6.4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupTimers {
    /// Master_Down_Timer.
    pub master_down_at: Instant,
    /// Master_Adver_Interval: ours until a VRRPv3 master's adverts say otherwise (RFC 5798
    /// section 6.4.2).
    pub master_adver_interval: Duration,
}

/// The deadlines of MASTER (RFC 3768 section 6.4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MasterTimers {
    /// Adver_Timer.
    pub advert_at: Instant,
    /// The next announcement burst (garp_master_delay, then garp_master_refresh), if any.
    pub announce_at: Option<Instant>,
    /// The burst at `announce_at` is a refresh (the garp_master_delay one is done).
    pub refreshing: bool,
    /// The second burst after a lower-priority advert (garp_lower_prio_delay), if any.
    pub lower_prio_at: Option<Instant>,
}

/// A state with the deadlines that belong to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Not started, or stopped: no deadline.
    Initialize,
    /// Watching the master.
    Backup(BackupTimers),
    /// Forwarding.
    Master(MasterTimers),
    /// Cannot work, and why: no deadline.
    Fault(FaultCause),
}

impl Phase {
    /// The state, without its deadlines.
    pub fn state(&self) -> State {
        match self {
            Phase::Initialize => State::Initialize,
            Phase::Backup(_) => State::Backup,
            Phase::Master(_) => State::Master,
            Phase::Fault(_) => State::Fault,
        }
    }

    /// The earliest deadline of the state.
    pub fn poll_at(&self) -> Option<Instant> {
        match self {
            Phase::Initialize | Phase::Fault(_) => None,
            Phase::Backup(t) => Some(t.master_down_at),
            Phase::Master(t) => Some(
                [t.announce_at, t.lower_prio_at]
                    .into_iter()
                    .flatten()
                    .fold(t.advert_at, Instant::min),
            ),
        }
    }
}

/// Why a state changes: it decides the exit work (a master that stops or fails sends
/// priority 0; one that lost the election does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    /// Startup (RFC 3768 section 6.4.1).
    Start,
    /// The Master_Down_Timer fired.
    MasterDown,
    /// A higher-priority advert arrived while master (its Master_Adver_Interval, VRRPv3, is
    /// passed beside).
    HigherPriority,
    /// Tracking says FAULT.
    Fault(FaultCause),
    /// Tracking says the fault is over.
    Recovered,
    /// The instance stops.
    Shutdown,
    /// The operator drains it (maintenance): a master hands over as if stopping.
    Drain,
    /// Its sync group moves it (crate::sync_group): a master that follows the group to
    /// BACKUP hands over as one that lost the election does.
    Synced,
}

/// Room for queued actions an instance keeps once they are carried out.
const KEPT_ACTION_CAPACITY: usize = 4;

/// One virtual router.
#[derive(Debug)]
pub struct Instance {
    /// Shared with the daemon's plan of the instance (one copy of names and addresses).
    config: Arc<InstanceConfig>,
    phase: Phase,
    /// Priority after tracking; equals `config.priority` until trackers change it.
    priority: u8,
    started_at: Option<Instant>,
    actions: VecDeque<Action>,
    stats: Stats,
    /// When each kind of drop was last reported; made at the first drop (most instances never
    /// drop a packet).
    last_drop_log: Option<Box<[Option<Instant>; DropReason::COUNT]>>,
    /// Drained by the operator: it stays out of MASTER until undrained.
    drained: bool,
    /// In BACKUP: the source and priority of the last advert accepted.
    heard: Option<(IpAddr, u8)>,
    /// A member of a vrrp_sync_group: its group decides when it becomes master.
    synced: bool,
    /// A synced member in BACKUP whose Master_Down_Timer fired: it is ready to become master
    /// with its group.
    wants_master: bool,
    /// What it does when it hears another master.
    contention: Contention,
    /// When it last announced because of a lower-priority advert.
    lower_prio_announced: Option<Instant>,
    /// When it last reported a lower-priority advert: heard as master (at most one report per
    /// [`DROP_LOG_INTERVAL`]) or ignored as backup (at most one per half
    /// Advertisement_Interval).
    lower_prio_logged: Option<Instant>,
    /// The advert intervals Master_Down_Interval waits (3 in the RFCs).
    down_timer_adverts: u32,
    /// How much sooner than a whole Advertisement_Interval the Adver_Timer fires when it is
    /// restarted ([`Instance::set_advert_spread`]).
    advert_spread: Duration,
    /// The advert last encoded (its priority, then its bytes for each destination): a master
    /// sends the same bytes every interval. Forgotten when the configuration or the source
    /// changes.
    encoded: Option<(u8, Vec<Vec<u8>>)>,
}

impl Instance {
    /// An instance in the Initialize state.
    pub fn new(config: impl Into<Arc<InstanceConfig>>) -> Instance {
        let config = config.into();
        let priority = config.priority;
        Instance {
            config,
            phase: Phase::Initialize,
            priority,
            started_at: None,
            actions: VecDeque::new(),
            stats: Stats::default(),
            last_drop_log: None,
            drained: false,
            heard: None,
            synced: false,
            wants_master: false,
            contention: Contention::default(),
            lower_prio_announced: None,
            lower_prio_logged: None,
            down_timer_adverts: crate::config::RFC_DOWN_TIMER_ADVERTS,
            advert_spread: Duration::ZERO,
            encoded: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &InstanceConfig {
        &self.config
    }

    /// The source of its adverts changed: with no source configured it is the first IPv4
    /// address of its interface (IPv6: its link-local address, RFC 5798 section 5.1.2.1),
    /// which may come, go or change while the daemon runs. Applies from the next advert; the
    /// checksum's pseudo-header and the election's tie-break (RFC 3768 section 6.4.3) use it
    /// too.
    pub fn set_local_address(&mut self, address: IpAddr) {
        Arc::make_mut(&mut self.config).local_address = address;
        self.encoded = None;
    }

    /// A master announces its addresses again as on becoming master: a burst now, and the
    /// garp_master_delay one (then the refreshes) counted from now. keepalived 2.2.7 does so
    /// when the interface of a `dont_track_primary` master comes back up (observed). Nothing
    /// happens in other states.
    pub fn reannounce(&mut self, now: Instant) {
        let Phase::Master(mut t) = self.phase else {
            return;
        };
        self.actions.push_back(Action::Announce);
        t.announce_at = if self.config.garp_master_delay.is_zero() {
            self.config.garp_master_refresh.map(|every| now + every)
        } else {
            Some(now + self.config.garp_master_delay)
        };
        t.refreshing = self.config.garp_master_delay.is_zero();
        self.phase = Phase::Master(t);
    }

    /// A master whose virtual route or rule was deleted by someone else steps down as
    /// keepalived 2.2.7 does (observed): BACKUP, a priority-0 advert, its addresses released,
    /// and its Master_Down_Timer set to Skew_Time, as after hearing a priority-0 advert (RFC
    /// 3768 section 6.4.2), so that alone on the link it takes over again at once and sets
    /// everything again. Nothing happens in other states.
    pub fn step_down(&mut self, now: Instant) {
        if !matches!(self.phase, Phase::Master(_)) {
            return;
        }
        self.change_state(now, State::Backup, Why::Drain);
        if let Phase::Backup(mut t) = self.phase {
            t.master_down_at = now + self.skew_time(t.master_adver_interval);
            self.phase = Phase::Backup(t);
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.phase.state()
    }

    /// The current state with its deadlines.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The priority adverts carry now.
    pub fn priority(&self) -> u8 {
        self.priority
    }

    /// Whether the operator has drained it ([`Instance::set_drained`]).
    pub fn drained(&self) -> bool {
        self.drained
    }

    /// In BACKUP: the address and priority of the router last heard advertising (the master,
    /// as far as this instance knows); `None` in other states or before any advert.
    pub fn master_heard(&self) -> Option<(IpAddr, u8)> {
        match self.phase {
            Phase::Backup(_) => self.heard,
            _ => None,
        }
    }

    /// Drains (maintenance) or undrains the instance. A drained master hands over as a
    /// stopping one does (RFC 3768 section 6.4.3: a priority-0 advert, so a backup takes over
    /// after Skew_Time) and enters BACKUP; a drained instance never leaves BACKUP for MASTER
    /// (its Master_Down_Timer is re-armed instead), whatever its priority. Undrained, it takes
    /// part in the election again: with preemption and the highest priority it takes over
    /// when its Master_Down_Timer fires (lower-priority adverts do not reset it).
    pub fn set_drained(&mut self, now: Instant, drained: bool) {
        self.drained = drained;
        if drained && matches!(self.phase, Phase::Master(_)) {
            self.change_state(now, State::Backup, Why::Drain);
        }
    }

    /// Sets what it does when it hears another master (keepalived 2.2.7's defaults until
    /// then).
    pub fn set_contention(&mut self, contention: Contention) {
        self.contention = contention;
    }

    /// Sets how many advert intervals its Master_Down_Interval waits (keepalived's
    /// `down_timer_adverts`; the RFCs' 3 until then); taken at the next time the timer is set.
    pub fn set_down_timer_adverts(&mut self, adverts: u32) {
        self.down_timer_adverts = adverts.max(1);
    }

    /// Spreads the adverts of instances whose Adver_Timer restarts at one moment (many
    /// instances becoming master at once, a reload, a daemon held up for half an interval):
    /// whenever the timer is restarted (the first advert as master, a reload, a priority-0
    /// advert heard, a wake-up late by half an interval or more), it is set to
    /// Advertisement_Interval less `spread`, at most half the interval; a timely advert keeps
    /// the cadence from its deadline, so each instance keeps its place in the interval.
    ///
    /// RFC 5798 section 6.4.3 resets the Adver_Timer to Advertisement_Interval; an advert sent
    /// sooner only restarts the backups' Master_Down_Timer sooner (section 6.4.2), so no
    /// backup times out, and two adverts still never leave less than half an interval apart.
    /// Zero (the default): the timer restarts at the whole interval.
    pub fn set_advert_spread(&mut self, spread: Duration) {
        self.advert_spread = spread;
    }

    /// When the Adver_Timer fires after it is restarted at `now` ([`Self::set_advert_spread`]).
    fn restarted_advert_at(&self, now: Instant) -> Instant {
        let interval = self.config.advert_interval;
        now + interval - self.advert_spread.min(interval / 2)
    }

    /// Makes the instance a member of a vrrp_sync_group (true) or a free one (false). A
    /// member whose Master_Down_Timer fires does not become master on its own: it reports
    /// [`Event::ReceiveTimeout`], re-arms the timer, and waits for
    /// [`Instance::sync_to_master`] (crate::sync_group decides).
    pub fn set_synced(&mut self, synced: bool) {
        self.synced = synced;
        if !synced {
            self.wants_master = false;
        }
    }

    /// Whether it is a member of a sync group.
    pub fn synced(&self) -> bool {
        self.synced
    }

    /// A synced member in BACKUP whose Master_Down_Timer fired since it last heard a master:
    /// ready to become master with its group.
    pub fn wants_master(&self) -> bool {
        self.wants_master && matches!(self.phase, Phase::Backup(_))
    }

    /// Its sync group becomes master: a member in BACKUP (not drained) becomes master now,
    /// as if its own Master_Down_Timer had fired (RFC 3768 section 6.4.2).
    pub fn sync_to_master(&mut self, now: Instant) {
        if matches!(self.phase, Phase::Backup(_)) && !self.drained {
            self.change_state(now, State::Master, Why::MasterDown);
        }
    }

    /// Its sync group becomes backup: a member in MASTER becomes backup without a priority-0
    /// advert, as a master that lost the election does (RFC 3768 section 6.4.3).
    pub fn sync_to_backup(&mut self, now: Instant) {
        if matches!(self.phase, Phase::Master(_)) {
            self.change_state(now, State::Backup, Why::Synced);
        }
    }

    /// When [`Instance::handle_timeout`] must be called next: read out of the state.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.phase.poll_at()
    }

    /// The next action to carry out.
    pub fn poll_action(&mut self) -> Option<Action> {
        let action = self.actions.pop_front();
        if action.is_none() && self.actions.capacity() > KEPT_ACTION_CAPACITY {
            // A state change queues several actions; a steady master queues one advert a
            // second. Keep room for that, not for the burst (a thousand instances held half a
            // megabyte of empty queue).
            self.actions = VecDeque::new();
        }
        action
    }

    /// Startup (RFC 3768 section 6.4.1): addresses left by an earlier run are removed, then an
    /// instance that cannot work enters FAULT directly, the owner (priority 255) becomes master
    /// at once and everyone else backup; then the tracked priority applies.
    ///
    /// keepalived 2.2.7 takes priority 255 alone as ownership (whether or not the addresses
    /// are the interface's own, observed) and words the owner's start as a Master_Down_Timer
    /// that fires at once: `Receive advertisement timeout`, then MASTER, without an
    /// `Entering BACKUP STATE (init)` line; so does this engine ([`Event::ReceiveTimeout`]
    /// first), at start and for an owner a reload adds. A written `state BACKUP`
    /// ([`InstanceConfig::start_backup`]) makes even the owner start in BACKUP.
    pub fn start(&mut self, now: Instant, tracking: Tracking) {
        if self.phase != Phase::Initialize {
            return;
        }
        self.started_at = Some(now);
        self.actions.push_back(Action::RemoveAddresses);
        match tracking.fault {
            Some(cause) => self.change_state(now, State::Fault, Why::Fault(cause)),
            None if self.priority == 255 && !self.drained && !self.config.start_backup => {
                self.report(Event::ReceiveTimeout);
                self.change_state(now, State::Master, Why::Start);
            }
            None => self.change_state(now, State::Backup, Why::Start),
        }
        self.set_priority(tracking.priority);
    }

    /// Timers: Master_Down_Timer in BACKUP (RFC 3768 section 6.4.2), Adver_Timer in MASTER
    /// (section 6.4.3), and the announcement bursts.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.phase {
            Phase::Backup(mut t) if t.master_down_at <= now && self.drained => {
                // Drained: stays backup, watching for a master again.
                t.master_down_at = now + self.master_down_interval(t.master_adver_interval);
                self.phase = Phase::Backup(t);
            }
            Phase::Backup(mut t) if t.master_down_at <= now && self.synced => {
                // The group decides; until then the member watches on, so it does not time
                // out again before the other members do.
                t.master_down_at = now + self.master_down_interval(t.master_adver_interval);
                self.phase = Phase::Backup(t);
                self.wants_master = true;
                self.report(Event::ReceiveTimeout);
            }
            Phase::Backup(t) if t.master_down_at <= now => {
                self.report(Event::ReceiveTimeout);
                self.change_state(now, State::Master, Why::MasterDown);
            }
            Phase::Master(mut t) => {
                if t.announce_at.is_some_and(|at| at <= now) {
                    t.announce_at = self.config.garp_master_refresh.map(|every| now + every);
                    self.actions.push_back(if t.refreshing {
                        Action::Reannounce(Reannounce::Refresh)
                    } else {
                        Action::Announce
                    });
                    t.refreshing = true;
                }
                if t.lower_prio_at.is_some_and(|at| at <= now) {
                    t.lower_prio_at = None;
                    self.actions
                        .push_back(Action::Reannounce(Reannounce::LowerPriority));
                }
                if t.advert_at <= now {
                    self.send_advert(self.priority);
                    // RFC 5798 section 6.4.3: the Adver_Timer is reset to
                    // Advertisement_Interval. A wake-up a little late keeps the cadence
                    // (counted from the deadline), so a busy moment does not shift every later
                    // advert; one late by half an interval or more restarts the timer from
                    // `now`, so two adverts never leave close together.
                    t.advert_at = if now.saturating_duration_since(t.advert_at)
                        < self.config.advert_interval / 2
                    {
                        t.advert_at + self.config.advert_interval
                    } else {
                        self.restarted_advert_at(now)
                    };
                }
                self.phase = Phase::Master(t);
            }
            Phase::Initialize | Phase::Backup(_) | Phase::Fault(_) => {}
        }
    }

    /// A packet for this instance's VRID arrived.
    pub fn handle_packet(&mut self, now: Instant, packet: Received<'_>) {
        let view = match Packet::new_checked(packet.payload) {
            Ok(view) => view,
            Err(err) => return self.drop_packet(now, packet.src, err.into()),
        };
        let advert = match self.validate(packet, &view) {
            Ok(advert) => advert,
            Err(reason) => return self.drop_packet(now, packet.src, reason),
        };
        if let Some(difference) = self.address_difference(packet.src, &view) {
            return self.drop_for_addresses(now, packet.src, difference);
        }
        self.stats.received += 1;
        if advert.priority == 0 {
            self.stats.priority_zero_received += 1;
        }
        if matches!(self.phase, Phase::Backup(_)) {
            self.heard = Some((packet.src, advert.priority));
        }
        match self.phase {
            Phase::Backup(_) => self.backup_receives(now, packet.src, &advert),
            Phase::Master(_) => self.master_receives(now, packet.src, &advert),
            Phase::Initialize | Phase::Fault(_) => {}
        }
    }

    /// Tracking changed: the new effective priority applies from the next advert (as backup,
    /// from the next reset of the Master_Down_Timer; an address owner keeps 255), then the
    /// instance enters or leaves FAULT. Before [`Instance::start`] only the priority is kept.
    pub fn track(&mut self, now: Instant, tracking: Tracking) {
        self.set_priority(tracking.priority);
        match (tracking.fault, self.phase) {
            (Some(cause), Phase::Backup(_) | Phase::Master(_)) => {
                self.change_state(now, State::Fault, Why::Fault(cause));
            }
            (Some(cause), Phase::Fault(_)) => self.phase = Phase::Fault(cause),
            (None, Phase::Fault(_)) => self.change_state(now, State::Backup, Why::Recovered),
            (Some(_), Phase::Initialize) | (None, _) => {}
        }
    }

    /// A reload gave the instance new settings but kept it (keepalived 2.2.7 keeps an instance
    /// whose interface, VRID and family are unchanged, whatever else changed, and observed:
    /// its priority, advert interval, addresses, preemption, name, `state`). It keeps its
    /// state, and the deadlines of that state are recomputed from the new settings:
    ///
    /// - MASTER sends an advert at once (with the new priority and interval) and resets its
    ///   Adver_Timer to the new Advertisement_Interval (RFC 3768 section 6.4.3), as 2.2.7
    ///   does; its announcement timers carry on;
    /// - BACKUP resets its Master_Down_Timer to the Master_Down_Interval of the new priority
    ///   and interval (RFC 3768 section 6.4.2; RFC 5798: with the Master_Adver_Interval
    ///   learned so far), as when an advert arrives;
    /// - FAULT and Initialize keep nothing timed.
    ///
    /// The effective priority becomes `tracking.priority` without a report (it is a new
    /// setting, not a change of what is tracked); FAULT is entered or left as
    /// [`Instance::track`] does. No state change, so no notify.
    pub fn reconfigure(
        &mut self,
        now: Instant,
        config: impl Into<Arc<InstanceConfig>>,
        tracking: Tracking,
    ) {
        let config = config.into();
        let learned_kept = self.config.version == config.version;
        self.config = config;
        self.encoded = None;
        self.priority = if self.config.priority == 255 {
            255
        } else if tracking.priority == 0 {
            self.priority
        } else {
            tracking.priority
        };
        match self.phase {
            Phase::Master(mut t) => {
                self.send_advert(self.priority);
                t.advert_at = self.restarted_advert_at(now);
                self.phase = Phase::Master(t);
            }
            Phase::Backup(mut t) => {
                if !learned_kept || self.config.version == Version::V2 {
                    t.master_adver_interval = self.config.advert_interval;
                }
                t.master_down_at = now + self.master_down_interval(t.master_adver_interval);
                self.phase = Phase::Backup(t);
            }
            Phase::Initialize | Phase::Fault(_) => {}
        }
        if self.phase != Phase::Initialize {
            let priority = self.priority;
            self.track(
                now,
                Tracking {
                    priority,
                    ..tracking
                },
            );
        }
    }

    /// Counts a packet the driver dropped before the engine saw it (an AH datagram whose ICV
    /// does not match counts as [`DropReason::Password`]).
    pub fn count_drop(&mut self, reason: DropReason) {
        self.stats.dropped[reason.index()] += 1;
    }

    /// Sets every counter back to zero (keepalived's "stats clear" signal).
    pub fn clear_stats(&mut self) {
        self.stats = Stats::default();
    }

    /// Shutdown (RFC 3768 sections 6.4.2 and 6.4.3): a master sends priority 0 and gives up
    /// its addresses; every instance returns to Initialize.
    pub fn shutdown(&mut self, now: Instant) {
        if self.phase != Phase::Initialize {
            self.change_state(now, State::Initialize, Why::Shutdown);
        }
    }

    /// The only place the state changes: the exit work of the state left, the new state with
    /// fresh deadlines, its entry work, and the report.
    fn change_state(&mut self, now: Instant, to: State, why: Why) {
        self.change_state_learning(now, to, why, None);
    }

    /// [`Instance::change_state`], entering BACKUP with the Master_Adver_Interval `learned`
    /// from the new master's advert (RFC 5798 section 6.4.3).
    fn change_state_learning(
        &mut self,
        now: Instant,
        to: State,
        why: Why,
        learned: Option<Duration>,
    ) {
        self.wants_master = false;
        let from = self.phase.state();
        // keepalived 2.2.7 (observed) says it enters FAULT before the work of leaving MASTER:
        // `Entering FAULT STATE`, `sent 0 priority`, `removing VIPs.`.
        let fault_first = to == State::Fault && from != State::Initialize;
        if fault_first {
            self.report(Event::Entering(State::Fault));
        }
        // Exit.
        if let Phase::Master(_) = self.phase {
            if matches!(why, Why::Fault(_) | Why::Shutdown | Why::Drain) {
                // RFC 3768 section 6.4.3: a master that stops sends priority 0 so the backups
                // take over after Skew_Time (also one its sync group takes to FAULT, as 2.2.7
                // does on the wire).
                self.send_advert(0);
                self.stats.priority_zero_sent += 1;
                self.report(Event::PriorityZeroSent {
                    synced: why == Why::Fault(FaultCause::Group),
                });
            }
            self.report(Event::RemovingAddresses);
            self.actions.push_back(Action::RemoveAddresses);
            self.stats.released_master += 1;
        }
        // Each state reports the lower-priority adverts it hears on its own terms.
        self.lower_prio_logged = None;
        // Entry.
        match to {
            State::Initialize => {
                self.phase = Phase::Initialize;
                self.actions.push_back(Action::StateChanged(to));
            }
            State::Backup => {
                let master_adver_interval = match why {
                    Why::HigherPriority => learned.unwrap_or(self.config.advert_interval),
                    _ => self.config.advert_interval,
                };
                self.phase = Phase::Backup(BackupTimers {
                    master_down_at: now + self.master_down_interval(master_adver_interval),
                    master_adver_interval,
                });
                self.report(Event::Entering(State::Backup));
                self.actions.push_back(Action::StateChanged(to));
            }
            State::Master => {
                self.report(Event::TransitionToMaster);
                self.send_advert(self.priority);
                self.report(Event::SettingAddresses);
                self.actions.push_back(Action::AddAddresses);
                self.actions.push_back(Action::Announce);
                // garp_master_delay 0 means no second burst (keepalived.conf(5)); the refresh,
                // if any, still follows.
                let announce_at = if self.config.garp_master_delay.is_zero() {
                    self.config.garp_master_refresh.map(|every| now + every)
                } else {
                    Some(now + self.config.garp_master_delay)
                };
                self.phase = Phase::Master(MasterTimers {
                    advert_at: self.restarted_advert_at(now),
                    announce_at,
                    refreshing: self.config.garp_master_delay.is_zero(),
                    lower_prio_at: None,
                });
                self.stats.became_master += 1;
                self.report(Event::Entering(State::Master));
                self.actions.push_back(Action::StateChanged(to));
            }
            State::Fault => {
                let cause = match why {
                    Why::Fault(cause) => cause,
                    _ => FaultCause::Tracked,
                };
                self.phase = Phase::Fault(cause);
                if from == State::Initialize {
                    self.report(Event::StartedInFault(cause));
                    self.actions.push_back(Action::StateChanged(to));
                } else {
                    self.actions.push_back(Action::StateChanged(to));
                    self.report(Event::NowInFault);
                }
            }
        }
    }

    /// Checks of RFC 3768 section 7.1 that do not depend on the state.
    /// The advert's addresses are left unread (see [`Instance::address_difference`]).
    fn validate(
        &mut self,
        packet: Received<'_>,
        view: &Packet<&[u8]>,
    ) -> Result<Advertisement, DropReason> {
        // RFC 3768 section 7.1: only a router on the link can send with TTL 255. Unicast
        // peers may be routed, so keepalived does not check them.
        if !self.config.destination.is_unicast() && packet.ttl != TTL {
            return Err(DropReason::Ttl);
        }
        if !self.config.destination.hears(packet.src) {
            return Err(DropReason::NotPeer);
        }
        let advert = Advertisement::parse_packet_without_addresses(view, packet.src, packet.dst)?;
        if advert.version != self.config.version {
            return Err(DropReason::Version);
        }
        if advert.vrid != self.config.vrid {
            return Err(DropReason::Vrid);
        }
        if self.config.version == Version::V2 {
            // VRRPv2 over IPv6 carries the auth type but no password (keepalived 2.2.7's form,
            // see `packet::carries_auth_data`): only the type can be compared. 2.2.7 itself
            // crashes (SIGSEGV) on hearing auth type 1 there with PASS configured (observed).
            let password_carried =
                carries_auth_data(Version::V2, Family::of(self.config.local_address));
            match (self.config.auth, advert.auth) {
                (Auth::Pass(ours), Auth::Pass(theirs)) if password_carried && ours != theirs => {
                    return Err(DropReason::Password);
                }
                (ours, theirs) if ours.type_number() != theirs.type_number() => {
                    return Err(DropReason::AuthType);
                }
                _ => {}
            }
            if advert.interval_cs != self.config.interval_cs() {
                return Err(DropReason::Interval);
            }
        }
        Ok(advert)
    }

    /// RFC 3768 section 7.1 (RFC 5798 section 7.1): the Count IP Addrs and the addresses of
    /// an advert are compared with ours. The RFCs drop a mismatch unless the sender is the
    /// address owner (priority 255); keepalived 2.2.7 drops it whatever the priority, in v2
    /// and v3, multicast and unicast, as master and as backup (observed), so a pair whose
    /// address lists differ ends with two masters. This engine does the same, so a mixed pair
    /// elects as a pair of 2.2.7 does. The count first, then each of our addresses must be in
    /// the advert (in any order). With `skip_check_adv_addr` a backup does not check adverts
    /// from the router it last heard. The addresses are read in place from the validated
    /// `view` (a backup compares a thousand adverts a second: no list is collected).
    fn address_difference(&self, src: IpAddr, view: &Packet<&[u8]>) -> Option<AddressDifference> {
        let from_known_master = matches!(self.phase, Phase::Backup(_))
            && self.heard.is_some_and(|(heard, _)| heard == src);
        if self.contention.skip_check_adv_addr && from_known_master {
            return None;
        }
        let received = view.address_count();
        if usize::from(received) != self.config.addresses.len() {
            return Some(AddressDifference::Count {
                received,
                expected: self.config.addresses.len(),
            });
        }
        let family = Family::of(src);
        self.config
            .addresses
            .iter()
            .find(|&&ours| {
                view.address_iter(family)
                    .is_none_or(|mut theirs| !theirs.any(|a| a == ours))
            })
            .map(|missing| AddressDifference::Missing(*missing))
    }

    /// Drops an advert whose addresses differ: counted as [`DropReason::Addresses`] and
    /// reported at most once per half Advertisement_Interval (2.2.7 logs each one: a peer
    /// sends one per interval, so each is logged, and a flood is not echoed).
    fn drop_for_addresses(&mut self, now: Instant, src: IpAddr, difference: AddressDifference) {
        let index = DropReason::Addresses.index();
        self.stats.dropped[index] += 1;
        let every = self.config.advert_interval / 2;
        let last = self
            .last_drop_log
            .get_or_insert_with(|| Box::new([None; DropReason::COUNT]));
        if last[index].is_none_or(|at| now >= at + every) {
            last[index] = Some(now);
            self.report(Event::AddressesDiffer {
                from: src,
                difference,
            });
        }
    }

    fn drop_packet(&mut self, now: Instant, src: IpAddr, reason: DropReason) {
        let index = reason.index();
        self.stats.dropped[index] += 1;
        let last = self
            .last_drop_log
            .get_or_insert_with(|| Box::new([None; DropReason::COUNT]));
        let due = last[index].is_none_or(|t| now >= t + DROP_LOG_INTERVAL);
        if due {
            last[index] = Some(now);
            let count = self.stats.dropped[index];
            self.report(Event::Dropped {
                from: src,
                reason,
                count,
            });
        }
    }

    /// RFC 3768 section 6.4.2, receiving an ADVERTISEMENT as backup.
    fn backup_receives(&mut self, now: Instant, advert_src: IpAddr, advert: &Advertisement) {
        let Phase::Backup(mut timers) = self.phase else {
            return;
        };
        if advert.priority == 0 {
            timers.master_down_at = now + self.skew_time(timers.master_adver_interval);
        } else if !self.may_preempt(now) || advert.priority >= self.priority {
            // A master is there: a synced member is no longer ready to take over.
            self.wants_master = false;
            // RFC 5798 section 6.4.2: learn the master's interval, then reset the timer.
            if let Some(interval) = self.learned_interval(advert) {
                timers.master_adver_interval = interval;
            }
            timers.master_down_at = now + self.master_down_interval(timers.master_adver_interval);
        } else if self
            .lower_prio_logged
            .is_none_or(|at| now >= at + self.config.advert_interval / 2)
        {
            // Lower priority with preemption: ignore it, so Master_Down_Timer fires and we
            // take over (keepalived 2.2.7 logs each one).
            self.lower_prio_logged = Some(now);
            self.report(Event::LowerPriorityDiscarded {
                from: advert_src,
                priority: advert.priority,
            });
        }
        self.phase = Phase::Backup(timers);
    }

    /// RFC 3768 section 6.4.3, receiving an ADVERTISEMENT as master.
    fn master_receives(&mut self, now: Instant, src: IpAddr, advert: &Advertisement) {
        let Phase::Master(mut timers) = self.phase else {
            return;
        };
        let theirs_wins = advert.priority > self.priority
            || (advert.priority == self.priority && src > self.config.local_address);
        if advert.priority == 0 {
            self.send_advert(self.priority);
            timers.advert_at = self.restarted_advert_at(now);
            self.phase = Phase::Master(timers);
        } else if theirs_wins {
            self.report(Event::HigherPriorityReceived {
                from: src,
                priority: advert.priority,
                ours: self.priority,
            });
            if self.contention.higher_prio_send_advert {
                // Tell the winner there were two masters, so it announces again.
                self.send_advert(self.priority);
            }
            let learned = self.learned_interval(advert);
            self.change_state_learning(now, State::Backup, Why::HigherPriority, learned);
        } else {
            // Another master with a lower priority: two masters (a split brain healing). As
            // keepalived 2.2.7 does, answer at once so it steps down quickly (unless
            // lower_prio_no_advert), and announce the addresses now and again after
            // garp_lower_prio_delay, as the link may hold the other master's entries.
            // The answer does not move the Adver_Timer, so forged adverts cannot delay the
            // scheduled ones; the report is limited like the drop reports.
            let answer = !self.contention.lower_prio_no_advert;
            if self
                .lower_prio_logged
                .is_none_or(|at| now >= at + DROP_LOG_INTERVAL)
            {
                self.lower_prio_logged = Some(now);
                self.report(Event::LowerPriorityReceived {
                    from: src,
                    priority: advert.priority,
                    ours: self.priority,
                    answered: answer,
                });
            }
            if answer {
                self.send_advert(self.priority);
            }
            // At most one announcement per advert interval: forged lower-priority adverts
            // must not turn us into an ARP flooder.
            let due = self
                .lower_prio_announced
                .is_none_or(|at| now >= at + self.config.advert_interval);
            if due {
                self.lower_prio_announced = Some(now);
                self.actions
                    .push_back(Action::Reannounce(Reannounce::LowerPriority));
                let delay = self
                    .contention
                    .lower_prio_delay
                    .unwrap_or(self.config.garp_master_delay);
                if !delay.is_zero() {
                    timers.lower_prio_at = Some(now + delay);
                }
            }
            self.phase = Phase::Master(timers);
        }
    }

    /// VRRPv3: the Max Adver Int an advert carries, as Master_Adver_Interval (RFC 5798
    /// section 6.4.2); VRRPv2 keeps ours (a different one was dropped as a mismatch).
    fn learned_interval(&self, advert: &Advertisement) -> Option<Duration> {
        (self.config.version == Version::V3 && advert.interval_cs > 0)
            .then(|| Duration::from_millis(10 * u64::from(advert.interval_cs)))
    }

    /// Skew_Time at our priority for a master advertising every `master_adver_interval`.
    fn skew_time(&self, master_adver_interval: Duration) -> Duration {
        crate::config::skew_time_for(self.config.version, master_adver_interval, self.priority)
    }

    /// Master_Down_Interval at our priority for a master advertising every
    /// `master_adver_interval`.
    fn master_down_interval(&self, master_adver_interval: Duration) -> Duration {
        crate::config::master_down_interval_after(
            self.config.version,
            master_adver_interval,
            self.priority,
            self.down_timer_adverts,
        )
    }

    /// Preemption is on, and the start-up grace period (preempt_delay) is over.
    fn may_preempt(&self, now: Instant) -> bool {
        self.config.preempt
            && self
                .started_at
                .is_none_or(|t| now >= t + self.config.preempt_delay)
    }

    /// The effective priority changes; an address owner keeps 255, and 0 is never taken (it
    /// is the stop signal on the wire).
    fn set_priority(&mut self, priority: u8) {
        if priority == self.priority || self.config.priority == 255 || priority == 0 {
            return;
        }
        self.report(Event::PriorityChanged {
            from: self.priority,
            to: priority,
        });
        self.priority = priority;
    }

    /// One advert with `priority`, to every destination, each with the checksum computed for
    /// it (RFC 5798 section 5.2.8).
    fn send_advert(&mut self, priority: u8) {
        self.stats.sent += 1;
        let src = self.config.local_address;
        let ttl = self.config.destination.ttl();
        let encoded = match self.encoded.take() {
            Some((p, bytes)) if p == priority => bytes,
            _ => {
                let advert = Advertisement {
                    version: self.config.version,
                    vrid: self.config.vrid,
                    priority,
                    interval_cs: self.config.interval_cs(),
                    auth: match self.config.version {
                        Version::V2 => self.config.auth,
                        Version::V3 => Auth::None,
                    },
                    addresses: self.config.addresses.clone(),
                };
                self.config
                    .destination
                    .addresses()
                    .iter()
                    .map(|&dst| advert.to_bytes(src, dst))
                    .collect()
            }
        };
        for (&dst, payload) in self.config.destination.addresses().iter().zip(&encoded) {
            self.actions.push_back(Action::Send {
                src,
                dst,
                ttl,
                payload: payload.clone(),
            });
        }
        self.encoded = Some((priority, encoded));
    }

    fn report(&mut self, event: Event) {
        self.actions.push_back(Action::Event(event));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::MULTICAST_GROUP;
    use std::net::Ipv4Addr;

    fn config(priority: u8) -> InstanceConfig {
        InstanceConfig {
            name: "VI_1".into(),
            interface: "eth0".into(),
            vrid: 1,
            priority,
            advert_interval: Duration::from_secs(1),
            preempt: true,
            preempt_delay: Duration::ZERO,
            auth: Auth::None,
            version: Version::V2,
            addresses: vec![Ipv4Addr::new(192, 0, 2, 100).into()],
            local_address: Ipv4Addr::new(192, 0, 2, 10).into(),
            destination: Destination::Multicast(MULTICAST_GROUP.into()),
            garp_master_delay: Duration::from_secs(5),
            garp_master_refresh: None,
            start_backup: false,
        }
    }

    fn drain(instance: &mut Instance) -> Vec<Action> {
        std::iter::from_fn(|| instance.poll_action()).collect()
    }

    #[test]
    fn reannounce_bursts_now_and_counts_the_delayed_burst_from_now() {
        let now = Instant::now();
        let mut instance = Instance::new(config(255));
        instance.start(now, Tracking::healthy(instance.config()));
        drain(&mut instance);
        let later = now + Duration::from_secs(3);
        instance.reannounce(later);
        assert_eq!(drain(&mut instance), [Action::Announce]);
        let Phase::Master(timers) = instance.phase() else {
            panic!("still master");
        };
        assert_eq!(timers.announce_at, Some(later + Duration::from_secs(5)));
        assert!(!timers.refreshing);
        // Not a master: nothing.
        let mut backup = Instance::new(config(100));
        backup.start(now, Tracking::healthy(backup.config()));
        drain(&mut backup);
        backup.reannounce(later);
        assert!(drain(&mut backup).is_empty());
    }

    #[test]
    fn phase_carries_the_deadlines_of_its_state() {
        let now = Instant::now();
        let mut instance = Instance::new(config(255));
        assert_eq!(instance.poll_timeout(), None);
        instance.start(now, Tracking::healthy(instance.config()));
        let Phase::Master(timers) = instance.phase() else {
            panic!("the owner starts as master");
        };
        assert_eq!(timers.advert_at, now + Duration::from_secs(1));
        assert_eq!(timers.announce_at, Some(now + Duration::from_secs(5)));
        assert_eq!(instance.poll_timeout(), Some(timers.advert_at));
        instance.shutdown(now);
        assert_eq!(instance.phase(), Phase::Initialize);
        assert_eq!(instance.poll_timeout(), None);
    }

    #[test]
    fn keepalived_start_on_a_down_link_enters_fault_directly() {
        let now = Instant::now();
        let mut instance = Instance::new(config(100));
        let tracking = Tracking {
            priority: 100,
            fault: Some(FaultCause::LinkDown),
        };
        instance.start(now, tracking);
        let states: Vec<State> = drain(&mut instance)
            .into_iter()
            .filter_map(|a| match a {
                Action::StateChanged(s) => Some(s),
                _ => None,
            })
            .collect();
        assert_eq!(states, vec![State::Fault], "no BACKUP before FAULT");
        assert_eq!(instance.phase(), Phase::Fault(FaultCause::LinkDown));
        instance.track(now, Tracking::healthy(instance.config()));
        assert_eq!(instance.state(), State::Backup);
    }

    fn states_changed(actions: &[Action]) -> Vec<State> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::StateChanged(s) => Some(*s),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn keepalived_reload_keeps_a_master_and_restarts_its_adver_timer() {
        let now = Instant::now();
        let mut instance = Instance::new(config(100));
        instance.start(now, Tracking::healthy(instance.config()));
        let due = instance.poll_timeout().expect("backup timer");
        instance.handle_timeout(due);
        assert_eq!(instance.state(), State::Master);
        drain(&mut instance);
        // A reload half way through the interval: new priority and a 2 s interval.
        let at = due + Duration::from_millis(500);
        let mut changed = config(150);
        changed.advert_interval = Duration::from_secs(2);
        let tracking = Tracking::healthy(&changed);
        instance.reconfigure(at, changed, tracking);
        let actions = drain(&mut instance);
        assert_eq!(instance.state(), State::Master, "the state is kept");
        assert!(states_changed(&actions).is_empty(), "no notify");
        assert_eq!(sends(&actions), 1, "an advert at once, as 2.2.7");
        let Some(Action::Send { payload, .. }) = actions.first() else {
            panic!("the advert first: {actions:?}");
        };
        assert_eq!(payload[2], 150, "with the new priority");
        assert_eq!(payload[5], 2, "and the new interval");
        assert!(
            !actions.contains(&Action::AddAddresses) && !actions.contains(&Action::RemoveAddresses)
        );
        assert_eq!(instance.priority(), 150);
        let Phase::Master(t) = instance.phase() else {
            panic!("master");
        };
        // RFC 3768 section 6.4.3: Adver_Timer reset to the (new) Advertisement_Interval.
        assert_eq!(t.advert_at, at + Duration::from_secs(2));
    }

    #[test]
    fn keepalived_reload_keeps_a_backup_with_the_new_master_down_interval() {
        let now = Instant::now();
        let mut instance = Instance::new(config(100));
        instance.start(now, Tracking::healthy(instance.config()));
        drain(&mut instance);
        let at = now + Duration::from_secs(1);
        let changed = config(200);
        let tracking = Tracking::healthy(&changed);
        instance.reconfigure(at, changed, tracking);
        assert!(
            drain(&mut instance).is_empty(),
            "nothing sent, no state line"
        );
        assert_eq!(instance.state(), State::Backup);
        // RFC 3768 section 6.1: 3 × 1 s + (256 - 200) / 256 s from the reload.
        assert_eq!(
            instance.poll_timeout(),
            Some(at + Duration::from_secs(3) + Duration::from_secs_f64(56.0 / 256.0))
        );
    }

    #[test]
    fn a_reload_that_brings_a_fault_enters_fault_and_one_in_fault_stays() {
        let now = Instant::now();
        let mut instance = Instance::new(config(100));
        instance.start(now, Tracking::healthy(instance.config()));
        drain(&mut instance);
        let fault = Tracking {
            priority: 100,
            fault: Some(FaultCause::Tracked),
        };
        instance.reconfigure(now, config(100), fault);
        assert_eq!(states_changed(&drain(&mut instance)), vec![State::Fault]);
        instance.reconfigure(now, config(120), fault);
        assert!(drain(&mut instance).is_empty());
        assert_eq!(instance.state(), State::Fault);
        // Not started yet (waiting for scripts): only the settings change.
        let mut waiting = Instance::new(config(100));
        waiting.reconfigure(now, config(90), Tracking::healthy(&config(90)));
        assert_eq!(waiting.phase(), Phase::Initialize);
        assert_eq!(waiting.priority(), 90);
    }

    /// A master that enters FAULT, for a `cause` of its own or its group's: what it reports
    /// and sends, in order.
    fn master_to_fault(cause: FaultCause) -> Vec<Action> {
        let now = Instant::now();
        let mut instance = Instance::new(config(100));
        instance.start(now, Tracking::healthy(instance.config()));
        let due = instance.poll_timeout().expect("backup has a timer");
        instance.handle_timeout(due);
        assert_eq!(instance.state(), State::Master);
        drain(&mut instance);
        instance.track(
            due,
            Tracking {
                priority: 100,
                fault: Some(cause),
            },
        );
        drain(&mut instance)
            .into_iter()
            .filter(|a| matches!(a, Action::Event(_) | Action::RemoveAddresses))
            .collect()
    }

    #[test]
    fn a_master_says_it_enters_fault_before_it_sends_priority_zero_as_keepalived_does() {
        assert_eq!(
            master_to_fault(FaultCause::LinkDown),
            [
                Action::Event(Event::Entering(State::Fault)),
                Action::Event(Event::PriorityZeroSent { synced: false }),
                Action::Event(Event::RemovingAddresses),
                Action::RemoveAddresses,
                Action::Event(Event::NowInFault),
            ]
        );
        assert!(
            master_to_fault(FaultCause::Group)
                .contains(&Action::Event(Event::PriorityZeroSent { synced: true })),
            "a group's FAULT sends priority 0 too"
        );
    }

    #[test]
    fn a_master_steps_down_and_takes_over_after_skew_time() {
        let now = Instant::now();
        let mut instance = Instance::new(config(100));
        instance.step_down(now);
        assert_eq!(
            instance.phase(),
            Phase::Initialize,
            "only a master steps down"
        );
        instance.start(now, Tracking::healthy(instance.config()));
        let due = instance.poll_timeout().expect("backup has a timer");
        instance.handle_timeout(due);
        assert_eq!(instance.state(), State::Master);
        drain(&mut instance);
        instance.step_down(due);
        assert_eq!(instance.state(), State::Backup);
        let actions = drain(&mut instance);
        assert!(actions.contains(&Action::Event(Event::PriorityZeroSent { synced: false })));
        assert!(actions.contains(&Action::RemoveAddresses));
        // Skew_Time at priority 100 (RFC 3768 section 6.1): (256 - 100) / 256 s.
        assert_eq!(
            instance.poll_timeout(),
            Some(due + Duration::from_secs_f64(156.0 / 256.0))
        );
        instance.set_local_address(Ipv4Addr::new(192, 0, 2, 11).into());
        assert_eq!(
            instance.config().local_address,
            IpAddr::from(Ipv4Addr::new(192, 0, 2, 11))
        );
    }

    #[test]
    fn a_synced_member_waits_for_its_group_to_become_master() {
        let now = Instant::now();
        let mut instance = Instance::new(config(100));
        instance.set_synced(true);
        instance.start(now, Tracking::healthy(instance.config()));
        drain(&mut instance);
        let due = instance.poll_timeout().expect("backup has a timer");
        instance.handle_timeout(due);
        assert_eq!(instance.state(), State::Backup, "the group decides");
        assert!(instance.wants_master());
        assert!(drain(&mut instance).contains(&Action::Event(Event::ReceiveTimeout)));
        assert!(instance.poll_timeout().is_some_and(|t| t > due), "re-armed");
        instance.sync_to_master(due);
        assert_eq!(instance.state(), State::Master);
        assert!(!instance.wants_master());
        let actions = drain(&mut instance);
        instance.sync_to_backup(due);
        assert_eq!(instance.state(), State::Backup);
        let leaving = drain(&mut instance);
        assert!(
            !leaving.contains(&Action::Event(Event::PriorityZeroSent { synced: false })),
            "a member that follows its group to BACKUP sends no priority 0"
        );
        assert!(actions.contains(&Action::AddAddresses));
        assert!(leaving.contains(&Action::RemoveAddresses));
    }

    /// An advert from 192.0.2.20 with `priority`, as the engine receives it.
    fn advert_from(priority: u8) -> (IpAddr, Vec<u8>) {
        let src: IpAddr = Ipv4Addr::new(192, 0, 2, 20).into();
        let advert = Advertisement {
            version: Version::V2,
            vrid: 1,
            priority,
            interval_cs: 100,
            auth: Auth::None,
            addresses: vec![Ipv4Addr::new(192, 0, 2, 100).into()],
        };
        (src, advert.to_bytes(src, IpAddr::V4(MULTICAST_GROUP)))
    }

    fn hear(instance: &mut Instance, now: Instant, priority: u8) -> Vec<Action> {
        let (src, payload) = advert_from(priority);
        instance.handle_packet(
            now,
            Received {
                src,
                dst: MULTICAST_GROUP.into(),
                ttl: TTL,
                payload: &payload,
            },
        );
        drain(instance)
    }

    fn sends(actions: &[Action]) -> usize {
        actions
            .iter()
            .filter(|a| matches!(a, Action::Send { .. }))
            .count()
    }

    #[test]
    fn keepalived_master_hearing_a_lower_master_answers_and_announces_twice() {
        let now = Instant::now();
        let mut instance = Instance::new(config(255));
        instance.start(now, Tracking::healthy(instance.config()));
        drain(&mut instance);
        let heard = now + Duration::from_millis(500);
        let actions = hear(&mut instance, heard, 100);
        assert_eq!(sends(&actions), 1, "answered at once");
        assert!(actions.contains(&Action::Reannounce(Reannounce::LowerPriority)));
        let Phase::Master(t) = instance.phase() else {
            panic!("still master");
        };
        assert_eq!(
            t.advert_at,
            now + Duration::from_secs(1),
            "the answer does not move the scheduled advert"
        );
        assert_eq!(
            t.lower_prio_at,
            Some(heard + Duration::from_secs(5)),
            "garp_master_delay"
        );
        let again = hear(&mut instance, heard + Duration::from_millis(100), 100);
        assert_eq!(sends(&again), 1, "answered again");
        assert!(
            !again.contains(&Action::Reannounce(Reannounce::LowerPriority)),
            "one announcement per advert interval, whatever a flood sends"
        );
        assert!(
            !again
                .iter()
                .any(|a| matches!(a, Action::Event(Event::LowerPriorityReceived { .. }))),
            "reported once per DROP_LOG_INTERVAL"
        );
        instance.handle_timeout(heard + Duration::from_secs(5));
        assert!(drain(&mut instance).contains(&Action::Reannounce(Reannounce::LowerPriority)));
    }

    #[test]
    fn lower_prio_no_advert_still_announces() {
        let now = Instant::now();
        let mut instance = Instance::new(config(255));
        instance.set_contention(Contention {
            lower_prio_no_advert: true,
            higher_prio_send_advert: false,
            lower_prio_delay: Some(Duration::ZERO),
            ..Contention::default()
        });
        instance.start(now, Tracking::healthy(instance.config()));
        drain(&mut instance);
        let actions = hear(&mut instance, now, 100);
        assert_eq!(sends(&actions), 0);
        assert!(actions.contains(&Action::Reannounce(Reannounce::LowerPriority)));
        let Phase::Master(t) = instance.phase() else {
            panic!("still master");
        };
        assert_eq!(t.lower_prio_at, None, "delay 0: no second burst");
    }

    #[test]
    fn higher_prio_send_advert_tells_the_winner_before_yielding() {
        for (send, expected) in [(false, 0), (true, 1)] {
            let now = Instant::now();
            let mut instance = Instance::new(config(100));
            instance.set_contention(Contention {
                higher_prio_send_advert: send,
                ..Contention::default()
            });
            instance.start(now, Tracking::healthy(instance.config()));
            let due = instance.poll_timeout().expect("timer");
            instance.handle_timeout(due);
            drain(&mut instance);
            let actions = hear(&mut instance, due, 200);
            assert_eq!(instance.state(), State::Backup);
            assert_eq!(sends(&actions), expected, "higher_prio_send_advert {send}");
        }
    }

    /// An IPv6 VRRPv2 instance as keepalived 2.2.7 runs one with `version 2` (VRID 62,
    /// priority 100, VIP 2001:db8::100), with `auth`.
    fn v2_over_v6(auth: Auth) -> InstanceConfig {
        InstanceConfig {
            vrid: 62,
            auth,
            addresses: vec!["2001:db8::100".parse::<IpAddr>().expect("vip")],
            local_address: "fe80::2".parse::<IpAddr>().expect("address"),
            destination: Destination::Multicast(crate::packet::MULTICAST_GROUP_V6.into()),
            ..config(100)
        }
    }

    /// An advert from 2.2.7's master (fe80::1, priority 150) in its VRRPv2-over-IPv6 form.
    fn v6_advert(version: Version, auth: Auth) -> Vec<u8> {
        Advertisement {
            version,
            vrid: 62,
            priority: 150,
            interval_cs: 100,
            auth,
            addresses: vec!["2001:db8::100".parse::<IpAddr>().expect("vip")],
        }
        .to_bytes(
            "fe80::1".parse::<IpAddr>().expect("address"),
            IpAddr::V6(crate::packet::MULTICAST_GROUP_V6),
        )
    }

    fn hear_v6(instance: &mut Instance, now: Instant, payload: &[u8]) -> Vec<Action> {
        instance.handle_packet(
            now,
            Received {
                src: "fe80::1".parse().expect("address"),
                dst: crate::packet::MULTICAST_GROUP_V6.into(),
                ttl: TTL,
                payload,
            },
        );
        drain(instance)
    }

    fn dropped(actions: &[Action]) -> Vec<DropReason> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Event(Event::Dropped { reason, .. }) => Some(*reason),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn keepalived_v2_over_ipv6_backup_hears_its_master() {
        // keepalived 2.2.7 (observed): a `version 2` IPv6 backup stays BACKUP while it hears
        // VRRPv2 adverts of 24 bytes; VRRPv3 ones are refused (`wrong version. Received 3 and
        // expect 2`), so it takes over.
        let now = Instant::now();
        let mut instance = Instance::new(v2_over_v6(Auth::None));
        instance.start(now, Tracking::healthy(instance.config()));
        drain(&mut instance);
        let first = instance.poll_timeout().expect("master down timer");
        let heard = now + Duration::from_millis(900);
        let actions = hear_v6(&mut instance, heard, &v6_advert(Version::V2, Auth::None));
        assert!(dropped(&actions).is_empty(), "{actions:?}");
        assert!(
            instance.poll_timeout().is_some_and(|t| t > first),
            "timer reset"
        );
        let actions = hear_v6(&mut instance, heard, &v6_advert(Version::V3, Auth::None));
        assert_eq!(dropped(&actions), vec![DropReason::Version]);
        // Our own adverts: VRRPv2, 24 bytes, no authentication data.
        let due = instance.poll_timeout().expect("timer");
        instance.handle_timeout(due);
        assert_eq!(instance.state(), State::Master);
        let payload = drain(&mut instance)
            .into_iter()
            .find_map(|a| match a {
                Action::Send { payload, .. } => Some(payload),
                _ => None,
            })
            .expect("an advert");
        assert_eq!(
            (payload.len(), payload[0], payload[4], payload[5]),
            (24, 0x21, 0, 1)
        );
    }

    #[test]
    fn keepalived_v2_over_ipv6_compares_only_the_auth_type() {
        // With auth_type PASS 2.2.7 sends auth type 1 and no password (observed); the type must
        // match (`received a 0 auth, expecting 1!`), the password cannot be compared.
        let now = Instant::now();
        let mut instance = Instance::new(v2_over_v6(Auth::pass(b"secret")));
        instance.start(now, Tracking::healthy(instance.config()));
        drain(&mut instance);
        let other_password = v6_advert(Version::V2, Auth::pass(b"other"));
        assert!(dropped(&hear_v6(&mut instance, now, &other_password)).is_empty());
        let none = v6_advert(Version::V2, Auth::None);
        assert_eq!(
            dropped(&hear_v6(&mut instance, now, &none)),
            vec![DropReason::AuthType]
        );
    }
}
